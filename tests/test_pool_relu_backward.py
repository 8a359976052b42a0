"""max_pool2d_relu_backward_from_argmax: the backward of maxpool(relu(z)) in one pass (relu mask on
the pooled output, arg-max scatter, optional conv bias gradient) against the float64 oracle and
against the three separate ops it replaces, every ISA level, float32 and float64."""
import numpy as np
import pytest

import cnnext.ops as ops
from cnnext import _backend, _core
from conftest import TOL, assert_close
import oracle_pool_relu as orc
from test_dense import _with_threads

# (N, H, W, C, pool, strides, padding): the seed layer, tiles (strides == pool, 'valid') with odd
# leftovers, overlapping and padded windows (the general scatter), C around the vector widths.
CONFIGS = [
    (3, 26, 26, 32, 2, None, "valid"),
    (2, 5, 7, 19, 2, None, "valid"),
    (2, 9, 10, 7, 3, None, "valid"),
    (1, 8, 8, 16, 2, None, "valid"),
    (2, 6, 6, 17, 2, None, "valid"),
    (1, 7, 5, 9, (2, 3), None, "valid"),
    (2, 13, 13, 33, 3, 2, "same"),
    (1, 7, 6, 1, (2, 3), 1, "same"),
    (2, 9, 9, 5, 3, 2, "valid"),
    (1, 6, 7, 15, 2, None, "same"),
    (2, 5, 5, 8, 2, 1, "valid"),
]


def _core_args(shape, pool, strides, padding):
    geo, _ = ops._pooling._geometry(shape, pool, strides, padding)
    return geo


def _inputs(rng, cfg, dtype):
    """z -> a = relu(z) -> (y, argmax) = maxpool(a); dy random. About a third of y is 0."""
    n, h, w, c, pool, strides, padding = cfg
    z = (rng.standard_normal((n, h, w, c)) - 0.8).astype(dtype)
    a = np.maximum(z, 0)
    y, k = ops.max_pool2d_with_argmax(a, pool, strides, padding)
    dy = rng.standard_normal(y.shape).astype(dtype)
    return z.shape, y, k, dy


def _fused(dy, y, k, shape, geo, **kw):
    return _core.max_pool2d_relu_backward_from_argmax(dy, y, k, shape, *geo, **kw)


def _separate(dy, y, k, shape, geo):
    masked = _core.relu_backward(dy, y, None)
    return _core.max_pool2d_backward_from_argmax(masked, k, shape, *geo), masked


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("idx_dtype", [np.uint8, np.int32])
def test_matches_oracle_and_separate_ops(isa, dtype, cfg, idx_dtype):
    rng = np.random.default_rng(sum(map(hash, map(str, cfg))) % 2**32)
    shape, y, k, dy = _inputs(rng, cfg, dtype)
    k = k.astype(idx_dtype)
    geo = _core_args(shape, *cfg[4:])
    saved = [a.copy() for a in (dy, y, k)]
    dx, db = _fused(dy, y, k, shape, geo, bias_grad=True)
    want_dx, want_db = orc.max_pool2d_relu_backward(dy, y, k, shape, *cfg[4:])
    assert_close(dx, want_dx, dtype)
    count = np.prod(y.shape[:3])
    assert_close(db, want_db, dtype, np.sqrt(count))
    # dx is bit for bit the relu_backward + max_pool2d_backward_from_argmax composition.
    sep_dx, masked = _separate(dy, y, k, shape, geo)
    np.testing.assert_array_equal(_bits(dx), _bits(sep_dx))
    assert_close(db, _core.conv2d_backprop_bias(masked, None), dtype, np.sqrt(count))
    np.testing.assert_array_equal(_bits(_fused(dy, y, k, shape, geo)), _bits(dx))  # dx alone
    for a, b in zip((dy, y, k), saved):
        np.testing.assert_array_equal(a, b)


def test_int32_argmax_of_a_large_window(isa, dtype):
    rng = np.random.default_rng(4)
    cfg = (2, 19, 18, 10, 17, 1, "valid")
    shape, y, k, dy = _inputs(rng, cfg, dtype)
    assert k.dtype == np.int32
    dx, db = _fused(dy, y, k, shape, _core_args(shape, *cfg[4:]), bias_grad=True)
    want_dx, want_db = orc.max_pool2d_relu_backward(dy, y, k, shape, *cfg[4:])
    assert_close(dx, want_dx, dtype, 4)
    assert_close(db, want_db, dtype, 4)


@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[6], (1, 4, 4, 40, 2, None, "valid")])
def test_nan_and_inf(isa, dtype, cfg):
    """NaN/inf in dy pass where y > 0 and become NaN where y <= 0 (inf * 0), as relu_backward;
    NaN in y masks; every value matches the separate ops bit for bit."""
    rng = np.random.default_rng(9)
    shape, y, k, dy = _inputs(rng, cfg, dtype)
    flat_dy, flat_y = dy.reshape(-1), y.reshape(-1)
    pos, zero = np.flatnonzero(flat_y > 0), np.flatnonzero(flat_y == 0)
    flat_dy[pos[:3]] = [np.nan, np.inf, -np.inf]
    flat_dy[zero[:3]] = [np.nan, np.inf, -np.inf]
    flat_y[pos[3:5]] = [np.nan, np.inf]
    geo = _core_args(shape, *cfg[4:])
    dx, db = _fused(dy, y, k, shape, geo, bias_grad=True)
    want_dx, want_db = orc.max_pool2d_relu_backward(dy, y, k, shape, *cfg[4:])
    assert np.isnan(dx).any() and np.isnan(db).any()
    with np.errstate(invalid="ignore"):
        assert_close(dx, want_dx, dtype)
        assert_close(db, want_db, dtype, np.sqrt(y.size))
    np.testing.assert_array_equal(_bits(dx), _bits(_separate(dy, y, k, shape, geo)[0]))


@pytest.mark.parametrize("cfg", [(7, 26, 26, 32, 2, None, "valid"),
                                 (5, 27, 25, 21, 3, 2, "same")])
def test_bitwise_identical_across_thread_counts(isa, dtype, cfg):
    rng = np.random.default_rng(2)
    shape, y, k, dy = _inputs(rng, cfg, dtype)
    geo = _core_args(shape, *cfg[4:])

    def run():
        return _fused(dy, y, k, shape, geo, bias_grad=True)

    dx1, db1 = _with_threads(1, run)
    for n in (2, 3):
        dx, db = _with_threads(n, run)
        np.testing.assert_array_equal(_bits(dx), _bits(dx1))
        np.testing.assert_array_equal(_bits(db), _bits(db1))


def _numeric_grad(loss, v, eps=1e-6):
    g = np.zeros_like(v)
    for i in np.ndindex(*v.shape):
        vp, vm = v.copy(), v.copy()
        vp[i] += eps
        vm[i] -= eps
        g[i] = (loss(vp) - loss(vm)) / (2 * eps)
    return g


@pytest.mark.parametrize("cfg", [(2, 6, 6, 3, 2, None, "valid"), (2, 5, 6, 3, 3, 2, "same"),
                                 (1, 5, 7, 4, (2, 3), 1, "valid")])
def test_finite_differences(cfg):
    """float64: dx = dL/dz and db = dL/db for L = sum(w * maxpool(relu(z + b)))."""
    rng = np.random.default_rng(7)
    shape, args = cfg[:4], cfg[4:]
    # Distinct values at least 1e-3 apart and away from 0, so +-eps changes no max and no mask.
    z = (rng.permutation(np.prod(shape)).reshape(shape) - np.prod(shape) * 0.75 + 0.5) * 2e-3
    b = np.zeros(shape[3])
    y, k = ops.max_pool2d_with_argmax(np.maximum(z, 0), *args)
    w = rng.standard_normal(y.shape)
    dx, db = _fused(w, y, k, shape, _core_args(shape, *args), bias_grad=True)

    def loss(z, b):
        return float(np.sum(w * ops.max_pool2d(np.maximum(z + b, 0), *args)))

    num_dx = _numeric_grad(lambda v: loss(v, b), z)
    num_db = _numeric_grad(lambda v: loss(z, v), b)
    assert np.count_nonzero(y > 0) > 0 and np.count_nonzero(y == 0) > 0
    np.testing.assert_allclose(dx, num_dx, atol=1e-7)
    np.testing.assert_allclose(db, num_db, atol=1e-7)


@pytest.mark.parametrize("cfg", [CONFIGS[0], CONFIGS[6]])
def test_out_buffers_are_reused(isa, dtype, cfg):
    rng = np.random.default_rng(3)
    shape, y, k, dy = _inputs(rng, cfg, dtype)
    geo = _core_args(shape, *cfg[4:])
    want_dx, want_db = orc.max_pool2d_relu_backward(dy, y, k, shape, *cfg[4:])
    out, bias_out = np.full(shape, np.nan, dtype), np.full(shape[3], np.nan, dtype)
    for _ in range(2):
        dx, db = _fused(dy, y, k, shape, geo, out=out, bias_grad=True, bias_out=bias_out)
        assert dx is out and db is bias_out
        assert_close(out, want_dx, dtype)
        assert_close(bias_out, want_db, dtype, np.sqrt(y.size))
        out.fill(7.0)
        bias_out.fill(7.0)


def test_empty_batch_gives_zero_bias_gradient(dtype):
    shape = (0, 4, 4, 3)
    y, k = np.zeros((0, 2, 2, 3), dtype), np.zeros((0, 2, 2, 3), np.uint8)
    dx, db = _fused(y, y, k, shape, (2, 2, 2, 2, False), bias_grad=True)
    assert dx.shape == shape and db.dtype == dtype
    np.testing.assert_array_equal(db, np.zeros(3))


def test_core_errors():
    x = np.ones((1, 4, 4, 2), np.float32)
    p, k = np.ones((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.uint8)
    f = _core.max_pool2d_relu_backward_from_argmax
    geo = (2, 2, 2, 2, False)
    with pytest.raises(ValueError, match=r"max_pool2d_relu_backward_from_argmax: dy must have the "
                                         r"pooled shape \(1, 2, 2, 2\), but got \(1, 2, 2, 1\)"):
        f(p[..., :1].copy(), p, k, x.shape, *geo)
    with pytest.raises(ValueError, match=r"y must have the pooled shape \(1, 2, 2, 2\), but got "
                                         r"\(1, 2, 1, 2\)"):
        f(p, p[:, :, :1].copy(), k, x.shape, *geo)
    with pytest.raises(ValueError, match=r"argmax must have the pooled shape"):
        f(p, p, k[:, :1].copy(), x.shape, *geo)
    with pytest.raises(ValueError, match=r"expected 4-D input"):
        f(p, p, k, x.shape[1:], *geo)
    with pytest.raises(ValueError, match=r"bias_out is given but bias_grad is False"):
        f(p, p, k, x.shape, *geo, bias_out=np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2,\), but got \(3,\)"):
        f(p, p, k, x.shape, *geo, bias_grad=True, bias_out=np.zeros(3, np.float32))
    with pytest.raises(TypeError, match=r"`out` must have dtype float32, but got float64"):
        f(p, p, k, x.shape, *geo, bias_grad=True, bias_out=np.zeros(2))
    with pytest.raises(ValueError, match=r"`out` must have shape \(1, 4, 4, 2\)"):
        f(p, p, k, x.shape, *geo, out=np.zeros((1, 4, 4, 3), np.float32))
    with pytest.raises(TypeError):  # mixed float dtypes match no overload
        f(p, p.astype(np.float64), k, x.shape, *geo)


def test_backend_wrapper(dtype):
    rng = np.random.default_rng(6)
    cfg = (2, 9, 9, 5, 3, 2, "same")
    shape, y, k, dy = _inputs(rng, cfg, dtype)
    args = cfg[4:]
    want_dx, want_db = orc.max_pool2d_relu_backward(dy, y, k, shape, *args)
    out, bias_out = np.empty(shape, dtype), np.empty(shape[3], dtype)
    dx, db = _backend.max_pool2d_relu_backward(dy, y, k, shape, *args, out=out, bias_grad=True,
                                               bias_out=bias_out)
    assert dx is out and db is bias_out
    assert_close(dx, want_dx, dtype)
    assert_close(db, want_db, dtype, np.sqrt(y.size))
    dx_only = _backend.max_pool2d_relu_backward(dy, y, k, list(shape), *args)
    np.testing.assert_array_equal(_bits(dx_only), _bits(dx))
    # Non-contiguous inputs take the separate public ops: same gradient.
    dy_f, y_f = np.asfortranarray(dy), np.asfortranarray(y)
    dx2, db2 = _backend.max_pool2d_relu_backward(dy_f, y_f, k, shape, *args, bias_grad=True)
    np.testing.assert_array_equal(_bits(dx2), _bits(dx))
    assert_close(db2, want_db, dtype, np.sqrt(y.size))
    with pytest.raises(TypeError, match=r"`argmax` must be the uint8 array returned by "
                                        r"max_pool2d_with_argmax. Received: int64"):
        _backend.max_pool2d_relu_backward(dy, y, k.astype(np.int64), shape, *args)


def test_float32_bias_sum_of_a_long_batch(isa):
    """A float32 sum over 256 x 13 x 13 pooled pixels stays within TOL of the float64 sum."""
    rng = np.random.default_rng(12)
    cfg = (256, 26, 26, 8, 2, None, "valid")
    shape, y, k, dy = _inputs(rng, cfg, np.float32)
    dy += 3.0  # a large mean makes a naive running sum drift
    _, db = _fused(dy, y, k, shape, _core_args(shape, *cfg[4:]), bias_grad=True)
    want = orc.relu_backward(dy, y).sum(axis=(0, 1, 2))
    np.testing.assert_allclose(db, want, rtol=TOL[np.float32]["rtol"])
