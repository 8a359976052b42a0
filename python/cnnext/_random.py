"""The one NumPy Generator behind initial weights, shuffling and dropout masks.

``cnnext.utils.set_random_seed(s)`` replaces it, so the same seed gives the same model and the
same training run. Initializers and layers given their own ``seed=`` draw from a Generator of that
seed instead.
"""
import numpy as np

_state = {"rng": np.random.default_rng()}


def generator():
    return _state["rng"]


def seed(value):
    _state["rng"] = np.random.default_rng(value)


def make(seed_value=None):
    """A Generator for an object that was given ``seed=`` (else the global one)."""
    if seed_value is None:
        return _state["rng"]
    return np.random.default_rng(seed_value)
