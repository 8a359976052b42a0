"""BatchNormalization: batch statistics in training, moving statistics in inference."""
import numpy as np

from .. import initializers
from .base_layer import InputSpec, Layer, format_shape


class BatchNormalization(Layer):
    """Normalizes over every axis except ``axis``: ``gamma·(x − mean)/√(var + ε) + beta``.

    Training (and ``trainable``): batch mean and biased variance; the moving statistics move by
    ``moving = moving·momentum + batch·(1 − momentum)``. Weights: gamma, beta (trainable),
    moving_mean, moving_variance (non-trainable). Computed with NumPy (no dedicated kernel yet).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                 synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if renorm or any(a is not None for a in (beta_regularizer, gamma_regularizer,
                                                  beta_constraint, gamma_constraint)):
            raise ValueError("cnnext's BatchNormalization does not support renorm, regularizers "
                             "or constraints yet.")
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)
        self.gamma = self.beta = None

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"Invalid axis: {self.axis} for input shape "
                             f"{format_shape(input_shape)}")
        channels = input_shape[self.axis]
        shape = (channels,)
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", shape, self.beta_initializer)
        self.moving_mean = self.add_weight("moving_mean", shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})
        self.built = True

    def _bshape(self, x):
        shape = [1] * x.ndim
        shape[self.axis] = x.shape[self.axis]
        return shape

    def forward(self, x, training=False):
        axes = tuple(i for i in range(x.ndim) if i != self.axis % x.ndim)
        b = self._bshape(x)
        if training and self.trainable:
            mean = x.mean(axis=axes, dtype=np.float64)
            var = x.var(axis=axes, dtype=np.float64)
            m = self.momentum
            self.moving_mean.value[...] = self.moving_mean.value * m + mean * (1 - m)
            self.moving_variance.value[...] = self.moving_variance.value * m + var * (1 - m)
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
        inv = 1.0 / np.sqrt(np.asarray(var, np.float64) + self.epsilon)
        xhat = (x - mean.reshape(b).astype(x.dtype)) * inv.reshape(b).astype(x.dtype)
        gamma = self.gamma.value if self.scale else None
        y = xhat * gamma.reshape(b) if self.scale else xhat.copy()
        if self.center:
            y += self.beta.value.reshape(b)
        if training:
            self._xhat, self._inv, self._axes, self._batch_stats = (
                xhat, inv.astype(x.dtype), axes, training and self.trainable)
        return y.astype(x.dtype, copy=False)

    def backward(self, dy, need_dx=True):
        xhat, inv, axes = self._xhat, self._inv, self._axes
        b = self._bshape(dy)
        grads = []
        if self.scale:
            grads.append((dy * xhat).sum(axis=axes).astype(dy.dtype))
        if self.center:
            grads.append(dy.sum(axis=axes).astype(dy.dtype))
        self._grads = grads
        self._xhat = None
        if not need_dx:
            return None
        g = self.gamma.value.reshape(b) if self.scale else 1.0
        dxhat = dy * g
        if not self._batch_stats:
            return (dxhat * inv.reshape(b)).astype(dy.dtype, copy=False)
        dx = inv.reshape(b) * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                               - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        return dx.astype(dy.dtype, copy=False)

    def get_config(self):
        config = super().get_config()
        config.update({
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer":
                initializers.serialize(self.moving_variance_initializer),
            "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
            "gamma_constraint": None, "synchronized": self.synchronized,
        })
        return config
