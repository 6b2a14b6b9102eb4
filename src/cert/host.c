/* SPDX-License-Identifier: MIT */
/* This host's addresses and name, for the certificate gossip-cert setup issues it. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <string.h>
#include <unistd.h>

#include "cert/cert.h"

/* fe80::/10: valid only with an interface, never an address a node advertises. */
static bool
link_local6(const unsigned char *b)
{
	return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

static bool
known(const struct cert_address *v, size_t n, const struct cert_address *a)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].len == a->len && memcmp(v[i].bytes, a->bytes, a->len) == 0)
			return true;
	return false;
}

size_t
cert_host_addresses(struct cert_address *v, size_t n, size_t max, size_t *left_out)
{
	struct ifaddrs *ifs, *i;

	*left_out = 0;
	if (getifaddrs(&ifs) < 0)
		return n;
	for (i = ifs; i; i = i->ifa_next) {
		struct cert_address a = {0};
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;

		if (fam == AF_INET) {
			memcpy(a.bytes, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
			a.len = 4;
		} else if (fam == AF_INET6) {
			memcpy(a.bytes, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
			a.len = 16;
			if (link_local6(a.bytes))
				continue;
		} else {
			continue;
		}
		a.family = fam;
		inet_ntop(fam, a.bytes, a.text, sizeof(a.text));
		if (known(v, n, &a))
			continue;
		if (n == max) {
			(*left_out)++;
			continue;
		}
		v[n++] = a;
	}
	freeifaddrs(ifs);
	return n;
}
