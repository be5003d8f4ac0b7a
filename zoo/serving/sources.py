"""What can be exported or served: a `TrainResult`, a training workdir, or an entry's model.

Each becomes a `Trained`: the model, the spec it was built from, its fitted preprocessor, and
what is known about how it was trained (the workdir's `config.json`, the evaluation report).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import DataError, InvalidValueError, UnknownNameError, close_matches, first_line
from zoo.io import (
    BEST_FILE,
    CLASSES_FILE,
    CONFIG_FILE,
    MODEL_FILE,
    REPORT_FILE,
    RUN_MODEL_FILES,
    STATE_FILE,
    read_optional_json_object,
)
from zoo.registry import get_spec, spec_for_model
from zoo.serving.paths import EXPORTABLE_KINDS, MODEL_KINDS, missing_model, what_it_holds
from zoo.spec import ModelSpec, spec_of


@dataclass
class Trained:
    """A model with everything needed to serve it from raw inputs."""

    model: Any  # keras.Model
    spec: ModelSpec  # with every override the model was built with
    preprocessor: Any  # a fitted zoo.data.Preprocessor
    source: str  # "train_result", "workdir" or "model"
    run_config: dict[str, Any] = field(default_factory=dict)  # a workdir's config.json
    evaluation: dict[str, Any] | None = None  # EvalReport.to_dict()
    epochs_trained: int | None = None
    data_class_names: tuple[str, ...] = ()  # given by the caller (zoo.export(class_names=...))
    best_epoch: int | None = None  # the epoch whose weights these are (a workdir's best.keras)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The training data's class names (string labels, folder names) when it had its own,
        else the entry's; () when neither names its classes. Every source labels `spec` with
        the data's names (`recorded_class_names` for files, zoo.train for a TrainResult)."""
        return self.data_class_names or tuple(self.spec.class_names)


def read_workdir(path: str | os.PathLike) -> Trained:
    """The finished run in a training workdir (`model.keras`, `config.json`, `preprocessor/`).

    Raises:
        DataError: not a workdir, or a run that has not finished.

    Example:
        >>> import tempfile
        >>> from zoo.serving.sources import read_workdir
        >>> read_workdir(tempfile.mkdtemp())
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: ... is not a zoo training workdir: it has no config.json. ...
    """
    from zoo.data import Preprocessor, make_preprocessor
    from zoo.serving.safety import load_keras_model

    path = Path(path)
    config_path, model_path = path / CONFIG_FILE, path / MODEL_FILE
    if not config_path.is_file():
        raise DataError(
            f"{path} is not a zoo training workdir: it has no config.json. Pass the --workdir "
            f"of a `zoo train` run (or zoo.train(..., workdir=...)).{what_it_holds(path)}"
        )
    if not model_path.is_file():
        state = read_optional_json_object(path / STATE_FILE)
        if state.get("status") == "diverged":
            best = path / BEST_FILE
            saved = f" The best epoch before it is saved in {best}." if best.is_file() else ""
            raise DataError(
                f"the run in {path} diverged (its loss became NaN or infinite), so it has no "
                f"final model.{saved} Train again in a new workdir with a lower learning rate "
                f"(--set learning_rate=...) or clipnorm (--set clipnorm=1.0)."
            )
        raise DataError(
            f"the run in {path} has not finished: it has no model.keras yet. Rerun the same "
            f"training command to resume and finish it."
        )
    config = _read_run_config(config_path)
    entry = config["entry"]
    try:
        spec = get_spec(entry)
    except UnknownNameError as error:
        # An entry of one's own (registered by a script or notebook), not loaded this time.
        raise DataError(
            f"the run in {path} trained entry {entry!r}, which nothing in this process "
            f"registers: run or import the code that registers it (@zoo.register_model) first; "
            f"plug-in packages' entries are loaded by zoo itself. ({error})"
        ) from None
    spec = _spec_as_trained(spec, config.get("overrides") or {}, path)
    spec = spec.with_data_class_names(recorded_class_names(path))
    model = load_keras_model(model_path)
    if spec.input.kind == "text":
        preprocessor = Preprocessor.load(path / "preprocessor", spec)
    else:
        preprocessor = make_preprocessor(spec)
    evaluation = read_optional_json_object(path / REPORT_FILE) or None
    state = read_optional_json_object(path / STATE_FILE)
    return Trained(model, spec, preprocessor, "workdir", run_config=config,
                   evaluation=evaluation, epochs_trained=state.get("epoch"),
                   best_epoch=state.get("best_epoch"))


# The way on from a damaged config.json: what it recorded cannot be guessed back.
_RESTORE_CONFIG = ("Restore the workdir's config.json (from a backup or a copy of the run), or "
                   "train again in a new workdir.")


def _read_run_config(config_path: Path) -> dict[str, Any]:
    """A workdir's config.json, checked for what serving needs: an object naming its entry."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # unreadable, not UTF-8, or not JSON
        raise DataError(
            f"cannot read the run configuration {config_path}: {first_line(error)}. "
            f"{_RESTORE_CONFIG}"
        ) from None
    problem = None
    if not isinstance(config, dict):
        problem = f"it holds a JSON {type(config).__name__}, not an object"
    elif not isinstance(config.get("entry"), str):
        problem = ("it has no 'entry' (the name of the model trained)" if "entry" not in config
                   else f"its 'entry' is {config['entry']!r}, not an entry's name")
    elif not isinstance(config.get("overrides") or {}, dict):
        problem = "its 'overrides' is not an object of builder arguments"
    if problem is not None:
        raise DataError(
            f"cannot read the run configuration {config_path}: {problem}. {_RESTORE_CONFIG}"
        )
    return config


def _spec_as_trained(spec: ModelSpec, overrides: dict[str, Any], path: Path) -> ModelSpec:
    """`spec` with the run's overrides. One the entry no longer takes (its builder changed since)
    is the code's change, not a damaged file: say so, and not to edit config.json."""
    valid = spec.valid_overrides()
    for key, value in overrides.items():
        if key not in valid:
            renamed = close_matches(key, valid)
            guess = f" (renamed to {renamed[0]!r}?)" if renamed else ""
            raise DataError(
                f"the run in {path} was trained with override {key}={value!r}, which "
                f"{spec.name}'s builder no longer takes{guess}. Restore that argument in the "
                f"builder, or train again in a new workdir."
            )
    try:
        return spec.with_overrides(**overrides)
    except (UnknownNameError, ValueError, TypeError) as error:
        raise DataError(
            f"the run in {path} was trained with overrides {overrides}, which {spec.name} no "
            f"longer takes ({first_line(error)}). Restore the builder as it was, or train again "
            f"in a new workdir."
        ) from None


def read_keras_file(path: str | os.PathLike, kinds: str = MODEL_KINDS) -> Trained:
    """An image entry's model from a `.keras` file, loaded safely (see `safety.load_keras_model`).

    Raises:
        DataError: not a `.keras` file, a model not named after an entry, or a text model (its
            vocabulary is not in the file: use the workdir or an export).
        UnsafeModelError: a file that would run code.
    """
    from zoo.data import make_preprocessor
    from zoo.serving.safety import load_keras_model

    path = Path(path)
    if path.suffix != ".keras":
        raise DataError(f"{path.name} is not a model file: expected {kinds}.")
    model = load_keras_model(path)
    try:
        spec = spec_for_model(model)  # the entry's, with the class count of the model's head
    except UnknownNameError:
        raise DataError(
            f"{path.name} holds model {model.name!r}, which is not named after a zoo entry, so "
            f"its preprocessing is unknown. Export it with zoo.export(model, DIR, "
            f"preprocessor=...) and load the export."
        ) from None
    if spec.input.kind == "text":
        raise DataError(
            f"{path.name} holds the text model {spec.name}, but a .keras file has no vocabulary. "
            f"Load its training workdir or an export (zoo.export) instead."
        )
    # A run's best.keras or model.keras labels its classes as the run does: trained on named
    # labels, a digit entry's class 0 may be "eight", which the entry's names would call "0".
    spec = spec.with_data_class_names(recorded_class_names(path))
    trained = from_model(model, make_preprocessor(spec))
    check_compatible(trained)
    return trained


def recorded_class_names(path: str | os.PathLike) -> tuple[str, ...]:
    """The class names a model's training data gave its classes (string labels, folder names),
    in id order, where its files record them: an export's zoo.json, a training workdir's
    classes.json (written when the run begins; report.json for runs of older zoos, once they
    finished), or those of the workdir whose `model.keras` / `best.keras` the path is (links
    followed); () elsewhere, and where the names are the entry's own (a `.keras` or
    `.weights.h5` file alone keeps only the network).

    Example:
        >>> import tempfile
        >>> from zoo.serving.sources import recorded_class_names
        >>> recorded_class_names(tempfile.mkdtemp() + "/model.keras")
        ()
    """
    from zoo.serving.archive import is_export, read_metadata

    path = Path(path)
    if is_export(path):
        metadata = read_metadata(path)
        names, entry = metadata.get("class_names"), metadata.get("entry")
    else:
        path = path.resolve()
        if not path.is_dir() and path.name not in RUN_MODEL_FILES:
            return ()  # a file of one's own saved into a workdir: not what the run trained
        run = path if path.is_dir() else path.parent
        if not (run / CONFIG_FILE).is_file():  # not a workdir
            return ()
        entry = read_optional_json_object(run / CONFIG_FILE).get("entry")
        # Written when the run began (report.json, when it finished, for runs of older zoos).
        names = (read_optional_json_object(run / CLASSES_FILE).get("class_names")
                 or read_optional_json_object(run / REPORT_FILE).get("class_names"))
    if not isinstance(names, list):
        return ()
    names = tuple(str(name) for name in names)
    try:  # the entry's own names (fashion_mnist's "T-shirt/top"...) are no data's
        own = tuple(get_spec(str(entry)).class_names)
    except UnknownNameError:
        own = ()
    return () if names == own else names


def read_trained(path: str | os.PathLike, kinds: str = MODEL_KINDS, *,
                 exports: bool = True) -> Trained:
    """A training workdir or an image entry's `.keras` file, as a `Trained` (model, spec,
    fitted preprocessor), loaded safely. `zoo evaluate` and `zoo.load` read models this way.
    `kinds`: what the caller takes, said when the path is missing; `exports`: whether those
    include exports (then an interrupted export's previous one is named).

    Raises:
        DataError: a missing path, or neither a workdir nor a `.keras` file.
        InvalidValueError: an empty path.
    """
    missing = missing_model(path, kinds, exports=exports)  # `kinds`: what the caller takes
    if missing is not None:
        raise missing
    path = Path(path)
    if path.is_dir():
        return read_workdir(path)
    return read_keras_file(path, kinds)


def from_model(model: Any, preprocessor: Any = None) -> Trained:
    """A bare `keras.Model`: its spec is the one it was built from (`zoo.build`, a tuner's
    trial), else `preprocessor.spec`, else its entry's (by the model's name).

    Text models need the `preprocessor` fitted on their training text (its vocabulary); a model
    started from a run's weights (`zoo.build(name, weights=...)`) carries that run's, which is
    used when none is given.
    """
    from zoo.data.preprocess import checked_preprocessor
    from zoo.models.weights import pretrained_vocabulary

    if checked_preprocessor(preprocessor) is None:  # read the model's text as zoo.train does
        preprocessor = pretrained_vocabulary(model)
    built_from = spec_of(model)  # what the exported network is: its metadata must say so
    if preprocessor is not None:
        spec = built_from or preprocessor.spec
        preprocessor.check_fits(spec)
    else:
        try:
            # The recorded spec first, as above; the export's metadata describes the network.
            spec = spec_for_model(model, exact=True)
        except UnknownNameError:
            raise InvalidValueError(
                f"model {model.name!r} is not named after a zoo entry, so its preprocessing is "
                f"unknown; pass preprocessor=zoo.data.make_preprocessor(spec) (or the training "
                f"dataset's .preprocessor), or export the TrainResult of zoo.train."
            ) from None
        if spec.input.kind == "text":
            raise InvalidValueError(
                f"{spec.name} is a text model: its vocabulary is not part of the keras.Model. Pass "
                f"preprocessor= (the fitted one: TrainResult.preprocessor or the training "
                f"dataset's .preprocessor), or export the TrainResult or the training workdir."
            )
        from zoo.data import make_preprocessor

        preprocessor = make_preprocessor(spec)
    if not preprocessor.fitted:
        raise InvalidValueError(
            f"the text preprocessor of {spec.name!r} has no vocabulary; pass the one adapted on "
            f"the training text (TrainResult.preprocessor)."
        )
    return Trained(model, spec, preprocessor, "model")


def check_compatible(trained: Trained) -> None:
    """Raise when the preprocessor's output does not fit the model's input, or the spec's classes
    its output.

    A `None` dimension of the model takes any size (text models take ids of any length).
    """
    outputs = trained.model.output_shape[-1]
    if outputs != trained.spec.num_classes:
        raise InvalidValueError(
            f"model {trained.model.name!r} has {outputs} outputs, but its spec "
            f"({trained.spec.name!r}) names {trained.spec.num_classes} classes, so predictions "
            f"would be labelled wrongly. Pass the spec or TrainResult the model was trained with "
            f"(a fine-tuned model: zoo.get_spec(name).with_overrides(num_classes={outputs}))."
        )
    expected = tuple(trained.model.input_shape[1:])
    produced = tuple(trained.spec.input.shape)
    if len(expected) != len(produced) or any(
        size is not None and size != made for size, made in zip(expected, produced, strict=False)
    ):
        what = "images of shape" if trained.spec.input.kind == "image" else "token ids of length"
        raise InvalidValueError(
            f"model {trained.model.name!r} takes inputs of shape {expected}, but its preprocessing "
            f"({trained.spec.name!r}) makes {what} {produced}. Pass the preprocessor (or "
            f"TrainResult) the model was trained with."
        )


def check_apart_from_source(target: str | os.PathLike, model_or_result: Any) -> None:
    """Refuse an export `target` that is, holds or lies in what is exported from: a
    `TrainResult`'s workdir, a workdir path or a `.keras` file (see `archive.check_apart`).
    `zoo.export(result, result.workdir)` was refused as "not a zoo export... Remove it
    yourself", and with overwrite=True an export holding the workdir replaced the run."""
    from zoo.serving.archive import check_apart
    from zoo.training.loop import TrainResult

    if isinstance(model_or_result, TrainResult):
        if model_or_result.workdir is not None:
            check_apart(target, model_or_result.workdir, "the run's workdir")
    elif isinstance(model_or_result, (str, os.PathLike)):
        what = "the training workdir" if Path(model_or_result).is_dir() else "the model file"
        check_apart(target, model_or_result, what)


def resolve(model_or_result: Any, preprocessor: Any = None) -> Trained:
    """A `TrainResult`, a workdir or `.keras` file path, or a `keras.Model` (+ `preprocessor`) as
    a `Trained`."""
    import keras

    from zoo.training.loop import TrainResult

    if isinstance(model_or_result, TrainResult):
        result = model_or_result
        run_config = result.run_config or (
            read_optional_json_object(result.workdir / CONFIG_FILE) if result.workdir else None
        )
        preprocessor = result.preprocessor if preprocessor is None else preprocessor
        trained = Trained(
            result.model, result.spec, preprocessor, "train_result",
            run_config=run_config or {},
            evaluation=result.report.to_dict() if result.report is not None else None,
            epochs_trained=len(result.history) if result.history is not None else None,
            best_epoch=result.best_epoch,
        )
    elif isinstance(model_or_result, (str, os.PathLike)):
        from zoo.serving.archive import is_export

        if is_export(model_or_result):
            raise DataError(
                f"{model_or_result} is already a zoo export: it serves as it is (zoo.load, zoo "
                f"predict and zoo evaluate take it). To export again, pass the training workdir "
                f"(or the TrainResult)."
            )
        # a workdir, or an image entry's .keras file: what can be exported (not an export)
        trained = read_trained(model_or_result, kinds=EXPORTABLE_KINDS, exports=False)
    elif isinstance(model_or_result, keras.Model):
        trained = from_model(model_or_result, preprocessor)
    else:
        raise InvalidValueError(
            f"cannot export a {type(model_or_result).__name__}; expected the TrainResult of "
            f"zoo.train, a training workdir path or an image entry's .keras file, or a "
            f"keras.Model named after its entry."
        )
    check_compatible(trained)
    return trained
