"""Accuracy of the recipes on real data, measured on examples no training step or choice has seen.

For each entry it trains with `zoo.train` and the entry's own recipe, then evaluates the final
model once on a test split held out before training:

  cnn_mnist, mlp_mnist         shared/datasets/mnist_8k.npz in 5 folds of 1,600 digits: each
                               fold is the test split of one run that trains on the other 6,400.
                               These recipes have no early stopping and no run directory, so
                               nothing is selected on the test fold (it is passed as validation
                               data only to log the curve); all 8,000 digits are predicted once.
  lstm_sst2, transformer_sst2  all 67,349 phrases of shared/datasets/sst2/train.tsv train; the 872
                               sentences of sst2/dev.tsv test. The recipes were tuned on dev's even
                               rows ("dev A"), which also serve as validation data, so the odd rows
                               ("dev B", 436 sentences) are the figure no choice has seen; the
                               whole of dev is reported too, for comparison with the literature.
                               With --sst2-folds K: a K-fold cross-validation over the 6,886
                               training sentences instead (each fold trains on the phrases of the
                               other folds' sentences and tests on its own sentences), 16 times
                               as many test sentences as dev B; dev B is reported beside it.

Only these four entries: the data and targets above are theirs (a Fashion-MNIST model scored on
digits would mean nothing). The script prints one row per run and the mean over folds, and with
--markdown appends the table to a results file. A benchmark, not a test: it needs
../shared/datasets and takes minutes (SST-2 entries: about 10-20 minutes each on 2 CPU cores).

    python benchmarks/bench_accuracy.py [--entries cnn_mnist mlp_mnist] [--folds 5] [--seeds 0]
                                        [--sst2-folds 10]
                                        [--markdown benchmarks/results/accuracy.md]
                                        [--set KEY=VALUE]
"""

from __future__ import annotations

import argparse
import ast
import datetime
import functools
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from common import MNIST_8K, SST2_DEV, SST2_TRAIN, at_least, output_file  # noqa: E402

import zoo  # noqa: E402
from zoo.data.tables import read_frame  # noqa: E402
from zoo.io import atomic_write_text  # noqa: E402

TARGETS = {"cnn_mnist": 0.985, "mlp_mnist": 0.965, "lstm_sst2": 0.835, "transformer_sst2": 0.835}


def fold_indices(items: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) per fold, each sorted: a seeded permutation of `items` cut in `folds` parts,
    every part the test of one fold and the rest its training data."""
    parts = np.array_split(np.random.default_rng(1000).permutation(items), folds)
    return [
        (np.sort(np.concatenate(parts[:index] + parts[index + 1 :])), np.sort(test))
        for index, test in enumerate(parts)
    ]


# Cached, as sst2_sentence_folds: every entry and seed of a run uses the same folds, built once.
@functools.cache
def mnist_folds(
    folds: int,
) -> list[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """(train, test) arrays per fold of the 8,000 digits."""
    with np.load(MNIST_8K) as arrays:
        x, y = arrays["x"], arrays["y"]
    return [
        ((x[train], y[train]), (x[test], y[test]))
        for train, test in fold_indices(np.arange(len(x)), folds)
    ]


def spans(tokens: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Every contiguous run of tokens in a sentence (the sentence itself included)."""
    return {
        tokens[start:end]
        for start in range(len(tokens))
        for end in range(start + 1, len(tokens) + 1)
    }


@functools.cache
def sst2_sentence_folds(folds: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """(train, test) frames per fold of a cross-validation over SST-2's training sentences.

    GLUE's train.tsv holds every phrase of SST's parse trees, sentences included. The sentences are
    the phrases that no longer phrase contains (6,886 of 67,349; 19.4 tokens on average, dev's
    872 sentences 19.5). Each fold tests on a seeded 1/`folds` of them and trains on the phrases
    that occur in at least one other fold's sentence, so no part of a test sentence that belongs
    to it alone (its own subtrees) is trained on; phrases that other sentences share stay.
    """
    frame = read_frame(SST2_TRAIN)
    tokens = [tuple(sentence.split()) for sentence in frame["sentence"]]
    contained: set[tuple[str, ...]] = set()
    sentence_spans: dict[int, set[tuple[str, ...]]] = {}  # row of each sentence -> its spans
    for row in sorted(range(len(frame)), key=lambda i: -len(tokens[i])):  # longest first
        if tokens[row] not in contained:
            sentence_spans[row] = spans(tokens[row])
            contained |= sentence_spans[row]
    splits = []
    for train_sentences, test in fold_indices(np.array(list(sentence_spans)), folds):
        seen = set().union(*(sentence_spans[row] for row in train_sentences))
        train = [row for row in range(len(frame)) if tokens[row] in seen]
        splits.append((frame.iloc[train], frame.iloc[test]))
    return splits


def runs(
    entry: str, folds: int, sst2_folds: int | None
) -> list[tuple[str, object, object, object]]:
    """(label, train, validation_data, test) per run of an entry."""
    spec = zoo.get_spec(entry)
    if spec.input.kind == "image":
        if spec.recipe.early_stopping_patience:
            raise SystemExit(f"{entry} stops early: the test fold cannot be its validation data.")
        return [
            (f"fold {i + 1}/{folds}: {len(train[1])} train, {len(test[1])} test", train, test, test)
            for i, (train, test) in enumerate(mnist_folds(folds))
        ]
    dev = read_frame(SST2_DEV)  # zoo's own TSV dialect (GLUE: no quoting)
    dev_a, dev_b = dev.iloc[0::2], dev.iloc[1::2]
    if sst2_folds:
        # Dev A validates (it only logs: these recipes neither stop early nor pick an epoch).
        return [
            (
                f"sentence fold {i + 1}/{sst2_folds}: {len(train)} phrases train, "
                f"{len(test)} sentences test",
                train,
                dev_a,
                {"held-out sentences": test, "dev B": dev_b},
            )
            for i, (train, test) in enumerate(sst2_sentence_folds(sst2_folds))
        ]
    # All of train.tsv trains; dev A (seen while tuning) validates, so early stopping, where a
    # recipe has it, chooses on sentences rather than on phrases; dev B stays unseen.
    return [
        (
            "train.tsv / dev A validates / dev B tests",
            str(SST2_TRAIN),
            dev_a,
            {"dev B": dev_b, "dev": dev},
        )
    ]


def run(
    entry: str,
    label: str,
    train: object,
    validation: object,
    test: object,
    seed: int,
    overrides: dict[str, object],
) -> dict[str, object]:
    started = time.perf_counter()
    result = zoo.train(entry, train, validation, seed=seed, verbose=2, **overrides)
    seconds = time.perf_counter() - started
    tests = test if isinstance(test, dict) else {"test": test}
    reports = {
        name: zoo.evaluate(result.model, data, spec=result.spec, preprocessor=result.preprocessor)
        for name, data in tests.items()
    }
    report = next(iter(reports.values()))  # the first: the split no choice has seen
    keras.utils.clear_session()
    return {
        "entry": entry,
        "run": label,
        "seed": seed,
        "overrides": overrides,
        "epochs_run": len(result.history),
        "test_examples": report.num_examples,
        "test_accuracy": report.accuracy,
        "test_macro_f1": report.macro["f1"],
        "other_tests": {name: r.accuracy for name, r in list(reports.items())[1:]},
        "target": TARGETS.get(entry),
        "train_seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Only the entries with real data and a target here: MNIST digits or SST-2.
    parser.add_argument("--entries", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    folds = at_least(2, "a cross-validation needs at least 2 folds: each trains on the others")
    parser.add_argument("--folds", type=folds, default=5, help="MNIST folds (test = 1/folds)")
    parser.add_argument(
        "--sst2-folds",
        type=folds,
        metavar="K",
        help="SST-2: cross-validate over the training sentences in K folds "
        "instead of testing on dev B",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--markdown", type=output_file, help="append the results table to this file"
    )
    args = parser.parse_args()
    have_data = {
        "image": MNIST_8K is not None,
        "text": SST2_TRAIN is not None and SST2_DEV is not None,
    }
    missing = [e for e in args.entries if not have_data[zoo.get_spec(e).input.kind]]
    if missing:
        raise SystemExit(
            f"no real data for {', '.join(missing)}: this benchmark needs "
            "../shared/datasets/mnist_8k.npz (MNIST) or sst2/train.tsv and "
            "sst2/dev.tsv (SST-2)."
        )
    overrides = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value

    rows = []
    for entry in args.entries:
        for seed in args.seeds:
            for label, train, validation, test in runs(entry, args.folds, args.sst2_folds):
                row = run(entry, label, train, validation, test, seed, overrides)
                rows.append(row)
                others = "".join(f", {k} {v:.4f}" for k, v in row["other_tests"].items())
                print(
                    f"{entry} seed {seed}, {label}: test accuracy {row['test_accuracy']:.4f} "
                    f"(target {row['target']}){others}, {row['epochs_run']} epochs, "
                    f"{row['train_seconds']:.0f} s",
                    flush=True,
                )

    lines = [
        "| entry | run | seed | overrides | test accuracy | macro F1 | also | epochs | train s |",
        "|" + " --- |" * 9,
    ]
    for row in rows:
        lines.append(
            f"| {row['entry']} | {row['run']} | {row['seed']} | {row['overrides'] or '-'} | "
            f"{row['test_accuracy']:.4f} | {row['test_macro_f1']:.4f} | "
            f"{', '.join(f'{k} {v:.4f}' for k, v in row['other_tests'].items()) or '-'} | "
            f"{row['epochs_run']} | "
            f"{row['train_seconds']:.0f} |"
        )
    summary = [
        "",
        "| entry | overrides | runs | test examples | accuracy over all test examples | "
        "lowest run | target |",
        "|" + " --- |" * 7,
    ]
    for entry in args.entries:
        mine = [r for r in rows if r["entry"] == entry]
        examples = sum(r["test_examples"] for r in mine)
        pooled = sum(r["test_accuracy"] * r["test_examples"] for r in mine) / examples
        summary.append(
            f"| {entry} | {overrides or '-'} | {len(mine)} | {examples} | {pooled:.4f} | "
            f"{min(r['test_accuracy'] for r in mine):.4f} | {TARGETS.get(entry)} |"
        )
    table = "\n".join(lines + summary)
    print("\n" + table)
    if args.markdown:
        stamp = datetime.date.today().isoformat()
        machine = f"{platform.machine()}, {os.cpu_count()} cores"
        section = (
            f"\n## {stamp} — {machine}, TensorFlow "
            f"{__import__('tensorflow').__version__}, Keras {keras.__version__}\n\n"
            f"{table}\n"
        )
        # Appended by rewriting the whole file atomically: an interrupted write leaves the old
        # results whole rather than a half-written table at their end.
        existing = args.markdown.read_text(encoding="utf-8") if args.markdown.exists() else ""
        atomic_write_text(args.markdown, existing + section)


if __name__ == "__main__":
    main()
