"""MultiWorkerMirroredStrategy from TF_CONFIG: two worker processes on 127.0.0.1 end in step."""

import json
import os
import select
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from helpers import run_together, write_digits_npz

import zoo
from zoo.training.compile import compile_model
from zoo.training.distributed import (
    WorkerUnavailableError,
    check_same_epoch,
    fit_multi_worker,
    per_example_losses,
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _cluster_environments(names, cluster, tasks):
    """Each process's environment, with the TF_CONFIG naming its task in `cluster`."""
    return {
        name: {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": kind, "index": index}})}
        for name, (kind, index) in zip(names, tasks, strict=True)
    }


def _run_ok(commands, environments, folder):
    results = run_together(commands, environments, folder, timeout=300)
    for name, (returncode, output) in results.items():
        assert returncode == 0, f"{name} failed:\n{output[-3000:]}"
    return {name: output for name, (_, output) in results.items()}


@pytest.mark.slow
def test_two_workers_train_in_step(tmp_path):
    """`zoo train` on two workers: the same model on both, logged losses as zoo.evaluate
    scores them (the loss was scaled by 1 / replicas twice), and one export, the chief's."""
    data = write_digits_npz(tmp_path / "digits.npz", count=256)
    run, export = tmp_path / "run", tmp_path / "export"
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    names = ["worker0", "worker1"]
    command = [sys.executable, "-m", "zoo", "train", "mlp_mnist", "--data", str(data),
               "--epochs", "2", "--batch-size", "32", "--workdir", str(run),
               "--export", str(export)]
    outputs = _run_ok(dict.fromkeys(names, command),
                      _cluster_environments(names, {"worker": workers},
                                            [("worker", 0), ("worker", 1)]),
                      tmp_path)
    for output in outputs.values():
        assert "strategy=MultiWorkerMirroredStrategy" in output, output[-3000:]
        assert "jit_compile=False" in output
        assert "jit_compile: off: zoo's multi-worker step runs without XLA" in output
    # A worker waiting for its peers says so (TensorFlow's wait is silent).
    assert "worker 0 (the chief) of 2: waiting for every worker named in TF_CONFIG" in (
        outputs["worker0"])
    assert "worker 1 of 2: waiting for every worker" in outputs["worker1"]

    chief, other = (keras.saving.load_model(path / "model.keras", compile=False)
                    for path in (run, run / ".worker-1"))
    assert len(chief.weights) == len(other.weights) > 0
    for mine, theirs in zip(chief.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    # Only the chief writes the run directory; the other worker keeps its files apart.
    assert (run / "history.csv").is_file()
    assert (run / ".worker-1").is_dir()

    # The best epoch's validation loss is the loss zoo.evaluate gives its model (report.json).
    best_epoch = json.loads((run / "state.json").read_text())["best_epoch"]
    history = pd.read_csv(run / "history.csv").set_index("epoch")
    report = json.loads((run / "report.json").read_text())
    assert history.loc[best_epoch, "val_loss"] == pytest.approx(report["loss"], abs=1e-4)

    assert (export / "saved_model.pb").is_file()
    assert f"not exporting from worker 1: the chief (task 0) exports to {export}" in (
        outputs["worker1"])


_RESUMING_WORKER = textwrap.dedent(
    """
    import sys
    import keras
    import zoo

    class Interrupt(keras.callbacks.Callback):  # a kill once epoch 2 is committed
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 2:
                raise KeyboardInterrupt

    data, workdir, history, interrupt = sys.argv[1:]
    try:
        result = zoo.train("mlp_mnist", data, workdir=workdir, epochs=4, batch_size=32, seed=3,
                           verbose=0, strategy="multi_worker",
                           callbacks=[Interrupt()] if interrupt == "yes" else None)
    except KeyboardInterrupt:
        sys.exit(0)
    result.history.drop(columns="seconds").to_csv(history, index=False)
    """
)


@pytest.mark.slow
def test_a_worker_started_alone_says_it_waits_for_the_others(tmp_path):
    # TensorFlow builds MultiWorkerMirroredStrategy only once every task has started, silently:
    # a lone worker printed nothing at all, not even the device policy.
    data = write_digits_npz(tmp_path / "digits.npz", count=64)
    environment = _cluster_environments(
        ["alone"], {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]},
        [("worker", 1)])["alone"]
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "train", "mlp_mnist", "--data", str(data), "--workdir",
         str(tmp_path / "run")], env=environment, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:  # the worker's other task never starts: within a minute, or never
        ready, _, _ = select.select([process.stdout], [], [], 60)
        first = process.stdout.readline() if ready else "(nothing in 60 s)"
    finally:
        process.kill()
        process.wait()
    assert first == ("zoo: worker 1 of 2: waiting for every worker named in TF_CONFIG to start "
                     "(each runs the same command)\n")


@pytest.mark.slow
def test_a_resumed_multi_worker_run_continues_the_data_order(tmp_path):
    """The multi-worker loop makes an iterator per epoch, each drawing the next shuffle and
    augmentation seeds: a resumed run must not start again from epoch 1's."""
    data = write_digits_npz(tmp_path / "digits.npz", count=200)
    script = tmp_path / "worker.py"
    script.write_text(_RESUMING_WORKER)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("TF_CONFIG", None)  # one worker: MultiWorkerMirroredStrategy on its own

    def train(workdir, history, interrupt):
        command = [sys.executable, str(script), str(data), str(tmp_path / workdir),
                   str(tmp_path / history), interrupt]
        done = subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    train("whole", "whole.csv", "no")
    train("resumed", "unused.csv", "yes")
    assert not (tmp_path / "unused.csv").exists()
    train("resumed", "resumed.csv", "no")
    whole, resumed = (pd.read_csv(tmp_path / name) for name in ("whole.csv", "resumed.csv"))
    assert list(resumed.epoch) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(resumed, whole)


_EPOCH_CHECKING_TASK = textwrap.dedent(
    """
    import sys
    from zoo.errors import InvalidValueError
    from zoo.training.distributed import check_same_epoch
    from zoo.training.policy import resolve_policy, task_index

    policy = resolve_policy()  # "auto": TF_CONFIG names a chief and a worker
    assert policy.strategy_name == "MultiWorkerMirroredStrategy", policy.describe()
    assert "TF_CONFIG names 2 tasks" in policy.describe(), policy.describe()
    print("task index", task_index())
    try:
        check_same_epoch(policy.strategy, int(sys.argv[1]))
    except InvalidValueError as error:
        print("refused:", error)
    assert check_same_epoch(policy.strategy, 5) == [5, 5]
    """
)


@pytest.mark.slow
def test_a_chief_and_a_worker_resuming_from_different_epochs_are_refused(tmp_path):
    """A cluster with a "chief" has it as task 0 (it writes the workdir) and its worker as task
    1; every task learns each one's epoch, and all refuse to train when they differ."""
    script = tmp_path / "task.py"
    script.write_text(_EPOCH_CHECKING_TASK)
    chief, worker = (f"127.0.0.1:{port}" for port in _free_ports(2))
    names = ["chief", "worker"]
    commands = {"chief": [sys.executable, str(script), "2"],
                "worker": [sys.executable, str(script), "1"]}
    outputs = _run_ok(commands, _cluster_environments(
        names, {"chief": [chief], "worker": [worker]}, [("chief", 0), ("worker", 0)]), tmp_path)
    assert "task index 0" in outputs["chief"] and "task index 1" in outputs["worker"]
    for output in outputs.values():
        assert ("refused: the workers would resume from different epochs (worker 0 (the chief) "
                "after epoch 2, worker 1 after epoch 1)") in output, output[-3000:]


_STEP_AGAINST_FIT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import zoo
    from zoo.training.compile import compile_model
    from zoo.training.distributed import fit_multi_worker

    keras.config.set_dtype_policy(sys.argv[1])
    # l2: the loss holds the layers' regularization losses too, as model.fit's does.
    spec = zoo.get_spec("mlp_mnist").with_overrides(
        units=(16,), dropout=0.0, optimizer="sgd", momentum=0.0, learning_rate=0.5,
        schedule="constant", batch_size=32, l2=1e-2)
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 28, 28, 1)).astype("float32"), rng.integers(0, 10, 128)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)  # 4 global batches of 32
    keras.utils.set_random_seed(1)
    single = compile_model(spec.build_model(), spec)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])  # 2 replicas of 16
    with strategy.scope():
        replicated = spec.build_model()
        replicated.set_weights(single.get_weights())
        compile_model(replicated, spec)
    start = single.get_weights()
    expected = single.fit(data, validation_data=data, epochs=1, verbose=0).history
    got = fit_multi_worker(replicated, strategy, data, data, epochs=1, verbose=0).history
    tolerance = 1e-5 if sys.argv[1] == "float32" else 2e-3
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(got[key], expected[key], rtol=tolerance, err_msg=key)
    for moved, reference, first in zip(replicated.get_weights(), single.get_weights(), start):
        assert np.abs(reference - first).max() > 0.05  # the step learned as much as fit's
        np.testing.assert_allclose(moved, reference, atol=tolerance * 10)
    print("same as model.fit under", sys.argv[1], type(replicated.optimizer).__name__)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_the_explicit_step_trains_as_model_fit(tmp_path, precision):
    """Two replicas in one process (two logical CPUs under MirroredStrategy, whose replica
    context is where Keras' losses scale by 1 / replicas): the explicit step logs and learns as
    model.fit does on the same global batches. Once the loss was scaled twice, and under
    mixed_float16 the LossScaleOptimizer divided gradients by a scale never applied."""
    script = tmp_path / "step.py"
    script.write_text(_STEP_AGAINST_FIT)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, str(script), precision], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"same as model.fit under {precision}" in done.stdout


# ---- the explicit step in this process: the default strategy (one replica) stands in for the
# cluster, for what the runs above never do (stop early, lose a worker, average the weights).


def _compiled_mlp(strategy=None, **overrides):
    """A small mlp_mnist compiled by its recipe (in `strategy`'s scope), and 64 examples in 4
    batches of 16."""
    spec = zoo.get_spec("mlp_mnist").with_overrides(units=(8,), dropout=0.0, batch_size=16,
                                                    **overrides)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 28, 28, 1)).astype("float32"), rng.integers(0, 10, 64)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with (strategy or tf.distribute.get_strategy()).scope():
        return compile_model(spec.build_model(), spec, steps_per_epoch=4), data


class _StopAtBatch(keras.callbacks.Callback):
    """Stops training after the given training batch of the first epoch."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            self.model.stop_training = True


@pytest.mark.parametrize("validation", [False, True])
def test_a_callback_stopping_mid_epoch_ends_the_explicit_loop_there(validation):
    strategy = tf.distribute.MirroredStrategy()  # distributes (one device): not None's data
    model, data = _compiled_mlp(strategy, ema_momentum=None)
    history = fit_multi_worker(model, strategy, data, data if validation else None, epochs=3,
                               verbose=0, callbacks=[_StopAtBatch(1)])
    # Batches 0 and 1 of epoch 1, then no more.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2
    assert history.epoch == [0]
    assert set(history.history) == {"loss", "accuracy"}  # a stopped epoch is not validated


def test_the_explicit_loop_validates_and_ends_on_the_weight_average_as_model_fit_does():
    # zoo.train passes SwapEMAWeights: validation scores the average (on_test_begin puts it in
    # place), and training ends with the average in the model.
    recipe = {"ema_momentum": 0.5, "optimizer": "sgd", "momentum": 0.0, "learning_rate": 0.5,
              "schedule": "constant"}
    fitted, data = _compiled_mlp(**recipe)
    stepped, _ = _compiled_mlp(**recipe)
    assert stepped.optimizer.use_ema
    start = stepped.get_weights()
    expected = fitted.fit(data, validation_data=data, epochs=2, verbose=0, shuffle=False,
                          callbacks=[keras.callbacks.SwapEMAWeights()]).history
    got = fit_multi_worker(stepped, tf.distribute.get_strategy(), data, data, epochs=2,
                           verbose=0, callbacks=[keras.callbacks.SwapEMAWeights()]).history
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, err_msg=key)
    for mine, theirs, first in zip(stepped.get_weights(), fitted.get_weights(), start,
                                   strict=True):
        assert np.abs(theirs - first).max() > 1e-3  # both trained
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


class _PeerLost(keras.callbacks.Callback):
    """Raises, in the given epoch's first batch, what TensorFlow's collectives raise when a peer
    is gone (the explicit step's collectives run inside the same `try`)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        if self.current == self.epoch:
            raise tf.errors.UnavailableError(
                None, None, "Collective ops is aborted by: Socket closed:\nAdditional GRPC error "
                "information ...")


def test_a_worker_lost_before_or_while_training_is_named_in_one_line():
    model, data = _compiled_mlp(ema_momentum=None)
    with pytest.raises(WorkerUnavailableError) as lost:
        fit_multi_worker(model, tf.distribute.get_strategy(), data, data, epochs=3, verbose=0,
                         callbacks=[_PeerLost(2)])
    assert str(lost.value).startswith(
        "a worker stopped or could not be reached in epoch 2 (UnavailableError: Collective ops "
        "is aborted by: Socket closed); a multi-worker run needs every worker until its end.")
    assert "\n" not in str(lost.value) and "the run resumes from the last saved epoch" in str(
        lost.value)

    class Unreachable:  # a strategy whose collective never completes
        def run(self, function, args=()):
            raise tf.errors.DeadlineExceededError(None, None, "Deadline Exceeded")

    # Eagerly: TensorFlow raises it as the gather runs, not while tracing it (which rewrites it).
    tf.config.run_functions_eagerly(True)
    try:
        with pytest.raises(WorkerUnavailableError, match=r"^a worker stopped or could not be "
                           r"reached before training \(DeadlineExceededError: Deadline "
                           r"Exceeded\); a multi-worker run needs every worker"):
            check_same_epoch(Unreachable(), 0)
    finally:
        tf.config.run_functions_eagerly(False)


def test_per_example_losses_take_a_plain_loss_function_as_it_is():
    labels, probabilities = np.array([0, 1]), np.array([[0.5, 0.5], [0.2, 0.8]], "float32")
    plain = per_example_losses(keras.losses.sparse_categorical_crossentropy, labels,
                               probabilities)
    assert plain.dtype == "float32"
    np.testing.assert_allclose(plain, [np.log(2), -np.log(0.8)], rtol=1e-6)
    np.testing.assert_allclose(
        plain, per_example_losses(keras.losses.SparseCategoricalCrossentropy(), labels,
                                  probabilities))
