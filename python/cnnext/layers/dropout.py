"""Dropout: inverted dropout, active only in training."""
import numbers

import numpy as np

from .. import _backend, _random
from .base_layer import Layer


class Dropout(Layer):
    """Zero each input with probability ``rate`` while training and scale the rest by
    1/(1 - rate). Masks come from cnnext's seeded Generator (or ``seed=``)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float value "
                             f"between 0 and 1. Received: rate={rate}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._keep = None

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        return tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))

    @property
    def _mask(self):
        """The applied multiplier (keep · scale) as an array of the input dtype, or None."""
        if self._keep is None:
            return None
        return self._keep.astype(self._mask_dtype) * self._mask_dtype.type(self._scale)

    def forward(self, x, training=False):
        if not training or self.rate == 0.0:
            self._keep = None
            return x
        if self.rate == 1.0:
            keep, scale = np.zeros(self._mask_shape(x.shape), bool), 0.0
        else:
            rng = self._rng or _random.generator()
            keep = rng.random(self._mask_shape(x.shape), dtype=np.float32) >= self.rate
            scale = 1.0 / (1.0 - self.rate)
        self._keep, self._scale, self._mask_dtype = keep, scale, x.dtype
        return _backend.dropout(x, keep, scale).astype(x.dtype, copy=False)

    def backward(self, dy, need_dx=True):
        self._grads = []
        if not need_dx:
            return None
        if self._keep is None:
            return dy
        return _backend.dropout(dy, self._keep, self._scale).astype(dy.dtype, copy=False)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed, "noise_shape": self.noise_shape})
        return config
