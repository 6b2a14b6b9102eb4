/* SPDX-License-Identifier: MIT */
/* Host names to addresses: before the event loop runs, and on it without blocking (getaddrinfo_a). */
#ifndef GOSSIP_IO_RESOLVE_H
#define GOSSIP_IO_RESOLVE_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "core/config.h"
#include "core/util.h"

/*
 * Addresses of one name looked at, at most: a name with more (a large
 * /etc/hosts, a hostile DNS answer) has the rest ignored, and cannot make
 * the daemon hold or compare more.
 */
#define RESOLVE_MAX_ADDRS 16

/*
 * The distinct addresses of family (AF_UNSPEC: either) in ai, in its order,
 * with port: at most max into out; returns how many. *total (may be NULL)
 * is how many distinct ones of that family there were, the cap aside.
 */
size_t resolve_collect(const struct addrinfo *ai, int family, uint16_t port, struct node_addr *out,
		       size_t max, size_t *total);

/*
 * Of a name's addresses (n > 0), the one a node takes for its own: the
 * first IPv4 address, else the first: the same on every host, whatever its
 * resolver prefers (localhost is 127.0.0.1, where the seeds listen by
 * default, not ::1).
 */
const struct node_addr *resolve_pick_own(const struct node_addr *addrs, size_t n);

/* One lookup's answer. */
struct resolve_result {
	const struct node_addr *addrs; /* in the resolver's order; n of them, RESOLVE_MAX_ADDRS at most */
	size_t n;
	size_t total;      /* before the cap */
	const char *error; /* when n is 0: why ("Name or service not known", "no IPv6 address") */
};

/*
 * Before the event loop: this node's own address, host an IP address or a
 * name (resolve_pick_own() of its addresses), and port. 0, or -EINVAL with
 * the reason in err. Blocks until resolved.
 */
int resolve_self_now(const char *host, const char *port, struct node_addr *ret, char *err,
		     size_t errlen);

/*
 * Before the event loop: every seed of c given by name gets the first of
 * its addresses of family (the node's own), all looked up at once. Then no
 * two seeds may be one address. 0, or -EINVAL with "file:line: ..." lines
 * in err (naming the host). Blocks until every name is resolved.
 */
int resolve_seeds_now(struct gossip_config *c, int family, char *err, size_t errlen);

/* Lookups on an event loop; at most one resolver per loop (it owns a signal). */
struct resolver;
int resolver_new(sd_event *e, struct resolver **ret);
/* Answers not yet in are dropped (lookups glibc is still running finish in its threads). */
void resolver_free(struct resolver *r);
/*
 * Starts looking host up (addresses of family, with port); cb gets the
 * answer, with userdata and tag, from the loop, unless the lookup is
 * cancelled. 0 or -errno (cb is not called then).
 */
int resolver_query(struct resolver *r, const char *host, uint16_t port, int family,
		   void (*cb)(void *userdata, uint64_t tag, const struct resolve_result *res),
		   void *userdata, uint64_t tag);
/* The answers to lookups started with userdata will not be given. */
void resolver_cancel(struct resolver *r, const void *userdata);

/*
 * resolve_seeds_now() on the loop: done(ctx, err) once every name of c is
 * resolved, err "" on success, else the lines as resolve_seeds_now() gives
 * them. c must stay until then (or resolve_seeds_cancel()). 0 or -errno.
 */
struct seed_lookup;
int resolve_seeds_start(struct resolver *r, struct gossip_config *c, int family,
			void (*done)(void *ctx, const char *err), void *ctx, struct seed_lookup **ret);
void resolve_seeds_cancel(struct resolver *r, struct seed_lookup *l);

#endif
