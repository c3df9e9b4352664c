"""What `keras-resnets tune` leaves behind: the results table
(`results.csv`, `results.md`) and the best trial as a training config
(`best_config.yaml`).
"""

import csv
import json
import os
import pathlib

from keras_resnets.tuning.tuners import TRIAL_RECORD
from keras_resnets.tuning.tuners import _count

RESULT_FILES = ("search_config.yaml", "results.csv", "results.md", "best_config.yaml")


class SearchFailedError(RuntimeError):
    """No trial of a search completed (every one failed or was pruned), so
    there is no best configuration; the message says why, in one line."""


def source_note(config):
    """` (from PATH)` of a config read from a file, for file headers."""
    return f" (from {config.path})" if config.path else ""


def results_table(kt, hypermodel):
    """One row per trial: `trial`, `status`, `objective` (best value),
    `params`, `time_s`, `error` (a failed trial's, one line), and
    `hyperparameters`; best first."""
    objective = kt.oracle.objective
    rows = []
    for trial_id, trial in kt.oracle.trials.items():
        record_path = pathlib.Path(kt.get_trial_dir(trial_id)) / TRIAL_RECORD
        record = json.loads(record_path.read_text()) if record_path.is_file() else {}
        status = str(trial.status).split(".")[-1].lower()
        if record.get("status") == "pruned":
            status = "pruned"
        value = None
        if trial.metrics.exists(objective.name):
            value = trial.metrics.get_best_value(objective.name)
        hps = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        rows.append({
            "trial": trial_id,
            "status": status,
            "objective": None if value is None else float(value),
            "params": record.get("params"),
            "time_s": record.get("time_s"),
            "error": record.get("error") if status != "completed" else None,
            "hyperparameters": hps,
        })
    sign = -1 if objective.direction == "max" else 1
    rows.sort(key=lambda r: (r["objective"] is None, sign * (r["objective"] or 0), r["trial"]))
    return rows


def _hp_names(rows):
    names = []
    for row in rows:
        for name in row["hyperparameters"]:
            if name not in names:
                names.append(name)
    return names


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_results(rows, folder):
    """Writes `results.csv` and `results.md` into `folder`."""
    folder = pathlib.Path(folder)
    names = _hp_names(rows)
    with (folder / "results.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "status", "best_objective", "params", "time_s", *names, "error"])
        for r in rows:
            writer.writerow([r["trial"], r["status"], r["objective"], r["params"], r["time_s"],
                             *[r["hyperparameters"].get(n) for n in names], r.get("error") or ""])
    (folder / "results.md").write_text(format_markdown(rows) + "\n")


def format_markdown(rows):
    """The results as a markdown table, best first."""
    names = _hp_names(rows)
    header = ["trial", "status", "best val", "params", "time (s)", *names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["trial"], r["status"], _fmt(r["objective"]), _fmt(r["params"]), _fmt(r["time_s"]),
                 *[_fmt(r["hyperparameters"].get(n)) for n in names]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    failed = [r for r in rows if r.get("error")]
    if failed:
        lines.append("")
        lines += [f"trial {r['trial']} failed: {r['error']}" for r in failed]
    return "\n".join(lines)


def best_completed(rows, *, max_params=None, where=None):
    """The best completed row of a results table (best first).

    Args:
        rows: `results_table`'s rows.
        max_params: the search's parameter budget (named in the message).
        where: the folder holding the results (named in the message).

    Returns:
        The best row with status "completed" and an objective value.

    Raises:
        SearchFailedError: no trial completed: one line with how many
            failed and were pruned, and the first failure's error.
    """
    completed = [r for r in rows if r["status"] == "completed" and r["objective"] is not None]
    if completed:
        return completed[0]
    pruned = [r for r in rows if r["status"] == "pruned"]
    failed = [r for r in rows if r["status"] != "pruned"]
    parts = []
    if failed:
        errors = [r["error"] for r in failed if r.get("error")]
        first = f" (trial {failed[0]['trial']}: {errors[0]})" if errors else ""
        parts.append(f"{len(failed)} failed{first}")
    if pruned:
        smallest = min((r["params"] for r in pruned if r["params"]), default=None)
        budget = f" > max_params {_count(max_params)}" if max_params else ""
        size = f"; the smallest had {_count(smallest)}" if smallest else ""
        parts.append(f"{len(pruned)} pruned before training (parameters{budget}{size}; "
                     "raise max_params or narrow the search space)")
    if not rows:
        parts.append("no trial ran")
    there = f"; see {where}" if where else ""
    raise SearchFailedError(
        f"No trial of the search completed, so there is no best configuration: "
        f"{'; '.join(parts)}{there}."
    )


def run_name(section, source):
    """The run folder name of a best config: the model (its paper name, or
    the family name with its architecture, e.g. `wrn_depth10_k4`), the data
    set (a tfds name or the file's stem) and `_tuned`."""
    section = dict(section)
    name = section.pop("name")
    from keras_resnets import registry

    if registry.model_facts(name).get("family"):
        arch = "_".join(f"{k}{v}" for k, v in section.items()
                        if isinstance(v, (int, str)) and not isinstance(v, bool))
        name = f"{name}_{arch}" if arch else name
    dataset = pathlib.PurePath(str(source)).name
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".npz"):
        if dataset.endswith(suffix):
            dataset = dataset[: -len(suffix)]
            break
    return f"{name}_{dataset}_tuned"


def portable_source(source):
    """`data.source` as a user types it: a tfds name as it is, a local path
    relative to the current folder (absolute when that is impossible)."""
    path = pathlib.Path(source)
    if not path.is_absolute() or not path.exists():
        return str(source)
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(source)


# The search's budget: reset in the exported config, which describes a full
# run (all training images, every test image, no hold-out).
_BUDGET_RESET = {
    "data": {"train_limit": None, "test_limit": None, "validation_size": 0},
    "training": {"steps_per_epoch": None},
}


def export_best_config(config, hypermodel, row, path, *, objective="val_accuracy"):
    """Writes the best trial as the training config of a full run and
    returns its path.

    The file is the recipe of the search's config with the trial's
    hyperparameters, minus the search's budget (which stays in
    `search_config.yaml`): all training images (no `train_limit`, no
    hold-out: `validation_size: 0`), every test image, `tuner.final_epochs`
    epochs (default: the trials' epochs, which the header then points out),
    the data source as typed (a relative path stays relative) and a run
    folder named after the model (`runs/<model>_<data>_tuned`). It is
    validated with the loader `keras-resnets train` uses.

    Args:
        config: the search's `Config` (as loaded, not resolved: the data
            statistics of a limited search are not the full run's).
        hypermodel: the search's `ResidualHyperModel`.
        row: the best row of `results_table`.
        path: where the YAML goes.
        objective: the objective's name, for the header.
    """
    import yaml

    from keras_resnets.training.config import config_from_dict

    values = {n: h.default for n, h in hypermodel.space.items()}
    values.update(row["hyperparameters"])
    raw = config.to_dict()
    raw.pop("tuner", None)
    raw["model"] = hypermodel.model_section(values)
    for section, changes in _BUDGET_RESET.items():
        raw[section].update(changes)
    raw["data"]["source"] = portable_source(config.data.source)
    raw["optimizer"]["learning_rate"] = float(values["learning_rate"])
    raw["optimizer"]["weight_decay"] = float(values["weight_decay"])
    raw["training"]["label_smoothing"] = float(values["label_smoothing"])
    raw["training"]["batch_size"] = int(values["batch_size"])
    trial_epochs = int(values["epochs"])
    final_epochs = config.tuner.final_epochs
    raw["training"]["epochs"] = int(final_epochs or trial_epochs)
    raw["training"]["output_dir"] = str(pathlib.PurePosixPath("runs") / run_name(
        raw["model"], raw["data"]["source"]))
    config_from_dict(raw)  # the loader `keras-resnets train` uses must accept it
    path = pathlib.Path(path)
    d = config.data
    budget = [f"{trial_epochs} epochs per trial"]
    budget += [f"{k}={getattr(d, k)}" for k in ("train_limit", "test_limit", "validation_size")
               if getattr(d, k)]
    if config.training.steps_per_epoch:
        budget.append(f"steps_per_epoch={config.training.steps_per_epoch}")
    epochs_note = (
        f"# training.epochs: {trial_epochs} is the trials' budget (tuner.final_epochs was not "
        "set): raise it for a full run, e.g. --epochs 200.\n" if not final_epochs else ""
    )
    header = (
        f"# Best trial {row['trial']} of keras-resnets tune{source_note(config)}: "
        f"{objective}={row['objective']:.4f}, {row['params']} trainable parameters.\n"
        f"# A full run: every training and test image; the search's budget "
        f"({', '.join(budget)}) is in search_config.yaml.\n"
        f"{epochs_note}"
        f"# Train it with: keras-resnets train {path}\n"
    )
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False))
    return path
