/* SPDX-License-Identifier: MIT */
/* The simulator's scenarios: a table of networks, loads and faults, and the figures of a run. */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "scenario.h"

#define MS SIM_MS
#define S SIM_S
/* A datacenter: 0.5 ms one way; a WAN: 50 ms; loopback, for the comparison with make bench. */
#define NET_DC {500, 200, 0, 0}
#define NET_WAN {50 * MS, 10 * MS, 0, 0}
#define NET_LOOP {60, 40, 0, 0}

const struct scenario scenarios[] = {
	{"steady", "100 broadcasts, one every 100 ms from random peers", 1000, 3, 100, 100 * MS, 64,
	 NET_DC, F_NONE, 0, 0, 0, 0, 5 * S, 1.0, 1.10, 0},
	{"burst", "100 broadcasts at the same instant from random peers", 1000, 3, 100, 0, 64, NET_DC,
	 F_NONE, 0, 0, 0, 0, 10 * S, 1.0, 1.50, 0},
	{"churn", "10% of the peers leave or join each minute for 3 minutes", 1000, 3, 180, 1 * S, 64,
	 NET_DC, F_CHURN, 1 * S, 180 * S, 0.10, 0, 10 * S, 0.99, 2.0, -1},
	{"loss20", "20% of frames lost (TCP retransmits them) for 60 s, 50 ms links", 1000, 3, 80,
	 1 * S, 64, NET_WAN, F_LOSS, 5 * S, 60 * S, 0, 0.20, 30 * S, 0.99, 2.0, 0},
	{"partition", "two halves cut apart for 60 s, then healed; 50 ms links", 1000, 3, 130,
	 500 * MS, 64, NET_WAN, F_PARTITION, 2 * S, 60 * S, 0.5, 0, 30 * S, 1.0, 3.0, -1},
	{"restart", "every peer killed and started again 1 s later; 50 ms links", 1000, 3, 60,
	 500 * MS, 64, NET_WAN, F_MASS_RESTART, 2 * S, 1 * S, 1.0, 0, 15 * S, 1.0, 3.0, 0},
	{"crash", "1% of the peers killed (SIGKILL), not restarted", 1000, 3, 40, 500 * MS, 64,
	 NET_DC, F_CRASH, 2 * S, 0, 0.01, 0, 15 * S, 0.99, 1.5, 0},
	{"stall", "1% of the peers stop running for 3 s (a stalled VM)", 1000, 3, 40, 500 * MS, 64,
	 NET_DC, F_STALL, 2 * S, 3 * S, 0.01, 0, 15 * S, 0.99, 1.5, 0},
	{"down", "1% of the peers down for 2 minutes, then started again; 50 ms links", 1000, 3, 140,
	 1 * S, 64, NET_WAN, F_DOWN, 2 * S, 120 * S, 0.01, 0, 30 * S, 1.0, 1.5, 0},
	{"overload", "2x CPU overload for 60 s: every node runs half the time; 50 ms links", 1000, 3,
	 80, 1 * S, 64, NET_WAN, F_OVERLOAD, 5 * S, 60 * S, 0.5, 0, 30 * S, 1.0, 2.0, 0},
	/* make bench-wan's first two rows (without their 20 warm-up broadcasts). */
	{"wan25", "100 ms links: 30 broadcasts, one every 500 ms (make bench-wan's first row)", 25, 3,
	 30, 500 * MS, 64, {100 * MS, 2 * MS, 0, 0}, F_NONE, 0, 0, 0, 0, 5 * S, 1.0, 1.10, 0},
	{"wan25fast", "100 ms links: 150 broadcasts, 10 a second (make bench-wan's second row)", 25,
	 3, 150, 100 * MS, 64, {100 * MS, 2 * MS, 0, 0}, F_NONE, 0, 0, 0, 0, 5 * S, 1.0, 1.50, 0},
	{"bench50", "make bench's N=50 on loopback-like links: 100 broadcasts, one every 15 ms", 50,
	 3, 100, 15 * MS, 64, NET_LOOP, F_NONE, 0, 0, 0, 0, 2 * S, 1.0, 1.10, 0},
};
const size_t n_scenarios = sizeof(scenarios) / sizeof(scenarios[0]);

enum action {
	A_BROADCAST,
	A_FAULT_START,
	A_FAULT_END,
	A_CHURN_STEP,
	A_PROBE, /* after a mass restart: are all peers back? */
	A_OVERLOAD_STEP,
};

#define ACTION(a, param) (((uint64_t)(a) << 32) | (uint32_t)(param))

const struct scenario *
scenario_find(const char *name)
{
	for (size_t i = 0; i < n_scenarios; i++)
		if (!strcmp(scenarios[i].name, name))
			return &scenarios[i];
	return NULL;
}

/* The run in progress. */
struct run {
	const struct scenario *sc;
	struct sim sim;
	uint32_t peers;      /* started at the beginning */
	uint32_t pool_next;  /* the next never-started node, for joins */
	uint32_t broadcasts;
	uint64_t t0;         /* the first measured broadcast */
	uint64_t fault_end;  /* a mass restart's restart, a stall's end */
	uint32_t *chosen;    /* the peers a fault hit */
	uint32_t n_chosen;
	uint32_t first_msg;  /* the first measured message (the warm-up's is not) */
	struct sim_counters before;
	uint64_t measured_from; /* virtual time of `before` */
	size_t mem_before;
	uint64_t recovered_at;
	uint64_t views_at; /* after the fault: every live peer knows every other */
};

static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void
configure(const struct run *r, struct gossip_config *peer, struct gossip_config *seed)
{
	uint32_t ids = 2 * (r->broadcasts + 16), size = 64;

	conf_init(peer);
	conf_init(seed);
	/* The seen cache holds every message of the run, no more: memory per node stays small. */
	while (size < ids)
		size *= 2;
	peer->peer.seen_cache_size = size;
	peer->peer.history = 0;
	/* Beyond a few thousand peers, each peer's view is a sample (seed.peer_list_size). */
	seed->seed.max_peers = 2 * r->peers + 1000;
	seed->seed.max_connections = 2 * r->peers + 1000; /* peers keep their seed connections */
	seed->seed.peer_list_size = r->peers > 2000 ? 256 : 0;
}

static uint32_t
random_up_peer(struct run *r)
{
	struct sim *s = &r->sim;

	for (int tries = 0; tries < 10000; tries++) {
		uint32_t i = s->n_seeds + (uint32_t)rng_below(&s->rng, r->pool_next - s->n_seeds);
		if (s->nodes[i].up && s->nodes[i].peer && !s->nodes[i].leaving && s->nodes[i].ready)
			return i;
	}
	return UINT32_MAX;
}

/* Distinct peers, n of them, among those up. */
static void
choose(struct run *r, uint32_t n)
{
	struct sim *s = &r->sim;

	r->chosen = xcalloc(n ? n : 1, sizeof(*r->chosen));
	r->n_chosen = 0;
	while (r->n_chosen < n) {
		uint32_t i = random_up_peer(r);
		bool dup = false;
		if (i == UINT32_MAX)
			break;
		for (uint32_t k = 0; k < r->n_chosen; k++)
			dup = dup || r->chosen[k] == i;
		if (!dup)
			r->chosen[r->n_chosen++] = i;
		(void)s;
	}
}

static void
fault_start(struct run *r)
{
	const struct scenario *sc = r->sc;
	struct sim *s = &r->sim;

	switch (sc->fault) {
	case F_LOSS:
		s->net.loss = sc->loss_rate;
		break;
	case F_PARTITION:
		for (uint32_t i = 0; i < s->n_nodes; i++)
			s->nodes[i].group = (uint32_t)rng_below(&s->rng, 2);
		sim_partition(s, true);
		break;
	case F_MASS_RESTART:
		for (uint32_t i = s->n_seeds; i < r->pool_next; i++)
			sim_crash_node(s, i);
		break;
	case F_CRASH:
		choose(r, (uint32_t)ceil(sc->fault_share * r->peers));
		for (uint32_t k = 0; k < r->n_chosen; k++)
			sim_crash_node(s, r->chosen[k]);
		break;
	case F_STALL:
		choose(r, (uint32_t)ceil(sc->fault_share * r->peers));
		for (uint32_t k = 0; k < r->n_chosen; k++)
			sim_stall_node(s, r->chosen[k], sc->fault_for);
		break;
	case F_DOWN:
		choose(r, (uint32_t)ceil(sc->fault_share * r->peers));
		for (uint32_t k = 0; k < r->n_chosen; k++)
			sim_crash_node(s, r->chosen[k]);
		break;
	case F_CHURN:
	case F_OVERLOAD:
	case F_NONE:
		break;
	}
}

static void
fault_end(struct run *r)
{
	struct sim *s = &r->sim;

	switch (r->sc->fault) {
	case F_LOSS:
		s->net.loss = 0;
		break;
	case F_PARTITION:
		sim_partition(s, false);
		r->fault_end = s->now;
		break;
	case F_MASS_RESTART:
		for (uint32_t i = s->n_seeds; i < r->pool_next; i++)
			sim_start_node(s, i);
		r->fault_end = s->now;
		break;
	case F_DOWN:
		for (uint32_t k = 0; k < r->n_chosen; k++)
			sim_start_node(s, r->chosen[k]);
		r->fault_end = s->now;
		break;
	default:
		break;
	}
}

/* Churn: every 6 s, a tenth of the minute's share leaves or joins (half each, on average). */
static void
churn_step(struct run *r)
{
	struct sim *s = &r->sim;
	uint32_t n = (uint32_t)ceil(r->sc->fault_share * r->peers / 10.0);

	for (uint32_t k = 0; k < n; k++) {
		if (rng_below(&s->rng, 2) && r->pool_next < s->n_nodes) {
			sim_start_node(s, r->pool_next++);
		} else {
			uint32_t i = random_up_peer(r);
			if (i != UINT32_MAX)
				sim_leave_node(s, i);
		}
	}
}

/*
 * Overload: every OVERLOAD_SLICE, each node that runs (seeds too) is, with
 * chance fault_share, stopped for 1 to 2 slices: more runnable processes than
 * cores, each getting about half of one, and waiting up to 100 ms for it.
 */
#define OVERLOAD_SLICE (50 * MS)
static void
overload_step(struct run *r)
{
	struct sim *s = &r->sim;
	uint64_t share = (uint64_t)(r->sc->fault_share * 1000);

	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (rng_below(&s->rng, 1000) < share)
			sim_stall_node(s, i, OVERLOAD_SLICE + rng_below(&s->rng, OVERLOAD_SLICE) + 1);
}

static bool
all_connected(struct run *r)
{
	for (uint32_t i = r->sim.n_seeds; i < r->pool_next; i++)
		if (!sim_node_connected(&r->sim, i))
			return false;
	return true;
}

/* Whether every live peer knows every other live peer (its view, from the seeds' lists). */
static bool
all_views(struct run *r)
{
	uint32_t live = 0;

	for (uint32_t i = r->sim.n_seeds; i < r->pool_next; i++)
		live += r->sim.nodes[i].up;
	for (uint32_t i = r->sim.n_seeds; i < r->pool_next; i++) {
		const struct sim_node *nd = &r->sim.nodes[i];
		if (nd->up && (!nd->peer || nd->peer->known.n + 1 < live))
			return false;
	}
	return true;
}

static void
on_action(struct run *r, uint64_t action)
{
	uint32_t what = (uint32_t)(action >> 32);

	switch (what) {
	case A_BROADCAST: {
		uint32_t i = random_up_peer(r);
		if (i != UINT32_MAX)
			sim_broadcast(&r->sim, i, r->sc->payload);
		break;
	}
	case A_FAULT_START:
		fault_start(r);
		break;
	case A_FAULT_END:
		fault_end(r);
		break;
	case A_CHURN_STEP:
		churn_step(r);
		break;
	case A_OVERLOAD_STEP:
		overload_step(r);
		break;
	case A_PROBE:
		if (r->fault_end && !r->recovered_at && all_connected(r))
			r->recovered_at = r->sim.now;
		if (r->fault_end && !r->views_at && all_views(r))
			r->views_at = r->sim.now;
		break;
	}
}

/* Seeds, then peers joining over a few seconds; returns when all are ready and connected. */
static void
warm_up(struct run *r, struct figures *f)
{
	struct sim *s = &r->sim;
	/* Peers start 0.5 ms apart, all within 10 s. */
	uint64_t spread = r->peers < 20000 ? (uint64_t)r->peers * 500 : 10 * S;
	uint64_t start;

	for (uint32_t i = 0; i < s->n_seeds; i++)
		sim_start_node(s, i);
	start = s->now;
	for (uint32_t i = s->n_seeds; i < s->n_seeds + r->peers; i++) {
		sim_run(s, start + (i - s->n_seeds) * spread / (r->peers ? r->peers : 1), NULL);
		sim_start_node(s, i);
	}
	r->pool_next = s->n_seeds + r->peers;
	while (!all_connected(r) && s->now < start + 120 * S)
		sim_run(s, s->now + 100 * MS, NULL);
	f->ready_s = (double)(s->now - start) / 1e6;
	/* One unmeasured broadcast (as make bench does), and the tree it shapes. */
	on_action(r, ACTION(A_BROADCAST, 0));
	sim_run(s, s->now + 2 * S, NULL);
	r->first_msg = s->n_msgs;
}

static void
schedule(struct run *r)
{
	const struct scenario *sc = r->sc;
	struct sim *s = &r->sim;

	r->t0 = s->now;
	for (uint32_t k = 0; k < r->broadcasts; k++)
		sim_schedule_action(s, r->t0 + k * sc->interval, ACTION(A_BROADCAST, k));
	if (sc->fault != F_NONE)
		sim_schedule_action(s, r->t0 + sc->fault_at, ACTION(A_FAULT_START, 0));
	if (sc->fault_for && sc->fault != F_CHURN)
		sim_schedule_action(s, r->t0 + sc->fault_at + sc->fault_for, ACTION(A_FAULT_END, 0));
	if (sc->fault == F_CHURN)
		for (uint64_t t = 0; t < sc->fault_for; t += 6 * S)
			sim_schedule_action(s, r->t0 + sc->fault_at + t, ACTION(A_CHURN_STEP, 0));
	if (sc->fault == F_OVERLOAD)
		for (uint64_t t = 0; t < sc->fault_for; t += OVERLOAD_SLICE)
			sim_schedule_action(s, r->t0 + sc->fault_at + t, ACTION(A_OVERLOAD_STEP, 0));
	if (sc->fault == F_MASS_RESTART || sc->fault == F_PARTITION || sc->fault == F_DOWN)
		for (uint64_t t = 0; t < 60 * S; t += 100 * MS)
			sim_schedule_action(s, r->t0 + sc->fault_at + sc->fault_for + t,
					    ACTION(A_PROBE, 0));
}

static uint64_t
end_of(const struct run *r)
{
	const struct scenario *sc = r->sc;
	uint64_t last = r->t0 + (r->broadcasts ? (r->broadcasts - 1) * sc->interval : 0);
	uint64_t fault = r->t0 + sc->fault_at + sc->fault_for;

	return (last > fault ? last : fault) + sc->settle;
}

static void
run_measured(struct run *r)
{
	struct sim *s = &r->sim;
	uint64_t end, action;

	r->before = s->c;
	r->measured_from = s->now;
	schedule(r);
	end = end_of(r);
	while (!sim_run(s, end, &action))
		on_action(r, action);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of v[0..n), sorted here; values scaled by `scale`. */
static struct dist
dist_of(uint32_t *v, size_t n, double scale)
{
	struct dist d = {n, 0, 0, 0};

	if (!n)
		return d;
	qsort(v, n, sizeof(*v), cmp_u32);
	d.p50 = v[(n * 50 + 99) / 100 - 1] * scale;
	d.p99 = v[(n * 99 + 99) / 100 - 1] * scale;
	d.max = v[n - 1] * scale;
	return d;
}

/* Whether peer i was meant to get message m: up, and the same process, from its sending on. */
static bool
expected(const struct run *r, const struct sim_msg *m, uint32_t i)
{
	const struct sim_node *nd = &r->sim.nodes[i];

	/*
	 * A peer restarted since (a member since before) is given what was sent
	 * while it was down; what it had not received when it went down may be
	 * lost with it (a mass restart loses the copies of messages in flight).
	 */
	return i != m->origin && nd->up && !nd->leaving && nd->member_since <= m->sent_at &&
	       (nd->up_since <= m->sent_at || m->sent_at > nd->down_since);
}

static void
delivery_figures(struct run *r, struct figures *f)
{
	struct sim *s = &r->sim;
	size_t cap = (size_t)(s->n_msgs - r->first_msg) * s->n_nodes + 1, n = 0;
	uint32_t *lat = xmalloc(cap * sizeof(*lat)), *hops = xmalloc(cap * sizeof(*hops));

	for (uint32_t k = r->first_msg; k < s->n_msgs; k++) {
		const struct sim_msg *m = &s->msgs[k];
		f->duplicates += m->duplicates;
		for (uint32_t i = s->n_seeds; i < r->pool_next; i++) {
			if (!expected(r, m, i))
				continue;
			f->expected++;
			if (m->latency_us[i] == UINT32_MAX)
				continue;
			f->delivered++;
			/* Sent before a fault ended: when its last delivery came, from that end. */
			if (r->fault_end && m->sent_at < r->fault_end &&
			    m->sent_at + m->latency_us[i] > r->fault_end &&
			    (double)(m->sent_at + m->latency_us[i] - r->fault_end) / 1e6 > f->caught_up_s)
				f->caught_up_s = (double)(m->sent_at + m->latency_us[i] - r->fault_end) / 1e6;
			lat[n] = m->latency_us[i];
			hops[n] = m->hops[i];
			n++;
		}
	}
	f->delivery = f->expected ? (double)f->delivered / (double)f->expected : 1.0;
	f->latency_ms = dist_of(lat, n, 1e-3);
	f->hops = dist_of(hops, n, 1);
	free(lat);
	free(hops);
}

static void
detection_figures(struct run *r, struct figures *f)
{
	struct sim *s = &r->sim;
	uint32_t *det = xcalloc(r->n_chosen + 1, sizeof(*det));
	uint32_t *rem = xcalloc(r->n_chosen + 1, sizeof(*rem));
	size_t nd = 0, nr = 0;

	if (r->sc->fault != F_CRASH)
		r->n_chosen = 0;
	for (uint32_t k = 0; k < r->n_chosen; k++) {
		const struct sim_node *x = &s->nodes[r->chosen[k]];
		f->crashed++;
		if (x->detected_at)
			det[nd++] = (uint32_t)((x->detected_at - x->crashed_at) / 1000);
		else
			f->undetected++;
		if (x->removed_at)
			rem[nr++] = (uint32_t)((x->removed_at - x->crashed_at) / 1000);
		else
			f->unremoved++;
	}
	f->detect_s = dist_of(det, nd, 1e-3);
	f->remove_s = dist_of(rem, nr, 1e-3);
	free(det);
	free(rem);
}

static void
compute(struct run *r, struct figures *f)
{
	struct sim *s = &r->sim;
	const uint64_t *a = s->c.frames, *b = r->before.frames;
	double bc = r->broadcasts ? r->broadcasts : 1;
	uint64_t deliveries = 0;

	f->broadcasts = s->n_msgs - r->first_msg;
	delivery_figures(r, f);
	detection_figures(r, f);
	for (uint32_t k = r->first_msg; k < s->n_msgs; k++)
		deliveries += s->msgs[k].deliveries;
	f->redundancy = deliveries ? (double)(a[FK_GOSSIP] - b[FK_GOSSIP]) / (double)deliveries : 0;
	f->ihave_per_broadcast = (double)(a[FK_IHAVE] - b[FK_IHAVE]) / bc;
	f->graft_per_broadcast = (double)(a[FK_GRAFT] - b[FK_GRAFT]) / bc;
	f->prune_per_broadcast = (double)(a[FK_PRUNE] - b[FK_PRUNE]) / bc;
	f->control_per_broadcast = f->ihave_per_broadcast + f->graft_per_broadcast +
				   f->prune_per_broadcast;
	f->false_dead = s->c.false_dead - r->before.false_dead;
	f->false_removed = s->c.false_removed - r->before.false_removed;
	f->live_leases_expired = s->c.live_leases_expired - r->before.live_leases_expired;
	f->recovered_s = r->recovered_at ? (double)(r->recovered_at - r->fault_end) / 1e6 : -1;
	f->views_s = !r->fault_end ? -1 : r->views_at ? (double)(r->views_at - r->fault_end) / 1e6
						      : 1e9;
	f->events = s->c.events;
	f->ae_bytes_per_peer_min = (double)(s->c.ae_bytes - r->before.ae_bytes) /
				   (r->peers ? r->peers : 1) /
				   ((double)(s->now - r->measured_from + 1) / 60e6);
	f->virtual_s = (double)(s->now - SIM_EPOCH_MONO) / 1e6;
}

void
scenario_run(const struct scenario *sc, const struct run_options *o, struct figures *f)
{
	struct run *r = xcalloc(1, sizeof(*r));
	struct gossip_config pc, scfg;
	uint32_t pool;
	struct timespec t0, t1;
	size_t mem;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(f, 0, sizeof(*f));
	r->sc = sc;
	r->peers = o->peers ? o->peers : sc->peers;
	r->broadcasts = o->broadcasts ? o->broadcasts : sc->broadcasts;
	f->sc = sc;
	f->peers = r->peers;
	f->seed = o->seed;
	pool = sc->fault == F_CHURN ? (uint32_t)(r->peers * sc->fault_share * 3) + 8 : 0;
	configure(r, &pc, &scfg);
	sim_init(&r->sim, o->seed, sc->seeds + r->peers + pool, &sc->net, &pc, &scfg);
	r->sim.trace = o->trace;
	for (uint32_t i = 0; i < sc->seeds; i++)
		sim_add_node(&r->sim, true);
	sim_set_seeds(&r->sim, &r->sim.peer_cfg);
	for (uint32_t i = 0; i < r->peers + pool; i++)
		sim_add_node(&r->sim, false);
	mem = heap_in_use();
	warm_up(r, f);
	f->memory_per_node_kb = (double)(heap_in_use() - mem) / 1024.0 / (sc->seeds + r->peers);
	run_measured(r);
	compute(r, f);
	sim_free(&r->sim);
	conf_free(&pc);
	conf_free(&scfg);
	free(r->chosen);
	free(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	f->wall_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
print_dist(FILE *out, const char *name, const struct dist *d, const char *unit, const char *fmt)
{
	char a[32], b[32], c[32];

	if (!d->count) {
		fprintf(out, "  %-22s -\n", name);
		return;
	}
	snprintf(a, sizeof(a), fmt, d->p50);
	snprintf(b, sizeof(b), fmt, d->p99);
	snprintf(c, sizeof(c), fmt, d->max);
	fprintf(out, "  %-22s %s / %s / %s%s\n", name, a, b, c, unit);
}

void
figures_print(const struct figures *f, FILE *out)
{
	fprintf(out, "== %s: %u peers, seed %llu: %s\n", f->sc->name, f->peers,
		(unsigned long long)f->seed, f->sc->what);
	fprintf(out, "  %-22s %.4f (%llu of %llu expected deliveries; %llu duplicates)\n",
		"delivery", f->delivery, (unsigned long long)f->delivered,
		(unsigned long long)f->expected, (unsigned long long)f->duplicates);
	print_dist(out, "hops p50/p99/max", &f->hops, "", "%.0f");
	print_dist(out, "latency p50/p99/max", &f->latency_ms, " ms", "%.2f");
	fprintf(out, "  %-22s %.3f payload frames per delivery\n", "redundancy", f->redundancy);
	fprintf(out, "  %-22s %.1f per broadcast (IHAVE %.1f, GRAFT %.1f, PRUNE %.1f)\n",
		"control frames", f->control_per_broadcast, f->ihave_per_broadcast,
		f->graft_per_broadcast, f->prune_per_broadcast);
	if (f->crashed) {
		print_dist(out, "dead detected after", &f->detect_s, " s", "%.2f");
		print_dist(out, "removed by seeds after", &f->remove_s, " s", "%.2f");
		fprintf(out, "  %-22s %llu of %llu not detected, %llu not removed\n", "", 
			(unsigned long long)f->undetected, (unsigned long long)f->crashed,
			(unsigned long long)f->unremoved);
	}
	fprintf(out, "  %-22s %llu by peers, %llu live peers removed by seeds\n",
		"false dead declarations", (unsigned long long)f->false_dead,
		(unsigned long long)f->false_removed);
	fprintf(out, "  %-22s %.0f bytes per peer per minute\n", "anti-entropy sent",
		f->ae_bytes_per_peer_min);
	if (f->live_leases_expired)
		fprintf(out, "  %-22s %llu registrations of live peers (not refreshed: another seed "
			"majority, or cut off)\n", "leases expired",
			(unsigned long long)f->live_leases_expired);
	if (f->recovered_s >= 0)
		fprintf(out, "  %-22s %.2f s after the fault ended\n", "all peers connected",
			f->recovered_s);
	if (f->views_s >= 0)
		fprintf(out, "  %-22s %.2f s after the fault ended (of messages sent before)\n",
			"last delivery", f->caught_up_s);
	if (f->views_s >= 1e9)
		fprintf(out, "  %-22s not within 60 s of the fault's end\n", "all views complete");
	else if (f->views_s >= 0)
		fprintf(out, "  %-22s %.2f s after the fault ended (every peer knows every other)\n",
			"all views complete", f->views_s);
	fprintf(out, "  %-22s %.1f KB (core and simulated connections)\n", "memory per node",
		f->memory_per_node_kb);
	fprintf(out, "  %-22s warm-up %.1f s; %.1f s virtual in %.2f s wall, %llu events\n", "run",
		f->ready_s, f->virtual_s, f->wall_s, (unsigned long long)f->events);
}

static void
json_dist(FILE *out, const char *name, const struct dist *d)
{
	fprintf(out, "\"%s\": {\"count\": %llu, \"p50\": %.6g, \"p99\": %.6g, \"max\": %.6g}, ", name,
		(unsigned long long)d->count, d->p50, d->p99, d->max);
}

void
figures_json(const struct figures *f, FILE *out)
{
	fprintf(out, "{\"scenario\": \"%s\", \"peers\": %u, \"seed\": %llu, \"broadcasts\": %u, ",
		f->sc->name, f->peers, (unsigned long long)f->seed, f->broadcasts);
	fprintf(out, "\"delivery\": %.6f, \"expected\": %llu, \"delivered\": %llu, "
		     "\"duplicates\": %llu, ", f->delivery, (unsigned long long)f->expected,
		(unsigned long long)f->delivered, (unsigned long long)f->duplicates);
	json_dist(out, "hops", &f->hops);
	json_dist(out, "latency_ms", &f->latency_ms);
	fprintf(out, "\"redundancy\": %.6f, \"control_per_broadcast\": %.3f, "
		     "\"ihave_per_broadcast\": %.3f, \"graft_per_broadcast\": %.3f, "
		     "\"prune_per_broadcast\": %.3f, ", f->redundancy, f->control_per_broadcast,
		f->ihave_per_broadcast, f->graft_per_broadcast, f->prune_per_broadcast);
	fprintf(out, "\"crashed\": %llu, ", (unsigned long long)f->crashed);
	json_dist(out, "detect_s", &f->detect_s);
	json_dist(out, "remove_s", &f->remove_s);
	fprintf(out, "\"live_leases_expired\": %llu, \"ae_bytes_per_peer_min\": %.1f, ",
		(unsigned long long)f->live_leases_expired, f->ae_bytes_per_peer_min);
	fprintf(out, "\"false_dead\": %llu, \"false_removed\": %llu, \"recovered_s\": %.3f, "
		     "\"views_s\": %.3f, \"caught_up_s\": %.3f, "
		     "\"warm_up_s\": %.3f, \"memory_per_node_kb\": %.2f, \"events\": %llu, "
		     "\"virtual_s\": %.3f, \"wall_s\": %.3f}",
		(unsigned long long)f->false_dead, (unsigned long long)f->false_removed,
		f->recovered_s, f->views_s, f->caught_up_s, f->ready_s, f->memory_per_node_kb, (unsigned long long)f->events,
		f->virtual_s, f->wall_s);
}
