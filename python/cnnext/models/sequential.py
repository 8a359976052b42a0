"""Sequential: ``add`` layers one after another (Keras ``keras.Sequential``)."""
from .. import layers as _layers
from ..layers.base_layer import Layer, format_shape
from ..layers.input_layer import InputLayer
from .model import Model


class Sequential(Model):
    """A linear stack of layers.

    Example:
        >>> model = Sequential([Input((28, 28, 1)), Conv2D(32, 3, activation="relu"),
        ...                     Flatten(), Dense(1, activation="sigmoid")])
    """

    def __init__(self, layers=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, **kwargs)
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if layers:
            self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        """Append a layer (or an ``Input(...)``); builds as soon as the input shape is known."""
        if getattr(layer, "_is_keras_tensor", False):
            layer = layer._input_layer
        if not isinstance(layer, Layer):
            raise ValueError("Only instances of `keras.Layer` can be added to a Sequential "
                             f"model. Received: {layer} (of type {type(layer)})")
        if isinstance(layer, Model):
            raise ValueError("cnnext does not support models nested as layers yet: add the "
                             f"layers of '{layer.name}' one by one.")
        if isinstance(layer, InputLayer) and self._input_layer() is not None:
            raise ValueError(f"Sequential model '{self.name}' has already been configured to "
                             f"use input shape {format_shape(self._input_layer().batch_shape)}."
                             f" You cannot add a different Input layer to it.")
        if not self._stack and not isinstance(layer, InputLayer) and \
                layer._input_shape_arg is not None:
            self._stack.append(InputLayer(shape=layer._input_shape_arg))
        names = {l.name for l in self._stack}
        if layer.name in names:
            raise ValueError("All layers added to a Sequential model should have unique names. "
                             f"Name '{layer.name}' is already the name of a layer in this "
                             "model. Update the `name` argument to pass a unique name.")
        self._stack.append(layer)
        self.built = False
        self._invalidate()
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild=True):
        if not self.layers:
            raise IndexError("There are no layers in the model.")
        layer = self._stack.pop()
        self.built = False
        self._invalidate()
        if rebuild:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        if self._input_layer() is not None and len(self._stack) > 1:
            self._build_stack()

    def build(self, input_shape=None):
        """Build for a batch shape such as ``(None, 28, 28, 1)``."""
        if not self._stack or (len(self._stack) == 1 and self._input_layer() is not None):
            raise ValueError(f"Sequential model {self.name} cannot be built because it has no "
                             "layers. Call `model.add(layer)`.")
        current = self._input_layer()
        if input_shape is not None:
            input_shape = tuple(None if s is None else int(s) for s in input_shape)
            if current is None:
                self._stack.insert(0, InputLayer(batch_shape=input_shape))
            elif tuple(current.batch_shape[1:]) != tuple(input_shape[1:]):
                raise ValueError(f"Sequential model '{self.name}' has already been configured "
                                 f"to use input shape {format_shape(current.batch_shape)}. You "
                                 f"cannot build it with input_shape {format_shape(input_shape)}")
        elif current is None:
            raise ValueError("You must provide an `input_shape` argument.")
        self._build_stack()

    def _ensure_built(self, x_shape):
        if not self.built:
            self.build((None,) + tuple(x_shape[1:]))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        if "name" not in config or "layers" not in config:
            raise ValueError("A Sequential config needs 'name' and 'layers'.")
        model = cls(name=config["name"], trainable=config.get("trainable", True))
        for item in config["layers"]:
            model.add(_layers.deserialize(item, custom_objects), rebuild=False)
        model._maybe_rebuild()
        if not model.built and config.get("build_input_shape"):
            model.build(tuple(config["build_input_shape"]))
        return model
