"""Labels of local sources to class ids: integer ids as they are, class names by a fixed order.

Labels read from text (a `.csv`/`.tsv` file, a string array, an object column) are either all
integer class ids ("0", "1", also "2.0" as pandas writes an integer column that had a gap) or all
class names ("negative", "positive"). A column that mixes the two, or has an empty cell, is
refused rather than guessed at: reading it as names would silently renumber every class.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from zoo.data.validate import check_labels, look_alike, rows_text
from zoo.errors import DataError, and_more

if TYPE_CHECKING:  # (examples imports TensorFlow; reading labels does not need it)
    from zoo.data.examples import Examples

# A written number: "3", "-1", "2.0", "1e3". Not "nan" or "inf", which are names in a column of
# names and are refused as non-integral by `check_labels` in a column of numbers.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_SHOWN = 5  # offending values quoted in a message
_NAMED = 10  # class names listed in the class-ids line

logger = logging.getLogger("zoo.data")  # zoo.data.load's: the command line shows its lines


def encode_labels(
    values: Any, origin: str, count: int | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class ids from integer labels, or from class names (sorted names -> 0, 1, 2..., or a
    pandas Categorical's own category order, unused categories included).

    Returns the int32 ids and the names in id order (() for integer labels).

    Example:
        >>> import numpy as np
        >>> import pandas as pd
        >>> from zoo.data.labels import encode_labels
        >>> ids, names = encode_labels(np.array(["pos", "neg", "pos"]), "y")
        >>> ids.tolist(), names
        ([1, 0, 1], ('neg', 'pos'))
        >>> encode_labels(np.array(["1", "0", "2.0"]), "y")[0].tolist()
        [1, 0, 2]
        >>> encode_labels(np.array(["1", "NA", "0"]), "y")
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: y: labels mix integer class ids and other values: 'NA' at row 1, ...
        >>> encode_labels(pd.Categorical(["low", "high"], categories=["low", "mid", "high"]), "y")
        (array([0, 2], dtype=int32), ('low', 'mid', 'high'))
    """
    ordered = _categorical_names(values, origin, count)
    if ordered is not None:
        return ordered
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "USO":
        return check_labels(values, origin, count=count), ()
    if count is not None and len(values) != count:
        raise DataError(
            f"{origin}: {count} inputs but {len(values)} labels; expected one label per input."
        )
    # Each distinct value is looked at once: a column has many rows but few labels.
    codes, uniques = pd.factorize(values)  # None, NaN and pandas' NA get code -1
    unique_text = np.array([_label_text(u) for u in uniques] + [""], dtype=object)
    text = unique_text[codes]  # code -1 picks the trailing ""
    empty = np.flatnonzero(text == "")
    if len(empty):
        raise DataError(
            f"{origin}: the label is empty at {rows_text(empty)}; expected an integer class id "
            f"or a class name in every row. Fill in those labels or drop the rows."
        )
    if all(_parses_as_float(t) for t in unique_text[:-1]):
        # Ids as numbers: "2.0" is id 2; "2.5" and "nan" are refused by the numeric check.
        return check_labels(text.astype(np.float64), origin, count=count), ()
    written_numbers = np.array([bool(_NUMBER.fullmatch(t)) for t in unique_text])[codes]
    if written_numbers.any():
        raise _mixed_labels(text, written_numbers, origin)
    names, ids = np.unique(text.astype(str), return_inverse=True)
    return ids.astype(np.int32), tuple(str(n) for n in names)


def _categorical_names(
    values: Any, origin: str, count: int | None
) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """Ids and names of a pandas Categorical of class names, in the order its categories were
    declared (the user's way of fixing the order); None for anything else, numbers included."""
    if not isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        return None
    categories = [_label_text(c) for c in values.dtype.categories]
    if all(_parses_as_float(c) for c in categories):
        return None  # numbered classes: ids as written, as for any other column of numbers
    codes = np.asarray(values.cat.codes if isinstance(values, pd.Series) else values.codes)
    if count is not None and len(codes) != count:
        raise DataError(
            f"{origin}: {count} inputs but {len(codes)} labels; expected one label per input."
        )
    empty = np.flatnonzero(codes < 0)
    if len(empty):
        raise DataError(
            f"{origin}: the label is empty at {rows_text(empty)}; expected one of the "
            f"categories {categories} in every row. Fill in those labels or drop the rows."
        )
    return codes.astype(np.int32), tuple(categories)


def class_ids(
    ids: np.ndarray, names: Sequence[str], class_names: Sequence[str], origin: str
) -> np.ndarray:
    """Ids that number `names[id]` by its position in `class_names`; raise for unknown names.

    Example:
        >>> import numpy as np
        >>> from zoo.data.labels import class_ids
        >>> class_ids(np.array([0, 1, 1]), ("neg", "pos"), ["neg", "neutral", "pos"], "y").tolist()
        [0, 2, 2]
    """
    position = name_positions(class_names)
    unknown = [name for name in names if name not in position]
    if unknown:
        known = [str(name) for name in class_names]
        shown = [f"{n!r} (did you mean {m!r}?)" if (m := look_alike(n, known)) else repr(n)
                 for n in unknown[:_SHOWN]]
        raise DataError(
            f"{origin}: labels not among the class names: "
            f"{and_more(shown, len(unknown))}; expected one of "
            f"{', '.join(repr(str(n)) for n in class_names)} (the class names that fix the "
            f"ids: class_names= or --class-names where given, else the training data's, or the "
            f"trained model's when scoring it). Rename "
            f"or drop those examples, or correct the class names if the typo is theirs."
        )
    return np.array([position[name] for name in names], np.int32)[ids]


def name_positions(class_names: Sequence[str]) -> dict[str, int]:
    """Each class name's id, and the same id for its spelling as a folder name.

    A folder cannot be named "T-shirt/top" (Fashion-MNIST's first class): "T-shirt_top"
    stands for it, unless another class is named that.

    Example:
        >>> from zoo.data.labels import name_positions
        >>> name_positions(["T-shirt/top", "Trouser"])
        {'T-shirt_top': 0, 'Trouser': 1, 'T-shirt/top': 0}
    """
    position = {str(name).replace("/", "_"): index for index, name in enumerate(class_names)}
    position.update({str(name): index for index, name in enumerate(class_names)})
    return position


def _label_text(value: Any) -> str:
    """A label cell as stripped text; a missing value (None, NaN, pandas' NA) as ""."""
    if value is None or (
        np.ndim(value) == 0 and not isinstance(value, (str, bytes)) and pd.isna(value)
    ):
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip()


def _parses_as_float(text: str) -> bool:
    if "_" in text:  # float() reads "1_0" as 10; to a table's reader it is a name
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _mixed_labels(text: np.ndarray, written_numbers: np.ndarray, origin: str) -> DataError:
    """Name the minority: the few names among ids ("NA") or the few ids among names."""
    names_are_few = (~written_numbers).sum() <= written_numbers.sum()
    odd = np.flatnonzero(~written_numbers if names_are_few else written_numbers)
    others = "integer class ids" if names_are_few else "class names"
    values = list(dict.fromkeys(str(text[i]) for i in odd))
    shown = ", ".join(repr(v) for v in values[:_SHOWN]) + (" ..." if len(values) > _SHOWN else "")
    return DataError(
        f"{origin}: labels mix integer class ids and other values: {shown} at {rows_text(odd)}, "
        f"where the other labels are {others}; expected integer class ids throughout, or class "
        f"names throughout. Correct or drop those rows."
    )


def report_class_ids(examples: Examples, class_names: Sequence[str]) -> None:
    """Log what the integer labels of `examples` stand for, where the model names its classes.

    Ids are taken as they are; naming what each stands for lets data numbered otherwise
    (1 = negative) be caught by eye instead of scored silently inverted. Classes named by their
    own ids (digits "0".."9") need no such line.
    """
    names = [str(name) for name in class_names]
    if examples.class_names or names == [str(index) for index in range(len(names))]:
        return
    shown = and_more((f"{index} = {name}" for index, name in enumerate(names[:_NAMED])),
                     len(names))
    logger.info("%s: labels are class ids, read as %s", examples.origin, shown)
