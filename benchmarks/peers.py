"""What is installed, at which version, on which CPU, with how many threads.

Every peer is optional except NumPy: a missing one becomes a reason string that the table prints
as "n/a (not available: ...)". Keras 3 needs a backend; when ``KERAS_BACKEND`` is unset and
TensorFlow is missing, the suite uses JAX or PyTorch as Keras's backend (and says so).
"""
import importlib
import importlib.util
import os
import platform
import sys

import numpy as np

__all__ = ["Env", "setup", "pin_threads"]


class Env:
    """Imported modules (or None) and why each missing one is missing."""

    def __init__(self):
        self.cnnext = self.ops = self.torch = self.keras = self.scipy_signal = self.tpc = None
        self.missing = {}
        self.versions = {"python": sys.version.split()[0], "numpy": np.__version__}
        self.threads = {}
        self.isa = self.isa_best = None
        self.openmp = []  # OpenMP runtimes loaded in this process (threadpoolctl)
        self._undo = []
        self._limits = None  # keeps a threadpoolctl limit alive for the whole run
        self._undo_threads = False  # pin_threads has recorded how to undo itself

    def restore(self):
        """Undo setup's thread and ISA settings (for callers that keep the process going)."""
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None
        for _, undo in reversed(self._undo):
            undo()
        self._undo = []
        self._undo_threads = False

    def reason(self, peer):
        return self.missing.get(peer, f"{peer} not installed")


def _import(env, key, module):
    try:
        mod = importlib.import_module(module)
    except Exception as e:  # ImportError, or a broken install raising anything else
        env.missing[key] = f"{module} not installed" if isinstance(e, ModuleNotFoundError) \
            else f"import {module} failed: {type(e).__name__}: {e}"
        return None
    env.versions[key] = getattr(mod, "__version__", "?")
    return mod


def _keras(env, want_keras):
    if not want_keras:
        env.missing["keras"] = "disabled by --no-keras"
        return None
    if importlib.util.find_spec("keras") is None:
        env.missing["keras"] = "keras not installed"
        return None
    if not os.environ.get("KERAS_BACKEND") and importlib.util.find_spec("tensorflow") is None:
        for backend in ("jax", "torch"):
            if importlib.util.find_spec(backend) is not None:
                os.environ["KERAS_BACKEND"] = backend
                break
    keras = _import(env, "keras", "keras")
    if keras is not None:
        backend = keras.backend.backend()
        env.versions["keras"] = f"{keras.__version__} ({backend} backend)"
        if backend == "tensorflow":
            import tensorflow as tf
            env.versions["tensorflow"] = tf.__version__
    return keras


def cpu_model():
    """'model name' from /proc/cpuinfo, with the family/model numbers (VMs often hide the name)."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in info:
                    info[key] = value.strip()
                if not line.strip() and info:
                    break
    except OSError:
        pass
    name = info.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in info:
        name += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    return name


def setup(threads=None, isa=None, want_torch=True, want_keras=True):
    """Import everything, pin threads and ISA. Raises ValueError for an ISA this CPU lacks."""
    env = Env()
    # PyTorch first: its wheel bundles a libgomp with the same soname as the system's, and the
    # first one loaded serves the whole process. Loaded after cnnext, PyTorch runs on the system
    # libgomp, where (GCC 12, default wait policy, busy machine) its small parallel regions were
    # measured ~1000x slower (fused Adam 0.1 ms -> 130 ms). Torch first = what a PyTorch user gets.
    if want_keras and threads == 1 and "XLA_FLAGS" not in os.environ:  # Keras on JAX: 1 XLA thread
        os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    if want_torch:
        env.torch = _import(env, "torch", "torch")
    else:
        env.missing["torch"] = "disabled by --no-torch"
    env.keras = _keras(env, want_keras)
    env.cnnext = _import(env, "cnnext", "cnnext")
    if env.cnnext is not None:
        env.ops = env.cnnext.ops
        if isa is not None:
            prev = env.cnnext.get_isa()
            env.cnnext.set_isa(isa)  # ValueError with the supported list when not possible
            env._undo.append(("isa", lambda: env.cnnext.set_isa(prev)))
        env.isa = env.cnnext.get_isa()
        env.isa_best = env.cnnext.supported_isas()[-1]
    sig = _import(env, "scipy", "scipy")
    if sig is not None:
        env.scipy_signal = importlib.import_module("scipy.signal")
    env.tpc = _import(env, "threadpoolctl", "threadpoolctl")
    if threads is not None:
        pin_threads(env, threads)
    _record_threads(env)
    return env


def pin_threads(env, threads):
    """Pin cnnext, PyTorch and the BLAS/OpenMP pools threadpoolctl knows to ``threads``.

    May be called again with another count (the scaling run does, before each timed turn); the
    first call records the settings that ``env.restore()`` puts back."""
    if not env._undo_threads:
        env._undo_threads = True
        if env.torch is not None:  # read before any change: it follows the OpenMP setting
            prev_torch = env.torch.get_num_threads()
            env._undo.append(("torch", lambda: env.torch.set_num_threads(prev_torch)))
        if env.cnnext is not None:
            env._undo.append(("cnnext", lambda: env.cnnext.set_num_threads(None)))
    if env.tpc is not None:
        if env._limits is None:  # keeps the original limits for restore()
            env._limits = env.tpc.threadpool_limits(limits=threads)
        else:
            env.tpc.threadpool_limits(limits=threads)
    if env.cnnext is not None:
        env.cnnext.set_num_threads(threads)
    if env.torch is not None:
        env.torch.set_num_threads(threads)


def _record_threads(env):
    t = env.threads
    t["cpus"] = os.cpu_count()
    if env.cnnext is not None:
        t["cnnext"] = env.cnnext.get_num_threads()
    if env.torch is not None:
        t["torch"] = env.torch.get_num_threads()
    if env.tpc is not None:
        for lib in env.tpc.threadpool_info():
            if lib.get("user_api") == "blas":
                t.setdefault("blas", f"{lib['num_threads']} ({lib.get('internal_api')})")
            elif lib.get("user_api") == "openmp":
                env.openmp.append(lib.get("filepath"))


def describe(env):
    """Lines for the report header."""
    v = env.versions
    t = env.threads
    libs = ", ".join(f"{k} {v[k]}" for k in ("cnnext", "numpy", "scipy", "torch", "keras",
                                            "tensorflow", "threadpoolctl") if k in v)
    thr = ", ".join(f"{k} {t[k]}" for k in ("cnnext", "blas", "torch") if k in t)
    lines = [
        f"CPU      : {cpu_model()} ({t['cpus']} logical CPUs), {platform.system()} {platform.machine()}",
        f"ISA      : {env.isa or 'n/a'} (best on this CPU: {env.isa_best or 'n/a'})",
        f"threads  : {thr}",
        f"versions : python {v['python']}, {libs}",
    ]
    if env.openmp:
        lines.append(f"OpenMP   : {', '.join(env.openmp)}")
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()
        lines.append("load avg : %.2f %.2f %.2f (1, 5, 15 min)" % load)
        if load[0] > (t["cpus"] or 1):
            lines.append(f"warning  : the machine is busy (load {load[0]:.1f} on {t['cpus']} CPUs): "
                         "multi-threaded timings wait for CPU time; --threads 1 is steadier")
    return lines
