"""Hostile files: every loader (`load_model`, `load_weights`, `Model.load_weights`,
`model_from_json`) on pickles, path-traversing and bomb zips, configs naming code, malformed HDF5
and truncated files. Each must raise a ValueError naming the problem, write nothing, run no code
(payloads whose execution would create a sentinel file prove it) and leave the target model as
it was. Helpers (`make_model`, `members_of`, `write_zip`, `edit_config`, `edit_weights`) and the
pickle `Trap` are shared with test_saving.py."""
import base64
import contextlib
import io
import json
import marshal
import os
import pickle
import struct
import zipfile

import h5py
import numpy as np
import pytest

import cnnext
from cnnext import models, saving
from test_saving import X, Trap, edit_config, edit_weights, make_model, members_of, write_zip


@pytest.fixture
def good(tmp_path):
    m = make_model()
    path = tmp_path / "good.keras"
    m.save(path)
    m.save_weights(tmp_path / "good.weights.h5")
    return m, path


def _tree(root):
    return sorted((os.path.relpath(os.path.join(d, f), root), os.path.getsize(os.path.join(d, f)))
                  for d, _, files in os.walk(root) for f in files)


@contextlib.contextmanager
def no_side_effects(tmp_path, *models_):
    """No file appears, changes or disappears under tmp_path or next to it, the sentinel is never
    created (no code ran) and the given models keep their weights and optimizer state."""
    sentinel = tmp_path / "SENTINEL"
    before, around = _tree(tmp_path), sorted(os.listdir(tmp_path.parent))
    states = [[np.array(w) for w in m.get_weights()] +
              [np.array(v) for v in m.optimizer.variables] for m in models_]
    yield sentinel
    assert not sentinel.exists(), "a payload was executed"
    assert _tree(tmp_path) == before and sorted(os.listdir(tmp_path.parent)) == around
    for m, old in zip(models_, states):
        new = [np.array(w) for w in m.get_weights()] + [np.array(v) for v in m.optimizer.variables]
        assert all(np.array_equal(a, b) for a, b in zip(old, new))


def loaders(path, target):
    """Every way a user can load `path`; each yields a callable."""
    name = str(path)
    calls = [lambda: saving.load_model(path), lambda: saving.load_model(path, safe_mode=False),
             lambda: models.load_model(path, compile=False),
             lambda: saving.load_weights(target, path), lambda: target.load_weights(path)]
    return calls


def assert_refused(calls, match):
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


# --- pickles, under every name we accept and inside the archive -------------------------------

def _pickle(sentinel):
    return pickle.dumps(Trap(sentinel))


def _npy_pickle(sentinel):
    buf = io.BytesIO()
    np.save(buf, np.array([Trap(sentinel)], dtype=object), allow_pickle=True)
    return buf.getvalue()


def _npz_pickle(sentinel):
    buf = io.BytesIO()
    np.savez(buf, x_train=np.array([Trap(sentinel)], dtype=object))
    return buf.getvalue()


@pytest.mark.parametrize("payload", [_pickle, _npy_pickle, _npz_pickle])
@pytest.mark.parametrize("name, match", [
    ("m.keras", "(not a readable zip|unexpected archive member 'x_train.npy')"),
    ("m.weights.h5", "not an HDF5 file"),
    ("m.h5", "must end in"), ("m.hdf5", "must end in"), ("m.json", "must end in"),
    ("m.npy", "must end in"), ("m.npz", "must end in"), ("m.pkl", "must end in"),
    ("m.keras.pkl", "must end in"), ("m", "must end in")])
def test_pickle_file_under_any_name(tmp_path, good, payload, name, match):
    m, _ = good
    with no_side_effects(tmp_path, m) as sentinel:
        path = tmp_path / name
        path.write_bytes(payload(sentinel))
        before = _tree(tmp_path)
        calls = loaders(path, m)
        if name.endswith(".weights.h5"):  # load_model wants `.keras`; load_weights reads it
            assert_refused(calls[:3], "must end in `.keras`")
            assert_refused(calls[3:], match)
        else:
            assert_refused(calls, match)
        if name.endswith(".json"):
            with pytest.raises(ValueError, match="not valid JSON"):
                models.model_from_json(path.read_bytes())
        path.unlink()
        assert _tree(tmp_path) != before


def test_model_from_json_on_pickle_bytes(tmp_path):
    with no_side_effects(tmp_path) as sentinel:
        for data in (_pickle(sentinel), _npy_pickle(sentinel)):
            with pytest.raises(ValueError, match="not valid JSON"):
                models.model_from_json(data)
        with pytest.raises(TypeError, match="must be a str"):
            models.model_from_json(Trap(sentinel))


@pytest.mark.parametrize("member", ["metadata.json", "config.json", "model.weights.h5"])
@pytest.mark.parametrize("payload", [_pickle, _npy_pickle])
def test_pickle_as_each_archive_member(tmp_path, good, member, payload):
    m, path = good
    with no_side_effects(tmp_path, m) as sentinel:
        bad = write_zip(tmp_path / "bad.keras", [(n, payload(sentinel) if n == member else d)
                                                 for n, d in members_of(path)])
        match = "not an HDF5 file" if member.endswith(".h5") else "not valid JSON"
        calls = loaders(bad, m)
        if member != "model.weights.h5":
            calls = calls[:3]  # load_weights reads only the weights member
        assert_refused(calls, match)
        bad.unlink()


@pytest.mark.parametrize("member", ["model.weights.npz", "model.weights.npy", "model.pkl",
                                    "config.pkl", "assets.pkl"])
def test_extra_pickle_members_are_refused(tmp_path, good, member):
    m, path = good
    with no_side_effects(tmp_path, m) as sentinel:
        bad = write_zip(tmp_path / "bad.keras", members_of(path) + [(member, _pickle(sentinel))])
        assert_refused(loaders(bad, m), f"unexpected archive member '{member}'")
        bad.unlink()


def test_pickle_inside_hdf5_is_never_unpickled(tmp_path, good):
    """Pickle bytes as an opaque dataset and as attributes: never read, never unpickled."""
    m, path = good

    def plant(f):
        blob = np.frombuffer(_pickle(tmp_path / "SENTINEL"), dtype="u1")
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = np.void(blob.tobytes())
        f["layers/dense/vars"].attrs["pickle"] = np.void(blob.tobytes())
        f.attrs["pickle"] = np.void(blob.tobytes())

    with no_side_effects(tmp_path, m):
        bad = edit_weights(path, tmp_path / "bad.keras", plant)
        assert_refused(loaders(bad, m), "only numeric arrays")
        bad.unlink()


def test_dataset_loader_refuses_pickled_npz(tmp_path):
    with no_side_effects(tmp_path) as sentinel:
        path = tmp_path / "mnist.npz"
        buf = io.BytesIO()
        np.savez(buf, x_train=np.array([Trap(sentinel)], dtype=object),
                 y_train=np.zeros(1, "u1"), x_test=np.zeros((1, 28, 28), "u1"),
                 y_test=np.zeros(1, "u1"))
        path.write_bytes(buf.getvalue())
        with pytest.raises(ValueError, match="allow_pickle"):
            cnnext.datasets.mnist.load_data(path)
        path.unlink()


# --- configs that name code -------------------------------------------------------------------

def _code_b64(sentinel):
    code = compile(f"open({str(sentinel)!r}, 'w')", "<payload>", "exec")
    return base64.b64encode(marshal.dumps(code)).decode()


def _lambda_layer(sentinel):
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": "evil", "function": {
                "class_name": "__lambda__", "config": {"code": _code_b64(sentinel),
                                                       "defaults": None, "closure": None}}}}


def _layers(c):
    return c["config"]["layers"]


def _set_layer(obj):
    return lambda c, s: _layers(c).__setitem__(1, obj(s))


def _set_activation(obj):
    return lambda c, s: _layers(c)[1]["config"].__setitem__("activation", obj(s))


_CODE_CONFIGS = {
    "os.system layer": (_set_layer(lambda s: {"module": "os", "class_name": "system",
                                              "config": f"touch {s}"}),
                        r"unknown class 'system' \(module 'os'\)"),
    "posix.system": (_set_layer(lambda s: {"module": "posix", "class_name": "system",
                                           "config": {"command": f"touch {s}"}}),
                     "unknown class 'system'"),
    "subprocess.Popen": (_set_layer(lambda s: {"module": "subprocess", "class_name": "Popen",
                                               "config": {"args": ["touch", str(s)]}}),
                         "unknown class 'Popen'"),
    "builtins.eval function": (_set_activation(lambda s: {
        "module": "builtins", "class_name": "function", "config": "eval",
        "registered_name": "builtins>eval"}), "function 'eval' from module 'builtins'"),
    "builtins.exec class": (_set_layer(lambda s: {"module": "builtins", "class_name": "exec",
                                                  "config": f"open({str(s)!r}, 'w')"}),
                            "unknown class 'exec'"),
    "lambda layer": (_set_layer(_lambda_layer), "deserializing Python code"),
    "bare __lambda__": (_set_activation(lambda s: _lambda_layer(s)["config"]["function"]),
                        "deserializing Python code"),
    "enable_unsafe_deserialization (CVE-2025-9906)": (
        lambda c, s: _layers(c).insert(1, {"module": "keras.config", "class_name": "function",
                                           "config": "enable_unsafe_deserialization"}),
        "function 'enable_unsafe_deserialization'"),
    "keras.utils.get_file (CVE-2025-8747)": (
        _set_layer(lambda s: {"module": "keras.utils", "class_name": "get_file",
                              "config": {"fname": str(s), "origin": f"file://{s}"}}),
        "unknown class 'get_file'"),
    "keras.src module import (CVE-2025-1550)": (
        _set_layer(lambda s: {"module": "keras.src.utils.file_utils", "class_name": "get_file",
                              "config": {"fname": str(s)}}), "unknown class 'get_file'"),
    "TFSMLayer": (_set_layer(lambda s: {"module": "keras.layers", "class_name": "TFSMLayer",
                                        "config": {"filepath": str(s)}}),
                  "unknown class 'TFSMLayer'"),
    "string activation naming a callable": (_set_activation(lambda s: "os.system"),
                                            "Could not interpret activation"),
    "unknown layer class": (_set_layer(lambda s: {"module": "keras.layers",
                                                  "class_name": "MyLayer", "config": {}}),
                            "unknown class 'MyLayer'"),
    "non-layer class as layer": (_set_layer(lambda s: {"module": "keras.optimizers",
                                                       "class_name": "Adam", "config": {}}),
                                 r"layers\[1\] is not a serialized layer"),
    "initializer as layer": (_set_layer(lambda s: {"module": "keras.initializers",
                                                   "class_name": "Zeros", "config": {}}),
                             r"layers\[1\] is not a serialized layer"),
    "layer as initializer": (
        lambda c, s: _layers(c)[1]["config"].__setitem__(
            "kernel_initializer", {"module": "keras.layers", "class_name": "Dense",
                                   "config": {"units": 1}}),
        "Could not interpret initializer"),
    "model class Functional": (lambda c, s: c.update(class_name="Functional"),
                               "unknown class 'Functional'"),
    "loss naming eval": (lambda c, s: c["compile_config"].update(loss="eval"),
                         "Could not interpret loss"),
    "loss function from os": (lambda c, s: c["compile_config"].update(
        loss={"module": "os", "class_name": "function", "config": "system"}),
        "function 'system' from module 'os'"),
    "metric naming __import__": (lambda c, s: c["compile_config"].update(metrics=["__import__"]),
                                 "Could not interpret metric"),
    "optimizer from os": (lambda c, s: c["compile_config"].update(
        optimizer={"module": "os", "class_name": "system", "config": {}}),
        "unknown class 'system'"),
    "class_name not a string": (_set_layer(lambda s: {"module": "keras.layers",
                                                      "class_name": {"a": 1}, "config": {}}),
                                "`class_name` must be a string"),
}


@pytest.mark.parametrize("case", list(_CODE_CONFIGS))
def test_configs_that_name_code_are_refused(tmp_path, good, case):
    m, path = good
    edit, match = _CODE_CONFIGS[case]
    with no_side_effects(tmp_path, m) as sentinel:
        bad = edit_config(path, tmp_path / "bad.keras", lambda c: edit(c, sentinel))
        for kwargs in ({}, {"safe_mode": False}, {"compile": False}):
            if kwargs == {"compile": False} and case.startswith(("loss", "metric", "optim")):
                continue  # compile=False never reads the compile config
            with pytest.raises(ValueError, match=match):
                saving.load_model(bad, **kwargs)
        config = json.loads(dict(members_of(bad))["config.json"])
        if "compile" not in match and not case.startswith(("loss", "metric", "optimizer")):
            with pytest.raises(ValueError, match=match):
                models.model_from_json(json.dumps(config))
        bad.unlink()


def _nest(depth, leaf=1, kind="dict"):
    obj = leaf
    for _ in range(depth):
        obj = {"a": obj} if kind == "dict" else [obj]
    return obj


@pytest.mark.parametrize("depth", [65, 300, 5000])
@pytest.mark.parametrize("kind", ["dict", "list"])
@pytest.mark.parametrize("where", ["layer", "compile"])
def test_deeply_nested_config(tmp_path, good, depth, kind, where):
    m, path = good

    def edit(c):
        target = _layers(c)[1]["config"] if where == "layer" else c["compile_config"]
        target["deep"] = _nest(depth, kind=kind)

    with no_side_effects(tmp_path, m):
        bad = edit_config(path, tmp_path / "bad.keras", edit) if depth < 900 else write_zip(
            tmp_path / "bad.keras", [(n, d.replace(b'"compile_config": {', b'"compile_config": {'
                                                   b'"deep": ' + (b"[" if kind == "list" else
                                                                  b'{"a":') * depth + b"1" +
                                                   (b"]" if kind == "list" else b"}") * depth +
                                                   b", ") if n == "config.json" else d)
                                     for n, d in members_of(path)])
        with pytest.raises(ValueError, match="(nested too deeply|not valid JSON)"):
            saving.load_model(bad)
        config = dict(members_of(bad))["config.json"]
        with pytest.raises(ValueError, match="(nested too deeply|not valid JSON)"):
            models.model_from_json(config)
        bad.unlink()


def test_nesting_at_the_limit_is_fine(tmp_path, good):
    """64 levels pass the depth check (and then fail only as an unknown layer argument)."""
    m, path = good
    bad = edit_config(path, tmp_path / "ok.keras",
                      lambda c: _layers(c)[1]["config"].__setitem__("deep", _nest(58)))
    with pytest.raises(ValueError) as info:
        saving.load_model(bad)
    assert "nested too deeply" not in str(info.value)


# --- zip structure: traversal, bombs, member counts --------------------------------------------

@pytest.mark.parametrize("name", ["../evil", "../../evil.json", "/tmp/evil", "//server/evil",
                                  "assets/../../evil", "C:\\evil", "c:evil", "\\evil",
                                  "./../evil", "C:/evil", "assets\\..\\evil", "a/../../b"])
def test_traversing_member_names_with_every_loader(tmp_path, good, name):
    m, path = good
    with no_side_effects(tmp_path, m):
        bad = write_zip(tmp_path / "bad.keras", members_of(path) + [(name, b"x")])
        assert_refused(loaders(bad, m), "unsafe archive member path")
        bad.unlink()
    assert not os.path.exists("/tmp/evil")


def _stream_zip(path, members):
    """Write members given as (name, bytes) or (name, (prefix, chunk, count)), deflated,
    without ever holding a whole member in memory."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            with zf.open(name, "w", force_zip64=True) as f:
                if isinstance(data, tuple):
                    prefix, chunk, count = data
                    f.write(prefix)
                    for _ in range(count):
                        f.write(chunk)
                else:
                    f.write(data)
    return path


def test_weights_bomb_is_refused_before_inflating(tmp_path, good):
    """64 MiB of zeros in a few hundred KiB: refused from the declared size, relative to what
    this small model can need, before a byte is inflated."""
    m, path = good
    members = dict(members_of(path))
    h5 = members["model.weights.h5"]
    bomb = _stream_zip(tmp_path / "bomb.keras", [
        ("metadata.json", members["metadata.json"]), ("config.json", members["config.json"]),
        ("model.weights.h5", (h5[:8], bytes(1 << 20), 64))])
    assert bomb.stat().st_size < 1 << 20
    with no_side_effects(tmp_path, m):
        assert_refused(loaders(bomb, m), r"declares \d+ bytes uncompressed, more than the \d+ "
                                         r"allowed \(possible zip bomb\)")


def test_config_bomb_is_refused(tmp_path, good, monkeypatch):
    m, path = good
    members = dict(members_of(path))
    bomb = _stream_zip(tmp_path / "bomb.keras", [
        ("metadata.json", members["metadata.json"]),
        ("config.json", (b"", b" " * (1 << 20), 80)),
        ("model.weights.h5", members["model.weights.h5"])])
    assert bomb.stat().st_size < 1 << 20
    with no_side_effects(tmp_path, m):
        with pytest.raises(ValueError, match="possible zip bomb"):
            saving.load_model(bomb)


def _patch_header(data, name, local_offset, central_offset, fmt, value):
    """Rewrite one field of member `name` in its local header and central directory entry."""
    out, encoded, i = bytearray(data), name.encode(), 0
    while (i := out.find(encoded, i)) >= 0:
        if out[i - 30:i - 26] == b"PK\x03\x04":
            struct.pack_into(fmt, out, i - 30 + local_offset, value)
        elif out[i - 46:i - 42] == b"PK\x01\x02":
            struct.pack_into(fmt, out, i - 46 + central_offset, value)
        i += 1
    return bytes(out)


@pytest.mark.parametrize("field, match", [
    ((6, 8, "<H", 0x1), "encrypted"),               # general-purpose flag: encrypted
    ((8, 10, "<H", 99), "compression method"),      # AES / unknown compression method
])
@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_encrypted_or_unknown_compression_members(tmp_path, good, field, match, member):
    m, path = good
    bad = tmp_path / "odd.keras"
    bad.write_bytes(_patch_header(path.read_bytes(), member, *field))
    calls = loaders(bad, m)
    with no_side_effects(tmp_path, m):
        assert_refused(calls if member.endswith(".h5") else calls[:3],
                       f"cannot read archive member '{member}'.*{match}")


def _patch_sizes(data, name, new_size):
    """Rewrite the uncompressed size of member `name` in the local and central headers."""
    out = bytearray(data)
    encoded = name.encode()
    i = 0
    while True:
        i = out.find(encoded, i)
        if i < 0:
            return bytes(out)
        if out[i - 30:i - 26] == b"PK\x03\x04":
            struct.pack_into("<I", out, i - 30 + 22, new_size)
        elif out[i - 46:i - 42] == b"PK\x01\x02":
            struct.pack_into("<I", out, i - 46 + 24, new_size)
        i += 1


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
@pytest.mark.parametrize("declared", ["smaller", "huge"])
def test_lying_size_headers(tmp_path, good, member, declared):
    m, path = good
    members = members_of(path)
    raw = write_zip(tmp_path / "deflated.keras", members, compression=zipfile.ZIP_DEFLATED)
    size = len(dict(members)[member])
    new = size // 2 if declared == "smaller" else 0xFFFFFFF0
    bad = tmp_path / "liar.keras"
    bad.write_bytes(_patch_sizes(raw.read_bytes(), member, new))
    with no_side_effects(tmp_path, m):
        with pytest.raises(ValueError, match=r"(truncated or corrupt|possible zip bomb|"
                                             r"not valid JSON|Invalid weights file)"):
            saving.load_model(bad)


def test_too_many_members(tmp_path, good):
    m, path = good
    members = members_of(path) + [(f"assets/{i}", b"") for i in range(10_001)]
    bad = write_zip(tmp_path / "many.keras", members)
    with no_side_effects(tmp_path, m):
        assert_refused(loaders(bad, m)[:1], r"10004 archive members \(at most 10000 allowed\)")


def test_huge_config_cannot_allocate_unbacked_weights(tmp_path, good):
    """A config asking for a 5 MB Dense kernel (it could as well ask for 50 GB) next to a 30 KB
    model.weights.h5 is refused before any weight is allocated: the weights a config declares
    must fit in the file's model.weights.h5."""
    m, path = good

    def edit(c):
        _layers(c)[5]["config"]["units"] = 1 << 16
        _layers(c)[5]["build_config"] = {"input_shape": [None, 20]}

    with no_side_effects(tmp_path, m):
        bad = edit_config(path, tmp_path / "big.keras", edit)
        with pytest.raises(ValueError, match=r"at least \d+ bytes of weights, but "
                                             r"model.weights.h5 holds only \d+ bytes"):
            saving.load_model(bad)
        bad.unlink()


def test_oversized_weights_file_for_a_small_model(tmp_path, good):
    m, _ = good
    big = tmp_path / "big.weights.h5"
    with open(big, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n")
        f.truncate(64 << 20)  # sparse: 64 MiB on paper
    with no_side_effects(tmp_path, m):
        with pytest.raises(ValueError, match=r"larger than the \d+ bytes allowed"):
            m.load_weights(big)


# --- HDF5 contents ------------------------------------------------------------------------------

def _replace(name, data, **kwargs):
    def fn(f):
        del f[name]
        f.create_dataset(name, data=data, **kwargs)
    return fn


def _empty(name, dtype):
    def fn(f):
        del f[name]
        f.create_dataset(name, shape=(4,), dtype=dtype)
    return fn


def _vds(f):
    """A virtual dataset whose data would come from another file."""
    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource("/etc/other.h5", "data", shape=(4,))
    del f["layers/dense/vars/1"]
    f.create_virtual_dataset("layers/dense/vars/1", layout, fillvalue=0)


def _plugin_filter(f):
    shape = f["layers/dense/vars/0"].shape
    del f["layers/dense/vars/0"]
    f.create_dataset("layers/dense/vars/0", data=np.zeros(shape, "f4"), chunks=shape,
                     compression=32004, allow_unknown_filter=True)


def _hard_link_elsewhere(f):
    del f["layers/dense/vars/1"]
    f["layers/dense/vars/1"] = f["layers/dense_1/vars/1"]  # same object twice: shape mismatch


B = "layers/dense/vars/1"  # Dense(4)'s bias, shape (4,)


@pytest.mark.parametrize("edit, match", [
    (_replace(B, np.zeros(4, "i8")), "dtype int64 in the file, but the model expects float32"),
    (_replace(B, np.zeros(4, "u1")), "dtype uint8 in the file"),
    (_replace(B, np.zeros(4, "?")), "dtype bool in the file"),
    (_replace(B, np.zeros(4, "c8")), "only numeric arrays"),
    (_replace(B, np.zeros(4, "c16")), "only numeric arrays"),
    (_replace(B, np.array(["a", "b", "c", "d"], dtype=h5py.string_dtype())),
     "only numeric arrays"),
    (_replace(B, np.zeros(4, dtype=[("a", "f4"), ("b", "f4")])), "only numeric arrays"),
    (_empty(B, h5py.vlen_dtype("f4")), "only numeric arrays"),
    (_replace(B, np.zeros(4, "f4").view("V4")), "only numeric arrays"),
    (_empty(B, np.dtype(("f4", (2,)))), "only numeric arrays"),
    (_empty(B, h5py.opaque_dtype(np.dtype("V8"))), "only numeric arrays"),
    (_empty(B, h5py.string_dtype(length=4)), "only numeric arrays"),
    (_replace(B, np.zeros(4, "i4"), dtype=h5py.enum_dtype({"a": 0, "b": 1}, basetype="i4")),
     "dtype int32 in the file"),
    (_replace(B, np.zeros(5, "f4")), r"variable 1 has shape \(5,\) in the file"),
    (_replace(B, np.float32(0)), r"variable 1 has shape \(\) in the file"),
    (_replace(B, np.zeros((4, 1), "f4")), r"shape \(4, 1\) in the file"),
    (_hard_link_elsewhere, r"variable 1 has shape \(1,\) in the file"),
    (lambda f: (f.__delitem__(B), f.__setitem__(B, h5py.SoftLink("/elsewhere"))), "SoftLink"),
    (lambda f: (f.__delitem__(B), f.__setitem__(B, h5py.ExternalLink("/etc/passwd", "/x"))),
     "ExternalLink"),
    (lambda f: (f.__delitem__("layers/dense"),
                f.__setitem__("layers/dense", h5py.ExternalLink("other.h5", "/layers/dense"))),
     "ExternalLink"),
    (lambda f: (f.__delitem__("layers"), f.__setitem__("layers", h5py.SoftLink("/vars"))),
     "SoftLink"),
    (_vds, "outside the file"),
    (_plugin_filter, "filter 32004, which is not built in"),
    (lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(1, "f4")),
     "expected 2 variables, but the file has 3"),
    (lambda f: f.__delitem__("layers/conv2d_1/vars/1"),
     "expected 2 variables, but the file has 1"),
    (lambda f: f.__delitem__("layers/conv2d"), r"\(conv2d\) is missing from the weights file"),
    (lambda f: f.create_group("layers/evil/vars"), r"layers \['evil'\] that the model lacks"),
    (lambda f: f["layers/dense/vars"].move("1", "x"), "datasets named 0..1"),
])
def test_malformed_weights(tmp_path, good, edit, match):
    m, path = good
    target = make_model()
    with no_side_effects(tmp_path, m, target):
        bad = edit_weights(path, tmp_path / "bad.keras", edit)
        assert_refused(loaders(bad, target), match)
        raw = tmp_path / "bad.weights.h5"
        raw.write_bytes(dict(members_of(bad))["model.weights.h5"])
        assert_refused(loaders(raw, target)[3:], match)
        bad.unlink()
        raw.unlink()


def test_big_endian_and_float64_weights_load(tmp_path, good):
    """Not hostile, just unusual: any real floating dtype and byte order is accepted and cast."""
    m, path = good

    def edit(f):
        for key in ("dense", "dense_1"):
            for i in ("0", "1"):
                name = f"layers/{key}/vars/{i}"
                data = f[name][()]
                del f[name]
                f[name] = data.astype(">f4" if key == "dense" else "f8")

    odd = edit_weights(path, tmp_path / "odd.keras", edit)
    np.testing.assert_array_equal(saving.load_model(odd).predict(X, verbose=0),
                                  m.predict(X, verbose=0))


def test_many_extra_layers_give_a_short_message(tmp_path, good):
    m, path = good

    def edit(f):
        for i in range(500):
            f.create_group(f"layers/extra_{i:03d}/vars")

    bad = edit_weights(path, tmp_path / "many.keras", edit)
    with pytest.raises(ValueError, match=r"that the model lacks") as info:
        saving.load_model(bad)
    assert "... 490 more" in str(info.value) and len(str(info.value)) < 1000


def test_hdf5_external_storage_never_reads_the_other_file(tmp_path, good):
    m, path = good
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype="f4").tobytes())

    def edit(f):
        del f[B]
        f.create_dataset(B, shape=(4,), dtype="f4", external=[(str(secret), 0, 16)])

    target = make_model()
    bad = edit_weights(path, tmp_path / "bad.keras", edit)
    with no_side_effects(tmp_path, m, target):
        assert_refused(loaders(bad, target), "refers to data outside the file")


# --- truncation at every structural point -------------------------------------------------------

def _zip_boundaries(data):
    """Offsets of every local header, member data start, central directory entry and the
    end-of-central-directory record, each with its neighbours."""
    points = set()
    for sig in (b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"\x89HDF"):
        i = data.find(sig)
        while i >= 0:
            points.update((i, i + 1, i + 4, i + 30, i + 46))
            i = data.find(sig, i + 1)
    points.update(range(0, len(data), max(1, len(data) // 48)))
    points.update((len(data) - 1, len(data) - 22, len(data) - 23))
    return sorted(p for p in points if 0 <= p < len(data))


def test_every_truncation_point_of_a_keras_file(tmp_path, good):
    m, path = good
    data = path.read_bytes()
    target = make_model()
    cut = tmp_path / "cut.keras"
    with no_side_effects(tmp_path, m, target):
        for n in _zip_boundaries(data):
            cut.write_bytes(data[:n])
            for call in (lambda: saving.load_model(cut), lambda: target.load_weights(cut)):
                with pytest.raises(ValueError, match=r"(Invalid `.keras` file|Invalid weights)"):
                    call()
        cut.unlink()


def test_every_truncation_point_of_a_weights_file(tmp_path, good):
    m, _ = good
    data = (tmp_path / "good.weights.h5").read_bytes()
    target = make_model()
    cut = tmp_path / "cut.weights.h5"
    points = sorted(set(range(0, 96)) | set(range(96, len(data), max(1, len(data) // 64)))
                    | {len(data) - 1})
    with no_side_effects(tmp_path, m, target):
        for n in points:
            cut.write_bytes(data[:n])
            with pytest.raises(ValueError, match="Invalid weights file"):
                target.load_weights(cut)
        cut.unlink()


def test_truncated_weights_member_inside_the_archive(tmp_path, good):
    m, path = good
    members = members_of(path)
    h5 = dict(members)["model.weights.h5"]
    target = make_model()
    with no_side_effects(tmp_path, m, target):
        for frac in (0.01, 0.1, 0.5, 0.9, 0.999):
            bad = write_zip(tmp_path / "cut.keras", [
                (n, h5[:int(len(h5) * frac)] if n == "model.weights.h5" else d)
                for n, d in members])
            # Refused either as a truncated HDF5 file or because it is smaller than the weights
            # the config declares (checked first, before the model allocates anything).
            assert_refused(loaders(bad, target)[:3], "(Invalid weights file|holds only)")
            assert_refused(loaders(bad, target)[3:], "Invalid weights file")
        bad.unlink()


@pytest.mark.parametrize("compiled", [False, True])
def test_weight_heavy_models_still_load(tmp_path, compiled):
    """The size checks are tight enough to stop bombs but never refuse a real file: here the
    weights are nearly all of the file (no optimizer state when uncompiled)."""
    m = models.Sequential([cnnext.layers.Input((300,)), cnnext.layers.Dense(700),
                           cnnext.layers.BatchNormalization(), cnnext.layers.Dense(3)])
    if compiled:
        m.compile(optimizer="adam", loss="mse")
        m.train_on_batch(np.ones((2, 300), np.float32), np.ones((2, 3), np.float32))
    m.save(tmp_path / "w.keras")
    m.save_weights(tmp_path / "w.weights.h5")
    x = np.ones((2, 300), np.float32)
    np.testing.assert_array_equal(saving.load_model(tmp_path / "w.keras").predict(x, verbose=0),
                                  m.predict(x, verbose=0))
    m.load_weights(tmp_path / "w.weights.h5")


def test_a_good_file_still_loads(tmp_path, good):
    """The checks above refuse hostile files, not good ones."""
    m, path = good
    np.testing.assert_array_equal(saving.load_model(path).predict(X, verbose=0),
                                  m.predict(X, verbose=0))
    target = make_model(fitted=False)
    target.load_weights(tmp_path / "good.weights.h5")
    np.testing.assert_array_equal(target.predict(X, verbose=0), m.predict(X, verbose=0))
    assert models.model_from_json(m.to_json()).count_params() == m.count_params()
