"""Multi-layer perceptron: Flatten → Dense blocks → softmax head. Entries at the bottom."""

from __future__ import annotations

import keras
from keras import layers

from zoo import checks
from zoo.models.common import classifier_head, dense_block
from zoo.registry import register_model
from zoo.spec import Augmentation, ImageInput, ModelSpec, Recipe, Reference


def build_mlp(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    units: tuple[int, ...] = (128,),  # width of each hidden Dense layer
    activation: str = "relu",
    dropout: float = 0.0,  # after every hidden layer
    l2: float = 0.0,  # kernel L2 penalty of the hidden layers
    batch_norm: bool = False,
    name: str = "mlp",
) -> keras.Model:
    """Build an MLP classifier for fixed-size inputs (images are flattened).

    Example:
        >>> model = build_mlp(input_shape=(28, 28, 1), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    units = checks.positive_ints("units", units)
    dropout = checks.fraction("dropout", dropout)
    num_classes = checks.num_classes(num_classes)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = dense_block(
        x, units, activation=activation, dropout=dropout, l2=l2, batch_norm=batch_norm, prefix="hidden"
    )
    return keras.Model(inputs, classifier_head(x, num_classes), name=name)


# ---- entries ------------------------------------------------------------------------------------

_DIGIT_AUGMENTATION = Augmentation(rotation=0.03, zoom=0.1, translation=0.1)  # no flips for digits


@register_model
def mlp_mnist() -> ModelSpec:
    """The TensorFlow 2 quickstart model: Flatten → Dense128 → Dropout 0.2 → Dense10."""
    return ModelSpec(
        family="mlp",
        dataset="mnist",
        input=ImageInput((28, 28, 1), mean=(0.1307,), std=(0.3081,), augmentation=_DIGIT_AUGMENTATION),
        num_classes=10,
        builder=build_mlp,
        hyperparameters={"units": (128,), "dropout": 0.2},
        recipe=Recipe(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=20),
        reference=Reference(
            0.98,
            "TensorFlow 2 quickstart for beginners (tensorflow.org/tutorials/quickstart/beginner)",
            "about 98% after 5 epochs on the full 60,000-image training set",
        ),
    )


@register_model
def mlp_fashion_mnist() -> ModelSpec:
    """The TensorFlow clothing-classification tutorial model: Flatten → Dense128 → Dense10."""
    return ModelSpec(
        family="mlp",
        dataset="fashion_mnist",
        input=ImageInput((28, 28, 1), mean=(0.2860,), std=(0.3530,)),
        num_classes=10,
        builder=build_mlp,
        hyperparameters={"units": (128,), "dropout": 0.0},
        recipe=Recipe(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=20),
        reference=Reference(
            0.88,
            "TensorFlow tutorial 'Basic classification: Classify images of clothing' "
            "(tensorflow.org/tutorials/keras/classification)",
            "about 88% test accuracy after 10 epochs on the full training set",
        ),
    )
