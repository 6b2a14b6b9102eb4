/* SPDX-License-Identifier: MIT */
/* Mutual TLS 1.3 between nodes (OpenSSL), inside the event loop: a transport for conn. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

/* The most a TLS record carries: a write gathers up to this much. */
#define TLS_RECORD_MAX 16384
/* The first byte of a TLS handshake record. */
#define TLS_RECORD_HANDSHAKE 0x16

struct tls_ctx {
	unsigned refs;
	SSL_CTX *ctx;
	enum tls_mode mode;
	struct identity self;
	EVP_MD_CTX *sign_ctx;
};

struct tls_conn {
	SSL *ssl;
	struct tls_ctx *t;
	struct identity id;
	bool verified;
	char err[192];
};

/* The last OpenSSL error, as text ("" when there is none). */
static const char *
ssl_error_text(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	buf[0] = '\0';
	if (e)
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static void __attribute__((format(printf, 4, 5)))
load_error(char *err, size_t errlen, const char *file, const char *fmt, ...)
{
	char what[256], ssl[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ssl_error_text(ssl, sizeof(ssl));
	conf_add_error(err, errlen, file, 0, "%s%s%s", what, ssl[0] ? ": " : "", ssl);
}

static uint64_t
asn1_time_usec(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (uint64_t)timegm(&tm) * 1000000ULL;
}

/* The addresses, key, name and expiry a verified certificate gives its holder. */
static void
identity_of(X509 *x, struct identity *id)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	EVP_PKEY *pk = X509_get0_pubkey(x);
	size_t klen = IDENTITY_KEY_LEN;
	int der = i2d_X509(x, NULL);

	memset(id, 0, sizeof(*id));
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		int n;
		if (g->type != GEN_IPADD || id->n_addrs == IDENTITY_MAX_ADDRS)
			continue;
		n = ASN1_STRING_length(g->d.iPAddress);
		if (n != 4 && n != 16)
			continue;
		id->addrs[id->n_addrs].family = n == 4 ? AF_INET : AF_INET6;
		memcpy(id->addrs[id->n_addrs].addr, ASN1_STRING_get0_data(g->d.iPAddress), (size_t)n);
		id->n_addrs++;
	}
	GENERAL_NAMES_free(names);
	if (pk && EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pk, id->key, &klen) == 1 && klen == IDENTITY_KEY_LEN)
		id->has_key = true;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, id->name,
				      sizeof(id->name)) < 0)
		snprintf(id->name, sizeof(id->name), "?");
	id->not_after = asn1_time_usec(X509_get0_notAfter(x));
	if (der > 0) {
		unsigned char *p;
		id->cert = blob_new(NULL, (size_t)der);
		p = id->cert->data;
		i2d_X509(x, &p);
	}
}

static bool
load_crl(SSL_CTX *ctx, const char *path, char *err, size_t errlen)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *b = BIO_new_file(path, "r");
	X509_CRL *crl;
	int n = 0;

	if (!b) {
		load_error(err, errlen, path, "cannot read the revocation list");
		return false;
	}
	while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL))) {
		X509_STORE_add_crl(st, crl);
		X509_CRL_free(crl);
		n++;
	}
	BIO_free(b);
	ERR_clear_error(); /* the end of the file */
	if (!n) {
		load_error(err, errlen, path, "no revocation list (PEM X509 CRL) in the file");
		return false;
	}
	X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	return true;
}

/* The node's own certificate, checked as others will check it. */
static bool
check_own(struct tls_ctx *t, const struct tls_config *c, const struct node_addr *self,
	  char *err, size_t errlen)
{
	X509 *own = SSL_CTX_get0_certificate(t->ctx);
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	char as[NODE_ADDR_STRLEN];
	bool ok = false;

	if (sc && X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(t->ctx), own, NULL) == 1) {
		if (X509_verify_cert(sc) == 1)
			ok = true;
		else
			conf_add_error(err, errlen, c->cert_file, 0, "not accepted by %s: %s", c->ca_file,
				       X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
	}
	X509_STORE_CTX_free(sc);
	if (!ok)
		return false;
	identity_of(own, &t->self);
	if (!t->self.has_key) {
		conf_add_error(err, errlen, c->cert_file, 0, "the key is not Ed25519 (see gossip-cert(8))");
		return false;
	}
	if (self && !identity_allows(&t->self, self)) {
		conf_add_error(err, errlen, c->cert_file, 0,
			       "the certificate (%s) does not list %s, the address this node advertises",
			       t->self.name, node_addr_ip_str(self, as));
		return false;
	}
	return true;
}

static SSL_CTX *
new_ssl_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Both ends show a certificate, and it must chain to the cluster CA. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	return ctx;
}

int
tls_ctx_load(const struct gossip_config *c, const struct node_addr *self, struct tls_ctx **ret,
	     char *err, size_t errlen)
{
	const struct tls_config *tc = &c->tls;
	struct tls_ctx *t = xcalloc(1, sizeof(*t));

	err[0] = '\0';
	t->refs = 1;
	t->mode = conf_tls_mode(c);
	if (!(t->ctx = new_ssl_ctx())) {
		load_error(err, errlen, "TLS", "cannot create a context");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(t->ctx, tc->cert_file) != 1) {
		load_error(err, errlen, tc->cert_file, "cannot load the certificate");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, tc->key_file, SSL_FILETYPE_PEM) != 1) {
		load_error(err, errlen, tc->key_file, "cannot load the key");
		goto fail;
	}
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		load_error(err, errlen, tc->key_file, "the key does not match %s", tc->cert_file);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(t->ctx, tc->ca_file, NULL) != 1) {
		load_error(err, errlen, tc->ca_file, "cannot load the CA certificate");
		goto fail;
	}
	if (tc->crl_file && !load_crl(t->ctx, tc->crl_file, err, errlen))
		goto fail;
	if (!check_own(t, tc, self, err, errlen))
		goto fail;
	*ret = t;
	return 0;
fail:
	tls_ctx_unref(t);
	return -EINVAL;
}

struct tls_ctx *
tls_ctx_ref(struct tls_ctx *t)
{
	t->refs++;
	return t;
}

void
tls_ctx_unref(struct tls_ctx *t)
{
	if (!t || --t->refs)
		return;
	SSL_CTX_free(t->ctx);
	EVP_MD_CTX_free(t->sign_ctx);
	blob_unref(t->self.cert);
	free(t);
}

enum tls_mode
tls_ctx_mode(const struct tls_ctx *t)
{
	return t->mode;
}

const struct identity *
tls_ctx_identity(const struct tls_ctx *t)
{
	return &t->self;
}

int
tls_ctx_sign(struct tls_ctx *t, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	EVP_PKEY *key = SSL_CTX_get0_privatekey(t->ctx);
	size_t siglen = 64;

	if (!key || (!t->sign_ctx && !(t->sign_ctx = EVP_MD_CTX_new())))
		return -EIO;
	EVP_MD_CTX_reset(t->sign_ctx);
	if (EVP_DigestSignInit(t->sign_ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(t->sign_ctx, sig, &siglen, msg, len) != 1 || siglen != 64) {
		ERR_clear_error();
		return -EIO;
	}
	return 0;
}

int
tls_ctx_verify_cert(struct tls_ctx *t, const uint8_t *der, size_t len, struct identity *ret,
		    const char **reason)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	X509_STORE_CTX *sc;
	int r = -EBADMSG;

	if (!x || p != der + len) {
		*reason = "not a certificate (DER)";
		X509_free(x);
		ERR_clear_error();
		return -EBADMSG;
	}
	sc = X509_STORE_CTX_new();
	if (sc && X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(t->ctx), x, NULL) == 1 &&
	    X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_CLIENT) == 1) {
		if (X509_verify_cert(sc) == 1) {
			identity_of(x, ret);
			r = ret->has_key ? 0 : -EBADMSG;
			if (r)
				*reason = "its key is not Ed25519";
		} else {
			*reason = X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc));
		}
	} else {
		*reason = "out of memory";
	}
	if (r && ret->cert) {
		blob_unref(ret->cert);
		ret->cert = NULL;
	}
	X509_STORE_CTX_free(sc);
	X509_free(x);
	ERR_clear_error();
	return r;
}

double
tls_ctx_days_left(const struct tls_ctx *t, uint64_t now_real)
{
	return ((double)t->self.not_after - (double)now_real) / 86400e6;
}

/* ---- the transport ----------------------------------------------------------------------- */

/* What an SSL call that did not succeed means: -EAGAIN, 0 (EOF) or -errno, with the reason kept. */
static ssize_t
io_result(struct conn *c, int r, const char *what)
{
	struct tls_conn *tc = c->tls;
	char ssl[160];

	switch (SSL_get_error(tc->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? -errno : 0;
	default:
		snprintf(tc->err, sizeof(tc->err), "TLS %s failed: %s", what,
			 ssl_error_text(ssl, sizeof(ssl)));
		return -EPROTO;
	}
}

static ssize_t
tls_recv(struct conn *c, void *buf, size_t len)
{
	struct tls_conn *tc = c->tls;
	size_t n = 0;
	int r;

	errno = 0;
	r = SSL_read_ex(tc->ssl, buf, len, &n);
	return r == 1 ? (ssize_t)n : io_result(c, r, "read");
}

static ssize_t
tls_sendv(struct conn *c, const struct iovec *iov, int niov)
{
	struct tls_conn *tc = c->tls;
	uint8_t *buf = c->loop->wscratch;
	size_t total = 0, w = 0;
	int r;

	if (!buf)
		buf = c->loop->wscratch = xmalloc(TLS_RECORD_MAX);
	/* One record's worth, gathered: TLS has no scatter-gather write. */
	for (int i = 0; i < niov && total < TLS_RECORD_MAX; i++) {
		size_t k = iov[i].iov_len < TLS_RECORD_MAX - total ? iov[i].iov_len
								     : TLS_RECORD_MAX - total;
		memcpy(buf + total, iov[i].iov_base, k);
		total += k;
	}
	errno = 0;
	r = SSL_write_ex(tc->ssl, buf, total, &w);
	return r == 1 ? (ssize_t)w : io_result(c, r, "write");
}

static int
tls_handshake(struct conn *c, bool *want_write, const char **reason)
{
	struct tls_conn *tc = c->tls;
	char ssl[160];
	X509 *peer;
	long v;
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(tc->ssl);
	if (r == 1) {
		if (!(peer = SSL_get1_peer_certificate(tc->ssl))) {
			*reason = "TLS handshake failed: no certificate";
			return -EPROTO;
		}
		identity_of(peer, &tc->id);
		X509_free(peer);
		tc->verified = true;
		return 0;
	}
	e = SSL_get_error(tc->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want_write = e == SSL_ERROR_WANT_WRITE;
		return -EAGAIN;
	}
	if ((v = SSL_get_verify_result(tc->ssl)) != X509_V_OK)
		snprintf(tc->err, sizeof(tc->err), "TLS handshake failed: its certificate: %s",
			 X509_verify_cert_error_string(v));
	else if (e == SSL_ERROR_SYSCALL && errno)
		snprintf(tc->err, sizeof(tc->err), "TLS handshake failed: %s", strerror(errno));
	else if (ssl_error_text(ssl, sizeof(ssl))[0])
		snprintf(tc->err, sizeof(tc->err), "TLS handshake failed: %s", ssl);
	else
		snprintf(tc->err, sizeof(tc->err), "TLS handshake failed: connection closed (a "
						   "plaintext node, or one that refused our certificate?)");
	ERR_clear_error();
	*reason = tc->err;
	return -EPROTO;
}

static bool
tls_pending(const struct conn *c)
{
	const struct tls_conn *tc = c->tls;

	return SSL_has_pending(tc->ssl);
}

static void
tls_free(struct conn *c)
{
	struct tls_conn *tc = c->tls;

	if (!tc)
		return;
	SSL_free(tc->ssl);
	blob_unref(tc->id.cert);
	tls_ctx_unref(tc->t);
	free(tc);
	c->tls = NULL;
}

static const struct conn_transport tls_transport = {tls_recv, tls_sendv, tls_free, tls_handshake,
						    tls_pending};

static int
attach(struct conn *c, struct tls_ctx *t, bool server)
{
	struct tls_conn *tc = xcalloc(1, sizeof(*tc));

	tc->ssl = SSL_new(t->ctx);
	if (!tc->ssl || SSL_set_fd(tc->ssl, c->fd) != 1) {
		SSL_free(tc->ssl);
		free(tc);
		return -ENOMEM;
	}
	if (server)
		SSL_set_accept_state(tc->ssl);
	else
		SSL_set_connect_state(tc->ssl);
	tc->t = tls_ctx_ref(t);
	c->tls = tc;
	c->tr = &tls_transport;
	return 0;
}

int
tls_client(struct conn *c, struct tls_ctx *t)
{
	return attach(c, t, false);
}

/*
 * An accepted connection's first byte: a TLS record starts the handshake; a
 * frame is plaintext, refused in required mode and let through (without TLS)
 * in optional mode.
 */
static void
sniffed(struct conn *c, uint8_t first)
{
	struct tls_conn *tc = c->tls;

	if (first == TLS_RECORD_HANDSHAKE) {
		conn_begin_handshake(c);
		return;
	}
	if (tc->t->mode == TLS_MODE_REQUIRED) {
		conn_close(c, "plaintext connection refused: tls.mode is required", EPROTONOSUPPORT);
		return;
	}
	tls_free(c);
	c->tr = &conn_plain_transport;
}

int
tls_server(struct conn *c, struct tls_ctx *t)
{
	int r = attach(c, t, true);

	if (r < 0)
		return r;
	conn_begin_sniff(c, sniffed);
	return 0;
}

const struct identity *
tls_identity(const struct conn *c)
{
	const struct tls_conn *tc = c->tr == &tls_transport ? c->tls : NULL;

	return tc && tc->verified ? &tc->id : NULL;
}

bool
tls_active(const struct conn *c)
{
	return c->tr == &tls_transport;
}
