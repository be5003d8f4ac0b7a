"""zoo/io.py's claims on directories where file locks are missing, its process checks and error
naming, and zoo/training/fingerprint.py's data fingerprints of the array-likes and folders the
workdir tests (test_workdir.py) do not fingerprint."""

import copy
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ClaimingProcess

import zoo.io
from zoo.io import (
    atomic_write_json,
    claim,
    in_use_by,
    process_alive,
    process_started,
    release,
    save_atomically,
)
from zoo.training.fingerprint import fingerprint

# -- zoo/io.py ------------------------------------------------------------------------------------


def test_a_save_failing_on_another_file_names_that_file(tmp_path):
    # Only an error naming no file, or the temporary one, is given the target's name: a save
    # that could not read its own input says which.
    vocabulary = tmp_path / "vocabulary.txt"

    def save(temporary):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(vocabulary))

    with pytest.raises(FileNotFoundError) as raised:
        save_atomically(save, tmp_path / "model.keras")
    assert raised.value.filename == str(vocabulary)


def _without_fcntl(monkeypatch, directory):  # Windows
    monkeypatch.setitem(sys.modules, "fcntl", None)


def _directory_not_openable(monkeypatch, directory):  # read permission missing, some mounts
    real_open = os.open

    def refused(path, flags, *args, **kwargs):
        if Path(path) == directory:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)


def _file_system_without_locks(monkeypatch, directory):  # some network file systems: ENOLCK
    import fcntl

    def flock(descriptor, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", flock)


@pytest.mark.parametrize("no_locks", [_without_fcntl, _directory_not_openable,
                                      _file_system_without_locks])
def test_without_locks_a_directory_is_held_by_the_live_process_it_records(tmp_path, monkeypatch,
                                                                          no_locks):
    directory = tmp_path / "run"
    directory.mkdir()
    no_locks(monkeypatch, directory)
    # This process's own claim: recorded, and never "in use by another process".
    assert claim(directory) and in_use_by(directory) is None
    assert json.loads((directory / "process.json").read_text())["pid"] == os.getpid()
    release(directory)
    assert not (directory / "process.json").exists()

    with ClaimingProcess(directory) as other:  # it locks; this process can only read its record
        assert in_use_by(directory) == other.pid and not claim(directory)
        recorded = json.loads((directory / "process.json").read_text())
        # Its number given to a process started at another time (after a reboot): not the holder.
        atomic_write_json(directory / "process.json",
                          {**recorded, "started": recorded["started"] + 1})
        assert in_use_by(directory) is None
        # A record without a start time is taken by its number alone.
        atomic_write_json(directory / "process.json", {"pid": other.pid})
        assert in_use_by(directory) == other.pid
    # Its process gone (kill -9), the record it left holds nothing.
    assert in_use_by(directory) is None and claim(directory)
    release(directory)


def test_a_second_claim_failing_half_way_keeps_the_first(tmp_path, monkeypatch):
    # A notebook cell run again on a full disk: the directory stays this process's, not let go
    # for another process to work in beside it.
    directory = tmp_path / "run"
    assert claim(directory)
    try:
        def full_disk(path, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        monkeypatch.setattr(zoo.io, "atomic_write_json", full_disk)
        with pytest.raises(OSError, match="No space left on device"):
            claim(directory)
        monkeypatch.undo()
        with pytest.raises(AssertionError):  # the other process's claim fails: it is held here
            with ClaimingProcess(directory):
                pass
    finally:
        release(directory)


def test_a_process_gone_has_no_start_time_and_another_users_counts_as_alive(monkeypatch):
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    assert process_started(gone) is None and not process_alive(gone)
    assert process_started(os.getpid()) is not None

    def refused(pid, signal):  # kill -0 on another user's process
        raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "kill", refused)
    assert process_alive(gone)


# -- zoo/training/fingerprint.py ------------------------------------------------------------------


def test_a_folders_fingerprint_sees_the_files_at_its_top(tmp_path):
    # A folder of .txt inputs holds its files directly, not in class folders.
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("a fine film")
    before = fingerprint(tmp_path / "texts")
    (tmp_path / "texts" / "a.txt").write_text("a dull film")
    assert fingerprint(tmp_path / "texts") != before


def _image(pixel: int = 0) -> np.ndarray:
    """A 40x40 RGB image, black but for one pixel in the middle: more values than NumPy's repr
    shows, so that a hash of the repr would not see that pixel change."""
    image = np.zeros((40, 40, 3), np.uint8)
    image[20, 20, 1] = pixel
    return image


@pytest.mark.parametrize(("first", "second"), [
    # Images of several sizes, which NumPy makes no one array of: each hashed whole.
    (([np.zeros((8, 8, 3), np.uint8), _image()], [0, 1]),
     ([np.zeros((8, 8, 3), np.uint8), _image(9)], [0, 1])),
    # A column of images (a frame's object column): the arrays in it, not their repr.
    ((pd.Series([_image(), _image()]), [0, 1]), (pd.Series([_image(), _image(9)]), [0, 1])),
    # Texts as bytes, told apart by where each ends as str texts are.
    ([[b"ab", b"c"], [0, 1]], [[b"a", b"bc"], [0, 1]]),
    # Labels of an object column (a table of mixed types): by value.
    ((["a", "b"], np.array([0, 1], object)), (["a", "b"], np.array([1, 0], object))),
], ids=["ragged_images", "series_of_images", "bytes_texts", "object_labels"])
def test_fingerprints_of_array_likes_see_every_value(first, second):
    assert fingerprint(first) != fingerprint(second)
    assert fingerprint(first) == fingerprint(copy.deepcopy(first))
    assert fingerprint(first).startswith("arrays:2:")


def test_texts_as_bytes_have_the_fingerprint_of_the_same_texts_as_str():
    assert fingerprint(([b"a fine film", b"so dull"], [1, 0])) == fingerprint(
        (["a fine film", "so dull"], [1, 0]))
