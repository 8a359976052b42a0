"""Pooling (max / average / global, forward and backward) vs NumPy oracles, every ISA, both dtypes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnext
import cnnext.ops as ops
import oracle_pooling as orc
from conftest import assert_close

CHANNELS = [1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 65]
# (H, W, pool_size, strides, padding): pool > stride, = stride, < stride, odd sizes, both paddings.
CONFIGS = [
    (6, 6, 2, None, "valid"),
    (7, 5, 2, None, "same"),
    (7, 9, (3, 2), (2, 1), "valid"),
    (5, 7, 3, 1, "same"),
    (9, 8, (2, 3), 3, "same"),
    (8, 7, 4, (3, 2), "valid"),
    (4, 3, 1, (2, 3), "same"),
]


def run_all(x, dy, pool, strides, padding, dtype):
    """Every pooling op against its oracle on one input (x, dy already of `dtype`)."""
    args = (pool, strides, padding)
    want_y, want_k = orc.max_pool2d_argmax(x, *args)
    assert_close(ops.max_pool2d(x, *args), want_y, dtype)
    assert_close(ops.avg_pool2d(x, *args), orc.avg_pool2d(x, *args), dtype)
    y, k = ops.max_pool2d_with_argmax(x, *args)
    assert_close(y, want_y, dtype)
    np.testing.assert_array_equal(k, want_k)
    want_dx = orc.max_pool2d_backward(dy, x, *args)
    assert_close(ops.max_pool2d_backward(dy, x, *args), want_dx, dtype, scale=4)
    assert_close(ops.max_pool2d_backward_from_argmax(dy, k, x.shape, *args), want_dx, dtype,
                 scale=4)
    assert_close(ops.avg_pool2d_backward(dy, x.shape, *args),
                 orc.avg_pool2d_backward(dy, x.shape, *args), dtype, scale=4)


def dy_for(x, pool, strides, padding, rng):
    oh, ow, _, _ = orc.geometry(x.shape[1], x.shape[2], pool, strides, padding)
    return rng.standard_normal((x.shape[0], oh, ow, x.shape[3])).astype(x.dtype)


# ---- correctness --------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_all_ops_match_oracle(isa, dtype, cfg):
    h, w, pool, strides, padding = cfg
    rng = np.random.default_rng(h * 100 + w)
    for c in CHANNELS:
        x = rng.standard_normal((2, h, w, c)).astype(dtype)
        run_all(x, dy_for(x, pool, strides, padding, rng), pool, strides, padding, dtype)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), h=st.integers(1, 11), w=st.integers(1, 11),
       c=st.sampled_from(CHANNELS + [2, 5, 13, 19, 37]), pool=st.tuples(st.integers(1, 4),
       st.integers(1, 4)), strides=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       padding=st.sampled_from(["valid", "same"]), seed=st.integers(0, 2**16))
def test_random_shapes_every_isa(n, h, w, c, pool, strides, padding, seed):
    if padding == "valid" and (h < pool[0] or w < pool[1]):
        h, w = h + pool[0], w + pool[1]
    rng = np.random.default_rng(seed)
    x64 = rng.standard_normal((n, h, w, c))
    for isa in cnnext.supported_isas():
        cnnext.set_isa(isa)
        try:
            for dtype in (np.float32, np.float64):
                x = x64.astype(dtype)
                run_all(x, dy_for(x, pool, strides, padding, rng), pool, strides, padding, dtype)
        finally:
            cnnext.set_isa(None)


def test_global_pooling(isa, dtype):
    rng = np.random.default_rng(3)
    for shape in [(2, 5, 7, 1), (3, 4, 4, 17), (1, 9, 3, 33), (2, 1, 1, 16), (1, 30, 30, 7)]:
        x = rng.standard_normal(shape).astype(dtype)
        n, _, _, c = shape
        assert_close(ops.global_avg_pool2d(x), orc.global_avg_pool2d(x), dtype)
        assert_close(ops.global_max_pool2d(x), orc.global_max_pool2d(x), dtype)
        assert_close(ops.global_avg_pool2d(x, keepdims=True),
                     orc.global_avg_pool2d(x).reshape(n, 1, 1, c), dtype)
        assert_close(ops.global_max_pool2d(x, keepdims=True),
                     orc.global_max_pool2d(x).reshape(n, 1, 1, c), dtype)
        dy = rng.standard_normal((n, c)).astype(dtype)
        pool = shape[1:3]
        want_avg = orc.avg_pool2d_backward(dy.reshape(n, 1, 1, c), shape, pool)
        want_max = orc.max_pool2d_backward(dy.reshape(n, 1, 1, c), x, pool)
        for d in (dy, dy.reshape(n, 1, 1, c)):
            assert_close(ops.global_avg_pool2d_backward(d, shape), want_avg, dtype)
            assert_close(ops.global_max_pool2d_backward(d, x), want_max, dtype)


def test_global_avg_long_reduction_float32(isa):
    x = np.random.default_rng(4).uniform(0, 1, (2, 300, 300, 5)).astype(np.float32)
    np.testing.assert_allclose(ops.global_avg_pool2d(x), orc.global_avg_pool2d(x), rtol=3e-6)


def test_keras_same_padding_average_divisor():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    y = ops.avg_pool2d(x, 2, 2, "same")
    assert y.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(y[0, :, :, 0], [[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2],
                                               [(6 + 7) / 2, 8]])
    np.testing.assert_array_equal(ops.max_pool2d(-x, 2, 2, "same")[0, :, :, 0], [[0, -2], [-6, -8]])
    # W=6, pool 3, stride 2, "same": 3 outputs, padding 1 cell, all of it on the right.
    r = np.arange(6.0).reshape(1, 1, 6, 1)
    np.testing.assert_array_equal(ops.max_pool2d(r, (1, 3), (1, 2), "same").ravel(), [2, 4, 5])
    np.testing.assert_allclose(ops.avg_pool2d(r, (1, 3), (1, 2), "same").ravel(), [1, 3, 4.5])
    np.testing.assert_array_equal(ops.max_pool2d_with_argmax(-r, (1, 3), (1, 2), "same")[1].ravel(),
                                  [0, 0, 0])
    # W=5, pool 3, stride 2, "same": padding 2 cells, one on each side.
    r = np.arange(5.0).reshape(1, 1, 5, 1)
    np.testing.assert_array_equal(ops.max_pool2d(-r, (1, 3), (1, 2), "same").ravel(), [0, -1, -3])
    np.testing.assert_array_equal(ops.max_pool2d_with_argmax(-r, (1, 3), (1, 2), "same")[1].ravel(),
                                  [1, 0, 0])


def test_nan_and_inf(isa, dtype):
    x = np.random.default_rng(5).standard_normal((2, 6, 7, 19)).astype(dtype)
    x[0, 0, 0, :] = np.nan
    x[0, 3, 4, 3] = np.inf
    x[1, 2, 2, 5] = -np.inf
    x[1, 4, :, 7] = -np.inf
    x[1, 5, 6, 18] = np.nan
    for padding in ("valid", "same"):
        y, k = ops.max_pool2d_with_argmax(x, 3, 2, padding)
        want_y, want_k = orc.max_pool2d_argmax(x, 3, 2, padding)
        np.testing.assert_array_equal(ops.max_pool2d(x, 3, 2, padding), want_y)  # NaN == NaN here
        np.testing.assert_array_equal(y, want_y)
        np.testing.assert_array_equal(k, want_k)
        assert np.isnan(y[0, 0, 0]).all() and np.isnan(ops.avg_pool2d(x, 3, 2, padding)[0, 0, 0]).all()
        assert_close(ops.avg_pool2d(x, 3, 2, padding), orc.avg_pool2d(x, 3, 2, padding), dtype)
    assert np.isnan(ops.global_max_pool2d(x)[0]).all()
    assert np.isnan(ops.global_max_pool2d(x)[1, 18])
    assert ops.global_max_pool2d(x)[1, 7] > -np.inf


def test_ties_first_max_wins(isa, dtype):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 3, (3, 8, 9, 21)).astype(dtype)  # many ties in every window
    dy = rng.standard_normal((3, 4, 4, 21)).astype(dtype)
    for strides in (2, 1):
        dyt = dy if strides == 2 else rng.standard_normal((3, 7, 8, 21)).astype(dtype)
        want = orc.max_pool2d_backward(dyt, x, 2, strides)
        assert_close(ops.max_pool2d_backward(dyt, x, 2, strides), want, dtype, scale=4)
        _, k = ops.max_pool2d_with_argmax(x, 2, strides)
        np.testing.assert_array_equal(k, orc.max_pool2d_argmax(x, 2, strides)[1])
    x = np.zeros((1, 2, 2, 3), dtype)
    _, k = ops.max_pool2d_with_argmax(x)
    np.testing.assert_array_equal(k, 0)
    dx = ops.max_pool2d_backward(np.ones((1, 1, 1, 3), dtype), x)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0], [0, 0]])


# ---- gradients: float64 central finite differences ----------------------------------------------

def numeric_grad(f, x, wgt, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (np.sum(f(xp) * wgt) - np.sum(f(xm) * wgt)) / (2 * eps)
    return g


@pytest.mark.parametrize("pool,strides,padding", [(2, None, "valid"), (3, 2, "same"),
                                                  ((2, 3), 1, "same"), (3, (1, 2), "valid")])
def test_finite_differences(pool, strides, padding):
    rng = np.random.default_rng(7)
    shape = (2, 5, 6, 3)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01 + rng.uniform(0, 1e-3, shape)
    args = (pool, strides, padding)
    y = ops.max_pool2d(x, *args)
    wgt = rng.standard_normal(y.shape)
    np.testing.assert_allclose(ops.max_pool2d_backward(wgt, x, *args),
                               numeric_grad(lambda v: ops.max_pool2d(v, *args), x, wgt), atol=1e-7)
    _, k = ops.max_pool2d_with_argmax(x, *args)
    np.testing.assert_allclose(ops.max_pool2d_backward_from_argmax(wgt, k, shape, *args),
                               numeric_grad(lambda v: ops.max_pool2d(v, *args), x, wgt), atol=1e-7)
    np.testing.assert_allclose(ops.avg_pool2d_backward(wgt, shape, *args),
                               numeric_grad(lambda v: ops.avg_pool2d(v, *args), x, wgt), atol=1e-7)


def test_finite_differences_global():
    rng = np.random.default_rng(8)
    shape = (2, 4, 3, 5)
    x = rng.permutation(np.prod(shape)).reshape(shape) * 0.01
    wgt = rng.standard_normal((2, 5))
    np.testing.assert_allclose(ops.global_max_pool2d_backward(wgt, x),
                               numeric_grad(ops.global_max_pool2d, x, wgt), atol=1e-7)
    np.testing.assert_allclose(ops.global_avg_pool2d_backward(wgt, shape),
                               numeric_grad(ops.global_avg_pool2d, x, wgt), atol=1e-7)


# ---- dtype rules, layouts, no writes, determinism -----------------------------------------------

def test_dtype_rules():
    xi = np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3)
    assert ops.max_pool2d(xi).dtype == np.float64
    assert ops.avg_pool2d(xi.astype(np.float16)).dtype == np.float64
    assert ops.global_max_pool2d(xi.tolist()).dtype == np.float64
    x32 = xi.astype(np.float32)
    assert ops.max_pool2d(x32).dtype == np.float32
    assert ops.global_avg_pool2d(x32).dtype == np.float32
    dy32 = np.ones((2, 2, 2, 3), np.float32)
    assert ops.max_pool2d_backward(dy32, x32).dtype == np.float32
    assert ops.max_pool2d_backward(dy32, xi).dtype == np.float64
    assert ops.avg_pool2d_backward(dy32, xi.shape).dtype == np.float32
    assert ops.avg_pool2d_backward(dy32.astype(int), xi.shape).dtype == np.float64
    _, k = ops.max_pool2d_with_argmax(x32)
    assert k.dtype == np.uint8
    assert ops.max_pool2d_backward_from_argmax(dy32, k, xi.shape).dtype == np.float32
    with pytest.raises(TypeError, match="array of real numbers"):
        ops.max_pool2d(np.ones((1, 2, 2, 1), complex))


def test_argmax_int32_for_large_windows(dtype):
    x = np.random.default_rng(9).standard_normal((2, 17, 18, 3)).astype(dtype)
    y, k = ops.max_pool2d_with_argmax(x, 17, 1)
    assert k.dtype == np.int32 and k.shape == (2, 1, 2, 3)
    want_y, want_k = orc.max_pool2d_argmax(x, 17, 1)
    assert_close(y, want_y, dtype)
    np.testing.assert_array_equal(k, want_k)
    dy = np.ones(y.shape, dtype)
    assert_close(ops.max_pool2d_backward_from_argmax(dy, k, x.shape, 17, 1),
                 orc.max_pool2d_backward(dy, x, 17, 1), dtype)


def test_non_contiguous_inputs_and_no_writes(dtype):
    rng = np.random.default_rng(10)
    base = rng.standard_normal((3, 12, 10, 9)).astype(dtype)
    views = [base[:, ::2, 1::2, ::2], base[::-1], np.asfortranarray(base), base.transpose(0, 2, 1, 3)]
    for x in views:
        keep = x.copy()
        xc = np.ascontiguousarray(x)
        dy = rng.standard_normal(ops.max_pool2d(xc, 3, 2, "same").shape).astype(dtype)
        dyv = np.asfortranarray(dy)
        dy_keep = dy.copy()
        np.testing.assert_array_equal(ops.max_pool2d(x, 3, 2, "same"), ops.max_pool2d(xc, 3, 2, "same"))
        np.testing.assert_array_equal(ops.avg_pool2d(x, 3, 2, "same"), ops.avg_pool2d(xc, 3, 2, "same"))
        np.testing.assert_array_equal(ops.max_pool2d_backward(dyv, x, 3, 2, "same"),
                                      ops.max_pool2d_backward(dy, xc, 3, 2, "same"))
        np.testing.assert_array_equal(ops.avg_pool2d_backward(dyv, x.shape, 3, 2, "same"),
                                      ops.avg_pool2d_backward(dy, x.shape, 3, 2, "same"))
        _, k = ops.max_pool2d_with_argmax(x, 3, 2, "same")
        k_keep = k.copy()
        ops.max_pool2d_backward_from_argmax(dyv, np.asfortranarray(k), x.shape, 3, 2, "same")
        np.testing.assert_array_equal(ops.global_max_pool2d(x), ops.global_max_pool2d(xc))
        np.testing.assert_array_equal(x, keep)
        np.testing.assert_array_equal(dy, dy_keep)
        np.testing.assert_array_equal(k, k_keep)


def test_deterministic_across_thread_counts():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 33, 35, 19)).astype(np.float32)
    y0 = ops.max_pool2d(x, 3, 2, "same")
    dy = rng.standard_normal(y0.shape).astype(np.float32)
    prev = cnnext.get_num_threads()

    def run():
        return [ops.max_pool2d(x, 3, 2, "same"), ops.avg_pool2d(x, 3, 2, "same"),
                ops.max_pool2d_backward(dy, x, 3, 2, "same"),
                ops.avg_pool2d_backward(dy, x.shape, 3, 2, "same"),
                ops.global_avg_pool2d(x), ops.max_pool2d_with_argmax(x, 3, 2, "same")[1]]
    try:
        cnnext.set_num_threads(1)
        one = run()
        for t in (2, 3):
            cnnext.set_num_threads(t)
            for a, b in zip(one, run()):
                np.testing.assert_array_equal(a, b)
    finally:
        cnnext.set_num_threads(prev)


def test_empty_batch_and_channels(dtype):
    for shape in [(0, 4, 4, 3), (2, 4, 4, 0)]:
        x = np.zeros(shape, dtype)
        oshape = (shape[0], 2, 2, shape[3])
        assert ops.max_pool2d(x).shape == oshape
        assert ops.avg_pool2d(x, 3, 2, "same").shape == oshape
        assert ops.max_pool2d_backward(np.zeros(oshape, dtype), x).shape == shape
        assert ops.avg_pool2d_backward(np.zeros(oshape, dtype), shape).shape == shape
        assert ops.global_avg_pool2d(x).shape == (shape[0], shape[3])


# ---- errors -----------------------------------------------------------------------------------

def test_errors():
    x = np.ones((2, 3, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"`x` must be a 4-D array \(N, H, W, C\). "
                                         r"Received: x.shape=\(3, 3, 4\)"):
        ops.max_pool2d(x[0])
    with pytest.raises(ValueError, match=r"4-D"):
        ops.global_avg_pool2d(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"`pool_size` must be positive. Received: pool_size=\(0, 1\)"):
        ops.max_pool2d(x, (0, 1))
    with pytest.raises(ValueError, match=r"`strides` must be positive. Received: strides=-1"):
        ops.avg_pool2d(x, 2, -1)
    with pytest.raises(TypeError, match=r"`pool_size` must be an int or a tuple of 2 ints"):
        ops.max_pool2d(x, 2.5)
    with pytest.raises(ValueError, match=r"`strides` must be an int or a tuple of 2 ints"):
        ops.max_pool2d(x, 2, (1, 2, 3))
    with pytest.raises(ValueError, match=r"`padding` must be 'valid' or 'same'. Received: padding='full'"):
        ops.max_pool2d(x, padding="full")
    with pytest.raises(ValueError, match=r"`pool_size` \(5, 5\) is larger than the input \(3, 3\) "
                                         r"with padding='valid'"):
        ops.max_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"`pool_size` \(2, 4\) is larger than the input \(3, 3\)"):
        ops.avg_pool2d_backward(np.ones((2, 1, 1, 4)), x.shape, (2, 4))
    with pytest.raises(ValueError, match=r"positive height and width"):
        ops.max_pool2d(np.ones((1, 0, 3, 2)), padding="same")
    with pytest.raises(ValueError, match=r"positive height and width"):
        ops.global_max_pool2d(np.ones((1, 3, 0, 2)))
    with pytest.raises(ValueError, match=r"`dy` must have the pooled output's shape \(2, 1, 1, 4\). "
                                         r"Received: dy.shape=\(2, 1, 1, 3\)"):
        ops.max_pool2d_backward(np.ones((2, 1, 1, 3)), x)
    with pytest.raises(ValueError, match=r"`dy` must have the pooled output's shape \(2, 2, 2, 4\)"):
        ops.avg_pool2d_backward(np.ones((2, 1, 1, 4)), x.shape, 2, 2, "same")
    with pytest.raises(ValueError, match=r"`dy` must have shape \(2, 4\) or \(2, 1, 1, 4\)"):
        ops.global_avg_pool2d_backward(np.ones((2, 3)), x.shape)
    with pytest.raises(ValueError, match=r"`dy` must have shape \(2, 4\)"):
        ops.global_max_pool2d_backward(np.ones((4, 2)), x)
    with pytest.raises(ValueError, match=r"`input_shape` must be a tuple of 4 non-negative ints"):
        ops.avg_pool2d_backward(np.ones((2, 1, 1, 4)), (2, 3, 3))
    with pytest.raises(ValueError, match=r"`input_shape` must be a tuple of 4 non-negative ints"):
        ops.global_avg_pool2d_backward(np.ones((2, 4)), (2, 3, -3, 4))
    with pytest.raises(TypeError, match=r"`keepdims` must be a bool. Received: keepdims=1"):
        ops.global_avg_pool2d(x, keepdims=1)
    with pytest.raises(TypeError, match=r"`keepdims` must be a bool. Received: keepdims='yes'"):
        ops.global_max_pool2d(x, keepdims="yes")


def test_argmax_errors():
    x = np.random.default_rng(12).standard_normal((2, 4, 4, 3)).astype(np.float32)
    y, k = ops.max_pool2d_with_argmax(x)
    with pytest.raises(TypeError, match=r"`argmax` must be the uint8 array returned by "
                                        r"max_pool2d_with_argmax. Received: int64"):
        ops.max_pool2d_backward_from_argmax(y, k.astype(np.int64), x.shape)
    with pytest.raises(TypeError, match=r"`argmax` must be the uint8 array .* Received: list"):
        ops.max_pool2d_backward_from_argmax(y, k.tolist(), x.shape)
    with pytest.raises(ValueError, match=r"`argmax` must have the pooled output's shape"):
        ops.max_pool2d_backward_from_argmax(y, k[:1], x.shape)
    with pytest.raises(ValueError, match=r"`argmax` holds window indices outside \[0, 4\)"):
        ops.max_pool2d_backward_from_argmax(y, k + 4, x.shape)
    with pytest.raises(ValueError, match=r"`dy` must have the pooled output's shape"):
        ops.max_pool2d_backward_from_argmax(y[:, :1], k, x.shape)


def test_core_rechecks_shapes():
    """The C++ layer re-validates, so a direct _core call cannot go out of bounds."""
    from cnnext import _core
    x = np.ones((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"max_pool2d: expected 4-D input"):
        _core.max_pool2d(x[0], 2, 2, 2, 2, False)
    with pytest.raises(ValueError, match=r"gives an empty output"):
        _core.avg_pool2d(x, 5, 5, 1, 1, False)
    with pytest.raises(ValueError, match=r"strides must be positive"):
        _core.max_pool2d(x, 2, 2, 0, 2, False)
    with pytest.raises(ValueError, match=r"too large"):
        _core.max_pool2d(x, 2**20, 2**20, 1, 1, True)
    with pytest.raises(ValueError, match=r"dy must have the pooled shape \(1, 2, 2, 2\)"):
        _core.max_pool2d_backward(np.ones((1, 2, 2, 3), np.float32), x, 2, 2, 2, 2, False)
    with pytest.raises(ValueError, match=r"argmax must have the pooled shape"):
        _core.max_pool2d_backward_from_argmax(np.ones((1, 2, 2, 2), np.float32),
                                              np.zeros((1, 2, 2, 1), np.uint8), [1, 4, 4, 2],
                                              2, 2, 2, 2, False)


@pytest.mark.parametrize("hw,pool", [(hw, p) for hw in [(4, 4), (5, 7), (13, 13), (26, 27), (3, 2)]
                                     for p in (2, 3) if min(hw) >= p])
def test_backward_from_argmax_writes_every_cell_of_a_reused_buffer(isa, dtype, hw, pool):
    """The tiled backward (strides == pool, 'valid') writes every dx cell itself, including the
    rows and columns no window covers: a reused buffer full of garbage must come back exact."""
    from cnnext import _core
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, *hw, 19)).astype(dtype)
    y, k = ops.max_pool2d_with_argmax(x, pool)
    dy = rng.standard_normal(y.shape).astype(dtype)
    want = orc.max_pool2d_backward(dy, x, pool)
    out = np.full(x.shape, np.nan, dtype)
    got = _core.max_pool2d_backward_from_argmax(dy, k, x.shape, pool, pool, pool, pool, False,
                                                out=out)
    assert got is out
    assert_close(out, want, dtype)
