# A parent that forks two worker processes (as DataLoader workers are forked); each worker spins
# in worker_loop, the parent in parent_loop. Prints "ready" once the workers run.
import os
import sys
import time


def spin(n):
    total = 0
    for i in range(n):
        total += i
    return total


def worker_loop(end):
    while time.time() < end:
        spin(50000)


def parent_loop(end):
    while time.time() < end:
        spin(50000)


def main():
    end = time.time() + float(sys.argv[1])
    children = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            worker_loop(end)
            os._exit(0)
        children.append(pid)
    print("ready", flush=True)
    parent_loop(end)
    for pid in children:
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
