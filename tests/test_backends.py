"""zoo's models use public `keras` only: they build, train and reload on the JAX backend too.

Runs `benchmarks/check_backend.py` in a process with KERAS_BACKEND=jax. JAX is not a dependency of
zoo but of its `test` extra, so CI runs this; without JAX it is skipped. The full check over every
entry is the script's job.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_entries_train_and_reload_on_the_jax_backend():
    entries = ["mlp_mnist", "cnn_mnist", "lstm_sst2", "transformer_sst2"]
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "check_backend.py"), *entries, "--steps", "3",
         "--batch-size", "8"],
        cwd=REPO, env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "backend jax" in completed.stdout
    assert "all entries train under XLA and reload identically" in completed.stdout
