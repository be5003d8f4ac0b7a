"""Fine-tuning: build(name, weights=PATH, num_classes=N, freeze_backbone=...)."""

import json
import shutil
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np
import pandas as pd
import pytest
from conftest import small_overrides
from helpers import digit_like_images, write_sentiment_tsv

import zoo
from zoo.errors import DataError, InvalidValueError
from zoo.serving.safety import UnsafeModelError
from zoo.spec import spec_of


@pytest.fixture
def trained_mlp(tmp_path):
    model = zoo.build("mlp_mnist")
    for variable in model.trainable_variables:  # distinguishable from a fresh initialization
        variable.assign(np.full(variable.shape, 0.01, "float32"))
    path = tmp_path / "mlp.keras"
    model.save(path)
    return model, path


def test_weights_move_and_a_new_head_is_fresh(trained_mlp):
    trained, path = trained_mlp
    tuned = zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True)
    np.testing.assert_array_equal(tuned.get_layer("hidden_0").get_weights()[0],
                                  trained.get_layer("hidden_0").get_weights()[0])
    assert tuned.output_shape == (None, 3)
    assert not np.allclose(tuned.get_layer("classifier").get_weights()[0], 0.01)
    assert [v.name for v in tuned.trainable_variables] == ["kernel", "bias"]  # the head only


def test_same_class_count_copies_everything_and_trains(trained_mlp):
    trained, path = trained_mlp
    tuned = zoo.build("mlp_mnist", weights=path)
    x = np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        tuned.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6
    )
    tuned.fit(x, np.arange(4), epochs=1, verbose=0)  # compiled with the recipe


def test_weights_file_of_weights_only(tmp_path):
    model = zoo.build("cnn_mnist", compile=False)
    model.save_weights(tmp_path / "cnn.weights.h5")
    again = zoo.build("cnn_mnist", weights=tmp_path / "cnn.weights.h5")
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    zoo.build("mlp_mnist", compile=False).save_weights(tmp_path / "mlp.weights.h5")
    with pytest.raises(DataError, match="layers block0_conv0, block1_conv0, classifier") as caught:
        zoo.build("cnn_mnist", weights=tmp_path / "mlp.weights.h5")
    # The layers and both shapes are named; Keras' dump of the variable's values is not passed on.
    assert "keeps weights by position, so it needs the same network" in str(caught.value)
    zoo.build("mlp_mnist", compile=False, units=(8,)).save_weights(tmp_path / "small.weights.h5")
    with pytest.raises(DataError, match="layers hidden_0, classifier do not match") as caught:
        zoo.build("mlp_mnist", weights=tmp_path / "small.weights.h5", num_classes=3)
    message = str(caught.value)
    assert "(784, 128)" in message and "(784, 8)" in message, message
    assert len(message) < 800, message
    # An HDF5 file without Keras' "layers" group (another library's) has nothing for any layer.
    with h5py.File(tmp_path / "other.weights.h5", "w") as other:
        other["weights"] = np.zeros(3)
    with pytest.raises(DataError, match=r"other.weights.h5 does not fit mlp_mnist: layers "
                       r"hidden_0, classifier do not match \(hidden_0: Layer 'hidden_0' expected "
                       r"2 variables, but received 0"):
        zoo.build("mlp_mnist", weights=tmp_path / "other.weights.h5")


@pytest.mark.parametrize("name, other_input, layer", [
    ("mlp_mnist", (14, 14, 1), "hidden_0"),  # its kernel has 196 rows, not 784
    ("cnn_mnist", (28, 28, 3), "block0_conv0"),  # its kernel reads 3 channels, not 1
], ids=["mlp", "cnn"])
def test_a_weights_file_of_another_input_names_the_one_layer_that_differs(name, other_input,
                                                                          layer, tmp_path):
    # One layer differs and it is not the head: not taken for a head of another class count,
    # the strict load names it.
    zoo.build(name, compile=False).save_weights(tmp_path / "trained.weights.h5")
    with pytest.raises(DataError, match=rf"does not fit {name}: layer {layer} does not match "
                                        r"\(.*variable\.shape=\("):
        zoo.build(name, weights=tmp_path / "trained.weights.h5", input_shape=other_input)


def test_a_weights_file_of_another_image_size_leaves_only_the_head_fresh(tmp_path):
    # cnn_mnist's head reads the flattened maps, whose size follows the image size: only the
    # head differs, with the same class count, so the convolutions start trained.
    trained = zoo.build("cnn_mnist", compile=False)
    trained.save_weights(tmp_path / "cnn.weights.h5")
    with pytest.warns(UserWarning) as caught:
        larger = zoo.build("cnn_mnist", weights=tmp_path / "cnn.weights.h5",
                           input_shape=(32, 32, 1))
    assert [str(warning.message) for warning in caught] == [
        f"1 layer(s) of cnn_mnist keep their fresh initialization instead of the weights in "
        f"{tmp_path / 'cnn.weights.h5'}: classifier (shapes differ). Build with the sizes the "
        f"weights were trained with to start from all of them."]
    for layer in ("block0_conv0", "block1_conv0"):
        np.testing.assert_array_equal(larger.get_layer(layer).get_weights()[0],
                                      trained.get_layer(layer).get_weights()[0])


def test_keras_warnings_of_a_load_that_fits_are_passed_on(tmp_path):
    # Caught while the load could still fail; once it fits, the caller gets them, as Keras'.
    from zoo.models.weights import load_weights_checked

    x, y = np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, "int64")
    sgd = zoo.build("mlp_mnist", units=(8,), optimizer="sgd")
    sgd.fit(x, y, verbose=0)
    sgd.save_weights(tmp_path / "sgd.weights.h5")
    adam = zoo.build("mlp_mnist", units=(8,), optimizer="adam")
    adam.fit(x, y, verbose=0)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer") as caught:
        load_weights_checked(adam, tmp_path / "sgd.weights.h5", DataError)
    assert caught[0].filename.endswith("saving_lib.py")  # still Keras' own: "from keras"
    np.testing.assert_array_equal(adam.get_layer("hidden_0").get_weights()[0],
                                  sgd.get_layer("hidden_0").get_weights()[0])


def test_a_weights_file_that_cannot_be_opened_is_a_path_error_not_damage(tmp_path, monkeypatch):
    # h5py's error with an errno (permissions: tests run as root, so h5py is made to refuse)
    # is the path's problem, which the command line words as such, not a corrupt file.
    locked = tmp_path / "locked.weights.h5"
    zoo.build("mlp_mnist", units=(8,), compile=False).save_weights(locked)
    real_file = h5py.File

    def denied(name, *args, **kwargs):
        if str(name) == str(locked):
            raise PermissionError(13, "Unable to synchronously open file (Permission denied)")
        return real_file(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", denied)
    with pytest.raises(PermissionError, match="Permission denied"):
        zoo.build("mlp_mnist", weights=locked, units=(8,))


def test_a_weights_file_starts_a_model_with_a_new_head(tmp_path):
    # Was refused ("needs the same architecture") while the docs promised a new head.
    model = zoo.build("cnn_mnist", compile=False)
    model.save_weights(tmp_path / "cnn.weights.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a new head asked for: nothing to warn about
        four = zoo.build("cnn_mnist", weights=tmp_path / "cnn.weights.h5", num_classes=4,
                         freeze_backbone=True)
    for layer in model.layers:
        if layer.weights and layer.name != "classifier":
            for a, b in zip(layer.get_weights(), four.get_layer(layer.name).get_weights(),
                            strict=True):
                np.testing.assert_array_equal(a, b)
            assert not four.get_layer(layer.name).trainable, layer.name
    assert four.get_layer("classifier").trainable and four.output_shape == (None, 4)
    four.fit(np.zeros((4, 28, 28, 1), "float32"), np.arange(4), epochs=1, verbose=0)
    # A 4-class file read into the entry's 10 classes: the head is left, and said so.
    four.save_weights(tmp_path / "four.weights.h5")
    with pytest.warns(UserWarning, match=r"four.weights.h5 end in a 4-class classifier, and "
                      r"cnn_mnist is built with 10 classes.*build with num_classes=4"):
        ten = zoo.build("cnn_mnist", weights=tmp_path / "four.weights.h5")
    np.testing.assert_array_equal(ten.get_layer("block1_conv0").get_weights()[0],
                                  four.get_layer("block1_conv0").get_weights()[0])
    # A deeper network's file: Keras would read its hidden layer into the head (weights by
    # position), with 16 classes silently and with others after "a new head".
    zoo.build("cnn_mnist", compile=False, dense_units=(16,)).save_weights(
        tmp_path / "deeper.weights.h5")
    for classes in ({}, {"num_classes": 16}, {"num_classes": 3}):
        with pytest.raises(DataError, match=r"deeper.weights.h5 does not fit cnn_mnist: it holds "
                           r"weights cnn_mnist has no place for \(dense_1; 8 weight arrays, "
                           r"cnn_mnist has 6\)"):
            zoo.build("cnn_mnist", weights=tmp_path / "deeper.weights.h5", **classes)


def test_bad_weights_are_explained(tmp_path, trained_mlp):
    _, path = trained_mlp
    with pytest.raises(DataError, match="absent.keras does not exist; expected weights as a "
                       "training workdir, a zoo.export directory, a .keras file or a "
                       r"\.weights\.h5 file\.$"):
        zoo.build("mlp_mnist", weights=tmp_path / "absent.keras")
    with pytest.raises(InvalidValueError, match="no layer of mlp.keras"):
        zoo.build("cnn_mnist", weights=path)
    zoo.build("mlp_mnist", num_classes=3, units=(8,)).save(tmp_path / "three.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another family: one error, no advice on class counts
        with pytest.raises(InvalidValueError, match="no layer of three.keras"):
            zoo.build("cnn_mnist", weights=tmp_path / "three.keras")
    # The classifier head alone matching (both end in Dense(128) -> 10 classes) is no start:
    # every layer that makes the features would stay fresh.
    zoo.build("cnn_mnist", compile=False, dense_units=(128,)).save(tmp_path / "cnn.keras")
    with pytest.raises(InvalidValueError, match=r"no layer of cnn.keras \(.*\) matches mlp_mnist"):
        zoo.build("mlp_mnist", weights=tmp_path / "cnn.keras", units=(128,))
    with pytest.raises(InvalidValueError, match="needs weights=PATH"):
        zoo.build("cnn_mnist", freeze_backbone=True)
    with pytest.raises(DataError, match="holds no model.keras"):
        zoo.build("cnn_mnist", weights=tmp_path)
    (tmp_path / "mlp.h5").write_bytes(b"")  # Keras 2's format, or another library's
    with pytest.raises(DataError, match=r"weights must be a .keras or .weights.h5 file, got "
                                        r"mlp.h5\."):
        zoo.build("mlp_mnist", weights=tmp_path / "mlp.h5")


def test_lambda_layers_are_refused(tmp_path):
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Lambda(lambda t: t * 2)(inputs)
    model = keras.Model(
        inputs, keras.layers.Dense(10, name="classifier")(keras.layers.Flatten()(outputs))
    )
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(UnsafeModelError, match="refusing to load .* Lambda"):
        zoo.build("mlp_mnist", weights=tmp_path / "lambda.keras")


def test_weights_are_read_as_safely_as_zoo_load(tmp_path):
    # A class registered by another package: Keras' safe mode would build it, zoo.load refuses.
    @keras.saving.register_keras_serializable(package="thirdparty")
    class Doubling(keras.layers.Layer):
        def call(self, inputs):
            return inputs * 2

    inputs = keras.Input((28, 28))
    hidden = keras.layers.Dense(32, name="hidden_0")(Doubling()(keras.layers.Flatten()(inputs)))
    keras.Model(inputs, keras.layers.Dense(10, name="classifier")(hidden),
                name="mlp_mnist").save(tmp_path / "foreign.keras")
    with pytest.raises(UnsafeModelError, match="Doubling"):
        zoo.build("mlp_mnist", weights=tmp_path / "foreign.keras")

    (tmp_path / "junk.keras").write_bytes(b"not a zip archive")
    with pytest.raises(DataError, match="not a readable .keras file"):
        zoo.build("mlp_mnist", weights=tmp_path / "junk.keras")


def test_layers_left_fresh_are_named(trained_mlp):
    _, path = trained_mlp
    # A second hidden layer has no trained weights; a new head is expected, so not named.
    with pytest.warns(UserWarning, match=r"1 layer\(s\) of mlp_mnist keep their fresh .*hidden_1"):
        zoo.build("mlp_mnist", weights=path, units=(128, 64), num_classes=3)


def test_a_trained_head_of_another_class_count_left_behind_is_named(tmp_path):
    three = zoo.build("mlp_mnist", num_classes=3, units=(8,), compile=False)
    three.save(tmp_path / "three.keras")
    # Without num_classes, the entry's 10 classes would replace the trained 3-class head unsaid.
    with pytest.warns(UserWarning, match=r"end in a 3-class classifier, and mlp_mnist is built "
                      r"with 10 classes: its classifier head starts fresh.*num_classes=3 "
                      r"\(command line: --set num_classes=3\).*pass num_classes=10"):
        zoo.build("mlp_mnist", weights=tmp_path / "three.keras", units=(8,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # chosen: no warning, with either class count
        assert zoo.build("mlp_mnist", weights=tmp_path / "three.keras", units=(8,),
                         num_classes=10).output_shape == (None, 10)
        kept = zoo.build("mlp_mnist", weights=tmp_path / "three.keras", units=(8,),
                         num_classes=3)
    np.testing.assert_array_equal(kept.get_layer("classifier").get_weights()[0],
                                  three.get_layer("classifier").get_weights()[0])


def test_a_workdirs_sizes_and_input_shape_are_named_where_they_differ(tmp_path):
    workdir = tmp_path / "cifar"  # as zoo.train leaves one: model.keras beside config.json
    workdir.mkdir()
    zoo.build("cnn_cifar10", compile=False).save(workdir / "model.keras")
    (workdir / "config.json").write_text('{"entry": "cnn_cifar10", "overrides": {"dropout": 0.1}}')
    with pytest.warns(UserWarning) as caught:
        zoo.build("cnn_mnist", weights=workdir, dropout=0.1)
    message = " ".join(str(warning.message) for warning in caught)
    assert "The weights were trained with block_dropout=0.25, convs_per_block=2" in message
    # Python literals both ways (padding='same', never JSON's "same" or false).
    assert "zoo.build('cnn_mnist', weights=..., block_dropout=0.25, " in message
    assert "--set 'dense_units=(512,)' --set padding=same" in message
    assert "dropout=0.1" not in message  # the same in both
    assert "trained on inputs of shape [32, 32, 3], cnn_mnist reads [28, 28, 1]." in message


def test_a_workdirs_input_shape_alone_is_named_and_an_unregistered_entrys_sizes_are_not(
        tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    zoo.build("mlp_mnist", compile=False, units=(8,)).save(workdir / "model.keras")
    (workdir / "config.json").write_text('{"entry": "mlp_mnist", "overrides": {"units": [8]}}')
    with pytest.raises(InvalidValueError) as raised:  # the same sizes: only the shape is told
        zoo.build("mlp_mnist", weights=workdir, units=(8,), input_shape=(14, 14, 1))
    assert ("same family and sizes. The weights were trained on inputs of shape [28, 28, 1], "
            "mlp_mnist reads [14, 14, 1]. Layers are matched by name") in str(raised.value)
    # A third party's entry that is not registered here: nothing to compare its sizes with.
    (workdir / "config.json").write_text('{"entry": "mlp_gone", "overrides": {"units": [8]}}')
    with pytest.raises(InvalidValueError) as raised:
        zoo.build("mlp_mnist", weights=workdir, units=(16,))
    assert ("weights can only start a model of the same family and sizes. Layers are matched by "
            "name") in str(raised.value)


def test_train_keeps_what_the_model_was_built_with(trained_mlp, tmp_path):
    _, path = trained_mlp
    model = zoo.build("mlp_mnist", weights=path, num_classes=3, dropout=0.1)
    x, y = digit_like_images(90, num_classes=3)
    result = zoo.train(model, (x, y), epochs=1, workdir=tmp_path / "run", verbose=0)
    assert result.spec.num_classes == 3 and result.spec.hyperparameters["dropout"] == 0.1
    assert result.run_config["overrides"] == {"dropout": 0.1, "epochs": 1, "num_classes": 3}
    assert result.report.confusion.shape == (3, 3)
    # The workdir describes the 3-class network, so it reloads and serves 3 classes.
    assert zoo.load(tmp_path / "run").predict(x[:4]).filter(like="p_").shape == (4, 3)

    with pytest.raises(InvalidValueError, match="already built, so dropout cannot change"):
        zoo.train(model, (x, y), epochs=1, dropout=0.5, verbose=0)
    # The same value, or a recipe field, is fine; so is the built width as a number.
    zoo.train(model, (x, y), epochs=1, num_classes=3, learning_rate=1e-4, verbose=0)
    zoo.train(model, (x, y), epochs=1, units=128, verbose=0)


def test_a_fine_tuning_workdir_resumes_only_from_the_same_weights_and_freezing(
    trained_mlp, tmp_path
):
    _, path = trained_mlp
    x, y = digit_like_images(60, num_classes=3)
    run = tmp_path / "run"
    model = zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True)
    result = zoo.train(model, (x, y), epochs=1, workdir=run, verbose=0)
    assert result.run_config["weights"].startswith("file:mlp.keras:")
    assert result.run_config["frozen_layers"] == ["hidden_0"]
    # The same command again: the same run, already complete.
    again = zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True)
    assert zoo.train(again, (x, y), epochs=1, workdir=run, verbose=0).run_config == (
        result.run_config
    )
    # Unfrozen, or from other weights: another run, refused with what differs.
    unfrozen = zoo.build("mlp_mnist", weights=path, num_classes=3)
    with pytest.raises(zoo.WorkdirConflictError, match="frozen_layers: was \\['hidden_0'\\]"):
        zoo.train(unfrozen, (x, y), epochs=1, workdir=run, verbose=0)
    other = tmp_path / "other.keras"
    retrained = zoo.build("mlp_mnist")
    retrained.save(other)
    moved = zoo.build("mlp_mnist", weights=other, num_classes=3, freeze_backbone=True)
    with pytest.raises(zoo.WorkdirConflictError, match="weights: was 'file:mlp.keras"):
        zoo.train(moved, (x, y), epochs=1, workdir=run, verbose=0)
    # A model trained from scratch records neither.
    fresh = zoo.train("mlp_mnist", (x, y), epochs=1, num_classes=3, verbose=0)
    assert "weights" not in fresh.run_config and "frozen_layers" not in fresh.run_config


def test_text_fine_tuning_keeps_the_pretrained_vocabulary(tmp_path):
    spec = zoo.get_spec("lstm_sst2")
    tiny = small_overrides(spec)
    first = zoo.train("lstm_sst2", write_sentiment_tsv(tmp_path / "a.tsv"), epochs=1,
                      workdir=tmp_path / "run", verbose=0, **tiny)
    model = zoo.build("lstm_sst2", weights=tmp_path / "run", **tiny)
    other = pd.DataFrame({"sentence": ["new words entirely", "quite unlike the first"] * 10,
                          "label": [0, 1] * 10})
    tuned = zoo.train(model, other, epochs=1, verbose=0)
    # Each pretrained embedding row still belongs to the word it was trained for.
    assert tuned.preprocessor.vocabulary == first.preprocessor.vocabulary

    (tmp_path / "model_only").mkdir()
    first.model.save(tmp_path / "model_only" / "lstm.keras")
    with pytest.warns(UserWarning, match="holds no vocabulary"):
        zoo.build("lstm_sst2", weights=tmp_path / "model_only" / "lstm.keras", **tiny)


@pytest.mark.parametrize("name", ["mlp_mnist", "lstm_sst2"])
def test_an_export_starts_a_model_with_the_weights_it_serves(name, tmp_path):
    spec = zoo.get_spec(name)
    tiny = small_overrides(spec)
    data = (digit_like_images(64) if spec.input.kind == "image"
            else write_sentiment_tsv(tmp_path / "a.tsv"))
    first = zoo.train(name, data, epochs=1, verbose=0, workdir=tmp_path / "run", **tiny)
    export = zoo.export(first, tmp_path / "export")
    # An export of the workdir serves the model loaded from its .keras file, whose wrapped
    # layers (the LSTM's Bidirectional) name their variables without the wrapper.
    for source in (export, zoo.export(tmp_path / "run", tmp_path / "export_of_workdir")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no layer left at its fresh initialization
            tuned = zoo.build(name, weights=source, num_classes=3, **tiny)
        for weight in tuned.weights:
            if not weight.path.startswith("classifier/"):
                trained = next(w for w in first.model.weights if w.path == weight.path)
                np.testing.assert_array_equal(weight.numpy(), trained.numpy(),
                                              err_msg=weight.path)
    assert tuned.output_shape == (None, 3)
    if spec.input.kind == "text":  # the export keeps its vocabulary for zoo.train
        vocabulary = zoo.models.weights.pretrained_vocabulary(tuned).vocabulary
        assert vocabulary == first.preprocessor.vocabulary
    with pytest.raises(InvalidValueError, match="no layer of export .*an export of"):
        zoo.build("cnn_mnist", weights=export)
    # The entry at its own sizes: the sizes the export was trained with are named.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            zoo.build(name, weights=export)
            message = " ".join(str(warning.message) for warning in caught)
        except InvalidValueError as error:
            message = str(error)
    assert "The weights were trained with " in message, message


def test_weights_that_are_not_a_path_or_an_export_without_zoo_json_are_explained(tmp_path):
    with pytest.raises(InvalidValueError, match="weights must be the path of a training workdir, "
                       "a zoo.export directory, a .keras file or a .weights.h5 file, got int 123"):
        zoo.build("mlp_mnist", weights=123)
    for empty in ("", "  ", Path("  ")):  # as Path(""), they would name the current folder
        with pytest.raises(InvalidValueError, match=r"weights \(--weights\) is an empty path"):
            zoo.build("mlp_mnist", weights=empty)
    # A SavedModel without zoo.json: said as zoo.load says it, not "holds no model.keras".
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(DataError, match="is a SavedModel but not a zoo export: it has no "
                       "assets.extra/zoo.json"):
        zoo.build("mlp_mnist", weights=tmp_path / "saved")


@pytest.mark.parametrize("damage", ["empty", "truncated", "not hdf5"])
def test_a_damaged_weights_file_is_explained(damage, tmp_path):
    whole = tmp_path / "whole.weights.h5"
    zoo.build("mlp_mnist", units=(8,), compile=False).save_weights(whole)
    contents = {"empty": b"", "truncated": whole.read_bytes()[:2000],
                "not hdf5": b"just some text\n"}[damage]
    damaged = tmp_path / "damaged.weights.h5"
    damaged.write_bytes(contents)
    with pytest.raises(DataError, match=r"damaged.weights.h5 is not a readable .weights.h5 file "
                       r"\(.+\); it may be empty, truncated or corrupt"):
        zoo.build("mlp_mnist", weights=damaged, units=(8,))


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    """A finished small lstm_sst2 run with a bag of bigrams: (workdir, its data, overrides)."""
    folder = tmp_path_factory.mktemp("lstm")
    tiny = {**small_overrides(zoo.get_spec("lstm_sst2")), "bigram_buckets": 64, "bigram_dim": 4}
    data = write_sentiment_tsv(folder / "a.tsv", repeats=3)
    zoo.train("lstm_sst2", data, epochs=1, workdir=folder / "run", verbose=0, **tiny)
    return folder / "run", data, tiny


@pytest.mark.parametrize("other_input", [{"vocab_size": 300}, {"sequence_length": 24}])
def test_layers_indexed_by_token_ids_of_another_vocabulary_start_fresh(other_input, lstm_run):
    run, _, tiny = lstm_run
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the run's own vocabulary: every layer moves
        same = zoo.build("lstm_sst2", weights=run, **tiny)
    # Built for another vocabulary, its bigram rows (hashed pairs of token ids) and word rows
    # would stand for other words: zoo.train fits a new vocabulary for this model.
    with pytest.warns(UserWarning) as caught:
        other = zoo.build("lstm_sst2", weights=run, **{**tiny, **other_input})
    message = " ".join(str(warning.message) for warning in caught)
    assert "bigram_embedding (indexed by token ids of another vocabulary)" in message, message
    assert "does not fit lstm_sst2" in message
    assert zoo.models.weights.pretrained_vocabulary(other) is None
    for name in ("bigram_embedding", "embedding"):
        if tuple(other.get_layer(name).weights[0].shape) == tuple(
            same.get_layer(name).weights[0].shape
        ):
            assert not np.allclose(other.get_layer(name).get_weights()[0],
                                   same.get_layer(name).get_weights()[0]), name
    np.testing.assert_array_equal(other.get_layer("classifier").get_weights()[0],
                                  same.get_layer("classifier").get_weights()[0])


def test_fresh_token_id_layers_stay_trainable_under_freeze_backbone(lstm_run):
    # Frozen, the embeddings left fresh for another vocabulary would stay random for good.
    run, _, tiny = lstm_run
    with pytest.warns(UserWarning, match="They stay trainable under freeze_backbone"):
        other = zoo.build("lstm_sst2", weights=run, freeze_backbone=True,
                          **{**tiny, "sequence_length": 24})
    trainable = {layer.name: layer.trainable for layer in other.layers if layer.weights}
    assert trainable == {"embedding": True, "bigram_embedding": True, "bidirectional_0": False,
                         "classifier": True}


def test_token_id_layers_are_found_by_type_whatever_their_names():
    from zoo.models.layers import TokenAndPositionEmbedding
    from zoo.models.weights import token_id_layers

    ids = keras.Input((8,), dtype="int32")
    words = keras.layers.Embedding(50, 4, name="word_vectors")(ids)
    both = TokenAndPositionEmbedding(50, 8, 4, name="tokens")(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Add()([words, both]))
    model = keras.Model(ids, keras.layers.Dense(2, name="classifier")(pooled))
    assert token_id_layers(model) == ("word_vectors", "tokens")


def test_a_weights_file_of_another_vocabulary_leaves_the_token_id_layers_fresh(lstm_run, tmp_path):
    run, _, tiny = lstm_run
    same = zoo.build("lstm_sst2", weights=run, **tiny)
    # Beside a copy of the run's vocabulary, not in the module's shared run.
    shutil.copytree(run / "preprocessor", tmp_path / "preprocessor")
    same.save_weights(tmp_path / "copy.weights.h5")
    with pytest.warns(UserWarning, match=r"2 layer\(s\) .* embedding \(indexed by token ids of "
                      r"another vocabulary\), bigram_embedding \(indexed by token ids"):
        other = zoo.build("lstm_sst2", weights=tmp_path / "copy.weights.h5",
                          **{**tiny, "sequence_length": 24})
    for name in ("bigram_embedding", "embedding"):
        assert not np.allclose(other.get_layer(name).get_weights()[0],
                               same.get_layer(name).get_weights()[0]), name


def test_a_text_model_started_from_a_run_evaluates_and_exports_with_its_vocabulary(
    lstm_run, tmp_path
):
    run, data, tiny = lstm_run
    model = zoo.build("lstm_sst2", weights=run, **tiny)
    # As zoo.train does, without preprocessor=: the same weights and words as the run's.
    assert zoo.evaluate(model, data).accuracy == zoo.evaluate(run, data).accuracy
    exported = zoo.export(model, tmp_path / "export")
    of_the_run = zoo.export(run, tmp_path / "run_export")
    sentences = ["a wonderful , moving film", "dull and tired", "an unseen word: zyzzyva"]
    pd.testing.assert_frame_equal(zoo.load(exported).predict(sentences),
                                  zoo.load(of_the_run).predict(sentences))


def test_more_epochs_of_a_fine_tuning_run_point_to_the_same_freezing(trained_mlp, tmp_path):
    _, path = trained_mlp
    x, y = digit_like_images(60, num_classes=3)
    frozen = tmp_path / "frozen"
    zoo.train(zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True), (x, y),
              epochs=1, workdir=frozen, verbose=0)
    again = zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True)
    with pytest.raises(zoo.WorkdirConflictError) as caught:
        zoo.train(again, (x, y), epochs=2, workdir=frozen, verbose=0)
    # Following the hint without them would unfreeze the backbone: another run than this one.
    message = str(caught.value)
    assert f"--weights {frozen} --freeze-backbone --workdir NEW" in message, message
    assert (f"zoo.train(zoo.build('mlp_mnist', weights={str(frozen)!r}, freeze_backbone=True, "
            f"num_classes=3), data, workdir=NEW, epochs=N))") in message, message

    # Layers frozen by hand (not what freeze_backbone freezes): named, for Python only.
    with pytest.warns(UserWarning, match="hidden_1"):  # no trained weights for it
        by_hand = zoo.build("mlp_mnist", weights=path, num_classes=3, units=(128, 8))
    by_hand.get_layer("hidden_1").trainable = False
    zoo.train(by_hand, (x, y), epochs=1, workdir=tmp_path / "by_hand", verbose=0)
    with pytest.raises(zoo.WorkdirConflictError) as caught:
        zoo.train(by_hand, (x, y), epochs=2, workdir=tmp_path / "by_hand", verbose=0)
    message = str(caught.value)
    assert "--freeze-backbone" in message and "zoo train " not in message, message
    assert ("with the layers it kept frozen (hidden_1) frozen again; only Python can freeze "
            "these") in message, message
    assert ("num_classes=3, units=(128, 8)); for name in ['hidden_1']: "
            "model.get_layer(name).trainable = False; then zoo.train(model, data, workdir=NEW, "
            "epochs=N).") in message, message


def test_a_workdir_starts_a_model_from_its_final_model_else_its_best_epoch(tmp_path):
    # model.keras is what the run ended with (and what zoo.load serves); best.keras, the only
    # model of an interrupted run, is read only without it.
    from zoo.models.weights import pretrained_source

    def saved(name, value):
        model = zoo.build("mlp_mnist", units=(8,), compile=False)
        model.set_weights([np.full(w.shape, value, w.dtype) for w in model.get_weights()])
        model.save(tmp_path / name)

    saved("best.keras", 2.0)
    with pytest.warns(UserWarning, match=r"holds no model\.keras \(its run has not finished\): "
                      r"the model starts from its best\.keras, the best epoch so far\.$"):
        started = zoo.build("mlp_mnist", units=(8,), weights=tmp_path, compile=False)
    assert pretrained_source(started).name == "best.keras"
    assert started.get_layer("hidden_0").get_weights()[0].flat[0] == 2.0
    saved("model.keras", 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        started = zoo.build("mlp_mnist", units=(8,), weights=tmp_path, compile=False)
    assert pretrained_source(started).name == "model.keras"
    assert started.get_layer("hidden_0").get_weights()[0].flat[0] == 1.0


def test_a_model_whose_only_weights_are_its_head_starts_from_that_head(tmp_path):
    # A linear classifier of one's own: its head is all there is to copy. It was refused as
    # "no layer matches ... name your layers", though it had named them.
    def linear(*, input_shape, num_classes, name="linear_digits"):
        inputs = keras.Input(input_shape, name="image")
        features = keras.layers.Flatten(name="flat")(inputs)
        return keras.Model(inputs, zoo.models.classifier_head(features, num_classes), name=name)

    @zoo.register_model(owner="tests")
    def linear_digits() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="linear", dataset="mnist", num_classes=10, builder=linear,
                             input=zoo.ImageInput((28, 28, 1)))

    try:
        trained = zoo.build("linear_digits", compile=False)
        trained.set_weights([np.full(w.shape, 0.5, w.dtype) for w in trained.get_weights()])
        trained.save(tmp_path / "model.keras")
        started = zoo.build("linear_digits", weights=tmp_path, compile=False)
        for kept, copied in zip(trained.get_weights(), started.get_weights(), strict=True):
            np.testing.assert_array_equal(kept, copied)
        with pytest.raises(InvalidValueError, match=r"^the only weights of linear_digits are "
                           r"its head, and model\.keras \(.*\) has none that fit it: classifier "
                           r"\(trained for another class count\)\. Build the model with the "
                           r"class count it was trained with, or build it without weights=\.$"):
            zoo.build("linear_digits", weights=tmp_path, num_classes=3)
        # Another input size: the head's shapes differ, and the class count is not the fix.
        with pytest.raises(InvalidValueError, match=r"none that fit it: classifier \(shapes "
                           r"differ\)\. Start it from weights of the same model \(its run, "
                           r"export or \.keras file\), or build it without weights=\.$"):
            zoo.build("linear_digits", weights=tmp_path, input_shape=(14, 14, 1))
    finally:
        zoo.unregister_model("linear_digits")


def test_a_run_on_named_labels_keeps_its_class_names_through_its_files(tmp_path):
    """A digit entry trained on word labels numbers its classes in sorted order ("eight" is
    class 0). Its best.keras, and models built from its weights, were labelled with the entry's
    own names ("0".."9"): predictions said "0" for "eight", and an export served the wrong
    labels without a word."""
    words = np.array("zero one two three four five six seven eight nine".split())
    x, y = digit_like_images(120)
    run = tmp_path / "run"
    zoo.train("mlp_mnist", (x, words[y]), epochs=1, workdir=run, verbose=0, units=(8,))
    named = tuple(sorted(words))
    assert zoo.load(run).class_names == named
    for source in (run / "best.keras", run / "model.keras"):
        assert zoo.load(source).class_names == named
        report = zoo.evaluate(source, (x[:20], words[y[:20]]))  # word labels map as the run's
        assert report.accuracy == zoo.evaluate(run, (x[:20], words[y[:20]])).accuracy
    built = zoo.build("mlp_mnist", weights=run, units=(8,))
    export = zoo.export(built, tmp_path / "export")
    assert zoo.load(export).class_names == named
    assert zoo.load(export).predict(x[:5]).label.tolist() == (
        zoo.load(run).predict(x[:5]).label.tolist())
    assert spec_of(zoo.build("mlp_mnist", weights=export, units=(8,))).class_names == named
    # A new head is the caller's to name; a weights-only file records no names.
    fresh = zoo.build("mlp_mnist", weights=run, units=(8,), num_classes=3)
    assert spec_of(fresh).class_names == ()
    with pytest.warns(UserWarning, match="classifier"):  # a head of other sizes starts fresh
        other_sizes = zoo.build("mlp_mnist", weights=run, units=(8, 16))
    assert spec_of(other_sizes).class_names == tuple(map(str, range(10)))
    digits = tuple(map(str, range(10)))
    built.save_weights(tmp_path / "w.weights.h5")
    assert spec_of(zoo.build("mlp_mnist", weights=tmp_path / "w.weights.h5",
                             units=(8,))).class_names == digits
    # Only the run's own model files carry its names, a link to one too; a file of one's own
    # saved into the workdir is not what the run trained.
    built.save_weights(run / "mine.weights.h5")
    assert spec_of(zoo.build("mlp_mnist", weights=run / "mine.weights.h5",
                             units=(8,))).class_names == digits
    (tmp_path / "linked.keras").symlink_to(run / "best.keras")
    assert zoo.load(tmp_path / "linked.keras").class_names == named
    # Recorded when the run begins: an interrupted run (no model.keras or report.json yet)
    # reads so too; a run of an older zoo, without classes.json, from its report.json.
    assert json.loads((run / "classes.json").read_text()) == {"class_names": list(named)}
    unfinished = shutil.copytree(run, tmp_path / "unfinished")
    (unfinished / "model.keras").unlink()
    (unfinished / "report.json").unlink()
    assert zoo.load(unfinished / "best.keras").class_names == named
    with pytest.warns(UserWarning, match="has not finished"):
        started = zoo.build("mlp_mnist", weights=unfinished, units=(8,))
    assert spec_of(started).class_names == named
    (run / "classes.json").unlink()
    assert zoo.load(run / "best.keras").class_names == named
    # A run's names that are its entry's own are no data's: another entry built from its
    # weights keeps its own (fashion_mnist's clothes did not become mnist's digits).
    clothes = tmp_path / "clothes"
    zoo.train("mlp_fashion_mnist", (x, y), epochs=1, workdir=clothes, verbose=0, units=(8,))
    assert zoo.load(clothes).class_names[0] == "T-shirt/top"
    assert spec_of(zoo.build("mlp_mnist", weights=clothes, units=(8,))).class_names == digits
