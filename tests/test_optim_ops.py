"""Fused optimizer steps (cnnext.ops.adam_update / sgd_update / rmsprop_update) vs NumPy float64
reimplementations of Keras 3's update_step formulas: closed-form single steps, 5-step golden
sequences, many tensors of edge sizes in one call, every ISA, thread-count independence, errors."""
import numpy as np
import pytest

import cnnext
import cnnext.ops as ops
from conftest import assert_close

# Sizes around every vector width (4, 8, 16 lanes), the 8192-element work chunk, and empty.
SIZES = [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 8191, 8193, 20_000]


# ---- NumPy oracles (Keras 3 keras/src/optimizers/{adam,sgd,rmsprop}.py), float64 ----------------
def np_adam(p, g, m, v, vhat, *, lr, b1, b2, eps, t):
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    m = m + (g - m) * (1 - b1)
    v = v + (g * g - v) * (1 - b2)
    if vhat is not None:
        vhat = np.maximum(vhat, v)
        p = p - (m * alpha) / (np.sqrt(vhat) + eps)
    else:
        p = p - (m * alpha) / (np.sqrt(v) + eps)
    return p, m, v, vhat


def np_sgd(p, g, mom, *, lr, mu, nesterov):
    if mu == 0:
        return p - g * lr, mom
    mom = mom * mu - g * lr
    return (p + (mom * mu - g * lr) if nesterov else p + mom), mom


def np_rmsprop(p, g, v, mom, avg, *, lr, rho, eps, mu, centered):
    v = rho * v + (1 - rho) * g * g
    if centered:
        avg = rho * avg + (1 - rho) * g
        den = v - avg * avg + eps
    else:
        den = v + eps
    inc = lr * g / np.sqrt(den)
    if mu > 0:
        mom = mu * mom + inc
        return p - mom, v, mom, avg
    return p - inc, v, mom, avg


def _tensors(sizes, dtype, seed, positive=False):
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(n).astype(dtype) for n in sizes]
    return [np.abs(a) for a in out] if positive else out


def _f64(arrs):
    return [None if a is None else a.astype(np.float64) for a in arrs]


# ---- Adam ---------------------------------------------------------------------------------------
def test_adam_single_step_closed_form(isa, dtype):
    p = np.array([1.0, 2.0, -3.0, 0.5, 0.0], dtype)
    g = np.array([0.5, -2.0, 1e-3, 0.0, 7.0], dtype)
    m, v = np.zeros_like(p), np.zeros_like(p)
    p0 = p.astype(np.float64)
    ops.adam_update([p], [g], [m], [v], learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                    iteration=1)
    g64 = g.astype(np.float64)
    # t = 1: m = 0.1 g, v = 0.001 g^2, alpha = 0.1 sqrt(0.001) / 0.1, so
    # p1 = p0 - 0.1 sqrt(0.001) g / (sqrt(0.001) |g| + 1e-7).
    s = np.sqrt(0.001)
    assert_close(p, p0 - 0.1 * s * g64 / (s * np.abs(g64) + 1e-7), dtype)
    assert_close(m, 0.1 * g64, dtype)
    assert_close(v, 0.001 * g64 * g64, dtype)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_golden_sequence_many_tensors(isa, dtype, amsgrad):
    p = _tensors(SIZES, dtype, 0)
    m = [np.zeros_like(a) for a in p]
    v = [np.zeros_like(a) for a in p]
    vh = [np.zeros_like(a) for a in p] if amsgrad else None
    ref = [(a, b, c, None if vh is None else d) for a, b, c, d in
           zip(_f64(p), _f64(m), _f64(v), _f64(vh) if vh else [None] * len(p))]
    hp = dict(lr=0.01, b1=0.8, b2=0.95, eps=1e-7)
    for t in range(1, 6):
        g = _tensors(SIZES, dtype, 100 + t)
        if t == 3:  # a large step drives v up, then smaller ones exercise amsgrad's max
            g = [10 * a for a in g]
        ops.adam_update(p, g, m, v, learning_rate=hp["lr"], beta_1=hp["b1"], beta_2=hp["b2"],
                        epsilon=hp["eps"], iteration=t, amsgrad=amsgrad, vhats=vh)
        ref = [np_adam(r[0], gi.astype(np.float64), r[1], r[2], r[3], t=t, **hp)
               for r, gi in zip(ref, g)]
    for i, r in enumerate(ref):
        assert_close(p[i], r[0], dtype, scale=10)
        assert_close(m[i], r[1], dtype, scale=10)
        assert_close(v[i], r[2], dtype, scale=100)
        if amsgrad:
            assert_close(vh[i], r[3], dtype, scale=100)


def test_adam_nan_propagates_and_grads_untouched(isa, dtype):
    p = np.ones(19, dtype)
    g = np.linspace(-1, 1, 19).astype(dtype)
    g[[0, 17]] = np.nan
    g.flags.writeable = False  # grads are only read: read-only arrays are fine
    keep = g.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    ops.adam_update([p], [g], [m], [v], learning_rate=1e-3, beta_1=0.9, beta_2=0.999,
                    epsilon=1e-7, iteration=1)
    assert np.isnan(p[[0, 17]]).all() and np.isfinite(np.delete(p, [0, 17])).all()
    np.testing.assert_array_equal(g, keep)


# ---- SGD ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu,nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)])
def test_sgd_golden_sequence(isa, dtype, mu, nesterov):
    p = _tensors(SIZES, dtype, 1)
    mom = [np.zeros_like(a) for a in p] if mu else None
    ref = list(zip(_f64(p), _f64(mom) if mom else [None] * len(p)))
    for t in range(5):
        g = _tensors(SIZES, dtype, 200 + t)
        ops.sgd_update(p, g, mom, learning_rate=0.05, momentum=mu, nesterov=nesterov)
        ref = [np_sgd(r[0], gi.astype(np.float64), r[1], lr=0.05, mu=mu, nesterov=nesterov)
               for r, gi in zip(ref, g)]
    for i, r in enumerate(ref):
        assert_close(p[i], r[0], dtype, scale=10)
        if mu:
            assert_close(mom[i], r[1], dtype, scale=10)


def test_sgd_single_step_closed_form(isa, dtype):
    p, g = np.array([1.0, -2.0, 3.0], dtype), np.array([0.5, 0.25, -1.0], dtype)
    ops.sgd_update([p], [g], learning_rate=0.1)
    assert_close(p, [0.95, -2.025, 3.1], dtype)
    m = np.array([1.0, 0.0, -1.0], dtype)
    ops.sgd_update([p], [g], [m], learning_rate=0.1, momentum=0.5, nesterov=True)
    # m = 0.5 m - 0.1 g = [0.45, -0.025, -0.4]; p += 0.5 m - 0.1 g
    assert_close(m, [0.45, -0.025, -0.4], dtype)
    assert_close(p, [0.95 + 0.175, -2.025 - 0.0375, 3.1 - 0.1], dtype)


def test_sgd_momentum_zero_leaves_momentums_alone():
    p, g, m = np.ones(5), np.ones(5), np.full(5, 7.0)
    ops.sgd_update([p], [g], [m], learning_rate=0.5, momentum=0.0)
    np.testing.assert_array_equal(p, 0.5)
    np.testing.assert_array_equal(m, 7.0)


# ---- RMSprop ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu", [0.0, 0.9])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_golden_sequence(isa, dtype, mu, centered):
    p = _tensors(SIZES, dtype, 2)
    vel = [np.zeros_like(a) for a in p]
    mom = [np.zeros_like(a) for a in p] if mu else None
    avg = [np.zeros_like(a) for a in p] if centered else None
    none = [None] * len(p)
    ref = list(zip(_f64(p), _f64(vel), _f64(mom) if mom else none, _f64(avg) if avg else none))
    hp = dict(lr=0.01, rho=0.9, eps=1e-7, mu=mu, centered=centered)
    for t in range(5):
        g = _tensors(SIZES, dtype, 300 + t)
        ops.rmsprop_update(p, g, vel, learning_rate=0.01, rho=0.9, epsilon=1e-7, momentum=mu,
                           momentums=mom, centered=centered, average_grads=avg)
        ref = [np_rmsprop(r[0], gi.astype(np.float64), r[1], r[2], r[3], **hp)
               for r, gi in zip(ref, g)]
    for i, r in enumerate(ref):
        assert_close(p[i], r[0], dtype, scale=30)
        assert_close(vel[i], r[1], dtype, scale=30)
        if mu:
            assert_close(mom[i], r[2], dtype, scale=30)
        if centered:
            assert_close(avg[i], r[3], dtype, scale=30)


def test_rmsprop_single_step_closed_form(isa, dtype):
    p, g = np.zeros(3, dtype), np.array([2.0, -1.0, 0.0], dtype)
    v = np.zeros_like(p)
    ops.rmsprop_update([p], [g], [v], learning_rate=0.1, rho=0.75, epsilon=1e-7)
    g64 = g.astype(np.float64)
    assert_close(v, 0.25 * g64 ** 2, dtype)
    assert_close(p, -0.1 * g64 / np.sqrt(0.25 * g64 ** 2 + 1e-7), dtype)


# ---- threads, ISAs ------------------------------------------------------------------------------
def test_result_independent_of_thread_count(dtype):
    sizes = [100_000, 7, 33_333]
    results = []
    prev = cnnext.get_num_threads()
    try:
        for nt in (1, 2, 3):
            cnnext.set_num_threads(nt)
            p, g = _tensors(sizes, dtype, 5), _tensors(sizes, dtype, 6)
            m, v = [np.zeros_like(a) for a in p], [np.zeros_like(a) for a in p]
            ops.adam_update(p, g, m, v, learning_rate=0.01, beta_1=0.9, beta_2=0.999,
                            epsilon=1e-7, iteration=3)
            results.append(p)
    finally:
        cnnext.set_num_threads(prev)
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            np.testing.assert_array_equal(a, b)


def test_empty_lists_are_a_no_op():
    ops.adam_update([], [], [], [], learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                    iteration=1)
    ops.sgd_update([], [], learning_rate=0.1)
    ops.rmsprop_update((), (), (), learning_rate=0.1, rho=0.9, epsilon=1e-7)


# ---- errors -------------------------------------------------------------------------------------
def _adam(params, grads, ms, vs, **kw):
    args = dict(learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7, iteration=1)
    args.update(kw)
    ops.adam_update(params, grads, ms, vs, **args)


def test_errors_list_lengths_and_types():
    p = [np.zeros(3, np.float32), np.zeros((2, 2), np.float32)]
    z = [np.zeros_like(a) for a in p]
    with pytest.raises(ValueError, match=r"`grads` must hold one array per parameter \(2\), but got 1"):
        _adam(p, z[:1], z, z)
    with pytest.raises(ValueError, match=r"`vs` must hold one array per parameter"):
        _adam(p, z, z, z + z)
    with pytest.raises(TypeError, match="`params` must be a list or tuple"):
        _adam(p[0], z, z, z)
    with pytest.raises(TypeError, match=r"`grads\[1\]` must be a numpy.ndarray, but got list"):
        _adam(p, [z[0], [[0, 0], [0, 0]]], z, z)
    with pytest.raises(TypeError, match=r"`params\[0\]` must be a numpy.ndarray of dtype float32 or "
                                        r"float64, but got dtype int64"):
        _adam([np.zeros(3, np.int64)], [np.zeros(3)], [np.zeros(3)], [np.zeros(3)])
    with pytest.raises(TypeError, match=r"`ms\[1\]` must have dtype float32 like `params\[0\]`, "
                                        r"but got float64"):
        _adam(p, z, [z[0], np.zeros((2, 2))], z)
    with pytest.raises(TypeError, match=r"`params\[1\]` must have dtype float32"):
        _adam([p[0], np.zeros((2, 2))], z, z, z)


def test_errors_shapes_layout_writeable():
    p = [np.zeros((2, 3))]
    z = [np.zeros((2, 3))]
    with pytest.raises(ValueError, match=r"`vs\[0\]` must have shape \(2, 3\) like `params\[0\]`, "
                                         r"but got \(3, 2\)"):
        _adam(p, z, z, [np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"`ms\[0\]` must be C-contiguous"):
        _adam(p, z, [np.zeros((3, 2)).T], z)
    with pytest.raises(ValueError, match=r"`grads\[0\]` must be C-contiguous"):
        _adam(p, [np.zeros((2, 6))[:, ::2]], z, z)
    ro = np.zeros((2, 3))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"`params\[0\]` is read-only"):
        _adam([ro], z, [np.zeros((2, 3))], [np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"`momentums\[0\]` is read-only"):
        ops.sgd_update(p, z, [ro], learning_rate=0.1, momentum=0.9)


def test_errors_nothing_written_when_a_later_array_is_bad():
    p = [np.ones(4), np.ones(4)]
    z = [np.zeros(4), np.zeros(4)]
    with pytest.raises(ValueError):
        _adam(p, z, z, [np.zeros(4), np.zeros(5)])
    np.testing.assert_array_equal(p[0], 1.0)


def test_errors_scalars_and_required_state():
    p, z = [np.zeros(3)], [np.zeros(3)]
    with pytest.raises(TypeError, match="`learning_rate` must be a real number. Received: "
                                        "learning_rate='0.1'"):
        _adam(p, z, z, z, learning_rate="0.1")
    with pytest.raises(TypeError, match="`learning_rate` must be a real number"):
        ops.sgd_update(p, z, learning_rate=None)
    with pytest.raises(TypeError, match="`beta_1` must be a real number"):
        _adam(p, z, z, z, beta_1=True)
    with pytest.raises(ValueError, match=r"`iteration` must be an int >= 1 \(the 1-based step\). "
                                         r"Received: iteration=0"):
        _adam(p, z, z, z, iteration=0)
    with pytest.raises(ValueError, match="`iteration` must be an int >= 1"):
        _adam(p, z, z, z, iteration=1.0)
    with pytest.raises(ValueError, match="`vhats` is required when amsgrad=True"):
        _adam(p, z, z, z, amsgrad=True)
    with pytest.raises(ValueError, match="`momentums` is required when momentum != 0"):
        ops.sgd_update(p, z, learning_rate=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="`momentums` is required when momentum > 0"):
        ops.rmsprop_update(p, z, z, learning_rate=0.1, rho=0.9, epsilon=1e-7, momentum=0.5)
    with pytest.raises(ValueError, match="`average_grads` is required when centered=True"):
        ops.rmsprop_update(p, z, z, learning_rate=0.1, rho=0.9, epsilon=1e-7, centered=True)


def test_numpy_scalar_hyperparameters_accepted():
    p, g = [np.ones(3, np.float32)], [np.ones(3, np.float32)]
    ops.sgd_update(p, g, learning_rate=np.float32(0.5))
    ops.sgd_update(p, g, learning_rate=np.array(0.25))
    np.testing.assert_allclose(p[0], 0.25)
