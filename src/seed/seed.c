/* SPDX-License-Identifier: MIT */
/* gossip-seed protocol: registrations as leases, peer lists, confirmed dead-node reports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "seed.h"
#include "wire.h"

/* How many addresses the "Current peers" part of a log line shows. */
#define LOG_PEERS_SHOWN 32

static int client_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
static void client_on_close(struct conn *c, const char *reason, int error);
static int probe_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
static void probe_on_connected(struct conn *c);
static void probe_on_close(struct conn *c, const char *reason, int error);

static const struct conn_callbacks client_callbacks = {
	.frame_check = wire_frame_check,
	.on_frame = client_on_frame,
	.on_close = client_on_close,
};

static const struct conn_callbacks probe_callbacks = {
	.frame_check = wire_frame_check,
	.on_frame = probe_on_frame,
	.on_connected = probe_on_connected,
	.on_close = probe_on_close,
};

void
seed_update_status(struct seed *s)
{
	daemon_notify("STATUS=seed %s: %zu peers registered, %u connections", s->self_str,
		      s->registry.n, s->n_clients);
}

/* Logs a removal with the prototype's "Current peers" tail. */
static void
log_removed(struct seed *s, const struct node_addr *a, const char *why)
{
	char as[NODE_ADDR_STRLEN];
	char *cur = registry_format(&s->registry, LOG_PEERS_SHOWN);
	struct log_fields f = {.event = "removed", .remote = node_addr_str(a, as),
			       .sd_id = GOSSIP_SD_ID_PEER_REMOVED};

	log_event(LOG_INFO, &f, "Removed peer %s (%s). Current peers: %s", as, why, cur);
	free(cur);
	seed_update_status(s);
}

static void
send_peer_list(struct seed *s, struct conn *c)
{
	struct buf b = {0};
	struct node_addr *list = xcalloc(s->registry.n ? s->registry.n : 1, sizeof(*list));
	size_t n = registry_list(&s->registry, list, s->registry.n);

	wire_encode_peer_list(&b, list, (uint32_t)n);
	free(list);
	if (conn_send_buf(c, &b) < 0)
		log_warn("cannot queue peer list to %s: send queue full", c->desc);
	buf_free(&b);
}

static void
send_error_and_close(struct conn *c, uint16_t code, const char *text)
{
	struct buf b = {0};
	wire_encode_error(&b, code, text);
	(void)conn_send_buf(c, &b);
	buf_free(&b);
	conn_close_after_flush(c, text);
}

static void
handle_register(struct seed *s, struct conn *c, const struct node_addr *a)
{
	char as[NODE_ADDR_STRLEN];
	uint64_t now = now_monotonic_usec();

	node_addr_str(a, as);
	if (node_addr_is_unspecified(a)) {
		log_warn("refusing registration of unspecified address %s from %s", as, c->desc);
		send_error_and_close(c, WIRE_ERR_REFUSED, "cannot register an unspecified address");
		return;
	}
	switch (registry_register(&s->registry, a, now, s->cfg.seed.lease_time_usec)) {
	case REGISTRY_NEW: {
		char *cur = registry_format(&s->registry, LOG_PEERS_SHOWN);
		struct log_fields f = {.event = "registered", .remote = as,
				       .sd_id = GOSSIP_SD_ID_PEER_REGISTERED};
		log_event(LOG_INFO, &f, "New peer registered: %s. Current peers: %s", as, cur);
		free(cur);
		seed_update_status(s);
		break;
	}
	case REGISTRY_REFRESHED:
		log_debug("lease of %s refreshed", as);
		break;
	case REGISTRY_FULL:
		log_warn("refusing registration of %s: registry full (seed.max_peers = %u)", as,
			 s->cfg.seed.max_peers);
		send_error_and_close(c, WIRE_ERR_FULL, "seed registry full");
		return;
	}
	send_peer_list(s, c);
}

static struct seed_probe *
find_probe(struct seed *s, const struct node_addr *a)
{
	for (struct seed_probe *p = s->probes; p; p = p->next)
		if (node_addr_equal(&p->target, a))
			return p;
	return NULL;
}

enum probe_verdict {
	PROBE_ALIVE,
	PROBE_DEAD,
	PROBE_CANCELLED,
};

static void probes_start_waiting(struct seed *s);

/* Ends a probe, acts on its verdict and starts a waiting one. */
static void
probe_finish(struct seed_probe *p, enum probe_verdict verdict, const char *why)
{
	struct seed *s = p->seed;
	char ts[NODE_ADDR_STRLEN], rs[NODE_ADDR_STRLEN];

	node_addr_str(&p->target, ts);
	node_addr_str(&p->reporter, rs);
	if (verdict == PROBE_DEAD) {
		if (registry_remove(&s->registry, &p->target)) {
			char why_full[160];
			snprintf(why_full, sizeof(why_full), "dead: reported by %s, confirmed: %s", rs,
				 why);
			log_removed(s, &p->target, why_full);
		}
	} else if (verdict == PROBE_ALIVE) {
		log_info("Dead-node report about %s from %s rejected: %s", ts, rs, why);
	}
	if (p->prev)
		p->prev->next = p->next;
	else
		s->probes = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->n_probes--;
	p->timer = sd_event_source_disable_unref(p->timer);
	if (p->conn) {
		struct conn *c = p->conn;
		p->conn = NULL;
		c->userdata = NULL;
		conn_close(c, "probe finished", 0);
	}
	free(p);
	probes_start_waiting(s);
}

static int
probe_on_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	probe_finish(userdata, PROBE_DEAD, "no answer to the seed's probe in time");
	return 0;
}

static void
probe_on_connected(struct conn *c)
{
	struct seed_probe *p = c->userdata;
	struct buf b = {0};

	wire_encode_hello(&b, WIRE_ROLE_SEED, &p->seed->self, p->seed->incarnation);
	wire_encode_nonce(&b, WIRE_PING, p->nonce);
	(void)conn_send_buf(c, &b);
	buf_free(&b);
}

static int
probe_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct seed_probe *p = c->userdata;
	struct wire_msg m;

	if (!p)
		return 0;
	if (wire_decode(frame, len, &m, reason) < 0)
		return -EBADMSG;
	if (m.type == WIRE_PONG && m.nonce == p->nonce)
		probe_finish(p, PROBE_ALIVE, "it answered the seed's probe");
	return 0;
}

static void
probe_on_close(struct conn *c, const char *reason, int error)
{
	struct seed_probe *p = c->userdata;
	char why[160];

	if (!p)
		return;
	p->conn = NULL;
	snprintf(why, sizeof(why), "probe %s%s%s", reason, error ? ": " : "",
		 error ? strerror(error) : "");
	probe_finish(p, PROBE_DEAD, why);
}

/* Probes rep->target (a probe that cannot start ends at once, with its verdict). */
static void
probe_start(struct seed *s, const struct report *rep)
{
	char ds[NODE_ADDR_STRLEN];
	struct seed_probe *p;
	int r;

	p = xcalloc(1, sizeof(*p));
	p->seed = s;
	p->target = rep->target;
	p->reporter = rep->reporter;
	p->report_time = rep->report_time;
	p->nonce = rng_next(&s->rng);
	r = conn_connect(&s->loop, &p->target, &probe_callbacks, p, &p->conn);
	p->next = s->probes;
	if (s->probes)
		s->probes->prev = p;
	s->probes = p;
	s->n_probes++;
	if (r < 0) {
		char why[128];
		snprintf(why, sizeof(why), "probe connect failed: %s", strerror(-r));
		probe_finish(p, PROBE_DEAD, why);
		return;
	}
	p->conn->queue_limit = 64 * 1024;
	r = sd_event_add_time_relative(s->event, &p->timer, CLOCK_MONOTONIC,
				       s->cfg.seed.probe_timeout_usec, 1000, probe_on_timeout, p);
	if (r < 0) {
		log_warn("cannot arm the probe timer for %s; its lease will decide",
			 node_addr_str(&p->target, ds));
		probe_finish(p, PROBE_CANCELLED, "no timer");
	}
}

/* Probes waiting reports while probes are free; those about peers gone meanwhile are dropped. */
static void
probes_start_waiting(struct seed *s)
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
handle_dead_report(struct seed *s, struct conn *c, const struct wire_msg *m)
{
	char ds[NODE_ADDR_STRLEN], rip[NODE_ADDR_STRLEN], rs[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "dead-report", .remote = node_addr_str(&m->dead.dead, ds),
			       .sd_id = GOSSIP_SD_ID_DEAD_NODE};
	struct report rep = {m->dead.dead, m->dead.reporter, m->dead.timestamp};

	node_addr_ip_str(&m->dead.reporter, rip);
	/* The prototype's report text: Dead Node:<ip>:<port>:<timestamp>:<reporter ip> */
	log_event(LOG_INFO, &f, "Dead Node:%s:%llu:%s (reported by %s from %s)", ds,
		  (unsigned long long)m->dead.timestamp, rip, node_addr_str(&m->dead.reporter, rs),
		  c->desc);
	if (!registry_find(&s->registry, &m->dead.dead)) {
		log_info("%s is not registered here; nothing to remove", ds);
		return;
	}
	if (!s->cfg.seed.confirm_dead) {
		registry_remove(&s->registry, &m->dead.dead);
		log_removed(s, &m->dead.dead, "dead: reported, seed.confirm_dead is off");
		return;
	}
	if (find_probe(s, &m->dead.dead))
		return; /* already being checked */
	if (s->n_probes < SEED_MAX_PROBES) {
		probe_start(s, &rep);
		return;
	}
	switch (report_queue_push(&s->waiting, &rep)) {
	case 0:
		log_debug("%s waits for a probe: %zu reports waiting", ds, s->waiting.n);
		break;
	case -ENOSPC:
		log_warn("not probing %s: %d probes running and %d reports waiting; its lease will "
			 "decide", ds, SEED_MAX_PROBES, SEED_MAX_WAITING);
		break;
	default:
		break; /* about to be checked */
	}
}

static void
handle_leave(struct seed *s, const struct node_addr *a)
{
	char as[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "left", .remote = node_addr_str(a, as)};

	if (registry_remove(&s->registry, a)) {
		char *cur = registry_format(&s->registry, LOG_PEERS_SHOWN);
		log_event(LOG_INFO, &f, "Peer left: %s. Current peers: %s", as, cur);
		free(cur);
		seed_update_status(s);
	}
}

static int
client_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct seed_client *cl = c->userdata;
	struct seed *s = cl->seed;
	struct wire_msg m;
	struct buf b = {0};

	if (wire_decode(frame, len, &m, reason) < 0)
		return -EBADMSG;
	switch (m.type) {
	case WIRE_HELLO:
		/* Optional for seeds; answered so a client can check what it reached. */
		wire_encode_hello(&b, WIRE_ROLE_SEED, &s->self, s->incarnation);
		(void)conn_send_buf(c, &b);
		break;
	case WIRE_REGISTER:
		handle_register(s, c, &m.addr);
		break;
	case WIRE_PEER_LIST_REQ:
		send_peer_list(s, c);
		break;
	case WIRE_DEAD_REPORT:
		handle_dead_report(s, c, &m);
		break;
	case WIRE_LEAVE:
		handle_leave(s, &m.addr);
		break;
	case WIRE_PING:
		wire_encode_nonce(&b, WIRE_PONG, m.nonce);
		(void)conn_send_buf(c, &b);
		break;
	case WIRE_ERROR:
		log_info("%s reported an error (code %u): %s", c->desc, m.error.code, m.error.text);
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
client_on_close(struct conn *c, const char *reason, int error)
{
	struct seed_client *cl = c->userdata;
	struct seed *s = cl->seed;

	if (error == EBADMSG)
		log_warn("closing connection from %s: malformed frame: %s", c->desc, reason);
	else if (error)
		log_info("connection from %s: %s: %s", c->desc, reason, strerror(error));
	else
		log_debug("connection from %s closed: %s", c->desc, reason);
	if (cl->prev)
		cl->prev->next = cl->next;
	else
		s->clients = cl->next;
	if (cl->next)
		cl->next->prev = cl->prev;
	s->n_clients--;
	free(cl);
}

static int
on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct seed *s = userdata;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char desc[NODE_ADDR_STRLEN] = "?";
		struct node_addr ra;
		struct seed_client *cl;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept failed: %s", strerror(errno));
			break;
		}
		if (node_addr_from_sockaddr((struct sockaddr *)&ss, &ra) == 0)
			node_addr_str(&ra, desc);
		if (s->n_clients >= s->cfg.seed.max_connections) {
			uint64_t now = now_monotonic_usec();
			s->refused_connections++;
			/* At most one line a second under a connection flood. */
			if (now - s->last_refusal_log >= USEC_PER_SEC) {
				log_warn("refusing connection from %s: seed.max_connections (%u) reached "
					 "(%llu refused so far)",
					 desc, s->cfg.seed.max_connections,
					 (unsigned long long)s->refused_connections);
				s->last_refusal_log = now;
			}
			close(cfd);
			continue;
		}
		cl = xcalloc(1, sizeof(*cl));
		cl->seed = s;
		cl->conn = conn_new(&s->loop, cfd, false, &client_callbacks, cl, desc);
		if (!cl->conn) {
			free(cl);
			continue;
		}
		cl->conn->queue_limit = 4 * WIRE_MAX_BODY;
		cl->next = s->clients;
		if (s->clients)
			s->clients->prev = cl;
		s->clients = cl;
		s->n_clients++;
	}
	return 0;
}

static int
on_sweep(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct seed *s = userdata;
	struct node_addr a;
	uint64_t now = now_monotonic_usec();
	char why[96];

	snprintf(why, sizeof(why), "lease expired: no refresh for %.1f s",
		 (double)s->cfg.seed.lease_time_usec / 1e6);
	while (registry_pop_expired(&s->registry, now, &a))
		log_removed(s, &a, why);
	sd_event_source_set_time_relative(src, USEC_PER_SEC / 4);
	sd_event_source_set_enabled(src, SD_EVENT_ON);
	return 0;
}

void
seed_apply_config(struct seed *s)
{
	s->registry.max = s->cfg.seed.max_peers;
}

int
seed_start(struct seed *s)
{
	int r;

	registry_init(&s->registry, s->cfg.seed.max_peers);
	report_queue_init(&s->waiting, SEED_MAX_WAITING);
	r = sd_event_add_io(s->event, &s->listen_src, s->listen_fd, EPOLLIN, on_accept, s);
	if (r < 0)
		return r;
	return sd_event_add_time_relative(s->event, &s->sweep_timer, CLOCK_MONOTONIC,
					  USEC_PER_SEC / 4, 10000, on_sweep, s);
}

void
seed_stop(struct seed *s)
{
	report_queue_free(&s->waiting);
	while (s->probes)
		probe_finish(s->probes, PROBE_CANCELLED, "seed stopping");
	while (s->clients)
		conn_close(s->clients->conn, "seed stopping", 0);
	s->listen_src = sd_event_source_disable_unref(s->listen_src);
	s->sweep_timer = sd_event_source_disable_unref(s->sweep_timer);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	registry_free(&s->registry);
}
