"""Shared fixtures: every ISA level this CPU supports, both float dtypes, per-dtype tolerances."""
import numpy as np
import pytest

import cnnext

# Tolerances against float64 NumPy oracles. float32 kernels accumulate in float32 with FMA, so
# errors grow with the reduction length; tests with long reductions scale atol by sqrt(K).
TOL = {
    np.float32: dict(rtol=2e-5, atol=2e-6),
    np.float64: dict(rtol=1e-12, atol=1e-13),
}


@pytest.fixture(params=cnnext.supported_isas())
def isa(request):
    """Run the test once per ISA level (avx512, avx2, sse2/neon, scalar) the CPU can execute."""
    prev = cnnext.get_isa()
    cnnext.set_isa(request.param)
    try:
        yield request.param
    finally:
        cnnext.set_isa(prev)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


def assert_close(actual, expected, dtype, scale=1.0):
    """Shape and dtype first, then values within TOL[dtype] (atol multiplied by `scale`)."""
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)
