"""The `zoo` command: a thin layer over the public API. It parses, calls and prints; no logic.

    zoo list ['*_mnist'] [--family cnn]
    zoo info cnn_mnist
    zoo train cnn_mnist --data ../shared/datasets/mnist_8k.npz --epochs 3 --workdir runs/cnn
    zoo evaluate runs/cnn --data digits.npz
    zoo export runs/cnn exports/cnn
    zoo train lstm_sst2 --data ../shared/datasets/sst2/train.tsv --export exports/lstm_sst2
    zoo predict exports/lstm_sst2 sentences.txt --output predictions.csv
    zoo tune cnn_mnist --data ../shared/datasets/mnist_8k.npz --tuner random --max-trials 8 \
        --epochs 3 --directory tuning/cnn_mnist --export exports/cnn_mnist_tuned
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import shlex
import signal
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import pandas as pd

from zoo.terminal import (
    progress_messages,
    start_tensorflow_quietly,
    unencodable_output_escaped,
)

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


def _seed(text: str) -> int:
    from zoo import checks
    from zoo.errors import InvalidValueError

    try:
        return checks.seed("--seed", int(text))
    except (ValueError, InvalidValueError):
        raise argparse.ArgumentTypeError(
            f"expected an integer from 0 to {checks.MAX_SEED}, got {text!r}"
        ) from None


def _override(text: str) -> tuple[str, Any]:
    """KEY=VALUE, VALUE read as a Python literal when it is one (3, 0.5, (64, 64), True);
    true and false as on most command lines."""
    key, separator, raw = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. dropout=0.3), got {text!r}")
    if raw.strip() in ("true", "false"):
        return key.strip(), raw.strip() == "true"
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _class_names(text: str) -> tuple[str, ...]:
    """--class-names neg,neutral,pos: the names in id order."""
    names = tuple(name.strip() for name in text.split(","))
    if len(names) < 2 or not all(names):
        raise argparse.ArgumentTypeError(
            f"expected class names separated by commas, at least two, e.g. neg,neutral,pos; "
            f"got {text!r}"
        )
    return names


def _add_class_names_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--class-names", metavar="A,B,...", type=_class_names,
                         help="every class's name in id order, for named labels (default: the "
                              "entry's names, else the data's, sorted)")


def _add_reading_options(command: argparse.ArgumentParser) -> None:
    """How data is read: where TFDS datasets (tfds:NAME, or an entry's own without --data) are
    prepared, and which columns of .csv/.tsv files hold the text and the labels."""
    command.add_argument("--data-dir", metavar="DIR",
                         help="folder where TFDS datasets are prepared (default: "
                              "$TFDS_DATA_DIR or ~/tensorflow_datasets)")
    command.add_argument("--no-download", dest="download", action="store_false",
                         help="fail instead of downloading a TFDS dataset not prepared there")
    command.add_argument("--text-column", metavar="NAME",
                         help="column of .csv/.tsv data holding the text (default: sentence, "
                              "else text)")
    command.add_argument("--label-column", metavar="NAME", default="label",
                         help="column of .csv/.tsv data holding the labels (default: label)")


def _reading_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `_add_reading_options`' options, for zoo.train/tune/evaluate."""
    return {"data_dir": args.data_dir, "download": args.download,
            "text_column": args.text_column, "label_column": args.label_column}


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line as zoo's other errors are (argparse prints its
    usage block first); the sub-commands' parsers are made of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from zoo import __version__  # zoo/__init__ imports no TensorFlow: --help stays fast

    parser = _Parser(prog="zoo", description="A Keras/TensorFlow model zoo.")
    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list registered models")
    listing.add_argument("include", nargs="?", default="*", help="glob pattern, e.g. '*_mnist'")
    listing.add_argument("--exclude", default=None, help="glob pattern to leave out")
    listing.add_argument("--family", help="only this family: mlp, cnn, lstm, transformer")
    listing.add_argument("--task",
                         help="only this task: image_classification or text_classification")
    listing.add_argument("--dataset", help="only entries of this dataset, e.g. mnist, glue/sst2")

    info = commands.add_parser("info", help="show one entry's spec and recipe, or what an "
                                            "export holds")
    info.add_argument("name", help="a registered entry (zoo list), or a zoo export directory")

    training = commands.add_parser("train", help="train and evaluate an entry")
    training.add_argument("name", help="a registered entry (zoo list)")
    training.add_argument("--data", help="a .npz/.csv/.tsv file, a folder of class folders "
                          "(images or .txt files), or tfds:NAME")
    training.add_argument("--validation-data",
                          help="evaluation data (default: a seeded 10%% hold-out of --data; "
                          "for a TFDS dataset, its labelled test split)")
    training.add_argument("--epochs", type=_positive_int, help="default: the recipe's")
    training.add_argument("--batch-size", type=_positive_int, help="default: the recipe's")
    training.add_argument("--seed", type=_seed, default=0,
                          help="seeds weights (with --weights, the new head's), shuffling, "
                               "augmentation and the hold-out")
    training.add_argument("--workdir", help="checkpoints, history.csv, logs; rerun to resume")
    training.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                          metavar="KEY=VALUE",
                          help="override a hyperparameter or recipe field (dropout=0.3, "
                               "learning_rate=1e-4), or set a zoo.train option (jit_compile=True)")
    _add_class_names_option(training)
    training.add_argument("--weights", metavar="PATH",
                          help="start from trained weights: a workdir, an export, a .keras "
                               "or a .weights.h5 file (fine-tuning; the head is new when "
                               "num_classes differs)")
    training.add_argument("--freeze-backbone", action="store_true",
                          help="with --weights: train the classifier head only")
    training.add_argument("--export", metavar="DIR",
                          help="after training, export a SavedModel serving raw inputs to DIR")
    training.add_argument("--overwrite-export", action="store_true",
                          help="replace an earlier zoo export at --export DIR")
    _add_reading_options(training)

    evaluation = commands.add_parser("evaluate",
                                     help="evaluate a trained run, an export or a .keras model")
    evaluation.add_argument("model", help="a training workdir, a zoo export, or a .keras file of "
                            "an image entry")
    evaluation.add_argument("--data", required=True, help="labelled data, as for train --data")
    evaluation.add_argument("--output", metavar="JSON",
                            help="also write the report here (as a workdir's report.json); "
                                 "- prints the JSON alone instead of the table. An existing "
                                 "file is replaced only if it is an earlier report or empty")
    _add_reading_options(evaluation)

    tuning = commands.add_parser("tune", help="search an entry's hyperparameters (resumable)")
    tuning.add_argument("name", help="a registered entry with a search space (zoo info NAME)")
    tuning.add_argument("--data", help="training data, as for train --data")
    tuning.add_argument("--validation-data",
                        help="scoring data (default: a seeded 10%% hold-out of --data; for a "
                        "TFDS dataset, the last 10%% of its train split)")
    # Values are checked by zoo.tune, so a bad one reads as one line, as every other error does.
    tuning.add_argument("--tuner", default="hyperband",
                        help="random, bayesian or hyperband (default)")
    tuning.add_argument("--max-trials", type=int, default=10,
                        help="trials in all, earlier runs included (default: 10)")
    tuning.add_argument("--epochs", type=int, help="per trial (hyperband: the most per trial)")
    tuning.add_argument("--seed", type=_seed, default=0,
                        help="seeds the tuner, the data order and hold-out, and initial weights")
    tuning.add_argument("--objective", default="val_accuracy",
                        help="val_accuracy (default), val_loss, accuracy or loss")
    tuning.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                        metavar="KEY=VALUE",
                        help="set a hyperparameter or recipe field for every trial (for a "
                             "searched one, its default: hold it with --fix), e.g. "
                             "vocab_size=20000, or a zoo.tune option (jit_compile=False)")
    tuning.add_argument("--fix", dest="fixed", type=_override, action="append", default=[],
                        metavar="NAME=VALUE",
                        help="hold a searched hyperparameter at VALUE in every trial, e.g. "
                             "dropout=0.3 (NAME: a trials.csv column other than Hyperband's "
                             "tuner/*)")
    tuning.add_argument("--directory",
                        help="the search's directory (default: tuning/NAME); rerun to continue")
    tuning.add_argument("--overwrite", action="store_true", help="start afresh in --directory")
    _add_class_names_option(tuning)
    tuning.add_argument("--export", metavar="DIR", help="export the best model to DIR")
    tuning.add_argument("--overwrite-export", action="store_true",
                        help="replace an earlier zoo export at --export DIR")
    _add_reading_options(tuning)

    exporting = commands.add_parser(
        "export", help="export a finished run as a SavedModel that serves raw inputs",
        description="Export the model of a finished `zoo train --workdir` run (or an image "
                    "entry's .keras file) to DIR, as `zoo train --export DIR` does at the end "
                    "of training; nothing is trained again. A search's best model is exported "
                    "by rerunning its `zoo tune` command with --export DIR.")
    exporting.add_argument("model", help="a training workdir, or a .keras file of an image entry")
    exporting.add_argument("export", metavar="DIR", help="the export directory to write")
    exporting.add_argument("--overwrite", "--overwrite-export", dest="overwrite_export",
                           action="store_true", help="replace an earlier zoo export at DIR")

    prediction = commands.add_parser("predict", help="classify raw images or sentences")
    prediction.add_argument("model", help="a zoo export, a training workdir, or a .keras file "
                            "of an image entry")
    prediction.add_argument("input", help="an image file (PNG, JPEG, BMP, GIF), a folder of "
                            "images or .txt files, .npz (array x of uint8 images, or floats in "
                            "[0, 1]), .txt (a sentence per line), or .csv/.tsv with a sentence "
                            "or text column")
    prediction.add_argument("--text-column", metavar="NAME",
                            help="column of a .csv/.tsv input holding the text (default: "
                                 "sentence, else text, else the only column)")
    prediction.add_argument("--output", metavar="FILE",
                            help="also write the predictions here, each beside its input's "
                                 "file, .txt line number or .csv/.tsv row (every column kept; "
                                 "one named as a prediction column, such as label, becomes "
                                 "input_label), as the ending says: .csv, .tsv, .json (a list "
                                 "of records) or .jsonl (a record per line); - prints them "
                                 "alone as CSV instead of the table. An existing file is "
                                 "replaced only if it holds earlier predictions or is empty")
    return parser


def _cmd_list(args: argparse.Namespace) -> None:
    import zoo

    frame = zoo.models_frame(args.include, args.exclude, family=args.family, task=args.task,
                             dataset=args.dataset, params=False)
    if frame.empty:
        from zoo.registry import check_filters

        check_filters(family=args.family, task=args.task, dataset=args.dataset)  # a misspelling?
        print(f"no model matches{_no_match_hint(args.include)}")
        return
    columns = ["name", "family", "dataset", "input_shape", "num_classes", "reference_accuracy",
               "measured_accuracy"]
    # One format whatever the filter leaves; "-": not measured (NaN means nothing to a reader).
    print(frame[columns].to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4f}"))


def _no_match_hint(pattern: str) -> str:
    """Why a plain word (`zoo list cnn`) matched nothing: the pattern is a glob over whole names,
    so users reaching for a substring or a family get the filter or glob they meant ("." when
    there is nothing to add)."""
    import zoo

    if any(character in pattern for character in "*?[") or pattern in zoo.list_models():
        return "."  # a glob already, or a name the other filters left out
    frame = zoo.models_frame(params=False)
    containing = f"zoo list {shlex.quote(f'*{pattern}*')}"
    hint = f" For names containing it: {containing}."
    from zoo.errors import close_matches

    near = close_matches(pattern, zoo.list_models())
    if near:  # a misspelt name (cnn_mnsit): the names it is close to
        hint = f" Did you mean {', '.join(repr(name) for name in near)}?{hint}"
    for field in ("family", "dataset", "task"):
        if pattern in set(frame[field]):
            hint = (f" {pattern!r} is a {field}: zoo list --{field} {shlex.quote(pattern)} (or "
                    f"{containing} for names containing it).")
            break
    return f" {pattern!r}: the pattern matches whole names, as a shell glob does.{hint}"


def _cmd_info(args: argparse.Namespace) -> None:
    import dataclasses

    import zoo
    from zoo.serving.archive import is_export

    if _names_a_path(args.name):
        _print_export(args.name)
        return
    spec = zoo.get_spec(args.name)
    if is_export(args.name):  # an export folder named as the entry, in the current directory
        print(f"(./{args.name} is an export too: zoo info ./{args.name} shows it)")
    print(f"{spec.name}: {spec.family} on {spec.dataset} ({spec.task}, {spec.num_classes} classes)")
    if spec.description:
        print(textwrap.indent(spec.description, "  "))
    if spec.class_names:
        print(f"  classes: {', '.join(spec.class_names)}")
    if spec.tags:
        print(f"  tags: {dict(spec.tags)}")
    print(f"  input: {dataclasses.asdict(spec.input)}")
    print(f"  hyperparameters: {dict(spec.hyperparameters)}")
    print(f"  recipe: {dataclasses.asdict(spec.recipe)}")
    if spec.reference:
        print(f"  reference accuracy: {spec.reference.accuracy} ({spec.reference.source})")
        if spec.reference.note:
            print(f"    {spec.reference.note}")
        if spec.reference.measured is not None:
            print(f"  measured with this recipe: {spec.reference.measured} "
                  f"({spec.reference.measured_on})")
    print(f"  parameters: {zoo.build(args.name, compile=False).count_params():,}")
    if not spec.search_space:
        print("  hyperparameter search: no search space")
        return
    from zoo.tuning.hypermodels import SearchSpaceError

    try:
        frame = zoo.hypermodel(args.name).space_frame()
    except SearchSpaceError as error:  # an entry's own space that fails: the rest is shown
        print(f"  hyperparameter search: {error}")
        return
    if frame.empty:
        print("  hyperparameter search: a search space without hyperparameters")
        return
    # The names --fix and --set take, and what zoo tune draws from.
    print("  hyperparameter search (zoo tune; hold one with --fix NAME=VALUE):")
    if not frame["searched when"].any():
        frame = frame.drop(columns="searched when")
    print(textwrap.indent(_left_aligned(frame), "    "))


def _names_a_path(name: str) -> bool:
    """Whether `zoo info NAME` is about a path (an export) rather than a registered entry: a
    name with a folder in it, or one that is no entry but exists; an entry's name wins over a
    folder of that name in the current directory (a workdir named after its entry)."""
    from zoo.registry import list_models

    if os.sep in name or (os.altsep and os.altsep in name):
        return True
    return name not in list_models() and Path(name).exists()


def _print_export(name: str) -> None:
    """What an export's zoo.json says, for a deployer: the model, its classes and signature,
    how it was trained and scored, and the parity check (read without loading the model)."""
    from zoo.errors import DataError
    from zoo.serving.archive import is_export, read_metadata
    from zoo.serving.paths import missing_model, what_it_holds

    path = Path(name)
    if not is_export(path):
        missing = missing_model(path, "a zoo export directory")
        if missing is not None:
            raise missing
        from zoo.io import directory_kind

        holds = what_it_holds(path)
        if directory_kind(path) == "run":
            holds = (f" It is a training workdir: zoo export {path} DIR exports its model, and "
                     f"zoo evaluate {path} --data SRC scores it.")
        raise DataError(
            f"{path} is not a zoo export (it has no saved_model.pb and assets.extra/zoo.json); "
            f"expected an export directory or an entry's name (zoo list).{holds}"
        )
    metadata = read_metadata(path)
    signature, training = metadata.get("signature") or {}, metadata.get("training") or {}

    def told(value: Any) -> Any:  # keys an edited or older zoo.json lacks
        return "not recorded" if value is None else value

    exported = metadata.get("exported_at")
    print(f"{path}: an export of {told(metadata.get('entry'))} ({told(metadata.get('family'))} "
          f"on {told(metadata.get('dataset'))}, {metadata['num_classes']} classes), "
          f"{f'exported {exported}' if exported else 'export time not recorded'}")
    if metadata.get("class_names"):
        print(f"  classes: {', '.join(map(str, metadata['class_names']))}")
    inputs = signature.get("input") or {}
    if inputs:
        print(f"  {signature.get('name')}: {inputs.get('name')} {inputs.get('dtype')} "
              f"{inputs.get('shape')} -> {', '.join(signature.get('outputs') or [])}")
    from zoo.errors import count_text

    if training.get("data") is None:  # exported from a .keras file or a model in memory
        print("  training: not recorded (exported from a model, not from its run)")
    else:
        trained = [f"data {training['data']}", f"seed {training.get('seed')}"]
        if isinstance(training.get("epochs"), int):
            trained.append(count_text(training["epochs"], "epoch"))
        if training.get("best_epoch") is not None:  # recorded by exports since 2026-11-27
            trained.append(f"exported epoch {training['best_epoch']}")
        print(f"  training: {', '.join(trained)}; overrides {training.get('overrides') or {}}")
    print(f"  hyperparameters: {metadata.get('hyperparameters')}")
    evaluation = metadata.get("evaluation") or {}
    accuracy = evaluation.get("accuracy")
    if isinstance(accuracy, (int, float)):
        print(f"  evaluation: accuracy {accuracy:.4f} on {told(evaluation.get('num_examples'))} "
              f"examples, {metadata.get('evaluation_data') or 'of the run'}")
    parity = metadata.get("parity") or {}
    if parity:
        print(f"  parity with the trained model: "
              f"{'passed' if parity.get('passed') else 'FAILED'} (max difference "
              f"{told(parity.get('max_abs_difference'))})")
    print(f"  versions: {told(metadata.get('versions'))}")


def _left_aligned(frame: pd.DataFrame) -> str:
    """`frame` as text with every column aligned left (pandas aligns text right), index left out."""
    text = frame.astype(str)
    widths = {column: max([len(str(column)), *text[column].str.len()]) for column in text}
    lines = ["  ".join(str(column).ljust(widths[column]) for column in text).rstrip()]
    lines += ["  ".join(value.ljust(widths[column]) for column, value in row.items()).rstrip()
              for _, row in text.iterrows()]
    return "\n".join(lines)


def _check_export_target(args: argparse.Namespace, directory: str | os.PathLike | None,
                         what: str) -> None:
    """Refuse a bad --export DIR now, not after the training or search it would end; also one
    that is, holds or lies in `directory` (the run's --workdir or the search's --directory), as
    replacing or removing either would delete the other."""
    if args.export:
        from zoo.serving.archive import check_apart, check_target

        if directory is not None:
            check_apart(args.export, directory, what)
        check_target(args.export, overwrite=args.overwrite_export)


# --set KEY=VALUE for what has its own option: the option's value, or a clear refusal.
_OPTIONS_OF_TRAIN = {"epochs": "--epochs", "batch_size": "--batch-size", "seed": "--seed",
                     "workdir": "--workdir", "data": "--data",
                     "validation_data": "--validation-data", "data_dir": "--data-dir",
                     "download": "--no-download", "text_column": "--text-column",
                     "label_column": "--label-column", "class_names": "--class-names",
                     "weights": "--weights", "freeze_backbone": "--freeze-backbone"}
_OPTIONS_OF_TUNE = {"epochs": "--epochs", "seed": "--seed", "directory": "--directory",
                    "data": "--data", "validation_data": "--validation-data", "tuner": "--tuner",
                    "max_trials": "--max-trials", "objective": "--objective",
                    "overwrite": "--overwrite", "data_dir": "--data-dir",
                    "download": "--no-download", "fixed": "--fix",
                    "text_column": "--text-column", "label_column": "--label-column",
                    "class_names": "--class-names"}
# Recipe fields that have an option too: --set epochs=3 means --epochs 3 when that is not given.
_RECIPE_OPTIONS = ("epochs", "batch_size")


def _call_arguments(
    args: argparse.Namespace, arguments: dict[str, Any], options: dict[str, str],
    function: Any,
) -> dict[str, Any]:
    """The keyword arguments of `function` (zoo.train or zoo.tune): `arguments` (from the
    options) and the --set pairs, which may not stand in for another option."""
    from zoo.errors import InvalidValueError

    overrides = dict(args.overrides)
    for key in ("name", "name_or_model"):  # zoo.tune's and zoo.train's first parameters
        if key in overrides:
            raise InvalidValueError(
                f"--set {key}={overrides[key]!r} is not an override: NAME, the command's first "
                f"argument, is the entry, and a model is named after its entry."
            )
    for key, option in options.items():
        if key not in overrides:
            continue
        value = overrides.pop(key)
        if key in _RECIPE_OPTIONS:
            if arguments.get(key) is None:
                arguments[key] = value
                continue
            already = f" (given as {arguments[key]!r} already)"
        else:
            already = ""  # an option with a default: given or not, it is the way to set it
        raise InvalidValueError(f"--set {key}={value!r} is not an override: use {option}{already}.")
    _check_set_keys(args.name, overrides, function, options)
    return {**arguments, **overrides}


def _check_set_keys(name: str, overrides: dict[str, Any], function: Any,
                    options: dict[str, str]) -> None:
    """Refuse a --set key that is neither the entry's override nor an option of `function`
    without a flag of its own, listing both kinds (the entry's error listed its overrides only,
    though --help offers the options, jit_compile=True among them)."""
    import zoo
    from zoo.errors import unknown_name

    keywords = [parameter.name for parameter in inspect.signature(function).parameters.values()
                if parameter.kind is parameter.KEYWORD_ONLY]
    settable = sorted(set(keywords) - set(options) - {"callbacks"})
    valid = set(zoo.get_spec(name).valid_overrides()) | set(settable)
    for key in overrides:
        if key not in valid:
            raise unknown_name(
                "--set key", key, valid, max_listed=None,
                hint=f"--set takes {name}'s builder arguments and recipe fields (zoo info "
                     f"{name}) and these {function.__module__.split('.')[0]}.{function.__name__} "
                     f"options: {', '.join(settable)}.",
            )


def _train_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """zoo.train's keyword arguments from the options and --set pairs."""
    import zoo

    arguments = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
                 "workdir": args.workdir, "class_names": args.class_names,
                 **_reading_arguments(args)}
    return _call_arguments(args, arguments, _OPTIONS_OF_TRAIN, zoo.train)


def _starting_model(args: argparse.Namespace, arguments: dict[str, Any]) -> Any:
    """With --weights: the entry built from those weights with the --set values that shape it
    (builder arguments, recipe fields), as `zoo.build(name, weights=..., ...)`; else None."""
    import zoo
    from zoo.errors import InvalidValueError

    if args.weights is None:
        if args.freeze_backbone:
            raise InvalidValueError(
                "--freeze-backbone needs --weights PATH, the trained model (a workdir, .keras "
                "file or export) whose layers it keeps as they are."
            )
        return None
    valid = set(zoo.get_spec(args.name).valid_overrides())
    shaping = {key: value for key, value in arguments.items()
               if key in valid and value is not None}
    _seed_before_building(arguments)
    return zoo.build(args.name, weights=args.weights, freeze_backbone=args.freeze_backbone,
                     **shaping)


def _seed_before_building(arguments: dict[str, Any]) -> None:
    """Seed Keras with the run's seed before the starting model is built: its new head (and any
    layer the weights do not fill) is initialized then, before zoo.train seeds, and --seed must
    make a fine-tuning run repeatable as it makes a run by name."""
    import keras

    seed = arguments.get("seed")
    keras.utils.set_random_seed(0 if seed is None else seed)  # zoo.train's default seed: 0


def _cmd_train(args: argparse.Namespace) -> None:
    import zoo

    _check_export_target(args, args.workdir, "the --workdir")
    arguments = _train_arguments(args)
    model = _starting_model(args, arguments)
    result = zoo.train(args.name if model is None else model, args.data, args.validation_data,
                       **arguments)
    print()
    # The learning rate in significant digits: a decayed 2e-05 is not 0.0000.
    print(result.history.to_string(index=False, float_format=lambda v: f"{v:.4f}",
                                   formatters={"learning_rate": lambda v: f"{v:.3g}"}))
    print()
    print(result.report)
    scored = _scored_epoch(result)
    if scored:
        print(f"\n{scored}")
    if result.workdir is not None:
        print(f"\nrun saved in {result.workdir}")
    elif not args.export:  # trained, reported, and gone when the command ends: say so
        print("\nthe model was not kept: --workdir DIR keeps the run (and resumes it), "
              "--export DIR serves it")
    if args.export:
        worker = result.policy.worker if result.policy is not None else 0
        if worker != 0:
            # Every worker holds the same model; a second export would find the chief's there.
            print(f"\nnot exporting from worker {worker}: the chief (task 0) exports to "
                  f"{args.export}")
            return
        # Says where, and its parity check, as a progress message.
        args.exporting = _export_identity(args.export)  # a Ctrl-C now stops the export
        zoo.export(result, args.export, overwrite=args.overwrite_export)


def _scored_epoch(result: Any) -> str:
    """Which epoch a run's evaluation table is of, where its hold-out chose it (the README's
    "slightly optimistic" said on screen), else ""."""
    from zoo.training.callbacks import chosen_by_validation

    monitor = result.spec.recipe.monitor
    if not chosen_by_validation(monitor, len(result.history), result.best_epoch):
        return ""
    data = ("validation data" if (result.run_config or {}).get("validation_data")
            else "hold-out")
    return (f"(scored: the model of epoch {result.best_epoch}, chosen as the best by {monitor} "
            f"on this same {data}, so the score reads slightly optimistic; zoo evaluate scores "
            f"data no choice saw)")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import zoo
    from zoo.io import atomic_write_json, json_text

    if args.output:
        _check_output_file(args.output, "the report", (".json",),  # before the evaluation
                           {"--data": args.data, "MODEL": args.model})
    # A workdir, an export or a .keras file.
    report = zoo.evaluate(args.model, args.data, **_reading_arguments(args))
    if args.output == STDOUT:  # the JSON alone, for jq and the like
        sys.stdout.write(json_text(report.to_dict()))
        return
    if args.output:  # written before printing, as predict's: a closed pipe must not lose it
        atomic_write_json(args.output, report.to_dict(), named=True)
    print(report)
    if args.output:
        print(f"\nreport written to {args.output}")


def _search_directory(args: argparse.Namespace) -> Path:
    """Where `zoo tune` searches: --directory, else zoo.tune's default for the entry."""
    from zoo.io import default_search_directory

    return Path(args.directory) if args.directory else default_search_directory(args.name)


def _cmd_tune(args: argparse.Namespace) -> None:
    import zoo

    _check_export_target(args, _search_directory(args), "the search's --directory")
    arguments = {"tuner": args.tuner, "max_trials": args.max_trials, "epochs": args.epochs,
                 "seed": args.seed, "directory": args.directory, "overwrite": args.overwrite,
                 "objective": args.objective, "fixed": dict(args.fixed) or None,
                 "class_names": args.class_names, **_reading_arguments(args)}
    result = zoo.tune(args.name, args.data, args.validation_data,
                      **_call_arguments(args, arguments, _OPTIONS_OF_TUNE, zoo.tune))
    trials = result.trials
    # Best first: the lowest score for an objective minimized (val_loss), else the highest.
    minimized = result.tuner.oracle.objective.direction == "min"
    best = trials[trials.status == "COMPLETED"].sort_values("score", ascending=minimized)
    order = "lowest" if minimized else "highest"
    print(f"\n{len(trials)} trials, {len(best)} completed" + (
        f"; the best (score: {result.tuner.oracle.objective.name} at the best epoch, {order} "
        f"first):" if len(best) else "."))
    if len(best):
        print(best.head(5).dropna(axis="columns", how="all").to_string(
            index=False, float_format=lambda v: f"{v:.4g}"))
        print(f"\nbest overrides: {result.best_overrides}")
        print(f"train with them: {_train_command(args, result.best_overrides)}")
        searched, recipe = result.spec.recipe.epochs, zoo.get_spec(args.name).recipe.epochs
        if searched != recipe:  # best_overrides leave epochs out: the recipe's train then
            most = " at most" if args.tuner == "hyperband" else ""
            print(f"  (for the recipe's {recipe} epochs; the trials trained {searched}{most}: "
                  f"add --epochs {searched} to repeat the best trial)")
    print(f"search saved in {result.directory} (trials.csv; rerun to continue)")
    if args.export:
        args.exporting = _export_identity(args.export)  # for the Ctrl-C line: search done
        zoo.export(result.best_model(), args.export, preprocessor=result.preprocessor,
                   class_names=result.class_names or None, overwrite=args.overwrite_export)


def _train_command(args: argparse.Namespace, overrides: dict[str, Any]) -> str:
    """The `zoo train` command line that trains the entry on the search's data with
    `overrides`, quoted for a POSIX shell."""
    from zoo.data.sources import column_options
    from zoo.values import data_options, override_text

    columns = column_options(args.text_column, args.label_column)
    command = ["zoo", "train", args.name,
               *data_options(args.data, args.validation_data, columns, args.class_names)]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    if not args.download:
        command.append("--no-download")
    if args.seed:  # the search's seed: the same hold-out of --data, and the same initial weights
        command += ["--seed", str(args.seed)]
    for key, value in sorted(overrides.items()):
        command += ["--set", override_text(key, value)]
    # Kept, and resumable: without a workdir the trained model ends with the command. Named
    # after the search, so that another search's best does not meet this one's run.
    command += ["--workdir", f"runs/{_search_directory(args).name}_best"]
    return shlex.join(command)


PREVIEW_ROWS = 20  # rows `zoo predict --output` prints; the file holds every row
PREVIEW_TEXT = 40  # characters of each text `zoo predict` prints; the file holds them whole


def _cmd_predict(args: argparse.Namespace) -> None:
    from pandas.api.types import is_string_dtype

    import zoo
    from zoo.data.validate import for_trained_model
    from zoo.errors import shortened
    from zoo.io import atomic_write_text
    from zoo.serving.inputs import read_named_inputs

    if args.output:
        _check_output_file(args.output, "predictions", tuple(PREDICTION_FORMATS),  # before
                           {"INPUT": args.input, "MODEL": args.model})  # the work it would end
    predictor = zoo.load(args.model)
    # A model trained with resize_images fits a folder's photos to its input as they are read.
    fit_to = predictor.input_shape if predictor.resize_images else None
    with for_trained_model():  # images of several shapes: the model's own advice
        named = read_named_inputs(args.input, text_column=args.text_column, image_shape=fit_to)
    frame = predictor.predict(named.inputs)
    if named.rows is not None:  # each prediction beside what names its input: file, line, id...
        frame = _beside_inputs(named.rows, frame)
    if args.output == STDOUT:  # the table alone, for other tools to read
        sys.stdout.write(predictions_text(frame, ".csv"))
        return
    if args.output:  # written before printing: `zoo predict ... | head` must not lose it
        atomic_write_text(args.output, predictions_text(frame, Path(args.output).suffix),
                          named=True)
    shown = frame.head(PREVIEW_ROWS) if args.output else frame  # the file has them all
    # Files stay whole: two paths alike in their first 40 characters would read as one.
    texts = [column for column, kind in shown.dtypes.items()
             if is_string_dtype(kind) and column != "file"]
    if texts:  # on screen, the start of each text: enough to tell the rows apart
        shown = shown.copy()  # (not assign(): a column may be named "self")
        for column in texts:
            shown[column] = [value if not isinstance(value, str)
                             else shortened(" ".join(value.split()), PREVIEW_TEXT)
                             for value in shown[column]]
    print(shown.to_string(float_format=lambda v: f"{v:.4f}"))
    if len(shown) < len(frame):
        print(f"... {len(frame) - len(shown)} more rows; all {len(frame)} are in {args.output}")


# --output's formats by the file's ending; another ending gets CSV, with a warning.
PREDICTION_FORMATS = {
    ".csv": lambda frame: frame.to_csv(index=False),
    ".tsv": lambda frame: frame.to_csv(index=False, sep="\t"),
    ".json": lambda frame: frame.to_json(orient="records", force_ascii=False, indent=1) + "\n",
    ".jsonl": lambda frame: frame.to_json(orient="records", force_ascii=False, lines=True),
}
STDOUT = "-"  # --output -: the predictions (or the report) alone on standard output


def predictions_text(frame: pd.DataFrame, suffix: str) -> str:
    """`frame` as the file ending `suffix` says (`PREDICTION_FORMATS`), else as CSV."""
    return PREDICTION_FORMATS.get(suffix.lower(), PREDICTION_FORMATS[".csv"])(frame)


def _cmd_export(args: argparse.Namespace) -> None:
    import zoo

    _check_export_target(args, args.model,
                         "the training workdir" if Path(args.model).is_dir() else "MODEL")
    args.exporting = _export_identity(args.export)  # for the Ctrl-C line, as train's
    zoo.export(args.model, args.export, overwrite=args.overwrite_export)  # says where, and its
    # parity check, as a progress message


def _beside_inputs(rows: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """`rows` (the input's own columns) then `predictions`, row by row; an input column named as
    a prediction's (a table's true `label`, say) is kept as `input_<name>`."""
    import pandas as pd

    taken = {str(column) for column in (*rows.columns, *predictions.columns)}
    names = {}
    for column in rows.columns:
        if column in predictions.columns:  # renamed to a name neither table has
            name = f"input_{column}"
            while name in taken:
                name = f"input_{name}"
            taken.add(name)
            names[column] = name
    return pd.concat([rows.rename(columns=names).reset_index(drop=True),
                      predictions.reset_index(drop=True)], axis="columns")


def _check_output_file(path: str, what: str, endings: tuple[str, ...],
                       inputs: dict[str, str | None]) -> None:
    """Refuse an --output that cannot be written before the work that ends in it; a missing
    directory is fine (the file's directories are created, as --workdir's are). `endings`: the
    file endings it writes by, the first one for any other (said in a warning). `inputs`: the
    command's files by option (--data, INPUT...), which --output must not replace. `-`
    (standard output), a FIFO or a device (`/dev/stdout`) is written to as it is."""
    from zoo import checks
    from zoo.errors import InvalidValueError
    from zoo.io import check_name_room, descriptor_of, special_file, written_path

    kind = endings[0].lstrip(".").upper()
    if path == STDOUT:
        return
    given = Path(path)
    if given.is_dir():
        raise InvalidValueError(
            f"cannot write {what} to {path}: it is a directory; expected a {kind} file path."
        )
    _refuse_output_over_input(given, what, kind, inputs)
    # The format goes by the name given, as the writer takes it (a link's own ending).
    if given.suffix and given.suffix.lower() not in endings:
        from zoo.errors import warn

        # pred.json held CSV without a word (and report.csv JSON).
        warn(f"--output {path}: {what} will be written as {kind}, whatever the name's "
             f"{given.suffix}; name it {' or '.join(endings)} to say so.")
    if special_file(path):  # a FIFO, a terminal, /dev/stdout: written to as it is
        if descriptor_of(path) == 0:
            raise InvalidValueError(
                f"--output {path} is this command's standard input; expected a file to write "
                f"{what} to, or - for standard output."
            )
        return
    target = written_path(given)  # a link's target, as the writer replaces it
    _refuse_replacing_other_files(target, path, what, kind)
    check_name_room(target, "--output")
    checks.writable_directory("the directory of --output", target.parent)


# What a file --output may replace holds: an earlier report (JSON with these keys) or earlier
# predictions (these columns, in any of PREDICTION_FORMATS).
_REPORT_KEYS = ("accuracy", "confusion", "per_class")
_PREDICTION_COLUMNS = ("class_id", "probability")


def _refuse_replacing_other_files(target: Path, given: str, what: str, kind: str) -> None:
    """Refuse an --output naming an existing file that is not an earlier output of the same
    kind (a report, predictions), or one among a training workdir's, a search's or an export's
    own files: `--output runs/x/config.json` replaced the run's configuration, and any other
    file (a script, a dataset) was replaced without a word."""
    from zoo.errors import InvalidValueError
    from zoo.io import OWN_FILES, directory_kind
    from zoo.serving.archive import is_export

    if not target.is_file():
        return
    folder = target.resolve().parent
    owner = directory_kind(folder) if target.name in OWN_FILES else None
    if owner is None and (is_export(folder) or is_export(folder.parent)):
        owner = "export"  # its zoo.json, in assets.extra/, or any file beside its graph
    if owner is not None:
        names = {"run": "a training workdir", "search": "a hyperparameter search",
                 "export": "an export"}
        raise InvalidValueError(
            f"--output {given} is a file of {names[owner]} ({folder}), which zoo keeps for its "
            f"own use; expected a {kind} file path outside it, e.g. --output "
            f"{folder.name}_{target.stem}.{what.split()[-1]}.{kind.lower()}."
        )
    if not _earlier_output(target, what):
        raise InvalidValueError(
            f"--output {given} exists and does not hold {what} zoo wrote; zoo will not replace "
            f"it. Expected a new file path, or an earlier output of this command: remove the "
            f"file first if it is to go, or pick another name."
        )


def _earlier_output(target: Path, what: str) -> bool:
    """Whether `target` holds what an earlier `--output` wrote: the report's JSON object, or
    predictions in one of PREDICTION_FORMATS (a header line of the columns, or a first record
    with them as keys). An empty file has nothing to lose."""
    try:
        with open(target, encoding="utf-8") as handle:
            head = handle.read(1 << 20)
            whole = head + handle.read() if what == "the report" else head
    except (OSError, UnicodeDecodeError):
        return False
    if not head.strip():  # made empty beforehand (`touch`)
        return True
    if what == "the report":
        return _json_keys(whole, _REPORT_KEYS)
    first = head.lstrip()
    if first.startswith("["):  # .json: a list of records
        return _json_keys(first[1:], _PREDICTION_COLUMNS)
    if first.startswith("{"):  # .jsonl: a record per line
        return _json_keys(first.splitlines()[0], _PREDICTION_COLUMNS)
    header = head.splitlines()[0]
    fields = header.split("\t") if "\t" in header else header.split(",")
    return all(column in fields for column in _PREDICTION_COLUMNS)


def _json_keys(text: str, keys: Sequence[str]) -> bool:
    """Whether `text` starts with a JSON object that has every one of `keys`."""
    try:
        value, _ = json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError:
        return False
    return isinstance(value, dict) and all(key in value for key in keys)


def _refuse_output_over_input(target: Path, what: str, kind: str,
                              inputs: dict[str, str | None]) -> None:
    """Refuse an --output that is one of the command's own input files (however spelled, or a
    hard link to it): the output replaces its file, so the data read would be gone."""
    from zoo.errors import InvalidValueError

    for option, given in inputs.items():
        if given is None or not _same_file(target, given):
            continue
        suggestion = target.with_name(f"{target.stem}.{what.split()[-1]}.{kind.lower()}")
        raise InvalidValueError(
            f"--output {target} is the file of {option} {given}: writing {what} there would "
            f"replace it. Expected a new {kind} file path, e.g. --output {suggestion}."
        )


def _same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether both paths exist and are one file (a missing one, a tfds: name, is not)."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):  # ValueError: a NUL in a path, refused elsewhere
        return False


_COMMANDS = {"list": _cmd_list, "info": _cmd_info, "train": _cmd_train, "evaluate": _cmd_evaluate,
             "export": _cmd_export, "predict": _cmd_predict, "tune": _cmd_tune}


# Commands that run without TensorFlow: zoo's entries register without it (a builder imports
# Keras when it builds), so `zoo list` answers in about a second rather than after TensorFlow's
# start-up of several.
_COMMANDS_WITHOUT_TENSORFLOW = frozenset({"list"})


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse a path the command reads that does not exist (--data, --validation-data, MODEL,
    INPUT, --weights) now, in the words the library would use, rather than after TensorFlow's
    start-up of seconds."""
    from zoo.data.catalog import missing_local_source
    from zoo.serving.paths import (
        EXPORTABLE_KINDS,
        MODEL_KINDS,
        WEIGHTS_KINDS,
        blank,
        missing_input,
        missing_model,
    )

    checks = [missing_local_source(getattr(args, "data", None)),
              missing_local_source(getattr(args, "validation_data", None))]
    if getattr(args, "model", None) is not None:
        checks.append(missing_model(args.model, EXPORTABLE_KINDS if args.command == "export"
                                    else MODEL_KINDS))
    if getattr(args, "input", None) is not None:
        checks.append(missing_input(args.input))
    if getattr(args, "weights", None) and not blank(args.weights):  # blank: zoo.build's words
        checks.append(missing_model(args.weights, f"weights as {WEIGHTS_KINDS}"))
    missing = next((error for error in checks if error is not None), None)
    if missing is not None:
        raise missing


def _needs_tensorflow(args: argparse.Namespace) -> bool:
    """Whether the command starts TensorFlow first (quietly): all but `zoo list` and `zoo info`
    of an export, which read JSON. A plug-in's entries may import Keras as they register, and
    that import must not print TensorFlow's start-up lines: with a plug-in installed, every
    command starts it."""
    from zoo.registry import plugin_entry_points

    if plugin_entry_points():
        return True
    if args.command in _COMMANDS_WITHOUT_TENSORFLOW:
        return False
    return not (args.command == "info" and _names_a_path(args.name))


# Options and arguments that name files or folders.
_PATH_ARGUMENTS = ("data", "validation_data", "data_dir", "workdir", "weights", "export", "output",
                   "directory", "model", "input")


def _expand_home(args: argparse.Namespace) -> None:
    """`~` in a path, as the shell expands it in `--workdir ~/runs` but not in
    `--workdir=~/runs` (which made a folder named "~" in the current one)."""
    from zoo.io import expand_user

    for name in _PATH_ARGUMENTS:
        if getattr(args, name, None) is not None:
            setattr(args, name, expand_user(getattr(args, name)))


def _is_standard_output(path: str | None) -> bool:
    """Whether `path` names this process' standard output (`/dev/stdout`, `/dev/fd/1`, or the
    file or pipe it goes to), which `--output -` writes to without the table."""
    if path is None or path == STDOUT:
        return False
    try:
        named, ours = os.stat(path), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # missing; stdout no file (a test's) or closed
        return False
    return (named.st_dev, named.st_ino) == (ours.st_dev, ours.st_ino)


def console_main() -> NoReturn:
    """The `zoo` command's process (its console script, `python -m zoo`): `main`, then exit with
    its status, Ctrl-C and SIGTERM ignored from then on.

    Python's shutdown after the work is done (TensorFlow's takes over a second) still ran
    Python's signal handlers, so a Ctrl-C then ended a finished `zoo train --export` with
    status 130 and a traceback, as if it had failed. An ignored signal stays ignored through the
    shutdown, and atexit hooks (a profiler's, coverage's) still run.
    """
    status = main()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `zoo` command; returns the exit status (0 ok, 2 bad input, an unusable path or
    out of memory, 130 interrupted, 141 output pipe closed, 143 terminated by SIGTERM)."""
    args = _parser().parse_args(argv)
    _expand_home(args)
    if _is_standard_output(getattr(args, "output", None)):
        args.output = STDOUT  # `--output /dev/stdout`: the data alone, not over the table
    from zoo.errors import ZooError
    from zoo.termination import TERMINATED_STATUS, Terminated, terminate_as_interrupt

    try:
        # With `--output -` stdout carries the predictions or the report alone.
        messages = sys.stderr if getattr(args, "output", None) == STDOUT else None
        with unencodable_output_escaped(), progress_messages(messages), \
                terminate_as_interrupt():
            _check_paths(args)
            if _needs_tensorflow(args):
                start_tensorflow_quietly()
            _COMMANDS[args.command](args)
    except ZooError as error:
        hint = ""
        if str(error).startswith("unknown model ") and "Did you mean" not in str(error):
            # `@zoo.register_model` in a script or notebook registers in that process only.
            hint = (" An entry registered with @zoo.register_model in a script is known to that "
                    "script only: for the command line, ship it in a package's `zoo.models` "
                    "entry-point group (README: Registering your own entry).")
        print(f"zoo: error: {error}{hint}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`zoo predict ... | head`): stop quietly, as shell tools do, and
        # keep Python from reporting the same broken pipe again when it flushes stdout at exit.
        if sys.stdout is not None:  # (closed, its log lines went to a closed stderr)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the closed pipe
    except OSError as error:
        # A path that cannot be written or read (permissions, a missing directory, a full disk,
        # a file size limit). HDF5's messages span lines: one line, as every error here.
        message = " ".join(str(error.strerror or error).split()).rstrip(".")
        where = f": {error.filename}" if error.filename else ""
        print(f"zoo: error: {message}{where}. Check the path (its permissions, the free space "
              f"and file size limits), or pick another.", file=sys.stderr)
        return 2
    except Terminated:  # SIGTERM: a scheduler's stop, `kill PID`
        print(f"zoo: terminated{_resume_hint(args)}", file=sys.stderr)
        return TERMINATED_STATUS
    except KeyboardInterrupt:
        print(f"zoo: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except Exception as error:
        if not _out_of_memory(error):
            raise
        from zoo.errors import first_line

        print(f"zoo: error: out of memory ({first_line(error)}); expected a batch that fits the "
              f"device. Lower the batch size (zoo train --batch-size N, zoo tune --set "
              f"batch_size=N), or free the memory other processes hold on it.", file=sys.stderr)
        return 2
    return 0


def _export_identity(directory: str) -> tuple[int, int] | None:
    """Which file the export at `directory` has as its zoo.json (inode, modification time), or
    None for none: a new one once an export has been published there."""
    from zoo.serving.archive import METADATA

    try:
        found = (Path(directory) / METADATA).stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def _resume_hint(args: argparse.Namespace) -> str:
    """After Ctrl-C or SIGTERM, how the work done so far goes on, where it was kept."""
    if hasattr(args, "exporting"):  # the work before the export is done
        # Published (renamed into place) before the interrupt came: another zoo.json is there.
        now = _export_identity(args.export)
        if now is not None and now != args.exporting:
            return f" after the export to {args.export} was complete: it is whole"
        if args.command == "tune":
            kept = (f"the search is complete in {_search_directory(args)}: rerun the same "
                    f"command to export its best model (no trial runs again)")
        elif args.command == "export":
            kept = f"{args.model} is as it was: rerun the same command to export it"
        elif args.workdir:
            kept = (f"the trained run is complete in {args.workdir}: rerun the same command "
                    f"to export it (nothing is trained again)")
        else:
            kept = ("the trained model was not kept (no --workdir): rerunning the command "
                    "trains it again")
        from zoo.serving.archive import is_export

        left = ("which was left as it was (the earlier export there is intact)"
                if is_export(args.export) else "which was not made")
        return f" while exporting to {args.export}, {left}; {kept}"
    if args.command == "train" and args.workdir:
        return ("; rerun the same command to resume from the last completed epoch (kept in "
                f"{args.workdir})")
    if args.command == "tune":
        return ("; rerun the same command to continue the search from its finished trials "
                f"(kept in {_search_directory(args)})")
    return ""


def _out_of_memory(error: BaseException) -> bool:
    """Whether `error` is running out of memory: Python's MemoryError, TensorFlow's
    ResourceExhaustedError (a GPU's OOM), or XLA's RESOURCE_EXHAUSTED on JAX. Told apart by
    name, so that the command line need not import TensorFlow to catch it."""
    if isinstance(error, MemoryError):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    return "ResourceExhaustedError" in names or (
        "XlaRuntimeError" in names and "RESOURCE_EXHAUSTED" in str(error)
    )


if __name__ == "__main__":
    console_main()
