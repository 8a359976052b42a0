"""MaxPooling2D: window maximum; 'same' padding never wins (-inf)."""
from .. import _backend
from .base_pooling import BasePooling2D


class MaxPooling2D(BasePooling2D):
    """Max pooling over NHWC images (Keras ``keras.layers.MaxPooling2D``); strides default to
    pool_size."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)
        self.bias_grad = None  # set by backward(bias_grad=True) for the conv before
        self._prepooled = None  # the output the conv before computed for this layer, if it did
        self._fed_by_conv = False  # this step's outputs and argmax came from the conv's fusion
        self._fed_relu = False  # ... and that conv's activation is relu

    def _take_fused(self, y, argmax, in_shape, relu=False):
        """The Conv2D before computed this layer's output y (and in training its argmax over the
        conv output of in_shape, whose activation is relu if `relu`) in one fused op: forward
        then passes y through."""
        self._prepooled = y
        if argmax is not None:
            self._argmax, self._in_shape, self._y = argmax, in_shape, y
            self._fed_by_conv, self._fed_relu = True, relu

    def forward(self, x, training=False):
        prepooled, self._prepooled = self._prepooled, None
        if x is prepooled:
            return x
        self._fed_by_conv = False
        if training:
            shape = self.compute_output_shape(x.shape)
            idx = "uint8" if self.pool_size[0] * self.pool_size[1] <= 256 else "int32"
            y, argmax = _backend.max_pool2d_with_argmax(
                x, self.pool_size, self.strides, self.padding,
                out=self._buffer("y", shape, x.dtype), argmax_out=self._buffer("argmax", shape, idx))
            self._argmax, self._in_shape, self._y = argmax, x.shape, y
            return y
        return _backend.max_pool2d(x, self.pool_size, self.strides, self.padding)

    def backward(self, dy, need_dx=True, relu_mask=False, bias_grad=False, to_conv=False):
        """relu_mask: the layer before is a relu conv (the relu fused into its output); its mask
        is applied here, on the pooled grid, where it is a quarter of the size (the window's
        maximum is positive exactly when the relu passed the gradient at the argmax cell), in
        the same pass as the scatter. bias_grad: also sum the masked gradient per channel into
        ``self.bias_grad``, that conv's bias gradient (each pooled value lands once in dx).
        to_conv: the conv before is the first trained layer; when its forward was fused with
        this pool, dy passes through untouched and that conv's fused kernel gradient reads it
        with this layer's output and argmax."""
        self._grads = []
        if to_conv and self._fed_by_conv:
            return dy
        # The conv's output (needed for its own relu mask) was never formed: mask here.
        relu_mask = relu_mask or (self._fed_by_conv and self._fed_relu)
        argmax, y, self._argmax, self._y = self._argmax, self._y, None, None
        if not need_dx:
            return None
        dx_out = self._buffer("dx", self._in_shape, dy.dtype)
        if relu_mask:
            db_out = self._buffer("db", y.shape[3:], dy.dtype) if bias_grad else None
            dx = _backend.max_pool2d_relu_backward(
                dy, y, argmax, self._in_shape, self.pool_size, self.strides, self.padding,
                out=dx_out, bias_grad=bias_grad, bias_out=db_out)
            if bias_grad:
                dx, self.bias_grad = dx
            return dx
        return _backend.max_pool2d_backward(dy, argmax, self._in_shape, self.pool_size,
                                            self.strides, self.padding, out=dx_out)
