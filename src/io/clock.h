/* SPDX-License-Identifier: MIT */
/* The system's clocks and randomness, for the programs (the cores take time as input). */
#ifndef GOSSIP_IO_CLOCK_H
#define GOSSIP_IO_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "core/env.h"
#include "core/util.h"

/* Clocks in microseconds. */
uint64_t now_monotonic_usec(void);
uint64_t now_realtime_usec(void);
/* Both, for a core's input. */
struct instant instant_now(void);
/* "YYYY-MM-DD HH:MM:SS" local time, buf >= 20 bytes. */
const char *format_wallclock(uint64_t realtime_usec, char *buf, size_t len);
/* Seeds r from getrandom(). */
void rng_seed_random(struct rng *r);
/* Sets O_NONBLOCK and FD_CLOEXEC on fd: 0 or -errno. */
int fd_set_nonblock_cloexec(int fd);

#endif
