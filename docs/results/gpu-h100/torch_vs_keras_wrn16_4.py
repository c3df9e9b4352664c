"""Plain-PyTorch WRN-16-4 on the same decoded CIFAR-10 JPEG copy, same recipe as
train_wrn16_4_gpu.py, for a short side-by-side with our Keras model.

Model: WideResNet(16, 4) from /work/shared/bench/torch_reference.py (copied to
.gpujob/torch_reference.py so it travels), convs He-normal (fan_in) as in the
official WRN code, BN weight 1 / bias 0, Linear default init.
Recipe: SGD nesterov momentum 0.9, weight_decay 5e-4 (coupled, torch default:
on all parameters), batch 128 (last partial batch dropped, like the Keras
script), lr 0.1 cosine per epoch to 0 over --epochs, pad-4 reflect + random
32x32 crop + hflip (on the GPU), per-channel mean/std from the train set.
bf16 autocast + channels_last. Stops early at --deadline (reports how far).

Data: the same decode as train_wrn16_4_gpu.py (PIL -> RGB uint8, sorted file
order) and the same cache file /tmp/cifar10_uint8.npz, so the Keras script
run afterwards reads exactly these arrays.

    python3 docs/results/gpu-h100/torch_vs_keras_wrn16_4.py \
        --data .gpujob/cifar10-jpg.tar.gz --out $OUT --epochs 40 --deadline 240
"""
import argparse, json, math, multiprocessing as mp, os, sys, tarfile, time

T0 = time.time()
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--out", required=True)
p.add_argument("--epochs", type=int, default=40)
p.add_argument("--deadline", type=float, default=240.0)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--wd", type=float, default=5e-4)
p.add_argument("--batch-size", type=int, default=128)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".gpujob"))
sys.path.insert(0, ".gpujob")
from torch_reference import WideResNet  # noqa: E402

CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck"]


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
T_DATA = time.time() - T0
print(f"data: train {xtr.shape} test {xte.shape} in {T_DATA:.1f}s", flush=True)
MEAN = xtr.reshape(-1, 3).mean(0).astype(np.float32)
STD = xtr.reshape(-1, 3).std(0).astype(np.float32)

torch.manual_seed(args.seed)
torch.backends.cudnn.benchmark = True
dev = torch.device("cuda")
cl = torch.channels_last
mean = torch.tensor(MEAN, device=dev).view(1, 3, 1, 1)
std = torch.tensor(STD, device=dev).view(1, 3, 1, 1)
# uint8 NCHW on the GPU, train set reflect-padded by 4
xtr_g = torch.from_numpy(np.pad(xtr, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")).to(dev).permute(0, 3, 1, 2).contiguous()
ytr_g = torch.from_numpy(ytr.astype(np.int64)).to(dev)
xte_g = ((torch.from_numpy(xte).to(dev).permute(0, 3, 1, 2).float() - mean) / std).contiguous(memory_format=cl)
yte_g = torch.from_numpy(yte.astype(np.int64)).to(dev)

model = WideResNet(16, 4)
for m in model.modules():
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight); nn.init.zeros_(m.bias)
model = model.to(dev).to(memory_format=cl)
n_params = sum(p.numel() for p in model.parameters())
opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                      weight_decay=args.wd)
kernels = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
ar = torch.arange(32, device=dev)
ch = torch.arange(3, device=dev).view(1, 3, 1, 1)
gen = torch.Generator(device=dev); gen.manual_seed(args.seed)
N, BS = len(ytr), args.batch_size
steps = N // BS


def batch(idx):
    n = len(idx)
    oy = torch.randint(0, 9, (n,), device=dev, generator=gen)
    ox = torch.randint(0, 9, (n,), device=dev, generator=gen)
    rows = (oy[:, None] + ar).view(n, 1, 32, 1)
    cols = (ox[:, None] + ar)
    flip = torch.rand(n, device=dev, generator=gen) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols).view(n, 1, 1, 32)
    xb = xtr_g[idx.view(n, 1, 1, 1), ch, rows, cols].float()
    xb = ((xb - mean) / std).contiguous(memory_format=cl)
    return xb, ytr_g[idx]


def evaluate():
    model.eval(); correct = 0; loss = 0.0
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        for i in range(0, len(yte_g), 1000):
            out = model(xte_g[i:i + 1000]).float()
            loss += F.cross_entropy(out, yte_g[i:i + 1000], reduction="sum").item()
            correct += (out.argmax(1) == yte_g[i:i + 1000]).sum().item()
    model.train()
    return correct / len(yte_g), loss / len(yte_g)


hist = []
t_fit = time.time()
for epoch in range(args.epochs):
    lr = 0.5 * args.lr * (1 + math.cos(math.pi * epoch / args.epochs))
    for g in opt.param_groups:
        g["lr"] = lr
    t = time.time()
    perm = torch.randperm(N, device=dev, generator=gen)
    tl = torch.zeros((), device=dev); tc = torch.zeros((), device=dev)
    for s in range(steps):
        xb, yb = batch(perm[s * BS:(s + 1) * BS])
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(xb)
        loss = F.cross_entropy(out.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tl += loss.detach(); tc += (out.argmax(1) == yb).sum()
    torch.cuda.synchronize()
    tr_s = time.time() - t
    acc, tloss = evaluate()
    with torch.no_grad():
        ssq = float(sum((w.float() ** 2).sum() for w in kernels))
    row = dict(epoch=epoch + 1, lr=lr, train_ce=tl.item() / steps, train_acc=tc.item() / (steps * BS),
               test_loss=tloss, test_acc=acc, epoch_seconds=round(time.time() - t, 3),
               train_seconds=round(tr_s, 3), kernel_sumsq=round(ssq, 2))
    hist.append(row)
    print(json.dumps(row), flush=True)
    now = time.time() - T0
    ep = max(r["epoch_seconds"] for r in hist[-3:])
    if epoch + 1 < args.epochs and now + 1.3 * ep > args.deadline:
        print(f"deadline: stopping after epoch {epoch + 1} of {args.epochs} at {now:.0f}s", flush=True)
        break

fit_s = time.time() - t_fit
res = dict(framework=f"pytorch {torch.__version__}", device=torch.cuda.get_device_name(0),
           model="WRN-16-4 (torch_reference.py, He-normal convs)", params=n_params,
           precision="autocast bf16 + channels_last", planned_epochs=args.epochs,
           epochs=len(hist), complete=len(hist) == args.epochs,
           final_test_accuracy=hist[-1]["test_acc"], best_test_accuracy=max(r["test_acc"] for r in hist),
           final_train_acc=hist[-1]["train_acc"], final_train_ce=hist[-1]["train_ce"],
           median_epoch_seconds=float(np.median([r["epoch_seconds"] for r in hist[1:]])) if len(hist) > 1 else None,
           first_epoch_seconds=hist[0]["epoch_seconds"], data_seconds=round(T_DATA, 1),
           fit_seconds=round(fit_s, 1), total_seconds=round(time.time() - T0, 1),
           mean=MEAN.tolist(), std=STD.tolist(), history=hist)
with open(os.path.join(args.out, "torch_result.json"), "w") as f:
    json.dump(res, f, indent=1)
print(json.dumps({k: v for k, v in res.items() if k != "history"}), flush=True)
