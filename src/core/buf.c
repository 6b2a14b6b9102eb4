/* SPDX-License-Identifier: MIT */
/* Growable byte buffer and reference-counted immutable blobs for zero-copy send queues. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

void
buf_reserve(struct buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
	buf_append(b, &v, 1);
}

void
buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	buf_append(b, p, 2);
}

void
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	buf_append(b, p, 4);
}

void
buf_put_u64(struct buf *b, uint64_t v)
{
	buf_put_u32(b, (uint32_t)(v >> 32));
	buf_put_u32(b, (uint32_t)v);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

struct blob *
blob_new(const void *p, size_t n)
{
	struct blob *bl = xmalloc(sizeof(*bl) + n);
	bl->refs = 1;
	bl->len = n;
	if (n && p)
		memcpy(bl->data, p, n);
	return bl;
}

struct blob *
blob_from_buf(struct buf *b)
{
	struct blob *bl = blob_new(b->data, b->len);
	b->len = 0;
	return bl;
}

struct blob *
blob_ref(struct blob *bl)
{
	bl->refs++;
	return bl;
}

void
blob_unref(struct blob *bl)
{
	if (bl && --bl->refs == 0)
		free(bl);
}
