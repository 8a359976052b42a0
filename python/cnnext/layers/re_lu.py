"""ReLU layer with Keras's max_value / negative_slope / threshold."""
from .. import _backend
from .base_layer import Layer


class ReLU(Layer):
    """Keras ``keras.layers.ReLU``: ``min(x, max_value)`` where ``x > threshold``, else
    ``negative_slope * (x - threshold)``. One fused C++ pass forward and backward."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0.0:
            raise ValueError("max_value of a ReLU layer cannot be a negative value. Received: "
                             f"max_value={max_value}")
        if negative_slope is None or negative_slope < 0.0:
            raise ValueError("negative_slope of a ReLU layer cannot be None or a negative value. "
                             f"Received: negative_slope={negative_slope}")
        if threshold is None or threshold < 0.0:
            raise ValueError("threshold of a ReLU layer cannot be None or a negative value. "
                             f"Received: threshold={threshold}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def _params(self):
        return self.negative_slope, self.max_value, self.threshold

    def forward(self, x, training=False):
        if training:
            self._x = x
        return _backend.relu(x, *self._params())

    def backward(self, dy, need_dx=True):
        self._grads = []
        x, self._x = self._x, None
        return _backend.relu_backward(dy, x, *self._params()) if need_dx else None

    def get_config(self):
        config = super().get_config()
        config.update({"max_value": self.max_value, "negative_slope": self.negative_slope,
                       "threshold": self.threshold})
        return config
