/* SPDX-License-Identifier: MIT */
/* Where control sockets live: shared by gossip-peer (to create) and gossipctl (to find). */
#ifndef GOSSIP_PATHS_H
#define GOSSIP_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

/*
 * Whether a runtime directory can be trusted with control sockets: owned by
 * root, by this process's user or by the user `gossip`, and writable by no
 * one else (a world-writable place such as /tmp lets anyone create
 * /tmp/gossip-<uid> first and put their own socket in it). 0, or -EPERM
 * with why filled in; -errno when it cannot be examined.
 */
#define PATHS_WHY_LEN 128
int paths_check_dir(const char *dir, char why[PATHS_WHY_LEN]);
/* Whether uid is root, this process's user or the user `gossip`. */
bool paths_trusted_uid(uid_t uid);

/* "<dir>/peer-<port>.sock" (malloc'd). */
char *paths_control_socket(const char *dir, uint16_t port);

#endif
