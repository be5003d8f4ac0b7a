"""Fitting images to a model's input shape (`Recipe.resize_images`): photos of many sizes and
colour modes train, evaluate, export and predict; without it they are refused, naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.cli import main
from zoo.data.resizing import fit_images
from zoo.errors import DataError, InvalidValueError

IMAGE_ENTRIES = [name for name in zoo.list_models() if zoo.get_spec(name).input.kind == "image"]

# (height, width, channels) of the photos: grayscale, RGB and RGBA, none of an entry's size.
PHOTO_SHAPES = [(40, 52, 3), (24, 20, 1), (33, 33, 4), (64, 48, 3)]


def write_photos(root: Path, per_class: int = 8, classes: tuple[str, ...] = ("dark", "light"),
                 ) -> Path:
    """A folder of class folders whose PNG and JPEG files come in PHOTO_SHAPES, in turn;
    "dark" photos are dark and "light" ones light, so a model can learn them apart."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for index in range(per_class):
            shape = PHOTO_SHAPES[index % len(PHOTO_SHAPES)]
            low = 0 if label == 0 else 170
            pixels = rng.integers(low, low + 80, shape).astype(np.uint8)
            if shape[2] == 4:
                pixels[..., 3] = 255  # opaque
            jpeg = index % 2 == 0 and shape[2] != 4  # JPEG has no alpha channel
            data = tf.io.encode_jpeg(pixels) if jpeg else tf.io.encode_png(pixels)
            (root / name / f"{index}.{'jpg' if jpeg else 'png'}").write_bytes(data.numpy())
    return root


# ---- fit_images ---------------------------------------------------------------------------------


def test_images_of_the_shape_come_back_unchanged():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    assert fit_images(images, (28, 28, 1)) is images


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("target", [1, 3])
def test_a_flat_colour_keeps_its_value_through_any_conversion(channels, target):
    # Grey 120 with an opaque alpha: the same grey in any size and colour mode. Bilinear with
    # antialiasing averages neighbours, so a flat image has nothing to blur.
    image = np.full((37, 53, channels), 120, np.uint8)
    fitted = fit_images(image, (16, 16, target))
    assert fitted.shape == (16, 16, target) and fitted.dtype == np.uint8
    assert np.all(fitted == 120)


def test_rgb_becomes_grayscale_by_luma_and_grayscale_is_repeated_to_rgb():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 255  # pure red: luma 0.299 * 255
    assert fit_images(rgb, (2, 2, 1)).ravel().tolist() == [76] * 4
    expected = tf.image.rgb_to_grayscale(rgb).numpy()  # TensorFlow's weights agree
    assert np.abs(fit_images(rgb, (2, 2, 1)).astype(int) - expected).max() <= 1
    gray = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    assert np.array_equal(fit_images(gray, (2, 2, 3)), np.repeat(gray, 3, axis=-1))


def test_the_alpha_channel_is_dropped_not_mixed_in():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 2] = 200  # blue, fully transparent
    assert fit_images(rgba, (4, 4, 3))[..., 2].tolist() == [[200] * 4] * 4
    assert fit_images(rgba, (4, 4, 3))[..., :2].max() == 0


def test_shrinking_averages_instead_of_aliasing():
    # A one-pixel checkerboard shrunk 7x: antialiasing gives its mean grey; plain bilinear
    # samples land on single pixels (an odd factor) and give black or white.
    board = (np.indices((63, 63)).sum(axis=0) % 2 * 255).astype(np.uint8)[..., None]
    fitted = fit_images(board, (9, 9, 1))
    assert np.abs(fitted.astype(int) - 128).max() <= 2


def test_a_batch_is_fitted_and_float_images_keep_their_dtype_and_scale():
    floats = np.random.default_rng(0).random((5, 30, 30, 3)).astype(np.float32)
    fitted = fit_images(floats, (28, 28, 1))
    assert fitted.shape == (5, 28, 28, 1) and fitted.dtype == np.float32
    assert 0.0 <= fitted.min() and fitted.max() <= 1.0


@pytest.mark.parametrize(("shape", "target", "message"), [
    ((4, 4, 5), (4, 4, 3), "cannot convert images of 5 channels to 3"),
    ((0, 4, 3), (4, 4, 3), "cannot resize images of shape (0, 4, 3): they have no pixels"),
    ((4, 4, 3), (4, 4, 4), "cannot convert images of 3 channels to 4"),
    ((4, 4), (4, 4, 1), "cannot resize an array of shape (4, 4)"),
])
def test_what_cannot_be_fitted_is_refused_with_the_shapes(shape, target, message):
    with pytest.raises(DataError, match=rf"^{message.replace('(', '[(]').replace(')', '[)]')}"):
        fit_images(np.zeros(shape, np.uint8), target)


# ---- reading data with resize_images ------------------------------------------------------------


@pytest.mark.parametrize("name", IMAGE_ENTRIES)
def test_every_image_entry_reads_a_folder_of_photos_in_its_input_shape(name, tmp_path):
    photos = write_photos(tmp_path / "photos", per_class=4)
    spec = zoo.get_spec(name).with_overrides(num_classes=2)
    dataset = zoo.data.load(photos, "all", spec=spec, resize_images=True, shuffle=False)
    images, labels = next(iter(dataset.unbatch().batch(100)))
    assert tuple(images.shape) == (8, *spec.input.shape)
    assert labels.numpy().tolist() == [0] * 4 + [1] * 4
    assert dataset.class_names == ("dark", "light")


def test_without_resize_images_mixed_photos_are_refused_naming_it(tmp_path):
    photos = write_photos(tmp_path / "photos", per_class=4)
    with pytest.raises(DataError, match="differ in shape") as raised:
        zoo.data.load(photos, spec="cnn_cifar10")
    assert "resize_images=True (command line: --set resize_images=true)" in str(raised.value)


def test_an_alpha_channel_among_rgb_images_is_named(tmp_path):
    for name, shape in (("a", (8, 8, 3)), ("b", (8, 8, 4))):
        (tmp_path / "x").mkdir(exist_ok=True)
        (tmp_path / "x" / f"{name}.png").write_bytes(
            tf.io.encode_png(np.zeros(shape, np.uint8)).numpy())
    with pytest.raises(DataError, match="drop the alpha channel"):
        zoo.data.read_source(tmp_path)


def test_arrays_of_another_size_are_fitted_and_the_refusal_names_the_option():
    x = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    y = np.arange(20) % 10
    with pytest.raises(DataError, match=r"or let zoo fit them to \(28, 28, 1\) as it reads them"):
        zoo.data.load((x, y), spec="cnn_mnist")
    dataset = zoo.data.load((x, y), "all", spec="cnn_mnist", resize_images=True)
    assert tuple(dataset.element_spec[0].shape) == (None, 28, 28, 1)


def test_a_tfds_shape_mismatch_does_not_offer_resize_images():
    # TFDS datasets are not resized: the catalog's check (before TFDS is touched) says so by
    # not offering it.
    spec = zoo.get_spec("cnn_mnist").with_overrides(input_shape=(32, 32, 1))
    with pytest.raises(DataError, match="expects images of shape") as raised:
        zoo.data.load("mnist", "test", spec=spec)
    assert "resize_images" not in str(raised.value)


def test_resize_images_given_for_a_tfds_dataset_is_said_not_to_apply(caplog):
    # Asked for, and ignored without a word before the shape refusal (a user test).
    spec = zoo.get_spec("cnn_mnist").with_overrides(input_shape=(32, 32, 1))
    with caplog.at_level("WARNING", logger="zoo"), pytest.raises(DataError):
        zoo.data.load("mnist", "test", spec=spec, resize_images=True)
    assert ("resize_images=True is not applied to the TFDS dataset 'mnist': its images are read "
            "as TFDS stores them (the option fits the images of local sources).") in caplog.text


def test_a_list_of_images_of_several_sizes_is_fitted_one_by_one():
    photos = [np.zeros((50, 40, 3), np.uint8), np.full((9, 9), 255, np.uint8)]
    dataset = zoo.data.load((photos, [0, 1]), "all", spec="cnn_cifar10", resize_images=True,
                            shuffle=False, augment=False)
    images = next(iter(dataset))[0].numpy()
    assert images.shape == (2, 32, 32, 3) and images[0].max() < images[1].min()
    with pytest.raises(DataError, match="Or train with resize_images=True"):
        zoo.data.load((photos, [0, 1]), spec="cnn_cifar10")
    with pytest.raises(DataError, match=r"image 1: integer pixels must lie in \[0, 255\]"):
        zoo.data.load(([photos[0], np.full((9, 9), 300)], [0, 1]), spec="cnn_cifar10",
                      resize_images=True)


def test_a_trained_model_reading_photos_of_several_sizes_is_told_what_fits_them(tmp_path,
                                                                                capsys):
    # Training advice ("train with resize_images=True") is no fix for a model trained already.
    photos = write_photos(tmp_path / "photos", per_class=4)
    export = zoo.export(zoo.build("mlp_mnist", num_classes=2), tmp_path / "export",
                        class_names=["dark", "light"])
    for score in (lambda: zoo.evaluate(export, photos), lambda: zoo.load(export).evaluate(photos)):
        with pytest.raises(DataError, match="differ in shape") as raised:
            score()
        assert "A model trained with resize_images=True fits images itself when loaded from its " \
               "workdir or export (a .keras file does not record it)." in str(raised.value)
        assert "Or train with" not in str(raised.value)
    assert main(["predict", str(export), str(photos)]) == 2
    assert "fits images itself when loaded from its workdir" in capsys.readouterr().err


def test_resize_images_is_for_image_entries_only():
    with pytest.raises(InvalidValueError, match="'lstm_sst2' reads text; leave resize_images"):
        zoo.get_spec("lstm_sst2").with_overrides(resize_images=True)
    with pytest.raises(InvalidValueError, match="needs the spec of an image entry"):
        zoo.data.load((np.zeros((4, 8, 8), np.uint8), [0, 1, 0, 1]), resize_images=True)
    with pytest.raises(InvalidValueError, match=r"takes 4 channels \(input_shape=\(32, 32, 4\)\)"):
        zoo.get_spec("cnn_cifar10").with_overrides(input_shape=(32, 32, 4), resize_images=True)
    with pytest.raises(InvalidValueError, match="resize_images must be True or False"):
        zoo.get_spec("cnn_mnist").with_overrides(resize_images="yes")


# ---- a model trained so: evaluation, export and prediction fit photos too ------------------------


def test_a_model_trained_on_photos_evaluates_exports_and_predicts_photos(tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", per_class=16)
    new = write_photos(tmp_path / "new", per_class=4)
    result = zoo.train("cnn_mnist", photos, resize_images=True, num_classes=2, epochs=4,
                       batch_size=8, workdir=tmp_path / "run", seed=1)
    assert result.spec.recipe.resize_images
    assert zoo.evaluate(tmp_path / "run", new).accuracy == 1.0  # dark vs light is easy
    export = zoo.export(result, tmp_path / "export")
    for source in (tmp_path / "run", export):
        predictor = zoo.load(source)
        assert predictor.resize_images
        photos_of_two_sizes = [np.zeros((50, 40, 3), np.uint8), np.full((9, 9), 255, np.uint8)]
        assert predictor.predict(photos_of_two_sizes).label.tolist() == ["dark", "light"]
        assert predictor.evaluate(new).accuracy == 1.0
    assert main(["predict", str(export), str(new)]) == 0
    printed = capsys.readouterr().out
    assert "dark/0.jpg" in printed and "light/3.png" in printed


def test_a_search_reads_photos_with_resize_images(tmp_path):
    photos = write_photos(tmp_path / "photos", per_class=6)
    result = zoo.tune("cnn_mnist", photos, resize_images=True, num_classes=2, max_trials=1,
                      epochs=1, directory=tmp_path / "search", tuner="random")
    assert result.trials["status"].tolist() == ["COMPLETED"]
    assert result.best_overrides["resize_images"] is True
    assert result.best_model().input_shape == (None, 28, 28, 1)


def test_a_keras_tuner_hypermodel_fits_a_folder_of_photos(tmp_path):
    # What a keras-tuner user passes to tuner.search(x=...): the source, read with the recipe.
    import keras_tuner

    photos = write_photos(tmp_path / "photos", per_class=6)
    hypermodel = zoo.hypermodel("cnn_mnist", resize_images=True, num_classes=2)
    hp = keras_tuner.HyperParameters()
    history = hypermodel.fit(hp, hypermodel.build(hp), str(photos), epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


def test_the_export_signature_takes_any_size_and_resizes_as_training_did(tmp_path):
    spec = zoo.get_spec("cnn_mnist").with_overrides(resize_images=True)
    model = spec.build_model()
    # Its own parity sample may be photos too: fitted as the model's inputs are.
    sample = [np.zeros((30, 40, 3), np.uint8), np.full((10, 10), 200, np.uint8)]
    export = zoo.export(model, tmp_path / "export", sample=sample)
    metadata = zoo.load(export).metadata
    assert metadata["signature"]["input"]["shape"] == [None, None, None, None]
    assert metadata["parity"]["passed"]  # also on images of another size (resized in-graph)
    serve = tf.saved_model.load(str(export)).signatures["serving_default"]
    photos = np.random.default_rng(0).integers(0, 256, (3, 45, 61, 1), dtype=np.uint8)
    served = serve(image=tf.constant(photos))["probabilities"].numpy()
    preprocessor = zoo.data.make_preprocessor(spec)
    expected = model(preprocessor(fit_images(photos, (28, 28, 1))), training=False).numpy()
    assert np.abs(served - expected).max() < 1e-5
    # Any colour mode: RGB by luma, alpha dropped, as training converts them.
    rgba = np.random.default_rng(1).integers(0, 256, (2, 30, 20, 4), dtype=np.uint8)
    for images in (rgba, rgba[..., :3], rgba[..., :2]):
        served = serve(image=tf.constant(images))["probabilities"].numpy()
        inputs = preprocessor(fit_images(images, (28, 28, 1)))
        assert np.abs(served - model(inputs, training=False).numpy()).max() < 1e-5
    with pytest.raises(tf.errors.InvalidArgumentError, match="images must have 1-4 channels"):
        serve(image=tf.zeros((1, 8, 8, 5), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 1x1 pixels"):
        serve(image=tf.zeros((1, 0, 8, 1), tf.uint8))
    # An image of the model's size passes unchanged.
    digits = photos[:, :28, :28]
    served = serve(image=tf.constant(digits))["probabilities"].numpy()
    assert np.abs(served - model(preprocessor(digits), training=False).numpy()).max() < 1e-5


def _unrounded(images, shape):  # a graph resize that truncates where training rounds
    resized = tf.image.resize(tf.cast(images, tf.float32), shape[:2], antialias=False)
    return tf.cast(resized, tf.uint8)


def _first_channel(images, channels):  # grayscale from red alone, where training weighs all
    return images[..., :channels]


@pytest.mark.parametrize(("step", "broken"), [("fitted_size", _unrounded),
                                              ("fitted_channels", _first_channel)])
def test_the_parity_check_covers_the_export_s_own_fitting(step, broken, tmp_path, monkeypatch):
    # Images of the model's shape pass both steps unchanged: only the parity check's photos of
    # another size (and, for the channels, another colour mode) can tell.
    from zoo.serving import signature

    monkeypatch.setattr(signature, step, broken)
    model = zoo.get_spec("cnn_mnist").with_overrides(resize_images=True).build_model()
    with pytest.raises(zoo.ExportError, match="does not match the model"):
        zoo.export(model, tmp_path / "export", tolerance=1e-6)
    assert not (tmp_path / "export").exists()


def test_one_channels_first_image_is_refused_as_ambiguous(tmp_path):
    spec = zoo.get_spec("cnn_cifar10").with_overrides(resize_images=True)
    predictor = zoo.load(zoo.export(spec.build_model(), tmp_path / "export"))
    with pytest.raises(DataError, match=r"one channels-first image, or 3 grayscale images\?"):
        predictor.predict(np.zeros((3, 40, 40), np.uint8))
    assert len(predictor.predict(np.zeros((3, 40, 40, 3), np.uint8))) == 3


def test_a_model_trained_without_it_still_refuses_other_sizes(tmp_path):
    predictor = zoo.load(zoo.export(zoo.build("mlp_mnist"), tmp_path / "export"))
    assert not predictor.resize_images
    with pytest.raises(DataError, match=r"expected images of shape \(batch, 28, 28, 1\)"):
        predictor.predict(np.zeros((2, 32, 32, 3), np.uint8))
