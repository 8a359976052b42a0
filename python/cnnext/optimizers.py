"""Adam, SGD and RMSprop with Keras 3 defaults and update rules.

Each step is one fused C++ call over every parameter (``cnnext.ops.adam_update`` ...) that
updates the weights and the slots in place. ``variables`` lists the state in Keras's order
(iteration, learning_rate, then the slots) for saving.
"""
import math
import numbers
import warnings

import numpy as np

from . import _backend, _interrupt, _naming
from ._variable import Variable

__all__ = ["Optimizer", "Adam", "SGD", "RMSprop", "get", "serialize", "deserialize"]

_BASE_ARGS = ("learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
              "use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
              "gradient_accumulation_steps", "name")


class Optimizer:
    """Base optimizer: learning rate, clipping, decoupled weight decay, ``iterations``."""

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if "decay" in kwargs:
            kwargs.pop("decay")
            warnings.warn("Argument `decay` is no longer supported and will be ignored.")
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        if use_ema or gradient_accumulation_steps or loss_scale_factor:
            raise ValueError("cnnext optimizers do not support use_ema, loss_scale_factor or "
                             "gradient_accumulation_steps yet.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be "
                             f"set. Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                             f"global_clipnorm={global_clipnorm}")
        self.name = name or _naming.auto_name(self)
        self.weight_decay, self.clipnorm = weight_decay, clipnorm
        self.clipvalue, self.global_clipnorm = clipvalue, global_clipnorm
        self.use_ema, self.ema_momentum = use_ema, ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self._schedule = None
        if callable(learning_rate):
            self._schedule, learning_rate = learning_rate, learning_rate(0)
        elif isinstance(learning_rate, bool) or not isinstance(learning_rate, float):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current iteration value "
                f"and returns the corresponding learning rate value). Received instead: "
                f"learning_rate={learning_rate}")
        self._iterations = Variable(np.zeros((), np.int32), "iteration")  # as Keras writes it
        self._learning_rate = Variable(np.array(learning_rate, np.float32), "learning_rate")
        self._slots = []
        self._params = None
        self.built = False

    # ---- learning rate and step counter ------------------------------------------------------
    @property
    def iterations(self):
        return self._iterations

    @property
    def learning_rate(self):
        """The float32 learning-rate variable: ``float(lr)``, ``lr.numpy()``, ``lr.assign(x)``
        and arithmetic work; assigning ``optimizer.learning_rate = x`` sets it too."""
        if self._schedule is not None:
            self._current_lr()
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._schedule = None
        self._learning_rate.value[...] = float(value)

    @property
    def variables(self):
        return [self._iterations, self._learning_rate] + self._slots

    def _current_lr(self):
        if self._schedule is not None:
            self._learning_rate.value[...] = float(self._schedule(int(self._iterations.value)))
        return float(self._learning_rate.value)

    # ---- building and applying ---------------------------------------------------------------
    def add_variable_from_reference(self, ref, name):
        var = Variable(np.zeros(ref.shape, ref.dtype), f"{ref.name}_{name}",
                       path=f"{self.name}/{ref.path.replace('/', '_')}_{name}")
        self._slots.append(var)
        return var

    def build(self, var_list):
        self._params = list(var_list)
        self._param_arrays = [v.value for v in self._params]
        self.built = True

    def _bind(self, variables):
        """Build on first use; later calls may pass other variables of the same shapes
        (e.g. a reloaded model), which keep the optimizer state."""
        if not self.built:
            self.build(variables)
            return
        if [id(v) for v in variables] == [id(v) for v in self._params]:
            return
        if [v.shape for v in variables] != [v.shape for v in self._params]:
            raise ValueError("The optimizer was built for variables of shapes "
                             f"{[v.shape for v in self._params]}; received "
                             f"{[v.shape for v in variables]}.")
        self._params = list(variables)
        self._param_arrays = [v.value for v in self._params]

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads, trainable_variables=None):
        """One step: clip -> weight decay -> update rule -> iterations += 1."""
        if trainable_variables is not None:
            self._bind(trainable_variables)
        if not self.built:
            raise ValueError("Call `optimizer.build(variables)` or pass `trainable_variables`.")
        if len(grads) != len(self._params):
            raise ValueError(f"Expected {len(self._params)} gradients, one per variable. "
                             f"Received: {len(grads)}")
        grads = self._clip(grads)
        lr = self._current_lr()
        with _interrupt.atomic():  # Ctrl-C never leaves a half-applied step
            if self.weight_decay:
                for w in self._param_arrays:
                    w -= w * np.asarray(self.weight_decay * lr, w.dtype)
            self._update(self._param_arrays, grads, lr, int(self._iterations.value) + 1)
            self._iterations.value += 1

    def _clip(self, grads):
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            out = []
            for g in grads:
                norm = math.sqrt(float(np.dot(g.ravel(), g.ravel())))
                out.append(g * (self.clipnorm / norm) if norm > self.clipnorm else g)
            return out
        if self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
            if norm > self.global_clipnorm:
                return [g * (self.global_clipnorm / norm) for g in grads]
        return grads

    def _update(self, params, grads, lr, step):
        raise NotImplementedError

    # ---- config ------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "learning_rate": float(self._learning_rate.value),
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            raise ValueError("cnnext cannot load learning-rate schedules from a config.")
        if lr is not None:
            config["learning_rate"] = float(lr)
        return cls(**config)


def _float_in_unit(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a float. Received: {name}={value!r}")
    return float(value)


class Adam(Optimizer):
    """Adam (Kingma & Ba) in Keras's epsilon-hat form:
    ``w -= lr·√(1−β2^t)/(1−β1^t) · m / (√v + ε)``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _float_in_unit(beta_1, "beta_1")
        self.beta_2 = _float_in_unit(beta_2, "beta_2")
        self.epsilon = _float_in_unit(epsilon, "epsilon")
        self.amsgrad = bool(amsgrad)

    def build(self, var_list):
        super().build(var_list)
        self._slots = []
        ms, vs = [], []
        for var in self._params:
            ms.append(self.add_variable_from_reference(var, "momentum").value)
            vs.append(self.add_variable_from_reference(var, "velocity").value)
        vhats = ([self.add_variable_from_reference(v, "velocity_hat").value
                  for v in self._params] if self.amsgrad else None)
        self._m, self._v, self._vhat = ms, vs, vhats

    def _update(self, params, grads, lr, step):
        _backend.adam_update(params, grads, self._m, self._v, self._vhat, lr, self.beta_1,
                             self.beta_2, self.epsilon, step)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                       "amsgrad": self.amsgrad})
        return config


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum: ``m = μ·m − lr·g; w += m``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def build(self, var_list):
        super().build(var_list)
        self._slots = []
        self._moments = ([self.add_variable_from_reference(v, "momentum").value
                          for v in self._params] if self.momentum != 0 else None)

    def _update(self, params, grads, lr, step):
        _backend.sgd_update(params, grads, self._moments, lr, self.momentum, self.nesterov)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config


class RMSprop(Optimizer):
    """RMSprop: ``v = ρ·v + (1−ρ)·g²; w -= lr·g/√(v + ε)`` (centered and momentum variants)."""

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = _float_in_unit(rho, "rho")
        self.momentum = _float_in_unit(momentum, "momentum")
        self.epsilon = _float_in_unit(epsilon, "epsilon")
        self.centered = bool(centered)

    def build(self, var_list):
        super().build(var_list)
        self._slots = []
        self._vel = [self.add_variable_from_reference(v, "velocity").value for v in self._params]
        self._mom = ([self.add_variable_from_reference(v, "momentum").value
                      for v in self._params] if self.momentum > 0 else None)
        self._mg = ([self.add_variable_from_reference(v, "average_gradient").value
                     for v in self._params] if self.centered else None)

    def _update(self, params, grads, lr, step):
        _backend.rmsprop_update(params, grads, self._vel, self._mg, self._mom, lr, self.rho,
                                self.momentum, self.epsilon, self.centered)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                       "centered": self.centered})
        return config


_CLASSES = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


def serialize(optimizer):
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config):
    if not isinstance(config, dict):
        raise ValueError(f"Could not interpret optimizer identifier: {config!r}")
    cls = _CLASSES.get(str(config.get("class_name", "")).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {config!r}")
    return cls.from_config(config.get("config") or {})


def get(identifier):
    """An optimizer from an instance, a name ('adam', 'SGD', case-insensitive) or a config."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in _CLASSES:
        return _CLASSES[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}")
