"""2-D pooling on NHWC arrays (Keras semantics), forward and backward, as NumPy drop-ins.

Output sizes follow TF/Keras: ``padding="valid"`` gives ``(H - ph) // sh + 1`` rows,
``padding="same"`` gives ``ceil(H / sh)`` rows with the padding split evenly and the extra cell at
the bottom/right. Padded cells never take part: max pooling ignores them and average pooling
leaves them out of the divisor. NaN propagates (a window holding a NaN gives NaN). Gradients of
max pooling go to the first maximal cell of each window in row-major window order (the first NaN
if there is one), as in TF and PyTorch; overlapping windows accumulate.
"""
import numbers

import numpy as np

from .. import _core
from ._common import as_float, as_floats, normalize_padding, positive_pair, required

__all__ = ["max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d",
           "max_pool2d_backward", "avg_pool2d_backward", "global_avg_pool2d_backward",
           "global_max_pool2d_backward", "max_pool2d_with_argmax",
           "max_pool2d_backward_from_argmax"]


def _check_rank4(a, name):
    if a.ndim != 4:
        raise ValueError(f"`{name}` must be a 4-D array (N, H, W, C). "
                         f"Received: {name}.shape={a.shape}")
    return a


def _input_shape(shape):
    ok = isinstance(shape, (tuple, list)) and len(shape) == 4 and all(
        isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) and d >= 0
        for d in shape)
    if not ok:
        raise ValueError("`input_shape` must be a tuple of 4 non-negative ints (N, H, W, C). "
                         f"Received: input_shape={shape!r}")
    return tuple(int(d) for d in shape)


def _geometry(shape, pool_size, strides, padding):
    """-> (kh, kw, sh, sw, same) for _core and the output shape, with Keras-style errors."""
    pool = positive_pair(pool_size, "pool_size")
    strides = pool if strides is None else positive_pair(strides, "strides")
    padding = normalize_padding(padding)
    n, h, w, c = shape
    if padding == "valid":
        if h < pool[0] or w < pool[1]:
            raise ValueError(f"`pool_size` {pool} is larger than the input {(h, w)} with "
                             f"padding='valid'")
        oh, ow = (h - pool[0]) // strides[0] + 1, (w - pool[1]) // strides[1] + 1
    else:
        if h == 0 or w == 0:
            raise ValueError(f"Pooling needs an input of positive height and width. "
                             f"Received: input shape {tuple(shape)}")
        oh, ow = -(-h // strides[0]), -(-w // strides[1])
    return (*pool, *strides, padding == "same"), (n, oh, ow, c)


def _check_dy(dy, out_shape):
    if dy.shape != out_shape:
        raise ValueError(f"`dy` must have the pooled output's shape {out_shape}. "
                         f"Received: dy.shape={dy.shape}")


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Max over each window, like ``keras.ops.max_pool``.

    Args:
        x: (N, H, W, C) array-like.
        pool_size: int or (ph, pw). strides: int, (sh, sw) or None (= pool_size).
        padding: "valid" or "same".
    Returns: (N, OH, OW, C), float32 for float32 input, else float64.
    """
    x = _check_rank4(as_float(x), "x")
    geo, _ = _geometry(x.shape, pool_size, strides, padding)
    return _core.max_pool2d(x, *geo)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Mean over the real (non-padding) cells of each window, like ``keras.ops.average_pool``."""
    x = _check_rank4(as_float(x), "x")
    geo, _ = _geometry(x.shape, pool_size, strides, padding)
    return _core.avg_pool2d(x, *geo)


def max_pool2d_with_argmax(x, pool_size=2, strides=None, padding="valid"):
    """Max pooling that also returns where each maximum came from, for a recompute-free backward.

    Returns: ``(y, argmax)``, both (N, OH, OW, C); ``argmax`` holds the window index
    ``kh * pw + kw`` of each first maximum, as uint8 when ``ph * pw <= 256``, else int32.
    """
    x = _check_rank4(as_float(x), "x")
    geo, _ = _geometry(x.shape, pool_size, strides, padding)
    return _core.max_pool2d_with_argmax(x, *geo)


def max_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid"):
    """Gradient of ``max_pool2d`` w.r.t. x: each dy goes to its window's first maximum."""
    required(dy=dy, x=x)
    dy, x = as_floats(dy=dy, x=x)
    _check_rank4(x, "x")
    geo, out_shape = _geometry(x.shape, pool_size, strides, padding)
    _check_dy(dy, out_shape)
    return _core.max_pool2d_backward(dy, x, *geo)


def max_pool2d_backward_from_argmax(dy, argmax, input_shape, pool_size=2, strides=None,
                                    padding="valid"):
    """Gradient of ``max_pool2d`` from the ``argmax`` of ``max_pool2d_with_argmax``."""
    dy = as_float(dy, "dy")
    input_shape = _input_shape(input_shape)
    geo, out_shape = _geometry(input_shape, pool_size, strides, padding)
    _check_dy(dy, out_shape)
    cells = geo[0] * geo[1]
    want = np.uint8 if cells <= 256 else np.int32
    if not isinstance(argmax, np.ndarray) or argmax.dtype != want:
        got = argmax.dtype if isinstance(argmax, np.ndarray) else type(argmax).__name__
        raise TypeError(f"`argmax` must be the {np.dtype(want)} array returned by "
                        f"max_pool2d_with_argmax. Received: {got}")
    if argmax.shape != out_shape:
        raise ValueError(f"`argmax` must have the pooled output's shape {out_shape}. "
                         f"Received: argmax.shape={argmax.shape}")
    if argmax.size and (int(argmax.min()) < 0 or int(argmax.max()) >= cells):
        raise ValueError(f"`argmax` holds window indices outside [0, {cells}) for "
                         f"pool_size {geo[:2]}")
    return _core.max_pool2d_backward_from_argmax(dy, np.ascontiguousarray(argmax), input_shape,
                                                 *geo)


def avg_pool2d_backward(dy, input_shape, pool_size=2, strides=None, padding="valid"):
    """Gradient of ``avg_pool2d`` w.r.t. its input of shape ``input_shape``."""
    dy = as_float(dy, "dy")
    input_shape = _input_shape(input_shape)
    geo, out_shape = _geometry(input_shape, pool_size, strides, padding)
    _check_dy(dy, out_shape)
    return _core.avg_pool2d_backward(dy, input_shape, *geo)


# ---- global pooling: one window covering H x W ---------------------------------------------------

def _check_keepdims(keepdims):
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"`keepdims` must be a bool. Received: keepdims={keepdims!r}")
    return bool(keepdims)


def _global_geo(shape):
    n, h, w, c = shape
    if h == 0 or w == 0:
        raise ValueError(f"Global pooling needs an input of positive height and width. "
                         f"Received: input shape {tuple(shape)}")
    return (h, w, 1, 1, False)


def _global_dy(dy, input_shape):
    n, _, _, c = input_shape
    if dy.shape not in ((n, c), (n, 1, 1, c)):
        raise ValueError(f"`dy` must have shape {(n, c)} or {(n, 1, 1, c)}. "
                         f"Received: dy.shape={dy.shape}")
    return dy.reshape(n, 1, 1, c)


def global_avg_pool2d(x, keepdims=False):
    """Mean over H and W: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with ``keepdims``."""
    keepdims = _check_keepdims(keepdims)
    x = _check_rank4(as_float(x), "x")
    y = _core.avg_pool2d(x, *_global_geo(x.shape))
    return y if keepdims else y.reshape(x.shape[0], x.shape[3])


def global_max_pool2d(x, keepdims=False):
    """Max over H and W (NaN propagating): (N, H, W, C) -> (N, C), or (N, 1, 1, C)."""
    keepdims = _check_keepdims(keepdims)
    x = _check_rank4(as_float(x), "x")
    y = _core.max_pool2d(x, *_global_geo(x.shape))
    return y if keepdims else y.reshape(x.shape[0], x.shape[3])


def global_avg_pool2d_backward(dy, input_shape):
    """Gradient of ``global_avg_pool2d``; dy is (N, C) or (N, 1, 1, C)."""
    dy = as_float(dy, "dy")
    input_shape = _input_shape(input_shape)
    geo = _global_geo(input_shape)
    return _core.avg_pool2d_backward(_global_dy(dy, input_shape), input_shape, *geo)


def global_max_pool2d_backward(dy, x):
    """Gradient of ``global_max_pool2d``: each dy goes to the first maximum of its channel."""
    required(dy=dy, x=x)
    dy, x = as_floats(dy=dy, x=x)
    _check_rank4(x, "x")
    geo = _global_geo(x.shape)
    return _core.max_pool2d_backward(_global_dy(dy, x.shape), x, *geo)
