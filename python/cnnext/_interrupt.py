"""Make a training step atomic with respect to Ctrl-C (SIGINT).

A step mutates state in several places (batch-norm moving statistics in the forward pass, weight
decay, the fused optimizer update, the iteration counter). A ``KeyboardInterrupt`` raised between
two of them would leave a model that matches no step. Inside ``atomic()`` a SIGINT is recorded
instead of raised, and delivered (to the handler that was installed before, normally Python's
``default_int_handler``, which raises ``KeyboardInterrupt``) as soon as the block exits, so the
caller sees the interrupt right after the step that was running completes.

``guard()`` installs the deferring handler for a longer span (a whole ``fit``), so the steps inside
only flip a counter: outside ``atomic()`` blocks a SIGINT is delivered at once, inside one it waits
for the block's end. Signals are only handled on the main thread; elsewhere (and when SIGINT is
ignored or left to the OS default) both are no-ops. Context managers are classes, not generators:
they run once per training step.
"""
import signal
import threading

_installed = 0        # guard nesting depth while our handler is installed
_previous = None      # the handler ours replaced
_atomic_depth = 0
_pending = None       # (signum, frame) received inside an atomic block


def _handler(signum, frame):
    global _pending
    if _atomic_depth:
        _pending = (signum, frame)
    else:
        _previous(signum, frame)


def _deliver():
    global _pending
    if _pending is not None and not _atomic_depth:
        signum, frame = _pending
        _pending = None
        _previous(signum, frame)


def _on_main_thread():
    return threading.current_thread() is threading.main_thread()


def _install():
    """Install the deferring handler unless it is in place; True if this call installed it."""
    global _installed, _previous
    if not _on_main_thread():
        return False
    if _installed:
        _installed += 1
        return True
    previous = signal.signal(signal.SIGINT, _handler)
    if not callable(previous):  # SIG_IGN, SIG_DFL or a handler set from C: leave it be
        signal.signal(signal.SIGINT, previous)
        return False
    _previous, _installed = previous, 1
    return True


def _uninstall():
    global _installed
    _installed -= 1
    if not _installed:
        signal.signal(signal.SIGINT, _previous)
        _deliver()


class guard:
    """Install the deferring SIGINT handler for the duration of the block (re-entrant)."""

    __slots__ = ("_mine",)

    def __enter__(self):
        self._mine = _install()
        return self

    def __exit__(self, *exc):
        if self._mine:
            _uninstall()
        return False


class atomic:
    """Hold SIGINT until the block has finished (installing the handler if no `guard` did)."""

    __slots__ = ("_mine",)

    def __enter__(self):
        global _atomic_depth
        self._mine = _install()
        if self._mine:
            _atomic_depth += 1
        return self

    def __exit__(self, *exc):
        global _atomic_depth
        if self._mine:
            _atomic_depth -= 1
            try:
                _deliver()
            finally:
                _uninstall()
        return False
