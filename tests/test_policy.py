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
    # Keras' name for the float32 policy is "off" too.
    assert resolve_policy(mixed_precision="float32").mixed_precision is None


def test_a_strategy_the_caller_chose_says_so():
    assert resolve_policy(strategy="mirrored").reasons["strategy"] == "set by the caller"
    assert resolve_policy(strategy="default").reasons["strategy"] == "set by the caller"
    assert resolve_policy().reasons["strategy"] == "single device"
    # zoo.tune's own choice for its trials is not the caller's (zoo tune has no such option).
    assert resolve_policy(strategy="default", chooser="zoo.tune").reasons["strategy"] == (
        "set by zoo.tune")


def test_a_model_built_beforehand_keeps_its_precision_and_refuses_another():
    import keras

    import zoo

    plain = zoo.build("mlp_mnist", units=(8,))
    with pytest.raises(InvalidValueError, match=r"mixed_precision='mixed_bfloat16' cannot apply "
                       r"to the model given to zoo.train: it was built in float32"):
        resolve_policy(mixed_precision="mixed_bfloat16", model=plain)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        mixed = zoo.build("mlp_mnist", units=(8,))
    finally:
        keras.config.set_dtype_policy(previous)
    chosen = resolve_policy(model=mixed)  # "auto": what the model was built with
    assert chosen.mixed_precision == "mixed_bfloat16"
    assert chosen.reasons["mixed_precision"] == "the given model's own (built under mixed_bfloat16)"
    with pytest.raises(InvalidValueError, match="it was built under mixed_bfloat16"):
        resolve_policy(mixed_precision="off", model=mixed)
    assert resolve_policy(model=plain).mixed_precision is None


def test_a_model_built_outside_a_strategys_scope_is_refused_under_it():
    import zoo

    plain = zoo.build("mlp_mnist", units=(8,))
    with pytest.raises(InvalidValueError, match=r"built outside the scope of MirroredStrategy, so "
                       r"its variables cannot be distributed: build it inside `with "
                       r"strategy.scope\(\):`"):
        resolve_policy(strategy="mirrored", model=plain)
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        inside = zoo.build("mlp_mnist", units=(8,))
    assert resolve_policy(strategy=strategy, model=inside).strategy is strategy


def test_cpu_defaults_are_float32_single_device():
    chosen = resolve_policy(entry="cnn_mnist")
    assert chosen.mixed_precision is None
    assert chosen.strategy_name == "DefaultStrategy"
    assert "device=cpu" in chosen.describe()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"jit_compile": "sometimes"}, "jit_compile must be one of"),
        # 1 == True in Python: it passed the check and was then taken for "auto".
        ({"jit_compile": 1}, r"jit_compile must be one of 'auto', True, False, got 1\."),
        ({"jit_compile": 0}, r"jit_compile must be one of 'auto', True, False, got 0\."),
        ({"mixed_precision": "float8"}, "mixed_precision must be one of"),
        ({"strategy": "parallel"}, "strategy must be one of"),
        ({"strategy": "tpu"}, "strategy='tpu' needs a TPU, and none was found here"),
    ],
)
def test_bad_choices_name_the_valid_ones(kwargs, message):
    with pytest.raises(InvalidValueError, match=message):
        resolve_policy(**kwargs)
