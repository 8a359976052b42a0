"""The op cases: real layer shapes, each with its cnnext, NumPy, PyTorch and Keras implementation.

A case's ``build(env)`` makes the data (fixed seed) and returns ``(impls, checks)``: implementation
name -> zero-argument callable (or the Unavailable/Failed that says why there is none), and
name -> check of the warm-up result against the NumPy reference (computed first).
"""
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import references as ref
from .harness import Failed, Unavailable, bind, call_with, param_map, resolve

__all__ = ["Case", "IMPLS", "op_cases", "check_close"]

IMPLS = ("cnnext", "numpy", "torch", "keras")
F32 = np.float32


@dataclass
class Case:
    group: str  # conv | pool | act | dense | optim | signal | model
    name: str
    shape: str
    work: float  # FLOPs or bytes moved by one call
    unit: str  # "GFLOP/s" or "GB/s"
    build: Callable
    scale: float = 1.0  # reported time = measured time * scale (quick model runs)
    peak_pct: bool = False  # report % of the sgemm ceiling
    note: Optional[str] = None


def rel_err(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        raise Failed(f"wrong shape {actual.shape}, expected {expected.shape}")
    if np.isnan(actual).any() and not np.isnan(expected).any():
        raise Failed("result has NaN")
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-30))


def check_close(holder, convert=lambda r: r, tol=1e-3):
    """A check comparing a result (after ``convert``) with ``holder['ref']``."""
    def check(result):
        err = rel_err(convert(result), holder["ref"])
        if not err <= tol:
            raise Failed(f"result differs from the NumPy reference: max rel err {err:.2g}")
        return f"max rel err {err:.1e}"
    return check


def _keep_ref(fn, holder):
    def run():
        holder["ref"] = out = fn()
        return out
    return run


def _maybe(make):
    """make() -> callable, or the Unavailable/Failed it raised (kept for the report)."""
    try:
        return make()
    except (Unavailable, Failed) as e:
        return e
    except NotImplementedError as e:
        return Unavailable(f"NotImplementedError: {e}")


def _finish(env, impls, holder, torch_convert=None, keras_convert=None, tol=1e-3):
    """Fill in n/a entries for missing peers and attach result checks."""
    for peer in ("torch", "keras"):
        if getattr(env, peer) is None:
            impls[peer] = Unavailable(env.reason(peer))
    ordered = {k: impls[k] for k in ("numpy",) + tuple(k for k in IMPLS if k != "numpy") if k in impls}
    checks = {"cnnext": check_close(holder, tol=tol)}
    if torch_convert is not None:
        checks["torch"] = check_close(holder, torch_convert, tol)
    if keras_convert is not None:
        checks["keras"] = check_close(holder, keras_convert, tol)
    return ordered, checks


def _cn(env, names, **values):
    """A cnnext.ops function resolved by name and bound to values (Unavailable otherwise)."""
    if env.ops is None:
        raise Unavailable(env.reason("cnnext"))
    name, fn = resolve(env.ops, names, "cnnext.ops")
    return bind(fn, f"cnnext.ops.{name}", **values)


def _nchw(t):
    return t.permute(0, 2, 3, 1).detach().numpy()


def _keras_np(env):
    return lambda r: env.keras.ops.convert_to_numpy(r)


def _keras(env, fn):
    """A Keras op timed to completion: JAX dispatches asynchronously, so wait for the result."""
    if env.keras.backend.backend() != "jax":
        return fn
    import jax

    def run():
        return jax.block_until_ready(fn())
    return run


# ---------------------------------------------------------------- convolution
CONV_FWD = ("conv2d", "conv")
CONV_DX = ("conv2d_backprop_input", "conv2d_backward_input", "conv2d_input_grad", "conv2d_grad_input")
CONV_DW = ("conv2d_backprop_kernel", "conv2d_backprop_filter", "conv2d_backward_kernel",
           "conv2d_kernel_grad", "conv2d_grad_kernel")


def _conv_data(n, h, w, c, f, k, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, h, w, c), dtype=F32)
    kern = (rng.standard_normal((k, k, c, f), dtype=F32) / np.sqrt(k * k * c)).astype(F32)
    oh, ow = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
    dy = rng.standard_normal((n, oh, ow, f), dtype=F32)
    return x, kern, dy


def _torch_conv(env, x, kern, dy, padding, which):
    torch = env.torch
    F = torch.nn.functional
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)  # NCHW view of NHWC memory = channels_last
    wt = torch.from_numpy(kern).permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
    dyt = torch.from_numpy(dy).permute(0, 3, 1, 2)
    if which == "fwd":
        def run():
            with torch.no_grad():
                return F.conv2d(xt, wt, padding=padding)
        return run
    xg, wg = xt.detach().requires_grad_(which == "dx"), wt.detach().requires_grad_(which == "dw")
    y = F.conv2d(xg, wg, padding=padding)
    target = xg if which == "dx" else wg
    return lambda: torch.autograd.grad(y, target, dyt, retain_graph=True)[0]


def _torch_dw_convert(r):
    return r.permute(2, 3, 1, 0).detach().numpy()


def conv_case(which, n, h, w, c, f, k, padding):
    title = {"fwd": "conv2d fwd", "dx": "conv2d bwd-input", "dw": "conv2d bwd-kernel"}[which]
    oh, ow = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
    flops = 2.0 * n * oh * ow * f * k * k * c

    def build(env):
        x, kern, dy = _conv_data(n, h, w, c, f, k, padding)
        holder = {}
        geo = dict(strides=1, padding=padding)
        if which == "fwd":
            npf = lambda: ref.conv2d(x, kern, padding)  # noqa: E731
            cnf = lambda: _cn(env, CONV_FWD, x=x, kernel=kern, **geo)  # noqa: E731
        elif which == "dx":
            npf = lambda: ref.conv2d_backprop_input(dy, kern, x.shape, padding)  # noqa: E731
            cnf = lambda: _cn(env, CONV_DX, dy=dy, kernel=kern, input_shape=x.shape, **geo)  # noqa: E731
        else:
            npf = lambda: ref.conv2d_backprop_kernel(x, dy, kern.shape, padding)  # noqa: E731
            cnf = lambda: _cn(env, CONV_DW, x=x, dy=dy, kernel_shape=kern.shape, **geo)  # noqa: E731
        impls = {"numpy": _keep_ref(npf, holder), "cnnext": _maybe(cnf)}
        if env.torch is not None:
            impls["torch"] = _maybe(lambda: _torch_conv(env, x, kern, dy, padding, which))
        if env.keras is not None:
            if which == "fwd":
                kx, kk = env.keras.ops.convert_to_tensor(x), env.keras.ops.convert_to_tensor(kern)
                impls["keras"] = _keras(env, lambda: env.keras.ops.conv(kx, kk, **geo))
            else:
                impls["keras"] = Unavailable("keras.ops has no conv backward op")
        return _finish(env, impls, holder, _torch_dw_convert if which == "dw" else _nchw,
                       _keras_np(env) if env.keras is not None else None)

    shape = f"b{n} {h}x{w}x{c}->{f} {k}x{k} {padding}"
    return Case("conv", title, shape, flops, "GFLOP/s", build, peak_pct=True)


CONV_SHAPES = [  # (n, h, w, c, f, k, padding): the seed model's layers and one mid-size layer
    (32, 28, 28, 1, 32, 3, "valid"),
    (256, 28, 28, 1, 32, 3, "valid"),
    (32, 13, 13, 32, 64, 3, "valid"),
    (256, 13, 13, 32, 64, 3, "valid"),
    (32, 56, 56, 64, 64, 3, "same"),
]


# ---------------------------------------------------------------- pooling
def pool_case(kind, n=256, h=26, w=26, c=32, p=2):
    names = {"max": ("max_pool2d", "max_pool", "max_pooling2d", "maxpool2d"),
             "avg": ("avg_pool2d", "average_pool2d", "average_pool", "avg_pool",
                     "average_pooling2d")}[kind]
    nbytes = 4.0 * n * h * w * c * (1 + 1 / (p * p))

    def build(env):
        x = np.random.default_rng(0).standard_normal((n, h, w, c), dtype=F32)
        holder = {}
        npf = ref.max_pool2d if kind == "max" else ref.avg_pool2d
        impls = {"numpy": _keep_ref(lambda: npf(x, p), holder),
                 "cnnext": _maybe(lambda: _cn(env, names, x=x, pool_size=p, strides=p, padding="valid"))}
        if env.torch is not None:
            F = env.torch.nn.functional
            xt = env.torch.from_numpy(x).permute(0, 3, 1, 2)
            tf = F.max_pool2d if kind == "max" else F.avg_pool2d
            impls["torch"] = lambda: tf(xt, p)
        if env.keras is not None:
            kx = env.keras.ops.convert_to_tensor(x)
            kf = env.keras.ops.max_pool if kind == "max" else env.keras.ops.average_pool
            impls["keras"] = _keras(env, lambda: kf(kx, p, p, "valid"))
        return _finish(env, impls, holder, _nchw, _keras_np(env) if env.keras is not None else None)

    return Case("pool", f"{kind}-pool {p}x{p}", f"{n}x{h}x{w}x{c}", nbytes, "GB/s", build)


# ---------------------------------------------------------------- activations
LEAKY_RELU6 = {"negative_slope": 0.2, "max_value": 6.0}  # Keras's relu with arguments


def act_case(kind, shape):
    nbytes = 2.0 * 4 * np.prod(shape)

    def build(env):
        x = np.random.default_rng(0).standard_normal(shape, dtype=F32) * 4
        holder = {}
        npf = {"relu": ref.relu, "sigmoid": ref.sigmoid, "softmax": ref.softmax,
               "leaky_relu6": ref.leaky_relu6}[kind]
        extra = {"softmax": {"axis": -1}, "leaky_relu6": LEAKY_RELU6}.get(kind, {})
        name = "relu" if kind == "leaky_relu6" else kind
        impls = {"numpy": _keep_ref(lambda: npf(x), holder),
                 "cnnext": _maybe(lambda: _cn(env, (name,), x=x, **extra))}
        if env.torch is not None:
            torch = env.torch
            xt = torch.from_numpy(x)
            tf = {"relu": torch.relu, "sigmoid": torch.sigmoid,
                  "softmax": lambda t: torch.softmax(t, -1),
                  "leaky_relu6": lambda t: torch.where(t > 0, torch.clamp(t, max=6.0),
                                                       0.2 * t)}[kind]
            impls["torch"] = lambda: tf(xt)
        if env.keras is not None:
            kx = env.keras.ops.convert_to_tensor(x)
            kf = (getattr(env.keras.ops, kind) if kind != "leaky_relu6" else
                  lambda t: env.keras.activations.relu(t, **LEAKY_RELU6))
            impls["keras"] = _keras(env, lambda: kf(kx))
        return _finish(env, impls, holder, lambda r: r.numpy(),
                       _keras_np(env) if env.keras is not None else None, tol=1e-5)

    dims = "x".join(map(str, shape))
    return Case("act", kind, f"{dims} ({4 * np.prod(shape) / 1e6:.0f} MB)", nbytes, "GB/s", build)


# ---------------------------------------------------------------- dense
def dense_case(m, k, n):
    def build(env):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((m, k), dtype=F32)
        w = (rng.standard_normal((k, n), dtype=F32) / np.sqrt(k)).astype(F32)
        holder = {}
        impls = {"numpy": _keep_ref(lambda: x @ w, holder),
                 "cnnext": _maybe(lambda: _cn(env, ("dense", "matmul", "linear"), x=x, kernel=w))}
        if env.torch is not None:
            xt, wt = env.torch.from_numpy(x), env.torch.from_numpy(w)
            impls["torch"] = lambda: xt @ wt
        if env.keras is not None:
            kx, kw = env.keras.ops.convert_to_tensor(x), env.keras.ops.convert_to_tensor(w)
            impls["keras"] = _keras(env, lambda: env.keras.ops.matmul(kx, kw))
        return _finish(env, impls, holder, lambda r: r.numpy(),
                       _keras_np(env) if env.keras is not None else None)

    return Case("dense", "dense", f"{m}x{k} @ {k}x{n}", 2.0 * m * k * n, "GFLOP/s", build,
                peak_pct=True)


# ---------------------------------------------------------------- optimizer
SEED_PARAM_SHAPES = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 128), (128,), (128, 1), (1,)]
ADAM_NAMES = ("adam", "adam_update", "adam_step", "apply_adam")


def _cnnext_adam(env, state):
    """One Adam step over every array of ``state`` with cnnext (one call per array, in place)."""
    if env.ops is None:
        raise Unavailable(env.reason("cnnext"))
    name, fn = resolve(env.ops, ADAM_NAMES, "cnnext.ops")
    keys = ("param", "grad", "m", "v", "step", "lr", "beta1", "beta2", "eps")
    mapping = param_map(fn, f"cnnext.ops.{name}", keys)
    hyper = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7)
    if mapping.get("param", ("",))[0] in ("params", "variables"):  # one call over lists of arrays
        def run():
            state.step += 1
            call_with(fn, mapping, dict(param=state.params, grad=state.grads, m=state.m, v=state.v,
                                        step=state.step, **hyper))
        return run
    arrays = list(zip(state.params, state.grads, state.m, state.v))

    def run():
        state.step += 1
        for p, g, m, v in arrays:
            call_with(fn, mapping, dict(param=p, grad=g, m=m, v=v, step=state.step, **hyper))
    return run


def _verify_adam(run, env):
    """Three steps of cnnext's Adam on a fresh state must match the NumPy formula."""
    mine, theirs = ref.AdamState(SEED_PARAM_SHAPES, seed=1), ref.AdamState(SEED_PARAM_SHAPES, seed=1)
    step = _cnnext_adam(env, mine)
    for _ in range(3):
        step()
        ref.adam(theirs)
    err = max(rel_err(a, b) for a, b in zip(mine.params, theirs.params))
    if not err <= 1e-5:
        raise Failed(f"3 Adam steps differ from the NumPy formula: max rel err {err:.2g}")
    return run


def adam_case():
    size = sum(int(np.prod(s)) for s in SEED_PARAM_SHAPES)

    def build(env):
        impls = {"numpy": lambda st=ref.AdamState(SEED_PARAM_SHAPES): ref.adam(st)}
        impls["cnnext"] = _maybe(lambda: _verify_adam(
            _cnnext_adam(env, ref.AdamState(SEED_PARAM_SHAPES)), env))
        if env.torch is not None:
            impls["torch"] = _maybe(lambda: _torch_adam(env.torch))
        if env.keras is not None:
            impls["keras"] = _maybe(lambda: _keras(env, _keras_adam(env.keras)))
        impls, _ = _finish(env, impls, {})
        return impls, {}

    return Case("optim", "adam step", f"{size / 1e3:.0f}k params in {len(SEED_PARAM_SHAPES)} arrays",
                7.0 * 4 * size, "GB/s", build)


def _torch_adam(torch):
    st = ref.AdamState(SEED_PARAM_SHAPES)
    params = [torch.from_numpy(p).requires_grad_() for p in st.params]
    for p, g in zip(params, st.grads):
        p.grad = torch.from_numpy(g)
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7, fused=True)
    return opt.step


def _keras_adam(keras):
    st = ref.AdamState(SEED_PARAM_SHAPES)
    variables = [keras.Variable(p) for p in st.params]
    grads = [keras.ops.convert_to_tensor(g) for g in st.grads]
    opt = keras.optimizers.Adam(learning_rate=1e-3)
    opt.build(variables)
    def run():
        opt.apply_gradients(zip(grads, variables))
        return [v.value for v in variables]
    return run


# ---------------------------------------------------------------- scipy.signal.convolve2d
def convolve2d_case(size, k):
    def build(env):
        rng = np.random.default_rng(0)
        img = rng.standard_normal((size, size), dtype=F32)
        kern = rng.standard_normal((k, k), dtype=F32)
        holder = {}
        if env.scipy_signal is None:
            impls = {"numpy": Unavailable(env.reason("scipy"))}
            holder["ref"] = None
        else:
            sig = env.scipy_signal
            impls = {"numpy": _keep_ref(lambda: sig.convolve2d(img, kern, mode="same"), holder)}
        impls["cnnext"] = _maybe(lambda: _cn(env, ("convolve2d",), in1=img, in2=kern, mode="same"))
        if env.torch is not None:
            torch = env.torch
            it = torch.from_numpy(img)[None, None]
            kt = torch.from_numpy(np.ascontiguousarray(kern[::-1, ::-1]))[None, None]

            def run():
                with torch.no_grad():
                    return torch.nn.functional.conv2d(it, kt, padding="same")
            impls["torch"] = run
        impls["keras"] = Unavailable("no keras.ops equivalent")
        impls, checks = _finish(env, impls, holder, lambda r: r[0, 0].numpy())
        if holder.get("ref", 0) is None:
            checks = {}
        return impls, checks

    return Case("signal", f"convolve2d {k}x{k}", f"{size}x{size} 'same'", 2.0 * size * size * k * k,
                "GFLOP/s", build, note="NumPy column: scipy.signal.convolve2d")


def op_cases():
    cases = []
    for which in ("fwd", "dx", "dw"):
        cases += [conv_case(which, *s) for s in CONV_SHAPES]
    cases += [pool_case("max"), pool_case("avg")]
    cases += [act_case("relu", (128, 26, 26, 32)), act_case("sigmoid", (128, 26, 26, 32)),
              act_case("leaky_relu6", (128, 26, 26, 32)), act_case("softmax", (2816, 1000))]
    cases += [dense_case(2048, 2048, 2048), dense_case(128, 1600, 128)]
    cases += [adam_case()]
    cases += [convolve2d_case(512, 3), convolve2d_case(512, 15)]
    return cases
