/* SPDX-License-Identifier: MIT */
/* Shared by the unit tests: distinct message ids by number, the number readable from the id. */
#ifndef GOSSIP_TESTID_H
#define GOSSIP_TESTID_H

#include <stdint.h>

#include "core/buf.h"
#include "core/wire.h"

/* The i-th test id: i in its first 8 bytes (get_u64), a fixed pattern in the rest. */
static inline void
test_id(uint64_t i, uint8_t id[WIRE_ID_LEN])
{
	for (size_t k = 0; k < WIRE_ID_LEN; k++)
		id[k] = (uint8_t)(0x5a ^ k);
	for (int k = 0; k < 8; k++)
		id[k] = (uint8_t)(i >> (56 - 8 * k));
}

#endif
