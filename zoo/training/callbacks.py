"""Callbacks of the training loop: NaN guard, workdir checkpoints, resumable early stopping."""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from typing import Any

import keras

from zoo.errors import InvalidValueError
from zoo.spec import Recipe
from zoo.training.compile import has_schedule
from zoo.training.workdir import Workdir


def callback_list(callbacks: Any) -> list[keras.callbacks.Callback]:
    """`callbacks` as a list, as `model.fit` takes them: None, one callback, or several.

    Raises:
        InvalidValueError: anything that is not a Keras callback (a class instead of an
            instance, a string, a function).

    Example:
        >>> import keras
        >>> from zoo.training.callbacks import callback_list
        >>> [type(c).__name__ for c in callback_list(keras.callbacks.EarlyStopping())]
        ['EarlyStopping']
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.Callback):
        return [callbacks]
    items = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    for item in items:
        if not isinstance(item, keras.callbacks.Callback):
            shown = item.__name__ if isinstance(item, type) else repr(item)[:80]
            made = " (a class: pass an instance, e.g. with ())" if isinstance(item, type) else ""
            raise InvalidValueError(
                f"callbacks must be keras.callbacks.Callback instances, one or a list of them; "
                f"got {type(item).__name__} {shown}{made}. Subclass keras.callbacks.Callback "
                f"(or use keras.callbacks.LambdaCallback) for code to run during training."
            )
    return items


# Callbacks that set the optimizer's learning rate as training goes, which Keras refuses once
# the rate is a schedule: "not settable", raised when the callback first acts (for
# ReduceLROnPlateau, at the first plateau, maybe many epochs in).
_RATE_SETTERS = (keras.callbacks.ReduceLROnPlateau, keras.callbacks.LearningRateScheduler)


def check_rate_callbacks(callbacks: list[keras.callbacks.Callback], recipe: Recipe) -> None:
    """Refuse, before training, a callback that sets the learning rate where the recipe's rate
    is a schedule (every schedule but "constant", and any warm-up).

    Example:
        >>> import keras
        >>> from zoo.spec import Recipe
        >>> from zoo.training.callbacks import check_rate_callbacks
        >>> check_rate_callbacks([keras.callbacks.ReduceLROnPlateau()], Recipe(schedule="constant"))
        >>> check_rate_callbacks([keras.callbacks.ReduceLROnPlateau()], Recipe(schedule="cosine"))
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: ReduceLROnPlateau sets the learning rate as training goes, ...
    """
    if not has_schedule(recipe):
        return
    for callback in callbacks:
        if isinstance(callback, _RATE_SETTERS):
            schedule = recipe.schedule + (" with warm-up" if recipe.warmup_epochs else "")
            raise InvalidValueError(
                f"{type(callback).__name__} sets the learning rate as training goes, but the "
                f"recipe's rate is a schedule ({schedule}), which Keras lets no callback change "
                f"(it would fail when the callback first acts). Pass schedule='constant' and "
                f"warmup_epochs=0 (--set schedule=constant --set warmup_epochs=0) for the "
                f"callback to steer the rate, or leave the callback out."
            )


def fit_verbosity(verbose: int | str) -> int:
    """`verbose` for Keras' `fit`; "auto" is a progress bar on a terminal, a line per epoch
    elsewhere (a log file, a pipe), and nothing where there is no stdout (closed: `>&-`), where
    Keras' own writes would fail."""
    if verbose != "auto":
        return int(verbose)
    if sys.stdout is None:
        return 0
    return 1 if sys.stdout.isatty() else 2


def monitor_mode(monitor: str) -> str:
    """'max' for accuracy-like metrics, 'min' for losses."""
    return "min" if monitor.endswith("loss") else "max"


def chosen_by_validation(monitor: str, epochs: int | None, best_epoch: int | None) -> bool:
    """Whether a run's validation data chose the epoch it ended with, so that the model's score
    on that data reads slightly optimistic: a best epoch recorded among several, by a
    validation metric.

    Example:
        >>> from zoo.training.callbacks import chosen_by_validation
        >>> chosen_by_validation("val_loss", 5, 3), chosen_by_validation("loss", 5, 3)
        (True, False)
        >>> chosen_by_validation("val_accuracy", 1, 1), chosen_by_validation("val_loss", 5, None)
        (False, False)
    """
    return best_epoch is not None and (epochs or 0) > 1 and monitor.startswith("val_")


class StopOnNaN(keras.callbacks.Callback):
    """Stop training at the first non-finite loss and remember where it happened.

    Unlike `keras.callbacks.TerminateOnNaN`, the loop checks `diverged_at` afterwards and raises,
    so a diverged run never looks like a finished one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.diverged_at: tuple[int, int] | None = None  # (epoch, batch), 1-based epoch
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at = (self._epoch, batch)
            self.model.stop_training = True


@contextlib.contextmanager
def averaged_weights(swapper: keras.callbacks.SwapEMAWeights | None) -> Iterator[None]:
    """Inside, the model holds the optimizer's moving average of its weights (no-op for None).

    Uses the swap Keras' `SwapEMAWeights` does around evaluation, through its public hooks.
    """
    if swapper is None:
        yield
        return
    swapper.on_test_begin()
    try:
        yield
    finally:
        swapper.on_test_end()


@contextlib.contextmanager
def logs_closed_on_error(tensorboard: keras.callbacks.TensorBoard | None) -> Iterator[None]:
    """Close the TensorBoard callback's event files when the block (`fit`) raises.

    Keras closes them only as training ends: after an error or a Ctrl-C, the traceback a
    notebook keeps (`sys.last_traceback`) held them open, two descriptors per failed run.
    """
    try:
        yield
    except BaseException:
        if tensorboard is not None:
            with contextlib.suppress(Exception):  # the block's own error is the one to see
                tensorboard.on_train_end()
        raise


class EpochStatistics(keras.callbacks.Callback):
    """Each epoch's learning rate (at its end) and wall-clock seconds, for the history table.

    `rows[epoch]` (1-based) holds them; `zoo.train` adds them to its history with or without a
    workdir. They stay out of Keras' logs, so the progress bar reads as Keras prints it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[int, dict[str, float]] = {}
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        learning_rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.rows[epoch + 1] = {
            "learning_rate": float(learning_rate),
            "seconds": round(time.perf_counter() - self._started, 3),
        }


class WorkdirCheckpoint(keras.callbacks.Callback):
    """After each completed epoch, commit weights, history row and best model to the workdir.

    With a weight average (`ema`, the run's `SwapEMAWeights`), the resumable state keeps the
    training weights and `best.keras` the average, which is what validation scored. The history
    row takes the epoch's `statistics` (which must come before this callback in the list).
    """

    def __init__(self, workdir: Workdir, monitor: str, statistics: EpochStatistics,
                 nan_guard: StopOnNaN | None = None,
                 ema: keras.callbacks.SwapEMAWeights | None = None):
        super().__init__()
        self.workdir = workdir
        self.monitor = monitor
        self.statistics = statistics
        self.nan_guard = nan_guard
        self.ema = ema

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.nan_guard is not None and self.nan_guard.diverged_at is not None:
            return  # never checkpoint weights that have seen a NaN
        row = {"epoch": epoch + 1, **_numbers(logs), **self.statistics.rows[epoch + 1]}
        self.workdir.commit_epoch(self.model, row, self.monitor, monitor_mode(self.monitor),
                                  best_weights=lambda: averaged_weights(self.ema))


class WorkdirLogs(keras.callbacks.Callback):
    """After the caller's callbacks: values they added to an epoch's logs (a metric of their
    own, as Keras' `History` records them) join the row `WorkdirCheckpoint` committed before
    them, which stays the commit point (a callback that stops the run keeps its epoch)."""

    def __init__(self, workdir: Workdir):
        super().__init__()
        self.workdir = workdir

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.workdir.amend_epoch(epoch + 1, _numbers(logs))


class WorkdirTensorBoard(keras.callbacks.TensorBoard):
    """The workdir's TensorBoard logs, of an epoch's values that are numbers, as its history rows
    keep them: Keras' own writes every value as a scalar, and a caller's callback that logged
    text failed the run ("Cast string to float is not supported")."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, _numbers(logs))


def _numbers(logs: dict[str, Any] | None) -> dict[str, float]:
    """An epoch's logged values that are numbers, as floats: what a history row holds (Keras'
    `History` keeps any value; a CSV column and state.json need numbers)."""
    values = {}
    for key, value in (logs or {}).items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return values


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` that picks up its patience count from the epochs of an earlier session,
    and whose `restore_best_weights` keeps the later of tied epochs, as a workdir's `best.keras`
    does (`Workdir._is_best` says why), so that a seed returns the same epoch with a workdir or
    without. Patience still counts a tie as no improvement, as Keras does."""

    def __init__(self, *, previous_history: list[dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.previous_history = previous_history or []

    def patience_used_up(self) -> bool:
        """Whether the earlier session's epochs already ran out of patience: it stopped, or was
        killed after deciding to (Keras checks only when an epoch ends, so one would run)."""
        self.on_train_begin()
        return bool(self.previous_history) and self.wait >= self.patience

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        current = (logs or {}).get(self.monitor)
        if (self.restore_best_weights and current is not None and self.best_epoch != epoch
                and epoch >= self.start_from_epoch and float(current) == self.best):
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self.previous_history and self.monitor_op is None:
            self._set_monitor_op()  # needs `mode` given explicitly: the metrics are not built yet
        for row in self.previous_history:
            value = row.get(self.monitor)
            if value is None:
                continue
            if self._is_improvement(value, self.best):
                self.best, self.best_epoch, self.wait = value, row["epoch"] - 1, 0
            else:
                self.wait += 1
