"""NumPy float64 oracle for the fused conv2d + max-pool kernel gradient (cnnext._core
conv2d_max_pool2d_backprop_kernel): mask the pooled gradient by the activation, scatter it to each
window's argmax cell of the conv output, then the plain kernel and bias gradients."""
import numpy as np

from oracle_conv import conv_geometry, np_conv2d_backprop_kernel


def np_unpool(d_pooled, argmax, conv_hw, pool_size):
    """The dense (N, OH, OW, F) conv-output gradient: window (ph, pw)'s value at its argmax cell,
    zero elsewhere (windows are non-overlapping, strides == pool_size, 'valid')."""
    (oh, ow), (pkh, pkw) = conv_hw, pool_size
    n, ph, pw, f = d_pooled.shape
    dy = np.zeros((n, oh, ow, f))
    for i in range(pkh):
        for j in range(pkw):
            dy[:, i: ph * pkh: pkh, j: pw * pkw: pkw, :] = np.where(argmax == i * pkw + j,
                                                                    d_pooled, 0.0)
    return dy


def np_conv_pool_backprop_kernel(x, d_pooled, pooled, argmax, kernel_shape, strides=1,
                                 padding="valid", dilation_rate=1, pool_size=(2, 2),
                                 activation="relu"):
    """-> (dkernel, dbias) in float64. relu masks by relu_backward(d_pooled, pooled) semantics:
    d_pooled * (pooled > 0), so inf or NaN where pooled <= 0 gives NaN."""
    g = np.asarray(d_pooled, np.float64)
    if activation == "relu":
        with np.errstate(invalid="ignore"):
            g = g * (np.asarray(pooled) > 0)
    s = strides if isinstance(strides, tuple) else (strides, strides)
    d = dilation_rate if isinstance(dilation_rate, tuple) else (dilation_rate, dilation_rate)
    oh = conv_geometry(x.shape[1], kernel_shape[0], s[0], d[0], padding)[0]
    ow = conv_geometry(x.shape[2], kernel_shape[1], s[1], d[1], padding)[0]
    dy = np_unpool(g, argmax, (oh, ow), pool_size)
    dk = np_conv2d_backprop_kernel(x, dy, kernel_shape, strides, padding, dilation_rate)
    return dk, dy.sum(axis=(0, 1, 2))
