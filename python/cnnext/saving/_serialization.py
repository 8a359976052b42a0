"""config.json: the serialized model, and the allowlist every loaded object must pass."""
import numpy as np

# Classes a file may name, by the Keras module they are registered under. Checked before any
# object is built; cnnext's own registries then decide whether it implements the class.
_ALLOWED = {
    "keras.layers": {
        "InputLayer", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "Flatten", "Dense", "Dropout", "Activation", "ReLU", "Softmax",
        "BatchNormalization"},
    "keras.models": {"Sequential"},
    "keras": {"Sequential", "DTypePolicy", "FloatDTypePolicy"},
    "keras.initializers": {
        "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
        "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
        "VarianceScaling", "Orthogonal", "Identity"},
    "keras.optimizers": {"Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax",
                         "Nadam"},
    "keras.optimizers.schedules": {"ExponentialDecay", "PiecewiseConstantDecay",
                                   "PolynomialDecay", "InverseTimeDecay", "CosineDecay"},
    "keras.losses": {
        "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
        "MeanSquaredError", "MeanAbsoluteError", "Hinge", "Huber"},
    "keras.metrics": {
        "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
        "Mean", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
        "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall",
        "AUC"},
    "keras.regularizers": {"L1", "L2", "L1L2", "OrthogonalRegularizer"},
    "keras.constraints": {"MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm"},
}
# Plain functions a file may name (``{"class_name": "function", "config": "<name>"}``).
_FUNCTIONS = {
    "keras.losses": {"binary_crossentropy", "categorical_crossentropy",
                     "sparse_categorical_crossentropy", "mean_squared_error",
                     "mean_absolute_error", "hinge", "huber"},
    "keras.metrics": {"binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                      "binary_crossentropy", "categorical_crossentropy",
                      "sparse_categorical_crossentropy", "mean_squared_error",
                      "mean_absolute_error"},
    "keras.activations": {"relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu",
                          "softplus", "softsign", "swish", "silu", "gelu", "exponential",
                          "hard_sigmoid", "leaky_relu", "relu6", "log_softmax", "mish"},
}


def _serialize_model(model):
    """The `config.json` object Keras writes for a Sequential model."""
    config = model.get_config()
    obj = {"module": "keras", "class_name": type(model).__name__, "config": config,
           "registered_name": None}
    if config.get("build_input_shape") is not None:
        obj["build_config"] = {"input_shape": config["build_input_shape"]}
    # Keras writes {} for a model that was never compiled.
    obj["compile_config"] = model.get_compile_config() or {}
    return _to_json_safe(obj)


def _to_json_safe(obj):
    """Tuples -> lists, NumPy scalars -> Python numbers (what json.dumps needs)."""
    if isinstance(obj, dict):
        return {str(k): _to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _check_config_tree(obj, custom_objects, where="config.json"):
    """Reject any serialized object whose (module, class_name) is not an allowed Keras class."""
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            _check_config_tree(item, custom_objects, f"{where}[{i}]")
        return
    if not isinstance(obj, dict):
        return
    if "class_name" in obj:
        _check_object(obj, custom_objects, where)
    for key, value in obj.items():
        _check_config_tree(value, custom_objects, f"{where}.{key}")


def _check_object(obj, custom_objects, where):
    class_name, module = obj.get("class_name"), obj.get("module")
    if not isinstance(class_name, str) or not isinstance(module, (str, type(None))):
        raise ValueError(f"Invalid `.keras` file: at {where}, `class_name` must be a string and "
                         f"`module` a string or null. Received: class_name={class_name!r}, "
                         f"module={module!r}")
    if class_name in ("__lambda__", "Lambda", "__bytes__", "__numpy__", "__tensor__"):
        raise ValueError(f"Invalid `.keras` file: at {where}, class_name={class_name!r} would "
                         "require deserializing Python code or raw objects, which cnnext never "
                         "does.")
    registered = obj.get("registered_name")
    if class_name in custom_objects or (isinstance(registered, str)
                                        and registered in custom_objects):
        return
    if class_name == "function":
        name = obj.get("config")
        if isinstance(name, str) and (name in _FUNCTIONS.get(_keras_module(module), ())
                                      or name in custom_objects):
            return
        raise ValueError(f"Invalid `.keras` file: at {where}, function {name!r} from module "
                         f"{module!r} is not a known Keras function.")
    allowed = _ALLOWED.get(_keras_module(module))
    if allowed is None or class_name not in allowed:
        raise ValueError(f"Invalid `.keras` file: at {where}, unknown class "
                         f"{class_name!r} (module {module!r}). cnnext only loads known Keras "
                         "layer, initializer, optimizer, loss and metric classes; pass other "
                         "classes in `custom_objects`.")


def _keras_module(module):
    """Map `keras.src.layers.core.dense`/`cnnext.layers` to the public `keras.layers`."""
    if module is None:
        return "keras"
    if module.startswith("cnnext"):
        module = "keras" + module[len("cnnext"):]
    if module.startswith("keras.src."):
        for public in sorted(_ALLOWED, key=len, reverse=True):
            tail = public[len("keras"):]
            if tail and (module == "keras.src" + tail
                         or module.startswith("keras.src" + tail + ".")):
                return public
        return module
    return module


def _deserialize_model(config, custom_objects, compile):
    from .. import models

    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError("Invalid `.keras` file: config.json must be a serialized model object "
                         "{'class_name': 'Sequential', 'config': {...}, ...}. Received keys: "
                         f"{sorted(config) if isinstance(config, dict) else type(config).__name__}")
    class_name = config["class_name"]
    cls = custom_objects.get(class_name)
    if cls is None:
        if class_name != "Sequential":
            raise ValueError(f"Invalid `.keras` file: cnnext loads Sequential models only. "
                             f"Received: class_name={class_name!r}")
        cls = models.Sequential
    inner = config["config"]
    if not isinstance(inner.get("layers"), list):
        raise ValueError("Invalid `.keras` file: the model config needs a list `layers`.")
    for i, item in enumerate(inner["layers"]):
        name = item.get("class_name") if isinstance(item, dict) else None
        if name not in custom_objects and (
                not isinstance(item, dict) or _keras_module(item.get("module")) != "keras.layers"):
            raise ValueError(f"Invalid `.keras` file: config.layers[{i}] is not a serialized "
                             f"layer. Received: class_name={name!r}, module="
                             f"{item.get('module') if isinstance(item, dict) else None!r}")
    inner = _drop_default_initializer_axes(inner)
    try:
        model = cls.from_config(inner, custom_objects=custom_objects or None)
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"Invalid `.keras` file: the model config could not be rebuilt "
                         f"({type(e).__name__}: {e}).") from None
    build_config = config.get("build_config")
    if not getattr(model, "built", True) and isinstance(build_config, dict):
        model.build(_shape_tuple(build_config.get("input_shape")))
    compile_config = config.get("compile_config")
    if compile and compile_config:  # {} or null: never compiled
        if not isinstance(compile_config, dict):
            raise ValueError("Invalid `.keras` file: compile_config must be an object. "
                             f"Received: {type(compile_config).__name__}")
        try:
            model.compile_from_config(compile_config)
        except (KeyError, TypeError, AttributeError, IndexError, RecursionError) as e:
            raise ValueError(f"Invalid `.keras` file: compile_config could not be applied "
                             f"({type(e).__name__}: {e}).") from None
    return model


def _shape_tuple(shape):
    if not isinstance(shape, list) or not all(d is None or isinstance(d, int) for d in shape):
        raise ValueError(f"Invalid `.keras` file: build_config input_shape must be a list of "
                         f"ints/nulls. Received: {shape!r}")
    return tuple(shape)


def _drop_default_initializer_axes(obj):
    """A copy of `obj` without the `input_axes`/`output_axes` keys that Keras 3.15 writes as null
    into every VarianceScaling-family initializer config (null = Keras's default fans, which is
    what cnnext's initializers compute); non-null values are kept, and then rejected."""
    if isinstance(obj, list):
        return [_drop_default_initializer_axes(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _drop_default_initializer_axes(v) for k, v in obj.items()}
    inner = out.get("config")
    if (_keras_module(out.get("module")) == "keras.initializers" and isinstance(inner, dict)):
        out["config"] = {k: v for k, v in inner.items()
                         if not (k in ("input_axes", "output_axes") and v is None)}
    return out
