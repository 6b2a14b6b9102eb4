/* SPDX-License-Identifier: MIT */
/* The seed's protocol: registrations as leases, peer lists, dead reports confirmed by a probe. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "seed.h"
#include "wire.h"

#define seed_log(s, prio, ...) env_logf(&(s)->env, prio, NULL, __VA_ARGS__)
/* A line a remote can cause (ratelimit.h). */
#define seed_log_limited(s, prio, ...)                                                             \
	env_logf_limited(&(s)->env, &(s)->remote_log, (s)->now, prio, NULL, __VA_ARGS__)
#define seed_debug(s, ...)                                                                         \
	do {                                                                                       \
		if (env_log_enabled(&(s)->env, LOG_DEBUG))                                         \
			env_logf(&(s)->env, LOG_DEBUG, NULL, __VA_ARGS__);                         \
	} while (0)

/* A client's queue: a few peer lists of the largest size. */
#define SEED_CLIENT_QUEUE_LIMIT (4 * (size_t)WIRE_MAX_BODY)
#define SEED_PROBE_QUEUE_LIMIT (64 * 1024)

enum probe_verdict {
	PROBE_ALIVE,
	PROBE_DEAD,   /* its host refused the probe, or someone else answers there */
	PROBE_SILENT, /* no answer in time, or the connection failed otherwise */
	PROBE_CANCELLED,
};

static void
notice(struct seed_node *s)
{
	if (s->env.ops->notice)
		s->env.ops->notice(s->env.ctx, NOTICE_STATUS);
}

static void
sync_wake(struct seed_node *s)
{
	uint64_t at = s->sweep_at;

	for (struct seed_probe *p = s->probes; p; p = p->next)
		if (p->deadline && (!at || p->deadline < at))
			at = p->deadline;
	if (at == s->woken)
		return;
	s->woken = at;
	s->env.ops->wake(s->env.ctx, WAKE_NORMAL, at);
}

static int
send_buf(struct seed_node *s, struct link *lk, struct buf *b)
{
	struct blob *bl = blob_from_buf(b);
	int r = s->env.ops->send(s->env.ctx, lk, bl);

	blob_unref(bl);
	return r;
}

/* A client link leaves the seed's books (it is freed by the caller). */
static void
client_gone(struct seed_node *s, struct link *lk)
{
	DLIST_REMOVE(&s->clients, lk, &s->n_clients);
	host_counts_sub(&s->client_hosts, &lk->remote);
	free(lk->owner);
	lk->owner = NULL;
}

static void
close_link(struct seed_node *s, struct link *lk, const char *reason, bool after_flush)
{
	if (lk->kind == LINK_SEED)
		client_gone(s, lk);
	s->env.ops->close(s->env.ctx, lk, reason, 0, after_flush);
	free(lk);
}

/* Logs a removal with the prototype's "Current peers" tail. */
/* The prototype's "Current peers" text (only when INFO events are logged). */
static char *
current_peers(const struct seed_node *s)
{
	return env_log_enabled(&s->env, LOG_INFO) ? registry_format(&s->registry, SEED_LOG_PEERS_SHOWN)
						  : xstrdup("");
}

static void
log_removed(struct seed_node *s, const struct node_addr *a, const char *why)
{
	char as[NODE_ADDR_STRLEN];
	char *cur = current_peers(s);
	struct log_fields f = {.event = "removed", .remote = node_addr_str(a, as),
			       .sd_id = GOSSIP_SD_ID_PEER_REMOVED};

	env_logf_limited(&s->env, &s->events_log, s->now, LOG_INFO, &f,
			 "Removed peer %s (%s). Current peers: %s", as, why, cur);
	free(cur);
	notice(s);
}

/*
 * The PEER_LIST to send now: the registry, or a random sample of
 * seed.peer_list_size of it (a peer's view of a large network). Encoded
 * once per change of the registry (a sample at most once per
 * SEED_LIST_RESAMPLE_USEC), so a flood of requests costs a reference each.
 */
static struct blob *
peer_list(struct seed_node *s)
{
	bool sampled = s->cfg.seed.peer_list_size && s->cfg.seed.peer_list_size < s->registry.n;
	size_t max = sampled ? s->cfg.seed.peer_list_size : s->registry.n;
	struct node_addr *list;
	struct buf b = {0};
	size_t n;

	if (s->list && s->list_version == s->registry.version &&
	    (!sampled || s->now - s->list_at < SEED_LIST_RESAMPLE_USEC))
		return s->list;
	list = xcalloc(max ? max : 1, sizeof(*list));
	n = registry_sample(&s->registry, &s->rng, list, max);
	wire_encode_peer_list(&b, list, (uint32_t)n);
	free(list);
	blob_unref(s->list);
	s->list = blob_from_buf(&b);
	buf_free(&b);
	s->list_version = s->registry.version;
	s->list_at = s->now;
	s->stats.peer_lists_encoded++;
	return s->list;
}

/* Sends an answer lk asked for; false when lk was closed: it does not read its answers. */
static bool
send_answer(struct seed_node *s, struct link *lk, struct blob *answer)
{
	if (s->env.ops->send(s->env.ctx, lk, answer) == 0)
		return true;
	s->stats.slow_closed++;
	seed_log_limited(s, LOG_WARNING, "closing connection from %s: it does not read its answers "
			 "(its send queue of %zu bytes is full)", lk->desc, lk->queue_limit);
	close_link(s, lk, "client does not read", false);
	return false;
}

static bool
send_peer_list(struct seed_node *s, struct link *lk)
{
	if (!send_answer(s, lk, peer_list(s)))
		return false;
	s->stats.peer_lists_sent++;
	return true;
}

static void
refuse(struct seed_node *s, struct link *lk, uint16_t code, const char *text)
{
	struct buf b = {0};

	wire_encode_error(&b, code, text);
	(void)send_buf(s, lk, &b);
	buf_free(&b);
	close_link(s, lk, text, true);
}

/*
 * Whether lk may claim a: its certificate lists a's IP (or it is plaintext).
 * When not, counts and logs (rate-limited) that `what` was refused.
 */
static bool
claim_ok(struct seed_node *s, const struct link *lk, const struct node_addr *a, const char *what)
{
	char as[NODE_ADDR_STRLEN];

	if (!lk->identity || identity_allows(lk->identity, a))
		return true;
	s->stats.claims_refused++;
	env_logf_limited(&s->env, &s->claims_log, s->now, LOG_WARNING, NULL,
			 "refusing %s from %s: it claims %s, which its certificate (%s) does not list",
			 what, lk->desc, node_addr_str(a, as), lk->identity->name);
	return false;
}

/* The incarnation lk's HELLO gave for a, if it named a, goes with a's registration. */
static void
note_incarnation(struct seed_node *s, const struct link *lk, const struct node_addr *a)
{
	const struct seed_client *c = lk->owner;
	struct registry_entry *e;

	if (c && node_addr_equal(&c->addr, a) && (e = registry_find(&s->registry, a)))
		e->incarnation = c->incarnation;
}

/* A peer's HELLO: its incarnation, for its registration (version 4 peers say it). */
static void
handle_hello(struct seed_node *s, struct link *lk, const struct wire_msg *m)
{
	struct seed_client *c;

	if (m->hello.role != WIRE_ROLE_PEER || !claim_ok(s, lk, &m->hello.addr, "HELLO"))
		return;
	c = lk->owner ? lk->owner : (lk->owner = xcalloc(1, sizeof(*c)));
	c->addr = m->hello.addr;
	c->incarnation = m->hello.incarnation;
	note_incarnation(s, lk, &c->addr);
}

/*
 * MEMBERS_REQ: a page of the registrations, from a snapshot at most
 * SEED_ROSTER_MAX_AGE_USEC old. With TLS, only over a verified link (a
 * cluster certificate). Returns false when lk was closed.
 */
static bool
handle_members_req(struct seed_node *s, struct link *lk, const struct wire_msg *m)
{
	struct buf b = {0};
	struct blob *page;
	bool sent;

	if (!lk->identity && conf_tls_mode(&s->cfg) != TLS_MODE_OFF) {
		s->stats.members_refused++;
		seed_log_limited(s, LOG_WARNING, "refusing MEMBERS_REQ from %s: not over TLS with a "
				 "cluster certificate", lk->desc);
		refuse(s, lk, WIRE_ERR_REFUSED, "MEMBERS_REQ needs a verified certificate");
		return false;
	}
	if (!s->roster.built_at || s->now - s->roster.built_at >= SEED_ROSTER_MAX_AGE_USEC)
		roster_build(&s->roster, &s->registry, &s->evidence, s->now);
	roster_page(&s->roster, m->members_req.from_start ? NULL : &m->members_req.after, &b);
	page = blob_from_buf(&b);
	buf_free(&b);
	sent = send_answer(s, lk, page);
	blob_unref(page);
	s->stats.members_pages_sent += sent;
	return sent;
}

/* Returns false when lk was closed. */
static bool
handle_register(struct seed_node *s, struct link *lk, const struct node_addr *a)
{
	char as[NODE_ADDR_STRLEN];
	enum registry_result result;

	node_addr_str(a, as);
	if (!claim_ok(s, lk, a, "REGISTER")) {
		refuse(s, lk, WIRE_ERR_REFUSED, "the certificate does not list that address");
		return false;
	}
	if (node_addr_is_unspecified(a)) {
		seed_log_limited(s, LOG_WARNING, "refusing registration of unspecified address %s "
				 "from %s", as, lk->desc);
		refuse(s, lk, WIRE_ERR_REFUSED, "cannot register an unspecified address");
		return false;
	}
	result = registry_register(&s->registry, a, &lk->remote, s->now, s->cfg.seed.lease_time_usec);
	if (result == REGISTRY_NEW || result == REGISTRY_REFRESHED)
		note_incarnation(s, lk, a);
	switch (result) {
	case REGISTRY_NEW: {
		char *cur = current_peers(s);
		struct log_fields f = {.event = "registered", .remote = as,
				       .sd_id = GOSSIP_SD_ID_PEER_REGISTERED};
		env_logf_limited(&s->env, &s->events_log, s->now, LOG_INFO, &f,
				 "New peer registered: %s. Current peers: %s", as, cur);
		free(cur);
		notice(s);
		break;
	}
	case REGISTRY_REFRESHED:
		seed_debug(s, "lease of %s refreshed", as);
		if (evidence_count(&s->evidence, a)) {
			/* It speaks for itself: the reports against it are void. */
			evidence_clear(&s->evidence, a);
			s->stats.reports_withdrawn++;
			seed_log_limited(s, LOG_INFO, "%s refreshed its lease: the dead-node reports "
					 "about it are void", as);
		}
		break;
	case REGISTRY_FULL:
		seed_log_limited(s, LOG_WARNING, "refusing registration of %s: registry full "
				 "(seed.max_peers = %u)", as, s->cfg.seed.max_peers);
		refuse(s, lk, WIRE_ERR_FULL, "seed registry full");
		return false;
	case REGISTRY_HOST_FULL:
		s->stats.registrations_refused_host++;
		seed_log_limited(s, LOG_WARNING, "refusing registration of %s from %s: %u registrations "
				 "from that host already (seed.max_peers_per_host)", as, lk->desc,
				 s->cfg.seed.max_peers_per_host);
		refuse(s, lk, WIRE_ERR_FULL, "too many registrations from this host");
		return false;
	}
	return send_peer_list(s, lk);
}

static struct seed_probe *
find_probe(struct seed_node *s, const struct node_addr *a)
{
	for (struct seed_probe *p = s->probes; p; p = p->next)
		if (node_addr_equal(&p->target, a))
			return p;
	return NULL;
}

static void probes_start_waiting(struct seed_node *s);

/* A probe got no answer: removes the peer when enough peers reported it. */
static void
probe_silent(struct seed_node *s, struct seed_probe *p, const char *why)
{
	uint32_t have = evidence_count(&s->evidence, &p->target), need = s->cfg.seed.dead_reporters;
	char ts[NODE_ADDR_STRLEN], why_full[256];

	node_addr_str(&p->target, ts);
	if (have < need) {
		s->stats.removals_held++;
		seed_log_limited(s, LOG_INFO,
				 "not removing %s yet: the seed's probe got no answer (%s), but %u of "
				 "the %u reporters needed (seed.dead_reporters) reported it; waiting for "
				 "another report or its lease",
				 ts, why, have, need);
		return;
	}
	snprintf(why_full, sizeof(why_full), "dead: reported by %u peers, and the seed's probe got "
		 "no answer: %s", have, why);
	if (registry_remove(&s->registry, &p->target))
		log_removed(s, &p->target, why_full);
	evidence_clear(&s->evidence, &p->target);
}

/* Ends a probe, acts on its verdict and starts a waiting one. */
static void
probe_finish(struct seed_node *s, struct seed_probe *p, enum probe_verdict verdict, const char *why)
{
	char ts[NODE_ADDR_STRLEN], rs[NODE_ADDR_STRLEN];

	node_addr_str(&p->target, ts);
	node_addr_str(&p->reporter, rs);
	if (verdict == PROBE_DEAD) {
		if (registry_remove(&s->registry, &p->target)) {
			char why_full[192];
			snprintf(why_full, sizeof(why_full), "dead: reported by %s, confirmed: %s", rs,
				 why);
			log_removed(s, &p->target, why_full);
		}
		evidence_clear(&s->evidence, &p->target);
	} else if (verdict == PROBE_SILENT) {
		probe_silent(s, p, why);
	} else if (verdict == PROBE_ALIVE) {
		evidence_clear(&s->evidence, &p->target);
		s->stats.reports_withdrawn++;
		env_logf_limited(&s->env, &s->events_log, s->now, LOG_INFO, NULL,
				 "Dead-node report about %s from %s rejected: %s", ts, rs, why);
	}
	DLIST_REMOVE(&s->probes, p, &s->n_probes);
	if (p->link) {
		s->env.ops->close(s->env.ctx, p->link, "probe finished", 0, false);
		free(p->link);
	}
	free(p);
	probes_start_waiting(s);
}

/* Probes rep->target (a probe that cannot start ends at once, with its verdict). */
static void
probe_start(struct seed_node *s, const struct report *rep)
{
	struct seed_probe *p = xcalloc(1, sizeof(*p));
	char desc[NODE_ADDR_STRLEN];
	int r;

	p->target = rep->target;
	p->reporter = rep->reporter;
	p->report_time = rep->report_time;
	p->nonce = rng_next(&s->rng);
	p->deadline = s->now + s->cfg.seed.probe_timeout_usec;
	DLIST_PUSH(&s->probes, p, &s->n_probes);
	p->link = xcalloc(1, sizeof(*p->link));
	*p->link = (struct link){.kind = LINK_PROBE, .owner = p, .outbound = true,
				 .opened_at = s->now, .queue_limit = SEED_PROBE_QUEUE_LIMIT,
				 .max_frame = SEED_MAX_CLIENT_FRAME, .remote = p->target};
	snprintf(p->link->desc, sizeof(p->link->desc), "%s", node_addr_str(&p->target, desc));
	r = s->env.ops->connect(s->env.ctx, p->link, &p->target);
	if (r < 0) {
		char why[128];
		free(p->link);
		p->link = NULL;
		snprintf(why, sizeof(why), "probe connect failed: %s", strerror(-r));
		probe_finish(s, p, r == -ECONNREFUSED ? PROBE_DEAD : PROBE_SILENT, why);
	}
}

/* Probes waiting reports while probes are free; those about peers gone meanwhile are dropped. */
static void
probes_start_waiting(struct seed_node *s)
{
	struct report rep;

	if (s->starting_probes)
		return; /* a probe that failed at once, from within the loop below */
	s->starting_probes = true;
	while (s->n_probes < SEED_MAX_PROBES && report_queue_pop(&s->waiting, &rep)) {
		if (registry_find(&s->registry, &rep.target) && !find_probe(s, &rep.target))
			probe_start(s, &rep);
	}
	s->starting_probes = false;
}

static void
handle_dead_report(struct seed_node *s, struct link *lk, const struct wire_msg *m)
{
	char ds[NODE_ADDR_STRLEN], rip[NODE_ADDR_STRLEN], rs[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "dead-report", .remote = node_addr_str(&m->dead.dead, ds),
			       .sd_id = GOSSIP_SD_ID_DEAD_NODE};
	struct report rep = {m->dead.dead, m->dead.reporter, m->dead.timestamp};

	if (!claim_ok(s, lk, &m->dead.reporter, "DEAD_REPORT"))
		return;
	node_addr_ip_str(&m->dead.reporter, rip);
	/* The prototype's report text: Dead Node:<ip>:<port>:<timestamp>:<reporter ip> */
	env_logf_limited(&s->env, &s->events_log, s->now, LOG_INFO, &f,
			 "Dead Node:%s:%llu:%s (reported by %s from %s)", ds,
			 (unsigned long long)m->dead.timestamp, rip,
			 node_addr_str(&m->dead.reporter, rs), lk->desc);
	if (!registry_find(&s->registry, &m->dead.dead)) {
		seed_log_limited(s, LOG_INFO, "%s is not registered here; nothing to remove", ds);
		return;
	}
	if (!s->cfg.seed.confirm_dead) {
		registry_remove(&s->registry, &m->dead.dead);
		log_removed(s, &m->dead.dead, "dead: reported, seed.confirm_dead is off");
		return;
	}
	(void)evidence_add(&s->evidence, &m->dead.dead, &m->dead.reporter, s->now);
	if (find_probe(s, &m->dead.dead))
		return; /* already being checked */
	if (s->n_probes < SEED_MAX_PROBES) {
		probe_start(s, &rep);
		return;
	}
	switch (report_queue_push(&s->waiting, &rep)) {
	case 0:
		seed_debug(s, "%s waits for a probe: %zu reports waiting", ds, s->waiting.r.n);
		break;
	case -ENOSPC:
		seed_log_limited(s, LOG_WARNING,
				 "not probing %s: %d probes running and %d reports waiting; its lease "
				 "will decide", ds, SEED_MAX_PROBES, SEED_MAX_WAITING);
		break;
	default:
		break; /* about to be checked */
	}
}

static void
handle_leave(struct seed_node *s, const struct node_addr *a)
{
	char as[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "left", .remote = node_addr_str(a, as)};

	evidence_clear(&s->evidence, a);
	if (registry_remove(&s->registry, a)) {
		char *cur = current_peers(s);
		env_logf_limited(&s->env, &s->events_log, s->now, LOG_INFO, &f,
				 "Peer left: %s. Current peers: %s", as, cur);
		free(cur);
		notice(s);
	}
}

static int
client_frame(struct seed_node *s, struct link *lk, const struct wire_msg *m, const char **reason)
{
	struct buf b = {0};

	switch (m->type) {
	case WIRE_HELLO:
		/* Optional for seeds; answered so a client can check what it reached. */
		handle_hello(s, lk, m);
		wire_encode_hello(&b, WIRE_ROLE_SEED, &s->self, s->incarnation);
		(void)send_buf(s, lk, &b);
		break;
	case WIRE_MEMBERS_REQ:
		handle_members_req(s, lk, m);
		break;
	case WIRE_REGISTER:
		handle_register(s, lk, &m->addr);
		break;
	case WIRE_PEER_LIST_REQ:
		(void)send_peer_list(s, lk);
		break;
	case WIRE_DEAD_REPORT:
		handle_dead_report(s, lk, m);
		break;
	case WIRE_LEAVE:
		if (claim_ok(s, lk, &m->addr, "LEAVE"))
			handle_leave(s, &m->addr);
		break;
	case WIRE_PING:
		wire_encode_nonce(&b, WIRE_PONG, m->nonce);
		(void)send_buf(s, lk, &b);
		break;
	case WIRE_ERROR:
		seed_log_limited(s, LOG_INFO, "%s reported an error (code %u): %s", lk->desc,
				 m->error.code, m->error.text);
		break;
	default:
		*reason = "unexpected frame type for a seed";
		buf_free(&b);
		return -EBADMSG;
	}
	buf_free(&b);
	return 0;
}

static void
probe_connected(struct seed_node *s, struct seed_probe *p)
{
	struct buf b = {0};

	if (p->link->identity && !identity_allows(p->link->identity, &p->target)) {
		/* Someone else answers at its address. */
		probe_finish(s, p, PROBE_DEAD, "the probe reached a node whose certificate does not "
					       "list that address");
		return;
	}
	wire_encode_hello(&b, WIRE_ROLE_SEED, &s->self, s->incarnation);
	wire_encode_nonce(&b, WIRE_PING, p->nonce);
	(void)send_buf(s, p->link, &b);
	buf_free(&b);
}

struct link *
seed_node_accept(struct seed_node *s, void *io, const struct node_addr *remote, struct instant t)
{
	uint32_t per_host = s->cfg.seed.max_connections_per_host;
	char desc[NODE_ADDR_STRLEN];
	struct link *lk;

	s->now = t.mono;
	node_addr_str(remote, desc);
	if (s->n_clients >= s->cfg.seed.max_connections) {
		s->stats.connections_refused++;
		env_logf_limited(&s->env, &s->accept_log, t.mono, LOG_WARNING, NULL,
				 "refusing connection from %s: seed.max_connections (%u) reached "
				 "(%llu refused so far)", desc, s->cfg.seed.max_connections,
				 (unsigned long long)s->stats.connections_refused);
		return NULL;
	}
	if (per_host && host_counts_get(&s->client_hosts, remote) >= per_host) {
		s->stats.connections_refused_host++;
		env_logf_limited(&s->env, &s->accept_log, t.mono, LOG_WARNING, NULL,
				 "refusing connection from %s: %u connections from that host already "
				 "(seed.max_connections_per_host)", desc, per_host);
		return NULL;
	}
	lk = xcalloc(1, sizeof(*lk));
	*lk = (struct link){.kind = LINK_SEED, .io = io, .opened_at = t.mono, .last_heard = t.mono,
			    .queue_limit = SEED_CLIENT_QUEUE_LIMIT,
			    .max_frame = SEED_MAX_CLIENT_FRAME, .remote = *remote};
	snprintf(lk->desc, sizeof(lk->desc), "%s", desc);
	DLIST_PUSH(&s->clients, lk, &s->n_clients);
	host_counts_add(&s->client_hosts, remote);
	return lk;
}

void
seed_node_connected(struct seed_node *s, struct link *lk, struct instant t)
{
	s->now = t.mono;
	if (lk->kind == LINK_PROBE)
		probe_connected(s, lk->owner);
	sync_wake(s);
}

int
seed_node_frame(struct seed_node *s, struct link *lk, const uint8_t *frame, size_t len,
		struct instant t, const char **reason)
{
	struct wire_msg m;
	int r = 0;

	s->now = t.mono;
	if (wire_decode(frame, len, &m, reason) < 0)
		return -EBADMSG;
	if (lk->kind == LINK_PROBE) {
		struct seed_probe *p = lk->owner;
		if (m.type == WIRE_PONG && m.nonce == p->nonce)
			probe_finish(s, p, PROBE_ALIVE, "it answered the seed's probe");
	} else {
		lk->last_heard = t.mono;
		r = client_frame(s, lk, &m, reason);
	}
	sync_wake(s);
	return r;
}

void
seed_node_closed(struct seed_node *s, struct link *lk, const char *reason, int error,
		 struct instant t)
{
	s->now = t.mono;
	if (lk->kind == LINK_PROBE) {
		struct seed_probe *p = lk->owner;
		char why[192];
		snprintf(why, sizeof(why), "probe %s%s%s", reason, error ? ": " : "",
			 error ? strerror(error) : "");
		free(p->link);
		p->link = NULL;
		/* Refused: its host says nothing listens there. Anything else proves nothing. */
		probe_finish(s, p, error == ECONNREFUSED ? PROBE_DEAD : PROBE_SILENT, why);
		sync_wake(s);
		return;
	}
	if (error == EBADMSG)
		seed_log_limited(s, LOG_WARNING, "closing connection from %s: malformed frame: %s",
				 lk->desc, reason);
	else if (error)
		seed_log_limited(s, LOG_INFO, "connection from %s: %s: %s", lk->desc, reason,
				 strerror(error));
	else
		seed_debug(s, "connection from %s closed: %s", lk->desc, reason);
	client_gone(s, lk);
	free(lk);
	notice(s);
	sync_wake(s);
}

/*
 * A client silent for a whole lease is closed: a registered peer refreshes
 * three times a lease, and anyone else has had its answer. An idle
 * connection holds no input memory, but it holds a slot.
 */
static void
close_idle_clients(struct seed_node *s)
{
	uint64_t idle = s->cfg.seed.lease_time_usec;

	for (struct link *lk = s->clients, *next; lk; lk = next) {
		next = lk->next;
		if (s->now - lk->last_heard < idle)
			continue;
		s->stats.idle_closed++;
		seed_log_limited(s, LOG_INFO, "closing connection from %s: nothing received for %.1f s "
				 "(seed.lease_time)", lk->desc, (double)idle / 1e6);
		close_link(s, lk, "idle", false);
	}
}

static void
sweep(struct seed_node *s)
{
	struct node_addr a;
	char why[96];

	snprintf(why, sizeof(why), "lease expired: no refresh for %.1f s",
		 (double)s->cfg.seed.lease_time_usec / 1e6);
	while (registry_pop_expired(&s->registry, s->now, &a)) {
		log_removed(s, &a, why);
		evidence_clear(&s->evidence, &a);
	}
	evidence_expire(&s->evidence, s->now, s->cfg.seed.lease_time_usec);
	close_idle_clients(s);
	s->sweep_at = s->now + SEED_SWEEP_USEC;
}

void
seed_node_wakeup(struct seed_node *s, struct instant t)
{
	s->now = t.mono;
	s->woken = 0;
	if (s->sweep_at && s->sweep_at <= t.mono)
		sweep(s);
	for (struct seed_probe *p = s->probes, *next; p; p = next) {
		next = p->next;
		if (p->deadline <= t.mono)
			probe_finish(s, p, PROBE_SILENT, "no answer to the seed's probe in time");
	}
	sync_wake(s);
}

void
seed_node_init(struct seed_node *s, const struct gossip_config *cfg, const struct node_addr *self,
	       uint64_t seed, const struct env *env)
{
	memset(s, 0, sizeof(*s));
	s->env = *env;
	conf_copy(&s->cfg, cfg);
	s->self = *self;
	node_addr_str(self, s->self_str);
	rng_seed(&s->rng, seed);
	s->incarnation = rng_next(&s->rng);
	registry_init(&s->registry, s->cfg.seed.max_peers, rng_next(&s->rng), rng_next(&s->rng));
	s->registry.max_per_host = s->cfg.seed.max_peers_per_host;
	host_counts_init(&s->client_hosts, rng_next(&s->rng), rng_next(&s->rng));
	report_queue_init(&s->waiting, SEED_MAX_WAITING);
	s->events_log.burst = SEED_EVENT_LOG_BURST;
	s->remote_log.burst = RATELIMIT_REMOTE_BURST;
	s->accept_log.burst = RATELIMIT_REMOTE_BURST;
}

void
seed_node_start(struct seed_node *s, struct instant t)
{
	s->now = t.mono;
	s->sweep_at = t.mono + SEED_SWEEP_USEC;
	sync_wake(s);
	notice(s);
}

void
seed_node_reconfigure(struct seed_node *s, const struct gossip_config *cfg)
{
	conf_free(&s->cfg);
	conf_copy(&s->cfg, cfg);
	s->registry.max = s->cfg.seed.max_peers;
	s->registry.max_per_host = s->cfg.seed.max_peers_per_host;
	notice(s);
}

void
seed_node_free(struct seed_node *s)
{
	report_queue_free(&s->waiting);
	while (s->probes)
		probe_finish(s, s->probes, PROBE_CANCELLED, "seed stopping");
	while (s->clients)
		close_link(s, s->clients, "seed stopping", false);
	s->sweep_at = 0;
	sync_wake(s);
	registry_free(&s->registry);
	evidence_free(&s->evidence);
	host_counts_free(&s->client_hosts);
	blob_unref(s->list);
	s->list = NULL;
	roster_free(&s->roster);
	conf_free(&s->cfg);
}
