"""Shared input pipelines: TFDS and local sources to validated, batched `tf.data` datasets.

Example:
    >>> import numpy as np, zoo
    >>> images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    >>> train = zoo.data.load((images, np.arange(64) % 10), spec=zoo.get_spec("mlp_mnist"))
    >>> train.num_examples, train.class_names[:3], train.element_spec[0].dtype
    (58, ('0', '1', '2'), tf.float32)

Modules: `catalog` (the TFDS datasets entries train on), `sources` (`read_source`: a local
source, `.npz` files and arrays), `tables` (`.csv`/`.tsv` files, DataFrames), `folders` (class
folders of images or `.txt` files), `tfds_source` (TFDS datasets), `examples` (what they read
into), `labels` (labels and class names to ids), `validate` (checks before training), `images`
(normalization and augmentation layers), `text` (TextVectorization), `preprocess`
(`Preprocessor`), `pipeline` (`load`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# The catalog is plain Python and is imported by the registry; everything else imports
# TensorFlow, so it loads on first use and `import zoo` stays fast.
from zoo.data.catalog import DATASETS, DatasetInfo, get_dataset_info
from zoo.lazy import lazy_exports

if TYPE_CHECKING:
    from zoo.data.examples import Examples
    from zoo.data.images import ImageNormalization, RandomAffine
    from zoo.data.pipeline import load, split_examples
    from zoo.data.preprocess import Preprocessor, make_preprocessor
    from zoo.data.sources import read_source

_LAZY = {
    "load": "zoo.data.pipeline",
    "split_examples": "zoo.data.pipeline",
    "Preprocessor": "zoo.data.preprocess",
    "make_preprocessor": "zoo.data.preprocess",
    "read_source": "zoo.data.sources",
    "Examples": "zoo.data.examples",
    "ImageNormalization": "zoo.data.images",
    "RandomAffine": "zoo.data.images",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "Examples",
    "ImageNormalization",
    "Preprocessor",
    "RandomAffine",
    "get_dataset_info",
    "load",
    "make_preprocessor",
    "read_source",
    "split_examples",
]
