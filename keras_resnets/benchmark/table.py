"""The ours-vs-PyTorch table of `compare`: the medians, PyTorch's
best, the ratios and the fractions of the matmul peak (`summarize`), and
their markdown (`format_markdown`).

Both take plain dicts (the run records of `compare.normalize` and
the peaks of `compare.measure_peaks`), so they are tested without
running anything.
"""

import statistics

from keras_resnets.benchmark import run as benchmark
from keras_resnets.benchmark.peak import PEAK_DTYPES


def _median(values):
    values = [v for v in values if v is not None]  # None: not measured (OpenVINO's training)
    return statistics.median(values) if values else None


def summarize(runs, peaks):
    """Rows of the table from run records and measured peaks.

    Args:
        runs: list of dicts with `model`, `framework`, `label`, `repeat` and
            either `error` or the `normalize` keys (`train`, `infer`,
            `precision`, and for ours `macs_per_image`).
        peaks: dict dtype -> {"gflops": best GFLOP/s, ...}.

    Returns:
        A list of dicts, one per (model, ours config): the medians of ours and
        of every PyTorch config, PyTorch's best for training and inference
        (value and config), the ratios, and ours' GFLOP/s and fractions of
        the peak.
    """
    models = list(dict.fromkeys(r["model"] for r in runs))
    rows = []
    for model in models:
        mine = [r for r in runs if r["model"] == model]
        medians = {}
        for framework, label in dict.fromkeys((r["framework"], r["label"]) for r in mine):
            ok = [r for r in mine if r["framework"] == framework and r["label"] == label
                  and "error" not in r]
            failed = [r["error"] for r in mine if r["framework"] == framework
                      and r["label"] == label and "error" in r]
            medians[(framework, label)] = {
                "train": _median([r["train"] for r in ok]),
                "infer": _median([r["infer"] for r in ok]),
                "train_runs": [r["train"] for r in ok if r["train"] is not None],
                "infer_runs": [r["infer"] for r in ok],
                "infer_unfolded": _median([r["infer_unfolded"] for r in ok
                                           if r.get("infer_unfolded") is not None]),
                "infer_model": ok[0].get("infer_model") if ok else None,
                "latency_ms": _median([r.get("latency_ms") for r in ok]),
                "precision": ok[0]["precision"] if ok else None,
                "macs_per_image": ok[0].get("macs_per_image") if ok else None,
                "errors": failed,
            }
        torch = {label: m for (fw, label), m in medians.items() if fw == "pytorch"}
        best = {}
        for kind in ("train", "infer"):
            measured = {label: m[kind] for label, m in torch.items() if m[kind] is not None}
            label = max(measured, key=measured.get) if measured else None
            best[kind] = (measured[label], label) if label else (None, None)
        macs = next((m["macs_per_image"] for m in medians.values() if m["macs_per_image"]), None)
        for (framework, label), m in medians.items():
            if framework != "ours":
                continue
            dtype = PEAK_DTYPES.get(m["precision"])
            peak = (peaks.get(dtype) or {}).get("gflops") if dtype else None
            row = {"model": model, "ours_label": label, "ours_precision": m["precision"],
                   "ours_train": m["train"], "ours_infer": m["infer"],
                   "ours_infer_model": m["infer_model"],
                   "ours_infer_unfolded": m["infer_unfolded"],
                   "ours_latency_ms": m["latency_ms"],
                   "ours_train_runs": m["train_runs"], "ours_infer_runs": m["infer_runs"],
                   "ours_errors": m["errors"],
                   "torch": {lab: {k: t[k] for k in ("train", "infer", "train_runs",
                                                     "infer_runs", "errors")}
                             for lab, t in torch.items()},
                   "torch_best_train": best["train"][0], "torch_best_train_config": best["train"][1],
                   "torch_best_infer": best["infer"][0], "torch_best_infer_config": best["infer"][1],
                   "macs_per_image": macs, "peak_dtype": dtype, "peak_gflops": peak}
            for kind in ("train", "infer"):
                ours, theirs = m[kind], best[kind][0]
                row[f"ratio_{kind}"] = ours / theirs if ours and theirs else None
                gflops = benchmark.gflops(ours, macs, kind) if ours and macs else None
                row[f"ours_{kind}_gflops"] = gflops
                row[f"ours_{kind}_peak_fraction"] = gflops / peak if gflops and peak else None
            rows.append(row)
    return rows


def _ips(value, missing="failed"):
    if value is None:
        return missing
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _gflops(value, fraction):
    if value is None:
        return "n/a"
    text = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return f"{text} ({fraction:.0%})" if fraction is not None else text


def _ratio(value):
    return f"{value:.2f}x" if value is not None else "n/a"


def format_markdown(rows, header):
    """The markdown table, its header lines and the raw medians per config."""
    peaks = header.get("peaks", {})
    peak_text = ", ".join(
        f"{dtype} {p['gflops']:,.0f} GFLOP/s ({p['framework']} {p['size']}x{p['size']})"
        for dtype, p in peaks.items()
    ) or "not measured"
    processor = header["processor"]
    lines = [
        f"Processor: {processor['name']}; bf16 units: {'yes' if processor['bf16_units'] else 'no'}"
        + (f"; accelerator: {processor['accelerator']}" if processor.get("accelerator") else "")
        + f"; threads: {header['threads']}; date: {header['date']}; "
        + ", ".join(f"{k} {v}" for k, v in header["versions"].items()) + ".",
        f"Command: `{header['command']}` (repeats: {header['repeats']}, medians; "
        f"steps/warmup per model: "
        + ", ".join(f"{m} {s}/{w}" for m, (s, w) in header["steps"].items()) + ").",
        f"Matmul peak (best of {header.get('peak_repeats', '?')}): {peak_text}.",
        f"GFLOP/s: training = images/s x forward MACs x {benchmark.FLOPS_PER_MAC['train']}, "
        f"inference = images/s x MACs x {benchmark.FLOPS_PER_MAC['infer']}; "
        "% = of the peak in the precision used. Ours' inference: the deployment model "
        "(`fold_batch_norm(model, dtype=...)`: BNs folded, a true bfloat16 model under "
        "mixed_bfloat16); the trained model's figure is in brackets. Rows marked "
        "openvino: the model in the OpenVINO runtime (inference only: no training figure), "
        "at the table's batch size, with its median batch-1 latency.",
        "",
        "| model | ours train / infer img/s (precision) | PyTorch best train img/s (config) "
        "| PyTorch best infer img/s (config) | ratio train / infer "
        "| ours train / infer GFLOP/s (% of peak) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {_ips(r['ours_train'], _untimed(r))} / {_ips(r['ours_infer'])}"
            + (f" [{_ips(r['ours_infer_unfolded'])}]" if r.get("ours_infer_unfolded") else "")
            + " "
            f"({_ours_config(r)}) "
            f"| {_ips(r['torch_best_train'])} ({r['torch_best_train_config'] or '-'}) "
            f"| {_ips(r['torch_best_infer'])} ({r['torch_best_infer_config'] or '-'}) "
            f"| {_ratio(r['ratio_train'])} / {_ratio(r['ratio_infer'])} "
            f"| {_gflops(r['ours_train_gflops'], r['ours_train_peak_fraction'])} / "
            f"{_gflops(r['ours_infer_gflops'], r['ours_infer_peak_fraction'])} |"
        )
    lines += ["", "Every config (median train / infer img/s; the runs in brackets):", "",
              "| model | config | train img/s | infer img/s |", "|---|---|---|---|"]
    seen = set()
    for r in rows:
        configs = [(f"ours {r['ours_label']} ({r['ours_precision']})",
                    {"train": r["ours_train"], "infer": r["ours_infer"],
                     "train_runs": r["ours_train_runs"], "infer_runs": r["ours_infer_runs"],
                     "errors": r["ours_errors"]})]
        if r["model"] not in seen:
            configs += [(f"pytorch {label}", t) for label, t in r["torch"].items()]
            seen.add(r["model"])
        for name, m in configs:
            runs = lambda kind: (f" [{', '.join(_ips(v) for v in m[f'{kind}_runs'])}]"
                                 if m[f"{kind}_runs"] or m[kind] is not None else "")
            error = f" (failed: {m['errors'][0]})" if m["errors"] else ""
            lines.append(f"| {r['model']} | {name}{error} "
                         f"| {_ips(m['train'], _untimed(r) if 'ours' in name else 'failed')}"
                         f"{runs('train')} "
                         f"| {_ips(m['infer'])}{runs('infer')} |")
    return "\n".join(lines)


def _untimed(row):
    """What an ours row shows for a training figure it does not measure:
    "-" for the OpenVINO runtime (inference only), else "failed"."""
    return "-" if row["ours_label"].endswith(" openvino") else "failed"


def _ours_config(row):
    """`mixed_bfloat16`, or `mixed_bfloat16, spe8 device-aug` for a config
    with options beyond the precision (`compare.ours_configs`);
    OpenVINO's rows add their batch-1 latency (`bfloat16, openvino, batch 1:
    1.23 ms`)."""
    precision = row["ours_precision"] or row["ours_label"]
    options = row["ours_label"].split(" ", 1)[1:]
    text = precision + (f", {options[0]}" if options else "")
    if row.get("ours_latency_ms") is not None:
        text += f", batch 1: {row['ours_latency_ms']:.2f} ms"
    return text
