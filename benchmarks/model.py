"""The seed model end to end: one training epoch (batch 32, Adam, binary cross-entropy) and predict.

cnnext's Keras mirror and Keras itself run the same script (only the modules differ); PyTorch runs
the model of the peers' ``seed_model.py``. Data: the real MNIST digits (first 8000 train, last 2000
predict, even vs odd) when the project's shared data folder is there, random images otherwise.
"""
import gzip
import os

import numpy as np

from .cases import Case, _maybe
from .harness import Unavailable

__all__ = ["model_cases", "load_digits"]

TRAIN, PREDICT = 8000, 2000
TINY_FEATURES = 8  # the tiny model's inputs (its steps measure fit's own overhead)


def _mnist_dir():
    env = os.environ.get("CNNEXT_MNIST_DIR")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    d = here
    for _ in range(4):  # <root>/../shared/data/mnist, also from a worktree one level deeper
        d = os.path.dirname(d)
        cand = os.path.join(d, "shared", "data", "mnist")
        if os.path.isfile(os.path.join(cand, "t10k-images-idx3-ubyte.gz")):
            return cand
    return None


def load_digits():
    """(x_train, y_train, x_val, y_val, source): 8000 + 2000 images 28x28x1 float32 in [0, 1]."""
    d = _mnist_dir()
    if d is not None:
        with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz")) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)
        x = x.astype(np.float32) / 255.0
        yb = (y % 2 == 0).astype(np.float32)
        return x[:TRAIN], yb[:TRAIN], x[TRAIN:], yb[TRAIN:], "MNIST t10k"
    rng = np.random.default_rng(0)
    x = rng.random((TRAIN + PREDICT, 28, 28, 1), dtype=np.float32)
    y = (rng.random(TRAIN + PREDICT) < 0.5).astype(np.float32)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:], "random images (MNIST folder not found)"


def keras_like_model(models, layers):
    """The seed model, written against Keras's module layout (keras or cnnext)."""
    m = models.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"), layers.MaxPooling2D((2, 2)),
        layers.Flatten(),
        layers.Dense(128, activation="relu"), layers.Dense(1, activation="sigmoid")])
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def tiny_keras_like_model(models, layers):
    """A model so small that a training step is all overhead: 8 -> 16 -> 1, Adam, BCE."""
    m = models.Sequential([layers.Input((TINY_FEATURES,)), layers.Dense(16, activation="relu"),
                           layers.Dense(1, activation="sigmoid")])
    m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return m


def _keras_like(env, which, xt, yt, xv, what, make=keras_like_model):
    if which == "cnnext":
        if env.cnnext is None:
            raise Unavailable(env.reason("cnnext"))
        models, layers = env.cnnext.models, env.cnnext.layers
        for need, mod in (("Sequential", models), ("Conv2D", layers), ("MaxPooling2D", layers),
                          ("Dense", layers), ("Flatten", layers), ("Input", layers)):
            if not hasattr(mod, need):
                raise Unavailable(f"no cnnext.{mod.__name__.split('.')[-1]}.{need}")
        if hasattr(env.cnnext.utils, "set_random_seed"):
            env.cnnext.utils.set_random_seed(0)
    else:
        models, layers = env.keras.models, env.keras.layers
        env.keras.utils.set_random_seed(0)
    m = make(models, layers)
    if what == "fit":
        def epoch():
            m.fit(xt, yt, batch_size=32, epochs=1, verbose=0)
            return lambda x: m.predict(x, batch_size=256, verbose=0)
        return epoch
    return lambda: m.predict(xv, batch_size=256, verbose=0)


def _torch_seed_model(nn):
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
                         nn.Linear(128, 1), nn.Sigmoid())


def _torch_tiny_model(nn):
    return nn.Sequential(nn.Linear(TINY_FEATURES, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())


def _nchw(x):
    """NHWC images as PyTorch's NCHW; other arrays as they are."""
    return x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else np.ascontiguousarray(x)


def _torch(env, xt, yt, xv, what, make=_torch_seed_model):
    torch = env.torch
    nn = torch.nn
    torch.manual_seed(0)
    m = make(nn)
    X = torch.from_numpy(_nchw(xt))
    Y = torch.from_numpy(yt)[:, None]
    XV = torch.from_numpy(_nchw(xv))
    if what == "predict":
        m.eval()

        def predict():
            with torch.no_grad():
                return [m(XV[i:i + 256]) for i in range(0, len(XV), 256)]
        return predict
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)
    lossf = nn.BCELoss()
    g = torch.Generator().manual_seed(0)

    def predict(x):
        with torch.no_grad():
            return m(torch.from_numpy(_nchw(x))).numpy()

    def epoch():
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            lossf(m(X[idx]), Y[idx]).backward()
            opt.step()
        return predict
    return epoch


def _model_impls(env, xt, yt, xv, what, keras_make=keras_like_model, torch_make=_torch_seed_model):
    """The model case's implementations: cnnext's mirror, PyTorch and Keras (no NumPy model)."""
    impls = {"numpy": Unavailable("no NumPy model")}
    impls["cnnext"] = _maybe(lambda: _keras_like(env, "cnnext", xt, yt, xv, what, keras_make))
    impls["torch"] = (_maybe(lambda: _torch(env, xt, yt, xv, what, torch_make))
                      if env.torch is not None else Unavailable(env.reason("torch")))
    impls["keras"] = (_maybe(lambda: _keras_like(env, "keras", xt, yt, xv, what, keras_make))
                      if env.keras is not None else Unavailable(env.reason("keras")))
    return impls


def _accuracy(xv, yv):
    """A check of a fit's result (a predict function): validation accuracy, as a note."""
    def check(predict):
        p = np.asarray(predict(xv)).reshape(-1)
        return f"val acc {np.mean((p > 0.5) == (yv > 0.5)):.3f}"
    return check


def model_case(what, n_train, n_pred):
    data = {}

    def build(env):
        if not data:
            data.update(zip(("xt", "yt", "xv", "yv", "source"), load_digits()))
        xt, yt, xv = data["xt"][:n_train], data["yt"][:n_train], data["xv"][:n_pred]
        impls = _model_impls(env, xt, yt, xv, what)
        checks = {}
        if what == "fit":
            acc = _accuracy(data["xv"], data["yv"])
            checks = {k: acc for k in ("cnnext", "torch", "keras")}
        return impls, checks

    if what == "fit":
        scale = TRAIN / n_train
        name, shape = "seed model fit", f"1 epoch, {TRAIN} imgs b32"
        work = 3 * 2.0 * TRAIN * _SEED_FWD_FLOPS  # forward + two backward GEMMs per layer
    else:
        scale = PREDICT / n_pred
        name, shape = "seed model predict", f"{PREDICT} imgs b256"
        work = 2.0 * PREDICT * _SEED_FWD_FLOPS
    n_run = n_train if what == "fit" else n_pred
    note = None if scale == 1 else f"measured on {n_run} images, x{scale:g}"
    if what == "fit":
        note = (note + "; " if note else "") + "val acc on 2000 held-out images after the warm-up epoch"
    return Case("model", name, shape, work, "GFLOP/s", build, scale=scale, note=note)


# Multiply-adds of one image through the seed model's convolutions and dense layers.
_SEED_FWD_FLOPS = 26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 1600 * 128 + 128


def tiny_data(n):
    """n rows of 8 features and a label that a linear rule gives (learnable in one epoch)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, TINY_FEATURES)).astype(np.float32)
    y = (x @ np.linspace(-1, 1, TINY_FEATURES, dtype=np.float32) > 0).astype(np.float32)
    return x, y


def tiny_case(n_train):
    """The per-step cost of fit itself: one epoch of a model whose arithmetic is negligible
    (8 -> 16 -> 1 at batch 32: 8.6 kFLOP per step), reported per step."""
    steps = n_train // 32

    def build(env):
        xt, yt = tiny_data(n_train + 1000)
        xt, yt, xv, yv = xt[:n_train], yt[:n_train], xt[n_train:], yt[n_train:]
        impls = _model_impls(env, xt, yt, xv, "fit", tiny_keras_like_model, _torch_tiny_model)
        acc = _accuracy(xv, yv)
        return impls, {k: acc for k in ("cnnext", "torch", "keras")}

    return Case("model", "tiny model fit step", f"8->16->1 MLP, b32, Adam ({steps} steps)",
                1e9, "steps/s", build, scale=1.0 / steps,
                note="time per training step (one epoch / its steps): fit's own overhead; "
                     "val acc on 1000 held-out rows after the warm-up epoch")


def model_cases(quick):
    n_train, n_pred = (1000, 1000) if quick else (TRAIN, PREDICT)
    return [model_case("fit", n_train, n_pred), model_case("predict", n_train, n_pred),
            tiny_case(n_train)]
