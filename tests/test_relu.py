"""relu with Keras's negative_slope / max_value / threshold: the fused op vs its NumPy oracle on
every ISA level, float64 finite differences, argument errors, the ReLU layer and
`activations.relu`, and parity with real Keras (skipped when keras is not installed)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cnnext
import cnnext.ops as ops
import oracle_activations as O
from conftest import TOL, assert_close

pytestmark = pytest.mark.filterwarnings("error")

SIZES = [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 127, 1000, 300_007]
# (negative_slope, max_value, threshold): leaky, relu6, thresholded, all three, cap below threshold
PARAMS = [(0.2, None, 0.0), (0.0, 6.0, 0.0), (0.0, None, 0.5), (0.3, 1.5, 0.25),
          (0.1, 0.0, 0.0), (1.5, 0.5, 1.0), (0.0, 2.0, 0.75)]
IDS = ["leaky", "relu6", "thresh", "all", "cap0", "cap<thr", "cap+thr"]


def kw(p):
    return dict(negative_slope=p[0], max_value=p[1], threshold=p[2])


def extremes(dtype, n=41):
    tiny = np.finfo(dtype).smallest_subnormal
    vals = [1e4, -1e4, np.inf, -np.inf, np.nan, -0.0, 0.0, tiny, -tiny, 0.25, 0.5, 0.75, 1.0, 1.5,
            2.0, 6.0, -0.625, 3.0, -20.0, 1e-30]
    return np.resize(np.array(vals, dtype), n)


# ---- the op vs the oracle ---------------------------------------------------------------------
@pytest.mark.parametrize("p", PARAMS, ids=IDS)
@pytest.mark.parametrize("n", SIZES)
def test_forward_and_backward_match_oracle(isa, dtype, p, n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 4).astype(dtype)
    dy = rng.standard_normal(n).astype(dtype)
    assert_close(ops.relu(x, **kw(p)), O.relu_general(x, **kw(p)), dtype)
    assert_close(ops.relu_backward(dy, x, **kw(p)), O.relu_general_backward(dy, x, **kw(p)), dtype)


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 9), min_size=0, max_size=4),
       slope=st.sampled_from([0.0, 1e-3, 0.2, 1.0, 3.5]),
       cap=st.sampled_from([None, 0.0, 0.5, 6.0, 1e30]),
       thr=st.sampled_from([0.0, 0.3, 2.0]), f32=st.booleans(), seed=st.integers(0, 2**31))
def test_random_shapes_and_arguments(shape, slope, cap, thr, f32, seed):
    dtype = np.float32 if f32 else np.float64
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    args = dict(negative_slope=slope, max_value=cap, threshold=thr)
    assert_close(ops.relu(x, **args), O.relu_general(x, **args), dtype)
    assert_close(ops.relu_backward(dy, x, **args), O.relu_general_backward(dy, x, **args), dtype)


@pytest.mark.parametrize("p", PARAMS, ids=IDS)
def test_extreme_inputs_and_kinks(isa, dtype, p):
    """inf, NaN, signed zeros, subnormals, and x exactly at the threshold and the cap."""
    x = extremes(dtype)
    y = ops.relu(x, **kw(p))
    assert_close(y, O.relu_general(x, **kw(p)), dtype)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))  # NaN propagates, nothing else NaN
    dy = np.resize(np.array([1.0, -2.0, 0.5], dtype), x.size)
    dx = ops.relu_backward(dy, x, **kw(p))
    assert_close(dx, O.relu_general_backward(dy, x, **kw(p)), dtype)
    assert not np.isnan(dx).any()


def test_keras_documented_values():
    x = [-10, -5, 0.0, 5, 10]
    np.testing.assert_array_equal(ops.relu(x), [0, 0, 0, 5, 10])
    np.testing.assert_array_equal(ops.relu(x, negative_slope=0.5), [-5, -2.5, 0, 5, 10])
    np.testing.assert_array_equal(ops.relu(x, max_value=5.0), [0, 0, 0, 5, 5])
    np.testing.assert_array_equal(ops.relu(x, threshold=5.0), [0, 0, 0, 0, 10])
    # Keras's ReLU layer docstring: max_value=10, negative_slope=0.5
    np.testing.assert_array_equal(cnnext.layers.ReLU(10, 0.5)(np.array(x, np.float32)),
                                  [-5, -2.5, 0, 5, 10])


def test_defaults_take_the_plain_kernel_and_match_it():
    x = np.random.default_rng(1).standard_normal(1001)
    plain = ops.relu(x)
    np.testing.assert_array_equal(ops.relu(x, 0.0, None, 0.0), plain)
    np.testing.assert_array_equal(ops.relu(x, max_value=np.inf), plain)
    np.testing.assert_array_equal(cnnext._core.relu_general(x, 0.0, np.inf, 0.0, None), plain)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(cnnext._core.relu_general_backward(dy, x, 0.0, np.inf, 0.0),
                                  ops.relu_backward(dy, x))


def test_shapes_dtypes_out_and_no_aliasing(dtype):
    x = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(dtype)
    x0 = x.copy()
    out = np.empty_like(x)
    y = ops.relu(x, negative_slope=0.1, max_value=1.0, out=out)
    assert y is out and y.shape == x.shape and y.dtype == dtype
    assert_close(out, O.relu_general(x, 0.1, 1.0), dtype)
    np.testing.assert_array_equal(x, x0)
    assert ops.relu(np.arange(-3, 3), negative_slope=0.5).dtype == np.float64
    z = ops.relu(np.float32(-2.0), negative_slope=0.5)
    assert z.shape == () and z == -1.0
    fortran = np.asfortranarray(x)[:, ::2]
    assert_close(ops.relu(fortran, threshold=0.2), O.relu_general(fortran, threshold=0.2), dtype)
    with pytest.raises(TypeError, match="`out` must have dtype"):
        ops.relu(x, negative_slope=0.1, out=np.empty(x.shape, np.int32))
    with pytest.raises(ValueError, match="`out` must have shape"):
        ops.relu(x, max_value=1.0, out=np.empty((2,), dtype))


@pytest.mark.parametrize("p", PARAMS, ids=IDS)
def test_backward_finite_differences(p):
    """f(x) = sum(w * relu(x, ...)); its gradient is relu_backward(w, x, ...) (float64)."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-3, 8, (6, 7))
    kinks = [0.0, p[2]] + ([p[1]] if p[1] is not None else [])
    for k in kinks:  # keep every point 1e-3 away from a kink
        x[np.abs(x - k) < 1e-3] += 0.01
    w = rng.standard_normal(x.shape)
    grad = ops.relu_backward(w, x, **kw(p))
    num = O.numeric_grad(lambda v: np.sum(w * ops.relu(v, **kw(p))), x)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("args,exc,match", [
    (dict(negative_slope=-0.1), ValueError, r"`negative_slope` must be a finite non-negative "
                                            r"number. Received: negative_slope=-0.1"),
    (dict(negative_slope=np.inf), ValueError, "`negative_slope` must be a finite non-negative"),
    (dict(negative_slope=None), TypeError, "`negative_slope` must be a real number. Received: "
                                           "negative_slope=None"),
    (dict(max_value=-1.0), ValueError, r"`max_value` must be a non-negative number or None. "
                                       r"Received: max_value=-1.0"),
    (dict(max_value=np.nan), ValueError, "`max_value` must be a non-negative number or None"),
    (dict(max_value="6"), TypeError, "`max_value` must be a real number"),
    (dict(threshold=-0.5), ValueError, r"`threshold` must be a finite non-negative number. "
                                       r"Received: threshold=-0.5"),
    (dict(threshold=True), TypeError, "`threshold` must be a real number"),
])
def test_argument_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        ops.relu(np.ones(3), **args)
    with pytest.raises(exc, match=match):
        ops.relu_backward(np.ones(3), np.ones(3), **args)


def test_kernel_checks_its_contract():
    """The bindings reject what the Python layer rejects (NaN compares false)."""
    for bad in [(-1.0, np.inf, 0.0), (0.0, -1.0, 0.0), (0.0, np.inf, np.nan), (np.nan, 1.0, 0.0)]:
        with pytest.raises(ValueError, match="relu: "):
            cnnext._core.relu_general(np.ones(3), *bad, None)
    with pytest.raises(ValueError, match="dy shape"):
        cnnext._core.relu_general_backward(np.ones(3), np.ones(4), 0.1, 1.0, 0.0)
    with pytest.raises(ValueError, match="must have the same shape"):
        ops.relu_backward(np.ones(3), np.ones(4), negative_slope=0.1)


def test_thread_count_does_not_change_results():
    x = np.random.default_rng(3).standard_normal(600_001).astype(np.float32)
    try:
        cnnext.set_num_threads(1)
        one = ops.relu(x, 0.2, 1.0, 0.1), ops.relu_backward(x, x, 0.2, 1.0, 0.1)
        cnnext.set_num_threads(4)
        four = ops.relu(x, 0.2, 1.0, 0.1), ops.relu_backward(x, x, 0.2, 1.0, 0.1)
    finally:
        cnnext.set_num_threads(None)
    for a, b in zip(one, four):
        np.testing.assert_array_equal(a, b)


# ---- the layer and the activation ------------------------------------------------------------
@pytest.mark.parametrize("p", PARAMS, ids=IDS)
def test_layer_forward_backward(dtype, p):
    layer = cnnext.layers.ReLU(max_value=p[1], negative_slope=p[0], threshold=p[2],
                               dtype=np.dtype(dtype).name)
    rng = np.random.default_rng(4)
    x = rng.uniform(-3, 8, (2, 5, 3)).astype(dtype)
    dy = rng.standard_normal(x.shape).astype(dtype)
    y = layer.forward(x, training=True)
    assert_close(y, O.relu_general(x, **kw(p)), dtype)
    assert_close(layer.backward(dy), O.relu_general_backward(dy, x, **kw(p)), dtype)
    config = layer.get_config()
    assert (config["negative_slope"], config["max_value"], config["threshold"]) == p
    clone = cnnext.layers.ReLU.from_config(config)
    assert_close(clone(x), O.relu_general(x, **kw(p)), dtype)


@pytest.mark.parametrize("args,match", [
    (dict(max_value=-1.0), r"max_value of a ReLU layer cannot be a negative value. "
                           r"Received: max_value=-1.0"),
    (dict(negative_slope=-0.5), r"negative_slope of a ReLU layer cannot be None or a negative "
                                r"value. Received: negative_slope=-0.5"),
    (dict(negative_slope=None), "negative_slope of a ReLU layer cannot be None"),
    (dict(threshold=-1), r"threshold of a ReLU layer cannot be None or a negative value. "
                         r"Received: threshold=-1"),
])
def test_layer_errors(args, match):
    with pytest.raises(ValueError, match=match):
        cnnext.layers.ReLU(**args)


def test_activations_relu_takes_keras_arguments():
    x = np.linspace(-4, 9, 27)
    relu = cnnext.activations.get("relu")
    assert relu is cnnext.activations.relu
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0))
    np.testing.assert_array_equal(relu(x, negative_slope=0.1, max_value=6.0, threshold=0.5),
                                  O.relu_general(x, 0.1, 6.0, 0.5))
    np.testing.assert_array_equal(relu(x, 0.1, 6.0, 0.5), O.relu_general(x, 0.1, 6.0, 0.5))
    with pytest.raises(ValueError, match="`max_value` must be a non-negative number"):
        relu(x, max_value=-6)


# ---- real Keras -------------------------------------------------------------------------------
@pytest.mark.parametrize("p", PARAMS, ids=IDS)
def test_keras_parity(p):
    from keras_parity_models import import_keras
    keras = import_keras()
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 8, (4, 33)).astype(np.float32)
    for k in (0.0, p[2], p[1] or 0.0):  # no point on a kink, where the subgradients differ
        x[np.abs(x - k) < 1e-3] += 0.01
    w = rng.standard_normal(x.shape).astype(np.float32)
    k_layer = keras.layers.ReLU(max_value=p[1], negative_slope=p[0], threshold=p[2])
    c_layer = cnnext.layers.ReLU(max_value=p[1], negative_slope=p[0], threshold=p[2])
    np.testing.assert_allclose(c_layer(x), np.asarray(k_layer(x)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ops.relu(x, **kw(p)),
                               np.asarray(keras.activations.relu(x, **kw(p))), rtol=1e-6,
                               atol=1e-7)
    k_grad = jax.grad(lambda v: (w * k_layer(v)).sum())(x)
    np.testing.assert_allclose(ops.relu_backward(w, x, **kw(p)), np.asarray(k_grad),
                               rtol=1e-6, atol=1e-7)
    cfg = k_layer.get_config()
    assert {k: cfg[k] for k in ("max_value", "negative_slope", "threshold")} == {
        k: c_layer.get_config()[k] for k in ("max_value", "negative_slope", "threshold")}


# ---- relu6 / leaky_relu: relu with fixed arguments, usable as layer activations ---------------
FAMILY = {"relu6": dict(max_value=6.0), "leaky_relu": dict(negative_slope=0.2)}


@pytest.mark.parametrize("name", FAMILY)
def test_relu_family_activations(name):
    from test_layers import _check_grads
    act = cnnext.activations.get(name)
    assert act is getattr(cnnext.activations, name) and cnnext.activations.serialize(act) == name
    x = np.linspace(-9, 9, 37)
    np.testing.assert_array_equal(act(x), O.relu_general(x, **FAMILY[name]))
    rng = np.random.default_rng(8)
    for layer in (cnnext.layers.Dense(5, activation=name, dtype="float64",
                                      kernel_initializer=cnnext.initializers.RandomNormal(0, 3)),
                  cnnext.layers.Conv2D(3, 2, activation=name, dtype="float64",
                                       kernel_initializer=cnnext.initializers.RandomNormal(0, 3)),
                  cnnext.layers.Activation(name, dtype="float64")):
        shape = (3, 4) if isinstance(layer, cnnext.layers.Dense) else (2, 4, 4, 2)
        layer.build_output_shape((None,) + shape[1:])
        xi = rng.standard_normal(shape) * 3
        y = layer.forward(xi)
        assert (y >= 6).any() if name == "relu6" else (y < 0).any()  # both pieces are hit
        _check_grads(layer, xi)
        assert type(layer).from_config(layer.get_config()).get_config()["activation"] == name \
            if not isinstance(layer, cnnext.layers.Activation) else True


def test_relu_family_keras_parity():
    from keras_parity_models import import_keras
    keras = import_keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras's own, under NumPy 2
        _relu_family_keras_parity(keras)


def _relu_family_keras_parity(keras):
    models = []
    for lib in (keras, cnnext):
        lib.utils.clear_session()
        lib.utils.set_random_seed(0)
        models.append(lib.Sequential([
            lib.Input((6,)), lib.layers.Dense(8, activation="relu6"),
            lib.layers.Dense(8, activation="leaky_relu"), lib.layers.Activation("relu6"),
            lib.layers.ReLU(max_value=3.0, negative_slope=0.1, threshold=0.2),
            lib.layers.Dense(1, activation="sigmoid")]))
    k, c = models
    # hidden weights x4 to reach the caps; the output layer unscaled, so that no sigmoid output
    # lands next to the loss's clip at 1 - 1e-7, where the gradient jumps (a float rounding
    # there would decide between a gradient of ~1 and 0, in either library)
    weights = [np.asarray(w) for w in k.get_weights()]
    c.set_weights([w * 4 for w in weights[:-2]] + weights[-2:])
    k.set_weights(c.get_weights())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k(x)), rtol=1e-5, atol=1e-6)
    for m in (k, c):
        m.compile(loss="binary_crossentropy", optimizer="sgd")
    k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(c.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)
