/* SPDX-License-Identifier: MIT */
/* A daemon's skeleton, written once for seed and peer: command line, configuration, loop, signals. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conffile.h"
#include "log.h"
#include "resolve.h"
#include "service.h"

/* The positional arguments: <ip> <port>, <port>, and the peer's config_file. */
static int
parse_positional(struct service *sv, int npos, char **pos)
{
	bool peer = sv->spec->peer, configs = sv->args.n_configs > 0;

	if (peer && npos == 3) {
		daemon_args_add_config(&sv->args, pos[2], false);
		npos = 2;
	} else if (peer && npos == 2 && !configs) {
		npos = -1; /* a peer needs its seeds from somewhere */
	} else if (peer && npos == 1 && !configs && sv->args.check_config) {
		daemon_args_add_config(&sv->args, pos[0], false); /* --check-config FILE */
		return 0;
	} else if (peer && npos == 1 && !configs) {
		npos = -1;
	}
	switch (npos) {
	case 2:
		sv->ip = pos[0];
		sv->port = pos[1];
		return 0;
	case 1: /* the address comes from the configuration (systemd units pass the port) */
		sv->port = pos[0];
		return 0;
	case 0:
		if (sv->args.check_config)
			return 0;
		/* fall through */
	default:
		fprintf(stderr, "%s: expected <ip> <port>%s\n", sv->spec->name,
			peer ? " <config_file>" : "");
		fputs(sv->spec->usage, stderr);
		return 2;
	}
}

static int
parse_options(struct service *sv, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"config-optional", required_argument, NULL, 'C'},
		{"log-dir", required_argument, NULL, 'L'},
		{"control-socket", required_argument, NULL, 's'},
		{"output", required_argument, NULL, 'o'},
		{"debug", no_argument, NULL, 'd'},
		{"check-config", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	/* The peer keeps a slot for its positional config_file. */
	int max_configs = DAEMON_MAX_CONFIG_FILES - (sv->spec->peer ? 1 : 0), ch;
	const char *optstring = sv->spec->peer ? "c:C:L:s:o:dnhV" : "c:C:L:dnhV";

	while ((ch = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
		case 'C':
			if (sv->args.n_configs == max_configs) {
				fprintf(stderr, "%s: at most %d configuration files\n", sv->spec->name,
					max_configs);
				return 2;
			}
			daemon_args_add_config(&sv->args, optarg, ch == 'C');
			break;
		case 'L':
			sv->args.log_dir = optarg;
			break;
		case 's':
			sv->args.control_socket = optarg;
			break;
		case 'o':
			sv->args.output_file = optarg;
			break;
		case 'd':
			sv->args.debug = true;
			break;
		case 'n':
			sv->args.check_config = true;
			break;
		case 'h':
			fputs(sv->spec->usage, stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("%s %s\n", sv->spec->name, GOSSIP_VERSION);
			exit(EXIT_SUCCESS);
		default:
			fprintf(stderr, "Try '%s --help'.\n", sv->spec->name);
			return 2;
		}
	}
	return parse_positional(sv, argc - optind, argv + optind);
}

/* Logs each line of err as an error. */
static void
log_error_lines(char *err)
{
	for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
		log_error("%s", line);
}

/*
 * The advertised address, and the peer's seeds given by name, resolved
 * (the loop does not run yet): 0, or the exit status.
 */
static int
resolve_self(struct service *sv)
{
	const char *name = sv->spec->name;
	char err[CONF_ERR_LEN];

	if (!sv->ip)
		sv->ip = sv->cfg.address ? sv->cfg.address : "127.0.0.1";
	if (resolve_self_now(sv->ip, sv->port, &sv->self, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: invalid address %s %s: %s\n", name, sv->ip, sv->port, err);
		return 2;
	}
	if (sv->spec->peer && resolve_seeds_now(&sv->cfg, sv->self.family, err, sizeof(err)) < 0) {
		log_error_lines(err);
		return EXIT_FAILURE;
	}
	if (sv->spec->peer && node_addr_is_unspecified(&sv->self)) {
		fprintf(stderr, "%s: %s is not an address other peers can reach; give the address "
				"to advertise\n", name, sv->ip);
		return 2;
	}
	node_addr_str(&sv->self, sv->self_str);
	node_addr_ip_str(&sv->self, sv->self_ip);
	return 0;
}

/* tls.* of c: 0 with *ret (NULL when TLS is off), or -EINVAL with the errors logged. */
static int
load_tls(const struct service *sv, const struct gossip_config *c, struct tls_ctx **ret)
{
	char err[CONF_ERR_LEN];

	*ret = NULL;
	if (conf_tls_mode(c) == TLS_MODE_OFF)
		return 0;
	if (tls_ctx_load(c, &sv->self, ret, err, sizeof(err)) == 0)
		return 0;
	log_error_lines(err);
	return -EINVAL;
}

/* The first lines of the log: what the node's connections are protected by. */
static void
log_security(const struct service *sv)
{
	const struct identity *id;
	double days;

	if (!sv->tls) {
		if (sv->cfg.tls.mode)
			log_notice("tls.mode is off: connections between nodes are plaintext, and any "
				   "host that reaches this port can join, inject and forge messages");
		else
			log_warn("running without TLS (no tls settings): connections between nodes are "
				 "plaintext, and any host that reaches this port can join, inject and "
				 "forge messages; see gossip-cert(8) and tls in gossip.conf(5)");
		return;
	}
	id = tls_ctx_identity(sv->tls);
	days = tls_ctx_days_left(sv->tls, now_realtime_usec());
	log_info("TLS %s: certificate %s (%s), %.0f days left", tls_mode_name(tls_ctx_mode(sv->tls)),
		 id->name, sv->cfg.tls.cert_file, days);
	if (days < 30)
		log_warn("the certificate %s expires in %.1f days: issue a new one (gossip-cert issue) "
			 "and reload", sv->cfg.tls.cert_file, days);
}

int
service_init(struct service *sv, const struct service_spec *spec, int argc, char **argv)
{
	int r;

	memset(sv, 0, sizeof(*sv));
	sv->spec = spec;
	sv->listen_fd = -1;
	log_init(spec->name, LOG_INFO, LOG_TARGET_AUTO);
	if ((r = parse_options(sv, argc, argv)))
		return r;
	if (sv->args.debug)
		log_init(spec->name, LOG_DEBUG, LOG_TARGET_STDERR);
	if (daemon_load_config(&sv->args, spec->peer, &sv->cfg) < 0)
		return EXIT_FAILURE;
	if (sv->args.check_config) {
		conf_print(&sv->cfg, stdout);
		conf_free(&sv->cfg);
		return EXIT_SUCCESS;
	}
	if ((r = resolve_self(sv))) {
		conf_free(&sv->cfg);
		return r;
	}
	log_set_node(sv->self_str, spec->role);
	sv->log_dir = daemon_log_dir(&sv->cfg);
	if (asprintf(&sv->log_path, "%s/%s_%s_%u.log", sv->log_dir, spec->role, sv->self_ip,
		     sv->self.port) < 0)
		abort();
	if ((r = log_open_file(sv->log_path)) < 0)
		fatal("cannot open log file %s: %s", sv->log_path, strerror(-r));
	if (load_tls(sv, &sv->cfg, &sv->tls) < 0)
		return EXIT_FAILURE;
	log_security(sv);
	return -1;
}

static int
on_stop_signal(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct service *sv = userdata;

	sv->on_stop(sv->ctx, (int)si->ssi_signo);
	return 0;
}

static int
reload_failed(struct service *sv)
{
	log_error("reload failed; keeping the previous configuration");
	sv->on_reload(sv->ctx, NULL);
	daemon_notify("READY=1");
	return 0;
}

/* The reloaded configuration nc, its names resolved, made the running one. */
static void
reload_apply(struct service *sv, struct gossip_config *nc)
{
	struct tls_ctx *tls;
	char changed[256];

	if (load_tls(sv, nc, &tls) < 0) {
		conf_free(nc);
		reload_failed(sv);
		return;
	}
	if (conf_keep(nc, &sv->cfg, sv->spec->restart_settings, changed, sizeof(changed)))
		log_warn("reload: %s changed; the new value takes effect at the next restart", changed);
	tls_ctx_unref(sv->tls);
	sv->tls = tls;
	log_security(sv);
	sv->on_reload(sv->ctx, nc);
	conf_free(&sv->cfg);
	sv->cfg = *nc;
	memset(nc, 0, sizeof(*nc));
	daemon_notify("READY=1");
}

static void
reload_resolved(void *ctx, const char *err)
{
	struct service *sv = ctx;
	char lines[CONF_ERR_LEN];

	sv->reload_lookup = NULL;
	if (err[0]) {
		snprintf(lines, sizeof(lines), "%s", err);
		log_error_lines(lines);
		conf_free(&sv->reload_cfg);
		reload_failed(sv);
		return;
	}
	reload_apply(sv, &sv->reload_cfg);
}

/* Log rotation renamed the files: later lines go to new ones, at the same paths. */
static void
reopen_files(struct service *sv)
{
	int r = log_reopen_file();

	if (r < 0)
		log_error("cannot reopen the log file %s: %s; still writing to the file open before",
			  sv->log_path, strerror(-r));
	else
		log_info("Reopened the log file %s", sv->log_path);
	if (sv->on_reopen)
		sv->on_reopen(sv->ctx);
}

/*
 * SIGHUP: the log and output files are reopened, then the configuration is
 * read again; the seeds given by name are resolved before the new
 * configuration is applied: off the loop.
 */
static int
on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct service *sv = userdata;
	int r;

	daemon_notify("RELOADING=1\nSTATUS=reloading configuration");
	reopen_files(sv);
	if (sv->reload_lookup) {
		log_info("reload: reading the configuration again; the names of the last read are no "
			 "longer waited for");
		resolve_seeds_cancel(sv->resolver, sv->reload_lookup);
		sv->reload_lookup = NULL;
		conf_free(&sv->reload_cfg);
	}
	if (daemon_load_config(&sv->args, sv->spec->peer, &sv->reload_cfg) < 0)
		return reload_failed(sv);
	if (!sv->resolver) {
		reload_apply(sv, &sv->reload_cfg);
		return 0;
	}
	r = resolve_seeds_start(sv->resolver, &sv->reload_cfg, sv->self.family, reload_resolved, sv,
				&sv->reload_lookup);
	if (r < 0) {
		log_error("reload: cannot look the seeds' names up: %s", strerror(-r));
		conf_free(&sv->reload_cfg);
		return reload_failed(sv);
	}
	return 0;
}

void
service_open(struct service *sv)
{
	sigset_t mask;
	int r;

	daemon_raise_nofile();
	daemon_tune_malloc();
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((r = sd_event_new(&sv->event)) < 0)
		fatal("cannot create event loop: %s", strerror(-r));
	if ((r = conn_loop_init(&sv->loop, sv->event)) < 0)
		fatal("cannot set up connections: %s", strerror(-r));
	if (sd_event_add_signal(sv->event, NULL, SIGTERM, on_stop_signal, sv) < 0 ||
	    sd_event_add_signal(sv->event, NULL, SIGINT, on_stop_signal, sv) < 0 ||
	    sd_event_add_signal(sv->event, NULL, SIGHUP, on_sighup, sv) < 0)
		fatal("cannot handle signals");
	/* Pings the watchdog from the loop itself: a wedged loop gets us restarted. */
	sd_event_set_watchdog(sv->event, 1);
	if (daemon_fds_collect() < 0)
		log_warn("ignoring malformed socket activation environment");
	/* The peer's seeds given by name: looked up again at reload and at each lease refresh. */
	if (sv->spec->peer && (r = resolver_new(sv->event, &sv->resolver)) < 0)
		fatal("cannot set up name resolution: %s", strerror(-r));
}

/* A socket's local address (an IPv4-mapped IPv6 one as IPv4); -errno. */
static int
local_address(int fd, struct node_addr *ret)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	return node_addr_from_sockaddr((struct sockaddr *)&ss, ret);
}

/* The listener's callback when local_filter is on: the node's own address only. */
static void
accept_local(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl)
{
	struct service *sv = ctx;
	char note[RATELIMIT_NOTE_LEN], ls[NODE_ADDR_STRLEN], rs[NODE_ADDR_STRLEN] = "?";
	struct node_addr local, remote;

	if (local_address(fd, &local) < 0 || (local.family == sv->self.family &&
					      !memcmp(local.addr, sv->self.addr, sizeof(local.addr)))) {
		sv->on_accept(sv->accept_ctx, fd, ss, sl);
		return;
	}
	if (sl && node_addr_from_sockaddr((const struct sockaddr *)ss, &remote) == 0)
		node_addr_str(&remote, rs);
	if (ratelimit_pass_note(&sv->local_log, now_monotonic_usec(), note))
		log_warn("refusing connection from %s to %s: this node listens on %s only (address in "
			 "gossip.conf)%s", rs, node_addr_str(&local, ls), sv->self_str, note);
	close(fd);
}

void
service_listen(struct service *sv,
	       void (*on_accept)(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl),
	       void *ctx)
{
	struct node_addr bound;
	int r;

	sv->on_accept = on_accept;
	sv->accept_ctx = ctx;
	sv->listen_fd = daemon_fds_take(&sv->self);
	if (sv->listen_fd >= 0) {
		/* systemd's socket may listen on every address; the node answers on its own. */
		sv->local_filter = !node_addr_is_unspecified(&sv->self) &&
				   local_address(sv->listen_fd, &bound) == 0 &&
				   node_addr_is_unspecified(&bound);
		log_info("using the listening socket passed by systemd for %s%s", sv->self_str,
			 sv->local_filter ? "; it listens on every address: connections to others "
					    "are refused" : "");
	} else if ((sv->listen_fd = daemon_tcp_listen(&sv->self)) < 0) {
		fatal("cannot listen on %s: %s", sv->self_str, strerror(-sv->listen_fd));
	}
	r = listener_start(&sv->listener, sv->event, sv->listen_fd, 64, NULL,
			   sv->local_filter ? accept_local : on_accept, sv->local_filter ? sv : ctx);
	if (r < 0)
		fatal("cannot watch the listening socket: %s", strerror(-r));
}

int
service_run(struct service *sv)
{
	int r;

	if ((r = daemon_fds_close_unused()) > 0)
		log_warn("closed %d unexpected socket(s) passed by systemd", r);
	r = sd_event_loop(sv->event);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

void
service_close(struct service *sv)
{
	listener_stop(&sv->listener);
	if (sv->reload_lookup)
		resolve_seeds_cancel(sv->resolver, sv->reload_lookup);
	conf_free(&sv->reload_cfg);
	resolver_free(sv->resolver);
	sv->resolver = NULL;
	if (sv->listen_fd >= 0)
		close(sv->listen_fd);
	sv->listen_fd = -1;
	conn_loop_done(&sv->loop);
	sv->event = sd_event_unref(sv->event);
	tls_ctx_unref(sv->tls);
	sv->tls = NULL;
	conf_free(&sv->cfg);
	log_close_file();
	free(sv->log_path);
	free(sv->log_dir);
}
