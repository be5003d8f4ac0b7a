"""`zoo.export`: a trained model to a SavedModel serving raw inputs, checked before it is published.

Steps: resolve what to export (`sources`), trace preprocessing + model into `serving_default`
(`signature`), write it into a staging directory (`archive.publishing`), reload it with plain
`tf.saved_model.load` and compare its outputs with the in-memory model on a sample batch (the
parity check), write `assets.extra/zoo.json`, then rename the directory into place. An export
whose SavedModel disagrees with the model never reaches the target path.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo import checks
from zoo.data.resizing import fit_images
from zoo.errors import InvalidValueError, first_line
from zoo.interrupts import interrupts_kept
from zoo.io import expand_user
from zoo.logs import quiet
from zoo.serving.archive import (
    VOCABULARY,
    ExportError,
    check_target,
    library_versions,
    publishing,
    write_metadata,
)
from zoo.serving.inputs import as_images, as_texts
from zoo.serving.paths import blank
from zoo.serving.signature import SIGNATURE, class_labels, input_signature, serving_archive
from zoo.serving.sources import Trained, check_apart_from_source, resolve
from zoo.training.callbacks import chosen_by_validation
from zoo.training.policy import built_precision, check_outside_strategy_scope

logger = logging.getLogger("zoo.serving")

SAMPLE_SIZE = 8  # examples in the default parity batch
# Largest probability difference accepted between the SavedModel and the in-memory model. Both run
# the same float32 kernels; graph optimizations (op fusion) may reorder sums, which moves results
# by ~1e-7. Under a mixed-precision policy the layers compute in 16-bit floats (3 decimal digits).
TOLERANCE = 1e-4
MIXED_PRECISION_TOLERANCE = 1e-2


def export(
    model_or_result: Any,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    preprocessor: Any = None,
    sample: Any = None,
    tolerance: float | None = None,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Export a trained model as a SavedModel whose `serving_default` takes raw inputs.

    The signature takes uint8 images (batch, height, width, channels) as `image`, or a tf.string
    vector of sentences as `text`, and returns `probabilities` (float32, (batch, classes)),
    `class_id` (int64) and `label` (string: the class's name, else its id). The SavedModel runs
    with TensorFlow alone (`tf.saved_model.load`, `saved_model_cli`, TF Serving); zoo and Keras
    are not needed. `assets.extra/zoo.json` records the entry, hyperparameters, class names, the
    training data fingerprint and seed, the epoch exported, evaluation metrics and what they
    scored, library versions and the parity check.

    Args:
        model_or_result: the `TrainResult` of `zoo.train`, a training workdir, an image
            entry's `.keras` file, or a `keras.Model` named after its entry (a text model needs
            `preprocessor`, unless `zoo.build(weights=...)` started it from a run, whose
            vocabulary it carries).
        path: the export directory. Missing parent directories are made; the directory itself
            must not exist (or be empty), unless `overwrite`.
        overwrite: replace an existing export at `path` (never another kind of directory); a
            symbolic link to an export is replaced, and the export it pointed to is kept.
        preprocessor: the fitted `zoo.data.Preprocessor`, for a bare text `keras.Model` (or to
            replace the one a `TrainResult` carries).
        sample: raw inputs for the parity check; default: a fixed batch of 8 (random pixels, or
            sentences made from the vocabulary).
        tolerance: largest accepted difference between the exported and in-memory probabilities;
            default 1e-4 (1e-2 for mixed-precision models).
        class_names: the training data's class names in id order (`train.class_names`,
            `TuneResult.class_names`), for the `label` output of a model trained on named labels;
            default: what the `TrainResult`, workdir or model (trained by `zoo.train`, or a
            `TuneResult.best_model()`) recorded, else the entry's.

    Returns:
        The absolute path of the export.

    Raises:
        ExportError: the target exists, its parent cannot be made or is read-only, or the exported
            SavedModel's outputs differ from the model's (nothing is left at `path` then).
        InvalidValueError: a model whose preprocessing is unknown (not named after an entry, or
            a text model without its fitted `preprocessor`), or one that does not fit it.
        DataError, UnsafeModelError: a workdir that cannot be read, or whose model.keras would
            run code (see `zoo.load`).

    Example:
        >>> import tempfile, tensorflow as tf, zoo
        >>> path = zoo.export(zoo.build("mlp_mnist"), tempfile.mkdtemp() + "/mlp")
        >>> serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        >>> serve(image=tf.zeros((1, 28, 28, 1), tf.uint8))["probabilities"].shape
        TensorShape([1, 10])
        >>> zoo.load(path).metadata["parity"]["passed"]
        True
    """
    model_or_result, path = expand_user(model_or_result), expand_user(path)
    started = time.perf_counter()
    checks.tensorflow_backend("zoo.export", checks.EXPORT_ELSEWHERE)
    # Tracing there makes the SavedModel's variables the strategy's, and writing it then fails
    # with an error that reads like a full disk.
    check_outside_strategy_scope(
        "zoo.export", "the SavedModel must be traced and checked outside any strategy"
    )
    if tolerance is not None:
        tolerance = checks.non_negative("tolerance", tolerance)
    checks.one_of("overwrite", overwrite, (True, False))  # "no" would replace an export
    if blank(path):
        # It would name the current folder: "cannot export to : it holds the training workdir".
        raise InvalidValueError("zoo.export got an empty path; expected the new export's "
                                "directory, e.g. exports/my_model.")
    check_apart_from_source(path, model_or_result)  # before check_target's "remove it" advice
    target = check_target(path, overwrite=overwrite)  # before the slow part: fail in a second
    trained = resolve(model_or_result, preprocessor)
    if class_names is not None:
        trained.data_class_names = _checked_class_names(class_names, trained.spec.num_classes)
    sample = default_sample(trained) if sample is None else _as_raw(trained, sample)
    if not len(sample):
        raise InvalidValueError(
            "sample holds no inputs; the parity check needs at least one. Pass some raw inputs, "
            "or leave sample=None for a fixed batch of 8."
        )
    if tolerance is None:
        mixed = built_precision(trained.model) is not None
        tolerance = MIXED_PRECISION_TOLERANCE if mixed else TOLERANCE
    try:
        # A Ctrl-C lost in a finalizer while tracing (Python only reports it there) is raised
        # again as the block ends, before the export is published: it went on to publish.
        with publishing(target, overwrite=overwrite) as staging, interrupts_kept():
            archive = serving_archive(trained.model, trained.preprocessor, trained.class_names)
            with quiet("tensorflow"):  # "Assets written to: <staging dir>" is noise to the caller
                archive.write_out(str(staging), verbose=False)
            parity = check_parity(trained, staging, sample, tolerance)
            write_metadata(staging, describe(trained, parity))
            if trained.preprocessor.kind == "text":
                trained.preprocessor.save(Path(staging) / VOCABULARY)
    except (tf.errors.OpError, OSError) as error:  # a full disk, a file size limit, a quota
        raise ExportError(
            f"could not write the export {target}: {first_line(error)}. Nothing was exported "
            f"(an export already there is kept); free some space or pick another directory."
        ) from None
    logger.info("exported %s to %s in %.1f s (parity: max difference %.2g)", trained.spec.name,
                target, time.perf_counter() - started, parity["max_abs_difference"])
    return target


def default_sample(trained: Trained, size: int = SAMPLE_SIZE) -> np.ndarray:
    """A fixed batch of raw inputs that exercises the preprocessing.

    Images: random pixels, with an all-black and an all-white image. Text: runs of vocabulary
    words, cut at different lengths (some longer than `sequence_length`), in mixed case with
    punctuation, plus an unknown word and an empty string.
    """
    rng = np.random.default_rng(0)
    if trained.spec.input.kind == "image":
        images = rng.integers(0, 256, (size, *trained.spec.input.shape), dtype=np.uint8)
        images[0], images[-1] = 0, 255
        return images
    words = trained.preprocessor.vocabulary[2:] or ["word"]  # after padding and [UNK]
    length = trained.spec.input.sequence_length
    sentences = []
    for index in range(size - 2):
        chosen = rng.choice(words, size=1 + (index * (length + 2)) // max(size - 3, 1))
        sentences.append(" ".join(chosen).capitalize() + ("!" if index % 2 else "."))
    return np.array([*sentences, "zzqx-unseen-word", ""], dtype=object)


def _as_raw(trained: Trained, sample: Any) -> np.ndarray:
    if trained.spec.input.kind == "image":
        return as_images(sample, trained.spec.input.shape,
                         fit=trained.spec.recipe.resize_images)
    return as_texts(sample)


def check_parity(trained: Trained, directory: str | os.PathLike, sample: np.ndarray,
                 tolerance: float) -> dict[str, Any]:
    """Compare the SavedModel in `directory` with the in-memory model on `sample`; raise if apart.

    Returns the result recorded in zoo.json: `passed`, `max_abs_difference`, `tolerance`,
    `sample_size`, `class_id_agreement` (share of examples with the same arg-max class).
    """
    expected = np.asarray(
        trained.model(trained.preprocessor(sample), training=False), dtype=np.float32
    )  # (batch, classes)
    broken = ~np.isfinite(expected).all(axis=-1)
    not_finite = int(broken.sum())
    if not_finite and trained.spec.input.kind == "text" and all(
        not str(text).strip() for text in np.asarray(sample)[broken]
    ):
        # Healthy weights, one input: "diverged weights, lower the learning rate" could never
        # fix it (keras.layers.GlobalAveragePooling1D over a text without words is 0/0).
        raise ExportError(
            f"the model {trained.spec.name} returns NaN or infinite probabilities for the empty "
            f"text among the sample inputs, and only for it: its pooling over the words has "
            f"none to pool (a masked average divides by zero), so the export would answer NaN "
            f"for every empty text. Nothing was exported. Pool with "
            f"zoo.models.MaskedGlobalPooling1D, which gives zeros for a text without words."
        )
    if not_finite:
        # Nothing to compare: NaN differs from everything, the export's own NaN included.
        raise ExportError(
            f"the model {trained.spec.name} returns NaN or infinite probabilities for "
            f"{not_finite} of {len(sample)} sample inputs (diverged weights, most often). "
            f"Nothing was exported. Export a checkpoint from before (a workdir's best.keras), "
            f"or retrain with a lower learning_rate."
        )
    serve = tf.saved_model.load(str(directory)).signatures[SIGNATURE]
    outputs = serve(**{input_signature(trained.spec).name: tf.constant(sample)})
    received = outputs["probabilities"].numpy()
    if received.shape != expected.shape:
        raise ExportError(
            f"the exported {trained.spec.name} returns probabilities of shape {received.shape} "
            f"for a batch of {len(sample)}, expected {expected.shape}; nothing was exported."
        )
    difference = float(np.max(np.abs(received - expected))) if expected.size else 0.0
    if trained.spec.input.kind == "image" and trained.spec.recipe.resize_images:
        difference = max(difference, _resized_difference(trained, serve, sample))
    class_id = outputs["class_id"].numpy()
    result = {
        "passed": bool(difference <= tolerance),  # False for NaN too
        "max_abs_difference": difference,
        "tolerance": float(tolerance),
        "sample_size": int(len(sample)),
        "class_id_agreement": float(np.mean(class_id == expected.argmax(axis=-1))),
    }
    names = class_labels(trained.class_names, trained.spec.num_classes)
    labels = [label.decode("utf-8") for label in outputs["label"].numpy()]
    wrong = [(label, names[i]) for label, i in zip(labels, class_id, strict=True)
             if label != names[i]]
    if wrong:
        # Not a numerical difference: a larger tolerance would not help.
        served, meant = wrong[0]
        raise ExportError(
            f"the exported {trained.spec.name} names its classes otherwise than the model: "
            f"{len(wrong)} of {len(sample)} sample inputs get another label than their "
            f"class id's (first: {served!r} for {meant!r}). Nothing was exported. The "
            f"label table is built from the class names the export records, so this is a "
            f"fault in zoo's export: please report it with the entry and class names."
        )
    if not result["passed"]:
        raise ExportError(
            f"the exported {trained.spec.name} does not match the model: on {len(sample)} sample "
            f"inputs its probabilities differ by up to {difference:.3g} (tolerance {tolerance:g}), "
            f"{result['class_id_agreement']:.0%} of class ids agree. Nothing was exported. Check "
            f"that the preprocessor is the one the model was trained with, or pass a larger "
            f"tolerance= if the difference is expected (custom numerics)."
        )
    return result


def _resized_difference(trained: Trained, serve: Any, sample: np.ndarray) -> float:
    """For a model trained with resize_images, whose signature takes any size and colour mode:
    the largest difference between the export's own fitting and training's (`fit_images`), on
    the sample enlarged to another size and aspect, in its colour mode and in the other one
    (grayscale for an RGB model, RGB with alpha for a grayscale one)."""
    enlarged = np.repeat(np.repeat(sample, 2, axis=1), 3, axis=2)
    # RGBA whose channels differ (a grey repeated would be its own luma, whatever the weights).
    recoloured = (enlarged[..., :1] if enlarged.shape[-1] == 3
                  else np.concatenate([enlarged, 255 - enlarged, enlarged // 2,
                                       np.full_like(enlarged, 255)], axis=-1))
    image = input_signature(trained.spec).name
    difference = 0.0
    for images in (enlarged, recoloured):
        fitted = fit_images(images, trained.spec.input.shape)
        expected = np.asarray(trained.model(trained.preprocessor(fitted), training=False),
                              np.float32)
        received = serve(**{image: tf.constant(images)})["probabilities"].numpy()
        if expected.size:
            difference = max(difference, float(np.max(np.abs(received - expected))))
    return difference


def describe(trained: Trained, parity: dict[str, Any]) -> dict[str, Any]:
    """The contents of `assets.extra/zoo.json` for an export of `trained`."""
    spec = trained.spec
    config = trained.run_config
    signature = input_signature(spec)
    preprocessing = {k: v for k, v in dataclasses.asdict(spec.input).items() if k != "augmentation"}
    if spec.input.kind == "text":
        preprocessing["vocabulary_size"] = len(trained.preprocessor.vocabulary)
    return {
        "entry": spec.name,
        "family": spec.family,
        "dataset": spec.dataset,
        "task": spec.task,
        "signature": {
            "name": SIGNATURE,
            "input": {"name": signature.name, "dtype": signature.dtype.name,
                      "shape": [None, *signature.shape[1:]]},
            "outputs": ["probabilities", "class_id", "label"],
        },
        "preprocessing": {"kind": spec.input.kind, **preprocessing},
        "num_classes": spec.num_classes,
        "class_names": list(trained.class_names),
        "hyperparameters": dict(spec.hyperparameters),
        "recipe": dataclasses.asdict(spec.recipe),
        "training": {
            "source": trained.source,
            "overrides": config.get("overrides"),
            "data": config.get("data"),
            "validation_data": config.get("validation_data"),
            "seed": config.get("seed"),
            "epochs": trained.epochs_trained,
            "best_epoch": trained.best_epoch,  # the epoch exported; None where not recorded
        },
        "evaluation": trained.evaluation,
        "evaluation_data": _evaluation_data(config, trained),
        "parity": parity,
        "versions": library_versions(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _evaluation_data(config: dict[str, Any], trained: Trained) -> str | None:
    """What the run's `evaluation` scored, in words, from its recorded configuration: a deployer
    reading `num_examples` alone could not tell a test set from the hold-out that chose the
    exported epoch."""
    if trained.evaluation is None or not config:
        return None
    given, data = config.get("validation_data"), str(config.get("data"))
    if given:
        where = f"the validation data given ({given})"
    elif data.startswith(("tfds:", "name:")):
        where = "the TFDS dataset's labelled test split"
    else:
        where = f"a seeded hold-out of the training data (seed {config.get('seed')})"
    if chosen_by_validation(trained.spec.recipe.monitor, trained.epochs_trained,
                            trained.best_epoch):
        where += (f", which also chose the exported epoch ({trained.best_epoch}) and so reads "
                  f"slightly optimistic; score unseen data with zoo evaluate")
    return where


def _checked_class_names(names: Sequence[str], num_classes: int) -> tuple[str, ...]:
    names = checks.class_names(names)
    if len(names) != num_classes:
        raise InvalidValueError(
            f"class_names lists {len(names)} names but the model has {num_classes} classes; pass "
            f"one name per class, in id order (the training dataset's .class_names)."
        )
    return names
