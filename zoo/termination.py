"""SIGTERM ends a `zoo` command as Ctrl-C does: cleanly, with a line that says how to go on.

Schedulers stop jobs with SIGTERM (Slurm at the time limit, Kubernetes and preemptible VMs before
they take a machine back, `kill PID`). Python's default is to die at once, as `kill -9` does: the
epochs committed survive, but the workdir's claim (`process.json`) stays behind and the command
says nothing. Inside `terminate_as_interrupt()`, SIGTERM raises `Terminated` instead, a
KeyboardInterrupt, so the same clean-up runs as for Ctrl-C and the command exits with 143 (128 +
SIGTERM, what a shell reports for a process ended by it).

Python runs a signal handler only when the main thread is back in Python. A main thread held in
C code that releases the interpreter (one long TensorFlow operation, a blocking call) would leave
the SIGTERM unanswered, where Python's default would have ended the process: a watcher thread,
woken by the signal itself (`signal.set_wakeup_fd`), ends the process after a grace period if the
main thread has not finished by then. In a `TF_CONFIG` cluster TensorFlow installs a SIGTERM
handler of its own (for its preemption handling) once the strategy connects, which replaces this
one: there SIGTERM is TensorFlow's, as without zoo. POSIX only. Plain-Python and
TensorFlow-free, so that `zoo list` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

TERMINATED_STATUS = 128 + signal.SIGTERM  # 143
GRACE_SECONDS = 10.0  # for the clean-up after a SIGTERM, before the watcher ends the process


class Terminated(KeyboardInterrupt):
    """SIGTERM received inside `terminate_as_interrupt()`: an interruption like Ctrl-C, told
    apart by its type."""


@contextlib.contextmanager
def terminate_as_interrupt(grace: float = GRACE_SECONDS) -> Iterator[None]:
    """Inside, SIGTERM raises `Terminated` in the main thread, and ends the process with status
    143 after `grace` seconds if the main thread has not left the block by then. A second
    SIGTERM ends the process at once. Nothing changes outside the main thread or where a
    SIGTERM handler of someone else's is installed.

    Example:
        >>> import os, signal
        >>> from zoo.termination import Terminated, terminate_as_interrupt
        >>> try:
        ...     with terminate_as_interrupt():
        ...         os.kill(os.getpid(), signal.SIGTERM)
        ... except Terminated:
        ...     print("terminated, cleaned up")
        terminated, cleaned up
        >>> signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        True
    """
    if (os.name != "posix"  # no SIGTERM from other processes (and no os.set_blocking in 3.11)
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return
    left = threading.Event()
    watcher = _start_watcher(grace, left)
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        try:
            # A SIGTERM pending as the block ends is raised here, from within this call: the
            # watcher must be stopped all the same, or it would end the process later.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        finally:
            left.set()
            if watcher is not None:
                watcher()


def _say_and_exit(message: str) -> None:
    """Write `message` to stderr if it can be within a second, then end the process with 143
    whatever happens: a closed stderr (`zoo ... 2>&1 | head`) or a full, unread pipe must not
    keep a terminated process alive."""
    def write() -> None:
        with contextlib.suppress(OSError):
            os.write(2, message.encode("utf-8", "replace"))

    try:
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        writer.join(timeout=1)
    finally:
        os._exit(TERMINATED_STATUS)


def _raise_terminated(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM: the default, at once
    raise Terminated


def _start_watcher(grace: float, left: threading.Event) -> Callable[[], None] | None:
    """Start the thread that ends the process `grace` seconds after a SIGTERM unless `left` is
    set by then; returns the function that stops it, or None where the process's signal wake-up
    descriptor is someone else's (an event loop's), which is left alone."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # the signal handler must never block on a full pipe
    try:
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:  # not the main thread after all, or an unusable descriptor
        previous = None
    if previous != -1:
        if previous is not None:
            signal.set_wakeup_fd(previous)
        os.close(read_end)
        os.close(write_end)
        return None

    def watch() -> None:
        while True:
            try:
                received = os.read(read_end, 64)  # one byte per signal: its number
            except OSError:
                return
            if not received:  # the write end closed: the block is over
                return
            if signal.SIGTERM in received and not left.wait(grace):
                _say_and_exit(f"zoo: terminated: the work did not stop within {grace:g} s of "
                              f"SIGTERM, so the process ends without its clean-up.\n")

    thread = threading.Thread(target=watch, name="zoo-sigterm-watcher", daemon=True)
    thread.start()

    def stop() -> None:
        signal.set_wakeup_fd(-1)
        os.close(write_end)
        thread.join(timeout=5)
        os.close(read_end)

    return stop
