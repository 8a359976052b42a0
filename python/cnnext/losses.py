"""Keras losses: per-sample values from fused kernels, reduced as Keras does.

``loss(y_true, y_pred, sample_weight=None)`` returns the reduced value (default
"sum_over_batch_size": sum(per-sample · weight) / number of per-sample values). Training uses
``value_and_grad`` which also returns d(reduced loss)/d(y_pred) from the same kernel call.
"""
import numpy as np

from . import _backend

__all__ = ["Loss", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "MeanSquaredError", "binary_crossentropy",
           "categorical_crossentropy", "sparse_categorical_crossentropy", "mean_squared_error",
           "get", "serialize", "deserialize"]

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _pred(y_pred):
    y_pred = np.asarray(y_pred)
    if y_pred.dtype not in (np.float32, np.float64):
        y_pred = y_pred.astype(np.float32)
    return y_pred


def _weights_for(w, ndim):
    """Sample weights (N,) or (N, ...) broadcast over a per-sample array of rank ``ndim``."""
    w = np.asarray(w, np.float64)
    if w.ndim > ndim and w.shape[-1] == 1:
        w = w.reshape(w.shape[:-1])
    return w.reshape(w.shape + (1,) * (ndim - w.ndim))


class Loss:
    """Base class: ``call(y_true, y_pred)`` -> per-sample losses; ``__call__`` reduces."""

    _fn = None  # name of the cnnext.ops._losses function

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`. Expected one of "
                             f"{_REDUCTIONS}. Received: reduction={reduction}")
        self.name = name or self._default_name
        self.reduction = reduction
        self.dtype = dtype

    def _kwargs(self):
        return {}

    def _smooth(self, y_true, y_pred):
        return y_true

    def call(self, y_true, y_pred):
        y_pred = _pred(y_pred)
        y_true = self._smooth(np.asarray(y_true), y_pred)
        return _backend.loss(self._fn, y_true, y_pred, False, **self._kwargs())

    def _reduce(self, values, sample_weight):
        values = np.asarray(values, np.float64)
        if sample_weight is not None:
            w = _weights_for(sample_weight, values.ndim)
            weighted = values * w
        else:
            w, weighted = None, values
        if self.reduction in ("none", None):
            return weighted.astype(np.float32)
        total = weighted.sum()
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and w is not None:
            return total / max(float(np.broadcast_to(w, values.shape).sum()), 1e-30)
        return total / max(values.size, 1)

    def __call__(self, y_true, y_pred, sample_weight=None):
        value = self._reduce(self.call(y_true, y_pred), sample_weight)
        return value if self.reduction in ("none", None) else np.float32(value)

    def value_and_grad(self, y_true, y_pred, sample_weight=None):
        """(reduced loss as float, d loss / d y_pred with y_pred's shape and dtype)."""
        y_true = self._smooth(np.asarray(y_true), y_pred)
        values, grad = _backend.loss(self._fn, y_true, y_pred, True, **self._kwargs())
        n = max(values.size, 1)
        if self.reduction in ("none", None):
            raise ValueError("Training needs a reduced loss; reduction=None is not trainable.")
        if sample_weight is not None:
            w = _weights_for(sample_weight, values.ndim)
            gw = w.reshape(w.shape + (1,) * (grad.ndim - w.ndim)).astype(grad.dtype)
            grad = grad * gw
            total = float((values * w).sum())
        else:
            total = float(values.sum(dtype=np.float64))
        if self.reduction == "sum":
            return total, grad * grad.dtype.type(n)
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            wsum = max(float(np.broadcast_to(w, values.shape).sum()), 1e-30)
            return total / wsum, grad * grad.dtype.type(n / wsum)
        return total / n, grad

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class BinaryCrossentropy(Loss):
    """Keras BinaryCrossentropy: probabilities clipped to [1e-7, 1 − 1e-7], mean over the last
    axis."""

    _fn = "binary_crossentropy"
    _default_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        if axis != -1:
            raise ValueError(f"cnnext's BinaryCrossentropy supports axis=-1 only. "
                             f"Received: axis={axis}")
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), label_smoothing, axis

    def _kwargs(self):
        return {"from_logits": self.from_logits}

    def _smooth(self, y_true, y_pred):
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        return y_true

    def get_config(self):
        config = super().get_config()
        config.update({"from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                       "axis": self.axis})
        return config


class CategoricalCrossentropy(BinaryCrossentropy):
    """Keras CategoricalCrossentropy: p renormalized, clipped, ``−Σ y·log p`` over classes."""

    _fn = "categorical_crossentropy"
    _default_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        Loss.__init__(self, name, reduction, dtype)
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), label_smoothing, axis

    def _kwargs(self):
        return {"from_logits": self.from_logits, "axis": self.axis}

    def _smooth(self, y_true, y_pred):
        if self.label_smoothing:
            k = np.shape(y_pred)[self.axis]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / k
        return y_true


class SparseCategoricalCrossentropy(Loss):
    """Keras SparseCategoricalCrossentropy: integer labels against class probabilities."""

    _fn = "sparse_categorical_crossentropy"
    _default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name, reduction, dtype)
        if ignore_class is not None:
            raise ValueError("cnnext's SparseCategoricalCrossentropy does not support "
                             "`ignore_class` yet.")
        self.from_logits, self.ignore_class = bool(from_logits), ignore_class

    def _kwargs(self):
        return {"from_logits": self.from_logits}

    def get_config(self):
        config = super().get_config()
        config.update({"from_logits": self.from_logits, "ignore_class": self.ignore_class})
        return config


class MeanSquaredError(Loss):
    """Keras MeanSquaredError: ``mean((y_true − y_pred)², axis=-1)``."""

    _fn = "mean_squared_error"
    _default_name = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name, reduction, dtype)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy (mean over the last axis)."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical cross-entropy."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Per-sample sparse categorical cross-entropy."""
    return SparseCategoricalCrossentropy(from_logits, ignore_class).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error over the last axis."""
    return MeanSquaredError().call(y_true, y_pred)


_FUNCTIONS = {
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
}
_CLASSES = {c.__name__: c for c in (BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy, MeanSquaredError)}
_FN_OBJECTS = {binary_crossentropy: BinaryCrossentropy,
               categorical_crossentropy: CategoricalCrossentropy,
               sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
               mean_squared_error: MeanSquaredError}


def serialize(loss):
    return {"module": "keras.losses", "class_name": type(loss).__name__,
            "config": loss.get_config(), "registered_name": None}


def deserialize(config):
    if isinstance(config, dict) and config.get("class_name") in _CLASSES:
        return _CLASSES[config["class_name"]].from_config(config.get("config") or {})
    return get(config)


def get(identifier):
    """A Loss from an instance, one of this module's functions, a Keras name or a config."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
    elif identifier in _FN_OBJECTS:
        return _FN_OBJECTS[identifier]()
    raise ValueError(f"Could not interpret loss identifier: {identifier}")
