"""Helpers the benchmark scripts share: where the real data is, argument checks, and batches held
in memory."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: check_backend.py runs on JAX without TensorFlow
    import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
# ../shared/datasets beside the checkout (or shared/ inside it); None when absent.
SHARED = next(
    (p for p in (REPO.parent / "shared" / "datasets", REPO / "shared" / "datasets") if p.exists()),
    None,
)


def _shared_file(*parts: str) -> Path | None:
    """A file under the shared datasets folder, or None when it (or the folder) is absent."""
    if SHARED is None:
        return None
    path = SHARED.joinpath(*parts)
    return path if path.is_file() else None


MNIST_8K = _shared_file("mnist_8k.npz")  # 8,000 real digits
SST2_TRAIN = _shared_file("sst2", "train.tsv")  # GLUE SST-2: 67,349 phrases
SST2_DEV = _shared_file("sst2", "dev.tsv")  # 872 sentences


def at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An argparse `type`: a whole number of at least `minimum`, refused on one line (with `why`,
    when given) before anything runs, rather than failing later with a traceback."""

    def parse(text: str) -> int:
        reason = f" ({why})" if why else ""
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a whole number: give one of at least {minimum}{reason}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{value} is too small: give at least {minimum}{reason}"
            )
        return value

    parse.__name__ = f"at_least({minimum})"
    return parse


def check_entries(parser: argparse.ArgumentParser, names: list[str]) -> None:
    """Refuse unknown entry names on one argparse line, listing the registered ones. Checked
    after parsing: argparse tests a positional's default list itself against `choices`."""
    import zoo

    unknown = [name for name in names if name not in zoo.list_models()]
    if unknown:
        parser.error(
            f"unknown entries {', '.join(unknown)}: choose from {', '.join(zoo.list_models())}"
        )


def output_file(text: str) -> Path:
    """An argparse `type` for a file the script writes at the end: its folder must exist now, so
    that a typo is reported before the run rather than after minutes of measuring."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder: give a file name in it")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"the folder {path.parent} does not exist: create it, or give a path in an "
            "existing folder"
        )
    return path


def in_memory(dataset: tf.data.Dataset, steps: int) -> tf.data.Dataset:
    """The first `steps` batches of a pipeline, materialized, replayed as they are (shapes kept,
    so length-bucketed text batches stay as the model would see them)."""
    import tensorflow as tf

    batches = list(dataset.take(steps))
    replay = tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=dataset.element_spec
    )
    return replay.apply(tf.data.experimental.assert_cardinality(len(batches))).cache()


def one_batch_per_shape(data: tf.data.Dataset) -> tf.data.Dataset:
    """One batch of each distinct input shape: fitting on it traces and compiles every shape, so
    that the timed run that follows measures steady-state speed."""
    import tensorflow as tf

    seen, firsts = set(), []
    for inputs, labels in data:
        if tuple(inputs.shape) not in seen:
            seen.add(tuple(inputs.shape))
            firsts.append((inputs, labels))
    replay = tf.data.Dataset.from_generator(
        lambda: iter(firsts), output_signature=data.element_spec
    )
    return replay.apply(tf.data.experimental.assert_cardinality(len(firsts)))
