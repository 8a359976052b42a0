"""The one place where the Keras mirror calls ``cnnext.ops``.

Layers, losses and optimizers call these thin wrappers instead of the ops directly, so each op's
exact signature is written down once. No computation happens here beyond argument plumbing.
"""
from . import ops

_FUSED = ("linear", "relu", "sigmoid", "tanh")  # fused into the conv / dense kernels
# Activations that are relu with fixed arguments: name -> (negative_slope, max_value). Their
# gradient is computable from the output y, as relu's is: y is inside (0, max_value) exactly
# where x is, and y <= 0 exactly where x <= 0 (the slope is positive).
_RELU_FAMILY = {"relu6": (0.0, 6.0), "leaky_relu": (0.2, None)}


def _act_arg(act):
    return None if act in (None, "linear") else act


# ---- convolution ------------------------------------------------------------------------------
def conv2d(x, kernel, bias, strides, padding, dilation_rate, activation=None, out=None):
    return ops.conv2d(x, kernel, bias, strides=strides, padding=padding,
                      dilation_rate=dilation_rate, activation=_act_arg(activation), out=out)


def conv2d_backprop_input(dy, kernel, input_shape, strides, padding, dilation_rate, out=None):
    return ops.conv2d_backprop_input(dy, kernel, input_shape, strides=strides, padding=padding,
                                     dilation_rate=dilation_rate, out=out)


def conv2d_backprop_kernel(x, dy, kernel_shape, strides, padding, dilation_rate, out=None):
    return ops.conv2d_backprop_kernel(x, dy, kernel_shape, strides=strides, padding=padding,
                                      dilation_rate=dilation_rate, out=out)


def conv2d_backprop_bias(dy, out=None):
    return ops.conv2d_backprop_bias(dy, out=out)


# ---- dense ------------------------------------------------------------------------------------
def dense(x, kernel, bias, activation=None):
    return ops.dense(x, kernel, bias, activation=_act_arg(activation))


def dense_backprop_input(dy, kernel):
    return ops.dense_backprop_input(dy, kernel)


def dense_backprop_kernel(x, dy):
    return ops.dense_backprop_kernel(x, dy)


def dense_backprop_bias(dy):
    return ops.dense_backprop_bias(dy)


# ---- pooling ----------------------------------------------------------------------------------
def max_pool2d_with_argmax(x, pool_size, strides, padding):
    return ops.max_pool2d_with_argmax(x, pool_size, strides=strides, padding=padding)


def max_pool2d_backward(dy, argmax, input_shape, pool_size, strides, padding):
    return ops.max_pool2d_backward_from_argmax(dy, argmax, input_shape, pool_size,
                                               strides=strides, padding=padding)


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


def activation_backward(name, dy, y, axis=-1):
    """d(act)/dx · dy given the forward output y (relu: y > 0 iff x > 0)."""
    if name == "linear":
        return dy
    if name == "relu":
        return ops.relu_backward(dy, y)
    if name in _RELU_FAMILY:
        slope, cap = _RELU_FAMILY[name]
        return ops.relu_backward(dy, y, negative_slope=slope, max_value=cap)
    if name == "softmax":
        return ops.softmax_backward(dy, y, axis=axis)
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
