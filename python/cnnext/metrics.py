"""Stateful metrics (Keras names and rules): accumulate over an epoch, ``result()`` -> float.

``'accuracy'`` / ``'acc'`` in ``compile`` is resolved from the shapes of y_true and y_pred only
(never the loss), as Keras does: y_pred last dim 1 -> BinaryAccuracy; labels one rank lower (or a
last dim of 1 against several classes) -> SparseCategoricalAccuracy; else CategoricalAccuracy.
"""
import numpy as np

from ._naming import to_snake_case

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "MeanSquaredError",
           "MeanAbsoluteError", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "get"]


def _same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape + (1,))
    return y_true, y_pred


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample fraction of (y_pred > threshold) == y_true over the last axis."""
    y_true, y_pred = _same_rank(np.asarray(y_true), np.asarray(y_pred))
    hits = (y_pred > threshold) == (y_true == 1)
    if hits.shape[-1] == 1:
        return hits.reshape(hits.shape[:-1])
    return hits.sum(axis=-1) / hits.shape[-1]


def categorical_accuracy(y_true, y_pred):
    """argmax(y_true) == argmax(y_pred) per sample."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred):
    """int label == argmax(y_pred) per sample."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    return (np.argmax(y_pred, axis=-1) == y_true.astype(np.float64)).astype(np.float64)


def accuracy(y_true, y_pred):
    y_true, y_pred = _same_rank(np.asarray(y_true), np.asarray(y_pred))
    return (y_true.astype(np.float64) == y_pred.astype(np.float64)).astype(np.float64)


def _mse(y_true, y_pred):
    y_true, y_pred = _same_rank(np.asarray(y_true), np.asarray(y_pred))
    return np.mean((y_true.astype(np.float64) - y_pred) ** 2, axis=-1)


def _mae(y_true, y_pred):
    y_true, y_pred = _same_rank(np.asarray(y_true), np.asarray(y_pred))
    return np.mean(np.abs(y_true.astype(np.float64) - y_pred), axis=-1)


class Metric:
    """Base: ``update_state``, ``result``, ``reset_state``; ``name``."""

    _direction = None  # "up" / "down" for callbacks' mode="auto"

    def __init__(self, name=None, dtype=None):
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = dtype or "float32"
        self.reset_state()

    def reset_state(self):
        self.total, self.count = np.float32(0.0), np.float32(0.0)

    def result(self):
        """total / count in float32, as Keras's float32 state variables give."""
        return float(self.total / self.count) if self.count else 0.0

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Mean(Metric):
    """Weighted mean of the values seen: sum(v·w) / sum(w), accumulated in float32 (Keras)."""

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, np.float32)
        if sample_weight is None:
            self.total += values.sum(dtype=np.float32)
            self.count += np.float32(values.size)
            return
        if values.ndim == 0 and np.ndim(sample_weight) == 0:  # the loss tracker, every step
            w = np.float32(sample_weight)
            self.total += values * w
            self.count += w
            return
        w = np.asarray(sample_weight, np.float32)
        w = np.broadcast_to(w.reshape(w.shape + (1,) * max(0, values.ndim - w.ndim)),
                            values.shape)
        self.total += (values * w).sum(dtype=np.float32)
        self.count += w.sum(dtype=np.float32)


class Sum(Metric):
    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, np.float32)
        if sample_weight is not None:
            values = values * np.asarray(sample_weight, np.float32)
        self.total += values.sum(dtype=np.float32)

    def result(self):
        return float(self.total)


class MeanMetricWrapper(Mean):
    """Mean over samples of ``fn(y_true, y_pred)`` (per-sample values)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn, self._fn_kwargs = fn, kwargs
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)


class Accuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class BinaryAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(binary_accuracy, name, dtype, threshold=threshold)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name, dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name, dtype)


class MeanSquaredError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(_mse, name, dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    _direction = "down"

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(_mae, name, dtype)


_CLASSES = [Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            MeanSquaredError, MeanAbsoluteError, Mean, Sum]
_LOOKUP = {}
for _c in _CLASSES:
    _LOOKUP[_c.__name__] = _c
    _LOOKUP[to_snake_case(_c.__name__)] = _c
for _alias, _c in (("mse", MeanSquaredError), ("mae", MeanAbsoluteError)):
    _LOOKUP[_alias] = _LOOKUP[_alias.upper()] = _c


def resolve_accuracy(y_true_shape, y_pred_shape):
    """The accuracy class Keras picks for 'accuracy' from the shapes alone."""
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier, y_true_shape=None, y_pred_shape=None):
    """A Metric from an instance or a name; the logged name is the string given."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            if y_pred_shape is None:
                raise ValueError("'accuracy' is resolved from the data's shapes.")
            return resolve_accuracy(y_true_shape, y_pred_shape)(name=identifier)
        if identifier in ("crossentropy", "ce"):
            raise ValueError(f"cnnext does not support the metric {identifier!r} yet.")
        if identifier in _LOOKUP:
            return _LOOKUP[identifier](name=identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier}")
