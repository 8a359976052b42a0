"""Thread safety: ops called from many Python threads at once, thread-count changes between and
during calls, and multiprocessing's fork start method after OpenMP teams ran.

Every op is deterministic whatever the thread count, so all comparisons are bitwise.
"""
import multiprocessing as mp
import os
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import cnnext
from op_workloads import workloads

# Big enough that conv, pooling, dense, norm and the elementwise ops open OpenMP teams.
SIZE = dict(n=4, hw=24, c=8)
FORK_TIMEOUT = 60  # seconds; a child that hangs fails the test instead of blocking CI

needs_fork = pytest.mark.skipif("fork" not in mp.get_all_start_methods(),
                                reason="no fork start method on this platform")


# Python 3.12+ (and JAX, when another test imported it) warn that fork() in a threaded process may
# deadlock: that is what these tests check does not happen to cnnext.
def quiet_fork(test):
    test = pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")(test)
    return pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning")(test)


@pytest.fixture
def default_threads():
    """Restore cnnext's default thread count whatever the test set."""
    cnnext.set_num_threads(None)
    yield
    cnnext.set_num_threads(None)


def _run_all(wl):
    return {name: fn() for name, fn in wl.items()}


def _mismatches(results, expected):
    """Names of the workloads whose results are not bitwise equal to `expected`'s."""
    bad = []
    for name, arrays in results.items():
        ref = expected[name]
        same = len(arrays) == len(ref) and all(
            a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
            for a, b in zip(arrays, ref))
        if not same:
            bad.append(name)
    return bad


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_concurrent_calls_match_serial(dtype, default_threads):
    wl = workloads(dtype=dtype, **SIZE)
    expected = _run_all(wl)
    tasks = [name for name in wl for _ in range(3)]
    random.Random(0).shuffle(tasks)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [(name, pool.submit(wl[name])) for name in tasks]
        results = [(name, f.result()) for name, f in futures]
    bad = [name for name, arrays in results if _mismatches({name: arrays}, expected)]
    assert not bad, f"results differ from serial calls: {sorted(set(bad))}"


def test_each_thread_its_own_data(default_threads):
    """Eight threads, eight different data sets (seeds and dtypes), every family at once."""
    sets = [workloads(dtype=(np.float32, np.float64)[i % 2], seed=100 * i, **SIZE)
            for i in range(8)]
    expected = [_run_all(wl) for wl in sets]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_run_all, sets))
    for i, (res, ref) in enumerate(zip(results, expected)):
        assert not _mismatches(res, ref), f"data set {i}: {_mismatches(res, ref)}"


def test_thread_count_changes_between_calls(default_threads):
    wl = workloads(**SIZE)
    expected = _run_all(wl)
    for n in (1, 3, 2, 4, 1, None):
        cnnext.set_num_threads(n)
        assert not _mismatches(_run_all(wl), expected), f"set_num_threads({n})"


def test_thread_count_changes_during_calls(default_threads):
    """One thread keeps changing the thread count while four others run ops."""
    wl = workloads(dtype=np.float64, **SIZE)
    expected = _run_all(wl)
    stop = threading.Event()

    def toggle():
        k = 0
        while not stop.is_set():
            cnnext.set_num_threads((1, 2, 3, 4, None)[k % 5])
            k += 1

    toggler = threading.Thread(target=toggle)
    toggler.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: _run_all(wl), range(8)))
    finally:
        stop.set()
        toggler.join()
    for res in results:
        assert not _mismatches(res, expected)


# ---- fork ----------------------------------------------------------------------------------------

def _child_check(conn, wl, expected, threads):
    """Runs in the forked child: every workload, compared with the parent's results."""
    if threads is not None:
        cnnext.set_num_threads(threads)
    conn.send((_mismatches(_run_all(wl), expected), cnnext.get_num_threads()))
    conn.close()


def _fork_and_check(wl, expected, threads=None):
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_check, args=(send, wl, expected, threads))
    child.start()
    send.close()
    try:
        if not recv.poll(FORK_TIMEOUT):
            pytest.fail(f"forked child gave no answer within {FORK_TIMEOUT} s (hung)")
        bad, nthreads = recv.recv()
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
    assert child.exitcode == 0
    assert not bad, f"forked child got different results: {bad}"
    return nthreads


@needs_fork
@quiet_fork
@pytest.mark.parametrize("child_threads", [None, 2], ids=["default", "set2"])
def test_fork_after_threaded_ops(default_threads, child_threads):
    if not cnnext._core.openmp_enabled():
        pytest.skip("single-threaded build")
    wl = workloads(**SIZE)
    cnnext.set_num_threads(2)  # make sure the parent opens OpenMP teams, even on one core
    expected = _run_all(wl)
    # The child runs serially (libgomp cannot start a team after fork), whatever it asks for.
    assert _fork_and_check(wl, expected, child_threads) == 1
    assert not _mismatches(_run_all(wl), expected)  # the parent keeps its threads
    assert cnnext.get_num_threads() == 2


@needs_fork
@quiet_fork
def test_fork_while_another_thread_runs_ops(default_threads):
    wl = workloads(**SIZE)
    cnnext.set_num_threads(2)
    expected = _run_all(wl)
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            _run_all(wl)

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        for _ in range(3):
            _fork_and_check(wl, expected)
    finally:
        stop.set()
        worker.join()


def _pool_task(name):
    return _POOL_WL[name]()


_POOL_WL = {}


@needs_fork
@quiet_fork
def test_fork_pool_map(default_threads):
    """multiprocessing.Pool with fork workers after threaded ops: right answers, no hang."""
    _POOL_WL.update(workloads(**SIZE))
    try:
        cnnext.set_num_threads(2)
        expected = _run_all(_POOL_WL)
        names = list(_POOL_WL) * 2
        with mp.get_context("fork").Pool(2) as pool:
            results = pool.map_async(_pool_task, names).get(FORK_TIMEOUT)
        for name, arrays in zip(names, results):
            assert not _mismatches({name: arrays}, expected), name
    finally:
        _POOL_WL.clear()


def _spawn_task(seed):
    return _run_all(workloads(seed=seed, **SIZE)), cnnext.get_num_threads()


def test_spawn_child_keeps_threads(default_threads):
    """The spawn start method gives a fresh process: right answers, the default thread count."""
    expected = _run_all(workloads(seed=7, **SIZE))
    with mp.get_context("spawn").Pool(1) as pool:
        results, nthreads = pool.apply_async(_spawn_task, (7,)).get(FORK_TIMEOUT)
    assert not _mismatches(results, expected)
    assert nthreads == cnnext.get_num_threads()


@pytest.mark.skipif(not cnnext._core.openmp_enabled(), reason="built without OpenMP")
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_ops_of_different_sizes_reuse_the_same_threads(default_threads):
    # Ops that split over fewer threads than the team (a batch-32 convolution's transforms, a
    # small bias sum) between ops that use all of them must not shrink the OpenMP team: GNU
    # libgomp ends the threads a smaller team leaves out and creates new ones for the next larger
    # team, which cost more than the ops themselves at 16 threads.
    cnnext.set_num_threads(8)
    rng = np.random.default_rng(0)
    big = rng.standard_normal(1 << 22).astype(np.float32)
    x = rng.standard_normal((32, 13, 13, 32)).astype(np.float32)
    w = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)

    def step():
        cnnext.ops.relu(big)
        cnnext.ops.conv2d(x, w)

    step()
    before = set(os.listdir("/proc/self/task"))
    for _ in range(10):
        step()
    after = set(os.listdir("/proc/self/task"))
    assert after - before == set(), f"{len(after - before)} threads created after the first step"
