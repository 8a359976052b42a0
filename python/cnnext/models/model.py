"""Model: a linear stack of layers with Keras's weights, config and saving API.

``Sequential`` builds the stack with ``add``; ``Model(inputs, outputs)`` accepts a functional
graph as long as it is a single chain from one ``Input``.
"""
import json

import numpy as np

from .. import _interrupt, _naming
from .. import layers as _layers
from ..layers.base_layer import Layer
from ..layers.input_layer import InputLayer
from .trainer import Trainer
from . import summary as _summary


class Model(Trainer, Layer):
    """Base model class (``keras.Model``)."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if name is None and (inputs is not None or outputs is not None):
            name = _naming.uniquify("functional")  # Keras builds a `Functional` model here
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        Trainer.__init__(self)
        self._stack = []  # every layer, the InputLayer first when there is one
        if inputs is not None or outputs is not None:
            self._init_functional(inputs, outputs)

    def _init_functional(self, inputs, outputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError("cnnext models take exactly one input.")
            inputs = inputs[0]
        if isinstance(outputs, (list, tuple)):
            if len(outputs) != 1:
                raise ValueError("cnnext models have exactly one output.")
            outputs = outputs[0]
        if not getattr(outputs, "_is_keras_tensor", False) or outputs._input_layer is not \
                getattr(inputs, "_input_layer", None):
            raise ValueError("`outputs` must be computed from `inputs` by calling layers on it "
                             "(a single chain: cnnext supports linear models).")
        self._stack = [inputs._input_layer] + list(outputs._chain)
        self._build_stack()

    # ---- structure ---------------------------------------------------------------------------
    @property
    def layers(self):
        return [l for l in self._stack if not isinstance(l, InputLayer)]

    @layers.setter
    def layers(self, _):
        raise AttributeError("`Model.layers` attribute is reserved and should not be used. "
                             "Please use another name.")

    def _input_layer(self):
        return self._stack[0] if self._stack and isinstance(self._stack[0], InputLayer) else None

    def _build_stack(self):
        """Shape inference through the stack from the InputLayer; creates every weight."""
        shape = self._stack[0].batch_shape
        self._build_input_shape = shape
        for layer in self._stack[1:]:
            shape = layer.build_output_shape(shape)
            for var in layer.weights:
                var.path = f"{self.name}/{layer.name}/{var.name}"
        self._output_shape = shape
        self.built = True
        self._invalidate()

    def get_layer(self, name=None, index=None):
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: "
                             f"index={index}, name={name}.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(self.layers)} layers.")
            return self.layers[index]
        if name is not None:
            for layer in self.layers:
                if layer.name == name:
                    return layer
            raise ValueError(f"No such layer: {name}. Existing layers are: "
                             f"{[l.name for l in self.layers]}.")
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def _require_built(self, what):
        if not self.built:
            raise AttributeError(f"The model has not been built yet, so `{what}` is not "
                                 "defined. Call `model.build(input_shape)` or call the model "
                                 "on data first.")

    @property
    def input_shape(self):
        self._require_built("input_shape")
        return self._build_input_shape

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return self._output_shape

    @property
    def inputs(self):
        self._require_built("inputs")
        return [self._stack[0].output]

    @property
    def outputs(self):
        self._require_built("outputs")
        out = self._stack[0].output
        for layer in self._stack[1:]:
            out = out._apply(layer)
        return [out]

    # ---- weights -----------------------------------------------------------------------------
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    variables = weights

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    non_trainable_variables = non_trainable_weights

    def set_weights(self, weights):
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(mine)} weights.")
        # Check and convert everything first, then assign (atomically w.r.t. Ctrl-C): a bad entry
        # anywhere leaves every layer as it was, as in Keras.
        plan = []
        for layer in self.layers:
            n = len(layer.weights)
            values = []
            for var, value in zip(layer.weights, weights[:n]):
                value = np.asarray(value)
                if value.shape != var.shape:
                    raise ValueError(f"Layer {layer.name} weight shape {var.shape} is not "
                                     f"compatible with provided weight shape {value.shape}.")
                if value.dtype.kind not in "biuf":
                    raise ValueError(f"Layer {layer.name} weights must be real numbers. "
                                     f"Received dtype {value.dtype}.")
                values.append(value.astype(var.value.dtype, copy=False))
            plan.append((layer, values))
            weights = weights[n:]
        with _interrupt.atomic():
            for layer, values in plan:
                layer.set_weights(values)

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but the "
                             "layer isn't built. You can build it manually via: "
                             "`layer.build(input_shape)`.")
        return int(sum(w.value.size for w in self.weights))

    # ---- calling -----------------------------------------------------------------------------
    def __call__(self, x, training=None):
        if getattr(x, "_is_keras_tensor", False):
            for layer in self.layers:
                x = x._apply(layer)
            return x
        x = self._prepare_x(x)
        y = self._forward(x, bool(training))
        # Training-mode outputs may live in a buffer the next training step reuses.
        return y.copy() if training and y is not x else y

    def call(self, x, training=False):
        return self(x, training=training)

    # ---- summary, config, saving -------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras's summary table (layers, output shapes, parameter counts)."""
        _summary.print_summary(self, line_length, positions, print_fn, show_trainable,
                               layer_range)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": Layer.get_config(self)["dtype"],
                  "layers": [_layers.serialize(l) for l in self._stack]}
        if self.built and self._build_input_shape is not None:
            config["build_input_shape"] = list(self._build_input_shape)
        return config

    def get_build_config(self):
        if self.built and self._build_input_shape is not None:
            return {"input_shape": list(self._build_input_shape)}
        return None

    def to_json(self, **kwargs):
        from ..saving import _to_json_safe  # noqa: PLC0415 (kio's JSON helper)
        obj = {"module": "keras", "class_name": type(self).__name__,
               "config": self.get_config(), "registered_name": None}
        if self.get_build_config():
            obj["build_config"] = self.get_build_config()
        return json.dumps(_to_json_safe(obj), **kwargs)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Save architecture, weights and optimizer state (``.keras``)."""
        from .. import saving
        if kwargs.pop("include_optimizer", True) is False:
            raise ValueError("cnnext always saves the optimizer state.")
        kwargs.pop("save_format", None)
        if kwargs:
            raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        from .. import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        from .. import saving
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model (architecture only) from ``model.to_json()``; only known classes are
    ever built and malformed or hostile JSON raises ``ValueError`` (see `saving`)."""
    from .. import saving
    return saving.model_from_json(json_string, custom_objects=custom_objects)
