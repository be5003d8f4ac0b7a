"""`zoo.train`: one call from an entry name (or model) and data to a trained, evaluated model."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import pandas as pd

from zoo import checks
from zoo.data.catalog import is_tfds_source
from zoo.data.sources import column_options
from zoo.data.tables import MissingColumnError
from zoo.errors import InvalidValueError, UnknownNameError, ZooError, count_text
from zoo.evaluation import EvalReport, evaluate
from zoo.interrupts import RaiseLostInterrupt, interrupts_kept
from zoo.io import atomic_write_json, expand_user, save_atomically
from zoo.logs import without_retracing_warnings
from zoo.models.weights import pretrained_source, pretrained_vocabulary
from zoo.registry import get_spec, spec_for_model
from zoo.serving.safety import check_reloadable
from zoo.spec import MONITORS, ModelSpec, keep_spec
from zoo.training.callbacks import (
    EpochStatistics,
    ResumableEarlyStopping,
    StopOnNaN,
    WorkdirCheckpoint,
    WorkdirLogs,
    WorkdirTensorBoard,
    callback_list,
    check_rate_callbacks,
    fit_verbosity,
    logs_closed_on_error,
    monitor_mode,
)
from zoo.training.compile import compile_model, compiled_by_its_user
from zoo.training.distributed import check_same_epoch, fit_multi_worker
from zoo.training.feeding import batches_per_epoch, fitting_steps_per_execution, repeat_epochs
from zoo.training.fingerprint import fingerprint
from zoo.training.policy import DevicePolicy, resolve_policy
from zoo.training.workdir import Workdir, seed_variables
from zoo.values import same_value

logger = logging.getLogger("zoo.training")


class TrainingDivergedError(ZooError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainResult:
    """What `zoo.train` returns.

    Attributes:
        model: the trained `keras.Model`. With a workdir: the weights of the best epoch by the
            recipe's `monitor` on the validation data (the later epoch on a tie), as
            `best.keras` holds them (an `EarlyStopping(restore_best_weights=True)` of yours
            watching something else is overruled, with a warning). Without one: the last
            epoch's weights (the weight average, for recipes with `ema_momentum`), or, when the
            recipe stops early and has no weight average, the best epoch's (the later on a tie
            too), or what a callback of yours restored.
        history: one row per completed epoch (column `epoch` is 1-based): Keras' logs, plus
            `learning_rate` (the rate after the epoch's last step: 0 at the end of a cosine
            schedule) and `seconds` (the epoch's wall-clock time).
        report: evaluation of `model` on the validation data. With a workdir that data also
            chose the epoch, which makes the score slightly optimistic; score data no choice
            has seen with `zoo.evaluate`.
        spec: the entry spec with every override applied.
        preprocessor: the fitted input preprocessor (text vocabulary or image normalization).
        policy: the device policy the run used.
        workdir: the run directory, when one was given.
        run_config: what the run was asked for: entry, overrides, seed and data fingerprints
            (a workdir's `config.json` holds the same); exports record it.
        best_epoch: with a workdir, the epoch (1-based) whose weights `model` holds, best by
            the recipe's monitor; None without one.

    Example:
        >>> import numpy as np, zoo
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.integers(0, 255, (128, 28, 28), dtype=np.uint8), rng.integers(0, 10, 128)
        >>> result = zoo.train("mlp_mnist", (x, y), epochs=2, verbose=0, units=(16,))
        >>> result.history[["epoch", "learning_rate"]].shape, result.workdir is None
        ((2, 2), True)
        >>> result.spec.hyperparameters["units"], result.report.num_examples
        ((16,), 13)
    """

    model: keras.Model
    history: pd.DataFrame
    report: EvalReport
    spec: ModelSpec
    preprocessor: Any = None
    policy: DevicePolicy | None = None
    workdir: Path | None = None
    run_config: dict[str, Any] = field(default_factory=dict)
    best_epoch: int | None = None

    def __repr__(self) -> str:
        # One line: the dataclass's own repr printed every field, DataFrames included (~3.5 KB).
        where = f"workdir {self.workdir}" if self.workdir is not None else "no workdir"
        epochs = f"{len(self.history)} epoch{'' if len(self.history) == 1 else 's'}"
        return (f"<TrainResult: {self.spec.name}, {epochs}, validation accuracy "
                f"{self.report.accuracy:.4f} on {self.report.num_examples} examples, {where}>")


@contextlib.contextmanager
def run_precision(policy_name: str | None) -> Iterator[None]:
    """Build and compile under the run's precision, `policy_name` or float32 (not whatever
    policy or float type the caller set globally, which the device policy's log and the workdir
    would not show), and restore the caller's settings afterwards.

    `keras.config.floatx()` is pinned to float32 too: the loss and the metrics take their dtype
    from it (metrics as `fit` builds them: run `fit` inside too), and with the caller's float16
    a float32 model's loss overflowed to NaN."""
    previous, previous_floatx = keras.config.dtype_policy(), keras.config.floatx()
    keras.config.set_dtype_policy(policy_name or "float32")
    keras.config.set_floatx("float32")
    try:
        yield
    finally:
        keras.config.set_floatx(previous_floatx)
        keras.config.set_dtype_policy(previous)


def _reseed(model: keras.Model) -> None:
    """Restart the random streams (dropout, augmentation) of a model built before `seed` was
    set, from that seed: a model built by name draws them after it, and `seed=` must make a
    fine-tuning run repeatable too."""
    import random

    for state in seed_variables(model):  # in the model's own order: the same seeds every run
        state.assign(keras.ops.convert_to_tensor([random.randint(1, 10**9), 0], state.dtype))


def _resolve_spec(
    name_or_model: str | keras.Model, overrides: dict[str, Any]
) -> tuple[ModelSpec, keras.Model | None]:
    if isinstance(name_or_model, str):
        spec = get_spec(name_or_model)
        spec.check_arguments(overrides, train)  # `work_dir` is a misspelt argument of train()
        return spec.with_overrides(**overrides), None
    if isinstance(name_or_model, keras.Model):
        try:
            # With the overrides zoo.build gave it; a rebuilt copy must be the entry's network.
            spec = spec_for_model(name_or_model, exact=True)
        except UnknownNameError:
            raise InvalidValueError(
                f"model {name_or_model.name!r} is not named after a zoo entry, so its data "
                f"pipeline and recipe are unknown; pass an entry name such as 'cnn_mnist' "
                f"instead. For a network of your own, register it as an entry "
                f"(@zoo.register_model, README: Registering your own entry), or call "
                f"model.fit on datasets from zoo.data.load(source, spec=ENTRY) of the entry "
                f"whose input it takes."
            ) from None
        spec.check_arguments(overrides, train)
        if compiled_by_its_user(name_or_model):  # the docstring says so; a log line did not
            optimizer = type(name_or_model.optimizer).__name__
            logger.warning(
                "the model given comes compiled with an optimizer of its own (%s), not by zoo; "
                "zoo.train compiles it again by the recipe of %r (%s, learning rate %g, its "
                "loss). To train with your own compile, call model.fit on zoo.data.load "
                "datasets.", optimizer, spec.name,
                spec.recipe.optimizer, spec.recipe.learning_rate)
        built_with = spec.model_kwargs()
        changed = sorted(k for k, v in overrides.items()
                         if k in built_with and not same_value(v, built_with[k]))
        if changed:
            # The network exists already: a new size would describe another model than it trains.
            raise InvalidValueError(
                f"the model is already built, so {', '.join(changed)} cannot change in train(); "
                f"pass {', '.join(f'{k}=...' for k in changed)} to zoo.build({spec.name!r}, ...), "
                f"or train the entry by name: zoo.train({spec.name!r}, data, ...)."
            )
        return spec.with_overrides(**overrides), name_or_model
    raise InvalidValueError(
        f"train() takes an entry name or a keras.Model, got {type(name_or_model).__name__}."
    )


def _warn_of_overruled_restores(callbacks: list[keras.callbacks.Callback], recipe: Any) -> None:
    """Say where a run with a workdir overrules an EarlyStopping's restore of its best weights:
    the run ends with its best epoch by the recipe's monitor (best.keras), whatever the
    callback restored, and a callback watching something else would pick another epoch."""
    for callback in callbacks:
        if (isinstance(callback, keras.callbacks.EarlyStopping) and callback.restore_best_weights
                and callback.monitor != recipe.monitor):
            way = (f"Pass monitor={callback.monitor!r} (--set monitor={callback.monitor}) for "
                   f"the run to choose by the callback's" if callback.monitor in MONITORS else
                   f"The recipe's monitor is one of {', '.join(map(repr, MONITORS))}")
            logger.warning(
                "EarlyStopping(monitor=%r, restore_best_weights=True) restores its best epoch, "
                "but with a workdir the run ends with its best epoch by the recipe's monitor "
                "(%r), as best.keras holds it: the model returned and exported. %s.",
                callback.monitor, recipe.monitor, way)


def used_data_dir(data_dir: Any, data: Any, validation_data: Any) -> Any:
    """`data_dir` when a run reads a TFDS dataset, else None after a warning that it is unused:
    a silently ignored data_dir would leave a user looking for TFDS files in it."""
    if data_dir is None or is_tfds_source(data) or (
        validation_data is not None and is_tfds_source(validation_data)
    ):
        return data_dir
    logger.warning(
        "data_dir=%s is not used: it is where TFDS datasets are prepared, and this run reads "
        "local data only.", data_dir
    )
    return None


def reading_options(
    text_column: str | None, label_column: str, class_names: Sequence[str] | None
) -> dict[str, Any]:
    """How a run or search reads its labelled sources, checked, as its workdir or search records
    it: `columns` (`zoo.data.sources.column_options`) and `class_names`, each only when named,
    so that runs begun before these options existed still resume.

    Example:
        >>> from zoo.training.loop import reading_options
        >>> reading_options(None, "label", None), reading_options("review", "label", ("b", "a"))
        ({}, {'columns': {'text_column': 'review'}, 'class_names': ['b', 'a']})
    """
    reading: dict[str, Any] = {}
    columns = column_options(text_column, label_column)
    if columns:
        reading["columns"] = columns
    if class_names is not None:  # the ids the labels get
        reading["class_names"] = list(checks.class_names(class_names))
    return reading


# Where zoo.tune cuts a TFDS train split when it is given no validation data: trials are scored
# on the last 10% of it, so the test split that `zoo evaluate` reports has chosen nothing.
TFDS_HOLD_OUT = "90%"


def run_splits(
    spec: ModelSpec, data: Any, validation_data: Any, *, tfds_hold_out: bool = False
) -> tuple[str, str]:
    """The splits a run reads from `data` and from its validation source (`validation_data`,
    else `data` again), as `load_run_data` describes them.

    Example:
        >>> import zoo
        >>> from zoo.training.loop import run_splits
        >>> spec = zoo.get_spec("mlp_mnist")
        >>> run_splits(spec, None, None), run_splits(spec, None, None, tfds_hold_out=True)
        (('train', 'test'), ('train[:90%]', 'train[90%:]'))
        >>> run_splits(spec, "digits.npz", None), run_splits(spec, "digits.npz", "tfds:mnist")
        (('train', 'validation'), ('all', 'test'))
    """
    from zoo.data.catalog import train_and_test_splits
    from zoo.data.sources import tfds_name

    def splits(source: Any) -> tuple[str, str]:  # a TFDS source's training and labelled test split
        name = tfds_name(source) if source is not None else spec.dataset
        return train_and_test_splits(name)

    tfds_data = is_tfds_source(data)
    if validation_data is None:
        # The seeded hold-out of local `data`, or the TFDS dataset's test split.
        if not tfds_data:
            return "train", "validation"
        train_split, test_split = splits(data)
        if tfds_hold_out:  # TFDS shuffles a dataset when it prepares it
            return f"{train_split}[:{TFDS_HOLD_OUT}]", f"{train_split}[{TFDS_HOLD_OUT}:]"
        return train_split, test_split
    # The splits of the dataset given, not of the entry's (glue/sst2 has no labelled test).
    train_split = splits(data)[0] if tfds_data else "all"
    return train_split, splits(validation_data)[1] if is_tfds_source(validation_data) else "all"


def load_run_data(
    spec: ModelSpec, data: Any, validation_data: Any, seed: int, preprocessor: Any,
    augment: bool | None = None, *, with_validation: bool = True,
    data_dir: str | os.PathLike | None = None, download: bool = True,
    reading: Mapping[str, Any] | None = None, tfds_hold_out: bool = False,
) -> tuple[Any, Any]:
    """The (train, validation) datasets of a run, as `zoo.train` and `zoo.tune` read them.

    TFDS sources train on the dataset's train split and validate on its labelled test split, or
    with `tfds_hold_out` (zoo.tune) on the last 10% of the train split (`TFDS_HOLD_OUT`), which
    they then do not train on; local sources without `validation_data` hold out a seeded 10%
    for validation. Text validation data is vectorized with the vocabulary fitted on the
    training split, and class names in it map to the training ids. `with_validation=False`
    reads the training split only (validation is None). `data_dir` and `download` reach TFDS
    as in `zoo.data.load`; `reading` (`reading_options`) names the text and label columns of
    tables and numbers the training data's class names.
    """
    import tensorflow as tf

    from zoo import data as zoo_data
    from zoo.data.pipeline import resizes

    for argument, source in (("data", data), ("validation_data", validation_data)):
        if isinstance(source, tf.data.Dataset):
            # A finished pipeline cannot be held out from, fingerprinted for resume, or given
            # the entry's preprocessing; the source it was made from can.
            raise InvalidValueError(
                f"{argument} is a tf.data.Dataset; zoo.train and zoo.tune read the source "
                f"themselves (to hold out validation data, fit the vocabulary, fingerprint it for "
                f"resume and export the preprocessing), so pass what you gave zoo.data.load: a "
                f"path, a DataFrame, (x, y) arrays or 'tfds:NAME'. To train on a dataset you "
                f"built, use Keras directly: model = zoo.build(name); model.fit(dataset, ...)."
            )

    train_split, validation_split = run_splits(spec, data, validation_data,
                                               tfds_hold_out=tfds_hold_out)
    validation_source = data if validation_data is None else validation_data

    def source_options(source: Any) -> dict[str, Any]:
        # TFDS only: local sources would warn about data_dir; TFDS images are not resized.
        return {"data_dir": data_dir if is_tfds_source(source) else None, "download": download,
                "resize_images": resizes(source, spec)}

    reading = reading or {}
    common = {"spec": spec, "batch_size": spec.recipe.batch_size, "seed": seed,
              **reading.get("columns", {})}
    # Augmentation and length bucketing for training only: evaluation keeps one padded shape and
    # the source order.
    train = zoo_data.load(data, split=train_split, preprocessor=preprocessor, augment=augment,
                          bucket_by_length=spec.recipe.bucket_by_length,
                          class_names=reading.get("class_names"),
                          **common, **source_options(data))
    if not with_validation:
        return train, None
    try:
        validation = zoo_data.load(validation_source, split=validation_split,
                                   preprocessor=train.preprocessor, class_names=train.class_names,
                                   shuffle=False, augment=False, **common,
                                   **source_options(validation_source))
    except MissingColumnError as error:
        if validation_data is None:
            raise
        # The training table has the columns: its fix ("pass text_column=") would break it.
        raise MissingColumnError(
            error.summary,
            " The columns (named with text_column= and label_column=, --text-column and "
            "--label-column, else the defaults: sentence or text, and label) are read from "
            "the training and the validation data alike: give "
            "the validation table the same column names (frame.rename(columns=...), passed as "
            "a DataFrame), or leave validation_data (--validation-data) out to hold out 10% of "
            "the training data."
        ) from None
    return train, validation


def train(
    name_or_model: str | keras.Model,
    data: Any = None,
    validation_data: Any = None,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    workdir: str | Path | None = None,
    strategy: Any = "auto",
    jit_compile: bool | str = "auto",
    mixed_precision: str | None = "auto",
    callbacks: keras.callbacks.Callback | Sequence[keras.callbacks.Callback] | None = None,
    steps_per_execution: int = 1,
    augment: bool | None = None,
    verbose: int | str = "auto",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    text_column: str | None = None,
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train an entry with its recipe, evaluate it, and return a `TrainResult`.

    Args:
        name_or_model: an entry name, or a model built by `zoo.build` (named after its entry).
            A model given is compiled again by its entry's recipe (optimizer, schedule, weight
            average, loss), whatever it was compiled with; to train with a compile of your own,
            call `model.fit` on `zoo.data.load` datasets.
        data: training data: any source `zoo.data.load` accepts (a path to .npz/.csv/.tsv or a
            folder of class folders, a DataFrame, `(x, y)` arrays, `"tfds:NAME"`); None = the
            entry's TFDS dataset.
        validation_data: evaluation data. None = a seeded 10% hold-out of local `data`, or the
            TFDS dataset's labelled test split.
        epochs, batch_size: override the recipe.
        seed: seeds weights, shuffling, augmentation and the hold-out (None = 0). A model
            given built keeps the weights it has: the new head of `zoo.build(name,
            weights=..., num_classes=N)` was drawn when it was built, so for a repeatable one
            call `keras.utils.set_random_seed(seed)` before `zoo.build` (`zoo train --seed`
            does). Like `keras.utils.set_random_seed`, which it calls, it also resets the
            global random state of Python, NumPy and TensorFlow for the rest of the process.
        workdir: directory for checkpoints, history.csv, TensorBoard logs and the final model;
            rerunning with the same arguments resumes an interrupted run (where "auto" chooses
            the same precision and XLA setting: a run begun on a GPU resumes on a CPU when
            given them, as its refusal says).
        strategy, jit_compile, mixed_precision: device policy, "auto" by default
            (see `zoo.training.policy`).
        callbacks: extra Keras callbacks: one, or a list (as `model.fit` takes them). One that
            sets the learning rate (`ReduceLROnPlateau`, `LearningRateScheduler`) needs
            `schedule="constant"` and `warmup_epochs=0`; otherwise it is refused before
            training. A `ModelCheckpoint` saves the weights being trained; under a recipe's
            weight average the run's best and final models, and the model returned, hold the
            average.
        steps_per_execution: batches per compiled call (fewer Python round trips); lowered to a
            divisor of the epoch's batches, so that it never changes what trains.
        augment: training-time image augmentation; None = the entry's own `Augmentation`,
            False = none (validation data is never augmented).
        verbose: Keras verbosity; "auto" = progress bar on a terminal, one line per epoch otherwise.
        data_dir, download: TFDS sources, as for `zoo.data.load`: where the dataset is prepared,
            and whether it may be downloaded there when it is not.
        text_column, label_column: the columns of `.csv`/`.tsv` files and DataFrames (`data`
            and `validation_data` alike), as for `zoo.data.load`; by default `sentence` (else
            `text`) and `label`.
        class_names: every class's name in id order, for named labels (string labels, folder
            names) that should not be numbered in sorted order, or data lacking a class (the
            model still has one output per name); validation data maps to them too. Default: the
            entry's class names where the data's are among them, else the data's, sorted.
        **overrides: builder arguments or recipe fields, as for `zoo.build`.

    Example:
        >>> import numpy as np, zoo
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.integers(0, 255, (256, 28, 28), dtype=np.uint8), rng.integers(0, 10, 256)
        >>> result = zoo.train("mlp_mnist", (x, y), epochs=1, verbose=0)
        >>> list(result.history.epoch), result.report.num_examples
        ([1], 26)
    """
    data, validation_data = expand_user(data), expand_user(validation_data)
    workdir, data_dir = expand_user(workdir), expand_user(data_dir)
    checks.tensorflow_backend("zoo.train")
    if epochs is not None:
        overrides["epochs"] = checks.positive_int("epochs", epochs)
    if batch_size is not None:
        overrides["batch_size"] = checks.positive_int("batch_size", batch_size)
    seed = 0 if seed is None else checks.seed("seed", seed)
    steps_per_execution = checks.positive_int("steps_per_execution", steps_per_execution)
    callbacks = callback_list(callbacks)
    if workdir is not None:  # now, not after the data has loaded
        workdir = checks.writable_directory("workdir", workdir)
    if augment is not None and not isinstance(augment, bool):
        raise InvalidValueError(f"augment must be True, False or None, got {augment!r}.")
    checks.one_of("verbose", verbose, ("auto", 0, 1, 2))
    reading = reading_options(text_column, label_column, class_names)
    spec, given_model = _resolve_spec(name_or_model, overrides)
    check_rate_callbacks(callbacks, spec.recipe)
    if workdir is not None:
        _warn_of_overruled_restores(callbacks, spec.recipe)
    if given_model is not None and not given_model.trainable_weights:
        raise InvalidValueError(
            f"the model given to zoo.train has no trainable weights (model.trainable is "
            f"{given_model.trainable}, or every layer is frozen): training would change nothing. "
            f"Set model.trainable = True, or freeze part of it only (zoo.build(name, weights=..., "
            f"freeze_backbone=True) keeps the head trainable)."
        )
    if given_model is not None:
        # What the model was built with (zoo.build's overrides) is part of the run: the workdir's
        # config and exports must describe the network that trains, not the registered entry.
        overrides = spec.overrides_from(get_spec(spec.name))
    policy = resolve_policy(jit_compile, mixed_precision, strategy, entry=spec.name,
                            model=given_model)
    if policy.multi_worker and steps_per_execution != 1:
        logger.warning("steps_per_execution=%d is not applied: zoo's multi-worker step runs one "
                       "batch per call.", steps_per_execution)
    keras.utils.set_random_seed(seed)  # after the policy: a multi-worker strategy must come first
    if given_model is not None:
        _reseed(given_model)
    worker = policy.worker
    if workdir is not None and worker != 0:
        # Only the chief writes the run; other workers keep their copy apart so files never clash.
        workdir = Path(workdir) / f".worker-{worker}"

    # A text model started from a workdir's weights keeps that run's vocabulary (fine-tuning).
    preprocessor = pretrained_vocabulary(given_model) if given_model is not None else None
    config = _run_config(spec, overrides, seed, data, validation_data, policy, augment, reading,
                         given_model)
    run = None
    if workdir is not None:
        run = Workdir(workdir, config,
                      sources={"data": data, "validation_data": validation_data})
        if spec.input.kind == "text" and run.preprocessor_path.exists():
            from zoo.data import Preprocessor

            preprocessor = Preprocessor.load(run.preprocessor_path, spec)
    # Build first: a bad hyperparameter (dropout=2.0) fails in a second, before any data is read.
    with run_precision(policy.mixed_precision), policy.strategy.scope():
        model = given_model if given_model is not None else spec.build_model()
    if run is not None:
        check_reloadable(model)  # its .keras files are written as it trains and read back
    train_data, validation = load_run_data(spec, data, validation_data, seed, preprocessor, augment,
                                           data_dir=used_data_dir(data_dir, data,
                                                                  validation_data),
                                           download=download, reading=reading)
    preprocessor = train_data.preprocessor
    # Exports and evaluations of the model label its classes as the training data named them.
    spec = spec.with_data_class_names(train_data.class_names)
    keep_spec(model, spec)
    if run is not None:
        run.begin()  # only now that the data loaded: bad input leaves no directory behind
        # Before any model file: an interrupted run's best.keras is read with its names too.
        atomic_write_json(run.classes_path, {"class_names": list(spec.class_names)})
    # A Ctrl-C from here on (training, saving the final model, the evaluation) says what the
    # workdir kept and how to go on.
    with resume_told(run):
        try:  # (after begin: a refused workdir's claim is another process's, not to release)
            if (run is not None and spec.input.kind == "text"
                    and not run.preprocessor_path.exists()):
                preprocessor.save(run.preprocessor_path)
            history = _fit(model, spec, policy, run, train_data, validation,
                           steps_per_execution=steps_per_execution, callbacks=callbacks,
                           verbose=verbose)
        finally:
            if run is not None:
                # Also when training raises (a callback, Ctrl-C, divergence): the caller may
                # go on in this process (a notebook), and another process must then be able
                # to resume.
                run.release()
        report = evaluate(model, validation, spec=spec)
        report.history = history
        if run is not None:
            atomic_write_json(run.report_path, report.to_dict())
    # Plain JSON values (tuples as lists), exactly as a workdir's config.json holds them.
    run_config = run.config if run is not None else json.loads(json.dumps(config, default=str))
    return TrainResult(model=model, history=history, report=report, spec=spec,
                       preprocessor=preprocessor, policy=policy,
                       workdir=run.path if run is not None else None, run_config=run_config,
                       best_epoch=run.state.best_epoch if run is not None else None)


def _run_config(
    spec: ModelSpec, overrides: dict[str, Any], seed: int, data: Any, validation_data: Any,
    policy: DevicePolicy, augment: bool | None, reading: dict[str, Any],
    given_model: keras.Model | None,
) -> dict[str, Any]:
    """What a run is asked for, as a workdir's `config.json` records it: rerunning with the same
    configuration resumes, with another one is refused."""
    config = {
        "entry": spec.name,
        # Plain numbers, without overrides equal to the entry's default: those ask for the same run.
        "overrides": Workdir.recorded_overrides(spec.name, overrides),
        "seed": seed,
        "data": fingerprint(data),
        "validation_data": fingerprint(validation_data) if validation_data is not None else None,
    }
    if policy.mixed_precision is not None:
        # The optimizer's state and the numbers differ by precision: resuming in another one
        # dropped the state (Keras only warns) and restarted the schedule. Recorded only when
        # on, so float32 workdirs begun before still resume.
        config["mixed_precision"] = policy.mixed_precision
    if policy.jit_compile is True:
        # Likewise for XLA (on where "auto" finds a GPU): from the same seed it draws other
        # dropout masks, so a run resumed with the other setting matched neither.
        config["jit_compile"] = True
    if augment is not None:  # recorded only when set, so older workdirs still resume
        config["augment"] = bool(augment)
    config.update(reading)  # likewise: how the data is read is part of the run
    if given_model is not None:
        # A fine-tuning run is also where its weights started and what stays frozen (recorded
        # only for such runs, so other workdirs still resume).
        source = pretrained_source(given_model)
        if source is not None:
            config["weights"] = fingerprint(source)
        frozen = sorted(layer.name for layer in given_model.layers
                        if layer.weights and not layer.trainable)
        if frozen:
            config["frozen_layers"] = frozen
    return config


def _fit(
    model: keras.Model, spec: ModelSpec, policy: DevicePolicy, run: Workdir | None,
    train_data: Any, validation: Any, *, steps_per_execution: int,
    callbacks: list[keras.callbacks.Callback], verbose: int | str,
) -> pd.DataFrame:
    """Compile `model`, train it by its recipe (resuming `run` where it stopped) and return the
    history; with a workdir, the model ends with the best epoch's weights, saved as the run's
    final model."""
    recipe = spec.recipe
    steps_per_epoch = batches_per_epoch(train_data)
    fitting = fitting_steps_per_execution(steps_per_epoch, steps_per_execution)
    if fitting != steps_per_execution and not policy.multi_worker:
        logger.info("steps_per_execution=%d does not divide the epoch's %d batches: %d batches "
                    "per call instead, so that every epoch is one pass over the data.",
                    steps_per_execution, steps_per_epoch, fitting)
    steps_per_execution = fitting
    with run_precision(policy.mixed_precision), policy.strategy.scope():
        compile_model(model, spec, steps_per_epoch=steps_per_epoch,
                      jit_compile=policy.jit_compile, steps_per_execution=steps_per_execution)
        initial_epoch = run.restore(model) if run is not None else 0

    nan_guard = StopOnNaN()
    statistics = EpochStatistics()  # before WorkdirCheckpoint, which records them
    all_callbacks: list[keras.callbacks.Callback] = [RaiseLostInterrupt(), nan_guard, statistics]
    # With a weight average, validation scores the average (what the run returns and exports).
    # (Compiled without one where the run's length is unknown: see compile.ema_momentum.)
    ema = keras.callbacks.SwapEMAWeights() if model.optimizer.use_ema else None
    if ema is not None:
        all_callbacks.append(ema)
    stopper = None
    if recipe.early_stopping_patience:
        stopper = ResumableEarlyStopping(
            monitor=recipe.monitor, mode=monitor_mode(recipe.monitor),
            patience=recipe.early_stopping_patience,
            # With a workdir, best.keras is reloaded instead; with an average, the final average
            # is kept (restoring would bring back training weights, not an average).
            restore_best_weights=run is None and ema is None,
            previous_history=run.state.history if run else None,
        )
        all_callbacks.append(stopper)
    if run is not None:
        all_callbacks.append(WorkdirCheckpoint(run, recipe.monitor, statistics, nan_guard,
                                               ema=ema))
    # The caller's callbacks run after the epoch's commit (one that stops the run keeps it);
    # TensorBoard and the history rows then record what they added to the logs.
    all_callbacks.extend(callbacks)
    tensorboard = None
    if run is not None:
        tensorboard = WorkdirTensorBoard(log_dir=str(run.logs_path))
        all_callbacks.extend([tensorboard, WorkdirLogs(run)])

    verbose = fit_verbosity(verbose)
    already_done = run is not None and run.state.status == "complete"
    # Killed after an epoch that used up the patience, before the run was marked complete: the
    # uninterrupted run stopped there, so the resumed one must not train on.
    stopped = stopper is not None and run is not None and stopper.patience_used_up()
    if policy.multi_worker:  # every worker, before any of them may skip training
        check_same_epoch(policy.strategy, initial_epoch)
    keras_history = None
    if not already_done and not stopped and initial_epoch < recipe.epochs:
        logger.info("training %s from epoch %d to %d", spec.name, initial_epoch + 1,
                    recipe.epochs)
        # Under the run's precision again: Keras builds the compiled metrics at the first step.
        # And a Ctrl-C lost in a finalizer still stops the run.
        with run_precision(policy.mixed_precision), interrupts_kept(), \
                without_retracing_warnings(), logs_closed_on_error(tensorboard):
            if policy.multi_worker:
                keras_history = fit_multi_worker(
                    model, policy.strategy, train_data, validation, epochs=recipe.epochs,
                    initial_epoch=initial_epoch, callbacks=all_callbacks, verbose=verbose,
                )
            else:
                # One iterator for all epochs: Keras' new iterator per epoch stalls
                # (feeding.py). A resumed run continues the seeded shuffle and augmentation
                # where it stopped.
                repeated, steps = repeat_epochs(train_data, steps_per_execution, initial_epoch)
                keras_history = model.fit(
                    repeated,
                    steps_per_epoch=steps,
                    validation_data=validation,
                    epochs=recipe.epochs,
                    initial_epoch=initial_epoch,
                    callbacks=all_callbacks,
                    verbose=verbose,
                    shuffle=False,  # the pipeline shuffles, seeded; Keras would only warn
                )
    elif stopped:
        logger.info("the run in %s stopped early after %d epochs (patience used up): nothing "
                    "to train, evaluating it", run.path, len(run.state.history))
    elif run is not None:
        done = len(run.state.history)
        logger.info("the run in %s is already complete (%d epoch%s): nothing to train, "
                    "evaluating it", run.path, done, "" if done == 1 else "s")
    if nan_guard.diverged_at is not None:
        _diverged(spec, run, nan_guard.diverged_at)

    if run is None:
        return _history_frame(keras_history, statistics)
    best = run.best_model()  # refused when missing or damaged: model.keras is not replaced
    if best is not None:
        model.set_weights(best.get_weights())
    if not (already_done and run.final_model_is_whole()):
        # A complete run's model.keras stays as it is: saving it again changes its bytes (Keras
        # records the date), and a fine-tuning run started from it would then refuse to resume.
        save_atomically(model.save, run.final_model_path)
    run.mark("complete")
    return run.history_frame()


@contextlib.contextmanager
def resume_told(run: Workdir | None) -> Iterator[None]:
    """Inside, a Ctrl-C (or SIGTERM's `Terminated`) that stops a run with a workdir leaves as
    the same kind of interrupt, telling what the workdir kept and how to resume.

    The command line says it itself; this is for zoo.train called from Python, where a notebook
    shows only the interrupt's traceback.
    """
    try:
        yield
    except KeyboardInterrupt as interrupt:
        if run is None or interrupt.args:  # told already (a nested run), or nothing kept
            raise
        done = len(run.state.history)
        told = type(interrupt)(
            f"training interrupted after {count_text(done, 'completed epoch')}, kept in "
            f"{run.path}: call zoo.train again with the same arguments to resume from there."
        )
        raise told.with_traceback(interrupt.__traceback__) from None


def _diverged(spec: ModelSpec, run: Workdir | None, at: tuple[int, int]) -> None:
    """Raise `TrainingDivergedError` for a loss that became NaN at `at` (epoch, batch index),
    naming the checkpoint the workdir keeps."""
    if run is not None:
        run.mark("diverged")
    epoch, batch = at
    kept = ""
    if run is not None and run.state.history:
        last = len(run.state.history)
        kept = f" The last good checkpoint (epoch {last}) is kept in {run.path}."
    elif run is not None:
        kept = f" No epoch completed, so {run.path} holds no checkpoint."
    raise TrainingDivergedError(
        f"training {spec.name} diverged: the loss became NaN or infinite at epoch {epoch}, "
        f"batch {batch + 1}.{kept} Lower the learning rate (now {spec.recipe.learning_rate}) or "
        f"set clipnorm, and check the data for extreme values."
    )


def _history_frame(keras_history: Any, statistics: EpochStatistics) -> pd.DataFrame:
    """One row per epoch, columns as a workdir's history.csv has them: `epoch`, then sorted."""
    if keras_history is None or not keras_history.history:
        return pd.DataFrame({"epoch": []})
    frame = pd.DataFrame(keras_history.history)
    epochs = [e + 1 for e in keras_history.epoch]
    for column in ("learning_rate", "seconds"):
        frame[column] = [statistics.rows.get(e, {}).get(column) for e in epochs]
    frame.insert(0, "epoch", epochs)
    return frame[["epoch", *sorted(c for c in frame.columns if c != "epoch")]]
