"""Activations as NumPy drop-ins (Keras ops semantics), with `out=` and backward helpers.

Every function accepts any shape; float32 stays float32, float64 stays float64, other real input
becomes float64 (see ``_common``). NaN propagates as in the NumPy formulas. The softmax family
subtracts the maximum along `axis`, so it is finite and warning-free for every finite input; a
slice holding +inf or NaN gives what ``exp(x - max) / sum(exp(x - max))`` gives (NaN), silently.
"""
import math
import numbers

import numpy as np

from .. import _core
from ._common import as_float as _as_float, as_floats, check_out, normalize_axis, required

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "relu_backward",
           "sigmoid_backward", "tanh_backward", "softmax_backward", "log_softmax_backward"]


def as_float(x, name="x", dtype=None):
    """``_common.as_float`` keeping 0-d inputs 0-d (np.ascontiguousarray makes them 1-d)."""
    arr = _as_float(x, name, dtype)
    return arr.reshape(()) if arr.ndim == 1 and np.ndim(x) == 0 else arr


def _call(fn, x, out, *args):
    """fn(x, *args, out). The kernels stream through x while writing out, so an `out` that
    overlaps x without being exactly x (a shifted view of the same buffer) goes through a
    temporary, as NumPy's ufuncs do; exact in-place (out is x) is fine."""
    if (out is not None and out.flags.c_contiguous and np.may_share_memory(out, x)
            and (out.__array_interface__["data"][0] != x.__array_interface__["data"][0]
                 or out.strides != x.strides)):
        out[...] = fn(x, *args, None)
        return out
    return fn(x, *args, out)


def _unary(fn, x, out):
    x = as_float(x)
    check_out(out, x.shape, x.dtype)
    return _call(fn, x, out)


def _relu_number(value, name, finite):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    v = float(value)
    if not v >= 0.0 or (finite and math.isinf(v)):  # `not >=` also catches NaN
        kind = "finite non-negative" if finite else "non-negative"
        raise ValueError(f"`{name}` must be a {kind} number"
                         f"{' or None' if name == 'max_value' else ''}. Received: {name}={value!r}")
    return v


def _relu_params(negative_slope, max_value, threshold):
    """(slope, cap, threshold) as floats (cap +inf when max_value is None); None for plain relu."""
    slope = _relu_number(negative_slope, "negative_slope", finite=True)
    cap = math.inf if max_value is None else _relu_number(max_value, "max_value", finite=False)
    thr = _relu_number(threshold, "threshold", finite=True)
    return None if (slope, cap, thr) == (0.0, math.inf, 0.0) else (slope, cap, thr)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0, out=None):
    """Keras's relu: ``max(x, 0)`` by default; NaN propagates.

    With arguments (``keras.activations.relu``): ``min(x, max_value)`` where ``x > threshold``,
    else ``negative_slope * (x - threshold)``; one fused pass either way.

    Args:
        x: array-like of any shape.
        negative_slope: float >= 0, the slope below `threshold` (0.2: leaky relu).
        max_value: None (no cap) or float >= 0, the largest output (6: relu6).
        threshold: float >= 0; inputs at or below it take the negative-slope piece.
        out: optional ndarray of x's shape and result dtype to write into.
    """
    params = _relu_params(negative_slope, max_value, threshold)
    if params is None:
        return _unary(_core.relu, x, out)
    x = as_float(x)
    check_out(out, x.shape, x.dtype)
    return _core.relu_general(x, *params, out)


def sigmoid(x, out=None):
    """``1 / (1 + exp(-x))`` elementwise, without overflow for any x (a few ulp)."""
    return _unary(_core.sigmoid, x, out)


def tanh(x, out=None):
    """``np.tanh(x)`` elementwise (a few ulp); +-inf gives +-1."""
    return _unary(_core.tanh, x, out)


def _softmax(fn, x, axis, out):
    x = as_float(x)
    axis = normalize_axis(axis, x.ndim)
    check_out(out, x.shape, x.dtype)
    return _call(fn, x, out, axis)


def softmax(x, axis=-1, out=None):
    """``exp(x - max) / sum(exp(x - max))`` along `axis`.

    Args:
        x: array-like of any shape (at least 1-D).
        axis: int, the axis to normalize over (negative counts from the end).
        out: optional ndarray of x's shape and result dtype to write into.
    """
    return _softmax(_core.softmax, x, axis, out)


def log_softmax(x, axis=-1, out=None):
    """``x - max - log(sum(exp(x - max)))`` along `axis` (see `softmax`)."""
    return _softmax(_core.log_softmax, x, axis, out)


def _backward(fn, dy, a, aname):
    required(dy=dy, **{aname: a})
    dy, a = as_floats(dy=dy, **{aname: a})
    if dy.shape != a.shape:
        raise ValueError(f"`dy` and `{aname}` must have the same shape. Received: "
                         f"dy.shape={dy.shape}, {aname}.shape={a.shape}")
    return fn(dy, a)


def relu_backward(dy, x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Gradient of `relu` with the same arguments, with x the relu input.

    ``dy`` where ``threshold < x < max_value``, ``negative_slope * dy`` where
    ``x <= threshold``, 0 where ``x >= max_value`` (a kink takes its lower piece's slope; NaN x
    gives 0). Defaults: ``dy * (x > 0)``.
    """
    params = _relu_params(negative_slope, max_value, threshold)
    if params is None:
        return _backward(_core.relu_backward, dy, x, "x")
    return _backward(lambda g, a: _core.relu_general_backward(g, a, *params), dy, x, "x")


def sigmoid_backward(dy, y):
    """Gradient of sigmoid: ``dy * y * (1 - y)``, with y the sigmoid output."""
    return _backward(_core.sigmoid_backward, dy, y, "y")


def tanh_backward(dy, y):
    """Gradient of tanh: ``dy * (1 - y**2)``, with y the tanh output."""
    return _backward(_core.tanh_backward, dy, y, "y")


def _softmax_backward(fn, dy, y, axis):
    required(dy=dy, y=y)
    dy, y = as_floats(dy=dy, y=y)
    if dy.shape != y.shape:
        raise ValueError(f"`dy` and `y` must have the same shape. Received: dy.shape={dy.shape}, "
                         f"y.shape={y.shape}")
    return fn(dy, y, normalize_axis(axis, y.ndim))


def softmax_backward(dy, y, axis=-1):
    """Gradient of softmax: ``y * (dy - sum(dy * y, axis))``, with y the softmax output."""
    return _softmax_backward(_core.softmax_backward, dy, y, axis)


def log_softmax_backward(dy, y, axis=-1):
    """Gradient of log_softmax: ``dy - exp(y) * sum(dy, axis)``, with y the log_softmax output."""
    return _softmax_backward(_core.log_softmax_backward, dy, y, axis)
