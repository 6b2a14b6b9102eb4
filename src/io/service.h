/* SPDX-License-Identifier: MIT */
/* A daemon's skeleton, written once for seed and peer: command line, configuration, loop, signals. */
#ifndef GOSSIP_IO_SERVICE_H
#define GOSSIP_IO_SERVICE_H

#include <stdbool.h>

#include <systemd/sd-event.h>

#include "conn.h"
#include "daemon.h"
#include "listener.h"
#include "tls.h"
#include "core/config.h"
#include "core/util.h"

struct service_spec {
	const char *name; /* "gossip-peer" */
	const char *role; /* "peer": GOSSIP_ROLE, and the log file's name */
	const char *usage; /* the --help text */
	/* The peer's command line: -s PATH, a config_file after <ip> <port>, seeds required. */
	bool peer;
	const char *const *restart_settings; /* bound at start; NULL-terminated */
};

struct service {
	const struct service_spec *spec;
	struct daemon_args args;
	const char *ip, *port;
	struct gossip_config cfg;
	struct node_addr self;
	char self_str[NODE_ADDR_STRLEN];
	char self_ip[NODE_ADDR_STRLEN];
	char *log_dir;
	char *log_path;
	sd_event *event;
	struct conn_loop loop;
	int listen_fd;
	struct listener listener;
	/*
	 * A socket systemd passed may listen on every address of the port (the
	 * unit cannot read gossip.conf): connections to another address than
	 * the node's own are then refused here, before on_accept.
	 */
	bool local_filter;
	void (*on_accept)(void *ctx, int fd, const struct sockaddr_storage *ss, socklen_t sl);
	void *accept_ctx;
	struct ratelimit local_log;
	struct tls_ctx *tls; /* the loaded tls.* settings; NULL with tls.mode off */
	struct resolver *resolver; /* the peer's name lookups on the loop (io/resolve.h) */
	struct gossip_config reload_cfg; /* a reload waiting for its seeds' names */
	struct seed_lookup *reload_lookup;

	/* The program's part, set before service_run(). */
	void *ctx;
	/* SIGTERM or SIGINT. */
	void (*on_stop)(void *ctx, int signo);
	/*
	 * SIGHUP: nc is the new configuration, settings bound at start already
	 * kept at their running values and the peer's seeds given by name
	 * resolved (off the loop, before this); it becomes sv->cfg once this returns,
	 * and sv->tls is already its TLS configuration (new connections use it;
	 * established ones keep theirs). NULL when the files were rejected (the
	 * running configuration stays).
	 */
	void (*on_reload)(void *ctx, const struct gossip_config *nc);
	/*
	 * SIGHUP, before the configuration is read again: the log file was
	 * reopened; the program reopens its own files (log rotation). NULL: none.
	 */
	void (*on_reopen)(void *ctx);
};

/*
 * The command line, the configuration (-n prints it), the address, the log
 * file. Returns -1 when the daemon is to go on, else the status to exit with.
 */
int service_init(struct service *sv, const struct service_spec *spec, int argc, char **argv);
/* The event loop, signal handling, watchdog and connection loop. */
void service_open(struct service *sv);
/*
 * The node's listening socket, passed by systemd or bound here, watched
 * with on_accept (which owns each fd it is given). Sockets systemd passed
 * that nobody took are closed by service_run().
 */
void service_listen(struct service *sv,
		    void (*on_accept)(void *ctx, int fd, const struct sockaddr_storage *ss,
				      socklen_t sl),
		    void *ctx);
/* Runs the loop until sd_event_exit(); the exit status. */
int service_run(struct service *sv);
void service_close(struct service *sv);

#endif
