/* SPDX-License-Identifier: MIT */
/* Where a node is, as written in a configuration: an IP address or a host name, and a port. */
#ifndef GOSSIP_CORE_HOSTPORT_H
#define GOSSIP_CORE_HOSTPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* The longest host name (RFC 1035: 253 characters without the final dot), and a label. */
#define HOST_NAME_LEN 253
#define HOST_LABEL_LEN 63

struct host_port {
	char host[HOST_NAME_LEN + 2]; /* a host name (a final dot kept); "" for an address */
	struct node_addr addr;        /* the address, or family 0 and only the port for a name */
};

/*
 * "NAME:PORT", "a.b.c.d:PORT" or "[IPv6]:PORT", port 1-65535. A name is
 * dot-separated labels of letters, digits, '-' and '_' (not starting or
 * ending with '-'), at most HOST_LABEL_LEN each and HOST_NAME_LEN in all;
 * its last label is not all digits (that is a mistyped IPv4 address).
 * Returns 0, or -EINVAL with *why saying what is wrong.
 */
int host_port_parse(const char *s, struct host_port *ret, const char **why);

/* A host name as host_port_parse() takes it (no port): 0, or -EINVAL with *why. */
int host_name_check(const char *s, const char **why);

/* Whether two host names are one: letters in either case, with or without the final dot. */
bool host_name_equal(const char *a, const char *b);

/* Formats "host:port", or the address when it is one; buf of HOST_PORT_STRLEN. */
#define HOST_PORT_STRLEN (HOST_NAME_LEN + 2 + 7)
const char *host_port_str(const struct host_port *h, char *buf);

#endif
