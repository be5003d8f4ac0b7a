"""Pieces every family shares: the classifier head and L2 regularizers."""

from __future__ import annotations

import keras
from keras import layers

from zoo import checks


def classifier_head(features: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    """Softmax classifier over `features`, kept in float32.

    The head computes in float32 even under a mixed-precision policy, so probabilities and the
    loss never lose precision to float16.
    """
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="classifier")(
        features
    )


def l2_regularizer(l2: float) -> keras.regularizers.Regularizer | None:
    """An L2 kernel regularizer, or None when `l2` is 0."""
    return keras.regularizers.L2(checks.non_negative("l2", l2)) if l2 else None


def dense_block(
    x: keras.KerasTensor,
    units: tuple[int, ...],
    *,
    activation: str,
    dropout: float,
    l2: float = 0.0,
    batch_norm: bool = False,
    prefix: str = "dense",
) -> keras.KerasTensor:
    """Dense → (batch norm) → activation → (dropout), once per width in `units`."""
    for index, width in enumerate(units):
        x = layers.Dense(
            width,
            use_bias=not batch_norm,  # batch norm's beta replaces the bias
            kernel_regularizer=l2_regularizer(l2),
            name=f"{prefix}_{index}",
        )(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"{prefix}_{index}_norm")(x)
        x = layers.Activation(activation, name=f"{prefix}_{index}_{activation}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{prefix}_{index}_dropout")(x)
    return x
