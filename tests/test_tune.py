"""Hyperparameter search: search-space defaults, a small search, resume, failures, refusals, the
command line and keras-tuner's distributed chief/worker mode."""

import json
import logging
import math
import os
import re
import shlex
import shutil
import socket
import sys
import warnings
from pathlib import Path

import keras
import keras_tuner
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import small_overrides
from helpers import (
    NEGATIVE,
    POSITIVE,
    ClaimingProcess,
    digit_like_images,
    run_together,
    write_digits_npz,
)

import zoo
from zoo.cli import main
from zoo.models import build_mlp
from zoo.tuning import SearchConflictError, TuningError

pytestmark = [
    # Keras' TensorFlow backend calls np.array(tensor) when saving; NumPy 2 warns. Not zoo's.
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
    # keras-tuner 1.4's oracle lock calls threading.currentThread(). Not zoo's either.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner"),
]

TESTS = Path(__file__).resolve().parent
SMALL = {"tuner": "random", "epochs": 1, "seed": 0, "verbose": 0}


@pytest.fixture(scope="module")
def digits():
    return digit_like_images(128, seed=0)


def assert_same_table(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal trials tables, one of them maybe read back from CSV (NaN for None, ints for floats)."""
    pd.testing.assert_frame_equal(left.astype(object).fillna("-"), right.astype(object).fillna("-"),
                                  check_dtype=False)


def _architecture(model: keras.Model) -> list:
    """Every layer's class and configuration: equal lists build equal models."""
    return [(type(layer).__name__, layer.get_config()) for layer in model.layers]


@pytest.mark.parametrize("name", zoo.list_models())
def test_a_single_width_is_one_layer_in_the_search_space_as_in_the_builders(name):
    # zoo.build("mlp_mnist", units=128) builds one layer of 128; zoo.tune with the same
    # override failed in the search space ("object of type 'int' has no len()").
    widths = {key: value[0] if value else 64  # an optional layer, none by default
              for key, value in zoo.get_spec(name).hyperparameters.items()
              if isinstance(value, tuple) and all(isinstance(v, int) for v in value)}
    assert widths  # every family has layer widths
    for key, width in widths.items():
        one, as_tuple = zoo.hypermodel(name, **{key: width}), zoo.hypermodel(
            name, **{key: (width,)})
        assert one.space().values == as_tuple.space().values, key


@pytest.mark.usefixtures("fresh_keras_session")
@pytest.mark.parametrize("name", zoo.list_models())
def test_search_space_defaults_rebuild_the_registered_model(name):
    spec = zoo.get_spec(name)
    hypermodel = zoo.hypermodel(name)
    hp = keras_tuner.HyperParameters()

    assert hypermodel.trial_spec(hp) == spec  # every hyperparameter and recipe field
    tuned, registered = hypermodel.build(hp), zoo.build(name)
    assert tuned.count_params() == registered.count_params()
    assert _architecture(tuned) == _architecture(registered)
    assert type(tuned.optimizer) is type(registered.optimizer)
    assert float(tuned.optimizer.learning_rate) == pytest.approx(spec.recipe.learning_rate)
    assert {"learning_rate", "optimizer", "batch_size", "dropout"} <= set(hp.values)
    assert all(hp.values[p.name] == p.default for p in hp.space if hp.is_active(p))


def test_overrides_are_the_search_space_defaults():
    hp = keras_tuner.HyperParameters()
    model = zoo.hypermodel("cnn_mnist", filters=(8, 16), learning_rate=3e-3).build(hp)
    assert (hp.values["filters_0"], hp.values["filters_1"]) == (8, 16)
    assert hp.values["learning_rate"] == 3e-3
    assert model.get_layer("block1_conv0").filters == 16


def test_a_trials_sampled_recipe_compiles_its_model():
    # The optimizer and learning rate a trial draws are what its model trains with: compiled
    # from the entry's own recipe, every trial would train alike whatever the search sampled.
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,))
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    assert hp.values["optimizer"] == "adam" and hp.values["learning_rate"] != 5e-3
    hp.values.update(optimizer="sgd", learning_rate=5e-3)  # as the oracle samples them
    model = hypermodel.build(hp)
    assert type(model.optimizer) is keras.optimizers.SGD
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-3)


def test_a_trials_schedule_counts_a_last_partial_batch_as_a_step():
    # 100 examples in batches of 32 are 4 steps an epoch (the last of 4 examples), as zoo.train
    # counts them: with 3, the cosine decay would reach 0 a quarter of the trial early.
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,), train_examples=100)
    epochs = hypermodel.spec.recipe.epochs
    for batch_size, steps_per_epoch in ((32, 4), (64, 2)):  # the trial's batch size, if sampled
        hp = keras_tuner.HyperParameters()
        hypermodel.build(hp)
        hp.values["batch_size"] = batch_size
        schedule = hypermodel.build(hp).optimizer.get_config()["learning_rate"]
        assert schedule["class_name"] == "CosineDecay"
        assert schedule["config"]["decay_steps"] == epochs * steps_per_epoch, batch_size


def _scaled(images: np.ndarray) -> np.ndarray:
    """uint8 digits as a model takes them without zoo's pipeline: float32 in [0, 1], one
    channel (what a dataset of another maker than zoo.data.load holds)."""
    return (images.astype("float32") / 255)[..., None]


class _CountBatches(keras.callbacks.Callback):
    """Counts the training batches it sees."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def test_fit_uses_the_trials_batch_size_and_passes_keywords_through(digits):
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,))
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    hp.values["batch_size"] = 32
    train = zoo.data.load(digits, spec=hypermodel.spec)  # batches of the recipe's 128

    counted = _CountBatches()
    history = hypermodel.fit(hp, hypermodel.build(hp), train, epochs=2, verbose=0,
                             callbacks=[counted])
    assert len(history.history["loss"]) == 2  # epochs passed through
    assert counted.batches == 2 * math.ceil(train.num_examples / 32)

    # A dataset of another maker, batched or not: the caller's batch_size wins, and the epoch
    # ends where the data does (no Keras "ran out of data" warning, whose .repeat() is wrong).
    x, y = digits
    scaled = _scaled(x)
    for dataset in (tf.data.Dataset.from_tensor_slices((scaled, y)),
                    tf.data.Dataset.from_tensor_slices((scaled, y)).batch(32)):
        counted = _CountBatches()
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            hypermodel.fit(hp, hypermodel.build(hp), dataset, epochs=2, batch_size=10,
                           verbose=0, callbacks=[counted])
        assert counted.batches == 2 * math.ceil(len(x) / 10)

    # The caller's steps_per_epoch is the epoch, not a pass over the data.
    counted = _CountBatches()
    hypermodel.fit(hp, hypermodel.build(hp), train, epochs=2, steps_per_epoch=1, verbose=0,
                   callbacks=[counted])
    assert counted.batches == 2

    # A loader (batch_size -> data) that gives arrays: Keras batches them at the size the loader
    # was called with. Was: at the trial's 32 whatever the caller's batch_size.
    asked = []

    def loader(batch_size):
        asked.append(batch_size)
        return scaled

    for batch_size, trained_on in ((10, 10), (None, 32)):
        asked.clear()
        counted = _CountBatches()
        hypermodel.fit(hp, hypermodel.build(hp), loader, y, epochs=1, batch_size=batch_size,
                       verbose=0, callbacks=[counted])
        assert asked == [trained_on] and counted.batches == math.ceil(len(x) / trained_on)


# Keras' own notes on such datasets: a dict for a one-input model; a length found at the end.
@pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match")
@pytest.mark.filterwarnings("ignore:Your input ran out of data")
@pytest.mark.parametrize("batching", ["a dict of inputs", "batches of varying shape",
                                      "batches of unknown number"])
def test_fit_rebatches_a_dataset_to_the_callers_batch_size_only_where_it_can(digits, batching):
    # Batches that cannot be cut and joined again (a dict of inputs, shapes that differ) train as
    # their maker made them, 16 examples each; fixed-shape batches of unknown number are cut to
    # the caller's 10 all the same.
    x, y = digits
    scaled = _scaled(x)
    if batching == "a dict of inputs":
        dataset = tf.data.Dataset.from_tensor_slices(({"image": scaled}, y)).batch(16)
    else:
        shape = (None, None, 28, 1) if batching == "batches of varying shape" else (None, 28, 28, 1)
        dataset = tf.data.Dataset.from_generator(
            lambda: ((scaled[i:i + 16], y[i:i + 16]) for i in range(0, len(y), 16)),
            output_signature=(tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,), tf.uint8)),
        )
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,))
    hp = keras_tuner.HyperParameters()
    counted = _CountBatches()
    hypermodel.fit(hp, hypermodel.build(hp), dataset, epochs=1, batch_size=10, verbose=0,
                   callbacks=[counted])
    size = 10 if batching == "batches of unknown number" else 16
    assert counted.batches == math.ceil(len(x) / size)


def test_fit_applies_the_recipes_early_stopping(digits):
    # A learning rate too small to change any prediction: val_accuracy (the recipe's monitor)
    # never improves, so a patience of 1 ends the trial after its second epoch of 5.
    x, y = digits
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,), learning_rate=1e-9,
                                early_stopping_patience=1)
    hp = keras_tuner.HyperParameters()
    history = hypermodel.fit(hp, hypermodel.build(hp), x, y, validation_data=(x[:32], y[:32]),
                             epochs=5, verbose=0)
    assert len(history.history["val_accuracy"]) == 2


def test_a_trial_whose_validation_loss_is_not_finite_fails(digits):
    # Validation examples of infinite weight: the validation loss is NaN while the training loss
    # stays finite, so the NaN guard (training batches) never fires and the trial would be
    # scored all the same.
    x, y = digits
    scaled = _scaled(x)
    train = tf.data.Dataset.from_tensor_slices((scaled, y)).batch(32)
    broken = tf.data.Dataset.from_tensor_slices((scaled[:32], y[:32], np.full(32, np.inf)))
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,))
    hp = keras_tuner.HyperParameters()
    with pytest.raises(keras_tuner.errors.FailedTrialError,
                       match=r"^mlp_mnist: the loss became NaN or infinite \(val_loss at the "
                             r"last epoch\) with learning_rate=0\.002, optimizer='adam', "
                             r"batch_size=64;"):
        hypermodel.fit(hp, hypermodel.build(hp), train, validation_data=broken.batch(32),
                       epochs=1, verbose=0)


def test_raw_arrays_given_to_fit_go_through_the_entry_pipeline(digits):
    # What a keras-tuner user passes to tuner.search(x, y, validation_data=...): uint8 pixels.
    x, y = digits
    hypermodel = zoo.hypermodel("mlp_mnist", units=(8,))
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    raw = hypermodel.fit(hp, hypermodel.build(hp), x[:100], y[:100],
                         validation_data=(x[100:], y[100:]), epochs=2, verbose=0)
    spec = hypermodel.trial_spec(hp)
    train = zoo.data.load((x[:100], y[:100]), "all", spec=spec, seed=0)
    valid = zoo.data.load((x[100:], y[100:]), "all", spec=spec, shuffle=False, augment=False)
    made = hypermodel.fit(hp, hypermodel.build(hp), train, validation_data=valid, epochs=2,
                          verbose=0)
    for key, values in made.history.items():  # normalized as zoo.train normalizes them
        np.testing.assert_allclose(raw.history[key], values, rtol=1e-5, err_msg=key)
    # Keras' validation_split becomes zoo's seeded hold-out of that share: trained on the other
    # 96 of 128 (3 batches of 32), scored on those 32 alone, not on all of x (what it trained on).
    model, counted = hypermodel.build(hp), _CountBatches()
    held_out = hypermodel.fit(hp, model, x, y, validation_split=0.25, epochs=1, verbose=0,
                              callbacks=[counted])
    assert counted.batches == math.ceil(96 / spec.recipe.batch_size)
    hold_out = zoo.data.load((x, y), "validation", spec=spec, seed=0, validation_fraction=0.25)
    assert hold_out.num_examples == 32
    scored = model.evaluate(hold_out, verbose=0, return_dict=True)
    for key in ("loss", "accuracy"):
        assert held_out.history[f"val_{key}"][-1] == pytest.approx(scored[key], rel=1e-5), key
    with pytest.raises(zoo.InvalidValueError, match="validation_data= or validation_split="):
        hypermodel.fit(hp, hypermodel.build(hp), x, y, validation_data=(x, y),
                       validation_split=0.25)
    with pytest.raises(zoo.InvalidValueError, match="sample_weight= is not supported"):
        hypermodel.fit(hp, hypermodel.build(hp), x, y, sample_weight=np.ones(len(y)))

    counted = _CountBatches()
    hypermodel.fit(hp, hypermodel.build(hp), x, y, batch_size=32, epochs=1, verbose=0,
                   callbacks=[counted])  # the caller's batch size, as Keras takes it
    assert counted.batches == math.ceil(len(x) / 32)


def test_a_plain_keras_tuner_searches_raw_sentences(tmp_path):
    sentences = np.array([*POSITIVE, *NEGATIVE] * 4, dtype=object)
    labels = np.array(([1] * len(POSITIVE) + [0] * len(NEGATIVE)) * 4)
    hypermodel = zoo.hypermodel("lstm_sst2", **small_overrides(zoo.get_spec("lstm_sst2")))
    tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy", max_trials=1,
                                     directory=str(tmp_path), project_name="plain", seed=1)
    tuner.search(sentences, labels, validation_data=(sentences[:8], labels[:8]), epochs=1,
                 verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    assert trial.status == "COMPLETED" and trial.score is not None
    # The best model scores raw sentences with the vocabulary its trial fitted, fitted again.
    best = tuner.get_best_models(1)[0]
    preprocessor = hypermodel.trial_preprocessor(trial.hyperparameters, sentences, labels)
    report = zoo.evaluate(best, (sentences[:8], labels[:8]), preprocessor=preprocessor)
    assert report.accuracy == pytest.approx(trial.score)
    with pytest.raises(zoo.DataError, match="needs the vocabulary it was trained with"):
        zoo.evaluate(best, (sentences[:8], labels[:8]))


@pytest.fixture(scope="module")
def search(tmp_path_factory, digits):
    """A two-trial random search of a small mlp_mnist, run once for the tests that read it."""
    directory = tmp_path_factory.mktemp("search") / "mlp"
    result = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, **SMALL)
    return result, directory


def test_two_trial_random_search(search, digits):
    result, directory = search
    trials = result.trials
    assert isinstance(result, zoo.TuneResult) and result.directory == directory
    assert list(trials.trial_id) == ["0", "1"] and set(trials.status) == {"COMPLETED"}
    hyperparameters = ["num_layers", "units_0", "units_1", "units_2", "dropout", "learning_rate",
                       "optimizer", "batch_size"]
    assert list(trials.columns) == ["trial_id", "status", *hyperparameters, "score", "best_epoch",
                                    "duration_s", "worker", "error"]
    assert (trials.duration_s > 0).all() and (trials.worker == "tuner0").all()

    # trials.csv is the same table, on disk.
    on_disk = pd.read_csv(directory / "trials.csv", dtype={"trial_id": str})
    assert_same_table(on_disk, trials)

    best = trials.loc[trials.score.idxmax()]
    assert result.best_hyperparameters == {k: best[k] for k in hyperparameters if pd.notna(best[k])}
    assert result.best_overrides["learning_rate"] == best.learning_rate
    assert result.best_overrides["units"] == tuple(
        int(best[f"units_{i}"]) for i in range(int(best.num_layers))
    )

    # best_model() has the best epoch's weights: it scores the best score on the same hold-out.
    model = result.best_model()
    validation = zoo.data.load(digits, "validation", spec=result.spec, seed=0)
    assert model.name == "mlp_mnist"
    assert model.evaluate(validation, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        best.score
    )

    record = json.loads((directory / "search.json").read_text())
    assert record["entry"] == "mlp_mnist" and record["tuner"] == "random"
    assert set(record["search_space"]) == set(hyperparameters)


def test_the_trials_table_lists_trials_by_number_not_by_the_text_of_their_ids():
    # keras-tuner pads its ids to the digits of max_trials ("09" once there are ten or more):
    # read as text, "09", "10" and "11" would come before "1".
    from zoo.tuning.trials import trials_frame

    hp = keras_tuner.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-2, default=1e-3)
    ids = [str(i) if i < 9 else f"{i:02d}" for i in range(12)]
    trials = [keras_tuner.engine.trial.Trial(hp, trial_id=trial_id, status="COMPLETED")
              for trial_id in reversed(ids)]  # in whatever order the oracle holds them
    assert trials_frame(trials, {}).trial_id.tolist() == ids


class CountTrainings(keras.callbacks.Callback):
    runs = 0  # a class attribute: keras-tuner deep-copies callbacks for every trial

    def on_train_begin(self, logs=None):
        CountTrainings.runs += 1


def test_a_search_directory_given_for_a_run_names_the_way_to_its_best_model(search):
    # `zoo evaluate SEARCH_DIR` and weights=SEARCH_DIR said only "not a workdir".
    hint = ("It is a hyperparameter search: rerun its `zoo tune` command with --export DIR to "
            "export the best trial's model")
    _, directory = search
    for call in (lambda: zoo.evaluate(directory, digit_like_images(4)),
                 lambda: zoo.build("mlp_mnist", weights=directory)):
        with pytest.raises(zoo.DataError, match=re.escape(hint)):
            call()


def test_rerun_continues_and_a_larger_budget_runs_only_new_trials(search, digits, tmp_path,
                                                                  capsys, caplog):
    _, original = search
    directory = shutil.copytree(original, tmp_path / "mlp")
    before = pd.read_csv(directory / "trials.csv", dtype={"trial_id": str})

    CountTrainings.runs = 0
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="zoo.tuning"):
        again = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory,
                         callbacks=[CountTrainings()], **SMALL)
        zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, **SMALL)
    assert CountTrainings.runs == 0
    # Nothing ran: said, not returned as if searched again.
    assert "is complete (2 trials, max_trials=2): none runs" in caplog.text
    assert "already holds 2 trials, more than max_trials=1: none runs" in caplog.text
    # verbose=0: silent, keras-tuner's "Reloading Tuner from ..." included
    assert capsys.readouterr().out == ""
    assert_same_table(again.trials, before)
    assert again.best_hyperparameters  # read back from the saved trials

    extended = zoo.tune("mlp_mnist", digits, max_trials=3, directory=directory,
                        callbacks=[CountTrainings()], **SMALL)
    assert CountTrainings.runs == 1
    assert list(extended.trials.trial_id) == ["0", "1", "2"]
    assert_same_table(extended.trials.iloc[:2], before)
    assert extended.trials.status.iloc[2] == "COMPLETED"
    new_values = extended.trials.iloc[2][["num_layers", "units_0", "learning_rate"]].tolist()
    assert new_values not in before[["num_layers", "units_0", "learning_rate"]].values.tolist()


def test_a_directory_another_live_process_searches_in_is_refused_untouched(digits, tmp_path):
    directory = tmp_path / "search"
    zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, units=(8,), **SMALL)
    assert not (directory / "process.json").exists()  # the search is over
    before = (directory / "trials.csv").read_text()
    with ClaimingProcess(directory) as other:  # as a second `zoo tune` finds a running one
        for overwrite in (False, True):
            with pytest.raises(SearchConflictError, match=rf"is in use: process {other.pid} is "
                               r"searching there\. Wait for it to finish"):
                zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,),
                         overwrite=overwrite, **SMALL)
        assert (directory / "trials.csv").read_text() == before
    result = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,), **SMALL)
    assert list(result.trials.trial_id) == ["0", "1"]


def test_a_search_claimed_while_its_data_loaded_is_refused(digits, tmp_path, monkeypatch):
    # Two `zoo tune` started together both passed the in-use check (made before the data
    # loads) and trained the same trials into the same files.
    import zoo.tuning.search as search_module

    directory = tmp_path / "search"
    real = search_module.TrainingData
    holders = []

    def loading_while_another_starts(*args, **kwargs):
        data = real(*args, **kwargs)
        holders.append(ClaimingProcess(directory))
        holders[-1].__enter__()
        return data

    monkeypatch.setattr(search_module, "TrainingData", loading_while_another_starts)
    try:
        with pytest.raises(SearchConflictError, match="is in use: process"):
            zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, units=(8,), **SMALL)
    finally:
        for holder in holders:
            holder.__exit__(None, None, None)
    assert not (directory / "trials.csv").exists()


class _Kill(BaseException):
    """Stands for kill -9: nothing after it runs."""


def test_a_trial_stopped_as_it_began_runs_again_instead_of_staying_running(
    digits, tmp_path, monkeypatch, caplog
):
    # Killed between keras-tuner saving trial_1/trial.json and oracle.json: reloaded, the trial
    # stayed RUNNING in trials.csv for good and counted toward max_trials.
    directory = tmp_path / "search"
    saved_new_trial = []
    real_save_trial, real_save = keras_tuner.Oracle._save_trial, keras_tuner.Oracle.save

    def save_trial(oracle, trial):
        real_save_trial(oracle, trial)
        saved_new_trial.append(trial.trial_id == "1" and trial.status == "RUNNING")

    def save(oracle):
        if saved_new_trial and saved_new_trial[-1]:
            raise _Kill
        real_save(oracle)

    with monkeypatch.context() as patch:
        patch.setattr(keras_tuner.Oracle, "_save_trial", save_trial)
        patch.setattr(keras_tuner.Oracle, "save", save)
        with pytest.raises(_Kill):
            zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,),
                     **SMALL)
    assert json.loads((directory / "keras_tuner" / "trial_1" / "trial.json").read_text())[
        "status"] == "RUNNING"
    with caplog.at_level(logging.WARNING, logger="zoo.tuning"):
        result = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,),
                          **SMALL)
    assert "trial 1 was stopped as it began" in caplog.text
    assert list(result.trials.trial_id) == ["0", "1"]
    assert list(result.trials.status) == ["COMPLETED", "COMPLETED"]


class _KillInSecondTrial(keras.callbacks.Callback):
    trainings = 0  # a class attribute: keras-tuner deep-copies callbacks for every trial

    def on_train_begin(self, logs=None):
        _KillInSecondTrial.trainings += 1

    def on_train_batch_end(self, batch, logs=None):
        if _KillInSecondTrial.trainings == 2:
            raise _Kill


def test_a_rerun_after_a_trial_cut_short_says_it_runs_again_not_that_none_runs(
    digits, tmp_path, caplog
):
    # Killed mid-training, the trial stays RUNNING and keras-tuner runs it again on the rerun:
    # the rerun said "the search ... is complete (2 trials, max_trials=2): none runs", then ran it.
    directory = tmp_path / "search"
    _KillInSecondTrial.trainings = 0
    with pytest.raises(_Kill):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,),
                 callbacks=[_KillInSecondTrial()], **SMALL)
    with caplog.at_level(logging.INFO, logger="zoo.tuning"):
        result = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,),
                          **SMALL)
    assert (f"the search in {directory} resumes: trial 1 was cut short and runs again from its "
            f"start (2 trials held, max_trials=2).") in caplog.text
    assert "none runs" not in caplog.text
    assert list(result.trials.status) == ["COMPLETED", "COMPLETED"]


def test_damaged_or_unrecorded_searches_are_refused_with_the_way_out(digits, tmp_path):
    directory = tmp_path / "search"
    zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, units=(8,), **SMALL)
    oracle = directory / "keras_tuner" / "oracle.json"
    saved = oracle.read_text()
    oracle.write_text("")  # keras-tuner writes in place: a kill mid-write leaves it empty
    with pytest.raises(SearchConflictError, match=r"cannot reload the search in .*keras-tuner's "
                       r"files in keras_tuner/ are damaged .*JSONDecodeError.*\(--overwrite\)"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,), **SMALL)
    oracle.write_text(saved)
    # A trial oracle.json names without its trial.json: keras-tuner's KeyError once the next
    # trial ended, after it trained.
    trial = directory / "keras_tuner" / "trial_0" / "trial.json"
    trial_text = trial.read_text()
    trial.unlink()
    with pytest.raises(SearchConflictError, match=r"oracle\.json\) names trial 0, whose file is "
                       r"missing \(keras_tuner/trial_0/trial\.json\)\. Restore it; .*overwrite"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,), **SMALL)
    trial.write_text(trial_text)
    (directory / "search.json").write_text("[]")  # JSON, but not the record's object
    with pytest.raises(SearchConflictError, match=r"cannot read .*search\.json \(it holds a JSON "
                       r"array, expected an object\); pass overwrite=True"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,), **SMALL)
    (directory / "search.json").unlink()  # as an --overwrite cut short before left it
    with pytest.raises(SearchConflictError, match=r"holds keras-tuner's trials \(keras_tuner/\) "
                       r"but not the record of what the search asked for \(search.json\)"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, units=(8,), **SMALL)
    result = zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, units=(8,),
                      overwrite=True, **SMALL)
    assert list(result.trials.trial_id) == ["0"] and (directory / "search.json").exists()
    # The best trial's checkpoint truncated: named, with the way on (was h5py's message and
    # "check the permissions and free space").
    checkpoint = next((directory / "keras_tuner").rglob("*.weights.h5"))
    with open(checkpoint, "r+b") as handle:
        handle.truncate(1000)
    with pytest.raises(TuningError, match=r"cannot read the best trial's checkpoint in .*trial_0 "
                       r".*truncated or corrupt\. Retrain its values instead"):
        result.best_model()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_training_workdir_is_not_a_search_directory(digits, tmp_path, overwrite):
    # A training workdir: a search there reused its vocabulary (preprocessor/, fitted on the
    # run's data) as its own and mixed its files with the run's; overwrite would delete them.
    workdir = tmp_path / "run"
    (workdir / "preprocessor").mkdir(parents=True)
    (workdir / "preprocessor" / "vocabulary.txt").write_text("words")
    (workdir / "config.json").write_text("{}")
    with pytest.raises(SearchConflictError, match=r"run holds a training run \(zoo\.train, zoo "
                       r"train\), not a search; .* Use another directory"):
        zoo.tune("mlp_mnist", digits, max_trials=1, directory=workdir, overwrite=overwrite,
                 **SMALL)
    assert sorted(p.name for p in workdir.iterdir()) == ["config.json", "preprocessor"]
    assert (workdir / "preprocessor" / "vocabulary.txt").read_text() == "words"


def test_overwrite_replaces_only_an_earlier_search(digits, tmp_path):
    directory = tmp_path / "notes"
    (directory / "preprocessor").mkdir(parents=True)
    (directory / "preprocessor" / "vocabulary.txt").write_text("words")
    with pytest.raises(SearchConflictError, match=r"holds files but no search \(no search\.json "
                       r"or keras_tuner/\); overwrite=True \(--overwrite\) replaces only an "
                       r"earlier search"):
        zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, overwrite=True, **SMALL)
    assert (directory / "preprocessor" / "vocabulary.txt").read_text() == "words"
    # A new directory holds nothing else (once claimed, only this search's process.json): the
    # search starts there.
    result = zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "new",
                      overwrite=True, units=(8,), **SMALL)
    assert list(result.trials.status) == ["COMPLETED"]


def test_a_folder_of_other_files_is_refused_as_a_new_search_and_left_as_it_was(digits,
                                                                              tmp_path):
    # Without overwrite, a search among a folder's files wrote keras_tuner/, preprocessor/ and
    # trials.csv there (in a folder of class folders: three more classes).
    directory = tmp_path / "images"
    (directory / "cat").mkdir(parents=True)
    (directory / "cat" / "a.png").write_text("x")
    with pytest.raises(SearchConflictError) as refused:
        zoo.tune("mlp_mnist", digits, max_trials=1, directory=directory, **SMALL)
    assert str(refused.value) == (
        f"{directory} holds other files (cat) and no search; a search would write its files "
        f"among them. Use a new or empty directory (directory=, --directory).")
    assert sorted(p.name for p in directory.iterdir()) == ["cat"]


def test_starting_afresh_is_checked_by_the_chief_alone(tmp_path):
    # A worker may start while the chief empties the directory to start afresh (keras_tuner/
    # gone, preprocessor/ still there): files but no search, which is the chief's to refuse.
    from zoo.tuning.search import _check_directory

    directory = tmp_path / "search"
    (directory / "preprocessor").mkdir(parents=True)
    with pytest.raises(SearchConflictError, match="holds files but no search"):
        _check_directory(directory, {}, overwrite=True, role="chief")
    _check_directory(directory, {}, overwrite=True, role="worker")


class _FailingSave:
    """A preprocessor whose save fails: after another worker saved there first, or alone."""

    def __init__(self, other_worker_first):
        self.other_worker_first = other_worker_first

    def save(self, path):
        if self.other_worker_first:
            path.mkdir()
            (path / "vocabulary.txt").write_text("theirs")
            raise FileExistsError(f"[Errno 17] File exists: '{path}'")
        raise OSError("[Errno 28] No space left on device")


def test_a_vocabulary_another_worker_saved_first_is_kept_and_other_save_errors_raised(tmp_path):
    from zoo.tuning.search import _save_once

    _save_once(_FailingSave(other_worker_first=True), tmp_path / "raced")
    assert (tmp_path / "raced" / "vocabulary.txt").read_text() == "theirs"
    with pytest.raises(OSError, match="No space left on device"):
        _save_once(_FailingSave(other_worker_first=False), tmp_path / "alone")


def test_a_worker_reads_the_trials_saved_so_far_and_skips_one_being_rewritten(tmp_path):
    from zoo.tuning.search import _trials_on_disk

    hp = keras_tuner.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-2, default=1e-3)
    project = tmp_path / "keras_tuner"
    for trial_id in ("0", "1"):
        (project / f"trial_{trial_id}").mkdir(parents=True)
    keras_tuner.engine.trial.Trial(hp, trial_id="0", status="COMPLETED").save(
        str(project / "trial_0" / "trial.json"))
    (project / "trial_1" / "trial.json").write_text('{"trial_id": "1", "hyperpa')  # mid-write
    trials, clock = _trials_on_disk(project)  # before the chief wrote oracle.json
    assert [trial.trial_id for trial in trials] == ["0"] and clock == {}
    (project / "oracle.json").write_text('{"zoo_clock": {"0": {"worker": "tuner0"')
    assert _trials_on_disk(project)[1] == {}
    (project / "oracle.json").write_text('{"zoo_clock": {"0": {"worker": "tuner0"}}}')
    assert _trials_on_disk(project)[1] == {"0": {"worker": "tuner0"}}


def test_overwrite_on_new_text_replaces_the_searchs_vocabulary(tmp_path):
    # overwrite kept the earlier search's preprocessor/ (fitted on the old sentences): the new
    # trials read with the vocabulary of the new data, and a rerun resuming them with the old.
    directory = tmp_path / "search"
    common = {**SMALL, "max_trials": 1, "directory": directory, "vocab_size": 50,
              "sequence_length": 8, "embedding_dim": 4, "lstm_units": (4,)}
    old = (["alpha beta film", "beta alpha film", "alpha alpha", "beta beta"] * 8, [1, 0, 1, 0] * 8)
    new = (["gamma delta show", "delta gamma show", "gamma gamma", "delta delta"] * 8,
           [1, 0, 1, 0] * 8)
    first = zoo.tune("lstm_sst2", old, **common)
    fresh = zoo.tune("lstm_sst2", new, overwrite=True, **common)
    sentence = ["gamma delta"]
    assert fresh.preprocessor(sentence).numpy().tolist() != first.preprocessor(
        sentence).numpy().tolist()  # words only the new data has
    resumed = zoo.tune("lstm_sst2", new, **common)  # complete: reads what the directory holds
    np.testing.assert_array_equal(resumed.preprocessor(sentence), fresh.preprocessor(sentence))
    # The best model carries that vocabulary: it scores raw sentences without being given it
    # (zoo.evaluate asked for preprocessor=, naming a zoo.train result only).
    best = resumed.best_model()
    assert zoo.evaluate(best, new).accuracy == pytest.approx(
        zoo.evaluate(best, new, preprocessor=resumed.preprocessor).accuracy)


def test_other_entry_or_settings_in_the_directory_are_refused(search, digits):
    _, directory = search
    record = (directory / "search.json").read_text()

    with pytest.raises(SearchConflictError, match="entry: was 'mlp_mnist', now 'cnn_mnist'"):
        zoo.tune("cnn_mnist", digits, max_trials=2, directory=directory, **SMALL)
    with pytest.raises(SearchConflictError, match="tuner: was 'random', now 'bayesian'"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory,
                 **{**SMALL, "tuner": "bayesian"})
    with pytest.raises(SearchConflictError, match="data: was 'arrays:128"):
        zoo.tune("mlp_mnist", digit_like_images(64), max_trials=2, directory=directory, **SMALL)
    # Scores of another objective cannot be ranked with the ones recorded: only max_trials may
    # change between runs of one search.
    with pytest.raises(SearchConflictError, match="objective: was 'val_accuracy', now 'val_loss'"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory, objective="val_loss",
                 **SMALL)
    # ... nor those of the same metric ranked the other way: the best trial would be the worst.
    with pytest.raises(SearchConflictError, match=r"objective: was 'val_accuracy', now "
                       r"'val_accuracy \(min\)'"):
        zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory,
                 objective=keras_tuner.Objective("val_accuracy", "min"), **SMALL)
    assert (directory / "search.json").read_text() == record  # refusals write nothing
    # An Objective in the metric's own direction is the objective named: the same search.
    same = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory,
                    objective=keras_tuner.Objective("val_accuracy", "max"), **SMALL)
    assert len(same.trials) == 2

    # An override equal to the entry's own value, as a NumPy number, asks for the same search: it
    # was recorded as the text "0.001" and refused.
    learning_rate = np.float32(zoo.get_spec("mlp_mnist").recipe.learning_rate)
    again = zoo.tune("mlp_mnist", digits, max_trials=2, directory=directory,
                     learning_rate=learning_rate, **SMALL)
    assert len(again.trials) == 2


def _probe_space(hp, spec):
    """'fine' trains; 'diverge' has a learning rate of 1e38; 'crash' raises while building."""
    mode = hp.Choice("mode", ["fine", "diverge", "crash"], default="fine")
    if mode == "crash":
        raise RuntimeError("the probe crashed on purpose")
    return {"learning_rate": 1e38 if mode == "diverge" else spec.recipe.learning_rate}


def _register_probe(search_space):
    @zoo.register_model
    def tune_probe() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
                             input=zoo.ImageInput((28, 28, 1)), builder=build_mlp,
                             hyperparameters={"units": (8,)}, recipe=zoo.Recipe(batch_size=16),
                             search_space=search_space)


@pytest.fixture
def probe():
    _register_probe(_probe_space)
    yield "tune_probe"
    zoo.unregister_model("tune_probe")


def test_crashed_and_diverged_trials_are_recorded_and_the_search_goes_on(
    probe, digits, tmp_path, capfd
):
    result = zoo.tune(probe, digits, max_trials=3, directory=tmp_path / "probe", **SMALL)
    # Silent: keras-tuner's own traceback of each failed trial made a notebook cell look failed.
    assert "Traceback" not in capfd.readouterr().err

    trials = result.trials.set_index("mode")
    assert dict(trials.status) == {"fine": "COMPLETED", "diverge": "FAILED", "crash": "FAILED"}
    assert "NaN" in trials.error["diverge"] and "FailedTrialError" in trials.error["diverge"]
    assert trials.error["crash"] == "RuntimeError: the probe crashed on purpose"
    assert trials.error["fine"] is pd.NA and str(trials.error.dtype) == "string"
    assert result.best_hyperparameters == {"mode": "fine"}
    assert str(result.trials.best_epoch.dtype) == "Int64" and trials.best_epoch["fine"] == 1
    on_disk = pd.read_csv(tmp_path / "probe" / "trials.csv").set_index("mode")
    assert dict(on_disk.status) == dict(trials.status)


def test_too_many_failures_in_a_row_stop_the_search(probe, digits, tmp_path):
    with pytest.raises(TuningError, match="1 trial in a row failed") as error:
        zoo.tune(probe, digits, max_trials=3, directory=tmp_path / "probe",
                 max_consecutive_failed_trials=1, **SMALL)
    assert "trials.csv" in str(error.value)
    failed = pd.read_csv(tmp_path / "probe" / "trials.csv", dtype={"trial_id": str})
    assert "FAILED" in set(failed.status)
    # keras-tuner's own record agrees, so a resumed search does not train that trial again.
    oracle = json.loads((tmp_path / "probe" / "keras_tuner" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {} and oracle["end_order"] == list(failed.trial_id)
    for trial_id, status in zip(failed.trial_id, failed.status, strict=True):
        saved = json.loads((tmp_path / "probe" / "keras_tuner" / f"trial_{trial_id}" /
                            "trial.json").read_text())
        assert saved["status"] == status
    CountTrainings.runs = 0
    resumed = zoo.tune(probe, digits, max_trials=len(failed), directory=tmp_path / "probe",
                       max_consecutive_failed_trials=3, callbacks=[CountTrainings()], **SMALL)
    assert CountTrainings.runs == 0
    assert list(resumed.trials.status) == list(failed.status)


def test_an_error_of_the_search_itself_is_not_taken_for_failed_trials(digits, tmp_path,
                                                                     monkeypatch):
    # Only failed trials stop a search with TuningError; a RuntimeError from elsewhere (here
    # keras-tuner's own start) is raised as it is, not reported as failures that did not happen.
    def broken(tuner):
        raise RuntimeError("keras-tuner could not start")

    monkeypatch.setattr(keras_tuner.Tuner, "on_search_begin", broken)
    with pytest.raises(RuntimeError, match="^keras-tuner could not start$"):
        zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "search", units=(8,),
                 **SMALL)


def test_a_failure_too_many_is_saved_ended_and_other_workers_trials_run_on(tmp_path):
    # keras-tuner raises before it saves the trial that was one failure too many: the oracle
    # saves it, off the running trials, and only it: another worker's trial is still running.
    from zoo.tuning.trials import RandomSearchOracle

    hp = keras_tuner.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-2)
    oracle = RandomSearchOracle(objective="val_accuracy", max_trials=4, hyperparameters=hp, seed=1,
                                max_consecutive_failed_trials=1)  # and no on_trial_end
    oracle._set_project_dir(str(tmp_path), "project")
    failed, running = oracle.create_trial("tuner0"), oracle.create_trial("tuner1")
    failed.status = "FAILED"
    with pytest.raises(RuntimeError, match="Number of consecutive failures exceeded the limit"):
        oracle.end_trial(failed)
    saved = json.loads((tmp_path / "project" / "oracle.json").read_text())
    assert saved["ongoing_trials"] == {"tuner1": running.trial_id}
    assert saved["end_order"] == [failed.trial_id]
    assert oracle.clock[failed.trial_id]["worker"] == "tuner0"
    assert "ended" in oracle.clock[failed.trial_id]


def _crashing_space(hp, spec):
    """Builds at its defaults (as zoo.hypermodel and keras-tuner's tuner do before any trial);
    crashes at the values a trial samples."""
    learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, default=spec.recipe.learning_rate)
    if learning_rate != spec.recipe.learning_rate:
        raise RuntimeError("the probe crashed on purpose")
    return {"learning_rate": learning_rate}


def test_a_search_whose_every_trial_failed_has_no_best_and_stops_counting_them_all(digits,
                                                                                   tmp_path):
    _register_probe(_crashing_space)
    directory = tmp_path / "probe"
    common = {"directory": directory, **SMALL}
    try:
        result = zoo.tune("tune_probe", digits, max_trials=2, **common)
        assert list(result.trials.status) == ["FAILED", "FAILED"]
        assert result.best_trial is None
        assert result.best_hyperparameters == {} and result.best_overrides == {}
        with pytest.raises(TuningError, match=rf"^no trial of the search in {directory} "
                           r"completed, so there is no best model; the `error` column of "
                           r"result\.trials \(or .*trials\.csv\) says why\.$"):
            result.best_model()
        # Continued: its third failure in a row stops it, counted back to its first trial.
        with pytest.raises(TuningError, match=r"stopped: 3 trials in a row failed "
                           r"\(max_consecutive_failed_trials=3\); the last: RuntimeError: the "
                           r"probe crashed on purpose\. Every trial"):
            zoo.tune("tune_probe", digits, max_trials=4, **common)
    finally:
        zoo.unregister_model("tune_probe")


def test_a_changed_search_space_is_refused(probe, digits, tmp_path):
    directory = tmp_path / "probe"
    zoo.tune(probe, digits, max_trials=1, directory=directory, **SMALL)

    def wider_space(hp, spec):
        return {"units": (hp.Choice("units", [8, 32], default=8),),
                "batch_norm": hp.Boolean("batch_norm", default=False)}

    zoo.unregister_model(probe)
    _register_probe(wider_space)
    with pytest.raises(SearchConflictError) as error:
        zoo.tune(probe, digits, max_trials=2, directory=directory, **SMALL)
    message = str(error.value)
    assert "search space changed" in message
    assert "hyperparameter 'units' added: Choice([8, 32], default 8)" in message
    assert "hyperparameter 'batch_norm' added: Boolean(default False)" in message
    assert "hyperparameter 'mode' removed" in message
    assert "overwrite=True" in message

    fresh = zoo.tune(probe, digits, max_trials=1, directory=directory, overwrite=True, **SMALL)
    assert list(fresh.trials.columns[2:3]) == ["units"] and len(fresh.trials) == 1


def _sampling_classes(hp, spec):
    return {"num_classes": hp.Choice("num_classes", [10, 12], default=10)}


def _misspelt(hp, spec):
    return {"unit": (hp.Choice("units", [8, 16], default=8),)}


def _not_a_dict(hp, spec):
    return [("units", (hp.Choice("units", [8, 16], default=8),))]


def _own_defaults(hp, spec):
    return {"units": (hp.Choice("units", [8, 16], default=16),),
            "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log",
                                      default=spec.recipe.learning_rate)}


@pytest.mark.parametrize("space, error, message", [
    (_sampling_classes, zoo.InvalidValueError,
     r"the search space of 'tune_probe' samples num_classes, which the data fixes for the whole "
     r"search.*zoo.tune\('tune_probe', ..., num_classes=...\)"),
    (_misspelt, zoo.UnknownNameError,
     r"unknown override 'unit'. Did you mean: 'units'\?.*The search space of 'tune_probe' "
     r"returns it"),
    (_not_a_dict, zoo.InvalidValueError,  # zoo's own error as it is, not wrapped
     r"^the search space of 'tune_probe' must return a dict of overrides \(builder arguments and "
     r"recipe fields\), got list\."),
    (None, zoo.InvalidValueError,
     r"entry 'tune_probe' declares no search space, so there is nothing to tune\. Give its "
     r"ModelSpec a search_space: \(hp, spec\) -> overrides; an entry on zoo's mlp builder can "
     r"use zoo\.models\.SEARCH_SPACES\['mlp'\]\."),
])
def test_a_search_space_zoo_cannot_use_is_refused_before_anything_runs(
    space, error, message, digits, tmp_path
):
    _register_probe(space)
    try:
        with pytest.raises(error, match=message):
            zoo.tune("tune_probe", digits, max_trials=1, directory=tmp_path / "probe", **SMALL)
        with pytest.raises(error, match=message):
            zoo.hypermodel("tune_probe")
    finally:
        zoo.unregister_model("tune_probe")
    assert not (tmp_path / "probe").exists()  # refused before the search directory is made


@pytest.mark.parametrize(("overrides", "message"), [
    ({"units": ()}, "units must list at least one positive integer"),
    ({"dropout": 2}, r"dropout must be a number in \[0, 1\), got 2"),
])
def test_a_hypermodel_refuses_bad_overrides_in_the_builders_words(overrides, message):
    with pytest.raises(zoo.InvalidValueError, match=message):
        zoo.hypermodel("mlp_mnist", **overrides)


def test_a_hypermodel_is_of_an_entry_name_or_a_spec():
    with pytest.raises(zoo.InvalidValueError, match=r"^hypermodel\(\) takes an entry name or a "
                       r"zoo\.ModelSpec, got int\.$"):
        zoo.hypermodel(42)


def _plain_choice(hp, spec):  # as an entry of one's own may declare it: hp.Choice itself
    return {"units": (hp.Choice("units", [8, 16], default=spec.hyperparameters["units"][0]),),
            "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log",
                                      default=spec.recipe.learning_rate)}


def _misread(hp, spec):
    return {"units": (spec.hyperparameters["unitz"],)}


def test_a_search_space_that_raises_is_named_with_the_way_out(tmp_path, capsys):
    images, labels = digit_like_images(40)
    np.savez(tmp_path / "digits.npz", x=images, y=labels)
    _register_probe(_plain_choice)
    try:
        # An override outside a plain hp.Choice's values: keras-tuner's ValueError, and a
        # traceback from `zoo tune --set`; now the fix (zoo.models.choice widens, as zoo's own).
        with pytest.raises(zoo.InvalidValueError) as raised:
            zoo.hypermodel("tune_probe", units=(32,))
        assert isinstance(raised.value.__cause__, ValueError)  # its line in the chained traceback
        assert str(raised.value).startswith(
            "the search space of 'tune_probe' (_plain_choice) raised ValueError: The default "
            "value should be one of the choices.")
        assert "declare it with zoo.models.choice(hp, name, values, default)" in str(raised.value)
        assert main(["tune", "tune_probe", "--data", str(tmp_path / "digits.npz"), "--set",
                     "units=(32,)", "--directory", str(tmp_path / "search")]) == 2
        error = capsys.readouterr().err
        assert error.startswith("zoo: error: the search space of 'tune_probe'")
        assert "Traceback" not in error and "--fix NAME=VALUE" in error
        assert not (tmp_path / "search").exists()
        # The way out it names: held at the value, outside the choices.
        held = zoo.hypermodel("tune_probe").space(fixed={"units": 32})
        assert held.get("units") == 32
    finally:
        zoo.unregister_model("tune_probe")
    _register_probe(_misread)
    try:
        with pytest.raises(zoo.InvalidValueError, match=(
                r"^the search space of 'tune_probe' \(_misread\) raised KeyError: 'unitz'\. A "
                r"search space is a function \(hp, spec\) -> overrides")):
            zoo.hypermodel("tune_probe")
        # `zoo info` still shows the entry, and says what fails (was a KeyError traceback).
        assert main(["info", "tune_probe"]) == 0
        shown = capsys.readouterr().out
        assert shown.startswith("tune_probe: mlp on mnist")
        assert ("  hyperparameter search: the search space of 'tune_probe' (_misread) raised "
                "KeyError") in shown
    finally:
        zoo.unregister_model("tune_probe")
    # zoo's helpers, public for entries of one's own: a default outside the values joins them.
    hp = keras_tuner.HyperParameters()
    assert zoo.models.choice(hp, "units", [8, 16], 32) == 32 and hp.space[0].values == [8, 16, 32]


def test_a_search_space_not_starting_from_the_entry_is_warned_about():
    _register_probe(_own_defaults)
    try:
        with pytest.warns(UserWarning, match=r"the search space of 'tune_probe' does not start "
                                             r"from the entry: at its defaults it gives "
                                             r"units=\(16,\) where the entry has \(8,\)\. So "):
            zoo.hypermodel("tune_probe")
        with warnings.catch_warnings():  # from the entry's values: a list is its tuple
            warnings.simplefilter("error")
            zoo.hypermodel("tune_probe", units=[16])
    finally:
        zoo.unregister_model("tune_probe")


def _plain_float(hp, spec):  # as an entry of one's own may declare it: hp.Float itself
    return {"learning_rate": hp.Float("learning_rate", 1e-3, 1e-2, sampling="log",
                                      default=spec.recipe.learning_rate)}


def test_an_override_outside_a_plain_range_is_warned_to_be_never_tried():
    # keras-tuner keeps a Float's range whatever its default: learning_rate=0.05 given to the
    # search was never tried, and the trials used values within 1e-3..1e-2, without a word.
    _register_probe(_plain_float)
    try:
        with pytest.warns(UserWarning, match=r"the search space of 'tune_probe' never tries "
                          r"learning_rate=0\.05, its default here \(an override given to the "
                          r"search, or the entry's own value\): its hp\.Float ranges over "
                          r"0\.001\.\.0\.01, which "
                          r"keras-tuner keeps\. Widen the range to take it \(zoo\.models\."
                          r"float_range\(hp, 'learning_rate', low, high, default\) does\)"):
            zoo.hypermodel("tune_probe", learning_rate=0.05)
        with warnings.catch_warnings():  # within the range: nothing to say
            warnings.simplefilter("error")
            zoo.hypermodel("tune_probe", learning_rate=0.005)
    finally:
        zoo.unregister_model("tune_probe")


def test_hyperband_promotes_trials_from_their_parents_weights(digits, tmp_path):
    # max_epochs 3, factor 3: three 1-epoch trials, then the best goes on to epoch 3.
    result = zoo.tune("mlp_mnist", digits, tuner="hyperband", max_trials=4, epochs=3, seed=0,
                      verbose=0, directory=tmp_path / "hyperband", units=(16,))
    trials = result.trials
    assert list(trials.status) == ["COMPLETED"] * 4
    promoted = trials.iloc[3]
    assert promoted["tuner/trial_id"] in set(trials.trial_id[:3])
    assert (promoted["tuner/initial_epoch"], promoted["tuner/epochs"]) == (1, 3)
    assert "tuner/epochs" not in result.best_hyperparameters
    # It trained epochs 2 and 3: its best epoch is one of them, counted from the first.
    assert promoted.best_epoch in (2, 3)
    assert all(trials.best_epoch[:3] == 1)


def test_best_overrides_and_exports_describe_the_best_trial(digits, tmp_path):
    # l2 is given to the search, not sampled by it: rebuilding the best trial needs it too.
    result = zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "search",
                      **SMALL, l2=1e-4)
    assert result.best_overrides["l2"] == 1e-4 and "epochs" not in result.best_overrides
    best = result.best_model()
    rebuilt = zoo.build("mlp_mnist", **result.best_overrides)
    assert rebuilt.count_params() == best.count_params()
    # The export's metadata is the trial's spec, not the registered entry's.
    export = zoo.export(best, tmp_path / "export", preprocessor=result.preprocessor)
    recorded = zoo.load(export).metadata["hyperparameters"]
    assert tuple(recorded["units"]) == result.best_overrides["units"]
    assert recorded["l2"] == 1e-4


def test_the_best_trial_of_a_minimized_objective_is_the_one_with_the_lowest_score(digits,
                                                                                 tmp_path):
    # val_loss is minimized: the best trial (and the overrides and model made from it) is the
    # lowest score, not the highest as for val_accuracy.
    result = zoo.tune("mlp_mnist", digits, max_trials=2, directory=tmp_path / "search",
                      objective="val_loss", **SMALL, units=(8,))
    trials = result.trials
    assert set(trials.status) == {"COMPLETED"} and trials.score.nunique() == 2
    assert trials.learning_rate.nunique() == 2  # so the overrides tell the two trials apart
    lowest = trials.loc[trials.score.idxmin()]
    assert result.best_trial.trial_id == lowest.trial_id
    assert result.best_trial.score == pytest.approx(trials.score.min())
    assert result.best_overrides["learning_rate"] == lowest.learning_rate


def test_the_seed_alone_decides_the_values_a_search_samples():
    # keras-tuner takes an oracle seed of 0 as "none" and draws one from Python's random module:
    # zoo.tune(seed=0), the default, then sampled other trials in every process. Each oracle is
    # made as zoo.tune makes it, after the process drew other random numbers before.
    import random

    from zoo.tuning.search import _make_oracle

    space = zoo.hypermodel("mlp_mnist").space()
    state = random.getstate()
    try:
        for tuner in ("random", "bayesian", "hyperband"):
            oracles = []
            for before in (1, 2):
                random.seed(before)
                oracles.append(_make_oracle(tuner, "val_accuracy", 4, 3, 0, 3, space))
            assert oracles[0].seed == oracles[1].seed, tuner
            if tuner == "random":  # and so the values drawn for its trials, one after another
                draws = [[oracle._random_values() for _ in range(2)] for oracle in oracles]
                assert draws[0] == draws[1] and draws[0][0] != draws[0][1]
        # Another seed, other values.
        seeds = [_make_oracle("random", "val_accuracy", 4, 3, seed, 3, space).seed
                 for seed in (0, 1)]
        assert seeds[0] != seeds[1]
    finally:
        random.setstate(state)


def test_a_tuned_model_on_named_labels_exports_their_names(digits, tmp_path):
    x, y = digits
    words = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    result = zoo.tune("mlp_mnist", (x, words[y]), max_trials=1, directory=tmp_path / "search",
                      **SMALL, units=(16,))
    assert result.class_names == tuple(sorted(words))  # the ids the trials trained with
    export = zoo.export(result.best_model(), tmp_path / "export", preprocessor=result.preprocessor,
                        class_names=result.class_names)
    assert zoo.load(export).metadata["class_names"] == list(result.class_names)
    assert set(zoo.load(export).predict(x[:8]).label) <= set(words)
    # best_model() carries the names, so an export without class_names= labels with them too.
    bare = zoo.export(result.best_model(), tmp_path / "bare", preprocessor=result.preprocessor)
    assert zoo.load(bare).metadata["class_names"] == list(result.class_names)
    with pytest.raises(zoo.InvalidValueError, match="class_names lists 2 names but the model"):
        zoo.export(result.best_model(), tmp_path / "other", preprocessor=result.preprocessor,
                   class_names=["a", "b"])


def test_the_same_trial_trains_on_the_same_data_whatever_ran_before(digits):
    from zoo.tuning.hypermodels import ZooHyperModel
    from zoo.tuning.search import TrainingData

    spec = zoo.get_spec("cnn_mnist").with_overrides(filters=(4, 8), epochs=2)
    data = TrainingData(spec, digits, None, seed=0)
    hypermodel = ZooHyperModel(spec, seed=0)
    hp = keras_tuner.HyperParameters()
    hypermodel.overrides(hp)  # the space at its defaults
    losses = [
        hypermodel.fit(hp, hypermodel.build(hp), data, validation_data=data.validation,
                       verbose=0).history["loss"]
        for _ in range(2)
    ]
    # Augmented, shuffled, seeded: the second run is the first again, not its continuation.
    assert losses[0] == losses[1]


def test_trials_of_a_weight_averaging_recipe_score_and_keep_the_average(digits, tmp_path):
    # As zoo.train validates and returns the average, so that best_overrides retrain to the score.
    overrides = {"units": (16,), "ema_momentum": 0.9}
    result = zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "search",
                      fixed={"batch_size": 8}, **{**SMALL, "epochs": 2}, **overrides)
    score = result.trials.score.iloc[0]
    validation = zoo.data.load(digits, "validation", spec=result.spec, seed=0)
    assert result.best_model().evaluate(validation, verbose=0, return_dict=True)["accuracy"] == (
        pytest.approx(score))
    trained = zoo.train("mlp_mnist", digits, seed=0, verbose=0, epochs=2,
                        **{**overrides, **result.best_overrides})
    assert trained.history.val_accuracy.max() == pytest.approx(score)


def test_bayesian_search_without_its_optional_packages_names_them(digits, tmp_path, monkeypatch):
    # keras-tuner's Gaussian process imports scipy and scikit-learn when the oracle is made.
    from zoo.tuning import search

    def missing(**kwargs):
        raise ImportError("No module named 'sklearn'")

    monkeypatch.setattr(search, "BayesianOptimizationOracle", missing)
    with pytest.raises(ImportError, match=r"tuner='bayesian' needs scipy and scikit-learn "
                       r"\(No module named 'sklearn'\); install them with pip install "
                       r"'keras-tuner\[bayesian\]'") as caught:
        zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "bayesian",
                 **{**SMALL, "tuner": "bayesian"})
    assert isinstance(caught.value, zoo.MissingDependencyError)
    assert not (tmp_path / "bayesian").exists()


def test_bayesian_search_runs(digits, tmp_path):
    result = zoo.tune("mlp_mnist", digits, max_trials=2, directory=tmp_path / "bayesian",
                      **{**SMALL, "tuner": "bayesian"}, units=(16,))
    assert list(result.trials.status) == ["COMPLETED", "COMPLETED"]


def test_cli_tune_prints_the_best_trials(tmp_path, capsys, monkeypatch):
    data = write_digits_npz(tmp_path / "digits.npz", count=128)
    directory = tmp_path / "search"
    export = ["--export", str(tmp_path / "export")] if hasattr(zoo, "export") else []
    code = main(["tune", "mlp_mnist", "--data", str(data), "--tuner", "random", "--max-trials", "2",
                 "--set", "epochs=1", "--set", "l2=0.0001", "--objective", "val_loss",
                 "--directory", str(directory), *export])
    output = capsys.readouterr().out
    assert code == 0
    assert ("2 trials, 2 completed; the best (score: val_loss at the best epoch, lowest "
            "first):") in output and "learning_rate" in output
    assert "best overrides: {'l2': 0.0001, 'units'" in output  # --set is part of the model
    # The best first: val_loss is minimized, so the lowest score heads the table.
    table = output.split("lowest first):\n")[1].split("\n\n")[0].splitlines()
    scores = [float(line.split()[table[0].split().index("score")]) for line in table[1:]]
    assert scores == sorted(scores) and len(scores) == 2
    assert (directory / "trials.csv").is_file()
    recorded = json.loads((directory / "search.json").read_text())
    assert recorded["objective"] == "val_loss" and recorded["epochs"] == 1
    if export:
        assert (tmp_path / "export" / "saved_model.pb").is_file()
    # The printed command trains the entry with the best values, as printed.
    command = next(line for line in output.splitlines() if line.startswith("train with them: "))
    arguments = shlex.split(command.removeprefix("train with them: zoo "))
    assert arguments[:4] == ["train", "mlp_mnist", "--data", str(data)]
    # Strings read back as they are: optimizer=adam, not optimizer="'adam'" quoting.
    best = lowest_scoring_trial(directory)
    optimizer = next(a for a in arguments if a.startswith("optimizer="))
    assert "'" not in optimizer and optimizer == f"optimizer={best.optimizer}"
    # The lowest val_loss's values, not the other trial's: their learning rates differ, where
    # both trials may well share an optimizer.
    assert pd.read_csv(directory / "trials.csv").learning_rate.nunique() == 2
    learning_rate = next(a for a in arguments if a.startswith("learning_rate="))
    assert float(learning_rate.removeprefix("learning_rate=")) == pytest.approx(
        best.learning_rate, rel=1e-6)
    # It keeps what it trains, and says how to train as the trials did (the recipe's epochs
    # otherwise: best_overrides leave the search's epochs out).
    assert arguments[-2:] == ["--workdir", "runs/search_best"]  # named after --directory
    recipe = zoo.get_spec("mlp_mnist").recipe.epochs
    assert output.splitlines()[output.splitlines().index(command) + 1] == (
        f"  (for the recipe's {recipe} epochs; the trials trained 1: add --epochs 1 to repeat the "
        f"best trial)")
    monkeypatch.chdir(tmp_path)
    assert main([*arguments, "--epochs", "1"]) == 0
    assert "zoo: training mlp_mnist from epoch 1 to 1" in capsys.readouterr().out
    assert (tmp_path / "runs" / "search_best" / "model.keras").is_file()


def lowest_scoring_trial(directory) -> pd.Series:
    """The completed trial of the lowest score (the best for val_loss), as the search's trials
    table records it."""
    trials = pd.read_csv(directory / "trials.csv")
    return trials[trials.status == "COMPLETED"].sort_values("score").iloc[0]


def test_fixed_hyperparameters_hold_in_every_trial_and_the_rest_are_searched(digits, tmp_path):
    directory = tmp_path / "search"
    # units_1 is conditional on num_layers (searched only with two layers or more).
    fixed = {"num_layers": 2, "units_1": 48, "dropout": 0.1, "optimizer": "sgd"}
    result = zoo.tune("mlp_mnist", digits, max_trials=3, directory=directory, fixed=fixed,
                      **SMALL)
    trials = result.trials
    assert set(trials.status) == {"COMPLETED"}
    for name, value in fixed.items():
        assert trials[name].tolist() == [value] * 3, name
    assert trials.learning_rate.nunique() == 3  # the others are still searched
    assert result.best_overrides["units"][1] == 48 and result.best_overrides["dropout"] == 0.1
    record = json.loads((directory / "search.json").read_text())
    assert record["search_space"]["dropout"] == {"type": "Fixed", "value": 0.1, "conditions": []}

    # A search held at other values is another search; names are checked before anything runs.
    with pytest.raises(SearchConflictError,
                       match=r"hyperparameter 'dropout' was Fixed\(0.1\), now Fixed\(0.2\)"):
        zoo.tune("mlp_mnist", digits, max_trials=3, directory=directory,
                 fixed={**fixed, "dropout": 0.2}, **SMALL)
    with pytest.raises(zoo.UnknownNameError,
                       match=r"unknown hyperparameter 'dropuot'.*Did you mean: 'dropout'\?"):
        zoo.tune("mlp_mnist", digits, directory=tmp_path / "other", fixed={"dropuot": 0.1},
                 **SMALL)
    # Values are checked against their hyperparameter before any data is read or trial runs.
    refused = [
        ("units_0", (8, 8), r"fixed\['units_0'\] must be a whole number \(the search space's "
                            r"units_0 takes \[32, .*held one width at a time.*units_0=..., "
                            r"units_1=...\)"),
        ("num_layers", 4, r"fixed\['num_layers'\] must be one of \[1, 2, 3\] \(other "
                          r"hyperparameters depend on it\), got 4"),
        ("optimizer", 3, r"fixed\['optimizer'\] must be a string"),
        ("dropout", "0.3", r"fixed\['dropout'\] must be a finite number"),
        # A bool is not a number here, though Python counts True as 1: refused as given, not
        # taken for the rate 1.0 (and then refused as "got 1.0", a value never given).
        ("dropout", True, r"^fixed\['dropout'\] must be a finite number \(the search space's "
                          r"dropout takes \[0\.0, 0\.1, 0\.2, 0\.3, 0\.4, 0\.5\]\), got "
                          r"True\.$"),
        # A width with a fraction is refused, not cut down to 48 and searched.
        ("units_1", 48.5, r"^fixed\['units_1'\] must be a whole number \(the search space's "
                          r"units_1 takes \[32, 64, 128, 256, 512\]\), got 48\.5\.$"),
        ("dropout", float("nan"), r"^fixed\['dropout'\] must be a finite number .*got nan\.$"),
        # A Float's range, not the span of the ten samples keras-tuner lists for it (was "takes
        # 0.0001259..0.007943").
        ("learning_rate", "fast", r"^fixed\['learning_rate'\] must be a finite number \(the "
                                  r"search space's learning_rate ranges over 0\.0001\.\.0\.01\), "
                                  r"got 'fast'\.$"),
    ]
    for name, value, message in refused:
        with pytest.raises(zoo.InvalidValueError, match=message):
            zoo.tune("mlp_mnist", digits, directory=tmp_path / "other", fixed={name: value},
                     **SMALL)
    with pytest.raises(zoo.InvalidValueError, match=r"^fixed must map hyperparameter names to "
                       r"values \(e\.g\. \{'dropout': 0\.3\}\), got list\.$"):
        zoo.tune("mlp_mnist", digits, directory=tmp_path / "other", fixed=["dropout"], **SMALL)
    with pytest.raises(zoo.InvalidValueError, match=r"fixed\['units_2'\] would never be used: "
                       r"units_2 is active only when num_layers is 3, but num_layers is fixed "
                       r"at 2"):
        zoo.tune("mlp_mnist", digits, directory=tmp_path / "other",
                 fixed={"num_layers": 2, "units_2": 64}, **SMALL)
    everything = {name: result.trials.iloc[0][name] for name in
                  ("num_layers", "units_0", "units_1", "dropout", "learning_rate", "optimizer",
                   "batch_size")}  # NumPy values, as read from the trials table
    with pytest.raises(zoo.InvalidValueError, match="nothing left to search"):
        zoo.tune("mlp_mnist", digits, directory=tmp_path / "other", fixed=everything, **SMALL)
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("fixed, message", [
    ({"optimizer": "adamm"}, "optimizer must be one of 'adam', 'adamw'"),
    ({"units_0": -5}, r"units\[0\] must be a positive integer, got -5\."),
])
def test_a_fixed_value_the_entry_refuses_is_said_before_the_search_writes_anything(
        tmp_path, digits, fixed, message):
    # The space took them (a Choice's value is the entry's to check), the first trial failed
    # on them, and an empty keras_tuner/ folder was left that refused the corrected command.
    with pytest.raises(zoo.InvalidValueError,
                       match=rf"^fixed= \(--fix\) {re.escape(str(fixed))}: {message}"):
        zoo.tune("mlp_mnist", digits, directory=tmp_path / "search",
                 fixed=fixed, **SMALL)
    assert not (tmp_path / "search").exists()


def test_fixed_values_are_checked_against_hyperparameters_of_every_kind():
    from zoo.tuning.fixed import fixed_space

    hp = keras_tuner.HyperParameters()
    hp.Fixed("flag", True)  # a space may hold one itself (keras-tuner's Choice of bools is of ints)
    hp.Int("width", 1, 16)
    hp.Float("rate", 0.0, 1.0, default=0.5)
    with hp.conditional_scope("rate", [0.5]):
        hp.Int("extra", 1, 3)
    refused = [
        ("flag", 1, r"^fixed\['flag'\] must be True or False \(the search space's flag takes "
                    r"\[True\]\), got 1\.$"),
        ("width", 2.5, r"^fixed\['width'\] must be a whole number \(the search space's width "
                       r"takes 1\.\.16\), got 2\.5\.$"),  # more values than are worth listing
        ("rate", "half", r"^fixed\['rate'\] must be a finite number \(the search space's rate "
                         r"ranges over 0\.0\.\.1\.0\), got 'half'\.$"),
    ]
    for name, value, message in refused:
        with pytest.raises(zoo.InvalidValueError, match=message):
            fixed_space(hp, {name: value}, "custom")
    # A Float that others depend on is a range too: held at the value that activates them. Was
    # refused as not "one of [0.05, 0.15000000000000002, ...]", keras-tuner's ten samples of it.
    held = fixed_space(hp, {"rate": 0.5}, "custom")
    assert held.values["rate"] == 0.5 and held.values["extra"] == 1
    # So is an Int sampled on a log scale without a step (its `values` are samples too, which
    # left out 100 and named 80 the largest).
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 100, sampling="log")
    with hp.conditional_scope("units", [100]):
        hp.Float("dropout", 0.0, 0.5)
    with pytest.raises(zoo.InvalidValueError, match=r"the search space's units ranges over "
                       r"1\.\.100\), got 2\.5\.$"):
        fixed_space(hp, {"units": 2.5}, "custom")
    assert fixed_space(hp, {"units": 100}, "custom").values["units"] == 100


def test_fixed_numpy_values_are_held_as_the_numbers_they_print_as():
    # A value read from a trials table or np.linspace is a NumPy scalar: float(np.float32(0.003))
    # is 0.0030000000260770321, which search.json, trials.csv and the trials' learning rate then
    # held instead of the 0.003 asked for (and a rerun given 0.003 was "another search").
    from zoo.tuning.fixed import fixed_space

    hp = keras_tuner.HyperParameters()
    zoo.hypermodel("mlp_mnist").build(hp)  # the space at its defaults
    held = fixed_space(hp, {"learning_rate": np.float32(0.003), "num_layers": np.int64(2)},
                       "mlp_mnist")
    assert held.values["learning_rate"] == 0.003
    assert type(held.values["learning_rate"]) is float
    assert held.values["num_layers"] == 2 and type(held.values["num_layers"]) is int
    assert [p.value for p in held.space if p.name == "learning_rate"] == [0.003]  # its Fixed


def test_a_fixed_conditional_hyperparameter_holds_only_where_it_is_active(digits, tmp_path):
    """units_1 exists only in trials of two or more layers; the layer count is still searched.
    Hyperband, the default tuner, carries fixed values through its brackets too."""
    # With 2 epochs Hyperband has nothing to halve: every trial trains both, said in a warning
    # (it was a random search under another name, said nowhere).
    with pytest.warns(UserWarning, match=r"tuner='hyperband' with epochs=2: .* every trial "
                      r"trains 2 epochs, as tuner='random' does\. Give epochs=3 or more \(9 "
                      r"for two rounds\), or use tuner='random' \(command line: --epochs 3, "
                      r"--tuner random\)\."):
        result = zoo.tune("mlp_mnist", digits, max_trials=6, directory=tmp_path / "search",
                          fixed={"units_1": 40}, tuner="hyperband", epochs=2, seed=0, verbose=0)
    assert set(result.trials["tuner/epochs"]) == {2}
    trials = result.trials
    assert set(trials.status) == {"COMPLETED"} and len(trials) == 6
    assert set(trials.num_layers) > {1}  # searched: some trials have one layer, some more
    for _, trial in trials.iterrows():
        if trial.num_layers == 1:
            assert pd.isna(trial.units_1)
        else:
            assert trial.units_1 == 40


def test_cli_tune_fix_holds_a_hyperparameter(tmp_path, capsys):
    data = write_digits_npz(tmp_path / "digits.npz", count=128)
    directory = tmp_path / "search"
    assert main(["tune", "mlp_mnist", "--data", str(data), "--tuner", "random", "--max-trials",
                 "2", "--epochs", "1", "--fix", "optimizer=rmsprop", "--fix", "dropout=0.25",
                 "--directory", str(directory)]) == 0
    output = capsys.readouterr().out
    trials = pd.read_csv(directory / "trials.csv")
    assert set(trials.optimizer) == {"rmsprop"} and set(trials.dropout) == {0.25}
    assert "--set dropout=0.25" in output and "--set optimizer=rmsprop" in output


def test_an_objective_the_trials_do_not_log_is_refused_before_any_trial(digits, tmp_path):
    with pytest.raises(zoo.InvalidValueError, match="objective.name must be one of .*'val_auc'"):
        zoo.tune("mlp_mnist", digits, objective=keras_tuner.Objective("val_auc", "max"),
                 directory=tmp_path / "search", **SMALL)
    assert not (tmp_path / "search").exists()


def test_callbacks_that_are_not_keras_callbacks_are_refused_before_any_trial(digits, tmp_path):
    with pytest.raises(zoo.InvalidValueError, match="callbacks must be keras.callbacks.Callback"):
        zoo.tune("mlp_mnist", digits, callbacks="early_stopping", directory=tmp_path / "search",
                 **SMALL)
    assert not (tmp_path / "search").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tuner", "grid"], "tuner must be one of 'hyperband', 'random', 'bayesian', got 'grid'"),
        (["--max-trials", "0"], "max_trials must be a positive integer, got 0"),
        (["--epochs", "-1"], "epochs must be a positive integer, got -1"),
        (["--objective", "val_auc"], "objective must be one of 'val_accuracy', 'val_loss', "
         "'accuracy', 'loss', got 'val_auc'"),
        (["--set", "tuner=random"], "--set tuner='random' is not an override: use --tuner"),
        (["--set", "name=mine"], "--set name='mine' is not an override: NAME, the command's "
         "first argument, is the entry, and a model is named after its entry"),
        (["--fix", "units_9=8"], "unknown hyperparameter 'units_9'. Did you mean: 'units_2', "
         "'units_1', 'units_0'? Known hyperparameters: batch_size, dropout, learning_rate, "
         "num_layers, optimizer, units_0, units_1, units_2. fixed= (--fix) takes the names of "
         "mlp_mnist's search space, as the trials table has them (Hyperband's tuner/* columns "
         "aside); a builder argument or recipe field it does not search is an override "
         "(zoo.tune(..., NAME=VALUE), --set)"),
        (["--epochs", "2", "--set", "epochs=3"],
         "--set epochs=3 is not an override: use --epochs (given as 2 already)"),
        # Values only the builder checks: refused before keras-tuner made its directory too.
        (["--set", "dropout=2"], "dropout must be a number in [0, 1), got 2"),
        (["--set", "units=(0,)"], "units[0] must be a positive integer, got 0"),
        (["--set", "filters=3"], "unknown --set key 'filters'. Known --set keys: activation, "
         "batch_norm, batch_size, bucket_by_length, clipnorm, dropout, early_stopping_patience, "
         "ema_momentum, epochs, input_shape, jit_compile, l2, label_smoothing, learning_rate, "
         "max_consecutive_failed_trials, momentum, monitor, num_classes, optimizer, "
         "resize_images, schedule, units, verbose, warmup_epochs, weight_decay. --set takes "
         "mlp_mnist's builder arguments "
         "and recipe fields (zoo info mlp_mnist) and these zoo.tune options: jit_compile, "
         "max_consecutive_failed_trials, verbose"),
    ],
)
def test_cli_tune_refuses_bad_values_in_one_line(args, message, tmp_path, capsys):
    directory = tmp_path / "search"
    assert main(["tune", "mlp_mnist", "--directory", str(directory), *args]) == 2
    error = capsys.readouterr().err
    assert error == f"zoo: error: {message}.\n"
    assert not directory.exists()


# ---- distributed search: keras-tuner's chief/worker mode over gRPC -----------------------------

WORKER_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from helpers import digit_like_images
import zoo

directory, ready = Path(sys.argv[1]), Path(sys.argv[2])
tuner_id = os.environ["KERASTUNER_TUNER_ID"]
if tuner_id != "chief":  # both workers ask for their first trial at the same time
    (ready / tuner_id).touch()
    deadline = time.time() + 120
    while len(list(ready.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.05)
result = zoo.tune("mlp_mnist", digit_like_images(128, seed=0), tuner="random", max_trials=4,
                  epochs=1, seed=0, verbose=0, directory=directory, units=(16,))
print("TRIALS", " ".join(result.trials.trial_id))
print("EXAMPLES", result.hypermodel.train_examples, result.preprocessor is not None)
"""


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def test_distributed_search_shares_trials_between_workers(tmp_path):
    script = tmp_path / "tune_worker.py"
    script.write_text(WORKER_SCRIPT.format(tests=str(TESTS)))
    directory, ready = tmp_path / "search", tmp_path / "ready"
    ready.mkdir()
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERASTUNER_ORACLE_IP": "127.0.0.1",
                   "KERASTUNER_ORACLE_PORT": str(_free_port())}
    tuners = ("chief", "tuner0", "tuner1")
    command = [sys.executable, str(script), str(directory), str(ready)]
    results = run_together(
        {tuner_id: command for tuner_id in tuners},
        {tuner_id: {**environment, "KERASTUNER_TUNER_ID": tuner_id} for tuner_id in tuners},
        tmp_path, timeout=240,
    )
    for tuner_id, (returncode, output) in results.items():
        assert returncode == 0, f"{tuner_id} failed:\n{output[-3000:]}"

    trials = pd.read_csv(directory / "trials.csv", dtype={"trial_id": str})
    assert sorted(trials.trial_id) == ["0", "1", "2", "3"]  # each trial once
    assert set(trials.status) == {"COMPLETED"}
    assert set(trials.worker) == {"tuner0", "tuner1"}  # both workers ran trials
    values = trials[
        ["num_layers", "units_0", "dropout", "learning_rate", "optimizer", "batch_size"]
    ]
    assert not values.duplicated().any()  # and no configuration twice under another id
    for trial_id in trials.trial_id:  # each trained by the worker that got it, in the shared dir
        assert (directory / "keras_tuner" / f"trial_{trial_id}" / "checkpoint.weights.h5").is_file()
    assert "TRIALS 0 1 2 3" in results["chief"][1]  # the chief's result holds every trial
    # and what the data fixes, as the workers' do: it exports and compiles the best model too
    assert all("EXAMPLES 115 True" in output for _, output in results.values())


def test_trials_train_on_one_device_and_other_requests_are_refused(digits, tmp_path, monkeypatch,
                                                                  caplog):
    common = {"max_trials": 1, "directory": tmp_path / "search", "units": (8,), **SMALL}
    with pytest.raises(zoo.InvalidValueError, match="zoo.tune has no strategy option"):
        zoo.tune("mlp_mnist", digits, strategy="mirrored", **common)
    # Inside a scope the trials trained under the caller's strategy, and leaving it then failed.
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        with pytest.raises(zoo.InvalidValueError, match=r"zoo.tune was called inside `with "
                           r"strategy.scope\(\):` of a .*its trials each train on one device"):
            zoo.tune("mlp_mnist", digits, **common)
    assert not (tmp_path / "search").exists()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    with caplog.at_level(logging.WARNING, logger="zoo"):
        zoo.tune("mlp_mnist", digits, **common)
    assert any("does not search across its cluster" in m for m in caplog.messages)


def test_a_misspelt_argument_of_tune_is_suggested_before_the_directory_is_made(digits, tmp_path):
    # Was: "unknown override 'max_trial'. Known overrides: ..." without the argument meant.
    with pytest.raises(zoo.UnknownNameError, match=r"unknown argument 'max_trial' of zoo\.tune\. "
                       r"Did you mean: 'max_trials'\?.*own arguments \(.*max_trials"):
        zoo.tune("mlp_mnist", digits, max_trial=1, directory=tmp_path / "search", **SMALL)
    assert not (tmp_path / "search").exists()


def test_the_callers_keras_state_survives_a_search_and_best_model(digits, tmp_path):
    # keras-tuner clears the Keras session before every trial and in load_model: the caller's
    # dtype policy and flags went back to Keras' defaults, and layer names restarted from zero.
    keras.config.set_dtype_policy("mixed_bfloat16")
    keras.config.disable_flash_attention()
    try:
        before = keras.layers.Dense(2)
        result = zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "mlp",
                          units=(8,), **SMALL)
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        assert keras.config.is_flash_attention_enabled() is False
        after = keras.layers.Dense(2)
        assert after.name != before.name  # the name counter went on

        keras.config.set_floatx("float16")  # the best model loads in float32 all the same
        model = result.best_model()
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
        assert keras.config.floatx() == "float16"
        assert {weight.dtype for weight in model.weights} == {"float32"}
        # The trials train in float32 (zoo.tune's choice), and so does the best model.
        assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    finally:
        keras.config.set_floatx("float32")
        keras.utils.clear_session()  # Keras' defaults again for the other tests


def test_a_search_outside_a_notebook_writes_no_escape_codes(digits, tmp_path, capsys):
    # keras-tuner takes any process where IPython is installed (the test extra installs it) for
    # a notebook and "cleared the output" between trials: escape codes in `zoo tune > log`.
    zoo.tune("mlp_mnist", digits, max_trials=1, directory=tmp_path / "search",
             **{**SMALL, "verbose": "auto"})  # a line per epoch: not a terminal
    out = capsys.readouterr().out
    assert "Trial 1 Complete" in out and "\x1b" not in out


def test_keras_tuner_keeps_its_notebook_display_in_a_running_ipython(monkeypatch):
    import types

    from keras_tuner.src import config, utils

    from zoo.tuning.search import _keras_tuner_output, _tuner_flag

    running = types.SimpleNamespace(get_ipython=lambda: object())  # a notebook's kernel
    monkeypatch.setitem(sys.modules, "IPython", running)
    monkeypatch.setattr(utils, "IS_NOTEBOOK", True)
    monkeypatch.setattr(config, "DEBUG", True)
    with _keras_tuner_output(1):
        assert utils.IS_NOTEBOOK is True and config.DEBUG is True
    with _keras_tuner_output(0):  # silent: no traceback of a failed trial either
        assert utils.IS_NOTEBOOK is True and config.DEBUG is False
    assert config.DEBUG is True
    # A keras-tuner without the flag is left without it.
    with _tuner_flag("config", "NO_SUCH_FLAG", False):
        assert not hasattr(config, "NO_SUCH_FLAG")
    assert not hasattr(config, "NO_SUCH_FLAG")


def test_trials_on_a_tfds_dataset_are_scored_on_its_train_split_not_its_test_split(
    tmp_path, monkeypatch
):
    # Was: scored on the test split, so the hyperparameters chosen had seen the split that
    # `zoo evaluate` reports. Trials now hold out the train split's last 10%; zoo.train keeps
    # validating on the test split (the Keras convention for a TFDS dataset).
    import tensorflow_datasets as tfds

    from zoo.data import pipeline

    read, original = [], pipeline.read_tfds

    def recording(name, split, **kwargs):
        read.append(split)
        return original(name, split, **kwargs)

    monkeypatch.setattr(pipeline, "read_tfds", recording)
    directory = tmp_path / "search"
    with tfds.testing.mock_data(num_examples=40):
        result = zoo.tune("mlp_mnist", max_trials=1, directory=directory, units=(8,), **SMALL)
        assert read and set(read) == {"train[:90%]", "train[90%:]"}, read
        assert result.trials["status"].tolist() == ["COMPLETED"]
        read.clear()
        zoo.train("mlp_mnist", epochs=1, verbose=0, units=(8,))
        assert set(read) == {"train", "test"}, read
    # A search recorded before, with trials scored on the test split, is not continued.
    record_path = directory / "search.json"
    record = json.loads(record_path.read_text())
    assert record["validation_split"] == "train[90%:]"
    del record["validation_split"]
    record_path.write_text(json.dumps(record))
    with tfds.testing.mock_data(num_examples=40), pytest.raises(
        SearchConflictError, match=r"validation_split: was None, now 'train\[90%:\]'"
    ):
        zoo.tune("mlp_mnist", max_trials=1, directory=directory, units=(8,), **SMALL)


@pytest.mark.parametrize("tuner", ["random", "hyperband"])
def test_a_search_that_runs_out_of_values_says_so(digits, tmp_path, tuner):
    # keras-tuner stops when no untried values are left: 2 of max_trials=4 ran without a word.
    def two_values(hp, spec):
        return {"units": (hp.Choice("units", [8, 16], default=8),)}

    _register_probe(two_values)
    try:
        with pytest.warns(UserWarning, match=r"the search ran 2 of max_trials=4 \(--max-trials\) "
                          r"trials: keras-tuner could not draw values it had not tried yet"):
            result = zoo.tune("tune_probe", digits, max_trials=4, directory=tmp_path / "two",
                              **{**SMALL, "tuner": tuner})
        assert sorted(result.trials.units) == [8, 16]
        with warnings.catch_warnings(record=True) as caught:  # all it was asked: no word
            warnings.simplefilter("always")
            zoo.tune("tune_probe", digits, max_trials=2, directory=tmp_path / "full", **SMALL)
        assert not [w for w in caught if "max_trials" in str(w.message)]
    finally:
        zoo.unregister_model("tune_probe")


def test_the_search_space_table_names_every_kind_of_hyperparameter(capsys):
    def every_kind(hp, spec):
        hp.Fixed("seed_offset", 3)
        units = hp.Int("units", 16, 64, step=16, default=16)
        hp.Float("dropout", 0.1, 0.5, step=0.1, default=0.1)
        hp.Int("depth", 1, 3, default=1)
        hp.Boolean("batch_norm", default=False)
        return {"units": (units,)}

    _register_probe(every_kind)
    try:
        frame = zoo.hypermodel("tune_probe").space_frame()
        assert frame.to_dict("list") == {
            "hyperparameter": ["seed_offset", "units", "dropout", "depth", "batch_norm"],
            "kind": ["Fixed", "Int", "Float", "Int", "Boolean"],
            "values": ["3", "16 .. 64 step 16 (linear)", "0.1 .. 0.5 step 0.1 (linear)",
                       "1 .. 3 (linear)", "True, False"],
            "default": [3, 16, 0.1, 1, False],
            "searched when": ["", "", "", "", ""],
        }
        assert main(["info", "tune_probe"]) == 0
        shown = capsys.readouterr().out.split("--fix NAME=VALUE):\n")[1].splitlines()
        assert shown[0].split() == ["hyperparameter", "kind", "values", "default"]  # no parents
        assert shown[2].split() == ["units", "Int", "16", "..", "64", "step", "16", "(linear)",
                                    "16"]
    finally:
        zoo.unregister_model("tune_probe")
    _register_probe(lambda hp, spec: {"units": (hp.Int("units", 8, 64, default=8),),
                                      "dropout": hp.Float("dropout", 0.0, 0.5, default=0.0)})
    try:  # an Int's default stays an integer beside a Float's (it was shown as 8.0)
        assert zoo.hypermodel("tune_probe").space_frame()["default"].tolist() == [8, 0.0]
        assert main(["info", "tune_probe"]) == 0
        rows = capsys.readouterr().out.split("--fix NAME=VALUE):\n")[1].splitlines()
        assert rows[1].split()[-1] == "8" and rows[2].split()[-1] == "0.0"
    finally:
        zoo.unregister_model("tune_probe")
    _register_probe(lambda hp, spec: {})
    try:
        assert zoo.hypermodel("tune_probe").space_frame().empty
        assert main(["info", "tune_probe"]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == (
            "  hyperparameter search: a search space without hyperparameters")
    finally:
        zoo.unregister_model("tune_probe")


def test_what_the_data_warrants_is_said_once_not_once_per_trial(tmp_path, caplog):
    # A search read its data again for each trial, and said again what it had said of it at
    # the first read: the same warning 1 + max_trials times (the later ones "from keras_tuner").
    texts = ["alpha beta film", "beta alpha film", "alpha alpha", "beta beta"] * 8
    texts[5] = " "  # a blank text: warned about
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO, "zoo"):
        warnings.simplefilter("always")
        zoo.tune("lstm_sst2", (texts, [1, 0, 1, 0] * 8), max_trials=2,
                 directory=tmp_path / "search", vocab_size=50, sequence_length=8,
                 embedding_dim=4, lstm_units=(4,), **SMALL)
    blank = [w for w in caught if "texts are empty or blank" in str(w.message)]
    assert len(blank) == 1
    assert caplog.text.count("labels are class ids, read as 0 = negative") == 1


def test_warnings_said_once_keeps_the_callers_filters():
    # An earlier version recorded the warnings and showed them again after the block: a filter
    # of the caller's turning one into an error raised late, after the work went on.
    from zoo.tuning.search import warnings_said_once

    ran_on = []
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="blank texts")
        with pytest.raises(UserWarning, match="blank texts"), warnings_said_once(set()):
            warnings.warn("blank texts", UserWarning, stacklevel=1)
            ran_on.append(True)
    assert ran_on == []
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message="ignored here")
        with warnings_said_once({"said before"}) as said:
            warnings.warn("ignored here", stacklevel=1)
            warnings.warn("said before", stacklevel=1)
            warnings.warn("new", stacklevel=1)
    assert [str(w.message) for w in shown] == ["new"] and "new" in said
