/* SPDX-License-Identifier: MIT */
/* The local control protocol between gossip-peer and gossipctl: frames, records, status codes. */
#include <errno.h>
#include <string.h>

#include "ctl.h"

static bool
known_type(uint8_t t)
{
	return (t >= 1 && t <= CTL_REQUEST_MAX) || t == CTL_RECORD || t == CTL_END;
}

const char *
ctl_type_name(uint8_t type)
{
	switch (type) {
	case CTL_SEND:
		return "SEND";
	case CTL_STATUS:
		return "STATUS";
	case CTL_PEERS:
		return "PEERS";
	case CTL_TAIL:
		return "TAIL";
	case CTL_STATS:
		return "STATS";
	case CTL_MEMBERS:
		return "MEMBERS";
	case CTL_METRICS:
		return "METRICS";
	case CTL_RECORD:
		return "RECORD";
	case CTL_END:
		return "END";
	}
	return "UNKNOWN";
}

long
ctl_frame_check(const uint8_t *buf, size_t len, const char **reason)
{
	uint32_t body;

	if ((len >= 1 && buf[0] != CTL_MAGIC0) || (len >= 2 && buf[1] != CTL_MAGIC1)) {
		*reason = "bad magic (not a control frame)";
		return -EBADMSG;
	}
	if (len >= 3 && buf[2] != CTL_VERSION) {
		*reason = "unsupported control protocol version";
		return -EBADMSG;
	}
	if (len >= 4 && !known_type(buf[3])) {
		*reason = "unknown control frame type";
		return -EBADMSG;
	}
	if (len < CTL_HDR_LEN)
		return 0;
	body = get_u32(buf + 4);
	if (body > CTL_MAX_BODY) {
		*reason = "control frame length over the limit";
		return -EBADMSG;
	}
	if (len < CTL_HDR_LEN + (size_t)body)
		return 0;
	return (long)(CTL_HDR_LEN + body);
}

size_t
ctl_frame_begin(struct buf *b, uint8_t type)
{
	size_t start = b->len;
	uint8_t hdr[CTL_HDR_LEN] = {CTL_MAGIC0, CTL_MAGIC1, CTL_VERSION, type, 0, 0, 0, 0};
	buf_append(b, hdr, sizeof(hdr));
	return start;
}

void
ctl_frame_end(struct buf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start - CTL_HDR_LEN);
	uint8_t *p = b->data + start + 4;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

void
ctl_record_begin(struct ctl_record *r, struct buf *b)
{
	r->b = b;
	r->start = ctl_frame_begin(b, CTL_RECORD);
	r->count_at = b->len;
	r->count = 0;
	buf_put_u16(b, 0);
}

static void
field_head(struct ctl_record *r, const char *key, uint8_t kind)
{
	size_t n = strlen(key);
	if (n > 63)
		n = 63;
	buf_put_u8(r->b, (uint8_t)n);
	buf_append(r->b, key, n);
	buf_put_u8(r->b, kind);
	r->count++;
}

void
ctl_record_bytes(struct ctl_record *r, const char *key, const uint8_t *p, uint32_t len)
{
	field_head(r, key, CTL_KIND_STR);
	buf_put_u32(r->b, len);
	buf_append(r->b, p, len);
}

void
ctl_record_str(struct ctl_record *r, const char *key, const char *s)
{
	ctl_record_bytes(r, key, (const uint8_t *)s, (uint32_t)strlen(s));
}

void
ctl_record_u64(struct ctl_record *r, const char *key, uint64_t v)
{
	field_head(r, key, CTL_KIND_U64);
	buf_put_u64(r->b, v);
}

void
ctl_record_i64(struct ctl_record *r, const char *key, int64_t v)
{
	field_head(r, key, CTL_KIND_I64);
	buf_put_u64(r->b, (uint64_t)v);
}

void
ctl_record_bool(struct ctl_record *r, const char *key, bool v)
{
	field_head(r, key, CTL_KIND_BOOL);
	buf_put_u8(r->b, v ? 1 : 0);
}

void
ctl_record_double(struct ctl_record *r, const char *key, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof(bits));
	field_head(r, key, CTL_KIND_DOUBLE);
	buf_put_u64(r->b, bits);
}

void
ctl_record_end(struct ctl_record *r)
{
	r->b->data[r->count_at] = (uint8_t)(r->count >> 8);
	r->b->data[r->count_at + 1] = (uint8_t)r->count;
	ctl_frame_end(r->b, r->start);
}

void
ctl_encode_end(struct buf *b, uint8_t status, const char *text)
{
	size_t n = strlen(text);
	size_t s = ctl_frame_begin(b, CTL_END);
	if (n > CTL_MAX_TEXT)
		n = CTL_MAX_TEXT;
	buf_put_u8(b, status);
	buf_put_u16(b, (uint16_t)n);
	buf_append(b, text, n);
	ctl_frame_end(b, s);
}

void
ctl_encode_request(struct buf *b, uint8_t type, const uint8_t *body, size_t len)
{
	size_t s = ctl_frame_begin(b, type);
	buf_append(b, body, len);
	ctl_frame_end(b, s);
}

void
ctl_encode_tail(struct buf *b, bool follow, uint32_t count)
{
	size_t s = ctl_frame_begin(b, CTL_TAIL);
	buf_put_u8(b, follow ? 1 : 0);
	buf_put_u32(b, count);
	ctl_frame_end(b, s);
}

int
ctl_record_iter_init(struct ctl_field_iter *it, const uint8_t *body, size_t len)
{
	if (len < 2)
		return -EBADMSG;
	it->remaining = get_u16(body);
	it->p = body + 2;
	it->left = len - 2;
	return 0;
}

int
ctl_record_next(struct ctl_field_iter *it, struct ctl_field *ret)
{
	size_t klen;

	if (it->remaining == 0)
		return it->left == 0 ? 0 : -EBADMSG;
	if (it->left < 1)
		return -EBADMSG;
	klen = it->p[0];
	if (klen == 0 || klen > 63 || it->left < 1 + klen + 1)
		return -EBADMSG;
	memcpy(ret->key, it->p + 1, klen);
	ret->key[klen] = '\0';
	ret->kind = it->p[1 + klen];
	it->p += 2 + klen;
	it->left -= 2 + klen;
	switch (ret->kind) {
	case CTL_KIND_STR:
		if (it->left < 4)
			return -EBADMSG;
		ret->str.len = get_u32(it->p);
		if (it->left - 4 < ret->str.len)
			return -EBADMSG;
		ret->str.p = it->p + 4;
		it->p += 4 + ret->str.len;
		it->left -= 4 + ret->str.len;
		break;
	case CTL_KIND_U64:
	case CTL_KIND_I64:
	case CTL_KIND_DOUBLE:
		if (it->left < 8)
			return -EBADMSG;
		ret->u = get_u64(it->p);
		if (ret->kind == CTL_KIND_DOUBLE) {
			uint64_t bits = ret->u;
			memcpy(&ret->f, &bits, sizeof(double));
		}
		it->p += 8;
		it->left -= 8;
		break;
	case CTL_KIND_BOOL:
		if (it->left < 1 || it->p[0] > 1)
			return -EBADMSG;
		ret->b = it->p[0] == 1;
		it->p += 1;
		it->left -= 1;
		break;
	default:
		return -EBADMSG;
	}
	it->remaining--;
	return 1;
}

int
ctl_decode_end(const uint8_t *body, size_t len, uint8_t *status, char *text)
{
	uint16_t n;

	if (len < 3)
		return -EBADMSG;
	n = get_u16(body + 1);
	if (n > CTL_MAX_TEXT || (size_t)n + 3 != len)
		return -EBADMSG;
	*status = body[0];
	for (uint16_t i = 0; i < n; i++)
		text[i] = (body[3 + i] >= 0x20 && body[3 + i] < 0x7f) ? (char)body[3 + i] : '?';
	text[n] = '\0';
	return 0;
}
