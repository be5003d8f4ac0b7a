"""zoo's models use public `keras` only: they build, train and reload on the JAX backend too.

Runs `benchmarks/check_backend.py` in a process with KERAS_BACKEND=jax. JAX is not a dependency of
zoo but of its `test` extra, so CI runs this; without JAX it is skipped. The full check over every
entry is the script's job.
"""

import importlib.util
import os
import subprocess
import sys

import pytest
from helpers import REPO


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_entries_train_and_reload_on_the_jax_backend(tmp_path):
    # As on a machine without TensorFlow (a JAX GPU image): any import of it fails. `import zoo`
    # once imported it through the registration of zoo's Keras objects, and only a GPU
    # machine without TensorFlow showed it.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
    path = os.pathsep.join([str(tmp_path), str(REPO), os.environ.get("PYTHONPATH", "")])
    entries = ["mlp_mnist", "cnn_mnist", "lstm_sst2", "transformer_sst2"]
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "check_backend.py"), *entries, "--steps", "3",
         "--batch-size", "8"],
        cwd=REPO, env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": path},
        capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "backend jax" in completed.stdout
    assert "all entries train under XLA and reload identically" in completed.stdout


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_what_needs_tensorflow_says_so_in_one_line_on_jax(tmp_path):
    np_file, export = str(tmp_path / "digits.npz"), str(tmp_path / "export")
    script = (
        "import numpy as np, zoo\n"
        f"np.savez({np_file!r}, x=np.zeros((20, 28, 28), np.uint8), y=np.arange(20) % 10)\n"
        f"for call in (lambda: zoo.train('mlp_mnist', {np_file!r}),\n"
        f"             lambda: zoo.export(zoo.build('mlp_mnist'), {export!r}),\n"
        f"             lambda: zoo.hypermodel('mlp_mnist'),\n"
        f"             lambda: zoo.evaluate(zoo.build('mlp_mnist'), {np_file!r})):\n"
        "    try:\n"
        "        call()\n"
        "    except zoo.InvalidValueError as error:\n"
        "        print(error)\n"
        # Compiled without jit, JAX ran every step op by op (4-5x slower).
        "print('jit', zoo.build('mlp_mnist').jit_compile)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    ran = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    *lines, jit = ran.stdout.strip().splitlines()
    # Each names what was called and what to do on JAX instead: a search's trials failed one
    # by one, and evaluate named zoo.data.load.
    assert [line.split(" needs ")[0] for line in lines] == [
        "zoo.train", "zoo.export", "zoo.hypermodel", "zoo.evaluate of a model on a source"]
    assert all("but Keras runs on 'jax'. Run it with KERAS_BACKEND=tensorflow" in line
               for line in lines)
    assert "model.fit on preprocessed arrays" in lines[0]
    assert "export it under TensorFlow: zoo.export(zoo.build(name, weights=" in lines[1]
    assert "run the search under TensorFlow" in lines[2]
    assert jit == "jit True"
    # the command line: one line, exit 2
    cli = subprocess.run([sys.executable, "-m", "zoo", "train", "mlp_mnist", "--data",
                          np_file], env=env, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert "zoo: error: zoo.train needs Keras' TensorFlow backend" in cli.stderr
