"""zoo.train: learning, workdir files, resume after kill -9, config refusal, NaN handling."""

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pandas as pd
import pytest
from helpers import (
    REPO,
    ClaimingProcess,
    digit_like_images,
    history_rows,
    write_digits_npz,
    write_sentiment_tsv,
)

import zoo
from zoo.logs import without_retracing_warnings
from zoo.termination import Terminated
from zoo.training.callbacks import ResumableEarlyStopping, monitor_mode
from zoo.training.loop import TrainingDivergedError
from zoo.training.workdir import WorkdirConflictError

SMALL_TEXT = {"vocab_size": 200, "sequence_length": 16, "embedding_dim": 16, "lstm_units": (8,)}


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.utils.clear_session()


class _OwnMetric(keras.callbacks.Callback):
    """A metric of the caller's own, added to the epoch's logs as Keras users do."""

    def on_epoch_end(self, epoch, logs=None):
        logs["val_own"] = 0.5 + epoch


def assert_same_history(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal histories but for the epochs' wall-clock `seconds`."""
    pd.testing.assert_frame_equal(left.drop(columns="seconds"), right.drop(columns="seconds"))


def test_history_has_the_same_columns_with_or_without_a_workdir(tmp_path):
    x, y = digit_like_images(120)
    kept = zoo.train("mlp_mnist", (x, y), epochs=2, workdir=tmp_path / "run", verbose=0,
                     callbacks=[_OwnMetric()])
    plain = zoo.train("mlp_mnist", (x, y), epochs=2, verbose=0, callbacks=[_OwnMetric()])
    assert list(plain.history.columns) == list(kept.history.columns)
    assert list(kept.history.val_own) == [0.5, 1.5]  # the caller's own metric, in history.csv too
    assert list(pd.read_csv(tmp_path / "run" / "history.csv").val_own) == [0.5, 1.5]
    assert list(plain.history.columns)[:1] == ["epoch"]
    assert list(plain.history.epoch) == [1, 2]  # 1-based, as history.csv numbers them
    assert {"learning_rate", "seconds"} <= set(plain.history)
    # The rate after each epoch's last step, not as the epoch began: mlp_mnist's cosine decay
    # is half-way down after epoch 1 of 2 and at 0 after epoch 2 (at its start: peak, half).
    peak = zoo.get_spec("mlp_mnist").recipe.learning_rate
    assert list(plain.history.learning_rate) == pytest.approx([peak / 2, 0.0], rel=1e-5,
                                                               abs=1e-9)
    # The same seed and data: the same learning rates (cosine-decayed or constant) per epoch.
    np.testing.assert_allclose(plain.history.learning_rate, kept.history.learning_rate)


def test_train_learns_and_writes_the_run(tmp_path):
    data = write_digits_npz(tmp_path / "digits.npz", count=400)
    workdir = tmp_path / "run"
    # augment=False: the generated classes are row bands that a random shift would swap.
    result = zoo.train("mlp_mnist", str(data), epochs=4, workdir=workdir, verbose=0, seed=1,
                       augment=False)

    assert list(result.history["epoch"]) == [1, 2, 3, 4]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(result.history)
    assert result.report.accuracy > 0.9  # the generated classes are easy: training must learn them
    assert result.report.num_examples == 40  # the seeded 10% hold-out
    assert repr(result) == (f"<TrainResult: mlp_mnist, 4 epochs, validation accuracy "
                            f"{result.report.accuracy:.4f} on 40 examples, workdir {workdir}>")
    for name in (
        "config.json", "state.json", "history.csv", "best.keras", "model.keras", "report.json"
    ):
        assert (workdir / name).is_file(), name
    assert any((workdir / "logs").rglob("events.out.tfevents*"))
    on_disk = pd.read_csv(workdir / "history.csv")
    assert list(on_disk["epoch"]) == [1, 2, 3, 4]
    assert json.loads((workdir / "report.json").read_text())["accuracy"] == pytest.approx(
        result.report.accuracy
    )
    reloaded = keras.saving.load_model(workdir / "model.keras")
    x, _ = digit_like_images(8, seed=5)
    inputs = ((x[..., None] / 255.0) - 0.1307) / 0.3081
    np.testing.assert_allclose(
        reloaded.predict(inputs, verbose=0), result.model.predict(inputs, verbose=0), atol=1e-6
    )
    # Trained without augmentation: rerun with the entry's own (the default) it is another run,
    # not this one resumed or "already complete".
    with pytest.raises(WorkdirConflictError, match=r"different configuration \(augment: was "
                       r"False, now None\)"):
        zoo.train("mlp_mnist", str(data), epochs=4, workdir=workdir, verbose=0, seed=1)


def test_rerun_of_a_finished_run_trains_nothing_and_other_settings_are_refused(tmp_path, caplog):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    workdir = tmp_path / "run"
    first = zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0)
    final = workdir / "model.keras"
    model_bytes, model_inode = final.read_bytes(), final.stat().st_ino
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="zoo"):
        again = zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0)
    assert f"the run in {workdir} is already complete (2 epochs)" in caplog.text
    # model.keras is not saved again (Keras' save date changed its bytes, and a fine-tuning
    # run started from it refused to resume: its recorded weights fingerprint differed).
    assert final.read_bytes() == model_bytes
    assert final.stat().st_ino == model_inode  # not even replaced
    assert "training mlp_mnist from epoch" not in caplog.text
    pd.testing.assert_frame_equal(first.history, again.history)
    assert again.report.accuracy == pytest.approx(first.report.accuracy)

    with pytest.raises(
        WorkdirConflictError, match=r"different configuration \(overrides: .*epochs"
    ):
        zoo.train("mlp_mnist", data, epochs=3, workdir=workdir, verbose=0)
    with pytest.raises(WorkdirConflictError, match="seed: was 0, now 7"):
        zoo.train("mlp_mnist", data, epochs=2, seed=7, workdir=workdir, verbose=0)
    # mlp_mnist augments its images by default: without augmentation it is another run.
    with pytest.raises(WorkdirConflictError, match=r"augment: was None, now False"):
        zoo.train("mlp_mnist", data, epochs=2, augment=False, workdir=workdir, verbose=0)
    # augment=True is what the entry does by default: the same run, already complete.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="zoo"):
        zoo.train("mlp_mnist", data, epochs=2, augment=True, workdir=workdir, verbose=0)
    assert f"the run in {workdir} is already complete (2 epochs)" in caplog.text
    # Other data is another run too, be it the validation data (which chose the best epoch)
    # or the training data (the same name, other content).
    validation = str(write_digits_npz(tmp_path / "valid.npz", count=40, seed=1))
    with pytest.raises(WorkdirConflictError, match=r"different configuration \(validation_data: "
                       r"was None, now 'file:valid\.npz:"):
        zoo.train("mlp_mnist", data, validation, epochs=2, workdir=workdir, verbose=0)
    (tmp_path / "other").mkdir()
    other = str(write_digits_npz(tmp_path / "other" / "digits.npz", count=200, seed=1))
    with pytest.raises(WorkdirConflictError, match=r"different configuration \(data: was "
                       r"'file:digits\.npz:"):
        zoo.train("mlp_mnist", other, epochs=2, workdir=workdir, verbose=0)


_KILLABLE_RUN = textwrap.dedent(
    """
    import sys, time, keras, zoo

    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(1.0)  # leave the test time to kill us between epochs and inside them

    zoo.train("mlp_mnist", sys.argv[1], epochs=6, workdir=sys.argv[2], verbose=0,
              callbacks=[Slow()])
    """
)


def test_resume_after_kill_loses_and_repeats_no_epoch(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=300))
    workdir = tmp_path / "run"
    script = tmp_path / "run.py"
    script.write_text(_KILLABLE_RUN)
    process = subprocess.Popen([sys.executable, str(script), data, str(workdir)], cwd=REPO)
    deadline = time.time() + 120
    while history_rows(workdir) < 2 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = pd.read_csv(workdir / "history.csv")
    assert 2 <= len(before) < 6, "the run must be killed mid-way"

    result = zoo.train("mlp_mnist", data, epochs=6, workdir=workdir, verbose=0)
    after = pd.read_csv(workdir / "history.csv")
    assert list(after["epoch"]) == [1, 2, 3, 4, 5, 6]
    # Epochs completed before the kill are kept as they were, not trained again.
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    assert list(result.history["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert not list(workdir.glob(".*.tmp")), "no temporary file may be left behind"


def test_a_workdir_another_live_process_trains_in_is_refused_untouched(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    workdir = tmp_path / "run"
    zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0, units=(8,))
    assert not (workdir / "process.json").exists()  # the run is over: nothing trains there
    in_flight = workdir / "state" / "epoch_0003.weights.h5"  # what that run would be writing
    with ClaimingProcess(workdir) as other:  # as a second `zoo train` finds a running one
        in_flight.write_bytes(b"weights")
        with pytest.raises(WorkdirConflictError, match=f"workdir {workdir} is in use: process "
                           f"{other.pid} is training there. Wait for it to finish"):
            zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0, units=(8,))
        assert in_flight.read_bytes() == b"weights"
        assert json.loads((workdir / "process.json").read_text())["pid"] == other.pid  # its claim
    # Once it is gone (killed: its process.json stays, naming it), a rerun goes on and cleans up.
    result = zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0, units=(8,))
    assert list(result.history["epoch"]) == [1, 2] and not in_flight.exists()
    # A process.json naming a live process that holds no claim (a workdir copied, a number
    # given again): not in use.
    (workdir / "process.json").write_text(json.dumps({"pid": os.getppid(), "started": None}))
    zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0, units=(8,))


def test_a_run_finishing_while_another_loads_its_data_is_not_undone(tmp_path, monkeypatch):
    # A second run read the workdir before its data loaded, while the first was finishing; it
    # then deleted the weights the first had committed since as "left over" and trained again.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    workdir = tmp_path / "run"
    common = {"epochs": 2, "workdir": workdir, "verbose": 0, "units": (8,)}
    finished = {}
    real_load = zoo.training.loop.load_run_data

    def load_while_another_finishes(*args, **kwargs):
        loaded = real_load(*args, **kwargs)
        if not finished:  # another process runs the whole run meanwhile
            finished["result"] = subprocess.run(
                [sys.executable, "-c", f"import zoo; zoo.train('mlp_mnist', {data!r}, epochs=2, "
                 f"workdir={str(workdir)!r}, verbose=0, units=(8,))"], check=True)
            finished["history"] = (workdir / "history.csv").read_text()
        return loaded

    monkeypatch.setattr(zoo.training.loop, "load_run_data", load_while_another_finishes)
    result = zoo.train("mlp_mnist", data, **common)  # finds the run complete: nothing to train
    assert list(result.history["epoch"]) == [1, 2]
    assert (workdir / "history.csv").read_text() == finished["history"]  # not trained again
    state = json.loads((workdir / "state.json").read_text())
    assert state["status"] == "complete" and (workdir / state["weights"]).exists()
    monkeypatch.undo()
    assert list(zoo.train("mlp_mnist", data, **common).history["epoch"]) == [1, 2]


class _RaiseAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("stopped by the caller's callback")


def test_a_run_that_raises_releases_its_workdir(tmp_path):
    # A notebook catching the error goes on living: its claim blocked every other process.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    workdir = tmp_path / "run"
    common = {"epochs": 2, "workdir": workdir, "verbose": 0, "units": (8,)}
    with pytest.raises(RuntimeError, match="stopped by the caller's callback"):
        zoo.train("mlp_mnist", data, callbacks=[_RaiseAfterFirstEpoch()], **common)
    assert not (workdir / "process.json").exists()
    assert list(pd.read_csv(workdir / "history.csv")["epoch"]) == [1]  # committed before it
    script = (f"import zoo; r = zoo.train('mlp_mnist', {data!r}, epochs=2, "
              f"workdir={str(workdir)!r}, verbose=0, units=(8,)); print(list(r.history.epoch))")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True)
    assert other.stdout.strip().splitlines()[-1] == "[1, 2]"


def test_without_a_workdir_a_callbacks_error_reaches_the_caller():
    # No TensorBoard logs to close then: the error itself must still come out of zoo.train.
    x, y = digit_like_images(100)
    with pytest.raises(RuntimeError, match="stopped by the caller's callback"):
        zoo.train("mlp_mnist", (x, y), epochs=2, verbose=0, units=(8,),
                  callbacks=[_RaiseAfterFirstEpoch()])


class _NoteInLogs(keras.callbacks.Callback):
    """A caller's callback putting a value that is no number into the epoch's logs."""

    def on_epoch_end(self, epoch, logs=None):
        logs["note"] = f"epoch {epoch + 1} done"
        logs["val_own"] = 0.5 + epoch


def test_a_logged_value_that_is_no_number_stays_out_of_the_workdirs_history(tmp_path):
    # history.csv and state.json hold numbers; the caller's numbers beside it are kept.
    x, y = digit_like_images(100)
    result = zoo.train("mlp_mnist", (x, y), epochs=2, workdir=tmp_path / "run", verbose=0,
                       units=(8,), callbacks=[_NoteInLogs()])
    assert "note" not in result.history and list(result.history.val_own) == [0.5, 1.5]
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert all("note" not in row and "val_own" in row for row in state["history"])


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="lists open files through /proc")
def test_a_run_that_raises_closes_its_tensorboard_logs(tmp_path):
    # Keras closes them as training ends: the traceback a notebook keeps held them open.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    workdir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="stopped by the caller's callback") as raised:
        zoo.train("mlp_mnist", data, callbacks=[_RaiseAfterFirstEpoch()], epochs=2,
                  workdir=workdir, verbose=0, units=(8,))
    kept = raised.value.__traceback__  # noqa: F841  (alive, as in sys.last_traceback)
    opened = []
    for descriptor in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            opened.append(os.readlink(f"/proc/self/fd/{descriptor}"))
    assert not [path for path in opened if path.startswith(str(workdir / "logs"))]
    assert list((workdir / "logs").rglob("events.out.tfevents.*"))  # written, then closed


def test_resuming_in_another_precision_is_refused_with_the_way_on(tmp_path):
    # It resumed, dropped the optimizer's state (Keras only warned) and restarted the schedule:
    # the case of a run begun on a GPU ("auto" = mixed_float16) rerun on a CPU.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    workdir = tmp_path / "run"
    common = {"epochs": 2, "workdir": workdir, "verbose": 0, "units": (8,)}
    with pytest.raises(RuntimeError, match="stopped by the caller's callback"):
        zoo.train("mlp_mnist", data, callbacks=[_RaiseAfterFirstEpoch()],
                  mixed_precision="mixed_bfloat16", **common)
    with pytest.raises(WorkdirConflictError, match=r"mixed_precision: was 'mixed_bfloat16', now "
                       r"None\)\..* The run trains in mixed_bfloat16 precision: pass "
                       r"mixed_precision='mixed_bfloat16' \(--set "
                       r"mixed_precision=mixed_bfloat16\)"):
        zoo.train("mlp_mnist", data, **common)
    result = zoo.train("mlp_mnist", data, mixed_precision="mixed_bfloat16", **common)
    assert list(result.history["epoch"]) == [1, 2]
    # Float32 runs record no precision, so workdirs begun before it was recorded still resume.
    plain = zoo.train("mlp_mnist", data, **{**common, "workdir": tmp_path / "plain"})
    assert "mixed_precision" not in plain.run_config


def test_a_global_dtype_policy_of_the_callers_does_not_decide_the_runs_precision(tmp_path, caplog):
    # It built the model under the caller's mixed_float16 while the log said float32 and the
    # workdir recorded none: a rerun in float32 then resumed with the optimizer's state dropped.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    keras.config.set_dtype_policy("mixed_float16")
    try:
        with caplog.at_level(logging.INFO, logger="zoo"):
            result = zoo.train("mlp_mnist", data, epochs=1, workdir=tmp_path / "run", verbose=0,
                               units=(8,))
        assert keras.config.dtype_policy().name == "mixed_float16"  # the caller's, back
    finally:
        keras.config.set_dtype_policy("float32")
    assert {layer.dtype_policy.name for layer in result.model.layers} == {"float32"}
    assert "mixed_precision" not in result.run_config
    assert ("mixed_precision: float32 on cpu, not the global Keras policy mixed_float16 (pass "
            "mixed_precision='mixed_float16' to train in it)") in caplog.text


@pytest.mark.parametrize("floatx", ["float16", "float64"])
def test_a_global_float_type_of_the_callers_does_not_change_what_the_run_computes(
        floatx, tmp_path):
    # keras.config.set_floatx("float16") made the loss and metrics float16 around a float32
    # model: the loss overflowed to NaN and the run stopped as diverged.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    common = {"epochs": 2, "seed": 0, "verbose": 0, "units": (8,), "learning_rate": 3e-3}
    expected = zoo.train("mlp_mnist", data, **common).history
    keras.config.set_floatx(floatx)
    try:
        history = zoo.train("mlp_mnist", data, **common).history
        assert keras.config.floatx() == floatx  # the caller's, back
    finally:
        keras.config.set_floatx("float32")
    assert_same_history(history, expected)


def test_a_closed_stdout_trains_silently(tmp_path, monkeypatch, capfd):
    # `zoo train ... >&-` (Python's sys.stdout is None): verbose="auto" asked None.isatty() and
    # failed after the workdir's config.json was written.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    monkeypatch.setattr(sys, "stdout", None)
    result = zoo.train("mlp_mnist", data, epochs=1, units=(8,), workdir=tmp_path / "run")
    assert list(result.history.epoch) == [1]
    monkeypatch.undo()
    assert capfd.readouterr().out == ""  # nothing reached the process' stdout either
    # With a stdout, verbose reaches Keras' fit: 2 is one line per epoch (as in a log file).
    zoo.train("mlp_mnist", data, epochs=2, units=(8,), verbose=2)
    lines = capfd.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    assert sum(" - loss: " in line for line in lines) == 2
    zoo.train("mlp_mnist", data, epochs=1, units=(8,), verbose=0)  # and 0 is no line at all
    assert "Epoch" not in capfd.readouterr().out


def test_training_in_a_loop_does_not_warn_of_retracing(caplog):
    # From the fifth run in a process TensorFlow warned that Keras' train step "triggered
    # tf.function retracing" and told the caller to define their tf.function outside the loop.
    images, labels = digit_like_images(64, seed=0)
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        for _ in range(6):
            zoo.train("mlp_mnist", (images, labels), epochs=1, units=(8,), verbose=0)
    assert "retracing" not in caplog.text
    # The same warning about a function of the caller's still shows.
    with caplog.at_level(logging.WARNING, logger="tensorflow"), without_retracing_warnings():
        logging.getLogger("tensorflow").warning(
            "5 out of the last 5 calls to <function my_step at 0x1> triggered tf.function "
            "retracing.")
    assert "my_step" in caplog.text


def test_resuming_with_xla_switched_is_refused_with_the_way_on(tmp_path):
    # XLA draws other dropout masks from the same seed: a run resumed with the other setting
    # (begun on a GPU, where "auto" turns it on, resumed on a CPU) matched neither run.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    common = {"epochs": 2, "workdir": tmp_path / "run", "verbose": 0, "units": (8,)}
    with pytest.raises(RuntimeError, match="stopped by the caller's callback"):
        zoo.train("mlp_mnist", data, callbacks=[_RaiseAfterFirstEpoch()], jit_compile=True,
                  **common)
    with pytest.raises(WorkdirConflictError, match=r"jit_compile: was True, now None\)\..* The "
                       r"run compiles its steps with XLA: pass jit_compile=True \(--set "
                       r"jit_compile=True\) to resume it on this machine"):
        zoo.train("mlp_mnist", data, **common)
    result = zoo.train("mlp_mnist", data, jit_compile=True, **common)
    assert list(result.history["epoch"]) == [1, 2] and result.run_config["jit_compile"] is True


def test_steps_per_execution_never_changes_what_trains(tmp_path, caplog):
    # 90 training digits in batches of 16: 6 batches an epoch. 4 per call did not divide them,
    # and the same seed then trained another model from epoch 2 on.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    common = {"epochs": 2, "verbose": 0, "units": (8,), "batch_size": 16, "seed": 3}
    plain = zoo.train("mlp_mnist", data, **common)
    with caplog.at_level(logging.INFO, logger="zoo"):
        grouped = zoo.train("mlp_mnist", data, steps_per_execution=4, **common)
    assert ("steps_per_execution=4 does not divide the epoch's 6 batches: 3 batches per call "
            "instead") in caplog.text
    assert_same_history(grouped.history, plain.history)
    for left, right in zip(grouped.model.get_weights(), plain.model.get_weights(), strict=True):
        np.testing.assert_allclose(left, right, atol=1e-6)


@pytest.mark.parametrize("callback", [keras.callbacks.ReduceLROnPlateau(),
                                      keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr)])
def test_a_callback_setting_the_rate_of_a_scheduled_recipe_is_refused_before_training(
        callback, tmp_path):
    # Keras raised "not settable" when the callback first acted: ReduceLROnPlateau at the
    # first plateau, maybe many epochs in. With a constant rate the callback steers it.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    common = {"epochs": 2, "verbose": 0, "units": (8,), "callbacks": [callback]}
    with pytest.raises(zoo.errors.InvalidValueError,
                       match=rf"{type(callback).__name__} sets the learning rate as training "
                             r"goes, but the recipe's rate is a schedule \(cosine\).* Pass "
                             r"schedule='constant' and warmup_epochs=0"):
        zoo.train("mlp_mnist", data, schedule="cosine", workdir=tmp_path / "run", **common)
    assert not (tmp_path / "run").exists()
    result = zoo.train("mlp_mnist", data, schedule="constant", **common)
    assert list(result.history["epoch"]) == [1, 2]


def test_a_model_with_nothing_to_train_is_refused(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    model = zoo.build("mlp_mnist", units=(8,))
    model.trainable = False
    with pytest.raises(zoo.errors.InvalidValueError,
                       match=r"the model given to zoo.train has no trainable weights "
                             r"\(model.trainable is False"):
        zoo.train(model, data, epochs=1, verbose=0)


def test_a_model_compiled_by_its_user_is_said_to_be_compiled_again(tmp_path, caplog):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    model = zoo.build("mlp_mnist", units=(8,), compile=False)
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    with caplog.at_level(logging.WARNING, logger="zoo"):
        result = zoo.train(model, data, epochs=1, verbose=0)
    assert ("the model given comes compiled with an optimizer of its own (SGD), not by zoo; "
            "zoo.train compiles it again by the recipe of 'mlp_mnist' (adam, learning rate 0.002, "
            "its loss). To train with your own compile, call model.fit on zoo.data.load "
            "datasets.") in caplog.text
    assert type(result.model.optimizer).__name__ == "Adam"
    caplog.clear()
    # zoo's own compile (zoo.build's, or the last run's) is not the user's: nothing to say.
    with caplog.at_level(logging.WARNING, logger="zoo"):
        zoo.train(model, data, epochs=1, verbose=0)
        zoo.train(zoo.build("mlp_mnist", units=(8,)), data, epochs=1, verbose=0)
    assert "optimizer of its own" not in caplog.text
    # zoo's compile under mixed_float16, whose optimizer Keras wraps for loss scaling, is zoo's.
    from zoo.training.compile import compiled_by_its_user

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = zoo.build("mlp_mnist", units=(8,))
    finally:
        keras.config.set_dtype_policy(previous)
    assert type(mixed.optimizer).__name__ == "LossScaleOptimizer"
    assert not compiled_by_its_user(mixed)
    # A network of one's own: the refusal names the ways to train it.
    mine = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")], name="mine")
    with pytest.raises(zoo.errors.InvalidValueError, match=r"'mine' is not named after a zoo "
                       r"entry.*register it as an entry \(@zoo.register_model.*or call model\.fit "
                       r"on datasets from zoo\.data\.load\(source, spec=ENTRY\)"):
        zoo.train(mine, data, epochs=1, verbose=0)


def test_an_early_stopping_restore_a_workdir_overrules_is_warned_about(tmp_path, caplog):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    stopping = keras.callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        zoo.train("mlp_mnist", data, epochs=1, verbose=0, units=(8,), callbacks=[stopping])
    assert "EarlyStopping" not in caplog.text  # without a workdir, its restore stands
    with caplog.at_level(logging.WARNING, logger="zoo"):
        zoo.train("mlp_mnist", data, epochs=1, verbose=0, units=(8,), callbacks=[stopping],
                  workdir=tmp_path / "run")
    assert ("EarlyStopping(monitor='val_loss', restore_best_weights=True) restores its best "
            "epoch, but with a workdir the run ends with its best epoch by the recipe's monitor "
            "('val_accuracy'), as best.keras holds it: the model returned and exported. Pass "
            "monitor='val_loss' (--set monitor=val_loss) for the run to choose by the "
            "callback's.") in caplog.text
    caplog.clear()
    # The same monitor: no warning (on a tie of two epochs the callback restores the first, the
    # run keeps the later, as best.keras says).
    with caplog.at_level(logging.WARNING, logger="zoo"):
        zoo.train("mlp_mnist", data, epochs=1, verbose=0, units=(8,), monitor="val_loss",
                  callbacks=[stopping], workdir=tmp_path / "by_loss")
    assert "EarlyStopping" not in caplog.text


def test_validation_data_of_other_columns_than_the_training_data_is_told_both_read_alike():
    # The training table has the default columns; the fix for the validation table is not
    # "pass text_column='review'", which would break the training table.
    train = pd.DataFrame({"sentence": ["a fine film", "so dull"] * 10, "label": [1, 0] * 10})
    dev = pd.DataFrame({"review": ["great", "awful"], "label": [1, 0]})
    with pytest.raises(zoo.DataError) as raised:
        zoo.train("lstm_sst2", train, validation_data=dev, epochs=1, verbose=0,
                  vocab_size=50, sequence_length=8, embedding_dim=4, lstm_units=(4,))
    message = str(raised.value)
    assert message.startswith("the DataFrame of 2 rows has no text column 'sentence' or 'text'; "
                              "found columns ['review', 'label']. The columns (named with "
                              "text_column= and label_column=")
    assert "read from the training and the validation data alike" in message
    assert "Pass text_column=" not in message


class _PoisonAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            kernel = self.model.get_layer("classifier").kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_nan_stops_with_an_error_and_keeps_the_last_good_checkpoint(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    workdir = tmp_path / "run"
    with pytest.raises(TrainingDivergedError, match="epoch 2, batch 1.*last good checkpoint"):
        zoo.train("mlp_mnist", data, epochs=4, workdir=workdir, verbose=0,
                  callbacks=[_PoisonAtEpoch(2)])
    state = json.loads((workdir / "state.json").read_text())
    assert state["epoch"] == 1 and state["status"] == "diverged"
    assert list(pd.read_csv(workdir / "history.csv")["epoch"]) == [1]
    good = keras.saving.load_model(workdir / "best.keras")
    assert all(np.isfinite(w).all() for w in good.get_weights())
    # Loading the run says it diverged and where its last good model is, not "rerun the same
    # command to finish it" (which diverges again).
    with pytest.raises(zoo.DataError) as refused:
        zoo.load(workdir)
    assert str(refused.value).startswith(
        f"the run in {workdir} diverged (its loss became NaN or infinite), so it has no final "
        f"model. The best epoch before it is saved in {workdir / 'best.keras'}. Train again in a "
        f"new workdir with a lower learning rate")


@pytest.mark.parametrize("with_workdir, kept", [
    (False, ""),  # nothing is kept without a workdir, and the message claims nothing
    (True, r" No epoch completed, so .*run holds no checkpoint\."),
])
def test_nan_in_the_first_epoch_says_no_checkpoint_is_kept(tmp_path, with_workdir, kept):
    x, y = digit_like_images(100)
    workdir = tmp_path / "run" if with_workdir else None
    with pytest.raises(TrainingDivergedError, match=rf"^training mlp_mnist diverged: the loss "
                       rf"became NaN or infinite at epoch 1, batch 1\.{kept} Lower the learning"):
        zoo.train("mlp_mnist", (x, y), epochs=2, workdir=workdir, verbose=0, units=(8,),
                  callbacks=[_PoisonAtEpoch(1)])
    if with_workdir:
        state = json.loads((workdir / "state.json").read_text())
        assert state["status"] == "diverged" and state["epoch"] == 0


def test_text_entry_trains_and_its_vocabulary_is_kept(tmp_path):
    data = str(write_sentiment_tsv(tmp_path / "train.tsv"))
    workdir = tmp_path / "run"
    result = zoo.train("lstm_sst2", data, epochs=3, workdir=workdir, verbose=0, **SMALL_TEXT)
    assert (workdir / "preprocessor").is_dir()
    assert result.preprocessor(["a film"]).shape == (1, 16)
    assert result.report.confusion.shape == (2, 2)
    assert list(result.report.per_class.index) == ["negative", "positive"]
    # Run again in the workdir, it reads the run's own vocabulary, not one fitted again (here
    # changed by hand, so the two differ: fitted again, the ids would no longer be the weights').
    saved = workdir / "preprocessor" / "preprocessor.json"
    config = json.loads(saved.read_text())
    config["vocabulary"] = config["vocabulary"][:2] + config["vocabulary"][:1:-1]
    saved.write_text(json.dumps(config))
    rerun = zoo.train("lstm_sst2", data, epochs=3, workdir=workdir, verbose=0, **SMALL_TEXT)
    assert rerun.preprocessor.vocabulary == config["vocabulary"] != result.preprocessor.vocabulary


def test_separate_validation_data_and_early_stopping(tmp_path):
    train_file = str(write_digits_npz(tmp_path / "train.npz", count=200, seed=0))
    validation_file = str(write_digits_npz(tmp_path / "valid.npz", count=50, seed=1))
    result = zoo.train("mlp_mnist", train_file, validation_file, epochs=30, verbose=0,
                       early_stopping_patience=1, learning_rate=3e-3)
    assert result.report.num_examples == 50
    assert len(result.history) < 30  # early stopping ended the run


def test_train_rejects_bad_arguments():
    with pytest.raises(zoo.InvalidValueError, match="epochs must be a positive integer"):
        zoo.train("mlp_mnist", epochs=0)
    with pytest.raises(zoo.InvalidValueError, match=r"seed must be an integer from 0 to "
                       r"4294967295 \(2\*\*32 - 1\), got 4294967296"):
        zoo.train("mlp_mnist", seed=2**32)  # Keras' own error came from deep inside, after reading
    with pytest.raises(zoo.UnknownNameError, match="cnn_mnist"):
        zoo.train("cnn_mnst")
    with pytest.raises(zoo.InvalidValueError, match="not named after a zoo entry"):
        zoo.train(keras.Sequential(name="mystery"))
    with pytest.raises(zoo.InvalidValueError, match=r"train\(\) takes an entry name or a "
                       r"keras\.Model, got int\."):
        zoo.train(42)
    with pytest.raises(zoo.InvalidValueError, match=r"augment must be True, False or None, got "
                       r"'yes'\."):
        zoo.train("mlp_mnist", augment="yes")
    images, labels = digit_like_images(20)
    dataset = zoo.data.load((images, labels), spec="mlp_mnist")
    for arguments in ((dataset,), ((images, labels), dataset)):
        with pytest.raises(zoo.InvalidValueError, match=r"is a tf\.data\.Dataset.*model\.fit"):
            zoo.train("mlp_mnist", *arguments)


def test_weight_average_is_what_validation_scores_and_the_run_keeps(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    workdir = tmp_path / "run"
    result = zoo.train("mlp_mnist", data, epochs=2, workdir=workdir, verbose=0, augment=False,
                       ema_momentum=0.9)
    assert result.model.optimizer.use_ema
    trained = keras.saving.load_model(workdir / "model.keras", compile=False)
    best = keras.saving.load_model(workdir / "best.keras", compile=False)
    # The resumable state keeps the training weights; the saved models hold the average.
    state = zoo.build("mlp_mnist", compile=False)
    state.load_weights(workdir / json.loads((workdir / "state.json").read_text())["weights"])
    kernel = "hidden_0"
    assert not np.allclose(state.get_layer(kernel).kernel, best.get_layer(kernel).kernel)
    np.testing.assert_allclose(
        trained.get_layer(kernel).kernel, result.model.get_layer(kernel).kernel
    )
    # Validation scored the average: the report of the kept model matches the best epoch's score.
    assert result.report.accuracy == pytest.approx(result.history["val_accuracy"].max(), abs=1e-6)


def test_without_a_workdir_early_stopping_returns_the_weight_average():
    # Restoring the best epoch's weights at the end brought back training weights (what
    # EarlyStopping copies as an epoch ends), not the average that validation scored.
    images, labels = digit_like_images(200, seed=0)
    result = zoo.train("mlp_mnist", (images, labels), epochs=3, seed=0, verbose=0, augment=False,
                       units=(16,), ema_momentum=0.9, early_stopping_patience=5)
    assert result.model.optimizer.use_ema
    # The returned model is the final average: it scores what the last epoch's validation did.
    assert result.report.accuracy == pytest.approx(result.history.val_accuracy.iloc[-1],
                                                   abs=1e-6)


def test_weight_average_momentum_is_checked():
    with pytest.raises(zoo.InvalidValueError, match=r"ema_momentum must be a number in \(0, 1\)"):
        zoo.get_spec("mlp_mnist").with_overrides(ema_momentum=1.0)
    with pytest.raises(zoo.InvalidValueError, match=r"ema_momentum must be a number in \(0, 1\)"):
        zoo.get_spec("mlp_mnist").with_overrides(ema_momentum=0.0)


class _BatchesPerEpoch(keras.callbacks.Callback):
    """Training batches per epoch (executions, with steps_per_execution > 1)."""

    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_every_epoch_is_one_pass_over_the_data(tmp_path, steps_per_execution):
    # zoo.train feeds fit one repeated dataset (zoo/training/feeding.py); epochs must still be
    # exactly one pass each: 180 training examples in batches of 32 are 6 batches, the last of 20.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    counter = _BatchesPerEpoch()
    result = zoo.train("mlp_mnist", data, epochs=3, batch_size=32, verbose=0, augment=False,
                       callbacks=[counter], steps_per_execution=steps_per_execution)
    assert len(result.history) == 3
    assert counter.per_epoch == [6 // steps_per_execution] * 3
    assert int(result.model.optimizer.iterations) == 3 * 6


def test_under_a_multi_worker_strategy_steps_per_execution_is_said_not_to_apply(
        tmp_path, monkeypatch, caplog):
    # zoo's multi-worker step (distributed.py) runs one batch per call. A real cluster runs in
    # test_distributed.py; here the policy only says multi-worker, and the loop runs on one device.
    from zoo.training import policy as policy_module

    monkeypatch.setattr(policy_module.DevicePolicy, "multi_worker", property(lambda self: True))
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    counter = _BatchesPerEpoch()
    with caplog.at_level("WARNING", logger="zoo.training"):
        result = zoo.train("mlp_mnist", data, epochs=1, batch_size=32, verbose=0, augment=False,
                           units=(8,), callbacks=[counter], steps_per_execution=2)
    assert ("steps_per_execution=2 is not applied: zoo's multi-worker step runs one batch per "
            "call.") in caplog.messages
    assert counter.per_epoch == [6]  # 180 examples in batches of 32, one call each
    assert list(result.history.epoch) == [1]


def test_one_callback_is_taken_as_model_fit_takes_it_and_others_are_refused(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    counter = _BatchesPerEpoch()  # not in a list, as model.fit(callbacks=...) accepts it
    zoo.train("mlp_mnist", data, epochs=1, batch_size=32, verbose=0, augment=False,
              callbacks=counter)
    assert counter.per_epoch == [3]  # 90 training examples in batches of 32
    refused = ((keras.callbacks.EarlyStopping, r"got type EarlyStopping \(a class: pass an "),
               ("early", "got str 'early'"), ([counter, print], "got builtin_function_or_method"))
    for wrong, message in refused:
        with pytest.raises(zoo.InvalidValueError, match=message):
            zoo.train("mlp_mnist", data, workdir=tmp_path / "run", callbacks=wrong)
        assert not (tmp_path / "run").exists()


def test_repeat_epochs_keeps_datasets_it_cannot_count_or_split_evenly():
    import tensorflow as tf

    from zoo.training.feeding import repeat_epochs

    batches = tf.data.Dataset.range(10).batch(4)  # 3 batches
    repeated, steps = repeat_epochs(batches)
    assert steps == 3 and int(repeated.cardinality()) == int(tf.data.INFINITE_CARDINALITY)
    # 3 is not a multiple of 2:
    assert repeat_epochs(batches, steps_per_execution=2) == (batches, None)
    unknown = batches.filter(lambda batch: True)
    assert repeat_epochs(unknown) == (unknown, None)
    endless = batches.repeat()
    assert repeat_epochs(endless) == (endless, None)


class _Interrupt(Exception):
    """Stands for a kill between epochs (raised after the epoch was committed)."""


class _InterruptAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch, kind=_Interrupt):
        super().__init__()
        self.epoch, self.kind = epoch, kind

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:  # user callbacks run after the workdir's commit
            raise self.kind()


@pytest.mark.parametrize("kind", [KeyboardInterrupt, Terminated])
def test_an_interrupted_run_tells_from_python_what_was_kept_and_how_to_resume(tmp_path, kind):
    # The command line printed the way on; a notebook showed a bare KeyboardInterrupt.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    workdir = tmp_path / "run"
    common = {"epochs": 3, "workdir": workdir, "verbose": 0, "units": (8,)}
    with pytest.raises(kind) as raised:
        zoo.train("mlp_mnist", data, callbacks=[_InterruptAfterEpoch(2, kind)], **common)
    assert type(raised.value) is kind  # a SIGTERM stays one (its exit status differs)
    assert str(raised.value) == (
        f"training interrupted after 2 completed epochs, kept in {workdir}: call zoo.train "
        f"again with the same arguments to resume from there.")
    assert list(zoo.train("mlp_mnist", data, **common).history["epoch"]) == [1, 2, 3]
    # Without a workdir nothing is kept, and nothing is claimed.
    with pytest.raises(KeyboardInterrupt) as bare:
        zoo.train("mlp_mnist", data, epochs=2, verbose=0, units=(8,),
                  callbacks=[_InterruptAfterEpoch(1, KeyboardInterrupt)])
    assert bare.value.args == ()


def _record_training_batches(monkeypatch):
    """Training batches as `fit` reads them, in order, as (labels, sum of inputs); skipped ones
    are not seen. Keras may read one batch ahead of the last step."""
    import tensorflow as tf

    from zoo.training import loop

    seen = []
    real = loop.repeat_epochs

    def record(inputs, labels):
        seen.append((labels.numpy().tolist(), round(float(tf.reduce_sum(inputs)), 2)))
        return 0

    def recording(dataset, *args, **kwargs):
        fed, steps = real(dataset, *args, **kwargs)
        # Repeated: zoo's pipelines know their length, and the steps per execution are lowered
        # to divide it (feeding.fitting_steps_per_execution).
        assert steps is not None

        def tap(inputs, labels):
            done = tf.py_function(record, [inputs, labels], tf.int32)
            with tf.control_dependencies([done]):
                return tf.identity(inputs), tf.identity(labels)

        return fed.map(tap), steps  # no parallelism: recorded in the order fit takes them

    monkeypatch.setattr(loop, "repeat_epochs", recording)
    return seen


# 180 training examples in batches of 32 are 6 batches; 4 steps per execution are lowered to 3,
# which divide them, so the resumed stream is skipped into by whole executions. (zoo.train
# always repeats its data now; feeding._replay_epochs, for data fit cannot repeat, is checked
# against Keras' own fit in test_workdir.py.)
@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_a_resumed_run_sees_the_batches_an_uninterrupted_run_sees(
    tmp_path, monkeypatch, steps_per_execution
):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    seen = _record_training_batches(monkeypatch)
    common = {"epochs": 4, "batch_size": 32, "seed": 3, "verbose": 0,
              "steps_per_execution": steps_per_execution}  # mlp_mnist augments its images
    uninterrupted = zoo.train("mlp_mnist", data, workdir=tmp_path / "whole", **common)
    epochs = [seen[6 * e : 6 * (e + 1)] for e in range(4)]
    assert len(epochs[3]) == 6 and epochs[2] != epochs[0]  # each epoch: new order, new seeds

    seen.clear()
    with pytest.raises(_Interrupt):
        zoo.train("mlp_mnist", data, workdir=tmp_path / "resumed",
                  callbacks=[_InterruptAfterEpoch(2)], **common)
    assert seen[:12] == epochs[0] + epochs[1]
    seen.clear()
    resumed = zoo.train("mlp_mnist", data, workdir=tmp_path / "resumed", **common)
    assert seen[:12] == epochs[2] + epochs[3]  # epochs 3 and 4, not a replay of epochs 1 and 2
    assert_same_history(resumed.history, uninterrupted.history)


def test_tied_epochs_return_the_same_epoch_with_a_workdir_or_without(tmp_path):
    # Validation accuracy reaches 1.0 on easy data and stays tied there while training goes on:
    # a workdir's best.keras keeps the later tied epoch; Keras' restore_best_weights kept the
    # first, so the same seed returned another model without a workdir.
    images, labels = digit_like_images(160, seed=0)
    common = {"validation_data": (images[:20], labels[:20]), "epochs": 5, "seed": 0,
              "verbose": 0, "early_stopping_patience": 3, "ema_momentum": None,
              "units": (32,), "learning_rate": 3e-3, "monitor": "val_accuracy"}
    with_workdir = zoo.train("mlp_mnist", (images, labels), workdir=tmp_path / "run", **common)
    without = zoo.train("mlp_mnist", (images, labels), **common)
    accuracy = list(with_workdir.history.val_accuracy)
    best = max(accuracy)
    assert accuracy.count(best) > 1 and accuracy[-1] == best  # tied, the last among them
    for left, right in zip(with_workdir.model.get_weights(), without.model.get_weights(),
                           strict=True):
        np.testing.assert_array_equal(left, right)


def test_a_run_killed_once_early_stopping_had_decided_does_not_train_on(tmp_path):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=120))
    # A learning rate too small to move any weight: val_loss never improves, so patience 1
    # stops the run after epoch 2.
    common = {"epochs": 6, "verbose": 0, "early_stopping_patience": 1, "learning_rate": 1e-30,
              "monitor": "val_loss"}
    uninterrupted = zoo.train("mlp_mnist", data, workdir=tmp_path / "whole", **common)
    assert list(uninterrupted.history.epoch) == [1, 2]
    with pytest.raises(_Interrupt):  # after epoch 2's commit, before the run was complete
        zoo.train("mlp_mnist", data, workdir=tmp_path / "resumed",
                  callbacks=[_InterruptAfterEpoch(2)], **common)
    resumed = zoo.train("mlp_mnist", data, workdir=tmp_path / "resumed", **common)
    assert_same_history(resumed.history, uninterrupted.history)
    assert resumed.report.accuracy == uninterrupted.report.accuracy


def test_monitor_mode_minimises_losses_and_maximises_scores():
    # Early stopping and best.keras take their direction from it: "val_loss" taken for a score
    # keeps the epoch with the highest loss.
    assert [monitor_mode(m) for m in ("val_loss", "loss")] == ["min", "min"]
    assert [monitor_mode(m) for m in ("val_accuracy", "accuracy")] == ["max", "max"]


def test_a_run_monitoring_val_loss_keeps_its_lowest_loss_epoch(tmp_path):
    images, labels = digit_like_images(200, seed=0)
    result = zoo.train("mlp_mnist", (images, labels), epochs=3, seed=0, verbose=0, augment=False,
                       units=(16,), learning_rate=3e-3, monitor="val_loss",
                       workdir=tmp_path / "run")
    losses = list(result.history.val_loss)
    assert np.argmin(losses) != np.argmax(losses)  # the loss moved: the direction matters
    best = json.loads((tmp_path / "run" / "state.json").read_text())["best_epoch"]
    assert best == int(np.argmin(losses)) + 1
    assert result.report.accuracy == pytest.approx(result.history.val_accuracy[best - 1],
                                                   abs=1e-6)  # the model returned is that epoch's


def test_resumed_early_stopping_counts_patience_as_an_uninterrupted_run_does():
    # An earlier session's epochs: val_loss 1.0 (best), 1.1 (worse), 0.9 (a new best, which
    # starts the patience count again).
    history = [{"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": 1.1},
               {"epoch": 3, "val_loss": 0.9}]
    resumed = ResumableEarlyStopping(monitor="val_loss", mode="min", patience=2,
                                     previous_history=history)
    resumed.on_train_begin()
    uninterrupted = keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=2)
    uninterrupted.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    uninterrupted.on_train_begin()
    for row in history:
        uninterrupted.on_epoch_end(row["epoch"] - 1, {"val_loss": row["val_loss"]})
    assert (resumed.wait, resumed.best, resumed.best_epoch) == (0, 0.9, 2)
    assert (resumed.wait, resumed.best, resumed.best_epoch) == (
        uninterrupted.wait, uninterrupted.best, uninterrupted.best_epoch)
    assert not resumed.patience_used_up()

    # A row without the monitored value (not logged that epoch) neither improves nor waits.
    gap = ResumableEarlyStopping(monitor="val_loss", mode="min", patience=1,
                                 previous_history=[*history, {"epoch": 4, "loss": 0.5}])
    gap.on_train_begin()
    assert (gap.wait, gap.best, gap.best_epoch) == (0, 0.9, 2)
    assert not gap.patience_used_up()


def test_seed_makes_training_a_model_built_beforehand_repeatable(tmp_path):
    # Its dropout drew its random stream when it was built, before zoo.train set the seed.
    x, y = digit_like_images(120)
    weights = zoo.build("cnn_mnist", filters=(4, 8)).get_weights()
    losses = []
    for _ in range(2):
        model = zoo.build("cnn_mnist", filters=(4, 8))
        model.set_weights(weights)
        losses.append(zoo.train(model, (x, y), epochs=1, seed=5, verbose=0).history.loss[0])
    assert losses[0] == losses[1]


def test_a_model_built_outside_a_strategy_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(zoo.InvalidValueError, match="built outside the scope of MirroredStrategy"):
        zoo.train(zoo.build("mlp_mnist", units=(8,)), digit_like_images(40), strategy="mirrored",
                  workdir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_rerun_with_numpy_values_or_explicit_defaults_resumes_the_same_run(tmp_path, caplog):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=200))
    workdir = tmp_path / "run"
    # As a tuner or np.linspace gives them; l2=0.0 is mlp_mnist's default.
    first = zoo.train("mlp_mnist", data, epochs=np.int64(1), dropout=np.float32(0.3), l2=0.0,
                      workdir=workdir, verbose=0)
    recorded = json.loads((workdir / "config.json").read_text())["overrides"]
    assert recorded == {"dropout": 0.3, "epochs": 1} == first.run_config["overrides"]
    with caplog.at_level(logging.INFO, logger="zoo"):
        zoo.train("mlp_mnist", data, epochs=1, dropout=0.3, workdir=workdir, verbose=0,
                  batch_size=zoo.get_spec("mlp_mnist").recipe.batch_size)
    assert "is already complete (1 epoch)" in caplog.text


def test_data_dir_reaches_tfds_only_and_unused_it_is_one_warning(tmp_path, caplog, monkeypatch):
    x, y = digit_like_images(60)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        zoo.train("mlp_mnist", (x, y), epochs=1, verbose=0, data_dir=tmp_path / "tfds")
    assert [m for m in caplog.messages if "data_dir" in m] == [
        f"data_dir={tmp_path / 'tfds'} is not used: it is where TFDS datasets are prepared, and "
        f"this run reads local data only."
    ]
    # Local training data with TFDS validation data: data_dir reaches TFDS, without a warning.
    places = []

    def read_tfds(name, split, *, data_dir, download):
        places.append((name, split, data_dir))
        raise zoo.DatasetUnavailableError("not prepared (test)")

    monkeypatch.setattr("zoo.data.pipeline.read_tfds", read_tfds)
    caplog.clear()
    with pytest.raises(zoo.DatasetUnavailableError), caplog.at_level(logging.WARNING, "zoo"):
        zoo.train("mlp_mnist", (x, y), "tfds:mnist", epochs=1, verbose=0, data_dir=tmp_path)
    assert places == [("mnist", "test", tmp_path)] and caplog.messages == []



def test_tfds_splits_are_those_of_the_dataset_given_not_the_entrys(monkeypatch):
    # lstm_imdb validated on glue/sst2 read imdb's "test" split there: GLUE's has no labels (-1).
    # An entry of your own on a TFDS dataset outside zoo's catalog was refused by zoo.train.
    places = []

    def read_tfds(name, split, *, data_dir, download):
        places.append((name, split))
        raise zoo.DatasetUnavailableError("not prepared (test)")

    monkeypatch.setattr("zoo.data.pipeline.read_tfds", read_tfds)
    texts = pd.DataFrame({"text": ["a good film", "a bad film"] * 10, "label": [1, 0] * 10})
    with pytest.raises(zoo.DatasetUnavailableError):
        zoo.train("lstm_imdb", texts, "tfds:glue/sst2", epochs=1, verbose=0)
    assert places == [("glue/sst2", "validation")]

    spec = zoo.get_spec("mlp_mnist")
    zoo.register_model(name="mlp_emnist_digits")(
        lambda: dataclasses.replace(spec, dataset="emnist/digits", name="", description="x"))
    try:
        places.clear()
        with pytest.raises(zoo.DatasetUnavailableError):
            zoo.train("mlp_emnist_digits", epochs=1, verbose=0)
        assert places == [("emnist/digits", "train")]
    finally:
        zoo.unregister_model("mlp_emnist_digits")

# ---- entries of your own: caught before training, not after it ----------------------------------


class Unregistered(keras.layers.Layer):  # no @keras.saving.register_keras_serializable
    def call(self, inputs):
        return inputs


class Unsaveable(keras.layers.Layer):  # an argument Keras cannot serialize, and no get_config
    def __init__(self, table, **kwargs):
        super().__init__(**kwargs)
        self.table = table

    def call(self, inputs):
        return inputs


def _own_entry(name, middle):
    """Register entry `name`: flatten, `middle()` (a layer), hidden layer, classifier."""
    def builder(*, input_shape, num_classes, units=8):
        inputs = keras.Input(input_shape)
        hidden = keras.layers.Dense(units, activation="relu", name="hidden")(
            middle()(keras.layers.Flatten(name="flatten")(inputs)))
        return keras.Model(inputs, zoo.models.classifier_head(hidden, num_classes))

    def spec() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
                             input=zoo.ImageInput((28, 28, 1)), builder=builder)

    zoo.register_model(name=name)(spec)


@pytest.mark.parametrize("middle, message", [
    (lambda: keras.layers.Lambda(lambda x: 2 * x), "it holds a Lambda .*i.e. Python code"),
    (lambda: Unregistered(), "class 'Unregistered' from module 'test_train' .* is not "
                             "registered with Keras: decorate it with @keras.saving.register"),
    (lambda: Unsaveable(object()), "cannot be saved: .*get_config"),
])
def test_a_model_zoo_could_not_load_back_is_refused_before_training(middle, message, tmp_path):
    data = write_digits_npz(tmp_path / "digits.npz", count=40)
    _own_entry("mlp_own_refused", middle)
    try:
        with pytest.raises(zoo.InvalidValueError, match=message):
            zoo.train("mlp_own_refused", str(data), epochs=1, workdir=tmp_path / "run", verbose=0)
        assert not (tmp_path / "run").exists()
        # Without a workdir nothing is saved, so nothing is refused.
        zoo.train("mlp_own_refused", str(data), epochs=1, verbose=0)
    finally:
        zoo.unregister_model("mlp_own_refused")


def test_a_search_directory_is_not_a_workdir(tmp_path):
    # A run there took the search's vocabulary (preprocessor/) for its own and mixed the files.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=50))
    search = tmp_path / "search"
    (search / "preprocessor").mkdir(parents=True)
    (search / "search.json").write_text("{}")
    with pytest.raises(WorkdirConflictError, match=r"search holds a hyperparameter search "
                       r"\(zoo\.tune, zoo tune\), not a training run; .* Use another workdir"):
        zoo.train("mlp_mnist", data, epochs=1, workdir=search, verbose=0)
    assert sorted(p.name for p in search.iterdir()) == ["preprocessor", "search.json"]


def test_a_workdir_missing_or_damaging_its_own_files_is_refused_untouched(tmp_path, caplog):
    data = str(write_digits_npz(tmp_path / "digits.npz", count=100))
    common = {"epochs": 2, "verbose": 0, "units": (8,)}
    finished = tmp_path / "finished"
    zoo.train("mlp_mnist", data, workdir=finished, **common)

    def assert_released(workdir):
        # Refused after claiming the workdir: the claim is let go, or every later run (in
        # another process, or this notebook's once the files are restored) found it in use.
        assert not (workdir / "process.json").exists()
        with ClaimingProcess(workdir):  # another process can take it at once
            pass

    # No config.json beside a run's state: resuming could mix the run with other settings.
    no_config = shutil.copytree(finished, tmp_path / "no_config")
    (no_config / "config.json").unlink()
    with pytest.raises(WorkdirConflictError, match=r"holds a run's state but not its "
                       r"configuration \(config\.json is missing\)"):
        zoo.train("mlp_mnist", data, workdir=no_config, dropout=0.5, **common)
    assert not (no_config / "config.json").exists()
    assert_released(no_config)

    # No state.json beside a run's history and models: starting again deleted its last weights
    # and overwrote its history.
    no_state = shutil.copytree(finished, tmp_path / "no_state")
    (no_state / "state.json").unlink()
    with pytest.raises(WorkdirConflictError, match=r"holds a run \(history\.csv, best\.keras, "
                       r"model\.keras\) but not its state \(state\.json.*Restore state\.json"):
        zoo.train("mlp_mnist", data, workdir=no_state, **common)
    assert len(list((no_state / "state").iterdir())) == 1
    assert_released(no_state)

    # best.keras gone or damaged in a complete run: its final model holds the best epoch's
    # weights, so it restores best.keras (the rerun was refused, "use a new workdir").
    report = json.loads((finished / "report.json").read_text())
    for name, problem in (("no_best", "is missing"), ("damaged", "is not a readable")):
        workdir = shutil.copytree(finished, tmp_path / name)
        if name == "no_best":
            (workdir / "best.keras").unlink()
        else:
            with open(workdir / "best.keras", "r+b") as handle:
                handle.truncate(100)
        with caplog.at_level("WARNING", logger="zoo.training"):
            rerun = zoo.train("mlp_mnist", data, workdir=workdir, **common)
        assert any(f"best.keras {problem}" in message and "restored from it" in message
                   for message in caplog.messages)
        assert rerun.report.accuracy == pytest.approx(report["accuracy"])
        assert keras.models.load_model(workdir / "best.keras").count_params() > 0
        caplog.clear()
    # ... but not from a damaged final model too.
    both = shutil.copytree(finished, tmp_path / "both")
    for name in ("best.keras", "model.keras"):
        with open(both / name, "r+b") as handle:
            handle.truncate(100)
    damaged_bytes = (both / "model.keras").read_bytes()
    with pytest.raises(WorkdirConflictError, match=r"best\.keras is not a readable \.keras file"):
        zoo.train("mlp_mnist", data, workdir=both, **common)
    assert (both / "model.keras").read_bytes() == damaged_bytes  # refused untouched
    assert_released(both)
    # ... refused before training on, not after the remaining epochs.
    cut = tmp_path / "cut"
    with pytest.raises(_Interrupt):
        zoo.train("mlp_mnist", data, workdir=cut, callbacks=[_InterruptAfterEpoch(1)], **common)
    with open(cut / "best.keras", "r+b") as handle:
        handle.truncate(300)
    with pytest.raises(WorkdirConflictError, match=r"best\.keras is not a readable"):
        zoo.train("mlp_mnist", data, workdir=cut, **common)
    assert list(pd.read_csv(cut / "history.csv").epoch) == [1]
    assert_released(cut)

    # The last committed weights truncated: named, not "check the permissions".
    truncated = tmp_path / "truncated"
    with pytest.raises(_Interrupt):
        zoo.train("mlp_mnist", data, workdir=truncated, callbacks=[_InterruptAfterEpoch(1)],
                  **common)
    weights = truncated / "state" / "epoch_0001.weights.h5"
    with open(weights, "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(WorkdirConflictError, match=r"cannot read .*epoch_0001\.weights\.h5, the "
                       r"run's last committed weights .*truncated or corrupt"):
        zoo.train("mlp_mnist", data, workdir=truncated, **common)
    assert_released(truncated)
    # ... or gone.
    weights.unlink()
    with pytest.raises(WorkdirConflictError, match=r"state\.json points to .*epoch_0001\.weights"
                       r"\.h5, which is missing; use a new workdir\."):
        zoo.train("mlp_mnist", data, workdir=truncated, **common)
    assert_released(truncated)


def test_a_changed_builder_is_refused_on_resume_with_the_layers_named(tmp_path):
    data = write_digits_npz(tmp_path / "digits.npz", count=40)
    _own_entry("mlp_own_changing", lambda: keras.layers.Identity(name="middle"))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("interrupted")  # after the workdir committed epoch 1

    with pytest.raises(RuntimeError, match="interrupted"):
        zoo.train("mlp_own_changing", str(data), epochs=2, workdir=tmp_path / "run", verbose=0,
                  callbacks=[Interrupt()])
    zoo.unregister_model("mlp_own_changing")
    # Version 2 of the entry's code: the same name and overrides, another network.
    _own_entry("mlp_own_changing", lambda: keras.layers.Dense(16, name="middle"))
    try:
        with pytest.raises(WorkdirConflictError,
                           match=r"holds a run of another network than mlp_own_changing builds "
                                 r"now: layers? .*hidden.*use a new workdir"):
            zoo.train("mlp_own_changing", str(data), epochs=2, workdir=tmp_path / "run",
                      verbose=0)
    finally:
        zoo.unregister_model("mlp_own_changing")


def test_a_misspelt_argument_of_train_is_suggested_among_its_own_arguments(tmp_path):
    # Was: "unknown override 'work_dir'. Known overrides: activation, ..." without 'workdir'.
    images, labels = digit_like_images(20)
    with pytest.raises(zoo.UnknownNameError, match=r"unknown argument 'work_dir' of zoo\.train\. "
                       r"Did you mean: 'workdir'\?.*own arguments \(.*workdir"):
        zoo.train("mlp_mnist", (images, labels), work_dir=tmp_path / "run")
    model = zoo.build("mlp_mnist", compile=False)  # a model given built: the same check
    with pytest.raises(zoo.UnknownNameError, match=r"'classnames' of zoo\.train\. Did you mean: "
                                                   r"'class_names'"):
        zoo.train(model, (images, labels), classnames=["a", "b"])
    assert not (tmp_path / "run").exists()
    # zoo.build's fine-tuning arguments: the way there, not "Did you mean: 'weight_decay'?".
    for name in ("weights", "freeze_backbone"):
        with pytest.raises(zoo.UnknownNameError, match=rf"'{name}' of zoo\.train\. {name} is an "
                           r"argument of zoo\.build: .*model = zoo\.build\('mlp_mnist', "
                           r"weights=PATH, freeze_backbone=True\); zoo\.train\(model, data"):
            zoo.train("mlp_mnist", (images, labels), **{name: True})
