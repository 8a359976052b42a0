"""A named, float32 weight: the array the layers compute with and the optimizer updates in place."""
import numpy as np


class Variable:
    """Keras-like variable: ``.name`` ('kernel'), ``.path`` ('sequential/conv2d/kernel'),
    ``.trainable``, ``.shape``, ``.dtype``, ``numpy()``, ``assign(value)``.

    ``.value`` is the live ndarray; it is updated in place, never rebound, so optimizer state and
    cached lists of arrays stay valid.
    """

    def __init__(self, value, name, trainable=True, path=None):
        self.value = np.array(value, order="C")  # (ascontiguousarray would make 0-d 1-d)
        self.name = name
        self.trainable = trainable
        self.path = path or name

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self):
        return self.value.ndim

    def numpy(self):
        return self.value.copy()

    def assign(self, value):
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ValueError(
                f"The shape of the target variable and the shape of the target value in "
                f"`variable.assign(value)` must match. variable.shape={self.value.shape}, "
                f"Received: value.shape={value.shape}. Target variable: {self.path}")
        self.value[...] = value
        return self

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __index__(self):
        return int(self.value)

    # Arithmetic and comparisons act on the value, as Keras variables do
    # (``optimizer.learning_rate * 0.5``, ``float(optimizer.iterations)``).
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self.value == np.asarray(other)

    def __ne__(self, other):
        return self.value != np.asarray(other)

    def __lt__(self, other):
        return self.value < np.asarray(other)

    def __le__(self, other):
        return self.value <= np.asarray(other)

    def __gt__(self, other):
        return self.value > np.asarray(other)

    def __ge__(self, other):
        return self.value >= np.asarray(other)

    def __add__(self, other):
        return self.value + np.asarray(other)

    __radd__ = __add__

    def __sub__(self, other):
        return self.value - np.asarray(other)

    def __rsub__(self, other):
        return np.asarray(other) - self.value

    def __mul__(self, other):
        return self.value * np.asarray(other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self.value / np.asarray(other)

    def __rtruediv__(self, other):
        return np.asarray(other) / self.value

    def __neg__(self):
        return -self.value

    def __format__(self, spec):
        return format(self.value.item() if self.value.ndim == 0 else self.value, spec)

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={self.value.shape}, "
                f"dtype={self.value.dtype.name}>")
