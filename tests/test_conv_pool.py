"""conv2d fused with the max-pool after it (_core.conv2d_max_pool2d and its kernel gradient, the
first-layer fast path of the Keras mirror): the forward bitwise equal to conv2d followed by
max_pool2d_with_argmax, the backward against a NumPy float64 oracle and finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnext
from cnnext import _backend, _core
from cnnext.ops import _conv
from conftest import TOL, assert_close
from oracle_conv_pool import np_conv_pool_backprop_kernel

ACT = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}


def _data(shape, dtype, seed, lo=-1.0, hi=1.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)


class Case:
    """One conv + pool configuration with its resolved _core geometry."""

    def __init__(self, n, h, w, c, f, k=(3, 3), strides=(1, 1), padding="valid", dilation=(1, 1),
                 pool=(2, 2), act="relu"):
        self.x_shape, self.k_shape = (n, h, w, c), k + (c, f)
        self.padding, self.pool, self.act = padding, pool, act
        self.out_hw, self.pad, self.s, self.d = _conv._geometry(
            "conv2d", self.x_shape, self.k_shape, strides, padding, dilation)
        self.pooled_shape = (n, self.out_hw[0] // pool[0], self.out_hw[1] // pool[1], f)

    def geo(self):
        return self.s, self.d, self.pad, self.out_hw

    def inputs(self, dtype, seed):
        return (_data(self.x_shape, dtype, seed), _data(self.k_shape, dtype, seed + 1),
                _data(self.k_shape[3:], dtype, seed + 2, -0.3, 0.3))

    def fused(self, x, k, b, with_argmax=True, **kw):
        return _core.conv2d_max_pool2d(x, k, b, *self.geo(), ACT[self.act], self.pool,
                                       with_argmax, **kw)

    def separate(self, x, k, b):
        y = _core.conv2d(x, k, b, *self.geo(), ACT[self.act])
        return (_core.max_pool2d_with_argmax(y, *self.pool, *self.pool, False),
                _core.max_pool2d(y, *self.pool, *self.pool, False))

    def backward(self, x, dp, pooled, idx, **kw):
        return _core.conv2d_max_pool2d_backprop_kernel(x, dp, pooled, idx, self.k_shape,
                                                       *self.geo(), ACT[self.act], self.pool, **kw)

    def oracle(self, x, dp, pooled, idx):
        return np_conv_pool_backprop_kernel(x, dp, pooled, idx, self.k_shape, self.s, self.padding,
                                            self.d, self.pool, self.act)


def _same_bits(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


def _at_threads(run, threads=(1, 2, 3)):
    saved = cnnext.get_num_threads()
    try:
        outs = []
        for t in threads:
            cnnext.set_num_threads(t)
            outs.append(run())
        return outs
    finally:
        cnnext.set_num_threads(saved)


def _check_forward(case, x, k, b):
    (ref, ref_idx), ref_plain = case.separate(x, k, b)
    for (y, idx), y_plain in _at_threads(lambda: (case.fused(x, k, b), case.fused(x, k, b, False))):
        assert idx.dtype == np.uint8
        _same_bits(y, ref)
        _same_bits(idx, ref_idx)
        _same_bits(y_plain, ref_plain)


# ---- forward: bitwise equal to conv2d + max_pool2d_with_argmax --------------------------------
CASES = [
    Case(32, 28, 28, 1, 32),                                  # the seed model's first layer
    Case(3, 11, 13, 1, 17),                                   # odd conv output: last row/col dropped
    Case(2, 9, 10, 2, 7, act="linear"),
    Case(5, 8, 8, 3, 33, act="tanh"),
    Case(1, 7, 9, 3, 8, act="sigmoid"),
    Case(4, 10, 10, 1, 16, padding="same"),
    Case(2, 12, 11, 2, 15, k=(2, 3), strides=(2, 1), pool=(3, 2)),
    Case(3, 13, 13, 1, 1, dilation=(2, 2), pool=(1, 1)),
    Case(2, 9, 9, 3, 32, k=(1, 1), padding="same", pool=(3, 3), act="linear"),
    Case(33, 6, 6, 2, 16, padding="same", pool=(2, 3)),
    Case(2, 20, 20, 8, 9, k=(5, 5), strides=(2, 2), padding="same"),
    Case(1, 40, 40, 1, 2, pool=(16, 16)),                     # 256-cell windows
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.x_shape}{c.k_shape}{c.pool}{c.act}")
def test_forward_bitwise_equals_conv_then_pool(isa, dtype, case):
    _check_forward(case, *case.inputs(dtype, 1))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 33), h=st.integers(3, 13), w=st.integers(3, 13), c=st.integers(1, 3),
       f=st.sampled_from([1, 7, 8, 15, 16, 17, 32, 33]), kh=st.integers(1, 3),
       kw=st.integers(1, 3), sh=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]),
       pool=st.sampled_from([(2, 2), (1, 2), (3, 3), (2, 1)]),
       act=st.sampled_from(list(ACT)), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 999))
def test_forward_random_shapes_every_isa(n, h, w, c, f, kh, kw, sh, padding, pool, act, dtype,
                                         seed):
    case = Case(n, h, w, c, f, (kh, kw), (sh, 1), padding, pool=pool, act=act)
    if min(case.pooled_shape[1:3]) < 1:
        return
    x, k, b = case.inputs(dtype, seed)
    saved = cnnext.get_isa()
    try:
        for level in cnnext.supported_isas():
            cnnext.set_isa(level)
            _check_forward(case, x, k, b)
    finally:
        cnnext.set_isa(saved)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("act", ["relu", "linear", "tanh"])
def test_forward_nan_and_inf(isa, dtype, padding, act):
    case = Case(3, 10, 11, 2, 17, padding=padding, act=act)
    x, k, b = case.inputs(dtype, 5)
    x[0, 2, 3, 0], x[1, 5, 5, 1], x[2, 0, 0, 0], x[2, 9, 10, 1] = np.nan, np.inf, -np.inf, np.nan
    _check_forward(case, x, k, b)
    kb = k.copy()  # an inf weight meets the padding zeros under 'same' (0 * inf = NaN)
    kb[0, 1, 1, 3], kb[2, 2, 0, 5] = np.inf, np.nan
    _check_forward(case, case.inputs(dtype, 6)[0], kb, b)


def test_forward_ties_pick_the_first_cell(dtype):
    case = Case(2, 7, 7, 1, 8, k=(1, 1), act="relu")
    x = np.zeros(case.x_shape, dtype)
    x[:, ::3, ::2] = 1.0  # many equal maxima and relu zeros
    _check_forward(case, x, np.ones(case.k_shape, dtype), np.zeros(8, dtype))


def test_forward_writes_out_buffers_and_not_inputs(dtype):
    case = Case(4, 12, 12, 1, 8)
    x, k, b = case.inputs(dtype, 7)
    saved = [a.copy() for a in (x, k, b)]
    out = np.full(case.pooled_shape, 7, dtype)
    idx_out = np.full(case.pooled_shape, 9, np.uint8)
    y, idx = case.fused(x, k, b, out=out, argmax_out=idx_out)
    assert y is out and idx is idx_out
    (ref, ref_idx), _ = case.separate(x, k, b)
    _same_bits(out, ref)
    _same_bits(idx_out, ref_idx)
    for a, s in zip((x, k, b), saved):
        _same_bits(a, s)


def test_forward_empty_batch_and_filters(dtype):
    for case in (Case(0, 8, 8, 1, 4), Case(2, 8, 8, 1, 0)):
        x, k, b = case.inputs(dtype, 1)
        y, idx = case.fused(x, k, b)
        assert y.shape == idx.shape == case.pooled_shape


# ---- backward: kernel and bias gradients ------------------------------------------------------
def _backward_inputs(case, dtype, seed):
    x, k, b = case.inputs(dtype, seed)
    pooled, idx = case.fused(x, k, b)
    return x, _data(pooled.shape, dtype, seed + 3), pooled, idx


BACKWARD_CASES = [c for c in CASES if c.act in ("relu", "linear")] + [
    Case(33, 9, 9, 2, 17, padding="same", act="linear"),
    Case(64, 16, 16, 1, 32),                                  # several fixed chunks
    Case(3, 8, 9, 3, 33, k=(2, 2), strides=(1, 2), pool=(3, 2)),
]


@pytest.mark.parametrize("case", BACKWARD_CASES,
                         ids=lambda c: f"{c.x_shape}{c.k_shape}{c.pool}{c.act}")
def test_backward_matches_oracle(isa, dtype, case):
    x, dp, pooled, idx = _backward_inputs(case, dtype, 11)
    dk, db = case.backward(x, dp, pooled, idx)
    ref_k, ref_b = case.oracle(x, dp, pooled, idx)
    pixels = case.pooled_shape[0] * case.pooled_shape[1] * case.pooled_shape[2]
    assert_close(dk, ref_k, dtype, scale=np.sqrt(pixels))
    assert_close(db, ref_b, dtype, scale=np.sqrt(pixels))
    outs = _at_threads(lambda: case.backward(x, dp, pooled, idx))
    for o in outs[1:]:
        _same_bits(o[0], outs[0][0])
        _same_bits(o[1], outs[0][1])


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_backward_nan_and_inf_in_d_pooled(isa, dtype, padding):
    case = Case(3, 9, 10, 1, 16, padding=padding)
    x, dp, pooled, idx = _backward_inputs(case, dtype, 12)
    pooled[0, 0, 0, :4] = -0.0  # relu zeros: inf there gives NaN (inf * 0) as relu_backward does
    dp[0, 0, 0, :2] = np.inf
    dp[1, 2, 3, 5] = np.nan
    dk, db = case.backward(x, dp, pooled, idx)
    ref_k, ref_b = case.oracle(x, dp, pooled, idx)
    np.testing.assert_array_equal(np.isnan(dk), np.isnan(ref_k))
    np.testing.assert_array_equal(np.isnan(db), np.isnan(ref_b))
    np.testing.assert_array_equal(np.isinf(dk), np.isinf(ref_k))


def test_backward_writes_out_buffers_and_not_inputs(dtype):
    case = Case(5, 11, 11, 2, 8)
    args = _backward_inputs(case, dtype, 13)
    saved = [a.copy() for a in args]
    out, bias_out = np.full(case.k_shape, 5, dtype), np.full(8, 5, dtype)
    dk, db = case.backward(*args, out=out, bias_out=bias_out)
    assert dk is out and db is bias_out
    ref_k, ref_b = case.oracle(*args)
    assert_close(dk, ref_k, dtype, scale=10)
    assert_close(db, ref_b, dtype, scale=10)
    for a, s in zip(args, saved):
        _same_bits(a, s)


def test_backward_linear_needs_no_pooled(dtype):
    case = Case(3, 9, 9, 1, 8, act="linear")
    x, dp, pooled, idx = _backward_inputs(case, dtype, 14)
    a, b = case.backward(x, dp, None, idx), case.backward(x, dp, pooled, idx)
    _same_bits(a[0], b[0])
    _same_bits(a[1], b[1])


def test_backward_empty_batch(dtype):
    case = Case(0, 8, 8, 1, 4)
    x, dp, pooled, idx = _backward_inputs(case, dtype, 15)
    dk, db = case.backward(x, dp, pooled, idx, out=np.full(case.k_shape, 3, dtype))
    assert not dk.any() and not db.any()


@pytest.mark.parametrize("case", [Case(2, 9, 8, 2, 3, act="relu"),
                                  Case(2, 9, 9, 1, 2, strides=(2, 1), padding="same",
                                       pool=(2, 3), act="linear")],
                         ids=["relu-valid", "linear-same"])
def test_backward_finite_differences(case):
    """dW, db of L = sum(w * pooled(act(conv(x) + b))) by central differences, float64."""
    x, k, b = case.inputs(np.float64, 21)
    wgt = _data(case.pooled_shape, np.float64, 22)

    def loss(k_, b_):
        return float((wgt * case.fused(x, k_, b_, False)).sum())

    pooled, idx = case.fused(x, k, b)
    dk, db = case.backward(x, wgt, pooled, idx)
    eps = 1e-6
    for param, grad in ((k, dk), (b, db)):
        num = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            saved = param[i]
            param[i] = saved + eps
            up = loss(k, b)
            param[i] = saved - eps
            down = loss(k, b)
            param[i] = saved
            num[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-7)


# ---- the predicate, the _backend wrappers, errors ---------------------------------------------
def test_fusable_predicate():
    geo = ((1, 1), (1, 1), (0, 0), (26, 26))
    assert _core.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 1, 32), *geo, (2, 2), (2, 2),
                                           False)
    assert not _core.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 1, 32), *geo, (2, 2),
                                               (1, 1), False)
    assert not _core.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 1, 32), *geo, (2, 2),
                                               (2, 2), True)
    assert not _core.conv2d_max_pool2d_fusable((32, 28, 28, 16), (3, 3, 16, 32), *geo, (2, 2),
                                               (2, 2), False)
    assert not _core.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 2, 32), *geo, (2, 2),
                                               (2, 2), False)
    assert not _core.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 1, 32), *geo, (27, 2),
                                               (27, 2), False)
    assert _backend.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 1, 32), 1, "valid", 1, 2,
                                              None, "valid")
    assert not _backend.conv2d_max_pool2d_fusable((32, 28, 28, 1), (3, 3, 1, 32), 1, "valid", 1,
                                                  2, 1, "valid")


@pytest.mark.parametrize("c, pool_strides", [(1, None), (1, (1, 1)), (16, None)],
                         ids=["fused", "overlapping-pool", "many-channels"])
def test_backend_wrappers_fused_or_separate(dtype, c, pool_strides):
    case = Case(6, 12, 12, c, 16)
    x, k, b = case.inputs(dtype, 31)
    pooled, idx = _backend.conv2d_max_pool2d(x, k, b, 1, "valid", 1, "relu", 2, pool_strides)
    y = _backend.conv2d(x, k, b, 1, "valid", 1, "relu")
    ref, ref_idx = _backend.max_pool2d_with_argmax(y, 2, pool_strides, "valid")
    _same_bits(pooled, ref)
    _same_bits(idx, ref_idx)
    _same_bits(_backend.conv2d_max_pool2d(x, k, b, 1, "valid", 1, "relu", 2, pool_strides,
                                          with_argmax=False), ref)
    dp = _data(pooled.shape, dtype, 32)
    dk, db = _backend.conv2d_max_pool2d_backprop_kernel(x, dp, pooled, idx, k.shape, 1, "valid",
                                                        1, "relu", 2, pool_strides)
    dy = _backend.max_pool2d_backward(_backend.activation_backward("relu", dp, pooled), idx,
                                      y.shape, 2, pool_strides, "valid")
    assert_close(dk, _backend.conv2d_backprop_kernel(x, dy, k.shape, 1, "valid", 1), dtype,
                 scale=30)
    assert_close(db, _backend.conv2d_backprop_bias(dy), dtype, scale=30)


def test_forward_errors():
    case = Case(2, 10, 10, 1, 8)
    x, k, b = case.inputs(np.float32, 41)
    geo = case.geo()
    with pytest.raises(ValueError, match=r"cannot fuse this convolution \(C=16"):
        _core.conv2d_max_pool2d(np.zeros((2, 10, 10, 16), np.float32),
                                np.zeros((3, 3, 16, 8), np.float32), None, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="pool window is larger"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 1, (9, 2))
    with pytest.raises(ValueError, match="at most 256 cells"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 1, (0, 2))
    with pytest.raises(ValueError, match="kernel has 2 input channels but input has 1"):
        _core.conv2d_max_pool2d(x, np.zeros((3, 3, 2, 8), np.float32), b, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="expected 4-D input"):
        _core.conv2d_max_pool2d(x[0], k, b, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="expected bias of shape"):
        _core.conv2d_max_pool2d(x, k, b[:3], *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="unknown activation code 7"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 7, (2, 2))
    with pytest.raises(TypeError):  # mixed dtypes: no conversion in _core
        _core.conv2d_max_pool2d(x, k.astype(np.float64), b, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 4, 4, 8\)"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 1, (2, 2), out=np.zeros((2, 4, 4, 7), np.float32))
    with pytest.raises(TypeError, match="`out` must have dtype uint8"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 1, (2, 2),
                                argmax_out=np.zeros((2, 4, 4, 8), np.int32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 1, (2, 2),
                                out=np.zeros((2, 4, 4, 16), np.float32)[..., ::2])
    with pytest.raises(ValueError, match="argmax_out given with with_argmax=False"):
        _core.conv2d_max_pool2d(x, k, b, *geo, 1, (2, 2), False,
                                argmax_out=np.zeros((2, 4, 4, 8), np.uint8))


def test_backward_errors():
    case = Case(2, 10, 10, 1, 8)
    x, dp, pooled, idx = _backward_inputs(case, np.float32, 42)
    ks, geo = case.k_shape, case.geo()
    bw = _core.conv2d_max_pool2d_backprop_kernel
    with pytest.raises(ValueError, match="d_pooled must have the pooled shape"):
        bw(x, dp[:, :3].copy(), pooled, idx, ks, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="argmax must have the pooled shape"):
        bw(x, dp, pooled, idx[:1], ks, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="pooled must have the pooled shape"):
        bw(x, dp, pooled[:1], idx, ks, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="relu needs the pooled output"):
        bw(x, dp, None, idx, ks, *geo, 1, (2, 2))
    with pytest.raises(ValueError, match=r"linear \(0\) or relu \(1\), got code 3"):
        bw(x, dp, pooled, idx, ks, *geo, 3, (2, 2))
    with pytest.raises(ValueError, match="kernel shape must have 4 entries"):
        bw(x, dp, pooled, idx, ks[:3], *geo, 1, (2, 2))
    with pytest.raises(ValueError, match="cannot fuse .* the pool window is larger"):
        bw(x, dp, pooled, idx, ks, *geo, 1, (9, 2))
    with pytest.raises(TypeError):  # argmax must be uint8
        bw(x, dp, pooled, idx.astype(np.int32), ks, *geo, 1, (2, 2))
    with pytest.raises(TypeError, match="`out` must have dtype float32"):
        bw(x, dp, pooled, idx, ks, *geo, 1, (2, 2), out=np.zeros(ks, np.float64))
    with pytest.raises(ValueError, match=r"`out` must have shape \(8,\)"):
        bw(x, dp, pooled, idx, ks, *geo, 1, (2, 2), bias_out=np.zeros(7, np.float32))
