"""Learning-rate schedules of the papers, evaluated per iteration.

All are `keras.optimizers.schedules.LearningRateSchedule` subclasses written
with `keras.ops`, so they run on every backend, serialize with the optimizer
and resume with it (the step is the optimizer's `iterations`). Epoch-based
recipes are converted to iterations with `steps_per_epoch` (see
`from_config`).
"""

import math

import keras
from keras import ops

from keras_resnets.errors import UserValueError

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


def _step(step):
    return ops.cast(step, "float32")


def _int_list(values):
    return [int(v) for v in values]


def _as_is(value):
    return value


class _Schedule(LearningRateSchedule):
    """Base of the schedules below: their constructor arguments, cast as
    `_ARGUMENTS` says, become attributes of the same name, and `get_config`
    returns them all (plus `name`), so `from_config` rebuilds the schedule."""

    _ARGUMENTS = {}  # constructor argument -> cast (float, int, ...)

    def __init__(self, name=None, **arguments):
        super().__init__()
        for key, cast in self._ARGUMENTS.items():
            setattr(self, key, cast(arguments[key]))
        self.name = name

    def get_config(self):
        return {**{key: getattr(self, key) for key in self._ARGUMENTS}, "name": self.name}


@keras.saving.register_keras_serializable(package="keras_resnets")
class MultiStepDecay(_Schedule):
    """Step decay: `lr = initial_learning_rate * gamma ** k`, k = milestones passed.

    He et al. 2015 (arXiv:1512.03385): 0.1, divided by 10 at 32k and 48k
    iterations; Zagoruyko & Komodakis 2016 (arXiv:1605.07146): x0.2 at epochs
    60, 120 and 160.

    Args:
        initial_learning_rate: float.
        boundaries: increasing iteration counts; from `boundaries[i]` on, the
            rate is multiplied by `gamma ** (i + 1)`.
        gamma: float factor. Defaults to 0.1.

    Example:
    >>> s = MultiStepDecay(0.1, [100, 200], gamma=0.2)
    >>> [round(float(s(i)), 4) for i in (0, 99, 100, 200)]
    [0.1, 0.1, 0.02, 0.004]
    """

    _ARGUMENTS = {"initial_learning_rate": float, "boundaries": _int_list, "gamma": float}

    def __init__(self, initial_learning_rate, boundaries, gamma=0.1, name=None):
        super().__init__(name, initial_learning_rate=initial_learning_rate,
                         boundaries=boundaries, gamma=gamma)

    def __call__(self, step):
        step = _step(step)
        if not self.boundaries:
            return ops.convert_to_tensor(self.initial_learning_rate, "float32")
        boundaries = ops.convert_to_tensor(self.boundaries, "float32")
        passed = ops.sum(ops.cast(ops.greater_equal(step, boundaries), "float32"))
        return self.initial_learning_rate * ops.power(self.gamma, passed)


@keras.saving.register_keras_serializable(package="keras_resnets")
class CosineAnnealing(_Schedule):
    """Cosine annealing without restarts (Loshchilov & Hutter 2016, arXiv:1608.03983).

    `lr = min_lr + (initial_lr - min_lr) * (1 + cos(pi * t / T)) / 2` with
    `t = clip(step - start_step, 0, T)` and `T = decay_steps`; Gastaldi 2017
    (Shake-Shake) anneals from 0.2 to 0 over all of training.

    Args:
        initial_learning_rate: float, the rate at `start_step`.
        decay_steps: int T, iterations from `start_step` to `min_learning_rate`.
        min_learning_rate: float floor. Defaults to 0.
        start_step: int, iterations before the decay starts (e.g. a warm-up).

    Example:
    >>> s = CosineAnnealing(0.2, 100)
    >>> [round(float(s(i)), 4) for i in (0, 50, 100, 150)]
    [0.2, 0.1, 0.0, 0.0]
    """

    _ARGUMENTS = {"initial_learning_rate": float, "decay_steps": int,
                 "min_learning_rate": float, "start_step": int}

    def __init__(self, initial_learning_rate, decay_steps, min_learning_rate=0.0, start_step=0, name=None):
        if decay_steps <= 0:
            raise UserValueError(
                f"`decay_steps` must be > 0. Received: decay_steps={decay_steps!r}"
            )
        super().__init__(name, initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                         min_learning_rate=min_learning_rate, start_step=start_step)

    def __call__(self, step):
        t = ops.clip(_step(step) - self.start_step, 0.0, float(self.decay_steps))
        cosine = 0.5 * (1.0 + ops.cos(math.pi * t / self.decay_steps))
        return self.min_learning_rate + (self.initial_learning_rate - self.min_learning_rate) * cosine


@keras.saving.register_keras_serializable(package="keras_resnets")
class OneCycle(_Schedule):
    """One-cycle policy (Smith & Topin 2018, arXiv:1708.07120), PyTorch's shape.

    Linear from `max_lr / div_factor` up to `max_lr` over the first
    `pct_start * total_steps` iterations, then cosine down to
    `max_lr / div_factor / final_div_factor` at `total_steps`.

    Args:
        max_learning_rate: float, the peak.
        total_steps: int, iterations of the whole run.
        pct_start: float, fraction spent rising. Defaults to 0.3.
        div_factor: float, `max / start`. Defaults to 25.
        final_div_factor: float, `start / end`. Defaults to 1e4.

    Example:
    >>> s = OneCycle(0.2, 100, pct_start=0.25, div_factor=10)
    >>> [round(float(s(i)), 4) for i in (0, 25, 100)]
    [0.02, 0.2, 0.0]
    """

    _ARGUMENTS = {"max_learning_rate": float, "total_steps": int, "pct_start": float,
                 "div_factor": float, "final_div_factor": float}

    def __init__(self, max_learning_rate, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, name=None):
        if total_steps <= 1 or not 0 < pct_start < 1:
            raise UserValueError(
                "`total_steps` must be > 1 and `pct_start` in (0, 1). Received: "
                f"total_steps={total_steps!r}, pct_start={pct_start!r}"
            )
        super().__init__(name, max_learning_rate=max_learning_rate, total_steps=total_steps,
                         pct_start=pct_start, div_factor=div_factor,
                         final_div_factor=final_div_factor)

    def __call__(self, step):
        step = _step(step)
        peak = self.max_learning_rate
        start = peak / self.div_factor
        end = start / self.final_div_factor
        up_steps = max(1.0, self.pct_start * self.total_steps)
        down_steps = max(1.0, self.total_steps - up_steps)
        rising = start + (peak - start) * ops.clip(step / up_steps, 0.0, 1.0)
        t = ops.clip((step - up_steps) / down_steps, 0.0, 1.0)
        falling = end + (peak - end) * 0.5 * (1.0 + ops.cos(math.pi * t))
        return ops.where(step < up_steps, rising, falling)


@keras.saving.register_keras_serializable(package="keras_resnets")
class Warmup(_Schedule):
    """Warm-up in front of another schedule.

    For `step < warmup_steps` the rate is `warmup_learning_rate` (`"constant"`,
    He et al. 2015's ResNet-110: 0.01 for about 400 iterations, then 0.1) or
    rises linearly from `warmup_learning_rate` to `schedule(warmup_steps)`
    (`"linear"`, Goyal et al. 2017). Afterwards it is `schedule(step)`, the
    step not shifted, so milestones stay where the paper put them.

    Args:
        schedule: a `LearningRateSchedule` (or a float: constant).
        warmup_steps: int.
        warmup_learning_rate: float, the rate at step 0. Defaults to 0.
        mode: `"linear"` or `"constant"`.

    Example:
    >>> s = Warmup(MultiStepDecay(0.1, [1000]), 400, 0.01, mode="constant")
    >>> [round(float(s(i)), 4) for i in (0, 399, 400, 1000)]
    [0.01, 0.01, 0.1, 0.01]
    """

    _ARGUMENTS = {"schedule": _as_is, "warmup_steps": int, "warmup_learning_rate": float,
                 "mode": _as_is}

    def __init__(self, schedule, warmup_steps, warmup_learning_rate=0.0, mode="linear", name=None):
        if mode not in ("linear", "constant"):
            raise UserValueError(
                f"`mode` must be 'linear' or 'constant'. Received: mode={mode!r}"
            )
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        super().__init__(name, schedule=schedule, warmup_steps=warmup_steps,
                         warmup_learning_rate=warmup_learning_rate, mode=mode)

    def _after(self, step):
        if isinstance(self.schedule, LearningRateSchedule):
            return self.schedule(step)
        return ops.convert_to_tensor(float(self.schedule), "float32")

    def __call__(self, step):
        step = _step(step)
        after = self._after(step)
        if self.warmup_steps <= 0:
            return after
        if self.mode == "constant":
            during = ops.convert_to_tensor(self.warmup_learning_rate, "float32")
        else:
            target = self._after(float(self.warmup_steps))
            frac = step / self.warmup_steps
            during = self.warmup_learning_rate + (target - self.warmup_learning_rate) * frac
        return ops.where(step < self.warmup_steps, during, after)

    def get_config(self):
        config = super().get_config()
        if isinstance(self.schedule, LearningRateSchedule):
            config["schedule"] = keras.saving.serialize_keras_object(self.schedule)
        return config


def from_config(schedule, learning_rate, *, steps_per_epoch, epochs):
    """Builds the schedule a `ScheduleConfig` describes, in iterations.

    Args:
        schedule: `keras_resnets.training.config.ScheduleConfig`.
        learning_rate: float, the base (peak) rate.
        steps_per_epoch: int, iterations per epoch.
        epochs: int, length of the run (cosine / one-cycle end there).

    Returns:
        A `LearningRateSchedule`, or the float `learning_rate` for a
        constant rate without warm-up.
    """
    total = max(1, int(steps_per_epoch * epochs))
    if schedule.warmup_steps is not None:
        warmup = int(schedule.warmup_steps)
    else:
        warmup = int(round(schedule.warmup_epochs * steps_per_epoch))
    warmup = min(warmup, total - 1) if warmup else 0
    name = schedule.name
    if name == "constant":
        inner = learning_rate
    elif name == "step":
        if schedule.milestone_steps is not None:
            boundaries = list(schedule.milestone_steps)
        else:
            boundaries = [int(round(m * steps_per_epoch)) for m in schedule.milestones]
        inner = MultiStepDecay(learning_rate, boundaries, gamma=schedule.gamma)
    elif name == "cosine":
        inner = CosineAnnealing(
            learning_rate,
            max(1, total - warmup),
            min_learning_rate=schedule.min_learning_rate,
            start_step=warmup,
        )
    elif name == "onecycle":
        return OneCycle(
            learning_rate,
            max(2, total),
            pct_start=schedule.pct_start,
            div_factor=schedule.div_factor,
            final_div_factor=schedule.final_div_factor,
        )
    else:
        raise UserValueError(
            "`schedule.name` must be one of 'constant', 'step', 'cosine', "
            f"'onecycle'. Received: schedule.name={name!r}"
        )
    if warmup:
        start = schedule.warmup_learning_rate
        if start is None:
            start = 0.0 if schedule.warmup_mode == "linear" else learning_rate / 10
        return Warmup(inner, warmup, start, mode=schedule.warmup_mode)
    return inner
