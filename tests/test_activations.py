"""Activations vs NumPy oracles, every ISA level, float32 and float64."""
import numpy as np
import pytest

import cnnext.ops as ops
from conftest import assert_close

SIZES = [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 64, 127, 1000, 70_001]


@pytest.mark.parametrize("n", SIZES)
def test_relu_matches_numpy(isa, dtype, n):
    x = np.random.default_rng(n).standard_normal(n).astype(dtype)
    assert_close(ops.relu(x), np.maximum(x, 0), dtype)


def test_relu_nan_propagates(isa, dtype):
    x = np.array([np.nan, -np.inf, np.inf, -0.0, 1.0] * 5, dtype)
    np.testing.assert_array_equal(ops.relu(x), np.maximum(x, 0))


def test_relu_dtype_rules():
    assert ops.relu(np.arange(5)).dtype == np.float64
    assert ops.relu([1, -2]).dtype == np.float64
    assert ops.relu(np.ones(3, np.float16)).dtype == np.float64
    x = np.ones((4, 5), np.float32, order="F")[:, ::2]
    y = ops.relu(x)
    assert y.dtype == np.float32 and y.shape == (4, 3)


def test_relu_out_and_no_write_to_input():
    x = np.array([-1.0, 2.0], np.float32)
    keep = x.copy()
    out = np.empty(2, np.float32)
    assert ops.relu(x, out=out) is out
    np.testing.assert_array_equal(out, [0, 2])
    np.testing.assert_array_equal(x, keep)
    with pytest.raises(TypeError, match="must have dtype float32"):
        ops.relu(x, out=np.empty(2))
    with pytest.raises(ValueError, match="must have shape"):
        ops.relu(x, out=np.empty(3, np.float32))


def test_relu_rejects_non_real():
    with pytest.raises(TypeError, match="array of real numbers"):
        ops.relu(np.ones(3, complex))
    with pytest.raises(TypeError, match="array of real numbers"):
        ops.relu(["a"])


def test_relu_backward(isa, dtype):
    x = np.random.default_rng(0).standard_normal(1001).astype(dtype)
    dy = np.random.default_rng(1).standard_normal(1001).astype(dtype)
    assert_close(ops.relu_backward(dy, x), dy * (x > 0), dtype)
    with pytest.raises(ValueError, match="same shape"):
        ops.relu_backward(dy[:5], x)
