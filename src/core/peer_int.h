/* SPDX-License-Identifier: MIT */
/* Internal interface between the modules of the peer core (peer, seedlink, overlay, gossip, tree). */
#ifndef GOSSIP_CORE_PEER_INT_H
#define GOSSIP_CORE_PEER_INT_H

#include "peer.h"

#define peer_log(n, prio, ...) env_logf(&(n)->env, prio, NULL, __VA_ARGS__)
#define peer_event(n, prio, fields, ...) env_logf(&(n)->env, prio, fields, __VA_ARGS__)
/* A line a remote can cause (ratelimit.h). */
#define peer_log_limited(n, prio, ...)                                                             \
	env_logf_limited(&(n)->env, &(n)->remote_log, (n)->now, prio, NULL, __VA_ARGS__)
#define peer_debug(n, ...)                                                                         \
	do {                                                                                       \
		if (env_log_enabled(&(n)->env, LOG_DEBUG))                                         \
			env_logf(&(n)->env, LOG_DEBUG, NULL, __VA_ARGS__);                         \
	} while (0)

/* peer.c: timers, links, notices. */
void peer_timer_set(struct peer_node *n, enum peer_timer t, uint64_t at);
/* Tells the environment about the earliest deadline of each wake-up class, if it changed. */
void peer_sync_wake(struct peer_node *n);
void peer_notice(struct peer_node *n, enum notice what);
void peer_check_ready(struct peer_node *n);
/* Counts and logs a change of the local health score from was; why names a rise's cause. */
void peer_health_changed(struct peer_node *n, uint32_t was, const char *why);
/*
 * Whether lk may claim a (its certificate lists a's IP, or it is plaintext);
 * when not, counts and logs (rate-limited) that `what` was refused.
 */
bool peer_claim_ok(struct peer_node *n, const struct link *lk, const struct node_addr *a,
		   const char *what);
/* Every link that ends for a protocol reason is logged through here. */
void peer_log_link_error(struct peer_node *n, const struct link *lk, const char *what,
			 const char *reason, int error);
struct link *peer_link_new(struct peer_node *n, enum link_kind kind, void *owner, bool outbound,
			   uint64_t now, const char *desc, size_t queue_limit);
/* Starts an outbound connection for a new link: the link, or NULL with *err. */
struct link *peer_link_connect(struct peer_node *n, enum link_kind kind, void *owner,
			       const struct node_addr *to, uint64_t now, size_t queue_limit,
			       int *err);
/* Closes lk through the environment and frees it. */
void peer_link_close(struct peer_node *n, struct link *lk, const char *reason, int error,
		     bool after_flush);
/* Sends a frame on lk: what env_ops.send returns. */
int peer_link_send(struct peer_node *n, struct link *lk, struct blob *frame);
/* The same with the frame in b, which is emptied. */
int peer_link_send_buf(struct peer_node *n, struct link *lk, struct buf *b);
/* An ERROR frame, then the link closes once it is written. */
void peer_link_refuse(struct peer_node *n, struct link *lk, uint16_t code, const char *text);

/* seedlink.c: registration with a seed majority, leases, dead reports, leave. */
void seeds_init(struct peer_node *n);
void seeds_start(struct peer_node *n, uint64_t now);
void seeds_free(struct peer_node *n);
void seeds_rebuild_known(struct peer_node *n);
void seeds_report_dead(struct peer_node *n, const struct node_addr *dead, struct instant t);
void seeds_leave(struct peer_node *n);
/* s's name no longer resolves to its address: it is registered with at `to`, at once. */
void seeds_moved(struct peer_node *n, struct seed_session *s, const struct node_addr *to,
		 uint64_t now);

/* seedname.c: seeds given by name, looked up again at each lease refresh. */
void seeds_resolve(struct peer_node *n, uint64_t now);
/* Whether seed i of the configuration is the one session i was made from (same name or address). */
bool seeds_same_as_config(const struct peer_node *n, uint32_t i);
/* Someone probes us: refreshes our leases now (at most once a ping interval), so a seed that doubts us hears from us. */
void seeds_refute(struct peer_node *n, uint64_t now);
void seeds_reconfigure(struct peer_node *n, uint64_t now);
/* Gives up on seeds that do not answer REGISTER in time. */
void seeds_tick(struct peer_node *n, uint64_t now);
void seeds_register_due(struct peer_node *n, uint64_t now);
void seeds_refresh_due(struct peer_node *n, uint64_t now);
void seeds_connected(struct peer_node *n, struct seed_session *s, uint64_t now);
int seeds_frame(struct peer_node *n, struct seed_session *s, const struct wire_msg *m,
		uint64_t now, const char **reason);
void seeds_closed(struct peer_node *n, struct seed_session *s, const char *reason, int error,
		  uint64_t now);

/* members.c: the LINK_MEMBERS links' inputs, the query's timer, and its end. */
void members_connected(struct peer_node *n, struct link *lk);
int members_frame(struct peer_node *n, struct link *lk, const struct wire_msg *m,
		  const char **reason);
void members_closed(struct peer_node *n, struct link *lk, const char *reason, int error);
/* The seeds still asking fail with why (NULL: out of time); the query ends. */
void members_cancel(struct peer_node *n, const char *why);
void members_free(struct peer_node *n);

/* overlay.c: neighbours, handshake, liveness, dead detection, degree upkeep. */
void overlay_start(struct peer_node *n);
void overlay_free(struct peer_node *n);
struct link *overlay_accept(struct peer_node *n, void *io, const struct node_addr *remote,
			    uint64_t now);
void overlay_connected(struct peer_node *n, struct link *lk);
int overlay_frame(struct peer_node *n, struct link *lk, const uint8_t *frame, size_t len,
		  const struct wire_msg *m, bool last_in_read, struct instant t, const char **reason);
void overlay_closed(struct peer_node *n, struct link *lk, const char *reason, int error,
		    struct instant t);
void overlay_tick(struct peer_node *n, struct instant t);
/* Dials a, beyond peer.degree (peer.max_neighbours permitting): a newcomer to link with. */
void overlay_welcome(struct peer_node *n, const struct node_addr *a, uint64_t now);
/* Picks replacements until this peer has `degree` neighbours of its own choosing. */
void overlay_maintain(struct peer_node *n, uint64_t now);
void overlay_leave(struct peer_node *n);
struct neighbour *overlay_find(const struct peer_node *n, const struct node_addr *a);
/* Queues a frame to nb; a neighbour whose queue is over the limit loses its link (-ENOBUFS). */
int neighbour_send(struct peer_node *n, struct neighbour *nb, struct blob *frame);
/* The same with the frame in b, which is freed. */
void neighbour_send_buf(struct peer_node *n, struct neighbour *nb, struct buf *b);

/* probe.c: indirect probes of suspected neighbours (PING_REQ, PING_ACK). */
/* nb was just suspected: asks up to peer.indirect_probes other neighbours to probe it. */
void probe_suspect(struct peer_node *n, struct neighbour *nb, struct instant t);
/* nb's suspicion timed out: true when it is extended once (nobody asked answered at all). */
bool probe_expired(struct peer_node *n, struct neighbour *nb, struct instant t);
void probe_request(struct peer_node *n, struct neighbour *from, const struct wire_msg *m,
		   struct instant t);
void probe_ack(struct peer_node *n, struct neighbour *from, const struct wire_msg *m,
	       struct instant t);
/* A frame from neighbour nb: probes of it over our own link are answered. */
void probe_heard(struct peer_node *n, const struct neighbour *nb, struct instant t);
/* The LINK_IPROBE links' inputs. */
void probe_connected(struct peer_node *n, struct link *lk, struct instant t);
int probe_frame(struct peer_node *n, struct link *lk, const struct wire_msg *m, struct instant t);
void probe_closed(struct peer_node *n, struct link *lk, const char *reason, int error);
void probe_tick(struct peer_node *n, struct instant t);
void probe_free(struct peer_node *n);

/* antientropy.c: digests of the ids held, compared with a neighbour's. */
/* Every peer.anti_entropy_interval: a TOTAL to a random neighbour. */
void ae_tick(struct peer_node *n, struct instant t);
void ae_summary(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m,
		struct instant t);
void ae_ids(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, struct instant t);

/* gossip.c: originate, verify, deliver once, forward once. */
void gossip_init(struct peer_node *n);
void gossip_free(struct peer_node *n);
int gossip_broadcast(struct peer_node *n, const uint8_t *payload, size_t len, struct instant t,
		     uint8_t id[WIRE_ID_LEN], uint64_t *seq);
/* A GOSSIP frame from nb. -EBADMSG with *reason on a bad frame. */
int gossip_receive(struct peer_node *n, struct neighbour *nb, const uint8_t *frame, size_t len,
		   const struct wire_msg *m, bool last_in_read, struct instant t,
		   const char **reason);
/* Warns, at most every PEER_STALE_LOG_USEC, of messages dropped as stale. */
void gossip_tick(struct peer_node *n, uint64_t now);
/* A message that waited for its origin's certificate, checked again (nb NULL: it left). */
void gossip_resume(struct peer_node *n, struct neighbour *nb, const struct node_addr *from,
		   const uint8_t *frame, size_t len, struct instant t);

/* authn.c: origins' signatures, their certificates pushed and pulled between neighbours. */
enum authn_verdict {
	AUTHN_OK,
	AUTHN_DROP,   /* counted and logged */
	AUTHN_PARKED, /* waits for its origin's certificate */
};
void authn_init(struct peer_node *n);
void authn_free(struct peer_node *n);
/* Signs message id as this node: true with sig. */
bool authn_sign(struct peer_node *n, const uint8_t id[WIRE_ID_LEN], uint8_t sig[WIRE_SIG_LEN]);
enum authn_verdict authn_check(struct peer_node *n, struct neighbour *nb,
			       const struct node_addr *from, const char *from_str,
			       const uint8_t *frame, size_t len, const struct wire_msg *m,
			       struct instant t, bool may_park);
/* Before a GOSSIP of origin goes to nb: its certificate, if nb may not have it. */
void authn_before_push(struct peer_node *n, struct neighbour *nb, const struct node_addr *origin);
/* CERT or CERT_REQ from nb. */
void authn_frame(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m,
		 struct instant t);
/* nb's link is up: its certificate is learned, and it has ours. */
void authn_link_up(struct peer_node *n, struct neighbour *nb, const struct link *lk);
/* Drops messages that waited too long; forgets which certificates were asked for. */
void authn_tick(struct peer_node *n, struct instant t);
/* A log line about what a remote sent, at most RATELIMIT_BURST per window. */
void authn_log(struct peer_node *n, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* tree.c: the broadcast tree (Plumtree). */
void tree_init(struct peer_node *n);
void tree_free(struct peer_node *n);
void tree_reconfigure(struct peer_node *n);
/* Sends frame (message id) on eager links and queues IHAVE on lazy ones; returns the eager count. */
uint32_t tree_push(struct peer_node *n, struct blob *frame, const uint8_t id[WIRE_ID_LEN],
		   const struct neighbour *except, const struct node_addr *origin, uint64_t now);
/*
 * Anti-entropy found nb holds these ids: those not received are asked of it
 * now (GRAFT), then of others like any missing message. Returns how many.
 */
uint32_t tree_fetch(struct peer_node *n, struct neighbour *nb, const uint8_t *ids, uint16_t count,
		    uint64_t now);
/* A message arrived in full for the first time. */
void tree_received(struct peer_node *n, const uint8_t id[WIRE_ID_LEN], uint64_t now);
/* From the periodic tick: GRAFTs held back too long by a stream of input go now. */
void tree_tick(struct peer_node *n, uint64_t now);
/* nb's link is going away (while nb->state still says whether it was up). */
void tree_link_lost(struct peer_node *n, const struct neighbour *nb, uint64_t now);
/* nb has a new link: what it was sent on the last one counts no more. */
void tree_link_up(struct peer_node *n, struct neighbour *nb, uint64_t now);
/* A duplicate came from nb; first_from: the serial of the neighbour of the first copy, or 0. */
void tree_duplicate(struct peer_node *n, struct neighbour *nb, const uint8_t id[WIRE_ID_LEN],
		    uint32_t first_from);
/* IHAVE, GRAFT or PRUNE from nb. */
void tree_on_frame(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m,
		   uint64_t now);
void tree_ihave_due(struct peer_node *n, uint64_t now);
/* Whether ids wait for nb that a PING would carry (peer.carry_ihave). */
bool tree_carry_due(const struct peer_node *n, const struct neighbour *nb, uint64_t now);
/* A PING or PONG to nb, with the ids waiting for it riding along (peer.carry_ihave). */
void tree_send_ping(struct peer_node *n, struct neighbour *nb, uint8_t type, uint64_t nonce);
/* The ids a PING or PONG from nb carried. */
void tree_carried(struct peer_node *n, struct neighbour *nb, const struct wire_msg *m, uint64_t now);
void tree_graft_due(struct peer_node *n, uint64_t now);

#endif
