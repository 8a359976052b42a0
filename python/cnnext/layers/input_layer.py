"""InputLayer and ``Input()``: the model's declared input shape."""
from .base_layer import Layer, dtype_policy, format_shape


class KerasTensor:
    """Symbolic tensor from ``Input()``: a shape plus the chain of layers applied to it, enough
    to define linear models with the functional API (``Model(inputs, outputs)``)."""

    _is_keras_tensor = True

    def __init__(self, shape, dtype, input_layer, chain=()):
        self.shape = tuple(shape)
        self.dtype = dtype
        self._input_layer = input_layer
        self._chain = tuple(chain)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def name(self):
        return self._chain[-1].name if self._chain else self._input_layer.name

    def _apply(self, layer):
        out_shape = layer.build_output_shape(self.shape)
        return KerasTensor(out_shape, layer.dtype, self._input_layer, self._chain + (layer,))

    def __repr__(self):
        return (f"<KerasTensor shape={format_shape(self.shape)}, dtype={self.dtype}, "
                f"name={self.name}>")


class InputLayer(Layer):
    """Declares the batch shape ``(None, *shape)`` of a model's input."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        legacy = kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to InputLayer: {kwargs}")
        if legacy is not None and shape is None:
            shape = legacy
        if batch_input_shape is not None and batch_shape is None:
            batch_shape = batch_input_shape
        if sparse or ragged:
            raise ValueError("cnnext does not support sparse or ragged inputs.")
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if batch_size is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `batch_size` and `batch_shape` at the same "
                             "time.")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        if shape is not None:
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name, dtype=dtype)
        self.batch_shape = tuple(None if s is None else int(s) for s in batch_shape)
        self.sparse, self.ragged, self.optional = False, False, bool(optional)
        self.built = True
        self._output_shape = self.batch_shape
        self.output = KerasTensor(self.batch_shape, self.dtype, self)

    def compute_output_shape(self, input_shape):
        return self.batch_shape

    def forward(self, x, training=False):
        return x

    def backward(self, dy, need_dx=True):
        return dy

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": self.optional}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["dtype"] = dtype_policy(config.get("dtype"))
        return cls(**config)

    def get_build_config(self):
        return None


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False):
    """A symbolic input: ``Sequential([Input((28, 28, 1)), ...])`` or the functional API."""
    if tensor is not None:
        raise ValueError("cnnext's Input does not accept `tensor=`.")
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                       ragged=ragged, batch_shape=batch_shape, name=name, optional=optional)
    return layer.output
