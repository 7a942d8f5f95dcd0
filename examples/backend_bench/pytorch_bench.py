# PyTorch's side of backend_bench: the same models, batch sizes, optimiser and protocol as
# `backend_bench --devices flex` (a warm-up repetition, then 5 repetitions of 20 steps, one
# read-back per repetition; median and range), on the CPU with 2 threads unless told otherwise.
# The end-to-end row trains the dense autoencoder on Fashion-MNIST's training split (90% train,
# 10% validation, batch 256, shuffled each epoch, validation every epoch) for 3 epochs and reports
# the training images per second of the epochs after the first, like `backend_bench --workloads
# e2e-dense` and the trainers' "steady" figure.
#
# On a GPU (`--device cuda`) the same rows run there, the data of the end-to-end row on the
# device (the whole split, batches by a shuffled index), to set beside `backend_bench --device wgpu`.
#
# Run: pip install torch; python3 examples/backend_bench/pytorch_bench.py [--threads 2] [--device cuda]
#      [--compile] [--batch-size 256] [--epochs 3] [--fashion DIR] [--rows dense-train,conv-train,vae-train,dense-infer,conv-infer,matmul,sigmoid,relu,e2e-dense]
import argparse, gzip, os, time

import torch
import torch.nn.functional as F

ROWS = ["dense-train", "conv-train", "vae-train", "dense-infer", "conv-infer", "matmul", "sigmoid",
        "relu", "e2e-dense"]
parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--rows", default=",".join(ROWS))
parser.add_argument("--reps", type=int, default=5)
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--fashion", default="/usr/share/datasets/fashion-mnist/")
parser.add_argument("--device", default="cpu")
parser.add_argument("--batch-size", type=int, default=256, help="batch of the end-to-end row")
parser.add_argument("--epochs", type=int, default=3, help="epochs of the end-to-end row (at least 2)")
parser.add_argument("--precision", choices=["f32", "bf16", "f16"], default="f32",
                    help="the end-to-end row under torch.autocast in bf16/f16 (f16 with a GradScaler), "
                         "as the trainers' --precision")
parser.add_argument("--compile", action="store_true",
                    help='torch.compile(mode="reduce-overhead") on each row\'s model and loss (CUDA graphs on '
                         "a GPU; the optimizer stays eager); rows are named *-compiled")
parser.add_argument("--tf32", action="store_true",
                    help="allow TF32 in matrix products and cuDNN convolutions (Ampere or later); "
                         "rows are named *-tf32")
parser.add_argument("--flush-denormal", action="store_true",
                    help="torch.set_flush_denormal(True), as the Rust side's CPU threads run")
args = parser.parse_args()
device = torch.device(args.device)
torch.set_num_threads(args.threads)
if args.flush_denormal:
    torch.set_flush_denormal(True)
torch.manual_seed(0)
# Plain fp32 everywhere, as wgpu computes: no TF32 in matrix products or cuDNN convolutions
# (cuDNN's default allows it), unless --tf32 asks for it on both.
torch.backends.cuda.matmul.allow_tf32 = args.tf32
torch.backends.cudnn.allow_tf32 = args.tf32


def dense_autoencoder():
    # 784-128-64-32-64-128-784, ReLU, sigmoid output (the zoo's VanillaAutoencoder defaults).
    widths = [784, 128, 64, 32, 64, 128, 784]
    layers = []
    for i in range(6):
        layers += [torch.nn.Linear(widths[i], widths[i + 1]), torch.nn.ReLU() if i < 5 else torch.nn.Sigmoid()]
    return torch.nn.Sequential(*layers)


class ConvAutoencoder(torch.nn.Module):
    # The zoo's ConvAutoencoder defaults: two stride-2 3x3 convolutions (32, 64 channels), a dense
    # latent of 32, a dense layer back to 64x7x7, two stride-2 transposed convolutions, sigmoid.
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = torch.nn.Conv2d(1, 32, 3, 2, 1), torch.nn.Conv2d(32, 64, 3, 2, 1)
        self.to_latent, self.from_latent = torch.nn.Linear(3136, 32), torch.nn.Linear(32, 3136)
        self.d1 = torch.nn.ConvTranspose2d(64, 32, 3, 2, 1, output_padding=1)
        self.d2 = torch.nn.ConvTranspose2d(32, 1, 3, 2, 1, output_padding=1)

    def forward(self, x):
        h = F.relu(self.c2(F.relu(self.c1(x))))
        z = self.to_latent(h.flatten(1))
        h = F.relu(self.from_latent(z)).view(-1, 64, 7, 7)
        return torch.sigmoid(self.d2(F.relu(self.d1(h))))


class Vae(torch.nn.Module):
    # 784-400-20 (PyTorch's VAE example and the zoo's VaeConfig defaults), Bernoulli likelihood.
    def __init__(self):
        super().__init__()
        self.fc1, self.mean, self.logvar = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
        self.fc3, self.fc4 = torch.nn.Linear(20, 400), torch.nn.Linear(400, 784)

    def loss(self, x):
        x = x.flatten(1)
        h = F.relu(self.fc1(x))
        mean, logvar = self.mean(h), self.logvar(h).clamp(-10, 10)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        logits = self.fc4(F.relu(self.fc3(z)))
        nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(1)
        return (nll + kl).mean()


def maybe_compiled(function):
    # PyTorch's own answer to launch-bound loops: the forward and backward of `function` captured
    # as CUDA graphs (reduce-overhead), the bar a captured step of ours is held to.
    return torch.compile(function, mode="reduce-overhead") if args.compile else function


def reconstruction_loss(model):
    return lambda x: F.mse_loss(model(x), x)


def train_rate(model, loss_of, shape):
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3, eps=1e-8)
    x = torch.rand(*shape, device=device)
    loss_of = maybe_compiled(loss_of)

    def run():
        start = time.perf_counter()
        for _ in range(args.steps):
            opt.zero_grad()
            loss = loss_of(x)
            loss.backward()
            opt.step()
        loss.item()
        return args.steps * shape[0] / (time.perf_counter() - start)
    return run


def infer_rate(model, shape):
    model.to(device)
    model = maybe_compiled(model)
    x = torch.rand(*shape, device=device)

    def run():
        with torch.no_grad():
            start = time.perf_counter()
            checksum = torch.zeros(1, device=device)
            for _ in range(args.steps):
                checksum += model(x).flatten()[:1]
            checksum.item()
            return args.steps * shape[0] / (time.perf_counter() - start)
    return run


def matmul_rate(n=2048, steps=5):
    a, b = torch.rand(n, n, device=device) * 2 - 1, torch.rand(n, n, device=device) * 2 - 1

    def run():
        start = time.perf_counter()
        checksum = torch.zeros(1, device=device)
        for _ in range(steps):
            checksum += (a @ b)[0, :1]
        checksum.item()
        return 2 * n ** 3 * steps / (time.perf_counter() - start) / 1e9
    return run


def activation_rate(activation):
    x = torch.rand(256, 784, device=device) * 8 - 4

    def run():
        steps = args.steps * 10
        start = time.perf_counter()
        checksum = torch.zeros(1, device=device)
        for _ in range(steps):
            checksum += activation(x)[0, :1]
        checksum.item()
        return steps * x.numel() / (time.perf_counter() - start) / 1e6
    return run


def fashion_train():
    raw = gzip.open(os.path.join(args.fashion, "train-images-idx3-ubyte.gz"), "rb").read()
    return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(-1, 784).float() / 255


def end_to_end(epochs=3, batch=256):
    images = fashion_train().to(device)
    order = torch.randperm(len(images), generator=torch.Generator(device=device).manual_seed(42), device=device)
    valid_count = len(images) // 10
    valid, train = images[order[:valid_count]], images[order[valid_count:]]
    model = dense_autoencoder().to(device)
    opt = torch.optim.Adam(model.parameters(), 1e-3, eps=1e-8)
    forward = maybe_compiled(model)
    half = {"bf16": torch.bfloat16, "f16": torch.float16}.get(args.precision)
    autocast = lambda: torch.autocast(device.type, dtype=half, enabled=half is not None)
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "f16")
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        steps = len(train) // batch  # the last partial batch dropped, as the trainers do
        for idx in torch.randperm(len(train), device=device)[: steps * batch].split(batch):
            x = train[idx]
            opt.zero_grad()
            with autocast():
                # The loss in f32, as autocast does for mse_loss and the trainers do for theirs.
                loss = F.mse_loss(forward(x).float(), x)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        loss.item()
        seconds.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad(), autocast():
            sum(F.mse_loss(forward(x).float(), x, reduction="sum").item() for x in valid.split(batch))
    images_per_epoch = (len(train) // batch) * batch
    return seconds[0], images_per_epoch * (epochs - 1) / sum(seconds[1:])


def report(name, unit, run):
    if args.tf32:
        name = f"{name}-tf32"
    if args.compile:
        name = f"{name}-compiled"
    run()
    values = sorted(run() for _ in range(args.reps))
    print(f"{name:<12} {unit:<12} median {values[len(values) // 2]:>12,.1f}   range {values[0]:,.1f} - {values[-1]:,.1f}")


name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
compiled = ', torch.compile(mode="reduce-overhead")' if args.compile else ""
tf32 = "on" if args.tf32 else "off"
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device} ({name}), TF32 {tf32}{compiled}")
for row in args.rows.split(","):
    if row == "dense-train":
        model = dense_autoencoder()
        report(row, "samples/s", train_rate(model, reconstruction_loss(model), (256, 784)))
    elif row == "conv-train":
        model = ConvAutoencoder()
        report(row, "samples/s", train_rate(model, reconstruction_loss(model), (128, 1, 28, 28)))
    elif row == "vae-train":
        model = Vae()
        report(row, "samples/s", train_rate(model, model.loss, (128, 1, 28, 28)))
    elif row == "dense-infer":
        report(row, "samples/s", infer_rate(dense_autoencoder().eval(), (1024, 784)))
    elif row == "conv-infer":
        report(row, "samples/s", infer_rate(ConvAutoencoder().eval(), (512, 1, 28, 28)))
    elif row == "matmul":
        report(row, "GFLOP/s", matmul_rate())
    elif row in ("sigmoid", "relu"):
        report(row, "M values/s", activation_rate(torch.sigmoid if row == "sigmoid" else torch.relu))
    elif row == "e2e-dense":
        warmup, steady = end_to_end(epochs=max(args.epochs, 2), batch=args.batch_size)
        if args.precision != "f32":
            row = f"{row}-{args.precision}"
        if args.tf32:
            row = f"{row}-tf32"
        if args.compile:
            row = f"{row}-compiled"
        print(f"{row:<12} first epoch {warmup:.2f} s, steady {steady:,.0f} images/s")
    else:
        raise SystemExit(f"unknown row {row!r}; known: {', '.join(ROWS)}")
