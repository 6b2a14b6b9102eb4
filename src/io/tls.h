/* SPDX-License-Identifier: MIT */
/* Mutual TLS 1.3 between nodes (OpenSSL), inside the event loop: a transport for conn. */
#ifndef GOSSIP_IO_TLS_H
#define GOSSIP_IO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "core/config.h"
#include "core/identity.h"

/*
 * A loaded configuration: the node's certificate and key, the cluster CA and
 * the revocation list. Connections hold a reference, so a reload (a new
 * tls_ctx for new connections) leaves established links as they are.
 */
struct tls_ctx;

/*
 * Loads tls.* of c for the node at self: the certificate must chain to the
 * CA, be valid now, match the key, and list self's address (others refuse
 * what it is not listed for). 0 with *ret, or -EINVAL with err
 * ("file: message").
 */
int tls_ctx_load(const struct gossip_config *c, const struct node_addr *self,
		 struct tls_ctx **ret, char *err, size_t errlen);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *t);
void tls_ctx_unref(struct tls_ctx *t);
enum tls_mode tls_ctx_mode(const struct tls_ctx *t);
/* The node's own certificate, as a peer sees it. */
const struct identity *tls_ctx_identity(const struct tls_ctx *t);
/* Signs msg with the node's key (Ed25519): 0, or -EIO. */
int tls_ctx_sign(struct tls_ctx *t, const uint8_t *msg, size_t len, uint8_t sig[64]);
/*
 * Verifies a certificate (DER) as a TLS peer's would be: the CA, the dates,
 * revocation, and a key for signing. 0 with *ret (ret->cert a new
 * reference), or -EBADMSG with *reason.
 */
int tls_ctx_verify_cert(struct tls_ctx *t, const uint8_t *der, size_t len, struct identity *ret,
			const char **reason);
/* Days until the node's certificate expires (negative once expired). */
double tls_ctx_days_left(const struct tls_ctx *t, uint64_t now_real);

/* Makes c (outbound, connecting) a TLS client of t: the handshake follows the TCP connect. */
int tls_client(struct conn *c, struct tls_ctx *t);
/*
 * An accepted c: in required mode, TLS server at once; in optional mode its
 * first byte decides (0x16, a TLS record, or a gossip frame's 'G').
 * Plaintext refused in required mode closes with EPROTONOSUPPORT.
 */
int tls_server(struct conn *c, struct tls_ctx *t);
/* The verified remote of a TLS connection, or NULL (plaintext, or not verified yet). */
const struct identity *tls_identity(const struct conn *c);
/* Whether c runs TLS (its handshake done or under way). */
bool tls_active(const struct conn *c);

#endif
