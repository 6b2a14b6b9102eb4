/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the peer core's frame path behind one link, in each state a link can be in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/peer.h"
#include "fuzzenv.h"

/* The input's layout is FUZZ_PEER_* in fuzzdefs.h: a mode byte, then the link's byte stream. */

/* After the stream ends, the clock runs on this long (ticks, pings, expiries). */
#define TAIL_USEC (12 * USEC_PER_SEC)
#define FAKE_CERT_TEXT "fuzz certificate of the neighbours"

/* Set up once: the keys and the certificates the TLS mode shows. */
static EVP_PKEY *keys[2];
static uint8_t pubkeys[2][IDENTITY_KEY_LEN];
static struct identity self_id, remote_id, bystander_id;

struct peer_fuzz {
	struct fake_env fe;
	struct env_ops ops;
	struct peer_node n;
	struct fake_link *seed;
	uint8_t mode;
	bool tls;
};

static void
id_add_ip(struct identity *id, const char *text)
{
	struct node_addr a;

	if (node_addr_parse(text, &a) < 0)
		fuzz_fail("bad address %s", text);
	id->addrs[id->n_addrs].family = a.family;
	memcpy(id->addrs[id->n_addrs].addr, a.addr, sizeof(a.addr));
	id->n_addrs++;
}

static void
identity_setup(struct identity *id, const char *name, int key)
{
	memset(id, 0, sizeof(*id));
	memcpy(id->key, pubkeys[key], IDENTITY_KEY_LEN);
	id->has_key = true;
	snprintf(id->name, sizeof(id->name), "%s", name);
	id->not_after = FUZZ_REAL0 + 365 * 86400 * USEC_PER_SEC;
	id->cert = blob_new(FAKE_CERT_TEXT, sizeof(FAKE_CERT_TEXT));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (int i = 0; i < 2; i++) {
		size_t len = IDENTITY_KEY_LEN;
		if (!(keys[i] = fuzz_key(i)) ||
		    EVP_PKEY_get_raw_public_key(keys[i], pubkeys[i], &len) != 1)
			fuzz_fail("cannot make the Ed25519 keys");
	}
	identity_setup(&self_id, "fuzz self", 0);
	id_add_ip(&self_id, FUZZ_SELF_ADDR);
	identity_setup(&remote_id, "fuzz neighbours", 0);
	id_add_ip(&remote_id, FUZZ_REMOTE_ADDR);
	id_add_ip(&remote_id, FUZZ_DIALLED_ADDR);
	id_add_ip(&remote_id, FUZZ_ORIGIN_ADDR);
	id_add_ip(&remote_id, FUZZ_SEED_ADDR);
	identity_setup(&bystander_id, "fuzz bystander", 1);
	id_add_ip(&bystander_id, FUZZ_BYSTANDER_ADDR);
	return 0;
}

static int
op_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = 64;
	int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, keys[0]) == 1 &&
		 EVP_DigestSign(md, sig, &siglen, msg, len) == 1;

	EVP_MD_CTX_free(md);
	return ok ? 0 : -EIO;
}

/* The fake CA: FUZZ_CERT_MAGIC, an IPv4 address, a key number (fuzzdefs.h). */
static int
op_verify_cert(void *ctx, const uint8_t *der, size_t len, struct identity *ret,
	       const char **reason)
{
	memset(ret, 0, sizeof(*ret));
	if (len < FUZZ_CERT_MIN || der[0] != FUZZ_CERT_MAGIC || der[5] > 1) {
		*reason = "not a certificate of the fuzzing CA";
		return -EBADMSG;
	}
	ret->n_addrs = 1;
	ret->addrs[0].family = AF_INET;
	memcpy(ret->addrs[0].addr, der + 1, 4);
	memcpy(ret->key, pubkeys[der[5]], IDENTITY_KEY_LEN);
	ret->has_key = true;
	snprintf(ret->name, sizeof(ret->name), "fuzz %u.%u.%u.%u", der[1], der[2], der[3], der[4]);
	ret->not_after = FUZZ_REAL0 + 365 * 86400 * USEC_PER_SEC;
	ret->cert = blob_new(der, len);
	return 0;
}

/* The peer, started and connected to its seed (which has REGISTER). */
static void
start(struct peer_fuzz *t)
{
	struct node_addr self = addr(FUZZ_SELF_ADDR), seed = addr(FUZZ_SEED_ADDR);
	struct gossip_config cfg;

	fake_env_init(&t->fe);
	t->ops = fake_env_ops;
	t->ops.sign = op_sign;
	t->ops.verify_cert = op_verify_cert;
	t->fe.env.ops = &t->ops;
	conf_init(&cfg);
	cfg.n_seeds = 1;
	cfg.seeds = xcalloc(1, sizeof(*cfg.seeds));
	cfg.seeds[0] = seed;
	cfg.peer.seen_cache_size = 1024;
	cfg.peer.resend_cache_size = 1024 * 1024;
	peer_node_init(&t->n, &cfg, &self, 1, &t->fe.env);
	conf_free(&cfg);
	if (t->tls)
		peer_node_set_security(&t->n, &self_id, true);
	peer_node_start(&t->n, t->fe.now);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono);
	t->seed = fake_link_to(&t->fe, &seed, LINK_SEED);
	if (!t->seed || !t->seed->lk)
		fuzz_fail("the peer did not dial its seed");
	if (t->tls)
		t->seed->lk->identity = &remote_id;
	fake_peer_connected(&t->fe, &t->n, t->seed);
}

/* A frame the harness sends itself: it must be taken. */
static void
give(struct peer_fuzz *t, struct fake_link *fl, struct buf *b)
{
	if (!fl->lk || fake_peer_frame(&t->fe, &t->n, fl, b) != 0 || fl->closed)
		fuzz_fail("the set-up frame was refused: %s", t->fe.last_reason);
}

/* The seed lists this peer, and one more to dial when with_dialled. */
static void
registered(struct peer_fuzz *t, bool with_dialled)
{
	struct node_addr list[2] = {addr(FUZZ_SELF_ADDR), addr(FUZZ_DIALLED_ADDR)};
	struct buf b = {0};

	wire_encode_peer_list(&b, list, with_dialled ? 2 : 1);
	give(t, t->seed, &b);
}

/* Another neighbour, which only listens: what the link under test sends on is forwarded to it. */
static void
bystander(struct peer_fuzz *t)
{
	struct node_addr a = addr(FUZZ_BYSTANDER_ADDR);
	struct fake_link *fl = fake_peer_accept(&t->fe, &t->n, FUZZ_BYSTANDER_DESC);
	struct buf b = {0};

	if (!fl->lk)
		fuzz_fail("the peer refused a connection");
	if (t->tls)
		fl->lk->identity = &bystander_id;
	wire_encode_hello(&b, WIRE_ROLE_PEER, &a, 43);
	give(t, fl, &b);
}

/* The link the input's stream arrives on, in the state the mode byte says. */
static struct fake_link *
link_under_test(struct peer_fuzz *t)
{
	enum fuzz_peer_link which = t->mode & FUZZ_PEER_LINK_MASK;
	struct node_addr remote = addr(FUZZ_REMOTE_ADDR), dialled = addr(FUZZ_DIALLED_ADDR);
	struct fake_link *fl;
	struct buf b = {0};

	if (which == FUZZ_PEER_SEED)
		return t->seed;
	registered(t, which == FUZZ_PEER_OUTBOUND);
	bystander(t);
	if (which == FUZZ_PEER_OUTBOUND) {
		fl = fake_link_to(&t->fe, &dialled, LINK_NEIGHBOUR);
		if (!fl || !fl->lk)
			fuzz_fail("the peer did not dial the listed peer");
		if (t->tls)
			fl->lk->identity = &remote_id;
		fake_peer_connected(&t->fe, &t->n, fl);
		return fl;
	}
	fl = fake_peer_accept(&t->fe, &t->n, FUZZ_REMOTE_DESC);
	if (!fl->lk)
		fuzz_fail("the peer refused a connection");
	if (t->tls)
		fl->lk->identity = &remote_id;
	if (which == FUZZ_PEER_INBOUND) {
		wire_encode_hello(&b, WIRE_ROLE_PEER, &remote, 42);
		give(t, fl, &b);
	}
	return fl;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/*
 * FUZZ_PEER_FIX: a GOSSIP frame is made to pass the checks a mutation would
 * fail at once: its timestamp moved into the window, its id computed, and,
 * with TLS, its signature made with the key every certificate here has.
 */
static void
fix_gossip(struct peer_fuzz *t, uint8_t *frame, size_t len)
{
	const uint64_t window = 500 * USEC_PER_SEC, now = t->fe.now.real;
	const char *reason;
	struct wire_msg m;
	size_t at;

	if (frame[3] != WIRE_GOSSIP || wire_decode(frame, len, &m, &reason) < 0)
		return;
	at = WIRE_HDR_LEN + WIRE_ID_LEN + (m.gossip.origin.family == AF_INET6 ? 19 : 7);
	if (m.gossip.timestamp > now + USEC_PER_SEC || m.gossip.timestamp + window < now) {
		m.gossip.timestamp = now - m.gossip.timestamp % window;
		put64(frame + at, m.gossip.timestamp);
	}
	if (wire_message_id(&m.gossip.origin, m.gossip.timestamp, m.gossip.seq, m.gossip.payload,
			    m.gossip.len, frame + WIRE_HDR_LEN) < 0)
		fuzz_fail("cannot compute a message id");
	if (t->tls && m.gossip.sig_len &&
	    !fuzz_sign(keys[0], frame + WIRE_HDR_LEN, frame + (m.gossip.sig - frame)))
		fuzz_fail("cannot sign");
}

/* One frame of the stream on fl; false once the link is gone (closed by either side). */
static bool
feed(struct peer_fuzz *t, struct fake_link *fl, uint8_t *frame, size_t len, bool last)
{
	const char *reason = NULL;
	int r;

	if (fuzz_over_limit(fl->lk, len)) {
		fake_peer_closed(&t->fe, &t->n, fl, "frame over this connection's size limit",
				 EBADMSG);
		return false;
	}
	if (t->mode & FUZZ_PEER_FIX)
		fix_gossip(t, frame, len);
	if (t->mode & FUZZ_PEER_NOT_LAST)
		last = false;
	r = peer_node_frame(&t->n, fl->lk, frame, len, last, t->fe.now, &reason);
	fuzz_check_verdict(r, reason);
	if (r == -EBADMSG) {
		/* The environment closes the link and says so, as conn does. */
		if (!fl->closed)
			fake_peer_closed(&t->fe, &t->n, fl, reason, EBADMSG);
		return false;
	}
	return !fl->closed;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *reason;
	struct peer_fuzz *t;
	struct fuzz_stream s;
	struct fake_link *fl;
	uint8_t *frame;
	uint64_t step;
	size_t len;

	if (size < 1)
		return 0;
	t = xcalloc(1, sizeof(*t));
	t->mode = data[0];
	t->tls = t->mode & FUZZ_PEER_TLS;
	step = fuzz_steps[(t->mode >> FUZZ_PEER_STEP_SHIFT) & 7];
	start(t);
	fl = link_under_test(t);
	s = (struct fuzz_stream){data + 1, size - 1, NULL};
	while ((frame = fuzz_next_frame(&s, &len))) {
		bool open = feed(t, fl, frame, len, s.left < WIRE_HDR_LEN);
		free(frame);
		fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + step);
		if (!open || !fl->lk)
			break;
	}
	if (fl->lk && (reason = fuzz_stream_close_reason(&s, fl->lk)))
		fake_peer_closed(&t->fe, &t->n, fl, reason, EBADMSG);
	fake_peer_run_until(&t->fe, &t->n, t->fe.now.mono + TAIL_USEC);
	peer_node_free(&t->n);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}
