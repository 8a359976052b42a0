"""Pure-NumPy float64 oracles for matmul and the dense ops (importable by other tests)."""
import numpy as np

ACTIVATIONS = {
    None: lambda z: z,
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
}


def np_matmul(a, b):
    return np.matmul(np.asarray(a, np.float64), np.asarray(b, np.float64))


def np_dense(x, kernel, bias=None, activation=None):
    z = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    if bias is not None:
        z = z + np.asarray(bias, np.float64)
    with np.errstate(over="ignore"):
        return ACTIVATIONS[activation](z)


def np_dense_backprop_input(dy, kernel):
    return np.asarray(dy, np.float64) @ np.asarray(kernel, np.float64).T


def np_dense_backprop_kernel(x, dy):
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    return x.reshape(-1, x.shape[-1]).T @ dy.reshape(-1, dy.shape[-1])


def np_dense_backprop_bias(dy):
    dy = np.asarray(dy, np.float64)
    return dy.reshape(-1, dy.shape[-1]).sum(axis=0)


def operands(rng, m, k, n, dtype):
    """A (m, k) and B (k, n) scaled by k**-0.25 each, so A @ B stays O(1) for any k and float32
    rounding errors grow like sqrt(k) (the tests scale atol by sqrt(k))."""
    s = max(k, 1) ** -0.25
    a = (rng.standard_normal((m, k)) * s).astype(dtype)
    b = (rng.standard_normal((k, n)) * s).astype(dtype)
    return a, b
