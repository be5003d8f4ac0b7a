import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py


# ---- fixtures for the registry-driven model tests (test_models, test_spec, test_registry...) ----

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Builder arguments that set a layer's width, and the small width the fast tests use instead.
_SMALL_WIDTHS = {"units": 8, "filters": 4, "lstm_units": 8, "dense_units": 8}
_SMALL_SIZES = {"embedding_dim": 16, "ff_dim": 16}
SMALL_TEXT_INPUT = {"vocab_size": 200, "sequence_length": 16}


@pytest.fixture(autouse=True)
def no_tfds_downloads(monkeypatch):
    """Tests never download: zoo sees no network, whatever the machine has, so a dataset not
    prepared fails at once with its message instead of TFDS fetching or retrying for minutes.
    A test of the network check itself puts the real one back."""
    from zoo.data import tfds_source

    monkeypatch.setattr(tfds_source, "_network_reachable", lambda *args, **kwargs: False)


def _resident_bytes() -> int:
    """The process' current resident memory (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@pytest.fixture
def fresh_keras_session():
    """Clear Keras' global state after the test, so each test's models free their memory.

    A full garbage collection costs about 0.3 s here, so it runs only after tests that left the
    process more than 64 MiB larger; otherwise clearing Keras' references is enough.
    """
    import keras

    before = _resident_bytes()
    yield
    keras.utils.clear_session(free_memory=_resident_bytes() - before > 64 * 2**20)


def small_overrides(spec) -> dict:
    """Overrides that shrink an entry for fast tests while keeping its structure.

    Every width becomes small but the number of layers, the optional parts (batch norm,
    bidirectional, dropout) and, for images, the real input shape stay as the entry has them.
    """
    overrides = dict(SMALL_TEXT_INPUT) if spec.input.kind == "text" else {}
    for key, value in spec.hyperparameters.items():
        if key in _SMALL_WIDTHS and isinstance(value, (tuple, list)):
            overrides[key] = tuple(min(width, _SMALL_WIDTHS[key]) for width in value)
        elif key in _SMALL_SIZES:
            overrides[key] = min(value, _SMALL_SIZES[key])
    if "embed_dim" in spec.hyperparameters:  # must stay divisible by num_heads
        overrides["embed_dim"] = 4 * spec.hyperparameters.get("num_heads", 1)
    return overrides


def random_inputs(spec, batch_size: int = 4, seed: int = 0) -> np.ndarray:
    """A random batch shaped like the spec's input.

    Images: float32 of `spec.input.shape`. Text: int32 ids in [1, vocab_size) followed by 0
    padding; row i keeps `length - 2 * i` tokens (at least one), so the rows differ in padding.
    """
    rng = np.random.default_rng(seed)
    if spec.input.kind == "image":
        return rng.normal(size=(batch_size, *spec.input.shape)).astype("float32")
    length = spec.input.sequence_length
    ids = rng.integers(1, spec.input.vocab_size, (batch_size, length)).astype("int32")
    for row in range(batch_size):
        ids[row, max(1, length - 2 * row - 1):] = 0  # every row ends in at least one pad
    return ids


@pytest.fixture
def shrink():
    """`small_overrides` as a fixture: `shrink(spec) -> dict` of fast-test overrides."""
    return small_overrides


@pytest.fixture
def make_inputs():
    """`random_inputs` as a fixture: `make_inputs(spec, batch_size=4, seed=0) -> np.ndarray`."""
    return random_inputs
