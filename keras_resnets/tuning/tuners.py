"""The keras-tuner side of `keras-resnets tune`: tuner classes by name, and
`recording_tuner`, a tuner subclass that records each trial.

keras-tuner has no public hook for what `recording_tuner` needs, so its
subclass overrides `run_trial` and `on_trial_end` (public) and
`_configure_tensorboard_dir` (private: keras-tuner 1.4 imports TensorBoard in
every trial on the TensorFlow backend), and switches keras-tuner's internal
`DEBUG` flag off while a pruned trial ends (`_tuner_config_module`). Both are
guarded: a keras-tuner that moved them loses only the quieter output.
"""

import json
import pathlib
import time

TUNERS = {
    "random_search": "RandomSearch",
    "hyperband": "Hyperband",
    "bayesian_optimization": "BayesianOptimization",
}
TRIAL_RECORD = "keras_resnets_trial.json"


def tuner_class(name):
    """`(canonical name, keras_tuner class)` of a tuner name or alias
    (`RandomSearch`, `bayes`, ...); a ValueError listing the valid ones when
    unknown."""
    import keras_tuner

    from keras_resnets.training.config import tuner_name

    key = tuner_name(name)
    return key, getattr(keras_tuner, TUNERS[key])


def _count(n):
    """12300000 -> "12.3M", 677274 -> "677k"."""
    if n >= 1e6:
        return f"{n / 1e6:.3g}M"
    if n >= 1e3:
        return f"{n / 1e3:.3g}k"
    return f"{n:g}"


def one_line_error(error):
    """`Type: message` of an exception on one line (a failed trial's record)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _tuner_config_module():
    """keras-tuner's internal config (its `DEBUG` prints the traceback of
    every failed trial); None if a keras-tuner version moved it."""
    import importlib

    try:
        return importlib.import_module("keras_tuner.src.config")
    except ImportError:
        return None


def recording_tuner(base):
    """`base` (a keras_tuner tuner class) with `run_trial` writing each
    trial's parameters, time and status (completed / pruned / failed, with
    the error of a failed one) to its trial folder, one line instead of a
    traceback per pruned trial, and without keras-tuner's unconditional
    tensorboard import on the TensorFlow backend when no TensorBoard callback
    is used."""
    from keras_resnets.tuning.hypermodels import ParameterBudgetExceeded

    class RecordingTuner(base):
        _pruned_message = None
        _debug = None

        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            if any(type(c).__name__ == "TensorBoard" for c in callbacks):
                super()._configure_tensorboard_dir(callbacks, trial, execution)

        def run_trial(self, trial, *args, **kwargs):
            start, status, error = time.time(), "failed", None
            try:
                result = super().run_trial(trial, *args, **kwargs)
                status = "completed"
                return result
            except ParameterBudgetExceeded:
                status = "pruned"
                self._prune(trial)
                raise
            except Exception as e:  # keras-tuner marks the trial failed (and prints it)
                error = one_line_error(e)
                raise
            finally:
                folder = pathlib.Path(self.get_trial_dir(trial.trial_id))
                folder.mkdir(parents=True, exist_ok=True)
                record = {
                    "status": status,
                    "params": self.hypermodel.last_params,
                    "time_s": round(time.time() - start, 3),
                }
                if error is not None:
                    record["error"] = error
                (folder / TRIAL_RECORD).write_text(json.dumps(record))

        def _prune(self, trial):
            # Pruning is a normal event: keras-tuner would print the
            # traceback of the exception (its DEBUG flag, on by default);
            # keep its message to one line and turn DEBUG off until
            # `on_trial_end`.
            hm = self.hypermodel
            self._pruned_message = (
                f"trial {trial.trial_id} pruned: {_count(hm.last_params)} parameters > "
                f"max_params {_count(hm.max_params)}"
            )
            config = _tuner_config_module()
            if config is not None and self._debug is None:
                self._debug, config.DEBUG = config.DEBUG, False
            if getattr(self.oracle, "verbose", 1) not in (0, "0"):
                print(self._pruned_message, flush=True)

        def on_trial_end(self, trial):
            if self._pruned_message is not None:
                trial.message = self._pruned_message
                self._pruned_message = None
                config = _tuner_config_module()
                if config is not None and self._debug is not None:
                    config.DEBUG, self._debug = self._debug, None
            super().on_trial_end(trial)

    RecordingTuner.__name__ = f"Recording{base.__name__}"
    return RecordingTuner


def make_tuner(config, hypermodel, *, directory, distribution_strategy=None):
    """The keras-tuner tuner of `config.tuner` in `directory` (resumes
    unless `tuner.overwrite`)."""
    import keras_tuner

    tuner = config.tuner
    _, base = tuner_class(tuner.name)
    common = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(
            tuner.objective, "min" if "loss" in tuner.objective else "max"
        ),
        seed=tuner.seed if tuner.seed is not None else config.training.seed,
        executions_per_trial=tuner.executions_per_trial,
        max_consecutive_failed_trials=tuner.max_consecutive_failed_trials or tuner.max_trials + 1,
        distribution_strategy=distribution_strategy,
        directory=str(directory),
        project_name=tuner.project_name,
        overwrite=tuner.overwrite,
    )
    cls = recording_tuner(base)
    if tuner.name == "hyperband":
        return cls(
            max_epochs=tuner.max_epochs or config.training.epochs, factor=tuner.factor,
            hyperband_iterations=tuner.hyperband_iterations, **common,
        )
    if tuner.name == "bayesian_optimization":
        return cls(
            max_trials=tuner.max_trials, num_initial_points=tuner.num_initial_points,
            alpha=tuner.alpha, beta=tuner.beta, **common,
        )
    return cls(max_trials=tuner.max_trials, **common)
