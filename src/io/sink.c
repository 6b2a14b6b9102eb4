/* SPDX-License-Identifier: MIT */
/* Append-only line output (log files, output.txt, stderr), batched per loop iteration if asked. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sink.h"

void
sink_init(struct sink *s, int fd)
{
	s->fd = fd;
	s->buffered = false;
	s->pending = (struct buf){0};
}

void
sink_done(struct sink *s)
{
	(void)sink_flush(s);
	buf_free(&s->pending);
	s->fd = -1;
}

void
sink_set_buffered(struct sink *s, bool buffered)
{
	if (!buffered)
		(void)sink_flush(s);
	s->buffered = buffered;
}

int
sink_write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
sink_flush(struct sink *s)
{
	int r = 0;

	if (s->pending.len && s->fd >= 0)
		r = sink_write_all(s->fd, s->pending.data, s->pending.len);
	s->pending.len = 0;
	return r;
}

int
sink_line(struct sink *s, const struct iovec *iov, int n)
{
	if (s->fd < 0)
		return 0;
	/* Unbuffered, the line still goes out in one write: it is gathered first. */
	for (int i = 0; i < n; i++)
		buf_append(&s->pending, iov[i].iov_base, iov[i].iov_len);
	buf_append(&s->pending, "\n", 1);
	return !s->buffered || s->pending.len >= SINK_FLUSH_BYTES ? sink_flush(s) : 0;
}

int
sink_open_append(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	return fd < 0 ? -errno : fd;
}

int
sink_reopen(struct sink *s, const char *path)
{
	int fd = sink_open_append(path), old = s->fd;

	if (fd < 0)
		return fd;
	/* Lines of this iteration were produced before the rotation: the rotated file has them. */
	(void)sink_flush(s);
	s->fd = fd;
	if (old >= 0)
		close(old);
	return 0;
}
