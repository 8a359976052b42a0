"""Files cross between cnnext and Keras 3: a model saved by one loads in the other with the same
weights, optimizer state and predictions. Skipped unless keras (and a backend) is installed."""
import importlib.util
import os
import warnings

import numpy as np
import pytest

if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("jax") is not None:
    os.environ["KERAS_BACKEND"] = "jax"  # lighter than TensorFlow when both are present
keras = pytest.importorskip("keras")

import cnnext  # noqa: E402
from cnnext import saving  # noqa: E402

X = np.random.default_rng(0).random((8, 12, 12, 1), dtype=np.float32)
Y = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=np.float32)
# cnnext kernels and XLA's sum in different orders: float32 agreement, not bit equality.
RTOL, ATOL = 1e-5, 1e-6


def architecture(lib, dropout=True):
    L = lib.layers
    return [L.Input((12, 12, 1)), L.Conv2D(4, (3, 3), activation="relu"),
            L.MaxPooling2D((2, 2)), L.Conv2D(3, (3, 3), padding="same", activation="relu"),
            L.BatchNormalization(), L.AveragePooling2D((2, 2)), L.Flatten(),
            L.Dense(5, activation="relu")] + [L.Dropout(0.25)] * dropout + [
            L.Dense(1, activation="sigmoid")]


def trained(lib, dropout=True):
    m = lib.models.Sequential(architecture(lib, dropout))
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    m.train_on_batch(X, Y)
    m.train_on_batch(X[::-1], Y[::-1])
    return m


def check_same(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert [w.shape for w in wa] == [w.shape for w in wb]
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_allclose(np.asarray(a.predict(X, verbose=0)),
                               np.asarray(b.predict(X, verbose=0)), rtol=RTOL, atol=ATOL)
    va = [np.asarray(v) for v in a.optimizer.variables]
    vb = [np.asarray(v) for v in b.optimizer.variables]
    assert [v.shape for v in va] == [v.shape for v in vb]
    for x, y in zip(va, vb):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def keras_model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return trained(keras)


@pytest.fixture(autouse=True)
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # keras/jax vs NumPy 2 __array__
        yield


def test_keras_file_loads_in_cnnext(tmp_path, keras_model):
    km = keras_model
    km.save(tmp_path / "k.keras")
    cm = saving.load_model(tmp_path / "k.keras")
    assert isinstance(cm, cnnext.models.Sequential)
    assert [type(l).__name__ for l in cm.layers] == [type(l).__name__ for l in km.layers]
    check_same(km, cm)


def test_cnnext_file_loads_in_keras(tmp_path):
    cnnext.utils.set_random_seed(1)  # same start whatever ran before
    cm = trained(cnnext, dropout=False)  # dropout masks differ between libraries
    cm.save(tmp_path / "c.keras")
    km = keras.saving.load_model(tmp_path / "c.keras")
    assert [l.name for l in km.layers] == [l.name for l in cm.layers]
    check_same(cm, km)
    # Both continue training alike from the restored optimizer state. Adam moves each weight by
    # about lr = 1e-3 per step, and by nearly exactly lr * sign(g) with a fresh state, so the
    # updates must agree to 5% of lr (weights with near-zero gradients make a tighter bound flaky).
    before = cm.get_weights()
    cm.train_on_batch(X, Y)
    km.train_on_batch(X, Y)
    for w0, a, b in zip(before, cm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a - w0, np.asarray(b) - w0, rtol=0, atol=5e-5)


def test_weights_files_cross(tmp_path, keras_model):
    km, cm = keras_model, trained(cnnext)
    km.save_weights(tmp_path / "k.weights.h5")
    fresh = cnnext.models.Sequential(architecture(cnnext))
    fresh.compile(loss="binary_crossentropy", optimizer="adam")
    fresh.build((None, 12, 12, 1))
    saving.load_weights(fresh, tmp_path / "k.weights.h5")
    check_same(km, fresh)
    cm.save_weights(tmp_path / "c.weights.h5")
    kfresh = keras.models.Sequential(architecture(keras))
    kfresh.compile(loss="binary_crossentropy", optimizer="adam")
    kfresh.optimizer.build(kfresh.trainable_variables)
    kfresh.load_weights(tmp_path / "c.weights.h5")
    check_same(cm, kfresh)


def test_uncompiled_model_both_ways(tmp_path):
    km = keras.models.Sequential(architecture(keras))
    km.save(tmp_path / "k.keras")
    cm = saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(km.predict(X, verbose=0), cm.predict(X, verbose=0),
                               rtol=RTOL, atol=ATOL)
    cm.save(tmp_path / "c.keras")
    km2 = keras.saving.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(np.asarray(km2.predict(X, verbose=0)), cm.predict(X, verbose=0),
                               rtol=RTOL, atol=ATOL)
