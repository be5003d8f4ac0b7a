"""MultiWorkerMirroredStrategy from TF_CONFIG: two worker processes on 127.0.0.1 end in step."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from helpers import run_together, write_digits_npz

_WORKER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import zoo

    result = zoo.train("mlp_mnist", sys.argv[1], epochs=2, batch_size=32, verbose=0,
                       workdir=sys.argv[3])
    assert result.policy.strategy_name == "MultiWorkerMirroredStrategy", result.policy.describe()
    np.savez(sys.argv[2], *result.model.get_weights())
    """
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_in_step(tmp_path):
    data = write_digits_npz(tmp_path / "digits.npz", count=256)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    commands, environments = {}, {}
    for index in range(2):
        commands[f"worker{index}"] = [
            sys.executable, str(script), str(data), str(tmp_path / f"weights{index}.npz"),
            str(tmp_path / "run"),
        ]
        environments[f"worker{index}"] = {
            **os.environ,
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
    results = run_together(commands, environments, tmp_path, timeout=300)
    for name, (returncode, output) in results.items():
        assert returncode == 0, f"{name} failed:\n{output[-3000:]}"

    chief, other = (np.load(tmp_path / f"weights{i}.npz") for i in range(2))
    assert len(chief.files) == len(other.files) > 0
    for key in chief.files:
        np.testing.assert_allclose(chief[key], other[key], rtol=1e-6, atol=1e-6)
    # Only the chief writes the run directory; the other worker keeps its files apart.
    assert (tmp_path / "run" / "history.csv").is_file()
    assert (tmp_path / "run" / ".worker-1").is_dir()


_RESUMING_WORKER = textwrap.dedent(
    """
    import sys
    import keras
    import zoo

    class Interrupt(keras.callbacks.Callback):  # a kill once epoch 2 is committed
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == 2:
                raise KeyboardInterrupt

    data, workdir, history, interrupt = sys.argv[1:]
    try:
        result = zoo.train("mlp_mnist", data, workdir=workdir, epochs=4, batch_size=32, seed=3,
                           verbose=0, strategy="multi_worker",
                           callbacks=[Interrupt()] if interrupt == "yes" else None)
    except KeyboardInterrupt:
        sys.exit(0)
    result.history.drop(columns="seconds").to_csv(history, index=False)
    """
)


@pytest.mark.slow
def test_a_resumed_multi_worker_run_continues_the_data_order(tmp_path):
    """The multi-worker loop makes an iterator per epoch, each drawing the next shuffle and
    augmentation seeds: a resumed run must not start again from epoch 1's."""
    data = write_digits_npz(tmp_path / "digits.npz", count=200)
    script = tmp_path / "worker.py"
    script.write_text(_RESUMING_WORKER)
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    environment.pop("TF_CONFIG", None)  # one worker: MultiWorkerMirroredStrategy on its own

    def train(workdir, history, interrupt):
        command = [sys.executable, str(script), str(data), str(tmp_path / workdir),
                   str(tmp_path / history), interrupt]
        done = subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    train("whole", "whole.csv", "no")
    train("resumed", "unused.csv", "yes")
    assert not (tmp_path / "unused.csv").exists()
    train("resumed", "resumed.csv", "no")
    whole, resumed = (pd.read_csv(tmp_path / name) for name in ("whole.csv", "resumed.csv"))
    assert list(resumed.epoch) == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(resumed, whole)
