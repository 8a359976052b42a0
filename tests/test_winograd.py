"""The Winograd F(2x2, 3x3) paths of conv2d and its kernel gradient (stride 1, no dilation, 3x3 kernel, C >= 16 and
F >= 16) vs the NumPy float64 oracle: every ISA, both dtypes, odd and tiny sizes (partial edge
tiles), paddings, activations, blocks of tiles, NaN/inf (which take the GEMM path), determinism."""
import numpy as np
import pytest

import cnnext
import cnnext.ops as ops
from conftest import assert_close
from oracle_conv import np_conv2d, np_conv2d_backprop_input, np_conv2d_backprop_kernel

ACTS = [None, "relu", "sigmoid", "tanh"]


def _data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


SIZES = [(1, 1), (2, 2), (3, 3), (4, 5), (5, 4), (7, 7), (13, 13), (12, 17)]


@pytest.mark.parametrize("hw,padding", [(hw, "same") for hw in SIZES] +
                         [(hw, "valid") for hw in SIZES if min(hw) >= 3])
def test_forward_sizes(isa, dtype, hw, padding):
    x, w = _data((2, *hw, 16), dtype, 0), _data((3, 3, 16, 16), dtype, 1)
    b = _data(16, dtype, 2)
    assert_close(ops.conv2d(x, w, b, padding=padding), np_conv2d(x, w, b, padding=padding),
                 dtype, 9 * 16)


@pytest.mark.parametrize("c,f", [(16, 16), (17, 19), (31, 33), (32, 64), (64, 32), (48, 80)])
@pytest.mark.parametrize("act", ACTS)
def test_forward_channels_and_activations(isa, dtype, c, f, act):
    x, w = _data((3, 9, 8, c), dtype, 3), _data((3, 3, c, f), dtype, 4)
    b = _data(f, dtype, 5)
    assert_close(ops.conv2d(x, w, b, padding="same", activation=act),
                 np_conv2d(x, w, b, padding="same", activation=act), dtype, 9 * c)
    assert_close(ops.conv2d(x, w, activation=act), np_conv2d(x, w, activation=act), dtype,
                 9 * c)


def test_many_tile_blocks(dtype):
    """Enough tiles for many blocks and both threads, with a partial last block."""
    x, w = _data((37, 13, 13, 32), dtype, 6), _data((3, 3, 32, 64), dtype, 7)
    b = _data(64, dtype, 8)
    assert_close(ops.conv2d(x, w, b, activation="relu"),
                 np_conv2d(x, w, b, activation="relu"), dtype, 9 * 32)


def test_backprop_input_on_winograd_shapes(isa, dtype):
    """Stride-1 3x3 input gradients (which may run as a flipped-kernel forward convolution)."""
    for padding, hw in (("valid", (13, 13)), ("same", (10, 7))):
        w = _data((3, 3, 24, 32), dtype, 9)
        y_shape = (2, hw[0] - 2, hw[1] - 2, 32) if padding == "valid" else (2, *hw, 32)
        dy = _data(y_shape, dtype, 10)
        x_shape = (2, *hw, 24)
        assert_close(ops.conv2d_backprop_input(dy, w, x_shape, padding=padding),
                     np_conv2d_backprop_input(dy, w, x_shape, padding=padding), dtype, 9 * 32)


@pytest.mark.parametrize("hw,padding", [(hw, "same") for hw in SIZES] +
                         [(hw, "valid") for hw in SIZES if min(hw) >= 3])
def test_backprop_kernel_sizes(isa, dtype, hw, padding):
    x = _data((3, *hw, 16), dtype, 20)
    y_shape = (3, hw[0] - 2, hw[1] - 2, 17) if padding == "valid" else (3, *hw, 17)
    dy = _data(y_shape, dtype, 21)
    npix = y_shape[0] * y_shape[1] * y_shape[2]
    assert_close(ops.conv2d_backprop_kernel(x, dy, (3, 3, 16, 17), padding=padding),
                 np_conv2d_backprop_kernel(x, dy, (3, 3, 16, 17), padding=padding), dtype, npix)


@pytest.mark.parametrize("n", [1, 37, 300])
def test_backprop_kernel_chunks(dtype, n):
    """From one block to many chunks of tiles reduced in a fixed order."""
    x, dy = _data((n, 13, 13, 32), dtype, 22), _data((n, 11, 11, 64), dtype, 23)
    assert_close(ops.conv2d_backprop_kernel(x, dy, (3, 3, 32, 64)),
                 np_conv2d_backprop_kernel(x, dy, (3, 3, 32, 64)), dtype, n * 121)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_backprop_kernel_non_finite(bad):
    x, dy = _data((2, 6, 6, 16), np.float64, 24), _data((2, 4, 4, 16), np.float64, 25)
    x[1, 0, 0, 2] = bad  # the oracle multiplies inf by zero-padded dy: NaN, as NumPy warns
    np.testing.assert_array_equal(
        np.isnan(ops.conv2d_backprop_kernel(x, dy, (3, 3, 16, 16))),
        np.isnan(np_conv2d_backprop_kernel(x, dy, (3, 3, 16, 16))))
    dy[0, 3, 3, 7] = bad
    np.testing.assert_array_equal(
        np.isnan(ops.conv2d_backprop_kernel(x * 0 + 1, dy, (3, 3, 16, 16))),
        np.isnan(np_conv2d_backprop_kernel(x * 0 + 1, dy, (3, 3, 16, 16))))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_stay_where_numpy_puts_them(isa, bad):
    """The transforms would spread NaN/inf over a whole tile; such inputs take the GEMM path,
    so every output that does not read the bad value stays finite, as in NumPy."""
    x, w = _data((1, 8, 8, 16), np.float64, 11), _data((3, 3, 16, 16), np.float64, 12)
    x[0, 4, 4, 3] = bad
    y = ops.conv2d(x, w, padding="same")
    ref = np_conv2d(x, w, padding="same")
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    finite = np.isfinite(ref)
    assert finite.sum() == y.size - 9 * 16  # only the 3x3 neighbourhood reads the bad cell
    assert_close(np.where(finite, y, 0), np.where(finite, ref, 0), np.float64, 9 * 16)
    wb = w.copy()
    wb[1, 1, 2, 5] = bad
    x2 = _data((1, 8, 8, 16), np.float64, 13)
    yk, refk = ops.conv2d(x2, wb, padding="same"), np_conv2d(x2, wb, padding="same")
    np.testing.assert_array_equal(np.isnan(yk), np.isnan(refk))


def _assert_same_bits_at_1_2_3_threads(run):
    saved = cnnext.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            cnnext.set_num_threads(n)
            outs.append(run())
    finally:
        cnnext.set_num_threads(saved)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_thread_count_does_not_change_bits():
    x, w = _data((19, 13, 13, 32), np.float32, 14), _data((3, 3, 32, 64), np.float32, 15)
    _assert_same_bits_at_1_2_3_threads(
        lambda: ops.conv2d(x, w, padding="same", activation="relu"))


def test_backprop_kernel_thread_count_does_not_change_bits():
    x, dy = _data((150, 13, 13, 32), np.float32, 26), _data((150, 11, 11, 64), np.float32, 27)
    _assert_same_bits_at_1_2_3_threads(lambda: ops.conv2d_backprop_kernel(x, dy, (3, 3, 32, 64)))


def test_float32_error_stays_near_the_direct_sum():
    """Winograd's transforms add rounding; its float32 error must stay within a few ulp of the
    output scale (the GEMM path's error is the yardstick)."""
    x, w = _data((8, 13, 13, 64), np.float32, 16), _data((3, 3, 64, 64), np.float32, 17)
    ref = np_conv2d(x, w)
    err = np.abs(ops.conv2d(x, w) - ref).max() / np.abs(ref).max()
    assert err < 2e-6, err


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("padding,hw", [("valid", (13, 13)), ("same", (9, 8)), ("same", (28, 28))])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_backprop_input_with_non_finite_kernel(isa, padding, hw, bad):
    """A stride-1 input gradient computed as a flipped forward convolution would multiply the
    zeros around dy by the kernel (0 * inf = NaN); NumPy's sum only sees real dy cells, so the
    non-finite pattern of dx must match the oracle's exactly."""
    for c, f in ((16, 16), (1, 32), (4, 8)):
        w = _data((3, 3, c, f), np.float64, 30)
        w[0, 2, 0, f - 1] = bad
        y_shape = (2, hw[0] - 2, hw[1] - 2, f) if padding == "valid" else (2, *hw, f)
        dy = _data(y_shape, np.float64, 31)
        x_shape = (2, *hw, c)
        got = ops.conv2d_backprop_input(dy, w, x_shape, padding=padding)
        want = np_conv2d_backprop_input(dy, w, x_shape, padding=padding)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        finite = np.isfinite(want)
        assert_close(np.where(finite, got, 0), np.where(finite, want, 0), np.float64, 9 * f)
