"""Weight initializers (Keras 3 names, defaults and fan rules).

Every random initializer draws from cnnext's global Generator (``cnnext.utils.set_random_seed``)
unless it was given its own ``seed=``.
"""
import inspect
import math

import numpy as np

from . import _custom_objects, _random
from ._naming import to_snake_case

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
           "HeUniform", "LecunNormal", "LecunUniform", "compute_fans", "get", "serialize",
           "deserialize"]


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) as Keras computes them: with both `input_axes` and `output_axes`, the
    products of those axes' sizes; otherwise conv kernels (KH, KW, C, F) -> (KH*KW*C, KH*KW*F),
    Dense (in, out), a vector (n,) -> (n, n)."""
    shape = tuple(int(s) for s in shape)
    if input_axes is not None and output_axes is not None:
        for name, axes in (("input_axes", input_axes), ("output_axes", output_axes)):
            bad = [a for a in axes if not -len(shape) <= a < len(shape)]
            if bad:
                raise ValueError(f"`{name}` {list(axes)} is out of range for a weight of shape "
                                 f"{shape}")
        return (math.prod(shape[a] for a in input_axes),
                math.prod(shape[a] for a in output_axes))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _axes(value, name):
    """None or a list of int axes (Keras 3.15's VarianceScaling `input_axes`/`output_axes`)."""
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or
            not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in value)):
        raise ValueError(f"`{name}` must be None or a list of integer axes. Received: "
                         f"{name}={value!r}")
    return [int(a) for a in value]


def _dtype(dtype):
    return np.dtype(dtype or np.float32)


class Initializer:
    """Base class: ``init(shape, dtype=None)`` -> ndarray."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return np.zeros(shape, _dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return np.ones(shape, _dtype(dtype))


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, _dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class _Random(Initializer):
    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` argument should be an integer or None. Received: seed={seed!r}")
        self.seed = seed

    def _rng(self):
        return _random.make(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _truncated_normal(rng, shape, mean, stddev):
    """N(mean, stddev) redrawn until inside mean ± 2·stddev (Keras/TF truncation)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out * stddev + mean


class RandomNormal(_Random):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        return (self._rng().standard_normal(shape) * self.stddev + self.mean).astype(_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    def __call__(self, shape, dtype=None):
        return _truncated_normal(self._rng(), shape, self.mean, self.stddev).astype(_dtype(dtype))


class RandomUniform(_Random):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        return self._rng().uniform(self.minval, self.maxval, shape).astype(_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class VarianceScaling(_Random):
    """scale / max(1, fan) variance, fan per ``mode``; uniform or (truncated) normal.

    `input_axes` / `output_axes` (Keras 3.15): when both are given, fan_in / fan_out are the
    products of those axes' sizes instead of the conv/Dense rule (see `compute_fans`).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError("Invalid `mode` argument: expected one of {'fan_in', 'fan_out', "
                             f"'fan_avg'}}. Received: mode={mode}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError("Invalid `distribution` argument: expected one of {'uniform', "
                             "'truncated_normal', 'untruncated_normal'}. Received: "
                             f"distribution={distribution}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.input_axes = _axes(input_axes, "input_axes")
        self.output_axes = _axes(output_axes, "output_axes")

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * scale)
            out = rng.uniform(-limit, limit, shape)
        elif self.distribution == "truncated_normal":
            out = _truncated_normal(rng, shape, 0.0, math.sqrt(scale) / 0.87962566103423978)
        else:
            out = rng.standard_normal(shape) * math.sqrt(scale)
        return out.astype(_dtype(dtype))

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


def _preset(name, scale, mode, distribution):
    def __init__(self, seed=None, input_axes=None, output_axes=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self):
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}

    cls = type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                          "__doc__": f"VarianceScaling({scale}, {mode!r}, "
                                                     f"{distribution!r})."})
    cls.__module__ = __name__
    return cls


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform")

_CLASSES = [Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
            GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform]
_LOOKUP = {}
for _c in _CLASSES:
    _LOOKUP[_c.__name__] = _c
    _LOOKUP[to_snake_case(_c.__name__)] = _c
_LOOKUP.update(zero=Zeros, one=Ones, normal=RandomNormal, uniform=RandomUniform)


def serialize(initializer):
    """Keras's serialized-object dict: built-ins as ``keras.initializers``, a user class (or a
    plain ``fn(shape, dtype=None)``) under its own module and name for `custom_objects`."""
    if inspect.isfunction(initializer):
        return _custom_objects.serialized_function(initializer)
    builtin = _LOOKUP.get(type(initializer).__name__) is type(initializer)
    return _custom_objects.serialized(initializer, "keras.initializers", builtin,
                                      initializer.get_config())


def deserialize(config, custom_objects=None):
    """An initializer from a serialized dict: a class or function from `custom_objects` (by the
    config's ``registered_name``, then ``class_name``), else one of cnnext's built-ins."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"Could not interpret initializer identifier: {config!r}")
    obj = _custom_objects.lookup(config, custom_objects)
    if obj is not None and not inspect.isclass(obj):
        return obj  # a function initializer
    cls = obj or _LOOKUP.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Could not interpret initializer identifier: {config!r}. Pass user "
                         "initializer classes in `custom_objects`.")
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"Could not interpret initializer identifier: {config!r} ('config' "
                         "must be a dict)")
    with _custom_objects.scope(custom_objects):
        return cls.from_config(dict(inner))


def get(identifier):
    """An initializer from an instance, a class, a name ('glorot_uniform', 'HeNormal', or a
    `custom_objects` name in scope), a serialized config, or a ``fn(shape, dtype=None)``."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        try:
            return deserialize({"class_name": identifier, "config": {}})
        except ValueError:
            raise ValueError("Could not interpret initializer identifier: "
                             f"{identifier!r}") from None
    if inspect.isclass(identifier):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
