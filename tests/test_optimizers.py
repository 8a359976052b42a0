"""Optimizers: Keras defaults, one closed-form step, a golden sequence, config, state order."""
import math

import numpy as np
import pytest

from cnnext import optimizers
from cnnext._variable import Variable


def _vars(*arrays):
    return [Variable(np.array(a, np.float32), f"w{i}") for i, a in enumerate(arrays)]


def test_adam_defaults_and_keras_verified_step():
    opt = optimizers.get("adam")
    assert (opt.learning_rate, opt.beta_1, opt.beta_2, opt.epsilon) == (
        np.float32(0.001), 0.9, 0.999, 1e-7)
    # Keras 3 (run): w=[1,2], x=[1,1], y=0, squared error on w.x, lr=0.1 -> [0.9000007, 1.9000007]
    w = _vars([1.0, 2.0])
    grad = 2 * (1.0 + 2.0) * np.ones(2, np.float32)
    optimizers.Adam(learning_rate=0.1).apply([grad], w)
    np.testing.assert_allclose(w[0].value, [0.9000007, 1.9000007], rtol=0, atol=1e-6)
    # closed form of one step: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(1 - b2) / (1 - b1)
    expect = 1.0 - 0.1 * np.sqrt(0.001) / 0.1 * 0.6 / (np.sqrt(0.001 * 36.0) + 1e-7)
    assert w[0].value[0] == pytest.approx(expect, rel=1e-7)


def _adam_reference(w, grads, lr=0.01, b1=0.9, b2=0.999, eps=1e-7):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        w = w - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
    return w


def test_adam_golden_sequence_and_state_order():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 2))
    b0 = rng.standard_normal(2)
    grads = [(rng.standard_normal((3, 2)), rng.standard_normal(2)) for _ in range(5)]
    ws = _vars(w0, b0)
    opt = optimizers.Adam(learning_rate=0.01)
    for gw, gb in grads:
        opt.apply([gw.astype(np.float32), gb.astype(np.float32)], ws)
    np.testing.assert_allclose(ws[0].value, _adam_reference(w0, [g[0] for g in grads]),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ws[1].value, _adam_reference(b0, [g[1] for g in grads]),
                               rtol=1e-5, atol=1e-6)
    assert int(opt.iterations) == 5
    names = [v.name for v in opt.variables]
    assert names == ["iteration", "learning_rate", "w0_momentum", "w0_velocity", "w1_momentum",
                     "w1_velocity"]


def test_sgd_and_momentum():
    w = _vars([1.0, -1.0])
    optimizers.SGD().apply([np.array([1.0, 2.0], np.float32)], w)
    np.testing.assert_allclose(w[0].value, [0.99, -1.02], rtol=1e-7)
    w = _vars([0.0])
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    for _ in range(2):
        opt.apply([np.array([1.0], np.float32)], w)
    # m1 = -0.1, w1 = -0.1; m2 = -0.09 - 0.1 = -0.19, w2 = -0.29
    np.testing.assert_allclose(w[0].value, [-0.29], rtol=1e-6)
    w = _vars([0.0])
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    opt.apply([np.array([1.0], np.float32)], w)
    np.testing.assert_allclose(w[0].value, [0.9 * -0.1 - 0.1], rtol=1e-6)
    with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]"):
        optimizers.SGD(momentum=0)


def test_rmsprop_step():
    w = _vars([1.0, 2.0])
    g = np.array([0.5, -1.0], np.float32)
    optimizers.RMSprop(learning_rate=0.01).apply([g], w)
    v = 0.1 * g.astype(np.float64) ** 2
    np.testing.assert_allclose(w[0].value, np.array([1.0, 2.0]) - 0.01 * g / np.sqrt(v + 1e-7),
                               rtol=1e-6)
    w = _vars([1.0])
    opt = optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True)
    opt.apply([np.array([0.5], np.float32)], w)
    v, a = 0.1 * 0.25, 0.1 * 0.5
    np.testing.assert_allclose(w[0].value, [1.0 - 0.01 * 0.5 / np.sqrt(v - a * a + 1e-7)],
                               rtol=1e-5)
    assert [x.name for x in opt.variables][2:] == ["w0_velocity", "w0_momentum",
                                                   "w0_average_gradient"]


def test_learning_rate_settable_clipping_and_config():
    opt = optimizers.Adam()
    opt.learning_rate = 0.5
    assert opt.learning_rate == np.float32(0.5)
    cfg = opt.get_config()
    assert cfg["learning_rate"] == 0.5 and cfg["amsgrad"] is False
    clone = optimizers.deserialize(optimizers.serialize(opt))
    assert type(clone) is optimizers.Adam and clone.get_config()["learning_rate"] == 0.5
    w = _vars([0.0, 0.0])
    optimizers.SGD(learning_rate=1.0, clipnorm=1.0).apply([np.array([3.0, 4.0], np.float32)], w)
    np.testing.assert_allclose(w[0].value, [-0.6, -0.8], rtol=1e-6)
    w = _vars([0.0])
    optimizers.SGD(learning_rate=1.0, clipvalue=0.5).apply([np.array([3.0], np.float32)], w)
    np.testing.assert_allclose(w[0].value, [-0.5])
    w = _vars([1.0])
    optimizers.SGD(learning_rate=0.1, weight_decay=0.5).apply([np.array([0.0], np.float32)], w)
    np.testing.assert_allclose(w[0].value, [0.95], rtol=1e-6)


@pytest.mark.parametrize("make,match", [
    (lambda: optimizers.Adam(lr=0.1), "Argument\\(s\\) not recognized"),
    (lambda: optimizers.Adam(learning_rate=1), "should be float"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), "Only one of"),
    (lambda: optimizers.get("nope"), "Could not interpret optimizer identifier"),
])
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_string_lookup_case_insensitive():
    assert type(optimizers.get("SGD")) is optimizers.SGD
    assert type(optimizers.get("RMSprop")) is optimizers.RMSprop
    assert optimizers.get("sgd").learning_rate == np.float32(0.01)


def test_learning_rate_variable_api():
    opt = optimizers.Adam()
    opt.learning_rate.assign(0.25)
    assert float(opt.learning_rate) == 0.25 and opt.learning_rate * 2 == 0.5
    assert opt.learning_rate.numpy() == np.float32(0.25)
    assert f"{opt.learning_rate:.2f}" == "0.25"
    sched = optimizers.SGD(learning_rate=lambda step: 0.1 / (step + 1))
    w = _vars([0.0])
    for _ in range(2):
        sched.apply([np.array([1.0], np.float32)], w)
    np.testing.assert_allclose(w[0].value, [-0.1 - 0.05], rtol=1e-6)


def test_apply_to_other_variables_of_same_shapes_keeps_state():
    opt = optimizers.SGD(learning_rate=1.0, momentum=0.5)
    a, b = _vars([0.0]), _vars([0.0])
    opt.apply([np.array([1.0], np.float32)], a)
    opt.apply([np.array([1.0], np.float32)], b)  # momentum carried over: m = 0.5*-1 - 1
    np.testing.assert_allclose(b[0].value, [-1.5])
    np.testing.assert_allclose(a[0].value, [-1.0])
    with pytest.raises(ValueError, match="built for variables of shapes"):
        opt.apply([np.ones(2, np.float32)], _vars([0.0, 0.0]))
