/* SPDX-License-Identifier: MIT */
/* The node-to-node wire protocol: frame layout, message types, pure encoder and decoder. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* SHA256_Init() and friends are deprecated in OpenSSL 3 in favour of EVP, but they need
 * no provider lookup per message (EVP_MD_fetch or a context per digest): the same
 * assembler code, called directly, on every message's path. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "wire.h"

struct cursor {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static bool
take(struct cursor *c, size_t n, const uint8_t **ret)
{
	if (c->bad || c->left < n) {
		c->bad = true;
		return false;
	}
	*ret = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static uint8_t
get8(struct cursor *c)
{
	const uint8_t *p;
	return take(c, 1, &p) ? p[0] : 0;
}

static uint16_t
get16(struct cursor *c)
{
	const uint8_t *p;
	return take(c, 2, &p) ? get_u16(p) : 0;
}

static uint32_t
get32(struct cursor *c)
{
	const uint8_t *p;
	return take(c, 4, &p) ? get_u32(p) : 0;
}

static uint64_t
get64(struct cursor *c)
{
	const uint8_t *p;
	return take(c, 8, &p) ? get_u64(p) : 0;
}

/* Returns false and sets *reason when the address is invalid. */
static bool
get_addr(struct cursor *c, struct node_addr *ret, const char **reason)
{
	const uint8_t *p;
	uint8_t fam = get8(c);
	size_t n;

	if (c->bad) {
		*reason = "truncated address";
		return false;
	}
	if (fam == 4) {
		n = 4;
		ret->family = AF_INET;
	} else if (fam == 6) {
		n = 16;
		ret->family = AF_INET6;
	} else {
		*reason = "bad address family";
		c->bad = true;
		return false;
	}
	memset(ret->addr, 0, sizeof(ret->addr));
	if (!take(c, n, &p)) {
		*reason = "truncated address";
		return false;
	}
	memcpy(ret->addr, p, n);
	ret->port = get16(c);
	if (c->bad) {
		*reason = "truncated address";
		return false;
	}
	if (ret->port == 0) {
		*reason = "address with port 0";
		c->bad = true;
		return false;
	}
	return true;
}

static const char *const type_names[] = {
	[WIRE_HELLO] = "HELLO",
	[WIRE_REGISTER] = "REGISTER",
	[WIRE_PEER_LIST_REQ] = "PEER_LIST_REQ",
	[WIRE_PEER_LIST] = "PEER_LIST",
	[WIRE_DEAD_REPORT] = "DEAD_REPORT",
	[WIRE_LEAVE] = "LEAVE",
	[WIRE_GOSSIP] = "GOSSIP",
	[WIRE_PING] = "PING",
	[WIRE_PONG] = "PONG",
	[WIRE_ERROR] = "ERROR",
	[WIRE_IHAVE] = "IHAVE",
	[WIRE_GRAFT] = "GRAFT",
	[WIRE_PRUNE] = "PRUNE",
	[WIRE_CERT] = "CERT",
	[WIRE_CERT_REQ] = "CERT_REQ",
	[WIRE_PING_REQ] = "PING_REQ",
	[WIRE_PING_ACK] = "PING_ACK",
	[WIRE_AE_SUMMARY] = "AE_SUMMARY",
	[WIRE_AE_IDS] = "AE_IDS",
	[WIRE_MEMBERS_REQ] = "MEMBERS_REQ",
	[WIRE_MEMBERS] = "MEMBERS",
};

const char *
wire_type_name(uint8_t type)
{
	if (type >= 1 && type <= WIRE_TYPE_MAX)
		return type_names[type];
	return "UNKNOWN";
}

long
wire_frame_check(const uint8_t *buf, size_t len, const char **reason)
{
	uint32_t body;

	/* Reject garbage as soon as the first bytes show it. */
	if (len >= 1 && buf[0] != WIRE_MAGIC0)
		goto bad_magic;
	if (len >= 2 && buf[1] != WIRE_MAGIC1)
		goto bad_magic;
	if (len >= 3 && buf[2] != WIRE_VERSION) {
		*reason = "unsupported protocol version";
		return -EBADMSG;
	}
	/* A type defined after the frame's version is unknown in it. */
	if (len >= 4 && (buf[3] < 1 || buf[3] > WIRE_TYPE_MAX)) {
		*reason = "unknown frame type";
		return -EBADMSG;
	}
	if (len < WIRE_HDR_LEN)
		return 0;
	body = get_u32(buf + 4);
	if (body > WIRE_MAX_BODY) {
		*reason = "frame length over the limit";
		return -EBADMSG;
	}
	if (len < WIRE_HDR_LEN + (size_t)body)
		return 0;
	return (long)(WIRE_HDR_LEN + body);
bad_magic:
	*reason = "bad magic (not a gossip frame)";
	return -EBADMSG;
}

/*
 * The body decoders, one per layout: each reads from c into m and returns
 * false with *reason on a value that is wrong whatever follows. A body too
 * short or too long is found by the caller (c->bad, c->left).
 */
static bool
decode_hello(struct cursor *c, struct wire_msg *m, const char **reason)
{
	m->hello.role = get8(c);
	if (!c->bad && (m->hello.role < WIRE_ROLE_PEER || m->hello.role > WIRE_ROLE_PROBE)) {
		*reason = "bad role in HELLO";
		return false;
	}
	if (!get_addr(c, &m->hello.addr, reason))
		return false;
	m->hello.incarnation = get64(c);
	return true;
}

static bool
decode_peer_list(struct cursor *c, struct wire_msg *m, const char **reason)
{
	struct node_addr a;

	m->peer_list.count = get32(c);
	m->peer_list.entries = c->p;
	m->peer_list.len = c->left;
	for (uint32_t i = 0; i < m->peer_list.count && !c->bad; i++)
		if (!get_addr(c, &a, reason))
			return false;
	return true;
}

static bool
decode_dead_report(struct cursor *c, struct wire_msg *m, const char **reason)
{
	if (!get_addr(c, &m->dead.dead, reason))
		return false;
	m->dead.timestamp = get64(c);
	return c->bad || get_addr(c, &m->dead.reporter, reason);
}

static bool
decode_gossip(struct cursor *c, struct wire_msg *m, const char **reason)
{
	const uint8_t *p;

	if (take(c, WIRE_ID_LEN, &p))
		memcpy(m->gossip.id, p, WIRE_ID_LEN);
	if (!c->bad && !get_addr(c, &m->gossip.origin, reason))
		return false;
	m->gossip.timestamp = get64(c);
	m->gossip.seq = get64(c);
	m->gossip.sig_len = get8(c);
	if (!c->bad && m->gossip.sig_len != 0 && m->gossip.sig_len != WIRE_SIG_LEN) {
		*reason = "bad signature length";
		return false;
	}
	if (m->gossip.sig_len && take(c, m->gossip.sig_len, &p))
		m->gossip.sig = p;
	m->gossip.len = get32(c);
	if (!c->bad && m->gossip.len != c->left) {
		*reason = "payload length does not match frame length";
		return false;
	}
	if (!c->bad && m->gossip.len == 0) {
		*reason = "empty payload";
		return false;
	}
	if (take(c, m->gossip.len, &p))
		m->gossip.payload = p;
	return true;
}

static bool
decode_ids(struct cursor *c, struct wire_msg *m, const char **reason)
{
	const uint8_t *p;

	m->ids.count = get16(c);
	if (!c->bad && (m->ids.count == 0 || m->ids.count > WIRE_MAX_IDS)) {
		*reason = m->ids.count ? "too many ids" : "no ids";
		return false;
	}
	if (!c->bad && c->left != (size_t)m->ids.count * WIRE_ID_LEN) {
		*reason = "id count does not match frame length";
		return false;
	}
	if (take(c, (size_t)m->ids.count * WIRE_ID_LEN, &p))
		m->ids.ids = p;
	return true;
}

/* IHAVE ids after a PING's or PONG's nonce: the layout of an IHAVE body. */
static bool
decode_carried(struct cursor *c, struct wire_msg *m, const char **reason)
{
	struct wire_msg ids = {0};

	if (!decode_ids(c, &ids, reason))
		return false;
	m->carried.count = ids.ids.count;
	m->carried.ids = ids.ids.ids;
	return true;
}

static bool
decode_error(struct cursor *c, struct wire_msg *m, const char **reason)
{
	const uint8_t *p;
	uint16_t n;

	m->error.code = get16(c);
	n = get16(c);
	if (!c->bad && n > WIRE_MAX_ERROR_TEXT) {
		*reason = "error text too long";
		return false;
	}
	if (take(c, n, &p)) {
		/* Keep only printable ASCII so the text is safe to log. */
		for (uint16_t i = 0; i < n; i++)
			m->error.text[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
		m->error.text[n] = '\0';
	}
	return true;
}

static bool
decode_cert(struct cursor *c, struct wire_msg *m, const char **reason)
{
	const uint8_t *p;

	m->cert.len = get16(c);
	if (!c->bad && (m->cert.len == 0 || m->cert.len > WIRE_MAX_CERT)) {
		*reason = m->cert.len ? "certificate too long" : "empty certificate";
		return false;
	}
	if (take(c, m->cert.len, &p))
		m->cert.der = p;
	return true;
}

static bool
decode_probe(struct cursor *c, struct wire_msg *m, const char **reason)
{
	m->probe.nonce = get64(c);
	m->probe.alive = m->type == WIRE_PING_ACK ? get8(c) : 0;
	if (!c->bad && m->probe.alive > 1) {
		*reason = "bad alive flag in PING_ACK";
		return false;
	}
	return get_addr(c, &m->probe.target, reason);
}

/* Entries in range, each bucket after the last, none empty (count 0 only in TOTAL). */
static bool
decode_ae(struct cursor *c, struct wire_msg *m, const char **reason)
{
	uint32_t prev = 0;

	m->ae.stage = get8(c);
	m->ae.first = get32(c);
	m->ae.last = get32(c);
	m->ae.count = get16(c);
	m->ae.entries = c->p;
	if (c->bad)
		return true;
	if (m->ae.stage < WIRE_AE_TOTAL || m->ae.stage > WIRE_AE_WANT || m->ae.first > m->ae.last ||
	    m->ae.count > WIRE_AE_MAX_BUCKETS || (m->ae.stage == WIRE_AE_TOTAL && m->ae.count != 1)) {
		*reason = "bad AE_SUMMARY header";
		return false;
	}
	for (uint16_t i = 0; i < m->ae.count && !c->bad; i++) {
		uint32_t bucket = get32(c), count = get32(c);
		(void)get64(c);
		if (c->bad)
			break;
		if (bucket < m->ae.first || bucket > m->ae.last || (i && bucket <= prev) ||
		    (!count && m->ae.stage == WIRE_AE_DETAIL)) {
			*reason = "bad AE_SUMMARY entry";
			return false;
		}
		prev = bucket;
	}
	return true;
}

static bool
decode_members_req(struct cursor *c, struct wire_msg *m, const char **reason)
{
	m->members_req.from_start = c->left == 0;
	return m->members_req.from_start || get_addr(c, &m->members_req.after, reason);
}

/* One entry of MEMBERS; false with *reason when it is invalid. */
static bool
get_member(struct cursor *c, struct wire_member *ret, const char **reason)
{
	if (!get_addr(c, &ret->addr, reason))
		return false;
	ret->state = get8(c);
	ret->incarnation = get64(c);
	ret->lease_age_ms = get32(c);
	ret->registered_s = get32(c);
	if (c->bad) {
		*reason = "truncated MEMBERS entry";
		return false;
	}
	if (ret->state < WIRE_MEMBER_ALIVE || ret->state > WIRE_MEMBER_SUSPECT) {
		*reason = "bad state in MEMBERS";
		c->bad = true;
		return false;
	}
	return true;
}

/* Entries in strictly increasing address order (no address twice), count within the cap. */
static bool
decode_members(struct cursor *c, struct wire_msg *m, const char **reason)
{
	struct wire_member e, prev;

	m->members.total = get32(c);
	m->members.more = get8(c);
	m->members.count = get16(c);
	m->members.entries = c->p;
	m->members.len = c->left;
	if (c->bad)
		return true;
	if (m->members.more > 1 || m->members.count > WIRE_MAX_MEMBERS ||
	    (m->members.more && !m->members.count)) {
		*reason = "bad MEMBERS header";
		return false;
	}
	for (uint16_t i = 0; i < m->members.count; i++) {
		if (!get_member(c, &e, reason))
			return false;
		if (i && node_addr_cmp(&prev.addr, &e.addr) >= 0) {
			*reason = "MEMBERS entries out of order";
			return false;
		}
		prev = e;
	}
	return true;
}

static bool
decode_body(struct cursor *c, struct wire_msg *m, const char **reason)
{
	switch (m->type) {
	case WIRE_HELLO:
		return decode_hello(c, m, reason);
	case WIRE_REGISTER:
	case WIRE_LEAVE:
	case WIRE_CERT_REQ:
		return get_addr(c, &m->addr, reason);
	case WIRE_CERT:
		return decode_cert(c, m, reason);
	case WIRE_PEER_LIST_REQ:
	case WIRE_PRUNE:
		return true;
	case WIRE_PEER_LIST:
		return decode_peer_list(c, m, reason);
	case WIRE_DEAD_REPORT:
		return decode_dead_report(c, m, reason);
	case WIRE_GOSSIP:
		return decode_gossip(c, m, reason);
	case WIRE_PING:
	case WIRE_PONG:
		m->nonce = get64(c);
		return c->bad || !c->left || decode_carried(c, m, reason);
	case WIRE_IHAVE:
	case WIRE_GRAFT:
	case WIRE_AE_IDS:
		return decode_ids(c, m, reason);
	case WIRE_AE_SUMMARY:
		return decode_ae(c, m, reason);
	case WIRE_ERROR:
		return decode_error(c, m, reason);
	case WIRE_PING_REQ:
	case WIRE_PING_ACK:
		return decode_probe(c, m, reason);
	case WIRE_MEMBERS_REQ:
		return decode_members_req(c, m, reason);
	case WIRE_MEMBERS:
		return decode_members(c, m, reason);
	default:
		*reason = "unknown frame type";
		return false;
	}
}

int
wire_decode(const uint8_t *frame, size_t len, struct wire_msg *ret, const char **reason)
{
	struct cursor c;
	struct wire_msg m;
	long flen = wire_frame_check(frame, len, reason);

	if (flen < 0)
		return -EBADMSG;
	if (flen == 0 || (size_t)flen != len) {
		*reason = "incomplete frame";
		return -EBADMSG;
	}
	memset(&m, 0, sizeof(m));
	m.type = frame[3];
	c = (struct cursor){frame + WIRE_HDR_LEN, len - WIRE_HDR_LEN, false};
	*reason = NULL;
	if (!decode_body(&c, &m, reason))
		return -EBADMSG;
	if (c.bad) {
		if (!*reason)
			*reason = "truncated body";
		return -EBADMSG;
	}
	if (c.left) {
		*reason = "trailing bytes after body";
		return -EBADMSG;
	}
	*ret = m;
	return 0;
}

bool
wire_peer_list_next(struct wire_peer_list *l, struct node_addr *ret)
{
	struct cursor c = {l->entries, l->len, false};
	const char *reason;

	if (l->count == 0 || !get_addr(&c, ret, &reason))
		return false;
	l->entries = c.p;
	l->len = c.left;
	l->count--;
	return true;
}

bool
wire_members_next(struct wire_msg *m, struct wire_member *ret)
{
	struct cursor c = {m->members.entries, m->members.len, false};
	const char *reason;

	if (m->members.count == 0 || !get_member(&c, ret, &reason))
		return false;
	m->members.entries = c.p;
	m->members.len = c.left;
	m->members.count--;
	return true;
}

static size_t
frame_begin(struct buf *b, uint8_t type)
{
	size_t start = b->len;
	uint8_t hdr[WIRE_HDR_LEN] = {WIRE_MAGIC0, WIRE_MAGIC1, WIRE_VERSION, type, 0, 0, 0, 0};
	buf_append(b, hdr, sizeof(hdr));
	return start;
}

static void
frame_end(struct buf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start - WIRE_HDR_LEN);
	uint8_t *p = b->data + start + 4;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

void
wire_put_addr(struct buf *b, const struct node_addr *a)
{
	if (a->family == AF_INET6) {
		buf_put_u8(b, 6);
		buf_append(b, a->addr, 16);
	} else {
		buf_put_u8(b, 4);
		buf_append(b, a->addr, 4);
	}
	buf_put_u16(b, a->port);
}

void
wire_encode_hello(struct buf *b, uint8_t role, const struct node_addr *addr, uint64_t incarnation)
{
	size_t s = frame_begin(b, WIRE_HELLO);
	buf_put_u8(b, role);
	wire_put_addr(b, addr);
	buf_put_u64(b, incarnation);
	frame_end(b, s);
}

void
wire_encode_addr_msg(struct buf *b, uint8_t type, const struct node_addr *addr)
{
	size_t s = frame_begin(b, type);
	wire_put_addr(b, addr);
	frame_end(b, s);
}

void
wire_encode_empty(struct buf *b, uint8_t type)
{
	frame_end(b, frame_begin(b, type));
}

void
wire_encode_peer_list(struct buf *b, const struct node_addr *addrs, uint32_t count)
{
	size_t s = frame_begin(b, WIRE_PEER_LIST);
	buf_put_u32(b, count);
	for (uint32_t i = 0; i < count; i++)
		wire_put_addr(b, &addrs[i]);
	frame_end(b, s);
}

void
wire_encode_dead_report(struct buf *b, const struct node_addr *dead, uint64_t timestamp,
			const struct node_addr *reporter)
{
	size_t s = frame_begin(b, WIRE_DEAD_REPORT);
	wire_put_addr(b, dead);
	buf_put_u64(b, timestamp);
	wire_put_addr(b, reporter);
	frame_end(b, s);
}

void
wire_encode_gossip_signed(struct buf *b, const uint8_t id[WIRE_ID_LEN],
			  const struct node_addr *origin, uint64_t timestamp, uint64_t seq,
			  const uint8_t sig[WIRE_SIG_LEN], const uint8_t *payload, uint32_t len)
{
	size_t s = frame_begin(b, WIRE_GOSSIP);
	buf_append(b, id, WIRE_ID_LEN);
	wire_put_addr(b, origin);
	buf_put_u64(b, timestamp);
	buf_put_u64(b, seq);
	buf_put_u8(b, sig ? WIRE_SIG_LEN : 0);
	if (sig)
		buf_append(b, sig, WIRE_SIG_LEN);
	buf_put_u32(b, len);
	buf_append(b, payload, len);
	frame_end(b, s);
}

void
wire_encode_gossip(struct buf *b, const uint8_t id[WIRE_ID_LEN], const struct node_addr *origin,
		   uint64_t timestamp, uint64_t seq, const uint8_t *payload, uint32_t len)
{
	wire_encode_gossip_signed(b, id, origin, timestamp, seq, NULL, payload, len);
}

void
wire_encode_cert(struct buf *b, const uint8_t *der, uint16_t len)
{
	size_t s = frame_begin(b, WIRE_CERT);
	buf_put_u16(b, len);
	buf_append(b, der, len);
	frame_end(b, s);
}

void
wire_gossip_origin(const uint8_t *frame, struct node_addr *ret)
{
	struct cursor c = {frame + WIRE_HDR_LEN + WIRE_ID_LEN, 19, false};
	const char *reason;

	if (!get_addr(&c, ret, &reason))
		memset(ret, 0, sizeof(*ret));
}

void
wire_signed_bytes(const uint8_t id[WIRE_ID_LEN], uint8_t out[WIRE_SIGNED_LEN])
{
	static const char label[16] = "gossip message 2";

	memcpy(out, label, sizeof(label));
	memcpy(out + sizeof(label), id, WIRE_ID_LEN);
}

void
wire_encode_nonce(struct buf *b, uint8_t type, uint64_t nonce)
{
	wire_encode_ping(b, type, nonce, NULL, 0);
}

void
wire_encode_ping(struct buf *b, uint8_t type, uint64_t nonce, const uint8_t *ids, uint16_t count)
{
	size_t s = frame_begin(b, type);

	buf_put_u64(b, nonce);
	if (count) {
		buf_put_u16(b, count);
		buf_append(b, ids, (size_t)count * WIRE_ID_LEN);
	}
	frame_end(b, s);
}

void
wire_encode_ping_req(struct buf *b, uint64_t nonce, const struct node_addr *target)
{
	size_t s = frame_begin(b, WIRE_PING_REQ);
	buf_put_u64(b, nonce);
	wire_put_addr(b, target);
	frame_end(b, s);
}

void
wire_encode_ping_ack(struct buf *b, uint64_t nonce, bool alive, const struct node_addr *target)
{
	size_t s = frame_begin(b, WIRE_PING_ACK);
	buf_put_u64(b, nonce);
	buf_put_u8(b, alive ? 1 : 0);
	wire_put_addr(b, target);
	frame_end(b, s);
}

void
wire_encode_ae_summary(struct buf *b, uint8_t stage, uint32_t first, uint32_t last,
		       const struct wire_ae_bucket *entries, uint16_t count)
{
	size_t s = frame_begin(b, WIRE_AE_SUMMARY);

	buf_put_u8(b, stage);
	buf_put_u32(b, first);
	buf_put_u32(b, last);
	buf_put_u16(b, count);
	for (uint16_t i = 0; i < count; i++) {
		buf_put_u32(b, entries[i].bucket);
		buf_put_u32(b, entries[i].count);
		buf_put_u64(b, entries[i].digest);
	}
	frame_end(b, s);
}

void
wire_ae_entry(const struct wire_msg *m, uint16_t i, struct wire_ae_bucket *ret)
{
	const uint8_t *p = m->ae.entries + (size_t)i * 16;

	ret->bucket = get_u32(p);
	ret->count = get_u32(p + 4);
	ret->digest = get_u64(p + 8);
}

void
wire_encode_error(struct buf *b, uint16_t code, const char *text)
{
	size_t n = strlen(text);
	size_t s = frame_begin(b, WIRE_ERROR);
	if (n > WIRE_MAX_ERROR_TEXT)
		n = WIRE_MAX_ERROR_TEXT;
	buf_put_u16(b, code);
	buf_put_u16(b, (uint16_t)n);
	buf_append(b, text, n);
	frame_end(b, s);
}

void
wire_encode_members_req(struct buf *b, const struct node_addr *after)
{
	size_t s = frame_begin(b, WIRE_MEMBERS_REQ);

	if (after)
		wire_put_addr(b, after);
	frame_end(b, s);
}

void
wire_encode_members(struct buf *b, uint32_t total, bool more, const struct wire_member *v,
		    uint16_t count)
{
	size_t s = frame_begin(b, WIRE_MEMBERS);

	buf_put_u32(b, total);
	buf_put_u8(b, more ? 1 : 0);
	buf_put_u16(b, count);
	for (uint16_t i = 0; i < count; i++) {
		wire_put_addr(b, &v[i].addr);
		buf_put_u8(b, v[i].state);
		buf_put_u64(b, v[i].incarnation);
		buf_put_u32(b, v[i].lease_age_ms);
		buf_put_u32(b, v[i].registered_s);
	}
	frame_end(b, s);
}

void
wire_encode_ids(struct buf *b, uint8_t type, const uint8_t *ids, uint16_t count)
{
	size_t s = frame_begin(b, type);
	buf_put_u16(b, count);
	buf_append(b, ids, (size_t)count * WIRE_ID_LEN);
	frame_end(b, s);
}

int
wire_message_id(const struct node_addr *origin, uint64_t timestamp, uint64_t seq,
		const uint8_t *payload, size_t len, uint8_t ret[WIRE_ID_LEN])
{
	SHA256_CTX ctx;
	uint8_t head[1 + 16 + 2 + 8 + 8], *h = head;
	size_t alen = origin->family == AF_INET6 ? 16 : 4;

	/* The same bytes as wire_put_addr() + two u64, without a heap buffer. */
	*h++ = origin->family == AF_INET6 ? 6 : 4;
	memcpy(h, origin->addr, alen);
	h += alen;
	*h++ = (uint8_t)(origin->port >> 8);
	*h++ = (uint8_t)origin->port;
	for (int i = 7; i >= 0; i--)
		*h++ = (uint8_t)(timestamp >> (8 * i));
	for (int i = 7; i >= 0; i--)
		*h++ = (uint8_t)(seq >> (8 * i));

	if (!SHA256_Init(&ctx) || !SHA256_Update(&ctx, head, (size_t)(h - head)) ||
	    !SHA256_Update(&ctx, payload, len) || !SHA256_Final(ret, &ctx))
		return -EIO;
	return 0;
}
