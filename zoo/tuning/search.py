"""`zoo.tune`: search an entry's hyperparameters with keras-tuner, resumably, with a trials table.

Layout of DIRECTORY:
    search.json     what was asked: entry, tuner, objective, epochs, overrides, seed, data and the
                    search space; a rerun that asks for something else is refused
    trials.csv      one row per trial, rewritten atomically after every trial
    preprocessor/   the text vocabulary fitted on the training data (text entries)
    keras_tuner/    keras-tuner's project: oracle.json, trial_*/trial.json, each trial's best
                    weights

Resuming is keras-tuner's own: with `overwrite=False` the oracle reloads its trials from
`keras_tuner/`, finished trials are not run again, a trial that was running is run again, and
`max_trials` counts every trial so far, so a larger one runs only the new trials.

Distributed search is keras-tuner's chief/worker mode: start the same `zoo.tune` call once with
`KERASTUNER_TUNER_ID=chief` and once per worker (`tuner0`, `tuner1`, ...), all with
`KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` naming the chief and `directory` on storage
they share. The chief hands out trials and writes `search.json` and `trials.csv`; the workers train.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner
import pandas as pd
import tensorflow as tf

from zoo import checks
from zoo.data.catalog import is_tfds_source
from zoo.errors import InvalidValueError, MissingDependencyError, ZooError, first_line, warn
from zoo.interrupts import interrupts_kept
from zoo.io import (
    SEARCH_FILE,
    SEARCH_PROJECT,
    atomic_write_json,
    claim,
    default_search_directory,
    directory_kind,
    expand_user,
    holder,
    in_use_by,
    other_files,
    read_json_object,
    release,
)
from zoo.logs import quiet, without_retracing_warnings
from zoo.models.weights import carry_vocabulary
from zoo.registry import get_spec
from zoo.spec import MONITORS, ModelSpec, keep_spec, spec_of
from zoo.training.callbacks import (
    callback_list,
    check_rate_callbacks,
    fit_verbosity,
    monitor_mode,
)
from zoo.training.fingerprint import fingerprint
from zoo.training.loop import (
    load_run_data,
    reading_options,
    run_precision,
    run_splits,
    used_data_dir,
)
from zoo.training.policy import check_outside_strategy_scope, resolve_policy
from zoo.training.workdir import Workdir, comparable_config
from zoo.tuning.hypermodels import ZooHyperModel
from zoo.tuning.trials import (
    TRIALS_FILE,
    BayesianOptimizationOracle,
    HyperbandOracle,
    RandomSearchOracle,
    trials_frame,
    write_trials_csv,
)
from zoo.values import plain_json

TUNERS = ("hyperband", "random", "bayesian")
OBJECTIVES = MONITORS  # what a zoo model logs: compile_model tracks accuracy; trials validate
PREPROCESSOR_DIR = "preprocessor"
HYPERBAND_FACTOR = 3
# May change between runs of one search: a larger budget continues it.
_RESUMABLE_KEYS = ("max_trials",)

logger = logging.getLogger("zoo.tuning")


class SearchConflictError(ZooError):
    """The directory holds a search that asked for something else."""


class TuningError(ZooError):
    """The search stopped: too many trials in a row failed."""


@dataclass
class TuneResult:
    """What `zoo.tune` returns.

    Attributes:
        trials: one row per trial, as in `directory/trials.csv`: `trial_id`, `status`, one column
            per hyperparameter, `score`, `best_epoch`, `duration_s`, `worker`, `error`.
        best_hyperparameters: the best completed trial's hyperparameter values ({} when none).
        best_overrides: the same as builder arguments and recipe fields, with the overrides the
            search was given (but not `epochs`), ready for `zoo.build(name, **best_overrides)` or
            `zoo.train(name, data, **best_overrides)` to rebuild the best trial's model.
        directory: where the search lives; rerun `zoo.tune` with it to continue.
        spec: the entry's spec the search started from (overrides applied).
        preprocessor: the fitted input preprocessor (the text vocabulary the trials used).
        tuner: the keras-tuner `Tuner`, for anything else keras-tuner offers.
        hypermodel: the entry's `ZooHyperModel`.
        best_trial: the keras-tuner `Trial` behind `best_hyperparameters` (None when none).
        class_names: the training data's class names in id order; `best_model()` carries them,
            so `zoo.export(result.best_model(), DIR, preprocessor=...)` labels with them.
    """

    trials: pd.DataFrame = field(repr=False)
    best_hyperparameters: dict[str, Any]
    best_overrides: dict[str, Any]
    directory: Path
    spec: ModelSpec = field(repr=False)
    preprocessor: Any = field(default=None, repr=False)
    tuner: Any = field(default=None, repr=False)
    hypermodel: ZooHyperModel | None = field(default=None, repr=False)
    best_trial: Any = field(default=None, repr=False)
    class_names: tuple[str, ...] = ()

    def best_model(self) -> keras.Model:
        """The best trial's model, compiled, with the weights of its best epoch.

        Example: `zoo.tune`'s example ends with it (one search serves both).
        """
        if self.best_trial is None:
            raise TuningError(
                f"no trial of the search in {self.directory} completed, so there is no best model; "
                f"the `error` column of result.trials (or {self.directory / TRIALS_FILE}) says why."
            )
        try:
            with callers_keras_state(), run_precision(None):  # float32, as the trials
                model = self.tuner.load_model(self.best_trial)
        except OSError as error:  # h5py: a checkpoint truncated by a kill or a full disk
            checkpoint = self.directory / SEARCH_PROJECT / f"trial_{self.best_trial.trial_id}"
            raise TuningError(
                f"cannot read the best trial's checkpoint in {checkpoint} ({first_line(error)}); "
                f"it may be truncated or corrupt. Retrain its values instead: zoo.train(name, "
                f"data, **result.best_overrides) (zoo tune prints the command)."
            ) from None
        # Exports of it label classes as the training data named them (see ModelSpec).
        keep_spec(model, spec_of(model).with_data_class_names(self.class_names))
        # A text model reads raw text with the search's vocabulary in zoo.evaluate, zoo.export
        # and zoo.train without being given it (it was "pass preprocessor=...").
        return carry_vocabulary(model, self.preprocessor)


def tune(
    name: str,
    data: Any = None,
    validation_data: Any = None,
    *,
    tuner: str = "hyperband",
    max_trials: int = 10,
    epochs: int | None = None,
    objective: str | keras_tuner.Objective = "val_accuracy",
    directory: str | os.PathLike | None = None,
    overwrite: bool = False,
    seed: int | None = None,
    max_consecutive_failed_trials: int = 3,
    callbacks: keras.callbacks.Callback | Sequence[keras.callbacks.Callback] | None = None,
    jit_compile: bool | str = "auto",
    verbose: int | str = "auto",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    fixed: Mapping[str, Any] | None = None,
    text_column: str | None = None,
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
    **overrides: Any,
) -> TuneResult:
    """Search the hyperparameters of a registered entry; resumable, with a trials table.

    Each trial samples the entry's search space (`ModelSpec.search_space`, next to its family
    builder), builds the model as `zoo.build` would with those values, compiles it with the
    trial's recipe laid out over its run (learning-rate schedule and weight average, as
    `zoo.train` does), trains it on `data` and scores it on `validation_data`. Rerunning with the
    same arguments continues the search (see the module docstring); a trial that crashes or
    diverges is recorded as failed and the search goes on, up to `max_consecutive_failed_trials`
    in a row.

    Args:
        name: a registered entry name.
        data, validation_data: as for `zoo.train`: any source `zoo.data.load` takes; None = the
            entry's TFDS dataset; no `validation_data` = a seeded 10% hold-out of local `data`,
            or the last 10% of a TFDS dataset's train split, which trials then do not train on:
            the test split, which `zoo evaluate` reports, chooses no hyperparameter (`zoo.train`
            validates on it).
        tuner: "hyperband" (successive halving over epochs), "random" or "bayesian".
        max_trials: trials in all, counting those of earlier runs in `directory`.
        epochs: epochs per trial (Hyperband: the most any trial trains); default: the recipe's.
        objective: "val_accuracy", "val_loss", "accuracy", "loss" or a `keras_tuner.Objective`.
        directory: where the search lives (default `tuning/NAME`).
        overwrite: start afresh, deleting the search in `directory`.
        seed: seeds the tuner, the data order and hold-out, and every trial's initial weights
            (None = 0); each trial resets the global random state of Python, NumPy and
            TensorFlow (`keras.utils.set_random_seed`).
        max_consecutive_failed_trials: stop the search after this many failed trials in a row.
        callbacks: extra Keras callbacks for every trial: one, or a list. One that sets the
            learning rate (`ReduceLROnPlateau`, `LearningRateScheduler`) needs
            `schedule="constant"` and `warmup_epochs=0`; otherwise it is refused before any trial.
        jit_compile: XLA, "auto" = the device policy's choice for the entry.
        verbose: 0 silent, 1 progress bars, 2 one line per epoch; "auto" = 1 on a terminal, else 2.
            From 1 up, keras-tuner shows each trial's hyperparameters and result.
        data_dir, download: TFDS sources, as for `zoo.data.load`: where the dataset is prepared,
            and whether it may be downloaded there when it is not.
        fixed: hyperparameters of the search space held at a value in every trial, by name
            (`{"dropout": 0.3, "optimizer": "adam"}`; the names are the `trials` columns other
            than Hyperband's `tuner/*`); the others are searched. Each value is checked against
            its hyperparameter's type (and range, for a layer count) before anything runs.
        text_column, label_column: the columns of `.csv`/`.tsv` files and DataFrames, as for
            `zoo.train`.
        class_names: every class's name in id order, as for `zoo.train`.
        **overrides: builder arguments or recipe fields, as for `zoo.build`; they are also the
            search space's defaults (a searched one is still searched: hold it with `fixed`).

    Returns:
        A `TuneResult`: the trials DataFrame, the best hyperparameters and `best_model()`.

    Raises:
        SearchConflictError: `directory` holds a search that asked for something else.
        TuningError: `max_consecutive_failed_trials` trials failed in a row.

    Example:
        >>> import numpy as np, tempfile, zoo
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
        >>> result = zoo.tune("mlp_mnist", (x, y), tuner="random", max_trials=2, epochs=1,
        ...                   directory=tempfile.mkdtemp(), verbose=0)
        >>> list(result.trials.status)
        ['COMPLETED', 'COMPLETED']
        >>> sorted(result.best_overrides)
        ['batch_size', 'dropout', 'learning_rate', 'optimizer', 'units']
        >>> model = result.best_model()  # the best trial's network and weights, compiled
        >>> model.name, model.compiled
        ('mlp_mnist', True)
    """
    data, validation_data = expand_user(data), expand_user(validation_data)
    directory, data_dir = expand_user(directory), expand_user(data_dir)
    checks.tensorflow_backend("zoo.tune", checks.SEARCH_ELSEWHERE)
    # `if overwrite:` took overwrite="no" for True, and deleted the search it was to keep.
    checks.one_of("overwrite", overwrite, (True, False))
    _check_one_device(overrides)
    # Before anything is read or written: `max_trial` is a misspelt argument, not an override.
    entry = get_spec(name)
    entry.check_arguments(overrides, tune)
    checks.one_of("tuner", tuner, TUNERS)
    max_trials = checks.positive_int("max_trials", max_trials)
    callbacks = callback_list(callbacks)
    recipe_overrides = dict(overrides)
    if epochs is not None:
        recipe_overrides["epochs"] = checks.positive_int("epochs", epochs)
    if isinstance(objective, keras_tuner.Objective):
        # A name the trials never log would fail every trial, one by one, after training it.
        checks.one_of("objective.name", objective.name, OBJECTIVES)
    else:
        checks.one_of("objective", objective, OBJECTIVES)
    seed = 0 if seed is None else checks.seed("seed", seed)
    max_consecutive_failed_trials = checks.positive_int(
        "max_consecutive_failed_trials", max_consecutive_failed_trials
    )
    checks.one_of("verbose", verbose, ("auto", 0, 1, 2))
    reading = reading_options(text_column, label_column, class_names)
    directory = checks.writable_directory(
        "directory", default_search_directory(name) if directory is None else directory
    )
    role = _distributed_role()

    spec = entry.with_overrides(**recipe_overrides)
    check_rate_callbacks(callbacks, spec.recipe)
    # Trials train in float32 on one device: zoo.tune has no precision or strategy option.
    policy = resolve_policy(jit_compile, None, "default", entry=spec.name, chooser="zoo.tune")
    hypermodel = ZooHyperModel(spec, jit_compile=policy.jit_compile, seed=seed)
    space = hypermodel.space(fixed)
    oracle = _make_oracle(tuner, objective, max_trials, spec.recipe.epochs, seed,
                          max_consecutive_failed_trials, space)
    record = {
        "entry": spec.name,
        "tuner": tuner,
        # An Objective in its natural direction is the same search as its name.
        "objective": (
            objective if isinstance(objective, str)
            else objective.name if objective.direction == monitor_mode(objective.name)
            else f"{objective.name} ({objective.direction})"
        ),
        "epochs": spec.recipe.epochs,
        "overrides": Workdir.recorded_overrides(spec.name, overrides),
        "seed": seed,
        "data": fingerprint(data),
        "validation_data": fingerprint(validation_data) if validation_data is not None else None,
        "search_space": _space_description(space),
    }
    record.update(reading)  # only what was named, so searches begun before still resume
    if validation_data is None and is_tfds_source(data):
        # Trials scored on the train split's last 10%, no longer on the test split: a search
        # begun before this was recorded is refused (its trials were scored on other data).
        record["validation_split"] = run_splits(spec, data, None, tfds_hold_out=True)[1]
    _check_directory(directory, record, overwrite=overwrite, role=role)
    if role == "local":  # (in chief/worker mode the processes share the directory by design)
        _refuse_if_in_use(directory)  # before the data is read, or anything there touched

    # The chief hands out trials and trains none, but its result needs what the data fixes:
    # the vocabulary and class names to export the best model, and the number of examples the
    # trials' schedules were laid out over to compile it as they were.
    training_data = TrainingData(spec, data, validation_data, seed,
                                 None if overwrite else directory / PREPROCESSOR_DIR,
                                 data_dir=data_dir, download=download, reading=reading)
    validation = training_data.validation
    hypermodel.train_examples = training_data.num_examples
    claimed = False
    try:
        if role == "local":
            claimed = claim(directory)  # in one step: of two processes starting, one gets it
            if not claimed:
                raise _in_use_error(directory, in_use_by(directory) or 0)
            # Another process may have searched here while this one's data loaded.
            _check_directory(directory, record, overwrite=overwrite, role=role)
        with callers_keras_state(), run_precision(None):
            search = _run_search(
                directory, oracle, hypermodel, tuner, training_data, validation, record,
                max_trials=max_trials, callbacks=callbacks, verbose=verbose,
                overwrite=overwrite, role=role,
                max_consecutive_failed_trials=max_consecutive_failed_trials,
            )
    finally:
        if claimed:  # (not another process's claim)
            release(directory)

    if role == "worker":  # the chief owns the record; read what it has saved so far
        trials, clock = _trials_on_disk(directory / SEARCH_PROJECT)
        frame = trials_frame(trials, clock, _space_names(oracle))
    else:
        trials, frame = list(oracle.trials.values()), _frame(oracle)
        write_trials_csv(directory, frame)
        if len(trials) < max_trials:
            # keras-tuner ends a search without a word when its draws keep repeating values
            # already tried (max_trials is every tuner's limit here: zoo's Hyperband runs
            # brackets until it).
            warn(f"the search ran {len(trials)} of max_trials={max_trials} (--max-trials) "
                 f"trials: keras-tuner could not draw values it had not tried yet, and stopped. "
                 f"A space of few values, or one held mostly by fixed= (--fix), has no more to "
                 f"try.")
    best = _best_trial(trials, oracle.objective.direction)
    return TuneResult(
        trials=frame,
        best_hyperparameters=_public_values(best),
        # The call's own overrides too (vocab_size=...): together they rebuild the best trial.
        best_overrides=(
            {**overrides, **hypermodel.overrides(best.hyperparameters.copy())} if best else {}
        ),
        directory=directory,
        spec=spec,
        preprocessor=training_data.preprocessor,
        tuner=search,
        hypermodel=hypermodel,
        best_trial=best,
        class_names=training_data.class_names,
    )


class _HyperbandTuner(keras_tuner.Hyperband):
    """keras-tuner's Hyperband tuner (a promoted trial goes on from its parent's weights), run
    with an oracle made by `zoo.tune`."""

    def __init__(self, oracle: keras_tuner.Oracle, **kwargs: Any):
        # Hyperband.__init__ only makes its own oracle, then calls Tuner.__init__.
        keras_tuner.Tuner.__init__(self, oracle=oracle, **kwargs)


@contextlib.contextmanager
def callers_keras_state() -> Iterator[None]:
    """Give the caller's Keras global state back after a block in which keras-tuner works.

    keras-tuner calls `keras.backend.clear_session()` before it builds a trial's model (and in
    `load_model`), which left the caller's process with Keras' defaults: a dtype policy, flash
    attention or unsafe-deserialization setting of theirs gone, and layer names counted from
    zero again (a model of theirs built before and one built after then shared names, and could
    not be joined in one model). Keras keeps that state in two thread-local trackers, which
    `clear_session` replaces; the caller's are put back, so all of it returns. Keras has no
    public API for this: where its layout differs, the dtype policy, the setting that changes
    numbers, is still restored (it always is, last).

    Example:
        >>> import keras
        >>> from zoo.tuning.search import callers_keras_state
        >>> keras.config.set_dtype_policy("mixed_bfloat16")
        >>> with callers_keras_state():
        ...     keras.backend.clear_session()  # as keras-tuner does before every trial
        >>> keras.config.dtype_policy().name
        'mixed_bfloat16'
        >>> keras.config.set_dtype_policy("float32")
    """
    try:
        from keras.src.backend.common import global_state

        trackers = (global_state.GLOBAL_STATE_TRACKER, global_state.GLOBAL_SETTINGS_TRACKER)
    except (ImportError, AttributeError):
        global_state = None
    policy = keras.config.dtype_policy()
    try:
        yield
    finally:
        if global_state is not None:
            global_state.GLOBAL_STATE_TRACKER, global_state.GLOBAL_SETTINGS_TRACKER = trackers
        # Set again after the trackers: a block that changed the policy before keras-tuner first
        # cleared the session (zoo's own float32 pin) changed it in the caller's tracker.
        keras.config.set_dtype_policy(policy)


def _make_oracle(
    tuner: str, objective: Any, max_trials: int, epochs: int, seed: int, max_failures: int,
    space: keras_tuner.HyperParameters,
) -> keras_tuner.Oracle:
    common = {
        "objective": objective,
        "hyperparameters": space,  # its Fixed ones stay fixed; the others are searched
        "seed": seed + 1,  # keras-tuner takes a seed of 0 as "none" and draws a random one
        "max_retries_per_trial": 0,  # a crash is recorded as failed, not retried
        "max_consecutive_failed_trials": max_failures,
    }
    if tuner == "random":
        return RandomSearchOracle(max_trials=max_trials, **common)
    if tuner == "bayesian":
        try:
            return BayesianOptimizationOracle(max_trials=max_trials, **common)
        except ImportError as error:  # keras-tuner's optional Gaussian-process dependencies
            raise MissingDependencyError(
                f"tuner='bayesian' needs scipy and scikit-learn ({error}); install them with "
                f"pip install 'keras-tuner[bayesian]', or use tuner='random' or 'hyperband'."
            ) from None
    if epochs < HYPERBAND_FACTOR:
        # One bracket of full-length trials: a random search under another name, said nowhere.
        warn(f"tuner='hyperband' with epochs={epochs}: Hyperband trains trials for a few epochs "
             f"and goes on with the best ones {HYPERBAND_FACTOR} times longer, so with fewer "
             f"than {HYPERBAND_FACTOR} epochs there is nothing to go on with: every trial trains "
             f"{epochs} epoch{'s' if epochs > 1 else ''}, as tuner='random' does. Give "
             f"epochs={HYPERBAND_FACTOR} or more ({HYPERBAND_FACTOR ** 2} for two rounds), or "
             f"use tuner='random' (command line: --epochs {HYPERBAND_FACTOR}, --tuner random).")
    # Hyperband brackets run as many times as max_trials allows (None = unlimited iterations);
    # every oracle stops creating trials once it holds max_trials.
    oracle = HyperbandOracle(max_epochs=epochs, factor=HYPERBAND_FACTOR, hyperband_iterations=None,
                             **common)
    oracle.max_trials = max_trials
    return oracle


def _check_one_device(overrides: Mapping[str, Any]) -> None:
    """Trials train on one device. Refuse what says otherwise: a `strategy` (zoo.train's option),
    a call inside `with strategy.scope()` (the trials trained under it, and leaving the scope
    afterwards failed), and warn that a TF_CONFIG cluster does not share the search."""
    if "strategy" in overrides:
        raise InvalidValueError(
            "zoo.tune has no strategy option: each trial trains on one device. To share a search "
            "between machines, run keras-tuner's chief/worker mode (KERASTUNER_TUNER_ID, "
            "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT); train the best values with a "
            "strategy: zoo.train(name, data, strategy=..., **result.best_overrides)."
        )
    check_outside_strategy_scope("zoo.tune", "its trials each train on one device (train the "
                                 "best values inside it: zoo.train(name, data, "
                                 "**result.best_overrides))")
    if os.environ.get("TF_CONFIG") and "KERASTUNER_ORACLE_IP" not in os.environ:
        logger.warning(
            "TF_CONFIG is set, but zoo.tune does not search across its cluster: each process "
            "runs a search of its own (a second one in the same directory is refused). Share a "
            "search with keras-tuner's chief/worker mode (KERASTUNER_TUNER_ID, "
            "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT)."
        )


def _distributed_role() -> str:
    """'chief' or 'worker' in keras-tuner's distributed mode (KERASTUNER_* variables), else
    'local'."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "local"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


class TrainingData:
    """The training split from the shared pipeline in batches of any size, loaded for each trial.

    A trial's batch size is a hyperparameter; loading at that size (rather than re-batching one
    dataset) keeps every pipeline feature exact: length bucketing, augmentation per batch, and
    the number of batches that learning-rate schedules are laid out over. Each trial gets a
    pipeline of its own: a seeded pipeline draws a new order at every pass, so one shared across
    trials would give a trial the order its place in the process dictates, and a resumed search
    other data than an uninterrupted one. The vocabulary is fitted once and shared.
    """

    def __init__(self, spec: ModelSpec, data: Any, validation_data: Any, seed: int,
                 saved_preprocessor: Path | None = None, *,
                 data_dir: str | os.PathLike | None = None, download: bool = True,
                 reading: Mapping[str, Any] | None = None):
        data_dir = used_data_dir(data_dir, data, validation_data)  # warned once, not per trial
        self._load = lambda batch_size, fitted, with_validation=True: load_run_data(
            spec.with_overrides(batch_size=batch_size), data, validation_data, seed, fitted,
            with_validation=with_validation, data_dir=data_dir, download=download,
            reading=reading, tfds_hold_out=True,
        )
        preprocessor = None
        if (
            spec.input.kind == "text"
            and saved_preprocessor is not None
            and saved_preprocessor.exists()
        ):
            from zoo.data import Preprocessor

            # The vocabulary of an earlier run of the search: resumed trials see the same ids.
            preprocessor = Preprocessor.load(saved_preprocessor, spec)
        with warnings_said_once(set()) as self._said:  # what the data warrants, said here
            train, self.validation = self._load(spec.recipe.batch_size, preprocessor)
        self.preprocessor = train.preprocessor  # the vocabulary is fitted once, on this load
        self.num_examples = train.num_examples
        self.class_names = tuple(train.class_names)  # the ids every trial trains with

    def __call__(self, batch_size: int) -> Any:
        # Made now, after the trial's build() set the global seed: tf.data derives its shuffle
        # and augmentation seeds from that seed and the pipeline's own. The same data as the
        # first load, which said what there is to say about it (labels short of the classes,
        # one class, blank texts, what the label ids stand for): not again for every trial;
        # a warning the first load did not give still shows.
        with warnings_said_once(self._said), quiet("zoo"):
            return self._load(batch_size, self.preprocessor, with_validation=False)[0]


@contextlib.contextmanager
def warnings_said_once(said: set[str]) -> Iterator[set[str]]:
    """Inside, a warning whose text is in `said` is not shown again; the others show as they
    would (the caller's filters, "error" ones too, apply as ever) and join `said` (yielded).

    Example:
        >>> import warnings
        >>> from zoo.tuning.search import warnings_said_once
        >>> with warnings.catch_warnings(record=True) as shown:
        ...     warnings.simplefilter("always")
        ...     with warnings_said_once(set()) as said:
        ...         warnings.warn("labels short of the classes")
        ...     with warnings_said_once(said):
        ...         warnings.warn("labels short of the classes")  # said already
        ...         warnings.warn("a warning of this trial's own")
        >>> [str(w.message) for w in shown]
        ['labels short of the classes', "a warning of this trial's own"]
    """
    show = warnings.showwarning

    def show_new(message: Any, category: Any, filename: str, lineno: int, *args: Any,
                 **kwargs: Any) -> None:
        if str(message) in said:
            return
        said.add(str(message))
        show(message, category, filename, lineno, *args, **kwargs)

    warnings.showwarning = show_new
    try:
        yield said
    finally:
        warnings.showwarning = show


def _save_once(preprocessor: Any, path: Path) -> None:
    if path.exists():
        return
    try:
        preprocessor.save(path)
    except OSError:
        if not path.exists():  # not another worker that saved it first
            raise


def _space_description(space: keras_tuner.HyperParameters) -> dict[str, Any]:
    """Every hyperparameter of the space (`ZooHyperModel.space`): name -> type and config."""
    description = {}
    for parameter in space.space:
        config = {key: value for key, value in parameter.get_config().items() if key != "name"}
        description[parameter.name] = {"type": type(parameter).__name__, **config}
    return plain_json(description)  # a NumPy default as the number it is, not its text


def _refuse_if_in_use(directory: Path) -> None:
    """Refuse a directory another live process is searching in (`zoo.io.in_use_by`): both
    would train the same trials into the same files."""
    pid = in_use_by(directory)
    if pid is not None:
        raise _in_use_error(directory, pid)


def _in_use_error(directory: Path, pid: int) -> SearchConflictError:
    return SearchConflictError(
        f"{directory} is in use: {holder(pid)} is searching there. Wait for it to finish "
        f"(or stop it), then rerun to continue the search; or use another directory. (To "
        f"share one search between processes, use keras-tuner's chief/worker mode.)"
    )


def _check_directory(directory: Path, record: dict[str, Any], *, overwrite: bool,
                     role: str) -> None:
    """Refuse a directory the search cannot use: a training workdir; without `overwrite`, a
    search that asked for something else; with it, files that are not an earlier search (which
    a worker leaves to the chief). Writes nothing."""
    _refuse_a_run(directory)
    if not overwrite:
        _check_previous_search(directory, record, role)
    elif role != "worker":
        _check_only_a_search(directory)


def _refuse_a_run(directory: Path) -> None:
    """Refuse a training workdir: a search there would mix its files with the run's and, for
    text, take the run's vocabulary (fitted on the run's data) for its own."""
    if directory_kind(directory) == "run":
        raise SearchConflictError(
            f"{directory} holds a training run (zoo.train, zoo train), not a search; a search "
            f"there would mix its files with the run's and reuse its vocabulary. Use another "
            f"directory (directory=, --directory)."
        )


def _check_only_a_search(directory: Path) -> None:
    """Refuse to start afresh in a directory that holds something other than a search:
    overwrite deletes an earlier search's files (its vocabulary among them), never a training
    workdir's or anything else."""
    if not other_files(directory):
        return  # empty, or holding only this search's claim
    if directory_kind(directory) == "search":
        return
    raise SearchConflictError(
        f"{directory} holds files but no search (no {SEARCH_FILE} or {SEARCH_PROJECT}/); "
        f"overwrite=True (--overwrite) replaces only an earlier search, so zoo will not start "
        f"one there. Pick a new directory."
    )


def _check_previous_search(directory: Path, record: dict[str, Any], role: str) -> None:
    """Refuse a directory whose search asked for something else. Writes nothing."""
    path = directory / SEARCH_FILE
    if not path.exists():
        # (In chief/worker mode a worker may make keras_tuner/ before the chief records.)
        if role == "local" and (directory / SEARCH_PROJECT).is_dir():
            # Its trials' settings are unknown: continuing would mix them with these.
            raise SearchConflictError(
                f"{directory} holds keras-tuner's trials ({SEARCH_PROJECT}/) but not the "
                f"record of what the search asked for ({SEARCH_FILE}), so zoo cannot tell "
                f"whether these settings are its own. Pass overwrite=True (--overwrite) to start "
                f"afresh, or use a new directory."
            )
        other = other_files(directory, own=(SEARCH_PROJECT, PREPROCESSOR_DIR, TRIALS_FILE))
        if other:
            # No search began here; a search among these files would mix its own with them (in
            # a folder of class folders, keras_tuner/ and preprocessor/ became classes).
            raise SearchConflictError(
                f"{directory} holds other files ({other}) and no search; a search would "
                f"write its files among them. Use a new or empty directory (directory=, "
                f"--directory)."
            )
        return
    try:
        previous = read_json_object(path)  # `[]` failed in comparable_config, an AttributeError
    except (OSError, ValueError) as error:
        raise SearchConflictError(
            f"cannot read {path} ({error}); pass overwrite=True (--overwrite) to start afresh "
            f"or use a new directory."
        ) from None
    previous = comparable_config(previous)
    current = comparable_config(plain_json(record))
    changed = [key for key in sorted(set(previous) | set(current))
               if key not in _RESUMABLE_KEYS and previous.get(key) != current.get(key)]
    if not changed:
        return
    details = "; ".join(
        _space_change(previous.get(key) or {}, current.get(key) or {}) if key == "search_space"
        else f"{key}: was {previous.get(key)!r}, now {current.get(key)!r}"
        for key in changed
    )
    raise SearchConflictError(
        f"{directory} holds a search that asked for something else ({details}). Rerun with the "
        f"same settings to continue it (a larger max_trials is fine), pass overwrite=True "
        f"(--overwrite) to start afresh, or use a new directory."
    )


def _space_change(previous: dict[str, Any], current: dict[str, Any]) -> str:
    parts = [f"hyperparameter {name!r} added: {_describe(current[name])}"
             for name in current if name not in previous]
    parts += [f"hyperparameter {name!r} removed" for name in previous if name not in current]
    parts += [f"hyperparameter {name!r} was {_describe(previous[name])}, "
              f"now {_describe(current[name])}"
              for name in current if name in previous and previous[name] != current[name]]
    return "search space changed: " + ", ".join(parts)


def _describe(config: dict[str, Any]) -> str:
    """'Choice([16, 32, 64], default 32)', 'Float(0.0001..0.01, log, default 0.001)',
    'Fixed(0.3)'..."""
    if config.get("type") == "Fixed":
        return f"Fixed({config.get('value')!r})"
    if "values" in config:
        domain = f"{config['values']}, "
    elif "min_value" in config:
        sampling = config.get("sampling")
        domain = f"{config['min_value']}..{config['max_value']}"
        domain += f", {sampling}, " if sampling and sampling != "linear" else ", "
    else:
        domain = ""
    return f"{config.get('type', 'HyperParameter')}({domain}default {config.get('default')!r})"


def _space_names(oracle: Any) -> list[str]:
    return [parameter.name for parameter in oracle.get_space().space]


def _run_search(
    directory: Path, oracle: Any, hypermodel: Any, tuner: str, training_data: Any,
    validation: Any, record: dict[str, Any], *, max_trials: int, callbacks: list[Any],
    verbose: int | str, overwrite: bool, role: str, max_consecutive_failed_trials: int,
) -> Any:
    """Make keras-tuner's tuner over `directory` (afresh with `overwrite`), record the search
    and run its trials; return the tuner."""
    verbose = fit_verbosity(verbose)
    tuner_class = _HyperbandTuner if tuner == "hyperband" else keras_tuner.Tuner
    try:
        # keras-tuner prints "Reloading Tuner from ..." whatever the verbosity: silent means
        # silent.
        with contextlib.redirect_stdout(io.StringIO()) if verbose == 0 else (
                contextlib.nullcontext()):
            search = tuner_class(oracle=oracle, hypermodel=hypermodel, directory=str(directory),
                                 project_name=SEARCH_PROJECT,
                                 overwrite=overwrite and role != "worker")
    except (json.JSONDecodeError, KeyError, OSError, tf.errors.OpError) as error:
        # keras-tuner writes its files in place: a kill mid-write leaves one empty.
        raise SearchConflictError(
            f"cannot reload the search in {directory}: keras-tuner's files in {SEARCH_PROJECT}/ "
            f"are damaged or unreadable ({type(error).__name__}: {first_line(error)}). Its "
            f"finished trials are listed in {directory / TRIALS_FILE}; pass overwrite=True "
            f"(--overwrite) to start afresh, or use a new directory."
        ) from None
    if role != "worker":
        _check_recorded_trials(oracle, directory)
        _forget_unrecorded_trials(oracle, directory / SEARCH_PROJECT)
        _say_when_nothing_runs(oracle, directory, max_trials)
    if overwrite and role != "worker":
        # After keras-tuner cleared its trials: cut short before, the earlier search's record
        # still describes them, and a rerun continues or refuses it as that search.
        for path in (directory / SEARCH_FILE, directory / TRIALS_FILE):
            path.unlink(missing_ok=True)
        shutil.rmtree(directory / PREPROCESSOR_DIR, ignore_errors=True)
    if hypermodel.spec.input.kind == "text":
        _save_once(training_data.preprocessor, directory / PREPROCESSOR_DIR)
    if role != "worker":
        atomic_write_json(directory / SEARCH_FILE, {**record, "max_trials": max_trials})
        oracle.on_trial_end = lambda recorder: write_trials_csv(directory, _frame(recorder))
        write_trials_csv(directory, _frame(oracle))
    try:
        with _keras_tuner_output(verbose), interrupts_kept(), without_retracing_warnings():
            search.search(training_data, validation_data=validation,
                          callbacks=callbacks, verbose=verbose)
    except RuntimeError as error:
        if role != "worker" and _failed_in_a_row(oracle) >= max_consecutive_failed_trials:
            raise _stopped(oracle, directory) from error
        raise
    return search


def _check_recorded_trials(oracle: Any, directory: Path) -> None:
    """Refuse, before any trial trains, a search whose oracle.json names trials whose
    trial_N/trial.json is gone: keras-tuner failed on it with a KeyError once the next trial
    ended."""
    recorded = dict.fromkeys([*oracle.start_order, *oracle.end_order])
    missing = [trial_id for trial_id in recorded if trial_id not in oracle.trials]
    if missing:
        files = ", ".join(f"{SEARCH_PROJECT}/trial_{trial_id}/trial.json" for trial_id in missing)
        raise SearchConflictError(
            f"cannot reload the search in {directory}: keras-tuner's record (oracle.json) names "
            f"trial {', '.join(missing)}, whose file is missing ({files}). Restore it; or, "
            f"the finished trials being listed in {directory / TRIALS_FILE}, pass "
            f"overwrite=True (--overwrite) to start afresh, or use a new directory."
        )


def _forget_unrecorded_trials(oracle: Any, project: Path) -> None:
    """Forget trials that keras-tuner saved as begun (trial_N/trial.json) but never recorded in
    oracle.json, its record of what started: a kill between those two writes. Reloaded, such a
    trial stayed RUNNING for good, counted toward max_trials, and its values ran again as the
    next trial. Forgotten, it runs as that next trial; it had not trained (training starts once
    oracle.json is written), so nothing is lost."""
    recorded = set(oracle.start_order)
    for trial_id, trial in list(oracle.trials.items()):
        if trial.status == "RUNNING" and trial_id not in recorded:
            del oracle.trials[trial_id]
            (project / f"trial_{trial_id}" / "trial.json").unlink(missing_ok=True)
            logger.warning("trial %s was stopped as it began, before keras-tuner recorded it "
                           "(oracle.json): it runs again", trial_id)


def _say_when_nothing_runs(oracle: Any, directory: Path, max_trials: int) -> None:
    """A rerun whose max_trials the search already holds runs no trial: say so, rather than
    return the earlier trials as if searched again. A trial cut short (by Ctrl-C or a kill) is
    still RUNNING in keras-tuner's record, and it runs again from its start: said instead."""
    held = len(oracle.trials)
    cut_short = sorted(trial_id for trial_id, trial in oracle.trials.items()
                       if trial.status == "RUNNING")
    if cut_short:
        logger.info("the search in %s resumes: trial %s was cut short and runs again from its "
                    "start (%d trials held, max_trials=%d).", directory, ", ".join(cut_short),
                    held, max_trials)
    elif held > max_trials:
        logger.warning("the search in %s already holds %d trials, more than max_trials=%d: none "
                       "runs, and all %d are listed. Pass max_trials above %d to run more.",
                       directory, held, max_trials, held, held)
    elif held == max_trials:
        logger.info("the search in %s is complete (%d trials, max_trials=%d): none runs. Pass a "
                    "larger max_trials to run more.", directory, held, max_trials)


@contextlib.contextmanager
def _tuner_flag(module_name: str, flag: str, value: bool) -> Iterator[None]:
    """Set keras-tuner's module flag `keras_tuner.src.MODULE_NAME.FLAG` to `value` for the
    block. The flags are private: a keras-tuner without one is left as it is."""
    try:
        module = importlib.import_module(f"keras_tuner.src.{module_name}")
    except ImportError:
        module = None
    before = getattr(module, flag, None)
    if not isinstance(before, bool) or before == value:
        yield
        return
    setattr(module, flag, value)
    try:
        yield
    finally:
        setattr(module, flag, before)


def _keras_tuner_output(verbose: int) -> contextlib.ExitStack:
    """keras-tuner's output as the search's `verbose` asks, whatever its own module flags say.

    - It prints a failed trial's whole traceback to stderr whatever the verbosity (`DEBUG`, on
      by default): silent means silent, and the trial's error stays in the `error` column.
    - It takes every process where IPython is installed for a notebook (it reads the class name
      of `IPython.get_ipython()`, which is None outside one) and "clears the output" between
      trials, which wrote escape codes into logs (`zoo tune ... > log`): outside a running
      IPython it prints as in a terminal.
    """
    stack = contextlib.ExitStack()
    if verbose == 0:
        stack.enter_context(_tuner_flag("config", "DEBUG", False))
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        stack.enter_context(_tuner_flag("utils", "IS_NOTEBOOK", False))
    return stack


def _frame(oracle: Any) -> pd.DataFrame:
    return trials_frame(oracle.trials.values(), oracle.clock, _space_names(oracle))


def _stopped(oracle: Any, directory: Path) -> TuningError:
    failed = _failed_in_a_row(oracle)
    last = _frame(oracle).query("status == 'FAILED'").error.iloc[-1]
    last = last if isinstance(last, str) else "no message"
    return TuningError(
        f"the search in {directory} stopped: {failed} trial{'s' if failed > 1 else ''} in a row "
        f"failed (max_consecutive_failed_trials={oracle.max_consecutive_failed_trials}); the last: "
        f"{last.rstrip('.')}. Every trial is listed in {directory / TRIALS_FILE}. Fix the cause "
        f"(a learning rate that makes the loss diverge, data the model cannot take) and rerun to "
        f"continue, or allow more failures: finished trials are kept."
    )


def _failed_in_a_row(oracle: Any) -> int:
    count = 0
    for trial_id in reversed(oracle.end_order):
        if oracle.trials[trial_id].status != "FAILED":
            break
        count += 1
    return count


def _trials_on_disk(project: Path) -> tuple[list[Any], dict[str, Any]]:
    """The trials and clock the chief has saved in the shared project directory."""
    trials = []
    for path in sorted(project.glob("trial_*/trial.json")):
        try:
            trials.append(keras_tuner.engine.trial.Trial.load(str(path)))
        except (OSError, ValueError):  # being rewritten by the chief right now
            continue
    try:
        clock = json.loads((project / "oracle.json").read_text()).get("zoo_clock", {})
    except (OSError, ValueError):
        clock = {}
    return trials, clock


def _best_trial(trials: Sequence[Any], direction: str) -> Any:
    completed = [t for t in trials if t.status == "COMPLETED" and t.score is not None]
    if not completed:
        return None
    pick = max if direction == "max" else min
    return pick(completed, key=lambda trial: trial.score)


def _public_values(trial: Any) -> dict[str, Any]:
    """A trial's hyperparameter values without Hyperband's bookkeeping (`tuner/epochs`...)."""
    if trial is None:
        return {}
    return {key: value for key, value in trial.hyperparameters.values.items()
            if not key.startswith("tuner/")}
