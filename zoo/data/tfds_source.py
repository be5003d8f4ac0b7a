"""TFDS datasets: a split opened as a `tf.data` stream of `(input, label)` pairs, or one clear
error naming the way out (`data_dir`, a local file) when the dataset cannot be reached.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import tensorflow as tf

from zoo.data.catalog import DATASETS, LOCAL_FORMATS, DatasetInfo
from zoo.data.examples import TfdsExamples
from zoo.errors import DataError, DatasetUnavailableError, close_matches, first_line
from zoo.logs import quiet


def read_tfds(
    name: str,
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> TfdsExamples:
    """Open a TFDS split as `(input, label)` pairs, or raise `DatasetUnavailableError`.

    Catalog datasets (`zoo.data.DATASETS`) are read with their recorded feature keys; others need
    TFDS supervised keys (`as_supervised`). A dataset not prepared in `data_dir` (TFDS' default:
    `$TFDS_DATA_DIR` or `~/tensorflow_datasets`) is downloaded there, as `tfds.load` does, unless
    `download=False`; where TFDS' download host cannot be reached, that fails in seconds with
    the way out.

    Raises:
        DatasetUnavailableError: unknown name, not prepared, no network, failed download.
        DataError: unknown split.

    Example (needs the dataset prepared, or TFDS' mock data as in the tests):
        >>> import tensorflow_datasets as tfds
        >>> from zoo.data.tfds_source import read_tfds
        >>> with tfds.testing.mock_data(num_examples=3):
        ...     examples = read_tfds("mnist", "test")
        >>> examples.dataset.element_spec[0].shape, examples.info.num_classes
        (TensorShape([28, 28, 1]), 10)
    """
    import tensorflow_datasets as tfds

    if data_dir is not None and Path(data_dir).is_file():
        raise DataError(
            f"data_dir {data_dir} is a file; expected the folder TFDS keeps prepared datasets "
            f"in (--data-dir DIR). A local file of examples is passed as data itself (--data)."
        )
    try:
        # A missing dataset is this function's message, not TFDS' warnings (such as its note
        # on a data_dir folder it finds incomplete while looking for the dataset).
        with quiet("absl", below=logging.ERROR):
            dataset, tfds_info = _tfds_load(tfds, name, split, data_dir, download=False)
    except AssertionError:  # TFDS' way of saying "not prepared in data_dir"
        where = _data_dir_text(data_dir)
        if not download:
            raise _unavailable(
                name, f"it is not prepared in {where} and download=False (--no-download); "
                f"allow the download where there is network"
            ) from None
        if not _network_reachable():
            raise _unavailable(
                name, f"it is not prepared in {where} and there is no network to download it"
            ) from None
        dataset, tfds_info = _tfds_load(tfds, name, split, data_dir, download=True)
    info = DATASETS.get(name) or _info_from_tfds(name, tfds_info, dataset)
    dataset = dataset.map(
        lambda example: (example[info.feature], tf.cast(example[info.label], tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return TfdsExamples(dataset, info, split, _split_size(tfds_info, split))


def _tfds_load(
    tfds: Any, name: str, split: str, data_dir: Any, *, download: bool
) -> tuple[Any, Any]:
    try:
        return tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            download=download,
            shuffle_files=False,
            with_info=True,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise _unknown_tfds_name(tfds, name) from None
    except ValueError as error:
        message = first_line(error)
        if "split" in message.lower():
            catalog = DATASETS.get(name)
            # A slice of train is a training stream to `load` (shuffled, augmented, adapting
            # its own vocabulary), so the hold-out call must say otherwise.
            suggestion = (
                f" Use split={catalog.test_split!r} to evaluate, or hold out part of train with "
                f"TFDS slicing: train = zoo.data.load({name!r}, split='train[:90%]', spec=...) "
                f"and zoo.data.load({name!r}, split='train[90%:]', spec=..., shuffle=False, "
                f"augment=False, preprocessor=train.preprocessor)."
                if catalog
                else ""
            )
            raise DataError(f"{name!r} has no split {split!r}: {message}{suggestion}") from None
        if "config" in message.lower() and "/" in name:
            dataset_name, config = name.split("/", 1)
            cause = f"TFDS dataset {dataset_name!r} has no config {config!r}"
            raise _unknown_tfds_name(tfds, name, cause=cause) from None
        what = "the download failed" if download else "TFDS could not read it"
        raise _unavailable(name, f"{what} ({message})") from None
    except AssertionError:
        raise
    except Exception as error:  # network, checksums, corrupt records: one line, not a traceback
        what = "the download failed" if download else "TFDS could not read it"
        raise _unavailable(name, f"{what} ({type(error).__name__}: {first_line(error)})") from None


def base_name(name: str) -> str:
    """The dataset part of "NAME/CONFIG"."""
    return name.split("/")[0]


def _unknown_tfds_name(tfds: Any, name: str, cause: str | None = None) -> DatasetUnavailableError:
    try:
        known = list(tfds.list_builders(with_community_datasets=False))
    except Exception:  # listing is only for suggestions
        known = []
    matches = close_matches(name, list(DATASETS)) or close_matches(base_name(name), known)
    did_you_mean = f" Did you mean {', '.join(repr(m) for m in matches)}?" if matches else ""
    return DatasetUnavailableError(
        f"dataset {name!r} is not available: {cause or 'TFDS has no dataset of that name'}."
        f"{did_you_mean} zoo's catalog: {', '.join(sorted(DATASETS))} (any other TFDS name works "
        f"as 'tfds:NAME'). Or load a local file instead (--data PATH on the command line): "
        f"{LOCAL_FORMATS}."
    )


def _unavailable(name: str, cause: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"dataset {name!r} is not available: {cause}. Pass data_dir= (zoo.data.load, zoo.train, "
        f"zoo.tune, zoo.evaluate; --data-dir on the command line) a folder where it is prepared "
        f"(on a machine with network: `tfds build {name} --data_dir DIR`, then copy DIR), "
        f"or load a local file instead (--data PATH on the command line): {LOCAL_FORMATS}."
    )


def _data_dir_text(data_dir: Any) -> str:
    if data_dir is not None:
        return str(data_dir)
    return os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets (TFDS' default data_dir)"


def _network_reachable(
    host: str = "storage.googleapis.com", port: int = 443, timeout: float = 3.0
) -> bool:
    """Whether TFDS' download host answers; fails in seconds where TFDS would retry for minutes."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # behind a proxy a direct connection says nothing; let TFDS try
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _info_from_tfds(name: str, tfds_info: Any, dataset: tf.data.Dataset) -> DatasetInfo:
    """A catalog-like record for a TFDS dataset outside the catalog, from its supervised keys."""
    keys = tfds_info.supervised_keys
    if not keys or len(keys) != 2 or not all(isinstance(k, str) for k in keys):
        raise DataError(
            f"TFDS dataset {name!r} declares no (input, label) supervised keys, so zoo cannot tell "
            f"which feature to read; export it to an .npz or .csv file, or add it to "
            f"zoo.data.catalog.DATASETS."
        )
    feature, label = keys
    spec = dataset.element_spec[feature]
    label_feature = tfds_info.features[label]
    names = tuple(getattr(label_feature, "names", ()) or ())
    if spec.dtype == tf.string and spec.shape.rank == 0:
        kind, shape = "text", None
    elif spec.dtype == tf.uint8 and spec.shape.rank == 3 and spec.shape.is_fully_defined():
        kind, shape = "image", tuple(int(d) for d in spec.shape)
    else:
        raise DataError(
            f"TFDS dataset {name!r}: its input {feature!r} is {spec.dtype.name} {spec.shape}; zoo "
            f"reads fixed-size uint8 images (height, width, channels) or scalar strings."
        )
    if not names:
        raise DataError(f"TFDS dataset {name!r}: its label {label!r} is not a class label.")
    return DatasetInfo(name, kind, feature, len(names), names, label=label, image_shape=shape)


def _split_size(tfds_info: Any, split: str) -> int | None:
    try:
        return int(tfds_info.splits[split].num_examples)
    except Exception:  # mock data and some slicing forms carry no split sizes
        return None
