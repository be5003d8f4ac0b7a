"""`zoo.data.load`: any source to a batched, validated `tf.data.Dataset` that a zoo model trains on.

The pipeline, in order: read and check (NumPy for local sources, metadata for TFDS) -> split ->
decode (text: vectorize) -> cache -> seeded shuffle -> batch -> map (scale, augment, normalize;
parallel) -> prefetch. Everything after reading runs in the tf.data graph, so the model never
waits on Python.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from zoo import checks
from zoo.data import validate
from zoo.data.catalog import DATASETS, is_tfds_source
from zoo.data.examples import Examples, TfdsExamples
from zoo.data.images import make_augmentation
from zoo.data.labels import name_positions, report_class_ids
from zoo.data.preprocess import Preprocessor, checked_preprocessor, make_preprocessor
from zoo.data.sources import read_source, tfds_name, with_class_names
from zoo.data.text import TEXT_BATCH
from zoo.data.tfds_source import read_tfds
from zoo.errors import DataError, InvalidValueError
from zoo.io import expand_user
from zoo.registry import as_spec
from zoo.spec import ModelSpec

logger = logging.getLogger("zoo.data")

LOCAL_SPLITS = ("train", "validation", "all")
MAX_SHUFFLE_BUFFER = 100_000  # a full shuffle for every catalog dataset but ag_news (120k)
# Length bucketing sorts this many batches of examples at a time: enough for batches of similar
# length, few enough that a chunk is still a random draw from the (shuffled) data.
BATCHES_PER_CHUNK = 32


def resizes(source: Any, spec: ModelSpec) -> bool:
    """Whether a run of `spec` reads `source` with `resize_images`: its recipe asks for it and
    the source is local (TFDS datasets are read as TFDS stores them; None is the entry's TFDS
    dataset). What zoo.train, zoo.tune and zoo.evaluate pass to `load`, so that only a caller's
    own `resize_images=True` for a TFDS dataset is warned about.

    Example:
        >>> import zoo
        >>> from zoo.data.pipeline import resizes
        >>> spec = zoo.get_spec("cnn_cifar10").with_overrides(resize_images=True)
        >>> resizes("photos/", spec), resizes("tfds:cifar10", spec), resizes(None, spec)
        (True, False, False)
    """
    return spec.recipe.resize_images and not is_tfds_source(source)


def load(
    source: Any = None,
    split: str = "train",
    *,
    spec: ModelSpec | str | None = None,
    batch_size: int | None = None,
    shuffle: bool | None = None,
    augment: bool | None = None,
    seed: int = 0,
    preprocessor: Preprocessor | None = None,
    validation_fraction: float = 0.1,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    cache: bool = True,
    drop_remainder: bool = False,
    bucket_by_length: bool = False,
    text_column: str | None = None,
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
    resize_images: bool = False,
) -> tf.data.Dataset:
    """Load a dataset as batched `(inputs, labels)` ready for `model.fit` of `spec`'s model.

    Args:
        source: a path to an `.npz` file (arrays `x`, `y`), a `.csv`/`.tsv` file (text column
            `sentence` or `text`, and `label`), or a folder with one sub-folder per class (images
            or `.txt` files);
            a pandas DataFrame; a tuple `(x, y)` of arrays (images, or strings and labels);
            `"tfds:NAME[/CONFIG]"` or a catalog name (`"mnist"`, `"glue/sst2"`); None = the
            spec's own dataset from TFDS.
        split: local sources: `"train"` (all but a seeded hold-out of `validation_fraction`),
            `"validation"` (that hold-out: disjoint from train and the same on every call with
            the same seed) or `"all"`. TFDS: any split expression TFDS accepts
            (`"test"`, `"train[:90%]"`); a dataset without a `"validation"` split raises, naming
            the splits to use instead (TFDS slicing), rather than quietly carving one out of train.
            Any slice of the train split (`"train[90%:]"`) counts as training: it is shuffled,
            augmented and (text) adapts its own vocabulary unless told otherwise, so load a
            hold-out with `shuffle=False, augment=False, preprocessor=train.preprocessor`.
        spec: the entry's `ModelSpec` (or its name). Decides scaling, normalization,
            augmentation, vocabulary, batch size and the checks. Without one (and without a
            `preprocessor`), the raw examples come back: images uint8 with a channel axis, texts
            as strings, labels int32; unbatched unless `batch_size` is given; no augmentation.
        batch_size: default: the spec's `recipe.batch_size`.
        shuffle: default: True for training splits (`"train"`, `"all"`, TFDS splits of the
            train split); seeded, and reshuffled every epoch in an order fixed by the seed.
        augment: default: True when the stream is a shuffled training split and the entry has
            an augmentation; never applied to evaluation streams unless asked for. True for an
            entry without an augmentation raises.
        seed: seeds the hold-out, the shuffle order and the augmentation: load a local
            source's "train" and "validation" splits with the same seed, or they overlap (each
            seed holds out other examples). tf.data combines a shuffle's seed with
            TensorFlow's global seed, so the order (not the hold-out) also depends on that: set
            it first (`keras.utils.set_random_seed(n)`, which `zoo.train` calls with its own
            seed) for the same order in every process and after any call.
        preprocessor: a fitted `Preprocessor` to reuse (the training dataset's `.preprocessor`);
            required for text splits other than `"train"`/`"all"`, whose vocabulary must come
            from training text. Without one, text training splits adapt a new one.
        validation_fraction: share of a local source held out as `"validation"`.
        data_dir, download: TFDS sources: the folder where TFDS data is prepared (default
            `$TFDS_DATA_DIR` or `~/tensorflow_datasets`), and whether a dataset not prepared
            there may be downloaded into it (as `tfds.load` does; where TFDS' download host
            cannot be reached it fails in seconds, naming the way out).
        cache: keep decoded examples (TFDS images, token ids) in memory after the first epoch.
            Local arrays and image folders are in memory already.
        drop_remainder: drop the last partial batch (for fixed shapes); raises when that would
            leave no batch at all.
        bucket_by_length: text only: batch texts of similar length together and cut each batch's
            padding to its bucket (8, 16, 32, ... up to `sequence_length` ids), so a recurrent
            model does not step over padding. Batches then vary in length (zoo text models take
            any length); the number of batches stays known.
        text_column, label_column: columns of a `.csv`/`.tsv` file or DataFrame.
        class_names: the class names in id order, as the training data has them
            (`train.class_names`): class names in the source (string labels, folder names) become
            their positions in this list, and a name not in it raises. Pass it when loading
            validation or test data, so that its ids follow training's even when it lacks a
            class. Without it, names map to the spec's `class_names` order when the spec names
            them all, else to sorted order. Integer labels are ids and stay as they are.
        resize_images: image entries, local sources: fit each image to the spec's input shape
            as it is read (resized to its height and width, bilinear and antialiased; alpha
            dropped; grayscale <-> RGB), so that a folder of photos of many sizes and colour
            modes trains; `zoo.train` passes its recipe's `resize_images`. Without it, images of
            another shape are refused. TFDS datasets are not resized.

    Returns:
        A `tf.data.Dataset` of `(inputs, labels)`: images (batch, H, W, C) float32, normalized;
        or token ids (batch, sequence_length) int32; labels (batch,) int32. Its attributes:
        `preprocessor` (the `Preprocessor` used, None without a spec), `class_names` (tuple, the
        name of each id: `class_names` when given, else the source's names or the spec's,
        numbered up to the spec's `num_classes`), `num_examples` (examples in the split,
        before batching) and `augmented` (whether its images are randomly distorted).

    Raises:
        DataError: the data cannot be used (empty, unreadable, wrong shape, bad labels...).
        DatasetUnavailableError: a TFDS dataset that cannot be loaded here.

    Example:
        >>> import numpy as np, zoo
        >>> x = np.random.default_rng(0).integers(0, 256, (100, 28, 28), dtype=np.uint8)
        >>> spec = zoo.get_spec("cnn_mnist")
        >>> train = zoo.data.load((x, np.arange(100) % 10), spec=spec)
        >>> valid = zoo.data.load((x, np.arange(100) % 10), "validation", spec=spec)
        >>> train.num_examples, valid.num_examples, train.element_spec[0].shape
        (90, 10, TensorShape([None, 28, 28, 1]))
        >>> history = zoo.build("cnn_mnist").fit(train, epochs=1, verbose=0, shuffle=False)

        Validation data labelled by name gets the training data's ids:

        >>> texts, names = ["fine", "dull", "so-so"] * 4, ["pos", "neg", "meh"] * 4
        >>> spec = zoo.get_spec("lstm_sst2").with_overrides(num_classes=3, vocab_size=10)
        >>> train = zoo.data.load((texts, names), spec=spec)
        >>> valid = zoo.data.load((["dull", "fine"], ["neg", "pos"]), "all", spec=spec,
        ...                       preprocessor=train.preprocessor, class_names=train.class_names)
        >>> train.class_names, next(iter(valid))[1].numpy().tolist()
        (('meh', 'neg', 'pos'), [1, 2])
    """
    source, data_dir = expand_user(source), expand_user(data_dir)
    spec = as_spec(spec)
    if checked_preprocessor(preprocessor) is not None:
        spec = spec or preprocessor.spec
        preprocessor.check_fits(spec)
    if spec is not None:
        checks.tensorflow_backend("zoo.data.load with a spec")
    if batch_size is not None:
        batch_size = checks.positive_int("batch_size", batch_size)
    elif spec is not None:
        batch_size = spec.recipe.batch_size
    bucket_by_length = checks.boolean("bucket_by_length", bucket_by_length)  # "no" is truthy
    if bucket_by_length and (spec is None or spec.input.kind != "text" or batch_size is None):
        raise InvalidValueError(
            "bucket_by_length=True needs the spec of a text entry and a batch size: it groups "
            "token-id sequences of similar length into batches."
        )
    if checks.boolean("resize_images", resize_images) and (
            spec is None or spec.input.kind != "image"):
        raise InvalidValueError(
            "resize_images=True needs the spec of an image entry: it fits images to the spec's "
            "input shape."
        )
    seed = checks.seed("seed", seed)
    checks.one_of("download", download, (True, False))
    for name, value, allowed in (("shuffle", shuffle, (True, False, None)),
                                 ("augment", augment, (True, False, None)),
                                 ("cache", cache, (True, False)),
                                 ("drop_remainder", drop_remainder, (True, False))):
        checks.one_of(name, value, allowed)  # "no" is truthy
    if class_names is not None:
        class_names = checks.class_names(class_names)
    validation_fraction = checks.fraction("validation_fraction", validation_fraction)
    if not isinstance(split, str) or not split.strip():
        raise InvalidValueError(f"split must be a non-empty string such as 'train', got {split!r}.")
    if source is None:
        if spec is None:
            raise InvalidValueError(
                "load() needs a source, or a spec whose dataset to load from TFDS."
            )
        source = f"tfds:{spec.dataset}"

    name = tfds_name(source)
    if name is None and data_dir is not None:
        logger.warning(
            "data_dir=%s is not used: it is where TFDS datasets are prepared, and this source is "
            "local data.", data_dir
        )
    if name is not None:
        if resize_images:  # said before a shape refusal that would otherwise leave it unexplained
            logger.warning(
                "resize_images=True is not applied to the TFDS dataset %r: its images are read as "
                "TFDS stores them (the option fits the images of local sources).", name)
        if name in DATASETS:  # catalog metadata: check before touching TFDS
            validate.check_tfds_against_spec(DATASETS[name], split, spec)
        tfds_examples = read_tfds(name, split, data_dir=data_dir, download=download)
        if name not in DATASETS:
            validate.check_tfds_against_spec(tfds_examples.info, split, spec)
        if class_names is not None and spec is not None:
            validate.check_class_names(class_names, spec, "the class_names given", given=True)
        training = bool({tfds_examples.info.train_split, "all"} & set(validate.split_names(split)))
        return _from_tfds(
            tfds_examples,
            class_names=class_names,
            spec=spec,
            training=training,
            preprocessor=preprocessor,
            batch_size=batch_size,
            shuffle=shuffle,
            augment=augment,
            seed=seed,
            cache=cache,
            drop_remainder=drop_remainder,
            bucket_by_length=bucket_by_length,
        )

    if split not in LOCAL_SPLITS:
        raise DataError(
            f"unknown split {split!r} for a local source; expected one of "
            f"{', '.join(LOCAL_SPLITS)} ('train' and 'validation' are a seeded "
            f"{validation_fraction:.0%} hold-out; 'all' is everything)."
        )
    with warnings.catch_warnings():
        if split == "validation":
            # The hold-out of a source whose "train" read warned already (blank texts, 0/1
            # pixels): Keras resets Python's once-per-place memory of warnings between the two.
            warnings.simplefilter("ignore", UserWarning)
        examples = read_source(
            source, text_column=text_column, label_column=label_column, class_names=class_names,
            image_shape=spec.input.shape if resize_images else None,
        )
    if class_names is None and spec is not None:
        examples = _in_entry_order(examples, spec)
    if spec is not None:
        _check_against_spec(examples, spec, class_names)
    if split != "validation":  # a hold-out is of a source read, and reported, as "train"
        names = class_names if class_names is not None else (spec.class_names if spec else ())
        report_class_ids(examples, names)
        if spec is not None and shuffle is not False:
            # Training data (evaluation reads without shuffling): a test set may lack classes.
            if (not validate.warn_one_class(examples.labels, examples.class_names or names,
                                            examples.origin)
                    and not examples.class_names):
                validate.warn_missing_top_classes(examples.labels, spec, examples.origin)
    examples = split_examples(examples, split, validation_fraction=validation_fraction, seed=seed)
    return _from_examples(
        examples,
        split,
        class_names=class_names,
        spec=spec,
        training=split in ("train", "all"),
        preprocessor=preprocessor,
        batch_size=batch_size,
        shuffle=shuffle,
        augment=augment,
        seed=seed,
        cache=cache,
        drop_remainder=drop_remainder,
        bucket_by_length=bucket_by_length,
    )


def split_examples(
    examples: Examples, split: str, *, validation_fraction: float = 0.1, seed: int = 0
) -> Examples:
    """The `"train"`, `"validation"` or `"all"` part of local examples.

    The hold-out is `round(validation_fraction * n)` examples (at least one, and never all, when
    the fraction is positive) drawn by a permutation seeded with `seed`: the same seed gives the
    same hold-out, and train is exactly the rest. Both keep the source's order.

    Example:
        >>> import numpy as np
        >>> from zoo.data.pipeline import split_examples
        >>> from zoo.data.sources import read_source
        >>> examples = read_source((np.zeros((10, 2, 2), "uint8"), np.arange(10) % 2))
        >>> len(split_examples(examples, "train")), len(split_examples(examples, "validation"))
        (9, 1)
    """
    if split == "all":
        return examples
    count = len(examples)
    held_out = int(round(validation_fraction * count))
    if validation_fraction > 0 and count >= 2:
        held_out = min(max(held_out, 1), count - 1)
    order = np.random.default_rng(seed).permutation(count)
    validation_indices, train_indices = np.sort(order[:held_out]), np.sort(order[held_out:])
    part = examples.take(validation_indices if split == "validation" else train_indices)
    validate.check_not_empty(len(part), examples.origin, split)
    return part


def _in_entry_order(examples: Examples, spec: ModelSpec) -> Examples:
    """Examples whose class names are all among the entry's (or their folder spellings,
    `name_positions`) numbered as the entry numbers them; others as they are."""
    known = name_positions(spec.class_names)
    if not examples.class_names or not set(examples.class_names) <= set(known):
        return examples
    return with_class_names(examples, spec.class_names)


def _check_against_spec(
    examples: Examples, spec: ModelSpec, class_names: tuple[str, ...] | None
) -> None:
    validate.check_kind(examples.kind, spec, examples.origin)
    if examples.kind == "image":
        validate.check_image_shape(examples.features.shape[1:], spec, examples.origin)
    if class_names is not None:
        validate.check_class_names(class_names, spec, "the class_names given", given=True)
    else:
        validate.check_class_names(examples.class_names, spec, examples.origin)
    validate.check_label_range(examples.labels, spec.num_classes, examples.origin, spec)


def _class_names(
    source_names: tuple[str, ...], spec: ModelSpec | None, labels_seen: int
) -> tuple[str, ...]:
    """Names for every class the model (or, without a spec, the data) has."""
    entry_names = list(spec.class_names) if spec is not None else []
    names = list(source_names)
    count = spec.num_classes if spec is not None else max(labels_seen, len(names))
    if names == entry_names[: len(names)]:  # none, or the entry's first: its names for the rest
        names = entry_names[:count]
    names += [str(i) for i in range(len(names), count)]
    return tuple(names)


def _defaults(
    training: bool, spec: ModelSpec | None, shuffle: bool | None, augment: bool | None
) -> tuple[bool, bool]:
    shuffle = training if shuffle is None else bool(shuffle)
    if augment is None:
        augment = shuffle and training and spec is not None and spec.augments
    elif augment and (spec is None or spec.input.kind != "image"):
        raise InvalidValueError(
            "augment=True needs the spec of an image entry: augmentation applies to images."
        )
    elif augment and not spec.input.augmentation.enabled:
        raise InvalidValueError(
            f"augment=True, but {validate.entry_name(spec)} has no augmentation (its "
            f"spec.input.augmentation is all zero), so nothing would change. Give the spec one: "
            f"dataclasses.replace(spec, input=dataclasses.replace(spec.input, "
            f"augmentation=zoo.Augmentation(translation=0.1))), or leave augment unset."
        )
    return shuffle, bool(augment)


def _text_preprocessor(
    spec: ModelSpec, preprocessor: Preprocessor | None, training: bool, split: str, texts: Any
) -> Preprocessor:
    """The given fitted preprocessor, or a new one adapted on training text."""
    if preprocessor is not None and preprocessor.fitted:
        return preprocessor
    if not training:
        raise DataError(
            f"the {split!r} split is text, and its vocabulary must come from the training split: "
            f"pass preprocessor=train.preprocessor, where train = zoo.data.load(source, 'train', "
            f"spec=...), or Preprocessor.load(directory, spec) from a saved run."
        )
    return (preprocessor or make_preprocessor(spec)).adapt(texts)


def _from_examples(
    examples: Examples,
    split: str,
    *,
    class_names: tuple[str, ...] | None,
    spec: ModelSpec | None,
    training: bool,
    preprocessor: Preprocessor | None,
    batch_size: int | None,
    shuffle: bool | None,
    augment: bool | None,
    seed: int,
    cache: bool,
    drop_remainder: bool,
    bucket_by_length: bool = False,
) -> tf.data.Dataset:
    shuffle, augment = _defaults(training, spec, shuffle, augment)
    if spec is not None and examples.kind == "text":
        preprocessor = _text_preprocessor(spec, preprocessor, training, split, examples.features)
    elif spec is not None:
        preprocessor = preprocessor or make_preprocessor(spec)
    # Texts stay an object array of Python strings: astype(str) made a fixed-width array of
    # 4 bytes per character of the longest text for every row (one 28k-character review among
    # 40,000 short ones: 8.5 GB, where the file held 1 MB).
    features = (np.asarray(examples.features, dtype=object) if examples.kind == "text"
                else examples.features)
    dataset = tf.data.Dataset.from_tensor_slices((features, examples.labels))
    dataset = _assemble(
        dataset,
        kind=examples.kind,
        num_examples=len(examples),
        spec=spec,
        preprocessor=preprocessor,
        batch_size=batch_size,
        shuffle=shuffle,
        augment=augment,
        seed=seed,
        cache=cache and examples.kind == "text",  # arrays are in memory already; token ids not
        drop_remainder=drop_remainder,
        bucket_by_length=bucket_by_length,
    )
    labels_seen = int(examples.labels.max()) + 1
    names = _class_names(class_names or examples.class_names, spec, labels_seen)
    return _describe(dataset, preprocessor, names, len(examples), augment)


def _from_tfds(
    examples: TfdsExamples,
    *,
    class_names: tuple[str, ...] | None,
    spec: ModelSpec | None,
    training: bool,
    preprocessor: Preprocessor | None,
    batch_size: int | None,
    shuffle: bool | None,
    augment: bool | None,
    seed: int,
    cache: bool,
    drop_remainder: bool,
    bucket_by_length: bool = False,
) -> tf.data.Dataset:
    shuffle, augment = _defaults(training, spec, shuffle, augment)
    dataset = examples.dataset
    num_examples = examples.num_examples
    if num_examples is None:
        cardinality = int(dataset.cardinality())
        num_examples = (
            cardinality
            if cardinality >= 0
            else int(dataset.reduce(np.int64(0), lambda count, *_: count + 1))
        )
    validate.check_not_empty(num_examples, f"TFDS dataset {examples.info.name!r}", examples.split)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_examples))
    kind = examples.info.kind
    if spec is not None and kind == "text":
        texts = dataset.map(lambda text, label: text).batch(TEXT_BATCH)
        preprocessor = _text_preprocessor(spec, preprocessor, training, examples.split, texts)
    elif spec is not None:
        preprocessor = preprocessor or make_preprocessor(spec)
    dataset = _assemble(
        dataset,
        kind=kind,
        num_examples=num_examples,
        spec=spec,
        preprocessor=preprocessor,
        batch_size=batch_size,
        shuffle=shuffle,
        augment=augment,
        seed=seed,
        cache=cache,
        drop_remainder=drop_remainder,
        bucket_by_length=bucket_by_length,
    )
    # TFDS labels are the dataset's own ids; given class names only name them.
    names = _class_names(class_names or examples.info.class_names, spec, 0)
    return _describe(dataset, preprocessor, names, num_examples, augment)


def _assemble(
    dataset: tf.data.Dataset,
    *,
    kind: str,
    num_examples: int,
    spec: ModelSpec | None,
    preprocessor: Preprocessor | None,
    batch_size: int | None,
    shuffle: bool,
    augment: bool,
    seed: int,
    cache: bool,
    drop_remainder: bool,
    bucket_by_length: bool = False,
) -> tf.data.Dataset:
    """Decode -> cache -> shuffle -> batch -> map -> prefetch, on unbatched (input, label) pairs."""
    if drop_remainder and batch_size is not None and num_examples < batch_size:
        raise DataError(
            f"drop_remainder=True with batch_size={batch_size} leaves no batch: the split holds "
            f"only {num_examples} examples, fewer than one full batch. Pass a batch_size of at "
            f"most {num_examples}, or drop_remainder=False."
        )
    autotune = tf.data.AUTOTUNE
    if kind == "text" and preprocessor is not None:
        # Vectorize in large batches (string ops are cheap per batch, costly per example), then
        # go back to examples so that the shuffle mixes examples, not fixed groups of them.
        dataset = (
            dataset.batch(TEXT_BATCH)
            .map(lambda texts, labels: (preprocessor(texts), labels), num_parallel_calls=autotune)
            .unbatch()
        )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_examples))
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(
            min(num_examples, MAX_SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True
        )
    if bucket_by_length:
        dataset = _batch_by_length(
            dataset, bucket_lengths(spec.input.sequence_length), batch_size,
            num_examples=num_examples, drop_remainder=drop_remainder, shuffle=shuffle, seed=seed,
        )
    elif batch_size is not None:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if kind == "image" and preprocessor is not None:
        augmentation = make_augmentation(spec.input.augmentation) if augment else None
        if augmentation is None:
            dataset = dataset.map(
                lambda images, labels: (preprocessor(images), labels), num_parallel_calls=autotune
            )
        else:
            # One stateless seed per batch, drawn from a stream fixed by `seed` and different in
            # every epoch: the same seed gives the same augmented batches, run after run, even
            # with the map running in parallel.
            seed_stream = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            batch_seeds = seed_stream.batch(2)  # (2,) int64: a stateless seed

            def augment_batch(
                batch: tuple[tf.Tensor, tf.Tensor], batch_seed: tf.Tensor
            ) -> tuple[tf.Tensor, tf.Tensor]:
                images, labels = batch
                unit = tf.cast(images, tf.float32)
                if images.dtype.is_integer:
                    unit = unit * (1.0 / 255.0)  # augment in [0, 1], where fill value 0 is black
                return preprocessor(augmentation(unit, seed=batch_seed)), labels

            dataset = tf.data.Dataset.zip((dataset, batch_seeds)).map(
                augment_batch, num_parallel_calls=autotune
            )
    return dataset.prefetch(autotune)


def bucket_lengths(sequence_length: int) -> list[int]:
    """The padded lengths of `bucket_by_length` batches: powers of two from 8, then the maximum.

    Example:
        >>> from zoo.data.pipeline import bucket_lengths
        >>> bucket_lengths(64), bucket_lengths(200)
        ([8, 16, 32, 64], [8, 16, 32, 64, 128, 200])
    """
    lengths = []
    length = 8
    while length < sequence_length:
        lengths.append(length)
        length *= 2
    return [*lengths, sequence_length]


def _token_count(ids: tf.Tensor) -> tf.Tensor:
    """Ids before the padding (0 at the end); an empty text keeps one (padding) id."""
    return tf.maximum(tf.reduce_sum(tf.cast(tf.not_equal(ids, 0), tf.int32), axis=-1), 1)


def _batch_by_length(
    dataset: tf.data.Dataset,
    lengths_of_buckets: list[int],
    batch_size: int,
    *,
    num_examples: int,
    drop_remainder: bool,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """Batches of texts of similar length, each cut to the smallest bucket that holds its longest.

    The (shuffled) examples are taken `BATCHES_PER_CHUNK` batches at a time, sorted by length
    within that chunk and split into batches, whose order is then shuffled again. All of it runs
    on whole chunks and batches: tf.data's per-example `bucket_by_sequence_length` measured 20x
    slower, slower than the LSTM trains (benchmarks/bench_pipeline.py). Every batch but the last
    is full, so the number of batches follows from `num_examples` without a pass over the data,
    and at most `len(lengths_of_buckets)` shapes ever reach the model.
    """
    chunk = batch_size * BATCHES_PER_CHUNK

    def sort_chunk(ids: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, ...]:
        if drop_remainder:  # before sorting: the (shuffled) last ones, not the longest
            whole = tf.shape(ids)[0] // batch_size * batch_size
            ids, labels = ids[:whole], labels[:whole]
        counts = _token_count(ids)  # counted once here; the batches carry them on
        order = tf.argsort(counts, stable=True)
        return tf.gather(ids, order), tf.gather(labels, order), tf.gather(counts, order)

    def split_chunk(ids: tf.Tensor, labels: tf.Tensor, counts: tf.Tensor) -> tf.data.Dataset:
        examples = tf.data.Dataset.from_tensor_slices((ids, labels, counts))
        return examples.batch(batch_size, drop_remainder=drop_remainder)

    bucket_sizes = tf.constant(lengths_of_buckets, tf.int32)

    def cut_to_bucket(
        ids: tf.Tensor, labels: tf.Tensor, counts: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        longest = tf.reduce_max(counts)
        size = tf.gather(bucket_sizes, tf.searchsorted(bucket_sizes, [longest]))[0]
        return ids[:, :size], labels

    batches = (
        dataset.batch(chunk)
        .map(sort_chunk, num_parallel_calls=tf.data.AUTOTUNE)
        .flat_map(split_chunk)
        .map(cut_to_bucket, num_parallel_calls=tf.data.AUTOTUNE)
    )
    if shuffle:  # else short-to-long within each chunk
        batches = batches.shuffle(BATCHES_PER_CHUNK, seed=seed, reshuffle_each_iteration=True)
    full_chunks, rest = divmod(num_examples, chunk)
    last = rest // batch_size if drop_remainder else -(-rest // batch_size)
    return batches.apply(
        tf.data.experimental.assert_cardinality(full_chunks * BATCHES_PER_CHUNK + last)
    )


def _describe(
    dataset: tf.data.Dataset,
    preprocessor: Preprocessor | None,
    class_names: tuple[str, ...],
    num_examples: int,
    augmented: bool,
) -> tf.data.Dataset:
    # Plain attributes, as keras.utils.image_dataset_from_directory sets `class_names`.
    dataset.preprocessor = preprocessor
    dataset.class_names = class_names
    dataset.num_examples = int(num_examples)
    dataset.augmented = bool(augmented)  # zoo.evaluate refuses to score random distortions
    return dataset
