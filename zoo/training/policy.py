"""Device policy: XLA, mixed precision and the tf.distribute strategy, decided in one place.

Nothing else in zoo calls `model.compile` with its own XLA or precision choice; `zoo.train`
resolves a `DevicePolicy` once, logs it, and compiles through `zoo.training.compile`.

`jit_compile="auto"` is decided by measurement. On GPU and TPU, XLA is used when every layer
of the model supports it (Keras' own check). On CPU, XLA is used only for entries whose
measured speed-up on CPU is at least 1.1x; the figures live in `xla_cpu_measurements.json`
beside this module and are rewritten by `benchmarks/bench_xla.py`. An entry without a
measurement runs without XLA on CPU (measured on this project's 2-core machine: XLA made
cnn_mnist slower).

`strategy="auto"` is the strategy in scope when zoo is called inside `with strategy.scope():`,
else MultiWorkerMirroredStrategy when TF_CONFIG names several tasks (checked by `cluster_task`
before TensorFlow reads it), MirroredStrategy on several GPUs, or the default strategy.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from zoo import checks
from zoo.errors import InvalidValueError, first_line

logger = logging.getLogger("zoo.training")

MEASUREMENTS_FILE = Path(__file__).with_name("xla_cpu_measurements.json")
XLA_SPEEDUP_THRESHOLD = 1.1  # below this, XLA's compile time and risk are not worth it
# "float32", Keras' name for the policy, is "off" too.
_MIXED_PRECISION_CHOICES = ("auto", "off", "float32", "mixed_float16", "mixed_bfloat16")
_STRATEGY_CHOICES = ("auto", "default", "mirrored", "multi_worker", "tpu")


@dataclass
class DevicePolicy:
    """The resolved device choices for one training run, with the reason for each."""

    device: str  # "cpu", "gpu" or "tpu"
    jit_compile: bool | str  # True, False, or "auto" to let Keras check layer support on GPU/TPU
    mixed_precision: str | None  # "mixed_float16", "mixed_bfloat16" or None (float32)
    strategy: Any  # a tf.distribute.Strategy
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def strategy_name(self) -> str:
        """The public tf.distribute name (`MultiWorkerMirroredStrategy`'s class is
        `CollectiveAllReduceStrategy`), or "DefaultStrategy" for the single-device default."""
        return strategy_name(self.strategy)

    @property
    def multi_worker(self) -> bool:
        """True under a MultiWorkerMirroredStrategy: every worker trains, the chief (task
        index 0) writes the workdir and exports."""
        return isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy)

    @property
    def worker(self) -> int:
        """This process's task index among the training workers (`task_index`); 0, the chief's,
        outside a multi-worker run, where this process writes the workdir and the export."""
        return task_index() if self.multi_worker else 0

    def describe(self) -> str:
        return (
            f"device={self.device} jit_compile={self.jit_compile} "
            f"mixed_precision={self.mixed_precision or 'off'} strategy={self.strategy_name} "
            f"({'; '.join(f'{k}: {v}' for k, v in self.reasons.items())})"
        )


def strategy_name(strategy: Any) -> str:
    """The public tf.distribute name of a strategy, or "DefaultStrategy" for the default.

    Example:
        >>> import tensorflow as tf
        >>> from zoo.training.policy import strategy_name
        >>> strategy_name(tf.distribute.get_strategy())
        'DefaultStrategy'
    """
    public_names = {
        "MultiWorkerMirroredStrategy": tf.distribute.MultiWorkerMirroredStrategy,
        "TPUStrategy": tf.distribute.TPUStrategy,
        "MirroredStrategy": tf.distribute.MirroredStrategy,
    }
    for name, public in public_names.items():
        if isinstance(strategy, public):
            return name
    if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        return "DefaultStrategy"
    return type(strategy).__name__


def detect_device() -> str:
    """'tpu' when a TPU is attached, 'gpu' when TensorFlow sees a GPU, else 'cpu'.

    Only physical devices are listed: initialising the runtime here would make a later
    MultiWorkerMirroredStrategy fail ("collective ops must be configured at program startup").
    """
    if (
        tf.config.list_physical_devices("TPU")
        or os.environ.get("TPU_NAME")
        or os.environ.get("COLAB_TPU_ADDR")
    ):
        return "tpu"
    if tf.config.list_physical_devices("GPU"):
        return "gpu"
    return "cpu"


def cpu_xla_speedup(entry: str | None) -> float | None:
    """The measured speed-up of XLA over TensorFlow's default kernels on CPU, if recorded."""
    if not entry or not MEASUREMENTS_FILE.exists():
        return None
    measurements = json.loads(MEASUREMENTS_FILE.read_text())
    record = measurements.get("entries", {}).get(entry)
    return None if record is None else float(record["speedup"])


def _resolve_jit_compile(
    jit_compile: bool | str, device: str, entry: str | None
) -> tuple[bool | str, str]:
    if isinstance(jit_compile, bool):
        return jit_compile, "set by the caller"
    checks.one_of("jit_compile", jit_compile, ("auto", True, False))
    if device in ("gpu", "tpu"):
        return "auto", f"XLA on {device} where every layer supports it (Keras check)"
    speedup = cpu_xla_speedup(entry)
    if speedup is None:
        return False, "off on CPU: no measurement for this entry (measured slower for cnn_mnist)"
    use = speedup >= XLA_SPEEDUP_THRESHOLD
    return use, f"{'on' if use else 'off'} on CPU: measured XLA speed-up {speedup:.2f}x"


def _gpu_supports_float16() -> bool:
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and capability >= (7, 0):  # tensor cores: Volta and newer
            return True
    return False


def _resolve_mixed_precision(
    mixed_precision: str | None, device: str, chooser: str
) -> tuple[str | None, str]:
    if mixed_precision is None or mixed_precision in ("off", "float32"):
        return None, f"off, set by {chooser}"
    checks.one_of("mixed_precision", mixed_precision, _MIXED_PRECISION_CHOICES)
    if mixed_precision != "auto":
        if mixed_precision == "mixed_float16" and device == "cpu":
            # CPUs have no float16 arithmetic to speak of: every op converts (a user's MLP
            # epoch took 1.8x float32's); bfloat16 is the CPU's, with AVX-512 BF16.
            logger.warning(
                "mixed_precision='mixed_float16' on a CPU: float16 is a GPU setting, and CPUs "
                "compute it slower than float32. Use 'mixed_bfloat16' on a CPU with AVX-512 BF16 "
                "(training.md measured 1.4x on this project's), else float32 (the default here).")
        return mixed_precision, f"set by {chooser}"
    if device == "tpu":
        return "mixed_bfloat16", "bfloat16 on TPU"
    if device == "gpu" and _gpu_supports_float16():
        return "mixed_float16", "float16 on a GPU with compute capability >= 7.0"
    reason = f"float32 on {device}"
    global_policy = keras.config.dtype_policy().name
    if global_policy != "float32":
        # A policy set with keras.config.set_dtype_policy is the caller's, for their own models;
        # zoo's run follows its own (logged and recorded) choice.
        reason += (f", not the global Keras policy {global_policy} (pass "
                   f"mixed_precision={global_policy!r} to train in it)")
    return None, reason


_TF_CONFIG_FORM = (
    'expected {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", '
    '"index": N}}, with at most one "chief": ["host:port"] beside "worker"'
)
# The jobs of TF_CONFIG's cluster that MultiWorkerMirroredStrategy trains with.
_TRAINING_JOBS = ("chief", "worker")


@dataclass(frozen=True)
class ClusterTask:
    """This process's place in TF_CONFIG's cluster: `tasks` training tasks (chief and workers;
    0 without TF_CONFIG) and its `index` among them, the chief (or worker 0 without one) 0."""

    tasks: int
    index: int


def cluster_task() -> ClusterTask:
    """Read TF_CONFIG, checked before TensorFlow reads it; `InvalidValueError` for one that
    is malformed or names a job zoo does not run (a parameter server, an evaluator).

    The chief, when the cluster names one, is task 0, and worker i is task i + 1.

    Example:
        >>> import json, os
        >>> from zoo.training.policy import cluster_task
        >>> os.environ["TF_CONFIG"] = json.dumps({
        ...     "cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
        ...     "task": {"type": "worker", "index": 1}})
        >>> cluster_task()
        ClusterTask(tasks=3, index=2)
        >>> del os.environ["TF_CONFIG"]
        >>> cluster_task()
        ClusterTask(tasks=0, index=0)
    """
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return ClusterTask(0, 0)
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise _tf_config_error(f"is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise _tf_config_error(f"is a JSON {type(config).__name__}, not an object")
    if not config:  # "{}": no cluster, as TensorFlow reads it
        return ClusterTask(0, 0)
    jobs = _cluster_jobs(config.get("cluster"))
    return _task_position(config.get("task"), jobs)


def worker_name(index: int) -> str:
    """How messages name task `index` of a cluster (`cluster_task().index`).

    Example:
        >>> from zoo.training.policy import worker_name
        >>> worker_name(0), worker_name(2)
        ('worker 0 (the chief)', 'worker 2')
    """
    return "worker 0 (the chief)" if index == 0 else f"worker {index}"


def _tf_config_error(problem: str) -> InvalidValueError:
    return InvalidValueError(
        f"TF_CONFIG {problem}; {_TF_CONFIG_FORM}. Fix or unset the TF_CONFIG environment "
        f"variable."
    )


def _unsupported_job(job: str) -> InvalidValueError:
    return _tf_config_error(
        f"has a task of type {job!r}, which zoo does not run: it trains with "
        f"MultiWorkerMirroredStrategy, where every machine is a worker (no parameter server or "
        f"evaluator)"
    )


def _cluster_jobs(cluster: Any) -> dict[str, list[str]]:
    """TF_CONFIG's cluster, checked: {"chief": [one address] (optional), "worker": [...]}."""
    if not isinstance(cluster, dict):
        raise _tf_config_error('has no "cluster" object listing the workers\' addresses')
    for job, addresses in cluster.items():
        if job in ("ps", "evaluator"):
            raise _unsupported_job(job)
        if job not in _TRAINING_JOBS:
            raise _tf_config_error(f'names an unknown job {job!r} in "cluster"')
        if not isinstance(addresses, list) or not all(
            isinstance(address, str) and address for address in addresses
        ):
            raise _tf_config_error(
                f'has cluster["{job}"] = {addresses!r}, not a list of "host:port" strings'
            )
    if len(cluster.get("chief", [])) > 1:
        raise _tf_config_error(
            f'lists {len(cluster["chief"])} chiefs; a cluster has at most one (list the others '
            f'under "worker")'
        )
    if not any(cluster.values()):
        raise _tf_config_error("names no task in its cluster")
    return {job: cluster.get(job, []) for job in _TRAINING_JOBS}


def _task_position(task: Any, jobs: dict[str, list[str]]) -> ClusterTask:
    """This process's index among all training tasks, the chief first."""
    if not isinstance(task, dict):
        raise _tf_config_error('has no "task" object naming this process\'s type and index')
    job, index = task.get("type"), task.get("index", 0)
    if job in ("ps", "evaluator"):
        raise _unsupported_job(job)
    if job not in _TRAINING_JOBS or not jobs[job]:
        listed = " or ".join(repr(name) for name in _TRAINING_JOBS if jobs[name])
        raise _tf_config_error(
            f'has task type {job!r}, which its cluster does not list (it lists {listed})'
        )
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(jobs[job]):
        kind = "out of range" if isinstance(index, int) else "not an integer"
        raise _tf_config_error(
            f'has task index {index!r}, {kind}: cluster["{job}"] lists {len(jobs[job])} '
            f"address(es), so the index must be an integer from 0 to {len(jobs[job]) - 1}"
        )
    chiefs = len(jobs["chief"])
    return ClusterTask(chiefs + len(jobs["worker"]), index if job == "chief" else chiefs + index)


def task_index() -> int:
    """This process's task index in TF_CONFIG: 0 for the chief (the worker that writes the
    workdir; worker 0 when the cluster has no chief), worker i's is i + 1 beside a chief.
    0 when there is no cluster."""
    return cluster_task().index


def _check_strategy_choice(strategy: Any) -> None:
    """A tf.distribute.Strategy instance or one of the names; a Strategy class gets a hint."""
    if isinstance(strategy, tf.distribute.Strategy):
        return
    choices = ", ".join(repr(choice) for choice in _STRATEGY_CHOICES)
    if isinstance(strategy, type) and issubclass(strategy, tf.distribute.Strategy):
        name = next((attribute for attribute in dir(tf.distribute)
                     if getattr(tf.distribute, attribute) is strategy), strategy.__name__)
        raise InvalidValueError(
            f"strategy is the class tf.distribute.{name}, not a strategy; pass an instance, "
            f"strategy=tf.distribute.{name}(), or one of {choices}."
        )
    if not (isinstance(strategy, str) and strategy in _STRATEGY_CHOICES):
        raise InvalidValueError(
            f"strategy must be one of {choices}, or a tf.distribute.Strategy instance, got "
            f"{strategy!r}."
        )


def _strategy_in_scope(strategy: Any, chooser: str) -> tuple[Any, str]:
    """Inside `with strategy.scope():`, the strategy in scope: zoo's model and training join
    it (building another strategy's variables there fails), and an explicit other choice is
    refused rather than silently overruled."""
    scoped = tf.distribute.get_strategy()
    if strategy is scoped:
        return scoped, f"given by {chooser}"
    if isinstance(strategy, str) and strategy == "auto":
        return scoped, "the strategy in scope (with strategy.scope())"
    shown = strategy_name(strategy) if isinstance(strategy, tf.distribute.Strategy) else (
        repr(strategy))
    raise InvalidValueError(
        f"strategy={shown} was asked for inside `with strategy.scope():` of a "
        f"{strategy_name(scoped)}, and one strategy cannot train inside another's scope. Call "
        f"zoo outside the `with` block to use {shown}, or pass strategy='auto' (or the "
        f"strategy in scope) to train under the {strategy_name(scoped)}."
    )


def check_outside_strategy_scope(caller: str, why: str) -> None:
    """Refuse to run `caller` inside `with strategy.scope():`, saying `why` it cannot.

    Example:
        >>> from zoo.training.policy import check_outside_strategy_scope
        >>> check_outside_strategy_scope("zoo.export", "it traces the model without a strategy")
    """
    if tf.distribute.has_strategy():
        raise InvalidValueError(
            f"{caller} was called inside `with strategy.scope():` of a "
            f"{strategy_name(tf.distribute.get_strategy())}, and {why}. Call {caller} outside "
            f"the `with` block."
        )


def _resolve_strategy(strategy: Any, device: str, chooser: str) -> tuple[Any, str]:
    _check_strategy_choice(strategy)
    if tf.distribute.has_strategy():
        return _strategy_in_scope(strategy, chooser)
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy, f"given by {chooser}"
    if strategy == "tpu" or (strategy == "auto" and device == "tpu"):
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        except ValueError as error:  # TensorFlow's "Please provide a TPU Name..." on no TPU
            raise InvalidValueError(
                f"strategy='tpu' needs a TPU, and none was found here ({first_line(error)}); "
                f"use strategy='auto' to train on what this machine has."
            ) from None
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver), "TPU found"
    chosen = f"set by {chooser}" if strategy != "auto" else None
    # Checked here, before MultiWorkerMirroredStrategy reads it (its errors are tracebacks).
    task = cluster_task() if strategy in ("auto", "multi_worker") else ClusterTask(0, 0)
    tasks = task.tasks
    if strategy == "multi_worker" or (strategy == "auto" and tasks > 1):
        if tasks > 1:
            # Building the strategy blocks until every task has started, and TensorFlow says
            # nothing while it waits: a worker started alone looked hung, without a line.
            logger.info("%s of %d: waiting for every worker named in TF_CONFIG to start (each "
                        "runs the same command)", worker_name(task.index), tasks)
        return (
            tf.distribute.MultiWorkerMirroredStrategy(),
            chosen or f"TF_CONFIG names {tasks} tasks",
        )
    single_task = " (TF_CONFIG names a single task)" if tasks == 1 else ""
    gpus = tf.config.list_physical_devices("GPU")
    if strategy == "mirrored" or (strategy == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy(), chosen or f"{len(gpus)} GPUs{single_task}"
    if single_task and not chosen:
        return (tf.distribute.get_strategy(),
                "TF_CONFIG names a single task, so the default strategy is used")
    return tf.distribute.get_strategy(), chosen or "single device"


def _without_xla_for_multi_worker(policy: DevicePolicy, jit_compile: bool | str) -> None:
    """zoo trains under a multi-worker strategy with its own step (`distributed.py`), a plain
    tf.function: XLA would be logged as on and not be used."""
    if jit_compile is True:
        logger.warning("jit_compile=True is not applied: zoo's multi-worker step runs without "
                       "XLA (pass jit_compile='auto' or False to silence this warning).")
    if jit_compile is not False:  # an explicit False keeps "set by the caller"
        policy.reasons["jit_compile"] = "off: zoo's multi-worker step runs without XLA"
    policy.jit_compile = False


def built_precision(model: Any) -> str | None:
    """The mixed-precision policy a model's layers were built under, or None (float32).

    Example:
        >>> import zoo
        >>> from zoo.training.policy import built_precision
        >>> built_precision(zoo.build("mlp_mnist")) is None
        True
    """
    computes = {getattr(layer.dtype_policy, "compute_dtype", "float32") for layer in model.layers}
    if "float16" in computes:
        return "mixed_float16"
    if "bfloat16" in computes:
        return "mixed_bfloat16"
    return None


def _fit_to_model(
    model: Any, policy: DevicePolicy, mixed_precision: str | None, strategy: Any
) -> DevicePolicy:
    """A policy for a model built beforehand: its layers compute in the dtype they were built
    with and its variables live where they were made, so "auto" takes what the model has and a
    choice it cannot follow is refused (rather than logged as applied and silently not)."""
    built = built_precision(model)
    if built != policy.mixed_precision and mixed_precision != "auto":
        raise InvalidValueError(
            f"mixed_precision={mixed_precision!r} cannot apply to the model given to "
            f"zoo.train: it was built {f'under {built}' if built else 'in float32'}, and a "
            f"layer computes in the dtype it was built with. Build it under the policy "
            f"(keras.config.set_dtype_policy(...) before zoo.build), or pass the entry name "
            f"and zoo builds it so."
        )
    if mixed_precision == "auto":
        policy.mixed_precision = built
        policy.reasons["mixed_precision"] = (
            f"the given model's own ({f'built under {built}' if built else 'float32'})"
        )
    in_scope = tf.distribute.has_strategy()  # get_strategy() is then the strategy in scope
    distributed = in_scope or policy.strategy is not tf.distribute.get_strategy()
    if distributed and not all(
        policy.strategy.extended.variable_created_in_scope(weight.value)
        for weight in model.weights
    ):
        if strategy != "auto" or in_scope or policy.multi_worker:
            raise InvalidValueError(
                f"the model given to zoo.train was built outside the scope of "
                f"{policy.strategy_name}, so its variables cannot be distributed: build it "
                f"inside `with strategy.scope():` and pass strategy=that strategy, or pass the "
                f"entry name and zoo builds it there."
                + (" Or call zoo.train outside the `with strategy.scope():` block to train it on "
                   "a single device." if in_scope else "")
            )
        policy.strategy = tf.distribute.get_strategy()
        policy.reasons["strategy"] = (
            "single device: the given model was built outside any strategy's scope"
        )
    return policy


def resolve_policy(
    jit_compile: bool | str = "auto",
    mixed_precision: str | None = "auto",
    strategy: Any = "auto",
    *,
    entry: str | None = None,
    chooser: str = "the caller",
    model: Any = None,
) -> DevicePolicy:
    """Decide XLA, precision and strategy for `entry` on this machine, and log the decision.

    `chooser` names who fixed a precision or strategy that is not "auto", for the log ("the
    caller", or "zoo.tune" for the float32 and single device its trials train in). `model`: a
    model built beforehand (given to zoo.train), whose own precision and strategy scope "auto"
    follows; an explicit choice it cannot follow raises `InvalidValueError`.

    Example:
        >>> from zoo.training.policy import resolve_policy
        >>> policy = resolve_policy(entry="cnn_mnist")  # on a CPU-only machine
        >>> policy.device, policy.jit_compile, policy.mixed_precision
        ('cpu', False, None)
    """
    if strategy is None:  # as mixed_precision=None is float32: no distribution
        strategy = "default"
    device = detect_device()
    # The strategy comes first: a multi-worker strategy must exist before TensorFlow's runtime
    # starts, and the GPU queries below start it.
    resolved_strategy, strategy_reason = _resolve_strategy(strategy, device, chooser)
    jit, jit_reason = _resolve_jit_compile(jit_compile, device, entry)
    precision, precision_reason = _resolve_mixed_precision(mixed_precision, device, chooser)
    policy = DevicePolicy(
        device=device,
        jit_compile=jit,
        mixed_precision=precision,
        strategy=resolved_strategy,
        reasons={"jit_compile": jit_reason, "mixed_precision": precision_reason,
                 "strategy": strategy_reason},
    )
    if model is not None:
        policy = _fit_to_model(model, policy, mixed_precision, strategy)
    if policy.multi_worker:
        _without_xla_for_multi_worker(policy, jit_compile)
    logger.info("device policy: %s", policy.describe())
    if tf.config.functions_run_eagerly():
        # Everything still works, slowly, and XLA is not used: the caller may have forgotten a
        # debugging switch.
        logger.warning("tf.config.run_functions_eagerly(True) is on in this process: training "
                       "runs step by step in Python, without graphs or XLA (cnn_mnist measured "
                       "2.3x slower on a 2-core CPU); call tf.config.run_functions_eagerly(False) "
                       "for full speed.")
    return policy
