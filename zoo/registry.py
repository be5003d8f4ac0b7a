"""The model registry: one dict from entry name to `ModelSpec`.

Built-in entries live beside their family builder in `zoo/models/`; third-party packages add
theirs through the `zoo.models` entry-point group (each entry point names a module, or a
callable, whose import registers models with `@zoo.register_model`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import importlib
import inspect
import logging
import os
import re
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, overload

from zoo import checks
from zoo.errors import InvalidValueError, ZooError, unknown_name, warn
from zoo.io import expand_user
from zoo.spec import ModelSpec

if TYPE_CHECKING:
    import keras
    import pandas

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "zoo.models"

_REGISTRY: dict[str, ModelSpec] = {}
_ENTRY_FUNCTIONS: dict[str, Callable[[], ModelSpec]] = {}
_loaded = False

SpecFunction = Callable[[], ModelSpec]


def _redefines(registered: SpecFunction, function: SpecFunction) -> bool:
    """Whether `function` is `registered` defined again: a named function of the same module
    and qualified name, as when a notebook cell that registers an entry runs a second time.
    Lambdas and functions made inside functions share names while being different functions."""
    if not (inspect.isfunction(registered) and inspect.isfunction(function)):
        return False
    qualname = function.__qualname__
    return ("<lambda>" not in qualname and "<locals>" not in qualname
            and (registered.__module__, registered.__qualname__) == (function.__module__, qualname))


@overload
def register_model(function: SpecFunction, /) -> SpecFunction: ...
@overload
def register_model(
    *, name: str | None = None, **tags: Any
) -> Callable[[SpecFunction], SpecFunction]: ...
def register_model(
    function: SpecFunction | None = None, /, *, name: str | None = None, **tags: Any
) -> SpecFunction | Callable[[SpecFunction], SpecFunction]:
    """Register a model entry: a function without arguments that returns its `ModelSpec`.

    The entry's name is the function's name unless `name` is given, and its description the
    function's docstring unless the spec has one; `tags` are free-form labels shown by
    `models_frame` as `tag_<key>` columns (filter them there: `frame[frame.tag_owner == "acme"]`)
    and by `zoo info`. Registering a name twice raises, unless it is the same function defined
    again (a notebook cell run again, a module reloaded): the new definition replaces the old.

    Example:
        >>> import zoo
        >>> from zoo.models.mlp import build_mlp
        >>> @zoo.register_model(owner="docs")
        ... def mlp_tiny_digits() -> zoo.ModelSpec:
        ...     return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
        ...                          input=zoo.ImageInput((28, 28, 1)), builder=build_mlp,
        ...                          hyperparameters={"units": (16,)})
        >>> zoo.build("mlp_tiny_digits").count_params()
        12730
        >>> zoo.unregister_model("mlp_tiny_digits")
    """

    def decorator(spec_function: SpecFunction) -> SpecFunction:
        entry_name = spec_function.__name__ if name is None else name
        if not isinstance(entry_name, str) or not _ENTRY_NAME.fullmatch(entry_name):
            # Names are typed on command lines and matched by glob patterns (`zoo list '*_x'`).
            raise InvalidValueError(
                f"model name {entry_name!r} is not usable: expected letters, digits, '_', '-' "
                f"and '.', starting with a letter (e.g. 'cnn_parts'); pass name=... ."
            )
        # The built-in entries first: a clash with one is refused here, not found later by
        # every list_models() and build() of the process.
        _ensure_loaded()
        if entry_name in _REGISTRY and not _redefines(_ENTRY_FUNCTIONS[entry_name], spec_function):
            raise InvalidValueError(
                f"model {entry_name!r} is already registered (by "
                f"{_defined_in(_ENTRY_FUNCTIONS[entry_name])}); pick another name or call "
                f"zoo.unregister_model({entry_name!r}) first."
            )
        _check_takes_no_arguments(spec_function)
        spec = spec_function()
        if not isinstance(spec, ModelSpec):
            raise InvalidValueError(
                f"{spec_function.__qualname__} must return a zoo.ModelSpec, "
                f"got {type(spec).__name__}."
            )
        spec = dataclasses.replace(
            spec,
            name=entry_name,
            class_names=spec.class_names or _catalog_class_names(spec),
            tags={**spec.tags, **tags},
            # The spec function's docstring says what the entry is: `zoo info` shows it.
            description=spec.description or inspect.cleandoc(spec_function.__doc__ or ""),
        )
        _REGISTRY[entry_name] = spec
        _ENTRY_FUNCTIONS[entry_name] = spec_function
        _parameter_count.cache_clear()
        return spec_function

    if function is not None and not callable(function):
        # `@register_model("name")` or `register_model(spec)`: the common slips.
        raise InvalidValueError(
            f"register_model decorates a function without arguments that returns a "
            f"zoo.ModelSpec, got {type(function).__name__} {function!r:.60}; give a name as a "
            f"keyword: @zoo.register_model(name='my_entry'), or wrap a spec in a function."
        )
    return decorator(function) if function is not None else decorator


_ENTRY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


def _defined_in(function: Callable[..., Any]) -> str:
    """The module a registered spec function comes from (a partial's, its function's)."""
    return str(getattr(getattr(function, "func", function), "__module__", None) or "?")


def _check_takes_no_arguments(spec_function: SpecFunction) -> None:
    """Refuse a spec function that needs arguments: register_model calls it with none."""
    try:
        parameters = inspect.signature(spec_function).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature: try it
        return
    required = [parameter.name for parameter in parameters
                if parameter.default is parameter.empty
                and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)]
    if required:
        raise InvalidValueError(
            f"{getattr(spec_function, '__qualname__', spec_function)} takes arguments "
            f"({', '.join(required)}), but register_model calls it with none: decorate a "
            f"function without arguments that returns the entry's zoo.ModelSpec."
        )


def unregister_model(name: str) -> None:
    """Remove an entry (mainly for tests and notebooks that register temporary models).

    Example:
        >>> import zoo
        >>> from zoo.models.mlp import build_mlp
        >>> @zoo.register_model
        ... def mlp_scratch() -> zoo.ModelSpec:
        ...     return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
        ...                          input=zoo.ImageInput((28, 28, 1)), builder=build_mlp)
        >>> zoo.unregister_model("mlp_scratch")
        >>> "mlp_scratch" in zoo.list_models()
        False
    """
    get_spec(name)  # raises a helpful error for unknown names
    del _REGISTRY[name]
    del _ENTRY_FUNCTIONS[name]
    _parameter_count.cache_clear()


def entry_packages() -> frozenset[str]:
    """Top-level packages whose code makes an entry: each entry's spec function and builder.

    `zoo.load` trusts the Keras classes these packages register, so that a third-party entry
    with its own layers loads from its `.keras` files (`zoo.serving.safety`).

    Example:
        >>> from zoo.registry import entry_packages
        >>> "zoo" in entry_packages()
        True
    """
    _ensure_loaded()
    functions = [*_ENTRY_FUNCTIONS.values()]
    # A builder may be a functools.partial, whose code is the function it wraps.
    functions += [getattr(spec.builder, "func", spec.builder) for spec in _REGISTRY.values()]
    modules = {getattr(function, "__module__", None) for function in functions}
    return frozenset(module.split(".")[0] for module in modules if module)


def _catalog_class_names(spec: ModelSpec) -> tuple[str, ...]:
    from zoo.data.catalog import DATASETS

    info = DATASETS.get(spec.dataset)
    return info.class_names if info and info.num_classes == spec.num_classes else ()


def _ensure_loaded() -> None:
    """Import the built-in entries and third-party entry points, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # first, so that an entry calling get_spec while zoo.models imports is fine
    try:
        models = importlib.import_module("zoo.models")
    except BaseException:
        _loaded = False  # let the next call raise the same error, not list an empty registry
        raise
    if not hasattr(models, "ENTRIES"):
        # Called by a built-in entry registering itself while zoo.models is still importing
        # (`import zoo.models.cnn` first imports the package): plug-ins, which import from
        # zoo.models, would find it half-made. They load on the next call, once it is whole.
        _loaded = False
        return
    for entry_point in plugin_entry_points():
        try:
            loaded = entry_point.load()
            if callable(loaded) and not isinstance(loaded, type):
                loaded()
        except Exception as error:  # a broken plug-in must not break the zoo
            warn(
                f"could not load zoo plug-in {entry_point.name!r} ({entry_point.value}): {error}",
            )


def plugin_entry_points() -> list[Any]:
    """The installed plug-ins' entry points (group `zoo.models`), each registering entries when
    loaded.

    Example:
        >>> from zoo.registry import plugin_entry_points
        >>> isinstance(plugin_entry_points(), list)
        True
    """
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _as_patterns(patterns: str | Iterable[str] | None, argument: str) -> list[str]:
    if patterns is None:
        return []
    if isinstance(patterns, str):
        return [patterns]
    if isinstance(patterns, Iterable) and not isinstance(patterns, bytes):
        patterns = list(patterns)
        if all(isinstance(pattern, str) for pattern in patterns):
            return patterns
    raise InvalidValueError(
        f"{argument} must be a glob pattern such as '*_mnist', or a list of them, got "
        f"{patterns!r}."
    )


def list_models(
    include: str | Iterable[str] | None = "*",
    exclude: str | Iterable[str] | None = None,
    *,
    family: str | None = None,
    task: str | None = None,
    dataset: str | None = None,
) -> list[str]:
    """Names of registered entries, sorted, filtered by glob patterns and fields.

    No `include` (None or "") lists every entry. `family` is a spec's family ("mlp", "cnn",
    "lstm", "transformer" for the built-in entries), `task` "image_classification" or
    "text_classification", `dataset` a spec's dataset ("mnist", "glue/sst2", ...).
    Filters that match nothing give [], as timm's and torchvision's `list_models` do;
    `check_filters` says which value no entry has (`zoo list` calls it).

    Example:
        >>> import zoo
        >>> zoo.list_models("*_mnist", exclude="*fashion*")
        ['cnn_mnist', 'mlp_mnist']
        >>> zoo.list_models(family="transformer", dataset="glue/sst2")
        ['transformer_sst2']
    """
    _ensure_loaded()
    # No include pattern (None, "") is every entry, as timm's empty filter is.
    includes = [pattern or "*" for pattern in _as_patterns(include, "include")] or ["*"]
    excludes = _as_patterns(exclude, "exclude")
    names = []
    for name, spec in _REGISTRY.items():
        if not any(fnmatch.fnmatchcase(name, p) for p in includes):
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in excludes):
            continue
        if family is not None and spec.family != family:
            continue
        if task is not None and spec.task != task:
            continue
        if dataset is not None and spec.dataset != dataset:
            continue
        names.append(name)
    return sorted(names)


def check_filters(
    family: str | None = None, task: str | None = None, dataset: str | None = None
) -> None:
    """Raise `UnknownNameError`, with close matches, for a filter value no entry has.

    Example:
        >>> from zoo.registry import check_filters
        >>> check_filters(family="CNN")
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownNameError: unknown family 'CNN'. Did you mean: 'cnn'? ...
    """
    _ensure_loaded()
    for field_name, value in (("family", family), ("task", task), ("dataset", dataset)):
        known = {getattr(spec, field_name) for spec in _REGISTRY.values()}
        if value is not None and value not in known:
            raise unknown_name(field_name, value, known,
                               hint="`zoo list` shows each entry's.")


def get_spec(name: str) -> ModelSpec:
    """The `ModelSpec` of a registered entry; unknown names raise with the closest matches.

    Example:
        >>> import zoo
        >>> zoo.get_spec("lstm_sst2").input.sequence_length
        64
    """
    _ensure_loaded()
    if not isinstance(name, str):
        raise InvalidValueError(f"a model name must be a string, got {type(name).__name__}.")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise unknown_name(
            "model", name, _REGISTRY, hint="See zoo.list_models() or `zoo list`."
        ) from None


def as_spec(spec: ModelSpec | str | None, argument: str = "spec") -> ModelSpec | None:
    """What a `spec=` argument names: a `ModelSpec` as it is, an entry name as its spec, None as
    None; anything else is refused in one message.

    Example:
        >>> from zoo.registry import as_spec
        >>> as_spec("cnn_mnist").num_classes, as_spec(None)
        (10, None)
    """
    if spec is None or isinstance(spec, ModelSpec):
        return spec
    if isinstance(spec, str):
        return get_spec(spec)
    raise InvalidValueError(
        f"{argument} must be a zoo.ModelSpec or an entry name such as 'cnn_mnist', got "
        f"{type(spec).__name__} {spec!r}."
    )


def build(
    name: str,
    *,
    compile: bool = True,
    weights: str | os.PathLike | None = None,
    freeze_backbone: bool = False,
    **overrides: Any,
) -> keras.Model:
    """Build a registered model with its defaults, overridden by keyword.

    Overrides are builder arguments (`dropout=0.3`, `num_classes=5`) or recipe fields
    (`learning_rate=3e-4`). Unless `compile=False`, the model is compiled with the recipe's
    optimizer, loss and accuracy metric, ready for `model.fit`. The run's length is not known
    yet, so the learning rate is the recipe's peak, constant, and there is no weight average
    (`zoo.train` lays both out for the run it trains).

    `weights` starts the model from a trained `.keras` file, `.weights.h5` file, training
    workdir or `zoo.export` directory; layers that differ in shape (the classifier head, when
    `num_classes` changes) keep their fresh initialization, and a warning names them (a head of
    another class count only when `num_classes` is not given). `freeze_backbone=True` then
    trains the head only. Fresh layers are drawn from Keras' global random state, as every
    Keras model's are: call `keras.utils.set_random_seed(seed)` first for a repeatable head
    (`zoo.train(model, seed=...)` seeds only what happens after the model is built).

    Example:
        >>> import zoo
        >>> model = zoo.build("cnn_mnist")
        >>> model.count_params()
        34826
        >>> zoo.build("cnn_mnist", num_classes=3, compile=False).output_shape
        (None, 3)
    """
    weights = expand_user(weights)
    # `if compile:` took any text for True: compile="no" compiled.
    checks.one_of("compile", compile, (True, False))
    checks.one_of("freeze_backbone", freeze_backbone, (True, False))
    spec = get_spec(name)
    spec.check_arguments(overrides, build)  # a misspelt `weights` is no override either
    spec = spec.with_overrides(**overrides)
    model = spec.build_model()
    if weights is not None:
        from zoo.models.weights import load_pretrained

        load_pretrained(model, weights, freeze_backbone=freeze_backbone,
                        num_classes_given="num_classes" in overrides)
    elif freeze_backbone:
        raise InvalidValueError("freeze_backbone=True needs weights=PATH to start from.")
    if compile:
        from zoo.training.compile import compile_model

        compile_model(model, spec)
    return model


def spec_for_model(
    model: keras.Model, fallback: ModelSpec | None = None, *, exact: bool = False
) -> ModelSpec:
    """The spec of a zoo model: the one it was built from (`zoo.build`, `zoo.train`), else, for a
    model reloaded from a file, `fallback` (a training preprocessor's spec) or its entry's by the
    model's name, with the class count of the model's output.

    With `exact`, a model without its build record must be the network its spec builds (what
    training records and exports describe); reading data for it (evaluation, prediction) needs
    only the input and class count, which the spec has right either way.

    Raises:
        UnknownNameError: a model not named after an entry (pass its spec explicitly instead).
        InvalidValueError: with `exact`, a model whose layers differ from its spec's network.

    Example:
        >>> from zoo.registry import spec_for_model
        >>> import zoo
        >>> model = zoo.build("cnn_mnist", num_classes=3, compile=False)
        >>> spec_for_model(model).num_classes, spec_for_model(model.__class__.from_config(
        ...     model.get_config())).num_classes
        (3, 3)
    """
    from zoo.spec import spec_of

    spec = spec_of(model)
    if spec is not None:
        return spec
    spec = fallback or get_spec(model.name)
    classes = model.output_shape[-1]
    # A fine-tuned head (zoo.build(..., num_classes=N)) survives saving; the spec does not.
    if isinstance(classes, int) and classes != spec.num_classes:
        spec = spec.with_overrides(num_classes=classes)
    if exact:
        _check_built_from(model, spec)
    return spec


def _layer_configs(model: keras.Model) -> list[tuple[str, dict]]:
    """Each layer's class and configuration, without what does not change the computation
    (layer names count up per process; frozen layers and dtype policies are not in a spec)."""
    ignored = ("name", "trainable", "dtype")
    return [
        (type(layer).__name__, {k: v for k, v in layer.get_config().items() if k not in ignored})
        for layer in model.layers
    ]


def _check_built_from(model: keras.Model, spec: ModelSpec) -> None:
    """Raise unless `model` is the network `spec` builds: a model reloaded from a file, cloned or
    rebuilt from its config keeps its entry's name but not the overrides it was built with."""
    found, expected = _layer_configs(model), _layer_configs(spec.build_model())
    if found == expected:
        return
    differing = next(
        (f"layer {index + 1} ({found[index][0]}: {_changed(found[index][1], expected[index][1])})"
         for index in range(min(len(found), len(expected))) if found[index] != expected[index]),
        f"{len(found)} layers where the entry has {len(expected)}",
    )
    raise InvalidValueError(
        f"model {model.name!r} is named after entry {spec.name!r} but is not the network that "
        f"entry builds: {differing}. It was built with other hyperparameters, which a model "
        f"loaded, cloned or rebuilt from its config no longer records. Use the training workdir "
        f"or export (they record them), or build it again with zoo.build({spec.name!r}, ...) "
        f"and load its weights."
    )


def _changed(found: dict, expected: dict) -> str:
    keys = sorted(k for k in {*found, *expected} if found.get(k) != expected.get(k))
    return ", ".join(f"{k}={found.get(k)!r} where the entry has {expected.get(k)!r}"
                     for k in keys[:3])


@functools.cache
def _parameter_count(name: str) -> int | None:
    """The entry's parameter count, or None with a warning when it cannot be built (one
    third-party entry's broken builder must not take the whole listing down)."""
    # No keras.backend.clear_session() here: it would also reset the caller's global state (the
    # mixed-precision policy, the random seed). The model is freed once it goes out of scope.
    try:
        return _REGISTRY[name].build_model().count_params()
    except ZooError as error:
        warn(f"cannot count the parameters of {name!r}: {error}")
        return None


def models_frame(
    include: str | Iterable[str] = "*",
    exclude: str | Iterable[str] | None = None,
    *,
    family: str | None = None,
    task: str | None = None,
    dataset: str | None = None,
    params: bool = True,
) -> pandas.DataFrame:
    """One row per entry: name, family, task, dataset, input_shape, num_classes, params,
    reference_accuracy, reference_source, measured_accuracy, batch_size, epochs, and a tag_KEY
    column per tag entries carry.

    `params=False` skips building each model to count its parameters.

    Example:
        >>> import zoo
        >>> frame = zoo.models_frame("cnn_*")
        >>> frame.loc[frame.name == "cnn_mnist", "params"].item()
        34826
    """
    import pandas

    checks.one_of("params", params, (True, False))
    rows = []
    for name in list_models(include, exclude, family=family, task=task, dataset=dataset):
        spec = _REGISTRY[name]
        reference = spec.reference
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "task": spec.task,
                "dataset": spec.dataset,
                "input_shape": spec.input.shape,
                "num_classes": spec.num_classes,
                "params": _parameter_count(name) if params else None,
                "reference_accuracy": reference.accuracy if reference else None,
                "reference_source": reference.source if reference else None,
                "measured_accuracy": reference.measured if reference else None,
                "batch_size": spec.recipe.batch_size,
                "epochs": spec.recipe.epochs,
                **{f"tag_{key}": value for key, value in spec.tags.items()},
            }
        )
    columns = ["name", "family", "task", "dataset", "input_shape", "num_classes", "params",
               "reference_accuracy", "reference_source", "measured_accuracy", "batch_size",
               "epochs"]
    frame = pandas.DataFrame(rows, columns=None if rows else columns)
    # Numbers, a missing one NaN, whichever entries a filter leaves: where none had a measured
    # accuracy, the column held None (object) where the full listing held NaN.
    return frame.astype({"reference_accuracy": "float64", "measured_accuracy": "float64"})
