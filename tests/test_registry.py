"""zoo.registry: listing, filtering, the models frame, errors, third-party entries and plug-ins."""

import functools
import inspect
import itertools
import os
import subprocess
import sys
import textwrap
import types

import keras
import pandas
import pytest

import zoo
import zoo.models
import zoo.registry
from zoo.models.mlp import build_mlp
from zoo.terminal import NVIDIA_DRIVER_NODE

pytestmark = pytest.mark.usefixtures("fresh_keras_session")

BUILT_IN = [
    name
    for name in zoo.list_models()
    if zoo.registry._ENTRY_FUNCTIONS[name].__module__.startswith("zoo.models")
]
REQUIRED_ENTRIES = {
    "mlp_mnist",
    "cnn_mnist",
    "mlp_fashion_mnist",
    "cnn_fashion_mnist",
    "cnn_cifar10",
    "lstm_imdb",
    "transformer_imdb",
    "lstm_sst2",
    "transformer_sst2",
    "transformer_ag_news",
}


def _tiny_spec(**changes) -> zoo.ModelSpec:
    return zoo.ModelSpec(
        family="mlp",
        dataset="mnist",
        num_classes=10,
        input=zoo.ImageInput((28, 28, 1)),
        builder=build_mlp,
        hyperparameters={"units": (4,)},
        **changes,
    )


@pytest.fixture
def temporary_entry():
    """Register `mlp_tiny_test` (tagged) for one test, and always remove it again."""

    def mlp_tiny_test() -> zoo.ModelSpec:
        return _tiny_spec(description="a third-party entry")

    zoo.register_model(owner="tests", stage="alpha")(mlp_tiny_test)
    yield "mlp_tiny_test"
    if "mlp_tiny_test" in zoo.list_models():
        zoo.unregister_model("mlp_tiny_test")


# ---- listing ------------------------------------------------------------------------------------


def test_required_entries_are_registered():
    assert REQUIRED_ENTRIES <= set(zoo.list_models())
    assert REQUIRED_ENTRIES <= set(BUILT_IN)


def test_list_models_is_sorted_and_unique():
    names = zoo.list_models()
    assert names == sorted(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "include, exclude, expected",
    [
        ("*_mnist", None, ["cnn_fashion_mnist", "cnn_mnist", "mlp_fashion_mnist", "mlp_mnist"]),
        ("*_mnist", "*fashion*", ["cnn_mnist", "mlp_mnist"]),
        (["lstm_*", "cnn_c*"], None, ["cnn_cifar10", "lstm_imdb", "lstm_sst2"]),
        ("transformer_*", ["*_imdb", "*_sst2"], ["transformer_ag_news"]),
        ("cnn_mnist", None, ["cnn_mnist"]),
        ("no_such_*", None, []),
        ("*", "*", []),
    ],
)
def test_list_models_globs(include, exclude, expected):
    names = zoo.list_models(include, exclude)
    assert [n for n in names if n in BUILT_IN] == expected  # third-party entries may add more
    assert names == sorted(names)


def test_list_models_refuses_patterns_that_are_not_text():
    for patterns in (3, [b"cnn_*"], ["cnn_*", None]):
        with pytest.raises(zoo.InvalidValueError,
                           match=r"include must be a glob pattern such as '\*_mnist', or a list "
                                 r"of them, got "):
            zoo.list_models(patterns)
    with pytest.raises(zoo.InvalidValueError, match=r"exclude must be a glob pattern .* got 3\."):
        zoo.list_models(exclude=3)


def test_list_models_default_includes_everything():
    assert zoo.list_models() == zoo.list_models("*") == sorted(zoo.registry._REGISTRY)
    # No include pattern is every entry: an empty one (a command line's `--include ""`) too,
    # not a pattern that matches no name.
    assert zoo.list_models("") == zoo.list_models(None) == zoo.list_models()
    assert zoo.list_models([""]) == zoo.list_models()


@pytest.mark.parametrize("family", ["mlp", "cnn", "lstm", "transformer"])
def test_list_models_by_family(family):
    names = zoo.list_models(family=family)
    assert names and names == sorted(names)
    assert all(zoo.get_spec(n).family == family for n in names)
    assert set(names) == {n for n in zoo.list_models() if zoo.get_spec(n).family == family}


def test_list_models_by_task_and_dataset():
    text = zoo.list_models(task="text_classification")
    images = zoo.list_models(task="image_classification")
    assert set(text) | set(images) == set(zoo.list_models())
    assert not set(text) & set(images)
    assert {"lstm_imdb", "transformer_ag_news"} <= set(text)
    assert zoo.list_models(dataset="glue/sst2") == ["lstm_sst2", "transformer_sst2"]
    assert zoo.list_models(family="transformer", dataset="glue/sst2") == ["transformer_sst2"]
    assert zoo.list_models("cnn_*", dataset="mnist") == ["cnn_mnist"]
    assert zoo.list_models(family="no_such_family") == []


@pytest.mark.parametrize(("filters", "message"), [
    ({"family": "CNN"}, r"unknown family 'CNN'\. Did you mean: 'cnn'\? Known families: cnn, lstm"),
    ({"task": "text"}, r"unknown task 'text'\. Did you mean: 'text_classification'\?"),
    ({"dataset": "sst2"}, r"unknown dataset 'sst2'\. Did you mean: 'glue/sst2'\?"),
])
def test_filter_values_no_entry_has_are_named_with_close_matches(filters, message):
    from zoo.registry import check_filters

    with pytest.raises(zoo.UnknownNameError, match=message):
        check_filters(**filters)
    check_filters(family="cnn", task="text_classification", dataset="glue/sst2")  # known: silent


# ---- models_frame -------------------------------------------------------------------------------

FRAME_COLUMNS = [
    "name",
    "family",
    "task",
    "dataset",
    "input_shape",
    "num_classes",
    "params",
    "reference_accuracy",
    "reference_source",
    "measured_accuracy",
]


def test_models_frame_rows_and_columns():
    frame = zoo.models_frame(params=False)
    assert set(FRAME_COLUMNS) <= set(frame.columns)
    assert list(frame["name"]) == zoo.list_models()
    row = frame.set_index("name").loc["transformer_ag_news"]
    assert row["family"] == "transformer"
    assert row["task"] == "text_classification"
    assert row["dataset"] == "ag_news_subset"
    assert row["input_shape"] == (128,)
    assert row["num_classes"] == 4
    assert row["params"] is None
    assert 0 < row["reference_accuracy"] <= 1
    # Every entry's figures come from its own spec: measured_accuracy is zoo's own measurement
    # (empty where there is none), not the published reference beside it.
    for name, row in frame.set_index("name").iterrows():
        spec = zoo.get_spec(name)
        measured = spec.reference.measured if spec.reference else None
        if measured is None:
            assert pandas.isna(row["measured_accuracy"]), name
        else:
            assert row["measured_accuracy"] == measured, name
        assert (row["batch_size"], row["epochs"]) == (spec.recipe.batch_size, spec.recipe.epochs)
    sst2 = frame.set_index("name").loc["lstm_sst2"]
    assert sst2["measured_accuracy"] != sst2["reference_accuracy"]  # both there, and different


def test_models_frame_counts_parameters():
    frame = zoo.models_frame("cnn_mnist")
    assert list(frame["name"]) == ["cnn_mnist"]
    assert frame.loc[frame.name == "cnn_mnist", "params"].item() == 34826  # the classic convnet
    assert frame["input_shape"].item() == (28, 28, 1)


def test_models_frame_keeps_the_callers_keras_state():
    zoo.registry._parameter_count.cache_clear()  # make it build the model
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        assert zoo.models_frame("mlp_mnist")["params"].item() == 101770
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_models_frame_lists_an_entry_that_cannot_be_built_without_a_count(recwarn):
    # One third party's broken builder must not take the whole listing down: it warns, and the
    # entry's row has no parameter count.
    def needs_a_width(*, input_shape, num_classes, width=None):
        raise zoo.InvalidValueError("width must be given")

    def mlp_unbuildable() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
                             input=zoo.ImageInput((28, 28, 1)), builder=needs_a_width)

    zoo.register_model(mlp_unbuildable)
    try:
        frame = zoo.models_frame(["mlp_unbuildable", "mlp_mnist"]).set_index("name")
    finally:
        zoo.unregister_model("mlp_unbuildable")
    assert pandas.isna(frame.loc["mlp_unbuildable", "params"])
    assert frame.loc["mlp_mnist", "params"] == 101770
    assert [str(warning.message) for warning in recwarn] == [
        "cannot count the parameters of 'mlp_unbuildable': width must be given"]


def test_models_frame_filters_and_empty_result():
    assert list(zoo.models_frame(family="lstm", params=False)["name"]) == ["lstm_imdb", "lstm_sst2"]
    empty = zoo.models_frame("no_such_*", params=False)
    assert empty.empty
    assert set(FRAME_COLUMNS) <= set(empty.columns)
    # Accuracies are numbers whichever entries a filter leaves: none measured is NaN, not None.
    for frame in (zoo.models_frame("*_imdb", params=False), zoo.models_frame(params=False), empty):
        assert frame["measured_accuracy"].dtype == "float64"
        assert frame["reference_accuracy"].dtype == "float64"
    unmeasured = zoo.models_frame("*_imdb", params=False)["measured_accuracy"]
    assert len(unmeasured) and unmeasured.isna().all()


# ---- built-in entries ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", BUILT_IN)
def test_built_in_entry_metadata(name):
    spec = zoo.get_spec(name)
    assert spec.name == name
    assert name.startswith(f"{spec.family}_")  # name = family_dataset
    assert spec.family in zoo.models.BUILDERS
    assert spec.builder is zoo.models.BUILDERS[spec.family]
    assert spec.reference is not None
    assert 0 < spec.reference.accuracy <= 1
    assert spec.reference.source.strip()
    assert len(spec.class_names) == spec.num_classes
    assert all(isinstance(c, str) and c for c in spec.class_names)
    assert spec.description or zoo.registry._ENTRY_FUNCTIONS[name].__doc__


# ---- builders and registry agree ----------------------------------------------------------------


def test_every_entry_function_is_registered_under_its_name():
    for entry in zoo.models.ENTRIES:
        assert zoo.registry._ENTRY_FUNCTIONS[entry.__name__] is entry
        assert zoo.get_spec(entry.__name__).name == entry.__name__


def test_every_built_in_registration_is_listed_in_entries():
    listed = {entry.__name__ for entry in zoo.models.ENTRIES}
    assert set(BUILT_IN) == listed
    assert len(zoo.models.ENTRIES) == len(listed)


def test_every_family_builder_is_used_and_public():
    used = {zoo.get_spec(name).builder for name in BUILT_IN}
    for family, builder in zoo.models.BUILDERS.items():
        assert builder in used, f"no entry uses {builder.__name__}"
        assert builder.__name__ in zoo.models.__all__
        assert getattr(zoo.models, builder.__name__) is builder
        assert builder.__module__ == f"zoo.models.{family}"
    assert used <= set(zoo.models.BUILDERS.values())


def test_every_public_builder_function_is_a_family_builder():
    public_builders = {
        getattr(zoo.models, name)
        for name in zoo.models.__all__
        if name.startswith("build_") and inspect.isfunction(getattr(zoo.models, name))
    }
    assert public_builders == set(zoo.models.BUILDERS.values())


def test_every_entry_in_models_all_is_registered():
    for name in zoo.models.__all__:
        assert hasattr(zoo.models, name)
    entry_names = [n for n in zoo.models.__all__ if n in zoo.registry._REGISTRY]
    assert set(entry_names) == set(BUILT_IN)


# ---- errors -------------------------------------------------------------------------------------


def test_unknown_name_suggests_the_closest():
    with pytest.raises(
        zoo.UnknownNameError, match=r"unknown model 'cnn_mnst'\. Did you mean: 'cnn_mnist'"
    ):
        zoo.get_spec("cnn_mnst")
    with pytest.raises(zoo.UnknownNameError, match=r"Did you mean: 'cnn_mnist'"):
        zoo.build("cnn_mnst")
    with pytest.raises(zoo.UnknownNameError, match=r"Did you mean: 'transformer_sst2'"):
        zoo.build("transformer_sts2")
    with pytest.raises(LookupError):  # UnknownNameError is also a LookupError
        zoo.get_spec("cnn_mnst")


def test_unknown_name_without_close_match_lists_known_models():
    with pytest.raises(
        zoo.UnknownNameError, match=r"Known models: .*cnn_cifar10.*zoo\.list_models"
    ):
        zoo.get_spec("resnet50_imagenet")


def test_non_string_name_is_refused():
    with pytest.raises(zoo.InvalidValueError, match="must be a string, got int"):
        zoo.get_spec(3)


def test_unknown_override_lists_every_valid_one():
    spec = zoo.get_spec("cnn_mnist")
    with pytest.raises(
        zoo.UnknownNameError,
        match=r"unknown argument 'filtres' of zoo\.build\. Did you mean: 'filters'"
    ) as error:
        zoo.build("cnn_mnist", filtres=(8, 16))
    message = str(error.value)
    for valid in spec.valid_overrides():
        assert valid in message
    assert "..." not in message
    assert {"learning_rate", "batch_size", "dropout", "num_classes", "input_shape"} <= set(
        spec.valid_overrides()
    )


@pytest.mark.parametrize(
    "name, overrides, message",
    [
        ("mlp_mnist", {"units": (128, -3)}, r"units\[1\] must be a positive integer, got -3"),
        ("mlp_mnist", {"units": -3}, r"units\[0\] must be a positive integer, got -3"),
        ("lstm_sst2", {"lstm_units": (0,)}, r"lstm_units\[0\] must be a positive integer, got 0"),
        ("cnn_mnist", {"filters": (32, -64)}, r"filters\[1\] must be a positive integer"),
        ("mlp_mnist", {"dropout": 1.0}, r"dropout must be a number in \[0, 1\), got 1\.0"),
        ("cnn_mnist", {"dropout": -0.1}, r"dropout must be a number in \[0, 1\), got -0\.1"),
        ("cnn_mnist", {"dropout": "0.5"}, r"dropout must be a number in \[0, 1\), got '0\.5'"),
        ("transformer_sst2", {"dropout": None}, r"dropout must be a number in \[0, 1\), got None"),
        (
            "lstm_sst2",
            {"embedding_dropout": 1.5},
            r"embedding_dropout must be a number in \[0, 1\)",
        ),
        ("transformer_sst2", {"token_dropout": 1.0}, r"token_dropout must be a number in \[0, 1\)"),
        ("lstm_imdb", {"bigram_dim": 0}, r"bigram_dim must be a positive integer, got 0"),
        ("lstm_sst2", {"bigram_dropout": 1.0}, r"bigram_dropout must be a number in \[0, 1\)"),
        ("cnn_mnist", {"num_classes": 0}, r"num_classes must be an integer >= 2 .* got 0"),
        ("lstm_imdb", {"num_classes": 1}, r"num_classes must be an integer >= 2"),
        (
            "transformer_sst2",
            {"num_heads": 3},
            r"embed_dim \(128\) must be divisible by num_heads \(3\)",
        ),
        (
            "transformer_sst2",
            {"embed_dim": 30},
            r"embed_dim \(30\) must be divisible by num_heads \(4\)",
        ),
        ("cnn_mnist", {"learning_rate": 0}, r"learning_rate must be a finite number > 0, got 0"),
        (
            "cnn_mnist",
            {"learning_rate": float("inf")},
            r"learning_rate must be a finite number > 0",
        ),
        ("cnn_mnist", {"optimizer": "foo"}, r"optimizer must be one of 'adam', .*got 'foo'"),
        ("cnn_mnist", {"schedule": "linear"}, r"schedule must be one of 'constant'"),
        ("cnn_mnist", {"batch_size": 0}, r"batch_size must be a positive integer, got 0"),
        ("cnn_mnist", {"epochs": 2.5}, r"epochs must be a positive integer, got 2\.5"),
        ("cnn_mnist", {"label_smoothing": 1.0}, r"label_smoothing must be a number in \[0, 1\)"),
        ("mlp_mnist", {"l2": -1e-4}, r"l2 must be a finite number >= 0"),
        ("lstm_sst2", {"vocab_size": 2}, r"vocab_size must be >= 3"),
        ("lstm_sst2", {"sequence_length": 0}, r"sequence_length must be a positive integer"),
        (
            "cnn_mnist",
            {"input_shape": (28, 28)},
            r"input_shape must be \(height, width, channels\)",
        ),
        ("cnn_mnist", {"input_shape": (4, 4, 1)}, r"input_shape \(4, 4, 1\) is too small"),
        # Big enough for the first block's convolution, too small for the second's pooling.
        ("cnn_mnist", {"input_shape": (8, 8, 1)}, r"input_shape \(8, 8, 1\) is too small for 2 "
                                                  r"conv/pool blocks: block 1 sees 1x1 pixels\. "
                                                  r"Use fewer filters, padding='same'"),
        ("mlp_mnist", {"units": "8"}, r"units must be a positive integer or a list of them, "
                                      r"got '8'"),
        ("cnn_mnist", {"padding": "full"}, r"padding must be one of 'valid', 'same'"),
    ],
)
def test_invalid_values_name_the_argument_and_the_range(name, overrides, message):
    with pytest.raises(zoo.InvalidValueError, match=message):
        zoo.build(name, **overrides)


def test_invalid_values_are_zoo_errors_and_value_errors():
    with pytest.raises(ValueError):
        zoo.build("mlp_mnist", dropout=2)
    with pytest.raises(zoo.ZooError):
        zoo.build("mlp_mnist", dropout=2)


def test_freeze_backbone_needs_weights():
    with pytest.raises(zoo.InvalidValueError, match="freeze_backbone=True needs weights"):
        zoo.build("mlp_mnist", freeze_backbone=True)


# ---- registering ---------------------------------------------------------------------------------


def test_duplicate_registration_raises_and_keeps_the_original():
    original = zoo.get_spec("cnn_mnist")

    def cnn_mnist() -> zoo.ModelSpec:
        return _tiny_spec()

    with pytest.raises(
        zoo.InvalidValueError, match=r"'cnn_mnist' is already registered \(by zoo\.models\.cnn\)"
    ):
        zoo.register_model(cnn_mnist)
    with pytest.raises(zoo.InvalidValueError, match="already registered"):
        zoo.register_model(name="mlp_mnist")(cnn_mnist)
    assert zoo.get_spec("cnn_mnist") is original


def test_a_cell_run_again_registers_its_entry_again(tmp_path):
    # A notebook cell that registers an entry, run a second time (edited or not), was refused
    # as a duplicate; a different function under the same name still is.
    cell = textwrap.dedent("""
        @zoo.register_model(owner="cell")
        def mlp_cell_rerun() -> zoo.ModelSpec:
            return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
                                 input=zoo.ImageInput((28, 28, 1)), builder=build_mlp,
                                 hyperparameters={"units": (UNITS,)})
    """)
    namespace = {"zoo": zoo, "build_mlp": zoo.models.build_mlp, "__name__": "__main__"}
    try:
        for units in (8, 8, 16):
            exec(cell.replace("UNITS", str(units)), namespace)
            assert zoo.get_spec("mlp_cell_rerun").hyperparameters["units"] == (units,)
            # models_frame counts the new definition's parameters, not the first one's.
            params = zoo.models_frame("mlp_cell_rerun")["params"].item()
            assert params == zoo.build("mlp_cell_rerun", compile=False).count_params()
            assert params == 28 * 28 * units + units + units * 10 + 10

        def mlp_cell_rerun() -> zoo.ModelSpec:
            return _tiny_spec()

        with pytest.raises(zoo.InvalidValueError, match="'mlp_cell_rerun' is already registered"):
            zoo.register_model(mlp_cell_rerun)
        for other in (lambda: _tiny_spec(), functools.partial(_tiny_spec)):  # share no name
            with pytest.raises(zoo.InvalidValueError, match="is already registered"):
                zoo.register_model(other, name="mlp_cell_rerun")
        # Two lambdas share a qualified name, and so do two closures of one factory.
        zoo.register_model(lambda: _tiny_spec(), name="mlp_lambda_entry")
        with pytest.raises(zoo.InvalidValueError, match="'mlp_lambda_entry' is already"):
            zoo.register_model(lambda: _tiny_spec(), name="mlp_lambda_entry")

        def factory(units):
            def mlp_factory_entry() -> zoo.ModelSpec:
                return _tiny_spec().with_overrides(units=(units,))
            return mlp_factory_entry

        zoo.register_model(factory(8))
        with pytest.raises(zoo.InvalidValueError, match="'mlp_factory_entry' is already"):
            zoo.register_model(factory(16))  # same module and qualified name, another function
        assert zoo.get_spec("mlp_factory_entry").hyperparameters["units"] == (8,)
        # A partial is named by its function's module (was: "by functools").
        zoo.register_model(functools.partial(_tiny_spec), name="mlp_partial_entry")
        with pytest.raises(zoo.InvalidValueError, match=r"already registered \(by test_registry\)"):
            zoo.register_model(lambda: _tiny_spec(), name="mlp_partial_entry")
    finally:
        for name in zoo.list_models(["mlp_cell_rerun", "mlp_lambda_entry", "mlp_partial_entry",
                                     "mlp_factory_entry"]):
            zoo.unregister_model(name)


def test_third_party_entry_with_tags(temporary_entry):
    spec = zoo.get_spec(temporary_entry)
    assert spec.name == temporary_entry
    assert dict(spec.tags) == {"owner": "tests", "stage": "alpha"}
    assert spec.class_names == zoo.get_spec("mlp_mnist").class_names  # from the dataset catalog
    assert temporary_entry in zoo.list_models()
    assert temporary_entry in zoo.list_models("mlp_*", family="mlp", dataset="mnist")
    assert temporary_entry not in zoo.list_models("mlp_*", exclude="*_test")

    frame = zoo.models_frame("mlp_tiny_*")
    row = frame.set_index("name").loc[temporary_entry]
    assert row["tag_owner"] == "tests" and row["tag_stage"] == "alpha"
    assert row["params"] == 28 * 28 * 4 + 4 + 4 * 10 + 10
    assert pandas.isna(row["reference_accuracy"])  # none: NaN, as pandas marks a missing number

    model = zoo.build(temporary_entry, units=(6,))
    assert model.name == temporary_entry and model.count_params() == 28 * 28 * 6 + 6 + 6 * 10 + 10

    zoo.unregister_model(temporary_entry)
    assert temporary_entry not in zoo.list_models()
    with pytest.raises(zoo.UnknownNameError, match="unknown model 'mlp_tiny_test'"):
        zoo.get_spec(temporary_entry)
    with pytest.raises(zoo.UnknownNameError):
        zoo.unregister_model(temporary_entry)


def test_register_keeps_the_specs_own_tags_and_adds_the_decorators():
    def mlp_tagged_test() -> zoo.ModelSpec:
        return _tiny_spec(tags={"a": 1})

    zoo.register_model(b=2)(mlp_tagged_test)
    try:
        assert dict(zoo.get_spec("mlp_tagged_test").tags) == {"a": 1, "b": 2}
        row = zoo.models_frame("mlp_tagged_test", params=False).set_index("name").iloc[0]
        assert (row["tag_a"], row["tag_b"]) == (1, 2)
    finally:
        zoo.unregister_model("mlp_tagged_test")


def test_an_entry_with_other_classes_than_its_catalog_dataset_gets_no_catalog_names():
    # Three of MNIST's digits: the catalog's ten names do not fit three classes, so the entry
    # gets none (its data names them) rather than being refused for a list it never gave.
    def mlp_three_digits_test() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=3,
                             input=zoo.ImageInput((28, 28, 1)), builder=build_mlp)

    zoo.register_model(mlp_three_digits_test)
    try:
        spec = zoo.get_spec("mlp_three_digits_test")
        assert spec.num_classes == 3 and spec.class_names == ()
        assert zoo.build("mlp_three_digits_test", compile=False).output_shape == (None, 3)
    finally:
        zoo.unregister_model("mlp_three_digits_test")


def test_register_under_an_explicit_name():
    def whatever() -> zoo.ModelSpec:
        return _tiny_spec()

    returned = zoo.register_model(name="mlp_named_test")(whatever)
    try:
        assert returned is whatever  # the decorator hands the function back
        assert zoo.get_spec("mlp_named_test").name == "mlp_named_test"
        assert "whatever" not in zoo.list_models()
    finally:
        zoo.unregister_model("mlp_named_test")


@pytest.mark.parametrize("name", ["", "my model", "cnn_*", "2fast"])
def test_register_refuses_names_a_command_line_cannot_select(name):
    with pytest.raises(zoo.InvalidValueError, match="is not usable: expected letters"):
        zoo.register_model(name=name)(_tiny_spec)
    assert name not in zoo.list_models() and "_tiny_spec" not in zoo.list_models()


def test_register_refuses_a_function_that_returns_no_spec():
    def broken_entry():
        return {"family": "mlp"}

    with pytest.raises(zoo.InvalidValueError, match="must return a zoo.ModelSpec, got dict"):
        zoo.register_model(broken_entry)
    assert "broken_entry" not in zoo.list_models()


def test_register_refuses_a_function_that_needs_arguments():
    def mlp_sized(width, depth=1):  # register_model calls it with none
        return _tiny_spec(hyperparameters={"units": (width,) * depth})

    with pytest.raises(zoo.InvalidValueError,
                       match=r"mlp_sized takes arguments \(width\), but register_model calls it "
                             r"with none: decorate a"):
        zoo.register_model(mlp_sized)
    assert "mlp_sized" not in zoo.list_models()
    # Arguments with defaults, *args and **kwargs are fine: the call needs none of them.
    zoo.register_model(name="mlp_sized")(lambda width=4, *more, **options: _tiny_spec())
    zoo.unregister_model("mlp_sized")


def test_register_calls_a_function_without_a_signature_to_see_what_it_returns():
    # A builtin or C callable has no signature to check: it is called, and its spec kept.
    spec_function = functools.partial(next, itertools.repeat(_tiny_spec()))
    with pytest.raises(ValueError):
        inspect.signature(spec_function)
    zoo.register_model(name="mlp_from_c")(spec_function)
    try:
        assert zoo.get_spec("mlp_from_c").hyperparameters["units"] == (4,)
    finally:
        zoo.unregister_model("mlp_from_c")


def test_register_checks_class_names_against_classes():
    def mlp_bad_names() -> zoo.ModelSpec:
        return _tiny_spec(class_names=("a", "b"))

    with pytest.raises(
        zoo.InvalidValueError, match="class_names lists 2 names but num_classes is 10"
    ):
        zoo.register_model(mlp_bad_names)
    assert "mlp_bad_names" not in zoo.list_models()


# ---- entry points -------------------------------------------------------------------------------


class FakeEntryPoint:
    def __init__(self, name, load):
        self.name, self.value, self._load = name, f"fake_plugin:{name}", load

    def load(self):
        return self._load()


@pytest.fixture
def plugin_registry(monkeypatch):
    """Make the registry load again, from fake entry points; restore it afterwards."""
    zoo.list_models()  # the built-ins are loaded, so `_loaded` is restored to True below
    assert zoo.registry._loaded is True
    before = set(zoo.registry._REGISTRY)
    installed = []
    groups = []

    def fake_entry_points(*, group):
        groups.append(group)
        return list(installed) if group == "zoo.models" else []

    monkeypatch.setattr(zoo.registry, "entry_points", fake_entry_points)
    monkeypatch.setattr(zoo.registry, "_loaded", False)
    yield installed, groups
    for name in set(zoo.registry._REGISTRY) - before:
        zoo.unregister_model(name)


def test_entry_point_group_is_honoured(plugin_registry):
    installed, groups = plugin_registry

    def mlp_plugin() -> zoo.ModelSpec:
        return _tiny_spec()

    def load_module():  # an entry point naming a module: importing it registers the entry
        zoo.register_model(source="plugin")(mlp_plugin)
        return types.ModuleType("fake_plugin")

    def register_more():
        zoo.register_model(name="mlp_plugin_called")(mlp_plugin)

    installed.append(FakeEntryPoint("plugin_module", load_module))
    installed.append(FakeEntryPoint("plugin_callable", lambda: register_more))  # a callable

    names = zoo.list_models()

    assert groups == ["zoo.models"]
    assert {"mlp_plugin", "mlp_plugin_called"} <= set(names)
    assert REQUIRED_ENTRIES <= set(names)
    assert zoo.get_spec("mlp_plugin").tags["source"] == "plugin"
    assert zoo.build("mlp_plugin", compile=False).output_shape == (None, 10)
    zoo.list_models()  # loads only once
    assert groups == ["zoo.models"]


def test_broken_plugin_warns_and_the_zoo_still_works(plugin_registry):
    installed, _ = plugin_registry

    def explode():
        raise ImportError("No module named 'missing_dependency'")

    installed.append(FakeEntryPoint("broken", explode))
    with pytest.warns(
        UserWarning, match=r"could not load zoo plug-in 'broken' .*missing_dependency"
    ):
        names = zoo.list_models()
    assert REQUIRED_ENTRIES <= set(names)


def test_an_installed_plugin_importing_from_zoo_models_loads_whatever_is_imported_first(tmp_path):
    """A real entry point (a dist-info on the path), in fresh processes: a plug-in that imports
    `from zoo.models import ...` registers its entry even when a zoo.models submodule is
    imported first, which imports the package and registers the built-ins on the way."""
    package = tmp_path / "acme_plug"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        import zoo
        from zoo.models import build_mlp, classifier_head

        @zoo.register_model(owner="acme")
        def mlp_acme_plug() -> zoo.ModelSpec:
            return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
                                 input=zoo.ImageInput((28, 28, 1)), builder=build_mlp)
    """))
    info = tmp_path / "acme_plug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme_plug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[zoo.models]\nacme = acme_plug\n")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for first in ("zoo", "zoo.models.mlp", "zoo.training.loop"):
        # Every warning is an error, but other packages' deprecations (matplotlib before 3.10.7
        # warned about pyparsing's as Keras imported it).
        code = f"import {first}, zoo, warnings; warnings.simplefilter('error'); " \
               f"warnings.filterwarnings('ignore', category=DeprecationWarning, " \
               f"module=r'(?!zoo\\b)'); print(zoo.list_models('*acme*'))"
        done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "['mlp_acme_plug']", (first, done.stderr)
    # `zoo list` starts no TensorFlow for zoo's own entries, but this plug-in imports Keras as it
    # registers (classifier_head): with a plug-in installed the command starts TensorFlow first,
    # quietly, so its start-up lines stay out of the listing (no TF_CPP_MIN_LOG_LEVEL here).
    del environment["TF_CPP_MIN_LOG_LEVEL"]
    listed = subprocess.run([sys.executable, "-m", "zoo", "list", "*acme*"], env=environment,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "mlp_acme_plug" in listed.stdout
    if not os.path.exists(NVIDIA_DRIVER_NODE):  # where a driver is loaded CUDA's lines are shown
        assert listed.stderr == ""


def test_a_failed_import_of_the_built_ins_is_not_remembered(monkeypatch):
    import importlib

    zoo.list_models()
    monkeypatch.setattr(zoo.registry, "_loaded", False)

    def broken_import(name):
        raise ImportError(f"cannot import {name}")

    monkeypatch.setattr(
        zoo.registry, "importlib", types.SimpleNamespace(import_module=broken_import)
    )
    with pytest.raises(ImportError, match="cannot import zoo.models"):
        zoo.list_models()
    assert zoo.registry._loaded is False  # the next call tries again instead of listing nothing

    monkeypatch.setattr(zoo.registry, "importlib", importlib)
    assert REQUIRED_ENTRIES <= set(zoo.list_models())
    assert zoo.registry._loaded is True


@pytest.mark.parametrize("name", zoo.list_models())
def test_a_model_rebuilt_from_its_config_keeps_its_entry_spec(name):
    built = zoo.build(name, compile=False)
    rebuilt = keras.Model.from_config(built.get_config())  # no spec attached any more
    assert zoo.registry.spec_for_model(rebuilt) == zoo.registry.spec_for_model(built)


def test_a_rebuilt_model_with_other_hyperparameters_is_refused_not_mislabelled():
    built = zoo.build("cnn_mnist", filters=(8, 16), dropout=0.1, compile=False)
    for copy in (keras.models.clone_model(built), keras.Model.from_config(built.get_config())):
        with pytest.raises(zoo.InvalidValueError,
                           match=r"not the network that entry builds: layer 2 \(Conv2D: "
                                 r"filters=8 where the entry has 32\)"):
            zoo.train(copy, epochs=1)
        with pytest.raises(zoo.InvalidValueError, match="not the network that entry builds"):
            zoo.export(copy, "unused")
        # evaluation and prediction need only its input and classes, which the entry has right
        assert zoo.registry.spec_for_model(copy).name == "cnn_mnist"
    # a new head (fine-tuning) and frozen layers are what the spec describes
    head = zoo.build("cnn_mnist", num_classes=3, freeze_backbone=False, compile=False)
    for layer in head.layers[:-1]:
        layer.trainable = False
    rebuilt = keras.Model.from_config(head.get_config())
    assert zoo.registry.spec_for_model(rebuilt).num_classes == 3
    # The entry's own network, rebuilt, is what it builds: kept for training and exports.
    rebuilt = keras.Model.from_config(zoo.build("cnn_mnist", compile=False).get_config())
    assert zoo.registry.spec_for_model(rebuilt, exact=True) == zoo.get_spec("cnn_mnist")


def test_a_name_clash_with_a_built_in_is_refused_before_the_registry_loads(tmp_path):
    import subprocess
    import sys
    import textwrap

    # A fresh process whose first zoo call registers an entry named like a built-in.
    script = textwrap.dedent("""
        import keras, zoo

        def tiny(*, input_shape, num_classes, name="tiny"):
            inputs = keras.Input(input_shape)
            outputs = keras.layers.Dense(num_classes, activation="softmax")(
                keras.layers.Flatten()(inputs))
            return keras.Model(inputs, outputs, name=name)

        try:
            @zoo.register_model
            def mlp_mnist():
                return zoo.ModelSpec(family="tiny", dataset="mnist", num_classes=10,
                                     input=zoo.ImageInput((28, 28, 1)), builder=tiny)
        except zoo.InvalidValueError as error:
            print("refused:", error)
        print(len(zoo.list_models()), zoo.build("mlp_mnist").name)
    """)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "refused: model 'mlp_mnist' is already registered (by zoo.models.mlp)" in ran.stdout
    assert ran.stdout.strip().endswith(f"{len(zoo.list_models())} mlp_mnist")
