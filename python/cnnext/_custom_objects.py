"""User classes in serialized configs: Keras's ``custom_objects`` rules, shared by
``layers.deserialize`` and ``initializers.deserialize``.

A custom object is found by the config's ``registered_name`` (what Keras writes for a class it does
not export: the class name, or ``package>name`` when registered), then by its ``class_name``; a
custom object takes precedence over a built-in of the same name, as in Keras. While a custom
class's ``from_config`` runs, the same ``custom_objects`` stay visible to nested deserialization
(a custom initializer inside a Dense config), as Keras's ``CustomObjectScope`` makes them.
"""
import contextlib
import threading

_state = threading.local()


def _active():
    return getattr(_state, "objects", None) or {}


@contextlib.contextmanager
def scope(custom_objects):
    """Make `custom_objects` visible to nested lookups (merged over any enclosing scope)."""
    previous = getattr(_state, "objects", None)
    _state.objects = {**(previous or {}), **(custom_objects or {})}
    try:
        yield
    finally:
        _state.objects = previous


def check(custom_objects):
    """`custom_objects` as a dict ({} for None); a clear TypeError for anything else."""
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict) or not all(isinstance(k, str)
                                                       for k in custom_objects):
        raise TypeError("`custom_objects` must be a dict mapping names (str) to classes or "
                        f"functions. Received: custom_objects={custom_objects!r}")
    return custom_objects


def lookup(config, custom_objects=None):
    """The custom class (or function) a serialized config names, or None."""
    objects = {**_active(), **check(custom_objects)}
    if not objects:
        return None
    if config.get("class_name") == "function":  # Keras looks functions up by their name
        names = [config.get("config")]
    else:
        names = [config.get("registered_name"), config.get("class_name")]
    for name in names:
        if isinstance(name, str) and name in objects:
            return objects[name]
    return None


def serialized(obj, module, builtin, config):
    """Keras's serialized-object dict: a built-in names its public `module` and no
    registered_name; a user class names its Python module (None for ``__main__``) and its class
    name."""
    cls = type(obj)
    if builtin:
        return {"module": module, "class_name": cls.__name__, "config": config,
                "registered_name": None}
    own = None if cls.__module__ == "__main__" else cls.__module__
    return {"module": own, "class_name": cls.__name__, "config": config,
            "registered_name": cls.__name__}


def serialized_function(fn):
    """What Keras writes for a plain user function (e.g. an initializer ``fn(shape, dtype)``)."""
    return {"module": "builtins", "class_name": "function", "config": fn.__name__,
            "registered_name": "function"}
