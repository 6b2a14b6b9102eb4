/* SPDX-License-Identifier: MIT */
/* Small shared helpers: checked number parsing, node addresses, text, allocation, a seeded RNG. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static void
oom(void)
{
	static const char msg[] = "gossip: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom();
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);
	if (!p)
		oom();
	return p;
}

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	/* strtoull() skips any leading white space and accepts a sign: allow only a digit. */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int
parse_port(const char *s, uint16_t *ret)
{
	uint64_t v;
	int r = parse_u64(s, 1, 65535, &v);
	if (r < 0)
		return r;
	*ret = (uint16_t)v;
	return 0;
}

int
node_addr_from_parts(const char *ip, const char *port, struct node_addr *ret)
{
	struct node_addr a = {0};
	int r;

	r = parse_port(port, &a.port);
	if (r < 0)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, a.addr) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a.addr) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret = a;
	return 0;
}

int
node_addr_parse(const char *s, struct node_addr *ret)
{
	char buf[NODE_ADDR_STRLEN];
	const char *colon;
	size_t iplen;

	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		iplen = (size_t)(close - s - 1);
		if (iplen == 0 || iplen >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, s + 1, iplen);
		buf[iplen] = '\0';
		struct node_addr a;
		if (node_addr_from_parts(buf, close + 2, &a) < 0 || a.family != AF_INET6)
			return -EINVAL;
		*ret = a;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon)
		return -EINVAL;
	iplen = (size_t)(colon - s);
	if (iplen == 0 || iplen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, iplen);
	buf[iplen] = '\0';
	struct node_addr a;
	if (node_addr_from_parts(buf, colon + 1, &a) < 0 || a.family != AF_INET)
		return -EINVAL;
	*ret = a;
	return 0;
}

/* Decimal digits of v at p; returns the end. */
static char *
put_decimal(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* The address without the port at buf (NODE_ADDR_STRLEN bytes); returns the end. */
static char *
put_ip(const struct node_addr *a, char *buf, bool brackets)
{
	char *p = buf;

	if (a->family != AF_INET6) {
		/* Every received message is logged with addresses: no printf for IPv4. */
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = put_decimal(p, a->addr[i]);
		}
		*p = '\0';
		return p;
	}
	if (brackets)
		*p++ = '[';
	if (!inet_ntop(AF_INET6, a->addr, p, INET6_ADDRSTRLEN))
		strcpy(p, "?");
	p += strlen(p);
	if (brackets)
		*p++ = ']';
	*p = '\0';
	return p;
}

const char *
node_addr_ip_str(const struct node_addr *a, char *buf)
{
	put_ip(a, buf, false);
	return buf;
}

const char *
node_addr_str(const struct node_addr *a, char *buf)
{
	char *p = put_ip(a, buf, true);

	*p++ = ':';
	*put_decimal(p, a->port) = '\0';
	return buf;
}

static size_t
family_len(uint8_t family)
{
	return family == AF_INET6 ? 16 : 4;
}

bool
node_addr_equal(const struct node_addr *a, const struct node_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, family_len(a->family)) == 0;
}

int
node_addr_cmp(const struct node_addr *a, const struct node_addr *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, family_len(a->family));
	if (c)
		return c < 0 ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return 0;
}

bool
node_addr_is_unspecified(const struct node_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->addr, zero, family_len(a->family)) == 0;
}

bool
node_addr_is_loopback(const struct node_addr *a)
{
	static const uint8_t one6[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return memcmp(a->addr, one6, 16) == 0;
}

socklen_t
node_addr_to_sockaddr(const struct node_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(a->port);
	memcpy(&s4->sin_addr, a->addr, 4);
	return sizeof(*s4);
}

int
node_addr_from_sockaddr(const struct sockaddr *sa, struct node_addr *ret)
{
	struct node_addr a = {0};

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		a.family = AF_INET;
		memcpy(a.addr, &s4->sin_addr, 4);
		a.port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		a.family = AF_INET6;
		memcpy(a.addr, &s6->sin6_addr, 16);
		a.port = ntohs(s6->sin6_port);
		/* An IPv4 client of a dual-stack socket (systemd's) is that IPv4 address. */
		if (!memcmp(a.addr, mapped, sizeof(mapped))) {
			a.family = AF_INET;
			memmove(a.addr, a.addr + 12, 4);
			memset(a.addr + 4, 0, 12);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = a;
	return 0;
}

const char *
hex_encode(const uint8_t *p, size_t n, char *buf)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 15];
	}
	buf[2 * n] = '\0';
	return buf;
}

/* Length of a valid UTF-8 sequence at p (1..4), or 0 if invalid. */
size_t
utf8_seq_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Reject overlong forms, surrogates and out-of-range code points. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *
escape_text(const uint8_t *p, size_t n)
{
	/* Worst case every byte becomes \xNN. */
	char *out = xmalloc(n * 4 + 1), *o = out;
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		if (c == '\\') {
			*o++ = '\\';
			*o++ = '\\';
			i++;
		} else if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
			i++;
		} else if (c == '\t') {
			*o++ = '\\';
			*o++ = 't';
			i++;
		} else if (c == '\r') {
			*o++ = '\\';
			*o++ = 'r';
			i++;
		} else if (c >= 0x20 && c < 0x7f) {
			*o++ = (char)c;
			i++;
		} else if (c >= 0x80) {
			size_t l = utf8_seq_len(p + i, n - i);
			if (l == 0) {
				o += sprintf(o, "\\x%02x", c);
				i++;
			} else {
				memcpy(o, p + i, l);
				o += l;
				i += l;
			}
		} else {
			o += sprintf(o, "\\x%02x", c);
			i++;
		}
	}
	*o = '\0';
	return out;
}

void
rng_seed(struct rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t
rng_next(struct rng *r)
{
	/* xorshift64* */
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

uint64_t
rng_below(struct rng *r, uint64_t n)
{
	/* Rejection sampling to avoid modulo bias. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;
	do
		v = rng_next(r);
	while (v >= limit);
	return v % n;
}
