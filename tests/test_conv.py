"""conv2d and its gradients vs the NumPy float64 oracle (tests/oracle_conv.py), every ISA level,
float32 and float64; float64 finite differences for every backward op; errors; determinism."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnnext
import cnnext.ops as ops
from cnnext import _core
from conftest import assert_close
from oracle_conv import (conv_geometry, np_conv2d, np_conv2d_backprop_input,
                         np_conv2d_backprop_kernel)

EDGES = [1, 3, 7, 8, 15, 16, 17, 31, 32, 33]


def _data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _check_all(case, dtype, activation=None, seed=0):
    """Forward (with bias), backprop_input, backprop_kernel and bias grad vs the oracle."""
    x_shape, k_shape, strides, padding, dil = case
    x, w = _data(x_shape, dtype, seed), _data(k_shape, dtype, seed + 1)
    b = _data(k_shape[3], dtype, seed + 2)
    kw = dict(strides=strides, padding=padding, dilation_rate=dil)
    scale = k_shape[0] * k_shape[1] * k_shape[2]
    y = ops.conv2d(x, w, b, activation=activation, **kw)
    assert_close(y, np_conv2d(x, w, b, activation=activation, **kw), dtype, scale)
    dy = _data(y.shape, dtype, seed + 3)
    assert_close(ops.conv2d_backprop_input(dy, w, x_shape, **kw),
                 np_conv2d_backprop_input(dy, w, x_shape, **kw), dtype, scale)
    npix = y.shape[0] * y.shape[1] * y.shape[2]
    assert_close(ops.conv2d_backprop_kernel(x, dy, k_shape, **kw),
                 np_conv2d_backprop_kernel(x, dy, k_shape, **kw), dtype, max(npix, 1))
    assert_close(ops.conv2d_backprop_bias(dy), dy.astype(np.float64).sum((0, 1, 2)), dtype,
                 max(npix, 1))


# ---- Basic ------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding,strides,dil,expected", [
    ("valid", 1, 1, (2, 26, 26, 4)), ("same", 1, 1, (2, 28, 28, 4)),
    ("same", 2, 1, (2, 14, 14, 4)), ("valid", 2, 1, (2, 13, 13, 4)),
    ("valid", 1, 2, (2, 24, 24, 4)), ("same", 3, 2, (2, 10, 10, 4)),
    ("valid", (1, 3), (2, 1), (2, 24, 9, 4))])
def test_output_shape(padding, strides, dil, expected):
    y = ops.conv2d(np.ones((2, 28, 28, 1), np.float32), np.ones((3, 3, 1, 4), np.float32),
                   strides=strides, padding=padding, dilation_rate=dil)
    assert y.shape == expected and y.dtype == np.float32


def test_same_padding_split_matches_tf():
    # H=4, k=4, s=1: total pad 3 -> 1 on top, 2 at the bottom (TF puts the extra one last).
    assert conv_geometry(4, 4, 1, 1, "same") == (4, 1, 2)
    x = np.arange(4.0).reshape(1, 4, 1, 1)
    w = np.zeros((4, 1, 1, 1))
    w[0] = 1  # output row i reads input row i - 1
    np.testing.assert_array_equal(ops.conv2d(x, w, padding="same").ravel(), [0, 0, 1, 2])


def test_dtype_rules():
    x, w = np.ones((1, 4, 4, 2), np.float32), np.ones((3, 3, 2, 3), np.float32)
    assert ops.conv2d(x, w).dtype == np.float32
    assert ops.conv2d(x.astype(int), w.astype(int)).dtype == np.float64
    assert ops.conv2d(x, w.astype(np.float64)).dtype == np.float64
    assert ops.conv2d(x, w, np.zeros(3)).dtype == np.float64
    assert ops.conv2d(x.astype(np.float16), w).dtype == np.float64
    dy = np.ones((1, 2, 2, 3), np.int32)
    assert ops.conv2d_backprop_input(dy, w, x.shape).dtype == np.float64
    assert ops.conv2d_backprop_kernel(x, dy, w.shape).dtype == np.float64
    assert ops.conv2d_backprop_bias(dy).dtype == np.float64
    assert ops.conv2d_backprop_bias(dy.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(ops.conv2d(x.astype(int), w.astype(int)), 18.0)


def test_non_contiguous_and_inputs_unchanged(dtype):
    base = _data((3, 12, 10, 6), dtype, 5)
    x = base[::2, ::2, :, ::2]  # strided view, shape (2, 6, 10, 3)
    w = np.asfortranarray(_data((3, 2, 3, 4), dtype, 6))
    keep_base, keep_w = base.copy(), w.copy()
    y = ops.conv2d(x, w, padding="same")
    assert_close(y, np_conv2d(x, w, padding="same"), dtype, 18)
    dy = _data(y.shape, dtype, 7)[:, ::-1]
    keep_dy = dy.copy()
    assert_close(ops.conv2d_backprop_input(dy, w, x.shape, padding="same"),
                 np_conv2d_backprop_input(dy, w, x.shape, padding="same"), dtype, 18)
    assert_close(ops.conv2d_backprop_kernel(x, dy, w.shape, padding="same"),
                 np_conv2d_backprop_kernel(x, dy, w.shape, padding="same"), dtype, 120)
    ops.conv2d_backprop_bias(dy)
    for a, keep in [(base, keep_base), (w, keep_w), (dy, keep_dy)]:
        np.testing.assert_array_equal(a, keep)


def test_out_argument(dtype):
    x, w, b = _data((2, 7, 6, 3), dtype, 0), _data((3, 3, 3, 5), dtype, 1), _data(5, dtype, 2)
    dy = _data((2, 7, 6, 5), dtype, 3)
    kw = dict(padding="same", strides=1)
    cases = [(lambda o: ops.conv2d(x, w, b, activation="relu", out=o, **kw),
              np_conv2d(x, w, b, activation="relu", **kw)),
             (lambda o: ops.conv2d_backprop_input(dy, w, x.shape, out=o, **kw),
              np_conv2d_backprop_input(dy, w, x.shape, **kw)),
             (lambda o: ops.conv2d_backprop_kernel(x, dy, w.shape, out=o, **kw),
              np_conv2d_backprop_kernel(x, dy, w.shape, **kw)),
             (lambda o: ops.conv2d_backprop_bias(dy, out=o), dy.astype(np.float64).sum((0, 1, 2)))]
    for call, expected in cases:
        out = np.full(expected.shape, np.nan, dtype)
        assert call(out) is out
        assert_close(out, expected, dtype, 200)
        with pytest.raises(TypeError, match="`out` must have dtype"):
            call(np.empty(expected.shape, np.float16))
        with pytest.raises(ValueError, match="`out` must have shape"):
            call(np.empty(expected.shape + (1,), dtype))
        strided = np.empty(expected.shape[:-1] + (2 * expected.shape[-1],), dtype)[..., ::2]
        with pytest.raises(ValueError, match="`out` must be C-contiguous"):
            call(strided)


def test_out_overlapping_an_input_is_safe():
    # 1x1 conv with C == F written over its own input: computed through a temporary.
    x = _data((2, 5, 5, 4), np.float64, 0)
    w = _data((1, 1, 4, 4), np.float64, 1)
    expected = np_conv2d(x, w)
    assert ops.conv2d(x, w, out=x) is x
    np.testing.assert_allclose(x, expected, rtol=1e-12, atol=1e-13)


def test_empty_batch_and_zero_filters():
    y = ops.conv2d(np.ones((0, 5, 5, 2)), np.ones((3, 3, 2, 4)))
    assert y.shape == (0, 3, 3, 4)
    assert ops.conv2d(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 0))).shape == (1, 3, 3, 0)
    dk = ops.conv2d_backprop_kernel(np.ones((0, 5, 5, 2)), np.ones((0, 3, 3, 4)), (3, 3, 2, 4))
    np.testing.assert_array_equal(dk, np.zeros((3, 3, 2, 4)))
    dx = ops.conv2d_backprop_input(np.ones((1, 3, 3, 0)), np.ones((3, 3, 2, 0)), (1, 5, 5, 2))
    np.testing.assert_array_equal(dx, np.zeros((1, 5, 5, 2)))
    np.testing.assert_array_equal(ops.conv2d_backprop_bias(np.ones((0, 2, 2, 3))), np.zeros(3))


def test_nan_propagates():
    x = np.ones((1, 6, 6, 2))
    x[0, 2, 3, 1] = np.nan
    w = np.ones((3, 3, 2, 2))
    np.testing.assert_array_equal(np.isnan(ops.conv2d(x, w, padding="same")),
                                  np.isnan(np_conv2d(x, w, padding="same")))


# ---- Correctness vs the oracle ----------------------------------------------------------------

CASES = [
    ((2, 7, 9, 3), (3, 2, 3, 5), 1, "valid", 1),
    ((2, 7, 9, 3), (3, 3, 3, 5), (2, 3), "same", 1),
    ((1, 8, 8, 2), (3, 3, 2, 4), 1, "same", (2, 3)),
    ((2, 9, 10, 3), (2, 3, 3, 4), 2, "same", 2),     # strides and dilation together
    ((3, 5, 6, 4), (1, 1, 4, 7), 1, "valid", 1),     # pointwise, few channels: direct kernel
    ((3, 5, 6, 17), (1, 1, 17, 7), 1, "valid", 1),   # pointwise fast path (no im2col)
    ((3, 5, 6, 17), (1, 1, 17, 7), 2, "same", 1),    # 1x1 with strides: im2col path
    ((2, 9, 10, 12), (3, 2, 12, 5), (2, 1), "same", (1, 3)),
    ((2, 2, 3, 3), (5, 5, 3, 2), 1, "same", 1),      # kernel larger than the input
    ((1, 1, 1, 3), (4, 3, 3, 2), (2, 1), "same", 3),
    ((4, 28, 28, 1), (3, 3, 1, 32), 1, "valid", 1),  # the seed model's first layer
    ((2, 5, 30, 3), (3, 3, 3, 6), (1, 2), "same", (1, 2)),  # wide rows: interior register tiles
    ((1, 4, 41, 2), (2, 3, 2, 37), (1, 3), "valid", 2),
    ((1, 3, 29, 1), (3, 4, 1, 33), 1, "same", 1),
    ((1, 40, 9, 3), (3, 2, 3, 4), (2, 1), "same", (2, 1)),  # backprop_input in row bands
    ((2, 31, 5, 10), (4, 3, 10, 3), (3, 2), "same", (1, 2)),
    ((2, 13, 13, 32), (3, 3, 32, 17), 1, "valid", 1),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_ops_vs_oracle(isa, dtype, case):
    _check_all(case, dtype)


@pytest.mark.parametrize("c", EDGES + [5, 13, 64])
def test_channel_tile_edges(isa, dtype, c):
    _check_all(((2, 5, 6, c), (3, 3, c, 16), 1, "same", 1), dtype, seed=c)


@pytest.mark.parametrize("f", EDGES + [5, 13, 64])
def test_filter_tile_edges(isa, dtype, f):
    _check_all(((2, 6, 5, 3), (2, 3, 3, f), (1, 2), "valid", 1), dtype, seed=f)


@pytest.mark.parametrize("c", [5, 20], ids=["direct", "im2col"])
@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh"])
def test_fused_activation(isa, dtype, activation, c):
    _check_all(((2, 6, 7, c), (3, 3, c, 9), 1, "same", 1), dtype, activation)


@st.composite
def conv_cases(draw):
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    c = draw(st.sampled_from(EDGES + [2, 5, 11]))
    f = draw(st.sampled_from(EDGES + [2, 5, 11]))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["valid", "same"]))
    if (kh - 1) * d[0] + 1 > h or (kw - 1) * d[1] + 1 > w:
        padding = "same"  # "valid" would have an empty output
    return (n, h, w, c), (kh, kw, c, f), s, padding, d


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=conv_cases(), seed=st.integers(0, 1000))
def test_random_shapes_vs_oracle(isa, dtype, case, seed):
    _check_all(case, dtype, seed=seed)


# ---- Gradients by float64 central finite differences ------------------------------------------

FD_CASES = [((2, 5, 6, 3), (3, 2, 3, 4), (2, 1), "same", (1, 2)),
            ((1, 6, 5, 2), (2, 3, 2, 3), 1, "valid", 1)]


@pytest.mark.parametrize("case", FD_CASES, ids=str)
def test_gradients_finite_differences(isa, case):
    x_shape, k_shape, s, padding, d = case
    kw = dict(strides=s, padding=padding, dilation_rate=d)
    x, w, b = _data(x_shape, np.float64, 1), _data(k_shape, np.float64, 2), _data(k_shape[3], np.float64, 3)
    g = _data(ops.conv2d(x, w, **kw).shape, np.float64, 4)

    def loss(x_, w_, b_):
        return float(np.sum(ops.conv2d(x_, w_, b_, **kw) * g))

    def fd(arr, f, eps=1e-6):
        out = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            orig = arr[i]
            arr[i] = orig + eps
            hi = f()
            arr[i] = orig - eps
            lo = f()
            arr[i] = orig
            out[i] = (hi - lo) / (2 * eps)
        return out

    tol = dict(rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ops.conv2d_backprop_input(g, w, x_shape, **kw),
                               fd(x, lambda: loss(x, w, b)), **tol)
    np.testing.assert_allclose(ops.conv2d_backprop_kernel(x, g, k_shape, **kw),
                               fd(w, lambda: loss(x, w, b)), **tol)
    np.testing.assert_allclose(ops.conv2d_backprop_bias(g), fd(b, lambda: loss(x, w, b)), **tol)


# ---- Determinism across thread counts ---------------------------------------------------------

@pytest.mark.parametrize("case", [((9, 26, 26, 5), (3, 3, 5, 8), 1, "valid", 1),
                                  ((1, 70, 60, 9), (3, 3, 9, 8), 1, "same", 1),
                                  ((1, 60, 50, 1), (3, 3, 1, 8), 1, "same", 1),
                                  ((6, 14, 14, 4), (1, 1, 4, 8), 1, "valid", 1)], ids=str)
def test_bitwise_identical_across_thread_counts(dtype, case):
    x_shape, k_shape, s, padding, d = case
    kw = dict(strides=s, padding=padding, dilation_rate=d)
    x, w = _data(x_shape, dtype, 0), _data(k_shape, dtype, 1)
    dy = _data(ops.conv2d(x, w, **kw).shape, dtype, 2)
    prev = cnnext.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            cnnext.set_num_threads(n)
            results.append([ops.conv2d(x, w, **kw),
                            ops.conv2d_backprop_input(dy, w, x_shape, **kw),
                            ops.conv2d_backprop_kernel(x, dy, k_shape, **kw),
                            ops.conv2d_backprop_bias(dy)])
    finally:
        cnnext.set_num_threads(prev)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert_close(results[0][1], np_conv2d_backprop_input(dy, w, x_shape, **kw), dtype, 9 * 8)
    assert_close(results[0][2], np_conv2d_backprop_kernel(x, dy, k_shape, **kw), dtype, 9 * 24 * 24)


# ---- Errors -----------------------------------------------------------------------------------

X, W = np.ones((2, 8, 8, 3)), np.ones((3, 3, 3, 4))
DY = np.ones((2, 6, 6, 4))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: ops.conv2d(np.ones((32, 32, 3)), W), ValueError,
     r"conv2d: `x` must be 4-D \(N, H, W, C\). Received: x.shape=\(32, 32, 3\)"),
    (lambda: ops.conv2d(X, np.ones((3, 3, 3))), ValueError, r"`kernel` must be 4-D \(KH, KW, C, F\)"),
    (lambda: ops.conv2d(X, np.ones((3, 3, 2, 4))), ValueError,
     r"`kernel` expects 2 input channels but `x` has 3"),
    (lambda: ops.conv2d(X, W, np.ones(5)), ValueError,
     r"`bias` must have shape \(4,\).*Received: bias.shape=\(5,\)"),
    (lambda: ops.conv2d(X, W, np.ones((1, 4))), ValueError, r"`bias` must have shape \(4,\)"),
    (lambda: ops.conv2d(X, W, strides=(0, 1)), ValueError,
     r"`strides` must be positive. Received: strides=\(0, 1\)"),
    (lambda: ops.conv2d(X, W, dilation_rate=-1), ValueError, r"`dilation_rate` must be positive"),
    (lambda: ops.conv2d(X, W, strides=(1, 2, 3)), ValueError, r"`strides` must be an int or a tuple of 2"),
    (lambda: ops.conv2d(X, W, strides=1.5), TypeError, r"`strides` must be an int"),
    (lambda: ops.conv2d(X, W, padding="full"), ValueError, r"`padding` must be 'valid' or 'same'"),
    (lambda: ops.conv2d(X, W, activation="gelu"), ValueError,
     r"`activation` must be one of None, 'linear', 'relu', 'sigmoid', 'tanh'. Received: activation='gelu'"),
    (lambda: ops.conv2d(X, W, activation=np.tanh), ValueError, r"`activation` must be one of"),
    (lambda: ops.conv2d(X, np.ones((9, 3, 3, 4))), ValueError,
     r"output would be empty.*computed output size \(0, 6\)"),
    (lambda: ops.conv2d(X, W, dilation_rate=(1, 4)), ValueError, r"output would be empty"),
    (lambda: ops.conv2d(X, np.ones((0, 3, 3, 4))), ValueError, r"kernel must have positive height"),
    (lambda: ops.conv2d(np.ones((2, 8, 8, 0)), np.ones((3, 3, 0, 4))), ValueError,
     r"input must have positive height, width and channels"),
    (lambda: ops.conv2d(X, W, dilation_rate=2 ** 45), ValueError, r"sizes must be below 2\*\*40"),
    (lambda: ops.conv2d(X.astype(complex), W), TypeError, r"array of real numbers"),
    (lambda: ops.conv2d_backprop_input(DY, W, (2, 8, 8)), ValueError,
     r"`input_shape` must be a tuple of 4 ints \(N, H, W, C\). Received: input_shape=\(2, 8, 8\)"),
    (lambda: ops.conv2d_backprop_input(DY, W, (2, 8, 8, 2.0)), ValueError, r"`input_shape` must be a tuple"),
    (lambda: ops.conv2d_backprop_input(DY, W, 7), ValueError, r"`input_shape` must be a tuple"),
    (lambda: ops.conv2d_backprop_input(DY, W, (2, 8, 8, -3)), ValueError, r"entries must be in \[0, 2\*\*40\)"),
    (lambda: ops.conv2d_backprop_input(DY, W, (2, 9, 8, 3)), ValueError,
     r"`dy` must have shape \(2, 7, 6, 4\).*Received: dy.shape=\(2, 6, 6, 4\)"),
    (lambda: ops.conv2d_backprop_input(DY, W, (3, 8, 8, 3)), ValueError, r"`dy` must have shape \(3, 6, 6, 4\)"),
    (lambda: ops.conv2d_backprop_input(DY, W, (2, 8, 8, 5)), ValueError, r"must have 5 input channels"),
    (lambda: ops.conv2d_backprop_input(DY[0], W, (2, 8, 8, 3)), ValueError, r"`dy` must be 4-D"),
    (lambda: ops.conv2d_backprop_input(DY, W, (2, 8, 8, 3), padding="same"), ValueError,
     r"`dy` must have shape \(2, 8, 8, 4\)"),
    (lambda: ops.conv2d_backprop_kernel(X, DY, (3, 3, 3)), ValueError, r"`kernel_shape` must be a tuple of 4"),
    (lambda: ops.conv2d_backprop_kernel(X, DY, (3, 3, 2, 4)), ValueError, r"must have 3 input channels"),
    (lambda: ops.conv2d_backprop_kernel(X, DY, (3, 3, 3, 5)), ValueError, r"`dy` must have shape \(2, 6, 6, 5\)"),
    (lambda: ops.conv2d_backprop_kernel(X, DY, (3, 3, 3, 4), strides=2), ValueError,
     r"`dy` must have shape \(2, 3, 3, 4\)"),
    (lambda: ops.conv2d_backprop_kernel(X[0], DY, (3, 3, 3, 4)), ValueError, r"`x` must be 4-D"),
    (lambda: ops.conv2d_backprop_kernel(X, DY, (9, 3, 3, 4)), ValueError, r"output would be empty"),
    (lambda: ops.conv2d_backprop_bias(np.ones((6, 4))), ValueError,
     r"conv2d_backprop_bias: `dy` must be 4-D \(N, OH, OW, F\). Received: dy.shape=\(6, 4\)"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_core_rechecks_what_memory_safety_needs():
    """Direct _core calls (bypassing Python validation) fail cleanly instead of crashing."""
    x, w = np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4))
    with pytest.raises(ValueError, match="conv2d: expected 4-D input"):
        _core.conv2d(np.ones((5, 5, 2)), w, None, (1, 1), (1, 1), (0, 0), (3, 3), 0)
    with pytest.raises(ValueError, match="kernel has 2 input channels but input has 3"):
        _core.conv2d(np.ones((1, 5, 5, 3)), w, None, (1, 1), (1, 1), (0, 0), (3, 3), 0)
    with pytest.raises(ValueError, match="strides must be >= 1"):
        _core.conv2d(x, w, None, (0, 1), (1, 1), (0, 0), (3, 3), 0)
    with pytest.raises(ValueError, match="expected bias of shape"):
        _core.conv2d(x, w, np.ones(3), (1, 1), (1, 1), (0, 0), (3, 3), 0)
    with pytest.raises(ValueError, match="unknown activation"):
        _core.conv2d(x, w, None, (1, 1), (1, 1), (0, 0), (3, 3), 9)
    with pytest.raises(ValueError, match="overflows"):
        _core.conv2d(x, w, None, (1, 1), (1, 1), (0, 0), (2 ** 40, 2 ** 30), 0)
    with pytest.raises(TypeError):
        _core.conv2d(x, w.astype(np.float32), None, (1, 1), (1, 1), (0, 0), (3, 3), 0)
    with pytest.raises(ValueError, match="inconsistent"):
        _core.conv2d_backprop_input(np.ones((1, 3, 3, 4)), w, (2, 5, 5, 2), (1, 1), (1, 1), (0, 0))
    with pytest.raises(ValueError, match="inconsistent"):
        _core.conv2d_backprop_kernel(x, np.ones((1, 3, 3, 5)), (3, 3, 2, 4), (1, 1), (1, 1), (0, 0))
    # Out-of-range padding is memory-safe: taps outside the input read zero.
    y = _core.conv2d(x, w, None, (1, 1), (1, 1), (100, -100), (3, 3), 0)
    np.testing.assert_array_equal(y, 0)


# ---- backprop_input: the direct kernel's row-streaming path (KW = 3, stride 1, F % 32 == 0) ---

@pytest.mark.parametrize("w", [1, 2, 3, 4, 7, 8, 9, 10, 11, 17, 26, 28, 31])
@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_backprop_input_row_streaming_widths(isa, dtype, w, c):
    """Every input width around the 8/4/2/1-pixel blocks, both paddings, kernel height 1-3."""
    for kh, padding, d in [(3, "valid", 1), (3, "same", 1), (1, "same", 1), (2, "same", (2, 1))]:
        if padding == "valid" and w < 3:
            continue
        x_shape, k_shape = (2, 5, w, c), (kh, 3, c, 32)
        kw = dict(padding=padding, dilation_rate=d)
        dy = _data(ops.conv2d(np.zeros(x_shape, dtype), np.zeros(k_shape, dtype), **kw).shape,
                   dtype, w)
        wt = _data(k_shape, dtype, c)
        assert_close(ops.conv2d_backprop_input(dy, wt, x_shape, **kw),
                     np_conv2d_backprop_input(dy, wt, x_shape, **kw), dtype, 9 * 32)


@pytest.mark.parametrize("c", [1, 2])  # c = 1, f = 32: the avx512 whole-row kernel
@pytest.mark.parametrize("f", [32, 64])
def test_backprop_input_row_streaming_threads(dtype, f, c):
    x_shape, k_shape = (3, 30, 29, c), (3, 3, c, f)
    dy, wt = _data((3, 30, 29, f), dtype, 5), _data(k_shape, dtype, 6)
    prev = cnnext.get_num_threads()
    try:
        res = []
        for n in (1, 2):
            cnnext.set_num_threads(n)
            res.append(ops.conv2d_backprop_input(dy, wt, x_shape, padding="same"))
    finally:
        cnnext.set_num_threads(prev)
    np.testing.assert_array_equal(res[0], res[1])
    assert_close(res[0], np_conv2d_backprop_input(dy, wt, x_shape, padding="same"), dtype, 9 * 32)


# ---- backprop_input at stride 1 as a forward convolution with the flipped kernel --------------

@pytest.mark.parametrize("case", [
    ((2, 9, 11, 5), (4, 4, 5, 3), 1, "same", 1),         # even kernel: padding split 1 / 2
    ((1, 12, 14, 20), (3, 5, 20, 9), 1, "same", (2, 1)),  # dilation, asymmetric kernel
    ((1, 60, 57, 6), (2, 3, 6, 7), 1, "valid", (1, 2)),  # large 'valid': few padding zeros
    ((2, 16, 16, 33), (3, 3, 33, 17), 1, "same", 1),     # channels and filters off the tiles
    ((1, 3, 2, 12), (5, 4, 12, 6), 1, "same", 1),        # kernel larger than the image
], ids=str)
def test_backprop_input_as_flipped_forward(isa, dtype, case):
    x_shape, k_shape, s, padding, d = case
    kw = dict(strides=s, padding=padding, dilation_rate=d)
    w = _data(k_shape, dtype, 1)
    dy = _data(ops.conv2d(np.zeros(x_shape, dtype), w, **kw).shape, dtype, 2)
    assert_close(ops.conv2d_backprop_input(dy, w, x_shape, **kw),
                 np_conv2d_backprop_input(dy, w, x_shape, **kw), dtype, np.prod(k_shape[:3]))


# ---- forward by indirect GEMM (C > 8): register strips of pixels x filter panels --------------

@pytest.mark.parametrize("f", EDGES + [40, 47, 64, 65])
def test_igemm_filter_tile_edges(isa, dtype, f):
    """Filters around the panel widths, 7 * 3 * 2 = 42 pixels (partial last strip), padding taps."""
    _check_all(((2, 7, 5, 11), (3, 2, 11, f), (1, 2), "same", (2, 1)), dtype, "relu", seed=f)


@pytest.mark.parametrize("n, h, w", [(1, 1, 1), (1, 3, 4), (1, 5, 5), (3, 4, 5), (1, 13, 1),
                                     (1, 9, 15), (3, 30, 29)])
def test_igemm_pixel_counts(isa, dtype, n, h, w):
    """1 to 2610 output pixels: strips that span rows and images, a lone partial strip, and for
    the kernel gradient several 64-pixel tiles and two fixed chunks."""
    _check_all(((n, h, w, 12), (3, 3, 12, 33), 1, "same", 1), dtype, seed=h * w)


@pytest.mark.parametrize("case", [((1, 33, 32, 9), (33, 32, 9, 2), 1, "valid", 1),
                                  ((1, 5, 6, 9), (33, 32, 9, 3), 1, "same", 1)], ids=str)
def test_kernels_past_igemm_tap_limit(isa, dtype, case):
    """1056 taps: above the indirection buffer's limit, im2col + GEMM serves them."""
    _check_all(case, dtype)
