"""Override values (`zoo.train(..., dropout=0.3)`, `--set units=(8,)`) as runs record, compare
and write them back.

A run's configuration records them as plain JSON (`plain_json`); resume, searches and the weights'
size hint compare them with `same_value`; hints and printed commands write them back as the
Python literals zoo.build and the command line's `--set` read (`as_literal`, `override_text`,
`set_arguments`), beside the options that say where a run's data comes from (`data_options`).
"""

from __future__ import annotations

import ast
import json
import os
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def plain_json(value: Any) -> Any:
    """`value` as JSON gives it back: tuples as lists, NumPy numbers as Python numbers (see
    `_json_default`), other objects as their text.

    Example:
        >>> import numpy as np
        >>> from zoo.values import plain_json
        >>> plain_json({"filters": (8, np.int64(16)), "dropout": np.float32(0.3)})
        {'filters': [8, 16], 'dropout': 0.3}
    """
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    """For `json.dumps`: NumPy scalars and arrays as numbers and lists, anything else as text.

    A NumPy float becomes the decimal it prints as (float32 0.3 -> 0.3, not 0.30000001192092896),
    so that `dropout=np.float32(0.3)` and `dropout=0.3` record the same run.
    """
    if isinstance(value, np.ndarray):
        return list(value) if value.ndim else value[()]  # json calls back for each element
    if isinstance(value, np.floating):
        return float(str(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def as_declared(value: Any, default: Any) -> Any:
    """`value` in the form of the entry's `default`: a lone integer where the default is a list of
    integers (layer widths, which every family builder reads through `checks.positive_ints`) as a
    list of one, so that a run started with `lstm_units=128` resumes with `lstm_units=[128]`."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and isinstance(default, list) and all(type(v) is int for v in default):
        return [value]
    return value


def same_value(value: Any, other: Any) -> bool:
    """Whether two override values build and train the same: equal as plain JSON (`plain_json`:
    a tuple is its list, a NumPy number the number it prints as), one width as a list of one.

    Example:
        >>> import numpy as np
        >>> from zoo.values import same_value
        >>> same_value((64,), [64]), same_value(64, (64,)), same_value(np.float32(0.3), 0.3)
        (True, True, True)
    """
    left, right = plain_json(value), plain_json(other)
    return as_declared(left, right) == as_declared(right, left)


def as_literal(value: Any) -> Any:
    """`value` as the Python literal that builds the same: NumPy numbers as the decimals they
    print as (`plain_json`), lists (JSON's tuples) as tuples, as entries declare layer widths; a
    dict's values likewise.

    Example:
        >>> import numpy as np
        >>> from zoo.values import as_literal
        >>> as_literal([np.int64(8), 16]), as_literal(np.float32(0.3))
        ((8, 16), 0.3)
    """

    def tuples(item: Any) -> Any:
        if isinstance(item, dict):
            return {key: tuples(inner) for key, inner in item.items()}
        return tuple(tuples(inner) for inner in item) if isinstance(item, list) else item

    return tuples(plain_json(value))


def override_text(key: str, value: Any) -> str:
    """KEY=VALUE as `--set` reads it back to `value` (`as_literal`): a string as it is where it
    reads back unchanged (optimizer=adam), anything else as its Python literal (units=(8,),
    bidirectional=False; JSON's `false` would read back as text).

    Example:
        >>> from zoo.values import override_text
        >>> override_text("units", [8]), override_text("optimizer", "adam")
        ('units=(8,)', 'optimizer=adam')
    """
    value = as_literal(value)
    if isinstance(value, str):
        try:
            ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return f"{key}={value}"  # not a literal: --set keeps the text as it is
    return f"{key}={value!r}"


def keyword_arguments(values: dict[str, Any]) -> str:
    """`values` as Python keyword arguments in their order, each an `as_literal`.

    Example:
        >>> from zoo.values import keyword_arguments
        >>> keyword_arguments({"units": [8], "padding": "same"})
        "units=(8,), padding='same'"
    """
    return ", ".join(f"{key}={value!r}" for key, value in as_literal(values).items())


def set_arguments(overrides: dict[str, Any]) -> str:
    """`overrides` as `--set KEY=VALUE` options, sorted and quoted for a POSIX shell
    (`units=(8,)` would otherwise be a glob pattern).

    Example:
        >>> from zoo.values import set_arguments
        >>> set_arguments({"units": [8], "dropout": 0.25})
        "--set dropout=0.25 --set 'units=(8,)'"
    """
    return shlex.join([part for key in sorted(overrides)
                       for part in ("--set", override_text(key, overrides[key]))])


def data_options(
    data: Any, validation_data: Any, columns: Mapping[str, str],
    class_names: Sequence[str] | None,
) -> list[str]:
    """`zoo train`'s options for a run's data and how it is read: `--data` and
    `--validation-data` (a path or TFDS name as given; arrays or a frame, which no command line
    can pass, as DATA and VALIDATION_DATA), the named `columns` (`text_column`, `label_column`)
    and `--class-names`. None leaves an option out.

    Example:
        >>> from zoo.values import data_options
        >>> data_options("reviews.csv", None, {"text_column": "review"}, ["neg", "pos"])
        ['--data', 'reviews.csv', '--text-column', 'review', '--class-names', 'neg,pos']
    """
    options: list[str] = []
    for option, source in (("--data", data), ("--validation-data", validation_data)):
        if source is not None:
            named = isinstance(source, (str, os.PathLike))
            options += [option, str(source) if named else option[2:].replace("-", "_").upper()]
    for key, value in columns.items():
        options += [f"--{key.replace('_', '-')}", str(value)]
    if class_names:
        options += ["--class-names", ",".join(class_names)]
    return options
