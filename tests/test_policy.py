"""Device policy: one place decides XLA, precision and strategy, from measurements."""

import json

import pytest
import tensorflow as tf

from zoo.errors import InvalidValueError
from zoo.training import policy as policy_module
from zoo.training.policy import resolve_policy


@pytest.fixture
def measurements(tmp_path, monkeypatch):
    path = tmp_path / "xla.json"
    monkeypatch.setattr(policy_module, "MEASUREMENTS_FILE", path)

    def write(entries):
        path.write_text(json.dumps({"entries": {k: {"speedup": v} for k, v in entries.items()}}))

    return write


def test_cpu_auto_follows_measurement(measurements):
    measurements({"cnn_mnist": 0.4, "mlp_mnist": 1.5})
    slower = resolve_policy(entry="cnn_mnist")
    faster = resolve_policy(entry="mlp_mnist")
    unmeasured = resolve_policy(entry="lstm_sst2")
    assert slower.device == "cpu"
    assert slower.jit_compile is False and "0.40x" in slower.reasons["jit_compile"]
    assert faster.jit_compile is True and "1.50x" in faster.reasons["jit_compile"]
    assert unmeasured.jit_compile is False and "no measurement" in unmeasured.reasons["jit_compile"]


def test_recorded_measurements_are_well_formed():
    recorded = json.loads(policy_module.MEASUREMENTS_FILE.read_text())
    assert "cnn_mnist" in recorded["entries"]
    for figures in recorded["entries"].values():
        assert figures["speedup"] > 0
        assert figures["default_examples_per_s"] > 0


def test_explicit_choices_win():
    chosen = resolve_policy(jit_compile=True, mixed_precision="off", strategy="default")
    assert chosen.jit_compile is True
    assert chosen.mixed_precision is None
    assert chosen.strategy is tf.distribute.get_strategy()
    assert "jit_compile: set by the caller; mixed_precision: off, set by the caller" in (
        chosen.describe()
    )
    tuning = resolve_policy(mixed_precision=None, strategy="default", chooser="zoo.tune")
    assert "mixed_precision: off, set by zoo.tune" in tuning.describe()


def test_cpu_defaults_are_float32_single_device():
    chosen = resolve_policy(entry="cnn_mnist")
    assert chosen.mixed_precision is None
    assert chosen.strategy_name == "DefaultStrategy"
    assert "device=cpu" in chosen.describe()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"jit_compile": "sometimes"}, "jit_compile must be one of"),
        ({"mixed_precision": "float8"}, "mixed_precision must be one of"),
        ({"strategy": "parallel"}, "strategy must be one of"),
        ({"strategy": "tpu"}, "strategy='tpu' needs a TPU, and none was found here"),
    ],
)
def test_bad_choices_name_the_valid_ones(kwargs, message):
    with pytest.raises(InvalidValueError, match=message):
        resolve_policy(**kwargs)
