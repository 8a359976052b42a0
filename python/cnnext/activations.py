"""Activation functions by Keras name: ``get('relu')``, ``serialize(fn) -> 'relu'``.

cnnext trains without autograd, so an activation is usable in a layer only if it has a backward
op: linear, relu, leaky_relu, relu6, sigmoid, tanh and softmax. Other Keras names are recognised
and rejected with a clear message.
"""
from . import _backend

__all__ = ["linear", "relu", "leaky_relu", "relu6", "sigmoid", "tanh", "softmax", "get",
           "serialize", "deserialize"]


def linear(x):
    """Identity."""
    return x


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's relu: ``max(x, 0)`` by default; with arguments, ``min(x, max_value)`` where
    ``x > threshold``, else ``negative_slope * (x - threshold)`` (see ``cnnext.ops.relu``).
    A layer given ``activation='relu'`` (or this function) uses the defaults, as in Keras."""
    return _backend.relu(x, negative_slope, max_value, threshold)


def leaky_relu(x, negative_slope=0.2):
    """x where x > 0, else negative_slope * x (Keras's default slope 0.2)."""
    return _backend.relu(x, negative_slope, None, 0.0)


def relu6(x):
    """min(max(x, 0), 6)."""
    return _backend.relu(x, 0.0, 6.0, 0.0)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return _backend.activation_forward("sigmoid", x)


def tanh(x):
    """Hyperbolic tangent."""
    return _backend.activation_forward("tanh", x)


def softmax(x, axis=-1):
    """exp(x - max) / sum(exp(x - max)) along ``axis``."""
    return _backend.activation_forward("softmax", x, axis=axis)


_SUPPORTED = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
              "softmax": softmax, "leaky_relu": leaky_relu, "relu6": relu6}
_KERAS_ONLY = ("celu", "elu", "selu", "softplus", "softsign", "squareplus",
               "soft_shrink", "sparse_plus", "silu", "swish", "gelu", "glu", "tanh_shrink",
               "threshold", "sparse_sigmoid", "exponential", "hard_sigmoid", "hard_silu",
               "hard_swish", "hard_tanh", "hard_shrink", "mish", "log_softmax", "log_sigmoid",
               "sparsemax")


def get(identifier):
    """None -> linear; a name or one of this module's functions -> that function."""
    if identifier is None:
        return linear
    if isinstance(identifier, dict) and identifier.get("class_name") == "function":
        identifier = identifier.get("config")
    if isinstance(identifier, str):
        if identifier in _SUPPORTED:
            return _SUPPORTED[identifier]
        if identifier in _KERAS_ONLY:
            raise ValueError(f"Activation {identifier!r} is not supported by cnnext (no backward "
                             f"kernel). Supported: {sorted(_SUPPORTED)}")
    elif callable(identifier):
        for fn in _SUPPORTED.values():
            if identifier is fn:
                return fn
        raise ValueError(
            "cnnext layers only accept its built-in activations (it has no autograd to "
            f"differentiate arbitrary callables). Supported: {sorted(_SUPPORTED)}. "
            f"Received: {identifier!r}")
    raise ValueError(f"Could not interpret activation function identifier: {identifier}")


def serialize(fn):
    return get(fn).__name__


deserialize = get
