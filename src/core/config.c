/* SPDX-License-Identifier: MIT */
/* Configuration: the settings, their defaults and ranges, validation, reload. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hostport.h"
#include "wire.h"

#define SEC(x) ((uint64_t)((x) * 1000000.0))
#define S(sec, name, kind, field, min, max) {sec, name, kind, offsetof(struct gossip_config, field), min, max}

const struct setting_desc conf_settings[] = {
	S(NULL, "log_dir", K_STRING, log_dir, 0, 0),
	S(NULL, "address", K_STRING, address, 0, 0),
	S("seed", "lease_time", K_DURATION, seed.lease_time_usec, SEC(1), SEC(86400)),
	S("seed", "max_peers", K_U32, seed.max_peers, 1, 50000), /* a PEER_LIST of IPv6 addresses must fit one frame */
	S("seed", "peer_list_size", K_U32, seed.peer_list_size, 0, 50000),
	S("seed", "max_connections", K_U32, seed.max_connections, 8, 1000000),
	S("seed", "max_connections_per_host", K_U32, seed.max_connections_per_host, 0, 1000000),
	S("seed", "max_peers_per_host", K_U32, seed.max_peers_per_host, 0, 50000),
	S("seed", "confirm_dead", K_BOOL, seed.confirm_dead, 0, 1),
	S("seed", "probe_timeout", K_DURATION, seed.probe_timeout_usec, SEC(0.01), SEC(60)),
	S("seed", "dead_reporters", K_U32, seed.dead_reporters, 1, 16),
	S("peer", "degree", K_U32, peer.degree, 1, 64),
	S("peer", "max_neighbours", K_U32, peer.max_neighbours, 1, 1024),
	S("peer", "ping_interval", K_DURATION, peer.ping_interval_usec, SEC(0.01), SEC(3600)),
	S("peer", "ping_timeout", K_DURATION, peer.ping_timeout_usec, SEC(0.01), SEC(3600)),
	S("peer", "ping_misses", K_U32, peer.ping_misses, 1, 100),
	S("peer", "suspicion_timeout", K_DURATION, peer.suspicion_timeout_usec, 0, SEC(3600)),
	S("peer", "indirect_probes", K_U32, peer.indirect_probes, 0, 16),
	S("peer", "seen_cache_size", K_U32, peer.seen_cache_size, 16, 100000000),
	S("peer", "seen_cache_age", K_DURATION, peer.seen_cache_age_usec, SEC(1), SEC(7 * 86400)),
	S("peer", "max_message_size", K_U32, peer.max_message_size, 1, 1000000),
	S("peer", "send_queue_limit", K_U64, peer.send_queue_limit, 65536, 1ULL << 34),
	S("peer", "history", K_U32, peer.history, 0, 100000),
	S("peer", "journal_message_rate", K_U32, peer.journal_message_rate, 0, 100000),
	S("peer", "lazy_push", K_BOOL, peer.lazy_push, 0, 1),
	S("peer", "ihave_delay", K_DURATION, peer.ihave_delay_usec, 0, SEC(10)),
	S("peer", "graft_timeout", K_DURATION, peer.graft_timeout_usec, SEC(0.001), SEC(60)),
	S("peer", "adaptive_timers", K_BOOL, peer.adaptive_timers, 0, 1),
	S("peer", "connect_timeout", K_DURATION, peer.connect_timeout_usec, SEC(0.01), SEC(3600)),
	S("peer", "carry_ihave", K_BOOL, peer.carry_ihave, 0, 1),
	S("peer", "anti_entropy_interval", K_DURATION, peer.anti_entropy_interval_usec, 0, SEC(3600)),
	S("peer", "resend_cache_size", K_U64, peer.resend_cache_size, 0, 1ULL << 32),
	S("peer", "register_retry_max", K_DURATION, peer.register_retry_max_usec, SEC(0.1), SEC(3600)),
	S("peer", "max_control_clients", K_U32, peer.max_control_clients, 1, 4096),
	S("peer", "control_idle_timeout", K_DURATION, peer.control_idle_timeout_usec, SEC(0.1), SEC(86400)),
	S("peer", "sign_messages", K_BOOL, peer.sign_messages, 0, 1),
	S("peer", "max_clock_skew", K_DURATION, peer.max_clock_skew_usec, SEC(0.1), SEC(3600)),
	S("peer", "key_cache_size", K_U32, peer.key_cache_size, 16, 1000000),
	S("peer", "control_socket", K_STRING, peer.control_socket, 0, 0),
	S("peer", "control_group", K_STRING, peer.control_group, 0, 0),
	S("peer", "state_file", K_STRING, peer.state_file, 0, 0),
	S("tls", "mode", K_STRING, tls.mode, 0, 0),
	S("tls", "ca_file", K_STRING, tls.ca_file, 0, 0),
	S("tls", "cert_file", K_STRING, tls.cert_file, 0, 0),
	S("tls", "key_file", K_STRING, tls.key_file, 0, 0),
	S("tls", "crl_file", K_STRING, tls.crl_file, 0, 0),
};
const size_t conf_n_settings = ARRAY_SIZE(conf_settings);

void
conf_init(struct gossip_config *c)
{
	memset(c, 0, sizeof(*c));
	c->seed.lease_time_usec = SEC(30);
	c->seed.max_peers = 10000;
	/* Registered peers keep their connection: room for all of them, and for probes' clients. */
	c->seed.max_connections = 16384;
	c->seed.max_connections_per_host = 1024;
	c->seed.max_peers_per_host = 1024;
	c->seed.confirm_dead = true;
	c->seed.probe_timeout_usec = SEC(1);
	c->seed.dead_reporters = 2;
	c->peer.degree = 4;
	c->peer.max_neighbours = 32;
	c->peer.ping_interval_usec = SEC(0.5);
	c->peer.ping_timeout_usec = SEC(0.5);
	c->peer.ping_misses = 3;
	c->peer.suspicion_timeout_usec = SEC(6);
	c->peer.indirect_probes = 3;
	c->peer.seen_cache_size = 100000;
	c->peer.seen_cache_age_usec = SEC(720);
	c->peer.max_message_size = 65536;
	c->peer.send_queue_limit = 8 * 1024 * 1024;
	c->peer.history = 100;
	/* 1,000 in 10 s: a third of journald's default limit (10,000 in 30 s per service). */
	c->peer.journal_message_rate = 100;
	c->peer.lazy_push = true;
	c->peer.ihave_delay_usec = SEC(0.1);
	c->peer.graft_timeout_usec = SEC(0.5);
	c->peer.adaptive_timers = true;
	c->peer.connect_timeout_usec = SEC(2);
	c->peer.carry_ihave = true;
	c->peer.anti_entropy_interval_usec = SEC(5);
	c->peer.resend_cache_size = 64 * 1024 * 1024;
	c->peer.register_retry_max_usec = SEC(30);
	c->peer.max_control_clients = 64;
	c->peer.control_idle_timeout_usec = SEC(30);
	c->peer.sign_messages = true;
	c->peer.max_clock_skew_usec = SEC(60);
	c->peer.key_cache_size = 16384;
}

static char **
string_field(struct gossip_config *c, const struct setting_desc *d)
{
	return (char **)((char *)c + d->offset);
}

const char *
conf_seed_host(const struct gossip_config *c, uint32_t i)
{
	return c->seed_names && i < c->n_seeds ? c->seed_names[i].host : NULL;
}

void
conf_clear_seeds(struct gossip_config *c)
{
	for (uint32_t i = 0; c->seed_names && i < c->n_seeds; i++) {
		free(c->seed_names[i].host);
		free(c->seed_names[i].where);
	}
	free(c->seed_names);
	free(c->seeds);
	c->seed_names = NULL;
	c->seeds = NULL;
	c->n_seeds = 0;
}

void
conf_free(struct gossip_config *c)
{
	for (size_t i = 0; i < conf_n_settings; i++)
		if (conf_settings[i].kind == K_STRING)
			free(*string_field(c, &conf_settings[i]));
	for (unsigned i = 0; i < c->n_files; i++)
		free(c->files[i]);
	conf_clear_seeds(c);
	memset(c, 0, sizeof(*c));
}

void
conf_copy(struct gossip_config *dst, const struct gossip_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < conf_n_settings; i++) {
		if (conf_settings[i].kind != K_STRING)
			continue;
		char **p = string_field(dst, &conf_settings[i]);
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
	if (src->seed_names && src->n_seeds) {
		dst->seed_names = xcalloc(src->n_seeds, sizeof(*dst->seed_names));
		for (uint32_t i = 0; i < src->n_seeds; i++) {
			const struct conf_seed_name *f = &src->seed_names[i];
			dst->seed_names[i].host = f->host ? xstrdup(f->host) : NULL;
			dst->seed_names[i].where = f->where ? xstrdup(f->where) : NULL;
		}
	} else {
		dst->seed_names = NULL;
	}
}

/* Appends "file:line: message\n" to err. */
void
conf_add_error(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
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

const struct setting_desc *
conf_find_setting(const char *section, const char *name)
{
	for (size_t i = 0; i < conf_n_settings; i++) {
		const struct setting_desc *d = &conf_settings[i];
		if (((!section && !d->section) || (section && d->section && !strcmp(section, d->section))) &&
		    !strcmp(name, d->name))
			return d;
	}
	return NULL;
}

/* Seconds with every microsecond kept ("30.0", "0.25", "1234.5678") so printing round-trips. */
void
conf_format_duration(uint64_t usec, char *buf, size_t len)
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

enum tls_mode
conf_tls_mode(const struct gossip_config *c)
{
	if (c->tls.mode && !strcmp(c->tls.mode, "optional"))
		return TLS_MODE_OPTIONAL;
	if (c->tls.mode && !strcmp(c->tls.mode, "required"))
		return TLS_MODE_REQUIRED;
	if (c->tls.mode)
		return TLS_MODE_OFF;
	return c->tls.cert_file || c->tls.key_file || c->tls.ca_file ? TLS_MODE_REQUIRED
									: TLS_MODE_OFF;
}

const char *
tls_mode_name(enum tls_mode m)
{
	switch (m) {
	case TLS_MODE_OFF:
		return "off";
	case TLS_MODE_OPTIONAL:
		return "optional";
	case TLS_MODE_REQUIRED:
		return "required";
	}
	return "?";
}

/* tls.*: a known mode, and the files any mode but off needs. Returns the problems found. */
static int
validate_tls(const struct gossip_config *c, const char *where, char *err, size_t errlen)
{
	static const char *const modes[] = {"off", "optional", "required"};
	const struct tls_config *t = &c->tls;
	int bad = 0;
	bool known = !t->mode;

	for (size_t i = 0; i < ARRAY_SIZE(modes) && !known; i++)
		known = !strcmp(t->mode, modes[i]);
	if (!known) {
		conf_add_error(err, errlen, where, 0,
			       "tls.mode \"%s\" is not one of \"off\", \"optional\", \"required\"",
			       t->mode);
		return 1;
	}
	if (conf_tls_mode(c) == TLS_MODE_OFF)
		return 0;
	if (!t->ca_file || !t->cert_file || !t->key_file) {
		conf_add_error(err, errlen, where, 0,
			       "tls.mode \"%s\" needs tls.ca_file, tls.cert_file and tls.key_file "
			       "(see gossip-cert(8))", tls_mode_name(conf_tls_mode(c)));
		bad++;
	}
	return bad;
}

int
conf_validate(const struct gossip_config *c, bool need_seeds, char *err, size_t errlen)
{
	const char *where = c->n_files ? c->files[c->n_files - 1] : "configuration";
	int bad = 0;

	err[0] = '\0';
	if (need_seeds && c->n_seeds == 0) {
		conf_add_error(err, errlen, where, 0, "no seeds configured (seeds = [ \"HOST:PORT\", ... ];)");
		bad++;
	}
	if (c->peer.ping_timeout_usec > c->peer.ping_interval_usec) {
		conf_add_error(err, errlen, where, 0, "peer.ping_timeout must not exceed peer.ping_interval");
		bad++;
	}
	if (c->address) {
		struct node_addr a;
		const char *why;
		if (node_addr_from_parts(c->address, "1", &a) < 0 &&
		    host_name_check(c->address, &why) < 0) {
			conf_add_error(err, errlen, where, 0,
				       "address \"%.64s\" is not an IPv4 or IPv6 address or a host name (%s)",
				       c->address, why);
			bad++;
		}
	}
	if (c->peer.send_queue_limit < (uint64_t)c->peer.max_message_size + WIRE_GOSSIP_OVERHEAD) {
		/* Queueing a message of the largest size would drop every neighbour. */
		conf_add_error(err, errlen, where, 0,
			  "peer.send_queue_limit must be at least peer.max_message_size + %d (%llu)",
			  WIRE_GOSSIP_OVERHEAD,
			  (unsigned long long)c->peer.max_message_size + WIRE_GOSSIP_OVERHEAD);
		bad++;
	}
	if (c->peer.degree > c->peer.max_neighbours) {
		conf_add_error(err, errlen, where, 0, "peer.degree must not exceed peer.max_neighbours");
		bad++;
	}
	if (c->peer.seen_cache_age_usec <= 2 * c->peer.max_clock_skew_usec) {
		/* A message is accepted up to seen_cache_age - skew old: its id must still be seen. */
		conf_add_error(err, errlen, where, 0,
			       "peer.seen_cache_age must be more than twice peer.max_clock_skew");
		bad++;
	}
	bad += validate_tls(c, where, err, errlen);
	return bad ? -EINVAL : 0;
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
		d = dot ? conf_find_setting(section, dot + 1) : conf_find_setting(NULL, names[i]);

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
