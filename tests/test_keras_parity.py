"""Side by side with real Keras 3 (skipped unless `keras` is importable): the same weights
in give the same predictions, and one epoch of training gives the same weights and logs."""
import numpy as np
import pytest

from keras_parity_models import (data, import_keras, one_thread,  # noqa: F401
                                 other_model, pair, seed_model)

keras = import_keras()
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("opt,make", [("adam", seed_model), ("rmsprop", other_model)],
                         ids=["seed-adam", "other-rmsprop"])  # (each Keras fit = a JAX compile)
def test_same_predictions_then_one_epoch_same_weights(opt, make):
    k, c = pair(keras, make)
    x, y = data()
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k(x)), rtol=1e-4, atol=1e-6)
    assert [w.shape for w in c.get_weights()] == [tuple(w.shape) for w in k.get_weights()]
    k.compile(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"])
    c.compile(loss="binary_crossentropy", optimizer=opt, metrics=["accuracy"])
    hk = k.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_split=0.25)
    hc = c.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, validation_split=0.25)
    assert list(hc.history) == list(hk.history)
    for key in hk.history:
        assert hc.history[key][0] == pytest.approx(hk.history[key][0], rel=1e-3, abs=1e-5)
    for a, b in zip(c.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-3, atol=1e-5)
