"""The `zoo` command: listing, info, train + evaluate, and one-line errors without tracebacks."""

import io
import json
import logging
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import REPO, write_digits_npz, write_sentiment_tsv

import zoo
from zoo import cli, terminal
from zoo.cli import main
from zoo.models.mlp import build_mlp
from zoo.termination import Terminated


def run_zoo(*args: str, cwd: Path = REPO, tf_log_level: str | None = "3",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess, as a user would. `tf_log_level`:
    TF_CPP_MIN_LOG_LEVEL for it (quiet test logs), or None for none at all, as a user has;
    `env`: more environment variables."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env or {})
    if tf_log_level is not None:
        environment["TF_CPP_MIN_LOG_LEVEL"] = tf_log_level
    return subprocess.run([sys.executable, "-m", "zoo", *args], cwd=cwd, capture_output=True,
                          text=True, env=environment, timeout=300)


def test_list_and_info(capsys):
    assert main(["list", "*_mnist"]) == 0
    listed = capsys.readouterr().out
    assert "cnn_mnist" in listed and "mlp_mnist" in listed and "cifar10" not in listed

    assert main(["list", "--family", "transformer"]) == 0
    listed = capsys.readouterr().out
    assert "transformer_ag_news" in listed
    # One format whatever the filter: a missing measured accuracy is "-" (was NaN in the full
    # listing and None where no entry listed had one), figures to 4 places.
    rows = {line.split()[0]: line.split() for line in listed.splitlines()[1:]}
    assert rows["transformer_imdb"][-2:] == ["0.8700", "-"]
    assert rows["transformer_sst2"][-2:] == ["0.8270", "0.8170"]
    assert "NaN" not in listed and "None" not in listed

    # a filter value no entry has is a misspelling, not an empty list
    assert main(["list", "--family", "CNN"]) == 2
    assert "unknown family 'CNN'. Did you mean: 'cnn'?" in capsys.readouterr().err
    assert main(["list", "no_such_*", "--family", "cnn"]) == 0
    assert "no model matches." in capsys.readouterr().out

    assert main(["info", "cnn_mnist"]) == 0
    info = capsys.readouterr().out
    assert "parameters: 34,826" in info and "reference accuracy: 0.99" in info
    # what the entry is (its spec function's docstring), its classes, whether it can be tuned
    assert "The Keras 'Simple MNIST convnet'" in info and "classes: 0, 1, 2" in info
    # The search space, whose names --fix takes (they were only learnt from an error or a
    # finished search's trials.csv): one row per hyperparameter, aligned left.
    space = info.split("  hyperparameter search (zoo tune; hold one with --fix NAME=VALUE):\n")[1]
    rows = space.splitlines()
    assert rows[0].split() == ["hyperparameter", "kind", "values", "default", "searched", "when"]
    assert rows[1].split() == ["num_blocks", "Int", "1", "..", "3", "(linear)", "2"]
    assert rows[4].split() == ["filters_2", "Choice", "16,", "32,", "64,", "128,", "256", "64",
                               "num_blocks", "=", "3"]
    assert rows[7].split() == ["learning_rate", "Float", "0.0001", "..", "0.01", "(log)", "0.003"]
    assert len(rows) == 1 + len(zoo.hypermodel("cnn_mnist").space().space)
    assert all(row.startswith("    ") and row[4] != " " for row in rows)


def test_info_shows_an_entry_of_your_own_with_its_tags(capsys):
    @zoo.register_model(owner="docs")
    def mlp_described() -> zoo.ModelSpec:
        """A tiny MLP of our own.

        Two lines of description."""
        return zoo.ModelSpec(family="mlp", dataset="mnist", num_classes=10, builder=build_mlp,
                             input=zoo.ImageInput((28, 28, 1)), hyperparameters={"units": (8,)})

    try:
        assert zoo.get_spec("mlp_described").description == (
            "A tiny MLP of our own.\n\nTwo lines of description."
        )
        assert main(["info", "mlp_described"]) == 0
        info = capsys.readouterr().out
        assert "\n  A tiny MLP of our own.\n" in info and "\n  Two lines of description." in info
        assert "tags: {'owner': 'docs'}" in info and "hyperparameter search: no" in info
    finally:
        zoo.unregister_model("mlp_described")


def test_info_leaves_out_the_lines_an_entry_has_nothing_for(capsys):
    # No docstring, a dataset without catalog names, a reference without a note or a measured
    # accuracy: no empty line or "classes: " with nothing after it where those would be.
    @zoo.register_model
    def mlp_bare() -> zoo.ModelSpec:
        return zoo.ModelSpec(family="mlp", dataset="my_digits", num_classes=10, builder=build_mlp,
                             input=zoo.ImageInput((28, 28, 1)), hyperparameters={"units": (8,)},
                             reference=zoo.Reference(0.9, "a notebook"))

    try:
        assert main(["info", "mlp_bare"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "mlp_bare: mlp on my_digits (image_classification, 10 classes)"
        assert lines[1].startswith("  input: {")
        assert [line.split(":")[0] for line in lines[1:]] == [
            "  input", "  hyperparameters", "  recipe", "  reference accuracy",
            "  parameters", "  hyperparameter search"]
        assert lines[4] == "  reference accuracy: 0.9 (a notebook)"
    finally:
        zoo.unregister_model("mlp_bare")


def test_no_tensorflow_start_up_lines_without_a_gpu_driver():
    # As a user runs it: no TF_CPP_MIN_LOG_LEVEL of ours, so only the command's own quieting acts.
    completed = run_zoo("info", "cnn_mnist", tf_log_level=None)
    assert completed.returncode == 0, completed.stderr
    assert "parameters: 34,826" in completed.stdout
    if os.path.exists(terminal.NVIDIA_DRIVER_NODE):
        pytest.skip("an NVIDIA driver is loaded here, so CUDA's start-up lines are shown by design")
    assert completed.stderr == ""  # before: "failed call to cuInit: ... CUDA error" on every call


def test_no_tensorflow_lines_while_a_masked_lstm_trains(tmp_path):
    # TensorFlow's oneDNN wrote "E0000 ... oneDNN supports DT_BOOL only on platforms with
    # AVX-512" at the first masked LSTM step of every text command (on AVX-512 machines too).
    data = write_sentiment_tsv(tmp_path / "reviews.tsv", repeats=2)
    completed = run_zoo("train", "lstm_sst2", "--data", str(data), "--epochs", "1", "--set",
                        "vocab_size=50", "--set", "lstm_units=(4,)", "--set", "embedding_dim=4",
                        tf_log_level=None)
    assert completed.returncode == 0, completed.stderr
    assert "macro" in completed.stdout
    if os.path.exists(terminal.NVIDIA_DRIVER_NODE):
        pytest.skip("an NVIDIA driver is loaded here, so CUDA's start-up lines are shown by design")
    assert completed.stderr == ""


def test_listing_entries_starts_neither_keras_nor_tensorflow():
    """`zoo list` answers in about a second: zoo's entries register without Keras (a builder
    imports it when it builds), and the command starts no TensorFlow. Before, every listing
    waited 4-9 s for TensorFlow's import. A fresh process, since this one has Keras loaded."""
    code = ("import sys, zoo; from zoo.cli import main; "
            "specs = [zoo.get_spec(name) for name in zoo.list_models()]; "
            "zoo.models_frame(params=False); status = main(['list']); "
            "print(status, len(specs), sorted({'keras', 'tensorflow'} & set(sys.modules)))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "cnn_mnist" in completed.stdout
    assert completed.stdout.splitlines()[-1] == f"0 {len(zoo.list_models())} []"
    assert completed.stderr == ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["tune", "cnn_mnist", "--data", "digits.npz", "--validation-data", "mnits"],
         "'mnits' is neither an existing file or folder nor a known dataset name. Did you mean "
         "'mnist'?"),
        (["evaluate", "runs/cnn", "--data", "digits.npz"],
         "runs/cnn does not exist; expected a directory written by zoo.export, a training "
         "workdir, or a .keras file."),
        (["predict", "digits.npz", "reviews.txt"],
         "input file reviews.txt does not exist; expected an image file (.png, .jpg, .jpeg, "
         ".bmp, .gif), a folder of images or .txt files, .npz with an array x of uint8 images, "
         ".txt with one sentence per line, or .csv/.tsv with a 'sentence' or 'text' column."),
        (["train", "cnn_mnist", "--data", "digits.npz", "--weights", "old.keras"],
         "old.keras does not exist; expected weights as a training workdir, a zoo.export "
         "directory, a .keras file or a .weights.h5 file."),
        # Blank: "" named the current folder ("'.' is not a zoo training workdir", after
        # TensorFlow's start-up); spaces, a path no one can see in the message.
        (["evaluate", "", "--data", "digits.npz"],
         "the model's path is empty; expected a directory written by zoo.export, a training "
         "workdir, or a .keras file."),
        (["predict", "digits.npz", "  "], "the inputs' path is empty; expected an image file"),
        # (It was said not to exist.)
        (["predict", "digits.npz", "pipe.txt"], "input pipe.txt is neither a file nor a folder "
         "(a named pipe or a device): zoo reads the inputs to predict from files"),
    ],
    ids=["data", "model", "input", "weights", "blank-model", "blank-input", "fifo-input"],
)
def test_a_missing_path_is_refused_before_tensorflow_starts(tmp_path, args, message):
    # It was said after TensorFlow's start-up (about 7 s) and the device policy's line, in the
    # same words (the library's checks are these functions).
    code = (f"import sys; from zoo.cli import main; status = main({args!r}); "
            f"print(status, 'tensorflow' in sys.modules)")
    (tmp_path / "digits.npz").write_bytes(b"")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.txt")
    elif "pipe.txt" in args:
        pytest.skip("no named pipes here")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120, cwd=tmp_path)
    assert completed.stdout.splitlines()[-1] == "2 False", completed.stderr
    assert completed.stderr.startswith(f"zoo: error: {message}"), completed.stderr
    assert completed.stderr.count("\n") == 1  # one line


def test_train_then_evaluate_end_to_end(tmp_path, capsys):
    data = write_digits_npz(tmp_path / "digits.npz", count=300)
    workdir = tmp_path / "run"
    trained = run_zoo("train", "cnn_mnist", "--data", str(data), "--epochs", "2",
                      "--workdir", str(workdir), "--set", "filters=(8, 16)")
    assert trained.returncode == 0, trained.stderr
    assert "accuracy" in trained.stdout and "macro" in trained.stdout
    # zoo's own progress lines: the device policy with its reasons, then the epochs to train.
    assert "zoo: device policy: device=" in trained.stdout
    assert "zoo: training cnn_mnist from epoch 1 to 2" in trained.stdout
    assert (workdir / "model.keras").is_file()
    # Which epoch the table scores, and that the hold-out chose it (the README says so).
    best = json.loads((workdir / "state.json").read_text())["best_epoch"]
    assert (f"(scored: the model of epoch {best}, chosen as the best by val_accuracy on this "
            f"same hold-out, so the score reads slightly optimistic") in trained.stdout

    evaluated = run_zoo("evaluate", str(workdir), "--data", str(data))
    assert evaluated.returncode == 0, evaluated.stderr
    assert "accuracy" in evaluated.stdout and "on 300 examples" in evaluated.stdout
    # the same from Python, given the path as the command takes it
    report = zoo.evaluate(str(workdir), str(data))
    assert evaluated.stdout == f"{report}\n"
    assert "confusion matrix (rows: true class, columns: predicted)" in evaluated.stdout
    # --output keeps the report as a workdir's report.json has it; directories are made.
    output = tmp_path / "reports" / "digits.json"
    assert main(["evaluate", str(workdir), "--data", str(data), "--output", str(output)]) == 0
    assert json.loads(output.read_text()) == json.loads(json.dumps(report.to_dict()))
    capsys.readouterr()
    # A directory for --output is refused before the evaluation, in one line that says so.
    assert main(["evaluate", str(workdir), "--data", str(data), "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error == (f"zoo: error: cannot write the report to {tmp_path}: it is a directory; "
                     f"expected a JSON file path.\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "cnn_mnst"], "Did you mean: 'cnn_mnist'"),
        (["tune", "tiny_digits"], "An entry registered with @zoo.register_model in a script is "
                                  "known to that script only: for the command line, ship it in "
                                  "a package's `zoo.models` entry-point group"),
        (["info", "lstm_sst"], "Did you mean: 'lstm_sst2'"),
        (["train", "cnn_mnist", "--data", "missing.npz"], "missing.npz"),
        (
            ["train", "cnn_mnist", "--set", "dropout=2.0", "--data", "x.npz"],
            r"dropout must be a number in \[0, 1\)",
        ),
        (
            ["evaluate", "no-such-dir", "--data", "x.npz"],
            "no-such-dir does not exist; expected a directory written by zoo.export, a training "
            "workdir, or a .keras file",
        ),
        (["train", "cnn_mnist", "--set", "seed=3"], "--set seed=3 is not an override: use --seed"),
        (
            ["train", "cnn_mnist", "--epochs", "2", "--set", "epochs=3"],
            "--set epochs=3 is not an override: use --epochs (given as 2 already)",
        ),
        (
            ["train", "cnn_mnist", "--data", "x.npz", "--workdir", "/dev/null/run"],
            "workdir /dev/null/run cannot be created",
        ),
        (
            ["tune", "cnn_mnist", "--data", "x.npz", "--directory", "/dev/null/search"],
            "directory /dev/null/search cannot be created",
        ),
    ],
)
def test_errors_are_one_clear_line(args, message, capsys, tmp_path, monkeypatch):
    # x.npz exists but is never read: each of these is refused before the data loads.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.npz").write_bytes(b"")
    assert main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("zoo: error: ")
    assert message in error or __import__("re").search(message, error)
    assert "Traceback" not in error


def test_set_takes_the_recipe_fields_that_have_options_too(tmp_path, capsys):
    data = write_digits_npz(tmp_path / "digits.npz", count=100)
    assert main(["train", "mlp_mnist", "--data", str(data), "--set", "epochs=1",
                 "--set", "batch_size=50", "--set", "units=(8,)"]) == 0
    printed = capsys.readouterr().out
    assert "zoo: training mlp_mnist from epoch 1 to 1" in printed


def test_train_from_weights_fine_tunes_and_more_epochs_point_there(tmp_path, capsys):
    from helpers import digit_like_images

    small = ["--set", "units=(8,)", "--batch-size", "50"]
    digits, first = write_digits_npz(tmp_path / "digits.npz", count=100), tmp_path / "first"
    assert main(["train", "mlp_mnist", "--data", str(digits), "--epochs", "1", "--workdir",
                 str(first), *small]) == 0
    # More epochs in the finished run's workdir: refused, pointing to --weights.
    assert main(["train", "mlp_mnist", "--data", str(digits), "--epochs", "2", "--workdir",
                 str(first), *small]) == 2
    error = capsys.readouterr().err
    assert "'epochs': 1, 'units': [8]}, now {'batch_size': 50, 'epochs': 2" in error
    # The hint spells out the command: the data and the recorded options, quoted, with the
    # epochs to add (without --data it would train on the entry's TFDS dataset instead).
    command = error.split("for the epochs to add: ")[1].split(" (in Python:")[0]
    assert command == (f"zoo train mlp_mnist --data {digits} --weights {first} --workdir NEW "
                       f"--epochs N --batch-size 50 --set 'units=(8,)'")
    more = [str(tmp_path / "more") if part == "NEW" else "1" if part == "N" else part
            for part in shlex.split(command)[1:]]
    assert main(more) == 0
    assert "zoo: training mlp_mnist from epoch 1 to 1" in capsys.readouterr().out
    assert ("in Python: zoo.train(zoo.build('mlp_mnist', weights="
            f"{str(first)!r}, batch_size=50, units=(8,)), {str(digits)!r}, workdir=NEW, "
            "epochs=N))") in error

    x, y = digit_like_images(90, num_classes=3, seed=1)
    three = tmp_path / "three.npz"
    np.savez(three, x=x, y=y)
    tuned = tmp_path / "tuned"
    assert main(["train", "mlp_mnist", "--data", str(three), "--epochs", "1", "--workdir",
                 str(tuned), "--weights", str(first), "--freeze-backbone",
                 "--set", "num_classes=3", *small]) == 0
    config = json.loads((tuned / "config.json").read_text())
    assert config["weights"].startswith("file:") and config["frozen_layers"] == ["hidden_0"]
    assert config["overrides"]["num_classes"] == 3
    hidden = [zoo.build("mlp_mnist", weights=run, units=(8,), num_classes=classes)
              .get_layer("hidden_0").get_weights()[0] for run, classes in ((first, 10), (tuned, 3))]
    np.testing.assert_array_equal(*hidden)  # frozen: as the first run left it
    # More epochs of the fine-tuning run: the way out keeps the backbone frozen, as it was.
    capsys.readouterr()
    assert main(["train", "mlp_mnist", "--data", str(three), "--epochs", "2", "--workdir",
                 str(tuned), "--weights", str(first), "--freeze-backbone",
                 "--set", "num_classes=3", *small]) == 2
    error = capsys.readouterr().err
    command = error.split("for the epochs to add: ")[1].split(" (in Python:")[0]
    assert f"--weights {tuned} --freeze-backbone --workdir NEW" in command, command
    assert f"weights={str(tuned)!r}, freeze_backbone=True, " in error
    more = [str(tmp_path / "tuned_more") if part == "NEW" else "1" if part == "N" else part
            for part in shlex.split(command)[1:]]
    assert main(more) == 0
    config = json.loads((tmp_path / "tuned_more" / "config.json").read_text())
    assert config["frozen_layers"] == ["hidden_0"]
    # Without --set num_classes=3 the 10-class model would train on 3-class data: said.
    capsys.readouterr()
    assert main(["train", "mlp_mnist", "--data", str(three), "--epochs", "1", "--weights",
                 str(first), *small]) == 0
    assert ("zoo: warning: 'three.npz': the labels are 0 to 2 (3 classes), but 'mlp_mnist' has "
            "10" in capsys.readouterr().out)

    # At the entry's own sizes the weights do not fit: the sizes they were trained with are named.
    assert main(["train", "mlp_mnist", "--data", str(three), "--weights", str(first)]) == 2
    error = capsys.readouterr().err
    assert "The weights were trained with units=(8,) (mlp_mnist here: units=(128,))" in error
    # Quoted for the shell: unquoted, units=(8,) is a syntax error and units=[8] a glob pattern.
    assert "or on the command line --set 'units=(8,)'." in error
    assert main(["train", "cnn_mnist", "--data", str(three), "--weights", str(first)]) == 2
    assert ("The weights are mlp_mnist's, of the mlp family; cnn_mnist is of the cnn family."
            in capsys.readouterr().err)
    assert main(["train", "mlp_mnist", "--data", str(three), "--freeze-backbone"]) == 2
    assert "--freeze-backbone needs --weights PATH" in capsys.readouterr().err
    assert main(["train", "mlp_mnist", "--set", f"weights={first}"]) == 2
    assert "use --weights" in capsys.readouterr().err


def test_seed_makes_a_fine_tuning_run_repeatable(tmp_path):
    from helpers import digit_like_images

    small = ["--set", "units=(8,)", "--batch-size", "30", "--epochs", "1"]
    digits, first = write_digits_npz(tmp_path / "digits.npz", count=60), tmp_path / "first"
    assert main(["train", "mlp_mnist", "--data", str(digits), "--workdir", str(first),
                 *small]) == 0
    x, y = digit_like_images(60, num_classes=3, seed=1)
    np.savez(tmp_path / "three.npz", x=x, y=y)
    heads = []
    for run, drawn_before in (("a", 1), ("b", 2)):
        keras.utils.set_random_seed(drawn_before)  # whatever the process drew before: --seed rules
        assert main(["train", "mlp_mnist", "--data", str(tmp_path / "three.npz"), "--weights",
                     str(first), "--freeze-backbone", "--set", "num_classes=3", "--seed", "0",
                     "--workdir", str(tmp_path / run), *small]) == 0
        tuned = zoo.build("mlp_mnist", weights=tmp_path / run, units=(8,), num_classes=3)
        heads.append(tuned.get_layer("classifier").get_weights()[0])
    # The new head is drawn from --seed too, so the same command trains the same model.
    np.testing.assert_allclose(*heads, rtol=0, atol=1e-6)


def test_weights_that_cannot_start_a_model_are_one_clear_line(tmp_path, capsys):
    empty = tmp_path / "empty.weights.h5"
    empty.write_bytes(b"")
    assert main(["train", "mlp_mnist", "--weights", str(empty)]) == 2
    error = capsys.readouterr().err
    assert "empty.weights.h5 is not a readable .weights.h5 file" in error, error
    assert "Check the path" not in error  # not a permissions or disk problem
    assert main(["train", "mlp_mnist", "--weights", ""]) == 2
    assert "zoo: error: weights (--weights) is an empty path" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "a .keras or a .weights.h5 file" in " ".join(capsys.readouterr().out.split())


def test_version(capsys):
    import zoo

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"zoo {zoo.__version__}"


def test_bad_numbers_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "cnn_mnist", "--epochs", "0"])
    assert exit_info.value.code == 2
    # One line, as every zoo error: argparse printed its usage block first.
    assert capsys.readouterr().err == ("zoo train: error: argument --epochs: expected a positive "
                                       "integer, got 0 (see zoo train --help)\n")
    with pytest.raises(SystemExit) as exit_info:  # a word, not Python's ValueError
        main(["train", "cnn_mnist", "--epochs", "three"])
    assert exit_info.value.code == 2
    assert ("argument --epochs: expected a positive integer, got 'three' (see zoo train --help)"
            in capsys.readouterr().err)
    # Seeds beyond what Keras seeds with ended in a traceback from deep inside training.
    for command, seed in (("train", "4294967296"), ("tune", "-1"), ("tune", "x")):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "cnn_mnist", "--seed", seed])
        assert exit_info.value.code == 2
        assert (f"argument --seed: expected an integer from 0 to 4294967295, got '{seed}'"
                in capsys.readouterr().err)


def test_failed_run_writes_no_partial_files(tmp_path):
    workdir = tmp_path / "run"
    assert main(
        ["train", "cnn_mnist", "--data", str(tmp_path / "absent.npz"), "--workdir", str(workdir)]
    ) == 2
    assert not workdir.exists() or not any(workdir.iterdir())


@pytest.mark.parametrize(
    "command, download",
    [(["train", "cnn_mnist"], []), (["train", "cnn_mnist"], ["--no-download"]),
     (["tune", "cnn_mnist", "--max-trials", "1"], [])],
)
def test_unreachable_tfds_dataset_is_one_line_naming_the_way_out(tmp_path, capsys, command,
                                                                  download):
    # Without --data the entry's own TFDS dataset is read from --data-dir, where it is not.
    prepared = tmp_path / "tensorflow_datasets"
    run = tmp_path / "run"
    place = ["--workdir", str(run)] if command[0] == "train" else ["--directory", str(run)]
    assert main([*command, "--data-dir", str(prepared), *download, *place]) == 2
    error = capsys.readouterr().err
    why = "download=False (--no-download)" if download else "there is no network to download it"
    assert error.startswith(f"zoo: error: dataset 'mnist' is not available: it is not prepared "
                            f"in {prepared} and {why}")
    assert "--data-dir" in error and ".npz" in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    if command[0] == "train":  # a search directory records the search before loading data
        assert not run.exists() or not any(run.iterdir())


def test_the_printed_train_command_reads_back_numpy_values_as_numbers():
    from zoo.cli import _override, _parser, _train_command

    args = _parser().parse_args(["tune", "mlp_mnist", "--data", "d.npz"])
    overrides = {"dropout": np.float64(0.25), "units": (np.int64(8),), "optimizer": "adam",
                 "batch_size": np.int32(64), "nesterov": np.bool_(True),
                 "filters": np.array([8, 16])}
    command = shlex.split(_train_command(args, overrides))
    read_back = dict(_override(argument) for argument in command if "=" in argument)
    assert read_back == {"dropout": 0.25, "units": (8,), "optimizer": "adam", "batch_size": 64,
                         "nesterov": True, "filters": (8, 16)}
    # The search's seed goes along: it chose the hold-out and initial weights the trials scored.
    seeded = _parser().parse_args(["tune", "mlp_mnist", "--data", "d.npz", "--seed", "7"])
    command = shlex.split(_train_command(seeded, overrides))
    assert "--seed" in command and command[command.index("--seed"):][:2] == ["--seed", "7"]
    # So do where TFDS datasets are prepared and whether they may be downloaded.
    prepared = _parser().parse_args(["tune", "mlp_mnist", "--data-dir", "/data/tfds",
                                     "--no-download"])
    command = shlex.split(_train_command(prepared, {}))
    assert command[command.index("--data-dir"):] == ["--data-dir", "/data/tfds", "--no-download",
                                                     "--workdir", "runs/mlp_mnist_best"]
    assert "--data-dir" not in _train_command(args, {})
    assert "--no-download" not in _train_command(args, {})


def test_an_unknown_set_key_lists_the_options_set_takes_too(capsys, tmp_path):
    # --help offers zoo.train's options (jit_compile=True); the error listed the entry's only.
    assert main(["train", "cnn_mnist", "--set", "jit_compil=1", "--workdir",
                 str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err
    assert "unknown --set key 'jit_compil'. Did you mean: 'jit_compile'?" in error
    assert ("and these zoo.train options: augment, jit_compile, mixed_precision, "
            "steps_per_execution, strategy, verbose.") in error
    assert len(error.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    assert main(["tune", "mlp_mnist", "--set", "unitz=8"]) == 2
    assert "Did you mean: 'units'?" in capsys.readouterr().err


def test_set_reads_true_and_false_as_command_lines_spell_them():
    from zoo.cli import _override

    assert _override("jit_compile=true") == ("jit_compile", True)
    assert _override("augment=false") == ("augment", False)
    assert _override("jit_compile=True") == ("jit_compile", True)
    assert _override("optimizer=adam") == ("optimizer", "adam")


def test_a_set_without_a_key_or_an_equals_sign_is_refused_with_the_form(capsys):
    for given in ("dropout", "=0.3"):
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "cnn_mnist", "--set", given])
        assert exit_info.value.code == 2
        assert (f"argument --set: expected KEY=VALUE (e.g. dropout=0.3), got {given!r}"
                in capsys.readouterr().err)


def test_a_search_whose_trials_all_failed_prints_no_best(monkeypatch, tmp_path, capsys):
    # zoo.tune returns such a search (the `error` column says why); there is no best trial to
    # print or a train command to suggest, only where the search is.
    import types

    import pandas as pd

    trials = pd.DataFrame({"trial_id": ["0", "1"], "status": ["FAILED", "FAILED"],
                           "score": [np.nan, np.nan], "error": ["NaN loss", "NaN loss"]})
    objective = types.SimpleNamespace(direction="max")
    searched = types.SimpleNamespace(
        trials=trials, best_overrides={}, directory=tmp_path / "search",
        tuner=types.SimpleNamespace(oracle=types.SimpleNamespace(objective=objective)))
    monkeypatch.setattr(zoo, "tune", lambda *args, **kwargs: searched)
    assert main(["tune", "mlp_mnist", "--directory", str(tmp_path / "search")]) == 0
    assert capsys.readouterr().out == (
        f"\n2 trials, 0 completed.\nsearch saved in {tmp_path / 'search'} (trials.csv; rerun to "
        f"continue)\n")


def _reviews_csv(path: Path) -> Path:
    """A comma-separated table whose columns are not zoo's defaults: review, stars."""
    from helpers import NEGATIVE, POSITIVE

    rows = ["stars,review"] + [f"good,\"{text}, {i}\"" for i in range(8) for text in POSITIVE]
    rows += [f"bad,\"{text}, {i}\"" for i in range(8) for text in NEGATIVE]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_warnings_print_as_zoo_messages_without_source_lines(tmp_path, capsys):
    data = write_sentiment_tsv(tmp_path / "reviews.tsv", repeats=2)
    data.write_text(data.read_text() + "1\t \n")  # one blank sentence
    show_warning = warnings.showwarning
    assert main(["train", "lstm_sst2", "--data", str(data), "--epochs", "1", "--set",
                 "vocab_size=50", "--set", "sequence_length=3", "--set", "embedding_dim=4",
                 "--set", "lstm_units=(4,)"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    # Without --workdir or --export nothing is saved: the last line says so, and how to keep it.
    assert lines[-1] == ("the model was not kept: --workdir DIR keeps the run (and resumes it), "
                         "--export DIR serves it")
    assert ("zoo: warning: 'reviews.tsv', column 'sentence': 1 of 21 texts are empty or blank "
            "(row 20); they teach") in "\n".join(lines)
    assert captured.out.count("texts are empty or blank") == 1  # not again for the hold-out
    # Most training sentences are longer than 3 tokens: a warning, with the length that fits.
    assert any(line.startswith("zoo: warning: ") and "are longer than the 3 tokens 'lstm_sst2' "
               "reads" in line for line in lines)
    assert "UserWarning" not in captured.out + captured.err
    assert ".py:" not in captured.out + captured.err  # no file and line of zoo's source
    assert warnings.showwarning is show_warning  # put back for the rest of the process


def test_a_librarys_warning_names_the_library(capsys):
    from zoo.terminal import progress_messages

    with progress_messages():
        keras_file = os.path.join(keras.__path__[0], "src", "trainers", "trainer.py")
        warnings.warn_explicit("Keras says this", UserWarning, keras_file, 1)
        warnings.warn_explicit("old", DeprecationWarning, keras_file, 2)
        # zoo's own warnings name the first caller outside zoo: the `zoo` script.
        warnings.warn_explicit("zoo says this", UserWarning, "/usr/local/bin/zoo", 3)
    assert capsys.readouterr().out.splitlines() == [
        "zoo: warning: from keras: Keras says this",
        "zoo: warning: from keras: DeprecationWarning: old",
        "zoo: warning: zoo says this",
    ]


@pytest.mark.parametrize("level, inside", [
    (logging.NOTSET, logging.WARNING),  # a library left as it comes: warnings only
    (logging.ERROR, logging.ERROR),  # set quieter by the caller: never louder for the block
], ids=["unset", "already_quieter"])
def test_quieting_a_library_never_makes_it_louder_and_puts_its_level_back(level, inside):
    from zoo.logs import quiet

    library = logging.getLogger("zoo_tests.quieted_library")
    library.setLevel(level)
    try:
        with quiet(library.name):
            assert library.level == inside
            assert library.isEnabledFor(logging.WARNING) == (inside <= logging.WARNING)
            assert not library.isEnabledFor(logging.INFO)
        assert library.level == level
    finally:
        library.setLevel(logging.NOTSET)


def test_columns_of_your_own_train_evaluate_and_tune(tmp_path, capsys):
    """--text-column/--label-column (text_column=/label_column=) reach every source of train,
    evaluate and tune; a run records them, so other columns in its workdir are refused."""
    data = _reviews_csv(tmp_path / "reviews.csv")
    small = ["--set", "vocab_size=200", "--set", "sequence_length=16", "--set",
             "embedding_dim=8", "--set", "lstm_units=(4,)"]
    assert main(["train", "lstm_sst2", "--data", str(data), "--epochs", "1", *small]) == 2
    error = capsys.readouterr().err
    assert "no text column 'sentence' or 'text'" in error and "--text-column" in error

    run = tmp_path / "run"
    columns = ["--text-column", "review", "--label-column", "stars"]
    assert main(["train", "lstm_sst2", "--data", str(data), "--epochs", "1", "--workdir",
                 str(run), *columns, *small]) == 0
    recorded = json.loads((run / "config.json").read_text())["columns"]
    assert recorded == {"text_column": "review", "label_column": "stars"}
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(data), *columns]) == 0
    assert "bad" in capsys.readouterr().out  # the report's rows: the labels named in the file
    report = zoo.evaluate(run, str(data), text_column="review", label_column="stars")
    assert report.num_examples == 80

    # The same workdir with the text read from another column is another run.
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(data.read_text().replace("stars,review", "stars,text", 1))
    assert main(["train", "lstm_sst2", "--data", str(renamed), "--epochs", "1", "--workdir",
                 str(run), "--label-column", "stars", *small]) == 2
    assert "columns" in capsys.readouterr().err
    # --set does not stand in for the options.
    assert main(["train", "lstm_sst2", "--data", str(data), "--set", "text_column=review"]) == 2
    assert "use --text-column" in capsys.readouterr().err
    # Validation data of other column names: its own fix, not "pass --text-column" (which would
    # break the training data that has them).
    dev = write_sentiment_tsv(tmp_path / "dev.tsv", repeats=1)
    assert main(["train", "lstm_sst2", "--data", str(data), "--validation-data", str(dev),
                 "--epochs", "1", *columns, *small]) == 2
    error = capsys.readouterr().err
    assert ("'dev.tsv' has no text column 'review'; found columns ['label', 'sentence']. The "
            "columns (named with text_column= and label_column=, --text-column and "
            "--label-column, else the defaults: sentence or text, and label) are read from the "
            "training and the validation data alike") in error
    assert "Pass text_column=" not in error

    search = tmp_path / "search"
    assert main(["tune", "lstm_sst2", "--data", str(data), "--tuner", "random", "--max-trials",
                 "1", "--epochs", "1", "--directory", str(search), *columns, *small,
                 "--class-names", "good,bad"]) == 0
    printed = capsys.readouterr().out
    # the train command to run repeats how the data was read
    assert "--text-column review --label-column stars --class-names good,bad" in printed
    assert json.loads((search / "search.json").read_text())["class_names"] == ["good", "bad"]


def test_class_names_number_named_labels_and_name_the_classes_the_data_lacks(tmp_path, capsys):
    """class_names= (--class-names) fixes the ids of named labels, for training and validation
    data; a 3-class model trains on data naming two of its classes; a run records it."""
    data = _reviews_csv(tmp_path / "reviews.csv")
    reading = {"text_column": "review", "label_column": "stars"}
    small = {"vocab_size": 200, "sequence_length": 16, "embedding_dim": 8, "lstm_units": (4,),
             "epochs": 1, "verbose": 0}
    # Sorted, "bad" would be 0: named, "good" is.
    result = zoo.train("lstm_sst2", str(data), class_names=("good", "bad"), **reading, **small)
    assert result.report.per_class.index.tolist() == ["good", "bad"]
    with pytest.raises(zoo.DataError, match=r"names 2 classes .* but 'lstm_sst2' has 3: .*for data "
                                            r"that lacks some classes, pass class_names="):
        zoo.train("lstm_sst2", str(data), num_classes=3, **reading, **small)
    run = tmp_path / "run"
    three = ["--text-column", "review", "--label-column", "stars", "--set", "num_classes=3",
             "--set", "vocab_size=200", "--set", "sequence_length=16", "--set", "embedding_dim=8",
             "--set", "lstm_units=(4,)", "--epochs", "1"]
    assert main(["train", "lstm_sst2", "--data", str(data), "--workdir", str(run),
                 "--class-names", "bad,meh,good", *three]) == 0
    assert json.loads((run / "config.json").read_text())["class_names"] == ["bad", "meh", "good"]
    assert zoo.load(run).class_names == ("bad", "meh", "good")
    capsys.readouterr()
    # Other names in the same workdir are another run.
    assert main(["train", "lstm_sst2", "--data", str(data), "--workdir", str(run),
                 "--class-names", "good,meh,bad", *three]) == 2
    assert "class_names" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "lstm_sst2", "--class-names", "good"])
    assert "at least two" in capsys.readouterr().err
    # One class in the data is not advised num_classes=1.
    with pytest.raises(zoo.DataError, match="a classifier needs two classes or more"):
        zoo.train("lstm_sst2", (["fine", "good"] * 8, ["good"] * 16), **small)


def test_a_missing_column_says_what_it_likely_is(tmp_path):
    data = tmp_path / "cased.csv"
    data.write_text("Sentence,label\na fine film,1\na dull film,0\n")
    with pytest.raises(zoo.DataError, match="Column 'Sentence' differs only in case: pass "
                                            "text_column='Sentence'"):
        zoo.data.read_source(str(data))
    tabs = tmp_path / "tabs.csv"
    tabs.write_text("sentence\tlabel\na fine film\t1\na dull film\t0\n")
    with pytest.raises(zoo.DataError, match="looks tab-separated: name it .tsv"):
        zoo.data.read_source(str(tabs))


def test_a_file_error_is_one_line_naming_the_file(monkeypatch, capsys):
    import errno

    def failing(args):  # as HDF5 reports a failed write: over two lines, naming no file
        raise OSError(errno.EFBIG, "Can't write data (file write failed: time = Wed\n, errno "
                      "= 27)")

    monkeypatch.setitem(cli._COMMANDS, "list", failing)
    assert main(["list"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(
        "zoo: error: Can't write data (file write failed: time = Wed , errno = 27). Check the "
        "path (its permissions, the free space and file size limits)")


def test_ctrl_c_ends_with_one_line_and_the_shells_status(monkeypatch, capsys):
    # 130 = 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C; scripts
    # running zoo tell an interrupted run from a failed one (2) by it.
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "list", interrupted)
    assert main(["list"]) == 130
    assert capsys.readouterr().err == "zoo: interrupted\n"
    # Where the work was kept, the line says how it goes on.
    for command in ("train", "tune"):
        monkeypatch.setitem(cli._COMMANDS, command, interrupted)
    assert main(["train", "cnn_mnist", "--workdir", "runs/cnn"]) == 130
    assert capsys.readouterr().err == ("zoo: interrupted; rerun the same command to resume from "
                                       "the last completed epoch (kept in runs/cnn)\n")
    assert main(["train", "cnn_mnist"]) == 130
    assert capsys.readouterr().err == "zoo: interrupted\n"
    assert main(["tune", "cnn_mnist"]) == 130
    assert capsys.readouterr().err == ("zoo: interrupted; rerun the same command to continue the "
                                       "search from its finished trials (kept in "
                                       "tuning/cnn_mnist)\n")
    # SIGTERM (tests/test_termination.py): 143 = 128 + SIGTERM, in the same words.
    def terminated(args):
        raise Terminated

    monkeypatch.setitem(cli._COMMANDS, "tune", terminated)
    assert main(["tune", "cnn_mnist", "--directory", "tuning/cnn"]) == 143
    assert capsys.readouterr().err == ("zoo: terminated; rerun the same command to continue the "
                                       "search from its finished trials (kept in tuning/cnn)\n")


def test_ctrl_c_during_the_export_of_a_trained_run_says_what_became_of_both(
        tmp_path, monkeypatch, capsys):
    # It said "rerun the same command to resume from the last completed epoch": the training
    # had finished, and what the interrupt stopped was the export.
    data = write_digits_npz(tmp_path / "digits.npz", count=64)
    export = tmp_path / "export"
    real_export = zoo.export

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    def interrupted_after(*args, **kwargs):  # the export published, the interrupt just after
        real_export(*args, **kwargs)
        raise KeyboardInterrupt

    command = ["train", "mlp_mnist", "--data", str(data), "--epochs", "1", "--set",
               "units=(8,)", "--export", str(export)]
    monkeypatch.setattr(zoo, "export", interrupted)
    assert main([*command, "--workdir", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == (
        f"zoo: interrupted while exporting to {export}, which was not made; the trained run is "
        f"complete in {tmp_path / 'run'}: rerun "
        f"the same command to export it (nothing is trained again)\n")
    assert main(command) == 130
    assert capsys.readouterr().err.endswith(
        "; the trained model was not kept (no --workdir): rerunning the command trains it "
        "again\n")
    # zoo tune --export: the search is done, its export stopped.
    search = tmp_path / "search"
    assert main(["tune", "mlp_mnist", "--data", str(data), "--tuner", "random", "--max-trials",
                 "1", "--set", "epochs=1", "--set", "units=(8,)", "--directory", str(search),
                 "--export", str(export)]) == 130
    assert capsys.readouterr().err == (
        f"zoo: interrupted while exporting to {export}, which was not made; the search is "
        f"complete in {search}: rerun the same command "
        f"to export its best model (no trial runs again)\n")
    monkeypatch.setattr(zoo, "export", interrupted_after)
    assert main([*command, "--workdir", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == (
        f"zoo: interrupted after the export to {export} was complete: it is whole\n")
    assert zoo.load(export).kind == "image"
    # Stopped while replacing that export (--overwrite-export): the earlier one is kept.
    monkeypatch.setattr(zoo, "export", interrupted)
    assert main([*command, "--workdir", str(tmp_path / "run"), "--overwrite-export"]) == 130
    assert capsys.readouterr().err.startswith(
        f"zoo: interrupted while exporting to {export}, which was left as it was (the earlier "
        f"export there is intact); the trained run is complete")


@pytest.mark.parametrize("memory_error", ["tensorflow", "python"])
def test_running_out_of_memory_is_one_line_naming_the_batch_size(monkeypatch, capsys,
                                                                 memory_error):
    # A GPU's out-of-memory error during fit was TensorFlow's traceback.
    import tensorflow as tf

    def failing(args):
        if memory_error == "tensorflow":
            raise tf.errors.ResourceExhaustedError(
                None, None, "OOM when allocating tensor with shape[4096,4096]\nand more")
        raise MemoryError("Unable to allocate 12.0 GiB")

    monkeypatch.setitem(cli._COMMANDS, "list", failing)
    assert main(["list"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("zoo: error: out of memory (")
    assert "Lower the batch size (zoo train --batch-size N, zoo tune --set batch_size=N)" in error
    monkeypatch.setitem(cli._COMMANDS, "list", lambda args: 1 / 0)  # other errors: as they are
    with pytest.raises(ZeroDivisionError):
        main(["list"])


def test_home_in_path_options_is_expanded_as_the_shell_does(monkeypatch, tmp_path):
    # The shell expands `--workdir ~/runs` but not `--workdir=~/runs`.
    monkeypatch.setenv("HOME", str(tmp_path))
    args = cli._parser().parse_args(["train", "mlp_mnist", "--workdir=~/runs/a",
                                     "--export=~/exports/a", "--data", "~/digits.npz"])
    cli._expand_home(args)
    assert (args.workdir, args.export, args.data) == (
        f"{tmp_path}/runs/a", f"{tmp_path}/exports/a", f"{tmp_path}/digits.npz")


def test_list_of_a_plain_word_says_the_pattern_is_a_glob_and_the_filter_meant(capsys):
    # `zoo list cnn` printed only "no model matches.": the pattern matches whole names.
    assert main(["list", "cnn"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == ("no model matches 'cnn': the pattern matches whole names, as a shell glob "
                       "does. 'cnn' is a family: zoo list --family cnn (or zoo list '*cnn*' for "
                       "names containing it).")
    assert main(["list", "mnist"]) == 0
    assert "'mnist' is a dataset: zoo list --dataset mnist" in capsys.readouterr().out
    assert main(["list", "sst"]) == 0
    assert "For names containing it: zoo list '*sst*'." in capsys.readouterr().out
    assert main(["list", "cnn_mnsit"]) == 0  # misspelt: the names it is close to, as zoo info
    assert "Did you mean 'cnn_mnist'" in capsys.readouterr().out
    # A name the filters leave out, and a glob: nothing to add.
    assert main(["list", "cnn_mnist", "--family", "mlp"]) == 0
    assert capsys.readouterr().out == "no model matches.\n"


def test_an_output_naming_the_commands_input_is_refused_before_the_work(tmp_path, capsys,
                                                                        monkeypatch):
    # `--output` replaced the dataset evaluated, or the input predicted, with its results.
    data = write_digits_npz(tmp_path / "tiny_val.npz", count=10)
    sentences = tmp_path / "in.csv"
    sentences.write_text("id,sentence\n1,a fine film\n")
    model = tmp_path / "model.keras"
    model.write_text("stands in: the refusal comes before the model is read")
    kept = {path: path.read_bytes() for path in (data, sentences, model)}
    monkeypatch.chdir(tmp_path)
    for command, output, option, suggestion in [
        (["evaluate", "model.keras", "--data", str(data)], str(data), "--data",
         "JSON file path, e.g. --output tiny_val.report.json."),
        (["evaluate", "model.keras", "--data", "tiny_val.npz"], "./tiny_val.npz", "--data",
         "JSON file path, e.g. --output tiny_val.report.json."),
        (["predict", "model.keras", str(sentences)], str(sentences), "INPUT",
         "CSV file path, e.g. --output in.predictions.csv."),
        (["predict", str(model), str(sentences)], str(model), "MODEL",
         "CSV file path, e.g. --output model.predictions.csv."),
    ]:
        assert main([*command, "--output", output]) == 2
        error = capsys.readouterr().err.replace(f"{tmp_path}/", "")
        assert error.startswith(f"zoo: error: --output {Path(output).name} is the file of "
                                f"{option} ")
        assert error.endswith(f"would replace it. Expected a new {suggestion}\n")
        assert len(error.splitlines()) == 1
    # A hard link is the same file too.
    os.link(data, tmp_path / "linked.npz")
    assert main(["evaluate", "model.keras", "--data", str(data), "--output", "linked.npz"]) == 2
    assert "is the file of --data" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in kept} == kept
    # Another file is checked as before: this one gets as far as reading the stand-in model.
    assert main(["evaluate", "model.keras", "--data", str(data), "--output", "report.json"]) == 2
    assert "model.keras is not a readable .keras file" in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_an_output_replaces_only_an_earlier_output_and_no_file_of_zoos_folders(
        tmp_path, capsys, monkeypatch):
    # `zoo evaluate runs/x --output runs/x/config.json` replaced the run's configuration (the run
    # was then unreadable), and `--output script.py` a script, without a word.
    data = write_digits_npz(tmp_path / "digits.npz", count=10)
    model = tmp_path / "model.keras"
    model.write_text("stands in: the refusal comes before the model is read")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"entry": "mlp_mnist"}')
    (run / "report.json").write_text('{"accuracy": 1, "confusion": [], "per_class": []}')
    script = tmp_path / "script.py"
    script.write_text("print(df[df.probability > 0.9].class_id)\n")  # the column names, as code
    monkeypatch.chdir(tmp_path)
    evaluate = ["evaluate", "model.keras", "--data", str(data), "--output"]
    predict = ["predict", "model.keras", str(data), "--output"]
    for command, output, message in [
        (evaluate, "run/config.json", f"--output run/config.json is a file of a training "
         f"workdir ({run}), which zoo keeps for its own use; expected a JSON file path outside "
         f"it, e.g. --output run_config.report.json."),
        (evaluate, "run/report.json", "--output run/report.json is a file of a training workdir"),
        (evaluate, "script.py", "--output script.py exists and does not hold the report zoo "
         "wrote; zoo will not replace it. Expected a new file path, or an earlier output of "
         "this command: remove the file first if it is to go, or pick another name."),
        (predict, "script.py", "--output script.py exists and does not hold predictions zoo "
         "wrote; zoo will not replace it."),
    ]:
        assert main([*command, output]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"zoo: error: {message}"), error
        assert len(error.splitlines()) == 1
    assert script.read_text() == "print(df[df.probability > 0.9].class_id)\n"
    assert (run / "config.json").read_text() == '{"entry": "mlp_mnist"}'
    # A folder of one's own that holds a config.json is no workdir for the files zoo does not
    # keep there: an earlier output in it is replaced (it was refused as "a training workdir").
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.json").write_text('{"lr": 0.1}')
    (project / "preds.csv").write_text("class_id,label,probability\n")
    assert main([*predict, "project/preds.csv"]) == 2
    assert "model.keras is not a readable .keras file" in capsys.readouterr().err
    # An earlier output of the same kind, or an empty file, is checked as before: these get as
    # far as reading the stand-in model.
    (tmp_path / "old.json").write_text('{"accuracy": 1, "confusion": [], "per_class": []}')
    (tmp_path / "old.csv").write_text("class_id,label,probability\n3,3,0.9\n")
    (tmp_path / "empty.csv").touch()
    for command, output in [(evaluate, "old.json"), (predict, "old.csv"), (predict, "empty.csv")]:
        assert main([*command, output]) == 2
        assert "model.keras is not a readable .keras file" in capsys.readouterr().err
    # Predictions of long texts in each format are recognised (the columns came after 4,096
    # characters of text), and a script naming the columns is not.
    import pandas as pd

    frame = pd.DataFrame({"text": ["word " * 5000], "class_id": [1], "probability": [0.9]})
    for ending in cli.PREDICTION_FORMATS:
        (tmp_path / f"long{ending}").write_text(cli.predictions_text(frame, ending))
        assert cli._earlier_output(tmp_path / f"long{ending}", "predictions"), ending
    assert not cli._earlier_output(script, "predictions")


@pytest.mark.parametrize("export, workdir, relation", [
    ("D", "D", "is"), ("D/export", "D", "lies in"), ("E", "E/run", "holds"),
])
def test_an_export_sharing_the_runs_folder_is_refused_before_training(
    tmp_path, capsys, monkeypatch, export, workdir, relation,
):
    # `--workdir D --export D` trained in full, then failed ("Remove it yourself"), and with
    # --overwrite-export over an export at D the export replaced the run just saved.
    monkeypatch.chdir(tmp_path)
    data = write_digits_npz(tmp_path / "digits.npz", count=20)
    for command, place in [(["train", "mlp_mnist", "--epochs", "1"], "--workdir"),
                           (["tune", "mlp_mnist", "--max-trials", "1"], "--directory")]:
        assert main([*command, "--data", str(data), place, workdir, "--export", export,
                     "--overwrite-export"]) == 2
        error = capsys.readouterr().err
        what = "the --workdir" if place == "--workdir" else "the search's --directory"
        outer = "E" if relation == "holds" else "D"
        assert error == (f"zoo: error: cannot export to {export}: it {relation} {what} "
                         f"{workdir}, and replacing or removing one would delete the other. "
                         f"Expected an export path apart from it, e.g. {outer}_export.\n")
        assert not (tmp_path / "D").exists() and not (tmp_path / "E").exists()  # nothing ran
    # tune's default directory, tuning/NAME, is kept apart from the export too.
    assert main(["tune", "mlp_mnist", "--data", str(data), "--export", "tuning"]) == 2
    assert "it holds the search's --directory tuning/mlp_mnist" in capsys.readouterr().err


def test_characters_the_output_encoding_lacks_are_escaped_not_fatal(monkeypatch):
    # PYTHONIOENCODING=ascii: the arrow in cnn_mnist's description raised UnicodeEncodeError
    # (and, in `zoo train`, a class name did so after training, before the export).
    raw = io.BytesIO()
    ascii_stdout = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", ascii_stdout)
    assert main(["info", "cnn_mnist"]) == 0
    ascii_stdout.flush()
    assert "Conv32 \\u2192 pool" in raw.getvalue().decode("ascii")
    assert ascii_stdout.errors == "strict"  # the stream's own setting, back


def test_a_closed_pipe_stops_the_command_at_a_log_line_too(monkeypatch):
    # `zoo train ... | head -1`: logging printed "--- Logging error ---" with a traceback for
    # its line, and the run trained on; a print stopped it (exit 141) only later.
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    with pytest.raises(BrokenPipeError), terminal.progress_messages():
        logging.getLogger("zoo").info("training cnn_mnist from epoch 1 to 40")


def test_a_stdout_that_cannot_be_reconfigured_is_written_as_it_is(monkeypatch):
    # A notebook's or a test's stream (no reconfigure): the escaping is skipped, not fatal.
    written = io.StringIO()
    monkeypatch.setattr(sys, "stdout", written)
    assert main(["list", "cnn_mnist"]) == 0
    assert written.getvalue().splitlines()[-1].startswith("cnn_mnist")


def test_a_log_line_that_fails_for_another_reason_is_reported_and_the_command_goes_on(
        monkeypatch, capsys):
    # Only a closed pipe stops the command (above); another write error is logging's to report.
    class FullDisk(io.StringIO):
        def write(self, text):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", FullDisk())
    with terminal.progress_messages():
        logging.getLogger("zoo").info("training cnn_mnist from epoch 1 to 40")
    reported = capsys.readouterr().err
    assert "--- Logging error ---" in reported and "No space left on device" in reported


def test_a_tensorflow_that_fails_to_import_raises_its_own_error_with_stderr_back(monkeypatch,
                                                                                  tmp_path):
    # Where TensorFlow itself fails (not the backend setting), its error is the one to see,
    # raised after file descriptor 2 points at the terminal again.
    import builtins

    real_import = builtins.__import__

    def tensorflow_fails(name, *args, **kwargs):
        if name == "tensorflow":
            raise ImportError("libtensorflow_framework.so.2: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "tensorflow")  # put back by monkeypatch
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no keras.json: the default, TensorFlow
    monkeypatch.setattr(builtins, "__import__", tensorflow_fails)
    before = os.fstat(2)
    with pytest.raises(ImportError, match="libtensorflow_framework.so.2: cannot open"):
        terminal.start_tensorflow_quietly()
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_a_keras_backend_that_does_not_import_is_one_line():
    done = run_zoo("info", "cnn_mnist", env={"KERAS_BACKEND": "nonexistent"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "zoo: error: Keras cannot start its backend: KERAS_BACKEND=nonexistent does not import "
        "(Unable to import backend : nonexistent); expected tensorflow or jax. Install that "
        "backend, or set KERAS_BACKEND=tensorflow (zoo trains on TensorFlow; JAX builds models "
        "and serves exports).")
    # Listing needs no backend at all: it lists, and the next command that builds says the above.
    listed = run_zoo("list", env={"KERAS_BACKEND": "nonexistent"})
    assert listed.returncode == 0, listed.stderr
    assert "cnn_mnist" in listed.stdout and listed.stderr == ""


def test_a_tensorflow_that_fails_to_import_is_not_blamed_on_the_backend_setting(
        tmp_path, monkeypatch):
    # Keras imports TensorFlow where it is the backend: a broken TensorFlow was reported as a
    # backend setting to change.
    module = os.path.join(str(tmp_path), "keras", "src", "backend", "__init__.py")
    try:
        exec(compile("raise ImportError('libtensorflow_framework.so.2: cannot open')", module,
                     "exec"))
    except ImportError as raised:
        error = raised
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert terminal._backend_error(error) is None  # the default backend: TensorFlow's own error
    (tmp_path / "keras.json").write_text('{"backend": "torch"}')
    assert f'"backend": "torch" in {tmp_path / "keras.json"} does not import' in str(
        terminal._backend_error(error))
