# PyTorch reference for the dense rows of backend_bench: the same model, batch, optimiser and
# protocol (warm-up, 5 repetitions of 20 steps, one read-back per repetition), 2 threads.
# Run: pip install torch; python3 examples/backend_bench/pytorch_dense.py
# (also: sigmoid / relu throughput, the element-wise rows)
import time, torch
torch.set_num_threads(2); torch.manual_seed(0)
w=[784,128,64,32,64,128,784]
layers=[]
for i in range(6):
    layers.append(torch.nn.Linear(w[i],w[i+1])); layers.append(torch.nn.ReLU() if i<5 else torch.nn.Sigmoid())
m=torch.nn.Sequential(*layers); opt=torch.optim.Adam(m.parameters(),1e-3)
x=torch.rand(256,784)
def run(steps):
    t=time.perf_counter()
    for _ in range(steps):
        opt.zero_grad(); l=torch.nn.functional.mse_loss(m(x),x); l.backward(); opt.step()
    l.item(); return steps*256/(time.perf_counter()-t)
run(20); r=sorted(run(20) for _ in range(5)); print("torch dense train samples/s median", r[2], "range", r[0], r[-1])
with torch.no_grad():
    xb=torch.rand(1024,784); t=time.perf_counter()
    for _ in range(20): m(xb)
    print("torch dense infer samples/s", 20*1024/(time.perf_counter()-t))
# The element-wise rows (backend_bench --workloads sigmoid,relu): [256, 784] values in [-4, 4].
x=torch.rand(256,784)*8-4
for name,f in (("sigmoid",torch.sigmoid),("relu",torch.relu)):
    def act(steps):
        t=time.perf_counter(); c=0.0
        for _ in range(steps): c+=f(x)[0,0].item()
        return steps*x.numel()/(time.perf_counter()-t)/1e6
    act(200); r=sorted(act(200) for _ in range(5)); print("torch", name, "M values/s median", r[2])
