"""Where examples come from: TFDS datasets, and local files, folders, DataFrames and arrays.

`read_source` reads a local source into memory, checked (`Examples`): `.npz` files and `(x, y)`
arrays here, tables in `tables`, folders in `folders`. TFDS datasets are opened in `tfds_source`.
Either way the caller gets labelled examples, not yet split, scaled or vectorized.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zoo.data.catalog import (
    LOCAL_FORMATS,
    missing_local_source,
    tfds_name,
)
from zoo.data.examples import Examples
from zoo.data.folders import read_folder
from zoo.data.labels import class_ids, encode_labels
from zoo.data.resizing import fit_each, fit_images
from zoo.data.tables import from_frame, read_table
from zoo.data.validate import check_images, check_not_empty, check_texts, differing_shapes_fix
from zoo.errors import DataError, InvalidValueError, count_text, first_line


def column_options(text_column: str | None = None, label_column: str = "label") -> dict[str, str]:
    """The column arguments of `zoo.data.load` for a table source, checked, without defaults.

    `zoo.train`, `zoo.tune` and `zoo.evaluate` pass them on to every source they read; empty
    when neither is set, so that runs and searches naming no column record nothing new (and
    workdirs begun before these arguments existed still resume).

    Example:
        >>> from zoo.data.sources import column_options
        >>> column_options(), column_options("review", "stars")
        ({}, {'text_column': 'review', 'label_column': 'stars'})
    """
    for argument, value in (("text_column", text_column), ("label_column", label_column)):
        default = argument == "text_column" and value is None  # sentence, else text
        if not default and (not isinstance(value, str) or not value):
            raise InvalidValueError(
                f"{argument} must be a column name (a non-empty string), got {value!r}."
            )
    options = {}
    if text_column is not None:
        options["text_column"] = text_column
    if label_column != "label":
        options["label_column"] = label_column
    return options


def read_source(
    source: str | os.PathLike | pd.DataFrame | tuple[Any, Any],
    *,
    text_column: str | None = None,
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
    image_shape: Sequence[int] | None = None,
) -> Examples:
    """Read a local source into memory, checked, without splitting or preprocessing it.

    Args:
        source: a path to an `.npz` file (arrays `x`, `y`), a `.csv`/`.tsv` file (a text column
            and a label column), or a folder with one sub-folder per class (sorted folder names
            are class ids) holding images or `.txt` files of one text each; a pandas DataFrame
            (text and label columns); or a tuple `(x, y)` of arrays, where `x` holds images or
            strings.
        text_column: the column holding the text; by default `sentence`, else `text`.
        label_column: the column holding the labels (integer ids, or names mapped to ids in
            sorted order).
        class_names: map class names (string labels, folder names) to their positions in this
            list instead of sorting them; a name not in it is an error, but for a folder's
            class folders: those it does not name are skipped, with a warning (as Keras'
            `class_names=` selects folders). Integer labels are ids already and are kept.
        image_shape: fit images to this (height, width, channels) as they are read
            (`zoo.data.resizing.fit_images`: resized, colour mode converted), so that a
            folder of photos of many sizes reads as one array. Texts are not changed.

    Returns:
        `Examples` with images as (examples, height, width, channels) and int32 labels.

    Raises:
        DataError: unknown extension, missing or unreadable file, missing column, empty source,
            bad labels or pixels, class names not in `class_names`.

    Example:
        >>> import numpy as np
        >>> from zoo.data.sources import read_source
        >>> examples = read_source((np.zeros((4, 28, 28), "uint8"), [0, 1, 0, 1]))
        >>> examples.kind, examples.features.shape, examples.labels.dtype
        ('image', (4, 28, 28, 1), dtype('int32'))
        >>> texts = (["fine", "dull", "odd"], ["pos", "neg", "neutral"])
        >>> read_source(texts, class_names=["neg", "neutral", "pos"]).labels.tolist()
        [2, 0, 1]
    """
    examples = _read_local(source, text_column=text_column, label_column=label_column,
                           image_shape=image_shape, class_names=class_names)
    if image_shape is not None and examples.kind == "image":  # arrays; folders are fitted already
        examples = replace(examples, features=fit_images(examples.features, image_shape))
    return examples if class_names is None else with_class_names(examples, class_names)


def _read_local(
    source: Any, *, text_column: str | None = None, label_column: str = "label",
    image_shape: Sequence[int] | None = None, class_names: Sequence[str] | None = None,
) -> Examples:
    if isinstance(source, pd.DataFrame):
        # The size tells a training and a validation DataFrame apart in the messages.
        return from_frame(
            source, f"the DataFrame of {count_text(len(source), 'row')}", text_column=text_column,
            label_column=label_column,
        )
    if _input_label_pairs(source):
        raise DataError(
            f"received {len(source)} (input, label) pairs, such as {source[0]!r:.60}; expected "
            f"the inputs and the labels apart, (x, y). Regroup them: x, y = zip(*pairs)."
        )
    if (
        isinstance(source, (tuple, list))
        and len(source) == 2
        and not isinstance(source[0], (str, bytes))
    ):
        count = (f" of {count_text(len(source[0]), 'example')}" if hasattr(source[0], "__len__")
                 else "")
        x = source[0]
        if image_shape is not None and isinstance(x, (list, tuple)) and first_shape_mismatch(x):
            x = fit_each(x, image_shape)  # photos of several sizes: one array once fitted
        return from_arrays(x, source[1], origin=f"the (x, y) arrays{count}")
    if isinstance(source, (str, os.PathLike)):
        name = tfds_name(source) if isinstance(source, str) else None
        if name is not None:
            raise DataError(
                f"{source!r} is a TFDS dataset, not a local source; read it with zoo.data.load."
            )
        return read_path(Path(source), text_column=text_column, label_column=label_column,
                         image_shape=image_shape, class_names=class_names)
    raise DataError(
        f"cannot read a source of type {type(source).__name__}; expected a path ({LOCAL_FORMATS}), "
        f"'tfds:NAME', a pandas DataFrame, or a tuple (x, y) of arrays."
    )


def _input_label_pairs(source: Any) -> bool:
    """Whether `source` is a list of (input, label) pairs, [("good", 1), ("bad", 0)]: each
    item a text or an array, then an integer id. (x, y) never reads so: x's items are all of one
    kind, and y holds no texts or arrays."""
    return (
        isinstance(source, (list, tuple))
        and len(source) > 0
        and all(isinstance(item, (list, tuple)) and len(item) == 2 for item in source)
        and all(
            isinstance(item[0], (str, bytes, np.ndarray))
            and isinstance(item[1], (int, np.integer))
            and not isinstance(item[1], bool)
            for item in source
        )
    )


def read_path(
    path: Path, *, text_column: str | None = None, label_column: str = "label",
    image_shape: Sequence[int] | None = None, class_names: Sequence[str] | None = None,
) -> Examples:
    """Read an `.npz`, `.csv`, `.tsv` file or a folder of class folders (see `read_source`);
    a folder's images are fitted to `image_shape` one by one when it is given, and only the
    class folders `class_names` names are read when it is given."""
    missing = missing_local_source(path)
    if missing is not None:
        raise missing
    if path.is_dir():
        return read_folder(path, image_shape, class_names)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return read_npz(path)
    if suffix in (".csv", ".tsv"):
        return read_table(path, text_column=text_column, label_column=label_column)
    raise DataError(
        f"{path.name}: unknown file extension {path.suffix!r}; expected {LOCAL_FORMATS}."
    )


def npz_read_problem(path: Path, error: Exception) -> tuple[str, str]:
    """Why `np.load` could not read the .npz file at `path`, and the fix to add ("" for none).
    Training data and `zoo predict` inputs share it."""
    if path.is_file() and not zipfile.is_zipfile(path):
        # np.load falls back to reading a pickle, and its complaint about pickles misleads.
        return "it is not an .npz archive (a zip of arrays); it may be truncated or corrupt", ""
    hint = (" Save texts as a string array (np.array(texts, dtype=str)), not objects."
            if "allow_pickle" in str(error) else "")
    return first_line(error), hint


def read_npz(path: Path) -> Examples:
    """Read arrays `x` (images or strings) and `y` (labels) from an `.npz` file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = sorted(archive.keys())
            arrays = {key: archive[key] for key in ("x", "y") if key in keys}
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
        cause, hint = npz_read_problem(path, error)
        raise DataError(
            f"could not read {path}: {cause}. Expected an .npz file written by "
            f"np.savez(path, x=inputs, y=labels).{hint}"
        ) from None
    if len(arrays) < 2:
        keras_style = (
            " For arrays named as keras.datasets returns them: d = np.load(path); "
            "np.savez(new_path, x=d['x_train'], y=d['y_train'])."
            if {"x_train", "y_train"} <= set(keys)
            else ""
        )
        raise DataError(
            f"{path.name} holds arrays {keys}; expected arrays named x (inputs) and y (labels), "
            f"as written by np.savez(path, x=inputs, y=labels).{keras_style}"
        )
    return from_arrays(arrays["x"], arrays["y"], origin=repr(path.name))


def from_arrays(x: Any, y: Any, origin: str = "the (x, y) arrays") -> Examples:
    """Images or texts in `x`, labels in `y`."""
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], (str, bytes)):
        features = np.asarray(x, dtype=object)
    else:
        try:
            features = np.asarray(x)
        except ValueError as error:  # NumPy's "inhomogeneous shape": images of several sizes
            raise _ragged_error(x, origin, error) from None
    if features.ndim == 0:  # None, one number or one text: len() would fail on it
        raise DataError(
            f"{origin}: x is {x!r:.60}; expected an array of images or "
            f"texts, one per label: (x, y) with x of shape (examples, height, width[, channels]) "
            f"or a list of strings."
        )
    check_not_empty(len(features), origin)
    labels, class_names = encode_labels(y, origin, count=len(features))
    if features.dtype.kind in "USO":
        return Examples(check_texts(features, origin, labelled=True), labels, "text", class_names,
                        origin)
    return Examples(check_images(features, origin), labels, "image", class_names, origin)


def first_shape_mismatch(items: Any) -> tuple[int, tuple[int, ...], tuple[int, ...]] | None:
    """The first of `items` whose shape differs from item 0's, as (its index, item 0's shape,
    its shape); None where all share one shape or an item makes no regular array (nothing to
    compare). Names the examples NumPy refuses as "inhomogeneous" in training data and inputs
    to predict alike."""
    try:
        shapes = [np.shape(item) for item in items]
    except (ValueError, TypeError):
        return None
    index = next((i for i, shape in enumerate(shapes) if shape != shapes[0]), None)
    return None if index is None else (index, shapes[0], shapes[index])


def _ragged_error(x: Any, origin: str, error: ValueError) -> DataError:
    """The error for examples that make no array: the first two that differ in shape."""
    mismatch = first_shape_mismatch(x)
    if mismatch is None:  # no two whole examples to compare
        return DataError(
            f"{origin}: x cannot be read as one array ({first_line(error)}); expected images "
            f"of one shape, (examples, height, width[, channels]), or a list of strings."
        )
    index, first, other = mismatch
    return DataError(
        f"{origin}: x holds examples of different shapes: example 0 is {first} but example "
        f"{index} is {other}; expected one shape for all, (height, width) or (height, width, "
        f"channels). {differing_shapes_fix(first, other)}"
    )


def with_class_names(examples: Examples, class_names: Sequence[str]) -> Examples:
    """Examples whose class names are numbered by their position in `class_names`.

    Examples with integer labels (no names of their own) come back unchanged: their ids are ids.

    Raises:
        DataError: a name of the source that is not in `class_names`.

    Example:
        >>> from zoo.data.sources import read_source, with_class_names
        >>> examples = read_source((["fine", "dull"], ["pos", "neg"]))
        >>> named = with_class_names(examples, ["neg", "neutral", "pos"])
        >>> named.labels.tolist(), named.class_names
        ([2, 0], ('neg', 'neutral', 'pos'))
    """
    if not examples.class_names:
        return examples
    labels = class_ids(examples.labels, examples.class_names, class_names, examples.origin)
    return replace(examples, labels=labels, class_names=tuple(str(n) for n in class_names))
