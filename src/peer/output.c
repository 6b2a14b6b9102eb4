/* SPDX-License-Identifier: MIT */
/* gossip-peer's record of what it received: output.txt, the journal's events, the history. */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "io/clock.h"
#include "io/log.h"
#include "output.h"

int
output_open(struct output *o, const char *path, uint32_t history)
{
	memset(o, 0, sizeof(*o));
	o->path = xstrdup(path);
	o->cap = history;
	ring_init(&o->history, sizeof(struct history_entry));
	o->fd = sink_open_append(path);
	if (o->fd < 0)
		return o->fd;
	sink_init(&o->sink, o->fd);
	sink_set_buffered(&o->sink, true);
	return 0;
}

int
output_reopen(struct output *o)
{
	int r = sink_reopen(&o->sink, o->path);

	if (r == 0)
		o->fd = o->sink.fd;
	return r;
}

void
output_close(struct output *o)
{
	for (uint32_t i = 0; i < o->history.n; i++)
		blob_unref(output_history(o, i)->frame);
	ring_release(&o->history);
	output_flush(o);
	sink_done(&o->sink);
	buf_free(&o->line);
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	free(o->path);
	o->path = NULL;
}

uint32_t
output_history_len(const struct output *o)
{
	return (uint32_t)o->history.n;
}

const struct history_entry *
output_history(const struct output *o, uint32_t i)
{
	return ring_at(&o->history, i);
}

static void
remember(struct output *o, const struct history_entry *e)
{
	if (!o->cap)
		return;
	if (o->history.n == o->cap) {
		blob_unref(output_history(o, 0)->frame);
		ring_pop(&o->history);
	}
	*(struct history_entry *)ring_push(&o->history, o->cap) = *e;
	blob_ref(e->frame);
}

static void
put_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/*
 * "Received from <from>: <origin> - <origin time>:<origin ip>:'<text>'", NUL
 * terminated, in b; os is the origin as node_addr_str() gives it. Built by
 * hand: a busy peer writes one per message.
 */
static void
format_received(struct buf *b, const struct delivery *d, const char *os)
{
	char oip[NODE_ADDR_STRLEN], ots[32], *text;

	node_addr_ip_str(d->origin, oip);
	format_wallclock(d->timestamp, ots, sizeof(ots));
	text = escape_text(d->payload, d->len);
	b->len = 0;
	put_str(b, "Received from ");
	put_str(b, d->from_str);
	put_str(b, ": ");
	put_str(b, os);
	put_str(b, " - ");
	put_str(b, ots);
	buf_append(b, ":", 1);
	put_str(b, oip);
	put_str(b, ":'");
	put_str(b, text);
	buf_append(b, "'", 2); /* with the NUL */
	free(text);
}

static void
output_failed(struct output *o, int r)
{
	if (r < 0)
		log_warn("cannot write %s: %s", o->path, strerror(-r));
}

/* Whole lines, one write per loop iteration: peers sharing output.txt never interleave. */
static void
write_line(struct output *o, const char *line, uint64_t now_real)
{
	char stamp[32];
	struct iovec iov[4];

	format_wallclock(now_real, stamp, sizeof(stamp));
	iov[0] = (struct iovec){(void *)"[", 1};
	iov[1] = (struct iovec){stamp, strlen(stamp)};
	iov[2] = (struct iovec){(void *)"] ", 2};
	iov[3] = (struct iovec){(void *)line, strlen(line)};
	output_failed(o, sink_line(&o->sink, iov, 4));
}

void
output_flush(struct output *o)
{
	output_failed(o, sink_flush(&o->sink));
}

void
output_set_journal_rate(struct output *o, uint32_t per_second)
{
	o->journal_rate = per_second;
}

/* The window's count of events not logged one by one, if any, in one line. */
static void
end_window(struct output *o)
{
	struct log_fields f = {.event = "not-logged"};
	uint64_t held = o->held_received + o->held_sent;

	if (held)
		log_event(LOG_INFO, &f,
			  "%llu message events not logged one by one in the last %llu s (%llu "
			  "received, %llu sent; over peer.journal_message_rate = %u a second); the log "
			  "file has each, and %s each message received",
			  (unsigned long long)held,
			  (unsigned long long)(OUTPUT_JOURNAL_WINDOW_USEC / USEC_PER_SEC),
			  (unsigned long long)o->held_received, (unsigned long long)o->held_sent,
			  o->journal_rate, o->path);
	o->window_start = 0;
	o->window_logged = o->held_received = o->held_sent = 0;
}

void
output_tick(struct output *o, uint64_t now)
{
	if (o->window_start && now - o->window_start >= OUTPUT_JOURNAL_WINDOW_USEC)
		end_window(o);
}

bool
output_journal_pass(struct output *o, uint64_t now, bool sent)
{
	output_tick(o, now);
	if (!o->window_start)
		o->window_start = now ? now : 1;
	if (o->window_logged < (uint64_t)o->journal_rate * (OUTPUT_JOURNAL_WINDOW_USEC / USEC_PER_SEC)) {
		o->window_logged++;
		return true;
	}
	if (sent)
		o->held_sent++;
	else
		o->held_received++;
	return false;
}

void
output_deliver(struct output *o, const struct delivery *d, uint64_t now, struct history_entry *ret)
{
	char hex[2 * WIRE_ID_LEN + 1], os[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "received", .msg_id = hex, .origin = os,
			       .remote = d->from_str, .sd_id = GOSSIP_SD_ID_RECEIVED};
	const char *line;

	hex_encode(d->id, WIRE_ID_LEN, hex);
	node_addr_str(d->origin, os);
	format_received(&o->line, d, os);
	line = (const char *)o->line.data;
	write_line(o, line, d->received);
	if (output_journal_pass(o, now, false))
		log_event(LOG_INFO, &f, "%s (id %s)", line, hex);
	else
		log_file_only(LOG_INFO, "%s (id %s)", line, hex);
	*ret = (struct history_entry){
		.from = *d->from,
		.origin = *d->origin,
		.timestamp = d->timestamp,
		.received = d->received,
		.seq = d->seq,
		.frame = d->frame,
		.payload = d->payload, /* points into frame */
		.len = d->len,
	};
	memcpy(ret->id, d->id, WIRE_ID_LEN);
	remember(o, ret);
}
