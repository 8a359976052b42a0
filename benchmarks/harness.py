"""Timing machinery: interleaved runs (A, B, A, B, ...), warm-up dropped, min and median kept.

An implementation is a zero-argument callable. Anything that cannot run (a peer not installed, a
cnnext function not written yet or raising NotImplementedError) is reported, never fatal.
"""
import inspect
import math
import statistics
import time
from dataclasses import dataclass, field

__all__ = ["Unavailable", "Failed", "Budget", "Result", "param_map", "call_with", "bind", "measure",
           "resolve"]


class Unavailable(Exception):
    """This implementation cannot run here; str(self) says why (shown as 'n/a (not available: ...)')."""


class Failed(Exception):
    """This implementation ran but raised or returned a wrong result (shown as 'n/a (failed: ...)')."""


@dataclass
class Budget:
    """How long to measure one case: at least `min_runs` timed rounds, then more while the case has
    used less than `seconds` (and fewer than `max_runs` rounds). A call shorter than `min_sample`
    is repeated inside one sample (timeit style); an implementation whose warm-up took longer than
    `slow` gets `min(min_runs, 2)` rounds only. Before each timed sample the implementation runs
    untimed for `settle` seconds (at least once): when implementations take turns, another
    library's thread pool (OpenBLAS, libgomp) is still spinning on the cores after its own call, and
    the first thread wake-up that follows it waits a scheduler tick (~4 ms on 2 cores, measured).
    Settling charges that hand-over to nobody instead of to whoever runs next."""
    min_runs: int = 5
    max_runs: int = 30
    seconds: float = 3.0
    min_sample: float = 2e-3
    slow: float = 5.0
    settle: float = 0.01


@dataclass
class Result:
    status: str = "ok"  # ok | unavailable | failed | skipped
    reason: str = ""
    min_s: float = math.nan
    median_s: float = math.nan
    runs: int = 0
    number: int = 1
    samples: list = field(default_factory=list)
    check: str = ""

    def to_json(self):
        d = {"status": self.status}
        if self.reason:
            d["reason"] = self.reason
        if self.status == "ok":
            d.update(min_s=self.min_s, median_s=self.median_s, runs=self.runs, number=self.number)
        if self.check:
            d["check"] = self.check
        return d


# Parameter names a cnnext function may use for each value the suite passes (first match wins).
ALIASES = {
    "x": ("x", "inputs", "input", "images", "a", "data", "value"),
    "kernel": ("kernel", "k", "w", "weight", "weights", "filters", "filter", "b"),
    "bias": ("bias",),
    "dy": ("dy", "grad", "grad_output", "output_gradient", "out_backprop", "dout", "d_out",
           "gy", "upstream", "grad_y", "dy_"),
    "input_shape": ("input_shape", "x_shape", "input_sizes", "input_size", "inputs_shape"),
    "kernel_shape": ("kernel_shape", "filter_shape", "filter_sizes", "w_shape", "kernel_sizes"),
    "strides": ("strides", "stride"),
    "padding": ("padding",),
    "pool_size": ("pool_size", "ksize", "window_shape", "window", "pool"),
    "axis": ("axis", "dim"),
    "in1": ("in1", "image", "x", "input", "a"),
    "in2": ("in2", "kernel", "k", "b", "filter", "weights"),
    "mode": ("mode",),
    "param": ("variable", "param", "params", "variables", "p", "var", "w", "weights", "x"),
    "grad": ("gradient", "grad", "g", "grads"),
    "m": ("m", "ms", "exp_avg", "exp_avgs", "momentum", "first_moment", "m1"),
    "v": ("v", "vs", "velocity", "exp_avg_sq", "exp_avg_sqs", "second_moment", "m2"),
    "step": ("step", "t", "iteration", "iterations", "count"),
    "lr": ("learning_rate", "lr", "alpha"),
    "beta1": ("beta_1", "beta1", "b1"),
    "beta2": ("beta_2", "beta2", "b2"),
    "eps": ("epsilon", "eps"),
}


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def param_map(fn, name, keys):
    """Which parameter of ``fn`` receives each of the suite's value ``keys`` (see ALIASES):
    key -> (parameter name, positional only?). Each key binds to the first parameter named like
    it. Raises Unavailable when a required parameter would get no value."""
    sig = _signature(fn)
    if sig is None:
        raise Unavailable(f"{name} has no inspectable signature")
    params = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    bound = {}
    for key in keys:
        aliases = ALIASES.get(key, (key,))
        for p in params:
            if p.name in aliases and p.name not in {b[0] for b in bound.values()}:
                bound[key] = (p.name, p.kind is p.POSITIONAL_ONLY)
                break
    taken = {b[0] for b in bound.values()}
    for p in params:
        if p.name not in taken and p.default is p.empty:
            raise Unavailable(f"cannot map required parameter {p.name!r} of {name}{sig}")
    return bound


def call_with(fn, mapping, values):
    """Call ``fn`` with ``values`` (key -> value) placed by ``mapping`` from ``param_map``."""
    args = [values[k] for k, (_, pos) in mapping.items() if pos]
    return fn(*args, **{p: values[k] for k, (p, pos) in mapping.items() if not pos})


def bind(fn, name, **values):
    """``fn`` with the suite's values bound to its parameters by name: a zero-argument callable.

    Optional parameters the suite does not know keep their defaults; values ``fn`` has no
    parameter for are dropped; Unavailable when a required parameter gets no value."""
    mapping = param_map(fn, name, values)
    args = [values[k] for k, (_, pos) in mapping.items() if pos]
    kwargs = {p: values[k] for k, (p, pos) in mapping.items() if not pos}
    return lambda: fn(*args, **kwargs)


def resolve(module, names, label):
    """The first attribute of ``module`` among ``names`` (a cnnext function), else Unavailable."""
    if module is None:
        raise Unavailable(f"{label} not importable")
    for n in names:
        fn = getattr(module, n, None)
        if callable(fn):
            return n, fn
    raise Unavailable(f"no {label}.{names[0]}" + (f" (nor {', '.join(names[1:])})" if names[1:] else ""))


def _call(fn):
    try:
        return fn()
    except NotImplementedError as e:
        raise Unavailable(f"NotImplementedError{': ' + str(e) if str(e) else ''}") from None
    except (Unavailable, Failed):
        raise
    except Exception as e:  # a bug in the implementation or in the suite's call: report, go on
        msg = str(e).splitlines()[0] if str(e) else ""
        raise Failed(f"{type(e).__name__}: {msg[:160]}") from None


def _settle(fn, seconds):
    end = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < end:
        fn()


def _sample(fn, number):
    t = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t) / number


def _warm_up(name, fn, check, before=None):
    """One dropped call; returns (Result, seconds) — status ok, or why the implementation is out."""
    if isinstance(fn, Exception):
        return Result("unavailable" if isinstance(fn, Unavailable) else "failed", str(fn)), None
    try:
        if before is not None:
            before()
        t = time.perf_counter()
        out = _call(fn)
        seconds = time.perf_counter() - t
        note = check(out) if check else ""
    except Unavailable as e:
        return Result("unavailable", str(e)), None
    except Failed as e:
        return Result("failed", str(e)), None
    return Result(check=note or ""), seconds


def measure(impls, budget, checks=None, before=None):
    """Time every callable in ``impls`` (name -> callable, or an Unavailable/Failed instance).

    Warm-up: one call each (dropped; its result goes to ``checks[name](result)``, which raises
    Failed on a wrong result or returns a note). Then rounds in a fixed order A, B, C, A, B, C, ...
    ``before[name]``, when given, runs untimed before each of that implementation's turns (the
    scaling run pins its thread count there). Returns name -> Result."""
    before = before or {}
    results, live, number, warm = {}, {}, {}, {}
    for name, fn in impls.items():
        results[name], seconds = _warm_up(name, fn, (checks or {}).get(name), before.get(name))
        if seconds is not None:
            live[name], warm[name] = fn, seconds
            number[name] = max(1, math.ceil(budget.min_sample / max(seconds, 1e-7)))
    samples = {n: [] for n in live}
    start = time.perf_counter()
    rounds = 0
    while live:
        for name, fn in list(live.items()):
            try:
                if name in before:
                    before[name]()
                if budget.settle > 0 and warm[name] < budget.settle:
                    _settle(fn, budget.settle)
                samples[name].append(_sample(fn, number[name]))
            except Exception as e:  # an implementation that fails only sometimes
                results[name] = Result("failed", f"failed on a timed run: {type(e).__name__}: {e}")
                del live[name]
        rounds += 1
        for n in [n for n in live if warm[n] > budget.slow and rounds >= min(budget.min_runs, 2)]:
            del live[n]
        if rounds >= budget.max_runs:
            break
        if rounds >= budget.min_runs and time.perf_counter() - start > budget.seconds:
            break
    for name, s in samples.items():
        r = results[name]
        if r.status == "ok" and s:
            r.min_s, r.median_s, r.runs, r.number, r.samples = (
                min(s), statistics.median(s), len(s), number[name], s)
    return results
