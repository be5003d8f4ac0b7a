"""A short, stable description of a data source (`fingerprint`), recorded in a run's
configuration, a search's and an export's: rerunning on changed data is then told apart from
resuming on the same data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zoo.data.folders import skipped_name


def fingerprint(source: Any) -> str:
    """A short, stable description of a data source, for run configurations and exports.

    Files are hashed by their whole content (SHA-256) and size, folders by every file's relative
    path and content (class folders that are links included, as the loader reads them), arrays
    and frames by their values in order; TFDS names are kept as text. Hashing reads the data once
    more, which training does anyway; a partial hash let a relabelled file or an image replaced
    by another of the same size pass for the same data, and a reordered frame would move the
    seeded hold-out.

    Example:
        >>> from zoo.training.fingerprint import fingerprint
        >>> fingerprint("tfds:mnist")
        'tfds:mnist'
        >>> fingerprint((["a fine film"], [1])) == fingerprint((["a dull film"], [1]))
        False
    """
    if source is None:
        return "tfds:default"
    if isinstance(source, str) and source.startswith("tfds:"):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_file():
            digest = hashlib.sha256()
            _hash_file(path, digest)
            return f"file:{path.name}:{path.stat().st_size}:{digest.hexdigest()[:16]}"
        if path.is_dir():
            digest = hashlib.sha256()
            for item in _files_under(path):
                digest.update(f"{item.relative_to(path)}:{item.stat().st_size}:".encode())
                _hash_file(item, digest)
            return f"dir:{path.name}:{digest.hexdigest()[:16]}"
        return f"name:{source}"  # a bare TFDS name, or a path the loader will reject
    if isinstance(source, pd.DataFrame):
        digest = hashlib.sha256(repr([str(c) for c in source.columns]).encode())
        digest.update(pd.util.hash_pandas_object(source, index=False).to_numpy().tobytes())
        return f"frame:{len(source)}:{digest.hexdigest()[:16]}"
    if isinstance(source, (tuple, list)) and len(source) == 2:
        digest = hashlib.sha256()
        for part in source:
            _hash_values(part, digest)
        return f"arrays:{len(source[1])}:{digest.hexdigest()[:16]}"
    return f"object:{type(source).__name__}"


def named_contents(recorded: Any) -> tuple[str, str] | None:
    """A recorded file or folder `fingerprint` ("file:NAME:SIZE:DIGEST", "dir:NAME:DIGEST") as
    (its name, the rest: what its contents give); None for other sources.

    Example:
        >>> from zoo.training.fingerprint import named_contents
        >>> named_contents("file:a:b.npz:120:9a84f0"), named_contents("tfds:mnist")
        (('a:b.npz', 'file:120:9a84f0'), None)
    """
    if not isinstance(recorded, str):
        return None
    kind, _, rest = recorded.partition(":")
    if kind not in ("file", "dir"):
        return None
    parts = rest.rsplit(":", 2 if kind == "file" else 1)  # a name may hold colons itself
    if len(parts) < 2:
        return None
    return parts[0], ":".join([kind, *parts[1:]])


def _files_under(path: Path) -> list[Path]:
    """The files under `path` that the loader reads from, sorted: sub-folders that are links are
    followed at the top level, as `read_folder` follows class folders that are links, and hidden
    files and macOS' `__MACOSX` are skipped as it skips them (Finder's .DS_Store changes the
    data no more than it changes what is read)."""
    files = []
    for child in path.iterdir():
        if child.is_dir():
            files += [item for item in child.rglob("*") if item.is_file()]
        elif child.is_file():
            files.append(child)
    return sorted(file for file in files
                  if not any(skipped_name(part) for part in file.relative_to(path).parts))


def _hash_values(values: Any, digest: Any) -> None:
    """Feed an array-like's values to `digest` in order: numbers by their bytes, strings by their
    text (an object array's own bytes are the addresses of its strings, new in every process),
    images of several sizes one by one."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    if isinstance(values, (list, tuple)) and all(isinstance(v, (str, bytes)) for v in values):
        # A list of texts as objects: np.asarray made a fixed-width array padded to the longest
        # text, 4 bytes a character for every row. The digest below is of the texts alike.
        values = np.asarray(values, dtype=object)
    try:
        array = np.asarray(values)
    except ValueError:  # ragged: images of several sizes
        for item in values:
            _hash_values(item, digest)
        return
    if array.dtype.kind not in "OUS":  # numbers; texts as text, whatever array holds them
        digest.update(array.tobytes())
        return
    for item in array.ravel():
        if isinstance(item, str):
            item = item.encode()
        if isinstance(item, bytes):
            # Each text's length first: ("ab", "c") and ("a", "bc") are different data.
            digest.update(len(item).to_bytes(8, "little") + item)
        elif isinstance(item, (np.ndarray, list, tuple)):
            _hash_values(item, digest)
        else:
            digest.update(repr(item).encode())


def _hash_file(path: Path, digest: Any, chunk: int = 1 << 20) -> None:
    """Feed a file's bytes to `digest`, a chunk at a time (files may be larger than memory)."""
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
