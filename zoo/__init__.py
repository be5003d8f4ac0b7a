"""zoo: a Keras/TensorFlow model zoo with data pipelines, training recipes, tuning and export.

Example:
    >>> import zoo
    >>> "cnn_mnist" in zoo.list_models("*_mnist")
    True
    >>> zoo.build("cnn_mnist").output_shape
    (None, 10)
"""

__version__ = "0.1.0"

from typing import Any as _Any  # private: zoo's namespace is its public API

from zoo.errors import (
    DataError,
    DatasetUnavailableError,
    InvalidValueError,
    MissingDependencyError,
    UnknownNameError,
    ZooError,
)
from zoo.registry import (
    build,
    get_spec,
    list_models,
    models_frame,
    register_model,
    unregister_model,
)
from zoo.spec import Augmentation, ImageInput, ModelSpec, Recipe, Reference, TextInput

# Training, evaluation and data import TensorFlow; they load on first use so that `import zoo`,
# `zoo --help` and listing entries stay fast (the builders import Keras when they build). No
# module may share a name with a function here: importing `zoo.evaluate` (a module) would
# replace the function `zoo.evaluate` on the package.
_LAZY = {
    "train": ("zoo.training.loop", "train"),
    "TrainResult": ("zoo.training.loop", "TrainResult"),
    "TrainingDivergedError": ("zoo.training.loop", "TrainingDivergedError"),
    "WorkdirConflictError": ("zoo.training.workdir", "WorkdirConflictError"),
    "evaluate": ("zoo.evaluation", "evaluate"),
    "EvalReport": ("zoo.evaluation", "EvalReport"),
    "data": ("zoo.data", None),
    "tune": ("zoo.tuning", "tune"),
    "hypermodel": ("zoo.tuning", "hypermodel"),
    "TuneResult": ("zoo.tuning", "TuneResult"),
    "SearchConflictError": ("zoo.tuning", "SearchConflictError"),
    "TuningError": ("zoo.tuning", "TuningError"),
    "export": ("zoo.serving", "export"),
    "load": ("zoo.serving", "load"),
    "Predictor": ("zoo.serving", "Predictor"),
    "ExportError": ("zoo.serving", "ExportError"),
    "UnsafeModelError": ("zoo.serving", "UnsafeModelError"),
}


def __getattr__(name: str) -> _Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The lazy names too, so that a notebook's tab completion offers zoo.train.
    return sorted(set(globals()) | set(_LAZY))


if "keras" in __import__("sys").modules:
    # Keras is loaded already, so registering zoo's layers costs nothing, and
    # keras.models.load_model then reads zoo's .keras files (see zoo/keras_objects.py). Without
    # Keras, `import zoo` stays fast for the command line.
    import zoo.keras_objects  # noqa: E402, F401

__all__ = [
    "Augmentation",
    "DataError",
    "DatasetUnavailableError",
    "EvalReport",
    "ExportError",
    "ImageInput",
    "InvalidValueError",
    "MissingDependencyError",
    "ModelSpec",
    "Predictor",
    "Recipe",
    "Reference",
    "SearchConflictError",
    "TextInput",
    "TrainResult",
    "TrainingDivergedError",
    "TuneResult",
    "TuningError",
    "UnknownNameError",
    "UnsafeModelError",
    "WorkdirConflictError",
    "ZooError",
    "__version__",
    "build",
    "data",
    "evaluate",
    "export",
    "get_spec",
    "hypermodel",
    "list_models",
    "load",
    "models_frame",
    "register_model",
    "train",
    "tune",
    "unregister_model",
]
