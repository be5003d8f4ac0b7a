"""The datasets zoo entries are trained on: TFDS names, feature keys, splits and class names.

One record per dataset, so that entries, pipelines and exports agree on what a dataset holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import DataError, close_matches, unknown_name

TFDS_PREFIX = "tfds:"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # what tf.io.decode_image reads
TEXT_COLUMNS = ("sentence", "text")  # looked for, in this order, when text_column is not given
LOCAL_FORMATS = (
    ".npz with arrays x and y, .csv or .tsv with a text and a label column, or a folder with one "
    "sub-folder per class holding images or .txt files"
)


@dataclass(frozen=True)
class DatasetInfo:
    """How to read one TFDS dataset."""

    name: str  # TFDS name, with config where it has one ("glue/sst2")
    kind: str  # "image" or "text"
    feature: str  # TFDS feature key of the input ("image", "text", "sentence", "description")
    num_classes: int
    class_names: tuple[str, ...]
    train_split: str = "train"
    test_split: str = "test"  # the split with labels that zoo evaluates on
    label: str = "label"
    image_shape: tuple[int, int, int] | None = None  # (height, width, channels), images only
    description: str = ""
    unlabelled_splits: tuple[str, ...] = ()  # splits whose labels are placeholders (-1)


_DIGITS = tuple(str(d) for d in range(10))

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "mnist", "image", "image", 10, _DIGITS, image_shape=(28, 28, 1),
            description="70,000 handwritten digits, 28x28 grayscale.",
        ),
        DatasetInfo(
            "fashion_mnist", "image", "image", 10,
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            image_shape=(28, 28, 1),
            description="70,000 Zalando article images, 28x28 grayscale.",
        ),
        DatasetInfo(
            "cifar10", "image", "image", 10,
            ("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
            image_shape=(32, 32, 3),
            description="60,000 32x32 colour images in 10 classes.",
        ),
        DatasetInfo(
            "imdb_reviews", "text", "text", 2, ("negative", "positive"),
            description="50,000 IMDB movie reviews, binary sentiment.",
        ),
        DatasetInfo(
            # GLUE's test split has no labels (-1), so zoo evaluates on validation.
            "glue/sst2", "text", "sentence", 2, ("negative", "positive"),
            test_split="validation", unlabelled_splits=("test",),
            description="Stanford Sentiment Treebank sentences, binary sentiment (GLUE).",
        ),
        DatasetInfo(
            "ag_news_subset", "text", "description", 4,
            ("World", "Sports", "Business", "Sci/Tech"),
            description="127,600 AG news articles in 4 topics.",
        ),
    )
}


def get_dataset_info(name: str) -> DatasetInfo:
    """Return the catalog record of a dataset, or raise listing the known ones.

    Example:
        >>> from zoo.data.catalog import get_dataset_info
        >>> get_dataset_info("glue/sst2").feature
        'sentence'
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise unknown_name(
            "dataset", name, DATASETS,
            hint="An entry whose dataset is not one of these trains and evaluates on data you "
            "pass: zoo.train(name, data=...), zoo.evaluate(model, data), or --data on the "
            "command line.",
        ) from None


def train_and_test_splits(name: str) -> tuple[str, str]:
    """The split a TFDS dataset trains on and its labelled split to evaluate on: the catalog's,
    and TFDS' usual "train" and "test" for a dataset outside it (a third party's entry).

    Example:
        >>> from zoo.data.catalog import train_and_test_splits
        >>> train_and_test_splits("glue/sst2"), train_and_test_splits("emnist/digits")
        (('train', 'validation'), ('train', 'test'))
    """
    info = DATASETS.get(name)
    return (info.train_split, info.test_split) if info is not None else ("train", "test")


def is_tfds_source(source: Any) -> bool:
    """True for None (an entry's own dataset), "tfds:NAME" and bare catalog names.

    Example:
        >>> from zoo.data.catalog import is_tfds_source
        >>> is_tfds_source(None), is_tfds_source("tfds:mnist"), is_tfds_source("digits.npz")
        (True, True, False)
    """
    return source is None or tfds_name(source) is not None


def tfds_name(source: Any) -> str | None:
    """The TFDS name a source refers to ("tfds:NAME[/CONFIG]" or a catalog name), else None.

    A catalog name that is also an existing path is read as the path.

    Example:
        >>> from zoo.data.catalog import tfds_name
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


def missing_local_source(source: Any) -> DataError | None:
    """The error for a source naming a path that does not exist and no dataset; None for
    anything else. Plain Python, so that the command line says it before TensorFlow starts.

    Example:
        >>> from zoo.data.catalog import missing_local_source
        >>> missing_local_source("mnist") is None, missing_local_source("tfds:imdb_reviews") is None
        (True, True)
        >>> print(missing_local_source("mnits"))  # doctest: +ELLIPSIS
        'mnits' is neither an existing file or folder nor a known dataset name. Did you mean...
    """
    if not isinstance(source, (str, os.PathLike)) or tfds_name(source) is not None:
        return None
    path = Path(source)
    if path.exists():
        return None
    hint = ""
    if not path.suffix and os.sep not in str(path):
        matches = close_matches(str(path), DATASETS)
        hint = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
        hint += f" Known datasets: {', '.join(sorted(DATASETS))}; use 'tfds:NAME' for others."
    return DataError(
        f"{str(path)!r} is neither an existing file or folder nor a known dataset name.{hint} "
        f"Local sources are {LOCAL_FORMATS}."
    )
