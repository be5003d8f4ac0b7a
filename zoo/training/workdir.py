"""A training run's working directory: configuration, resumable state, history and checkpoints.

Layout of WORKDIR:
    config.json        what was asked for; a rerun with another configuration is refused
    state.json         the commit point: last completed epoch, its weights file, every history row,
                       the best epoch and its monitored value
    state/             weights + optimizer state of the last completed epoch
                       (`epoch_NNNN.weights.h5`); briefly also `best_epoch_NNNN.keras`, a new best
                       model on its way to `best.keras`
    history.csv        one row per completed epoch (column `epoch` is 1-based), derived from state
    best.keras         the best model so far by the recipe's monitor (the later epoch on a tie)
    model.keras        the final model, written when training ends
    preprocessor/      the fitted text vocabulary (text entries)
    classes.json       the class names the model's ids stand for (the data's, else the
                       entry's), written when the run begins: best.keras is read with them
    logs/              TensorBoard event files
    report.json        evaluation of the final model
    process.json       the process training here (removed when the run ends): while it lives,
                       another is refused

Crash safety. Every file is written to a temporary name and renamed, and `state.json` is the
commit point: after a crash or `kill -9`, the run resumes from the last epoch whose state was
committed, so no completed epoch is lost or repeated in `history.csv`. An epoch commits in this
order:
    1. its weights go to `state/epoch_NNNN.weights.h5`;
    2. if it is the new best, its model goes to `state/best_epoch_NNNN.keras`;
    3. `state.json` records the epoch, and the best epoch (the commit point);
    4. `state/best_epoch_NNNN.keras` is renamed to `best.keras`;
    5. `history.csv` is rewritten and the previous epoch's weights are deleted.
When a run resumes (`begin`), a best model that state.json committed but that never reached
`best.keras` (a crash between 3 and 4) is moved there; files of epochs state.json never
committed (a crash before 3), the previous epoch's weights (a crash before 5 ended) and the
temporary files of interrupted writes are deleted. So once the run is resumed, `best.keras` holds
the epoch state.json names as best. Until then, only the window between 3 and 4 leaves it one
best epoch behind: a model of an epoch that history.csv describes, never an uncommitted one.
A workdir serves one process at a time (multi-worker runs give every worker its own).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import re
import shlex
import shutil
import zipfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from zoo.errors import ZooError, first_line
from zoo.io import (
    BEST_FILE,
    CLASSES_FILE,
    CONFIG_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    PROCESS_FILE,
    REPORT_FILE,
    STATE_DIR,
    STATE_FILE,
    atomic_write_json,
    atomic_write_text,
    claim,
    directory_kind,
    holder,
    in_use_by,
    json_kind,
    other_files,
    read_json_object,
    release,
    remove_temporaries,
    save_atomically,
)
from zoo.models.weights import HEAD_LAYER, load_weights_checked
from zoo.registry import get_spec
from zoo.spec import ModelSpec
from zoo.values import as_declared, data_options, keyword_arguments, plain_json, set_arguments

logger = logging.getLogger("zoo.training")

_EPOCH_WEIGHTS = re.compile(r"epoch_\d+\.weights\.h5")
_PENDING_BEST = re.compile(r"best_epoch_\d+\.keras")


class WorkdirConflictError(ZooError):
    """The working directory holds a run with a different configuration."""


@dataclass
class RunState:
    """What `state.json` records."""

    epoch: int = 0  # completed epochs
    weights: str | None = None  # path of the weights file, relative to the workdir
    history: list[dict[str, Any]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    status: str = "new"  # "new", "running", "complete", "diverged"
    # The model's random seed states (its dropout's) after `epoch`: `save_weights` leaves them
    # out, and a resumed run that started them again would drop other units than the run it
    # continues. None in workdirs written before zoo kept them.
    seed_states: list[Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Any) -> RunState:
        """The state `data` (state.json's content) records; ValueError saying what is wrong
        where it is not what `to_json` writes. Checked whole before anything acts on it:
        resuming deletes the epoch files the state does not name, so a state read wrong
        (an epoch "x", no weights) deleted the run's last weights and started it again.

        Example:
            >>> from zoo.training.workdir import RunState
            >>> RunState.from_json({"epoch": 2, "weights": "state/epoch_0002.weights.h5"}).epoch
            2
            >>> RunState.from_json({"epoch": "x"})
            Traceback (most recent call last):
            ...
            ValueError: its 'epoch' is 'x', expected an integer >= 0
        """
        if not isinstance(data, dict):
            raise ValueError(f"it holds a JSON {json_kind(data)}, expected an object")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"it has fields zoo does not write: {', '.join(unknown)}")
        for name, (valid, expected) in _STATE_FIELDS.items():
            if name in data and not valid(data[name]):
                raise ValueError(f"its {name!r} is {data[name]!r:.60}, expected {expected}")
        state = cls(**data)
        if state.epoch and not state.weights:
            raise ValueError(f"it records {state.epoch} completed epoch(s) but no weights file")
        return state


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# What each field of state.json must be: a check, and what to call it in a message.
_STATE_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epoch": (_is_count, "an integer >= 0"),
    "weights": (lambda value: value is None or isinstance(value, str),
                "a file name in the workdir, or null"),
    "history": (lambda value: isinstance(value, list) and all(
        isinstance(row, dict) and _is_count(row.get("epoch")) for row in value),
        "a list of rows (objects), each with its epoch"),
    "best_value": (lambda value: value is None or _is_number(value), "a number, or null"),
    "best_epoch": (lambda value: value is None or _is_count(value), "an integer, or null"),
    "status": (lambda value: isinstance(value, str), "a text such as 'running'"),
    "seed_states": (lambda value: value is None or isinstance(value, list), "a list, or null"),
}


class Workdir:
    """Manage one run's directory. See the module docstring for the layout."""

    def __init__(
        self, path: str | os.PathLike, config: dict[str, Any], *,
        sources: Mapping[str, Any] | None = None,
    ):
        """`sources`: the call's `data` and `validation_data` as given (paths, TFDS names,
        arrays), which the config holds only as fingerprints; refusals name them in the way on.
        """
        self.path = Path(path)
        self.config = plain_json(config)
        self.sources = dict(sources or {})
        if self.path.exists() and not self.path.is_dir():
            raise WorkdirConflictError(
                f"workdir {self.path} exists and is not a directory; pass a directory path."
            )
        self._refuse_if_in_use()  # now, before the data loads; `begin` claims it for good
        self._read_run()

    # -- files -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def process_path(self) -> Path:
        """The last process that trained here (its pid), so that a second one is refused."""
        return self.path / PROCESS_FILE

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def state_dir(self) -> Path:
        return self.path / STATE_DIR

    @property
    def best_model_path(self) -> Path:
        return self.path / BEST_FILE

    def _pending_best_path(self, epoch: int) -> Path:
        """Where epoch `epoch`'s best model waits for the commit before it becomes best.keras."""
        return self.state_dir / f"best_epoch_{epoch:04d}.keras"

    @property
    def final_model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def preprocessor_path(self) -> Path:
        return self.path / "preprocessor"

    @property
    def logs_path(self) -> Path:
        return self.path / "logs"

    @property
    def report_path(self) -> Path:
        return self.path / REPORT_FILE

    @property
    def classes_path(self) -> Path:
        return self.path / CLASSES_FILE

    # -- configuration ----------------------------------------------------------------------
    @staticmethod
    def recorded_overrides(entry: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The overrides a run records and compares: plain JSON values, sorted by name, without
        those equal to the entry's default.

        `--set dropout=0.5`, where 0.5 is the default, asks for the same run as no `--set`, so a
        run started without it resumes with it, and the reverse; a NumPy scalar (a tuner's
        value) counts as the Python number it prints as, and one width where the entry lists
        layer widths counts as a list of one (`lstm_units=128` builds what `lstm_units=[128]` does).

        Example:
            >>> import numpy as np
            >>> from zoo.training.workdir import Workdir
            >>> Workdir.recorded_overrides("cnn_mnist", {"epochs": 40, "dropout": np.float32(0.3)})
            {'dropout': 0.3}
            >>> Workdir.recorded_overrides("lstm_sst2", {"lstm_units": 64})
            {'lstm_units': [64]}
        """
        overrides = plain_json(dict(overrides))
        defaults = _entry_defaults(entry)
        missing = object()
        recorded = {key: as_declared(overrides[key], defaults.get(key)) for key in overrides}
        return {
            key: recorded[key]
            for key in sorted(recorded)
            if defaults.get(key, missing) != recorded[key]
        }

    def begin(self) -> None:
        """Create the directory and record the configuration (once the inputs proved valid).

        In a directory an interrupted run left, first finish or clean up what the crash cut short
        (see the module docstring), so that resuming starts from a consistent state.
        """
        claimed = False
        try:
            claimed = claim(self.path)  # in one step: of two processes starting, one gets it
            if not claimed:
                raise self._in_use_error(in_use_by(self.path) or 0)
            # Another process may have begun, trained on or finished the run while this one's
            # data loaded: what is there now decides (recovering from an older reading of the
            # state deleted the weights that process had committed since).
            self._read_run()
            self._recover()
            self._check_best_model()
            if not self.config_path.exists():
                atomic_write_json(self.config_path, self.config)
        except BaseException:
            if claimed:  # (not another process's claim)
                self.release()
            raise

    def release(self) -> None:
        """The run is over: no process trains here."""
        release(self.path)

    def _refuse_if_in_use(self) -> None:
        """Refuse a workdir another live process is training in (`zoo.io.in_use_by`):
        recovering it would delete the epoch files that run is writing."""
        pid = in_use_by(self.path)
        if pid is not None:
            raise self._in_use_error(pid)

    def _in_use_error(self, pid: int) -> WorkdirConflictError:
        return WorkdirConflictError(
            f"workdir {self.path} is in use: {holder(pid)} is training there. Wait for it "
            f"to finish (or stop it), then rerun to resume; or use another workdir "
            f"(workdir=, --workdir). If no zoo run is there (the workdir was copied from "
            f"another machine), delete {self.process_path}."
        )

    def _recover(self) -> None:
        """Finish a committed best model's move to best.keras; delete uncommitted and superseded
        epoch files and interrupted writes' temporary files. Deletes only zoo's own file names."""
        committed = self.state.best_epoch
        if committed is not None and self._pending_best_path(committed).exists():
            os.replace(self._pending_best_path(committed), self.best_model_path)
        stale = [
            path
            for path in (sorted(self.state_dir.iterdir()) if self.state_dir.is_dir() else [])
            if _PENDING_BEST.fullmatch(path.name)
            or (_EPOCH_WEIGHTS.fullmatch(path.name) and path != self._committed_weights())
        ]
        for path in stale:
            path.unlink(missing_ok=True)
        for directory in (self.path, self.state_dir, self.preprocessor_path):
            stale += remove_temporaries(directory)
        if stale:
            logger.info("removed %d file(s) an interrupted run left in %s: %s", len(stale),
                        self.path, ", ".join(str(p.relative_to(self.path)) for p in stale))

    def _check_best_model(self) -> None:
        """Refuse, before training, a run whose committed best model is missing or not a whole
        .keras file: the run's model is made from it when training ends. A complete run's final
        model holds the same weights, so a whole model.keras restores best.keras instead."""
        if self.state.best_epoch is None:
            return
        problem = _keras_file_problem(self.best_model_path)
        if problem is None:
            return
        if self.state.status == "complete" and self.final_model_is_whole():
            logger.warning(
                "%s %s; the run is complete and its final model %s (the best epoch's weights) "
                "is whole, so best.keras is restored from it", self.best_model_path, problem,
                self.final_model_path.name,
            )
            save_atomically(partial(shutil.copyfile, self.final_model_path), self.best_model_path)
            return
        raise WorkdirConflictError(
            f"{self.best_model_path} {problem}; {self.state_path.name} names it as the run's "
            f"best model (epoch {self.state.best_epoch}), which the run's final model is "
            f"made from, so the run cannot go on. Use a new workdir (workdir=, --workdir)."
        )

    def final_model_is_whole(self) -> bool:
        """Whether the run's final model (model.keras) is there and a whole .keras file."""
        return _keras_file_problem(self.final_model_path) is None

    def _committed_weights(self) -> Path | None:
        return self.path / self.state.weights if self.state.weights else None

    def _check_config(self) -> None:
        """Refuse a directory whose recorded configuration differs. Writes nothing."""
        if not self.config_path.exists():
            if self.state_path.exists() or self.state_dir.is_dir():
                # A run without its configuration: resuming would mix it with any settings.
                raise WorkdirConflictError(
                    f"workdir {self.path} holds a run's state but not its configuration "
                    f"({self.config_path.name} is missing), so zoo cannot tell whether these "
                    f"settings are the run's; use a new workdir (workdir=, --workdir)."
                )
            if directory_kind(self.path) == "search":
                raise WorkdirConflictError(
                    f"{self.path} holds a hyperparameter search (zoo.tune, zoo tune), not a "
                    f"training run; a run there would mix its files with the search's and reuse "
                    f"its vocabulary. Use another workdir (workdir=, --workdir); to train with "
                    f"the search's best values, pass them as overrides (zoo tune prints them)."
                )
            return
        try:
            previous = _checked_config(read_json_object(self.config_path))
        except (OSError, ValueError) as error:
            # Refused before `_recover` deletes anything: the run's files stay as they are.
            raise WorkdirConflictError(
                f"cannot read {self.config_path} ({error}): it is not the run configuration zoo "
                f"writes (a JSON object naming the entry and its overrides), so zoo cannot tell "
                f"whether these settings are the run's. Restore the file, or use a new workdir "
                f"(workdir=, --workdir)."
            ) from None
        current = comparable_config(self.config)
        if previous != current:
            changed = sorted(
                key
                for key in set(previous) | set(current)
                if previous.get(key) != current.get(key)
            )
            details = "; ".join(
                f"{key}: was {previous.get(key)!r}, now {current.get(key)!r}" for key in changed
            )
            raise WorkdirConflictError(
                f"workdir {self.path} holds a run with a different configuration ({details}). "
                f"Rerun with the same settings to resume it, or use another workdir "
                f"(workdir=, --workdir)."
                f"{_more_epochs_hint(previous, current, self.path, self.sources)}"
                f"{_device_hint(previous, current)}{_renamed_data_hint(previous, current)}"
            )

    # -- state ------------------------------------------------------------------------------
    def _read_run(self) -> None:
        """Check the recorded configuration against this one and read the run's state, as the
        directory holds them now."""
        self._check_config()
        self.state = self._read_state()

    def _read_state(self) -> RunState:
        if not self.state_path.exists():
            left = [path.name for path in (self.history_path, self.best_model_path,
                                           self.final_model_path) if path.exists()]
            if left:
                # Epochs were committed (history.csv follows state.json): starting again would
                # delete the run's last weights and overwrite its history.
                raise WorkdirConflictError(
                    f"workdir {self.path} holds a run ({', '.join(left)}) but not its state "
                    f"({self.state_path.name}, the record of its completed epochs), so zoo cannot "
                    f"tell where it stopped. Restore {self.state_path.name} to resume it, or use "
                    f"a new workdir (workdir=, --workdir)."
                )
            other = None if self.config_path.exists() else other_files(self.path)
            if other:
                # No run began here (begin records the configuration before anything else), so
                # these are someone else's files. A run among them wrote model.keras, logs/,
                # state/...: in a folder of class folders they became classes of the data, and
                # in an export a later zoo.export(..., overwrite=True) deleted the run.
                raise WorkdirConflictError(
                    f"workdir {self.path} holds other files ({other}) and no zoo run; a run "
                    f"would write its files among them. Use a new or empty directory "
                    f"(workdir=, --workdir)."
                )
            return RunState()
        try:
            return RunState.from_json(read_json_object(self.state_path))
        except (OSError, ValueError) as error:
            # Refused before `_recover` deletes the epoch files a state read wrong does not name.
            raise WorkdirConflictError(
                f"cannot read the run state {self.state_path} ({error}): it is not the record of "
                f"completed epochs zoo writes, so zoo cannot tell which weights are the run's, "
                f"and touches none. Restore the file, or use a new workdir (workdir=, --workdir)."
            ) from None

    def commit_epoch(
        self,
        model: Any,
        row: dict[str, Any],
        monitor: str,
        mode: str,
        best_weights: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> None:
        """Save the model after a completed epoch, then commit state and rewrite history.

        The resumable state holds the training weights and optimizer; the best model is saved
        inside `best_weights()`, a context that may put other weights in place (the moving
        average). The steps and what a crash between them leaves: see the module docstring.
        """
        epoch = int(row["epoch"])
        weights = self.state_dir / f"epoch_{epoch:04d}.weights.h5"
        save_atomically(model.save_weights, weights)  # includes the optimizer's variables

        value = row.get(monitor)
        improved = self._is_best(value, mode)
        if improved:
            with best_weights():
                save_atomically(model.save, self._pending_best_path(epoch))

        previous_weights = self._committed_weights()
        self.state.epoch = epoch
        self.state.weights = str(weights.relative_to(self.path))
        self.state.history = [r for r in self.state.history if r["epoch"] < epoch] + [row]
        self.state.seed_states = [
            keras.ops.convert_to_numpy(variable).tolist() for variable in seed_variables(model)
        ]
        if improved:
            self.state.best_value, self.state.best_epoch = float(value), epoch
        self.state.status = "running"
        atomic_write_json(self.state_path, self.state.to_json())  # the commit point
        if improved:
            os.replace(self._pending_best_path(epoch), self.best_model_path)
        self.write_history()
        if previous_weights is not None and previous_weights != weights:
            previous_weights.unlink(missing_ok=True)

    def _is_best(self, value: float | None, mode: str) -> bool:
        """Whether an epoch scoring `value` becomes the best one.

        A tie goes to the later epoch: it scored as well after more training, and on a small
        validation set accuracy often stays tied (1.0 from epoch 1) while the loss keeps falling,
        so keeping the first tied epoch would keep the least confident model. A NaN score
        (a validation loss that overflowed) is never the best: no later epoch compares above it,
        and state.json could not hold it as JSON.
        """
        if value is None or math.isnan(value):
            return False
        best = self.state.best_value
        return best is None or (value >= best if mode == "max" else value <= best)

    def amend_epoch(self, epoch: int, values: dict[str, Any]) -> None:
        """Add `values` (logged after the commit, by the caller's callbacks) to the committed
        row of `epoch`, in state.json and history.csv; values already in the row stay."""
        rows = [row for row in self.state.history if row["epoch"] == epoch]
        new = {key: value for key, value in values.items() if rows and key not in rows[0]}
        if not new:
            return
        rows[0].update(new)
        atomic_write_json(self.state_path, self.state.to_json())
        self.write_history()

    def best_model(self) -> Any:
        """The best epoch's model (`best.keras`), read safely; None before any epoch improved.

        Raises:
            WorkdirConflictError: the state names a best epoch whose file is missing or damaged.
        """
        if self.state.best_epoch is None:
            return None
        if not self.best_model_path.exists():
            raise WorkdirConflictError(
                f"{self.state_path} names epoch {self.state.best_epoch} as the best, but "
                f"{self.best_model_path} is missing, so the run's model cannot be made; use a new "
                f"workdir."
            )
        from zoo.serving.safety import load_keras_model

        try:
            return load_keras_model(self.best_model_path)
        except ZooError as error:
            raise WorkdirConflictError(f"{error} It is this run's best model; use a new "
                                       f"workdir.") from None

    def mark(self, status: str) -> None:
        self.state.status = status
        atomic_write_json(self.state_path, self.state.to_json())

    def write_history(self) -> None:
        atomic_write_text(self.history_path, self.history_frame().to_csv(index=False))

    def history_frame(self) -> pd.DataFrame:
        """One row per committed epoch: `epoch` first, then the logged values by name.

        The order is fixed so that a resumed run (rows read back from state.json) and the run
        that wrote them give the same table.
        """
        frame = pd.DataFrame(self.state.history)
        if frame.empty:
            return pd.DataFrame({"epoch": pd.Series([], dtype="int64")})
        return frame[["epoch", *sorted(c for c in frame.columns if c != "epoch")]]

    def restore(self, model: Any) -> int:
        """Load the last committed weights, optimizer state and random seed states into `model`;
        return its epoch."""
        if not self.state.weights:
            return 0
        weights = self.path / self.state.weights
        if not weights.exists():
            raise WorkdirConflictError(
                f"{self.state_path} points to {weights}, which is missing; use a new workdir."
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        # The configuration matched, but the network may not: an entry of your own whose builder
        # changed since the run began builds other layers from the same name and overrides.
        try:
            load_weights_checked(model, weights, lambda mismatch: WorkdirConflictError(
                f"{self.path} holds a run of another network than {model.name} builds now: "
                f"{mismatch}. Its builder or layers changed since the run began; use a new "
                f"workdir, or restore the code the run was started with to resume it."
            ))
        except OSError as error:  # h5py: a truncated or damaged file
            raise WorkdirConflictError(
                f"cannot read {weights}, the run's last committed weights ({first_line(error)}); "
                f"it may be truncated or corrupt. Use a new workdir."
            ) from None
        self._restore_seed_states(model)
        self.write_history()  # a crash may have come between the state commit and history.csv
        return self.state.epoch

    def _restore_seed_states(self, model: Any) -> None:
        """Put back the random seed states of the committed epoch; workdirs written before zoo
        kept them have none, and their dropout starts its sequence again."""
        saved = self.state.seed_states
        variables = seed_variables(model)
        if saved is None or len(saved) != len(variables):
            return
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))


def _registered_spec(entry: str) -> ModelSpec | None:
    """`entry`'s spec; None for an entry this process has not registered (a recorded run of a
    third party's entry, read without its package)."""
    try:
        return get_spec(entry)
    except ZooError:
        return None


def _entry_defaults(entry: str) -> dict[str, Any]:
    """An entry's builder arguments and recipe fields as JSON values; {} for an entry this
    process has not registered (its overrides are then compared as given)."""
    spec = _registered_spec(entry)
    if spec is None:
        return {}
    return plain_json({**spec.model_kwargs(), **dataclasses.asdict(spec.recipe)})


# The device policy's choices a run records (only where not the CPU's, so older workdirs still
# resume), with the value that means "not recorded": "auto" chooses them per machine.
_DEVICE_SETTINGS = {"mixed_precision": "off", "jit_compile": False}


def _renamed_data_hint(previous: dict[str, Any], current: dict[str, Any]) -> str:
    """Where a data file or folder differs from the run's by its name only (a copy on scratch
    space): that the contents are the same, and how to resume. The name is part of a source's
    fingerprint (`zoo.training.fingerprint`), so that two files are never taken for one."""
    # Only on this refusal's path: the module reads folders, and its imports start TensorFlow.
    from zoo.training.fingerprint import named_contents

    hints = []
    for key in ("data", "validation_data"):
        before, now = named_contents(previous.get(key)), named_contents(current.get(key))
        if before and now and before[1] == now[1] and before[0] != now[0]:
            hints.append(f" {key} holds the same contents as the run's under another name "
                         f"({before[0]!r}, now {now[0]!r}): the name is part of the run's data, "
                         f"so give the run's name to resume.")
    return "".join(hints)


def _device_hint(previous: dict[str, Any], current: dict[str, Any]) -> str:
    """How to resume where only device settings differ (a run begun on a GPU, where "auto" is
    mixed_float16 and XLA, rerun on a CPU): its optimizer state and numbers are the begun
    precision's, and XLA draws other dropout masks from the same seed."""
    unset = dict.fromkeys(_DEVICE_SETTINGS)
    if {**previous, **unset} != {**current, **unset}:
        return ""
    began = {key: previous.get(key) or default for key, default in _DEVICE_SETTINGS.items()
             if previous.get(key) != current.get(key)}
    phrases = []
    if "mixed_precision" in began:
        phrases.append(f"trains in {began['mixed_precision']} precision")
    if "jit_compile" in began:
        phrases.append("compiles its steps with XLA" if began["jit_compile"] else
                       "runs without XLA")
    python = ", ".join(f"{key}={value!r}" for key, value in began.items())
    command_line = " ".join(f"--set {key}={value}" for key, value in began.items())
    return (f" The run {' and '.join(phrases)}: pass {python} ({command_line}) to resume it on "
            f"this machine.")


def _more_epochs_hint(
    previous: dict[str, Any], current: dict[str, Any], path: Path, sources: Mapping[str, Any]
) -> str:
    """How to train on, where only the number of epochs differs: a run's learning-rate schedule
    spans its epochs, so more of them are another run, started from this one's weights with the
    data and options this one recorded (spelled out, for the command line and for Python),
    and with the layers it kept frozen frozen again."""
    before, now = dict(previous.get("overrides") or {}), dict(current.get("overrides") or {})
    if {**previous, "overrides": None} != {**current, "overrides": None}:
        return ""
    if before.pop("epochs", None) == now.pop("epochs", None) or before != now:
        return ""
    entry, seed = current.get("entry"), current.get("seed")
    frozen = list(current.get("frozen_layers") or [])
    # Frozen by --freeze-backbone (freeze_backbone=True), or by hand: only Python can do that.
    by_hand = bool(frozen) and frozen != _backbone_layers(entry, now)
    keywords = f", {keyword_arguments(dict(sorted(now.items())))}" if now else ""
    batch_size = now.pop("batch_size", None)  # an option of its own on the command line
    data_flags, data_arguments, reading = _data_as_given(current, sources)
    arguments = "".join(f", {argument}" for argument in data_arguments)
    seeded = f", seed={seed}" if seed else ""
    read = f", {keyword_arguments(reading)}" if reading else ""
    on_what = "" if sources else " on the same data"
    train_on = f"workdir=NEW, epochs=N{seeded}{read})"
    if by_hand:
        return (
            f" To train on from this run, start a new one from its weights{on_what}, for the "
            f"epochs to add, with the layers it kept frozen ({', '.join(frozen)}) frozen again; "
            f"only Python can freeze these (--freeze-backbone freezes every layer but the "
            f"classifier head): model = zoo.build({entry!r}, weights={str(path)!r}{keywords}); "
            f"for name in {frozen!r}: model.get_layer(name).trainable = False; then "
            f"zoo.train(model{arguments}, {train_on}."
        )
    freeze_flag = ["--freeze-backbone"] if frozen else []
    freeze_argument = ", freeze_backbone=True" if frozen else ""
    command = ["zoo", "train", str(entry), *data_flags, "--weights", str(path), *freeze_flag,
               "--workdir", "NEW", "--epochs", "N"]
    command += ["--seed", str(seed)] if seed else []
    command += ["--batch-size", str(batch_size)] if batch_size is not None else []
    options = f" {set_arguments(now)}" if now else ""
    return (
        f" To train on from this run, start a new one from its weights{on_what}, for the "
        f"epochs to add: {shlex.join(command)}{options} (in Python: zoo.train(zoo.build("
        f"{entry!r}, weights={str(path)!r}{freeze_argument}{keywords}){arguments}, "
        f"{train_on})."
    )


def _backbone_layers(entry: Any, overrides: Mapping[str, Any]) -> list[str] | None:
    """The layers `freeze_backbone=True` freezes in the network `entry` builds with `overrides`
    (every layer with weights but the classifier head), sorted as a run records its frozen
    layers; None where this process cannot build it (an entry it does not register)."""
    try:
        model = get_spec(str(entry)).with_overrides(**overrides).build_model()
    except (ZooError, TypeError, ValueError):
        return None
    return sorted(layer.name for layer in model.layers
                  if layer.weights and layer.name != HEAD_LAYER)


def _data_as_given(
    config: dict[str, Any], sources: Mapping[str, Any]
) -> tuple[list[str], list[str], dict[str, Any]]:
    """A run's data as `zoo train` options (`zoo.values.data_options`), and as `zoo.train`'s
    positional arguments and keywords: the sources as the call gave them (a path or a TFDS name
    as it is, arrays or a frame as `data`) and how they are read. Without `sources` (not known),
    `data` stands for them."""
    if not sources:
        return [], ["data"], {}
    data, validation_data = sources.get("data"), sources.get("validation_data")
    columns, class_names = dict(config.get("columns") or {}), config.get("class_names")
    arguments = [
        "None" if source is None  # the entry's TFDS dataset, or the hold-out
        else repr(str(source)) if isinstance(source, (str, os.PathLike)) else name
        for name, source in (("data", data), ("validation_data", validation_data))
    ]
    while arguments and arguments[-1] == "None":  # zoo.train's defaults
        arguments.pop()
    reading: dict[str, Any] = dict(columns)
    if class_names:
        reading["class_names"] = list(class_names)
    if "augment" in config:  # a Python argument only
        reading["augment"] = config["augment"]
    return data_options(data, validation_data, columns, class_names), arguments, reading


def _checked_config(config: dict[str, Any]) -> dict[str, Any]:
    """A recorded configuration as `comparable_config` gives it, once the fields it and the
    hints read are of their kinds (ValueError otherwise)."""
    for name, kind, expected in (("entry", str, "an entry's name"),
                                 ("overrides", dict, "an object of override values")):
        if name in config and not isinstance(config[name], kind):
            raise ValueError(f"its {name!r} is {config[name]!r:.60}, expected {expected}")
    return comparable_config(config)


def comparable_config(config: dict[str, Any]) -> dict[str, Any]:
    """A run's or a search's recorded configuration as it is compared: its `overrides` as
    `Workdir.recorded_overrides` gives them (defaults dropped, plain values, one width as a list).

    Applied to both sides, so workdirs and searches that recorded overrides before zoo put them in
    that form still resume. Likewise an `augment` equal to what the entry does by default (True
    where it augments its images, False otherwise) is dropped: `augment=True` on such an entry
    asks for the run that no `augment` does, and workdirs that recorded it still resume.
    """
    if not isinstance(config.get("entry"), str):
        return config
    comparable = dict(config)
    if isinstance(config.get("overrides"), dict):
        comparable["overrides"] = Workdir.recorded_overrides(config["entry"], config["overrides"])
    if "augment" in config and config["augment"] == _entry_augments(config["entry"]):
        del comparable["augment"]
    return comparable


def _entry_augments(entry: str) -> bool | None:
    """Whether a run of `entry` augments its training images when `augment` is not given (as
    zoo.data.load decides for a shuffled training stream); None for an entry this process has
    not registered (its `augment` is then compared as given)."""
    spec = _registered_spec(entry)
    return None if spec is None else spec.augments


def seed_variables(model: Any) -> list[Any]:
    """The states of `model`'s random seed generators (dropout's): the variables that are not
    weights (Keras' `variables` has both, `weights` and `save_weights` only the weights)."""
    weights = {id(variable) for variable in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _keras_file_problem(path: Path) -> str | None:
    """What is wrong with the .keras file at `path` (missing, not a zip, a member failing its
    checksum), or None for a whole one. Reads the archive, not the model: no Keras objects made."""
    if not path.exists():
        return "is missing"
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (OSError, zipfile.BadZipFile) as error:
        return f"is not a readable .keras file ({first_line(error)})"
    return None if damaged is None else f"is damaged ({damaged} fails its checksum)"
