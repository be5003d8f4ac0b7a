"""Evaluation reports: metrics against hand computations, errors, plots."""

import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import zoo
from zoo.errors import DataError, InvalidValueError
from zoo.evaluation import classification_report


def test_metrics_match_hand_computation():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    probabilities = np.eye(3)[predicted] * 0.7 + 0.1
    report = classification_report(labels, probabilities, ["a", "b", "c"])

    assert report.accuracy == pytest.approx(4 / 6)
    assert report.confusion.values.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # class a: precision 1/2, recall 1/2; b: 2/3, 1; c: 1, 1/2
    np.testing.assert_allclose(report.per_class["precision"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(report.per_class["recall"], [0.5, 1.0, 0.5])
    f1 = [0.5, 0.8, 2 / 3]
    np.testing.assert_allclose(report.per_class["f1"], f1)
    assert report.macro["f1"] == pytest.approx(np.mean(f1))
    assert report.per_class["support"].tolist() == [2, 2, 2]
    assert report.loss == pytest.approx(-np.mean(np.log([0.8, 0.1, 0.8, 0.8, 0.1, 0.8])))
    assert list(report.summary()["metric"])[:4] == [
        "accuracy", "macro_precision", "macro_recall", "macro_f1"
    ]
    assert "accuracy 0.6667" in str(report)
    # The matrix closes the printed report while it fits a terminal's width.
    assert str(report).endswith(f"columns: predicted)\n{report.confusion}")
    many = classification_report(np.arange(20) % 13, np.eye(13)[np.arange(20) % 13])
    assert "confusion matrix" not in str(many)
    # repr is one line (a report in a list or a TrainResult; a notebook cell's value): the
    # dataclass repr printed its DataFrames whole.
    assert repr(report) == ("<EvalReport: accuracy 0.6667 on 6 examples, 3 classes, macro f1 "
                            "0.6556; print() it for the tables>")


def test_macro_averages_match_scikit_learn_when_classes_are_absent():
    from sklearn import metrics

    # class 2 is neither in the labels nor predicted; class 3 is predicted but absent
    labels = np.array([0, 0, 1, 1, 1, 0])
    predicted = np.array([0, 1, 1, 1, 3, 0])
    report = classification_report(labels, np.eye(5)[predicted] * 0.9 + 0.02)
    for name in ("precision", "recall", "f1"):
        expected = getattr(metrics, f"{name}_score")(labels, predicted, average="macro",
                                                     zero_division=0)
        assert report.macro[name] == pytest.approx(expected), name
    assert len(report.per_class) == 5  # every class keeps its row
    perfect = classification_report([0, 1], np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    assert perfect.macro == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert perfect.summary().set_index("metric").loc["examples", "value"] == 2
    assert isinstance(perfect.summary().set_index("metric").loc["examples", "value"], int)


def test_outputs_that_are_not_probabilities_give_no_loss_and_a_warning(caplog):
    logits = np.array([[2.5, -1.0], [-0.3, 1.2], [0.4, 0.1]])  # a model without its softmax
    with caplog.at_level("WARNING", logger="zoo.evaluation"):
        report = classification_report([0, 1, 1], logits)
    assert report.loss is None and "loss" not in str(report)
    assert report.summary()["metric"].tolist() == [  # no loss row with nothing in it
        "accuracy", "macro_precision", "macro_recall", "macro_f1", "examples"]
    assert report.accuracy == pytest.approx(2 / 3)  # the highest output is still the class
    assert "not probabilities (values from -1 to 2.5, rows summing to 0.5 to 1.5)" in caplog.text
    assert "end the model with a softmax" in caplog.text
    caplog.clear()
    # Scores each within [0, 1] are no distribution either when a row does not sum to 1
    # (sigmoid outputs, one per class): their "cross-entropy" would be a number without meaning.
    with caplog.at_level("WARNING", logger="zoo.evaluation"):
        sigmoid = classification_report([0, 1], np.array([[0.9, 0.8], [0.2, 0.9]]))
    assert sigmoid.loss is None and sigmoid.accuracy == 1.0
    assert "rows summing to 1.1 to 1.7" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="zoo.evaluation"):  # float16 softmax rounding passes
        rounded = classification_report([0, 1], np.array([[0.996, 0.0], [0.25, 0.752]]))
    assert rounded.loss is not None and not caplog.text


def test_class_never_predicted_has_zero_precision_not_nan():
    report = classification_report([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]))
    assert report.per_class.loc["1", "precision"] == 0.0
    assert not report.per_class.isna().any().any()


@pytest.mark.parametrize(
    "labels, probabilities, message",
    [
        ([], np.zeros((0, 2)), "empty"),
        ([0, 2], np.full((2, 2), 0.5), r"labels must lie in \[0, 2\)"),
        ([0, 1, 1], np.full((2, 2), 0.5), "expected probabilities of shape"),
        # Cast to int64 before: "a" raised numpy's ValueError, 0.5 became class 0.
        (["a", "b"], np.full((2, 2), 0.5), r"expected integer class ids as labels, received "
                                           r"str\d* values such as 'a'; map class names"),
        ([0.5, 1.0], np.full((2, 2), 0.5), "received fractional or non-finite numbers"),
        (np.array(["a", None], dtype=object), np.full((2, 2), 0.5),
         r"received object values such as 'a'; map class names"),
    ],
)
def test_bad_inputs_are_reported(labels, probabilities, message):
    with pytest.raises(DataError, match=message):
        classification_report(labels, probabilities)


def test_labels_kept_as_whole_floats_are_class_ids():
    report = classification_report(np.array([0.0, 1.0]), np.array([[0.9, 0.1], [0.4, 0.6]]))
    assert report.accuracy == 1.0


def test_outputs_that_are_not_finite_are_refused_not_scored():
    # argmax of a NaN row is 0: such a model scored like a poor one, class 0 with recall 1.0.
    probabilities = np.array([[np.nan, np.nan], [0.4, 0.6], [np.inf, 0.0]])
    with pytest.raises(InvalidValueError, match=r"outputs are NaN or infinite for 2 of 3 "
                       r"examples, so there is nothing to score"):
        classification_report([0, 1, 1], probabilities)


def test_plot_writes_confusion_matrix_and_curves(tmp_path):
    import pandas as pd

    report = classification_report([0, 1, 1], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    report.history = pd.DataFrame(
        {"epoch": [1, 2], "accuracy": [0.5, 0.7], "val_accuracy": [0.4, 0.6]}
    )
    figure = report.plot(tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 1000
    assert len(figure.axes) == 3  # matrix, its colour bar, curves
    assert report.to_dict()["confusion"] == [[1, 0], [1, 1]]
    # A history without epochs (a run resumed with nothing left to train) has no curves: no
    # empty panel beside the matrix, only the matrix and its colour bar.
    report.history = pd.DataFrame({"epoch": []})
    assert len(report.plot(tmp_path / "no_epochs.png").axes) == 2
    report.plot(tmp_path / "new" / "folder" / "report.png")  # made, as --output's are
    report.loss = -0.0  # a perfect fit's loss, rounded: printed as 0.0000, not -0.0000
    assert "loss 0.0000" in str(report)
    # A file where a folder should be: zoo's message, not mkdir's FileExistsError.
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(zoo.InvalidValueError, match=r"the plot's directory .*notes\.txt"):
        report.plot(tmp_path / "notes.txt" / "report.png")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "new" / "folder" / "report.png").is_file()
    # One tick per epoch up to 10; a longer run gets fewer, all of them whole epochs (18
    # epochs had ticks at 2.5, 7.5, ...).
    report.history = pd.DataFrame({"epoch": range(1, 19), "accuracy": np.linspace(0.5, 0.9, 18)})
    curves = [axis for axis in report.plot(tmp_path / "long.png").axes
              if axis.get_xlabel() == "epoch"]
    ticks = curves[0].get_xticks()
    assert 2 < len(ticks) < 18 and all(tick == int(tick) for tick in ticks)


def test_the_reports_dict_names_each_class_row_and_keeps_true_classes_as_rows():
    import json

    # A cat taken for a dog, no dog taken for a cat: a matrix that reads wrong transposed.
    report = classification_report([0, 0, 1], np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]]),
                                   ["cat", "dog"])
    plain = json.loads(json.dumps(report.to_dict()))  # as report.json holds it
    assert [row["class"] for row in plain["per_class"]] == ["cat", "dog"]
    assert plain["per_class"][0] == {"class": "cat", "precision": 1.0, "recall": 0.5, "f1": 2 / 3,
                                     "support": 2}
    assert plain["confusion"] == [[1, 1], [0, 1]]  # rows: true class, columns: predicted
    assert plain["class_names"] == ["cat", "dog"]


def test_saved_plots_stay_out_of_pyplot_and_stay_legible(tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    rng = np.random.default_rng(0)
    many = classification_report(rng.integers(0, 100, 300), rng.dirichlet(np.ones(100), 300))
    many.history = pd.DataFrame({"epoch": [1], "loss": [0.5]})  # one epoch, no accuracy
    open_before = plt.get_fignums()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found to put in legend"
        for index in range(3):  # a loop saving plots left every figure open in pyplot
            figure = many.plot(tmp_path / f"many_{index}.png")
    assert plt.get_fignums() == open_before
    matrix, curves = figure.axes[:2]  # (the third is the colour bar)
    assert len(matrix.get_xticks()) == 25 and matrix.get_xticklabels()[1].get_text() == "4"
    assert list(curves.get_xticks()) == [1]  # not 0.95, 1.0, 1.05
    assert curves.get_legend() is None
    shown = many.plot()  # without a path: pyplot's, for plt.show() and notebooks
    assert shown.number in plt.get_fignums()
    plt.close(shown)


def test_saving_a_plot_leaves_the_sessions_backend_as_it_was(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend other than the Agg that zoo switched to before
    try:
        report = classification_report([0, 1], np.array([[0.9, 0.1], [0.4, 0.6]]))
        report.plot(tmp_path / "report.png")
        assert matplotlib.get_backend() == "svg"
        assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    finally:
        matplotlib.use(before)


# ---- zoo.evaluate on sources --------------------------------------------------------------------


def _digits(count: int = 24, num_classes: int = 10):
    from helpers import digit_like_images

    return digit_like_images(count, num_classes=num_classes)


def test_evaluate_a_text_model_needs_the_training_preprocessor(fresh_keras_session):
    import zoo

    texts, labels = ["a fine film", "a dull film", "fine", "dull"] * 3, [1, 0, 1, 0] * 3
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=20, sequence_length=4)
    model = zoo.build("lstm_sst2", vocab_size=20, sequence_length=4, lstm_units=(4,),
                      embedding_dim=4)
    with pytest.raises(
        DataError, match=r"needs the vocabulary it was trained with.*preprocessor=result\."
        r"preprocessor.*Preprocessor\.load\(workdir / 'preprocessor', spec\)",
    ):
        zoo.evaluate(model, (texts, labels), spec=spec)
    train = zoo.data.load((texts, labels), spec=spec)
    report = zoo.evaluate(model, (texts, labels), preprocessor=train.preprocessor)
    assert report.num_examples == 12 and report.confusion.shape == (2, 2)


def test_evaluate_on_a_tfds_name_reads_its_test_split(monkeypatch, fresh_keras_session):
    import tensorflow_datasets as tfds

    import zoo
    from zoo.data import tfds_source

    requested = []
    real = tfds_source._tfds_load

    def spy(module, name, split, data_dir, *, download):
        requested.append((name, split))
        return real(module, name, split, data_dir, download=download)

    monkeypatch.setattr(tfds_source, "_tfds_load", spy)
    with tfds.testing.mock_data(num_examples=8):
        report = zoo.evaluate(zoo.build("mlp_mnist", units=(8,)), "mnist")
    assert requested == [("mnist", "test")] and report.num_examples == 8


def test_evaluate_a_model_built_with_fewer_classes(fresh_keras_session):
    import zoo

    images, labels = _digits(num_classes=3)
    model = zoo.build("mlp_mnist", num_classes=3, units=(8,))
    report = zoo.evaluate(model, (images, labels))
    assert report.confusion.shape == (3, 3) and report.num_examples == 24
    # reloaded from its config, the model keeps only its name and output size
    reloaded = model.__class__.from_config(model.get_config())
    assert zoo.evaluate(reloaded, (images, labels)).confusion.shape == (3, 3)
    with pytest.raises(zoo.InvalidValueError, match=r"the model has 3 outputs but spec "
                       r"'mlp_mnist' has 10 classes.*with_overrides\(num_classes=3\)"):
        zoo.evaluate(model, (images, labels), spec=zoo.get_spec("mlp_mnist"))


def test_evaluate_a_model_not_named_after_an_entry_asks_for_its_spec(fresh_keras_session):
    import keras

    import zoo

    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs, name="my_classifier")
    images, labels = _digits()
    with pytest.raises(zoo.InvalidValueError, match=r"'my_classifier' is not named after a zoo "
                       r"entry.*pass spec="):
        zoo.evaluate(model, (images, labels))
    report = zoo.evaluate(model, (images, labels), spec=zoo.get_spec("mlp_mnist"))
    assert report.confusion.shape == (10, 10)
    # The entry's name serves as its spec, as in zoo.data.load (it was an AttributeError).
    by_name = zoo.evaluate(model, (images, labels), spec="mlp_mnist")
    pd.testing.assert_frame_equal(by_name.per_class, report.per_class)
    with pytest.raises(zoo.InvalidValueError, match=r"^spec must be a zoo\.ModelSpec or an entry "
                       r"name such as 'cnn_mnist', got int 3\.$"):
        zoo.evaluate(model, (images, labels), spec=3)
    with pytest.raises(zoo.UnknownNameError, match="Did you mean: 'mlp_mnist'"):
        zoo.evaluate(model, (images, labels), spec="mlp_mnst")
    # A model of another input shape than the spec reads: refused, not scored on other inputs.
    # (It was scored on the entry's inputs, normalized as the entry's, without a word; and the
    # same model evaluated on its own dataset afterwards failed deep in Keras, its traced pass
    # relaxed to an unknown rank.)
    import tensorflow as tf

    flat = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")], name="flat")
    own = tf.data.Dataset.from_tensor_slices((images.astype("float32") / 255, labels)).batch(8)
    before = zoo.evaluate(flat, own)
    with pytest.raises(zoo.DataError, match=re.escape(
            "the model takes batches of shape (None, 28, 28), but spec 'mlp_mnist' reads the data "
            "as (None, 28, 28, 1): a spec brings its entry's input shape and preprocessing")):
        zoo.evaluate(flat, (images, labels), spec="mlp_mnist")
    assert zoo.evaluate(flat, own).accuracy == before.accuracy


def test_evaluate_maps_named_labels_to_the_given_class_names(fresh_keras_session):
    import zoo

    images, _ = _digits(4)
    model = zoo.build("mlp_mnist", num_classes=3, units=(8,))
    names = ("cat", "dog", "fox")
    report = zoo.evaluate(model, (images, ["fox", "cat", "fox", "cat"]), class_names=names)
    assert list(report.per_class.index) == list(names)
    assert report.per_class["support"].tolist() == [2, 0, 2]


def test_given_class_names_name_the_rows_of_a_dataset_carrying_its_own(fresh_keras_session):
    # The docstring: class_names names the report's rows. A zoo.data.load dataset carries
    # names too ('0' to '9' for integer labels); those are the fallback, not the winner.
    images, labels = _digits(8)
    data = zoo.data.load((images, labels), "all", spec="mlp_mnist", shuffle=False,
                         augment=False)
    assert data.class_names == tuple(str(i) for i in range(10))
    names = [f"digit {i}" for i in range(10)]
    report = zoo.evaluate(zoo.build("mlp_mnist", units=(8,)), data, class_names=names)
    assert list(report.per_class.index) == names
    assert report.to_dict()["class_names"] == names


@pytest.mark.usefixtures("fresh_keras_session")
def test_datasets_that_cannot_be_scored_are_refused_with_the_way_out():
    import tensorflow as tf
    from helpers import digit_like_images

    import zoo

    images, labels = digit_like_images(64)
    model = zoo.build("mlp_mnist", units=(8,))
    spec = zoo.get_spec("mlp_mnist")
    augmented = zoo.data.load((images, labels), "all", spec=spec, batch_size=16)
    # Also when the augmenting pipeline is wrapped in transformations that drop its attributes.
    for dataset in (augmented, augmented.prefetch(1).take(2), augmented.map(lambda x, y: (x, y))):
        with pytest.raises(DataError, match="augments its images.*augment=False"):
            zoo.evaluate(model, dataset)
    steady = zoo.data.load((images, labels), "all", spec=spec, batch_size=16, shuffle=False,
                           augment=False)
    assert zoo.evaluate(model, steady).num_examples == 64
    cases = {
        "it is not batched: call .batch": steady.unbatch(),
        r"takes batches of shape \(None, 28, 28, 1\), the dataset's inputs have shape "
        r"\(None, 28, 28\)": tf.data.Dataset.from_tensor_slices((images, labels)).batch(16),
        "raw uint8 pixels": tf.data.Dataset.from_tensor_slices((images[..., None], labels))
        .batch(4),
        "one-hot labels": steady.map(lambda x, y: (x, tf.one_hot(y, 10))),
        # Ids held as floats need a cast, not the one-hot advice they got.
        r"received float32 labels of shape \(None,\); cast them to integers": steady.map(
            lambda x, y: (x, tf.cast(y, tf.float32))),
        r"3 part\(s\) \(sample weights are not supported\)": steady.map(lambda x, y: (x, y, y)),
        "received dict labels; map the dataset to": steady.map(lambda x, y: (x, {"y": y})),
        "cannot evaluate on an empty dataset: it yielded no batches": steady.take(0),
    }
    for message, dataset in cases.items():
        with pytest.raises(DataError, match=message):
            zoo.evaluate(model, dataset)
    # (batch, 1) integer labels, as Keras' evaluate takes them: scored as (batch,) ids.
    column = steady.map(lambda x, y: (x, y[:, None]))
    assert column.element_spec[1].shape.as_list() == [None, 1]
    assert zoo.evaluate(model, column).confusion.equals(zoo.evaluate(model, steady).confusion)
    # Inputs named as the model's, as Keras' evaluate takes them: scored the same.
    named = steady.map(lambda x, y: ({model.inputs[0].name: x}, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras on a dict for one input: not zoo's
        assert zoo.evaluate(model, named).accuracy == zoo.evaluate(model, steady).accuracy


@pytest.mark.usefixtures("fresh_keras_session")
def test_a_model_not_built_yet_is_built_by_its_first_batch_and_scored():
    # A Sequential model without an input shape has no output_shape until it is called.
    import keras
    from helpers import digit_like_images

    images, labels = digit_like_images(32)
    steady = zoo.data.load((images, labels), "all", spec="mlp_mnist", batch_size=16,
                           shuffle=False, augment=False)
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    assert not model.built
    report = zoo.evaluate(model, steady)
    assert report.num_examples == 32 and model.built


@pytest.mark.usefixtures("fresh_keras_session")
def test_evaluating_many_models_does_not_warn_of_retracing(caplog):
    from helpers import digit_like_images

    import zoo

    images, labels = digit_like_images(32)
    with caplog.at_level("WARNING", logger="tensorflow"):
        for _ in range(7):
            zoo.evaluate(zoo.build("mlp_mnist", units=(8,)), (images, labels))
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]


def test_a_train_result_evaluates_as_its_model_with_its_preprocessing(tmp_path):
    from helpers import write_sentiment_tsv

    data = str(write_sentiment_tsv(tmp_path / "reviews.tsv"))
    result = zoo.train("lstm_sst2", data, epochs=1, verbose=0, vocab_size=200,
                       sequence_length=16, embedding_dim=8, lstm_units=(4,))
    from_result = zoo.evaluate(result, data)
    from_parts = zoo.evaluate(result.model, data, preprocessor=result.preprocessor)
    assert from_result.confusion.equals(from_parts.confusion)
    assert list(from_result.per_class.index) == ["negative", "positive"]
    # What the result carries is not silently replaced by arguments it does not use.
    same = zoo.evaluate(result, data, class_names=["negative", "positive"])
    assert same.confusion.equals(from_result.confusion)
    with pytest.raises(zoo.InvalidValueError, match=r"class_names \['bad', 'good'\] are not "
                       r"the classes the zoo.train result was trained with \(\['negative', "
                       r"'positive'\]\); leave class_names out"):
        zoo.evaluate(result, data, class_names=["bad", "good"])
    with pytest.raises(zoo.InvalidValueError, match="spec= is for a bare keras.Model, and a "
                       "zoo.train result carries the spec it was trained with: leave spec out"):
        zoo.evaluate(result, data, spec=zoo.get_spec("transformer_sst2"))


def test_runs_and_exports_refuse_what_they_carry_and_non_models_are_named(tmp_path):
    from helpers import digit_like_images

    images, labels = digit_like_images(40, num_classes=3)
    names = ["ant", "bee", "cat"]
    named = [names[label] for label in labels]
    run = tmp_path / "run"
    result = zoo.train("mlp_mnist", (images, named), epochs=1, verbose=0, workdir=run,
                       num_classes=3, units=(8,))
    export = zoo.export(result, tmp_path / "export")
    for model, what in ((run, f"the run or export in {run}"),
                        (export, f"the run or export in {export}"),
                        (zoo.load(export), "an export")):
        assert zoo.evaluate(model, (images, named), class_names=names).num_examples == 40
        with pytest.raises(zoo.InvalidValueError, match=f"spec= is for a bare keras.Model, and "
                           f"{re.escape(what)} carries"):
            zoo.evaluate(model, (images, labels), spec=zoo.get_spec("mlp_mnist"))
        with pytest.raises(zoo.InvalidValueError, match=f"preprocessor= is for a bare "
                           f"keras.Model or a zoo.train result, and {re.escape(what)} carries"):
            zoo.evaluate(model, (images, labels), preprocessor=result.preprocessor)
        with pytest.raises(zoo.InvalidValueError, match=r"class_names \['a', 'b', 'c'\] are "
                           r"not the classes"):
            zoo.evaluate(model, (images, labels), class_names=["a", "b", "c"])
    # Scoring a trained model, the advice is about the data, never about building the model.
    wrong_labels = (images, np.arange(40) % 5)
    for model in (run, export, zoo.load(export)):
        with pytest.raises(zoo.DataError, match=r"labels must lie in \[0, 3\).*found 3, 4 at rows"
                           r".*The model was trained on classes 0 to 2: drop those rows") as error:
            zoo.evaluate(model, wrong_labels)
        assert "num_classes" not in str(error.value)
    with pytest.raises(zoo.DataError, match=r"received \(28, 28, 3\): 3 channels where 1 are "
                       r"expected\. Convert the images \(grayscale <-> RGB\)\.$") as error:
        zoo.evaluate(run, (np.repeat(images[..., None], 3, axis=-1), labels))
    # A model trained on integer ids, scored on named labels: name its classes, not rebuild it.
    with pytest.raises(zoo.DataError, match=r"names 2 classes \('ant', 'bee'\), and the model was "
                       r"trained on 10 classes.*pass class_names= naming them in id order"):
        zoo.evaluate(zoo.build("mlp_mnist", units=(8,)), (images[:4], ["ant", "bee"] * 2))
    with pytest.raises(zoo.InvalidValueError, match="cannot evaluate a int; expected a "
                       "keras.Model, the TrainResult of zoo.train, a zoo.load predictor"):
        zoo.evaluate(42, (images, labels))


@pytest.mark.usefixtures("fresh_keras_session")
def test_an_image_model_refuses_a_path_given_as_bytes_quoting_it_as_text(tmp_path):
    # A path read from a binary file or os.listdir(b"."): quoted as the text it is.
    zoo.build("mlp_mnist", units=(8,)).save(tmp_path / "mlp.keras")
    with pytest.raises(DataError, match=r"not the string 'digits/seven\.png'\. Read images from "
                                        r"a file or folder first"):
        zoo.load(tmp_path / "mlp.keras").predict(b"digits/seven.png")


def test_register_model_says_how_to_name_an_entry():
    with pytest.raises(zoo.InvalidValueError, match=r"give a name as a keyword: "
                                                    r"@zoo.register_model\(name='my_entry'\)"):
        zoo.register_model("my_entry")


def test_a_dataset_with_labels_or_class_names_the_model_lacks_is_told_the_fix():
    import tensorflow as tf

    model = zoo.build("mlp_mnist", units=(8,))
    images = np.zeros((4, 28, 28, 1), np.float32)

    def dataset(labels):
        return tf.data.Dataset.from_tensor_slices((images, np.array(labels))).batch(2)

    # Was "labels must lie in [0, 10) for a 10-class model, found values from 10 to 19.": no fix.
    with pytest.raises(DataError, match=r"labels must lie in \[0, 10\) for the model \(10 "
                       r"classes\), found 10, 11, 12, 19 at rows 0, 1, 2, 3 \(values from 10 "
                       r"to 19\)\. The model was trained on classes 0 to 9: drop those rows"):
        zoo.evaluate(model, dataset([10, 11, 12, 19]))
    # Was "class_names has 2 names for 10 classes.": no fix.
    with pytest.raises(InvalidValueError, match=r"class_names has 2 names for 10 classes.*one "
                       r"name per class in id order, such as the training dataset's "
                       r"\.class_names"):
        zoo.evaluate(model, dataset([0, 1, 1, 0]), class_names=["a", "b"])


def test_plotting_without_matplotlib_names_the_extra(monkeypatch):
    # It failed with a bare ModuleNotFoundError; matplotlib is the optional `plot` extra.
    report = classification_report([0, 1], np.array([[0.9, 0.1], [0.4, 0.6]]))
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    # An ImportError too (was: InvalidValueError only), as Python's own for a missing module.
    with pytest.raises(ImportError, match=r"EvalReport.plot\(\) needs matplotlib .*"
                       r"pip install 'zoo\[plot\]'") as caught:
        report.plot()
    assert isinstance(caught.value, zoo.MissingDependencyError)
    assert isinstance(caught.value, zoo.InvalidValueError)  # what it was before
