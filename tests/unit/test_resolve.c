/* SPDX-License-Identifier: MIT */
/* Unit tests of io/resolve.c: the addresses kept of an answer (cap, family), lookups of localhost. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/config.h"
#include "io/resolve.h"
#include "testaddr.h"

#define MAX_AI 64

/* An answer as getaddrinfo gives it, built from address texts ("10.0.0.1", "::1"). */
struct answer {
	struct addrinfo ai[MAX_AI];
	struct sockaddr_storage ss[MAX_AI];
	size_t n;
};

static void
answer_add(struct answer *a, const char *ip)
{
	struct addrinfo *ai = &a->ai[a->n];
	struct sockaddr_storage *ss = &a->ss[a->n];

	assert_true(a->n < MAX_AI);
	memset(ai, 0, sizeof(*ai));
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9); /* the service's port: replaced by the seed's */
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		ai->ai_addrlen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
		ai->ai_addrlen = sizeof(*s4);
	}
	ai->ai_family = ss->ss_family;
	ai->ai_addr = (struct sockaddr *)ss;
	if (a->n)
		a->ai[a->n - 1].ai_next = ai;
	a->n++;
}

/* n IPv4 addresses 10.0.0.1, 10.0.0.2, ... */
static void
answer_v4(struct answer *a, size_t n)
{
	char ip[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%zu", i + 1);
		answer_add(a, ip);
	}
}

static void
assert_addr(const struct node_addr *got, const char *want)
{
	struct node_addr w = addr(want);
	char s[NODE_ADDR_STRLEN];

	if (!node_addr_equal(got, &w))
		fail_msg("got %s, expected %s", node_addr_str(got, s), want);
}

/* At the cap all are kept; one more is left out and counted. */
static void
test_collect_cap(void **state)
{
	struct node_addr out[RESOLVE_MAX_ADDRS + 8];
	struct answer *a = xcalloc(1, sizeof(*a));
	size_t total = 0, n;

	answer_v4(a, RESOLVE_MAX_ADDRS);
	n = resolve_collect(a->ai, AF_INET, 5000, out, RESOLVE_MAX_ADDRS, &total);
	assert_int_equal(n, RESOLVE_MAX_ADDRS);
	assert_int_equal(total, RESOLVE_MAX_ADDRS);
	assert_addr(&out[0], "10.0.0.1:5000");
	assert_addr(&out[RESOLVE_MAX_ADDRS - 1], "10.0.0.16:5000");

	memset(a, 0, sizeof(*a));
	answer_v4(a, RESOLVE_MAX_ADDRS + 1);
	memset(out, 0, sizeof(out));
	n = resolve_collect(a->ai, AF_INET, 5000, out, RESOLVE_MAX_ADDRS, &total);
	assert_int_equal(n, RESOLVE_MAX_ADDRS);
	assert_int_equal(total, RESOLVE_MAX_ADDRS + 1);
	assert_int_equal(out[RESOLVE_MAX_ADDRS].family, 0); /* nothing written past the cap */
	free(a);
}

/* Only the node's family, each address once, in the resolver's order. */
static void
test_collect_family_and_duplicates(void **state)
{
	struct node_addr out[RESOLVE_MAX_ADDRS];
	struct answer *a = xcalloc(1, sizeof(*a));
	size_t total = 0;

	answer_add(a, "::1");
	answer_add(a, "10.0.0.2");
	answer_add(a, "2001:db8::5");
	answer_add(a, "10.0.0.2");
	answer_add(a, "10.0.0.1");
	answer_add(a, "::ffff:10.0.0.3"); /* a mapped IPv4 address is an IPv4 one */
	assert_int_equal(resolve_collect(a->ai, AF_INET, 7, out, RESOLVE_MAX_ADDRS, &total), 3);
	assert_int_equal(total, 3);
	assert_addr(&out[0], "10.0.0.2:7");
	assert_addr(&out[1], "10.0.0.1:7");
	assert_addr(&out[2], "10.0.0.3:7");
	assert_int_equal(resolve_collect(a->ai, AF_INET6, 7, out, RESOLVE_MAX_ADDRS, &total), 2);
	assert_addr(&out[0], "[::1]:7");
	assert_addr(&out[1], "[2001:db8::5]:7");
	assert_int_equal(resolve_collect(a->ai, AF_UNSPEC, 7, out, 2, &total), 2);
	assert_int_equal(total, 5);
	assert_int_equal(resolve_collect(NULL, AF_INET, 7, out, RESOLVE_MAX_ADDRS, &total), 0);
	assert_int_equal(total, 0);
	free(a);
}

/* A node's own name: its first IPv4 address, else its first. */
static void
test_pick_own(void **state)
{
	struct node_addr v[3] = {addr("[::1]:1"), addr("[2001:db8::2]:1"), addr("10.0.0.7:1")};

	assert_ptr_equal(resolve_pick_own(v, 3), &v[2]);
	assert_ptr_equal(resolve_pick_own(v, 2), &v[0]);
	assert_ptr_equal(resolve_pick_own(&v[2], 1), &v[2]);
}

/* localhost is in /etc/hosts: no network. */
static void
test_self(void **state)
{
	struct node_addr a;
	char err[256];

	assert_int_equal(resolve_self_now("localhost", "6000", &a, err, sizeof(err)), 0);
	assert_addr(&a, "127.0.0.1:6000"); /* not ::1, whatever /etc/hosts lists first */
	assert_int_equal(resolve_self_now("10.1.2.3", "6001", &a, err, sizeof(err)), 0);
	assert_addr(&a, "10.1.2.3:6001");
	assert_int_equal(resolve_self_now("::1", "6002", &a, err, sizeof(err)), 0);
	assert_addr(&a, "[::1]:6002");
	assert_int_equal(resolve_self_now("localhost", "0", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port 0 is not a number 1-65535"));
	assert_int_equal(resolve_self_now("local host", "1", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "local host is not an IPv4 or IPv6 address or a host name"));
}

static void
seed_named(struct gossip_config *c, const char *host, const char *ip, uint16_t port,
	   const char *where)
{
	uint32_t i = c->n_seeds++;

	c->seeds = xreallocarray(c->seeds, c->n_seeds, sizeof(*c->seeds));
	c->seed_names = xreallocarray(c->seed_names, c->n_seeds, sizeof(*c->seed_names));
	memset(&c->seeds[i], 0, sizeof(c->seeds[i]));
	if (ip) {
		char s[64];
		snprintf(s, sizeof(s), "%s:%u", ip, port);
		c->seeds[i] = addr(s);
	}
	c->seeds[i].port = port;
	c->seed_names[i].host = host ? xstrdup(host) : NULL;
	c->seed_names[i].where = xstrdup(where);
}

static void
test_seeds_now(void **state)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	seed_named(&c, "localhost", NULL, 5000, "s.txt:1");
	seed_named(&c, NULL, "10.0.0.1", 5000, "s.txt:2");
	assert_int_equal(resolve_seeds_now(&c, AF_INET, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.seeds[0].family, AF_INET);
	assert_true(node_addr_is_loopback(&c.seeds[0]));
	assert_int_equal(c.seeds[0].port, 5000);
	assert_addr(&c.seeds[1], "10.0.0.1:5000");
	conf_free(&c);

	/* A name that is another seed's address would count that seed twice. */
	conf_init(&c);
	seed_named(&c, NULL, "127.0.0.1", 5000, "s.txt:1");
	seed_named(&c, "localhost", NULL, 5000, "s.txt:2");
	assert_int_equal(resolve_seeds_now(&c, AF_INET, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "s.txt:2: seed localhost:5000 (127.0.0.1:5000) is the seed of s.txt:1 "
				 "too\n");
	conf_free(&c);
}

struct got {
	sd_event *e;
	int calls;
	struct node_addr first;
	size_t n;
	uint64_t tag;
};

static void
on_answer(void *userdata, uint64_t tag, const struct resolve_result *res)
{
	struct got *g = userdata;

	g->calls++;
	g->tag = tag;
	g->n = res->n;
	if (res->n)
		g->first = res->addrs[0];
	sd_event_exit(g->e, 0);
}

/* On a loop: the answer comes from the loop, with its tag; a cancelled lookup gives none. */
static void
test_resolver_on_loop(void **state)
{
	struct got g = {0}, cancelled = {0};
	struct resolver *r;

	assert_int_equal(sd_event_new(&g.e), 0);
	cancelled.e = g.e;
	assert_int_equal(resolver_new(g.e, &r), 0);
	assert_int_equal(resolver_query(r, "localhost", 4242, AF_INET, on_answer, &cancelled, 1), 0);
	resolver_cancel(r, &cancelled);
	assert_int_equal(resolver_query(r, "localhost", 4243, AF_INET, on_answer, &g, 77), 0);
	assert_int_equal(g.calls, 0); /* never from within the query */
	assert_int_equal(sd_event_loop(g.e), 0);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.tag, 77);
	assert_true(g.n >= 1);
	assert_true(node_addr_is_loopback(&g.first));
	assert_int_equal(g.first.port, 4243);
	assert_int_equal(cancelled.calls, 0);
	resolver_free(r);
	sd_event_unref(g.e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_collect_cap),
	    cmocka_unit_test(test_collect_family_and_duplicates),
	    cmocka_unit_test(test_pick_own),
	    cmocka_unit_test(test_self),
	    cmocka_unit_test(test_seeds_now),
	    cmocka_unit_test(test_resolver_on_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
