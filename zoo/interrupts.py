"""Ctrl-C that is not lost while `zoo.train` fits and `zoo.tune` searches.

Python raises KeyboardInterrupt wherever the main thread is when the signal arrives. When that
is a finalizer (a `__del__`, a weakref callback), Python cannot raise it there: it prints
"Exception ignored in ... KeyboardInterrupt" and goes on, and the interrupt is lost. Keras'
`clear_session`, which keras-tuner calls before every trial, runs the garbage collector and so
many finalizers: measured, 2 of 4 Ctrl-Cs sent to a `zoo tune` between trials were lost this way,
and the search ran on.

A Ctrl-C that lands in TensorFlow's C++ code while it traces a function comes back from it as a
RuntimeError ("MISMATCH of original and normalized active exception types: ... REPLACED BY
KeyboardInterrupt"), which keras-tuner took for a failed trial and went on (seen once in 9 such
Ctrl-Cs).

Inside `interrupts_kept()`, an interrupt lost in a finalizer is recorded instead of reported, and
raised again by `raise_if_lost()`: at the next batch or epoch (the `RaiseLostInterrupt` callback)
or when the block ends; one disguised as another error leaves the block as KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

import keras

from zoo.termination import Terminated

# The interrupt a finalizer could not raise, not yet raised again: KeyboardInterrupt, or its
# subclass zoo.termination.Terminated (SIGTERM on the command line), raised again as it was.
_lost: type[KeyboardInterrupt] | None = None
# The hook is installed while any block is open, in any thread: blocks that overlap (two
# threads training) take and give it back once, whatever order they end in.
_lock = threading.Lock()
_open_blocks = 0
_previous_hook: Any = None


def _record_lost_interrupts(unraisable: Any) -> None:
    global _lost
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        # Raised again shortly; Python's "Exception ignored" report would mislead.
        _lost = type(unraisable.exc_value)
        return
    _previous_hook(unraisable)


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Inside, a KeyboardInterrupt lost in a finalizer is raised again by `raise_if_lost`, at
    the latest when the block ends (in place of an error the block ends on), and one TensorFlow
    turned into another error leaves the block as KeyboardInterrupt. Other errors, raisable or
    not, are left as they are."""
    global _lost, _open_blocks, _previous_hook
    with _lock:
        if _open_blocks == 0:
            _previous_hook, _lost = sys.unraisablehook, None
            sys.unraisablehook = _record_lost_interrupts
        _open_blocks += 1
    try:
        yield
    except BaseException as error:
        lost, _lost = _lost, None
        if isinstance(error, KeyboardInterrupt):
            raise
        if lost is not None:  # the error came after the Ctrl-C, which is what stopped the work
            raise lost from error
        disguised = _disguised_interrupt(error)
        if disguised is not None:
            raise disguised from None
        raise
    finally:
        with _lock:
            _open_blocks -= 1
            if _open_blocks == 0 and sys.unraisablehook is _record_lost_interrupts:
                sys.unraisablehook = _previous_hook
    raise_if_lost()


def _disguised_interrupt(error: BaseException) -> type[KeyboardInterrupt] | None:
    """The interrupt `error` reports, where it is pybind11's report of a KeyboardInterrupt (or a
    SIGTERM's `Terminated`, which pybind11 names by its class name) raised while TensorFlow's C++
    code was handling another error; else None."""
    text = str(error)
    for kind in (KeyboardInterrupt, Terminated):
        if f"REPLACED BY {kind.__name__}" in text:
            return kind
    return None


def raise_if_lost() -> None:
    """Raise KeyboardInterrupt if one was lost in a finalizer inside `interrupts_kept()`."""
    global _lost
    if _lost is not None:
        lost, _lost = _lost, None
        raise lost


class RaiseLostInterrupt(keras.callbacks.Callback):
    """Stops `fit` with KeyboardInterrupt at the next batch or epoch after a lost Ctrl-C."""

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        raise_if_lost()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        raise_if_lost()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_if_lost()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_if_lost()
