"""Measure XLA (`jit_compile=True`) against TensorFlow's default kernels, per entry, on this CPU.

Trains each entry on batches shaped as its training pipeline makes them, alternating XLA off and
on over several rounds (so a busy neighbour slows both alike), and reports the median examples/s of
each. Image entries get synthetic images; text entries get the batches `zoo.data.load` makes from
`--text-data` (default: SST-2 from ../shared/datasets when present, else generated sentences of
SST-2's lengths), with the entry's length bucketing: XLA compiles once per distinct shape, so the
mix of shapes is part of what is measured. Every shape is compiled before the timing starts.
With `--write`, records the speed-ups, and the settings they were measured with, in the
xla_cpu_measurements.json of the imported zoo package (zoo/training/), which the
`jit_compile="auto"` policy reads. It refuses to when text entries would use generated sentences
or when `--steps` or `--rounds` is below its default: short runs of one entry gave 1.61x and
1.02x, either side of the policy's 1.1x threshold.

    python benchmarks/bench_xla.py cnn_mnist mlp_mnist lstm_sst2 transformer_sst2 --write
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import SST2_TRAIN, at_least, check_entries, in_memory, one_batch_per_shape  # noqa: E402

import zoo  # noqa: E402
from zoo.io import atomic_write_json  # noqa: E402
from zoo.training.compile import compile_model  # noqa: E402
from zoo.training.policy import MEASUREMENTS_FILE  # noqa: E402

# Below these a run is too short to record: the speed-up of one entry varied from 1.02x to 1.61x
# between runs of `--steps 2 --rounds 1`.
STEPS = 40
ROUNDS = 3
GENERATED_TEXT = "GENERATED sentences (no shared SST-2)"
SYNTHETIC_IMAGES = "synthetic images"  # by design: pixel values do not change the work


def text_source(path: str | None) -> tuple[object, str]:
    """The source text entries' batches come from, and its description as printed and
    recorded: `path`, else SST-2 from the shared data, else generated sentences."""
    if path:
        return path, path
    if SST2_TRAIN is not None:
        return str(SST2_TRAIN), "SST-2 train.tsv (shared)"
    rng = np.random.default_rng(0)  # SST-2's phrase lengths: 1 to 52 words, median 7
    lengths = np.clip(rng.geometric(1 / 9.4, 20_000), 1, 52)
    texts = [" ".join(f"w{i}" for i in rng.integers(0, 12_000, n)) for n in lengths]
    return (texts, rng.integers(0, 2, len(texts))), GENERATED_TEXT


def training_batches(spec: zoo.ModelSpec, steps: int, text_data: object) -> tf.data.Dataset:
    """`steps` batches as the entry trains on them, materialized in memory."""
    batch_size = spec.recipe.batch_size
    if spec.input.kind == "image":
        rng = np.random.default_rng(0)
        count = batch_size * steps
        x = rng.normal(size=(count, *spec.input.shape)).astype("float32")
        y = rng.integers(0, spec.num_classes, size=(count,)).astype("int32")
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()
    dataset = zoo.data.load(text_data, spec=spec, bucket_by_length=spec.recipe.bucket_by_length)
    return in_memory(dataset, steps)


def examples_per_second(spec: zoo.ModelSpec, jit: bool, data: tf.data.Dataset) -> float:
    keras.utils.set_random_seed(0)
    model = compile_model(spec.build_model(), spec, jit_compile=jit)
    model.fit(one_batch_per_shape(data), epochs=1, verbose=0)  # compile every shape, untimed
    examples = sum(int(labels.shape[0]) for _, labels in data)
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    elapsed = time.perf_counter() - start
    keras.utils.clear_session()
    return examples / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("entries", nargs="*", default=["cnn_mnist", "mlp_mnist"])
    parser.add_argument("--steps", type=at_least(1), default=STEPS)
    parser.add_argument("--rounds", type=at_least(1), default=ROUNDS)
    parser.add_argument("--text-data", help="text source for text entries (default: SST-2)")
    parser.add_argument("--write", action="store_true", help="record the result for the policy")
    args = parser.parse_args()
    check_entries(parser, args.entries)
    specs = {name: zoo.get_spec(name) for name in args.entries}
    text_data, texts = text_source(args.text_data)  # made once for every text entry
    sources = {
        name: SYNTHETIC_IMAGES if spec.input.kind == "image" else texts
        for name, spec in specs.items()
    }
    # The policy file is read by every later run of zoo: refused before minutes of measuring.
    if args.write and (args.steps < STEPS or args.rounds < ROUNDS):
        sys.exit(
            f"--write needs --steps >= {STEPS} and --rounds >= {ROUNDS} (the defaults), got "
            f"--steps {args.steps} --rounds {args.rounds}: shorter runs vary too much to "
            "set the XLA policy; drop those options, or leave out --write."
        )
    generated = [name for name, source in sources.items() if source == GENERATED_TEXT]
    if args.write and generated:
        sys.exit(
            f"--write with generated sentences for {', '.join(generated)}: the policy must "
            "be measured on real text, and ../shared/datasets/sst2/train.tsv was not found; "
            "provide it (or --text-data FILE), or leave out --write."
        )

    tf.config.set_visible_devices([], "GPU")  # this script measures the CPU policy
    results = {}
    print(f"{'entry':22} {'default ex/s':>13} {'XLA ex/s':>10} {'speed-up':>9}  data")
    for name, spec in specs.items():
        data = training_batches(spec, args.steps, text_data)
        default, xla = [], []
        for _ in range(args.rounds):
            default.append(examples_per_second(spec, False, data))
            xla.append(examples_per_second(spec, True, data))
        speedup = statistics.median(xla) / statistics.median(default)
        results[name] = {
            "default_examples_per_s": round(statistics.median(default), 1),
            "xla_examples_per_s": round(statistics.median(xla), 1),
            "speedup": round(speedup, 3),
            "batch_size": spec.recipe.batch_size,
            "bucket_by_length": spec.recipe.bucket_by_length,
            # What it was measured with; the policy reads only "speedup".
            "steps": int(data.cardinality()),
            "rounds": args.rounds,
            "data": sources[name],
            "measured_on": datetime.date.today().isoformat(),
        }
        print(
            f"{name:22} {statistics.median(default):13.0f} {statistics.median(xla):10.0f} "
            f"{speedup:8.2f}x  {sources[name]}"
        )
    if generated:
        print(
            f"{', '.join(generated)}: measured on generated sentences of SST-2's lengths, not "
            "on SST-2 (../shared/datasets/sst2/train.tsv not found)"
        )
    if args.write:
        import json

        recorded = json.loads(MEASUREMENTS_FILE.read_text()) if MEASUREMENTS_FILE.exists() else {}
        recorded.setdefault("entries", {}).update(results)
        recorded["machine"] = (
            f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or 'cpu'}"
        )
        recorded["tensorflow"] = tf.__version__
        recorded["measured_with"] = "benchmarks/bench_xla.py"
        atomic_write_json(MEASUREMENTS_FILE, recorded)
        # The imported zoo's file, which need not be this checkout's (PYTHONPATH, an install).
        print(
            f"recorded {', '.join(results)} in {MEASUREMENTS_FILE} (zoo imported from "
            f"{Path(zoo.__file__).parent})"
        )


if __name__ == "__main__":
    main()
