"""Models and data shared by the Keras parity tests (imported only once keras imports)."""
import numpy as np

import cnnext


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


