"""Device policy: XLA, mixed precision and the tf.distribute strategy, decided in one place.

Nothing else in zoo calls `model.compile` with its own XLA or precision choice; `zoo.train`
resolves a `DevicePolicy` once, logs it, and compiles through `zoo.training.compile`.

`jit_compile="auto"` is decided by measurement. On GPU and TPU, XLA is used when every layer
of the model supports it (Keras' own check). On CPU, XLA is used only for entries whose
measured speed-up on CPU is above 1.1x; the figures live in `xla_cpu_measurements.json` beside this
module and are rewritten by `benchmarks/bench_xla.py`. An entry without a measurement runs without
XLA on CPU (measured on this project's 2-core machine: XLA made cnn_mnist slower).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        public_names = {
            "MultiWorkerMirroredStrategy": tf.distribute.MultiWorkerMirroredStrategy,
            "TPUStrategy": tf.distribute.TPUStrategy,
            "MirroredStrategy": tf.distribute.MirroredStrategy,
        }
        for name, public in public_names.items():
            if isinstance(self.strategy, public):
                return name
        if self.strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
            return "DefaultStrategy"
        return type(self.strategy).__name__

    def describe(self) -> str:
        return (
            f"device={self.device} jit_compile={self.jit_compile} "
            f"mixed_precision={self.mixed_precision or 'off'} strategy={self.strategy_name} "
            f"({'; '.join(f'{k}: {v}' for k, v in self.reasons.items())})"
        )


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
        return mixed_precision, f"set by {chooser}"
    if device == "tpu":
        return "mixed_bfloat16", "bfloat16 on TPU"
    if device == "gpu" and _gpu_supports_float16():
        return "mixed_float16", "float16 on a GPU with compute capability >= 7.0"
    return None, f"float32 on {device}"


def task_index() -> int:
    """This process's worker index in TF_CONFIG (0, the chief, when there is no cluster)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return int(config.get("task", {}).get("index", 0))


def _cluster_workers() -> int:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return len(config.get("cluster", {}).get("worker", []))


def _resolve_strategy(strategy: Any, device: str, chooser: str) -> tuple[Any, str]:
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy, f"given by {chooser}"
    checks.one_of("strategy", strategy, _STRATEGY_CHOICES)
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
    if strategy == "multi_worker" or (strategy == "auto" and _cluster_workers() > 1):
        return (
            tf.distribute.MultiWorkerMirroredStrategy(),
            chosen or f"TF_CONFIG names {_cluster_workers()} workers",
        )
    gpus = tf.config.list_physical_devices("GPU")
    if strategy == "mirrored" or (strategy == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy(), chosen or f"{len(gpus)} GPUs"
    return tf.distribute.get_strategy(), chosen or "single device"


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
    if built != policy.mixed_precision:
        if mixed_precision != "auto":
            raise InvalidValueError(
                f"mixed_precision={mixed_precision!r} cannot apply to the model given to "
                f"zoo.train: it was built {f'under {built}' if built else 'in float32'}, and a "
                f"layer computes in the dtype it was built with. Build it under the policy "
                f"(keras.config.set_dtype_policy(...) before zoo.build), or pass the entry name "
                f"and zoo builds it so."
            )
        policy.mixed_precision = built
        policy.reasons["mixed_precision"] = (
            f"the given model's own ({f'built under {built}' if built else 'float32'})"
        )
    default = tf.distribute.get_strategy()
    if policy.strategy is not default and not all(
        policy.strategy.extended.variable_created_in_scope(weight.value)
        for weight in model.weights
    ):
        if strategy != "auto" or _cluster_workers() > 1:
            raise InvalidValueError(
                f"the model given to zoo.train was built outside the scope of "
                f"{policy.strategy_name}, so its variables cannot be distributed: build it "
                f"inside `with strategy.scope():` and pass strategy=that strategy, or pass the "
                f"entry name and zoo builds it there."
            )
        policy.strategy = default
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
    logger.info("device policy: %s", policy.describe())
    return policy
