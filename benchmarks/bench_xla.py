"""Measure XLA (`jit_compile=True`) against TensorFlow's default kernels, per entry, on this CPU.

Trains each entry on synthetic batches of its input spec, alternating XLA off and on over several
rounds (so a busy neighbour slows both alike), and reports the median examples/s of each. With
`--write`, records the speed-ups in zoo/training/xla_cpu_measurements.json, which the
`jit_compile="auto"` policy reads.

    python benchmarks/bench_xla.py cnn_mnist mlp_mnist --write
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import zoo  # noqa: E402
from zoo.io import atomic_write_json  # noqa: E402
from zoo.training.compile import compile_model  # noqa: E402
from zoo.training.policy import MEASUREMENTS_FILE  # noqa: E402


def synthetic_batches(spec: zoo.ModelSpec, batch_size: int, steps: int) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    count = batch_size * steps
    if spec.input.kind == "image":
        x = rng.normal(size=(count, *spec.input.shape)).astype("float32")
    else:
        x = rng.integers(1, spec.input.vocab_size, size=(count, *spec.input.shape)).astype("int32")
    y = rng.integers(0, spec.num_classes, size=(count,)).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()


def examples_per_second(spec: zoo.ModelSpec, jit: bool, steps: int) -> float:
    keras.utils.set_random_seed(0)
    model = compile_model(spec.build_model(), spec, jit_compile=jit)
    data = synthetic_batches(spec, spec.recipe.batch_size, steps)
    model.fit(data.take(3), epochs=1, verbose=0)  # compile and warm up outside the timing
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    elapsed = time.perf_counter() - start
    keras.utils.clear_session()
    return steps * spec.recipe.batch_size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", nargs="*", default=["cnn_mnist", "mlp_mnist"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="record the result for the policy")
    args = parser.parse_args()

    tf.config.set_visible_devices([], "GPU")  # this script measures the CPU policy
    results = {}
    print(f"{'entry':22} {'default ex/s':>13} {'XLA ex/s':>10} {'speed-up':>9}")
    for name in args.entries:
        spec = zoo.get_spec(name)
        default, xla = [], []
        for _ in range(args.rounds):
            default.append(examples_per_second(spec, False, args.steps))
            xla.append(examples_per_second(spec, True, args.steps))
        speedup = statistics.median(xla) / statistics.median(default)
        results[name] = {
            "default_examples_per_s": round(statistics.median(default), 1),
            "xla_examples_per_s": round(statistics.median(xla), 1),
            "speedup": round(speedup, 3),
            "batch_size": spec.recipe.batch_size,
        }
        print(f"{name:22} {statistics.median(default):13.0f} {statistics.median(xla):10.0f} {speedup:8.2f}x")
    if args.write:
        import json

        recorded = json.loads(MEASUREMENTS_FILE.read_text()) if MEASUREMENTS_FILE.exists() else {}
        recorded.setdefault("entries", {}).update(results)
        recorded["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}"
        recorded["tensorflow"] = tf.__version__
        recorded["measured_with"] = "benchmarks/bench_xla.py"
        atomic_write_json(MEASUREMENTS_FILE, recorded)
        print(f"recorded in {MEASUREMENTS_FILE}")


if __name__ == "__main__":
    main()
