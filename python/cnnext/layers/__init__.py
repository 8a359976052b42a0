"""Keras layers on cnnext kernels (NHWC images, Keras weight layouts and configs)."""
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
    """Keras's serialized-object dict for a layer."""
    out = {"module": "keras.layers", "class_name": type(layer).__name__,
           "config": layer.get_config(), "registered_name": None}
    build = layer.get_build_config() if layer.built else None
    if build is not None:
        out["build_config"] = build
    return out


def deserialize(config):
    """A layer from a serialized dict. Only cnnext's own layer classes are ever constructed."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize layer: expected a dict with 'class_name'. "
                         f"Received: {config!r}")
    cls = _REGISTRY.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown layer: '{config['class_name']}'. cnnext can load these layers: "
                         f"{sorted(_REGISTRY)}")
    layer = cls.from_config(dict(config.get("config") or {}))
    if config.get("build_config"):
        layer.build_from_config(config["build_config"])
    return layer
