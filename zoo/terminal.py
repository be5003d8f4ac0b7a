"""How the `zoo` command talks to the terminal: TensorFlow's native start-up lines kept off it,
and zoo's messages and warnings printed among the progress bars as one line each.

Library users are not affected: nothing here runs on `import zoo`, and what `progress_messages`
changes (the "zoo" logger, `warnings.showwarning`) is put back when the command ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Iterator
from typing import IO, Any

# Present where an NVIDIA driver is loaded: there a CUDA error at start-up is news, elsewhere noise.
NVIDIA_DRIVER_NODE = "/dev/nvidiactl"


@contextlib.contextmanager
def native_stderr_to(file: IO[Any]) -> Iterator[None]:
    """Point file descriptor 2, where TensorFlow's C++ code writes, at `file` for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_tensorflow_quietly() -> None:
    """Import TensorFlow and let it find its devices without its native start-up lines.

    TensorFlow 2.21 writes them to file descriptor 2, where TF_CPP_MIN_LOG_LEVEL does not reach:
    CUDA probing, oneDNN and CPU flags at import, a oneDNN line at its first boolean transpose
    on a CPU (made here, so that it is dropped), and, when it first looks for devices on a
    machine without an NVIDIA driver, an alarming "failed call to cuInit: ... CUDA error". The
    import's lines are dropped. The device search's lines are kept in a temporary file and shown
    only where a driver is loaded (`NVIDIA_DRIVER_NODE`), since a GPU that fails to start must not
    go unnoticed. A failed import still raises, after stderr is back: where Keras cannot import
    the backend it is set to, as one error naming that setting.
    """
    if "tensorflow" in sys.modules:
        return
    import tempfile

    failure = None
    with open(os.devnull, "w") as devnull, native_stderr_to(devnull):
        try:
            import keras  # noqa: F401  (starts Keras' backend: one that fails, fails here)
            import tensorflow as tf
        except (ImportError, ValueError) as error:
            failure = error
    if failure is not None:
        backend_error = _backend_error(failure)
        if backend_error is None:
            raise failure
        raise backend_error from None
    with tempfile.TemporaryFile() as captured:
        with native_stderr_to(captured):
            devices = tf.config.list_physical_devices()  # probes CUDA; later calls are quiet
        captured.seek(0)
        device_lines = captured.read().decode(errors="replace")
    if device_lines and os.path.exists(NVIDIA_DRIVER_NODE):
        sys.stderr.write(device_lines)
    # TensorFlow 2.21's oneDNN writes "oneDNN supports DT_BOOL only on platforms with AVX-512"
    # (an ERROR line, on AVX-512 machines too) the first time it transposes a boolean tensor on
    # the CPU, as every masked LSTM does (lstm_sst2, lstm_imdb). Once a process: done here, where
    # the line goes nowhere, on a machine training on its CPU. Not in a multi-worker cluster
    # (TF_CONFIG): an op starts TensorFlow's runtime, and MultiWorkerMirroredStrategy must
    # configure its collective ops before that.
    if not os.environ.get("TF_CONFIG") and all(d.device_type == "CPU" for d in devices):
        with open(os.devnull, "w") as devnull, native_stderr_to(devnull):
            tf.transpose(tf.zeros((2, 1), tf.bool))


def _keras_backend_setting() -> tuple[str, str]:
    """The backend Keras is set to, read as Keras reads it (KERAS_BACKEND, else keras.json in
    $KERAS_HOME or ~/.keras, else tensorflow), and where that is set, for messages."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"], f"KERAS_BACKEND={os.environ['KERAS_BACKEND']}"
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    config = os.path.join(home, "keras.json")
    try:
        with open(config) as file:
            backend = json.load(file).get("backend")
    except (OSError, ValueError, AttributeError):
        backend = None
    if isinstance(backend, str):
        return backend, f'"backend": "{backend}" in {config}'
    return "tensorflow", "the default backend"


def _backend_error(error: BaseException) -> Exception | None:
    """One error naming Keras' backend setting, where `error` is Keras failing to import the
    backend it is set to (`KERAS_BACKEND=torch` without PyTorch ended in a 71-line traceback);
    None for any other error."""
    backend_module = os.path.join("keras", "src", "backend", "__init__.py")
    frames = traceback.extract_tb(error.__traceback__)
    backend, setting = _keras_backend_setting()
    if backend == "tensorflow" or not any(
            frame.filename.endswith(backend_module) for frame in frames):
        return None  # TensorFlow itself failed: its own error says more
    from zoo.errors import InvalidValueError, first_line

    return InvalidValueError(
        f"Keras cannot start its backend: {setting} does not import ({first_line(error)}); "
        f"expected tensorflow or jax. Install that backend, or set KERAS_BACKEND=tensorflow "
        f"(zoo trains on TensorFlow; JAX builds models and serves exports)."
    )


@contextlib.contextmanager
def unencodable_output_escaped() -> Iterator[None]:
    """Write characters that stdout's encoding lacks (PYTHONIOENCODING=ascii, a Latin-1
    terminal) as escapes, as Python does on stderr: a class name or an arrow in a description
    made the command fail with UnicodeEncodeError, after training and before its export."""
    stream = sys.stdout
    errors = getattr(stream, "errors", None)
    if not hasattr(stream, "reconfigure") or errors is None:
        yield
        return
    stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        stream.reconfigure(errors=errors)


@contextlib.contextmanager
def progress_messages(stream: IO[str] | None = None) -> Iterator[None]:
    """Print zoo's INFO messages (the device policy and why, the epochs a run trains or resumes
    from, an export's parity check) among the progress bars on stdout, or on `stream` (stderr
    where stdout carries the command's data: `--output -`); stderr stays for errors. Library
    users get them through `logging` as usual: the logger is put back on the way out."""
    logger = logging.getLogger("zoo")
    handler = _StopOnClosedPipe(sys.stdout if stream is None else stream)
    handler.setFormatter(CommandLineFormatter())
    level, propagate, show_warning = logger.level, logger.propagate, warnings.showwarning
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # printed once, even where the root logger has a handler too

    def show_as_message(
        message: Warning | str, category: type[Warning], filename: str, *_: Any, **__: Any
    ):
        # Python would print the warning's file and source line: zoo's, of no use to the user.
        # A library's warning (Keras, keras-tuner) names the library, so that it is not read as
        # zoo's own advice.
        library = package_of(filename)
        source = f"from {library}: " if library else ""
        kind = "" if category is UserWarning else f"{category.__name__}: "
        logger.warning("%s%s%s", source, kind, message)

    warnings.showwarning = show_as_message
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        warnings.showwarning = show_warning


def package_of(filename: str) -> str | None:
    """The top-level package other than zoo whose folder holds `filename`, or None (zoo's
    warnings name the command's own file, the first caller outside zoo)."""
    path = os.path.abspath(filename)
    for name, module in list(sys.modules.items()):
        if "." in name or name == "zoo":
            continue
        for folder in getattr(module, "__path__", None) or ():
            if path.startswith(os.path.join(os.path.abspath(folder), "")):
                return name
    return None


class _StopOnClosedPipe(logging.StreamHandler):
    """A stream handler that lets a closed pipe (`zoo train ... | head -1`) stop the command, as
    a print does: logging reports its handlers' write errors ("--- Logging error ---", a
    traceback) and goes on, and the run trained on with nowhere to write."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, BrokenPipeError):
            raise error
        super().handleError(record)


class CommandLineFormatter(logging.Formatter):
    """ "zoo: MESSAGE", and "zoo: warning: MESSAGE" for warnings, as errors read "zoo: error:"."""

    def format(self, record: logging.LogRecord) -> str:
        kind = "warning: " if record.levelno >= logging.WARNING else ""
        return f"zoo: {kind}{record.getMessage()}"
