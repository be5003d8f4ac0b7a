"""Start a model from trained weights: `zoo.build(name, weights=PATH, num_classes=N)`.

Weights move layer by layer, matched by name; a layer moves only when every one of its weights
has the same shape. When the class count differs, the classifier head is the layer that does not
match and keeps its fresh initialization, so fine-tuning to a new label set is one call.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import keras

from zoo.errors import DataError, InvalidValueError, ZooError, first_line, warn
from zoo.io import BEST_FILE, CONFIG_FILE, MODEL_FILE, read_optional_json_object
from zoo.serving.paths import WEIGHTS_KINDS, blank, missing_model

if TYPE_CHECKING:
    from zoo.spec import ModelSpec

HEAD_LAYER = "classifier"  # every family names its output layer so (zoo.models.blocks)
VOCABULARY_ATTRIBUTE = "_zoo_pretrained_vocabulary"  # see pretrained_vocabulary
SOURCE_ATTRIBUTE = "_zoo_pretrained_source"  # see pretrained_source


def token_id_layers(model: keras.Model) -> tuple[str, ...]:
    """The layers of `model` whose rows are looked up by token id: Keras `Embedding` layers (the
    word embedding, and the bag of bigrams, whose rows are hashed id pairs) and zoo's
    `TokenAndPositionEmbedding`. Found by type, so that an entry of one's own is covered too."""
    from zoo.models.layers import TokenAndPositionEmbedding

    return tuple(layer.name for layer in model.layers
                 if isinstance(layer, (keras.layers.Embedding, TokenAndPositionEmbedding)))


def _check_weights_argument(source: Any) -> None:
    """Refuse a `weights=` that is not a path, or an empty one (which would name the current
    directory)."""
    if not isinstance(source, (str, os.PathLike)):
        raise InvalidValueError(
            f"weights must be the path of {WEIGHTS_KINDS}, got {type(source).__name__} "
            f"{source!r:.60}; pass it as a string or a pathlib.Path (or leave weights out to "
            f"start from a fresh initialization)."
        )
    if blank(source):
        raise InvalidValueError(
            f"weights (--weights) is an empty path; expected {WEIGHTS_KINDS}. Pass the path, or "
            f"leave weights out to start from a fresh initialization."
        )


def _resolve_weights_path(source: str | os.PathLike) -> tuple[Path, str]:
    """The file or export to read weights from, and which it is: "export", "keras" or
    "weights" (a .weights.h5 file)."""
    from zoo.serving.archive import is_export, read_metadata

    _check_weights_argument(source)
    path = Path(source)
    if is_export(path):
        return path, "export"
    if (path / "saved_model.pb").is_file():
        read_metadata(path)  # a SavedModel without zoo.json: raises zoo.load's explanation
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE, "keras"
        if (path / BEST_FILE).is_file():
            # Deliberately not refused (zoo.load, zoo.evaluate and zoo.export refuse a run
            # without its final model): fine-tuning from an interrupted run's best epoch is a
            # fair start, but one that should not pass for the finished run.
            warn(f"{path} holds no model.keras (its run has not finished): the model starts "
                 f"from its best.keras, the best epoch so far.")
            return path / BEST_FILE, "keras"
        from zoo.serving.paths import what_it_holds

        raise DataError(f"{path} holds no model.keras or best.keras; pass {WEIGHTS_KINDS}."
                        f"{what_it_holds(path)}")
    missing = missing_model(path, f"weights as {WEIGHTS_KINDS}")
    if missing is not None:
        raise missing
    if path.name.endswith(".weights.h5"):
        return path, "weights"
    if not path.name.endswith(".keras"):
        raise DataError(f"weights must be a .keras or .weights.h5 file, got {path.name}.")
    return path, "keras"


def _mismatch_summary(error: ValueError) -> str:
    """The layers a failed `load_weights` could not fill, and Keras' reason for the first one."""
    text = str(error)
    # Keras ends with "List of objects that could not be loaded:\n[<Dense name=classifier, ...>]".
    names = re.findall(r"<\w+ name=([^,>]+)", text.partition("could not be loaded:")[2])
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    # It starts "A total of N objects could not be loaded. Example error message for object X:",
    # then the reason, which for a shape mismatch ends with the variable's values.
    reason = lines[1] if names and len(lines) > 1 else lines[0]
    reason = reason.split(" Target variable:")[0].rstrip(".")
    if len(reason) > 300:
        reason = reason[:300] + "..."
    if not names:
        return reason
    if len(names) == 1:
        return f"layer {names[0]} does not match ({reason})"
    return f"layers {', '.join(names)} do not match ({names[0]}: {reason})"


def load_weights_checked(
    model: keras.Model, path: str | os.PathLike, explain: Callable[[str], Exception]
) -> None:
    """`model.load_weights(path)`; when the weights do not fit, raise `explain(summary)` with the
    mismatched layers named, instead of Keras' message (which prints every mismatched variable's
    values). After a load that fits, Keras' warnings, if any, are passed on.

    Example:
        >>> import tempfile, zoo
        >>> from zoo.errors import DataError
        >>> from zoo.models.weights import load_weights_checked
        >>> path = tempfile.mkdtemp() + "/mlp.weights.h5"
        >>> zoo.build("mlp_mnist").save_weights(path)
        >>> load_weights_checked(zoo.build("mlp_mnist", num_classes=3), path, DataError)
        Traceback (most recent call last):
        ...
        zoo.errors.DataError: layer classifier does not match (...)
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except ValueError as error:
            raise explain(_mismatch_summary(error)) from None
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)


class _SourceVocabulary(NamedTuple):
    """What a text model's weights source says about the vocabulary its weights were trained
    with (see `_source_vocabulary`)."""

    preprocessor: Any = None  # that vocabulary, fitted, where it fits the model: zoo.train's
    replaced: bool = False  # True: known, but zoo.train will fit another one (it does not fit)
    warning: str = ""  # to say once the weights are copied


def _source_vocabulary(model: keras.Model, source: Path, export: bool) -> _SourceVocabulary:
    """The vocabulary a text model's weights were trained with (a workdir's, an export's).

    Embedding rows belong to the words of that vocabulary; a new one fitted on the fine-tuning
    data would give every pretrained row to another word. `zoo.train(model, ...)` reads it back
    with `pretrained_vocabulary`. Nothing for an image model.
    """
    from zoo.serving.archive import VOCABULARY
    from zoo.spec import spec_of

    spec = spec_of(model)
    if spec is None or spec.input.kind != "text":
        return _SourceVocabulary()
    if export:  # zoo.export keeps the vocabulary beside zoo.json
        saved = source / VOCABULARY
    else:  # a workdir, or a model file inside one (its best.keras or model.keras)
        saved = (source if source.is_dir() else source.parent) / "preprocessor"
    if not saved.is_dir():
        return _SourceVocabulary(warning=(
            f"{source} holds no vocabulary (a training workdir's preprocessor/ folder, or an "
            f"export's {VOCABULARY}/), so zoo.train will fit a new one on the "
            f"fine-tuning data and the pretrained embedding rows will belong to other words. "
            f"Pass the training workdir as weights= instead, or export it again."
        ))
    from zoo.data import Preprocessor

    try:
        return _SourceVocabulary(Preprocessor.load(saved, spec))
    except DataError as error:  # other text settings (vocab_size=...)
        indexed = token_id_layers(model)
        fresh = (f", and {', '.join(indexed)} (indexed by token ids) start fresh: their trained "
                 f"rows belong to the words of the other vocabulary" if indexed else "")
        return _SourceVocabulary(replaced=True, warning=(
            f"the vocabulary in {saved} does not fit {model.name}: {error} So zoo.train will "
            f"fit a new one{fresh}."
        ))


def pretrained_vocabulary(model: keras.Model) -> Any:
    """The fitted text `Preprocessor` of the workdir or export a model's weights came from
    (`zoo.build(name, weights=...)`), else None: what `zoo.train`, `zoo.evaluate` and
    `zoo.export` read the model's text with when given no other."""
    return getattr(model, VOCABULARY_ATTRIBUTE, None)


def carry_vocabulary(model: keras.Model, preprocessor: Any) -> keras.Model:
    """Give `model` the fitted text `preprocessor` it was trained with, read back by
    `pretrained_vocabulary` (as `zoo.build(weights=...)` gives a run's); returns the model.
    Nothing for an image preprocessor or None."""
    if preprocessor is not None and getattr(preprocessor, "kind", None) == "text":
        setattr(model, VOCABULARY_ATTRIBUTE, preprocessor)
    return model


def pretrained_source(model: keras.Model) -> Path | None:
    """The file a model's weights were started from by `zoo.build(weights=)`, else None."""
    return getattr(model, SOURCE_ATTRIBUTE, None)


def _weights_by_layer(
    path: Path, export: bool
) -> tuple[Callable[[Any], list[Any] | None], str]:
    """For a .keras file or a zoo export: a function giving a layer's trained weights (matched
    by the layer's name, None where the source has no such layer), and what the source holds."""
    if export:
        from zoo.serving.archive import load_saved_model, read_metadata

        # A SavedModel's variables keep the Keras weight paths as names ("hidden_0/kernel:0"),
        # except a wrapped layer's weights in a model loaded from a .keras file: they miss the
        # wrapper ("forward_lstm_0/lstm_cell/kernel" for "bidirectional_0/forward_lstm_0/...").
        variables = {variable.name.split(":")[0]: variable
                     for variable in load_saved_model(path).variables}

        def variable_of(weight_path: str) -> Any:
            parts = weight_path.split("/")
            for start in range(len(parts) - 1):  # the longest path that names one, whole first
                found = variables.get("/".join(parts[start:]))
                if found is not None:
                    return found
            return None

        def from_export(layer: Any) -> list[Any] | None:
            found = [variable_of(weight.path) for weight in layer.weights]
            if any(variable is None for variable in found):  # (`in` would compare tensors)
                return None
            return [variable.numpy() for variable in found]

        return from_export, f"an export of {read_metadata(path).get('entry')}"

    from zoo.serving.safety import load_keras_model

    # zoo's own check first: Keras' safe mode still builds classes registered by any package.
    trained = load_keras_model(path)

    def from_file(layer: Any) -> list[Any] | None:
        try:
            return trained.get_layer(layer.name).get_weights()
        except ValueError:
            return None

    return from_file, trained.name


def _trained_with(path: Path, kind: str) -> tuple[ModelSpec, dict[str, Any]] | None:
    """The entry the weights were trained as and the builder arguments their network was built
    with, where their source records them: an export's metadata, or the config.json of the
    workdir a .keras file lies in (its overrides, on top of its entry's defaults). None where
    unknown, or where that entry is not registered in this process."""
    from zoo.registry import get_spec
    from zoo.serving.archive import read_metadata

    if kind == "export":
        metadata = read_metadata(path)
        recorded = {**((metadata.get("training") or {}).get("overrides") or {}),
                    **(metadata.get("hyperparameters") or {})}
    else:  # a .keras file in a workdir: its config.json; elsewhere, nothing recorded
        metadata = read_optional_json_object(path.parent / CONFIG_FILE)
        recorded = metadata.get("overrides")
    if not isinstance(recorded, dict):
        return None
    try:
        entry = get_spec(str(metadata.get("entry")))
    except ZooError:
        return None
    return entry, {key: recorded.get(key, value) for key, value in entry.model_kwargs().items()}


def _sizes_hint(model: keras.Model, path: Path, kind: str) -> str:
    """" The weights were trained with units=(8,) (...)": the builder arguments in which the
    weights' network and `model` differ, or the families, where the weights' source records
    them; else ""."""
    from zoo.spec import spec_of
    from zoo.values import keyword_arguments, plain_json, same_value, set_arguments

    spec, source = spec_of(model), _trained_with(path, kind)
    if spec is None or source is None:
        return ""
    entry, trained = source
    if entry.family != spec.family:
        return (f" The weights are {entry.name}'s, of the {entry.family} family; {spec.name} is "
                f"of the {spec.family} family.")
    built, trained = plain_json(spec.model_kwargs()), plain_json(trained)
    differ = [key for key in sorted(built)
              if key in trained and not same_value(trained[key], built[key])]
    # A new head is what num_classes is for; an input shape comes with the data, not an option.
    shape = (f" The weights were trained on inputs of shape {trained['input_shape']}, "
             f"{spec.name} reads {built['input_shape']}." if "input_shape" in differ else "")
    differ = [key for key in differ if key not in ("num_classes", "input_shape")]
    if not differ:
        return shape

    trained = {key: trained[key] for key in differ}
    return (
        f" The weights were trained with {keyword_arguments(trained)} ({model.name} here: "
        f"{keyword_arguments({key: built[key] for key in differ})}): build with the same, "
        f"zoo.build({spec.name!r}, weights=..., {keyword_arguments(trained)}), or on the command "
        f"line {set_arguments(trained)}.{shape}"
    )


def _classes(head_weights: list[Any]) -> int:
    """The class count of a classifier head's weights: its kernel's last dimension."""
    return int(tuple(head_weights[0].shape)[-1])


def load_pretrained(
    model: keras.Model,
    source: str | os.PathLike,
    *,
    freeze_backbone: bool = False,
    num_classes_given: bool = False,
) -> list[str]:
    """Copy matching layers' weights from `source` into `model`; return the names copied.

    `.keras` files load as `zoo.load` loads them: a file that would run code (a Lambda layer, a
    class from outside Keras, zoo and the packages that make a registered entry) is refused.
    Layers that stay freshly initialized are named in a warning, and so is a classifier head of
    another class count unless `num_classes_given` (the caller chose the class count: a new head
    is the point of `zoo.build(name, weights=..., num_classes=N)`). A `zoo.export` directory
    gives the weights it serves (its SavedModel's variables, matched by weight path). A text
    model started from a training workdir or an export keeps that run's vocabulary for
    `zoo.train`, `zoo.evaluate` and `zoo.export` (see `pretrained_vocabulary`); where that
    vocabulary does not fit the model (other text settings), the layers indexed by token ids
    (`token_id_layers`) start fresh, since their rows belong to the other vocabulary's words.
    `freeze_backbone` freezes the layers whose weights were copied: a layer left fresh has
    nothing trained to keep, and stays trainable.

    Raises:
        InvalidValueError: `source` is not a path, or no layer of it matches the model.
        DataError: a missing or unreadable source, or a `.weights.h5` file of another network.

    Example:
        >>> import tempfile, zoo
        >>> path = tempfile.mkdtemp() + "/mlp.keras"
        >>> zoo.build("mlp_mnist").save(path)
        >>> model = zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True)
        >>> model.get_layer("hidden_0").trainable, model.output_shape
        (False, (None, 3))
    """
    path, kind = _resolve_weights_path(source)
    vocabulary = _source_vocabulary(model, Path(source), kind == "export")
    # With another vocabulary, a row of these layers would stand for another word (or pair).
    keep_fresh = token_id_layers(model) if vocabulary.replaced else ()
    if kind == "weights":
        copied, skipped = _load_weights_file(model, path, keep_fresh,
                                             num_classes_given=num_classes_given)
    else:
        copied, skipped = _copy_matching_layers(model, path, kind, keep_fresh,
                                                num_classes_given=num_classes_given)
    if vocabulary.warning:
        warn(vocabulary.warning)
    if skipped:
        hint = _sizes_hint(model, path, kind) or (
            " Build with the sizes the weights were trained with to start from all of them."
        )
        trainable = " They stay trainable under freeze_backbone." if freeze_backbone else ""
        warn(
            f"{len(skipped)} layer(s) of {model.name} keep their fresh initialization instead "
            f"of the weights in {path}: {', '.join(skipped)}.{trainable}{hint}",
        )
    if vocabulary.preprocessor is not None:
        setattr(model, VOCABULARY_ATTRIBUTE, vocabulary.preprocessor)
    _keep_class_names(model, path, copied)
    # zoo.train records it: a rerun in the workdir must start from the same weights to resume.
    setattr(model, SOURCE_ATTRIBUTE, path)
    if freeze_backbone:
        # Frozen: the trained backbone. A fresh layer (another vocabulary's embedding, other
        # sizes) frozen would stay random for good.
        for layer in model.layers:
            layer.trainable = layer.name == HEAD_LAYER or layer.name not in copied
    return copied


def _keep_class_names(model: keras.Model, path: Path, copied: list[str]) -> None:
    """Label `model` with the class names of the run its head came from (a model trained on
    named labels: class 0 may be "eight"), so that its exports and evaluations name its classes
    as the run's did; a new head's classes are the caller's to name."""
    from zoo.serving.sources import recorded_class_names
    from zoo.spec import keep_spec, spec_of

    spec = spec_of(model)
    if spec is not None and HEAD_LAYER in copied:
        keep_spec(model, spec.with_data_class_names(recorded_class_names(path)))


_OTHER_VOCABULARY = "indexed by token ids of another vocabulary"  # why a layer is left fresh


def _load_weights_file(
    model: keras.Model, path: Path, keep_fresh: tuple[str, ...], *, num_classes_given: bool
) -> tuple[list[str], list[str]]:
    """Load a `.weights.h5` file, then put back the fresh weights of the `keep_fresh` layers;
    return the layers copied and those left fresh (with why).

    Such a file keeps weights by position (Keras names them by layer class and order, not by
    layer name), so it must hold the model's own network: every weight at the same place with
    the same shape. Only the classifier head may differ (another class count); it then starts
    fresh, as from a `.keras` file. Anything else is refused with the layers that differ.
    """
    fresh = {name: model.get_layer(name).get_weights() for name in keep_fresh}
    left = [f"{name} ({_OTHER_VOCABULARY})" for name in fresh]
    same_network = (
        f"A .weights.h5 file keeps weights by position, so it needs the same network (the same "
        f"layers and sizes; only the classifier head may differ, for num_classes); build "
        f"{model.name} with the sizes it was trained with, or pass a .keras file (a workdir's "
        f"model.keras), whose layers are matched by name."
    )
    try:
        own, given = _own_weights_layout(model), _weights_layout(path)
        # Keras reads the places the model has and ignores the rest: a file of a deeper network
        # would load its hidden layer into the head, without a word. (Where the model has places
        # the file lacks, Keras' own check names the layers.)
        extra = sorted({_group(place) for place in given.keys() - own.keys()})
        if extra and own.keys() <= given.keys():
            raise DataError(
                f"{path} does not fit {model.name}: it holds weights {model.name} has no place "
                f"for ({', '.join(extra)}; {len(given)} weight arrays, {model.name} has "
                f"{len(own)}), as from a network with more layers. {same_network}"
            )
        trained_head = _other_head(model, own, given)
        if trained_head is None:
            load_weights_checked(model, path, lambda mismatch: DataError(
                f"{path} does not fit {model.name}: {mismatch}. {same_network}"
            ))
        else:
            with warnings.catch_warnings():
                # Keras' lines on the skipped head: what the caller is told below instead (the
                # layouts matched, so nothing else is skipped).
                warnings.simplefilter("ignore")
                model.load_weights(path, skip_mismatch=True)
    except OSError as error:
        if error.errno is not None:  # h5py could not open it (permissions): a path problem
            raise
        # h5py's "file signature not found", "truncated file": the file is not whole HDF5.
        raise DataError(
            f"{path} is not a readable .weights.h5 file ({first_line(error)}); it may be empty, "
            f"truncated or corrupt. Expected an HDF5 file as model.save_weights(...) writes it; "
            f"save or copy the weights again, or pass the training workdir (or its model.keras)."
        ) from None
    for name, weights in fresh.items():
        model.get_layer(name).set_weights(weights)
    kept = set(fresh)
    if trained_head is not None:
        kept.add(HEAD_LAYER)
        built = _classes(model.get_layer(HEAD_LAYER).weights)
        if trained_head == built:  # another input size before it (an image size)
            left.append(f"{HEAD_LAYER} (shapes differ)")
        elif not num_classes_given:  # else a new head is the point of num_classes=N
            _warn_new_head(model, path, trained_head, built)
    copied = [layer.name for layer in model.layers if layer.weights and layer.name not in kept]
    return copied, left


def _weights_layout(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape of every layer weight in a `.weights.h5` file, by its place in the file
    ("dense_1/vars/0", in the layer group "dense_1": `_group`); the optimizer's are left out."""
    import h5py

    layout: dict[str, tuple[int, ...]] = {}
    with h5py.File(path, "r") as weights:
        layers = weights.get("layers")
        if isinstance(layers, h5py.Group):
            layers.visititems(lambda place, item: layout.__setitem__(place, tuple(item.shape))
                              if isinstance(item, h5py.Dataset) else None)
    return layout


def _group(place: str) -> str:
    """The layer a weight's place in a `.weights.h5` file belongs to ("dense_1")."""
    return place.split("/")[0]


def _own_weights_layout(model: keras.Model) -> dict[str, tuple[int, ...]]:
    """`_weights_layout` of `model`'s own `.weights.h5` file, as Keras writes it."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a scratch copy: Keras' notes on it concern no one
        own_path = Path(scratch) / "own.weights.h5"
        model.save_weights(own_path)
        return _weights_layout(own_path)


def _other_head(
    model: keras.Model, own: dict[str, tuple[int, ...]], given: dict[str, tuple[int, ...]]
) -> int | None:
    """The class count of the head in a `.weights.h5` file of layout `given` that holds
    `model`'s network (layout `own`) with only another classifier head; None for any other
    file (the model's own network with its own head, or another network), which the strict
    load accepts or explains."""
    if own.keys() != given.keys():
        return None
    differ = {_group(place) for place in own if own[place] != given[place]}
    if len(differ) != 1:
        return None
    (group,) = differ
    head = sorted(tuple(weight.shape) for weight in model.get_layer(HEAD_LAYER).weights)
    if sorted(shape for place, shape in own.items() if _group(place) == group) != head:
        return None  # the one layer that differs is not the head
    kernels = [shape for place, shape in given.items()
               if _group(place) == group and len(shape) == 2]
    return kernels[0][-1] if len(kernels) == 1 else None


def _warn_new_head(model: keras.Model, path: Path, trained: int, built: int) -> None:
    """Warn that a trained classifier head of another class count was left behind."""
    warn(
        f"the weights in {path} end in a {trained}-class classifier, and {model.name} "
        f"is built with {built} classes: its classifier head starts fresh, not from the "
        f"trained one. To keep the trained head, build with num_classes={trained} "
        f"(command line: --set num_classes={trained}); to train a new {built}-class "
        f"head on purpose, pass num_classes={built}."
    )


def _copy_matching_layers(
    model: keras.Model, path: Path, kind: str, keep_fresh: tuple[str, ...], *,
    num_classes_given: bool,
) -> tuple[list[str], list[str]]:
    """Copy, from a `.keras` file or an export, each layer whose weights have the model's
    shapes, but the `keep_fresh` ones; return the layers copied and those left fresh (with why).
    Raises when nothing but the head would move; warns of a trained head of another class count
    left behind (see `load_pretrained`)."""
    source_weights, described = _weights_by_layer(path, kind == "export")
    copied, skipped = [], []
    head_classes: tuple[int, int] | None = None  # (trained, built) when they differ
    for layer in model.layers:
        if not layer.weights:
            continue
        found = source_weights(layer)
        if found is None:
            skipped.append(f"{layer.name} (not in {path.name})")
        elif [w.shape for w in found] == [tuple(w.shape) for w in layer.weights]:
            if layer.name in keep_fresh:
                skipped.append(f"{layer.name} ({_OTHER_VOCABULARY})")
                continue
            layer.set_weights(found)
            copied.append(layer.name)
        elif layer.name != HEAD_LAYER or _classes(found) == _classes(layer.weights):
            skipped.append(f"{layer.name} (shapes differ)")
        elif not num_classes_given:  # else a new head is the point of num_classes=N
            head_classes = (_classes(found), _classes(layer.weights))
    # A head alone can match by chance; the layers below it say whether the model is the same.
    # A model whose only weights are its head (a linear classifier) starts from that head.
    head_only = not any(layer.weights for layer in model.layers if layer.name != HEAD_LAYER)
    if head_only and not copied:
        why = next((reason for reason in skipped if reason.split(" ")[0] == HEAD_LAYER), None)
        fix = ("Start it from weights of the same model (its run, export or .keras file)"
               if why else "Build the model with the class count it was trained with")
        raise InvalidValueError(
            f"the only weights of {model.name} are its head, and {path.name} ({described}) has "
            f"none that fit it: {why or f'{HEAD_LAYER} (trained for another class count)'}. "
            f"{fix}, or build it without weights=."
        )
    if not head_only and not [name for name in copied if name != HEAD_LAYER]:
        raise InvalidValueError(
            f"no layer of {path.name} ({described}) matches {model.name} by name and shape; "
            f"weights can only start a model of the same family and sizes."
            f"{_sizes_hint(model, path, kind)} Layers are matched by name: a builder of your "
            f"own should name its layers (Keras numbers unnamed ones per process) and end in "
            f"zoo.models.classifier_head."
        )
    if head_classes is not None:  # said only once the rest of the weights fit
        _warn_new_head(model, path, *head_classes)
    return copied, skipped
