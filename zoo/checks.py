"""Argument checks shared by builders, recipes and pipelines.

Each check raises `InvalidValueError` naming the argument, the allowed range and the value received,
so a typo in a notebook reads as "units[1] must be a positive integer, got -3" rather than a shape
error deep inside Keras.
"""

from __future__ import annotations

import errno
import math
import numbers
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import InvalidValueError, unknown_name


def positive_int(name: str, value: Any, *, hint: str = "") -> int:
    """Return `value` if it is an integer >= 1, else raise, adding `hint` (such as what turns
    the setting off)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidValueError(
            f"{name} must be a positive integer, got {value!r}.{' ' + hint if hint else ''}"
        )
    return int(value)


def non_negative_int(name: str, value: Any) -> int:
    """Return `value` if it is an integer >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise InvalidValueError(f"{name} must be an integer >= 0, got {value!r}.")
    return int(value)


# Keras' set_random_seed and NumPy's legacy seeding take seeds below 2**32.
MAX_SEED = 2**32 - 1


def seed(name: str, value: Any) -> int:
    """Return `value` if it is an integer in [0, 2**32 - 1] (what Keras seeds with), else raise."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0
            or value > MAX_SEED):
        raise InvalidValueError(
            f"{name} must be an integer from 0 to {MAX_SEED} (2**32 - 1), got {value!r}."
        )
    return int(value)


def positive_ints(name: str, values: Any, *, allow_empty: bool = False) -> tuple[int, ...]:
    """Return a tuple of positive integers from an int or a sequence of ints."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise InvalidValueError(
            f"{name} must be a positive integer or a list of them, got {values!r}."
        )
    if not values and not allow_empty:
        raise InvalidValueError(f"{name} must list at least one positive integer, got {values!r}.")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(values))


def fraction(
    name: str, value: Any, *, inclusive_low: bool = True, inclusive_high: bool = False,
    hint: str = "",
) -> float:
    """Return `value` if it lies in [0, 1) (bounds per `inclusive_low`/`inclusive_high`), else raise
    an error naming the interval, followed by `hint` (how to choose a value)."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    # Compare only once `value` is known to be a number: "0.5" or None must raise our error, not
    # a TypeError from `<`.
    if not (
        is_number
        and (0 <= value if inclusive_low else 0 < value)
        and (value <= 1 if inclusive_high else value < 1)
    ):
        interval = f"{'[' if inclusive_low else '('}0, 1{']' if inclusive_high else ')'}"
        raise InvalidValueError(
            f"{name} must be a number in {interval}, got {value!r}.{' ' + hint if hint else ''}"
        )
    return float(value)


def non_negative(name: str, value: Any) -> float:
    """Return `value` if it is a finite real number >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise InvalidValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def positive(name: str, value: Any, *, hint: str = "") -> float:
    """Return `value` if it is a finite real number > 0, else raise, adding `hint` (such as what
    turns the setting off)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise InvalidValueError(
            f"{name} must be a finite number > 0, got {value!r}.{' ' + hint if hint else ''}"
        )
    return float(value)


def boolean(name: str, value: Any) -> bool:
    """Return `value` if it is True or False, else raise. A yes/no setting is read with `if`,
    where any non-empty text is true: batch_norm="no" built batch normalization, silently.

    Example:
        >>> from zoo.checks import boolean
        >>> boolean("batch_norm", False)
        False
        >>> boolean("batch_norm", "no")
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: batch_norm must be True or False (...), got 'no'.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidValueError(
            f"{name} must be True or False (command line: true/false), got {value!r}."
        )
    return bool(value)


def activation(name: str, value: Any) -> Any:
    """Return `value` if Keras reads it as an activation (a name such as "relu", a function or
    None), else raise with the closest names: a model built with a wrong one failed inside
    Keras, in a message that cut off before the value at fault.

    Example:
        >>> from zoo.checks import activation
        >>> activation("activation", "relu")
        'relu'
        >>> activation("activation", "Relu")
        Traceback (most recent call last):
        ...
        zoo.errors.UnknownNameError: unknown activation 'Relu'. Did you mean: 'relu'? Known ...
    """
    import keras

    try:
        keras.activations.get(value)
        return value
    except (ValueError, TypeError):
        pass
    if not isinstance(value, str):
        raise InvalidValueError(
            f"{name} must be the name of a Keras activation such as 'relu', or a function, got "
            f"{type(value).__name__} {value!r}."
        )
    raise unknown_name(
        "activation", value, activation_names(), max_listed=None,
        hint=f"{name} takes the name of one of Keras' activations (keras.activations), or a "
             f"function.",
    )


def activation_names() -> list[str]:
    """The activations Keras knows by name (what `keras.activations.get` reads)."""
    import keras

    names = []
    for name in dir(keras.activations):
        if name.startswith("_") or not callable(getattr(keras.activations, name)):
            continue
        try:
            keras.activations.get(name)  # (get, serialize and deserialize are no activations)
        except (ValueError, TypeError):
            continue
        names.append(name)
    return names


def one_of(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Return `value` if it is one of `allowed`, else raise listing them. Where `allowed`
    holds True or False, only a bool is it: 1 == True in Python, and jit_compile=1 passed
    `in` as True while the code went on to take it for "auto".

    Example:
        >>> from zoo.checks import one_of
        >>> one_of("verbose", True, ("auto", 0, 1, 2)), one_of("jit", True, ("auto", True, False))
        (True, True)
        >>> one_of("jit", 1, ("auto", True, False))
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: jit must be one of 'auto', True, False, got 1.
    """
    if not any(value == a and (isinstance(value, (bool, np.bool_)) or not isinstance(a, bool))
               for a in allowed):
        choices = ", ".join(repr(a) for a in allowed)
        raise InvalidValueError(f"{name} must be one of {choices}, got {value!r}.")
    return value


def num_classes(value: Any) -> int:
    """A classifier needs at least two classes."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2:
        raise InvalidValueError(
            f"num_classes must be an integer >= 2 (a classifier needs two classes), got {value!r}."
        )
    return int(value)


def image_shape(value: Any) -> tuple[int, int, int]:
    """An image input shape is (height, width, channels), all positive."""
    if not isinstance(value, Sequence) or len(value) != 3:
        raise InvalidValueError(
            f"input_shape must be (height, width, channels), got {value!r}."
        )
    return positive_ints("input_shape", value)  # type: ignore[return-value]


def writable_directory(name: str, path: Any) -> Path:
    """Return `path` if it is a writable directory or one that can be created, else raise.

    A missing directory is not made here: the check creates (and removes) a uniquely named probe
    folder in its nearest existing parent instead, because only the file system knows every
    reason a folder cannot be made there. Nothing is left behind when the run it is for then
    fails on its input, and processes checking the same path at once (the workers of a
    distributed run or search) never see each other's probes.

    Example:
        >>> import tempfile
        >>> from zoo.checks import writable_directory
        >>> writable_directory("workdir", tempfile.mkdtemp() + "/runs/cnn").exists()
        False
        >>> writable_directory("workdir", "/dev/null/runs")
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: workdir /dev/null/runs cannot be created: ...
    """
    path = Path(without_nul(name, path))
    try:
        # One look at the path: another worker may create it between two (is_dir, exists).
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except OSError as error:  # a name too long, a link loop
        raise _cannot_create(name, path, error) from None
    if mode is None:
        try:
            _check_creatable(name, path)
        except OSError as error:
            raise _cannot_create(name, path, error) from None
        return path
    if not stat.S_ISDIR(mode):
        raise InvalidValueError(f"{name} {path} is a file; expected a directory path.")
    try:
        # A probe folder, not os.access: root passes every permission test, and a read-only
        # mount or a /proc-like file system refuses writes that permissions allow.
        os.rmdir(tempfile.mkdtemp(prefix=".zoo-probe-", dir=path))
    except OSError as error:
        raise InvalidValueError(
            f"{name} {path} is not writable ({error.strerror or error}); pick a directory you "
            f"can write to."
        ) from None
    return path


def without_nul(name: str, path: str | os.PathLike) -> str | os.PathLike:
    """Return `path` unless it is not a path at all (None: TypeError deep in `os`) or holds a
    NUL character, which no file name can (`os.stat` and friends raise a bare ValueError).

    Example:
        >>> from zoo.checks import without_nul
        >>> without_nul("workdir", "runs/a\\0b")
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: workdir 'runs/a\\x00b' holds a NUL character (\\0), ...
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidValueError(
            f"{name} must be a path (a str or pathlib.Path), got {type(path).__name__} "
            f"{path!r}."
        )
    if "\0" in os.fspath(path):
        raise InvalidValueError(
            f"{name} {os.fspath(path)!r} holds a NUL character (\\0), which no file name can; "
            f"check how the path was built."
        )
    return path


def _check_creatable(name: str, path: Path) -> None:
    """Raise (OSError with the file system's reason) unless the missing `path` can be made."""
    if path.is_symlink():
        raise InvalidValueError(
            f"{name} {path} is a symbolic link to a missing {os.readlink(path)}; create its "
            f"target or pick another path."
        )
    parent = next(p for p in path.absolute().parents if p.exists())
    if not parent.is_dir():
        raise OSError(errno.ENOTDIR, f"{parent} is not a directory")
    longest = max(len(os.fsencode(part)) for part in path.absolute().parts[len(parent.parts):])
    limit = os.pathconf(parent, "PC_NAME_MAX")  # -1: the file system sets no limit
    if 0 < limit < longest:
        raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))
    os.rmdir(tempfile.mkdtemp(prefix=".zoo-probe-", dir=parent))


def _cannot_create(name: str, path: Path, error: OSError) -> InvalidValueError:
    return InvalidValueError(
        f"{name} {path} cannot be created: {error.strerror or error}. Pick a path in a directory "
        f"you can write to."
    )


# What each TensorFlow-only part of zoo can do instead on another backend.
TRAIN_ELSEWHERE = ("zoo.build's models train with plain model.fit on preprocessed arrays "
                   "(zoo.data.make_preprocessor(spec)(x))")
EXPORT_ELSEWHERE = ("save the model (model.save('model.keras')) and export it under TensorFlow: "
                    "zoo.export(zoo.build(name, weights='model.keras'), DIR)")
SEARCH_ELSEWHERE = ("run the search under TensorFlow; its best model's .keras file loads on "
                    "any backend")


def tensorflow_backend(what: str, elsewhere: str = TRAIN_ELSEWHERE) -> None:
    """Raise unless Keras runs on TensorFlow: zoo's pipelines run Keras layers inside tf.data, and
    exports are SavedModels. The models themselves run on any backend (JAX too); `elsewhere`
    says what to do on the other backend.

    Example:
        >>> from zoo.checks import tensorflow_backend
        >>> tensorflow_backend("zoo.train")  # the tests run on TensorFlow
    """
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise InvalidValueError(
            f"{what} needs Keras' TensorFlow backend (its input pipelines are tf.data and its "
            f"exports SavedModels), but Keras runs on {backend!r}. Run it with "
            f"KERAS_BACKEND=tensorflow; on {backend}, {elsewhere}."
        )


def class_names(class_names: Any) -> tuple[str, ...]:
    """`class_names` as a tuple of distinct, non-blank strings, or a clear error.

    Example:
        >>> from zoo.checks import class_names
        >>> class_names(["neg", "pos"])
        ('neg', 'pos')
    """
    if isinstance(class_names, (str, bytes)) or not all(
        isinstance(name, str) for name in class_names
    ):
        raise InvalidValueError(
            f"class_names must be a sequence of strings, one per class in id order (such as "
            f"train.class_names), got {class_names!r}."
        )
    names = tuple(class_names)
    blank = [index for index, name in enumerate(names) if not name.strip()]
    if blank:  # a class with no name becomes a column "p_" and a label nobody can read
        raise InvalidValueError(
            f"class_names must not be empty or blank, got {names!r} (positions "
            f"{', '.join(map(str, blank))}); name every class, in id order."
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not names or repeated:
        raise InvalidValueError(
            f"class_names must name each class once, in id order (such as train.class_names), "
            f"got {names!r}{f' (repeated: {repeated})' if repeated else ''}."
        )
    return names
