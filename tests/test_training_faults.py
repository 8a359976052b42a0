"""Training faults: NaN/inf data and losses (Keras behaviour, TerminateOnNaN), KeyboardInterrupt
during fit (propagates; the model keeps the state of its last finished step and stays usable), and
ModelCheckpoint's atomic writes under a crash mid-write."""
import contextlib
import os
import signal
import threading

import numpy as np
import pytest

import cnnext
from cnnext import _interrupt, callbacks as C, layers, models, saving

BATCH = 8
RNG = np.random.default_rng(0)
X = RNG.standard_normal((48, 6, 6, 2)).astype(np.float32)
Y = (X.mean(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]
STEPS = len(X) // BATCH


def make_model(optimizer="adam", seed=0):
    """Conv + BatchNorm (moving statistics change in the forward pass) + Dense."""
    cnnext.utils.set_random_seed(seed)
    if optimizer == "adam_wd":  # decoupled weight decay: one more in-place pass per step
        optimizer = cnnext.optimizers.Adam(weight_decay=0.1)
    elif optimizer == "sgd_momentum":
        optimizer = cnnext.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)
    elif optimizer == "rmsprop_centered":
        optimizer = cnnext.optimizers.RMSprop(momentum=0.5, centered=True)
    m = models.Sequential([layers.Input((6, 6, 2)), layers.Conv2D(4, 3, activation="relu"),
                           layers.BatchNormalization(), layers.Flatten(),
                           layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return m


def state(m):
    return [np.array(w) for w in m.get_weights()] + [np.array(v) for v in m.optimizer.variables]


def replay(steps, x=X, y=Y, optimizer="adam"):
    """The state after exactly `steps` training steps over the unshuffled batches."""
    m = make_model(optimizer)
    m.optimizer.build(m.trainable_weights)
    for i in range(steps):
        lo = (i % (len(x) // BATCH)) * BATCH
        m.train_on_batch(x[lo:lo + BATCH], y[lo:lo + BATCH])
    return state(m)


def assert_state_equal(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def iterations(m):
    return int(np.asarray(m.optimizer.iterations.value))


def assert_usable(m):
    """After an interrupt: fit, predict, evaluate, save and load all still work."""
    m.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    p = m.predict(X, verbose=0)
    assert p.shape == (len(X), 1) and np.isfinite(p).all()
    assert np.isfinite(m.evaluate(X, Y, verbose=0)).all()
    return p


@pytest.fixture(autouse=True)
def default_sigint():
    """Every test runs with Python's own SIGINT handler (even where the CI runner ignores
    SIGINT) and must leave it in place: fit restores whatever handler it found."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert _interrupt._pending is None and _interrupt._atomic_depth == 0
    finally:
        signal.signal(signal.SIGINT, previous)


# --- NaN and inf: Keras keeps training; TerminateOnNaN stops at the batch -----------------------

class BatchLosses(C.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def _poison(kind):
    x, y = X.copy(), Y.copy()
    if kind == "x_nan":
        x[BATCH + 3, 1, 2, 0] = np.nan
    elif kind == "x_inf":
        x[BATCH + 3, 1, 2, 0] = np.inf
    elif kind == "y_nan":
        y[BATCH + 3] = np.nan
    return x, y


@pytest.mark.parametrize("kind", ["x_nan", "x_inf", "y_nan"])
def test_nan_and_inf_data_give_nan_loss_and_training_goes_on(kind):
    """Keras: no exception, no early stop; the epoch's running-mean loss becomes nan in the logs."""
    x, y = _poison(kind)
    m, rec = make_model(), BatchLosses()
    hist = m.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False, callbacks=[rec])
    assert hist.epoch == [0, 1] and iterations(m) == 2 * STEPS
    assert np.isfinite(rec.losses[0])  # the first batch is clean
    assert np.isnan(rec.losses[1:]).all()
    assert np.isnan(hist.history["loss"]).all()
    assert np.isnan(m.get_weights()[0]).all()  # the nan gradient reached the weights, as in Keras


def test_diverging_loss_is_reported_not_raised():
    m = make_model(cnnext.optimizers.SGD(learning_rate=1e30))
    hist = m.fit(X, Y * 1e30, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    assert not np.isfinite(hist.history["loss"][0])


@pytest.mark.parametrize("kind", ["x_nan", "x_inf", "y_nan", "loss_inf"])
def test_terminate_on_nan_stops_at_that_batch(kind, capsys):
    def fresh():
        if kind != "loss_inf":
            return make_model()
        m = models.Sequential([layers.Input((6, 6, 2)), layers.Flatten(), layers.Dense(1)])
        m.compile(optimizer="adam", loss="mse")
        return m

    if kind == "loss_inf":  # mse against an infinite target: the loss is +inf, not nan
        x, y = X, Y.copy()
        y[BATCH + 3] = np.inf
    else:
        x, y = _poison(kind)
    m, rec = fresh(), BatchLosses()
    hist = m.fit(x, y, batch_size=BATCH, epochs=3, verbose=0, shuffle=False,
                 callbacks=[C.TerminateOnNaN(), rec])
    assert iterations(m) == 2 and len(rec.losses) == 2  # stopped right after batch 1
    assert hist.epoch == [0] and not np.isfinite(rec.losses[-1])
    assert "Batch 1: Invalid loss, terminating training" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="NaN or Inf found in loss at batch 1"):
        fresh().fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                    callbacks=[C.TerminateOnNaN(raise_error=True)])


# --- KeyboardInterrupt raised by a callback -----------------------------------------------------

class InterruptAt(C.Callback):
    def __init__(self, hook, step):
        super().__init__()
        self.hook, self.step, self.seen = hook, step, 0

    def _maybe(self, hook):
        if hook == self.hook:
            if self.seen == self.step:
                raise KeyboardInterrupt
            self.seen += 1

    def on_train_batch_begin(self, batch, logs=None):
        self._maybe("begin")

    def on_train_batch_end(self, batch, logs=None):
        self._maybe("end")


@pytest.mark.parametrize("hook, step", [("begin", 0), ("begin", 3), ("begin", 8), ("end", 0),
                                        ("end", 7)])
def test_keyboard_interrupt_from_a_callback(tmp_path, hook, step):
    m = make_model()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, Y, batch_size=BATCH, epochs=3, verbose=0, shuffle=False,
              callbacks=[InterruptAt(hook, step)])
    done = step + (hook == "end")  # "end": the step itself finished before the interrupt
    assert iterations(m) == done
    assert_state_equal(state(m), replay(done))
    p = assert_usable(m)
    m.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(saving.load_model(tmp_path / "m.keras").predict(X, verbose=0), p)


# --- SIGINT arriving inside a step --------------------------------------------------------------

def _sigint():
    signal.raise_signal(signal.SIGINT)  # Ctrl-C, also when called from another thread


def _patch_sigint_at(monkeypatch, m, where, at_call):
    """Send SIGINT to this process from inside the training step, at the `at_call`-th call of
    `where` (a layer's forward/backward or the optimizer's update)."""
    if where == "update":
        obj, name = m.optimizer, "_update"
    else:
        layer_name, name = where.split(".")
        obj = next(l for l in m.layers if type(l).__name__ == layer_name)
    original, calls = getattr(obj, name), [0]

    def wrapped(*args, **kwargs):
        calls[0] += 1
        if calls[0] == at_call:
            _sigint()
            for _ in range(1000):  # give the handler many bytecode boundaries to run at
                pass
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapped)


WHERE = ["Conv2D.forward", "BatchNormalization.forward", "BatchNormalization.backward",
         "Dense.backward", "update"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("optimizer", ["adam", "adam_wd", "sgd_momentum", "rmsprop_centered"])
def test_sigint_mid_step_finishes_the_step_then_raises(monkeypatch, where, optimizer):
    m = make_model(optimizer)
    _patch_sigint_at(monkeypatch, m, where, at_call=4)  # inside step index 3
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
    assert iterations(m) == 4
    monkeypatch.undo()
    assert_state_equal(state(m), replay(4, optimizer=optimizer))
    assert_usable(m)


def test_without_the_guard_a_mid_step_sigint_corrupts_the_state(monkeypatch):
    """Shows what the guard prevents (and that the test above can fail): BatchNormalization's
    moving statistics move in the forward pass, so an interrupt before the optimizer update leaves
    a state that matches no step."""
    monkeypatch.setattr(_interrupt, "atomic", contextlib.nullcontext)
    m = make_model()
    _patch_sigint_at(monkeypatch, m, "Dense.backward", at_call=4)
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, shuffle=False)
    monkeypatch.undo()
    got = state(m)
    assert iterations(m) == 3
    with pytest.raises(AssertionError):
        assert_state_equal(got, replay(3))
    with pytest.raises(AssertionError):
        assert_state_equal(got, replay(4))


def test_sigint_mid_train_on_batch_and_mid_optimizer_apply(monkeypatch):
    m = make_model("adam_wd")
    m.optimizer.build(m.trainable_weights)
    _patch_sigint_at(monkeypatch, m, "BatchNormalization.backward", at_call=2)
    with pytest.raises(KeyboardInterrupt):
        for i in range(3):
            m.train_on_batch(X[i * BATCH:(i + 1) * BATCH], Y[i * BATCH:(i + 1) * BATCH])
    assert iterations(m) == 2
    monkeypatch.undo()
    assert_state_equal(state(m), replay(2, optimizer="adam_wd"))
    # Optimizer.apply on its own: SIGINT during the update lands after iterations += 1.
    opt = cnnext.optimizers.Adam(weight_decay=0.1)
    w = cnnext._variable.Variable(np.ones(5, np.float32), "w")
    opt.build([w])
    monkeypatch.setattr(opt, "_update", lambda *a: (_sigint(), sum(range(1000))))
    with pytest.raises(KeyboardInterrupt):
        opt.apply([np.ones(5, np.float32)], [w])
    assert int(opt.iterations.value) == 1


@pytest.mark.parametrize("where", ["validation", "predict", "evaluate"])
def test_keyboard_interrupt_outside_training_steps(where):
    """Interrupting validation, predict or evaluate changes no weight; everything still works."""
    m = make_model()
    m.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    before = state(m)

    class Stop(C.Callback):
        def on_test_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

        on_predict_batch_end = on_test_batch_end

    with pytest.raises(KeyboardInterrupt):
        if where == "validation":
            # fit's own validation passes no callbacks to evaluate: interrupt it from inside.
            m.evaluate = lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
            m.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                  validation_data=(X, Y))
        elif where == "predict":
            m.predict(X, batch_size=BATCH, verbose=0, callbacks=[Stop()])
        else:
            m.evaluate(X, Y, batch_size=BATCH, verbose=0, callbacks=[Stop()])
    if where == "validation":
        del m.evaluate
        assert iterations(m) == 2 * STEPS  # the epoch's steps all finished
        assert_state_equal(state(m), replay(2 * STEPS))
    else:
        assert_state_equal(state(m), before)
    assert_usable(m)


def test_sigint_outside_a_step_is_not_deferred():
    reached = []

    class SlowCallback(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            _sigint()
            for _ in range(100000):
                pass
            reached.append(epoch)

    m = make_model()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[SlowCallback()])
    assert reached == [] and iterations(m) == STEPS


def test_a_user_sigint_handler_runs_after_the_step(monkeypatch):
    calls = []
    previous = signal.signal(signal.SIGINT, lambda s, f: calls.append(iterations(m)))
    try:
        m = make_model()
        _patch_sigint_at(monkeypatch, m, "BatchNormalization.forward", at_call=2)
        m.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        assert calls == [2] and iterations(m) == STEPS  # called once the step was complete
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("disposition", [signal.SIG_IGN, signal.SIG_DFL])
def test_fit_leaves_an_ignored_or_default_sigint_alone(disposition):
    signal.signal(signal.SIGINT, disposition)
    try:
        m = make_model()
        m.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0)
        m.train_on_batch(X[:BATCH], Y[:BATCH])
        assert signal.getsignal(signal.SIGINT) == disposition
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_fit_off_the_main_thread_installs_nothing():
    errors = []

    def run():
        try:
            make_model().fit(X, Y, batch_size=BATCH, epochs=1, verbose=0)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert errors == []


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.11, 0.23])
def test_sigint_at_a_random_moment_of_a_longer_fit(delay):
    """A real Ctrl-C timing: SIGINT from another thread while a larger model trains."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 16, 16, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]

    def big():
        cnnext.utils.set_random_seed(3)
        m = models.Sequential([layers.Input((16, 16, 3)), layers.Conv2D(16, 3, activation="relu"),
                               layers.BatchNormalization(), layers.Conv2D(16, 3),
                               layers.MaxPooling2D(2), layers.Flatten(),
                               layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer="adam", loss="binary_crossentropy")
        return m

    m = big()
    timer = threading.Timer(delay, _sigint)
    timer.start()
    try:
        m.fit(x, y, batch_size=BATCH, epochs=100_000, verbose=0, shuffle=False)
        pytest.fail("fit finished before the interrupt")
    except KeyboardInterrupt:
        pass
    finally:
        timer.join()
    done = iterations(m)
    ref = big()
    ref.optimizer.build(ref.trainable_weights)
    for i in range(done):
        lo = (i % (len(x) // BATCH)) * BATCH
        ref.train_on_batch(x[lo:lo + BATCH], y[lo:lo + BATCH])
    assert_state_equal(state(m), state(ref))
    m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(m.predict(x, verbose=0)).all()


# --- other state changes are all-or-nothing too ----------------------------------------------

def test_set_weights_with_a_bad_entry_changes_nothing():
    m = make_model()
    before = state(m)
    new = [w + 1 for w in m.get_weights()]
    for bad in (np.zeros(3, np.float32), np.array(["x"] * new[-1].size).reshape(new[-1].shape)):
        with pytest.raises(ValueError, match="(not compatible with provided weight shape|real "
                                             "numbers)"):
            m.set_weights(new[:-1] + [bad])
        assert_state_equal(state(m), before)
    m.set_weights(new)
    assert_state_equal(m.get_weights(), new)


def test_sigint_while_load_weights_assigns_loads_everything(tmp_path, monkeypatch):
    src = make_model(seed=1)
    src.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0)
    src.save_weights(tmp_path / "w.weights.h5")
    m = make_model()
    m.optimizer.build(m.trainable_weights)
    layer = m.layers[1]
    original = layer.set_weights

    def set_weights(values):
        _sigint()
        sum(range(1000))
        original(values)

    monkeypatch.setattr(layer, "set_weights", set_weights)
    with pytest.raises(KeyboardInterrupt):
        m.load_weights(tmp_path / "w.weights.h5")
    monkeypatch.undo()
    assert_state_equal(state(m), state(src))


# --- ModelCheckpoint: a crash mid-write keeps the previous good file ----------------------------

class CrashAtEpoch(C.Callback):
    """Arms `fail` (a function raising inside the save machinery) from epoch `epoch` on."""

    def __init__(self, epoch, armed):
        super().__init__()
        self.epoch, self.armed = epoch, armed

    def on_epoch_begin(self, epoch, logs=None):
        self.armed[0] = epoch >= self.epoch


@pytest.mark.parametrize("weights_only", [False, True])
@pytest.mark.parametrize("stage", ["write", "fsync", "replace", "interrupt"])
def test_checkpoint_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch, weights_only,
                                                       stage):
    name = "ckpt.weights.h5" if weights_only else "ckpt.keras"
    path = tmp_path / name
    armed = [False]
    exc = KeyboardInterrupt if stage == "interrupt" else OSError

    def fail_if_armed(real):
        def fn(*args, **kwargs):
            if armed[0]:
                raise exc("simulated crash")
            return real(*args, **kwargs)
        return fn

    class HalfWriter:
        """A file whose write puts half the bytes on disk, then fails."""

        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise exc("simulated crash")

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.f.close()

    real_fdopen = os.fdopen
    if stage == "write":
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k))
                            if armed[0] else real_fdopen(*a, **k))
    elif stage in ("fsync", "interrupt"):
        monkeypatch.setattr(os, "fsync", fail_if_armed(os.fsync))
    else:
        monkeypatch.setattr(os, "replace", fail_if_armed(os.replace))
    m = make_model()
    ckpt = C.ModelCheckpoint(path, save_weights_only=weights_only)
    weights_epoch0 = []
    keep = C.LambdaCallback(on_epoch_end=lambda e, logs: weights_epoch0.append(m.get_weights())
                            if e == 0 else None)
    with pytest.raises(exc, match="simulated crash"):
        m.fit(X, Y, batch_size=BATCH, epochs=3, verbose=0, shuffle=False,
              callbacks=[CrashAtEpoch(1, armed), keep, ckpt])
    monkeypatch.undo()
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind
    if weights_only:
        target = make_model(seed=5)
        target.load_weights(path)
    else:
        target = saving.load_model(path)
    for a, b in zip(target.get_weights(), weights_epoch0[0]):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_rejects_legacy_h5_up_front(tmp_path):
    with pytest.raises(ValueError, match="must end in `.keras`"):
        C.ModelCheckpoint(tmp_path / "m.h5")

