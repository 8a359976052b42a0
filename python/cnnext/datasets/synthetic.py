"""A synthetic MNIST-like image set built in code from a seed: no files, no downloads.

Ten classes of 28x28 grey shapes drawn at a random position, size, stroke width and brightness,
plus Gaussian pixel noise:

    0 horizontal bar   1 vertical bar    2 diagonal \\      3 diagonal /     4 square outline
    5 filled square    6 ring            7 filled disk      8 plus (+)       9 cross (x)

With ``num_classes=2`` the label is the parity of the shape (even vs odd), the same binary task
the seed example sets on MNIST digits.
"""
import numpy as np

__all__ = ["load_data", "CLASS_NAMES"]

CLASS_NAMES = ("hbar", "vbar", "diag_down", "diag_up", "square", "filled_square", "ring",
               "disk", "plus", "cross")


def load_data(n=1200, num_classes=10, seed=0, test_fraction=0.2, noise=0.1):
    """Generate `n` images and split them like `keras.datasets.mnist.load_data`.

    Args:
        n: total number of images (train + test), at least 2.
        num_classes: 10 (shape id) or 2 (shape id parity: 0 even, 1 odd).
        seed: integer seed; the same seed gives the same arrays.
        test_fraction: share of the images in the test split, in (0, 1).
        noise: standard deviation of the Gaussian pixel noise (images are clipped to [0, 1]).
    Returns:
        `(x_train, y_train), (x_test, y_test)`: float32 images `(N, 28, 28, 1)` in [0, 1] and
        uint8 labels `(N,)`; the test split is the last `round(n * test_fraction)` images.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"`n` must be an integer >= 2. Received: n={n!r}")
    if num_classes not in (2, 10):
        raise ValueError(f"`num_classes` must be 2 or 10. Received: num_classes={num_classes!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"`test_fraction` must be in (0, 1). Received: "
                         f"test_fraction={test_fraction!r}")
    if not noise >= 0.0:
        raise ValueError(f"`noise` must be >= 0. Received: noise={noise!r}")
    rng = np.random.default_rng(seed)
    shape_id = rng.integers(0, 10, size=n)
    x = _draw(shape_id, rng)
    x += rng.normal(0.0, noise, size=x.shape).astype(np.float32) if noise else 0.0
    np.clip(x, 0.0, 1.0, out=x)
    y = (shape_id if num_classes == 10 else shape_id % 2).astype(np.uint8)
    n_test = min(max(int(round(n * test_fraction)), 1), n - 1)
    x = x[..., None]
    return (x[:-n_test], y[:-n_test]), (x[-n_test:], y[-n_test:])


def _draw(shape_id, rng):
    """Anti-aliased shapes: intensity = clip(1 - distance outside the shape, 0, 1) * brightness."""
    n = shape_id.shape[0]
    cx, cy = rng.uniform(10.0, 18.0, n), rng.uniform(10.0, 18.0, n)
    r = rng.uniform(5.0, 9.0, n)
    half_width = rng.uniform(0.8, 1.6, n)
    bright = rng.uniform(0.7, 1.0, n)
    grid = np.arange(28, dtype=np.float64)
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    r, hw = r[:, None, None], half_width[:, None, None]
    out = np.empty((n, 28, 28), dtype=np.float32)
    for k in range(10):
        idx = np.nonzero(shape_id == k)[0]
        if idx.size:
            d = _distance(k, dx[idx], dy[idx], r[idx], hw[idx])
            out[idx] = np.clip(1.0 - d, 0.0, 1.0) * bright[idx, None, None]
    return out


def _distance(k, dx, dy, r, hw):
    """Distance (pixels) from each pixel to shape `k`; 0 inside."""
    out = np.maximum  # distance outside an intersection of slabs = max of the parts

    def bar(along, across, length):
        return out(np.abs(across) - hw, np.abs(along) - length).clip(0.0)

    u, v = (dx + dy) / np.sqrt(2.0), (dx - dy) / np.sqrt(2.0)
    cheb, rad = np.maximum(np.abs(dx), np.abs(dy)), np.hypot(dx, dy)
    if k == 0:
        return bar(dx, dy, r)
    if k == 1:
        return bar(dy, dx, r)
    if k == 2:
        return bar(u, v, r)
    if k == 3:
        return bar(v, u, r)
    if k == 4:
        return (np.abs(cheb - (r - hw)) - hw).clip(0.0)
    if k == 5:
        return (cheb - r).clip(0.0)
    if k == 6:
        return (np.abs(rad - (r - hw)) - hw).clip(0.0)
    if k == 7:
        return (rad - r).clip(0.0)
    if k == 8:
        return np.minimum(bar(dx, dy, r), bar(dy, dx, r))
    return np.minimum(bar(u, v, r), bar(v, u, r))
