"""Pure-NumPy float64 oracles for the activations, the softmax family, and the Keras losses.

Each takes arrays of any float dtype and computes in float64 (the loss clip bounds are taken in the
input's dtype, as Keras clips in y_pred's dtype). Invalid-value warnings are silenced: the oracles
state what NumPy's formula gives, warnings and all, and the tests compare values only.
"""
import numpy as np

EPS = 1e-7  # Keras backend.epsilon()


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def relu(x):
    return np.maximum(np.asarray(x, np.float64), 0)


def sigmoid(x):
    (x,) = _f64(x)
    with np.errstate(over="ignore", under="ignore"):
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def tanh(x):
    return np.tanh(np.asarray(x, np.float64))


def softmax(x, axis=-1):
    (x,) = _f64(x)
    with np.errstate(invalid="ignore", under="ignore", over="ignore"):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    (x,) = _f64(x)
    with np.errstate(invalid="ignore", under="ignore", divide="ignore", over="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def relu_backward(dy, x):
    dy, x = _f64(dy, x)
    return dy * (x > 0)


def sigmoid_backward(dy, y):
    dy, y = _f64(dy, y)
    return dy * y * (1 - y)


def tanh_backward(dy, y):
    dy, y = _f64(dy, y)
    return dy * (1 - y * y)


def softmax_backward(dy, y, axis=-1):
    dy, y = _f64(dy, y)
    return y * (dy - np.sum(dy * y, axis=axis, keepdims=True))


def log_softmax_backward(dy, y, axis=-1):
    dy, y = _f64(dy, y)
    return dy - np.exp(y) * np.sum(dy, axis=axis, keepdims=True)


# ---- losses (Keras 3 numpy backend formulas) ----------------------------------------------------
def _clip_bounds(dtype):
    dt = np.dtype(dtype).type
    return float(dt(EPS)), float(dt(1.0 - EPS))


def binary_crossentropy(y_true, y_pred, from_logits=False, dtype=np.float64):
    """Per-sample loss: mean over the last axis."""
    y, p = _f64(y_true, y_pred)
    with np.errstate(invalid="ignore", over="ignore"):
        if from_logits:
            log_sig = -np.logaddexp(0, -p)       # log_sigmoid(p)
            log_sig_neg = -np.logaddexp(0, p)    # log_sigmoid(-p)
            return np.mean(-y * log_sig - (1 - y) * log_sig_neg, axis=-1)
        lo, hi = _clip_bounds(dtype)
        c = np.clip(p, lo, hi)
        return np.mean(-(y * np.log(c) + (1 - y) * np.log(1 - c)), axis=-1)


def binary_crossentropy_grad(y_true, y_pred, from_logits=False, dtype=np.float64):
    """Gradient of binary_crossentropy(...).mean() w.r.t. y_pred."""
    y, p = _f64(y_true, y_pred)
    if from_logits:
        g = sigmoid(p) - y
    else:
        lo, hi = _clip_bounds(dtype)
        c = np.clip(p, lo, hi)
        g = np.where((p < lo) | (p > hi), 0.0, -y / c + (1 - y) / (1 - c))
    return g / p.size


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1, dtype=np.float64):
    y, p = _f64(y_true, y_pred)
    with np.errstate(invalid="ignore", divide="ignore"):
        if from_logits:
            log_prob = log_softmax(p, axis)
        else:
            lo, hi = _clip_bounds(dtype)
            log_prob = np.log(np.clip(p / np.sum(p, axis=axis, keepdims=True), lo, hi))
        return -np.sum(y * log_prob, axis=axis)


def categorical_crossentropy_grad(y_true, y_pred, from_logits=False, axis=-1, dtype=np.float64):
    """Gradient of categorical_crossentropy(...).mean() w.r.t. y_pred."""
    y, p = _f64(y_true, y_pred)
    count = p.size // p.shape[axis]
    if from_logits:
        g = softmax(p, axis) * np.sum(y, axis=axis, keepdims=True) - y
    else:
        lo, hi = _clip_bounds(dtype)
        s = np.sum(p, axis=axis, keepdims=True)
        q = p / s
        c = np.clip(q, lo, hi)
        gq = np.where((q < lo) | (q > hi), 0.0, -y / c)
        g = (gq - np.sum(gq * q, axis=axis, keepdims=True)) / s
    return g / count


def one_hot(labels, num_classes):
    return np.eye(num_classes)[np.asarray(labels, np.int64)]


def mean_squared_error(y_true, y_pred):
    y, p = _f64(y_true, y_pred)
    return np.mean(np.square(p - y), axis=-1)


def mean_squared_error_grad(y_true, y_pred):
    y, p = _f64(y_true, y_pred)
    return 2 * (p - y) / p.size


def numeric_grad(f, x, h=1e-6):
    """Central finite differences of the scalar f at x (float64), one element at a time."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + h
        fp = f(x)
        flat[i] = v - h
        fm = f(x)
        flat[i] = v
        gflat[i] = (fp - fm) / (2 * h)
    return g


def relu_general(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu with arguments: ``min(x, max_value)`` where ``x > threshold``, else
    ``negative_slope * (x - threshold)`` (exactly 0 when the slope is 0); NaN stays NaN."""
    (x,) = _f64(x)
    upper = x if max_value is None else np.minimum(x, max_value)
    with np.errstate(invalid="ignore"):
        lower = negative_slope * (x - threshold) if negative_slope else np.zeros_like(x)
    return np.where(x > threshold, upper, np.where(np.isnan(x), x, lower))


def relu_general_backward(dy, x, negative_slope=0.0, max_value=None, threshold=0.0):
    """dy where threshold < x < max_value, negative_slope * dy where x <= threshold, else 0."""
    dy, x = _f64(dy, x)
    upper = dy if max_value is None else np.where(x < max_value, dy, 0.0)
    lower = negative_slope * dy if negative_slope else np.zeros_like(dy)
    return np.where(x > threshold, upper, np.where(x <= threshold, lower, 0.0))
