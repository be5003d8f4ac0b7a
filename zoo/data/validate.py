"""Checks on data before any training step: each raises `DataError` saying what was wrong, what was
expected and how to fix it, so a bad file fails in a second instead of mid-epoch, and nothing is
written by a run that cannot start.

Local sources are checked on their NumPy arrays; TFDS datasets on their catalog metadata.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from zoo.data.catalog import DatasetInfo
from zoo.errors import DataError, and_more, count_text, warn
from zoo.spec import ModelSpec

_SHOWN = 5  # offending rows quoted in a message


# Set while data is read for a model that exists already (zoo.evaluate, an export's evaluate):
# advice to build the model otherwise (num_classes=, input_shape=) does not apply there.
_FOR_TRAINED_MODEL = contextvars.ContextVar("zoo_for_trained_model", default=False)


@contextlib.contextmanager
def for_trained_model() -> Iterator[None]:
    """Checks inside give the advice that fits scoring a trained model: fix the data, since the
    model's classes and input shape are what it was trained with."""
    token = _FOR_TRAINED_MODEL.set(True)
    try:
        yield
    finally:
        _FOR_TRAINED_MODEL.reset(token)


def scoring_trained_model() -> bool:
    """Whether data is being read for a model that exists already (see `for_trained_model`)."""
    return _FOR_TRAINED_MODEL.get()


def differing_shapes_fix(first: tuple[int, ...], other: tuple[int, ...]) -> str:
    """How to make images of shapes `first` and `other` (height, width[, channels]) one shape,
    ending with how zoo fits them itself (`resize_advice`): the fix that ends a refusal of a
    folder's or a list's images of several shapes.

    Example:
        >>> from zoo.data.validate import differing_shapes_fix
        >>> differing_shapes_fix((28, 28, 3), (28, 28, 4)).split(".")[0]
        'Convert them to one colour mode first (drop the alpha channel: all grayscale or all RGB)'
    """
    if first[:2] != other[:2]:
        fix = "Resize them to one size first"
    else:
        alpha = "drop the alpha channel: " if {*first[2:], *other[2:]} & {2, 4} else ""
        fix = f"Convert them to one colour mode first ({alpha}all grayscale or all RGB)"
    return f"{fix}.{resize_advice()}"


def resize_advice() -> str:
    """The sentence that ends a refusal of images of several shapes: how zoo fits them itself
    (`Recipe.resize_images`), for data read to train, or to score a model trained already."""
    if scoring_trained_model():
        return (" A model trained with resize_images=True fits images itself when loaded from "
                "its workdir or export (a .keras file does not record it).")
    return (" Or train with resize_images=True (command line: --set resize_images=true): zoo "
            "then fits each image to the model's input shape as it reads it, for training and "
            "prediction alike.")


def entry_name(spec: ModelSpec | None) -> str:
    """How messages name the model a pipeline is built for."""
    return repr(spec.name) if spec is not None and spec.name else "the model"


def rows_text(
    indices: np.ndarray, noun: str = "row", names: Sequence[str] | None = None
) -> str:
    """ "row 3", or "rows 1, 2, 3, 4, 5 and 12 more" (0-based positions in the source); with
    `names` (one per row, such as file names), "files a.txt, b.txt" instead of positions."""
    shown = and_more((str(int(i)) if names is None else names[i] for i in indices[:_SHOWN]),
                     len(indices))
    return f"{noun}{'s' if len(indices) > 1 else ''} {shown}"


def check_not_empty(count: int, origin: str, split: str | None = None) -> None:
    """Raise when a source (or one split of it) holds no examples."""
    if count > 0:
        return
    where = f"the {split!r} split of {origin}" if split else origin
    hint = (
        " The hold-out is empty: pass more examples, or validation data of its own"
        " (zoo.train(..., validation_data=...), --validation-data; zoo.data.load:"
        " a larger validation_fraction)."
        if split == "validation"
        else " Check the file or the filter that produced it."
    )
    raise DataError(f"{where} is empty: it holds no examples, and at least one is needed.{hint}")


def check_labels(labels: Any, origin: str, count: int | None = None) -> np.ndarray:
    """Sparse integer class ids of shape (examples,), as int32; raise for anything else.

    One-hot (or multi-label) rows, fractional or non-finite values and a count that differs from
    the inputs' are refused with a message that says how to convert them.

    Example:
        >>> from zoo.data.validate import check_labels
        >>> check_labels([0, 2, 1.0], "y").tolist()
        [0, 2, 1]
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # (examples, 1) column vector: the same ids
    if labels.ndim == 2:
        raise DataError(
            f"{origin}: received labels of shape {labels.shape}, one column per class (one-hot); "
            f"expected sparse integer class ids of shape ({labels.shape[0]},), as zoo models train "
            f"with sparse categorical cross-entropy. Convert them with y.argmax(axis=1)."
        )
    if labels.ndim != 1:
        raise DataError(
            f"{origin}: received labels of shape {labels.shape}; expected one integer class id per "
            f"example, shape (examples,)."
        )
    if count is not None and len(labels) != count:
        raise DataError(
            f"{origin}: {count} inputs but {len(labels)} labels; expected one label per input."
        )
    if labels.dtype == bool:
        labels = labels.astype(np.int32)
    if not np.issubdtype(labels.dtype, np.number):
        raise DataError(
            f"{origin}: labels have dtype {labels.dtype}; expected integer class ids "
            f"(0, 1, 2, ...). Map class names to ids first."
        )
    if np.issubdtype(labels.dtype, np.floating):
        missing = np.flatnonzero(np.isnan(labels))
        if len(missing):
            raise DataError(
                f"{origin}: labels are missing (NaN) at {rows_text(missing)}; expected an integer "
                f"class id in every row. Fill in those labels or drop the rows."
            )
        bad = np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))
        if len(bad):
            raise DataError(
                f"{origin}: labels must be integer class ids, found {float(labels[bad[0]]):g} at "
                f"{rows_text(bad)}. Probabilities or one-hot rows must become class ids "
                f"(y.argmax(axis=1))."
            )
    _check_int32(labels, origin)
    return labels.astype(np.int32)


def _check_int32(labels: np.ndarray, origin: str) -> None:
    """Refuse whole-number labels that int32 cannot hold: cast, 2**31 became -2**31, silently.
    No classifier has that many classes, so they are ids of something else."""
    low, high = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    bad = np.flatnonzero((labels < low) | (labels > high))
    if len(bad):
        raise DataError(
            f"{origin}: labels must be class ids (0 to the class count - 1), found values from "
            f"{int(labels.min())} to {int(labels.max())}, beyond what a class id can be "
            f"({low} to {high}), at {rows_text(bad)}: ids of something else (users, products, "
            f"timestamps)? Map them to class ids 0..n-1, e.g. y = np.unique(y, "
            f"return_inverse=True)[1]."
        )


def check_label_range(
    labels: np.ndarray, num_classes: int, origin: str, spec: ModelSpec | None
) -> None:
    """Raise when a label lies outside [0, num_classes)."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        low, high = int(labels.min()), int(labels.max())
        fix = (f"Drop those rows, or build the model with num_classes={high + 1} if they are "
               f"real classes.")
        if _FOR_TRAINED_MODEL.get() and high >= num_classes:
            fix = (f"The model was trained on classes 0 to {num_classes - 1}: drop those rows, "
                   f"or score it on data of its own classes.")
        elif high < num_classes:  # only negative ones: no class count makes them class ids
            fix = ("Class ids start at 0 (-1 often marks an unlabelled row, as in TFDS' test "
                   "splits): drop those rows, or give them their class.")
        elif low == 1 and high == num_classes:
            # 1..N: counted from 1 (star ratings, R, MATLAB), not N+1 classes of which 0 is unused.
            fix = (f"They look counted from 1 (1 to {num_classes}): subtract 1 (y - 1) so that "
                   f"they are class ids 0 to {num_classes - 1}.")
        elif low > 1 and high - low + 1 == num_classes:
            # K..K+N-1: a slice of a larger label set (digits 5-9 for a 5-class head when
            # fine-tuning), whose ids must start at 0 again.
            fix = (f"They look like {num_classes} classes numbered from {low} ({low} to {high}): "
                   f"subtract {low} (y - {low}) so that they are class ids 0 to "
                   f"{num_classes - 1}, or build the model with num_classes={high + 1} if "
                   f"classes 0 to {low - 1} are real too.")
        shown = and_more([str(int(value)) for value in np.unique(labels[bad])[:_SHOWN]],
                         len(np.unique(labels[bad])))
        raise DataError(
            f"{origin}: labels must lie in [0, {num_classes}) for {entry_name(spec)} "
            f"({num_classes} classes), found {shown} at {rows_text(bad)} "
            f"(values from {low} to {high}). {fix}"
        )


def warn_one_class(labels: np.ndarray, names: Sequence[str], origin: str) -> bool:
    """Warn when every training label is of one class, and say whether it is: a model trained
    on them learns to pick that class whatever the input (a folder with one class folder, a
    label column copied down). `names`: the class names by id, where known.

    Example:
        >>> import numpy as np, warnings
        >>> from zoo.data.validate import warn_one_class
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_one_class(np.array([7, 7]), (), "'a.npz'")
        True
        >>> print(str(caught[0].message)[:54])
        'a.npz': every example is of one class, 7: a model tra
    """
    present = np.unique(labels)
    if len(present) != 1:
        return False
    only = int(present[0])
    name = repr(names[only]) if only < len(names) else str(only)
    warn(f"{origin}: every example is of one class, {name}: a model trained on them learns to "
         f"pick it whatever the input. Check the labels (a folder of class folders needs one "
         f"sub-folder per class).")
    return True


def warn_missing_top_classes(labels: np.ndarray, spec: ModelSpec, origin: str) -> None:
    """Warn when integer labels stop short of the model's classes (0 to 2 for a 10-class model).

    Such a model trains its other outputs only to stay unpicked: most often it was meant to have
    fewer classes (fine-tuning `mnist` weights to 3 classes without `num_classes=3`). Data that
    lacks some classes on purpose trains as it is; named labels are checked by
    `check_class_names` instead.

    Example:
        >>> import numpy as np, warnings, zoo
        >>> from zoo.data.validate import warn_missing_top_classes
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_missing_top_classes(np.array([0, 1, 2]), zoo.get_spec("mlp_mnist"), "'a.npz'")
        >>> print(str(caught[0].message)[:60])
        'a.npz': the labels are 0 to 2 (3 classes), but 'mlp_mnist'
    """
    if not labels.size:
        return
    count = int(labels.max()) + 1
    if count >= spec.num_classes:
        return
    unused = (f"output {count}" if count == spec.num_classes - 1
              else f"outputs {count} to {spec.num_classes - 1}")
    seen = len(np.unique(labels))
    labelled = (f"the labels are 0 to {count - 1} ({count} classes)" if seen == count else
                f"the labels go up to {count - 1} ({seen} of ids 0 to {count - 1} occur)")
    warn(
        f"{origin}: {labelled}, but {entry_name(spec)} "
        f"has {spec.num_classes}: a model trained on them learns never to pick {unused}. For a "
        f"model of {count} classes (fine-tuning included), build it with num_classes={count} "
        f"(command line: --set num_classes={count}); data that lacks those classes on purpose "
        f"trains as it is."
    )


def check_class_names(
    names: tuple[str, ...], spec: ModelSpec, origin: str, *, given: bool = False
) -> None:
    """Raise when a source's class names cannot be the classes of `spec`'s model.

    Names among the entry's own `class_names` take the entry's ids; other names need exactly
    `spec.num_classes` of them, or the model would train with classes the data never names (a
    2-class folder as a 10-class model) or lack some (11 folders for 10 outputs). A list
    `given` as `class_names=` numbers its names by position, so fewer names than the entry's
    must be the first of the entry's, in its order.

    Example:
        >>> from zoo.data.validate import check_class_names
        >>> import zoo
        >>> check_class_names(("zero", "one"), zoo.get_spec("cnn_mnist"), "'digits'")
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: 'digits' names 2 classes ('zero', 'one') but 'cnn_mnist' has 10 ...
    """
    if not names:
        return
    count, expected = len(names), spec.num_classes
    among_entry_names = set(names) <= set(spec.class_names)
    if given and among_entry_names and count < expected and (
        tuple(names) != spec.class_names[:count]
    ):
        # A list given numbers its classes by position: some of the entry's names in another
        # order would renumber them against the entry.
        raise DataError(
            f"the class_names given {_names_text(names)} are {count} of the {expected} classes "
            f"of {entry_name(spec)}, which numbers them {_names_text(spec.class_names)}; a list "
            f"given numbers its classes by position, so these would take other ids. Pass "
            f"class_names= naming every class in the entry's order, or leave it out: names "
            f"among the entry's take its ids."
        )
    if count <= expected and (among_entry_names or count == expected):
        return
    entry_names = f" {_names_text(spec.class_names)}" if spec.class_names else ""
    fixes = f"build and train with num_classes={count} (command line: --set num_classes={count})"
    typos = [(name, other) for name in names
             if (other := look_alike(name, [n for n in names if n != name])) and other < name]
    if count > expected and typos:
        # "pos" and "Pos " are one class written two ways far more often than a new class.
        pairs = ", ".join(f"{a!r} and {b!r}" for b, a in typos[:3])
        fixes = (f"{pairs} look like one class written two ways: correct those labels, or "
                 f"{fixes}")
    swapped = count > expected and sum(len(name.split()) >= 3 for name in names) * 2 > count
    if swapped:
        # Labels of several words each are text: the columns are most likely swapped.
        fixes = ("most of these labels are phrases of several words, so the label column looks "
                 "like the text column: name the columns with text_column= and label_column= "
                 "(command line: --text-column, --label-column)")
    elif _FOR_TRAINED_MODEL.get():  # scoring: the model's classes are what it was trained on
        raise DataError(
            f"{origin} names {count_text(count, 'class')} {_names_text(names)}, and the model "
            f"was trained on {expected} classes{entry_names}: pass class_names= naming them in "
            f"id order "
            f"(command line: --class-names), so that the names in the data map to its ids."
        )
    elif spec.class_names:
        fixes += ", or name the classes as the entry does"
    lacking = ("pass class_names= naming every class in id order (command line: --class-names; "
               "for validation data: class_names=train.class_names)")
    if count > expected:  # aclImdb's train/ holds unsup/, reviews without a label
        fixes += (", or, for a folder of class folders, read only some of them: class_names= "
                  "naming those (command line: --class-names)")
    if count == 1:  # num_classes=1 is no classifier
        fixes = f"a classifier needs two classes or more: check the labels, or {lacking}"
    elif count < expected:
        fixes += f", or, for data that lacks some classes, {lacking}"
    raise DataError(
        f"{origin} names {count_text(count, 'class')} {_names_text(names)} but "
        f"{entry_name(spec)} has {expected}{entry_names}: {fixes}."
    )


def look_alike(name: str, others: Sequence[str]) -> str | None:
    """The label among `others` that `name` looks like a misspelling of, or None.

    Equal ignoring case, spaces and punctuation ("Pos " and "pos"), or nearly equal in spelling
    ("postive" and "positive"); names that differ only in digits ("class1" and "class2") are
    different classes by design.

    Example:
        >>> from zoo.data.validate import look_alike
        >>> look_alike("Positive", ["negative", "positive"]), look_alike("cat2", ["cat1"])
        ('positive', None)
    """
    def folded(text: str) -> str:
        return re.sub(r"[\W_]+", "", str(text).casefold())

    def without_digits(text: str) -> str:
        return re.sub(r"\d+", "", text)

    key = folded(name)
    if not key:
        return None
    others_folded: dict[str, str] = {}
    for other in others:  # the first of names folding alike, as listed
        others_folded.setdefault(folded(other), str(other))
    if key in others_folded:
        return others_folded[key]
    if len(key) < 3:  # "ab" is near everything of two letters
        return None
    candidates = {folded_other: other for folded_other, other in others_folded.items()
                  if without_digits(folded_other) != without_digits(key)}
    matches = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.8)
    return candidates[matches[0]] if matches else None


def _names_text(names: tuple[str, ...]) -> str:
    """('a', 'b', 'c'), or ('0', '1', ..., '9') for long lists."""
    shown = [repr(str(n)) for n in names]
    if len(shown) > 5:
        shown = [*shown[:2], "...", shown[-1]]
    return f"({', '.join(shown)})"


def check_images(images: Any, origin: str) -> np.ndarray:
    """Images as (examples, height, width, channels) uint8 or float32 in [0, 1]; raise otherwise.

    (examples, height, width) arrays get a channel axis. Integer pixels must lie in [0, 255];
    float pixels must be finite and already scaled to [0, 1]. Integer images whose brightest pixel
    is 1 (binary images stored as 0 and 1) are read on the 0-255 scale like any integer pixels,
    i.e. nearly black, and a warning (once per origin) says so.

    Example:
        >>> import numpy as np
        >>> from zoo.data.validate import check_images
        >>> check_images(np.zeros((2, 28, 28), "uint8"), "x").shape
        (2, 28, 28, 1)
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]  # (examples, height, width) -> one channel
    if images.ndim != 4:
        raise DataError(
            f"{origin}: received images of shape {images.shape}; expected (examples, height, "
            f"width) or (examples, height, width, channels)."
        )
    if np.issubdtype(images.dtype, np.integer):
        low = 0 if images.dtype == np.uint8 or not images.size else images.min()
        high = images.max() if images.size else 0
        if low < 0 or high > 255:
            raise DataError(
                f"{origin}: integer pixels must lie in [0, 255], found values from {low} to "
                f"{high}. Pass uint8 pixels, or floats scaled to [0, 1]."
            )
        if high == 1:
            # A warning, not an error: dark images are valid input. Python shows it once per
            # origin, not at every load of the same data (training and hold-out, each trial).
            warn(
                f"{origin}: every integer pixel is 0 or 1, read on the 0-255 scale (1 is nearly "
                f"black). If these are black-and-white images, pass images * 255 as uint8, or "
                f"floats in [0, 1].",
            )
        return images.astype(np.uint8, copy=False)
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(
            f"{origin}: images have dtype {images.dtype}; expected uint8 pixels (0-255) or floats "
            f"scaled to [0, 1]."
        )
    finite = np.isfinite(images)
    if not finite.all():
        bad = np.flatnonzero(~finite.reshape(len(images), -1).all(axis=1))
        raise DataError(
            f"{origin}: images contain NaN or infinite values (in {rows_text(bad, 'example')}); "
            f"expected finite pixels. Fix or drop those examples."
        )
    if images.size and (images.min() < 0.0 or images.max() > 1.0):
        raise DataError(
            f"{origin}: float pixels must be scaled to [0, 1], found values from "
            f"{float(images.min()):.4g} to {float(images.max()):.4g}. Pass uint8 pixels (0-255), "
            f"or divide by 255; zoo normalizes with the entry's mean and std itself."
        )
    return images.astype(np.float32, copy=False)


def check_texts(
    texts: Any, origin: str, *, labelled: bool = False, files: Sequence[str] | None = None
) -> np.ndarray:
    """Texts as a 1-D object array of Python strings; raise on missing or non-text values.

    `labelled` texts (training or evaluation examples) that are empty or blank are warned about:
    an empty cell or file is more often a mistake than an example. Texts read from `files` (one
    name per text) are named by file rather than by row.
    """
    texts = np.asarray(texts, dtype=object)
    if texts.ndim != 1:
        raise DataError(
            f"{origin}: received texts of shape {texts.shape}; expected one string per example."
        )
    not_text = np.flatnonzero([not isinstance(t, (str, bytes)) for t in texts])
    if len(not_text):
        missing = ("1 text is missing or not a string" if len(not_text) == 1 else
                   f"{len(not_text):,} texts are missing or not strings")
        raise DataError(
            f"{origin}: {missing} ({rows_text(not_text)}, "
            f"e.g. {texts[not_text[0]]!r}); expected one string per example. Drop or fill those "
            f"rows."
        )
    decoded, not_utf8 = [], []
    for row, text in enumerate(texts):
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                not_utf8.append(row)
        decoded.append(text)
    if not_utf8:
        raise DataError(
            f"{origin}: {len(not_utf8)} texts are bytes that are not UTF-8 "
            f"({rows_text(np.array(not_utf8))}, e.g. {texts[not_utf8[0]]!r}); expected UTF-8 "
            f"bytes or strings. Decode them with their encoding first, e.g. "
            f"[t.decode('latin-1') for t in texts] (latin-1: the usual encoding of such text)."
        )
    texts = np.array(decoded, dtype=object)
    blank = np.flatnonzero([not t.strip() for t in texts]) if labelled else []
    if len(blank):
        warn(
            f"{origin}: {len(blank)} of {len(texts)} texts are empty or blank "
            f"({rows_text(blank, 'file' if files else 'row', files)}); they teach the model "
            f"nothing but how often their labels occur. Drop those examples, or check the "
            f"{'files' if files else 'text column'}.",
        )
    return texts


def check_kind(kind: str, spec: ModelSpec, origin: str) -> None:
    """Raise when the data is text and the model takes images, or the other way round."""
    if kind != spec.input.kind:
        if spec.input.kind == "image":
            takes, source = f"images of shape {spec.input.shape}", "an image source"
        else:
            takes, source = "text", "a text source"
        raise DataError(
            f"{entry_name(spec)} takes {takes}, but {origin} holds {kind}s. Pass {source}, or pick "
            f"an entry for {kind}s (`zoo list --task {kind}_classification`, or "
            f"zoo.list_models(task='{kind}_classification'))."
        )


def check_image_shape(
    shape: tuple[int, ...], spec: ModelSpec, origin: str, *, resizable: bool = True
) -> None:
    """Raise when one image's (height, width, channels) differs from the spec's input shape;
    the advice names `resize_images` where it would fit them (`resizable`: local sources)."""
    expected = tuple(spec.input.shape)
    received = tuple(int(d) for d in shape)
    if received == expected:
        return
    if received[:2] == expected[:2]:
        problem = f"{received[2]} channels where {expected[2]} are expected"
        if received[2] in (2, 4) and expected[2] == received[2] - 1:  # an alpha channel
            fix = (f"drop the alpha channel (x[..., :{expected[2]}] on arrays, "
                   f"Image.open(f).convert({'L' if expected[2] == 1 else 'RGB'!r}) on files)")
        else:
            fix = "convert the images (grayscale <-> RGB)"
    elif received[0] == expected[2] and received[1:] == expected[:2]:
        # PyTorch's layout: (channels, height, width) per image.
        problem = "the channels come first (channels, height, width)"
        fix = "move them last (np.moveaxis(x, 1, -1) on a batch of images)"
    else:
        problem = (
            f"{received[0]}x{received[1]} pixels where {expected[0]}x{expected[1]} are expected"
        )
        fix = "resize the images"
    if _FOR_TRAINED_MODEL.get():  # trained on that shape: the images must change
        advice = fix[0].upper() + fix[1:]
    elif resizable and received[2] in (1, 2, 3, 4) and expected[2] in (1, 3):
        advice = (f"Either {fix}, or let zoo fit them to {expected} as it reads them: "
                  f"resize_images=True (command line: --set resize_images=true), or build the "
                  f"model with input_shape={received}")
    else:
        advice = f"Either {fix}, or build the model with input_shape={received}"
    raise DataError(
        f"{origin}: {entry_name(spec)} expects images of shape {expected} (height, width, "
        f"channels), received {received}: {problem}. {advice}."
    )


def check_tfds_against_spec(info: DatasetInfo, split: str, spec: ModelSpec | None) -> None:
    """Check what a TFDS dataset's metadata says against the spec, before reading any data."""
    origin = f"TFDS dataset {info.name!r}"
    parts = split_names(split)
    # "all" is TFDS' every split at once, the unlabelled ones included.
    unlabelled = [p for p in info.unlabelled_splits if p in parts or "all" in parts]
    if unlabelled:
        reads = f", and split {split!r} includes it" if unlabelled[0] not in parts else ""
        raise DataError(
            f"the {unlabelled[0]!r} split of {info.name!r} has no labels (every label is -1)"
            f"{reads}, so it cannot be trained or evaluated on. Use split={info.train_split!r} "
            f"to train and split={info.test_split!r} for evaluation."
        )
    if spec is None:
        return
    check_kind(info.kind, spec, origin)
    if info.kind == "image" and info.image_shape is not None:
        check_image_shape(info.image_shape, spec, origin, resizable=False)
    if info.num_classes > spec.num_classes:
        raise DataError(
            f"{origin}: labels go up to {info.num_classes - 1} ({info.num_classes} classes), but "
            f"{entry_name(spec)} has {spec.num_classes} classes; expected labels in "
            f"[0, {spec.num_classes}). Build the model with num_classes={info.num_classes}."
        )


def split_names(split: str) -> list[str]:
    """The split names in a TFDS split expression: "train[:90%]+validation" -> train, validation."""
    return [part.split("[")[0].strip() for part in str(split).split("+")]
