/* SPDX-License-Identifier: MIT */
/* Who is at the other end of a link, as its certificate says: the addresses it may claim, its key. */
#ifndef GOSSIP_CORE_IDENTITY_H
#define GOSSIP_CORE_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"

/* Addresses one certificate may list, at most (more are ignored): as gossip-cert issues (64). */
#define IDENTITY_MAX_ADDRS 64
/* An Ed25519 public key. */
#define IDENTITY_KEY_LEN 32

/*
 * Filled by the environment once a TLS handshake has verified the remote's
 * certificate against the cluster CA (and its validity and revocation). A
 * link without one is plaintext: nothing it claims is proven.
 */
struct identity {
	uint32_t n_addrs;
	struct {
		uint8_t family; /* AF_INET or AF_INET6 */
		uint8_t addr[16];
	} addrs[IDENTITY_MAX_ADDRS];
	uint8_t key[IDENTITY_KEY_LEN]; /* the certificate's Ed25519 public key */
	bool has_key;
	char name[64];        /* the subject's common name, for log lines */
	struct blob *cert;    /* the certificate, DER */
	uint64_t not_after;   /* unix usec */
};

/* Whether the certificate lists a's IP (any port: instances on one host share it). */
bool identity_allows(const struct identity *id, const struct node_addr *a);

#endif
