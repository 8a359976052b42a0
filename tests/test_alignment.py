"""Arrays whose data is not aligned to the item size (a view at an odd byte offset) give the same
bits as aligned copies: the ops copy them once instead of handing C++ a misaligned float pointer
(undefined behaviour that UBSan reports: scripts/sanitize.sh runs this file)."""
import numpy as np
import pytest

from cnnext import ops


def misaligned(a):
    """A copy of `a` whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    raw[...] = a
    assert not raw.flags.aligned
    return raw


CALLS = {
    "relu": lambda x, w: ops.relu(x),
    "softmax": lambda x, w: ops.softmax(x, axis=1),
    "conv2d": lambda x, w: ops.conv2d(x, w, padding="same"),
    "max_pool2d": lambda x, w: ops.max_pool2d(x),
    "batch_norm": lambda x, w: ops.batch_norm_forward_train(x)[0],
    "dense": lambda x, w: ops.dense(x.reshape(6, -1), x.reshape(-1, 6), activation="relu"),
    "matmul": lambda x, w: ops.matmul(x.reshape(6, -1).T, x.reshape(6, -1)),
    "convolve2d": lambda x, w: ops.convolve2d(x[0, :, :, 0], w[:, :, 0, 0]),
}


@pytest.mark.parametrize("name", CALLS)
def test_misaligned_inputs_match_aligned(isa, dtype, name):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 3)).astype(dtype)
    w = rng.standard_normal((3, 3, 3, 4)).astype(dtype)
    xm, wm = misaligned(x), misaligned(w)
    expected = CALLS[name](x, w)
    got = CALLS[name](xm, wm)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(xm, x)  # inputs untouched


def test_misaligned_out_is_rejected(dtype):
    x = np.ones((4, 5), dtype)
    with pytest.raises(ValueError, match="`out` must be aligned to its item size"):
        ops.relu(x, out=misaligned(np.zeros_like(x)))
