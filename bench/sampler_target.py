"""Throughput target for bench/sampler_overhead.sh.

    python sampler_target.py torch|python

Prints "ready", then runs training steps forever and, ten times a second, a line
"MONOTONIC_SECONDS TOTAL_STEPS" (time.monotonic shares its clock with the bench driver).
torch: a 3-layer MLP with Adam on batches of 64, one intra-op thread; python: a 20-deep call
chain over a small loop.
"""
import sys
import time


def python_workload():
    def leaf(n):
        total = 0
        for i in range(n):
            total += i * i
        return total

    def level(depth, n):
        return leaf(n) if depth == 0 else level(depth - 1, n)

    return lambda: level(20, 20000)


def torch_workload():
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    return step


def main():
    step = torch_workload() if sys.argv[1] == "torch" else python_workload()
    print("ready", flush=True)
    steps, next_tick = 0, time.monotonic()
    while True:
        step()
        steps += 1
        now = time.monotonic()
        if now >= next_tick:
            print(f"{now:.6f} {steps}", flush=True)
            next_tick = now + 0.1


if __name__ == "__main__":
    main()
