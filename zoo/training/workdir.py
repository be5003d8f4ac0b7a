"""A training run's working directory: configuration, resumable state, history and checkpoints.

Layout of WORKDIR:
    config.json        what was asked for; a rerun with another configuration is refused
    state.json         the commit point: last completed epoch, its weights file, every history row
    state/             weights + optimizer state of the last completed epoch
    history.csv        one row per completed epoch (column `epoch` is 1-based), derived from state
    best.keras         the best model so far by the recipe's monitor
    model.keras        the final model, written when training ends
    preprocessor/      the fitted text vocabulary (text entries)
    logs/              TensorBoard event files
    report.json        evaluation of the final model

Every file is written to a temporary name and renamed, and `state.json` is written last: after a
crash or `kill -9`, the run resumes from the last epoch whose state was committed, so no completed
epoch is lost or repeated in `history.csv`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from zoo.errors import ZooError
from zoo.io import atomic_write_json, atomic_write_text, temporary_sibling


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

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Workdir:
    """Manage one run's directory. See the module docstring for the layout."""

    def __init__(self, path: str | os.PathLike, config: dict[str, Any]):
        self.path = Path(path)
        self.config = json.loads(json.dumps(config, default=str))  # normalise tuples etc.
        if self.path.exists() and not self.path.is_dir():
            raise WorkdirConflictError(
                f"workdir {self.path} exists and is not a directory; pass a directory path."
            )
        self._check_config()
        self.state = self._read_state()

    # -- files -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def history_path(self) -> Path:
        return self.path / "history.csv"

    @property
    def best_model_path(self) -> Path:
        return self.path / "best.keras"

    @property
    def final_model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def preprocessor_path(self) -> Path:
        return self.path / "preprocessor"

    @property
    def logs_path(self) -> Path:
        return self.path / "logs"

    @property
    def report_path(self) -> Path:
        return self.path / "report.json"

    # -- configuration ----------------------------------------------------------------------
    def begin(self) -> None:
        """Create the directory and record the configuration (once the inputs proved valid)."""
        if not self.config_path.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.config_path, self.config)

    def _check_config(self) -> None:
        """Refuse a directory whose recorded configuration differs. Writes nothing."""
        if not self.config_path.exists():
            return
        try:
            previous = json.loads(self.config_path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise WorkdirConflictError(
                f"cannot read {self.config_path} ({error}); use a new workdir or delete this one."
            ) from None
        if previous != self.config:
            changed = sorted(
                key
                for key in set(previous) | set(self.config)
                if previous.get(key) != self.config.get(key)
            )
            details = "; ".join(
                f"{key}: was {previous.get(key)!r}, now {self.config.get(key)!r}" for key in changed
            )
            raise WorkdirConflictError(
                f"workdir {self.path} holds a run with a different configuration ({details}). "
                f"Rerun with the same settings to resume it, or pass a new --workdir."
            )

    # -- state ------------------------------------------------------------------------------
    def _read_state(self) -> RunState:
        if not self.state_path.exists():
            return RunState()
        try:
            return RunState(**json.loads(self.state_path.read_text()))
        except (OSError, json.JSONDecodeError, TypeError) as error:
            raise WorkdirConflictError(
                f"cannot read the run state {self.state_path} ({error}); use a new workdir."
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

        The resumable state holds the training weights and optimizer; `best.keras` is saved inside
        `best_weights()`, a context that may put other weights in place (the moving average).
        """
        epoch = int(row["epoch"])
        weights_dir = self.path / "state"
        weights_dir.mkdir(parents=True, exist_ok=True)
        weights = weights_dir / f"epoch_{epoch:04d}.weights.h5"
        temporary = temporary_sibling(weights, suffix=".weights.h5")
        model.save_weights(temporary)  # includes the optimizer's variables
        os.replace(temporary, weights)

        value = row.get(monitor)
        improved = value is not None and (
            self.state.best_value is None
            or (value > self.state.best_value if mode == "max" else value < self.state.best_value)
        )
        if improved:
            best = temporary_sibling(self.best_model_path, suffix=".keras")
            with best_weights():
                model.save(best)
            os.replace(best, self.best_model_path)

        previous_weights = self.state.weights
        self.state.epoch = epoch
        self.state.weights = str(weights.relative_to(self.path))
        self.state.history = [r for r in self.state.history if r["epoch"] < epoch] + [row]
        if improved:
            self.state.best_value, self.state.best_epoch = float(value), epoch
        self.state.status = "running"
        atomic_write_json(self.state_path, self.state.to_json())  # the commit point
        self.write_history()
        if previous_weights and previous_weights != self.state.weights:
            (self.path / previous_weights).unlink(missing_ok=True)

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
        """Load the last committed weights and optimizer state into `model`; return its epoch."""
        if not self.state.weights:
            return 0
        weights = self.path / self.state.weights
        if not weights.exists():
            raise WorkdirConflictError(
                f"{self.state_path} points to {weights}, which is missing; use a new workdir."
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(weights)
        self.write_history()  # a crash may have come between the state commit and history.csv
        return self.state.epoch


def fingerprint(source: Any) -> str:
    """A short, stable description of a data source, for run configurations and exports.

    Files are hashed by content (SHA-256 of the first 64 MiB and the size), folders by their file
    listing and sizes, arrays and frames by their bytes; TFDS names are kept as text.

    Example:
        >>> fingerprint("tfds:mnist")
        'tfds:mnist'
    """
    import numpy as np

    if source is None:
        return "tfds:default"
    if isinstance(source, str) and source.startswith("tfds:"):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                digest.update(handle.read(64 << 20))
            return f"file:{path.name}:{path.stat().st_size}:{digest.hexdigest()[:16]}"
        if path.is_dir():
            digest = hashlib.sha256()
            for item in sorted(path.rglob("*")):
                if item.is_file():
                    digest.update(f"{item.relative_to(path)}:{item.stat().st_size}".encode())
            return f"dir:{path.name}:{digest.hexdigest()[:16]}"
        return f"name:{source}"  # a bare TFDS name, or a path the loader will reject
    if isinstance(source, pd.DataFrame):
        return (
            f"frame:{len(source)}:"
            f"{pd.util.hash_pandas_object(source, index=False).sum() & 0xFFFFFFFF:08x}"
        )
    if isinstance(source, (tuple, list)) and len(source) == 2:
        digest = hashlib.sha256()
        for part in source:
            digest.update(
                np.asarray(part).tobytes() if not isinstance(part, list) else repr(part).encode()
            )
        return f"arrays:{len(source[1])}:{digest.hexdigest()[:16]}"
    return f"object:{type(source).__name__}"
