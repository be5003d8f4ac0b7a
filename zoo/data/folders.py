"""Folders with one sub-folder per class, holding images or `.txt` files of one text each.

Images are decoded once, when the folder is read, so that a corrupt file or a stray size is
reported before training with its file name; or, for a recipe with `resize_images`, fitted to
the model's input shape one by one as they are decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.data.catalog import IMAGE_EXTENSIONS
from zoo.data.examples import Examples
from zoo.data.labels import name_positions
from zoo.data.resizing import fit_images
from zoo.data.tables import not_utf8
from zoo.data.validate import (
    check_images,
    check_texts,
    differing_shapes_fix,
    scoring_trained_model,
)
from zoo.errors import DataError, and_more, first_line, warn

OTHER_IMAGE_EXTENSIONS = (".webp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jp2")


def read_folder(path: Path, image_shape: Sequence[int] | None = None,
                class_names: Sequence[str] | None = None) -> Examples:
    """Read a folder with one sub-folder per class (sorted names = class ids): images, decoded
    once here so that a corrupt file or a stray size is reported before training with its file
    name (they must all have one shape, or each is fitted to `image_shape` (height, width,
    channels) when one is given: `zoo.data.resizing.fit_images`), or `.txt` files of one text
    each, as IMDB's aclImdb (`train/pos/0_9.txt`) and `keras.utils.text_dataset_from_directory`
    have them.

    Hidden folders and macOS' `__MACOSX` (left by unzipping an archive made on a Mac) are never
    classes. With `class_names`, only the class folders it names are read (as Keras'
    `class_names=` selects them), with a warning naming the others: aclImdb's `train/` also
    holds `unsup/`, reviews without a label. Not so when a trained model is scored
    (`validate.for_trained_model`): its class names are not a choice.

    Example:
        >>> import pathlib, tempfile
        >>> from zoo.data.folders import read_folder
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for label, text in (("pos", "a fine film"), ("neg", "so dull")):
        ...     (root / label).mkdir()
        ...     _ = (root / label / "1.txt").write_text(text)
        >>> examples = read_folder(root)
        >>> examples.kind, examples.features.tolist(), examples.labels.tolist()
        ('text', ['so dull', 'a fine film'], [0, 1])
        >>> examples.class_names
        ('neg', 'pos')
    """
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not skipped_name(d.name))
    if class_names is not None and classes and not scoring_trained_model():
        # A trained model's class names are not a choice of folders: a test folder it does not
        # know (a misspelt "Cat") is refused below rather than left out of the score.
        classes = _named_classes(path, classes, class_names)
    if not classes:
        raise DataError(
            f"{path} has no sub-folders; a folder source needs one sub-folder per class, e.g. "
            f"{path / 'cat' / '0001.png'} and {path / 'dog' / '0002.png'}, or "
            f"{path / 'pos' / '0001.txt'} and {path / 'neg' / '0002.txt'}."
        )
    _check_not_a_folder_of_splits(path, classes)
    found = [example_files(path, path / name) for name in classes]  # (images, texts) per class
    images = [file for class_images, _ in found for file in class_images]
    texts = [file for _, class_texts in found for file in class_texts]
    if not images and not texts:
        raise DataError(
            f"{path} is empty: its class folders ({', '.join(classes)}) hold no images "
            f"({', '.join(IMAGE_EXTENSIONS)}) and no .txt files."
        )
    features, kind = read_examples(path, images, texts, labelled=True, image_shape=image_shape)
    per_class = [len(class_images if kind == "image" else class_texts)
                 for class_images, class_texts in found]
    empty = [name for name, count in zip(classes, per_class, strict=True) if not count]
    if empty:
        # Kept as classes, as Keras' image_dataset_from_directory keeps them (the ids of the
        # others stay as the sorted names give them), but said: a stray folder (notes/, a run's
        # logs/) made a class no example has, and a model with an output it never learns.
        warn(f"{path}: {len(empty)} of its {len(classes)} class folders hold no "
             f"{'images' if kind == 'image' else '.txt files'} "
             f"({and_more([repr(name) for name in empty[:4]], len(empty))}); they stay classes "
             f"that no example has. Move them out of {path} unless the data lacks those classes "
             f"on purpose.")
    labels = np.repeat(np.arange(len(classes), dtype=np.int32), per_class)
    return Examples(features, labels, kind, tuple(classes), repr(path.name))


def _named_classes(path: Path, classes: list[str], class_names: Sequence[str]) -> list[str]:
    """The class folders of `path` that `class_names` names (a folder may spell "T-shirt/top"
    as "T-shirt_top"); the others are said to be skipped, and none at all is an error."""
    known = name_positions(class_names)
    named = [name for name in classes if name in known]
    others = [name for name in classes if name not in known]
    if not named:
        raise DataError(
            f"{path} has no class folder named in class_names ({', '.join(class_names)}); its "
            f"folders are {and_more([repr(name) for name in others[:6]], len(others))}. Name the "
            f"folders to read in class_names (command line: --class-names)."
        )
    if others:
        warn(f"{path}: reading the class folders named in class_names only; skipping "
             f"{and_more([repr(name) for name in others[:4]], len(others))}.")
    return named


def read_examples(
    root: Path, images: Sequence[Path], texts: Sequence[Path], *, labelled: bool,
    image_shape: Sequence[int] | None = None,
) -> tuple[np.ndarray, str]:
    """The examples in files found under `root` (`example_files`) and their kind: images
    decoded into one array ("image"; each fitted to `image_shape` when given), or each `.txt`
    file's text ("text"). Both kinds at once are refused; `labelled` texts are checked as
    training data (see `check_texts`)."""
    if images and texts:
        raise DataError(
            f"{root} holds both images ({images[0].relative_to(root)}, ...) and text files "
            f"({texts[0].relative_to(root)}, ...); expected one kind: images or .txt files. "
            f"Move the other kind out."
        )
    if texts:
        return read_text_files(root, texts, labelled=labelled), "text"
    return decode_images(root, images, image_shape), "image"


def read_text_files(root: Path, files: Sequence[Path], *, labelled: bool) -> np.ndarray:
    """The UTF-8 text of each file (under `root`) as an object array, checked as texts."""
    texts = []
    for file in files:
        try:
            # utf-8-sig: a byte-order mark (Windows Notepad writes one) is not part of the text.
            texts.append(file.read_text(encoding="utf-8-sig").strip())
        except UnicodeDecodeError:
            raise not_utf8(file) from None
    return check_texts(np.array(texts, dtype=object), repr(root.name), labelled=labelled,
                       files=[str(file.relative_to(root)) for file in files])


def example_files(root: Path, folder: Path) -> tuple[list[Path], list[Path]]:
    """The image files and the `.txt` files under `folder` (at any depth, sorted), skipping
    hidden ones and `__MACOSX`; raises for images in a format zoo cannot decode, named
    relative to `root`."""
    images: list[Path] = []
    texts: list[Path] = []
    unreadable: list[Path] = []
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or any(skipped_name(p) for p in file.relative_to(root).parts):
            continue
        if _is_image(file):
            images.append(file)
        elif _is_text(file):
            texts.append(file)
        elif file.suffix.lower() in OTHER_IMAGE_EXTENSIONS:
            unreadable.append(file)
    if unreadable:  # skipping them would use part of the data without a word
        raise unreadable_images(root, unreadable)
    return images, texts


def unreadable_images(root: Path, files: Sequence[Path]) -> DataError:
    """The error for image `files` (under `root`) in a format TensorFlow cannot decode."""
    if len(files) == 1 and files[0].parent == root:  # one file, as zoo predict takes one
        return DataError(
            f"{files[0]} is an image in a format zoo cannot decode; expected "
            f"{', '.join(IMAGE_EXTENSIONS)}. Convert it (e.g. with Pillow: "
            f"Image.open(f).save(f.with_suffix('.png')))."
        )
    return DataError(
        f"{root} holds {len(files)} image(s) in a format zoo cannot decode, e.g. "
        f"{files[0].relative_to(root)}; expected {', '.join(IMAGE_EXTENSIONS)}. Convert "
        f"them (e.g. with Pillow: Image.open(f).save(f.with_suffix('.png'))) or remove them."
    )


def decode_images(
    root: Path, files: Sequence[Path], image_shape: Sequence[int] | None = None
) -> np.ndarray:
    """Decode `files` (under `root`) into one uint8 array (count, height, width, channels),
    each fitted to `image_shape` (height, width, channels) when given; a corrupt file, or
    without `image_shape` one whose shape differs from the first, is named in the error."""
    images: list[np.ndarray] = []
    for file in files:
        try:
            image = tf.io.decode_image(tf.io.read_file(str(file)), expand_animations=False).numpy()
        except (tf.errors.OpError, OSError) as error:
            raise DataError(
                f"could not read {file}: {first_line(error)}. Expected a PNG, JPEG, BMP or GIF "
                f"image; remove or replace the file."
            ) from None
        if image_shape is not None:
            image = fit_images(image, image_shape)
        elif images and image.shape != images[0].shape:
            raise _differing_shapes_error(root, files[0], images[0].shape, file, image.shape)
        images.append(image)
    return check_images(np.stack(images), repr(root.name))


def _differing_shapes_error(root: Path, first: Path, first_shape: tuple[int, ...], file: Path,
                           shape: tuple[int, ...]) -> DataError:
    """The error for images of two shapes in one folder, with the way to convert them."""
    return DataError(
        f"images in {root} differ in shape: {first.relative_to(root)} is {first_shape} but "
        f"{file.relative_to(root)} is {shape} (height, width, channels); expected one shape for "
        f"all. {differing_shapes_fix(first_shape, shape)}"
    )


def skipped_name(name: str) -> bool:
    """Hidden files and folders, and the resource forks macOS' zip leaves in `__MACOSX`."""
    return name.startswith(".") or name == "__MACOSX"


def _is_image(file: Path) -> bool:
    return file.suffix.lower() in IMAGE_EXTENSIONS


def _is_text(file: Path) -> bool:
    return file.suffix.lower() == ".txt"


def _check_not_a_folder_of_splits(path: Path, classes: list[str]) -> None:
    """Raise for root/train/<class>/..., root/test/<class>/... given as root: the split folders
    would become the classes, and the model would learn train-vs-test."""
    inner: set[str] | None = None
    for name in classes:
        entries = [e for e in (path / name).iterdir() if not skipped_name(e.name)]
        if any(e.is_file() and (_is_image(e) or _is_text(e)) for e in entries):
            return  # examples at a class folder's top level: a real class folder
        names = {e.name for e in entries if e.is_dir()}
        if len(names) < 2 or (inner is not None and names != inner):
            # Different sub-folders, or one (cat/images, dog/images): images nested by the
            # user's own layout. A split holds classes, and one class trains nothing.
            return
        inner = names
    split = "train" if "train" in classes else classes[0]
    others = [name for name in classes if name != split]
    validation = f" (and {path / others[0]} as validation data)" if others else ""
    raise DataError(
        f"{path} looks like a folder of splits, one level above the class folders: its "
        f"sub-folders ({', '.join(classes)}) hold no images themselves, only the same folders "
        f"({', '.join(sorted(inner or ()))}), which would make the split folders the classes. "
        f"Pass the folder of one split instead, e.g. {path / split}{validation}."
    )
