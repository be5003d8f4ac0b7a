"""Atomic file writes: write to a temporary path beside the target, then rename.

A crash or `kill -9` mid-write leaves either the old file or the new one, never half of one; the
temporary file it was writing stays behind, named `.TARGET.XXXXXXXX.SUFFIX`, until
`remove_temporaries` clears the directory (a training workdir does when a run resumes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from zoo.errors import and_more


def atomic_write_text(path: str | os.PathLike, text: str, *, named: bool = False) -> Path:
    """Write `text` to `path` atomically (UTF-8). Returns the path.

    `named=True` for a path the user named for output (`--output`): a symbolic link is written
    through (the file it points to is replaced, the link kept), and a path that is no regular
    file (a FIFO, a terminal, `/dev/stdout`, a process substitution's `/dev/fd/N`) is written to
    as it is, having no file to replace. zoo's own files (a workdir's) never follow a link: one
    planted there would have zoo overwrite whatever it points to.

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.io import atomic_write_text
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
        >>> atomic_write_text(target, "hello").read_text()
        'hello'
    """
    if named and special_file(path):
        _write_special(path, text)
        return Path(path)

    def write(temporary: Path) -> None:
        # A plain open() ("x": the name is fresh), so the file gets the mode the umask gives.
        with open(temporary, "x", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    # named .NAME.XXXXXXXX.tmp while written
    save_atomically(write, written_path(path) if named else path, suffix="")
    return Path(path)


def written_path(path: str | os.PathLike) -> Path:
    """The file an output the user named is written to: a symbolic link's target (resolved, so
    that the link stays a link), else `path`.

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.io import written_path
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "latest.csv").symlink_to("2026-11-27.csv")
        >>> written_path(folder / "latest.csv").name
        '2026-11-27.csv'
    """
    path = Path(path)
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _write_special(path: str | os.PathLike, text: str) -> None:
    """Write `text` to a FIFO, device or descriptor path. A descriptor of this process
    (`/dev/stdout`, `/dev/fd/3`) is written through the descriptor itself: reopening its path
    with "w" emptied the file a shell opened for appending (`3>>log.txt`)."""
    descriptor = descriptor_of(path)
    if descriptor is None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    with os.fdopen(os.dup(descriptor), "w", encoding="utf-8") as handle:
        handle.write(text)


def save_atomically(
    save: Callable[[Path], Any], path: str | os.PathLike, *, suffix: str | None = None
) -> Path:
    """Call `save` (Keras' `model.save`, `save_weights`) on a temporary name beside `path`, then
    rename it to `path`; on an error the temporary file goes and the error names `path`. The
    temporary name ends as `path` does (Keras picks the format by it) unless `suffix` is given
    (as for `temporary_sibling`).

    Example:
        >>> import tempfile, pathlib, zoo
        >>> from zoo.io import save_atomically
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "mlp.weights.h5"
        >>> save_atomically(zoo.build("mlp_mnist").save_weights, path).is_file()
        True
    """
    path = Path(path)
    if suffix is None:
        suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    temporary = temporary_sibling(path, suffix=suffix)
    try:
        save(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise naming(error, path) from None
        raise
    return path


def special_file(path: str | os.PathLike) -> bool:
    """Whether `path` (its links followed) exists and is neither a regular file nor a folder (a
    FIFO, a device such as a terminal, a socket), or names a descriptor of this process
    (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`), which may be a regular file a shell opened
    (`> out.csv`) but is written as the descriptor, never replaced.

    Example:
        >>> import tempfile
        >>> from zoo.io import special_file
        >>> special_file("/dev/null"), special_file(tempfile.gettempdir()), special_file("no/such")
        (True, False, False)
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # missing, a link loop; ValueError: a NUL in the path
        return False
    if stat.S_ISDIR(mode):
        return False
    # Other files under /dev (/dev/shm's) are files like any other.
    return descriptor_of(path) is not None or not stat.S_ISREG(mode)


def descriptor_of(path: str | os.PathLike) -> int | None:
    """The descriptor of this process a path names (`/dev/stdout` 1, `/dev/fd/3` 3,
    `/proc/self/fd/3` 3), else None.

    Example:
        >>> from zoo.io import descriptor_of
        >>> descriptor_of("/dev/stdin"), descriptor_of("/dev/fd/3"), descriptor_of("/dev/shm/x")
        (0, 3, None)
    """
    match = _DESCRIPTOR_PATH.fullmatch(os.path.abspath(path))
    if match is None:
        return None
    standard, number = match.groups()
    return _STANDARD_DESCRIPTORS[standard] if standard else int(number)


_DESCRIPTOR_PATH = re.compile(r"/dev/(stdin|stdout|stderr)|(?:/dev/fd|/proc/self/fd)/(\d+)")
_STANDARD_DESCRIPTORS = {"stdin": 0, "stdout": 1, "stderr": 2}


# A file name's limit on Linux and macOS file systems, in bytes, and what zoo's temporary names
# add to the name they stand in for (".NAME.tmp-PID-XXXXXXXX" beside an export).
NAME_MAX = 255
TEMPORARY_ROOM = 24


def check_name_room(path: str | os.PathLike, what: str) -> None:
    """Refuse a file or folder name too long for the temporary name it is written under first
    (then renamed, so that an error never leaves half a file), before any work is done.

    Example:
        >>> from zoo.io import check_name_room
        >>> check_name_room("exports/" + "m" * 240, "the export")
        Traceback (most recent call last):
        ...
        zoo.errors.InvalidValueError: the export's name is 240 bytes long; ...
    """
    from zoo.errors import InvalidValueError

    length = len(os.fsencode(Path(path).name))
    if length + TEMPORARY_ROOM > NAME_MAX:
        raise InvalidValueError(
            f"{what}'s name is {length} bytes long; zoo writes it under a temporary name "
            f"{TEMPORARY_ROOM} bytes longer first, and file names stop at {NAME_MAX}. Use a name "
            f"of at most {NAME_MAX - TEMPORARY_ROOM} bytes."
        )


def naming(error: OSError, path: str | os.PathLike) -> OSError:
    """`error`, naming `path` where it names no file or only a temporary one: a failed write
    ("File too large") names none, and HDF5 names the temporary file being written.

    Example:
        >>> import errno
        >>> from zoo.io import naming
        >>> naming(OSError(errno.EFBIG, "File too large"), "runs/a/history.csv").filename
        'runs/a/history.csv'
    """
    if error.filename is not None and not is_temporary_name(Path(str(error.filename)).name):
        return error
    return OSError(error.errno, error.strerror or str(error), str(path))


def json_kind(value: Any) -> str:
    """What JSON calls the type of `value`: 'array' for a list, 'string' for a str..."""
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number",
             type(None): "null", dict: "object"}
    return kinds.get(type(value), type(value).__name__)


def read_json_object(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in the file at `path`; ValueError (or OSError) saying what is wrong where
    the file is not UTF-8 JSON text or holds no object (`[]`, a number).

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.io import read_json_object
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "config.json"
        >>> _ = path.write_text("[]")
        >>> read_json_object(path)
        Traceback (most recent call last):
        ...
        ValueError: it holds a JSON array, expected an object
    """
    try:
        value = json.loads(Path(path).read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"it is not UTF-8 text (byte 0x{error.object[error.start]:02x} at "
                         f"offset {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"it is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"it holds a JSON {json_kind(value)}, expected an object")
    return value


def read_optional_json_object(path: str | os.PathLike) -> dict[str, Any]:
    """`read_json_object`, but {} where the file is missing, unreadable or holds no object (a
    damaged or foreign file): for optional files read by their keys (a workdir's report.json,
    state.json, process.json), whose absence says less but breaks nothing."""
    try:
        return read_json_object(path)
    except (OSError, ValueError):
        return {}


def json_text(data: Any) -> str:
    """`data` as zoo writes JSON files (report.json, state.json, `--output -`): indented, keys
    sorted, ending in a newline.

    Example:
        >>> from zoo.io import json_text
        >>> print(json_text({"b": 1, "a": [2]}), end="")
        {
          "a": [
            2
          ],
          "b": 1
        }
    """
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def atomic_write_json(path: str | os.PathLike, data: Any, *, named: bool = False) -> Path:
    """Write `data` as indented JSON to `path` atomically (`named`: as `atomic_write_text`)."""
    return atomic_write_text(path, json_text(data), named=named)


def temporary_sibling(path: str | os.PathLike, suffix: str = "") -> Path:
    """A fresh, unused path in the same directory as `path` (same file system, so rename is
    atomic), named `.NAME.XXXXXXXX` + `suffix` (`.tmp` by default), as `is_temporary_name` knows.

    Give as `suffix` an ending of `path`'s name (`.keras` for `best.keras`) when the writer picks
    the format by extension, as Keras does; other suffixes would make names that
    `is_temporary_name` does not recognise, so a crash would leave them behind for good.

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.io import is_temporary_name, temporary_sibling
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "best.keras"
        >>> temporary = temporary_sibling(target, suffix=".keras")
        >>> temporary.parent == target.parent, temporary.exists(), is_temporary_name(temporary.name)
        (True, False, True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=suffix or ".tmp"
    )
    os.close(descriptor)
    os.unlink(temporary)
    return Path(temporary)


# The names `tempfile.mkstemp(prefix=".NAME.", suffix=SUFFIX)` makes for `temporary_sibling` and
# `atomic_write_text`: 8 characters from tempfile's alphabet between the target and the suffix.
_TEMPORARY_NAME = re.compile(r"\.(?P<target>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^.].*)")


def is_temporary_name(name: str) -> bool:
    """True for a name `temporary_sibling` or `atomic_write_text` makes: `.TARGET.XXXXXXXX` then
    `.tmp` or the target's own ending (`.best.keras.k3x9a0qe.keras`).

    Example:
        >>> from zoo.io import is_temporary_name
        >>> [is_temporary_name(name) for name in (
        ...     ".state.json.q64giecn.tmp", ".epoch_0002.weights.h5.teyof75z.weights.h5",
        ...     ".best.keras.dyjtthmg.keras", "best.keras", ".notes.tmp", ".best.keras.ab.keras")]
        [True, True, True, False, False, False]
    """
    match = _TEMPORARY_NAME.fullmatch(name)
    return match is not None and (
        match["suffix"] == ".tmp" or match["target"].endswith(match["suffix"])
    )


def remove_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (and staging folders) an interrupted atomic write left directly
    in `directory`; return what was removed. Other entries, and subfolders' contents, stay.

    Only call it while no other process writes into `directory`: a write in progress would lose
    its temporary file and fail at the rename.

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.io import remove_temporaries
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / ".state.json.q64giecn.tmp").write_text("{")  # left by a kill -9
        >>> _ = (folder / "state.json").write_text("{}")
        >>> [path.name for path in remove_temporaries(folder)]
        ['.state.json.q64giecn.tmp']
        >>> sorted(path.name for path in folder.iterdir())
        ['state.json']
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for path in sorted(directory.iterdir()):
        if not is_temporary_name(path.name):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)  # a staging folder (Preprocessor.save)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


PROCESS_FILE = "process.json"  # in a workdir or search directory: the process working there

# The files that make a directory a training run's workdir or a hyperparameter search's (named
# here, where both read them): each refuses the other's, since both keep a vocabulary in
# preprocessor/ (one would silently reuse the other's, fitted on other data) and their files
# would mix.
CONFIG_FILE, STATE_FILE, STATE_DIR = "config.json", "state.json", "state"  # a workdir's
CLASSES_FILE = "classes.json"  # a workdir's {"class_names": [...]}: what its class ids stand for
MODEL_FILE, BEST_FILE = "model.keras", "best.keras"  # a workdir's final and best-epoch models
RUN_MODEL_FILES = (MODEL_FILE, BEST_FILE)
REPORT_FILE = "report.json"  # a workdir's evaluation of its final model
SEARCH_FILE, SEARCH_PROJECT = "search.json", "keras_tuner"  # a search's, and keras-tuner's folder
HISTORY_FILE = "history.csv"  # a workdir's table of completed epochs
TRIALS_FILE = "trials.csv"  # a search's table of trials
RUN_MARKERS = (CONFIG_FILE, STATE_FILE, STATE_DIR)
SEARCH_MARKERS = (SEARCH_FILE, SEARCH_PROJECT)
# Every file zoo keeps at the top of a workdir or search directory, which an output the user
# names must not replace (`--output runs/x/config.json`).
OWN_FILES = (PROCESS_FILE, CONFIG_FILE, STATE_FILE, CLASSES_FILE, *RUN_MODEL_FILES, REPORT_FILE,
             HISTORY_FILE, SEARCH_FILE, TRIALS_FILE)


def default_search_directory(name: str) -> Path:
    """Where `zoo.tune(name)` (`zoo tune NAME`) searches when given no directory: tuning/NAME.

    Example:
        >>> from zoo.io import default_search_directory
        >>> str(default_search_directory("cnn_mnist"))
        'tuning/cnn_mnist'
    """
    return Path("tuning") / name


def directory_kind(directory: str | os.PathLike) -> str | None:
    """`"run"` for a training workdir, `"search"` for a search directory, else None.

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.io import directory_kind
        >>> directory = pathlib.Path(tempfile.mkdtemp())
        >>> directory_kind(directory), directory_kind(directory / "missing")
        (None, None)
        >>> (directory / "search.json").write_text("{}")
        2
        >>> directory_kind(directory)
        'search'
    """
    directory = Path(directory)
    for kind, markers in (("run", RUN_MARKERS), ("search", SEARCH_MARKERS)):
        if any((directory / name).exists() for name in markers):
            return kind
    return None


def other_files(directory: str | os.PathLike, own: Iterable[str] = ()) -> str | None:
    """The entries of `directory` that a new run or search would write among, named for a
    message ("a.png, b.png and 3 more"); None where there are none. Left out: hidden names (zoo's
    temporary files, a multi-worker run's `.worker-N` folders, `.DS_Store`), the claim zoo
    leaves (`process.json`) and the names in `own`.

    Example:
        >>> import tempfile, pathlib
        >>> from zoo.io import other_files
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "process.json").write_text("{}")
        >>> _ = (folder / ".worker-1").mkdir()
        >>> other_files(folder) is None
        True
        >>> _ = (folder / "digits.npz").write_bytes(b"")
        >>> other_files(folder), other_files(folder / "missing")
        ('digits.npz', None)
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    skipped = {PROCESS_FILE, *own}
    names = sorted(path.name for path in directory.iterdir()
                   if not path.name.startswith(".") and path.name not in skipped)
    return and_more(names[:4], len(names)) if names else None


# The directories this process holds, and the open descriptor whose lock holds each.
_HELD: dict[Path, int] = {}


def claim(directory: str | os.PathLike) -> bool:
    """Take `directory` (made if missing) for this process's work: False, taking nothing, when
    another live process holds it.

    The claim is an exclusive lock on the directory (`flock`), which is taken or refused in one
    step, so two processes starting together cannot both get it, and which the system drops when
    the process ends, however it ends (`kill -9` too). `process.json` names the holder for
    messages. Where locks are not available (Windows, some network file systems) the recorded
    process is checked instead, as `in_use_by` does.

    Example:
        >>> import tempfile
        >>> from zoo.io import claim, in_use_by, release
        >>> directory = tempfile.mkdtemp()
        >>> claim(directory), claim(directory), in_use_by(directory)  # this process's own
        (True, True, None)
        >>> release(directory)
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = directory.resolve()
    held = _HELD.get(key)
    if held is not None and not os.path.samestat(os.fstat(held), os.stat(directory)):
        os.close(_HELD.pop(key))  # the directory was deleted and made again: lock the new one
    taken = None
    try:
        if key not in _HELD:
            locked = _lock(directory)
            if locked == _BUSY or (locked is None and _recorded_holder(directory) is not None):
                return False
            if locked is not None:
                taken = _HELD[key] = locked
        atomic_write_json(directory / PROCESS_FILE,
                          {"pid": os.getpid(), "started": process_started(os.getpid())})
    except BaseException:  # a full disk, Ctrl-C: a claim half taken would block every process
        if taken is not None:
            os.close(_HELD.pop(key))
        raise
    return True


def release(directory: str | os.PathLike) -> None:
    """The work in `directory` is over: drop this process's claim."""
    directory = Path(directory)
    (directory / PROCESS_FILE).unlink(missing_ok=True)
    descriptor = _HELD.pop(directory.resolve(), None)
    if descriptor is not None:
        os.close(descriptor)  # closing drops the lock


def in_use_by(directory: str | os.PathLike) -> int | None:
    """The number of another live process working in `directory` (0 where it has not yet
    recorded it), else None: a killed one's claim is gone, and this process may go on (a
    notebook cell run again).

    Example:
        >>> import tempfile
        >>> from zoo.io import in_use_by
        >>> in_use_by(tempfile.mkdtemp()) is None
        True
    """
    directory = Path(directory)
    if directory.resolve() in _HELD or not directory.is_dir():
        return None
    locked = _lock(directory)
    if locked is None:
        return _recorded_holder(directory)
    if locked != _BUSY:  # nobody holds it: a process.json left behind says nothing
        os.close(locked)
        return None
    recorded = read_optional_json_object(directory / PROCESS_FILE).get("pid")
    return recorded if isinstance(recorded, int) and recorded != os.getpid() else 0


def holder(pid: int) -> str:
    """`in_use_by`'s answer in words: "process 1234", or "another process" (0: not recorded yet).

    Example:
        >>> from zoo.io import holder
        >>> holder(1234), holder(0)
        ('process 1234', 'another process')
    """
    return f"process {pid}" if pid else "another process"


_BUSY = -1  # `_lock`'s answer when another process holds the lock (never a descriptor)


def _lock(directory: Path) -> int | None:
    """An open descriptor of `directory` holding its exclusive lock; `_BUSY` when another
    process holds the lock; None where this system or file system has no such locks."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return _BUSY
    except OSError:  # ENOLCK and the like: a file system without locks
        os.close(descriptor)
        return None
    return descriptor


def _recorded_holder(directory: Path) -> int | None:
    """Without locks: the live process `process.json` names, unless it is this one or a later
    process given the same number (one started at another time, after a reboot)."""
    recorded = read_optional_json_object(directory / PROCESS_FILE)
    pid, started = recorded.get("pid"), recorded.get("started")
    if not isinstance(pid, int) or pid == os.getpid() or not process_alive(pid):
        return None
    if started is not None and process_started(pid) not in (None, started):
        return None
    return pid


def process_started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None where that is
    not known: with the pid, it tells a process from a later one given the same number.

    Example:
        >>> import os
        >>> from zoo.io import process_started
        >>> process_started(os.getpid()) == process_started(os.getpid())
        True
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2, in parentheses) may hold spaces, so count after it.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def process_alive(pid: int) -> bool:
    """Whether process `pid` is running (another user's counts), as `kill -0` tells.

    Example:
        >>> import os
        >>> from zoo.io import process_alive
        >>> process_alive(os.getpid())
        True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def expand_user(value: Any) -> Any:
    """`value` with a leading `~` made the home directory where it is a path (a str or
    path-like), as pandas and TFDS read paths; anything else (arrays, DataFrames, datasets,
    TFDS names, None) as it is.

    Example:
        >>> import os
        >>> from zoo.io import expand_user
        >>> expand_user("~/digits.npz") == os.path.join(os.path.expanduser("~"), "digits.npz")
        True
        >>> expand_user("tfds:mnist"), expand_user(None)
        ('tfds:mnist', None)
    """
    if isinstance(value, os.PathLike):
        text = os.fspath(value)
        return Path(os.path.expanduser(text)) if str(text).startswith("~") else value
    if isinstance(value, str) and value.startswith("~"):
        return os.path.expanduser(value)
    return value
