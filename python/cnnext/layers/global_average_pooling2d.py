"""GlobalAveragePooling2D: mean over H and W."""
from .. import _backend
from .base_global_pooling import BaseGlobalPooling2D


class GlobalAveragePooling2D(BaseGlobalPooling2D):
    """(N, H, W, C) -> (N, C) mean (``keepdims=True``: (N, 1, 1, C))."""

    def _pool(self, x, window, training):
        if training:
            self._in_shape = x.shape
        return _backend.avg_pool2d(x, window, window, "valid")

    def _unpool(self, dy, window):
        return _backend.avg_pool2d_backward(dy, self._in_shape, window, window, "valid")
