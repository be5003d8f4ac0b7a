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

__all__ = [
    "Augmentation",
    "DataError",
    "DatasetUnavailableError",
    "ImageInput",
    "InvalidValueError",
    "ModelSpec",
    "Recipe",
    "Reference",
    "TextInput",
    "UnknownNameError",
    "ZooError",
    "__version__",
    "build",
    "get_spec",
    "list_models",
    "models_frame",
    "register_model",
    "unregister_model",
]
