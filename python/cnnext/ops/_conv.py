"""2-D convolution and its gradients as NumPy drop-ins (Keras / TF semantics, NHWC layout).

Shapes: x (N, H, W, C), kernel (KH, KW, C, F) as Keras stores it, bias (F,), y and dy
(N, OH, OW, F). ``padding="same"`` follows TF: OH = ceil(H / stride) and the total padding
max((OH - 1) * stride + (KH - 1) * dilation + 1 - H, 0) is split with the extra row at the bottom
(column at the right). Unlike Keras layers, strides > 1 together with dilation > 1 is allowed.
"""
import numbers
import operator

import numpy as np

from .. import _core
from ._common import as_floats, check_out, normalize_padding, positive_pair, required

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_kernel", "conv2d_backprop_bias"]

_ACTIVATIONS = {None: 0, "linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}
_LIMIT = 2 ** 40  # any extent beyond this could overflow 64-bit index arithmetic


def _check_rank(op, name, arr, layout):
    if arr.ndim != 4:
        raise ValueError(f"{op}: `{name}` must be 4-D {layout}. Received: {name}.shape={arr.shape}")


def _shape4(op, name, value, layout):
    """A user-given (N, H, W, C)-style shape -> tuple of 4 non-negative Python ints."""
    try:
        dims = tuple(value)
        ok = len(dims) == 4 and all(isinstance(d, numbers.Integral) and not isinstance(d, bool)
                                    for d in dims)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: `{name}` must be a tuple of 4 ints {layout}. "
                         f"Received: {name}={value!r}")
    dims = tuple(operator.index(d) for d in dims)
    if min(dims) < 0 or max(dims) >= _LIMIT:
        raise ValueError(f"{op}: `{name}` entries must be in [0, 2**40). Received: {name}={dims}")
    return dims


def _run(call, out, shape, dtype, inputs):
    """call(None) allocates the result; call(out) writes into a validated `out=` array (through a
    temporary when `out` overlaps an input, since the kernels read inputs while writing)."""
    if out is None:
        return call(None)
    check_out(out, shape, dtype)
    if not out.flags.c_contiguous:
        raise ValueError("`out` must be C-contiguous")
    if any(a is not None and np.may_share_memory(out, a) for a in inputs):
        out[...] = call(None)
    else:
        call(out)
    return out


def _geometry(op, x_shape, k_shape, strides, padding, dilation_rate):
    """Validated (out_hw, pad_top_left, strides, dilation) for an NHWC input and HWIO kernel."""
    s = positive_pair(strides, "strides")
    d = positive_pair(dilation_rate, "dilation_rate")
    padding = normalize_padding(padding)
    if min(x_shape[1:]) < 1:
        raise ValueError(f"{op}: the input must have positive height, width and channels. "
                         f"Received: input shape {tuple(x_shape)}")
    if min(k_shape[:2]) < 1:
        raise ValueError(f"{op}: the kernel must have positive height and width. "
                         f"Received: kernel shape {tuple(k_shape)}")
    if max(s + d + tuple(x_shape) + tuple(k_shape)) >= _LIMIT:
        raise ValueError(f"{op}: sizes must be below 2**40. Received: input shape "
                         f"{tuple(x_shape)}, kernel shape {tuple(k_shape)}, strides={s}, "
                         f"dilation_rate={d}")
    out, pad = [], []
    for i in range(2):
        size, ext = x_shape[1 + i], (k_shape[i] - 1) * d[i] + 1
        if padding == "same":
            o = -(-size // s[i])
            pad.append(max((o - 1) * s[i] + ext - size, 0) // 2)
        else:
            o = (size - ext) // s[i] + 1 if size >= ext else 0
            pad.append(0)
        out.append(o)
    if min(out) < 1:
        raise ValueError(f"{op}: the output would be empty: the kernel of size "
                         f"{tuple(k_shape[:2])} with dilation_rate={d} does not fit in the input "
                         f"of size {tuple(x_shape[1:3])} with padding='{padding}' "
                         f"(computed output size {tuple(out)})")
    return tuple(out), tuple(pad), s, d


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None,
           out=None):
    """2-D convolution (cross-correlation, as Keras/TF), with optional fused bias and activation.

    Args:
        x: (N, H, W, C) input.
        kernel: (KH, KW, C, F) weights.
        bias: optional (F,) bias.
        strides, dilation_rate: an int or a pair of ints (height, width), positive.
        padding: "valid" or "same" (TF's split: the extra padding goes bottom/right).
        activation: None, "linear", "relu", "sigmoid" or "tanh", applied after the bias.
        out: optional C-contiguous (N, OH, OW, F) array of the result dtype to write into.

    Returns:
        (N, OH, OW, F) array, float32 if every input is float32, else float64.

    Example:
        >>> y = conv2d(np.ones((2, 28, 28, 1), np.float32), np.ones((3, 3, 1, 32), np.float32))
        >>> y.shape
        (2, 26, 26, 32)
    """
    op = "conv2d"
    raw = (x, kernel, bias)
    if not (activation is None or isinstance(activation, str)) or activation not in _ACTIVATIONS:
        raise ValueError(f"{op}: `activation` must be one of None, 'linear', 'relu', 'sigmoid', "
                         f"'tanh'. Received: activation={activation!r}")
    required(x=x, kernel=kernel)
    x, kernel, bias = as_floats(x=x, kernel=kernel, bias=bias)
    _check_rank(op, "x", x, "(N, H, W, C)")
    _check_rank(op, "kernel", kernel, "(KH, KW, C, F)")
    if kernel.shape[2] != x.shape[3]:
        raise ValueError(f"{op}: `kernel` expects {kernel.shape[2]} input channels but `x` has "
                         f"{x.shape[3]}. Received: x.shape={x.shape}, kernel.shape={kernel.shape}")
    if bias is not None and bias.shape != (kernel.shape[3],):
        raise ValueError(f"{op}: `bias` must have shape ({kernel.shape[3]},) (one value per "
                         f"filter). Received: bias.shape={bias.shape}")
    out_hw, pad, s, d = _geometry(op, x.shape, kernel.shape, strides, padding, dilation_rate)
    shape = (x.shape[0],) + out_hw + (kernel.shape[3],)
    return _run(lambda o: _core.conv2d(x, kernel, bias, s, d, pad, out_hw,
                                       _ACTIVATIONS[activation], o),
                out, shape, x.dtype, raw + (x, kernel, bias))


def conv2d_backprop_input(dy, kernel, input_shape, strides=1, padding="valid", dilation_rate=1,
                          out=None):
    """Gradient of conv2d with respect to its input: dx of shape `input_shape` (N, H, W, C).

    Deterministic: bitwise identical results for any thread count. `out`: optional array to
    write dx into.
    """
    op = "conv2d_backprop_input"
    raw = (dy, kernel)
    input_shape = _shape4(op, "input_shape", input_shape, "(N, H, W, C)")
    required(dy=dy, kernel=kernel)
    dy, kernel = as_floats(dy=dy, kernel=kernel)
    _check_rank(op, "dy", dy, "(N, OH, OW, F)")
    _check_rank(op, "kernel", kernel, "(KH, KW, C, F)")
    out_hw, pad, s, d = _geometry(op, input_shape, kernel.shape, strides, padding, dilation_rate)
    expected = (input_shape[0],) + out_hw + (kernel.shape[3],)
    if kernel.shape[2] != input_shape[3] or dy.shape != expected:
        raise ValueError(f"{op}: `dy` must have shape {expected} for input_shape={input_shape}, "
                         f"kernel.shape={kernel.shape}, strides={s}, padding={padding!r}, "
                         f"dilation_rate={d}, and `kernel` must have {input_shape[3]} input "
                         f"channels. Received: dy.shape={dy.shape}")
    return _run(lambda o: _core.conv2d_backprop_input(dy, kernel, input_shape, s, d, pad, o),
                out, input_shape, dy.dtype, raw + (dy, kernel))


def conv2d_backprop_kernel(x, dy, kernel_shape, strides=1, padding="valid", dilation_rate=1,
                           out=None):
    """Gradient of conv2d with respect to its kernel: dkernel of shape `kernel_shape`.

    Deterministic: bitwise identical results for any thread count. `out`: optional array to
    write dkernel into.
    """
    op = "conv2d_backprop_kernel"
    raw = (x, dy)
    kernel_shape = _shape4(op, "kernel_shape", kernel_shape, "(KH, KW, C, F)")
    required(x=x, dy=dy)
    x, dy = as_floats(x=x, dy=dy)
    _check_rank(op, "x", x, "(N, H, W, C)")
    _check_rank(op, "dy", dy, "(N, OH, OW, F)")
    out_hw, pad, s, d = _geometry(op, x.shape, kernel_shape, strides, padding, dilation_rate)
    expected = (x.shape[0],) + out_hw + (kernel_shape[3],)
    if kernel_shape[2] != x.shape[3] or dy.shape != expected:
        raise ValueError(f"{op}: `dy` must have shape {expected} for x.shape={x.shape}, "
                         f"kernel_shape={kernel_shape}, strides={s}, padding={padding!r}, "
                         f"dilation_rate={d}, and `kernel_shape` must have {x.shape[3]} input "
                         f"channels. Received: dy.shape={dy.shape}")
    return _run(lambda o: _core.conv2d_backprop_kernel(x, dy, kernel_shape, s, d, pad, o),
                out, kernel_shape, x.dtype, raw + (x, dy))


def conv2d_backprop_bias(dy, out=None):
    """Gradient of conv2d with respect to its bias: ``dy.sum((0, 1, 2))`` (deterministic)."""
    raw = dy
    required(dy=dy)
    (dy,) = as_floats(dy=dy)
    _check_rank("conv2d_backprop_bias", "dy", dy, "(N, OH, OW, F)")
    return _run(lambda o: _core.conv2d_backprop_bias(dy, o), out, dy.shape[3:], dy.dtype,
                (raw, dy))
