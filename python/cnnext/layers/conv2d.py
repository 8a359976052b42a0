"""Conv2D: 2-D cross-correlation over NHWC images, kernel (KH, KW, C/groups, F)."""
import numpy as np

from .. import _backend, activations, initializers
from .base_layer import InputSpec, Layer, format_shape
from ._utils import (int_tuple, output_length, standardize_data_format, standardize_padding)

_NOT_SUPPORTED = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "bias_constraint", "lora_rank")


class Conv2D(Layer):
    """2-D convolution layer (Keras ``keras.layers.Conv2D``), activation fused into the kernel.

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW).
        strides, dilation_rate: int or pair; strides > 1 with dilation > 1 is an error.
        padding: 'valid' or 'same' (extra row/column at the bottom/right, as Keras/TF).
    Input (N, H, W, C) -> output (N, OH, OW, F).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):
        super().__init__(**kwargs)
        for arg in _NOT_SUPPORTED:
            if locals()[arg] is not None:
                raise ValueError(f"cnnext's Conv2D does not support `{arg}` yet.")
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"value. Received filters={filters}.")
        self.filters = int(filters)
        self.kernel_size = int_tuple(kernel_size, 2, "kernel_size")
        self.strides = int_tuple(strides, 2, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.dilation_rate = int_tuple(dilation_rate, 2, "dilation_rate")
        self.groups = int(groups)
        self.activation = activations.get(activation)
        self._act = self.activation.__name__
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        if self.groups <= 0:
            raise ValueError("The number of groups must be a positive integer. "
                             f"Received: groups={groups}.")
        if self.filters % self.groups:
            raise ValueError("The number of filters must be evenly divisible by the number of "
                             f"groups. Received: groups={self.groups}, filters={self.filters}.")
        if not all(self.kernel_size):
            raise ValueError("The argument `kernel_size` cannot contain 0. Received "
                             f"kernel_size={self.kernel_size}.")
        if min(self.kernel_size) < 0 or min(self.dilation_rate) <= 0:
            raise ValueError("`kernel_size` and `dilation_rate` must be positive. Received: "
                             f"kernel_size={self.kernel_size}, "
                             f"dilation_rate={self.dilation_rate}")
        if not all(self.strides) or min(self.strides) < 0:
            raise ValueError(f"`strides` must be positive. Received: strides={self.strides}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError("`strides > 1` not supported in conjunction with `dilation_rate > 1`."
                             f" Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.input_spec = InputSpec(min_ndim=4)
        self.kernel = self.bias = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("The channel dimension of the inputs should be defined. "
                             f"Received input shape {format_shape(input_shape)}")
        if channels % self.groups:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of groups. "
                f"Received groups={self.groups}, but the input has {channels} channels (full "
                f"input shape is {format_shape(input_shape)}).")
        self.compute_output_shape(input_shape)  # raises on zero-size outputs
        shape = self.kernel_size + (channels // self.groups, self.filters)
        self.kernel = self.add_weight("kernel", shape, self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.input_spec = InputSpec(min_ndim=4, axes={-1: channels})
        self.built = True

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f'Input 0 of layer "{self.name}" is incompatible with the layer: '
                             f"expected ndim=4, found ndim={len(input_shape)}. Full shape "
                             f"received: {format_shape(input_shape)}")
        out = [output_length(input_shape[1 + i], self.kernel_size[i], self.strides[i],
                             self.padding, self.dilation_rate[i]) for i in range(2)]
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                "Computed output size would be zero or negative. Received `inputs shape="
                f"{format_shape(input_shape)}`, `kernel shape={self.kernel_size}`, "
                f"`dilation_rate={self.dilation_rate}`.")
        return (input_shape[0], out[0], out[1], self.filters)

    # ---- compute -----------------------------------------------------------------------------
    def _conv(self, x, kernel, bias, act, out=None, pool=None):
        return _backend.conv2d(x, kernel, bias, self.strides, self.padding, self.dilation_rate,
                               act, out, pool)

    def forward(self, x, training=False, pool=None, pool_layer=None):
        """Set by the model's plan for a conv followed by a MaxPooling2D: pool_layer is that
        layer; where conv and pool fuse (few input channels, non-overlapping windows) one op
        computes the pooled output (and the argmax for training) without the conv's output,
        and hands both to pool_layer, whose forward then passes them on. pool: that pool's
        (pool_size, strides) when its padding is 'valid': otherwise the output may stop at the
        last row and column the pool reads."""
        fused = self._act if self._act in _backend._FUSED else "linear"
        bias = self.bias.value if self.use_bias else None
        self._fused_pool = None
        if pool_layer is not None and self._fuses_with(pool_layer, x, fused, training):
            return self._forward_pooled(x, bias, fused, pool_layer, training)
        if self.groups == 1:
            out = None
            if training and x.dtype == self.kernel.dtype:  # training: reuse the output buffer
                shape = self.compute_output_shape(x.shape)
                if pool is not None:
                    shape = shape[:1] + _backend._pool_reach(shape[1:3], *pool) + shape[3:]
                out = self._buffer("y", shape, x.dtype)
            y = self._conv(x, self.kernel.value, bias, fused, out, pool)
        else:
            y = self._grouped_forward(x, bias, fused)
        if fused != self._act:
            y = _backend.activation_forward(self._act, y)
        if training:
            self._x, self._y = x, y
        return y

    def _fuses_with(self, pool, x, fused, training):
        # Training fuses only activations whose gradient the pooled output gives (relu: y > 0
        # there exactly where it is at the argmax cell; linear: none needed).
        return (self.groups == 1 and fused == self._act and x.dtype == self.kernel.dtype
                and (not training or self._act in ("relu", "linear"))
                and _backend.conv2d_max_pool2d_fusable(
                    x.shape, self.kernel.shape, self.strides, self.padding, self.dilation_rate,
                    pool.pool_size, pool.strides, pool.padding))

    def _forward_pooled(self, x, bias, fused, pool, training):
        args = (x, self.kernel.value, bias, self.strides, self.padding, self.dilation_rate,
                fused, pool.pool_size, pool.strides, pool.padding)
        if not training:
            y = _backend.conv2d_max_pool2d(*args, with_argmax=False)
            pool._take_fused(y, None, None)
            return y
        conv_shape = self.compute_output_shape(x.shape)
        shape = pool.compute_output_shape(conv_shape)
        y, argmax = _backend.conv2d_max_pool2d(
            *args, with_argmax=True, out=pool._buffer("y", shape, x.dtype),
            argmax_out=pool._buffer("argmax", shape, "uint8"))
        pool._take_fused(y, argmax, conv_shape, relu=self._act == "relu")
        self._x, self._y, self._fused_pool = x, None, pool
        return y

    def _backward_pooled(self, dy, pool):
        """Kernel and bias gradients from the pooled gradient dy of a fused forward."""
        dk, db = _backend.conv2d_max_pool2d_backprop_kernel(
            self._x, dy, pool._y, pool._argmax, self.kernel.shape, self.strides, self.padding,
            self.dilation_rate, self._act, pool.pool_size, pool.strides, pool.padding,
            out=self._buffer("dk", self.kernel.shape, self.kernel.dtype),
            bias_out=self._buffer("db", (self.filters,), dy.dtype) if self.use_bias else None)
        pool._y = pool._argmax = None
        self._grads = [dk, db] if self.use_bias else [dk]
        self._x = self._y = self._fused_pool = None

    def _group_slices(self, c_in):
        ci, co = c_in // self.groups, self.filters // self.groups
        return [(slice(g * ci, (g + 1) * ci), slice(g * co, (g + 1) * co))
                for g in range(self.groups)]

    def _grouped_forward(self, x, bias, act):
        outs = []
        for sx, sy in self._group_slices(x.shape[-1]):
            xg = np.ascontiguousarray(x[..., sx])
            kg = np.ascontiguousarray(self.kernel.value[..., sy])
            bg = None if bias is None else np.ascontiguousarray(bias[sy])
            outs.append(self._conv(xg, kg, bg, act))
        return np.ascontiguousarray(np.concatenate(outs, axis=-1))

    def backward(self, dy, need_dx=True, preactivated=None, pooled_by=None):
        """preactivated: the following MaxPooling2D whose backward already applied this layer's
        relu mask (set by the training plan); dy is then the gradient before the activation, and
        the bias gradient is the one that pool summed from the pooled, masked gradient (the same
        values, a quarter of the cells). pooled_by: the following MaxPooling2D when this is the
        first trained layer; if the forward fused with it, dy is the pooled gradient (see
        MaxPooling2D's to_conv) and one fused op gives the kernel and bias gradients."""
        if pooled_by is not None and self._fused_pool is pooled_by and not need_dx:
            return self._backward_pooled(dy, pooled_by)
        x, y = self._x, self._y
        if preactivated is not None or y is None:  # y None: a fused forward, the pool masked
            dz = dy
        else:
            dz = _backend.activation_backward(self._act, dy, y,
                                              out=self._buffer("dz", y.shape, y.dtype))
        args = (self.strides, self.padding, self.dilation_rate)
        if self.groups == 1 and dz.dtype == self.kernel.dtype:
            dk = _backend.conv2d_backprop_kernel(
                x, dz, self.kernel.shape, *args,
                out=self._buffer("dk", self.kernel.shape, self.kernel.dtype))
            dx = (_backend.conv2d_backprop_input(
                dz, self.kernel.value, x.shape, *args,
                out=self._buffer("dx", x.shape, x.dtype)) if need_dx else None)
        elif self.groups == 1:
            dk = _backend.conv2d_backprop_kernel(x, dz, self.kernel.shape, *args)
            dx = (_backend.conv2d_backprop_input(dz, self.kernel.value, x.shape, *args)
                  if need_dx else None)
        else:
            dks, dxs = [], []
            for sx, sy in self._group_slices(x.shape[-1]):
                xg, dzg = np.ascontiguousarray(x[..., sx]), np.ascontiguousarray(dz[..., sy])
                kg = np.ascontiguousarray(self.kernel.value[..., sy])
                dks.append(_backend.conv2d_backprop_kernel(xg, dzg, kg.shape, *args))
                if need_dx:
                    dxs.append(_backend.conv2d_backprop_input(dzg, kg, xg.shape, *args))
            dk = np.ascontiguousarray(np.concatenate(dks, axis=-1))
            dx = np.ascontiguousarray(np.concatenate(dxs, axis=-1)) if need_dx else None
        if self.use_bias and preactivated is not None:
            self._grads = [dk, preactivated.bias_grad]
            preactivated.bias_grad = None
        elif self.use_bias:
            self._grads = [dk, _backend.conv2d_backprop_bias(
                dz, out=self._buffer("db", (self.filters,), dz.dtype))]
        else:
            self._grads = [dk]
        self._x = self._y = None
        return dx

    def get_config(self):
        config = super().get_config()
        config.update({
            "filters": self.filters, "kernel_size": list(self.kernel_size),
            "strides": list(self.strides), "padding": self.padding,
            "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
            "groups": self.groups, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None, "bias_regularizer": None,
            "activity_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
        })
        return config
