"""Compile a model from its entry's recipe: optimizer, learning-rate schedule, loss, metrics.

`zoo.build` and `zoo.train` both compile through `compile_model`, so a recipe means the same
thing in a notebook and in the training loop.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.spec import ModelSpec, Recipe
from zoo.training.losses import SmoothedSparseCategoricalCrossentropy


def learning_rate(recipe: Recipe, steps_per_epoch: int | None = None) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The recipe's learning rate: a float, or a per-step schedule when steps are known.

    Without `steps_per_epoch` (as in `zoo.build`, before any data is seen) the schedule cannot be
    laid out, so the peak learning rate is used as a constant.

    Example:
        >>> from zoo.spec import Recipe
        >>> schedule = learning_rate(Recipe(schedule="cosine", epochs=2), steps_per_epoch=10)
        >>> round(float(schedule(20)), 6)
        0.0
    """
    if recipe.schedule == "constant" or not steps_per_epoch:
        return recipe.learning_rate
    total_steps = recipe.epochs * steps_per_epoch
    warmup_steps = min(recipe.warmup_epochs * steps_per_epoch, total_steps - 1)
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup_steps else recipe.learning_rate,
            decay_steps=max(total_steps - warmup_steps, 1),
            warmup_target=recipe.learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    # "exponential": smooth decay to 1% of the peak by the last step.
    return keras.optimizers.schedules.ExponentialDecay(
        recipe.learning_rate, decay_steps=total_steps, decay_rate=0.01
    )


def make_optimizer(recipe: Recipe, steps_per_epoch: int | None = None) -> keras.optimizers.Optimizer:
    """The recipe's optimizer, with its schedule, momentum, weight decay and clipping."""
    rate = learning_rate(recipe, steps_per_epoch)
    common: dict[str, Any] = {"learning_rate": rate}
    if recipe.clipnorm is not None:
        common["clipnorm"] = recipe.clipnorm
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=recipe.momentum, nesterov=recipe.momentum > 0,
                                    weight_decay=recipe.weight_decay or None, **common)
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(momentum=recipe.momentum, **common)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=recipe.weight_decay, **common)
    if recipe.optimizer == "adagrad":
        return keras.optimizers.Adagrad(**common)
    if recipe.optimizer == "nadam":
        return keras.optimizers.Nadam(**common)
    return keras.optimizers.Adam(**common)


def make_loss(recipe: Recipe) -> keras.losses.Loss:
    """Sparse categorical cross-entropy on softmax outputs, smoothed when the recipe asks."""
    if recipe.label_smoothing:
        return SmoothedSparseCategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy()


def compile_model(
    model: keras.Model,
    spec: ModelSpec,
    *,
    steps_per_epoch: int | None = None,
    jit_compile: bool = False,
    steps_per_execution: int = 1,
) -> keras.Model:
    """Compile `model` with `spec.recipe`. Returns the model for chaining.

    Example:
        >>> import zoo
        >>> spec = zoo.get_spec("mlp_mnist")
        >>> model = compile_model(spec.build_model(), spec)
        >>> type(model.optimizer).__name__
        'Adam'
    """
    model.compile(
        optimizer=make_optimizer(spec.recipe, steps_per_epoch),
        loss=make_loss(spec.recipe),
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model
