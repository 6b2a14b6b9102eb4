/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the seed core's frame path behind a client connection, or its own probe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/seed.h"
#include "fuzzenv.h"

/* The input's layout is FUZZ_SEED_* in fuzzdefs.h: a mode byte, then the link's byte stream. */

/* After the stream ends, the clock runs on this long: probe deadlines, lease expiry. */
#define TAIL_USEC (40 * USEC_PER_SEC)
/* Peers registered by other clients in FUZZ_SEED_FILLED. */
#define OTHERS 3

/* A client's certificate in FUZZ_SEED_CERT: the neighbour's IP only. */
static struct identity client_id;

struct seed_fuzz {
	struct fake_env fe;
	struct seed_node s;
	uint8_t mode;
	struct seed_probe *probe; /* FUZZ_SEED_PROBE: the probe under test */
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct node_addr a = addr(FUZZ_REMOTE_ADDR);

	client_id.n_addrs = 1;
	client_id.addrs[0].family = a.family;
	memcpy(client_id.addrs[0].addr, a.addr, sizeof(a.addr));
	snprintf(client_id.name, sizeof(client_id.name), "fuzz client");
	return 0;
}

static void
start(struct seed_fuzz *t)
{
	struct node_addr self = addr(FUZZ_SEED_ADDR);
	struct gossip_config cfg;

	fake_env_init(&t->fe);
	conf_init(&cfg);
	cfg.seed.max_peers = t->mode & FUZZ_SEED_SMALL ? 4 : 1000;
	if (t->mode & FUZZ_SEED_SAMPLE)
		cfg.seed.peer_list_size = 2;
	if ((t->mode & FUZZ_SEED_LINK_MASK) != FUZZ_SEED_PROBE && (t->mode & FUZZ_SEED_OPT))
		cfg.seed.confirm_dead = false;
	seed_node_init(&t->s, &cfg, &self, 1, &t->fe.env);
	conf_free(&cfg);
	seed_node_start(&t->s, t->fe.now);
}

/* A frame the harness sends itself on fl: it must be taken. */
static void
give(struct seed_fuzz *t, struct fake_link *fl, struct buf *b)
{
	if (!fl->lk || fake_seed_frame(&t->fe, &t->s, fl, b) != 0)
		fuzz_fail("the set-up frame was refused: %s", t->fe.last_reason);
}

static struct fake_link *
client(struct seed_fuzz *t, const char *desc)
{
	struct fake_link *fl = fake_seed_accept(&t->fe, &t->s, desc);

	if (!fl->lk)
		fuzz_fail("the seed refused a connection");
	return fl;
}

/* Peers registered by another client, which then goes away. */
static void
others_register(struct seed_fuzz *t)
{
	struct fake_link *fl = client(t, "127.0.3.1:40000");
	struct buf b = {0};
	char text[32];

	for (int i = 0; i < OTHERS; i++) {
		snprintf(text, sizeof(text), "127.0.3.%d:6000", i + 1);
		struct node_addr a = addr(text);
		wire_encode_addr_msg(&b, WIRE_REGISTER, &a);
		give(t, fl, &b);
	}
	fake_seed_closed(&t->fe, &t->s, fl, "closed by remote", 0);
}

/* FUZZ_SEED_PROBE: a client registers a peer and reports it dead; the seed's probe connects. */
static struct fake_link *
probe_link(struct seed_fuzz *t)
{
	struct node_addr target = addr(FUZZ_PROBED_ADDR), reporter = addr(FUZZ_REMOTE_ADDR);
	struct fake_link *fl = client(t, FUZZ_REMOTE_DESC), *probe;
	struct buf b = {0};

	wire_encode_addr_msg(&b, WIRE_REGISTER, &target);
	give(t, fl, &b);
	wire_encode_dead_report(&b, &target, t->fe.now.real / USEC_PER_SEC, &reporter);
	give(t, fl, &b);
	probe = fake_link_to(&t->fe, &target, LINK_PROBE);
	if (!probe || !probe->lk)
		fuzz_fail("the seed did not probe the reported peer");
	t->probe = probe->lk->owner;
	seed_node_connected(&t->s, probe->lk, t->fe.now);
	return probe;
}

/* The link the input's stream arrives on, in the state the mode byte says. */
static struct fake_link *
link_under_test(struct seed_fuzz *t)
{
	struct fake_link *fl;

	switch (t->mode & FUZZ_SEED_LINK_MASK) {
	case FUZZ_SEED_PROBE:
		return probe_link(t);
	case FUZZ_SEED_FILLED:
		others_register(t);
		return client(t, FUZZ_REMOTE_DESC);
	case FUZZ_SEED_CERT:
		fl = client(t, FUZZ_REMOTE_DESC);
		fl->lk->identity = &client_id;
		return fl;
	default:
		return client(t, FUZZ_REMOTE_DESC);
	}
}

/* FUZZ_SEED_OPT on the probe: a PONG carries the probe's nonce, as the probed peer's would. */
static void
fix_pong(struct seed_fuzz *t, struct fake_link *fl, uint8_t *frame, size_t len)
{
	if (!(t->mode & FUZZ_SEED_OPT) || (t->mode & FUZZ_SEED_LINK_MASK) != FUZZ_SEED_PROBE ||
	    frame[3] != WIRE_PONG || len != WIRE_HDR_LEN + 8 || !fl->lk)
		return;
	for (int i = 0; i < 8; i++)
		frame[WIRE_HDR_LEN + i] = (uint8_t)(t->probe->nonce >> (56 - 8 * i));
}

/* One frame on fl; false once the link is gone. */
static bool
feed(struct seed_fuzz *t, struct fake_link *fl, uint8_t *frame, size_t len)
{
	const char *reason = NULL;
	int r;

	if (fuzz_over_limit(fl->lk, len)) {
		fake_seed_closed(&t->fe, &t->s, fl, "frame over this connection's size limit",
				 EBADMSG);
		return false;
	}
	fix_pong(t, fl, frame, len);
	r = seed_node_frame(&t->s, fl->lk, frame, len, t->fe.now, &reason);
	fuzz_check_verdict(r, reason);
	if (r == -EBADMSG) {
		if (!fl->closed)
			fake_seed_closed(&t->fe, &t->s, fl, reason, EBADMSG);
		return false;
	}
	return !fl->closed;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *reason;
	struct seed_fuzz *t;
	struct fuzz_stream s;
	struct fake_link *fl;
	uint8_t *frame;
	uint64_t step;
	size_t len;

	if (size < 1)
		return 0;
	t = xcalloc(1, sizeof(*t));
	t->mode = data[0];
	step = fuzz_steps[(t->mode >> FUZZ_SEED_STEP_SHIFT) & 7];
	start(t);
	fl = link_under_test(t);
	s = (struct fuzz_stream){data + 1, size - 1, NULL};
	while ((frame = fuzz_next_frame(&s, &len))) {
		bool open = feed(t, fl, frame, len);
		free(frame);
		fake_seed_run_until(&t->fe, &t->s, t->fe.now.mono + step);
		if (!open || !fl->lk)
			break;
	}
	if (fl->lk && (reason = fuzz_stream_close_reason(&s, fl->lk)))
		fake_seed_closed(&t->fe, &t->s, fl, reason, EBADMSG);
	fake_seed_run_until(&t->fe, &t->s, t->fe.now.mono + TAIL_USEC);
	seed_node_free(&t->s);
	fake_env_free(&t->fe);
	free(t);
	return 0;
}
