/* SPDX-License-Identifier: MIT */
/*
 * gossip-peer's state file: the ids of the messages it delivered or sent
 * within the anti-entropy window, so that a restarted peer delivers none of
 * them again (gossip-peer(8), FILES).
 *
 * An 8-byte magic, "GSSTATE1", the time the peer first started with this
 * file (u64 unix microseconds, big-endian: a member since), then records of
 * 40 bytes: a message id and its origin timestamp (the same). Records are
 * appended as messages come, written at the end of each loop iteration
 * before output.txt; at start, and whenever as many records were appended
 * as the file held then (at least STATE_COMPACT_MIN), the file is rewritten
 * with only those inside the window, the newest max_records at most (the
 * seen cache's size: what it cannot remember, no record would keep from
 * being delivered again anyway).
 */
#ifndef GOSSIP_PEER_STATE_H
#define GOSSIP_PEER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/wire.h"
#include "core/buf.h"

#define STATE_MAGIC "GSSTATE1"
#define STATE_MAGIC_LEN 8
#define STATE_HEADER_LEN (STATE_MAGIC_LEN + 8)
#define STATE_RECORD_LEN (WIRE_ID_LEN + 8)
#define STATE_COMPACT_MIN 4096

struct state_file {
	char *path;
	int fd; /* -1: no state file */
	struct buf pending; /* records of this loop iteration */
	uint64_t window;   /* usec */
	uint64_t since;    /* unix usec: a member since (the header) */
	size_t max_records;
	size_t kept;       /* records at the last rewrite */
	size_t appended;   /* since */
};

/*
 * Opens path (created if missing, mode 0640), gives each record younger
 * than window by now_real to cb, and rewrites the file with those only.
 * s->since is the header's time, or now_real for a new file.
 * A damaged file (another magic, a record cut short) keeps what is valid;
 * its problem is described in `warning` (empty when none). Returns the
 * number of records given, or -errno.
 */
long state_open(struct state_file *s, const char *path, uint64_t now_real, uint64_t window,
		size_t max_records, void (*cb)(void *ctx, const uint8_t *id, uint64_t stamp),
		void *ctx, char *warning, size_t warning_len);
/* Records a message held; rewrites the file when due (now_real: the window's end). */
void state_append(struct state_file *s, const uint8_t *id, uint64_t stamp, uint64_t now_real);
/* Writes what was appended in this loop iteration. 0 or -errno. */
int state_flush(struct state_file *s);
void state_close(struct state_file *s);

#endif
