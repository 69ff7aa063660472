# Four busy threads; the main thread exits the process after argv[1] seconds while they run.
import os
import sys
import threading
import time


def busy():
    total = 0
    while True:
        total += 1


for _ in range(4):
    threading.Thread(target=busy, daemon=True).start()
print("ready", flush=True)
time.sleep(float(sys.argv[1]))
sys.stdout.flush()
os._exit(0)
