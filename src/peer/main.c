/* SPDX-License-Identifier: MIT */
/* gossip-peer: the peer core (core/peer.h) run as a daemon, with its output, control socket and terminal. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "control.h"
#include "core/peer.h"
#include "io/clock.h"
#include "io/daemon.h"
#include "io/log.h"
#include "io/node.h"
#include "io/paths.h"
#include "io/service.h"
#include "output.h"
#include "state.h"

static const char usage_text[] =
	"Usage: gossip-peer [OPTIONS] <ip> <port> <config_file>\n"
	"       gossip-peer [OPTIONS] -c FILE [<ip>] <port>\n"
	"\n"
	"The peer daemon of the gossip network. config_file is a seed list (one\n"
	"HOST:PORT per line) or a libconfig file (see gossip.conf(5)). Without <ip>,\n"
	"the address setting of the configuration is advertised (default 127.0.0.1).\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE           read FILE; may be repeated, later files override\n"
	"                              earlier ones (config_file is applied last)\n"
	"  -C, --config-optional FILE  the same, but skipped when FILE does not exist\n"
	"  -L, --log-dir DIR           write peer_<ip>_<port>.log and output.txt in DIR\n"
	"                              (default: log_dir, else $LOGS_DIRECTORY, else .)\n"
	"  -s, --control-socket PATH   control socket for gossipctl (default:\n"
	"                              <runtime dir>/peer-<port>.sock)\n"
	"  -o, --output FILE           write received messages to FILE (default:\n"
	"                              output.txt in the log directory)\n"
	"  -d, --debug                 log debug messages to stderr\n"
	"  -n, --check-config          print the effective configuration and exit\n"
	"  -h, --help                  show this help and exit\n"
	"  -V, --version               show the version and exit\n"
	"\n"
	"In a terminal, each line typed is broadcast; 'exit' stops reading input.\n"
	"Signals: SIGTERM/SIGINT leave the network and stop, SIGHUP reopens the log\n"
	"and output files (log rotation) and reloads the configuration.\n";

static const char *const restart_settings[] = {PEER_RESTART_SETTINGS, NULL};

static const struct service_spec spec = {
	.name = "gossip-peer",
	.role = "peer",
	.usage = usage_text,
	.peer = true,
	.restart_settings = restart_settings,
};

struct peer_daemon {
	struct service sv;
	struct peer_node node;
	struct node_io io;
	struct output out;
	struct state_file state;
	struct control ctl;
	sd_event_source *stdin_src;
	struct buf stdin_buf;
	sd_event_source *leave_timer;
	sd_event_source *drain_check;
	uint64_t state_warned_at; /* the last warning that the state file could not be written */
	uint64_t trim_mark; /* frames in and out at the last tick */
	bool trim_due;      /* frames moved since the last malloc_trim() */
	char last_status[256]; /* the STATUS= last sent; cleared to send it again */
};

static struct link *
in_accept(void *core, void *io, const struct node_addr *remote, struct instant t)
{
	return peer_node_accept(core, io, remote, t);
}

static void
in_connected(void *core, struct link *lk, struct instant t)
{
	peer_node_connected(core, lk, t);
}

static int
in_frame(void *core, struct link *lk, const uint8_t *frame, size_t len, bool last_in_read,
	 struct instant t, const char **reason)
{
	return peer_node_frame(core, lk, frame, len, last_in_read, t, reason);
}

static void
in_closed(void *core, struct link *lk, const char *reason, int error, struct instant t)
{
	peer_node_closed(core, lk, reason, error, t);
}

static void
in_wakeup(void *core, enum wake_class cls, struct instant t)
{
	peer_node_wakeup(core, cls, t);
}

/* A seed probes from its own host: its connections get the reserved handshake slots. */
static bool
in_reserved(void *core, const struct node_addr *remote)
{
	return peer_node_is_seed_host(core, remote);
}

static void
in_resolved(void *core, uint64_t token, const struct node_addr *addrs, size_t n,
	    const char *error, struct instant t)
{
	peer_node_resolved(core, token, addrs, n, error, t);
}

static const struct node_inputs peer_inputs = {in_accept, in_connected, in_frame, in_closed,
					       in_wakeup, in_reserved, in_resolved};

static void
update_status(struct peer_daemon *d)
{
	const struct peer_node *n = &d->node;
	char now[256];

	snprintf(now, sizeof(now),
		 "STATUS=%s: registered with %u/%u seeds, %u neighbours, %llu messages received, "
		 "%llu sent",
		 peer_state_name(n->state), peer_node_seeds_registered(n), n->n_seeds,
		 n->n_neighbours, (unsigned long long)n->stats.messages_received,
		 (unsigned long long)n->stats.messages_sent);
	/* Only changes go to systemd: a busy peer would otherwise notify per message. */
	if (strcmp(now, d->last_status) == 0)
		return;
	memcpy(d->last_status, now, sizeof(d->last_status));
	daemon_notify("%s", now);
}

/*
 * A tick with no frame in or out after one with some: the burst is over, and
 * the memory its queues and buffers left free in the heap goes back to the
 * system (glibc keeps it otherwise, and resident memory would stay at the
 * burst's high-water mark).
 */
static void
trim_when_quiet(struct peer_daemon *d)
{
	const struct peer_stats *s = &d->node.stats;
	uint64_t mark = s->gossip_frames_received + s->gossip_frames_sent + s->ihave_frames_sent +
			s->ihave_ids_received;

	if (mark != d->trim_mark) {
		d->trim_mark = mark;
		d->trim_due = true;
	} else if (d->trim_due) {
		d->trim_due = false;
		(void)malloc_trim(0);
	}
}

static void
finish(struct peer_daemon *d)
{
	log_info("Peer %s stopped", d->sv.self_str);
	sd_event_exit(d->sv.event, 0);
}

static int
on_leave_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	finish(userdata);
	return 0;
}

/* After every loop iteration while leaving: done once every connection has written its LEAVE. */
static int
on_drain_check(sd_event_source *src, void *userdata)
{
	struct peer_daemon *d = userdata;

	if (d->sv.loop.n_conns > d->ctl.n_clients)
		return 0;
	sd_event_source_set_enabled(src, SD_EVENT_OFF);
	finish(d);
	return 0;
}

static void
on_notice(void *ctx, enum notice what)
{
	struct peer_daemon *d = ctx;

	switch (what) {
	case NOTICE_READY:
		daemon_notify("READY=1");
		break;
	case NOTICE_STATUS:
		update_status(d);
		break;
	case NOTICE_TICK:
		trim_when_quiet(d);
		output_tick(&d->out, now_monotonic_usec());
		break;
	case NOTICE_MEMBERS:
		control_members_answered(&d->ctl);
		break;
	case NOTICE_STOPPED:
		(void)sd_event_add_time_relative(d->sv.event, &d->leave_timer, CLOCK_MONOTONIC,
						 PEER_LEAVE_TIMEOUT_USEC, 1000, on_leave_timeout, d);
		(void)sd_event_add_post(d->sv.event, &d->drain_check, on_drain_check, d);
		break;
	}
}

static void
on_deliver(void *ctx, const struct delivery *dl)
{
	struct peer_daemon *d = ctx;
	struct history_entry h;

	output_deliver(&d->out, dl, now_monotonic_usec(), &h);
	control_notify_delivery(&d->ctl, &h);
}

/* The core's "sent" events share peer.journal_message_rate with "received" ones. */
static bool
journal_gate(void *ctx, const struct log_fields *f)
{
	struct peer_daemon *d = ctx;

	if (!f->event || strcmp(f->event, "sent") != 0)
		return true;
	return output_journal_pass(&d->out, now_monotonic_usec(), true);
}

static void
on_remember(void *ctx, const uint8_t *id, uint64_t stamp)
{
	struct peer_daemon *d = ctx;

	state_append(&d->state, id, stamp, now_realtime_usec());
}

static void
state_loaded(void *ctx, const uint8_t *id, uint64_t stamp)
{
	struct peer_daemon *d = ctx;

	peer_node_remember(&d->node, id, stamp, instant_now());
}

/*
 * peer.state_file, else the peer's file in $STATE_DIRECTORY (systemd's
 * StateDirectory=), else beside its log: NULL when set to "" (none).
 */
static char *
state_path(const struct peer_daemon *d)
{
	const char *set = d->sv.cfg.peer.state_file, *dir = getenv("STATE_DIRECTORY");
	char *p;

	if (set)
		return *set ? xstrdup(set) : NULL;
	if (dir && *dir) {
		if (asprintf(&p, "%s/peer-%u.state", dir, d->sv.self.port) < 0)
			abort();
	} else if (asprintf(&p, "%s/peer_%s_%u.state", d->sv.log_dir, d->sv.self_ip,
			    d->sv.self.port) < 0) {
		abort();
	}
	return p;
}

/* The ids of what this peer held before a restart: not delivered again. */
static void
state_start(struct peer_daemon *d)
{
	const struct peer_config *pc = &d->sv.cfg.peer;
	char *path = state_path(d), warning[160];
	long r;

	d->state.fd = -1;
	if (!path) {
		log_info("peer.state_file is empty: after a restart, messages delivered before may "
			 "be delivered again");
		return;
	}
	r = state_open(&d->state, path, now_realtime_usec(),
		       pc->seen_cache_age_usec - pc->max_clock_skew_usec, pc->seen_cache_size,
		       state_loaded, d, warning, sizeof(warning));
	if (r < 0)
		fatal("cannot use the state file %s: %s", path, strerror((int)-r));
	if (warning[0])
		log_warn("state file %s: %s", path, warning);
	peer_node_set_history(&d->node, d->state.since);
	log_info("State file %s: %ld message ids held before this start", path, r);
	free(path);
}

static void
on_accept(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct peer_daemon *d = ctx;
	struct node_addr remote = {0};

	if (sl)
		(void)node_addr_from_sockaddr((const struct sockaddr *)ss, &remote);
	node_io_accept(&d->io, fd, &remote);
}

static void
on_stop(void *ctx, int signo)
{
	struct peer_daemon *d = ctx;

	if (d->node.state == PEER_LEAVING)
		return;
	log_info("Peer %s leaving the network (signal %d)", d->sv.self_str, signo);
	daemon_notify("STOPPING=1");
	listener_stop(&d->sv.listener);
	peer_node_leave(&d->node, instant_now());
}

/* Signatures with TLS: this node's certificate signs; required when tls.mode is. */
static void
set_security(struct peer_daemon *d)
{
	struct tls_ctx *t = d->sv.tls;

	peer_node_set_security(&d->node, t ? tls_ctx_identity(t) : NULL,
			       t && tls_ctx_mode(t) == TLS_MODE_REQUIRED);
}

static void
on_reload(void *ctx, const struct gossip_config *nc)
{
	struct peer_daemon *d = ctx;

	d->last_status[0] = '\0';
	if (nc) {
		node_io_set_tls(&d->io, d->sv.tls);
		output_set_journal_rate(&d->out, nc->peer.journal_message_rate);
		peer_node_reconfigure(&d->node, nc, instant_now());
		set_security(d);
	}
	update_status(d);
}

/* SIGHUP: log rotation renamed the output file; later lines go to a new one. */
static void
on_reopen(void *ctx)
{
	struct peer_daemon *d = ctx;
	int r = output_reopen(&d->out);

	if (r < 0)
		log_error("cannot reopen the output file %s: %s; still writing to the file open "
			  "before", d->out.path, strerror(-r));
	else
		log_info("Reopened the output file %s", d->out.path);
}

/* The end of each loop iteration: the log and output lines it produced are written. */
static void
flush_files(void *userdata)
{
	struct peer_daemon *d = userdata;

	int r;

	log_flush();
	/* What was delivered is recorded before its line is written: never delivered twice. */
	if ((r = state_flush(&d->state)) < 0 &&
	    (!d->state_warned_at || now_monotonic_usec() - d->state_warned_at > 10 * USEC_PER_SEC)) {
		d->state_warned_at = now_monotonic_usec();
		log_warn("cannot write the state file %s: %s (a restart may deliver again what "
			 "was delivered since; at most one warning every 10 s)", d->state.path,
			 strerror(-r));
	}
	output_flush(&d->out);
}

static void
stdin_line(struct peer_daemon *d, char *line, size_t len)
{
	uint8_t id[WIRE_ID_LEN];
	uint64_t seq;
	int r;

	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len == 0)
		return;
	if (strcmp(line, "exit") == 0) {
		log_info("exit typed: no longer reading input; the peer keeps running");
		d->stdin_src = sd_event_source_disable_unref(d->stdin_src);
		return;
	}
	r = peer_node_broadcast(&d->node, (const uint8_t *)line, len, instant_now(), id, &seq);
	if (r == -EMSGSIZE)
		log_warn("input line of %zu bytes is over peer.max_message_size (%u); not sent", len,
			 d->node.cfg.peer.max_message_size);
	else if (r < 0)
		log_warn("cannot broadcast input line: %s", strerror(-r));
}

static int
on_stdin(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct peer_daemon *d = userdata;
	size_t limit = (size_t)d->node.cfg.peer.max_message_size + 2;
	ssize_t n;
	char *nl;

	buf_reserve(&d->stdin_buf, 4096);
	n = read(fd, d->stdin_buf.data + d->stdin_buf.len, d->stdin_buf.cap - d->stdin_buf.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		log_info("end of input: no longer reading it; the peer keeps running");
		d->stdin_src = sd_event_source_disable_unref(d->stdin_src);
		return 0;
	}
	d->stdin_buf.len += (size_t)n;
	while (d->stdin_src && (nl = memchr(d->stdin_buf.data, '\n', d->stdin_buf.len))) {
		size_t l = (size_t)(nl - (char *)d->stdin_buf.data);
		*nl = '\0';
		stdin_line(d, (char *)d->stdin_buf.data, l);
		buf_consume(&d->stdin_buf, l + 1);
	}
	if (d->stdin_buf.len > limit) {
		log_warn("input line over peer.max_message_size (%u bytes); discarded",
			 d->node.cfg.peer.max_message_size);
		d->stdin_buf.len = 0;
	}
	return 0;
}

static void
stdin_start(struct peer_daemon *d)
{
	if (!isatty(STDIN_FILENO))
		return;
	if (sd_event_add_io(d->sv.event, &d->stdin_src, STDIN_FILENO, EPOLLIN, on_stdin, d) < 0)
		log_warn("cannot read the terminal; type messages with gossipctl send instead");
	else
		log_info("Type a message and press Enter to broadcast it; 'exit' stops input");
}

/* The output file, the control socket, the core and the listening socket. */
static void
start(struct peer_daemon *d)
{
	char *output_path, *ctl_path;
	struct rng rng;
	int r;

	if (d->sv.args.output_file)
		output_path = xstrdup(d->sv.args.output_file);
	else if (asprintf(&output_path, "%s/output.txt", d->sv.log_dir) < 0)
		abort();
	if ((r = output_open(&d->out, output_path, d->sv.cfg.peer.history)) < 0)
		fatal("cannot open %s: %s", output_path, strerror(-r));
	free(output_path);
	output_set_journal_rate(&d->out, d->sv.cfg.peer.journal_message_rate);
	/* A busy peer writes a line per message to two files: one write per loop iteration. */
	log_set_buffered(true);
	d->sv.loop.after_flush = flush_files;
	d->sv.loop.after_flush_ctx = d;
	rng_seed_random(&rng);
	node_io_init(&d->io, &d->sv.loop, &peer_inputs, &d->node, on_deliver, on_notice, d);
	node_io_set_tls(&d->io, d->sv.tls);
	node_io_set_source(&d->io, &d->sv.self);
	node_io_set_remember(&d->io, on_remember);
	node_io_set_resolver(&d->io, d->sv.resolver);
	node_io_set_log_gate(&d->io, journal_gate);
	peer_node_init(&d->node, &d->sv.cfg, &d->sv.self, rng_next(&rng), &d->io.env);
	state_start(d);
	set_security(d);
	service_listen(&d->sv, on_accept, d);
	if (d->sv.cfg.peer.control_socket) {
		ctl_path = xstrdup(d->sv.cfg.peer.control_socket);
	} else {
		char *dir = paths_default_runtime_dir();
		ctl_path = paths_control_socket(dir, d->sv.self.port);
		free(dir);
	}
	if (control_start(&d->ctl, &d->sv.loop, &d->node, &d->out, ctl_path, d->sv.log_path) < 0)
		fatal("cannot start the control socket %s", d->ctl.path);
}

int
main(int argc, char **argv)
{
	static struct peer_daemon d;
	int r;

	if ((r = service_init(&d.sv, &spec, argc, argv)) >= 0)
		return r;
	service_open(&d.sv);
	d.sv.ctx = &d;
	d.sv.on_stop = on_stop;
	d.sv.on_reload = on_reload;
	d.sv.on_reopen = on_reopen;
	start(&d);
	peer_node_start(&d.node, instant_now());
	log_info("Peer %s listening; registering with %u of %u seeds (log %s, output %s, control %s)",
		 d.sv.self_str, d.node.seeds_required, d.node.n_seeds, d.sv.log_path, d.out.path,
		 d.ctl.path);
	update_status(&d);
	stdin_start(&d);
	r = service_run(&d.sv);

	control_stop(&d.ctl);
	peer_node_free(&d.node);
	node_io_done(&d.io);
	output_close(&d.out);
	state_close(&d.state);
	d.stdin_src = sd_event_source_disable_unref(d.stdin_src);
	buf_free(&d.stdin_buf);
	d.leave_timer = sd_event_source_disable_unref(d.leave_timer);
	d.drain_check = sd_event_source_disable_unref(d.drain_check);
	service_close(&d.sv);
	return r;
}
