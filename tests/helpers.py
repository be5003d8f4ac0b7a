"""Small, learnable, generated datasets for tests (no network, no ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def digit_like_images(
    count: int = 300, num_classes: int = 10, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (count, 28, 28) images where class k is a bright bar at row band k, plus noise.

    Easy enough that a few epochs reach high accuracy, so tests can check that training learns.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, count).astype(np.uint8)
    images = rng.integers(0, 60, (count, 28, 28)).astype(np.uint8)
    for index, label in enumerate(labels):
        row = 2 + int(label) * 2
        images[index, row : row + 2, 4:24] = 255
    return images, labels


def write_digits_npz(path: Path, count: int = 300, seed: int = 0) -> Path:
    x, y = digit_like_images(count, seed=seed)
    np.savez(path, x=x, y=y)
    return path


POSITIVE = ["a wonderful , moving film", "great acting and a clever script", "i loved every minute",
            "funny , warm and beautifully shot", "a delight from start to finish"]
NEGATIVE = ["a dull , lifeless mess", "boring and far too long", "i hated the clumsy plot",
            "the worst film of the year", "flat jokes and wooden acting"]


def write_sentiment_tsv(path: Path, repeats: int = 12) -> Path:
    """A tab-separated `label\\tsentence` file in SST-2's format, with a quote character inside."""
    lines = ["label\tsentence"]
    for repeat in range(repeats):
        for sentence in POSITIVE:
            lines.append(f"1\t{sentence} \" {repeat}")
        for sentence in NEGATIVE:
            lines.append(f"0\t{sentence} {repeat}")
    path.write_text("\n".join(lines) + "\n")
    return path
