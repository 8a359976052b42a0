"""Save and load models in the Keras 3 ``.keras`` format and weights in ``.weights.h5`` files.

File layout (identical to what Keras 3.15 writes, so either library reads the other's files):

* ``model.keras`` is a zip archive, members stored uncompressed in this order:
  ``metadata.json`` (``{"keras_version", "date_saved"}``), ``config.json`` (the serialized model:
  ``{"module", "class_name", "config", "registered_name", "build_config", "compile_config"}``)
  and ``model.weights.h5``.
* ``model.weights.h5`` / ``*.weights.h5``: HDF5 with ``layers/<key>/vars/<i>`` per layer variable
  (``<key>`` = snake_case of the layer's *class* name, made unique within the model: ``conv2d``,
  ``conv2d_1``; the ``vars`` group's attribute ``name`` is the layer's name), an empty ``vars``
  group for the model itself, and ``optimizer/vars/<i>`` for the optimizer's variables.

Loading never unpickles or evaluates anything: JSON is parsed as data, HDF5 datasets are read only
as plain numeric arrays, zip members are read in memory with size caps (never extracted), and
every serialized object must name a known layer / initializer / optimizer / loss / metric class
(or one passed in ``custom_objects``). Anything else raises ``ValueError`` saying what was found.
"""
import datetime
import io
import json
import math
import os
import re
import tempfile
import warnings
import zipfile

import numpy as np

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout this module writes
_METADATA, _CONFIG, _WEIGHTS = "metadata.json", "config.json", "model.weights.h5"
MAX_JSON_BYTES = 64 << 20  # caps on uncompressed member sizes (zip bombs)
MAX_WEIGHTS_BYTES = 4 << 30
MAX_MEMBERS = 10_000
_READ_CHUNK = 1 << 20

# Classes a file may name, by the Keras module they are registered under. Checked before any
# object is built; cnnext's own registries then decide whether it implements the class.
_ALLOWED = {
    "keras.layers": {
        "InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "Flatten", "Dense", "Dropout", "Activation", "ReLU", "Softmax",
        "BatchNormalization"},
    "keras.models": {"Sequential"},
    "keras": {"Sequential", "DTypePolicy", "FloatDTypePolicy"},
    "keras.initializers": {
        "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
        "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
        "VarianceScaling", "Orthogonal", "Identity"},
    "keras.optimizers": {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax",
                         "Nadam"},
    "keras.optimizers.schedules": {"ExponentialDecay", "PiecewiseConstantDecay",
                                   "PolynomialDecay", "InverseTimeDecay", "CosineDecay"},
    "keras.losses": {
        "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
        "MeanSquaredError", "MeanAbsoluteError", "Hinge", "Huber"},
    "keras.metrics": {
        "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
        "Mean", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
        "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall",
        "AUC"},
    "keras.regularizers": {"L1", "L2", "L1L2", "OrthogonalRegularizer"},
    "keras.constraints": {"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"},
}
# Plain functions a file may name (``{"class_name": "function", "config": "<name>"}``).
_FUNCTIONS = {
    "keras.losses": {"binary_crossentropy", "categorical_crossentropy",
                     "sparse_categorical_crossentropy", "mean_squared_error",
                     "mean_absolute_error", "hinge", "huber"},
    "keras.metrics": {"binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                      "binary_crossentropy", "categorical_crossentropy",
                      "sparse_categorical_crossentropy", "mean_squared_error",
                      "mean_absolute_error"},
    "keras.activations": {"relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu",
                          "softplus", "softsign", "swish", "silu", "gelu", "exponential",
                          "hard_sigmoid", "leaky_relu", "relu6", "log_softmax", "mish"},
}


# ---------------------------------------------------------------------------------------------
# Public API

def save_model(model, filepath, overwrite=True):
    """Save `model` (architecture, weights, compile config, optimizer state) to a `.keras` file.

    Args:
        model: a built `cnnext.models.Sequential`.
        filepath: `str` or `os.PathLike` ending in `.keras`.
        overwrite: if False and the file exists, raise `FileExistsError`.
    """
    path = _check_path(filepath, (".keras",), "save_model")
    config = json.dumps(_serialize_model(model))
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    weights = _weights_to_h5_bytes(model)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in ((_METADATA, metadata.encode()), (_CONFIG, config.encode()),
                           (_WEIGHTS, weights)):
            info = zipfile.ZipInfo(name, date_time=datetime.datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, data)
    _atomic_write(path, buf.getvalue(), overwrite)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved as `.keras` by cnnext or by Keras 3 (for the layers cnnext supports).

    Args:
        filepath: `str` or `os.PathLike` ending in `.keras`.
        custom_objects: optional dict `{class_name: class}` of extra classes the file may name.
        compile: if False, ignore the saved compile config (and optimizer state).
        safe_mode: kept for Keras compatibility. cnnext never deserializes Python code
            (lambdas, pickles), so files are loaded safely whatever its value.
    Returns:
        The model, built, with its weights (and compiled, with optimizer state, if saved so).
    """
    path = _check_path(filepath, (".keras",), "load_model", must_exist=True)
    members = _read_keras_zip(path)
    if _CONFIG not in members or _WEIGHTS not in members:
        missing = [n for n in (_CONFIG, _WEIGHTS) if n not in members]
        raise ValueError(f"Invalid `.keras` file {path!s}: missing archive member(s) {missing}. "
                         f"Received members: {sorted(members)}")
    if _METADATA in members:
        metadata = _parse_json(members[_METADATA], _METADATA)
        if not isinstance(metadata, dict):
            raise ValueError(f"Invalid `.keras` file: {_METADATA} must hold a JSON object. "
                             f"Received: {type(metadata).__name__}")
    config = _parse_json(members[_CONFIG], _CONFIG)
    custom_objects = dict(custom_objects or {})
    _check_config_tree(config, custom_objects)
    model = _deserialize_model(config, custom_objects, compile)
    with _open_h5(members[_WEIGHTS], _WEIGHTS) as f:
        _load_h5_into_model(f, model, load_optimizer=compile, skip_mismatch=False)
    return model


def save_weights(model, filepath, overwrite=True):
    """Save the weights of `model` (and its optimizer state) to a `.weights.h5` file."""
    path = _check_path(filepath, (".weights.h5",), "save_weights")
    _atomic_write(path, _weights_to_h5_bytes(model), overwrite)


def load_weights(model, filepath, skip_mismatch=False):
    """Load weights into `model` from a `.weights.h5` file or the weights inside a `.keras` file.

    The model must already have the saved architecture (same layer classes in the same order and
    same weight shapes). Nothing is changed unless every weight matches, except that with
    `skip_mismatch=True` layers whose weights do not match are skipped with a warning.
    """
    path = _check_path(filepath, (".weights.h5", ".keras"), "load_weights", must_exist=True)
    if str(path).endswith(".keras"):
        data = _read_keras_zip(path).get(_WEIGHTS)
        if data is None:
            raise ValueError(f"Invalid `.keras` file {path!s}: no member {_WEIGHTS!r}.")
    else:
        data = _read_capped(path, MAX_WEIGHTS_BYTES, "weights file")
    with _open_h5(data, os.path.basename(str(path))) as f:
        _load_h5_into_model(f, model, load_optimizer=True, skip_mismatch=skip_mismatch)


# ---------------------------------------------------------------------------------------------
# Paths and raw bytes

def _check_path(filepath, suffixes, fn, must_exist=False):
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`filepath` must be a str or os.PathLike. Received: "
                        f"filepath={filepath!r} of type {type(filepath).__name__}")
    path = os.fspath(filepath)
    if not str(path).endswith(suffixes):
        names = " or ".join(f"`{s}`" for s in suffixes)
        extra = (" (legacy HDF5 `.h5` models are not supported by cnnext)"
                 if str(path).endswith((".h5", ".hdf5")) and ".keras" in suffixes else "")
        raise ValueError(f"The filename must end in {names} for `{fn}`{extra}. "
                         f"Received: filepath={path}")
    if must_exist and not os.path.isfile(path):
        raise ValueError(f"File not found: filepath={path}. Please ensure the file exists and "
                         f"is a readable {' or '.join(suffixes)} file.")
    return path


def _atomic_write(path, data, overwrite):
    """Write `data` to a temporary file in the target folder, fsync, then os.replace()."""
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"File exists and overwrite=False: filepath={path}")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cnnext-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_capped(path, cap, what):
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"The {what} {path} is larger than the {cap} bytes allowed.")
    return data


def _read_keras_zip(path):
    """Return {member name: bytes} for a `.keras` archive, read in memory with size caps."""
    try:
        zf = zipfile.ZipFile(path, "r")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ValueError(f"Invalid `.keras` file {path}: not a readable zip archive (truncated "
                         f"or another format). {type(e).__name__}: {e}") from None
    members = {}
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"Invalid `.keras` file {path}: {len(infos)} archive members "
                             f"(at most {MAX_MEMBERS} allowed).")
        for info in infos:
            name = info.filename
            _check_member_name(name)
            if name in members:
                raise ValueError(f"Invalid `.keras` file: duplicate archive member {name!r}.")
            if name.startswith("assets/") or name.endswith("/"):
                members[name] = None  # Keras asset folders: cnnext's layers have none
                continue
            if name not in (_METADATA, _CONFIG, _WEIGHTS):
                raise ValueError(f"Invalid `.keras` file: unexpected archive member {name!r}. "
                                 f"Expected only {_METADATA}, {_CONFIG}, {_WEIGHTS}.")
            cap = MAX_WEIGHTS_BYTES if name == _WEIGHTS else MAX_JSON_BYTES
            members[name] = _read_member(zf, info, cap)
    return {k: v for k, v in members.items() if v is not None}


def _check_member_name(name):
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
            or "\x00" in name or "\\" in name):
        raise ValueError(f"Invalid `.keras` file: unsafe archive member path {name!r} "
                         "(absolute paths and '..' are not allowed).")


def _read_member(zf, info, cap):
    if info.file_size > cap:
        raise ValueError(f"Invalid `.keras` file: archive member {info.filename!r} declares "
                         f"{info.file_size} bytes uncompressed, more than the {cap} allowed "
                         "(possible zip bomb).")
    chunks, total = [], 0
    try:
        with zf.open(info, "r") as f:
            while True:
                chunk = f.read(_READ_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:  # the header lied about the size
                    raise ValueError(f"Invalid `.keras` file: archive member {info.filename!r} "
                                     f"expands past {cap} bytes (possible zip bomb).")
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
        raise ValueError(f"Invalid `.keras` file: cannot read archive member "
                         f"{info.filename!r} (truncated or corrupt). "
                         f"{type(e).__name__}: {e}") from None
    return b"".join(chunks)


def _parse_json(data, what):
    def no_duplicates(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError(f"duplicate key {k!r}")
            obj[k] = v
        return obj

    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates,
                          parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"Invalid `.keras` file: {what} is not valid JSON "
                         f"({type(e).__name__}: {e}).") from None


# ---------------------------------------------------------------------------------------------
# Config: serialization and the allowlist check

def _serialize_model(model):
    """The `config.json` object Keras writes for a Sequential model."""
    obj = {"module": "keras", "class_name": type(model).__name__,
           "config": model.get_config(), "registered_name": None}
    build_config = getattr(model, "get_build_config", lambda: None)()
    if build_config is None and model.get_config().get("build_input_shape") is not None:
        build_config = {"input_shape": model.get_config()["build_input_shape"]}
    if build_config is not None:
        obj["build_config"] = build_config
    compile_config = None
    if getattr(model, "compiled", False) or getattr(model, "optimizer", None) is not None:
        get_cc = getattr(model, "get_compile_config", None)
        compile_config = get_cc() if get_cc is not None else None
    if compile_config is not None:
        obj["compile_config"] = compile_config
    return _to_json_safe(obj)


def _to_json_safe(obj):
    """Tuples -> lists, NumPy scalars -> Python numbers (what json.dumps needs)."""
    if isinstance(obj, dict):
        return {str(k): _to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _check_config_tree(obj, custom_objects, where="config.json"):
    """Reject any serialized object whose (module, class_name) is not an allowed Keras class."""
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_config_tree(item, custom_objects, f"{where}[{i}]")
        return
    if not isinstance(obj, dict):
        return
    if "class_name" in obj:
        _check_object(obj, custom_objects, where)
    for key, value in obj.items():
        _check_config_tree(value, custom_objects, f"{where}.{key}")


def _check_object(obj, custom_objects, where):
    class_name, module = obj.get("class_name"), obj.get("module")
    if not isinstance(class_name, str) or not isinstance(module, (str, type(None))):
        raise ValueError(f"Invalid `.keras` file: at {where}, `class_name` must be a string and "
                         f"`module` a string or null. Received: class_name={class_name!r}, "
                         f"module={module!r}")
    if class_name in ("__lambda__", "Lambda", "__bytes__", "__numpy__", "__tensor__"):
        raise ValueError(f"Invalid `.keras` file: at {where}, class_name={class_name!r} would "
                         "require deserializing Python code or raw objects, which cnnext never "
                         "does.")
    registered = obj.get("registered_name")
    if class_name in custom_objects or (isinstance(registered, str)
                                        and registered in custom_objects):
        return
    if class_name == "function":
        name = obj.get("config")
        if isinstance(name, str) and name in _FUNCTIONS.get(_keras_module(module), ()):
            return
        raise ValueError(f"Invalid `.keras` file: at {where}, function {name!r} from module "
                         f"{module!r} is not a known Keras function.")
    allowed = _ALLOWED.get(_keras_module(module))
    if allowed is None or class_name not in allowed:
        raise ValueError(f"Invalid `.keras` file: at {where}, unknown class "
                         f"{class_name!r} (module {module!r}). cnnext only loads known Keras "
                         "layer, initializer, optimizer, loss and metric classes; pass other "
                         "classes in `custom_objects`.")


def _keras_module(module):
    """Map `keras.src.layers.core.dense`/`cnnext.layers` to the public `keras.layers`."""
    if module is None:
        return "keras"
    if module.startswith("cnnext"):
        module = "keras" + module[len("cnnext"):]
    if module.startswith("keras.src."):
        for public in sorted(_ALLOWED, key=len, reverse=True):
            tail = public[len("keras"):]
            if tail and module.startswith("keras.src" + tail):
                return public
        return module
    return module


def _deserialize_model(config, custom_objects, compile):
    from . import models

    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError("Invalid `.keras` file: config.json must be a serialized model object "
                         "{'class_name': 'Sequential', 'config': {...}, ...}. Received keys: "
                         f"{sorted(config) if isinstance(config, dict) else type(config).__name__}")
    class_name = config["class_name"]
    cls = custom_objects.get(class_name)
    if cls is None:
        if class_name != "Sequential":
            raise ValueError(f"Invalid `.keras` file: cnnext loads Sequential models only. "
                             f"Received: class_name={class_name!r}")
        cls = models.Sequential
    inner = config["config"]
    if not isinstance(inner.get("layers"), list):
        raise ValueError("Invalid `.keras` file: the model config needs a list `layers`.")
    for i, item in enumerate(inner["layers"]):
        name = item.get("class_name") if isinstance(item, dict) else None
        if name not in custom_objects and (
                not isinstance(item, dict) or _keras_module(item.get("module")) != "keras.layers"):
            raise ValueError(f"Invalid `.keras` file: config.layers[{i}] is not a serialized "
                             f"layer. Received: class_name={name!r}, module="
                             f"{item.get('module') if isinstance(item, dict) else None!r}")
    try:
        try:
            model = cls.from_config(inner, custom_objects=custom_objects or None)
        except TypeError as e:
            if "custom_objects" not in str(e):
                raise
            model = cls.from_config(inner)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"Invalid `.keras` file: the model config could not be rebuilt "
                         f"({type(e).__name__}: {e}).") from None
    build_config = config.get("build_config")
    if not getattr(model, "built", True) and isinstance(build_config, dict):
        model.build(_shape_tuple(build_config.get("input_shape")))
    compile_config = config.get("compile_config")
    if compile and isinstance(compile_config, dict):
        model.compile_from_config(compile_config)
    return model


def _shape_tuple(shape):
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape):
        raise ValueError(f"Invalid `.keras` file: build_config input_shape must be a list of "
                         f"ints/nulls. Received: {shape!r}")
    return tuple(shape)


# ---------------------------------------------------------------------------------------------
# Weights (HDF5)

def _snake_case(name):
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _layer_keys(model):
    """(h5 key, layer) per layer in stack order, keyed as Keras does (by class name)."""
    used, out = {}, []
    for layer in model.layers:
        key = _snake_case(type(layer).__name__)
        if key in used:
            used[key] += 1
            key = f"{key}_{used[key]}"
        else:
            used[key] = 0
        out.append((key, layer))
    return out


def _optimizer(model):
    opt = getattr(model, "optimizer", None)
    return opt if opt is not None and hasattr(opt, "variables") else None


def _var_value(v):
    if hasattr(v, "numpy"):
        return np.asarray(v.numpy())
    return np.asarray(getattr(v, "value", v))


def _weights_to_h5_bytes(model):
    import h5py

    if not getattr(model, "built", True):
        raise ValueError("The model must be built before its weights can be saved. Call "
                         "`model.build(input_shape)` or train it first.")
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers_group = f.create_group("layers")
        for key, layer in _layer_keys(model):
            g = layers_group.create_group(key).create_group("vars")
            g.attrs["name"] = layer.name
            for i, w in enumerate(layer.get_weights()):
                g.create_dataset(str(i), data=np.asarray(w))
        f.create_group("vars").attrs["name"] = model.name
        opt = _optimizer(model)
        if opt is not None:
            g = f.create_group("optimizer").create_group("vars")
            g.attrs["name"] = getattr(opt, "name", type(opt).__name__.lower())
            for i, v in enumerate(opt.variables):
                g.create_dataset(str(i), data=_var_value(v))
    return buf.getvalue()


class _open_h5:
    """Open HDF5 bytes read-only from memory; turn h5py/HDF5 errors into ValueError."""

    def __init__(self, data, what):
        self.data, self.what, self.file = data, what, None

    def __enter__(self):
        import h5py

        if not self.data.startswith(b"\x89HDF\r\n\x1a\n"):
            raise ValueError(f"Invalid weights file {self.what}: not an HDF5 file (bad signature; "
                             "pickles and other formats are never read).")
        try:
            self.file = h5py.File(io.BytesIO(self.data), "r")
        except (OSError, ValueError, RuntimeError) as e:
            raise ValueError(f"Invalid weights file {self.what}: unreadable HDF5 (truncated or "
                             f"corrupt). {type(e).__name__}: {e}") from None
        return self.file

    def __exit__(self, *exc):
        self.file.close()
        return False


def _h5_child(group, name, kind, where):
    """group[name] if it is a hard-linked `kind` (Group/Dataset); never follow other links."""
    import h5py

    link = group.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink):
        raise ValueError(f"Invalid weights file: {where}/{name} is a {type(link).__name__}; only "
                         "plain groups and datasets are allowed.")
    try:
        obj = group[name]
    except (KeyError, OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"Invalid weights file: cannot read {where}/{name} "
                         f"({type(e).__name__}: {e}).") from None
    if not isinstance(obj, kind):
        raise ValueError(f"Invalid weights file: {where}/{name} must be a {kind.__name__}. "
                         f"Received: {type(obj).__name__}")
    return obj


def _read_vars(parent, key, where):
    """Arrays under parent/key/vars/0..n-1, validated as plain numeric datasets."""
    import h5py

    g = _h5_child(parent, key, h5py.Group, where) if key else parent
    if g is None:
        return None
    vars_group = _h5_child(g, "vars", h5py.Group, f"{where}/{key}")
    if vars_group is None:
        return []
    names = list(vars_group.keys())
    if sorted(names) != sorted(str(i) for i in range(len(names))):
        raise ValueError(f"Invalid weights file: {where}/{key}/vars must hold datasets named "
                         f"0..{len(names) - 1}. Received: {sorted(names)}")
    return [_read_dataset(vars_group, str(i), f"{where}/{key}/vars") for i in range(len(names))]


def _read_dataset(group, name, where):
    import h5py

    ds = _h5_child(group, name, h5py.Dataset, where)
    if ds.dtype.kind not in "biuf" or ds.dtype.fields is not None or ds.dtype.subdtype:
        raise ValueError(f"Invalid weights file: {where}/{name} has dtype {ds.dtype}; only "
                         "numeric arrays are accepted.")
    if ds.external or ds.is_virtual:
        raise ValueError(f"Invalid weights file: {where}/{name} refers to data outside the file "
                         "(external or virtual dataset).")
    nbytes = math.prod(ds.shape or ()) * ds.dtype.itemsize
    if nbytes > MAX_WEIGHTS_BYTES:
        raise ValueError(f"Invalid weights file: {where}/{name} declares {nbytes} bytes.")
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, RuntimeError) as e:
        raise ValueError(f"Invalid weights file: cannot read {where}/{name} (truncated or "
                         f"corrupt). {type(e).__name__}: {e}") from None


def _check_arrays(arrays, expected, what):
    """Cast `arrays` to the dtypes of `expected` after checking count, shape and dtype kind."""
    if len(arrays) != len(expected):
        raise ValueError(f"{what} expected {len(expected)} variables, but the file has "
                         f"{len(arrays)}.")
    out = []
    for i, (a, e) in enumerate(zip(arrays, expected)):
        if a.shape != e.shape:
            raise ValueError(f"{what}: variable {i} has shape {a.shape} in the file, but the "
                             f"model expects {e.shape}.")
        if a.dtype.kind != e.dtype.kind and not (a.dtype.kind in "iu" and e.dtype.kind in "iu"):
            raise ValueError(f"{what}: variable {i} has dtype {a.dtype} in the file, but the "
                             f"model expects {e.dtype}.")
        out.append(a.astype(e.dtype, copy=False))
    return out


def _load_h5_into_model(f, model, load_optimizer, skip_mismatch):
    import h5py

    layers_group = _h5_child(f, "layers", h5py.Group, "")
    if layers_group is None:
        raise ValueError("Invalid weights file: no `layers` group (not a Keras 3 weights file).")
    keyed = _layer_keys(model)
    extra = sorted(set(layers_group.keys()) - {k for k, _ in keyed})
    if extra:
        msg = (f"The weights file has layers {extra} that the model lacks (model layers: "
               f"{[k for k, _ in keyed]}).")
        if not skip_mismatch:
            raise ValueError(msg)
        warnings.warn(msg, stacklevel=3)
    updates = []
    for key, layer in keyed:
        arrays = _read_vars(layers_group, key, "layers")
        expected = [np.asarray(w) for w in layer.get_weights()]
        try:
            if arrays is None:
                raise ValueError(f"Layer {layer.name!r} ({key}) is missing from the weights file.")
            updates.append((layer, _check_arrays(arrays, expected, f"Layer {layer.name!r}")))
        except ValueError as e:
            if not skip_mismatch:
                raise
            warnings.warn(f"Skipping loading weights for layer {layer.name!r}: {e}", stacklevel=3)
    opt_values = _read_optimizer(f, model) if load_optimizer else None
    for layer, arrays in updates:  # everything validated: now mutate
        layer.set_weights(arrays)
    if opt_values is not None:
        _set_optimizer_values(_optimizer(model), opt_values)


def _read_optimizer(f, model):
    """Validated optimizer values, or None (with a warning, as Keras) if they do not match."""
    opt = _optimizer(model)
    saved = _read_vars(f, "optimizer", "") if "optimizer" in f else None
    if opt is None or saved is None:
        return None
    if not getattr(opt, "built", True) and hasattr(opt, "build") and len(saved) > 2:
        opt.build(model.trainable_weights)
    current = [_var_value(v) for v in opt.variables]
    if len(saved) != len(current):
        warnings.warn(f"Skipping variable loading for optimizer "
                      f"'{getattr(opt, 'name', type(opt).__name__)}', because it has "
                      f"{len(current)} variables whereas the saved optimizer has {len(saved)} "
                      "variables.", stacklevel=4)
        return None
    return _check_arrays(saved, current, "Optimizer")


def _set_optimizer_values(opt, values):
    for v, value in zip(opt.variables, values):
        if hasattr(v, "assign"):
            v.assign(value)
        elif isinstance(v, np.ndarray):
            v[...] = value
        else:
            raise TypeError(f"Cannot assign optimizer variable of type {type(v).__name__}.")
