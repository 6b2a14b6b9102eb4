/* SPDX-License-Identifier: MIT */
/* Logging: one printf-checked API, journal or stderr backend, plus the per-node log file. */
#ifndef GOSSIP_LOG_H
#define GOSSIP_LOG_H

#include <stdbool.h>
#include <stdlib.h>
#include <syslog.h>

/* Structured fields attached to an event (journal fields GOSSIP_*, MESSAGE_ID). */
struct log_fields {
	const char *event;  /* GOSSIP_EVENT: registered, removed, received, sent, dead, ... */
	const char *msg_id; /* GOSSIP_MSG_ID: sha256 hex */
	const char *origin; /* GOSSIP_ORIGIN: ip:port */
	const char *remote; /* GOSSIP_REMOTE: ip:port */
	const char *sd_id;  /* MESSAGE_ID: 32 hex digits, for catalogued events */
};

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

/* MESSAGE_ID values of catalogued events (see the journal catalog). */
#define GOSSIP_SD_ID_PEER_REGISTERED "5b1d0a3e8c7f4e2a9d6b1c0f3a7e5d21"
#define GOSSIP_SD_ID_PEER_REMOVED "8e2f6c1a4b9d4f7e8a3c5b2d1e0f9a42"
#define GOSSIP_SD_ID_DEAD_NODE "c3a94f0e7b2d48e1a6f5d9c8b7e2a163"
#define GOSSIP_SD_ID_RECEIVED "1f7e3b9a5c2d4e6f8a0b1c2d3e4f5a84"
#define GOSSIP_SD_ID_SENT "a6d2c8e4f0b14a3c9e7d5b3a1f0e8c95"
#define GOSSIP_SD_ID_READY "0d4b8f2a6e1c4d9b8f3a7e6c5d4b3a26"

#endif
