"""dense_backprop_input (dx = dy . kernel^T) on every path it chooses by shape: matrix-vector
products for one or two rows, dx^T = kernel . dy^T (kernel read in place, a small packed dy^T,
blocks transposed into dx) for few rows, and the packed kernel^T GEMM for many rows. Every ISA
level, float32 and float64, against the float64 oracle; bitwise identical for 1, 2 and 3 threads."""
import numpy as np
import pytest

from cnnext import _core
from conftest import assert_close
from oracle_dense import np_dense_backprop_input
from test_dense import _with_threads


def path(m, n_in, n_out):
    """The path ops/dense.cpp takes for a shape (keep in step with dense_backprop_input)."""
    if m <= 2:
        return "gemv"
    return "transposed" if m * (n_in + n_out) < n_in * n_out else "packed"


# (M, in, out)
SHAPES = [
    (1, 1, 1), (1, 7, 300), (1, 1600, 128), (1, 33, 1), (2, 1600, 128), (2, 2, 2),  # gemv
    (3, 50, 40), (5, 31, 17), (11, 13, 50), (12, 64, 64), (13, 100, 40),  # M around the A tile
    (32, 1600, 128), (33, 65, 300), (16, 17, 2048),                       # seed layer, odd M
    (3, 4, 1000), (3, 1000, 8), (7, 5, 3000), (6, 2000, 9),               # in or out < a panel
    (7, 3001, 9), (40, 2048, 512), (200, 2048, 300),                      # large in, many blocks
    (100, 31, 17), (300, 64, 64), (64, 32, 16), (3, 2, 2000), (4, 1000, 3),  # packed kernel^T
    (5, 0, 4), (3, 4, 0), (0, 3, 4),                                      # empty
]


def test_shapes_cover_every_path():
    assert {path(*s) for s in SHAPES if 0 not in s} == {"gemv", "transposed", "packed"}
    assert path(32, 1600, 128) == "transposed"
    assert path(3, 4, 1000) == path(3, 1000, 8) == path(6, 2000, 9) == "transposed"


def _operands(rng, m, n_in, n_out, dtype):
    s = max(n_out, 1) ** -0.25
    dy = (rng.standard_normal((m, n_out)) * s).astype(dtype)
    kernel = (rng.standard_normal((n_in, n_out)) * s).astype(dtype)
    return dy, kernel


@pytest.mark.parametrize("m,n_in,n_out", SHAPES)
def test_matches_oracle(isa, dtype, m, n_in, n_out):
    rng = np.random.default_rng(m * 7919 + n_in * 31 + n_out)
    dy, kernel = _operands(rng, m, n_in, n_out, dtype)
    dy0, k0 = dy.copy(), kernel.copy()
    dx = _core.dense_backprop_input(dy, kernel)
    assert_close(dx, np_dense_backprop_input(dy, kernel), dtype, np.sqrt(max(n_out, 1)))
    np.testing.assert_array_equal(dy, dy0)
    np.testing.assert_array_equal(kernel, k0)


@pytest.mark.parametrize("m,n_in,n_out", [(1, 50, 20), (9, 70, 30), (200, 20, 10)])
def test_out_buffer_is_overwritten(dtype, m, n_in, n_out):
    rng = np.random.default_rng(3)
    dy, kernel = _operands(rng, m, n_in, n_out, dtype)
    out = np.full((m, n_in), np.nan, dtype)
    got = _core.dense_backprop_input(dy, kernel, out=out)
    assert got is out
    assert_close(out, np_dense_backprop_input(dy, kernel), dtype, np.sqrt(n_out))


def test_nan_and_inf_propagate(isa, dtype):
    rng = np.random.default_rng(5)
    for m, n_in, n_out in [(1, 40, 9), (4, 40, 9), (60, 5, 3)]:
        dy, kernel = _operands(rng, m, n_in, n_out, dtype)
        dy[0, 1] = np.nan
        kernel[2, 0] = np.inf
        with np.errstate(invalid="ignore"):
            expected = np_dense_backprop_input(dy, kernel)
        got = _core.dense_backprop_input(dy, kernel)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(expected))


@pytest.mark.parametrize("m,n_in,n_out", [(1, 3000, 64), (32, 1600, 128), (7, 3001, 9),
                                          (3, 2, 2000), (300, 200, 170)])
def test_bitwise_identical_across_thread_counts(isa, dtype, m, n_in, n_out):
    rng = np.random.default_rng(11)
    dy, kernel = _operands(rng, m, n_in, n_out, dtype)
    one = _with_threads(1, lambda: _core.dense_backprop_input(dy, kernel))
    for n in (2, 3):
        np.testing.assert_array_equal(
            _with_threads(n, lambda: _core.dense_backprop_input(dy, kernel)), one)
