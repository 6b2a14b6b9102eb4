/* SPDX-License-Identifier: MIT */
/* Ed25519 keys, and the cluster CA and node certificates signed with them (OpenSSL 3.0 API). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cert/cert.h"
#include "core/util.h"

#define SERIAL_BYTES 16 /* a 128-bit serial number */
#define CA_TAG_BYTES 8  /* 16 hex digits in the CA's name */
/* notBefore is set this much earlier than now, for hosts whose clocks are a little behind. */
#define BACKDATE_SEC 300

/* "gossip-cert: what: <each OpenSSL error>", emptying OpenSSL's error queue. */
void
cert_ssl_error(const char *fmt, ...)
{
	char what[1024], reason[256];
	const char *data;
	unsigned long e;
	int flags, n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s", program_invocation_short_name, what);
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		ERR_error_string_n(e, reason, sizeof(reason));
		fprintf(stderr, "%s%s", n++ ? "; " : ": ", reason);
		if ((flags & ERR_TXT_STRING) && data && *data)
			fprintf(stderr, " (%s)", data);
	}
	if (n == 0)
		fputs(": no reason given by OpenSSL", stderr);
	fputc('\n', stderr);
}

EVP_PKEY *
cert_new_key(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	if (!key)
		cert_ssl_error("cannot generate an Ed25519 key");
	return key;
}

/* A random positive serial number of 128 bits. */
static int
set_random_serial(X509 *x)
{
	unsigned char bytes[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int ok = 0;

	do {
		BN_free(bn);
		bn = NULL;
		if (RAND_bytes(bytes, sizeof(bytes)) != 1)
			goto out;
		if (!(bn = BN_bin2bn(bytes, sizeof(bytes), NULL)))
			goto out;
	} while (BN_is_zero(bn));
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
out:
	if (!ok)
		cert_ssl_error("cannot make a random serial number");
	BN_free(bn);
	return ok ? 0 : -1;
}

/* Valid from now + start_days (a few minutes earlier) to now + start_days + days. */
static int
set_validity(X509 *x, long start_days, long days)
{
	time_t now = time(NULL);

	if (!X509_time_adj_ex(X509_getm_notBefore(x), (int)start_days, -BACKDATE_SEC, &now) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)(start_days + days), 0, &now)) {
		cert_ssl_error("cannot set the validity period");
		return -1;
	}
	return 0;
}

/* Version 3, a random serial, the subject CN=cn, the public key and the validity. */
static int
start_cert(X509 *x, const char *cn, EVP_PKEY *key, long start_days, long days)
{
	X509_NAME *subject = X509_get_subject_name(x);

	if (!X509_set_version(x, X509_VERSION_3) ||
	    !X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_pubkey(x, key)) {
		cert_ssl_error("cannot make the certificate of '%s'", cn);
		return -1;
	}
	if (set_random_serial(x) < 0 || set_validity(x, start_days, days) < 0)
		return -1;
	return 0;
}

/* An extension from its text form, as in openssl.cnf ("critical,CA:TRUE,pathlen:0"). */
static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);

	if (!ok)
		cert_ssl_error("cannot add the extension %s = %s", OBJ_nid2sn(nid), value);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int
sign(X509 *x, EVP_PKEY *key)
{
	/* EdDSA hashes internally: no digest is given. */
	if (X509_sign(x, key, NULL) <= 0) {
		cert_ssl_error("cannot sign the certificate");
		return -1;
	}
	return 0;
}

X509 *
cert_make_ca(EVP_PKEY *key, long days)
{
	unsigned char tag[CA_TAG_BYTES];
	char hex[2 * CA_TAG_BYTES + 1], cn[64];
	X509V3_CTX ctx;
	X509 *x = X509_new();

	if (!x || RAND_bytes(tag, sizeof(tag)) != 1) {
		cert_ssl_error("cannot make the CA certificate");
		X509_free(x);
		return NULL;
	}
	snprintf(cn, sizeof(cn), "gossip cluster CA %s", hex_encode(tag, sizeof(tag), hex));
	if (start_cert(x, cn, key, 0, days) < 0)
		goto fail;
	if (!X509_set_issuer_name(x, X509_get_subject_name(x))) {
		cert_ssl_error("cannot set the issuer of the CA certificate");
		goto fail;
	}
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 || sign(x, key) < 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Appends a name of the type (GEN_IPADD, GEN_DNS) to names, taking value over. */
static int
push_name(GENERAL_NAMES *names, int type, ASN1_STRING *value)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	if (!gn) {
		ASN1_STRING_free(value);
		return 0;
	}
	GENERAL_NAME_set0_value(gn, type, value);
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		return 0;
	}
	return 1;
}

/* subjectAltName: IP:addr for each address, then DNS:name when the name is a host name. */
static int
add_alt_names(X509 *x, const struct cert_node_profile *p)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int ok = names != NULL;

	for (size_t i = 0; ok && i < p->naddresses; i++) {
		ASN1_OCTET_STRING *ip = ASN1_OCTET_STRING_new();

		const struct cert_address *a = &p->addresses[i];

		if (!ip || !ASN1_OCTET_STRING_set(ip, a->bytes, (int)a->len)) {
			ASN1_OCTET_STRING_free(ip);
			ok = 0;
			break;
		}
		ok = push_name(names, GEN_IPADD, ip);
	}
	if (ok && p->dns_name) {
		ASN1_IA5STRING *dns = ASN1_IA5STRING_new();

		if (!dns || !ASN1_STRING_set(dns, p->name, -1)) {
			ASN1_IA5STRING_free(dns);
			ok = 0;
		} else {
			ok = push_name(names, GEN_DNS, dns);
		}
	}
	ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
	if (!ok)
		cert_ssl_error("cannot add the subjectAltName extension");
	GENERAL_NAMES_free(names);
	return ok ? 0 : -1;
}

X509 *
cert_make_node(const struct cert_node_profile *p, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509V3_CTX ctx;
	X509 *x = X509_new();

	if (!x) {
		cert_ssl_error("cannot make the certificate of '%s'", p->name);
		return NULL;
	}
	if (start_cert(x, p->name, key, p->start_days, p->days) < 0)
		goto fail;
	if (!X509_set_issuer_name(x, X509_get_subject_name(ca))) {
		cert_ssl_error("cannot set the issuer of the certificate of '%s'", p->name);
		goto fail;
	}
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_alt_names(x, p) < 0 || sign(x, ca_key) < 0)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}
