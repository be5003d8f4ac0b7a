"""Text to token ids: `keras.layers.TextVectorization` built from an entry's `TextInput`.

The layer runs in the `tf.data` pipeline, never inside the model: its string ops cannot be
compiled by XLA, and keeping them out lets every model take plain int32 ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.spec import TextInput

# Texts per step when adapting or vectorizing: string ops are much cheaper on batches.
TEXT_BATCH = 1024
# ASCII punctuation and symbols (what Keras strips) and Unicode punctuation: quotes, dashes,
# ellipses, inverted marks. Emoji and other symbols stay: they carry meaning in reviews.
PUNCTUATION = r"[[:punct:]\p{P}]"


# Keras' own named standardizations lower-case ASCII letters only ("ÉCOLE" stays "École", a word
# apart from "école"); these fold every letter. Registered, so a Keras model holding the layer
# still saves and loads as a .keras file.
@keras.saving.register_keras_serializable(package="zoo")
def lower_and_strip_punctuation(texts: tf.Tensor) -> tf.Tensor:
    """Lower-case (UTF-8, every script) and drop punctuation; see `make_text_vectorization`."""
    return strip_punctuation(lower(texts))


@keras.saving.register_keras_serializable(package="zoo")
def lower(texts: tf.Tensor) -> tf.Tensor:
    """Lower-case every letter of UTF-8 text; invalid bytes become U+FFFD instead of failing."""
    return tf.strings.lower(texts, encoding="utf-8")


@keras.saving.register_keras_serializable(package="zoo")
def strip_punctuation(texts: tf.Tensor) -> tf.Tensor:
    """Drop ASCII and Unicode punctuation (`PUNCTUATION`)."""
    return tf.strings.regex_replace(texts, PUNCTUATION, "")


STANDARDIZE_FUNCTIONS = {function.__name__: function
                         for function in (lower_and_strip_punctuation, lower, strip_punctuation)}


def make_text_vectorization(
    text_input: TextInput, vocabulary: Sequence[str] | None = None
) -> keras.layers.TextVectorization:
    """A `TextVectorization` layer for `text_input`, optionally with a known vocabulary.

    Ids 0 and 1 are padding and out-of-vocabulary; texts are cut or padded to
    `text_input.sequence_length`. `text_input.standardize` names one of Keras' standardizations,
    done for every script: "Été" and "ÉTÉ" are one word, and Unicode punctuation (« » “ ” — …)
    goes with ASCII punctuation.

    Example:
        >>> from zoo.data.text import make_text_vectorization
        >>> from zoo.spec import TextInput
        >>> layer = make_text_vectorization(TextInput(vocab_size=10, sequence_length=4),
        ...                                 vocabulary=["", "[UNK]", "good", "film"])
        >>> layer(["Good film!", "bad film"]).numpy().tolist()
        [[2, 3, 0, 0], [1, 3, 0, 0]]
        >>> layer(["« GOOD » film…"]).numpy().tolist()
        [[2, 3, 0, 0]]
    """
    return keras.layers.TextVectorization(
        max_tokens=text_input.vocab_size,
        output_sequence_length=text_input.sequence_length,
        standardize=STANDARDIZE_FUNCTIONS[text_input.standardize],
        vocabulary=list(vocabulary) if vocabulary is not None else None,
        name="text_vectorization",
    )


def words_standardization_changes(words: Sequence[str], standardize: str) -> list[str]:
    """The `words` that standardization `standardize` would change: a vocabulary it made has none.

    Example:
        >>> from zoo.data.text import words_standardization_changes
        >>> words_standardization_changes(["été", "École", "«"], "lower_and_strip_punctuation")
        ['École', '«']
    """
    if not words:
        return []
    standardized = STANDARDIZE_FUNCTIONS[standardize](tf.constant(list(words))).numpy()
    return [word for word, done in zip(words, standardized, strict=True)
            if done.decode("utf-8", errors="replace") != word]


def adapt_vectorization(layer: keras.layers.TextVectorization, texts: Any) -> None:
    """Build the layer's vocabulary from `texts` (strings: a sequence, array or `tf.data`)."""
    layer.adapt(_text_batches(texts))


def token_counts(texts: Any, standardize: str) -> np.ndarray:
    """How many tokens each of `texts` (as for `adapt_vectorization`) holds, counted as the
    vectorization layer counts them: after `standardize`, split on whitespace.

    Example:
        >>> from zoo.data.text import token_counts
        >>> token_counts(["A great film !", "", "dull"], "lower_and_strip_punctuation").tolist()
        [3, 0, 1]
    """
    function = STANDARDIZE_FUNCTIONS[standardize]
    counts = _text_batches(texts).map(
        lambda batch: tf.strings.split(function(batch)).row_lengths(),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    batches = list(counts.as_numpy_iterator())
    return np.concatenate(batches) if batches else np.zeros(0, np.int64)


def _text_batches(texts: Any) -> tf.data.Dataset:
    """`texts` (a sequence, array or `tf.data` of strings) as prefetched batches of strings."""
    if isinstance(texts, tf.data.Dataset):
        dataset = texts if _is_batched(texts) else texts.batch(TEXT_BATCH)
    else:
        # (examples,) Python strings, kept as objects: not astype(str), which pads every row
        # to the longest text at 4 bytes a character (see zoo.data.pipeline).
        array = np.asarray(texts, dtype=object)
        dataset = tf.data.Dataset.from_tensor_slices(array).batch(TEXT_BATCH)
    return dataset.prefetch(tf.data.AUTOTUNE)


def vocabulary_of(layer: keras.layers.TextVectorization) -> list[str]:
    """The vocabulary as plain strings, padding ('') and out-of-vocabulary ('[UNK]') first."""
    return [
        token.decode("utf-8") if isinstance(token, bytes) else str(token)
        for token in layer.get_vocabulary(include_special_tokens=True)
    ]


def _is_batched(dataset: tf.data.Dataset) -> bool:
    spec = dataset.element_spec
    return isinstance(spec, tf.TensorSpec) and spec.shape.rank == 1
