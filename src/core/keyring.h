/* SPDX-License-Identifier: MIT */
/* The origins' keys a peer knows, by IP, from verified certificates: to check messages' signatures. */
#ifndef GOSSIP_CORE_KEYRING_H
#define GOSSIP_CORE_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addrindex.h"
#include "identity.h"
#include "wire.h"

/*
 * One IP's keys: the certificate last verified for it, and the one before
 * (a node that rotated its certificate signs with the new key while messages
 * signed with the old one are still in flight).
 */
struct keyring_entry {
	struct node_addr ip; /* the port is 0 */
	uint8_t key[2][IDENTITY_KEY_LEN];
	uint64_t not_after[2]; /* unix usec */
	void *pkey[2];         /* OpenSSL's form of each key, made on first use */
	uint8_t nkeys;
	struct blob *cert; /* the certificate of key[0], DER, to hand to neighbours */
};

/* At most `max` IPs; when full, adding one forgets another, at random. */
struct keyring {
	struct keyring_entry *v;
	size_t n, cap, max;
	struct addr_index index;
	void *mdctx; /* one verification context, reused */
	uint64_t rnd;
};

void keyring_init(struct keyring *k, size_t max, uint64_t k0, uint64_t k1);
void keyring_free(struct keyring *k);
/*
 * Learns the keys of a verified certificate, for every IP it lists. Returns
 * whether one of those IPs has a new current key (a new certificate, which
 * neighbours then need before messages signed with it).
 */
bool keyring_add(struct keyring *k, const struct identity *id);

enum keyring_verdict {
	KEYRING_VALID,
	KEYRING_UNKNOWN, /* no key for the origin's IP (or only expired ones) */
	KEYRING_BAD,     /* a key is known and the signature does not match it */
};

/* Checks sig, made by origin over msg, at the wall-clock time now_real. */
enum keyring_verdict keyring_verify(struct keyring *k, const struct node_addr *origin,
				    const uint8_t *msg, size_t len, const uint8_t sig[WIRE_SIG_LEN],
				    uint64_t now_real);
/* The certificate the keyring holds for a's IP, or NULL. */
struct blob *keyring_cert(const struct keyring *k, const struct node_addr *a);

/* The IP of a, as the keyring and the per-neighbour sets key it (port 0). */
static inline struct node_addr
keyring_ip(const struct node_addr *a)
{
	struct node_addr ip = *a;

	ip.port = 0;
	return ip;
}

#endif
