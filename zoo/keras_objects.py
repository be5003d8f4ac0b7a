"""Importing this module registers every Keras object zoo writes into `.keras` files: its layers
(`zoo>HashedBigrams`, `zoo>ImageNormalization`, ...), its smoothed loss and its warm-up schedule,
so that `keras.models.load_model` reads zoo's files. `import zoo` does it when Keras is already
imported (`import keras` comes first in sorted imports); otherwise `import zoo.keras_objects`.

Example:
    >>> import keras, zoo.keras_objects
    >>> "zoo>HashedBigrams" in keras.saving.get_custom_objects()
    True

Without TensorFlow (Keras on JAX), the models' own objects are registered and the text
standardization functions are not: only the tf.data text preprocessing uses them.
"""

import importlib.util

import zoo.data.images  # noqa: F401
import zoo.models.layers  # noqa: F401
import zoo.training.compile  # noqa: F401
import zoo.training.losses  # noqa: F401

if importlib.util.find_spec("tensorflow") is not None:
    import zoo.data.text  # noqa: F401
