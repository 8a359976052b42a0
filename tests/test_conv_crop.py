"""A Conv2D followed by a 'valid' MaxPooling2D computes only the rows and columns the pool reads
(issue 4: the seed model's 11x11 second conv output is pooled from its 10x10 corner), and the
input gradient of such a cropped dy skips the dx rows and columns no tap reaches.

The C++ ops take the output size from dy, so a cropped dy is a plain conv whose trailing output
cells are cut: the oracle is the full op with those cells' gradient set to zero."""
import numpy as np
import pytest

import cnnext
from cnnext import _backend, _core
from cnnext import layers as L
from cnnext.models import Sequential
from cnnext.models import trainer as _trainer
from conftest import assert_close
from oracle_conv import np_conv2d, np_conv2d_backprop_input, np_conv2d_backprop_kernel


def _rand(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _pad_to(dy, oh, ow):
    """dy (N, h, w, F) zero-padded at the bottom and right to (N, oh, ow, F)."""
    return np.pad(dy, ((0, 0), (0, oh - dy.shape[1]), (0, ow - dy.shape[2]), (0, 0)))


# (input H, W, C, filters, kernel, padding -> explicit pad, cropped dy H, W)
CASES = [
    (13, 13, 32, 64, 3, (0, 0), 10, 10),   # the seed model's second conv (Winograd)
    (13, 13, 64, 32, 3, (0, 0), 10, 10),   # channels and filters swapped
    (13, 11, 16, 17, 3, (0, 0), 10, 8),    # non-square, odd filters
    (12, 12, 16, 16, 3, (1, 1), 10, 10),   # 'same' padding, the pool reads 10 of 12
    (9, 9, 3, 8, 3, (0, 0), 6, 6),         # few channels: the flipped forward on the GEMM path
    (13, 13, 32, 64, 3, (0, 0), 4, 10),    # only rows cropped
    (13, 13, 32, 64, 3, (0, 0), 1, 1),     # a single output pixel
]


@pytest.mark.parametrize("h,w,c,f,k,pad,oh,ow", CASES)
def test_backprop_input_of_cropped_dy(isa, dtype, h, w, c, f, k, pad, oh, ow):
    kernel = _rand((k, k, c, f), dtype, 1)
    dy = _rand((3, oh, ow, f), dtype, 2)
    full_oh, full_ow = h + 2 * pad[0] - k + 1, w + 2 * pad[1] - k + 1
    padding = "valid" if pad == (0, 0) else "same"
    want = np_conv2d_backprop_input(_pad_to(dy, full_oh, full_ow), kernel, (3, h, w, c),
                                    padding=padding)
    out = np.full((3, h, w, c), np.nan, dtype)  # every cell must be written, the zeros too
    got = _core.conv2d_backprop_input(dy, kernel, (3, h, w, c), (1, 1), (1, 1), pad, out=out)
    assert got is out
    assert_close(got, want, dtype, k * k * f)  # the conv tests' atol scale: the reduction length
    reach_h, reach_w = oh - 1 - pad[0] + k, ow - 1 - pad[1] + k
    assert not got[:, reach_h:].any() and not got[:, :, reach_w:].any()


@pytest.mark.parametrize("h,w,c,f,k,pad,oh,ow", CASES[:4])
def test_backprop_kernel_and_forward_of_cropped_output(isa, dtype, h, w, c, f, k, pad, oh, ow):
    x = _rand((3, h, w, c), dtype, 3)
    kernel = _rand((k, k, c, f), dtype, 4)
    dy = _rand((3, oh, ow, f), dtype, 5)
    full_oh, full_ow = h + 2 * pad[0] - k + 1, w + 2 * pad[1] - k + 1
    padding = "valid" if pad == (0, 0) else "same"
    want = np_conv2d_backprop_kernel(x, _pad_to(dy, full_oh, full_ow), kernel.shape,
                                     padding=padding)
    got = _core.conv2d_backprop_kernel(x, dy, kernel.shape, (1, 1), (1, 1), pad)
    assert_close(got, want, dtype, 3 * oh * ow)
    y = _core.conv2d(x, kernel, None, (1, 1), (1, 1), pad, (oh, ow), 0)
    assert_close(y, np_conv2d(x, kernel, padding=padding)[:, :oh, :ow], dtype, k * k * c)


def test_cropped_backprop_input_thread_count_does_not_change_bits():
    kernel, dy = _rand((3, 3, 32, 64), np.float32, 6), _rand((19, 10, 10, 64), np.float32, 7)
    saved = cnnext.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            cnnext.set_num_threads(n)
            outs.append(_core.conv2d_backprop_input(dy, kernel, (19, 13, 13, 32), (1, 1), (1, 1),
                                                    (0, 0)))
    finally:
        cnnext.set_num_threads(saved)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("size,pool,strides,want", [
    ((11, 11), (2, 2), (2, 2), (10, 10)),
    ((26, 26), (2, 2), (2, 2), (26, 26)),
    ((11, 12), (3, 3), (3, 3), (9, 12)),
    ((11, 11), (3, 3), (2, 2), (11, 11)),
    ((10, 11), (3, 2), (1, 3), (10, 11)),
    ((1, 5), (2, 2), (2, 2), (1, 4)),  # a pool wider than the image leaves the size alone
])
def test_pool_reach(size, pool, strides, want):
    assert _backend._pool_reach(size, pool, strides) == want


# ---- the model plan --------------------------------------------------------------------------

def _model(dtype="float32", pool_padding="valid", act="relu", seed=0):
    cnnext.utils.set_random_seed(seed)
    model = Sequential([
        L.Input((29, 29, 2)),
        L.Conv2D(16, (3, 3), activation=act, dtype=dtype),       # 27x27, pooled from 26x26
        L.MaxPooling2D((2, 2), padding=pool_padding, dtype=dtype),
        L.Conv2D(16, (3, 3), activation=act, dtype=dtype),       # 11x11 -> 10x10 (valid pool)
        L.MaxPooling2D((2, 2), dtype=dtype),
        L.Flatten(dtype=dtype),
        L.Dense(1, activation="sigmoid", dtype=dtype),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model


def _data(n=24, dtype=np.float32):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((n, 29, 29, 2)).astype(dtype)
    return x, (x[:, :14].mean(axis=(1, 2, 3)) > 0).astype(dtype)


def _uncropped(model):
    plan = model._get_plan()
    model._plan = dict(plan, fwd=[(layer, {}) for layer, _ in plan["fwd"]])


def test_plan_crops_convs_followed_by_a_valid_max_pool():
    model = _model()
    fwd = [k for _, k in model._get_plan()["fwd"]]
    pools = model.layers[1], model.layers[3]
    assert fwd == [{"pool_layer": pools[0], "pool": ((2, 2), (2, 2))}, {},
                   {"pool_layer": pools[1], "pool": ((2, 2), (2, 2))}, {}, {}, {}]
    model = _model(pool_padding="same")
    assert [k for _, k in model._get_plan()["fwd"]][0] == {"pool_layer": model.layers[1]}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_cropped_training_matches_uncropped(dtype, act):
    """Two steps of training, then one step's gradients: the same with and without the crop
    (the kernel gradient sums the same products less the cut cells' zeros; the two may take
    different Winograd tiles, 10x10 vs 11x11 outputs, so float32 agrees to rounding)."""
    x, y = _data(dtype=np.dtype(dtype))
    cropped, plain = _model(dtype, act=act), _model(dtype, act=act)
    _uncropped(plain)
    grads = []
    for m in (cropped, plain):
        for i in range(2):
            m.train_on_batch(x[8 * i: 8 * i + 8], y[8 * i: 8 * i + 8])
        captured = []
        m.optimizer.apply = lambda g, v, captured=captured: captured.extend(a.copy() for a in g)
        m.train_on_batch(x[16:24], y[16:24])
        grads.append(captured)
    # The first conv (2 channels) fuses with its pool; the second (16) is cropped.
    # (Training fuses relu and linear only: tanh's gradient needs the conv's own output.)
    fused = act == "relu"
    assert ("y" in cropped.layers[0]._buffers) != fused and cropped.layers[1]._fed_by_conv == fused
    assert cropped.layers[2]._buffers["y"][0].shape == (8, 10, 10, 16)  # it really cropped
    assert plain.layers[2]._buffers["y"][0].shape == (8, 11, 11, 16)
    assert len(grads[0]) == len(grads[1]) == 6
    for a, b in zip(*grads):
        scale = np.abs(b).max()
        assert scale > 0
        if dtype == "float32":
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * scale)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12 * scale)


def test_cropped_predict_equals_uncropped():
    x, _ = _data()
    cropped, plain = _model(), _model()
    _uncropped(plain)
    # (10x10 and 11x11 outputs may take different Winograd tiles: equal to float32 rounding.)
    np.testing.assert_allclose(cropped.predict(x, verbose=0), plain.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cropped.predict(x, verbose=0), cropped(x).copy())
