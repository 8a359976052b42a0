"""Fused optimizer steps (Keras 3 formulas) over every parameter of a model in ONE call.

These functions write into their array arguments, like ``out=``: ``params`` and the optimizer
state lists (``ms``, ``vs``, ``momentums``, ...) are the optimizer's and model's own arrays and are
updated in place; ``grads`` are only read. Every array must be a float32 or float64, C-contiguous
ndarray (the written ones writeable), all of one dtype, each state array shaped like its parameter.
Nothing is ever converted: a converted copy would silently drop the update, so anything else raises
``TypeError``/``ValueError``. The work is split into fixed chunks, so the result does not depend on
the thread count. Do not pass the same array in two written roles.
"""
import math
import numbers

import numpy as np

from .. import _core

__all__ = ["adam_update", "sgd_update", "rmsprop_update"]


def _real(value, name):
    if type(value) is float:  # the common case, first (this runs several times per training step)
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number. Received: {name}={value!r}")
    return float(value)


def _step(iteration):
    is_int = type(iteration) is int or (isinstance(iteration, numbers.Integral)
                                        and not isinstance(iteration, (bool, np.bool_)))
    if not is_int or iteration < 1:
        raise ValueError(f"`iteration` must be an int >= 1 (the 1-based step). "
                         f"Received: iteration={iteration!r}")
    return int(iteration)


def _arrays(value, name):
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"`{name}` must be a list or tuple of numpy arrays. "
                        f"Received: {name} of type {type(value).__name__}")
    return value


def _adam_alpha(lr, b1, b2, t):
    """lr * sqrt(1 - b2^t) / (1 - b1^t) with IEEE results (inf/nan) for degenerate betas, as the
    tensor arithmetic in Keras gives, instead of Python's exceptions."""
    c2 = 1.0 - b2 ** t
    num = lr * (math.sqrt(c2) if c2 >= 0 else math.nan)
    den = 1.0 - b1 ** t
    if den == 0.0:
        return math.copysign(math.inf, num) if num == num and num != 0.0 else math.nan
    return num / den


def adam_update(params, grads, ms, vs, *, learning_rate, beta_1, beta_2, epsilon, iteration,
                amsgrad=False, vhats=None):
    """One Adam step (Keras 3 ``Adam.update_step``) over all parameters, in place.

    With t = ``iteration`` (the 1-based step) and lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t):
    ``m += (g - m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``, with amsgrad ``vhat = max(vhat, v)``
    used in place of v, then ``p -= lr_t * m / (sqrt(v) + epsilon)``.

    Args:
        params, grads, ms, vs: lists of arrays, one per parameter (``params``, ``ms``, ``vs``
            are written).
        iteration: int >= 1, the step number used in the bias correction.
        amsgrad: keep the running maximum of v in ``vhats`` (required then, and written).
    """
    params, grads = _arrays(params, "params"), _arrays(grads, "grads")
    ms, vs = _arrays(ms, "ms"), _arrays(vs, "vs")
    lr = _real(learning_rate, "learning_rate")
    b1, b2 = _real(beta_1, "beta_1"), _real(beta_2, "beta_2")
    eps = _real(epsilon, "epsilon")
    t = _step(iteration)
    if amsgrad:
        if vhats is None:
            raise ValueError("`vhats` is required when amsgrad=True")
        vhats = _arrays(vhats, "vhats")
    else:
        vhats = None
    alpha = _adam_alpha(lr, b1, b2, t)
    _core.adam_update(params, grads, ms, vs, vhats, alpha, 1.0 - b1, 1.0 - b2, eps)


def sgd_update(params, grads, momentums=None, *, learning_rate, momentum=0.0, nesterov=False):
    """One SGD step (Keras 3 ``SGD.update_step``) over all parameters, in place.

    momentum == 0: ``p -= lr * g`` (``momentums`` is not used). Otherwise
    ``m = momentum * m - lr * g`` then ``p += m``, or with nesterov ``p += momentum * m - lr * g``.

    Args:
        params, grads: lists of arrays, one per parameter (``params`` is written).
        momentums: list of arrays, required when momentum != 0 (written).
    """
    params, grads = _arrays(params, "params"), _arrays(grads, "grads")
    lr = _real(learning_rate, "learning_rate")
    mu = _real(momentum, "momentum")
    if mu != 0.0:
        if momentums is None:
            raise ValueError(f"`momentums` is required when momentum != 0. Received: momentum={momentum!r}")
        momentums = _arrays(momentums, "momentums")
    else:
        momentums = None
    _core.sgd_update(params, grads, momentums, lr, mu, bool(nesterov))


def rmsprop_update(params, grads, velocities, *, learning_rate, rho, epsilon, momentum=0.0,
                   momentums=None, centered=False, average_grads=None):
    """One RMSprop step (Keras 3 ``RMSprop.update_step``) over all parameters, in place.

    ``v = rho v + (1 - rho) g^2``; centered: ``a = rho a + (1 - rho) g`` and
    ``den = v - a^2 + epsilon``, else ``den = v + epsilon``; ``inc = lr g / sqrt(den)``;
    momentum > 0: ``mom = momentum * mom + inc; p -= mom``, else ``p -= inc``.

    Args:
        params, grads, velocities: lists of arrays, one per parameter (``params``, ``velocities``
            are written).
        momentums: required when momentum > 0 (written). average_grads: required when centered
            (written).
    """
    params, grads = _arrays(params, "params"), _arrays(grads, "grads")
    velocities = _arrays(velocities, "velocities")
    lr = _real(learning_rate, "learning_rate")
    r, eps, mu = _real(rho, "rho"), _real(epsilon, "epsilon"), _real(momentum, "momentum")
    if mu > 0.0:
        if momentums is None:
            raise ValueError(f"`momentums` is required when momentum > 0. Received: momentum={momentum!r}")
        momentums = _arrays(momentums, "momentums")
    else:
        momentums = None
    if centered:
        if average_grads is None:
            raise ValueError("`average_grads` is required when centered=True")
        average_grads = _arrays(average_grads, "average_grads")
    else:
        average_grads = None
    _core.rmsprop_update(params, grads, velocities, momentums, average_grads, lr, r, 1.0 - r, eps, mu)
