/* SPDX-License-Identifier: MIT */
/* gossip-cert: makes the cluster CA and the nodes' TLS certificates, shows and verifies them. */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "cert/cert.h"
#include "core/util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_DIR SYSCONFDIR "/gossip/tls"
#define DEFAULT_GROUP "gossip"
#define CA_DAYS 3650
#define NODE_DAYS 825
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

enum {
	OPT_DIR = 0x100,
	OPT_DAYS,
	OPT_FORCE,
	OPT_ADDRESS,
	OPT_NAME,
	OPT_OUT,
	OPT_START,
	OPT_GROUP,
	OPT_JSON,
	OPT_CA,
};

struct options {
	const char *dir, *out, *name, *group, *ca, *file;
	bool force, json, dir_given, group_given;
	long days, start; /* days: -1 until given */
	struct cert_address addresses[CERT_MAX_ADDRESSES];
	size_t naddresses;
};

struct command {
	const char *name;
	int (*run)(struct options *o);
	const struct option *opts;
	int files; /* FILE arguments: 0 or 1 */
};

static void
usage(FILE *f)
{
	fputs("Usage: gossip-cert COMMAND [OPTIONS] [FILE]\n"
	      "\n"
	      "Make and check the TLS certificates of a gossip cluster: a cluster CA, and for\n"
	      "each node a key and a certificate naming the IP addresses it may advertise.\n"
	      "\n"
	      "Commands:\n"
	      "  init                  create the cluster CA: ca.key (mode 0600) and ca.crt\n"
	      "  issue --address IP[,IP...]\n"
	      "                        write a node's key and certificate, signed by the CA\n"
	      "  setup                 make what this host needs, keeping what exists: the CA\n"
	      "                        (when DIR has none) and DIR/node.key and node.crt for\n"
	      "                        this host's addresses (and --address)\n"
	      "  show FILE             print a certificate's subject, addresses, validity, ...\n"
	      "  verify FILE           check a certificate against the CA, dates included\n"
	      "\n"
	      "Options:\n"
	      "      --dir DIR         the CA's directory (default " DEFAULT_DIR ")\n"
	      "      --days N          days of validity, 1 to 36500 (init: default 3650;\n"
	      "                        issue: default 825)\n"
	      "      --force           init, issue: replace existing files\n"
	      "      --address IP[,IP...]\n"
	      "                        issue: the node's IPv4 and IPv6 addresses (repeatable);\n"
	      "                        setup: addresses to add to the host's own\n"
	      "      --name NAME       issue: the certificate's CN and file name (default the\n"
	      "                        first address); a host name is also a DNS name;\n"
	      "                        setup: the CN (default the host name)\n"
	      "      --out PREFIX      issue: write PREFIX.key and PREFIX.crt (default DIR/NAME)\n"
	      "      --start DAYS      issue: valid from DAYS days from now (default 0; may be\n"
	      "                        negative)\n"
	      "      --group GROUP     issue, setup: the key's group, mode 0640 (default gossip); when\n"
	      "                        it cannot be set, the key has mode 0600\n"
	      "      --json            show: print JSON\n"
	      "      --ca CAFILE       verify: the CA certificate (default DIR/ca.crt)\n"
	      "  -h, --help            show this help and exit\n"
	      "  -V, --version         show the version and exit\n"
	      "\n"
	      "Exit status:\n"
	      "  0  success\n"
	      "  1  failure: a file, OpenSSL, or a certificate that does not verify\n"
	      "  2  usage error\n",
	      f);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputs("Try 'gossip-cert --help'.\n", stderr);
	exit(CERT_USAGE);
}

/*
 * Reports what getopt_long() rejected (c is '?' or ':'). optopt is 0 for an
 * unknown long option and the option's value otherwise; argv[optind - 1] is
 * the argument being parsed unless an error stopped inside a group like -xf.
 */
static void __attribute__((noreturn))
option_error(const char *cmd, const struct option *opts, int c, char **argv)
{
	const char *arg = argv[optind - 1], *prefix = cmd ? cmd : "", *sep = cmd ? ": " : "";
	int len = (int)strcspn(arg, "=");
	bool is_long = false;

	if (strncmp(arg, "--", 2) == 0) {
		is_long = optopt == 0;
		for (const struct option *o = opts; o->name; o++)
			if (o->val == optopt && strncmp(o->name, arg + 2, (size_t)len - 2) == 0)
				is_long = true;
	}
	if (!is_long && c == ':')
		usage_error("%s%soption '-%c' needs an argument", prefix, sep, optopt);
	if (!is_long)
		usage_error("%s%sunknown option '-%c'", prefix, sep, optopt);
	if (c == ':')
		usage_error("%s%soption '%.*s' needs an argument", prefix, sep, len, arg);
	if (optopt != 0 && arg[len] == '=')
		usage_error("%s%soption '%.*s' takes no argument", prefix, sep, len, arg);
	usage_error("%s%sunknown or ambiguous option '%.*s'", prefix, sep, len, arg);
}

/* --days: 1 to CERT_MAX_DAYS. */
static long
parse_days(const char *cmd, const char *text)
{
	uint64_t v;

	if (parse_u64(text, 1, CERT_MAX_DAYS, &v) < 0)
		usage_error("%s: invalid number of days '%s' for --days (1 to %d)", cmd, text,
			    CERT_MAX_DAYS);
	return (long)v;
}

/* --start: -CERT_MAX_DAYS to CERT_MAX_DAYS. */
static long
parse_start(const char *cmd, const char *text)
{
	bool negative = text[0] == '-';
	uint64_t v;

	if (parse_u64(text + negative, 0, CERT_MAX_DAYS, &v) < 0)
		usage_error("%s: invalid number of days '%s' for --start (-%d to %d)", cmd, text,
			    CERT_MAX_DAYS, CERT_MAX_DAYS);
	return negative ? -(long)v : (long)v;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* One literal IPv4 or IPv6 address, never the unspecified one (0.0.0.0, ::). */
static void
parse_address(const char *text, struct cert_address *a)
{
	*a = (struct cert_address){0};
	if (inet_pton(AF_INET, text, a->bytes) == 1) {
		a->family = AF_INET;
		a->len = 4;
	} else if (inet_pton(AF_INET6, text, a->bytes) == 1) {
		a->family = AF_INET6;
		a->len = 16;
	} else {
		usage_error("issue: invalid address '%s' for --address: not a literal IPv4 or "
			    "IPv6 address", text);
	}
	if (all_zero(a->bytes, a->len) ||
	    (a->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a->bytes) &&
	     all_zero(a->bytes + 12, 4)))
		usage_error("issue: invalid address '%s' for --address: the unspecified address "
			    "is not a node's", text);
	inet_ntop(a->family, a->bytes, a->text, sizeof(a->text));
}

/* --address IP[,IP...]: each address once, in order. */
static void
add_addresses(struct options *o, const char *list)
{
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		char text[INET6_ADDRSTRLEN];
		struct cert_address a;
		bool seen = false;

		if (n == 0)
			usage_error("issue: empty address in --address '%s'", list);
		if (n >= sizeof(text))
			usage_error("issue: invalid address '%.*s' for --address: not a literal "
				    "IPv4 or IPv6 address", (int)n, p);
		memcpy(text, p, n);
		text[n] = '\0';
		parse_address(text, &a);
		for (size_t i = 0; i < o->naddresses; i++)
			seen = seen || (o->addresses[i].len == a.len &&
					memcmp(o->addresses[i].bytes, a.bytes, a.len) == 0);
		if (!seen && o->naddresses == CERT_MAX_ADDRESSES)
			usage_error("issue: too many addresses (at most %d)", CERT_MAX_ADDRESSES);
		if (!seen)
			o->addresses[o->naddresses++] = a;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
}

/* A NAME is a CN and a file name: letters, digits, '.', '-', '_', ':', starting alphanumeric. */
static void
check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CERT_MAX_NAME)
		usage_error("issue: invalid name '%s' for --name: 1 to %d characters", name,
			    CERT_MAX_NAME);
	if (strspn(name, ALNUM ".-_:") != n || !strchr(ALNUM, name[0]))
		usage_error("issue: invalid name '%s' for --name: letters, digits and . - _ : "
			    "only, starting with a letter or digit", name);
}

/* A DNS host name: labels of letters, digits and inner hyphens; not an IP address. */
static bool
is_dns_name(const char *name)
{
	unsigned char bytes[16];
	const char *label = name;
	bool numeric = true;

	if (strlen(name) > 253 || inet_pton(AF_INET, name, bytes) == 1 ||
	    inet_pton(AF_INET6, name, bytes) == 1)
		return false;
	for (;;) {
		size_t n = strcspn(label, ".");

		if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-' ||
		    strspn(label, ALNUM "-") < n)
			return false;
		numeric = strspn(label, "0123456789") >= n;
		if (label[n] == '\0')
			break;
		label += n + 1;
	}
	return !numeric; /* a numeric last label would read as an address */
}

/* Handles one option of a command; c is its value in the command's table. */
static void
handle_option(const char *cmd, int c, struct options *o)
{
	switch (c) {
	case OPT_DIR:
		if (!*optarg)
			usage_error("%s: empty directory for --dir", cmd);
		o->dir = optarg;
		o->dir_given = true;
		break;
	case OPT_DAYS:
		o->days = parse_days(cmd, optarg);
		break;
	case OPT_FORCE:
		o->force = true;
		break;
	case OPT_ADDRESS:
		add_addresses(o, optarg);
		break;
	case OPT_NAME:
		check_name(optarg);
		o->name = optarg;
		break;
	case OPT_OUT:
		if (!*optarg)
			usage_error("%s: empty prefix for --out", cmd);
		o->out = optarg;
		break;
	case OPT_START:
		o->start = parse_start(cmd, optarg);
		break;
	case OPT_GROUP:
		if (!*optarg)
			usage_error("%s: empty group for --group", cmd);
		o->group = optarg;
		o->group_given = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_CA:
		if (!*optarg)
			usage_error("%s: empty file name for --ca", cmd);
		o->ca = optarg;
		break;
	}
}

/* The command's options and its FILE, anywhere after the command (argv[0]). */
static void
parse_command(const struct command *cmd, int argc, char **argv, struct options *o)
{
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", cmd->opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(CERT_OK);
		}
		if (c == '?' || c == ':')
			option_error(cmd->name, cmd->opts, c, argv);
		handle_option(cmd->name, c, o);
	}
	if (cmd->files && optind >= argc)
		usage_error("%s: missing FILE", cmd->name);
	if (cmd->files)
		o->file = argv[optind++];
	if (optind < argc)
		usage_error("%s: unexpected argument '%s'", cmd->name, argv[optind]);
}

static void
print_written(const struct cert_staged *s, const char *group)
{
	if (group)
		printf("wrote %s (mode %04o, group %s)\n", s->path, (unsigned)s->mode, group);
	else
		printf("wrote %s (mode %04o)\n", s->path, (unsigned)s->mode);
}

static int
cmd_init(struct options *o)
{
	char *key_path = cert_asprintf("%s/ca.key", o->dir);
	char *crt_path = cert_asprintf("%s/ca.crt", o->dir);
	struct cert_staged key_file = {.fd = -1}, crt_file = {.fd = -1};
	EVP_PKEY *key = NULL;
	X509 *ca = NULL;
	char date[32], *subject;
	int status = CERT_FAILED;

	if (!o->force && (cert_refuse_existing(key_path) < 0 || cert_refuse_existing(crt_path) < 0))
		goto out;
	if (cert_make_dirs(o->dir) < 0 || !(key = cert_new_key()) ||
	    !(ca = cert_make_ca(key, o->days < 0 ? CA_DAYS : o->days)))
		goto out;
	if (cert_stage_key(&key_file, key_path, key, (gid_t)-1) < 0 ||
	    cert_stage_cert(&crt_file, crt_path, ca) < 0 || cert_commit(&key_file, o->force) < 0 ||
	    cert_commit(&crt_file, o->force) < 0 || cert_sync_dir(key_path) < 0)
		goto out;
	subject = cert_name_text(X509_get_subject_name(ca));
	print_written(&key_file, NULL);
	printf("wrote %s (mode %04o): %s, valid until %s\n", crt_file.path, (unsigned)crt_file.mode,
	       subject, cert_time_text(X509_get0_notAfter(ca), date, sizeof(date)));
	free(subject);
	status = CERT_OK;
out:
	cert_discard(&key_file);
	cert_discard(&crt_file);
	EVP_PKEY_free(key);
	X509_free(ca);
	free(key_path);
	free(crt_path);
	return status;
}

/* The CA's key and certificate in dir, which must match. */
static int
load_ca(const char *dir, EVP_PKEY **key, X509 **ca)
{
	char *key_path = cert_asprintf("%s/ca.key", dir);
	char *crt_path = cert_asprintf("%s/ca.crt", dir);
	int r = -1;

	if (access(crt_path, F_OK) < 0 && errno == ENOENT) {
		warnx("no CA in %s: %s does not exist (create one with 'gossip-cert init', or copy "
		      "ca.crt and ca.key from the host that has them)", dir, crt_path);
		goto out;
	}
	if (!(*ca = cert_load_cert(crt_path)) || !(*key = cert_load_key(key_path)))
		goto out;
	if (X509_check_ca(*ca) == 0)
		warnx("%s is not a CA certificate", crt_path);
	else if (X509_check_private_key(*ca, *key) != 1)
		cert_ssl_error("%s is not the key of %s", key_path, crt_path);
	else
		r = 0;
out:
	free(key_path);
	free(crt_path);
	return r;
}

/* The group the node's key is given to, or -1 when there is no such group. */
static gid_t
key_group(const struct options *o)
{
	struct group *gr = getgrnam(o->group);

	if (gr)
		return gr->gr_gid;
	if (o->group_given)
		warnx("warning: group '%s' does not exist: only the key's owner may read it "
		      "(mode 0600)", o->group);
	return (gid_t)-1;
}

/* The node's files: the key first, then the certificate, each renamed into place. */
static int
write_node_files(const struct options *o, const char *prefix, EVP_PKEY *key, X509 *cert)
{
	char *key_path = cert_asprintf("%s.key", prefix);
	char *crt_path = cert_asprintf("%s.crt", prefix);
	struct cert_staged key_file = {.fd = -1}, crt_file = {.fd = -1};
	gid_t gid = (gid_t)-1;
	int r = -1;

	if (!o->force && (cert_refuse_existing(key_path) < 0 || cert_refuse_existing(crt_path) < 0))
		goto out;
	gid = key_group(o);
	if (cert_stage_key(&key_file, key_path, key, gid) < 0 ||
	    cert_stage_cert(&crt_file, crt_path, cert) < 0 ||
	    cert_commit(&key_file, o->force) < 0 || cert_commit(&crt_file, o->force) < 0 ||
	    cert_sync_dir(key_path) < 0)
		goto out;
	if (gid != (gid_t)-1 && key_file.mode != 0640 && o->group_given)
		warnx("warning: cannot give %s to group %s: only its owner may read it (mode 0600)",
		      key_path, o->group);
	print_written(&key_file, key_file.mode == 0640 ? o->group : NULL);
	print_written(&crt_file, NULL);
	r = 0;
out:
	cert_discard(&key_file);
	cert_discard(&crt_file);
	free(key_path);
	free(crt_path);
	return r;
}

/* PREFIX: --out, else DIR/NAME with ':' (of IPv6 addresses) as '_'. Refuses the CA's own. */
static char *
node_prefix(const struct options *o, const char *name)
{
	char *prefix, *ca_prefix = cert_asprintf("%s/ca", o->dir);
	bool is_ca;

	if (o->out) {
		prefix = xstrdup(o->out);
	} else {
		prefix = cert_asprintf("%s/%s", o->dir, name);
		for (char *p = prefix + strlen(o->dir) + 1; *p; p++)
			if (*p == ':')
				*p = '_';
	}
	is_ca = strcmp(prefix, ca_prefix) == 0;
	free(ca_prefix);
	if (is_ca) {
		free(prefix);
		usage_error("issue: the files %s/ca.key and ca.crt are the CA's: choose another "
			    "--name or --out", o->dir);
	}
	return prefix;
}

static int
cmd_issue(struct options *o)
{
	struct cert_node_profile p = {
		.addresses = o->addresses,
		.naddresses = o->naddresses,
		.name = o->name ? o->name : o->addresses[0].text,
		.dns_name = o->name && is_dns_name(o->name),
		.start_days = o->start,
		.days = o->days < 0 ? NODE_DAYS : o->days,
	};
	char *prefix = node_prefix(o, p.name), date[32];
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	int status = CERT_FAILED;

	if (load_ca(o->dir, &ca_key, &ca) < 0 || !(key = cert_new_key()) ||
	    !(cert = cert_make_node(&p, key, ca, ca_key)))
		goto out;
	if (ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca)) > 0)
		warnx("warning: the certificate outlives its CA, which expires on %s",
		      cert_time_text(X509_get0_notAfter(ca), date, sizeof(date)));
	if (write_node_files(o, prefix, key, cert) == 0)
		status = CERT_OK;
out:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	free(prefix);
	return status;
}

/* setup's CN: --name, else the host name when it is a valid name, else the first address. */
static const char *
setup_name(const struct options *o, char *host, size_t len)
{
	size_t n;

	if (o->name)
		return o->name;
	if (gethostname(host, len) == 0) {
		host[len - 1] = '\0';
		n = strlen(host);
		if (n > 0 && n <= CERT_MAX_NAME && strspn(host, ALNUM ".-_") == n &&
		    strchr(ALNUM, host[0]))
			return host;
	}
	return o->addresses[0].text;
}

/*
 * What a host needs to run with tls.mode "required" (the packages run it
 * after installing): the CA when DIR has none, and DIR/node.key and
 * node.crt for every address of this host when they are missing. What
 * exists is kept, so running it again changes nothing.
 */
static int
cmd_setup(struct options *o)
{
	char *crt = cert_asprintf("%s/node.crt", o->dir), *key = cert_asprintf("%s/node.key", o->dir);
	char *ca = cert_asprintf("%s/ca.crt", o->dir), host[256];
	size_t left;
	int status = CERT_OK;

	if (access(crt, F_OK) == 0 && access(key, F_OK) == 0) {
		printf("kept %s and %s: this host has its certificate (gossip-cert show %s)\n", key,
		       crt, crt);
		goto out;
	}
	if (access(crt, F_OK) == 0 || access(key, F_OK) == 0) {
		warnx("setup: only one of %s and %s exists: remove it, or replace both with "
		      "'gossip-cert issue --force'", key, crt);
		status = CERT_FAILED;
		goto out;
	}
	if (access(ca, F_OK) < 0 && (status = cmd_init(o)) != CERT_OK)
		goto out;
	o->naddresses = cert_host_addresses(o->addresses, o->naddresses, CERT_MAX_ADDRESSES, &left);
	if (left)
		warnx("warning: %zu of this host's addresses left out: a certificate lists %d at "
		      "most", left, CERT_MAX_ADDRESSES);
	if (o->naddresses == 0) {
		warnx("setup: this host has no address to certify; give one with --address");
		status = CERT_FAILED;
		goto out;
	}
	o->name = setup_name(o, host, sizeof(host));
	o->out = cert_asprintf("%s/node", o->dir);
	printf("issuing %s/node.crt for", o->dir);
	for (size_t i = 0; i < o->naddresses; i++)
		printf("%s %s", i ? "," : "", o->addresses[i].text);
	printf("\n");
	status = cmd_issue(o);
	free((char *)o->out);
	o->out = NULL;
out:
	free(crt);
	free(key);
	free(ca);
	return status;
}

static int
cmd_show(struct options *o)
{
	return cert_show(o->file, o->json);
}

static int
cmd_verify(struct options *o)
{
	char *ca = o->ca ? xstrdup(o->ca) : cert_asprintf("%s/ca.crt", o->dir);
	int status;

	if (o->ca && o->dir_given) {
		free(ca);
		usage_error("verify: --ca and --dir cannot be used together");
	}
	status = cert_verify(o->file, ca);
	free(ca);
	return status;
}

static const struct option init_opts[] = {{"dir", required_argument, NULL, OPT_DIR},
					  {"days", required_argument, NULL, OPT_DAYS},
					  {"force", no_argument, NULL, OPT_FORCE},
					  {"help", no_argument, NULL, 'h'},
					  {0}};
static const struct option issue_opts[] = {{"address", required_argument, NULL, OPT_ADDRESS},
					   {"name", required_argument, NULL, OPT_NAME},
					   {"dir", required_argument, NULL, OPT_DIR},
					   {"out", required_argument, NULL, OPT_OUT},
					   {"days", required_argument, NULL, OPT_DAYS},
					   {"start", required_argument, NULL, OPT_START},
					   {"group", required_argument, NULL, OPT_GROUP},
					   {"force", no_argument, NULL, OPT_FORCE},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
static const struct option setup_opts[] = {{"address", required_argument, NULL, OPT_ADDRESS},
					   {"name", required_argument, NULL, OPT_NAME},
					   {"dir", required_argument, NULL, OPT_DIR},
					   {"days", required_argument, NULL, OPT_DAYS},
					   {"group", required_argument, NULL, OPT_GROUP},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
static const struct option show_opts[] = {{"json", no_argument, NULL, OPT_JSON},
					  {"help", no_argument, NULL, 'h'},
					  {0}};
static const struct option verify_opts[] = {{"ca", required_argument, NULL, OPT_CA},
					    {"dir", required_argument, NULL, OPT_DIR},
					    {"help", no_argument, NULL, 'h'},
					    {0}};

static const struct command commands[] = {
	{"init", cmd_init, init_opts, 0},
	{"issue", cmd_issue, issue_opts, 0},
	{"setup", cmd_setup, setup_opts, 0},
	{"show", cmd_show, show_opts, 1},
	{"verify", cmd_verify, verify_opts, 1},
};

static void
parse_global_options(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {0}};
	int c;

	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(CERT_OK);
		case 'V':
			printf("gossip-cert %s\n", GOSSIP_VERSION);
			exit(CERT_OK);
		default:
			option_error(NULL, opts, c, argv);
		}
	}
}

int
main(int argc, char **argv)
{
	struct options o = {.dir = DEFAULT_DIR, .group = DEFAULT_GROUP, .days = -1};

	opterr = 0;
	parse_global_options(argc, argv);
	if (optind >= argc)
		usage_error("missing command (init, issue, setup, show or verify)");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *cmd = &commands[i];

		if (strcmp(argv[optind], cmd->name) != 0)
			continue;
		parse_command(cmd, argc - optind, argv + optind, &o);
		if (cmd->run == cmd_issue && o.naddresses == 0)
			usage_error("issue: missing --address IP[,IP...]");
		return cmd->run(&o);
	}
	usage_error("unknown command '%s'", argv[optind]);
}
