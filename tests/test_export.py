"""zoo.export and zoo.load: raw-input SavedModels for every family, parity, atomicity, safety."""

import dataclasses
import errno
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from conftest import small_overrides
from helpers import (
    NEGATIVE,
    POSITIVE,
    REPO,
    digit_like_images,
    write_digits_npz,
    write_sentiment_tsv,
)

import zoo
from zoo import cli
from zoo.cli import main
from zoo.serving import archive, exporter, safety
from zoo.serving.inputs import as_images

pytestmark = [
    pytest.mark.usefixtures("fresh_keras_session"),
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]

BIN = Path(sys.executable).parent
# The entries on the smallest inputs: one or more per family (test_every_family_is_covered).
ENTRIES = [name for dataset in ("mnist", "glue/sst2") for name in zoo.list_models(dataset=dataset)]
SENTENCES = [*POSITIVE, *NEGATIVE, "An UNSEEN word, with punctuation!", ""]


def quiet_environment() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def small_model(name: str, seed: int = 0):
    """A freshly built, shrunk entry and its fitted preprocessor."""
    spec = zoo.get_spec(name)
    spec = spec.with_overrides(**small_overrides(spec))
    keras.utils.set_random_seed(seed)
    preprocessor = zoo.data.make_preprocessor(spec)
    if spec.input.kind == "text":
        preprocessor.adapt(SENTENCES)
    return spec.build_model(), preprocessor


def raw_inputs(spec) -> np.ndarray:
    if spec.input.kind == "text":
        return np.array(SENTENCES, dtype=object)
    images, _ = digit_like_images(12, seed=3)
    if spec.input.shape != (28, 28, 1):
        images = np.random.default_rng(3).integers(0, 256, (12, *spec.input.shape), dtype=np.uint8)
    return images.reshape((12, *spec.input.shape))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Each family's export, its raw inputs and the in-memory model's probabilities on them."""
    made = {}
    for name in ENTRIES:
        model, preprocessor = small_model(name)
        inputs = raw_inputs(preprocessor.spec)
        expected = np.asarray(model(preprocessor(inputs), training=False))
        directory = tmp_path_factory.mktemp("exports") / name
        made[name] = (zoo.export(model, directory, preprocessor=preprocessor), inputs, expected)
    return made


def export_of_kind(exports: dict, kind: str) -> Path:
    """The first export of an image or text entry."""
    return next(path for name, (path, _, _) in exports.items()
                if zoo.get_spec(name).input.kind == kind)


def staging_leftovers(target: Path) -> list[str]:
    return [p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]


# ---- round trip ---------------------------------------------------------------------------------


def test_every_family_is_covered():
    assert {zoo.get_spec(name).family for name in ENTRIES} == {
        zoo.get_spec(name).family for name in zoo.list_models()
    }
    assert {zoo.get_spec(name).input.kind for name in ENTRIES} == {"image", "text"}


@pytest.mark.parametrize("name", zoo.list_models())
def test_an_export_stores_each_weight_once(name, tmp_path):
    # Keras' ExportArchive.track(model) stored every weight twice, as Keras' variable wrappers
    # and as the tf.Variables the endpoint captures (keras-team/keras#23553): 51 MB for a 25 MB
    # model, and twice the memory in a server. Batch normalization's moving statistics (not
    # trainable) must still travel: zoo.export's parity check reloads and compares.
    model, preprocessor = small_model(name)
    path = zoo.export(model, tmp_path / "export", preprocessor=preprocessor)
    stored = [(key, shape) for key, shape in tf.train.list_variables(
        str(path / "variables" / "variables")) if key.endswith("VARIABLE_VALUE")]
    served = tf.saved_model.load(str(path))
    assert len(stored) == len(served.variables) > 0
    assert sum(int(np.prod(shape)) for _, shape in stored) == sum(
        int(np.prod(v.shape)) for v in served.variables)
    statistics = [w for w in model.non_trainable_weights if "moving_" in w.path]
    assert len(served.non_trainable_variables) == len(statistics)
    assert len(served.trainable_variables) == len(model.trainable_weights)


@pytest.mark.parametrize("name", ENTRIES)
def test_an_export_evaluates_as_its_model_does(name, exports):
    path, inputs, expected = exports[name]
    labels = np.arange(len(inputs)) % 2
    report = zoo.evaluate(zoo.load(path), (inputs, labels))  # = zoo.load(path).evaluate(...)
    in_memory = zoo.evaluation.classification_report(labels, expected, report.per_class.index)
    assert report.num_examples == len(inputs)
    assert report.accuracy == in_memory.accuracy
    pd.testing.assert_frame_equal(report.confusion, in_memory.confusion)
    assert report.loss == pytest.approx(in_memory.loss, rel=1e-4)
    # In chunks smaller than the data (5, 5 and 2 of 12), every example is still scored once.
    chunked = zoo.load(path).evaluate((inputs, labels), batch_size=5)
    assert chunked.num_examples == len(inputs) and chunked.accuracy == report.accuracy
    pd.testing.assert_frame_equal(chunked.confusion, report.confusion)
    assert chunked.loss == pytest.approx(report.loss, rel=1e-5)


def test_an_export_path_evaluated_with_a_data_dir_says_it_is_unused(exports, caplog):
    path, inputs, _ = exports["mlp_mnist"]
    with caplog.at_level(logging.WARNING, logger="zoo"):
        report = zoo.evaluate(path, (inputs, np.arange(len(inputs)) % 2), data_dir="tfds_here")
    assert report.num_examples == len(inputs)
    assert caplog.messages == ["data_dir=tfds_here is not used: an export is scored on local data."]


def test_an_export_loads_outside_a_strategys_scope_and_predicts_inside_it(exports):
    # Loaded inside the scope, its first call failed deep in TensorFlow ("cross-replica context
    # in an in-replica context"), for zoo.load and zoo.evaluate of an export path alike.
    path, inputs, expected = exports["mlp_mnist"]
    labels = np.arange(len(inputs)) % 2
    with tf.distribute.MirroredStrategy().scope():
        for load in (lambda: zoo.load(path), lambda: zoo.evaluate(path, (inputs, labels))):
            with pytest.raises(zoo.errors.InvalidValueError,
                               match=r"cannot load the export in .* inside `with "
                                     r"strategy.scope\(\):` of a MirroredStrategy.* Load it "
                                     r"before the `with` block"):
                load()
    predictor = zoo.load(path)
    with tf.distribute.MirroredStrategy().scope():
        frame = predictor.predict(inputs)
    probabilities = frame[[f"p_{name}" for name in predictor.class_names]].to_numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_an_export_maps_named_labels_to_its_classes_and_refuses_others(exports, tmp_path,
                                                                       capsys, caplog):
    path = exports["lstm_sst2"][0]
    names = zoo.get_spec("lstm_sst2").class_names  # ('negative', 'positive')
    frame = pd.DataFrame({"sentence": [*POSITIVE, *NEGATIVE],
                          "label": [names[1]] * len(POSITIVE) + [names[0]] * len(NEGATIVE)})
    with caplog.at_level("INFO", logger="zoo.data"):
        named = zoo.load(path).evaluate(frame)
        assert caplog.messages == []  # labels that are names need no reading
        ids = [1] * len(POSITIVE) + [0] * len(NEGATIVE)
        numbered = zoo.load(path).evaluate(frame.assign(label=ids))
    pd.testing.assert_frame_equal(named.confusion, numbered.confusion)
    # Ids are read as the export's classes, said as zoo.evaluate says it for a run (it was not).
    assert caplog.messages == [f"the DataFrame of {len(frame)} rows: labels are class ids, read "
                               f"as 0 = negative, 1 = positive"]
    with pytest.raises(zoo.DataError, match="labels not among the class names: 'good'"):
        zoo.load(path).evaluate(frame.assign(label="good"))
    # Images with labels beyond its two classes: the kind is named, not the labels.
    images = (np.zeros((3, 28, 28), "uint8"), [0, 5, 9])
    with pytest.raises(zoo.DataError, match=r"this model classifies texts, but received images "
                       r"\(the \(x, y\) arrays of 3 examples\)\. Score it on labelled texts"):
        zoo.load(path).evaluate(images)
    # the command line takes exports too
    tsv = write_sentiment_tsv(tmp_path / "sentences.tsv", repeats=1)
    assert main(["evaluate", str(path), "--data", str(tsv)]) == 0
    assert capsys.readouterr().out == (
        f"zoo: 'sentences.tsv': labels are class ids, read as 0 = negative, 1 = positive\n"
        f"{zoo.load(path).evaluate(str(tsv))}\n"
    )
    # A TFDS name: the way to score the run on it, not an API hint about zoo.data.load.
    assert main(["evaluate", str(path), "--data", "glue/sst2", "--no-download"]) == 2
    error = capsys.readouterr().err
    assert "an export is scored on local labelled data" in error and "zoo evaluate RUN" in error


@pytest.mark.parametrize("name", ENTRIES)
def test_round_trip_gives_identical_predictions(name, exports):
    path, inputs, expected = exports[name]
    spec = zoo.get_spec(name)
    key = "text" if spec.input.kind == "text" else "image"

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = serve(**{key: tf.constant(inputs)})
    assert outputs["probabilities"].dtype == tf.float32
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(outputs["class_id"].numpy(), expected.argmax(axis=1))
    labels = [label.decode() for label in outputs["label"].numpy()]
    assert labels == [spec.class_names[i] for i in expected.argmax(axis=1)]

    predictor = zoo.load(path)
    frame = predictor.predict(list(inputs) if key == "text" else inputs)
    assert list(frame.columns) == ["class_id", "label", "probability",
                                   *[f"p_{c}" for c in spec.class_names]]
    probabilities = frame[[f"p_{c}" for c in spec.class_names]].to_numpy()
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert frame["label"].tolist() == labels
    # The probability of the class answered: the highest of each row, not one class's column.
    np.testing.assert_allclose(frame["probability"], expected.max(axis=1), atol=1e-6)
    assert predictor.kind == spec.input.kind
    # Calling the predictor is predicting (predictor(x), as a keras.Model is called).
    pd.testing.assert_frame_equal(predictor(list(inputs) if key == "text" else inputs), frame)
    # Chunks smaller than the input (4 + 4 + 4 and 5 + 5 + 2 of 12) fill every row, as one did.
    for batch_size in (4, 5):
        chunked = predictor.predict(list(inputs) if key == "text" else inputs,
                                    batch_size=batch_size)
        pd.testing.assert_frame_equal(chunked, frame, atol=1e-6)

    metadata = predictor.metadata
    assert metadata["entry"] == name and metadata["class_names"] == list(spec.class_names)
    shrunk = spec.with_overrides(**small_overrides(spec))  # what small_model built
    assert metadata["hyperparameters"] == json.loads(json.dumps(dict(shrunk.hyperparameters)))
    assert metadata["parity"]["passed"] and metadata["parity"]["max_abs_difference"] <= 1e-4
    assert set(metadata["versions"]) == {"zoo", "tensorflow", "keras", "numpy", "python"}
    assert metadata["signature"]["input"]["dtype"] == ("string" if key == "text" else "uint8")


def test_exports_run_with_tensorflow_alone(exports, tmp_path):
    """A subprocess in which neither zoo nor Keras can be imported serves both kinds of export."""
    text, image = export_of_kind(exports, "text"), export_of_kind(exports, "image")
    script = textwrap.dedent(f"""
        import sys
        sys.modules["zoo"] = sys.modules["keras"] = None  # importing either now fails
        import tensorflow as tf
        for module in ("zoo", "keras"):
            try:
                __import__(module)
                raise SystemExit(module + " was importable")
            except ImportError:
                pass
        text = tf.saved_model.load({str(text)!r}).signatures["serving_default"]
        print(text(text=tf.constant(["a wonderful film", "so dull"]))["label"].numpy().tolist())
        image = tf.saved_model.load({str(image)!r}).signatures["serving_default"]
        print(image(image=tf.zeros((3, 28, 28, 1), tf.uint8))["probabilities"].shape)
    """)
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, env=quiet_environment(), timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "(3, 10)" in run.stdout and ("negative" in run.stdout or "positive" in run.stdout)


def test_serving_signature_refuses_other_shapes_and_answers_empty_batches(exports):
    for name, (path, _, _) in exports.items():
        spec = zoo.get_spec(name)
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        if spec.input.kind == "image":
            feed = {"image": tf.zeros((0, *spec.input.shape), tf.uint8)}
            # Without its channel axis: some CPU kernels aborted the process on this shape.
            wrong = {"image": tf.zeros((2, *spec.input.shape[:2]), tf.uint8)}
        else:
            feed, wrong = {"text": tf.constant([], tf.string)}, {"text": tf.constant([["a"]])}
        assert serve(**feed)["probabilities"].shape == (0, spec.num_classes), name
        with pytest.raises(tf.errors.InvalidArgumentError):
            serve(**wrong)


@pytest.mark.skipif(not (BIN / "saved_model_cli").exists(), reason="saved_model_cli not installed")
def test_saved_model_cli_shows_and_runs_the_export(exports, tmp_path):
    image = exports["cnn_mnist"][0]
    shown = subprocess.run(
        [str(BIN / "saved_model_cli"), "show", "--dir", str(image), "--tag_set", "serve",
         "--signature_def", "serving_default"],
        capture_output=True, text=True, env=quiet_environment(), timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for line in ("inputs['image']", "DT_UINT8", "(-1, 28, 28, 1)", "outputs['probabilities']",
                 "outputs['class_id']", "outputs['label']"):
        assert line in shown.stdout, line

    text = export_of_kind(exports, "text")
    ran = subprocess.run(
        [str(BIN / "saved_model_cli"), "run", "--dir", str(text), "--tag_set", "serve",
         "--signature_def", "serving_default",
         "--input_exprs", 'text=["a wonderful , moving film", "boring and far too long"]'],
        capture_output=True, text=True, env=quiet_environment(), timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Result for output key probabilities" in ran.stdout
    assert "Result for output key label" in ran.stdout


# ---- from training: TrainResult, workdir, command line ----------------------------------------


def test_export_of_a_trained_run_records_how_it_was_trained(tmp_path):
    images, labels = digit_like_images(200)
    names = np.array([f"band-{label}" for label in labels])  # the data names its classes
    np.savez(tmp_path / "digits.npz", x=images, y=names)
    result = zoo.train("mlp_mnist", str(tmp_path / "digits.npz"), epochs=1, seed=3,
                       workdir=tmp_path / "run", verbose=0, units=(16,))

    from_result = zoo.load(zoo.export(result, tmp_path / "from_result"))
    from_workdir = zoo.load(zoo.export(tmp_path / "run", tmp_path / "from_workdir"))
    for metadata in (from_result.metadata, from_workdir.metadata):
        assert metadata["training"]["seed"] == 3
        assert metadata["training"]["data"].startswith("file:digits.npz:")
        assert metadata["training"]["overrides"]["units"] == [16]
        assert metadata["training"]["epochs"] == 1
        assert metadata["hyperparameters"]["units"] == [16]
        assert metadata["evaluation"]["accuracy"] == pytest.approx(result.report.accuracy)
        assert metadata["class_names"] == [f"band-{k}" for k in range(10)]
    # The bare model keeps the names too: its export must not serve the entry's '0'..'9'.
    from_model = zoo.load(zoo.export(result.model, tmp_path / "from_model"))
    assert from_model.metadata["class_names"] == [f"band-{k}" for k in range(10)]
    images, _ = digit_like_images(20, seed=9)
    predictions = from_result.predict(images)
    pd.testing.assert_frame_equal(predictions, from_model.predict(images))
    assert predictions["label"].str.startswith("band-").all() and "p_band-0" in predictions
    pd.testing.assert_frame_equal(predictions, from_workdir.predict(images))
    # The workdir itself serves too (Keras model + preprocessing), with the same answers.
    np.testing.assert_allclose(zoo.load(tmp_path / "run").predict(images)["probability"],
                               from_result.predict(images)["probability"], atol=1e-6)


def test_cli_train_export_then_predict(tmp_path, capsys):
    data = write_sentiment_tsv(tmp_path / "reviews.tsv", repeats=4)
    export = tmp_path / "served"
    assert main(["train", "transformer_sst2", "--data", str(data), "--epochs", "1",
                 "--export", str(export), "--set", "vocab_size=200", "--set", "sequence_length=16",
                 "--set", "embed_dim=8", "--set", "ff_dim=16", "--set", "num_layers=1"]) == 0
    assert f"zoo: exported transformer_sst2 to {export} in " in capsys.readouterr().out
    assert archive.is_export(export)

    sentences = tmp_path / "sentences.txt"
    sentences.write_text("a wonderful , moving film\n\n  \nthe worst film of the year\n")
    predictions = tmp_path / "predictions.csv"
    assert main(["predict", str(export), str(sentences), "--output", str(predictions)]) == 0
    printed = capsys.readouterr().out
    assert "p_negative" in printed and "p_positive" in printed
    frame = pd.read_csv(predictions)
    assert len(frame) == 2 and set(frame["label"]) <= {"negative", "positive"}
    assert frame["text"].tolist() == ["a wonderful , moving film", "the worst film of the year"]
    # Blank lines are skipped, so each row says its line in the file (rows joined back by it).
    assert frame.columns[:3].tolist() == ["line", "text", "class_id"]
    assert frame["line"].tolist() == [1, 4]

    # The export target is checked before training: an existing one fails in a second.
    assert main(["train", "transformer_sst2", "--data", str(data), "--export", str(export)]) == 2
    refusal = capsys.readouterr().err
    assert "already holds a zoo export" in refusal and "--overwrite-export" in refusal
    first_export = (export / "assets.extra" / "zoo.json").stat().st_mtime_ns
    assert main(["train", "transformer_sst2", "--data", str(data), "--export", str(export),
                 "--overwrite-export", "--epochs", "1", "--set", "vocab_size=200", "--set",
                 "sequence_length=16", "--set", "embed_dim=8", "--set", "ff_dim=16", "--set",
                 "num_layers=1"]) == 0
    assert (export / "assets.extra" / "zoo.json").stat().st_mtime_ns != first_export


def test_cli_predict_images_and_errors(exports, tmp_path, capsys):
    path = exports["cnn_mnist"][0]
    images, _ = digit_like_images(5)
    np.savez(tmp_path / "images.npz", x=images)
    assert main(["predict", str(path), str(tmp_path / "images.npz")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 6  # header + 5 rows

    np.savez(tmp_path / "floats.npz", x=images.astype("float32") / 255)  # as training takes
    assert main(["predict", str(path), str(tmp_path / "floats.npz"), "--output",
                 str(tmp_path / "floats.csv")]) == 0
    expected = zoo.load(path).predict(images)
    assert pd.read_csv(tmp_path / "floats.csv")["class_id"].tolist() == expected[
        "class_id"].tolist()
    np.savez(tmp_path / "floats.npz", x=images.astype("float32"))  # 0-255: not the scale
    assert main(["predict", str(path), str(tmp_path / "floats.npz")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("zoo: error: expected uint8 pixels") and "received float32" in error
    assert main(["predict", str(tmp_path / "nowhere"), str(tmp_path / "images.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict", str(path), str(tmp_path / "images.npz"), "--output",
                 str(tmp_path)]) == 2
    assert "cannot write predictions to" in capsys.readouterr().err
    assert main(["predict", str(path), str(tmp_path / "images.npz"), "--output",
                 "/dev/null/out.csv"]) == 2
    assert "the directory of --output /dev/null is a file" in capsys.readouterr().err
    # A missing directory is made, as --workdir's is.
    nested = tmp_path / "new" / "dir" / "predictions.csv"
    assert main(["predict", str(path), str(tmp_path / "images.npz"), "--output",
                 str(nested)]) == 0
    assert len(pd.read_csv(nested)) == 5
    assert "warning" not in capsys.readouterr().out
    # A name of another format is written as CSV still, and said to be (it was silent).
    named_txt = tmp_path / "predictions.txt"
    assert main(["predict", str(path), str(tmp_path / "images.npz"), "--output",
                 str(named_txt)]) == 0
    assert (f"zoo: warning: --output {named_txt}: predictions will be written as CSV, whatever "
            f"the name's .txt; name it .csv or .tsv or .json or .jsonl to say so.\n"
            ) in capsys.readouterr().out
    assert len(pd.read_csv(named_txt)) == 5

    # A folder of image files: each row names its file.
    folder = tmp_path / "scans"
    (folder / "more").mkdir(parents=True)
    for index, image in enumerate(images[:3]):
        name = f"{index}.png" if index < 2 else "more/2.png"
        (folder / name).write_bytes(tf.io.encode_png(image[..., None]).numpy())
    assert main(["predict", str(path), str(folder), "--output", str(tmp_path / "scans.csv")]) == 0
    table = pd.read_csv(tmp_path / "scans.csv")
    assert table["file"].tolist() == ["0.png", "1.png", "more/2.png"]
    expected = zoo.load(path).predict(images[:3])
    assert table["class_id"].tolist() == expected["class_id"].tolist()
    # On screen, file names stay whole: alike in their first 40 characters, they read as one.
    long = folder / "a_session_of_the_morning_on_the_first_camera"
    long.mkdir()
    for side in ("left", "right"):
        (long / f"digit_{side}.png").write_bytes(tf.io.encode_png(images[0][..., None]).numpy())
    capsys.readouterr()
    assert main(["predict", str(path), str(long)]) == 0
    shown = capsys.readouterr().out
    assert "digit_left.png" in shown and "digit_right.png" in shown
    assert main(["predict", str(path), str(tmp_path / "new")]) == 2
    assert "is a folder without images" in capsys.readouterr().err
    # One image file, named in its row (it was "unknown file extension '.png'").
    assert main(["predict", str(path), str(folder / "more" / "2.png"), "--output",
                 str(tmp_path / "one.csv")]) == 0
    one = pd.read_csv(tmp_path / "one.csv")
    assert one["file"].tolist() == ["2.png"]
    assert one["class_id"].tolist() == expected["class_id"].tolist()[2:]
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert main(["predict", str(path), str(tmp_path / "broken.png")]) == 2
    assert capsys.readouterr().err.startswith(f"zoo: error: could not read {tmp_path}/broken.png")
    (tmp_path / "photo.webp").write_bytes(b"RIFF")  # an image TensorFlow cannot decode
    assert main(["predict", str(path), str(tmp_path / "photo.webp")]) == 2
    # Named as the file given, not as its folder holding "1 image(s)".
    assert (f"zoo: error: {tmp_path}/photo.webp is an image in a format zoo cannot decode; "
            f"expected .png, .jpg, .jpeg, .bmp, .gif. Convert it") in capsys.readouterr().err


def test_cli_predict_reads_the_text_column_named(exports, tmp_path, capsys):
    path = export_of_kind(exports, "text")
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("label,review\n1,a fine film\n0,so dull\n")
    assert main(["predict", str(path), str(reviews)]) == 2
    assert ("reviews.csv has no 'sentence' or 'text' column; found columns ['label', 'review']. "
            "Name the column holding the text: --text-column NAME") in capsys.readouterr().err
    assert main(["predict", str(path), str(reviews), "--text-column", "review",
                 "--output", str(tmp_path / "out.csv")]) == 0
    # Under the column's own name (was "text"), so that the rows read as the table's.
    written = pd.read_csv(tmp_path / "out.csv")
    assert written["review"].tolist() == ["a fine film", "so dull"] and "text" not in written
    # The table's other columns are kept, so that each prediction joins back to its row's id;
    # a column named as a prediction's (the table's true label) is kept as input_<name>.
    assert written.columns[:4].tolist() == ["input_label", "review", "class_id", "label"]
    assert written["input_label"].tolist() == [1, 0]
    (tmp_path / "ids.tsv").write_text("id\tlabel\tinput_label\tsentence\n"
                                      "a7\tpos\tx\tgreat fun\nb9\tneg\ty\tawful\n")
    assert main(["predict", str(path), str(tmp_path / "ids.tsv"),
                 "--output", str(tmp_path / "ids_out.csv")]) == 0
    written = pd.read_csv(tmp_path / "ids_out.csv")
    assert written.columns[:6].tolist() == ["id", "input_input_label", "input_label", "sentence",
                                            "class_id", "label"]
    assert written["id"].tolist() == ["a7", "b9"]
    assert written["input_input_label"].tolist() == ["pos", "neg"]
    assert written["class_id"].tolist() == zoo.load(path).predict(
        ["great fun", "awful"])["class_id"].tolist()
    # A name the predictions give a column of their own, used as the text column.
    (tmp_path / "labels.csv").write_text("label\nsuch fun\n")
    assert main(["predict", str(path), str(tmp_path / "labels.csv"), "--text-column", "label",
                 "--output", str(tmp_path / "labels_out.csv")]) == 0
    written = pd.read_csv(tmp_path / "labels_out.csv")
    assert written.columns[:3].tolist() == ["input_label", "class_id", "label"]
    assert written["input_label"].tolist() == ["such fun"]
    # A folder of .txt files: each row names its file and its text.
    (tmp_path / "notes" / "more").mkdir(parents=True)
    (tmp_path / "notes" / "b.txt").write_text("so dull")
    (tmp_path / "notes" / "more" / "a.txt").write_text("a fine film")
    assert main(["predict", str(path), str(tmp_path / "notes"),
                 "--output", str(tmp_path / "notes.csv")]) == 0
    written = pd.read_csv(tmp_path / "notes.csv")
    assert written.columns[:3].tolist() == ["file", "text", "class_id"]
    assert written[["file", "text"]].values.tolist() == [["b.txt", "so dull"],
                                                         ["more/a.txt", "a fine film"]]
    capsys.readouterr()
    # On screen too, each row with the start of its sentence (was: ids and scores only).
    long = "a film so long-winded and so dull that " * 3
    reviews.write_text(f"label,review,note\n1,a fine film,ok\n0,{long},{long}\n")
    assert main(["predict", str(path), str(reviews), "--text-column", "review"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert "review" in rows[0].split() and "a fine film" in rows[1], rows
    # 40 characters of each text column, the table's other ones too.
    assert rows[2].count("a film so long-winded and so dull tha...") == 2, rows
    assert main(["predict", str(path), str(reviews), "--text-column", "Review"]) == 2
    assert "has no column 'Review'" in capsys.readouterr().err


def test_cli_predict_into_a_closed_pipe_and_into_a_file(exports, tmp_path, capsys):
    images, _ = digit_like_images(3000)
    np.savez(tmp_path / "many.npz", x=images)
    # `zoo predict ... | head -1`: the reader leaves after one line; more rows than a pipe holds.
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "predict", str(exports["cnn_mnist"][0]),
         str(tmp_path / "many.npz")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    process.stdout.readline()
    process.stdout.close()
    error = process.stderr.read()
    assert process.wait(timeout=300) == 141  # 128 + SIGPIPE, as a shell tool reports it
    assert "Traceback" not in error and "BrokenPipeError" not in error

    # With --output every row goes to the file, and the terminal gets a preview.
    output = tmp_path / "predictions.csv"
    assert main(["predict", str(exports["cnn_mnist"][0]), str(tmp_path / "many.npz"),
                 "--output", str(output)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 + cli.PREVIEW_ROWS + 1  # header, rows, the line saying where
    assert printed[-1] == f"... 2980 more rows; all 3000 are in {output}"
    assert len(pd.read_csv(output)) == 3000


# ---- refusals and failures --------------------------------------------------------------------


def test_parity_failure_raises_and_leaves_nothing(tmp_path, monkeypatch):
    model, preprocessor = small_model("mlp_mnist")
    other, _ = small_model("mlp_mnist", seed=1)  # same architecture, other weights
    real_archive = exporter.serving_archive
    monkeypatch.setattr(exporter, "serving_archive",
                        lambda _model, *args: real_archive(other, *args))
    target = tmp_path / "export"
    with pytest.raises(zoo.ExportError, match="does not match the model.*Nothing was exported"):
        zoo.export(model, target)
    assert not target.exists() and not staging_leftovers(target)


def test_a_label_table_out_of_order_fails_parity_and_leaves_nothing(tmp_path, monkeypatch):
    # Probabilities and class ids that match are not enough: an export whose `label` output names
    # other classes (its table mixed up while tracing) would serve wrong answers with confidence.
    model, preprocessor = small_model("mlp_mnist")
    real_archive = exporter.serving_archive
    monkeypatch.setattr(exporter, "serving_archive", lambda model, preprocessor, names:
                        real_archive(model, preprocessor, list(reversed(names))))
    target = tmp_path / "export"
    # Said as what it is: no tolerance would make other labels right.
    with pytest.raises(zoo.ExportError, match=r"names its classes otherwise than the model: \d+ "
                       r"of \d+ sample inputs get another label.*Nothing was exported"):
        zoo.export(model, target)
    assert not target.exists() and not staging_leftovers(target)
    # A model without class names serves its ids as labels: checked as well.
    unnamed = preprocessor.spec.with_overrides(num_classes=3)
    monkeypatch.setattr(exporter, "serving_archive", lambda model, preprocessor, names:
                        real_archive(model, preprocessor, ["a", "b", "c"]))
    with pytest.raises(zoo.ExportError, match=r"names its classes otherwise than the model"):
        zoo.export(unnamed.build_model(), target, preprocessor=zoo.data.make_preprocessor(unnamed),
                   sample=np.random.default_rng(0).integers(0, 256, (64, 28, 28), "uint8"))
    assert not target.exists()


def test_a_model_returning_nan_is_refused_as_such(tmp_path):
    model, _ = small_model("mlp_mnist")
    kernel = model.get_layer("classifier").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    target = tmp_path / "export"
    with pytest.raises(zoo.ExportError, match=r"returns NaN or infinite probabilities for \d+ of "
                                              r"\d+ sample inputs.*Nothing was exported"):
        zoo.export(model, target)  # not "differ by up to nan": there is nothing to compare
    assert not target.exists() and not staging_leftovers(target)
    # Folders made for it go too: an error writes nothing.
    with pytest.raises(zoo.ExportError, match="NaN"):
        zoo.export(model, tmp_path / "new" / "deeper" / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _average_of_words(*, vocab_size, sequence_length, num_classes, name=None):
    """Keras' own masked average pooling: 0/0 for a text without words."""
    ids = keras.Input((None,), dtype="int32")
    words = keras.layers.Embedding(vocab_size, 8, mask_zero=True)(ids)
    pooled = keras.layers.GlobalAveragePooling1D()(words)
    return keras.Model(ids, zoo.models.classifier_head(pooled, num_classes), name=name)


def test_nan_for_the_empty_text_alone_is_named_and_predictions_do_not_label_nan(tmp_path):
    # "Diverged weights: lower the learning rate" could never fix it; and a loaded run
    # labelled the empty text "negative" with probability NaN.
    spec = dataclasses.replace(zoo.get_spec("lstm_sst2"), builder=_average_of_words,
                               hyperparameters={}, name="")
    model = spec.build_model()
    preprocessor = zoo.data.make_preprocessor(spec)
    preprocessor.adapt(SENTENCES)
    with pytest.raises(zoo.ExportError, match=r"returns NaN or infinite probabilities for the "
                       r"empty text among the sample inputs, and only for it: .*Nothing was "
                       r"exported. Pool with zoo.models.MaskedGlobalPooling1D"):
        zoo.export(model, tmp_path / "export", preprocessor=preprocessor)
    assert not (tmp_path / "export").exists()

    from zoo.serving.predictor import Predictor

    probabilities = np.array([[0.2, 0.8], [np.nan, np.nan]], np.float32)
    predictor = Predictor(lambda batch: (probabilities, probabilities.argmax(axis=1)),
                          kind="text", input_shape=(None,), class_names=("negative", "positive"),
                          metadata={}, source="test")
    with pytest.warns(UserWarning, match=r"NaN or infinite probabilities for 1 of 2 inputs "
                      r"\(positions 1\): their class_id and label are missing"):
        frame = predictor.predict(["a fine film", ""])
    assert frame["class_id"].isna().tolist() == [False, True] and frame["class_id"][0] == 1
    assert frame["label"][0] == "positive" and frame["label"].isna().tolist() == [False, True]


def test_a_failed_write_is_one_export_error_and_keeps_the_export_there(tmp_path, monkeypatch):
    model, _ = small_model("mlp_mnist")
    target = zoo.export(model, tmp_path / "export")
    before = (target / "saved_model.pb").read_bytes()

    class FullDisk:
        def write_out(self, *args, **kwargs):
            raise tf.errors.OutOfRangeError(None, None, "{{function_node __wrapped__SaveV2}} "
                                            "/x/variables_temp; File too large [Op:SaveV2]")

    monkeypatch.setattr(exporter, "serving_archive", lambda *args: FullDisk())
    with pytest.raises(zoo.ExportError, match=r"could not write the export .*export: "
                       r"/x/variables_temp; File too large\. Nothing was exported \(an export "
                       r"already there is kept\); free some space"):
        zoo.export(model, target, overwrite=True)
    assert (target / "saved_model.pb").read_bytes() == before and not staging_leftovers(target)


def test_an_overwrite_whose_last_rename_fails_puts_the_old_export_back(tmp_path, monkeypatch):
    # The old export is moved aside before the new one is renamed in: a failure there (a full
    # disk's metadata, a server holding the directory on some systems) must not leave nothing.
    model, _ = small_model("mlp_mnist")
    target = zoo.export(model, tmp_path / "export")
    before = (target / "saved_model.pb").read_bytes()
    real_replace = os.replace

    def failing(source, destination):
        if Path(source).name.startswith(".export.tmp-") and Path(destination) == target:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, destination)

    monkeypatch.setattr(archive.os, "replace", failing)
    other, _ = small_model("cnn_mnist")
    with pytest.raises(zoo.ExportError, match=r"could not write the export .*No space left on "
                       r"device\. Nothing was exported \(an export already there is kept\)"):
        zoo.export(other, target, overwrite=True)
    monkeypatch.setattr(archive.os, "replace", real_replace)
    assert archive.is_export(target), sorted(path.name for path in tmp_path.iterdir())
    assert (target / "saved_model.pb").read_bytes() == before
    assert zoo.load(target).metadata["entry"] == "mlp_mnist" and not staging_leftovers(target)


def test_an_empty_directory_is_filled_not_replaced(tmp_path, monkeypatch):
    # Its owner, group and mode may be set up for a server; it may be the working directory.
    model, _ = small_model("mlp_mnist")
    target = tmp_path / "served"
    target.mkdir()
    target.chmod(0o2750)
    inode = target.stat().st_ino
    monkeypatch.chdir(target)
    # saved_model.pb goes in last: until then the directory is not an export (a server watching
    # it, or a crash midway, never finds a SavedModel without its variables).
    moved_in, real_replace = [], os.replace

    def recording(source, destination):
        if Path(destination).resolve().parent == target.resolve():
            moved_in.append(Path(destination).name)
        real_replace(source, destination)

    monkeypatch.setattr(archive.os, "replace", recording)
    zoo.export(model, ".")
    monkeypatch.setattr(archive.os, "replace", real_replace)
    assert moved_in[-1] == "saved_model.pb" and {"variables", "assets.extra"} <= set(moved_in)
    assert target.stat().st_ino == inode and target.stat().st_mode & 0o7777 == 0o2750
    assert Path.cwd() == target and zoo.load(".").metadata["entry"] == "mlp_mnist"
    assert not staging_leftovers(target)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"overwrite": "no"}, r"overwrite must be one of True, False, got 'no'"),
    ({"path": None}, r"export target must be a path \(a str or pathlib\.Path\), got NoneType"),
    ({"sample": np.zeros((0, 28, 28), np.uint8)}, r"sample holds no inputs; the parity check"),
    ({"model": np.zeros((2, 28, 28))}, r"cannot export a ndarray; expected the TrainResult of "
                                       r"zoo\.train, a training workdir path or an image entry's"),
])
def test_bad_export_arguments_are_refused_before_exporting(arguments, message, tmp_path):
    model, _ = small_model("mlp_mnist")
    arguments = {"path": tmp_path / "export", **arguments}
    with pytest.raises(zoo.InvalidValueError, match=message):
        zoo.export(arguments.pop("model", model), arguments.pop("path"), **arguments)
    assert not (tmp_path / "export").exists()


@pytest.mark.parametrize(("document", "message"), [
    ("{}", r"its format None is not one this zoo reads \(up to 1\)"),
    ("[]", r"it holds a JSON list, not an object"),
    ('{"format": 1, "num_classes": "ten"}', r"its num_classes is 'ten', not a positive integer"),
    ('{"format": 1, "num_classes": 0}', r"its num_classes is 0, not a positive integer"),
    ('{"format": 99, "num_classes": 10}', r"its format 99 is not one this zoo reads \(up to 1\)"),
    ('{"format": 1, "num_classes": 2, "class_names": "ab"}', r"its class_names is not a list"),
    ('{"format": 1, "num_classes": 10, "class_names": ["a", "b", "c"]}',
     r"it names 3 classes in class_names but its num_classes is 10"),
])
def test_a_zoo_json_that_is_not_an_exports_is_one_clear_error(exports, tmp_path, document,
                                                              message):
    damaged = tmp_path / "damaged"
    shutil.copytree(export_of_kind(exports, "image"), damaged)
    (damaged / "assets.extra" / "zoo.json").write_text(document)
    with pytest.raises(zoo.DataError, match=rf"cannot read .*zoo\.json: {message}\. Export the "):
        zoo.load(damaged)


def test_a_zoo_json_of_another_class_count_than_the_graph_is_refused_on_load(exports, tmp_path,
                                                                             capsys):
    # It loaded, then every prediction failed deep in NumPy ("could not broadcast ... (1,10)
    # into shape (1,3)"), and `zoo predict` printed that traceback with status 1.
    edited = tmp_path / "edited"
    shutil.copytree(export_of_kind(exports, "image"), edited)
    metadata_path = edited / "assets.extra" / "zoo.json"
    metadata = json.loads(metadata_path.read_text())
    metadata.update(num_classes=3, class_names=["a", "b", "c"])
    metadata_path.write_text(json.dumps(metadata))
    message = (f"{metadata_path} says 3 classes, but the SavedModel beside it gives 10 "
               f"probabilities: they come from different exports, or zoo.json was edited.")
    with pytest.raises(zoo.DataError, match=re.escape(message)):
        zoo.load(edited)
    images, _ = digit_like_images(2)
    np.savez(tmp_path / "images.npz", x=images)
    assert main(["predict", str(edited), str(tmp_path / "images.npz")]) == 2
    assert capsys.readouterr().err.startswith(f"zoo: error: {message}")


def test_a_zoo_json_beside_another_kind_of_saved_model_is_refused_by_name(tmp_path):
    # Keras' model.export() serves `output_0`: the class count check raised a bare KeyError.
    model, _ = small_model("mlp_mnist")
    model.export(str(tmp_path / "plain"), verbose=False)
    (tmp_path / "plain" / "assets.extra").mkdir()
    (tmp_path / "plain" / "assets.extra" / "zoo.json").write_text(
        '{"format": 1, "num_classes": 10}')
    with pytest.raises(zoo.DataError, match=r"gives output_0, not the probabilities, class_id "
                       r"and label a zoo export serves: it was not written by zoo\.export"):
        zoo.load(tmp_path / "plain")


def test_killed_export_leaves_nothing_at_the_target(tmp_path):
    target = tmp_path / "export"
    flag = tmp_path / "saved_model_written"
    # The child stops for good once the SavedModel is written and before it is renamed into place.
    script = textwrap.dedent(f"""
        import pathlib, time
        import zoo
        from zoo.serving import exporter
        def stall(*args, **kwargs):
            pathlib.Path({str(flag)!r}).touch()
            time.sleep(600)
        exporter.check_parity = stall
        zoo.export(zoo.build("mlp_mnist", units=(8,)), {str(target)!r})
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=quiet_environment(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the export never got to writing the SavedModel"
            time.sleep(0.05)
        leftover = staging_leftovers(target)
        assert len(leftover) == 1 and (tmp_path / leftover[0] / "saved_model.pb").is_file()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not target.exists()

    # The next export succeeds and sweeps away what the killed one left.
    model, _ = small_model("mlp_mnist")
    zoo.export(model, target)
    assert archive.is_export(target) and not staging_leftovers(target)


def test_an_export_set_aside_by_a_killed_replacement_is_named_and_kept(tmp_path):
    model, _ = small_model("mlp_mnist")
    target = zoo.export(model, tmp_path / "export")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    aside = tmp_path / f".export.old-{gone}-abcd1234"  # killed between its two renames
    os.replace(target, aside)
    with pytest.raises(zoo.DataError, match=r"export does not exist; .* An export interrupted "
                       r"while replacing it left the previous one at .*\.export\.old-"):
        zoo.load(target)
    # Refused before the export's work (the export would put the old one back first).
    with pytest.raises(zoo.ExportError, match=r"holds a zoo export, moved aside to \.export\.old-"
                       r".* by an export that was interrupted .*pass overwrite=True"):
        zoo.export(model, target)
    assert aside.is_dir() and not target.exists()
    zoo.export(model, target, overwrite=True)
    assert archive.is_export(target) and not aside.exists() and not staging_leftovers(target)


def test_an_export_published_meanwhile_by_another_process_is_not_replaced(tmp_path,
                                                                           monkeypatch):
    model, _ = small_model("mlp_mnist")
    theirs = zoo.export(model, tmp_path / "theirs")
    target = tmp_path / "export"
    real = archive.check_target
    calls = []

    def racing(path, overwrite=False):
        checked = real(path, overwrite=overwrite)
        calls.append(path)
        if len(calls) == 2:  # the last check before publishing: another process publishes now
            shutil.copytree(theirs, target)
        return checked

    monkeypatch.setattr(archive, "check_target", racing)
    with pytest.raises(zoo.ExportError, match="already holds a zoo export; pass overwrite=True"):
        with archive.publishing(target) as staging:
            (staging / "saved_model.pb").write_bytes(b"ours")
    assert (target / "saved_model.pb").read_bytes() == (theirs / "saved_model.pb").read_bytes()
    assert not staging_leftovers(target)


def test_publishing_skips_a_staging_name_in_use(tmp_path, monkeypatch):
    # Drawn twice in one process (a thread's export to the same target): the next name is drawn,
    # and the other staging directory is left to its export.
    tokens = iter(["aaaa0000", "bbbb1111"])
    monkeypatch.setattr(archive.secrets, "token_hex", lambda size: next(tokens))
    taken = tmp_path / f".export.tmp-{os.getpid()}-aaaa0000"
    taken.mkdir()
    (taken / "saved_model.pb").write_bytes(b"theirs")
    with archive.publishing(tmp_path / "export") as staging:
        assert staging.name == f".export.tmp-{os.getpid()}-bbbb1111"
        (staging / "saved_model.pb").write_bytes(b"ours")
    assert (tmp_path / "export" / "saved_model.pb").read_bytes() == b"ours"
    assert (taken / "saved_model.pb").read_bytes() == b"theirs"


def test_a_failed_publish_leaves_the_target_and_its_parents_as_they_were(tmp_path, monkeypatch):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    # No staging directory can be made beside the target: named, and the parents made go again.
    real_mkdir = Path.mkdir

    def refused(self, *args, **kwargs):
        if self.name.startswith(".export.tmp-"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)
    with pytest.raises(zoo.ExportError, match=r"cannot write beside .*/new/export: \[Errno 13\] "
                       r"Permission denied: .*\. Pick a writable directory\.$"):
        with archive.publishing(tmp_path / "new" / "export"):
            pass
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()

    # The last rename fails for another reason than an export there: that error, nothing left.
    _fail_moves_to(monkeypatch, "rename", tmp_path / "export", full)
    with pytest.raises(OSError, match="No space left on device"):
        with archive.publishing(tmp_path / "export") as staging:
            (staging / "saved_model.pb").write_bytes(b"ours")
    assert not (tmp_path / "export").exists() and not staging_leftovers(tmp_path / "export")
    monkeypatch.undo()

    # An empty target being filled: what was moved in goes back out, and it is empty again.
    empty = tmp_path / "served"
    empty.mkdir()
    _fail_moves_to(monkeypatch, "replace", empty / "saved_model.pb", full)
    with pytest.raises(OSError, match="No space left on device"):
        with archive.publishing(empty) as staging:
            (staging / "variables").mkdir()
            (staging / "saved_model.pb").write_bytes(b"ours")
    assert list(empty.iterdir()) == [] and not staging_leftovers(empty)
    monkeypatch.undo()

    # A parent made for the export that something else wrote into meanwhile is kept, with its
    # file; the one below it, empty, goes. The block's own error is the one raised.
    with pytest.raises(RuntimeError, match="the export's work failed"):
        with archive.publishing(tmp_path / "made" / "v1" / "export"):
            (tmp_path / "made" / "notes.txt").write_text("written meanwhile")
            raise RuntimeError("the export's work failed")
    assert sorted(path.name for path in (tmp_path / "made").iterdir()) == ["notes.txt"]


def _fail_moves_to(monkeypatch, function: str, target: Path, error: OSError) -> None:
    """`archive.os.<function>` (rename or replace) raises `error` for a move onto `target`."""
    real = getattr(archive.os, function)

    def move(source, destination):
        if Path(destination) == target:
            raise error
        real(source, destination)

    monkeypatch.setattr(archive.os, function, move)


def test_names_too_long_for_their_temporary_name_are_refused_before_the_work(tmp_path, capsys):
    model, _ = small_model("mlp_mnist")
    long_name = "m" * 240
    with pytest.raises(zoo.ExportError, match=r"the export's name is 240 bytes long; .*Use a name "
                       r"of at most 231 bytes"):
        zoo.export(model, tmp_path / long_name)
    # There, but never read: the name is refused first.
    for stand_in in ("x.npz", "model.keras"):
        (tmp_path / stand_in).write_bytes(b"")
    assert main(["evaluate", str(tmp_path / "model.keras"), "--data", str(tmp_path / "x.npz"),
                 "--output", str(tmp_path / "out" / f"{long_name}.json")]) == 2
    assert "--output's name is 245 bytes long" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_existing_target_is_refused_unless_overwrite(exports, tmp_path):
    model, _ = small_model("mlp_mnist")
    target = zoo.export(model, tmp_path / "export")
    with pytest.raises(zoo.ExportError, match="already holds a zoo export; pass overwrite=True"):
        zoo.export(model, target)

    other, _ = small_model("cnn_mnist")
    zoo.export(other, target, overwrite=True)
    assert zoo.load(target).metadata["entry"] == "cnn_mnist"
    assert not staging_leftovers(target)
    umask = os.umask(0o022)
    os.umask(umask)
    for path in (target, target / "assets.extra" / "zoo.json"):  # as mkdir and open make them
        expected = (0o777 if path.is_dir() else 0o666) & ~umask
        assert path.stat().st_mode & 0o777 == expected, path

    not_an_export = tmp_path / "notes"
    not_an_export.mkdir()
    (not_an_export / "keep.txt").write_text("precious")
    with pytest.raises(zoo.ExportError, match=r"not a zoo export \(no saved_model.pb and no "
                       r"assets.extra/zoo.json\); zoo will not replace it, even with "
                       r"overwrite=True"):
        zoo.export(model, not_an_export, overwrite=True)
    # What an export killed mid-way could leave: what it lacks is named, not what it has.
    (not_an_export / "assets.extra").mkdir()
    (not_an_export / "assets.extra" / "zoo.json").write_text("{}")
    with pytest.raises(zoo.ExportError, match=r"not a zoo export \(no saved_model.pb\);"):
        zoo.export(model, not_an_export, overwrite=True)
    # Without overwrite too: the message must not suggest an overwrite that would be refused.
    with pytest.raises(zoo.ExportError, match="not a zoo export") as refused:
        zoo.export(model, not_an_export)
    assert "pass overwrite=True" not in str(refused.value)
    a_file = tmp_path / "model.txt"
    a_file.write_text("precious")
    with pytest.raises(zoo.ExportError, match=f"{a_file} exists and is not a zoo export "
                       r"\(a file, not a directory\)"):
        zoo.export(model, a_file)
    assert a_file.read_text() == "precious"
    assert (not_an_export / "keep.txt").read_text() == "precious"

    # A link to an export ("latest -> v1") is replaced; the export it pointed to stays.
    latest = tmp_path / "latest"
    latest.symlink_to(target)
    zoo.export(model, latest, overwrite=True)
    assert not latest.is_symlink() and zoo.load(latest).metadata["entry"] == "mlp_mnist"
    assert zoo.load(target).metadata["entry"] == "cnn_mnist" and not staging_leftovers(latest)


@pytest.mark.parametrize("tolerance", [-1e-4, float("nan"), float("inf"), "1e-4", True])
def test_a_bad_tolerance_is_refused_before_exporting(tolerance, tmp_path):
    model, _ = small_model("mlp_mnist")
    with pytest.raises(zoo.InvalidValueError, match="tolerance must be a finite number >= 0"):
        zoo.export(model, tmp_path / "export", tolerance=tolerance)
    assert not (tmp_path / "export").exists()


def test_missing_parents_are_made_and_unusable_ones_are_a_clear_error(tmp_path, monkeypatch):
    model, _ = small_model("mlp_mnist")
    # Made as a workdir's and predict --output's directories are.
    nested = tmp_path / "missing" / "v1" / "export"
    assert zoo.export(model, nested) == nested and zoo.load(nested).metadata["entry"] == "mlp_mnist"
    (tmp_path / "a_file").write_text("precious")
    with pytest.raises(zoo.ExportError, match="its parent .*a_file is not a directory"):
        zoo.export(model, tmp_path / "a_file" / "export")
    with pytest.raises(zoo.ExportError, match="parent directory .*a_file/deeper cannot be created"):
        zoo.export(model, tmp_path / "a_file" / "deeper" / "export")
    assert (tmp_path / "a_file").read_text() == "precious"

    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the probe folder fail as a user's would
        from zoo import checks

        real_mkdtemp = checks.tempfile.mkdtemp

        def mkdtemp(*args, dir=None, **kwargs):
            if Path(dir) == read_only:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            return real_mkdtemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(checks.tempfile, "mkdtemp", mkdtemp)
    try:
        with pytest.raises(zoo.ExportError, match="read_only is not writable"):
            zoo.export(model, read_only / "export")
    finally:
        read_only.chmod(0o755)
    assert not any(read_only.iterdir())
    if Path("/proc/self").is_dir():  # refuses new folders whatever the permissions say, root too
        with pytest.raises(zoo.ExportError, match=r"/proc is not writable \("):
            zoo.export(model, "/proc/zoo-export")


def test_export_reads_paths_as_zoo_load_does(exports, tmp_path):
    # An export is not what zoo.export takes, so the message does not offer one, nor the
    # previous export that an interrupted export left beside the path (zoo.load names it).
    (tmp_path / ".absent.old-999999999-0").mkdir()  # of a process that is gone
    with pytest.raises(zoo.DataError, match=r"absent does not exist; expected a training "
                       r"workdir or a \.keras file\.$"):
        zoo.export(tmp_path / "absent", tmp_path / "export")
    with pytest.raises(zoo.DataError, match=r"An export interrupted while replacing it left "
                       r"the previous one at .*\.absent\.old-999999999-0"):
        zoo.evaluate(tmp_path / "absent", (np.zeros((2, 28, 28), "uint8"), [0, 1]))
    image_export = export_of_kind(exports, "image")
    with pytest.raises(zoo.DataError, match=r"is already a zoo export: it serves as it is "
                       r"\(zoo\.load, zoo predict and zoo evaluate take it\)\. To export "
                       r"again, pass the training workdir"):
        zoo.export(image_export, tmp_path / "export")
    assert not (tmp_path / "export").exists()
    # An image entry's .keras file exports as the model in it.
    model, preprocessor = small_model("cnn_mnist")
    model.save(tmp_path / "cnn.keras")
    exported = zoo.load(zoo.export(tmp_path / "cnn.keras", tmp_path / "export"))
    images = raw_inputs(preprocessor.spec)
    expected = np.asarray(model(preprocessor(images), training=False))
    frame = exported.predict(images)
    np.testing.assert_allclose(frame.filter(like="p_").to_numpy(), expected, atol=1e-5)


def test_text_model_without_its_preprocessor_is_refused(tmp_path):
    model, _ = small_model("lstm_sst2")
    with pytest.raises(zoo.InvalidValueError, match="text model.*Pass preprocessor="):
        zoo.export(model, tmp_path / "export")
    anonymous = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="mine")
    with pytest.raises(zoo.InvalidValueError, match="'mine' is not named after a zoo entry"):
        zoo.export(anonymous, tmp_path / "export")
    assert not (tmp_path / "export").exists()
    # Something other than a Preprocessor: one line naming what it must be (an AttributeError
    # from deep inside before), as zoo.data.load and zoo.evaluate say it.
    for call in (lambda: zoo.export(model, tmp_path / "export", preprocessor="lstm_sst2"),
                 lambda: zoo.data.load(["a film"], "all", preprocessor="lstm_sst2")):
        with pytest.raises(zoo.InvalidValueError, match=r"^preprocessor must be a "
                           r"zoo\.data\.Preprocessor \(the \.preprocessor of a dataset from "
                           r"zoo\.data\.load or of a zoo\.train result\), got str\.$"):
            call()
    assert not (tmp_path / "export").exists()


def test_a_model_its_preprocessing_does_not_fit_is_refused(tmp_path):
    # Named after an entry but not built by zoo: its spec is the entry's, checked against it.
    three = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")], name="mlp_mnist")
    with pytest.raises(zoo.InvalidValueError, match=r"model 'mlp_mnist' has 3 outputs, but its "
                       r"spec \('mlp_mnist'\) names 10 classes, so predictions would be labelled "
                       r"wrongly\..*with_overrides\(num_classes=3\)"):
        zoo.export(three, tmp_path / "export",
                   preprocessor=zoo.data.make_preprocessor(zoo.get_spec("mlp_mnist")))
    colour = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                               keras.layers.Dense(10, activation="softmax")], name="cnn_mnist")
    colour.save(tmp_path / "colour.keras")
    with pytest.raises(zoo.InvalidValueError, match=r"model 'cnn_mnist' takes inputs of shape "
                       r"\(32, 32, 3\), but its preprocessing \('cnn_mnist'\) makes images of "
                       r"shape \(28, 28, 1\)\. Pass the preprocessor"):
        zoo.load(tmp_path / "colour.keras")
    # A text preprocessor never adapted has no vocabulary to export.
    model, adapted = small_model("lstm_sst2")
    with pytest.raises(zoo.InvalidValueError, match=r"the text preprocessor of 'lstm_sst2' has no "
                       r"vocabulary; pass the one adapted on the training text"):
        zoo.export(model, tmp_path / "export",
                   preprocessor=zoo.data.make_preprocessor(adapted.spec))
    # The sample given is read as the model's inputs (texts), before the export's work.
    with pytest.raises(zoo.DataError, match=r"this model classifies texts: expected one string "
                       r"per example, received an array of shape \(2, 28, 28\)"):
        zoo.export(model, tmp_path / "export", preprocessor=adapted,
                   sample=np.zeros((2, 28, 28), "uint8"))
    assert not (tmp_path / "export").exists()


def lambda_model() -> keras.Model:
    inputs = keras.Input((28, 28, 1), name="image")
    scaled = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(scaled))
    return keras.Model(inputs, outputs, name="mlp_mnist")


def _edited_keras_file(source: Path, target: Path, edit) -> Path:
    """A copy of the .keras file `source` with `edit` applied to its {member name: bytes}."""
    with zipfile.ZipFile(source) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    edit(files)
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return target


def _edited_layers(source: Path, target: Path, class_name: str, edit_layer) -> Path:
    """A copy of the .keras file `source` with `edit_layer` applied to each `class_name` layer
    of its config.json (the layer's entry there: class_name, module, config...)."""

    def edit(files):
        config = json.loads(files["config.json"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == class_name:
                edit_layer(layer)
        files["config.json"] = json.dumps(config).encode()

    return _edited_keras_file(source, target, edit)


@keras.saving.register_keras_serializable(package="outsider")
class Outsider(keras.layers.Layer):
    def call(self, inputs):
        return inputs


def _with_module(source: Path, target: Path, class_name: str, module: str) -> Path:
    """A copy of the .keras file `source` whose config.json says its `class_name` layer comes
    from `module`: a file's configuration is whatever its maker wrote."""
    return _edited_layers(source, target, class_name, lambda layer: layer.update(module=module))


def test_unsafe_keras_files_are_refused(tmp_path):
    lambda_path = tmp_path / "lambda.keras"
    lambda_model().save(lambda_path)
    with pytest.raises(zoo.UnsafeModelError, match="holds a Lambda.*could run arbitrary code"):
        zoo.load(lambda_path)

    inputs = keras.Input((28, 28, 1), name="image")
    flat = keras.layers.Flatten()(Outsider()(inputs))
    outputs = keras.layers.Dense(10, activation="softmax")(flat)
    outsider_path = tmp_path / "outsider.keras"
    keras.Model(inputs, outputs, name="mlp_mnist").save(outsider_path)
    with pytest.raises(zoo.UnsafeModelError, match="class 'Outsider' from module 'test_export'"):
        zoo.load(outsider_path)
    # The file's word on a class's module is not taken: claimed to be Keras' own, the registered
    # name still finds the code that would run, Outsider of this module, which is not trusted.
    forged = _with_module(outsider_path, tmp_path / "forged.keras", "Outsider", "keras.layers")
    with pytest.raises(zoo.UnsafeModelError, match=r"it needs 'outsider>Outsider', registered "
                       r"by module 'test_export' \(at config\.config\.layers\[1\]\)"):
        zoo.load(forged)
    # A package is trusted by its name, not by how its name begins.
    plain_path = tmp_path / "plain.keras"
    zoo.build("mlp_mnist", units=(8,)).save(plain_path)
    zoo.load(plain_path)  # as saved, it loads
    for module in ("keras_evil.layers", "zoology.layers"):
        forged = _with_module(plain_path, tmp_path / f"{module}.keras", "Flatten", module)
        with pytest.raises(zoo.UnsafeModelError, match=rf"it needs class 'Flatten' from module "
                           rf"'{module}' \(at config\.config\.layers\[\d+\]\)"):
            zoo.load(forged)

    # A workdir's model.keras goes through the same checks, for load and for export.
    data = write_digits_npz(tmp_path / "digits.npz", count=60)
    zoo.train("mlp_mnist", str(data), epochs=1, workdir=tmp_path / "run", verbose=0, units=(8,))
    lambda_model().save(tmp_path / "run" / "model.keras")
    with pytest.raises(zoo.UnsafeModelError, match="Lambda"):
        zoo.load(tmp_path / "run")
    with pytest.raises(zoo.UnsafeModelError, match="Lambda"):
        zoo.export(tmp_path / "run", tmp_path / "export")
    assert not (tmp_path / "export").exists()


@keras.saving.register_keras_serializable(package="acme_test")
class Halve(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 0.5


def build_halved_mlp(input_shape, num_classes, units=8):
    """A third party's builder: a layer of its own, and no `name` argument."""
    inputs = keras.Input(input_shape)
    flat = keras.layers.Flatten(name="flatten")(Halve(name="halve")(inputs))
    hidden = keras.layers.Dense(units, activation="relu", name="hidden")(flat)
    return keras.Model(inputs, zoo.models.classifier_head(hidden, num_classes))


@pytest.fixture
def halved_entry():
    def mlp_halved_test() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10,
                             input=zoo.ImageInput((28, 28, 1)), builder=build_halved_mlp)

    zoo.register_model(mlp_halved_test)
    yield "mlp_halved_test"
    if "mlp_halved_test" in zoo.list_models():  # the test unregisters it itself
        zoo.unregister_model("mlp_halved_test")


def test_third_party_entry_with_its_own_layer_loads(halved_entry, tmp_path):
    """A registered entry's own Keras classes are trusted; the same file is refused once no
    entry vouches for them, or when nothing registers the class."""
    data = write_digits_npz(tmp_path / "digits.npz", count=60)
    result = zoo.train(halved_entry, str(data), epochs=1, workdir=tmp_path / "run", verbose=0)
    assert result.model.name == halved_entry  # named after its entry without a name argument
    images = digit_like_images(5, seed=1)[0]
    expected = result.model(result.preprocessor(images), training=False).numpy()
    model_file = tmp_path / "run" / "model.keras"
    for source in (tmp_path / "run", model_file):
        frame = zoo.load(source).predict(images)
        np.testing.assert_allclose(frame[[f"p_{i}" for i in range(10)]].to_numpy(), expected,
                                   atol=1e-6)
    # Found by its name: evaluating a plain Keras reload reads the data as the entry says.
    reloaded = keras.saving.load_model(model_file)
    assert (zoo.evaluate(reloaded, str(data)).confusion.equals(
        zoo.evaluate(result.model, str(data)).confusion))
    tuned = zoo.build(halved_entry, weights=model_file, num_classes=3, compile=False)
    assert tuned.output_shape == (None, 3) and tuned.name == halved_entry

    registered = keras.saving.get_custom_objects()
    halve = registered.pop("acme_test>Halve")
    try:
        with pytest.raises(zoo.UnsafeModelError,
                           match="'acme_test>Halve'.*which nothing imported in this process"):
            zoo.load(model_file)
    finally:
        registered["acme_test>Halve"] = halve
    # An override the entry no longer takes is the run's problem, not a missing entry.
    changed = tmp_path / "changed"
    shutil.copytree(tmp_path / "run", changed)
    config = json.loads((changed / "config.json").read_text())
    config["overrides"] = {"retired_knob": 1}
    (changed / "config.json").write_text(json.dumps(config))
    with pytest.raises(zoo.DataError, match=r"was trained with override retired_knob=1, which "
                                            r"mlp_halved_test's builder no longer takes"):
        zoo.load(changed)
    zoo.unregister_model(halved_entry)
    with pytest.raises(zoo.UnsafeModelError, match="class 'Halve' from module 'test_export'"):
        zoo.load(model_file)
    # Its workdir says which entry is missing and how to bring it back.
    with pytest.raises(zoo.DataError, match=r"trained entry 'mlp_halved_test', which nothing in "
                                            r"this process registers: run or import the code"):
        zoo.load(tmp_path / "run")


class _WritesAtLoad(tf.saved_model.experimental.TrackableResource):
    """A resource whose initializer, run by tf.saved_model.load, writes a file."""

    def __init__(self, path):
        self.path = str(path)
        super().__init__()

    def _create_resource(self):
        return tf.raw_ops.VarHandleOp(dtype=tf.float32, shape=[])

    def _initialize(self):
        tf.io.write_file(self.path, "written at load")


def _disguised_export(directory, exports, module, signature):
    """A SavedModel with a real export's zoo.json: zoo.load takes it for an export."""
    tf.saved_model.save(module, str(directory), signatures={"serving_default": signature})
    (directory / "assets.extra").mkdir()
    shutil.copy(export_of_kind(exports, "text") / "assets.extra" / "zoo.json",
                directory / "assets.extra" / "zoo.json")
    return directory


def test_exports_with_file_operations_are_refused_before_anything_runs(exports, tmp_path):
    written = tmp_path / "written.txt"

    class Copies(tf.Module):  # serving copies its input to a file
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, text):
            tf.io.write_file(str(written), tf.strings.reduce_join(text))
            return {"probabilities": tf.zeros([tf.shape(text)[0], 2])}

    copies = Copies()
    path = _disguised_export(tmp_path / "copies", exports, copies, copies.serve)
    for load in (zoo.load, lambda p: zoo.build("lstm_sst2", weights=p)):
        with pytest.raises(zoo.UnsafeModelError, match=r"refusing to load .*copies: it runs "
                           r"WriteFile \(in __inference_serve_\d+\)"):
            load(path)
    assert main(["predict", str(path), str(tmp_path / "in.txt")]) == 2  # before reading input

    # Printing is writing: tf.print sends every input it serves to any file it names.
    leaked = tmp_path / "leaked.txt"

    class Prints(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, text):
            tf.print(text, output_stream=f"file://{leaked}")
            return {"probabilities": tf.zeros([tf.shape(text)[0], 2])}

    prints = Prints()
    path = _disguised_export(tmp_path / "prints", exports, prints, prints.serve)
    with pytest.raises(zoo.UnsafeModelError, match=r"refusing to load .*prints: it runs "
                       r"PrintV2 \(in __inference_serve_\d+\)"):
        zoo.load(path)
    assert not leaked.exists()

    # The write in a function the serving function calls is found too: each called function is
    # followed, however deep, not only the signature's own graph.
    @tf.function
    def copy_to_file(text):
        tf.io.write_file(str(written), tf.strings.reduce_join(text))
        return text

    class CopiesInside(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, text):
            return {"probabilities": tf.zeros([tf.shape(copy_to_file(text))[0], 2])}

    inside = CopiesInside()
    path = _disguised_export(tmp_path / "copies_inside", exports, inside, inside.serve)
    with pytest.raises(zoo.UnsafeModelError,
                       match=r"it runs WriteFile \(in __inference_copy_to_file_\d+\)"):
        zoo.load(path)

    at_load = tf.Module()
    at_load.resource = _WritesAtLoad(written)
    at_load.serve = tf.function(lambda text: {"probabilities": tf.zeros([1, 2])},
                                input_signature=[tf.TensorSpec([None], tf.string)])
    path = _disguised_export(tmp_path / "at_load", exports, at_load, at_load.serve)
    with pytest.raises(zoo.UnsafeModelError, match=r"it runs WriteFile \(in .*initialize"):
        zoo.load(path)
    assert not written.exists()

    # TensorFlow 1's format runs graph operations (its init and restore ops) outside functions.
    with tf.Graph().as_default():
        text = tf.compat.v1.placeholder(tf.string, [None], name="text")
        with tf.compat.v1.Session() as session, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # simple_save is deprecated: that is the point
            tf.compat.v1.saved_model.simple_save(session, str(tmp_path / "v1"), {"text": text},
                                                 {"same": tf.identity(text)})
    (tmp_path / "v1" / "assets.extra").mkdir()
    shutil.copy(export_of_kind(exports, "text") / "assets.extra" / "zoo.json",
                tmp_path / "v1" / "assets.extra")
    with pytest.raises(zoo.UnsafeModelError, match="a SavedModel in TensorFlow 1's format"):
        zoo.load(tmp_path / "v1")
    # every real export passes (the round-trip tests load one of each family too)
    for export, _, _ in exports.values():
        safety.inspect_saved_model(export)


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_entry_passes_the_safety_check(name, tmp_path):
    """No false refusals: every compiled entry, with its recipe's optimizer and loss, loads."""
    spec = zoo.get_spec(name)
    path = tmp_path / f"{name}.keras"
    zoo.build(name, **small_overrides(spec)).save(path)
    assert safety.inspect_keras_archive(path)["class_name"] == "Functional"


def test_entry_without_class_names_serves_class_ids(tmp_path):
    _, preprocessor = small_model("mlp_mnist")
    spec = preprocessor.spec.with_overrides(num_classes=3)  # a new label set: no names known
    three_classes, preprocessor = spec.build_model(), zoo.data.make_preprocessor(spec)
    with pytest.raises(zoo.DataError, match=r"expected images of shape \(batch, 28, 28, 1\)"):
        zoo.export(three_classes, tmp_path / "bad_sample", preprocessor=preprocessor,
                   sample=np.zeros((2, 14, 14), "uint8"))
    path = zoo.export(three_classes, tmp_path / "export", preprocessor=preprocessor,
                      sample=np.zeros((2, 28, 28), "uint8"), tolerance=1e-3)
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"](
        image=tf.zeros((2, 28, 28, 1), tf.uint8))
    # The same outputs as every export, the label being the id as text (there was no label, so
    # a serving client written for one export broke on another).
    assert sorted(outputs) == ["class_id", "label", "probabilities"]
    assert [label.decode() for label in outputs["label"].numpy()] == [
        str(i) for i in outputs["class_id"].numpy()]
    predictor = zoo.load(path)
    assert predictor.metadata["signature"]["outputs"] == ["probabilities", "class_id", "label"]
    assert predictor.metadata["class_names"] == []  # none known: the ids stand for them
    assert predictor.metadata["parity"]["sample_size"] == 2  # the sample and tolerance given
    assert predictor.metadata["parity"]["tolerance"] == 1e-3
    frame = predictor.predict(np.zeros((2, 28, 28), "uint8"))
    assert list(frame.columns) == ["class_id", "label", "probability", "p_0", "p_1", "p_2"]
    assert frame["label"].tolist() == [str(i) for i in frame["class_id"]]


def test_each_kind_of_unloadable_path_has_its_own_error(exports, tmp_path):
    with pytest.raises(zoo.DataError, match="does not exist"):
        zoo.load(tmp_path / "absent")
    # In a missing folder, where no earlier export can have been set aside either.
    with pytest.raises(zoo.DataError, match=r"absent/export does not exist; expected a directory "
                       r"written by zoo\.export, a training workdir, or a \.keras file\.$"):
        zoo.load(tmp_path / "absent" / "export")
    with pytest.raises(zoo.DataError, match=r"absent\.keras does not exist or is not a file; "
                       r"expected a \.keras file\."):
        safety.load_keras_model(tmp_path / "absent.keras")

    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(np.random.default_rng(0).bytes(2048))
    with pytest.raises(zoo.DataError, match="not a readable .keras file.*truncated or corrupt"):
        zoo.load(corrupt)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(zoo.DataError, match="holds no model: expected a zoo export"):
        zoo.load(empty)

    with pytest.raises(zoo.DataError, match="not a model file"):
        zoo.load(write_digits_npz(tmp_path / "digits.npz", count=10))

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for item in exports[ENTRIES[0]][0].iterdir():
        if item.is_file():
            (damaged / item.name).write_bytes(b"not a protocol buffer")
    (damaged / "assets.extra").mkdir()
    shutil.copy(exports[ENTRIES[0]][0] / "assets.extra" / "zoo.json", damaged / "assets.extra")
    with pytest.raises(zoo.DataError, match="could not load the SavedModel.*corrupt"):
        zoo.load(damaged)
    with pytest.raises(zoo.DataError, match="could not load the SavedModel.*corrupt"):
        zoo.build(ENTRIES[0], weights=damaged)  # fine-tuning reads exports the same way
    (damaged / "saved_model.pb").write_bytes(b"")  # cut short to nothing: it parses, as no graph
    with pytest.raises(zoo.DataError, match=r"could not load the SavedModel in .*damaged \(not "
                       r"enough values to unpack .*\); it may be truncated or corrupt"):
        zoo.load(damaged)
    # A whole graph without its variables: found by TensorFlow's loading, after zoo's check.
    no_variables = tmp_path / "no_variables"
    shutil.copytree(exports[ENTRIES[0]][0], no_variables)
    shutil.rmtree(no_variables / "variables")
    with pytest.raises(zoo.DataError, match=r"could not load the SavedModel in .*no_variables "
                       r"\(.+\); it may be truncated or corrupt\. Export the model again\.$"):
        zoo.load(no_variables)
    (no_variables / "assets.extra" / "zoo.json").write_text('{"format": 1,')  # cut short
    with pytest.raises(zoo.DataError, match=r"cannot read .*zoo\.json \(Expecting property name "
                       r"enclosed in double quotes.*\); export the model again\.$"):
        zoo.load(no_variables)
    # A SavedModel with zoo.json but not the signature zoo serves.
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    tf.saved_model.save(module, str(tmp_path / "unsigned"))
    shutil.copytree(no_variables / "assets.extra", tmp_path / "unsigned" / "assets.extra")
    (tmp_path / "unsigned" / "assets.extra" / "zoo.json").write_text(
        (exports[ENTRIES[0]][0] / "assets.extra" / "zoo.json").read_text())
    with pytest.raises(zoo.DataError, match=r"the SavedModel in .*unsigned has no "
                       r"'serving_default' signature; export it again\.$"):
        zoo.load(tmp_path / "unsigned")

    # .keras files: a model that is no entry's, weights cut short, a layer's configuration that
    # Keras refuses (each was an exception from deep in Keras or h5py).
    anonymous = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="mine")
    anonymous.save(tmp_path / "mine.keras")
    with pytest.raises(zoo.DataError, match=r"^mine\.keras holds model 'mine', which is not named "
                       r"after a zoo entry, so its preprocessing is unknown\. Export it with "
                       r"zoo\.export\(model, DIR, preprocessor=\.\.\.\)"):
        zoo.load(tmp_path / "mine.keras")
    small_model("mlp_mnist")[0].save(tmp_path / "mlp.keras")

    def cut_weights(files):
        files["model.weights.h5"] = files["model.weights.h5"][:500]

    def unknown_units(layer):
        layer["config"]["units"] = "many"

    with pytest.raises(zoo.DataError, match=r"could not read the weights in .*cut\.keras \(.*"
                       r"truncated file.*\); the file may be truncated or corrupt\. Save or copy "):
        zoo.load(_edited_keras_file(tmp_path / "mlp.keras", tmp_path / "cut.keras", cut_weights))
    with pytest.raises(zoo.DataError, match=r"could not load .*units\.keras: .+\. Expected a model "
                       r"saved by zoo or model\.save\('model\.keras'\) with this Keras version"):
        zoo.load(_edited_layers(tmp_path / "mlp.keras", tmp_path / "units.keras", "Dense",
                                unknown_units))

    text_model, _ = small_model("lstm_sst2")
    text_model.save(tmp_path / "text.keras")
    with pytest.raises(zoo.DataError, match="a .keras file has no vocabulary"):
        zoo.load(tmp_path / "text.keras")


def test_predict_states_expected_and_received_inputs(exports):
    image = zoo.load(exports["cnn_mnist"][0])
    single = image.predict(np.zeros((28, 28), "uint8"))  # one image, no channel axis
    assert len(single) == 1
    with pytest.raises(zoo.DataError, match=r"expected images of shape \(batch, 28, 28, 1\), "
                                            r"received an array of shape \(2, 32, 32, 3\)\. "
                                            r"Resize the images to 28x28"):
        image.predict(np.zeros((2, 32, 32, 3), "uint8"))
    # RGB at the right size: the channels are what to fix, not the size.
    with pytest.raises(zoo.DataError, match=r"received an array of shape \(2, 28, 28, 3\)\. "
                                            r"Convert the images to 1 channel"):
        image.predict(np.zeros((2, 28, 28, 3), "uint8"))
    # Channels first (as PyTorch keeps images): the axis to move, not a size to change.
    with pytest.raises(zoo.DataError, match=r"received an array of shape \(2, 1, 28, 28\)\. Put "
                       r"the channels last: np\.moveaxis\(x, 1, -1\) \(the array is "
                       r"channels-first\)\.$"):
        image.predict(np.zeros((2, 1, 28, 28), "uint8"))
    with pytest.raises(zoo.DataError, match=r"\. If it is one channels-first image, put the "
                       r"channels last: np\.moveaxis\(x, 0, -1\); if it is 3 images of one "
                       r"channel, convert them to 3 channels\.$"):
        as_images(np.zeros((3, 32, 32), "uint8"), (32, 32, 3))  # which of the two is not known
    # Integer pixels in 0-255 as training takes them (an .npz saved as int64); others refused,
    # without advising a cast that would wrap them around.
    pixels = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1))
    pd.testing.assert_frame_equal(image.predict(pixels), image.predict(pixels.astype("uint8")))
    with pytest.raises(zoo.DataError, match=r"integer pixels must lie in \[0, 255\], found values "
                       r"from 0 to 1020 .*rescale them to 0-255 \(a cast to uint8 would wrap"):
        image.predict(pixels * 4)
    with pytest.raises(zoo.DataError, match=r"integer pixels must lie in \[0, 255\], found values "
                       r"from -1 to 254 "):
        image.predict(pixels - 1)  # -1 cast to uint8 would be a white 255
    # Floats in [0, 1], as training and evaluation take them, are the pixels they stand for
    # (they were refused, with advice to multiply by 255).
    pd.testing.assert_frame_equal(image.predict(pixels / 255.0),
                                  image.predict(pixels.astype("uint8")))
    pd.testing.assert_frame_equal(image.predict((pixels / 255.0).astype("float32")),
                                  image.predict(pixels.astype("uint8")))
    # floats on the 0-255 scale are not to be multiplied by 255
    with pytest.raises(zoo.DataError, match=r"expected uint8 pixels \(0-255\) or floats scaled to "
                       r"\[0, 1\], received float32 .*on the 0-255 scale with x\.round\(\)\.clip"
                       r"\(0, 255\)\.astype\('uint8'\)"):
        image.predict(np.full((2, 28, 28, 1), 200.0, "float32"))
    with pytest.raises(zoo.DataError, match=r"Rescale them to \[0, 1\] \(the values lie from -1 "
                                            r"to 1\)"):
        image.predict(np.linspace(-1, 1, 2 * 28 * 28).reshape(2, 28, 28, 1))  # normalized
    nan = np.zeros((2, 28, 28, 1), "float32")
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(zoo.DataError, match=r"Replace the NaN or infinite values\.$"):
        image.predict(nan)
    overshot = np.zeros((2, 28, 28, 1))
    overshot[0, 0, 0, 0] = 1.03  # a resize's ringing: clipped, not taken for the 0-255 scale
    with pytest.raises(zoo.DataError, match=r"Clip them to \[0, 1\] with np\.clip\(x, 0, 1\) \(the "
                                            r"values lie from 0 to 1\.03\)\.$"):
        image.predict(overshot)
    with pytest.raises(zoo.DataError, match=r"received bool .*Convert black-and-white images with "
                                            r"x\.astype\('uint8'\) \* 255\.$"):
        image.predict(np.ones((2, 28, 28, 1), bool))
    # Lists NumPy cannot make one array of, though no two images differ in shape at the top.
    with pytest.raises(zoo.DataError, match=r"expected uint8 images of shape \(28, 28, 1\) in one "
                       r"array, received a list that NumPy cannot make one array of \(setting an "
                       r"array element with a sequence.*\)\. Pass a NumPy array of shape \(batch, "
                       r"28, 28, 1\)\.$"):
        image.predict([[[1, 2], [3]], [[1, 2], [3]]])
    # a dataset, and (input, label) pairs to evaluate: what to pass instead
    with pytest.raises(zoo.DataError, match=r"takes raw inputs .*not a tf\.data dataset"):
        image.predict(tf.data.Dataset.from_tensor_slices(np.zeros((2, 28, 28), "uint8")))
    with pytest.raises(zoo.DataError, match=r"received 2 \(input, label\) pairs, such as "
                       r"\('a fine film', 1\).*x, y = zip\(\*pairs\)"):
        zoo.load(export_of_kind(exports, "text")).evaluate([("a fine film", 1), ("so dull", 0)])
    # a bytes text that is not UTF-8 is one clear error, as in training data
    with pytest.raises(zoo.DataError, match=r"bytes that are not UTF-8 \(row 0"):
        zoo.load(export_of_kind(exports, "text")).predict([b"\xff bad"])

    text = zoo.load(export_of_kind(exports, "text"))
    series = pd.Series(["a wonderful , moving film", "so dull"], index=["first", "second"])
    assert list(text.predict(series).index) == ["first", "second"]
    assert len(text.predict(pd.DataFrame({"sentence": series, "label": [1, 0]}))) == 2
    # With both a sentence and a text column, the sentence column is read (as in training).
    both = pd.DataFrame({"text": NEGATIVE[:2], "sentence": POSITIVE[:2]})
    pd.testing.assert_frame_equal(text.predict(both), text.predict(POSITIVE[:2]))
    # Neither column, and more than one: which column is the text is not guessed.
    with pytest.raises(zoo.DataError, match=r"expected a DataFrame with a 'sentence' or 'text' "
                       r"column \(or a single column\), received columns \['review', 'label'\]\. "
                       r"Pass the text column itself: frame\['my_column'\]\."):
        text.predict(pd.DataFrame({"review": POSITIVE[:2], "label": [1, 0]}))
    with pytest.raises(zoo.DataError, match="1 text is missing or not a string"):
        text.predict(["fine", None])
    with pytest.raises(zoo.DataError, match="classifies texts.*received an array of shape"):
        text.predict(np.zeros((2, 28, 28), "uint8"))
    with pytest.raises(zoo.DataError, match="classifies images.*received 2 strings"):
        image.predict(["a wonderful film", "so dull"])


def test_a_folder_of_text_files_is_read_as_sentences(tmp_path):
    from zoo.serving import read_input_folder, read_inputs

    for index, sentence in enumerate(POSITIVE[:3]):
        (tmp_path / f"review_{index}.txt").write_text(f"{sentence}\n")
    texts, files = read_input_folder(tmp_path)
    assert texts.tolist() == POSITIVE[:3] and files == [f"review_{i}.txt" for i in range(3)]
    assert read_inputs(tmp_path).tolist() == POSITIVE[:3]
    (tmp_path / "review_3.txt").write_text("")
    with warnings.catch_warnings():  # an empty input is an input, not a labelling mistake
        warnings.simplefilter("error")
        assert read_input_folder(tmp_path)[0].tolist() == [*POSITIVE[:3], ""]
    (tmp_path / "scan.png").write_bytes(tf.io.encode_png(np.zeros((2, 2, 1), np.uint8)).numpy())
    with pytest.raises(zoo.DataError, match=r"holds both images \(scan\.png.*and text files"):
        read_input_folder(tmp_path)


def test_input_files_lose_their_byte_order_mark_and_empty_ones_are_refused(tmp_path, capsys):
    from zoo.serving import read_input_folder, read_inputs

    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_text(f"{POSITIVE[0]}\n{NEGATIVE[0]}\n", encoding="utf-8")
    marked.write_text(f"{POSITIVE[0]}\n{NEGATIVE[0]}\n", encoding="utf-8-sig")  # Notepad's way
    assert read_inputs(marked).tolist() == read_inputs(plain).tolist() == [POSITIVE[0],
                                                                          NEGATIVE[0]]
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text(POSITIVE[1], encoding="utf-8-sig")
    assert read_input_folder(folder)[0].tolist() == [POSITIVE[1]]
    for name, content in (("empty.txt", ""), ("blank.txt", "\n  \n"), ("header.csv", "sentence\n")):
        (tmp_path / name).write_text(content)
        with pytest.raises(zoo.DataError, match=f"{name} holds no inputs to predict"):
            read_inputs(tmp_path / name)
    np.savez(tmp_path / "none.npz", x=np.zeros((0, 28, 28), np.uint8))
    with pytest.raises(zoo.DataError, match="none.npz holds no inputs to predict"):
        read_inputs(tmp_path / "none.npz")


def test_a_text_file_is_one_input_per_line_whatever_else_the_lines_hold(tmp_path):
    from zoo.serving import read_inputs

    # str.splitlines also split at a form feed, U+0085 and U+2028: 4 lines gave 6 predictions.
    lines = ["first line", "second\x0cpart", "third \x85 nel", "fourth \u2028 sep"]
    for ending in ("\n", "\r\n", "\r"):
        path = tmp_path / "lines.txt"
        path.write_bytes((ending.join(lines) + ending).encode("utf-8"))
        assert read_inputs(path).tolist() == lines

    # A ragged table: the line and the fix on one line (pandas' message spans two).
    ragged = tmp_path / "ragged.tsv"
    ragged.write_text("sentence\tlabel\nfine\t1\ntab\tinside\t0\n")
    with pytest.raises(zoo.DataError, match=r"line 3 has 3 fields but the header line has 2"
                                            r"[^\n]*Replace tabs inside the text") as caught:
        read_inputs(ragged)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("name", "content", "text_column", "message"), [
    # A column named for a file without columns: refused, not ignored.
    ("reviews.txt", b"a fine film\n", "review", r"text_column \(--text-column\) names a column "
     r"of a \.csv/\.tsv file; .*reviews\.txt is not one\.$"),
    # Several arrays, none named x: which holds the inputs is not guessed.
    ("scans.npz", {"images": np.zeros((2, 28, 28), "uint8"), "labels": np.zeros(2)}, None,
     r"scans\.npz holds arrays \['images', 'labels'\]; expected the inputs in an array named x "
     r"\(np\.savez\(path, x=images\)\)\.$"),
    # Its first line that is not UTF-8, named as in training data.
    ("latin.txt", "a fine film\ntr\u00e8s bien\n".encode("latin-1"), None,
     r"could not read .*latin\.txt: line 2 is not UTF-8 \(byte 0xe8 "),
    ("reviews.parquet", b"PAR1", None,
     r"^reviews\.parquet: unknown file extension '\.parquet'; expected "),
])
def test_an_input_file_that_cannot_be_read_says_why(tmp_path, name, content, text_column,
                                                    message):
    from zoo.serving import read_inputs

    path = tmp_path / name
    if isinstance(content, dict):
        np.savez(path, **content)
    else:
        path.write_bytes(content)
    with pytest.raises(zoo.DataError, match=message):
        read_inputs(path, text_column=text_column)


# ---- found by an audit of error messages ------------------------------------------------------


def _fake_run(workdir: Path, config: object) -> Path:
    """A finished run's files as far as reading its config.json goes (the model is read after)."""
    workdir.mkdir(parents=True)
    (workdir / "config.json").write_text(json.dumps(config))
    (workdir / "model.keras").write_text("stands in: never read")
    return workdir


def test_a_run_without_its_final_model_says_whether_it_diverged_or_has_not_finished(tmp_path):
    run = _fake_run(tmp_path / "run", {"entry": "mlp_mnist"})
    (run / "model.keras").unlink()
    # Interrupted (no state.json yet, or a state without a status): resuming finishes it.
    with pytest.raises(zoo.DataError, match=r"has not finished: it has no model\.keras yet\. "
                       r"Rerun the same training command to resume and finish it\.$"):
        zoo.load(run)
    # A state.json holding JSON but no object says nothing (it was an AttributeError).
    (run / "state.json").write_text("[1]")
    with pytest.raises(zoo.DataError, match=r"has not finished: it has no model\.keras yet"):
        zoo.load(run)
    # Diverged: rerunning would diverge again; its best epoch, when one was kept, is named.
    (run / "state.json").write_text(json.dumps({"epoch": 1, "status": "diverged"}))
    with pytest.raises(zoo.DataError) as refused:
        zoo.load(run)
    assert str(refused.value).startswith(
        f"the run in {run} diverged (its loss became NaN or infinite), so it has no final model. "
        f"Train again in a new workdir with a lower learning rate")
    (run / "best.keras").write_bytes(b"stands in: never read")
    with pytest.raises(zoo.DataError) as refused:
        zoo.load(run)
    assert f"no final model. The best epoch before it is saved in {run / 'best.keras'}. " in str(
        refused.value)


def _stand_in_result(workdir: Path) -> "zoo.training.loop.TrainResult":
    from zoo.training.loop import TrainResult

    return TrainResult(model=None, history=None, report=None, spec=None, workdir=workdir)


def test_an_export_and_the_run_it_comes_from_are_kept_apart(tmp_path):
    run = _fake_run(tmp_path / "run", {"entry": "mlp_mnist"})
    # zoo.export(result, result.workdir) advised "Remove it yourself": the run.
    with pytest.raises(zoo.ExportError, match=rf"cannot export to {run}: it is the run's workdir "
                       rf"{run}, and replacing or removing one would delete the other\. Expected "
                       rf"an export path apart from it, e\.g\. {tmp_path}/run_export\.") as caught:
        zoo.export(_stand_in_result(run), run)
    assert "Remove it yourself" not in str(caught.value)
    with pytest.raises(zoo.ExportError, match=r"/run/export: it lies in the run's workdir"):
        zoo.export(_stand_in_result(run), run / "export")
    with pytest.raises(zoo.ExportError, match=r"/run: it is the training workdir"):
        zoo.export(str(run), run)  # the workdir's path, as zoo.load takes it
    with pytest.raises(zoo.ExportError, match=r"model\.keras: it is the model file"):
        zoo.export(run / "model.keras", run / "model.keras")
    # An export holding the run, replaced with overwrite=True, deleted the run.
    export = tmp_path / "served"
    (export / "assets.extra").mkdir(parents=True)
    (export / "saved_model.pb").write_bytes(b"")
    (export / archive.METADATA).write_text("{}")
    inner = _fake_run(export / "run", {"entry": "mlp_mnist"})
    with pytest.raises(zoo.ExportError, match=r"/served: it holds the run's workdir .*/served/run"):
        zoo.export(_stand_in_result(inner), export, overwrite=True)
    assert (inner / "config.json").is_file() and (run / "config.json").is_file()


@pytest.mark.parametrize(("config", "problem"), [
    ("{not json", r"Expecting property name enclosed in double quotes"),
    ("[1, 2]", r"it holds a JSON list, not an object"),
    ('{"overrides": {}}', r"it has no 'entry' \(the name of the model trained\)"),
    ('{"entry": "mlp_mnist", "overrides": [1]}', r"its 'overrides' is not an object"),
])
def test_a_damaged_run_configuration_says_what_is_wrong_and_the_way_on(tmp_path, config,
                                                                        problem):
    run = _fake_run(tmp_path / "run", {})
    (run / "config.json").write_text(config)
    with pytest.raises(zoo.DataError, match=rf"cannot read the run configuration .*config\.json: "
                       rf"{problem}.*\. Restore the workdir's config\.json \(from a backup or "
                       rf"a copy of the run\), or train again in a new workdir\.$"):
        zoo.load(run)


def test_an_override_the_builder_no_longer_takes_is_the_codes_change(tmp_path):
    run = _fake_run(tmp_path / "run", {"entry": "mlp_mnist", "overrides": {"unitz": [8]}})
    with pytest.raises(zoo.DataError) as caught:
        zoo.load(run)
    assert str(caught.value) == (
        f"the run in {run} was trained with override unitz=[8], which mlp_mnist's builder no "
        f"longer takes (renamed to 'units'?). Restore that argument in the builder, or train "
        f"again in a new workdir."
    )
    # An argument it still takes, with a value its checks now refuse.
    (run / "config.json").write_text(json.dumps(
        {"entry": "mlp_mnist", "overrides": {"num_classes": 1}}))
    with pytest.raises(zoo.DataError) as caught:
        zoo.load(run)
    assert str(caught.value).startswith(
        f"the run in {run} was trained with overrides {{'num_classes': 1}}, which mlp_mnist no "
        f"longer takes (num_classes must be an integer >= 2")
    assert str(caught.value).endswith(
        "Restore the builder as it was, or train again in a new workdir.")


def _stand_in_predictor(kind: str):
    """A Predictor whose model answers class 0 for every input: what is checked is the input."""
    from zoo.serving.predictor import Predictor

    def forward(batch):
        probabilities = np.tile(np.array([[0.9, 0.1]], np.float32), (len(batch), 1))
        return probabilities, probabilities.argmax(axis=-1)

    shape = (28, 28, 1) if kind == "image" else ()
    return Predictor(forward, kind=kind, input_shape=shape, class_names=["a", "b"], metadata={},
                     source="test")


def test_predict_of_a_path_says_to_read_the_file_first(tmp_path):
    image = _stand_in_predictor("image")
    # It said "received 1 strings or objects. Pass images (an .npz file with an array x)".
    for path in ("digits.npz", tmp_path / "digits.npz"):
        with pytest.raises(zoo.DataError, match=r"this model classifies images: predict takes "
                           r"uint8 pixels of shape \(batch, 28, 28, 1\), not the (string|path) "
                           r"'?[^ ]*digits\.npz'?\. Read images from a file or folder first: "
                           r"predict\(zoo\.serving\.read_inputs\(PATH\)\), or run `zoo predict "
                           r"MODEL PATH`"):
            image.predict(path)
    text = _stand_in_predictor("text")
    sentences = tmp_path / "s.txt"
    sentences.write_text("a fine film\nso dull\n")
    # The file name was classified as a sentence without a word.
    with pytest.warns(UserWarning, match=r"classifying the string '.*s\.txt' itself as a text, "
                      r"though it names a file; .*read_inputs\(PATH\)"):
        assert len(text.predict(str(sentences))) == 1
    with pytest.raises(zoo.DataError, match=r"classifies texts: predict takes sentences, not the "
                                            r"path .*s\.txt"):
        text.predict(sentences)
    with warnings.catch_warnings():  # a sentence, or a name of no file, is just a text
        warnings.simplefilter("error")
        assert len(text.predict(["s.txt", "a fine film"])) == 2
        assert len(text.predict(str(tmp_path / "absent.txt"))) == 1


def test_images_of_different_sizes_name_the_first_two_shapes():
    image = _stand_in_predictor("image")
    images = [np.zeros((28, 28), "uint8"), np.zeros((28, 28), "uint8"), np.zeros((32, 30), "uint8")]
    with pytest.raises(zoo.DataError) as caught:
        image.predict(images)  # NumPy's "inhomogeneous shape after 1 dimensions"
    assert str(caught.value) == (
        "expected images of one shape, (28, 28, 1), received a list whose image 0 has shape "
        "(28, 28) and image 2 shape (32, 30). Resize every image to 28x28 pixels with 1 channel "
        "before passing them."
    )
    assert len(image.predict(images[:2])) == 2


def test_load_of_what_is_not_a_path_says_what_it_takes():
    with pytest.raises(zoo.InvalidValueError, match=r"zoo\.load takes the path of a directory "
                       r"written by zoo\.export, a training workdir, or a \.keras file \(a str or "
                       r"pathlib\.Path\), got int 3"):
        zoo.load(3)
    with pytest.raises(zoo.InvalidValueError, match="zoo.load got an empty path"):
        zoo.load("")
    # zoo.export's target too: "" named the current folder ("cannot export to : ...").
    model, _ = small_model("mlp_mnist")
    for empty in ("", "  "):
        with pytest.raises(zoo.InvalidValueError, match=r"^zoo\.export got an empty path; "
                           r"expected the new export's directory, e\.g\. exports/my_model\.$"):
            zoo.export(model, empty)


def test_a_one_column_table_warns_that_its_first_line_is_the_header(tmp_path):
    from zoo.serving import read_inputs

    for name in ("plain.csv", "plain.tsv"):
        headerless = tmp_path / name
        headerless.write_text("a fine film\nso dull\n")
        with pytest.warns(UserWarning, match=rf"{name} has one column, and its first line 'a fine "
                          r"film' was read as the column's name, not predicted\. If it is a "
                          r"sentence, add a header line 'sentence' to the file, or save the "
                          r"sentences as a \.txt file \(one per line\); if it is the name, pass "
                          r"--text-column 'a fine film'"):
            assert read_inputs(headerless).tolist() == ["so dull"]  # read as before
    with warnings.catch_warnings():  # a known column, or one named, is a header
        warnings.simplefilter("error")
        (tmp_path / "named.csv").write_text("sentence\na fine film\n")
        assert read_inputs(tmp_path / "named.csv").tolist() == ["a fine film"]
        (tmp_path / "review.csv").write_text("review\na fine film\n")
        assert read_inputs(tmp_path / "review.csv", text_column="review").tolist() == [
            "a fine film"]


def test_an_npz_of_object_strings_says_how_to_save_texts(tmp_path):
    from zoo.serving import read_inputs

    np.savez(tmp_path / "texts.npz", x=np.array(["a fine film", "so dull"], dtype=object))
    with pytest.raises(zoo.DataError, match=r"could not read .*texts\.npz: Object arrays cannot be "
                       r"loaded when allow_pickle=False\..* Save texts as a string array "
                       r"\(np\.array\(texts, dtype=str\)\), not objects\.$"):
        read_inputs(tmp_path / "texts.npz")
    # Not a zip at all: said so, as for training data (np.load's complaint is about pickles).
    (tmp_path / "text.npz").write_text("a fine film\n")
    with pytest.raises(zoo.DataError, match=r"could not read .*text\.npz: it is not an \.npz "
                       r"archive \(a zip of arrays\); it may be truncated or corrupt\. Expected"):
        read_inputs(tmp_path / "text.npz")


def test_no_inputs_predict_as_no_rows_and_unordered_texts_are_named(exports):
    # [] reached an image model as float64 with advice to convert floats to uint8; a text
    # model's rows answered it already.
    for name, (path, _, _) in exports.items():
        predictor = zoo.load(path)
        frame = predictor.predict([])
        assert len(frame) == 0, name
        assert len(predictor.predict(np.array([]))) == 0, name
        assert list(frame.columns) == ["class_id", "label", "probability",
                                       *(f"p_{c}" for c in predictor.class_names)], name
    text = zoo.load(export_of_kind(exports, "text"))
    # A set, a generator or a number was "texts of shape ()".
    for given, kind in (({"a", "b"}, "set"), ((t for t in ["a"]), "generator"), (1.5, "float")):
        with pytest.raises(zoo.DataError, match=rf"expected a string, or a list, array or Series "
                           rf"of strings, received {kind}\. Pass the sentences as a list"):
            text.predict(given)
    with pytest.raises(zoo.DataError, match=r"a set has no order for the rows to follow"):
        text.predict({"a"})


def test_paths_from_python_may_start_with_the_home_directory(tmp_path, monkeypatch):
    # As pandas and TFDS read them: "~/digits.npz" was read as a folder named "~" in the
    # current directory, which does not exist.
    monkeypatch.setenv("HOME", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    write_digits_npz(tmp_path / "digits.npz", count=100)
    assert sum(len(y) for _, y in zoo.data.load("~/digits.npz", spec="mlp_mnist")) == 90
    result = zoo.train("mlp_mnist", "~/digits.npz", validation_data=Path("~/digits.npz"),
                       epochs=1, workdir="~/run", verbose=0, units=(8,))
    assert (tmp_path / "run" / "history.csv").is_file()
    zoo.export(result, Path("~/export"))
    assert zoo.load("~/export").predict(np.zeros((1, 28, 28), np.uint8)).shape[0] == 1
    started = zoo.build("mlp_mnist", weights="~/run", units=(8,))
    assert np.array_equal(started.get_weights()[0], result.model.get_weights()[0])
    report = zoo.evaluate("~/run", "~/digits.npz")
    assert report.accuracy == pytest.approx(
        zoo.evaluate(result.model, str(tmp_path / "digits.npz"), spec="mlp_mnist",
                     preprocessor=result.preprocessor).accuracy)
    assert not list(elsewhere.iterdir())  # no "~" folder made here


def test_predict_output_is_written_as_its_ending_says_through_links_and_to_pipes(
        exports, tmp_path, capsys):
    # --output replaced a symbolic link (/dev/stdout's too) and a FIFO with a regular file, and
    # .json was CSV under another name: nothing a shell pipeline could read.
    path = exports["cnn_mnist"][0]
    images, _ = digit_like_images(4)
    np.savez(tmp_path / "images.npz", x=images)
    command = ["predict", str(path), str(tmp_path / "images.npz"), "--output"]
    expected = zoo.load(path).predict(images)
    for ending, read in ((".csv", pd.read_csv), (".tsv", lambda p: pd.read_csv(p, sep="\t")),
                         (".json", pd.read_json),
                         (".jsonl", lambda p: pd.read_json(p, lines=True))):
        assert main([*command, str(tmp_path / f"out{ending}")]) == 0
        written = read(tmp_path / f"out{ending}")
        assert written["class_id"].tolist() == expected["class_id"].tolist(), ending
        assert written["p_3"].to_numpy() == pytest.approx(expected["p_3"].to_numpy(), abs=1e-6)
    assert "warning" not in capsys.readouterr().out

    # `-`: the CSV alone on stdout (messages would go to stderr), no table.
    assert main([*command, "-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("class_id,label,probability,p_0")
    assert len(out.splitlines()) == 5 and not (tmp_path / "-").exists()

    # A symbolic link stays one: the file it points to gets the predictions.
    (tmp_path / "target.csv").write_text("class_id,label,probability\n")  # earlier output
    (tmp_path / "link.csv").symlink_to("target.csv")
    assert main([*command, str(tmp_path / "link.csv")]) == 0
    assert (tmp_path / "link.csv").is_symlink()
    assert len(pd.read_csv(tmp_path / "target.csv")) == 4
    # The format goes by the name given, for the warning and the writer alike.
    (tmp_path / "linked.json").symlink_to("target.csv")
    assert main([*command, str(tmp_path / "linked.json")]) == 0
    assert "warning" not in capsys.readouterr().out
    assert len(pd.read_json(tmp_path / "target.csv")) == 4

    # A FIFO is written to, not replaced: its reader gets the rows.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    assert main([*command, str(fifo)]) == 0
    reader.join(timeout=30)
    assert fifo.is_fifo() and len(received[0].splitlines()) == 5
    capsys.readouterr()

    # zoo evaluate --output -: the report's JSON alone.
    np.savez(tmp_path / "labelled.npz", x=images, y=np.arange(4))
    assert main(["evaluate", str(path), "--data", str(tmp_path / "labelled.npz"),
                 "--output", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["num_examples"] == 4


def test_a_tf_serving_model_folder_is_told_which_version_to_load(exports, tmp_path):
    # TF Serving's model_base_path/<version>/ layout: "holds no model", without the way in.
    served = tmp_path / "served" / "cnn_mnist"
    shutil.copytree(export_of_kind(exports, "image"), served / "1")
    with pytest.raises(zoo.DataError, match=re.escape(
            f"It holds TF Serving's version folders 1: the latest, {served / '1'}, is an "
            f"export, which zoo.load, zoo evaluate and zoo predict take.")):
        zoo.load(served)
    assert zoo.load(served / "1").kind == "image"


def test_cli_export_exports_a_finished_run_and_refuses_what_it_would_destroy(tmp_path, capsys,
                                                                              monkeypatch):
    # An existing run could be exported only from Python, or by repeating the exact training
    # command with --export.
    data = str(write_digits_npz(tmp_path / "digits.npz", count=64))
    run = tmp_path / "run"
    result = zoo.train("mlp_mnist", data, epochs=2, workdir=run, verbose=0, units=(8,))
    target = tmp_path / "export"
    assert main(["export", str(run), str(target)]) == 0
    assert f"zoo: exported mlp_mnist to {target}" in capsys.readouterr().out
    images, _ = digit_like_images(3)
    assert zoo.load(target).predict(images)["class_id"].tolist() == zoo.load(run).predict(
        images)["class_id"].tolist()
    metadata = zoo.load(target).metadata
    assert metadata["evaluation"]["accuracy"] == result.report.accuracy
    # Which epoch was exported, and what the evaluation scored (num_examples alone did not say).
    best = metadata["training"]["best_epoch"]
    assert best == json.loads((run / "state.json").read_text())["best_epoch"] in (1, 2)
    assert metadata["evaluation_data"] == (
        f"a seeded hold-out of the training data (seed 0), which also chose the exported epoch "
        f"({best}) and so reads slightly optimistic; score unseen data with zoo evaluate")
    # Where a training metric chose the epoch (or there was one epoch), the hold-out did not.
    other = zoo.train("mlp_mnist", data, epochs=2, workdir=tmp_path / "by_loss", verbose=0,
                      units=(8,), monitor="loss")
    by_loss = zoo.export(other, tmp_path / "by_loss_export")
    assert zoo.load(by_loss).metadata["evaluation_data"] == (
        "a seeded hold-out of the training data (seed 0)")
    before = (target / "assets.extra" / "zoo.json").read_text()
    assert main(["export", str(run), str(target)]) == 2
    assert "already holds a zoo export; pass overwrite=True (command line: --overwrite-export)" in (
        capsys.readouterr().err)
    assert (target / "assets.extra" / "zoo.json").read_text() == before
    assert main(["export", str(run), str(target), "--overwrite"]) == 0
    capsys.readouterr()
    # zoo info of an export: what its zoo.json says (it was "unknown model").
    assert main(["info", str(target)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"{target}: an export of mlp_mnist (mlp on mnist, 10 classes), "
                              f"exported 20")
    assert ("  serving_default: image uint8 [None, 28, 28, 1] -> probabilities, class_id, "
            "label\n") in printed
    assert f", 2 epochs, exported epoch {best};" in printed
    assert "parity with the trained model: passed" in printed
    assert main(["info", str(run)]) == 2  # a path that is no export: not "unknown model"
    error = capsys.readouterr().err
    assert error.startswith(f"zoo: error: {run} is not a zoo export (it has no saved_model.pb "
                            f"and assets.extra/zoo.json)")
    assert error.endswith(f"It is a training workdir: zoo export {run} DIR exports its model, "
                          f"and zoo evaluate {run} --data SRC scores it.\n")
    # An entry's name wins over a folder of that name here (a workdir named after its entry),
    # and an edited zoo.json lacking what it reports is shown without a traceback.
    monkeypatch.chdir(tmp_path)
    shutil.copytree(target, tmp_path / "mlp_mnist")
    assert main(["info", "mlp_mnist"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("(./mlp_mnist is an export too: zoo info ./mlp_mnist shows it)\n"
                              "mlp_mnist: mlp on mnist")
    metadata_path = tmp_path / "mlp_mnist" / "assets.extra" / "zoo.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["evaluation"]["accuracy"] = None
    for key in ("parity", "signature", "exported_at"):
        del metadata[key]
    metadata_path.write_text(json.dumps(metadata))
    assert main(["info", "./mlp_mnist"]) == 0
    assert "10 classes), export time not recorded\n" in capsys.readouterr().out
    for command, message in [
        (["export", str(tmp_path / "nowhere"), str(tmp_path / "other")],
         "does not exist; expected a training workdir or a .keras file."),
        (["export", str(run), str(run / "inner")],
         f"cannot export to {run / 'inner'}: it lies in the training workdir {run}"),
    ]:
        capsys.readouterr()
        assert main(command) == 2
        assert message in capsys.readouterr().err
    assert not (run / "inner").exists() and not (tmp_path / "other").exists()


def test_predict_to_dev_stdout_writes_the_csv_alone_where_stdout_goes(exports, tmp_path):
    # `--output /dev/stdout` with stdout sent to a file: the CSV was written over by the table.
    path = export_of_kind(exports, "image")
    images, _ = digit_like_images(3)
    np.savez(tmp_path / "images.npz", x=images)
    with open(tmp_path / "out.csv", "w") as stdout:
        subprocess.run([sys.executable, "-m", "zoo", "predict", str(path),
                        str(tmp_path / "images.npz"), "--output", "/dev/stdout"], cwd=REPO,
                       env=quiet_environment(), stdout=stdout, check=True)
    written = pd.read_csv(tmp_path / "out.csv")
    assert list(written.columns[:3]) == ["class_id", "label", "probability"] and len(written) == 3


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_files_under_dev_are_files_and_descriptors_are_written_as_they_are(tmp_path, capsys):
    # Every path under /dev was taken for a device: --output /dev/shm/in.npz replaced the input
    # it was predicting, and a workdir there lost its atomic writes.
    from zoo.io import atomic_write_text, special_file

    shared = Path(tempfile.mkdtemp(dir="/dev/shm"))
    try:
        data = shared / "in.npz"
        np.savez(data, x=np.zeros((2, 28, 28), np.uint8))
        before = data.read_bytes()
        (tmp_path / "model.keras").write_text("stands in: refused before it is read")
        assert main(["predict", str(tmp_path / "model.keras"), str(data), "--output",
                     str(data)]) == 2
        assert "is the file of INPUT" in capsys.readouterr().err
        assert data.read_bytes() == before
        assert not special_file(data) and not special_file(shared)
        atomic_write_text(shared / "state.json", "{}")  # atomic: no temporary left behind
        assert sorted(p.name for p in shared.iterdir()) == ["in.npz", "state.json"]
    finally:
        shutil.rmtree(shared)
    reader, writer = os.pipe()
    try:
        assert special_file(f"/dev/fd/{writer}") and special_file("/dev/null")
        atomic_write_text(f"/dev/fd/{writer}", "through the pipe", named=True)
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
        os.close(writer)
    # A file a shell opened for appending (`3>>log.txt`) keeps what it held: reopening
    # /dev/fd/3 with "w" emptied it.
    log = tmp_path / "log.txt"
    log.write_text("earlier lines\n")
    appending = os.open(log, os.O_WRONLY | os.O_APPEND)
    try:
        atomic_write_text(f"/dev/fd/{appending}", "predictions\n", named=True)
    finally:
        os.close(appending)
    assert log.read_text() == "earlier lines\npredictions\n"
    # Standard input is no place for output.
    assert main(["predict", str(tmp_path / "model.keras"), str(log), "--output",
                 "/dev/stdin"]) == 2
    assert "--output /dev/stdin is this command's standard input" in capsys.readouterr().err


def test_a_link_planted_among_a_workdirs_files_is_replaced_not_written_through(tmp_path):
    # Following links everywhere, a workdir's history.csv linked to a file elsewhere made zoo
    # overwrite that file: only outputs the user names (--output) go through a link.
    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt  # after the epoch's commit, as a Ctrl-C

    data = str(write_digits_npz(tmp_path / "digits.npz", count=64))
    run = tmp_path / "run"
    common = {"epochs": 2, "workdir": run, "verbose": 0, "units": (8,)}
    with pytest.raises(KeyboardInterrupt):
        zoo.train("mlp_mnist", data, callbacks=[StopAfterFirstEpoch()], **common)
    elsewhere = tmp_path / "notes.txt"
    elsewhere.write_text("mine")
    (run / "history.csv").unlink()
    (run / "history.csv").symlink_to(elsewhere)
    zoo.train("mlp_mnist", data, **common)  # resumes, and rewrites history.csv
    assert elsewhere.read_text() == "mine"
    assert not (run / "history.csv").is_symlink()
    assert list(pd.read_csv(run / "history.csv")["epoch"]) == [1, 2]


def test_a_non_model_file_is_refused_naming_what_each_command_takes(tmp_path, capsys):
    data = write_digits_npz(tmp_path / "digits.npz", count=8)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    assert main(["evaluate", str(notes), "--data", str(data)]) == 2
    assert capsys.readouterr().err == ("zoo: error: notes.txt is not a model file: expected a "
                                       "directory written by zoo.export, a training workdir, "
                                       "or a .keras file.\n")
    assert main(["export", str(notes), str(tmp_path / "export")]) == 2
    assert capsys.readouterr().err == ("zoo: error: notes.txt is not a model file: expected a "
                                       "training workdir or a .keras file.\n")


def test_zoo_info_of_an_export_reads_json_without_starting_tensorflow(exports):
    # It started TensorFlow (5 s) to print a JSON file.
    script = textwrap.dedent(f"""
        import sys
        from zoo.cli import main
        assert main(["info", {str(export_of_kind(exports, "image"))!r}]) == 0
        print("tensorflow" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=quiet_environment(),
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("status", [0, 2])
def test_the_zoo_process_ends_with_mains_status_once_its_work_is_done(status, monkeypatch):
    # A Ctrl-C while Python and TensorFlow shut down after a finished export ended `zoo` with
    # 130 and a traceback: after main, the process ignores it and exits with main's status.
    handlers = {}
    monkeypatch.setattr(cli, "main", lambda: status)
    monkeypatch.setattr(cli.signal, "signal", lambda signum, handler: handlers.update(
        {signum: handler}))  # this test process' own handlers stay
    with pytest.raises(SystemExit) as ended:
        cli.console_main()
    assert ended.value.code == status
    assert handlers == {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN}
    # The real process, through `python -m zoo`: its output whole, its status main's.
    done = subprocess.run([sys.executable, "-m", "zoo", "list", "cnn_*"], cwd=REPO,
                          env=quiet_environment(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "cnn_mnist" in done.stdout
    assert subprocess.run([sys.executable, "-m", "zoo", "info", "no_such_entry"], cwd=REPO,
                          env=quiet_environment(), capture_output=True,
                          timeout=120).returncode == 2
