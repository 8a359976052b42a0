"""Activations as NumPy drop-ins (Keras ops semantics), with `out=` and backward helpers."""
from .. import _core
from ._common import as_float, as_floats, check_out

__all__ = ["relu", "relu_backward"]


def relu(x, out=None):
    """max(x, 0) elementwise, NaN propagating as in ``np.maximum(x, 0)``.

    Args:
        x: array-like of any shape.
        out: optional ndarray of x's shape and result dtype to write into.
    """
    x = as_float(x)
    check_out(out, x.shape, x.dtype)
    return _core.relu(x, out)


def relu_backward(dy, x):
    """Gradient of relu: ``dy * (x > 0)``."""
    dy, x = as_floats(dy=dy, x=x)
    if dy.shape != x.shape:
        raise ValueError(f"`dy` and `x` must have the same shape. Received: dy.shape={dy.shape}, "
                         f"x.shape={x.shape}")
    return _core.relu_backward(dy, x)
