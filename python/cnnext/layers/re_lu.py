"""ReLU layer with Keras's max_value / negative_slope / threshold."""
import numpy as np

from .. import _backend
from .base_layer import Layer


class ReLU(Layer):
    """``max_value`` caps, ``negative_slope`` leaks below ``threshold``; defaults give plain relu
    (the SIMD kernel), other settings compute with NumPy."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError("max_value of a ReLU layer cannot be a negative value. Received: "
                             f"{max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError("negative_slope of a ReLU layer cannot be a negative value. "
                             f"Received: {negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError("threshold of a ReLU layer cannot be a negative value. Received: "
                             f"{threshold}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self._plain = (self.max_value is None and self.negative_slope == 0.0
                       and self.threshold == 0.0)

    def forward(self, x, training=False):
        if self._plain:
            y = _backend.activation_forward("relu", x)
        else:
            y = np.where(x >= self.threshold, x, self.negative_slope * (x - self.threshold))
            if self.max_value is not None:
                y = np.minimum(y, self.max_value)
            y = y.astype(x.dtype, copy=False)
        if training:
            self._x, self._y = x, y
        return y

    def backward(self, dy, need_dx=True):
        self._grads = []
        x, y = self._x, self._y
        self._x = self._y = None
        if not need_dx:
            return None
        if self._plain:
            return _backend.activation_backward("relu", dy, y)
        slope = np.where(x >= self.threshold, 1.0, self.negative_slope)
        if self.max_value is not None:
            slope = np.where(x >= self.max_value, 0.0, slope)
        return (dy * slope).astype(dy.dtype, copy=False)

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config
