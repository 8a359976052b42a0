"""No leaks: many calls of every op and many training steps leave memory flat.

Measured in-process after a warm-up (allocator pools, caches, lazily built state), three ways:
resident memory (the user-visible symptom), glibc's count of bytes in use by malloc (exact, so a
C++ or NumPy buffer leak of a few bytes per call shows), and the interpreter's allocated block
count (a Python object leaked per call, e.g. a missing decref in a binding).
CNNEXT_LEAK_ITERS sets the calls per op and dtype: 10^5 by default, as issue 5 asks (about 100 s
for the file on a quiet two-core machine); 2000 already gives ~30x the exact counters' noise, for
a quick local run.
"""
import ctypes
import gc
import os
import resource
import sys

import numpy as np
import pytest

import cnnext
from cnnext import layers
from op_workloads import workloads

ITERS = int(os.environ.get("CNNEXT_LEAK_ITERS", "100000"))
WARMUP = 300
RSS_BOUND = 2 << 20      # resident bytes allowed to appear over a whole loop
MALLOC_BOUND = 64 << 10  # malloc'ed bytes allowed to stay in use over a whole loop
BLOCKS_BOUND = 100       # Python allocations allowed to survive a whole loop


def rss_bytes():
    """Resident set size now (Linux), or the peak so far where /proc is missing."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks",
                                               "keepcost")]


def _mallinfo2():
    try:
        fn = ctypes.CDLL(None).mallinfo2  # glibc >= 2.33
    except (AttributeError, OSError):
        return None
    fn.restype = _MallInfo2
    return fn


_MALLINFO2 = _mallinfo2()


def malloc_bytes():
    """Bytes the C allocator has handed out and not got back (0 where glibc can't say)."""
    if _MALLINFO2 is None:
        return 0
    info = _MALLINFO2()
    return info.uordblks + info.hblkhd


def growth(step, iters, warmup=WARMUP):
    """(resident bytes, malloc bytes, Python blocks) gained over `iters` calls of step()."""
    for _ in range(warmup):
        step()
    gc.collect()
    before = rss_bytes(), malloc_bytes(), sys.getallocatedblocks()
    for _ in range(iters):
        step()
    gc.collect()
    after = rss_bytes(), malloc_bytes(), sys.getallocatedblocks()
    return tuple(b - a for a, b in zip(before, after))


def assert_flat(step, iters, what, warmup=WARMUP, blocks_bound=BLOCKS_BOUND):
    rss, heap, blocks = growth(step, iters, warmup)
    assert rss < RSS_BOUND, f"{what}: resident memory grew by {rss / 2**20:.2f} MiB"
    assert heap < MALLOC_BOUND, f"{what}: {heap} malloc'ed bytes not freed over {iters} calls"
    assert blocks < blocks_bound, f"{what}: {blocks} Python objects survived {iters} calls"


FAMILIES = list(workloads())


@pytest.mark.parametrize("family", FAMILIES)
def test_op_calls_leave_memory_flat(family):
    f32 = workloads(dtype=np.float32)[family]
    f64 = workloads(dtype=np.float64)[family]

    def step():
        f32()
        f64()
    assert_flat(step, ITERS, family)


def test_error_paths_leave_memory_flat():
    """Rejected calls (Python and C++ checks) free what they allocated."""
    x = np.ones((1, 4, 4, 2), np.float32)

    def step():
        for call in (lambda: cnnext.ops.conv2d(x, np.ones((3, 3, 3, 1), np.float32)),
                     lambda: cnnext.ops.max_pool2d(x, 5),
                     lambda: cnnext.ops.dense(x[0, 0], np.ones((3, 2), np.float32))):
            with pytest.raises(ValueError):
                call()
    assert_flat(step, ITERS // 10, "error paths")


def _small_model():
    cnnext.utils.set_random_seed(0)
    model = cnnext.models.Sequential([
        layers.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"),
        layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
        layers.Dropout(0.2), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8, 1), np.float32), rng.integers(0, 3, n)


def test_train_on_batch_leaves_memory_flat():
    model, (x, y) = _small_model(), _data(8)
    # The Python training loop churns dicts and free lists: ~20-150 blocks of noise per 10^3 steps.
    assert_flat(lambda: model.train_on_batch(x, y), 1000, "train_on_batch", warmup=50,
                blocks_bound=500)


def test_fit_leaves_memory_flat():
    """10^3 steps through fit(), memory sampled at every epoch end (History grows by a few KiB)."""
    model, (x, y) = _small_model(), _data(64)
    samples = []
    track = cnnext.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: samples.append((rss_bytes(), malloc_bytes())))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # warm-up
    model.fit(x, y, batch_size=8, epochs=126, verbose=0, callbacks=[track])  # 125 x 8 measured
    rss, heap = (b - a for a, b in zip(samples[0], samples[-1]))
    assert rss < RSS_BOUND, f"fit: resident memory grew by {rss / 2**20:.2f} MiB"
    assert heap < MALLOC_BOUND, f"fit: {heap} malloc'ed bytes not freed over 1000 steps"
