/* SPDX-License-Identifier: MIT */
/* Where control sockets live: shared by gossip-peer (to create) and gossipctl (to find). */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"
#include "core/util.h"

static char *
xasprintf_path(const char *a, const char *b)
{
	char *p;
	if (asprintf(&p, "%s%s", a, b) < 0)
		abort();
	return p;
}

size_t
paths_runtime_dirs(char *ret[PATHS_MAX_DIRS + 1])
{
	const char *e;
	size_t n = 0;
	char tmp[64];

	/* systemd's RUNTIME_DIRECTORY may list several, colon-separated; take the first. */
	if ((e = getenv("RUNTIME_DIRECTORY")) && *e) {
		char *p = xstrdup(e), *colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		ret[n++] = p;
	}
	if ((e = getenv("GOSSIP_RUNTIME_DIR")) && *e)
		ret[n++] = xstrdup(e);
	ret[n++] = xstrdup("/run/gossip");
	if ((e = getenv("XDG_RUNTIME_DIR")) && *e && n < PATHS_MAX_DIRS)
		ret[n++] = xasprintf_path(e, "/gossip");
	snprintf(tmp, sizeof(tmp), "/tmp/gossip-%u", (unsigned)getuid());
	ret[n++] = xstrdup(tmp);
	return n;
}

void
paths_free(char **dirs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
}

char *
paths_default_runtime_dir(void)
{
	const char *e;
	char tmp[64];

	if ((e = getenv("RUNTIME_DIRECTORY")) && *e) {
		char *p = xstrdup(e), *colon = strchr(p, ':');
		if (colon)
			*colon = '\0';
		return p;
	}
	if ((e = getenv("GOSSIP_RUNTIME_DIR")) && *e)
		return xstrdup(e);
	if (geteuid() == 0)
		return xstrdup("/run/gossip");
	if ((e = getenv("XDG_RUNTIME_DIR")) && *e)
		return xasprintf_path(e, "/gossip");
	snprintf(tmp, sizeof(tmp), "/tmp/gossip-%u", (unsigned)getuid());
	return xstrdup(tmp);
}

bool
paths_trusted_uid(uid_t uid)
{
	struct passwd *pw;

	if (uid == 0 || uid == getuid() || uid == geteuid())
		return true;
	pw = getpwnam("gossip");
	return pw && pw->pw_uid == uid;
}

int
paths_check_dir(const char *dir, char why[PATHS_WHY_LEN])
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, PATHS_WHY_LEN, "not a directory");
		return -EPERM;
	}
	if (!paths_trusted_uid(st.st_uid)) {
		snprintf(why, PATHS_WHY_LEN, "owned by uid %u, not by root, uid %u or gossip",
			 (unsigned)st.st_uid, (unsigned)getuid());
		return -EPERM;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(why, PATHS_WHY_LEN, "writable by anyone (mode %04o)",
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

char *
paths_control_socket(const char *dir, uint16_t port)
{
	char *p;
	if (asprintf(&p, "%s/peer-%u.sock", dir, port) < 0)
		abort();
	return p;
}
