"""cnnext.ops._norm: batch normalization over the last axis and masked dropout vs NumPy oracles."""
import numpy as np
import pytest
from conftest import assert_close

import cnnext
from cnnext.ops import _norm as N
import oracle_norm as O

CHANNELS = [1, 3, 15, 16, 17, 33, 64]
ROWS = [1, 2, 7, 31, 257]


def _data(rng, shape, dtype, offset=0.0):
    return (rng.standard_normal(shape) * 2 + offset).astype(dtype)


def _params(rng, c, dtype):
    return ((rng.random(c) + 0.5).astype(dtype), rng.standard_normal(c).astype(dtype))


# ---- Correctness ---------------------------------------------------------------------------------
@pytest.mark.parametrize("c", CHANNELS)
def test_forward_train_matches_oracle(isa, dtype, c):
    rng = np.random.default_rng(c)
    for m in ROWS:
        x = _data(rng, (m, c), dtype, offset=3.0)
        gamma, beta = _params(rng, c, dtype)
        y, mean, var, inv = N.batch_norm_forward_train(x, gamma, beta, 1e-3)
        ey, emean, evar, einv = O.bn_train(x, gamma, beta, 1e-3)
        assert_close(mean, emean, dtype, scale=4)
        assert_close(var, evar, dtype, scale=4)
        assert_close(inv, einv, dtype, scale=4)
        assert_close(y, ey, dtype, scale=20)


def test_forward_train_leading_axes_flattened(isa, dtype):
    rng = np.random.default_rng(1)
    x = _data(rng, (3, 5, 4, 17), dtype)
    gamma, beta = _params(rng, 17, dtype)
    y, mean, var, inv = N.batch_norm_forward_train(x, gamma, beta, 1e-5)
    ey, emean, evar, einv = O.bn_train(x, gamma, beta, 1e-5)
    assert y.shape == x.shape
    assert_close(y, ey, dtype, scale=20)
    assert_close(var, evar, dtype, scale=4)


def test_forward_train_one_row_gives_beta(dtype):
    x = np.array([[1.0, -2.0, 5.0]], dtype)
    y, mean, var, inv = N.batch_norm_forward_train(x, np.full(3, 2.0, dtype), np.arange(3, dtype=dtype), 1e-3)
    np.testing.assert_array_equal(var, 0)
    np.testing.assert_array_equal(y, [[0.0, 1.0, 2.0]])


def test_forward_train_large_offset_is_accurate(dtype):
    # Two-pass variance in double: no catastrophic cancellation from a large mean.
    rng = np.random.default_rng(2)
    x = (1e4 + rng.standard_normal((5000, 3))).astype(dtype)
    _, _, var, _ = N.batch_norm_forward_train(x, None, None, 1e-3)
    np.testing.assert_allclose(var, x.astype(np.float64).var(0), rtol=1e-6)


@pytest.mark.parametrize("c", CHANNELS)
def test_forward_infer_matches_oracle(isa, dtype, c):
    rng = np.random.default_rng(100 + c)
    for m in (1, 13, 64):
        x = _data(rng, (m, c), dtype)
        gamma, beta = _params(rng, c, dtype)
        mm, mv = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.1).astype(dtype)
        y = N.batch_norm_forward_infer(x, gamma, beta, mm, mv, 1e-3)
        assert_close(y, O.bn_infer(x, gamma, beta, mm, mv, 1e-3), dtype, scale=20)


@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("batch_stats", [True, False])
def test_backward_matches_oracle(isa, dtype, c, batch_stats):
    rng = np.random.default_rng(200 + c)
    for m in ROWS:
        x = _data(rng, (m, c), dtype, offset=1.0)
        dy = _data(rng, (m, c), dtype)
        gamma, beta = _params(rng, c, dtype)
        _, mean, _, inv = N.batch_norm_forward_train(x, gamma, beta, 1e-3)
        dx, dgamma, dbeta = N.batch_norm_backward(dy, x, gamma, mean, inv, batch_stats)
        edx, edgamma, edbeta = O.bn_backward(dy, x, gamma, mean, inv, batch_stats)
        s = np.sqrt(m) * 10
        assert_close(dbeta, edbeta, dtype, scale=s)
        assert_close(dgamma, edgamma, dtype, scale=s)
        assert_close(dx, edx, dtype, scale=100)


def test_backward_finite_differences():
    rng = np.random.default_rng(3)
    m, c, eps = 6, 3, 1e-3
    x = rng.standard_normal((m, c))
    gamma, beta = rng.random(c) + 0.5, rng.standard_normal(c)
    w = rng.standard_normal((m, c))  # loss = sum(w * y)

    def loss(x, gamma, beta):
        return float((w * N.batch_norm_forward_train(x, gamma, beta, eps)[0]).sum())

    _, mean, _, inv = N.batch_norm_forward_train(x, gamma, beta, eps)
    dx, dgamma, dbeta = N.batch_norm_backward(w, x, gamma, mean, inv)
    h = 1e-6
    for arr, grad in ((x, dx), (gamma, dgamma), (beta, dbeta)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            orig = arr[i]
            arr[i] = orig + h
            up = loss(x, gamma, beta)
            arr[i] = orig - h
            down = loss(x, gamma, beta)
            arr[i] = orig
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", [1, 7, 16, 17, 1000])
def test_dropout_matches_oracle(isa, dtype, n):
    rng = np.random.default_rng(n)
    x = _data(rng, (n, 3), dtype)
    mask = rng.random((n, 3)) >= 0.4
    scale = 1 / 0.6
    y = N.dropout_apply(x, mask, scale)
    np.testing.assert_array_equal(y, x * (mask.astype(dtype) * dtype(scale)))
    y8 = N.dropout_apply(x, mask.astype(np.uint8), scale)
    np.testing.assert_array_equal(y8, y)


def test_dropout_broadcast_mask_and_nan():
    x = np.array([[np.nan, 1.0], [2.0, 3.0]])
    y = N.dropout_apply(x, np.array([False, True]), 2.0)
    np.testing.assert_array_equal(y, [[np.nan, 2.0], [0.0, 6.0]])


def test_inputs_not_modified(dtype):
    rng = np.random.default_rng(4)
    x = _data(rng, (9, 5), dtype)
    x0 = x.copy()
    N.batch_norm_forward_train(x, None, None, 1e-3)
    N.dropout_apply(x, x > 0, 2.0)
    np.testing.assert_array_equal(x, x0)


# ---- Determinism ---------------------------------------------------------------------------------
def test_thread_count_does_not_change_bits(dtype):
    rng = np.random.default_rng(5)
    x = _data(rng, (40000, 5), dtype, offset=2.0)
    dy = _data(rng, (40000, 5), dtype)
    gamma, beta = _params(rng, 5, dtype)
    prev = cnnext.get_num_threads()
    results = []
    try:
        for t in (1, 2, 3):
            cnnext.set_num_threads(t)
            fwd = N.batch_norm_forward_train(x, gamma, beta, 1e-3)
            bwd = N.batch_norm_backward(dy, x, gamma, fwd[1], fwd[3])
            results.append(fwd + bwd)
    finally:
        cnnext.set_num_threads(prev)
    for r in results[1:]:
        for a, b in zip(results[0], r):
            np.testing.assert_array_equal(a, b)


# ---- Basic: errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0, -1e-3, float("nan"), True])
def test_epsilon_must_be_positive(eps):
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="`epsilon` must be a positive finite number"):
        N.batch_norm_forward_train(x, None, None, eps)
    with pytest.raises(ValueError, match="`epsilon` must be a positive finite number"):
        N.batch_norm_forward_infer(x, None, None, np.zeros(3), np.ones(3), eps)


def test_shape_errors():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"`gamma` must have shape \(3,\).*gamma.shape=\(4,\)"):
        N.batch_norm_forward_train(x, np.ones(4), None)
    with pytest.raises(ValueError, match=r"`moving_variance` must have shape \(3,\)"):
        N.batch_norm_forward_infer(x, None, None, np.zeros(3), np.ones((1, 3)))
    with pytest.raises(ValueError, match="`dy` must have the shape of `x`"):
        N.batch_norm_backward(np.ones((4, 2)), x, None, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="non-empty last"):
        N.batch_norm_forward_train(np.float64(1.0))
    with pytest.raises(ValueError, match="at least one row"):
        N.batch_norm_forward_train(np.ones((0, 3)))
    with pytest.raises(ValueError, match="broadcastable"):
        N.dropout_apply(x, np.ones(4, bool), 1.0)
    with pytest.raises(TypeError, match="bool or uint8"):
        N.dropout_apply(x, np.ones((4, 3)), 1.0)
    with pytest.raises(ValueError, match="finite number"):
        N.dropout_apply(x, np.ones((4, 3), bool), float("inf"))


def test_core_checks_shapes():
    from cnnext import _core
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"batch_norm_forward_train: `gamma` must have shape \(3,\)"):
        _core.batch_norm_forward_train(x, np.ones(2), np.ones(3), 1e-3)
    with pytest.raises(ValueError, match="epsilon must be positive"):
        _core.batch_norm_forward_train(x, np.ones(3), np.ones(3), 0.0)
    with pytest.raises(ValueError, match="mask shape"):
        _core.dropout_apply(x, np.ones((4, 2), np.uint8), 1.0)


# ---- the Keras-mirror layers built on these ops --------------------------------------------------
def _layer_fd(layer, x, training=True, h=1e-6):
    """Compare layer.backward (dx, then trainable weights) with float64 central differences."""
    r = np.random.default_rng(9).standard_normal(x.shape)
    layer.forward(x, training)
    dx = layer.backward(r.copy(), need_dx=True)
    grads = list(layer._grads)

    def fd(arr):
        num = np.zeros(arr.shape)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + h
            up = float((layer.forward(x, training) * r).sum())
            arr[i] = old - h
            down = float((layer.forward(x, training) * r).sum())
            arr[i] = old
            num[i] = (up - down) / (2 * h)
        return num

    np.testing.assert_allclose(dx, fd(x), rtol=1e-5, atol=1e-7)
    for var, g in zip(layer._trainable_vars, grads):
        np.testing.assert_allclose(g, fd(var.value), rtol=1e-5, atol=1e-7, err_msg=var.name)


@pytest.mark.parametrize("kwargs", [dict(axis=1), dict(center=False), dict(scale=False),
                                    dict(axis=-2, center=False, scale=False)])
def test_batch_normalization_layer_gradients(kwargs):
    from cnnext import layers as L
    layer = L.BatchNormalization(momentum=1.0, dtype="float64", **kwargs)  # momentum 1: stats frozen
    x = np.random.default_rng(10).standard_normal((3, 4, 5)) * 2 + 1
    layer.build_output_shape((None, 4, 5))
    for v in layer._trainable_vars:
        v.value[...] = np.random.default_rng(11).random(v.value.shape) + 0.5
    _layer_fd(layer, x)


def test_batch_normalization_layer_frozen_statistics():
    from cnnext import layers as L
    layer = L.BatchNormalization(dtype="float64")
    layer.build_output_shape((None, 3))
    layer.moving_mean.value[...] = [0.5, -1.0, 2.0]
    layer.moving_variance.value[...] = [2.0, 0.5, 1.5]
    layer.trainable = False  # training=True then uses (and differentiates through) moving stats
    x = np.random.default_rng(12).standard_normal((5, 3))
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, (x - [0.5, -1.0, 2.0]) / np.sqrt(np.array([2.0, 0.5, 1.5])
                                                                    + 1e-3), rtol=1e-12)
    _layer_fd(layer, x)


def test_batch_normalization_layer_axis1_matches_oracle():
    from cnnext import layers as L
    layer = L.BatchNormalization(axis=1)
    x = (np.random.default_rng(13).standard_normal((4, 3, 5)) * 3 + 2).astype(np.float32)
    y = layer(x, training=True)
    a = x.astype(np.float64)
    ref = (a - a.mean((0, 2), keepdims=True)) / np.sqrt(a.var((0, 2), keepdims=True) + 1e-3)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.99 + 0.01 * a.var((0, 2)),
                               rtol=1e-6)


def test_dropout_layer_noise_shape_and_backward():
    from cnnext import layers as L
    layer = L.Dropout(0.5, noise_shape=(None, 1, 4), seed=3)
    x = np.random.default_rng(14).standard_normal((2, 3, 4)).astype(np.float32)
    y = layer.forward(x, training=True)
    keep = np.random.default_rng(3).random((2, 1, 4), dtype=np.float32) >= 0.5
    np.testing.assert_array_equal(y, x * (keep.astype(np.float32) * np.float32(2.0)))
    dy = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dy), np.broadcast_to(keep * 2.0, x.shape))
