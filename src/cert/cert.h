/* SPDX-License-Identifier: MIT */
/* The parts of gossip-cert: the cluster CA and node certificates, their files, show, verify. */
#ifndef GOSSIP_CERT_CERT_H
#define GOSSIP_CERT_CERT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Exit statuses. */
enum cert_status {
	CERT_OK = 0,
	CERT_FAILED = 1, /* I/O, OpenSSL, or a certificate that does not verify */
	CERT_USAGE = 2,  /* unknown command or option, bad address or number */
};

#define CERT_MAX_ADDRESSES 64
#define CERT_MAX_NAME 64 /* characters of a commonName (ub-common-name) */
#define CERT_MAX_DAYS 36500

/* An IP address a node may advertise: its bytes, as in an iPAddress subjectAltName. */
struct cert_address {
	int family; /* AF_INET or AF_INET6 */
	unsigned char bytes[16];
	size_t len; /* 4 or 16 */
	char text[INET6_ADDRSTRLEN];
};

/* What a node's certificate says. */
struct cert_node_profile {
	const struct cert_address *addresses;
	size_t naddresses;
	const char *name; /* the subject's CN */
	bool dns_name;    /* name is also a DNS subjectAltName */
	long start_days;  /* valid from now + start_days */
	long days;        /* for days */
};

/* A key or certificate written to a temporary file, not yet renamed into place. */
struct cert_staged {
	char *path; /* the final name */
	char *tmp;  /* the temporary file, NULL once renamed */
	int fd;
	mode_t mode; /* the file's mode */
};

/* make.c: keys and certificates. Failures are reported on stderr. */
void cert_ssl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
EVP_PKEY *cert_new_key(void);
X509 *cert_make_ca(EVP_PKEY *key, long days);
X509 *cert_make_node(const struct cert_node_profile *p, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key);

/* files.c: atomic writes with the final modes, and loading. -1 after reporting a failure. */
char *cert_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cert_refuse_existing(const char *path);
int cert_make_dirs(const char *dir);
int cert_stage_key(struct cert_staged *s, const char *path, EVP_PKEY *key, gid_t group);
int cert_stage_cert(struct cert_staged *s, const char *path, X509 *x);
int cert_commit(struct cert_staged *s, bool replace);
void cert_discard(struct cert_staged *s);
int cert_sync_dir(const char *path);
EVP_PKEY *cert_load_key(const char *path);
X509 *cert_load_cert(const char *path);

/*
 * host.c: appends to v[0..n) this host's addresses not in it yet (of every
 * interface, loopback included, IPv6 link-local excluded), up to max in all;
 * *left_out counts those that did not fit. Returns the new count.
 */
size_t cert_host_addresses(struct cert_address *v, size_t n, size_t max, size_t *left_out);

/* show.c: show and verify return an exit status. */
char *cert_name_text(const X509_NAME *name);
const char *cert_time_text(const ASN1_TIME *t, char *buf, size_t n);
int cert_show(const char *path, bool json);
int cert_verify(const char *path, const char *ca_path);

#endif
