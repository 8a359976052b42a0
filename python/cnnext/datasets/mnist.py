"""MNIST handwritten digits from a local folder (nothing is downloaded).

The folder holds the original IDX files, raw or gzip-compressed, under their usual names::

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]

(the ``train-images.idx3-ubyte`` spelling of some mirrors is accepted too), or a Keras
``mnist.npz`` with arrays ``x_train, y_train, x_test, y_test`` (read with ``allow_pickle=False``).
"""
import os

import numpy as np

from ._idx import load_idx

__all__ = ["load_data", "load_split"]

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_data(path):
    """Load MNIST from a folder (or a `mnist.npz`), like `keras.datasets.mnist.load_data`.

    Args:
        path: folder with the four IDX files, or a `.npz` file in Keras's layout.
    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 images `(N, 28, 28)` and uint8 labels `(N,)`.
    Raises:
        FileNotFoundError naming every file it looked for when one is missing. A folder with
        only the test files (`t10k-*`, as in the project's shared data) is an error here, since
        returning an empty training set would only fail later: read it with
        `load_split(path, "test")`, as `examples/seed_model.py` does.
    """
    path = os.fspath(path)
    if os.path.isfile(path) and path.endswith(".npz"):
        return _load_npz(path)
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "mnist.npz")):
        if _find(path, "train") is None:
            return _load_npz(os.path.join(path, "mnist.npz"))
    train = _find(path, "train")
    test = _find(path, "test")
    if train is None or test is None:
        missing = [s for s, found in (("train", train), ("test", test)) if found is None]
        hint = ""
        if test is not None:
            hint = (" Only the test split (t10k-*) is present: read it with "
                    "cnnext.datasets.mnist.load_split(path, 'test').")
        raise FileNotFoundError(
            f"MNIST {' and '.join(missing)} files not found in {path!r}. Looked for: "
            f"{_candidates(missing)} (optionally with .gz), or mnist.npz. Nothing is "
            f"downloaded.{hint}")
    return _load_pair(*train), _load_pair(*test)


def load_split(path, split):
    """Load one MNIST split (`"train"` or `"test"`) from a folder: `(images, labels)`."""
    if split not in _FILES:
        raise ValueError(f"`split` must be 'train' or 'test'. Received: split={split!r}")
    path = os.fspath(path)
    found = _find(path, split)
    if found is None:
        raise FileNotFoundError(f"MNIST {split} files not found in {path!r}. Looked for: "
                                f"{_candidates([split])} (optionally with .gz). Nothing is "
                                "downloaded.")
    return _load_pair(*found)


def _candidates(splits):
    return [base for s in splits for base in _FILES[s]]


def _find(folder, split):
    """(images path, labels path) for `split`, or None if either file is missing."""
    out = []
    for base in _FILES[split]:
        # train-images-idx3-ubyte, or train-images.idx3-ubyte as some mirrors name it
        variants = (base, base.replace("-idx", ".idx"))
        hit = None
        for name in variants:
            for suffix in ("", ".gz"):
                p = os.path.join(folder, name + suffix)
                if os.path.isfile(p):
                    hit = p
                    break
            if hit:
                break
        if hit is None:
            return None
        out.append(hit)
    return tuple(out)


def _load_pair(images_path, labels_path):
    x = load_idx(images_path)
    y = load_idx(labels_path)
    if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"MNIST files disagree: images {images_path} have shape {x.shape}, "
                         f"labels {labels_path} have shape {y.shape}; expected (N, 28, 28) "
                         "and (N,).")
    return x, y


def _load_npz(path):
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in f.files]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing} of Keras's mnist.npz. "
                             f"Received: {f.files}")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
