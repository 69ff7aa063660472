"""Throughput target for bench/sampler_overhead.sh: runs a workload, prints steps per second.

    python sampler_target.py torch|python WARMUP_S MEASURE_S

Warms up for WARMUP_S seconds (the sampler attaches then), then counts steps for MEASURE_S
seconds and prints "steps_per_s N" on stdout.
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
    kind, warmup, measure = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    step = torch_workload() if kind == "torch" else python_workload()
    print("ready", flush=True)
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < measure:
        step()
        steps += 1
    print(f"steps_per_s {steps / (time.perf_counter() - start):.4f}", flush=True)


if __name__ == "__main__":
    main()
