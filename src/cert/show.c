/* SPDX-License-Identifier: MIT */
/* gossip-cert show and verify: a certificate's fields as text or JSON, and its chain to the CA. */
#include <arpa/inet.h>
#include <err.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cert/cert.h"
#include "core/util.h"

#define DAY_SEC 86400L
#define KEY_WIDTH 19 /* "sha256_fingerprint:" */

/* A list of strings. */
struct strings {
	char **v;
	size_t n;
};

/* What show prints. */
struct cert_info {
	char *subject, *issuer, *serial, *key_type;
	char not_before[32], not_after[32];         /* "2026-11-25 09:00:00 UTC" */
	char not_before_iso[32], not_after_iso[32]; /* "2026-11-25T09:00:00Z" */
	const char *state;                          /* "valid", "expired", "not yet valid" */
	char validity[96];                          /* "valid, 825 days left" */
	struct strings addresses, names;
	bool ca;
	long pathlen; /* -1: none */
	char fingerprint[3 * EVP_MAX_MD_SIZE];
};

static void
strings_add(struct strings *s, char *str)
{
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = str;
}

static void
strings_free(struct strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* The name in the form of RFC 2253, UTF-8 left as it is ("CN=gossip cluster CA ..."). */
char *
cert_name_text(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *text = NULL;
	long n;

	if (bio && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(bio, &data);
		text = xstrndup(n > 0 ? data : "", n > 0 ? (size_t)n : 0);
	}
	BIO_free(bio);
	return text ? text : xstrdup("?");
}

/* "2026-11-25 09:00:00 UTC" into buf. */
const char *
cert_time_text(const ASN1_TIME *t, char *buf, size_t n)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, n, "(invalid time)");
	return buf;
}

static void
time_iso(const ASN1_TIME *t, char *buf, size_t n)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "invalid");
}

/* Whole days, rounded, from now to t (negative when t is past). */
static long
days_from_now(const ASN1_TIME *t)
{
	int day = 0, sec = 0;
	long total;

	if (!ASN1_TIME_diff(&day, &sec, NULL, t))
		return 0;
	total = (long)day * DAY_SEC + sec;
	return total >= 0 ? (total + DAY_SEC / 2) / DAY_SEC : -((-total + DAY_SEC / 2) / DAY_SEC);
}

static const char *
days_text(long days, char *buf, size_t n)
{
	if (days == 0)
		snprintf(buf, n, "less than a day");
	else
		snprintf(buf, n, "%ld day%s", days, days == 1 ? "" : "s");
	return buf;
}

static void
describe_validity(X509 *x, struct cert_info *in)
{
	const ASN1_TIME *before = X509_get0_notBefore(x), *after = X509_get0_notAfter(x);
	char days[32];

	cert_time_text(before, in->not_before, sizeof(in->not_before));
	cert_time_text(after, in->not_after, sizeof(in->not_after));
	time_iso(before, in->not_before_iso, sizeof(in->not_before_iso));
	time_iso(after, in->not_after_iso, sizeof(in->not_after_iso));
	if (X509_cmp_current_time(before) > 0) {
		in->state = "not yet valid";
		snprintf(in->validity, sizeof(in->validity), "not valid until %s (in %s)",
			 in->not_before, days_text(days_from_now(before), days, sizeof(days)));
	} else if (X509_cmp_current_time(after) < 0) {
		in->state = "expired";
		snprintf(in->validity, sizeof(in->validity), "expired %s ago",
			 days_text(-days_from_now(after), days, sizeof(days)));
	} else {
		in->state = "valid";
		snprintf(in->validity, sizeof(in->validity), "valid, %s left",
			 days_text(days_from_now(after), days, sizeof(days)));
	}
}

/* The IP addresses and DNS names of the subjectAltName extension. */
static void
collect_alt_names(X509 *x, struct cert_info *in)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		char text[INET6_ADDRSTRLEN];

		if (gn->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *ip = gn->d.iPAddress;
			int len = ASN1_STRING_length(ip);
			int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;

			if (family &&
			    inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)))
				strings_add(&in->addresses, xstrdup(text));
			else
				strings_add(&in->addresses, cert_asprintf("(%d bytes)", len));
		} else if (gn->type == GEN_DNS) {
			const ASN1_IA5STRING *dns = gn->d.dNSName;
			strings_add(&in->names, xstrndup((const char *)ASN1_STRING_get0_data(dns),
							  (size_t)ASN1_STRING_length(dns)));
		}
	}
	GENERAL_NAMES_free(names);
}

static char *
key_type(X509 *x)
{
	EVP_PKEY *key = X509_get0_pubkey(x);
	const char *name;

	if (!key)
		return xstrdup("unknown");
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		return xstrdup("Ed25519");
	case EVP_PKEY_ED448:
		return xstrdup("Ed448");
	}
	name = EVP_PKEY_get0_type_name(key);
	if (!name)
		name = OBJ_nid2sn(EVP_PKEY_get_base_id(key));
	return cert_asprintf("%s, %d bits", name ? name : "unknown", EVP_PKEY_get_bits(key));
}

static int
collect_info(X509 *x, struct cert_info *in)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	BN_free(bn);
	if (!hex || !X509_digest(x, EVP_sha256(), md, &mdlen)) {
		OPENSSL_free(hex);
		cert_ssl_error("cannot read the certificate's serial number or fingerprint");
		return -1;
	}
	in->serial = xstrdup(hex);
	OPENSSL_free(hex);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(in->fingerprint + 3 * i, 4, i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
	in->subject = cert_name_text(X509_get_subject_name(x));
	in->issuer = cert_name_text(X509_get_issuer_name(x));
	in->key_type = key_type(x);
	describe_validity(x, in);
	collect_alt_names(x, in);
	in->ca = X509_check_ca(x) != 0;
	in->pathlen = X509_get_pathlen(x);
	return 0;
}

static void
free_info(struct cert_info *in)
{
	free(in->subject);
	free(in->issuer);
	free(in->serial);
	free(in->key_type);
	strings_free(&in->addresses);
	strings_free(&in->names);
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void
json_string(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);

	putchar('"');
	for (size_t i = 0; i < n;) {
		size_t len;

		if (p[i] == '"' || p[i] == '\\') {
			printf("\\%c", p[i]);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			printf("\\u%04x", p[i]);
		} else if ((len = utf8_seq_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, len, stdout);
			i += len;
			continue;
		} else {
			fputs("\xef\xbf\xbd", stdout);
		}
		i++;
	}
	putchar('"');
}

static void
json_strings(const struct strings *s)
{
	putchar('[');
	for (size_t i = 0; i < s->n; i++) {
		if (i > 0)
			putchar(',');
		json_string(s->v[i]);
	}
	putchar(']');
}

static void
print_json(const char *path, const struct cert_info *in)
{
	const char *keys[] = {"file", "subject", "issuer", "serial", "key_type", "not_before",
			      "not_after", "state", "validity"};
	const char *values[] = {path, in->subject, in->issuer, in->serial, in->key_type,
				in->not_before_iso, in->not_after_iso, in->state, in->validity};

	putchar('{');
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		printf("\"%s\":", keys[i]);
		json_string(values[i]);
		putchar(',');
	}
	fputs("\"addresses\":", stdout);
	json_strings(&in->addresses);
	fputs(",\"names\":", stdout);
	json_strings(&in->names);
	printf(",\"ca\":%s,\"pathlen\":", in->ca ? "true" : "false");
	if (in->ca && in->pathlen >= 0)
		printf("%ld", in->pathlen);
	else
		fputs("null", stdout);
	fputs(",\"sha256_fingerprint\":", stdout);
	json_string(in->fingerprint);
	fputs("}\n", stdout);
}

static void
print_field(const char *key, const char *value)
{
	char *escaped = escape_text((const uint8_t *)value, strlen(value));

	printf("%s:%*s %s\n", key, (int)(KEY_WIDTH - strlen(key) - 1), "", escaped);
	free(escaped);
}

/* The strings joined by ", ", or "-" when there are none. */
static void
print_list(const char *key, const struct strings *s)
{
	size_t len = 2;
	char *text;

	for (size_t i = 0; i < s->n; i++)
		len += strlen(s->v[i]) + 2;
	text = xcalloc(1, len);
	for (size_t i = 0; i < s->n; i++) {
		if (i > 0)
			strcat(text, ", ");
		strcat(text, s->v[i]);
	}
	print_field(key, s->n ? text : "-");
	free(text);
}

static void
print_text(const struct cert_info *in)
{
	char ca[64];

	print_field("subject", in->subject);
	print_field("issuer", in->issuer);
	print_field("serial", in->serial);
	print_field("key_type", in->key_type);
	print_field("not_before", in->not_before);
	print_field("not_after", in->not_after);
	print_field("validity", in->validity);
	print_list("addresses", &in->addresses);
	print_list("names", &in->names);
	if (!in->ca)
		snprintf(ca, sizeof(ca), "no");
	else if (in->pathlen >= 0)
		snprintf(ca, sizeof(ca), "yes, pathlen %ld", in->pathlen);
	else
		snprintf(ca, sizeof(ca), "yes, no path length limit");
	print_field("ca", ca);
	print_field("sha256_fingerprint", in->fingerprint);
}

int
cert_show(const char *path, bool json)
{
	struct cert_info in = {0};
	X509 *x = cert_load_cert(path);
	int status = CERT_FAILED;

	if (x && collect_info(x, &in) == 0) {
		if (json)
			print_json(path, &in);
		else
			print_text(&in);
		status = CERT_OK;
		if (fflush(stdout) != 0 || ferror(stdout)) {
			warn("cannot write to standard output");
			status = CERT_FAILED;
		}
	}
	free_info(&in);
	X509_free(x);
	return status;
}

/* Why X509_verify_cert() refused, with the date for an expired or not yet valid one. */
static void
report_failure(const char *path, const char *ca_path, X509_STORE_CTX *ctx)
{
	int error = X509_STORE_CTX_get_error(ctx);
	X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
	const char *which = X509_STORE_CTX_get_error_depth(ctx) > 0 ? "the CA's certificate: " : "";
	char when[PATH_MAX + 64] = "", date[32];

	if (bad && error == X509_V_ERR_CERT_HAS_EXPIRED)
		snprintf(when, sizeof(when), " (not after %s)",
			 cert_time_text(X509_get0_notAfter(bad), date, sizeof(date)));
	else if (bad && error == X509_V_ERR_CERT_NOT_YET_VALID)
		snprintf(when, sizeof(when), " (not before %s)",
			 cert_time_text(X509_get0_notBefore(bad), date, sizeof(date)));
	else if (error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		 error == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
		snprintf(when, sizeof(when), " (not signed by the CA of %s)", ca_path);
	warnx("%s: %s%s%s", path, which, X509_verify_cert_error_string(error), when);
}

/* A node's certificate must serve both ends of a TLS connection. */
static int
check_purpose(const char *path, X509 *x)
{
	if (X509_check_ca(x) != 0)
		return CERT_OK;
	if (X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0) == 1 &&
	    X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0) == 1)
		return CERT_OK;
	warnx("%s: not usable for both TLS server and client authentication (its keyUsage or "
	      "extendedKeyUsage)", path);
	return CERT_FAILED;
}

int
cert_verify(const char *path, const char *ca_path)
{
	X509 *x = cert_load_cert(path), *ca = x ? cert_load_cert(ca_path) : NULL;
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int status = CERT_FAILED, r;

	if (!x || !ca)
		goto out;
	if (X509_check_ca(ca) == 0) {
		warnx("%s is not a CA certificate", ca_path);
		goto out;
	}
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	if (!store || !ctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(ctx, store, x, NULL)) {
		cert_ssl_error("cannot prepare the verification of %s", path);
		goto out;
	}
	r = X509_verify_cert(ctx);
	if (r == 1)
		status = check_purpose(path, x);
	else if (r == 0)
		report_failure(path, ca_path, ctx);
	else
		cert_ssl_error("cannot verify %s", path);
	if (status == CERT_OK)
		printf("%s: OK\n", path);
	ERR_clear_error();
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(x);
	return status;
}
