"""User classes in serialized configs: Keras's ``custom_objects`` rules, ``CustomObjectScope`` and
``register_keras_serializable``, shared by ``layers``, ``initializers`` and ``saving``.

A custom object is found by the config's ``registered_name`` (what Keras writes for a class it does
not export: the class name, or ``package>name`` when registered), then by its ``class_name``, in
the active `CustomObjectScope`, then the registry, then the `custom_objects` argument; it takes
precedence over a built-in of the same name, as in Keras. While a class's ``from_config`` runs,
the same ``custom_objects`` stay visible to nested configs (a custom initializer inside a Dense
config), as Keras's deserialization makes them. Names only ever map to objects the user handed
over: nothing is imported by name.
"""
import inspect
import threading

_REGISTERED = {}  # "package>name" -> class or function (register_keras_serializable)
_NAMES = {}       # class or function -> "package>name"
_state = threading.local()

__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
           "register_keras_serializable", "get_registered_name", "get_registered_object"]


def check(custom_objects):
    """`custom_objects` as a dict ({} for None); a clear TypeError for anything else."""
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict) or not all(isinstance(k, str)
                                                       for k in custom_objects):
        raise TypeError("`custom_objects` must be a dict mapping names (str) to classes or "
                        f"functions. Received: custom_objects={custom_objects!r}")
    return custom_objects


class CustomObjectScope:
    """``with CustomObjectScope({"MyLayer": MyLayer}): load_model(path)``: the objects are
    visible to every deserialization inside the block (merged over an enclosing scope)."""

    def __init__(self, custom_objects):
        self.custom_objects = dict(check(custom_objects))
        self._previous = None

    def __enter__(self):
        self._previous = getattr(_state, "objects", None)
        _state.objects = {**(self._previous or {}), **self.custom_objects}
        return self

    def __exit__(self, *exc):
        _state.objects = self._previous


custom_object_scope = CustomObjectScope
scope = CustomObjectScope


def get_custom_objects():
    """The live registry dict ``{"package>name": object}`` (Keras's ``get_custom_objects``)."""
    return _REGISTERED


def register_keras_serializable(package="Custom", name=None):
    """Class/function decorator: files may name it as ``package>name`` (name: its ``__name__``)
    and it loads without `custom_objects`, as with ``keras.saving.register_keras_serializable``."""
    def decorator(arg):
        registered = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() method.")
        _REGISTERED[registered] = arg
        _NAMES[arg] = registered
        return arg
    return decorator


def get_registered_name(obj):
    """``package>name`` for a registered class or function, else its ``__name__``."""
    return _NAMES.get(obj, obj.__name__)


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object `name` refers to: active scope, registry, `custom_objects`, `module_objects`."""
    for objects in (getattr(_state, "objects", None), _REGISTERED, check(custom_objects),
                    module_objects):
        if objects and name in objects:
            return objects[name]
    return None


def visible(custom_objects=None):
    """Every name a file may use for a user object right now (registry, scope, argument)."""
    return {**_REGISTERED, **(getattr(_state, "objects", None) or {}), **check(custom_objects)}


def lookup(config, custom_objects=None):
    """The custom class (or function) a serialized config names, or None."""
    check(custom_objects)
    if config.get("class_name") == "function":  # Keras looks functions up by their name
        names = [config.get("config")]
    else:
        names = [config.get("registered_name"), config.get("class_name")]
    for name in names:
        if isinstance(name, str):
            obj = get_registered_object(name, custom_objects)
            if obj is not None:
                return obj
    return None


def serialized(obj, module, builtin, config):
    """Keras's serialized-object dict: a built-in names its public `module` and no
    registered_name; a user class names its Python module (None for ``__main__``) and its
    registered name (``package>name``, or the class name when not registered)."""
    cls = type(obj)
    if builtin:
        return {"module": module, "class_name": cls.__name__, "config": config,
                "registered_name": None}
    own = None if cls.__module__ == "__main__" else cls.__module__
    return {"module": own, "class_name": cls.__name__, "config": config,
            "registered_name": get_registered_name(cls)}


def serialized_function(fn):
    """What Keras writes for a plain user function (e.g. an initializer ``fn(shape, dtype)``)."""
    return {"module": "builtins", "class_name": "function", "config": get_registered_name(fn),
            "registered_name": "function"}
