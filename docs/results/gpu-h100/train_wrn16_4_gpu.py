"""Train WRN-16-4 on CIFAR-10 (Keras 3, JAX backend), resumable across short jobs.

Recipe (Zagoruyko & Komodakis 2016, cosine instead of step schedule): SGD with
Nesterov momentum 0.9, weight decay 5e-4 (coupled, as L2(2.5e-4) kernel
regulariser: Keras adds l*sum(w^2) to the loss, gradient 2*l*w), batch 128,
lr 0.1 cosine-annealed per epoch to 0 over the planned number of epochs,
pad-4 reflect + random 32x32 crop + horizontal flip, per-channel mean/std
normalisation. Test accuracy is evaluated on the full 10k test set after
every epoch.

The job is time-boxed: it trains until `--deadline` seconds after start
(minus a margin), then writes a checkpoint (weights + optimizer state +
state.json) and the logs into --out. Start the next job with --resume DIR
pointing at that checkpoint. The planned total number of epochs is decided
after the 2nd epoch of the first job from the measured epoch time and
`--future-seconds` (training seconds expected in later jobs), capped by
`--max-epochs`; it is then fixed and stored in the state.

Usage (device, one H100):
    KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false python3 \
        train_wrn16_4_gpu.py --data cifar10-jpg.tar.gz --out $OUT \
        --deadline 540 --future-seconds 330 [--resume CKPT_DIR]

The recorded run (wrn-16-4_cifar10_{log.csv,metrics.json,curves.png}) was
one job on one H100 (keras 3.15.1 from wheels, jax 0.11.2, mixed_bfloat16),
run from the repo root:
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
    export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
    python3 docs/results/gpu-h100/train_wrn16_4_gpu.py \
        --data .gpujob/cifar10-jpg.tar.gz --out $OUT --deadline 545 --future-seconds 300
At ~1.9 s/epoch the planner hit the --max-epochs cap (200, the paper's
length), so all 200 epochs ran in one job and --resume was not needed
(resume was only checked on CPU with --subset).
"""

import argparse
import csv
import json
import math
import multiprocessing as mp
import os
import sys
import tarfile
import time

T0 = time.time()

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--data", required=True, help="cifar10-jpg.tar.gz")
p.add_argument("--out", required=True)
p.add_argument("--resume", default=None, help="dir with state.json, weights.npz, opt.npz")
p.add_argument("--deadline", type=float, default=540.0, help="seconds after start to stop by")
p.add_argument("--future-seconds", type=float, default=0.0,
               help="training seconds expected in later jobs (for planning the epoch count)")
p.add_argument("--max-epochs", type=int, default=200)
p.add_argument("--epochs", type=int, default=None, help="fix the planned epoch count")
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--wd", type=float, default=5e-4, help="PyTorch-style weight decay")
p.add_argument("--precision", default="mixed_bfloat16")
p.add_argument("--subset", type=int, default=0, help="debug: use only N train/test images")
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
os.makedirs(args.out, exist_ok=True)

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]


# ---------------------------------------------------------------- data
def _decode(path):
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def load_cifar(tar_path, cache="/tmp/cifar10_uint8.npz"):
    if os.path.exists(cache):
        d = np.load(cache)
        return d["xtr"], d["ytr"], d["xte"], d["yte"]
    root = "/tmp/cifar10_extract"
    if not os.path.isdir(os.path.join(root, "cifar10-jpg")):
        with tarfile.open(tar_path) as tf:
            tf.extractall(root)
    out = []
    with mp.Pool(min(16, os.cpu_count() or 1)) as pool:
        for split in ("train", "test"):
            paths, labels = [], []
            for label, cls in enumerate(CLASSES):
                d = os.path.join(root, "cifar10-jpg", split, cls)
                names = sorted(os.listdir(d))
                paths += [os.path.join(d, n) for n in names]
                labels += [label] * len(names)
            x = np.stack(pool.map(_decode, paths, chunksize=256))
            out += [x, np.asarray(labels, dtype=np.int32)]
    np.savez(cache, xtr=out[0], ytr=out[1], xte=out[2], yte=out[3])
    return tuple(out)


xtr, ytr, xte, yte = load_cifar(args.data)
if args.subset:
    rs = np.random.RandomState(0)
    i = rs.permutation(len(xtr))[: args.subset]
    j = rs.permutation(len(xte))[: max(1000, args.subset // 5)]
    xtr, ytr, xte, yte = xtr[i], ytr[i], xte[j], yte[j]
assert xtr.shape[1:] == (32, 32, 3), xtr.shape
T_DATA = time.time() - T0
print(f"data: train {xtr.shape} test {xte.shape} in {T_DATA:.1f}s", flush=True)

MEAN = xtr.reshape(-1, 3).mean(0).astype(np.float32)
STD = xtr.reshape(-1, 3).std(0).astype(np.float32)
xte_n = ((xte.astype(np.float32) - MEAN) / STD).astype(np.float32)

import keras  # noqa: E402
import keras_resnets  # noqa: E402

assert "tensorflow" not in sys.modules
keras.utils.set_random_seed(args.seed)
keras.mixed_precision.set_global_policy(args.precision)


class CifarTrain(keras.utils.PyDataset):
    """Pad-4 reflect, random 32x32 crop, horizontal flip; vectorised per batch.

    Drops the last partial batch so every step has the same shape (one XLA
    compilation); a fresh permutation each epoch means every image is used.
    """

    def __init__(self, x, y, batch_size, seed, **kw):
        super().__init__(**kw)
        self.xp = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
        self.y = y
        self.bs = batch_size
        self.rng = np.random.default_rng(seed)
        self.perm = self.rng.permutation(len(y))
        self.ar = np.arange(32)

    def __len__(self):
        return len(self.y) // self.bs

    def __getitem__(self, i):
        rng = np.random.default_rng((self.rng.integers(1 << 62), i))
        idx = self.perm[i * self.bs:(i + 1) * self.bs]
        n = len(idx)
        oy = rng.integers(0, 9, n)
        ox = rng.integers(0, 9, n)
        rows = (oy[:, None] + self.ar)[:, :, None]
        cols = (ox[:, None] + self.ar)[:, None, :]
        flip = rng.random(n) < 0.5
        cols = np.where(flip[:, None, None], cols[:, :, ::-1], cols)
        xb = self.xp[idx[:, None, None], rows, cols]  # (n, 32, 32, 3)
        xb = (xb.astype(np.float32) - MEAN) / STD
        return xb, self.y[idx]

    def on_epoch_end(self):
        self.perm = self.rng.permutation(len(self.y))


# ---------------------------------------------------------------- state
state = dict(planned_epochs=None, epochs_done=0, history=[], jobs=[], seed=args.seed,
             precision=args.precision, batch_size=args.batch_size, lr=args.lr, wd=args.wd)
if args.resume:
    with open(os.path.join(args.resume, "state.json")) as f:
        state = json.load(f)
    args.precision = state["precision"]
if args.epochs:
    state["planned_epochs"] = args.epochs
start_epoch = state["epochs_done"]

train_ds = CifarTrain(xtr, ytr, args.batch_size, seed=args.seed * 1000 + start_epoch,
                      workers=6, use_multiprocessing=False, max_queue_size=32)

model = keras_resnets.WideResNet(
    16, 4, classifier_activation="linear",
    kernel_regularizer=keras.regularizers.L2(args.wd / 2))
n_params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
opt = keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9, nesterov=True)
model.compile(
    optimizer=opt,
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc"),
             keras.metrics.SparseCategoricalCrossentropy(from_logits=True, name="ce")],
)
opt.build(model.trainable_variables)

if args.resume:
    w = np.load(os.path.join(args.resume, "weights.npz"))
    model.set_weights([w[f"w{i}"] for i in range(len(w.files))])
    o = np.load(os.path.join(args.resume, "opt.npz"))
    assert len(o.files) == len(opt.variables), (len(o.files), len(opt.variables))
    for i, v in enumerate(opt.variables):
        a = o[f"v{i}"]
        assert tuple(a.shape) == tuple(v.shape), (v.path, a.shape, v.shape)
        v.assign(a)
    print(f"resumed at epoch {start_epoch}, optimizer iterations "
          f"{int(opt.iterations.numpy())}", flush=True)


def lr_at(epoch, total):
    return 0.5 * args.lr * (1.0 + math.cos(math.pi * epoch / total))


class Control(keras.callbacks.Callback):
    """Per-epoch cosine lr, timing, logging, planning and the time box."""

    def __init__(self):
        super().__init__()
        self.epoch_times = []

    def on_epoch_begin(self, epoch, logs=None):
        total = state["planned_epochs"] or args.max_epochs
        self.lr = lr_at(epoch, total)
        self.model.optimizer.learning_rate = self.lr
        self.t_epoch = time.time()
        self.t_eval = 0.0

    def on_test_begin(self, logs=None):
        self.t_test = time.time()

    def on_test_end(self, logs=None):
        self.t_eval = time.time() - self.t_test

    def on_epoch_end(self, epoch, logs=None):
        dt = time.time() - self.t_epoch
        train_s = dt - self.t_eval
        row = dict(epoch=epoch + 1, lr=self.lr,
                   train_loss=float(logs["loss"]), train_ce=float(logs["ce"]),
                   train_acc=float(logs["acc"]),
                   test_loss=float(logs["val_ce"]), test_acc=float(logs["val_acc"]),
                   epoch_seconds=round(dt, 3), train_seconds=round(train_s, 3),
                   eval_seconds=round(self.t_eval, 3),
                   train_images_per_sec=round(len(train_ds) * args.batch_size / train_s, 1),
                   job=len(state["jobs"]))
        state["history"].append(row)
        state["epochs_done"] = epoch + 1
        self.epoch_times.append(dt)
        print(json.dumps(row), flush=True)
        now = time.time() - T0
        steady = self.epoch_times[1:] if len(self.epoch_times) > 1 else self.epoch_times
        t_ep = max(steady[-5:])
        if state["planned_epochs"] is None and len(self.epoch_times) >= 2:
            here = args.deadline - 25.0 - now
            n = epoch + 1 + int(0.92 * (here + args.future_seconds) / t_ep)
            state["planned_epochs"] = min(args.max_epochs, n)
            print(f"planned epochs: {state['planned_epochs']} (epoch {t_ep:.2f}s, "
                  f"{here:.0f}s left here + {args.future_seconds:.0f}s later)", flush=True)
        if state["planned_epochs"] and epoch + 1 >= state["planned_epochs"]:
            self.model.stop_training = True
        elif now + 1.5 * t_ep + 20.0 > args.deadline:
            print(f"time box: stopping after epoch {epoch + 1} at {now:.0f}s", flush=True)
            self.model.stop_training = True


ctl = Control()
t_fit = time.time()
T_SETUP = t_fit - T0
end_epoch = state["planned_epochs"] or args.max_epochs
if start_epoch < end_epoch:
    model.fit(train_ds, epochs=end_epoch, initial_epoch=start_epoch,
              validation_data=(xte_n, yte), validation_batch_size=1000,
              callbacks=[ctl], verbose=0)
fit_s = time.time() - t_fit
state["jobs"].append(dict(start_epoch=start_epoch, end_epoch=state["epochs_done"],
                          setup_seconds=round(T_SETUP, 1), data_seconds=round(T_DATA, 1),
                          fit_seconds=round(fit_s, 1),
                          device=os.environ.get("DEVICE_NAME", "")))

# ---------------------------------------------------------------- save
done = state["planned_epochs"] is not None and state["epochs_done"] >= state["planned_epochs"]
if not done:
    np.savez(os.path.join(args.out, "weights.npz"),
             **{f"w{i}": a for i, a in enumerate(model.get_weights())})
    np.savez(os.path.join(args.out, "opt.npz"),
             **{f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(opt.variables)})
with open(os.path.join(args.out, "state.json"), "w") as f:
    json.dump(state, f, indent=1)

hist = state["history"]
with open(os.path.join(args.out, "wrn-16-4_cifar10_log.csv"), "w", newline="") as f:
    wr = csv.DictWriter(f, fieldnames=list(hist[0].keys()))
    wr.writeheader()
    wr.writerows(hist)

# steady-state timing: skip the first epoch of every job (XLA compilation)
steady = [r for k, r in enumerate(hist) if k > 0 and hist[k - 1]["job"] == r["job"]]
ep_s = float(np.median([r["epoch_seconds"] for r in steady])) if steady else None
tr_s = float(np.median([r["train_seconds"] for r in steady])) if steady else None
import jax  # noqa: E402

final = hist[-1]
metrics = dict(
    model="WRN-16-4", dataset="CIFAR-10 (jpg re-encoded, 50k train / 10k test)",
    backend="jax", keras_version=keras.__version__, jax_version=jax.__version__,
    device=str(jax.devices()[0].device_kind), precision=state["precision"],
    trainable_params=n_params, batch_size=args.batch_size,
    optimizer="SGD nesterov momentum 0.9", lr=f"{args.lr} cosine per epoch to 0",
    weight_decay=f"{args.wd} coupled (keras L2({args.wd / 2}) on kernels)",
    augmentation="pad4 reflect + random crop 32 + hflip; per-channel mean/std",
    planned_epochs=state["planned_epochs"], epochs=state["epochs_done"], complete=done,
    final_test_accuracy=final["test_acc"], final_test_error=round(1 - final["test_acc"], 4),
    best_test_accuracy=max(r["test_acc"] for r in hist),
    final_train_accuracy=final["train_acc"], final_train_ce=final["train_ce"],
    median_epoch_seconds=ep_s, median_train_seconds_per_epoch=tr_s,
    train_images_per_sec=round(len(train_ds) * args.batch_size / tr_s, 1) if tr_s else None,
    total_epoch_seconds=round(sum(r["epoch_seconds"] for r in hist), 1),
    wall_seconds_all_jobs=round(sum(j["setup_seconds"] + j["fit_seconds"] for j in state["jobs"]), 1),
    jobs=state["jobs"],
)
with open(os.path.join(args.out, "wrn-16-4_cifar10_metrics.json"), "w") as f:
    json.dump(metrics, f, indent=1)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    e = [r["epoch"] for r in hist]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].plot(e, [r["train_ce"] for r in hist], label="train CE")
    ax[0].plot(e, [r["test_loss"] for r in hist], label="test CE")
    ax[0].plot(e, [r["train_loss"] for r in hist], label="train loss (CE + L2)", alpha=0.6)
    ax[0].set_yscale("log"); ax[0].set_xlabel("epoch"); ax[0].legend(); ax[0].set_title("loss")
    ax[1].plot(e, [100 * r["train_acc"] for r in hist], label="train (augmented)")
    ax[1].plot(e, [100 * r["test_acc"] for r in hist], label="test")
    ax[1].set_ylim(40, 100); ax[1].grid(alpha=0.3); ax[1].set_xlabel("epoch"); ax[1].legend()
    ax[1].set_title(f"accuracy %  (final test {100 * final['test_acc']:.2f}%)")
    ax[2].plot(e, [r["lr"] for r in hist]); ax[2].set_xlabel("epoch"); ax[2].set_title("lr")
    fig.suptitle(f"WRN-16-4 CIFAR-10, keras {keras.__version__} jax, {state['precision']}, "
                 f"{metrics['device']}")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "wrn-16-4_cifar10_curves.png"), dpi=110)
except Exception as ex:  # plotting must not lose the checkpoint
    print("plot failed:", ex)

print(json.dumps({k: v for k, v in metrics.items() if k != "jobs"}), flush=True)
print(f"total {time.time() - T0:.1f}s", flush=True)
