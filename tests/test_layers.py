"""The custom layers of zoo.models.layers: masks, serialization and the shapes they promise."""

import inspect

import keras
import numpy as np
import pytest

import zoo
from zoo.errors import InvalidValueError
from zoo.models import layers as zoo_layers
from zoo.models.layers import (
    HashedBigrams,
    MaskedGlobalPooling1D,
    TokenAndPositionEmbedding,
    TransformerEncoderBlock,
)

pytestmark = [
    pytest.mark.usefixtures("fresh_keras_session"),
    # Keras' TensorFlow backend calls np.array(tensor) when saving (keras/src/backend/tensorflow/
    # core.py); NumPy 2 warns about TF's __array__ signature. Not zoo's to fix.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]

# Constructor arguments for each custom layer; a new layer must add its own here.
EXAMPLE_ARGUMENTS = {
    TokenAndPositionEmbedding: {"vocab_size": 50, "sequence_length": 6, "embed_dim": 8},
    TransformerEncoderBlock: {
        "embed_dim": 8,
        "num_heads": 2,
        "ff_dim": 16,
        "dropout": 0.2,
        "activation": "relu",
    },
    MaskedGlobalPooling1D: {"mode": "max"},
    HashedBigrams: {"vocab_size": 50, "buckets": 64},
}
EXAMPLE_INPUTS = {
    TokenAndPositionEmbedding: lambda: np.array([[3, 4, 5, 0, 0, 0], [9, 0, 0, 0, 0, 0]], "int32"),
    TransformerEncoderBlock: lambda: (
        np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    ),
    MaskedGlobalPooling1D: lambda: (
        np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    ),
    HashedBigrams: lambda: np.array([[3, 4, 5, 0, 0, 0], [9, 0, 0, 0, 0, 0]], "int32"),
}
LAYER_CLASSES = sorted(
    (
        value
        for value in vars(zoo_layers).values()
        if inspect.isclass(value)
        and issubclass(value, keras.layers.Layer)
        and value.__module__ == zoo_layers.__name__
    ),
    key=lambda cls: cls.__name__,
)


def test_every_custom_layer_has_an_example():
    assert LAYER_CLASSES
    assert set(LAYER_CLASSES) == set(EXAMPLE_ARGUMENTS), "add the new layer to EXAMPLE_ARGUMENTS"


@pytest.mark.parametrize("layer_class", LAYER_CLASSES, ids=lambda cls: cls.__name__)
def test_layer_is_registered_and_serializes_every_argument(layer_class):
    assert keras.saving.get_registered_name(layer_class) == f"zoo>{layer_class.__name__}"
    layer = layer_class(name="probe", **EXAMPLE_ARGUMENTS[layer_class])
    config = layer.get_config()
    for argument, value in EXAMPLE_ARGUMENTS[layer_class].items():
        assert config[argument] == value
    inputs = EXAMPLE_INPUTS[layer_class]()
    outputs = layer(inputs)

    # A generic deserialization (as load_model does) gives the same layer and, with the same
    # weights, the same outputs.
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(clone) is layer_class
    assert clone.get_config() == config
    clone(inputs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(inputs), outputs, atol=1e-6)


def test_token_and_position_embedding_masks_padding_and_adds_positions():
    layer = TokenAndPositionEmbedding(vocab_size=50, sequence_length=6, embed_dim=8)
    ids = np.array([[7, 7, 7, 0, 0, 0]], "int32")
    vectors = keras.ops.convert_to_numpy(layer(ids))

    assert vectors.shape == (1, 6, 8)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer.compute_mask(ids)),
        [[True, True, True, False, False, False]],
    )
    assert not np.allclose(vectors[0, 0], vectors[0, 1])  # same token, different positions
    token_table = keras.ops.convert_to_numpy(layer.token_embedding.embeddings)
    position_table = keras.ops.convert_to_numpy(layer.position_embedding.embeddings)
    np.testing.assert_allclose(vectors[0, 2], token_table[7] + position_table[2], atol=1e-6)
    assert layer.compute_output_shape((None, 6)) == (None, 6, 8)


def test_token_ids_past_the_sequence_length_share_the_last_position():
    # A longer input than the layer was built for (a prediction on untruncated text) gives every
    # extra step the last position's row, not a row that wraps round to the start.
    layer = TokenAndPositionEmbedding(vocab_size=20, sequence_length=4, embed_dim=3)
    vectors = keras.ops.convert_to_numpy(layer(np.full((1, 6), 5, "int32")))
    token_table = keras.ops.convert_to_numpy(layer.token_embedding.embeddings)
    position_table = keras.ops.convert_to_numpy(layer.position_embedding.embeddings)

    assert vectors.shape == (1, 6, 3)
    for step in (3, 4, 5):  # the last position and the two past it
        np.testing.assert_allclose(vectors[0, step], token_table[5] + position_table[3],
                                   atol=1e-6)
    np.testing.assert_allclose(vectors[0, 1], token_table[5] + position_table[1], atol=1e-6)


def test_encoder_block_ignores_padded_positions():
    block = TransformerEncoderBlock(embed_dim=8, num_heads=2, ff_dim=16, dropout=0.0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[True] * 4 + [False] * 2, [True] * 2 + [False] * 4])
    changed = x.copy()
    changed[0, 4:] = rng.normal(size=(2, 8)) * 100  # new values where the mask is False
    changed[1, 2:] = rng.normal(size=(4, 8)) * 100

    out = keras.ops.convert_to_numpy(block(x, mask=mask))
    out_changed = keras.ops.convert_to_numpy(block(changed, mask=mask))

    np.testing.assert_allclose(out_changed[mask], out[mask], atol=1e-5)
    assert not np.allclose(out_changed[~mask], out[~mask])  # the padded positions did change
    assert block.compute_mask(x, mask) is mask
    unmasked = keras.ops.convert_to_numpy(block(changed))
    assert not np.allclose(unmasked[mask], out[mask])  # without a mask, padding leaks


def test_encoder_block_is_two_residual_sublayers_each_normalized():
    # Post-norm, as the docstring says: h = LN1(x + attention(x, x)), out = LN2(h + FF(h)).
    # Both residual paths matter: without the feed-forward one the block still runs, masks and
    # serializes, but a deep stack loses what attention made of the tokens.
    block = TransformerEncoderBlock(embed_dim=8, num_heads=2, ff_dim=16, dropout=0.0)
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2])

    def by_hand(attention_mask=None):
        h = block.attention_norm(x + block.attention(x, x, attention_mask=attention_mask))
        return keras.ops.convert_to_numpy(
            block.feed_forward_norm(h + block.feed_forward_out(block.feed_forward_in(h)))
        )

    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), by_hand(), atol=1e-5)
    # With a mask, every query attends to the kept keys only: (batch, query, key).
    keys = np.broadcast_to(mask[:, None, :], (2, 5, 5))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x, mask=mask)), by_hand(keys),
                               atol=1e-5)


def test_encoder_block_dropout_only_in_training():
    block = TransformerEncoderBlock(embed_dim=8, num_heads=2, ff_dim=16, dropout=0.5)
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    np.testing.assert_allclose(block(x, training=False), block(x, training=False))
    assert not np.allclose(block(x, training=True), block(x, training=False))


def test_masked_average_pooling_averages_kept_steps_only():
    pool = MaskedGlobalPooling1D()
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)

    pooled = keras.ops.convert_to_numpy(pool(x, mask=mask))

    np.testing.assert_allclose(pooled[0], x[0, :3].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(pooled[1], x[1, 0], atol=1e-6)
    np.testing.assert_array_equal(pooled[2], 0.0)  # all padding: zeros, not NaN
    np.testing.assert_allclose(pool(x), x.mean(axis=1), atol=1e-6)
    assert pool.compute_mask(x, mask) is None
    assert pool.compute_output_shape((None, 5, 4)) == (None, 4)


def test_masked_max_pooling_ignores_padding():
    pool = MaskedGlobalPooling1D("max")
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    x[:, 3:] = 100.0  # padding steps hold the largest values: they must not win
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], bool)

    pooled = keras.ops.convert_to_numpy(pool(x, mask=mask))

    np.testing.assert_allclose(pooled[0], x[0, :3].max(axis=0), atol=1e-6)
    np.testing.assert_allclose(pooled[1], x[1, 0], atol=1e-6)
    np.testing.assert_array_equal(pooled[2], 0.0)
    # Without a mask every step counts, the padding's 100s included: a maximum, not a mean.
    np.testing.assert_allclose(pool(x), x.max(axis=1), atol=1e-6)
    with pytest.raises(ValueError, match="mode must be one of"):
        MaskedGlobalPooling1D("median")


@pytest.mark.parametrize("mode", MaskedGlobalPooling1D.MODES)
def test_masked_pooling_gradient_is_finite_when_all_padding(mode):
    import tensorflow as tf

    x = tf.Variable(np.ones((1, 3, 2), "float32"))
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(MaskedGlobalPooling1D(mode)(x, mask=np.zeros((1, 3), bool)))
    gradient = tape.gradient(total, x).numpy()
    assert np.isfinite(gradient).all()
    np.testing.assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize("name", ["lstm_sst2", "transformer_sst2"])
def test_token_dropout_drops_whole_words_in_training_only(name):
    model = zoo.build(name, token_dropout=0.5, compile=False)
    layer = model.get_layer("token_dropout")
    vectors = np.ones((4, 32, 8), "float32")
    dropped = keras.ops.convert_to_numpy(layer(vectors, training=True))
    per_word = dropped.reshape(-1, 8)
    # Each word is either kept whole (scaled by 1 / (1 - rate)) or zeroed whole.
    assert set(np.unique(per_word.min(axis=1))) <= {0.0, 2.0}
    assert np.array_equal(per_word.min(axis=1), per_word.max(axis=1))
    assert 0 < (per_word[:, 0] == 0).mean() < 1
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(vectors, training=False)), vectors
    )


def test_lstm_embedding_dropout_drops_whole_channels_in_training_only():
    # embedding_dropout is SpatialDropout1D (the builder's docstring): a dropped embedding
    # channel is gone at every step of a text, not at scattered (text, step, channel) points.
    keras.utils.set_random_seed(0)
    model = zoo.build("lstm_sst2", vocab_size=200, sequence_length=16, compile=False)
    layer = model.get_layer("embedding_dropout")
    assert layer.rate == zoo.get_spec("lstm_sst2").hyperparameters["embedding_dropout"]
    vectors = np.ones((2, 50, 32), "float32")
    dropped = keras.ops.convert_to_numpy(layer(vectors, training=True)) == 0  # (text, step, ch)

    whole = dropped.all(axis=1) | (~dropped).all(axis=1)  # per text: every step or none
    assert whole.all(), f"{(~whole).sum()} of 64 (text, channel) pairs dropped at some steps"
    assert 0 < dropped.mean() < 1
    assert not np.array_equal(dropped[0], dropped[1])  # each text draws its own channels
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(layer(vectors, training=False)), vectors
    )


def test_hashed_bigrams_number_each_pair_and_skip_padding():
    layer = HashedBigrams(vocab_size=1000, buckets=97)
    ids = np.array([[12, 7, 12, 7, 0, 0], [7, 12, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0]], "int32")

    pairs = keras.ops.convert_to_numpy(layer(ids))

    assert pairs.shape == (3, 5) and pairs.dtype == np.int32
    assert pairs[0, 0] == pairs[0, 2] == (12 * 1000 + 7) % 97 + 1  # the same pair, the same id
    assert pairs[0, 1] == pairs[1, 0] == (7 * 1000 + 12) % 97 + 1
    assert pairs[0, 0] != pairs[0, 1]  # order counts: "12 7" is not "7 12"
    np.testing.assert_array_equal(pairs[0, 3:], 0)  # a pair touching padding is padding
    np.testing.assert_array_equal(pairs[2], 0)  # one word: no pair
    assert ((pairs == 0) | ((pairs >= 1) & (pairs <= 97))).all()
    # Padding to another length changes no pair's id: bucketed batches and exports agree.
    unpadded = keras.ops.convert_to_numpy(layer(ids[:1, :4]))
    np.testing.assert_array_equal(unpadded[0], pairs[0, :3])
    assert layer.compute_output_shape((None, 6)) == (None, 5)
    assert layer.compute_output_shape((None, None)) == (None, None)


def test_hashed_bigrams_refuse_a_vocabulary_int32_cannot_number():
    largest = HashedBigrams.MAX_VOCAB_SIZE
    ids = np.array([[largest - 1, largest - 1]], "int32")
    top = keras.ops.convert_to_numpy(HashedBigrams(vocab_size=largest, buckets=1000)(ids))
    assert top[0, 0] == ((largest - 1) * largest + largest - 1) % 1000 + 1  # no overflow
    with pytest.raises(InvalidValueError, match=r"up to 46,340 words; got vocab_size=50,000"):
        HashedBigrams(vocab_size=50_000, buckets=1000)


@pytest.mark.parametrize("name", ["lstm_sst2", "transformer_sst2"])
def test_bigram_bag_joins_the_features_before_the_softmax(name):
    model = zoo.build(name, bigram_buckets=128, bigram_dim=4, compile=False)
    pooled = model.get_layer("features_and_bigrams").input[0].shape[-1]
    assert model.get_layer("features_and_bigrams").output.shape[-1] == pooled + 4
    assert model.get_layer("bigram_embedding").input_dim == 129  # 128 buckets and padding
    # A one-word text has no pair: its bag is zeros and the prediction stays finite.
    probabilities = keras.ops.convert_to_numpy(model(np.array([[7, 0, 0]], "int32")))
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(), 1.0, atol=1e-6)
    without = zoo.build(name, bigram_buckets=0, compile=False)
    assert "bigram_embedding" not in {layer.name for layer in without.layers}


@pytest.mark.parametrize("name", ["lstm_sst2", "transformer_sst2"])
def test_bigram_bag_is_the_mean_of_the_pairs_embeddings(name):
    # fastText's bag (add_bigram_bag's docstring): the average of the pairs' rows, so a long
    # text's bag is no larger than a short one's; padding pairs are left out of the average.
    keras.utils.set_random_seed(0)
    model = zoo.build(name, vocab_size=200, sequence_length=16, bigram_buckets=64, bigram_dim=4,
                      compile=False)
    ids = np.array([[7, 8, 9, 0]], "int32")  # two pairs, (7, 8) and (8, 9), then padding
    pairs = keras.ops.convert_to_numpy(model.get_layer("bigrams")(ids))[0]
    assert (pairs[:2] > 0).all() and pairs[2] == 0 and pairs[0] != pairs[1]
    table = keras.ops.convert_to_numpy(model.get_layer("bigram_embedding").embeddings)
    features = keras.Model(model.input, model.get_layer("features_and_bigrams").output)

    bag = keras.ops.convert_to_numpy(features(ids, training=False))[0, -4:]

    np.testing.assert_allclose(bag, table[pairs[:2]].mean(axis=0), atol=1e-6)
    assert model.get_layer("bigram_mean").mode == "mean"
