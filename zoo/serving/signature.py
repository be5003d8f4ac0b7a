"""The serving signature: raw inputs in; probabilities, class ids and labels out.

`serving_default` takes what a user has, not what the model takes:

    image entries: `image`, uint8 (batch, height, width, channels); for a model trained with
                   `resize_images`, (batch, any height, any width, 1-4 channels), converted
                   and resized in the graph as `zoo.data.resizing` fits them for training
    text entries:  `text`, a tf.string vector (batch,) of raw sentences

and returns `probabilities` (float32, (batch, classes)), `class_id` (int64, (batch,)) and
`label` (tf.string, (batch,)): the class's name, or its id as text ("3") for a model without
class names, so that one client reads every zoo export.

The entry's preprocessing (`ImageNormalization`, or the fitted `TextVectorization` with its
vocabulary as graph constants) and the model are traced into one graph with
`keras.export.ExportArchive`, so the SavedModel needs neither zoo nor Keras to run: only
TensorFlow. The function is not XLA-compiled (`jit_compile`): on `cnn_mnist` it made a batch-1
call about 10% faster, but XLA compiles again for every new batch size a server sees (0.6 s each
on the 2-core reference machine), a latency spike no client should meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.data.resizing import luma
from zoo.spec import ModelSpec

SIGNATURE = "serving_default"
IMAGE_INPUT = "image"
TEXT_INPUT = "text"


def input_signature(spec: ModelSpec) -> tf.TensorSpec:
    """The raw input the signature takes for `spec`.

    Example:
        >>> from zoo.serving.signature import input_signature
        >>> import zoo
        >>> input_signature(zoo.get_spec("cnn_mnist"))
        TensorSpec(shape=(None, 28, 28, 1), dtype=tf.uint8, name='image')
        >>> input_signature(zoo.get_spec("lstm_sst2"))
        TensorSpec(shape=(None,), dtype=tf.string, name='text')
        >>> input_signature(zoo.get_spec("cnn_mnist").with_overrides(resize_images=True))
        TensorSpec(shape=(None, None, None, None), dtype=tf.uint8, name='image')
    """
    if spec.input.kind == "image" and spec.recipe.resize_images:  # any size and colour mode
        return tf.TensorSpec((None, None, None, None), tf.uint8, name=IMAGE_INPUT)
    if spec.input.kind == "image":
        return tf.TensorSpec((None, *spec.input.shape), tf.uint8, name=IMAGE_INPUT)
    return tf.TensorSpec((None,), tf.string, name=TEXT_INPUT)


def class_labels(class_names: Sequence[str], num_classes: int) -> list[str]:
    """The label of each class id: its name, or the id as text for a model without names, so
    that every export serves a `label` (one trained on integer labels served none, and a client
    written for one export broke on another).

    Example:
        >>> from zoo.serving.signature import class_labels
        >>> class_labels(("cat", "dog"), 2), class_labels((), 3)
        (['cat', 'dog'], ['0', '1', '2'])
    """
    return [str(name) for name in class_names] if class_names else [
        str(i) for i in range(num_classes)]


def serving_archive(
    model: keras.Model, preprocessor: Any, class_names: Sequence[str] = ()
) -> keras.export.ExportArchive:
    """An `ExportArchive` whose `serving_default` runs `preprocessor` then `model` on raw inputs.

    Write it with `.write_out(directory, verbose=False)`.

    Example:
        >>> import tempfile, numpy as np, tensorflow as tf, zoo
        >>> from zoo.serving.signature import serving_archive
        >>> spec = zoo.get_spec("mlp_mnist")
        >>> archive = serving_archive(zoo.build("mlp_mnist"), zoo.data.make_preprocessor(spec),
        ...                           spec.class_names)
        >>> directory = tempfile.mkdtemp() + "/mlp"
        >>> archive.write_out(directory, verbose=False)
        >>> serve = tf.saved_model.load(directory).signatures["serving_default"]
        >>> outputs = serve(image=tf.zeros((2, 28, 28, 1), tf.uint8))
        >>> sorted(outputs), outputs["probabilities"].shape
        (['class_id', 'label', 'probabilities'], TensorShape([2, 10]))
    """
    spec = preprocessor.spec
    signature = input_signature(spec)
    # Layers are built on first call; the archive can only track built ones.
    preprocessor(_placeholder_batch(spec))
    classes = int(model.output_shape[-1])
    labels = tf.constant(class_labels(class_names, classes))

    def serve(inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        # A SavedModel checks only the dtype of what it is fed. A request of another shape must
        # be refused by name here: some CPU kernels abort the whole serving process on it.
        inputs = tf.ensure_shape(inputs, signature.shape)
        if spec.input.kind == "image" and spec.recipe.resize_images:
            inputs = fitted_size(fitted_channels(inputs, spec.input.shape[2]), spec.input.shape)
        features = preprocessor(inputs)  # (batch, H, W, C) float32 or (batch, length) int32
        # An empty batch answers empty outputs (convolution kernels fail on zero images).
        probabilities = tf.cond(
            tf.shape(features)[0] > 0,
            lambda: tf.cast(model(features, training=False), tf.float32),
            lambda: tf.zeros((0, classes), tf.float32),
        )  # (batch, classes)
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)  # (batch,)
        return {"probabilities": probabilities, "class_id": class_id,
                "label": tf.gather(labels, class_id)}

    archive = keras.export.ExportArchive()
    # Not `archive.track(layer)`: on the TensorFlow backend that lists Keras' wrappers of the
    # variables, which the SavedModel then stores a second time beside the tf.Variables the
    # endpoint captures: every weight twice on disk and in a server's memory
    # (keras-team/keras#23553). A plain module holding the preprocessing layer brings its
    # lookup table (text entries) and nothing else; the archive's variable lists then get the
    # captured variables themselves, so `tf.saved_model.load(DIR).variables` still has them.
    tables = tf.Module()
    tables.preprocessing = preprocessor.layer
    archive.track(tables)
    endpoint = archive.add_endpoint(SIGNATURE, serve, input_signature=[signature])
    captured = endpoint.get_concrete_function()
    archive.variables.extend(captured.variables)
    archive.trainable_variables.extend(captured.trainable_variables)
    archive.non_trainable_variables.extend(v for v in captured.variables if not v.trainable)
    return archive


def fitted_channels(images: tf.Tensor, channels: int) -> tf.Tensor:
    """uint8 `images` (batch, height, width, 1-4 channels) with `channels` (1 or 3) in the
    graph, as `zoo.data.resizing.fit_images` converts them for training: alpha dropped,
    grayscale repeated to RGB, RGB to grayscale by luma.

    Example:
        >>> import tensorflow as tf
        >>> from zoo.serving.signature import fitted_channels
        >>> fitted_channels(tf.zeros((2, 5, 5, 4), tf.uint8), 1).shape
        TensorShape([2, 5, 5, 1])
    """
    have = tf.shape(images)[-1]
    checks = [tf.debugging.assert_less_equal(have, 4, message="images must have 1-4 channels: "
                                             "grayscale or RGB, with or without alpha"),
              tf.debugging.assert_positive(have, message="images must have 1-4 channels")]
    with tf.control_dependencies(checks):  # before the shape checks below, which say less
        images = tf.identity(images)
    # Without its alpha channel (2 -> 1, 4 -> 3): the colour, as Keras reads such files.
    images = tf.cond(have % 2 == 0, lambda: images[..., :-1], lambda: images)
    colours = tf.shape(images)[-1]
    if channels == 3:
        images = tf.cond(colours == 1, lambda: tf.tile(images, [1, 1, 1, 3]), lambda: images)
    else:
        def grayscale() -> tf.Tensor:
            return _pixels(luma(tf.cast(images, tf.float32))[..., tf.newaxis])

        images = tf.cond(colours == 3, grayscale, lambda: images)
    return tf.ensure_shape(images, (None, None, None, channels))


def fitted_size(images: tf.Tensor, shape: Sequence[int]) -> tf.Tensor:
    """uint8 `images` (batch, any height, any width, channels) resized to `shape`'s height and
    width in the graph, exactly as `zoo.data.resizing.fit_images` resizes them for training
    (bilinear, antialiased, rounded half to even); images of that size pass unchanged.

    Example:
        >>> import numpy as np, tensorflow as tf
        >>> from zoo.serving.signature import fitted_size
        >>> fitted_size(tf.fill((2, 45, 60, 1), tf.constant(7, tf.uint8)), (28, 28, 1)).shape
        TensorShape([2, 28, 28, 1])
    """
    height, width, channels = (int(d) for d in shape)
    # An image without pixels is refused by name, not deep inside the resize kernel.
    check = tf.debugging.assert_positive(tf.shape(images)[1:3],
                                         message="images must have at least 1x1 pixels")
    with tf.control_dependencies([check]):
        images = tf.identity(images)

    def resize() -> tf.Tensor:
        return _pixels(tf.image.resize(tf.cast(images, tf.float32), (height, width),
                                       method="bilinear", antialias=True))

    same = tf.reduce_all(tf.equal(tf.shape(images)[1:3], [height, width]))
    return tf.ensure_shape(tf.cond(same, lambda: images, resize), (None, height, width, channels))


def _pixels(values: tf.Tensor) -> tf.Tensor:
    """Float pixel values back to uint8, rounded half to even as NumPy's rint rounds them in
    `zoo.data.resizing`."""
    return tf.cast(tf.clip_by_value(tf.round(values), 0.0, 255.0), tf.uint8)


def _placeholder_batch(spec: ModelSpec) -> np.ndarray:
    if spec.input.kind == "text":
        return np.array([""], dtype=object)
    return np.zeros((1, *spec.input.shape), dtype=np.uint8)
