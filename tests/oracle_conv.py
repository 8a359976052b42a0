"""Straightforward NumPy float64 oracles for 2-D convolution (NHWC, kernel HWIO), in the style of
Keras's conv_test.py `np_conv2d`: explicit zero padding, then one strided slice per kernel tap."""
import numpy as np


def conv_geometry(size, k, s, d, padding):
    """(output size, pad before, pad after) along one spatial axis, TF semantics."""
    ext = (k - 1) * d + 1
    if padding == "same":
        out = -(-size // s)
        total = max((out - 1) * s + ext - size, 0)
        return out, total // 2, total - total // 2
    return (size - ext) // s + 1, 0, 0


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _setup(x_shape, k_shape, strides, padding, dilation_rate):
    s, d = _pair(strides), _pair(dilation_rate)
    gh = conv_geometry(x_shape[1], k_shape[0], s[0], d[0], padding)
    gw = conv_geometry(x_shape[2], k_shape[1], s[1], d[1], padding)
    return s, d, gh, gw


def _tap(a, kh, kw, s, d, oh, ow):
    """The (N, OH, OW, C) slice of padded `a` that kernel tap (kh, kw) sees."""
    return a[:, kh * d[0]: kh * d[0] + (oh - 1) * s[0] + 1: s[0],
             kw * d[1]: kw * d[1] + (ow - 1) * s[1] + 1: s[1], :]


_ACT = {None: lambda v: v, "linear": lambda v: v, "relu": lambda v: np.maximum(v, 0),
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh}


def np_conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None):
    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    s, d, (oh, ph0, ph1), (ow, pw0, pw1) = _setup(x.shape, kernel.shape, strides, padding,
                                                  dilation_rate)
    xp = np.pad(x, ((0, 0), (ph0, ph1), (pw0, pw1), (0, 0)))
    y = np.zeros((x.shape[0], oh, ow, kernel.shape[3]))
    for kh in range(kernel.shape[0]):
        for kw in range(kernel.shape[1]):
            y += _tap(xp, kh, kw, s, d, oh, ow) @ kernel[kh, kw]
    if bias is not None:
        y += np.asarray(bias, np.float64)
    return _ACT[activation](y)


def np_conv2d_backprop_input(dy, kernel, input_shape, strides=1, padding="valid",
                             dilation_rate=1):
    """The adjoint of np_conv2d in x: scatter dy . kernel[kh, kw]^T into the padded input."""
    dy, kernel = np.asarray(dy, np.float64), np.asarray(kernel, np.float64)
    s, d, (oh, ph0, ph1), (ow, pw0, pw1) = _setup(input_shape, kernel.shape, strides, padding,
                                                  dilation_rate)
    n, h, w, c = input_shape
    dxp = np.zeros((n, h + ph0 + ph1, w + pw0 + pw1, c))
    for kh in range(kernel.shape[0]):
        for kw in range(kernel.shape[1]):
            _tap(dxp, kh, kw, s, d, oh, ow)[...] += dy @ kernel[kh, kw].T
    return dxp[:, ph0: ph0 + h, pw0: pw0 + w, :]


def np_conv2d_backprop_kernel(x, dy, kernel_shape, strides=1, padding="valid", dilation_rate=1):
    """The adjoint of np_conv2d in the kernel: sum over pixels of tap(x)^T . dy."""
    x, dy = np.asarray(x, np.float64), np.asarray(dy, np.float64)
    s, d, (oh, ph0, ph1), (ow, pw0, pw1) = _setup(x.shape, kernel_shape, strides, padding,
                                                  dilation_rate)
    xp = np.pad(x, ((0, 0), (ph0, ph1), (pw0, pw1), (0, 0)))
    dk = np.zeros(kernel_shape)
    for kh in range(kernel_shape[0]):
        for kw in range(kernel_shape[1]):
            t = _tap(xp, kh, kw, s, d, oh, ow).reshape(-1, kernel_shape[2])
            dk[kh, kw] = t.T @ dy.reshape(-1, kernel_shape[3])
    return dk
