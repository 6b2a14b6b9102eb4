/* SPDX-License-Identifier: MIT */
/* The node-to-node wire protocol: frame layout, message types, pure encoder and decoder. */
#ifndef GOSSIP_WIRE_H
#define GOSSIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"

/*
 * Every frame: an 8-byte header then the body.
 *
 *   0  'G' 'S'        magic
 *   2  u8 version     WIRE_VERSION
 *   3  u8 type        enum wire_type
 *   4  u32 length     body length, big-endian, <= WIRE_MAX_BODY
 *
 * All integers are big-endian. An address is encoded as
 *   u8 family (4 or 6), 4 or 16 address bytes, u16 port.
 * Documented in gossip(7).
 */
#define WIRE_MAGIC0 0x47 /* 'G' */
#define WIRE_MAGIC1 0x53 /* 'S' */
/*
 * Version 2 (gossip 0.2): GOSSIP carries its origin's signature; CERT and
 * CERT_REQ carry certificates. Version 3 (gossip 0.3): PING_REQ and PING_ACK
 * (indirect probes), the probe role in HELLO, AE_SUMMARY and AE_IDS
 * (anti-entropy). Version 4 (gossip 0.4): MEMBERS_REQ and MEMBERS (the
 * membership view), and PING and PONG carrying IHAVE ids (announcements ride
 * on frames a link carries anyway). Nodes of different versions refuse each
 * other's frames: a network moves to a new version as a whole (gossip(7)).
 */
#define WIRE_VERSION 4
#define WIRE_HDR_LEN 8
#define WIRE_MAX_BODY (1024u * 1024u)
#define WIRE_ID_LEN 32
/* An Ed25519 signature. */
#define WIRE_SIG_LEN 64
/* A certificate in CERT, at most (DER). */
#define WIRE_MAX_CERT 4096
/*
 * Fixed part of a GOSSIP body besides the origin address: id, timestamp, seq,
 * signature length and the longest signature, payload length.
 */
#define WIRE_GOSSIP_FIXED (WIRE_ID_LEN + 8 + 8 + 1 + WIRE_SIG_LEN + 4)
/* A GOSSIP frame besides its payload, at most (the origin is at most 19 bytes). */
#define WIRE_GOSSIP_OVERHEAD (WIRE_HDR_LEN + WIRE_GOSSIP_FIXED + 19)
/* The largest payload that fits in one frame. */
#define WIRE_MAX_PAYLOAD (WIRE_MAX_BODY + WIRE_HDR_LEN - WIRE_GOSSIP_OVERHEAD)
#define WIRE_MAX_ERROR_TEXT 256
/* Ids in one IHAVE, GRAFT or AE_IDS frame, at most. */
#define WIRE_MAX_IDS 1024
/*
 * Anti-entropy: message ids are grouped in buckets of their origin
 * timestamp, WIRE_AE_BUCKET_SEC seconds each (bucket = unix seconds / that);
 * an AE_SUMMARY carries at most WIRE_AE_MAX_BUCKETS of them.
 */
#define WIRE_AE_BUCKET_SEC 10
#define WIRE_AE_MAX_BUCKETS 4096
/* Entries in one MEMBERS frame, at most (a page: the next is asked for with MEMBERS_REQ). */
#define WIRE_MAX_MEMBERS 1024
/* The fixed part of a MEMBERS entry besides its address: state, incarnation, two ages. */
#define WIRE_MEMBER_FIXED (1 + 8 + 4 + 4)

/* A registration as a seed lists it in MEMBERS (gossip(7), MEMBERSHIP VIEW). */
enum wire_member_state {
	WIRE_MEMBER_ALIVE = 1,   /* registered, nothing against it */
	WIRE_MEMBER_SUSPECT = 2, /* reported dead, and not (yet) removed */
};

struct wire_member {
	struct node_addr addr;
	uint8_t state;          /* enum wire_member_state */
	uint64_t incarnation;   /* from the peer's HELLO to that seed; 0: not known */
	uint32_t lease_age_ms;  /* since its last REGISTER (capped at UINT32_MAX) */
	uint32_t registered_s;  /* since its first, at that seed (capped) */
};

/* AE_SUMMARY stages (gossip(7), ANTI-ENTROPY). */
enum wire_ae_stage {
	WIRE_AE_TOTAL = 1,  /* one entry: the whole range; a mismatch is answered with DETAIL */
	WIRE_AE_DETAIL = 2, /* every non-empty bucket; mismatches answered with AE_IDS and WANT */
	WIRE_AE_WANT = 3,   /* the buckets that differ (count 0: none here): answered with AE_IDS */
};

struct wire_ae_bucket {
	uint32_t bucket;
	uint32_t count;
	uint64_t digest; /* the sum of the ids' first 8 bytes (big-endian), mod 2^64 */
};

enum wire_type {
	WIRE_HELLO = 1,         /* role, advertised address, incarnation */
	WIRE_REGISTER = 2,      /* peer -> seed: register or refresh the lease of an address */
	WIRE_PEER_LIST_REQ = 3, /* peer -> seed: ask for the registered peers */
	WIRE_PEER_LIST = 4,     /* seed -> peer: count, addresses */
	WIRE_DEAD_REPORT = 5,   /* peer -> seed: dead address, timestamp, reporter */
	WIRE_LEAVE = 6,         /* node leaving on purpose */
	WIRE_GOSSIP = 7,        /* id, origin, timestamp, seq, payload */
	WIRE_PING = 8,          /* nonce [, IHAVE ids] */
	WIRE_PONG = 9,          /* nonce echoed [, IHAVE ids] */
	WIRE_ERROR = 10,        /* code, text: the sender is about to close */
	WIRE_IHAVE = 11,        /* peer -> peer: count, ids of messages the sender has (lazy push) */
	WIRE_GRAFT = 12,        /* peer -> peer: count, ids wanted; resume eager push to the sender */
	WIRE_PRUNE = 13,        /* peer -> peer: stop eager push to the sender (it got a duplicate) */
	WIRE_CERT = 14,         /* peer -> peer: a node's certificate (an origin's, to verify it) */
	WIRE_CERT_REQ = 15,     /* peer -> peer: an address whose certificate the sender lacks */
	WIRE_PING_REQ = 16,     /* peer -> peer: nonce, target: probe the target for me */
	WIRE_PING_ACK = 17,     /* peer -> peer: nonce, alive (1: it answered, 0: it did not), target */
	WIRE_AE_SUMMARY = 18,   /* peer -> peer: stage, bucket range, digests of the ids it has */
	WIRE_AE_IDS = 19,       /* peer -> peer: count, ids it has (anti-entropy): fetch those missing */
	WIRE_MEMBERS_REQ = 20,  /* peer -> seed: the registrations after an address */
	WIRE_MEMBERS = 21,      /* seed -> peer: total, more, count, registrations */
	WIRE_TYPE_MAX = WIRE_MEMBERS,
};

enum wire_role {
	WIRE_ROLE_PEER = 1,
	WIRE_ROLE_SEED = 2,
	WIRE_ROLE_PROBE = 3, /* a peer probing for a neighbour of its own (PING_REQ) */
};

enum wire_error_code {
	WIRE_ERR_PROTOCOL = 1, /* malformed or unexpected frame */
	WIRE_ERR_FULL = 2,     /* a limit was reached (peer table, neighbours) */
	WIRE_ERR_DUPLICATE = 3, /* already connected to that node */
	WIRE_ERR_REFUSED = 4,  /* not accepted for another reason */
};

struct wire_peer_list {
	uint32_t count;
	const uint8_t *entries; /* validated encoded addresses */
	size_t len;
};

struct wire_msg {
	uint8_t type;
	/* PING, PONG: IHAVE ids riding along (count 0: none; else 1..WIRE_MAX_IDS). */
	struct {
		uint16_t count;
		const uint8_t *ids;
	} carried;
	union {
		struct {
			uint8_t role;
			struct node_addr addr;
			uint64_t incarnation;
		} hello;
		struct node_addr addr; /* REGISTER, LEAVE, CERT_REQ */
		struct wire_peer_list peer_list;
		struct {
			struct node_addr dead;
			uint64_t timestamp; /* unix seconds */
			struct node_addr reporter;
		} dead;
		struct {
			uint8_t id[WIRE_ID_LEN];
			struct node_addr origin;
			uint64_t timestamp; /* unix microseconds at the origin */
			uint64_t seq;
			uint8_t sig_len; /* 0 (unsigned) or WIRE_SIG_LEN */
			const uint8_t *sig;
			uint32_t len;
			const uint8_t *payload;
		} gossip;
		struct {
			uint16_t len; /* 1..WIRE_MAX_CERT */
			const uint8_t *der;
		} cert;
		uint64_t nonce; /* PING, PONG */
		struct {
			uint64_t nonce;
			uint8_t alive; /* PING_ACK: 0 or 1 */
			struct node_addr target;
		} probe; /* PING_REQ, PING_ACK */
		struct {
			uint8_t stage;
			uint32_t first, last; /* the buckets compared, first <= last */
			uint16_t count;
			const uint8_t *entries; /* count * 16 bytes: u32 bucket, u32 count, u64 digest */
		} ae; /* AE_SUMMARY */
		struct {
			uint16_t count; /* 1..WIRE_MAX_IDS */
			const uint8_t *ids; /* count * WIRE_ID_LEN bytes */
		} ids; /* IHAVE, GRAFT */
		struct {
			uint16_t code;
			char text[WIRE_MAX_ERROR_TEXT + 1];
		} error;
		struct {
			bool from_start;       /* an empty body */
			struct node_addr after; /* else: the registrations after this address */
		} members_req;
		struct {
			uint32_t total;  /* registrations the seed holds */
			uint8_t more;    /* 1: more follow the last entry (ask again after it) */
			uint16_t count;  /* 0..WIRE_MAX_MEMBERS, in increasing address order */
			const uint8_t *entries; /* validated encoded entries */
			size_t len;
		} members;
	};
};

/*
 * Checks the header at buf. Returns the whole frame length when a complete
 * frame is available, 0 when more bytes are needed, or -EBADMSG with *reason
 * set when the header is invalid (bad magic, version, type or length).
 */
long wire_frame_check(const uint8_t *buf, size_t len, const char **reason);

/*
 * Decodes and validates one complete frame (header included). Pointers in
 * *ret refer into frame. Returns 0, or -EBADMSG with *reason set.
 */
int wire_decode(const uint8_t *frame, size_t len, struct wire_msg *ret, const char **reason);

/* Iterates a validated peer list. Returns false at the end. */
bool wire_peer_list_next(struct wire_peer_list *l, struct node_addr *ret);
/* Takes the next entry of a validated MEMBERS (m->members advances). Returns false at the end. */
bool wire_members_next(struct wire_msg *m, struct wire_member *ret);

const char *wire_type_name(uint8_t type);

/* Encoders append one complete frame to b. */
void wire_put_addr(struct buf *b, const struct node_addr *a);
void wire_encode_hello(struct buf *b, uint8_t role, const struct node_addr *addr,
		       uint64_t incarnation);
void wire_encode_addr_msg(struct buf *b, uint8_t type, const struct node_addr *addr);
void wire_encode_empty(struct buf *b, uint8_t type);
void wire_encode_peer_list(struct buf *b, const struct node_addr *addrs, uint32_t count);
void wire_encode_dead_report(struct buf *b, const struct node_addr *dead, uint64_t timestamp,
			     const struct node_addr *reporter);
/* An unsigned GOSSIP (sig NULL), or one with the origin's signature of wire_signed_bytes(). */
void wire_encode_gossip(struct buf *b, const uint8_t id[WIRE_ID_LEN],
			const struct node_addr *origin, uint64_t timestamp, uint64_t seq,
			const uint8_t *payload, uint32_t len);
void wire_encode_gossip_signed(struct buf *b, const uint8_t id[WIRE_ID_LEN],
			       const struct node_addr *origin, uint64_t timestamp, uint64_t seq,
			       const uint8_t sig[WIRE_SIG_LEN], const uint8_t *payload, uint32_t len);
/* CERT with len (1..WIRE_MAX_CERT) bytes of DER. */
void wire_encode_cert(struct buf *b, const uint8_t *der, uint16_t len);
void wire_encode_nonce(struct buf *b, uint8_t type, uint64_t nonce);
/* PING or PONG with count (0..WIRE_MAX_IDS) IHAVE ids riding along. */
void wire_encode_ping(struct buf *b, uint8_t type, uint64_t nonce, const uint8_t *ids,
		      uint16_t count);
void wire_encode_ping_req(struct buf *b, uint64_t nonce, const struct node_addr *target);
void wire_encode_ping_ack(struct buf *b, uint64_t nonce, bool alive,
			  const struct node_addr *target);
/* AE_SUMMARY with count (at most WIRE_AE_MAX_BUCKETS) entries, in increasing bucket order. */
void wire_encode_ae_summary(struct buf *b, uint8_t stage, uint32_t first, uint32_t last,
			    const struct wire_ae_bucket *entries, uint16_t count);
/* The i-th entry of a decoded AE_SUMMARY. */
void wire_ae_entry(const struct wire_msg *m, uint16_t i, struct wire_ae_bucket *ret);
void wire_encode_error(struct buf *b, uint16_t code, const char *text);
/* MEMBERS_REQ: from the start (after NULL), or the registrations after `after`. */
void wire_encode_members_req(struct buf *b, const struct node_addr *after);
/* MEMBERS with count (at most WIRE_MAX_MEMBERS) entries, in increasing address order. */
void wire_encode_members(struct buf *b, uint32_t total, bool more, const struct wire_member *v,
			 uint16_t count);
/* IHAVE or GRAFT carrying count (1..WIRE_MAX_IDS) ids, WIRE_ID_LEN bytes each. */
void wire_encode_ids(struct buf *b, uint8_t type, const uint8_t *ids, uint16_t count);

/* The origin address of a valid GOSSIP frame (as wire_decode() accepted it). */
void wire_gossip_origin(const uint8_t *frame, struct node_addr *ret);

/*
 * What an origin signs for message id: a domain label, then the id (which
 * covers origin, timestamp, seq and payload).
 */
#define WIRE_SIGNED_LEN (16 + WIRE_ID_LEN)
void wire_signed_bytes(const uint8_t id[WIRE_ID_LEN], uint8_t out[WIRE_SIGNED_LEN]);

/*
 * Message id: SHA-256 over the encoded origin address, the timestamp and seq
 * (u64 big-endian each) and the payload. Returns 0 or -EIO if OpenSSL fails.
 */
int wire_message_id(const struct node_addr *origin, uint64_t timestamp, uint64_t seq,
		    const uint8_t *payload, size_t len, uint8_t ret[WIRE_ID_LEN]);

#endif
