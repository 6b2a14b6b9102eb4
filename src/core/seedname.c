/* SPDX-License-Identifier: MIT */
/* Seeds given by name: looked up again at each lease refresh, and followed when they move. */
#include <stdio.h>
#include <string.h>

#include "hostport.h"
#include "peer_int.h"

/* A resolve token: the seed list's generation, and the session. */
static uint64_t
token_of(const struct peer_node *n, uint32_t i)
{
	return (uint64_t)n->seeds_generation << 32 | i;
}

void
seeds_resolve(struct peer_node *n, uint64_t now)
{
	if (!n->env.ops->resolve)
		return;
	for (uint32_t i = 0; i < n->n_seeds; i++) {
		struct seed_session *s = &n->seeds[i];
		if (!s->host ||
		    (s->resolving_since && now - s->resolving_since < PEER_RESOLVE_TIMEOUT_USEC))
			continue;
		s->resolving_since = now ? now : 1;
		n->env.ops->resolve(n->env.ctx, token_of(n, i), s->host, s->addr.port, n->self.family);
	}
}

bool
seeds_same_as_config(const struct peer_node *n, uint32_t i)
{
	const struct seed_session *s = &n->seeds[i];
	const char *host = conf_seed_host(&n->cfg, i);

	if (!host || !s->host)
		return !host && !s->host && node_addr_equal(&n->cfg.seeds[i], &s->addr);
	return host_name_equal(host, s->host) && n->cfg.seeds[i].port == s->addr.port;
}

/* Whether a is the address of a seed other than s. */
static bool
other_seed(const struct peer_node *n, const struct seed_session *s, const struct node_addr *a)
{
	for (uint32_t i = 0; i < n->n_seeds; i++)
		if (&n->seeds[i] != s && node_addr_equal(&n->seeds[i].addr, a))
			return true;
	return false;
}

static void
resolved(struct peer_node *n, struct seed_session *s, const struct node_addr *addrs, size_t k,
	 const char *error, uint64_t now)
{
	const struct node_addr *to = NULL;
	char as[NODE_ADDR_STRLEN];
	struct log_fields f = {.event = "seed-moved"};

	s->resolving_since = 0;
	if (k == 0) {
		/* The name may be back at the next refresh; until then the seed is where it was. */
		env_logf_limited(&n->env, &n->resolve_log, now, LOG_WARNING, NULL,
				 "seed %s:%u: cannot resolve %s: %s; keeping its last address %s",
				 s->host, s->addr.port, s->host, error ? error : "no address",
				 s->addr_str);
		return;
	}
	for (size_t j = 0; j < k; j++) {
		if (node_addr_equal(&addrs[j], &s->addr)) {
			/* Still one of its addresses: no reason to move. */
			peer_debug(n, "seed %s:%u still at %s, address %zu of the %zu looked at", s->host,
				   s->addr.port, s->addr_str, j + 1, k);
			return;
		}
	}
	for (size_t j = 0; j < k && !to; j++)
		if (!other_seed(n, s, &addrs[j]))
			to = &addrs[j];
	if (!to) {
		env_logf_limited(&n->env, &n->resolve_log, now, LOG_WARNING, NULL,
				 "seed %s:%u now resolves only to other seeds' addresses (%s first); "
				 "keeping its last address %s", s->host, s->addr.port,
				 node_addr_str(&addrs[0], as), s->addr_str);
		return;
	}
	f.remote = node_addr_str(to, as);
	peer_event(n, LOG_NOTICE, &f, "seed %s:%u moved from %s to %s: registering there", s->host,
		   s->addr.port, s->addr_str, as);
	seeds_moved(n, s, to, now);
}

void
peer_node_resolved(struct peer_node *n, uint64_t token, const struct node_addr *addrs, size_t k,
		   const char *error, struct instant t)
{
	uint32_t i = (uint32_t)token;

	n->now = t.mono;
	if (n->state == PEER_LEAVING || token >> 32 != n->seeds_generation || i >= n->n_seeds ||
	    !n->seeds[i].host)
		return; /* asked for a seed list since replaced */
	resolved(n, &n->seeds[i], addrs, k, error, t.mono);
	peer_sync_wake(n);
	peer_notice(n, NOTICE_STATUS);
}
