"""Reader for IDX files (the format of the MNIST distribution), raw or gzip-compressed."""
import gzip
import math
import os
import zlib

import numpy as np

__all__ = ["load_idx"]

# IDX type byte -> big-endian NumPy dtype (Y. LeCun's MNIST page).
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
MAX_BYTES = 1 << 31  # default cap on the decoded size of one file (2 GiB)


def load_idx(path, max_bytes=MAX_BYTES):
    """Read an IDX file (raw, or gzip-compressed whatever its name) into a NumPy array.

    Header: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    uint32; the data follows in C order, big-endian.

    Args:
        path: `str` or `os.PathLike` of the file.
        max_bytes: refuse files whose data would exceed this many bytes (guards against
            corrupt headers and gzip bombs).
    Returns:
        A C-contiguous array in native byte order, e.g. `(10000, 28, 28)` uint8 for MNIST images.
    Raises:
        FileNotFoundError if `path` does not exist; ValueError for a malformed file (bad magic,
        unknown type, size that disagrees with the header, truncated or corrupt gzip).
    """
    path = os.fspath(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        f = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            return _read(f, path, max_bytes, None if compressed else os.fstat(raw.fileno()).st_size)
        except (OSError, EOFError, zlib.error) as e:
            if not compressed:
                raise
            raise ValueError(f"Invalid IDX file {path}: corrupt or truncated gzip data "
                             f"({type(e).__name__}: {e}).") from None


def _read(f, path, max_bytes, file_size):
    head = f.read(4)
    if len(head) < 4:
        raise ValueError(f"Invalid IDX file {path}: {len(head)} bytes, shorter than the 4-byte "
                         "header (truncated).")
    if head[0] != 0 or head[1] != 0:
        raise ValueError(f"Invalid IDX file {path}: the magic number must start with two zero "
                         f"bytes. Received: {head.hex()}")
    dtype = _DTYPES.get(head[2])
    if dtype is None:
        raise ValueError(f"Invalid IDX file {path}: unknown data type byte 0x{head[2]:02X}; "
                         f"expected one of {', '.join(f'0x{k:02X}' for k in _DTYPES)}.")
    ndim = head[3]
    if ndim == 0:
        raise ValueError(f"Invalid IDX file {path}: the header declares 0 dimensions.")
    dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise ValueError(f"Invalid IDX file {path}: header declares {ndim} dimensions but the "
                         "file ends inside the dimension list (truncated).")
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise ValueError(f"Invalid IDX file {path}: header shape {shape} of {dtype.name} needs "
                         f"{nbytes} bytes, more than max_bytes={max_bytes}.")
    header = 4 + 4 * ndim
    if file_size is not None and file_size != header + nbytes:
        what = "truncated" if file_size < header + nbytes else "trailing bytes after the data"
        raise ValueError(f"Invalid IDX file {path}: header shape {shape} of {dtype.name} needs "
                         f"{header + nbytes} bytes but the file has {file_size} ({what}).")
    data = _read_exactly(f, nbytes, path, shape)
    if f.read(1):
        raise ValueError(f"Invalid IDX file {path}: trailing bytes after the {nbytes} bytes of "
                         f"data for shape {shape}.")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_exactly(f, n, path, shape):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = f.readinto(view[got:got + _CHUNK])
        if not k:
            raise ValueError(f"Invalid IDX file {path}: header shape {shape} needs {n} data "
                             f"bytes but only {got} are present (truncated).")
        got += k
    return buf
