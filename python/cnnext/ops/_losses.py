"""Keras losses as fused kernels: per-sample loss and, optionally, the gradient of the batch mean.

Each function returns the per-sample loss (y_pred's shape without its class/last axis), or, with
``return_grad=True``, ``(loss, grad)`` where ``grad`` (y_pred's shape) is the gradient of
``loss.mean()`` (Keras's default "sum_over_batch_size" reduction) w.r.t. y_pred, or w.r.t. the
logits when ``from_logits=True``. Formulas are Keras 3's: probabilities are clipped to
``[eps, 1 - eps]`` with ``eps = 1e-7`` (in y_pred's dtype), and the gradient is 0 where the clip
is flat. y_true is cast to y_pred's float dtype, as Keras does; when the ranks differ by one and the
extra axis has size 1, the arrays are brought to the same rank as Keras's loss wrapper does
(``squeeze_or_expand_to_same_rank``), e.g. labels (N,) against y_pred (N, 1).
"""
import numpy as np

from .. import _core
from ._activations import as_float  # 0-d stays 0-d
from ._common import normalize_axis

__all__ = ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "mean_squared_error"]


def _same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank(y_true, y_pred): views, sizes unchanged."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            return y_true, y_pred[:, None]
        return y_true[..., 0], y_pred
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            return y_true[:, None], y_pred
        return y_true, y_pred[..., 0]
    return y_true, y_pred


def _dense_inputs(y_true, y_pred):
    y_pred = as_float(y_pred, "y_pred")
    y_true = as_float(y_true, "y_true", dtype=y_pred.dtype)
    if y_pred.ndim == 0:
        raise ValueError("`y_pred` must have at least 1 dimension. Received: y_pred.shape=()")
    t, p = _same_rank(y_true, y_pred)
    if t.shape != p.shape:
        raise ValueError(f"`y_true` and `y_pred` must have the same shape. Received: "
                         f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}")
    return np.ascontiguousarray(t), np.ascontiguousarray(p), y_pred.shape


def _finish(res, shape, return_grad):
    if not return_grad:
        return res
    loss, grad = res
    return loss, grad.reshape(shape)


def binary_crossentropy(y_true, y_pred, from_logits=False, return_grad=False):
    """Keras ``binary_crossentropy``: elementwise cross-entropy averaged over the last axis.

    Args:
        y_true: targets in [0, 1], y_pred's shape.
        y_pred: probabilities (clipped to [1e-7, 1 - 1e-7]) or, with from_logits, logits.
        return_grad: also return the gradient of the mean loss w.r.t. y_pred.
    """
    t, p, shape = _dense_inputs(y_true, y_pred)
    res = _core.binary_crossentropy(t, p, bool(from_logits), bool(return_grad))
    return _finish(res, shape, return_grad)


def mean_squared_error(y_true, y_pred, return_grad=False):
    """Keras ``mean_squared_error``: ``mean((y_pred - y_true)**2, axis=-1)``."""
    t, p, shape = _dense_inputs(y_true, y_pred)
    return _finish(_core.mean_squared_error(t, p, False, bool(return_grad)), shape, return_grad)


def categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1, return_grad=False):
    """Keras ``categorical_crossentropy``: ``-sum(y_true * log(p), axis)``.

    Args:
        y_true: one-hot (or soft) targets, y_pred's shape.
        y_pred: probabilities (renormalized to sum 1 along `axis`, then clipped) or, with
            from_logits, logits (log_softmax along `axis`).
        axis: the class axis.
        return_grad: also return the gradient of the mean loss w.r.t. y_pred.
    """
    t, p, shape = _dense_inputs(y_true, y_pred)
    axis = normalize_axis(axis, p.ndim)
    last = axis == p.ndim - 1
    if not last:  # the kernels reduce over the last axis
        t = np.ascontiguousarray(np.moveaxis(t, axis, -1))
        p = np.ascontiguousarray(np.moveaxis(p, axis, -1))
    res = _core.categorical_crossentropy(t, p, bool(from_logits), bool(return_grad))
    if return_grad and not last:
        res = res[0], np.ascontiguousarray(np.moveaxis(res[1], -1, axis))
    return _finish(res, shape, return_grad)


def _labels(y_true, pred_shape):
    try:
        arr = np.asarray(y_true)
    except Exception as e:  # ragged lists and other non-array-likes
        raise TypeError(f"`y_true` must be array-like. Received: {type(y_true).__name__} ({e})") \
            from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`y_true` must be an array of integer class labels. Received: y_true "
                        f"with dtype {arr.dtype}")
    if arr.ndim == len(pred_shape) and arr.ndim > 0 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != pred_shape[:-1]:
        raise ValueError(f"`y_true` must have shape y_pred.shape[:-1] = {pred_shape[:-1]} "
                         f"(integer class labels). Received: y_true.shape={np.shape(y_true)}, "
                         f"y_pred.shape={pred_shape}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.trunc(arr))  # no warning: trunc/compare only
        if bad.any():
            raise ValueError(f"`y_true` must hold integer class labels. Received: "
                             f"{float(arr[bad].flat[0])!r}")
    return np.ascontiguousarray(arr, dtype=np.int64).reshape(arr.shape)  # 0-d stays 0-d


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, return_grad=False):
    """Keras ``sparse_categorical_crossentropy``: categorical with ``y_true = one_hot(labels)``.

    Args:
        y_true: integer labels in [0, C), shape y_pred.shape[:-1] (or with a trailing 1).
        y_pred: (..., C) probabilities (renormalized, clipped) or, with from_logits, logits.
        return_grad: also return the gradient of the mean loss w.r.t. y_pred.
    """
    y_pred = as_float(y_pred, "y_pred")
    if y_pred.ndim == 0:
        raise ValueError("`y_pred` must have at least 1 dimension. Received: y_pred.shape=()")
    labels = _labels(y_true, y_pred.shape)
    return _core.sparse_categorical_crossentropy(labels, y_pred, bool(from_logits),
                                                 bool(return_grad))
