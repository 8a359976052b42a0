"""Pure-NumPy float64 oracle for the backward of maxpool(relu(z)) from the pool's arg-max."""
import numpy as np

from oracle_pooling import _padded, _windows, pair


def max_pool2d_backward_from_argmax(dy, argmax, input_shape, pool_size, strides=None,
                                    padding="valid"):
    """dx (float64): every dy[n, i, j, c] added to the input cell its window index points at."""
    n, h, w, c = input_shape
    pw = pair(pool_size)[1]
    dxp, (pt, pl) = _padded(np.zeros(input_shape), pool_size, strides, padding, 0.0)
    nn, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i, j, rs, cs, _ in _windows(input_shape, pool_size, strides, padding):
        k = np.asarray(argmax[:, i, j], np.int64)
        np.add.at(dxp, (nn, rs.start + k // pw, cs.start + k % pw, cc),
                  np.asarray(dy[:, i, j], np.float64))
    return dxp[:, pt:pt + h, pl:pl + w]


def relu_backward(dy, y):
    """dy * (y > 0) in float64, as TF's ReluGrad: NaN or inf in dy where y <= 0 gives NaN."""
    with np.errstate(invalid="ignore"):
        return np.asarray(dy, np.float64) * (np.asarray(y) > 0)


def max_pool2d_relu_backward(dy, y, argmax, input_shape, pool_size, strides=None,
                             padding="valid"):
    """-> (dx, db): the gradient reaching z through maxpool(relu(z)) given the pooled output y,
    and the per-channel sum of the relu-masked pooled gradient (the conv bias gradient)."""
    masked = relu_backward(dy, y)
    dx = max_pool2d_backward_from_argmax(masked, argmax, input_shape, pool_size, strides, padding)
    return dx, masked.sum(axis=(0, 1, 2))
