"""Hypothesis fuzzing of every public op in cnnext.ops over its whole argument space.

Each call must either match the op's pure-NumPy oracle (tests/oracle_*.py, conftest's per-dtype
tolerances, NaN/inf where NumPy's formula puts them) or raise ValueError/TypeError with a message;
it must never crash, never alias or write into its inputs (the optimizers write only their documented
state, and nothing at all when they raise). Inputs come as float32/float64/int8/int64/uint8/bool
arrays or Python lists, C-contiguous, step-sliced, reversed or Fortran-ordered, with NaN and +-inf;
shapes hold 0, 1, primes and SIMD tile edges (7, 8, 9, 15, 16, 17, 31, 33); every stride / dilation
/ padding / pool / mode / boundary combination is drawn, on every ISA the CPU supports.

Complex input is a TypeError everywhere: ``ops/_common.py`` accepts only real kinds ('b', 'i', 'u',
'f') and converts them to float32/float64; it never silently drops an imaginary part (NumPy's
``astype(float)`` would, with a ComplexWarning). Strings, None (where not optional), objects and
ragged lists are TypeErrors too; wrong ranks and shapes are ValueErrors.

Deterministic: ``derandomize=True`` and no example database (``fuzz_support.FUZZ``).
"""
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
    with on_isa(isa) if isa else _nullctx():
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
    return None


class _nullctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


shapes_any = st.lists(st.sampled_from(TILE_EDGES), min_size=0, max_size=3).map(tuple)


def _same_shape_pair(data, shape, kinds=None):
    a = present(data, values(data, shape), **({} if kinds is None else {"kinds": kinds}))
    b = present(data, values(data, shape), **({} if kinds is None else {"kinds": kinds}))
    return a, b


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
    with np.errstate(all="ignore"):
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
    pool = data.draw(st.sampled_from([1, 2, 3, 5, (2, 3), (3, 1), (1, 4)]), label="pool_size")
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
    """fn(...), or zeros of `shape` when that is empty (the loop oracles cannot reshape (0, -1, 0))."""
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
