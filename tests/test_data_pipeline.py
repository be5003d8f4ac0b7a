"""zoo.data.load pipelines: hold-out, determinism, augmentation only in training, training steps."""

import warnings

import keras
import numpy as np
import pandas as pd
import pytest
from helpers import digit_like_images, write_sentiment_tsv

import zoo
from zoo.errors import DataError

SMALL_TEXT = {"vocab_size": 200, "sequence_length": 16, "embedding_dim": 16, "lstm_units": (8,)}


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.utils.clear_session()


def _ids(x: np.ndarray) -> np.ndarray:
    """Write a unique id into each image's first pixels, so sets of examples can be compared."""
    x = x.copy()
    x[:, 0, 0] = np.arange(len(x)) % 256
    x[:, 0, 1] = np.arange(len(x)) // 256
    return x


def _example_ids(dataset) -> list[int]:
    """Example ids of every batch of an unaugmented uint8 stream (raw pixels, no spec)."""
    ids = []
    for images, _ in dataset:
        pixels = images.numpy()
        ids.extend((pixels[:, 0, 0, 0].astype(int) + 256 * pixels[:, 0, 1, 0].astype(int)).tolist())
    return ids


def _batches(dataset) -> list[np.ndarray]:
    return [images.numpy() for images, _ in dataset]


def test_hold_out_is_disjoint_complete_and_reproducible():
    x, y = digit_like_images(300)
    source = (_ids(x), y)
    train = zoo.data.load(source, "train", batch_size=64, seed=3)
    validation = zoo.data.load(source, "validation", batch_size=64, seed=3)
    train_ids, validation_ids = _example_ids(train), _example_ids(validation)
    assert (train.num_examples, validation.num_examples) == (270, 30)
    assert len(set(train_ids)) == 270 and len(set(validation_ids)) == 30
    assert set(train_ids).isdisjoint(validation_ids)
    assert set(train_ids) | set(validation_ids) == set(range(300))
    assert (
        _example_ids(zoo.data.load(source, "validation", batch_size=64, seed=3)) == validation_ids
    )
    assert set(_example_ids(zoo.data.load(source, "validation", batch_size=64, seed=4))) != set(
        validation_ids
    )
    assert zoo.data.load(source, "all", batch_size=64).num_examples == 300


@pytest.mark.parametrize("fraction, held_out", [(0.01, 1), (0.99, 19)])
def test_hold_out_is_at_least_one_example_and_never_all(fraction, held_out):
    # 1% of 20 rounds to 0 and 99% to 20: either would leave one split empty.
    source = digit_like_images(20)
    train = zoo.data.load(source, "train", validation_fraction=fraction)
    validation = zoo.data.load(source, "validation", validation_fraction=fraction)
    assert (train.num_examples, validation.num_examples) == (20 - held_out, held_out)


def test_shuffle_is_seeded_and_reshuffled_every_epoch():
    x, y = digit_like_images(200)
    source = (_ids(x), y)
    first = zoo.data.load(source, batch_size=50, seed=1)
    epoch_one, epoch_two = _example_ids(first), _example_ids(first)
    assert epoch_one != epoch_two and sorted(epoch_one) == sorted(epoch_two)
    again = zoo.data.load(source, batch_size=50, seed=1)
    assert [_example_ids(again), _example_ids(again)] == [epoch_one, epoch_two]
    assert _example_ids(zoo.data.load(source, batch_size=50, seed=2)) != epoch_one
    unshuffled = zoo.data.load(source, "validation", batch_size=50, seed=1)
    assert _example_ids(unshuffled) == sorted(_example_ids(unshuffled))
    # train without shuffling keeps the source's order too, as evaluation reads expect
    unshuffled_train = zoo.data.load(source, "train", batch_size=50, seed=1, shuffle=False)
    assert _example_ids(unshuffled_train) == sorted(_example_ids(unshuffled_train))


def test_same_seed_gives_the_same_augmented_batches():
    x, y = digit_like_images(256)
    spec = zoo.get_spec("cnn_mnist").with_overrides(batch_size=64)
    runs = []
    for _ in range(2):
        dataset = zoo.data.load((x, y), spec=spec, seed=5)
        runs.append(_batches(dataset) + _batches(dataset))  # two epochs
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)
    other = _batches(zoo.data.load((x, y), spec=spec, seed=6))
    assert not np.array_equal(other[0], runs[0][0])
    # Unshuffled, the same images come first in every epoch, distorted afresh each time.
    unshuffled = zoo.data.load((x, y), "all", spec=spec, seed=5, shuffle=False, augment=True)
    assert not np.array_equal(_batches(unshuffled)[0], _batches(unshuffled)[0])


def test_augmentation_only_in_training_and_eval_is_exactly_normalized():
    x, y = digit_like_images(100)
    x = _ids(x)
    spec = zoo.get_spec("cnn_mnist").with_overrides(batch_size=100)
    normalized = (x[..., None].astype(np.float32) / 255.0 - 0.1307) / 0.3081

    evaluation = zoo.data.load((x, y), "all", spec=spec, shuffle=False)
    np.testing.assert_allclose(_batches(evaluation)[0], normalized, rtol=0, atol=1e-6)
    # A hold-out is never augmented, even when asked to be shuffled.
    validation = zoo.data.load(
        (x, y), "validation", spec=spec, validation_fraction=0.2, shuffle=True
    )
    assert validation.num_examples == 20 and validation.element_spec[0].shape[1:] == (28, 28, 1)
    assert not validation.augmented
    held_out = np.sort(np.random.default_rng(0).permutation(100)[:20])  # 20% of 100, seed 0
    shuffled = _batches(validation)[0]
    in_id_order = shuffled[np.argsort(shuffled[:, 0, 0, 0])]  # ids < 256: pixel (0, 0) orders
    np.testing.assert_allclose(in_id_order, normalized[held_out], rtol=0, atol=1e-6)

    augmented = zoo.data.load((x, y), "all", spec=spec, shuffle=False, augment=True)
    batch = _batches(augmented)[0]
    changed = ~np.isclose(batch, normalized, atol=1e-4).reshape(100, -1).all(axis=1)
    assert changed.mean() > 0.9  # nearly every image moved
    assert batch.min() >= normalized.min() - 1e-5 and batch.max() <= normalized.max() + 1e-5
    # the default training stream augments, since cnn_mnist has an augmentation
    training = zoo.data.load((x, y), "all", spec=spec, seed=0)
    assert not any(
        np.isclose(image, normalized, atol=1e-4).all(axis=(1, 2, 3)).any()
        for image in _batches(training)[0][:10]
    )
    # an entry without augmentation never changes its inputs
    plain = zoo.data.load(
        (x, y), "all", spec=zoo.get_spec("mlp_fashion_mnist").with_overrides(batch_size=100)
    )
    assert not zoo.get_spec("mlp_fashion_mnist").input.augmentation.enabled
    assert plain.element_spec[0].shape[1:] == (28, 28, 1)


def test_drop_remainder_and_batch_size_default():
    x, y = digit_like_images(70)
    spec = zoo.get_spec("mlp_mnist").with_overrides(batch_size=32)
    assert [len(b) for b in _batches(zoo.data.load((x, y), "all", spec=spec))] == [32, 32, 6]
    fixed = zoo.data.load((x, y), "all", spec=spec, drop_remainder=True)
    assert [len(b) for b in _batches(fixed)] == [32, 32] and fixed.element_spec[0].shape[0] == 32
    recipe_batch = zoo.get_spec("mlp_mnist").recipe.batch_size  # the default batch size
    expected = -(-70 // recipe_batch)
    assert zoo.data.load((x, y), "all", spec="mlp_mnist").cardinality() == expected


def test_float_images_in_unit_range_are_normalized_like_uint8():
    x, y = digit_like_images(16)
    spec = zoo.get_spec("cnn_mnist")
    from_uint8 = _batches(zoo.data.load((x, y), "all", spec=spec, shuffle=False))[0]
    from_float = _batches(zoo.data.load((x / 255.0, y), "all", spec=spec, shuffle=False))[0]
    np.testing.assert_allclose(from_float, from_uint8, atol=1e-6)


def test_cnn_trains_one_step_on_loaded_images():
    x, y = digit_like_images(64)
    spec = zoo.get_spec("cnn_mnist").with_overrides(batch_size=32)
    dataset = zoo.data.load((x, y), spec=spec)
    model = zoo.build("cnn_mnist")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_lstm_trains_one_step_on_loaded_text(tmp_path):
    source = write_sentiment_tsv(tmp_path / "train.tsv")
    spec = zoo.get_spec("lstm_sst2").with_overrides(batch_size=16, **SMALL_TEXT)
    train = zoo.data.load(source, spec=spec)
    validation = zoo.data.load(source, "validation", spec=spec, preprocessor=train.preprocessor)
    model = zoo.build("lstm_sst2", **SMALL_TEXT)
    history = model.fit(train, validation_data=validation, epochs=1, steps_per_epoch=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert train.class_names == ("negative", "positive")
    assert (train.num_examples, validation.num_examples) == (108, 12)


def test_text_validation_split_needs_the_training_preprocessor(tmp_path):
    source = write_sentiment_tsv(tmp_path / "train.tsv", repeats=2)
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=50, sequence_length=8)
    with pytest.raises(
        DataError, match=r"'validation' split is text.*pass preprocessor=train\.preprocessor"
    ):
        zoo.data.load(source, "validation", spec=spec)
    train = zoo.data.load(source, spec=spec)
    with pytest.raises(DataError, match="the preprocessor was made for"):
        zoo.data.load(source, "validation", spec="lstm_sst2", preprocessor=train.preprocessor)


def test_vocabulary_comes_from_the_training_split_only():
    texts = [f"common word{i}" for i in range(10)]
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=50, sequence_length=4)
    train = zoo.data.load((texts, [i % 2 for i in range(10)]), spec=spec, seed=0)
    validation = zoo.data.load(
        (texts, [i % 2 for i in range(10)]),
        "validation",
        spec=spec,
        seed=0,
        preprocessor=train.preprocessor,
    )
    held_out = np.random.default_rng(0).permutation(10)[0]  # the hold-out of 10% of 10, seed 0
    vocabulary = set(train.preprocessor.vocabulary)
    assert f"word{held_out}" not in vocabulary
    assert {f"word{i}" for i in range(10) if i != held_out} <= vocabulary
    ids, _ = next(iter(validation))
    assert ids.numpy().tolist() == [[train.preprocessor.vocabulary.index("common"), 1, 0, 0]]


def test_a_passed_fitted_preprocessor_is_reused_not_readapted(tmp_path):
    source = write_sentiment_tsv(tmp_path / "train.tsv", repeats=2)
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=50, sequence_length=8)
    fitted = zoo.data.make_preprocessor(spec).adapt(["only these words"])
    dataset = zoo.data.load(source, spec=spec, preprocessor=fitted)
    assert dataset.preprocessor is fitted and fitted.vocabulary == [
        "",
        "[UNK]",
        "words",
        "these",
        "only",
    ]


def _lengths_texts(count: int = 120, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts of 1 to 40 words (ids: word0 ... word39), labels alternating."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(f"word{j}" for j in range(rng.integers(1, 41))) for _ in range(count)]
    return texts, np.arange(count) % 2


def test_length_buckets_cut_padding_and_keep_every_example():
    texts, labels = _lengths_texts()
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=60, sequence_length=32, batch_size=8)
    plain = zoo.data.load((texts, labels), "all", spec=spec, shuffle=False)
    bucketed = zoo.data.load((texts, labels), "all", spec=spec, seed=3, bucket_by_length=True,
                             preprocessor=plain.preprocessor)

    batches = list(bucketed)
    assert len(batches) == int(bucketed.cardinality())  # known up front, for schedules
    assert {ids.shape[1] for ids, _ in batches} <= {8, 16, 32}
    assert all(len(ids) == 8 for ids, _ in batches[:-1])
    kept = 0
    for ids, _ in batches:
        lengths = (ids.numpy() != 0).sum(axis=1)
        bucket = ids.shape[1]
        # Each batch is cut to the smallest bucket that holds its longest text.
        assert lengths.max() <= bucket and (bucket == 8 or lengths.max() > bucket // 2)
        kept += lengths.sum()
    # Texts of similar length share a batch: far less padding than a plain 32-token batch.
    padding = 1 - kept / sum(ids.numpy().size for ids, _ in batches)
    assert padding < 0.25 < 1 - kept / (len(texts) * 32)
    # Same examples as the padded stream: trimmed ids re-padded to sequence_length match.
    padded = sorted(
        tuple(np.pad(row, (0, 32 - len(row))).tolist())
        for ids, _ in batches for row in ids.numpy()
    )
    assert padded == sorted(tuple(row.tolist()) for ids, _ in plain for row in ids.numpy())
    # Seeded: the same seed gives the same batches.
    again = zoo.data.load((texts, labels), "all", spec=spec, seed=3, bucket_by_length=True,
                          preprocessor=plain.preprocessor)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(batches, again, strict=True))


def test_length_buckets_with_drop_remainder_give_full_batches_only():
    texts, labels = _lengths_texts(100)
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=60, sequence_length=32, batch_size=8)
    bucketed = zoo.data.load((texts, labels), "all", spec=spec, bucket_by_length=True,
                             drop_remainder=True)
    sizes = [len(batch_labels) for _, batch_labels in bucketed]
    # 100 // 8: the 4 examples left over are dropped, and the cardinality says so up front.
    assert sizes == [8] * 12 and int(bucketed.cardinality()) == 12
    # Those left over are the last of the stream, not the longest: they were the longest of
    # the sorted chunk, so the same longest texts were never trained on, epoch after epoch.
    lengths = np.array([len(text.split()) for text in texts])
    in_order = zoo.data.load((texts, labels), "all", spec=spec, bucket_by_length=True,
                             drop_remainder=True, shuffle=False, preprocessor=bucketed.preprocessor)
    seen = sorted(int(n) for ids, _ in in_order for n in (ids.numpy() != 0).sum(axis=1))
    assert seen == sorted(np.minimum(lengths[:96], 32).tolist())
    assert max(seen) == 32 and np.minimum(lengths, 32)[-4:].tolist() != sorted(
        np.minimum(lengths, 32).tolist())[-4:]


def test_length_buckets_without_shuffle_go_short_to_long():
    # An unshuffled stream (evaluation) keeps the sorted order: 120 texts are one chunk of
    # 32 batches of 8, so the longest text of each batch only grows, batch after batch.
    texts, labels = _lengths_texts()
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=60, sequence_length=32, batch_size=8)
    bucketed = zoo.data.load((texts, labels), "all", spec=spec, shuffle=False,
                             bucket_by_length=True)
    longest = [int((ids.numpy() != 0).sum(axis=1).max()) for ids, _ in bucketed]
    assert len(longest) == 15 and longest == sorted(longest) and longest[0] < longest[-1]


def test_text_models_train_on_length_buckets(tmp_path):
    source = write_sentiment_tsv(tmp_path / "train.tsv")
    for name in zoo.list_models(task="text_classification", dataset="glue/sst2"):
        small = (
            {**SMALL_TEXT}
            if name.startswith("lstm")
            else {"vocab_size": 200, "sequence_length": 16}
        )
        spec = zoo.get_spec(name).with_overrides(batch_size=16, **small)
        train = zoo.data.load(source, spec=spec, bucket_by_length=True)
        history = zoo.build(name, **small).fit(train, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0]), name


def test_length_buckets_need_a_text_entry():
    images, labels = digit_like_images(20)
    with pytest.raises(
        zoo.InvalidValueError, match="bucket_by_length=True needs the spec of a text"
    ):
        zoo.data.load((images, labels), spec="cnn_mnist", bucket_by_length=True)
    # "no" is truthy: it bucketed (or, here, asked for a text entry) instead of refusing.
    with pytest.raises(zoo.InvalidValueError, match=r"bucket_by_length must be True or False"):
        zoo.data.load((images, labels), spec="cnn_mnist", bucket_by_length="no")


def test_augment_true_for_an_entry_without_augmentation_is_refused():
    x, y = digit_like_images(20)
    spec = zoo.get_spec("mlp_fashion_mnist")
    with pytest.raises(
        zoo.InvalidValueError,
        match=r"augment=True, but 'mlp_fashion_mnist' has no augmentation.*zoo\.Augmentation",
    ):
        zoo.data.load((x, y), spec=spec, augment=True)
    # Augmentation distorts images: asked of raw examples (no spec) or of texts, it is refused.
    for source, entry in (((x, y), None), ((["a fine film", "dull"] * 5, [1, 0] * 5),
                                           zoo.get_spec("lstm_sst2"))):
        with pytest.raises(zoo.InvalidValueError, match=r"augment=True needs the spec of an image "
                           r"entry: augmentation applies to images"):
            zoo.data.load(source, spec=entry, augment=True)


def test_drop_remainder_leaving_no_batch_is_refused():
    x, y = digit_like_images(6)
    with pytest.raises(
        DataError,
        match=r"drop_remainder=True with batch_size=32 leaves no batch: the split holds only 6 "
        r"examples.*batch_size of at most 6, or drop_remainder=False",
    ):
        zoo.data.load((x, y), "all", spec="mlp_mnist", batch_size=32, drop_remainder=True)
    # exactly one full batch is enough
    one = zoo.data.load((x, y), "all", spec="mlp_mnist", batch_size=6, drop_remainder=True,
                        shuffle=False)
    assert [len(b) for b in _batches(one)] == [6]


def test_cache_false_is_honoured_for_local_text(monkeypatch):
    import tensorflow as tf

    cached = []
    original = tf.data.Dataset.cache
    monkeypatch.setattr(
        tf.data.Dataset, "cache", lambda self, *a, **k: cached.append(1) or original(self, *a, **k)
    )
    texts, labels = ["a fine film", "a dull film"] * 4, [1, 0] * 4
    spec = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=20, sequence_length=4)
    zoo.data.load((texts, labels), "all", spec=spec, cache=False)
    assert cached == []
    zoo.data.load((texts, labels), "all", spec=spec)
    assert cached == [1]


def test_training_runs_map_validation_names_to_the_training_ids(tmp_path):
    from zoo.training.loop import load_run_data

    train_file, test_file = tmp_path / "train.csv", tmp_path / "test.csv"
    names = ["negative", "neutral", "positive"]
    train_file.write_text(
        "text,label\n" + "".join(f"text {i},{names[i % 3]}\n" for i in range(12))
    )
    test_file.write_text("text,label\nawful,negative\ngreat,positive\n")  # no 'neutral'
    spec = zoo.get_spec("lstm_sst2").with_overrides(
        num_classes=3, vocab_size=30, sequence_length=4, batch_size=4
    )
    train, validation = load_run_data(spec, str(train_file), str(test_file), 0, None)
    assert train.class_names == validation.class_names == tuple(names)
    assert [int(v) for _, batch in validation for v in batch] == [0, 2]
    # integer labels are not renumbered
    int_file = tmp_path / "ints.csv"
    int_file.write_text("text,label\nawful,0\ngreat,2\n")
    _, validation = load_run_data(spec, str(train_file), str(int_file), 0, None)
    assert [int(v) for _, batch in validation for v in batch] == [0, 2]


def test_what_integer_labels_stand_for_is_logged_once(tmp_path, caplog):
    data = write_sentiment_tsv(tmp_path / "reviews.tsv")  # labels 1 and 0
    spec = zoo.get_spec("lstm_sst2").with_overrides(**SMALL_TEXT)
    with caplog.at_level("INFO", logger="zoo.data"):
        train = zoo.data.load(data, split="train", spec=spec)
        zoo.data.load(data, split="validation", spec=spec, preprocessor=train.preprocessor)
    # Once: the hold-out is of the same source.
    assert caplog.messages == [
        "'reviews.tsv': labels are class ids, read as 0 = negative, 1 = positive"
    ]
    caplog.clear()
    with caplog.at_level("INFO", logger="zoo.data"):
        zoo.data.load(digit_like_images(20), split="train", spec=zoo.get_spec("mlp_mnist"))
        named = [("great", "pos"), ("dull", "neg")] * 10
        zoo.data.load((np.array([t for t, _ in named]), np.array([label for _, label in named])),
                      split="train", spec=spec.with_overrides(num_classes=2))
    assert caplog.messages == []  # digits named by their ids; labels that are names


def test_two_dataframes_are_told_apart_in_the_class_id_line(caplog):
    # zoo.train(name, frame, other_frame) logs one line for each; both were "the DataFrame".
    from zoo.training.loop import load_run_data

    spec = zoo.get_spec("lstm_sst2").with_overrides(**SMALL_TEXT)
    frame = pd.DataFrame({"sentence": ["good", "bad"] * 5, "label": [1, 0] * 5})
    with caplog.at_level("INFO", logger="zoo.data"):
        load_run_data(spec, frame, frame.iloc[:4], 0, None)
    assert caplog.messages == [
        "the DataFrame of 10 rows: labels are class ids, read as 0 = negative, 1 = positive",
        "the DataFrame of 4 rows: labels are class ids, read as 0 = negative, 1 = positive",
    ]


def test_integer_labels_short_of_the_models_classes_warn_for_training_only():
    x, y = digit_like_images(30, num_classes=3)  # labels 0-2 for a 10-class entry
    spec = zoo.get_spec("mlp_mnist")
    with pytest.warns(UserWarning, match=r"arrays of 30 examples: the labels are 0 to 2 "
                      r"\(3 classes\), but 'mlp_mnist' has 10: a model trained on them learns "
                      r"never to pick outputs 3 to 9\. For a model of 3 classes "
                      r".*--set num_classes=3"):
        zoo.data.load((x, y), split="train", spec=spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # A test set may lack classes (evaluation reads without shuffling), the hold-out is of a
        # source already checked as training data, and a 3-class model has all of them.
        zoo.data.load((x, y), split="all", spec=spec, shuffle=False)
        zoo.data.load((x, y), split="validation", spec=spec)
        zoo.data.load((x, y), split="train", spec=spec.with_overrides(num_classes=3))
    with pytest.warns(UserWarning, match=r"arrays of \d+ examples: the labels go up to 8 "
                      r"\(3 of ids 0 to 8 occur\), but 'mlp_mnist' has 10: .* never to pick "
                      r"output 9\."):
        zoo.data.load((x, np.array([3, 8, 1])[y]), split="train", spec=spec)
    # One class, whichever: said as such (for 7 it advised a model of 8 classes).
    for label in (0, 7):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            zoo.data.load((x, np.full_like(y, label)), split="train", spec=spec)
        assert [str(w.message).split(": ", 1)[1] for w in caught] == [
            f"every example is of one class, '{label}': a model trained on them learns to pick "
            f"it whatever the input. Check the labels (a folder of class folders needs one "
            f"sub-folder per class)."]
    with pytest.warns(UserWarning, match=r"every example is of one class, 'dog'"):  # named
        zoo.data.load((x, np.ones_like(y)), split="train", class_names=["cat", "dog"],
                      spec=spec.with_overrides(num_classes=2))
    texts = pd.DataFrame({"sentence": ["good", "fine"] * 10, "label": ["positive"] * 20})
    with pytest.warns(UserWarning, match=r"every example is of one class, 'positive'"):
        zoo.data.load(texts, split="train", spec="lstm_sst2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # evaluation data may hold one class
        zoo.data.load(texts, split="all", spec="lstm_sst2", shuffle=False,
                      preprocessor=zoo.data.make_preprocessor(zoo.get_spec("lstm_sst2")).adapt(
                          texts["sentence"]))
