"""Batch normalization over the last (channel) axis and dropout's masked scale, in C++.

Every leading axis is a batch axis: an input of shape (..., C) is treated as (M, C). Statistics
are accumulated in double over fixed chunks of rows reduced in chunk order, so results are bitwise
identical for any thread count. float32 stays float32, float64 stays float64 (see ``_common``).
"""
import numbers

import numpy as np

from .. import _core
from ._common import as_floats, required

__all__ = ["batch_norm_forward_train", "batch_norm_forward_infer", "batch_norm_backward",
           "dropout_apply"]


def _epsilon(epsilon):
    if (isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real)
            or not epsilon > 0 or not np.isfinite(epsilon)):
        raise ValueError(f"`epsilon` must be a positive finite number. Received: epsilon={epsilon!r}")
    return float(epsilon)


def _channels(x, name="x"):
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"`{name}` must have a non-empty last (channel) axis. "
                         f"Received: {name}.shape={x.shape}")
    return x.shape[-1]


def _vectors(x, c, **named):
    """Per-channel vectors: shape (c,) each; None for gamma gives ones, for beta zeros."""
    out = []
    for name, v in named.items():
        if v is None:
            v = np.ones(c, x.dtype) if name == "gamma" else np.zeros(c, x.dtype)
        elif v.shape != (c,):
            raise ValueError(f"`{name}` must have shape ({c},) to match the last axis of `x`. "
                             f"Received: {name}.shape={v.shape}")
        out.append(v)
    return out


def batch_norm_forward_train(x, gamma=None, beta=None, epsilon=1e-3):
    """Training-mode batch normalization over every axis but the last.

    ``mean``/``var`` are the batch mean and biased variance over the first ndim-1 axes,
    ``inv_std = 1 / sqrt(var + epsilon)``, ``y = (x - mean) * inv_std * gamma + beta``.

    Args:
        x: array-like (..., C) with at least one row.
        gamma, beta: (C,) or None (ones / zeros).
        epsilon: positive float.

    Returns:
        (y, mean, var, inv_std): y of x's shape, the others (C,), all in the result dtype.
    """
    epsilon = _epsilon(epsilon)
    required(x=x)
    x, gamma, beta = as_floats(x=x, gamma=gamma, beta=beta)
    c = _channels(x)
    if x.size == 0:
        raise ValueError(f"`x` must hold at least one row to take batch statistics over. "
                         f"Received: x.shape={x.shape}")
    gamma, beta = _vectors(x, c, gamma=gamma, beta=beta)
    return _core.batch_norm_forward_train(x, gamma, beta, epsilon)


def batch_norm_forward_infer(x, gamma, beta, moving_mean, moving_variance, epsilon=1e-3):
    """Inference-mode batch normalization with moving statistics:
    ``y = (x - moving_mean) * gamma / sqrt(moving_variance + epsilon) + beta`` (C,) per channel.

    gamma and beta may be None (ones / zeros).
    """
    epsilon = _epsilon(epsilon)
    required(x=x, moving_mean=moving_mean, moving_variance=moving_variance)
    x, gamma, beta, mm, mv = as_floats(x=x, gamma=gamma, beta=beta, moving_mean=moving_mean,
                                       moving_variance=moving_variance)
    c = _channels(x)
    gamma, beta, mm, mv = _vectors(x, c, gamma=gamma, beta=beta, moving_mean=mm,
                                   moving_variance=mv)
    return _core.batch_norm_forward_infer(x, gamma, beta, mm, mv, epsilon)


def batch_norm_backward(dy, x, gamma, mean, inv_std, batch_stats=True):
    """Gradients of batch normalization over the last axis.

    With ``xhat = (x - mean) * inv_std`` and M the number of rows: ``dbeta = sum(dy)``,
    ``dgamma = sum(dy * xhat)``, and ``dx = gamma * inv_std * (dy - dbeta/M - xhat * dgamma/M)``
    when mean/inv_std are the batch statistics of x (``batch_stats=True``), else
    ``dx = gamma * inv_std * dy`` (frozen moving statistics).

    Args:
        dy, x: array-likes of one shape (..., C). gamma: (C,) or None (ones).
        mean, inv_std: (C,), as returned by ``batch_norm_forward_train``.

    Returns:
        (dx, dgamma, dbeta).
    """
    required(dy=dy, x=x, mean=mean, inv_std=inv_std)
    dy, x, gamma, mean, inv_std = as_floats(dy=dy, x=x, gamma=gamma, mean=mean, inv_std=inv_std)
    if dy.shape != x.shape:
        raise ValueError(f"`dy` must have the shape of `x`. Received: dy.shape={dy.shape}, "
                         f"x.shape={x.shape}")
    c = _channels(x)
    gamma, mean, inv_std = _vectors(x, c, gamma=gamma, mean=mean, inv_std=inv_std)
    return _core.batch_norm_backward(dy, x, gamma, mean, inv_std, bool(batch_stats))


def dropout_apply(x, mask, scale):
    """``x * mask * scale`` with a boolean/uint8 keep-mask (broadcastable to x's shape), e.g.
    inverted dropout with ``scale = 1 / (1 - rate)``. Also the backward op (pass dy as x).
    NaN in x stays NaN where dropped (``NaN * 0``), as in NumPy.
    """
    required(x=x)
    (x,) = as_floats(x=x)
    try:
        mask = np.asarray(mask)
    except Exception as e:  # ragged lists and other non-array-likes
        raise TypeError(f"`mask` must be a bool or uint8 array. Received: {type(mask).__name__} "
                        f"({e})") from None
    if mask.dtype != np.bool_ and mask.dtype != np.uint8:
        raise TypeError(f"`mask` must be a bool or uint8 array. Received: mask with dtype "
                        f"{mask.dtype}")
    if (isinstance(scale, bool) or not isinstance(scale, numbers.Real)
            or not np.isfinite(scale)):
        raise ValueError(f"`scale` must be a finite number. Received: scale={scale!r}")
    if mask.shape != x.shape:
        try:
            mask = np.broadcast_to(mask, x.shape)
        except ValueError:
            raise ValueError(f"`mask` must be broadcastable to the shape of `x`. Received: "
                             f"mask.shape={mask.shape}, x.shape={x.shape}") from None
    mask = np.asarray(mask, order="C").view(np.uint8)  # (np.ascontiguousarray makes 0-d 1-d)
    return _core.dropout_apply(x, mask, float(scale))
