"""`Preprocessor`: raw inputs to model inputs for one entry, fitted once and saved with the model.

Images: uint8 (or [0, 1] float) pixels -> float32 normalized with the entry's mean and std.
Text: strings -> int32 token ids through a `TextVectorization` adapted on training text only.

The same object serves the training pipeline (`zoo.data.load` maps it in tf.data), evaluation
(pass the training dataset's `.preprocessor` to load other splits) and export (`.layer` is the
Keras layer a serving function wraps). Saved as one JSON file, `preprocessor.json`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from zoo.data.images import ImageNormalization
from zoo.data.text import (
    adapt_vectorization,
    make_text_vectorization,
    token_counts,
    vocabulary_of,
    words_standardization_changes,
)
from zoo.data.validate import entry_name
from zoo.errors import DataError, InvalidValueError, warn
from zoo.io import atomic_write_json, expand_user, temporary_sibling
from zoo.registry import as_spec
from zoo.spec import ImageInput, ModelSpec, TextInput

FILENAME = "preprocessor.json"
FORMAT = 1  # bump when the file layout changes

logger = logging.getLogger("zoo.data")


class Preprocessor:
    """Turns raw inputs into the inputs of one entry's model.

    Example:
        >>> from zoo.data.preprocess import make_preprocessor
        >>> import zoo
        >>> spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=50, sequence_length=6)
        >>> text = make_preprocessor(spec).adapt(["a great film", "a film", "film"])
        >>> text.vocabulary  # by frequency, after padding and out-of-vocabulary
        ['', '[UNK]', 'film', 'a', 'great']
        >>> text(["a great film", "a bad film"]).numpy().tolist()
        [[3, 4, 2, 0, 0, 0], [3, 1, 2, 0, 0, 0]]
        >>> images = make_preprocessor(zoo.get_spec("cnn_mnist"))
        >>> import numpy as np
        >>> images(np.zeros((1, 28, 28, 1), "uint8")).numpy().min().round(4)
        np.float32(-0.4242)
    """

    def __init__(self, spec: ModelSpec | str, *, vocabulary: list[str] | None = None):
        self.spec = spec = as_spec(spec)
        if spec is None:
            raise InvalidValueError("a Preprocessor needs the spec of the entry it reads data "
                                    "for, got None; pass the entry's name or its zoo.ModelSpec "
                                    "(zoo.get_spec(name).with_overrides(...)).")
        if isinstance(spec.input, ImageInput):
            if vocabulary is not None:
                raise InvalidValueError(
                    f"{entry_name(spec)} takes images: a vocabulary has no use."
                )
            self._layer: Any = ImageNormalization(
                spec.input.mean, spec.input.std, name="image_normalization"
            )
            self._fitted = True  # nothing to learn: the statistics come from the spec
        else:
            self._layer = make_text_vectorization(spec.input, vocabulary)
            self._fitted = vocabulary is not None

    @property
    def kind(self) -> str:
        """ "image" or "text"."""
        return self.spec.input.kind

    @property
    def fitted(self) -> bool:
        """True once it can transform: always for images, after `adapt` or `load` for text."""
        return self._fitted

    @property
    def layer(self) -> Any:
        """The Keras layer that does the work (normalization or vectorization), for export.

        A text entry's layer is Keras' TextVectorization, which gives int64 ids; calling the
        preprocessor itself gives the int32 ids the pipelines and models use.
        """
        return self._layer

    @property
    def vocabulary(self) -> list[str]:
        """Text only: the tokens, id 0 (padding '') and 1 ('[UNK]') first."""
        self._require_text("vocabulary")
        self._require_fitted()
        return vocabulary_of(self._layer)

    def adapt(self, texts: Any) -> Preprocessor:
        """Build the vocabulary from training texts (a sequence, array or `tf.data` of strings).

        Pass the training split only: words seen only in validation or test data must stay
        out-of-vocabulary, or the evaluation would be optimistic. Images have nothing to adapt.
        Returns self; raises `DataError` when no text holds a word (an empty vocabulary).
        """
        if self.kind == "text":
            adapt_vectorization(self._layer, texts)
            if len(vocabulary_of(self._layer)) <= 2:  # padding and [UNK] only: an empty table
                raise DataError(
                    f"{entry_name(self.spec)}: no training text holds a word once standardized "
                    f"({self.spec.input.standardize!r}): they are empty or punctuation only, so "
                    f"there is no vocabulary to learn. Check that the text column holds the "
                    f"texts (text_column=, --text-column)."
                )
            self._fitted = True
            _report_cut_texts(token_counts(texts, self.spec.input.standardize), self.spec)
        return self

    def __call__(self, inputs: Any) -> tf.Tensor:
        """Model inputs for a batch: (batch, H, W, C) float32, or (batch, sequence_length) int32.

        Works eagerly and inside `tf.data` maps or `tf.function`s.
        """
        if self.kind == "image":
            return self._layer(inputs)
        self._require_fitted()
        return tf.cast(self._layer(inputs), tf.int32)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write `preprocessor.json` into `directory` (created if needed); return the directory.

        The write is atomic: a new directory is filled beside the target and renamed into place,
        an existing one gets its file replaced by rename, so a crash never leaves half a vocabulary.
        """
        self._require_fitted()
        directory = Path(expand_user(directory))
        if directory.exists() and not directory.is_dir():
            raise InvalidValueError(
                f"cannot save the preprocessor into {directory}: it is a file, not a directory."
            )
        payload = self._config()
        if directory.is_dir():
            atomic_write_json(directory / FILENAME, payload)
            return directory
        staging = temporary_sibling(directory)
        try:
            staging.mkdir()
            atomic_write_json(staging / FILENAME, payload)
            os.replace(staging, directory)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, spec: ModelSpec | str) -> Preprocessor:
        """Restore a saved preprocessor for `spec` (a ModelSpec or an entry name) without
        re-adapting: the same ids as before.

        Raises:
            DataError: no file, an unreadable one, or one saved for different input settings.
        """
        spec = as_spec(spec)
        path = Path(expand_user(directory)) / FILENAME
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(
                f"no {FILENAME} in {directory}; expected a directory written by Preprocessor.save "
                f"(a training workdir's 'preprocessor' folder)."
            ) from None
        except (OSError, ValueError) as error:
            raise DataError(
                f"could not read {path}: {error}. Save the preprocessor again."
            ) from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise DataError(
                f"{path} is not a zoo preprocessor file (format {FORMAT}); save it again."
            )
        if config.get("kind") != spec.input.kind:
            raise DataError(
                f"{path} holds a {config.get('kind')} preprocessor, but {entry_name(spec)} takes "
                f"{_plural(spec.input.kind)}; pass the spec the preprocessor was saved for."
            )
        if spec.input.kind == "image":
            return cls(spec)
        saved = {key: config.get(key) for key in ("vocab_size", "sequence_length", "standardize")}
        expected = {key: getattr(spec.input, key) for key in saved}
        if saved != expected:
            raise DataError(
                f"{path} was saved for text input {saved}, but {entry_name(spec)} expects "
                f"{expected}; pass the spec (with the overrides) the run was trained with."
            )
        vocabulary = list(config["vocabulary"])
        unreachable = words_standardization_changes(vocabulary[2:], spec.input.standardize)
        if unreachable:
            # Fitted before zoo lower-cased every script (Keras' standardization folds ASCII
            # only): these words can no longer come out of a text, so they would read as unknown.
            raise DataError(
                f"{path} holds words that its standardization ({spec.input.standardize!r}) no "
                f"longer produces, such as {unreachable[:3]}: it was fitted by an older zoo, "
                f"which lower-cased ASCII letters only and kept Unicode punctuation. Fit it "
                f"again: begin the run in a new workdir (or the search with overwrite=True)."
            )
        return cls(spec, vocabulary=vocabulary)

    def check_fits(self, spec: ModelSpec) -> None:
        """Raise `DataError` unless this preprocessor makes what `spec`'s model takes."""
        if not self.compatible_with(spec):
            raise DataError(
                f"the preprocessor was made for {entry_name(self.spec)} ({self.spec.input}), "
                f"which differs from what {entry_name(spec)} takes ({spec.input}); pass the "
                f"preprocessor of that model's training data (the .preprocessor of a dataset "
                f"loaded with its spec)."
            )

    def compatible_with(self, spec: ModelSpec) -> bool:
        """Whether this preprocessor produces what `spec`'s model takes."""
        mine, theirs = self.spec.input, spec.input
        if mine.kind != theirs.kind:
            return False
        if isinstance(mine, TextInput):
            return (mine.vocab_size, mine.sequence_length, mine.standardize) == (
                theirs.vocab_size,
                theirs.sequence_length,
                theirs.standardize,
            )
        return (mine.shape, mine.mean, mine.std) == (theirs.shape, theirs.mean, theirs.std)

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"format": FORMAT, "kind": self.kind, "entry": self.spec.name}
        if isinstance(self.spec.input, TextInput):
            config.update(
                vocab_size=self.spec.input.vocab_size,
                sequence_length=self.spec.input.sequence_length,
                standardize=self.spec.input.standardize,
                vocabulary=self.vocabulary,
            )
        else:
            config.update(
                shape=list(self.spec.input.shape),
                mean=list(self.spec.input.mean),
                std=list(self.spec.input.std),
            )
        return config

    def _require_text(self, what: str) -> None:
        if self.kind != "text":
            raise InvalidValueError(
                f"{what} exists for text preprocessors only; this one is for images."
            )

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise DataError(
                f"the text preprocessor of {entry_name(self.spec)} has no vocabulary yet; "
                f"adapt it on training texts first (preprocessor.adapt(texts)), or restore one "
                f"with Preprocessor.load(directory, spec)."
            )

    def __repr__(self) -> str:
        state = "fitted" if self._fitted else "not fitted"
        return f"Preprocessor({self.spec.name or self.kind!r}, {self.kind}, {state})"


def _report_cut_texts(counts: np.ndarray, spec: ModelSpec) -> None:
    """Say how many training texts are longer than the model reads: logged when some are, a
    warning when most are (the model would never see how most examples end)."""
    length = spec.input.sequence_length
    cut = int(np.sum(counts > length))
    if cut == 0:
        return
    share = f"{cut:,} of {len(counts):,} training texts ({_percent(cut / len(counts))})"
    if 2 * cut <= len(counts):
        logger.info("%s reads the first %s of a text: %s are longer (up to %d tokens) and "
                    "are cut.", entry_name(spec), _tokens(length), share, counts.max())
        return
    whole = int(np.percentile(counts, 90, method="higher"))  # at least 90% fit whole
    warn(
        f"{share} are longer than the {_tokens(length)} {entry_name(spec)} reads (median "
        f"{int(np.median(counts))}, longest {counts.max()}): the model never sees how most of "
        f"them end. To read more of each text, at more compute per example, pass "
        f"sequence_length=N (zoo.train(..., sequence_length=N), --set sequence_length=N); "
        f"N={whole} keeps 90% of them whole.",
    )


def _tokens(count: int) -> str:
    return f"{count} token{'' if count == 1 else 's'}"


def _percent(fraction: float) -> str:
    """ "39%", "0.1%" or "under 0.1%": a small share never shows as 0%."""
    if fraction >= 0.01:
        return f"{fraction:.0%}"
    return f"{fraction:.1%}" if fraction >= 0.001 else "under 0.1%"


def _plural(kind: str) -> str:
    return "images" if kind == "image" else kind


def make_preprocessor(spec: ModelSpec | str) -> Preprocessor:
    """A new `Preprocessor` for an entry, given by its spec or name (text ones still need
    `adapt`).

    Example:
        >>> from zoo.data.preprocess import make_preprocessor
        >>> import zoo
        >>> make_preprocessor(zoo.get_spec("cnn_cifar10")).fitted
        True
    """
    return Preprocessor(spec)


def checked_preprocessor(preprocessor: Any) -> Preprocessor | None:
    """`preprocessor` when it is a `Preprocessor` or None; anything else is refused in the one
    message every `preprocessor=` argument gives."""
    if preprocessor is None or isinstance(preprocessor, Preprocessor):
        return preprocessor
    raise InvalidValueError(
        f"preprocessor must be a zoo.data.Preprocessor (the .preprocessor of a dataset from "
        f"zoo.data.load or of a zoo.train result), got {type(preprocessor).__name__}."
    )
