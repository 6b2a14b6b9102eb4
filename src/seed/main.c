/* SPDX-License-Identifier: MIT */
/* gossip-seed: the seed core (core/seed.h) run as a daemon. */
#include <stdio.h>
#include <stdlib.h>

#include "core/seed.h"
#include "io/clock.h"
#include "io/daemon.h"
#include "io/log.h"
#include "io/node.h"
#include "io/service.h"

static const char usage_text[] =
	"Usage: gossip-seed [OPTIONS] <ip> <port>\n"
	"       gossip-seed [OPTIONS] <port>    (address from the configuration)\n"
	"\n"
	"The seed daemon of the gossip network: a registry of live peers.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE           read FILE (libconfig); may be repeated, later\n"
	"                              files override earlier ones\n"
	"  -C, --config-optional FILE  the same, but skipped when FILE does not exist\n"
	"  -L, --log-dir DIR           write seed_<ip>_<port>.log in DIR (default:\n"
	"                              log_dir, else $LOGS_DIRECTORY, else .)\n"
	"  -d, --debug                 log debug messages to stderr\n"
	"  -n, --check-config          print the effective configuration and exit\n"
	"  -h, --help                  show this help and exit\n"
	"  -V, --version               show the version and exit\n"
	"\n"
	"Signals: SIGTERM/SIGINT stop, SIGHUP reopens the log file (log rotation) and\n"
	"reloads the configuration.\n";

static const char *const restart_settings[] = {SEED_RESTART_SETTINGS, NULL};

static const struct service_spec spec = {
	.name = "gossip-seed",
	.role = "seed",
	.usage = usage_text,
	.restart_settings = restart_settings,
};

struct seed_daemon {
	struct service sv;
	struct seed_node node;
	struct node_io io;
};

static struct link *
in_accept(void *core, void *io, const struct node_addr *remote, struct instant t)
{
	return seed_node_accept(core, io, remote, t);
}

static void
in_connected(void *core, struct link *lk, struct instant t)
{
	seed_node_connected(core, lk, t);
}

static int
in_frame(void *core, struct link *lk, const uint8_t *frame, size_t len, bool last_in_read,
	 struct instant t, const char **reason)
{
	return seed_node_frame(core, lk, frame, len, t, reason);
}

static void
in_closed(void *core, struct link *lk, const char *reason, int error, struct instant t)
{
	seed_node_closed(core, lk, reason, error, t);
}

static void
in_wakeup(void *core, enum wake_class cls, struct instant t)
{
	seed_node_wakeup(core, t);
}

static const struct node_inputs seed_inputs = {in_accept, in_connected, in_frame, in_closed,
					       in_wakeup, NULL, NULL};

static void
on_notice(void *ctx, enum notice what)
{
	struct seed_daemon *d = ctx;

	if (what == NOTICE_STATUS)
		daemon_notify("STATUS=seed %s: %zu peers registered, %u connections", d->sv.self_str,
			      d->node.registry.n, d->node.n_clients);
}

static void
on_accept(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct seed_daemon *d = ctx;
	struct node_addr remote = {0};

	if (sl)
		(void)node_addr_from_sockaddr((const struct sockaddr *)ss, &remote);
	node_io_accept(&d->io, fd, &remote);
}

static void
on_stop(void *ctx, int signo)
{
	struct seed_daemon *d = ctx;

	const struct seed_stats *st = &d->node.stats;
	uint64_t suppressed = d->node.events_log.total_suppressed +
			      d->node.remote_log.total_suppressed +
			      d->node.accept_log.total_suppressed + d->node.claims_log.total_suppressed;

	log_info("Seed %s stopping (signal %d): %zu peers registered; peer lists: %llu sent, %llu "
		 "encoded; refused: %llu connections over seed.max_connections, %llu over "
		 "seed.max_connections_per_host, %llu registrations over seed.max_peers_per_host, "
		 "%llu claims; closed: %llu idle, %llu not reading; %llu log lines suppressed",
		 d->sv.self_str, signo, d->node.registry.n, (unsigned long long)st->peer_lists_sent,
		 (unsigned long long)st->peer_lists_encoded,
		 (unsigned long long)st->connections_refused,
		 (unsigned long long)st->connections_refused_host,
		 (unsigned long long)st->registrations_refused_host,
		 (unsigned long long)st->claims_refused, (unsigned long long)st->idle_closed,
		 (unsigned long long)st->slow_closed, (unsigned long long)suppressed);
	daemon_notify("STOPPING=1");
	sd_event_exit(d->sv.event, 0);
}

static void
on_reload(void *ctx, const struct gossip_config *nc)
{
	struct seed_daemon *d = ctx;

	if (nc) {
		node_io_set_tls(&d->io, d->sv.tls);
		seed_node_reconfigure(&d->node, nc);
		log_info("configuration reloaded");
	}
	on_notice(d, NOTICE_STATUS);
}

int
main(int argc, char **argv)
{
	static struct seed_daemon d;
	struct rng rng;
	int r;

	if ((r = service_init(&d.sv, &spec, argc, argv)) >= 0)
		return r;
	service_open(&d.sv);
	d.sv.ctx = &d;
	d.sv.on_stop = on_stop;
	d.sv.on_reload = on_reload;
	rng_seed_random(&rng);
	node_io_init(&d.io, &d.sv.loop, &seed_inputs, &d.node, NULL, on_notice, &d);
	node_io_set_tls(&d.io, d.sv.tls);
	node_io_set_source(&d.io, &d.sv.self); /* probes come from the seed's own address */
	seed_node_init(&d.node, &d.sv.cfg, &d.sv.self, rng_next(&rng), &d.io.env);
	service_listen(&d.sv, on_accept, &d);
	seed_node_start(&d.node, instant_now());
	log_info("Seed listening on %s (log %s)", d.sv.self_str, d.sv.log_path);
	daemon_notify("READY=1");
	on_notice(&d, NOTICE_STATUS);
	r = service_run(&d.sv);
	seed_node_free(&d.node);
	node_io_done(&d.io);
	service_close(&d.sv);
	return r;
}
