/* SPDX-License-Identifier: MIT */
/* Pure membership logic: seed majorities, sets of known peers, neighbour liveness. */
#ifndef GOSSIP_MEMBERSHIP_H
#define GOSSIP_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrindex.h"
#include "util.h"

/* floor(n/2) + 1: any two such subsets of n seeds intersect. */
static inline size_t
seed_majority(size_t n)
{
	return n / 2 + 1;
}

/*
 * Writes a random permutation of 0..n-1 to order: a peer registers with the
 * first seed_majority(n) and falls back to the next ones when some fail.
 */
void seed_order_shuffle(size_t n, struct rng *rng, uint32_t *order);

/*
 * A set of addresses (known peers), in an array with a hash index: O(1)
 * lookups, additions and removals (the last element takes a removed one's
 * place). A zeroed set is empty and usable; addr_set_init() keys its hash
 * for sets filled from the network.
 */
struct addr_set {
	struct node_addr *v;
	size_t n, cap;
	struct addr_index index;
};

void addr_set_init(struct addr_set *s, uint64_t k0, uint64_t k1);
void addr_set_free(struct addr_set *s);
void addr_set_clear(struct addr_set *s);
bool addr_set_contains(const struct addr_set *s, const struct node_addr *a);
/* The position of a in s->v, or -1. */
int64_t addr_set_find(const struct addr_set *s, const struct node_addr *a);
/* Returns true when a was added (not already there). */
bool addr_set_add(struct addr_set *s, const struct node_addr *a);
bool addr_set_remove(struct addr_set *s, const struct node_addr *a);

/*
 * Picks a random member of s for which exclude(a, ctx) is false. Returns
 * false when there is none.
 */
bool addr_set_pick(const struct addr_set *s, struct rng *rng,
		   bool (*exclude)(const struct node_addr *a, void *ctx), void *ctx,
		   struct node_addr *ret);

/*
 * Liveness of one neighbour, driven by a periodic tick. Any frame received
 * from it proves it alive, so a busy link never counts as silent, and a tick
 * pings only a neighbour not heard from since the previous tick: one side's
 * PING is the other side's proof, so an idle link carries one PING and PONG
 * an interval instead of two of each.
 *
 * A failure is a ping unanswered within the timeout, a lost connection, or a
 * failed or timed-out reconnect. After `misses` consecutive failures the
 * neighbour is suspected (SWIM, Lifeguard): the overlay asks other
 * neighbours to probe it, and it is dead only when nothing proves it alive
 * for suspicion_usec. Loss and slowness delay a TCP stream without breaking
 * it; a crashed process's host refuses the reconnect, and a failure that is
 * such a refusal ("hard") makes the neighbour dead at `misses` at once, as
 * fast as before. suspicion_usec 0: dead at `misses`, whatever the failure.
 */
struct liveness_params {
	uint64_t interval_usec;
	uint64_t timeout_usec;
	uint32_t misses;
	uint64_t suspicion_usec;
	/* A connection attempt (TCP, TLS, HELLO both ways) is given at least this long (0: timeout). */
	uint64_t connect_usec;
	/*
	 * A ping waits at least 3, a connection attempt 4 smoothed round trips
	 * of the link (up to LIVENESS_RTT_WAIT_MAX): a slow link is not a dead one.
	 */
	bool adaptive;
};

/* The longest wait the measured round trip makes (a slower link is as good as dead). */
#define LIVENESS_RTT_WAIT_MAX (10 * USEC_PER_SEC)

enum nb_state {
	NB_DOWN,       /* no connection; the next tick reconnects */
	NB_CONNECTING, /* TCP connect or handshake in progress */
	NB_UP,         /* handshake done */
};

struct liveness {
	uint32_t misses;
	bool awaiting; /* a ping is outstanding */
	bool heard;    /* a frame came from it since the last tick: the tick sends no ping */
	bool hard;     /* the last failure was its host refusing the connection */
	bool suspected;
	uint32_t suspicions; /* suspicions begun, to tell one from the next */
	uint64_t suspect_since;
	uint64_t nonce;
	uint64_t ping_sent_at;
	uint64_t attempt_at; /* when the current connect began */
	uint64_t rtt_usec;   /* last measured round trip, 0 = none yet */
	uint64_t srtt_usec;  /* smoothed round trip (RFC 6298's 1/8 gain), 0 = none yet */
};

enum liveness_action {
	LIVENESS_WAIT,      /* nothing to do this tick */
	LIVENESS_PING,      /* send PING with l->nonce */
	LIVENESS_RECONNECT, /* start a new connection (l->attempt_at set) */
	LIVENESS_DEAD,      /* declare the neighbour dead: refused, or suspected too long */
};

/*
 * Local health, after Lifeguard (Dadgar et al., 2018). When the host is
 * overloaded, misses say more about it than about the neighbours: a process
 * starved of CPU runs its periodic tick late, and on such a host most
 * neighbours answer late at once, while one hung neighbour is alone in
 * missing. Each tick later than a quarter of the ping timeout raises the
 * score by one plus the whole ping timeouts it ran late (the neighbours,
 * starved as long, may answer as late), each tick in which most neighbours
 * that are up missed a ping raises it by one, up to LOCAL_HEALTH_MAX; every
 * LOCAL_HEALTH_CALM_TICKS ticks on time, each after one without such misses,
 * lower it by one (overload comes in bursts: a calm tick between two is not
 * the end of it). Ping and connect
 * timeouts are multiplied by 1 + score. A
 * neighbour that crashed refuses the reconnect and is found as fast as before.
 */
#define LOCAL_HEALTH_MAX 8
/* Calm ticks (on time, after one without such misses) per step down. */
#define LOCAL_HEALTH_CALM_TICKS 2
struct local_health {
	uint32_t score;
	uint32_t calm; /* calm ticks since the last step down or raise */
	bool missed;   /* the last tick had most neighbours miss */
};
/* Raises the score by `by` (capped); true when it changed. */
bool local_health_raise(struct local_health *h, uint64_t by);
/* Before a tick's checks: the tick ran lag_usec late. True when the score changed. */
bool local_health_tick(struct local_health *h, uint64_t lag_usec, const struct liveness_params *p);
/* After them: missed of the up neighbours checked missed a ping. True when raised. */
bool local_health_misses(struct local_health *h, unsigned missed, unsigned checked);
/* p with its timeouts (ping and suspicion) multiplied by 1 + score. */
struct liveness_params liveness_scaled(const struct liveness_params *p, uint32_t score);

void liveness_init(struct liveness *l);
enum liveness_action liveness_tick(struct liveness *l, enum nb_state state, uint64_t now,
				   const struct liveness_params *p, struct rng *rng);
/*
 * Starts a ping (a fresh nonce, its send time) unless one is outstanding:
 * true when the caller is to send PING with l->nonce. liveness_tick does it
 * for a neighbour not heard from; the tree, for one heard from that ids wait
 * for (tree_carry_due).
 */
bool liveness_start_ping(struct liveness *l, uint64_t now, struct rng *rng);
/* Whether the outstanding ping of a neighbour that is up has timed out (a miss at the next tick). */
bool liveness_ping_overdue(const struct liveness *l, uint64_t now, const struct liveness_params *p);
/*
 * Records one failure (lost connection, failed connect; hard: refused by
 * its host). True when it is now dead.
 */
bool liveness_miss(struct liveness *l, const struct liveness_params *p, bool hard, uint64_t now);
/* Whether l is dead by now: refused at `misses`, or suspected for the suspicion timeout. */
bool liveness_dead(const struct liveness *l, uint64_t now, const struct liveness_params *p);
/* Restarts a suspicion's clock (the suspecting node doubts its own links). */
void liveness_extend(struct liveness *l, uint64_t now);
/* Any frame from the neighbour. */
void liveness_heard(struct liveness *l);
/* A PONG; returns true when it answers the outstanding ping (rtt updated). */
bool liveness_pong(struct liveness *l, uint64_t nonce, uint64_t now);

#endif
