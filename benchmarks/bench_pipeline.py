"""How fast `zoo.data.load` delivers examples, next to how fast the models consume them.

Measures, on this machine:
- the MNIST-shaped image pipeline of `cnn_mnist` with its training augmentation (and, for
  comparison, the same pipeline with Keras' RandomRotation, RandomZoom and RandomTranslation
  layers chained instead of zoo's fused `RandomAffine`), and without augmentation;
- the SST-2 text pipeline of `lstm_sst2`: adapting the vocabulary, the first epoch (which
  vectorizes and caches) and the cached epochs after it;
- each model's training rate: `model.fit` examples/s on batches already materialized in memory,
  compiled with the device policy `zoo.train` would use here.

The pipeline must deliver at least 10x what the model consumes, so training is never input-bound.
Uses ../shared/datasets (mnist_8k.npz, sst2/train.tsv) when present, else generated data of the
same shape. A benchmark, not a test: it prints a table and never fails on timing.

    python benchmarks/bench_pipeline.py [--epochs 3] [--model-steps 40] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import (  # noqa: E402
    MNIST_8K,
    SST2_TRAIN,
    at_least,
    in_memory,
    one_batch_per_shape,
    output_file,
)

import zoo  # noqa: E402
from zoo.data.tables import read_frame  # noqa: E402
from zoo.io import atomic_write_text  # noqa: E402
from zoo.training.compile import compile_model  # noqa: E402
from zoo.training.policy import resolve_policy  # noqa: E402

REQUIRED_MARGIN = 10.0


def mnist_source() -> tuple[object, str]:
    if MNIST_8K is not None:
        return str(MNIST_8K), "mnist_8k.npz (8,000 real digits)"
    rng = np.random.default_rng(0)
    return (
        rng.integers(0, 256, (8000, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 8000),
    ), "generated 8,000x28x28"


def sst2_source() -> tuple[object, str]:
    if SST2_TRAIN is not None:
        # Counted, not assumed; GLUE's train.tsv holds every phrase of SST's parse trees.
        return str(SST2_TRAIN), f"sst2/train.tsv ({len(read_frame(SST2_TRAIN)):,} phrases)"
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(12_000)])
    texts = [" ".join(rng.choice(words, rng.integers(3, 40))) for _ in range(67_349)]
    return (texts, rng.integers(0, 2, len(texts))), "generated 67,349 sentences"


def iterate(dataset: tf.data.Dataset) -> tuple[int, float]:
    """Examples and seconds for one full pass over a batched dataset."""
    start, count = time.perf_counter(), 0
    for _, labels in dataset:
        count += int(labels.shape[0])
    return count, time.perf_counter() - start


def steady_rate(dataset: tf.data.Dataset, epochs: int) -> tuple[float, float]:
    """(first epoch examples/s, examples/s over the following `epochs`)."""
    count, seconds = iterate(dataset)
    first = count / seconds
    total, elapsed = 0, 0.0
    for _ in range(epochs):
        count, seconds = iterate(dataset)
        total, elapsed = total + count, elapsed + seconds
    return first, total / elapsed


def keras_chain_dataset(source: object, spec: zoo.ModelSpec, seed: int = 0) -> tf.data.Dataset:
    """cnn_mnist's training pipeline with Keras' three augmentation layers, not RandomAffine."""
    augmentation = spec.input.augmentation
    layers = [
        keras.layers.RandomRotation(augmentation.rotation, fill_mode="constant", seed=seed),
        keras.layers.RandomZoom(augmentation.zoom, fill_mode="constant", seed=seed),
        keras.layers.RandomTranslation(
            augmentation.translation, augmentation.translation, fill_mode="constant", seed=seed
        ),
    ]
    raw = zoo.data.load(
        source, "train", batch_size=spec.recipe.batch_size, seed=seed
    )  # uint8 batches
    normalize = zoo.data.make_preprocessor(spec)

    def augment(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images = tf.cast(images, tf.float32) / 255.0
        for layer in layers:
            images = layer(images, training=True)
        return normalize(images), labels

    return raw.map(augment, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def training_rate(name: str, dataset: tf.data.Dataset, steps: int) -> tuple[float, str]:
    """Examples/s of `model.fit` on `steps` batches of `dataset`, held in memory as they are."""
    spec = zoo.get_spec(name)
    data = in_memory(dataset, steps)
    policy = resolve_policy(entry=name)
    keras.utils.set_random_seed(0)
    model = compile_model(spec.build_model(), spec, jit_compile=policy.jit_compile)
    model.fit(one_batch_per_shape(data), epochs=1, verbose=0)  # trace and compile, untimed
    examples = sum(int(labels.shape[0]) for _, labels in data)
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    elapsed = time.perf_counter() - start
    keras.utils.clear_session()
    return examples / elapsed, f"jit_compile={policy.jit_compile}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs", type=at_least(1), default=3, help="timed pipeline epochs after the first"
    )
    parser.add_argument(
        "--model-steps", type=at_least(1), default=40, help="batches each model trains on"
    )
    parser.add_argument("--json", type=output_file, help="also write the figures to this JSON file")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}")
    rows: list[tuple[str, str, float, str]] = []  # (what, data, examples/s, note)

    image_spec = zoo.get_spec("cnn_mnist")
    source, described = mnist_source()
    train = zoo.data.load(source, "train", spec=image_spec, seed=0)
    first, steady = steady_rate(train, args.epochs)
    rows.append(
        ("images: cnn_mnist train + augmentation", described, steady, f"first epoch {first:,.0f}/s")
    )
    _, chain = steady_rate(keras_chain_dataset(source, image_spec), args.epochs)
    rows.append(
        (
            "images: same, Keras Rotation+Zoom+Translation chain",
            described,
            chain,
            "reference, not used",
        )
    )
    evaluation = zoo.data.load(source, "validation", spec=image_spec)
    _, plain = steady_rate(evaluation.repeat(9), max(1, args.epochs // 2))
    rows.append(("images: cnn_mnist validation, no augmentation", described, plain, ""))
    image_model, image_policy = training_rate(
        "cnn_mnist", zoo.data.load(source, "all", spec=image_spec, shuffle=False), args.model_steps
    )
    rows.append(
        ("model: cnn_mnist fit (consumes)", "in-memory batches of 128", image_model, image_policy)
    )

    text_spec = zoo.get_spec("lstm_sst2")
    source, described = sst2_source()
    start = time.perf_counter()
    text = zoo.data.load(
        source, "train", spec=text_spec, seed=0, bucket_by_length=text_spec.recipe.bucket_by_length
    )
    adapt_seconds = time.perf_counter() - start
    text_first, cached = steady_rate(text, args.epochs)
    rows.append(
        (
            "text: lstm_sst2 train, first epoch (vectorize, cache)",
            described,
            text_first,
            f"load + adapt {adapt_seconds:.1f}s",
        )
    )
    rows.append(("text: lstm_sst2 train, cached epochs", described, cached, ""))
    text_model, text_policy = training_rate("lstm_sst2", text, args.model_steps)
    rows.append(
        ("model: lstm_sst2 fit (consumes)", "in-memory training batches", text_model, text_policy)
    )

    width = max(len(r[0]) for r in rows)
    print(f"\n{'what':<{width}}  {'examples/s':>11}  data / note")
    for what, data, rate, note in rows:
        print(f"{what:<{width}}  {rate:>11,.0f}  {data}{'; ' + note if note else ''}")

    margins = {
        "images with augmentation / cnn_mnist": steady / image_model,
        "text, first epoch / lstm_sst2": text_first / text_model,
        "text, cached / lstm_sst2": cached / text_model,
    }
    print(f"\npipeline / model (required >= {REQUIRED_MARGIN:.0f}x)")
    for what, ratio in margins.items():
        verdict = "ok" if ratio >= REQUIRED_MARGIN else "INPUT-BOUND RISK"
        print(f"  {what:<40} {ratio:>7.1f}x  {verdict}")
    if args.json:
        atomic_write_text(
            args.json,
            json.dumps(
                {
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "tensorflow": tf.__version__,
                    "rows": [
                        {"what": w, "data": d, "examples_per_s": round(r, 1), "note": n}
                        for w, d, r, n in rows
                    ],
                    "margins": {k: round(v, 2) for k, v in margins.items()},
                },
                indent=2,
            )
            + "\n",
        )


if __name__ == "__main__":
    main()
