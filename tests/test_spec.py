"""zoo.spec: overrides reach the model, defaults reproduce the entry, values are validated."""

import dataclasses
import inspect
import math
import operator

import keras
import numpy as np
import pytest

import zoo
from zoo.models.cnn import build_cnn
from zoo.models.mlp import build_mlp
from zoo.spec import Augmentation, ImageInput, ModelSpec, Recipe, TextInput

pytestmark = pytest.mark.usefixtures("fresh_keras_session")

ALL_ENTRIES = zoo.list_models()
IMAGE_ENTRIES = zoo.list_models(task="image_classification")
TEXT_ENTRIES = zoo.list_models(task="text_classification")


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_spec_hyperparameters_reproduce_the_registered_model(name):
    spec = zoo.get_spec(name)
    registered = spec.build_model()
    registered_config = registered.get_config()
    keras.utils.clear_session()  # restart automatic names (the mask's `not_equal` op layer)
    rebuilt = zoo.build(name, compile=False, **spec.hyperparameters)

    assert rebuilt.count_params() == registered.count_params()
    assert rebuilt.get_config() == registered_config
    assert spec.with_overrides(**spec.hyperparameters).model_kwargs() == spec.model_kwargs()


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_hyperparameters_show_every_builder_default(name):
    spec = zoo.get_spec(name)
    builder_defaults = {
        key
        for key, parameter in inspect.signature(spec.builder).parameters.items()
        if parameter.default is not inspect.Parameter.empty and key != "name"
    }
    assert set(spec.hyperparameters) == builder_defaults
    with pytest.raises(TypeError):
        spec.hyperparameters["dropout"] = 0.3  # read-only: specs are frozen


@pytest.mark.parametrize("name", ALL_ENTRIES)
def test_num_classes_override_changes_head_and_clears_class_names(name, shrink):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    changed = spec.with_overrides(num_classes=3)

    assert changed.num_classes == 3 and changed.class_names == ()
    assert spec.with_overrides(num_classes=spec.num_classes).class_names == spec.class_names
    model = changed.build_model()
    assert model.output_shape == (None, 3)
    assert model.get_layer("classifier").kernel.shape[-1] == 3


@pytest.mark.parametrize("name", TEXT_ENTRIES)
def test_text_data_overrides_change_input_and_embedding(name, shrink):
    small = shrink(zoo.get_spec(name))
    spec = zoo.get_spec(name).with_overrides(**{**small, "vocab_size": 321, "sequence_length": 23})

    assert spec.input == dataclasses.replace(
        zoo.get_spec(name).input, vocab_size=321, sequence_length=23
    )
    model = spec.build_model()
    assert model.input_shape == (None, None)  # any length up to sequence_length
    tables = [v for v in model.weights if len(v.shape) == 2 and v.shape[0] == 321]
    assert len(tables) == 1  # the token embedding has one row per vocabulary id
    ids = np.random.default_rng(0).integers(0, 321, (2, 23)).astype("int32")
    assert model.predict(ids, verbose=0).shape == (2, spec.num_classes)


@pytest.mark.parametrize("name", IMAGE_ENTRIES)
def test_image_shape_override_changes_input(name, shrink):
    spec = zoo.get_spec(name).with_overrides(**shrink(zoo.get_spec(name)))
    channels = spec.input.shape[-1]
    changed = spec.with_overrides(input_shape=[36, 40, channels])  # a list is accepted

    assert changed.input.shape == (36, 40, channels)
    assert changed.input.mean == spec.input.mean  # normalization stays the entry's
    model = changed.build_model()
    assert model.input_shape == (None, 36, 40, channels)
    images = np.random.default_rng(0).random((2, 36, 40, channels)).astype("float32")
    assert model.predict(images, verbose=0).shape == (2, spec.num_classes)


def test_another_channel_count_averages_per_channel_statistics():
    # The advice for grayscale images on a CIFAR-10 entry is input_shape=(32, 32, 1): it builds.
    spec = zoo.get_spec("cnn_cifar10")
    gray = spec.with_overrides(input_shape=(32, 32, 1))
    assert gray.input.mean == (round(sum(spec.input.mean) / 3, 6),)
    assert gray.input.std == (round(sum(spec.input.std) / 3, 6),)
    assert gray.build_model().input_shape == (None, 32, 32, 1)
    # one value (MNIST's) fits any channel count and stays
    assert zoo.get_spec("cnn_mnist").with_overrides(input_shape=(28, 28, 3)).input.mean == (
        zoo.get_spec("cnn_mnist").input.mean)


def test_overrides_leave_the_registered_spec_unchanged():
    spec = zoo.get_spec("cnn_mnist")
    registered = (spec.hyperparameters["dropout"], spec.recipe.learning_rate, spec.num_classes)
    changed = spec.with_overrides(dropout=0.25, learning_rate=3e-4, num_classes=4, batch_size=32)

    assert spec.with_overrides() is spec
    assert (changed.hyperparameters["dropout"], changed.recipe.learning_rate) == (0.25, 3e-4)
    assert (changed.num_classes, changed.recipe.batch_size) == (4, 32)
    assert changed.recipe.optimizer == spec.recipe.optimizer
    assert zoo.get_spec("cnn_mnist") is spec
    assert (spec.hyperparameters["dropout"], spec.recipe.learning_rate, spec.num_classes) == (
        registered
    )
    assert registered[0] == 0.5 and registered[2] == 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.num_classes = 3


def test_model_overrides_reach_the_layers():
    model = zoo.build("cnn_mnist", compile=False, filters=(8, 16, 32), padding="same", dropout=0.3)
    assert [model.get_layer(f"block{i}_conv0").filters for i in range(3)] == [8, 16, 32]
    assert model.get_layer("head_dropout").rate == 0.3

    lstm = zoo.build(
        "lstm_sst2",
        compile=False,
        vocab_size=100,
        sequence_length=8,
        lstm_units=(6, 5),
        bidirectional=False,
    )
    assert [lstm.get_layer(f"lstm_{i}").units for i in range(2)] == [6, 5]

    transformer = zoo.build(
        "transformer_sst2",
        compile=False,
        vocab_size=100,
        sequence_length=8,
        num_layers=3,
        embed_dim=12,
        num_heads=3,
    )
    assert [type(transformer.get_layer(f"encoder_{i}")).__name__ for i in range(3)] == [
        "TransformerEncoderBlock"
    ] * 3


@pytest.mark.parametrize("entry, overrides, layer, attribute, expected", [
    # l2 reaches the hidden Dense and the convolution kernels, at its full value
    ("mlp_mnist", {"l2": 1e-3}, "hidden_0", "kernel_regularizer.l2", 1e-3),
    ("cnn_mnist", {"l2": 1e-3}, "block0_conv0", "kernel_regularizer.l2", 1e-3),
    ("cnn_mnist", {"kernel_size": 5}, "block0_conv0", "kernel_size", (5, 5)),
    ("mlp_mnist", {"dropout": 0.3}, "hidden_0_dropout", "rate", 0.3),
    # batch norm's beta stands in for the bias: a Dense bias before it would be wasted weights
    ("mlp_mnist", {"batch_norm": True}, "hidden_0", "use_bias", False),
], ids=["mlp-l2", "cnn-l2", "cnn-kernel_size", "mlp-dropout", "mlp-batch_norm"])
def test_each_model_override_reaches_its_layer(entry, overrides, layer, attribute, expected):
    # Every expected value differs from the entry's own (no l2, 3x3 kernels, dropout 0.2, no
    # batch norm), so a builder that drops the argument fails here.
    model = zoo.build(entry, compile=False, **overrides)
    assert operator.attrgetter(attribute)(model.get_layer(layer)) == pytest.approx(expected)


def test_recipe_overrides_change_the_recipe_only():
    spec = zoo.get_spec("transformer_sst2")
    changed = spec.with_overrides(
        epochs=2, schedule="constant", warmup_epochs=0, monitor="val_loss"
    )
    assert changed.recipe == dataclasses.replace(
        spec.recipe, epochs=2, schedule="constant", warmup_epochs=0, monitor="val_loss"
    )
    assert changed.hyperparameters == spec.hyperparameters
    assert changed.input == spec.input


def test_task_follows_the_input_kind():
    assert zoo.get_spec("cnn_cifar10").task == "image_classification"
    assert zoo.get_spec("lstm_imdb").task == "text_classification"
    assert zoo.get_spec("lstm_imdb").input.shape == (200,)


# ---- validation ---------------------------------------------------------------------------------


def _spec(**changes) -> ModelSpec:
    fields = dict(
        family="mlp",
        dataset="mnist",
        num_classes=10,
        input=ImageInput((28, 28, 1)),
        builder=build_mlp,
    )
    return ModelSpec(**{**fields, **changes})


def test_spec_refuses_unknown_hyperparameters():
    with pytest.raises(
        zoo.UnknownNameError, match=r"unknown hyperparameter 'unit'\. Did you mean: 'units'"
    ):
        _spec(hyperparameters={"unit": (8,)})


@pytest.mark.parametrize("argument", ["num_classes", "input_shape"])
def test_spec_refuses_data_arguments_among_hyperparameters(argument):
    value = 5 if argument == "num_classes" else (28, 28, 1)
    with pytest.raises(zoo.InvalidValueError, match=f"hyperparameters must not set {argument}"):
        _spec(hyperparameters={argument: value})


def test_spec_validates_classes():
    with pytest.raises(zoo.InvalidValueError, match=r"num_classes must be an integer >= 2"):
        _spec(num_classes=0)
    with pytest.raises(zoo.InvalidValueError, match=r"num_classes must be an integer >= 2"):
        _spec(num_classes=True)
    with pytest.raises(
        zoo.InvalidValueError, match="class_names lists 3 names but num_classes is 10"
    ):
        _spec(class_names=("a", "b", "c"))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("optimizer", "foo", r"optimizer must be one of 'adam', 'adamw', 'sgd'"),
        ("schedule", "step", r"schedule must be one of 'constant', 'cosine', 'exponential'"),
        ("learning_rate", 0, r"learning_rate must be a finite number > 0, got 0"),
        ("learning_rate", -1e-3, r"learning_rate must be a finite number > 0"),
        ("learning_rate", float("nan"), r"learning_rate must be a finite number > 0, got nan"),
        ("warmup_epochs", -1, r"warmup_epochs must be an integer >= 0"),
        ("momentum", 1.0, r"momentum must be a number in \[0, 1\)"),
        ("weight_decay", -0.1, r"weight_decay must be a finite number >= 0"),
        ("weight_decay", math.inf, r"weight_decay must be a finite number >= 0, got inf"),
        ("clipnorm", 0.0, r"clipnorm must be a finite number > 0"),
        ("label_smoothing", -0.1, r"label_smoothing must be a number in \[0, 1\)"),
        ("batch_size", 0, r"batch_size must be a positive integer, got 0"),
        ("batch_size", 32.0, r"batch_size must be a positive integer, got 32\.0"),
        ("batch_size", True, r"batch_size must be a positive integer, got True"),
        ("epochs", 0, r"epochs must be a positive integer"),
        ("early_stopping_patience", 0, r"early_stopping_patience must be a positive integer"),
        ("monitor", "val_acc", r"monitor must be one of 'val_accuracy', 'val_loss'"),
    ],
)
def test_recipe_validation(field, value, message):
    with pytest.raises(zoo.InvalidValueError, match=message):
        Recipe(**{field: value})


def test_recipe_defaults_are_valid():
    recipe = Recipe()
    assert (recipe.optimizer, recipe.learning_rate, recipe.schedule) == ("adam", 1e-3, "constant")
    assert Recipe(clipnorm=None, early_stopping_patience=None).clipnorm is None


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: ImageInput((28, 28)), r"input_shape must be \(height, width, channels\)"),
        (lambda: ImageInput((28, 0, 1)), r"input_shape\[1\] must be a positive integer, got 0"),
        (lambda: ImageInput((32, 32, 3), mean=(0.5, 0.5)), r"mean and std need 1 or 3 values"),
        (lambda: ImageInput((28, 28, 1), std=(0.0,)), r"std\[0\] must be a finite number > 0"),
        (
            lambda: ImageInput((28, 28, 1), mean="0.5"),
            r"ImageInput mean must be a number or one number per channel, got '0\.5'",
        ),
        (lambda: TextInput(vocab_size=2), r"vocab_size must be >= 3"),
        (lambda: TextInput(vocab_size=-5), r"vocab_size must be a positive integer, got -5"),
        (lambda: TextInput(sequence_length=0), r"sequence_length must be a positive integer"),
        (
            lambda: Augmentation(rotation=1.5),
            r"augmentation\.rotation must be a number in \[0, 1\)",
        ),
        (lambda: Augmentation(zoom=-0.1), r"augmentation\.zoom must be a number in \[0, 1\)"),
        (
            lambda: Augmentation(translation=1.5),
            r"augmentation\.translation must be a number in \[0, 1\), got 1\.5\.",
        ),
    ],
)
def test_input_validation(make, message):
    with pytest.raises(zoo.InvalidValueError, match=message):
        make()


def test_input_override_is_validated_like_the_input():
    with pytest.raises(zoo.InvalidValueError, match=r"input_shape must be \(height, width, "
                                                   r"channels\), got \(32, 32\)"):
        zoo.get_spec("cnn_cifar10").with_overrides(input_shape=(32, 32))
    with pytest.raises(zoo.UnknownNameError, match="unknown override 'vocab_size'"):
        zoo.get_spec("cnn_mnist").with_overrides(vocab_size=100)  # images have no vocabulary
    with pytest.raises(zoo.UnknownNameError, match="unknown override 'input_shape'"):
        zoo.get_spec("lstm_imdb").with_overrides(input_shape=(28, 28, 1))


def test_an_unknown_override_lists_every_valid_one():
    # The list is longer than the 20 names other unknown-name errors stop at: cut with " ...",
    # the overrides after 'label_smoothing' (learning_rate, momentum, weight_decay...) were hidden.
    spec = zoo.get_spec("cnn_mnist")
    valid = spec.valid_overrides()
    assert len(valid) > 20 and "weight_decay" in valid
    with pytest.raises(zoo.UnknownNameError,
                       match=r"unknown override 'learnin_rate'\. Did you mean: 'learning_rate'\?"
                       ) as raised:
        spec.with_overrides(learnin_rate=1)
    assert f"Known overrides: {', '.join(valid)}. 'cnn_mnist' takes" in str(raised.value)
    assert " ..." not in str(raised.value)


def test_augmentation_enabled():
    assert not Augmentation().enabled
    assert Augmentation(horizontal_flip=True).enabled
    assert zoo.get_spec("cnn_cifar10").input.augmentation.horizontal_flip
    assert not zoo.get_spec("cnn_mnist").input.augmentation.horizontal_flip  # digits never flip


def test_builder_is_called_with_the_spec_name():
    spec = dataclasses.replace(
        _spec(builder=build_cnn, hyperparameters={"filters": (4,)}), name="cnn_named"
    )
    model = spec.build_model()
    assert isinstance(model, keras.Model) and model.name == "cnn_named"


# ---- what a spec and a builder of your own must be -----------------------------------------------


def _image_spec(builder, **fields) -> ModelSpec:
    return ModelSpec(family="mlp", dataset="mnist", num_classes=10, input=ImageInput((28, 28, 1)),
                     builder=builder, **fields)


@pytest.mark.parametrize("fields, message", [
    ({"input": (28, 28, 1)}, r"ModelSpec input must be zoo.ImageInput.*got tuple \(28, 28, 1\)"),
    ({"recipe": {"epochs": 1}}, "ModelSpec recipe must be a zoo.Recipe.*got dict"),
    ({"reference": 0.99}, "ModelSpec reference must be a zoo.Reference.*or None, got float"),
    ({"builder": "build_cnn"}, "ModelSpec builder must be a function.*got str 'build_cnn'"),
    ({"search_space": {"units": [4, 8]}}, "search_space must be a function .hp, spec."),
])
def test_spec_fields_of_the_wrong_kind_are_refused_when_made(fields, message):
    arguments = {"family": "mlp", "dataset": "mnist", "num_classes": 10,
                 "input": ImageInput((28, 28, 1)), "builder": build_mlp, **fields}
    with pytest.raises(zoo.InvalidValueError, match=message):
        ModelSpec(**arguments)


def test_builder_arguments_are_checked_when_the_spec_is_made():
    def wrong_names(*, shape, n_classes):
        raise AssertionError("never called")

    with pytest.raises(zoo.InvalidValueError,
                       match=r"wrong_names does not take input_shape, num_classes: a builder is "
                             r"called with the data arguments"):
        _image_spec(wrong_names)

    def required_width(*, input_shape, num_classes, width):
        inputs = keras.Input(input_shape)
        hidden = keras.layers.Dense(width, name="hidden")(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, zoo.models.classifier_head(hidden, num_classes))

    with pytest.raises(zoo.InvalidValueError, match=r"required_width needs a value for width "
                                                    r"\(no default\): give it in hyperparameters"):
        _image_spec(required_width)
    spec = _image_spec(required_width, hyperparameters={"width": 3})  # a required one is allowed
    assert spec.build_model().get_layer("hidden").units == 3
    assert spec.with_overrides(width=5).build_model().get_layer("hidden").units == 5

    def any_keywords(*, input_shape, num_classes, **options):
        return required_width(input_shape=input_shape, num_classes=num_classes, width=options["w"])

    assert _image_spec(any_keywords, hyperparameters={"w": 2}).hyperparameters["w"] == 2


def _returning(value_of):
    """A builder whose model is `value_of(input_shape, num_classes)`."""
    def builder(*, input_shape, num_classes):
        return value_of(input_shape, num_classes)
    return builder


def _dense_model(input_shape, classes):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, zoo.models.classifier_head(keras.layers.Flatten()(inputs), classes))


@pytest.mark.parametrize("value_of, message", [
    (lambda shape, classes: None, "builder returned NoneType, not a keras.Model: a builder"),
    (lambda shape, classes: keras.layers.Dense(classes), "returned Dense, not a keras.Model"),
    (lambda shape, classes: _dense_model(shape, 4),
     r"output has shape \(None, 4\), expected \(None, 10\).*use its num_classes argument"),
    (lambda shape, classes: _dense_model((32, 32, 3), classes),
     r"input has shape \(32, 32, 3\), expected \(28, 28, 1\): use its input_shape argument"),
    (lambda shape, classes: (lambda model: keras.Model(model.inputs, [model.output] * 2))(
        _dense_model(shape, classes)), r"1 input\(s\) and 2 output\(s\)"),
    (lambda shape, classes: (lambda inputs: keras.Model(inputs, keras.layers.Dense(
        classes, name="logits")(keras.layers.Flatten()(inputs))))(keras.Input(shape)),
     r"ending in Dense layer 'logits' without an activation \(logits\).*activation='softmax'"),
    # A builder that fails (a third party's bug, Keras refusing a value): named, in one line.
    (lambda shape, classes: 1 / 0,
     r"builder failed to build the model with \{\}: ZeroDivisionError: division by zero\. "
     r"Check these values \(overrides, --set\), or the builder\."),
])
def test_what_a_builder_returns_is_checked_before_anything_uses_it(value_of, message):
    with pytest.raises(zoo.InvalidValueError, match=message):
        _image_spec(_returning(value_of)).build_model()


class _Subclassed(keras.Model):
    def __init__(self, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(num_classes, activation="softmax")

    def call(self, inputs):
        return self.head(self.flatten(inputs))


def test_a_subclassed_model_is_refused_and_the_functional_wrap_works():
    # Accepted before: zoo info, models_frame and the export after a whole training run then
    # failed on its missing shapes ("'SubNet' object has no attribute 'output_shape'").
    with pytest.raises(zoo.InvalidValueError, match=r"returned a subclassed _Subclassed without "
                       r"inputs: .*return keras.Model\(inputs, YourLayer\(\)\(inputs\)\)"):
        _image_spec(_returning(lambda shape, classes: _Subclassed(classes))).build_model()

    def wrapped(*, input_shape, num_classes):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, _Subclassed(num_classes)(inputs))

    model = _image_spec(wrapped).build_model()
    assert model.output_shape == (None, 10) and model.count_params() == 28 * 28 * 10 + 10


def test_a_model_is_named_after_its_entry_whatever_its_builder_does():
    def ignores_name(*, input_shape, num_classes, name="unused"):
        model = _dense_model(input_shape, num_classes)
        model.name = "fixed_name"
        return model

    for builder in (ignores_name, _returning(_dense_model)):  # the second takes no name
        spec = dataclasses.replace(_image_spec(builder), name="mlp_named_entry")
        assert spec.build_model().name == "mlp_named_entry"


# ---- overrides of the wrong kind, found by an audit of error messages ---------------------------


@pytest.mark.parametrize("entry, overrides, name", [
    ("cnn_mnist", {"batch_norm": "no"}, "batch_norm"),  # built BatchNormalization layers
    ("lstm_sst2", {"bidirectional": "no"}, "bidirectional"),  # kept Bidirectional
    ("cnn_mnist", {"global_pooling": "no"}, "global_pooling"),  # turned pooling on
    ("mlp_mnist", {"batch_norm": 0}, "batch_norm"),
    ("lstm_sst2", {"bucket_by_length": "no"}, "bucket_by_length"),  # a recipe field
])
def test_a_yes_no_override_must_be_true_or_false(entry, overrides, name):
    value = overrides[name]
    with pytest.raises(zoo.InvalidValueError,
                       match=rf"{name} must be True or False \(command line: true/false\), "
                             rf"got {value!r}\."):
        zoo.get_spec(entry).with_overrides(**overrides)
    spec = zoo.get_spec(entry).with_overrides(**{name: np.bool_(True)})  # a NumPy bool is one
    assert bool({**spec.hyperparameters, **dataclasses.asdict(spec.recipe)}[name])


def test_a_yes_no_field_of_a_recipe_or_a_spec_of_your_own_is_checked_when_made():
    with pytest.raises(zoo.InvalidValueError, match="bucket_by_length must be True or False"):
        Recipe(bucket_by_length="yes")
    with pytest.raises(zoo.InvalidValueError,
                       match="augmentation.horizontal_flip must be True or False"):
        zoo.Augmentation(horizontal_flip="no")  # mirrored digits
    with pytest.raises(zoo.InvalidValueError, match="batch_norm must be True or False"):
        _spec(hyperparameters={"batch_norm": "no"})

    def optional_flag(*, input_shape, num_classes, flag=None):
        return build_mlp(input_shape=input_shape, num_classes=num_classes)

    # A default of None says nothing of the kind: True and other values stay the builder's call.
    assert _image_spec(optional_flag).with_overrides(flag=True).hyperparameters["flag"] is True
    assert _image_spec(optional_flag).with_overrides(flag="auto").hyperparameters["flag"] == "auto"


def test_an_unknown_activation_is_refused_up_front_with_the_closest_names():
    # Was: "build_cnn failed to build cnn_mnist with {'filters': ..., 'padding': 'val...:
    # ValueError: Could not interpret activation function identifier: Relu".
    with pytest.raises(zoo.UnknownNameError,
                       match=r"unknown activation 'Relu'\. Did you mean: 'relu'\? Known "
                             r"activations: .*gelu.*tanh") as raised:
        zoo.get_spec("cnn_mnist").with_overrides(activation="Relu")
    assert "failed to build" not in str(raised.value)
    with pytest.raises(zoo.InvalidValueError, match="activation must be the name of a Keras "
                                                    "activation such as 'relu', or a function"):
        build_mlp(input_shape=(4,), num_classes=2, activation=3)
    with pytest.raises(zoo.UnknownNameError, match="unknown activation 'gelu2'"):
        build_cnn(input_shape=(28, 28, 1), num_classes=10, activation="gelu2")
    model = zoo.build("mlp_mnist", activation="gelu", compile=False)  # Keras' own names pass
    assert model.get_layer("hidden_0_gelu") is not None


@pytest.mark.parametrize("field, off", [
    ("clipnorm", r"None turns clipping off \(command line: --set clipnorm=None\)"),
    ("early_stopping_patience",
     r"None turns early stopping off \(command line: --set early_stopping_patience=None\)"),
])
def test_settings_that_none_turns_off_say_so(field, off):
    for value in (0, "none"):
        with pytest.raises(zoo.InvalidValueError, match=rf"{field} must be .*got .*\. {off}"):
            Recipe(**{field: value})
    assert getattr(Recipe(**{field: None}), field) is None


@pytest.mark.parametrize("call, wrong, suggested", [
    (lambda: zoo.build("cnn_mnist", weight="w.keras"), "'weight' of zoo.build",
     "'weights', 'weight_decay'"),
    (lambda: zoo.get_spec("mlp_mnist").check_arguments(["work_dir"], zoo.train),
     "'work_dir' of zoo.train", "'workdir'"),
    (lambda: zoo.get_spec("mlp_mnist").check_arguments(["classnames"], zoo.train),
     "'classnames' of zoo.train", "'class_names'"),
    (lambda: zoo.get_spec("mlp_mnist").check_arguments(["max_trial"], zoo.tune),
     "'max_trial' of zoo.tune", "'max_trials'"),
])
def test_a_misspelt_keyword_is_matched_against_the_functions_own_arguments_too(
    call, wrong, suggested
):
    with pytest.raises(zoo.UnknownNameError,
                       match=rf"unknown argument {wrong}\. Did you mean: {suggested}") as raised:
        call()
    # Both kinds are listed, apart: the function's own arguments and the entry's overrides.
    assert "takes its own arguments (" in str(raised.value)
    assert "overrides of" in str(raised.value) and "learning_rate" in str(raised.value)


def test_a_keyword_close_to_nothing_gets_no_guess_and_both_lists():
    with pytest.raises(zoo.UnknownNameError) as raised:
        zoo.build("cnn_mnist", zzzz=1)
    message = str(raised.value)
    assert message.startswith("unknown argument 'zzzz' of zoo.build. zoo.build takes its own "
                              "arguments (name, compile, weights, freeze_backbone) and the "
                              "overrides of cnn_mnist (")
    assert "Did you mean" not in message


def test_values_json_cannot_hold_are_recorded_as_their_text():
    # What a workdir's config.json and a search's record keep: NumPy values as the numbers
    # they are, anything else JSON has no form for (a path) as its text.
    from pathlib import PurePosixPath

    from zoo.values import plain_json

    assert plain_json({"data": PurePosixPath("runs/a"), "units": (np.int64(8),),
                       "dropout": np.float32(0.3), "nesterov": np.bool_(True)}) == {
        "data": "runs/a", "units": [8], "dropout": 0.3, "nesterov": True}


@pytest.mark.parametrize("cls", [Augmentation, ImageInput, TextInput, Recipe, zoo.Reference],
                         ids=lambda cls: cls.__name__)
def test_every_field_and_allowed_value_is_documented_where_help_shows_it(cls):
    # Was: fields and their allowed values only in source comments, which help() does not show.
    import re

    from zoo.spec import MONITORS, OPTIMIZERS, SCHEDULES, STANDARDIZERS

    attributes = inspect.getdoc(cls).partition("Attributes:")[2]
    for field in dataclasses.fields(cls):
        assert re.search(rf"^\s+(\w+, )*{field.name}\b.*:", attributes, re.MULTILINE), field.name
    allowed = {Recipe: OPTIMIZERS + SCHEDULES + MONITORS, TextInput: STANDARDIZERS}.get(cls, ())
    for value in allowed:
        assert f'"{value}"' in attributes, value


@pytest.mark.parametrize("call, name, allowed", [
    # Each read with `if`, where "no" is true: compile="no" compiled, overwrite="no" deleted
    # the search it was to resume, shuffle="no" shuffled.
    (lambda: zoo.build("mlp_mnist", compile="no"), "compile", "True, False"),
    (lambda: zoo.build("mlp_mnist", freeze_backbone="no"), "freeze_backbone", "True, False"),
    (lambda: zoo.models_frame(params="no"), "params", "True, False"),
    (lambda: zoo.tune("mlp_mnist", overwrite="no"), "overwrite", "True, False"),
    (lambda: zoo.data.load(_DIGITS, shuffle="no"), "shuffle", "True, False, None"),
    (lambda: zoo.data.load(_DIGITS, augment="no"), "augment", "True, False, None"),
    (lambda: zoo.data.load(_DIGITS, cache="no"), "cache", "True, False"),
    (lambda: zoo.data.load(_DIGITS, drop_remainder="no"), "drop_remainder", "True, False"),
])
def test_a_yes_no_argument_must_be_true_or_false(call, name, allowed):
    with pytest.raises(zoo.InvalidValueError, match=rf"^{name} must be one of {allowed}, got "
                                                    rf"'no'\.$"):
        call()


_DIGITS = (np.zeros((4, 28, 28), np.uint8), np.arange(4))
