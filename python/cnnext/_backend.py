"""The one place where the Keras mirror calls ``cnnext.ops``.

Layers, losses and optimizers call these thin wrappers instead of the ops directly, so each op's
exact signature is written down once. No computation happens here beyond argument plumbing.

The training step calls these wrappers a dozen times per batch, so Python overhead matters (issue
4: a step of a tiny model should cost microseconds). When every array argument is already a
C-contiguous ndarray of the same float dtype -- always the case inside ``fit`` -- a wrapper goes
straight to ``cnnext._core`` with the geometry it validated once for these shapes (cached), and
writes into the caller's reusable ``out=`` buffers, so a training step allocates no large arrays.
Anything else takes the public op's full conversion and validation path. The C++ bindings check
shapes and dtypes again either way, so the direct path cannot write outside an array.
"""
import functools

import numpy as np

from . import _core, ops
from .ops import _conv, _dense, _pooling

_FUSED = ("linear", "relu", "sigmoid", "tanh")  # fused into the conv / dense kernels
# Activations that are relu with fixed arguments: name -> (negative_slope, max_value). Their
# gradient is computable from the output y, as relu's is: y is inside (0, max_value) exactly
# where x is, and y <= 0 exactly where x <= 0 (the slope is positive).
_RELU_FAMILY = {"relu6": (0.0, 6.0), "leaky_relu": (0.2, None)}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _act_arg(act):
    return None if act in (None, "linear") else act


def _direct(*arrays):
    """True when every non-None argument is a C-contiguous, aligned float32/float64 ndarray of one
    dtype."""
    dtype = None
    for a in arrays:
        if a is None:
            continue
        if type(a) is not np.ndarray:
            return False
        flags = a.flags
        if not (flags.c_contiguous and flags.aligned):
            return False
        if dtype is None:
            if a.dtype not in _FLOATS:
                return False
            dtype = a.dtype
        elif a.dtype != dtype:
            return False
    return True


def _usable_out(out, shape, dtype):
    if type(out) is not np.ndarray or out.shape != tuple(shape) or out.dtype != dtype:
        return False
    flags = out.flags
    return flags.c_contiguous and flags.aligned and flags.writeable


@functools.lru_cache(maxsize=256)
def _conv_geometry(op, x_shape, k_shape, strides, padding, dilation_rate):
    return _conv._geometry(op, x_shape, k_shape, strides, padding, dilation_rate)


@functools.lru_cache(maxsize=256)
def _pool_geometry(shape, pool_size, strides, padding):
    return _pooling._geometry(shape, pool_size, strides, padding)


def _hashable(*args):
    try:
        hash(args)
        return True
    except TypeError:
        return False


@functools.lru_cache(maxsize=256)
def _pool_reach(out_hw, pool_size, pool_strides):
    """The leading rows and columns of an (out_hw) image that a 'valid' max-pool reads."""
    reach = []
    for o, k, s in zip(out_hw, pool_size, pool_strides):
        cells = (o - k) // s + 1 if o >= k else 0
        reach.append((cells - 1) * s + k if cells > 0 else o)
    return tuple(reach)


# ---- convolution ------------------------------------------------------------------------------
def conv2d(x, kernel, bias, strides, padding, dilation_rate, activation=None, out=None,
           pool=None):
    """pool: (pool_size, strides) of a 'valid' max-pool that reads this output next; the direct
    path then computes only the rows and columns that pool reads (its result is unchanged, and
    the gradients below take the cropped dy: the cut cells' gradient is zero)."""
    act = _act_arg(activation)
    if (_direct(x, kernel, bias) and x.ndim == 4 and kernel.ndim == 4
            and x.shape[3] == kernel.shape[2] and act in _conv._ACTIVATIONS
            and _hashable(strides, padding, dilation_rate, pool)):
        out_hw, pad, s, d = _conv_geometry("conv2d", x.shape, kernel.shape, strides, padding,
                                           dilation_rate)
        if pool is not None:
            out_hw = _pool_reach(out_hw, *pool)
        shape = (x.shape[0],) + out_hw + (kernel.shape[3],)
        return _core.conv2d(x, kernel, bias, s, d, pad, out_hw, _conv._ACTIVATIONS[act],
                            out if _usable_out(out, shape, x.dtype) else None)
    return ops.conv2d(x, kernel, bias, strides=strides, padding=padding,
                      dilation_rate=dilation_rate, activation=act, out=out)


def conv2d_backprop_input(dy, kernel, input_shape, strides, padding, dilation_rate, out=None):
    """dy may be cropped (see conv2d's pool) on the direct path: the C++ ops take the output
    size from dy and the padding from the full geometry."""
    input_shape = tuple(input_shape)
    if (_direct(dy, kernel) and dy.ndim == 4 and kernel.ndim == 4 and len(input_shape) == 4
            and _hashable(strides, padding, dilation_rate)):
        _, pad, s, d = _conv_geometry("conv2d_backprop_input", input_shape, kernel.shape,
                                      strides, padding, dilation_rate)
        return _core.conv2d_backprop_input(
            dy, kernel, input_shape, s, d, pad,
            out if _usable_out(out, input_shape, dy.dtype) else None)
    return ops.conv2d_backprop_input(dy, kernel, input_shape, strides=strides, padding=padding,
                                     dilation_rate=dilation_rate, out=out)


def conv2d_backprop_kernel(x, dy, kernel_shape, strides, padding, dilation_rate, out=None):
    kernel_shape = tuple(kernel_shape)
    if (_direct(x, dy) and x.ndim == 4 and dy.ndim == 4 and len(kernel_shape) == 4
            and _hashable(strides, padding, dilation_rate)):
        _, pad, s, d = _conv_geometry("conv2d_backprop_kernel", x.shape, kernel_shape, strides,
                                      padding, dilation_rate)
        return _core.conv2d_backprop_kernel(
            x, dy, kernel_shape, s, d, pad,
            out if _usable_out(out, kernel_shape, x.dtype) else None)
    return ops.conv2d_backprop_kernel(x, dy, kernel_shape, strides=strides, padding=padding,
                                      dilation_rate=dilation_rate, out=out)


def conv2d_backprop_bias(dy, out=None):
    if _direct(dy) and dy.ndim == 4:
        return _core.conv2d_backprop_bias(
            dy, out if _usable_out(out, dy.shape[3:], dy.dtype) else None)
    return ops.conv2d_backprop_bias(dy, out=out)


@functools.lru_cache(maxsize=256)
def _conv_pool_geometry(x_shape, k_shape, strides, padding, dilation_rate, pool_size,
                        pool_strides, pool_padding):
    """(s, d, pad, out_hw, pool, conv_out_shape, fusable) of a conv followed by a max-pool.
    Fusable: the conv takes the direct path (few input channels) and the pool is 'valid' with
    strides equal to its window (at most 256 cells)."""
    out_hw, pad, s, d = _conv_geometry("conv2d", x_shape, k_shape, strides, padding,
                                       dilation_rate)
    conv_shape = (x_shape[0],) + out_hw + (k_shape[3],)
    kh, kw, sh, sw, same = _pool_geometry(conv_shape, pool_size, pool_strides, pool_padding)[0]
    fusable = _core.conv2d_max_pool2d_fusable(x_shape, k_shape, s, d, pad, out_hw, (kh, kw),
                                              (sh, sw), same)
    return s, d, pad, out_hw, (kh, kw), conv_shape, fusable


def _conv_pool_args(x_shape, k_shape, *config):
    """The cached geometry when the fused conv + max-pool ops apply to these shapes, else None."""
    if (len(x_shape) != 4 or len(k_shape) != 4 or x_shape[3] != k_shape[2]
            or not _hashable(*config)):
        return None
    geo = _conv_pool_geometry(tuple(x_shape), tuple(k_shape), *config)
    return geo if geo[-1] else None


def conv2d_max_pool2d_fusable(x_shape, kernel_shape, strides, padding, dilation_rate, pool_size,
                              pool_strides, pool_padding):
    """True when conv2d_max_pool2d and its kernel gradient take the fused path for these shapes
    and arguments (Keras Conv2D then MaxPooling2D arguments)."""
    return _conv_pool_args(x_shape, kernel_shape, strides, padding, dilation_rate, pool_size,
                           pool_strides, pool_padding) is not None


def conv2d_max_pool2d(x, kernel, bias, strides, padding, dilation_rate, activation, pool_size,
                      pool_strides=None, pool_padding="valid", with_argmax=True, out=None,
                      argmax_out=None):
    """max_pool2d_with_argmax(conv2d(x, ...), ...) -> (pooled, argmax), or max_pool2d's pooled
    alone when not with_argmax; one pass without the conv output where the shapes are fusable
    (bitwise the same results), the two ops otherwise."""
    act = _act_arg(activation)
    geo = _conv_pool_args(x.shape, kernel.shape, strides, padding, dilation_rate, pool_size,
                          pool_strides, pool_padding)
    if geo is not None and _direct(x, kernel, bias) and act in _conv._ACTIVATIONS:
        s, d, pad, out_hw, pool, conv_shape, _ = geo
        shape = (conv_shape[0], out_hw[0] // pool[0], out_hw[1] // pool[1], conv_shape[3])
        out = out if _usable_out(out, shape, x.dtype) else None
        if not with_argmax:
            return _core.conv2d_max_pool2d(x, kernel, bias, s, d, pad, out_hw,
                                           _conv._ACTIVATIONS[act], pool, False, out=out)
        return _core.conv2d_max_pool2d(
            x, kernel, bias, s, d, pad, out_hw, _conv._ACTIVATIONS[act], pool, True, out=out,
            argmax_out=argmax_out if _usable_out(argmax_out, shape, np.uint8) else None)
    y = conv2d(x, kernel, bias, strides, padding, dilation_rate, activation)
    if not with_argmax:
        return max_pool2d(y, pool_size, pool_strides, pool_padding)
    return max_pool2d_with_argmax(y, pool_size, pool_strides, pool_padding, out=out,
                                  argmax_out=argmax_out)


def conv2d_max_pool2d_backprop_kernel(x, d_pooled, pooled, argmax, kernel_shape, strides,
                                      padding, dilation_rate, activation, pool_size,
                                      pool_strides=None, pool_padding="valid", out=None,
                                      bias_out=None):
    """(dkernel, dbias) of conv2d_max_pool2d for a layer whose input gradient is not needed,
    from the pooled gradient, the pooled output (the activation's mask) and the argmax. Fused
    (no conv-sized gradient) for fusable shapes with a linear or relu activation; otherwise the
    activation, pool, kernel and bias gradients one after the other."""
    act = _act_arg(activation) or "linear"
    kernel_shape = tuple(kernel_shape)
    geo = _conv_pool_args(x.shape, kernel_shape, strides, padding, dilation_rate, pool_size,
                          pool_strides, pool_padding)
    if (geo is not None and act in ("linear", "relu") and _direct(x, d_pooled, pooled)
            and type(argmax) is np.ndarray and argmax.dtype == np.uint8
            and argmax.flags.c_contiguous):
        s, d, pad, out_hw, pool, _, _ = geo
        return _core.conv2d_max_pool2d_backprop_kernel(
            x, d_pooled, pooled, argmax, kernel_shape, s, d, pad, out_hw,
            _conv._ACTIVATIONS[act], pool,
            out=out if _usable_out(out, kernel_shape, x.dtype) else None,
            bias_out=bias_out if _usable_out(bias_out, kernel_shape[3:], x.dtype) else None)
    out_hw = _conv_geometry("conv2d", tuple(x.shape), kernel_shape, strides, padding,
                            dilation_rate)[0]
    dy = activation_backward(act, d_pooled, pooled)
    dy = max_pool2d_backward(dy, argmax, (x.shape[0],) + out_hw + kernel_shape[3:], pool_size,
                             pool_strides, pool_padding)
    return (conv2d_backprop_kernel(x, dy, kernel_shape, strides, padding, dilation_rate, out=out),
            conv2d_backprop_bias(dy, out=bias_out))


# ---- dense (x, dy: 2-D) ----------------------------------------------------------------------
def dense(x, kernel, bias, activation=None, out=None):
    act = _act_arg(activation)
    if (_direct(x, kernel, bias) and x.ndim == 2 and kernel.ndim == 2
            and act in _dense._ACTIVATIONS):
        shape = (x.shape[0], kernel.shape[1])
        return _core.dense(x, kernel, bias, _dense._ACTIVATIONS[act],
                           out if _usable_out(out, shape, x.dtype) else None)
    return ops.dense(x, kernel, bias, activation=act)


def dense_backprop_input(dy, kernel, out=None):
    if _direct(dy, kernel) and dy.ndim == 2 and kernel.ndim == 2:
        shape = (dy.shape[0], kernel.shape[0])
        return _core.dense_backprop_input(dy, kernel,
                                          out if _usable_out(out, shape, dy.dtype) else None)
    return ops.dense_backprop_input(dy, kernel)


def dense_backprop_kernel(x, dy, out=None):
    if _direct(x, dy) and x.ndim == 2 and dy.ndim == 2:
        shape = (x.shape[1], dy.shape[1])
        return _core.dense_backprop_kernel(x, dy,
                                           out if _usable_out(out, shape, x.dtype) else None)
    return ops.dense_backprop_kernel(x, dy)


def dense_backprop_bias(dy):
    if _direct(dy) and dy.ndim == 2:
        return _core.dense_backprop_bias(dy)
    return ops.dense_backprop_bias(dy)


# ---- pooling ----------------------------------------------------------------------------------
def max_pool2d(x, pool_size, strides, padding):
    if _direct(x) and x.ndim == 4 and _hashable(pool_size, strides, padding):
        geo, _ = _pool_geometry(x.shape, pool_size, strides, padding)
        return _core.max_pool2d(x, *geo)
    return ops.max_pool2d(x, pool_size, strides=strides, padding=padding)


def max_pool2d_with_argmax(x, pool_size, strides, padding, out=None, argmax_out=None):
    if _direct(x) and x.ndim == 4 and _hashable(pool_size, strides, padding):
        geo, shape = _pool_geometry(x.shape, pool_size, strides, padding)
        idx_dtype = np.uint8 if geo[0] * geo[1] <= 256 else np.int32
        if _usable_out(out, shape, x.dtype) and _usable_out(argmax_out, shape, idx_dtype):
            return _core.max_pool2d_with_argmax(x, *geo, out=out, argmax_out=argmax_out)
        return _core.max_pool2d_with_argmax(x, *geo)
    return ops.max_pool2d_with_argmax(x, pool_size, strides=strides, padding=padding)


def max_pool2d_backward(dy, argmax, input_shape, pool_size, strides, padding, out=None):
    """`argmax` must come from max_pool2d_with_argmax on an input of `input_shape` (the direct
    path trusts its window indices instead of re-scanning them)."""
    input_shape = tuple(input_shape)
    if (_direct(dy) and dy.ndim == 4 and type(argmax) is np.ndarray
            and argmax.flags.c_contiguous and len(input_shape) == 4
            and _hashable(pool_size, strides, padding)):
        geo, shape = _pool_geometry(input_shape, pool_size, strides, padding)
        idx_dtype = np.uint8 if geo[0] * geo[1] <= 256 else np.int32
        if dy.shape == shape and argmax.shape == shape and argmax.dtype == idx_dtype:
            return _core.max_pool2d_backward_from_argmax(
                dy, argmax, input_shape, *geo,
                out=out if _usable_out(out, input_shape, dy.dtype) else None)
    return ops.max_pool2d_backward_from_argmax(dy, argmax, input_shape, pool_size,
                                               strides=strides, padding=padding)


def max_pool2d_relu_backward(dy, y, argmax, input_shape, pool_size, strides, padding, out=None,
                             bias_grad=False, bias_out=None):
    """Backward of maxpool(relu(z)) in one pass over the pooled gradient `dy`: masked where the
    pooled output `y` is not positive (exactly relu_backward(dy, y)), then scattered through
    `argmax` (from max_pool2d_with_argmax on the relu output, of `input_shape`) into dx. With
    `bias_grad`, also the per-channel sum of the masked gradient (the conv bias gradient), summed
    in a fixed order. Returns dx, or (dx, db) with `bias_grad`."""
    input_shape = tuple(input_shape)
    if (_direct(dy, y) and dy.ndim == 4 and type(argmax) is np.ndarray
            and argmax.flags.c_contiguous and len(input_shape) == 4
            and _hashable(pool_size, strides, padding)):
        geo, shape = _pool_geometry(input_shape, pool_size, strides, padding)
        idx_dtype = np.uint8 if geo[0] * geo[1] <= 256 else np.int32
        if (dy.shape == shape and y.shape == shape and argmax.shape == shape
                and argmax.dtype == idx_dtype):
            db_out = bias_out if bias_grad and _usable_out(bias_out, shape[3:], dy.dtype) else None
            return _core.max_pool2d_relu_backward_from_argmax(
                dy, y, argmax, input_shape, *geo,
                out=out if _usable_out(out, input_shape, dy.dtype) else None,
                bias_grad=bool(bias_grad), bias_out=db_out)
    masked = ops.relu_backward(dy, y)
    dx = ops.max_pool2d_backward_from_argmax(masked, argmax, input_shape, pool_size,
                                             strides=strides, padding=padding)
    return (dx, ops.conv2d_backprop_bias(masked)) if bias_grad else dx


def avg_pool2d(x, pool_size, strides, padding):
    return ops.avg_pool2d(x, pool_size, strides=strides, padding=padding)


def avg_pool2d_backward(dy, input_shape, pool_size, strides, padding):
    return ops.avg_pool2d_backward(dy, input_shape, pool_size, strides=strides, padding=padding)


def global_avg_pool2d(x, keepdims):
    return ops.global_avg_pool2d(x, keepdims=keepdims)


def global_avg_pool2d_backward(dy, input_shape):
    return ops.global_avg_pool2d_backward(dy, input_shape)


def global_max_pool2d(x, keepdims):
    return ops.global_max_pool2d(x, keepdims=keepdims)


def global_max_pool2d_backward(dy, x):
    return ops.global_max_pool2d_backward(dy, x)


# ---- activations (backward from the forward *output* y) ---------------------------------------
def activation_forward(name, x, axis=-1):
    if name == "linear":
        return x
    if name == "softmax":
        return ops.softmax(x, axis=axis)
    if name in _RELU_FAMILY:
        slope, cap = _RELU_FAMILY[name]
        return ops.relu(x, negative_slope=slope, max_value=cap)
    return getattr(ops, name)(x)


def relu(x, negative_slope, max_value, threshold):
    return ops.relu(x, negative_slope=negative_slope, max_value=max_value, threshold=threshold)


def relu_backward(dy, x, negative_slope, max_value, threshold):
    """d relu/dx · dy given the forward *input* x."""
    return ops.relu_backward(dy, x, negative_slope=negative_slope, max_value=max_value,
                             threshold=threshold)


def activation_backward(name, dy, y, axis=-1, out=None):
    """d(act)/dx · dy given the forward output y (relu: y > 0 iff x > 0)."""
    if name == "linear":
        return dy
    if name in _RELU_FAMILY:
        slope, cap = _RELU_FAMILY[name]
        return ops.relu_backward(dy, y, negative_slope=slope, max_value=cap)
    if name == "softmax":
        return ops.softmax_backward(dy, y, axis=axis)
    if name in ("relu", "sigmoid", "tanh") and _direct(dy, y) and dy.shape == y.shape:
        return getattr(_core, name + "_backward")(
            dy, y, out if _usable_out(out, y.shape, y.dtype) else None)
    if name == "relu":
        return ops.relu_backward(dy, y)
    return getattr(ops, name + "_backward")(dy, y)


# ---- optimizers (one fused call over all parameters, in place) --------------------------------
def sgd_update(params, grads, moments, lr, momentum, nesterov):
    ops.sgd_update(params, grads, moments, learning_rate=lr, momentum=momentum,
                   nesterov=nesterov)


def adam_update(params, grads, m, v, vhat, lr, beta_1, beta_2, epsilon, step):
    ops.adam_update(params, grads, m, v, learning_rate=lr, beta_1=beta_1, beta_2=beta_2,
                    epsilon=epsilon, iteration=step, amsgrad=vhat is not None, vhats=vhat)


def rmsprop_update(params, grads, v, mg, mom, lr, rho, momentum, epsilon, centered):
    ops.rmsprop_update(params, grads, v, learning_rate=lr, rho=rho, epsilon=epsilon,
                       momentum=momentum, momentums=mom, centered=centered, average_grads=mg)


# ---- losses -----------------------------------------------------------------------------------
def loss(name, y_true, y_pred, return_grad, **kwargs):
    """Per-sample losses (N,) and, with return_grad, d(mean of them)/d y_pred."""
    from .ops import _losses
    return getattr(_losses, name)(y_true, y_pred, return_grad=return_grad, **kwargs)


# ---- normalization and dropout (channels on the last axis) ------------------------------------
def batch_norm_train(x, gamma, beta, epsilon):
    """(y, mean, var, inv_std) with batch statistics over every axis but the last."""
    from .ops import _norm
    return _norm.batch_norm_forward_train(x, gamma, beta, epsilon)


def batch_norm_infer(x, gamma, beta, moving_mean, moving_variance, epsilon):
    from .ops import _norm
    return _norm.batch_norm_forward_infer(x, gamma, beta, moving_mean, moving_variance, epsilon)


def batch_norm_backward(dy, x, gamma, mean, inv_std, batch_stats):
    """(dx, dgamma, dbeta); batch_stats=False treats mean/inv_std as constants (moving stats)."""
    from .ops import _norm
    return _norm.batch_norm_backward(dy, x, gamma, mean, inv_std, batch_stats)


def dropout(x, keep_mask, scale):
    """x * keep_mask * scale; keep_mask is bool, broadcastable to x (noise_shape)."""
    from .ops import _norm
    return _norm.dropout_apply(x, keep_mask, scale)
