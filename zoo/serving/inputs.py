"""Raw inputs for serving: checked against what a signature takes, or read from a file.

Images must be uint8 pixels of the exported shape; texts are strings. Errors state what was
expected and what was received, before anything reaches TensorFlow.
"""

from __future__ import annotations

import os
import shlex
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from zoo.data.catalog import IMAGE_EXTENSIONS, TEXT_COLUMNS
from zoo.data.folders import (
    OTHER_IMAGE_EXTENSIONS,
    example_files,
    read_examples,
    unreadable_images,
)
from zoo.data.resizing import fit_images
from zoo.data.sources import first_shape_mismatch, npz_read_problem
from zoo.data.tables import field_count_error, not_utf8, read_table_file
from zoo.data.validate import check_texts
from zoo.errors import DataError, count_text, first_line, warn
from zoo.serving.paths import INPUT_FORMATS, missing_input


def as_images(inputs: Any, shape: tuple[int, int, int], *, fit: bool = False) -> np.ndarray:
    """A uint8 batch (batch, height, width, channels) of images of `shape`, or a clear error.
    Integer pixels of another dtype in 0-255 are taken as uint8, and floats in [0, 1] (as
    training takes them) as the pixels they stand for.

    Also takes one image (`shape`, or (height, width) when there is one channel) and a batch
    without the channel axis. With `fit` (a model trained with `resize_images`), images of
    another size or colour mode, and lists of images of different sizes, are fitted to `shape`
    (`zoo.data.resizing.fit_images`) instead of refused.

    Example:
        >>> import numpy as np
        >>> from zoo.serving.inputs import as_images
        >>> as_images(np.zeros((5, 28, 28), "uint8"), (28, 28, 1)).shape
        (5, 28, 28, 1)
        >>> as_images([np.zeros((40, 30, 3), "uint8"), np.zeros((20, 20), "uint8")],
        ...           (28, 28, 1), fit=True).shape
        (2, 28, 28, 1)
        >>> as_images(np.full((1, 28, 28), 0.5, "float32"), (28, 28, 1))[0, 0, 0]
        array([128], dtype=uint8)
        >>> as_images(np.full((5, 28, 28), 200.0, "float32"), (28, 28, 1))
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: expected uint8 pixels (0-255) or floats scaled to [0, 1], ...
    """
    shape = tuple(shape)
    if (isinstance(inputs, (list, tuple)) and not inputs) or (
            isinstance(inputs, np.ndarray) and inputs.shape == (0,)):
        # No images: an empty batch, as [] is no sentences for a text model (NumPy reads [] as
        # float64, which was refused with advice to convert floats to uint8).
        return np.zeros((0, *shape), np.uint8)
    if fit and isinstance(inputs, (list, tuple)) and first_shape_mismatch(inputs) is not None:
        # Images of several sizes (photos): each is fitted, then they make one batch.
        return np.concatenate([as_images(image, shape, fit=True) for image in inputs])
    images = _uint8_pixels(_as_array(inputs, shape), shape)
    if fit:
        images = _fitted(images, shape)
    if images.shape == shape or (shape[-1] == 1 and images.shape == shape[:-1]):
        images = images.reshape((1, *shape))  # one image
    elif shape[-1] == 1 and images.shape[1:] == shape[:-1]:
        images = images[..., np.newaxis]  # (batch, height, width) -> one channel
    if images.shape[1:] != shape:
        channels_first = (shape[2], *shape[:2])  # how PyTorch and NCHW arrays keep images
        if images.shape == (len(images), *channels_first):
            fix = "Put the channels last: np.moveaxis(x, 1, -1) (the array is channels-first)"
        elif images.shape == channels_first:  # one image channels-first, or single-channel ones
            fix = (f"If it is one channels-first image, put the channels last: "
                   f"np.moveaxis(x, 0, -1); if it is {shape[2]} images of one channel, convert "
                   f"them to {count_text(shape[2], 'channel')}")
        elif images.ndim == 4 and images.shape[1:3] == shape[:2]:  # the size fits, not channels
            fix = (f"Convert the images to {count_text(shape[2], 'channel')} "
                   f"(Image.open(f).convert({'L' if shape[2] == 1 else 'RGB'!r}) on files)")
        else:
            fix = (f"Resize the images to {shape[0]}x{shape[1]} pixels with "
                   f"{count_text(shape[2], 'channel')}")
        raise DataError(
            f"expected images of shape (batch, {', '.join(map(str, shape))}), received an array "
            f"of shape {images.shape}. {fix}."
        )
    return images


def _uint8_pixels(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`images` as uint8 pixels, or the error that says how to convert them."""
    if images.dtype.kind in "USO":
        raise DataError(
            f"this model classifies images: expected uint8 pixels of shape (batch, "
            f"{', '.join(map(str, shape))}), received {len(images) if images.ndim else 1} "
            f"strings or objects. Pass "
            f"images (an .npz file with an array x), or use a text model for texts."
        )
    if images.dtype.kind in "iu" and images.dtype != np.uint8:
        # Integer pixels, as training takes them (an .npz saved as int64): 0-255 is lossless.
        low, high = (int(images.min()), int(images.max())) if images.size else (0, 0)
        if low < 0 or high > 255:
            raise DataError(
                f"integer pixels must lie in [0, 255], found values from {low} to {high} "
                f"({images.dtype}, shape {images.shape}); rescale them to 0-255 (a cast to uint8 "
                f"would wrap them around)."
            )
        images = images.astype(np.uint8)
    if images.dtype.kind == "f" and (not images.size or (images.min() >= 0 and images.max() <= 1)):
        # Floats scaled to [0, 1], as training and evaluation take them: the pixels they stand
        # for (exact for floats made as uint8 / 255), which is what an export is fed. (NaN and
        # infinities fail the test.)
        return (images * 255).round().astype(np.uint8)
    if images.dtype != np.uint8:
        raise DataError(
            f"expected uint8 pixels (0-255) or floats scaled to [0, 1], received {images.dtype} "
            f"(array of shape {images.shape}). {_pixel_conversion(images)}."
        )
    return images


def _pixel_conversion(images: np.ndarray) -> str:
    """How to make pixels of `images` (neither uint8 nor floats in [0, 1]) that a model takes."""
    if images.dtype.kind == "b":
        return "Convert black-and-white images with x.astype('uint8') * 255"
    if images.dtype.kind != "f":
        return "Pass real-valued pixels"
    finite = images[np.isfinite(images)]
    if finite.size < images.size:
        return "Replace the NaN or infinite values"
    low, high = float(finite.min()) + 0.0, float(finite.max()) + 0.0  # -0.0 shows as "0"
    if low >= -0.5 and high <= 1.5:  # [0, 1] overshot a little (a resize's ringing, rounding)
        return (f"Clip them to [0, 1] with np.clip(x, 0, 1) (the values lie from {low:.8g} to "
                f"{high:.8g})")
    if low >= 0:  # on the 0-255 scale: no * 255
        return "Convert images on the 0-255 scale with x.round().clip(0, 255).astype('uint8')"
    return f"Rescale them to [0, 1] (the values lie from {low:g} to {high:g})"


def _fitted(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 `images` (one image, or a batch, with or without the channel axis) as a batch
    fitted to `shape`. A 3-D array whose last axis could be channels (1-4) is one image; other
    3-D arrays are a batch of grayscale images."""
    if images.ndim == 2:  # one grayscale image
        images = images[np.newaxis, ..., np.newaxis]
    elif images.ndim == 3 and images.shape[-1] > 4 and images.shape[0] == shape[2] > 1:
        # (3, H, W) for an RGB model: one channels-first (PyTorch) image, or three grayscale
        # images? Read as either, the other would give wrong answers without a word.
        raise DataError(
            f"received an array of shape {images.shape}: one channels-first image, or "
            f"{images.shape[0]} grayscale images? For one image put the channels last "
            f"(np.moveaxis(x, 0, -1)); for grayscale images add their channel axis "
            f"(x[..., np.newaxis])."
        )
    elif images.ndim == 3:
        images = images[np.newaxis] if images.shape[-1] <= 4 else images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] == shape or images.shape[-1] > 4:
        return images  # the shape check after this names what is wrong (channels first...)
    return fit_images(images, shape)


def _as_array(inputs: Any, shape: tuple[int, ...]) -> np.ndarray:
    """`inputs` as one array; a list of images of different sizes, which NumPy refuses with
    "setting an array element with a sequence... inhomogeneous shape", is named by its first
    two shapes that differ."""
    try:
        return np.asarray(inputs)
    except ValueError as error:
        expected = f"({', '.join(map(str, shape))})"
        mismatch = first_shape_mismatch(inputs) if isinstance(inputs, (list, tuple)) else None
        if mismatch is not None:
            differs, first, other = mismatch
            raise DataError(
                f"expected images of one shape, {expected}, received a list whose image 0 has "
                f"shape {first} and image {differs} shape {other}. Resize every image to "
                f"{shape[0]}x{shape[1]} pixels with {count_text(shape[2], 'channel')} before "
                f"passing them."
            ) from None
        raise DataError(
            f"expected uint8 images of shape {expected} in one array, received a "
            f"{type(inputs).__name__} that NumPy cannot make one array of ({first_line(error)}). "
            f"Pass a NumPy array of shape (batch, {expected[1:-1]})."
        ) from None


def as_texts(inputs: Any) -> np.ndarray:
    """Raw sentences as a 1-D object array of strings, or a clear error.

    Takes a string, a list or array of strings, a pandas Series, or a DataFrame with a
    `sentence` or `text` column (or a single column).

    Example:
        >>> from zoo.serving.inputs import as_texts
        >>> as_texts("a fine film").tolist()
        ['a fine film']
        >>> import pandas as pd
        >>> as_texts(pd.DataFrame({"sentence": ["good", "bad"], "label": [1, 0]})).tolist()
        ['good', 'bad']
    """
    if isinstance(inputs, (str, bytes)):
        inputs = [inputs]
    elif isinstance(inputs, pd.DataFrame):
        column = _text_column(inputs)
        if column is None:
            raise DataError(
                f"expected a DataFrame with a {' or '.join(map(repr, TEXT_COLUMNS))} column (or a "
                f"single column), received columns {[str(c) for c in inputs.columns]}. Pass the "
                f"text column itself: frame['my_column']."
            )
        inputs = inputs[column]
    if isinstance(inputs, pd.Series):
        inputs = inputs.to_numpy(dtype=object)
    array = np.asarray(inputs, dtype=object)
    if array.ndim == 0:  # a number, a set, a generator: NumPy wraps it whole
        unordered = " (a set has no order for the rows to follow)" if isinstance(
            inputs, (set, frozenset)) else ""
        raise DataError(
            f"this model classifies texts: expected a string, or a list, array or Series of "
            f"strings, received {type(inputs).__name__}. Pass the sentences as a list{unordered}."
        )
    if array.ndim > 1:
        raise DataError(
            f"this model classifies texts: expected one string per example, received an array of "
            f"shape {array.shape}. Pass a list of sentences, or use an image model for images."
        )
    return check_texts(array, "the inputs")


def _text_column(frame: pd.DataFrame, text_column: str | None = None) -> Any:
    """The column of `frame` holding the texts to classify: `text_column` when given, else
    `sentence`, else `text`, else the only column; None where there is none of these."""
    if text_column is not None:
        return text_column if text_column in frame.columns else None
    found = [column for column in TEXT_COLUMNS if column in frame.columns]
    if found:
        return found[0]
    return frame.columns[0] if len(frame.columns) == 1 else None


def read_inputs(
    path: str | os.PathLike, *, text_column: str | None = None,
    image_shape: Sequence[int] | None = None,
) -> np.ndarray:
    """Unlabelled inputs from a file or folder: one image from an image file (PNG, JPEG, BMP or
    GIF), images from an .npz, sentences from .txt/.csv/.tsv (the `text_column`, by default
    `sentence`, else `text`, else the only column), and either kind from a folder of image or
    .txt files (`read_input_folder`; with `image_shape`, a folder's images are fitted to it as
    they are read, so that photos of several sizes make one array: pass a predictor's
    `input_shape` where its `resize_images` is true).

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.serving.inputs import read_inputs
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.txt"
        >>> _ = path.write_text("a great film\\n\\nso dull\\n")
        >>> read_inputs(path).tolist()
        ['a great film', 'so dull']
    """
    return _read_with_rows(Path(path), text_column, image_shape)[0]


def _read_with_rows(
    path: Path, text_column: str | None, image_shape: Sequence[int] | None
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """`read_inputs`' inputs, and a table naming each (`read_named_inputs`)."""
    if text_column is not None and path.suffix.lower() not in (".csv", ".tsv"):
        raise DataError(
            f"text_column (--text-column) names a column of a .csv/.tsv file; {path} is not one."
        )
    if path.is_dir():
        inputs, files = read_input_folder(path, image_shape)
        rows = pd.DataFrame({"file": files})
        if inputs.dtype == object:  # a folder of .txt files: each text beside its file's name
            rows["text"] = inputs
        return inputs, rows
    missing = missing_input(path)
    if missing is not None:
        raise missing
    inputs, rows = _read_input_file(path, text_column)
    if not len(inputs):
        raise DataError(
            f"{path} holds no inputs to predict (an empty file, blank lines only, or a header "
            f"without rows); expected {INPUT_FORMATS}."
        )
    return inputs, rows


def _read_input_file(
    path: Path, text_column: str | None = None
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """The inputs of one file, and a table naming each (`read_named_inputs`)."""
    suffix = path.suffix.lower()
    try:
        if suffix in IMAGE_EXTENSIONS:  # one image: a batch of one
            images = read_examples(path.parent, [path], [], labelled=False)[0]
            return images, pd.DataFrame({"file": [path.name]})
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = list(archive.keys())
                if "x" not in names and len(names) != 1:
                    raise DataError(
                        f"{path.name} holds arrays {names}; expected the inputs in an array "
                        f"named x (np.savez(path, x=images))."
                    )
                return archive["x" if "x" in names else names[0]], None  # rows: by position
        if suffix == ".txt":
            # utf-8-sig: a byte-order mark (Windows Notepad writes one) is not part of the text.
            # Lines end at \n, \r\n or \r only (read_text reads them all as \n):
            # str.splitlines would also split a sentence at a form feed, U+0085 or U+2028.
            lines = path.read_text(encoding="utf-8-sig").split("\n")
            kept = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
            # Blank lines are skipped, so rows are named by their line in the file.
            rows = pd.DataFrame(kept, columns=["line", "text"]).astype({"text": object})
            return rows["text"].to_numpy(dtype=object), rows
        if suffix in (".csv", ".tsv"):
            tab_separated = suffix == ".tsv"
            frame = read_table_file(path, tab_separated)
            column = _text_column(frame, text_column)
            if text_column is None and column is not None and column not in TEXT_COLUMNS:
                _warn_first_line_read_as_header(path, column)
            if column is None:
                wanted = (f"column {text_column!r}" if text_column is not None
                          else f"{' or '.join(map(repr, TEXT_COLUMNS))} column")
                raise DataError(
                    f"{path.name} has no {wanted}; found columns {list(frame.columns)}. "
                    f"Name the column holding the text: --text-column NAME "
                    f"(zoo.serving.read_inputs(path, text_column=NAME))."
                )
            return as_texts(frame[column]), frame
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except pd.errors.ParserError as error:  # a ragged line: named, as in training data
        raise field_count_error(path, suffix == ".tsv", error) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, DataError):
            raise
        cause, hint = (npz_read_problem(path, error) if suffix == ".npz"
                       else (first_line(error), ""))
        raise DataError(
            f"could not read {path}: {cause}. Expected {INPUT_FORMATS}.{hint}"
        ) from None
    if suffix in OTHER_IMAGE_EXTENSIONS:  # an image, in a format TensorFlow cannot decode
        raise unreadable_images(path.parent, [path])
    raise DataError(
        f"{path.name}: unknown file extension {path.suffix!r}; expected {INPUT_FORMATS}."
    )


def _warn_first_line_read_as_header(path: Path, header: str) -> None:
    """A one-column table read its first line as the column's name. Without a header line, that
    is the first sentence, and it would go unpredicted without a word: say so (the reading stays
    as it is: a column named `review` is a header)."""
    warn(
        f"{path.name} has one column, and its first line {header!r} was read as the column's "
        f"name, not predicted. If it is a sentence, add a header line 'sentence' to the file, or "
        f"save the sentences as a .txt file (one per line); if it is the name, pass "
        f"--text-column {shlex.quote(header)} (zoo.serving.read_inputs(path, "
        f"text_column={header!r})) to "
        f"say so."
    )


class NamedInputs(NamedTuple):
    """What `read_named_inputs` returns: the inputs, and a table naming each row (None where
    only their order does)."""

    inputs: np.ndarray
    rows: pd.DataFrame | None


def read_named_inputs(
    path: str | os.PathLike, *, text_column: str | None = None,
    image_shape: Sequence[int] | None = None,
) -> NamedInputs:
    """The inputs of `path` as `read_inputs` reads them, with what `zoo predict` writes beside
    each prediction so that it joins back to its input: the file (`file`, relative to a folder;
    with its text for .txt files), the line of a .txt file (`line`, counted from 1: blank lines
    are skipped) with its text, or every column of a .csv/.tsv file (an id column too); nothing
    for an .npz, whose rows keep their order."""
    return NamedInputs(*_read_with_rows(Path(path), text_column, image_shape))


def read_input_folder(
    folder: str | os.PathLike, image_shape: Sequence[int] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The inputs of a folder, with each file's path relative to it: its images (PNG, JPEG, BMP
    or GIF) as one uint8 array (each fitted to `image_shape` when given), or its `.txt` files
    (one text each) as sentences. Files at any depth, sorted by path; hidden ones skipped.

    Example:
        >>> import pathlib, tempfile, numpy as np, tensorflow as tf
        >>> from zoo.serving.inputs import read_input_folder
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("b.png", "a.png"):
        ...     png = tf.io.encode_png(np.zeros((28, 28, 1), "uint8")).numpy()
        ...     _ = (folder / name).write_bytes(png)
        >>> images, names = read_input_folder(folder)
        >>> images.shape, names
        ((2, 28, 28, 1), ['a.png', 'b.png'])
    """
    folder = Path(folder)
    images, texts = example_files(folder, folder)
    if not images and not texts:
        raise DataError(
            f"{folder} is a folder without images ({', '.join(IMAGE_EXTENSIONS)}) or .txt files; "
            f"expected {INPUT_FORMATS}."
        )
    # Unlabelled: an empty text is an input like any other, not a mistake to warn about.
    inputs, kind = read_examples(folder, images, texts, labelled=False, image_shape=image_shape)
    files = images if kind == "image" else texts
    return inputs, [file.relative_to(folder).as_posix() for file in files]
