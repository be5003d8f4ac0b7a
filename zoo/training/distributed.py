"""Training under `tf.distribute.MultiWorkerMirroredStrategy`, where `model.fit` cannot be used.

Keras 3's `fit` fails under a multi-worker strategy: it reduces the first input batch eagerly
(`_maybe_symbolic_build`) and reduces scalar logs with `axis=0`, and both raise
(keras-team/keras#20585, still open for Keras 3.15 with TensorFlow 2.21). This module runs the
same training — the compiled model's loss and optimizer, the same callbacks, one `History` — with
an explicit `strategy.run` step instead. Gradients are summed across replicas by the Keras
optimizer itself (its `_all_reduce_sum_gradients`), so each replica scales its loss by
1 / replicas to get the mean gradient of the global batch, once: the loss is computed per example
(`per_example_losses`), not by calling the Keras loss, which would scale it again in a replica
context.

Every worker must train the same epochs together: `check_same_epoch` refuses workers resuming
from different epochs, and a worker that stops or cannot be reached mid-training ends the run
with `WorkerUnavailableError` rather than TensorFlow's traceback.

Only `zoo.training.loop` calls this, and only for multi-worker strategies; single-device and
mirrored runs use `model.fit`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from zoo.errors import InvalidValueError, ZooError, first_line
from zoo.training.feeding import batches_per_epoch
from zoo.training.policy import worker_name

logger = logging.getLogger("zoo.training")

# What TensorFlow's collectives raise when a peer died, hung or was never reachable.
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


class WorkerUnavailableError(ZooError):
    """A worker of a multi-worker run stopped or could not be reached while training."""


def check_same_epoch(strategy: tf.distribute.Strategy, initial_epoch: int) -> list[int]:
    """Every worker's `initial_epoch`, gathered with a collective; raises `InvalidValueError` on
    every worker when they differ. Each worker must call it (it waits for the others).

    Workers resume from their own workdir (the chief's WORKDIR, worker N's WORKDIR/.worker-N);
    started from different epochs they would run different steps, and the collectives fail
    or, worse, pair up the wrong tensors.

    Example:
        >>> import tensorflow as tf
        >>> from zoo.training.distributed import check_same_epoch
        >>> check_same_epoch(tf.distribute.get_strategy(), 3)  # one worker: nothing to compare
        [3]
    """
    # The gather waits for every worker to reach it; they have all started by now (the
    # strategy waited for that, and said so: `policy._resolve_strategy`).
    epochs = _gather_per_worker(strategy, int(initial_epoch))
    if len(set(epochs)) > 1:
        listed = ", ".join(f"{worker_name(index)} after epoch {epoch}"
                           for index, epoch in enumerate(epochs))
        raise InvalidValueError(
            f"the workers would resume from different epochs ({listed}): each resumes from its "
            f"own workdir (the chief's WORKDIR, worker N's WORKDIR/.worker-N), and all must "
            f"train the same epochs together. Rerun every worker from the same state: to keep "
            f"the chief's epochs, replace each worker's WORKDIR/.worker-N with a copy of the "
            f"chief's WORKDIR (without its .worker-* folders); to start over, use a new workdir."
        )
    return epochs


def _gather_per_worker(strategy: tf.distribute.Strategy, value: int) -> list[int]:
    """`value` of each worker, in task order (the chief first), one per worker."""

    local_replicas = []  # this worker's replicas, counted while tracing

    @tf.function
    def gather() -> tf.Tensor:
        per_replica = strategy.run(lambda: tf.constant([value], tf.int64))
        local_replicas.append(len(strategy.experimental_local_results(per_replica)))
        return strategy.gather(per_replica, axis=0)

    try:
        values = [int(v) for v in gather().numpy()]
    except _PEER_ERRORS as error:
        raise _unavailable(error, "before training") from None
    # One value per replica, each worker's replicas together (as many on every worker).
    return values[:: max(local_replicas[0], 1)]


def _unavailable(error: BaseException, when: str) -> WorkerUnavailableError:
    cause = first_line(error).rstrip(":")  # TensorFlow's list of the unhealthy tasks follows
    return WorkerUnavailableError(
        f"a worker stopped or could not be reached {when} ({type(error).__name__}: {cause}); "
        f"a multi-worker run needs every worker until its end. Check that every worker is "
        f"running and reachable at its TF_CONFIG address, then rerun every worker with the same "
        f"command: with a workdir, the run resumes from the last saved epoch."
    )


def per_example_losses(loss: Any, labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
    """The loss of each example, unreduced and unscaled, in float32.

    A `keras.losses.Loss` called as a whole averages over the batch and, inside a replica
    context, also multiplies by 1 / replicas (Keras' `scale_loss_for_distribution`); the
    explicit step scales once itself, so it takes the per-example values from `Loss.call`.
    A plain loss function already returns them.

    Example:
        >>> import keras, numpy as np
        >>> from zoo.training.distributed import per_example_losses
        >>> loss = keras.losses.SparseCategoricalCrossentropy()
        >>> values = per_example_losses(loss, np.array([0, 1]), np.array([[0.5, 0.5], [0.2, 0.8]]))
        >>> [round(float(v), 4) for v in values]
        [0.6931, 0.2231]
    """
    probabilities = tf.cast(probabilities, tf.float32)
    if isinstance(loss, keras.losses.Loss):
        values = loss.call(labels, probabilities)
    else:
        values = loss(labels, probabilities)
    return tf.reshape(tf.cast(values, tf.float32), [-1])


def _step_functions(model: keras.Model, strategy: tf.distribute.Strategy) -> tuple[Any, Any]:
    """Distributed train and evaluation steps returning summed (loss, correct, count)."""
    loss_function = model.loss
    replicas = float(strategy.num_replicas_in_sync)
    if not model.optimizer.built:
        # Now, not in the step's first call: a LossScaleOptimizer's variables made there cannot
        # be lifted out of the tf.function, and running it then fails ("You must feed a value
        # for placeholder tensor"). model.fit builds it beforehand too.
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)

    def batch_results(
        labels: tf.Tensor, probabilities: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(mean loss, correct, count) of a replica's batch, the loss unscaled and, as
        model.fit's, with the regularization losses added."""
        losses = per_example_losses(loss_function, labels, probabilities)
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probabilities, axis=-1), labels), tf.float32)
        )
        # divide_no_nan: the last global batch may leave a replica no examples.
        mean_loss = tf.math.divide_no_nan(tf.reduce_sum(losses), count)
        for value in model.losses:
            mean_loss += tf.cast(value, tf.float32)
        return mean_loss, correct, count

    def train_replica(inputs: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
        with tf.GradientTape() as tape:
            probabilities = model(inputs, training=True)
            mean_loss, correct, count = batch_results(labels, probabilities)
            # The optimizer sums gradients over replicas: scaled once here, by 1 / replicas, the
            # sum is the global batch's mean gradient. A LossScaleOptimizer (mixed_float16)
            # multiplies by its scale, which apply_gradients divides out again.
            scaled = model.optimizer.scale_loss(mean_loss / replicas)
        gradients = tape.gradient(scaled, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return mean_loss * count, correct, count

    def evaluate_replica(inputs: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
        probabilities = model(inputs, training=False)
        mean_loss, correct, count = batch_results(labels, probabilities)
        return mean_loss * count, correct, count

    def reduced(replica_function: Any) -> Any:
        @tf.function
        def step(batch: Any) -> tuple[tf.Tensor, ...]:
            per_replica = strategy.run(replica_function, args=batch)
            return tuple(strategy.reduce("SUM", value, axis=None) for value in per_replica)

        return step

    return reduced(train_replica), reduced(evaluate_replica)


def _logs(totals: list[float], prefix: str = "") -> dict[str, float]:
    loss, correct, count = totals
    count = max(count, 1.0)
    return {f"{prefix}loss": loss / count, f"{prefix}accuracy": correct / count}


def _train_epoch(
    model: keras.Model, callback_list: keras.callbacks.CallbackList, train_step: Any,
    distributed_train: Any,
) -> dict[str, float]:
    """One pass over the training data; the epoch's training logs."""
    totals = [0.0, 0.0, 0.0]
    for step, batch in enumerate(distributed_train):
        callback_list.on_train_batch_begin(step)
        loss, correct, count = (float(value) for value in train_step(batch))
        totals = [totals[0] + loss, totals[1] + correct, totals[2] + count]
        callback_list.on_train_batch_end(step, _logs(totals))
        if model.stop_training:
            break
    return _logs(totals)


def _evaluate(evaluate_step: Any, distributed_validation: Any) -> dict[str, float]:
    """The validation logs (`val_loss`, `val_accuracy`) over all workers' examples."""
    totals = [0.0, 0.0, 0.0]
    for batch in distributed_validation:
        values = [float(value) for value in evaluate_step(batch)]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
    return _logs(totals, prefix="val_")


def fit_multi_worker(
    model: keras.Model,
    strategy: tf.distribute.Strategy,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None,
    *,
    epochs: int,
    initial_epoch: int = 0,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int = 1,
) -> keras.callbacks.History:
    """Train a compiled model like `model.fit`, with an explicit multi-worker step.

    Logs per epoch: `loss`, `accuracy` and, with validation data, `val_loss`, `val_accuracy`,
    each averaged over the examples of all workers. Callbacks see the usual hooks
    (train/epoch/batch begin and end) and may stop training with `model.stop_training`.

    Every worker calls it with the same `initial_epoch`, which the caller checks first with
    `check_same_epoch` (`zoo.train` does, on every worker, also those with nothing left to
    train). A worker that stops or cannot be reached while training makes the others raise
    `WorkerUnavailableError`.
    """
    train_step, evaluate_step = _step_functions(model, strategy)
    distributed_train = strategy.experimental_distribute_dataset(train_data)
    distributed_validation = (
        strategy.experimental_distribute_dataset(validation_data)
        if validation_data is not None
        else None
    )
    steps = batches_per_epoch(train_data)
    callback_list = keras.callbacks.CallbackList(
        list(callbacks),
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    model.stop_training = False
    # Every epoch below makes a fresh iterator, and each draws the next shuffle order and
    # augmentation seeds from the run's seed (see feeding.py). A resumed run makes the iterators
    # of the epochs it already trained first, so that its next epoch reads the batches an
    # uninterrupted run's would (making one draws; nothing needs to be read from it).
    for _ in range(initial_epoch):
        iter(distributed_train)
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        try:
            logs = _train_epoch(model, callback_list, train_step, distributed_train)
            if distributed_validation is not None and not model.stop_training:
                callback_list.on_test_begin()  # e.g. SwapEMAWeights puts the average in place
                logs.update(_evaluate(evaluate_step, distributed_validation))
                callback_list.on_test_end()
        except _PEER_ERRORS as error:  # the other workers' collectives never came
            raise _unavailable(error, f"in epoch {epoch + 1}") from None
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if getattr(model.optimizer, "use_ema", False):  # as model.fit: end on the weight average
        model.optimizer.finalize_variable_values(model.trainable_variables)
    callback_list.on_train_end()
    return model.history
