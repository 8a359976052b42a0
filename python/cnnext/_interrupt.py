"""Make a training step atomic with respect to Ctrl-C (SIGINT).

A step mutates state in several places (batch-norm moving statistics in the forward pass, weight
decay, the fused optimizer update, the iteration counter). A ``KeyboardInterrupt`` raised between
two of them would leave a model that matches no step. Inside ``atomic()`` a SIGINT is recorded
instead of raised, and delivered (to the handler that was installed before, normally Python's
``default_int_handler``, which raises ``KeyboardInterrupt``) as soon as the block exits, so the
caller sees the interrupt right after the step that was running completes.

``guard()`` installs the deferring handler for a longer span (a whole ``fit``): outside
``atomic()`` blocks a SIGINT is delivered at once, inside one it waits for the block's end.
Signals can only be handled on the main thread; elsewhere (and when SIGINT is ignored or left to
the OS default) both are no-ops.
"""
import contextlib
import signal
import threading

_installed = 0        # guard() nesting depth while our handler is installed
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


@contextlib.contextmanager
def guard():
    """Install the deferring SIGINT handler for the duration of the block (re-entrant)."""
    global _installed, _previous
    if _installed:
        _installed += 1
        try:
            yield
        finally:
            _installed -= 1
        return
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if on_main else None
    if not callable(previous):  # another thread, SIG_IGN, SIG_DFL or a handler set from C
        yield
        return
    _previous = previous
    signal.signal(signal.SIGINT, _handler)
    _installed = 1
    try:
        yield
    finally:
        _installed = 0
        signal.signal(signal.SIGINT, previous)
        _deliver()


@contextlib.contextmanager
def atomic():
    """Hold SIGINT until the block has finished (installing the handler if `guard` did not)."""
    global _atomic_depth
    if threading.current_thread() is not threading.main_thread():
        yield  # signals only ever run on the main thread: nothing to defer here
        return
    with guard():
        _atomic_depth += 1
        try:
            yield
        finally:
            _atomic_depth -= 1
            if _installed:
                _deliver()
