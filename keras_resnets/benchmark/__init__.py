"""Speed measurements: images/s of our models, and of PyTorch at its best.

- `run`: `keras-resnets benchmark MODEL...` (train and inference images/s of
  one model in this process; `--runtime openvino` for inference only).
- `compare`: `python -m keras_resnets.benchmark.compare`, ours against
  PyTorch's best (eager, channels_last, bf16, torch.compile), each
  configuration in its own process, alternated, medians.
- `table`: the markdown table and its summary; `peak`: the machine's matmul
  peak, the yardstick for GFLOP/s.
"""
