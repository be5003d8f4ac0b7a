"""`zoo.load`: an export, a training workdir or a `.keras` file as a `Predictor` of raw inputs.

`Predictor.predict` returns a DataFrame, one row per input:

    class_id      the predicted class (arg-max)
    label         its name (the class id as text when the entry has no class names)
    probability   the predicted class' probability
    p_<label>     one column per class: its probability

Exports run their `serving_default` signature (nothing else from zoo or Keras is involved);
workdirs and `.keras` files run the Keras model after the entry's preprocessing, loaded with the
checks of `zoo.serving.safety`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from zoo import checks
from zoo.errors import DataError, InvalidValueError, and_more, shortened, warn
from zoo.io import expand_user
from zoo.serving.archive import METADATA, load_saved_model, read_metadata
from zoo.serving.inputs import as_images, as_texts
from zoo.serving.paths import MODEL_KINDS, blank, missing_model, what_it_holds
from zoo.serving.signature import SIGNATURE, class_labels
from zoo.serving.sources import Trained, read_keras_file, read_workdir

BATCH_SIZE = 256  # inputs per call: bounds memory on large inputs
# A batch of raw inputs -> (probabilities (batch, classes) float32, class ids (batch,) int64).
Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class Predictor:
    """Predicts classes of raw inputs: images (uint8 pixels, or floats in [0, 1]) or strings.
    Made by `zoo.load`.

    Attributes:
        metadata: the export's `zoo.json` (for workdirs and `.keras` files: the entry, its class
            names and hyperparameters, and the workdir's training configuration).
        kind: "image" or "text".
        input_shape: one image's (height, width, channels); () for text.
        resize_images: whether images of another shape are fitted to `input_shape` (resized,
            colour mode converted) before the model sees them: the recipe's `resize_images` of
            a model trained so (`zoo.data.resizing`). Otherwise they are refused.
        class_names: one name per class.

    Example:
        >>> import tempfile, numpy as np, zoo
        >>> path = zoo.export(zoo.build("mlp_mnist"), tempfile.mkdtemp() + "/mlp")
        >>> predictor = zoo.load(path)
        >>> frame = predictor.predict(np.zeros((3, 28, 28), "uint8"))
        >>> list(frame.columns[:4]), len(frame)
        (['class_id', 'label', 'probability', 'p_0'], 3)
    """

    def __init__(self, forward: Forward, *, kind: str, input_shape: tuple[int, ...],
                 class_names: Sequence[str], metadata: dict[str, Any], source: str,
                 resize_images: bool = False):
        self._forward = forward
        self.kind = kind
        self.input_shape = tuple(input_shape)
        self.resize_images = bool(resize_images) and kind == "image"
        self.class_names = tuple(str(name) for name in class_names)
        self.metadata = metadata
        self.source = source

    def predict(self, inputs: Any, *, batch_size: int = BATCH_SIZE) -> pd.DataFrame:
        """Classify `inputs`; one row per input (see the module docstring for the columns).

        Args:
            inputs: images: a uint8 array (batch, height, width[, channels]) or one image
                (floats in [0, 1], as training takes them, are the pixels they stand for); for
                a model trained with `resize_images`, also of another size or colour mode, or a
                list of images of different sizes, each fitted to `input_shape`.
                Text: a string, a list/array of strings, a pandas Series (its index is kept) or
                a DataFrame with a `sentence` or `text` column.
            batch_size: inputs per call of the model.

        Rows whose probabilities are NaN or infinite (a model that cannot score them) get
        a missing `class_id` and `label` (`isna()`), with a warning.

        A string naming a .txt/.csv/.tsv file is classified as a text, with a warning (read
        files with `zoo.serving.read_inputs`); an image model refuses strings and paths.

        Raises:
            DataError: inputs of the wrong kind, dtype or shape (the message gives both).
            InvalidValueError: a `batch_size` that is not a positive integer.

        Example:
            >>> import tempfile, numpy as np, zoo
            >>> predictor = zoo.load(zoo.export(zoo.build("mlp_mnist"), tempfile.mkdtemp() + "/m"))
            >>> frame = predictor.predict(np.zeros((3, 28, 28), "uint8"))
            >>> len(frame), frame.columns[:3].tolist(), frame.columns[-1]
            (3, ['class_id', 'label', 'probability'], 'p_9')
        """
        self._check_not_a_path(inputs)
        index = inputs.index if isinstance(inputs, (pd.Series, pd.DataFrame)) else None
        probabilities, class_ids = self._classify(inputs, batch_size)
        frame = pd.DataFrame({
            "class_id": class_ids,
            "label": [self.class_names[i] for i in class_ids],
            "probability": probabilities[np.arange(len(class_ids)), class_ids],
        }, index=index)
        for column, name in enumerate(self.class_names):
            frame[f"p_{name}"] = probabilities[:, column]
        broken = ~np.isfinite(probabilities).all(axis=1)
        if broken.any():
            # The highest of NaNs is the first class: such rows read as confident answers.
            frame["class_id"] = frame["class_id"].astype("Int64").mask(broken)
            frame.loc[broken, "label"] = None
            rows = np.flatnonzero(broken).tolist()
            shown = and_more(map(str, rows[:5]), len(rows))
            warn(f"the model returned NaN or infinite probabilities for {len(rows)} of "
                 f"{len(frame)} inputs (positions {shown}): their class_id and label are "
                 f"missing. Empty texts do this with a pooling that divides by the "
                 f"number of words; every input, with diverged weights.")
        return frame

    def evaluate(
        self, data: Any, *, batch_size: int = BATCH_SIZE, text_column: str | None = None,
        label_column: str = "label",
    ) -> Any:
        """Score the model on labelled raw data and return a `zoo.EvalReport`.

        Args:
            data: a local labelled source as `zoo.data.read_source` reads it: an `.npz` file (`x`
                uint8 images, `y` labels), a `.csv`/`.tsv` file or DataFrame (text and label
                columns), a folder of class folders, or `(x, y)` arrays. Class names in it map to
                this model's `class_names`; integer labels are class ids.
            batch_size: inputs per call of the model.
            text_column, label_column: the columns of a table, as for `zoo.data.load`.

        Raises:
            DataError: unreadable data, inputs the model does not take, or labels that are not
                among its classes.

        Example:
            >>> import tempfile, numpy as np, zoo
            >>> predictor = zoo.load(zoo.export(zoo.build("mlp_mnist"), tempfile.mkdtemp() + "/m"))
            >>> report = predictor.evaluate((np.zeros((4, 28, 28), "uint8"), [0, 1, 2, 3]))
            >>> report.num_examples, report.confusion.shape
            (4, (10, 10))
        """
        from zoo.data import validate
        from zoo.data.labels import report_class_ids
        from zoo.data.sources import column_options, read_source, tfds_name
        from zoo.evaluation import classification_report

        if isinstance(data, str) and tfds_name(data) is not None:
            raise DataError(
                f"an export is scored on local labelled data, and {data!r} is a TFDS dataset; "
                f"evaluate the training workdir or .keras file on it instead (zoo.evaluate(RUN, "
                f"{data!r}); zoo evaluate RUN --data {data}), or save the split to an .npz file "
                f"(arrays x and y) and score the export on that."
            )
        with validate.for_trained_model():  # images of several shapes: the model's own advice
            examples = read_source(data, class_names=self.class_names,
                                   image_shape=self.input_shape if self.resize_images else None,
                                   **column_options(text_column, label_column))
        if examples.kind != self.kind:  # before the labels: theirs is not the problem then
            raise DataError(
                f"this model classifies {self.kind}s, but received {examples.kind}s "
                f"({examples.origin}). Score it on labelled {self.kind}s, or score a model for "
                f"{examples.kind}s on this data."
            )
        with validate.for_trained_model():  # named by its source, with the way out
            validate.check_label_range(examples.labels, len(self.class_names), examples.origin,
                                       None)
        report_class_ids(examples, self.class_names)  # as zoo.evaluate says it for a run
        probabilities, _ = self._classify(examples.features, batch_size)
        return classification_report(examples.labels, probabilities, self.class_names)

    def _check_not_a_path(self, inputs: Any) -> None:
        """predict takes inputs, not files: a path string reached an image model as "1 strings"
        with advice to pass an .npz file, and a text model classified "s.txt" as a sentence.
        Refuse it for images and paths; warn for a text string naming a file of texts."""
        read = "zoo.serving.read_inputs(PATH)"
        if self.kind == "image" and isinstance(inputs, (str, bytes, os.PathLike)):
            given = (f"the path {os.fspath(inputs)}" if isinstance(inputs, os.PathLike)
                     else f"the string {shortened(inputs)!r}")
            raise DataError(
                f"this model classifies images: predict takes uint8 pixels of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}), not {given}. Read images from a file "
                f"or folder first: predict({read}), or run `zoo predict MODEL PATH`; texts need "
                f"a text model."
            )
        if isinstance(inputs, os.PathLike):
            raise DataError(
                f"this model classifies texts: predict takes sentences, not the path {inputs}. "
                f"Read the file first: predict({read}), or run `zoo predict MODEL PATH`."
            )
        if (isinstance(inputs, str) and inputs.lower().endswith((".txt", ".csv", ".tsv"))
                and os.path.isfile(inputs)):
            warn(f"classifying the string {inputs!r} itself as a text, though it names a file; "
                 f"to classify the sentences in it, read them first: predict({read}), or run "
                 f"`zoo predict MODEL {inputs}`.")

    def _classify(self, inputs: Any, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (examples, classes) and class ids of raw `inputs`, checked and run in
        chunks of `batch_size`."""
        batch_size = checks.positive_int("batch_size", batch_size)
        if isinstance(inputs, tf.data.Dataset):
            raise DataError(
                "a predictor takes raw inputs (an array, a list, a Series or a DataFrame), not a "
                "tf.data dataset; pass the raw inputs it was made from, or collect them: "
                "np.concatenate(list(dataset.as_numpy_iterator()))."
            )
        batch = (as_images(inputs, self.input_shape, fit=self.resize_images)
                 if self.kind == "image" else as_texts(inputs))
        probabilities = np.zeros((len(batch), len(self.class_names)), np.float32)
        class_ids = np.zeros(len(batch), np.int64)
        for start in range(0, len(batch), batch_size):
            chunk = slice(start, start + batch_size)
            probabilities[chunk], class_ids[chunk] = self._forward(batch[chunk])
        return probabilities, class_ids

    def __call__(self, inputs: Any) -> pd.DataFrame:
        return self.predict(inputs)

    def __repr__(self) -> str:
        entry = self.metadata.get("entry", "?")
        classes = len(self.class_names)
        return f"Predictor({entry!r}, {self.kind}, {classes} classes, from {self.source})"


def load(path: str | os.PathLike) -> Predictor:
    """Load a model for prediction on raw inputs.

    Args:
        path: a directory written by `zoo.export` (SavedModel + zoo.json), a training workdir,
            or a `.keras` file of an image entry (text models keep their vocabulary in the
            workdir or the export, not in the `.keras` file).

    `.keras` files (also a workdir's `model.keras`) are loaded with `safe_mode=True` after their
    configuration is checked: a `Lambda` layer, or a class from outside Keras, zoo and the
    packages that make a registered entry (a third-party entry's own layers load), is refused
    with `UnsafeModelError`, and no option turns that off.

    Raises:
        DataError: a missing path, a corrupt file, or a directory that holds no model.
        InvalidValueError: `path` is not a path (a number, a model in memory) or is empty; an
            export loaded inside `with strategy.scope():` (load it before the block: the
            predictor works inside it).
        UnsafeModelError: a `.keras` file that would run code.

    Example:
        >>> import tempfile, zoo
        >>> path = tempfile.mkdtemp() + "/mnist.keras"
        >>> zoo.build("cnn_mnist").save(path)
        >>> zoo.load(path)
        Predictor('cnn_mnist', image, 10 classes, from ....keras)
        >>> zoo.load(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: ... holds no model: expected a zoo export ...
    """
    path = expand_user(path)
    _check_load_argument(path)
    path = Path(path)
    missing = missing_model(path)
    if missing is not None:
        raise missing
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return _saved_model_predictor(path)
        if (path / "config.json").is_file():
            return _keras_predictor(read_workdir(path), str(path))
        raise DataError(
            f"{path} holds no model: expected a zoo export (saved_model.pb and "
            f"assets.extra/zoo.json) or a training workdir (config.json and "
            f"model.keras).{what_it_holds(path)}"
        )
    return _keras_predictor(read_keras_file(path), str(path))


def _check_load_argument(path: Any) -> None:
    """Refuse what is not a path before Path() raises a bare TypeError: a number, a model, a
    TrainResult. An empty string would name the current folder."""
    takes = f"the path of {MODEL_KINDS}"  # as a missing path's message says it
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidValueError(
            f"zoo.load takes {takes} (a str or pathlib.Path), got {type(path).__name__} "
            f"{path!r:.60}. A model or TrainResult in memory predicts once exported: "
            f"zoo.load(zoo.export(model_or_result, DIR))."
        )
    if blank(path):
        raise InvalidValueError(f"zoo.load got an empty path; expected {takes}.")


def _saved_model_predictor(path: Path) -> Predictor:
    metadata = read_metadata(path)
    try:
        serve = load_saved_model(path).signatures[SIGNATURE]
    except KeyError:
        raise DataError(
            f"the SavedModel in {path} has no {SIGNATURE!r} signature; export it again."
        ) from None
    (name, spec), = serve.structured_input_signature[1].items()
    kind = "text" if spec.dtype == tf.string else "image"
    probabilities = serve.structured_outputs.get("probabilities")
    if probabilities is None:  # a SavedModel of another kind (model.export()) beside a zoo.json
        raise DataError(
            f"the SavedModel in {path} gives {', '.join(sorted(serve.structured_outputs))}, "
            f"not the probabilities, class_id and label a zoo export serves: it was not written "
            f"by zoo.export. Export the model with zoo.export (or load it with "
            f"tf.saved_model.load)."
        )
    outputs = probabilities.shape[-1]
    if outputs is not None and outputs != metadata["num_classes"]:
        # An edited or mismatched zoo.json: its labels would be wrong, or fail on every call.
        raise DataError(
            f"{path / METADATA} says {metadata['num_classes']} classes, but the "
            f"SavedModel beside it gives {outputs} probabilities: they come from different "
            f"exports, or zoo.json was edited. Export the model again (or restore the export's "
            f"own zoo.json)."
        )

    def forward(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = serve(**{name: tf.constant(batch, dtype=spec.dtype)})
        return outputs["probabilities"].numpy(), outputs["class_id"].numpy()

    class_names = class_labels(metadata.get("class_names"), metadata["num_classes"])
    # Exports made before the recipe had resize_images lack it: they were trained without.
    recipe = metadata.get("recipe")
    resize = isinstance(recipe, dict) and recipe.get("resize_images") is True
    input_shape = tuple(spec.shape[1:])
    if kind == "image" and None in input_shape:  # takes any size: the model's is in zoo.json
        input_shape = _model_image_shape(metadata, path)
    return Predictor(forward, kind=kind, input_shape=input_shape, class_names=class_names,
                     metadata=metadata, source=str(path), resize_images=resize)


def _model_image_shape(metadata: dict[str, Any], path: Path) -> tuple[int, int, int]:
    """The (height, width, channels) an export's model takes, from its zoo.json, for a
    signature that takes images of any size (a model trained with resize_images)."""
    preprocessing = metadata.get("preprocessing")
    shape = preprocessing.get("shape") if isinstance(preprocessing, dict) else None
    if (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        return (shape[0], shape[1], shape[2])
    raise DataError(
        f"{path}/assets.extra/zoo.json does not say the image shape its model takes "
        f"(preprocessing.shape: [height, width, channels]), and its signature takes any size; "
        f"export the model again."
    )


def _keras_predictor(trained: Trained, source: str) -> Predictor:
    checks.tensorflow_backend(
        "zoo.load of a workdir or .keras file", "load the model itself (import zoo.keras_objects; "
        "keras.models.load_model(PATH)), or export it under TensorFlow and zoo.load the export, "
        "which runs on any backend")
    spec = trained.spec
    model, preprocessor = trained.model, trained.preprocessor
    # Traced once per batch shape (reduce_retracing keeps that to a few); eager calls would
    # dispatch every op from Python. A partial, not a lambda: TensorFlow counts traces per code
    # object, and one lambda for every loaded model warned of retracing from the fifth on.
    call = tf.function(functools.partial(_serve_raw, model, preprocessor), reduce_retracing=True)

    def forward(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        probabilities = np.asarray(call(tf.constant(batch)), dtype=np.float32)
        return probabilities, probabilities.argmax(axis=-1)

    metadata = {
        "entry": spec.name,
        "num_classes": spec.num_classes,
        "class_names": list(trained.class_names),
        "hyperparameters": dict(spec.hyperparameters),
        "training": trained.run_config,
        "evaluation": trained.evaluation,
    }
    class_names = class_labels(trained.class_names, spec.num_classes)
    input_shape = spec.input.shape if spec.input.kind == "image" else ()
    return Predictor(forward, kind=spec.input.kind, input_shape=input_shape,
                     class_names=class_names, metadata=metadata, source=source,
                     resize_images=spec.recipe.resize_images)


def _serve_raw(model: Any, preprocessor: Any, batch: Any) -> Any:
    return model(preprocessor(batch), training=False)
