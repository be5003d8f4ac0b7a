"""Fitting images to a model's input shape: resizing and colour-mode conversion.

Used where a recipe asks for it (`Recipe.resize_images`): photos come in many sizes and colour
modes, and a model takes one shape. Images are converted as they are read (a folder's files one
by one, since images of different sizes cannot share an array), so that the checks, the pipeline
and the model all see images of the model's shape. As Keras'
`image_dataset_from_directory` does, an alpha channel is dropped, grayscale is repeated to RGB,
and the resize is bilinear; antialiased, so that a large photo shrunk to 32x32 keeps its average
colours instead of aliasing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.data.validate import check_images
from zoo.errors import DataError

# ITU-R BT.601 luma, as tf.image.rgb_to_grayscale and Pillow's convert("L") weigh the channels.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def fit_images(images: Any, shape: Sequence[int]) -> np.ndarray:
    """Images converted to `shape` = (height, width, channels): one image (height, width,
    channels) or a batch of them (batch, height, width, channels), uint8 pixels or floats in
    [0, 1], which keep their dtype. Their alpha channel is dropped, grayscale becomes RGB
    (repeated) and RGB grayscale (luma), and they are resized to `shape`'s height and width
    (bilinear, antialiased). Images that have `shape` come back unchanged.

    Raises:
        DataError: images whose channels are not grayscale, RGB, or either with alpha (1-4).

    Example:
        >>> import numpy as np
        >>> from zoo.data.resizing import fit_images
        >>> photo = np.full((48, 64, 4), 200, "uint8")  # RGBA
        >>> fitted = fit_images(photo, (32, 32, 1))
        >>> fitted.shape, fitted.dtype, int(fitted.min()), int(fitted.max())
        ((32, 32, 1), dtype('uint8'), 200, 200)
    """
    images = np.asarray(images)
    height, width, channels = (int(d) for d in shape)
    if images.ndim not in (3, 4):
        raise DataError(
            f"cannot resize an array of shape {images.shape}; expected images (height, width, "
            f"channels) or a batch of them (batch, height, width, channels)."
        )
    if 0 in images.shape[-3:-1]:
        raise DataError(
            f"cannot resize images of shape {images.shape}: they have no pixels; expected at "
            f"least 1x1 pixels."
        )
    images = _with_channels(images, channels)
    if images.shape[-3:-1] != (height, width):
        images = _resized(images, height, width)
    return images


def fit_each(images: Sequence[Any], shape: Sequence[int]) -> np.ndarray:
    """A list of images of several sizes (each (height, width) or (height, width, channels),
    uint8 or floats in [0, 1]) as one batch: each fitted to `shape` (`fit_images`).

    Raises:
        DataError: an image that is not 2-D or 3-D, or pixels training data refuses
            (`zoo.data.validate.check_images`: integers outside [0, 255], which fitting would
            clip without a word).

    Example:
        >>> import numpy as np
        >>> from zoo.data.resizing import fit_each
        >>> photos = [np.zeros((40, 30, 3), "uint8"), np.zeros((20, 20), "uint8")]
        >>> fit_each(photos, (28, 28, 1)).shape
        (2, 28, 28, 1)
    """
    fitted = []
    for index, image in enumerate(images):
        image = np.asarray(image)
        if image.ndim == 2:  # grayscale without its channel axis
            image = image[..., np.newaxis]
        if image.ndim != 3:
            raise DataError(
                f"image {index} has shape {image.shape}; expected (height, width) or (height, "
                f"width, channels) for each image of a list."
            )
        image = check_images(image[np.newaxis], f"image {index}")[0]
        fitted.append(fit_images(image, shape))
    return np.stack(fitted)


def _with_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """`images` with `channels` channels: alpha dropped, then grayscale <-> RGB."""
    have = images.shape[-1]
    if have not in (1, 2, 3, 4) or channels not in (1, 3):
        raise DataError(
            f"cannot convert images of {have} channels to {channels}; expected grayscale (1), "
            f"RGB (3), or either with an alpha channel (2, 4), converted to 1 or 3 channels."
        )
    if have in (2, 4):  # the colour without its alpha channel
        images = images[..., : have - 1]
        have -= 1
    if have == channels:
        return images
    if channels == 3:  # grayscale to RGB: the same value in each channel
        return np.repeat(images, 3, axis=-1)
    return _like(luma(images.astype(np.float32))[..., np.newaxis], images.dtype)


def luma(rgb: Any) -> Any:
    """The grayscale of float RGB pixels (..., 3), weighed channel by channel in one order, so
    that NumPy arrays and TensorFlow tensors (the export's graph) get the same bits."""
    return rgb[..., 0] * LUMA[0] + rgb[..., 1] * LUMA[1] + rgb[..., 2] * LUMA[2]


def _resized(images: np.ndarray, height: int, width: int) -> np.ndarray:
    import tensorflow as tf

    resized = tf.image.resize(images.astype(np.float32), (height, width), method="bilinear",
                              antialias=True).numpy()
    return _like(resized, images.dtype)


def _like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float `values` back in `dtype`: integer pixels rounded to uint8 (the pipeline and the
    export take uint8, as files give them), floats as they are."""
    if np.issubdtype(dtype, np.integer):
        return np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return values.astype(dtype)
