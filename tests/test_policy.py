"""Device policy: one place decides XLA, precision and strategy, from measurements."""

import json
import logging

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


def test_cpu_auto_turns_xla_on_from_a_speed_up_of_1_1(measurements):
    # The documented threshold, both sides of it: at least 1.1x is worth XLA's compile time.
    measurements({"mlp_mnist": 1.09, "cnn_mnist": 1.1})
    below = resolve_policy(entry="mlp_mnist")
    at = resolve_policy(entry="cnn_mnist")
    assert below.jit_compile is False and "off on CPU" in below.reasons["jit_compile"]
    assert at.jit_compile is True and "on on CPU: measured XLA speed-up 1.10x" in (
        at.reasons["jit_compile"])


@pytest.mark.parametrize("float16_cores, precision", [(False, None), (True, "mixed_float16")])
def test_gpu_auto_uses_float16_only_where_the_gpu_has_tensor_cores(
        monkeypatch, float16_cores, precision):
    # A GPU without tensor cores (compute capability below 7.0, older than Volta) gains little
    # from float16, which Keras warns may run slowly there: it trains in float32. XLA is left to
    # Keras' per-layer check on any GPU.
    monkeypatch.setattr(policy_module, "detect_device", lambda: "gpu")
    monkeypatch.setattr(policy_module, "_gpu_supports_float16", lambda: float16_cores)
    chosen = resolve_policy(entry="mlp_mnist", strategy="default")
    assert chosen.device == "gpu"
    assert chosen.mixed_precision == precision
    assert chosen.jit_compile == "auto"


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
    # None is no distribution, as mixed_precision=None is float32 (it was refused).
    plain = resolve_policy(strategy=None)
    assert plain.strategy is tf.distribute.get_strategy()
    assert plain.reasons["strategy"] == "set by the caller"


def test_float16_on_a_cpu_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="zoo"):
        chosen = resolve_policy(mixed_precision="mixed_float16")
    assert chosen.mixed_precision == "mixed_float16"  # the caller's choice stands
    assert ("mixed_precision='mixed_float16' on a CPU: float16 is a GPU setting, and CPUs compute "
            "it slower than float32. Use 'mixed_bfloat16'") in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="zoo"):
        resolve_policy(mixed_precision="mixed_bfloat16")
    assert "mixed_precision" not in caplog.text


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
    built = {}
    try:
        for precision in ("mixed_bfloat16", "mixed_float16"):
            keras.config.set_dtype_policy(precision)
            built[precision] = zoo.build("mlp_mnist", units=(8,))
    finally:
        keras.config.set_dtype_policy(previous)
    mixed = built["mixed_bfloat16"]
    chosen = resolve_policy(model=mixed)  # "auto": what the model was built with
    assert chosen.mixed_precision == "mixed_bfloat16"
    assert chosen.reasons["mixed_precision"] == "the given model's own (built under mixed_bfloat16)"
    assert resolve_policy(model=built["mixed_float16"]).mixed_precision == "mixed_float16"
    with pytest.raises(InvalidValueError, match="it was built under mixed_bfloat16"):
        resolve_policy(mixed_precision="off", model=mixed)
    # Asked for the precision it was built under: the caller's choice, and said to be.
    asked = resolve_policy(mixed_precision="mixed_bfloat16", model=mixed)
    assert asked.mixed_precision == "mixed_bfloat16"
    assert asked.reasons["mixed_precision"] == "set by the caller"
    assert resolve_policy(model=plain).mixed_precision is None
    assert resolve_policy(model=plain).reasons["mixed_precision"] == (
        "the given model's own (float32)")


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


def test_a_model_built_outside_the_strategy_auto_chose_trains_on_a_single_device(monkeypatch):
    # "auto" chooses MirroredStrategy on several GPUs (stood in for here); a model built
    # beforehand outside its scope cannot move into it, and the caller did not ask for it.
    import zoo

    plain = zoo.build("mlp_mnist", units=(8,))
    mirrored = tf.distribute.MirroredStrategy()
    monkeypatch.setattr(policy_module, "_resolve_strategy",
                        lambda strategy, device, chooser: (mirrored, "2 GPUs"))
    chosen = resolve_policy(model=plain)
    assert chosen.strategy is tf.distribute.get_strategy()
    assert chosen.reasons["strategy"] == (
        "single device: the given model was built outside any strategy's scope")


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


def test_invalid_strategies_say_an_instance_is_accepted_and_a_class_is_not():
    with pytest.raises(InvalidValueError, match=r"strategy must be one of 'auto', 'default', "
                       r"'mirrored', 'multi_worker', 'tpu', or a tf.distribute.Strategy "
                       r"instance, got 'parallel'\."):
        resolve_policy(strategy="parallel")
    with pytest.raises(InvalidValueError, match=r"strategy is the class "
                       r"tf.distribute.MirroredStrategy, not a strategy; pass an instance, "
                       r"strategy=tf.distribute.MirroredStrategy\(\)"):
        resolve_policy(strategy=tf.distribute.MirroredStrategy)


# TF_CONFIG: the chief, when there is one, is task 0; worker i is then task i + 1.
@pytest.mark.parametrize(
    "config, tasks, index",
    [
        (None, 0, 0),
        ({}, 0, 0),
        ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, 2, 1),
        ({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief", "index": 0}},
         2, 0),
        ({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}},
         2, 1),
        ({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
          "task": {"type": "worker", "index": 1}}, 3, 2),
        ({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, 1, 0),
    ],
)
def test_tf_config_counts_the_chief_and_the_workers(monkeypatch, config, tasks, index):
    if config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert policy_module.cluster_task() == policy_module.ClusterTask(tasks, index)
    assert policy_module.task_index() == index


_WORKERS = {"worker": ["a:1", "b:1"]}


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"cluster": ', r"TF_CONFIG is not valid JSON \(Expecting value: line 1 column 12"),
        ('["a:1", "b:1"]', r"TF_CONFIG is a JSON list, not an object"),
        (json.dumps({"cluster": _WORKERS}), r'TF_CONFIG has no "task" object naming this'),
        (json.dumps({"task": {"type": "worker", "index": 0}}), r'has no "cluster" object'),
        (json.dumps({"cluster": _WORKERS, "task": {"type": "worker", "index": 2}}),
         r'task index 2, out of range: cluster\["worker"\] lists 2 address\(es\), so the index '
         r"must be an integer from 0 to 1"),
        (json.dumps({"cluster": _WORKERS, "task": {"type": "worker", "index": "1"}}),
         r"task index '1', not an integer: cluster"),
        (json.dumps({"cluster": {"worker": "a:1,b:1"}, "task": {"type": "worker", "index": 0}}),
         r"""cluster\["worker"\] = 'a:1,b:1', not a list of "host:port" strings"""),
        (json.dumps({"cluster": {**_WORKERS, "ps": ["c:1"]}, "task": {"type": "worker",
                                                                       "index": 0}}),
         r"has a task of type 'ps', which zoo does not run"),
        (json.dumps({"cluster": _WORKERS, "task": {"type": "evaluator", "index": 0}}),
         r"has a task of type 'evaluator', which zoo does not run"),
        (json.dumps({"cluster": _WORKERS, "task": {"type": "chief", "index": 0}}),
         r"task type 'chief', which its cluster does not list \(it lists 'worker'\)"),
        (json.dumps({"cluster": {"chief": ["a:1", "b:1"]}, "task": {"type": "chief",
                                                                     "index": 0}}),
         r"lists 2 chiefs; a cluster has at most one"),
        (json.dumps({"cluster": {**_WORKERS, "master": ["c:1"]}, "task": {"type": "worker",
                                                                           "index": 0}}),
         r'names an unknown job .master. in "cluster"'),
        (json.dumps({"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}),
         r"TF_CONFIG names no task in its cluster"),
    ],
)
def test_a_malformed_tf_config_is_refused_in_one_line(monkeypatch, text, message):
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(InvalidValueError, match=message) as caught:
        resolve_policy()  # before TensorFlow reads it
    assert "\n" not in str(caught.value)
    assert 'expected {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", ' \
        '"index": N}}' in str(caught.value)


def test_a_tf_config_naming_a_single_task_uses_the_default_strategy(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}))
    chosen = resolve_policy()
    assert chosen.strategy_name == "DefaultStrategy"
    assert chosen.reasons["strategy"] == (
        "TF_CONFIG names a single task, so the default strategy is used")


def test_multi_worker_training_is_logged_without_xla(monkeypatch, measurements, caplog):
    """zoo's multi-worker step is a plain tf.function (two workers check the real strategy in
    test_distributed.py); a multi-worker strategy cannot start in this process."""
    monkeypatch.setattr(policy_module.DevicePolicy, "multi_worker", property(lambda self: True))
    measurements({"mlp_mnist": 1.5})  # XLA would be on for it on CPU
    automatic = resolve_policy(entry="mlp_mnist")
    assert automatic.jit_compile is False
    assert automatic.reasons["jit_compile"] == "off: zoo's multi-worker step runs without XLA"
    with caplog.at_level("WARNING", logger="zoo.training"):
        asked = resolve_policy(jit_compile=True)
    assert asked.jit_compile is False and "jit_compile=False" in asked.describe()
    assert "jit_compile=True is not applied: zoo's multi-worker step runs without XLA" in (
        caplog.text)
    assert resolve_policy(jit_compile=False).reasons["jit_compile"] == "set by the caller"


def test_inside_a_strategy_scope_auto_takes_that_strategy_and_another_is_refused():
    import zoo

    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        chosen = resolve_policy()
        assert chosen.strategy is strategy
        assert chosen.reasons["strategy"] == "the strategy in scope (with strategy.scope())"
        assert resolve_policy(strategy=strategy).strategy is strategy
        for other in ("default", "mirrored", tf.distribute.MirroredStrategy()):
            with pytest.raises(InvalidValueError, match=r"was asked for inside `with "
                               r"strategy.scope\(\):` of a MirroredStrategy, and one strategy "
                               r"cannot train inside another's scope. Call zoo outside"):
                resolve_policy(strategy=other)
        inside = zoo.build("mlp_mnist", units=(8,))
        assert resolve_policy(model=inside).strategy is strategy
    outside = zoo.build("mlp_mnist", units=(8,))
    with strategy.scope(), pytest.raises(InvalidValueError, match=r"built outside the scope of "
                                         r"MirroredStrategy.*Or call zoo.train outside"):
        resolve_policy(model=outside)


def test_zoo_train_inside_a_strategy_scope_trains_under_it():
    import numpy as np

    import zoo

    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64)
    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        model = zoo.build("mlp_mnist", units=(8,))
        result = zoo.train(model, data, epochs=1, verbose=0)  # "auto": the model's strategy
        assert result.policy.strategy is strategy
        with pytest.raises(InvalidValueError, match=r"zoo.export was called inside `with "
                           r"strategy.scope\(\):` of a MirroredStrategy.*Call zoo.export outside "
                           r"the `with` block"):
            zoo.export(result, "unused")


def test_functions_run_eagerly_is_named_as_the_run_starts(caplog):
    # A forgotten debugging switch trained 2.3x slower, while the policy line said nothing.
    tf.config.run_functions_eagerly(True)
    try:
        with caplog.at_level(logging.WARNING, logger="zoo"):
            resolve_policy(entry="mlp_mnist")
    finally:
        tf.config.run_functions_eagerly(False)
    assert "tf.config.run_functions_eagerly(True) is on in this process" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="zoo"):
        resolve_policy(entry="mlp_mnist")
    assert "run_functions_eagerly" not in caplog.text


# ---- the device, as "auto" sees it (no TPU or GPU here: TensorFlow's answers are stood in for) --


@pytest.mark.parametrize("variable, gpus, device", [
    ("TPU_NAME", 0, "tpu"),  # a Cloud TPU VM names it before TensorFlow lists the TPU
    ("COLAB_TPU_ADDR", 1, "tpu"),  # a TPU outranks a GPU
    (None, 1, "gpu"),
    (None, 0, "cpu"),
])
def test_the_device_is_a_tpu_named_in_the_environment_else_a_gpu_tensorflow_lists(
        monkeypatch, variable, gpus, device):
    for name in ("TPU_NAME", "COLAB_TPU_ADDR"):
        monkeypatch.delenv(name, raising=False)
    if variable:
        monkeypatch.setenv(variable, "grpc://10.0.0.2:8470")
    monkeypatch.setattr(policy_module.tf.config, "list_physical_devices",
                        lambda kind=None: ["GPU:0"] * gpus if kind == "GPU" else [])
    assert policy_module.detect_device() == device


@pytest.mark.parametrize("capabilities, supported", [
    ([(6, 1)], False),  # Pascal: no tensor cores
    ([(6, 1), (7, 0)], True),  # any GPU from Volta on
    ([None], False),  # a GPU that reports no compute capability
    ([], False),
])
def test_float16_needs_a_gpu_with_compute_capability_7_or_more(
        monkeypatch, capabilities, supported):
    gpus = [f"GPU:{index}" for index in range(len(capabilities))]
    details = {gpu: {"compute_capability": capability} if capability else {}
               for gpu, capability in zip(gpus, capabilities, strict=True)}
    monkeypatch.setattr(policy_module.tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(policy_module.tf.config.experimental, "get_device_details",
                        lambda gpu: details[gpu])
    assert policy_module._gpu_supports_float16() is supported


def test_tpu_auto_trains_in_bfloat16(monkeypatch):
    monkeypatch.setattr(policy_module, "detect_device", lambda: "tpu")
    chosen = resolve_policy(entry="mlp_mnist", strategy="default")  # "auto" would connect to it
    assert chosen.device == "tpu"
    assert chosen.mixed_precision == "mixed_bfloat16"
    assert chosen.reasons["mixed_precision"] == "bfloat16 on TPU"
    assert chosen.jit_compile == "auto"
