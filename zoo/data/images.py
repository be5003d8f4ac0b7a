"""Image preprocessing layers: pixel scaling and normalization, and training-only augmentation.

Both are Keras layers so that the same code runs in a `tf.data` map during training and inside a
serving function or model at export time.

Augmentation is one fused affine warp (`RandomAffine`) rather than a chain of
`keras.layers.RandomRotation`, `RandomZoom`, `RandomTranslation` and `RandomFlip`, for two reasons
measured on the 2-core reference machine (`benchmarks/bench_pipeline.py`):

- speed: each Keras layer resamples the whole batch (one `ImageProjectiveTransformV3` each, about
  1.3 ms per 128 MNIST images), so the chain delivered about 17k images/s, under 6x what
  `cnn_mnist` trains on; one warp does the work of all of them at once.
- determinism: the Keras layers draw from a shared seed-state variable that a parallel `tf.data`
  map advances in whatever order its calls happen to run; `RandomAffine` takes an explicit
  stateless seed per batch, so the same seed gives the same augmented batches on every run.

The sampled ranges follow the Keras layers' conventions, so an `Augmentation(rotation=0.03,
zoom=0.1, translation=0.1)` means what it would mean for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from zoo.spec import Augmentation


@keras.saving.register_keras_serializable(package="zoo")
class ImageNormalization(keras.layers.Layer):
    """Pixels to normalized float32: integers are scaled by 1/255, then `(x - mean) / std`.

    Floating-point inputs are taken as already scaled to [0, 1] (the output of an augmentation
    step, or float images a caller prepared), so only integer pixels are divided by 255.

    Example:
        >>> import numpy as np
        >>> from zoo.data.images import ImageNormalization
        >>> layer = ImageNormalization(mean=(0.5,), std=(0.5,))
        >>> layer(np.array([[[[0], [255]]]], "uint8")).numpy().ravel().tolist()
        [-1.0, 1.0]
    """

    def __init__(
        self, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,), **kwargs: Any
    ):
        kwargs.setdefault("dtype", "float32")  # never a mixed-precision policy: exact inputs
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def call(self, images: Any) -> Any:
        ops = keras.ops
        dtype = keras.backend.standardize_dtype(images.dtype)
        if "int" in dtype:
            scaled = ops.cast(images, "float32") * (1.0 / 255.0)
        else:
            scaled = ops.cast(images, "float32")
        # (batch, height, width, channels) - (channels,): statistics broadcast over pixels.
        mean = ops.convert_to_tensor(self.mean, "float32")
        inverse_std = ops.convert_to_tensor([1.0 / s for s in self.std], "float32")
        return (scaled - mean) * inverse_std

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": list(self.mean), "std": list(self.std)}


@keras.saving.register_keras_serializable(package="zoo")
class RandomAffine(keras.layers.Layer):
    """Random rotation, zoom, translation and horizontal flip of a batch, as one affine warp.

    Per image: angle uniform in `[-rotation, rotation]` turns (`keras.layers.RandomRotation`),
    scale uniform in `[1 - zoom, 1 + zoom]` for both axes (`RandomZoom`, > 1 zooms out), shift
    uniform in `[-translation, translation]` of the height and of the width (`RandomTranslation`),
    and a mirror image with probability 1/2 when `horizontal_flip`. Pixels that come from outside
    the image get `fill_value` (0 = black on images scaled to [0, 1]).

    `call(images, training=True, seed=None)`: `seed` is a stateless seed, an int64 tensor of shape
    (2,); the same seed gives the same warp. Without one, the layer draws from its own
    `keras.random.SeedGenerator` (built from `seed` at construction), as Keras' layers do. With
    `training=False` the images pass through unchanged. Expects float images (batch, H, W, C).

    Example:
        >>> import numpy as np, tensorflow as tf
        >>> from zoo.data.images import RandomAffine
        >>> layer = RandomAffine(rotation=0.05, translation=0.1, seed=1)
        >>> images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
        >>> first = layer(images, seed=tf.constant([7, 0], tf.int64))
        >>> again = layer(images, seed=tf.constant([7, 0], tf.int64))
        >>> bool(np.array_equal(first, again)), bool(np.array_equal(first, images))
        (True, False)
        >>> bool(np.array_equal(layer(images, training=False), images))
        True
    """

    def __init__(
        self,
        rotation: float = 0.0,
        zoom: float = 0.0,
        translation: float = 0.0,
        horizontal_flip: bool = False,
        fill_mode: str = "constant",
        fill_value: float = 0.0,
        interpolation: str = "bilinear",
        seed: int | None = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.rotation = float(rotation)
        self.zoom = float(zoom)
        self.translation = float(translation)
        self.horizontal_flip = bool(horizontal_flip)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool = True, seed: Any = None) -> Any:
        if not training:
            return images
        # The warp runs in the tf.data pipeline; imported here so that the models' own layer
        # (ImageNormalization) loads on Keras' JAX backend without TensorFlow.
        import tensorflow as tf

        if seed is None:
            seed = self.seed_generator.next()
        seed = tf.cast(seed, tf.int64)
        images = tf.convert_to_tensor(images, tf.float32)
        shape = tf.shape(images)  # (batch, height, width, channels)
        batch = shape[0]
        height, width = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)

        # One uniform draw in [-1, 1) per image and parameter: angle, zoom, shift y, shift x.
        draws = tf.random.stateless_uniform((batch, 4), seed=seed, minval=-1.0, maxval=1.0)
        angle = draws[:, 0] * (self.rotation * 2.0 * math.pi)
        scale = 1.0 + draws[:, 1] * self.zoom
        shift_y = draws[:, 2] * (self.translation * height)
        shift_x = draws[:, 3] * (self.translation * width)
        if self.horizontal_flip:
            flip_seed = tf.random.experimental.stateless_fold_in(seed, 1)
            mirror = tf.random.stateless_uniform((batch,), seed=flip_seed) < 0.5
            flip = tf.where(mirror, -1.0, 1.0)
        else:
            flip = tf.ones((batch,))

        # The warp maps each output pixel p to the input point it is read from:
        #   input = c + scale * Flip * Rotate(-angle) * (p - c - shift), c = image centre,
        # i.e. the inverse of "flip, rotate, zoom, then shift" applied to the image.
        cos, sin = tf.cos(angle), tf.sin(angle)
        a0, a1 = scale * flip * cos, scale * flip * sin  # row for the input x
        b0, b1 = -scale * sin, scale * cos  # row for the input y
        center_x, center_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
        origin_x, origin_y = center_x + shift_x, center_y + shift_y
        a2 = center_x - a0 * origin_x - a1 * origin_y
        b2 = center_y - b0 * origin_x - b1 * origin_y
        zeros = tf.zeros((batch,))
        # (batch, 8): [a0, a1, a2, b0, b1, b2, c0, c1], as keras.ops.image.affine_transform wants.
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return keras.ops.image.affine_transform(
            images,
            transforms,
            interpolation=self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            data_format="channels_last",
        )

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "zoom": self.zoom,
            "translation": self.translation,
            "horizontal_flip": self.horizontal_flip,
            "fill_mode": self.fill_mode,
            "fill_value": self.fill_value,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }


def make_augmentation(augmentation: Augmentation, seed: int | None = None) -> RandomAffine | None:
    """The augmentation layer of an entry's `Augmentation`, or None when it is disabled.

    Example:
        >>> from zoo.data.images import make_augmentation
        >>> from zoo.spec import Augmentation
        >>> make_augmentation(Augmentation(translation=0.1, horizontal_flip=True)).horizontal_flip
        True
        >>> make_augmentation(Augmentation()) is None
        True
    """
    if not augmentation.enabled:
        return None
    return RandomAffine(
        rotation=augmentation.rotation,
        zoom=augmentation.zoom,
        translation=augmentation.translation,
        horizontal_flip=augmentation.horizontal_flip,
        seed=seed,
        name="augmentation",
    )
