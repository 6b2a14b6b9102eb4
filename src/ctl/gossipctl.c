/* SPDX-License-Identifier: MIT */
/* gossipctl: the command-line client of a local gossip-peer's control socket. */
#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ctl.h"
#include "io/clock.h"
#include "io/paths.h"
#include "core/util.h"

#define MAX_MESSAGE 1000000u    /* the largest peer.max_message_size */
#define MAX_TIMEOUT_SEC 1000000 /* -t limit, about 11 days */
#define DEFAULT_TAIL_COUNT 10
#define MAX_TAIL_COUNT 100000
#define READ_CHUNK 65536
#define SEVERAL_SHOWN 5 /* ports named by "several peers are running" */

struct options {
	const char *socket_path;
	const char *instance;
	bool json;
	uint64_t timeout_usec; /* 0: wait forever */
	const char *timeout_text;
};

/* The connection to the daemon and the bytes of its reply not yet handled. */
struct session {
	const char *path;
	int fd;
	uint64_t deadline; /* monotonic usec, 0 for none */
	const char *timeout_text;
	struct buf in;
};

/* A metric of one peer (gossipctl metrics), its strings malloc'd. */
struct sample {
	char *instance; /* the peer's TCP port */
	char *family;   /* gossip_NAME, with _total for a counter */
	char *type, *help;
	char *value;
};

/* One decoded RECORD; string fields point into the frame being handled. */
struct record {
	struct ctl_field *fields;
	size_t n, cap;
};

enum peer_column { COL_ADDR, COL_DIR, COL_STATE, COL_RTT, COL_MISSES, COL_QUEUED, NCOLUMNS };
enum member_column {
	MCOL_ADDR, MCOL_SEEDS, MCOL_STATE, MCOL_LEASE, MCOL_REGISTERED, MCOL_INCARNATION, MCOL_HELD,
	NMCOLUMNS
};
#define MAX_COLUMNS 8

/* One row of a table (peers, members): its cells, malloc'd. */
struct peer_row {
	char *cell[MAX_COLUMNS];
};

/* What a command collects from its reply; out is printed only if the reply ends well. */
struct reply {
	const struct session *s;
	bool json;
	FILE *out;
	char *out_data;
	size_t out_len;
	size_t records;
	struct peer_row *rows;
	size_t nrows;
	/* members: the seeds asked and how many answered; JSON: which list is open */
	size_t seeds, answered;
	const char *open_list;
	/* metrics: the samples of every peer, and the instance whose reply is being read */
	struct sample *samples;
	size_t nsamples;
	char *instance;
};

/* A request ready to send: the frame, and whether the reply streams (tail -f). */
struct request {
	struct buf frame;
	bool follow;
};

struct command {
	const char *name;
	void (*parse)(uint8_t type, int argc, char **argv, struct request *req);
	uint8_t type;
	void (*on_record)(struct reply *rp, const struct record *rec);
	void (*finish)(struct reply *rp);
	bool streams; /* prints each record as it arrives */
};

static volatile sig_atomic_t interrupted;

static void
usage(FILE *f)
{
	fputs("Usage: gossipctl [-s PATH | -i PORT] [--json] [-t SECONDS] COMMAND [ARGS]\n"
	      "\n"
	      "Talk to a gossip-peer on this host over its control socket.\n"
	      "\n"
	      "Commands:\n"
	      "  send MESSAGE...       broadcast the words, joined by spaces, as one message\n"
	      "  send -                broadcast standard input (one trailing newline removed)\n"
	      "  status                the peer's state, seeds, neighbours and counters\n"
	      "  peers                 the neighbours: direction, state, round-trip time\n"
	      "  stats                 the peer's counters\n"
	      "  tail [-f] [-n N]      the last N messages received (default 10, at most 100000);\n"
	      "                        with -f (--follow), keep printing new ones until\n"
	      "                        interrupted; -n is also --lines\n"
	      "  members               the network's registrations as the seeds see them\n"
	      "  metrics               the counters and gauges of every peer on this host,\n"
	      "                        in the Prometheus text format\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket PATH     use the control socket PATH\n"
	      "  -i, --instance PORT   use the peer of TCP port PORT (its socket peer-PORT.sock)\n"
	      "      --json            print JSON (tail: one object per line)\n"
	      "  -t, --timeout SECONDS time allowed for the reply (default 5, 0 waits forever)\n"
	      "  -h, --help            show this help and exit\n"
	      "  -V, --version         show the version and exit\n"
	      "\n"
	      "Without -s or -i, gossipctl uses the only peer running: the one peer-*.sock\n"
	      "that accepts a connection in $RUNTIME_DIRECTORY, $GOSSIP_RUNTIME_DIR,\n"
	      "/run/gossip, $XDG_RUNTIME_DIR/gossip and /tmp/gossip-UID (sockets of killed\n"
	      "peers do not count). Use 'send -- MESSAGE' for a message starting with '-'.\n"
	      "\n"
	      "Exit status:\n"
	      "  0  success\n"
	      "  1  failure: the peer could not do it, a malformed reply, or no reply in time\n"
	      "  2  usage error\n"
	      "  3  the peer is not running (cannot connect)\n"
	      "  4  permission denied\n"
	      "  5  message too long\n"
	      "  6  empty message\n"
	      "  7  the peer rejected the request as malformed (version mismatch)\n",
	      f);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputs("Try 'gossipctl --help'.\n", stderr);
	exit(CTL_ERR_USAGE);
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

static void __attribute__((noreturn, format(printf, 2, 3)))
protocol_error(const struct session *s, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	errx(CTL_ERR_FAILED, "protocol error from %s: %s", s->path, reason);
}

static void __attribute__((noreturn))
connection_closed(const struct session *s)
{
	errx(CTL_ERR_FAILED, "daemon closed the connection (%s)", s->path);
}

static char *__attribute__((format(printf, 1, 2)))
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* Seconds with up to 6 decimals ("5", "0.25") in microseconds; 0 or -EINVAL / -ERANGE. */
static int
parse_seconds(const char *s, uint64_t *ret_usec)
{
	const char *dot = strchr(s, '.');
	char *whole_text = xstrndup(s, dot ? (size_t)(dot - s) : strlen(s));
	uint64_t whole, frac = 0, scale = USEC_PER_SEC;
	int r = parse_u64(whole_text, 0, MAX_TIMEOUT_SEC, &whole);

	free(whole_text);
	if (r < 0)
		return r;
	if (dot) {
		if (dot[1] == '\0')
			return -EINVAL;
		for (const char *p = dot + 1; *p; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	*ret_usec = whole * USEC_PER_SEC + frac;
	return 0;
}

/* Writes everything in out to stdout; a reader that went away ends gossipctl quietly. */
static void
flush_stdout(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return;
	if (errno == EPIPE || (errno == EINTR && interrupted))
		_exit(CTL_OK);
	err(CTL_ERR_FAILED, "cannot write to standard output");
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void
json_string(FILE *out, const uint8_t *p, size_t n)
{
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t len;

		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c == '\n') {
			fputs("\\n", out);
		} else if (c == '\t') {
			fputs("\\t", out);
		} else if (c == '\r') {
			fputs("\\r", out);
		} else if (c < 0x20) {
			fprintf(out, "\\u%04x", c);
		} else if ((len = utf8_seq_len(p + i, n - i)) > 0) {
			fwrite(p + i, 1, len, out);
			i += len;
			continue;
		} else {
			fputs("\xef\xbf\xbd", out);
		}
		i++;
	}
	fputc('"', out);
}

/* A JSON number with up to 6 decimals, or null for NaN and infinities. */
static void
json_double(FILE *out, double v)
{
	char text[64];
	char *end;

	if (!isfinite(v)) {
		fputs("null", out);
		return;
	}
	if (fabs(v) >= 1e15) {
		fprintf(out, "%.6g", v);
		return;
	}
	snprintf(text, sizeof(text), "%.6f", v);
	end = text + strlen(text) - 1;
	while (*end == '0')
		*end-- = '\0';
	if (*end == '.')
		*end = '\0';
	fputs(text, out);
}

static void
json_value(FILE *out, const struct ctl_field *f)
{
	switch (f->kind) {
	case CTL_KIND_STR:
		json_string(out, f->str.p, f->str.len);
		break;
	case CTL_KIND_U64:
		fprintf(out, "%" PRIu64, f->u);
		break;
	case CTL_KIND_I64:
		fprintf(out, "%" PRId64, f->i);
		break;
	case CTL_KIND_BOOL:
		fputs(f->b ? "true" : "false", out);
		break;
	case CTL_KIND_DOUBLE:
		json_double(out, f->f);
		break;
	}
}

/* The record as one JSON object, keys in record order. */
static void
json_object(FILE *out, const struct record *rec)
{
	fputc('{', out);
	for (size_t i = 0; i < rec->n; i++) {
		const struct ctl_field *f = &rec->fields[i];
		if (i > 0)
			fputc(',', out);
		json_string(out, (const uint8_t *)f->key, strlen(f->key));
		fputc(':', out);
		json_value(out, f);
	}
	fputc('}', out);
}

/* A field's value as one line of text (malloc'd); "-" for an empty string. */
static char *
field_text(const struct ctl_field *f)
{
	switch (f->kind) {
	case CTL_KIND_STR:
		return f->str.len ? escape_text(f->str.p, f->str.len) : xstrdup("-");
	case CTL_KIND_U64:
		return xasprintf("%" PRIu64, f->u);
	case CTL_KIND_I64:
		return xasprintf("%" PRId64, f->i);
	case CTL_KIND_BOOL:
		return xstrdup(f->b ? "yes" : "no");
	case CTL_KIND_DOUBLE:
		return xasprintf("%.3f", f->f);
	}
	return xstrdup("?");
}

static const struct ctl_field *
find_field(const struct record *rec, const char *key, uint8_t kind)
{
	for (size_t i = 0; i < rec->n; i++)
		if (rec->fields[i].kind == kind && strcmp(rec->fields[i].key, key) == 0)
			return &rec->fields[i];
	return NULL;
}

static const struct ctl_field *
need_field(const struct reply *rp, const struct record *rec, const char *key, uint8_t kind)
{
	const struct ctl_field *f = find_field(rec, key, kind);
	if (!f)
		protocol_error(rp->s, "record without the field '%s' of kind '%c'", key, kind);
	return f;
}

/* "key: value" lines, the values aligned. */
static void
print_fields_text(FILE *out, const struct record *rec)
{
	char **keys = xcalloc(rec->n ? rec->n : 1, sizeof(*keys));
	size_t width = 0;

	for (size_t i = 0; i < rec->n; i++) {
		keys[i] = escape_text((const uint8_t *)rec->fields[i].key, strlen(rec->fields[i].key));
		if (strlen(keys[i]) > width)
			width = strlen(keys[i]);
	}
	for (size_t i = 0; i < rec->n; i++) {
		char *value = field_text(&rec->fields[i]);
		fprintf(out, "%s:%*s %s\n", keys[i], (int)(width - strlen(keys[i])), "", value);
		free(value);
		free(keys[i]);
	}
	free(keys);
}

static void
on_single_record(struct reply *rp, const struct record *rec)
{
	if (rp->records > 1)
		protocol_error(rp->s, "more than one record in the reply");
	if (rp->json) {
		json_object(rp->out, rec);
		fputc('\n', rp->out);
	} else {
		print_fields_text(rp->out, rec);
	}
}

static void
on_send_record(struct reply *rp, const struct record *rec)
{
	const struct ctl_field *id = need_field(rp, rec, "id", CTL_KIND_STR);
	char *text;

	if (rp->records > 1)
		protocol_error(rp->s, "more than one record in the reply");
	if (rp->json) {
		json_object(rp->out, rec);
		fputc('\n', rp->out);
		return;
	}
	text = escape_text(id->str.p, id->str.len);
	fprintf(rp->out, "sent %s\n", text);
	free(text);
}

static void
finish_single(struct reply *rp)
{
	if (rp->records == 0)
		protocol_error(rp->s, "no record in the reply");
}

static char *
peer_cell(const struct record *rec, const char *key, uint8_t kind)
{
	const struct ctl_field *f = find_field(rec, key, kind);
	return f ? field_text(f) : xstrdup("-");
}

static void
on_peer_record(struct reply *rp, const struct record *rec)
{
	const struct ctl_field *rtt = find_field(rec, "rtt_ms", CTL_KIND_DOUBLE);
	struct peer_row *row;

	if (rp->json) {
		fputc(rp->records == 1 ? '[' : ',', rp->out);
		json_object(rp->out, rec);
		return;
	}
	rp->rows = xreallocarray(rp->rows, rp->nrows + 1, sizeof(*rp->rows));
	row = &rp->rows[rp->nrows++];
	row->cell[COL_ADDR] = peer_cell(rec, "addr", CTL_KIND_STR);
	row->cell[COL_DIR] = peer_cell(rec, "direction", CTL_KIND_STR);
	row->cell[COL_STATE] = peer_cell(rec, "state", CTL_KIND_STR);
	if (rtt && isfinite(rtt->f) && rtt->f >= 0)
		row->cell[COL_RTT] = xasprintf("%.3fms", rtt->f);
	else
		row->cell[COL_RTT] = xstrdup("-");
	row->cell[COL_MISSES] = peer_cell(rec, "misses", CTL_KIND_U64);
	row->cell[COL_QUEUED] = peer_cell(rec, "queued_bytes", CTL_KIND_U64);
}

/*
 * A table with a header: the columns in right_aligned (a bit each) right-aligned, the
 * others left-aligned; the rows are freed.
 */
static void
print_table(FILE *out, const char *const *header, int ncols, unsigned right_aligned,
	    struct peer_row *rows, size_t nrows)
{
	size_t width[MAX_COLUMNS];

	for (int c = 0; c < ncols; c++) {
		width[c] = strlen(header[c]);
		for (size_t r = 0; r < nrows; r++)
			if (strlen(rows[r].cell[c]) > width[c])
				width[c] = strlen(rows[r].cell[c]);
	}
	for (size_t r = 0; r <= nrows; r++) {
		const char *const *cell = r == 0 ? header : (const char *const *)rows[r - 1].cell;
		for (int c = 0; c < ncols; c++) {
			bool right = right_aligned & (1u << c), last = c == ncols - 1;
			/* No padding after the last column. */
			fprintf(out, right ? "%*s" : "%-*s", right || !last ? (int)width[c] : 0, cell[c]);
			fputs(last ? "\n" : "  ", out);
		}
	}
	for (size_t r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++)
			free(rows[r].cell[c]);
	free(rows);
}

/* The neighbour table: text columns left-aligned, numbers right-aligned. */
static void
finish_peers(struct reply *rp)
{
	static const char *const header[NCOLUMNS] = {"NEIGHBOUR", "DIR", "STATE",
						     "RTT", "MISSES", "QUEUED"};

	if (rp->json) {
		fputs(rp->records == 0 ? "[]\n" : "]\n", rp->out);
		return;
	}
	if (rp->records == 0) {
		fputs("no neighbours\n", rp->out);
		return;
	}
	print_table(rp->out, header, NCOLUMNS,
		    1u << COL_RTT | 1u << COL_MISSES | 1u << COL_QUEUED, rp->rows, rp->nrows);
}

/* A string field as a NUL-terminated copy (malloc'd), or NULL when the record lacks it. */
static char *
field_strdup(const struct record *rec, const char *key)
{
	const struct ctl_field *f = find_field(rec, key, CTL_KIND_STR);

	return f ? xstrndup((const char *)f->str.p, f->str.len) : NULL;
}

/* JSON: opens the list `name` of the object {"seeds":[...],"members":[...]}, or continues it. */
static void
json_list_item(struct reply *rp, const char *name)
{
	if (rp->open_list == name) {
		fputc(',', rp->out);
		return;
	}
	fputs(rp->open_list ? "]," : "{", rp->out);
	if (!rp->open_list && strcmp(name, "members") == 0)
		fputs("\"seeds\":[],", rp->out);
	fprintf(rp->out, "\"%s\":[", name);
	rp->open_list = name;
}

/* A seed's record of the MEMBERS reply: whether it answered, and if not, why (on stderr). */
static void
on_member_seed(struct reply *rp, const struct record *rec)
{
	const struct ctl_field *answered = need_field(rp, rec, "answered", CTL_KIND_BOOL);
	char *seed = field_strdup(rec, "seed"), *error = field_strdup(rec, "error");

	if (rp->nrows)
		protocol_error(rp->s, "a seed's record after the registrations");
	rp->seeds++;
	rp->answered += answered->b;
	if (!answered->b)
		warnx("seed %s did not answer: %s", seed, error && *error ? error : "?");
	if (rp->json) {
		json_list_item(rp, "seeds");
		json_object(rp->out, rec);
	}
	free(seed);
	free(error);
}

static void
on_member_record(struct reply *rp, const struct record *rec)
{
	const struct ctl_field *lease, *registered;
	struct peer_row *row;

	if (find_field(rec, "seed", CTL_KIND_STR)) {
		on_member_seed(rp, rec);
		return;
	}
	need_field(rp, rec, "addr", CTL_KIND_STR);
	need_field(rp, rec, "seeds", CTL_KIND_U64);
	need_field(rp, rec, "state", CTL_KIND_STR);
	lease = need_field(rp, rec, "lease_age", CTL_KIND_DOUBLE);
	registered = need_field(rp, rec, "registered_for", CTL_KIND_DOUBLE);
	rp->rows = xreallocarray(rp->rows, rp->nrows + 1, sizeof(*rp->rows));
	row = &rp->rows[rp->nrows++];
	if (rp->json) {
		json_list_item(rp, "members");
		json_object(rp->out, rec);
		*row = (struct peer_row){{0}};
		return;
	}
	row->cell[MCOL_ADDR] = peer_cell(rec, "addr", CTL_KIND_STR);
	row->cell[MCOL_SEEDS] = peer_cell(rec, "seeds", CTL_KIND_U64);
	row->cell[MCOL_STATE] = peer_cell(rec, "state", CTL_KIND_STR);
	row->cell[MCOL_LEASE] = xasprintf("%.1fs", lease->f);
	row->cell[MCOL_REGISTERED] = xasprintf("%.0fs", registered->f);
	row->cell[MCOL_INCARNATION] = peer_cell(rec, "incarnation", CTL_KIND_STR);
	row->cell[MCOL_HELD] = peer_cell(rec, "held_by", CTL_KIND_STR);
}

/* The registrations as a table, then how many seeds answered. */
static void
finish_members(struct reply *rp)
{
	static const char *const header[NMCOLUMNS] = {"MEMBER", "SEEDS", "STATE", "LEASE AGE",
						      "REGISTERED", "INCARNATION", "HELD BY"};

	if (rp->json) {
		if (!rp->open_list)
			fputs("{\"seeds\":[],\"members\":[]}\n", rp->out);
		else
			fputs(strcmp(rp->open_list, "seeds") == 0 ? "],\"members\":[]}\n" : "]}\n",
			      rp->out);
		free(rp->rows);
		return;
	}
	if (rp->nrows == 0)
		fputs("no registrations\n", rp->out);
	else
		print_table(rp->out, header, NMCOLUMNS,
			    1u << MCOL_SEEDS | 1u << MCOL_LEASE | 1u << MCOL_REGISTERED, rp->rows,
			    rp->nrows);
	fprintf(rp->out, "%zu of %zu seeds answered, %zu registrations\n", rp->answered, rp->seeds,
		rp->nrows);
}

/* A metric name as the peer gives it: [a-z0-9_], starting with a letter. */
static bool
metric_name_ok(const char *s)
{
	if (!*s || !(*s >= 'a' && *s <= 'z'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* HELP text in the exposition format: backslash and newline escaped. */
static char *
help_text(const struct ctl_field *f)
{
	struct buf b = {0};

	for (uint32_t i = 0; i < f->str.len; i++) {
		uint8_t c = f->str.p[i];
		if (c == '\\' || c == '\n')
			buf_append(&b, c == '\\' ? "\\\\" : "\\n", 2);
		else
			buf_put_u8(&b, c < 0x20 || c == 0x7f ? '?' : c);
	}
	buf_put_u8(&b, '\0');
	return (char *)b.data;
}

/* The port of "ip:port" (malloc'd). */
static char *
addr_port(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	return xstrdup(colon ? colon + 1 : addr);
}

/* A record of the METRICS reply: the peer's node first, then one per metric. */
static void
on_metric_record(struct reply *rp, const struct record *rec)
{
	const struct ctl_field *node = find_field(rec, "node", CTL_KIND_STR), *value;
	char *name, *type;
	struct sample *sm;

	if (node) {
		char *text = xstrndup((const char *)node->str.p, node->str.len);
		free(rp->instance);
		rp->instance = addr_port(text);
		free(text);
		return;
	}
	if (!rp->instance)
		protocol_error(rp->s, "a metric before the node's record");
	name = field_strdup(rec, "metric");
	type = field_strdup(rec, "type");
	need_field(rp, rec, "help", CTL_KIND_STR);
	if (!name || !metric_name_ok(name) || !type ||
	    (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0))
		protocol_error(rp->s, "a metric without a valid name or type");
	value = find_field(rec, "value", CTL_KIND_U64);
	if (!value && !(value = find_field(rec, "value", CTL_KIND_DOUBLE)))
		protocol_error(rp->s, "metric '%s' without a value", name);
	rp->samples = xreallocarray(rp->samples, rp->nsamples + 1, sizeof(*rp->samples));
	sm = &rp->samples[rp->nsamples++];
	sm->instance = xstrdup(rp->instance);
	/* gossip_frames_sent, not gossip_gossip_frames_sent. */
	sm->family = xasprintf("%s%s%s", strncmp(name, "gossip_", 7) == 0 ? "" : "gossip_", name,
			       strcmp(type, "counter") == 0 ? "_total" : "");
	sm->type = type;
	sm->help = help_text(find_field(rec, "help", CTL_KIND_STR));
	sm->value = value->kind == CTL_KIND_U64 ? xasprintf("%" PRIu64, value->u)
		    : isfinite(value->f)        ? xasprintf("%.6f", value->f)
						: xstrdup("NaN");
	free(name);
}

/*
 * The Prometheus text exposition format: for each family, in the order first seen, its
 * HELP and TYPE once, then its sample of each peer, labelled instance="PORT".
 */
static void
print_exposition(FILE *out, struct sample *v, size_t n)
{
	bool *done = xcalloc(n ? n : 1, sizeof(*done));

	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", v[i].family, v[i].help, v[i].family,
			v[i].type);
		for (size_t j = i; j < n; j++) {
			if (done[j] || strcmp(v[j].family, v[i].family) != 0)
				continue;
			done[j] = true;
			fprintf(out, "%s{instance=\"%s\"} %s\n", v[j].family, v[j].instance, v[j].value);
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].instance);
		free(v[i].family);
		free(v[i].type);
		free(v[i].help);
		free(v[i].value);
	}
	free(v);
	free(done);
}

/* The IP part of "ip:port" or "[ip6]:port" (malloc'd). */
static char *
origin_ip(const char *origin)
{
	const char *colon = strrchr(origin, ':');
	size_t n = colon ? (size_t)(colon - origin) : strlen(origin);

	if (n >= 2 && origin[0] == '[' && origin[n - 1] == ']')
		return xstrndup(origin + 1, n - 2);
	return xstrndup(origin, n);
}

/* One received message: "[received] Received from FROM: ORIGIN - SENT:IP:'TEXT'". */
static void
on_tail_record(struct reply *rp, const struct record *rec)
{
	const struct ctl_field *from, *origin, *timestamp, *received, *text;
	char sent_at[32], received_at[32];
	char *from_s, *origin_s, *ip, *text_s;

	if (rp->json) {
		json_object(rp->out, rec);
		fputc('\n', rp->out);
		flush_stdout();
		return;
	}
	from = need_field(rp, rec, "from", CTL_KIND_STR);
	origin = need_field(rp, rec, "origin", CTL_KIND_STR);
	timestamp = need_field(rp, rec, "timestamp", CTL_KIND_U64);
	received = need_field(rp, rec, "received", CTL_KIND_U64);
	text = need_field(rp, rec, "text", CTL_KIND_STR);
	from_s = escape_text(from->str.p, from->str.len);
	origin_s = escape_text(origin->str.p, origin->str.len);
	ip = origin_ip(origin_s);
	text_s = escape_text(text->str.p, text->str.len);
	fprintf(rp->out, "[%s] Received from %s: %s - %s:%s:'%s'\n",
	       format_wallclock(received->u, received_at, sizeof(received_at)), from_s, origin_s,
	       format_wallclock(timestamp->u, sent_at, sizeof(sent_at)), ip, text_s);
	free(from_s);
	free(origin_s);
	free(ip);
	free(text_s);
	flush_stdout();
}

static void
parse_no_args(uint8_t type, int argc, char **argv, struct request *req)
{
	if (argc > 1)
		usage_error("%s: unexpected argument '%s'", argv[0], argv[1]);
	ctl_encode_request(&req->frame, type, NULL, 0);
}

/* Standard input, at most MAX_MESSAGE bytes after one trailing newline is removed. */
static void
read_stdin_message(struct buf *msg)
{
	for (;;) {
		ssize_t n;

		buf_reserve(msg, READ_CHUNK);
		n = read(STDIN_FILENO, msg->data + msg->len, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err(CTL_ERR_FAILED, "cannot read standard input");
		if (n == 0)
			break;
		msg->len += (size_t)n;
		if (msg->len > MAX_MESSAGE + 1)
			break;
	}
	if (msg->len > 0 && msg->data[msg->len - 1] == '\n' && msg->len <= MAX_MESSAGE + 1)
		msg->len--;
}

static void
parse_send(uint8_t type, int argc, char **argv, struct request *req)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct buf msg = {0};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c != 'h')
			option_error("send", opts, c, argv);
		usage(stdout);
		exit(CTL_OK);
	}
	if (argc - optind == 1 && strcmp(argv[optind], "-") == 0) {
		read_stdin_message(&msg);
	} else {
		for (int i = optind; i < argc && msg.len <= MAX_MESSAGE; i++) {
			if (i > optind)
				buf_put_u8(&msg, ' ');
			buf_append(&msg, argv[i], strlen(argv[i]));
		}
	}
	if (msg.len == 0)
		errx(CTL_ERR_EMPTY, "empty message");
	if (msg.len > MAX_MESSAGE)
		errx(CTL_ERR_TOO_LONG, "message too long: over %u bytes", MAX_MESSAGE);
	ctl_encode_request(&req->frame, type, msg.data, msg.len);
	buf_free(&msg);
}

static void
parse_tail(uint8_t type, int argc, char **argv, struct request *req)
{
	static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
					     {"lines", required_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	uint64_t count = DEFAULT_TAIL_COUNT;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+:fn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			req->follow = true;
			break;
		case 'n':
			if (parse_u64(optarg, 0, MAX_TAIL_COUNT, &count) < 0)
				usage_error("tail: invalid count '%s' for -n (0 to %u)", optarg,
					    MAX_TAIL_COUNT);
			break;
		case 'h':
			usage(stdout);
			exit(CTL_OK);
		default:
			option_error("tail", opts, c, argv);
		}
	}
	if (optind < argc)
		usage_error("tail: unexpected argument '%s'", argv[optind]);
	ctl_encode_tail(&req->frame, req->follow, (uint32_t)count);
}

static const struct command commands[] = {
	{"send", parse_send, CTL_SEND, on_send_record, finish_single, false},
	{"status", parse_no_args, CTL_STATUS, on_single_record, finish_single, false},
	{"peers", parse_no_args, CTL_PEERS, on_peer_record, finish_peers, false},
	{"stats", parse_no_args, CTL_STATS, on_single_record, finish_single, false},
	{"tail", parse_tail, CTL_TAIL, on_tail_record, NULL, true},
	{"members", parse_no_args, CTL_MEMBERS, on_member_record, finish_members, false},
	{"metrics", parse_no_args, CTL_METRICS, on_metric_record, NULL, false},
};

static void
buf_puts(struct buf *b, const char *sep, const char *s)
{
	if (b->len > 0)
		buf_append(b, sep, strlen(sep));
	buf_append(b, s, strlen(s));
}

/*
 * The runtime directories, each once, but for those someone else controls
 * (paths_check_dir()): a socket there may be anyone's. Each of those is named
 * on stderr.
 */
static size_t
runtime_dirs(char *dirs[PATHS_MAX_DIRS + 1])
{
	size_t n = paths_runtime_dirs(dirs), kept = 0;

	for (size_t i = 0; i < n; i++) {
		char why[PATHS_WHY_LEN];
		bool seen = false;
		for (size_t j = 0; j < kept; j++)
			seen = seen || strcmp(dirs[j], dirs[i]) == 0;
		if (!seen && paths_check_dir(dirs[i], why) == -EPERM) {
			warnx("ignoring %s: %s", dirs[i], why);
			seen = true;
		}
		if (seen)
			free(dirs[i]);
		else
			dirs[kept++] = dirs[i];
	}
	return kept;
}

/*
 * Exits unless the process serving the connected socket fd (its
 * credentials when it listened: systemd's, for a socket it passed) is
 * root, this user or gossip: gossipctl does not hand messages to, nor
 * believe the replies of, another user's socket.
 */
static void
check_server(const char *path, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		err(CTL_ERR_FAILED, "cannot read the credentials of %s", path);
	if (!paths_trusted_uid(cr.uid))
		errx(CTL_ERR_PERMISSION, "refusing %s: it is served by uid %u (pid %d), not by root, "
		     "uid %u or gossip", path, (unsigned)cr.uid, (int)cr.pid, (unsigned)getuid());
}

/* -i PORT: peer-PORT.sock in the first runtime directory that has it. */
static char *
instance_socket(const char *port_text)
{
	char *dirs[PATHS_MAX_DIRS + 1];
	struct buf tried = {0};
	struct stat st;
	uint16_t port;
	size_t n;

	if (parse_port(port_text, &port) < 0)
		usage_error("invalid port '%s' for -i (1 to 65535)", port_text);
	n = runtime_dirs(dirs);
	for (size_t i = 0; i < n; i++) {
		char *path = paths_control_socket(dirs[i], port);
		/* A directory we may not search still may hold it: connect() will say. */
		if (stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR)) {
			paths_free(dirs, n);
			buf_free(&tried);
			return path;
		}
		buf_puts(&tried, ", ", path);
		free(path);
	}
	buf_put_u8(&tried, '\0');
	errx(CTL_ERR_NOT_RUNNING, "gossip-peer on port %u is not running (tried %s)", port,
	     (char *)tried.data);
}

/* The port of a "peer-PORT.sock" name, or 0. */
static uint16_t
socket_name_port(const char *name)
{
	size_t n = strlen(name);
	uint16_t port = 0;
	char *digits;

	if (n <= 10 || strncmp(name, "peer-", 5) != 0 || strcmp(name + n - 5, ".sock") != 0)
		return 0;
	digits = xstrndup(name + 5, n - 10);
	if (parse_port(digits, &port) < 0)
		port = 0;
	free(digits);
	return port;
}

static int
compare_ports(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void __attribute__((noreturn))
timed_out(const struct session *s)
{
	errx(CTL_ERR_FAILED, "no reply from %s within %s s", s->path, s->timeout_text);
}

/* Waits until the socket is ready for events; exits on timeout, and quietly on SIGINT. */
static void
wait_ready(const struct session *s, short events)
{
	struct pollfd pfd = {.fd = s->fd, .events = events};

	for (;;) {
		int ms = -1, r;

		if (interrupted)
			exit(CTL_OK);
		if (s->deadline) {
			uint64_t now = now_monotonic_usec();
			if (now >= s->deadline)
				timed_out(s);
			ms = (int)((s->deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC);
			if (ms < 0 || (uint64_t)ms > INT_MAX / 2)
				ms = INT_MAX / 2;
		}
		r = poll(&pfd, 1, ms);
		if (r > 0)
			return;
		if (r < 0 && errno != EINTR)
			err(CTL_ERR_FAILED, "poll");
	}
}

/* A failed connect(): 0 says no peer is running there, 2 that we may not know, 1 neither. */
static int
failure_rank(int error)
{
	if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR)
		return 0;
	if (error == EACCES || error == EPERM)
		return 2;
	return 1;
}

/* Exits for a failed connect() to path, with how many other sockets did not answer either. */
static void __attribute__((noreturn))
connect_failed(const char *path, int error, size_t others)
{
	char more[80] = "";

	if (others > 0)
		snprintf(more, sizeof(more), "; no answer on %zu other control socket%s", others,
			 others == 1 ? "" : "s");
	if (failure_rank(error) == 0)
		errx(CTL_ERR_NOT_RUNNING, "gossip-peer is not running (%s: %s%s)", path,
		     strerror(error), more);
	if (failure_rank(error) == 2)
		errx(CTL_ERR_PERMISSION, "permission denied on %s (are you in group gossip?)%s",
		     path, more);
	errx(CTL_ERR_FAILED, "cannot connect to %s: %s%s", path, strerror(error), more);
}

/* The address of the socket at path; -1 when the path does not fit in one. */
static int
control_address(const char *path, struct sockaddr_un *sa, socklen_t *salen)
{
	size_t n = strlen(path);

	if (n >= sizeof(sa->sun_path))
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n + 1);
	*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

static int
control_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		err(CTL_ERR_FAILED, "cannot create a socket");
	return fd;
}

static void
connect_control(struct session *s)
{
	struct sockaddr_un sa;
	socklen_t salen;

	if (control_address(s->path, &sa, &salen) < 0)
		errx(CTL_ERR_USAGE, "socket path too long (%zu bytes, at most %zu): %s",
		     strlen(s->path), sizeof(sa.sun_path) - 1, s->path);
	s->fd = control_socket();
	while (connect(s->fd, (struct sockaddr *)&sa, salen) < 0) {
		int error = errno;
		socklen_t len = sizeof(error);

		if (error == EINTR)
			continue;
		if (error == EAGAIN) {
			/* The daemon's listen backlog is full: try again shortly. */
			if (s->deadline && now_monotonic_usec() >= s->deadline)
				timed_out(s);
			poll(NULL, 0, 10);
			continue;
		}
		if (error != EINPROGRESS)
			connect_failed(s->path, error, 0);
		wait_ready(s, POLLOUT);
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
			error = errno;
		if (error)
			connect_failed(s->path, error, 0);
		break;
	}
}

/* What discovery found: the peers that answer, and the sockets that do not. */
struct discovery {
	uint16_t *ports; /* of the sockets that answered */
	char **paths;    /* their paths (malloc'd), in the same order */
	size_t nports;
	char *path;   /* the first socket that answered */
	int fd;       /* connected to it, or -1 when its listen backlog was full */
	char *failed; /* of the sockets that did not answer, the one that tells most */
	int failed_error;
	size_t nfailed;
};

/*
 * One connect() to the socket at path, without waiting: 0 with *fd connected, or the
 * error. EAGAIN is a full listen backlog: a peer is there, busy.
 */
static int
probe_socket(const char *path, int *fd)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int error = 0;

	*fd = -1;
	if (control_address(path, &sa, &salen) < 0)
		return ENAMETOOLONG;
	*fd = control_socket();
	while (connect(*fd, (struct sockaddr *)&sa, salen) < 0) {
		error = errno;
		if (error != EINTR)
			break;
		error = 0;
	}
	if (error) {
		close(*fd);
		*fd = -1;
	}
	return error;
}

/* Notes how the socket of port at path (taken over) answered a connect(). */
static void
discovery_add(struct discovery *d, char *path, uint16_t port, int error, int fd)
{
	if (error == 0 || error == EAGAIN) {
		d->ports = xreallocarray(d->ports, d->nports + 1, sizeof(*d->ports));
		d->paths = xreallocarray(d->paths, d->nports + 1, sizeof(*d->paths));
		d->paths[d->nports] = xstrdup(path);
		d->ports[d->nports++] = port;
		if (!d->path) {
			d->path = path;
			d->fd = fd;
			return;
		}
		if (fd >= 0)
			close(fd);
		free(path);
		return;
	}
	d->nfailed++;
	if (d->failed && failure_rank(error) <= failure_rank(d->failed_error)) {
		free(path);
		return;
	}
	free(d->failed);
	d->failed = path;
	d->failed_error = error;
}

static int
is_socket_name(const struct dirent *de)
{
	return socket_name_port(de->d_name) != 0;
}

static int
compare_socket_names(const struct dirent **a, const struct dirent **b)
{
	return (int)socket_name_port((*a)->d_name) - (int)socket_name_port((*b)->d_name);
}

/* Tries each peer-PORT.sock socket of dir in port order, but for ports already answering. */
static void
discover_in_dir(const char *dir, struct discovery *d)
{
	struct dirent **names;
	int n = scandir(dir, &names, is_socket_name, compare_socket_names);

	for (int i = 0; i < n; i++) {
		uint16_t port = socket_name_port(names[i]->d_name);
		char *path = xasprintf("%s/%s", dir, names[i]->d_name);
		struct stat st;
		bool seen = false;
		int error, fd;

		free(names[i]);
		for (size_t j = 0; j < d->nports; j++)
			seen = seen || d->ports[j] == port;
		if (seen || stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			free(path);
			continue;
		}
		error = probe_socket(path, &fd);
		discovery_add(d, path, port, error, fd);
	}
	if (n >= 0)
		free(names);
}

/* Exits naming the first few of the ports answering, and their count. */
static void __attribute__((noreturn))
several_running(uint16_t *ports, size_t n)
{
	struct buf list = {0};
	char text[64];

	qsort(ports, n, sizeof(*ports), compare_ports);
	for (size_t i = 0; i < n && i < SEVERAL_SHOWN; i++) {
		snprintf(text, sizeof(text), "%u", ports[i]);
		buf_puts(&list, ", ", text);
	}
	if (n > SEVERAL_SHOWN) {
		snprintf(text, sizeof(text), " and %zu more", n - SEVERAL_SHOWN);
		buf_append(&list, text, strlen(text));
	}
	buf_put_u8(&list, '\0');
	errx(CTL_ERR_USAGE,
	     "several peers are running (%s; %zu in all): pick one with -i PORT or -s PATH",
	     (char *)list.data, n);
}

/*
 * No -s or -i: the socket of the only peer that answers a connect(), with *fd connected to
 * it (-1 if it was busy). Sockets nobody accepts on, left by killed peers, do not count.
 */
static char *
only_running_socket(int *fd)
{
	char *dirs[PATHS_MAX_DIRS + 1];
	size_t n = runtime_dirs(dirs);
	struct discovery d = {.fd = -1};
	struct buf list = {0};

	for (size_t i = 0; i < n; i++)
		discover_in_dir(dirs[i], &d);
	if (d.nports > 1)
		several_running(d.ports, d.nports);
	if (d.nports == 0 && d.failed)
		connect_failed(d.failed, d.failed_error, d.nfailed - 1);
	if (d.nports == 0) {
		for (size_t i = 0; i < n; i++)
			buf_puts(&list, ", ", dirs[i]);
		buf_put_u8(&list, '\0');
		errx(CTL_ERR_NOT_RUNNING, "no running gossip-peer found (looked in %s)",
		     (char *)list.data);
	}
	paths_free(dirs, n);
	paths_free(d.paths, d.nports);
	free(d.paths);
	free(d.ports);
	free(d.failed);
	*fd = d.fd;
	return d.path;
}

/*
 * gossipctl metrics without -s or -i: the sockets of every peer that answers a connect()
 * (malloc'd, *n of them). None is no error: the exposition is then empty.
 */
static char **
every_running_socket(size_t *n)
{
	char *dirs[PATHS_MAX_DIRS + 1];
	size_t ndirs = runtime_dirs(dirs);
	struct discovery d = {.fd = -1};

	for (size_t i = 0; i < ndirs; i++)
		discover_in_dir(dirs[i], &d);
	paths_free(dirs, ndirs);
	if (d.nports == 0 && d.failed && failure_rank(d.failed_error) == 2)
		connect_failed(d.failed, d.failed_error, d.nfailed - 1);
	if (d.fd >= 0)
		close(d.fd);
	free(d.path);
	free(d.ports);
	free(d.failed);
	*n = d.nports;
	return d.paths;
}

/* Writes the request; a daemon that closed early may still have left a reply to read. */
static void
send_request(struct session *s, const struct buf *frame)
{
	size_t off = 0;

	while (off < frame->len) {
		ssize_t n = send(s->fd, frame->data + off, frame->len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
		} else if (errno == EAGAIN) {
			wait_ready(s, POLLOUT);
		} else if (errno == EPIPE || errno == ECONNRESET) {
			return;
		} else if (errno != EINTR) {
			err(CTL_ERR_FAILED, "cannot write to %s", s->path);
		}
	}
}

/* Reads more of the reply into s->in; exits when the daemon closed the connection. */
static void
receive_more(struct session *s)
{
	for (;;) {
		ssize_t n;

		wait_ready(s, POLLIN);
		buf_reserve(&s->in, READ_CHUNK);
		n = recv(s->fd, s->in.data + s->in.len, READ_CHUNK, 0);
		if (n > 0) {
			s->in.len += (size_t)n;
			return;
		}
		if (n == 0 || errno == ECONNRESET)
			connection_closed(s);
		if (errno != EAGAIN && errno != EINTR)
			err(CTL_ERR_FAILED, "cannot read from %s", s->path);
	}
}

static void
decode_record(const struct session *s, const uint8_t *body, size_t len, struct record *rec)
{
	struct ctl_field_iter it;
	struct ctl_field f;
	int r;

	rec->n = 0;
	if (ctl_record_iter_init(&it, body, len) < 0)
		protocol_error(s, "malformed RECORD frame");
	while ((r = ctl_record_next(&it, &f)) > 0) {
		if (rec->n == rec->cap) {
			rec->cap = rec->cap ? 2 * rec->cap : 32;
			rec->fields = xreallocarray(rec->fields, rec->cap, sizeof(*rec->fields));
		}
		rec->fields[rec->n++] = f;
	}
	if (r < 0)
		protocol_error(s, "malformed RECORD frame (field %zu)", rec->n + 1);
}

/* Hands every RECORD to the command until END; returns the END status and text. */
static uint8_t
read_reply(struct session *s, const struct command *cmd, struct reply *rp, char *text)
{
	struct record rec = {0};
	size_t off = 0;

	for (;;) {
		while (off < s->in.len) {
			const char *reason = "malformed frame";
			long n = ctl_frame_check(s->in.data + off, s->in.len - off, &reason);
			const uint8_t *frame = s->in.data + off;
			uint8_t status;

			if (n < 0)
				protocol_error(s, "%s", reason);
			if (n == 0)
				break;
			off += (size_t)n;
			if (frame[3] == CTL_END) {
				if (ctl_decode_end(frame + CTL_HDR_LEN, (size_t)n - CTL_HDR_LEN,
						   &status, text) < 0)
					protocol_error(s, "malformed END frame");
				free(rec.fields);
				return status;
			}
			if (frame[3] != CTL_RECORD)
				protocol_error(s, "unexpected %s frame", ctl_type_name(frame[3]));
			decode_record(s, frame + CTL_HDR_LEN, (size_t)n - CTL_HDR_LEN, &rec);
			rp->records++;
			cmd->on_record(rp, &rec);
		}
		buf_consume(&s->in, off);
		off = 0;
		receive_more(s);
	}
}

static void
on_interrupt(int sig)
{
	interrupted = 1;
}

/* Exits for an END that is not OK. */
static void
check_status(uint8_t status, const char *text)
{
	int code = status <= CTL_ERR_PROTOCOL ? status : CTL_ERR_FAILED;

	if (status == CTL_OK)
		return;
	if (text[0])
		errx(code, "%s", text);
	errx(code, "request failed with status %u", status);
}

/* One request to the socket at path, its records handed to cmd into rp. */
static void
ask_socket(const struct options *opt, const struct command *cmd, const char *path,
	   const struct buf *frame, struct reply *rp)
{
	struct session s = {.fd = -1, .path = path, .timeout_text = opt->timeout_text};
	char text[CTL_MAX_TEXT + 1];

	if (opt->timeout_usec)
		s.deadline = now_monotonic_usec() + opt->timeout_usec;
	rp->s = &s;
	connect_control(&s);
	check_server(s.path, s.fd);
	send_request(&s, frame);
	check_status(read_reply(&s, cmd, rp, text), text);
	close(s.fd);
	buf_free(&s.in);
	rp->s = NULL;
}

/*
 * gossipctl metrics: every peer running (or the one of -s or -i), in one exposition.
 * Two peers of the same port would be one series: refused.
 */
static int
run_metrics(const struct options *opt, const struct command *cmd, int argc, char **argv)
{
	struct request req = {0};
	struct reply rp = {.json = false};
	char **paths, *one[1];
	size_t n = 1, before;

	cmd->parse(cmd->type, argc, argv, &req);
	if (opt->socket_path || opt->instance) {
		one[0] = opt->socket_path ? xstrdup(opt->socket_path) : instance_socket(opt->instance);
		paths = one;
	} else {
		paths = every_running_socket(&n);
	}
	for (size_t i = 0; i < n; i++) {
		before = rp.nsamples;
		ask_socket(opt, cmd, paths[i], &req.frame, &rp);
		for (size_t j = 0; j < before && rp.nsamples > before; j++)
			if (strcmp(rp.samples[j].instance, rp.samples[before].instance) == 0)
				errx(CTL_ERR_FAILED, "two peers answer as port %s (%s and another): "
				     "ask one at a time with -s", rp.instance, paths[i]);
		free(paths[i]);
	}
	if (n == 0)
		fputs("# no gossip-peer running\n", stdout);
	print_exposition(stdout, rp.samples, rp.nsamples);
	if (paths != one)
		free(paths);
	free(rp.instance);
	buf_free(&req.frame);
	flush_stdout();
	return CTL_OK;
}

/* Sends the request and prints the reply; returns the exit status. */
static int
run_command(const struct options *opt, const struct command *cmd, int argc, char **argv)
{
	struct request req = {0};
	struct session s = {.fd = -1, .timeout_text = opt->timeout_text};
	struct reply rp = {.s = &s, .json = opt->json};
	char text[CTL_MAX_TEXT + 1], *found = NULL;
	uint8_t status;

	if (cmd->type == CTL_METRICS)
		return run_metrics(opt, cmd, argc, argv);
	cmd->parse(cmd->type, argc, argv, &req);
	if (opt->socket_path)
		s.path = opt->socket_path;
	else if (opt->instance)
		s.path = found = instance_socket(opt->instance);
	else
		s.path = found = only_running_socket(&s.fd);
	if (opt->timeout_usec)
		s.deadline = now_monotonic_usec() + opt->timeout_usec;
	if (req.follow) {
		struct sigaction sa = {.sa_handler = on_interrupt};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
	}
	if (s.fd < 0)
		connect_control(&s);
	check_server(s.path, s.fd);
	send_request(&s, &req.frame);
	buf_free(&req.frame);
	if (req.follow)
		s.deadline = 0;

	if (cmd->streams)
		rp.out = stdout;
	else if (!(rp.out = open_memstream(&rp.out_data, &rp.out_len)))
		err(CTL_ERR_FAILED, "open_memstream");
	status = read_reply(&s, cmd, &rp, text);
	close(s.fd);
	buf_free(&s.in);
	check_status(status, text);
	if (cmd->finish)
		cmd->finish(&rp);
	if (rp.out != stdout) {
		if (fclose(rp.out) != 0)
			err(CTL_ERR_FAILED, "open_memstream");
		fwrite(rp.out_data, 1, rp.out_len, stdout);
		free(rp.out_data);
	}
	flush_stdout();
	free(found);
	return CTL_OK;
}

static void
parse_global_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_JSON = 0x100 };
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"instance", required_argument, NULL, 'i'},
					     {"json", no_argument, NULL, OPT_JSON},
					     {"timeout", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {0}};
	int c;

	while ((c = getopt_long(argc, argv, "+:s:i:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!*optarg)
				usage_error("empty socket path for -s");
			opt->socket_path = optarg;
			break;
		case 'i':
			opt->instance = optarg;
			break;
		case OPT_JSON:
			opt->json = true;
			break;
		case 't':
			if (parse_seconds(optarg, &opt->timeout_usec) < 0)
				usage_error("invalid timeout '%s' for -t: expected seconds from 0 "
					    "to %u, such as 5 or 0.5 (0 waits forever)",
					    optarg, MAX_TIMEOUT_SEC);
			opt->timeout_text = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(CTL_OK);
		case 'V':
			printf("gossipctl %s\n", GOSSIP_VERSION);
			exit(CTL_OK);
		default:
			option_error(NULL, opts, c, argv);
		}
	}
	if (opt->socket_path && opt->instance)
		usage_error("-s and -i cannot be used together");
}

int
main(int argc, char **argv)
{
	struct options opt = {.timeout_usec = 5 * USEC_PER_SEC, .timeout_text = "5"};

	signal(SIGPIPE, SIG_IGN);
	opterr = 0;
	parse_global_options(argc, argv, &opt);
	if (optind >= argc)
		usage_error("missing command (send, status, peers, stats, tail, members or metrics)");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return run_command(&opt, &commands[i], argc - optind, argv + optind);
	usage_error("unknown command '%s'", argv[optind]);
}
