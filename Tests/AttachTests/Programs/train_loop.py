# A small PyTorch CPU training loop for `stepscope trace`: no ProfilerStep, so the trace's steps
# are inferred from Optimizer.step#. Writes its iteration count to COUNT_FILE every 50 steps and
# prints "ready" after the first ones. Runs for SECONDS. Args: COUNT_FILE SECONDS.
import os
import sys
import time

import torch
import torch.profiler  # noqa: F401  (registers the optimizer hook that counts iterations for Kineto)

torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
end = time.time() + float(sys.argv[2])
step = 0
while time.time() < end:
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    step += 1
    if step % 50 == 0:
        # Replaced whole, so a reader never sees the file truncated between open and write.
        with open(sys.argv[1] + ".tmp", "w") as f:
            f.write(str(step))
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    if step == 20:
        print("ready", flush=True)
