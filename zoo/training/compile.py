"""Compile a model from its entry's recipe: optimizer, learning-rate schedule, loss, metrics.

`zoo.build` and `zoo.train` both compile through `compile_model`, so a recipe means the same
thing in a notebook and in the training loop.
"""

from __future__ import annotations

import weakref
from typing import Any

import keras
from keras import ops

from zoo.spec import ModelSpec, Recipe
from zoo.training.losses import SmoothedSparseCategoricalCrossentropy


@keras.saving.register_keras_serializable(package="zoo")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Rise linearly from 0 to the peak over `warmup_steps`, then follow `after`.

    `after` is a constant learning rate or a schedule that starts at the peak; it is evaluated
    from step 0 once the warmup ends.

    Example:
        >>> from zoo.training.compile import LinearWarmup
        >>> schedule = LinearWarmup(after=0.1, warmup_steps=4)
        >>> [round(float(schedule(step)), 3) for step in (0, 2, 4, 9)]
        [0.0, 0.05, 0.1, 0.1]
    """

    def __init__(self, after: float | keras.optimizers.schedules.LearningRateSchedule,
                 warmup_steps: int):
        self.after = after
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: Any) -> Any:
        step = ops.cast(step, "float32")
        warmup_steps = float(self.warmup_steps)
        if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
            peak = ops.cast(self.after(0), "float32")
            after = ops.cast(self.after(ops.maximum(step - warmup_steps, 0.0)), "float32")
        else:
            peak = after = ops.convert_to_tensor(float(self.after), "float32")
        return ops.where(step < warmup_steps, peak * step / warmup_steps, after)

    def get_config(self) -> dict[str, Any]:
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.saving.serialize_keras_object(after)
        return {"after": after, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LinearWarmup:
        config = dict(config)
        if isinstance(config["after"], dict):
            config["after"] = keras.saving.deserialize_keras_object(config["after"])
        return cls(**config)


def has_schedule(recipe: Recipe) -> bool:
    """Whether the recipe's learning rate changes as a run goes (any schedule but "constant", or
    a warm-up): a Keras `LearningRateSchedule` once the run's steps are known.

    Example:
        >>> from zoo.spec import Recipe
        >>> from zoo.training.compile import has_schedule
        >>> has_schedule(Recipe(schedule="cosine")), has_schedule(Recipe(schedule="constant"))
        (True, False)
    """
    return recipe.schedule != "constant" or bool(recipe.warmup_epochs)


def learning_rate(
    recipe: Recipe, steps_per_epoch: int | None = None
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The recipe's learning rate: a float, or a per-step schedule when steps are known.

    Without `steps_per_epoch` (as in `zoo.build`, before any data is seen) the schedule cannot be
    laid out, so the peak learning rate is used as a constant. `warmup_epochs` ramps the rate up
    linearly from 0 before any of the schedules.

    Example:
        >>> from zoo.training.compile import learning_rate
        >>> from zoo.spec import Recipe
        >>> schedule = learning_rate(Recipe(schedule="cosine", epochs=2), steps_per_epoch=10)
        >>> round(float(schedule(20)), 6)
        0.0
    """
    if not steps_per_epoch or not has_schedule(recipe):
        return recipe.learning_rate
    total_steps = recipe.epochs * steps_per_epoch
    warmup_steps = min(recipe.warmup_epochs * steps_per_epoch, total_steps - 1)
    if recipe.schedule == "constant":
        if not warmup_steps:  # a single step in all: nothing to warm up
            return recipe.learning_rate
        return LinearWarmup(recipe.learning_rate, warmup_steps)
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup_steps else recipe.learning_rate,
            decay_steps=max(total_steps - warmup_steps, 1),
            warmup_target=recipe.learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    # "exponential": smooth decay to 1% of the peak at the end of training.
    decay = keras.optimizers.schedules.ExponentialDecay(
        recipe.learning_rate, decay_steps=max(total_steps - warmup_steps, 1), decay_rate=0.01
    )
    return LinearWarmup(decay, warmup_steps) if warmup_steps else decay


# The weight average's window (1 / (1 - momentum) steps) is kept to at most 1 / EMA_RUN_SHARE of
# the run's steps. Keras' average starts from the first step's weights and is not bias-corrected:
# with the SST-2 recipes' 0.999 over a run of 45 steps (2,000 sentences) it stayed 96% those
# weights and scored 0.535 / 0.625 against 0.595 / 0.640 without it; shortened, 0.550 / 0.640
# (8,000 sentences: 0.568 / 0.686 fixed, 0.805 / 0.791 shortened, 0.805 / 0.814 none). At 1.4 the
# recipes' own runs (1,400+ steps on SST-2's phrases) keep their 0.999.
EMA_RUN_SHARE = 1.4


def ema_momentum(recipe: Recipe, steps_per_epoch: int | None = None) -> float | None:
    """The recipe's weight-average momentum, lowered for runs too short for its window; None
    (no average) where the recipe has none or the run's length is unknown.

    Without `steps_per_epoch` (as in `zoo.build`), the window cannot be fitted to the run, as the
    learning-rate schedule cannot be laid out: `model.fit` ends by copying the average into the
    model, and over a short run it was still mostly the starting weights (`lstm_sst2` built, then
    fit for 2 epochs on 8,000 phrases: 0.79 logged in training, 0.56 returned). No average then.

    Example:
        >>> from zoo.training.compile import ema_momentum
        >>> from zoo.spec import Recipe
        >>> recipe = Recipe(ema_momentum=0.999, epochs=3)
        >>> ema_momentum(recipe, steps_per_epoch=500), round(ema_momentum(recipe, 15), 4)
        (0.999, 0.9689)
        >>> ema_momentum(recipe) is None
        True
    """
    if recipe.ema_momentum is None or not steps_per_epoch:
        return None
    total_steps = recipe.epochs * steps_per_epoch
    return min(recipe.ema_momentum, max(0.0, 1.0 - EMA_RUN_SHARE / total_steps))


def make_optimizer(
    recipe: Recipe, steps_per_epoch: int | None = None
) -> keras.optimizers.Optimizer:
    """The recipe's optimizer, with its schedule, momentum, weight decay and clipping."""
    rate = learning_rate(recipe, steps_per_epoch)
    common: dict[str, Any] = {"learning_rate": rate}
    if recipe.clipnorm is not None:
        common["clipnorm"] = recipe.clipnorm
    momentum = ema_momentum(recipe, steps_per_epoch)
    if momentum is not None:
        common.update(use_ema=True, ema_momentum=momentum)
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


# The optimizer compile_model gave each model, while the model lives: a model compiled since by
# its user (with an optimizer of their own) is told apart from one zoo compiled.
_RECIPE_OPTIMIZERS: weakref.WeakKeyDictionary[keras.Model, Any] = weakref.WeakKeyDictionary()


def compiled_by_its_user(model: keras.Model) -> bool:
    """Whether `model` was compiled other than by `compile_model` (its recipe's compile)."""
    optimizer = getattr(model, "optimizer", None)
    return optimizer is not None and optimizer is not _RECIPE_OPTIMIZERS.get(model)


def compile_model(
    model: keras.Model,
    spec: ModelSpec,
    *,
    steps_per_epoch: int | None = None,
    jit_compile: bool | str | None = None,
    steps_per_execution: int = 1,
) -> keras.Model:
    """Compile `model` with `spec.recipe`. Returns the model for chaining.

    `jit_compile` None: off on TensorFlow (`zoo.train`'s device policy decides there; XLA
    measured slower on CPU), Keras' "auto" on other backends, where it is what compiles the
    training step at all (on JAX, off ran `cnn_mnist`'s steps 4-5x slower).

    Example:
        >>> from zoo.training.compile import compile_model
        >>> import zoo
        >>> spec = zoo.get_spec("mlp_mnist")
        >>> model = compile_model(spec.build_model(), spec)
        >>> type(model.optimizer).__name__
        'Adam'
    """
    if jit_compile is None:
        jit_compile = False if keras.backend.backend() == "tensorflow" else "auto"
    model.compile(
        optimizer=make_optimizer(spec.recipe, steps_per_epoch),
        loss=make_loss(spec.recipe),
        metrics=["accuracy"],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    # The model's own, as compile left it: under mixed_float16 Keras wraps the optimizer given
    # in a LossScaleOptimizer.
    _RECIPE_OPTIMIZERS[model] = model.optimizer
    return model
