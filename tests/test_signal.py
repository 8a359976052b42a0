"""convolve2d / correlate2d vs the float64 oracle (tests/oracle_signal.py) on every ISA and both
dtypes, vs scipy.signal when installed, plus dtype rules, NaN, empty inputs and every error."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnext
import cnnext.ops as ops
from conftest import assert_close
from oracle_signal import oracle_conv2d

try:  # the SciPy comparisons run when SciPy is installed (it is not a dependency)
    import scipy.signal as scipy_signal
except ImportError:  # pragma: no cover
    scipy_signal = None
needs_scipy = pytest.mark.skipif(scipy_signal is None, reason="scipy not installed")

MODES = ["full", "same", "valid"]
BOUNDARIES = ["fill", "wrap", "symm"]
FUNCS = {"convolve2d": True, "correlate2d": False}


def _rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _check(name, a, k, dtype, **kw):
    got = getattr(ops, name)(a, k, **kw)
    want = oracle_conv2d(a, k, convolve=FUNCS[name], **kw)
    assert_close(got, want, dtype, scale=max(1, k.size) * 4)
    return got


def _valid_ok(s1, s2):
    return all(a >= b for a, b in zip(s1, s2)) or all(b >= a for a, b in zip(s1, s2))


def _scipy_defined(s1, s2, mode, boundary, convolve):
    """SciPy's C loop extends in1 by ONE period only (it reads out of bounds beyond that), so
    wrap/symm results are comparable only while every tap lands in [-n, 2n - 1]."""
    if boundary == "fill" or mode == "valid":
        return True
    for n, k in zip(s1, s2):
        if mode == "full":
            lo, hi = -(k - 1), n + k - 2
        elif convolve:
            lo, hi = -(k // 2), n - 1 + (k - 1) // 2
        else:
            lo, hi = -((k - 1) // 2), n - 1 + k // 2
        if lo < -n or hi > 2 * n - 1:
            return False
    return True


# ---- Correctness vs the oracle ------------------------------------------------------------------
SHAPES = [((1, 1), (1, 1)), ((5, 7), (3, 3)), ((6, 9), (2, 4)), ((13, 40), (5, 1)),
          ((4, 3), (7, 9)), ((3, 17), (2, 33)), ((33, 65), (15, 15)), ((2, 2), (5, 2))]


@pytest.mark.parametrize("name", list(FUNCS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_matches_oracle(isa, dtype, name, mode, boundary):
    for i, (s1, s2) in enumerate(SHAPES):
        if mode == "valid" and not _valid_ok(s1, s2):
            continue
        a, k = _rand(s1, dtype, i), _rand(s2, dtype, 100 + i)
        for fill in ([0, 1.5, -3] if boundary == "fill" else [0]):
            _check(name, a, k, dtype, mode=mode, boundary=boundary, fillvalue=fill)


@pytest.mark.parametrize("width", [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63,
                                   64, 65, 95, 96, 97, 127, 128, 129, 131])
def test_row_widths_around_vector_tiles(isa, dtype, width):
    a, k = _rand((6, width), dtype, width), _rand((3, 3), dtype, 1)
    for mode in MODES if width >= 3 else ["full", "same"]:
        _check("convolve2d", a, k, dtype, mode=mode, boundary="symm")
    _check("correlate2d", a, k, dtype, mode="same", fillvalue=0.25)


def test_large_threaded_and_thread_count_independent(dtype):
    a, k = _rand((301, 517), dtype, 0), _rand((5, 5), dtype, 1)
    prev = cnnext.get_num_threads()
    try:
        cnnext.set_num_threads(1)
        one = _check("convolve2d", a, k, dtype, mode="same", boundary="wrap")
        for nt in (2, 3):
            cnnext.set_num_threads(nt)
            np.testing.assert_array_equal(ops.convolve2d(a, k, mode="same", boundary="wrap"), one)
    finally:
        cnnext.set_num_threads(prev)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), kh=st.integers(1, 40), kw=st.integers(1, 40),
       mode=st.sampled_from(MODES), boundary=st.sampled_from(BOUNDARIES),
       name=st.sampled_from(list(FUNCS)), f32=st.booleans(), seed=st.integers(0, 2**16))
def test_hypothesis_shapes_every_isa(h, w, kh, kw, mode, boundary, name, f32, seed):
    if mode == "valid" and not _valid_ok((h, w), (kh, kw)):
        return
    dtype = np.float32 if f32 else np.float64
    a, k = _rand((h, w), dtype, seed), _rand((kh, kw), dtype, seed + 1)
    prev = cnnext.get_isa()
    try:
        for isa in cnnext.supported_isas():
            cnnext.set_isa(isa)
            _check(name, a, k, dtype, mode=mode, boundary=boundary, fillvalue=0.5)
    finally:
        cnnext.set_isa(prev)


# ---- vs SciPy -----------------------------------------------------------------------------------
@needs_scipy
@settings(max_examples=80, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), kh=st.integers(1, 40), kw=st.integers(1, 40),
       mode=st.sampled_from(MODES), boundary=st.sampled_from(BOUNDARIES + ["pad", "circular",
                                                                           "symmetric"]),
       name=st.sampled_from(list(FUNCS)), fill=st.sampled_from([0, 2.5, -1]),
       seed=st.integers(0, 2**16))
def test_hypothesis_matches_scipy(h, w, kh, kw, mode, boundary, name, fill, seed):
    signal = scipy_signal
    canon = {"pad": "fill", "circular": "wrap", "symmetric": "symm"}.get(boundary, boundary)
    if mode == "valid" and not _valid_ok((h, w), (kh, kw)):
        return
    if not _scipy_defined((h, w), (kh, kw), mode, canon, FUNCS[name]):
        return
    a, k = _rand((h, w), np.float64, seed), _rand((kh, kw), np.float64, seed + 1)
    want = getattr(signal, name)(a, k, mode=mode, boundary=boundary, fillvalue=fill)
    for dtype in (np.float64, np.float32):
        got = getattr(ops, name)(a.astype(dtype), k.astype(dtype), mode=mode, boundary=boundary,
                                 fillvalue=fill)
        assert got.shape == want.shape
        # float32 inputs are rounded, so compare with a tolerance scaled by the tap count
        tol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * kh * kw * 4)


@needs_scipy
@pytest.mark.parametrize("name", list(FUNCS))
def test_scipy_even_kernels_same_mode_and_valid_swap(name):
    signal = scipy_signal
    a, k = _rand((6, 7), np.float64, 0), _rand((2, 4), np.float64, 1)
    for mode in ("same", "full"):
        np.testing.assert_allclose(getattr(ops, name)(a, k, mode=mode),
                                   getattr(signal, name)(a, k, mode=mode), rtol=1e-12)
    # in2 larger in every dimension: SciPy swaps the operands (correlation comes out reversed)
    np.testing.assert_allclose(getattr(ops, name)(k, a, mode="valid"),
                               getattr(signal, name)(k, a, mode="valid"), rtol=1e-12)


@needs_scipy
@pytest.mark.parametrize("s1,s2,mode", [((0, 3), (2, 2), "full"), ((3, 4), (2, 0), "same"),
                                        ((3, 4), (2, 0), "valid"), ((0, 3), (2, 2), "same"),
                                        ((0, 5), (0, 3), "valid"), ((0, 3), (1, 2), "full")])
def test_empty_inputs_like_scipy(s1, s2, mode):
    signal = scipy_signal
    a, k = np.ones(s1), np.full(s2, 2.0)
    for name in FUNCS:
        want = getattr(signal, name)(a, k, mode=mode, fillvalue=1.5)
        got = getattr(ops, name)(a, k, mode=mode, fillvalue=1.5)
        assert got.shape == want.shape and got.dtype == np.float64
        np.testing.assert_array_equal(got, want)


def test_empty_inputs_oracle_every_isa(isa, dtype):
    got = ops.convolve2d(np.zeros((0, 3), dtype), np.ones((2, 2), dtype), fillvalue=2)
    assert_close(got, np.full((1, 4), 8.0), dtype)
    assert ops.correlate2d(np.zeros((0, 3), dtype), np.ones((2, 2), dtype), mode="same",
                           boundary="wrap").shape == (0, 3)


# ---- Boundaries, fill values, NaN, dtypes, inputs untouched ---------------------------------------
def test_aliases_and_fillvalue_forms(dtype):
    a, k = _rand((5, 6), dtype, 0), _rand((3, 2), dtype, 1)
    for alias, canon in [("pad", "fill"), ("circular", "wrap"), ("symmetric", "symm")]:
        np.testing.assert_array_equal(ops.convolve2d(a, k, boundary=alias),
                                      ops.convolve2d(a, k, boundary=canon))
    base = ops.correlate2d(a, k, fillvalue=3)
    for fv in (3.0, np.float32(3), np.array([3]), np.array([[3.0]]), [3]):
        np.testing.assert_array_equal(ops.correlate2d(a, k, fillvalue=fv), base)
    np.testing.assert_array_equal(ops.correlate2d(a, k, fillvalue=None),
                                  ops.correlate2d(a, k, fillvalue=0))
    # like SciPy, fillvalue is not looked at for wrap/symm
    np.testing.assert_array_equal(ops.correlate2d(a, k, boundary="wrap", fillvalue=[1, 2]),
                                  ops.correlate2d(a, k, boundary="wrap"))


def test_nan_propagates(isa, dtype):
    a, k = _rand((9, 20), dtype, 0), _rand((3, 3), dtype, 1)
    a[4, 7] = np.nan
    a[0, 19] = np.inf
    for name in FUNCS:
        for mode in MODES:
            for boundary in BOUNDARIES:
                got = getattr(ops, name)(a, k, mode=mode, boundary=boundary)
                want = oracle_conv2d(a, k, mode, boundary, convolve=FUNCS[name])
                np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
                np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    # a NaN fill value reaches exactly the outputs whose window leaves the image
    got = ops.convolve2d(np.ones((4, 4), dtype), np.ones((3, 3), dtype), mode="same",
                         fillvalue=np.nan)
    assert np.isnan(got[[0, 3], :]).all() and np.isnan(got[:, [0, 3]]).all()
    np.testing.assert_array_equal(got[1:3, 1:3], 9)


def test_inputs_never_modified_and_views_accepted(dtype):
    base = _rand((12, 20), dtype, 0)
    a = base[::2, 1::3]  # strided view
    k = np.asfortranarray(_rand((3, 4), dtype, 1))
    keep_a, keep_k = a.copy(), k.copy()
    for name in FUNCS:
        for boundary in BOUNDARIES:
            _check(name, a, k, dtype, mode="same", boundary=boundary)
    np.testing.assert_array_equal(a, keep_a)
    np.testing.assert_array_equal(k, keep_k)


def test_dtype_rules():
    f32 = np.ones((4, 4), np.float32)
    assert ops.convolve2d(f32, f32).dtype == np.float32
    assert ops.convolve2d(f32, np.ones((2, 2))).dtype == np.float64
    assert ops.convolve2d(np.ones((4, 4), int), np.ones((2, 2), int)).dtype == np.float64
    assert ops.correlate2d([[True, False]], [[1]]).dtype == np.float64
    np.testing.assert_array_equal(ops.convolve2d([[1, 2], [3, 4]], [[1, 1]]),
                                  [[1, 3, 2], [3, 7, 4]])
    with pytest.raises(TypeError, match="`in1` must be an array of real numbers"):
        ops.convolve2d(np.ones((3, 3), complex), f32)
    with pytest.raises(TypeError, match="`in2` must be an array of real numbers"):
        ops.correlate2d(f32, np.ones((2, 2), complex))


# ---- Errors -------------------------------------------------------------------------------------
def test_errors():
    a, k = np.ones((3, 4)), np.ones((2, 2))
    with pytest.raises(ValueError, match=r"convolve2d inputs must both be 2-D arrays. Received: "
                                         r"in1.shape=\(4,\), in2.shape=\(2, 2\)"):
        ops.convolve2d(a[0], k)
    with pytest.raises(ValueError, match="correlate2d inputs must both be 2-D"):
        ops.correlate2d(a, np.ones((2, 2, 1)))
    with pytest.raises(ValueError, match=r"`mode` must be 'full', 'same' or 'valid'. "
                                         r"Received: mode='VALID'"):
        ops.convolve2d(a, k, mode="VALID")
    for b in ("reflect", "FILL", 0):
        with pytest.raises(ValueError, match=r"`boundary` must be 'fill' \(or 'pad'\), 'wrap' "
                                             r"\(or 'circular'\) or 'symm' \(or 'symmetric'\)"):
            ops.correlate2d(a, k, boundary=b)
    with pytest.raises(ValueError, match=r"For 'valid' mode, one of `in1` and `in2` must be at least "
                                         r"as large as the other in every dimension. Received: "
                                         r"in1.shape=\(3, 4\), in2.shape=\(2, 5\)"):
        ops.convolve2d(a, np.ones((2, 5)), mode="valid")
    with pytest.raises(ValueError, match="For 'valid' mode"):
        ops.correlate2d(np.ones((0, 3)), k, mode="valid")
    with pytest.raises(ValueError, match="`fillvalue` must be a scalar or an array with one "
                                         r"element. Received: fillvalue with shape \(2,\)"):
        ops.convolve2d(a, k, fillvalue=[1, 2])
    with pytest.raises(ValueError, match="`fillvalue` cannot be an empty array"):
        ops.convolve2d(a, k, fillvalue=[])
    with pytest.raises(TypeError, match="`fillvalue` must be a real number. Received: "
                                        "fillvalue='a'"):
        ops.convolve2d(a, k, fillvalue="a")
    with pytest.raises(TypeError, match="`fillvalue` must be a real number"):
        ops.correlate2d(a, k, fillvalue=1 + 2j)
    with pytest.raises(ValueError, match=r"convolve2d: mode='full' of an empty `in1` needs an "
                                         r"`in2` with at least one row and column"):
        ops.convolve2d(np.ones((0, 0)), np.ones((0, 0)))
    with pytest.raises(ValueError, match=r"correlate2d: boundary='symm' cannot extend an empty "
                                         r"`in1`; use boundary='fill'. Received: in1.shape=\(0, 3\)"):
        ops.correlate2d(np.ones((0, 3)), k, boundary="symm")
