"""Callbacks: hook order, EarlyStopping, ModelCheckpoint, LR schedulers, TerminateOnNaN."""
import os

import numpy as np
import pytest

import cnnext as keras
from cnnext import callbacks as C


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.float32)


def _model(lr=0.05):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    m.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(lr),
              metrics=["accuracy"])
    return m


class Recorder(C.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None): self.events.append("train_begin")
    def on_epoch_begin(self, epoch, logs=None): self.events.append(f"epoch_begin {epoch}")
    def on_batch_end(self, batch, logs=None): self.events.append(f"batch_end {batch}")
    def on_epoch_end(self, epoch, logs=None):
        self.events.append(f"epoch_end {epoch} {sorted(logs)}")
    def on_train_end(self, logs=None): self.events.append("train_end")


def test_hook_order_and_params():
    x, y = _data()
    rec = Recorder()
    _model().fit(x, y, epochs=2, batch_size=20, verbose=0, callbacks=[rec],
                 validation_data=(x, y))
    keys = "['accuracy', 'loss', 'val_accuracy', 'val_loss']"
    assert rec.events == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1",
                          f"epoch_end 0 {keys}", "epoch_begin 1", "batch_end 0", "batch_end 1",
                          f"epoch_end 1 {keys}", "train_end"]
    assert rec.params == {"verbose": 0, "epochs": 2, "steps": 2}


def test_early_stopping_patience_and_restore(capsys):
    x, y = _data()
    model = _model(lr=0.0)  # nothing improves after the first epoch
    es = C.EarlyStopping(monitor="loss", patience=2, verbose=1, restore_best_weights=True)
    hist = model.fit(x, y, epochs=10, verbose=0, callbacks=[es])
    assert hist.epoch == [0, 1, 2]
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


def test_early_stopping_restores_even_without_trigger():
    x, y = _data()
    model = _model()
    es = C.EarlyStopping(monitor="val_accuracy", patience=50, restore_best_weights=True)
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y), callbacks=[es])
    assert es.best_weights is not None and es.monitor_op is np.greater
    for a, b in zip(model.get_weights(), es.best_weights):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_missing_monitor_warns():
    x, y = _data()
    with pytest.warns(UserWarning, match="which is not available"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[C.EarlyStopping()])


def test_model_checkpoint_weights_only_atomic(tmp_path):
    saved = []

    class FakeModel:
        def save_weights(self, path):
            saved.append(path)
            with open(path, "w") as f:
                f.write("w")

    path = str(tmp_path / "ep{epoch:02d}-{loss:.2f}.weights.h5")
    cb = C.ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=True,
                           verbose=1)
    cb.set_model(FakeModel())
    cb.on_epoch_end(0, {"loss": 0.5})
    cb.on_epoch_end(1, {"loss": 0.7})
    cb.on_epoch_end(2, {"loss": 0.25})
    assert sorted(os.listdir(tmp_path)) == ["ep01-0.50.weights.h5", "ep03-0.25.weights.h5"]
    assert all(os.path.basename(p).startswith(".tmp-") for p in saved)
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        C.ModelCheckpoint(str(tmp_path / "x.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        C.ModelCheckpoint(str(tmp_path / "x.txt"))


def test_learning_rate_scheduler_and_reduce_on_plateau():
    x, y = _data()
    model = _model()
    sched = C.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    hist = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    np.testing.assert_allclose(hist.history["learning_rate"], [0.1, 0.05, 0.1 / 3], rtol=1e-6)
    assert list(hist.history)[-1] == "learning_rate"
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[C.LearningRateScheduler(lambda e: "x")])
    model = _model()
    model.optimizer.learning_rate = 0.4
    rop = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, cooldown=1, min_lr=0.15)
    rop.set_model(model)
    rop.on_train_begin()
    lrs = []
    for epoch, loss in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"loss": loss}
        rop.on_epoch_end(epoch, logs)
        lrs.append(round(float(model.optimizer.learning_rate), 6))
        assert "learning_rate" in logs
    assert lrs == [0.4, 0.4, 0.2, 0.2, 0.15, 0.15, 0.15]  # cooldown 1 eats one wait
    with pytest.raises(ValueError, match="factor >= 1.0"):
        C.ReduceLROnPlateau(factor=1.0)


def test_terminate_on_nan_and_stop_training():
    x, y = _data()
    model = _model()
    x_bad = x.copy()
    x_bad[0, 0] = np.nan
    hist = model.fit(x_bad, y, epochs=3, batch_size=10, verbose=0, shuffle=False,
                     callbacks=[C.TerminateOnNaN()])
    assert hist.epoch == [0]

    class Stop(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    assert _model().fit(x, y, epochs=5, verbose=0, callbacks=[Stop()]).epoch == [0]


def test_lambda_callback_and_csv_logger(tmp_path):
    x, y = _data()
    seen = []
    path = str(tmp_path / "log.csv")
    _model().fit(x, y, epochs=2, verbose=0, callbacks=[
        C.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(e)), C.CSVLogger(path)])
    assert seen == [0, 1]
    lines = open(path).read().splitlines()
    assert lines[0] == "epoch,accuracy,loss" and len(lines) == 3


def test_model_checkpoint_with_real_saving(tmp_path):
    pytest.importorskip("h5py")
    x, y = _data()
    model = _model()
    path = str(tmp_path / "best.keras")
    model.fit(x, y, epochs=3, verbose=0, validation_data=(x, y),
              callbacks=[C.ModelCheckpoint(path, save_best_only=True)])
    assert os.listdir(tmp_path) == ["best.keras"]
    loaded = keras.models.load_model(path)
    assert loaded.get_config() == model.get_config()
    wpath = str(tmp_path / "w{epoch}.weights.h5")
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[C.ModelCheckpoint(wpath, save_weights_only=True)])
    assert sorted(os.listdir(tmp_path)) == ["best.keras", "w1.weights.h5", "w2.weights.h5"]
    other = _model()
    other.load_weights(str(tmp_path / "w2.weights.h5"))
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
