"""Feed `model.fit` one `tf.data` iterator for the whole run instead of one per epoch.

Given a finite dataset, Keras' `fit` creates a fresh iterator at the end of every epoch and drops
the old one at the start of the next. Dropping an iterator whose prefetch and parallel-map threads
are still alive stalls the training loop: on the project's 2-core CPU it measured 0.7-1.3 s in
about half the epochs of `cnn_mnist` (1.3 s epochs became 2.4 s; `benchmarks/results/training.md`).
Repeating the dataset and passing `steps_per_epoch` makes Keras keep one iterator throughout. Each
repetition reshuffles and draws new augmentation seeds exactly as a new epoch's iterator would,
because the pipeline's shuffle and seed stream are set to change with every iteration.

Those orders and seeds are drawn in sequence from the seed, one draw per pass, and a new process
starts the sequence again. So a resumed run first passes over the epochs it already trained,
without the model, to feed its next epoch the same batches as a run that was never interrupted.
"""

from __future__ import annotations

import tensorflow as tf


def batches_per_epoch(dataset: tf.data.Dataset) -> int | None:
    """The number of batches in one pass over `dataset`; None when unknown, infinite or empty.

    Example:
        >>> import tensorflow as tf
        >>> from zoo.training.feeding import batches_per_epoch
        >>> batches_per_epoch(tf.data.Dataset.range(10).batch(4)), batches_per_epoch(
        ...     tf.data.Dataset.range(10).repeat())
        (3, None)
    """
    steps = int(dataset.cardinality())
    return steps if steps > 0 else None  # -2 unknown, -1 infinite, 0 empty


def fitting_steps_per_execution(steps_per_epoch: int | None, requested: int) -> int:
    """The largest number of batches per compiled call, at most `requested`, that divides an
    epoch's `steps_per_epoch` batches (`requested` when the epoch's length is unknown).

    A setting that does not divide the epoch made `repeat_epochs` hand Keras the finite dataset,
    and Keras' two iterators per epoch drew other shuffle and augmentation seeds: the same seed
    trained another model from epoch 2 (`lstm_sst2` on 15 batches an epoch: epoch 2's loss
    0.67241 with 2 batches a call against 0.67291 with 1 or 5). A speed setting must not change
    what trains.

    Example:
        >>> from zoo.training.feeding import fitting_steps_per_execution
        >>> fitting_steps_per_execution(57, 19), fitting_steps_per_execution(57, 20)
        (19, 19)
        >>> fitting_steps_per_execution(15, 2), fitting_steps_per_execution(None, 8)
        (1, 8)
    """
    if not steps_per_epoch:
        return requested
    return max(d for d in range(1, min(requested, steps_per_epoch) + 1) if steps_per_epoch % d == 0)


def repeat_epochs(
    dataset: tf.data.Dataset, steps_per_execution: int = 1, initial_epoch: int = 0
) -> tuple[tf.data.Dataset, int | None]:
    """`dataset` repeated without end, and its batches per epoch, for `model.fit`.

    Pass both on: `model.fit(repeated, steps_per_epoch=steps, initial_epoch=initial_epoch, ...)`.
    A dataset whose length is unknown or already infinite is returned as it is, with `None` for
    the steps; so is one whose batch count is not a multiple of `steps_per_execution` (Keras would
    run whole executions past the epoch's end into the next repetition, so epochs would no longer
    be passes over the data; on the finite dataset it stops the last execution early instead).

    `initial_epoch`, when resuming after that many epochs, continues the data stream where an
    uninterrupted run would be: the repeated stream starts `initial_epoch` passes in (for a
    dataset returned as it is, the iterators Keras would have made in those epochs are made here,
    see `_replay_epochs`). The skipped passes run the input pipeline without the model: for
    `cnn_mnist` (54,000 examples, 422 augmented batches) about 1.1 s per skipped epoch on the
    project's 2-core CPU, where training one epoch takes about 12 s.

    Example:
        >>> import tensorflow as tf
        >>> from zoo.training.feeding import repeat_epochs
        >>> repeated, steps = repeat_epochs(tf.data.Dataset.range(10).batch(4))
        >>> steps, [int(batch[0]) for batch in repeated.take(4)]
        (3, [0, 4, 8, 0])
        >>> def pipeline():  # what every process builds: seeded, shuffled anew in each epoch
        ...     numbers = tf.data.Dataset.range(6)
        ...     return numbers.shuffle(6, seed=1, reshuffle_each_iteration=True).batch(3)
        >>> repeated, _ = repeat_epochs(pipeline())
        >>> uninterrupted = [batch.numpy().tolist() for batch in repeated.take(4)]  # 2 epochs
        >>> resumed, _ = repeat_epochs(pipeline(), initial_epoch=1)  # after epoch 1, restarted
        >>> [batch.numpy().tolist() for batch in resumed.take(2)] == uninterrupted[2:]
        True
    """
    steps = batches_per_epoch(dataset)
    if steps is None or steps % steps_per_execution:
        if int(dataset.cardinality()) != int(tf.data.INFINITE_CARDINALITY):
            _replay_epochs(dataset, initial_epoch)
        return dataset, None
    return dataset.repeat().skip(initial_epoch * steps), steps


def _replay_epochs(dataset: tf.data.Dataset, epochs: int) -> None:
    """Make the iterators `epochs` epochs of Keras' `fit` make on a finite dataset, so that the
    next one draws the order and seeds an uninterrupted run's next epoch gets.

    Every iterator draws when it is made. On a dataset of known length `fit` makes two per
    epoch: one it passes over, and one at the epoch's end that the next epoch replaces unused;
    on one of unknown length the epoch ends when the data runs out, before that second one
    (`keras/src/trainers/epoch_iterator.py`; tests/test_workdir.py checks both against `fit`).
    """
    known_length = batches_per_epoch(dataset) is not None
    for _ in range(epochs):
        for _ in dataset:
            pass
        if known_length:
            iter(dataset)  # made and dropped, as Keras drops it
