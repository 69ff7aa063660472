/* Shared library for native_calls.py. */
volatile unsigned long c_sink;

__attribute__((noinline)) static void c_spin_inner(long n) {
    for (long i = 0; i < n; i++) c_sink += (unsigned long)i * i;
}

void c_spin(long n) { c_spin_inner(n); }
