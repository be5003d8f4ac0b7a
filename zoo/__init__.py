"""zoo: a Keras/TensorFlow model zoo with data pipelines, training recipes, tuning and export.

Example:
    >>> import zoo
    >>> "cnn_mnist" in zoo.list_models("*_mnist")
    True
    >>> zoo.build("cnn_mnist").output_shape
    (None, 10)
"""

__version__ = "0.1.0"

from zoo.errors import (
    DataError,
    DatasetUnavailableError,
    InvalidValueError,
    MissingDependencyError,
    UnknownNameError,
    ZooError,
)
from zoo.lazy import lazy_exports as _lazy_exports  # private: zoo's namespace is its public API
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
    "train": "zoo.training.loop",
    "TrainResult": "zoo.training.loop",
    "TrainingDivergedError": "zoo.training.loop",
    "WorkdirConflictError": "zoo.training.workdir",
    "evaluate": "zoo.evaluation",
    "EvalReport": "zoo.evaluation",
    "data": "zoo.data",
    "tune": "zoo.tuning",
    "hypermodel": "zoo.tuning",
    "TuneResult": "zoo.tuning",
    "SearchConflictError": "zoo.tuning",
    "TuningError": "zoo.tuning",
    "export": "zoo.serving",
    "load": "zoo.serving",
    "Predictor": "zoo.serving",
    "ExportError": "zoo.serving",
    "UnsafeModelError": "zoo.serving",
}
# (`__dir__` lists the lazy names too, so that a notebook's tab completion offers zoo.train.)
__getattr__, __dir__ = _lazy_exports(__name__, _LAZY)


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
