/* SPDX-License-Identifier: MIT */
/* Unit tests for wire.c: frame header check, decoding of every type, encoders, message ids. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/buf.h"
#include "core/util.h"
#include "testaddr.h"
#include "core/wire.h"

static void
assert_addr_equal(const struct node_addr *a, const struct node_addr *b)
{
	char sa[NODE_ADDR_STRLEN], sb[NODE_ADDR_STRLEN];
	if (!node_addr_equal(a, b))
		fail_msg("address %s != %s", node_addr_str(a, sa), node_addr_str(b, sb));
}

/* Decodes b as exactly one frame; fails the test on error. */
static struct wire_msg
decode_ok(const struct buf *b)
{
	struct wire_msg m;
	const char *reason = NULL;
	const char *r2 = NULL;
	int r;

	assert_int_equal(wire_frame_check(b->data, b->len, &r2), (long)b->len);
	r = wire_decode(b->data, b->len, &m, &reason);
	if (r != 0)
		fail_msg("wire_decode failed: %d (%s)", r, reason ? reason : "?");
	return m;
}

/* Expects wire_decode to reject the frame with a reason. */
static void
decode_bad(const uint8_t *p, size_t len, const char *want_reason)
{
	struct wire_msg m;
	const char *reason = NULL;
	int r = wire_decode(p, len, &m, &reason);

	if (r != -EBADMSG)
		fail_msg("wire_decode accepted a bad frame (len %zu), expected \"%s\"", len,
		         want_reason ? want_reason : "any reason");
	assert_non_null(reason);
	if (want_reason && strcmp(reason, want_reason) != 0)
		fail_msg("reason \"%s\", expected \"%s\"", reason, want_reason);
}

/* Rewrites the header length of the frame in b to match its current size. */
static void
fix_length(struct buf *b)
{
	uint32_t n = (uint32_t)(b->len - WIRE_HDR_LEN);
	b->data[4] = (uint8_t)(n >> 24);
	b->data[5] = (uint8_t)(n >> 16);
	b->data[6] = (uint8_t)(n >> 8);
	b->data[7] = (uint8_t)n;
}

static void
test_hello_roundtrip(void **state)
{
	struct buf b = {0};
	struct node_addr a4 = addr("10.1.2.3:6000"), a6 = addr("[2001:db8::42]:7000");
	struct wire_msg m;

	wire_encode_hello(&b, WIRE_ROLE_PEER, &a4, 0x0102030405060708ULL);
	assert_int_equal(b.len, WIRE_HDR_LEN + 1 + 7 + 8);
	assert_memory_equal(b.data, ((uint8_t[]){'G', 'S', WIRE_VERSION, WIRE_HELLO, 0, 0, 0, 16}), 8);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_HELLO);
	assert_int_equal(m.hello.role, WIRE_ROLE_PEER);
	assert_addr_equal(&m.hello.addr, &a4);
	assert_true(m.hello.incarnation == 0x0102030405060708ULL);

	b.len = 0;
	wire_encode_hello(&b, WIRE_ROLE_SEED, &a6, UINT64_MAX);
	m = decode_ok(&b);
	assert_int_equal(m.hello.role, WIRE_ROLE_SEED);
	assert_int_equal(m.hello.addr.family, AF_INET6);
	assert_addr_equal(&m.hello.addr, &a6);
	assert_true(m.hello.incarnation == UINT64_MAX);
	buf_free(&b);
}

static void
test_hello_bad_role(void **state)
{
	struct buf b = {0};
	struct node_addr a = addr("10.1.2.3:6000");

	wire_encode_hello(&b, 0, &a, 1);
	decode_bad(b.data, b.len, "bad role in HELLO");
	b.len = 0;
	wire_encode_hello(&b, WIRE_ROLE_PROBE + 1, &a, 1);
	decode_bad(b.data, b.len, "bad role in HELLO");
	b.len = 0;
	wire_encode_hello(&b, WIRE_ROLE_PROBE, &a, 1);
	assert_int_equal(decode_ok(&b).hello.role, WIRE_ROLE_PROBE);
	buf_free(&b);
}

static void
test_probe_msgs_roundtrip(void **state)
{
	struct node_addr v4 = addr("10.1.2.3:6000"), v6 = addr("[2001:db8::7]:6001");
	struct buf b = {0};
	struct wire_msg m;

	wire_encode_ping_req(&b, 0x0102030405060708ULL, &v4);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_PING_REQ);
	assert_int_equal(m.probe.nonce, 0x0102030405060708ULL);
	assert_addr_equal(&m.probe.target, &v4);
	assert_string_equal(wire_type_name(WIRE_PING_REQ), "PING_REQ");
	for (int alive = 0; alive <= 1; alive++) {
		b.len = 0;
		wire_encode_ping_ack(&b, 99, alive, &v6);
		m = decode_ok(&b);
		assert_int_equal(m.type, WIRE_PING_ACK);
		assert_int_equal(m.probe.nonce, 99);
		assert_int_equal(m.probe.alive, alive);
		assert_addr_equal(&m.probe.target, &v6);
	}
	/* The alive flag is 0 or 1: header 8, nonce 8, then the flag. */
	b.data[WIRE_HDR_LEN + 8] = 2;
	decode_bad(b.data, b.len, "bad alive flag in PING_ACK");
	/* Cut short, or with a byte more. */
	b.data[WIRE_HDR_LEN + 8] = 1;
	b.len--;
	fix_length(&b);
	decode_bad(b.data, b.len, NULL);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0);
	fix_length(&b);
	decode_bad(b.data, b.len, "trailing bytes after body");
	buf_free(&b);
}

static void
test_addr_msgs_roundtrip(void **state)
{
	static const uint8_t types[] = {WIRE_REGISTER, WIRE_LEAVE};
	struct node_addr as[] = {addr("1.2.3.4:1"), addr("[::1]:65535")};
	struct buf b = {0};

	for (size_t t = 0; t < ARRAY_SIZE(types); t++) {
		for (size_t i = 0; i < ARRAY_SIZE(as); i++) {
			struct wire_msg m;
			b.len = 0;
			wire_encode_addr_msg(&b, types[t], &as[i]);
			m = decode_ok(&b);
			assert_int_equal(m.type, types[t]);
			assert_addr_equal(&m.addr, &as[i]);
		}
	}
	buf_free(&b);
}

static void
test_ae_summary_roundtrip_and_limits(void **state)
{
	struct wire_ae_bucket v[3] = {{100, 2, 0x1111}, {105, 1, 0xffffffffffffffffULL}, {109, 7, 0}};
	struct wire_ae_bucket got;
	uint8_t ids[2 * WIRE_ID_LEN];
	struct buf b = {0};
	struct wire_msg m;

	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 100, 110, v, 3);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_AE_SUMMARY);
	assert_int_equal(m.ae.stage, WIRE_AE_DETAIL);
	assert_int_equal(m.ae.first, 100);
	assert_int_equal(m.ae.last, 110);
	assert_int_equal(m.ae.count, 3);
	for (uint16_t i = 0; i < 3; i++) {
		wire_ae_entry(&m, i, &got);
		assert_int_equal(got.bucket, v[i].bucket);
		assert_int_equal(got.count, v[i].count);
		assert_true(got.digest == v[i].digest);
	}
	assert_string_equal(wire_type_name(WIRE_AE_SUMMARY), "AE_SUMMARY");
	/* A TOTAL carries exactly one entry, which may be empty. */
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_TOTAL, 100, 110, &(struct wire_ae_bucket){100, 0, 0}, 1);
	assert_int_equal(decode_ok(&b).ae.count, 1);
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_TOTAL, 100, 110, v, 2);
	decode_bad(b.data, b.len, "bad AE_SUMMARY header");
	/* A WANT may name a bucket the sender has nothing in; a DETAIL lists only non-empty ones. */
	v[1].count = 0;
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_WANT, 100, 110, v, 3);
	assert_int_equal(decode_ok(&b).ae.count, 3);
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 100, 110, v, 3);
	decode_bad(b.data, b.len, "bad AE_SUMMARY entry");
	v[1].count = 1;
	/* Stages, ranges and order. */
	b.len = 0;
	wire_encode_ae_summary(&b, 4, 100, 110, v, 3);
	decode_bad(b.data, b.len, "bad AE_SUMMARY header");
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 111, 110, NULL, 0);
	decode_bad(b.data, b.len, "bad AE_SUMMARY header");
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 101, 110, v, 3); /* bucket 100 before the range */
	decode_bad(b.data, b.len, "bad AE_SUMMARY entry");
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 100, 108, v, 3); /* bucket 109 after it */
	decode_bad(b.data, b.len, "bad AE_SUMMARY entry");
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 100, 110, (struct wire_ae_bucket[]){v[1], v[0]}, 2);
	decode_bad(b.data, b.len, "bad AE_SUMMARY entry");
	/* Cut short, and too many entries for the header's count. */
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 100, 110, v, 3);
	b.len -= 4;
	fix_length(&b);
	decode_bad(b.data, b.len, NULL);
	b.len = 0;
	wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 100, 110, v, 3);
	b.data[WIRE_HDR_LEN + 10]--; /* the low byte of count: 2 */
	decode_bad(b.data, b.len, "trailing bytes after body");
	/* AE_IDS is laid out as IHAVE. */
	memset(ids, 0x42, sizeof(ids));
	b.len = 0;
	wire_encode_ids(&b, WIRE_AE_IDS, ids, 2);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_AE_IDS);
	assert_int_equal(m.ids.count, 2);
	buf_free(&b);
}

static void
test_empty_msgs(void **state)
{
	struct buf b = {0};
	struct wire_msg m;

	wire_encode_empty(&b, WIRE_PEER_LIST_REQ);
	assert_int_equal(b.len, WIRE_HDR_LEN);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_PEER_LIST_REQ);
	/* A body on PEER_LIST_REQ is trailing garbage. */
	buf_put_u8(&b, 0);
	fix_length(&b);
	decode_bad(b.data, b.len, "trailing bytes after body");
	buf_free(&b);
}

static void
check_peer_list(const struct node_addr *as, uint32_t n)
{
	struct buf b = {0};
	struct wire_msg m;
	struct node_addr got;
	uint32_t i = 0;

	wire_encode_peer_list(&b, as, n);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_PEER_LIST);
	assert_int_equal(m.peer_list.count, n);
	while (wire_peer_list_next(&m.peer_list, &got)) {
		assert_true(i < n);
		assert_addr_equal(&got, &as[i]);
		i++;
	}
	assert_int_equal(i, n);
	assert_int_equal(m.peer_list.count, 0);
	/* Finished iterators stay finished. */
	assert_false(wire_peer_list_next(&m.peer_list, &got));
	buf_free(&b);
}

static void
test_peer_list_roundtrip(void **state)
{
	struct node_addr many[300];
	struct node_addr one = addr("[fe80::1]:9");

	check_peer_list(NULL, 0);
	check_peer_list(&one, 1);
	for (size_t i = 0; i < ARRAY_SIZE(many); i++) {
		char s[64];
		if (i % 3 == 0)
			snprintf(s, sizeof(s), "[2001:db8::%zx]:%zu", i, 1000 + i);
		else
			snprintf(s, sizeof(s), "10.0.%zu.%zu:%zu", i / 256, i % 256, 2000 + i);
		many[i] = addr(s);
	}
	check_peer_list(many, ARRAY_SIZE(many));
	check_peer_list(many, 2);
}

static void
test_peer_list_bad(void **state)
{
	struct node_addr as[] = {addr("1.1.1.1:1"), addr("[::2]:2")};
	struct buf b = {0};

	/* Count larger than the entries present. */
	wire_encode_peer_list(&b, as, 2);
	b.data[WIRE_HDR_LEN + 3] = 3;
	decode_bad(b.data, b.len, NULL);
	b.data[WIRE_HDR_LEN] = 0xff; /* count 0xff000003 */
	decode_bad(b.data, b.len, NULL);
	/* Count smaller: the rest is trailing. */
	b.data[WIRE_HDR_LEN] = 0;
	b.data[WIRE_HDR_LEN + 3] = 1;
	decode_bad(b.data, b.len, "trailing bytes after body");
	/* Truncated count. */
	b.len = 0;
	wire_encode_empty(&b, WIRE_PEER_LIST);
	buf_put_u8(&b, 0);
	buf_put_u8(&b, 0);
	fix_length(&b);
	decode_bad(b.data, b.len, "truncated body");
	/* Bad family and port 0 in the second entry. */
	b.len = 0;
	wire_encode_peer_list(&b, as, 2);
	b.data[WIRE_HDR_LEN + 4 + 7] = 5;
	decode_bad(b.data, b.len, "bad address family");
	b.len = 0;
	as[1].port = 0;
	wire_encode_peer_list(&b, as, 2);
	decode_bad(b.data, b.len, "address with port 0");
	buf_free(&b);
}

static void
test_dead_report_roundtrip(void **state)
{
	struct node_addr dead = addr("[2001:db8::dead]:6001"), rep = addr("192.0.2.1:6002");
	struct buf b = {0};
	struct wire_msg m;

	wire_encode_dead_report(&b, &dead, 1700000000, &rep);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_DEAD_REPORT);
	assert_addr_equal(&m.dead.dead, &dead);
	assert_addr_equal(&m.dead.reporter, &rep);
	assert_true(m.dead.timestamp == 1700000000);
	buf_free(&b);
}

static void
check_gossip(const struct node_addr *origin, const uint8_t *payload, uint32_t len)
{
	uint8_t id[WIRE_ID_LEN];
	struct buf b = {0};
	struct wire_msg m;

	for (int i = 0; i < WIRE_ID_LEN; i++)
		id[i] = (uint8_t)(0xa0 + i);
	wire_encode_gossip(&b, id, origin, 0x1122334455667788ULL, 42, payload, len);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_GOSSIP);
	assert_memory_equal(m.gossip.id, id, WIRE_ID_LEN);
	assert_addr_equal(&m.gossip.origin, origin);
	assert_true(m.gossip.timestamp == 0x1122334455667788ULL);
	assert_true(m.gossip.seq == 42);
	assert_int_equal(m.gossip.len, len);
	/* The payload points into the frame, at its end. */
	assert_ptr_equal(m.gossip.payload, b.data + b.len - len);
	assert_memory_equal(m.gossip.payload, payload, len);
	buf_free(&b);
}

static void
test_gossip_roundtrip(void **state)
{
	struct node_addr o4 = addr("127.0.0.1:5000"), o6 = addr("[::1]:5000");
	static const uint8_t bin[] = {0, 1, 0, 0xff, '\n', 0, 0x80, 0};
	uint8_t *big;

	check_gossip(&o4, (const uint8_t *)"hello", 5);
	check_gossip(&o6, bin, sizeof(bin));
	check_gossip(&o4, (const uint8_t *)"\0", 1);

	big = malloc(65536);
	for (size_t i = 0; i < 65536; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 8));
	check_gossip(&o6, big, 65536);
	free(big);
}

static void
test_gossip_max_payload(void **state)
{
	struct node_addr o6 = addr("[2001:db8::1]:1");
	uint8_t id[WIRE_ID_LEN] = {0};
	uint8_t *p = calloc(1, WIRE_MAX_PAYLOAD + 1);
	struct buf b = {0};
	const char *reason = NULL;

	uint8_t sig[WIRE_SIG_LEN] = {7};

	/* The largest payload with the largest origin and a signature fits exactly. */
	wire_encode_gossip_signed(&b, id, &o6, 1, 1, sig, p, WIRE_MAX_PAYLOAD);
	assert_int_equal(b.len, WIRE_HDR_LEN + WIRE_MAX_BODY);
	(void)decode_ok(&b);
	/* One more byte is refused from the header alone. */
	b.len = 0;
	wire_encode_gossip_signed(&b, id, &o6, 1, 1, sig, p, WIRE_MAX_PAYLOAD + 1);
	assert_int_equal(wire_frame_check(b.data, WIRE_HDR_LEN, &reason), -EBADMSG);
	assert_non_null(reason);
	free(p);
	buf_free(&b);
}

static void
test_gossip_bad(void **state)
{
	struct node_addr o = addr("127.0.0.1:5000");
	uint8_t id[WIRE_ID_LEN] = {1};
	struct buf b = {0};
	size_t siglenpos = WIRE_HDR_LEN + WIRE_ID_LEN + 7 + 8 + 8, lenpos = siglenpos + 1;

	/* Payload length field one too large, one too small, far too large. */
	wire_encode_gossip(&b, id, &o, 1, 2, (const uint8_t *)"abcd", 4);
	b.data[lenpos + 3] = 5;
	decode_bad(b.data, b.len, "payload length does not match frame length");
	b.data[lenpos + 3] = 3;
	decode_bad(b.data, b.len, "payload length does not match frame length");
	b.data[lenpos] = 0xff;
	b.data[lenpos + 3] = 4;
	decode_bad(b.data, b.len, "payload length does not match frame length");
	/* A signature length other than 0 or WIRE_SIG_LEN. */
	b.data[lenpos] = 0;
	b.data[siglenpos] = 1;
	decode_bad(b.data, b.len, "bad signature length");
	b.data[siglenpos] = WIRE_SIG_LEN; /* announced, but the bytes are the payload's */
	decode_bad(b.data, b.len, NULL);
	/* Empty payload. */
	b.len = 0;
	wire_encode_gossip(&b, id, &o, 1, 2, NULL, 0);
	decode_bad(b.data, b.len, "empty payload");
	/* Bad origin family and port 0. */
	b.len = 0;
	wire_encode_gossip(&b, id, &o, 1, 2, (const uint8_t *)"x", 1);
	b.data[WIRE_HDR_LEN + WIRE_ID_LEN] = 0;
	decode_bad(b.data, b.len, "bad address family");
	b.len = 0;
	o.port = 0;
	wire_encode_gossip(&b, id, &o, 1, 2, (const uint8_t *)"x", 1);
	decode_bad(b.data, b.len, "address with port 0");
	buf_free(&b);
}

static void
test_ping_pong_roundtrip(void **state)
{
	static const uint64_t nonces[] = {0, 1, 0x8000000000000000ULL, UINT64_MAX};
	struct buf b = {0};

	for (size_t i = 0; i < ARRAY_SIZE(nonces); i++) {
		struct wire_msg m;
		b.len = 0;
		wire_encode_nonce(&b, WIRE_PING, nonces[i]);
		assert_int_equal(b.len, WIRE_HDR_LEN + 8);
		m = decode_ok(&b);
		assert_int_equal(m.type, WIRE_PING);
		assert_true(m.nonce == nonces[i]);
		b.len = 0;
		wire_encode_nonce(&b, WIRE_PONG, nonces[i]);
		m = decode_ok(&b);
		assert_int_equal(m.type, WIRE_PONG);
		assert_true(m.nonce == nonces[i]);
		assert_int_equal(m.carried.count, 0);
	}
	buf_free(&b);
}

/* PING and PONG carrying IHAVE ids: 1..WIRE_MAX_IDS of them, checked as an IHAVE's. */
static void
test_ping_carrying_ids(void **state)
{
	static const uint16_t counts[] = {1, 5, WIRE_MAX_IDS};
	static const uint8_t types[] = {WIRE_PING, WIRE_PONG};
	uint8_t *ids = malloc((size_t)WIRE_MAX_IDS * WIRE_ID_LEN);
	struct buf b = {0};
	struct wire_msg m;

	for (size_t i = 0; i < (size_t)WIRE_MAX_IDS * WIRE_ID_LEN; i++)
		ids[i] = (uint8_t)(i * 5 + 1);
	for (size_t t = 0; t < ARRAY_SIZE(types); t++)
		for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
			b.len = 0;
			wire_encode_ping(&b, types[t], 42 + i, ids, counts[i]);
			assert_int_equal(b.len, WIRE_HDR_LEN + 8 + 2 + (size_t)counts[i] * WIRE_ID_LEN);
			m = decode_ok(&b);
			assert_int_equal(m.type, types[t]);
			assert_true(m.nonce == 42 + i);
			assert_int_equal(m.carried.count, counts[i]);
			assert_memory_equal(m.carried.ids, ids, (size_t)counts[i] * WIRE_ID_LEN);
		}
	/* An explicit count of 0, one over the limit, a count the length disagrees with. */
	b.len = 0;
	wire_encode_ping(&b, WIRE_PING, 7, ids, 1);
	b.data[WIRE_HDR_LEN + 9] = 0;
	b.len = WIRE_HDR_LEN + 10;
	fix_length(&b);
	decode_bad(b.data, b.len, "no ids");
	b.len = 0;
	wire_encode_ping(&b, WIRE_PONG, 7, ids, 2);
	b.data[WIRE_HDR_LEN + 8] = (uint8_t)((WIRE_MAX_IDS + 1) >> 8);
	b.data[WIRE_HDR_LEN + 9] = (uint8_t)(WIRE_MAX_IDS + 1);
	decode_bad(b.data, b.len, "too many ids");
	b.data[WIRE_HDR_LEN + 8] = 0;
	b.data[WIRE_HDR_LEN + 9] = 3;
	decode_bad(b.data, b.len, "id count does not match frame length");
	buf_free(&b);
	free(ids);
}

/* IHAVE and GRAFT: 1..WIRE_MAX_IDS ids; PRUNE: empty. */
static void
test_ids_roundtrip(void **state)
{
	static const uint16_t counts[] = {1, 2, 17, WIRE_MAX_IDS};
	static const uint8_t types[] = {WIRE_IHAVE, WIRE_GRAFT};
	uint8_t *ids = malloc((size_t)WIRE_MAX_IDS * WIRE_ID_LEN);
	struct buf b = {0};
	struct wire_msg m;

	for (size_t i = 0; i < (size_t)WIRE_MAX_IDS * WIRE_ID_LEN; i++)
		ids[i] = (uint8_t)(i * 7 + 3);
	for (size_t t = 0; t < ARRAY_SIZE(types); t++)
		for (size_t i = 0; i < ARRAY_SIZE(counts); i++) {
			b.len = 0;
			wire_encode_ids(&b, types[t], ids, counts[i]);
			assert_int_equal(b.len, WIRE_HDR_LEN + 2 + (size_t)counts[i] * WIRE_ID_LEN);
			m = decode_ok(&b);
			assert_int_equal(m.type, types[t]);
			assert_int_equal(m.ids.count, counts[i]);
			assert_memory_equal(m.ids.ids, ids, (size_t)counts[i] * WIRE_ID_LEN);
			assert_ptr_equal(m.ids.ids, b.data + WIRE_HDR_LEN + 2);
		}
	b.len = 0;
	wire_encode_empty(&b, WIRE_PRUNE);
	assert_int_equal(b.len, WIRE_HDR_LEN);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_PRUNE);
	assert_string_equal(wire_type_name(WIRE_IHAVE), "IHAVE");
	assert_string_equal(wire_type_name(WIRE_GRAFT), "GRAFT");
	assert_string_equal(wire_type_name(WIRE_PRUNE), "PRUNE");
	buf_free(&b);
	free(ids);
}

static void
test_ids_bad(void **state)
{
	uint8_t ids[3 * WIRE_ID_LEN] = {0};
	struct buf b = {0};

	/* No ids. */
	wire_encode_ids(&b, WIRE_IHAVE, ids, 1);
	b.data[WIRE_HDR_LEN] = 0;
	b.data[WIRE_HDR_LEN + 1] = 0;
	b.len = WIRE_HDR_LEN + 2;
	fix_length(&b);
	decode_bad(b.data, b.len, "no ids");
	/* Over the limit, whatever follows. */
	b.len = 0;
	wire_encode_ids(&b, WIRE_GRAFT, ids, 1);
	b.data[WIRE_HDR_LEN] = (uint8_t)((WIRE_MAX_IDS + 1) >> 8);
	b.data[WIRE_HDR_LEN + 1] = (uint8_t)(WIRE_MAX_IDS + 1);
	decode_bad(b.data, b.len, "too many ids");
	/* Count and length disagree, both ways. */
	b.len = 0;
	wire_encode_ids(&b, WIRE_IHAVE, ids, 3);
	b.data[WIRE_HDR_LEN + 1] = 2;
	decode_bad(b.data, b.len, "id count does not match frame length");
	b.data[WIRE_HDR_LEN + 1] = 4;
	decode_bad(b.data, b.len, "id count does not match frame length");
	/* Truncated inside the count; PRUNE with a body. */
	b.len = WIRE_HDR_LEN + 1;
	fix_length(&b);
	decode_bad(b.data, b.len, "truncated body");
	b.len = 0;
	wire_encode_empty(&b, WIRE_PRUNE);
	buf_put_u8(&b, 1);
	fix_length(&b);
	decode_bad(b.data, b.len, "trailing bytes after body");
	buf_free(&b);
}

static void
test_error_roundtrip(void **state)
{
	struct buf b = {0};
	struct wire_msg m;
	char longtext[WIRE_MAX_ERROR_TEXT + 100];

	wire_encode_error(&b, WIRE_ERR_FULL, "peer table full");
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_ERROR);
	assert_int_equal(m.error.code, WIRE_ERR_FULL);
	assert_string_equal(m.error.text, "peer table full");

	b.len = 0;
	wire_encode_error(&b, WIRE_ERR_PROTOCOL, "");
	m = decode_ok(&b);
	assert_int_equal(m.error.code, WIRE_ERR_PROTOCOL);
	assert_string_equal(m.error.text, "");

	/* The encoder truncates at the limit; the decoder accepts exactly the limit. */
	memset(longtext, 'e', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	b.len = 0;
	wire_encode_error(&b, 0xffff, longtext);
	m = decode_ok(&b);
	assert_int_equal(m.error.code, 0xffff);
	assert_int_equal(strlen(m.error.text), WIRE_MAX_ERROR_TEXT);
	assert_memory_equal(m.error.text, longtext, WIRE_MAX_ERROR_TEXT);
	buf_free(&b);
}

static void
test_error_bad(void **state)
{
	struct buf b = {0};
	struct wire_msg m;
	uint8_t text[WIRE_MAX_ERROR_TEXT + 1];

	/* A length field over the limit, with the bytes present. */
	memset(text, 'a', sizeof(text));
	wire_encode_empty(&b, WIRE_ERROR);
	buf_put_u16(&b, 1);
	buf_put_u16(&b, WIRE_MAX_ERROR_TEXT + 1);
	buf_append(&b, text, sizeof(text));
	fix_length(&b);
	decode_bad(b.data, b.len, "error text too long");
	/* Length field larger than the text present. */
	b.len = 0;
	wire_encode_error(&b, 1, "abc");
	b.data[WIRE_HDR_LEN + 3] = 4;
	decode_bad(b.data, b.len, "truncated body");
	/* And smaller. */
	b.data[WIRE_HDR_LEN + 3] = 2;
	decode_bad(b.data, b.len, "trailing bytes after body");
	/* Non-printable bytes are replaced, never passed on. */
	b.len = 0;
	wire_encode_empty(&b, WIRE_ERROR);
	buf_put_u16(&b, 2);
	buf_put_u16(&b, 8);
	buf_append(&b, "a\nb\x1b[\x7f\xff", 7);
	buf_put_u8(&b, 0);
	fix_length(&b);
	m = decode_ok(&b);
	assert_int_equal(m.error.code, 2);
	assert_int_equal(strlen(m.error.text), 8);
	assert_string_equal(m.error.text, "a?b?[???");
	buf_free(&b);
}

/* One valid frame of each type, for the prefix, truncation and fuzz tests. */
static size_t
all_frames(struct buf *frames, size_t max)
{
	struct node_addr a4 = addr("10.0.0.1:6000"), a6 = addr("[2001:db8::1]:6001");
	struct node_addr list[] = {a4, a6, addr("10.0.0.2:6002")};
	uint8_t id[WIRE_ID_LEN];
	size_t n = 0;

	memset(id, 0x33, sizeof(id));
	assert_true(max >= 13);
	memset(frames, 0, max * sizeof(*frames));
	wire_encode_hello(&frames[n++], WIRE_ROLE_PEER, &a6, 7);
	wire_encode_addr_msg(&frames[n++], WIRE_REGISTER, &a4);
	wire_encode_empty(&frames[n++], WIRE_PEER_LIST_REQ);
	wire_encode_peer_list(&frames[n++], list, 3);
	wire_encode_peer_list(&frames[n++], NULL, 0);
	wire_encode_dead_report(&frames[n++], &a4, 99, &a6);
	wire_encode_addr_msg(&frames[n++], WIRE_LEAVE, &a6);
	wire_encode_gossip(&frames[n++], id, &a4, 1, 2, (const uint8_t *)"payload\0x", 9);
	wire_encode_gossip(&frames[n++], id, &a6, 1, 2, (const uint8_t *)"p", 1);
	wire_encode_nonce(&frames[n++], WIRE_PING, 5);
	wire_encode_nonce(&frames[n++], WIRE_PONG, 6);
	wire_encode_error(&frames[n++], WIRE_ERR_REFUSED, "go away");
	wire_encode_error(&frames[n++], WIRE_ERR_REFUSED, "");
	return n;
}

static void
free_frames(struct buf *frames, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&frames[i]);
}

static void
test_frame_check_prefixes(void **state)
{
	struct buf f[16];
	size_t n = all_frames(f, ARRAY_SIZE(f));

	for (size_t i = 0; i < n; i++) {
		for (size_t len = 0; len < f[i].len; len++) {
			const char *reason = NULL;
			long r = wire_frame_check(f[i].data, len, &reason);
			if (r != 0)
				fail_msg("frame %zu prefix %zu: check returned %ld", i, len, r);
			/* wire_decode on a prefix is an error, not a crash. */
			decode_bad(f[i].data, len, NULL);
		}
		assert_int_equal(wire_frame_check(f[i].data, f[i].len, &(const char *){NULL}),
		                 (long)f[i].len);
		/* Extra bytes after the frame belong to the next one: still one frame. */
		buf_append(&f[i], "GS", 2);
		assert_int_equal(wire_frame_check(f[i].data, f[i].len, &(const char *){NULL}),
		                 (long)(f[i].len - 2));
		/* ... but wire_decode wants exactly one frame. */
		decode_bad(f[i].data, f[i].len, NULL);
	}
	free_frames(f, n);
}

static void
expect_check_bad(const uint8_t *p, size_t len, const char *want)
{
	const char *reason = NULL;
	long r = wire_frame_check(p, len, &reason);
	if (r != -EBADMSG)
		fail_msg("wire_frame_check returned %ld for a bad header (len %zu)", r, len);
	assert_non_null(reason);
	if (want && strcmp(reason, want) != 0)
		fail_msg("reason \"%s\", expected \"%s\"", reason, want);
}

static void
test_frame_check_bad_header(void **state)
{
	uint8_t h[WIRE_HDR_LEN] = {'G', 'S', WIRE_VERSION, WIRE_PING, 0, 0, 0, 8};
	static const uint8_t bad_types[] = {0, WIRE_TYPE_MAX + 1, 0x80, 255};

	/* Bad magic is visible from the first byte, and from the second. */
	expect_check_bad((const uint8_t *)"X", 1, "bad magic (not a gossip frame)");
	expect_check_bad((const uint8_t *)"GET / HTTP/1.0\r\n", 16,
	                 "bad magic (not a gossip frame)");
	expect_check_bad((const uint8_t *)"GX", 2, "bad magic (not a gossip frame)");
	expect_check_bad((const uint8_t *)"GC\x01\x82", 4, "bad magic (not a gossip frame)");
	/* Version. */
	h[2] = 0;
	expect_check_bad(h, 3, "unsupported protocol version");
	h[2] = WIRE_VERSION - 1; /* version 3: gossip 0.3, whose PING carried no ids */
	expect_check_bad(h, sizeof(h), "unsupported protocol version");
	h[2] = WIRE_VERSION + 1;
	expect_check_bad(h, sizeof(h), "unsupported protocol version");
	h[2] = WIRE_VERSION;
	assert_int_equal(wire_frame_check(h, sizeof(h), &(const char *){NULL}), 0);
	/* Unknown types, from the fourth byte on. */
	for (size_t i = 0; i < ARRAY_SIZE(bad_types); i++) {
		h[3] = bad_types[i];
		expect_check_bad(h, 4, "unknown frame type");
		expect_check_bad(h, sizeof(h), "unknown frame type");
		decode_bad(h, sizeof(h), "unknown frame type");
	}
	assert_string_equal(wire_type_name(0), "UNKNOWN");
	assert_string_equal(wire_type_name(WIRE_TYPE_MAX + 1), "UNKNOWN");
	assert_string_equal(wire_type_name(255), "UNKNOWN");
	assert_string_equal(wire_type_name(WIRE_GOSSIP), "GOSSIP");
	for (uint8_t t = 1; t <= WIRE_TYPE_MAX; t++)
		assert_string_not_equal(wire_type_name(t), "UNKNOWN");
	/* Length: the limit is accepted (wants more), one over is refused at once. */
	h[3] = WIRE_GOSSIP;
	h[4] = (uint8_t)(WIRE_MAX_BODY >> 24);
	h[5] = (uint8_t)(WIRE_MAX_BODY >> 16);
	h[6] = (uint8_t)(WIRE_MAX_BODY >> 8);
	h[7] = (uint8_t)WIRE_MAX_BODY;
	assert_int_equal(wire_frame_check(h, sizeof(h), &(const char *){NULL}), 0);
	h[7] = (uint8_t)(WIRE_MAX_BODY + 1);
	expect_check_bad(h, sizeof(h), "frame length over the limit");
	memset(h + 4, 0xff, 4);
	expect_check_bad(h, sizeof(h), "frame length over the limit");
}

/* Every strict prefix of every body, with the header length fixed up, is refused. */
static void
test_truncated_bodies(void **state)
{
	struct buf f[16];
	size_t n = all_frames(f, ARRAY_SIZE(f));

	for (size_t i = 0; i < n; i++) {
		size_t full = f[i].len;
		uint8_t type = f[i].data[3];
		for (size_t len = WIRE_HDR_LEN; len < full; len++) {
			struct buf t = {0};
			/* A PEER_LIST with count 0 has a 4-byte body; any prefix is truncated. */
			buf_append(&t, f[i].data, len);
			fix_length(&t);
			{
				struct wire_msg m;
				const char *reason = NULL;
				int r = wire_decode(t.data, t.len, &m, &reason);
				if (r != -EBADMSG)
					fail_msg("%s truncated to a %zu-byte body was accepted",
					         wire_type_name(type), len - WIRE_HDR_LEN);
				assert_non_null(reason);
			}
			buf_free(&t);
		}
	}
	free_frames(f, n);
}

static void
test_trailing_bytes(void **state)
{
	struct buf f[16];
	size_t n = all_frames(f, ARRAY_SIZE(f));

	for (size_t i = 0; i < n; i++) {
		uint8_t type = f[i].data[3];
		buf_put_u8(&f[i], 0);
		fix_length(&f[i]);
		if (type == WIRE_GOSSIP) /* The payload length no longer matches. */
			decode_bad(f[i].data, f[i].len,
			           "payload length does not match frame length");
		else if (type == WIRE_PING || type == WIRE_PONG) /* A carried ids count begins. */
			decode_bad(f[i].data, f[i].len, "truncated body");
		else
			decode_bad(f[i].data, f[i].len, "trailing bytes after body");
	}
	free_frames(f, n);
}

static void
test_bad_address(void **state)
{
	struct node_addr a = addr("10.0.0.1:6000");
	struct buf b = {0};

	wire_encode_addr_msg(&b, WIRE_REGISTER, &a);
	for (unsigned fam = 0; fam < 256; fam++) {
		if (fam == 4)
			continue;
		b.data[WIRE_HDR_LEN] = (uint8_t)fam;
		if (fam == 6)
			decode_bad(b.data, b.len, "truncated address");
		else
			decode_bad(b.data, b.len, "bad address family");
	}
	b.data[WIRE_HDR_LEN] = 4;
	b.data[b.len - 2] = 0;
	b.data[b.len - 1] = 0;
	decode_bad(b.data, b.len, "address with port 0");
	b.len = 0;
	a = addr("[::1]:1");
	a.port = 0;
	wire_encode_dead_report(&b, &a, 1, &a);
	decode_bad(b.data, b.len, "address with port 0");
	b.len = 0;
	wire_encode_hello(&b, WIRE_ROLE_SEED, &a, 1);
	decode_bad(b.data, b.len, "address with port 0");
	buf_free(&b);
}

static void
check_decoded_sane(const struct wire_msg *m, int r, const char *reason)
{
	if (r == 0) {
		assert_true(m->type >= 1 && m->type <= WIRE_TYPE_MAX);
		if (m->type == WIRE_PEER_LIST) {
			struct wire_peer_list l = m->peer_list;
			struct node_addr a;
			uint32_t count = l.count, seen = 0;
			while (wire_peer_list_next(&l, &a)) {
				assert_true(a.port != 0);
				assert_true(a.family == AF_INET || a.family == AF_INET6);
				seen++;
			}
			assert_int_equal(seen, count);
		}
		if (m->type == WIRE_ERROR)
			assert_true(strlen(m->error.text) <= WIRE_MAX_ERROR_TEXT);
	} else {
		assert_int_equal(r, -EBADMSG);
		assert_non_null(reason);
	}
}

static void
test_random_garbage(void **state)
{
	struct rng rng;
	uint8_t *p = malloc(4096);
	unsigned decoded = 0;

	rng_seed(&rng, 0x5eed);
	for (int iter = 0; iter < 100000; iter++) {
		size_t len = (size_t)rng_below(&rng, 300);
		struct wire_msg m;
		const char *reason = NULL;
		long fc;
		int r;

		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rng_next(&rng);
		/* Most iterations get a valid header so the body decoders are reached. */
		if (len >= WIRE_HDR_LEN && iter % 8 != 0) {
			uint32_t body = (uint32_t)(len - WIRE_HDR_LEN);
			p[0] = WIRE_MAGIC0;
			p[1] = WIRE_MAGIC1;
			p[3] = (uint8_t)(1 + rng_below(&rng, WIRE_TYPE_MAX));
			p[2] = WIRE_VERSION;
			p[4] = (uint8_t)(body >> 24);
			p[5] = (uint8_t)(body >> 16);
			p[6] = (uint8_t)(body >> 8);
			p[7] = (uint8_t)body;
			/* Plausible address families now and then. */
			if (len > WIRE_HDR_LEN + 4 && iter % 3 == 0)
				p[WIRE_HDR_LEN + (iter % 5)] = (iter & 16) ? 4 : 6;
		}
		fc = wire_frame_check(p, len, &reason);
		assert_true(fc == 0 || fc == -EBADMSG || (fc > 0 && (size_t)fc <= len));
		if (fc == -EBADMSG)
			assert_non_null(reason);
		reason = NULL;
		/* Copy to an exact-size allocation so ASan sees any over-read. */
		{
			uint8_t *exact = malloc(len ? len : 1);
			memcpy(exact, p, len);
			r = wire_decode(exact, len, &m, &reason);
			check_decoded_sane(&m, r, reason);
			free(exact);
		}
		if (r == 0)
			decoded++;
	}
	/* The valid-header path must sometimes succeed (PING, PEER_LIST_REQ, ...). */
	assert_true(decoded > 0);
	free(p);
}

static void
test_random_mutations(void **state)
{
	struct buf f[16];
	size_t n = all_frames(f, ARRAY_SIZE(f));
	struct rng rng;
	unsigned decoded = 0, rejected = 0;

	rng_seed(&rng, 0xfeedbeef);
	for (int iter = 0; iter < 100000; iter++) {
		const struct buf *src = &f[rng_below(&rng, n)];
		size_t len = src->len;
		uint8_t *p = malloc(len + 16);
		int nmut = 1 + (int)rng_below(&rng, 4);
		struct wire_msg m;
		const char *reason = NULL;
		int r;

		memcpy(p, src->data, len);
		for (int k = 0; k < nmut; k++) {
			switch (rng_below(&rng, 4)) {
			case 0: /* flip a byte */
				p[rng_below(&rng, len)] = (uint8_t)rng_next(&rng);
				break;
			case 1: /* flip a bit in the body */
				if (len > WIRE_HDR_LEN)
					p[WIRE_HDR_LEN + rng_below(&rng, len - WIRE_HDR_LEN)] ^=
					    (uint8_t)(1u << rng_below(&rng, 8));
				break;
			case 2: /* truncate */
				len = (size_t)rng_below(&rng, len + 1);
				break;
			default: /* extend with random bytes */
				if (len + 4 <= src->len + 16) {
					for (int j = 0; j < 4; j++)
						p[len++] = (uint8_t)rng_next(&rng);
				}
				break;
			}
			if (len == 0)
				break;
		}
		/* Half the time keep the header length consistent so bodies are parsed. */
		if (len >= WIRE_HDR_LEN && (iter & 1)) {
			uint32_t body = (uint32_t)(len - WIRE_HDR_LEN);
			p[4] = (uint8_t)(body >> 24);
			p[5] = (uint8_t)(body >> 16);
			p[6] = (uint8_t)(body >> 8);
			p[7] = (uint8_t)body;
		}
		{
			uint8_t *exact = malloc(len ? len : 1);
			memcpy(exact, p, len);
			r = wire_decode(exact, len, &m, &reason);
			check_decoded_sane(&m, r, reason);
			free(exact);
		}
		if (r == 0)
			decoded++;
		else
			rejected++;
		free(p);
	}
	assert_true(decoded > 0);
	assert_true(rejected > 0);
	free_frames(f, n);
}

/* SHA-256 computed independently, over the documented concatenation. */
static void
reference_id(const struct node_addr *o, uint64_t ts, uint64_t seq, const uint8_t *payload,
             size_t len, uint8_t out[WIRE_ID_LEN])
{
	struct buf b = {0};
	unsigned int outlen = 0;

	buf_put_u8(&b, o->family == AF_INET6 ? 6 : 4);
	buf_append(&b, o->addr, o->family == AF_INET6 ? 16 : 4);
	buf_put_u16(&b, o->port);
	buf_put_u64(&b, ts);
	buf_put_u64(&b, seq);
	buf_append(&b, payload, len);
	assert_int_equal(EVP_Digest(b.data, b.len, out, &outlen, EVP_sha256(), NULL), 1);
	assert_int_equal(outlen, WIRE_ID_LEN);
	buf_free(&b);
}

static void
test_message_id(void **state)
{
	struct node_addr o4 = addr("127.0.0.1:5000"), o6 = addr("[2001:db8::5]:5000");
	static const uint8_t payload[] = "some payload\0with a NUL";
	uint8_t id1[WIRE_ID_LEN], id2[WIRE_ID_LEN], ref[WIRE_ID_LEN];
	struct node_addr o;

	/* Known answer: SHA-256 of 04 7f000001 1388 0000000000000001 0000000000000002 "abc". */
	{
		static const uint8_t bytes[] = {4, 127, 0, 0, 1, 0x13, 0x88, 0,  0,
		                                0, 0,   0, 0, 0, 1,    0,    0,  0,
		                                0, 0,   0, 0, 2, 'a',  'b',  'c'};
		unsigned int outlen = 0;
		assert_int_equal(wire_message_id(&o4, 1, 2, (const uint8_t *)"abc", 3, id1), 0);
		assert_int_equal(EVP_Digest(bytes, sizeof(bytes), ref, &outlen, EVP_sha256(), NULL),
		                 1);
		assert_memory_equal(id1, ref, WIRE_ID_LEN);
	}

	assert_int_equal(
	    wire_message_id(&o4, 1700000000123456ULL, 77, payload, sizeof(payload), id1), 0);
	reference_id(&o4, 1700000000123456ULL, 77, payload, sizeof(payload), ref);
	assert_memory_equal(id1, ref, WIRE_ID_LEN);
	/* Deterministic. */
	assert_int_equal(
	    wire_message_id(&o4, 1700000000123456ULL, 77, payload, sizeof(payload), id2), 0);
	assert_memory_equal(id1, id2, WIRE_ID_LEN);

	assert_int_equal(wire_message_id(&o6, 5, 6, payload, sizeof(payload), id1), 0);
	reference_id(&o6, 5, 6, payload, sizeof(payload), ref);
	assert_memory_equal(id1, ref, WIRE_ID_LEN);

	/* Each field changes the id. */
	assert_int_equal(wire_message_id(&o4, 10, 20, payload, sizeof(payload), id1), 0);
	o = o4;
	o.port++;
	assert_int_equal(wire_message_id(&o, 10, 20, payload, sizeof(payload), id2), 0);
	assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	o = o4;
	o.addr[3] ^= 1;
	assert_int_equal(wire_message_id(&o, 10, 20, payload, sizeof(payload), id2), 0);
	assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	assert_int_equal(wire_message_id(&o4, 11, 20, payload, sizeof(payload), id2), 0);
	assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	assert_int_equal(wire_message_id(&o4, 10, 21, payload, sizeof(payload), id2), 0);
	assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	assert_int_equal(wire_message_id(&o4, 10, 20, payload, sizeof(payload) - 1, id2), 0);
	assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	{
		uint8_t p2[sizeof(payload)];
		memcpy(p2, payload, sizeof(p2));
		p2[13] ^= 0x80; /* the NUL in the middle */
		assert_int_equal(wire_message_id(&o4, 10, 20, p2, sizeof(p2), id2), 0);
		assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	}
	/* Timestamp and seq are not interchangeable. */
	assert_int_equal(wire_message_id(&o4, 20, 10, payload, sizeof(payload), id2), 0);
	assert_memory_not_equal(id1, id2, WIRE_ID_LEN);
	/* IPv4 bytes beyond the address do not count. */
	o = o4;
	o.addr[12] = 0xaa;
	assert_int_equal(wire_message_id(&o, 10, 20, payload, sizeof(payload), id2), 0);
	assert_memory_equal(id1, id2, WIRE_ID_LEN);
}

/* The i-th member of a test page: IPv6, so a full page is as large as it gets. */
static struct wire_member
member_nth(unsigned i)
{
	struct wire_member e = {0};
	char s[64];

	snprintf(s, sizeof(s), "[2001:db8::%x:%x]:%u", i >> 8, i & 0xff, 6000 + i % 7);
	e.addr = addr(s);
	e.state = i % 3 ? WIRE_MEMBER_ALIVE : WIRE_MEMBER_SUSPECT;
	e.incarnation = 0x1122334455667788ULL ^ i;
	e.lease_age_ms = 1000 * i + 7;
	e.registered_s = UINT32_MAX - i;
	return e;
}

static void
test_members_req_roundtrip(void **state)
{
	struct node_addr a = addr("10.1.2.3:6000");
	struct buf b = {0};
	struct wire_msg m;

	wire_encode_members_req(&b, NULL);
	assert_int_equal(b.len, WIRE_HDR_LEN);
	/* A type of version 4 says version 4: a node of version 3 refuses it, and only it. */
	assert_int_equal(b.data[2], 4);
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_MEMBERS_REQ);
	assert_true(m.members_req.from_start);
	buf_free(&b);
	wire_encode_members_req(&b, &a);
	m = decode_ok(&b);
	assert_false(m.members_req.from_start);
	assert_addr_equal(&m.members_req.after, &a);
	/* Anything but nothing or one address is malformed. */
	buf_put_u8(&b, 0);
	fix_length(&b);
	decode_bad(b.data, b.len, "trailing bytes after body");
	b.len -= 3;
	fix_length(&b);
	decode_bad(b.data, b.len, "truncated address");
	buf_free(&b);
	assert_string_equal(wire_type_name(WIRE_MEMBERS_REQ), "MEMBERS_REQ");
	assert_string_equal(wire_type_name(WIRE_MEMBERS), "MEMBERS");
}

/* A page of WIRE_MAX_MEMBERS entries goes through whole; one more is refused. */
static void
test_members_at_the_cap(void **state)
{
	struct wire_member *v = xcalloc(WIRE_MAX_MEMBERS + 1, sizeof(*v)), e;
	struct buf b = {0};
	struct wire_msg m;
	unsigned n = 0;

	for (unsigned i = 0; i <= WIRE_MAX_MEMBERS; i++)
		v[i] = member_nth(i);
	wire_encode_members(&b, 50000, true, v, WIRE_MAX_MEMBERS);
	assert_int_equal(b.len, WIRE_HDR_LEN + 7 + WIRE_MAX_MEMBERS * (19 + WIRE_MEMBER_FIXED));
	m = decode_ok(&b);
	assert_int_equal(m.type, WIRE_MEMBERS);
	assert_int_equal(m.members.total, 50000);
	assert_int_equal(m.members.more, 1);
	assert_int_equal(m.members.count, WIRE_MAX_MEMBERS);
	while (wire_members_next(&m, &e)) {
		assert_addr_equal(&e.addr, &v[n].addr);
		assert_int_equal(e.state, v[n].state);
		assert_true(e.incarnation == v[n].incarnation);
		assert_int_equal(e.lease_age_ms, v[n].lease_age_ms);
		assert_int_equal(e.registered_s, v[n].registered_s);
		n++;
	}
	assert_int_equal(n, WIRE_MAX_MEMBERS);
	buf_free(&b);
	wire_encode_members(&b, 50000, true, v, WIRE_MAX_MEMBERS + 1);
	decode_bad(b.data, b.len, "bad MEMBERS header");
	buf_free(&b);
	free(v);
}

/* Corrupts byte `at` of the body of a valid two-entry MEMBERS and expects `why`. */
static void
members_bad(size_t at, uint8_t value, const char *why)
{
	struct wire_member v[2] = {member_nth(1), member_nth(2)};
	struct buf b = {0};

	wire_encode_members(&b, 2, false, v, 2);
	b.data[WIRE_HDR_LEN + at] = value;
	decode_bad(b.data, b.len, why);
	buf_free(&b);
}

static void
test_members_malformed(void **state)
{
	struct wire_member v[3] = {member_nth(1), member_nth(2), member_nth(1)};
	size_t entry = 19 + WIRE_MEMBER_FIXED;
	struct buf b = {0};
	struct wire_msg m;

	members_bad(4, 2, "bad MEMBERS header");          /* more is 0 or 1 */
	members_bad(7 + 19, 0, "bad state in MEMBERS");   /* state 0 */
	members_bad(7 + 19, 3, "bad state in MEMBERS");
	members_bad(7, 5, "bad address family");
	/* The same address twice, or out of order. */
	wire_encode_members(&b, 3, false, v + 1, 2);
	decode_bad(b.data, b.len, "MEMBERS entries out of order");
	buf_free(&b);
	wire_encode_members(&b, 3, false, (struct wire_member[]){v[0], v[0]}, 2);
	decode_bad(b.data, b.len, "MEMBERS entries out of order");
	buf_free(&b);
	/* More promised after an empty page; a count beyond the body; bytes after it. */
	wire_encode_members(&b, 0, true, v, 0);
	decode_bad(b.data, b.len, "bad MEMBERS header");
	buf_free(&b);
	wire_encode_members(&b, 2, false, v, 2);
	b.len -= 1;
	fix_length(&b);
	decode_bad(b.data, b.len, "truncated MEMBERS entry");
	b.len -= entry - 1;
	fix_length(&b);
	decode_bad(b.data, b.len, "truncated address");
	buf_free(&b);
	wire_encode_members(&b, 2, false, v, 2);
	buf_put_u8(&b, 0);
	fix_length(&b);
	decode_bad(b.data, b.len, "trailing bytes after body");
	buf_free(&b);
	/* An empty last page is fine: a seed with no registrations. */
	wire_encode_members(&b, 0, false, v, 0);
	m = decode_ok(&b);
	assert_int_equal(m.members.count, 0);
	assert_false(wire_members_next(&m, &v[0]));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello_roundtrip),
	    cmocka_unit_test(test_hello_bad_role),
	    cmocka_unit_test(test_probe_msgs_roundtrip),
	    cmocka_unit_test(test_ae_summary_roundtrip_and_limits),
	    cmocka_unit_test(test_addr_msgs_roundtrip),
	    cmocka_unit_test(test_empty_msgs),
	    cmocka_unit_test(test_peer_list_roundtrip),
	    cmocka_unit_test(test_peer_list_bad),
	    cmocka_unit_test(test_dead_report_roundtrip),
	    cmocka_unit_test(test_gossip_roundtrip),
	    cmocka_unit_test(test_gossip_max_payload),
	    cmocka_unit_test(test_gossip_bad),
	    cmocka_unit_test(test_ping_pong_roundtrip),
	    cmocka_unit_test(test_ids_roundtrip),
	    cmocka_unit_test(test_ids_bad),
	    cmocka_unit_test(test_error_roundtrip),
	    cmocka_unit_test(test_error_bad),
	    cmocka_unit_test(test_frame_check_prefixes),
	    cmocka_unit_test(test_frame_check_bad_header),
	    cmocka_unit_test(test_truncated_bodies),
	    cmocka_unit_test(test_trailing_bytes),
	    cmocka_unit_test(test_ping_carrying_ids),
	    cmocka_unit_test(test_bad_address),
	    cmocka_unit_test(test_random_garbage),
	    cmocka_unit_test(test_random_mutations),
	    cmocka_unit_test(test_message_id),
	    cmocka_unit_test(test_members_req_roundtrip),
	    cmocka_unit_test(test_members_at_the_cap),
	    cmocka_unit_test(test_members_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
