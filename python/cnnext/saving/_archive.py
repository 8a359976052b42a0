"""Bytes on disk: path checks, atomic writes, and reading `.keras` zips and JSON defensively."""
import json
import os
import re
import secrets
import zipfile

METADATA, CONFIG, WEIGHTS = "metadata.json", "config.json", "model.weights.h5"
MAX_JSON_BYTES = 64 << 20  # caps on uncompressed member sizes (zip bombs)
MAX_WEIGHTS_BYTES = 4 << 30
MAX_MEMBERS = 10_000
_READ_CHUNK = 1 << 20


def _check_path(filepath, suffixes, must_exist=False):
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"`filepath` must be a str or os.PathLike. Received: "
                        f"filepath={filepath!r} of type {type(filepath).__name__}")
    path = os.fspath(filepath)
    if not str(path).endswith(suffixes):
        names = " or ".join(f"`{s}`" for s in suffixes)
        extra = (" (legacy HDF5 `.h5` models are not supported by cnnext)"
                 if str(path).endswith((".h5", ".hdf5")) and ".keras" in suffixes else "")
        raise ValueError(f"The filename must end in {names}{extra}. "
                         f"Received: filepath={path}")
    if must_exist and not os.path.isfile(path):
        raise ValueError(f"File not found: filepath={path}. Please ensure the file exists and "
                         f"is a readable {' or '.join(suffixes)} file.")
    return path


def _atomic_write(path, data, overwrite):
    """Write `data` to a temporary file in the target folder, fsync, then os.replace(), so the
    target is either the old file or the complete new one, never a partial write."""
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"File exists and overwrite=False: filepath={path}")
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 honours the umask like open(path, "wb") (mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_capped(path, cap, what):
    if os.path.getsize(path) > cap:
        raise ValueError(f"The {what} {path} is larger than the {cap} bytes allowed "
                         f"({os.path.getsize(path)} bytes).")
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"The {what} {path} is larger than the {cap} bytes allowed.")
    return data


class _KerasZip:
    """A `.keras` archive open for reading. Every member name is checked when it is opened;
    members are read in memory, one at a time and only on request, under a size cap that is
    checked against the declared size before inflating and again while inflating (zip bombs)."""

    def __init__(self, path):
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path, "r")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise ValueError(f"Invalid `.keras` file {path}: not a readable zip archive "
                             f"(truncated or another format). {type(e).__name__}: {e}") from None
        try:
            self.infos = self._check_members(self.zf.infolist())
        except BaseException:
            self.zf.close()
            raise

    def _check_members(self, infos):
        if len(infos) > MAX_MEMBERS:
            raise ValueError(f"Invalid `.keras` file {self.path}: {len(infos)} archive members "
                             f"(at most {MAX_MEMBERS} allowed).")
        members = {}
        for info in infos:
            name = info.filename
            _check_member_name(name)
            if name in members:
                raise ValueError(f"Invalid `.keras` file: duplicate archive member {name!r}.")
            if not (name.startswith("assets/") or name.endswith("/")  # Keras asset folders
                    or name in (METADATA, CONFIG, WEIGHTS)):
                raise ValueError(f"Invalid `.keras` file: unexpected archive member {name!r}. "
                                 f"Expected only {METADATA}, {CONFIG}, {WEIGHTS}.")
            members[name] = info
        return {n: i for n, i in members.items() if n in (METADATA, CONFIG, WEIGHTS)}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zf.close()
        return False

    def __contains__(self, name):
        return name in self.infos

    def size(self, name):
        """The member's declared uncompressed size."""
        return self.infos[name].file_size

    def head(self, name, n):
        """The first `n` bytes of a member (to check a signature before reading it all)."""
        return _read_member(self.zf, self.infos[name], MAX_WEIGHTS_BYTES, limit=n)

    def read(self, name, cap=None):
        if cap is None:
            cap = MAX_WEIGHTS_BYTES if name == WEIGHTS else MAX_JSON_BYTES
        return _read_member(self.zf, self.infos[name], cap)


def _check_member_name(name):
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts
            or "\x00" in name or "\\" in name):
        raise ValueError(f"Invalid `.keras` file: unsafe archive member path {name!r} "
                         "(absolute paths and '..' are not allowed).")


def _read_member(zf, info, cap, limit=None):
    if info.file_size > cap:
        raise ValueError(f"Invalid `.keras` file: archive member {info.filename!r} declares "
                         f"{info.file_size} bytes uncompressed, more than the {cap} allowed "
                         "(possible zip bomb).")
    chunks, total = [], 0
    try:
        with zf.open(info, "r") as f:
            while True:
                chunk = f.read(_READ_CHUNK if limit is None else limit - total)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:  # the header lied about the size
                    raise ValueError(f"Invalid `.keras` file: archive member {info.filename!r} "
                                     f"expands past {cap} bytes (possible zip bomb).")
                chunks.append(chunk)
                if limit is not None and total >= limit:
                    break
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
        raise ValueError(f"Invalid `.keras` file: cannot read archive member "
                         f"{info.filename!r} (truncated or corrupt). "
                         f"{type(e).__name__}: {e}") from None
    return b"".join(chunks)


def _parse_json(data, what, source="`.keras` file"):
    def no_duplicates(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ValueError(f"duplicate key {k!r}")
            obj[k] = v
        return obj

    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates,
                          parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"Invalid {source}: {what} is not valid JSON "
                         f"({type(e).__name__}: {e}).") from None
