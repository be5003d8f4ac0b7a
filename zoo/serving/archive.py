"""The export directory: built beside the target, renamed into place, described by `zoo.json`.

`publishing(target)` hands out a staging directory `.NAME.tmp-PID-XXXX` in the target's parent
(same file system, so renames are atomic) and renames it to the target only when the block
finishes without an error. A crash or `kill -9` before that leaves nothing at the target; the
staging directory it leaves behind is removed by the next export to the same target once its
process is gone. Replacing an export (`overwrite=True`) moves the old one aside
(`.NAME.old-PID-XXXX`), renames the new one in and then deletes the old: at every moment the
target is either absent, the old export, or the new one, never a mix. An export interrupted
between those two renames gets its old directory put back by the next export. An empty directory
made beforehand is filled instead of replaced (its owner and mode stay), `saved_model.pb` last.
Parent folders made for an export that fails are removed again.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo import checks
from zoo.errors import DataError, InvalidValueError, ZooError, first_line
from zoo.io import check_name_room, process_alive

METADATA = Path("assets.extra") / "zoo.json"  # TF Serving's place for files beside a SavedModel
# A text export's fitted vocabulary, so that zoo.build(weights=EXPORT) keeps its word ids.
VOCABULARY = Path("assets.extra") / "preprocessor"
FORMAT = 1  # bump when zoo.json changes incompatibly


class ExportError(ZooError, RuntimeError):
    """An export that cannot be written, or whose SavedModel disagrees with the model."""


def check_target(target: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Raise unless an export can be written at `target`; return it as an absolute path.

    The parent directory must be writable, or creatable (it is made when the export is written,
    as a workdir's is). An existing target is refused unless it is an empty directory or
    `overwrite` is set, and even then only an earlier export is replaced, so a typo never deletes
    unrelated files.

    Example:
        >>> import tempfile
        >>> from zoo.serving.archive import check_target
        >>> check_target(tempfile.mkdtemp() + "/new/model").parent.name
        'new'
        >>> check_target("/dev/null/model")
        Traceback (most recent call last):
        ...
        zoo.serving.archive.ExportError: cannot export to /dev/null/model: its parent ...
    """
    target = Path(os.path.abspath(checks.without_nul("export target", target)))
    try:
        check_name_room(target, "the export")
    except InvalidValueError as error:
        raise ExportError(f"cannot export to {target}: {error}") from None
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise ExportError(
            f"cannot export to {target}: its parent {parent} is not a directory. Pick "
            f"another path."
        )
    try:  # writable, or creatable: a missing parent is made by `publishing`
        checks.writable_directory("its parent directory", parent)
    except InvalidValueError as error:
        raise ExportError(f"cannot export to {target}: {error}") from None
    if not parent.is_dir():
        return target  # nothing there yet to keep or replace
    previous = abandoned_export(target)
    if previous is not None and not target.exists() and not overwrite:
        # The next export puts it back first: refuse now, not after the export's work.
        raise ExportError(
            f"{target} holds a zoo export, moved aside to {previous.name} by an export that was "
            f"interrupted while replacing it (the next export puts it back); pass "
            f"overwrite=True (command line: --overwrite-export) to replace it, or pick a new path."
        )
    if target.exists() or target.is_symlink():
        if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
            return target  # an empty directory (made beforehand) holds nothing to lose
        # Only an earlier export may be replaced, so suggest overwrite only for one of those.
        if not is_export(target):
            raise ExportError(
                f"{target} exists and is not a zoo export ({_not_an_export(target)}); zoo will "
                f"not replace it, even with overwrite=True. Remove it yourself or pick another "
                f"path."
            )
        if not overwrite:
            raise ExportError(
                f"{target} already holds a zoo export; pass overwrite=True (command line: "
                f"--overwrite-export) to replace it, or pick a new path."
            )
    return target


def check_apart(target: str | os.PathLike, source: str | os.PathLike, what: str) -> None:
    """Raise unless the export `target` and `source` (a run's workdir, a search's directory or a
    model file; `what` names it) are apart: neither is the other, and neither lies in the other.
    Replacing the export (overwrite) deletes what lies in it, removing a workdir deletes the
    export in it, and the target's own checks would advise removing the run itself.

    Example:
        >>> from zoo.serving.archive import check_apart
        >>> check_apart("exports/mlp", "runs/mlp", "the workdir")
        >>> check_apart("runs/mlp/export", "runs/mlp", "the workdir")
        Traceback (most recent call last):
        ...
        zoo.serving.archive.ExportError: cannot export to runs/mlp/export: it lies in the ...
    """
    checks.without_nul("export target", target)
    exported, kept = Path(os.path.realpath(target)), Path(os.path.realpath(source))
    if exported == kept:
        relation = "is"
    elif kept in exported.parents:
        relation = "lies in"
    elif exported in kept.parents:
        relation = "holds"
    else:
        return
    outer = kept if relation == "lies in" else exported  # a sibling of it is apart from both
    suggestion = Path(source if relation == "lies in" else target)
    suggestion = suggestion.parent / f"{outer.name}_export"
    raise ExportError(
        f"cannot export to {target}: it {relation} {what} {source}, and replacing or removing "
        f"one would delete the other. Expected an export path apart from it, e.g. {suggestion}."
    )


def _not_an_export(path: Path) -> str:
    """What `path`, which exists, lacks to be an export (`is_export`)."""
    if not path.is_dir():
        return "a file, not a directory"
    missing = [name for name in ("saved_model.pb", METADATA) if not (path / name).is_file()]
    return f"no {' and no '.join(map(str, missing))}"


def is_export(path: str | os.PathLike) -> bool:
    """Whether `path` is a directory written by `zoo.export` (a SavedModel with zoo.json)."""
    path = Path(path)
    return (path / "saved_model.pb").is_file() and (path / METADATA).is_file()


def _abandoned(target: Path) -> Iterator[tuple[Path, str]]:
    """The staging ("tmp") and set-aside ("old") directories of killed exports to `target`."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(tmp|old)-(\d+)-")
    if not target.parent.is_dir():
        return
    for sibling in target.parent.iterdir():
        match = pattern.match(sibling.name)
        if match and not process_alive(int(match.group(2))):
            yield sibling, match.group(1)


def abandoned_export(target: str | os.PathLike) -> Path | None:
    """The earlier export that an export killed while replacing it left beside `target`, or
    None. The next export to `target` puts it back.

    Example:
        >>> import tempfile
        >>> from zoo.serving.archive import abandoned_export
        >>> abandoned_export(tempfile.mkdtemp() + "/export") is None
        True
    """
    target = Path(os.path.abspath(target))
    return next((path for path, kind in _abandoned(target) if kind == "old"), None)


def _recover_abandoned(target: Path) -> None:
    """Clean up after exports to `target` that were killed: their processes are gone."""
    for sibling, kind in list(_abandoned(target)):
        if kind == "old" and not target.exists():
            os.replace(sibling, target)  # killed mid-swap: the previous export goes back
        else:
            shutil.rmtree(sibling, ignore_errors=True)


def _make_sibling(target: Path, kind: str) -> Path:
    """Create an empty directory beside `target`, named after this process.

    Not `tempfile.mkdtemp`: its directories are private (0o700), and the export must get the
    permissions any new directory gets (the umask's), so that a server running as another user
    can read it.
    """
    while True:
        path = target.parent / f".{target.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


@contextlib.contextmanager
def publishing(target: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty staging directory; on success, make it `target` atomically.

    On an error inside the block the staging directory is removed and the target is untouched.

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.serving.archive import publishing
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "export"
        >>> with publishing(target) as staging:
        ...     _ = (staging / "saved_model.pb").write_bytes(b"")
        >>> sorted(p.name for p in target.iterdir())
        ['saved_model.pb']
    """
    target = check_target(target, overwrite=overwrite)
    made = _missing_ancestor(target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _recover_abandoned(target)
        try:
            staging = _make_sibling(target, "tmp")
        except OSError as error:
            raise ExportError(
                f"cannot write beside {target}: {error}. Pick a writable directory."
            ) from None
        try:
            yield staging
            _fsync_tree(staging)
            check_target(target, overwrite=overwrite)  # it may have appeared while we worked
            if target.is_dir() and not target.is_symlink() and not any(target.iterdir()):
                _fill(target, staging)
            elif overwrite and (target.exists() or target.is_symlink()):
                _swap(target, staging)
            else:
                try:
                    # Not os.replace: an export another process published since the check
                    # above is refused (a non-empty directory cannot be renamed over), not
                    # replaced without overwrite.
                    os.rename(staging, target)
                except OSError:
                    check_target(target, overwrite=overwrite)  # names what is there now
                    raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except BaseException:
        if made is not None:  # folders made for an export that was not written: not left behind
            _remove_empty_folders(target.parent, made)
        raise


def _swap(target: Path, staging: Path) -> None:
    """Replace the export (or link) at `target` by `staging`: the old one is moved aside, the new
    one renamed in, then the old one deleted."""
    previous = _make_sibling(target, "old")
    link = target.is_symlink()
    if link:
        # A link cannot be renamed onto a directory: free the reserved name for it. The link
        # is replaced by the export; what it points to is left as it is.
        previous.rmdir()
    os.replace(target, previous)
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(previous, target)
        raise
    if link:
        previous.unlink()
    else:
        shutil.rmtree(previous, ignore_errors=True)


def _fill(target: Path, staging: Path) -> None:
    """Move the staged files into the empty directory `target`, keeping the directory itself:
    its owner, group and mode may have been set up for a server, and it may be a shell's working
    directory. saved_model.pb goes last, so the directory is an export only once complete; an
    error puts back what was moved."""
    moved = []
    try:
        for entry in sorted(staging.iterdir(), key=lambda entry: entry.name == "saved_model.pb"):
            os.replace(entry, target / entry.name)
            moved.append(entry.name)
    except BaseException:
        for name in moved:
            os.replace(target / name, staging / name)
        raise
    staging.rmdir()


def _missing_ancestor(folder: Path) -> Path | None:
    """The outermost of `folder` and its parents that does not exist yet, or None."""
    missing = None
    while not folder.exists() and folder != folder.parent:
        missing, folder = folder, folder.parent
    return missing


def _remove_empty_folders(folder: Path, outermost: Path) -> None:
    """Remove `folder` and its parents up to `outermost`, as long as they are empty."""
    while True:
        try:
            folder.rmdir()
        except OSError:
            return
        if folder == outermost:
            return
        folder = folder.parent


def _fsync_tree(directory: Path) -> None:
    """Flush every file to disk: after a power cut the renamed directory never holds empty files."""
    for path in [*directory.rglob("*"), directory]:
        if path.is_file() or path.is_dir():
            flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
            descriptor = os.open(path, flags)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)


def write_metadata(directory: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write `metadata` as `assets.extra/zoo.json` in a staging directory; return the file.

    A plain write: the staging directory is published as a whole, and a plain file gets the
    umask's permissions (readable by a server running as another user).
    """
    path = Path(directory) / METADATA
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, **metadata}, indent=2, sort_keys=True, default=str)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_metadata(directory: str | os.PathLike) -> dict[str, Any]:
    """The `zoo.json` of an export (see `zoo.serving.exporter.describe` for its fields)."""
    path = Path(directory) / METADATA
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{Path(directory)} is a SavedModel but not a zoo export: it has no {METADATA}. "
            f"Load it with tf.saved_model.load, or export the model again with zoo.export."
        ) from None
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read {path} ({error}); export the model again.") from None
    # What loading needs; the rest is description. Valid JSON can still be another document.
    problem = None
    if not isinstance(metadata, dict):
        problem = f"it holds a JSON {type(metadata).__name__}, not an object"
    elif not isinstance(metadata.get("format"), int) or metadata["format"] > FORMAT:
        problem = (f"its format {metadata.get('format')!r} is not one this zoo reads "
                   f"(up to {FORMAT})")
    elif not isinstance(metadata.get("num_classes"), int) or metadata["num_classes"] < 1:
        problem = f"its num_classes is {metadata.get('num_classes')!r}, not a positive integer"
    elif not isinstance(metadata.get("class_names") or [], list):
        problem = "its class_names is not a list"
    elif metadata.get("class_names") and len(metadata["class_names"]) != metadata["num_classes"]:
        problem = (f"it names {len(metadata['class_names'])} classes in class_names but its "
                   f"num_classes is {metadata['num_classes']}")
    if problem is not None:
        raise DataError(
            f"cannot read {path}: {problem}. Export the model again with this zoo (or load "
            f"the SavedModel with tf.saved_model.load)."
        )
    return metadata


def load_saved_model(directory: str | os.PathLike) -> Any:
    """An export's SavedModel, loaded with plain TensorFlow: a graph and its variables, so no
    Python code from the directory runs, and its graph checked first for operations that touch
    files or other processes (`zoo.serving.safety.inspect_saved_model`). A damaged one raises
    `DataError`."""
    import tensorflow as tf

    from zoo.serving.safety import inspect_saved_model
    from zoo.training.policy import strategy_name

    if tf.distribute.has_strategy():
        # Its variables would be made for the strategy's replicas, and the first call failed
        # deep in TensorFlow ("cross-replica context in an in-replica context").
        raise InvalidValueError(
            f"cannot load the export in {directory} inside `with strategy.scope():` of a "
            f"{strategy_name(tf.distribute.get_strategy())}: an export's variables load outside "
            f"any strategy. Load it before the `with` block (predictor = zoo.load(DIR)); the "
            f"loaded model predicts and is evaluated inside the block as well."
        )
    inspect_saved_model(directory)
    try:
        return tf.saved_model.load(str(directory))
    except Exception as error:  # TensorFlow raises many kinds for a damaged SavedModel
        raise DataError(
            f"could not load the SavedModel in {directory} ({first_line(error)}); it may be "
            f"truncated or corrupt. Export the model again."
        ) from None


def library_versions() -> dict[str, str]:
    """Versions of what produced an export: zoo, TensorFlow, Keras, NumPy and Python."""
    import keras
    import numpy
    import tensorflow

    import zoo

    return {
        "zoo": zoo.__version__,
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }
