"""Keras ``utils``: seeding, one-hot labels, the progress bar, session reset."""
import numbers
import random

import numpy as np

from . import _naming, _random
from ._custom_objects import (CustomObjectScope, custom_object_scope, get_custom_objects,
                              get_registered_name, get_registered_object,
                              register_keras_serializable)
from ._progbar import Progbar

__all__ = ["set_random_seed", "to_categorical", "clear_session", "Progbar",
           "register_keras_serializable", "CustomObjectScope", "custom_object_scope",
           "get_custom_objects", "get_registered_name", "get_registered_object"]


def set_random_seed(seed):
    """Seed everything cnnext draws from (weights, shuffling, dropout) plus Python's ``random``
    and NumPy's legacy global state, like ``keras.utils.set_random_seed``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError("Expected `seed` argument to be an integer. "
                         f"Received: seed={seed} (of type {type(seed)})")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _random.seed(seed)


def to_categorical(x, num_classes=None):
    """Integer labels -> one-hot float rows (a trailing axis of size 1 is dropped first)."""
    x = np.array(x, dtype="int64")
    input_shape = x.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    x = x.reshape(-1)
    if x.size and x.min() < 0:
        raise ValueError(f"`x` must hold non-negative class indices. Received: min={x.min()}")
    if not num_classes:
        num_classes = int(np.max(x)) + 1 if x.size else 0
    elif x.size and x.max() >= num_classes:
        raise ValueError(f"`x` holds class {x.max()} but num_classes={num_classes}")
    categorical = np.zeros((x.shape[0], num_classes))
    categorical[np.arange(x.shape[0]), x] = 1
    return categorical.reshape(input_shape + (num_classes,))


def clear_session():
    """Reset the automatic layer/model name counters (``conv2d``, ``conv2d_1``, ...)."""
    _naming.reset()
