"""Softmax: exp(x - max) / sum along ``axis``."""
from .. import _backend
from .base_layer import Layer


class Softmax(Layer):
    """Softmax activation layer (Keras ``keras.layers.Softmax(axis=-1)``)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            raise ValueError("cnnext's Softmax takes a single int axis. "
                             f"Received: axis={axis!r}")
        self.axis = int(axis)

    def forward(self, x, training=False):
        y = _backend.activation_forward("softmax", x, axis=self.axis)
        if training:
            self._y = y
        return y

    def backward(self, dy, need_dx=True):
        self._grads = []
        y, self._y = self._y, None
        return _backend.activation_backward("softmax", dy, y, axis=self.axis) if need_dx else None

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config
