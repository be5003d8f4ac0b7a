"""Evaluation reports: metrics against hand computations, errors, plots."""

import numpy as np
import pytest

from zoo.errors import DataError
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
    ],
)
def test_bad_inputs_are_reported(labels, probabilities, message):
    with pytest.raises(DataError, match=message):
        classification_report(labels, probabilities)


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
