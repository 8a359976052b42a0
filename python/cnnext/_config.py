"""Build and runtime configuration: ISA level, OpenMP threads, ``show_config``."""
import os
import sys

from . import _core

__all__ = ["show_config", "set_num_threads", "get_num_threads", "get_isa", "set_isa",
           "supported_isas", "compiled_isas"]


def _apply_env_isa():
    """Honour ``CNNEXT_ISA`` at import, with a clear error for values we cannot use."""
    want = os.environ.get("CNNEXT_ISA")
    if not want:
        return
    if want not in _core.compiled_isas() and want not in ("base", "portable"):
        raise ValueError(
            f"CNNEXT_ISA must be one of {_core.compiled_isas()}. Received: CNNEXT_ISA={want!r}")
    if want in _core.compiled_isas() and want not in _core.supported_isas():
        raise ValueError(
            f"CNNEXT_ISA={want!r} is not supported by this CPU; supported: {_core.supported_isas()}")
    _core.set_isa(want)


def get_isa():
    """The SIMD level kernels run with now: 'avx512', 'avx2', 'sse2'/'neon' or 'scalar'."""
    return _core.active_isa()


def set_isa(name=None):
    """Force a SIMD level at or below the best this CPU supports (``None``: the best)."""
    if name is None:
        name = _core.detected_isa()
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string or None. Received: name={name!r}")
    if name not in _core.supported_isas():
        raise ValueError(
            f"`name` must be one of {_core.supported_isas()} on this CPU. Received: name={name!r}")
    _core.set_isa(name)


def supported_isas():
    """ISA levels this CPU can run, lowest first."""
    return list(_core.supported_isas())


def compiled_isas():
    """ISA levels compiled into this build, lowest first."""
    return list(_core.compiled_isas())


def set_num_threads(n=None):
    """Limit the OpenMP threads cnnext's kernels use. ``None`` restores the default
    (``OMP_NUM_THREADS`` or the core count); ``threadpoolctl`` limits apply on top."""
    if n is None:
        _core.set_num_threads(0)
        return
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"`n` must be a positive int or None. Received: n={n!r}")
    if n < 1:
        raise ValueError(f"`n` must be a positive int or None. Received: n={n}")
    _core.set_num_threads(n)


def get_num_threads():
    """Threads the next cnnext op will use."""
    return _core.get_num_threads()


def show_config(file=None):
    """Print the version, the ISA in use and those compiled in, and the threading setup."""
    from . import __version__
    lines = [
        f"cnnext {__version__}",
        f"  python      : {sys.version.split()[0]} ({sys.platform})",
        f"  isa         : {get_isa()} (best on this CPU: {_core.detected_isa()})",
        f"  compiled    : {', '.join(compiled_isas())}",
        f"  supported   : {', '.join(supported_isas())}",
        f"  openmp      : {'on' if _core.openmp_enabled() else 'off (single-threaded build)'}",
        f"  threads     : {get_num_threads()}",
    ]
    print("\n".join(lines), file=file or sys.stdout)
