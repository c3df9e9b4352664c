"""The published run records: every committed metrics.json, and docs/reproduction.md's table.

Not a timed test: it reads files. A record names the data set it really used, the processor
(model name, whether it has bfloat16 units) and the precision; the reproduction table's numbers
must be the ones in the metrics.json it links to.
"""

import json
import pathlib
import re

import pytest

from keras_resnets.runtime import PRECISIONS

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
RECORDS = sorted((DOCS / "results").rglob("*metrics*.json"))
# Names a record may give its data: the tfds names of the lossless releases, and
# the lossy JPEG copy, which is never compared with a paper.
DATASETS = {"cifar10", "cifar100", "svhn_cropped", "imagenet2012", "cifar10-jpg"}
LOSSY = {"cifar10-jpg"}


def _test_accuracy(record):
    for key in ("test_accuracy", "final_test_accuracy"):
        if record.get(key) is not None:
            return record[key]
    return None


def test_there_are_records():
    assert len(RECORDS) >= 4, RECORDS


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: str(p.relative_to(DOCS)))
def test_record_names_data_processor_and_precision(path):
    record = json.loads(path.read_text())
    assert record.get("status") == "finished", f"{path}: a published record is a finished run"
    assert record.get("dataset") in DATASETS, record.get("dataset")
    if record["dataset"] in LOSSY:
        assert record.get("data_lossy") is True, f"{path}: lossy data must say so"
    assert record.get("precision") in set(PRECISIONS) - {"auto"}, record.get("precision")
    hardware = record.get("hardware")
    assert isinstance(hardware, dict), f"{path}: no hardware record"
    assert isinstance(hardware.get("name"), str) and hardware["name"].strip()
    assert isinstance(hardware.get("bf16_units"), bool)
    accuracy = _test_accuracy(record)
    assert accuracy is not None and 0.0 < accuracy <= 1.0, accuracy
    assert isinstance(record.get("epochs"), int) and record["epochs"] > 0


def _reproduction_table():
    """Rows of the first markdown table in docs/reproduction.md, as dicts by header."""
    lines = (DOCS / "reproduction.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, rows = table[0], table[2:]
    return [dict(zip(header, row)) for row in rows]


def test_reproduction_table_matches_its_records():
    rows = _reproduction_table()
    assert rows, "docs/reproduction.md must open with the results table"
    for row in rows:
        links = re.findall(r"\]\(([^)]*metrics[^)]*\.json)\)", row["run files"])
        assert links, f"row {row['model']!r} links no metrics.json"
        record = json.loads((DOCS / links[0]).read_text())
        where = f"row {row['model']!r} ({links[0]})"
        assert row["data set"].strip("`") == record["dataset"], where
        assert record["dataset"] not in LOSSY, f"{where}: the table is for lossless data only"
        assert row["epochs"].split()[0] == str(record["epochs"]), where
        error = 100.0 * (1.0 - _test_accuracy(record))
        assert f"{error:.2f}%" in row["our error"], (where, error, row["our error"])
        assert record["precision"] in row["machine"], where
        assert record["hardware"]["name"] in row["machine"], where
