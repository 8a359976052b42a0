"""GlobalMaxPooling2D: maximum over H and W."""
from .. import _backend
from .base_global_pooling import BaseGlobalPooling2D


class GlobalMaxPooling2D(BaseGlobalPooling2D):
    """(N, H, W, C) -> (N, C) maximum (``keepdims=True``: (N, 1, 1, C))."""

    def forward(self, x, training=False):
        if training:
            self._x = x
        return _backend.global_max_pool2d(x, self.keepdims)

    def backward(self, dy, need_dx=True):
        self._grads = []
        x, self._x = self._x, None
        return _backend.global_max_pool2d_backward(dy, x) if need_dx else None
