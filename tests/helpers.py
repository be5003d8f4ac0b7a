"""Small, learnable, generated datasets for tests (no network, no ../shared)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]  # the checkout: where subprocesses run `zoo`


def history_rows(workdir: Path) -> int:
    """The epochs a run in `workdir` has committed to history.csv so far (0 before the first)."""
    try:
        return len(pd.read_csv(workdir / "history.csv"))
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return 0


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


def run_together(
    commands: dict[str, list[str]], environments: dict[str, dict[str, str]], folder: Path,
    timeout: float,
) -> dict[str, tuple[int | None, str]]:
    """Run cooperating processes (workers of one cluster) and return each one's exit code and
    output, those the test had to stop last. When one fails, the others are stopped at once:
    they would otherwise wait for it until the timeout, hiding the failure that matters, and a
    test asserting in the returned order reports the worker that failed, not one it stopped."""
    processes, logs, stopped = {}, {}, set()
    deadline = time.monotonic() + timeout
    try:
        for name, command in commands.items():
            logs[name] = open(folder / f"{name}.log", "w")  # a file: a full pipe would block
            processes[name] = subprocess.Popen(
                command, env=environments[name], stdout=logs[name], stderr=subprocess.STDOUT,
                text=True,
            )
        while time.monotonic() < deadline:
            codes = [process.poll() for process in processes.values()]
            if all(code is not None for code in codes) or any(code for code in codes):
                break
            time.sleep(0.2)
    finally:
        for name, process in processes.items():
            if process.poll() is None:
                process.kill()
                process.wait()
                stopped.add(name)
        for log in logs.values():
            log.close()
    return {
        name: (
            process.returncode,
            (folder / f"{name}.log").read_text()
            + ("\n[stopped by the test: another worker failed, or the time ran out]"
               if name in stopped else ""),
        )
        for name, process in sorted(processes.items(), key=lambda item: item[0] in stopped)
    }


class ClaimingProcess:
    """Another live process holding `directory` as `zoo.io.claim` holds it, as a second `zoo
    train` or `zoo tune` finds a running one: `with ClaimingProcess(d) as other: ... other.pid`.
    It loads zoo/io.py alone (standard library only), so it starts in a fraction of a second."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def __enter__(self) -> subprocess.Popen:
        import sys

        io_module = Path(__file__).resolve().parents[1] / "zoo" / "io.py"
        script = (
            "import importlib.util, sys, time\n"
            f"spec = importlib.util.spec_from_file_location('zoo_io', {str(io_module)!r})\n"
            "io = importlib.util.module_from_spec(spec); spec.loader.exec_module(io)\n"
            f"assert io.claim({str(self.directory)!r})\n"
            "print('claimed', flush=True); time.sleep(120)\n"
        )
        self.process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout.readline().strip() == "claimed"
        return self.process

    def __exit__(self, *exc_info) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()
