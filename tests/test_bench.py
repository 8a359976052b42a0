"""Smoke tests of the benchmark suite's machinery on tiny shapes (no timing assertions)."""
import importlib.util
import json
import os
import sys
import types

import numpy as np
import pytest

import cnnext

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import cases, harness, model, peers, references as ref  # noqa: E402
from benchmarks.run import main, run_case  # noqa: E402

HAVE_TORCH = importlib.util.find_spec("torch") is not None
TINY_BUDGET = {"ops": harness.Budget(min_runs=2, max_runs=2, seconds=0, min_sample=0),
               "model": harness.Budget(min_runs=1, max_runs=1, seconds=0, min_sample=0)}


def tiny_sizes():
    ops = [cases.conv_case(which, 2, 6, 6, 3, 4, 3, pad)
           for which in ("fwd", "dx", "dw") for pad in ("valid", "same")]
    ops += [cases.pool_case("max", 2, 4, 4, 3), cases.pool_case("avg", 2, 5, 5, 3),
            cases.act_case("relu", (3, 5)), cases.act_case("sigmoid", (3, 5)),
            cases.act_case("leaky_relu6", (3, 5)),
            cases.act_case("softmax", (3, 5)), cases.dense_case(4, 6, 5), cases.adam_case(),
            cases.convolve2d_case(9, 3)]
    return {"ops": ops, "model": [model.model_case("predict", 32, 32), model.tiny_case(64)],
            "peak_n": 64,
            "budget": TINY_BUDGET}


# ---------------------------------------------------------------- the whole run
def test_run_without_peers_writes_json_and_table(tmp_path, capsys):
    path = tmp_path / "r.json"
    assert main(["--quick", "--no-torch", "--no-keras", "--json", str(path)], sizes=tiny_sizes()) == 0
    text = capsys.readouterr().out
    assert "ISA      :" in text and "threads  :" in text and "versions :" in text
    assert "n/a (not available: disabled by --no-torch)" in text
    assert "n/a (not available: disabled by --no-keras)" in text
    doc = json.loads(path.read_text())
    for key in ("created", "machine", "isa", "threads", "versions", "peak", "cases", "quick", "git_commit"):
        assert key in doc, key
    assert doc["peak"]["gflops"] > 0
    assert len(doc["cases"]) == len(tiny_sizes()["ops"]) + 2
    tiny = next(r for r in doc["cases"] if r["name"] == "tiny model fit step")
    res = tiny["results"]["cnnext"]
    assert res["status"] == "ok" and res["check"].startswith("val acc")
    assert tiny["unit"] == "steps/s" and res["rate"] == pytest.approx(1 / res["min_s"])
    for rec in doc["cases"]:
        for key in ("group", "name", "shape", "unit", "work", "results"):
            assert key in rec, key
        assert rec["results"]["torch"]["status"] == "unavailable"
        assert rec["results"]["keras"]["status"] == "unavailable"
        if rec["group"] != "model":
            numpy_res = rec["results"]["numpy"]
            assert numpy_res["status"] == "ok", rec
            assert numpy_res["runs"] == 2 and numpy_res["min_s"] <= numpy_res["median_s"]
            assert numpy_res["rate"] > 0
    relu = next(r for r in doc["cases"] if r["name"] == "relu")
    assert relu["results"]["cnnext"]["status"] == "ok"  # in the skeleton already
    assert "ratio_to_fastest_peer" in relu and relu["fastest_peer"] == "numpy"
    assert relu["results"]["cnnext"]["check"].startswith("max rel err")


def test_only_filters_groups_and_png(tmp_path, capsys):
    path = tmp_path / "r.json"
    isa, lowest = cnnext.get_isa(), cnnext.supported_isas()[0]
    argv = ["--quick", "--no-torch", "--no-keras", "--only", "act,pool", "--json", str(path), "--png",
            "--isa", lowest]
    assert main(argv, sizes=tiny_sizes()) == 0
    assert cnnext.get_isa() == isa
    doc = json.loads(path.read_text())
    assert {r["group"] for r in doc["cases"]} == {"act", "pool"}
    assert doc["isa"] == lowest
    out = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "r.png").stat().st_size > 0
    else:
        assert "no chart: matplotlib not installed" in out


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch not installed")
def test_run_with_torch_checks_its_results(tmp_path, capsys):
    path = tmp_path / "r.json"
    argv = ["--quick", "--no-keras", "--threads", "1", "--only", "conv,pool,act,dense,optim,signal",
            "--json", str(path)]
    before = cnnext.get_num_threads()
    assert main(argv, sizes=tiny_sizes()) == 0
    assert cnnext.get_num_threads() == before  # the run's pinning is undone
    doc = json.loads(path.read_text())
    assert doc["threads"]["torch"] == 1 and doc["threads"]["cnnext"] == 1
    for rec in doc["cases"]:
        res = rec["results"]["torch"]
        assert res["status"] == "ok", (rec["name"], rec["shape"], res)
        if rec["group"] != "optim":  # torch agrees with the NumPy references
            assert res["check"].startswith("max rel err"), rec


def test_scaling_times_every_thread_count_in_one_run(tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.json"
    sizes = dict(tiny_sizes(), scaling_reference=cases.dense_case(8, 8, 8))
    pinned = []
    real_pin = peers.pin_threads
    monkeypatch.setattr(peers, "pin_threads", lambda env, n: (pinned.append(n), real_pin(env, n)))
    before = cnnext.get_num_threads()
    argv = ["--scaling", "1,2", "--no-torch", "--only", "act,model", "--json", str(path)]
    assert main(argv, sizes=sizes) == 0
    assert cnnext.get_num_threads() == before  # the pinning is undone
    assert set(pinned) == {1, 2}
    text = capsys.readouterr().out
    assert "1 thread" in text and "2 threads" in text and "speedup over 1 thread" in text
    assert "left out by --scaling" in text  # Keras cannot change its thread count mid-run
    doc = json.loads(path.read_text())
    assert doc["scaling"]["threads"] == [1, 2] and "cases" not in doc
    recs = doc["scaling"]["cases"]
    assert {r["group"] for r in recs} == {"act", "model", "dense"}  # dense: the sgemm reference
    for rec in recs:
        assert rec["threads"] == [1, 2]
        if rec["group"] == "model":
            assert set(rec["results"]["cnnext"]) == {"1", "2"}
            continue
        for impl in ("cnnext", "numpy"):
            per = rec["results"][impl]
            assert per["1"]["status"] == per["2"]["status"] == "ok", rec
            assert rec["speedup"][impl]["1"] == 1.0
            assert rec["speedup"][impl]["2"] == pytest.approx(per["1"]["min_s"] / per["2"]["min_s"])
        assert set(rec["ratio_to_fastest_peer"]) == {"1", "2"}


def test_bad_arguments_are_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["--only", "conv,bogus"])
    assert "--only must name groups among" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--threads", "0"])
    for bad in (["--scaling", "0,2"], ["--scaling", "1,1"], ["--scaling", "one"],
                ["--scaling", "1,2", "--threads", "2"]):
        with pytest.raises(SystemExit):
            main(bad)
        assert "--scaling" in capsys.readouterr().err
    assert main(["--isa", "no-such-isa", "--no-torch", "--no-keras"]) == 2


# ---------------------------------------------------------------- cnnext stand-ins
def fake_env(**ops):
    env = peers.setup(want_torch=False, want_keras=False)
    env.ops = types.SimpleNamespace(**ops)
    return env


def conv_fwd_case():
    return cases.conv_case("fwd", 2, 5, 5, 2, 3, 3, "same")


def test_not_implemented_is_reported_not_raised():
    def conv2d(x, kernel, strides=1, padding="valid"):
        raise NotImplementedError("conv2d lands later")
    res = run_case(conv_fwd_case(), fake_env(conv2d=conv2d), TINY_BUDGET["ops"])
    assert res["cnnext"].status == "unavailable"
    assert "NotImplementedError: conv2d lands later" in res["cnnext"].reason
    assert res["numpy"].status == "ok"


def test_a_correct_stand_in_is_timed_and_a_wrong_one_fails():
    good = run_case(conv_fwd_case(), fake_env(conv2d=lambda inputs, kernel, padding: ref.conv2d(
        inputs, kernel, padding)), TINY_BUDGET["ops"])
    assert good["cnnext"].status == "ok" and good["cnnext"].runs == 2
    bad = run_case(conv_fwd_case(), fake_env(conv2d=lambda x, kernel, padding: ref.conv2d(
        x, kernel, padding) + 1), TINY_BUDGET["ops"])
    assert bad["cnnext"].status == "failed"
    assert "differs from the NumPy reference" in bad["cnnext"].reason
    raising = run_case(conv_fwd_case(), fake_env(conv2d=lambda x, kernel: 1 / 0), TINY_BUDGET["ops"])
    assert raising["cnnext"].status == "failed" and "ZeroDivisionError" in raising["cnnext"].reason


def test_adam_stand_in_is_verified_against_the_formula():
    def adam(variable, gradient, m, v, step, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        alpha = learning_rate * np.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
        m += (gradient - m) * (1 - beta_1)
        v += (gradient * gradient - v) * (1 - beta_2)
        variable -= alpha * m / (np.sqrt(v) + epsilon)
    res = run_case(cases.adam_case(), fake_env(adam=adam), TINY_BUDGET["ops"])
    assert res["cnnext"].status == "ok", res["cnnext"].reason
    res = run_case(cases.adam_case(), fake_env(adam=lambda variable, gradient, m, v, step: None),
                   TINY_BUDGET["ops"])
    assert res["cnnext"].status == "failed" and "differ from the NumPy formula" in res["cnnext"].reason


# ---------------------------------------------------------------- harness pieces
def test_measure_interleaves_and_drops_warmup():
    calls = []
    impls = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b"),
             "c": harness.Unavailable("c is missing")}
    res = harness.measure(impls, harness.Budget(min_runs=3, max_runs=3, seconds=0, min_sample=0,
                                                settle=0))
    assert calls == ["a", "b"] * 4  # one warm-up each, then three rounds in turn
    assert res["a"].runs == 3 and res["b"].runs == 3
    assert res["c"].status == "unavailable" and res["c"].reason == "c is missing"


def test_measure_runs_before_hooks_ahead_of_each_turn():
    calls = []
    impls = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    before = {"a": lambda: calls.append("pin a")}
    harness.measure(impls, harness.Budget(min_runs=2, max_runs=2, seconds=0, min_sample=0,
                                          settle=0), before=before)
    assert calls == ["pin a", "a", "b"] * 3  # warm-up and two rounds, each turn of a pinned first


def test_measure_settles_before_each_sample():
    calls = []
    impls = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    harness.measure(impls, harness.Budget(min_runs=2, max_runs=2, seconds=0, min_sample=0,
                                          settle=1e-3))
    # warm-up a, b; then per round: a untimed until settled (>= 1 call), a timed, same for b
    assert calls[:2] == ["a", "b"]
    runs = [(k, len(list(g))) for k, g in __import__("itertools").groupby(calls[2:])]
    assert [k for k, _ in runs] == ["a", "b", "a", "b"]
    assert all(n >= 2 for _, n in runs)


def test_bind_maps_parameter_names():
    def dense(a, b, bias=None):
        return a, b, bias
    assert harness.bind(dense, "dense", x=1, kernel=2)() == (1, 2, None)

    def backprop(out_backprop, filters, input_sizes, strides=1, padding="valid", data_format=None):
        return out_backprop, filters, input_sizes, padding
    bound = harness.bind(backprop, "bp", dy=1, kernel=2, input_shape=3, padding="same")
    assert bound() == (1, 2, 3, "same")
    with pytest.raises(harness.Unavailable, match="cannot map required parameter 'mystery'"):
        harness.bind(lambda x, mystery: None, "f", x=1)
    with pytest.raises(harness.Unavailable, match="no m.foo"):
        harness.resolve(types.SimpleNamespace(), ("foo",), "m")


# ---------------------------------------------------------------- the NumPy references
def direct_conv(x, k, padding):
    kh, kw, c, f = k.shape
    xp = np.pad(x, ((0, 0), ref.same_pads(kh), ref.same_pads(kw), (0, 0))) if padding == "same" else x
    oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    y = np.zeros((x.shape[0], oh, ow, f))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nhwc,cf->nhwf", xp[:, i:i + oh, j:j + ow], k[i, j])
    return y


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k", [(3, 3), (2, 4)])
def test_conv_references_are_adjoint(padding, k):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 7, 6, 3))
    w = rng.standard_normal(k + (3, 4))
    y = ref.conv2d(x, w, padding)
    np.testing.assert_allclose(y, direct_conv(x, w, padding), rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dx = ref.conv2d_backprop_input(dy, w, x.shape, padding)
    dw = ref.conv2d_backprop_kernel(x, dy, w.shape, padding)
    assert dx.shape == x.shape and dw.shape == w.shape
    # <conv(x, w), dy> = <x, dX(dy)> = <w, dW(dy)>: the backward ops are the forward's adjoints.
    np.testing.assert_allclose(np.vdot(dx, x), np.vdot(y, dy), rtol=1e-10)
    np.testing.assert_allclose(np.vdot(dw, w), np.vdot(y, dy), rtol=1e-10)


def test_other_references():
    x = np.arange(2 * 4 * 4 * 2, dtype=np.float32).reshape(2, 4, 4, 2) - 10
    np.testing.assert_array_equal(ref.max_pool2d(x)[0, 0, 0], np.maximum.reduce(
        [x[0, 0, 0], x[0, 0, 1], x[0, 1, 0], x[0, 1, 1]]))
    np.testing.assert_allclose(ref.avg_pool2d(x)[1, 1, 1], x[1, 2:4, 2:4].mean(axis=(0, 1)))
    s = ref.softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]]))
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    np.testing.assert_allclose(s[1], 1 / 3)
    st = ref.AdamState([(3,)], dtype=np.float64)
    p0, g = st.params[0].copy(), st.grads[0].copy()
    ref.adam(st, lr=0.1)
    # Keras's first step: lr * g / (|g| + eps / sqrt(1 - beta2)), i.e. about lr * sign(g).
    np.testing.assert_allclose(st.params[0], p0 - 0.1 * g / (np.abs(g) + 1e-7 / np.sqrt(0.001)),
                               rtol=1e-12)


def test_failures_during_timed_runs_are_reported():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("third call breaks")
    res = harness.measure({"f": flaky, "g": lambda: None},
                          harness.Budget(min_runs=4, max_runs=4, seconds=0, min_sample=0))
    assert res["f"].status == "failed" and "RuntimeError: third call breaks" in res["f"].reason
    assert res["g"].status == "ok" and res["g"].runs == 4
