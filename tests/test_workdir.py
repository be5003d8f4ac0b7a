"""Workdir crash safety, temporary-file cleanup, best-epoch ties, configuration comparison, and
`repeat_epochs` resuming the data stream (zoo/training/workdir.py, feeding.py, io.py)."""

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from helpers import ClaimingProcess

import zoo.training.workdir as workdir_module
from zoo.checks import writable_directory
from zoo.errors import InvalidValueError
from zoo.io import in_use_by, is_temporary_name, remove_temporaries, temporary_sibling
from zoo.training.feeding import repeat_epochs
from zoo.training.fingerprint import fingerprint
from zoo.training.workdir import Workdir, WorkdirConflictError, comparable_config

CONFIG = {"entry": "cnn_mnist", "overrides": {"epochs": 3}, "seed": 0, "data": "arrays:1:ab"}


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.utils.clear_session()


def _model() -> keras.Model:
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dropout(0.5, seed=1)]
    )
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _set_epoch_weights(model: keras.Model, epoch: int) -> None:
    """Weights that say which epoch they belong to: every value is the epoch number."""
    model.set_weights([np.full(w.shape, epoch, w.dtype) for w in model.get_weights()])


def _epoch_of(path) -> float:
    """The epoch number the weights of the model saved at `path` hold."""
    values = np.concatenate([w.ravel() for w in keras.saving.load_model(path).get_weights()])
    assert np.all(values == values[0])
    return float(values[0])


def _commit(run: Workdir, model: keras.Model, epoch: int, value: float,
            monitor: str = "val_accuracy", mode: str = "max") -> None:
    _set_epoch_weights(model, epoch)
    run.commit_epoch(model, {"epoch": epoch, monitor: value}, monitor, mode)


def _started_run(tmp_path, config=CONFIG) -> Workdir:
    run = Workdir(tmp_path / "run", config)
    run.begin()
    return run


# -- temporary files ------------------------------------------------------------------------


def test_only_zoos_own_temporary_names_are_recognised(tmp_path):
    made = [temporary_sibling(tmp_path / "best.keras", suffix=".keras"),
            temporary_sibling(tmp_path / "epoch_0002.weights.h5", suffix=".weights.h5"),
            temporary_sibling(tmp_path / "state.json")]
    assert all(is_temporary_name(path.name) for path in made)
    for name in (".gitignore", ".worker-1", "notes.tmp", ".notes.tmp", ".best.keras.1234.keras",
                 ".best.keras.abcdefgh.h5", "best.keras", ".state.json.ABCDEFGH.tmp"):
        assert not is_temporary_name(name), name


def test_a_failed_atomic_write_names_its_file_and_leaves_the_old_one(tmp_path, monkeypatch):
    import errno

    from zoo.io import atomic_write_text

    target = atomic_write_text(tmp_path / "predictions.csv", "old")

    def full(descriptor):  # what a file size limit or a full disk raises: no file name
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as raised:
        atomic_write_text(target, "new")
    assert raised.value.filename == str(target) and raised.value.errno == errno.EFBIG
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "predictions.csv"]


def test_a_save_failing_with_any_error_leaves_no_temporary_file_and_the_old_one(tmp_path):
    # Keras refuses a model with ValueError, a bug raises anything, Ctrl+C raises
    # KeyboardInterrupt: the half-written temporary file goes whatever it was, not for OSError only.
    from zoo.io import save_atomically

    target = tmp_path / "best.keras"
    target.write_text("old")

    def failing(temporary):
        temporary.write_text("half")
        raise ZeroDivisionError("not an OSError")

    with pytest.raises(ZeroDivisionError, match="not an OSError"):
        save_atomically(failing, target)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "best.keras"]


def test_remove_temporaries_keeps_everything_else(tmp_path):
    kept = ["state.json", ".gitignore", "notes.tmp", ".notes.tmp", ".best.keras.1234.keras"]
    for name in kept:
        (tmp_path / name).write_text("keep")
    (tmp_path / ".worker-1").mkdir()
    (tmp_path / ".worker-1" / ".state.json.q64giecn.tmp").write_text("{")  # not ours to clean
    (tmp_path / ".state.json.q64giecn.tmp").write_text("{")
    (tmp_path / ".best.keras.dyjtthmg.keras").write_bytes(b"PK")
    (tmp_path / ".preprocessor.k2j4m9x0.tmp").mkdir()  # a staging folder
    (tmp_path / ".preprocessor.k2j4m9x0.tmp" / "preprocessor.json").write_text("{}")

    removed = remove_temporaries(tmp_path)

    assert sorted(path.name for path in removed) == [
        ".best.keras.dyjtthmg.keras", ".preprocessor.k2j4m9x0.tmp", ".state.json.q64giecn.tmp"
    ]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*kept, ".worker-1"])
    assert (tmp_path / ".worker-1" / ".state.json.q64giecn.tmp").exists()
    assert remove_temporaries(tmp_path / "missing") == []


def test_resuming_removes_what_a_kill_left_behind(tmp_path):
    model = _model()
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)
    _commit(run, model, 2, 0.4)
    state_dir = run.path / "state"
    # As kill -9 leaves them: interrupted writes, an uncommitted epoch, an undeleted old one.
    leftovers = [run.path / ".best.keras.dyjtthmg.keras", run.path / ".state.json.q64giecn.tmp",
                 run.path / ".history.csv.a0b1c2d3.tmp",
                 state_dir / ".epoch_0003.weights.h5.teyof75z.weights.h5",
                 state_dir / "epoch_0003.weights.h5", state_dir / "best_epoch_0003.keras",
                 state_dir / "epoch_0001.weights.h5"]
    for path in leftovers:
        path.write_bytes(b"partial")
    user_file = run.path / "notes.txt"
    user_file.write_text("mine")

    resumed = Workdir(run.path, CONFIG)
    resumed.begin()

    assert not any(path.exists() for path in leftovers)
    assert sorted(os.listdir(state_dir)) == ["epoch_0002.weights.h5"]
    assert user_file.read_text() == "mine"
    assert _epoch_of(run.best_model_path) == 1
    assert resumed.restore(_model()) == 2


# -- crash during an epoch's commit -----------------------------------------------------------


class _Crash(BaseException):
    """The process dies here."""


# commit_epoch renames, in order: 1 the epoch's weights, 2 the new best model into state/,
# 3 state.json (the commit point), 4 the best model to best.keras, 5 history.csv.
@pytest.mark.parametrize("crash_at_rename", [1, 2, 3, 4, 5])
def test_after_a_crash_anywhere_in_a_commit_best_keras_holds_the_recorded_best_epoch(
    tmp_path, monkeypatch, crash_at_rename
):
    model = _model()
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)
    renames = []
    real_replace = os.replace

    def dying_replace(source, target):
        renames.append(target)
        if len(renames) == crash_at_rename:
            raise _Crash()
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", dying_replace)
    with pytest.raises(_Crash):
        _commit(run, model, 2, 0.9)  # a new best
    monkeypatch.undo()

    resumed = Workdir(run.path, CONFIG)
    resumed.begin()
    recorded_best = 2 if crash_at_rename > 3 else 1
    assert resumed.state.epoch == resumed.state.best_epoch == recorded_best
    assert _epoch_of(run.best_model_path) == recorded_best
    assert sorted(os.listdir(run.path / "state")) == [f"epoch_{recorded_best:04d}.weights.h5"]
    assert not [name for name in os.listdir(run.path) if name.startswith(".")]
    # The run goes on from there and ends consistent.
    _commit(resumed, model, 3, 0.95)
    assert resumed.state.best_epoch == 3 and _epoch_of(run.best_model_path) == 3


def test_a_crash_before_the_commit_point_keeps_the_previous_best_keras(tmp_path, monkeypatch):
    # The report's repro: state.json never recorded epoch 2, so best.keras must not hold it.
    model = _model()
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)

    def dying_write(path, data):
        raise _Crash()

    monkeypatch.setattr(workdir_module, "atomic_write_json", dying_write)
    with pytest.raises(_Crash):
        _commit(run, model, 2, 0.9)
    assert _epoch_of(run.best_model_path) == 1
    assert json.loads(run.state_path.read_text())["best_epoch"] == 1


# -- best epoch -----------------------------------------------------------------------------


@pytest.mark.parametrize("monitor, mode, scores, best", [
    # A tie goes to the later epoch: as good after more training.
    ("val_accuracy", "max", [1.0, 1.0, 0.9], (2, 1.0)),
    ("val_loss", "min", [0.3, 0.2, 0.2], (3, 0.2)),
    # A validation loss that overflowed, first: no later epoch compared below NaN, so best.keras
    # stayed on it (and state.json recorded NaN as the best value).
    ("val_loss", "min", [float("nan"), 0.5, 0.1], (3, 0.1)),
])
def test_the_best_epoch_is_the_best_finite_score_and_the_later_on_a_tie(tmp_path, monitor, mode,
                                                                         scores, best):
    model = _model()
    run = _started_run(tmp_path)
    for epoch, score in enumerate(scores, start=1):
        _commit(run, model, epoch, score, monitor, mode)
    assert (run.state.best_epoch, run.state.best_value) == best
    assert _epoch_of(run.best_model_path) == best[0]
    assert json.loads(run.state_path.read_text())["best_value"] == best[1]


def test_amending_an_epoch_adds_values_and_keeps_those_committed(tmp_path):
    model = _model()
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)
    run.amend_epoch(1, {"val_accuracy": 0.9, "val_own": 1.5})  # the caller's metric, logged late
    expected = {"epoch": 1, "val_accuracy": 0.5, "val_own": 1.5}
    assert run.state.history == [expected]
    assert json.loads(run.state_path.read_text())["history"] == [expected]
    assert pd.read_csv(run.history_path).to_dict("records") == [expected]


def test_a_crash_between_the_commit_and_history_csv_is_repaired_by_the_resume(tmp_path):
    # The last epoch's row missing from history.csv: no epoch is left to train, so the resume
    # itself must write it.
    model = _model()
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)
    _commit(run, model, 2, 0.6)
    run.history_path.write_text(run.history_path.read_text().splitlines()[0] + "\n1,0.5\n")
    resumed = Workdir(run.path, CONFIG)
    resumed.begin()
    assert resumed.restore(_model()) == 2
    assert list(pd.read_csv(run.history_path).epoch) == [1, 2]


def _seed_state(model: keras.Model) -> np.ndarray:
    """The dropout layer's random seed state, which `save_weights` does not save."""
    return keras.ops.convert_to_numpy(model.layers[-1].seed_generator.state)


def test_resume_restores_the_dropout_seed_state(tmp_path):
    model = _model()
    model(np.ones((4, 3), "float32"), training=True)  # dropout draws: its seed state moves on
    assert not np.array_equal(_seed_state(model), _seed_state(_model()))
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)

    fresh = _model()
    Workdir(run.path, CONFIG).restore(fresh)
    np.testing.assert_array_equal(_seed_state(fresh), _seed_state(model))

    # A workdir written before zoo kept the seed states, or one whose network now has another
    # number of random layers: the weights resume and the dropout starts its sequence again.
    state = json.loads(run.state_path.read_text())
    for saved in (None, [[7, 0], [8, 0]]):
        state["seed_states"] = saved
        run.state_path.write_text(json.dumps(state))
        again = _model()
        assert Workdir(run.path, CONFIG).restore(again) == 1
        np.testing.assert_array_equal(again.get_weights()[0], model.get_weights()[0])
        np.testing.assert_array_equal(_seed_state(again), _seed_state(_model()))


# -- configuration --------------------------------------------------------------------------


def test_recorded_overrides_are_plain_numbers_without_the_entrys_defaults():
    recorded = Workdir.recorded_overrides("cnn_mnist", {
        "dropout": np.float32(0.3), "epochs": np.int64(40), "filters": (32, 64),
        "learning_rate": np.float32(0.003), "batch_norm": np.bool_(True),
        "dense_units": np.array([16, 8]),
    })
    assert recorded == {"batch_norm": True, "dense_units": [16, 8], "dropout": 0.3}
    assert type(recorded["dropout"]) is float and type(recorded["dense_units"][0]) is int
    # An entry this process does not know: compared as given, still as plain values.
    assert Workdir.recorded_overrides("not_registered", {"epochs": np.int32(4)}) == {"epochs": 4}


def test_an_augment_equal_to_the_entrys_default_compares_as_not_given():
    augmenting = {**CONFIG, "augment": True}  # cnn_mnist augments its images by default
    assert comparable_config(augmenting) == comparable_config(CONFIG)
    assert "augment" not in comparable_config(augmenting)
    assert comparable_config({**CONFIG, "augment": False})["augment"] is False
    text = {**CONFIG, "entry": "lstm_sst2", "overrides": {}}
    assert comparable_config({**text, "augment": False}) == comparable_config(text)
    # An entry this process does not know: compared as given.
    unknown = {**CONFIG, "entry": "not_registered", "augment": True}
    assert comparable_config(unknown)["augment"] is True


def test_a_workdir_that_recorded_the_default_augment_resumes_without_it(tmp_path):
    _started_run(tmp_path, {**CONFIG, "augment": True})  # as zoo recorded augment=True before
    Workdir(tmp_path / "run", CONFIG)._check_config()
    # Compared, and named, as the default it was (None: the entry's own augmentation).
    with pytest.raises(WorkdirConflictError, match="augment: was None, now False"):
        Workdir(tmp_path / "run", {**CONFIG, "augment": False})._check_config()


def test_config_json_stores_numpy_numbers_as_numbers_and_reruns_match_them(tmp_path):
    config = {**CONFIG, "overrides": {"dropout": np.float32(0.3)}, "seed": np.int64(0)}
    _started_run(tmp_path, config)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["overrides"] == {"dropout": 0.3} and recorded["seed"] == 0

    Workdir(tmp_path / "run", {**CONFIG, "overrides": {"dropout": 0.3}})  # the same run
    with pytest.raises(WorkdirConflictError, match=r"was \{'dropout': 0.3\}, now \{'dropout': 0.4"):
        Workdir(tmp_path / "run", {**CONFIG, "overrides": {"dropout": 0.4}})


def test_an_override_equal_to_the_default_asks_for_the_same_run(tmp_path):
    _started_run(tmp_path, {**CONFIG, "overrides": {"epochs": 3}})
    for same in ({"epochs": 3, "dropout": 0.5}, {"epochs": 3, "filters": [32, 64]}):
        Workdir(tmp_path / "run", {**CONFIG, "overrides": same})
    # A workdir written before defaults were dropped, which recorded one, resumes without it.
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({**CONFIG, "overrides": {
        "epochs": 3, "dropout": 0.5, "learning_rate": 0.003}}))
    Workdir(old, {**CONFIG, "overrides": {"epochs": 3}})
    with pytest.raises(WorkdirConflictError, match="overrides: was"):
        Workdir(old, {**CONFIG, "overrides": {"epochs": 4}})


def test_only_more_epochs_point_to_a_run_started_from_the_weights(tmp_path):
    _started_run(tmp_path, CONFIG)
    with pytest.raises(WorkdirConflictError, match="start a new one from its weights") as error:
        Workdir(tmp_path / "run", {**CONFIG, "overrides": {"epochs": 6}})
    assert f"--weights {tmp_path / 'run'} --workdir NEW --epochs N (in" in str(error.value)
    # The recorded options are spelled out, as the command line and Python read them back.
    options = {"epochs": 3, "filters": [8, 16], "batch_norm": True, "padding": "same"}
    _started_run(tmp_path / "options", {**CONFIG, "seed": 2, "overrides": options})
    with pytest.raises(WorkdirConflictError) as error:
        Workdir(tmp_path / "options" / "run",
                {**CONFIG, "seed": 2, "overrides": {**options, "epochs": 5}})
    message = str(error.value)
    assert ("--epochs N --seed 2 --set batch_norm=True --set 'filters=(8, 16)' --set "
            "padding=same (in Python: zoo.train(zoo.build('cnn_mnist', weights=") in message
    assert ("batch_norm=True, filters=(8, 16), padding='same'), data, workdir=NEW, epochs=N, "
            "seed=2))") in message
    for other in ({**CONFIG, "overrides": {"epochs": 6, "dropout": 0.3}},
                  {**CONFIG, "overrides": {"epochs": 6}, "seed": 1},
                  {**CONFIG, "overrides": {"dropout": 0.3}}):
        with pytest.raises(WorkdirConflictError) as error:
            Workdir(tmp_path / "run", other)
        assert "weights" not in str(error.value)


def test_the_way_on_names_the_data_as_the_call_gave_it(tmp_path):
    config = {**CONFIG, "columns": {"text_column": "review"}, "class_names": ["neg", "pos"],
              "augment": False}
    _started_run(tmp_path, config)
    with pytest.raises(WorkdirConflictError) as error:
        Workdir(tmp_path / "run", {**config, "overrides": {"epochs": 6}},
                sources={"data": "reviews.csv", "validation_data": np.zeros(3)})
    message = str(error.value)
    assert ("from its weights, for the epochs to add: zoo train cnn_mnist --data reviews.csv "
            "--validation-data VALIDATION_DATA --text-column review --class-names neg,pos "
            "--weights ") in message
    assert ("'reviews.csv', validation_data, workdir=NEW, epochs=N, text_column='review', "
            "class_names=('neg', 'pos'), augment=False))") in message
    # The entry's own dataset: no --data, and no positional data in Python.
    with pytest.raises(WorkdirConflictError) as error:
        Workdir(tmp_path / "run", {**config, "overrides": {"epochs": 6}},
                sources={"data": None, "validation_data": None})
    assert "zoo train cnn_mnist --text-column review" in str(error.value)
    assert "weights=" in str(error.value) and "), workdir=NEW, epochs=N" in str(error.value)
    # A pathlib.Path names its file as a string does; it is no in-memory data to stand in for.
    with pytest.raises(WorkdirConflictError) as error:
        Workdir(tmp_path / "run", {**config, "overrides": {"epochs": 6}},
                sources={"data": Path("reviews.csv"), "validation_data": None})
    assert "zoo train cnn_mnist --data reviews.csv --text-column review" in str(error.value)
    assert "'reviews.csv', workdir=NEW, epochs=N" in str(error.value)


def test_one_layer_width_and_a_list_of_one_are_the_same_run(tmp_path):
    lstm = {**CONFIG, "entry": "lstm_sst2"}
    _started_run(tmp_path, {**lstm, "overrides": {"lstm_units": 64}})
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["overrides"] == {"lstm_units": 64}  # as given; compared as [64]
    for same in ({"lstm_units": [64]}, {"lstm_units": (64,)}, {"lstm_units": np.int64(64)}):
        Workdir(tmp_path / "run", {**lstm, "overrides": same})
    with pytest.raises(WorkdirConflictError, match=r"was \{'lstm_units': \[64\]\}, now"):
        Workdir(tmp_path / "run", {**lstm, "overrides": {"lstm_units": [64, 64]}})
    # The entry's own width given as a number is its default: the same run as no override.
    _started_run(tmp_path / "default", {**lstm, "overrides": {}})
    Workdir(tmp_path / "default" / "run", {**lstm, "overrides": {"lstm_units": 128}})
    # A number where the default is not a list of numbers stays a number.
    assert Workdir.recorded_overrides("lstm_sst2", {"dropout": 0.25}) == {"dropout": 0.25}


# -- the data stream on resume ----------------------------------------------------------------


def _augmented_pipeline() -> tf.data.Dataset:
    """Like zoo's training pipelines: reshuffled every pass, with a fresh seed per batch."""
    examples = tf.data.Dataset.range(12).cache()
    batches = examples.shuffle(12, seed=4, reshuffle_each_iteration=True).batch(4)
    seeds = tf.data.Dataset.random(seed=4, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((batches, seeds)).prefetch(2)


def _epochs(dataset: tf.data.Dataset, steps: int, count: int) -> list:
    taken = dataset.take(steps * count)
    batches = [(ids.numpy().tolist(), seed.numpy().tolist()) for ids, seed in taken]
    return [batches[steps * epoch : steps * (epoch + 1)] for epoch in range(count)]


def test_repeat_epochs_continues_the_stream_of_an_uninterrupted_run():
    repeated, steps = repeat_epochs(_augmented_pipeline())
    uninterrupted = _epochs(repeated, steps, 4)
    assert uninterrupted[2] != uninterrupted[0]
    # A new process (a fresh pipeline) resuming after epoch 2:
    resumed, resumed_steps = repeat_epochs(_augmented_pipeline(), initial_epoch=2)
    assert resumed_steps == steps == 3
    assert _epochs(resumed, steps, 2) == uninterrupted[2:]


def _fit_recording(unknown_length: bool, epochs: int, initial_epoch: int = 0) -> list:
    """The batches Keras' fit trains on in epochs `initial_epoch + 1` to `epochs` of a seeded
    pipeline reshuffled every pass, built as a new process builds it and fed through
    `repeat_epochs`, which returns it unrepeated: 4 steps per execution do not divide its 6
    batches, or (`unknown_length`) their number is unknown."""
    seen = []

    def record(batch):
        seen.append(batch.numpy().astype(int).ravel().tolist())
        return 0

    def tap(batch):
        done = tf.py_function(record, [batch], tf.int32)
        with tf.control_dependencies([done]):
            inputs = tf.cast(batch, tf.float32)[:, None]
        return inputs, inputs

    numbers = tf.data.Dataset.range(12).shuffle(12, seed=1, reshuffle_each_iteration=True)
    if unknown_length:
        numbers = numbers.filter(lambda number: True)
    pipeline = numbers.batch(2).map(tap)  # no parallelism: recorded in the order fit reads
    fed, steps = repeat_epochs(pipeline, steps_per_execution=4, initial_epoch=initial_epoch)
    assert fed is pipeline and steps is None
    seen.clear()  # the replayed passes are not training
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=4)
    model.fit(fed, epochs=epochs, initial_epoch=initial_epoch, verbose=0, shuffle=False)
    return seen


# Keras' fit makes one iterator per epoch of a dataset of unknown length (the epoch ends on
# running out of data, before its end-of-epoch iterator), two of one of known length: replaying
# two for both resumed the first kind on another epoch's order.
@pytest.mark.parametrize("unknown_length", [False, True])
# Keras' way of ending an epoch of unknown length, on every epoch: expected here.
@pytest.mark.filterwarnings("ignore:Your input ran out of data")
def test_repeat_epochs_resumes_data_fit_cannot_repeat_where_keras_fit_would_be(unknown_length):
    uninterrupted = _fit_recording(unknown_length, epochs=3)
    assert len(uninterrupted) == 18 and uninterrupted[12:] != uninterrupted[6:12]
    # A new process resuming after epoch 2: fit's first epoch there is the uninterrupted epoch 3.
    assert _fit_recording(unknown_length, epochs=3, initial_epoch=2) == uninterrupted[12:]


def test_a_list_of_texts_is_fingerprinted_as_its_array_without_padding_it(tmp_path):
    import tracemalloc

    texts = [f"a fine film number {i}" for i in range(1000)] + ["word " * 4000]
    labels = [i % 2 for i in range(len(texts))]
    tracemalloc.start()
    try:
        of_list = fingerprint((texts, labels))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # np.asarray(texts) padded every row to the longest text: 80 MB here.
    assert peak < 20e6, f"{peak / 1e6:.0f} MB"
    # The same fingerprint as before, and as the arrays: workdirs begun earlier still resume.
    assert of_list == fingerprint((np.array(texts), labels))
    assert of_list == fingerprint((np.array(texts, dtype=object), np.array(labels)))


def test_fingerprints_see_same_size_changes_anywhere_in_files_and_folders(tmp_path):
    # A change past the first 64 MiB of a file (np.savez writes `y` last), same size.
    big = tmp_path / "big.bin"
    data = bytearray(65 << 20)
    big.write_bytes(bytes(data))
    before = fingerprint(str(big))
    data[-1] = 1
    big.write_bytes(bytes(data))
    assert fingerprint(str(big)) != before
    # An image replaced by another of the same size and name.
    folder = tmp_path / "images" / "cat"
    folder.mkdir(parents=True)
    (folder / "a.bmp").write_bytes(b"\x00" * 100)
    before = fingerprint(str(tmp_path / "images"))
    (folder / "a.bmp").write_bytes(b"\x01" * 100)
    assert fingerprint(str(tmp_path / "images")) != before
    # unchanged data, the same fingerprint
    assert fingerprint(str(tmp_path / "images")) == fingerprint(str(tmp_path / "images"))
    # A file moved to another class folder, its bytes and the files' order unchanged: a
    # relabelled example, other data.
    (tmp_path / "images" / "dog").mkdir()
    (tmp_path / "images" / "dog" / "b.bmp").write_bytes(b"\x02" * 100)
    before = fingerprint(str(tmp_path / "images"))
    (folder / "a.bmp").rename(tmp_path / "images" / "dog" / "a.bmp")
    assert fingerprint(str(tmp_path / "images")) != before


def test_fingerprints_of_texts_are_the_same_in_every_process():
    # An object array's bytes are its strings' addresses: hashing them made a rerun with the
    # same (texts, labels) a "different configuration" in a new process.
    code = ("import pandas as pd; from zoo.training.fingerprint import fingerprint; "
            "frame = pd.DataFrame({'sentence': ['a fine film', 'so dull'], 'label': [1, 0]}); "
            "print(fingerprint((frame.sentence, frame.label)))")
    printed = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True).stdout.strip()
        for _ in range(2)
    }
    assert len(printed) == 1 and printed.pop().startswith("arrays:2:")
    # by value, and by where one text ends
    assert fingerprint((["ab", "c"], [0, 1])) != fingerprint((["a", "bc"], [0, 1]))
    texts = np.array(["ab", "c"], object)
    assert fingerprint((["ab", "c"], [0, 1])) == fingerprint((texts, [0, 1]))


def test_fingerprints_see_row_order_whole_images_and_linked_class_folders(tmp_path):
    # The seeded hold-out is drawn by position: reordered rows are other data.
    frame = pd.DataFrame({"sentence": ["a", "b", "c", "d"], "label": [0, 1, 0, 1]})
    assert fingerprint(frame) != fingerprint(frame.iloc[::-1])
    assert fingerprint(frame) == fingerprint(frame.copy())
    # A list of images is hashed whole, not by its shortened repr.
    images = np.zeros((4, 32, 32, 3), np.uint8)
    before = fingerprint((list(images), [0, 1, 0, 1]))
    images[:, 16, 16] = 9
    assert fingerprint((list(images), [0, 1, 0, 1])) != before
    # A class folder that is a link is read by the loader, so it is hashed too.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.png").write_bytes(b"\x00" * 10)
    (tmp_path / "pets").mkdir()
    (tmp_path / "pets" / "cat").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    before = fingerprint(tmp_path / "pets")
    (tmp_path / "elsewhere" / "b.png").write_bytes(b"\x00" * 10)
    assert fingerprint(tmp_path / "pets") != before
    # What the loader skips does not change the data: Finder's .DS_Store, macOS' __MACOSX.
    before = fingerprint(tmp_path / "pets")
    (tmp_path / "elsewhere" / ".DS_Store").write_bytes(b"finder")
    (tmp_path / "pets" / "__MACOSX").mkdir()
    (tmp_path / "pets" / "__MACOSX" / "._a.png").write_bytes(b"fork")
    assert fingerprint(tmp_path / "pets") == before


def test_checking_a_workdir_never_creates_it_so_concurrent_checks_cannot_collide(tmp_path):
    """The workers of a distributed run check the same workdir at once and then create it (as
    Workdir does): a check that made and removed the folder itself let one worker's mkdir meet
    another's folder (CI saw it), and one that looked twice (is it a folder? does it exist?) saw
    a file where another worker was making the folder."""
    target = tmp_path / "runs" / "cnn"
    workers, rounds = 4, 300
    barrier = threading.Barrier(workers)
    errors = []

    def work(index):
        try:
            for _ in range(rounds):
                barrier.wait()
                writable_directory("workdir", target)
                target.mkdir(parents=True, exist_ok=True)
                barrier.wait()
                if index == 0:
                    shutil.rmtree(tmp_path / "runs")
        except Exception as error:  # noqa: BLE001 - the test reports whatever was raised
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e for e in errors if not isinstance(e, threading.BrokenBarrierError)] == []
    assert errors == []
    assert os.listdir(tmp_path) == []  # no probe left behind


def _contents(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize("kind", ["class folders", "an export"])
def test_a_folder_of_other_files_is_refused_as_a_new_workdir_and_left_as_it_was(tmp_path, kind):
    """A run wrote model.keras, logs/, state/... among a folder's files: in a folder of class
    folders they became classes of the data (zoo.data.load listed 'logs' and 'state'), and in an
    export a later zoo.export(..., overwrite=True) deleted the run."""
    folder = tmp_path / "folder"
    names = (["digit0/a.png", "digit1/b.png", "notes.txt"] if kind == "class folders"
             else ["saved_model.pb", "variables/variables.index", "zoo_export.json",
                   "assets/x", "fingerprint.pb"])
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    before = _contents(folder)
    with pytest.raises(WorkdirConflictError) as refused:
        Workdir(folder, CONFIG)
    listed = ("digit0, digit1, notes.txt" if kind == "class folders"
              else "assets, fingerprint.pb, saved_model.pb, variables and 1 more")
    assert str(refused.value) == (
        f"workdir {folder} holds other files ({listed}) and no zoo run; a run would write its "
        f"files among them. Use a new or empty directory (workdir=, --workdir).")
    assert _contents(folder) == before


def test_a_new_workdir_may_hold_what_zoo_leaves_before_a_run_begins(tmp_path):
    # A kill between claiming the folder and recording the configuration leaves process.json
    # (a dead process's) and perhaps a temporary file of zoo's: the rerun starts there. So do a
    # multi-worker run's .worker-N folders, which the other workers claim while the chief's data
    # loads, and hidden files a user's tools leave. Once config.json is written, the run's own
    # files are its own.
    folder = tmp_path / "run"
    (folder / ".worker-1").mkdir(parents=True)
    (folder / ".DS_Store").write_text("x")
    (folder / "process.json").write_text(json.dumps({"pid": 2**22 + 1, "started": 0}))
    (folder / ".config.json.q64giecn.tmp").write_text("{")
    run = Workdir(folder, CONFIG)
    run.begin()
    run.release()
    (folder / "logs").mkdir()  # written by the run once it began
    assert Workdir(folder, CONFIG).state.history == []


def test_a_workdir_that_cannot_be_made_is_refused_with_the_reason(tmp_path, monkeypatch):
    (tmp_path / "file.txt").write_text("not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    cases = {
        "file.txt": "workdir .*file.txt is a file; expected a directory path",
        "file.txt/run": "cannot be created: .*file.txt is not a directory",
        "x" * 300 + "/run": "cannot be created: File name too long",
        "dangling": "is a symbolic link to a missing .*gone; create its target",
        "runs/a\0b": r"holds a NUL character \(\\0\), which no file name can",
    }
    for path, message in cases.items():
        with pytest.raises(InvalidValueError, match=message):
            writable_directory("workdir", tmp_path / path)
    # A name within what the OS accepts but over the file system's own limit.
    monkeypatch.setattr(os, "pathconf", lambda path, name: 8)
    with pytest.raises(InvalidValueError, match="cannot be created: File name too long"):
        writable_directory("workdir", tmp_path / "nine_char")
    monkeypatch.setattr(os, "pathconf", lambda path, name: -1)  # no limit at all
    assert writable_directory("workdir", tmp_path / "nine_char") == tmp_path / "nine_char"
    assert sorted(os.listdir(tmp_path)) == ["dangling", "file.txt"]


def test_a_process_claiming_the_workdir_while_the_data_loads_refuses_the_run_and_keeps_it(
        tmp_path):
    # Free when the run checked it (before its data loaded), taken by the time it begins.
    run = Workdir(tmp_path / "run", CONFIG)
    with ClaimingProcess(run.path) as other:
        with pytest.raises(WorkdirConflictError, match=rf"workdir .*run is in use: .*{other.pid}"):
            run.begin()
        assert in_use_by(run.path) == other.pid  # its claim stands: the refusal released nothing
    assert not run.config_path.exists()


def test_a_claim_that_fails_half_way_holds_nothing(tmp_path, monkeypatch):
    # A full disk (process.json unwritable) after the lock was taken kept the lock: every other
    # process was refused "in use" until this one exited.
    import zoo.io

    directory = tmp_path / "run"

    def full_disk(path, data):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(zoo.io, "atomic_write_json", full_disk)
    with pytest.raises(OSError, match="No space left"):
        zoo.io.claim(directory)
    monkeypatch.undo()
    assert zoo.io.in_use_by(directory) is None
    with ClaimingProcess(directory) as other:  # another process can take it
        assert zoo.io.in_use_by(directory) == other.pid and not zoo.io.claim(directory)
    # Deleted and made again while held: the new directory is locked, not the old one's lock kept.
    assert zoo.io.claim(directory)
    shutil.rmtree(directory)
    assert zoo.io.claim(directory)
    try:
        with pytest.raises(AssertionError):  # the other process's claim fails: it is held here
            with ClaimingProcess(directory):
                pass
    finally:
        zoo.io.release(directory)


# -- malformed config.json and state.json (found by an audit of error messages) ----------------


@pytest.mark.parametrize("name, content, message", [
    # Were AttributeError ('list' object has no attribute 'get') and UnicodeDecodeError.
    ("config.json", b"[]", r"config\.json \(it holds a JSON array, expected an object\)"),
    ("config.json", b'{"entry": "cnn_mnist", "overrides": [3]}',
     r"config\.json \(its 'overrides' is \[3\], expected an object of override values\)"),
    ("config.json", b"\xff\xfe{}", r"config\.json \(it is not UTF-8 text \(byte 0xff"),
    ("config.json", b'{"entry": ', r"config\.json \(it is not JSON \(Expecting value"),
    # No entry named: compared as it is (its overrides cannot be put in the entry's form).
    ("config.json", b'{"overrides": {"epochs": 3}, "seed": 0, "data": "arrays:1:ab"}',
     r"holds a run with a different configuration \(entry: was None, now 'cnn_mnist'\)"),
    # Were accepted: the resume deleted state/epoch_0002.weights.h5 and started at epoch 1.
    ("state.json", b'{"epoch": "x"}',
     r"state\.json \(its 'epoch' is 'x', expected an integer >= 0\).*touches none"),
    ("state.json", b'{"epoch": 2, "status": "running"}',
     r"state\.json \(it records 2 completed epoch\(s\) but no weights file\)"),
    ("state.json", b'{"epoch": 2, "weights": "state/epoch_0002.weights.h5", "history": [1]}',
     r"its 'history' is \[1\], expected a list of rows"),
    ("state.json", b"[2]", r"state\.json \(it holds a JSON array, expected an object\)"),
    # A negative epoch was accepted, a field zoo does not write failed with a TypeError.
    ("state.json", b'{"epoch": -1, "weights": "state/epoch_0002.weights.h5"}',
     r"state\.json \(its 'epoch' is -1, expected an integer >= 0\)"),
    ("state.json", b'{"epoch": 2, "weights": "state/epoch_0002.weights.h5", "epochs": 3}',
     r"state\.json \(it has fields zoo does not write: epochs\)"),
    ("state.json", b"\xe9", r"state\.json \(it is not UTF-8 text"),
])
def test_a_malformed_config_or_state_is_refused_before_anything_is_deleted(
    tmp_path, name, content, message
):
    model = _model()
    run = _started_run(tmp_path)
    _commit(run, model, 1, 0.5)
    _commit(run, model, 2, 0.6)
    (run.path / "state" / "best_epoch_0003.keras").write_bytes(b"uncommitted")  # resume deletes
    (run.path / name).write_bytes(content)
    files = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}

    with pytest.raises(WorkdirConflictError, match=message):
        Workdir(run.path, CONFIG).begin()

    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files


def test_a_renamed_copy_of_the_data_is_said_to_be_one(tmp_path):
    # The name is part of a file's fingerprint; a copy under another name (scratch space) is
    # refused as other data, and the message says that only the name differs.
    from helpers import write_digits_npz

    import zoo

    data = write_digits_npz(tmp_path / "digits.npz", count=64)
    zoo.train("mlp_mnist", data, epochs=1, batch_size=32, workdir=tmp_path / "run")
    copy = tmp_path / "scratch_copy.npz"
    shutil.copy(data, copy)
    with pytest.raises(WorkdirConflictError) as raised:
        zoo.train("mlp_mnist", copy, epochs=1, batch_size=32, workdir=tmp_path / "run")
    assert ("data holds the same contents as the run's under another name ('digits.npz', now "
            "'scratch_copy.npz'): the name is part of the run's data, so give the run's name to "
            "resume.") in str(raised.value)
    np.savez(copy, x=np.zeros((64, 28, 28), np.uint8), y=np.arange(64) % 10)  # other data
    with pytest.raises(WorkdirConflictError) as raised:
        zoo.train("mlp_mnist", copy, epochs=1, batch_size=32, workdir=tmp_path / "run")
    assert "same contents" not in str(raised.value)
