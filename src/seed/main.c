/* SPDX-License-Identifier: MIT */
/* gossip-seed: command line, configuration, signals and the event loop of the seed daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "log.h"
#include "seed.h"

static void
usage(FILE *out)
{
	fprintf(out,
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
		"Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration.\n");
}

struct options {
	struct daemon_args args;
	const char *ip, *port;
};

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"config-optional", required_argument, NULL, 'C'},
		{"log-dir", required_argument, NULL, 'L'},
		{"debug", no_argument, NULL, 'd'},
		{"check-config", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:C:L:dnhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
		case 'C':
			if (daemon_args_add_config(&o->args, optarg, ch == 'C') < 0) {
				fprintf(stderr, "gossip-seed: at most %d configuration files\n",
					DAEMON_MAX_CONFIG_FILES);
				return 2;
			}
			break;
		case 'L':
			o->args.log_dir = optarg;
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
			printf("gossip-seed %s\n", GOSSIP_VERSION);
			exit(EXIT_SUCCESS);
		default:
			fprintf(stderr, "Try 'gossip-seed --help'.\n");
			return 2;
		}
	}
	switch (argc - optind) {
	case 2:
		o->ip = argv[optind];
		o->port = argv[optind + 1];
		return 0;
	case 1: /* the address comes from the configuration (systemd units pass the port) */
		o->port = argv[optind];
		return 0;
	case 0:
		if (o->args.check_config)
			return 0;
		/* fall through */
	default:
		fprintf(stderr, "gossip-seed: expected <ip> <port>\n");
		usage(stderr);
		return 2;
	}
}

static const struct options *the_options;

static int
on_sigterm(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct seed *s = userdata;

	log_info("Seed %s stopping (signal %u)", s->self_str, si->ssi_signo);
	daemon_notify("STOPPING=1");
	sd_event_exit(s->event, 0);
	return 0;
}

static int
on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	static const char *const restart_settings[] = {"log_dir", "address", NULL};
	struct seed *s = userdata;
	struct gossip_config nc;
	char changed[256];

	daemon_notify("RELOADING=1\nSTATUS=reloading configuration");
	if (daemon_load_config(&the_options->args, false, &nc) < 0) {
		log_error("reload failed; keeping the previous configuration");
	} else {
		if (conf_keep(&nc, &s->cfg, restart_settings, changed, sizeof(changed)))
			log_warn("reload: %s changed; the new value takes effect at the next restart",
				 changed);
		conf_free(&s->cfg);
		s->cfg = nc;
		seed_apply_config(s);
		log_info("configuration reloaded");
	}
	daemon_notify("READY=1");
	seed_update_status(s);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o = {0};
	struct seed s = {.listen_fd = -1};
	char *log_dir, *log_path;
	sigset_t mask;
	int r;

	log_init("gossip-seed", LOG_INFO, LOG_TARGET_AUTO);
	r = parse_options(argc, argv, &o);
	if (r)
		return r;
	if (o.args.debug)
		log_init("gossip-seed", LOG_DEBUG, LOG_TARGET_STDERR);
	the_options = &o;
	if (daemon_load_config(&o.args, false, &s.cfg) < 0)
		return EXIT_FAILURE;
	if (o.args.check_config) {
		conf_print(&s.cfg, stdout);
		conf_free(&s.cfg);
		return EXIT_SUCCESS;
	}
	if (!o.ip)
		o.ip = s.cfg.address ? s.cfg.address : "127.0.0.1";
	if (node_addr_from_parts(o.ip, o.port, &s.self) < 0) {
		fprintf(stderr, "gossip-seed: invalid address %s %s (expected an IPv4/IPv6 address and "
				"a port 1-65535)\n", o.ip, o.port);
		conf_free(&s.cfg);
		return 2;
	}
	node_addr_str(&s.self, s.self_str);
	log_set_node(s.self_str, "seed");

	log_dir = daemon_log_dir(&s.cfg);
	if (asprintf(&log_path, "%s/seed_%s_%u.log", log_dir,
		     node_addr_ip_str(&s.self, (char[NODE_ADDR_STRLEN]){0}), s.self.port) < 0)
		abort();
	if ((r = log_open_file(log_path)) < 0)
		fatal("cannot open log file %s: %s", log_path, strerror(-r));

	rng_seed_random(&s.rng);
	s.incarnation = rng_next(&s.rng);
	daemon_raise_nofile();
	daemon_tune_malloc();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	if ((r = sd_event_new(&s.event)) < 0)
		fatal("cannot create event loop: %s", strerror(-r));
	if ((r = conn_loop_init(&s.loop, s.event)) < 0)
		fatal("cannot set up connections: %s", strerror(-r));
	sd_event_add_signal(s.event, NULL, SIGTERM, on_sigterm, &s);
	sd_event_add_signal(s.event, NULL, SIGINT, on_sigterm, &s);
	sd_event_add_signal(s.event, NULL, SIGHUP, on_sighup, &s);
	/* Pings the watchdog from the loop itself: a wedged loop gets us restarted. */
	sd_event_set_watchdog(s.event, 1);

	if (daemon_fds_collect() < 0)
		log_warn("ignoring malformed socket activation environment");
	s.listen_fd = daemon_fds_take(&s.self);
	if (s.listen_fd >= 0) {
		log_info("using the listening socket passed by systemd for %s", s.self_str);
	} else if ((s.listen_fd = daemon_tcp_listen(&s.self)) < 0) {
		fatal("cannot listen on %s: %s", s.self_str, strerror(-s.listen_fd));
	}
	if ((r = daemon_fds_close_unused()) > 0)
		log_warn("closed %d unexpected socket(s) passed by systemd", r);
	if ((r = seed_start(&s)) < 0)
		fatal("cannot start: %s", strerror(-r));

	log_info("Seed listening on %s (log %s)", s.self_str, log_path);
	daemon_notify("READY=1");
	seed_update_status(&s);
	r = sd_event_loop(s.event);

	seed_stop(&s);
	conn_loop_done(&s.loop);
	sd_event_unref(s.event);
	conf_free(&s.cfg);
	log_close_file();
	free(log_path);
	free(log_dir);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
