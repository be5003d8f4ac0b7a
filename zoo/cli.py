"""The `zoo` command: a thin layer over the public API. It parses, calls and prints; no logic.

    zoo list ['*_mnist'] [--family cnn]
    zoo info cnn_mnist
    zoo train cnn_mnist --data ../shared/datasets/mnist_8k.npz --epochs 3 --workdir runs/cnn
    zoo evaluate runs/cnn --data digits.npz
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# TensorFlow's C++ start-up chatter (CUDA probing, CPU flags) is noise on a command line.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _override(text: str) -> tuple[str, Any]:
    """KEY=VALUE, VALUE read as a Python literal when it is one (3, 0.5, (64, 64), True)."""
    key, separator, raw = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. dropout=0.3), got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="A Keras/TensorFlow model zoo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list registered models")
    listing.add_argument("include", nargs="?", default="*", help="glob pattern, e.g. '*_mnist'")
    listing.add_argument("--exclude", default=None, help="glob pattern to leave out")
    listing.add_argument("--family")
    listing.add_argument("--task")
    listing.add_argument("--dataset")

    info = commands.add_parser("info", help="show one entry's spec and recipe")
    info.add_argument("name")

    training = commands.add_parser("train", help="train and evaluate an entry")
    training.add_argument("name")
    training.add_argument("--data", help="a .npz/.csv/.tsv file, an image folder, or tfds:NAME")
    training.add_argument("--validation-data", help="evaluation data (default: 10%% hold-out of --data)")
    training.add_argument("--epochs", type=_positive_int)
    training.add_argument("--batch-size", type=_positive_int)
    training.add_argument("--seed", type=_non_negative_int, default=0)
    training.add_argument("--workdir", help="checkpoints, history.csv, logs; rerun to resume")
    training.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                          metavar="KEY=VALUE", help="override a hyperparameter or recipe field")

    evaluation = commands.add_parser("evaluate", help="evaluate a trained run or .keras model")
    evaluation.add_argument("model", help="a training workdir, or a .keras file of an image entry")
    evaluation.add_argument("--data", required=True, help="labelled data, as for train --data")
    return parser


def _cmd_list(args: argparse.Namespace) -> None:
    import zoo

    frame = zoo.models_frame(args.include, args.exclude, family=args.family, task=args.task,
                             dataset=args.dataset, params=False)
    if frame.empty:
        print("no model matches.")
        return
    columns = ["name", "family", "dataset", "input_shape", "num_classes", "reference_accuracy"]
    print(frame[columns].to_string(index=False))


def _cmd_info(args: argparse.Namespace) -> None:
    import dataclasses

    import zoo

    spec = zoo.get_spec(args.name)
    print(f"{spec.name}: {spec.family} on {spec.dataset} ({spec.task}, {spec.num_classes} classes)")
    print(f"  input: {dataclasses.asdict(spec.input)}")
    print(f"  hyperparameters: {dict(spec.hyperparameters)}")
    print(f"  recipe: {dataclasses.asdict(spec.recipe)}")
    if spec.reference:
        print(f"  reference accuracy: {spec.reference.accuracy} ({spec.reference.source})")
        if spec.reference.note:
            print(f"    {spec.reference.note}")
    print(f"  parameters: {zoo.build(args.name, compile=False).count_params():,}")


def _cmd_train(args: argparse.Namespace) -> None:
    import zoo

    result = zoo.train(
        args.name,
        args.data,
        args.validation_data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        workdir=args.workdir,
        **dict(args.overrides),
    )
    print()
    print(result.history.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print()
    print(result.report)
    if result.workdir is not None:
        print(f"\nrun saved in {result.workdir}")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import keras

    import zoo
    from zoo.errors import DataError

    path = Path(args.model)
    preprocessor = None
    if path.is_dir():
        config_path = path / "config.json"
        model_path = path / "model.keras" if (path / "model.keras").exists() else path / "best.keras"
        if not config_path.exists() or not model_path.exists():
            raise DataError(f"{path} is not a finished zoo training workdir (no config.json and model.keras).")
        config = json.loads(config_path.read_text())
        spec = zoo.get_spec(config["entry"]).with_overrides(**config.get("overrides", {}))
        if spec.input.kind == "text":
            from zoo.data import Preprocessor

            preprocessor = Preprocessor.load(path / "preprocessor", spec)
    elif path.suffix == ".keras" and path.is_file():
        model_path = path
        spec = None
    else:
        raise DataError(f"{path} is neither a training workdir nor a .keras file.")
    model = keras.saving.load_model(model_path)  # safe_mode: no arbitrary code from the file
    spec = spec or zoo.get_spec(model.name)
    if spec.input.kind == "text" and preprocessor is None:
        raise DataError(
            f"{model_path} is a text model; its vocabulary lives in the training workdir. "
            f"Pass the workdir instead of the .keras file."
        )
    print(zoo.evaluate(model, args.data, spec=spec, preprocessor=preprocessor))


_COMMANDS = {"list": _cmd_list, "info": _cmd_info, "train": _cmd_train, "evaluate": _cmd_evaluate}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `zoo` command; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = _parser().parse_args(argv)
    from zoo.errors import ZooError

    try:
        _COMMANDS[args.command](args)
    except ZooError as error:
        print(f"zoo: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
