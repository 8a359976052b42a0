"""The training step's fast path (issue 4): reused workspaces, the direct `_core` calls of
`_backend`, and the relu + max-pool backward fusion. Each is checked against the plain op path."""
import tracemalloc

import numpy as np
import pytest

import cnnext
from cnnext import _backend, ops
from cnnext import layers as L
from cnnext.models import Sequential
from cnnext.models import trainer as _trainer


def _seed_like(seed=0, dtype="float32", filters=(8, 16), pool_padding="valid"):
    cnnext.utils.set_random_seed(seed)
    model = Sequential([
        L.Input((16, 16, 1)),
        L.Conv2D(filters[0], (3, 3), activation="relu", dtype=dtype),
        L.MaxPooling2D((2, 2), padding=pool_padding, dtype=dtype),
        L.Conv2D(filters[1], (3, 3), activation="relu", dtype=dtype),
        L.MaxPooling2D((2, 2), dtype=dtype),
        L.Flatten(dtype=dtype),
        L.Dense(12, activation="relu", dtype=dtype),
        L.Dense(1, activation="sigmoid", dtype=dtype),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def _data(n=48, seed=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 16, 16, 1)).astype(dtype)
    y = (x[:, :8].mean(axis=(1, 2, 3)) > x[:, 8:].mean(axis=(1, 2, 3))).astype(dtype)
    return x, y


# ---- the relu + max-pool backward fusion ---------------------------------------------------------

def test_plan_fuses_relu_conv_with_following_max_pool():
    model = _seed_like()
    model.build((None, 16, 16, 1))
    kwargs = [k for _, _, k in reversed(model._get_plan()["rev"])]
    pools = [model.layers[1], model.layers[3]]
    fused = {"relu_mask": True, "bias_grad": True}
    # The first conv (no input gradient) also takes the pooled gradient straight from its pool.
    assert kwargs == [{"preactivated": pools[0], "pooled_by": pools[0]},
                      dict(fused, to_conv=True), {"preactivated": pools[1]}, fused, {}, {}, {}]
    fwd = [k for _, k in model._get_plan()["fwd"]]
    assert fwd == [{"pool_layer": pools[0], "pool": ((2, 2), (2, 2))}, {},
                   {"pool_layer": pools[1], "pool": ((2, 2), (2, 2))}, {}, {}, {}, {}]


@pytest.mark.parametrize("act,pool", [("sigmoid", L.MaxPooling2D), ("relu", L.AveragePooling2D)])
def test_plan_does_not_fuse_other_pairs(act, pool):
    model = Sequential([L.Input((8, 8, 1)), L.Conv2D(2, 3, activation=act), pool(2),
                        L.Flatten(), L.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    masks = {"relu_mask", "bias_grad", "preactivated"}
    assert all(not masks & set(k) for _, _, k in model._get_plan()["rev"])


def _gradients(model, x, y, fused):
    """One training step's gradients, with or without the forward and backward fusions."""
    plan = model._get_plan()
    if not fused:
        plan = dict(plan, rev=[(i, layer, {}) for i, layer, _ in plan["rev"]],
                    fwd=[(layer, {}) for layer, _ in plan["fwd"]])
        model._plan = plan
    captured = []
    model.optimizer.apply = lambda grads, variables: captured.extend(g.copy() for g in grads)
    model.train_on_batch(x, y)
    model._plan = None
    return captured


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pool_padding", ["valid", "same"])
def test_fused_backward_matches_unfused(dtype, pool_padding):
    x, y = _data(dtype=np.dtype(dtype))
    fused = _gradients(_seed_like(dtype=dtype, pool_padding=pool_padding), x, y, fused=True)
    plain = _gradients(_seed_like(dtype=dtype, pool_padding=pool_padding), x, y, fused=False)
    assert len(fused) == len(plain) == 8
    for g, h in zip(fused, plain):
        # Identical values; only the order of float additions in the bias sums may differ.
        np.testing.assert_allclose(g, h, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-7 if dtype == "float32" else 1e-15)
    assert any(np.abs(g).max() > 0 for g in fused[:2])  # the first conv really got gradients


def test_fused_backward_with_dead_relu_windows():
    """Windows whose every cell the relu clipped to 0 must pass no gradient (the argmax points at
    a zero there, which the unfused relu backward masks out)."""
    x, y = _data()
    x[:, :, :8] = -10.0  # a large negative input drives much of the first conv's output to 0
    fused = _gradients(_seed_like(seed=3), x, y, fused=True)
    plain = _gradients(_seed_like(seed=3), x, y, fused=False)
    for g, h in zip(fused, plain):
        np.testing.assert_allclose(g, h, rtol=1e-5, atol=1e-7)


# ---- reused workspaces: no large allocation inside a training step -------------------------------

def test_training_step_allocates_no_large_arrays():
    model = _seed_like(filters=(32, 64))
    x, y = _data(n=64)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # warm up: workspaces sized here
    conv_out_bytes = 32 * 14 * 14 * 32 * 4  # the first conv's output at batch 32: 802,816 bytes
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            model.train_on_batch(x[:32], y[:32])
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    # Only small per-step temporaries remain (the batch, the loss terms, metric scalars); one
    # unreused forward or backward buffer of the first conv alone would exceed this bound.
    assert peak < conv_out_bytes // 4, peak


def _buffer_addresses(model):
    return [{k: sorted(b.ctypes.data for b in v) for k, v in getattr(layer, "_buffers", {}).items()}
            for layer in model.layers]


def test_workspaces_are_reused_across_steps():
    model = _seed_like()
    x, y = _data()
    model.train_on_batch(x[:16], y[:16])
    first = _buffer_addresses(model)
    model.train_on_batch(x[16:32], y[16:32])
    assert _buffer_addresses(model) == first
    conv1, pool1, conv2, pool2 = (set(first[i]) for i in range(4))
    # Both convs fuse with their pools (C = 1 and 8): the pools hold the outputs and argmax;
    # the first conv's fused backward never forms its dy, the second's pool masks and sums.
    assert conv1 == {"dk", "db"} and pool1 == {"y", "argmax"}
    assert {"dk", "dx"} <= conv2 and {"y", "argmax", "dx", "db"} <= pool2


def test_full_and_last_partial_batch_keep_their_buffers():
    """An epoch of 2 full batches and a smaller last one: after the first epoch, no step of the
    next allocates (both batch shapes keep a workspace)."""
    model = _seed_like()
    x, y = _data(n=40)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = _buffer_addresses(model)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert _buffer_addresses(model) == before
    assert len(model.layers[1]._buffers["y"]) == 2  # (16, ...) and (8, ...)
    assert len(model.layers[0]._buffers["dk"]) == 1  # the kernel gradient's shape never changes


def test_buffers_keep_at_most_two_shapes_per_key():
    model = _seed_like()
    x, y = _data(n=48)
    for n in (16, 8, 4, 16):
        model.train_on_batch(x[:n], y[:n])
    pool = model.layers[1]  # the fused first conv + pool writes the pool's "y"
    assert len(pool._buffers["y"]) == 2
    assert [b.shape[0] for b in pool._buffers["y"]] == [16, 4]


def test_predict_returns_fresh_arrays_after_training():
    """Inference never hands out a training workspace (a later step would overwrite it)."""
    model = _seed_like()
    x, y = _data()
    model.train_on_batch(x[:16], y[:16])
    p1 = model.predict(x[:16], verbose=0)
    keep = p1.copy()
    model.train_on_batch(x[16:32], y[16:32])
    np.testing.assert_array_equal(p1, keep)


# ---- _backend's direct path agrees with the public ops -------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backend_direct_path_matches_ops(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 9, 8, 2)).astype(dtype)
    k = rng.standard_normal((3, 2, 2, 5)).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    geo = ((2, 1), "same", (1, 2))
    y = _backend.conv2d(x, k, b, *geo, activation="relu")
    np.testing.assert_array_equal(y, ops.conv2d(x, k, b, *geo, activation="relu"))
    out = np.empty_like(y)
    assert _backend.conv2d(x, k, b, *geo, activation="relu", out=out) is out
    np.testing.assert_array_equal(out, y)
    dy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_array_equal(_backend.conv2d_backprop_input(dy, k, x.shape, *geo),
                                  ops.conv2d_backprop_input(dy, k, x.shape, *geo))
    np.testing.assert_array_equal(_backend.conv2d_backprop_kernel(x, dy, k.shape, *geo),
                                  ops.conv2d_backprop_kernel(x, dy, k.shape, *geo))
    np.testing.assert_array_equal(_backend.max_pool2d(x, (3, 2), (1, 2), "valid"),
                                  ops.max_pool2d(x, (3, 2), (1, 2), "valid"))
    p, am = _backend.max_pool2d_with_argmax(x, (2, 2), (2, 2), "same")
    p2, am2 = ops.max_pool2d_with_argmax(x, (2, 2), (2, 2), "same")
    np.testing.assert_array_equal(p, p2)
    np.testing.assert_array_equal(am, am2)
    dp = rng.standard_normal(p.shape).astype(dtype)
    np.testing.assert_array_equal(
        _backend.max_pool2d_backward(dp, am, x.shape, (2, 2), (2, 2), "same"),
        ops.max_pool2d_backward_from_argmax(dp, am, x.shape, (2, 2), (2, 2), "same"))
    a = rng.standard_normal((7, 6)).astype(dtype)
    w = rng.standard_normal((6, 4)).astype(dtype)
    np.testing.assert_array_equal(_backend.dense(a, w, None, "sigmoid"),
                                  ops.dense(a, w, activation="sigmoid"))
    g = rng.standard_normal((7, 4)).astype(dtype)
    np.testing.assert_array_equal(_backend.dense_backprop_input(g, w),
                                  ops.dense_backprop_input(g, w))
    np.testing.assert_array_equal(_backend.dense_backprop_kernel(a, g),
                                  ops.dense_backprop_kernel(a, g))
    for name in ("relu", "sigmoid", "tanh"):
        np.testing.assert_array_equal(_backend.activation_backward(name, g, g),
                                      getattr(ops, name + "_backward")(g, g))


def test_backend_ignores_unusable_out_buffers():
    """A buffer of the wrong shape, dtype or layout is never written: the result is fresh."""
    x = np.ones((1, 4, 4, 1), np.float32)
    k = np.ones((2, 2, 1, 1), np.float32)
    for bad in (np.full((1, 3, 3, 2), 7, np.float32), np.full((1, 3, 3, 1), 7, np.float64),
                np.full((1, 3, 3, 2), 7, np.float32)[..., :1]):
        y = _backend.conv2d(x, k, None, (1, 1), "valid", (1, 1), out=bad)
        assert y is not bad and y.shape == (1, 3, 3, 1)
        np.testing.assert_array_equal(y, 4.0)
        assert (bad == 7).all()


def test_backend_falls_back_to_validating_ops():
    """Lists, mixed dtypes and bad geometry take the public op's path and its errors."""
    y = _backend.conv2d([[[[1.0]]]], np.ones((1, 1, 1, 1)), None, 1, "valid", 1)
    assert y.dtype == np.float64 and y.shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="strides"):
        _backend.conv2d(np.ones((1, 4, 4, 1), np.float32), np.ones((2, 2, 1, 1), np.float32),
                        None, (0, 1), "valid", (1, 1))
    with pytest.raises(ValueError, match="input channels"):
        _backend.conv2d(np.ones((1, 4, 4, 2), np.float32), np.ones((2, 2, 1, 1), np.float32),
                        None, (1, 1), "valid", (1, 1))


def test_fused_step_is_thread_count_independent():
    x, y = _data()
    weights, saved = [], cnnext.get_num_threads()
    try:
        for n in (1, 2):
            cnnext.set_num_threads(n)
            model = _seed_like()
            model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
            weights.append(model.get_weights())
    finally:
        cnnext.set_num_threads(saved)
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_backward_kwargs_helper_on_short_stacks():
    layers = [L.MaxPooling2D(2)]
    assert _trainer._backward_kwargs(layers, 0, 0) == {}
    assert _trainer._forward_kwargs(layers, 0) == {}


def test_backend_copies_misaligned_arrays():
    """A misaligned view (a user's array at an odd byte offset) never reaches the kernels."""
    raw = np.zeros(4 * 4 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(1, 4, 4, 1)
    assert not raw.flags.aligned
    raw[...] = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    k = np.ones((2, 2, 1, 1), np.float32)
    np.testing.assert_array_equal(_backend.conv2d(raw, k, None, (1, 1), "valid", (1, 1)),
                                  ops.conv2d(raw.copy(), k))
    assert not _backend._direct(raw)


# ---- the conv + max-pool forward fusion (few input channels) ------------------------------------

def _conv_pool_model(act, dtype="float32"):
    cnnext.utils.set_random_seed(4)
    model = Sequential([
        L.Input((15, 15, 3)),
        L.Conv2D(8, (3, 3), activation=act, dtype=dtype),   # C = 3: fuses with its pool
        L.MaxPooling2D((2, 2), dtype=dtype),                 # 13x13 -> 6x6 (drops a row/col)
        L.Conv2D(4, (2, 2), activation=act, dtype=dtype),   # C = 8: fuses too, not first
        L.MaxPooling2D((2, 2), dtype=dtype),
        L.Flatten(dtype=dtype),
        L.Dense(1, activation="sigmoid", dtype=dtype),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ["relu", "linear", "sigmoid", "tanh"])
def test_conv_pool_fusion_matches_separate_layers(act, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 15, 15, 3)).astype(dtype)
    y = (x[:, :7].mean(axis=(1, 2, 3)) > 0).astype(dtype)
    fused = _gradients(_conv_pool_model(act, dtype), x, y, fused=True)
    plain = _gradients(_conv_pool_model(act, dtype), x, y, fused=False)
    for g, h in zip(fused, plain):
        np.testing.assert_allclose(g, h, rtol=1e-5 if dtype == "float32" else 1e-12,
                                   atol=1e-7 if dtype == "float32" else 1e-15)
    assert np.abs(fused[0]).max() > 0
    a, b = _conv_pool_model(act, dtype), _conv_pool_model(act, dtype)
    b._plan = dict(b._get_plan(), fwd=[(layer, {}) for layer, _ in b._get_plan()["fwd"]])
    # Inference fuses every fused activation, bit for bit the same as the two layers.
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))
    trained = act in ("relu", "linear")
    a.train_on_batch(x, y)
    assert a.layers[1]._fed_by_conv == trained and a.layers[3]._fed_by_conv == trained


def test_pool_after_a_fused_forward_pools_other_inputs():
    """The pass-through is for the very array the conv handed over: the same pool layer called
    on anything else pools it."""
    model = _conv_pool_model("relu")
    x = np.random.default_rng(6).standard_normal((2, 15, 15, 3)).astype(np.float32)
    model.predict(x, verbose=0)
    conv, pool = model.layers[0], model.layers[1]
    conv.forward(x, False, pool_layer=pool)  # its pool never runs: the hand-over goes stale
    z = np.random.default_rng(7).standard_normal((2, 13, 13, 8)).astype(np.float32)
    np.testing.assert_array_equal(pool(z), ops.max_pool2d(z, 2))
