"""Training under `tf.distribute.MultiWorkerMirroredStrategy`, where `model.fit` cannot be used.

Keras 3's `fit` fails under a multi-worker strategy: it reduces the first input batch eagerly
(`_maybe_symbolic_build`) and reduces scalar logs with `axis=0`, and both raise
(keras-team/keras#20585, still open for Keras 3.15 with TensorFlow 2.21). This module runs the
same training — the compiled model's loss and optimizer, the same callbacks, one `History` — with
an explicit `strategy.run` step instead. Gradients are summed across replicas by the Keras
optimizer itself (its `_all_reduce_sum_gradients`), so each replica scales its loss by
1 / replicas to get the mean gradient of the global batch.

Only `zoo.training.loop` calls this, and only for multi-worker strategies; single-device and
mirrored runs use `model.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from zoo.training.feeding import batches_per_epoch


def _step_functions(model: keras.Model, strategy: tf.distribute.Strategy) -> tuple[Any, Any]:
    """Distributed train and evaluation steps returning summed (loss, correct, count)."""
    loss_function = model.loss
    replicas = float(strategy.num_replicas_in_sync)

    def batch_sums(
        labels: tf.Tensor, probabilities: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        correct = tf.reduce_sum(
            tf.cast(tf.equal(tf.argmax(probabilities, axis=-1), labels), tf.float32)
        )
        return count, correct

    def train_replica(inputs: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
        with tf.GradientTape() as tape:
            probabilities = model(inputs, training=True)
            mean_loss = loss_function(labels, probabilities)  # mean over this replica's batch
            regularization = tf.add_n(model.losses) if model.losses else 0.0
            # The optimizer sums gradients over replicas: scale to get the global mean.
            scaled = (mean_loss + regularization) / replicas
        gradients = tape.gradient(scaled, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        count, correct = batch_sums(labels, probabilities)
        return mean_loss * count, correct, count

    def evaluate_replica(inputs: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
        probabilities = model(inputs, training=False)
        count, correct = batch_sums(labels, probabilities)
        return loss_function(labels, probabilities) * count, correct, count

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
        totals = [0.0, 0.0, 0.0]
        for step, batch in enumerate(distributed_train):
            callback_list.on_train_batch_begin(step)
            loss, correct, count = (float(value) for value in train_step(batch))
            totals = [totals[0] + loss, totals[1] + correct, totals[2] + count]
            callback_list.on_train_batch_end(step, _logs(totals))
            if model.stop_training:
                break
        logs = _logs(totals)
        if distributed_validation is not None and not model.stop_training:
            callback_list.on_test_begin()  # e.g. SwapEMAWeights puts the average in place
            validation_totals = [0.0, 0.0, 0.0]
            for batch in distributed_validation:
                values = [float(value) for value in evaluate_step(batch)]
                validation_totals = [a + b for a, b in zip(validation_totals, values, strict=True)]
            callback_list.on_test_end()
            logs.update(_logs(validation_totals, prefix="val_"))
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    if getattr(model.optimizer, "use_ema", False):  # as model.fit: end on the weight average
        model.optimizer.finalize_variable_values(model.trainable_variables)
    callback_list.on_train_end()
    return model.history
