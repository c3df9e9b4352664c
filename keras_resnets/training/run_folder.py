"""A run folder belongs to one run: its fingerprint and the resume checks.

`train` writes `run.json` when it creates a run folder. It holds the run's
fingerprint: the resolved config, the data set's identity (its `source` and
the examples per split, image shape and number of classes found there), the
Keras backend and the keras_resnets version. The same command on the same
folder resumes only when the fingerprint matches; anything else is refused
before the folder is touched, naming what differs.

Keys that do not make another run, and so are left out of the fingerprint
(`IGNORED_KEYS`): `training.epochs` (a larger value extends the run),
`training.verbose`, `training.output_dir`, `training.tensorboard`,
`training.jit_compile` and `training.steps_per_execution` (how the same
maths is compiled and dispatched), `data.data_dir`,
`data.cache_dir`, `data.eval_batch_size` (where data is kept and how
evaluation is batched), `data.loader` (tf.data or numpy: the same
preprocessing, so a run started with TensorFlow resumes on a machine
without it) and the `tuner` section (unused by `train`). `data.augment_on`
counts (a device run's backup also holds its input stage's random state);
a run.json from before it existed matches `host` (`ADDED_KEYS`).
`training.mixed_precision` is recorded but may change on resume
(`CHANGEABLE_KEYS`): `auto` keeps the run's precision on any processor, and
an explicit other value continues the run in it (say, float32 on a machine
without bfloat16 units), after which run.json records it.

Folders made before `run.json` existed are resumed only when their
`config.yaml` matches the new resolved config (keys it lacks are skipped)
and their `metrics.json`, if any, names the same backend; `run.json` is then
written. Without a `config.yaml` they are refused.
"""

import dataclasses
import json
import pathlib
import shutil

from keras_resnets.training.checkpoints import atomic_write_text
from keras_resnets.training.config_sections import ConfigError

RUN_FILES = ("run.json", "config.yaml", "preprocessing.json", "backup", "last.keras",
             "best.keras", "best.json", "log.csv", "tensorboard", "metrics.json", "curves.png")
# Also ours, but not in every run: the folders of other workers of a
# multi-worker run.
_OTHER_RUN_ENTRIES = ("workers",)

IGNORED_KEYS = frozenset({
    "training.epochs", "training.verbose", "training.output_dir", "training.tensorboard",
    "training.jit_compile", "data.data_dir", "data.cache_dir", "data.eval_batch_size",
    "data.loader", "training.steps_per_execution",
})
_IGNORED_SECTIONS = ("tuner",)
# Keys a resumed run may change, and run.json then records the new value:
# the precision (`auto` keeps the run's, see `trainer._apply_precision`; an
# explicit value moves a run to a machine where its precision is emulated).
CHANGEABLE_KEYS = frozenset({"training.mixed_precision"})
# Keys added after run.json existed, each with the value that does what the
# versions before it did: a stored fingerprint without the key matches it.
ADDED_KEYS = {"data.augment_on": "host"}
_MAX_DIFFERENCES = 3


def fingerprint(resolved_config, info, *, backend, version):
    """What makes a run this run (see the module docstring).

    Args:
        resolved_config: the `Config` as written to `config.yaml`.
        info: the data set's `DatasetInfo`.
        backend: str, the Keras backend.
        version: str, the keras_resnets version.

    Returns:
        A JSON-ready dict.
    """
    config = {
        section: {k: v for k, v in values.items() if f"{section}.{k}" not in IGNORED_KEYS}
        for section, values in resolved_config.to_dict().items()
        if section not in _IGNORED_SECTIONS
    }
    dataset = {
        "num_examples": dict(info.num_examples),
        "image_shape": list(info.image_shape),
        "num_classes": int(info.num_classes),
    }
    return _json_copy({"config": config, "dataset": dataset, "backend": backend,
                       "keras_resnets_version": version})


@dataclasses.dataclass(frozen=True)
class RunState:
    """What `inspect` found in a run folder.

    Attributes:
        kind: `"new"` (nothing to resume), `"resume"` or `"finished"`.
        epochs_done: epochs the saved state holds.
        metrics: the finished run's `metrics.json` (`"finished"` only).
        needs_fingerprint: `run.json` is to be written (new or older folder).
        note: a line about what was decided, for the user.
    """

    kind: str
    epochs_done: int = 0
    metrics: dict | None = None
    needs_fingerprint: bool = True
    note: str = ""


def inspect(run_dir, current, epochs, *, epochs_done, overwrite=False, chief_dir=None):
    """Decides whether `run_dir` starts, resumes or already finished the run.

    Reads only; `train` acts on the answer after every other check.

    Args:
        run_dir: the run folder (may not exist).
        current: the new run's `fingerprint`.
        epochs: the new run's `training.epochs`.
        epochs_done: epochs the run's newest intact training state holds
            (`checkpoints.latest_state` of the backup it restores: the
            chief's in a multi-worker run), read once by the caller.
        overwrite: start over (the run files are to be cleared).
        chief_dir: for another worker of a multi-worker run, the chief's run
            folder: `run_dir` is checked as above, but whether the run
            finished and the epochs it holds are the chief's (every worker
            restores the chief's state, so all resume at the same epoch).

    Returns:
        A `RunState`.

    Raises:
        ConfigError: the folder holds another run, more epochs than asked,
            or files that are not a run's.
    """
    run_dir = pathlib.Path(run_dir)
    state = _inspect_own(run_dir, current, epochs, epochs_done, overwrite)
    if chief_dir is None or pathlib.Path(chief_dir) == run_dir or overwrite:
        return state
    chief = _progress(pathlib.Path(chief_dir), epochs, epochs_done, state.needs_fingerprint)
    if chief.kind == "resume" and state.kind == "new" and chief.epochs_done == 0:
        return state
    return dataclasses.replace(chief, note=state.note)


def _inspect_own(run_dir, current, epochs, done, overwrite):
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"training.output_dir={str(run_dir)!r} is a file, not a folder.")
    entries = _entries(run_dir)
    ours = entries & set(RUN_FILES)
    if not ours:
        foreign = sorted(entries - set(_OTHER_RUN_ENTRIES))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise ConfigError(
                f"{run_dir} exists and is not a run folder (it holds {shown}); "
                "use --output with a new or empty folder."
            )
        return RunState("new")
    if overwrite:
        return RunState("new", note="overwriting: its run files were removed")
    metrics = _read_json(run_dir / "metrics.json")
    if "run.json" in entries:
        stored = (_read_json(run_dir / "run.json") or {}).get("fingerprint")
        _refuse_if_different(run_dir, stored, current, legacy=False)
        needs_fingerprint, note = False, ""
    else:
        stored_config = _read_yaml(run_dir / "config.yaml")
        if stored_config is None:
            raise ConfigError(
                f"{run_dir} holds run files of an older keras-resnets without a config.yaml "
                "to check them against; use --output NEW_DIR or --overwrite."
            )
        stored = {"config": stored_config}
        if metrics and "backend" in metrics:
            stored["backend"] = metrics["backend"]
        _refuse_if_different(run_dir, stored, current, legacy=True)
        needs_fingerprint = True
        note = "made before run.json; its config.yaml matches, run.json added"
    return dataclasses.replace(_progress(run_dir, epochs, done, needs_fingerprint), note=note)


def _progress(run_dir, epochs, done, needs_fingerprint):
    """`"finished"` or `"resume"` from the run's metrics.json and the
    epochs its backup holds (`done`)."""
    metrics = _read_json(run_dir / "metrics.json")
    if metrics and _finished(metrics) and metrics.get("epochs") == epochs:
        return RunState("finished", epochs_done=done, metrics=metrics,
                        needs_fingerprint=needs_fingerprint)
    if done > epochs:
        raise ConfigError(
            f"{run_dir} already holds {done} epochs, more than training.epochs={epochs}; "
            f"use --epochs {done} or more, --output NEW_DIR or --overwrite."
        )
    return RunState("resume", epochs_done=done, needs_fingerprint=needs_fingerprint)


def clear(run_dir):
    """Removes the run files (and leftover temporary files) of `run_dir`;
    other files stay."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        return
    names = set(RUN_FILES) | set(_OTHER_RUN_ENTRIES)
    for path in run_dir.iterdir():
        if path.name in names or _is_temporary(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def write(run_dir, current):
    """Writes `run.json` (the fingerprint) into `run_dir` (atomically; left
    untouched when it already says the same)."""
    atomic_write_text(
        pathlib.Path(run_dir) / "run.json",
        json.dumps({"fingerprint": current}, indent=2) + "\n", if_changed=True,
    )


def stored_precision(run_dir):
    """The dtype policy the run in `run_dir` was started with (its
    fingerprint's `training.mixed_precision`), or None."""
    stored = (_read_json(pathlib.Path(run_dir) / "run.json") or {}).get("fingerprint") or {}
    value = stored.get("config", {}).get("training", {}).get("mixed_precision")
    return value if isinstance(value, str) and value != "auto" else None


def differences(stored, current, *, skip_missing=False):
    """`["key old -> new", ...]` between two fingerprints (dotted keys;
    the config's keys without a prefix)."""
    old, new = _flatten(stored), _flatten(current)
    out = []
    for key in sorted(set(old) | set(new), key=_key_order):
        if key not in old and skip_missing:
            continue
        if old.get(key, _MISSING) != new.get(key, _MISSING):
            out.append(f"{key} {_show(old.get(key, _MISSING))} -> {_show(new.get(key, _MISSING))}")
    return out


# === Helpers ===

_MISSING = object()


def _refuse_if_different(run_dir, stored, current, *, legacy):
    if not isinstance(stored, dict):
        raise ConfigError(
            f"{run_dir}/run.json is not a keras-resnets fingerprint; use --output NEW_DIR "
            "or --overwrite."
        )
    if legacy:
        # An older config.yaml: compare what it has, minus what never matters.
        stored = _json_copy(stored)
        for section in _IGNORED_SECTIONS:
            stored["config"].pop(section, None)
        for key in IGNORED_KEYS:
            section, name = key.split(".")
            stored["config"].get(section, {}).pop(name, None)
        current = {k: v for k, v in current.items() if k in stored}
    current = _without_added_keys(stored, current)
    stored, current = _json_copy(stored), _json_copy(current)
    for key in CHANGEABLE_KEYS:
        section, name = key.split(".")
        for fingerprint in (stored, current):
            fingerprint.get("config", {}).get(section, {}).pop(name, None)
    diff = differences(stored, current, skip_missing=legacy)
    if diff:
        more = len(diff) - _MAX_DIFFERENCES
        shown = ", ".join(diff[:_MAX_DIFFERENCES]) + (f" and {more} more" if more > 0 else "")
        raise ConfigError(
            f"{run_dir} holds a different run: {shown}; use --output NEW_DIR or --overwrite."
        )


def _without_added_keys(stored, current):
    """`current` without the `ADDED_KEYS` that `stored` predates and whose
    value is the one that behaves as before."""
    current = _json_copy(current)
    for key, before in ADDED_KEYS.items():
        section, name = key.split(".")
        values = current.get("config", {}).get(section, {})
        if name not in stored.get("config", {}).get(section, {}) and values.get(name) == before:
            values.pop(name)
    return current


def _finished(metrics):
    if "status" in metrics:
        return metrics["status"] == "finished"
    return "finished" in metrics  # older versions wrote metrics.json only at the end


def _entries(run_dir):
    if not run_dir.is_dir():
        return set()
    return {p.name for p in run_dir.iterdir() if not _is_temporary(p.name)}


def _is_temporary(name):
    return name.startswith(".") and ".tmp" in name


def _read_json(path):
    try:
        value = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _read_yaml(path):
    import yaml

    try:
        value = yaml.safe_load(pathlib.Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return value if isinstance(value, dict) else None


def _json_copy(value):
    return json.loads(json.dumps(value, default=_plain))


def _plain(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serializable: {value!r}")


def _flatten(tree, prefix=""):
    out = {}
    for key, value in (tree or {}).items():
        # The config's keys read as in the YAML file: `optimizer.learning_rate`.
        name = "" if (prefix == "" and key == "config") else f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{name}." if name else ""))
        else:
            out[name] = value
    return out


def _key_order(key):
    # What the user set first; then what follows from the data; then the rest.
    if key in ("data.mean", "data.std"):
        group = 1
    elif key.startswith("dataset."):
        group = 2
    elif key in ("backend", "keras_resnets_version"):
        group = 3
    else:
        group = 0
    return group, key


def _show(value):
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, str) and value and " " not in value:
        return value
    if isinstance(value, list) and all(isinstance(v, float) for v in value):
        text = "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    else:
        text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
