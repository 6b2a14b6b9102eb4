/* SPDX-License-Identifier: MIT */
/* Logging: one printf-checked API, journal or stderr backend, plus the per-node log file. */
#ifndef GOSSIP_LOG_H
#define GOSSIP_LOG_H

#include <stdbool.h>
#include <stdlib.h>
#include <syslog.h>

#include "core/env.h"

enum log_target {
	LOG_TARGET_AUTO,   /* journal when stderr is connected to it, else stderr */
	LOG_TARGET_STDERR,
	LOG_TARGET_JOURNAL,
};

/* ident: program name; max_prio: LOG_INFO or LOG_DEBUG. */
void log_init(const char *ident, int max_prio, enum log_target target);
/* GOSSIP_NODE and GOSSIP_ROLE on every journal entry. */
void log_set_node(const char *node, const char *role);
/* The per-node log file ("[YYYY-MM-DD HH:MM:SS] message" lines). 0 or -errno. */
int log_open_file(const char *path);
/*
 * Opens the log file's path again (after log rotation renamed it): 0, or
 * -errno with the file that was open kept. 0 when there is no log file.
 */
int log_reopen_file(void);
void log_close_file(void);
/*
 * Buffered: stderr and log file lines of one event-loop iteration are
 * written together by log_flush(), which the daemon calls at its end;
 * warnings and errors are still written at once.
 */
void log_set_buffered(bool buffered);
void log_flush(void);
bool log_to_journal(void);
void log_set_max_prio(int max_prio);
bool log_enabled(int prio);

void log_emit(int prio, const char *file, int line, const char *func, const struct log_fields *f,
	      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A line for the log file alone: not to the journal or standard error. */
void log_file_only(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_emit(LOG_ERR, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_WARNING, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_notice(...) log_emit(LOG_NOTICE, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_info(...) log_emit(LOG_INFO, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_enabled(LOG_DEBUG))                                                        \
			log_emit(LOG_DEBUG, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__);      \
	} while (0)
#define log_event(prio, fields, ...) log_emit(prio, __FILE__, __LINE__, __func__, fields, __VA_ARGS__)

/* Failed setup before the daemon is ready: log and exit(1). */
#define fatal(...)                                                                                 \
	do {                                                                                       \
		log_emit(LOG_ERR, __FILE__, __LINE__, __func__, NULL, __VA_ARGS__);                \
		exit(EXIT_FAILURE);                                                                \
	} while (0)

#endif
