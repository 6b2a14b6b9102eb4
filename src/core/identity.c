/* SPDX-License-Identifier: MIT */
/* Who is at the other end of a link, as its certificate says: the addresses it may claim, its key. */
#include <string.h>

#include "identity.h"

bool
identity_allows(const struct identity *id, const struct node_addr *a)
{
	size_t len = a->family == AF_INET6 ? 16 : 4;

	for (uint32_t i = 0; i < id->n_addrs && i < IDENTITY_MAX_ADDRS; i++)
		if (id->addrs[i].family == a->family && !memcmp(id->addrs[i].addr, a->addr, len))
			return true;
	return false;
}
