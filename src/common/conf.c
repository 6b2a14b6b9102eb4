/* SPDX-License-Identifier: MIT */
/* Configuration: defaults, libconfig files and prototype seed lists, validation, printing. */
#include <assert.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "conf.h"
#include "wire.h"

enum setting_kind {
	K_DURATION, /* seconds (int or float) stored as usec */
	K_U32,
	K_U64,
	K_BOOL,
	K_STRING,
};

struct setting_desc {
	const char *section; /* "seed", "peer" or NULL for top level */
	const char *name;
	enum setting_kind kind;
	size_t offset;
	uint64_t min, max; /* usec for durations */
};

#define SEC(x) ((uint64_t)((x) * 1000000.0))
#define S(sec, name, kind, field, min, max) {sec, name, kind, offsetof(struct gossip_config, field), min, max}

static const struct setting_desc settings[] = {
	S(NULL, "log_dir", K_STRING, log_dir, 0, 0),
	S(NULL, "address", K_STRING, address, 0, 0),
	S("seed", "lease_time", K_DURATION, seed.lease_time_usec, SEC(1), SEC(86400)),
	S("seed", "max_peers", K_U32, seed.max_peers, 1, 50000), /* a PEER_LIST of IPv6 addresses must fit one frame */
	S("seed", "max_connections", K_U32, seed.max_connections, 8, 1000000),
	S("seed", "confirm_dead", K_BOOL, seed.confirm_dead, 0, 1),
	S("seed", "probe_timeout", K_DURATION, seed.probe_timeout_usec, SEC(0.01), SEC(60)),
	S("peer", "degree", K_U32, peer.degree, 1, 64),
	S("peer", "max_neighbours", K_U32, peer.max_neighbours, 1, 1024),
	S("peer", "ping_interval", K_DURATION, peer.ping_interval_usec, SEC(0.01), SEC(3600)),
	S("peer", "ping_timeout", K_DURATION, peer.ping_timeout_usec, SEC(0.01), SEC(3600)),
	S("peer", "ping_misses", K_U32, peer.ping_misses, 1, 100),
	S("peer", "seen_cache_size", K_U32, peer.seen_cache_size, 16, 100000000),
	S("peer", "seen_cache_age", K_DURATION, peer.seen_cache_age_usec, SEC(1), SEC(7 * 86400)),
	S("peer", "max_message_size", K_U32, peer.max_message_size, 1, 1000000),
	S("peer", "send_queue_limit", K_U64, peer.send_queue_limit, 65536, 1ULL << 34),
	S("peer", "history", K_U32, peer.history, 0, 100000),
	S("peer", "lazy_push", K_BOOL, peer.lazy_push, 0, 1),
	S("peer", "ihave_delay", K_DURATION, peer.ihave_delay_usec, 0, SEC(10)),
	S("peer", "graft_timeout", K_DURATION, peer.graft_timeout_usec, SEC(0.001), SEC(60)),
	S("peer", "resend_cache_size", K_U64, peer.resend_cache_size, 0, 1ULL << 32),
	S("peer", "register_retry_max", K_DURATION, peer.register_retry_max_usec, SEC(0.1), SEC(3600)),
	S("peer", "max_control_clients", K_U32, peer.max_control_clients, 1, 4096),
	S("peer", "control_socket", K_STRING, peer.control_socket, 0, 0),
	S("peer", "control_group", K_STRING, peer.control_group, 0, 0),
};

void
conf_init(struct gossip_config *c)
{
	memset(c, 0, sizeof(*c));
	c->seed.lease_time_usec = SEC(30);
	c->seed.max_peers = 10000;
	c->seed.max_connections = 4096;
	c->seed.confirm_dead = true;
	c->seed.probe_timeout_usec = SEC(1);
	c->peer.degree = 4;
	c->peer.max_neighbours = 32;
	c->peer.ping_interval_usec = SEC(0.5);
	c->peer.ping_timeout_usec = SEC(0.5);
	c->peer.ping_misses = 3;
	c->peer.seen_cache_size = 100000;
	c->peer.seen_cache_age_usec = SEC(600);
	c->peer.max_message_size = 65536;
	c->peer.send_queue_limit = 8 * 1024 * 1024;
	c->peer.history = 100;
	c->peer.lazy_push = true;
	c->peer.ihave_delay_usec = SEC(0.1);
	c->peer.graft_timeout_usec = SEC(0.5);
	c->peer.resend_cache_size = 64 * 1024 * 1024;
	c->peer.register_retry_max_usec = SEC(30);
	c->peer.max_control_clients = 64;
}

static char **
string_field(struct gossip_config *c, const struct setting_desc *d)
{
	return (char **)((char *)c + d->offset);
}

void
conf_free(struct gossip_config *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (settings[i].kind == K_STRING)
			free(*string_field(c, &settings[i]));
	for (unsigned i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->seeds);
	memset(c, 0, sizeof(*c));
}

void
conf_copy(struct gossip_config *dst, const struct gossip_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		if (settings[i].kind != K_STRING)
			continue;
		char **p = string_field(dst, &settings[i]);
		if (*p)
			*p = xstrdup(*p);
	}
	for (unsigned i = 0; i < dst->n_files; i++)
		dst->files[i] = xstrdup(src->files[i]);
	if (src->n_seeds) {
		dst->seeds = xcalloc(src->n_seeds, sizeof(*dst->seeds));
		memcpy(dst->seeds, src->seeds, src->n_seeds * sizeof(*dst->seeds));
	} else {
		dst->seeds = NULL;
	}
}

/* Appends "file:line: message\n" to err. */
static void __attribute__((format(printf, 5, 6)))
add_error(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
	size_t used = strnlen(err, errlen);
	va_list ap;
	int n;

	if (used + 1 >= errlen)
		return;
	if (line > 0)
		n = snprintf(err + used, errlen - used, "%s:%d: ", file, line);
	else
		n = snprintf(err + used, errlen - used, "%s: ", file);
	if (n < 0 || (size_t)n >= errlen - used)
		return;
	used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= errlen - used)
		return;
	used += (size_t)n;
	if (used + 1 < errlen) {
		err[used] = '\n';
		err[used + 1] = '\0';
	}
}

static char *
trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Adds a seed, rejecting duplicates. Returns false (with an error) on failure. */
static bool
add_seed(struct gossip_config *c, const struct node_addr *a, const char *file, int line,
	 char *err, size_t errlen)
{
	char s[NODE_ADDR_STRLEN];

	for (uint32_t i = 0; i < c->n_seeds; i++) {
		if (node_addr_equal(&c->seeds[i], a)) {
			add_error(err, errlen, file, line, "duplicate seed address %s",
				  node_addr_str(a, s));
			return false;
		}
	}
	if (c->n_seeds >= CONF_MAX_SEEDS) {
		add_error(err, errlen, file, line, "too many seeds (at most %d)", CONF_MAX_SEEDS);
		return false;
	}
	c->seeds = xreallocarray(c->seeds, c->n_seeds + 1, sizeof(*c->seeds));
	c->seeds[c->n_seeds++] = *a;
	return true;
}

/* Reads a prototype seed list; seeds replace any earlier list. */
static int
read_seed_list(struct gossip_config *c, FILE *f, const char *path, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, bad = 0;
	ssize_t n;

	free(c->seeds);
	c->seeds = NULL;
	c->n_seeds = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		struct node_addr a;
		char *hash, *s;

		lineno++;
		if ((size_t)n != strlen(line)) {
			add_error(err, errlen, path, lineno, "NUL byte in seed list");
			bad++;
			continue;
		}
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		if (node_addr_parse(s, &a) < 0) {
			add_error(err, errlen, path, lineno,
				  "invalid seed address '%.64s' (expected IP:PORT)", s);
			bad++;
			continue;
		}
		if (!add_seed(c, &a, path, lineno, err, errlen))
			bad++;
	}
	free(line);
	if (ferror(f)) {
		add_error(err, errlen, path, 0, "read error: %s", strerror(errno));
		return -EIO;
	}
	if (!bad && c->n_seeds == 0) {
		add_error(err, errlen, path, 0, "no seed addresses in file");
		return -EINVAL;
	}
	return bad ? -EINVAL : 0;
}

/* The first line that is neither blank nor a comment looks like IP:PORT. */
static bool
looks_like_seed_list(FILE *f)
{
	char line[512];
	bool ret = false;

	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *s;
		struct node_addr a;
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		ret = node_addr_parse(s, &a) == 0;
		break;
	}
	rewind(f);
	return ret;
}

static const struct setting_desc *
find_setting(const char *section, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++) {
		const struct setting_desc *d = &settings[i];
		if (((!section && !d->section) || (section && d->section && !strcmp(section, d->section))) &&
		    !strcmp(name, d->name))
			return d;
	}
	return NULL;
}

/* Seconds with every microsecond kept ("30.0", "0.25", "1234.5678") so printing round-trips. */
static void
format_duration(uint64_t usec, char *buf, size_t len)
{
	unsigned long long sec = usec / USEC_PER_SEC, frac = usec % USEC_PER_SEC;
	int n;

	if (!frac) {
		snprintf(buf, len, "%llu.0", sec);
		return;
	}
	n = snprintf(buf, len, "%llu.%06llu", sec, frac);
	while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
		buf[--n] = '\0';
}

static bool
apply_setting(struct gossip_config *c, const struct setting_desc *d, config_setting_t *s,
	      const char *path, char *err, size_t errlen)
{
	int line = (int)config_setting_source_line(s);
	int type = config_setting_type(s);
	const char *name = config_setting_name(s);
	void *field = (char *)c + d->offset;
	char what[96];

	snprintf(what, sizeof(what), "%s%s%s", d->section ? d->section : "", d->section ? "." : "",
		 name);
	switch (d->kind) {
	case K_DURATION: {
		double v;
		char lo[32], hi[32];
		if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
			v = (double)config_setting_get_int64(s);
		else if (type == CONFIG_TYPE_FLOAT)
			v = config_setting_get_float(s);
		else {
			add_error(err, errlen, path, line, "%s must be a number of seconds", what);
			return false;
		}
		format_duration(d->min, lo, sizeof(lo));
		format_duration(d->max, hi, sizeof(hi));
		if (!(v >= (double)d->min / 1e6 && v <= (double)d->max / 1e6)) {
			add_error(err, errlen, path, line, "%s = %g out of range [%s, %s] seconds",
				  what, v, lo, hi);
			return false;
		}
		*(uint64_t *)field = (uint64_t)(v * 1e6 + 0.5);
		return true;
	}
	case K_U32:
	case K_U64: {
		long long v;
		if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
			add_error(err, errlen, path, line, "%s must be an integer", what);
			return false;
		}
		v = config_setting_get_int64(s);
		if (v < 0 || (uint64_t)v < d->min || (uint64_t)v > d->max) {
			/* libconfig wraps a plain integer past 2^31-1; only the L suffix makes it 64-bit. */
			add_error(err, errlen, path, line, "%s = %lld out of range [%llu, %llu]%s", what,
				  v, (unsigned long long)d->min, (unsigned long long)d->max,
				  d->kind == K_U64 && type == CONFIG_TYPE_INT && d->max > INT32_MAX
					  ? " (write integers above 2147483647 with an L suffix, e.g. 4294967296L)"
					  : "");
			return false;
		}
		if (d->kind == K_U32)
			*(uint32_t *)field = (uint32_t)v;
		else
			*(uint64_t *)field = (uint64_t)v;
		return true;
	}
	case K_BOOL:
		if (type != CONFIG_TYPE_BOOL) {
			add_error(err, errlen, path, line, "%s must be true or false", what);
			return false;
		}
		*(bool *)field = config_setting_get_bool(s);
		return true;
	case K_STRING: {
		const char *v = config_setting_get_string(s);
		if (type != CONFIG_TYPE_STRING || !v) {
			add_error(err, errlen, path, line, "%s must be a string", what);
			return false;
		}
		if (!*v) {
			add_error(err, errlen, path, line, "%s must not be empty", what);
			return false;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return true;
	}
	}
	return false;
}

/*
 * libconfig gives an array element the line of the token read after it (for
 * the last element, the closing bracket's, or a later one). The element's own
 * line is the last one up to there holding its quoted text; else reported.
 */
static int
element_line(const char *path, const char *v, int reported)
{
	char *line = NULL, *quoted;
	size_t cap = 0;
	int n = 0, found = 0;
	FILE *f;

	if (!v || reported <= 0 || asprintf(&quoted, "\"%s\"", v) < 0)
		return reported;
	if ((f = fopen(path, "re"))) {
		while (n < reported && getline(&line, &cap, f) >= 0) {
			n++;
			if (strstr(line, quoted))
				found = n;
		}
		fclose(f);
	}
	free(line);
	free(quoted);
	return found ? found : reported;
}

static bool
apply_seeds(struct gossip_config *c, config_setting_t *s, const char *path, char *err,
	    size_t errlen)
{
	int line = (int)config_setting_source_line(s);
	int n, ok = 1;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
		add_error(err, errlen, path, line, "seeds must be a list of \"IP:PORT\" strings");
		return false;
	}
	free(c->seeds);
	c->seeds = NULL;
	c->n_seeds = 0;
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		int eline = element_line(path, v, (int)config_setting_source_line(e));
		struct node_addr a;
		if (!v || node_addr_parse(v, &a) < 0) {
			add_error(err, errlen, path, eline ? eline : line,
				  "seeds[%d]: invalid address '%.64s' (expected \"IP:PORT\")", i,
				  v ? v : "(not a string)");
			ok = 0;
			continue;
		}
		if (!add_seed(c, &a, path, eline ? eline : line, err, errlen))
			ok = 0;
	}
	if (ok && n == 0) {
		add_error(err, errlen, path, line, "seeds must not be empty");
		return false;
	}
	return ok;
}

static bool
apply_seed_file(struct gossip_config *c, config_setting_t *s, const char *path, char *err,
		size_t errlen)
{
	int line = (int)config_setting_source_line(s);
	const char *v = config_setting_get_string(s);
	char *full, *dircopy;
	FILE *f;
	int r;

	if (!v || !*v) {
		add_error(err, errlen, path, line, "seed_file must be a file name");
		return false;
	}
	if (v[0] == '/') {
		full = xstrdup(v);
	} else {
		dircopy = xstrdup(path);
		if (asprintf(&full, "%s/%s", dirname(dircopy), v) < 0)
			abort();
		free(dircopy);
	}
	f = fopen(full, "re");
	if (!f) {
		add_error(err, errlen, path, line, "seed_file '%s': %s", full, strerror(errno));
		free(full);
		return false;
	}
	r = read_seed_list(c, f, full, err, errlen);
	fclose(f);
	free(full);
	return r == 0;
}

static int
apply_libconfig(struct gossip_config *c, const char *path, char *err, size_t errlen)
{
	config_t cf;
	config_setting_t *root;
	int bad = 0;
	bool seen_seeds = false;

	config_init(&cf);
	if (config_read_file(&cf, path) != CONFIG_TRUE) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			add_error(err, errlen, path, 0, "cannot read: %s", strerror(errno));
		else
			add_error(err, errlen, config_error_file(&cf) ? config_error_file(&cf) : path,
				  config_error_line(&cf), "%s", config_error_text(&cf));
		config_destroy(&cf);
		return -EINVAL;
	}
	root = config_root_setting(&cf);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		int line = (int)config_setting_source_line(s);
		const struct setting_desc *d;

		if (!strcmp(name, "seeds")) {
			if (seen_seeds) {
				add_error(err, errlen, path, line, "give either seeds or seed_file, not both");
				bad++;
			} else if (!apply_seeds(c, s, path, err, errlen))
				bad++;
			seen_seeds = true;
		} else if (!strcmp(name, "seed_file")) {
			if (seen_seeds) {
				add_error(err, errlen, path, line, "give either seeds or seed_file, not both");
				bad++;
			} else if (!apply_seed_file(c, s, path, err, errlen))
				bad++;
			seen_seeds = true;
		} else if (!strcmp(name, "seed") || !strcmp(name, "peer")) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				add_error(err, errlen, path, line, "%s must be a group: %s = { ... };",
					  name, name);
				bad++;
				continue;
			}
			for (int j = 0; j < config_setting_length(s); j++) {
				config_setting_t *m = config_setting_get_elem(s, (unsigned)j);
				d = find_setting(name, config_setting_name(m));
				if (!d) {
					add_error(err, errlen, path, (int)config_setting_source_line(m),
						  "unknown setting %s.%s", name, config_setting_name(m));
					bad++;
				} else if (!apply_setting(c, d, m, path, err, errlen)) {
					bad++;
				}
			}
		} else if ((d = find_setting(NULL, name))) {
			if (!apply_setting(c, d, s, path, err, errlen))
				bad++;
		} else {
			add_error(err, errlen, path, line, "unknown setting %s", name);
			bad++;
		}
	}
	config_destroy(&cf);
	return bad ? -EINVAL : 0;
}

int
conf_apply_file(struct gossip_config *c, const char *path, char *err, size_t errlen)
{
	struct gossip_config tmp;
	FILE *f;
	int r;

	err[0] = '\0';
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		add_error(err, errlen, path, 0, "cannot open: %s", strerror(-r));
		return r;
	}
	conf_copy(&tmp, c);
	if (looks_like_seed_list(f))
		r = read_seed_list(&tmp, f, path, err, errlen);
	else
		r = apply_libconfig(&tmp, path, err, errlen);
	fclose(f);
	if (r < 0) {
		conf_free(&tmp);
		return r;
	}
	if (tmp.n_files < ARRAY_SIZE(tmp.files))
		tmp.files[tmp.n_files++] = xstrdup(path);
	conf_free(c);
	*c = tmp;
	return 0;
}

int
conf_validate(const struct gossip_config *c, bool need_seeds, char *err, size_t errlen)
{
	const char *where = c->n_files ? c->files[c->n_files - 1] : "configuration";
	int bad = 0;

	err[0] = '\0';
	if (need_seeds && c->n_seeds == 0) {
		add_error(err, errlen, where, 0, "no seeds configured (seeds = [ \"IP:PORT\", ... ];)");
		bad++;
	}
	if (c->peer.ping_timeout_usec > c->peer.ping_interval_usec) {
		add_error(err, errlen, where, 0, "peer.ping_timeout must not exceed peer.ping_interval");
		bad++;
	}
	if (c->address) {
		struct node_addr a;
		if (node_addr_from_parts(c->address, "1", &a) < 0) {
			add_error(err, errlen, where, 0, "address \"%s\" is not an IPv4 or IPv6 address",
				  c->address);
			bad++;
		}
	}
	if (c->peer.send_queue_limit < (uint64_t)c->peer.max_message_size + WIRE_GOSSIP_OVERHEAD) {
		/* Queueing a message of the largest size would drop every neighbour. */
		add_error(err, errlen, where, 0,
			  "peer.send_queue_limit must be at least peer.max_message_size + %d (%llu)",
			  WIRE_GOSSIP_OVERHEAD,
			  (unsigned long long)c->peer.max_message_size + WIRE_GOSSIP_OVERHEAD);
		bad++;
	}
	if (c->peer.degree > c->peer.max_neighbours) {
		add_error(err, errlen, where, 0, "peer.degree must not exceed peer.max_neighbours");
		bad++;
	}
	return bad ? -EINVAL : 0;
}

static void
print_setting(const struct gossip_config *c, const struct setting_desc *d, FILE *out,
	      const char *indent)
{
	const void *field = (const char *)c + d->offset;
	char buf[32];

	switch (d->kind) {
	case K_DURATION:
		format_duration(*(const uint64_t *)field, buf, sizeof(buf));
		fprintf(out, "%s%s = %s;\n", indent, d->name, buf);
		break;
	case K_U32:
		fprintf(out, "%s%s = %u;\n", indent, d->name, *(const uint32_t *)field);
		break;
	case K_U64:
		fprintf(out, "%s%s = %lluL;\n", indent, d->name,
			(unsigned long long)*(const uint64_t *)field);
		break;
	case K_BOOL:
		fprintf(out, "%s%s = %s;\n", indent, d->name, *(const bool *)field ? "true" : "false");
		break;
	case K_STRING: {
		const char *s = *(char *const *)field;
		if (!s) {
			fprintf(out, "%s# %s unset (default)\n", indent, d->name);
			break;
		}
		fprintf(out, "%s%s = \"", indent, d->name);
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				fputc('\\', out);
			fputc(*s, out);
		}
		fprintf(out, "\";\n");
		break;
	}
	}
}

void
conf_print(const struct gossip_config *c, FILE *out)
{
	static const char *const sections[] = {"seed", "peer"};
	char s[NODE_ADDR_STRLEN];

	fprintf(out, "# effective configuration");
	for (unsigned i = 0; i < c->n_files; i++)
		fprintf(out, "%s %s", i ? "," : " from", c->files[i]);
	/* "seeds = [ ];" would not load back (seeds must not be empty). */
	if (c->n_seeds == 0) {
		fprintf(out, "\n# seeds unset (default)\n");
	} else {
		fprintf(out, "\nseeds = [");
		for (uint32_t i = 0; i < c->n_seeds; i++)
			fprintf(out, "%s\"%s\"", i ? ", " : " ", node_addr_str(&c->seeds[i], s));
		fprintf(out, " ];\n");
	}
	for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
		if (!settings[i].section)
			print_setting(c, &settings[i], out, "");
	for (size_t k = 0; k < ARRAY_SIZE(sections); k++) {
		fprintf(out, "%s = {\n", sections[k]);
		for (size_t i = 0; i < ARRAY_SIZE(settings); i++)
			if (settings[i].section && !strcmp(settings[i].section, sections[k]))
				print_setting(c, &settings[i], out, "  ");
		fprintf(out, "};\n");
	}
}

static size_t
setting_size(const struct setting_desc *d)
{
	switch (d->kind) {
	case K_DURATION:
	case K_U64:
		return sizeof(uint64_t);
	case K_U32:
		return sizeof(uint32_t);
	case K_BOOL:
		return sizeof(bool);
	case K_STRING:
		return sizeof(char *);
	}
	return 0;
}

size_t
conf_keep(struct gossip_config *to, const struct gossip_config *from, const char *const names[],
	  char *changed, size_t len)
{
	size_t n = 0, used = 0;

	if (len)
		changed[0] = '\0';
	for (size_t i = 0; names[i]; i++) {
		const char *dot = strchr(names[i], '.');
		char section[16];
		const struct setting_desc *d;
		bool same;

		if (dot)
			snprintf(section, sizeof(section), "%.*s", (int)(dot - names[i]), names[i]);
		d = dot ? find_setting(section, dot + 1) : find_setting(NULL, names[i]);

		assert(d);
		if (d->kind == K_STRING) {
			char **t = string_field(to, d);
			const char *f = *(char *const *)((const char *)from + d->offset);
			same = (!*t && !f) || (*t && f && strcmp(*t, f) == 0);
			if (!same) {
				free(*t);
				*t = f ? xstrdup(f) : NULL;
			}
		} else {
			void *t = (char *)to + d->offset;
			const void *f = (const char *)from + d->offset;
			same = memcmp(t, f, setting_size(d)) == 0;
			memcpy(t, f, setting_size(d));
		}
		if (same)
			continue;
		if (used < len) {
			int w = snprintf(changed + used, len - used, "%s%s", n ? ", " : "", names[i]);
			used += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}
