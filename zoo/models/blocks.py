"""Keras building blocks every family's builder shares: the classifier head, word dropout, the
bag of bigrams, dense blocks and L2 regularizers.

The builders import this module when they build (and `zoo.models` when its `classifier_head` is
first used), never at the top: listing entries (`zoo list`, `zoo.list_models`) reads the family
modules alone and does not wait for Keras and TensorFlow to import.
"""

from __future__ import annotations

import keras
from keras import layers

from zoo import checks
from zoo.models.layers import HashedBigrams, MaskedGlobalPooling1D


def drop_tokens(x: keras.KerasTensor, rate: float) -> keras.KerasTensor:
    """Word dropout: zero whole token vectors of `x` with probability `rate`.

    `x` is (batch, steps, features). Unlike element dropout, a dropped word is gone entirely, so
    the model cannot lean on any single word: a strong regularizer for sentence classifiers
    trained on little data (Iyyer et al. 2015). The padding mask passes through unchanged.
    """
    if not rate:
        return x
    return layers.Dropout(rate, noise_shape=(None, None, 1), name="token_dropout")(x)


def add_bigram_bag(
    features: keras.KerasTensor,
    token_ids: keras.KerasTensor,
    *,
    vocab_size: int,
    buckets: int,
    dim: int,
    dropout: float,
) -> keras.KerasTensor:
    """`features` joined by a bag of the text's hashed word pairs; `features` alone if `buckets`
    is 0.

    The bag is the mean embedding of the bigrams (fastText's n-gram features, Joulin et al. 2017),
    with dropout, concatenated to the pooled features right before the softmax: a "wide" part
    beside the deep one, so a pair such as "not good" reaches the classifier as one feature
    whatever the recurrent or attention layers make of it. An empty text (no pair) adds zeros.
    """
    # All three checked even when the bag is off, as the builders check every argument.
    buckets = checks.non_negative_int("bigram_buckets", buckets)
    dim = checks.positive_int("bigram_dim", dim)
    dropout = checks.fraction("bigram_dropout", dropout)
    if not buckets:
        return features
    pairs = HashedBigrams(vocab_size, buckets, name="bigrams")(token_ids)
    bag = layers.Embedding(buckets + 1, dim, mask_zero=True, name="bigram_embedding")(pairs)
    bag = MaskedGlobalPooling1D("mean", name="bigram_mean")(bag)
    if dropout:
        bag = layers.Dropout(dropout, name="bigram_dropout")(bag)
    return layers.Concatenate(name="features_and_bigrams")([features, bag])


def classifier_head(features: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    """Softmax classifier over `features`, kept in float32: every family's output layer.

    The head computes in float32 even under a mixed-precision policy, so probabilities and the
    loss never lose precision to float16. It is named "classifier": fine-tuning to another class
    count (`zoo.build(name, weights=..., num_classes=N)`) replaces the layer of that name and
    `freeze_backbone=True` trains only it, so a builder of your own should end with it too.

    Example:
        >>> import keras
        >>> from zoo.models import classifier_head
        >>> inputs = keras.Input((16,))
        >>> model = keras.Model(inputs, classifier_head(inputs, 3))
        >>> model.output_shape, model.layers[-1].name
        ((None, 3), 'classifier')
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
