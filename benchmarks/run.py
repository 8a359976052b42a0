"""cnnext's benchmark suite: cnnext vs NumPy (always), PyTorch and Keras (when installed).

    python3 benchmarks/run.py --quick             # about a minute on 2 cores
    python3 benchmarks/run.py --threads 1 --only conv,dense --json out.json --png
    python3 benchmarks/run.py --scaling 1,2          # the seed model at 1 and 2 threads, interleaved

Everything runs in one process; for each case the implementations are timed in turns (A, B, A, B,
...), the warm-up call is dropped (and its result checked against the NumPy reference), and the
minimum and median of the timed runs are kept. Prints one table; writes JSON (and a PNG chart).
"""
import argparse
import datetime
import gc
import os
import platform
import sys
import time

# NumPy's OpenBLAS threads busy-wait for about 0.1 s after every call (OPENBLAS_THREAD_TIMEOUT,
# 2^28 cycles by default), so whatever is timed right after a NumPy reference shares the cores
# with them: on 2 cores cnnext's b32 13x13x32->64 conv measured 17.9 ms there instead of 196 µs.
# Short waits keep each timing to its own implementation. This has to be set before NumPy loads
# OpenBLAS; a value set by the caller wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

if __package__ in (None, ""):  # run as a script: import the package from the repository root,
    _here = os.path.dirname(os.path.abspath(__file__))  # not its modules as top-level names
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))
    __package__ = "benchmarks"  # noqa: A001

from benchmarks import peers  # noqa: E402
from benchmarks.cases import dense_case, op_cases  # noqa: E402
from benchmarks.harness import Budget, Failed, measure  # noqa: E402
from benchmarks.model import model_cases  # noqa: E402
from benchmarks.report import (add_peak_share, scaling_table, summarize, summarize_scaling,  # noqa: E402
                               table, write_json, write_png)

GROUPS = ("conv", "pool", "act", "dense", "optim", "signal", "model")
QUICK = dict(ops=Budget(min_runs=3, max_runs=10, seconds=0.4, slow=0.25),
             model=Budget(min_runs=2, max_runs=2, seconds=0.0, slow=30.0),
             peak_reps=4, peak_1thread=False)
FULL = dict(ops=Budget(min_runs=7, max_runs=50, seconds=3.0, slow=10.0),
            model=Budget(min_runs=3, max_runs=3, seconds=0.0, slow=120.0),
            peak_reps=7, peak_1thread=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer runs and a smaller model epoch (~1 min)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="pin cnnext, PyTorch and NumPy's BLAS (threadpoolctl) to N threads")
    p.add_argument("--scaling", metavar="COUNTS",
                   help="comma-separated thread counts: time the selected cases (default: the model) "
                        "at each, interleaved in one run, and print the speedups")
    p.add_argument("--only", metavar="GROUPS",
                   help=f"comma-separated groups to run, of: {','.join(GROUPS)}")
    p.add_argument("--isa", help="force a lower cnnext ISA (avx2, sse2, neon, scalar)")
    p.add_argument("--json", default=os.path.join("bench-results", "latest.json"), metavar="PATH",
                   help="where to write the results (default: %(default)s)")
    p.add_argument("--png", nargs="?", const="", metavar="PATH",
                   help="also draw a chart (default path: the JSON's, with .png)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--no-keras", action="store_true", help="leave Keras out")
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        p.error(f"--threads must be positive. Received: --threads {args.threads}")
    if args.scaling is not None:
        if args.threads is not None:
            p.error("--scaling sets the thread counts itself; leave out --threads")
        try:
            counts = [int(c) for c in args.scaling.split(",") if c.strip()]
        except ValueError:
            counts = []
        if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
            p.error("--scaling must list distinct positive thread counts, such as 1,2,4. "
                    f"Received: --scaling {args.scaling}")
        args.scaling = counts
        args.only = args.only or "model"
    if args.only:
        args.only = [g.strip() for g in args.only.split(",") if g.strip()]
        bad = [g for g in args.only if g not in GROUPS]
        if bad:
            p.error(f"--only must name groups among {', '.join(GROUPS)}. Received: {','.join(bad)}")
    return args


def sgemm_gflops(n, reps, cpu_time=False):
    """Best OpenBLAS (NumPy) sgemm GFLOP/s on n^3 over `reps` timed runs (after one warm-up).

    cpu_time: time with the calling thread's CPU clock instead of the wall clock — for a
    one-thread BLAS the time it really computed, immune to preemption on a busy machine (where
    a 0.1-0.5 s call rarely runs uninterrupted while the suite's short calls often do)."""
    import numpy as np
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    clock = time.thread_time if cpu_time else time.perf_counter
    a @ b
    t = 1e9
    for _ in range(reps):
        s = clock()
        a @ b
        t = min(t, clock() - s)
    return 2.0 * n ** 3 / t / 1e9


def sgemm_peak(n, reps, threads, tpc, one_thread=True):
    """The sgemm ceiling at the run's thread setting (and at 1 thread), measured at the start;
    ``finish_peak`` measures again at the end and keeps the best (a busy machine only lowers it).
    At 1 thread the CPU-clock rate counts too (see ``sgemm_gflops``)."""
    peak = {"n": n, "threads": threads, "gflops_start": sgemm_gflops(n, reps)}
    if threads == 1:
        peak["gflops_cpu_clock"] = sgemm_gflops(n, reps, cpu_time=True)
    elif one_thread and tpc is not None:
        with tpc.threadpool_limits(limits=1, user_api="blas"):
            peak["gflops_1thread"] = sgemm_gflops(n, reps)
    return peak


def finish_peak(peak, reps, records):
    peak["gflops_end"] = sgemm_gflops(peak["n"], reps)
    peak["gflops"] = max(peak["gflops_start"], peak["gflops_end"], peak.get("gflops_cpu_clock", 0))
    for rec in records:  # the NumPy dense case of the same size is one more sgemm measurement
        if rec["group"] == "dense" and rec["shape"] == "{0}x{0} @ {0}x{0}".format(peak["n"]):
            r = rec["results"].get("numpy", {})
            if r.get("status") == "ok":
                peak["gflops"] = max(peak["gflops"], r["rate"])
    for rec in records:
        add_peak_share(rec, peak["gflops"])


def select_cases(args, sizes=None):
    cases = (sizes or {}).get("ops") or op_cases()
    cases = cases + ((sizes or {}).get("model") or model_cases(args.quick))
    if args.only:
        cases = [c for c in cases if c.group in args.only]
    return cases


def build_case(case, env):
    """(impls, checks) of a case; a case that fails to build reports why instead of raising."""
    try:
        return case.build(env)
    except Exception as e:  # a defect in the suite itself: report it and keep going
        return {"numpy": Failed(f"building the case failed: {type(e).__name__}: {e}")}, {}


def run_case(case, env, budget):
    impls, checks = build_case(case, env)
    results = measure(impls, budget, checks)
    del impls, checks
    gc.collect()
    return results


def _git_commit():
    """The repository's HEAD commit when run from a git checkout, else None."""
    import subprocess
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                           cwd=os.path.dirname(os.path.abspath(__file__)))
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def _document(args, env, argv, elapsed, **results):
    """The JSON document: what ran where (machine, ISA, threads, versions, commit) and ``results``."""
    return {
        "suite": "cnnext", "schema": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "argv": list(sys.argv[1:] if argv is None else argv), "quick": args.quick,
        "machine": {"cpu": peers.cpu_model(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "isa": env.isa, "isa_best": env.isa_best, "threads": env.threads, "versions": env.versions,
        "openmp": env.openmp, "git_commit": _git_commit(), "seconds": elapsed, **results,
    }


def main(argv=None, sizes=None, out=None):
    """Run the suite; ``sizes`` (tests only) replaces the case lists and the sgemm size."""
    args = parse_args(argv)
    out = out or sys.stdout
    mode = QUICK if args.quick else FULL
    if sizes and "budget" in sizes:
        mode = dict(mode, **sizes["budget"])
    want_keras = not args.no_keras and args.scaling is None
    try:
        env = peers.setup(args.threads, args.isa, not args.no_torch, want_keras)
    except ValueError as e:
        print(f"benchmarks/run.py: error: {e}", file=sys.stderr)
        return 2
    if args.scaling is not None and not args.no_keras:
        env.missing["keras"] = ("left out by --scaling: Keras sizes its thread pools (TensorFlow, "
                                "XLA) once, when it starts")
    try:
        if args.scaling is not None:
            return _run_scaling(args, env, mode, sizes, out, argv)
        return _run(args, env, mode, sizes, out, argv)
    finally:
        env.restore()


def _run(args, env, mode, sizes, out, argv):
    t0 = time.perf_counter()
    header = peers.describe(env)
    print("cnnext benchmark suite" + (" (quick)" if args.quick else ""), file=out)
    print("\n".join(header), file=out, flush=True)
    threads = env.threads.get("cnnext") or args.threads or os.cpu_count()
    peak = sgemm_peak((sizes or {}).get("peak_n", 2048), mode["peak_reps"], threads, env.tpc,
                      mode["peak_1thread"])
    cases = select_cases(args, sizes)
    records = []
    for i, case in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {case.name} {case.shape} ...", end="", file=sys.stderr, flush=True)
        s = time.perf_counter()
        results = run_case(case, env, mode["model"] if case.group == "model" else mode["ops"])
        records.append(summarize(case, results))
        print(f" {time.perf_counter() - s:.1f} s", file=sys.stderr, flush=True)
    finish_peak(peak, mode["peak_reps"], records)
    print("", file=out)
    print(table(records, peak), file=out)
    elapsed = time.perf_counter() - t0
    write_json(args.json, _document(args, env, argv, elapsed, peak=peak, cases=records))
    print(f"\nwrote {args.json} ({elapsed:.0f} s)", file=out)
    if args.png is not None:
        png = args.png or os.path.splitext(args.json)[0] + ".png"
        why = write_png(png, records, f"cnnext vs peers — {peers.cpu_model()}, isa {env.isa}, "
                                      f"{threads} thread{'s' if threads != 1 else ''}")
        print(f"wrote {png}" if why is None else f"no chart: {why}", file=out)
    return 0


def _run_scaling(args, env, mode, sizes, out, argv):
    """Each selected case at every thread count of ``--scaling``, all in one ``measure``: the
    implementation x thread-count variants take turns (cnnext@1, torch@1, cnnext@2, ...), each
    turn pinned to its count first, so a machine that slows down during the run slows every count
    alike. NumPy's OpenBLAS sgemm (the dense 2048^3 case) runs too, as the machine's own scaling."""
    t0 = time.perf_counter()
    counts = args.scaling
    print(f"cnnext benchmark suite: scaling over {','.join(map(str, counts))} threads"
          + (" (quick)" if args.quick else ""), file=out)
    print("\n".join(peers.describe(env)), file=out, flush=True)
    cases = select_cases(args, sizes)
    gemm = (sizes or {}).get("scaling_reference") or dense_case(2048, 2048, 2048)
    if not any(c.group == gemm.group and c.shape == gemm.shape for c in cases):
        cases.append(gemm)
    records = []
    for i, case in enumerate(cases, 1):
        print(f"[{i}/{len(cases)}] {case.name} {case.shape} ...", end="", file=sys.stderr, flush=True)
        s = time.perf_counter()
        impls, checks = build_case(case, env)
        variants, vchecks, before = {}, {}, {}
        for n in counts:
            for impl, fn in impls.items():
                key = f"{impl}@{n}"
                variants[key] = fn
                before[key] = (lambda n=n: peers.pin_threads(env, n))
                if impl in checks:
                    vchecks[key] = checks[impl]
        budget = mode["model"] if case.group == "model" else mode["ops"]
        results = measure(variants, budget, vchecks, before)
        del impls, checks, variants
        gc.collect()
        records.append(summarize_scaling(case, results, counts))
        print(f" {time.perf_counter() - s:.1f} s", file=sys.stderr, flush=True)
    print("", file=out)
    print(scaling_table(records, counts), file=out)
    elapsed = time.perf_counter() - t0
    write_json(args.json, _document(args, env, argv, elapsed, scaling={"threads": counts,
                                                                         "cases": records}))
    print(f"\nwrote {args.json} ({elapsed:.0f} s)", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
