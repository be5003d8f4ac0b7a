"""Custom Keras layers of the zoo, serializable and backend-agnostic (public `keras.ops` only)."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers, ops

from zoo import checks
from zoo.models.common import POOLING_MODES


@keras.saving.register_keras_serializable(package="zoo")
class TokenAndPositionEmbedding(layers.Layer):
    """Sum of a learned token embedding and a learned position embedding.

    Token id 0 is padding: the layer emits a mask that later layers (attention, pooling) honour.
    The position table has `sequence_length` rows, as many as the entry's text vectorization
    keeps; ids past them (a longer array given to the model directly) share its last row, and
    the model still reads every id, as a recurrent one does (they failed in a gather on
    TensorFlow and gave NaN on JAX).

    Example:
        >>> import numpy as np
        >>> from zoo.models.layers import TokenAndPositionEmbedding
        >>> layer = TokenAndPositionEmbedding(vocab_size=100, sequence_length=8, embed_dim=16)
        >>> tuple(layer(np.ones((2, 8), "int32")).shape), tuple(layer(np.ones((2, 11))).shape)
        ((2, 8, 16), (2, 11, 16))
    """

    def __init__(self, vocab_size: int, sequence_length: int, embed_dim: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.embed_dim = embed_dim
        self.token_embedding = layers.Embedding(vocab_size, embed_dim, name="token_embedding")
        self.position_embedding = layers.Embedding(
            sequence_length, embed_dim, name="position_embedding"
        )
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.token_embedding.build(input_shape)
        self.position_embedding.build((self.sequence_length,))
        self.built = True

    def call(self, token_ids: Any) -> Any:
        positions = ops.minimum(ops.arange(ops.shape(token_ids)[-1]), self.sequence_length - 1)
        # (batch, seq, dim) + (seq, dim): the position table broadcasts over the batch.
        return self.token_embedding(token_ids) + self.position_embedding(positions)

    def compute_mask(self, token_ids: Any, mask: Any = None) -> Any:
        return ops.not_equal(token_ids, 0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape, self.embed_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "embed_dim": self.embed_dim,
        }


@keras.saving.register_keras_serializable(package="zoo")
class TransformerEncoderBlock(layers.Layer):
    """Post-norm Transformer encoder block: self-attention and feed-forward, each residual.

    Padding positions (mask False) are never attended to.

    Example:
        >>> import numpy as np
        >>> from zoo.models.layers import TransformerEncoderBlock
        >>> block = TransformerEncoderBlock(embed_dim=16, num_heads=2, ff_dim=32)
        >>> tuple(block(np.zeros((2, 8, 16), "float32")).shape)
        (2, 8, 16)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        activation: str = "gelu",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.activation = activation
        self.attention = layers.MultiHeadAttention(
            num_heads, key_dim=embed_dim // num_heads, dropout=dropout, name="attention"
        )
        self.attention_dropout = layers.Dropout(dropout)
        self.attention_norm = layers.LayerNormalization(epsilon=1e-6, name="attention_norm")
        self.feed_forward_in = layers.Dense(ff_dim, activation=activation, name="feed_forward_in")
        self.feed_forward_out = layers.Dense(embed_dim, name="feed_forward_out")
        self.feed_forward_dropout = layers.Dropout(dropout)
        self.feed_forward_norm = layers.LayerNormalization(epsilon=1e-6, name="feed_forward_norm")
        self.supports_masking = True

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.attention.build(input_shape, input_shape)
        self.attention_norm.build(input_shape)
        self.feed_forward_in.build(input_shape)
        self.feed_forward_out.build((*input_shape[:-1], self.ff_dim))
        self.feed_forward_norm.build(input_shape)
        self.built = True

    def call(self, x: Any, mask: Any = None, training: bool | None = None) -> Any:
        attention_mask = None
        if mask is not None:
            # (batch, seq) -> (batch, query=seq, key=seq): every query ignores padded keys.
            keys = ops.expand_dims(ops.cast(mask, "bool"), axis=1)
            attention_mask = ops.logical_and(keys, ops.ones_like(ops.transpose(keys, (0, 2, 1))))
        attended = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.attention_norm(x + self.attention_dropout(attended, training=training))
        transformed = self.feed_forward_out(self.feed_forward_in(x))
        return self.feed_forward_norm(x + self.feed_forward_dropout(transformed, training=training))

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return mask

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "activation": self.activation,
        }


@keras.saving.register_keras_serializable(package="zoo")
class MaskedGlobalPooling1D(layers.Layer):
    """Mean or max over the steps the mask keeps; a sequence that is all padding pools to zeros.

    `keras.layers.GlobalAveragePooling1D` divides by the number of unmasked steps, which is 0 for
    an empty text (every id is padding) and turns the whole prediction into NaN;
    `GlobalMaxPooling1D` ignores the mask, so padding steps would win the maximum.

    Example:
        >>> import numpy as np
        >>> from zoo.models.layers import MaskedGlobalPooling1D
        >>> x = np.array([[[1.0], [3.0], [9.0]], [[5.0], [7.0], [9.0]]], "float32")
        >>> mask = np.array([[True, True, False], [False, False, False]])
        >>> MaskedGlobalPooling1D("mean")(x, mask=mask).numpy().tolist()
        [[2.0], [0.0]]
        >>> MaskedGlobalPooling1D("max")(x, mask=mask).numpy().tolist()
        [[3.0], [0.0]]
    """

    MODES = POOLING_MODES

    def __init__(self, mode: str = "mean", **kwargs: Any):
        super().__init__(**kwargs)
        self.mode = checks.one_of("mode", mode, self.MODES)
        self.supports_masking = True

    def call(self, x: Any, mask: Any = None) -> Any:
        if mask is None:
            return ops.mean(x, axis=1) if self.mode == "mean" else ops.max(x, axis=1)
        keep = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)  # (batch, seq, 1)
        count = ops.sum(ops.cast(keep, x.dtype), axis=1)  # (batch, 1)
        if self.mode == "mean":
            total = ops.sum(ops.where(keep, x, ops.zeros_like(x)), axis=1)  # (batch, dim)
            return total / ops.maximum(count, ops.ones_like(count))
        lowest = ops.full_like(x, float("-inf"))
        largest = ops.max(ops.where(keep, x, lowest), axis=1)  # (batch, dim)
        # An all-padding sequence has no maximum: zeros (and zero gradients), not -inf.
        return ops.where(count > 0, largest, ops.zeros_like(largest))

    def compute_mask(self, x: Any, mask: Any = None) -> Any:
        return None

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="zoo")
class HashedBigrams(layers.Layer):
    """Ids of a text's word pairs (bigrams), hashed into `buckets` bins: 1..buckets, 0 = padding.

    Input: (batch, steps) token ids below `vocab_size`, 0 for padding. Output: (batch, steps - 1),
    one id per adjacent pair; a pair with padding on either side is 0, so padded and unpadded
    copies of a text give the same nonzero ids. The pair (left, right) is numbered exactly as
    `left * vocab_size + right` in int32, then folded into the bins, so "not good" and
    "good not" are different features. Feed the result to `Embedding(buckets + 1, ...,
    mask_zero=True)` for a fastText-style bag of bigrams (Joulin et al. 2017).

    Example:
        >>> import numpy as np
        >>> from zoo.models.layers import HashedBigrams
        >>> layer = HashedBigrams(vocab_size=10, buckets=1000)
        >>> layer(np.array([[2, 3, 4, 0], [5, 0, 0, 0]], "int32")).numpy().tolist()
        [[24, 35, 0], [0, 0, 0]]
    """

    # Pair numbers reach vocab_size ** 2 - 1 and must not overflow int32 (on every backend).
    MAX_VOCAB_SIZE = math.isqrt(2**31 - 1)  # 46,340

    def __init__(self, vocab_size: int, buckets: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.vocab_size = checks.positive_int("vocab_size", vocab_size)
        if self.vocab_size > self.MAX_VOCAB_SIZE:
            raise checks.InvalidValueError(
                f"HashedBigrams numbers word pairs in int32, which holds vocabularies of up to "
                f"{self.MAX_VOCAB_SIZE:,} words; got vocab_size={vocab_size:,}. Use a smaller "
                "vocabulary or turn bigram features off (bigram_buckets=0)."
            )
        self.buckets = checks.positive_int("buckets", buckets)

    def call(self, token_ids: Any) -> Any:
        token_ids = ops.cast(token_ids, "int32")
        left, right = token_ids[:, :-1], token_ids[:, 1:]
        pair = left * self.vocab_size + right
        hashed = ops.mod(pair, self.buckets) + 1
        both_words = ops.logical_and(ops.greater(left, 0), ops.greater(right, 0))
        return ops.where(both_words, hashed, ops.zeros_like(hashed))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else max(steps - 1, 0))

    def compute_output_spec(self, token_ids: Any) -> keras.KerasTensor:
        # Ids, not floats: Keras would otherwise give the output the layer's float dtype.
        return keras.KerasTensor(self.compute_output_shape(token_ids.shape), dtype="int32")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size, "buckets": self.buckets}
