"""Layer: Keras's layer contract without autograd.

A layer creates its weights in ``build(input_shape)``, computes in ``forward(x, training)`` (which
keeps what its backward needs when ``training``) and returns the input gradient from
``backward(dy)``, leaving the weight gradients in ``self._grads`` (aligned with
``self._trainable_vars``).
"""
import numpy as np

from .. import _naming
from .._variable import Variable
from .. import initializers as _initializers

_FLOAT_DTYPES = ("float32", "float64")


def dtype_policy(dtype):
    """None / 'float32' / a serialized DTypePolicy -> 'float32' or 'float64'."""
    if dtype is None:
        return "float32"
    if isinstance(dtype, dict):
        dtype = (dtype.get("config") or {}).get("name", "float32")
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _FLOAT_DTYPES:
        raise ValueError(f"cnnext layers compute in float32 or float64. Received: dtype={dtype!r}")
    return name


def format_shape(shape):
    return "(" + ", ".join("None" if s is None else str(int(s)) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class InputSpec:
    """What a layer accepts: ``ndim``, ``min_ndim`` and fixed ``axes`` {axis: size}."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})

    def check(self, layer_name, shape):
        shape = tuple(shape)
        head = f'Input 0 of layer "{layer_name}" is incompatible with the layer: '
        if self.ndim is not None and len(shape) != self.ndim:
            raise ValueError(head + f"expected ndim={self.ndim}, found ndim={len(shape)}. "
                             f"Full shape received: {format_shape(shape)}")
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(head + f"expected min_ndim={self.min_ndim}, found ndim={len(shape)}."
                             f" Full shape received: {format_shape(shape)}")
        for axis, value in self.axes.items():
            if -len(shape) <= axis < len(shape):
                got = shape[axis]
                if got is not None and value is not None and got != value:
                    raise ValueError(head + f"expected axis {axis} of input shape to have value "
                                     f"{value}, but received input with shape "
                                     f"{format_shape(shape)}")


class Layer:
    """Base class of every cnnext layer (Keras ``keras.layers.Layer`` subset)."""

    def __init__(self, name=None, trainable=True, dtype=None, **kwargs):
        input_dim = kwargs.pop("input_dim", None)
        input_shape = kwargs.pop("input_shape", None)
        if input_dim is not None:
            input_shape = (input_dim,)
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string or None. Received: name={name!r}")
        self.name = name or _naming.auto_name(self)
        self.trainable = bool(trainable)
        self.dtype = dtype_policy(dtype)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self.built = False
        self.input_spec = None
        self._trainable_vars = []
        self._non_trainable_vars = []
        self._grads = []
        self._build_input_shape = None
        self._output_shape = None

    # ---- weights -----------------------------------------------------------------------------
    def add_weight(self, name, shape, initializer, trainable=True):
        init = _initializers.get(initializer)
        var = Variable(np.asarray(init(tuple(shape), self.dtype), dtype=self.dtype), name,
                       trainable=trainable, path=f"{self.name}/{name}")
        (self._trainable_vars if trainable else self._non_trainable_vars).append(var)
        return var

    @property
    def weights(self):
        return self._trainable_vars + self._non_trainable_vars

    variables = weights

    @property
    def trainable_weights(self):
        return list(self._trainable_vars) if self.trainable else []

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_vars)
        return self._trainable_vars + self._non_trainable_vars

    non_trainable_variables = non_trainable_weights

    def get_weights(self):
        return [v.numpy() for v in self.weights]

    def set_weights(self, weights):
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(mine)} weights.")
        for var, value in zip(mine, weights):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {var.shape} is not compatible with provided "
                    f"weight shape {value.shape}.")
        for var, value in zip(mine, weights):
            var.value[...] = value

    def count_params(self):
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: "
                f"`layer.build(input_shape)`.")
        return int(sum(v.value.size for v in self.weights))

    # ---- shapes ------------------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _maybe_build(self, input_shape):
        input_shape = tuple(None if s is None else int(s) for s in input_shape)
        if self.input_spec is not None:
            self.input_spec.check(self.name, input_shape)
        if not self.built:
            self.build(input_shape)
            self.built = True
            self._build_input_shape = input_shape
        return input_shape

    def build_output_shape(self, input_shape):
        """Build (if needed) for a batch shape and return the output batch shape."""
        input_shape = self._maybe_build(input_shape)
        self._output_shape = self.compute_output_shape(input_shape)
        return self._output_shape

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no "
                                 "defined output shape.")
        return self._output_shape

    # ---- computation -------------------------------------------------------------------------
    def _cast(self, x):
        x = np.asarray(x)
        if x.dtype != self.dtype or not x.flags.c_contiguous:
            if x.dtype.kind not in "biuf":
                raise TypeError(f"Layer '{self.name}' expects real-valued input. Received dtype "
                                f"{x.dtype}")
            x = np.ascontiguousarray(x, dtype=self.dtype)
        return x

    def __call__(self, x, training=None):
        if getattr(x, "_is_keras_tensor", False):
            return x._apply(self)
        x = self._cast(x)
        self._maybe_build(x.shape)
        y = self.forward(x, bool(training))
        # Training-mode outputs may live in a buffer the next training step reuses.
        return y.copy() if training and y is not x else y

    def forward(self, x, training=False):
        raise NotImplementedError

    def _buffer(self, key, shape, dtype):
        """A scratch array reused from training step to training step (outputs and gradients
        are consumed within the step that produced them, so reuse is safe there). The two most
        recent shapes per key are kept: an epoch's full batches and its smaller last batch then
        both reuse theirs instead of reallocating at every epoch boundary."""
        try:
            bufs = self._buffers
        except AttributeError:
            bufs = self._buffers = {}
        slot = bufs.get(key)
        if slot is not None:
            buf = slot[0]
            if buf.shape == shape and buf.dtype == dtype:
                return buf
        shape = tuple(shape)
        dtype = np.dtype(dtype)
        if slot is None:
            slot = bufs[key] = []
        for i, buf in enumerate(slot):
            if buf.shape == shape and buf.dtype == dtype:
                if i:
                    slot.insert(0, slot.pop(i))
                return buf
        slot.insert(0, np.empty(shape, dtype))
        del slot[2:]
        return slot[0]

    def backward(self, dy, need_dx=True):
        raise NotImplementedError

    # ---- config ------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "dtype": {"module": "keras", "class_name": "DTypePolicy",
                          "config": {"name": self.dtype}, "registered_name": None}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_build_config(self):
        if self._build_input_shape is None:
            return None
        return {"input_shape": list(self._build_input_shape)}

    def build_from_config(self, config):
        if config and config.get("input_shape") is not None:
            self.build_output_shape(tuple(config["input_shape"]))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
