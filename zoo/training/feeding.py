"""Feed `model.fit` one `tf.data` iterator for the whole run instead of one per epoch.

Given a finite dataset, Keras' `fit` creates a fresh iterator at the end of every epoch and drops
the old one at the start of the next. Dropping an iterator whose prefetch and parallel-map threads
are still alive stalls the training loop: on the project's 2-core CPU it measured 0.7-1.3 s in
about half the epochs of `cnn_mnist` (1.3 s epochs became 2.4 s; `benchmarks/results/training.md`).
Repeating the dataset and passing `steps_per_epoch` makes Keras keep one iterator throughout. Each
repetition reshuffles and draws new augmentation seeds exactly as a new epoch's iterator would,
because the pipeline's shuffle and seed stream are set to change with every iteration.
"""

from __future__ import annotations

import tensorflow as tf


def batches_per_epoch(dataset: tf.data.Dataset) -> int | None:
    """The number of batches in one pass over `dataset`; None when unknown, infinite or empty.

    Example:
        >>> import tensorflow as tf
        >>> batches_per_epoch(tf.data.Dataset.range(10).batch(4)), batches_per_epoch(
        ...     tf.data.Dataset.range(10).repeat())
        (3, None)
    """
    steps = int(dataset.cardinality())
    return steps if steps > 0 else None  # -2 unknown, -1 infinite, 0 empty


def repeat_epochs(
    dataset: tf.data.Dataset, steps_per_execution: int = 1
) -> tuple[tf.data.Dataset, int | None]:
    """`dataset` repeated without end, and its batches per epoch, for `model.fit`.

    Pass both on: `model.fit(repeated, steps_per_epoch=steps, ...)`. A dataset whose length is
    unknown or already infinite is returned as it is, with `None` for the steps; so is one whose
    batch count is not a multiple of `steps_per_execution` (Keras would run whole executions
    past the epoch's end into the next repetition, so epochs would no longer be passes over the
    data; on the finite dataset it stops the last execution early instead).

    Example:
        >>> import tensorflow as tf
        >>> repeated, steps = repeat_epochs(tf.data.Dataset.range(10).batch(4))
        >>> steps, [int(batch[0]) for batch in repeated.take(4)]
        (3, [0, 4, 8, 0])
    """
    steps = batches_per_epoch(dataset)
    if steps is None or steps % steps_per_execution:
        return dataset, None
    return dataset.repeat(), steps
