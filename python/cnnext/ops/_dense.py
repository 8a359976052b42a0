"""Matrix products and the dense (fully connected) layer as NumPy drop-ins.

Layouts follow Keras: ``x`` is (..., in), a dense ``kernel`` is (in, out), ``bias`` is (out,).
Every op is threaded and gives bitwise-identical results for any thread count.
"""
import numpy as np

from .. import _core
from ._common import _as_ndarray, as_float, as_floats, check_out, float_dtype, required

__all__ = ["matmul", "dense", "dense_backprop_input", "dense_backprop_kernel",
           "dense_backprop_bias"]

_ACTIVATIONS = {None: 0, "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}
_INT64_MAX = np.iinfo(np.int64).max


def _activation_code(activation):
    if isinstance(activation, str) and activation.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[activation.lower()]
    if activation is None:
        return 0
    raise ValueError("`activation` must be one of None, 'linear', 'relu', 'sigmoid', 'tanh'. "
                     f"Received: activation={activation!r}")


def _floats(**named):
    """as_floats, keeping 0-d inputs 0-d (np.ascontiguousarray makes them 1-D) for the checks."""
    required(**{k: v for k, v in named.items() if k != "bias"})
    arrs = as_floats(**named)
    return [a if a is None or np.ndim(v) else a.reshape(()) for a, v in zip(arrs, named.values())]


def _check_size(shape, what):
    n = 1
    for d in shape:
        n *= d
        if n > _INT64_MAX:
            raise ValueError(f"The {what} of shape {tuple(shape)} is too large: its size "
                             "overflows a 64-bit integer")


def _rows(a):
    """(..., n) -> (prod(...), n) without a copy (a is C-contiguous)."""
    return a.reshape(-1, a.shape[-1]) if a.shape[-1] else a.reshape(int(np.prod(a.shape[:-1])), 0)


def _distinct_elements(arr):
    """True when no two elements of `arr` share memory. Broadcast (zero-stride) and other
    overlapping views can report far more elements than the memory behind them (2**60 from
    one float): they are copied, so an impossible size fails fast as NumPy's MemoryError."""
    extent = arr.itemsize
    for stride, n in sorted((abs(s), n) for s, n in zip(arr.strides, arr.shape) if n > 1):
        if stride < extent:
            return False
        extent = stride * (n - 1) + extent
    return True


def _matmul_operand(arr, name, dtype):
    """An ndarray already of the computing dtype goes to _core as it is, whatever its strides
    (the kernels read transposed, sliced and reversed views in place), unless its elements
    overlap; anything else, misaligned data included, is converted once by as_float."""
    if (arr.dtype == dtype and arr.flags.aligned
            and all(s % arr.itemsize == 0 for s in arr.strides) and _distinct_elements(arr)):
        return arr
    return as_float(arr, name, dtype)


def matmul(a, b, out=None):
    """Matrix product of two 1-D or 2-D arrays, as ``np.matmul``.

    Args:
        a: array-like of shape (M, K), or (K,) (treated as one row, dropped from the result).
        b: array-like of shape (K, N), or (K,) (treated as one column, dropped from the result).
        out: optional C-contiguous ndarray of the result's shape and dtype to write into.

    Returns:
        (M, N), (N,), (M,) or a 0-d array for two 1-D operands, float32 if both are float32.
    """
    a0, b0 = _as_ndarray(a, "a"), _as_ndarray(b, "b")
    for name, arr in (("a", a0), ("b", b0)):
        if arr.ndim not in (1, 2):
            raise ValueError(f"`{name}` must be a 1-D or 2-D array (batched matmul is not "
                             f"supported). Received: {name}.shape={arr.shape}")
    a2 = a0[None, :] if a0.ndim == 1 else a0
    b2 = b0[:, None] if b0.ndim == 1 else b0
    if a2.shape[1] != b2.shape[0]:
        raise ValueError("matmul: the inner dimensions must match: a.shape[-1] == b.shape[0] "
                         f"(b.shape[-1] for 1-D b). Received: a.shape={a0.shape}, "
                         f"b.shape={b0.shape}")
    dtype = float_dtype(a0, b0)
    ta, tb = _matmul_operand(a2, "a", dtype), _matmul_operand(b2, "b", dtype)
    shape = tuple(a0.shape[:-1]) + tuple(b0.shape[1:])
    _check_size((a2.shape[0], b2.shape[1]), "result")
    if out is None:
        return _core.matmul(ta, tb).reshape(shape)
    check_out(out, shape, dtype)
    if not out.flags.c_contiguous:
        raise ValueError("`out` must be C-contiguous")
    target = out.reshape(a2.shape[0], b2.shape[1])
    if np.may_share_memory(out, a0) or np.may_share_memory(out, b0):
        target[...] = _core.matmul(ta, tb)
    else:
        _core.matmul(ta, tb, target)
    return out


def _check_kernel(kernel, n_in, name="x"):
    if kernel.ndim != 2:
        raise ValueError(f"`kernel` must be a 2-D array of shape (in, out). "
                         f"Received: kernel.shape={kernel.shape}")
    if kernel.shape[0] != n_in:
        raise ValueError(f"`kernel` must have shape (in, out) with in == {name}.shape[-1] = "
                         f"{n_in}. Received: kernel.shape={kernel.shape}")


def _check_rank(arr, name):
    if arr.ndim < 1:
        raise ValueError(f"`{name}` must have rank >= 1, with the features on the last axis. "
                         f"Received: {name}.shape={arr.shape}")


def dense(x, kernel, bias=None, activation=None):
    """``activation(x @ kernel + bias)`` with the bias and activation fused into the product.

    Args:
        x: array-like of shape (..., in).
        kernel: array-like of shape (in, out).
        bias: optional array-like of shape (out,).
        activation: None / "linear", "relu", "sigmoid" or "tanh".

    Returns:
        ndarray of shape (..., out).
    """
    code = _activation_code(activation)
    x, kernel, bias = _floats(x=x, kernel=kernel, bias=bias)
    _check_rank(x, "x")
    _check_kernel(kernel, x.shape[-1])
    out = kernel.shape[1]
    if bias is not None and bias.shape != (out,):
        raise ValueError(f"`bias` must have shape (out,) with out == kernel.shape[1] = {out}. "
                         f"Received: bias.shape={bias.shape}")
    _check_size(x.shape[:-1] + (out,), "output")
    return _core.dense(_rows(x), kernel, bias, code).reshape(x.shape[:-1] + (out,))


def dense_backprop_input(dy, kernel):
    """Gradient of ``x @ kernel`` with respect to x: ``dy @ kernel.T``.

    Args:
        dy: array-like of shape (..., out).
        kernel: array-like of shape (in, out).

    Returns:
        ndarray of shape (..., in).
    """
    dy, kernel = _floats(dy=dy, kernel=kernel)
    _check_rank(dy, "dy")
    if kernel.ndim != 2:
        raise ValueError(f"`kernel` must be a 2-D array of shape (in, out). "
                         f"Received: kernel.shape={kernel.shape}")
    if kernel.shape[1] != dy.shape[-1]:
        raise ValueError(f"`kernel` must have shape (in, out) with out == dy.shape[-1] = "
                         f"{dy.shape[-1]}. Received: kernel.shape={kernel.shape}")
    n_in = kernel.shape[0]
    _check_size(dy.shape[:-1] + (n_in,), "output")
    return _core.dense_backprop_input(_rows(dy), kernel).reshape(dy.shape[:-1] + (n_in,))


def dense_backprop_kernel(x, dy):
    """Gradient of ``x @ kernel`` with respect to the kernel: ``x.T @ dy`` over all leading axes.

    Args:
        x: array-like of shape (..., in).
        dy: array-like of shape (..., out), the same leading shape as x.

    Returns:
        ndarray of shape (in, out).
    """
    x, dy = _floats(x=x, dy=dy)
    _check_rank(x, "x")
    _check_rank(dy, "dy")
    if x.shape[:-1] != dy.shape[:-1]:
        raise ValueError("`x` and `dy` must have the same leading shape (all but the last axis). "
                         f"Received: x.shape={x.shape}, dy.shape={dy.shape}")
    _check_size((x.shape[-1], dy.shape[-1]), "output")
    return _core.dense_backprop_kernel(_rows(x), _rows(dy))


def dense_backprop_bias(dy):
    """Gradient of ``+ bias`` with respect to the bias: dy summed over all but the last axis.

    Args:
        dy: array-like of shape (..., out).

    Returns:
        ndarray of shape (out,).
    """
    (dy,) = _floats(dy=dy)
    _check_rank(dy, "dy")
    return _core.dense_backprop_bias(_rows(dy))
