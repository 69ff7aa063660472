# Two threads with OS names (set with prctl, as /proc/PID/task/TID/comm shows them): one waits in
# wait_for_batch, the other spins in reduce_gradients; the main thread joins them.
import ctypes
import sys
import threading
import time

libc = ctypes.CDLL(None)
PR_SET_NAME = 15


def name_thread(name):
    libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)


def wait_for_batch(event):
    event.wait()


def loader(event):
    name_thread("loader-0")
    wait_for_batch(event)


def reduce_gradients(end):
    x = 0
    while time.time() < end:
        x += 1


def reducer(end):
    name_thread("reducer-1")
    reduce_gradients(end)


def main():
    limit = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    event = threading.Event()
    threads = [threading.Thread(target=loader, args=(event,)), threading.Thread(target=reducer, args=(time.time() + limit,))]
    for t in threads:
        t.start()
    time.sleep(0.2)
    print("ready", flush=True)
    threads[1].join()
    event.set()
    threads[0].join()


if __name__ == "__main__":
    main()
