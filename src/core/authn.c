/* SPDX-License-Identifier: MIT */
/*
 * Origin authenticity. With TLS, every broadcast is signed by its origin
 * (Ed25519, the key of the origin's certificate), and every peer checks the
 * signature before it delivers or forwards a message: a relay cannot alter a
 * message or forge its origin. A peer learns an origin's key from the
 * origin's certificate, verified against the cluster CA like a TLS peer's:
 * a neighbour's from the TLS handshake; any other's from the neighbour that
 * forwards its first message, which sends the certificate (CERT) just
 * before, once per origin and link. A message whose origin's certificate a
 * peer still lacks waits (at most PARK_MAX messages, PARK_USEC each) while
 * it asks the sender for it (CERT_REQ).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_int.h"

/* Messages waiting for a certificate, at most, and for how long. */
#define PARK_MAX 1024
#define PARK_USEC (5 * USEC_PER_SEC)
/* CERT_REQs of one neighbour answered per tick, at most: a request is small, a certificate not. */
#define CERT_ANSWERS_PER_TICK 64

struct parked_msg {
	struct blob *frame;
	uint32_t from_serial;
	struct node_addr from;
	uint64_t at;
};

void
authn_log(struct peer_node *n, int prio, const char *fmt, ...)
{
	char msg[768], more[64] = "";
	uint64_t suppressed;
	va_list ap;

	if (!ratelimit_pass(&n->authn_log, n->now, &suppressed))
		return;
	if (suppressed)
		snprintf(more, sizeof(more), " (%llu similar lines suppressed)",
			 (unsigned long long)suppressed);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	peer_log(n, prio, "%s%s", msg, more);
}

void
authn_init(struct peer_node *n)
{
	keyring_init(&n->keyring, n->cfg.peer.key_cache_size, rng_next(&n->rng), rng_next(&n->rng));
	ring_init(&n->parked, sizeof(struct parked_msg));
	addr_set_init(&n->cert_asked, rng_next(&n->rng), rng_next(&n->rng));
}

static void
drop_parked(struct peer_node *n)
{
	struct parked_msg *p;

	while ((p = ring_front(&n->parked))) {
		blob_unref(p->frame);
		ring_pop(&n->parked);
	}
	ring_release(&n->parked);
}

void
authn_free(struct peer_node *n)
{
	drop_parked(n);
	keyring_free(&n->keyring);
	addr_set_free(&n->cert_asked);
}

/*
 * Learns a verified certificate. When it gives one of its IPs a new key,
 * every neighbour but `from` (which sent it) gets it again before the next
 * message of that origin: they may hold only the old one.
 */
static void
learn_identity(struct peer_node *n, const struct identity *id, struct neighbour *from)
{
	if (!keyring_add(&n->keyring, id))
		return;
	for (uint32_t i = 0; i < id->n_addrs && i < IDENTITY_MAX_ADDRS; i++) {
		struct node_addr ip = {.family = id->addrs[i].family};
		memcpy(ip.addr, id->addrs[i].addr, sizeof(ip.addr));
		for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
			if (nb != from)
				addr_set_remove(&nb->certs_sent, &ip);
	}
}

void
peer_node_set_security(struct peer_node *n, const struct identity *self, bool require)
{
	const struct env_ops *ops = n->env.ops;

	n->signing = self && n->cfg.peer.sign_messages && ops->sign;
	n->verifying = self && ops->verify_cert;
	n->require_signatures = n->verifying && require && n->cfg.peer.sign_messages;
	if (self)
		learn_identity(n, self, NULL); /* a rotated certificate goes to every neighbour */
}

bool
authn_sign(struct peer_node *n, const uint8_t id[WIRE_ID_LEN], uint8_t sig[WIRE_SIG_LEN])
{
	uint8_t msg[WIRE_SIGNED_LEN];

	wire_signed_bytes(id, msg);
	return n->env.ops->sign(n->env.ctx, msg, sizeof(msg), sig) == 0;
}

static struct neighbour *
find_serial(struct peer_node *n, uint32_t serial)
{
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		if (nb->serial == serial)
			return nb;
	return NULL;
}

/* Asks nb for origin's certificate, once per IP between two ticks. */
static void
ask_cert(struct peer_node *n, struct neighbour *nb, const struct node_addr *origin)
{
	struct node_addr ip = keyring_ip(origin);
	struct buf b = {0};

	if (!nb || !addr_set_add(&n->cert_asked, &ip))
		return;
	wire_encode_addr_msg(&b, WIRE_CERT_REQ, origin);
	n->stats.cert_requests_sent++;
	neighbour_send_buf(n, nb, &b);
}

static void
park(struct peer_node *n, struct neighbour *nb, const struct node_addr *from,
     const uint8_t *frame, size_t len, const struct wire_msg *m, struct instant t)
{
	struct parked_msg *p;

	if (n->parked.n == PARK_MAX) {
		/* The oldest gives way: it has waited longest for a certificate that has not come. */
		p = ring_front(&n->parked);
		blob_unref(p->frame);
		ring_pop(&n->parked);
		n->stats.cert_waits_expired++;
	}
	p = ring_push(&n->parked, PARK_MAX);
	*p = (struct parked_msg){blob_new(frame, len), nb ? nb->serial : 0, *from, t.mono};
	ask_cert(n, nb, &m->gossip.origin);
}

enum authn_verdict
authn_check(struct peer_node *n, struct neighbour *nb, const struct node_addr *from,
	    const char *from_str, const uint8_t *frame, size_t len, const struct wire_msg *m,
	    struct instant t, bool may_park)
{
	char hex[2 * WIRE_ID_LEN + 1], os[NODE_ADDR_STRLEN];
	uint8_t msg[WIRE_SIGNED_LEN];

	if (!n->verifying)
		return AUTHN_OK; /* no CA to check against: plaintext network */
	hex_encode(m->gossip.id, WIRE_ID_LEN, hex);
	node_addr_str(&m->gossip.origin, os);
	if (!m->gossip.sig_len) {
		if (!n->require_signatures)
			return AUTHN_OK; /* tls.mode optional: an origin without TLS */
		n->stats.unsigned_dropped++;
		authn_log(n, LOG_WARNING, "dropping unsigned message %s from %s (origin %s): "
			  "signatures are required", hex, from_str, os);
		return AUTHN_DROP;
	}
	wire_signed_bytes(m->gossip.id, msg);
	switch (keyring_verify(&n->keyring, &m->gossip.origin, msg, sizeof(msg), m->gossip.sig,
			       t.real)) {
	case KEYRING_VALID:
		return AUTHN_OK;
	case KEYRING_BAD:
		n->stats.signatures_bad++;
		authn_log(n, LOG_WARNING, "dropping message %s from %s: its signature is not %s's",
			  hex, from_str, os);
		return AUTHN_DROP;
	case KEYRING_UNKNOWN:
		break;
	}
	if (!may_park) {
		n->stats.cert_waits_expired++;
		return AUTHN_DROP;
	}
	park(n, nb, from, frame, len, m, t);
	return AUTHN_PARKED;
}

void
authn_before_push(struct peer_node *n, struct neighbour *nb, const struct node_addr *origin)
{
	struct node_addr ip = keyring_ip(origin);
	struct blob *cert;
	struct buf b = {0};

	if (!n->verifying || addr_set_contains(&nb->certs_sent, &ip))
		return;
	if (!(cert = keyring_cert(&n->keyring, origin)))
		return; /* not ours to prove (an unsigned message in optional mode) */
	wire_encode_cert(&b, cert->data, (uint16_t)cert->len);
	addr_set_add(&nb->certs_sent, &ip);
	n->stats.certs_sent++;
	neighbour_send_buf(n, nb, &b);
}

/* The messages waiting for ip's certificate, checked again now it has come. */
static void
resume_parked(struct peer_node *n, struct instant t)
{
	size_t count = n->parked.n;

	for (size_t i = 0; i < count; i++) {
		struct parked_msg p = *(struct parked_msg *)ring_front(&n->parked);
		struct node_addr origin;

		ring_pop(&n->parked);
		wire_gossip_origin(p.frame->data, &origin);
		if (keyring_cert(&n->keyring, &origin)) {
			gossip_resume(n, find_serial(n, p.from_serial), &p.from, p.frame->data,
				      p.frame->len, t);
			blob_unref(p.frame);
		} else {
			*(struct parked_msg *)ring_push(&n->parked, PARK_MAX) = p;
		}
	}
}

static void
on_cert(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, struct instant t)
{
	struct identity id;
	const char *reason = "not verified";

	if (!n->verifying)
		return;
	if (n->env.ops->verify_cert(n->env.ctx, m->cert.der, m->cert.len, &id, &reason) < 0) {
		n->stats.certs_refused++;
		authn_log(n, LOG_WARNING, "neighbour %s sent a certificate that does not verify: %s",
			  nb->addr_str, reason);
		return;
	}
	n->stats.certs_received++;
	learn_identity(n, &id, nb);
	/* It has that certificate: no need to send it back. */
	for (uint32_t i = 0; i < id.n_addrs && i < IDENTITY_MAX_ADDRS; i++) {
		struct node_addr ip = {.family = id.addrs[i].family};
		memcpy(ip.addr, id.addrs[i].addr, sizeof(ip.addr));
		addr_set_add(&nb->certs_sent, &ip);
	}
	blob_unref(id.cert);
	resume_parked(n, t);
}

void
authn_frame(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m,
	    struct instant t)
{
	if (m->type == WIRE_CERT) {
		on_cert(n, nb, m, t);
		return;
	}
	/* CERT_REQ: a few answers per neighbour and tick (each is far larger than the request). */
	if (n->verifying && nb->cert_answers < CERT_ANSWERS_PER_TICK &&
	    keyring_cert(&n->keyring, &m->addr)) {
		nb->cert_answers++;
		struct node_addr ip = keyring_ip(&m->addr);
		addr_set_remove(&nb->certs_sent, &ip);
		authn_before_push(n, nb, &m->addr);
	}
}

void
authn_link_up(struct peer_node *n, struct neighbour *nb, const struct link *lk)
{
	addr_set_free(&nb->certs_sent);
	addr_set_init(&nb->certs_sent, rng_next(&n->rng), rng_next(&n->rng));
	if (!lk->identity)
		return;
	learn_identity(n, lk->identity, nb);
	/* Each end has the other's certificate from the handshake, and its own. */
	for (uint32_t i = 0; i < lk->identity->n_addrs && i < IDENTITY_MAX_ADDRS; i++) {
		struct node_addr ip = {.family = lk->identity->addrs[i].family};
		memcpy(ip.addr, lk->identity->addrs[i].addr, sizeof(ip.addr));
		addr_set_add(&nb->certs_sent, &ip);
	}
	{
		struct node_addr self = keyring_ip(&n->self);
		addr_set_add(&nb->certs_sent, &self);
	}
}

void
authn_tick(struct peer_node *n, struct instant t)
{
	struct parked_msg *p;

	addr_set_clear(&n->cert_asked);
	for (struct neighbour *nb = n->neighbours; nb; nb = nb->next)
		nb->cert_answers = 0;
	while ((p = ring_front(&n->parked)) && t.mono - p->at > PARK_USEC) {
		n->stats.cert_waits_expired++;
		authn_log(n, LOG_WARNING, "dropping a message that waited %.0f s for its origin's "
			  "certificate", (double)PARK_USEC / 1e6);
		blob_unref(p->frame);
		ring_pop(&n->parked);
	}
	if (!n->parked.n)
		ring_release(&n->parked);
}
