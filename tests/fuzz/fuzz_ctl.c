/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the control-protocol decoder (frames, RECORD fields, END), with round trips. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void __attribute__((noreturn))
mismatch(const char *what, uint8_t type)
{
	fprintf(stderr, "fuzz_ctl: %s (%s frame)\n", what, ctl_type_name(type));
	abort();
}

/* Appends f to r as a daemon would; false when its key cannot be said through the API (a NUL). */
static bool
put_field(struct ctl_record *r, const struct ctl_field *f, size_t klen)
{
	if (strlen(f->key) != klen)
		return false;
	switch (f->kind) {
	case CTL_KIND_STR:
		ctl_record_bytes(r, f->key, f->str.p, f->str.len);
		break;
	case CTL_KIND_U64:
		ctl_record_u64(r, f->key, f->u);
		break;
	case CTL_KIND_I64:
		ctl_record_i64(r, f->key, f->i);
		break;
	case CTL_KIND_BOOL:
		ctl_record_bool(r, f->key, f->b);
		break;
	case CTL_KIND_DOUBLE:
		ctl_record_double(r, f->key, f->f);
		break;
	default:
		mismatch("a field of an unknown kind was decoded", CTL_RECORD);
	}
	return true;
}

/*
 * A RECORD: its fields iterated to the end; a record that decodes whole is
 * encoded again from its fields and must give the same bytes.
 */
static void
record(const uint8_t *frame, size_t len)
{
	struct ctl_field_iter it;
	struct ctl_field f;
	struct ctl_record r;
	struct buf b = {0};
	bool whole = true;
	int k;

	if (ctl_record_iter_init(&it, frame + CTL_HDR_LEN, len - CTL_HDR_LEN) < 0) {
		if (len - CTL_HDR_LEN >= 2)
			mismatch("a body with a field count refused", CTL_RECORD);
		return;
	}
	ctl_record_begin(&r, &b);
	for (;;) {
		/* The key's length byte, as sent: a key with a NUL in it reads shorter. */
		size_t klen = it.left ? it.p[0] : 0;

		if ((k = ctl_record_next(&it, &f)) != 1)
			break;
		if (klen == 0 || klen > 63)
			mismatch("a field with an empty or long key", CTL_RECORD);
		whole &= put_field(&r, &f, klen);
	}
	if (k < 0 || !whole) {
		buf_free(&b);
		return;
	}
	ctl_record_end(&r);
	if (b.len != len || memcmp(b.data, frame, len))
		mismatch("record round trip differs", CTL_RECORD);
	buf_free(&b);
}

static bool
printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return false;
	return true;
}

/* END: decoded, encoded again, decoded again to the same status and text. */
static void
end(const uint8_t *frame, size_t len)
{
	char text[CTL_MAX_TEXT + 1], again[CTL_MAX_TEXT + 1];
	uint8_t status, status2;
	struct buf b = {0};

	if (ctl_decode_end(frame + CTL_HDR_LEN, len - CTL_HDR_LEN, &status, text) < 0)
		return;
	if (strlen(text) != len - CTL_HDR_LEN - 3)
		mismatch("END text of another length than sent", CTL_END);
	ctl_encode_end(&b, status, text);
	if (ctl_frame_check(b.data, b.len, &(const char *){NULL}) != (long)b.len ||
	    ctl_decode_end(b.data + CTL_HDR_LEN, b.len - CTL_HDR_LEN, &status2, again) < 0 ||
	    status2 != status || strcmp(text, again) != 0)
		mismatch("END round trip differs", CTL_END);
	/* Printable text comes back as it was sent, byte for byte. */
	if (printable(frame + CTL_HDR_LEN + 3, len - CTL_HDR_LEN - 3) &&
	    (b.len != len || memcmp(b.data, frame, len)))
		mismatch("END bytes differ", CTL_END);
	buf_free(&b);
}

/* A request: encoded again by the client's functions, the same bytes. */
static void
request(const uint8_t *frame, size_t len)
{
	const uint8_t *body = frame + CTL_HDR_LEN;
	size_t blen = len - CTL_HDR_LEN;
	struct buf b = {0};

	if (frame[3] == CTL_TAIL && blen == 5 && body[0] <= 1)
		ctl_encode_tail(&b, body[0] == 1, get_u32(body + 1));
	else
		ctl_encode_request(&b, frame[3], body, blen);
	if (b.len != len || memcmp(b.data, frame, len))
		mismatch("request round trip differs", frame[3]);
	buf_free(&b);
}

static void
one_frame(const uint8_t *frame, size_t len)
{
	switch (frame[3]) {
	case CTL_RECORD:
		record(frame, len);
		break;
	case CTL_END:
		end(frame, len);
		break;
	default:
		if (frame[3] < 1 || frame[3] > CTL_REQUEST_MAX)
			mismatch("an unknown type passed the header check", frame[3]);
		request(frame, len);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		const char *reason = NULL;
		long n = ctl_frame_check(data + off, size - off, &reason);
		uint8_t *frame;

		if (n < 0 && !reason)
			mismatch("a header refused without a reason", data[off]);
		if (n <= 0)
			break;
		if ((size_t)n > size - off || (size_t)n < CTL_HDR_LEN)
			mismatch("a frame length out of the stream", data[off + 3]);
		/* In a buffer of its own size, so that a read past its end is seen. */
		frame = xmalloc((size_t)n);
		memcpy(frame, data + off, (size_t)n);
		one_frame(frame, (size_t)n);
		(void)ctl_type_name(frame[3]);
		free(frame);
		off += (size_t)n;
	}
	return 0;
}
