"""What every family shares without Keras: the image layout, the protocols behind the entries'
measured accuracy and the search-space helpers (the Keras pieces are in zoo.models.blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zoo import checks
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

# How MaskedGlobalPooling1D pools a sequence: named here, without Keras, for the search spaces.
POOLING_MODES = ("mean", "max")

# The search spaces' choices for `bigram_buckets` (0: no bag), one list for every text family.
BIGRAM_BUCKET_CHOICES = (0, 2**16, 2**17)


# ---- search spaces -----------------------------------------------------------------------------
# Each family's `search_space_<family>(hp, spec)` is made of these. Every range is a standard one
# widened to contain the entry's own value, and that value is the default: sampled at its defaults,
# a search space gives back the entry exactly (`zoo.tune` relies on it, tests check it).
# `hp` is a `keras_tuner.HyperParameters`; nothing here imports keras_tuner.


def choice(hp: Any, name: str, values: Sequence[Any], default: Any) -> Any:
    """`hp.Choice` over `values` and `default`, sorted, defaulting to `default`: a search space
    declared so takes an override outside `values` (`zoo.tune(name, filters=48)`) as one more
    choice, where a plain `hp.Choice` refuses a default that is not among its values.

    Example:
        >>> import keras_tuner
        >>> from zoo.models import choice
        >>> hp = keras_tuner.HyperParameters()
        >>> choice(hp, "filters", (16, 32, 64), default=48)
        48
        >>> hp.space[0].values
        [16, 32, 48, 64]
    """
    return hp.Choice(name, sorted({*values, default}), default=default)


def int_range(hp: Any, name: str, low: int, high: int, default: int) -> int:
    """`hp.Int` over [low, high], widened to contain `default` (see `choice`).

    Example:
        >>> import keras_tuner
        >>> from zoo.models import int_range
        >>> hp = keras_tuner.HyperParameters()
        >>> int_range(hp, "units", 32, 256, default=512), hp.space[0].max_value
        (512, 512)
    """
    return hp.Int(name, min(low, default), max(high, default), default=default)


def float_range(
    hp: Any, name: str, low: float, high: float, default: float, **kwargs: Any
) -> float:
    """`hp.Float` over [low, high], widened to contain `default` (`step`, `sampling` as
    keras-tuner; see `choice`).

    Example:
        >>> import keras_tuner
        >>> from zoo.models import float_range
        >>> hp = keras_tuner.HyperParameters()
        >>> float_range(hp, "dropout", 0.0, 0.5, default=0.7), hp.space[0].max_value
        (0.7, 0.7)
    """
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
    # One width is one layer, as the builders take it (units=128 is units=(128,)).
    widths = checks.positive_ints(name, widths)
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
    widths = checks.positive_ints(name, widths, allow_empty=True)  # 128 is (128,)
    if len(widths) > 1:
        return widths
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
