# A small PyTorch CPU training loop. "profile OUT" runs a few steps under torch.profiler (with
# stacks, so the trace shows forward/backward/optimizer) and writes a Chrome trace to OUT;
# "run SECONDS" trains unprofiled, for sampling. The layers are large enough (about 120 ms a step on
# one thread) that the profiler's per-operator and per-Python-call overhead stays a few percent of a
# phase: with small layers (1 ms matmuls) with_stack inflated the optimizer's and the data loader's
# share in the trace by up to 0.3 of the step, far from what an unprofiled run does.
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
torch.set_num_threads(1)
data = TensorDataset(torch.randn(4096, 1024), torch.randint(0, 10, (4096,)))
loader = DataLoader(data, batch_size=256, shuffle=True)
model = torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                            torch.nn.Linear(1024, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()


def batches():
    while True:
        for batch in loader:
            yield batch


def step(batch):
    x, y = batch
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()


def main():
    it = batches()
    if sys.argv[1] == "profile":
        sched = torch.profiler.schedule(wait=2, warmup=2, active=10)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], schedule=sched, with_stack=True,
                                    on_trace_ready=lambda p: p.export_chrome_trace(sys.argv[2])) as prof:
            for _ in range(14):
                step(next(it))
                prof.step()
        return
    print("ready", flush=True)
    end = time.time() + float(sys.argv[2])
    while time.time() < end:
        step(next(it))


if __name__ == "__main__":
    main()
