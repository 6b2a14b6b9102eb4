/* SPDX-License-Identifier: MIT */
/* gossip-peer and the seeds: registration with a majority, lease refresh, dead reports, leave. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "peer.h"

#define BACKOFF_MIN_USEC (USEC_PER_SEC / 2)
/* A seed that does not answer REGISTER within this time is treated as down. */
#define REGISTER_REPLY_TIMEOUT_USEC (5 * USEC_PER_SEC)

static int seed_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
static void seed_on_connected(struct conn *c);
static void seed_on_close(struct conn *c, const char *reason, int error);

static const struct conn_callbacks seed_callbacks = {
	.frame_check = wire_frame_check,
	.on_frame = seed_on_frame,
	.on_connected = seed_on_connected,
	.on_close = seed_on_close,
};

uint32_t
seeds_registered(const struct peer *p)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < p->n_seeds; i++)
		if (p->seeds[i].registered)
			n++;
	return n;
}

/* The union of the registered seeds' lists, minus ourselves and peers we saw die. */
void
seeds_rebuild_known(struct peer *p)
{
	addr_set_clear(&p->known);
	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		if (!l->registered)
			continue;
		for (size_t j = 0; j < l->list.n; j++) {
			const struct node_addr *a = &l->list.v[j];
			if (node_addr_equal(a, &p->self) || addr_set_contains(&p->avoid, a))
				continue;
			addr_set_add(&p->known, a);
		}
	}
}

static void
send_frame(struct seed_link *l, struct buf *b)
{
	if (conn_send_buf(l->conn, b) < 0)
		log_warn("cannot queue to seed %s: send queue full", l->addr_str);
}

static void
send_register(struct seed_link *l)
{
	struct buf b = {0};
	wire_encode_addr_msg(&b, WIRE_REGISTER, &l->peer->self);
	send_frame(l, &b);
	buf_free(&b);
	if (!l->register_sent_at)
		l->register_sent_at = now_monotonic_usec();
}

void
seeds_tick(struct peer *p, uint64_t now)
{
	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		if (l->conn && l->register_sent_at &&
		    now - l->register_sent_at > REGISTER_REPLY_TIMEOUT_USEC)
			conn_close(l->conn, "no answer to REGISTER", ETIMEDOUT);
	}
}

static int
seed_connect(struct seed_link *l)
{
	struct peer *p = l->peer;
	int r;

	if (l->conn)
		return 0;
	l->link = xcalloc(1, sizeof(*l->link));
	*l->link = (struct link){.kind = LINK_SEED, .peer = p, .owner = l, .outbound = true};
	r = conn_connect(&p->loop, &l->addr, &seed_callbacks, l->link, &l->conn);
	if (r < 0) {
		free(l->link);
		l->link = NULL;
		return r;
	}
	l->conn->queue_limit = 4 * WIRE_MAX_BODY;
	return 0;
}

static void
schedule_register(struct peer *p, uint64_t delay)
{
	uint64_t now;
	sd_event_now(p->event, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(p->register_timer, now + delay);
	sd_event_source_set_enabled(p->register_timer, SD_EVENT_ONESHOT);
}

static void
link_failed(struct seed_link *l, const char *why)
{
	struct peer *p = l->peer;
	uint64_t now = now_monotonic_usec();

	bool first = l->backoff == 0;

	l->backoff = l->backoff ? l->backoff * 2 : BACKOFF_MIN_USEC;
	if (l->backoff > p->cfg.peer.register_retry_max_usec)
		l->backoff = p->cfg.peer.register_retry_max_usec;
	l->next_attempt = now + l->backoff;
	if (l->wanted && p->state != PEER_LEAVING) {
		/* The first failure in a row is news; the retry summary covers the rest. */
		if (first)
			log_info("seed %s unreachable: %s", l->addr_str, why);
		else
			log_debug("seed %s still unreachable: %s", l->addr_str, why);
		l->wanted = false;
		schedule_register(p, 0);
	}
}

/*
 * Keeps `seeds_required` seeds wanted: the first in our random order that
 * are not backing off. Logs and retries with backoff while short.
 */
static int
on_register_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;
	uint64_t now = now_monotonic_usec(), next = UINT64_MAX;
	uint32_t wanted = 0;

	if (p->state == PEER_LEAVING)
		return 0;
	for (uint32_t i = 0; i < p->n_seeds; i++)
		if (p->seeds[i].wanted)
			wanted++;
	for (uint32_t k = 0; k < p->n_seeds && wanted < p->seeds_required; k++) {
		struct seed_link *l = &p->seeds[p->seed_order[k]];
		int r;
		if (l->wanted)
			continue;
		if (l->next_attempt > now) {
			if (l->next_attempt < next)
				next = l->next_attempt;
			continue;
		}
		l->wanted = true;
		wanted++;
		if (l->registered)
			continue;
		if (!l->conn) {
			r = seed_connect(l);
			if (r < 0) {
				l->wanted = false;
				wanted--;
				link_failed(l, strerror(-r));
				continue;
			}
			/* The reply timeout also bounds a connect that never completes. */
			l->register_sent_at = now;
		}
		if (l->connected)
			send_register(l);
	}
	if (wanted < p->seeds_required) {
		uint64_t delay = next == UINT64_MAX ? BACKOFF_MIN_USEC : next - now;
		/* One line per retry round, not per seed. */
		if (now - p->last_retry_log >= delay / 2) {
			log_warn("Registered with %u of %u required seeds (%u known); retrying in %.1f s",
				 seeds_registered(p), p->seeds_required, p->n_seeds, (double)delay / 1e6);
			p->last_retry_log = now;
		}
		schedule_register(p, delay);
	}
	peer_update_status(p);
	return 0;
}

static int
on_refresh_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;

	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		if (l->wanted && l->connected)
			send_register(l);
	}
	sd_event_source_set_time_relative(src, p->cfg.seed.lease_time_usec / 3);
	sd_event_source_set_enabled(src, SD_EVENT_ON);
	return 0;
}

static void
seed_on_connected(struct conn *c)
{
	struct link *lk = c->userdata;
	struct seed_link *l = lk->owner;

	l->connected = true;
	log_debug("connected to seed %s", l->addr_str);
	if (l->wanted)
		send_register(l);
}

static void
handle_peer_list(struct seed_link *l, struct wire_msg *m)
{
	struct peer *p = l->peer;
	struct node_addr a;
	bool was = l->registered;

	l->register_sent_at = 0;
	addr_set_clear(&l->list);
	while (wire_peer_list_next(&m->peer_list, &a))
		addr_set_add(&l->list, &a);
	if (!l->wanted)
		return;
	l->registered = true;
	l->backoff = 0;
	if (!was) {
		struct log_fields f = {.event = "registered", .remote = l->addr_str};
		log_event(LOG_INFO, &f, "Registered with seed %s (%u of %u required); it lists %zu peers",
			  l->addr_str, seeds_registered(p), p->seeds_required, l->list.n);
	}
	seeds_rebuild_known(p);
	peer_check_ready(p);
	neighbours_maintain(p);
	peer_update_status(p);
}

static int
seed_on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct link *lk = c->userdata;
	struct seed_link *l = lk->owner;
	struct wire_msg m;

	if (wire_decode(frame, len, &m, reason) < 0)
		return -EBADMSG;
	switch (m.type) {
	case WIRE_PEER_LIST:
		handle_peer_list(l, &m);
		return 0;
	case WIRE_ERROR:
		log_warn("seed %s refused us (code %u): %s", l->addr_str, m.error.code, m.error.text);
		return 0;
	case WIRE_HELLO:
	case WIRE_PONG:
		return 0;
	default:
		*reason = "unexpected frame type from a seed";
		return -EBADMSG;
	}
}

static void
seed_on_close(struct conn *c, const char *reason, int error)
{
	struct link *lk = c->userdata;
	struct seed_link *l = lk->owner;
	struct peer *p = l->peer;
	bool was_registered = l->registered;
	char why[160];

	if (error == EBADMSG)
		peer_log_conn_error(p, c, "seed", reason, error);
	l->conn = NULL;
	l->connected = false;
	l->registered = false;
	l->register_sent_at = 0;
	free(l->link);
	l->link = NULL;
	if (p->state == PEER_LEAVING)
		return;
	snprintf(why, sizeof(why), "%s%s%s", reason, error ? ": " : "", error ? strerror(error) : "");
	if (was_registered)
		log_warn("lost connection to seed %s (%s); re-registering", l->addr_str, why);
	if (l->wanted) {
		if (was_registered) {
			/* It was working: reconnect at once, then back off if that fails. */
			l->wanted = false;
			l->next_attempt = 0;
			schedule_register(p, 0);
		} else {
			link_failed(l, why);
		}
	}
	seeds_rebuild_known(p);
	peer_update_status(p);
}

void
seeds_report_dead(struct peer *p, const struct node_addr *dead)
{
	uint64_t ts = now_realtime_usec() / USEC_PER_SEC;
	char ds[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "dead", .remote = node_addr_str(dead, ds),
			       .sd_id = GOSSIP_SD_ID_DEAD_NODE};
	uint32_t sent = 0;

	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		struct buf b = {0};
		if (!l->conn && seed_connect(l) < 0)
			continue;
		wire_encode_dead_report(&b, dead, ts, &p->self);
		send_frame(l, &b);
		buf_free(&b);
		if (!l->wanted)
			conn_close_after_flush(l->conn, "report delivered");
		sent++;
	}
	log_event(LOG_WARNING, &f, "Dead Node:%s:%llu:%s reported to %u of %u seeds", ds,
		  (unsigned long long)ts, p->self_ip, sent, p->n_seeds);
}

void
seeds_leave(struct peer *p)
{
	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		struct buf b = {0};
		if (!l->conn)
			continue;
		if (l->registered) {
			wire_encode_addr_msg(&b, WIRE_LEAVE, &p->self);
			send_frame(l, &b);
			buf_free(&b);
		}
		conn_close_after_flush(l->conn, "leaving");
	}
}

void
seeds_init(struct peer *p)
{
	p->n_seeds = p->cfg.n_seeds;
	p->seeds = xcalloc(p->n_seeds, sizeof(*p->seeds));
	p->seed_order = xcalloc(p->n_seeds, sizeof(*p->seed_order));
	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		l->peer = p;
		l->addr = p->cfg.seeds[i];
		node_addr_str(&l->addr, l->addr_str);
	}
	p->seeds_required = (uint32_t)seed_majority(p->n_seeds);
	seed_order_shuffle(p->n_seeds, &p->rng, p->seed_order);
}

void
seeds_start(struct peer *p)
{
	sd_event_add_time_relative(p->event, &p->register_timer, CLOCK_MONOTONIC, 0, 1000,
				   on_register_timer, p);
	sd_event_add_time_relative(p->event, &p->refresh_timer, CLOCK_MONOTONIC,
				   p->cfg.seed.lease_time_usec / 3, 10000, on_refresh_timer, p);
}

void
seeds_free(struct peer *p)
{
	for (uint32_t i = 0; i < p->n_seeds; i++) {
		struct seed_link *l = &p->seeds[i];
		if (l->conn)
			conn_close(l->conn, "stopping", 0);
		addr_set_free(&l->list);
	}
	free(p->seeds);
	free(p->seed_order);
	p->seeds = NULL;
	p->n_seeds = 0;
	p->register_timer = sd_event_source_disable_unref(p->register_timer);
	p->refresh_timer = sd_event_source_disable_unref(p->refresh_timer);
}

void
seeds_reconfigure(struct peer *p)
{
	bool same = p->cfg.n_seeds == p->n_seeds;

	for (uint32_t i = 0; same && i < p->n_seeds; i++)
		same = node_addr_equal(&p->cfg.seeds[i], &p->seeds[i].addr);
	if (!same) {
		log_info("seed list changed (%u -> %u seeds): registering anew", p->n_seeds,
			 p->cfg.n_seeds);
		for (uint32_t i = 0; i < p->n_seeds; i++) {
			struct seed_link *l = &p->seeds[i];
			if (l->conn) {
				conn_close(l->conn, "seed list reloaded", 0);
			}
			addr_set_free(&l->list);
		}
		free(p->seeds);
		free(p->seed_order);
		seeds_init(p);
		schedule_register(p, 0);
	}
	sd_event_source_set_time_relative(p->refresh_timer, p->cfg.seed.lease_time_usec / 3);
	sd_event_source_set_enabled(p->refresh_timer, SD_EVENT_ON);
}
