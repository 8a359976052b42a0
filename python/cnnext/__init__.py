"""cnnext: fast CPU convolutional networks from Python.

C++ kernels (SIMD with runtime dispatch + OpenMP) behind NumPy/SciPy drop-in ops
(``cnnext.ops``) and a thin Keras mirror (``cnnext.models``, ``cnnext.layers``, ...).
"""
from . import _core
from ._config import (show_config, set_num_threads, get_num_threads, get_isa, set_isa,
                      supported_isas, compiled_isas, _apply_env_isa)
from . import ops

__version__ = _core.__version__

_apply_env_isa()
del _apply_env_isa
