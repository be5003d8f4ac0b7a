"""Holding back a library's log messages where zoo says the same thing better.

Example:
    >>> import logging
    >>> from zoo.logs import quiet
    >>> with quiet("tensorflow"):  # such as "Assets written to: ..." while exporting
    ...     logging.getLogger("tensorflow").isEnabledFor(logging.INFO)
    False
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet(logger_name: str, below: int = logging.WARNING) -> Iterator[None]:
    """Hide `logger_name`'s messages under level `below` for the block; a level set higher
    already stays, and the previous level comes back after it.

    The caller's root logger is also left as it was. absl (TensorFlow, TFDS) calls
    `logging.basicConfig()` whenever it logs and the root logger has no handler, whatever the
    level, which left a stderr handler there for good: every library's warnings printed twice,
    and as "WARNING:name:...", for the rest of the process. For the block, the root logger
    holds Python's own last-resort handler (what prints warnings and errors where no handler is
    set up), so messages that pass still print as before and absl finds a handler.
    """
    library_logger = logging.getLogger(logger_name)
    previous = library_logger.level
    library_logger.setLevel(max(previous, below))
    root = logging.getLogger()
    stand_in = logging.lastResort if not root.handlers and logging.lastResort else None
    if stand_in is not None:
        root.addHandler(stand_in)
    try:
        yield
    finally:
        library_logger.setLevel(previous)
        if stand_in is not None:
            root.removeHandler(stand_in)


@contextlib.contextmanager
def without_retracing_warnings() -> Iterator[None]:
    """Hide TensorFlow's "N out of the last M calls to <function ...> triggered tf.function
    retracing" warning for the block.

    Each model Keras trains gets a train step function of its own, traced once, but TensorFlow
    counts the traces of all of them as one function's: from the fifth `zoo.train` in a process
    (a loop over seeds, a notebook run again) it warned of retracing and told the caller to
    "define your @tf.function outside of the loop", which they have none of.
    """
    tensorflow_logger = logging.getLogger("tensorflow")

    def not_retracing(record: logging.LogRecord) -> bool:
        message = record.getMessage()  # the warning on a function of the caller's still shows
        return not ("triggered tf.function retracing" in message
                    and "TensorFlowTrainer._make_function" in message)

    tensorflow_logger.addFilter(not_retracing)
    try:
        yield
    finally:
        tensorflow_logger.removeFilter(not_retracing)
