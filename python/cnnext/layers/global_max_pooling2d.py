"""GlobalMaxPooling2D: maximum over H and W."""
from .. import _backend
from .base_global_pooling import BaseGlobalPooling2D


class GlobalMaxPooling2D(BaseGlobalPooling2D):
    """(N, H, W, C) -> (N, C) maximum (``keepdims=True``: (N, 1, 1, C))."""

    def _pool(self, x, window, training):
        y, argmax = _backend.max_pool2d_with_argmax(x, window, window, "valid")
        if training:
            self._in_shape, self._argmax = x.shape, argmax
        return y

    def _unpool(self, dy, window):
        argmax, self._argmax = self._argmax, None
        return _backend.max_pool2d_backward(dy, argmax, self._in_shape)
