/* SPDX-License-Identifier: MIT */
/* Daemon plumbing shared by gossip-seed and gossip-peer: sockets from systemd or bound here. */
#ifndef GOSSIP_DAEMON_H
#define GOSSIP_DAEMON_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/config.h"
#include "core/util.h"

/*
 * Takes the listening sockets passed by systemd (socket activation) with
 * sd_listen_fds_with_names(). Returns how many, or -errno.
 */
int daemon_fds_collect(void);
/*
 * Hands out an inherited listening socket: a TCP one matching addr (any
 * address on addr's port when bound to the wildcard), or, with addr NULL,
 * an AF_UNIX stream socket. Returns the fd, or -ENOENT.
 */
int daemon_fds_take(const struct node_addr *addr);
/* Closes inherited sockets nobody took; returns how many. */
int daemon_fds_close_unused(void);

/* A non-blocking, close-on-exec TCP listener on addr. fd or -errno. */
int daemon_tcp_listen(const struct node_addr *addr);
/*
 * A non-blocking AF_UNIX stream listener at path with mode; gid (or -1)
 * becomes the socket's group. A stale socket file is replaced; any other
 * file at path is an error (-EEXIST). fd or -errno.
 */
int daemon_unix_listen(const char *path, mode_t mode, gid_t gid);

/* The log directory: config log_dir, else $LOGS_DIRECTORY (first entry), else ".". malloc'd. */
char *daemon_log_dir(const struct gossip_config *c);

/* Raises RLIMIT_NOFILE's soft limit to the hard limit (many connections). */
void daemon_raise_nofile(void);
/* Blocks this large or larger are mapped on their own, and unmapped when freed. */
#define DAEMON_MMAP_THRESHOLD (128 * 1024)
/* Sets the allocator so memory freed after a burst goes back (unless GLIBC_TUNABLES sets it). */
void daemon_tune_malloc(void);

/* Command-line settings common to both daemons. */
#define DAEMON_MAX_CONFIG_FILES 4
struct daemon_args {
	struct {
		const char *path;
		bool optional; /* --config-optional: skipped when the file does not exist */
	} configs[DAEMON_MAX_CONFIG_FILES];
	int n_configs;
	const char *log_dir;
	const char *control_socket;
	const char *output_file; /* the peer's -o: where received messages are written */
	bool debug;
	bool check_config;
};

/* -E2BIG when there are already DAEMON_MAX_CONFIG_FILES. */
int daemon_args_add_config(struct daemon_args *a, const char *path, bool optional);

/*
 * Defaults, then every config file in order, then the command-line
 * overrides, then validation. Errors are logged ("file:line: message").
 * 0 with *ret filled, or -EINVAL.
 */
int daemon_load_config(const struct daemon_args *a, bool need_seeds, struct gossip_config *ret);

/* sd_notify wrapper that ignores a missing $NOTIFY_SOCKET. */
void daemon_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
