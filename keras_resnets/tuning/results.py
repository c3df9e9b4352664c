"""What `keras-resnets tune` leaves behind: the results table
(`results.csv`, `results.md`) and the best trial as a training config
(`best_config.yaml`).
"""

import csv
import json
import pathlib

from keras_resnets.tuning.tuners import TRIAL_RECORD

RESULT_FILES = ("search_config.yaml", "results.csv", "results.md", "best_config.yaml")


def source_note(config):
    """` (from PATH)` of a config read from a file, for file headers."""
    return f" (from {config.path})" if config.path else ""


def results_table(kt, hypermodel):
    """One row per trial: `trial`, `status`, `objective` (best value),
    `params`, `time_s`, `hyperparameters`; best first."""
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
        writer.writerow(["trial", "status", "best_objective", "params", "time_s", *names])
        for r in rows:
            writer.writerow([r["trial"], r["status"], r["objective"], r["params"], r["time_s"],
                             *[r["hyperparameters"].get(n) for n in names]])
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
    return "\n".join(lines)


def export_best_config(config, hypermodel, row, path, *, objective="val_accuracy"):
    """Writes the best trial as a training config YAML (validated with the
    training config loader) and returns its path."""
    import yaml

    from keras_resnets.training.config import config_from_dict

    values = {n: h.default for n, h in hypermodel.space.items()}
    values.update(row["hyperparameters"])
    raw = config.to_dict()
    raw.pop("tuner", None)
    raw["model"] = hypermodel.model_section(values)
    raw["optimizer"]["learning_rate"] = float(values["learning_rate"])
    raw["optimizer"]["weight_decay"] = float(values["weight_decay"])
    raw["training"]["label_smoothing"] = float(values["label_smoothing"])
    raw["training"]["batch_size"] = int(values["batch_size"])
    raw["training"]["epochs"] = int(values["epochs"])
    raw["training"]["output_dir"] = None
    config_from_dict(raw)  # the loader `keras-resnets train` uses must accept it
    path = pathlib.Path(path)
    header = (
        f"# Best trial {row['trial']} of keras-resnets tune{source_note(config)}: "
        f"{objective}={row['objective']:.4f}, {row['params']} trainable parameters.\n"
        f"# Train it with: keras-resnets train {path}\n"
    )
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False))
    return path
