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


MAX_CONFIG_DEPTH = 64  # Keras configs nest about 8 deep; deeper is hostile or broken


def _check_depth(obj, what="config.json", source="`.keras` file"):
    """Iteratively reject JSON nested more than MAX_CONFIG_DEPTH levels (before any recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ValueError(f"Invalid {source}: {what} is nested too deeply (more than "
                             f"{MAX_CONFIG_DEPTH} levels).")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _weight_bytes(layer, shape):
    """Bytes of the weights `layer` would allocate when built for the batch shape `shape`."""
    import numpy as np
    from .. import layers as L

    dims = [d if isinstance(d, int) and d > 0 else 0 for d in shape]
    if not dims:
        return 0
    if isinstance(layer, L.Dense):
        count = dims[-1] * layer.units + layer.units * layer.use_bias
    elif isinstance(layer, L.Conv2D):
        kh, kw = layer.kernel_size
        count = kh * kw * (dims[-1] // max(layer.groups, 1)) * layer.filters
        count += layer.filters * layer.use_bias
    elif isinstance(layer, L.BatchNormalization):
        count = 4 * (dims[layer.axis] if -len(dims) <= layer.axis < len(dims) else 0)
    else:
        return 0
    return count * np.dtype(layer.dtype).itemsize


def _check_weight_budget(config, budget, custom_objects):
    """Refuse, before any weight is allocated, a config whose layers would need more bytes of
    weights than `budget` (the declared size of the file's model.weights.h5, which must hold
    them all): a hostile config cannot make load_model allocate memory the file does not back."""
    from .. import layers as L

    inner = config["config"]
    shape = inner.get("build_input_shape") or (config.get("build_config") or {}).get(
        "input_shape")
    total = 0
    for item in inner["layers"]:
        if item.get("class_name") in custom_objects:
            return  # user-supplied classes: their weights cannot be predicted
        layer = L.deserialize({k: v for k, v in item.items() if k != "build_config"})
        if isinstance(layer, L.InputLayer):
            shape = layer.batch_shape
            continue
        if shape is None and getattr(layer, "_input_shape_arg", None) is not None:
            shape = (None,) + tuple(layer._input_shape_arg)
        # A layer is built once: for its own build_config's shape if it has one (at
        # deserialization), else for the shape flowing down the stack.
        own = (item.get("build_config") or {}).get("input_shape")
        build_shape = own if isinstance(own, (list, tuple)) else shape
        if isinstance(build_shape, (list, tuple)):
            total += _weight_bytes(layer, build_shape)
        if total > budget:
            raise ValueError(f"Invalid `.keras` file: its config asks for layers with at least "
                             f"{total} bytes of weights, but model.weights.h5 holds only {budget} "
                             "bytes.")
        shape = layer.compute_output_shape(tuple(shape)) if shape is not None else None


def _deserialize_model(config, custom_objects, compile, weights_budget=None):
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
        registered = item.get("registered_name") if isinstance(item, dict) else None
        registered = registered if isinstance(registered, str) else None
        if name not in custom_objects and registered not in custom_objects and (
                not isinstance(item, dict) or _keras_module(item.get("module")) != "keras.layers"):
            raise ValueError(f"Invalid `.keras` file: config.layers[{i}] is not a serialized "
                             f"layer. Received: class_name={name!r}, module="
                             f"{item.get('module') if isinstance(item, dict) else None!r}")
    try:
        if weights_budget is not None:
            _check_weight_budget(dict(config, config=inner), weights_budget, custom_objects)
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
