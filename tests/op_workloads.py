"""One call of every op family on fixed seeded data, for the thread-safety and leak tests.

``workloads(n, hw, c, dtype, seed)`` returns {name: fn}; each fn() runs one op (or one op pair)
on its own arrays and returns a tuple of result arrays. In-place optimizer updates work on fresh
copies, so every call gives the same answer. ``n, hw, c`` size the NHWC batch: small sizes make
the leak test fast, larger ones make the ops start OpenMP teams (threads test).
"""
import numpy as np

from cnnext import ops


def _arrays(seed, dtype, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _conv(n, hw, c, dtype, seed):
    x, w, b = _arrays(seed, dtype, (n, hw, hw, c), (3, 3, c, 2 * c), (2 * c,))
    y = ops.conv2d(x, w, b, padding="same", activation="relu")
    dy = np.ones_like(y)

    def conv():
        return (ops.conv2d(x, w, b, padding="same", activation="relu"),
                ops.conv2d(x, w, strides=2, dilation_rate=1),
                ops.conv2d_backprop_input(dy, w, x.shape, padding="same"),
                ops.conv2d_backprop_kernel(x, dy, w.shape, padding="same"),
                ops.conv2d_backprop_bias(dy))
    return conv


def _pool(n, hw, c, dtype, seed):
    (x,) = _arrays(seed, dtype, (n, hw, hw, c))
    oh = hw // 2
    (dy,) = _arrays(seed + 1, dtype, (n, oh, oh, c))

    def pool():
        y, arg = ops.max_pool2d_with_argmax(x)
        return (ops.max_pool2d(x), ops.avg_pool2d(x, 3, 1, "same"), y,
                ops.max_pool2d_backward(dy, x),
                ops.max_pool2d_backward_from_argmax(dy, arg, x.shape),
                ops.avg_pool2d_backward(dy, x.shape),
                ops.global_avg_pool2d(x), ops.global_max_pool2d(x),
                ops.global_max_pool2d_backward(ops.global_max_pool2d(x), x))
    return pool


def _dense(n, hw, c, dtype, seed):
    k = hw * c
    x, w, b, dy = _arrays(seed, dtype, (n, k), (k, 2 * c), (2 * c,), (n, 2 * c))

    def dense():
        return (ops.dense(x, w, b, activation="tanh"), ops.matmul(x, w),
                ops.dense_backprop_input(dy, w), ops.dense_backprop_kernel(x, dy),
                ops.dense_backprop_bias(dy))
    return dense


def _activations(n, hw, c, dtype, seed):
    x, dy = _arrays(seed, dtype, (n, hw, c), (n, hw, c))

    def activations():
        s, sm = ops.sigmoid(x), ops.softmax(x)
        return (ops.relu(x), s, ops.tanh(x), sm, ops.log_softmax(x, axis=1),
                ops.relu_backward(dy, x), ops.sigmoid_backward(dy, s),
                ops.softmax_backward(dy, sm))
    return activations


def _losses(n, hw, c, dtype, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n * hw, c)).astype(dtype)
    labels = rng.integers(0, c, n * hw)
    onehot = np.eye(c, dtype=dtype)[labels]
    prob = (1 / (1 + np.exp(-logits))).astype(dtype)

    def losses():
        return (*ops.categorical_crossentropy(onehot, logits, from_logits=True, return_grad=True),
                *ops.sparse_categorical_crossentropy(labels, logits, from_logits=True,
                                                     return_grad=True),
                *ops.binary_crossentropy(onehot, prob, return_grad=True),
                *ops.mean_squared_error(onehot, logits, return_grad=True))
    return losses


def _optimizers(n, hw, c, dtype, seed):
    p0 = _arrays(seed, dtype, (hw, c), (c,))
    g = _arrays(seed + 1, dtype, (hw, c), (c,))

    def optimizers():
        p, m, v = [a.copy() for a in p0], [np.zeros_like(a) for a in p0], \
            [np.zeros_like(a) for a in p0]
        ops.adam_update(p, g, m, v, learning_rate=1e-3, beta_1=0.9, beta_2=0.999,
                        epsilon=1e-7, iteration=3)
        q, mom = [a.copy() for a in p0], [np.zeros_like(a) for a in p0]
        ops.sgd_update(q, g, mom, learning_rate=0.1, momentum=0.9, nesterov=True)
        r, vel = [a.copy() for a in p0], [np.zeros_like(a) for a in p0]
        ops.rmsprop_update(r, g, vel, learning_rate=1e-3, rho=0.9, epsilon=1e-7)
        return (*p, *m, *v, *q, *mom, *r, *vel)
    return optimizers


def _norm(n, hw, c, dtype, seed):
    x, dy, gamma, beta = _arrays(seed, dtype, (n, hw, hw, c), (n, hw, hw, c), (c,), (c,))
    mask = np.random.default_rng(seed).random(x.shape) < 0.5

    def norm():
        y, mean, var, inv_std = ops.batch_norm_forward_train(x, gamma, beta)
        return (y, mean, var, inv_std,
                ops.batch_norm_forward_infer(x, gamma, beta, mean, var),
                *ops.batch_norm_backward(dy, x, gamma, mean, inv_std),
                ops.dropout_apply(x, mask, 2.0))
    return norm


def _signal(n, hw, c, dtype, seed):
    a, k = _arrays(seed, dtype, (2 * hw, 2 * hw), (3, 5))

    def signal():
        return (ops.convolve2d(a, k), ops.correlate2d(a, k, mode="same", boundary="symm"),
                ops.convolve2d(a, k, mode="valid", boundary="wrap"))
    return signal


_FAMILIES = (_conv, _pool, _dense, _activations, _losses, _optimizers, _norm, _signal)


def workloads(n=2, hw=6, c=3, dtype=np.float32, seed=0):
    """{name: fn} for every op family, each on its own data (seed + family index)."""
    return {make.__name__[1:]: make(n, hw, c, dtype, seed + 10 * i)
            for i, make in enumerate(_FAMILIES)}
