"""SIGTERM (a scheduler's stop, `kill PID`) ends a `zoo` command as Ctrl-C does: clean-up run,
one line, exit status 143, and the work resumable; a main thread held in C code is ended after a
grace period rather than never."""

import ctypes
import gc
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest
from helpers import REPO, history_rows, write_digits_npz

import zoo
from zoo.interrupts import interrupts_kept
from zoo.io import is_temporary_name
from zoo.termination import TERMINATED_STATUS, Terminated, terminate_as_interrupt

pytestmark = [
    pytest.mark.skipif(os.name != "posix", reason="POSIX signals"),
    # Keras' TensorFlow backend calls np.array(tensor) when saving (keras/src/backend/tensorflow/
    # core.py); NumPy 2 warns about TF's __array__ signature. Not zoo's to fix.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]


def _watchers():
    return [thread for thread in threading.enumerate() if thread.name == "zoo-sigterm-watcher"]


def test_sigterm_in_the_block_is_an_interrupt_and_the_default_comes_back():
    assert threading.current_thread() is threading.main_thread()  # else the kill below is real
    seen = {}
    with pytest.raises(Terminated) as raised, terminate_as_interrupt():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here, at once
        finally:
            # While the clean-up runs, a second SIGTERM would end the process at once.
            seen["during clean-up"] = signal.getsignal(signal.SIGTERM)
    assert isinstance(raised.value, KeyboardInterrupt)  # every Ctrl-C clean-up runs for it
    assert seen["during clean-up"] is signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1  # the watcher's descriptor was given back
    assert not _watchers()


def test_a_handler_or_wakeup_descriptor_of_someone_else_is_left_alone():
    received = []

    def own(signum, frame):
        received.append(signum)

    previous = signal.signal(signal.SIGTERM, own)
    try:
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.1)
        assert received == [signal.SIGTERM] and signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, previous)
    # An event loop's wake-up descriptor: kept, and no watcher reads it.
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    try:
        with pytest.raises(Terminated), terminate_as_interrupt():
            assert not _watchers()
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert signal.set_wakeup_fd(-1) == write_end
        assert os.read(read_end, 16) == bytes([signal.SIGTERM])  # the loop still hears it
    finally:
        signal.set_wakeup_fd(-1)
        os.close(read_end)
        os.close(write_end)


def test_outside_the_main_thread_nothing_changes():
    found = {}

    def in_a_thread():
        with terminate_as_interrupt():
            found["handler"] = signal.getsignal(signal.SIGTERM)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join(10)
    assert found == {"handler": signal.SIG_DFL}


def test_a_sigterm_lost_in_a_finalizer_comes_back_as_itself(monkeypatch):
    monkeypatch.setattr("sys.unraisablehook", lambda unraisable: None)

    class _TerminatedWhenCollected:
        def __del__(self):
            raise Terminated

    # (Caught as any KeyboardInterrupt: one of the wrong type must fail this test, not the run.)
    with pytest.raises(KeyboardInterrupt) as raised, interrupts_kept():
        _TerminatedWhenCollected()
        gc.collect()
        raise ValueError("an error after it")  # a trial's: the SIGTERM is what stopped the work
    assert type(raised.value) is Terminated
    # One that reached TensorFlow's C++ code, which pybind11 reports under its class's name.
    with pytest.raises(KeyboardInterrupt) as raised, interrupts_kept():
        raise RuntimeError("pybind11::error_already_set: MISMATCH of original and normalized "
                           "active exception types: ORIGINAL InvalidArgumentError REPLACED BY "
                           "Terminated: <EMPTY MESSAGE>")
    assert type(raised.value) is Terminated


_STUCK = textwrap.dedent(
    """
    import ctypes, signal
    from zoo.termination import terminate_as_interrupt

    # Python's Ctrl-C handler, even where this test runs with SIGINT ignored (in the background)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    libc = ctypes.CDLL(None)
    mutex = ctypes.create_string_buffer(128)  # larger than any C library's pthread_mutex_t
    libc.pthread_mutex_init(mutex, None)
    libc.pthread_mutex_lock(mutex)
    with terminate_as_interrupt(grace=1):
        print("ready", flush=True)
        # Never returns, and holds no GIL: as a main thread held in a long TensorFlow operation,
        # where no Python signal handler can run.
        libc.pthread_mutex_lock(mutex)
    """
)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "pthread_mutex_lock"),
                    reason="needs pthread_mutex_lock from the C library")
@pytest.mark.parametrize("stderr", ["open", "closed"])
def test_a_main_thread_held_in_c_code_is_ended_after_the_grace_period(tmp_path, stderr):
    script = tmp_path / "stuck.py"
    script.write_text(_STUCK)
    process = subprocess.Popen([sys.executable, str(script)], cwd=REPO, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if stderr == "closed":  # nobody reads it any more, as after `zoo ... 2>&1 | head` ended
        process.stderr.close()
    assert process.stdout.readline() == "ready\n"
    time.sleep(0.2)  # inside the C call
    # Ctrl-C is Python's to deliver, whenever it can: the watcher does not end the process for it.
    process.send_signal(signal.SIGINT)
    time.sleep(1.5)
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
        error = "" if stderr == "closed" else process.stderr.read()
    finally:
        process.kill()
    assert process.returncode == TERMINATED_STATUS  # a message it cannot write: ended all the same
    assert error == ("" if stderr == "closed" else "zoo: terminated: the work did not stop "
                     "within 1 s of SIGTERM, so the process ends without its clean-up.\n")


def test_zoo_train_terminated_cleans_up_says_how_to_go_on_and_resumes(tmp_path):
    # Enough digits that 40 epochs outlast this test's polling on a loaded machine: with 300,
    # a clean-clone CI run finished all of them before the signal was sent (exit 0).
    data = str(write_digits_npz(tmp_path / "digits.npz", count=1200))
    workdir = tmp_path / "run"
    command = [sys.executable, "-m", "zoo", "train", "mlp_mnist", "--data", data, "--epochs",
               "40", "--workdir", str(workdir), "--set", "units=8"]
    process = subprocess.Popen(command, cwd=REPO, text=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": REPO})
    deadline = time.time() + 120
    while history_rows(workdir) < 1 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    try:
        _, error = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == TERMINATED_STATUS, error
    assert error.splitlines()[-1] == (f"zoo: terminated; rerun the same command to resume from "
                                      f"the last completed epoch (kept in {workdir})")
    before = pd.read_csv(workdir / "history.csv")
    assert 1 <= len(before) < 40, "the run must be stopped mid-way"
    # The clean-up ran: the workdir's claim and temporary files are gone (kill -9 leaves them).
    assert not (workdir / "process.json").exists()
    assert not [path for path in workdir.rglob("*") if is_temporary_name(path.name)]
    result = zoo.train("mlp_mnist", data, epochs=40, workdir=workdir, verbose=0, units=(8,))
    assert list(result.history["epoch"]) == list(range(1, 41))
    pd.testing.assert_frame_equal(result.history.iloc[: len(before)].reset_index(drop=True),
                                  before, check_dtype=False)
