"""Input conversion for cnnext.ops: the one place user arrays become kernel arrays.

Rules (NumPy-like): float32 stays float32, float64 stays float64, any other real input (ints,
bools, float16, ...) becomes float64; mixing float32 and float64 gives float64. The result is
C-contiguous (non-contiguous, negative-stride and Fortran views are copied once). Inputs are never
modified: kernels only read them.
"""
import numbers
import operator

import numpy as np

__all__ = ["float_dtype", "as_float", "as_floats", "required", "check_out", "pair",
           "positive_pair", "normalize_padding", "normalize_axis"]


def _kind_error(name, arr):
    return TypeError(f"`{name}` must be an array of real numbers. Received: {name} with dtype "
                     f"{arr.dtype}")


def _as_ndarray(x, name):
    try:
        arr = np.asarray(x)
    except Exception as e:  # ragged lists and other non-array-likes
        raise TypeError(f"`{name}` must be array-like. Received: {type(x).__name__} ({e})") from None
    if arr.dtype.kind not in "biuf":
        raise _kind_error(name, arr)
    return arr


def float_dtype(*arrays):
    """float32 if every array is float32, else float64."""
    return np.float32 if all(a.dtype == np.float32 for a in arrays) else np.float64


def _aligned(arr):
    """arr, or a copy of it if its data is not aligned to the item size (a view at an odd byte
    offset): C++ may only read a float through a float-aligned pointer."""
    return arr if arr.flags.aligned else arr.copy()


def as_float(x, name="x", dtype=None):
    """One array-like -> C-contiguous, aligned float32/float64 ndarray (never the caller's buffer
    if a conversion was needed; the caller's buffer unchanged either way)."""
    arr = _as_ndarray(x, name)
    return _aligned(np.asarray(arr, dtype=dtype or float_dtype(arr), order="C"))  # 0-d stays 0-d


def as_floats(**named):
    """Several array-likes -> one common float dtype. Keyword order is kept; None passes through."""
    arrs = {k: (None if v is None else _as_ndarray(v, k)) for k, v in named.items()}
    dtype = float_dtype(*[a for a in arrs.values() if a is not None])
    return [None if a is None else _aligned(np.asarray(a, dtype=dtype, order="C"))
            for a in arrs.values()]


def required(**named):
    """TypeError for a required array-like given as None (as_floats lets None through for the
    optional ones, which would otherwise fail later as an AttributeError)."""
    for name, value in named.items():
        if value is None:
            raise TypeError(f"`{name}` must be an array of real numbers. Received: {name}=None")


def check_out(out, shape, dtype, name="out"):
    """Validate an `out=` array: exact ndarray of the result's shape and dtype, writeable."""
    if out is None:
        return None
    if not isinstance(out, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy.ndarray or None. Received: {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"`{name}` must have dtype {np.dtype(dtype)}. Received: {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"`{name}` must have shape {tuple(shape)}. Received: {out.shape}")
    if not out.flags.writeable:
        raise ValueError(f"`{name}` must be writeable")
    if not out.flags.aligned:
        raise ValueError(f"`{name}` must be aligned to its item size ({out.itemsize} bytes)")
    return out


def _int(v, name, value):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"`{name}` must be an int or a tuple of 2 ints. Received: {name}={value!r}")
    return operator.index(v)


def pair(value, name):
    """An int or a pair of ints -> a tuple of two Python ints."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"`{name}` must be an int or a tuple of 2 ints. "
                             f"Received: {name}={value!r}")
        return (_int(value[0], name, value), _int(value[1], name, value))
    v = _int(value, name, value)
    return (v, v)


def positive_pair(value, name):
    p = pair(value, name)
    if p[0] < 1 or p[1] < 1:
        raise ValueError(f"`{name}` must be positive. Received: {name}={value!r}")
    return p


def normalize_padding(padding):
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"`padding` must be 'valid' or 'same'. Received: padding={padding!r}")
    return padding.lower()


def normalize_axis(axis, ndim):
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"`axis` must be an int. Received: axis={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"`axis` {axis} is out of range for an array of {ndim} dimensions")
    return axis % ndim
