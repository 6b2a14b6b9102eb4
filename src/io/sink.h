/* SPDX-License-Identifier: MIT */
/* Append-only line output (log files, output.txt, stderr), batched per loop iteration if asked. */
#ifndef GOSSIP_SINK_H
#define GOSSIP_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "core/buf.h"

/* Lines waiting in a buffered sink are written as soon as they reach this many bytes. */
#define SINK_FLUSH_BYTES (64 * 1024)

/*
 * Each write() carries whole lines, so processes appending to the same file
 * (O_APPEND) never interleave within a line. A buffered sink gathers the
 * lines of one event-loop iteration and writes them with one call at its
 * end (sink_flush), instead of one call per line.
 */
struct sink {
	int fd; /* -1: lines are dropped */
	bool buffered;
	struct buf pending;
};

void sink_init(struct sink *s, int fd);
/* Writes what is pending and frees the buffer; the fd is the caller's to close. */
void sink_done(struct sink *s);
void sink_set_buffered(struct sink *s, bool buffered);
/* One line: the n pieces, then a newline. 0, or -errno when writing failed. */
int sink_line(struct sink *s, const struct iovec *iov, int n);
/* Writes all of p[0..len) to fd, retrying short writes and EINTR: 0 or -errno. */
int sink_write_all(int fd, const uint8_t *p, size_t len);
/* Writes what is pending. 0, or -errno (what could not be written is dropped). */
int sink_flush(struct sink *s);
/* Opens path for appending lines (created 0640): fd, or -errno. */
int sink_open_append(const char *path);
/*
 * Reopens path (log rotation: the old name now belongs to the rotated file):
 * the pending lines are written to the old fd, which is closed, and the next
 * lines go to the new file. On failure, -errno and the sink keeps writing
 * to the old fd; 0 on success.
 */
int sink_reopen(struct sink *s, const char *path);

#endif
