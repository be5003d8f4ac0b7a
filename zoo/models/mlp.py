"""Multi-layer perceptron: Flatten → Dense blocks → softmax head. Entries at the bottom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo import checks
from zoo.models.common import (
    IMAGE_LAYOUT,
    MNIST_8K_PROTOCOL,
    dropout_rate,
    layer_widths,
    recipe_space,
)
from zoo.registry import register_model
from zoo.spec import Augmentation, ImageInput, ModelSpec, Recipe, Reference

if TYPE_CHECKING:
    import keras


def build_mlp(
    *,
    input_shape: tuple[int, ...],
    num_classes: int,
    units: tuple[int, ...] = (128,),
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    batch_norm: bool = False,
    name: str = "mlp",
) -> keras.Model:
    """Build an MLP classifier for fixed-size inputs (images are flattened).

    Args:
        input_shape: shape of one example, e.g. (28, 28, 1).
        num_classes: units of the softmax head (`classifier`).
        units: width of each hidden Dense layer (`hidden_0`, `hidden_1`...).
        activation: a Keras activation name for the hidden layers.
        dropout: dropout rate after every hidden layer.
        l2: L2 penalty on the hidden layers' kernels.
        batch_norm: batch normalization in every hidden layer, before its activation.
        name: the Keras model's name.

    Example:
        >>> from zoo.models.mlp import build_mlp
        >>> model = build_mlp(input_shape=(28, 28, 1), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    # Imported here, not at the top: listing entries (`zoo list`, zoo.list_models) imports this
    # module and must not wait for Keras and TensorFlow to import.
    import keras
    from keras import layers

    from zoo.models.blocks import classifier_head, dense_block

    units = checks.positive_ints("units", units)
    dropout = checks.fraction("dropout", dropout)
    activation = checks.activation("activation", activation)
    batch_norm = checks.boolean("batch_norm", batch_norm)
    num_classes = checks.num_classes(num_classes)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Flatten(data_format=IMAGE_LAYOUT, name="flatten")(inputs)
    x = dense_block(
        x, units, activation=activation, dropout=dropout, l2=l2, batch_norm=batch_norm,
        prefix="hidden",
    )
    return keras.Model(inputs, classifier_head(x, num_classes), name=name)


def search_space_mlp(hp: Any, spec: ModelSpec) -> dict[str, Any]:
    """The MLP search space: 1-3 hidden layers and their widths, dropout, and the recipe's learning
    rate, optimizer and batch size. Defaults are `spec`'s own values.

    Example:
        >>> import keras_tuner, zoo
        >>> from zoo.models.mlp import search_space_mlp
        >>> search_space_mlp(keras_tuner.HyperParameters(), zoo.get_spec("mlp_mnist"))["units"]
        (128,)
    """
    hyperparameters = spec.hyperparameters
    return {
        "units": layer_widths(hp, "units", hyperparameters["units"], (32, 64, 128, 256, 512),
                              max_layers=3, count_name="num_layers"),
        "dropout": dropout_rate(hp, "dropout", hyperparameters["dropout"]),
        **recipe_space(hp, spec.recipe),
    }


# ---- entries ------------------------------------------------------------------------------------

_DIGIT_AUGMENTATION = Augmentation(rotation=0.03, zoom=0.1, translation=0.1)  # no flips for digits


@register_model
def mlp_mnist() -> ModelSpec:
    """The TensorFlow 2 quickstart model: Flatten → Dense128 → Dropout 0.2 → Dense10."""
    return ModelSpec(
        family="mlp",
        dataset="mnist",
        input=ImageInput(
            (28, 28, 1), mean=(0.1307,), std=(0.3081,), augmentation=_DIGIT_AUGMENTATION
        ),
        num_classes=10,
        builder=build_mlp,
        hyperparameters={"units": (128,), "dropout": 0.2},
        # Tuned on the 8,000 real digits (benchmarks/bench_accuracy.py): with so few examples the
        # small network needs many augmented epochs; a cosine decay from 2e-3 and batch 64 gave
        # +1 point of validation accuracy over the quickstart's constant 1e-3 at batch 128.
        recipe=Recipe(optimizer="adam", learning_rate=2e-3, schedule="cosine", batch_size=64,
                      epochs=60),
        search_space=search_space_mlp,
        reference=Reference(
            0.98,
            "TensorFlow 2 quickstart for beginners (tensorflow.org/tutorials/quickstart/beginner)",
            "about 98% after 5 epochs on the full 60,000-image training set",
            measured=0.9709,
            measured_on=MNIST_8K_PROTOCOL,
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
        search_space=search_space_mlp,
        reference=Reference(
            0.88,
            "TensorFlow tutorial 'Basic classification: Classify images of clothing' "
            "(tensorflow.org/tutorials/keras/classification)",
            "about 88% test accuracy after 10 epochs on the full training set",
        ),
    )
