"""Keras layers on cnnext kernels (NHWC images, Keras weight layouts and configs)."""
from .. import _custom_objects
from .base_layer import InputSpec, Layer
from .input_layer import Input, InputLayer, KerasTensor
from .conv2d import Conv2D
from .max_pooling2d import MaxPooling2D
from .average_pooling2d import AveragePooling2D
from .global_average_pooling2d import GlobalAveragePooling2D
from .global_max_pooling2d import GlobalMaxPooling2D
from .flatten import Flatten
from .dense import Dense
from .dropout import Dropout
from .activation import Activation
from .re_lu import ReLU
from .softmax import Softmax
from .batch_normalization import BatchNormalization

# Keras's aliases.
Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

_REGISTRY = {cls.__name__: cls for cls in (
    InputLayer, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Flatten, Dense, Dropout, Activation, ReLU, Softmax, BatchNormalization)}

__all__ = ["Layer", "InputSpec", "Input", "InputLayer", "serialize", "deserialize",
           "Convolution2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D",
           "GlobalMaxPool2D"] + sorted(_REGISTRY)


def serialize(layer):
    """Keras's serialized-object dict for a layer (a user subclass names its own module and class,
    as Keras writes it, so ``deserialize(..., custom_objects={name: cls})`` rebuilds it)."""
    builtin = _REGISTRY.get(type(layer).__name__) is type(layer)
    out = _custom_objects.serialized(layer, "keras.layers", builtin, layer.get_config())
    build = layer.get_build_config() if layer.built else None
    if build is not None:
        out["build_config"] = build
    return out


def deserialize(config, custom_objects=None):
    """A layer from a serialized dict: a class from `custom_objects` (looked up by the config's
    ``registered_name``, then ``class_name``) or one of cnnext's own layer classes; nothing is
    ever imported by name.

    Args:
        config: ``{"class_name": ..., "config": {...}, ...}`` as `serialize` / Keras write it.
        custom_objects: optional dict ``{name: class}`` of user layer classes (``Layer``
            subclasses), visible also to nested configs (e.g. custom initializers) while the
            layer is rebuilt.
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize layer: expected a dict with 'class_name'. "
                         f"Received: {config!r}")
    cls = _custom_objects.lookup(config, custom_objects)
    if cls is None:
        cls = _REGISTRY.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer: '{config['class_name']}'. cnnext can load these layers: "
                         f"{sorted(_REGISTRY)}; pass other layer classes in `custom_objects`.")
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"Could not deserialize layer '{config['class_name']}': its 'config' "
                         f"must be a dict. Received: {inner!r}")
    with _custom_objects.scope(custom_objects):
        layer = cls.from_config(dict(inner))
        if not isinstance(layer, Layer):
            raise ValueError("`cnnext.layers.deserialize` was passed a `config` object that is "
                             f"not a `cnnext.layers.Layer`. Received: {config!r}")
        if config.get("build_config") and not layer.built:
            layer.build_from_config(config["build_config"])
    return layer
