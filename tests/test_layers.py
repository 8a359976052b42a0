"""Layers: forward vs NumPy oracles, backward vs float64 finite differences, configs, names,
weight shapes and Keras's shape errors."""
import numpy as np
import pytest

import cnnext
from cnnext import layers as L
from cnnext.models import Sequential


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---- NumPy oracles ---------------------------------------------------------------------------
def np_conv2d(x, k, b, strides, padding):
    n, h, w, c = x.shape
    kh, kw, _, f = k.shape
    sh, sw = strides
    if padding == "same":
        oh, ow = -(-h // sh), -(-w // sw)
        ph = max(0, (oh - 1) * sh + kh - h)
        pw = max(0, (ow - 1) * sw + kw - w)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    y = np.zeros((n, oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * oh:sh, j:j + sw * ow:sw, :]
            y += patch @ k[i, j]
    return y + (0 if b is None else b)


def np_maxpool(x, p, s):
    n, h, w, c = x.shape
    oh, ow = (h - p[0]) // s[0] + 1, (w - p[1]) // s[1] + 1
    y = np.full((n, oh, ow, c), -np.inf)
    for i in range(p[0]):
        for j in range(p[1]):
            y = np.maximum(y, x[:, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]])
    return y


def np_avgpool(x, p, s):
    n, h, w, c = x.shape
    oh, ow = (h - p[0]) // s[0] + 1, (w - p[1]) // s[1] + 1
    y = np.zeros((n, oh, ow, c))
    for i in range(p[0]):
        for j in range(p[1]):
            y += x[:, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]]
    return y / (p[0] * p[1])


ACTS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0),
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
        "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True))
        / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)}


# ---- forward ---------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("strides,padding", [((1, 1), "valid"), ((2, 2), "same"),
                                             ((1, 2), "same"), ((2, 1), "valid")])
def test_conv2d_forward_matches_numpy(act, strides, padding):
    x = _rng(1).standard_normal((2, 7, 6, 3)).astype(np.float32)
    layer = L.Conv2D(4, (3, 2), strides=strides, padding=padding, activation=act)
    y = layer(x)
    k, b = layer.get_weights()
    layer.set_weights([k, _rng(2).standard_normal(4).astype(np.float32)])
    y = layer(x)
    ref = ACTS[act](np_conv2d(x.astype(np.float64), k, layer.bias.numpy(), strides, padding))
    assert y.shape == ref.shape and y.dtype == np.float32
    assert y.shape[1:] == layer.compute_output_shape((None,) + x.shape[1:])[1:]
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_conv2d_groups_forward():
    x = _rng(3).standard_normal((1, 5, 5, 4)).astype(np.float32)
    layer = L.Conv2D(6, 3, groups=2)
    y = layer(x)
    k = layer.kernel.numpy()
    assert k.shape == (3, 3, 2, 6)
    ref = np.concatenate([np_conv2d(x[..., :2].astype(np.float64), k[..., :3], None, (1, 1),
                                    "valid"),
                          np_conv2d(x[..., 2:].astype(np.float64), k[..., 3:], None, (1, 1),
                                    "valid")], -1)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_forward_matches_numpy(act):
    x = _rng(4).standard_normal((5, 7)).astype(np.float32)
    layer = L.Dense(3, activation=act, bias_initializer="random_normal")
    y = layer(x)
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, ACTS[act](x.astype(np.float64) @ k + b), rtol=1e-4, atol=1e-5)
    x3 = _rng(5).standard_normal((2, 4, 7)).astype(np.float32)
    assert layer(x3).shape == (2, 4, 3)


def test_pooling_and_flatten_forward():
    x = _rng(6).standard_normal((2, 7, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(L.MaxPooling2D()(x), np_maxpool(x, (2, 2), (2, 2)), rtol=1e-6)
    np.testing.assert_allclose(L.MaxPooling2D((3, 2), strides=(1, 2))(x),
                               np_maxpool(x, (3, 2), (1, 2)), rtol=1e-6)
    np.testing.assert_allclose(L.AveragePooling2D((2, 3))(x), np_avgpool(x, (2, 3), (2, 3)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(L.GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(L.GlobalMaxPooling2D()(x), x.max(axis=(1, 2)))
    assert L.GlobalMaxPooling2D(keepdims=True)(x).shape == (2, 1, 1, 3)
    np.testing.assert_array_equal(L.Flatten()(x), x.reshape(2, -1))


def test_same_padding_pools_follow_keras():
    x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
    y = L.AveragePooling2D(2, padding="same")(x)
    assert y.shape == (1, 2, 2, 1)
    assert y[0, 0, 1, 0] == pytest.approx((x[0, 0, 2, 0] + x[0, 1, 2, 0]) / 2)
    m = L.MaxPooling2D(2, padding="same")(-x - 1)
    assert m[0, 1, 1, 0] == -9.0  # padded cells never win


def test_activation_layers_and_dropout():
    x = _rng(7).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(L.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_allclose(L.ReLU(max_value=0.5, negative_slope=0.1)(x),
                               np.minimum(np.where(x >= 0, x, 0.1 * x), 0.5), rtol=1e-6)
    np.testing.assert_allclose(L.Activation("tanh")(x), np.tanh(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(L.Softmax()(x), ACTS["softmax"](x.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)
    d = L.Dropout(0.5)
    np.testing.assert_array_equal(d(x), x)
    yt = d(x, training=True)
    kept = yt != 0
    np.testing.assert_allclose(yt[kept], 2 * x[kept], rtol=1e-6)
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(L.Dropout(1.0)(x, training=True), 0 * x)


def test_batch_normalization_forward():
    x = _rng(8).standard_normal((6, 3, 3, 4)).astype(np.float32) * 3 + 1
    bn = L.BatchNormalization()
    y = bn(x, training=True)
    ref = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * x.mean((0, 1, 2)), rtol=1e-4,
                               atol=1e-6)
    assert [w.shape for w in bn.weights] == [(4,)] * 4
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    y_inf = bn(x)
    np.testing.assert_allclose(y_inf, (x - bn.moving_mean.numpy()) /
                               np.sqrt(bn.moving_variance.numpy() + 1e-3), rtol=1e-4, atol=1e-4)


# ---- backward vs float64 finite differences ---------------------------------------------------
def _check_grads(layer, x, training=True, eps=1e-6, atol=1e-6):
    """Loss = sum(y * r): compare layer.backward with central differences in float64."""
    y = layer.forward(x, training)
    r = _rng(99).standard_normal(y.shape)
    dx = layer.backward(r.copy(), need_dx=True)
    grads = list(layer._grads)

    def loss():
        if isinstance(layer, L.Dropout):
            return float((x * layer._mask * r).sum())
        return float((layer.forward(x, training) * r).sum())

    num = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        lp = loss()
        x[i] = old - eps
        lm = loss()
        x[i] = old
        num[i] = (lp - lm) / (2 * eps)
    np.testing.assert_allclose(dx, num, rtol=1e-5, atol=atol)
    for var, g in zip(layer._trainable_vars, grads):
        numw = np.zeros_like(var.value)
        it = np.nditer(var.value, flags=["multi_index"])
        for _ in it:
            i = it.multi_index
            old = var.value[i]
            var.value[i] = old + eps
            lp = loss()
            var.value[i] = old - eps
            lm = loss()
            var.value[i] = old
            numw[i] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(g, numw, rtol=1e-5, atol=atol, err_msg=var.name)


def _f64(layer, shape):
    layer.build_output_shape((None,) + shape[1:])
    return _rng(11).standard_normal(shape)


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("strides,padding", [((1, 1), "valid"), ((2, 2), "same")])
def test_conv2d_backward(act, strides, padding):
    layer = L.Conv2D(3, (2, 3), strides=strides, padding=padding, activation=act,
                     dtype="float64", bias_initializer="random_normal")
    _check_grads(layer, _f64(layer, (2, 5, 6, 2)))


def test_conv2d_groups_backward():
    layer = L.Conv2D(4, 2, groups=2, dtype="float64")
    _check_grads(layer, _f64(layer, (1, 4, 4, 4)))


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh", "softmax"])
def test_dense_backward(act):
    layer = L.Dense(4, activation=act, dtype="float64", bias_initializer="random_normal")
    _check_grads(layer, _f64(layer, (3, 5)))


@pytest.mark.parametrize("make", [
    lambda: L.MaxPooling2D(), lambda: L.MaxPooling2D(3, strides=2, padding="same"),
    lambda: L.AveragePooling2D(2), lambda: L.AveragePooling2D(3, strides=2, padding="same"),
    lambda: L.GlobalAveragePooling2D(), lambda: L.GlobalMaxPooling2D(), lambda: L.Flatten(),
    lambda: L.Activation("sigmoid"), lambda: L.ReLU(), lambda: L.Softmax(),
    lambda: L.ReLU(max_value=0.8, negative_slope=0.2), lambda: L.Dropout(0.3),
    lambda: L.BatchNormalization(),
], ids=["max", "max_same", "avg", "avg_same", "gavg", "gmax", "flatten", "sigmoid", "relu",
        "softmax", "relu_params", "dropout", "batchnorm"])
def test_weightless_and_bn_backward(make):
    layer = make()
    layer.dtype = "float64"
    _check_grads(layer, _f64(layer, (2, 5, 4, 3)))


# ---- names, weights, configs -----------------------------------------------------------------
def test_auto_names_are_process_global_and_explicit_names_do_not_count():
    cnnext.utils.clear_session()
    assert L.Conv2D(1, 1).name == "conv2d"
    assert L.Conv2D(1, 1, name="myconv").name == "myconv"
    assert L.Conv2D(1, 1).name == "conv2d_1"
    assert [L.MaxPooling2D().name, L.ReLU().name, L.BatchNormalization().name,
            L.GlobalAveragePooling2D().name] == ["max_pooling2d", "re_lu", "batch_normalization",
                                                 "global_average_pooling2d"]
    assert Sequential().name == "sequential" and Sequential().name == "sequential_1"


def test_seed_model_weight_shapes():
    model = Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                        L.MaxPooling2D(), L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(),
                        L.Flatten(), L.Dense(128, activation="relu"),
                        L.Dense(1, activation="sigmoid")])
    assert [w.shape for w in model.get_weights()] == [
        (3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128), (128,), (128, 1), (1,)]
    assert model.count_params() == 223873
    assert model.weights[0].path.endswith("conv2d/kernel") or "kernel" in model.weights[0].path


def test_glorot_uniform_uses_conv_fans():
    cnnext.utils.set_random_seed(1)
    k = L.Conv2D(64, 3)
    k.build_output_shape((None, 8, 8, 32))
    limit = np.sqrt(6 / (9 * 32 + 9 * 64))
    w = k.kernel.numpy()
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.9 * limit
    assert np.all(k.bias.numpy() == 0)


@pytest.mark.parametrize("make", [
    lambda: L.Conv2D(8, (3, 2), strides=2, padding="same", activation="relu", use_bias=False),
    lambda: L.Dense(5, activation="tanh", kernel_initializer="he_normal"),
    lambda: L.MaxPooling2D((3, 3), strides=2), lambda: L.AveragePooling2D(2, padding="same"),
    lambda: L.GlobalMaxPooling2D(keepdims=True), lambda: L.Flatten(), lambda: L.Dropout(0.25),
    lambda: L.Activation("softmax"), lambda: L.ReLU(max_value=6.0), lambda: L.Softmax(axis=1),
    lambda: L.BatchNormalization(momentum=0.9), lambda: L.InputLayer(shape=(4, 4, 3)),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = L.deserialize(L.serialize(layer))
    assert type(again) is type(layer) and again.get_config() == config


def test_deserialize_refuses_unknown_classes():
    with pytest.raises(ValueError, match="Unknown layer: 'Lambda'"):
        L.deserialize({"class_name": "Lambda", "config": {}})


# ---- errors ----------------------------------------------------------------------------------
def test_shape_error_at_build_and_call():
    model = Sequential([L.Input((100,)), L.Dense(4)])
    dense = L.Dense(1, name="dense_x")
    dense.build_output_shape((None, 1600))
    with pytest.raises(ValueError, match=r'Input 0 of layer "dense_x" is incompatible with the '
                       r"layer: expected axis -1 of input shape to have value 1600, but received "
                       r"input with shape \(None, 100\)"):
        Sequential([L.Input((100,)), dense])
    with pytest.raises(ValueError, match=r"expected axis -1 of input shape to have value 100, "
                       r"but received input with shape \(2, 7\)"):
        model.predict(np.zeros((2, 7), np.float32), verbose=0)


@pytest.mark.parametrize("make,match", [
    (lambda: L.Conv2D(0, 3), "Expected a strictly positive value"),
    (lambda: L.Conv2D(4, 3, groups=3), "evenly divisible by the number of groups"),
    (lambda: L.Conv2D(4, (0, 3)), "cannot contain 0"),
    (lambda: L.Conv2D(4, 3, strides=2, dilation_rate=2), "not supported in conjunction"),
    (lambda: L.Conv2D(4, 3, padding="full"), "padding"),
    (lambda: L.Conv2D(4, 3, foo=1), "Unrecognized keyword arguments passed to Conv2D"),
    (lambda: L.Dense(0), "Received an invalid value for `units`"),
    (lambda: L.Dense(2, activation="gelu"), "not supported by cnnext"),
    (lambda: L.Dense(2, activation="nope"), "Could not interpret activation"),
    (lambda: L.Dropout(1.5), "Expected a float value between 0 and 1"),
    (lambda: L.ReLU(max_value=-1.0), "max_value of a ReLU layer cannot be a negative value"),
    (lambda: L.Dense(2, kernel_initializer="nope"), "Could not interpret initializer"),
])
def test_constructor_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_conv_output_size_error():
    with pytest.raises(ValueError, match="Computed output size would be zero or negative"):
        L.Conv2D(2, 5).build_output_shape((None, 3, 3, 1))


def test_set_weights_errors():
    layer = L.Dense(2)
    layer.build_output_shape((None, 3))
    with pytest.raises(ValueError, match="weight list of length 1, but the layer was expecting 2"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"weight shape \(3, 2\) is not compatible with provided "
                       r"weight shape \(2, 2\)"):
        layer.set_weights([np.zeros((2, 2)), np.zeros(2)])


def test_dense_on_3d_input_and_keepdims_global_pool_backward():
    layer = L.Dense(3, activation="tanh", dtype="float64")
    _check_grads(layer, _f64(layer, (2, 3, 4)))
    layer = L.GlobalAveragePooling2D(keepdims=True)
    layer.dtype = "float64"
    _check_grads(layer, _f64(layer, (2, 3, 3, 2)))


def test_training_calls_do_not_hand_out_reused_buffers():
    layer = L.Conv2D(2, 3)
    x = _rng(1).standard_normal((2, 5, 5, 1)).astype(np.float32)
    y1 = layer(x, training=True)
    keep = y1.copy()
    layer(2 * x, training=True)
    np.testing.assert_array_equal(y1, keep)
    model = Sequential([L.Input((5, 5, 1)), L.Conv2D(2, 3)])
    z1 = model(x, training=True)
    keep = z1.copy()
    model(2 * x, training=True)
    np.testing.assert_array_equal(z1, keep)


@pytest.mark.parametrize("name,check", [
    ("he_uniform", lambda w: np.abs(w).max() <= np.sqrt(6 / 200)),
    ("he_normal", lambda w: np.abs(w).max() <= 2 * np.sqrt(2 / 200) / 0.8796256610342398
     and 0.8 < w.std() / np.sqrt(2 / 200) < 1.2),
    ("glorot_normal", lambda w: np.abs(w).max() <= 2 * np.sqrt(2 / 300) / 0.8796256610342398),
    ("random_normal", lambda w: 0.04 < w.std() < 0.06),
    ("random_uniform", lambda w: np.abs(w).max() <= 0.05),
    ("zeros", lambda w: not w.any()), ("ones", lambda w: (w == 1).all()),
    ("LecunUniform", lambda w: np.abs(w).max() <= np.sqrt(3 / 200)),
])
def test_initializers(name, check):
    w = cnnext.initializers.get(name)((200, 100))
    assert w.dtype == np.float32 and w.shape == (200, 100) and check(w)


def test_seeded_initializer_repeats_and_global_seed_controls_the_rest():
    init = cnnext.initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(init((4, 4)), init((4, 4)))
    cnnext.utils.set_random_seed(5)
    a = cnnext.initializers.get("glorot_uniform")((4, 4))
    cnnext.utils.set_random_seed(5)
    np.testing.assert_array_equal(a, cnnext.initializers.get("glorot_uniform")((4, 4)))
    assert cnnext.initializers.compute_fans((3, 3, 32, 64)) == (288, 576)


def test_input_and_json_round_trip():
    x = L.Input((5,))
    assert x.shape == (None, 5)
    with pytest.raises(ValueError, match="You must pass a `shape` argument"):
        L.Input()
    model = Sequential([x, L.Dense(2, activation="softmax")])
    clone = cnnext.models.model_from_json(model.to_json())
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="nested"):
        Sequential([L.Input((2,)), model])
