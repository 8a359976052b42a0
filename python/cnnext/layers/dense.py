"""Dense: ``activation(x @ kernel + bias)`` on the last axis, kernel (in, units)."""
import numpy as np

from .. import _backend, activations, initializers
from .base_layer import InputSpec, Layer

_NOT_SUPPORTED = ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                  "kernel_constraint", "bias_constraint", "lora_rank", "quantization_config")


class Dense(Layer):
    """Fully connected layer (Keras ``keras.layers.Dense``); activation fused into the GEMM.

    Input (..., in) -> output (..., units).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        for arg in _NOT_SUPPORTED:
            if locals()[arg] is not None:
                raise ValueError(f"cnnext's Dense does not support `{arg}` yet.")
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive integer. "
                             f"Received: units={units}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self._act = self.activation.__name__
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.input_spec = InputSpec(min_ndim=2)
        self.kernel = self.bias = None

    def build(self, input_shape):
        in_features = input_shape[-1]
        if in_features is None:
            raise ValueError("The last dimension of the inputs to a Dense layer should be defined. "
                             "Found None.")
        self.kernel = self.add_weight("kernel", (in_features, self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_features})
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        fused = self._act if self._act in _backend._FUSED else "linear"
        out = (self._buffer("y", (x2.shape[0], self.units), x2.dtype)
               if training and x2.dtype == self.kernel.dtype else None)
        y = _backend.dense(x2, self.kernel.value, self.bias.value if self.use_bias else None,
                           fused, out=out)
        if fused != self._act:
            y = _backend.activation_forward(self._act, y)
        if training:
            self._x, self._y = x2, y
        return y.reshape(lead + (self.units,)) if x.ndim != 2 else y

    def backward(self, dy, need_dx=True):
        x, y = self._x, self._y
        lead = dy.shape[:-1]
        dz = _backend.activation_backward(self._act, dy.reshape(y.shape), y,
                                          out=self._buffer("dz", y.shape, y.dtype))
        self._grads = [_backend.dense_backprop_kernel(
            x, dz, out=self._buffer("dk", self.kernel.shape, self.kernel.dtype))]
        if self.use_bias:
            self._grads.append(_backend.dense_backprop_bias(dz))
        self._x = self._y = None
        if not need_dx:
            return None
        dx = _backend.dense_backprop_input(dz, self.kernel.value,
                                           out=self._buffer("dx", x.shape, dz.dtype))
        return dx.reshape(lead + (x.shape[-1],))

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
            "bias_constraint": None,
        })
        return config
