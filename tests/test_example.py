"""examples/seed_model.py runs end to end: a short synthetic training, save, reload, same output."""
import os
import re
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "seed_model.py")
MNIST_DIR = os.environ.get("CNNEXT_MNIST_DIR") or os.path.normpath(
    os.path.join(ROOT, "..", "shared", "data", "mnist"))


def run(args, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(ROOT, "python")] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, SCRIPT] + args, cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_seed_example_synthetic(tmp_path):
    out = tmp_path / "seed.keras"
    r = run(["--epochs", "2", "--samples", "120", "--output", str(out)], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    text = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)  # strip the progress bar's ANSI colours
    assert "Data: synthetic shapes: 96 training and 24 validation images" in text
    assert 'Model: "sequential"' in text and "Total params: 223,873" in text
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert re.search(r"3/3 ━{20} \d+s \d+m?s/step - accuracy: [\d.]+ - loss: [\d.]+ - "
                     r"val_accuracy: [\d.]+ - val_loss: [\d.]+", text), text
    assert re.search(r"reloaded: validation accuracy [\d.]+, max \|prediction difference\| 0\b",
                     text), text
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["metadata.json", "config.json", "model.weights.h5"]


def test_seed_example_bad_arguments(tmp_path):
    r = run(["--epochs", "0"], tmp_path)
    assert r.returncode == 2 and "--epochs and --batch-size must be >= 1" in r.stderr
    r = run(["--data", str(tmp_path / "nowhere"), "--epochs", "1"], tmp_path)
    assert r.returncode == 2 and "t10k-images-idx3-ubyte" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(not os.path.isfile(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz")),
                    reason=f"MNIST test files not found in {MNIST_DIR}")
def test_seed_example_mnist_data_split(tmp_path):
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import seed_model
    finally:
        sys.path.pop(0)
    (x, y), (xv, yv) = seed_model.load_digits(MNIST_DIR)
    assert x.shape == (8000, 28, 28, 1) and xv.shape == (2000, 28, 28, 1)
    assert x.dtype == y.dtype == "float32" and 0.0 <= x.min() and x.max() == 1.0
    assert y[:10].tolist() == [0, 1, 0, 1, 1, 0, 1, 0, 0, 0]  # 7 2 1 0 4 1 4 9 5 9: even -> 1
