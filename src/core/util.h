/* SPDX-License-Identifier: MIT */
/* Small shared helpers: checked number parsing, node addresses, text, allocation, a seeded RNG. */
#ifndef GOSSIP_CORE_UTIL_H
#define GOSSIP_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GOSSIP_VERSION "0.4.1"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

/* Longest "[v6addr]:port" text plus NUL. */
#define NODE_ADDR_STRLEN 56

/* A node's advertised identity: an IPv4 or IPv6 address and a TCP port. */
struct node_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port; /* host byte order */
};

/* Allocation that aborts on OOM (as tinc's xalloc). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Checked parsing: whole string, range-checked. Return 0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_port(const char *s, uint16_t *ret);

/* "ip:port" or "[ip6]:port". 0 or -EINVAL. */
int node_addr_parse(const char *s, struct node_addr *ret);
/* Parse ip and port given separately. */
int node_addr_from_parts(const char *ip, const char *port, struct node_addr *ret);
/* Formats into buf (NODE_ADDR_STRLEN); returns buf. */
const char *node_addr_str(const struct node_addr *a, char *buf);
/* Only the IP part. */
const char *node_addr_ip_str(const struct node_addr *a, char *buf);
bool node_addr_equal(const struct node_addr *a, const struct node_addr *b);
int node_addr_cmp(const struct node_addr *a, const struct node_addr *b);
socklen_t node_addr_to_sockaddr(const struct node_addr *a, struct sockaddr_storage *ss);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, from a dual-stack socket) comes out as IPv4. */
int node_addr_from_sockaddr(const struct sockaddr *sa, struct node_addr *ret);
bool node_addr_is_unspecified(const struct node_addr *a);
/* 127.0.0.0/8 or ::1. */
bool node_addr_is_loopback(const struct node_addr *a);

/* Lowercase hex of n bytes into buf (2n+1). */
const char *hex_encode(const uint8_t *p, size_t n, char *buf);

/* Length of the valid UTF-8 sequence at p (1 to 4 bytes, n > 0), or 0 when invalid. */
size_t utf8_seq_len(const uint8_t *p, size_t n);

/*
 * Escape bytes for a one-line log: printable ASCII and valid UTF-8 pass,
 * '\\' and control bytes become \\, \n, \t, \xNN. Returns a malloc'd string.
 */
char *escape_text(const uint8_t *p, size_t n);

/* Small xorshift RNG seeded from getrandom(); deterministic when seeded. */
struct rng {
	uint64_t s;
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

#endif
