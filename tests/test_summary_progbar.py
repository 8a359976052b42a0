"""summary() text and progress-bar lines, byte for byte against Keras 3's format."""
import re

import numpy as np
import pytest

import cnnext
from cnnext import layers as L
from cnnext._progbar import Progbar
from cnnext.models import Sequential

SEED_SUMMARY_88 = """\
Model: "sequential"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓
┃ Layer (type)                         ┃ Output Shape                ┃         Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩
│ conv2d (Conv2D)                      │ (None, 26, 26, 32)          │             320 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d (MaxPooling2D)         │ (None, 13, 13, 32)          │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ conv2d_1 (Conv2D)                    │ (None, 11, 11, 64)          │          18,496 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ max_pooling2d_1 (MaxPooling2D)       │ (None, 5, 5, 64)            │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ flatten (Flatten)                    │ (None, 1600)                │               0 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense (Dense)                        │ (None, 128)                 │         204,928 │
├──────────────────────────────────────┼─────────────────────────────┼─────────────────┤
│ dense_1 (Dense)                      │ (None, 1)                   │             129 │
└──────────────────────────────────────┴─────────────────────────────┴─────────────────┘
 Total params: 223,873 (874.50 KB)
 Trainable params: 223,873 (874.50 KB)
 Non-trainable params: 0 (0.00 B)
"""


def seed_model():
    cnnext.utils.clear_session()
    model = Sequential()
    model.add(L.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(L.MaxPooling2D(pool_size=(2, 2)))
    model.add(L.Conv2D(64, (3, 3), activation="relu"))
    model.add(L.MaxPooling2D(pool_size=(2, 2)))
    model.add(L.Flatten())
    model.add(L.Dense(128, activation="relu"))
    model.add(L.Dense(1, activation="sigmoid"))
    return model


def test_seed_summary_exact_at_88_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    out = []
    seed_model().summary(line_length=88, print_fn=out.append)
    assert out == [SEED_SUMMARY_88]


def test_summary_default_width_76_when_not_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    seed_model().summary()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Model: "sequential"'
    assert len(lines[1]) == 76
    assert [len(c) for c in lines[2].split("┃")[1:-1]] == [33, 24, 15]
    assert lines[4] == "│ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │"


def test_summary_optimizer_params_after_fit_and_unbuilt_rows(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    model = seed_model()
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(np.zeros((2, 28, 28, 1), np.float32), np.zeros(2), verbose=0)
    out = []
    model.summary(line_length=88, print_fn=out.append)
    tail = out[0].splitlines()[-4:]
    assert tail == [" Total params: 671,621 (2.56 MB)", " Trainable params: 223,873 (874.50 KB)",
                    " Non-trainable params: 0 (0.00 B)",
                    " Optimizer params: 447,748 (1.71 MB)"]
    monkeypatch.setenv("COLUMNS", "120")
    unbuilt = Sequential([L.Dense(3)])
    out = []
    unbuilt.summary(line_length=88, print_fn=out.append)
    assert "│ ?                           │     0 (unbuilt) │" in out[0]


def test_summary_wraps_narrow_cells_and_crops_to_the_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    cnnext.utils.clear_session()
    model = Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3), L.Flatten(), L.Dense(1)])
    out = []
    model.summary(line_length=50, print_fn=out.append)
    lines = out[0].splitlines()
    assert lines[4] == "│ conv2d (Conv2D)     │ (None, 26, 26, │     320 │"
    assert lines[5] == "│                     │ 32)            │         │"
    monkeypatch.setenv("COLUMNS", "80")
    out = []
    model.summary(line_length=88, print_fn=out.append)  # rich crops at the console width
    assert max(len(line) for line in out[0].splitlines()) == 80


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _visible(text):
    return ANSI.sub("", text.split("\r")[-1])


def test_progbar_verbose1_lines(capsys):
    bar = Progbar(5, stateless_metrics=())
    bar.update(1, [("accuracy", 0.46875), ("loss", 0.6934)], finalize=False)
    first = capsys.readouterr().out
    assert first.startswith("\r") and not first.endswith("\n")
    assert "\x1b[1m1/5\x1b[0m \x1b[32m━━━━\x1b[0m\x1b[37m" + "━" * 16 + "\x1b[0m" in first
    assert re.fullmatch(r"1/5 ━{20} \d+s \d+(us|ms|s)/step - accuracy: 0\.4688 - loss: 0\.6934",
                        _visible(first))
    bar.update(5, [("accuracy", 0.5063), ("loss", 0.0), ("val_loss", 0.6931)], finalize=True)
    last = capsys.readouterr().out
    assert last.startswith("\b" * len(_visible(first)) + "\r") and last.endswith("\n")
    assert re.fullmatch(r"5/5 ━{20} \d+s \d+(us|ms|s)/step - accuracy: 0\.5063 - "
                        r"loss: 0\.0000e\+00 - val_loss: 0\.6931\n", _visible(last))


def test_progbar_verbose2_line(capsys):
    bar = Progbar(7, verbose=2, stateless_metrics=())
    bar.update(3, [("loss", 0.5)])
    assert capsys.readouterr().out == ""
    bar.update(7, [("accuracy", 0.535), ("loss", -0.5)], finalize=True)
    out = capsys.readouterr().out
    assert re.fullmatch(r"7/7 - 0s - \d+us/step - loss: -5\.0000e-01 - accuracy: 0\.5350\n", out)


def test_fit_prints_epoch_lines(capsys):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 3)).astype(np.float32), rng.integers(0, 2, 20)
    model = Sequential([L.Input((3,)), L.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=2, validation_data=(x, y))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"3/3 - \d+s - \d+(us|ms)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - "
                        r"val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}", lines[1])
    model.fit(x, y, epochs=1, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch" not in out and out.endswith("\n")
    assert re.search(r"3/3 ━{20} \d+s \d+(us|ms)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}",
                     ANSI.sub("", out))
    model.fit(x, y, epochs=1, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_progbar_falls_back_to_ascii_bar_on_narrow_encodings(monkeypatch):
    import io
    import sys
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", errors="strict")
    monkeypatch.setattr(sys, "stdout", stream)
    Progbar(2, stateless_metrics=()).update(2, [("loss", 0.5)], finalize=True)
    stream.flush()
    text = raw.getvalue().decode("cp1252")
    assert "=" * 20 in text and "━" not in text and "loss: 0.5000" in text


def test_functional_summary_lists_the_input_layer(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    cnnext.utils.clear_session()
    inp = cnnext.Input((4,))
    model = cnnext.Model(inp, L.Dense(2)(inp))
    out = []
    model.summary(print_fn=out.append)
    lines = out[0].splitlines()
    assert lines[0] == 'Model: "functional"'
    assert lines[4].startswith("│ input_layer (InputLayer)") and "(None, 4)" in lines[4]
