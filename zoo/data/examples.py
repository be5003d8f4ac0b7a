"""What a source reads into: labelled examples, not yet split, scaled or vectorized.

Local sources (`sources`, `tables`, `folders`) are read into memory as NumPy arrays (`Examples`);
TFDS datasets (`tfds_source`) are opened as `tf.data` streams (`TfdsExamples`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from zoo.data.catalog import DatasetInfo


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
