/* SPDX-License-Identifier: MIT */
/* Host names to addresses: before the event loop runs, and on it without blocking (getaddrinfo_a). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "resolve.h"
#include "core/hostport.h"

/*
 * glibc runs each getaddrinfo_a() lookup in a thread of its own and, when it
 * is done, queues this signal to the process; the loop takes it from a
 * signalfd (sd_event_add_signal) and collects every finished lookup. No
 * thread of ours touches the daemon's state, and the loop never waits on
 * a resolver.
 */
#define RESOLVE_SIGNAL (SIGRTMIN + 5)

struct request {
	struct gaicb g;
	struct addrinfo hints;
	char *host;
	uint16_t port;
	int family;
	void (*cb)(void *userdata, uint64_t tag, const struct resolve_result *res);
	void *userdata; /* NULL once cancelled */
	uint64_t tag;
	struct request *next;
};

struct resolver {
	sd_event_source *signal;
	struct request *pending;
};

/* Lookups glibc still ran when their resolver was freed: they write into these until done. */
static struct request *abandoned;

size_t
resolve_collect(const struct addrinfo *ai, int family, uint16_t port, struct node_addr *out,
		size_t max, size_t *total)
{
	size_t n = 0, all = 0;

	for (; ai; ai = ai->ai_next) {
		struct node_addr a;
		bool dup = false;
		if (!ai->ai_addr || node_addr_from_sockaddr(ai->ai_addr, &a) < 0 ||
		    (family != AF_UNSPEC && a.family != family))
			continue;
		a.port = port;
		for (size_t i = 0; i < n && !dup; i++)
			dup = node_addr_equal(&out[i], &a);
		if (dup)
			continue;
		all++;
		if (n < max)
			out[n++] = a;
	}
	if (total)
		*total = all;
	return n;
}

const struct node_addr *
resolve_pick_own(const struct node_addr *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (addrs[i].family == AF_INET)
			return &addrs[i];
	return &addrs[0];
}

static const char *
no_address(int family)
{
	return family == AF_INET ? "it has no IPv4 address (the family of this node's address)"
	       : family == AF_INET6 ? "it has no IPv6 address (the family of this node's address)"
				    : "it has no address";
}

static void
finish(struct resolver *r, struct request *q, int rc)
{
	struct node_addr addrs[RESOLVE_MAX_ADDRS];
	struct resolve_result res = {.addrs = addrs};

	if (rc == 0) {
		res.n = resolve_collect(q->g.ar_result, q->family, q->port, addrs, RESOLVE_MAX_ADDRS,
					&res.total);
		if (!res.n)
			res.error = no_address(q->family);
	} else {
		res.error = gai_strerror(rc);
	}
	if (q->userdata)
		q->cb(q->userdata, q->tag, &res);
	if (q->g.ar_result)
		freeaddrinfo(q->g.ar_result);
	free(q->host);
	free(q);
}

static int
on_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct resolver *r = userdata;
	struct request *done = NULL, **pp = &r->pending, *q;

	/* Taken off the list first: a callback may start or cancel lookups. */
	while ((q = *pp)) {
		if (gai_error(&q->g) == EAI_INPROGRESS) {
			pp = &q->next;
			continue;
		}
		*pp = q->next;
		q->next = done;
		done = q;
	}
	while ((q = done)) {
		done = q->next;
		finish(r, q, gai_error(&q->g));
	}
	return 0;
}

int
resolver_new(sd_event *e, struct resolver **ret)
{
	struct resolver *r = xcalloc(1, sizeof(*r));
	sigset_t mask;
	int rc;

	sigemptyset(&mask);
	sigaddset(&mask, RESOLVE_SIGNAL);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((rc = sd_event_add_signal(e, &r->signal, RESOLVE_SIGNAL, on_signal, r)) < 0) {
		free(r);
		return rc;
	}
	*ret = r;
	return 0;
}

void
resolver_free(struct resolver *r)
{
	struct request *q;

	if (!r)
		return;
	while ((q = r->pending)) {
		r->pending = q->next;
		q->userdata = NULL;
		if (gai_cancel(&q->g) == EAI_NOTCANCELED) {
			q->next = abandoned;
			abandoned = q;
			continue;
		}
		finish(r, q, EAI_CANCELED);
	}
	sd_event_source_disable_unref(r->signal);
	free(r);
}

int
resolver_query(struct resolver *r, const char *host, uint16_t port, int family,
	       void (*cb)(void *userdata, uint64_t tag, const struct resolve_result *res),
	       void *userdata, uint64_t tag)
{
	struct request *q = xcalloc(1, sizeof(*q));
	struct gaicb *list[1] = {&q->g};
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = RESOLVE_SIGNAL};
	int rc;

	q->host = xstrdup(host);
	q->port = port;
	q->family = family;
	q->cb = cb;
	q->userdata = userdata;
	q->tag = tag;
	/* Either family, filtered here: a name of the other family only is told as such. */
	q->hints.ai_family = AF_UNSPEC;
	q->hints.ai_socktype = SOCK_STREAM;
	/* This node's own name: only families the host has an address of (loopback aside). */
	q->hints.ai_flags = family == AF_UNSPEC ? AI_ADDRCONFIG : 0;
	q->g.ar_name = q->host;
	q->g.ar_request = &q->hints;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev)) != 0) {
		free(q->host);
		free(q);
		return rc == EAI_MEMORY ? -ENOMEM : -EAGAIN;
	}
	q->next = r->pending;
	r->pending = q;
	return 0;
}

void
resolver_cancel(struct resolver *r, const void *userdata)
{
	for (struct request *q = r->pending; q; q = q->next)
		if (q->userdata == userdata)
			q->userdata = NULL;
}

struct seed_lookup {
	struct gossip_config *c;
	int family;
	uint32_t waiting;
	void (*done)(void *ctx, const char *err);
	void *ctx;
	char err[CONF_ERR_LEN];
};

/* No two seeds one address: a seed listed twice would count twice towards the majority. */
static void
check_distinct(const struct gossip_config *c, char *err, size_t errlen)
{
	char as[NODE_ADDR_STRLEN];

	for (uint32_t i = 0; i < c->n_seeds; i++) {
		for (uint32_t j = 0; j < i; j++) {
			const char *host = c->seed_names[i].host;
			if (!node_addr_equal(&c->seeds[i], &c->seeds[j]))
				continue;
			node_addr_str(&c->seeds[i], as);
			if (host)
				conf_add_error(err, errlen, c->seed_names[i].where, 0,
					       "seed %.253s:%u (%s) is the seed of %s too", host,
					       c->seeds[i].port, as, c->seed_names[j].where);
			else
				conf_add_error(err, errlen, c->seed_names[i].where, 0,
					       "seed %s is the seed of %s too", as, c->seed_names[j].where);
			break;
		}
	}
}

static void
lookup_done(struct seed_lookup *l)
{
	void (*done)(void *ctx, const char *err) = l->done;
	void *ctx = l->ctx;
	char err[CONF_ERR_LEN];

	if (!l->err[0])
		check_distinct(l->c, l->err, sizeof(l->err));
	memcpy(err, l->err, sizeof(err));
	free(l);
	done(ctx, err);
}

static void
seed_answer(void *userdata, uint64_t i, const struct resolve_result *res)
{
	struct seed_lookup *l = userdata;
	struct gossip_config *c = l->c;

	if (res->n)
		c->seeds[i] = res->addrs[0];
	else
		conf_add_error(l->err, sizeof(l->err), c->seed_names[i].where, 0,
			       "cannot resolve seed %.253s: %s", c->seed_names[i].host, res->error);
	if (--l->waiting == 0)
		lookup_done(l);
}

int
resolve_seeds_start(struct resolver *r, struct gossip_config *c, int family,
		    void (*done)(void *ctx, const char *err), void *ctx, struct seed_lookup **ret)
{
	struct seed_lookup *l = xcalloc(1, sizeof(*l));
	int rc;

	*l = (struct seed_lookup){.c = c, .family = family, .done = done, .ctx = ctx};
	l->waiting = 1; /* until every lookup is started */
	*ret = l;
	for (uint32_t i = 0; i < c->n_seeds; i++) {
		const char *host = conf_seed_host(c, i);
		if (!host)
			continue;
		if ((rc = resolver_query(r, host, c->seeds[i].port, family, seed_answer, l, i)) < 0)
			conf_add_error(l->err, sizeof(l->err), c->seed_names[i].where, 0,
				       "cannot resolve seed %.253s: %s", host, strerror(-rc));
		else
			l->waiting++;
	}
	if (--l->waiting == 0)
		lookup_done(l); /* every seed an address */
	return 0;
}

void
resolve_seeds_cancel(struct resolver *r, struct seed_lookup *l)
{
	resolver_cancel(r, l);
	free(l);
}

/* --- before the loop: the same lookups on a loop of their own, run until answered ---------- */

struct wait_now {
	sd_event *e;
	char *err;
	size_t errlen;
	struct node_addr *self;
};

static void
now_seeds_done(void *ctx, const char *err)
{
	struct wait_now *w = ctx;

	snprintf(w->err, w->errlen, "%s", err);
	sd_event_exit(w->e, 0);
}

static void
now_self_answer(void *ctx, uint64_t tag, const struct resolve_result *res)
{
	struct wait_now *w = ctx;

	if (res->n)
		*w->self = *resolve_pick_own(res->addrs, res->n);
	else
		snprintf(w->err, w->errlen, "%s", res->error);
	sd_event_exit(w->e, 0);
}

/* Runs start(w) on a loop and resolver of their own until it calls sd_event_exit(). */
static int
run_now(struct wait_now *w, int (*start)(struct resolver *r, struct wait_now *w, void *arg),
	void *arg)
{
	struct resolver *r = NULL;
	int rc;

	w->err[0] = '\0';
	if ((rc = sd_event_new(&w->e)) < 0 || (rc = resolver_new(w->e, &r)) < 0 ||
	    (rc = start(r, w, arg)) < 0 || (rc = sd_event_loop(w->e)) < 0)
		snprintf(w->err, w->errlen, "cannot look names up: %s", strerror(-rc));
	resolver_free(r);
	w->e = sd_event_unref(w->e);
	return w->err[0] ? -EINVAL : 0;
}

struct seeds_arg {
	struct gossip_config *c;
	int family;
};

static int
start_seeds(struct resolver *r, struct wait_now *w, void *arg)
{
	struct seeds_arg *a = arg;
	struct seed_lookup *l;

	return resolve_seeds_start(r, a->c, a->family, now_seeds_done, w, &l);
}

int
resolve_seeds_now(struct gossip_config *c, int family, char *err, size_t errlen)
{
	struct seeds_arg a = {c, family};
	struct wait_now w = {.err = err, .errlen = errlen};
	bool named = false;

	err[0] = '\0';
	for (uint32_t i = 0; i < c->n_seeds && !named; i++)
		named = conf_seed_host(c, i) != NULL;
	return named ? run_now(&w, start_seeds, &a) : 0;
}

static int
start_self(struct resolver *r, struct wait_now *w, void *arg)
{
	return resolver_query(r, arg, w->self->port, AF_UNSPEC, now_self_answer, w, 0);
}

int
resolve_self_now(const char *host, const char *port, struct node_addr *ret, char *err,
		 size_t errlen)
{
	struct node_addr a = {0};
	struct wait_now w = {.err = err, .errlen = errlen, .self = &a};
	const char *why;

	err[0] = '\0';
	if (parse_port(port, &a.port) < 0) {
		snprintf(err, errlen, "port %s is not a number 1-65535", port);
		return -EINVAL;
	}
	if (node_addr_from_parts(host, port, ret) == 0)
		return 0;
	if (host_name_check(host, &why) < 0) {
		snprintf(err, errlen, "%s is not an IPv4 or IPv6 address or a host name (%s)", host, why);
		return -EINVAL;
	}
	if (run_now(&w, start_self, (void *)host) < 0) {
		char why2[256];
		snprintf(why2, sizeof(why2), "%s", err);
		snprintf(err, errlen, "cannot resolve %s: %s", host, why2);
		return -EINVAL;
	}
	*ret = a;
	return 0;
}
