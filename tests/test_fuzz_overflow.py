"""Sizes whose products overflow, or that no memory could hold, fail fast and cleanly.

Every op given a view that reports 2**48 or more elements (``np.broadcast_to`` of one value), or a
shape argument whose product overflows int64, must raise ValueError or MemoryError (TypeError for
an int too large for int64) within a fraction of a second: no attempt to allocate or compute
petabytes, no crash, no hang. C++ shape products go through ``checked_numel`` / ``checked_mul``
(src/cpp/common/check.h), which, like NumPy, also refuse an empty shape whose non-zero dimensions
multiply past int64 (``(0, 2**40, 2**40, 2**40)``).
"""
import os
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cnnext
import cnnext.ops as ops
from fuzz_support import FUZZ

f32 = np.float32
HUGE = [2**20, 2**24, 2**31, 2**40, 2**62]
FAIL = (ValueError, MemoryError, TypeError)
PACKAGE = os.path.dirname(cnnext.__file__)
LIMIT_S = 2.0  # generous for a loaded machine; an allocation attempt would take minutes or OOM


def big(*shape, dtype=f32, value=1):
    return np.broadcast_to(np.asarray(value, dtype), shape)


def fails_fast(fn, *args, **kwargs):
    """fn(...) raises FAIL quickly, from inside cnnext (not while the test built its arguments)."""
    t0 = time.perf_counter()
    with pytest.raises(FAIL) as info:
        fn(*args, **kwargs)
    assert time.perf_counter() - t0 < LIMIT_S
    assert str(info.value).strip()
    assert any(str(entry.path).startswith(PACKAGE) for entry in info.traceback), \
        "the error came from building the test's arguments, not from cnnext"
    return info.value


# ---- explicit cases: one per op family, the brief's examples first -------------------------------
B4 = big(2**20, 2**20, 2**20, 1)  # 2**60 elements from one float
CASES = {
    "relu": lambda: ops.relu(B4),
    "sigmoid_out": lambda: ops.sigmoid(big(2**30, 2**30), out=np.zeros(2, f32)),
    "softmax": lambda: ops.softmax(big(2**30, 2**30), axis=0),
    "relu_backward": lambda: ops.relu_backward(B4, B4),
    "log_softmax_backward": lambda: ops.log_softmax_backward(big(2**25, 2**25), big(2**25, 2**25)),
    "conv2d": lambda: ops.conv2d(B4, np.ones((1, 1, 1, 1), f32)),
    "conv2d_kernel": lambda: ops.conv2d(np.ones((1, 2, 2, 1), f32), big(1, 1, 1, 2**60)),
    "conv2d_backprop_input_shape": lambda: ops.conv2d_backprop_input(
        np.zeros((0, 2**19, 2**19, 1), f32), np.ones((1, 1, 1, 1), f32), (0, 2**39, 2**39, 1),
        strides=2**20),
    "conv2d_backprop_input_wide": lambda: ops.conv2d_backprop_input(
        np.zeros((0, 1, 1, 0), f32), np.zeros((1, 1, 2**39, 0), f32), (0, 2**39, 2**39, 2**39),
        strides=2**39),
    "conv2d_backprop_kernel_shape": lambda: ops.conv2d_backprop_kernel(
        np.zeros((0, 4, 4, 2**30), f32), np.zeros((0, 4, 4, 2**30), f32), (1, 1, 2**30, 2**30)),
    "conv2d_backprop_bias": lambda: ops.conv2d_backprop_bias(B4),
    "matmul": lambda: ops.matmul(big(2**30, 2**30), big(2**30, 1)),
    "matmul_result": lambda: ops.matmul(big(2**40, 0), big(0, 2**40)),
    "dense": lambda: ops.dense(big(2**40, 2**20), np.ones((2**20, 1), f32)),
    "dense_backprop_kernel": lambda: ops.dense_backprop_kernel(big(2**24, 2**24), big(2**24, 2)),
    "dense_backprop_bias": lambda: ops.dense_backprop_bias(big(2**40, 2**20)),
    "max_pool2d": lambda: ops.max_pool2d(B4, 1),
    "avg_pool2d_backward_shape": lambda: ops.avg_pool2d_backward(
        np.zeros((0, 2**30, 2**30, 1), f32), (0, 2**60, 2**60, 1), pool_size=1, strides=2**30),
    "max_pool2d_backward_from_argmax": lambda: ops.max_pool2d_backward_from_argmax(
        np.zeros((0, 2**30, 2**30, 1), f32), np.zeros((0, 2**30, 2**30, 1), np.uint8),
        (0, 2**60, 2**60, 1), pool_size=1, strides=2**30),
    "global_avg_pool2d_backward": lambda: ops.global_avg_pool2d_backward(
        np.zeros((0, 1), f32), (0, 2**62, 2, 1)),
    "global_max_pool2d": lambda: ops.global_max_pool2d(B4),
    "pool_stride_int64_max": lambda: ops.max_pool2d(np.ones((1, 3, 3, 1), f32), 1,
                                                    strides=2**63 - 1, padding="same"),
    "pool_stride_beyond_int64": lambda: ops.avg_pool2d(np.ones((1, 3, 3, 1), f32), 1,
                                                       strides=2**64, padding="same"),
    "convolve2d": lambda: ops.convolve2d(big(2**30, 2**30), np.ones((1, 1), f32)),
    "correlate2d_empty": lambda: ops.correlate2d(np.zeros((0, 2**60), f32), np.ones((2, 2), f32)),
    "binary_crossentropy": lambda: ops.binary_crossentropy(B4, B4),
    "sparse_categorical_crossentropy": lambda: ops.sparse_categorical_crossentropy(
        big(2**30, 2**29, dtype=np.int64, value=0), big(2**30, 2**29, 2)),
    "batch_norm_forward_train": lambda: ops.batch_norm_forward_train(big(2**40, 2**20)),
    "batch_norm_forward_infer": lambda: ops.batch_norm_forward_infer(
        big(2**40, 4), None, None, np.zeros(4, f32), np.ones(4, f32)),
    "batch_norm_backward": lambda: ops.batch_norm_backward(big(2**40, 4), big(2**40, 4), None,
                                                           np.zeros(4, f32), np.ones(4, f32)),
    "dropout_apply": lambda: ops.dropout_apply(big(2**30, 2**30), big(2**30, 2**30, dtype=bool),
                                               2.0),
    "dropout_apply_x": lambda: ops.dropout_apply(B4, np.ones(1, bool), 2.0),
    "adam_update": lambda: ops.adam_update([big(2**40)], [np.zeros(1, f32)],
                                           [np.zeros(1, f32)], [np.zeros(1, f32)],
                                           learning_rate=0.1, beta_1=0.9, beta_2=0.9,
                                           epsilon=1e-7, iteration=1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_overflowing_sizes_fail_fast(case):
    fails_fast(CASES[case])


def test_empty_shape_with_overflowing_dimensions_is_refused_in_cpp():
    """The C++ checks themselves (direct _core calls skip the Python ones): an empty (0, ...)
    shape whose other dimensions multiply past int64 is a ValueError naming the overflow."""
    from cnnext import _core
    dy = np.zeros((0, 1, 1, 1), f32)
    with pytest.raises(ValueError, match="overflows a 64-bit size"):
        _core.avg_pool2d_backward(dy, [0, 2**62, 2**62, 1], 2**31 - 1, 1, 2**31 - 1, 1, True)
    with pytest.raises(ValueError, match="overflows a 64-bit size"):
        _core.conv2d_backprop_input(np.zeros((0, 1, 1, 0), f32), np.zeros((1, 1, 2**39, 0), f32),
                                    [0, 2**39, 2**39, 2**39], (1, 1), (1, 1), (0, 0), None)


# ---- hypothesis: huge broadcast views and huge shape arguments, every family ---------------------
def _huge_shape(data, rank, at_least=2**48):
    """A shape of `rank` dims, some huge, whose product is >= at_least (no real allocation)."""
    dims = [data.draw(st.sampled_from([1, 2, 3] + HUGE), label=f"d{i}") for i in range(rank)]
    if int(np.prod([float(d) for d in dims])) < at_least:
        dims[data.draw(st.integers(0, rank - 1), label="grow")] = 2**50
    return tuple(dims)


def _fits_numpy(shape, itemsize=4):
    total = 1
    for d in shape:
        total *= d
    return total * itemsize < 2**63


# Every operand is a broadcast view: nothing here may really allocate (a (1, 1, 2**31, 1) kernel
# of ones would be 8 GiB).
UNARY_VIEWS = {
    "relu": (lambda v: ops.relu(v), 2), "tanh": (lambda v: ops.tanh(v), 3),
    "softmax": (lambda v: ops.softmax(v, axis=0), 2),
    "sigmoid_backward": (lambda v: ops.sigmoid_backward(v, v), 2),
    "conv2d": (lambda v: ops.conv2d(v, big(1, 1, v.shape[3], 1)), 4),
    "conv2d_backprop_bias": (lambda v: ops.conv2d_backprop_bias(v), 4),
    "max_pool2d": (lambda v: ops.max_pool2d(v, 1), 4),
    "avg_pool2d": (lambda v: ops.avg_pool2d(v, 1, padding="same"), 4),
    "global_avg_pool2d": (lambda v: ops.global_avg_pool2d(v), 4),
    "max_pool2d_with_argmax": (lambda v: ops.max_pool2d_with_argmax(v, 1), 4),
    "dense_backprop_bias": (lambda v: ops.dense_backprop_bias(v), 2),
    "dense": (lambda v: ops.dense(v, big(v.shape[-1], 1)), 2),
    "matmul": (lambda v: ops.matmul(v, big(v.shape[1], 2)), 2),
    "correlate2d": (lambda v: ops.correlate2d(v, np.ones((1, 1), f32)), 2),
    "mean_squared_error": (lambda v: ops.mean_squared_error(v, v), 2),
    "batch_norm_forward_train": (lambda v: ops.batch_norm_forward_train(v), 2),
    "dropout_apply": (lambda v: ops.dropout_apply(v, big(v.shape[-1], dtype=bool), 1.5), 3),
}


@pytest.mark.parametrize("name", sorted(UNARY_VIEWS))
@FUZZ
@given(data=st.data())
def test_huge_views_fail_fast(name, data):
    fn, rank = UNARY_VIEWS[name]
    shape = _huge_shape(data, rank)
    dtype = data.draw(st.sampled_from([f32, np.float64, np.int8]), label="dtype")
    if not _fits_numpy(shape, np.dtype(dtype).itemsize):
        return  # NumPy cannot even build the view
    fails_fast(fn, big(*shape, dtype=dtype))


@FUZZ
@given(data=st.data())
def test_huge_shape_arguments_fail_fast_or_stay_small(data):
    """input_shape / kernel_shape / strides / pool sizes drawn up to 2**63: either a clear error
    or a result small enough to have been computed (an empty or tiny array)."""
    dims = st.sampled_from([0, 1, 3] + HUGE + [2**63 - 1, 2**63, 2**64])
    shape = tuple(data.draw(dims, label=f"s{i}") for i in range(4))
    stride = data.draw(st.sampled_from([1, 2, 2**31 - 1, 2**40, 2**62, 2**63 - 1]), label="s")
    op = data.draw(st.sampled_from(["avg_pool2d_backward", "global_avg_pool2d_backward",
                                    "conv2d_backprop_input", "conv2d_backprop_kernel"]))
    padding = data.draw(st.sampled_from(["valid", "same"]), label="padding")
    dy = np.zeros((0, 1, 1, 1), f32)
    t0 = time.perf_counter()
    try:
        if op == "avg_pool2d_backward":
            res = ops.avg_pool2d_backward(dy, shape, pool_size=1, strides=stride, padding=padding)
        elif op == "global_avg_pool2d_backward":
            res = ops.global_avg_pool2d_backward(np.zeros((0, 1), f32), shape)
        elif op == "conv2d_backprop_input":
            res = ops.conv2d_backprop_input(dy, np.ones((1, 1, 1, 1), f32), shape, strides=stride,
                                            padding=padding)
        else:
            res = ops.conv2d_backprop_kernel(np.zeros((0, 1, 1, 1), f32), dy, shape,
                                             strides=stride, padding=padding)
    except FAIL as e:
        assert str(e).strip()
    else:
        assert res.size <= 16 and res.shape == tuple(shape)
    assert time.perf_counter() - t0 < LIMIT_S
