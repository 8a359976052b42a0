"""Losses (values, reductions, gradients) and metrics (accuracy resolution) by hand."""
import numpy as np
import pytest

from cnnext import losses, metrics


def test_bce_clipping_values_keras_run():
    # Keras (float32): y=0, p=1 -> 15.942385; y=1, p=1 -> ~1.19e-7
    v = losses.binary_crossentropy(np.array([[0.0], [1.0]], np.float32),
                                   np.array([[1.0], [1.0]], np.float32))
    np.testing.assert_allclose(v, [15.942385, 1.1920929e-07], rtol=1e-5)


def test_bce_reduction_and_sample_weight():
    y = np.array([1.0, 0.0, 1.0, 0.0], np.float32)
    p = np.array([[0.9], [0.2], [0.6], [0.4]], np.float32)
    per = -(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0]))
    bce = losses.BinaryCrossentropy()
    assert bce(y, p) == pytest.approx(per.mean(), rel=1e-6)
    w = np.array([1.0, 2.0, 0.0, 1.0])
    assert bce(y, p, sample_weight=w) == pytest.approx((per * w).sum() / 4, rel=1e-6)
    assert losses.BinaryCrossentropy(reduction="sum")(y, p) == pytest.approx(per.sum(), rel=1e-6)
    value, grad = bce.value_and_grad(y, p, w)
    assert value == pytest.approx((per * w).sum() / 4, rel=1e-6)
    dp = (-(y / p[:, 0]) + (1 - y) / (1 - p[:, 0])) * w / 4
    np.testing.assert_allclose(grad[:, 0], dp, rtol=1e-5)
    smooth = losses.BinaryCrossentropy(label_smoothing=0.2)
    ys = y * 0.8 + 0.1
    assert smooth(y, p) == pytest.approx(
        (-(ys * np.log(p[:, 0]) + (1 - ys) * np.log(1 - p[:, 0]))).mean(), rel=1e-5)


def test_categorical_sparse_mse():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    y = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    expect = -np.log([0.7, 0.1])
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p), expect, rtol=1e-5)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(np.array([0, 1]), p),
                               expect, rtol=1e-5)
    assert losses.get("categorical_crossentropy")(y, p) == pytest.approx(expect.mean(), rel=1e-5)
    assert losses.get("mse")(y, p) == pytest.approx(((y - p) ** 2).mean(), rel=1e-5)
    logits = np.array([[1.0, 2.0, 3.0]], np.float32)
    soft = np.exp(logits) / np.exp(logits).sum()
    assert losses.CategoricalCrossentropy(from_logits=True)(np.array([[0, 0, 1.0]]), logits) == \
        pytest.approx(-np.log(soft[0, 2]), rel=1e-5)


def test_loss_lookup():
    assert type(losses.get("bce")) is losses.BinaryCrossentropy
    assert type(losses.get("BinaryCrossentropy")) is losses.BinaryCrossentropy
    assert type(losses.get(losses.mean_squared_error)) is losses.MeanSquaredError
    with pytest.raises(ValueError, match="Could not interpret loss identifier: nope"):
        losses.get("nope")


def test_accuracy_resolution_by_shape_only():
    assert metrics.resolve_accuracy((8,), (8, 1)) is metrics.BinaryAccuracy
    assert metrics.resolve_accuracy((8,), (8, 10)) is metrics.SparseCategoricalAccuracy
    assert metrics.resolve_accuracy((8, 1), (8, 10)) is metrics.SparseCategoricalAccuracy
    assert metrics.resolve_accuracy((8, 10), (8, 10)) is metrics.CategoricalAccuracy
    m = metrics.get("acc", (8,), (8, 1))
    assert isinstance(m, metrics.BinaryAccuracy) and m.name == "acc"


def test_accuracy_values():
    b = metrics.BinaryAccuracy()
    b.update_state(np.array([1, 0, 1, 0]), np.array([[0.9], [0.6], [0.5], [0.1]]))
    assert b.result() == pytest.approx(0.5)
    b.update_state(np.array([1, 1]), np.array([[0.9], [0.8]]), sample_weight=[1.0, 3.0])
    assert b.result() == pytest.approx(6 / 8)
    b.reset_state()
    assert b.result() == 0.0
    c = metrics.CategoricalAccuracy()
    c.update_state(np.eye(3), np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0, 0, 1.0]]))
    assert c.result() == pytest.approx(2 / 3)
    s = metrics.SparseCategoricalAccuracy()
    s.update_state(np.array([[0], [2]]), np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]))
    assert s.result() == 1.0
    mean = metrics.Mean()
    mean.update_state([1.0, 3.0], sample_weight=[1.0, 3.0])
    assert mean.result() == pytest.approx(2.5)
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        metrics.get("nope")
