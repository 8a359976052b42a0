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
