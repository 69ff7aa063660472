/* A native target with known hot functions: hot_inner runs three times the iterations of
   cold_inner, both called from spin_loop. Prints "ready" once running. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile unsigned long sink;

__attribute__((noinline)) void hot_inner(long n) {
    for (long i = 0; i < n; i++) sink += (unsigned long)i * i;
}

__attribute__((noinline)) void cold_inner(long n) {
    for (long i = 0; i < n; i++) sink += (unsigned long)i * i;
}

__attribute__((noinline)) void spin_loop(double seconds) {
    time_t end = time(NULL) + (time_t)seconds;
    while (time(NULL) < end) {
        hot_inner(3000000);
        cold_inner(1000000);
    }
}

int main(int argc, char **argv) {
    printf("ready\n");
    fflush(stdout);
    spin_loop(argc > 1 ? atof(argv[1]) : 3600);
    return 0;
}
