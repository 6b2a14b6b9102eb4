/* SPDX-License-Identifier: MIT */
/* gossip-peer's record of what it received: output.txt, the journal's events, the history. */
#ifndef GOSSIP_PEER_OUTPUT_H
#define GOSSIP_PEER_OUTPUT_H

#include <stdint.h>

#include "core/env.h"
#include "core/ring.h"
#include "core/wire.h"
#include "io/sink.h"

/* A received message kept for gossipctl tail. */
struct history_entry {
	uint8_t id[WIRE_ID_LEN];
	struct node_addr from, origin;
	uint64_t timestamp, received, seq;
	struct blob *frame; /* holds the payload */
	const uint8_t *payload;
	uint32_t len;
};

/*
 * The window of peer.journal_message_rate: at most rate x 10 s per-message
 * events ("received", "sent") a window go to the journal (or stderr) one by
 * one; the others go to the log file only, are counted, and one line at the
 * window's end says how many.
 */
#define OUTPUT_JOURNAL_WINDOW_USEC (10 * 1000000ULL)

struct output {
	char *path;
	int fd;
	struct sink sink;     /* output.txt, batched per loop iteration */
	struct buf line;      /* the line of the message being delivered */
	struct ring history; /* of struct history_entry, at most cap */
	uint32_t cap;
	uint32_t journal_rate;   /* peer.journal_message_rate */
	uint64_t window_start;   /* monotonic usec; 0: no window open */
	uint64_t window_logged;  /* events logged one by one in this window */
	uint64_t held_received, held_sent; /* and not */
};

/* Opens path for appending, keeps up to history messages: 0 or -errno. */
int output_open(struct output *o, const char *path, uint32_t history);
/* peer.journal_message_rate (at start and on reload). */
void output_set_journal_rate(struct output *o, uint32_t per_second);
/*
 * Whether a per-message event (sent: a "sent" one, else "received") goes to
 * the journal one by one at now (monotonic usec); if not, it is counted.
 */
bool output_journal_pass(struct output *o, uint64_t now, bool sent);
/* Ends the journal window once it is over (now: monotonic usec): its summary line. */
void output_tick(struct output *o, uint64_t now);
/* Opens the path again (log rotation): 0, or -errno with the old file kept. */
int output_reopen(struct output *o);
void output_close(struct output *o);
/*
 * A delivered message: its output.txt line, its "received" event, a place
 * in the history. *ret is the history entry of it (valid until the next call).
 * now: monotonic usec, for peer.journal_message_rate.
 */
void output_deliver(struct output *o, const struct delivery *d, uint64_t now,
		    struct history_entry *ret);
/* Writes the output.txt lines of this loop iteration. */
void output_flush(struct output *o);
/* How many messages are kept, and the i-th of them, oldest first. */
uint32_t output_history_len(const struct output *o);
const struct history_entry *output_history(const struct output *o, uint32_t i);

#endif
