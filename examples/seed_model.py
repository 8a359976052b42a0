"""The seed Keras script, on cnnext: a small CNN that tells even digits from odd ones.

With a folder of MNIST files it trains on the 10,000 test digits (the first 8000 for training, the
last 2000 for validation; label 1 = even digit, 0 = odd); without one it trains on synthetic shapes
built in code (label = parity of the shape id), so it runs anywhere. Then it saves the model to a
`.keras` file, loads it back and checks that the reloaded model predicts the same values.

    python examples/seed_model.py --data ../shared/data/mnist          # real digits
    python examples/seed_model.py --epochs 2 --samples 2000             # synthetic shapes
"""
import argparse
import os
import sys

import numpy as np

from cnnext.datasets import mnist, synthetic
from cnnext.layers import Conv2D, Dense, Flatten, MaxPooling2D
from cnnext.models import Sequential
from cnnext.saving import load_model
from cnnext.utils import set_random_seed


def load_digits(folder):
    """MNIST test digits -> (x_train, y_train), (x_val, y_val): first 8000 / last 2000, even=1."""
    x, y = mnist.load_split(folder, "test")
    x = (x.astype(np.float32) / 255.0)[..., None]
    y = (y % 2 == 0).astype(np.float32)
    return (x[:8000], y[:8000]), (x[8000:], y[8000:])


def load_shapes(n, seed):
    """Synthetic 28x28x1 shapes, binary labels; 80% train, 20% validation."""
    (x, y), (xv, yv) = synthetic.load_data(n=n, num_classes=2, seed=seed)
    return (x, y.astype(np.float32)), (xv, yv.astype(np.float32))


def build_model():
    """The seed architecture, layer for layer."""
    model = Sequential()
    model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(MaxPooling2D((2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D((2, 2)))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="folder with t10k-images-idx3-ubyte[.gz] and "
                                  "t10k-labels-idx1-ubyte[.gz]; synthetic shapes if omitted")
    p.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--samples", type=int, default=10000,
                   help="number of synthetic images, train + validation (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed for data, weights and shuffling")
    p.add_argument("--output", default="seed_model.keras", help="where to save the model")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="fit verbosity")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.samples < 10:
        p.error("--epochs and --batch-size must be >= 1 and --samples >= 10")
    return args


def main(argv=None):
    args = parse_args(argv)
    set_random_seed(args.seed)  # weights, dropout and fit's shuffling, as in Keras
    if args.data:
        try:
            (x_train, y_train), (x_val, y_val) = load_digits(args.data)
        except (OSError, ValueError) as e:  # missing or malformed files: say which, no traceback
            print(f"error: {e}", file=sys.stderr)
            return 2
        source = f"MNIST test digits from {args.data}"
    else:
        (x_train, y_train), (x_val, y_val) = load_shapes(args.samples, args.seed)
        source = "synthetic shapes"
    print(f"Data: {source}: {len(x_train)} training and {len(x_val)} validation images")

    model = build_model()
    model.summary()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(x_val, y_val), verbose=args.verbose)

    model.save(args.output)
    reloaded = load_model(args.output)
    before = model.predict(x_val, verbose=0)
    after = reloaded.predict(x_val, verbose=0)
    diff = float(np.max(np.abs(before - after))) if before.size else 0.0
    accuracy = float(np.mean((after[:, 0] > 0.5) == (y_val > 0.5)))
    print(f"Saved to {os.path.abspath(args.output)} and reloaded: validation accuracy "
          f"{accuracy:.4f}, max |prediction difference| {diff:.3g}")
    if before.shape != after.shape or diff > 0.0:
        print("ERROR: the reloaded model predicts differently", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
