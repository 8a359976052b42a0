"""Activations and the softmax family vs NumPy float64 oracles, every ISA level, float32 and float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnext
import cnnext.ops as ops
import oracle_activations as O
from conftest import TOL, assert_close

pytestmark = pytest.mark.filterwarnings("error")  # no RuntimeWarning (or any other) may escape

SIZES = [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 64, 127, 1000, 70_001]
UNARY = {"relu": (ops.relu, O.relu), "sigmoid": (ops.sigmoid, O.sigmoid),
         "tanh": (ops.tanh, O.tanh)}
SOFTMAX = {"softmax": (ops.softmax, O.softmax), "log_softmax": (ops.log_softmax, O.log_softmax)}
ALL_FORWARD = {**UNARY, **SOFTMAX}
# backward op, its oracle, forward op whose output (or input, for relu) is the second argument
BACKWARD = {
    "relu": (ops.relu_backward, O.relu_backward, None),
    "sigmoid": (ops.sigmoid_backward, O.sigmoid_backward, ops.sigmoid),
    "tanh": (ops.tanh_backward, O.tanh_backward, ops.tanh),
    "softmax": (ops.softmax_backward, O.softmax_backward, ops.softmax),
    "log_softmax": (ops.log_softmax_backward, O.log_softmax_backward, ops.log_softmax),
}


def extremes(dtype, n=37):
    """±1e4, ±88.8, ±710, ±inf, NaN, ±0, subnormals and ordinary values, spread over body and tail."""
    tiny = np.finfo(dtype).smallest_subnormal
    vals = [1e4, -1e4, 88.8, -88.8, 710.0, -745.0, np.inf, -np.inf, np.nan, -0.0, 0.0, tiny, -tiny,
            3 * tiny, 0.625, -0.625, 0.5, -2.5, 20.0, -20.0, 1e-30]
    return np.resize(np.array(vals, dtype), n)


# ---- elementwise --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("n", SIZES)
def test_unary_matches_oracle(isa, dtype, name, n):
    op, ref = UNARY[name]
    x = (np.random.default_rng(n).standard_normal(n) * 4).astype(dtype)
    assert_close(op(x), ref(x), dtype)


@pytest.mark.parametrize("name", UNARY)
def test_unary_extreme_inputs(isa, dtype, name):
    op, ref = UNARY[name]
    x = extremes(dtype)
    y = op(x)
    assert_close(y, ref(x), dtype)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))  # NaN propagates, nothing else NaN


def test_saturation_and_signed_zero(isa, dtype):
    x = np.array([-np.inf, -1e4, -0.0, 1e4, np.inf] * 4, dtype)
    np.testing.assert_array_equal(ops.sigmoid(x), np.resize([0, 0, 0.5, 1, 1], 20))
    t = ops.tanh(x)
    np.testing.assert_array_equal(t, np.resize([-1, -1, 0, 1, 1], 20))
    assert np.signbit(t[2]) and np.signbit(ops.tanh(np.full(21, -0.0, dtype))).all()


def test_relu_dtype_rules():
    assert ops.relu(np.arange(5)).dtype == np.float64
    assert ops.sigmoid([1, -2]).dtype == np.float64
    assert ops.tanh(np.ones(3, np.float16)).dtype == np.float64
    assert ops.softmax(np.ones((2, 3), np.int32)).dtype == np.float64
    x = np.ones((4, 5), np.float32, order="F")[:, ::2]
    y = ops.relu(x)
    assert y.dtype == np.float32 and y.shape == (4, 3)
    assert ops.softmax(x, axis=0).dtype == np.float32


def test_any_shape(dtype):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(dtype)
    for name, (op, ref) in UNARY.items():
        assert_close(op(x), ref(x), dtype)
    assert_close(ops.sigmoid(np.float64(0.25)), O.sigmoid(0.25), np.float64)  # 0-d


# ---- softmax family -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("c", [1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 100, 1025])
def test_softmax_rows(isa, dtype, name, c):
    op, ref = SOFTMAX[name]
    x = (np.random.default_rng(c).standard_normal((5, c)) * 5).astype(dtype)
    assert_close(op(x), ref(x), dtype, scale=4)


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 17, 129), (1, 3, 300), (4, 1, 2)])
def test_softmax_every_axis_3d(isa, dtype, name, shape):
    op, ref = SOFTMAX[name]
    x = (np.random.default_rng(1).standard_normal(shape) * 3).astype(dtype)
    for axis in (0, 1, 2, -1, -2, -3):
        y = op(x, axis=axis)
        assert_close(y, ref(x, axis), dtype, scale=4)
        if name == "softmax":
            assert_close(y.sum(axis=axis), np.ones(np.delete(shape, axis % 3)), dtype, scale=8)


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_extreme_finite_inputs(isa, dtype, name, axis):
    big = np.finfo(dtype).max
    rows = [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [big, -big, 0.0], [88.8, -88.8, 710.0],
            [-745.0, -746.0, -800.0], [np.finfo(dtype).smallest_subnormal, -0.0, 0.0]]
    x = np.array(rows, dtype)
    x = x if axis == 1 else np.ascontiguousarray(x.T)
    op, ref = SOFTMAX[name]
    y = op(x, axis=axis)
    with np.errstate(over="ignore"):  # log_softmax(-max) = -2*max overflows to -inf, correctly
        expected = ref(x, axis).astype(dtype)
    assert not np.isnan(y).any()
    if name == "softmax":
        assert np.isfinite(y).all()
    assert_close(y, expected, dtype, scale=4)


@pytest.mark.parametrize("name", SOFTMAX)
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_inf_and_nan_follow_numpy_formula(isa, dtype, name, axis):
    rows = [[1.0, np.inf, 2.0], [np.nan, 1.0, 2.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0],
            [np.inf, np.inf, 0.0], [np.inf, -np.inf, np.nan], [3.0, 2.0, 1.0]]
    x = np.array(rows, dtype)
    x = x if axis == 1 else np.ascontiguousarray(x.T)
    op, ref = SOFTMAX[name]
    expected = ref(x, axis)
    y = op(x, axis=axis)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    assert_close(y, expected, dtype)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4), data=st.data())
def test_softmax_random_shapes(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    assert_close(ops.softmax(x, axis=axis), O.softmax(x, axis), np.float64)
    assert_close(ops.log_softmax(x, axis=axis), O.log_softmax(x, axis), np.float64)


def test_softmax_empty_and_large(dtype):
    assert ops.softmax(np.zeros((0, 5), dtype)).shape == (0, 5)
    assert ops.softmax(np.zeros((4, 0), dtype), axis=1).shape == (4, 0)
    x = np.random.default_rng(2).standard_normal((3000, 37)).astype(dtype)  # threaded over rows
    assert_close(ops.softmax(x), O.softmax(x), dtype)
    x = np.random.default_rng(3).standard_normal((7, 50, 300)).astype(dtype)  # threaded strips
    assert_close(ops.log_softmax(x, axis=1), O.log_softmax(x, 1), dtype, scale=4)


def test_results_do_not_depend_on_thread_count(dtype):
    x = np.random.default_rng(4).standard_normal((1000, 300)).astype(dtype)  # > 2 grains of each
    run = lambda: [ops.relu(x), ops.sigmoid(x), ops.softmax(x), ops.log_softmax(x, axis=0),  # noqa
                   ops.softmax_backward(x, x), ops.tanh_backward(x, x)]
    prev = cnnext.get_num_threads()
    try:
        cnnext.set_num_threads(1)
        one = run()
        cnnext.set_num_threads(2)
        two = run()
    finally:
        cnnext.set_num_threads(prev)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


# ---- out= and inputs ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_FORWARD)
def test_out_semantics(dtype, name):
    op, ref = ALL_FORWARD[name]
    x = np.random.default_rng(5).standard_normal((6, 9)).astype(dtype)
    keep = x.copy()
    out = np.full((6, 9), 7, dtype)
    assert op(x, out=out) is out
    assert_close(out, ref(x), dtype)
    np.testing.assert_array_equal(x, keep)  # input untouched
    other = np.float64 if dtype == np.float32 else np.float32
    with pytest.raises(TypeError, match=f"must have dtype {np.dtype(dtype)}"):
        op(x, out=np.empty((6, 9), other))
    with pytest.raises(ValueError, match=r"must have shape \(6, 9\)"):
        op(x, out=np.empty((9, 6), dtype))
    with pytest.raises(ValueError, match="C-contiguous"):
        op(x, out=np.empty((6, 18), dtype)[:, ::2])
    ro = np.empty((6, 9), dtype)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        op(x, out=ro)
    with pytest.raises(TypeError, match="numpy.ndarray or None"):
        op(x, out=[0.0] * 54)
    inplace = x.copy()  # out may alias the input
    op(inplace, out=inplace)
    assert_close(inplace, ref(x), dtype)


@pytest.mark.parametrize("name", ALL_FORWARD)
def test_rejects_non_real(name):
    op = ALL_FORWARD[name][0]
    with pytest.raises(TypeError, match="array of real numbers"):
        op(np.ones(3, complex))
    with pytest.raises(TypeError, match="array of real numbers"):
        op(["a"])


@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_axis_errors(name):
    op = SOFTMAX[name][0]
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="`axis` 2 is out of range for an array of 2 dimensions"):
        op(x, axis=2)
    with pytest.raises(ValueError, match="`axis` -3 is out of range"):
        op(x, axis=-3)
    with pytest.raises(ValueError, match="out of range for an array of 0 dimensions"):
        op(np.float64(1.0))
    with pytest.raises(TypeError, match="`axis` must be an int. Received: axis=1.0"):
        op(x, axis=1.0)
    with pytest.raises(ValueError, match="axis 5 is out of range for a 2-D input"):  # C++ check
        getattr(cnnext._core, name)(x, 5)


# ---- backward -----------------------------------------------------------------------------------
def _backward_args(name, x):
    op, _, fwd = BACKWARD[name]
    return x if fwd is None else fwd(x)


@pytest.mark.parametrize("name", BACKWARD)
@pytest.mark.parametrize("n", [1, 7, 16, 17, 1001, 70_001])
def test_backward_matches_oracle(isa, dtype, name, n):
    op, ref, _ = BACKWARD[name]
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    a = _backward_args(name, x)
    keep = (dy.copy(), a.copy())
    assert_close(op(dy, a), ref(dy, a), dtype, scale=max(4, np.sqrt(n)))  # 1-D: one long row
    np.testing.assert_array_equal(dy, keep[0])
    np.testing.assert_array_equal(a, keep[1])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_softmax_backward_every_axis(isa, dtype, name, axis):
    op, ref, fwd = BACKWARD[name]
    rng = np.random.default_rng(axis)
    x = rng.standard_normal((3, 17, 130)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    y = fwd(x, axis=axis)
    assert_close(op(dy, y, axis=axis), ref(dy, y, axis), dtype, scale=8)


@pytest.mark.parametrize("name", BACKWARD)
@pytest.mark.parametrize("axis", [0, -1])
def test_backward_finite_differences(name, axis):
    """f(x) = sum(w * act(x)); its gradient is act_backward(w, ...) (float64, central differences)."""
    op, _, fwd = BACKWARD[name]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # relu's kink
    w = rng.standard_normal((4, 5))
    if fwd is None:
        f, grad = (lambda v: np.sum(w * ops.relu(v))), op(w, x)
    elif name in ("softmax", "log_softmax"):
        f, grad = (lambda v: np.sum(w * fwd(v, axis=axis))), op(w, fwd(x, axis=axis), axis=axis)
    else:
        f, grad = (lambda v: np.sum(w * fwd(v))), op(w, fwd(x))
    np.testing.assert_allclose(grad, O.numeric_grad(f, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", BACKWARD)
def test_backward_errors(name):
    op, _, _ = BACKWARD[name]
    with pytest.raises(ValueError, match="must have the same shape"):
        op(np.ones(5), np.ones(6))
    with pytest.raises(TypeError, match="array of real numbers"):
        op(np.ones(3, complex), np.ones(3))
    assert op(np.ones(3, np.float32), np.ones(3, np.float32)).dtype == np.float32
    assert op(np.ones(3, np.float32), np.ones(3)).dtype == np.float64


def test_softmax_backward_axis_errors():
    with pytest.raises(ValueError, match="`axis` 2 is out of range"):
        ops.softmax_backward(np.ones((2, 3)), np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="`axis` -3 is out of range"):
        ops.log_softmax_backward(np.ones((2, 3)), np.ones((2, 3)), axis=-3)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("c", [1, 10, 64, 65])
def test_softmax_backward_many_short_rows(isa, dtype, name, c):
    """Short rows take a blocked path (several rows per vector pass); cover block boundaries."""
    op, ref, fwd = BACKWARD[name]
    rng = np.random.default_rng(c)
    x = rng.standard_normal((301, c)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    y = fwd(x)
    assert_close(y, SOFTMAX[name][1](x), dtype, scale=4)
    assert_close(op(dy, y), ref(dy, y), dtype, scale=8)
