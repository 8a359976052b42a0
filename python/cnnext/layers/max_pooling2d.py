"""MaxPooling2D: window maximum; 'same' padding never wins (-inf)."""
from .. import _backend
from .base_pooling import BasePooling2D


class MaxPooling2D(BasePooling2D):
    """Max pooling over NHWC images (Keras ``keras.layers.MaxPooling2D``); strides default to
    pool_size."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)

    def forward(self, x, training=False):
        y, argmax = _backend.max_pool2d_with_argmax(x, self.pool_size, self.strides, self.padding)
        if training:
            self._argmax, self._in_shape = argmax, x.shape
        return y

    def backward(self, dy, need_dx=True):
        self._grads = []
        argmax, self._argmax = self._argmax, None
        return _backend.max_pool2d_backward(dy, argmax, self._in_shape, self.pool_size,
                                            self.strides, self.padding) if need_dx else None
