/* SPDX-License-Identifier: MIT */
/* Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/): valid and edge cases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "core/ctl.h"
#include "core/util.h"
#include "core/wire.h"
#include "fuzzdefs.h"

static const char *top; /* the corpus directory */
static EVP_PKEY *key0;

/* Writes b (emptied) as top/target/name. */
static void
out(const char *target, const char *name, struct buf *b)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", top, target, name);
	if (!(f = fopen(path, "wb")) || fwrite(b->data, 1, b->len, f) != b->len || fclose(f)) {
		perror(path);
		exit(1);
	}
	buf_free(b);
}

static struct node_addr
A(const char *text)
{
	struct node_addr a;

	if (node_addr_parse(text, &a) < 0) {
		fprintf(stderr, "mkcorpus: bad address %s\n", text);
		exit(1);
	}
	return a;
}

/* A GOSSIP frame of text from origin, signed with key 0 when sign, its id in id (may be NULL). */
static void
gossip(struct buf *b, const char *origin, uint64_t ts, uint64_t seq, const char *text, bool sign,
       uint8_t *id_out)
{
	struct node_addr o = A(origin);
	uint8_t id[WIRE_ID_LEN], sig[WIRE_SIG_LEN];

	if (wire_message_id(&o, ts, seq, (const uint8_t *)text, strlen(text), id) < 0 ||
	    (sign && !fuzz_sign(key0, id, sig)))
		exit(1);
	wire_encode_gossip_signed(b, id, &o, ts, seq, sign ? sig : NULL, (const uint8_t *)text,
				  (uint32_t)strlen(text));
	if (id_out)
		memcpy(id_out, id, WIRE_ID_LEN);
}

static void
hello(struct buf *b, uint8_t role, const char *a)
{
	struct node_addr x = A(a);

	wire_encode_hello(b, role, &x, 42);
}

static void
addr_msg(struct buf *b, uint8_t type, const char *a)
{
	struct node_addr x = A(a);

	wire_encode_addr_msg(b, type, &x);
}

static void
dead_report(struct buf *b, const char *dead, const char *reporter)
{
	struct node_addr d = A(dead), r = A(reporter);

	wire_encode_dead_report(b, &d, FUZZ_REAL0 / USEC_PER_SEC, &r);
}

/* A fake certificate for fuzz_peer's CA (fuzzdefs.h) listing ip, with key `key`. */
static void
fake_cert(struct buf *b, const char *ip, uint8_t key)
{
	struct node_addr a = A(ip);
	uint8_t der[16] = {FUZZ_CERT_MAGIC};

	memcpy(der + 1, a.addr, 4);
	der[5] = key;
	memcpy(der + 6, "fuzz cert", 9);
	wire_encode_cert(b, der, 15);
}

/* fuzz_wire: one valid frame of each type, IPv6, a stream of several, and broken ones. */
static void
wire_corpus(void)
{
	struct node_addr list[3] = {A("127.0.0.1:6000"), A("[::1]:6001"), A("127.0.2.2:6000")};
	uint8_t ids[3 * WIRE_ID_LEN], der[40];
	struct buf b = {0};

	memset(ids, 0xab, sizeof(ids));
	memset(der, 0x30, sizeof(der));
	hello(&b, WIRE_ROLE_PEER, "127.0.2.1:6000");
	out("fuzz_wire", "hello", &b);
	hello(&b, WIRE_ROLE_SEED, "[::1]:5000");
	out("fuzz_wire", "hello-seed-v6", &b);
	addr_msg(&b, WIRE_REGISTER, "127.0.2.1:6000");
	out("fuzz_wire", "register", &b);
	wire_encode_empty(&b, WIRE_PEER_LIST_REQ);
	out("fuzz_wire", "peer-list-req", &b);
	wire_encode_peer_list(&b, list, 3);
	out("fuzz_wire", "peer-list", &b);
	wire_encode_peer_list(&b, list, 0);
	out("fuzz_wire", "peer-list-empty", &b);
	dead_report(&b, "127.0.2.5:6000", "[::1]:6000");
	out("fuzz_wire", "dead-report", &b);
	addr_msg(&b, WIRE_LEAVE, "127.0.2.1:6000");
	out("fuzz_wire", "leave", &b);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "hello, world", false, NULL);
	out("fuzz_wire", "gossip", &b);
	gossip(&b, "[::1]:6000", FUZZ_REAL0, 2, "signed", true, NULL);
	out("fuzz_wire", "gossip-signed-v6", &b);
	wire_encode_nonce(&b, WIRE_PING, 0x0102030405060708ULL);
	wire_encode_nonce(&b, WIRE_PONG, 0x0102030405060708ULL);
	out("fuzz_wire", "ping-pong", &b);
	wire_encode_error(&b, WIRE_ERR_DUPLICATE, "already connected\x01\xff");
	out("fuzz_wire", "error", &b);
	wire_encode_ids(&b, WIRE_IHAVE, ids, 3);
	wire_encode_ids(&b, WIRE_GRAFT, ids, 1);
	wire_encode_empty(&b, WIRE_PRUNE);
	out("fuzz_wire", "tree", &b);
	wire_encode_cert(&b, der, sizeof(der));
	addr_msg(&b, WIRE_CERT_REQ, FUZZ_STRANGER_ADDR);
	out("fuzz_wire", "cert", &b);
	{
		struct node_addr t4 = A("127.0.2.5:6000"), t6 = A("[::1]:6001");
		hello(&b, WIRE_ROLE_PROBE, "127.0.2.1:6000");
		wire_encode_ping_req(&b, 0x1122334455667788ULL, &t4);
		wire_encode_ping_ack(&b, 0x1122334455667788ULL, true, &t4);
		wire_encode_ping_ack(&b, 5, false, &t6);
		out("fuzz_wire", "probe", &b);
	}
	{
		struct wire_ae_bucket v[2] = {{170000000, 2, 0x0102030405060708ULL}, {170000004, 1, 9}};
		wire_encode_ae_summary(&b, WIRE_AE_TOTAL, 170000000, 170000050, v, 1);
		wire_encode_ae_summary(&b, WIRE_AE_DETAIL, 170000000, 170000050, v, 2);
		v[1].count = 0;
		wire_encode_ae_summary(&b, WIRE_AE_WANT, 170000000, 170000050, v, 2);
		wire_encode_ids(&b, WIRE_AE_IDS, ids, 2);
		out("fuzz_wire", "anti-entropy", &b);
	}
	{
		struct wire_member v[2] = {{A("127.0.2.1:6000"), WIRE_MEMBER_ALIVE, 7, 1500, 60},
					   {A("[::1]:6001"), WIRE_MEMBER_SUSPECT, 0, 20, 3}};
		wire_encode_members_req(&b, NULL);
		wire_encode_members(&b, 3, true, v, 2);
		wire_encode_members_req(&b, &v[1].addr);
		wire_encode_members(&b, 3, false, v, 0);
		out("fuzz_wire", "members", &b);
	}
	/* A frame cut short, and one with bytes after its body. */
	hello(&b, WIRE_ROLE_PEER, "127.0.2.1:6000");
	b.len -= 3;
	out("fuzz_wire", "truncated", &b);
	wire_encode_nonce(&b, WIRE_PING, 1);
	b.data[7]++;
	buf_put_u8(&b, 0);
	out("fuzz_wire", "trailing", &b);
}

/* A RECORD with a field of every kind. */
static void
record(struct buf *b)
{
	struct ctl_record r;

	ctl_record_begin(&r, b);
	ctl_record_str(&r, "node", "127.0.1.1:6000");
	ctl_record_u64(&r, "pid", 1234);
	ctl_record_i64(&r, "delta", -5);
	ctl_record_bool(&r, "up", true);
	ctl_record_double(&r, "rtt_ms", -1.0);
	ctl_record_end(&r);
}

/* fuzz_ctl and fuzz_control: requests, replies and broken frames. */
static void
ctl_corpus(void)
{
	static const char *const targets[] = {"fuzz_ctl", "fuzz_control"};
	struct buf b = {0};

	for (int i = 0; i < 2; i++) {
		const char *t = targets[i];
		ctl_encode_request(&b, CTL_STATUS, NULL, 0);
		out(t, "status", &b);
		ctl_encode_request(&b, CTL_PEERS, NULL, 0);
		out(t, "peers", &b);
		ctl_encode_request(&b, CTL_STATS, NULL, 0);
		out(t, "stats", &b);
		ctl_encode_tail(&b, false, 10);
		out(t, "tail", &b);
		ctl_encode_tail(&b, true, 1);
		out(t, "tail-follow", &b);
		ctl_encode_request(&b, CTL_SEND, (const uint8_t *)"hello", 5);
		out(t, "send", &b);
		ctl_encode_request(&b, CTL_SEND, NULL, 0);
		out(t, "send-empty", &b);
		ctl_encode_request(&b, CTL_STATUS, NULL, 0);
		ctl_encode_request(&b, CTL_PEERS, NULL, 0);
		ctl_encode_request(&b, CTL_SEND, (const uint8_t *)"x", 1);
		ctl_encode_tail(&b, false, 100);
		out(t, "pipelined", &b);
		ctl_encode_request(&b, CTL_TAIL, (const uint8_t *)"\x02\0\0\0\1", 5);
		out(t, "tail-malformed", &b);
		record(&b);
		ctl_encode_end(&b, CTL_OK, "sent");
		out(t, "record-end", &b);
		ctl_encode_end(&b, CTL_ERR_PROTOCOL, "malformed request: \x01\x7f");
		out(t, "end-unprintable", &b);
		buf_append(&b, "GC\x02\x02\0\0\0\0", 8);
		out(t, "bad-version", &b);
	}
}

static void
ids_msg(struct buf *b, uint8_t type, const uint8_t *id1, const uint8_t *id2)
{
	uint8_t ids[2 * WIRE_ID_LEN];

	memcpy(ids, id1, WIRE_ID_LEN);
	if (id2)
		memcpy(ids + WIRE_ID_LEN, id2, WIRE_ID_LEN);
	wire_encode_ids(b, type, ids, id2 ? 2 : 1);
}

static uint8_t
peer_mode(int link, int flags, int step)
{
	return (uint8_t)(link | flags | step << FUZZ_PEER_STEP_SHIFT);
}

/* fuzz_peer on a pending link, and on its seed session. */
static void
peer_pending_and_seed(void)
{
	struct node_addr list[4] = {A(FUZZ_SELF_ADDR), A(FUZZ_DIALLED_ADDR), A(FUZZ_REMOTE_ADDR),
				    A("[::1]:6000")};
	struct buf b = {0};

	buf_put_u8(&b, peer_mode(FUZZ_PEER_PENDING, 0, 3));
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "hello", false, NULL);
	wire_encode_nonce(&b, WIRE_PING, 9);
	out("fuzz_peer", "pending-hello-gossip", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_PENDING, 0, 5));
	hello(&b, WIRE_ROLE_SEED, FUZZ_SEED_ADDR);
	wire_encode_nonce(&b, WIRE_PING, 7);
	wire_encode_nonce(&b, WIRE_PING, 8);
	out("fuzz_peer", "pending-probe", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_PENDING, 0, 5));
	hello(&b, WIRE_ROLE_PROBE, FUZZ_DIALLED_ADDR);
	wire_encode_nonce(&b, WIRE_PING, 6);
	out("fuzz_peer", "pending-peer-probe", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_PENDING, 0, 0));
	hello(&b, WIRE_ROLE_PEER, FUZZ_SELF_ADDR);
	out("fuzz_peer", "pending-hello-self", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_PENDING, FUZZ_PEER_TLS, 0));
	hello(&b, WIRE_ROLE_PEER, "127.0.7.7:6000");
	out("fuzz_peer", "pending-tls-claim", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_PENDING, 0, 7));
	wire_encode_nonce(&b, WIRE_PING, 1);
	out("fuzz_peer", "pending-not-hello", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_SEED, 0, 3));
	wire_encode_peer_list(&b, list, 4);
	wire_encode_nonce(&b, WIRE_PING, 5);
	wire_encode_error(&b, WIRE_ERR_FULL, "seed registry full");
	out("fuzz_peer", "seed-list", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_SEED, 0, 6));
	wire_encode_peer_list(&b, list, 1);
	wire_encode_peer_list(&b, list, 2);
	out("fuzz_peer", "seed-list-refresh", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_SEED, FUZZ_PEER_TLS, 0));
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "not for seeds", false, NULL);
	out("fuzz_peer", "seed-unexpected", &b);
}

/* fuzz_peer on an inbound neighbour: messages, the broadcast tree, liveness, errors. */
static void
peer_inbound(void)
{
	uint8_t m1[WIRE_ID_LEN], m3[WIRE_ID_LEN], x[WIRE_ID_LEN];
	struct buf b = {0}, tmp = {0};

	memset(x, 0x5a, sizeof(x));
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 3));
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "first", false, m1);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "first", false, NULL);
	gossip(&b, "[::1]:6000", FUZZ_REAL0 + 1, 2, "second", false, NULL);
	ids_msg(&b, WIRE_IHAVE, m1, x);
	ids_msg(&b, WIRE_GRAFT, m1, NULL);
	wire_encode_empty(&b, WIRE_PRUNE);
	wire_encode_nonce(&b, WIRE_PING, 3);
	wire_encode_nonce(&b, WIRE_PONG, 3);
	out("fuzz_peer", "inbound-gossip-tree", &b);
	/* An announced message that comes after its GRAFT. */
	gossip(&tmp, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 3, "announced", false, m3);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 5));
	ids_msg(&b, WIRE_IHAVE, m3, NULL);
	wire_encode_nonce(&b, WIRE_PING, 4);
	buf_append(&b, tmp.data, tmp.len);
	buf_free(&tmp);
	out("fuzz_peer", "inbound-ihave-graft", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 1));
	wire_encode_error(&b, WIRE_ERR_DUPLICATE, "already connected");
	wire_encode_error(&b, 99, "something else");
	wire_encode_error(&b, WIRE_ERR_REFUSED, "peer is leaving");
	out("fuzz_peer", "inbound-errors", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 2));
	addr_msg(&b, WIRE_LEAVE, FUZZ_REMOTE_ADDR);
	out("fuzz_peer", "inbound-leave", &b);
	{
		/* Probes asked of us (one about a neighbour, one about another), and answers. */
		struct node_addr by = A(FUZZ_BYSTANDER_ADDR), st = A(FUZZ_STRANGER_ADDR);
		buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 6));
		wire_encode_ping_req(&b, 21, &by);
		wire_encode_ping_req(&b, 22, &st);
		wire_encode_ping_ack(&b, 21, true, &by);
		wire_encode_ping_ack(&b, 23, false, &st);
		out("fuzz_peer", "inbound-probes", &b);
	}
	{
		/* Anti-entropy with a message to compare: every stage, then ids to fetch. */
		uint32_t first = (uint32_t)((FUZZ_REAL0 - 600 * USEC_PER_SEC) / (WIRE_AE_BUCKET_SEC * USEC_PER_SEC));
		uint32_t last = (uint32_t)(FUZZ_REAL0 / (WIRE_AE_BUCKET_SEC * USEC_PER_SEC)) - 2;
		uint32_t mb = (uint32_t)((FUZZ_REAL0 - 100 * USEC_PER_SEC) / (WIRE_AE_BUCKET_SEC * USEC_PER_SEC));
		struct wire_ae_bucket v[2] = {{first, 5, 77}, {mb, 2, 1}};
		buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 4));
		gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0 - 100 * USEC_PER_SEC, 1, "old", false, NULL);
		wire_encode_ae_summary(&b, WIRE_AE_TOTAL, first, last, v, 1);
		wire_encode_ae_summary(&b, WIRE_AE_DETAIL, first, last, v + 1, 1);
		wire_encode_ae_summary(&b, WIRE_AE_WANT, first, last, v + 1, 1);
		wire_encode_ids(&b, WIRE_AE_IDS, x, 1);
		out("fuzz_peer", "inbound-anti-entropy", &b);
	}
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, FUZZ_PEER_NOT_LAST, 7));
	wire_encode_nonce(&b, WIRE_PING, 1);
	wire_encode_nonce(&b, WIRE_PING, 2);
	out("fuzz_peer", "inbound-silent", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, FUZZ_PEER_FIX, 0));
	gossip(&b, FUZZ_ORIGIN_ADDR, 12345, 1, "an id to fix", false, NULL);
	b.data[WIRE_HDR_LEN + 1] ^= 0xff;
	out("fuzz_peer", "inbound-fix", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, 0, 0));
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	out("fuzz_peer", "inbound-hello-again", &b);
}

/* fuzz_peer with certificates: signed messages, parked ones, CERT and CERT_REQ. */
static void
peer_tls(void)
{
	struct buf b = {0};

	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, FUZZ_PEER_TLS, 2));
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "signed", true, NULL);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 2, "unsigned", false, NULL);
	gossip(&b, FUZZ_STRANGER_ADDR, FUZZ_REAL0, 1, "from a stranger", true, NULL);
	fake_cert(&b, FUZZ_STRANGER_ADDR, 0);
	addr_msg(&b, WIRE_CERT_REQ, FUZZ_ORIGIN_ADDR);
	addr_msg(&b, WIRE_CERT_REQ, FUZZ_STRANGER_ADDR);
	out("fuzz_peer", "inbound-tls-certs", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, FUZZ_PEER_TLS, 3));
	fake_cert(&b, FUZZ_ORIGIN_ADDR, 1);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 5, "old key", true, NULL);
	gossip(&b, "127.0.8.8:6000", FUZZ_REAL0, 1, "never proven", true, NULL);
	out("fuzz_peer", "inbound-tls-rotate-park", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_INBOUND, FUZZ_PEER_TLS | FUZZ_PEER_FIX, 0));
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 6, "bad signature, fixed", true, NULL);
	b.data[b.len - 30] ^= 1;
	out("fuzz_peer", "inbound-tls-fix", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_OUTBOUND, 0, 3));
	hello(&b, WIRE_ROLE_PEER, FUZZ_DIALLED_ADDR);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "outbound", false, NULL);
	wire_encode_nonce(&b, WIRE_PING, 11);
	out("fuzz_peer", "outbound-hello", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_OUTBOUND, FUZZ_PEER_TLS, 2));
	hello(&b, WIRE_ROLE_PEER, FUZZ_DIALLED_ADDR);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "outbound signed", true, NULL);
	out("fuzz_peer", "outbound-tls", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_OUTBOUND, 0, 4));
	wire_encode_error(&b, WIRE_ERR_DUPLICATE, "already connected");
	out("fuzz_peer", "outbound-duplicate", &b);
	buf_put_u8(&b, peer_mode(FUZZ_PEER_OUTBOUND, 0, 0));
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	out("fuzz_peer", "outbound-wrong-node", &b);
}

static uint8_t
seed_mode(int link, int flags, int step)
{
	return (uint8_t)(link | flags | step << FUZZ_SEED_STEP_SHIFT);
}

/* fuzz_seed: registrations, lists, reports, leaves, probes, certificates. */
static void
seed_corpus(void)
{
	struct buf b = {0};

	buf_put_u8(&b, seed_mode(FUZZ_SEED_CLIENT, 0, 1));
	addr_msg(&b, WIRE_REGISTER, FUZZ_REMOTE_ADDR);
	wire_encode_empty(&b, WIRE_PEER_LIST_REQ);
	wire_encode_nonce(&b, WIRE_PING, 1);
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	wire_encode_error(&b, WIRE_ERR_PROTOCOL, "bad frame");
	addr_msg(&b, WIRE_LEAVE, FUZZ_REMOTE_ADDR);
	out("fuzz_seed", "register-leave", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_CLIENT, 0, 0));
	addr_msg(&b, WIRE_REGISTER, "[::1]:6000");
	addr_msg(&b, WIRE_REGISTER, "0.0.0.0:6000");
	out("fuzz_seed", "register-unspecified", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_CLIENT, 0, 3));
	addr_msg(&b, WIRE_REGISTER, FUZZ_PROBED_ADDR);
	dead_report(&b, FUZZ_PROBED_ADDR, FUZZ_REMOTE_ADDR);
	dead_report(&b, FUZZ_PROBED_ADDR, FUZZ_REMOTE_ADDR);
	dead_report(&b, "127.0.9.1:6000", FUZZ_REMOTE_ADDR);
	out("fuzz_seed", "dead-report-probe", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_CLIENT, FUZZ_SEED_OPT, 0));
	addr_msg(&b, WIRE_REGISTER, FUZZ_PROBED_ADDR);
	dead_report(&b, FUZZ_PROBED_ADDR, FUZZ_REMOTE_ADDR);
	out("fuzz_seed", "dead-report-unconfirmed", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_CERT, 0, 0));
	addr_msg(&b, WIRE_REGISTER, FUZZ_REMOTE_ADDR);
	dead_report(&b, FUZZ_PROBED_ADDR, "127.0.7.7:6000");
	addr_msg(&b, WIRE_LEAVE, "127.0.7.7:6000");
	addr_msg(&b, WIRE_REGISTER, "127.0.7.7:6000");
	out("fuzz_seed", "cert-claims", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_PROBE, FUZZ_SEED_OPT, 0));
	hello(&b, WIRE_ROLE_PEER, FUZZ_PROBED_ADDR);
	wire_encode_nonce(&b, WIRE_PONG, 0);
	out("fuzz_seed", "probe-pong", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_PROBE, 0, 6));
	wire_encode_nonce(&b, WIRE_PONG, 12345);
	wire_encode_nonce(&b, WIRE_PING, 1);
	out("fuzz_seed", "probe-wrong-nonce", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_FILLED, FUZZ_SEED_SAMPLE, 2));
	wire_encode_empty(&b, WIRE_PEER_LIST_REQ);
	dead_report(&b, "127.0.3.1:6000", FUZZ_REMOTE_ADDR);
	addr_msg(&b, WIRE_LEAVE, "127.0.3.2:6000");
	out("fuzz_seed", "filled", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_FILLED, FUZZ_SEED_SMALL, 0));
	addr_msg(&b, WIRE_REGISTER, FUZZ_REMOTE_ADDR);
	addr_msg(&b, WIRE_REGISTER, "127.0.2.6:6000");
	out("fuzz_seed", "filled-full", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_CLIENT, 0, 7));
	addr_msg(&b, WIRE_REGISTER, FUZZ_REMOTE_ADDR);
	wire_encode_empty(&b, WIRE_PEER_LIST_REQ);
	out("fuzz_seed", "lease-expiry", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_FILLED, 0, 1));
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	addr_msg(&b, WIRE_REGISTER, FUZZ_REMOTE_ADDR);
	dead_report(&b, "127.0.3.1:6000", FUZZ_REMOTE_ADDR);
	wire_encode_members_req(&b, NULL);
	{
		struct node_addr after = A("127.0.3.1:6000");
		wire_encode_members_req(&b, &after);
	}
	out("fuzz_seed", "members", &b);
	buf_put_u8(&b, seed_mode(FUZZ_SEED_CLIENT, 0, 0));
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "not for seeds", false, NULL);
	out("fuzz_seed", "unexpected-gossip", &b);
}

/* The first flight of an OpenSSL client: its ClientHello (TLS 1.3, or at most 1.2). */
static void
client_hello(struct buf *b, bool tls13)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
	SSL *ssl;
	char *p;
	long n;

	if (!ctx || !rb || !wb)
		exit(1);
	SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	if (!(ssl = SSL_new(ctx)))
		exit(1);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	if (SSL_do_handshake(ssl) == 1 || (n = BIO_get_mem_data(wb, &p)) <= 0) {
		fprintf(stderr, "mkcorpus: no ClientHello\n");
		exit(1);
	}
	buf_append(b, p, (size_t)n);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

/* fuzz_tls: real ClientHellos in either mode, plaintext frames, broken records. */
static void
tls_corpus(void)
{
	struct buf b = {0};

	buf_put_u8(&b, 0);
	client_hello(&b, true);
	out("fuzz_tls", "clienthello-required", &b);
	buf_put_u8(&b, FUZZ_TLS_OPTIONAL);
	client_hello(&b, true);
	out("fuzz_tls", "clienthello-optional", &b);
	buf_put_u8(&b, 0);
	client_hello(&b, false);
	out("fuzz_tls", "clienthello-tls12", &b);
	buf_put_u8(&b, 0);
	client_hello(&b, true);
	b.len = 60;
	out("fuzz_tls", "clienthello-truncated", &b);
	buf_put_u8(&b, 0);
	client_hello(&b, true);
	buf_append(&b, "\x17\x03\x03\x00\x05hello", 10);
	out("fuzz_tls", "clienthello-appdata", &b);
	buf_put_u8(&b, FUZZ_TLS_OPTIONAL);
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	wire_encode_nonce(&b, WIRE_PING, 1);
	out("fuzz_tls", "plaintext-optional", &b);
	buf_put_u8(&b, 0);
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	out("fuzz_tls", "plaintext-required", &b);
	/* After a real handshake, frames as application data. */
	buf_put_u8(&b, FUZZ_TLS_HANDSHAKE);
	hello(&b, WIRE_ROLE_PEER, FUZZ_REMOTE_ADDR);
	gossip(&b, FUZZ_ORIGIN_ADDR, FUZZ_REAL0, 1, "over TLS", true, NULL);
	wire_encode_nonce(&b, WIRE_PING, 1);
	out("fuzz_tls", "handshake-frames", &b);
	buf_put_u8(&b, FUZZ_TLS_HANDSHAKE | FUZZ_TLS_OPTIONAL);
	wire_encode_nonce(&b, WIRE_PING, 2);
	buf_append(&b, "GS\x02\x01\xff\xff\xff\xff", 8);
	out("fuzz_tls", "handshake-bad-frame", &b);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR\n");
		return 2;
	}
	top = argv[1];
	if (mkdir(top, 0755) < 0 && errno != EEXIST) {
		perror(top);
		return 1;
	}
	if (!(key0 = fuzz_key(0)))
		return 1;
	wire_corpus();
	ctl_corpus();
	peer_pending_and_seed();
	peer_inbound();
	peer_tls();
	seed_corpus();
	tls_corpus();
	EVP_PKEY_free(key0);
	return 0;
}
