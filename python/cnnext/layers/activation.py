"""Activation: applies a named activation."""
from .. import _backend, activations
from .base_layer import Layer


class Activation(Layer):
    """``Activation('relu')`` etc.; linear, relu, sigmoid, tanh and softmax are supported."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._act = self.activation.__name__

    def forward(self, x, training=False):
        y = _backend.activation_forward(self._act, x)
        if training:
            self._y = y
        return y

    def backward(self, dy, need_dx=True):
        self._grads = []
        y, self._y = self._y, None
        return _backend.activation_backward(self._act, dy, y) if need_dx else None

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config
