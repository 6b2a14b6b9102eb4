/* SPDX-License-Identifier: MIT */
/* Where control sockets live: shared by gossip-peer (to create) and gossipctl (to find). */
#ifndef GOSSIP_PATHS_H
#define GOSSIP_PATHS_H

#include <stddef.h>
#include <stdint.h>

#define PATHS_MAX_DIRS 4

/*
 * The runtime directories in search order, each malloc'd: $RUNTIME_DIRECTORY
 * (set by systemd), $GOSSIP_RUNTIME_DIR, /run/gossip, $XDG_RUNTIME_DIR/gossip,
 * /tmp/gossip-<uid>. The daemon uses the first that applies to it; gossipctl
 * looks in all. Returns the count.
 */
size_t paths_runtime_dirs(char *ret[PATHS_MAX_DIRS + 1]);
void paths_free(char **dirs, size_t n);

/* The directory a peer creates its socket in when none is configured (malloc'd). */
char *paths_default_runtime_dir(void);

/* "<dir>/peer-<port>.sock" (malloc'd). */
char *paths_control_socket(const char *dir, uint16_t port);

#endif
