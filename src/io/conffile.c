/* SPDX-License-Identifier: MIT */
/* Configuration files: libconfig files and prototype seed lists read into a config, and printed. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "conffile.h"
#include "core/hostport.h"

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

/* The same seed written twice: one name (any case, either spelling of the root), or one address. */
static bool
same_seed(const struct gossip_config *c, uint32_t i, const struct host_port *h)
{
	const char *host = conf_seed_host(c, i);

	if (!h->host[0] || !host)
		return !h->host[0] && !host && node_addr_equal(&c->seeds[i], &h->addr);
	return c->seeds[i].port == h->addr.port && host_name_equal(host, h->host);
}

/* Adds a seed, rejecting duplicates. Returns false (with an error) on failure. */
static bool
add_seed(struct gossip_config *c, const struct host_port *h, const char *file, int line,
	 char *err, size_t errlen)
{
	char s[HOST_PORT_STRLEN];
	struct conf_seed_name *nm;

	for (uint32_t i = 0; i < c->n_seeds; i++) {
		if (same_seed(c, i, h)) {
			conf_add_error(err, errlen, file, line, "duplicate seed %s", host_port_str(h, s));
			return false;
		}
	}
	if (c->n_seeds >= CONF_MAX_SEEDS) {
		conf_add_error(err, errlen, file, line, "too many seeds (at most %d)", CONF_MAX_SEEDS);
		return false;
	}
	c->seeds = xreallocarray(c->seeds, c->n_seeds + 1, sizeof(*c->seeds));
	c->seed_names = xreallocarray(c->seed_names, c->n_seeds + 1, sizeof(*c->seed_names));
	nm = &c->seed_names[c->n_seeds];
	nm->host = h->host[0] ? xstrdup(h->host) : NULL;
	if (asprintf(&nm->where, "%s:%d", file, line) < 0)
		abort();
	c->seeds[c->n_seeds++] = h->addr;
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

	conf_clear_seeds(c);
	while ((n = getline(&line, &cap, f)) >= 0) {
		struct host_port h;
		const char *why;
		char *hash, *s;

		lineno++;
		if ((size_t)n != strlen(line)) {
			conf_add_error(err, errlen, path, lineno, "NUL byte in seed list");
			bad++;
			continue;
		}
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		if (host_port_parse(s, &h, &why) < 0) {
			conf_add_error(err, errlen, path, lineno, "expected HOST:PORT, got '%.64s' (%s)", s,
				       why);
			bad++;
			continue;
		}
		if (!add_seed(c, &h, path, lineno, err, errlen))
			bad++;
	}
	free(line);
	if (ferror(f)) {
		conf_add_error(err, errlen, path, 0, "read error: %s", strerror(errno));
		return -EIO;
	}
	if (!bad && c->n_seeds == 0) {
		conf_add_error(err, errlen, path, 0, "no seed addresses in file");
		return -EINVAL;
	}
	return bad ? -EINVAL : 0;
}

/*
 * Whether a line opens a libconfig file: a comment of its own kind, an
 * @include, a setting (a name, then '=', ':' or '{'), or a group's name. "name:123" is
 * HOST:PORT, not the setting name = 123: a setting with ':' is taken as
 * one only with a space, a quote or a bracket in its line.
 */
static bool
looks_like_libconfig(const char *s)
{
	const char *p = s;

	if (!strncmp(s, "//", 2) || !strncmp(s, "/*", 2) || !strncmp(s, "@include", 8))
		return true;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '*'))
		return false;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '-' || *p == '_' || *p == '*')
		p++;
	/* A group's name alone, its brace on the next line. */
	if (!*p && (!strcmp(s, "seed") || !strcmp(s, "peer") || !strcmp(s, "tls")))
		return true;
	p += strspn(p, " \t");
	if (*p == '=' || *p == '{')
		return true;
	return *p == ':' && strpbrk(s, " \t=;\"{}[]()") != NULL;
}

/* The first line that is neither blank nor a comment is not libconfig: a seed list. */
static bool
looks_like_seed_list(FILE *f)
{
	char line[512];
	bool ret = false;

	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *s;
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		ret = !looks_like_libconfig(s);
		break;
	}
	rewind(f);
	return ret;
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
			conf_add_error(err, errlen, path, line, "%s must be a number of seconds", what);
			return false;
		}
		conf_format_duration(d->min, lo, sizeof(lo));
		conf_format_duration(d->max, hi, sizeof(hi));
		if (!(v >= (double)d->min / 1e6 && v <= (double)d->max / 1e6)) {
			conf_add_error(err, errlen, path, line, "%s = %g out of range [%s, %s] seconds",
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
			conf_add_error(err, errlen, path, line, "%s must be an integer", what);
			return false;
		}
		v = config_setting_get_int64(s);
		if (v < 0 || (uint64_t)v < d->min || (uint64_t)v > d->max) {
			/* libconfig wraps a plain integer past 2^31-1; only the L suffix makes it 64-bit. */
			conf_add_error(err, errlen, path, line, "%s = %lld out of range [%llu, %llu]%s", what,
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
			conf_add_error(err, errlen, path, line, "%s must be true or false", what);
			return false;
		}
		*(bool *)field = config_setting_get_bool(s);
		return true;
	case K_STRING: {
		const char *v = config_setting_get_string(s);
		if (type != CONFIG_TYPE_STRING || !v) {
			conf_add_error(err, errlen, path, line, "%s must be a string", what);
			return false;
		}
		if (!*v) {
			conf_add_error(err, errlen, path, line, "%s must not be empty", what);
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
		conf_add_error(err, errlen, path, line, "seeds must be a list of \"HOST:PORT\" strings");
		return false;
	}
	conf_clear_seeds(c);
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *v = config_setting_get_string(e);
		int eline = element_line(path, v, (int)config_setting_source_line(e));
		const char *why;
		struct host_port h;
		if (!v) {
			conf_add_error(err, errlen, path, eline ? eline : line,
				       "seeds[%d]: expected a \"HOST:PORT\" string", i);
			ok = 0;
			continue;
		}
		if (host_port_parse(v, &h, &why) < 0) {
			conf_add_error(err, errlen, path, eline ? eline : line,
				       "seeds[%d]: expected \"HOST:PORT\", got '%.64s' (%s)", i, v, why);
			ok = 0;
			continue;
		}
		if (!add_seed(c, &h, path, eline ? eline : line, err, errlen))
			ok = 0;
	}
	if (ok && n == 0) {
		conf_add_error(err, errlen, path, line, "seeds must not be empty");
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
		conf_add_error(err, errlen, path, line, "seed_file must be a file name");
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
		conf_add_error(err, errlen, path, line, "seed_file '%s': %s", full, strerror(errno));
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
			conf_add_error(err, errlen, path, 0, "cannot read: %s", strerror(errno));
		else
			conf_add_error(err, errlen, config_error_file(&cf) ? config_error_file(&cf) : path,
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
				conf_add_error(err, errlen, path, line, "give either seeds or seed_file, not both");
				bad++;
			} else if (!apply_seeds(c, s, path, err, errlen))
				bad++;
			seen_seeds = true;
		} else if (!strcmp(name, "seed_file")) {
			if (seen_seeds) {
				conf_add_error(err, errlen, path, line, "give either seeds or seed_file, not both");
				bad++;
			} else if (!apply_seed_file(c, s, path, err, errlen))
				bad++;
			seen_seeds = true;
		} else if (!strcmp(name, "seed") || !strcmp(name, "peer") || !strcmp(name, "tls")) {
			if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
				conf_add_error(err, errlen, path, line, "%s must be a group: %s = { ... };",
					  name, name);
				bad++;
				continue;
			}
			for (int j = 0; j < config_setting_length(s); j++) {
				config_setting_t *m = config_setting_get_elem(s, (unsigned)j);
				d = conf_find_setting(name, config_setting_name(m));
				if (!d) {
					conf_add_error(err, errlen, path, (int)config_setting_source_line(m),
						  "unknown setting %s.%s", name, config_setting_name(m));
					bad++;
				} else if (!apply_setting(c, d, m, path, err, errlen)) {
					bad++;
				}
			}
		} else if ((d = conf_find_setting(NULL, name))) {
			if (!apply_setting(c, d, s, path, err, errlen))
				bad++;
		} else {
			conf_add_error(err, errlen, path, line, "unknown setting %s", name);
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
		conf_add_error(err, errlen, path, 0, "cannot open: %s", strerror(-r));
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

static void
print_setting(const struct gossip_config *c, const struct setting_desc *d, FILE *out,
	      const char *indent)
{
	const void *field = (const char *)c + d->offset;
	char buf[32];

	switch (d->kind) {
	case K_DURATION:
		conf_format_duration(*(const uint64_t *)field, buf, sizeof(buf));
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
	static const char *const sections[] = {"seed", "peer", "tls"};
	char s[NODE_ADDR_STRLEN];

	fprintf(out, "# effective configuration");
	for (unsigned i = 0; i < c->n_files; i++)
		fprintf(out, "%s %s", i ? "," : " from", c->files[i]);
	/* "seeds = [ ];" would not load back (seeds must not be empty). */
	if (c->n_seeds == 0) {
		fprintf(out, "\n# seeds unset (default)\n");
	} else {
		fprintf(out, "\nseeds = [");
		for (uint32_t i = 0; i < c->n_seeds; i++) {
			const char *host = conf_seed_host(c, i);
			if (host)
				fprintf(out, "%s\"%s:%u\"", i ? ", " : " ", host, c->seeds[i].port);
			else
				fprintf(out, "%s\"%s\"", i ? ", " : " ", node_addr_str(&c->seeds[i], s));
		}
		fprintf(out, " ];\n");
	}
	for (size_t i = 0; i < conf_n_settings; i++)
		if (!conf_settings[i].section)
			print_setting(c, &conf_settings[i], out, "");
	for (size_t k = 0; k < ARRAY_SIZE(sections); k++) {
		fprintf(out, "%s = {\n", sections[k]);
		for (size_t i = 0; i < conf_n_settings; i++)
			if (conf_settings[i].section && !strcmp(conf_settings[i].section, sections[k]))
				print_setting(c, &conf_settings[i], out, "  ");
		fprintf(out, "};\n");
	}
}
