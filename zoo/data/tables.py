"""Tables of texts and labels: `.csv` and `.tsv` files and pandas DataFrames.

`.tsv` files are read without quote processing, as GLUE's are written; `.csv` files with the usual
CSV quoting. Every value is read as a string, and a malformed line is named with its fix.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from zoo.data.catalog import TEXT_COLUMNS
from zoo.data.examples import Examples
from zoo.data.labels import encode_labels
from zoo.data.validate import check_not_empty, check_texts
from zoo.errors import DataError, first_line


class MissingColumnError(DataError):
    """A table lacks the text or label column it is read by; `summary` says which, and which
    columns it has, without the fix (which depends on who named the column)."""

    def __init__(self, summary: str, fix: str = "") -> None:
        super().__init__(f"{summary}{fix}")
        self.summary = summary


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
        >>> from zoo.data.tables import read_frame
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


# The first bytes of binary files a text source is most often confused with.
_BINARY_MAGIC = ((b"PK\x03\x04", "a zip archive, such as an .npz"),
                 (b"\x93NUMPY", "a NumPy .npy array"), (b"\x89PNG", "a PNG image"),
                 (b"\x89HDF", "an HDF5 file, such as .h5"), (b"\x1f\x8b", "gzip-compressed"))


def not_utf8(path: Path) -> DataError:
    """The error for a text file that is not UTF-8, naming its first bad line and byte.

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.data.tables import not_utf8
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.csv"
        >>> _ = path.write_bytes("text,label\\nfine,1\\ntr\\xe8s bien,1\\n".encode("latin-1"))
        >>> print(not_utf8(path))  # doctest: +ELLIPSIS
        could not read .../reviews.csv: line 3 is not UTF-8 (byte 0xe8 in ...); expected UTF-8 ...
    """
    data = path.read_bytes()
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16's byte-order mark (Excel's "Unicode Text")
        return DataError(
            f"could not read {path}: it is UTF-16 text; expected UTF-8. Convert the file, e.g. "
            f"iconv -f utf-16 -t utf-8 {path.name} > utf8_{path.name}, or save it as UTF-8."
        )
    if b"\0" in data[:8192]:  # UTF-8 text never holds NUL bytes; binary formats do
        kind = next((name for magic, name in _BINARY_MAGIC if data.startswith(magic)), None)
        return DataError(
            f"could not read {path}: it is a binary file{f' ({kind})' if kind else ''}, not "
            f"text; expected UTF-8 text (.csv, .tsv or .txt). If it holds data zoo "
            f"reads, give it its own extension (an .npz archive ends in .npz)."
        )
    try:
        data.decode("utf-8")
        where = "it is not UTF-8"
    except UnicodeDecodeError as error:
        start = data.rfind(b"\n", 0, error.start) + 1
        end = data.find(b"\n", error.start)
        line = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
        number = data.count(b"\n", 0, error.start) + 1
        # (Control characters of a stray byte sequence would garble the one-line message.)
        shown = "".join(c if c.isprintable() else "?" for c in line[:60])
        where = f"line {number} is not UTF-8 (byte 0x{data[error.start]:02x} in \"{shown}\")"
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
        raise MissingColumnError(
            f"{origin} has no text column {wanted}; found columns {columns}.",
            f"{_column_hint(columns, candidates, 'text_column')} Pass text_column= "
            f"(--text-column on the command line) naming the column that holds the text (tables "
            f"are read as text; images come as a tuple (x, y) of arrays, an .npz file or an "
            f"image folder)."
        )
    if str(label_column) not in by_name:
        raise MissingColumnError(
            f"{origin} has no label column {label_column!r}; found columns {columns}.",
            f"{_column_hint(columns, (str(label_column),), 'label_column')} Pass label_column= "
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
