"""The record of a search: when each trial ran and where, and the trials table (`trials.csv`).

The oracles here are keras-tuner's own with one addition, `TrialRecorder`: the oracle is the one
object that sees every trial start and end, locally and on the chief of a distributed search, so
it keeps the clock and rewrites `trials.csv` after each trial.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras_tuner
import pandas as pd

from zoo.io import TRIALS_FILE, atomic_write_text

# Columns around the hyperparameters; the trial's hyperparameter values sit between "status" and
# "score", in the order the search space declares them.
LEADING_COLUMNS = ("trial_id", "status")
TRAILING_COLUMNS = ("score", "best_epoch", "duration_s", "worker", "error")


class TrialRecorder:
    """Oracle mixin: when each trial started and ended and which tuner ran it.

    `on_trial_end(oracle)` is called after every trial, failed ones included. The clock is part of
    the oracle's saved state (`oracle.json`), so durations survive a resume.
    """

    on_trial_end: Callable[[Any], None] | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.clock: dict[str, dict[str, Any]] = {}  # trial_id -> {"worker", "started", "ended"}

    @keras_tuner.synchronized
    def create_trial(self, tuner_id: str) -> Any:
        trial = super().create_trial(tuner_id)
        record = self.clock.get(trial.trial_id)
        # A multi-worker tuner asks again for the trial it runs; a retried trial starts afresh.
        if trial.status == "RUNNING" and (record is None or "ended" in record):
            self.clock[trial.trial_id] = {"worker": tuner_id, "started": time.time()}
        return trial

    @keras_tuner.synchronized
    def end_trial(self, trial: Any) -> None:
        self.clock.setdefault(trial.trial_id, {})["ended"] = time.time()
        try:
            super().end_trial(trial)
        except RuntimeError:
            if trial.trial_id in self.end_order:
                # Too many failures in a row: keras-tuner raises after ending the trial but
                # before saving it, so a resumed search would find it running and train it again.
                self._save_ended(self.trials[trial.trial_id])
            raise
        finally:  # keras-tuner raises here when too many trials failed in a row: record them too
            if self.on_trial_end is not None:
                self.on_trial_end(self)

    def _save_ended(self, trial: Any) -> None:
        """What keras-tuner's `end_trial` does after its failure check: save the trial, and the
        oracle without it among the running ones."""
        for tuner_id, running in list(self.ongoing_trials.items()):
            if running.trial_id == trial.trial_id:
                self.ongoing_trials.pop(tuner_id)
        self._save_trial(trial)
        self.save()

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "zoo_clock": self.clock}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.clock = dict(state.get("zoo_clock", {}))


class RandomSearchOracle(TrialRecorder, keras_tuner.oracles.RandomSearchOracle):
    """keras-tuner's random search, recording its trials."""


class BayesianOptimizationOracle(TrialRecorder, keras_tuner.oracles.BayesianOptimizationOracle):
    """keras-tuner's Gaussian-process Bayesian optimization, recording its trials."""


class HyperbandOracle(TrialRecorder, keras_tuner.oracles.HyperbandOracle):
    """keras-tuner's Hyperband, recording its trials."""


def trials_frame(
    trials: Iterable[Any],
    clock: Mapping[str, Mapping[str, Any]],
    hyperparameters: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per keras-tuner `Trial`, in the order they were created.

    Columns: `trial_id`, `status` (`COMPLETED`, `FAILED`, `RUNNING`...), one column per
    hyperparameter (`hyperparameters` first, in that order, then any other the trials hold, such
    as Hyperband's `tuner/epochs`; empty where a trial does not use it), `score` (the objective
    at the best epoch: `val_accuracy` unless the search was given another), `best_epoch`
    (1-based), `duration_s`, `worker` (the tuner id that ran it) and `error` (the last line of
    a failed trial's error).

    A missing value is NaN in a float column (`score`, `duration_s`, a learning rate) and `<NA>`
    in an integer or text one (`best_epoch`, a layer width some trials lack, `error`): pandas'
    nullable integers keep a width 64 rather than 64.0; `frame.isna()` finds both.

    Example:
        >>> import keras_tuner
        >>> from zoo.tuning.trials import trials_frame
        >>> hp = keras_tuner.HyperParameters()
        >>> _ = hp.Float("learning_rate", 1e-4, 1e-2, default=1e-3)
        >>> trial = keras_tuner.engine.trial.Trial(hp, trial_id="0", status="COMPLETED")
        >>> clock = {"0": {"worker": "tuner0", "started": 10.0, "ended": 12.5}}
        >>> trials_frame([trial], clock)[
        ...     ["trial_id", "learning_rate", "duration_s"]
        ... ].to_dict("records")
        [{'trial_id': '0', 'learning_rate': 0.001, 'duration_s': 2.5}]
    """
    rows = []
    names = list(hyperparameters)
    for trial in sorted(trials, key=lambda t: int(t.trial_id)):
        values = trial.hyperparameters.values
        names += [name for name in values if name not in names]
        record = clock.get(trial.trial_id, {})
        started, ended = record.get("started"), record.get("ended")
        completed = trial.status == "COMPLETED" and trial.score is not None
        rows.append({
            "trial_id": trial.trial_id,
            "status": trial.status,
            **values,
            "score": trial.score if completed else None,
            # keras-tuner's best step counts the epochs of the trial's own fit, which for a
            # Hyperband trial continuing another starts after "tuner/initial_epoch".
            "best_epoch": (
                trial.best_step + values.get("tuner/initial_epoch", 0) + 1
                if completed and trial.best_step is not None else None
            ),
            "duration_s": round(ended - started, 3) if started and ended else None,
            "worker": record.get("worker"),
            "error": _last_line(trial.message),
        })
    frame = pd.DataFrame(rows, columns=[*LEADING_COLUMNS, *names, *TRAILING_COLUMNS])
    frame["best_epoch"] = frame["best_epoch"].astype("Int64")  # not 1.0 once a trial failed
    frame["error"] = frame["error"].astype("string")  # <NA> where none, failed trials or not
    for name in names:  # a width that only some trials use stays an integer: 64, not 64.0
        present = [row[name] for row in rows if row.get(name) is not None]
        if len(present) < len(rows) and all(type(value) is int for value in present):
            frame[name] = frame[name].astype("Int64")
    return frame


def write_trials_csv(directory: str | Path, frame: pd.DataFrame) -> Path:
    """Write `frame` to `directory/trials.csv` atomically (temporary file, then rename)."""
    return atomic_write_text(Path(directory) / TRIALS_FILE, frame.to_csv(index=False))


def _last_line(message: str | None) -> str | None:
    """The last non-empty line of a traceback, the exception and its message, without the
    exception's module path ("FailedTrialError: ...", not "keras_tuner.src.errors.Failed...")."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    return re.sub(r"^(?:\w+\.)+(?=\w+: )", "", lines[-1]) if lines else None
