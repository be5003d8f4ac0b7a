"""Evaluation reports: accuracy, per-class precision/recall/F1, macro averages, confusion matrix."""

from __future__ import annotations

import functools
import logging
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from zoo.errors import DataError, InvalidValueError, MissingDependencyError
from zoo.io import expand_user, save_atomically

logger = logging.getLogger("zoo.evaluation")

# Up to this many classes, str(report) ends with the confusion matrix (a terminal's width).
MAX_PRINTED_CLASSES = 12


@dataclass
class EvalReport:
    """What `zoo.evaluate` measured. Tables are pandas DataFrames.

    Attributes:
        accuracy: share of examples whose arg-max class is the label.
        per_class: one row per class: precision, recall, f1, support.
        macro: unweighted mean of precision, recall and f1 over the classes that occur in the
            labels or the predictions (scikit-learn's macro average).
        confusion: counts, rows = true class, columns = predicted class.
        loss: mean cross-entropy of the labels (without the recipe's label smoothing, so it can
            differ from a smoothed `val_loss`; probabilities clipped at 1e-12); None when the
            model's outputs are not probabilities (a model ending in logits: a warning says so).
        history: training curves (one row per epoch) when the report comes from `zoo.train`.

    Example:
        >>> import numpy as np, zoo
        >>> model = zoo.build("mlp_mnist")
        >>> images = np.random.default_rng(0).integers(0, 255, (20, 28, 28), dtype=np.uint8)
        >>> report = zoo.evaluate(model, (images, np.arange(20) % 10))
        >>> report.per_class.columns.tolist(), int(report.per_class["support"].sum())
        (['precision', 'recall', 'f1', 'support'], 20)
        >>> sorted(report.macro)
        ['f1', 'precision', 'recall']
    """

    accuracy: float
    per_class: pd.DataFrame
    macro: dict[str, float]
    confusion: pd.DataFrame
    loss: float | None = None
    num_examples: int = 0
    history: pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> pd.DataFrame:
        """A one-row-per-metric table: accuracy, macro precision/recall/F1, loss, examples.

        Example:
            >>> import numpy as np
            >>> from zoo.evaluation import classification_report
            >>> report = classification_report([0, 1], np.array([[0.9, 0.1], [0.4, 0.6]]))
            >>> report.summary()["metric"].tolist()
            ['accuracy', 'macro_precision', 'macro_recall', 'macro_f1', 'loss', 'examples']
        """
        rows = {"accuracy": self.accuracy, **{f"macro_{k}": v for k, v in self.macro.items()}}
        if self.loss is not None:
            rows["loss"] = self.loss
        rows["examples"] = self.num_examples
        # object values: the count stays an integer beside the rates
        return pd.DataFrame({"metric": list(rows), "value": pd.Series(list(rows.values()),
                                                                      dtype=object)})

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (for report.json and export metadata).

        Example:
            >>> import json, numpy as np
            >>> from zoo.evaluation import classification_report
            >>> report = classification_report([0, 1], np.array([[0.9, 0.1], [0.4, 0.6]]))
            >>> plain = json.loads(json.dumps(report.to_dict()))
            >>> plain["accuracy"], plain["confusion"], plain["class_names"]
            (1.0, [[1, 0], [0, 1]], ['0', '1'])
        """
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "num_examples": self.num_examples,
            "macro": self.macro,
            "per_class": self.per_class.reset_index().to_dict(orient="records"),
            "confusion": self.confusion.values.tolist(),
            "class_names": [str(c) for c in self.confusion.index],
        }

    def __repr__(self) -> str:
        # One line where a report is a value inside another (a list, a TrainResult) or a
        # notebook cell's result; print() gives the tables.
        f1 = f", macro f1 {self.macro['f1']:.4f}" if "f1" in self.macro else ""
        return (f"<EvalReport: accuracy {self.accuracy:.4f} on {self.num_examples} examples, "
                f"{len(self.confusion)} classes{f1}; print() it for the tables>")

    def __str__(self) -> str:
        table = self.per_class.to_string(float_format=lambda v: f"{v:.4f}")
        macro = "  ".join(f"{k} {v:.4f}" for k, v in self.macro.items())
        loss = f"  loss {self.loss + 0.0:.4f}" if self.loss is not None else ""  # not -0.0000
        text = (
            f"accuracy {self.accuracy:.4f} on {self.num_examples} examples{loss}\n"
            f"macro: {macro}\n{table}"
        )
        if len(self.confusion) <= MAX_PRINTED_CLASSES:  # wider matrices wrap into noise
            text += f"\nconfusion matrix (rows: true class, columns: predicted)\n{self.confusion}"
        return text

    def plot(self, path: str | os.PathLike | None = None) -> Any:
        """Plot the confusion matrix and, when known, the training curves (needs matplotlib).

        Returns the matplotlib Figure. Without `path` it is a pyplot figure, which a notebook
        shows and `plt.show()` opens; with `path` it is saved there and kept out of pyplot's
        open figures (a loop saving plots would pile them up), shown in a notebook as a cell's
        last value. Class names are thinned out beyond 30 classes, to stay legible.

        Example:
            >>> import numpy as np, pathlib, tempfile
            >>> from zoo.evaluation import classification_report
            >>> report = classification_report([0, 1], np.array([[0.9, 0.1], [0.4, 0.6]]))
            >>> path = pathlib.Path(tempfile.mkdtemp()) / "report.png"
            >>> figure = report.plot(path)
            >>> len(figure.axes) >= 1, path.is_file()
            (True, True)
        """
        # The session's backend is left as it is (a notebook's inline one keeps showing figures
        # after a report is saved to a file): savefig writes a file under any backend, and
        # matplotlib falls back to a file-only one by itself on a machine without a display.
        try:
            import matplotlib
            import matplotlib.figure
            import matplotlib.pyplot as plt
        except ImportError as error:  # an optional dependency: the `plot` extra
            raise MissingDependencyError(
                f"EvalReport.plot() needs matplotlib ({error}); install it with pip install "
                f"'zoo[plot]' (or pip install matplotlib), or read the report's DataFrames "
                f"(per_class, confusion, history) instead."
            ) from None

        panels = 2 if self.history is not None and len(self.history) else 1
        size = (6 * panels, 5)
        figure = plt.figure(figsize=size) if path is None else matplotlib.figure.Figure(size)
        axes = figure.subplots(1, panels, squeeze=False)
        matrix_axis = axes[0, 0]
        image = matrix_axis.imshow(self.confusion.values, cmap="Blues")
        labels = [str(c) for c in self.confusion.index]
        shown = range(0, len(labels), -(-len(labels) // 30))  # at most 30 names per axis
        matrix_axis.set_xticks(shown, [labels[i] for i in shown], rotation=45, ha="right")
        matrix_axis.set_yticks(shown, [labels[i] for i in shown])
        matrix_axis.set_xlabel("predicted")
        matrix_axis.set_ylabel("true")
        matrix_axis.set_title(f"confusion matrix (accuracy {self.accuracy:.3f})")
        figure.colorbar(image, ax=matrix_axis)
        if len(labels) <= 20:  # counts stay legible up to about 20 classes
            values = self.confusion.values
            for (row, column), count in np.ndenumerate(values):
                dark = count > values.max() / 2
                matrix_axis.text(column, row, str(count), ha="center", va="center",
                                 fontsize=8, color="white" if dark else "black")
        if panels == 2:
            curve_axis = axes[0, 1]
            epochs = self.history["epoch"]
            for column in ("accuracy", "val_accuracy"):
                if column in self.history:
                    curve_axis.plot(epochs, self.history[column], marker="o", label=column)
            if len(epochs) <= 10:  # one tick per epoch (a single epoch got ticks like 0.95)
                curve_axis.set_xticks(list(epochs))
            else:
                curve_axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            curve_axis.set_xlabel("epoch")
            curve_axis.set_ylabel("accuracy")
            curve_axis.set_title("training curves")
            if curve_axis.get_lines():  # a history without accuracy columns has no legend
                curve_axis.legend()
        figure.tight_layout()
        if path is not None:
            from pathlib import Path

            import matplotlib

            from zoo import checks

            # Missing folders are made, as zoo evaluate --output makes them; one that cannot be
            # (a file in the way) is said as zoo says it, not as mkdir's FileExistsError.
            path = expand_user(path)
            checks.writable_directory("the plot's directory", Path(path).parent)
            # Written under a temporary name, then renamed: an earlier plot is never left half
            # overwritten. The format goes by the name given, as savefig's own choice would.
            kind = Path(path).suffix.lstrip(".") or matplotlib.rcParams["savefig.format"]
            # "tight": the rotated class names and the axis label below them stay in the file.
            save_atomically(lambda temporary: figure.savefig(temporary, bbox_inches="tight",
                                                             format=kind), path)
        return figure


def classification_report(
    labels: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str] | None = None,
) -> EvalReport:
    """Build an `EvalReport` from true labels and predicted class probabilities.

    Example:
        >>> import numpy as np
        >>> from zoo.evaluation import classification_report
        >>> report = classification_report(
        ...     [0, 1, 1], np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        ... )
        >>> round(report.accuracy, 4), report.confusion.values.tolist()
        (0.6667, [[1, 0], [1, 1]])
    """
    from zoo.data import validate

    labels = _class_ids(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise DataError(
            f"expected probabilities of shape (examples, classes) with {len(labels)} rows, "
            f"received {probabilities.shape}."
        )
    if len(labels) == 0:
        raise DataError("cannot evaluate on an empty dataset: it yielded no examples.")
    broken = int((~np.isfinite(probabilities)).any(axis=1).sum())
    if broken:
        # The highest of NaNs is the first class: the report would look like a poor model's.
        raise InvalidValueError(
            f"the model's outputs are NaN or infinite for {broken} of {len(labels)} examples, "
            f"so there is nothing to score: its weights have diverged (a run stopped on a NaN "
            f"loss keeps its last good checkpoint, a workdir's best.keras), or the inputs hold "
            f"extreme values. Evaluate a model whose outputs are finite."
        )
    num_classes = probabilities.shape[1]
    # The model exists: the fix is in the data (as zoo.evaluate's other sources are told).
    with validate.for_trained_model():
        validate.check_label_range(labels, num_classes, "the evaluation data", None)
    # Any sequence of names (a list, a tuple, a pandas Index), or none: ids as text.
    names = [str(name) for name in class_names] if class_names is not None else []
    names = names or [str(i) for i in range(num_classes)]
    if len(names) != num_classes:
        raise InvalidValueError(
            f"class_names has {len(names)} names for {num_classes} classes (the model's "
            f"outputs); expected one name per class in id order, such as the training "
            f"dataset's .class_names (zoo.data.load(...).class_names), or none to number them."
        )

    predicted = probabilities.argmax(axis=1)
    confusion = np.bincount(labels * num_classes + predicted, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )
    true_positive = np.diag(confusion).astype(np.float64)
    predicted_count = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    # A class never predicted (or never present) has precision (recall) 0, scikit-learn's default.
    precision = np.divide(
        true_positive, predicted_count, out=np.zeros(num_classes), where=predicted_count > 0
    )
    recall = np.divide(true_positive, support, out=np.zeros(num_classes), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall, denominator, out=np.zeros(num_classes), where=denominator > 0
    )
    present = (support > 0) | (predicted_count > 0)

    per_class = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support},
        index=pd.Index(names, name="class"),
    )
    return EvalReport(
        accuracy=float((predicted == labels).mean()),
        per_class=per_class,
        # Over the classes in the labels or the predictions, as scikit-learn averages: a class
        # the data lacks and the model never predicts has no precision or recall to average.
        macro={
            "precision": float(precision[present].mean()),
            "recall": float(recall[present].mean()),
            "f1": float(f1[present].mean()),
        },
        confusion=pd.DataFrame(
            confusion, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")
        ),
        loss=_cross_entropy(labels, probabilities),
        num_examples=int(len(labels)),
    )


def _class_ids(labels: Any) -> np.ndarray:
    """`labels` as a flat int64 array of class ids; whole floats (labels kept in a float array)
    are ids too. Names or fractions raise `DataError`: cast, they became wrong ids."""
    array = np.asarray(labels).reshape(-1)
    if array.dtype.kind in "iub" or array.size == 0:
        return array.astype(np.int64)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        kind = "fractional or non-finite numbers"
    else:
        # The plain value: NumPy 1 and 2 write a NumPy scalar's repr differently ('a' /
        # np.str_('a')). (An object array's items are plain already.)
        first = array[0].item() if isinstance(array[0], np.generic) else array[0]
        kind = f"{array.dtype.name} values such as {first!r}"
    raise DataError(
        f"expected integer class ids as labels, received {kind}; map class names to their ids "
        f"(their positions in class_names) first, or use zoo.evaluate, which maps them."
    )


def _cross_entropy(
    labels: np.ndarray, probabilities: np.ndarray, tolerance: float = 1e-2
) -> float | None:
    """Mean cross-entropy of `labels` (probabilities clipped at 1e-12), or None with a warning
    where a row of `probabilities` is no probability distribution to within `tolerance` (wide
    enough for a float16 or bfloat16 softmax): a cross-entropy of other scores, such as logits,
    would be a number without meaning."""
    low, high = float(probabilities.min()), float(probabilities.max())
    sums = probabilities.sum(axis=1)
    if low < -tolerance or high > 1 + tolerance or np.any(np.abs(sums - 1) > tolerance):
        logger.warning(
            "the model's outputs are not probabilities (values from %.3g to %.3g, rows summing "
            "to %.3g to %.3g), as from a model that ends without a softmax (logits): the report "
            "leaves the loss out, and its accuracy, precision, recall, F1 and confusion matrix "
            "take each example's highest output as its class. For a loss, end the model with a "
            "softmax (zoo.models.classifier_head).", low, high, float(sums.min()),
            float(sums.max()),
        )
        return None
    clipped = np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)
    return float(-np.log(clipped).mean())


def evaluate(
    model: Any,
    data: Any,
    *,
    spec: Any = None,
    preprocessor: Any = None,
    batch_size: int | None = None,
    class_names: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    text_column: str | None = None,
    label_column: str = "label",
) -> EvalReport:
    """Evaluate a classifier on a dataset and return an `EvalReport`.

    `model` is a `keras.Model`; a `zoo.train` result (its model, spec, preprocessor and class
    names); a `zoo.Predictor` (`zoo.load` of an export, scored on a local
    labelled source by `Predictor.evaluate`); or a path, as `zoo evaluate` takes it: a training
    workdir (its model, spec, vocabulary and class names), an export, or an image entry's
    `.keras` file, loaded with `zoo.load`'s safety checks.
    `data` is a batched `tf.data.Dataset` of `(inputs, labels)` (as `zoo.data.load` returns), or
    any source `zoo.data.load` accepts, read whole (a TFDS name: its labelled test split) with
    the model's spec: `spec`, else the one it was built from or the entry named like the model,
    with the class count of the model's output. Text sources need the `preprocessor` fitted on
    the training data; a model started from a run's weights (`zoo.build(name, weights=...)`)
    carries that run's, which is used when none is given. `class_names` (the training data's,
    in id order) names the report's rows and maps class names in the source to the ids the
    model was trained with. A run, a train result or an export carries its own spec,
    preprocessing and class names: `spec` and (but for a train result) `preprocessor` are
    refused for them, and `class_names` must be their own (or name the classes of a run trained
    on integer labels). `data_dir` and `download` reach TFDS as in `zoo.data.load` (an export
    is scored on local data only); `text_column` and `label_column` name the columns of a table
    source, as there. `batch_size` batches a source read here (default: the entry's recipe
    batch size); a `tf.data.Dataset` keeps its own batches. It changes no score, only memory
    and speed.

    Raises:
        DataError: a text source without the training `preprocessor`, or data the model's spec
            refuses (see `zoo.data.load`); a dataset that augments, is unbatched, holds raw
            uint8 pixels or labels that are not class ids.
        InvalidValueError: a model not named after an entry and no `spec`, or a spec whose
            class count differs from the model's output; something that is not a model; `spec`,
            `preprocessor` or other `class_names` for a run or an export.

    Example:
        >>> import numpy as np, zoo
        >>> model = zoo.build("mlp_mnist")
        >>> images = np.random.default_rng(0).integers(0, 255, (32, 28, 28), dtype=np.uint8)
        >>> report = zoo.evaluate(model, (images, np.arange(32) % 10))
        >>> report.confusion.shape
        (10, 10)
    """
    model, data, data_dir = expand_user(model), expand_user(data), expand_user(data_dir)
    import keras
    import tensorflow as tf

    from zoo.data.sources import column_options
    from zoo.models.weights import pretrained_vocabulary
    from zoo.registry import as_spec
    from zoo.serving.predictor import Predictor
    from zoo.serving.sources import resolve
    from zoo.training.loop import TrainResult

    columns = column_options(text_column, label_column)
    if isinstance(model, TrainResult):  # as zoo.export takes one
        _refuse_spec(spec, "a zoo.train result")
        return _evaluate_trained(resolve(model, preprocessor), data, batch_size, class_names,
                                 "the zoo.train result", data_dir=data_dir, download=download,
                                 **columns)
    if isinstance(model, (str, os.PathLike)):
        what = f"the run or export in {model}"
        _refuse_spec(spec, what)
        _refuse_preprocessor(preprocessor, what)
        return _evaluate_saved(model, data, batch_size, class_names, data_dir=data_dir,
                               download=download, **columns)
    if isinstance(model, Predictor):  # an export (zoo.load): it reads raw data itself
        _refuse_spec(spec, "an export")
        _refuse_preprocessor(preprocessor, "an export")
        _own_class_names(model.class_names, class_names, "the export")
        if data_dir is not None:
            logger.warning("data_dir=%s is not used: an export is scored on local data.", data_dir)
        return model.evaluate(data, **({} if batch_size is None else {"batch_size": batch_size}),
                              **columns)
    if not isinstance(model, keras.Model):
        raise InvalidValueError(
            f"cannot evaluate a {type(model).__name__}; expected a keras.Model, the TrainResult "
            f"of zoo.train, a zoo.load predictor, or the path of a training workdir, an export "
            f"or an image entry's .keras file."
        )
    spec = as_spec(spec)
    outputs = _output_size(model)
    if spec is not None and outputs is not None and outputs != spec.num_classes:
        raise InvalidValueError(
            f"the model has {outputs} outputs but spec {spec.name or spec.family!r} has "
            f"{spec.num_classes} classes; pass the spec the model was built with "
            f"(spec.with_overrides(num_classes={outputs}) for a fine-tuned head)."
        )
    if preprocessor is None:
        # A text model started from a run's weights (zoo.build(weights=...)) carries that run's
        # vocabulary: read the text with it, as zoo.train does.
        preprocessor = pretrained_vocabulary(model)
    if not isinstance(data, tf.data.Dataset):
        spec = spec or _model_spec(model, preprocessor)
        data = _load_for_evaluation(data, spec, preprocessor, batch_size, class_names,
                                    data_dir=data_dir, download=download, **columns)
        _check_read_for(model, spec, data.element_spec[0])
    else:
        _check_dataset(data, model)
    class_names = (
        class_names or getattr(data, "class_names", None) or (spec.class_names if spec else None)
    )
    # A traced forward pass rather than `model.predict_on_batch`: the latter goes through the
    # model's distribution strategy, and Keras 3 cannot reduce its outputs under a multi-worker
    # strategy (keras-team/keras#20585); a plain call reads the local copy of the weights.
    forward = _forward_pass(model)
    labels, probabilities = [], []
    for inputs, batch_labels in data:
        probabilities.append(np.asarray(forward(inputs), dtype=np.float64))
        labels.append(np.asarray(batch_labels))
    if not labels:
        raise DataError("cannot evaluate on an empty dataset: it yielded no batches.")
    return classification_report(np.concatenate(labels), np.concatenate(probabilities), class_names)


def _evaluate_saved(
    path: str | os.PathLike, data: Any, batch_size: int | None,
    class_names: Sequence[str] | None, **read_options: Any
) -> EvalReport:
    """Evaluate a workdir, an export or a `.keras` file on `data`."""
    from zoo.serving.archive import is_export
    from zoo.serving.predictor import load
    from zoo.serving.sources import read_trained

    if is_export(path):  # a SavedModel serves raw inputs itself
        return evaluate(load(path), data, batch_size=batch_size, class_names=class_names,
                        **read_options)
    # read_trained refuses files that would run code, like zoo.load.
    return _evaluate_trained(read_trained(path), data, batch_size, class_names,
                             f"the run in {path}", **read_options)


def _evaluate_trained(trained: Any, data: Any, batch_size: int | None,
                      class_names: Sequence[str] | None, what: str,
                      **read_options: Any) -> EvalReport:
    """Evaluate a `zoo.serving.sources.Trained` (a run, a `.keras` file or a train result) with
    its spec and preprocessing; the training data's class names map named labels in `data` to
    the ids the model learned."""
    return evaluate(trained.model, data, spec=trained.spec, preprocessor=trained.preprocessor,
                    batch_size=batch_size,
                    class_names=_own_class_names(trained.class_names, class_names, what),
                    **read_options)


def _refuse_spec(spec: Any, what: str) -> None:
    """`spec=` tells how to read data for a bare keras.Model; a run or an export has its own."""
    if spec is not None:
        raise InvalidValueError(
            f"spec= is for a bare keras.Model, and {what} carries the spec it was trained with: "
            f"leave spec out."
        )


def _refuse_preprocessor(preprocessor: Any, what: str) -> None:
    if preprocessor is not None:
        raise InvalidValueError(
            f"preprocessor= is for a bare keras.Model or a zoo.train result, and {what} carries "
            f"the preprocessing it was trained with (vocabulary or pixel scaling): leave "
            f"preprocessor out."
        )


def _own_class_names(
    own: Sequence[str] | None, given: Sequence[str] | None, what: str
) -> list[str] | None:
    """The class names to score a run or an export with: its own, or `given` where it has none
    (a run trained on integer labels). Names that contradict its own are refused, since the
    model's outputs mean its own classes whatever the report would call them."""
    own_names = [str(name) for name in own or ()]
    if given is None:
        return own_names or None
    given_names = [str(name) for name in given]
    if own_names and given_names != own_names:
        raise InvalidValueError(
            f"class_names {given_names} are not the classes {what} was trained with "
            f"({own_names}); leave class_names out: labels named in the data are mapped to its "
            f"own names."
        )
    return given_names


def _augments(dataset: Any, depth_limit: int = 64) -> bool:
    """Whether `dataset`, or a dataset it was made from, is a zoo pipeline that augments.

    `zoo.data.load` marks its datasets with an `augmented` attribute, which a transformation
    (`.prefetch`, `.take`, `.map`) does not carry over, so the datasets a transformation was
    made from are followed back. tf.data offers no public way to do that; `_inputs()` is the
    method its own dataset classes use, and where it is missing only `dataset` is looked at.
    """
    pending, seen = [dataset], 0
    while pending and seen < depth_limit:
        current = pending.pop()
        seen += 1
        if getattr(current, "augmented", False):
            return True
        try:
            pending.extend(current._inputs())
        except Exception:  # not a tf.data dataset of a known kind: nothing further to follow
            continue
    return False


def _check_dataset(data: Any, model: Any) -> None:
    """Refuse a `tf.data` dataset that would give a meaningless score or a deep Keras error."""
    import tensorflow as tf

    if _augments(data):
        raise DataError(
            "the dataset augments its images (randomly distorted, differently on every pass), "
            "so its score would be random; load evaluation data with augment=False (and "
            "shuffle=False): zoo.data.load(source, split, spec=..., augment=False)."
        )
    element = data.element_spec
    if not isinstance(element, tuple) or len(element) != 2:
        count = len(element) if isinstance(element, tuple) else 1
        raise DataError(
            f"expected a dataset of (inputs, labels) pairs, received elements of {count} "
            f"part(s){' (sample weights are not supported)' if count == 3 else ''}; map it to "
            f"(inputs, labels) or pass a source zoo.data.load reads."
        )
    inputs, labels = element
    if isinstance(inputs, tf.TensorSpec):  # not a dict of named inputs, which Keras matches
        _check_inputs(inputs, model)
    if not isinstance(labels, tf.TensorSpec):
        raise DataError(
            f"expected integer class ids as labels, shape (batch,), received "
            f"{type(labels).__name__} labels; map the dataset to (inputs, labels)."
        )
    # (batch,) class ids, or (batch, 1) as Keras also takes them; an unknown rank is let through
    ids_shaped = labels.shape.rank in (1, None) or (
        labels.shape.rank == 2 and labels.shape[-1] == 1
    )
    if not labels.dtype.is_integer or not ids_shaped:
        # Ids of another type need a cast; one score per class (one-hot) needs an argmax.
        way = ("cast them to integers: dataset.map(lambda x, y: (x, tf.cast(y, tf.int32)))"
               if ids_shaped else "one-hot labels: map them with tf.argmax(labels, axis=-1)")
        raise DataError(
            f"expected integer class ids as labels, shape (batch,), received {labels.dtype.name} "
            f"labels of shape {tuple(labels.shape)}; {way}."
        )


def _check_read_for(model: Any, spec: Any, inputs: Any) -> None:
    """Refuse a source read by `spec` into inputs of a shape the model does not take (a model of
    one's own given an entry's spec: its scores would be of other inputs, or a deep error)."""
    import tensorflow as tf

    expected = getattr(model, "input_shape", None)
    if (isinstance(expected, tuple) and isinstance(inputs, tf.TensorSpec)
            and not inputs.shape.is_compatible_with(expected)):
        raise DataError(
            f"the model takes batches of shape {expected}, but spec {spec.name or spec.family!r} "
            f"reads the data as {tuple(inputs.shape)}: a spec brings its entry's input shape and "
            f"preprocessing (pixel normalization, vocabulary). Pass the spec the model was built "
            f"with, or evaluate on a tf.data.Dataset of (inputs, labels) prepared as the model "
            f"was trained."
        )


def _check_inputs(inputs: Any, model: Any) -> None:
    """Refuse inputs the model cannot take: unbatched, of another shape, or still raw."""
    import tensorflow as tf

    expected = getattr(model, "input_shape", None)
    if isinstance(expected, tuple) and not inputs.shape.is_compatible_with(expected):
        unbatched = inputs.shape.is_compatible_with(expected[1:])
        raise DataError(
            f"the model takes batches of shape {expected}, the dataset's inputs have shape "
            f"{tuple(inputs.shape)}"
            + ("; it is not batched: call .batch(N) on it first." if unbatched else
               "; load the data with zoo.data.load(source, split, spec=...), which shapes it.")
        )
    if inputs.dtype in (tf.uint8, tf.string):
        raw = "uint8 pixels" if inputs.dtype == tf.uint8 else "sentences"
        raise DataError(
            f"the dataset holds raw {raw}, but zoo models take normalized pixels or token ids; "
            f"load it with zoo.data.load(source, split, spec=..., preprocessor=..., "
            f"shuffle=False, augment=False), or pass the raw source (arrays, a file) to "
            f"zoo.evaluate, which reads it that way."
        )


# One traced forward pass per model, kept while the model lives: a new tf.function per call
# would trace again each time, and TensorFlow warns about retracing after a few evaluations.
_FORWARD_PASSES: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _forward_pass(model: Any) -> Any:
    import tensorflow as tf

    forward = _FORWARD_PASSES.get(model)
    if forward is None:
        reference = weakref.ref(model)  # a strong one in the value would keep the model alive
        # A partial, not a lambda: TensorFlow counts traces per code object, so one lambda for
        # every model read as one function retracing, and warned from the fifth model on.
        forward = tf.function(functools.partial(_call_model, reference), reduce_retracing=True)
        _FORWARD_PASSES[model] = forward
    return forward


def _call_model(reference: Any, inputs: Any) -> Any:
    return reference()(inputs, training=False)


def _output_size(model: Any) -> int | None:
    try:
        size = model.output_shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):  # not built, or several outputs
        return None
    return size if isinstance(size, int) else None


def _model_spec(model: Any, preprocessor: Any) -> Any:
    """The spec the model was built from, else the training preprocessor's, else its entry's;
    with the class count of the model's output (a fine-tuned head)."""
    from zoo.data.preprocess import Preprocessor
    from zoo.errors import UnknownNameError
    from zoo.registry import spec_for_model

    fallback = preprocessor.spec if isinstance(preprocessor, Preprocessor) else None
    try:
        return spec_for_model(model, fallback)
    except UnknownNameError:
        raise InvalidValueError(
            f"model {getattr(model, 'name', type(model).__name__)!r} is not named after a zoo "
            f"entry, so zoo cannot tell how to read data for it; pass spec= (the ModelSpec it was "
            f"built with, e.g. zoo.get_spec(entry).with_overrides(...): it brings that entry's "
            f"input shape and preprocessing), or a tf.data.Dataset of (inputs, labels) prepared "
            f"as the model was trained (zoo.data.load gives one for an entry)."
        ) from None


def _load_for_evaluation(
    data: Any, spec: Any, preprocessor: Any, batch_size: int | None,
    class_names: Sequence[str] | None, **read_options: Any,
) -> Any:
    """A source read whole, unshuffled and unaugmented, as the model's spec takes it."""
    from zoo import checks
    from zoo import data as zoo_data
    from zoo.data import validate
    from zoo.data.catalog import train_and_test_splits
    from zoo.data.pipeline import resizes
    from zoo.data.sources import tfds_name

    # Named for what was called: zoo.data.load's own check named zoo.data.load.
    checks.tensorflow_backend(
        "zoo.evaluate of a model on a source", "score an export, which runs on any backend "
        "(zoo.evaluate(zoo.load(EXPORT), data)), or call model.evaluate on preprocessed arrays")
    name = tfds_name(data)
    if name is not None:
        # A TFDS dataset's labelled test split: "all" would score the model on its training data.
        split = train_and_test_splits(name)[1]
    else:
        split = "all"
        if spec.input.kind == "text" and not getattr(preprocessor, "fitted", False):
            # Read as "all", a text source would adapt a new vocabulary to the evaluation data:
            # ids the model never learned, and a score that means nothing.
            raise DataError(
                "evaluating a text model on a text source needs the vocabulary it was trained "
                "with, but no fitted preprocessor was given; pass the training preprocessor: "
                "preprocessor=result.preprocessor (a zoo.train result), train.preprocessor "
                "(the zoo.data.load dataset it was fitted on), or "
                "zoo.data.Preprocessor.load(workdir / 'preprocessor', spec) (a saved run); a "
                "model built with zoo.build(name, weights=WORKDIR) and the run's text settings, "
                "or a search's result.best_model(), brings its own along."
            )
    # The model exists: checks advise fixing the data, not building the model otherwise.
    with validate.for_trained_model():
        return zoo_data.load(data, split=split, spec=spec, batch_size=batch_size,
                             preprocessor=preprocessor, shuffle=False, augment=False,
                             class_names=class_names, resize_images=resizes(data, spec),
                             **read_options)
