"""Pieces every family shares: the classifier head, L2 regularizers and search-space helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from zoo import checks
from zoo.models.layers import HashedBigrams, MaskedGlobalPooling1D
from zoo.spec import Recipe

# The layout of every image zoo's pipelines make: (height, width, channels). Image layers name it
# rather than follow keras.config.image_data_format(), which a user may have set to
# channels_first for models of their own (a CNN entry then failed to build, and a Flatten would
# read its weights in another order).
IMAGE_LAYOUT = "channels_last"

# How `Reference.measured` was obtained
# (benchmarks/bench_accuracy.py; benchmarks/results/accuracy.md).
MNIST_8K_PROTOCOL = (
    "5-fold cross-validation on the 8,000 real digits of shared/datasets/mnist_8k.npz: "
    "accuracy over all 8,000 test-fold predictions, seed 0"
)
SST2_PROTOCOL = (
    "10-fold cross-validation over the 6,886 full sentences of GLUE SST-2 train.tsv: each fold "
    "trains on the phrases of the other folds' sentences (about 90% of train.tsv) and tests on "
    "its own sentences, which no recipe choice saw; accuracy over all 6,886, seed 0"
)


def drop_tokens(x: keras.KerasTensor, rate: float) -> keras.KerasTensor:
    """Word dropout: zero whole token vectors of `x` with probability `rate`.

    `x` is (batch, steps, features). Unlike element dropout, a dropped word is gone entirely, so
    the model cannot lean on any single word: a strong regularizer for sentence classifiers
    trained on little data (Iyyer et al. 2015). The padding mask passes through unchanged.
    """
    if not rate:
        return x
    return layers.Dropout(rate, noise_shape=(None, None, 1), name="token_dropout")(x)


# The search spaces' choices for `bigram_buckets` (0: no bag), one list for every text family.
BIGRAM_BUCKET_CHOICES = (0, 2**16, 2**17)


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


# ---- search spaces -----------------------------------------------------------------------------
# Each family's `search_space_<family>(hp, spec)` is made of these. Every range is a standard one
# widened to contain the entry's own value, and that value is the default: sampled at its defaults,
# a search space gives back the entry exactly (`zoo.tune` relies on it, tests check it).
# `hp` is a `keras_tuner.HyperParameters`; nothing here imports keras_tuner.


def choice(hp: Any, name: str, values: Sequence[Any], default: Any) -> Any:
    """`hp.Choice` over `values` and `default`, sorted, defaulting to `default`."""
    return hp.Choice(name, sorted({*values, default}), default=default)


def int_range(hp: Any, name: str, low: int, high: int, default: int) -> int:
    """`hp.Int` over [low, high], widened to contain `default`."""
    return hp.Int(name, min(low, default), max(high, default), default=default)


def float_range(
    hp: Any, name: str, low: float, high: float, default: float, **kwargs: Any
) -> float:
    """`hp.Float` over [low, high], widened to contain `default` (`step`, `sampling` as
    keras-tuner)."""
    return hp.Float(name, min(low, default), max(high, default), default=default, **kwargs)


def dropout_rate(hp: Any, name: str, default: float, high: float = 0.5) -> float:
    """A dropout rate in steps of 0.1 from 0 to `high` (plus `default`), as a `hp.Choice`: the
    values stay 0.3, not 0.30000000000000004 as a stepped `hp.Float` would sample them."""
    return choice(hp, name, [round(0.1 * step, 1) for step in range(round(high * 10) + 1)],
                  float(default))


def layer_widths(
    hp: Any, name: str, widths: Sequence[int], choices: Sequence[int], *, max_layers: int,
    count_name: str,
) -> tuple[int, ...]:
    """A tuple of layer widths as a layer count plus one width per layer.

    `count_name` is the number of layers (1 to `max_layers`); `{name}_{i}` the width of layer i,
    active only when there are more than i layers (a keras-tuner conditional scope), so a trial
    records the widths it uses and no others. Defaults: `len(widths)` layers of `widths`.

    Example:
        >>> import keras_tuner
        >>> from zoo.models.common import layer_widths
        >>> hp = keras_tuner.HyperParameters()
        >>> layer_widths(hp, "filters", (32, 64), (16, 32, 64), max_layers=3, count_name="blocks")
        (32, 64)
        >>> hp.values
        {'blocks': 2, 'filters_0': 32, 'filters_1': 64}
    """
    count = int_range(hp, count_name, 1, max_layers, len(widths))
    most = max(max_layers, len(widths))
    sampled = []
    for index in range(most):
        # A layer beyond the entry's own defaults to the entry's last width.
        default = widths[min(index, len(widths) - 1)]
        with hp.conditional_scope(count_name, list(range(index + 1, most + 1))):
            width = choice(hp, f"{name}_{index}", choices, default)
        if index < count:
            sampled.append(width)
    return tuple(sampled)


def optional_width(
    hp: Any, name: str, widths: Sequence[int], choices: Sequence[int]
) -> tuple[int, ...]:
    """Zero or one hidden layer as one width, 0 meaning none.

    An entry with more than one such layer keeps its own: one number cannot describe it.
    """
    if len(widths) > 1:
        return tuple(widths)
    width = choice(hp, name, (0, *choices), widths[0] if widths else 0)
    return (width,) if width else ()


def recipe_space(hp: Any, recipe: Recipe) -> dict[str, Any]:
    """The training knobs every family tunes: learning rate (log scale), optimizer, batch size.

    AdamW is offered only where the recipe uses it: with the recipes' default weight decay of 0 it
    is Adam under another name.
    """
    return {
        "learning_rate": float_range(
            hp, "learning_rate", 1e-4, 1e-2, recipe.learning_rate, sampling="log"
        ),
        "optimizer": choice(hp, "optimizer", ("adam", "rmsprop", "sgd"), recipe.optimizer),
        "batch_size": choice(hp, "batch_size", (32, 64, 128, 256), recipe.batch_size),
    }
