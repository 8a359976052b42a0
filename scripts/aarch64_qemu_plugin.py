"""pytest plugin for scripts/test_aarch64_qemu.sh: Hypothesis settings for a run under emulation.

qemu-user runs the suite 10-50x slower than native, so the default 200 ms Hypothesis deadline
would fail tests for the emulator's sake, and the example database would only add file traffic.
Tests that pass their own ``@settings(max_examples=...)`` keep it; the rest get
``CNNEXT_QEMU_EXAMPLES`` examples (default 10).
"""
import os

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    settings = None

if settings is not None:
    settings.register_profile(
        "cnnext-qemu",
        deadline=None,
        database=None,
        max_examples=int(os.environ.get("CNNEXT_QEMU_EXAMPLES", "10")),
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("cnnext-qemu")
