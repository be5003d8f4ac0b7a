"""zoo.data sources: every local source type, TFDS through mock data, and every validation error."""

import csv
import socket

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from helpers import NEGATIVE, POSITIVE, digit_like_images, write_digits_npz, write_sentiment_tsv

import zoo
from zoo.data import sources
from zoo.errors import DataError, DatasetUnavailableError

SMALL_TEXT = {"vocab_size": 100, "sequence_length": 12, "batch_size": 4}


def _small(name: str) -> zoo.ModelSpec:
    spec = zoo.get_spec(name)
    overrides = SMALL_TEXT if spec.input.kind == "text" else {"batch_size": 4}
    return spec.with_overrides(**overrides)


def _write_image_folder(root, shape=(28, 28, 1), per_class=3, classes=("cat", "dog")):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            (root / name / f"{index}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return root


def _first_batch(dataset):
    return next(iter(dataset))


# ---- local sources ------------------------------------------------------------------------------


def test_npz_source(tmp_path):
    path = write_digits_npz(tmp_path / "digits.npz", count=50)
    dataset = zoo.data.load(str(path), "all", spec=_small("cnn_mnist"), shuffle=False)
    images, labels = _first_batch(dataset)
    x, y = digit_like_images(50)
    assert images.shape == (4, 28, 28, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int32 and labels.numpy().tolist() == y[:4].tolist()
    expected = (x[:4, ..., None] / 255.0 - 0.1307) / 0.3081
    np.testing.assert_allclose(images.numpy(), expected, atol=1e-5)
    assert dataset.num_examples == 50 and dataset.class_names == tuple("0123456789")


def test_tsv_source_keeps_quote_characters(tmp_path):
    path = write_sentiment_tsv(tmp_path / "train.tsv", repeats=2)
    examples = zoo.data.read_source(path)
    assert examples.kind == "text" and len(examples) == 20
    assert examples.features[0] == f'{POSITIVE[0]} " 0'  # a lone quote stays in the sentence
    assert examples.labels[:6].tolist() == [1, 1, 1, 1, 1, 0]
    dataset = zoo.data.load(path, spec=_small("lstm_sst2"))
    token_ids, labels = _first_batch(dataset)
    assert token_ids.shape == (4, 12) and token_ids.dtype == tf.int32
    assert dataset.preprocessor.fitted and dataset.num_examples == 18


def test_csv_source_with_named_columns_and_string_labels(tmp_path):
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "sentiment"])
        for index in range(10):
            writer.writerow([f'he said "great", take {index}', "pos" if index % 2 else "neg"])
    examples = zoo.data.read_source(path, text_column="review", label_column="sentiment")
    assert examples.features[1] == 'he said "great", take 1'
    assert examples.class_names == ("neg", "pos") and examples.labels[:4].tolist() == [0, 1, 0, 1]
    dataset = zoo.data.load(
        path, "all", spec=_small("lstm_sst2"), text_column="review", label_column="sentiment"
    )
    assert dataset.class_names == ("neg", "pos") and dataset.num_examples == 10


def test_dataframe_source():
    frame = pd.DataFrame({"text": POSITIVE + NEGATIVE, "label": [1] * 5 + [0] * 5})
    dataset = zoo.data.load(frame, "all", spec=_small("transformer_sst2"), shuffle=False)
    token_ids, labels = _first_batch(dataset)
    assert token_ids.shape == (4, 12) and labels.numpy().tolist() == [1, 1, 1, 1]


def test_array_sources_images_and_texts():
    x, y = digit_like_images(20)
    images = zoo.data.load((x, y), "all", spec=_small("mlp_mnist"))
    assert _first_batch(images)[0].shape == (4, 28, 28, 1)
    texts = zoo.data.load((POSITIVE + NEGATIVE, [1] * 5 + [0] * 5), "all", spec=_small("lstm_imdb"))
    assert _first_batch(texts)[0].shape == (4, 12)


def test_image_folder_source(tmp_path):
    root = _write_image_folder(tmp_path / "pets", shape=(32, 32, 3))
    dataset = zoo.data.load(root, "all", spec=_small("cnn_cifar10"), shuffle=False)
    images, labels = _first_batch(dataset)
    assert images.shape == (4, 32, 32, 3) and labels.numpy().tolist() == [0, 0, 0, 1]
    # the folder's names first, then the entry's remaining classes as numbers
    assert dataset.class_names[:3] == ("cat", "dog", "2") and len(dataset.class_names) == 10


def test_without_spec_examples_come_back_raw():
    x, y = digit_like_images(10)
    raw = zoo.data.load((x, y), "all", shuffle=False)
    image, label = _first_batch(raw)  # unbatched
    assert image.dtype == tf.uint8 and image.shape == (28, 28, 1) and label.dtype == tf.int32
    np.testing.assert_array_equal(image.numpy()[..., 0], x[0])
    assert raw.preprocessor is None and raw.num_examples == 10
    texts = zoo.data.load((POSITIVE, [1] * 5), "all", batch_size=2, shuffle=False)
    assert _first_batch(texts)[0].numpy().tolist() == [s.encode() for s in POSITIVE[:2]]


# ---- TFDS through mock data ---------------------------------------------------------------------


@pytest.mark.parametrize("name", zoo.list_models())
def test_tfds_mock_data_fits_each_entry(name):
    spec = _small(name)
    with tfds.testing.mock_data(num_examples=10):
        dataset = zoo.data.load(spec=spec)  # the entry's own TFDS dataset
        inputs, labels = _first_batch(dataset)
    model = zoo.build(
        name, compile=False, **{k: v for k, v in SMALL_TEXT.items() if spec.input.kind == "text"}
    )
    expected = (
        model.input_shape[1:] if spec.input.kind == "image" else (spec.input.sequence_length,)
    )
    assert tuple(inputs.shape[1:]) == tuple(expected)
    assert inputs.dtype == (tf.float32 if spec.input.kind == "image" else tf.int32)
    assert (
        labels.dtype == tf.int32
        and 0 <= labels.numpy().min()
        and labels.numpy().max() < spec.num_classes
    )
    assert dataset.num_examples == 10 and dataset.class_names == spec.class_names


def test_tfds_prefix_config_and_split():
    with tfds.testing.mock_data(num_examples=6):
        train = zoo.data.load("tfds:glue/sst2", "train", spec=_small("lstm_sst2"))
        validation = zoo.data.load(
            "tfds:glue/sst2",
            "validation",
            spec=_small("lstm_sst2"),
            preprocessor=train.preprocessor,
        )
        raw = zoo.data.load("tfds:kmnist", "test", batch_size=3)  # outside the catalog
        images, _ = _first_batch(raw)
    assert validation.preprocessor is train.preprocessor and validation.num_examples == 6
    assert images.dtype == tf.uint8 and images.shape == (3, 28, 28, 1) and raw.class_names[0] == "o"


def test_tfds_text_split_other_than_train_needs_the_training_preprocessor():
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(DataError, match=r"pass preprocessor=train\.preprocessor"):
            zoo.data.load("glue/sst2", "validation", spec=_small("lstm_sst2"))


def test_tfds_not_prepared_names_the_dataset_and_the_way_out(tmp_path):
    with pytest.raises(DatasetUnavailableError) as caught:
        zoo.data.load("mnist", spec=_small("cnn_mnist"), data_dir=tmp_path)
    message = str(caught.value)
    assert "'mnist'" in message and f"not prepared in {tmp_path}" in message
    assert "data_dir=" in message and ".npz" in message
    assert caught.value.__suppress_context__  # no TFDS traceback chained on


def test_tfds_download_without_network_fails_fast(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(socket, "create_connection", no_network)
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(
        DatasetUnavailableError, match="'cifar10'.*no network to download it.*data_dir="
    ):
        zoo.data.load("tfds:cifar10", data_dir=tmp_path, download=True)


def test_tfds_failed_download_is_one_short_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_network_reachable", lambda: True)
    calls = []

    def fake_load(name, **kwargs):
        calls.append(kwargs["download"])
        if not kwargs["download"]:
            raise AssertionError("Dataset mnist: could not find data")
        raise ConnectionError("Max retries exceeded\nlong traceback text")

    monkeypatch.setattr(tfds, "load", fake_load)
    with pytest.raises(
        DatasetUnavailableError,
        match=r"the download failed \(ConnectionError: Max retries exceeded\)",
    ) as caught:
        zoo.data.load("mnist", data_dir=tmp_path, download=True)
    assert calls == [False, True] and "long traceback" not in str(caught.value)


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "tfds:mnsit",
            r"'mnsit' is not available: TFDS has no dataset of that name\. Did you mean 'mnist'",
        ),
        ("tfds:glue/sst22", r"'glue' has no config 'sst22'\. Did you mean 'glue/sst2'"),
    ],
)
def test_tfds_unknown_names_suggest_close_matches(source, message):
    with pytest.raises(DatasetUnavailableError, match=message):
        zoo.data.load(source)


def test_unknown_bare_name_suggests_catalog_names():
    with pytest.raises(
        DataError, match=r"'fashion_mnst' is neither an existing file.*Did you mean 'fashion_mnist'"
    ):
        zoo.data.load("fashion_mnst")


def test_tfds_unlabelled_split_and_spec_mismatch_are_refused_before_reading():
    with pytest.raises(
        DataError, match=r"'test' split of 'glue/sst2' has no labels.*split='validation'"
    ):
        zoo.data.load("glue/sst2", "test", spec="lstm_sst2")
    with pytest.raises(
        DataError, match=r"expects images of shape \(28, 28, 1\).*received \(32, 32, 3\)"
    ):
        zoo.data.load("cifar10", spec="cnn_mnist")
    with pytest.raises(
        DataError, match=r"takes text, but TFDS dataset 'mnist' holds images\. Pass a text source"
    ):
        zoo.data.load("mnist", spec="lstm_sst2")
    with pytest.raises(DataError, match=r"labels go up to 9.*num_classes=10"):
        zoo.data.load("mnist", spec=zoo.get_spec("cnn_mnist").with_overrides(num_classes=3))


def test_texts_for_an_image_entry_are_refused_with_the_way_out():
    frame = pd.DataFrame({"sentence": ["a fine film", "dull"], "label": [1, 0]})
    expected = r"holds texts\. Pass an image source.*task='text_classification'"
    with pytest.raises(DataError, match=expected):
        zoo.data.load(frame, spec="cnn_mnist")


def test_tfds_without_validation_split_says_what_to_use():
    def fake_load(name, **kwargs):
        raise ValueError("Unknown split 'validation'. Should be one of ['test', 'train'].")

    original, tfds.load = tfds.load, fake_load
    try:
        with pytest.raises(
            DataError, match=r"no split 'validation'.*split='test'.*'train\[:90%\]'"
        ):
            zoo.data.load("mnist", "validation", spec="cnn_mnist")
    finally:
        tfds.load = original


# ---- validation errors --------------------------------------------------------------------------

SPEC = zoo.get_spec("cnn_mnist")


def _arrays(count=20, **changes):
    x, y = digit_like_images(count)
    return changes.get("x", x), changes.get("y", y)


@pytest.mark.parametrize(
    "source, message",
    [
        (
            _arrays(x=np.zeros((0, 28, 28), np.uint8), y=np.zeros(0)),
            "is empty: it holds no examples",
        ),
        (
            _arrays(y=np.full(20, 10)),
            r"labels must lie in \[0, 10\) for 'cnn_mnist' \(10 classes\), found 10 at rows 0, 1",
        ),
        (_arrays(y=np.full(20, -1)), r"labels must lie in \[0, 10\).*found -1"),
        (
            _arrays(y=np.eye(10)[np.arange(20) % 10]),
            r"received labels of shape \(20, 10\).*one-hot.*"
            r"expected sparse integer class ids of shape \(20,\).*argmax",
        ),
        (_arrays(y=np.linspace(0, 1, 20)), r"labels must be integer class ids, found 0\.05"),
        (_arrays(y=np.zeros(19)), "20 inputs but 19 labels"),
        (
            _arrays(x=np.zeros((20, 32, 32, 3), np.uint8)),
            r"expects images of shape \(28, 28, 1\).*received \(32, 32, 3\): "
            r"32x32 pixels where 28x28",
        ),
        (
            _arrays(x=np.zeros((20, 28, 28, 3), np.uint8)),
            r"expects images of shape \(28, 28, 1\).*received \(28, 28, 3\): "
            r"3 channels where 1 are expected",
        ),
        (
            _arrays(x=np.where(np.eye(28) > 0, np.nan, 0.5)[None].repeat(20, 0)),
            r"NaN or infinite values \(in examples 0, 1, 2, 3, 4 and 15 more\)",
        ),
        (_arrays(x=np.full((20, 28, 28), np.inf)), "NaN or infinite"),
        (
            _arrays(x=np.full((20, 28, 28), 255.0)),
            r"float pixels must be scaled to \[0, 1\].*divide by 255",
        ),
        (_arrays(x=np.zeros((20, 28), np.uint8)), r"received images of shape \(20, 28\)"),
        ((["some text"] * 20, np.zeros(20)), "'cnn_mnist' takes images of shape"),
    ],
)
def test_array_validation_errors(source, message):
    with pytest.raises(DataError, match=message):
        zoo.data.load(source, spec=SPEC)


def test_file_validation_errors(tmp_path):
    corrupt = tmp_path / "broken.npz"
    corrupt.write_bytes(b"this is not a zip archive")
    with pytest.raises(DataError, match=r"could not read .*broken\.npz.*np\.savez"):
        zoo.data.load(corrupt, spec=SPEC)

    wrong_keys = tmp_path / "keys.npz"
    np.savez(wrong_keys, images=np.zeros((2, 28, 28)), labels=np.zeros(2))
    with pytest.raises(
        DataError, match=r"holds arrays \['images', 'labels'\]; expected arrays named x .* and y"
    ):
        zoo.data.load(wrong_keys, spec=SPEC)

    unknown = tmp_path / "digits.parquet"
    unknown.write_bytes(b"PAR1")
    with pytest.raises(DataError, match=r"unknown file extension '\.parquet'; expected \.npz"):
        zoo.data.load(unknown, spec=SPEC)

    with pytest.raises(DataError, match=r"neither an existing file or folder"):
        zoo.data.load(tmp_path / "missing.npz", spec=SPEC)

    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"empty\.tsv is empty"):
        zoo.data.load(empty, spec="lstm_sst2")

    header_only = tmp_path / "header.tsv"
    header_only.write_text("label\tsentence\n")
    with pytest.raises(DataError, match="is empty: it holds no examples"):
        zoo.data.load(header_only, spec="lstm_sst2")

    ragged = tmp_path / "ragged.tsv"
    ragged.write_text("label\tsentence\n1\tfine\n0\ttoo\tmany\tfields\n")
    with pytest.raises(DataError, match=r"could not read .*ragged\.tsv"):
        zoo.data.load(ragged, spec="lstm_sst2")

    not_utf8 = tmp_path / "latin.csv"
    not_utf8.write_bytes("label,text\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"could not read .*latin\.csv.*UTF-8"):
        zoo.data.load(not_utf8, spec="lstm_sst2")


def test_text_column_errors_list_the_columns_found(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text("label\treview\n1\tgood\n")
    with pytest.raises(
        DataError,
        match=r"no text column 'sentence' or 'text'; "
        r"found columns \['label', 'review'\].*text_column=",
    ):
        zoo.data.load(path, spec="lstm_sst2")
    with pytest.raises(
        DataError, match=r"no label column 'stars'; found columns \['label', 'review'\]"
    ):
        zoo.data.load(path, spec="lstm_sst2", text_column="review", label_column="stars")
    frame = pd.DataFrame({"text": ["good", None, "bad"], "label": [1, 1, 0]})
    with pytest.raises(DataError, match=r"1 texts are missing or not strings \(row 1"):
        zoo.data.load(frame, spec="lstm_sst2")


def test_image_folder_errors(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.png").write_bytes(b"")
    with pytest.raises(
        DataError, match="has no sub-folders; an image folder needs one sub-folder per class"
    ):
        zoo.data.load(flat, spec=SPEC)

    root = _write_image_folder(tmp_path / "digits", per_class=2)
    (root / "dog" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(
        DataError, match=r"could not read .*broken\.png.*remove or replace the file"
    ):
        zoo.data.load(root, spec=SPEC)

    mixed = _write_image_folder(tmp_path / "mixed", per_class=1)
    (mixed / "dog" / "big.png").write_bytes(
        tf.io.encode_png(np.zeros((30, 30, 1), np.uint8)).numpy()
    )
    with pytest.raises(DataError, match=r"differ in shape.*\(30, 30, 1\)"):
        zoo.data.load(mixed, spec=SPEC)

    colour = _write_image_folder(tmp_path / "colour", shape=(28, 28, 3), per_class=1)
    with pytest.raises(
        DataError, match=r"expects images of shape \(28, 28, 1\).*received \(28, 28, 3\)"
    ):
        zoo.data.load(colour, spec=SPEC)


def test_bad_split_and_arguments():
    x, y = _arrays()
    with pytest.raises(
        DataError,
        match=r"unknown split 'test' for a local source; expected one of train, validation, all",
    ):
        zoo.data.load((x, y), "test", spec=SPEC)
    with pytest.raises(zoo.InvalidValueError, match="validation_fraction must be a number in"):
        zoo.data.load((x, y), spec=SPEC, validation_fraction=1.5)
    with pytest.raises(zoo.InvalidValueError, match="batch_size must be a positive integer"):
        zoo.data.load((x, y), spec=SPEC, batch_size=0)
    with pytest.raises(DataError, match="'validation' split of the .* is empty"):
        zoo.data.load((x, y), "validation", spec=SPEC, validation_fraction=0.0)
    with pytest.raises(DataError, match="cannot read a source of type int"):
        zoo.data.load(42, spec=SPEC)
