/*
 * Does a bursty process on the load side's core delay the load side? bench:gateway's PostgreSQL
 * shares core 0 with wrk and the mock, and runs each batch's insert in one burst of a few ms.
 * This stands in for both, with no database and no gateway (docs/benchmarks.md, stop 48):
 *
 *   pingpong SECONDS W1 W0: a closed loop over two pipes, core 1 burning W1 µs a round (the
 *     gateway), a child on core 0 burning W0 µs a round (the load generator and the mock);
 *     prints rounds a second and the round trip's percentiles.
 *   hog BURST SLEEP: burns BURST µs, sleeps SLEEP µs, forever (the database's batch inserts).
 *
 *   gcc -O2 -o /tmp/burst tests/bench/probes/burst-interference.c
 *   /tmp/burst pingpong 3 100 40                                    # alone
 *   taskset -c 0 chrt -i 0 /tmp/burst hog 2500 20000 &               # SCHED_IDLE, same session
 *   taskset -c 0 setsid nice -n 19 /tmp/burst hog 2500 20000 &       # nice 19, a session of its own
 *   (then /tmp/burst pingpong 3 100 40 again, and kill the hog)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void burn(double us) {
  double start = now_us();
  while (now_us() - start < us) {
  }
}

static void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int pingpong(double seconds, double w1, double w0) {
  int there[2], back[2];
  char byte = 'x';
  if (pipe(there) || pipe(back)) return 1;
  pid_t child = fork();
  if (child == 0) {
    pin(0);
    close(there[1]);
    while (read(there[0], &byte, 1) == 1) {
      burn(w0);
      if (write(back[1], &byte, 1) != 1) break;
    }
    _exit(0);
  }
  pin(1);
  size_t cap = 50000000 / 10, n = 0;
  double *rounds = malloc(cap * sizeof *rounds);
  double start = now_us();
  while (now_us() - start < seconds * 1e6 && n < cap) {
    double t = now_us();
    if (write(there[1], &byte, 1) != 1 || read(back[0], &byte, 1) != 1) return 1;
    rounds[n++] = now_us() - t;
    burn(w1);
  }
  close(there[1]);
  qsort(rounds, n, sizeof *rounds, by_value);
  printf("rounds/s %.0f, round trip p50 %.1f p99 %.1f p99.9 %.1f max %.1f µs\n", n / seconds, rounds[n / 2],
         rounds[n * 99 / 100], rounds[n * 999 / 1000], rounds[n - 1]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && strcmp(argv[1], "pingpong") == 0) return pingpong(atof(argv[2]), atof(argv[3]), atof(argv[4]));
  if (argc == 4 && strcmp(argv[1], "hog") == 0) {
    for (;;) {
      burn(atof(argv[2]));
      usleep((useconds_t)atof(argv[3]));
    }
  }
  fprintf(stderr, "usage: %s pingpong SECONDS W1 W0 | hog BURST_US SLEEP_US\n", argv[0]);
  return 2;
}
