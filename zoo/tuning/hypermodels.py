"""`ZooHyperModel`: a keras-tuner `HyperModel` over one registry entry.

`build(hp)` samples the entry's search space, applies the values to its spec as overrides and
calls the same family builder and `compile_model` as `zoo.build`; `fit` is `model.fit` with every
keyword passed through. Nothing here knows about a family: the search space lives next to the
builder (`search_space_<family>` in `zoo/models/`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner
import numpy as np
import pandas as pd
import tensorflow as tf

from zoo import checks
from zoo.errors import InvalidValueError, ZooError, first_line, unknown_name, warn
from zoo.interrupts import RaiseLostInterrupt, interrupts_kept
from zoo.registry import get_spec
from zoo.spec import DATA_ARGUMENTS, ModelSpec
from zoo.training.callbacks import StopOnNaN, monitor_mode
from zoo.training.compile import compile_model
from zoo.training.feeding import repeat_epochs
from zoo.tuning.fixed import fixed_space
from zoo.values import same_value


class SearchSpaceError(InvalidValueError):
    """An entry's search space raised at its defaults: the entry and its function named."""


def search_space_failure(spec: ModelSpec, error: Exception) -> SearchSpaceError:
    """The error of an entry's search space that raised `error`, with the way out where one is
    known: a plain `hp.Choice` refuses a default outside its values, which an override is."""
    entry = spec.name or spec.family
    space = getattr(spec.search_space, "__qualname__", "search_space")
    if "default value should be one of the choices" in str(error):
        hint = (" An override (zoo.tune(..., NAME=VALUE), --set) becomes a hyperparameter's "
                "default: declare it with zoo.models.choice(hp, name, values, default), which "
                "adds the default to the values (zoo.models.int_range and float_range widen a "
                "range so), or hold it at the value with fixed= (--fix NAME=VALUE) instead.")
    else:
        hint = (" A search space is a function (hp, spec) -> overrides that reads each default "
                "from spec (spec.hyperparameters, spec.recipe).")
    return SearchSpaceError(
        f"the search space of {entry!r} ({space}) raised {type(error).__name__}: "
        f"{first_line(error)}.{hint}"
    )


def _warn_of_defaults_out_of_range(space: keras_tuner.HyperParameters, entry: str) -> None:
    """Warn of a range (a plain `hp.Float` or `hp.Int`) whose default, an override given to
    zoo.tune (learning_rate=0.05 against 1e-3..1e-2), lies outside it: keras-tuner keeps the
    range, so the value asked for is never tried, and nothing said so."""
    for parameter in space.space:
        low, high = getattr(parameter, "min_value", None), getattr(parameter, "max_value", None)
        if low is None or high is None or low <= parameter.default <= high:
            continue
        kind = type(parameter).__name__
        helper = "float_range" if kind == "Float" else "int_range"
        warn(f"the search space of {entry!r} never tries {parameter.name}="
             f"{parameter.default!r}, its default here (an override given to the search, or "
             f"the entry's own value): its "
             f"hp.{kind} ranges over {low:g}..{high:g}, which keras-tuner keeps. Widen the range "
             f"to take it (zoo.models.{helper}(hp, {parameter.name!r}, low, high, default) "
             f"does), or train with that value instead (zoo.train(..., "
             f"{parameter.name}=...)).")


class ZooHyperModel(keras_tuner.HyperModel):
    """Search an entry's hyperparameters with keras-tuner.

    `build(hp)` draws the values of `spec.search_space(hp, spec)` (builder arguments and recipe
    fields such as `learning_rate`, `optimizer`, `batch_size`), builds the model with the family
    builder and compiles it with the trial's recipe. At default values it is the registered model
    (with `overrides` applied).

    `fit(hp, model, x, ...)` calls `model.fit` with every argument passed through. Raw data, as
    keras-tuner users pass it to `tuner.search(x, y, validation_data=(x_val, y_val))` (uint8
    images or sentences and their labels, or any local source `zoo.data.load` reads: a file path,
    a DataFrame), goes through the entry's pipeline as in `zoo.train`: normalized or vectorized
    (the vocabulary fitted on `x` only), shuffled and augmented with `seed`, in the trial's
    batch size (or `batch_size=` when given); `validation_split` holds out a seeded share of it,
    `shuffle=False` keeps its order. The model it trains takes what the pipeline makes
    (normalized pixels, token ids), not raw data: score raw data with `zoo.evaluate(model, (x,
    y))`, or export it (`zoo.export(model, DIR, preprocessor=...)`) to serve raw inputs. A text
    entry's model needs the vocabulary its trial fitted on `x`, which the model does not hold:
    `hypermodel.trial_preprocessor(best_hp, x, y, validation_split=...)` fits it again as the
    trial did, for `preprocessor=` (`zoo.tune` returns it ready).
    A `tf.data` dataset is taken as made for the model and given the trial's batch size by
    batching it again (not one whose batches differ in shape: it is used as it is); a function
    `batch_size -> dataset` (what `zoo.tune` passes) is called with it. It trains for the
    trial's epochs unless `epochs` is given (Hyperband gives them), applies the recipe's early
    stopping, and stops at a NaN or infinite loss, raising `keras_tuner.errors.FailedTrialError`
    so that the tuner records the trial as failed and moves on.

    Args:
        name_or_spec: a registered entry name, or a `ModelSpec` with a `search_space`.
        train_examples: size of the training set. With it, a recipe's learning-rate schedule
            (cosine, warmup) and weight average are laid out over the trial's steps; without it
            the peak rate is used and there is no average (`zoo.training.compile.ema_momentum`).
        jit_compile: XLA for every trial (as `zoo.training.policy` decides it in `zoo.tune`).
        seed: weights are initialized from this seed in every trial, so that trials differ by
            their hyperparameters only.
        **overrides: builder arguments or recipe fields, as for `zoo.build`; they are also the
            search space's defaults.

    Example:
        >>> import keras_tuner, zoo
        >>> hypermodel = zoo.hypermodel("cnn_mnist")
        >>> hp = keras_tuner.HyperParameters()
        >>> hypermodel.build(hp).count_params()  # the defaults: the registered model
        34826
        >>> hp.values["filters_0"], hp.values["optimizer"]
        (32, 'adam')
        >>> hp.values["filters_0"] = 16
        >>> hypermodel.overrides(hp)["filters"]
        (16, 64)
    """

    def __init__(
        self,
        name_or_spec: str | ModelSpec,
        *,
        train_examples: int | None = None,
        jit_compile: bool | str = False,
        seed: int = 0,
        **overrides: Any,
    ):
        # Its trials read their data with zoo's tf.data pipelines: on another backend every
        # trial failed and keras-tuner's search returned as if it had searched.
        checks.tensorflow_backend("zoo.hypermodel", checks.SEARCH_ELSEWHERE)
        spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
        if not isinstance(spec, ModelSpec):
            raise InvalidValueError(
                f"hypermodel() takes an entry name or a zoo.ModelSpec, got {type(spec).__name__}."
            )
        if spec.search_space is None:
            from zoo.models import SEARCH_SPACES

            family_space = (
                f"; an entry on zoo's {spec.family} builder can use "
                f"zoo.models.SEARCH_SPACES[{spec.family!r}]" if spec.family in SEARCH_SPACES else ""
            )
            raise InvalidValueError(
                f"entry {spec.name or spec.family!r} declares no search space, so there is "
                f"nothing to tune. Give its ModelSpec a search_space: (hp, spec) -> "
                f"overrides{family_space}."
            )
        super().__init__(name=spec.name or None)
        self.spec = spec.with_overrides(**overrides)
        # The builder checks its arguments (dropout=2, units=()) when a model is built: building
        # one now refuses them in its words before the search space samples them, and before
        # zoo.tune's keras-tuner makes its directory (as zoo.train refuses them before writing
        # its workdir).
        self.spec.build_model()
        self._check_search_space()
        self.train_examples = (
            None
            if train_examples is None
            else checks.positive_int("train_examples", train_examples)
        )
        self.jit_compile = jit_compile
        self.seed = checks.seed("seed", seed)

    def _check_search_space(self) -> None:
        """Refuse a search space that samples what the data fixes, or a name that is no
        override; warn when its defaults are not the entry (with the caller's overrides), which
        a search space reading them from `spec` never is."""
        declared = keras_tuner.HyperParameters()
        sampled = self._at_defaults(declared)
        entry = self.spec.name or self.spec.family
        _warn_of_defaults_out_of_range(declared, entry)
        fixed_by_data = [key for key in DATA_ARGUMENTS if key in sampled]
        if fixed_by_data:
            raise InvalidValueError(
                f"the search space of {entry!r} samples {', '.join(fixed_by_data)}, which the "
                f"data fixes for the whole search: every trial trains on the same data, read and "
                f"vectorized once for the entry's input and labels. Remove it from the search "
                f"space; to compare values, pass each one to its own search or training run "
                f"(zoo.tune({entry!r}, ..., {fixed_by_data[0]}=...))."
            )
        valid = self.spec.valid_overrides()
        for key in sampled:
            if key not in valid:
                raise unknown_name(
                    "override", key, valid, max_listed=None,
                    hint=f"The search space of {entry!r} returns it; it may return the entry's "
                    f"builder arguments and recipe fields.",
                )
        current = {**self.spec.model_kwargs(), **dataclasses.asdict(self.spec.recipe)}
        differing = [f"{key}={value!r} where the entry has {current[key]!r}"
                     for key, value in sampled.items() if not same_value(value, current[key])]
        if differing:
            warn(
                f"the search space of {entry!r} does not start from the entry: at its defaults "
                f"it gives {', '.join(differing)}. So hypermodel.build(HyperParameters()) is not "
                f"the entry, and overrides given to zoo.tune do not set those defaults. Read each "
                f"default from `spec`, e.g. hp.Float('dropout', 0.0, 0.5, "
                f"default=spec.hyperparameters['dropout']).",
            )

    def _at_defaults(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """`overrides(hp)` of the space at its defaults, where an entry's function that raises is
        one error naming it (a trial's own values that raise fail that trial, with their error)."""
        try:
            return self.overrides(hp)
        except ZooError:
            raise
        except Exception as error:  # an entry's own space: its line is in the chained traceback
            raise search_space_failure(self.spec, error) from error

    def overrides(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """The builder arguments and recipe fields that `hp` stands for (declaring them in `hp`)."""
        sampled = self.spec.search_space(hp, self.spec)
        if not isinstance(sampled, dict):
            raise InvalidValueError(
                f"the search space of {self.spec.name!r} must return a dict of overrides "
                f"(builder arguments and recipe fields), got {type(sampled).__name__}."
            )
        return sampled

    def space(self, fixed: Mapping[str, Any] | None = None) -> keras_tuner.HyperParameters:
        """The search space at its defaults, with the hyperparameters named in `fixed` held at
        the given values (keras-tuner `Fixed` ones, see `zoo.tuning.fixed`); the rest are
        searched.

        Pass it to a keras-tuner tuner as `hyperparameters=`; `zoo.tune(..., fixed=...)` does.

        Example:
            >>> import keras_tuner, zoo
            >>> hypermodel = zoo.hypermodel("cnn_mnist")
            >>> space = hypermodel.space(fixed={"dropout": 0.1, "optimizer": "sgd"})
            >>> kinds = {p.name: type(p).__name__ for p in space.space}
            >>> kinds["num_blocks"], kinds["dropout"]
            ('Int', 'Fixed')
            >>> tuner = keras_tuner.RandomSearch(hypermodel, "val_accuracy", max_trials=1,
            ...     hyperparameters=space, directory=__import__("tempfile").mkdtemp())
            >>> hypermodel.overrides(tuner.oracle.get_space())["dropout"]
            0.1
        """
        hp = keras_tuner.HyperParameters()
        self._at_defaults(hp)
        if fixed is None:
            return hp
        held = fixed_space(hp, fixed, self.spec.name or self.spec.family)
        # A value the entry itself refuses (optimizer="adamm", a width of -5) failed the first
        # trial, after zoo.tune had made the search directory: said now, before any is made.
        try:
            self.trial_spec(held.copy()).build_model()
        except ZooError as error:
            raise InvalidValueError(f"fixed= (--fix) {dict(fixed)}: {error}") from None
        return held

    def space_frame(self) -> pd.DataFrame:
        """The search space as a table: one row per hyperparameter, its kind, the values it
        takes (a list, or a range with its sampling), its default, and the values of its parent
        under which it is searched (a layer's width exists only up to the layer count).

        Example:
            >>> import zoo
            >>> frame = zoo.hypermodel("cnn_mnist").space_frame()
            >>> frame.set_index("hyperparameter").loc["learning_rate", "values"]
            '0.0001 .. 0.01 (log)'
            >>> frame.set_index("hyperparameter").loc["filters_2", "searched when"]
            'num_blocks = 3'
        """
        rows = []
        for parameter in self.space().space:
            if hasattr(parameter, "min_value"):  # Int and Float: a range
                step = parameter.step  # an Int's step of 1 goes without saying
                plain = step is None or (step == 1 and type(parameter).__name__ == "Int")
                every = "" if plain else f" step {step:g}"
                values = (f"{parameter.min_value:g} .. {parameter.max_value:g}{every} "
                          f"({parameter.sampling})")
            elif hasattr(parameter, "values"):  # Choice, and Fixed (its one value)
                values = ", ".join(map(str, parameter.values))
            else:  # Boolean
                values = "True, False"
            when = "; ".join(f"{condition.name} = {', '.join(map(str, condition.values))}"
                             for condition in parameter.conditions)
            rows.append({"hyperparameter": parameter.name, "kind": type(parameter).__name__,
                         "values": values, "default": parameter.default, "searched when": when})
        # object: each default as declared (an Int's 8 beside a Float's 0.5 was shown as 8.0)
        return pd.DataFrame(rows, columns=["hyperparameter", "kind", "values", "default",
                                           "searched when"], dtype=object)

    def trial_preprocessor(self, hp: keras_tuner.HyperParameters, x: Any, y: Any = None, *,
                           validation_split: float | None = None) -> Any:
        """The input preprocessor the trial of `hp` fitted on raw `x` (and `y`) passed to
        `tuner.search` (give the same `validation_split`: the vocabulary is fitted on the
        training part only), for `zoo.evaluate(model, data, preprocessor=...)` and
        `zoo.export(model, DIR, preprocessor=...)` of a model from `tuner.get_best_models()`.

        Example:
            >>> import keras_tuner, zoo
            >>> hypermodel = zoo.hypermodel("lstm_sst2", vocab_size=50)
            >>> texts, labels = ["a fine film", "dull and long"] * 10, [1, 0] * 10
            >>> preprocessor = hypermodel.trial_preprocessor(keras_tuner.HyperParameters(),
            ...                                              texts, labels)
            >>> preprocessor.fitted, "film" in preprocessor.vocabulary
            (True, True)
        """
        train, _ = self._loaded(self.trial_spec(hp), x if y is None else (x, y), None,
                                validation_split)
        return train.preprocessor

    def trial_spec(self, hp: keras_tuner.HyperParameters) -> ModelSpec:
        """The entry's spec with `hp`'s values applied: what one trial builds and trains."""
        return self.spec.with_overrides(**self.overrides(hp))

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        spec = self.trial_spec(hp)
        keras.utils.set_random_seed(self.seed)
        model = spec.build_model()
        steps_per_epoch = None
        if self.train_examples is not None:
            steps_per_epoch = math.ceil(self.train_examples / spec.recipe.batch_size)
        compile_model(model, spec, steps_per_epoch=steps_per_epoch, jit_compile=self.jit_compile)
        # Built now, the optimizer takes its state from a checkpoint too: Hyperband continues a
        # promoted trial from its parent's, and best_model() loads the best epoch's.
        model.optimizer.build(model.trainable_variables)
        return model

    def fit(
        self, hp: keras_tuner.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any
    ) -> keras.callbacks.History:
        spec = self.trial_spec(hp)
        recipe = spec.recipe
        # `x` is taken out of args/kwargs once, and passed to `fit` first again below.
        x, args = (args[0], args[1:]) if args else (kwargs.pop("x", None), args)
        if _is_raw_source(x):
            # tuner.search(x, y, validation_data=(x_val, y_val)) with raw pixels or sentences:
            # the entry's preprocessing applies, as in zoo.train, not raw 0-255 values.
            y, args = (args[0], args[1:]) if args else (kwargs.pop("y", None), args)
            if kwargs.get("sample_weight") is not None:
                raise InvalidValueError(
                    "sample_weight= is not supported with raw data, which goes through zoo's "
                    "pipeline; use class_weight=, or pass a tf.data dataset of (x, y, weight)."
                )
            if kwargs.get("batch_size") is not None:  # the caller's batch size wins
                spec = spec.with_overrides(batch_size=kwargs.pop("batch_size"))
            x, kwargs["validation_data"] = self._loaded(
                spec, x if y is None else (x, y), kwargs.get("validation_data"),
                kwargs.pop("validation_split", None), kwargs.pop("shuffle", None),
            )
        else:
            # The caller's batch size wins here too: a loader is called with it, and Keras
            # batches a loader's arrays by it (it ignores batch_size= for a dataset).
            batch_size = kwargs.pop("batch_size", None) or recipe.batch_size
            x = self._batched(x, batch_size)
            if not isinstance(x, tf.data.Dataset):
                kwargs["batch_size"] = batch_size
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset shuffles itself; Keras would warn
            if kwargs.get("steps_per_epoch") is None:
                # One iterator for all epochs, as zoo.train feeds it (zoo/training/feeding.py).
                x, kwargs["steps_per_epoch"] = repeat_epochs(x)
        kwargs.setdefault("epochs", recipe.epochs)
        nan_guard = StopOnNaN()
        # With a weight average, validation (the trial's score) and the trial's checkpoint (its
        # best_model) are of the average, as in zoo.train: swapped in before the tuner's
        # callbacks see the epoch's end.
        average = ([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]
                   if getattr(model.optimizer, "use_ema", False) else [])
        # (zoo.tune keeps a Ctrl-C lost in keras-tuner's clear_session: interrupts.py.)
        callbacks = [RaiseLostInterrupt(), nan_guard, *average,
                     *(kwargs.pop("callbacks", None) or [])]
        if recipe.early_stopping_patience:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=recipe.monitor, mode=monitor_mode(recipe.monitor),
                patience=recipe.early_stopping_patience,
            ))
        with interrupts_kept():  # a Ctrl-C is not a failed trial, however TensorFlow reports it
            history = model.fit(x, *args, callbacks=callbacks, **kwargs)
        _fail_if_diverged(spec, history, nan_guard)
        return history

    def _loaded(
        self, spec: ModelSpec, source: Any, validation: Any, validation_split: float | None,
        shuffle: bool | None = None,
    ) -> tuple[tf.data.Dataset, Any]:
        """A raw source (arrays, a file, a DataFrame) and its validation data as `zoo.data.load`
        reads them for this trial: preprocessed, shuffled and augmented with the seed; a text
        vocabulary fitted on the training part only."""
        from zoo import data as zoo_data
        from zoo.data.pipeline import resizes

        common = {"spec": spec, "batch_size": spec.recipe.batch_size, "seed": self.seed}
        split = "all"
        if validation_split:  # Keras' argument, as zoo's seeded hold-out
            if validation is not None:
                raise InvalidValueError(
                    "pass validation_data= or validation_split=, not both; validation_split "
                    "holds out a seeded share of x."
                )
            common["validation_fraction"] = validation_split
            split, validation = "train", source
        train = zoo_data.load(source, split=split, bucket_by_length=spec.recipe.bucket_by_length,
                              shuffle=shuffle, resize_images=resizes(source, spec), **common)
        if validation is not None and not isinstance(validation, tf.data.Dataset):
            validation = zoo_data.load(
                validation, split="validation" if validation_split else "all",
                preprocessor=train.preprocessor, class_names=train.class_names, shuffle=False,
                augment=False, resize_images=resizes(validation, spec), **common,
            )
        return train, validation

    def _batched(self, data: Any, batch_size: int) -> Any:
        """`data` in batches of `batch_size`: a loader called with it, a `tf.data` dataset
        batched (again); anything else as it is (Keras batches arrays by `batch_size`)."""
        if callable(data) and not isinstance(data, tf.data.Dataset):
            return data(batch_size)
        if not isinstance(data, tf.data.Dataset):
            return data
        element = data.element_spec
        inputs = element[0] if isinstance(element, tuple) else element
        shape = getattr(inputs, "shape", None)
        if shape is None or shape.rank is None:
            return data  # a dict of inputs or an unknown shape: leave the batching to its maker
        if shape.rank == len(self.spec.input.shape):  # one example per element
            batched = data.batch(batch_size)
        elif not shape[1:].is_fully_defined():
            # Batches that differ in shape (length buckets) cannot be cut and joined again; a
            # loader (batch_size -> dataset) is the way to tune their batch size.
            return data
        else:
            batched = data.rebatch(batch_size)
            examples = getattr(data, "num_examples", None)  # set by zoo.data.load
            if not examples and data.cardinality() > 0:
                # Another maker's finite batches: counted with a pass over the data, once (kept
                # as zoo.data.load keeps it: every trial is given the same dataset).
                examples = data.num_examples = int(data.reduce(np.int64(0), _add_batch_size))
            if examples:
                # Rebatching loses the length; without it Keras finds the end of the first epoch
                # by running out of data, and warns.
                batched = batched.apply(
                    tf.data.experimental.assert_cardinality(math.ceil(examples / batch_size))
                )
        return batched.prefetch(tf.data.AUTOTUNE)


def _add_batch_size(count: Any, *element: Any) -> Any:
    """`count` plus the examples in one batch of a dataset, for `tf.data.Dataset.reduce`."""
    first = tf.nest.flatten(element)[0]
    return count + tf.cast(tf.shape(first)[0], tf.int64)


def _is_raw_source(x: Any) -> bool:
    """Arrays, a path or a DataFrame: data that still needs the entry's preprocessing (not a
    `tf.data` dataset, which is taken as made for the model, nor a loader function)."""
    return x is not None and not callable(x) and not isinstance(x, tf.data.Dataset)


def _fail_if_diverged(
    spec: ModelSpec, history: keras.callbacks.History, nan_guard: StopOnNaN
) -> None:
    # A diverged model still scores (NaN outputs predict class 0: about 1/num_classes accuracy),
    # so the validation loss is checked too; keras-tuner records FailedTrialError as FAILED.
    last = {key: values[-1] for key, values in history.history.items() if values}
    non_finite = [
        key for key in ("loss", "val_loss") if key in last and not math.isfinite(last[key])
    ]
    if nan_guard.diverged_at is None and not non_finite:
        return
    if nan_guard.diverged_at is not None:
        epoch, batch = nan_guard.diverged_at
        where = f"at epoch {epoch}, batch {batch + 1}"
    else:
        where = f"({', '.join(non_finite)} at the last epoch)"
    recipe = spec.recipe
    raise keras_tuner.errors.FailedTrialError(
        f"{spec.name}: the loss became NaN or infinite {where} with "
        f"learning_rate={recipe.learning_rate:.3g}, optimizer={recipe.optimizer!r}, "
        f"batch_size={recipe.batch_size}; the trial is recorded as failed."
    )


def hypermodel(name: str, **kwargs: Any) -> ZooHyperModel:
    """The keras-tuner `HyperModel` of a registered entry (see `ZooHyperModel` for the arguments).

    Use it with any keras-tuner tuner; `zoo.tune` does that for you, with resume and a trials table.

    Example:
        >>> import keras_tuner, zoo
        >>> model = zoo.hypermodel("mlp_mnist", units=(32,)).build(keras_tuner.HyperParameters())
        >>> model.name, model.get_layer("hidden_0").units
        ('mlp_mnist', 32)
    """
    return ZooHyperModel(name, **kwargs)
