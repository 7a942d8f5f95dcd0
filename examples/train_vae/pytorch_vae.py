# PyTorch reference for the VAE row of issue 3: the VAE of PyTorch's examples repository
# (784-400-20, ReLU, sigmoid decoder, BCE summed per image + KL, Adam 1e-3, batch 128, shuffled),
# on Fashion-MNIST read from the Debian package's IDX files, 2 threads, 5 epochs; prints the test
# loss per image after each epoch as that example does (one sampled z per image).
# Run: pip install torch; python3 examples/train_vae/pytorch_vae.py [seed ...]
import gzip, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(2)
ROOT = "/usr/share/datasets/fashion-mnist/"
def images(name):
    raw = gzip.open(ROOT + name, "rb").read()
    return torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8).view(-1, 784).float() / 255
train, test = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
class VAE(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.fc1, s.fc21, s.fc22 = torch.nn.Linear(784, 400), torch.nn.Linear(400, 20), torch.nn.Linear(400, 20)
        s.fc3, s.fc4 = torch.nn.Linear(20, 400), torch.nn.Linear(400, 784)
    def forward(s, x):
        h = F.relu(s.fc1(x)); mu, logvar = s.fc21(h), s.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return s.fc4(F.relu(s.fc3(z))), mu, logvar
def loss(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
for seed in [int(a) for a in sys.argv[1:]] or [1]:
    torch.manual_seed(seed); m = VAE(); opt = torch.optim.Adam(m.parameters(), lr=1e-3); t = time.time()
    for epoch in range(1, 6):
        m.train()
        for idx in torch.randperm(len(train)).split(128):
            x = train[idx]; opt.zero_grad(); l = loss(*(lambda o: (o[0], x, o[1], o[2]))(m(x))); l.backward(); opt.step()
        m.eval()
        with torch.no_grad():
            total = sum(loss(*(lambda o: (o[0], x, o[1], o[2]))(m(x))).item() for x in test.split(1000))
        print(f"seed {seed} epoch {epoch}: test loss per image {total / len(test):.2f} ({time.time() - t:.0f} s)", flush=True)
