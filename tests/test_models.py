"""Every registered entry: build, forward pass, one training step, config and `.keras` round trips.

Parametrized over `zoo.list_models()`, so a new entry is tested as soon as it is registered. The
forward pass uses each entry's real defaults; the slower tests shrink widths and vocabularies with
`shrink(spec)` (see conftest.py) but keep the entry's structure.
"""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.models.layers import MaskedGlobalPooling1D

pytestmark = [
    pytest.mark.usefixtures("fresh_keras_session"),
    # Keras' TensorFlow backend calls np.array(tensor) when saving (keras/src/backend/tensorflow/
    # core.py); NumPy 2 warns about TF's __array__ signature. Not zoo's to fix.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]

ALL_ENTRIES = zoo.list_models()
TEXT_ENTRIES = zoo.list_models(task="text_classification")

# Adding the same vector to every key shifts all of a query's attention logits by the same amount,
# which softmax ignores: the key projection's bias has an exactly zero gradient by construction.
NO_GRADIENT_BY_DESIGN = ("attention/key/bias",)


def _labels(spec, batch_size: int) -> np.ndarray:
    return np.arange(batch_size) % spec.num_classes


def _assert_probabilities(probabilities: np.ndarray, batch_size: int, num_classes: int) -> None:
    assert probabilities.shape == (batch_size, num_classes)
    assert np.isfinite(probabilities).all()
    assert (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_forward_pass_at_real_defaults(name, make_inputs):
    spec = zoo.get_spec(name)
    model = zoo.build(name)

    assert model.name == name
    # Text models take ids of any length up to sequence_length (batches bucketed by length).
    assert model.input_shape == (
        None, *(spec.input.shape if spec.input.kind == "image" else (None,))
    )
    assert model.output_shape == (None, spec.num_classes)
    probabilities = keras.ops.convert_to_numpy(
        model(make_inputs(spec, batch_size=3), training=False)
    )
    _assert_probabilities(probabilities, 3, spec.num_classes)


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_forward_pass_under_mixed_precision(name, shrink, make_inputs):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = spec.build_model()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    probabilities = model(make_inputs(spec), training=False)

    assert probabilities.dtype == "float32"  # the head stays in float32
    _assert_probabilities(keras.ops.convert_to_numpy(probabilities), 4, spec.num_classes)


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_a_global_channels_first_setting_changes_nothing(name, shrink, make_inputs):
    # zoo's pipelines make images (height, width, channels) whatever Keras' global image layout:
    # a CNN entry failed to build under channels_first, and Flatten reordered features.
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    reference = spec.build_model()
    keras.config.set_image_data_format("channels_first")
    try:
        model = spec.build_model()
    finally:
        keras.config.set_image_data_format("channels_last")
    model.set_weights(reference.get_weights())
    inputs = make_inputs(spec)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(inputs, training=False)),
                                  keras.ops.convert_to_numpy(reference(inputs, training=False)))


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_one_training_step_reaches_every_variable(name, shrink, make_inputs):
    assert keras.backend.backend() == "tensorflow"
    keras.utils.set_random_seed(0)
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = zoo.build(name, **shrink(zoo.get_spec(name)))
    inputs, labels = make_inputs(spec, batch_size=6), _labels(spec, 6)
    if spec.input.kind == "text":
        assert (inputs == 0).any(), "the batch must contain padding"

    with tf.GradientTape() as tape:
        probabilities = model(inputs, training=True)
        loss = model.loss(labels, probabilities)
    gradients = tape.gradient(loss, model.trainable_variables)

    assert np.isfinite(float(loss))
    assert model.trainable_variables
    for variable, gradient in zip(model.trainable_variables, gradients, strict=True):
        assert gradient is not None, f"{variable.path} gets no gradient"
        values = tf.convert_to_tensor(gradient).numpy()  # embeddings give IndexedSlices
        assert np.isfinite(values).all(), f"{variable.path} has a non-finite gradient"
        if not variable.path.endswith(NO_GRADIENT_BY_DESIGN):
            assert np.abs(values).max() > 0, f"{variable.path} has an all-zero gradient"

    # The step must also change the weights through the compiled optimizer.
    before = [variable.numpy().copy() for variable in model.trainable_variables]
    model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
    assert any(
        not np.array_equal(b, v.numpy())
        for b, v in zip(before, model.trainable_variables, strict=True)
    )


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_config_round_trip(name, shrink, make_inputs):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = spec.build_model()
    clone = keras.Model.from_config(model.get_config())

    assert clone.count_params() == model.count_params()
    assert [type(layer).__name__ for layer in clone.layers] == [
        type(layer).__name__ for layer in model.layers
    ]
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    inputs = make_inputs(spec)
    for ours, theirs in zip(model.get_weights(), clone.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_allclose(
        clone.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6
    )


# A compiled, never-trained model saves an unbuilt optimizer; Keras warns when it rebuilds it.
@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_keras_file_round_trip(name, shrink, make_inputs, tmp_path):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = zoo.build(name, **shrink(zoo.get_spec(name)))
    inputs = make_inputs(spec)
    path = tmp_path / f"{name}.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)  # safe_mode stays on: no custom code may run

    assert loaded.name == name
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    assert type(loaded.loss).__name__ == type(model.loss).__name__
    np.testing.assert_allclose(
        loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0), atol=1e-6
    )


# ---- padding ------------------------------------------------------------------------------------


def _token_table(model: keras.Model, vocab_size: int) -> keras.Variable:
    """The token embedding matrix: the one (vocab_size, dim) variable."""
    tables = [v for v in model.weights if len(v.shape) == 2 and v.shape[0] == vocab_size]
    assert len(tables) == 1, [v.path for v in tables]
    return tables[0]


def test_text_families_are_covered():
    families = {zoo.get_spec(name).family for name in TEXT_ENTRIES}
    assert {"lstm", "transformer"} <= families


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_padding_embedding_does_not_change_predictions(name, shrink, make_inputs):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = spec.build_model()
    inputs = make_inputs(spec)
    before = model.predict(inputs, verbose=0)

    table = _token_table(model, spec.input.vocab_size)
    weights = table.numpy()
    weights[0] = np.random.default_rng(1).normal(scale=10.0, size=weights.shape[1])
    table.assign(weights)

    np.testing.assert_allclose(model.predict(inputs, verbose=0), before, atol=1e-5)


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_ids_longer_than_sequence_length_are_read(name, shrink):
    # The input takes any length, but the Transformer's position table ends at sequence_length:
    # longer ids failed in a gather on TensorFlow (NaN on JAX). Positions past it share the
    # table's last row; what comes before them reads as it did.
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = spec.build_model()
    length = spec.input.sequence_length
    ids = np.random.default_rng(0).integers(1, spec.input.vocab_size, (2, length + 7))
    probabilities = keras.ops.convert_to_numpy(model(ids, training=False))
    _assert_probabilities(probabilities, 2, spec.num_classes)
    padded = np.zeros_like(ids)
    padded[:, :length] = ids[:, :length]  # padding past the end changes nothing
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(padded, training=False)),
                               keras.ops.convert_to_numpy(model(ids[:, :length], training=False)),
                               atol=1e-6)


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_more_trailing_padding_gives_the_same_prediction(name, shrink):
    small = shrink(zoo.get_spec(name))
    short_spec = zoo.get_spec(name).with_overrides(**small)
    long_spec = short_spec.with_overrides(sequence_length=small["sequence_length"] + 9)
    short_model, long_model = short_spec.build_model(), long_spec.build_model()
    # Same weights; a position table grows with sequence_length, its first rows are shared.
    weights = []
    for short_weight, long_weight in zip(
        short_model.get_weights(), long_model.get_weights(), strict=True
    ):
        if short_weight.shape != long_weight.shape:
            long_weight[: short_weight.shape[0]] = short_weight
            short_weight = long_weight
        weights.append(short_weight)
    long_model.set_weights(weights)

    tokens = np.array([[5, 17, 42, 8, 99, 3], [7, 7, 150, 2, 0, 0]], "int32")  # 2nd: 2 pads already
    short = np.zeros((2, short_spec.input.sequence_length), "int32")
    long = np.zeros((2, long_spec.input.sequence_length), "int32")
    short[:, :6] = long[:, :6] = tokens

    np.testing.assert_allclose(
        long_model(long, training=False), short_model(short, training=False), atol=1e-5
    )


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_empty_text_gives_finite_probabilities(name, shrink):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = spec.build_model()
    all_padding = np.zeros((2, spec.input.sequence_length), "int32")  # e.g. a text of only "!!!"
    probabilities = keras.ops.convert_to_numpy(model(all_padding, training=False))
    _assert_probabilities(probabilities, 2, spec.num_classes)


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_padding_gets_no_gradient_but_tokens_do(name, shrink):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    # Seeded: a shrunk head (transformer_imdb's Dense(8, relu)) can, for some initial weights,
    # have every unit inactive on one example, so its only token has an exactly zero gradient
    # by chance (seen once unseeded), which is not the padding leak this test looks for.
    keras.utils.set_random_seed(0)
    model = spec.build_model()
    inputs = np.zeros((4, spec.input.sequence_length), "int32")
    inputs[:, :3] = [[11, 12, 13], [14, 15, 16], [11, 17, 0], [18, 0, 0]]  # mostly padding
    table = _token_table(model, spec.input.vocab_size)

    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(
            np.array([0, 1, 0, 1]), model(inputs, training=False)
        )
    gradient = tf.convert_to_tensor(tape.gradient(loss, table)).numpy()

    assert np.isfinite(gradient).all()
    assert (np.abs(gradient[[11, 12, 13, 14, 15, 16, 17, 18]]).max(axis=1) > 0).all()
    np.testing.assert_array_equal(gradient[0], 0.0)  # padding never reaches the output
    np.testing.assert_array_equal(gradient[19:], 0.0)  # nor do tokens absent from the batch


# ---- structure the hyperparameters promise -------------------------------------------------------


def _hyperparameter(spec, argument: str):
    """The value the entry's builder receives for `argument`: the entry's, or the default."""
    default = inspect.signature(spec.builder).parameters[argument].default
    return spec.hyperparameters.get(argument, default)


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_every_text_entry_pools_as_its_hyperparameters_say(name, shrink):
    # A pooling the builder ignored (always mean) still builds, trains and round-trips: only
    # the layer itself tells max from mean.
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    model = spec.build_model()
    pooling = _hyperparameter(spec, "pooling")
    pools = [layer for layer in model.layers
             if isinstance(layer, MaskedGlobalPooling1D) and layer.name != "bigram_mean"]
    if pooling == "last":  # the LSTM's final state: no pooling layer at all
        assert pools == []
    else:
        assert [(layer.name, layer.mode) for layer in pools] == [(f"{pooling}_pool", pooling)]


@pytest.mark.parametrize("pooling", ["last", "max", "mean"])
def test_stacked_lstms_build_and_run_for_every_pooling(pooling, make_inputs):
    # Every LSTM but the last feeds the next one its whole sequence, whatever the pooling: with
    # pooling="last" only the last layer returns its final state alone.
    spec = zoo.get_spec("lstm_imdb").with_overrides(
        vocab_size=200, sequence_length=16, embedding_dim=16, lstm_units=(8, 8), pooling=pooling
    )
    model = spec.build_model()
    assert model.output_shape == (None, spec.num_classes)
    assert model.get_layer("bidirectional_0").output.shape == (None, None, 16)
    probabilities = keras.ops.convert_to_numpy(model(make_inputs(spec), training=False))
    _assert_probabilities(probabilities, 4, spec.num_classes)


@pytest.mark.parametrize("name", zoo.list_models(family="transformer"))
def test_transformer_hidden_dense_layers_keep_their_dropout(name, shrink):
    # The builder's docstring: `dropout` also follows each hidden Dense layer. Entries without
    # hidden layers get one here, so that every entry's rate is checked.
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    if not _hyperparameter(spec, "dense_units"):
        spec = spec.with_overrides(dense_units=(8,))
    model = spec.build_model()
    dropout = _hyperparameter(spec, "dropout")
    names = {layer.name for layer in model.layers}
    for index in range(len(_hyperparameter(spec, "dense_units"))):
        assert f"hidden_{index}" in names
        if dropout:
            assert model.get_layer(f"hidden_{index}_dropout").rate == dropout
        else:
            assert f"hidden_{index}_dropout" not in names


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_every_builder_argument_is_documented(name):
    # Was: an entry's hyperparameters (block_dropout, bigram_buckets, pooling...) explained
    # only in source comments, which help() and `zoo info` readers never see.
    import re

    builder = zoo.get_spec(name).builder
    documented = inspect.getdoc(builder).partition("Args:")[2]
    for argument in inspect.signature(builder).parameters:
        assert re.search(rf"^\s+{argument}:", documented, re.MULTILINE), (builder, argument)


def test_the_transformer_space_makes_embed_dim_from_heads_and_their_size():
    # The defaults alone cannot tell: embed_dim must follow a drawn head_dim, or the searched
    # size per head would be recorded but never built.
    import keras_tuner

    from zoo.models.transformer import search_space_transformer

    spec = zoo.get_spec("transformer_imdb")
    hp = keras_tuner.HyperParameters()
    search_space_transformer(hp, spec)
    hp.values.update(num_heads=8, head_dim=8)  # a draw the oracle can make
    space = search_space_transformer(hp, spec)
    assert (space["num_heads"], space["embed_dim"]) == (8, 64)


@pytest.mark.parametrize("name, rate, layer", [
    ("cnn_mnist", "dropout", "head_dropout"),
    ("lstm_sst2", "dropout", "head_dropout"),
    ("transformer_sst2", "dropout", "head_dropout"),
    ("lstm_sst2", "bigram_dropout", "bigram_dropout"),
])
def test_a_zero_dropout_rate_adds_no_dropout_layer(name, rate, layer, shrink):
    # Every entry has these rates above 0; a rate of 0 is no layer at all, not a Dropout(0).
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    assert spec.build_model().get_layer(layer).rate == spec.hyperparameters[rate] > 0
    names = [other.name for other in spec.with_overrides(**{rate: 0.0}).build_model().layers]
    assert layer not in names and "classifier" in names
    if rate == "bigram_dropout":  # the bag itself stays
        assert "features_and_bigrams" in names


def test_global_pooling_replaces_flatten_before_the_head():
    assert "flatten" in [layer.name for layer in zoo.build("cnn_mnist", compile=False).layers]
    pooled = zoo.build("cnn_mnist", compile=False, global_pooling=True)
    names = [layer.name for layer in pooled.layers]
    assert "global_pool" in names and "flatten" not in names
    # one value per filter of the last block (64) reaches the head, not 5 x 5 x 64 of them
    assert pooled.get_layer("classifier").input.shape == (None, 64)


def test_max_blocks_allows_the_blocks_build_cnn_builds():
    # 'same' convolutions keep the size and pooling halves it: 16 -> 8 -> 4 -> 2 -> 1, so a 16 x
    # 16 image takes 4 blocks, whatever the limit allows beyond.
    from zoo.models.cnn import max_blocks

    spec = zoo.get_spec("cnn_cifar10").with_overrides(input_shape=(16, 16, 3), filters=(4,),
                                                      convs_per_block=1, dense_units=())
    assert spec.hyperparameters["padding"] == "same"
    assert max_blocks(spec, limit=8) == 4
    assert spec.with_overrides(filters=(4,) * 4).build_model().output_shape == (None, 10)
    with pytest.raises(zoo.InvalidValueError, match="too small for 5 conv/pool blocks"):
        spec.with_overrides(filters=(4,) * 5).build_model()


def test_the_cnn_space_keeps_an_entrys_several_hidden_layers():
    # One number cannot describe two hidden layers: the entry's own are kept, not searched.
    import keras_tuner

    from zoo.models.cnn import search_space_cnn

    spec = zoo.get_spec("cnn_cifar10")
    hp = keras_tuner.HyperParameters()
    assert search_space_cnn(hp, spec.with_overrides(dense_units=(64, 32)))["dense_units"] == (
        64, 32)
    assert "dense_units" not in hp.values
    hp = keras_tuner.HyperParameters()  # one layer (or none) is searched, 0 meaning none
    assert search_space_cnn(hp, spec)["dense_units"] == (512,)
    assert hp.values["dense_units"] == 512
