"""Array plumbing for fit/evaluate: batch gathering, validation split, class weights."""
import math
import numbers

import numpy as np


class BatchTaker:
    """Gathers shuffled batches into buffers reused from step to step (no per-step allocation;
    layers only keep references to a batch until the end of its own step)."""

    def __init__(self, *arrays):
        self.arrays = arrays
        self.buffers = {}

    def __call__(self, idx):
        if isinstance(idx, slice):
            return tuple(None if a is None else a[idx] for a in self.arrays)
        n = len(idx)
        bufs = self.buffers.get(n)
        if bufs is None:
            bufs = self.buffers[n] = [None if a is None else np.empty((n,) + a.shape[1:], a.dtype)
                                      for a in self.arrays]
        return tuple(None if a is None else np.take(a, idx, axis=0, out=b)
                     for a, b in zip(self.arrays, bufs))


def check_lengths(x, y, sample_weight):
    if y.shape[0] != x.shape[0]:
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same "
                         f"number of samples. 'x' sizes: {x.shape[0]}, 'y' sizes: {y.shape[0]}")
    if sample_weight is not None and np.shape(sample_weight)[0] != x.shape[0]:
        raise ValueError("Data cardinality is ambiguous. 'x' sizes: "
                         f"{x.shape[0]}, 'sample_weight' sizes: {np.shape(sample_weight)[0]}")
    if x.shape[0] == 0:
        raise ValueError("Expected input data to be non-empty.")


def batch_size_for(batch_size, n, steps):
    if batch_size is None:
        return math.ceil(n / steps) if steps else 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive int. Received: batch_size={batch_size}")
    return int(batch_size)


def split(x, y, sw, fraction):
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`validation_split` must be between 0 and 1. "
                         f"Received: validation_split={fraction}")
    n = x.shape[0]
    at = int(math.floor(n * (1.0 - fraction)))
    if at == 0 or at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to split "
                         "it into a validation and training set as specified by "
                         f"`validation_split={fraction}`. Either provide more data, or a "
                         "different value for the `validation_split` argument.")
    train = (x[:at], y[:at], None if sw is None else sw[:at])
    val = (x[at:], y[at:], None if sw is None else sw[at:])
    return train, val


def unpack_validation(data):
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        raise ValueError("`validation_data` should be a tuple `(x_val, y_val)` or `(x_val, "
                         f"y_val, val_sample_weights)`. Received: {type(data).__name__}")
    return (data[0], data[1], data[2] if len(data) == 3 else None)


def should_validate(epoch, freq):
    if isinstance(freq, int):
        return (epoch + 1) % freq == 0
    return epoch + 1 in freq


def class_weights_to_sample_weights(y, class_weight):
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict. Received: {class_weight!r}")
    for k in class_weight:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise ValueError("Expected `class_weight` to be a dict with keys from 0 to one less "
                             f"than the number of classes. Received: {class_weight}")
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.round(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64)
    return np.array([class_weight.get(int(c), 1.0) for c in labels], np.float64)
