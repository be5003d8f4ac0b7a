"""zoo.data sources: every local source type, TFDS through mock data, and every validation error."""

import csv
import logging
import socket
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from helpers import NEGATIVE, POSITIVE, digit_like_images, write_digits_npz, write_sentiment_tsv

import zoo
from zoo.data import tfds_source
from zoo.errors import DataError, DatasetUnavailableError

SMALL_TEXT = {"vocab_size": 100, "sequence_length": 12, "batch_size": 4}
# The real check, before conftest's fixture turns it off for every test.
REAL_NETWORK_CHECK = tfds_source._network_reachable


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


def test_npz_problems_are_explained(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not an archive at all")
    with pytest.raises(DataError, match="it is not an .npz archive") as refused:
        zoo.data.read_source(tmp_path / "junk.npz")
    assert "pickled" not in str(refused.value) and "string array" not in str(refused.value)

    x, y = digit_like_images(10)
    np.savez(tmp_path / "keras_style.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    with pytest.raises(DataError, match=r"x=d\['x_train'\], y=d\['y_train'\]"):
        zoo.data.read_source(tmp_path / "keras_style.npz")


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


def test_a_table_with_both_text_columns_reads_sentence(tmp_path):
    path = tmp_path / "both.csv"  # "text" first in the file: the name decides, not the position
    path.write_text("text,sentence,label\nnot this,read this,1\nnor this,and this,0\n")
    assert zoo.data.read_source(path).features.tolist() == ["read this", "and this"]


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


def test_binary_integer_images_are_read_as_pixels_with_a_warning():
    x, y = digit_like_images(20)
    binary = (x > 127).astype(np.int64)  # black-and-white digits stored as 0 and 1
    with pytest.warns(UserWarning, match=r"every integer pixel is 0 or 1.*images \* 255"):
        dataset = zoo.data.load((binary, y), "all", spec=_small("mlp_mnist"), shuffle=False)
    # Read as any integer pixels are (0-255): the warning is the only difference.
    with pytest.warns(UserWarning, match="every integer pixel is 0 or 1"):
        as_uint8 = zoo.data.load((binary.astype(np.uint8), y), "all", spec=_small("mlp_mnist"),
                                 shuffle=False)
    np.testing.assert_array_equal(_first_batch(dataset)[0], _first_batch(as_uint8)[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*every integer pixel")
        zoo.data.load(((binary * 255).astype(np.uint8), y), "all", spec=_small("mlp_mnist"))


def test_image_folder_source(tmp_path):
    root = _write_image_folder(tmp_path / "pets", shape=(32, 32, 3))
    # Cameras and Windows write upper-case extensions: IMG_0001.PNG is an image as .png is.
    (root / "dog" / "0.png").rename(root / "dog" / "0.PNG")
    dataset = zoo.data.load(root, "all", spec=_small("cnn_cifar10"), shuffle=False)
    assert dataset.num_examples == 6
    images, labels = _first_batch(dataset)
    # cat and dog are CIFAR-10 classes: they take the entry's ids (3 and 5), not sorted ones
    assert images.shape == (4, 32, 32, 3) and labels.numpy().tolist() == [3, 3, 3, 5]
    assert dataset.class_names == zoo.get_spec("cnn_cifar10").class_names
    # without a spec, sorted folder names are the ids
    raw = zoo.data.load(root, "all", shuffle=False, batch_size=6)
    assert _first_batch(raw)[1].numpy().tolist() == [0, 0, 0, 1, 1, 1]
    assert raw.class_names == ("cat", "dog")


def test_class_folders_without_examples_stay_classes_with_a_warning(tmp_path):
    # As Keras' image_dataset_from_directory, an empty class folder is a class; a stray one
    # (notes/, a run's logs/) made a class no example has without a word.
    root = _write_image_folder(tmp_path / "pets", shape=(8, 8, 3))
    (root / "empty").mkdir()
    (root / "notes").mkdir()
    (root / "notes" / "readme.md").write_text("about the pets")
    with pytest.warns(UserWarning) as warned:
        dataset = zoo.data.load(root, "all", shuffle=False, batch_size=6)
    assert [str(w.message) for w in warned] == [
        f"{root}: 2 of its 4 class folders hold no images ('empty', 'notes'); they stay classes "
        f"that no example has. Move them out of {root} unless the data lacks those classes on "
        f"purpose."]
    assert dataset.class_names == ("cat", "dog", "empty", "notes")
    assert _first_batch(dataset)[1].numpy().tolist() == [0, 0, 0, 1, 1, 1]
    with warnings.catch_warnings():  # every class folder holding examples: no warning
        warnings.simplefilter("error")
        zoo.data.load(_write_image_folder(tmp_path / "full", shape=(8, 8, 3)), "all")


def _write_text_folder(root, per_class=6):
    for label, sentences in (("pos", POSITIVE), ("neg", NEGATIVE)):
        (root / label / "more").mkdir(parents=True)
        for index in range(per_class):
            # nested folders are read too, as for images
            folder = root / label / ("more" if index % 2 else "")
            (folder / f"{index}.txt").write_text(sentences[index % len(sentences)] + "\n")
    return root


def test_text_folder_source(tmp_path):
    # IMDB's aclImdb layout: one sub-folder per class, one .txt file per review.
    root = _write_text_folder(tmp_path / "reviews")
    (root / ".cache").mkdir()
    (root / ".cache" / "x.txt").write_text("never a class")
    # Notepad saves UTF-8 with a byte-order mark: it is not part of the review's first word.
    (root / "neg" / "0.txt").write_bytes(b"\xef\xbb\xbf" + f"{NEGATIVE[0]}\n".encode())
    examples = zoo.data.read_source(root)
    assert not any(text.startswith("\ufeff") for text in examples.features)
    assert examples.kind == "text" and examples.class_names == ("neg", "pos")
    assert examples.labels.tolist() == [0] * 6 + [1] * 6
    assert set(examples.features) == set(NEGATIVE) | set(POSITIVE)  # stripped of the newline
    # A text entry reads it, vectorized in the graph as any text source.
    dataset = zoo.data.load(root, "all", spec=_small("lstm_sst2"), shuffle=False)
    tokens, labels = _first_batch(dataset)
    assert tokens.dtype == tf.int32 and labels.numpy().tolist() == [0] * 4
    assert dataset.class_names == ("neg", "pos")

    (root / "neg" / "scan.png").write_bytes(tf.io.encode_png(np.zeros((2, 2, 1), np.uint8)).numpy())
    with pytest.raises(DataError, match=r"holds both images \(neg/scan\.png.*and text files"):
        zoo.data.read_source(root)
    (root / "neg" / "scan.png").unlink()
    (root / "pos" / "latin.txt").write_bytes("tr\xe8s bien".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.txt: line 1 is not UTF-8 \(byte 0xe8 in "
                                        r"\"tr.s bien\"\).*iconv -f latin1"):
        zoo.data.read_source(root)


def test_class_names_pick_the_class_folders_to_read_as_keras_does(tmp_path):
    # aclImdb's train/ also holds unsup/, 50,000 reviews without a label: a third "class".
    root = _write_text_folder(tmp_path / "train")
    (root / "unsup").mkdir()
    (root / "unsup" / "0.txt").write_text("a film with no label")
    with pytest.raises(DataError, match=r"names 3 classes \('neg', 'pos', 'unsup'\).*, or, for "
                       r"a folder of class folders, read only some of them: class_names= naming "
                       r"those \(command line: --class-names\)"):
        zoo.data.load(root, spec="lstm_imdb")
    with pytest.warns(UserWarning, match=r"train: reading the class folders named in "
                                         r"class_names only; skipping 'unsup'"):
        dataset = zoo.data.load(root, "all", spec="lstm_imdb", class_names=["neg", "pos"])
    assert dataset.num_examples == 12 and dataset.class_names == ("neg", "pos")
    # Their order is the ids', as for any source; a name without a folder is a class it lacks.
    examples = zoo.data.read_source(root, class_names=["pos", "neg", "meh"])
    assert examples.labels.tolist() == [1] * 6 + [0] * 6
    with pytest.raises(DataError, match=r"has no class folder named in class_names \(good, bad\); "
                                        r"its folders are 'neg', 'pos', 'unsup'"):
        zoo.data.read_source(root, class_names=["good", "bad"])
    # Scoring a trained model, its class names are no choice of folders: one it does not know
    # (a misspelt test folder) is refused, not left out of the score.
    from zoo.data.validate import for_trained_model

    with for_trained_model(), pytest.raises(DataError, match="unsup"):
        zoo.data.read_source(root, class_names=["neg", "pos"])


def test_empty_texts_in_labelled_data_are_warned_about(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("sentence,label\nfine film,1\n,0\n   ,1\ndull,0\n")
    with pytest.warns(UserWarning, match=r"2 of 4 texts are empty or blank \(rows 1, 2\)") as shown:
        zoo.data.read_source(path)
    assert shown[0].filename == __file__  # Python shows the caller's line, not zoo's
    folder = tmp_path / "reviews"  # a folder of class folders names its files, not rows
    for name, text in [("neg/1.txt", "dull"), ("neg/2.txt", " \n"), ("pos/1.txt", "")]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with pytest.warns(UserWarning, match=r"2 of 3 texts are empty or blank \(files neg/2\.txt, "
                                         r"pos/1\.txt\).*check the files"):
        zoo.data.read_source(folder)
    with warnings.catch_warnings():  # unlabelled inputs may be empty: the model still answers
        warnings.simplefilter("error")
        from zoo.serving.inputs import as_texts

        assert as_texts(["", "fine"]).tolist() == ["", "fine"]


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
        zoo.data.load("mnist", spec=_small("cnn_mnist"), data_dir=tmp_path, download=False)
    message = str(caught.value)
    assert "'mnist'" in message and f"not prepared in {tmp_path} and download=False" in message
    assert "data_dir=" in message and "--data-dir" in message and ".npz" in message
    assert caught.value.__suppress_context__  # no TFDS traceback chained on


def test_tfds_not_prepared_names_tfds_data_dir_when_no_data_dir_is_given(tmp_path, monkeypatch):
    # Without data_dir TFDS reads $TFDS_DATA_DIR: the message must send the user there, not to
    # ~/tensorflow_datasets. tfds.load is faked (TFDS' "not prepared" is an AssertionError), as
    # TFDS itself reads the variable once, at import.
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    data_dirs = []

    def fake_load(name, **kwargs):
        data_dirs.append(kwargs["data_dir"])
        raise AssertionError("Dataset mnist: could not find data")

    monkeypatch.setattr(tfds, "load", fake_load)
    with pytest.raises(DatasetUnavailableError) as caught:
        zoo.data.load("mnist", spec=_small("cnn_mnist"), download=False)
    assert data_dirs == [None]  # TFDS picks its own default
    assert f"not prepared in {tmp_path} and download=False" in str(caught.value)
    assert "tensorflow_datasets" not in str(caught.value)


def test_reaching_for_tfds_leaves_the_callers_root_logger_as_it_was(tmp_path, monkeypatch):
    # absl calls logging.basicConfig() when the root logger has no handler: a stderr handler
    # stayed there, and every library's warnings printed twice for the rest of the process.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a plain script (pytest adds its own)
    with pytest.raises(DatasetUnavailableError):
        zoo.data.load("mnist", spec=_small("cnn_mnist"), data_dir=tmp_path, download=False)
    assert root.handlers == []


def test_tfds_downloads_by_default_as_tfds_load_does(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "_network_reachable", lambda: True)
    calls = []

    def fake_load(name, **kwargs):
        calls.append((kwargs["download"], kwargs["data_dir"], kwargs["shuffle_files"]))
        if not kwargs["download"]:
            raise AssertionError("Dataset mnist: could not find data")
        return real_load(name, **kwargs)

    real_load = tfds.load
    monkeypatch.setattr(tfds, "load", fake_load)
    with tfds.testing.mock_data(num_examples=4):
        dataset = zoo.data.load("mnist", "test", spec=_small("cnn_mnist"), data_dir=tmp_path)
    # Files in their recorded order: zoo shuffles examples itself (shuffle=, seeded), and a test
    # or hold-out split must read in the same order every time.
    assert calls == [(False, tmp_path, False), (True, tmp_path, False)]
    assert dataset.num_examples == 4  # counted where mock data carries no split sizes


def test_tfds_download_without_network_fails_fast(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("no route to host")

    # the real network check, which conftest's fixture replaces
    monkeypatch.setattr(tfds_source, "_network_reachable", REAL_NETWORK_CHECK)
    monkeypatch.setattr(socket, "create_connection", no_network)
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(
        DatasetUnavailableError, match="'cifar10'.*no network to download it.*data_dir="
    ):
        zoo.data.load("tfds:cifar10", data_dir=tmp_path)


def test_behind_a_proxy_the_network_check_leaves_the_download_to_tfds(monkeypatch):
    # A direct connection fails behind a proxy whatever the network; TFDS goes through the
    # proxy, so the check must not answer "no network" there.
    def no_direct_connection(*args, **kwargs):
        raise OSError("blocked: use the proxy")

    monkeypatch.setattr(socket, "create_connection", no_direct_connection)
    variables = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    for variable in variables:
        monkeypatch.delenv(variable, raising=False)
    assert REAL_NETWORK_CHECK() is False
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: socket.socket())
    assert REAL_NETWORK_CHECK() is True  # the host answers: there is network
    monkeypatch.setattr(socket, "create_connection", no_direct_connection)
    for variable in variables:
        monkeypatch.setenv(variable, "http://proxy.invalid:3128")
        assert REAL_NETWORK_CHECK() is True, variable
        monkeypatch.delenv(variable)


def test_tfds_failed_download_is_one_short_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "_network_reachable", lambda: True)
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


def test_tfds_read_and_download_value_errors_are_one_short_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "_network_reachable", lambda: True)

    def corrupt_records(name, **kwargs):
        raise ValueError("Failed to parse record 3\nlong traceback text")

    def not_prepared_then_corrupt(name, **kwargs):
        if not kwargs["download"]:
            raise AssertionError("Dataset mnist: could not find data")
        corrupt_records(name)

    for fake_load, what in ((corrupt_records, "TFDS could not read it"),
                            (not_prepared_then_corrupt, "the download failed")):
        monkeypatch.setattr(tfds, "load", fake_load)
        with pytest.raises(DatasetUnavailableError, match=rf"'mnist' is not available: {what} "
                           r"\(Failed to parse record 3\)\. Pass data_dir=") as caught:
            zoo.data.load("mnist", data_dir=tmp_path)
        assert "long traceback" not in str(caught.value)


@pytest.mark.parametrize(
    "source, message",
    [
        (  # near no catalog name: TFDS' own names are looked at, by the dataset part alone
            "tfds:xford_flowers102/a_much_longer_config_name",
            r"'xford_flowers102/a_much_longer_config_name' is not available: TFDS has no dataset "
            r"of that name\. Did you mean 'oxford_flowers102'",
        ),
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


def test_an_unknown_tfds_name_is_named_even_where_tfds_cannot_list_its_datasets(monkeypatch):
    def unreadable_registry(*args, **kwargs):
        raise OSError("cannot read the community datasets index")

    monkeypatch.setattr(tfds, "list_builders", unreadable_registry)
    with pytest.raises(DatasetUnavailableError, match=r"'oxford_flowers103' is not available: TFDS "
                       r"has no dataset of that name\. zoo's catalog: ag_news_subset"):
        zoo.data.load("tfds:oxford_flowers103")


def _fake_tfds_load(examples, supervised_keys, label_names, split_size=None):
    """A tfds.load for a dataset outside the catalog: its examples, supervised keys, label names
    and (where given) the size of its "train" split in the metadata."""
    info = SimpleNamespace(
        supervised_keys=supervised_keys,
        features={"stars": SimpleNamespace(names=label_names)},
        splits={"train": SimpleNamespace(num_examples=split_size)} if split_size else {},
    )
    # filter: a stream of unknown length, as TFDS' own are where the metadata says nothing
    dataset = tf.data.Dataset.from_tensor_slices(examples).filter(lambda example: True)
    return lambda name, **kwargs: (dataset, info)


def test_a_tfds_text_dataset_outside_the_catalog_reads_by_its_supervised_keys(monkeypatch):
    examples = {"review": ["a fine film", "so dull", "fine"], "stars": [1, 0, 1]}
    reductions = []
    original = tf.data.Dataset.reduce
    monkeypatch.setattr(tf.data.Dataset, "reduce",
                        lambda self, *a, **k: reductions.append(1) or original(self, *a, **k))
    for split_size, passes in ((3, []), (None, [1])):
        monkeypatch.setattr(tfds, "load", _fake_tfds_load(examples, ("review", "stars"),
                                                          ["bad", "good"], split_size))
        reductions.clear()
        dataset = zoo.data.load("tfds:reviews", batch_size=3, shuffle=False)
        # The metadata's split size is taken as it is; only a stream without one is counted.
        assert dataset.num_examples == 3 and reductions == passes
        texts, labels = _first_batch(dataset)
        assert texts.numpy().tolist() == [b"a fine film", b"so dull", b"fine"]
        assert labels.numpy().tolist() == [1, 0, 1] and dataset.class_names == ("bad", "good")
    # Read as text: a text entry takes it, as token ids.
    ids, _ = _first_batch(zoo.data.load("tfds:reviews", spec=_small("lstm_sst2"), shuffle=False))
    assert ids.dtype == tf.int32 and ids.shape == (3, 12)


@pytest.mark.parametrize("examples, supervised_keys, label_names, message", [
    ({"review": ["a film"], "stars": [1]}, None, ["bad", "good"],
     r"TFDS dataset 'reviews' declares no \(input, label\) supervised keys.*export it to an "
     r"\.npz or \.csv file"),
    ({"scores": [[0.5, 0.25]], "stars": [1]}, ("scores", "stars"), ["bad", "good"],
     r"TFDS dataset 'reviews': its input 'scores' is float32 \(2,\); zoo reads fixed-size uint8 "
     r"images"),
    ({"review": ["a film"], "stars": [4.5]}, ("review", "stars"), None,
     r"TFDS dataset 'reviews': its label 'stars' is not a class label"),
])
def test_tfds_datasets_outside_the_catalog_that_zoo_cannot_read_are_named(
    monkeypatch, examples, supervised_keys, label_names, message
):
    monkeypatch.setattr(tfds, "load", _fake_tfds_load(examples, supervised_keys, label_names))
    with pytest.raises(DataError, match=message):
        zoo.data.load("tfds:reviews")


def test_unknown_bare_name_suggests_catalog_names():
    with pytest.raises(
        DataError, match=r"'fashion_mnst' is neither an existing file.*Did you mean 'fashion_mnist'"
    ):
        zoo.data.load("fashion_mnst")
    with pytest.raises(zoo.UnknownNameError, match=r"unknown dataset 'fashion_mnst'\. Did you "
                       r"mean: 'fashion_mnist'\?.*zoo\.train\(name, data=\.\.\.\)"):
        zoo.data.get_dataset_info("fashion_mnst")


def test_dir_of_zoo_data_lists_what_it_loads_on_first_use(monkeypatch):
    # Names loaded on first use are listed before that use too (tab completion, help()).
    monkeypatch.delitem(vars(zoo.data), "RandomAffine", raising=False)
    assert {"RandomAffine", "load", "read_source", "DATASETS"} <= set(dir(zoo.data))
    assert zoo.data.RandomAffine.__name__ == "RandomAffine"


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


def test_a_model_with_more_classes_than_the_tfds_dataset_reads_it():
    # Only labels past the model's outputs are refused (the test above): every one of MNIST's
    # 10 classes is a class of a 12-class model.
    spec = zoo.get_spec("cnn_mnist").with_overrides(num_classes=12, batch_size=4)
    with tfds.testing.mock_data(num_examples=4):
        dataset = zoo.data.load("mnist", "test", spec=spec)
        _, labels = _first_batch(dataset)
    assert dataset.num_examples == 4 and len(dataset.class_names) == 12
    assert 0 <= labels.numpy().min() and labels.numpy().max() < 10


def test_texts_for_an_image_entry_are_refused_with_the_way_out():
    frame = pd.DataFrame({"sentence": ["a fine film", "dull"], "label": [1, 0]})
    expected = (r"holds texts\. Pass an image source, or pick an entry for texts \(`zoo list "
                r"--task text_classification`, or zoo\.list_models\(task='text_classification'\)\)")
    with pytest.raises(DataError, match=expected):
        zoo.data.load(frame, spec="cnn_mnist")


def test_tfds_without_validation_split_says_what_to_use():
    def fake_load(name, **kwargs):
        raise ValueError("Unknown split 'validation'. Should be one of ['test', 'train'].")

    original, tfds.load = tfds.load, fake_load
    try:
        with pytest.raises(
            DataError, match=r"no split 'validation'.*split='test'.*'train\[:90%\]'"
        ) as caught:
            zoo.data.load("mnist", "validation", spec="cnn_mnist")
    finally:
        tfds.load = original
    # The hold-out it recommends is a slice of train, which load treats as training unless told.
    assert (
        "split='train[90%:]', spec=..., shuffle=False, augment=False, "
        "preprocessor=train.preprocessor" in str(caught.value)
    )


def test_tfds_hold_out_slice_loaded_as_the_hint_says_reuses_the_training_vocabulary():
    spec = _small("lstm_sst2")
    with tfds.testing.mock_data(num_examples=20):
        train = zoo.data.load("glue/sst2", "train[:90%]", spec=spec)
        held_out = zoo.data.load("glue/sst2", "train[90%:]", spec=spec, shuffle=False,
                                 augment=False, preprocessor=train.preprocessor)
        first, again = _first_batch(held_out), _first_batch(held_out)
    assert held_out.preprocessor is train.preprocessor
    assert first[0].numpy().tolist() == again[0].numpy().tolist()  # not shuffled


def test_tfds_split_all_counts_as_training():
    # "all" holds the train split: shuffled and augmented as training, unlike "test".
    with tfds.testing.mock_data(num_examples=8):
        every = zoo.data.load("mnist", "all", spec=_small("cnn_mnist"))
        test = zoo.data.load("mnist", "test", spec=_small("cnn_mnist"))
    assert every.augmented and not test.augmented


def test_tfds_cache_is_honoured(monkeypatch):
    cached = []
    original = tf.data.Dataset.cache
    monkeypatch.setattr(
        tf.data.Dataset, "cache", lambda self, *a, **k: cached.append(1) or original(self, *a, **k)
    )
    with tfds.testing.mock_data(num_examples=4):
        zoo.data.load("mnist", "test", spec=_small("cnn_mnist"), cache=False)
        assert cached == []
        zoo.data.load("mnist", "test", spec=_small("cnn_mnist"))  # decoded images kept
    assert cached == [1]


def test_tfds_split_all_includes_the_unlabelled_test_split():
    from zoo.data.catalog import DATASETS
    from zoo.data.validate import check_tfds_against_spec

    with pytest.raises(
        DataError,
        match=r"'test' split of 'glue/sst2' has no labels \(every label is -1\), and split "
        r"'all' includes it.*split='validation' for evaluation",
    ):
        check_tfds_against_spec(DATASETS["glue/sst2"], "all", zoo.get_spec("lstm_sst2"))
    check_tfds_against_spec(DATASETS["mnist"], "all", zoo.get_spec("cnn_mnist"))  # all labelled


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
        (
            _arrays(x=np.full((20, 28, 28), -1, np.int64)),
            r"integer pixels must lie in \[0, 255\], found values from -1 to -1",
        ),
        (
            _arrays(x=np.full((20, 28, 28), 300, np.int64)),
            r"integer pixels must lie in \[0, 255\], found values from 300 to 300",
        ),
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
        (
            _arrays(y=np.zeros((20, 1, 1))),
            r"received labels of shape \(20, 1, 1\); expected one integer class id per example",
        ),
        (
            _arrays(y=np.array(["2024-01-01"] * 20, "datetime64[D]")),
            r"labels have dtype datetime64\[D\]; expected integer class ids",
        ),
        (
            _arrays(x=np.zeros((20, 28, 28), np.complex64)),
            r"images have dtype complex64; expected uint8 pixels \(0-255\) or floats",
        ),
        (
            (np.array([["a film", "dull"]] * 20), np.zeros(20)),
            r"received texts of shape \(20, 2\); expected one string per example",
        ),
        (  # not even one example has a shape (ragged inside): no two examples to name
            ([[1, [2]], [3, 4]], [0, 1]),
            r"x cannot be read as one array \(.*inhomogeneous.*\); expected images of one shape",
        ),
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
    from zoo.data.tables import read_frame

    with pytest.raises(DataError, match=r"could not read .*missing\.csv: \[Errno 2\] No such file"
                       r".*Expected a UTF-8 comma-separated file with a header line"):
        read_frame(tmp_path / "missing.csv")

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
    with pytest.raises(
        DataError,
        match=r"could not read .*ragged\.tsv: line 3 has 4 fields but the header line has 2",
    ):
        zoo.data.load(ragged, spec="lstm_sst2")

    not_utf8 = tmp_path / "latin.csv"
    not_utf8.write_bytes("label,text\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"could not read .*latin\.csv: line 2 is not UTF-8 "
                                        r"\(byte 0xe9 in \"1,caf.\"\)"):
        zoo.data.load(not_utf8, spec="lstm_sst2")
    # Control bytes in the quoted line stay out of the one-line message (an escape sequence in a
    # terminal, a NUL in a log).
    garbled = tmp_path / "garbled.csv"
    garbled.write_bytes(b"label,text\n1,\x01\x1b[31m caf\xe9\n")
    with pytest.raises(DataError, match=r"line 2 is not UTF-8 \(byte 0xe9 in \"1,\?\?\[31m "
                                        r"caf.\"\)"):
        zoo.data.load(garbled, spec="lstm_sst2")
    # A binary file under a text name: said to be binary (it was a line of control bytes, and
    # iconv advice for a zip archive), naming the kind where its first bytes tell it.
    archive = tmp_path / "digits.tsv"
    np.savez(tmp_path / "digits.npz", x=np.zeros(3))
    archive.write_bytes((tmp_path / "digits.npz").read_bytes())
    with pytest.raises(DataError, match=r"^could not read .*digits\.tsv: it is a binary file \(a "
                       r"zip archive, such as an \.npz\), not text; expected UTF-8 text \(\.csv, "
                       r"\.tsv or \.txt\)\. If it holds data zoo reads, give it its own "
                       r"extension \(an \.npz archive ends in \.npz\)\.$"):
        zoo.data.load(archive, spec="lstm_sst2")
    # UTF-16 (Excel's "Unicode Text") holds NUL bytes too, but is text: the conversion is named.
    wide = tmp_path / "excel.tsv"
    wide.write_text("sentence\tlabel\nfine\t1\n", encoding="utf-16")
    with pytest.raises(DataError, match=r"^could not read .*excel\.tsv: it is UTF-16 text; "
                       r"expected UTF-8\. Convert the file, e\.g\. iconv -f utf-16 -t utf-8 "
                       r"excel\.tsv > utf8_excel\.tsv, or save it as UTF-8\.$"):
        zoo.data.load(wide, spec="lstm_sst2")


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
    with pytest.raises(DataError, match=r"1 text is missing or not a string \(row 1"):
        zoo.data.load(frame, spec="lstm_sst2")
    # Columns by position (a frame read with header=None): a missing one is named, not an
    # AttributeError from the hint's case comparison.
    numbered = pd.DataFrame({0: ["good", "bad"], 1: [1, 0]})
    assert zoo.data.read_source(numbered, text_column=0, label_column=1).labels.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"no label column 2; found columns \['0', '1'\]"):
        zoo.data.read_source(numbered, text_column=0, label_column=2)
    semicolons = tmp_path / "reviews.csv"  # as a spreadsheet in some locales saves "CSV"
    semicolons.write_text("text;label\ngood;1\n")
    with pytest.raises(DataError, match=r"found columns \['text;label'\]\..*The header holds ';': "
                       r"re-save the file comma-separated \(\.csv\) or tab-separated"):
        zoo.data.load(semicolons, spec="lstm_sst2")


def test_image_folder_errors(tmp_path):
    unused = tmp_path / "unused"
    for name in ("cat", "dog"):
        (unused / name).mkdir(parents=True)
        (unused / name / "notes.md").write_text("to do: add images")
    with pytest.raises(DataError, match=r"unused is empty: its class folders \(cat, dog\) hold no "
                       r"images \(\.png, .*\) and no \.txt files"):
        zoo.data.load(unused, spec=SPEC)

    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.png").write_bytes(b"")
    with pytest.raises(
        DataError, match="has no sub-folders; a folder source needs one sub-folder per class"
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
    with pytest.raises(DataError, match=r"differ in shape.*\(30, 30, 1\).*Resize them"):
        zoo.data.load(mixed, spec=SPEC)
    (mixed / "dog" / "big.png").write_bytes(
        tf.io.encode_png(np.zeros((28, 28, 3), np.uint8)).numpy()
    )
    with pytest.raises(DataError, match=r"cat/.*\(28, 28, 1\) but dog/big.png .*colour mode"):
        zoo.data.load(mixed, spec=SPEC)

    webp = _write_image_folder(tmp_path / "webp", per_class=1)
    (webp / "cat" / "photo.webp").write_bytes(b"RIFF")
    with pytest.raises(DataError, match=r"1 image\(s\) in a format zoo cannot decode.*webp"):
        zoo.data.load(webp, spec=SPEC)

    colour = _write_image_folder(tmp_path / "colour", shape=(28, 28, 3), per_class=1)
    with pytest.raises(
        DataError, match=r"expects images of shape \(28, 28, 1\).*received \(28, 28, 3\)"
    ):
        zoo.data.load(colour, spec=SPEC)


def test_channels_first_arrays_are_named():
    x, y = np.zeros((4, 3, 32, 32), np.uint8), np.arange(4)
    with pytest.raises(DataError, match=r"the channels come first.*np\.moveaxis\(x, 1, -1\)"):
        zoo.data.load((x, y), spec=zoo.get_spec("cnn_cifar10"))


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
    with pytest.raises(zoo.InvalidValueError, match=r"split must be a non-empty string such as "
                       r"'train', got ' '"):
        zoo.data.load((x, y), " ", spec=SPEC)
    with pytest.raises(zoo.InvalidValueError, match=r"preprocessor must be a zoo\.data\."
                       r"Preprocessor \(the \.preprocessor of a dataset.*got str"):
        zoo.data.load((x, y), spec=SPEC, preprocessor="run/preprocessor")
    with pytest.raises(zoo.InvalidValueError, match=r"load\(\) needs a source, or a spec whose "
                       r"dataset to load from TFDS"):
        zoo.data.load()
    with pytest.raises(DataError, match=r"'tfds: ' names no dataset; expected 'tfds:NAME'"):
        zoo.data.load("tfds: ")
    with pytest.raises(DataError, match=r"'tfds:mnist' is a TFDS dataset, not a local source; "
                       r"read it with zoo\.data\.load"):
        zoo.data.read_source("tfds:mnist")


@pytest.mark.parametrize("arguments, message", [
    ({"text_column": ""}, "text_column must be a column name (a non-empty string), got ''"),
    ({"label_column": None}, "label_column must be a column name (a non-empty string), got None"),
    ({"label_column": 3}, "label_column must be a column name (a non-empty string), got 3"),
])
def test_column_arguments_must_name_a_column(arguments, message):
    from zoo.data.sources import column_options

    with pytest.raises(zoo.InvalidValueError) as caught:
        column_options(**arguments)
    assert str(caught.value) == message + "."


# ---- tables: field counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, text, message",
    [
        (  # one stray tab in the first data row: pandas would make column 1 the index
            "first.tsv",
            "sentence\tlabel\na moving\tfunny film\t1\na dull film\t0\n",
            r"line 2 has 3 fields but the header line has 2.*Replace tabs inside the text",
        ),
        (  # an unquoted comma in the first data row
            "first.csv",
            "sentence,label\nwitty, warm film,1\na dull film,0\n",
            r"line 2 has 3 fields but the header line has 2.*Quote a field that contains a comma",
        ),
        (  # a trailing tab on every data line, none on the header
            "trailing.tsv",
            "sentence\tlabel\na moving film\t1\t\na dull film\t0\t\n",
            r"line 2 has 3 fields but the header line has 2.*remove any trailing tab",
        ),
        (  # a tab-separated file named .csv whose text holds commas: not a quoting problem
            "glue.csv",
            "sentence\tlabel\nwitty, warm film\t1\na dull film\t0\n",
            r"line 2 has 2 fields but the header line has 1.*looks tab-separated: name it "
            r"glue\.tsv \(a \.csv is read as comma-separated\)\.$",
        ),
    ],
)
def test_extra_fields_in_a_table_are_refused_naming_the_line(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        zoo.data.read_source(path)


def test_a_header_with_a_trailing_tab_still_reads(tmp_path):
    for text in (
        "sentence\tlabel\t\na moving film\t1\na dull film\t0\n",  # header only
        "sentence\tlabel\t\na moving film\t1\t\na dull film\t0\t\n",  # every line
    ):
        path = tmp_path / "reviews.tsv"
        path.write_text(text)
        examples = zoo.data.read_source(path)
        assert examples.features.tolist() == ["a moving film", "a dull film"]
        assert examples.labels.tolist() == [1, 0]


# ---- labels read from text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, message",
    [
        ("1,0,,1,0", r"column 'label': the label is empty at row 2; expected an integer class id"),
        ("1,0,  ,1,0", r"the label is empty at row 2"),
        (
            "1,0,NA,1,0",
            r"labels mix integer class ids and other values: 'NA' at row 2, where the other "
            r"labels are integer class ids; expected integer class ids throughout, or class "
            r"names throughout",
        ),
        ("pos,neg,3,pos,neg", r"'3' at row 2, where the other labels are class names"),
        ("0.0,1.0,2.5,1.0,0.0", r"labels must be integer class ids, found 2\.5 at row 2"),
        ("0,1,nan,1,0", r"labels are missing \(NaN\) at row 2"),
    ],
)
def test_bad_text_labels_name_the_rows(tmp_path, labels, message):
    path = tmp_path / "reviews.csv"
    rows = [f"text {i},{label}" for i, label in enumerate(labels.split(","))]
    path.write_text("\n".join(["sentence,label", *rows]) + "\n")
    with pytest.raises(DataError, match=message):
        zoo.data.read_source(path)


def test_a_row_without_its_label_field_is_an_empty_label(tmp_path):
    path = tmp_path / "short.tsv"
    path.write_text("sentence\tlabel\ngood film\t1\nbad film\t0\nok film\n")
    with pytest.raises(DataError, match="the label is empty at row 2"):
        zoo.data.read_source(path)


def test_missing_labels_in_arrays_and_frames_are_refused():
    with pytest.raises(DataError, match=r"the \(x, y\) arrays of 2 examples: the label is "
                       r"empty at row 1"):
        zoo.data.read_source((["a", "b"], np.array(["pos", None], dtype=object)))
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": pd.array([1, None, 0], "Int64")})
    with pytest.raises(DataError, match=r"labels are missing \(NaN\) at row 1"):
        zoo.data.read_source(frame)


def test_string_labels_of_another_count_than_the_texts_are_refused():
    for labels in (["x", "y"], pd.Categorical(["x", "y"]), pd.Series(pd.Categorical(["x", "y"]))):
        with pytest.raises(DataError, match=r"3 inputs but 2 labels; expected one label per input"):
            zoo.data.read_source((["a", "b", "c"], labels))


def test_column_vector_boolean_and_bytes_labels_are_read_as_ids():
    x, _ = _arrays(4)
    column = zoo.data.read_source((x, np.array([[0], [1], [1], [0]])))  # (examples, 1)
    assert column.labels.tolist() == [0, 1, 1, 0] and column.class_names == ()
    flags = zoo.data.read_source((x, np.array([True, False, True, False])))
    assert flags.labels.tolist() == [1, 0, 1, 0] and flags.labels.dtype == np.int32
    # Bytes names (an .npz of np.array([b"pos", ...])) are the same names as strings.
    named = zoo.data.read_source((["a", "b", "c"], np.array([b"pos", b"neg", b"pos"])))
    assert named.class_names == ("neg", "pos") and named.labels.tolist() == [1, 0, 1]


def test_integer_labels_written_as_floats_are_ids(tmp_path):
    path = tmp_path / "floats.csv"
    path.write_text("sentence,label\n" + "".join(f"text {i},{i}.0\n" for i in range(12)))
    examples = zoo.data.read_source(path)
    assert examples.labels.tolist() == list(range(12)) and examples.class_names == ()


# ---- class names to ids -------------------------------------------------------------------------


def test_class_names_fix_the_ids_of_named_labels(tmp_path):
    path = tmp_path / "test.csv"  # a test file without the 'neutral' class
    path.write_text("text,label\nawful,negative\ngreat,positive\nbad,negative\n")
    names = ("negative", "neutral", "positive")
    dataset = zoo.data.load(path, "all", batch_size=3, shuffle=False, class_names=names)
    assert _first_batch(dataset)[1].numpy().tolist() == [0, 2, 0]
    assert dataset.class_names == names
    assert zoo.data.read_source(path, class_names=names).labels.tolist() == [0, 2, 0]
    with pytest.raises(
        DataError,
        match=r"'test\.csv': labels not among the class names: 'negative', "
        r"'positive'; expected one of 'neg', 'pos'",
    ):
        zoo.data.load(path, "all", class_names=["neg", "pos"])


def test_labels_counted_from_one_are_named_as_such():
    texts = POSITIVE + NEGATIVE
    with pytest.raises(DataError, match=r"look counted from 1 \(1 to 2\): subtract 1 \(y - 1\)"):
        zoo.data.load((texts, [2] * 5 + [1] * 5), spec=_small("lstm_sst2"))
    with pytest.raises(DataError, match=r"num_classes=4 if they are real classes"):
        zoo.data.load((texts, [3] * 5 + [0] * 5), spec=_small("lstm_sst2"))
    # A slice of a larger label set (fine-tuning a 2-class head on digits 5 and 6): numbered
    # from 5, told to subtract it. Was "found 6 at rows ...", as though every row held a 6.
    with pytest.raises(DataError, match=r"found 5, 6 at rows 0, 1, 2, 3, 4 and 5 more "
                       r"\(values from 5 to 6\)\. They look like 2 classes numbered from 5 \(5 to "
                       r"6\): subtract 5 \(y - 5\) so that they are class ids 0 to 1, or build the "
                       r"model with num_classes=7 if classes 0 to 4 are real too\."):
        zoo.data.load((texts, [6] * 5 + [5] * 5), spec=_small("lstm_sst2"))
    # No class count makes -1 a class id: the advice is about the rows, not num_classes.
    with pytest.raises(DataError, match=r"found -1 at row 9 \(values from -1 to 1\)\. Class ids "
                       r"start at 0 \(-1 often marks an unlabelled row.*drop those rows"):
        zoo.data.load((texts, [1] * 5 + [0] * 4 + [-1]), spec=_small("lstm_sst2"))


def test_four_channel_images_for_three_are_told_to_drop_the_alpha_channel():
    from zoo.data.validate import check_image_shape

    with pytest.raises(DataError, match=r"4 channels where 3 are expected.*drop the alpha "
                       r"channel \(x\[\.\.\., :3\] on arrays, Image\.open\(f\)\.convert\('RGB'\) "
                       r"on files\)"):
        check_image_shape((32, 32, 4), zoo.get_spec("cnn_cifar10"), "'rgba'")
    # grayscale with alpha for a grayscale entry
    with pytest.raises(DataError, match=r"2 channels where 1 are expected.*drop the alpha "
                       r"channel \(x\[\.\.\., :1\] on arrays, Image\.open\(f\)\.convert\('L'\)"):
        check_image_shape((28, 28, 2), zoo.get_spec("cnn_mnist"), "'gray_alpha'")


def test_labels_with_underscores_are_names_not_numbers():
    # float("1_0") is 10; a label column's "1_0" is a class name
    examples = zoo.data.read_source((list("abcd"), ["1_0", "0_1", "1_0", "0_1"]))
    assert examples.class_names == ("0_1", "1_0") and examples.labels.tolist() == [1, 0, 1, 0]


def test_bytes_texts_that_are_not_utf8_are_one_clear_error(tmp_path):
    with pytest.raises(DataError, match=r"1 texts are bytes that are not UTF-8 \(row 0, e\.g\. "
                       r"b'caf\\xe9 good'\); expected UTF-8 bytes or strings\. Decode them"):
        zoo.data.read_source(([b"caf\xe9 good", b"bad"], [1, 0]))
    np.savez(tmp_path / "bytes.npz", x=np.array([b"ok", b"caf\xe9"]), y=np.array([1, 0]))
    with pytest.raises(DataError, match=r"not UTF-8 \(row 1"):
        zoo.data.read_source(tmp_path / "bytes.npz")
    # UTF-8 bytes are still texts
    assert zoo.data.read_source(([b"caf\xc3\xa9"], [1])).features.tolist() == ["café"]


def test_frames_with_integer_column_names_take_them_as_given_or_as_text():
    frame = pd.DataFrame({0: ["a fine film", "so dull"], 1: [1, 0]})  # read with header=None
    for text_column, label_column in ((0, 1), ("0", "1")):
        examples = zoo.data.read_source(frame, text_column=text_column, label_column=label_column)
        assert examples.features.tolist() == ["a fine film", "so dull"]
        assert examples.labels.tolist() == [1, 0]
    with pytest.raises(DataError, match=r"has no text column 2; found columns \['0', '1'\]"):
        zoo.data.read_source(frame, text_column=2, label_column=1)


def test_misspelt_labels_are_named_as_such():
    from zoo.data.validate import look_alike

    assert look_alike("Pos ", ["neg", "pos"]) == "pos"  # case, spaces
    assert look_alike("postive", ["negative", "positive"]) == "positive"
    for name, others in (("class1", ["class2"]), ("neg", ["pos"]), ("0", ["1"])):
        assert look_alike(name, others) is None  # different classes by design
    # Names of punctuation only fold to nothing: not one class written two ways.
    assert look_alike("?", ["-", "pos"]) is None
    with pytest.raises(DataError, match=r"labels not among the class names: '\?'; expected one "
                                        r"of '-', 'pos'"):
        zoo.data.read_source((["a", "b"], ["?", "pos"]), class_names=["-", "pos"])
    texts = POSITIVE + NEGATIVE
    # Training data with a typo: three names for a 2-class entry.
    with pytest.raises(DataError, match=r"'pos' and 'poss' look like one class written two ways: "
                                        r"correct those labels, or build .* num_classes=3"):
        zoo.data.load((texts, ["pos"] * 4 + ["poss"] + ["neg"] * 5), spec=_small("lstm_sst2"))
    # Validation labels against the training data's classes.
    with pytest.raises(DataError, match=r"'Pos' \(did you mean 'pos'\?\), 'negative'; expected one "
                                        r"of 'neg', 'pos'"):
        zoo.data.read_source((texts, ["Pos"] * 5 + ["negative"] * 5), class_names=["neg", "pos"])
    # The names given may hold the typo: the message does not call them the data's.
    with pytest.raises(DataError, match=r"'happy' \(did you mean 'hapy'\?\); expected one of "
                       r"'sad', 'hapy' \(the class names that fix the ids: class_names= or "
                       r"--class-names where given.*correct the class names if the typo is theirs"):
        zoo.data.read_source((texts, ["happy"] * 5 + ["sad"] * 5), class_names=["sad", "hapy"])


def test_swapped_text_and_label_columns_are_named_as_such():
    frame = pd.DataFrame({"review": POSITIVE + NEGATIVE,
                          "sentiment": ["good"] * len(POSITIVE) + ["bad"] * len(NEGATIVE)})
    with pytest.raises(DataError, match=r"phrases of several words, so the label column looks "
                       r"like the text column: name the columns with text_column= and "
                       r"label_column= \(command line: --text-column, --label-column\)"):
        zoo.data.load(frame, spec=_small("lstm_sst2"), text_column="sentiment",
                      label_column="review")
    assert zoo.data.load(frame, spec=_small("lstm_sst2"), text_column="review",
                         label_column="sentiment").class_names == ("bad", "good")


def test_class_names_leave_integer_labels_as_they_are():
    dataset = zoo.data.load(
        (["a", "b", "c"], [2, 0, 1]), "all", batch_size=3, shuffle=False,
        class_names=("x", "y", "z"),
    )
    assert _first_batch(dataset)[1].numpy().tolist() == [2, 0, 1]
    assert dataset.class_names == ("x", "y", "z")


@pytest.mark.parametrize(
    "class_names, message",
    [("negative", "must be a sequence of strings"), ((0, 1), "must be a sequence of strings"),
     (("a", "a"), r"must name each class once.*repeated: \['a'\]"), ((), "name each class once"),
     (("", "a", " "), r"class_names must not be empty or blank, got \('', 'a', ' '\) \(positions "
      r"0, 2\)")],
)
def test_bad_class_names_argument(class_names, message):
    with pytest.raises(zoo.InvalidValueError, match=message):
        zoo.data.load((["a", "b"], ["x", "y"]), "all", class_names=class_names)


def test_names_the_entry_knows_take_the_entry_ids(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text("text,label\nelection,World\nfootball,Sports\nchips,Sci/Tech\nbonds,Business\n")
    dataset = zoo.data.load(path, "all", spec=_small("transformer_ag_news"), shuffle=False)
    assert _first_batch(dataset)[1].numpy().tolist() == [0, 1, 3, 2]
    assert dataset.class_names == ("World", "Sports", "Business", "Sci/Tech")
    # a subset of the entry's names still maps by the entry's order
    subset = tmp_path / "subset.csv"
    subset.write_text("text,label\nchips,Sci/Tech\nfootball,Sports\n")
    assert _first_batch(
        zoo.data.load(subset, "all", spec=_small("transformer_ag_news"), shuffle=False)
    )[1].numpy().tolist() == [3, 1]


def test_fashion_folder_named_after_its_classes_takes_the_entry_ids(tmp_path):
    # "T-shirt/top" cannot be a folder name: "T-shirt_top" stands for it
    classes = ("Ankle boot", "Bag", "T-shirt_top")
    root = _write_image_folder(tmp_path / "clothes", per_class=1, classes=classes)
    dataset = zoo.data.load(root, "all", spec=_small("cnn_fashion_mnist"), shuffle=False)
    assert _first_batch(dataset)[1].numpy().tolist() == [9, 8, 0]
    assert dataset.class_names == zoo.get_spec("cnn_fashion_mnist").class_names


def test_fashion_folder_hold_out_takes_the_training_class_names(tmp_path):
    # zoo.train reads the hold-out with the training read's names ("T-shirt/top"): the folder
    # spelling must map to them there too, or no Fashion-MNIST folder could be trained on.
    spec = _small("cnn_fashion_mnist")
    root = _write_image_folder(tmp_path / "clothes", per_class=3, classes=("Bag", "T-shirt_top"))
    train = zoo.data.load(root, "train", spec=spec, validation_fraction=0.5)
    assert train.class_names == spec.class_names
    hold_out = zoo.data.load(root, "validation", spec=spec, class_names=train.class_names,
                             preprocessor=train.preprocessor, shuffle=False,
                             validation_fraction=0.5)
    # seed 0 holds out Bag/2.png, T-shirt_top/0.png and 2.png: both classes, by the entry's ids
    assert _first_batch(hold_out)[1].numpy().tolist() == [8, 0, 0]


def test_other_names_as_many_as_the_classes_keep_sorted_order(tmp_path):
    dataset = zoo.data.load(
        (["fine", "dull", "ok"], ["pos", "neg", "pos"]), "all", spec=_small("lstm_sst2"),
        shuffle=False,
    )
    assert _first_batch(dataset)[1].numpy().tolist() == [1, 0, 1]
    assert dataset.class_names == ("neg", "pos")


def test_some_of_the_entrys_class_names_given_keep_its_ids_or_are_refused():
    # A list given numbers its classes by position: ("Sports", "World") numbered Sports 0 where
    # transformer_ag_news numbers it 1, without a word, and named the other classes "2" and "3".
    spec = _small("transformer_ag_news")  # World, Sports, Business, Sci/Tech
    data = (["a b", "c d"], ["World", "Sports"])
    first_two = zoo.data.load(data, "all", spec=spec, class_names=("World", "Sports"),
                              shuffle=False)
    assert _first_batch(first_two)[1].numpy().tolist() == [0, 1]
    assert first_two.class_names == spec.class_names  # the entry's names for the rest
    with pytest.raises(DataError, match=r"the class_names given \('Sports', 'World'\) are 2 of "
                       r"the 4 classes of 'transformer_ag_news', which numbers them \('World', "
                       r"'Sports', 'Business', 'Sci/Tech'\).*in the entry's order, or leave it"):
        zoo.data.load(data, "all", spec=spec, class_names=("Sports", "World"))
    # Without class_names, names among the entry's take its ids, in any order in the data.
    found = zoo.data.load((["c d", "a b"], ["Sports", "World"]), "all", spec=spec, shuffle=False)
    assert _first_batch(found)[1].numpy().tolist() == [1, 0]


def test_a_categorical_label_column_keeps_its_category_order():
    order = ["negative", "neutral", "positive"]  # not sorted order: "neutral" < "positive" only
    frame = pd.DataFrame({
        "text": ["awful", "fine", "great", "bad"],
        "label": pd.Categorical(["negative", "positive", "positive", "negative"],
                                categories=order[::-1]),
    })
    dataset = zoo.data.load(frame, "all", batch_size=4, shuffle=False)
    assert dataset.class_names == ("positive", "neutral", "negative")  # unused ones too
    assert _first_batch(dataset)[1].numpy().tolist() == [2, 0, 0, 2]
    # arrays too; a missing value is refused like any empty label
    examples = zoo.data.read_source((["a", "b"], pd.Categorical(["y", "x"], categories=["y", "x"])))
    assert examples.labels.tolist() == [0, 1] and examples.class_names == ("y", "x")
    with pytest.raises(DataError, match="the label is empty at row 1; expected one of the categ"):
        zoo.data.read_source((["a", "b"], pd.Categorical(["y", None], categories=["y", "x"])))
    # numbered categories are ids, as in any other column
    numbered = zoo.data.read_source((["a", "b"], pd.Categorical([3, 1])))
    assert numbered.labels.tolist() == [3, 1] and numbered.class_names == ()


# ---- image folders: layout and class count ------------------------------------------------------


def test_a_folder_of_splits_is_refused_with_the_folder_to_pass(tmp_path):
    for split in ("train", "test"):
        _write_image_folder(tmp_path / "pets" / split, per_class=1)
    with pytest.raises(
        DataError,
        match=r"pets looks like a folder of splits.*\(test, train\) hold no images themselves, "
        r"only the same folders \(cat, dog\).*Pass the folder of one split instead, e\.g\. "
        r".*pets/train \(and .*pets/test as validation data\)",
    ):
        zoo.data.read_source(tmp_path / "pets")
    _write_image_folder(tmp_path / "lone" / "train", per_class=1)
    with pytest.raises(DataError, match=r"e\.g\. .*lone/train\."):
        zoo.data.read_source(tmp_path / "lone")


def test_images_nested_in_class_folders_still_read(tmp_path):
    _write_image_folder(tmp_path / "pets" / "cat", per_class=2, classes=("2019",))
    _write_image_folder(tmp_path / "pets" / "dog", per_class=1, classes=("2020",))
    examples = zoo.data.read_source(tmp_path / "pets")
    assert examples.class_names == ("cat", "dog") and examples.labels.tolist() == [0, 0, 1]


def test_class_folders_sharing_one_sub_folder_are_classes_not_splits(tmp_path):
    # cat/images/*.png and dog/images/*.png: a split would hold several classes
    _write_image_folder(tmp_path / "pets" / "cat", per_class=2, classes=("images",))
    _write_image_folder(tmp_path / "pets" / "dog", per_class=1, classes=("images",))
    examples = zoo.data.read_source(tmp_path / "pets")
    assert examples.class_names == ("cat", "dog") and examples.labels.tolist() == [0, 0, 1]


def test_macosx_folders_are_never_classes(tmp_path):
    root = _write_image_folder(tmp_path / "digits", per_class=1, classes=tuple("0123456789"))
    junk = root / "__MACOSX" / "3"
    junk.mkdir(parents=True)
    (junk / "._0.png").write_bytes(b"resource fork")
    (root / "3" / "__MACOSX").mkdir()
    (root / "3" / "__MACOSX" / "x.png").write_bytes(b"resource fork")
    dataset = zoo.data.load(root, "all", spec=SPEC, shuffle=False, batch_size=10)
    assert dataset.class_names == tuple("0123456789") and dataset.num_examples == 10
    assert _first_batch(dataset)[1].numpy().tolist() == list(range(10))


def test_class_names_the_entry_cannot_have_are_refused_at_load_time(tmp_path):
    two = _write_image_folder(tmp_path / "two", per_class=1, classes=("zero", "one"))
    with pytest.raises(
        DataError,
        match=r"'two' names 2 classes \('one', 'zero'\) but 'cnn_mnist' has 10 "
        r"\('0', '1', \.\.\., '9'\): build and train with num_classes=2 \(command line: "
        r"--set num_classes=2\), or name the classes as the entry does",
    ):
        zoo.data.load(two, spec=SPEC)
    eleven = _write_image_folder(tmp_path / "eleven", per_class=1, classes=tuple(
        str(i) for i in range(11)))
    with pytest.raises(DataError, match=r"'eleven' names 11 classes.*num_classes=11"):
        zoo.data.load(eleven, spec=SPEC)
    # the same folder for a model built with num_classes=2 loads
    assert zoo.data.load(two, spec=SPEC.with_overrides(num_classes=2)).class_names == (
        "one", "zero")


def test_data_dir_with_local_data_is_not_used_and_says_so(tmp_path, caplog):
    images = digit_like_images(20)
    with caplog.at_level(logging.WARNING, logger="zoo"):
        dataset = zoo.data.load(images, spec=_small("cnn_mnist"), data_dir=tmp_path / "tfds")
    assert dataset.num_examples == 18  # the seeded 10% hold-out left out, as without data_dir
    assert caplog.messages == [
        f"data_dir={tmp_path / 'tfds'} is not used: it is where TFDS datasets are prepared, and "
        f"this source is local data."
    ]


def test_a_data_dir_that_is_a_file_is_named_as_such(tmp_path):
    from zoo.data.tfds_source import read_tfds

    examples = write_digits_npz(tmp_path / "digits.npz", count=10)
    with pytest.raises(DataError, match=r"data_dir .*digits\.npz is a file; expected the folder "
                       r"TFDS keeps prepared datasets in.*passed as data itself \(--data\)"):
        read_tfds("mnist", "train", data_dir=examples)


# ---- found by an audit of error messages -----------------------------------------------------


def test_images_of_several_sizes_or_no_images_are_one_data_error_each():
    small, large = np.zeros((28, 28), np.uint8), np.zeros((32, 32), np.uint8)
    # Was NumPy's "setting an array element with a sequence ... inhomogeneous shape".
    with pytest.raises(DataError, match=r"x holds examples of different shapes: example 0 is "
                       r"\(28, 28\) but example 2 is \(32, 32\); expected one shape for all.*"
                       r"Resize them"):
        zoo.data.load(([small, small, large], [0, 1, 0]), spec=SPEC)
    with pytest.raises(DataError, match=r"example 0 is \(28, 28, 1\) but example 1 is "
                       r"\(28, 28, 3\).*one colour mode"):
        zoo.data.load(([small[..., None], np.zeros((28, 28, 3), np.uint8)], [0, 1]), spec=SPEC)
    # Was "len() of unsized object".
    with pytest.raises(DataError, match=r"x is None; expected an array of images or texts"):
        zoo.data.load((None, [0, 1]), spec=SPEC)


def test_labels_beyond_int32_are_refused_not_wrapped():
    # 2**31 became -2**31 when cast to int32, and the message then spoke of a negative label.
    for y in (np.array([0, 2**31] * 10), np.array([0.0, 3e9] * 10)):
        with pytest.raises(DataError, match=r"found values from 0 to \d+, beyond what a class id "
                           r"can be \(-2147483648 to 2147483647\), at rows 1, 3.*np\.unique"):
            zoo.data.load(_arrays(y=y), spec=SPEC)


def test_a_comma_separated_file_named_tsv_is_told_to_be_named_csv(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text("sentence,label\na fine film,1\na dull film,0\n")
    with pytest.raises(DataError, match=r"found columns \['sentence,label'\]\. The header holds "
                       r"commas, so the file looks comma-separated: name it \.csv"):
        zoo.data.load(path, spec="lstm_sst2")


@pytest.mark.parametrize("text, line", [
    ('sentence,label\n"a fine film,1\na dull film,0\n', 2),
    # pandas counts records ("row 3"): a quoted field over two lines comes first here.
    ('sentence,label\nok,0\n"two\nlines",1\n"a fine film,1\nok,0\n', 5),
])
def test_a_quote_that_never_closes_is_named_with_its_line(tmp_path, text, line):
    path = tmp_path / "reviews.csv"
    path.write_text(text)
    # Was pandas' "EOF inside string starting at row 1" and the advice on field counts.
    with pytest.raises(DataError, match=rf"line {line} opens a quoted field \(\"\) that never "
                       rf"closes.*Close the quote.*double the quotes inside it") as raised:
        zoo.data.read_source(path)
    assert "same number of fields" not in str(raised.value)
