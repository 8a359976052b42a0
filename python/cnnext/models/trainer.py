"""compile / fit / evaluate / predict (Keras 3 semantics, no autograd).

A training step is: forward through the layers (caching what backward needs), one fused loss
kernel giving the loss and d loss / d y_pred, backward through the layers in reverse (the first
layer's input gradient is skipped), one fused optimizer call over every parameter.
"""
import math

import numpy as np

from .. import _interrupt, _random, callbacks as _callbacks, losses as _losses, metrics as _metrics
from .. import optimizers as _optimizers
from . import data_utils as du



def _float_array(x, name, dtype):
    if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray):
        x = x[0]
    if not hasattr(x, "__len__") and not hasattr(x, "shape"):
        raise TypeError(f"`{name}` must be a NumPy array. Received: {type(x).__name__}")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must hold real numbers. Received dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=dtype)


def _single_loss_weight(loss_weights):
    """The model has one output: loss_weights may be None, a number, [number] or {name: n}."""
    if loss_weights is None:
        return 1.0
    value = loss_weights
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    elif isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError("`loss_weights` must be a number (or a list/dict with one number) for "
                         f"a single-output model. Received: loss_weights={loss_weights!r}")
    return float(value)


def _conv_then_max_pool(layers, i):
    """layers[i] is a MaxPooling2D right after an ungrouped Conv2D."""
    from ..layers import Conv2D, MaxPooling2D
    return (0 < i < len(layers) and type(layers[i]) is MaxPooling2D
            and type(layers[i - 1]) is Conv2D and layers[i - 1].groups == 1)


def _relu_then_max_pool(layers, i):
    """... and that Conv2D's (fused) activation is relu."""
    return _conv_then_max_pool(layers, i) and layers[i - 1]._act == "relu"


def _backward_kwargs(layers, i, first):
    """Backward fusion: a relu conv followed by max-pooling gets its relu mask applied, and its
    bias gradient summed, by the pooling layer on the pooled grid (a quarter of the size) in the
    same pass as the scatter, so the conv skips both passes. When that conv is the first trained
    layer (no input gradient) and its forward fused with the pool, the pool passes the pooled
    gradient on and the conv's fused kernel gradient never forms the conv-sized gradient."""
    kwargs = {}
    if _relu_then_max_pool(layers, i):
        kwargs.update(relu_mask=True, bias_grad=layers[i - 1].use_bias)
    if _conv_then_max_pool(layers, i) and i - 1 == first:
        kwargs["to_conv"] = True
    if _relu_then_max_pool(layers, i + 1):
        kwargs["preactivated"] = layers[i + 1]
    if _conv_then_max_pool(layers, i + 1) and i == first:
        kwargs["pooled_by"] = layers[i + 1]
    return kwargs


def _forward_kwargs(layers, i):
    """Forward fusion of a Conv2D and the MaxPooling2D after it, in training and inference
    alike: where the two fuse (see Conv2D.forward) one op computes the pooled output without
    the conv's; otherwise, under a 'valid' pool, the conv computes only the rows and columns the
    pool reads (11x11 -> 10x10 under a 2x2 pool: 17 % fewer pixels). The pool's output and
    every gradient are unchanged."""
    if not _conv_then_max_pool(layers, i + 1):
        return {}
    pool = layers[i + 1]
    kwargs = {"pool_layer": pool}
    if pool.padding == "valid":
        kwargs["pool"] = (pool.pool_size, pool.strides)
    return kwargs


def _sorted_logs(logs):
    return {k: float(logs[k]) for k in sorted(logs)}


class Trainer:
    """Mixin holding Keras's training API; the model class provides the layer stack."""

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_config = None
        self._loss_obj = None
        self._loss_weight = 1.0
        self._metric_ids = []
        self._compiled_metrics = None
        self._loss_tracker = _metrics.Mean(name="loss")
        self._plan = None

    # ---- compile ---------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Set the optimizer, the loss and the metrics (names as in Keras)."""
        if weighted_metrics is not None:
            raise ValueError("cnnext does not support `weighted_metrics` yet.")
        self._loss_weight = _single_loss_weight(loss_weights)
        self.optimizer = _optimizers.get(optimizer)
        self.loss = loss
        self._loss_obj = None if loss is None else _losses.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, dict) or not isinstance(metrics, (list, tuple)):
            raise ValueError("`metrics` must be a list of metric names or Metric objects. "
                             f"Received: metrics={metrics!r}")
        self._metric_ids = list(metrics)
        for m in self._metric_ids:  # unknown names fail now, as in Keras
            if not isinstance(m, _metrics.Metric) and m not in ("accuracy", "acc"):
                _metrics.get(m)
        self._compiled_metrics = None
        self._compile_config = {
            "optimizer": _optimizers.serialize(self.optimizer),
            "loss": loss if isinstance(loss, str) or loss is None else
            _losses.serialize(self._loss_obj),
            "loss_weights": loss_weights,
            "metrics": [m if isinstance(m, str) else m.name for m in self._metric_ids] or None,
            "weighted_metrics": None, "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution, "jit_compile": jit_compile}
        self.compiled = True
        self.stop_training = False
        self._invalidate()

    @property
    def compile_config(self):
        return self._compile_config

    def get_compile_config(self):
        return self._compile_config

    def compile_from_config(self, config):
        config = dict(config)
        opt = config.get("optimizer")
        self.compile(optimizer=_optimizers.get(opt) if opt is not None else "rmsprop",
                     loss=config.get("loss") if not isinstance(config.get("loss"), dict)
                     else _losses.deserialize(config["loss"]),
                     metrics=config.get("metrics"))
        if self.built:
            self.optimizer.build(self.trainable_weights)

    @property
    def metrics_names(self):
        return ["loss", "compile_metrics"] if self._metric_ids else ["loss"]

    @property
    def metrics(self):
        return [self._loss_tracker] + list(self._compiled_metrics or [])

    def _invalidate(self):
        self._plan = None

    def _require_compiled(self, method):
        if not self.compiled or self._loss_obj is None:
            raise ValueError(f"You must call `compile()` before using the model "
                             f"(`{method}`), with a `loss`.")

    def _resolve_metrics(self, y, y_pred_shape):
        if self._compiled_metrics is None:
            self._compiled_metrics = [_metrics.get(m, np.shape(y), y_pred_shape)
                                      for m in self._metric_ids]

    # ---- data ------------------------------------------------------------------------------
    def _prepare_x(self, x):
        x = _float_array(x, "x", self._compute_dtype())
        self._ensure_built(x.shape)
        layers = self._get_plan()["layers"]
        if layers and layers[0].input_spec is not None:
            layers[0].input_spec.check(layers[0].name, x.shape)
        return x

    def _compute_dtype(self):
        layers = self.layers
        return layers[0].dtype if layers else "float32"

    def _ensure_built(self, x_shape):
        if not self.built:
            raise ValueError("This model has not been built. Build it by calling "
                             "`build(input_shape)` or by calling it on data.")

    # ---- the compute plan (rebuilt when layers change) --------------------------------------
    def _get_plan(self):
        if self._plan is None:
            layers = self.layers
            first = next((i for i, l in enumerate(layers) if l.trainable and l._trainable_vars),
                         len(layers)) if self.trainable else len(layers)
            train_vars = self.trainable_weights
            self._plan = {"layers": layers, "first": first, "vars": train_vars,
                          "fwd": [(l, _forward_kwargs(layers, i)) for i, l in enumerate(layers)],
                          "rev": [(i, l, _backward_kwargs(layers, i, first)) for i, l
                                  in reversed(list(enumerate(layers)))],
                          "grad_layers": [l for l in layers if l.trainable and l._trainable_vars]
                          if self.trainable else []}
        return self._plan

    def _forward(self, x, training):
        for layer, kwargs in self._get_plan()["fwd"]:
            x = layer.forward(x, training, **kwargs)
        return x

    def _train_step(self, x, y, sw):
        plan = self._get_plan()
        out = x
        for layer, kwargs in plan["fwd"]:
            out = layer.forward(out, True, **kwargs)
        self._resolve_metrics(y, out.shape)
        loss, dy = self._loss_obj.value_and_grad(y, out, sw)
        if self._loss_weight != 1.0:
            loss, dy = loss * self._loss_weight, dy * dy.dtype.type(self._loss_weight)
        first = plan["first"]
        for i, layer, kwargs in plan["rev"]:
            if i < first:
                break
            dy = layer.backward(dy, need_dx=i > first, **kwargs)
        grads = [g for layer in plan["grad_layers"] for g in layer._grads]
        if plan["vars"]:
            self.optimizer.apply(grads, plan["vars"])
        n = x.shape[0]
        self._loss_tracker.update_state(loss, sample_weight=n)
        for m in self._compiled_metrics:
            m.update_state(y, out, sw)

    def _test_step(self, x, y, sw):
        out = self._forward(x, False)
        self._resolve_metrics(y, out.shape)
        loss = float(self._loss_obj(y, out, sw)) * self._loss_weight
        self._loss_tracker.update_state(loss, sample_weight=x.shape[0])
        for m in self._compiled_metrics:
            m.update_state(y, out, sw)

    def _reset_metrics(self):
        self._loss_tracker.reset_state()
        for m in self._compiled_metrics or []:
            m.reset_state()

    def _logs(self):
        logs = {"loss": self._loss_tracker.result()}
        for m in self._compiled_metrics or []:
            logs[m.name] = m.result()
        return _sorted_logs(logs)

    def _ordered_results(self, logs):
        """evaluate()'s list: loss, compile metrics in compile order, then the rest sorted."""
        names = ["loss"] + [m.name for m in self._compiled_metrics or []]
        rest = sorted(k for k in logs if k not in names)
        return [logs[k] for k in names + rest if k in logs]

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs`` (the final epoch index); returns a ``History``."""
        self._require_compiled("fit")
        if y is None:
            raise ValueError("cnnext's fit needs arrays `x` and `y`.")
        x = self._prepare_x(x)
        y = np.asarray(y)
        du.check_lengths(x, y, sample_weight)
        if class_weight is not None:
            if sample_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same "
                                 "time.")
            sample_weight = du.class_weights_to_sample_weights(y, class_weight)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float64)
        if validation_data is None and validation_split:
            (x, y, sample_weight), validation_data = du.split(x, y, sample_weight,
                                                            validation_split)
        elif validation_data is not None:
            validation_data = du.unpack_validation(validation_data)
        n = x.shape[0]
        batch_size = du.batch_size_for(batch_size, n, steps_per_epoch)
        steps = steps_per_epoch or max(1, math.ceil(n / batch_size))
        cbs = _callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0,
                                      model=self, verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        self._get_plan()
        if not self.optimizer.built:
            self.optimizer.build(self._plan["vars"])
        with _interrupt.guard():  # Ctrl-C lands between steps, never inside one
            logs = self._fit_epochs(cbs, x, y, sample_weight, validation_data, epochs,
                                    initial_epoch, steps, batch_size, shuffle,
                                    validation_steps, validation_batch_size, validation_freq)
        history = next(c for c in cbs if isinstance(c, _callbacks.History))
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        self.history = history
        return history

    def _fit_epochs(self, cbs, x, y, sample_weight, validation_data, epochs, initial_epoch,
                    steps, batch_size, shuffle, validation_steps, validation_batch_size,
                    validation_freq):
        """The epoch/step loop of `fit`; each training step is atomic w.r.t. SIGINT."""
        n = x.shape[0]
        cbs.on_train_begin()
        logs = {}
        batch_hooks = cbs.wants("on_train_batch_end") or cbs.wants("on_train_batch_begin")
        take = du.BatchTaker(x, y, sample_weight)
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            order = _random.generator().permutation(n) if shuffle and shuffle != "batch" \
                else None
            for step in range(steps):
                lo = (step * batch_size) % n
                hi = min(lo + batch_size, n)
                idx = slice(lo, hi) if order is None else order[lo:hi]
                if shuffle == "batch":
                    idx = lo + _random.generator().permutation(hi - lo)
                if batch_hooks:
                    cbs.on_train_batch_begin(step)
                with _interrupt.atomic():
                    self._train_step(*take(idx))
                if batch_hooks:
                    cbs.on_train_batch_end(step, self._logs())
                if self.stop_training:
                    break
            logs = self._logs()
            if validation_data is not None and du.should_validate(epoch, validation_freq):
                vx, vy, vw = validation_data
                val = self.evaluate(vx, vy, batch_size=validation_batch_size or batch_size,
                                    sample_weight=vw, steps=validation_steps, verbose=0,
                                    return_dict=True, _internal=True)
                logs.update({"val_" + k: v for k, v in val.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return logs

    # ---- evaluate / predict ------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, _internal=False):
        """Loss and metrics on (x, y): a float, a list ``[loss, *metrics]`` or a dict."""
        self._require_compiled("evaluate")
        x = self._prepare_x(x)
        y = np.asarray(y)
        du.check_lengths(x, y, sample_weight)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float64)
        n = x.shape[0]
        batch_size = du.batch_size_for(batch_size, n, steps)
        steps = steps or max(1, math.ceil(n / batch_size))
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0 and not _internal,
                                      model=self, verbose=verbose, epochs=1, steps=steps)
        self._reset_metrics()
        cbs.on_test_begin()
        hooks = cbs.wants("on_test_batch_end")
        for step in range(steps):
            lo = (step * batch_size) % n
            sl = slice(lo, min(lo + batch_size, n))
            self._test_step(x[sl], y[sl], None if sample_weight is None else sample_weight[sl])
            if hooks:
                cbs.on_test_batch_end(step, self._logs())
        logs = self._logs()
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        results = self._ordered_results(logs)
        return results[0] if len(results) == 1 else results

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for x, batch by batch, as one NumPy array (training=False)."""
        x = self._prepare_x(x)
        n = x.shape[0]
        batch_size = du.batch_size_for(batch_size, n, steps)
        steps = steps or max(1, math.ceil(n / batch_size))
        cbs = _callbacks.CallbackList(callbacks, add_progbar=verbose != 0, model=self,
                                      verbose=verbose, epochs=1, steps=steps)
        cbs.on_predict_begin()
        hooks = cbs.wants("on_predict_batch_end")
        outs = []
        for step in range(steps):
            lo = step * batch_size
            if lo >= n:
                break
            out = self._forward(x[lo:lo + batch_size], False)
            outs.append(out)
            if hooks:
                cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        return outs[0].copy() if len(outs) == 1 else np.concatenate(outs, axis=0)

    def predict_on_batch(self, x):
        return self._forward(self._prepare_x(x), False)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; returns the batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x, y = self._prepare_x(x), np.asarray(y)
        if class_weight is not None:
            sample_weight = du.class_weights_to_sample_weights(y, class_weight)
        if not self.optimizer.built:
            self.optimizer.build(self._get_plan()["vars"])
        self._reset_metrics()
        with _interrupt.atomic():
            self._train_step(x, y, None if sample_weight is None else np.asarray(sample_weight))
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y = self._prepare_x(x), np.asarray(y)
        self._reset_metrics()
        self._test_step(x, y, None if sample_weight is None else np.asarray(sample_weight))
        return self._batch_result(return_dict)

    def _batch_result(self, return_dict):
        logs = self._logs()
        if return_dict:
            return logs
        results = self._ordered_results(logs)
        return results[0] if len(results) == 1 else results
