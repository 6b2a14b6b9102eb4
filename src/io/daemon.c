/* SPDX-License-Identifier: MIT */
/* Daemon plumbing shared by gossip-seed and gossip-peer: sockets from systemd or bound here. */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "conffile.h"
#include "daemon.h"
#include "clock.h"
#include "log.h"

static int *inherited;
static int n_inherited;

int
daemon_fds_collect(void)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n <= 0)
		return n;
	inherited = xcalloc((size_t)n, sizeof(int));
	for (int i = 0; i < n; i++) {
		inherited[i] = SD_LISTEN_FDS_START + i;
		(void)fd_set_nonblock_cloexec(inherited[i]);
		free(names[i]);
	}
	free(names);
	n_inherited = n;
	return n;
}

static bool
inet_matches(int fd, const struct node_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct node_addr got;

	if (sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, addr->port) <= 0)
		return false;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    node_addr_from_sockaddr((struct sockaddr *)&ss, &got) < 0)
		return false;
	/* A wildcard listener serves any address on its port. */
	return node_addr_is_unspecified(&got) ||
	       (got.family == addr->family && node_addr_equal(&got, addr));
}

int
daemon_fds_take(const struct node_addr *addr)
{
	for (int i = 0; i < n_inherited; i++) {
		int fd = inherited[i];
		if (fd < 0)
			continue;
		if ((addr && inet_matches(fd, addr)) ||
		    (!addr && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)) {
			inherited[i] = -1;
			return fd;
		}
	}
	return -ENOENT;
}

int
daemon_fds_close_unused(void)
{
	int n = 0;
	for (int i = 0; i < n_inherited; i++) {
		if (inherited[i] >= 0) {
			close(inherited[i]);
			inherited[i] = -1;
			n++;
		}
	}
	free(inherited);
	inherited = NULL;
	n_inherited = 0;
	return n;
}

int
daemon_tcp_listen(const struct node_addr *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = node_addr_to_sockaddr(addr, &ss);
	int one = 1, fd, r;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int
daemon_unix_listen(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		/* A socket nobody accepts on is stale (a crashed predecessor); one in use is not ours. */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0) {
			bool live = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
			close(probe);
			if (live)
				return -EADDRINUSE;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (chmod(path, mode) < 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0))
		goto fail_unlink;
	if (listen(fd, 64) < 0)
		goto fail_unlink;
	return fd;
fail_unlink:
	r = -errno;
	unlink(path);
	close(fd);
	return r;
fail:
	r = -errno;
	close(fd);
	return r;
}

char *
daemon_log_dir(const struct gossip_config *c)
{
	const char *e;

	if (c->log_dir)
		return xstrdup(c->log_dir);
	if ((e = getenv("LOGS_DIRECTORY")) && *e) {
		char *p = xstrdup(e), *colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		return p;
	}
	return xstrdup(".");
}

void
daemon_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void
daemon_tune_malloc(void)
{
	const char *t = getenv("GLIBC_TUNABLES");

	if (t && strstr(t, "glibc.malloc."))
		return; /* the operator's own settings */
	/*
	 * glibc raises its mmap threshold each time a large block is freed, so
	 * after a burst's queues are given back the next ones come from the heap,
	 * where they stay: resident memory would ratchet up with every burst.
	 * A fixed threshold keeps large blocks in mappings that are returned
	 * to the system when freed.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, DAEMON_MMAP_THRESHOLD);
}

void
daemon_notify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)sd_notify(0, msg);
}

int
daemon_args_add_config(struct daemon_args *a, const char *path, bool optional)
{
	if (a->n_configs == DAEMON_MAX_CONFIG_FILES)
		return -E2BIG;
	a->configs[a->n_configs].path = path;
	a->configs[a->n_configs].optional = optional;
	a->n_configs++;
	return 0;
}

int
daemon_load_config(const struct daemon_args *a, bool need_seeds, struct gossip_config *ret)
{
	char err[CONF_ERR_LEN];
	struct gossip_config c;

	conf_init(&c);
	for (int i = 0; i < a->n_configs; i++) {
		int r;
		if (a->configs[i].optional && access(a->configs[i].path, F_OK) < 0 && errno == ENOENT)
			continue;
		r = conf_apply_file(&c, a->configs[i].path, err, sizeof(err));
		if (r < 0) {
			/* One journal entry per line keeps each file:line message readable. */
			for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
				log_error("%s", line);
			conf_free(&c);
			return -EINVAL;
		}
	}
	if (a->log_dir) {
		free(c.log_dir);
		c.log_dir = xstrdup(a->log_dir);
	}
	if (a->control_socket) {
		free(c.peer.control_socket);
		c.peer.control_socket = xstrdup(a->control_socket);
	}
	if (conf_validate(&c, need_seeds, err, sizeof(err)) < 0) {
		for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n"))
			log_error("%s", line);
		conf_free(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}
