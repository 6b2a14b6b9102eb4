/* SPDX-License-Identifier: MIT */
/* Logging: one printf-checked API, journal or stderr backend, plus the per-node log file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "clock.h"
#include "log.h"
#include "sink.h"
#include "core/util.h"

static struct {
	const char *ident;
	int max_prio;
	bool journal;
	bool buffered;
	struct sink err;  /* stderr */
	struct sink file; /* the per-node log file */
	char *file_path;
	char node[NODE_ADDR_STRLEN];
	char role[8];
} log_state = {
	.ident = "gossip",
	.max_prio = LOG_INFO,
	.err = {.fd = STDERR_FILENO},
	.file = {.fd = -1},
};

/* systemd sets JOURNAL_STREAM=dev:ino when stderr is connected to the journal. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, int max_prio, enum log_target target)
{
	log_state.ident = ident;
	log_state.max_prio = max_prio;
	if (target == LOG_TARGET_AUTO)
		log_state.journal = stderr_is_journal();
	else
		log_state.journal = target == LOG_TARGET_JOURNAL;
}

void
log_set_max_prio(int max_prio)
{
	log_state.max_prio = max_prio;
}

bool
log_enabled(int prio)
{
	return prio <= log_state.max_prio;
}

bool
log_to_journal(void)
{
	return log_state.journal;
}

void
log_set_node(const char *node, const char *role)
{
	snprintf(log_state.node, sizeof(log_state.node), "%s", node);
	snprintf(log_state.role, sizeof(log_state.role), "%s", role);
}

int
log_open_file(const char *path)
{
	int fd = sink_open_append(path);
	if (fd < 0)
		return fd;
	log_close_file();
	sink_init(&log_state.file, fd);
	sink_set_buffered(&log_state.file, log_state.buffered);
	log_state.file_path = xstrdup(path);
	return 0;
}

int
log_reopen_file(void)
{
	if (!log_state.file_path)
		return 0;
	return sink_reopen(&log_state.file, log_state.file_path);
}

void
log_close_file(void)
{
	int fd = log_state.file.fd;

	(void)sink_flush(&log_state.err);
	sink_done(&log_state.file);
	if (fd >= 0)
		close(fd);
	free(log_state.file_path);
	log_state.file_path = NULL;
}

void
log_set_buffered(bool buffered)
{
	static bool registered;

	/* Whatever way the process exits, what is pending is written. */
	if (buffered && !registered)
		registered = atexit(log_flush) == 0;
	log_state.buffered = buffered;
	sink_set_buffered(&log_state.err, buffered);
	sink_set_buffered(&log_state.file, buffered);
}

void
log_flush(void)
{
	(void)sink_flush(&log_state.err);
	(void)sink_flush(&log_state.file);
}

static const char *
prio_prefix(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	}
	return "";
}

/* "[stamp] prefix msg": a failed write of a log line has nowhere to be reported. */
static void
write_line(struct sink *s, const char *stamp, const char *prefix, const char *msg, size_t msg_len)
{
	struct iovec iov[5] = {
		{(void *)"[", 1},
		{(void *)stamp, strlen(stamp)},
		{(void *)"] ", 2},
		{(void *)prefix, strlen(prefix)},
		{(void *)msg, msg_len},
	};
	(void)sink_line(s, iov, 5);
}

static void
journal_send(int prio, const char *file, int line, const char *func, const struct log_fields *f,
	     const char *msg)
{
	char *fields[10];
	struct iovec iov[10];
	int n = 0;
	char code_file[512], code_line[32];

#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (asprintf(&fields[n], __VA_ARGS__) >= 0) {                                      \
			iov[n].iov_base = fields[n];                                               \
			iov[n].iov_len = strlen(fields[n]);                                        \
			n++;                                                                       \
		}                                                                                  \
	} while (0)
	ADD("MESSAGE=%s", msg);
	ADD("PRIORITY=%d", prio);
	ADD("SYSLOG_IDENTIFIER=%s", log_state.ident);
	if (log_state.node[0])
		ADD("GOSSIP_NODE=%s", log_state.node);
	if (log_state.role[0])
		ADD("GOSSIP_ROLE=%s", log_state.role);
	if (f && f->event)
		ADD("GOSSIP_EVENT=%s", f->event);
	if (f && f->msg_id)
		ADD("GOSSIP_MSG_ID=%s", f->msg_id);
	if (f && f->origin)
		ADD("GOSSIP_ORIGIN=%s", f->origin);
	if (f && f->remote)
		ADD("GOSSIP_REMOTE=%s", f->remote);
	if (f && f->sd_id)
		ADD("MESSAGE_ID=%s", f->sd_id);
#undef ADD
	snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file);
	snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
	sd_journal_sendv_with_location(code_file, code_line, func, iov, n);
	for (int i = 0; i < n; i++)
		free(fields[i]);
}

/* One line: to the journal or stderr when console is set, and to the log file. */
static void
emit(int prio, bool console, const char *file, int line, const char *func,
     const struct log_fields *f, const char *fmt, va_list ap)
{
	char stack[1024], *msg = stack, stamp[32];
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	if (n >= 0 && (size_t)n >= sizeof(stack)) {
		msg = xmalloc((size_t)n + 1);
		vsnprintf(msg, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	if (n < 0)
		return;
	format_wallclock(now_realtime_usec(), stamp, sizeof(stamp));

	if (console && log_state.journal)
		journal_send(prio, file, line, func, f, msg);
	else if (console)
		write_line(&log_state.err, stamp, prio_prefix(prio), msg, (size_t)n);
	if (prio <= LOG_INFO)
		write_line(&log_state.file, stamp, prio_prefix(prio), msg, (size_t)n);
	/* Warnings and errors are written at once, in order after what was pending. */
	if (prio <= LOG_WARNING)
		log_flush();
	if (msg != stack)
		free(msg);
}

void
log_emit(int prio, const char *file, int line, const char *func, const struct log_fields *f,
	 const char *fmt, ...)
{
	va_list ap;

	if (prio > log_state.max_prio)
		return;
	va_start(ap, fmt);
	emit(prio, true, file, line, func, f, fmt, ap);
	va_end(ap);
}

void
log_file_only(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > log_state.max_prio)
		return;
	va_start(ap, fmt);
	emit(prio, false, NULL, 0, NULL, NULL, fmt, ap);
	va_end(ap);
}
