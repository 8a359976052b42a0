"""Keras models: ``Sequential`` and ``Model`` (linear functional graphs)."""
from .model import Model, model_from_json
from .sequential import Sequential


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a ``.keras`` file (``keras.models.load_model``)."""
    from .. import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile,
                             safe_mode=safe_mode)


def clone_model(model):
    """A new model with the same architecture and freshly initialised weights."""
    return type(model).from_config(model.get_config())


__all__ = ["Model", "Sequential", "model_from_json", "load_model", "clone_model"]
