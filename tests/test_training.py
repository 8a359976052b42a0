"""fit / evaluate / predict: convergence, History, validation, weights, determinism."""
import numpy as np
import pytest

import cnnext
import cnnext as keras
from cnnext import layers as L
from cnnext.models import Sequential


def _blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    return x, y


def _images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 10, 10, 1), dtype=np.float32)
    y = (x[:, :5].mean(axis=(1, 2, 3)) > x[:, 5:].mean(axis=(1, 2, 3))).astype(np.float32)
    return x, y


def _mlp(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.05),
                  metrics=["accuracy"])
    return model


def _cnn(seed=0):
    cnnext.utils.set_random_seed(seed)
    model = Sequential()
    model.add(L.Conv2D(4, (3, 3), activation="relu", input_shape=(10, 10, 1)))
    model.add(L.MaxPooling2D(pool_size=(2, 2)))
    model.add(L.Flatten())
    model.add(L.Dropout(0.1))
    model.add(L.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_fit_converges_and_history():
    x, y = _blobs()
    model = _mlp()
    hist = model.fit(x, y, epochs=15, batch_size=16, validation_split=0.2, verbose=0)
    assert list(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hist.epoch == list(range(15))
    assert hist.params == {"verbose": 0, "epochs": 15, "steps": 10}
    assert model.history is hist
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] >= 0.85
    loss, acc = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float) and acc >= 0.85
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"accuracy": acc, "loss": loss}
    p = model.predict(x, verbose=0)
    assert p.shape == (200, 1) and p.dtype == np.float32
    assert ((p[:, 0] > 0.5) == (y > 0.5)).mean() == pytest.approx(acc)
    np.testing.assert_allclose(model(x), p, rtol=1e-6)
    assert model.optimizer.iterations.value == 150


def test_cnn_fit_runs_and_learns():
    x, y = _images()
    model = _cnn()
    hist = model.fit(x, y, batch_size=8, epochs=6, verbose=0, validation_data=(x, y))
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_loss_is_batch_size_weighted_mean_with_partial_last_batch():
    x, y = _blobs(10)
    model = _mlp()
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.0))
    hist = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert hist.params["steps"] == 3
    per_sample = keras.losses.binary_crossentropy(y[:, None], model.predict(x, verbose=0))
    assert hist.history["loss"][0] == pytest.approx(float(per_sample.mean()), rel=1e-5)
    assert model.evaluate(x, y, verbose=0, batch_size=3) == pytest.approx(
        float(per_sample.mean()), rel=1e-5)


def test_validation_split_takes_last_samples_before_shuffling():
    x, y = _blobs(50)
    model = _mlp()
    hist = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0, batch_size=50)
    expect = model.evaluate(x[40:], y[40:], verbose=0, return_dict=True)
    assert hist.history["val_loss"][0] == pytest.approx(expect["loss"], rel=1e-6)
    with pytest.raises(ValueError, match="not sufficient to split"):
        model.fit(x[:1], y[:1], validation_split=0.1, verbose=0)


def test_sample_and_class_weight():
    x, y = _blobs(40)
    m1, m2 = _mlp(3), _mlp(3)
    m1.fit(x, y, epochs=2, batch_size=8, verbose=0, class_weight={0: 1.0, 1: 3.0}, shuffle=False)
    m2.fit(x, y, epochs=2, batch_size=8, verbose=0, sample_weight=np.where(y > 0, 3.0, 1.0),
           shuffle=False)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="class_weight"):
        m1.fit(x, y, class_weight={"a": 1.0}, verbose=0)


def test_initial_epoch_and_train_on_batch():
    x, y = _blobs(32)
    model = _mlp()
    hist = model.fit(x, y, epochs=3, initial_epoch=1, verbose=0)
    assert hist.epoch == [1, 2]
    loss, acc = model.train_on_batch(x, y)
    assert isinstance(loss, float)
    assert set(model.test_on_batch(x, y, return_dict=True)) == {"accuracy", "loss"}
    assert model.predict_on_batch(x).shape == (32, 1)


def _train_weights(seed, threads=None):
    if threads:
        cnnext.set_num_threads(threads)
    try:
        x, y = _images(48, seed=5)
        model = _cnn(seed)
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return model.get_weights()
    finally:
        cnnext.set_num_threads(None)


def test_same_seed_gives_bitwise_equal_training():
    a, b = _train_weights(7), _train_weights(7)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    c = _train_weights(8)
    assert not np.array_equal(a[0], c[0])


def test_training_is_deterministic_across_thread_counts():
    a, b = _train_weights(7, threads=1), _train_weights(7, threads=2)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_categorical_and_sparse_training():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((90, 3)).astype(np.float32)
    labels = np.argmax(x, axis=1)
    for loss, y in (("categorical_crossentropy", keras.utils.to_categorical(labels, 3)),
                    ("sparse_categorical_crossentropy", labels)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(0.1), loss=loss, metrics=["accuracy"])
        hist = model.fit(x, y, epochs=20, verbose=0)
        assert hist.history["accuracy"][-1] > 0.8


def test_errors():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        model.fit(np.zeros((2, 4)), np.zeros(2))
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit(np.zeros((3, 4)), np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        model.compile(optimizer="nope", loss="mse")
    with pytest.raises(ValueError, match="Could not interpret loss"):
        model.compile(optimizer="adam", loss="nope")
    with pytest.raises(ValueError, match="Could not interpret metric"):
        model.compile(optimizer="adam", loss="mse", metrics=["nope"])


def test_sequential_structure_api():
    cnnext.utils.clear_session()
    model = Sequential(name="net")
    with pytest.raises(ValueError, match="Only instances of `keras.Layer`"):
        model.add("dense")
    model.add(L.Dense(3, input_shape=(5,)))
    model.add(L.Dense(2))
    assert model.built and model.input_shape == (None, 5) and model.output_shape == (None, 2)
    with pytest.raises(ValueError, match="unique names"):
        model.add(L.Dense(2, name=model.layers[0].name))
    assert model.get_layer(index=1) is model.layers[1]
    assert model.get_layer(model.layers[0].name) is model.layers[0]
    popped = model.pop()
    assert popped.units == 2 and model.output_shape == (None, 3)
    with pytest.raises(AttributeError):
        model.layers = []
    deferred = Sequential([L.Dense(2)])
    assert not deferred.built
    with pytest.raises(AttributeError):
        deferred.input_shape
    assert deferred.predict(np.ones((3, 4)), verbose=0).shape == (3, 2)
    assert deferred.built and deferred.input_shape == (None, 4)


def test_config_round_trip_and_functional_model():
    model = _cnn()
    config = model.get_config()
    assert config["build_input_shape"] == [None, 10, 10, 1]
    assert config["layers"][0]["class_name"] == "InputLayer"
    clone = Sequential.from_config(config)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x, _ = _images(4)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    inp = keras.Input((4,))
    out = keras.layers.Dense(1)(keras.layers.Dense(3, activation="relu")(inp))
    fm = keras.Model(inp, out)
    assert fm.output_shape == (None, 1) and fm.count_params() == 15 + 4


def test_loss_weights_scale_loss_and_gradient():
    x, y = _blobs(16)
    results = []
    for weight in (None, 2.0, [2.0]):
        model = _mlp(4)
        model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.1),
                      loss_weights=weight)
        before = model.evaluate(x, y, verbose=0)
        model.train_on_batch(x, y)
        results.append((before, model.get_weights()[0]))
    assert results[1][0] == pytest.approx(2 * results[0][0], rel=1e-6)
    w0 = _mlp(4).get_weights()[0]
    np.testing.assert_allclose(results[1][1] - w0, 2 * (results[0][1] - w0), rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_array_equal(results[1][1], results[2][1])
    with pytest.raises(ValueError, match="loss_weights"):
        _mlp().compile(loss="mse", loss_weights=["a"])
