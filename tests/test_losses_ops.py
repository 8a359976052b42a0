"""Fused Keras losses (cnnext.ops._losses) vs NumPy float64 oracles, hand values and finite differences."""
import numpy as np
import pytest

import cnnext
import cnnext.ops._losses as L
import oracle_activations as O
from conftest import assert_close

pytestmark = pytest.mark.filterwarnings("error")

KS = [1, 3, 7, 8, 9, 15, 16, 17, 33, 100]


def probs(rng, shape, dtype):
    return rng.uniform(0.01, 0.99, shape).astype(dtype)


def simplex(rng, shape, dtype):
    p = rng.uniform(0.05, 1.0, shape)
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def soft_targets(rng, shape, dtype):
    y = rng.uniform(0, 1, shape)
    return (y / y.sum(-1, keepdims=True)).astype(dtype)


def check_loss_and_grad(fn, args, kwargs, ref_loss, ref_grad, dtype, scale=4):
    loss = fn(*args, **kwargs)
    loss2, grad = fn(*args, return_grad=True, **kwargs)
    assert_close(loss, ref_loss, dtype, scale=scale)
    np.testing.assert_array_equal(loss, loss2)
    # the gradient of a mean is O(1/size): compare relative to its magnitude
    gscale = max(1.0, float(np.max(np.abs(ref_grad))) / 1e-4) if ref_grad.size else 1.0
    assert_close(grad, ref_grad, dtype, scale=scale * gscale)


# ---- vs oracle ----------------------------------------------------------------------------------
@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("k", KS)
def test_binary_crossentropy(isa, dtype, k, from_logits):
    rng = np.random.default_rng(k)
    y = rng.uniform(0, 1, (6, k)).astype(dtype)
    p = (rng.standard_normal((6, k)) * 4).astype(dtype) if from_logits else probs(rng, (6, k), dtype)
    check_loss_and_grad(L.binary_crossentropy, (y, p), dict(from_logits=from_logits),
                        O.binary_crossentropy(y, p, from_logits, dtype),
                        O.binary_crossentropy_grad(y, p, from_logits, dtype), dtype)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("k", KS)
def test_categorical_crossentropy(isa, dtype, k, from_logits):
    rng = np.random.default_rng(k)
    y = soft_targets(rng, (6, k), dtype)
    p = (rng.standard_normal((6, k)) * 4).astype(dtype) if from_logits else simplex(rng, (6, k), dtype)
    check_loss_and_grad(L.categorical_crossentropy, (y, p), dict(from_logits=from_logits),
                        O.categorical_crossentropy(y, p, from_logits, dtype=dtype),
                        O.categorical_crossentropy_grad(y, p, from_logits, dtype=dtype), dtype)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("k", KS)
def test_sparse_categorical_crossentropy(isa, dtype, k, from_logits):
    rng = np.random.default_rng(k)
    labels = rng.integers(0, k, 6)
    p = (rng.standard_normal((6, k)) * 4).astype(dtype) if from_logits else simplex(rng, (6, k), dtype)
    y = O.one_hot(labels, k)
    check_loss_and_grad(L.sparse_categorical_crossentropy, (labels, p),
                        dict(from_logits=from_logits),
                        O.categorical_crossentropy(y, p, from_logits, dtype=dtype),
                        O.categorical_crossentropy_grad(y, p, from_logits, dtype=dtype), dtype)


@pytest.mark.parametrize("k", KS)
def test_mean_squared_error(isa, dtype, k):
    rng = np.random.default_rng(k)
    y, p = (rng.standard_normal((2, 6, k)).astype(dtype) for _ in range(2))
    check_loss_and_grad(L.mean_squared_error, (y, p), {}, O.mean_squared_error(y, p),
                        O.mean_squared_error_grad(y, p), dtype)


def test_higher_rank_and_large_batches(dtype):
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 1, (3, 4, 5)).astype(dtype)
    p = probs(rng, (3, 4, 5), dtype)
    loss, grad = L.binary_crossentropy(y, p, return_grad=True)
    assert loss.shape == (3, 4) and grad.shape == (3, 4, 5)
    assert_close(grad, O.binary_crossentropy_grad(y, p, dtype=dtype), dtype)
    labels = rng.integers(0, 10, 20_000)  # > 2 grains: threaded over rows
    logits = rng.standard_normal((20_000, 10)).astype(dtype)
    loss, grad = L.sparse_categorical_crossentropy(labels, logits, from_logits=True,
                                                   return_grad=True)
    y = O.one_hot(labels, 10)
    assert_close(loss, O.categorical_crossentropy(y, logits, True, dtype=dtype), dtype, scale=4)
    assert_close(grad, O.categorical_crossentropy_grad(y, logits, True, dtype=dtype), dtype)
    prev = cnnext.get_num_threads()
    try:
        cnnext.set_num_threads(1)
        one = L.sparse_categorical_crossentropy(labels, logits, from_logits=True, return_grad=True)
    finally:
        cnnext.set_num_threads(prev)
    np.testing.assert_array_equal(one[0], loss)
    np.testing.assert_array_equal(one[1], grad)


@pytest.mark.parametrize("axis", [0, 1, -3])
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_axis(dtype, axis, from_logits):
    rng = np.random.default_rng(1)
    shape = (3, 5, 4)
    p = rng.standard_normal(shape) if from_logits else rng.uniform(0.1, 1, shape)
    p = p.astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    loss, grad = L.categorical_crossentropy(y, p, from_logits, axis=axis, return_grad=True)
    assert loss.shape == tuple(np.delete(shape, axis)) and grad.shape == shape
    assert grad.flags.c_contiguous
    assert_close(loss, O.categorical_crossentropy(y, p, from_logits, axis, dtype), dtype, scale=4)
    assert_close(grad, O.categorical_crossentropy_grad(y, p, from_logits, axis, dtype), dtype)


# ---- hand-computed values -----------------------------------------------------------------------
def test_hand_values():
    f32 = np.float32
    # Keras float32: 1 - 1e-7 rounds to 0.99999988, so y=0, p=1 gives -log(1.1920929e-7)
    loss = L.binary_crossentropy(np.array([[0.0], [1.0]], f32), np.array([[1.0], [1.0]], f32))
    np.testing.assert_allclose(loss, [15.942385, 1.1920929e-07], rtol=1e-6)
    loss = L.binary_crossentropy(np.array([[0.0]]), np.array([[1.0]]))
    np.testing.assert_allclose(loss, [-np.log(1e-7)], rtol=1e-9)  # float64: exactly eps
    np.testing.assert_allclose(L.binary_crossentropy([[1.0, 0.0]], [[0.0, 0.0]], from_logits=True),
                               [np.log(2)], rtol=1e-15)
    np.testing.assert_allclose(L.binary_crossentropy([[1.0, 0.0]], [[0.5, 0.5]]), [np.log(2)],
                               rtol=1e-12)
    p = [[0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]
    np.testing.assert_allclose(L.categorical_crossentropy([[0, 1, 0], [0, 0, 1]], p),
                               [-np.log(0.8), -np.log(0.6)], rtol=1e-12)
    np.testing.assert_allclose(L.sparse_categorical_crossentropy([1, 2], p),
                               [-np.log(0.8), -np.log(0.6)], rtol=1e-12)
    # unnormalized probabilities are renormalized first
    np.testing.assert_allclose(L.categorical_crossentropy([[0, 1]], [[1.0, 3.0]]), [-np.log(0.75)],
                               rtol=1e-12)
    np.testing.assert_allclose(L.sparse_categorical_crossentropy([0], [[0.0, 0.0]], True),
                               [np.log(2)], rtol=1e-15)
    loss, grad = L.mean_squared_error([[1.0, 2.0]], [[3.0, 4.0]], return_grad=True)
    np.testing.assert_allclose(loss, [4.0])
    np.testing.assert_allclose(grad, [[2.0, 2.0]])  # 2 (p - y) / 2
    _, grad = L.sparse_categorical_crossentropy([0, 1], [[0.0, 0.0], [0.0, 0.0]], True, True)
    np.testing.assert_allclose(grad, [[-0.25, 0.25], [0.25, -0.25]])  # (softmax - onehot) / N


def test_clipped_gradient_is_zero():
    _, g = L.binary_crossentropy([[1.0, 0.0, 1.0]], [[0.0, 1.0, 1e-9]], return_grad=True)
    np.testing.assert_array_equal(g, 0)
    _, g = L.categorical_crossentropy([[1.0, 0.0]], [[1.0, 0.0]], return_grad=True)
    assert np.isfinite(g).all()


# ---- finite differences of the mean loss (float64) ----------------------------------------------
FD_CASES = {
    "bce": lambda y, p, lg: L.binary_crossentropy(y, p, from_logits=lg, return_grad=True),
    "cce": lambda y, p, lg: L.categorical_crossentropy(y, p, from_logits=lg, return_grad=True),
    "cce_axis0": lambda y, p, lg: L.categorical_crossentropy(y, p, lg, axis=0, return_grad=True),
    "mse": lambda y, p, lg: L.mean_squared_error(y, p, return_grad=True),
}


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("case", FD_CASES)
def test_gradient_finite_differences(case, from_logits):
    rng = np.random.default_rng(3)
    fn = FD_CASES[case]
    y = rng.uniform(0, 1, (3, 5))
    p = rng.standard_normal((3, 5)) if from_logits else rng.uniform(0.1, 0.9, (3, 5))
    _, grad = fn(y, p, from_logits)
    num = O.numeric_grad(lambda v: fn(y, v, from_logits)[0].mean(), p)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_gradient_finite_differences(from_logits):
    rng = np.random.default_rng(4)
    labels = np.array([0, 4, 2])
    p = rng.standard_normal((3, 5)) if from_logits else rng.uniform(0.1, 0.9, (3, 5))
    f = lambda v: L.sparse_categorical_crossentropy(labels, v, from_logits).mean()  # noqa: E731
    _, grad = L.sparse_categorical_crossentropy(labels, p, from_logits, return_grad=True)
    np.testing.assert_allclose(grad, O.numeric_grad(f, p), rtol=1e-6, atol=1e-9)


# ---- extremes, NaN, dtypes, inputs --------------------------------------------------------------
@pytest.mark.parametrize("from_logits", [False, True])
def test_extreme_inputs_are_finite_and_nan_propagates(isa, dtype, from_logits):
    big = [1e4, -1e4, 88.8, -88.8, 710.0, -745.0, 0.0, -0.0]
    x = np.array([big, big[::-1]], dtype) if from_logits else np.array(
        [[0, 1, 1e-30, 1 - 1e-12, 0.5, 1e-7, np.finfo(dtype).smallest_subnormal, 1]] * 2, dtype)
    y = np.array([[1, 0, 1, 0, 1, 0, 1, 0], [0.5] * 8], dtype)
    for fn in (L.binary_crossentropy, L.categorical_crossentropy):
        loss, grad = fn(y, x, from_logits=from_logits, return_grad=True)
        assert np.isfinite(loss).all() and np.isfinite(grad).all(), fn
    labels = np.array([0, 3])
    loss, grad = L.sparse_categorical_crossentropy(labels, x, from_logits, return_grad=True)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    xn = x.copy()
    xn[1, 2] = np.nan
    for fn in (L.binary_crossentropy, L.categorical_crossentropy, L.mean_squared_error):
        kw = {} if fn is L.mean_squared_error else dict(from_logits=from_logits)
        loss = fn(y, xn, **kw)
        assert np.isfinite(loss[0]) and np.isnan(loss[1]), fn
    loss = L.sparse_categorical_crossentropy(labels, xn, from_logits)
    assert np.isfinite(loss[0]) and np.isnan(loss[1])


def test_dtypes_and_inputs_untouched():
    rng = np.random.default_rng(5)
    p = probs(rng, (4, 3), np.float32)
    y = rng.uniform(0, 1, (4, 3))  # float64 targets are cast to y_pred's float32, as Keras does
    keep = (p.copy(), y.copy())
    for fn in (L.binary_crossentropy, L.categorical_crossentropy, L.mean_squared_error):
        loss, grad = fn(y, p, return_grad=True)
        assert loss.dtype == np.float32 and grad.dtype == np.float32
    loss, grad = L.sparse_categorical_crossentropy(np.array([0, 1, 2, 0]), p, return_grad=True)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    np.testing.assert_array_equal(p, keep[0])
    np.testing.assert_array_equal(y, keep[1])
    assert L.mean_squared_error([[1, 2]], [[1, 3]]).dtype == np.float64  # ints -> float64


def test_keras_rank_matching():
    p = np.array([[0.2], [0.7], [0.9]])
    y = np.array([0.0, 1.0, 1.0])
    loss, grad = L.binary_crossentropy(y, p, return_grad=True)  # (N,) vs (N, 1): y expanded
    assert loss.shape == (3,) and grad.shape == (3, 1)
    np.testing.assert_allclose(loss, O.binary_crossentropy(y[:, None], p))
    loss, grad = L.binary_crossentropy(y[:, None], p[:, 0], return_grad=True)  # y_pred expanded
    assert loss.shape == (3,) and grad.shape == (3,)
    loss, grad = L.mean_squared_error(np.ones((2, 4, 1)), np.zeros((2, 4)), return_grad=True)
    assert loss.shape == (2,) and grad.shape == (2, 4)  # rank > 1: y_true squeezed
    # sparse labels with a trailing 1, float labels that are integers
    p3 = simplex(np.random.default_rng(0), (3, 4), np.float64)
    ref = L.sparse_categorical_crossentropy(np.array([1, 0, 3]), p3)
    np.testing.assert_array_equal(L.sparse_categorical_crossentropy([[1], [0], [3]], p3), ref)
    np.testing.assert_array_equal(L.sparse_categorical_crossentropy([1.0, 0.0, 3.0], p3), ref)
    loss, grad = L.sparse_categorical_crossentropy(3, p3[2], return_grad=True)  # one sample
    assert loss.shape == () and grad.shape == (4,)
    np.testing.assert_allclose(loss, ref[2], rtol=1e-15)


# ---- errors -------------------------------------------------------------------------------------
def test_errors():
    p = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match=r"`y_true` and `y_pred` must have the same shape. "
                                         r"Received: y_true.shape=\(2, 4\), y_pred.shape=\(2, 3\)"):
        L.binary_crossentropy(np.ones((2, 4)), p)
    for fn in (L.categorical_crossentropy, L.mean_squared_error):
        with pytest.raises(ValueError, match="must have the same shape"):
            fn(np.ones(6), p)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        L.mean_squared_error(1.0, 1.0)
    with pytest.raises(ValueError, match="at least 1 dimension"):
        L.sparse_categorical_crossentropy(1, 1.0)
    with pytest.raises(TypeError, match="`y_pred` must be an array of real numbers"):
        L.binary_crossentropy(p, p.astype(complex))
    with pytest.raises(TypeError, match="`y_true` must be an array of real numbers"):
        L.categorical_crossentropy(np.array([["a"] * 3] * 2), p)
    with pytest.raises(ValueError, match="`axis` 2 is out of range for an array of 2 dimensions"):
        L.categorical_crossentropy(p, p, axis=2)
    with pytest.raises(ValueError, match=r"`y_true` must have shape y_pred.shape\[:-1\] = \(2,\)"):
        L.sparse_categorical_crossentropy([0, 1, 2], p)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) for 3 classes, but got "
                                         r"label 3 at index 1"):
        L.sparse_categorical_crossentropy([0, 3], p)
    with pytest.raises(ValueError, match="but got label -1 at index 0"):
        L.sparse_categorical_crossentropy([-1, 0], p)
    with pytest.raises(ValueError, match="must hold integer class labels. Received: 0.5"):
        L.sparse_categorical_crossentropy([0.5, 1.0], p)
    with pytest.raises(ValueError, match="must hold integer class labels"):
        L.sparse_categorical_crossentropy([np.nan, 1.0], p)
    with pytest.raises(TypeError, match="integer class labels. Received: y_true with dtype"):
        L.sparse_categorical_crossentropy(np.array(["a", "b"]), p)
    with pytest.raises(ValueError, match=r"y_true shape \(2,\) must equal y_pred shape"):
        cnnext._core.binary_crossentropy(np.ones(2), np.ones(3))  # C++ check


# ---- the kernels' vector log (reached only inside [1e-7, 2] by the losses) -----------------------
def test_vlog_kernel(isa, dtype):
    fi = np.finfo(dtype)
    rng = np.random.default_rng(6)
    special = [0.0, -0.0, -1.0, -np.inf, np.inf, np.nan, 1.0, 2.0, 0.5, fi.smallest_subnormal,
               fi.smallest_normal, fi.smallest_normal * 0.75, fi.max, 1e-7, 1 - 1e-7, 0.7071067811865476,
               0.70710677, 1.4142135623730951, 1 + fi.eps, 1 - fi.epsneg]
    x = np.concatenate([np.array(special, dtype),
                        np.exp(rng.uniform(-700 if dtype == np.float64 else -100, 88, 3001)).astype(dtype),
                        rng.uniform(0.5, 2.0, 1001).astype(dtype)])
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.log(x.astype(np.float64))
    y = cnnext._core._vlog(x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    fin = np.isfinite(expected)
    np.testing.assert_array_equal(y[~fin], expected[~fin])  # -inf, +inf exact
    ulp = np.spacing(np.abs(expected[fin]).astype(dtype)).astype(np.float64)
    err = np.abs(y[fin] - expected[fin]) / np.maximum(ulp, fi.smallest_subnormal)
    assert err.max() <= 2, err.max()  # a few ulp of the result


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("k", [1, 10, 64, 65])
def test_many_rows_every_loss(isa, dtype, k, from_logits):
    """Rows up to 64 long take a blocked path (several rows per vector pass): cross its blocks."""
    rng = np.random.default_rng(k)
    n = 301
    p = (rng.standard_normal((n, k)) * 3).astype(dtype) if from_logits else \
        rng.uniform(0.05, 1.0, (n, k)).astype(dtype)
    y = rng.uniform(0, 1, (n, k)).astype(dtype)
    labels = rng.integers(0, k, n)
    cases = [(L.binary_crossentropy, y, O.binary_crossentropy(y, p, from_logits, dtype),
              O.binary_crossentropy_grad(y, p, from_logits, dtype)),
             (L.categorical_crossentropy, y, O.categorical_crossentropy(y, p, from_logits, dtype=dtype),
              O.categorical_crossentropy_grad(y, p, from_logits, dtype=dtype)),
             (L.sparse_categorical_crossentropy, labels,
              O.categorical_crossentropy(O.one_hot(labels, k), p, from_logits, dtype=dtype),
              O.categorical_crossentropy_grad(O.one_hot(labels, k), p, from_logits, dtype=dtype))]
    if not from_logits:
        cases.append((L.mean_squared_error, y, O.mean_squared_error(y, p),
                      O.mean_squared_error_grad(y, p)))
    for fn, target, ref_loss, ref_grad in cases:
        kw = {} if fn is L.mean_squared_error else dict(from_logits=from_logits)
        check_loss_and_grad(fn, (target, p), kw, ref_loss, ref_grad, dtype)
