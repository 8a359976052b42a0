"""cnnext.datasets: IDX parsing (raw and gzip, every IDX dtype, malformed files), MNIST from a
folder (skipped where the shared data is absent) and the synthetic image set."""
import gzip
import os
import struct

import numpy as np
import pytest

from cnnext.datasets import load_idx, mnist, synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# <repo>/../shared/data/mnist; CNNEXT_MNIST_DIR overrides it (e.g. from a git worktree).
MNIST_DIR = os.environ.get("CNNEXT_MNIST_DIR") or os.path.normpath(
    os.path.join(ROOT, "..", "shared", "data", "mnist"))
IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}


def idx_bytes(arr, code=None):
    """The IDX encoding of `arr`: the oracle writer the reader is checked against."""
    arr = np.asarray(arr)
    code = IDX_CODES[arr.dtype.type] if code is None else code
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(tmp_path, name, data, gz=False):
    p = tmp_path / name
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


# --- load_idx: valid files ----------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dt", list(IDX_CODES), ids=lambda t: np.dtype(t).name)
def test_idx_round_trip_every_dtype(tmp_path, dt, gz):
    rng = np.random.default_rng(0)
    if np.dtype(dt).kind == "f":
        arr = rng.normal(size=(3, 5, 2)).astype(dt)
        arr[0, 0, 0] = np.nan
    else:
        info = np.iinfo(dt)
        arr = rng.integers(info.min, info.max, size=(3, 5, 2), endpoint=True).astype(dt)
    out = load_idx(write(tmp_path, "a.idx", idx_bytes(arr), gz=gz))
    assert out.shape == arr.shape and out.dtype == np.dtype(dt)
    assert out.dtype.isnative and out.flags.c_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("shape", [(1,), (7,), (0,), (2, 0, 3), (2, 3, 4, 5, 1)])
def test_idx_shapes(tmp_path, shape):
    arr = np.arange(int(np.prod(shape)), dtype=np.int16).reshape(shape) - 3
    out = load_idx(write(tmp_path, "a", idx_bytes(arr)))
    assert out.shape == shape
    np.testing.assert_array_equal(out, arr)


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(load_idx(write(tmp_path, "plain.gz", idx_bytes(arr))), arr)
    np.testing.assert_array_equal(load_idx(write(tmp_path, "noext", idx_bytes(arr), gz=True)), arr)


def test_idx_accepts_pathlike_and_str(tmp_path):
    p = write(tmp_path, "a", idx_bytes(np.ones(3, np.uint8)))
    assert load_idx(str(p)).tolist() == load_idx(p).tolist() == [1, 1, 1]


# --- load_idx: malformed files ------------------------------------------------------------------

GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("data, match", [
    (b"", "shorter than the 4-byte header"),
    (b"\x00\x00", "shorter than the 4-byte header"),
    (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "two zero bytes"),
    (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05", r"unknown data type byte 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "ends inside the dimension list"),
    (GOOD[:-1], "truncated"),
    (GOOD + b"\x00", "trailing bytes"),
    (b"\x00\x00\x0E\x01\x00\x00\x00\x02" + b"\x00" * 12, "truncated"),
])
def test_idx_malformed(tmp_path, data, match, gz):
    with pytest.raises(ValueError, match=match):
        load_idx(write(tmp_path, "bad", data, gz=gz))


def test_idx_huge_header_rejected_before_reading(tmp_path):
    data = b"\x00\x00\x0E\x03" + struct.pack(">3I", 2**31, 2**31, 2**31)
    with pytest.raises(ValueError, match="more than max_bytes"):
        load_idx(write(tmp_path, "huge", data, gz=True))
    with pytest.raises(ValueError, match="more than max_bytes=10"):
        load_idx(write(tmp_path, "small", GOOD), max_bytes=10)


def test_idx_gzip_bomb_capped(tmp_path):
    # A 4 KB gzip that claims (and expands to) 64 MB: refused from the header, never inflated.
    data = b"\x00\x00\x08\x01" + struct.pack(">I", 64 << 20) + bytes(64 << 20)
    p = write(tmp_path, "bomb.gz", data, gz=True)
    assert p.stat().st_size < 100_000
    with pytest.raises(ValueError, match="more than max_bytes"):
        load_idx(p, max_bytes=1 << 20)


def test_idx_corrupt_gzip(tmp_path):
    blob = gzip.compress(GOOD)
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        load_idx(write(tmp_path, "cut.gz", blob[: len(blob) // 2]))
    broken = blob[:12] + bytes(b ^ 0xFF for b in blob[12:20]) + blob[20:]
    with pytest.raises(ValueError, match="(corrupt or truncated gzip|Invalid IDX)"):
        load_idx(write(tmp_path, "flip.gz", broken))


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nope.idx")


# --- mnist.load_data / load_split on a fake folder ----------------------------------------------

def fake_mnist(folder, n_train=5, n_test=3, gz=True, names=None):
    rng = np.random.default_rng(1)
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n, dtype=np.uint8)
        data[split] = (x, y)
        for kind, arr in (("images-idx3", x), ("labels-idx1", y)):
            name = f"{split}-{kind}-ubyte"
            if names == "dotted":
                name = name.replace("-idx", ".idx")
            write(folder, name + (".gz" if gz else ""), idx_bytes(arr))
    return data


@pytest.mark.parametrize("gz, names", [(True, None), (False, None), (True, "dotted")])
def test_mnist_load_data_fake_folder(tmp_path, gz, names):
    data = fake_mnist(tmp_path, gz=gz, names=names)
    (xtr, ytr), (xte, yte) = mnist.load_data(tmp_path)
    assert xtr.shape == (5, 28, 28) and xtr.dtype == np.uint8 and ytr.shape == (5,)
    assert xte.shape == (3, 28, 28) and yte.dtype == np.uint8
    np.testing.assert_array_equal(xtr, data["train"][0])
    np.testing.assert_array_equal(yte, data["t10k"][1])


def test_mnist_missing_files_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="train and test files not found") as e:
        mnist.load_data(tmp_path)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in str(e.value)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_split(tmp_path, "test")


def test_mnist_only_test_split_is_a_clear_error(tmp_path):
    fake_mnist(tmp_path)
    for name in os.listdir(tmp_path):
        if name.startswith("train"):
            os.remove(tmp_path / name)
    with pytest.raises(FileNotFoundError, match=r"Only the test split .*load_split"):
        mnist.load_data(tmp_path)
    x, y = mnist.load_split(tmp_path, "test")
    assert x.shape == (3, 28, 28) and y.shape == (3,)
    with pytest.raises(ValueError, match="`split` must be 'train' or 'test'. Received: split='val'"):
        mnist.load_split(tmp_path, "val")


def test_mnist_mismatched_counts(tmp_path):
    fake_mnist(tmp_path)
    write(tmp_path, "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="MNIST files disagree"):
        mnist.load_split(tmp_path, "test")


def test_mnist_npz(tmp_path):
    rng = np.random.default_rng(2)
    arrays = {k: rng.integers(0, 9, size=s, dtype=np.uint8) for k, s in
              (("x_train", (4, 28, 28)), ("y_train", (4,)), ("x_test", (2, 28, 28)),
               ("y_test", (2,)))}
    np.savez(tmp_path / "mnist.npz", **arrays)
    (xtr, ytr), (xte, yte) = mnist.load_data(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(xtr, arrays["x_train"])
    (xtr2, _), _ = mnist.load_data(tmp_path)  # a folder holding only mnist.npz
    np.testing.assert_array_equal(xtr2, arrays["x_train"])
    np.savez(tmp_path / "bad.npz", x_train=arrays["x_train"])
    with pytest.raises(ValueError, match="lacks the arrays"):
        mnist.load_data(tmp_path / "bad.npz")
    np.savez(tmp_path / "obj.npz", x_train=np.array([{}], dtype=object), y_train=arrays["y_train"],
             x_test=arrays["x_test"], y_test=arrays["y_test"])
    with pytest.raises(ValueError, match="pickle"):  # never unpickled
        mnist.load_data(tmp_path / "obj.npz")


# --- the real MNIST test digits (skipped where the shared folder is absent) ----------------------

needs_mnist = pytest.mark.skipif(
    not os.path.isfile(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz")),
    reason=f"MNIST test files not found in {MNIST_DIR}")


@needs_mnist
def test_real_mnist_test_split():
    x, y = mnist.load_split(MNIST_DIR, "test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.max() == 255 and x.min() == 0
    # A few pixels of the first digit (a 7): the stroke is in the middle rows, borders are empty.
    assert x[0, :5].sum() == 0 and x[0, 7:20].sum() > 10000


@needs_mnist
def test_real_mnist_load_data_explains_missing_train():
    if os.path.isfile(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz")):
        pytest.skip("this MNIST folder has the training files too")
    with pytest.raises(FileNotFoundError, match="Only the test split"):
        mnist.load_data(MNIST_DIR)


# --- synthetic ---------------------------------------------------------------------------------

@pytest.mark.parametrize("num_classes", [2, 10])
def test_synthetic_shapes_and_determinism(num_classes):
    (x, y), (xt, yt) = synthetic.load_data(n=500, num_classes=num_classes, seed=3)
    assert x.shape == (400, 28, 28, 1) and xt.shape == (100, 28, 28, 1)
    assert x.dtype == np.float32 and y.dtype == np.uint8 and y.shape == (400,)
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert set(np.unique(np.concatenate([y, yt]))) == set(range(num_classes))
    (x2, y2), _ = synthetic.load_data(n=500, num_classes=num_classes, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    (x3, _), _ = synthetic.load_data(n=500, num_classes=num_classes, seed=4)
    assert not np.array_equal(x, x3)


def test_synthetic_binary_is_parity_of_shapes():
    (_, y10), _ = synthetic.load_data(n=300, num_classes=10, seed=5)
    (_, y2), _ = synthetic.load_data(n=300, num_classes=2, seed=5)
    np.testing.assert_array_equal(y2, y10 % 2)


def test_synthetic_is_learnable():
    """Nearest class mean on the pixels beats chance by far: the labels carry image signal."""
    (x, y), (xt, yt) = synthetic.load_data(n=2000, num_classes=10, seed=0, noise=0.1)
    feats = lambda a: np.abs(np.fft.fft2(a[..., 0])).reshape(len(a), -1)  # shift-invariant
    f, ft = feats(x), feats(xt)
    means = np.stack([f[y == k].mean(0) for k in range(10)])
    pred = np.argmin(((ft[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == yt).mean() > 0.5  # chance is 0.1


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=1), r"`n` must be an integer >= 2. Received: n=1"),
    (dict(n=10.5), "`n` must be an integer"),
    (dict(num_classes=3), r"`num_classes` must be 2 or 10. Received: num_classes=3"),
    (dict(test_fraction=1.0), r"`test_fraction` must be in \(0, 1\)"),
    (dict(noise=-0.1), "`noise` must be >= 0"),
    (dict(noise=float("nan")), "`noise` must be >= 0"),
])
def test_synthetic_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        synthetic.load_data(**kwargs)
