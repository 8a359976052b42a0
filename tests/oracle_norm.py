"""NumPy float64 oracles for batch normalization over the last axis and masked dropout."""
import numpy as np


def _rows(x):
    x = np.asarray(x, np.float64)
    return x.reshape(-1, x.shape[-1])


def bn_train(x, gamma, beta, eps):
    a = _rows(x)
    mean, var = a.mean(0), a.var(0)
    inv = 1.0 / np.sqrt(var + eps)
    y = (a - mean) * inv * np.asarray(gamma, np.float64) + np.asarray(beta, np.float64)
    return y.reshape(np.shape(x)), mean, var, inv


def bn_infer(x, gamma, beta, mm, mv, eps):
    a = _rows(x)
    y = (a - np.asarray(mm, np.float64)) / np.sqrt(np.asarray(mv, np.float64) + eps)
    return (y * np.asarray(gamma, np.float64) + np.asarray(beta, np.float64)).reshape(np.shape(x))


def bn_backward(dy, x, gamma, mean, inv, batch_stats=True):
    g, a = _rows(dy), _rows(x)
    gamma, mean, inv = (np.asarray(v, np.float64) for v in (gamma, mean, inv))
    xhat = (a - mean) * inv
    dbeta, dgamma = g.sum(0), (g * xhat).sum(0)
    if batch_stats:
        m = a.shape[0]
        dx = gamma * inv * (g - dbeta / m - xhat * dgamma / m)
    else:
        dx = gamma * inv * g
    return dx.reshape(np.shape(x)), dgamma, dbeta


def dropout(x, mask, scale):
    return np.asarray(x, np.float64) * np.asarray(mask, np.float64) * scale
