/* SPDX-License-Identifier: MIT */
/* gossip-peer: command line, configuration, readiness, signals and the event loop of the peer. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "paths.h"
#include "peer.h"

/* How long a leaving peer waits for its LEAVE frames to go out. */
#define LEAVE_TIMEOUT_USEC (USEC_PER_SEC)

struct options {
	struct daemon_args args;
	const char *ip, *port;
};

static const struct options *the_options;

static void
usage(FILE *out)
{
	fprintf(out,
		"Usage: gossip-peer [OPTIONS] <ip> <port> <config_file>\n"
		"       gossip-peer [OPTIONS] -c FILE [<ip>] <port>\n"
		"\n"
		"The peer daemon of the gossip network. config_file is a seed list (one\n"
		"IP:PORT per line) or a libconfig file (see gossip.conf(5)). Without <ip>,\n"
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
		"  -d, --debug                 log debug messages to stderr\n"
		"  -n, --check-config          print the effective configuration and exit\n"
		"  -h, --help                  show this help and exit\n"
		"  -V, --version               show the version and exit\n"
		"\n"
		"In a terminal, each line typed is broadcast; 'exit' stops reading input.\n"
		"Signals: SIGTERM/SIGINT leave the network and stop, SIGHUP reloads.\n");
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"config-optional", required_argument, NULL, 'C'},
		{"log-dir", required_argument, NULL, 'L'},
		{"control-socket", required_argument, NULL, 's'},
		{"debug", no_argument, NULL, 'd'},
		{"check-config", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch, npos;

	while ((ch = getopt_long(argc, argv, "c:C:L:s:dnhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
		case 'C':
			/* Keep a slot for the positional config_file. */
			if (o->args.n_configs == DAEMON_MAX_CONFIG_FILES - 1) {
				fprintf(stderr, "gossip-peer: at most %d configuration files\n",
					DAEMON_MAX_CONFIG_FILES - 1);
				return 2;
			}
			daemon_args_add_config(&o->args, optarg, ch == 'C');
			break;
		case 'L':
			o->args.log_dir = optarg;
			break;
		case 's':
			o->args.control_socket = optarg;
			break;
		case 'd':
			o->args.debug = true;
			break;
		case 'n':
			o->args.check_config = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("gossip-peer %s\n", GOSSIP_VERSION);
			exit(EXIT_SUCCESS);
		default:
			fprintf(stderr, "Try 'gossip-peer --help'.\n");
			return 2;
		}
	}
	npos = argc - optind;
	if (npos == 3) {
		o->ip = argv[optind];
		o->port = argv[optind + 1];
		daemon_args_add_config(&o->args, argv[optind + 2], false);
		return 0;
	}
	if (npos == 2 && o->args.n_configs > 0) {
		o->ip = argv[optind];
		o->port = argv[optind + 1];
		return 0;
	}
	if (npos == 1 && o->args.n_configs > 0) {
		/* The address comes from the configuration (systemd units pass the port). */
		o->port = argv[optind];
		return 0;
	}
	if (npos == 1 && o->args.check_config) {
		daemon_args_add_config(&o->args, argv[optind], false); /* --check-config FILE */
		return 0;
	}
	if (npos == 0 && o->args.check_config)
		return 0;
	fprintf(stderr, "gossip-peer: expected <ip> <port> <config_file>\n");
	usage(stderr);
	return 2;
}

/* The STATUS= last sent; cleared when something else was shown meanwhile (a reload). */
static char last_status[256];

void
peer_update_status(struct peer *p)
{
	char now[256];

	snprintf(now, sizeof(now),
		 "STATUS=%s: registered with %u/%u seeds, %u neighbours, %llu messages received, "
		 "%llu sent",
		 p->state == PEER_REGISTERING ? "registering" : p->state == PEER_READY ? "ready" : "leaving",
		 seeds_registered(p), p->n_seeds, p->n_neighbours,
		 (unsigned long long)p->stats.messages_received,
		 (unsigned long long)p->stats.messages_sent);
	/* Only changes go to systemd: a busy peer would otherwise notify per message. */
	if (strcmp(now, last_status) == 0)
		return;
	memcpy(last_status, now, sizeof(last_status));
	daemon_notify("%s", now);
}

void
peer_check_ready(struct peer *p)
{
	if (p->state != PEER_REGISTERING || seeds_registered(p) < p->seeds_required)
		return;
	struct log_fields f = {.event = "ready", .sd_id = GOSSIP_SD_ID_READY};
	p->state = PEER_READY;
	log_event(LOG_INFO, &f, "Peer %s ready: registered with %u of %u seeds, %zu peers known",
		  p->self_str, seeds_registered(p), p->n_seeds, p->known.n);
	daemon_notify("READY=1");
	peer_update_status(p);
}

void
peer_log_conn_error(struct peer *p, struct conn *c, const char *what, const char *reason, int error)
{
	if (error == EBADMSG) {
		p->stats.malformed_frames++;
		log_warn("closing %s connection %s: malformed frame: %s", what, c->desc, reason);
	} else if (error == ETIMEDOUT) {
		log_info("closing %s connection %s: %s", what, c->desc, reason);
	} else {
		log_debug("%s connection %s: %s: %s", what, c->desc, reason, strerror(error));
	}
}

void
peer_health_changed(struct peer *p, uint32_t was, const char *why)
{
	if (p->health.score > was)
		p->stats.local_health_raises++;
	if (!was && p->health.score)
		log_notice("this host is slow: %s; ping timeouts are lengthened until it is not", why);
	else if (was && !p->health.score)
		log_info("this host keeps time again; ping timeouts are back to %.3f s",
			 (double)p->live.timeout_usec / 1e6);
}

/* The end of each loop iteration: the log and output lines it produced are written. */
static void
flush_files(void *userdata)
{
	log_flush();
	gossip_flush_output(userdata);
}

/*
 * A tick with no frame in or out after one with some: the burst is over, and
 * the memory its queues and buffers left free in the heap goes back to the
 * system (glibc keeps it otherwise, and resident memory would stay at the
 * burst's high-water mark).
 */
static void
trim_when_quiet(struct peer *p)
{
	uint64_t mark = p->stats.gossip_frames_received + p->stats.gossip_frames_sent +
			p->stats.ihave_frames_sent + p->stats.ihave_ids_received;

	if (mark != p->trim_mark) {
		p->trim_mark = mark;
		p->trim_due = true;
	} else if (p->trim_due) {
		p->trim_due = false;
		(void)malloc_trim(0);
	}
}

static int
on_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct peer *p = userdata;
	uint64_t now = now_monotonic_usec(), lag = now > usec ? now - usec : 0;
	uint32_t was = p->health.score;

	if (local_health_tick(&p->health, lag, &p->live)) {
		char why[64];
		snprintf(why, sizeof(why), "a timer ran %.3f s late", (double)lag / 1e6);
		peer_health_changed(p, was, why);
	}
	neighbours_tick(p, now);
	tree_tick(p, now);
	gossip_tick(p, now);
	seeds_tick(p, now);
	seen_cache_expire(&p->seen, now);
	trim_when_quiet(p);
	peer_update_status(p);
	sd_event_source_set_time_relative(src, p->cfg.peer.ping_interval_usec);
	sd_event_source_set_enabled(src, SD_EVENT_ON);
	return 0;
}

static void
finish_leave(struct peer *p)
{
	log_info("Peer %s stopped", p->self_str);
	sd_event_exit(p->event, 0);
}

static int
on_leave_timeout(sd_event_source *src, uint64_t usec, void *userdata)
{
	finish_leave(userdata);
	return 0;
}

/* Runs after every loop iteration while leaving: done once every LEAVE is out. */
static int
on_leave_check(sd_event_source *src, void *userdata)
{
	struct peer *p = userdata;
	bool seeds_done = true;

	for (uint32_t i = 0; i < p->n_seeds; i++)
		if (p->seeds[i].conn)
			seeds_done = false;
	if (seeds_done && neighbours_all_flushed(p)) {
		sd_event_source_set_enabled(src, SD_EVENT_OFF);
		finish_leave(p);
	}
	return 0;
}

static int
on_sigterm(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct peer *p = userdata;

	if (p->state == PEER_LEAVING)
		return 0;
	log_info("Peer %s leaving the network (signal %u)", p->self_str, si->ssi_signo);
	daemon_notify("STOPPING=1");
	p->state = PEER_LEAVING;
	peer_update_status(p);
	p->listen_src = sd_event_source_disable_unref(p->listen_src);
	seeds_leave(p);
	neighbours_leave(p);
	sd_event_add_time_relative(p->event, &p->leave_timer, CLOCK_MONOTONIC, LEAVE_TIMEOUT_USEC,
				   1000, on_leave_timeout, p);
	sd_event_add_post(p->event, &p->leave_check, on_leave_check, p);
	return 0;
}

static int
on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	/* Sized or bound at start: the cache, history, files, socket and address. */
	static const char *const restart_settings[] = {
		"peer.seen_cache_size", "peer.history", "log_dir", "address",
		"peer.control_socket", "peer.control_group", NULL,
	};
	struct peer *p = userdata;
	struct gossip_config nc;
	char changed[256];

	daemon_notify("RELOADING=1\nSTATUS=reloading configuration");
	last_status[0] = '\0';
	if (daemon_load_config(&the_options->args, true, &nc) < 0) {
		log_error("reload failed; keeping the previous configuration");
		daemon_notify("READY=1");
		peer_update_status(p);
		return 0;
	}
	if (conf_keep(&nc, &p->cfg, restart_settings, changed, sizeof(changed)))
		log_warn("reload: %s changed; the new value takes effect at the next restart", changed);
	conf_free(&p->cfg);
	p->cfg = nc;
	p->seen.max_age_usec = p->cfg.peer.seen_cache_age_usec;
	neighbours_start(p);
	for (struct neighbour *nb = p->neighbours; nb; nb = nb->next)
		if (nb->conn)
			nb->conn->queue_limit = p->cfg.peer.send_queue_limit;
	tree_reconfigure(p);
	seeds_reconfigure(p);
	neighbours_maintain(p);
	log_info("configuration reloaded: degree %u, ping every %.3f s, %u misses, %s", p->cfg.peer.degree,
		 (double)p->cfg.peer.ping_interval_usec / 1e6, p->cfg.peer.ping_misses,
		 p->cfg.peer.lazy_push ? "broadcast tree" : "flooding");
	daemon_notify("READY=1");
	peer_update_status(p);
	return 0;
}

static void
setup_paths(struct peer *p)
{
	char *log_dir = daemon_log_dir(&p->cfg);

	if (asprintf(&p->log_path, "%s/peer_%s_%u.log", log_dir, p->self_ip, p->self.port) < 0 ||
	    asprintf(&p->output_path, "%s/output.txt", log_dir) < 0)
		abort();
	free(log_dir);
	if (p->cfg.peer.control_socket) {
		p->ctl_path = xstrdup(p->cfg.peer.control_socket);
	} else {
		char *dir = paths_default_runtime_dir();
		p->ctl_path = paths_control_socket(dir, p->self.port);
		free(dir);
	}
}

int
main(int argc, char **argv)
{
	struct options o = {0};
	struct peer p = {.listen_fd = -1, .ctl_fd = -1, .output_fd = -1};
	sigset_t mask;
	int r;

	log_init("gossip-peer", LOG_INFO, LOG_TARGET_AUTO);
	r = parse_options(argc, argv, &o);
	if (r)
		return r;
	if (o.args.debug)
		log_init("gossip-peer", LOG_DEBUG, LOG_TARGET_STDERR);
	the_options = &o;
	if (daemon_load_config(&o.args, true, &p.cfg) < 0)
		return EXIT_FAILURE;
	if (o.args.check_config) {
		conf_print(&p.cfg, stdout);
		conf_free(&p.cfg);
		return EXIT_SUCCESS;
	}
	if (!o.ip)
		o.ip = p.cfg.address ? p.cfg.address : "127.0.0.1";
	if (node_addr_from_parts(o.ip, o.port, &p.self) < 0) {
		fprintf(stderr, "gossip-peer: invalid address %s %s (expected an IPv4/IPv6 address and "
				"a port 1-65535)\n", o.ip, o.port);
		conf_free(&p.cfg);
		return 2;
	}
	if (node_addr_is_unspecified(&p.self)) {
		fprintf(stderr, "gossip-peer: %s is not an address other peers can reach; give the "
				"address to advertise\n", o.ip);
		conf_free(&p.cfg);
		return 2;
	}
	node_addr_str(&p.self, p.self_str);
	node_addr_ip_str(&p.self, p.self_ip);
	log_set_node(p.self_str, "peer");
	setup_paths(&p);
	if ((r = log_open_file(p.log_path)) < 0)
		fatal("cannot open log file %s: %s", p.log_path, strerror(-r));

	rng_seed_random(&p.rng);
	p.incarnation = rng_next(&p.rng);
	p.started_at = now_monotonic_usec();
	daemon_raise_nofile();
	daemon_tune_malloc();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	if ((r = sd_event_new(&p.event)) < 0)
		fatal("cannot create event loop: %s", strerror(-r));
	if ((r = conn_loop_init(&p.loop, p.event)) < 0)
		fatal("cannot set up connections: %s", strerror(-r));
	p.loop.after_flush = flush_files;
	p.loop.after_flush_ctx = &p;
	sd_event_add_signal(p.event, NULL, SIGTERM, on_sigterm, &p);
	sd_event_add_signal(p.event, NULL, SIGINT, on_sigterm, &p);
	sd_event_add_signal(p.event, NULL, SIGHUP, on_sighup, &p);
	sd_event_set_watchdog(p.event, 1);

	if ((r = gossip_init(&p)) < 0)
		fatal("cannot open %s: %s", p.output_path, strerror(-r));
	/* A busy peer writes a line per message to two files: one write per loop iteration. */
	log_set_buffered(true);
	if (daemon_fds_collect() < 0)
		log_warn("ignoring malformed socket activation environment");
	p.listen_fd = daemon_fds_take(&p.self);
	if (p.listen_fd >= 0)
		log_info("using the listening socket passed by systemd for %s", p.self_str);
	else if ((p.listen_fd = daemon_tcp_listen(&p.self)) < 0)
		fatal("cannot listen on %s: %s", p.self_str, strerror(-p.listen_fd));
	if (control_start(&p) < 0)
		fatal("cannot start the control socket %s", p.ctl_path);
	if ((r = daemon_fds_close_unused()) > 0)
		log_warn("closed %d unexpected socket(s) passed by systemd", r);
	if ((r = sd_event_add_io(p.event, &p.listen_src, p.listen_fd, EPOLLIN, neighbours_accept, &p)) < 0)
		fatal("cannot watch the listening socket: %s", strerror(-r));

	neighbours_start(&p);
	seeds_init(&p);
	seeds_start(&p);
	/* The first tick is jittered so peers started together do not ping in lockstep. */
	sd_event_add_time_relative(p.event, &p.tick_timer, CLOCK_MONOTONIC,
				   rng_below(&p.rng, p.cfg.peer.ping_interval_usec) + 1, 1000, on_tick, &p);
	log_info("Peer %s listening; registering with %u of %u seeds (log %s, control %s)",
		 p.self_str, p.seeds_required, p.n_seeds, p.log_path, p.ctl_path);
	peer_update_status(&p);
	gossip_stdin_start(&p);

	r = sd_event_loop(p.event);

	p.state = PEER_LEAVING;
	control_stop(&p);
	seeds_free(&p);
	neighbours_free(&p);
	gossip_free(&p);
	p.tick_timer = sd_event_source_disable_unref(p.tick_timer);
	p.leave_timer = sd_event_source_disable_unref(p.leave_timer);
	p.leave_check = sd_event_source_disable_unref(p.leave_check);
	p.listen_src = sd_event_source_disable_unref(p.listen_src);
	if (p.listen_fd >= 0)
		close(p.listen_fd);
	conn_loop_done(&p.loop);
	sd_event_unref(p.event);
	conf_free(&p.cfg);
	log_close_file();
	free(p.log_path);
	free(p.output_path);
	free(p.ctl_path);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
