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
    already stays, and the previous level comes back after it."""
    library_logger = logging.getLogger(logger_name)
    previous = library_logger.level
    library_logger.setLevel(max(previous, below))
    try:
        yield
    finally:
        library_logger.setLevel(previous)
