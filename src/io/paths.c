/* SPDX-License-Identifier: MIT */
/* Where control sockets live: shared by gossip-peer (to create) and gossipctl (to find). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

char *
paths_control_socket(const char *dir, uint16_t port)
{
	char *p;
	if (asprintf(&p, "%s/peer-%u.sock", dir, port) < 0)
		abort();
	return p;
}
