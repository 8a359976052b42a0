"""GlobalAveragePooling2D: mean over H and W."""
from .. import _backend
from .base_global_pooling import BaseGlobalPooling2D


class GlobalAveragePooling2D(BaseGlobalPooling2D):
    """(N, H, W, C) -> (N, C) mean (``keepdims=True``: (N, 1, 1, C))."""

    def forward(self, x, training=False):
        if training:
            self._in_shape = x.shape
        return _backend.global_avg_pool2d(x, self.keepdims)

    def backward(self, dy, need_dx=True):
        self._grads = []
        return _backend.global_avg_pool2d_backward(dy, self._in_shape) if need_dx else None
