/* SPDX-License-Identifier: MIT */
/* The local control protocol between gossip-peer and gossipctl: frames, records, status codes. */
#ifndef GOSSIP_CTL_H
#define GOSSIP_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Over an AF_UNIX stream socket. Every frame: an 8-byte header then the body.
 *
 *   0  'G' 'C'        magic
 *   2  u8 version     CTL_VERSION
 *   3  u8 type        enum ctl_type
 *   4  u32 length     body length, big-endian, <= CTL_MAX_BODY
 *
 * The client sends one request; the daemon answers with zero or more RECORD
 * frames and exactly one END frame carrying a status (enum ctl_status) and a
 * one-line message, then waits for the next request. TAIL with follow set
 * streams RECORDs until the client closes.
 */
#define CTL_MAGIC0 0x47 /* 'G' */
#define CTL_MAGIC1 0x43 /* 'C' */
#define CTL_VERSION 1
#define CTL_HDR_LEN 8
#define CTL_MAX_BODY (1024u * 1024u + 4096u)
#define CTL_MAX_TEXT 512

/*
 * Records the daemon sends (field kinds in brackets). Clients must ignore
 * fields they do not know, so fields can be added without a version bump.
 *
 * STATUS: one record
 *   node[s] state[s: registering|ready|leaving] version[s] pid[u] uptime[f: s]
 *   seeds_known[u] seeds_required[u] seeds_registered[u] neighbours[u]
 *   degree[u] known_peers[u] messages_received[u] messages_sent[u]
 *   control_socket[s] log_file[s] output_file[s]
 * PEERS: one record per neighbour
 *   addr[s] direction[s: out|in] state[s: up|connecting|down] rtt_ms[f: -1 unknown]
 *   misses[u] queued_bytes[u] push[s: eager|lazy] connected_for[f: s]
 * SEND: one record
 *   id[s: 64 hex] seq[u] size[u]
 * TAIL: one record per received message, oldest first
 *   id[s] from[s: neighbour ip:port] origin[s: ip:port] timestamp[u: origin,
 *   unix usec] received[u: unix usec] seq[u] size[u] text[s: payload bytes]
 * STATS: one record of counters, all [u]
 *   messages_sent messages_received duplicates_received gossip_frames_sent
 *   gossip_frames_received gossip_bytes_sent pings_sent pongs_received
 *   neighbours_dead neighbours_dropped_slow malformed_frames seen_cache_entries
 *   seen_cache_evicted connections_accepted oversized_dropped ihave_frames_sent
 *   ihave_ids_sent ihave_ids_received grafts_sent grafts_answered grafts_unanswerable
 *   grafts_failed prunes_sent prunes_received announcements_dropped lazy_links
 *   resend_cache_bytes
 *   control_pauses pushes_deferred local_health local_health_raises stale_dropped
 *   graft_frames_sent claims_refused signatures_bad unsigned_dropped out_of_window_dropped
 *   certs_sent certs_received certs_refused cert_requests_sent cert_waits_expired
 *   connections_refused grafts_refused neighbours_suspected suspicions_refuted
 *   probe_requests_sent probe_requests_received probe_requests_refused ae_summaries_sent
 *   ae_summaries_received ae_ids_sent ae_ids_received ae_fetched ae_bytes_sent
 *   newcomers_dialled catch_up_ids_sent avoided_redialled before_member_dropped
 * MEMBERS: one record per seed of the peer's list, then one per registration
 *   seed[s: ip:port] answered[b] registrations[u] error[s: why not, or empty]
 *   addr[s] seeds[u] held_by[s: seeds, comma-separated] state[s: alive|suspect]
 *   incarnation[s: 16 hex, empty when not known] lease_age[f: s] registered_for[f: s]
 *   END is FAILED when no seed answered. No other request may follow MEMBERS
 *   before its END (the answer takes the seeds' time).
 * METRICS: one record naming the peer, then one per metric
 *   node[s] version[s]
 *   metric[s] type[s: counter|gauge] help[s] value[u or f]
 */
enum ctl_type {
	/* requests */
	CTL_SEND = 1,   /* body: payload bytes */
	CTL_STATUS = 2, /* empty */
	CTL_PEERS = 3,  /* empty */
	CTL_TAIL = 4,   /* body: u8 follow, u32 count (history entries to replay) */
	CTL_STATS = 5,  /* empty */
	CTL_MEMBERS = 6, /* empty: the membership as the seeds see it (asked of them) */
	CTL_METRICS = 7, /* empty: every counter and gauge, self-described */
	CTL_REQUEST_MAX = CTL_METRICS,
	/* replies */
	CTL_RECORD = 0x81, /* body: u16 nfields, fields */
	CTL_END = 0x82,    /* body: u8 status, u16 length, text */
};

/* END status; gossipctl exits with the same number. */
enum ctl_status {
	CTL_OK = 0,
	CTL_ERR_FAILED = 1,     /* the daemon could not do it (see text) */
	CTL_ERR_USAGE = 2,      /* bad request / unknown command */
	CTL_ERR_NOT_RUNNING = 3, /* used by gossipctl only: cannot reach the daemon */
	CTL_ERR_PERMISSION = 4, /* caller not allowed */
	CTL_ERR_TOO_LONG = 5,   /* message over max_message_size */
	CTL_ERR_EMPTY = 6,      /* empty message */
	CTL_ERR_PROTOCOL = 7,   /* malformed frame on the control socket */
};

/*
 * A record field: u8 key length, key, u8 kind, value.
 *   's': u32 length + bytes     'u': u64     'i': i64 (two's complement)
 *   'b': u8 0/1                 'f': u64 bit pattern of an IEEE-754 double
 */
enum ctl_kind {
	CTL_KIND_STR = 's',
	CTL_KIND_U64 = 'u',
	CTL_KIND_I64 = 'i',
	CTL_KIND_BOOL = 'b',
	CTL_KIND_DOUBLE = 'f',
};

struct ctl_field {
	char key[64];
	uint8_t kind;
	union {
		struct {
			const uint8_t *p;
			uint32_t len;
		} str;
		uint64_t u;
		int64_t i;
		bool b;
		double f;
	};
};

/* Header check, like wire_frame_check(): frame length, 0 for more, -EBADMSG. */
long ctl_frame_check(const uint8_t *buf, size_t len, const char **reason);

/* Building frames: begin returns the start offset passed to end. */
size_t ctl_frame_begin(struct buf *b, uint8_t type);
void ctl_frame_end(struct buf *b, size_t start);

/* A record in progress: begin, add fields, end. */
struct ctl_record {
	struct buf *b;
	size_t start;
	size_t count_at;
	uint16_t count;
};
void ctl_record_begin(struct ctl_record *r, struct buf *b);
void ctl_record_str(struct ctl_record *r, const char *key, const char *s);
void ctl_record_bytes(struct ctl_record *r, const char *key, const uint8_t *p, uint32_t len);
void ctl_record_u64(struct ctl_record *r, const char *key, uint64_t v);
void ctl_record_i64(struct ctl_record *r, const char *key, int64_t v);
void ctl_record_bool(struct ctl_record *r, const char *key, bool v);
void ctl_record_double(struct ctl_record *r, const char *key, double v);
void ctl_record_end(struct ctl_record *r);

void ctl_encode_end(struct buf *b, uint8_t status, const char *text);
void ctl_encode_request(struct buf *b, uint8_t type, const uint8_t *body, size_t len);
void ctl_encode_tail(struct buf *b, bool follow, uint32_t count);

/* Iterating the fields of a RECORD body (after the header). */
struct ctl_field_iter {
	const uint8_t *p;
	size_t left;
	uint16_t remaining;
};
/* 0 on success, -EBADMSG when the body is malformed. */
int ctl_record_iter_init(struct ctl_field_iter *it, const uint8_t *body, size_t len);
/* 1 with *ret filled, 0 at the end, -EBADMSG when malformed. */
int ctl_record_next(struct ctl_field_iter *it, struct ctl_field *ret);

/* Decodes an END body. text must have CTL_MAX_TEXT + 1 bytes. */
int ctl_decode_end(const uint8_t *body, size_t len, uint8_t *status, char *text);

const char *ctl_type_name(uint8_t type);

#endif
