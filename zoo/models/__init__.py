"""Model families (one builder each) and the registry entries built on them.

Importing this package registers the built-in entries. It does not import Keras (the builders do,
when they build), so listing entries stays fast; the Keras pieces named here (zoo's layers and
`classifier_head`) load on first use.
"""

from zoo.lazy import lazy_exports
from zoo.models.cnn import build_cnn, cnn_cifar10, cnn_fashion_mnist, cnn_mnist, search_space_cnn
from zoo.models.common import choice, float_range, int_range
from zoo.models.lstm import build_lstm_classifier, lstm_imdb, lstm_sst2, search_space_lstm
from zoo.models.mlp import build_mlp, mlp_fashion_mnist, mlp_mnist, search_space_mlp
from zoo.models.transformer import (
    build_transformer_classifier,
    search_space_transformer,
    transformer_ag_news,
    transformer_imdb,
    transformer_sst2,
)

# Names of this package that import Keras, and the module each comes from: loaded on first use.
_KERAS_PIECES = {
    "HashedBigrams": "zoo.models.layers",
    "MaskedGlobalPooling1D": "zoo.models.layers",
    "TokenAndPositionEmbedding": "zoo.models.layers",
    "TransformerEncoderBlock": "zoo.models.layers",
    "classifier_head": "zoo.models.blocks",
}
__getattr__, __dir__ = lazy_exports(__name__, _KERAS_PIECES)


# The family builders: every entry calls exactly one of these.
BUILDERS = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "lstm": build_lstm_classifier,
    "transformer": build_transformer_classifier,
}

# The family search spaces, `(hp, spec) -> overrides`: what `zoo.tune` samples. An entry of your own
# on a family builder can use its family's: `ModelSpec(..., search_space=SEARCH_SPACES["cnn"])`.
SEARCH_SPACES = {
    "mlp": search_space_mlp,
    "cnn": search_space_cnn,
    "lstm": search_space_lstm,
    "transformer": search_space_transformer,
}

# The entry functions, each registered under its own name. Defined last: the registry takes
# its presence to mean this package has finished importing (zoo.registry._ensure_loaded).
ENTRIES = (
    mlp_mnist, mlp_fashion_mnist,
    cnn_mnist, cnn_fashion_mnist, cnn_cifar10,
    lstm_imdb, lstm_sst2,
    transformer_imdb, transformer_sst2, transformer_ag_news,
)

__all__ = [
    "BUILDERS",
    "ENTRIES",
    "HashedBigrams",
    "MaskedGlobalPooling1D",
    "SEARCH_SPACES",
    "TokenAndPositionEmbedding",
    "TransformerEncoderBlock",
    "build_cnn",
    "build_lstm_classifier",
    "build_mlp",
    "build_transformer_classifier",
    "choice",
    "classifier_head",
    "float_range",
    "int_range",
    "search_space_cnn",
    "search_space_lstm",
    "search_space_mlp",
    "search_space_transformer",
    *(entry.__name__ for entry in ENTRIES),
]
