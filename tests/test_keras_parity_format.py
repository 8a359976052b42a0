"""Side by side with real Keras 3 (skipped unless `keras` is importable): the same summary
text, progress output, history keys, loss values and layer config keys."""
import numpy as np
import pytest

import cnnext
from keras_parity_models import pair, import_keras, one_thread  # noqa: F401

keras = import_keras()
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("columns", ["80", "120"])
@pytest.mark.parametrize("line_length", [None, 88, 50])
def test_summary_text_identical(monkeypatch, columns, line_length):
    monkeypatch.setenv("COLUMNS", columns)
    k, c = pair(keras)
    ko, co = [], []
    k.summary(line_length=line_length, print_fn=lambda s, **kw: ko.append(s))
    c.summary(line_length=line_length, print_fn=co.append)
    assert "".join(co).strip() == "".join(ko).strip()


def test_losses_match():
    rng = np.random.default_rng(1)
    p = rng.random((8, 1)).astype("float32")
    y = rng.integers(0, 2, 8).astype("float32")
    assert float(cnnext.losses.BinaryCrossentropy()(y, p)) == pytest.approx(
        float(keras.losses.BinaryCrossentropy()(y, p)), rel=1e-5)
    logits = rng.standard_normal((8, 5)).astype("float32")
    labels = rng.integers(0, 5, 8)
    for from_logits in (False, True):
        pr = logits if from_logits else np.asarray(keras.activations.softmax(logits))
        assert float(cnnext.losses.SparseCategoricalCrossentropy(from_logits)(labels, pr)) == \
            pytest.approx(float(keras.losses.SparseCategoricalCrossentropy(from_logits)(
                labels, pr)), rel=1e-5)


def test_layer_config_keys_match():
    for ck, kk in ((cnnext.layers.Conv2D(4, 3), keras.layers.Conv2D(4, 3)),
                   (cnnext.layers.Dense(4), keras.layers.Dense(4)),
                   (cnnext.layers.MaxPooling2D(), keras.layers.MaxPooling2D()),
                   (cnnext.layers.BatchNormalization(), keras.layers.BatchNormalization())):
        missing = set(kk.get_config()) - set(ck.get_config())
        assert not missing - {"lora_rank", "lora_alpha", "quantization_config", "renorm",
                              "renorm_clipping", "renorm_momentum"}, (type(ck), missing)


def _normalized(text):
    """What a terminal shows, with ANSI codes dropped and every digit masked (timings)."""
    import re
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    lines = [line.split("\r")[-1].replace("\b", "") for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\d+(us|ms|s)/step", "T/step", text)
    return re.sub(r"\d", "9", text)


@pytest.mark.parametrize("verbose", [1, 2])
def test_fit_evaluate_predict_output_and_history(capsys, verbose):
    outputs, hists = [], []
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    for lib in (keras, cnnext):
        lib.utils.set_random_seed(0)
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1, activation="sigmoid")])
        m.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        cbs = [lib.callbacks.EarlyStopping(monitor="val_accuracy", patience=0, verbose=1,
                                           restore_best_weights=True),
               lib.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, verbose=1)]
        h = m.fit(x, y, epochs=3, batch_size=10, verbose=verbose, validation_split=0.2,
                  callbacks=cbs)
        m.evaluate(x, y, verbose=verbose)
        m.predict(x[:5], verbose=verbose)
        hists.append((h.params, list(h.history)))
        outputs.append(_normalized(capsys.readouterr().out))
    assert hists[0] == hists[1]
    k_lines, c_lines = outputs[0].splitlines(), outputs[1].splitlines()
    assert [l for l in c_lines if "step" in l or "Epoch" in l] == \
        [l for l in k_lines if "step" in l or "Epoch" in l]


def test_functional_summary_identical(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    texts = []
    for lib in (keras, cnnext):
        lib.utils.clear_session()
        inp = lib.Input((4,))
        out = lib.layers.Dense(2)(lib.layers.Dense(3, activation="relu")(inp))
        model = lib.Model(inp, out)
        got = []
        model.summary(print_fn=lambda s, **kw: got.append(s))
        texts.append("".join(got).strip())
    assert texts[1] == texts[0]
