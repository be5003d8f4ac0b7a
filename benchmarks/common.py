"""Helpers the benchmark scripts share: where the real data is, and batches held in memory."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
# ../shared/datasets beside the checkout (or shared/ inside it); None when absent.
SHARED = next(
    (p for p in (REPO.parent / "shared" / "datasets", REPO / "shared" / "datasets") if p.exists()),
    None,
)


def _shared_file(*parts: str) -> Path | None:
    """A file under the shared datasets folder, or None when it (or the folder) is absent."""
    if SHARED is None:
        return None
    path = SHARED.joinpath(*parts)
    return path if path.is_file() else None


MNIST_8K = _shared_file("mnist_8k.npz")  # 8,000 real digits
SST2_TRAIN = _shared_file("sst2", "train.tsv")  # GLUE SST-2: 67,349 phrases
SST2_DEV = _shared_file("sst2", "dev.tsv")  # 872 sentences


def in_memory(dataset: tf.data.Dataset, steps: int) -> tf.data.Dataset:
    """The first `steps` batches of a pipeline, materialized, replayed as they are (shapes kept,
    so length-bucketed text batches stay as the model would see them)."""
    batches = list(dataset.take(steps))
    replay = tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=dataset.element_spec
    )
    return replay.apply(tf.data.experimental.assert_cardinality(len(batches))).cache()


def one_batch_per_shape(data: tf.data.Dataset) -> tf.data.Dataset:
    """One batch of each distinct input shape: fitting on it traces and compiles every shape, so
    that the timed run that follows measures steady-state speed."""
    seen, firsts = set(), []
    for inputs, labels in data:
        if tuple(inputs.shape) not in seen:
            seen.add(tuple(inputs.shape))
            firsts.append((inputs, labels))
    replay = tf.data.Dataset.from_generator(
        lambda: iter(firsts), output_signature=data.element_spec
    )
    return replay.apply(tf.data.experimental.assert_cardinality(len(firsts)))
