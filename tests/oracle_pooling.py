"""Pure-NumPy float64 oracles for 2-D pooling (NHWC, Keras/TF semantics), with explicit padding.

Straightforward loops over output pixels (vectorized over N and C): slow, only for small test
shapes. Padding follows TF: "same" gives ceil(in / stride) outputs and splits the padding with
the extra cell at the bottom/right; padded cells never take part in a max, and are left out of an
average's divisor. Arg-max is the first maximal real cell in row-major window order (the first
NaN if any).
"""
import numpy as np


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def geometry(h, w, pool_size, strides=None, padding="valid"):
    """-> (oh, ow, (pad_top, pad_bottom), (pad_left, pad_right))."""
    ph, pw = pair(pool_size)
    sh, sw = pair(pool_size if strides is None else strides)
    if padding == "valid":
        return (h - ph) // sh + 1, (w - pw) // sw + 1, (0, 0), (0, 0)
    oh, ow = -(-h // sh), -(-w // sw)
    th, tw = max((oh - 1) * sh + ph - h, 0), max((ow - 1) * sw + pw - w, 0)
    return oh, ow, (th // 2, th - th // 2), (tw // 2, tw - tw // 2)


def _windows(shape, pool_size, strides, padding):
    """Yields (oh, ow, rows, cols, valid) with rows/cols slices into the padded image and
    valid a flat (ph*pw,) mask of real cells."""
    _, h, w, _ = shape
    ph, pw = pair(pool_size)
    sh, sw = pair(pool_size if strides is None else strides)
    oh, ow, (pt, _), (pl, _) = geometry(h, w, pool_size, strides, padding)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * sh, j * sw
            rr, cc = np.meshgrid(np.arange(r0, r0 + ph) - pt, np.arange(c0, c0 + pw) - pl,
                                 indexing="ij")
            valid = ((rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)).ravel()
            yield i, j, slice(r0, r0 + ph), slice(c0, c0 + pw), valid


def _padded(x, pool_size, strides, padding, fill):
    n, h, w, c = x.shape
    _, _, (pt, pb), (pl, pr) = geometry(h, w, pool_size, strides, padding)
    return np.pad(np.asarray(x, np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)),
                  constant_values=fill), (pt, pl)


def max_pool2d_argmax(x, pool_size, strides=None, padding="valid"):
    """-> (y, argmax): y float64 (N, OH, OW, C), argmax int64 window indices kh*pw + kw."""
    n, h, w, c = x.shape
    oh, ow, _, _ = geometry(h, w, pool_size, strides, padding)
    xp, _ = _padded(x, pool_size, strides, padding, -np.inf)
    y = np.empty((n, oh, ow, c))
    idx = np.empty((n, oh, ow, c), np.int64)
    for i, j, rs, cs, valid in _windows(x.shape, pool_size, strides, padding):
        vals = xp[:, rs, cs, :].reshape(n, -1, c)
        m = np.max(vals[:, valid], axis=1)  # NaN propagates
        hit = valid[None, :, None] & ((vals == m[:, None]) |
                                      (np.isnan(vals) & np.isnan(m)[:, None]))
        y[:, i, j] = m
        idx[:, i, j] = np.argmax(hit, axis=1)  # first True
    return y, idx


def max_pool2d(x, pool_size, strides=None, padding="valid"):
    return max_pool2d_argmax(x, pool_size, strides, padding)[0]


def avg_pool2d(x, pool_size, strides=None, padding="valid"):
    n, h, w, c = x.shape
    oh, ow, _, _ = geometry(h, w, pool_size, strides, padding)
    xp, _ = _padded(x, pool_size, strides, padding, 0.0)
    y = np.empty((n, oh, ow, c))
    for i, j, rs, cs, valid in _windows(x.shape, pool_size, strides, padding):
        vals = xp[:, rs, cs, :].reshape(n, -1, c)
        y[:, i, j] = vals[:, valid].sum(axis=1) / valid.sum()
    return y


def max_pool2d_backward(dy, x, pool_size, strides=None, padding="valid"):
    n, h, w, c = x.shape
    pw = pair(pool_size)[1]
    _, idx = max_pool2d_argmax(x, pool_size, strides, padding)
    dxp, (pt, pl) = _padded(np.zeros(x.shape), pool_size, strides, padding, 0.0)
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i, j, rs, cs, _ in _windows(x.shape, pool_size, strides, padding):
        k = idx[:, i, j]
        np.add.at(dxp, (nn, rs.start + k // pw, cs.start + k % pw, cc), dy[:, i, j])
    return dxp[:, pt:pt + h, pl:pl + w]


def avg_pool2d_backward(dy, input_shape, pool_size, strides=None, padding="valid"):
    n, h, w, c = input_shape
    dxp, (pt, pl) = _padded(np.zeros(input_shape), pool_size, strides, padding, 0.0)
    for i, j, rs, cs, valid in _windows(input_shape, pool_size, strides, padding):
        share = np.asarray(dy[:, i, j], np.float64) / valid.sum()
        win = dxp[:, rs, cs, :].reshape(n, -1, c)  # a copy: write back below
        win[:, valid] += share[:, None, :]
        dxp[:, rs, cs, :] = win.reshape(n, rs.stop - rs.start, cs.stop - cs.start, c)
    return dxp[:, pt:pt + h, pl:pl + w]


def global_avg_pool2d(x):
    return np.asarray(x, np.float64).mean(axis=(1, 2))


def global_max_pool2d(x):
    return np.asarray(x, np.float64).max(axis=(1, 2))
