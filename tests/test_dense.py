"""matmul and the dense ops vs NumPy float64 oracles, every ISA level, float32 and float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnext
import cnnext.ops as ops
from cnnext import _core
from conftest import assert_close
from oracle_dense import (np_dense, np_dense_backprop_bias, np_dense_backprop_input,
                          np_dense_backprop_kernel, np_matmul, operands)

SIZES = [1, 2, 5, 6, 7, 12, 13, 16, 17, 31, 32, 33, 64, 65, 127, 300]
ACTS = [None, "linear", "relu", "sigmoid", "tanh"]


def scale(k):
    return np.sqrt(max(k, 1))


# ---- Correctness: matmul --------------------------------------------------------------------


@pytest.mark.parametrize("s", SIZES)
@pytest.mark.parametrize("shape", ["sss", "s17x33", "33xsx7", "5x13xs"])
def test_matmul_tile_edges(isa, dtype, s, shape):
    m, n, k = {"sss": (s, s, s), "s17x33": (s, 17, 33), "33xsx7": (33, s, 7),
               "5x13xs": (5, 13, s)}[shape]
    a, b = operands(np.random.default_rng(s), m, k, n, dtype)
    assert_close(ops.matmul(a, b), np_matmul(a, b), dtype, scale(k))


@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 70), n=st.integers(0, 70), k=st.integers(0, 70),
       ta=st.booleans(), tb=st.booleans(), f64=st.booleans(),
       isa=st.sampled_from(cnnext.supported_isas()))
def test_matmul_hypothesis(m, n, k, ta, tb, f64, isa):
    dtype = np.float64 if f64 else np.float32
    a, b = operands(np.random.default_rng(m * 10000 + n * 100 + k), m, k, n, dtype)
    a = np.asfortranarray(a) if ta else a
    b = np.asfortranarray(b) if tb else b
    prev = cnnext.get_isa()
    cnnext.set_isa(isa)
    try:
        got = ops.matmul(a, b)
    finally:
        cnnext.set_isa(prev)
    assert_close(got, np_matmul(a, b), dtype, scale(k))


@pytest.mark.parametrize("layout", ["aT", "bT", "both_T", "strided", "negative", "fortran",
                                    "broadcast", "misaligned"])
def test_matmul_non_contiguous(isa, dtype, layout):
    rng = np.random.default_rng(3)
    a, b = operands(rng, 40, 37, 45, dtype)
    if layout == "aT":
        a = np.ascontiguousarray(a.T).T
    elif layout == "bT":
        b = np.ascontiguousarray(b.T).T
    elif layout == "both_T":
        a, b = np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T
    elif layout == "strided":
        a, b = np.repeat(a, 2, axis=1)[:, ::2], np.repeat(b, 3, axis=0)[::3]
    elif layout == "negative":
        a, b = a[::-1, ::-1], b[:, ::-1]
    elif layout == "broadcast":  # stride-0 rows/columns, read in place
        a, b = np.broadcast_to(a[:1], a.shape), np.broadcast_to(b[:, :1], b.shape)
    elif layout == "misaligned":  # data not aligned to the item size
        raw = np.zeros(a.size * a.itemsize + 1, np.uint8)[1:].view(dtype).reshape(a.shape)
        raw[...] = a
        a = raw
    else:
        a, b = np.asfortranarray(a), np.asfortranarray(b)
    keep_a, keep_b = a.copy(), b.copy()
    assert_close(ops.matmul(a, b), np_matmul(a, b), dtype, scale(37))
    np.testing.assert_array_equal(a, keep_a)
    np.testing.assert_array_equal(b, keep_b)


@pytest.mark.parametrize("layout", ["row", "transposed", "strided"])
@pytest.mark.parametrize("m,k", [(1, 1), (7, 5), (33, 70), (301, 1000)])
def test_matmul_single_column(isa, dtype, layout, m, k):
    # N == 1 takes dedicated paths: dot products (row-major A), C^T = b^T A^T (transposed A).
    a, b = operands(np.random.default_rng(m + k), m, k, 1, dtype)
    if layout == "transposed":
        a = np.asfortranarray(a)
    elif layout == "strided":
        a = np.repeat(a, 2, axis=1)[:, ::2]
        b = np.repeat(b, 2, axis=0)[::2]
    assert_close(ops.matmul(a, b), np_matmul(a, b), dtype, scale(k))
    assert_close(ops.matmul(a, b[:, 0]), np_matmul(a, b[:, 0]), dtype, scale(k))
    for act in ["relu", "tanh"]:
        bias = np.array([0.25], dtype)
        assert_close(ops.dense(a, b, bias, act), np_dense(a, b, bias, act), dtype, scale(k))
    dy = a[:, :1].copy()
    assert_close(ops.dense_backprop_kernel(a, dy), np_dense_backprop_kernel(a, dy), dtype,
                 scale(m))


def test_matmul_long_k_split(isa, dtype):
    # K >= 4096 and >> M + N takes the split-K path (fixed chunks, ordered reduce).
    a, b = operands(np.random.default_rng(9), 7, 5000, 5, dtype)
    assert_close(ops.matmul(a, b), np_matmul(a, b), dtype, scale(5000))
    assert_close(ops.matmul(np.asfortranarray(a), b), np_matmul(a, b), dtype, scale(5000))


def test_matmul_large_blocks(isa, dtype):
    # K above the kernel's K slice and N above its L2 panel block (several blocks and slices).
    a, b = operands(np.random.default_rng(4), 50, 900, 700, dtype)
    assert_close(ops.matmul(a, b), np_matmul(a, b), dtype, scale(900))


def test_matmul_one_d_rules(dtype):
    rng = np.random.default_rng(5)
    a, b = operands(rng, 6, 9, 4, dtype)
    v, w = a[0].copy(), b[:, 0].copy()
    for x, y in [(v, b), (a, w), (v, w)]:
        got = ops.matmul(x, y)
        assert got.shape == np.matmul(x, y).shape
        assert_close(got, np_matmul(x, y), dtype, 3)


def test_matmul_empty_and_zero_k(dtype):
    assert ops.matmul(np.ones((0, 4), dtype), np.ones((4, 3), dtype)).shape == (0, 3)
    assert ops.matmul(np.ones((2, 4), dtype), np.ones((4, 0), dtype)).shape == (2, 0)
    z = ops.matmul(np.ones((3, 0), dtype), np.ones((0, 5), dtype))
    assert z.dtype == dtype
    np.testing.assert_array_equal(z, np.zeros((3, 5)))


def test_matmul_nan_and_inf_propagate(isa, dtype):
    a = np.ones((3, 4), dtype)
    b = np.ones((4, 20), dtype)
    a[1, 2] = np.nan
    b[0, 7] = np.inf
    np.testing.assert_array_equal(ops.matmul(a, b), np.matmul(a, b))


def test_matmul_out(dtype):
    a, b = operands(np.random.default_rng(6), 8, 10, 12, dtype)
    out = np.full((8, 12), 7, dtype)
    assert ops.matmul(a, b, out=out) is out
    assert_close(out, np_matmul(a, b), dtype, 4)
    # out aliasing an operand: computed into a temporary first, as np.matmul does.
    sq = np.ascontiguousarray(a[:, :8])
    expected = np_matmul(sq, sq)
    assert ops.matmul(sq, sq, out=sq) is sq
    assert_close(sq, expected, dtype, 4)
    out1 = np.empty(12, dtype)
    assert ops.matmul(a[0], b, out=out1) is out1
    assert_close(out1, np_matmul(a[0], b), dtype, 4)


def test_matmul_dtype_rules():
    a32 = np.ones((2, 3), np.float32)
    assert ops.matmul(a32, a32.T).dtype == np.float32
    assert ops.matmul(a32, np.ones((3, 2))).dtype == np.float64
    assert ops.matmul(np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2)).dtype == np.float64
    np.testing.assert_array_equal(ops.matmul([[1, 2]], [[3], [4]]), [[11.0]])


# ---- Correctness: dense and its gradients ---------------------------------------------------


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (5, 7, 3), (13, 33, 65), (64, 300, 31),
                                          (130, 17, 130), (300, 400, 37)])
def test_dense_matches_numpy(isa, dtype, activation, m, n_in, n_out):
    rng = np.random.default_rng(m + n_in + n_out)
    x, k = operands(rng, m, n_in, n_out, dtype)
    b = rng.standard_normal(n_out).astype(dtype)
    assert_close(ops.dense(x, k, b, activation), np_dense(x, k, b, activation), dtype,
                 scale(n_in))
    assert_close(ops.dense(x, k, activation=activation), np_dense(x, k, None, activation), dtype,
                 scale(n_in))


def test_dense_leading_dims_and_one_d(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 6)).astype(dtype)
    k = rng.standard_normal((6, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    y = ops.dense(x, k, b, "tanh")
    assert y.shape == (2, 3, 4, 5)
    assert_close(y, np_dense(x, k, b, "tanh"), dtype, 3)
    assert_close(ops.dense(x[0, 0, 0], k, b), np_dense(x[0, 0, 0], k, b), dtype, 3)
    assert ops.dense(np.ones((0, 6), dtype), k).shape == (0, 5)


def test_dense_zero_inputs_gives_activated_bias(dtype):
    b = np.array([-1.0, 0.5, 2.0], dtype)
    y = ops.dense(np.ones((4, 0), dtype), np.ones((0, 3), dtype), b, "sigmoid")
    assert_close(y, np.broadcast_to(1 / (1 + np.exp(-b.astype(np.float64))), (4, 3)), dtype)


def test_dense_extreme_values(isa, dtype):
    x = np.array([[np.nan, 1.0], [1e30, 1.0], [-1e30, 1.0], [np.inf, 0.5]], dtype)
    k = np.eye(2, dtype=dtype)
    for act in ["relu", "sigmoid", "tanh"]:
        with np.errstate(invalid="ignore", over="ignore"):
            expected = np_dense(x, k, None, act)
        np.testing.assert_allclose(ops.dense(x, k, activation=act), expected, rtol=1e-6)


@pytest.mark.parametrize("m,n_in,n_out", [(1, 1, 1), (7, 13, 5), (33, 65, 17), (300, 31, 64)])
def test_dense_backprops_match_numpy(isa, dtype, m, n_in, n_out):
    rng = np.random.default_rng(m * n_in)
    x, k = operands(rng, m, n_in, n_out, dtype)
    dy = rng.standard_normal((m, n_out)).astype(dtype)
    assert_close(ops.dense_backprop_input(dy, k), np_dense_backprop_input(dy, k), dtype,
                 scale(n_out))
    assert_close(ops.dense_backprop_kernel(x, dy), np_dense_backprop_kernel(x, dy), dtype,
                 scale(m))
    assert_close(ops.dense_backprop_bias(dy), np_dense_backprop_bias(dy), dtype, scale(m))


def test_dense_backprops_leading_dims_and_long_batch(isa, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 6)).astype(dtype)
    dy = rng.standard_normal((3, 4, 5)).astype(dtype)
    k = rng.standard_normal((6, 5)).astype(dtype)
    assert ops.dense_backprop_input(dy, k).shape == (3, 4, 6)
    assert_close(ops.dense_backprop_input(dy, k), np_dense_backprop_input(dy, k), dtype, 3)
    assert_close(ops.dense_backprop_kernel(x, dy), np_dense_backprop_kernel(x, dy), dtype, 4)
    assert_close(ops.dense_backprop_bias(dy), np_dense_backprop_bias(dy), dtype, 4)
    # A batch of 6000 rows: split-K for the kernel gradient, several row chunks for the bias.
    x, dy = operands(rng, 6000, 1, 8, dtype)[0], operands(rng, 6000, 1, 3, dtype)[0]
    x = x.reshape(6000, 1) @ np.ones((1, 8), dtype) + rng.standard_normal((6000, 8)).astype(dtype)
    assert_close(ops.dense_backprop_kernel(x, dy), np_dense_backprop_kernel(x, dy), dtype,
                 scale(6000))
    assert_close(ops.dense_backprop_bias(dy), np_dense_backprop_bias(dy), dtype, scale(6000))


def test_dense_backprop_bias_empty():
    np.testing.assert_array_equal(ops.dense_backprop_bias(np.ones((0, 3))), np.zeros(3))
    assert ops.dense_backprop_bias(np.ones((4, 0))).shape == (0,)
    np.testing.assert_array_equal(ops.dense_backprop_kernel(np.ones((0, 2)), np.ones((0, 3))),
                                  np.zeros((2, 3)))


def _numeric_grad(f, v, eps=1e-6):
    g = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        old = v[i]
        v[i] = old + eps
        hi = f()
        v[i] = old - eps
        lo = f()
        v[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def test_dense_gradients_finite_differences(isa):
    """float64 central differences of L = sum(w * dense(x, k, b)) against the backward ops."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 7))
    k = rng.standard_normal((7, 5))
    b = rng.standard_normal(5)
    w = rng.standard_normal((2, 3, 5))

    def loss():
        return float(np.sum(w * ops.dense(x, k, b)))

    tol = dict(rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ops.dense_backprop_input(w, k), _numeric_grad(loss, x), **tol)
    np.testing.assert_allclose(ops.dense_backprop_kernel(x, w), _numeric_grad(loss, k), **tol)
    np.testing.assert_allclose(ops.dense_backprop_bias(w), _numeric_grad(loss, b), **tol)


# ---- Determinism across thread counts -------------------------------------------------------


def _with_threads(n, f):
    prev = cnnext.get_num_threads()
    cnnext.set_num_threads(n)
    try:
        return f()
    finally:
        cnnext.set_num_threads(prev)


@pytest.mark.parametrize("case", ["matmul", "matmul_T", "split_k", "dense", "bp_input",
                                  "bp_kernel", "bp_kernel_split", "bp_bias", "gemv",
                                  "bp_kernel_one_unit"])
def test_bitwise_identical_across_thread_counts(dtype, case):
    rng = np.random.default_rng(7)
    a, b = operands(rng, 150, 200, 170, dtype)
    x, dy = rng.standard_normal((5000, 40)).astype(dtype), rng.standard_normal((5000, 9))
    dy = dy.astype(dtype)
    f = {
        "matmul": lambda: ops.matmul(a, b),
        "matmul_T": lambda: ops.matmul(np.asfortranarray(a), b),
        "split_k": lambda: ops.matmul(x.T, dy),
        "dense": lambda: ops.dense(a, b, b[0], "tanh"),
        "bp_input": lambda: ops.dense_backprop_input(a, np.ascontiguousarray(b.T)),
        "bp_kernel": lambda: ops.dense_backprop_kernel(a, a[:, :33]),
        "bp_kernel_split": lambda: ops.dense_backprop_kernel(x, dy),
        "bp_bias": lambda: ops.dense_backprop_bias(x),
        "gemv": lambda: ops.dense(x, dy[:40, :1], dy[0, :1], "sigmoid"),
        "bp_kernel_one_unit": lambda: ops.dense_backprop_kernel(x, dy[:, :1]),
    }[case]
    one = _with_threads(1, f)
    for n in (2, 3):
        np.testing.assert_array_equal(_with_threads(n, f), one)


# ---- Basic: argument errors -----------------------------------------------------------------


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"`a` must be a 1-D or 2-D array .*a.shape=\(2, 3, 4\)"):
        ops.matmul(np.ones((2, 3, 4)), np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"`b` must be a 1-D or 2-D array .*b.shape=\(\)"):
        ops.matmul(np.ones((2, 3)), 3.0)
    with pytest.raises(ValueError, match=r"inner dimensions must match.*a.shape=\(2, 3\), "
                                         r"b.shape=\(4, 2\)"):
        ops.matmul(np.ones((2, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="inner dimensions"):
        ops.matmul(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="array of real numbers"):
        ops.matmul(np.ones((2, 2), complex), np.ones((2, 2)))
    with pytest.raises(TypeError, match="must have dtype float32"):
        ops.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), out=np.empty((2, 2)))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 2\)"):
        ops.matmul(np.ones((2, 2)), np.ones((2, 2)), out=np.empty((2, 3)))
    with pytest.raises(ValueError, match="`out` must be C-contiguous"):
        ops.matmul(np.ones((2, 2)), np.ones((2, 2)), out=np.empty((2, 2), order="F")[:, :])
    with pytest.raises(ValueError, match="overflows a 64-bit integer"):
        ops.matmul(np.empty((2**40, 0)), np.empty((0, 2**40)))


def test_dense_errors():
    x = np.ones((2, 5))
    with pytest.raises(ValueError, match=r"`kernel` must have shape \(in, out\) with in == "
                                         r"x.shape\[-1\] = 5. Received: kernel.shape=\(4, 3\)"):
        ops.dense(x, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"`kernel` must be a 2-D array of shape \(in, out\). "
                                         r"Received: kernel.shape=\(5,\)"):
        ops.dense(x, np.ones(5))
    with pytest.raises(ValueError, match=r"`bias` must have shape \(out,\) with out == "
                                         r"kernel.shape\[1\] = 3. Received: bias.shape=\(4,\)"):
        ops.dense(x, np.ones((5, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"`activation` must be one of None, 'linear', 'relu', "
                                         r"'sigmoid', 'tanh'. Received: activation='gelu'"):
        ops.dense(x, np.ones((5, 3)), activation="gelu")
    with pytest.raises(ValueError, match="Received: activation=3"):
        ops.dense(x, np.ones((5, 3)), activation=3)
    with pytest.raises(ValueError, match=r"`x` must have rank >= 1.*Received: x.shape=\(\)"):
        ops.dense(2.0, np.ones((1, 3)))
    with pytest.raises(ValueError, match="overflows a 64-bit integer"):
        ops.dense(np.empty((2**40, 0)), np.empty((0, 2**40)))
    with pytest.raises(TypeError, match="array of real numbers"):
        ops.dense(["a"], np.ones((1, 1)))
    assert ops.dense(x, np.ones((5, 3)), activation="ReLU").shape == (2, 3)


def test_dense_backprop_errors():
    with pytest.raises(ValueError, match=r"`kernel` must have shape \(in, out\) with out == "
                                         r"dy.shape\[-1\] = 3. Received: kernel.shape=\(5, 4\)"):
        ops.dense_backprop_input(np.ones((2, 3)), np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"`kernel` must be a 2-D array"):
        ops.dense_backprop_input(np.ones((2, 3)), np.ones((1, 5, 3)))
    with pytest.raises(ValueError, match=r"same leading shape.*x.shape=\(2, 5\), "
                                         r"dy.shape=\(3, 4\)"):
        ops.dense_backprop_kernel(np.ones((2, 5)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"`dy` must have rank >= 1"):
        ops.dense_backprop_bias(1.0)


def test_core_checks_shapes():
    """Direct _core calls (bypassing the Python checks) fail with ValueError, not a crash."""
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ"):
        _core.matmul(np.ones((2, 3)), np.ones((4, 2)))
    odd = np.lib.stride_tricks.as_strided(np.zeros(8, np.float32), (2, 2), (6, 2))
    with pytest.raises(ValueError, match=r"matmul: `a` has strides \(6, 2\) bytes"):
        _core.matmul(odd, np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"dense: expected a 2-D `x`"):
        _core.dense(np.ones(3), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"dense: expected bias of shape \(2,\)"):
        _core.dense(np.ones((1, 3)), np.ones((3, 2)), np.ones(3))
    with pytest.raises(ValueError, match=r"dense: unknown activation code 9"):
        _core.dense(np.ones((1, 3)), np.ones((3, 2)), None, 9)
    with pytest.raises(ValueError, match=r"dense_backprop_kernel: dy shape \(3, 2\)"):
        _core.dense_backprop_kernel(np.ones((2, 3)), np.ones((3, 2)))
