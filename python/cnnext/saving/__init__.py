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
import os
import zipfile

from ._archive import (CONFIG as _CONFIG, METADATA as _METADATA, MAX_WEIGHTS_BYTES,
                       WEIGHTS as _WEIGHTS, _atomic_write, _check_path,
                       _parse_json, _read_capped, _read_keras_zip)
from ._serialization import (_check_config_tree, _deserialize_model, _serialize_model,
                             _to_json_safe)  # noqa: F401 (models.to_json uses it)
from ._weights import _load_h5_into_model, _open_h5, _weights_to_h5_bytes

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]

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
    try:
        _check_config_tree(config, custom_objects)
    except RecursionError:
        raise ValueError("Invalid `.keras` file: config.json is nested too deeply.") from None
    model = _deserialize_model(config, custom_objects, compile)
    with _open_h5(members[_WEIGHTS], _WEIGHTS) as f:
        _load_h5_into_model(f, model, load_optimizer=compile, skip_mismatch=False)
    return model


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
    if str(path).endswith(".keras"):
        data = _read_keras_zip(path).get(_WEIGHTS)
        if data is None:
            raise ValueError(f"Invalid `.keras` file {path!s}: no member {_WEIGHTS!r}.")
    else:
        data = _read_capped(path, MAX_WEIGHTS_BYTES, "weights file")
    with _open_h5(data, os.path.basename(str(path))) as f:
        _load_h5_into_model(f, model, load_optimizer=True, skip_mismatch=skip_mismatch)


def _check_model(model):
    missing = [a for a in ("layers", "get_config", "get_weights", "name") if not hasattr(model, a)]
    if missing:
        raise TypeError(f"`model` must be a cnnext model (with {', '.join(missing)}). "
                        f"Received: model={model!r} of type {type(model).__name__}")
