/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: an address from its text form, failing the test on a typo. */
#ifndef GOSSIP_TESTADDR_H
#define GOSSIP_TESTADDR_H

#include "core/util.h"

static inline struct node_addr
addr(const char *s)
{
	struct node_addr a;
	if (node_addr_parse(s, &a) < 0)
		fail_msg("bad test address %s", s);
	return a;
}

#endif
