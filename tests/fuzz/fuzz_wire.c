/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the wire decoder on a split byte stream, every decoded frame re-encoded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void __attribute__((noreturn))
mismatch(const char *what, uint8_t type)
{
	fprintf(stderr, "fuzz_wire: %s round trip of %s differs\n", what, wire_type_name(type));
	abort();
}

static bool
same_addr(const struct node_addr *a, const struct node_addr *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* The addresses of a decoded PEER_LIST, checked to be exactly its count: a new array. */
static struct node_addr *
peer_list_addrs(const struct wire_msg *m)
{
	struct wire_peer_list l = m->peer_list;
	struct node_addr *v = xcalloc(m->peer_list.count ? m->peer_list.count : 1, sizeof(*v));
	uint32_t n = 0;

	while (n < m->peer_list.count && wire_peer_list_next(&l, &v[n]))
		n++;
	if (n != m->peer_list.count || wire_peer_list_next(&l, &v[0]) || l.len != 0)
		mismatch("peer list iteration", WIRE_PEER_LIST);
	return v;
}

/* Encodes m again as its sender would. */
static void
encode(struct buf *b, const struct wire_msg *m)
{
	struct node_addr *v;

	switch (m->type) {
	case WIRE_HELLO:
		wire_encode_hello(b, m->hello.role, &m->hello.addr, m->hello.incarnation);
		break;
	case WIRE_REGISTER:
	case WIRE_LEAVE:
	case WIRE_CERT_REQ:
		wire_encode_addr_msg(b, m->type, &m->addr);
		break;
	case WIRE_PEER_LIST_REQ:
	case WIRE_PRUNE:
		wire_encode_empty(b, m->type);
		break;
	case WIRE_PEER_LIST:
		v = peer_list_addrs(m);
		wire_encode_peer_list(b, v, m->peer_list.count);
		free(v);
		break;
	case WIRE_DEAD_REPORT:
		wire_encode_dead_report(b, &m->dead.dead, m->dead.timestamp, &m->dead.reporter);
		break;
	case WIRE_GOSSIP:
		wire_encode_gossip_signed(b, m->gossip.id, &m->gossip.origin, m->gossip.timestamp,
					  m->gossip.seq, m->gossip.sig_len ? m->gossip.sig : NULL,
					  m->gossip.payload, m->gossip.len);
		break;
	case WIRE_PING:
	case WIRE_PONG:
		wire_encode_nonce(b, m->type, m->nonce);
		break;
	case WIRE_ERROR:
		wire_encode_error(b, m->error.code, m->error.text);
		break;
	case WIRE_IHAVE:
	case WIRE_GRAFT:
	case WIRE_AE_IDS:
		wire_encode_ids(b, m->type, m->ids.ids, m->ids.count);
		break;
	case WIRE_AE_SUMMARY: {
		struct wire_ae_bucket *v = calloc(m->ae.count ? m->ae.count : 1, sizeof(*v));
		for (uint16_t i = 0; i < m->ae.count; i++)
			wire_ae_entry(m, i, &v[i]);
		wire_encode_ae_summary(b, m->ae.stage, m->ae.first, m->ae.last, v, m->ae.count);
		free(v);
		break;
	}
	case WIRE_CERT:
		wire_encode_cert(b, m->cert.der, m->cert.len);
		break;
	case WIRE_PING_REQ:
		wire_encode_ping_req(b, m->probe.nonce, &m->probe.target);
		break;
	case WIRE_PING_ACK:
		wire_encode_ping_ack(b, m->probe.nonce, m->probe.alive, &m->probe.target);
		break;
	case WIRE_MEMBERS_REQ:
		wire_encode_members_req(b, m->members_req.from_start ? NULL : &m->members_req.after);
		break;
	case WIRE_MEMBERS: {
		struct wire_msg it = *m;
		struct wire_member *e = xcalloc(m->members.count ? m->members.count : 1, sizeof(*e));
		uint16_t k = 0;
		while (k < m->members.count && wire_members_next(&it, &e[k]))
			k++;
		if (k != m->members.count || it.members.len != 0)
			mismatch("members iteration", WIRE_MEMBERS);
		wire_encode_members(b, m->members.total, m->members.more, e, k);
		free(e);
		break;
	}
	default:
		mismatch("decoded an unknown type:", m->type);
	}
}

static bool
same_gossip(const struct wire_msg *a, const struct wire_msg *b)
{
	return !memcmp(a->gossip.id, b->gossip.id, WIRE_ID_LEN) &&
	       same_addr(&a->gossip.origin, &b->gossip.origin) &&
	       a->gossip.timestamp == b->gossip.timestamp && a->gossip.seq == b->gossip.seq &&
	       a->gossip.sig_len == b->gossip.sig_len &&
	       (!a->gossip.sig_len || !memcmp(a->gossip.sig, b->gossip.sig, a->gossip.sig_len)) &&
	       a->gossip.len == b->gossip.len &&
	       !memcmp(a->gossip.payload, b->gossip.payload, a->gossip.len);
}

/* Whether two decoded messages say the same (pointers compared by what they point to). */
static bool
same_msg(const struct wire_msg *a, const struct wire_msg *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case WIRE_HELLO:
		return a->hello.role == b->hello.role &&
		       same_addr(&a->hello.addr, &b->hello.addr) &&
		       a->hello.incarnation == b->hello.incarnation;
	case WIRE_REGISTER:
	case WIRE_LEAVE:
	case WIRE_CERT_REQ:
		return same_addr(&a->addr, &b->addr);
	case WIRE_PEER_LIST:
		return a->peer_list.count == b->peer_list.count &&
		       a->peer_list.len == b->peer_list.len &&
		       !memcmp(a->peer_list.entries, b->peer_list.entries, a->peer_list.len);
	case WIRE_DEAD_REPORT:
		return same_addr(&a->dead.dead, &b->dead.dead) &&
		       a->dead.timestamp == b->dead.timestamp &&
		       same_addr(&a->dead.reporter, &b->dead.reporter);
	case WIRE_GOSSIP:
		return same_gossip(a, b);
	case WIRE_PING:
	case WIRE_PONG:
		return a->nonce == b->nonce;
	case WIRE_ERROR:
		return a->error.code == b->error.code && !strcmp(a->error.text, b->error.text);
	case WIRE_AE_SUMMARY:
		return a->ae.stage == b->ae.stage && a->ae.first == b->ae.first &&
		       a->ae.last == b->ae.last && a->ae.count == b->ae.count &&
		       !memcmp(a->ae.entries, b->ae.entries, (size_t)a->ae.count * 16);
	case WIRE_IHAVE:
	case WIRE_GRAFT:
	case WIRE_AE_IDS:
		return a->ids.count == b->ids.count &&
		       !memcmp(a->ids.ids, b->ids.ids, (size_t)a->ids.count * WIRE_ID_LEN);
	case WIRE_CERT:
		return a->cert.len == b->cert.len && !memcmp(a->cert.der, b->cert.der, a->cert.len);
	case WIRE_MEMBERS_REQ:
		return a->members_req.from_start == b->members_req.from_start &&
		       (a->members_req.from_start ||
			same_addr(&a->members_req.after, &b->members_req.after));
	case WIRE_MEMBERS:
		return a->members.total == b->members.total && a->members.more == b->members.more &&
		       a->members.count == b->members.count && a->members.len == b->members.len &&
		       !memcmp(a->members.entries, b->members.entries, a->members.len);
	case WIRE_PING_REQ:
	case WIRE_PING_ACK:
		return a->probe.nonce == b->probe.nonce && a->probe.alive == b->probe.alive &&
		       same_addr(&a->probe.target, &b->probe.target);
	default:
		return true; /* PEER_LIST_REQ, PRUNE: nothing but the type */
	}
}

/* GOSSIP: the origin as the relays read it, without decoding the frame. */
static void
check_origin(const uint8_t *frame, const struct wire_msg *m)
{
	struct node_addr o;

	wire_gossip_origin(frame, &o);
	if (!same_addr(&o, &m->gossip.origin))
		mismatch("wire_gossip_origin", WIRE_GOSSIP);
}

/* A frame that decoded: encoded again, it decodes to the same, byte for byte but ERROR's text. */
static void
round_trip(const uint8_t *frame, size_t len, const struct wire_msg *m)
{
	struct wire_msg again;
	const char *reason = NULL;
	struct buf b = {0};

	if (m->type == WIRE_GOSSIP)
		check_origin(frame, m);
	encode(&b, m);
	if (wire_decode(b.data, b.len, &again, &reason) < 0) {
		fprintf(stderr, "fuzz_wire: the re-encoding does not decode: %s\n", reason);
		mismatch("decode", m->type);
	}
	if (!same_msg(m, &again))
		mismatch("message", m->type);
	/* ERROR's text comes back with non-printable bytes as '?': the rest is canonical. */
	if (m->type != WIRE_ERROR && (b.len != len || memcmp(b.data, frame, len)))
		mismatch("byte", m->type);
	buf_free(&b);
}

/* One complete frame, in a buffer of its own size. */
static void
one_frame(const uint8_t *frame, size_t len)
{
	const char *reason = NULL;
	struct wire_msg m;

	if (wire_decode(frame, len, &m, &reason) < 0) {
		if (!reason)
			mismatch("refusal without a reason:", frame[3]);
		return;
	}
	if (m.type != frame[3] || !wire_type_name(m.type))
		mismatch("type", m.type);
	round_trip(frame, len, &m);
	/* A prefix of a frame is never a frame. */
	if (wire_decode(frame, len - 1, &m, &reason) == 0)
		mismatch("truncated frame decoded:", frame[3]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		const char *reason = NULL;
		long n = wire_frame_check(data + off, size - off, &reason);
		struct wire_msg m;
		uint8_t *frame;

		if (n <= 0) {
			/* A partial or refused header: what follows is never read. */
			if (n < 0 && !reason)
				abort();
			if (wire_decode(data + off, size - off, &m, &reason) == 0)
				mismatch("incomplete stream decoded:", data[off]);
			break;
		}
		frame = xmalloc((size_t)n);
		memcpy(frame, data + off, (size_t)n);
		one_frame(frame, (size_t)n);
		free(frame);
		off += (size_t)n;
	}
	return 0;
}
