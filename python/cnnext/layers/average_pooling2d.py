"""AveragePooling2D: window mean; 'same' padding is left out of the divisor."""
from .. import _backend
from .base_pooling import BasePooling2D


class AveragePooling2D(BasePooling2D):
    """Average pooling over NHWC images (Keras ``keras.layers.AveragePooling2D``)."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)

    def forward(self, x, training=False):
        if training:
            self._in_shape = x.shape
        return _backend.avg_pool2d(x, self.pool_size, self.strides, self.padding)

    def backward(self, dy, need_dx=True):
        self._grads = []
        if not need_dx:
            return None
        return _backend.avg_pool2d_backward(dy, self._in_shape, self.pool_size, self.strides,
                                            self.padding)
