"""MaxPooling2D: window maximum; 'same' padding never wins (-inf)."""
from .. import _backend
from .base_pooling import BasePooling2D


class MaxPooling2D(BasePooling2D):
    """Max pooling over NHWC images (Keras ``keras.layers.MaxPooling2D``); strides default to
    pool_size."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)
        self.masked_dy = None

    def forward(self, x, training=False):
        if training:
            shape = self.compute_output_shape(x.shape)
            idx = "uint8" if self.pool_size[0] * self.pool_size[1] <= 256 else "int32"
            y, argmax = _backend.max_pool2d_with_argmax(
                x, self.pool_size, self.strides, self.padding,
                out=self._buffer("y", shape, x.dtype), argmax_out=self._buffer("argmax", shape, idx))
            self._argmax, self._in_shape, self._y = argmax, x.shape, y
            return y
        return _backend.max_pool2d(x, self.pool_size, self.strides, self.padding)

    def backward(self, dy, need_dx=True, relu_mask=False):
        """relu_mask: the layer before is a relu (fused into its output); mask dy with it here,
        on the pooled grid, where it is a quarter of the size (the window's maximum is positive
        exactly when the relu passed the gradient at the argmax cell)."""
        self._grads = []
        argmax, y, self._argmax, self._y = self._argmax, self._y, None, None
        if not need_dx:
            return None
        if relu_mask:
            dy = _backend.activation_backward("relu", dy, y,
                                              out=self._buffer("dy_masked", y.shape, y.dtype))
            self.masked_dy = dy  # the conv's bias gradient sums it (each value lands once in dx)
        return _backend.max_pool2d_backward(dy, argmax, self._in_shape, self.pool_size,
                                            self.strides, self.padding,
                                            out=self._buffer("dx", self._in_shape, dy.dtype))
