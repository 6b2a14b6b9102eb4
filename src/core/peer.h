/* SPDX-License-Identifier: MIT */
/* The peer's protocol without I/O: seeds, neighbours, liveness, the broadcast tree, delivery. */
#ifndef GOSSIP_CORE_PEER_H
#define GOSSIP_CORE_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "env.h"
#include "keyring.h"
#include "membership.h"
#include "ratelimit.h"
#include "ring.h"
#include "seen.h"
#include "util.h"
#include "wire.h"

/*
 * A peer node is driven by inputs (peer_node_* below), each given the
 * current time, and acts only through its environment (env.h). The daemon
 * (src/peer) feeds it from sd-event; the unit tests and the simulator feed
 * it directly.
 */

/*
 * Inbound connections that have not said HELLO yet, at most; and beyond
 * that, for connections from a seed's host only (its probes must get
 * through whoever holds the others).
 */
#define PEER_MAX_PENDING 64
#define PEER_RESERVED_PENDING 16
/* The largest frame before HELLO (a HELLO, a seed's PING): a stranger cannot make us buffer more. */
#define PEER_PENDING_MAX_FRAME 4096
/* An inbound connection must say HELLO within this time; a seed's probe is closed after it. */
#define PEER_HANDSHAKE_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* A message stamped this long before the peer became a member is not delivered (clocks differ). */
#define PEER_JOIN_SLACK_USEC (2 * USEC_PER_SEC)
/* Peers remembered as having left the view, at most (seedlink.c). */
#define PEER_MAX_DEPARTED 4096
/* How long a leaving peer's program waits for its LEAVE frames to go out (after NOTICE_STOPPED). */
#define PEER_LEAVE_TIMEOUT_USEC (USEC_PER_SEC)
/* Queue limit of a connection before its HELLO. */
#define PEER_PENDING_QUEUE_LIMIT (64 * 1024)
/* A seed that does not answer REGISTER within this time is treated as down. */
#define PEER_REGISTER_REPLY_TIMEOUT_USEC (5 * USEC_PER_SEC)
/* At most one warning about stale messages this often. */
#define PEER_STALE_LOG_USEC (10 * USEC_PER_SEC)

/*
 * The peer's statistics, in the order gossipctl stats shows them: C()
 * counters (monotonic), G() gauges (read from the state). One table for the
 * struct, the control reply and the documentation.
 */
#define PEER_STATS(C, G)                                                                            \
	C(messages_sent, "messages this peer originated")                                          \
	C(messages_received, "messages delivered here, each once")                                 \
	C(duplicates_received, "copies of messages already delivered")                             \
	C(gossip_frames_sent, "payload frames sent (pushes and GRAFT answers)")                   \
	C(gossip_frames_received, "payload frames received")                                       \
	C(gossip_bytes_sent, "bytes of payload frames sent")                                       \
	C(pings_sent, "PING frames sent")                                                          \
	C(pings_to_carry, "PINGs sent to a neighbour heard from, to carry the ids waiting for it")  \
	C(pongs_received, "PONG frames answering this peer's PING")                                \
	C(neighbours_dead, "neighbours declared dead")                                             \
	C(neighbours_dropped_slow, "neighbours dropped for a full send queue")                     \
	C(malformed_frames, "connections closed for a malformed frame")                            \
	C(oversized_dropped, "messages over peer.max_message_size dropped")                        \
	G(seen_cache_entries, "message ids in the seen cache")                                     \
	G(seen_cache_evicted, "ids evicted from the full seen cache")                              \
	C(connections_accepted, "inbound connections accepted")                                    \
	C(ihave_frames_sent, "IHAVE frames sent")                                                  \
	C(ihave_ids_sent, "message ids announced (in IHAVE, or riding on PING and PONG)")           \
	C(ihave_ids_received, "message ids received in IHAVE")                                     \
	C(ihave_ids_spared, "announcements not sent: the neighbour had the message")               \
	C(ihave_ids_carried, "message ids announced riding on a PING or PONG, not in an IHAVE")    \
	C(grafts_sent, "message ids asked for in GRAFT")                                           \
	C(grafts_answered, "GRAFT requests answered with the message")                            \
	C(grafts_unanswerable, "GRAFT requests for a message no longer kept")                     \
	C(grafts_failed, "announced messages never received after every GRAFT")                   \
	C(grafts_deferred, "GRAFTs put off while the tree was still delivering")                   \
	C(graft_retries, "GRAFTs sent again, to another neighbour")                                \
	C(prunes_sent, "PRUNE frames sent")                                                        \
	C(prunes_received, "PRUNE frames received")                                                \
	C(prunes_withheld, "duplicates that did not prune their link")                            \
	C(tree_rejoins, "GRAFTs sent to rejoin the tree after every link was pruned")              \
	C(announcements_dropped, "announced messages forgotten: too many missing")                 \
	G(lazy_links, "neighbour links that carry IHAVE, not payloads")                            \
	G(resend_cache_bytes, "bytes of messages kept to answer GRAFT")                            \
	C(control_pauses, "times gossipctl requests were paused for a full neighbour queue")       \
	C(pushes_deferred, "payloads announced instead: the neighbour's queue was full")           \
	G(local_health, "local health score (0 healthy)")                                          \
	C(local_health_raises, "times the local health score rose")                                \
	C(stale_dropped, "messages dropped as older than the seen cache's memory")                 \
	C(graft_frames_sent, "GRAFT frames sent")                                                  \
	C(claims_refused, "frames claiming an address the sender's certificate does not list")   \
	C(signatures_bad, "messages whose signature did not match their origin's key")           \
	C(unsigned_dropped, "unsigned messages dropped (signatures required)")                      \
	C(out_of_window_dropped, "messages timestamped outside peer.max_clock_skew of our clock")  \
	C(certs_sent, "certificates sent to neighbours (CERT)")                                    \
	C(certs_received, "certificates received and verified (CERT)")                            \
	C(certs_refused, "certificates received that did not verify")                              \
	C(cert_requests_sent, "certificates asked for (CERT_REQ)")                                  \
	C(cert_waits_expired, "messages dropped after waiting for their origin's certificate")    \
	C(connections_refused, "inbound connections refused: too many waiting for HELLO")         \
	C(grafts_refused, "GRAFT requests not answered: asked again, or over the rate limit")    \
	C(neighbours_suspected, "neighbours suspected after missed pings (others asked to probe)") \
	C(suspicions_refuted, "suspected neighbours another neighbour reached: not dead")         \
	C(probe_requests_sent, "neighbours asked to probe a suspected one (PING_REQ)")            \
	C(probe_requests_received, "probes asked of this peer by a neighbour (PING_REQ)")         \
	C(probe_requests_refused, "PING_REQ not run: too many probes, or an unverified link")     \
	C(ae_summaries_sent, "anti-entropy digests sent (AE_SUMMARY)")                          \
	C(ae_summaries_received, "anti-entropy digests received (AE_SUMMARY)")                  \
	C(ae_ids_sent, "message ids listed to a neighbour by anti-entropy (AE_IDS)")            \
	C(ae_ids_received, "message ids a neighbour listed by anti-entropy (AE_IDS)")           \
	C(ae_fetched, "messages asked for because anti-entropy found them missing")             \
	C(ae_bytes_sent, "bytes of anti-entropy frames sent")                                   \
	C(newcomers_dialled, "peers dialled beyond peer.degree: newly registered (after a heal)") \
	C(catch_up_ids_sent, "ids of recent messages announced on links as they came up")        \
	C(avoided_redialled, "avoided peers dialled again: short of neighbours, none else left")  \
	C(before_member_dropped, "messages sent before this peer was a member, not delivered")

#define PEER_STAT_FIELD(name, help) uint64_t name;
#define PEER_STAT_NONE(name, help)
struct peer_stats {
	PEER_STATS(PEER_STAT_FIELD, PEER_STAT_NONE)
};

struct peer_stat_desc {
	const char *name;
	const char *help;
	bool gauge;
};
/* The table above, as data; PEER_STAT_COUNT entries. */
extern const struct peer_stat_desc peer_stat_descs[];
extern const size_t peer_stat_count;

/* GRAFT attempts per announced message that does not arrive (tree.c). */
#define TREE_GRAFT_TRIES 5

struct neighbour {
	uint32_t serial; /* this peer's own number for it, never 0 nor reused */
	struct node_addr addr;
	char addr_str[NODE_ADDR_STRLEN];
	bool wanted; /* one of the `degree` neighbours this peer chose itself */
	/*
	 * It came over a plaintext link and nothing proves its address: not
	 * learned, not redialled, not reported dead when its link goes.
	 */
	bool unverified;
	enum nb_state state;
	struct link *link; /* NULL when NB_DOWN */
	struct liveness live;
	uint64_t up_since;
	uint64_t drained_mark; /* the link's bytes written at the last tick */
	bool lazy;        /* tree.c: this link gets IHAVE, not the messages themselves */
	struct buf ihave; /* ids waiting for the next IHAVE to this neighbour */
	uint64_t ihave_due; /* when they go in an IHAVE of their own, unless a PING or PONG took them */
	struct buf graft; /* ids to ask it for at the end of this GRAFT timer run */
	struct addr_set certs_sent; /* IPs (port 0) whose certificate it has from us, or has */
	uint32_t cert_answers;      /* CERT_REQs answered since the last tick */
	/* GRAFT answers on this link (tree.c): ids answered (by fingerprint), and a byte budget. */
	uint64_t *grafted;
	uint64_t graft_tokens, graft_refill_at;
	uint64_t heard_at; /* its last frame over its link */
	/* The last suspicion (probe.c): which one, its PING_REQ nonce, answers. */
	uint32_t probed_for;
	uint64_t probe_nonce;
	uint32_t probes_asked, probes_nacked;
	bool probe_extended;
	struct neighbour *prev, *next;
};

/* The peer's dealings with one seed. */
struct seed_session {
	struct node_addr addr;
	char addr_str[NODE_ADDR_STRLEN];
	struct link *link;
	bool connected;
	bool wanted;     /* part of the majority this peer registers with */
	bool registered; /* a PEER_LIST answered our REGISTER on this connection */
	struct addr_set list; /* peers this seed last listed */
	uint64_t register_sent_at; /* a registration attempt (connect + REGISTER) began; 0 = none */
	uint64_t next_attempt;
	uint64_t backoff;
	char *host; /* the name it was given by (seedname.c), or NULL for an address */
	uint64_t resolving_since; /* its name was asked for (env_ops.resolve); 0 = answered */
};

enum peer_state {
	PEER_REGISTERING,
	PEER_READY,
	PEER_LEAVING,
};

/* The core's timers; each is a deadline, 0 when off. */
enum peer_timer {
	PEER_T_TICK,     /* liveness, housekeeping: every peer.ping_interval */
	PEER_T_REGISTER, /* keep a seed majority wanted */
	PEER_T_REFRESH,  /* refresh the leases: every seed.lease_time / 3 */
	PEER_T_IHAVE,    /* announce gathered ids */
	PEER_T_GRAFT,    /* ask for announced messages that did not come (an idle wake-up) */
	PEER_T_MEMBERS,  /* a membership query's seeds are out of time (members.c) */
	PEER_TIMERS,
};

struct iprobe;
struct members_query;

struct peer_node {
	struct env env;
	struct gossip_config cfg; /* the node's own copy */
	struct node_addr self;
	char self_str[NODE_ADDR_STRLEN];
	char self_ip[NODE_ADDR_STRLEN];
	uint64_t incarnation;
	struct rng rng;
	enum peer_state state;
	bool stopped; /* NOTICE_STOPPED was given */

	uint64_t now; /* the monotonic time of the input being handled */
	uint64_t timer[PEER_TIMERS];
	uint64_t tick_due;          /* when the running tick was due (its lateness) */
	uint64_t woken[WAKE_CLASSES]; /* what the environment was last asked for */

	/* seeds (seedlink.c) */
	struct seed_session *seeds;
	uint32_t n_seeds;
	uint32_t *seed_order;
	uint32_t seeds_required;
	uint32_t seeds_generation; /* the seed list's, in resolve tokens (seedname.c) */
	struct ratelimit resolve_log; /* warnings about names that do not resolve */
	uint64_t last_retry_log;

	/* overlay (overlay.c) */
	struct addr_set known;
	struct addr_set avoid; /* dead or refusing: not connected to until they talk to us */
	struct addr_set refusers; /* of those, the ones that refused us (full, or not who we dialled) */
	struct addr_set listed;   /* the view at the last refresh (seedlink.c) */
	struct addr_set departed; /* peers that left the view since: one listed again is returning */
	uint64_t avoid_cleared_at;
	struct neighbour *neighbours;
	uint32_t n_neighbours;
	uint32_t neighbour_serial; /* the last one given */
	struct link *pending; /* inbound before HELLO, and seed probes */
	uint32_t n_pending;
	struct liveness_params live;
	struct local_health health;
	struct iprobe *iprobes; /* probes run for neighbours (probe.c) */
	uint32_t n_iprobes;
	uint64_t refuted_at; /* we were last probed, and refreshed our leases */
	uint64_t ae_next_at; /* the next anti-entropy round (antientropy.c) */
	uint64_t history_from; /* unix usec: anti-entropy fetches nothing older (a member since) */

	/* gossip (gossip.c) */
	struct seen_cache seen;
	uint64_t next_seq;
	uint64_t stale_logged_at, stale_logged; /* the last "stale" warning: when, stale_dropped then */
	uint64_t stale_reach; /* at the last stale drop, how far back the seen cache reached */
	struct ratelimit claims_log; /* lines about refused claims */
	struct ratelimit accept_log; /* connections refused at PEER_MAX_PENDING */
	struct ratelimit remote_log; /* other lines a remote can cause (peer_log_limited) */

	/* origin authentication (authn.c) */
	bool signing;   /* this peer signs its broadcasts (TLS and peer.sign_messages) */
	bool verifying; /* signatures are checked (TLS: certificates can be verified) */
	bool require_signatures; /* unsigned messages are dropped (tls.mode required) */
	struct keyring keyring;
	struct ring parked;          /* messages waiting for their origin's certificate */
	struct addr_set cert_asked;  /* IPs asked for since the last tick */
	struct ratelimit authn_log;

	/* broadcast tree (tree.c) */
	struct seen_cache announced; /* ids heard in IHAVE, so each is waited for once */
	struct ring missing[TREE_GRAFT_TRIES + 1]; /* announced messages not received, per attempt */
	uint64_t tree_delivered_at;  /* the last message received in full; 0: none yet */
	uint8_t last_delivered[WIRE_ID_LEN];
	uint64_t tree_cut_at;  /* an eager link was lost */
	uint64_t graft_jitter; /* this peer's own part of the GRAFT wait */
	uint64_t tree_rtt;     /* the median smoothed round trip of the links up (tree_tick) */

	struct peer_stats stats;
	struct members_query *members; /* gossipctl members (members.c); NULL until asked */
};

/*
 * Sets up n from a copy of cfg. self: the advertised address; seed: the
 * random generator's seed (the daemon takes it from getrandom, the
 * simulator from its scenario). Nothing happens before peer_node_start().
 */
void peer_node_init(struct peer_node *n, const struct gossip_config *cfg,
		    const struct node_addr *self, uint64_t seed, const struct env *env);
/*
 * Before peer_node_start(): a message this node held before it restarted
 * (env_ops.remember), stamped by its origin. It is neither delivered again
 * nor asked for, and anti-entropy counts it as held.
 */
void peer_node_remember(struct peer_node *n, const uint8_t id[WIRE_ID_LEN], uint64_t stamp,
			struct instant t);
/*
 * Before peer_node_start(): this node has been a member since `since` (unix
 * usec, from its state file): anti-entropy fetches nothing older. Unset, it
 * is the start: a new peer is not given what was broadcast before it came.
 */
void peer_node_set_history(struct peer_node *n, uint64_t since);
/* Starts registering and the periodic tick. */
void peer_node_start(struct peer_node *n, struct instant t);
/* Frees everything; links still open are closed through the environment. */
void peer_node_free(struct peer_node *n);

/*
 * Inputs from connections. accept: an inbound connection (io is the
 * environment's handle, desc names the remote); returns its link, or NULL
 * when refused (the environment closes it). connected: an outbound connect
 * completed. frame: one complete frame on lk; last_in_read when no more
 * input was read after it. Returns 0, or -EBADMSG with *reason, upon which
 * the environment closes lk and reports it closed with error EBADMSG.
 * closed: lk is gone (reason, errno or 0); the core frees lk.
 */
struct link *peer_node_accept(struct peer_node *n, void *io, const struct node_addr *remote,
			      struct instant t);
/* Whether a is an IP address of one of the peer's seeds (any port). */
bool peer_node_is_seed_host(const struct peer_node *n, const struct node_addr *a);
void peer_node_connected(struct peer_node *n, struct link *lk, struct instant t);
int peer_node_frame(struct peer_node *n, struct link *lk, const uint8_t *frame, size_t len,
		    bool last_in_read, struct instant t, const char **reason);
void peer_node_closed(struct peer_node *n, struct link *lk, const char *reason, int error,
		      struct instant t);

/*
 * The answer to env_ops.resolve: the addresses of a seed's name (n of
 * them, in the resolver's order), or none and why. A seed whose address is
 * no longer among them moves to the first that is no other seed's.
 */
void peer_node_resolved(struct peer_node *n, uint64_t token, const struct node_addr *addrs,
			size_t k, const char *error, struct instant t);
/* A lookup not answered in this time is asked again at the next refresh. */
#define PEER_RESOLVE_TIMEOUT_USEC (60 * USEC_PER_SEC)

/* The wake-up asked for with env_ops.wake came due. */
void peer_node_wakeup(struct peer_node *n, enum wake_class cls, struct instant t);

/* Originates a message: 0 with its id and sequence number, -EINVAL when empty, -EMSGSIZE. */
int peer_node_broadcast(struct peer_node *n, const uint8_t *payload, size_t len, struct instant t,
			uint8_t id[WIRE_ID_LEN], uint64_t *seq);

/*
 * What protects origins: self, this node's own certificate (NULL without
 * TLS), and whether unsigned messages are refused. Signing and checking
 * need the environment's sign and verify_cert; the keyring keeps
 * peer.key_cache_size origins. Called after init and on each reload.
 */
void peer_node_set_security(struct peer_node *n, const struct identity *self, bool require);

/*
 * Leaves the network: LEAVE to the seeds and neighbours, every link closed
 * once written, then NOTICE_STOPPED. The program then gives the environment
 * up to PEER_LEAVE_TIMEOUT_USEC to write what is queued, and exits.
 */
void peer_node_leave(struct peer_node *n, struct instant t);

/*
 * Applies a reloaded configuration (a copy is taken). Settings bound at start
 * (PEER_RESTART_SETTINGS) must already have been kept at their old values.
 */
void peer_node_reconfigure(struct peer_node *n, const struct gossip_config *cfg, struct instant t);
#define PEER_RESTART_SETTINGS                                                                       \
	"peer.seen_cache_size", "peer.history", "log_dir", "address", "peer.control_socket",       \
		"peer.control_group", "peer.state_file"

/* Queries, for the control socket and the status line. */
uint32_t peer_node_seeds_registered(const struct peer_node *n);
uint64_t peer_node_stat(const struct peer_node *n, size_t i);
const char *peer_state_name(enum peer_state s);
const char *nb_state_name(enum nb_state s);

#endif
