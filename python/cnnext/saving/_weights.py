"""model.weights.h5: Keras 3's HDF5 layout, written from and validated into a model."""
import io
import re
import warnings

import numpy as np


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


def _check_h5_signature(data, what):
    if not data.startswith(b"\x89HDF\r\n\x1a\n"):
        raise ValueError(f"Invalid weights file {what}: not an HDF5 file (bad signature; "
                         "pickles and other formats are never read).")


class _open_h5:
    """Open HDF5 bytes read-only from memory; turn h5py/HDF5 errors into ValueError."""

    def __init__(self, data, what):
        self.data, self.what, self.file = data, what, None

    def __enter__(self):
        import h5py

        _check_h5_signature(self.data, self.what)
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


def _var_datasets(parent, key, where):
    """Datasets parent/key/vars/0..n-1 (None if parent/key is absent), not yet read."""
    import h5py

    g = _h5_child(parent, key, h5py.Group, where)
    if g is None:
        return None
    vars_group = _h5_child(g, "vars", h5py.Group, f"{where}/{key}")
    if vars_group is None:
        return []
    names = list(vars_group.keys())
    if sorted(names) != sorted(str(i) for i in range(len(names))):
        raise ValueError(f"Invalid weights file: {where}/{key}/vars must hold datasets named "
                         f"0..{len(names) - 1}. Received: {sorted(names)[:20]}")
    return [_h5_child(vars_group, str(i), h5py.Dataset, f"{where}/{key}/vars")
            for i in range(len(names))]


# HDF5 filters built into libhdf5/h5py. Any other filter id would make HDF5 look for a plugin
# library on HDF5_PLUGIN_PATH, i.e. load native code because a file asked for it.
_BUILTIN_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                    6: "scaleoffset", 32000: "lzf"}


def _check_filters(ds):
    plist = ds.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _BUILTIN_FILTERS:
            raise ValueError(f"Invalid weights file: {ds.name} is compressed with HDF5 filter "
                             f"{code}, which is not built in (plugin filters are never loaded).")


def _read_checked(datasets, expected, what):
    """Check count, shape and dtype of `datasets` against the arrays `expected` *before* reading
    anything (a hostile file cannot make us allocate more than the model's own size), then read
    them as plain numeric arrays cast to the expected dtypes."""
    if len(datasets) != len(expected):
        raise ValueError(f"{what} expected {len(expected)} variables, but the file has "
                         f"{len(datasets)}.")
    for i, (ds, e) in enumerate(zip(datasets, expected)):
        kind = ds.dtype.kind
        if kind not in "biuf" or ds.dtype.fields is not None or ds.dtype.subdtype is not None:
            raise ValueError(f"Invalid weights file: {ds.name} has dtype {ds.dtype}; only "
                             "numeric arrays are accepted.")
        if ds.external or ds.is_virtual:
            raise ValueError(f"Invalid weights file: {ds.name} refers to data outside the file "
                             "(external or virtual dataset).")
        _check_filters(ds)
        if ds.shape != e.shape:
            raise ValueError(f"{what}: variable {i} has shape {ds.shape} in the file, but the "
                             f"model expects {e.shape}.")
        if kind != e.dtype.kind and not (kind in "iu" and e.dtype.kind in "iu"):
            raise ValueError(f"{what}: variable {i} has dtype {ds.dtype} in the file, but the "
                             f"model expects {e.dtype}.")
    out = []
    for ds, e in zip(datasets, expected):
        try:
            out.append(np.asarray(ds[()]).astype(e.dtype, copy=False))
        except (OSError, ValueError, RuntimeError) as err:
            raise ValueError(f"Invalid weights file: cannot read {ds.name} (truncated or "
                             f"corrupt). {type(err).__name__}: {err}") from None
    return out


def _load_h5_into_model(f, model, load_optimizer, skip_mismatch):
    """Validate every weight in the file against `model`, then assign them all."""
    import h5py

    if not getattr(model, "built", True):
        raise ValueError("The model must be built before loading weights into it: call "
                         "`model.build(input_shape)` or pass data through it first.")
    layers_group = _h5_child(f, "layers", h5py.Group, "")
    if layers_group is None:
        raise ValueError("Invalid weights file: no `layers` group (not a Keras 3 weights file).")
    keyed = _layer_keys(model)
    extra = sorted(set(layers_group.keys()) - {k for k, _ in keyed})
    if extra:
        shown = extra[:10] + ([f"... {len(extra) - 10} more"] if len(extra) > 10 else [])
        msg = (f"The weights file has layers {shown} that the model lacks (model layers: "
               f"{[k for k, _ in keyed]}).")
        if not skip_mismatch:
            raise ValueError(msg)
        warnings.warn(msg, stacklevel=3)
    updates = []
    for key, layer in keyed:
        datasets = _var_datasets(layers_group, key, "layers")
        try:
            if datasets is None:
                raise ValueError(f"Layer {layer.name!r} ({key}) is missing from the weights file.")
            expected = [np.asarray(w) for w in layer.get_weights()]
            updates.append((layer, _read_checked(datasets, expected, f"Layer {layer.name!r}")))
        except ValueError as e:
            if not skip_mismatch or str(e).startswith("Invalid weights file"):
                raise
            warnings.warn(f"Skipping loading weights for layer {layer.name!r}: {e}", stacklevel=3)
    opt_values = _read_optimizer(f, model) if load_optimizer else None
    from .. import _interrupt

    with _interrupt.atomic():  # everything validated: now mutate, all or nothing on Ctrl-C
        for layer, arrays in updates:
            layer.set_weights(arrays)
        if opt_values is not None:
            _set_optimizer_values(_optimizer(model), opt_values)


def _read_optimizer(f, model):
    """Validated optimizer values, or None (with a warning, as Keras) if the count differs."""
    opt = _optimizer(model)
    saved = _var_datasets(f, "optimizer", "") if opt is not None else None
    if saved is None:
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
    return _read_checked(saved, current, "Optimizer")


def _set_optimizer_values(opt, values):
    for v, value in zip(opt.variables, values):
        if hasattr(v, "assign"):
            v.assign(value)
        elif isinstance(v, np.ndarray):
            v[...] = value
        else:
            raise TypeError(f"Cannot assign optimizer variable of type {type(v).__name__}.")
