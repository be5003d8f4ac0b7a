"""Fine-tuning: build(name, weights=PATH, num_classes=N, freeze_backbone=...)."""

import keras
import numpy as np
import pytest

import zoo
from zoo.errors import DataError, InvalidValueError


@pytest.fixture
def trained_mlp(tmp_path):
    model = zoo.build("mlp_mnist")
    for variable in model.trainable_variables:  # distinguishable from a fresh initialization
        variable.assign(np.full(variable.shape, 0.01, "float32"))
    path = tmp_path / "mlp.keras"
    model.save(path)
    return model, path


def test_weights_move_and_a_new_head_is_fresh(trained_mlp):
    trained, path = trained_mlp
    tuned = zoo.build("mlp_mnist", weights=path, num_classes=3, freeze_backbone=True)
    np.testing.assert_array_equal(tuned.get_layer("hidden_0").get_weights()[0],
                                  trained.get_layer("hidden_0").get_weights()[0])
    assert tuned.output_shape == (None, 3)
    assert not np.allclose(tuned.get_layer("classifier").get_weights()[0], 0.01)
    assert [v.name for v in tuned.trainable_variables] == ["kernel", "bias"]  # the head only


def test_same_class_count_copies_everything_and_trains(trained_mlp):
    trained, path = trained_mlp
    tuned = zoo.build("mlp_mnist", weights=path)
    x = np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(
        tuned.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6
    )
    tuned.fit(x, np.arange(4), epochs=1, verbose=0)  # compiled with the recipe


def test_weights_file_of_weights_only(tmp_path):
    model = zoo.build("cnn_mnist", compile=False)
    model.save_weights(tmp_path / "cnn.weights.h5")
    again = zoo.build("cnn_mnist", weights=tmp_path / "cnn.weights.h5")
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="needs the same architecture") as caught:
        zoo.build("cnn_mnist", weights=tmp_path / "cnn.weights.h5", num_classes=4)
    # The layer and both shapes are named; Keras' dump of the variable's values is not passed on.
    message = str(caught.value)
    assert "layer classifier does not match" in message, message
    assert "(1600, 4)" in message and "(1600, 10)" in message
    assert len(message) < 600, message
    zoo.build("mlp_mnist", compile=False).save_weights(tmp_path / "mlp.weights.h5")
    with pytest.raises(DataError, match="layers block0_conv0, block1_conv0, classifier"):
        zoo.build("cnn_mnist", weights=tmp_path / "mlp.weights.h5")


def test_bad_weights_are_explained(tmp_path, trained_mlp):
    _, path = trained_mlp
    with pytest.raises(DataError, match="does not exist"):
        zoo.build("mlp_mnist", weights=tmp_path / "absent.keras")
    with pytest.raises(InvalidValueError, match="no layer of mlp.keras"):
        zoo.build("cnn_mnist", weights=path)
    with pytest.raises(InvalidValueError, match="needs weights=PATH"):
        zoo.build("cnn_mnist", freeze_backbone=True)
    with pytest.raises(DataError, match="holds no model.keras"):
        zoo.build("cnn_mnist", weights=tmp_path)


def test_lambda_layers_are_refused(tmp_path):
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Lambda(lambda t: t * 2)(inputs)
    model = keras.Model(
        inputs, keras.layers.Dense(10, name="classifier")(keras.layers.Flatten()(outputs))
    )
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(DataError, match="cannot load .* safely"):
        zoo.build("mlp_mnist", weights=tmp_path / "lambda.keras")
