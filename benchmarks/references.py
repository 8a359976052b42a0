"""NumPy reference implementations that the suite times cnnext against.

These are what a NumPy user would write: vectorized, no Python loops over pixels. Layouts follow
Keras: images NHWC, conv kernels HWIO (KH, KW, C_in, C_out), dense kernels (in, out). Convolution is
im2col (``sliding_window_view`` + one copy) followed by one ``@`` through the BLAS NumPy links.
"""
import numpy as np

from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["same_pads", "conv2d", "conv2d_backprop_input", "conv2d_backprop_kernel",
           "max_pool2d", "avg_pool2d", "relu", "leaky_relu6", "sigmoid", "softmax", "adam",
           "AdamState"]


def same_pads(k):
    """(before, after) zero padding that keeps the size for a stride-1 'same' convolution."""
    return (k - 1) // 2, k - 1 - (k - 1) // 2


def _pad(x, padding, kh, kw):
    if padding == "valid":
        return x
    (t, b), (l, r) = same_pads(kh), same_pads(kw)
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def _im2col(xp, kh, kw):
    """(N, H, W, C) -> (N*OH*OW, C*KH*KW) patch matrix (one copy), plus (N, OH, OW)."""
    win = sliding_window_view(xp, (kh, kw), axis=(1, 2))  # (N, OH, OW, C, KH, KW), a view
    n, oh, ow = win.shape[:3]
    return win.reshape(n * oh * ow, -1), (n, oh, ow)


def conv2d(x, kernel, padding="valid"):
    """Stride-1 2-D cross-correlation, x (N,H,W,C) * kernel (KH,KW,C,F) -> (N,OH,OW,F)."""
    kh, kw, c, f = kernel.shape
    cols, (n, oh, ow) = _im2col(_pad(x, padding, kh, kw), kh, kw)
    wmat = kernel.transpose(2, 0, 1, 3).reshape(c * kh * kw, f)  # rows ordered (C, KH, KW)
    return (cols @ wmat).reshape(n, oh, ow, f)


def conv2d_backprop_input(dy, kernel, input_shape, padding="valid"):
    """Gradient of ``conv2d`` w.r.t. its input: a full correlation of dy with the kernel rotated
    by 180 degrees and its channel axes swapped."""
    kh, kw, _, _ = kernel.shape
    t, l = (same_pads(kh)[0], same_pads(kw)[0]) if padding == "same" else (0, 0)
    h, w = input_shape[1], input_shape[2]
    oh, ow = dy.shape[1], dy.shape[2]
    # Pad dy so that a valid correlation gives exactly the (H, W) input grid.
    top, left = kh - 1 - t, kw - 1 - l
    bottom, right = h + kh - 1 - top - oh, w + kw - 1 - left - ow
    dyp = np.pad(dy, ((0, 0), (top, bottom), (left, right), (0, 0)))
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)  # (KH, KW, F, C)
    return conv2d(dyp, np.ascontiguousarray(flipped), "valid")


def conv2d_backprop_kernel(x, dy, kernel_shape, padding="valid"):
    """Gradient of ``conv2d`` w.r.t. its kernel: patches^T @ dy -> (KH, KW, C, F)."""
    kh, kw, c, f = kernel_shape
    cols, _ = _im2col(_pad(x, padding, kh, kw), kh, kw)
    dw = cols.T @ dy.reshape(-1, f)  # (C*KH*KW, F), rows ordered (C, KH, KW)
    return dw.reshape(c, kh, kw, f).transpose(1, 2, 0, 3)


def max_pool2d(x, pool=2):
    """Non-overlapping pool x pool max-pool of NHWC x (trailing rows/columns dropped)."""
    n, h, w, c = x.shape
    oh, ow = h // pool, w // pool
    v = x[:, :oh * pool, :ow * pool].reshape(n, oh, pool, ow, pool, c)
    return v.max(axis=(2, 4))


def avg_pool2d(x, pool=2):
    n, h, w, c = x.shape
    oh, ow = h // pool, w // pool
    v = x[:, :oh * pool, :ow * pool].reshape(n, oh, pool, ow, pool, c)
    return v.mean(axis=(2, 4), dtype=x.dtype)


def relu(x):
    return np.maximum(x, 0)


def leaky_relu6(x):
    """keras.activations.relu(x, negative_slope=0.2, max_value=6)."""
    return np.where(x > 0, np.minimum(x, 6.0), 0.2 * x).astype(x.dtype, copy=False)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class AdamState:
    """Parameters, gradients and moments of several arrays, as an optimizer step sees them."""

    def __init__(self, shapes, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        self.params = [rng.standard_normal(s).astype(dtype) for s in shapes]
        self.grads = [rng.standard_normal(s).astype(dtype) * 1e-2 for s in shapes]
        self.m = [np.zeros(s, dtype) for s in shapes]
        self.v = [np.zeros(s, dtype) for s in shapes]
        self.step = 0

    @property
    def size(self):
        return sum(p.size for p in self.params)


def adam(state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    """One Adam step (Keras 3 formula) over every array of ``state``, in place."""
    state.step += 1
    t = state.step
    alpha = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    for p, g, m, v in zip(state.params, state.grads, state.m, state.v):
        m += (g - m) * (1 - beta1)
        v += (g * g - v) * (1 - beta2)
        p -= alpha * m / (np.sqrt(v) + eps)
