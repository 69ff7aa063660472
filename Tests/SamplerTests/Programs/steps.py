# A training loop of STEPS steps of 65 ms (data 5 ms waiting, forward 30 ms, backward 25 ms,
# optimizer 5 ms, spun by the clock), then exit. Function names give the phases by the built-in
# name rules. Prints "ready" before the first step; writes each step's start time (ns) to the
# file named by the second argument.
import sys
import time


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def dataloader_next():
    time.sleep(0.005)


def forward():
    spin(0.030)


def backward():
    spin(0.025)


class Optimizer:
    def step(self):
        spin(0.005)


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 46
    opt = Optimizer()
    starts = []
    print("ready", flush=True)
    time.sleep(0.1)
    for _ in range(steps):
        starts.append(time.time_ns())
        dataloader_next()
        forward()
        backward()
        opt.step()
    starts.append(time.time_ns())
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            f.write("\n".join(map(str, starts)) + "\n")


if __name__ == "__main__":
    main()
