"""Where examples come from: TFDS datasets, and local files, folders, DataFrames and arrays.

Local sources are read into memory as NumPy arrays (`Examples`) and checked before any pipeline is
built; TFDS datasets are opened as `tf.data` streams (`TfdsExamples`) and checked on their
metadata. Either way the caller gets labelled examples, not yet split, scaled or vectorized.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import socket
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.data.catalog import DATASETS, DatasetInfo
from zoo.data.labels import class_ids, encode_labels
from zoo.data.validate import check_images, check_not_empty, check_texts
from zoo.errors import (
    DataError,
    DatasetUnavailableError,
    InvalidValueError,
    close_matches,
    first_line,
)
from zoo.logs import quiet

TFDS_PREFIX = "tfds:"
TEXT_COLUMNS = ("sentence", "text")  # looked for, in this order, when text_column is not given
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # what tf.io.decode_image reads
OTHER_IMAGE_EXTENSIONS = (".webp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2")
LOCAL_FORMATS = (
    ".npz with arrays x and y, .csv or .tsv with a text and a label column, or a folder with one "
    "sub-folder per class holding images or .txt files"
)


@dataclass(frozen=True)
class Examples:
    """Labelled examples read from a local source, in memory, before any split or preprocessing.

    Attributes:
        features: images (examples, height, width, channels) as uint8 or float32 in [0, 1], or
            texts (examples,) as an object array of Python strings.
        labels: (examples,) int32 class ids.
        kind: "image" or "text".
        class_names: names from the source itself (folder names, string labels), in id order,
            else () (integer labels are ids already).
        origin: how messages name the source ("'digits.npz'", "the DataFrame of 872 rows").
    """

    features: np.ndarray
    labels: np.ndarray
    kind: str
    class_names: tuple[str, ...] = ()
    origin: str = "the data"

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: np.ndarray) -> Examples:
        """The examples at `indices`, in that order."""
        return replace(self, features=self.features[indices], labels=self.labels[indices])


@dataclass(frozen=True)
class TfdsExamples:
    """A TFDS split opened as an unbatched `tf.data.Dataset` of `(input, int32 label)` pairs.

    Attributes:
        dataset: decoded examples: images (height, width, channels) uint8, or scalar strings.
        info: the catalog record, or one made from TFDS' metadata for datasets outside the catalog.
        split: the split expression read.
        num_examples: examples in the split, when known before reading it.
    """

    dataset: tf.data.Dataset
    info: DatasetInfo
    split: str
    num_examples: int | None


def tfds_name(source: Any) -> str | None:
    """The TFDS name a source refers to ("tfds:NAME[/CONFIG]" or a catalog name), else None.

    A catalog name that is also an existing path is read as the path.

    Example:
        >>> from zoo.data.sources import tfds_name
        >>> tfds_name("tfds:glue/sst2"), tfds_name("mnist"), tfds_name("digits.npz")
        ('glue/sst2', 'mnist', None)
    """
    if not isinstance(source, str):
        return None
    if source.startswith(TFDS_PREFIX):
        name = source[len(TFDS_PREFIX) :].strip()
        if not name:
            raise DataError(
                f"{source!r} names no dataset; expected 'tfds:NAME' or 'tfds:NAME/CONFIG'."
            )
        return name
    if source in DATASETS and not Path(source).exists():
        return source
    return None


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
            list instead of sorting them; a name not in it is an error. Integer labels are ids
            already and are kept.

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
    examples = _read_local(source, text_column=text_column, label_column=label_column)
    return examples if class_names is None else with_class_names(examples, class_names)


def _read_local(
    source: Any, *, text_column: str | None = None, label_column: str = "label"
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
        return from_arrays(*source, origin=f"the (x, y) arrays{count}")
    if isinstance(source, (str, os.PathLike)):
        name = tfds_name(source) if isinstance(source, str) else None
        if name is not None:
            raise DataError(
                f"{source!r} is a TFDS dataset, not a local source; read it with zoo.data.load."
            )
        return read_path(Path(source), text_column=text_column, label_column=label_column)
    raise DataError(
        f"cannot read a source of type {type(source).__name__}; expected a path ({LOCAL_FORMATS}), "
        f"'tfds:NAME', a pandas DataFrame, or a tuple (x, y) of arrays."
    )


def count_text(number: int, noun: str) -> str:
    """`number` of `noun`, the noun plural but for one: '1 row', '6,920 rows'."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


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
    path: Path, *, text_column: str | None = None, label_column: str = "label"
) -> Examples:
    """Read an `.npz`, `.csv`, `.tsv` file or a folder of class folders (see `read_source`)."""
    if not path.exists():
        hint = ""
        if not path.suffix and os.sep not in str(path):
            matches = close_matches(str(path), DATASETS)
            hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
            hint += f" Known datasets: {', '.join(sorted(DATASETS))}; use 'tfds:NAME' for others."
        raise DataError(
            f"{str(path)!r} is neither an existing file or folder nor a known dataset name.{hint} "
            f"Local sources are {LOCAL_FORMATS}."
        )
    if path.is_dir():
        return read_folder(path)
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


def read_table(
    path: Path, *, text_column: str | None = None, label_column: str = "label"
) -> Examples:
    """Read a `.csv` or `.tsv` file with a text column and a label column."""
    frame = read_frame(path, label_column=label_column)
    return from_frame(frame, repr(path.name), text_column=text_column, label_column=label_column)


def read_frame(path: str | os.PathLike, *, label_column: str = "label") -> pd.DataFrame:
    """A `.csv` or `.tsv` file as a DataFrame of strings, in the dialect zoo reads.

    Tab-separated files are read without quote processing (`csv.QUOTE_NONE`), as GLUE's are
    written: their sentences contain unbalanced quote characters. Comma-separated files follow the
    usual CSV quoting. A line with more fields than the header is refused, naming the line: a
    stray delimiter would otherwise shift the text into the label column.

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.data.sources import read_frame
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.tsv"
        >>> _ = path.write_text('sentence\\tlabel\\n"a bold , odd film\\t1\\n')
        >>> read_frame(path).iloc[0].tolist()
        ['"a bold , odd film', '1']
        >>> _ = path.write_text("sentence\\tlabel\\na bold\\todd film\\t1\\n")
        >>> read_frame(path)
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: could not read ...: line 2 has 3 fields but the header line has 2; ...
    """
    path = Path(path)
    tab_separated = path.suffix.lower() == ".tsv"
    try:
        frame = read_table_file(path, tab_separated, header=0)
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas makes the first column(s) the index when the first data row has more fields
            # than the header, shifting every column; read without a header to find the line.
            read_table_file(path, tab_separated, header=None)
            raise pd.errors.ParserError("Expected as many fields as the header in line 2")
        return frame
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path.name} is empty: expected a header line naming a text column and "
            f"{label_column!r}, then one example per line."
        ) from None
    except pd.errors.ParserError as error:
        raise field_count_error(path, tab_separated, error) from None
    except UnicodeDecodeError:
        raise not_utf8(path) from None
    except OSError as error:
        raise DataError(
            f"could not read {path}: {first_line(error)}. Expected a UTF-8 "
            f"{'tab' if tab_separated else 'comma'}-separated file with a header line."
        ) from None


def not_utf8(path: Path) -> DataError:
    """The error for a text file that is not UTF-8, naming its first bad line and byte.

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.data.sources import not_utf8
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
        >>> _ = path.write_bytes("text,label\\nfine,1\\ntr\\xe8s bien,1\\n".encode("latin-1"))
        >>> print(not_utf8(path))  # doctest: +ELLIPSIS
        could not read .../reviews.csv: line 3 is not UTF-8 (byte 0xe8 in ...); expected UTF-8 ...
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        where = "it is not UTF-8"
    except UnicodeDecodeError as error:
        start = data.rfind(b"\n", 0, error.start) + 1
        end = data.find(b"\n", error.start)
        line = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
        number = data.count(b"\n", 0, error.start) + 1
        where = f"line {number} is not UTF-8 (byte 0x{data[error.start]:02x} in \"{line[:60]}\")"
    return DataError(
        f"could not read {path}: {where}; expected UTF-8 text. Convert the file, e.g. "
        f"iconv -f latin1 -t utf-8 {path.name} > utf8_{path.name} (latin1: the usual encoding "
        f"of such files), or save it as UTF-8 from your editor."
    )


def read_table_file(path: Path, tab_separated: bool, header: int | None = 0) -> pd.DataFrame:
    """A .csv or .tsv file's fields as text, as training data and `zoo predict` read them: .tsv
    unquoted (as GLUE's), .csv with quotes; every value a string, none taken as missing."""
    return pd.read_csv(
        path,
        sep="\t" if tab_separated else ",",
        quoting=csv.QUOTE_NONE if tab_separated else csv.QUOTE_MINIMAL,
        dtype=str,
        keep_default_na=False,  # "null" or "NA" is a word in a sentence, not a missing value
        encoding="utf-8",
        header=header,
    )


def field_count_error(path: Path, tab_separated: bool, error: Exception) -> DataError:
    """The message for a line with more fields than the header, a quote that never closes, or
    any other parse error."""
    delimiter = "tab" if tab_separated else "comma"
    if "EOF inside string" in str(error):  # pandas counts records, not lines: find the line
        return DataError(
            f"could not read {path}: line {_unclosed_quote_line(path)} opens a quoted field "
            f"(\") that never closes, so the rest of the file would read as one text. Close "
            f"the quote; for a quote that is part of the text, quote the whole field and double "
            f"the quotes inside it (\"a \"\"witty\"\" film\",1)."
        )
    counts = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
    if counts is None:
        return DataError(
            f"could not read {path}: {first_line(error)}. Expected a UTF-8 {delimiter}-separated "
            f"file with a header line and the same number of fields on every line."
        )
    expected, line, found = counts.groups()
    if tab_separated:
        fix = (
            "Replace tabs inside the text with spaces (.tsv files are read without quoting) and "
            "remove any trailing tab at the end of the line"
        )
    elif "\t" in _header_line(path):
        # A tab-separated file named .csv: its commas are text, the tabs the real delimiter.
        fix = _TAB_HEADER_HINT.format(name=f"{path.stem}.tsv").rstrip(".")
    else:
        fix = (
            'Quote a field that contains a comma ("witty, warm film") and remove any trailing '
            "comma at the end of the line"
        )
    return DataError(
        f"could not read {path}: line {line} has {found} fields but the header line has "
        f"{expected}; expected one {delimiter}-separated field per column. {fix}."
    )


# A tab-separated file named .csv: its header splits into one column, or a line's commas (text)
# count as fields.
_TAB_HEADER_HINT = ("The header holds a tab, so the file looks tab-separated: name it {name} (a "
                   ".csv is read as comma-separated).")


def _unclosed_quote_line(path: Path) -> int:
    """The line where a comma-separated file's last record begins: where a quote that runs to
    the end of the file opens (Python's csv module quotes as pandas does)."""
    begins = 1
    with open(path, encoding="utf-8", errors="replace", newline="") as file:
        reader = csv.reader(file)
        ended = 0  # the line the previous record ended on
        for _ in reader:
            begins, ended = ended + 1, reader.line_num
    return begins


def _header_line(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as file:
        return file.readline()


def _column_hint(columns: list[str], wanted: Sequence[str], argument: str) -> str:
    """A likely cause of a missing column: the same name in other case, or a header that was
    split on the wrong delimiter."""
    lowered = {name.lower() for name in wanted}
    for column in columns:
        if column.lower() in lowered:
            return f" Column {column!r} differs only in case: pass {argument}={column!r}."
    if any("\t" in column for column in columns):
        return " " + _TAB_HEADER_HINT.format(name=".tsv")
    if len(columns) == 1 and "," in columns[0]:
        # A comma-separated file named .tsv: read on tabs, its header is one column.
        return (" The header holds commas, so the file looks comma-separated: name it .csv (a "
                ".tsv is read as tab-separated).")
    if len(columns) == 1 and ";" in columns[0]:
        return " The header holds ';': re-save the file comma-separated (.csv) or tab-separated."
    return ""


def from_frame(
    frame: pd.DataFrame,
    origin: str,
    *,
    text_column: str | int | None = None,
    label_column: str | int = "label",
) -> Examples:
    """Texts and labels from the columns of a DataFrame.

    Columns are matched by name as text, so that a frame read with `header=None` (columns 0, 1)
    takes `text_column=0` and, from the command line, `--text-column 0`.
    """
    by_name = {str(c): c for c in frame.columns}
    columns = list(by_name)
    candidates = (str(text_column),) if text_column is not None else TEXT_COLUMNS
    found = next((by_name[c] for c in candidates if c in by_name), None)
    if found is None:
        wanted = (repr(text_column) if text_column is not None
                  else " or ".join(repr(c) for c in TEXT_COLUMNS))
        raise DataError(
            f"{origin} has no text column {wanted}; found columns {columns}."
            f"{_column_hint(columns, candidates, 'text_column')} Pass text_column= "
            f"(--text-column on the command line) naming the column that holds the text (tables "
            f"are read as text; images come as a tuple (x, y) of arrays, an .npz file or an "
            f"image folder)."
        )
    if str(label_column) not in by_name:
        raise DataError(
            f"{origin} has no label column {label_column!r}; found columns {columns}."
            f"{_column_hint(columns, (label_column,), 'label_column')} Pass label_column= "
            f"(--label-column on the command line) naming the column that holds the labels."
        )
    label_column = by_name[str(label_column)]
    check_not_empty(len(frame), origin)
    texts = check_texts(frame[found].to_numpy(dtype=object), f"{origin}, column {found!r}",
                        labelled=True)
    labels, class_names = encode_labels(
        frame[label_column], f"{origin}, column {label_column!r}"
    )
    return Examples(texts, labels, "text", class_names, origin)


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
    fix = ("Convert them to one colour mode first (all grayscale or all RGB)"
           if first[:2] == other[:2]
           else "Resize them to one size first (e.g. with tf.image.resize)")
    return DataError(
        f"{origin}: x holds examples of different shapes: example 0 is {first} but example "
        f"{index} is {other}; expected one shape for all, (height, width) or (height, width, "
        f"channels). {fix}."
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


def read_folder(path: Path) -> Examples:
    """Read a folder with one sub-folder per class (sorted names = class ids): images, decoded
    once here so that a corrupt file or a stray size is reported before training with its file
    name (they must all have one shape), or `.txt` files of one text each, as IMDB's aclImdb
    (`train/pos/0_9.txt`) and `keras.utils.text_dataset_from_directory` have them.

    Hidden folders and macOS' `__MACOSX` (left by unzipping an archive made on a Mac) are never
    classes.

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.data.sources import read_folder
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for label, text in (("pos", "a fine film"), ("neg", "so dull")):
        ...     (root / label).mkdir()
        ...     _ = (root / label / "1.txt").write_text(text)
        >>> examples = read_folder(root)
        >>> examples.kind, examples.features.tolist(), examples.labels.tolist()
        ('text', ['so dull', 'a fine film'], [0, 1])
        >>> examples.class_names
        ('neg', 'pos')
    """
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not skipped_name(d.name))
    if not classes:
        raise DataError(
            f"{path} has no sub-folders; a folder source needs one sub-folder per class, e.g. "
            f"{path / 'cat' / '0001.png'} and {path / 'dog' / '0002.png'}, or "
            f"{path / 'pos' / '0001.txt'} and {path / 'neg' / '0002.txt'}."
        )
    _check_not_a_folder_of_splits(path, classes)
    found = [example_files(path, path / name) for name in classes]  # (images, texts) per class
    images = [file for class_images, _ in found for file in class_images]
    texts = [file for _, class_texts in found for file in class_texts]
    if not images and not texts:
        raise DataError(
            f"{path} is empty: its class folders ({', '.join(classes)}) hold no images "
            f"({', '.join(IMAGE_EXTENSIONS)}) and no .txt files."
        )
    features, kind = read_examples(path, images, texts, labelled=True)
    per_class = [len(class_images if kind == "image" else class_texts)
                 for class_images, class_texts in found]
    labels = np.repeat(np.arange(len(classes), dtype=np.int32), per_class)
    return Examples(features, labels, kind, tuple(classes), repr(path.name))


def read_examples(
    root: Path, images: Sequence[Path], texts: Sequence[Path], *, labelled: bool
) -> tuple[np.ndarray, str]:
    """The examples in files found under `root` (`example_files`) and their kind: images
    decoded into one array ("image"), or each `.txt` file's text ("text"). Both kinds at once
    are refused; `labelled` texts are checked as training data (see `check_texts`)."""
    if images and texts:
        raise DataError(
            f"{root} holds both images ({images[0].relative_to(root)}, ...) and text files "
            f"({texts[0].relative_to(root)}, ...); expected one kind: images or .txt files. "
            f"Move the other kind out."
        )
    if texts:
        return read_text_files(root, texts, labelled=labelled), "text"
    return decode_images(root, images), "image"


def read_text_files(root: Path, files: Sequence[Path], *, labelled: bool) -> np.ndarray:
    """The UTF-8 text of each file (under `root`) as an object array, checked as texts."""
    texts = []
    for file in files:
        try:
            # utf-8-sig: a byte-order mark (Windows Notepad writes one) is not part of the text.
            texts.append(file.read_text(encoding="utf-8-sig").strip())
        except UnicodeDecodeError:
            raise not_utf8(file) from None
    return check_texts(np.array(texts, dtype=object), repr(root.name), labelled=labelled,
                       files=[str(file.relative_to(root)) for file in files])


def example_files(root: Path, folder: Path) -> tuple[list[Path], list[Path]]:
    """The image files and the `.txt` files under `folder` (at any depth, sorted), skipping
    hidden ones and `__MACOSX`; raises for images in a format zoo cannot decode, named
    relative to `root`."""
    images: list[Path] = []
    texts: list[Path] = []
    unreadable: list[Path] = []
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or any(skipped_name(p) for p in file.relative_to(root).parts):
            continue
        if _is_image(file):
            images.append(file)
        elif _is_text(file):
            texts.append(file)
        elif file.suffix.lower() in OTHER_IMAGE_EXTENSIONS:
            unreadable.append(file)
    if unreadable:
        # Skipping them would use part of the data without a word.
        raise DataError(
            f"{root} holds {len(unreadable)} image(s) in a format zoo cannot decode, e.g. "
            f"{unreadable[0].relative_to(root)}; expected {', '.join(IMAGE_EXTENSIONS)}. Convert "
            f"them (e.g. with Pillow: Image.open(f).save(f.with_suffix('.png'))) or remove them."
        )
    return images, texts


def decode_images(root: Path, files: Sequence[Path]) -> np.ndarray:
    """Decode `files` (under `root`) into one uint8 array (count, height, width, channels); a
    corrupt file or one whose shape differs from the first is named in the error."""
    images: list[np.ndarray] = []
    for file in files:
        try:
            image = tf.io.decode_image(tf.io.read_file(str(file)), expand_animations=False).numpy()
        except (tf.errors.OpError, OSError) as error:
            raise DataError(
                f"could not read {file}: {first_line(error)}. Expected a PNG, JPEG, BMP or GIF "
                f"image; remove or replace the file."
            ) from None
        if images and image.shape != images[0].shape:
            fix = (
                "Convert them to one colour mode first (all grayscale or all RGB)"
                if image.shape[:2] == images[0].shape[:2]
                else "Resize them to one size first"
            )
            raise DataError(
                f"images in {root} differ in shape: {files[0].relative_to(root)} is "
                f"{images[0].shape} but {file.relative_to(root)} is {image.shape} (height, width, "
                f"channels); expected one shape for all. {fix}."
            )
        images.append(image)
    return check_images(np.stack(images), repr(root.name))


def skipped_name(name: str) -> bool:
    """Hidden files and folders, and the resource forks macOS' zip leaves in `__MACOSX`."""
    return name.startswith(".") or name == "__MACOSX"


def _is_image(file: Path) -> bool:
    return file.suffix.lower() in IMAGE_EXTENSIONS


def _is_text(file: Path) -> bool:
    return file.suffix.lower() == ".txt"


def _check_not_a_folder_of_splits(path: Path, classes: list[str]) -> None:
    """Raise for root/train/<class>/..., root/test/<class>/... given as root: the split folders
    would become the classes, and the model would learn train-vs-test."""
    inner: set[str] | None = None
    for name in classes:
        entries = [e for e in (path / name).iterdir() if not skipped_name(e.name)]
        if any(e.is_file() and (_is_image(e) or _is_text(e)) for e in entries):
            return  # examples at a class folder's top level: a real class folder
        names = {e.name for e in entries if e.is_dir()}
        if len(names) < 2 or (inner is not None and names != inner):
            # Different sub-folders, or one (cat/images, dog/images): images nested by the
            # user's own layout. A split holds classes, and one class trains nothing.
            return
        inner = names
    split = "train" if "train" in classes else classes[0]
    others = [name for name in classes if name != split]
    validation = f" (and {path / others[0]} as validation data)" if others else ""
    raise DataError(
        f"{path} looks like a folder of splits, one level above the class folders: its "
        f"sub-folders ({', '.join(classes)}) hold no images themselves, only the same folders "
        f"({', '.join(sorted(inner or ()))}), which would make the split folders the classes. "
        f"Pass the folder of one split instead, e.g. {path / split}{validation}."
    )


# ---- TFDS ---------------------------------------------------------------------------------------


def read_tfds(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> TfdsExamples:
    """Open a TFDS split as `(input, label)` pairs, or raise `DatasetUnavailableError`.

    Catalog datasets (`zoo.data.DATASETS`) are read with their recorded feature keys; others need
    TFDS supervised keys (`as_supervised`). A dataset not prepared in `data_dir` (TFDS' default:
    `$TFDS_DATA_DIR` or `~/tensorflow_datasets`) is downloaded there, as `tfds.load` does, unless
    `download=False`; where TFDS' download host cannot be reached, that fails in seconds with
    the way out.

    Raises:
        DatasetUnavailableError: unknown name, not prepared, no network, failed download.
        DataError: unknown split.

    Example (needs the dataset prepared, or TFDS' mock data as in the tests):
        >>> import tensorflow_datasets as tfds
        >>> from zoo.data.sources import read_tfds
        >>> with tfds.testing.mock_data(num_examples=3):
        ...     examples = read_tfds("mnist", "test")
        >>> examples.dataset.element_spec[0].shape, examples.info.num_classes
        (TensorShape([28, 28, 1]), 10)
    """
    import tensorflow_datasets as tfds

    if data_dir is not None and Path(data_dir).is_file():
        raise DataError(
            f"data_dir {data_dir} is a file; expected the folder TFDS keeps prepared datasets "
            f"in (--data-dir DIR). A local file of examples is passed as data itself (--data)."
        )
    try:
        # A missing dataset is this function's message, not TFDS' warnings (such as its note
        # on a data_dir folder it finds incomplete while looking for the dataset).
        with quiet("absl", below=logging.ERROR):
            dataset, tfds_info = _tfds_load(tfds, name, split, data_dir, download=False)
    except AssertionError:  # TFDS' way of saying "not prepared in data_dir"
        where = _data_dir_text(data_dir)
        if not download:
            raise _unavailable(
                name, f"it is not prepared in {where} and download=False (--no-download); "
                f"allow the download where there is network"
            ) from None
        if not _network_reachable():
            raise _unavailable(
                name, f"it is not prepared in {where} and there is no network to download it"
            ) from None
        dataset, tfds_info = _tfds_load(tfds, name, split, data_dir, download=True)
    info = DATASETS.get(name) or _info_from_tfds(name, tfds_info, dataset)
    dataset = dataset.map(
        lambda example: (example[info.feature], tf.cast(example[info.label], tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return TfdsExamples(dataset, info, split, _split_size(tfds_info, split))


def _tfds_load(
    tfds: Any, name: str, split: str, data_dir: Any, *, download: bool
) -> tuple[Any, Any]:
    try:
        return tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            download=download,
            shuffle_files=False,
            with_info=True,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise _unknown_tfds_name(tfds, name) from None
    except ValueError as error:
        message = first_line(error)
        if "split" in message.lower():
            catalog = DATASETS.get(name)
            # A slice of train is a training stream to `load` (shuffled, augmented, adapting
            # its own vocabulary), so the hold-out call must say otherwise.
            suggestion = (
                f" Use split={catalog.test_split!r} to evaluate, or hold out part of train with "
                f"TFDS slicing: train = zoo.data.load({name!r}, split='train[:90%]', spec=...) "
                f"and zoo.data.load({name!r}, split='train[90%:]', spec=..., shuffle=False, "
                f"augment=False, preprocessor=train.preprocessor)."
                if catalog
                else ""
            )
            raise DataError(f"{name!r} has no split {split!r}: {message}{suggestion}") from None
        if "config" in message.lower() and "/" in name:
            dataset_name, config = name.split("/", 1)
            cause = f"TFDS dataset {dataset_name!r} has no config {config!r}"
            raise _unknown_tfds_name(tfds, name, cause=cause) from None
        what = "the download failed" if download else "TFDS could not read it"
        raise _unavailable(name, f"{what} ({message})") from None
    except AssertionError:
        raise
    except Exception as error:  # network, checksums, corrupt records: one line, not a traceback
        what = "the download failed" if download else "TFDS could not read it"
        raise _unavailable(name, f"{what} ({type(error).__name__}: {first_line(error)})") from None


def base_name(name: str) -> str:
    """The dataset part of "NAME/CONFIG"."""
    return name.split("/")[0]


def _unknown_tfds_name(tfds: Any, name: str, cause: str | None = None) -> DatasetUnavailableError:
    try:
        known = list(tfds.list_builders(with_community_datasets=False))
    except Exception:  # listing is only for suggestions
        known = []
    matches = close_matches(name, list(DATASETS)) or close_matches(base_name(name), known)
    did_you_mean = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    return DatasetUnavailableError(
        f"dataset {name!r} is not available: {cause or 'TFDS has no dataset of that name'}."
        f"{did_you_mean} zoo's catalog: {', '.join(sorted(DATASETS))} (any other TFDS name works "
        f"as 'tfds:NAME'). Or load a local file instead: {LOCAL_FORMATS}."
    )


def _unavailable(name: str, cause: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"dataset {name!r} is not available: {cause}. Pass data_dir= (zoo.data.load, zoo.train, "
        f"zoo.tune, zoo.evaluate; --data-dir on the command line) a folder where it is prepared "
        f"(on a machine with network: `tfds build {name} --data_dir DIR`, then copy DIR), "
        f"or load a local file instead: {LOCAL_FORMATS}."
    )


def _data_dir_text(data_dir: Any) -> str:
    if data_dir is not None:
        return str(data_dir)
    return os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets (TFDS' default data_dir)"


def _network_reachable(
    host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0
) -> bool:
    """Whether TFDS' download host answers; fails in seconds where TFDS would retry for minutes."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct connection says nothing; let TFDS try
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _info_from_tfds(name: str, tfds_info: Any, dataset: tf.data.Dataset) -> DatasetInfo:
    """A catalog-like record for a TFDS dataset outside the catalog, from its supervised keys."""
    keys = tfds_info.supervised_keys
    if not keys or len(keys) != 2 or not all(isinstance(k, str) for k in keys):
        raise DataError(
            f"TFDS dataset {name!r} declares no (input, label) supervised keys, so zoo cannot tell "
            f"which feature to read; export it to an .npz or .csv file, or add it to "
            f"zoo.data.catalog.DATASETS."
        )
    feature, label = keys
    spec = dataset.element_spec[feature]
    label_feature = tfds_info.features[label]
    names = tuple(getattr(label_feature, "names", ()) or ())
    if spec.dtype == tf.string and spec.shape.rank == 0:
        kind, shape = "text", None
    elif spec.dtype == tf.uint8 and spec.shape.rank == 3 and spec.shape.is_fully_defined():
        kind, shape = "image", tuple(int(d) for d in spec.shape)
    else:
        raise DataError(
            f"TFDS dataset {name!r}: its input {feature!r} is {spec.dtype.name} {spec.shape}; zoo "
            f"reads fixed-size uint8 images (height, width, channels) or scalar strings."
        )
    if not names:
        raise DataError(f"TFDS dataset {name!r}: its label {label!r} is not a class label.")
    return DatasetInfo(name, kind, feature, len(names), names, label=label, image_shape=shape)


def _split_size(tfds_info: Any, split: str) -> int | None:
    try:
        return int(tfds_info.splits[split].num_examples)
    except Exception:  # mock data and some slicing forms carry no split sizes
        return None

