"""What a run prints at its end and per epoch (issue 27): the files it
really wrote, and the learning rate of a warm-up's first epoch."""

from keras_resnets.training import callbacks as callbacks_lib
from keras_resnets.training import report
from keras_resnets.training import schedules


def test_files_line_lists_what_was_written(tmp_path):
    for name in ("metrics.json", "log.csv", "last.keras"):
        (tmp_path / name).write_text("x")
    line = report.files_line(tmp_path)
    assert line.startswith(f"Files in {tmp_path}: metrics.json, log.csv, last.keras.")
    assert "curves.png" not in line
    assert "No best.keras: no epoch was evaluated (training.validation_freq); export, " \
        "predict and load_run use last.keras." in line
    (tmp_path / "best.keras").write_text("x")
    (tmp_path / "curves.png").write_text("x")
    assert report.files_line(tmp_path) == (
        f"Files in {tmp_path}: metrics.json, log.csv, curves.png, last.keras, best.keras."
    )


def test_warmup_epoch_line_shows_the_rate_it_reaches():
    """A linear warm-up starts at 0: the epoch line shows the first and last
    iteration's rates (log.csv keeps the first)."""
    schedule = schedules.Warmup(schedules.MultiStepDecay(0.1, [1000]), warmup_steps=20)
    logger = callbacks_lib.EpochLogger(schedule, 10, epochs=3, line="full")
    logger.on_epoch_begin(0)
    logs = {"loss": 1.0}
    logger.on_epoch_end(0, logs)
    assert logs["learning_rate"] == 0.0
    line = logger.format_line(0, logs)
    assert "lr: 0 -> 0.045" in line, line
    logger.on_epoch_begin(2)
    logs = {"loss": 1.0}
    logger.on_epoch_end(2, logs)
    assert "- lr: 0.1 - elapsed" in logger.format_line(2, logs)  # constant: one value


def test_time_to_accuracy_is_the_first_evaluated_epoch_at_the_target():
    """Issue 23's yardstick: wall time up to the end of the first epoch whose
    evaluated accuracy reaches the target; epochs without evaluation count
    their time but cannot reach it."""
    rows = [
        {"epoch_time": "10.0", "val_accuracy": "0.80"},
        {"epoch_time": "11.0", "val_accuracy": "NA"},
        {"epoch_time": "12.5", "val_accuracy": "0.9249"},
        {"epoch_time": "9.0", "val_accuracy": "0.95"},
    ]
    assert report.time_to_accuracy(rows, 0.9249) == {
        "target": 0.9249, "epoch": 3, "wall_time_s": 33.5,
    }
    assert report.time_to_accuracy(rows, 0.81)["epoch"] == 3
    assert report.time_to_accuracy(rows, 0.96) is None
    assert report.time_to_accuracy([], 0.5) is None


def test_summary_says_when_the_paper_was_reached(tmp_path):
    metrics = {
        "model": "resnet-32", "dataset": "cifar10", "test_accuracy": 0.93,
        "test_error": 7.0, "epochs": 72, "wall_time_s": 7200.0, "paper_error": 7.51,
        "paper_accuracy_reached": {"target": 0.9249, "epoch": 70, "wall_time_s": 6930.0},
    }
    text = report.summary(metrics, tmp_path)
    assert "The paper's 92.49% was first reached after epoch 70, 1:55:30 wall time." in text, text
    metrics["paper_accuracy_reached"] = None
    assert "The paper's 92.49% was not reached at any evaluated epoch." in \
        report.summary(metrics, tmp_path)
    del metrics["paper_accuracy_reached"]
    assert "paper" not in report.summary(metrics, tmp_path)


def test_sessions_say_where_each_epoch_ran(tmp_path):
    """A run resumed on another machine records each start (issue 23); a
    session whose epochs are redone is replaced by the one that redoes them."""
    record = {"hardware": {"name": "A", "bf16_units": True}, "precision": "mixed_bfloat16",
              "backend": "tensorflow"}
    report.record_session(tmp_path, 0, record)
    report.record_session(tmp_path, 45, dict(record, hardware={"name": "B"}))
    report.record_session(tmp_path, 50, record)
    report.record_session(tmp_path, 48, dict(record, hardware={"name": "C"}))  # 49-50 redone
    sessions = report._sessions(tmp_path, 72)
    assert [(s["first_epoch"], s["last_epoch"], s["hardware"]["name"]) for s in sessions] == [
        (1, 45, "A"), (46, 48, "B"), (49, 72, "C")]
    assert report._sessions(tmp_path / "missing", 3) is None
