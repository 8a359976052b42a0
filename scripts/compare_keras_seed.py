"""Train the seed model in cnnext and in real Keras from the same start, side by side.

Both models start from cnnext's initial weights for `--seed` (copied into Keras with
`set_weights`) and see the same batches in the same order (cnnext's own shuffle for that seed,
drawn exactly as `fit(shuffle=True)` draws it), so this replays `examples/seed_model.py` in both
libraries and prints their per-epoch logs one under the other. Differences that remain come from
float32 rounding (summation order), which training amplifies over hundreds of steps.

    KERAS_BACKEND=jax python scripts/compare_keras_seed.py --data ../shared/data/mnist --seed 0

Needs keras 3 (any backend) in the environment; without `--data` it uses the synthetic shapes.
"""
import argparse
import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import cnnext  # noqa: E402
from cnnext import _random  # noqa: E402
from seed_model import load_digits, load_shapes  # noqa: E402


def build(lib):
    L = lib.layers
    model = lib.Sequential([
        lib.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
        L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(),
        L.Dense(128, activation="relu"), L.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="MNIST folder (as for examples/seed_model.py)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    import keras

    cnnext.utils.set_random_seed(args.seed)  # as the example: data (synthetic), weights, shuffles
    if args.data:
        (x, y), (xv, yv) = load_digits(args.data)
    else:
        (x, y), (xv, yv) = load_shapes(10000, args.seed)
    c = build(cnnext)
    k = build(keras)
    k.set_weights(c.get_weights())
    for epoch in range(1, args.epochs + 1):
        order = _random.generator().permutation(len(x))  # what cnnext's fit draws per epoch
        for name, model in (("keras", k), ("cnnext", c)):
            h = model.fit(x[order], y[order], batch_size=args.batch_size, epochs=1,
                          shuffle=False, validation_data=(xv, yv), verbose=0)
            logs = " - ".join(f"{key}: {v[0]:.4f}" for key, v in h.history.items())
            print(f"epoch {epoch} {name:6s} {logs}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
