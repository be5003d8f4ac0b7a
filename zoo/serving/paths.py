"""The paths `zoo.load`, `zoo.evaluate`, fine-tuning weights and `zoo predict` read, refused in one
line when they do not exist. Plain Python, so that the command line says it before TensorFlow
starts (several seconds) in the words the library would use after."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zoo.data.catalog import IMAGE_EXTENSIONS, TEXT_COLUMNS
from zoo.errors import DataError, InvalidValueError, ZooError
from zoo.serving.archive import abandoned_export

MODEL_KINDS = "a directory written by zoo.export, a training workdir, or a .keras file"
EXPORTABLE_KINDS = "a training workdir or a .keras file"  # what zoo.export reads from a path
WEIGHTS_KINDS = "a training workdir, a zoo.export directory, a .keras file or a .weights.h5 file"
INPUT_FORMATS = (
    f"an image file ({', '.join(IMAGE_EXTENSIONS)}), a folder of images or .txt files, .npz with "
    f"an array x of uint8 images, .txt with one sentence per line, or .csv/.tsv with a "
    f"{' or '.join(repr(c) for c in TEXT_COLUMNS)} column"
)


def blank(path: Any) -> bool:
    """Whether `path` is a str or path-like that is empty or spaces only: `Path("")` names the
    current folder, so such a path is refused where it is given, never read or written.

    Example:
        >>> from pathlib import Path
        >>> from zoo.serving.paths import blank
        >>> blank(""), blank(Path("  ")), blank("runs/cnn"), blank(None)
        (True, True, False, False)
    """
    return isinstance(path, (str, os.PathLike)) and not os.fspath(path).strip()


def missing_model(path: str | os.PathLike, kinds: str = MODEL_KINDS, *,
                  exports: bool = True) -> ZooError | None:
    """The error for a model path (`kinds` says what it may be) that is blank or does not
    exist, naming the previous export an interrupted `zoo.export` left beside it where
    `exports` are among the kinds; None when it exists.

    Example:
        >>> from zoo.serving.paths import missing_model
        >>> print(missing_model("/no/such/run"))  # doctest: +ELLIPSIS
        /no/such/run does not exist; expected a directory written by zoo.export, a training ...
        >>> missing_model(".") is None
        True
    """
    if blank(path):
        return InvalidValueError(f"the model's path is empty; expected {kinds}.")
    if Path(path).exists():
        return None
    previous = abandoned_export(path) if exports else None
    aside = (
        f" An export interrupted while replacing it left the previous one at {previous}: "
        f"rename it back, or export again (which puts it back first)." if previous else ""
    )
    return DataError(f"{path} does not exist; expected {kinds}.{aside}")


def what_it_holds(directory: str | os.PathLike) -> str:
    """A sentence for the error about a directory that holds no model where one was expected:
    what it holds instead, and the way to the model, where zoo can tell; else "".

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.serving.paths import what_it_holds
        >>> served = pathlib.Path(tempfile.mkdtemp())
        >>> for version in ("1", "2"):
        ...     (served / version).mkdir()
        ...     _ = (served / version / "saved_model.pb").write_bytes(b"")
        >>> print(what_it_holds(served))  # doctest: +ELLIPSIS
         It holds TF Serving's version folders 1, 2: the latest, .../2, is an export, which ...
    """
    from zoo.io import directory_kind

    directory = Path(directory)
    if directory_kind(directory) == "search":
        return (" It is a hyperparameter search: rerun its `zoo tune` command with --export DIR "
                "to export the best trial's model (nothing is trained again), or from Python "
                "zoo.tune(...).best_model().")
    try:
        versions = sorted(int(child.name) for child in directory.iterdir()
                           if child.name.isdigit() and (child / "saved_model.pb").is_file())
    except OSError:
        return ""
    if not versions:
        return ""
    return (f" It holds TF Serving's version folders {', '.join(map(str, versions))}: the "
            f"latest, {directory / str(versions[-1])}, is an export, which zoo.load, zoo "
            f"evaluate and zoo predict take.")


def missing_input(path: str | os.PathLike) -> ZooError | None:
    """The error for inputs to predict at a path that is blank, missing, or neither a file nor a
    folder (a named pipe, a device); None otherwise.

    Example:
        >>> from zoo.serving.paths import missing_input
        >>> print(missing_input("reviews.txt"))  # doctest: +ELLIPSIS
        input file reviews.txt does not exist; expected an image file (.png, .jpg, ...
    """
    if blank(path):
        return InvalidValueError(f"the inputs' path is empty; expected {INPUT_FORMATS}.")
    path = Path(path)
    if path.is_dir() or path.is_file():
        return None
    if path.exists():  # a FIFO was said not to exist
        return DataError(
            f"input {path} is neither a file nor a folder (a named pipe or a device): zoo reads "
            f"the inputs to predict from files, by their names' suffix. Save them to a file "
            f"first; expected {INPUT_FORMATS}."
        )
    return DataError(f"input file {path} does not exist; expected {INPUT_FORMATS}.")
