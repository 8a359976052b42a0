"""The Winograd paths of conv2d and its input and kernel gradients (stride 1, no dilation, 3x3
kernel, C >= 16 and F >= 16) vs the NumPy float64 oracle: F(4x4, 3x3) on outputs from 7x7 up
that its tiles cover with at most 3/4 of F(2x2, 3x3)'s GEMM points, given enough tiles,
F(2x2, 3x3) elsewhere (`winograd_tile` mirrors the rule and `test_tile_choice` checks it). Every ISA, both dtypes, odd and tiny sizes
(partial edge tiles), paddings, activations, blocks of tiles, NaN/inf (which take the GEMM path),
determinism, finite differences."""
import numpy as np
import pytest

import cnnext
import cnnext.ops as ops
from conftest import assert_close
from oracle_conv import np_conv2d, np_conv2d_backprop_input, np_conv2d_backprop_kernel

ACTS = [None, "relu", "sigmoid", "tanh"]


def _data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _tiles4(oh, ow):
    return -(-oh // 4) * -(-ow // 4)


def winograd_tile(n, oh, ow, kernel_gradient=False):
    """The tile size ops/conv.cpp's winograd_tile picks for n images of oh x ow outputs (C and
    F >= 16): 4 for outputs from 7x7 up where F(4x4)'s 36-point tiles need at most 3/4 of the
    GEMM points of F(2x2)'s 16-point tiles, given at least 128 tiles (kernel gradient: 256) in
    all."""
    p4 = 36 * _tiles4(oh, ow)
    p2 = 16 * -(-oh // 2) * -(-ow // 2)
    enough = n * _tiles4(oh, ow) >= (256 if kernel_gradient else 128)
    return 4 if min(oh, ow) >= 7 and 4 * p4 <= 3 * p2 and enough else 2


# Input sizes: with 'same' (output = input) and 'valid' (output 2 smaller) they give outputs of
# both tile sizes with every remainder modulo 2 and 4 (partial edge tiles), square or not.
SIZES = [(1, 1), (2, 2), (3, 3), (4, 5), (5, 4), (6, 6), (7, 7), (8, 8), (9, 9), (11, 11),
         (13, 13), (14, 14), (12, 17), (15, 10), (3, 13), (13, 3)]
SIZE_CASES = ([(hw, "same") for hw in SIZES] + [(hw, "valid") for hw in SIZES if min(hw) >= 3])


def _out_hw(hw, padding):
    return hw if padding == "same" else (hw[0] - 2, hw[1] - 2)


def _batch(hw, padding):
    """Images enough for 256 tiles of 4x4 outputs, so the size alone picks the tile."""
    return -(-256 // _tiles4(*_out_hw(hw, padding)))


def test_sizes_cover_both_tiles_and_every_edge_remainder():
    for kernel_gradient in (False, True):
        outs = [(_batch(hw, p), *_out_hw(hw, p)) for hw, p in SIZE_CASES]
        for m in (2, 4):
            mine = [o[1:] for o in outs if winograd_tile(*o, kernel_gradient) == m]
            assert {o[0] % m for o in mine} == set(range(m)), (m, mine)
            assert any(o[0] != o[1] for o in mine)


def _integers(shape, seed):
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(np.float64)


def _ran_f4(result):
    """On small-integer data the GEMM paths and F(2x2)'s transforms (halves) are exact, F(4x4)'s
    (sixths, fifteenths) are not: a non-integer result shows that F(4x4) ran."""
    return bool(np.any(result != np.round(result)))


@pytest.mark.parametrize("few", [False, True])
@pytest.mark.parametrize("hw,padding", SIZE_CASES)
def test_tile_choice(hw, padding, few):
    """The shapes take the tile size winograd_tile says, in all three ops (the input gradient
    runs as a forward convolution over an output of the input's size), with enough images for
    F(4x4) or too few."""
    oh, ow = _out_hw(hw, padding)
    n = 2 if few else _batch(hw, padding)
    x, w = _integers((n, *hw, 16), 0), _integers((3, 3, 16, 24), 1)
    dy = _integers((n, oh, ow, 24), 2)
    assert _ran_f4(ops.conv2d(x, w, padding=padding)) == (winograd_tile(n, oh, ow) == 4)
    assert _ran_f4(ops.conv2d_backprop_kernel(x, dy, w.shape, padding=padding)) == (
        winograd_tile(n, oh, ow, kernel_gradient=True) == 4)
    assert _ran_f4(ops.conv2d_backprop_input(dy, w, x.shape, padding=padding)) == (
        winograd_tile(n, *hw) == 4)


@pytest.mark.parametrize("c,f", [(15, 16), (16, 15), (3, 64)])
def test_few_channels_or_filters_take_no_winograd(c, f):
    x, w = _integers((2, 12, 12, c), 3), _integers((3, 3, c, f), 4)
    assert not _ran_f4(ops.conv2d(x, w, padding="same"))
    assert not _ran_f4(ops.conv2d_backprop_kernel(x, ops.conv2d(x, w, padding="same"), w.shape,
                                                  padding="same"))


@pytest.mark.parametrize("hw,padding", SIZE_CASES)
def test_forward_sizes(isa, dtype, hw, padding):
    n = _batch(hw, padding)
    x, w = _data((n, *hw, 16), dtype, 0), _data((3, 3, 16, 16), dtype, 1)
    b = _data(16, dtype, 2)
    assert_close(ops.conv2d(x, w, b, padding=padding), np_conv2d(x, w, b, padding=padding),
                 dtype, 9 * 16)


@pytest.mark.parametrize("hw,padding", SIZE_CASES)
def test_backprop_input_sizes(isa, dtype, hw, padding):
    n = _batch(hw, padding)
    w = _data((3, 3, 16, 17), dtype, 40)
    dy = _data((n, *_out_hw(hw, padding), 17), dtype, 41)
    x_shape = (n, *hw, 16)
    assert_close(ops.conv2d_backprop_input(dy, w, x_shape, padding=padding),
                 np_conv2d_backprop_input(dy, w, x_shape, padding=padding), dtype, 9 * 17)


@pytest.mark.parametrize("c,f", [(16, 16), (17, 19), (31, 33), (32, 64), (64, 32), (48, 80)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("hw", [(11, 9), (10, 10)])
def test_forward_channels_and_activations(isa, dtype, c, f, act, hw):
    """Channels and filters at, below and above the vector widths (4 to 16 lanes) and the
    Winograd threshold 16; (11, 9) takes F(4x4) 'same' and 'valid', (10, 10) F(2x2) 'same'."""
    x, w = _data((22, *hw, c), dtype, 3), _data((3, 3, c, f), dtype, 4)
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


@pytest.mark.parametrize("hw,padding", SIZE_CASES)
def test_backprop_kernel_sizes(isa, dtype, hw, padding):
    n = _batch(hw, padding)
    x = _data((n, *hw, 16), dtype, 20)
    y_shape = (n, *_out_hw(hw, padding), 17)
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
@pytest.mark.parametrize("hw", [9, 7])  # 7x7 output: F(4x4); 5x5: F(2x2)
def test_backprop_kernel_non_finite(bad, hw):
    x = _data((64, hw, hw, 16), np.float64, 24)
    dy = _data((64, hw - 2, hw - 2, 16), np.float64, 25)
    x[1, 0, 0, 2] = bad  # the oracle multiplies inf by zero-padded dy: NaN, as NumPy warns
    np.testing.assert_array_equal(
        np.isnan(ops.conv2d_backprop_kernel(x, dy, (3, 3, 16, 16))),
        np.isnan(np_conv2d_backprop_kernel(x, dy, (3, 3, 16, 16))))
    dy[0, hw - 3, hw - 3, 7] = bad
    np.testing.assert_array_equal(
        np.isnan(ops.conv2d_backprop_kernel(x * 0 + 1, dy, (3, 3, 16, 16))),
        np.isnan(np_conv2d_backprop_kernel(x * 0 + 1, dy, (3, 3, 16, 16))))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("hw", [8, 6])  # F(4x4), F(2x2)
def test_non_finite_values_stay_where_numpy_puts_them(isa, bad, hw):
    """The transforms would spread NaN/inf over a whole tile; such inputs take the GEMM path,
    so every output that does not read the bad value stays finite, as in NumPy."""
    x, w = _data((32, hw, hw, 16), np.float64, 11), _data((3, 3, 16, 16), np.float64, 12)
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
    x2 = _data((32, hw, hw, 16), np.float64, 13)
    yk, refk = ops.conv2d(x2, wb, padding="same"), np_conv2d(x2, wb, padding="same")
    np.testing.assert_array_equal(np.isnan(yk), np.isnan(refk))


def _assert_same_bits_at(run, counts=(1, 2, 3)):
    saved = cnnext.get_num_threads()
    try:
        outs = []
        for n in counts:
            cnnext.set_num_threads(n)
            outs.append(run())
    finally:
        cnnext.set_num_threads(saved)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("hw", [13, 10])  # F(4x4), F(2x2)
def test_thread_count_does_not_change_bits(hw):
    # 32 threads: more than the blocks of tiles, whose transforms and (block, point) products
    # are then scheduled over all threads (the same calls: the same bits).
    x, w = _data((19, hw, hw, 32), np.float32, 14), _data((3, 3, 32, 64), np.float32, 15)
    _assert_same_bits_at(
        lambda: ops.conv2d(x, w, padding="same", activation="relu"), counts=(1, 2, 3, 32))


@pytest.mark.parametrize("n", [150, 32])  # 150: 4 or more partial sums; 32: 2 (the seed's)
@pytest.mark.parametrize("hw", [13, 11])  # 11x11 output: F(4x4); 9x9: F(2x2)
def test_backprop_kernel_thread_count_does_not_change_bits(hw, n):
    # With more threads than partial sums, the blocks' transforms and the (partial sum, point)
    # products are scheduled over all threads instead of a partial sum per thread: same bits.
    x = _data((n, hw, hw, 32), np.float32, 26)
    dy = _data((n, hw - 2, hw - 2, 64), np.float32, 27)
    _assert_same_bits_at(lambda: ops.conv2d_backprop_kernel(x, dy, (3, 3, 32, 64)),
                                       counts=(1, 2, 3, 32))


def test_backprop_input_thread_count_does_not_change_bits():
    w, dy = _data((3, 3, 32, 64), np.float32, 28), _data((40, 11, 11, 64), np.float32, 29)
    _assert_same_bits_at(
        lambda: ops.conv2d_backprop_input(dy, w, (40, 13, 13, 32)), counts=(1, 2, 3, 32))


# Max |error| / max |result| of float32 vs the float64 oracle on randn data, C = F = 64, measured
# on every ISA for forward, input and kernel gradient: F(2x2) 3.4-6.9e-7 (the GEMM path's forward:
# 1.6e-7), F(4x4) 1.8-3.2e-6 (Lavin's points 0, +-1, +-2 would give 4-6e-6). The bounds are about
# twice that; F(2x2)'s is the one this test had before F(4x4) came.
@pytest.mark.parametrize("hw,padding,tile,bound", [(13, "valid", 4, 6e-6), (10, "same", 2, 2e-6)])
def test_float32_error_stays_near_the_direct_sum(isa, hw, padding, tile, bound):
    """Winograd's transforms add rounding; its float32 error must stay within a few ulp of the
    output scale, in all three ops."""
    oh = hw - 2 if padding == "valid" else hw
    assert (winograd_tile(32, oh, oh) == winograd_tile(32, oh, oh, True) ==
            winograd_tile(32, hw, hw) == tile)
    x, w = _data((32, hw, hw, 64), np.float32, 16), _data((3, 3, 64, 64), np.float32, 17)
    dy = _data((32, oh, oh, 64), np.float32, 18)
    for got, ref in ((ops.conv2d(x, w, padding=padding), np_conv2d(x, w, padding=padding)),
                     (ops.conv2d_backprop_input(dy, w, x.shape, padding=padding),
                      np_conv2d_backprop_input(dy, w, x.shape, padding=padding)),
                     (ops.conv2d_backprop_kernel(x, dy, w.shape, padding=padding),
                      np_conv2d_backprop_kernel(x, dy, w.shape, padding=padding))):
        err = np.abs(got - ref).max() / np.abs(ref).max()
        assert err < bound, err


@pytest.mark.parametrize("hw,padding", [((9, 9), "valid"), ((11, 11), "valid"), ((8, 7), "same"),
                                        ((10, 10), "same")])
def test_gradients_match_finite_differences(hw, padding):
    """float64 central differences of L = sum(conv2d(x, w) * r) in sampled entries of w and x;
    (9, 9) 'valid' runs the kernel gradient by F(4x4), (11, 11) 'valid' the input gradient,
    (8, 7) 'same' both, (10, 10) 'same' neither (F(2x2))."""
    x, w = _data((64, *hw, 16), np.float64, 50), _data((3, 3, 16, 16), np.float64, 51)
    r = _data((64, *_out_hw(hw, padding), 16), np.float64, 52)

    def loss(xv, wv):
        return np.sum(ops.conv2d(xv, wv, padding=padding) * r)

    rng, h = np.random.default_rng(53), 1e-3
    for grad, arg in ((ops.conv2d_backprop_kernel(x, r, w.shape, padding=padding), w),
                      (ops.conv2d_backprop_input(r, w, x.shape, padding=padding), x)):
        for flat in rng.choice(arg.size, 40, replace=False):
            idx = np.unravel_index(flat, arg.shape)
            hi, lo = arg.copy(), arg.copy()
            hi[idx] += h
            lo[idx] -= h
            args_hi, args_lo = ((hi, w), (lo, w)) if arg is x else ((x, hi), (x, lo))
            fd = (loss(*args_hi) - loss(*args_lo)) / (2 * h)
            assert abs(grad[idx] - fd) <= 1e-8 * (1 + abs(fd)), (idx, grad[idx], fd)


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
