/* SPDX-License-Identifier: MIT */
/* Where a node is, as written in a configuration: an IP address or a host name, and a port. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hostport.h"

static bool
label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int
host_name_check(const char *s, const char **why)
{
	size_t len = strlen(s), label = 0;
	bool digits = false;

	if (len && s[len - 1] == '.')
		len--; /* rooted: "example.com." */
	if (len == 0)
		return *why = "empty host name", -EINVAL;
	if (len > HOST_NAME_LEN)
		return *why = "host name longer than 253 characters", -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return *why = "empty label in host name", -EINVAL;
			if (s[i - 1] == '-')
				return *why = "a label of the host name ends with '-'", -EINVAL;
			label = 0;
			continue;
		}
		if (!label_char(c))
			return *why = "host name has a character other than letters, digits, '-', '_', '.'",
				-EINVAL;
		if (label == 0 && c == '-')
			return *why = "a label of the host name starts with '-'", -EINVAL;
		digits = (label == 0 || digits) && c >= '0' && c <= '9';
		if (++label > HOST_LABEL_LEN)
			return *why = "a label of the host name is longer than 63 characters", -EINVAL;
	}
	if (label == 0)
		return *why = "empty label in host name", -EINVAL;
	if (s[len - 1] == '-')
		return *why = "a label of the host name ends with '-'", -EINVAL;
	if (digits)
		return *why = "not a valid IPv4 address", -EINVAL;
	return 0;
}

/* The port after the colon at p. */
static int
port_part(const char *p, struct host_port *ret, const char **why)
{
	int r;

	if (!*p)
		return *why = "no port", -EINVAL;
	r = parse_port(p, &ret->addr.port);
	if (r == -ERANGE)
		return *why = "port out of range 1-65535", -EINVAL;
	if (r < 0)
		return *why = "port is not a number", -EINVAL;
	return 0;
}

static int
bracketed(const char *s, struct host_port *ret, const char **why)
{
	const char *close = strchr(s, ']');
	char ip[NODE_ADDR_STRLEN];
	uint16_t port;
	size_t len;

	if (!close)
		return *why = "no ']' after an IPv6 address", -EINVAL;
	if (close[1] != ':')
		return *why = close[1] ? "expected ':' after ']'" : "no port", -EINVAL;
	len = (size_t)(close - s - 1);
	if (len == 0 || len >= sizeof(ip))
		return *why = "not a valid IPv6 address", -EINVAL;
	memcpy(ip, s + 1, len);
	ip[len] = '\0';
	if (port_part(close + 2, ret, why) < 0)
		return -EINVAL;
	port = ret->addr.port;
	if (node_addr_from_parts(ip, "1", &ret->addr) < 0 || ret->addr.family != AF_INET6)
		return *why = "not a valid IPv6 address", -EINVAL;
	ret->addr.port = port;
	return 0;
}

int
host_port_parse(const char *s, struct host_port *ret, const char **why)
{
	struct host_port h;
	const char *colon;
	uint16_t port;
	size_t len;

	memset(&h, 0, sizeof(h));
	if (strpbrk(s, " \t"))
		return *why = "a space in it", -EINVAL;
	if (s[0] == '[') {
		if (bracketed(s, &h, why) < 0)
			return -EINVAL;
		*ret = h;
		return 0;
	}
	colon = strchr(s, ':');
	if (!colon)
		return *why = "no port", -EINVAL;
	if (strchr(colon + 1, ':'))
		return *why = "an IPv6 address goes in brackets: [IPv6]:PORT", -EINVAL;
	if (port_part(colon + 1, &h, why) < 0)
		return -EINVAL;
	port = h.addr.port;
	len = (size_t)(colon - s);
	if (len == 0)
		return *why = "no host", -EINVAL;
	if (len > HOST_NAME_LEN + 1)
		return *why = "host name longer than 253 characters", -EINVAL;
	memcpy(h.host, s, len);
	h.host[len] = '\0';
	if (node_addr_from_parts(h.host, colon + 1, &h.addr) == 0 && h.addr.family == AF_INET) {
		h.host[0] = '\0';
		*ret = h;
		return 0;
	}
	memset(&h.addr, 0, sizeof(h.addr));
	h.addr.port = port;
	if (host_name_check(h.host, why) < 0)
		return -EINVAL;
	*ret = h;
	return 0;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool
host_name_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	la -= la && a[la - 1] == '.';
	lb -= lb && b[lb - 1] == '.';
	if (la != lb)
		return false;
	for (size_t i = 0; i < la; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

const char *
host_port_str(const struct host_port *h, char *buf)
{
	if (!h->host[0])
		return node_addr_str(&h->addr, buf);
	snprintf(buf, HOST_PORT_STRLEN, "%s:%u", h->host, h->addr.port);
	return buf;
}
