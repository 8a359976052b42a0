"""cnnext.saving: `.keras` / `.weights.h5` round trips, the Keras 3 file layout, atomic writes, and
every kind of malformed or hostile file (each must give a clear ValueError and change nothing)."""
import io
import json
import os
import warnings
import zipfile

import h5py
import numpy as np
import pytest

import cnnext
from cnnext import saving

models = cnnext.models
layers = cnnext.layers

X = np.random.default_rng(0).random((6, 10, 10, 1), dtype=np.float32)
Y = np.array([0, 1, 1, 0, 1, 0], dtype=np.float32)


def make_model(compiled=True, fitted=True):
    m = models.Sequential([
        layers.Input((10, 10, 1)),
        layers.Conv2D(3, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(2, (2, 2), activation="relu"),
        layers.Flatten(),
        layers.Dense(4, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])
    if compiled:
        m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        if fitted:
            m.train_on_batch(X, Y)
            m.train_on_batch(X[::-1], Y[::-1])
    return m


def opt_values(m):
    return [np.array(v) for v in m.optimizer.variables]


@pytest.fixture
def saved(tmp_path):
    m = make_model()
    path = tmp_path / "model.keras"
    m.save(path) if hasattr(m, "save") else saving.save_model(m, path)
    return m, path


# --- round trips ------------------------------------------------------------------------------

def test_round_trip_predictions_weights_optimizer(saved):
    m, path = saved
    m2 = saving.load_model(path)
    assert type(m2) is type(m) and m2.name == m.name
    assert [l.name for l in m2.layers] == [l.name for l in m.layers]
    assert [type(l) for l in m2.layers] == [type(l) for l in m.layers]
    for a, b in zip(m.get_weights(), m2.get_weights()):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(m.predict(X, verbose=0), m2.predict(X, verbose=0))
    before = opt_values(m)
    assert len(before) == 2 + 2 * len(m.trainable_weights)
    for a, b in zip(before, opt_values(m2)):
        np.testing.assert_array_equal(a, b)
    # Same optimizer state => the next training step gives the same weights.
    m.train_on_batch(X, Y)
    m2.train_on_batch(X, Y)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert m2.get_compile_config()["loss"] == "binary_crossentropy"


def test_load_without_compile(saved):
    m, path = saved
    m2 = saving.load_model(path, compile=False)
    assert getattr(m2, "optimizer", None) is None
    np.testing.assert_array_equal(m.predict(X, verbose=0), m2.predict(X, verbose=0))


@pytest.mark.parametrize("compiled", [False, True])
def test_round_trip_unfitted(tmp_path, compiled):
    m = make_model(compiled=compiled, fitted=False)
    saving.save_model(m, tmp_path / "m.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unbuilt optimizer's state is skipped, as in Keras
        m2 = saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(m.predict(X, verbose=0), m2.predict(X, verbose=0))


def test_uncompiled_model_is_loaded_uncompiled(tmp_path):
    m = make_model(compiled=False)
    saving.save_model(m, tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert json.loads(zf.read("config.json"))["compile_config"] == {}  # as Keras writes it
    assert getattr(saving.load_model(tmp_path / "m.keras"), "optimizer", None) is None


def test_load_weights_needs_a_built_model(tmp_path, saved):
    _, path = saved
    unbuilt = models.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="must be built before loading weights"):
        saving.load_weights(unbuilt, path)


def test_weights_round_trip(tmp_path):
    m, fresh = make_model(), make_model()
    saving.save_weights(m, tmp_path / "w.weights.h5")
    assert any(not np.array_equal(a, b) for a, b in zip(m.get_weights(), fresh.get_weights()))
    saving.load_weights(fresh, tmp_path / "w.weights.h5")
    for a, b in zip(m.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(opt_values(m), opt_values(fresh)):
        np.testing.assert_array_equal(a, b)
    other = make_model()
    saving.save_model(m, tmp_path / "m.keras")
    saving.load_weights(other, tmp_path / "m.keras")  # weights straight from a .keras file
    np.testing.assert_array_equal(m.predict(X, verbose=0), other.predict(X, verbose=0))


# --- the Keras 3 layout -----------------------------------------------------------------------

def test_keras_file_layout(saved):
    m, path = saved
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["metadata.json", "config.json", "model.weights.h5"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos)
        meta = json.loads(zf.read("metadata.json"))
        config = json.loads(zf.read("config.json"))
        weights = zf.read("model.weights.h5")
    assert set(meta) == {"keras_version", "date_saved"} and meta["keras_version"].startswith("3.")
    assert config["module"] == "keras" and config["class_name"] == "Sequential"
    assert config["registered_name"] is None
    assert config["build_config"] == {"input_shape": [None, 10, 10, 1]}
    assert config["config"]["layers"][0]["class_name"] == "InputLayer"
    assert [l["class_name"] for l in config["config"]["layers"][1:]] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]
    assert config["compile_config"]["optimizer"]["class_name"] == "Adam"
    with h5py.File(io.BytesIO(weights), "r") as f:
        assert sorted(f) == ["layers", "optimizer", "vars"]
        assert sorted(f["layers"]) == ["conv2d", "conv2d_1", "dense", "dense_1", "flatten",
                                       "max_pooling2d"]
        assert f["layers/conv2d/vars"].attrs["name"] == m.layers[0].name
        assert f["layers/conv2d/vars/0"].shape == (3, 3, 1, 3)
        assert f["layers/conv2d/vars/1"].shape == (3,)
        assert f["layers/dense_1/vars/0"].shape == (4, 1)
        assert len(f["layers/flatten/vars"]) == 0
        assert f["vars"].attrs["name"] == m.name and len(f["vars"]) == 0
        ov = f["optimizer/vars"]
        assert len(ov) == 2 + 2 * 8 and ov["0"].shape == () and ov["0"].dtype.kind == "i"
        assert ov["0"][()] == 2  # two training steps
        assert ov["2"].shape == ov["3"].shape == (3, 3, 1, 3)  # m, v of the first kernel


def test_layer_keys_use_class_names_not_layer_names(tmp_path):
    m = models.Sequential([layers.Input((3,)), layers.Dense(2, name="first"),
                           layers.Dense(1, name="second")])
    saving.save_weights(m, tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "r") as f:
        assert sorted(f["layers"]) == ["dense", "dense_1"]
        assert f["layers/dense_1/vars"].attrs["name"] == "second"
        assert "optimizer" not in f


# --- paths, extensions, atomic writes ---------------------------------------------------------

@pytest.mark.parametrize("fn, name, match", [
    ("save_model", "m.h5", r"must end in `.keras` .*legacy HDF5"),
    ("save_model", "m.weights.h5", "must end in `.keras`"),
    ("save_model", "m", r"must end in `.keras`. Received: filepath=.*m"),
    ("save_weights", "m.h5", r"must end in `.weights.h5`"),
    ("save_weights", "m.keras", r"must end in `.weights.h5`"),
])
def test_save_extension_errors(tmp_path, fn, name, match):
    with pytest.raises(ValueError, match=match):
        getattr(saving, fn)(make_model(compiled=False), tmp_path / name)
    assert os.listdir(tmp_path) == []


def test_load_path_errors(tmp_path):
    with pytest.raises(ValueError, match="must end in `.keras`"):
        saving.load_model(tmp_path / "m.pkl")
    with pytest.raises(ValueError, match="File not found"):
        saving.load_model(tmp_path / "absent.keras")
    with pytest.raises(ValueError, match=r"must end in `.weights.h5` or `.keras`"):
        saving.load_weights(make_model(compiled=False), tmp_path / "w.h5")
    with pytest.raises(TypeError, match="`filepath` must be a str or os.PathLike"):
        saving.load_model(123)


def test_not_a_model(tmp_path):
    for fn, name in ((saving.save_model, "m.keras"), (saving.save_weights, "m.weights.h5"),
                     (saving.load_weights, "m.keras")):
        with pytest.raises(TypeError, match="`model` must be a cnnext model"):
            fn("model", tmp_path / name)


def test_overwrite_false(saved):
    m, path = saved
    with pytest.raises(FileExistsError, match="overwrite=False"):
        saving.save_model(m, path, overwrite=False)


def test_atomic_write_keeps_old_file_on_failure(saved, monkeypatch):
    m, path = saved
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(saving.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        saving.save_model(m, path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]  # the temp file was removed


def test_saved_file_permissions_follow_umask(saved):
    _, path = saved
    umask = os.umask(0)
    os.umask(umask)
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_serialization_writes_nothing(tmp_path, monkeypatch):
    m = make_model()

    def boom(model):
        raise RuntimeError("mid-save failure")

    monkeypatch.setattr(saving, "_weights_to_h5_bytes", boom)
    with pytest.raises(RuntimeError):
        saving.save_model(m, tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []


# --- hostile and malformed files --------------------------------------------------------------

class Trap:
    """Unpickling this creates a marker file: proof that something was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(path, "w", compression=compression) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return path


def edit_config(path, out, fn):
    members = members_of(path)
    config = json.loads(dict(members)["config.json"])
    fn(config)
    return write_zip(out, [(n, json.dumps(config).encode() if n == "config.json" else d)
                           for n, d in members])


def edit_weights(path, out, fn):
    members = dict(members_of(path))
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "r+") as f:
        fn(f)
    members["model.weights.h5"] = buf.getvalue()
    return write_zip(out, list(members.items()))


def test_asset_folders_are_ignored(tmp_path, saved):
    m, good = saved
    path = write_zip(tmp_path / "a.keras", members_of(good) + [("assets/", b""),
                                                              ("assets/vocab.txt", b"a\nb")])
    np.testing.assert_array_equal(saving.load_model(path).predict(X, verbose=0),
                                  m.predict(X, verbose=0))


def test_duplicate_and_missing_members(tmp_path, saved):
    _, good = saved
    members = members_of(good)
    dup = write_zip(tmp_path / "dup.keras", members + [("config.json", b"{}")])
    with pytest.raises(ValueError, match="duplicate archive member 'config.json'"):
        saving.load_model(dup)
    missing = write_zip(tmp_path / "missing.keras", members[:2])
    with pytest.raises(ValueError, match=r"missing archive member\(s\) \['model.weights.h5'\]"):
        saving.load_model(missing)


def test_zip_bomb_is_refused(tmp_path, saved, monkeypatch):
    _, good = saved
    bomb = [(n, d + b" " * (8 << 20) if n == "config.json" else d) for n, d in members_of(good)]
    path = write_zip(tmp_path / "bomb.keras", bomb, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    monkeypatch.setattr(saving._archive, "MAX_JSON_BYTES", 4 << 20)
    with pytest.raises(ValueError, match="possible zip bomb"):
        saving.load_model(path)


def _set_layer(i, **kv):
    def fn(config):
        config["config"]["layers"][i].update(kv)
    return fn


def _set_init(config):
    config["config"]["layers"][1]["config"]["kernel_initializer"] = {
        "module": "keras.initializers", "class_name": "Evil", "config": {}}


@pytest.mark.parametrize("edit, match", [
    (_set_layer(1, class_name="Lambda"), "deserializing Python code"),
    (_set_layer(1, class_name="__lambda__"), "deserializing Python code"),
    (_set_layer(1, class_name="system", module="os"), r"unknown class 'system' \(module 'os'\)"),
    (_set_layer(1, class_name="MyLayer"), "unknown class 'MyLayer'"),
    (_set_layer(1, module="builtins"), r"unknown class 'Conv2D' \(module 'builtins'\)"),
    (_set_layer(1, module="keras.src.layersX.conv"), "unknown class 'Conv2D'"),
    (_set_layer(1, class_name="Adam", module="keras.optimizers"), r"layers\[1\] is not a serial"),
    (_set_layer(1, class_name=["Dense"]), "`class_name` must be a string"),
    (_set_init, "unknown class 'Evil'"),
    (lambda c: c.update(class_name="Functional"), "unknown class 'Functional'"),
    (lambda c: c.update(class_name="Dense", module="keras.layers"), "Sequential models only"),
    (lambda c: c["compile_config"].update(loss={"module": "builtins", "class_name": "function",
                                                "config": "eval"}), "not a known Keras function"),
    (lambda c: c["config"].pop("layers"), "needs a list `layers`"),
    (lambda c: c.pop("config"), "must be a serialized model object"),
])
def test_config_allowlist(tmp_path, saved, edit, match):
    _, good = saved
    with pytest.raises(ValueError, match=match):
        saving.load_model(edit_config(good, tmp_path / "bad.keras", edit))
    with pytest.raises(ValueError, match=match):
        saving.load_model(edit_config(good, tmp_path / "bad.keras", edit), safe_mode=False)


@pytest.mark.parametrize("text, match", [
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"a": NaN}', "non-standard JSON constant"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    (b'{"class_name": "Sequential", "config": ' + b"[" * 980 + b"]" * 980 + b"}",
     "(nested too deeply|not valid JSON)"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_bad_json(tmp_path, saved, text, match):
    _, good = saved
    path = write_zip(tmp_path / "j.keras", [(n, text if n == "config.json" else d)
                                            for n, d in members_of(good)])
    with pytest.raises(ValueError, match=match):
        saving.load_model(path)


def _replace(path, data):
    def fn(f):
        del f[path]
        f[path] = data
    return fn


def _shape_bomb(f):
    del f["layers/dense/vars/0"]  # 4 TiB declared, a few bytes stored: must never be read
    f.create_dataset("layers/dense/vars/0", shape=(1 << 40,), dtype="f4", chunks=(1 << 16,),
                     compression="gzip")


def _external(f):
    del f["layers/dense/vars/1"]
    f.create_dataset("layers/dense/vars/1", shape=(4,), dtype="f4",
                     external=[("/etc/hostname", 0, 16)])


@pytest.mark.parametrize("edit, match", [
    (_replace("layers/dense/vars/0", np.zeros((5, 4), "f4")), r"shape \(5, 4\) in the file"),
    (lambda f: _replace("layers/dense/vars/0", np.zeros(f["layers/dense/vars/0"].shape, "i4"))(f),
     r"dtype int32 in the file, but the model expects float32"),
    (_replace("layers/dense/vars/1", np.array(["abcd"] * 4, dtype="S4")), "only numeric arrays"),
    (_replace("layers/dense/vars/1", np.array([b"x"], dtype=h5py.string_dtype())),
     "only numeric arrays"),
    (lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(3, "f4")),
     "expected 2 variables, but the file has 3"),
    (lambda f: f.__delitem__("layers/dense/vars/1"), "expected 2 variables, but the file has 1"),
    (lambda f: f.move("layers/dense/vars/1", "layers/dense/vars/x"), "datasets named 0..1"),
    (lambda f: f.__delitem__("layers/dense"), r"\(dense\) is missing from the weights file"),
    (lambda f: f.create_group("layers/dense_7/vars"), r"layers \['dense_7'\] that the model lacks"),
    (lambda f: f.__delitem__("layers"), "no `layers` group"),
    (_external, "outside the file"),
    (_shape_bomb, r"shape \(1099511627776,\) in the file"),
    (lambda f: (f.__delitem__("layers/dense/vars/1"),
                f.__setitem__("layers/dense/vars/1", h5py.SoftLink("/layers/dense/vars/0"))),
     "SoftLink"),
    (lambda f: (f.__delitem__("layers/dense/vars/1"),
                f.__setitem__("layers/dense/vars/1", h5py.ExternalLink("/etc/x.h5", "/a"))),
     "ExternalLink"),
    (lambda f: f.__delitem__("layers/dense/vars") or f.create_dataset("layers/dense/vars",
                                                                     data=np.zeros(2)),
     "must be a Group"),
    (_replace("optimizer/vars/5", np.zeros((9,), "f4")), r"Optimizer: variable 5 has shape"),
])
def test_bad_weights_change_nothing(tmp_path, saved, edit, match):
    m, good = saved
    bad = edit_weights(good, tmp_path / "bad.keras", edit)
    with pytest.raises(ValueError, match=match):
        saving.load_model(bad)
    # load_weights validates everything before it changes anything.
    target = make_model()
    before, opt_before = target.get_weights(), opt_values(target)
    with pytest.raises(ValueError, match=match):
        saving.load_weights(target, bad)
    for a, b in zip(before + opt_before, target.get_weights() + opt_values(target)):
        np.testing.assert_array_equal(a, b)


def test_skip_mismatch_loads_the_rest(tmp_path, saved):
    m, good = saved
    bad = edit_weights(good, tmp_path / "bad.keras",
                       _replace("layers/dense/vars/0", np.zeros((5, 4), "f4")))
    target = make_model()
    old_dense = target.layers[4].get_weights()
    with pytest.warns(UserWarning, match="Skipping loading weights for layer"):
        saving.load_weights(target, bad, skip_mismatch=True)
    np.testing.assert_array_equal(target.layers[0].get_weights()[0], m.layers[0].get_weights()[0])
    np.testing.assert_array_equal(target.layers[4].get_weights()[0], old_dense[0])


def test_optimizer_count_mismatch_warns_like_keras(tmp_path, saved):
    m, good = saved
    bad = edit_weights(good, tmp_path / "bad.keras",
                       lambda f: f.create_dataset("optimizer/vars/18", data=np.zeros(1, "f4")))
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        m2 = saving.load_model(bad)
    np.testing.assert_array_equal(m.predict(X, verbose=0), m2.predict(X, verbose=0))


def test_weights_into_wrong_architecture(tmp_path, saved):
    m, good = saved
    other = models.Sequential([layers.Input((10, 10, 1)), layers.Flatten(), layers.Dense(1)])
    with pytest.raises(ValueError, match="model lacks"):
        saving.load_weights(other, good)


@pytest.mark.parametrize("where", ["conv2d", "dense", "compile", "model"])
def test_odd_config_values_never_crash(tmp_path, saved, where):
    """Any JSON value in any config field: either a model or a ValueError, nothing else."""
    _, good = saved
    members = members_of(good)
    base = json.loads(dict(members)["config.json"])
    targets = {"conv2d": lambda c: c["config"]["layers"][1]["config"],
               "dense": lambda c: c["config"]["layers"][6]["config"],
               "compile": lambda c: c["compile_config"], "model": lambda c: c["config"]}
    values = [None, "x", -1, 0, 2.5, [], {}, [1, 2, 3], {"class_name": "Zeros", "config": {}}]
    for key in list(targets[where](base)) + ["unknown_key"]:
        for value in values:
            config = json.loads(json.dumps(base))
            targets[where](config)[key] = value
            path = write_zip(tmp_path / "odd.keras", [
                (n, json.dumps(config).encode() if n == "config.json" else d)
                for n, d in members])
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    saving.load_model(path)
            except ValueError:
                pass


def test_keras_initializer_axes(tmp_path, saved):
    """Keras 3.15 writes `input_axes`/`output_axes` (null by default) into GlorotUniform's
    config; non-null axes set the fans (the saved weights are loaded over them anyway)."""
    m, good = saved

    def axes(value):
        def fn(config):
            init = config["config"]["layers"][1]["config"]["kernel_initializer"]
            init["config"].update(input_axes=value, output_axes=value)
        return fn

    for i, value in enumerate([None, [0], [0, -1]]):
        loaded = saving.load_model(edit_config(good, tmp_path / f"{i}.keras", axes(value)))
        np.testing.assert_array_equal(loaded.predict(X, verbose=0), m.predict(X, verbose=0))
        init = loaded.layers[0].kernel_initializer.get_config()
        assert init["input_axes"] == init["output_axes"] == value
    with pytest.raises(ValueError, match="`input_axes` must be None or a list of integer axes"):
        saving.load_model(edit_config(good, tmp_path / "b.keras", axes("0")))
    with pytest.raises(ValueError, match=r"`input_axes` \[7\] is out of range"):
        saving.load_model(edit_config(good, tmp_path / "c.keras", axes([7])))
