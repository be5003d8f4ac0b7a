"""Model families (one builder each) and the registry entries built on them.

Importing this package registers the built-in entries.
"""

from zoo.models.cnn import build_cnn, cnn_cifar10, cnn_fashion_mnist, cnn_mnist
from zoo.models.layers import (
    MaskedAveragePooling1D,
    TokenAndPositionEmbedding,
    TransformerEncoderBlock,
)
from zoo.models.lstm import build_lstm_classifier, lstm_imdb, lstm_sst2
from zoo.models.mlp import build_mlp, mlp_fashion_mnist, mlp_mnist
from zoo.models.transformer import (
    build_transformer_classifier,
    transformer_ag_news,
    transformer_imdb,
    transformer_sst2,
)

# The family builders: every entry calls exactly one of these.
BUILDERS = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "lstm": build_lstm_classifier,
    "transformer": build_transformer_classifier,
}

# The entry functions, each registered under its own name.
ENTRIES = (
    mlp_mnist, mlp_fashion_mnist,
    cnn_mnist, cnn_fashion_mnist, cnn_cifar10,
    lstm_imdb, lstm_sst2,
    transformer_imdb, transformer_sst2, transformer_ag_news,
)

__all__ = [
    "BUILDERS",
    "ENTRIES",
    "MaskedAveragePooling1D",
    "TokenAndPositionEmbedding",
    "TransformerEncoderBlock",
    "build_cnn",
    "build_lstm_classifier",
    "build_mlp",
    "build_transformer_classifier",
    *(entry.__name__ for entry in ENTRIES),
]
