"""Keras's automatic names: snake_case(class name) made unique by a process-global counter."""
import re

_COUNTERS = {}


def to_snake_case(name):
    """``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``, ``ReLU`` -> ``re_lu``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def uniquify(prefix):
    """First ``prefix``, then ``prefix_1``, ``prefix_2``, ... (shared by every model)."""
    count = _COUNTERS.get(prefix, 0)
    _COUNTERS[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def auto_name(obj_or_class):
    cls = obj_or_class if isinstance(obj_or_class, type) else type(obj_or_class)
    return uniquify(to_snake_case(cls.__name__))


def reset():
    """Forget every counter (``cnnext.utils.clear_session``)."""
    _COUNTERS.clear()
