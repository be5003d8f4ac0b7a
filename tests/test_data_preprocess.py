"""Preprocessor (vocabulary save/restore, normalization) and the image layers it is built on."""

import json
import warnings
from dataclasses import replace

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from helpers import NEGATIVE, POSITIVE

import zoo
from zoo.data import ImageNormalization, Preprocessor, RandomAffine, make_preprocessor
from zoo.errors import DataError

TEXTS = POSITIVE + NEGATIVE
TEXT_SPEC = zoo.get_spec("lstm_sst2").with_overrides(vocab_size=30, sequence_length=8)


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.utils.clear_session()


def test_vocabulary_save_and_restore_gives_identical_ids(tmp_path):
    fitted = make_preprocessor(TEXT_SPEC).adapt(TEXTS)
    probe = TEXTS + ["words never seen before", "", 'a "quoted" film !']
    directory = fitted.save(tmp_path / "run" / "preprocessor")
    assert [p.name for p in directory.iterdir()] == ["preprocessor.json"]
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["preprocessor"]  # no temp leftovers

    restored = Preprocessor.load(directory, TEXT_SPEC)
    assert restored.fitted and restored.vocabulary == fitted.vocabulary
    # An entry's name serves as its spec (the "no fitted preprocessor" hint suggests
    # Preprocessor.load(workdir / 'preprocessor', spec)); here the name's own sizes differ.
    saved_for_entry = make_preprocessor("lstm_sst2").adapt(TEXTS).save(tmp_path / "entry")
    assert Preprocessor.load(saved_for_entry, "lstm_sst2").spec == zoo.get_spec("lstm_sst2")
    with pytest.raises(zoo.InvalidValueError, match="got int 7"):
        Preprocessor.load(saved_for_entry, 7)
    with pytest.raises(zoo.InvalidValueError, match="a Preprocessor needs the spec"):
        Preprocessor(None)
    assert len(fitted.vocabulary) == 30  # capped at vocab_size, padding and [UNK] included
    np.testing.assert_array_equal(restored(probe).numpy(), fitted(probe).numpy())
    assert restored(probe).dtype == tf.int32 and restored(probe).shape == (len(probe), 8)

    fitted.save(directory)  # saving again over an existing directory replaces the file
    assert (
        json.loads((directory / "preprocessor.json").read_text())["vocabulary"] == fitted.vocabulary
    )


def test_saving_onto_a_file_or_failing_midway_leaves_nothing_behind(tmp_path, monkeypatch):
    fitted = make_preprocessor(TEXT_SPEC).adapt(TEXTS)
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(zoo.InvalidValueError, match=r"cannot save the preprocessor into .*taken: "
                       r"it is a file, not a directory"):
        fitted.save(tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "a file"

    def full_disk(path, payload):
        raise OSError("No space left on device")

    # A write that fails in the new directory: the error comes through, and neither the target
    # nor the half-filled staging directory beside it is left.
    monkeypatch.setattr("zoo.data.preprocess.atomic_write_json", full_disk)
    with pytest.raises(OSError, match="No space left"):
        fitted.save(tmp_path / "run" / "preprocessor")
    assert list((tmp_path / "run").iterdir()) == []


def test_restored_vocabulary_feeds_a_loaded_dataset(tmp_path):
    train = zoo.data.load((TEXTS, [1] * 5 + [0] * 5), spec=TEXT_SPEC, validation_fraction=0.2)
    train.preprocessor.save(tmp_path / "preprocessor")
    restored = Preprocessor.load(tmp_path / "preprocessor", TEXT_SPEC)
    source = (TEXTS, [1] * 5 + [0] * 5)
    first = zoo.data.load(
        source,
        "validation",
        spec=TEXT_SPEC,
        validation_fraction=0.2,
        preprocessor=train.preprocessor,
    )
    second = zoo.data.load(
        source, "validation", spec=TEXT_SPEC, validation_fraction=0.2, preprocessor=restored
    )
    np.testing.assert_array_equal(next(iter(first))[0].numpy(), next(iter(second))[0].numpy())


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="no preprocessor.json in .*Preprocessor.save"):
        Preprocessor.load(tmp_path / "nothing", TEXT_SPEC)
    make_preprocessor(TEXT_SPEC).adapt(TEXTS).save(tmp_path / "text")
    with pytest.raises(
        DataError, match=r"saved for text input .*'vocab_size': 30.* expects .*'vocab_size': 15000"
    ):
        Preprocessor.load(tmp_path / "text", zoo.get_spec("lstm_sst2"))
    # Another standardization splits text into other words: the same ids would mean other words.
    lower = replace(TEXT_SPEC, input=replace(TEXT_SPEC.input, standardize="lower"))
    with pytest.raises(DataError, match=r"saved for text input .*'standardize': "
                       r"'lower_and_strip_punctuation'.* expects .*'standardize': 'lower'"):
        Preprocessor.load(tmp_path / "text", lower)
    with pytest.raises(DataError, match="holds a text preprocessor, but 'cnn_mnist' takes image"):
        Preprocessor.load(tmp_path / "text", zoo.get_spec("cnn_mnist"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "preprocessor.json").write_text("{not json")
    with pytest.raises(DataError, match="could not read .*preprocessor.json"):
        Preprocessor.load(tmp_path / "broken", TEXT_SPEC)
    # Valid JSON of another shape (a list, another format number) is not read as a vocabulary.
    for content in ("[]", '{"format": 0, "kind": "text"}'):
        (tmp_path / "broken" / "preprocessor.json").write_text(content)
        with pytest.raises(DataError, match=r"preprocessor\.json is not a zoo preprocessor file "
                           r"\(format 1\); save it again"):
            Preprocessor.load(tmp_path / "broken", TEXT_SPEC)


def test_unfitted_text_preprocessor_refuses_to_work(tmp_path):
    empty = make_preprocessor(TEXT_SPEC)
    assert not empty.fitted
    assert repr(empty) == "Preprocessor('lstm_sst2', text, not fitted)"
    fitted = make_preprocessor(TEXT_SPEC).adapt(TEXTS)
    assert repr(fitted) == "Preprocessor('lstm_sst2', text, fitted)"
    for action in (
        lambda: empty(["a film"]),
        lambda: empty.save(tmp_path / "p"),
        lambda: empty.vocabulary,
    ):
        with pytest.raises(
            DataError, match="has no vocabulary yet; adapt it on training texts first"
        ):
            action()
    assert not (tmp_path / "p").exists()


def test_texts_longer_than_the_model_reads_are_reported(caplog):
    # Tokens as the layer counts them: punctuation goes, so "a wonderful , moving film" is 4.
    texts = ["one two three", "a wonderful , moving film", "four five six seven eight nine"]
    spec = TEXT_SPEC.with_overrides(sequence_length=4)
    with caplog.at_level("INFO", logger="zoo.data"):
        make_preprocessor(spec).adapt(texts)  # one of three is cut: logged, not warned
    assert caplog.messages == ["'lstm_sst2' reads the first 4 tokens of a text: 1 of 3 training "
                               "texts (33%) are longer (up to 6 tokens) and are cut."]

    with pytest.warns(UserWarning, match=r"^2 of 3 training texts \(67%\) are longer than the 3 "
                                         r"tokens 'lstm_sst2' reads \(median 4, longest 6\).*"
                                         r"--set sequence_length=N\); N=6 keeps 90%"):
        make_preprocessor(TEXT_SPEC.with_overrides(sequence_length=3)).adapt(texts)
    caplog.clear()
    with warnings.catch_warnings(), caplog.at_level("INFO", logger="zoo.data"):
        warnings.simplefilter("error")
        make_preprocessor(TEXT_SPEC.with_overrides(sequence_length=6)).adapt(texts)
    assert caplog.messages == []  # none is cut: nothing to say


def test_one_long_text_does_not_pad_every_row_in_memory():
    # astype(str) padded every text to the longest at 4 bytes a character: one 20,000-character
    # text among 1,000 short ones took 80 MB per copy (8.5 GB at 40,000 rows and 28k characters).
    import tracemalloc

    texts = [f"a fine film number {i}" for i in range(1000)] + ["word " * 4000]
    frame = pd.DataFrame({"sentence": texts, "label": [i % 2 for i in range(len(texts))]})
    tracemalloc.start()
    try:
        dataset = zoo.data.load(frame, "train", spec=TEXT_SPEC, batch_size=64)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"{peak / 1e6:.0f} MB"
    assert sum(int(labels.shape[0]) for _, labels in dataset) == 901  # every row still there


def test_text_preprocessor_runs_in_a_serving_function():
    fitted = make_preprocessor(TEXT_SPEC).adapt(TEXTS)
    serve = tf.function(
        lambda texts: fitted(texts), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    np.testing.assert_array_equal(serve(tf.constant(TEXTS[:2])).numpy(), fitted(TEXTS[:2]).numpy())


def test_image_preprocessor_normalizes_and_round_trips(tmp_path):
    spec = zoo.get_spec("cnn_cifar10")
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    expected = (images / 255.0 - np.array(spec.input.mean)) / np.array(spec.input.std)
    preprocessor = make_preprocessor(spec)
    assert preprocessor.fitted and preprocessor.kind == "image"
    np.testing.assert_allclose(preprocessor(images).numpy(), expected, atol=1e-5)
    restored = Preprocessor.load(preprocessor.save(tmp_path / "image"), spec)
    np.testing.assert_array_equal(restored(images).numpy(), preprocessor(images).numpy())


def test_an_image_preprocessor_takes_no_vocabulary_and_has_nothing_to_adapt():
    spec = zoo.get_spec("cnn_mnist")
    with pytest.raises(zoo.InvalidValueError, match="'cnn_mnist' takes images: a vocabulary has "
                       "no use"):
        Preprocessor(spec, vocabulary=["", "[UNK]", "film"])
    images = make_preprocessor(spec)
    with pytest.raises(zoo.InvalidValueError, match="vocabulary exists for text preprocessors "
                       "only; this one is for images"):
        _ = images.vocabulary
    pixels = np.full((2, 28, 28, 1), 255, np.uint8)
    before = images(pixels).numpy()
    assert images.adapt(["some", "texts"]) is images  # images have nothing to adapt
    np.testing.assert_array_equal(images(pixels).numpy(), before)
    # A text preprocessor makes token ids, not what an image model takes.
    assert not make_preprocessor(TEXT_SPEC).compatible_with(spec)
    with pytest.raises(DataError, match=r"the preprocessor was made for 'lstm_sst2' .*which "
                       r"differs from what 'cnn_mnist' takes"):
        zoo.data.load((pixels, [0, 1]), "all", spec=spec,
                      preprocessor=make_preprocessor(TEXT_SPEC).adapt(TEXTS))


def test_training_texts_without_a_single_word_are_refused():
    # Texts that standardize to nothing left the vocabulary table empty: adapt and load returned,
    # and the first batch failed in TensorFlow with "Table not initialized".
    preprocessor = make_preprocessor(TEXT_SPEC)
    with pytest.raises(DataError, match=r"'lstm_sst2': no training text holds a word once "
                       r"standardized \('lower_and_strip_punctuation'\).*text_column="):
        preprocessor.adapt(["!!", "...", "« ? »"])
    assert not preprocessor.fitted
    with pytest.raises(DataError, match="no training text holds a word"):
        zoo.data.load((["!!", "?"] * 3, [0, 1] * 3), spec=TEXT_SPEC)
    # One word is enough for a vocabulary.
    assert make_preprocessor(TEXT_SPEC).adapt(["!!", "film ?"]).vocabulary == ["", "[UNK]", "film"]


@pytest.mark.parametrize("change", [{"mean": (0.5,)}, {"std": (0.5,)}])
def test_an_image_preprocessor_for_another_normalization_is_refused(change):
    spec = zoo.get_spec("cnn_mnist")
    other = replace(spec, input=replace(spec.input, **change))
    preprocessor = make_preprocessor(spec)
    assert preprocessor.compatible_with(spec) and not preprocessor.compatible_with(other)
    images = np.zeros((4, 28, 28), np.uint8), np.arange(4)
    with pytest.raises(DataError, match=r"the preprocessor was made for 'cnn_mnist' .*which "
                       r"differs from what"):
        zoo.data.load(images, "all", spec=other, preprocessor=preprocessor)


def test_normalization_layer_saves_inside_a_model(tmp_path):
    inputs = keras.Input((28, 28, 1), dtype="uint8")
    model = keras.Model(inputs, ImageNormalization(mean=(0.1307,), std=(0.3081,))(inputs))
    model.save(tmp_path / "normalize.keras")
    reloaded = keras.saving.load_model(tmp_path / "normalize.keras")
    images = np.full((1, 28, 28, 1), 255, np.uint8)
    np.testing.assert_allclose(
        reloaded.predict(images, verbose=0), (1 - 0.1307) / 0.3081, rtol=1e-6
    )


def _images(count=8, size=16):
    return np.random.default_rng(1).random((count, size, size, 1)).astype(np.float32)


def test_random_affine_identity_when_nothing_is_asked_or_not_training():
    images = _images()
    np.testing.assert_allclose(
        RandomAffine()(images, seed=tf.constant([1, 2], tf.int64)), images, atol=1e-6
    )
    layer = RandomAffine(rotation=0.2, zoom=0.2, translation=0.2, horizontal_flip=True)
    np.testing.assert_array_equal(layer(images, training=False), images)


def test_random_affine_flip_mirrors_exactly_and_is_seeded():
    images = _images(32)
    layer = RandomAffine(horizontal_flip=True)
    seed = tf.constant([3, 4], tf.int64)
    flipped = layer(images, seed=seed).numpy()
    mirrored = np.isclose(flipped, images[:, :, ::-1], atol=1e-6).all(axis=(1, 2, 3))
    unchanged = np.isclose(flipped, images, atol=1e-6).all(axis=(1, 2, 3))
    assert (mirrored | unchanged).all() and 0 < mirrored.sum() < 32
    np.testing.assert_array_equal(layer(images, seed=seed), flipped)
    assert not np.array_equal(layer(images, seed=tf.constant([5, 6], tf.int64)), flipped)


def test_random_affine_translation_moves_content_within_bounds():
    image = np.zeros((1, 20, 20, 1), np.float32)
    image[0, 8:12, 8:12] = 1.0  # a bright square in the middle
    layer = RandomAffine(translation=0.2)
    shifted = [
        layer(image, seed=tf.constant([i, 0], tf.int64)).numpy()[0, ..., 0] for i in range(8)
    ]
    centres = [np.argwhere(s > 0.5).mean(axis=0) for s in shifted]
    assert all(np.abs(c - 9.5).max() <= 4.0 + 1e-6 for c in centres)  # at most 20% of 20 pixels
    assert len({tuple(np.round(c, 1)) for c in centres}) > 4


# The statistical tests below warp one batch of copies: each image of a batch draws its own warp,
# so one fixed seed gives many draws at once (deterministic, and a fraction of a second).


def _bar_angles(images: np.ndarray) -> np.ndarray:
    """The angle in degrees (0-90) of each image's bright bar to the horizontal, from the
    principal axis of its pixels weighted by brightness."""
    angles = []
    for image in images[..., 0]:
        ys, xs = np.nonzero(image > 0.3)
        weights = image[ys, xs]
        centred = np.stack([xs - np.average(xs, weights=weights),
                            ys - np.average(ys, weights=weights)])
        axis = np.linalg.eigh(np.cov(centred, aweights=weights))[1][:, -1]
        angle = np.degrees(np.arctan2(axis[1], axis[0])) % 180
        angles.append(min(angle, 180 - angle))
    return np.array(angles)


def test_random_affine_rotation_is_a_fraction_of_a_full_turn():
    # rotation=0.1 turns up to 0.1 * 360 = 36 degrees either way, as keras.layers.RandomRotation.
    bars = np.zeros((200, 41, 41, 1), np.float32)
    bars[:, 20, 5:36] = 1.0  # a horizontal bar through the centre
    turned = RandomAffine(rotation=0.1)(bars, seed=tf.constant([0, 0], tf.int64)).numpy()
    angles = _bar_angles(turned)
    # 200 draws: the largest is near 36 (35.3 here); half a turn's fraction would stop at 18.
    assert 30.0 < angles.max() <= 36.5


@pytest.mark.parametrize("options, fill_value", [({}, 0.0), ({"fill_value": 0.5}, 0.5)],
                         ids=["default", "fill_value"])
def test_random_affine_fills_what_comes_from_outside_with_the_fill_value(options, fill_value):
    # Constant fill, black by default, not "nearest": edge pixels repeated into the gap would
    # invent content.
    ones = np.ones((8, 20, 20, 1), np.float32)
    shifted = RandomAffine(translation=0.3, **options)(
        ones, seed=tf.constant([1, 2], tf.int64)).numpy()
    assert shifted.min() == pytest.approx(fill_value) and shifted.max() == pytest.approx(1.0)


def test_random_affine_shifts_by_a_fraction_of_the_width_across_and_the_height_down():
    # A non-square image: 11 rows, 101 columns. translation=0.2 moves a dot up to 20 columns
    # (0.2 of the width) and up to 2.2 rows (0.2 of the height), never by the other side's share.
    dots = np.zeros((100, 11, 101, 1), np.float32)
    dots[:, 5, 50] = 1.0
    moved = RandomAffine(translation=0.2)(dots, seed=tf.constant([0, 1], tf.int64)).numpy()
    rows, columns = np.unravel_index(moved[..., 0].reshape(100, -1).argmax(axis=1), (11, 101))
    assert (moved.max(axis=(1, 2, 3)) > 0).all()  # never pushed out of the image
    assert 10 < np.abs(columns - 50).max() <= 20
    assert np.abs(rows - 5).max() <= 3


def test_random_affine_zoom_scales_the_area_both_ways():
    # zoom=0.3: scale in [0.7, 1.3] on both axes, so a square's area is 1/1.69 to 1/0.49 of its
    # own (0.59 to 2.04).
    squares = np.zeros((50, 40, 40, 1), np.float32)
    squares[:, 15:25, 15:25] = 1.0
    zoomed = RandomAffine(zoom=0.3)(squares, seed=tf.constant([0, 2], tf.int64)).numpy()
    areas = zoomed.sum(axis=(1, 2, 3)) / 100.0
    assert 0.5 < areas.min() < 0.8 and 1.5 < areas.max() < 2.2


def test_random_affine_config_round_trip():
    layer = RandomAffine(rotation=0.03, zoom=0.1, translation=0.1, horizontal_flip=True,
                         fill_mode="reflect", fill_value=0.25, interpolation="nearest", seed=7)
    clone = RandomAffine.from_config(layer.get_config())
    # Every field other than its default, so a field get_config leaves out shows here.
    fields = ("rotation", "zoom", "translation", "horizontal_flip", "fill_mode", "fill_value",
              "interpolation", "seed")
    assert {field: getattr(clone, field) for field in fields} == {
        "rotation": 0.03, "zoom": 0.1, "translation": 0.1, "horizontal_flip": True,
        "fill_mode": "reflect", "fill_value": 0.25, "interpolation": "nearest", "seed": 7}
    images = _images()
    seed = tf.constant([3, 4], tf.int64)
    np.testing.assert_array_equal(clone(images, seed=seed), layer(images, seed=seed))
    assert keras.saving.get_registered_name(RandomAffine) == "zoo>RandomAffine"


def test_random_affine_without_a_seed_draws_from_its_own_seeded_stream():
    # Called as a Keras layer is (no seed argument): each call draws new warps, in a sequence
    # fixed by the layer's seed.
    images = _images(16)
    first, second = RandomAffine(rotation=0.2, seed=7), RandomAffine(rotation=0.2, seed=7)
    draws = [first(images).numpy(), first(images).numpy()]
    assert not np.allclose(draws[0], draws[1]) and not np.allclose(draws[0], images)
    np.testing.assert_array_equal(second(images), draws[0])
    np.testing.assert_array_equal(second(images), draws[1])
    # In a functional model it keeps the shape of what it is given.
    assert first(keras.Input((20, 30, 3))).shape == (None, 20, 30, 3)


def test_unknown_standardize_name_is_refused_with_the_choices():
    from zoo.spec import TextInput

    with pytest.raises(zoo.InvalidValueError, match="standardize must be one of .*'lower'"):
        TextInput(standardize="lowercase")


@pytest.mark.parametrize(
    ("standardize", "text", "words"),
    [
        ("lower_and_strip_punctuation", "« ÉCOLE » d'été — “Straße”…", ["école", "dété", "straße"]),
        ("lower", "ÉCOLE, Été!", ["école,", "été!"]),
        ("strip_punctuation", "ÉCOLE, Été! 😀", ["ÉCOLE", "Été", "😀"]),
    ],
)
def test_standardization_folds_every_script_and_unicode_punctuation(tmp_path, standardize, text,
                                                                    words):
    from zoo.data.text import STANDARDIZE_FUNCTIONS

    assert STANDARDIZE_FUNCTIONS[standardize](text).numpy().decode().split() == words
    spec = replace(TEXT_SPEC, input=replace(TEXT_SPEC.input, standardize=standardize))
    layer = make_preprocessor(spec).adapt([text]).layer
    assert sorted(layer.get_vocabulary()[2:]) == sorted(words)
    # A Keras model holding the layer saves and loads as a .keras file, with the same ids.
    model = keras.Sequential([keras.Input((), dtype="string"), layer])
    model.save(tmp_path / "vectorizer.keras")
    reloaded = keras.models.load_model(tmp_path / "vectorizer.keras")
    np.testing.assert_array_equal(reloaded(tf.constant([text])), model(tf.constant([text])))
    # zoo's safety check reads the registered function by name, not as Python code.
    from zoo.serving.safety import inspect_keras_archive

    inspect_keras_archive(tmp_path / "vectorizer.keras")


def test_upper_and_lower_case_of_any_script_are_one_word():
    fitted = make_preprocessor(TEXT_SPEC).adapt(["ÉCOLE école Été été"])
    assert fitted.vocabulary[2:] == ["été", "école"]
    ids = fitted(["ÉCOLE", "école", "Été"]).numpy()[:, 0]
    assert ids[0] == ids[1] != ids[2] and 1 not in ids


def test_a_vocabulary_from_ascii_only_lowering_is_refused_on_load(tmp_path):
    fitted = make_preprocessor(TEXT_SPEC).adapt(["école été"])
    directory = fitted.save(tmp_path / "preprocessor")
    file = directory / "preprocessor.json"
    config = json.loads(file.read_text())
    config["vocabulary"] += ["École", "«"]  # what Keras' ASCII-only standardization kept
    file.write_text(json.dumps(config))
    with pytest.raises(DataError, match=r"no longer produces, such as \['École', '«'\].*Fit it"):
        Preprocessor.load(directory, TEXT_SPEC)
    from zoo.data.text import words_standardization_changes

    # No words, no check: a batch of no strings would be a float tensor to TensorFlow.
    assert words_standardization_changes([], "lower_and_strip_punctuation") == []
