"""Setup, models and data shared by the Keras parity tests."""
import os

import numpy as np
import pytest

import cnnext


def import_keras():
    """Real Keras 3 on a CPU backend (JAX unless TensorFlow is asked for); skips the calling
    test module when keras is not installed."""
    if "tensorflow" not in os.environ.get("KERAS_BACKEND", ""):
        os.environ.setdefault("KERAS_BACKEND", "jax")  # the CPU backend most often installed
    return pytest.importorskip("keras")


@pytest.fixture
def one_thread():
    """Results do not depend on the thread count; one thread keeps the parity files quick on a
    busy machine."""
    cnnext.set_num_threads(1)
    yield
    cnnext.set_num_threads(None)


def seed_model(lib):
    return lib.Sequential([
        lib.Input((28, 28, 1)), lib.layers.Conv2D(32, (3, 3), activation="relu"),
        lib.layers.MaxPooling2D((2, 2)), lib.layers.Conv2D(64, (3, 3), activation="relu"),
        lib.layers.MaxPooling2D((2, 2)), lib.layers.Flatten(),
        lib.layers.Dense(128, activation="relu"), lib.layers.Dense(1, activation="sigmoid")])


def other_model(lib):
    """Every other layer kind: same padding, strides, BN, average/global pooling, softmax."""
    return lib.Sequential([
        lib.Input((28, 28, 1)), lib.layers.Conv2D(8, 3, strides=2, padding="same"),
        lib.layers.BatchNormalization(), lib.layers.ReLU(),
        lib.layers.AveragePooling2D(2, padding="same"), lib.layers.Conv2D(6, 2, activation="tanh"),
        lib.layers.GlobalMaxPooling2D(), lib.layers.Dense(4), lib.layers.Activation("sigmoid"),
        lib.layers.Dense(2), lib.layers.Softmax(), lib.layers.Dense(1, activation="sigmoid")])


def pair(keras, make=None):
    make = make or seed_model
    keras.utils.clear_session()
    cnnext.utils.clear_session()
    keras.utils.set_random_seed(0)
    k, c = make(keras), make(cnnext)
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    return x, (x[:, :14].mean(axis=(1, 2, 3)) > x[:, 14:].mean(axis=(1, 2, 3))).astype("float32")


