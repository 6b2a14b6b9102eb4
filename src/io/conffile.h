/* SPDX-License-Identifier: MIT */
/* Configuration files: libconfig files and prototype seed lists read into a config, and printed. */
#ifndef GOSSIP_IO_CONFFILE_H
#define GOSSIP_IO_CONFFILE_H

#include <stdio.h>

#include "core/config.h"

/*
 * Applies the file at path over *c: a libconfig file or, when its first
 * line (not blank, not a comment) is not a libconfig setting, a prototype
 * seed list (HOST:PORT per line). Host names are kept, not resolved.
 * On error returns -EINVAL (or -errno when unreadable) with one
 * "file:line: message" per line in err; *c is left unchanged.
 */
int conf_apply_file(struct gossip_config *c, const char *path, char *err, size_t errlen);

/* Prints the effective configuration in libconfig syntax. */
void conf_print(const struct gossip_config *c, FILE *out);

#endif
