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

Loading never unpickles or evaluates anything and never writes a file: JSON is parsed as data
(at most 64 levels deep), HDF5 datasets are read only as plain numeric arrays stored in the file
itself (no links, external or virtual data, or plugin filters), zip members are read in memory,
never extracted, under size caps checked before inflating (the weights member may not be much
larger than the model needs, and the model's weights may not be larger than the weights member),
and every serialized object must name a known layer / initializer / optimizer / loss / metric class
(or one passed in ``custom_objects``). Anything else raises ``ValueError`` saying what was found.
``safe_mode`` is accepted for Keras compatibility; cnnext behaves as Keras's safe mode always.
"""
import datetime
import io
import json
import os
import zipfile

import numpy as np

from .. import _custom_objects
from .._custom_objects import (CustomObjectScope, custom_object_scope, get_custom_objects,
                               get_registered_name, get_registered_object,
                               register_keras_serializable)
from ._archive import (CONFIG as _CONFIG, METADATA as _METADATA, MAX_WEIGHTS_BYTES,
                       WEIGHTS as _WEIGHTS, _atomic_write, _check_path, _KerasZip,
                       _parse_json, _read_capped)
from ._serialization import (_check_config_tree, _check_depth, _deserialize_model,
                             _serialize_model, _to_json_safe)  # noqa: F401 (models.to_json)
from ._weights import (_check_h5_signature, _load_h5_into_model, _open_h5,
                       _weights_to_h5_bytes)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_from_json",
           "register_keras_serializable", "CustomObjectScope", "custom_object_scope",
           "get_custom_objects", "get_registered_name", "get_registered_object"]

KERAS_VERSION = "3.15.1"  # the Keras release whose file layout this module writes


def save_model(model, filepath, overwrite=True):
    """Save `model` (architecture, weights, compile config, optimizer state) to a `.keras` file.

    Args:
        model: a built `cnnext.models.Sequential`.
        filepath: `str` or `os.PathLike` ending in `.keras`.
        overwrite: if False and the file exists, raise `FileExistsError`.
    """
    path = _check_path(filepath, (".keras",))
    _check_model(model)
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
    path = _check_path(filepath, (".keras",), must_exist=True)
    with _KerasZip(path) as zf:
        missing = [n for n in (_CONFIG, _WEIGHTS) if n not in zf]
        if missing:
            raise ValueError(f"Invalid `.keras` file {path!s}: missing archive member(s) "
                             f"{missing}. Received members: {sorted(zf.infos)}")
        if _METADATA in zf:
            metadata = _parse_json(zf.read(_METADATA), _METADATA)
            if not isinstance(metadata, dict):
                raise ValueError(f"Invalid `.keras` file: {_METADATA} must hold a JSON object. "
                                 f"Received: {type(metadata).__name__}")
        config = _parse_json(zf.read(_CONFIG), _CONFIG)
        _check_h5_signature(zf.head(_WEIGHTS, 8), _WEIGHTS)
        custom_objects = _custom_objects.visible(custom_objects)  # + registry and scope
        _check_config(config, custom_objects)
        model = _deserialize_model(config, custom_objects, compile,
                                   weights_budget=zf.size(_WEIGHTS))
        data = zf.read(_WEIGHTS, _weights_read_cap(model))
    with _open_h5(data, _WEIGHTS) as f:
        _load_h5_into_model(f, model, load_optimizer=compile, skip_mismatch=False)
    return model


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model (architecture only) from `model.to_json()`, with the same checks as
    `load_model`: known classes only, no code, bounded nesting; bad input raises ValueError."""
    if isinstance(json_string, bytes):
        data = json_string
    elif isinstance(json_string, str):
        data = json_string.encode("utf-8", "surrogatepass")
    else:
        raise TypeError(f"`json_string` must be a str. Received: {type(json_string).__name__}")
    config = _parse_json(data, "the string", source="model JSON")
    custom_objects = _custom_objects.visible(custom_objects)  # + registry and scope
    _check_config(config, custom_objects, "the string", "model JSON")
    return _deserialize_model(config, custom_objects, compile=False)


def _check_config(config, custom_objects, what=_CONFIG, source="`.keras` file"):
    _check_depth(config, what, source)  # first: the tree walk below recurses
    _check_config_tree(config, custom_objects)


def _weights_read_cap(model):
    """The most bytes a weights file for `model` may hold: 16 times its weights and optimizer
    state (room for extra optimizer slots, float64 copies) plus HDF5 overhead per variable. Checked before
    anything is read or inflated, so a small model never makes us allocate gigabytes."""
    arrays = list(model.get_weights())
    opt = getattr(model, "optimizer", None)
    if opt is not None and getattr(opt, "built", False):
        arrays += [np.asarray(getattr(v, "value", v)) for v in opt.variables]
    nbytes = sum(int(np.asarray(a).nbytes) for a in arrays)
    return min(MAX_WEIGHTS_BYTES, (1 << 20) + 16 * nbytes + (64 << 10) * 4 * len(arrays))


def save_weights(model, filepath, overwrite=True):
    """Save the weights of `model` (and its optimizer state) to a `.weights.h5` file."""
    path = _check_path(filepath, (".weights.h5",))
    _check_model(model)
    _atomic_write(path, _weights_to_h5_bytes(model), overwrite)


def load_weights(model, filepath, skip_mismatch=False):
    """Load weights into `model` from a `.weights.h5` file or the weights inside a `.keras` file.

    The model must already have the saved architecture (same layer classes in the same order and
    same weight shapes). Nothing is changed unless every weight matches, except that with
    `skip_mismatch=True` layers whose weights do not match are skipped with a warning.
    """
    _check_model(model)
    path = _check_path(filepath, (".weights.h5", ".keras"), must_exist=True)
    cap = _weights_read_cap(model)
    if str(path).endswith(".keras"):
        with _KerasZip(path) as zf:
            if _WEIGHTS not in zf:
                raise ValueError(f"Invalid `.keras` file {path!s}: no member {_WEIGHTS!r}.")
            data = zf.read(_WEIGHTS, cap)
    else:
        data = _read_capped(path, cap, "weights file")
    with _open_h5(data, os.path.basename(str(path))) as f:
        _load_h5_into_model(f, model, load_optimizer=True, skip_mismatch=skip_mismatch)


def _check_model(model):
    missing = [a for a in ("layers", "get_config", "get_weights", "name") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"`model` must be a cnnext model (with {', '.join(missing)}). "
                        f"Received: model={model!r} of type {type(model).__name__}")
