"""Build/runtime configuration: ISA dispatch, thread control, show_config."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import cnnext


def test_show_config_reports_isa_and_threads():
    buf = io.StringIO()
    cnnext.show_config(file=buf)
    text = buf.getvalue()
    assert f"cnnext {cnnext.__version__}" in text
    assert f"isa         : {cnnext.get_isa()}" in text
    assert "openmp" in text and "threads" in text
    for isa in cnnext.compiled_isas():
        assert isa in text


def test_isa_lists_are_consistent():
    supported = cnnext.supported_isas()
    assert supported[0] == "scalar"
    assert set(supported) <= set(cnnext.compiled_isas())
    assert cnnext.get_isa() in supported


def test_set_isa_rejects_unknown_and_unsupported():
    with pytest.raises(ValueError, match="`name` must be one of"):
        cnnext.set_isa("avx1024")
    with pytest.raises(TypeError, match="must be a string"):
        cnnext.set_isa(3)


def test_set_isa_round_trip():
    prev = cnnext.get_isa()
    try:
        for isa in cnnext.supported_isas():
            cnnext.set_isa(isa)
            assert cnnext.get_isa() == isa
    finally:
        cnnext.set_isa(prev)


def _run(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e)


@pytest.mark.parametrize("isa", cnnext.supported_isas())
def test_env_isa_forces_level(isa):
    r = _run("import cnnext; print(cnnext.get_isa())", CNNEXT_ISA=isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == isa


def test_env_isa_unknown_is_a_clear_error():
    r = _run("import cnnext", CNNEXT_ISA="avx9000")
    assert r.returncode != 0
    assert "CNNEXT_ISA must be one of" in r.stderr


def test_set_num_threads():
    cnnext.set_num_threads(None)
    default = cnnext.get_num_threads()
    try:
        cnnext.set_num_threads(1)
        assert cnnext.get_num_threads() == 1
        x = np.linspace(-1, 1, 100_001, dtype=np.float32)
        np.testing.assert_array_equal(cnnext.ops.relu(x), np.maximum(x, 0))
    finally:
        cnnext.set_num_threads(None)
    assert cnnext.get_num_threads() == default
    with pytest.raises(ValueError, match="must be a positive int"):
        cnnext.set_num_threads(0)
    with pytest.raises(TypeError, match="must be a positive int"):
        cnnext.set_num_threads(1.5)


def test_omp_num_threads_env_limits_threads():
    r = _run("import cnnext; print(cnnext.get_num_threads())", OMP_NUM_THREADS="1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


def test_threadpoolctl_limits_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not cnnext._core.openmp_enabled():
        pytest.skip("single-threaded build")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert cnnext.get_num_threads() == 1
