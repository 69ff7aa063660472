# A target with known hot functions: heavy_work runs 3x the loop iterations of light_work, both
# in the same loop body, so about 75% / 25% of the busy samples. A second thread sleeps (idle).
import sys
import threading
import time


def light_work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def heavy_work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def sleeper():
    while True:
        time.sleep(0.05)


def main():
    threading.Thread(target=sleeper, name="sleeper", daemon=True).start()
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 3600
    print("ready", flush=True)
    end = time.time() + limit
    while time.time() < end:
        heavy_work(60000)
        light_work(20000)


if __name__ == "__main__":
    main()
