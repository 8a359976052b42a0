"""User classes through serialization, as Keras does it: `layers.serialize/deserialize` and
`initializers.serialize/deserialize/get` with `custom_objects`, a custom Layer subclass through
get_config/from_config and `.keras` save/load, and Keras 3.15's initializer `input_axes` /
`output_axes` (the last part against real Keras, skipped when keras is not installed)."""
import json
import math
import zipfile

import numpy as np
import pytest

import cnnext
from cnnext import initializers, layers


class HalfInit(initializers.Initializer):
    """Every weight = `value` (a user initializer class)."""

    def __init__(self, value=0.5):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype or "float32")

    def get_config(self):
        return {"value": self.value}


def ones_init(shape, dtype=None):
    """A plain-function initializer."""
    return np.ones(shape, dtype or "float32")


class Scale(layers.Layer):
    """y = x * w, one trainable weight per channel (a user layer with its own backward)."""

    def __init__(self, initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.initializer = initializers.get(initializer)

    def build(self, input_shape):
        self.w = self.add_weight("w", (input_shape[-1],), self.initializer)

    def forward(self, x, training=False):
        if training:
            self._x = x
        return x * self.w.value

    def backward(self, dy, need_dx=True):
        x, self._x = self._x, None
        self._grads = [(dy * x).reshape(-1, x.shape[-1]).sum(axis=0)]
        return dy * self.w.value if need_dx else None

    def get_config(self):
        return {**super().get_config(),
                "initializer": initializers.serialize(self.initializer)}


CUSTOM = {"Scale": Scale, "HalfInit": HalfInit, "ones_init": ones_init}


# ---- layers.serialize / deserialize -----------------------------------------------------------
def test_custom_layer_serialized_as_keras_writes_it():
    cnnext.utils.clear_session()
    cfg = layers.serialize(Scale(HalfInit(0.25)))
    assert cfg == {"module": __name__, "class_name": "Scale", "registered_name": "Scale",
                   "config": {"name": "scale", "trainable": True, "dtype": {
                       "module": "keras", "class_name": "DTypePolicy",
                       "config": {"name": "float32"}, "registered_name": None},
                       "initializer": {"module": __name__, "class_name": "HalfInit",
                                       "config": {"value": 0.25},
                                       "registered_name": "HalfInit"}}}
    dense = layers.serialize(layers.Dense(2))
    assert dense["module"] == "keras.layers" and dense["registered_name"] is None


def test_custom_layer_round_trip_with_custom_objects():
    layer = Scale(HalfInit(0.25), name="s")
    layer.build_output_shape((None, 3))
    cfg = layers.serialize(layer)
    with pytest.raises(ValueError, match=r"Unknown layer: 'Scale'.*`custom_objects`"):
        layers.deserialize(cfg)
    with pytest.raises(ValueError, match="Could not interpret initializer"):
        layers.deserialize(cfg, custom_objects={"Scale": Scale})  # the nested HalfInit
    clone = layers.deserialize(cfg, custom_objects={"Scale": Scale, "HalfInit": HalfInit})
    assert type(clone) is Scale and type(clone.initializer) is HalfInit
    assert clone.built and clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone.w.value, [0.25] * 3)
    # looked up by registered_name first (Keras's `package>name`), then by class_name
    registered = dict(cfg, registered_name="pkg>Scale")
    assert type(layers.deserialize(registered, {"pkg>Scale": Scale, "HalfInit": HalfInit})) \
        is Scale
    # get_config / from_config directly (built-in initializer: nothing custom nested)
    plain = Scale(initializers.HeUniform(seed=4), name="t")
    assert Scale.from_config(plain.get_config()).get_config() == plain.get_config()


def test_custom_objects_take_precedence_and_errors():
    class MyDense(layers.Dense):
        pass

    cfg = layers.serialize(layers.Dense(3))
    assert type(layers.deserialize(cfg)) is layers.Dense
    assert type(layers.deserialize(cfg, custom_objects={"Dense": MyDense})) is MyDense
    with pytest.raises(TypeError, match="`custom_objects` must be a dict"):
        layers.deserialize(cfg, custom_objects=[MyDense])
    with pytest.raises(ValueError, match="not a `cnnext.layers.Layer`"):
        layers.deserialize({"class_name": "HalfInit", "config": {}}, {"HalfInit": HalfInit})
    with pytest.raises(ValueError, match="its 'config' must be a dict"):
        layers.deserialize({"class_name": "Dense", "config": [1]})


# ---- initializers -----------------------------------------------------------------------------
def test_initializer_serialize_deserialize_get():
    cfg = initializers.serialize(HalfInit(2.0))
    assert cfg == {"module": __name__, "class_name": "HalfInit", "config": {"value": 2.0},
                   "registered_name": "HalfInit"}
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.deserialize(cfg)
    init = initializers.deserialize(cfg, custom_objects={"HalfInit": HalfInit})
    assert type(init) is HalfInit and init.value == 2.0
    assert type(initializers.get(HalfInit)) is HalfInit  # a class: a default instance
    assert type(initializers.get(initializers.HeNormal)) is initializers.HeNormal
    assert initializers.get(ones_init) is ones_init  # a function: itself, as in Keras
    fn_cfg = initializers.serialize(ones_init)
    assert fn_cfg == {"module": "builtins", "class_name": "function", "config": "ones_init",
                      "registered_name": "function"}
    assert initializers.deserialize(fn_cfg, {"ones_init": ones_init}) is ones_init
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: "
                                         "'HalfInit'$"):
        initializers.get("HalfInit")
    with cnnext.utils.custom_object_scope({"HalfInit": HalfInit}):
        assert type(initializers.get("HalfInit")) is HalfInit  # a name in scope, as in Keras
    builtin = initializers.serialize(initializers.GlorotUniform(seed=3))
    assert builtin == {"module": "keras.initializers", "class_name": "GlorotUniform",
                       "config": {"seed": 3, "input_axes": None, "output_axes": None},
                       "registered_name": None}
    assert initializers.deserialize(builtin).get_config() == builtin["config"]


def test_nested_custom_initializer_in_a_builtin_layer():
    dense = layers.Dense(2, kernel_initializer=HalfInit(0.125), bias_initializer=ones_init)
    cfg = layers.serialize(dense)
    clone = layers.deserialize(cfg, custom_objects=CUSTOM)
    clone.build_output_shape((None, 3))
    np.testing.assert_array_equal(clone.kernel.value, np.full((3, 2), 0.125))
    np.testing.assert_array_equal(clone.bias.value, np.ones(2))


# ---- models: get_config / from_config, to_json, .keras files ------------------------------------
def _model():
    cnnext.utils.clear_session()
    cnnext.utils.set_random_seed(0)
    return cnnext.Sequential([
        layers.Input((5,)), Scale(HalfInit(0.5)),
        layers.Dense(4, activation="relu", kernel_initializer=HalfInit(0.1)),
        Scale(), layers.Dense(1, activation="sigmoid", bias_initializer=ones_init)])


def test_model_with_custom_layer_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    m = _model()
    m.compile(loss="binary_crossentropy", optimizer="adam")
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert not np.allclose(m.layers[0].w.value, 0.5)  # the custom layer's weight was trained
    path = tmp_path / "custom.keras"
    m.save(path)
    with zipfile.ZipFile(path) as zf:
        layer0 = json.loads(zf.read("config.json"))["config"]["layers"][1]
    assert (layer0["class_name"], layer0["registered_name"]) == ("Scale", "Scale")
    with pytest.raises(ValueError, match="unknown class 'Scale'.*custom_objects"):
        cnnext.models.load_model(path)
    loaded = cnnext.models.load_model(path, custom_objects=CUSTOM)
    assert [type(l) for l in loaded.layers] == [type(l) for l in m.layers]
    assert loaded.get_config() == m.get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))
    # the optimizer state came along: one more step is the same on both
    loaded.train_on_batch(x[:8], y[:8])
    m.train_on_batch(x[:8], y[:8])
    for a, b in zip(loaded.get_weights(), m.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_model_from_config_and_json_with_custom_objects():
    m = _model()
    m.build((None, 5))
    clone = cnnext.Sequential.from_config(m.get_config(), custom_objects=CUSTOM)
    assert clone.get_config() == m.get_config()
    clone = cnnext.models.model_from_json(m.to_json(), custom_objects=CUSTOM)
    assert [type(l) for l in clone.layers] == [type(l) for l in m.layers]
    with pytest.raises(ValueError, match="Unknown layer: 'Scale'"):
        cnnext.Sequential.from_config(m.get_config())


# ---- Keras 3.15 VarianceScaling input_axes / output_axes -----------------------------------------
@pytest.mark.parametrize("shape,axes,fans", [
    ((3, 3, 2, 8), None, (18, 72)),
    ((3, 3, 2, 8), ([0, 1, 2], [3]), (18, 8)),
    ((4, 6, 5), ([0], [1, 2]), (4, 30)),
    ((4, 6, 5), ([-3], [-1]), (4, 5)),
    ((4, 6), ([0], None), (4, 6)),  # Keras uses the axes only when both are given
])
def test_compute_fans_with_axes(shape, axes, fans):
    assert initializers.compute_fans(shape, *(axes or ())) == fans


def test_axes_set_the_fans_of_every_variance_scaling_initializer():
    shape = (4, 8, 50)  # default rule: fan_in 4*8=32... with axes: fan_in 4, fan_out 50
    init = initializers.VarianceScaling(3.0, "fan_in", "uniform", seed=1, input_axes=[0],
                                        output_axes=[2])
    w = init(shape)
    assert w.shape == shape and w.dtype == np.float32
    limit = math.sqrt(3.0 * 3.0 / 4)
    assert limit * 0.99 < np.abs(w).max() <= limit
    g = initializers.GlorotUniform(seed=1, input_axes=[0, 1], output_axes=[2])(shape)
    assert np.abs(g).max() == pytest.approx(math.sqrt(6.0 / (32 + 50)), rel=0.01)
    he = initializers.HeNormal(seed=2, input_axes=[1], output_axes=[2])
    assert he.get_config() == {"seed": 2, "input_axes": [1], "output_axes": [2]}
    assert np.std(he((400, 8, 50))) == pytest.approx(math.sqrt(2.0 / 8), rel=0.03)
    vs = initializers.VarianceScaling(input_axes=(0,), output_axes=[1])
    assert vs.get_config()["input_axes"] == [0]
    assert type(initializers.deserialize(initializers.serialize(vs))) is \
        initializers.VarianceScaling


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_axes="0", output_axes=[1]), r"`input_axes` must be None or a list of integer "
                                            r"axes. Received: input_axes='0'"),
    (dict(input_axes=[0], output_axes=[1.0]), "`output_axes` must be None or a list of integer"),
    (dict(input_axes=[True], output_axes=[1]), "`input_axes` must be None or a list"),
])
def test_axes_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        initializers.GlorotUniform(**kwargs)
    with pytest.raises(ValueError, match=r"`output_axes` \[5\] is out of range for a weight of "
                                         r"shape \(2, 3\)"):
        initializers.GlorotUniform(input_axes=[0], output_axes=[5])((2, 3))


def test_keras_saved_axes_load_in_cnnext(tmp_path):
    from keras_parity_models import import_keras
    keras = import_keras()
    keras.utils.clear_session()
    keras.utils.set_random_seed(0)
    k_inits = [keras.initializers.GlorotUniform(seed=1, input_axes=[0, 1, 2], output_axes=[3]),
               keras.initializers.HeNormal(input_axes=[0], output_axes=[1]),
               keras.initializers.VarianceScaling(0.5, "fan_out", "untruncated_normal",
                                                  input_axes=[1], output_axes=[0]),
               keras.initializers.LecunUniform()]
    km = keras.Sequential([
        keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, kernel_initializer=k_inits[0]),
        keras.layers.Flatten(), keras.layers.Dense(4, kernel_initializer=k_inits[1]),
        keras.layers.Dense(2, kernel_initializer=k_inits[2]),
        keras.layers.Dense(1, kernel_initializer=k_inits[3])])
    path = tmp_path / "axes.keras"
    km.save(path)
    cm = cnnext.models.load_model(path)
    x = np.random.default_rng(0).random((3, 6, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(cm.predict(x, verbose=0), np.asarray(km(x)), rtol=1e-5,
                               atol=1e-6)
    c_layers = [l for l in cm.layers if hasattr(l, "kernel_initializer")]
    assert len(c_layers) == len(k_inits)
    for c_layer, k_init in zip(c_layers, k_inits):
        assert c_layer.kernel_initializer.get_config() == k_init.get_config()
        shape = c_layer.kernel.shape
        assert initializers.compute_fans(shape, k_init.input_axes, k_init.output_axes) == \
            keras.src.initializers.random_initializers.compute_fans(
                shape, k_init.input_axes, k_init.output_axes)
    # and back: cnnext's file loads in Keras with the same initializer configs
    back = tmp_path / "back.keras"
    cm.save(back)
    km2 = keras.models.load_model(back)
    for k_layer, k_init in zip([l for l in km2.layers if hasattr(l, "kernel_initializer")],
                               k_inits):
        assert k_layer.kernel_initializer.get_config() == k_init.get_config()
    np.testing.assert_allclose(np.asarray(km2(x)), np.asarray(km(x)), rtol=1e-6)


# ---- register_keras_serializable / custom_object_scope -------------------------------------------
@cnnext.saving.register_keras_serializable(package="kgaps")
class Shift(layers.Layer):
    """y = x + offset (registered: files name it `kgaps>Shift`)."""

    def __init__(self, offset=1.0, **kwargs):
        super().__init__(**kwargs)
        self.offset = offset

    def forward(self, x, training=False):
        return x + np.asarray(self.offset, x.dtype)

    def backward(self, dy, need_dx=True):
        self._grads = []
        return dy if need_dx else None

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


@cnnext.utils.register_keras_serializable(package="kgaps", name="twos")
def twos_init(shape, dtype=None):
    return np.full(shape, 2.0, dtype or "float32")


def test_registered_classes_load_without_custom_objects(tmp_path):
    assert cnnext.saving.get_registered_name(Shift) == "kgaps>Shift"
    assert cnnext.saving.get_registered_object("kgaps>Shift") is Shift
    assert cnnext.saving.get_custom_objects()["kgaps>twos"] is twos_init
    assert cnnext.utils.get_registered_name(Scale) == "Scale"  # not registered
    cfg = layers.serialize(Shift(2.5))
    assert (cfg["class_name"], cfg["registered_name"]) == ("Shift", "kgaps>Shift")
    assert type(layers.deserialize(cfg)) is Shift
    assert initializers.serialize(twos_init)["config"] == "kgaps>twos"
    cnnext.utils.clear_session()
    m = cnnext.Sequential([layers.Input((3,)), Shift(0.5),
                           layers.Dense(2, kernel_initializer=twos_init)])
    path = tmp_path / "registered.keras"
    m.save(path)
    loaded = cnnext.saving.load_model(path)
    assert [type(l) for l in loaded.layers] == [Shift, layers.Dense]
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), np.full((2, 2), 9.0))
    with pytest.raises(ValueError, match="Cannot register a class that does not have a "
                                         "get_config"):
        cnnext.saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_custom_object_scope(tmp_path):
    m = _model()
    m.build((None, 5))
    path = tmp_path / "scoped.keras"
    m.save(path)
    with cnnext.utils.custom_object_scope({"Scale": Scale, "HalfInit": HalfInit}):
        with cnnext.saving.CustomObjectScope({"ones_init": ones_init}):  # nested scopes merge
            loaded = cnnext.saving.load_model(path)
        assert type(layers.deserialize(layers.serialize(Scale()))) is Scale
    assert loaded.get_config() == m.get_config()
    with pytest.raises(ValueError, match="unknown class 'Scale'"):
        cnnext.saving.load_model(path)  # the scope ended
    with pytest.raises(TypeError, match="`custom_objects` must be a dict"):
        cnnext.utils.custom_object_scope([Scale])


def _keras_shift(keras):
    @keras.saving.register_keras_serializable(package="kgaps")
    class Shift(keras.layers.Layer):  # same class name: the weights file keys layers by it
        def __init__(self, offset=1.0, **kwargs):
            super().__init__(**kwargs)
            self.offset = offset

        def call(self, x):
            return x + self.offset

        def get_config(self):
            return {**super().get_config(), "offset": self.offset}

    return Shift


def test_keras_file_with_a_registered_custom_layer(tmp_path):
    """Keras writes `registered_name: "kgaps>Shift"`; cnnext's class registered under the same
    name rebuilds it, and back."""
    from keras_parity_models import import_keras
    keras = import_keras()

    KShift = _keras_shift(keras)
    keras.utils.clear_session()
    km = keras.Sequential([keras.Input((3,)), KShift(0.25), keras.layers.Dense(2)])
    path = tmp_path / "k.keras"
    km.save(path)
    cm = cnnext.saving.load_model(path)
    assert type(cm.layers[0]) is Shift and cm.layers[0].offset == 0.25
    x = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    np.testing.assert_allclose(cm.predict(x, verbose=0), np.asarray(km(x)), rtol=1e-6)
    back = tmp_path / "c.keras"
    cm.save(back)
    assert type(keras.models.load_model(back).layers[0]) is KShift
