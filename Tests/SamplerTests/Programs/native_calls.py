# Python calling into a C library (path in argv[1]) through ctypes: native frames of c_spin must
# appear inside the Python frame call_native when sampled with --native.
import ctypes
import sys
import time

lib = ctypes.CDLL(sys.argv[1])
lib.c_spin.argtypes = [ctypes.c_long]


def call_native():
    lib.c_spin(2000000)


def python_spin():
    total = 0
    for i in range(100000):
        total += i
    return total


def main():
    print("ready", flush=True)
    end = time.time() + float(sys.argv[2])
    while time.time() < end:
        call_native()
        python_spin()


if __name__ == "__main__":
    main()
