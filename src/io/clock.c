/* SPDX-License-Identifier: MIT */
/* The system's clocks and randomness, for the programs (the cores take time as input). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

uint64_t
now_monotonic_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
now_realtime_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

const char *
format_wallclock(uint64_t realtime_usec, char *buf, size_t len)
{
	/* A busy peer stamps thousands of lines a second, nearly all in the same second. */
	static time_t cached_t = -1;
	static char cached[32];
	time_t t = (time_t)(realtime_usec / USEC_PER_SEC);
	struct tm tm;

	if (t != cached_t) {
		if (!localtime_r(&t, &tm) ||
		    strftime(cached, sizeof(cached), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
			snprintf(buf, len, "?");
			return buf;
		}
		cached_t = t;
	}
	if (len) {
		size_t n = strlen(cached);
		if (n >= len)
			n = len - 1;
		memcpy(buf, cached, n);
		buf[n] = '\0';
	}
	return buf;
}

void
rng_seed_random(struct rng *r)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), 0) != sizeof(s))
		s = now_monotonic_usec() ^ ((uint64_t)getpid() << 32);
	rng_seed(r, s);
}

int
fd_set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

struct instant
instant_now(void)
{
	return (struct instant){now_monotonic_usec(), now_realtime_usec()};
}
