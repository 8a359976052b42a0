"""Shared logic of MaxPooling2D / AveragePooling2D (NHWC, Keras output-size rules)."""
from .base_layer import InputSpec, Layer, format_shape
from ._utils import int_tuple, output_length, standardize_data_format, standardize_padding


class BasePooling2D(Layer):
    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else int_tuple(strides, 2, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        if min(self.pool_size) <= 0:
            raise ValueError(f"`pool_size` must be positive. Received: pool_size={pool_size}")
        if min(self.strides) <= 0:
            raise ValueError(f"`strides` must be positive. Received: strides={strides}")
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        out = [output_length(input_shape[1 + i], self.pool_size[i], self.strides[i], self.padding)
               for i in range(2)]
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                "Computed output size would be zero or negative. Received: "
                f"`inputs.shape={format_shape(input_shape)}` and `pool_size={self.pool_size}`.")
        return (input_shape[0], out[0], out[1], input_shape[3])

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update({"pool_size": list(self.pool_size), "padding": self.padding,
                       "strides": list(self.strides), "data_format": self.data_format})
        return config
