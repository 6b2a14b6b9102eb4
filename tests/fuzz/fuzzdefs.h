/* SPDX-License-Identifier: MIT */
/* Shared by the fuzz targets and their corpus writer: input layouts, addresses, keys, clock. */
#ifndef GOSSIP_FUZZDEFS_H
#define GOSSIP_FUZZDEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/util.h"
#include "core/wire.h"

/*
 * Every address the targets use is on loopback: the cores run on a recording
 * environment and connect nowhere, but a mistake must not reach another host.
 */
#define FUZZ_SEED_ADDR "127.0.0.1:5000"   /* the peer's one seed; the seed's own address */
#define FUZZ_SELF_ADDR "127.0.1.1:6000"   /* the peer under test */
#define FUZZ_REMOTE_ADDR "127.0.2.1:6000" /* the inbound neighbour (its HELLO) */
#define FUZZ_REMOTE_DESC "127.0.2.1:40000"
#define FUZZ_DIALLED_ADDR "127.0.2.2:6000" /* a peer the seed lists: dialled */
#define FUZZ_BYSTANDER_ADDR "127.0.2.3:6000" /* a neighbour that only listens (fuzz_peer) */
#define FUZZ_BYSTANDER_DESC "127.0.2.3:40000"
#define FUZZ_ORIGIN_ADDR "127.0.0.3:6000"  /* the origin of relayed messages */
#define FUZZ_STRANGER_ADDR "127.0.9.9:6000" /* an origin no certificate lists yet */
#define FUZZ_PROBED_ADDR "127.0.2.5:6000"  /* fuzz_seed: the peer reported dead */

/* The fake clock of tests/unit/fakeenv.h: FAKE_REAL0, the wall clock at its start. */
#define FUZZ_REAL0 (1700000000ULL * USEC_PER_SEC)

/*
 * fuzz_peer: the first byte of an input. The rest is the byte stream of one
 * link, cut into frames as a connection does (wire_frame_check()).
 */
#define FUZZ_PEER_LINK_MASK 0x03
enum fuzz_peer_link {
	FUZZ_PEER_PENDING = 0,  /* an inbound connection before HELLO */
	FUZZ_PEER_INBOUND = 1,  /* an inbound neighbour after its valid HELLO */
	FUZZ_PEER_SEED = 2,     /* the peer's session with its seed, REGISTER sent */
	FUZZ_PEER_OUTBOUND = 3, /* a neighbour the peer dialled: its HELLO expected */
};
#define FUZZ_PEER_TLS 0x04        /* certificates: claims checked, signatures required */
#define FUZZ_PEER_FIX 0x08        /* GOSSIP ids (and signatures, timestamps) made right */
#define FUZZ_PEER_STEP_SHIFT 4    /* bits 4-6: the clock step between frames */
#define FUZZ_PEER_NOT_LAST 0x80   /* frames given with last_in_read false */

/* fuzz_seed: the first byte of an input, the rest as for fuzz_peer. */
#define FUZZ_SEED_LINK_MASK 0x03
enum fuzz_seed_link {
	FUZZ_SEED_CLIENT = 0,  /* a fresh client connection */
	FUZZ_SEED_CERT = 1,    /* a client whose certificate lists FUZZ_REMOTE_ADDR's IP only */
	FUZZ_SEED_PROBE = 2,   /* the seed's probe of FUZZ_PROBED_ADDR, HELLO and PING sent */
	FUZZ_SEED_FILLED = 3,  /* a client, with peers registered by others before */
};
#define FUZZ_SEED_OPT 0x04       /* probe: PONG nonces made right; else seed.confirm_dead off */
#define FUZZ_SEED_SAMPLE 0x08    /* seed.peer_list_size 2 */
#define FUZZ_SEED_STEP_SHIFT 4   /* bits 4-6: the clock step between frames */
#define FUZZ_SEED_SMALL 0x80     /* seed.max_peers 4 */

/*
 * fuzz_tls: the first byte of an input; the rest is what the client sends:
 * raw bytes, or, after a real handshake, application data.
 */
#define FUZZ_TLS_OPTIONAL 0x01  /* tls.mode optional, else required */
#define FUZZ_TLS_HANDSHAKE 0x02 /* a client of the CA completes its handshake first */

/* Clock steps between frames (usec), chosen by three bits of the first byte. */
static const uint64_t fuzz_steps[8] = {
	0, 1000, 10000, 100000, 500000, USEC_PER_SEC, 5 * USEC_PER_SEC, 60 * USEC_PER_SEC,
};

/* Two fixed Ed25519 keys: 0 signs, as the harness's own and its neighbours' certificates say. */
static inline EVP_PKEY *
fuzz_key(int which)
{
	uint8_t seed[32];

	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 7 + 1 + which * 101);
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
}

/* The origin's signature of message id with key: true when made. */
static inline bool
fuzz_sign(EVP_PKEY *key, const uint8_t id[WIRE_ID_LEN], uint8_t sig[WIRE_SIG_LEN])
{
	uint8_t msg[WIRE_SIGNED_LEN];
	size_t siglen = WIRE_SIG_LEN;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok;

	wire_signed_bytes(id, msg);
	ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, key) == 1 &&
	     EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg)) == 1 && siglen == WIRE_SIG_LEN;
	EVP_MD_CTX_free(md);
	return ok;
}

/*
 * A fake certificate, as fuzz_peer's verify_cert reads it: 'C', four bytes
 * of an IPv4 address it lists, the key's number (0 or 1), then anything.
 */
#define FUZZ_CERT_MAGIC 'C'
#define FUZZ_CERT_MIN 6

#endif
