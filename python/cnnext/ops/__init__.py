"""NumPy/SciPy drop-in ops backed by cnnext's C++ kernels.

Array-likes in, ndarrays out; float32 stays float32, float64 stays float64, other real inputs
become float64 (see ``cnnext.ops._common``). Layout conventions follow Keras: images NHWC,
conv kernels (KH, KW, C_in, C_out), dense kernels (in, out).
"""
from ._activations import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._dense import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._signal import *  # noqa: F401,F403
from ._optim import *  # noqa: F401,F403
from ._losses import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from . import _activations, _conv, _dense, _pooling, _signal, _optim, _losses, _norm

__all__ = (_activations.__all__ + _conv.__all__ + _dense.__all__ + _pooling.__all__
           + _signal.__all__ + _optim.__all__ + _losses.__all__ + _norm.__all__)
