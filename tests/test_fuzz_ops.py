"""Hypothesis fuzzing of every public op in cnnext.ops over its whole argument space.

Each call must either match the op's pure-NumPy oracle (tests/oracle_*.py, conftest's per-dtype
tolerances, NaN/inf where NumPy's formula puts them) or raise ValueError/TypeError with a message;
it must never crash, never alias or write into its inputs (the optimizers write only their
documented state, and nothing at all when they raise). Inputs come as float32 / float64 / int8 /
int64 / uint8 / bool arrays or Python lists, C-contiguous, step-sliced, reversed or Fortran-ordered,
with NaN and +-inf;
shapes hold 0, 1, primes and SIMD tile edges (7, 8, 9, 15, 16, 17, 31, 33); every stride / dilation
/ padding / pool / mode / boundary combination is drawn, on every ISA the CPU supports.

Complex input is a TypeError everywhere: ``ops/_common.py`` accepts only real kinds ('b', 'i', 'u',
'f') and converts them to float32/float64; it never silently drops an imaginary part (NumPy's
``astype(float)`` would, with a ComplexWarning). Strings, None (where not optional), objects and
ragged lists are TypeErrors too; wrong ranks and shapes are ValueErrors.

Deterministic: ``derandomize=True`` and no example database (``fuzz_support.FUZZ``).
"""
import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnext.ops as ops
import oracle_activations as oa
import oracle_conv as oc
import oracle_dense as od
import oracle_norm as on
import oracle_pooling as op
import oracle_signal as osig
from fuzz_support import (FLOAT_KINDS, FUZZ, TILE_EDGES, assert_close, assert_unchanged, draw_isa,
                          f64, not_aliased, on_isa, present, raises_clearly, result_dtype,
                          snapshot, values)

ERR = object()  # "the call must raise ValueError/TypeError"


def run_case(fn, args, kwargs, expected, rdtype=None, scale=1.0, isa=None):
    """The fuzz contract for one call: expected is ERR, or the oracle's array / tuple of arrays
    (None entries are not compared)."""
    snaps = snapshot(*args, *kwargs.values())
    with on_isa(isa) if isa else contextlib.nullcontext():
        if expected is ERR:
            raises_clearly(fn, *args, **kwargs)
        else:
            res = fn(*args, **kwargs)
            not_aliased(res, *args, *kwargs.values())
            if isinstance(expected, tuple):
                assert isinstance(res, tuple) and len(res) == len(expected)
                for r, e in zip(res, expected):
                    if e is not None:
                        assert_close(r, e, rdtype, scale)
            else:
                assert_close(res, expected, rdtype, scale)
    assert_unchanged(snaps)


shapes_any = st.lists(st.sampled_from(TILE_EDGES), min_size=0, max_size=3).map(tuple)


# ---- activations ---------------------------------------------------------------------------------
UNARY = [("relu", oa.relu), ("sigmoid", oa.sigmoid), ("tanh", oa.tanh)]


@pytest.mark.parametrize("name,oracle", UNARY, ids=[u[0] for u in UNARY])
@FUZZ
@given(data=st.data())
def test_unary_activation(name, oracle, data):
    shape = data.draw(shapes_any, label="shape")
    x = present(data, values(data, shape, scale=4.0))
    rd = result_dtype(x)
    use_out = data.draw(st.booleans(), label="out")
    out = np.full(np.shape(x), 7, rd) if use_out else None
    fn = getattr(ops, name)
    with on_isa(draw_isa(data)):
        snaps = snapshot(x)
        res = fn(x, out=out)
        assert_unchanged(snaps)
    if use_out:
        assert res is out
    else:
        not_aliased(res, x)
    assert_close(res, oracle(f64(x)), rd)


def _empty_safe(oracle):
    """The oracle, or an empty float64 result for an empty input (np.max has no identity)."""
    def run(x, *args):
        return np.zeros(np.shape(x)) if np.size(x) == 0 else oracle(x, *args)
    return run


SOFTMAX = [("softmax", _empty_safe(oa.softmax)), ("log_softmax", _empty_safe(oa.log_softmax))]


@pytest.mark.parametrize("name,oracle", SOFTMAX, ids=[s[0] for s in SOFTMAX])
@FUZZ
@given(data=st.data())
def test_softmax_family(name, oracle, data):
    shape = data.draw(shapes_any, label="shape")
    x = present(data, values(data, shape, scale=3.0))
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim - 1, ndim), label="axis")
    ok = -ndim <= axis < ndim
    expected = oracle(f64(x), axis) if ok else ERR
    run_case(getattr(ops, name), (x,), {"axis": axis}, expected, result_dtype(x),
             isa=draw_isa(data))


BACKWARD = [("relu_backward", oa.relu_backward), ("sigmoid_backward", oa.sigmoid_backward),
            ("tanh_backward", oa.tanh_backward)]


@pytest.mark.parametrize("name,oracle", BACKWARD, ids=[b[0] for b in BACKWARD])
@FUZZ
@given(data=st.data())
def test_activation_backward(name, oracle, data):
    shape = data.draw(shapes_any, label="shape")
    other = shape if data.draw(st.integers(0, 5), label="mismatch") else shape + (2,)
    dy = present(data, values(data, shape))
    a = present(data, values(data, other))
    expected = oracle(f64(dy), f64(a)) if other == shape else ERR
    run_case(getattr(ops, name), (dy, a), {}, expected, result_dtype(dy, a), isa=draw_isa(data))


SOFTMAX_BW = [("softmax_backward", oa.softmax_backward, _empty_safe(oa.softmax)),
              ("log_softmax_backward", oa.log_softmax_backward, _empty_safe(oa.log_softmax))]


@pytest.mark.parametrize("name,oracle,forward", SOFTMAX_BW, ids=[s[0] for s in SOFTMAX_BW])
@FUZZ
@given(data=st.data())
def test_softmax_family_backward(name, oracle, forward, data):
    shape = data.draw(shapes_any, label="shape")
    ndim = len(shape)
    axis = data.draw(st.integers(-ndim - 1, ndim), label="axis")
    ok = -ndim <= axis < ndim
    dy = present(data, values(data, shape))
    y = forward(values(data, shape), axis) if ok and ndim else values(data, shape)
    y = present(data, y)
    expected = oracle(f64(dy), f64(y), axis) if ok else ERR
    run_case(getattr(ops, name), (dy, y), {"axis": axis}, expected, result_dtype(dy, y),
             scale=max(1, shape[axis] if ok else 1), isa=draw_isa(data))


@pytest.fixture(autouse=True)
def _quiet_numpy():
    """The oracles state what NumPy's formulas give, overflow and invalid-value warnings and all."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # np.mean's "Mean of empty slice"
        yield


# ---- convolution ---------------------------------------------------------------------------------
def _conv_config(data):
    cfg = dict(
        n=data.draw(st.sampled_from([0, 1, 2]), label="N"),
        h=data.draw(st.sampled_from([1, 2, 3, 5, 7, 8, 9]), label="H"),
        w=data.draw(st.sampled_from([1, 2, 3, 5, 7, 8, 9, 16, 17]), label="W"),
        c=data.draw(st.sampled_from([1, 2, 3, 7, 8, 9, 16, 17]), label="C"),
        f=data.draw(st.sampled_from([0, 1, 3, 7, 8, 9, 16, 17, 32, 33]), label="F"),
        kh=data.draw(st.sampled_from([1, 2, 3, 5]), label="KH"),
        kw=data.draw(st.sampled_from([1, 2, 3, 5]), label="KW"),
    )
    s = data.draw(st.sampled_from([1, 2, 3, (1, 2), (3, 1)]), label="strides")
    d = data.draw(st.sampled_from([1, 2, 3, (1, 2), (2, 1)]), label="dilation_rate")
    padding = data.draw(st.sampled_from(["valid", "same", "SAME"]), label="padding")
    return cfg, s, d, padding


def _conv_out(cfg, s, d, padding):
    """(OH, OW), or None when the output would be empty (a ValueError)."""
    sp, dp = op.pair(s), op.pair(d)
    oh = oc.conv_geometry(cfg["h"], cfg["kh"], sp[0], dp[0], padding.lower())[0]
    ow = oc.conv_geometry(cfg["w"], cfg["kw"], sp[1], dp[1], padding.lower())[0]
    return (oh, ow) if oh >= 1 and ow >= 1 else None


@FUZZ
@given(data=st.data())
def test_conv2d(data):
    cfg, s, d, padding = _conv_config(data)
    act = data.draw(st.sampled_from([None, "linear", "relu", "sigmoid", "tanh"]), label="act")
    x = present(data, values(data, (cfg["n"], cfg["h"], cfg["w"], cfg["c"])))
    k = present(data, values(data, (cfg["kh"], cfg["kw"], cfg["c"], cfg["f"]), scale=0.5))
    b = present(data, values(data, (cfg["f"],))) if data.draw(st.booleans(), label="bias") else None
    kwargs = dict(strides=s, padding=padding, dilation_rate=d, activation=act)
    ok = _conv_out(cfg, s, d, padding) is not None
    expected = oc.np_conv2d(f64(x), f64(k), f64(b), s, padding.lower(), d, act) if ok else ERR
    scale = cfg["kh"] * cfg["kw"] * cfg["c"]
    run_case(ops.conv2d, (x, k, b), kwargs, expected, result_dtype(x, k, b), scale,
             isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_conv2d_backprop_input(data):
    cfg, s, d, padding = _conv_config(data)
    out_hw = _conv_out(cfg, s, d, padding) or (1, 1)
    input_shape = (cfg["n"], cfg["h"], cfg["w"], cfg["c"])
    dy = present(data, values(data, (cfg["n"],) + out_hw + (cfg["f"],)))
    k = present(data, values(data, (cfg["kh"], cfg["kw"], cfg["c"], cfg["f"]), scale=0.5))
    shape_kind = data.draw(st.sampled_from(["tuple", "list", "array"]), label="shape_kind")
    shape_arg = {"tuple": input_shape, "list": list(input_shape),
                 "array": np.array(input_shape)}[shape_kind]
    kwargs = dict(strides=s, padding=padding, dilation_rate=d)
    ok = _conv_out(cfg, s, d, padding) is not None
    expected = (oc.np_conv2d_backprop_input(f64(dy), f64(k), input_shape, s, padding.lower(), d)
                if ok else ERR)
    scale = cfg["kh"] * cfg["kw"] * max(cfg["f"], 1)
    run_case(ops.conv2d_backprop_input, (dy, k, shape_arg), kwargs, expected,
             result_dtype(dy, k), scale, isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_conv2d_backprop_kernel(data):
    cfg, s, d, padding = _conv_config(data)
    out_hw = _conv_out(cfg, s, d, padding) or (1, 1)
    kernel_shape = (cfg["kh"], cfg["kw"], cfg["c"], cfg["f"])
    x = present(data, values(data, (cfg["n"], cfg["h"], cfg["w"], cfg["c"])))
    dy = present(data, values(data, (cfg["n"],) + out_hw + (cfg["f"],)))
    kwargs = dict(strides=s, padding=padding, dilation_rate=d)
    ok = _conv_out(cfg, s, d, padding) is not None
    expected = (oc.np_conv2d_backprop_kernel(f64(x), f64(dy), kernel_shape, s, padding.lower(), d)
                if ok and cfg["f"] else np.zeros(kernel_shape) if ok else ERR)
    scale = max(1, cfg["n"] * out_hw[0] * out_hw[1])
    run_case(ops.conv2d_backprop_kernel, (x, dy, kernel_shape), kwargs, expected,
             result_dtype(x, dy), scale, isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_conv2d_backprop_bias(data):
    shape = tuple(data.draw(st.lists(st.sampled_from(TILE_EDGES), min_size=0, max_size=5),
                            label="shape"))
    dy = present(data, values(data, shape))
    expected = f64(dy).sum((0, 1, 2)) if len(shape) == 4 else ERR
    run_case(ops.conv2d_backprop_bias, (dy,), {}, expected, result_dtype(dy),
             scale=max(1, int(np.prod(shape[:3]))) if len(shape) == 4 else 1, isa=draw_isa(data))


# ---- pooling -------------------------------------------------------------------------------------
def _pool_config(data):
    shape = (data.draw(st.sampled_from([0, 1, 2]), label="N"),
             data.draw(st.sampled_from([1, 2, 3, 5, 7, 8, 9]), label="H"),
             data.draw(st.sampled_from([1, 2, 3, 5, 7, 8, 9, 17]), label="W"),
             data.draw(st.sampled_from([0, 1, 3, 7, 8, 9, 16, 17, 33]), label="C"))
    # (16, 17): 272 window cells, past uint8 argmax indices (int32 then)
    pool = data.draw(st.sampled_from([1, 2, 3, 5, (2, 3), (3, 1), (1, 4), (16, 17)]),
                     label="pool_size")
    strides = data.draw(st.sampled_from([None, 1, 2, 3, (1, 2), (3, 1)]), label="strides")
    padding = data.draw(st.sampled_from(["valid", "same", "Same"]), label="padding")
    ph, pw = op.pair(pool)
    ok = padding.lower() == "same" or (shape[1] >= ph and shape[2] >= pw)
    out = None
    if ok:
        oh, ow, _, _ = op.geometry(shape[1], shape[2], pool, strides, padding.lower())
        out = (shape[0], oh, ow, shape[3])
    return shape, dict(pool_size=pool, strides=strides, padding=padding), out


def _or_zeros(shape, fn, *args, **kwargs):
    """fn(...), or zeros of an empty `shape` (the loop oracles cannot reshape (0, -1, 0))."""
    return np.zeros(shape) if 0 in shape else fn(*args, **kwargs)


def _pool_oracle_kw(kw):
    return dict(pool_size=kw["pool_size"], strides=kw["strides"], padding=kw["padding"].lower())


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@FUZZ
@given(data=st.data())
def test_pool2d(name, data):
    shape, kw, out = _pool_config(data)
    x = present(data, values(data, shape))
    oracle = getattr(op, name)
    expected = _or_zeros(out, oracle, f64(x), **_pool_oracle_kw(kw)) if out else ERR
    cells = int(np.prod(op.pair(kw["pool_size"])))
    run_case(getattr(ops, name), (x,), kw, expected, result_dtype(x), cells, isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_max_pool2d_with_argmax_and_its_backward(data):
    shape, kw, out = _pool_config(data)
    x = present(data, values(data, shape))
    with on_isa(draw_isa(data)):
        snaps = snapshot(x)
        if out is None:
            raises_clearly(ops.max_pool2d_with_argmax, x, **kw)
            return
        y, idx = ops.max_pool2d_with_argmax(x, **kw)
        assert_unchanged(snaps)
    ey, eidx = (np.zeros(out), np.zeros(out, np.int64)) if 0 in out else \
        op.max_pool2d_argmax(f64(x), **_pool_oracle_kw(kw))
    cells = int(np.prod(op.pair(kw["pool_size"])))
    assert_close(y, ey, result_dtype(x))
    assert idx.dtype == (np.uint8 if cells <= 256 else np.int32) and idx.shape == out
    np.testing.assert_array_equal(idx.astype(np.int64), eidx)
    # ... and the gradient routed through that argmax
    dy = present(data, values(data, out))
    expected = _or_zeros(shape, op.max_pool2d_backward, f64(dy), f64(x), **_pool_oracle_kw(kw))
    run_case(ops.max_pool2d_backward_from_argmax, (dy, idx, shape), kw, expected,
             result_dtype(dy), cells, isa=draw_isa(data))
    run_case(ops.max_pool2d_backward, (dy, x), kw, expected, result_dtype(dy, x), cells,
             isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_max_pool2d_backward_from_argmax_rejects_bad_argmax(data):
    shape, kw, out = _pool_config(data)
    if out is None or 0 in out:
        return
    cells = int(np.prod(op.pair(kw["pool_size"])))
    dy = present(data, values(data, out))
    bad = data.draw(st.sampled_from(["range", "dtype", "shape", "list", "negative"]), label="bad")
    good_dtype = np.uint8 if cells <= 256 else np.int32
    idx = np.zeros(out, good_dtype)
    if bad == "range":
        idx.reshape(-1)[data.draw(st.integers(0, idx.size - 1))] = cells
    elif bad == "dtype":
        idx = idx.astype(data.draw(st.sampled_from([np.int64, np.float32, np.int8, np.bool_])))
    elif bad == "shape":
        idx = np.zeros(out[:3] + (out[3] + 1,), good_dtype)
    elif bad == "list":
        idx = idx.tolist()
    else:
        idx = np.full(out, -1, np.int32 if good_dtype == np.int32 else np.int8)
    run_case(ops.max_pool2d_backward_from_argmax, (dy, idx, shape), kw, ERR)


@FUZZ
@given(data=st.data())
def test_avg_pool2d_backward(data):
    shape, kw, out = _pool_config(data)
    dy = present(data, values(data, out or (1, 1, 1, 1)))
    shape_arg = data.draw(st.sampled_from([shape, list(shape)]), label="input_shape")
    expected = (_or_zeros(shape, op.avg_pool2d_backward, f64(dy), shape, **_pool_oracle_kw(kw))
                if out else ERR)
    run_case(ops.avg_pool2d_backward, (dy, shape_arg), kw, expected, result_dtype(dy),
             isa=draw_isa(data))


@pytest.mark.parametrize("name", ["global_avg_pool2d", "global_max_pool2d"])
@FUZZ
@given(data=st.data())
def test_global_pool2d(name, data):
    shape = (data.draw(st.sampled_from([0, 1, 2]), label="N"),
             data.draw(st.sampled_from([0, 1, 2, 3, 7, 8, 9]), label="H"),
             data.draw(st.sampled_from([1, 2, 3, 8, 17]), label="W"),
             data.draw(st.sampled_from([0, 1, 7, 8, 9, 16, 17, 33]), label="C"))
    keepdims = data.draw(st.sampled_from([False, True, np.True_]), label="keepdims")
    x = present(data, values(data, shape))
    if shape[1] == 0:
        run_case(getattr(ops, name), (x,), {"keepdims": keepdims}, ERR)
        return
    e = getattr(op, name)(f64(x))
    expected = e.reshape(shape[0], 1, 1, shape[3]) if keepdims else e
    run_case(getattr(ops, name), (x,), {"keepdims": keepdims}, expected, result_dtype(x),
             shape[1] * shape[2], isa=draw_isa(data))
    # the backward ops, with dy of either accepted shape
    dy_shape = (shape[0], 1, 1, shape[3]) if keepdims else (shape[0], shape[3])
    dy = present(data, values(data, dy_shape))
    dy4 = f64(dy).reshape(shape[0], 1, 1, shape[3])
    if name == "global_avg_pool2d":
        expected = np.broadcast_to(dy4 / (shape[1] * shape[2]), shape)
        run_case(ops.global_avg_pool2d_backward, (dy, shape), {}, expected, result_dtype(dy),
                 isa=draw_isa(data))
    else:
        expected = _or_zeros(shape, op.max_pool2d_backward, dy4, f64(x), (shape[1], shape[2]))
        run_case(ops.global_max_pool2d_backward, (dy, x), {}, expected, result_dtype(dy, x),
                 isa=draw_isa(data))


# ---- matmul and dense ----------------------------------------------------------------------------
dims = st.sampled_from(TILE_EDGES)


@FUZZ
@given(data=st.data())
def test_matmul(data):
    m, k, n = data.draw(dims, label="M"), data.draw(dims, label="K"), data.draw(dims, label="N")
    ra, rb = data.draw(st.sampled_from([0, 1, 2, 2, 3]), label="a.ndim"), \
        data.draw(st.sampled_from([0, 1, 2, 2, 3]), label="b.ndim")
    ka = k if data.draw(st.integers(0, 7), label="inner_mismatch") else k + 1
    a_shape = {0: (), 1: (ka,), 2: (m, ka), 3: (2, m, ka)}[ra]
    b_shape = {0: (), 1: (k,), 2: (k, n), 3: (2, k, n)}[rb]
    a = present(data, values(data, a_shape))
    b = present(data, values(data, b_shape))
    ok = ra in (1, 2) and rb in (1, 2) and ka == k
    expected = od.np_matmul(f64(a), f64(b)) if ok else ERR
    run_case(ops.matmul, (a, b), {}, expected, result_dtype(a, b), max(k, 1), isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_matmul_out(data):
    m, k, n = data.draw(dims, label="M"), data.draw(dims, label="K"), data.draw(dims, label="N")
    a = present(data, values(data, (m, k)), kinds=FLOAT_KINDS)
    b = present(data, values(data, (k, n)), kinds=FLOAT_KINDS)
    rd = result_dtype(a, b)
    bad = data.draw(st.sampled_from([None, "dtype", "shape", "order", "readonly", "list"]),
                    label="bad_out")
    out = np.full((m, n), 7, rd)
    if bad == "dtype":
        out = out.astype(np.float32 if rd == np.float64 else np.float64)
    elif bad == "shape":
        out = np.zeros((m, n + 1), rd)
    elif bad == "order":
        out = np.zeros((n, m), rd).T if m > 1 and n > 1 else np.zeros((m, n + 1), rd)
    elif bad == "readonly":
        out.flags.writeable = False
    elif bad == "list":
        out = out.tolist()
    with on_isa(draw_isa(data)):
        snaps = snapshot(a, b)
        if bad:
            raises_clearly(ops.matmul, a, b, out=out)
        else:
            assert ops.matmul(a, b, out=out) is out
            assert_close(out, od.np_matmul(f64(a), f64(b)), rd, max(k, 1))
        assert_unchanged(snaps)


def _dense_shapes(data):
    lead = tuple(data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 7, 9, 17]), max_size=2),
                           label="lead"))
    return lead, data.draw(dims, label="in"), data.draw(dims, label="out")


@FUZZ
@given(data=st.data())
def test_dense(data):
    lead, n_in, n_out = _dense_shapes(data)
    act = data.draw(st.sampled_from([None, "linear", "relu", "Sigmoid", "tanh"]), label="act")
    x_in = n_in if data.draw(st.integers(0, 7), label="mismatch") else n_in + 1
    x = present(data, values(data, lead + (x_in,)))
    kernel = present(data, values(data, (n_in, n_out), scale=0.5))
    bias = present(data, values(data, (n_out,))) if data.draw(st.booleans()) else None
    expected = (od.np_dense(f64(x), f64(kernel), f64(bias), act and act.lower())
                if x_in == n_in else ERR)
    run_case(ops.dense, (x, kernel, bias), {"activation": act}, expected,
             result_dtype(x, kernel, bias), max(n_in, 1), isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_dense_backprop(data):
    lead, n_in, n_out = _dense_shapes(data)
    x = present(data, values(data, lead + (n_in,)))
    dy = present(data, values(data, lead + (n_out,)))
    kernel = present(data, values(data, (n_in, n_out), scale=0.5))
    isa = draw_isa(data)
    if not lead and data.draw(st.booleans(), label="0-d"):  # rank-0 operands: no feature axis
        run_case(ops.dense_backprop_bias, (np.float64(1),), {}, ERR)
        run_case(ops.dense_backprop_input, (np.float32(1), kernel), {}, ERR)
        return
    run_case(ops.dense_backprop_input, (dy, kernel), {}, od.np_dense_backprop_input(f64(dy),
             f64(kernel)), result_dtype(dy, kernel), max(n_out, 1), isa=isa)
    m = int(np.prod(lead))
    ek = (f64(x).reshape(m, n_in).T @ f64(dy).reshape(m, n_out))
    run_case(ops.dense_backprop_kernel, (x, dy), {}, ek, result_dtype(x, dy), max(m, 1), isa=isa)
    run_case(ops.dense_backprop_bias, (dy,), {}, f64(dy).reshape(m, n_out).sum(0),
             result_dtype(dy), max(m, 1), isa=isa)
    if lead:  # leading shapes that differ
        other = present(data, values(data, lead[:-1] + (lead[-1] + 1, n_out)))
        run_case(ops.dense_backprop_kernel, (x, other), {}, ERR)


# ---- scipy.signal drop-ins -----------------------------------------------------------------------
def _signal_out_shape(s1, s2, mode):
    """SciPy's output shape; raises ValueError where SciPy does (the oracle mis-shapes empties)."""
    if len(s1) != 2 or len(s2) != 2:
        raise ValueError("rank")
    if mode == "full":
        out = (s1[0] + s2[0] - 1, s1[1] + s2[1] - 1)
    elif mode == "same":
        out = s1
    else:
        big, small = (s1, s2) if all(a >= b for a, b in zip(s1, s2)) else (s2, s1)
        if not all(a >= b for a, b in zip(big, small)):
            raise ValueError("valid")
        out = (big[0] - small[0] + 1, big[1] - small[1] + 1)
    if min(out) < 0:
        raise ValueError("negative")
    return out


@pytest.mark.parametrize("name", ["convolve2d", "correlate2d"])
@FUZZ
@given(data=st.data())
def test_signal(name, data):
    size = st.sampled_from([0, 1, 2, 3, 5, 7, 8, 9, 16, 17])
    s1 = (data.draw(size, label="h"), data.draw(size, label="w"))
    s2 = (data.draw(st.sampled_from([0, 1, 2, 3, 5]), label="kh"),
          data.draw(st.sampled_from([0, 1, 2, 3, 5, 8]), label="kw"))
    if data.draw(st.integers(0, 9), label="rank") == 0:
        s1 = s1 + (1,)
    mode = data.draw(st.sampled_from(["full", "same", "valid"]), label="mode")
    boundary = data.draw(st.sampled_from(["fill", "pad", "wrap", "circular", "symm",
                                          "symmetric"]), label="boundary")
    fillvalue = data.draw(st.sampled_from([0, 1.5, -2, np.float32(3), np.array([0.25]), None,
                                           np.inf, np.nan]), label="fillvalue")
    in1 = present(data, values(data, s1))
    in2 = present(data, values(data, s2))
    try:
        oracle = getattr(osig, "oracle_" + name)
        fill = 0.0 if fillvalue is None else float(np.asarray(fillvalue).reshape(()))
        out = _signal_out_shape(s1, s2, mode)
        empty = 0 in out or 0 in s2 or (mode == "valid" and 0 in s1)  # a sum over no taps
        expected = np.zeros(out) if empty else oracle(f64(in1), f64(in2), mode, boundary, fill)
    except (ValueError, AssertionError, IndexError):
        expected = ERR  # SciPy raises for these too (rank, 'valid' sizes, wrap/symm of nothing)
    run_case(getattr(ops, name), (in1, in2),
             dict(mode=mode, boundary=boundary, fillvalue=fillvalue), expected,
             result_dtype(in1, in2), max(1, s2[0] * s2[1]), isa=draw_isa(data))


# ---- losses --------------------------------------------------------------------------------------
def _loss_inputs(data, probabilities):
    lead = tuple(data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 7, 9]), max_size=2),
                           label="lead"))
    k = data.draw(st.sampled_from([0, 1, 2, 3, 7, 8, 9, 16, 17, 33]), label="classes")
    shape = lead + (k,)
    p = values(data, shape, scale=3.0)
    if probabilities:  # mostly (0, 1), some exactly 0 / 1 or outside (the clip's flat parts)
        p = 1 / (1 + np.exp(-p))
        if p.size and data.draw(st.booleans(), label="edges"):
            p.reshape(-1)[: max(1, p.size // 4)] = data.draw(st.sampled_from([0.0, 1.0, 1.5, -0.5]))
    y = values(data, shape, positive=True)
    y = np.minimum(y, 1.0) if data.draw(st.booleans(), label="soft") else (y > 0.7) * 1.0
    return y, p


def _keras_same_rank(t, p):
    """Keras's squeeze_or_expand_to_same_rank(y_true, y_pred) (keras/src/losses/loss.py)."""
    if t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        return (t, p[:, None]) if p.ndim == 1 else (t[..., 0], p)
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        return (t[:, None], p) if t.ndim == 1 else (t, p[..., 0])
    return t, p


def _rank_variant(data, y, p):
    """y_true as passed: y_pred's shape, with an extra trailing 1, or without its trailing 1."""
    how = data.draw(st.sampled_from(["same", "same", "true+1", "pred+1"]), label="rank")
    if how == "true+1":
        return y[..., None]
    if how == "pred+1" and p.ndim >= 1 and p.shape[-1] == 1:
        return y[..., 0]
    return y


@pytest.mark.parametrize("name", ["binary_crossentropy", "mean_squared_error",
                                  "categorical_crossentropy"])
@FUZZ
@given(data=st.data())
def test_dense_losses(name, data):
    from_logits = data.draw(st.booleans(), label="from_logits") and name != "mean_squared_error"
    y, p = _loss_inputs(data, probabilities=not from_logits)
    y_true, y_pred = present(data, _rank_variant(data, y, p)), present(data, p)
    return_grad = data.draw(st.booleans(), label="return_grad")
    kwargs = dict(return_grad=return_grad)
    if name != "mean_squared_error":
        kwargs["from_logits"] = from_logits
    rd = result_dtype(y_pred)  # y_true is cast to y_pred's dtype, as Keras does
    t64, p64 = _keras_same_rank(np.asarray(y_true).astype(rd).astype(np.float64), f64(y_pred))
    if p64.ndim == 0:  # a 0-d label against a (1,) prediction: one sample of one class
        t64, p64 = t64.reshape(1), p64.reshape(1)
    axis = -1
    if name == "categorical_crossentropy" and p64.ndim > 1 and data.draw(st.booleans()):
        axis = data.draw(st.integers(-p64.ndim, p64.ndim - 1), label="axis")
        kwargs["axis"] = axis
    if p64.ndim == 0 or t64.shape != p64.shape:
        expected = ERR
    elif name == "mean_squared_error":
        expected = (oa.mean_squared_error(t64, p64), oa.mean_squared_error_grad(t64, p64))
    elif name == "binary_crossentropy":
        expected = (oa.binary_crossentropy(t64, p64, from_logits, rd),
                    oa.binary_crossentropy_grad(t64, p64, from_logits, rd))
    elif p64.shape[axis] == 0:  # no classes: -sum over nothing
        expected = (np.zeros(np.sum(p64, axis=axis).shape), np.zeros(p64.shape))
    else:
        expected = (oa.categorical_crossentropy(t64, p64, from_logits, axis, rd),
                    oa.categorical_crossentropy_grad(t64, p64, from_logits, axis, rd))
    if expected is not ERR:
        expected = (expected[0], expected[1].reshape(np.shape(y_pred)))
        expected = expected if return_grad else expected[0]
    run_case(getattr(ops, name), (y_true, y_pred), kwargs, expected, rd, 20.0,
             isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_sparse_categorical_crossentropy(data):
    from_logits = data.draw(st.booleans(), label="from_logits")
    _, p = _loss_inputs(data, probabilities=not from_logits)
    k = p.shape[-1]
    seed = data.draw(st.integers(0, 2**32 - 1), label="label_seed")
    labels = np.random.default_rng(seed).integers(0, max(k, 1), p.shape[:-1])
    bad = data.draw(st.sampled_from([None] * 4 + ["range", "negative", "fraction", "nan",
                                                  "shape", "complex", "string"]), label="bad")
    if bad and labels.size == 0 and bad not in ("shape", "complex", "string"):
        bad = None
    y_true = labels.astype(data.draw(st.sampled_from([np.int64, np.int32, np.uint8, np.float32,
                                                      np.float64])))
    if k == 0 and labels.size:
        bad = bad or "range"  # no class a label could name
    if bad == "range":
        y_true.reshape(-1)[0] = k
    elif bad == "negative":
        y_true = y_true.astype(np.int64)
        y_true.reshape(-1)[0] = -1
    elif bad in ("fraction", "nan"):
        y_true = y_true.astype(np.float64)
        y_true.reshape(-1)[0] = 0.5 if bad == "fraction" else np.nan
    elif bad == "shape":
        y_true = np.zeros(p.shape[:-1] + (2,), np.int64)
    elif bad == "complex":
        y_true = y_true.astype(np.complex128)
    elif bad == "string":
        y_true = "labels"
    if not bad and data.draw(st.booleans(), label="trailing_1"):
        y_true = y_true[..., None]
    y_pred = present(data, p)
    return_grad = data.draw(st.booleans(), label="return_grad")
    kwargs = dict(from_logits=from_logits, return_grad=return_grad)
    if bad:
        run_case(ops.sparse_categorical_crossentropy, (y_true, y_pred), kwargs, ERR)
        return
    rd = result_dtype(y_pred)
    onehot = oa.one_hot(labels, k) if k else np.zeros(p.shape)
    p64 = f64(y_pred)
    if p64.size == 0:  # (the oracle's max has no identity over nothing)
        loss, grad = np.zeros(p.shape[:-1]), np.zeros(p.shape)
    else:
        loss = oa.categorical_crossentropy(onehot, p64, from_logits, -1, rd)
        grad = oa.categorical_crossentropy_grad(onehot, p64, from_logits, -1, rd)
    run_case(ops.sparse_categorical_crossentropy, (y_true, y_pred), kwargs,
             (loss, grad) if return_grad else loss, rd, 20.0, isa=draw_isa(data))


# ---- batch normalization and dropout -------------------------------------------------------------
def _bn_shape(data):
    lead = tuple(data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 7, 9, 17]), max_size=2),
                           label="lead"))
    return lead + (data.draw(st.sampled_from(TILE_EDGES), label="C"),)


def _epsilon(data):
    return data.draw(st.sampled_from([1e-3, 1e-5, 0.5, np.float32(1e-3), 0, -1e-3, np.inf,
                                      np.nan, True, "1e-3", None]), label="epsilon")


def _gamma_beta(data, c):
    """(gamma, beta) as passed (each maybe None) and their float64 values (ones / zeros)."""
    gamma = present(data, values(data, (c,))) if data.draw(st.booleans(), label="gamma") else None
    beta = present(data, values(data, (c,))) if data.draw(st.booleans(), label="beta") else None
    return (gamma, beta, np.ones(c) if gamma is None else f64(gamma),
            np.zeros(c) if beta is None else f64(beta))


def _eps_ok(eps):
    return (not isinstance(eps, (bool, str)) and eps is not None and np.isfinite(eps)
            and eps > 0)


@FUZZ
@given(data=st.data())
def test_batch_norm_forward_train(data):
    shape = _bn_shape(data)
    c, eps = shape[-1], _epsilon(data)
    x = present(data, values(data, shape, scale=2.0))
    gamma, beta, g, b = _gamma_beta(data, c)
    ok = c >= 1 and int(np.prod(shape)) > 0 and _eps_ok(eps)
    expected = on.bn_train(f64(x), g, b, float(eps)) if ok else ERR
    run_case(ops.batch_norm_forward_train, (x, gamma, beta), {"epsilon": eps}, expected,
             result_dtype(x, gamma, beta), 10.0, isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_batch_norm_forward_infer(data):
    shape = _bn_shape(data)
    c, eps = shape[-1], _epsilon(data)
    x = present(data, values(data, shape, scale=2.0))
    gamma, beta, g, b = _gamma_beta(data, c)
    mm = present(data, values(data, (c,)))
    mv = present(data, values(data, (c,), positive=data.draw(st.integers(0, 3)) > 0))
    ok = c >= 1 and _eps_ok(eps)
    expected = on.bn_infer(f64(x), g, b, f64(mm), f64(mv), float(eps)) if ok else ERR
    run_case(ops.batch_norm_forward_infer, (x, gamma, beta, mm, mv), {"epsilon": eps}, expected,
             result_dtype(x, gamma, beta, mm, mv), 10.0, isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_batch_norm_backward(data):
    shape = _bn_shape(data)
    c = shape[-1]
    dy = present(data, values(data, shape))
    x = present(data, values(data, shape, scale=2.0))
    gamma = present(data, values(data, (c,))) if data.draw(st.booleans()) else None
    mean = present(data, values(data, (c,)))
    inv = present(data, values(data, (c,), positive=True))
    batch_stats = data.draw(st.booleans(), label="batch_stats")
    g = np.ones(c) if gamma is None else f64(gamma)
    expected = on.bn_backward(f64(dy), f64(x), g, f64(mean), f64(inv), batch_stats) \
        if c >= 1 else ERR
    rows = max(1, int(np.prod(shape[:-1])))
    run_case(ops.batch_norm_backward, (dy, x, gamma, mean, inv), {"batch_stats": batch_stats},
             expected, result_dtype(dy, x, gamma, mean, inv), 10.0 * rows, isa=draw_isa(data))


@FUZZ
@given(data=st.data())
def test_dropout_apply(data):
    shape = tuple(data.draw(st.lists(st.sampled_from(TILE_EDGES), max_size=3), label="shape"))
    x = present(data, values(data, shape))
    mshape = shape[data.draw(st.integers(0, len(shape)), label="mask_rank_cut"):]
    if mshape and data.draw(st.booleans(), label="mask_ones"):
        mshape = (1,) * (len(mshape) - 1) + mshape[-1:]  # broadcasting along the leading axes
    if data.draw(st.integers(0, 7), label="mask_mismatch") == 0:
        mshape = mshape + (2,)
    seed = data.draw(st.integers(0, 2**32 - 1), label="mask_seed")
    keep = np.random.default_rng(seed).random(mshape) < 0.6
    mkind = data.draw(st.sampled_from([np.bool_, np.uint8, np.int64, np.float32, "list"]),
                      label="mask_kind")
    mask = keep.tolist() if mkind == "list" else keep.astype(mkind)
    scale = data.draw(st.sampled_from([1.0, 2.5, 1 / 0.7, 0, -1, np.float32(2), np.inf, np.nan,
                                       True, "2"]), label="scale")
    try:
        np.broadcast_to(keep, shape)
        fits = True
    except ValueError:
        fits = False
    # (an empty list is a float64 array to NumPy: not a mask)
    ok = (fits and (mkind in (np.bool_, np.uint8) or (mkind == "list" and keep.size))
          and not isinstance(scale, (bool, str)) and np.isfinite(scale))
    expected = on.dropout(f64(x), np.broadcast_to(keep, shape), float(scale)) if ok else ERR
    run_case(ops.dropout_apply, (x, mask, scale), {}, expected, result_dtype(x),
             isa=draw_isa(data))


# ---- optimizer steps (the only ops that write into their arguments) ------------------------------
from test_optim_ops import np_adam, np_rmsprop, np_sgd  # noqa: E402  (the optimizer oracles)


def _optim_state(data, n_state):
    """float32 or float64 params/grads/states of drawn shapes, all of one dtype."""
    dtype = data.draw(st.sampled_from(FLOAT_KINDS), label="dtype")
    shapes = data.draw(st.lists(st.one_of(
        st.sampled_from(TILE_EDGES + [8191, 8193]).map(lambda n: (n,)),
        st.tuples(st.sampled_from([1, 3, 17]), st.sampled_from([0, 8, 9, 33])),
        st.just(())), max_size=3), label="shapes")
    arrs = [[np.asarray(values(data, s, positive=(j >= 2)), dtype) for s in shapes]
            for j in range(n_state + 2)]  # params, grads, then the states (v-like ones >= 0)
    return dtype, arrs


def _spoil(data, arrs, roles):
    """Replaces one array with a wrong one (dtype, layout, shape, type, read-only, 0-d mix)."""
    j = data.draw(st.integers(0, len(arrs) - 1), label="spoil_role")
    if not arrs[j]:
        return None
    i = data.draw(st.integers(0, len(arrs[j]) - 1), label="spoil_index")
    a = arrs[j][i]
    how = data.draw(st.sampled_from(["dtype", "strided", "fortran_view", "shape", "list",
                                     "readonly", "int", "complex", "none"]), label="spoil")
    if how == "dtype":
        bad = a.astype(np.float32 if a.dtype == np.float64 else np.float64)
    elif how == "strided":
        bad = np.repeat(a, 2).reshape(a.shape + (2,))[..., 0] if a.size > 1 else a.reshape(-1)[:0]
        if a.size <= 1:
            bad = np.zeros(a.shape + (1,), a.dtype)
    elif how == "fortran_view":
        bad = np.asfortranarray(a.reshape(a.shape + (1, 1)) if a.ndim < 2 else a).T \
            if a.ndim >= 2 and min(a.shape) > 1 else np.zeros((a.size + 1,), a.dtype)
    elif how == "shape":
        bad = np.zeros((a.size + 1,), a.dtype)
    elif how == "list":
        bad = a.tolist()
    elif how == "readonly":
        if roles[j] == "grads":  # read-only grads are fine
            return None
        bad = a.copy()
        bad.flags.writeable = False
    elif how == "int":
        bad = a.astype(np.int64)
    elif how == "complex":
        bad = a.astype(np.complex64)
    else:
        bad = None
    arrs[j] = list(arrs[j])
    arrs[j][i] = bad
    return how


def _run_optim(data, fn, roles, arrs, kwargs, oracle):
    spoiled = _spoil(data, arrs, roles) if data.draw(st.integers(0, 3), label="spoil?") == 0 \
        else None
    saved = [[a.copy() if isinstance(a, np.ndarray) else None for a in role]
             for role in arrs]
    args = [list(r) if data.draw(st.booleans(), label="list_or_tuple") else tuple(r)
            for r in arrs]
    with on_isa(draw_isa(data)):
        if spoiled:
            raises_clearly(fn, *args, **kwargs)
            for role, before in zip(arrs, saved):  # nothing written when the call fails
                for a, b in zip(role, before):
                    if isinstance(a, np.ndarray):
                        assert a.tobytes() == b.tobytes(), "an array was written before an error"
            return
        fn(*args, **kwargs)
    expected = oracle([[None if a is None else a.astype(np.float64) for a in r] for r in saved])
    grads_before = saved[roles.index("grads")]
    for role, (name, after, want) in enumerate(zip(roles, arrs, expected)):
        for a, w, b in zip(after, want, saved[role]):
            if name == "grads":
                assert a.tobytes() == b.tobytes(), "grads were written"
            elif w is not None:
                assert_close(a, w, a.dtype.type, 10.0)
    assert grads_before is not None


def _hyper(data, label, choices):
    return data.draw(st.sampled_from(choices), label=label)


@FUZZ
@given(data=st.data())
def test_adam_update(data):
    amsgrad = data.draw(st.booleans(), label="amsgrad")
    dtype, arrs = _optim_state(data, 3 if amsgrad else 2)
    roles = ["params", "grads", "ms", "vs"] + (["vhats"] if amsgrad else [])
    kw = dict(learning_rate=_hyper(data, "lr", [1e-3, 0.1, 0.0, -0.5, np.float32(0.01)]),
              beta_1=_hyper(data, "b1", [0.9, 0.0, 0.5, 0.999]),
              # (beta_2 = 0 makes v = v + (g**2 - v) lose g**2 to float32 rounding against v)
              beta_2=_hyper(data, "b2", [0.999, 0.9, 0.5]),
              epsilon=_hyper(data, "eps", [1e-7, 1e-3, 1.0]),
              iteration=_hyper(data, "t", [1, 2, 10, 1000, np.int64(3)]), amsgrad=amsgrad)

    def oracle(s):
        out = [[], s[1], [], [], []]
        for i in range(len(s[0])):
            p, m, v, vh = np_adam(s[0][i], s[1][i], s[2][i], s[3][i],
                                  s[4][i] if amsgrad else None, lr=float(kw["learning_rate"]),
                                  b1=kw["beta_1"], b2=kw["beta_2"], eps=kw["epsilon"],
                                  t=int(kw["iteration"]))
            out[0].append(p), out[2].append(m), out[3].append(v), out[4].append(vh)
        return out[:len(roles)]

    fn = ops.adam_update
    if amsgrad:
        def fn(p, g, m, v, vh, **k):
            return ops.adam_update(p, g, m, v, vhats=vh, **k)
    _run_optim(data, fn, roles, arrs, kw, oracle)


@FUZZ
@given(data=st.data())
def test_sgd_update(data):
    mu = _hyper(data, "momentum", [0.0, 0.9, 0.5, -0.1])
    nesterov = data.draw(st.booleans(), label="nesterov")
    dtype, arrs = _optim_state(data, 1 if mu else 0)
    roles = ["params", "grads"] + (["momentums"] if mu else [])
    kw = dict(learning_rate=_hyper(data, "lr", [0.01, 0.5, 0.0, -1.0]), momentum=mu,
              nesterov=nesterov)

    def oracle(s):
        out = [[], s[1], []]
        for i in range(len(s[0])):
            p, m = np_sgd(s[0][i], s[1][i], s[2][i] if mu else None, lr=kw["learning_rate"],
                          mu=mu, nesterov=nesterov)
            out[0].append(p), out[2].append(m)
        return out[:len(roles)]

    _run_optim(data, ops.sgd_update, roles, arrs, kw, oracle)


@FUZZ
@given(data=st.data())
def test_rmsprop_update(data):
    mu = _hyper(data, "momentum", [0.0, 0.9, -0.5])
    centered = data.draw(st.booleans(), label="centered")
    n_state = 1 + (mu > 0) + centered
    dtype, arrs = _optim_state(data, n_state)
    roles = ["params", "grads", "velocities"] + (["momentums"] if mu > 0 else []) + \
        (["average_grads"] if centered else [])
    if centered:  # keep v - avg**2 (the variance) away from 0: float32 cancellation otherwise
        arrs[2] = [np.asarray(v + a * a + 0.1, v.dtype) for v, a in zip(arrs[2], arrs[-1])]
    kw = dict(learning_rate=_hyper(data, "lr", [1e-3, 0.1, 0.0]),
              # (rho = 0 with centered is v - avg**2 = g**2 - g**2: pure float32 cancellation)
              rho=_hyper(data, "rho", [0.9, 0.99] + ([] if centered else [0.0])),
              epsilon=_hyper(data, "eps", [1e-7, 1e-3]), momentum=mu, centered=centered)

    def oracle(s):
        out = [[], s[1], [], [], []]
        mi, ai = (3, 4 if mu > 0 else 3) if mu > 0 else (None, 3)
        for i in range(len(s[0])):
            p, v, m, a = np_rmsprop(s[0][i], s[1][i], s[2][i], s[mi][i] if mu > 0 else None,
                                    s[ai][i] if centered else None, lr=kw["learning_rate"],
                                    rho=kw["rho"], eps=kw["epsilon"], mu=mu, centered=centered)
            out[0].append(p), out[2].append(v), out[3].append(m), out[4].append(a)
        res = out[:3]
        if mu > 0:
            res.append(out[3])
        if centered:
            res.append(out[4])
        return res

    def fn(p, g, v, *rest, **k):
        rest = list(rest)
        mom = rest.pop(0) if mu > 0 else None
        avg = rest.pop(0) if centered else None
        return ops.rmsprop_update(p, g, v, momentums=mom, average_grads=avg, **k)

    _run_optim(data, fn, roles, arrs, kw, oracle)


# ---- wrong types, wrong ranks, wrong values: every op, every argument ----------------------------
def _f(*shape):
    return np.ones(shape, np.float32)


A, OPT, SHAPE, PAIR, OPT_PAIR, PAD, AXIS, ACT, REAL, BOOL, MODE, BOUND = (
    "array", "optional array", "shape", "pair", "optional pair", "padding", "axis", "activation",
    "real", "bool", "mode", "boundary")
_CONV = dict(strides=(1, PAIR), padding=("valid", PAD), dilation_rate=(1, PAIR))
_POOL = dict(pool_size=(2, PAIR), strides=(None, OPT_PAIR), padding=("valid", PAD))

# op name -> {argument: (valid value, kind[, shapes that must be rejected])}
SIGNATURES = {
    "relu": dict(x=(_f(2, 3), A, [])), "sigmoid": dict(x=(_f(3), A, [])),
    "tanh": dict(x=(_f(1, 2, 3), A, [])),
    "softmax": dict(x=(_f(2, 3), A, [()]), axis=(-1, AXIS)),
    "log_softmax": dict(x=(_f(2, 3), A, [()]), axis=(0, AXIS)),
    "relu_backward": dict(dy=(_f(2, 3), A, [(3, 2), (2, 3, 1)]), x=(_f(2, 3), A, [()])),
    "sigmoid_backward": dict(dy=(_f(4), A, [(5,)]), y=(_f(4), A, [(), (4, 1)])),
    "tanh_backward": dict(dy=(_f(4), A, [(1, 4)]), y=(_f(4), A, [(3,)])),
    "softmax_backward": dict(dy=(_f(2, 3), A, [(2, 4)]), y=(_f(2, 3), A, [()]), axis=(-1, AXIS)),
    "log_softmax_backward": dict(dy=(_f(2, 3), A, [(3,)]), y=(_f(2, 3), A, [(2,)]),
                                 axis=(1, AXIS)),
    "conv2d": dict(x=(_f(1, 5, 5, 2), A, [(), (5, 5, 2), (1, 5, 5, 3), (1, 1, 5, 5, 2)]),
                   kernel=(_f(3, 3, 2, 4), A, [(3, 3, 2), (3, 3, 3, 4), (6, 6, 2, 4)]),
                   bias=(_f(4), OPT, [(), (3,), (4, 1)]), activation=(None, ACT), **_CONV),
    "conv2d_backprop_input": dict(dy=(_f(1, 3, 3, 4), A, [(1, 3, 3), (1, 3, 4, 4), (1, 3, 3, 5)]),
                                  kernel=(_f(3, 3, 2, 4), A, [(3, 3, 4), (3, 3, 3, 4)]),
                                  input_shape=((1, 5, 5, 2), SHAPE), **_CONV),
    "conv2d_backprop_kernel": dict(x=(_f(1, 5, 5, 2), A, [(5, 5, 2), (1, 5, 5, 3), (1, 6, 5, 2)]),
                                   dy=(_f(1, 3, 3, 4), A, [(1, 3, 3), (2, 3, 3, 4)]),
                                   kernel_shape=((3, 3, 2, 4), SHAPE), **_CONV),
    "conv2d_backprop_bias": dict(dy=(_f(1, 3, 3, 4), A, [(), (3, 3, 4), (1, 1, 3, 3, 4)])),
    "matmul": dict(a=(_f(2, 3), A, [(), (2, 4), (1, 2, 3)]), b=(_f(3, 4), A, [(), (2, 3, 4)])),
    "dense": dict(x=(_f(2, 3), A, [(), (2, 4)]), kernel=(_f(3, 4), A, [(3,), (4, 4), (1, 3, 4)]),
                  bias=(_f(4), OPT, [(), (5,), (1, 4)]), activation=("relu", ACT)),
    "dense_backprop_input": dict(dy=(_f(2, 4), A, [(), (2, 5)]),
                                 kernel=(_f(3, 4), A, [(4,), (3, 5), (1, 3, 4)])),
    "dense_backprop_kernel": dict(x=(_f(2, 3), A, [(), (3, 3)]), dy=(_f(2, 4), A, [(), (1, 4)])),
    "dense_backprop_bias": dict(dy=(_f(2, 4), A, [()])),
    "max_pool2d": dict(x=(_f(1, 4, 4, 2), A, [(4, 4, 2), (1, 1, 4, 4, 2), (1, 1, 1, 2)]), **_POOL),
    "avg_pool2d": dict(x=(_f(1, 4, 4, 2), A, [(), (1, 1, 4, 2)]), **_POOL),
    "max_pool2d_with_argmax": dict(x=(_f(1, 4, 4, 2), A, [(4, 2)]), **_POOL),
    "max_pool2d_backward": dict(dy=(_f(1, 2, 2, 2), A, [(1, 2, 2), (1, 2, 3, 2)]),
                                x=(_f(1, 4, 4, 2), A, [(1, 4, 4), (1, 4, 4, 3)]), **_POOL),
    "avg_pool2d_backward": dict(dy=(_f(1, 2, 2, 2), A, [(1, 2, 2), (1, 3, 2, 2)]),
                                input_shape=((1, 4, 4, 2), SHAPE), **_POOL),
    "max_pool2d_backward_from_argmax": dict(
        dy=(_f(1, 2, 2, 2), A, [(1, 2, 2), (2, 2, 2, 2)]),
        argmax=(np.zeros((1, 2, 2, 2), np.uint8), A, [(1, 2, 2), (1, 2, 2, 3)]),
        input_shape=((1, 4, 4, 2), SHAPE), **_POOL),
    "global_avg_pool2d": dict(x=(_f(1, 4, 4, 2), A, [(4, 4, 2), (1, 0, 4, 2)]),
                              keepdims=(False, BOOL)),
    "global_max_pool2d": dict(x=(_f(1, 4, 4, 2), A, [(4, 4, 2)]), keepdims=(True, BOOL)),
    "global_avg_pool2d_backward": dict(dy=(_f(1, 2), A, [(2,), (1, 3), (1, 1, 2)]),
                                       input_shape=((1, 4, 4, 2), SHAPE)),
    "global_max_pool2d_backward": dict(dy=(_f(1, 2), A, [(1, 3), (2, 2)]),
                                       x=(_f(1, 4, 4, 2), A, [(4, 4, 2)])),
    "convolve2d": dict(in1=(_f(4, 5), A, [(), (4,), (1, 4, 5)]), in2=(_f(2, 3), A, [(3,)]),
                       mode=("full", MODE), boundary=("fill", BOUND), fillvalue=(0.0, REAL)),
    # (like SciPy, fillvalue is not looked at for boundary='wrap' / 'symm')
    "correlate2d": dict(in1=(_f(4, 5), A, [(4, 5, 1)]), in2=(_f(2, 3), A, [(), (2, 3, 1)]),
                        mode=("same", MODE), boundary=("wrap", BOUND)),
    "binary_crossentropy": dict(y_true=(_f(2, 3), A, [(2, 4), (3, 2)]),
                                y_pred=(_f(2, 3), A, [(), (2, 4)])),
    "categorical_crossentropy": dict(y_true=(_f(2, 3), A, [(2, 4)]),
                                     y_pred=(_f(2, 3), A, [()]), axis=(-1, AXIS)),
    "mean_squared_error": dict(y_true=(_f(2, 3), A, [(2, 2)]), y_pred=(_f(2, 3), A, [(3, 3)])),
    "sparse_categorical_crossentropy": dict(y_true=(np.array([0, 2]), A, [(3,), (2, 2)]),
                                            y_pred=(_f(2, 3), A, [(), (3, 3)])),
    "batch_norm_forward_train": dict(x=(_f(4, 3), A, [(), (4, 0), (0, 3)]),
                                     gamma=(_f(3), OPT, [(), (2,), (1, 3)]),
                                     beta=(None, OPT, [(4,)]), epsilon=(1e-3, REAL)),
    "batch_norm_forward_infer": dict(x=(_f(4, 3), A, [(), (4, 0)]), gamma=(None, OPT, [(2,)]),
                                     beta=(_f(3), OPT, [(3, 1)]),
                                     moving_mean=(_f(3), A, [(), (4,)]),
                                     moving_variance=(_f(3), A, [(2,)]), epsilon=(1e-3, REAL)),
    "batch_norm_backward": dict(dy=(_f(4, 3), A, [(4, 2), (3,)]), x=(_f(4, 3), A, [(), (4, 0)]),
                                gamma=(_f(3), OPT, [(4,)]), mean=(_f(3), A, [(), (2,)]),
                                inv_std=(_f(3), A, [(3, 3)])),
    "dropout_apply": dict(x=(_f(2, 3), A, []), mask=(np.ones((2, 3), bool), A, [(3, 2), (2, 3, 2)]),
                          scale=(2.0, REAL)),
}

_BAD_ARRAYS = [("a string", TypeError), (None, TypeError), (object(), TypeError),
               ({"a": 1}, TypeError), ([[1.0], [1.0, 2.0]], TypeError), ({1.0}, TypeError),
               (b"bytes", TypeError)]
_BAD = {
    SHAPE: ["abc", None, (1, 2, 3), (1.5, 4, 4, 2), (-1, 4, 4, 2), 3, (True, 4, 4, 2),
            (1, 4, 4, 2, 1), (1, 4, 4, 2**70)],
    PAIR: [0, -1, (1, 2, 3), (1,), "2", 1.5, (1, 0), None, True, (True, 1), 2**70, (1, -3),
           (1.0, 1), complex(1, 0)],
    OPT_PAIR: [0, -1, (1, 2, 3), "2", 1.5, (0, 1), True, 2**70, complex(1, 0)],
    PAD: ["full", None, 3, "", "valid ", ("valid",)],
    AXIS: [1.5, "0", None, 100, -100, True, (0,), 2**70],
    ACT: ["gelu", 3, object(), "softmax", ""],
    REAL: ["x", None, complex(1, 1), object(), np.nan, np.inf, [1.0, 2.0]],
    BOOL: [1, "yes", None, 0.0],
    MODE: ["fulll", None, 0, "FULL "],
    BOUND: ["reflect", None, 0, "constant"],
}
# REAL arguments that take NaN / inf / negatives by design (fillvalue: any real; scale: finite)
_REAL_OK = {("convolve2d", "fillvalue"): [np.nan, np.inf, None],
            ("correlate2d", "fillvalue"): [np.nan, np.inf, None]}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
@FUZZ
@given(data=st.data())
def test_bad_argument_raises_clearly(name, data):
    sig = SIGNATURES[name]
    kwargs = {k: v[0] for k, v in sig.items()}
    fn = getattr(ops, name)
    if data.draw(st.integers(0, 9), label="valid_call") == 0:  # the registry itself is valid
        snaps = snapshot(*kwargs.values())
        fn(**kwargs)
        assert_unchanged(snaps)
        return
    arg = data.draw(st.sampled_from(sorted(sig)), label="argument")
    valid, kind = sig[arg][:2]
    want = (ValueError, TypeError)
    if kind in (A, OPT):
        choice = data.draw(st.sampled_from(["bad", "complex", "shape", "float16_ok"]),
                           label="how")
        if choice == "shape" and sig[arg][2]:
            bad = np.ones(data.draw(st.sampled_from(sig[arg][2]), label="bad_shape"),
                          valid.dtype if valid is not None else np.float32)
            want = (ValueError, TypeError) if arg == "argmax" else ValueError
        elif choice == "complex":
            shape = np.shape(valid) if valid is not None else (2,)
            bad = np.ones(shape, data.draw(st.sampled_from([np.complex64, np.complex128])))
            want = TypeError
        else:
            bad, want = data.draw(st.sampled_from(_BAD_ARRAYS), label="bad")
            if bad is None and kind == OPT:
                return  # None is a valid optional array
    else:
        bad = data.draw(st.sampled_from(_BAD[kind]), label="bad")
        if any(bad is ok for ok in _REAL_OK.get((name, arg), [])):
            return
    kwargs[arg] = bad
    snaps = snapshot(*kwargs.values())
    with pytest.raises(want) as info:
        fn(**kwargs)
    assert str(info.value).strip(), f"{type(info.value).__name__} without a message"
    assert_unchanged(snaps)


# ---- out= that is one of the inputs (in place) ---------------------------------------------------
@FUZZ
@given(data=st.data())
def test_out_may_be_an_input(data):
    """`out=` aliasing an input gives the out-of-place result (through a temporary if needed)."""
    name = data.draw(st.sampled_from(["relu", "sigmoid", "tanh", "softmax", "log_softmax",
                                      "matmul", "conv2d", "conv2d_backprop_input"]), label="op")
    dtype = data.draw(st.sampled_from(FLOAT_KINDS), label="dtype")
    n = data.draw(st.sampled_from([1, 2, 3, 7, 8, 9, 16, 17, 33]), label="n")
    lead = data.draw(st.sampled_from([(), (1,), (2, 3), (5,)]), label="lead")
    isa = draw_isa(data)
    if name == "matmul":
        a, b = values(data, (n, n)).astype(dtype), values(data, (n, n)).astype(dtype)
        which = data.draw(st.sampled_from(["a", "b"]), label="alias")
        expected = od.np_matmul(a, b)
        target = a if which == "a" else b
        with on_isa(isa):
            res = ops.matmul(a, b, out=target)
        assert res is target
        assert_close(res, expected, dtype, n)
        return
    if name.startswith("conv2d"):
        x = values(data, (len(lead) + 1, 4, 5, n)).astype(dtype)  # 1x1, F = C: y.shape == x.shape
        k = values(data, (1, 1, n, n), scale=0.5).astype(dtype)
        padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
        if name == "conv2d":
            expected = oc.np_conv2d(x, k, padding=padding)
            with on_isa(isa):
                res = ops.conv2d(x, k, padding=padding, out=x)
        else:
            expected = oc.np_conv2d_backprop_input(x, k, x.shape, padding=padding)
            with on_isa(isa):
                res = ops.conv2d_backprop_input(x, k, x.shape, padding=padding, out=x)
        assert res is x
        assert_close(res, expected, dtype, n)
        return
    x = values(data, lead + (n,), scale=3.0).astype(dtype)
    fn = getattr(ops, name)
    if name in ("softmax", "log_softmax"):
        axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
        expected = getattr(oa, name)(x, axis)
        with on_isa(isa):
            res = fn(x, axis=axis, out=x)
    else:
        expected = getattr(oa, name)(x)
        with on_isa(isa):
            res = fn(x, out=x)
    assert res is x
    assert_close(res, expected, dtype)


@FUZZ
@given(data=st.data())
def test_out_overlapping_an_input(data):
    """`out=` a shifted view of the input's buffer: the result is still the out-of-place one
    (NumPy's ufuncs copy on overlap), never values read after being overwritten."""
    name = data.draw(st.sampled_from(["relu", "sigmoid", "tanh", "softmax", "log_softmax",
                                      "matmul", "conv2d"]), label="op")
    dtype = data.draw(st.sampled_from(FLOAT_KINDS), label="dtype")
    shape = data.draw(st.sampled_from([(2, 33), (3, 8), (4, 17), (1, 9)]), label="shape")
    if name == "conv2d":
        shape = (1,) + shape + (2,)
    size, shift = int(np.prod(shape)), data.draw(st.integers(1, 9), label="shift")
    buf = values(data, (size + shift,)).astype(dtype)
    lo, hi = buf[:size].reshape(shape), buf[shift:].reshape(shape)
    x, out = (lo, hi) if data.draw(st.booleans(), label="out_after_x") else (hi, lo)
    x0 = x.copy()
    with on_isa(draw_isa(data)):
        if name == "matmul":
            m = x.reshape(-1, shape[-1])
            b = values(data, (shape[-1], shape[-1])).astype(dtype)
            res, expected = ops.matmul(m, b, out=out.reshape(m.shape)), x0.reshape(m.shape) @ b
            scale = shape[-1]
        elif name == "conv2d":
            k = values(data, (1, 1, 2, 2), scale=0.5).astype(dtype)
            res, expected, scale = ops.conv2d(x, k, out=out), oc.np_conv2d(x0, k), 2
        elif name in ("softmax", "log_softmax"):
            axis = data.draw(st.sampled_from([0, -1]), label="axis")
            res = getattr(ops, name)(x, axis=axis, out=out)
            expected, scale = getattr(oa, name)(x0, axis), 1
        else:
            res, expected, scale = getattr(ops, name)(x, out=out), getattr(oa, name)(x0), 1
    assert np.shares_memory(res, out)
    assert_close(res, expected, dtype, scale)
