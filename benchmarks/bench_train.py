"""Training speed of `zoo.train("cnn_mnist")` against the seed article's script and PyTorch eager.

All three train the same Conv32-pool-Conv64-pool-Dropout-Dense10 network (34,826 parameters) on the
same 7,200 of the 8,000 real MNIST digits in shared/datasets/mnist_8k.npz, for the same number of
epochs, and are checked on the same 800 held-out digits after every epoch:

  seed     the Keras example's way: model.fit on NumPy arrays, batch 32, Adam
  pytorch  the same CNN in PyTorch eager on the CPU, batch 32, Adam (skipped if torch is absent)
  zoo      zoo.train with the entry's recipe: tf.data pipeline with augmentation, batch 128,
           the measured device policy
  zoo-bf16 the same with mixed_precision="mixed_bfloat16" (opt-in: `--only zoo-bf16`). Not the
           default on CPU, where the device policy keeps float32 (issue 4); measured to show what
           a CPU with AVX-512 BF16 instructions gains when a user asks for it

Each run is a fresh Python process, and the runners take turns for `--repeats` rounds, so that a
slow spell of the machine (timings here vary by up to 2x) does not land on one of them; the medians
are compared. It prints examples/s of training (hold-out evaluation excluded; the first epoch, with
its tracing, included), the speed-ups, final hold-out accuracy, and the training time the full
zoo recipe needs to first reach 98.5% on the hold-out.

    python benchmarks/bench_train.py [--epochs 5] [--repeats 3] [--zoo-epochs 15] [--only zoo]
    python benchmarks/bench_train.py --only seed --only zoo --only zoo-bf16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import MNIST_8K, at_least  # noqa: E402

import zoo  # noqa: E402

TARGET = 0.985
CHILD_PREFIX = "BENCH_TRAIN_RESULT "


def split_digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if MNIST_8K is None:
        sys.exit("shared/datasets/mnist_8k.npz not found: this benchmark needs the real digits.")
    with np.load(MNIST_8K) as arrays:
        x, y = arrays["x"], arrays["y"].astype("int64")
    order = np.random.default_rng(0).permutation(len(x))
    train, hold = order[:7200], order[7200:]
    return x[train], y[train], x[hold], y[hold]


class EpochClock(keras.callbacks.Callback):
    """Training seconds per epoch, excluding the validation pass at the epoch's end."""

    def __init__(self) -> None:
        super().__init__()
        self.train_seconds: list[float] = []
        self._start: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def _stop(self) -> None:
        # Validation (on_test_begin) or the epoch's end, whichever first.
        if self._start is not None:
            self.train_seconds.append(time.perf_counter() - self._start)
            self._start = None

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()


def seed_script(x, y, x_hold, y_hold, epochs):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = EpochClock()
    history = model.fit(
        x[..., None] / 255.0,
        y,
        batch_size=32,
        epochs=epochs,
        verbose=0,
        callbacks=[clock],
        validation_data=(x_hold[..., None] / 255.0, y_hold),
    )
    return clock.train_seconds, history.history["val_accuracy"], None


def pytorch_eager(x, y, x_hold, y_hold, epochs):
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(1600, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.CrossEntropyLoss()
    images = torch.tensor(x[:, None] / 255.0, dtype=torch.float32)
    labels = torch.tensor(y)
    hold_images = torch.tensor(x_hold[:, None] / 255.0, dtype=torch.float32)
    seconds, accuracy = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for index in torch.randperm(len(images)).split(32):
            optimizer.zero_grad()
            loss = loss_function(model(images[index]), labels[index])
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad():
            predicted = model(hold_images).argmax(1).numpy()
        accuracy.append(float((predicted == y_hold).mean()))
    return seconds, accuracy, None


def zoo_train(x, y, x_hold, y_hold, epochs, mixed_precision="auto"):
    clock = EpochClock()
    result = zoo.train(
        "cnn_mnist",
        (x, y),
        (x_hold, y_hold),
        epochs=epochs,
        verbose=0,
        callbacks=[clock],
        mixed_precision=mixed_precision,
    )
    # Returned, not printed: the parent reads only the child's result line.
    return clock.train_seconds, list(result.history["val_accuracy"]), result.policy.describe()


def zoo_train_bfloat16(x, y, x_hold, y_hold, epochs):
    return zoo_train(x, y, x_hold, y_hold, epochs, mixed_precision="mixed_bfloat16")


def time_to_target(seconds, accuracy):
    elapsed = 0.0
    for epoch, (s, a) in enumerate(zip(seconds, accuracy, strict=True), start=1):
        elapsed += s
        if a >= TARGET:
            return f"{elapsed:6.1f} s (epoch {epoch})"
    return f"not reached in {len(seconds)} epochs (best {max(accuracy):.4f})"


RUNNERS = {
    "seed": seed_script,
    "pytorch": pytorch_eager,
    "zoo": zoo_train,
    "zoo-bf16": zoo_train_bfloat16,
}
DEFAULT_RUNNERS = ("seed", "pytorch", "zoo")


def run_child(name: str, epochs: int) -> tuple[list[float], list[float], str | None]:
    """One runner in a fresh Python process: no thread pools, caches or allocator state carried
    over from another framework (PyTorch's threads slowed the next Keras run in one process).
    Returns its seconds and hold-out accuracy per epoch, and zoo's device policy (None for the
    other runners)."""
    command = [sys.executable, __file__, "--child", name, "--epochs", str(epochs)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(CHILD_PREFIX)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"{name} run failed:\n{completed.stderr[-3000:]}")
    result = json.loads(lines[-1][len(CHILD_PREFIX) :])
    if "skipped" in result:
        raise ImportError(result["skipped"])
    return result["seconds"], result["accuracy"], result.get("policy")


def child(name: str, epochs: int) -> None:
    x, y, x_hold, y_hold = split_digits()
    try:
        seconds, accuracy, policy = RUNNERS[name](x, y, x_hold, y_hold, epochs)
    except ImportError as error:
        print(CHILD_PREFIX + json.dumps({"skipped": str(error)}))
        return
    print(
        CHILD_PREFIX
        + json.dumps(
            {"seconds": seconds, "accuracy": [float(a) for a in accuracy], "policy": policy}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=at_least(1), default=5)
    parser.add_argument(
        "--repeats",
        type=at_least(1),
        default=3,
        help="rounds of all runners, interleaved; medians are reported",
    )
    parser.add_argument(
        "--zoo-epochs",
        type=at_least(1),
        default=None,
        help="zoo epochs for time-to-98.5%% (default: the recipe's)",
    )
    parser.add_argument("--only", choices=list(RUNNERS), action="append")
    parser.add_argument("--child", choices=list(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs)
        return
    # Read here too: fails early, before any child starts, when the digits are missing.
    train_count = len(split_digits()[0])
    chosen = args.only or DEFAULT_RUNNERS
    runs: dict[str, list[tuple[list[float], list[float]]]] = {
        name: [] for name in RUNNERS if name in chosen
    }
    skipped: dict[str, str] = {}
    for round_index in range(args.repeats):
        # Interleaved rounds: a slow spell of this shared machine hits every runner alike.
        for name in list(runs):
            try:
                seconds, accuracy, policy = run_child(name, args.epochs)
            except ImportError as error:
                print(f"  {name}: skipped ({error})")
                skipped[name] = str(error)
                del runs[name]
                continue
            if policy and not runs[name]:  # the same every round: shown once per runner
                print(f"  {name} device policy: {policy}")
            runs[name].append((seconds, accuracy))
            print(
                f"  round {round_index + 1} {name:8} {sum(seconds):6.1f} s  epochs: "
                + " ".join(f"{s:.2f}" for s in seconds),
                flush=True,
            )
    if not runs:
        sys.exit(
            f"no runner could run ({'; '.join(f'{n}: {e}' for n, e in skipped.items())}): "
            "install what is missing, or choose others with --only "
            f"({', '.join(name for name in RUNNERS if name not in skipped)})."
        )

    examples = train_count * args.epochs
    print(f"\n{args.epochs} epochs on {train_count} digits, {args.repeats} interleaved rounds")
    print(f"{'run':8} {'median s':>9} {'range s':>12} {'examples/s':>11} {'final hold-out':>15}")
    medians = {}
    for name, results in runs.items():
        totals = [sum(seconds) for seconds, _ in results]
        medians[name] = statistics.median(totals)
        finals = sorted({round(accuracy[-1], 4) for _, accuracy in results})
        finals_text = " / ".join(f"{final:.4f}" for final in finals)
        print(
            f"{name:8} {medians[name]:9.1f} {min(totals):5.1f}-{max(totals):<6.1f} "
            f"{examples / medians[name]:11.0f} {finals_text:>15}"
        )
    zoo_runners = [name for name in ("zoo", "zoo-bf16") if name in medians]
    for name in zoo_runners:
        for other in ("seed", "pytorch"):
            if other in medians:
                print(
                    f"{name} vs {other}: {medians[other] / medians[name]:.2f}x examples/s (medians)"
                )
    epochs = args.zoo_epochs or zoo.get_spec("cnn_mnist").recipe.epochs
    for name in zoo_runners:
        seconds, accuracy, _ = run_child(name, epochs)
        print(
            f"{name}, full recipe ({epochs} epochs): hold-out {accuracy[-1]:.4f}, "
            f"best {max(accuracy):.4f}, "
            f"time to {TARGET:.1%}: {time_to_target(seconds, accuracy)}"
        )


if __name__ == "__main__":
    main()
