"""The custom layers of zoo.models.layers: masks, serialization and the shapes they promise."""

import inspect

import keras
import numpy as np
import pytest

import zoo
from zoo.models import layers as zoo_layers
from zoo.models.layers import (
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
}
EXAMPLE_INPUTS = {
    TokenAndPositionEmbedding: lambda: np.array([[3, 4, 5, 0, 0, 0], [9, 0, 0, 0, 0, 0]], "int32"),
    TransformerEncoderBlock: lambda: (
        np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    ),
    MaskedGlobalPooling1D: lambda: (
        np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    ),
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
