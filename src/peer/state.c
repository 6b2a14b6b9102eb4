/* SPDX-License-Identifier: MIT */
/* gossip-peer's state file (state.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/sink.h"
#include "state.h"

static int
read_file(const char *path, struct buf *ret)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (;;) {
		buf_reserve(ret, 65536);
		n = read(fd, ret->data + ret->len, ret->cap - ret->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		ret->len += (size_t)n;
	}
	if (n < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

/* Writes the header and the records of keep to a new file that replaces path. */
static int
rewrite(const char *path, uint64_t since, const struct buf *keep)
{
	struct buf hdr = {0};
	char *tmp;
	int fd, r;

	if (asprintf(&tmp, "%s.new", path) < 0)
		abort();
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		return r;
	}
	buf_append(&hdr, STATE_MAGIC, STATE_MAGIC_LEN);
	buf_put_u64(&hdr, since);
	r = sink_write_all(fd, hdr.data, hdr.len);
	buf_free(&hdr);
	if (!r)
		r = sink_write_all(fd, keep->data, keep->len);
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		(void)unlink(tmp);
	free(tmp);
	return r;
}

/*
 * The records of file younger than window, into keep, and the header's time
 * into *since (left as it is when the file is not a state file); a problem
 * into warning.
 */
static void
filter(const struct buf *file, uint64_t now_real, uint64_t window, size_t max, struct buf *keep,
       uint64_t *since, char *warning, size_t warning_len)
{
	size_t off = STATE_HEADER_LEN, n;

	if (file->len < STATE_HEADER_LEN || memcmp(file->data, STATE_MAGIC, STATE_MAGIC_LEN)) {
		snprintf(warning, warning_len, "not a gossip-peer state file (no %s header); "
			 "starting it anew", STATE_MAGIC);
		return;
	}
	if (get_u64(file->data + STATE_MAGIC_LEN) <= now_real)
		*since = get_u64(file->data + STATE_MAGIC_LEN);
	n = (file->len - off) / STATE_RECORD_LEN;
	if ((file->len - off) % STATE_RECORD_LEN)
		snprintf(warning, warning_len, "its last record is cut short (%zu bytes); ignored",
			 (file->len - off) % STATE_RECORD_LEN);
	for (size_t i = 0; i < n; i++, off += STATE_RECORD_LEN) {
		uint64_t stamp = get_u64(file->data + off + WIRE_ID_LEN);
		if (stamp + window >= now_real && stamp <= now_real + window)
			buf_append(keep, file->data + off, STATE_RECORD_LEN);
	}
	if (max && keep->len > max * STATE_RECORD_LEN) /* the newest, last in the file */
		buf_consume(keep, keep->len - max * STATE_RECORD_LEN);
}

static int
open_append(struct state_file *s)
{
	s->fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	return s->fd < 0 ? -errno : 0;
}

long
state_open(struct state_file *s, const char *path, uint64_t now_real, uint64_t window,
	   size_t max_records, void (*cb)(void *ctx, const uint8_t *id, uint64_t stamp), void *ctx,
	   char *warning, size_t warning_len)
{
	struct buf file = {0}, keep = {0};
	long r;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->path = strdup(path);
	s->window = window;
	s->max_records = max_records;
	s->since = now_real;
	if (!s->path)
		abort();
	warning[0] = '\0';
	if ((r = read_file(path, &file)) < 0)
		goto out;
	if (file.len)
		filter(&file, now_real, window, max_records, &keep, &s->since, warning,
		       warning_len);
	if ((r = rewrite(path, s->since, &keep)) < 0 || (r = open_append(s)) < 0)
		goto out;
	s->kept = keep.len / STATE_RECORD_LEN;
	for (size_t off = 0; off < keep.len; off += STATE_RECORD_LEN)
		cb(ctx, keep.data + off, get_u64(keep.data + off + WIRE_ID_LEN));
	r = (long)s->kept;
out:
	buf_free(&file);
	buf_free(&keep);
	return r;
}

/* Rewrites the file with what is inside the window; appending goes on either way. */
static void
compact(struct state_file *s, uint64_t now_real)
{
	struct buf file = {0}, keep = {0};
	char warning[160];

	if (state_flush(s) == 0 && read_file(s->path, &file) == 0) {
		filter(&file, now_real, s->window, s->max_records, &keep, &s->since, warning,
		       sizeof(warning));
		if (rewrite(s->path, s->since, &keep) == 0) {
			close(s->fd);
			if (open_append(s) < 0)
				s->fd = -1;
			s->kept = keep.len / STATE_RECORD_LEN;
		}
	}
	s->appended = 0;
	buf_free(&file);
	buf_free(&keep);
}

void
state_append(struct state_file *s, const uint8_t *id, uint64_t stamp, uint64_t now_real)
{
	if (s->fd < 0)
		return;
	buf_append(&s->pending, id, WIRE_ID_LEN);
	buf_put_u64(&s->pending, stamp);
	if (++s->appended >= (s->kept > STATE_COMPACT_MIN ? s->kept : STATE_COMPACT_MIN))
		compact(s, now_real);
}

int
state_flush(struct state_file *s)
{
	int r;

	if (s->fd < 0 || !s->pending.len)
		return 0;
	r = sink_write_all(s->fd, s->pending.data, s->pending.len);
	s->pending.len = 0;
	return r;
}

void
state_close(struct state_file *s)
{
	(void)state_flush(s);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	buf_free(&s->pending);
	free(s->path);
	s->path = NULL;
}
