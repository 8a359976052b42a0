"""2-D convolution and correlation as drop-ins for ``scipy.signal.convolve2d`` / ``correlate2d``.

Same modes, boundaries, fill value, output shapes and 'valid'-mode operand swap as SciPy, for real
inputs: float32 stays float32, other real inputs compute in float64 (SciPy keeps integer dtypes;
here they become float64), complex input raises ``TypeError``. The C++ core pads the input once
per block of rows by the boundary rule and runs a direct SIMD correlation threaded over rows.
"""
import numpy as np

from .. import _core
from ._common import as_floats, required

__all__ = ["convolve2d", "correlate2d"]

_MODES = ("full", "same", "valid")
_BOUNDARIES = {"fill": 0, "pad": 0, "wrap": 1, "circular": 1, "symm": 2, "symmetric": 2}


def _fill_value(fillvalue):
    """A real scalar or one-element array -> float (SciPy's rule; None means 0)."""
    if fillvalue is None:
        return 0.0
    try:
        arr = np.asarray(fillvalue)
    except Exception:
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`fillvalue` must be a real number. Received: fillvalue={fillvalue!r}")
    if arr.size == 0:
        raise ValueError(f"`fillvalue` cannot be an empty array. Received: fillvalue={fillvalue!r}")
    if arr.size != 1:
        raise ValueError(f"`fillvalue` must be a scalar or an array with one element. "
                         f"Received: fillvalue with shape {arr.shape}")
    return float(arr.reshape(()))


def _check_mode_boundary(mode, boundary):
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"`mode` must be 'full', 'same' or 'valid'. Received: mode={mode!r}")
    if not isinstance(boundary, str) or boundary not in _BOUNDARIES:
        raise ValueError("`boundary` must be 'fill' (or 'pad'), 'wrap' (or 'circular') or 'symm' "
                         f"(or 'symmetric'). Received: boundary={boundary!r}")
    return _BOUNDARIES[boundary]


def _valid_swap(s1, s2):
    """SciPy's 'valid' rule: the larger operand goes first; one must be >= in every dimension."""
    ok1 = all(a >= b for a, b in zip(s1, s2))
    ok2 = all(b >= a for a, b in zip(s1, s2))
    if not (ok1 or ok2):
        raise ValueError("For 'valid' mode, one of `in1` and `in2` must be at least as large as "
                         f"the other in every dimension. Received: in1.shape={s1}, in2.shape={s2}")
    return not ok1


def _geometry(mode, shape1, shape2, convolve):
    """(oh, ow, top, left): output size and where output (0, 0) sits in in1's extended grid."""
    (h, w), (kh, kw) = shape1, shape2
    if mode == "full":
        return h + kh - 1, w + kw - 1, kh - 1, kw - 1
    if mode == "same":  # SciPy centres on the (K-1)//2 tap of the convolution's flipped kernel
        return (h, w, kh // 2, kw // 2) if convolve else (h, w, (kh - 1) // 2, (kw - 1) // 2)
    return h - kh + 1, w - kw + 1, 0, 0


def _run(name, in1, in2, mode, boundary, fillvalue, convolve):
    code = _check_mode_boundary(mode, boundary)
    required(in1=in1, in2=in2)
    in1, in2 = as_floats(in1=in1, in2=in2)
    if in1.ndim != 2 or in2.ndim != 2:
        raise ValueError(f"{name} inputs must both be 2-D arrays. Received: "
                         f"in1.shape={in1.shape}, in2.shape={in2.shape}")
    fill = _fill_value(fillvalue) if code == 0 else 0.0  # SciPy ignores fillvalue otherwise
    swapped = mode == "valid" and _valid_swap(in1.shape, in2.shape)
    if swapped:
        in1, in2 = in2, in1
    oh, ow, top, left = _geometry(mode, in1.shape, in2.shape, convolve)
    if oh < 0 or ow < 0:
        raise ValueError(f"{name}: mode='full' of an empty `in1` needs an `in2` with at least one "
                         f"row and column. Received: in1.shape={in1.shape}, in2.shape={in2.shape}")
    if code != 0 and in1.size == 0 and in2.size and oh * ow:
        raise ValueError(f"{name}: boundary={boundary!r} cannot extend an empty `in1`; use "
                         f"boundary='fill'. Received: in1.shape={in1.shape}")
    out = _core.correlate2d_padded(in1, in2, oh, ow, top, left, code, fill, convolve)
    if swapped and not convolve:  # SciPy returns the swapped correlation reversed
        out = np.ascontiguousarray(out[::-1, ::-1])
    return out


def convolve2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """2-D convolution ``S(i, j) = sum_{m, n} I(m, n) K(i - m, j - n)``, as scipy.signal.convolve2d.

    Args:
        in1: 2-D array-like, the image I.
        in2: 2-D array-like, the kernel K.
        mode: 'full' (shape in1 + in2 - 1), 'same' (in1's shape, centred as SciPy) or 'valid'
            (in1 - in2 + 1; the operands swap when in2 is the larger in every dimension, and one
            must be at least as large as the other in every dimension).
        boundary: 'fill' ('pad'), 'wrap' ('circular') or 'symm' ('symmetric', the edge sample
            repeated) extension of in1 outside its edges.
        fillvalue: real scalar (or one-element array) used outside in1 when boundary='fill'.

    Returns:
        ndarray, float32 if both inputs are float32 else float64.
    """
    return _run("convolve2d", in1, in2, mode, boundary, fillvalue, True)


def correlate2d(in1, in2, mode="full", boundary="fill", fillvalue=0):
    """2-D cross-correlation ``S(i, j) = sum_{m, n} I(m + i, n + j) K(m, n)`` (offset by mode),
    as scipy.signal.correlate2d. Arguments and dtypes as :func:`convolve2d`; in 'valid' mode with
    swapped operands the result is reversed in both axes, as SciPy returns it."""
    return _run("correlate2d", in1, in2, mode, boundary, fillvalue, False)
