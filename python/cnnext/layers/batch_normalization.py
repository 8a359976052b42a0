"""BatchNormalization: batch statistics in training, moving statistics in inference."""
import numpy as np

from .. import _backend, initializers
from .base_layer import InputSpec, Layer, format_shape


class BatchNormalization(Layer):
    """Normalizes over every axis except ``axis``: ``gamma·(x − mean)/√(var + ε) + beta``.

    Training (and ``trainable``): batch mean and biased variance; the moving statistics move by
    ``moving = moving·momentum + batch·(1 − momentum)``. Weights: gamma, beta (trainable),
    moving_mean, moving_variance (non-trainable). Computed by cnnext.ops._norm (C++).
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
        self._saved = None

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

    def _to_last(self, x):
        """x with the normalized axis moved last (C-contiguous), and whether it moved."""
        axis = self.axis % x.ndim
        if axis == x.ndim - 1:
            return x, False
        return np.ascontiguousarray(np.moveaxis(x, axis, -1)), True

    def _from_last(self, y, moved, dtype):
        y = np.moveaxis(y, -1, self.axis % y.ndim) if moved else y
        return np.ascontiguousarray(y, dtype=dtype)

    def forward(self, x, training=False):
        xl, moved = self._to_last(x)
        gamma = self.gamma.value if self.scale else None
        beta = self.beta.value if self.center else None
        batch_stats = bool(training and self.trainable)
        if batch_stats:
            y, mean, var, inv = _backend.batch_norm_train(xl, gamma, beta, self.epsilon)
            m = self.momentum
            self.moving_mean.value[...] = self.moving_mean.value * m + mean * (1 - m)
            self.moving_variance.value[...] = self.moving_variance.value * m + var * (1 - m)
        else:
            mean, var = self.moving_mean.value, self.moving_variance.value
            y = _backend.batch_norm_infer(xl, gamma, beta, mean, var, self.epsilon)
            if training:
                inv = 1.0 / np.sqrt(np.asarray(var, np.float64) + self.epsilon)
        if training:
            self._saved = (xl, moved, mean, inv, batch_stats)
        return self._from_last(y, moved, x.dtype)

    def backward(self, dy, need_dx=True):
        xl, moved, mean, inv, batch_stats = self._saved
        self._saved = None
        dyl, _ = self._to_last(dy)
        gamma = self.gamma.value if self.scale else None
        dx, dgamma, dbeta = _backend.batch_norm_backward(dyl, xl, gamma, mean, inv, batch_stats)
        grads = []
        if self.scale:
            grads.append(dgamma.astype(dy.dtype, copy=False))
        if self.center:
            grads.append(dbeta.astype(dy.dtype, copy=False))
        self._grads = grads
        if not need_dx:
            return None
        return self._from_last(dx, moved, dy.dtype)

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
