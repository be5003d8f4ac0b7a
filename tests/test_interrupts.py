"""Ctrl-C during zoo.train and zoo.tune stops them, wherever Python or TensorFlow received it:
in a finalizer (where Python can only report it, as keras-tuner's clear_session runs many), or
in TensorFlow's C++ code (which turns it into a RuntimeError)."""

import gc
import sys
import threading

import keras
import pytest
from helpers import digit_like_images, write_digits_npz

import zoo
from zoo.interrupts import interrupts_kept

pytestmark = [
    # keras-tuner 1.4's oracle lock calls threading.currentThread(). Not zoo's.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner"),
]

# What pybind11 raised when a Ctrl-C reached TensorFlow's C++ code as it traced the train step.
DISGUISED = ("pybind11::error_already_set: MISMATCH of original and normalized active exception "
             "types: ORIGINAL InvalidArgumentError REPLACED BY KeyboardInterrupt: <EMPTY MESSAGE>")


class _InterruptedWhenCollected:
    """Raises KeyboardInterrupt as it is collected, as Python's SIGINT handler does when the
    signal arrives while a finalizer runs."""

    def __del__(self):
        raise KeyboardInterrupt


def _lose_an_interrupt():
    _InterruptedWhenCollected()  # collected at once: its interrupt goes to sys.unraisablehook
    gc.collect()


class _LoseAnInterruptAfterEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            _lose_an_interrupt()


class _BatchesBegun(keras.callbacks.Callback):
    """The epoch (0-based) of every training batch that began."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.epochs.append(self.epoch)


class _InterruptInTensorFlow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise RuntimeError(DISGUISED)


def test_an_interrupt_lost_in_a_finalizer_is_raised_when_the_block_ends(monkeypatch):
    reported = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    _lose_an_interrupt()  # outside the block: lost, as Python does it
    assert [type(item.exc_value) for item in reported] == [KeyboardInterrupt]
    with pytest.raises(KeyboardInterrupt), interrupts_kept():
        _lose_an_interrupt()
    assert len(reported) == 1  # recorded, not reported: it was raised instead
    with interrupts_kept():  # and raised once only
        pass


def test_other_unraisable_errors_and_other_runtime_errors_are_left_as_they_were(monkeypatch):
    reported = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)

    class _Failing:
        def __del__(self):
            raise ValueError("in a finalizer")

    with interrupts_kept():
        _Failing()
        gc.collect()
    assert [type(item.exc_value) for item in reported] == [ValueError]
    with pytest.raises(RuntimeError, match="another error"), interrupts_kept():
        raise RuntimeError("another error")
    with pytest.raises(KeyboardInterrupt), interrupts_kept():
        raise RuntimeError(DISGUISED)


def test_an_error_after_a_lost_interrupt_leaves_the_block_as_the_interrupt():
    # keras-tuner records an error in a trial as a failed trial and goes on.
    with pytest.raises(KeyboardInterrupt) as raised, interrupts_kept():
        _lose_an_interrupt()
        raise ValueError("after the Ctrl-C")
    assert isinstance(raised.value.__cause__, ValueError)


def test_blocks_in_two_threads_give_the_hook_back_whatever_order_they_end_in(monkeypatch):
    # Each block put back the hook it found: the first to open, ending first, put back the
    # original, and the second then put back the first's, recording interrupts for good.
    reported = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    first_open, second_open = threading.Event(), threading.Event()

    def first():
        with interrupts_kept():
            first_open.set()
            second_open.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    first_open.wait(10)
    with interrupts_kept():  # opened after the other thread's block, ends after it too
        second_open.set()
        thread.join(10)
    assert sys.unraisablehook == reported.append


def test_zoo_train_stops_at_an_interrupt_lost_in_a_finalizer(tmp_path):
    # Before, the run went on to its last epoch.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    seen, begun = keras.callbacks.History(), _BatchesBegun()
    with pytest.raises(KeyboardInterrupt):
        zoo.train("mlp_mnist", data, epochs=3, units=(8,), verbose=0, workdir=tmp_path / "run",
                  callbacks=[_LoseAnInterruptAfterEpoch(), seen, begun])
    assert seen.epoch == [0]
    # Stopped as epoch 2 began, not after its first batch trained (90 examples: 2 batches).
    assert begun.epochs == [0, 0]
    assert (tmp_path / "run" / "history.csv").read_text().count("\n") == 2  # header, epoch 1


def test_zoo_export_stops_at_an_interrupt_lost_in_a_finalizer(tmp_path, monkeypatch):
    # A user's Ctrl-C, once in 16, was reported by Python and the export published anyway.
    from zoo.serving import exporter

    real_parity = exporter.check_parity

    def parity_losing_an_interrupt(*args, **kwargs):
        _lose_an_interrupt()
        return real_parity(*args, **kwargs)

    monkeypatch.setattr(exporter, "check_parity", parity_losing_an_interrupt)
    with pytest.raises(KeyboardInterrupt):
        zoo.export(zoo.build("mlp_mnist", units=(8,)), tmp_path / "export")
    assert not (tmp_path / "export").exists()
    assert not [path for path in tmp_path.iterdir()]  # no staging directory left either


@pytest.mark.parametrize("callback", [_LoseAnInterruptAfterEpoch, _InterruptInTensorFlow])
def test_zoo_tune_stops_at_an_interrupt_however_it_arrived(callback, tmp_path):
    # Before, a lost interrupt let the search go on, and a disguised one failed the trial and
    # went on to the next.
    with pytest.raises(KeyboardInterrupt):
        zoo.tune("mlp_mnist", digit_like_images(64, seed=0), max_trials=3, tuner="random",
                 epochs=2, seed=0, verbose=0, directory=tmp_path / "search",
                 callbacks=[callback()])
    trials = (tmp_path / "search" / "trials.csv").read_text()
    assert "COMPLETED" not in trials and "FAILED" not in trials
