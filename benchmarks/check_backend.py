"""Every registry entry on the active Keras backend: build, train steps under XLA, save and reload.

zoo's model code uses public `keras` only, so the models run on the JAX backend too (the data
pipelines stay tf.data). This script checks that on whatever backend `KERAS_BACKEND` selects and
whatever device it finds, without TensorFlow if the backend needs none:

    KERAS_BACKEND=jax python benchmarks/check_backend.py [--steps 20] [--batch-size 64]
        [--dtype-policy mixed_float16]

For each entry it builds the model compiled with its recipe (`jit_compile=True`: XLA, which is
all JAX has), trains `--steps` steps on random inputs of the entry's shape, reports the median
step time after the first (compiling) step, the loss on that batch before and after (inference
mode both times; it must fall), and checks that a `.keras` save and reload gives the same
predictions. With `--dtype-policy mixed_float16` or `mixed_bfloat16` the models are built and
trained under that Keras policy (as `zoo.train(mixed_precision=...)` does), and each must keep
its classifier's output in float32. It prints a table; it exits non-zero if any entry fails, so
it doubles as a portability check.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import at_least, check_entries

try:
    import keras
except ImportError as error:  # KERAS_BACKEND names a backend whose package is not installed
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    package = error.name or backend
    sys.exit(
        f"cannot import keras with KERAS_BACKEND={backend}: {error}; install {package} "
        f"(pip install {package}) or choose an installed backend."
    )
import numpy as np

import zoo
from zoo.training.compile import compile_model


def random_batch(spec: zoo.ModelSpec, batch_size: int, rng: np.random.Generator):
    if spec.input.kind == "image":
        x = rng.normal(size=(batch_size, *spec.input.shape)).astype("float32")
    else:
        x = rng.integers(1, spec.input.vocab_size, (batch_size, spec.input.sequence_length))
        x = x.astype("int32")
        x[:, spec.input.sequence_length // 2 :] = 0  # padding, so masks are exercised
    y = rng.integers(0, spec.num_classes, batch_size).astype("int32")
    return x, y


def check(name: str, steps: int, batch_size: int) -> dict[str, object]:
    keras.utils.set_random_seed(0)
    spec = zoo.get_spec(name)
    model = compile_model(spec.build_model(), spec, jit_compile=True)
    rng = np.random.default_rng(0)
    x, y = random_batch(spec, batch_size, rng)

    def inference_loss() -> float:
        # Both losses in inference mode: the last step's own training loss has dropout noise and
        # predates that step's update, so a few steps could fail to show what they learned.
        return float(model.evaluate(x, y, verbose=0)[0])

    first_loss = inference_loss()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{name}.keras"
        model.save(path)
        reloaded = keras.saving.load_model(path, compile=False)
        same = np.allclose(
            keras.ops.convert_to_numpy(model(x, training=False)),
            keras.ops.convert_to_numpy(reloaded(x, training=False)),
            atol=1e-5,
        )
    loss = inference_loss()
    # zoo keeps every classifier head in float32 under a mixed policy: probabilities and the loss
    # stay float32 while the layers below compute in float16 or bfloat16.
    output_float32 = keras.backend.standardize_dtype(model.outputs[0].dtype) == "float32"
    return {
        "name": name,
        "params": model.count_params(),
        "compile_step_ms": times[0] * 1e3,
        "step_ms": statistics.median(times[1:]) * 1e3,
        "loss_before": first_loss,
        "loss_after": loss,
        "reload_same": same,
        "output_float32": output_float32,
        "ok": same and output_float32 and np.isfinite(loss) and loss < first_loss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", nargs="*", default=None)
    parser.add_argument(
        "--steps",
        default=20,
        type=at_least(2, "the first step compiles; the median of the others is the step time"),
    )
    parser.add_argument("--batch-size", type=at_least(1), default=64)
    parser.add_argument("--dtype-policy", default="float32",
                        choices=("float32", "mixed_float16", "mixed_bfloat16"),
                        help="the Keras dtype policy the models are built and trained under")
    args = parser.parse_args()
    check_entries(parser, args.entries or [])
    keras.config.set_dtype_policy(args.dtype_policy)
    backend = keras.backend.backend()
    devices = ""
    if backend == "jax":
        import jax

        devices = ", ".join(str(d) for d in jax.devices())
    print(f"keras {keras.__version__}, backend {backend} {devices}, policy {args.dtype_policy}")
    print(
        f"{'entry':22} {'params':>10} {'1st step ms':>12} {'step ms':>9} {'loss before':>12} "
        f"{'after':>8} {'reload':>7}"
    )
    failed = []
    for name in args.entries or zoo.list_models():
        row = check(name, args.steps, args.batch_size)
        print(
            f"{name:22} {row['params']:10,} {row['compile_step_ms']:12.0f} {row['step_ms']:9.2f} "
            f"{row['loss_before']:12.4f} {row['loss_after']:8.4f} "
            f"{'same' if row['reload_same'] else 'DIFFERS':>7}",
            flush=True,
        )
        if not row["ok"]:
            failed.append(name if row["output_float32"] else f"{name} (output not float32)")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")
    print("all entries train under XLA and reload identically"
          + (", their outputs in float32" if args.dtype_policy != "float32" else ""))


if __name__ == "__main__":
    main()
