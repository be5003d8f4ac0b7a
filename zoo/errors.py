"""Exceptions raised by zoo, and helpers that write their messages.

Every message names what was wrong, what was expected and how to fix it. The command line prints
the message of any `ZooError` on one line and exits non-zero, so the text must stand alone.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent) + os.sep  # where zoo's own modules live


class ZooError(Exception):
    """Base class of every error zoo raises on purpose."""


class UnknownNameError(ZooError, LookupError):
    """A model, dataset, override or option name that zoo does not know."""

    def __str__(self) -> str:  # LookupError would quote the message like a dict key.
        return str(self.args[0]) if self.args else ""


class InvalidValueError(ZooError, ValueError):
    """An argument with a value outside its allowed range or of the wrong kind."""


class MissingDependencyError(InvalidValueError, ImportError):
    """An optional package a feature needs is not installed (the message names the extra to
    install); an `ImportError` too, as Python's own for a missing module."""


class DataError(ZooError, ValueError):
    """Input data that cannot be used: empty, unreadable, wrong shape, bad labels, NaN..."""


class DatasetUnavailableError(ZooError, RuntimeError):
    """A dataset that cannot be loaded here (no network, not prepared in `data_dir`)."""


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning attributed to the first caller outside zoo: Python then shows the user's
    line (a notebook cell's, a script's) rather than the zoo line that noticed the problem.

    Example:
        >>> import warnings
        >>> from zoo.errors import warn
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn("two classes look alike")
        >>> caught[0].filename.endswith("errors.py")  # the caller's file, not zoo/errors.py
        False
    """
    frame, level = sys._getframe(1), 2  # level 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def close_matches(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Return up to `limit` candidates that look like `name`, best first."""
    candidates = list(candidates)
    same_but_case = [c for c in candidates if c.casefold() == name.casefold()]
    if same_but_case:  # "CNN" for "cnn": difflib compares case-sensitively
        return same_but_case[:limit]
    matches = difflib.get_close_matches(name, candidates, n=limit, cutoff=0.6)
    if not matches:  # A prefix typo ("cnn_mn") is still worth suggesting.
        matches = [c for c in sorted(candidates) if c.startswith(name[:3])][:limit]
    return matches


def unknown_name(
    kind: str, name: str, candidates: Iterable[str], hint: str = "", *, max_listed: int | None = 20
) -> UnknownNameError:
    """Build an `UnknownNameError` that lists the closest known names.

    At most `max_listed` known names are listed (all of them when None).

    Example:
        >>> from zoo.errors import unknown_name
        >>> error = unknown_name("model", "cnn_mnst", ["cnn_mnist", "mlp_mnist"])
        >>> "Did you mean: 'cnn_mnist'?" in str(error)
        True
    """
    candidates = sorted(candidates)
    matches = close_matches(name, candidates)
    message = f"unknown {kind} {name!r}."
    if matches:
        message += " Did you mean: " + ", ".join(repr(m) for m in matches) + "?"
    listed = candidates if max_listed is None else candidates[:max_listed]
    shown = ", ".join(listed) + (" ..." if len(listed) < len(candidates) else "")
    plural = f"{kind[:-1]}ies" if kind.endswith("y") and kind[-2:] != "ey" else f"{kind}s"
    message += f" Known {plural}: {shown}."
    if hint:
        message += " " + hint
    return UnknownNameError(message)


# TensorFlow wraps an op's message in where it ran: "{{function_node __wrapped__DecodeImage_...}}"
# before it and "[Op:DecodeImage] name:" after it. Users need the message, not the graph node.
_TENSORFLOW_WRAPPING = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$")


def count_text(number: int, noun: str) -> str:
    """`number` of `noun`, the noun plural but for one.

    Example:
        >>> from zoo.errors import count_text
        >>> count_text(1, "row"), count_text(6920, "row"), count_text(2, "class")
        ('1 row', '6,920 rows', '2 classes')
        >>> count_text(3, "batch"), count_text(3, "epoch")
        ('3 batches', '3 epochs')
    """
    if number == 1:
        return f"1 {noun}"
    # "epoch" ends in a hard "ch", which takes a plain "s".
    sibilant = noun.endswith(("s", "x", "ch", "sh")) and not noun.endswith("och")
    return f"{number:,} {noun}{'es' if sibilant else 's'}"


def first_line(error: BaseException) -> str:
    """The first line of an error's message, without a final period or TensorFlow's op wrapping,
    for one-line messages.

    Example:
        >>> from zoo.errors import first_line
        >>> first_line(ValueError("bad header."))
        'bad header'
        >>> first_line(ValueError("{{function_node __wrapped__DecodeImage_device_/job:localhost}} "
        ...                       "Unknown image file format. [Op:DecodeImage] name: "))
        'Unknown image file format'
    """
    text = str(error).strip() or type(error).__name__
    line = _TENSORFLOW_WRAPPING.sub("", text.splitlines()[0]).strip()
    return (line or text.splitlines()[0]).rstrip(".")


def shortened(text: str | bytes, limit: int = 60) -> str:
    """`text` (bytes decoded) cut to `limit` characters, ending in "..." where it was longer:
    what a message or a table quotes of a user's input.

    Example:
        >>> from zoo.errors import shortened
        >>> shortened("a gorgeous, witty and deeply moving film", 20)
        'a gorgeous, witty...'
    """
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def and_more(shown: Iterable[str], total: int) -> str:
    """The items `shown` joined by commas, then how many of `total` are left unshown: how a
    message lists the first few of many names or rows.

    Example:
        >>> from zoo.errors import and_more
        >>> and_more(["a.png", "b.png"], 2), and_more(["a.png", "b.png"], 7)
        ('a.png, b.png', 'a.png, b.png and 5 more')
    """
    shown = list(shown)
    rest = total - len(shown)
    return ", ".join(shown) + (f" and {rest} more" if rest > 0 else "")
