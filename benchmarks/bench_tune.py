"""Search throughput of `zoo.tune` on this machine: trials per hour for a small cnn_mnist search.

A random search of the cnn_mnist search space (blocks and filters, dropout, the optional Dense
layer, learning rate, optimizer, batch size) on the first 2,000 of the 8,000 real MNIST digits in
shared/datasets/mnist_8k.npz: 1,800 train each trial, 200 score it. Every trial trains the
same number of epochs, so trials/hour measures the whole trial loop: building and compiling the
model, training, scoring, checkpointing the best epoch, and rewriting trials.csv.

It prints trials/hour, mean and median seconds per trial (from trials.csv), the search's overhead
(wall time not spent inside trials: data loading, space set-up, keras-tuner bookkeeping) and the
best validation accuracy.

    python benchmarks/bench_tune.py [--trials 4] [--epochs 2] [--examples 2000] [--tuner random]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from common import MNIST_8K, at_least  # noqa: E402

import zoo  # noqa: E402
from zoo.tuning.search import TUNERS  # noqa: E402

ENTRY = "cnn_mnist"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=at_least(1), default=4)
    parser.add_argument("--epochs", type=at_least(1), default=2)
    parser.add_argument(
        "--examples", type=at_least(100, "a tenth of them scores each trial"), default=2000
    )
    parser.add_argument("--tuner", choices=TUNERS, default="random")
    args = parser.parse_args()
    if MNIST_8K is None:
        sys.exit("shared/datasets/mnist_8k.npz not found: this benchmark needs the real digits.")
    with np.load(MNIST_8K) as arrays:
        images, labels = arrays["x"][: args.examples], arrays["y"][: args.examples]

    # The search's checkpoints and trials (tens of MB) are not kept: trials.csv is read below.
    with tempfile.TemporaryDirectory(prefix="bench_tune_") as temporary:
        started = time.perf_counter()
        result = zoo.tune(
            ENTRY,
            (images, labels),
            tuner=args.tuner,
            max_trials=args.trials,
            epochs=args.epochs,
            directory=Path(temporary) / ENTRY,
            seed=0,
            verbose=0,
        )
        wall = time.perf_counter() - started

    trials = result.trials
    seconds = trials.duration_s.astype(float)
    completed = trials[trials.status == "COMPLETED"]
    print(
        f"{ENTRY}, {args.tuner} search, {len(trials)} trials x {args.epochs} epochs on "
        f"{len(images):,} digits ({os.cpu_count()} CPU cores)"
    )
    print(
        trials.drop(columns=["worker", "error"]).to_string(
            index=False, float_format=lambda v: f"{v:.4g}"
        )
    )
    print()
    print(f"search wall time     {wall:8.1f} s")
    print(f"trials/hour          {3600 * len(trials) / wall:8.1f}")
    print(
        f"seconds per trial    {seconds.mean():8.1f} mean, {seconds.median():.1f} median, "
        f"{seconds.min():.1f}-{seconds.max():.1f}"
    )
    print(
        f"overhead             {wall - seconds.sum():8.1f} s outside trials "
        f"({(wall - seconds.sum()) / wall:.0%})"
    )
    print(f"completed            {len(completed)} of {len(trials)}")
    print(f"best val accuracy    {completed.score.max():8.4f}  {result.best_overrides}")


if __name__ == "__main__":
    main()
