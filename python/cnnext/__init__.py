"""cnnext: fast CPU convolutional networks from Python.

C++ kernels (SIMD with runtime dispatch + OpenMP) behind NumPy/SciPy drop-in ops
(``cnnext.ops``) and a thin Keras mirror (``cnnext.models``, ``cnnext.layers``, ...), so both
``from cnnext.layers import Conv2D`` and ``import cnnext as keras`` work.
"""
from . import _core
from ._config import (show_config, set_num_threads, get_num_threads, get_isa, set_isa,
                      supported_isas, compiled_isas, _apply_env_isa)
from . import ops
from . import (activations, callbacks, datasets, initializers, layers, losses, metrics, models,
               optimizers, saving, utils)

__version__ = _core.__version__

_apply_env_isa()
del _apply_env_isa

# Keras's top-level names (keras.Input, keras.Sequential, ...), resolved from their modules.
_TOP_LEVEL = {
    "Input": "layers",
    "InputLayer": "layers",
    "Sequential": "models",
    "Model": "models",
    "load_model": "saving",
}


def __getattr__(name):
    module = _TOP_LEVEL.get(name)
    if module is not None:
        mod = globals()[module]
        if hasattr(mod, name):
            return getattr(mod, name)
    raise AttributeError(f"module 'cnnext' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_TOP_LEVEL))
