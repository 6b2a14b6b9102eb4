/* SPDX-License-Identifier: MIT */
/* Growable byte buffer and reference-counted immutable blobs for zero-copy send queues. */
#ifndef GOSSIP_BUF_H
#define GOSSIP_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16(struct buf *b, uint16_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

/* An immutable, shared byte string: one received frame queued to many connections. */
struct blob {
	unsigned refs;
	size_t len;
	uint8_t data[];
};

/* A blob of n bytes copied from p, or left for the caller to fill when p is NULL. */
struct blob *blob_new(const void *p, size_t n);
/* Copies the contents of b into a new blob and empties b (its memory is kept for reuse). */
struct blob *blob_from_buf(struct buf *b);
struct blob *blob_ref(struct blob *bl);
void blob_unref(struct blob *bl);

static inline uint16_t
get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t
get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t
get_u64(const uint8_t *p)
{
	return ((uint64_t)get_u32(p) << 32) | get_u32(p + 4);
}

#endif
