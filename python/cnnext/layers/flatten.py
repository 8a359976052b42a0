"""Flatten: (N, ...) -> (N, prod(...)), row-major (H, W, C) order."""
import math

from .base_layer import InputSpec, Layer
from ._utils import standardize_data_format


class Flatten(Layer):
    """Flattens every axis but the batch axis (a view, no copy)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(s is None for s in rest) else math.prod(rest)
        return (input_shape[0], size)

    def forward(self, x, training=False):
        if training:
            self._in_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, need_dx=True):
        self._grads = []
        return dy.reshape(self._in_shape) if need_dx else None

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config
