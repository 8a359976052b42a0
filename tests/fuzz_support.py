"""Shared pieces of the hypothesis fuzz tests (test_fuzz_ops.py, test_fuzz_overflow.py).

An input is drawn as float64 values, then *presented* the way a user might pass it: float32,
float64, int8, int64, uint8 or bool array, or a Python list; C-contiguous, step-sliced, reversed
(negative strides) or Fortran-ordered; float inputs optionally holding NaN and +-inf. The oracle
always sees ``np.asarray(presented, np.float64)``, so any presentation is a fair comparison.
"""
import copy
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import cnnext
from conftest import TOL

# Deterministic in CI: the same examples every run (no example database, derandomized).
# CNNEXT_FUZZ_EXAMPLES=2000 runs a deeper (still deterministic) search locally.
FUZZ = settings(max_examples=int(os.environ.get("CNNEXT_FUZZ_EXAMPLES", 40)), deadline=None,
                derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TILE_EDGES = [0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33]  # empty, primes, SIMD tile edges
KINDS = [np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_, "list"]
FLOAT_KINDS = [np.float32, np.float64]
LAYOUTS = ["c", "strided", "reversed", "fortran"]


def values(data, shape, scale=1.0, positive=False):
    """float64 values ~ N(0, scale) (or |.|) from a hypothesis-drawn seed."""
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    v = np.random.default_rng(seed).standard_normal(shape) * scale
    return np.abs(v) if positive else v


def _cast(v, kind):
    if kind == np.int8:
        return np.clip(np.round(v * 4), -128, 127).astype(np.int8)
    if kind == np.int64:
        return np.round(v * 4).astype(np.int64)
    if kind == np.uint8:
        return np.clip(np.round(np.abs(v) * 4), 0, 255).astype(np.uint8)
    if kind == np.bool_:
        return v > 0
    return v.astype(kind)


def _inject_specials(data, a):
    """NaN / +inf / -inf at a few drawn positions of a float array (in place, a is a fresh copy)."""
    if a.size == 0 or not data.draw(st.booleans(), label="specials"):
        return a
    flat = a.reshape(-1)
    for _ in range(data.draw(st.integers(1, 3), label="n_specials")):
        i = data.draw(st.integers(0, flat.size - 1), label="special_at")
        flat[i] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="special")
    return a


def layout(data, a):
    """The same values as `a`, as a C-contiguous, step-sliced, reversed or Fortran-ordered array."""
    how = data.draw(st.sampled_from(LAYOUTS), label="layout")
    if a.ndim == 0 or how == "c":
        return np.array(a, order="C")  # np.ascontiguousarray would make a 0-d array 1-d
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "strided":
        big = np.zeros(tuple(2 * d for d in a.shape), a.dtype)
        view = big[(slice(None, None, 2),) * a.ndim]
        view[...] = a
        return view
    rev = (slice(None, None, -1),) * a.ndim
    return np.ascontiguousarray(a[rev])[rev]


def present(data, v, kinds=KINDS, specials=True):
    """float64 values `v` -> what the user passes (see the module docstring)."""
    kind = data.draw(st.sampled_from(kinds), label="kind")
    if kind == "list":
        if v.size == 0 or v.ndim == 0:  # a list cannot hold an empty or 0-d shape faithfully
            kind = np.float64
        else:
            a = _inject_specials(data, v.copy()) if specials else v
            return a.tolist()
    a = _cast(v, kind)
    if specials and a.dtype.kind == "f":
        a = _inject_specials(data, a)
    return layout(data, a)


def f64(a):
    return None if a is None else np.asarray(a, np.float64)


def result_dtype(*inputs):
    """float32 if every (non-None) input is a float32 array, else float64 (ops/_common.py)."""
    arrs = [np.asarray(a) for a in inputs if a is not None]
    return np.float32 if all(a.dtype == np.float32 for a in arrs) else np.float64


def draw_isa(data):
    """Spread the examples over every ISA the CPU runs (cheaper than the `isa` fixture x N)."""
    return data.draw(st.sampled_from(cnnext.supported_isas()), label="isa")


class on_isa:
    def __init__(self, isa):
        self.isa = isa

    def __enter__(self):
        self.prev = cnnext.get_isa()
        cnnext.set_isa(self.isa)

    def __exit__(self, *exc):
        cnnext.set_isa(self.prev)


# ---- the contract --------------------------------------------------------------------------------
def snapshot(*objs):
    """Deep copies of every array / list argument, to prove the op never wrote into them."""
    return [(o, copy.deepcopy(o)) for o in objs if isinstance(o, (np.ndarray, list))]


def assert_unchanged(snaps):
    for orig, saved in snaps:
        if isinstance(orig, np.ndarray):
            assert orig.dtype == saved.dtype and orig.shape == saved.shape
            assert orig.tobytes() == saved.tobytes(), "an input array was modified"
        else:
            assert repr(orig) == repr(saved), "an input list was modified"


def assert_close(actual, expected, dtype, scale=1.0):
    """conftest.assert_close, plus NaN/inf placement checked exactly (NaN where NumPy gives NaN,
    inf of the same sign where NumPy overflows to inf)."""
    expected = np.asarray(expected, np.float64)
    assert isinstance(actual, np.ndarray)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    a64 = actual.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(a64), np.isnan(expected), err_msg="NaN placement")
    tol = TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(a64, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)


def raises_clearly(fn, *args, **kwargs):
    """fn(...) must raise ValueError or TypeError with a non-empty message."""
    with pytest.raises((ValueError, TypeError)) as info:
        fn(*args, **kwargs)
    assert str(info.value).strip(), f"{type(info.value).__name__} without a message"
    return info.value


def not_aliased(result, *inputs):
    for r in result if isinstance(result, tuple) else (result,):
        for a in inputs:
            if isinstance(a, np.ndarray) and isinstance(r, np.ndarray):
                assert not np.shares_memory(r, a), "the result aliases an input"
