/* SPDX-License-Identifier: MIT */
/* Unit tests for ctl.c: control frame check, RECORD fields, END, request encoders. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/ctl.h"
#include "core/util.h"

/* Body of the single frame in b, after checking its header. */
static const uint8_t *
frame_body(const struct buf *b, uint8_t type, size_t *len)
{
	const char *reason = NULL;
	assert_int_equal(ctl_frame_check(b->data, b->len, &reason), (long)b->len);
	assert_int_equal(b->data[3], type);
	*len = b->len - CTL_HDR_LEN;
	return b->data + CTL_HDR_LEN;
}

static void
next_ok(struct ctl_field_iter *it, struct ctl_field *f, const char *key, uint8_t kind)
{
	int r = ctl_record_next(it, f);
	if (r != 1)
		fail_msg("ctl_record_next returned %d, expected field %s", r, key);
	assert_string_equal(f->key, key);
	assert_int_equal(f->kind, kind);
}

static void
test_record_roundtrip(void **state)
{
	static const uint8_t bin[] = {0, 'x', 0xff, 0};
	struct buf b = {0};
	struct ctl_record rec;
	struct ctl_field_iter it;
	struct ctl_field f;
	const uint8_t *body;
	size_t len;

	ctl_record_begin(&rec, &b);
	ctl_record_str(&rec, "node", "127.0.0.1:6000");
	ctl_record_str(&rec, "empty", "");
	ctl_record_bytes(&rec, "text", bin, sizeof(bin));
	ctl_record_u64(&rec, "pid", 12345);
	ctl_record_u64(&rec, "max", UINT64_MAX);
	ctl_record_i64(&rec, "neg", -1);
	ctl_record_i64(&rec, "min", INT64_MIN);
	ctl_record_bool(&rec, "yes", true);
	ctl_record_bool(&rec, "no", false);
	ctl_record_double(&rec, "rtt_ms", 1.25);
	ctl_record_double(&rec, "unknown", -1.0);
	ctl_record_double(&rec, "inf", INFINITY);
	ctl_record_end(&rec);

	body = frame_body(&b, CTL_RECORD, &len);
	assert_int_equal(ctl_record_iter_init(&it, body, len), 0);
	assert_int_equal(it.remaining, 12);
	next_ok(&it, &f, "node", CTL_KIND_STR);
	assert_int_equal(f.str.len, 14);
	assert_memory_equal(f.str.p, "127.0.0.1:6000", 14);
	next_ok(&it, &f, "empty", CTL_KIND_STR);
	assert_int_equal(f.str.len, 0);
	next_ok(&it, &f, "text", CTL_KIND_STR);
	assert_int_equal(f.str.len, sizeof(bin));
	assert_memory_equal(f.str.p, bin, sizeof(bin));
	next_ok(&it, &f, "pid", CTL_KIND_U64);
	assert_true(f.u == 12345);
	next_ok(&it, &f, "max", CTL_KIND_U64);
	assert_true(f.u == UINT64_MAX);
	next_ok(&it, &f, "neg", CTL_KIND_I64);
	assert_true(f.i == -1);
	next_ok(&it, &f, "min", CTL_KIND_I64);
	assert_true(f.i == INT64_MIN);
	next_ok(&it, &f, "yes", CTL_KIND_BOOL);
	assert_true(f.b);
	next_ok(&it, &f, "no", CTL_KIND_BOOL);
	assert_false(f.b);
	next_ok(&it, &f, "rtt_ms", CTL_KIND_DOUBLE);
	assert_true(f.f == 1.25);
	next_ok(&it, &f, "unknown", CTL_KIND_DOUBLE);
	assert_true(f.f == -1.0);
	next_ok(&it, &f, "inf", CTL_KIND_DOUBLE);
	assert_true(isinf(f.f) && f.f > 0);
	assert_int_equal(ctl_record_next(&it, &f), 0);
	assert_int_equal(ctl_record_next(&it, &f), 0);
	buf_free(&b);
}

static void
test_record_empty_and_many(void **state)
{
	struct buf b = {0};
	struct ctl_record rec;
	struct ctl_field_iter it;
	struct ctl_field f;
	const uint8_t *body;
	size_t len;
	char key[16];

	ctl_record_begin(&rec, &b);
	ctl_record_end(&rec);
	body = frame_body(&b, CTL_RECORD, &len);
	assert_int_equal(len, 2);
	assert_int_equal(ctl_record_iter_init(&it, body, len), 0);
	assert_int_equal(ctl_record_next(&it, &f), 0);

	/* More than 255 fields: the count is a u16. */
	b.len = 0;
	ctl_record_begin(&rec, &b);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		ctl_record_u64(&rec, key, i);
	}
	ctl_record_end(&rec);
	body = frame_body(&b, CTL_RECORD, &len);
	assert_int_equal(ctl_record_iter_init(&it, body, len), 0);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		next_ok(&it, &f, key, CTL_KIND_U64);
		assert_true(f.u == i);
	}
	assert_int_equal(ctl_record_next(&it, &f), 0);
	buf_free(&b);
}

static void
test_record_long_key_truncated(void **state)
{
	char key[100];
	struct buf b = {0};
	struct ctl_record rec;
	struct ctl_field_iter it;
	struct ctl_field f;
	const uint8_t *body;
	size_t len;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	ctl_record_begin(&rec, &b);
	ctl_record_u64(&rec, key, 7);
	ctl_record_end(&rec);
	body = frame_body(&b, CTL_RECORD, &len);
	assert_int_equal(ctl_record_iter_init(&it, body, len), 0);
	assert_int_equal(ctl_record_next(&it, &f), 1);
	assert_int_equal(strlen(f.key), 63);
	assert_memory_equal(f.key, key, 63);
	assert_true(f.u == 7);
	buf_free(&b);
}

/* Runs the iterator over body and expects -EBADMSG after `good` valid fields. */
static void
expect_malformed(const uint8_t *body, size_t len, int good)
{
	struct ctl_field_iter it;
	struct ctl_field f;
	int r, n = 0;

	/* Exact-size copy so ASan catches over-reads. */
	uint8_t *p = malloc(len ? len : 1);
	memcpy(p, body, len);
	if (ctl_record_iter_init(&it, p, len) < 0) {
		assert_int_equal(good, -1);
		free(p);
		return;
	}
	while ((r = ctl_record_next(&it, &f)) == 1)
		n++;
	free(p);
	if (r != -EBADMSG)
		fail_msg("malformed record accepted (returned %d after %d fields)", r, n);
	assert_int_equal(n, good);
}

static void
test_record_malformed(void **state)
{
	/* count 1: key "a", kind 'u', 8 bytes */
	uint8_t ok_u[] = {0, 1, 1, 'a', 'u', 0, 0, 0, 0, 0, 0, 0, 9};
	uint8_t key0[] = {0, 1, 0, 'u', 0, 0, 0, 0, 0, 0, 0, 9};
	uint8_t key64[2 + 1 + 64 + 1 + 8] = {0, 1, 64};
	uint8_t key255[2 + 1 + 255 + 1 + 8] = {0, 1, 255};
	uint8_t trunc_key[] = {0, 1, 5, 'a', 'b'};
	uint8_t no_kind[] = {0, 1, 1, 'a'};
	uint8_t str_trunc[] = {0, 1, 1, 's', 's', 0, 0, 0, 5, 'a', 'b', 'c', 'd'};
	uint8_t str_huge[] = {0, 1, 1, 's', 's', 0xff, 0xff, 0xff, 0xff, 'a'};
	uint8_t str_nolen[] = {0, 1, 1, 's', 's', 0, 0};
	uint8_t unknown_kind[] = {0, 1, 1, 'x', 'z', 0};
	uint8_t bool2[] = {0, 1, 1, 'b', 'b', 2};
	uint8_t bool_ff[] = {0, 1, 1, 'b', 'b', 0xff};
	uint8_t bool_missing[] = {0, 1, 1, 'b', 'b'};
	uint8_t u_short[] = {0, 1, 1, 'u', 'u', 0, 0, 0, 0, 0, 0, 0};
	uint8_t count2[] = {0, 2, 1, 'b', 'b', 1};
	uint8_t count_huge[] = {0xff, 0xff, 1, 'b', 'b', 1};
	uint8_t trailing[] = {0, 1, 1, 'b', 'b', 1, 0};
	uint8_t trailing0[] = {0, 0, 0};
	uint8_t short_count[] = {0};

	expect_malformed(ok_u, sizeof(ok_u) - 1, 0);
	memset(key64 + 3, 'k', 64);
	key64[3 + 64] = 'u';
	expect_malformed(key64, sizeof(key64), 0);
	memset(key255 + 3, 'k', 255);
	key255[3 + 255] = 'u';
	expect_malformed(key255, sizeof(key255), 0);
	expect_malformed(key0, sizeof(key0), 0);
	expect_malformed(trunc_key, sizeof(trunc_key), 0);
	expect_malformed(no_kind, sizeof(no_kind), 0);
	expect_malformed(str_trunc, sizeof(str_trunc), 0);
	expect_malformed(str_huge, sizeof(str_huge), 0);
	expect_malformed(str_nolen, sizeof(str_nolen), 0);
	expect_malformed(unknown_kind, sizeof(unknown_kind), 0);
	expect_malformed(bool2, sizeof(bool2), 0);
	expect_malformed(bool_ff, sizeof(bool_ff), 0);
	expect_malformed(bool_missing, sizeof(bool_missing), 0);
	expect_malformed(u_short, sizeof(u_short), 0);
	expect_malformed(count2, sizeof(count2), 1);
	expect_malformed(count_huge, sizeof(count_huge), 1);
	expect_malformed(trailing, sizeof(trailing), 1);
	expect_malformed(trailing0, sizeof(trailing0), 0);
	expect_malformed(short_count, sizeof(short_count), -1);
	expect_malformed(short_count, 0, -1);

	/* And the well-formed ones around them do decode. */
	{
		struct ctl_field_iter it;
		struct ctl_field f;
		assert_int_equal(ctl_record_iter_init(&it, ok_u, sizeof(ok_u)), 0);
		assert_int_equal(ctl_record_next(&it, &f), 1);
		assert_true(f.u == 9);
		assert_int_equal(ctl_record_next(&it, &f), 0);
		key64[2] = 63;
		key64[3 + 63] = 'u';
		assert_int_equal(ctl_record_iter_init(&it, key64, sizeof(key64) - 1), 0);
		assert_int_equal(ctl_record_next(&it, &f), 1);
		assert_int_equal(strlen(f.key), 63);
		assert_int_equal(ctl_record_next(&it, &f), 0);
	}
}

/* Every strict prefix of a real record is malformed. */
static void
test_record_prefixes(void **state)
{
	struct buf b = {0};
	struct ctl_record rec;
	const uint8_t *body;
	size_t len;

	ctl_record_begin(&rec, &b);
	ctl_record_str(&rec, "addr", "[::1]:6000");
	ctl_record_u64(&rec, "misses", 2);
	ctl_record_i64(&rec, "delta", -5);
	ctl_record_bool(&rec, "up", true);
	ctl_record_double(&rec, "rtt_ms", 0.5);
	ctl_record_end(&rec);
	body = frame_body(&b, CTL_RECORD, &len);
	for (size_t l = 0; l < len; l++) {
		struct ctl_field_iter it;
		struct ctl_field f;
		int r = 0;
		uint8_t *p = malloc(l ? l : 1);
		memcpy(p, body, l);
		if (ctl_record_iter_init(&it, p, l) == 0)
			while ((r = ctl_record_next(&it, &f)) == 1)
				;
		else
			r = -EBADMSG;
		free(p);
		if (r != -EBADMSG)
			fail_msg("record prefix of %zu/%zu bytes accepted", l, len);
	}
	buf_free(&b);
}

static void
test_end_roundtrip(void **state)
{
	struct buf b = {0};
	const uint8_t *body;
	size_t len;
	uint8_t status = 99;
	char text[CTL_MAX_TEXT + 1];
	char longtext[CTL_MAX_TEXT + 50];

	ctl_encode_end(&b, CTL_OK, "sent");
	body = frame_body(&b, CTL_END, &len);
	assert_int_equal(len, 3 + 4);
	assert_int_equal(ctl_decode_end(body, len, &status, text), 0);
	assert_int_equal(status, CTL_OK);
	assert_string_equal(text, "sent");

	b.len = 0;
	ctl_encode_end(&b, CTL_ERR_TOO_LONG, "");
	body = frame_body(&b, CTL_END, &len);
	assert_int_equal(ctl_decode_end(body, len, &status, text), 0);
	assert_int_equal(status, CTL_ERR_TOO_LONG);
	assert_string_equal(text, "");

	/* Truncated at CTL_MAX_TEXT by the encoder; the decoder takes exactly that. */
	memset(longtext, 'm', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	b.len = 0;
	ctl_encode_end(&b, CTL_ERR_FAILED, longtext);
	body = frame_body(&b, CTL_END, &len);
	assert_int_equal(len, 3 + CTL_MAX_TEXT);
	assert_int_equal(ctl_decode_end(body, len, &status, text), 0);
	assert_int_equal(status, CTL_ERR_FAILED);
	assert_int_equal(strlen(text), CTL_MAX_TEXT);

	/* Non-printable bytes are replaced. */
	b.len = 0;
	ctl_encode_end(&b, CTL_ERR_USAGE, "bad\n\x1b[31mred\x7f\xc3\xa9");
	body = frame_body(&b, CTL_END, &len);
	assert_int_equal(ctl_decode_end(body, len, &status, text), 0);
	assert_string_equal(text, "bad??[31mred???");
	buf_free(&b);
}

static void
test_end_malformed(void **state)
{
	uint8_t status = 42;
	char text[CTL_MAX_TEXT + 1];
	uint8_t big[3 + CTL_MAX_TEXT + 1];
	uint8_t ok[] = {0, 0, 2, 'o', 'k'};

	assert_int_equal(ctl_decode_end(ok, 0, &status, text), -EBADMSG);
	assert_int_equal(ctl_decode_end(ok, 2, &status, text), -EBADMSG);
	assert_int_equal(ctl_decode_end(ok, 4, &status, text), -EBADMSG);
	ok[2] = 1;
	assert_int_equal(ctl_decode_end(ok, sizeof(ok), &status, text), -EBADMSG);
	assert_int_equal(status, 42);
	ok[2] = 2;
	assert_int_equal(ctl_decode_end(ok, sizeof(ok), &status, text), 0);
	assert_string_equal(text, "ok");

	/* Text length over the limit even though the bytes are there. */
	memset(big, 'x', sizeof(big));
	big[0] = 0;
	big[1] = (uint8_t)((CTL_MAX_TEXT + 1) >> 8);
	big[2] = (uint8_t)(CTL_MAX_TEXT + 1);
	assert_int_equal(ctl_decode_end(big, sizeof(big), &status, text), -EBADMSG);
	big[1] = 0xff;
	big[2] = 0xff;
	assert_int_equal(ctl_decode_end(big, sizeof(big), &status, text), -EBADMSG);
}

static void
test_requests(void **state)
{
	struct buf b = {0};
	const uint8_t *body;
	size_t len;

	ctl_encode_request(&b, CTL_SEND, (const uint8_t *)"hi\0there", 8);
	body = frame_body(&b, CTL_SEND, &len);
	assert_int_equal(len, 8);
	assert_memory_equal(body, "hi\0there", 8);

	b.len = 0;
	ctl_encode_request(&b, CTL_STATUS, NULL, 0);
	assert_memory_equal(b.data, ((uint8_t[]){'G', 'C', 1, CTL_STATUS, 0, 0, 0, 0}), 8);
	body = frame_body(&b, CTL_STATUS, &len);
	assert_int_equal(len, 0);

	b.len = 0;
	ctl_encode_tail(&b, true, 0x01020304);
	body = frame_body(&b, CTL_TAIL, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(body, ((uint8_t[]){1, 1, 2, 3, 4}), 5);
	b.len = 0;
	ctl_encode_tail(&b, false, 0);
	body = frame_body(&b, CTL_TAIL, &len);
	assert_memory_equal(body, ((uint8_t[]){0, 0, 0, 0, 0}), 5);

	assert_string_equal(ctl_type_name(CTL_SEND), "SEND");
	assert_string_equal(ctl_type_name(CTL_END), "END");
	assert_string_equal(ctl_type_name(CTL_RECORD), "RECORD");
	assert_string_equal(ctl_type_name(0), "UNKNOWN");
	assert_string_equal(ctl_type_name(0x83), "UNKNOWN");
	buf_free(&b);
}

static void
expect_check_bad(const uint8_t *p, size_t len)
{
	const char *reason = NULL;
	long r = ctl_frame_check(p, len, &reason);
	if (r != -EBADMSG)
		fail_msg("ctl_frame_check returned %ld for a bad header (len %zu)", r, len);
	assert_non_null(reason);
}

static void
test_frame_check(void **state)
{
	static const uint8_t known[] = {CTL_SEND,  CTL_STATUS, CTL_PEERS, CTL_TAIL,
	                                CTL_STATS, CTL_RECORD, CTL_END};
	static const uint8_t unknown[] = {0, CTL_REQUEST_MAX + 1, 0x7f, 0x80, 0x83, 0xff};
	uint8_t h[CTL_HDR_LEN] = {'G', 'C', CTL_VERSION, CTL_STATUS, 0, 0, 0, 0};
	struct buf b = {0};
	struct ctl_record rec;
	const char *reason;

	/* Every prefix of a real frame asks for more; the whole frame is its length. */
	ctl_record_begin(&rec, &b);
	ctl_record_str(&rec, "state", "ready");
	ctl_record_end(&rec);
	for (size_t l = 0; l < b.len; l++)
		if (ctl_frame_check(b.data, l, &reason) != 0)
			fail_msg("prefix %zu of a valid frame not accepted as partial", l);
	assert_int_equal(ctl_frame_check(b.data, b.len, &reason), (long)b.len);
	buf_append(&b, "GC", 2);
	assert_int_equal(ctl_frame_check(b.data, b.len, &reason), (long)b.len - 2);

	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		h[3] = known[i];
		assert_int_equal(ctl_frame_check(h, sizeof(h), &reason), CTL_HDR_LEN);
	}
	for (size_t i = 0; i < ARRAY_SIZE(unknown); i++) {
		h[3] = unknown[i];
		expect_check_bad(h, 4);
		expect_check_bad(h, sizeof(h));
	}
	h[3] = CTL_SEND;
	/* Magic from the first byte; a wire frame is not a control frame. */
	expect_check_bad((const uint8_t *)"X", 1);
	expect_check_bad((const uint8_t *)"GS", 2);
	expect_check_bad((const uint8_t *)"GS\x01\x07\0\0\0\0", 8);
	/* Version. */
	h[2] = 0;
	expect_check_bad(h, 3);
	h[2] = 2;
	expect_check_bad(h, sizeof(h));
	h[2] = CTL_VERSION;
	/* Length limit from the header alone. */
	h[4] = (uint8_t)(CTL_MAX_BODY >> 24);
	h[5] = (uint8_t)(CTL_MAX_BODY >> 16);
	h[6] = (uint8_t)(CTL_MAX_BODY >> 8);
	h[7] = (uint8_t)CTL_MAX_BODY;
	assert_int_equal(ctl_frame_check(h, sizeof(h), &reason), 0);
	h[7] = (uint8_t)(CTL_MAX_BODY + 1);
	expect_check_bad(h, sizeof(h));
	memset(h + 4, 0xff, 4);
	expect_check_bad(h, sizeof(h));
	buf_free(&b);
}

static void
test_frame_check_garbage(void **state)
{
	struct rng rng;
	uint8_t p[64];

	rng_seed(&rng, 0xc71);
	for (int iter = 0; iter < 100000; iter++) {
		size_t len = (size_t)rng_below(&rng, sizeof(p) + 1);
		const char *reason = NULL;
		long r;
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rng_next(&rng);
		if (iter & 1) {
			p[0] = 'G';
			if (len > 1)
				p[1] = 'C';
			if (len > 2)
				p[2] = CTL_VERSION;
		}
		r = ctl_frame_check(p, len, &reason);
		assert_true(r == 0 || r == -EBADMSG || (r >= CTL_HDR_LEN && (size_t)r <= len));
		if (r == -EBADMSG)
			assert_non_null(reason);
		if (r > 0 && p[3] == CTL_RECORD) {
			/* The iterator on a random body never reads out of bounds. */
			struct ctl_field_iter it;
			struct ctl_field f;
			if (ctl_record_iter_init(&it, p + CTL_HDR_LEN, (size_t)r - CTL_HDR_LEN) ==
			    0)
				while (ctl_record_next(&it, &f) == 1)
					;
		}
	}
}

static void
test_record_random_bodies(void **state)
{
	struct rng rng;
	static const uint8_t kinds[] = {'s', 'u', 'i', 'b', 'f', 'z'};

	rng_seed(&rng, 0xc72);
	for (int iter = 0; iter < 50000; iter++) {
		size_t len = (size_t)rng_below(&rng, 48);
		uint8_t *p = malloc(len ? len : 1);
		struct ctl_field_iter it;
		struct ctl_field f;
		int r = 0, n = 0;
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)rng_next(&rng);
		/* Bias towards plausible shapes: small count, short key, real kind. */
		if (len > 0)
			p[0] = 0;
		if (len > 1)
			p[1] = (uint8_t)rng_below(&rng, 4);
		if (len > 2)
			p[2] = (uint8_t)rng_below(&rng, 4);
		if (len > 3 + (size_t)p[2])
			p[3 + p[2]] = kinds[rng_below(&rng, ARRAY_SIZE(kinds))];
		if (ctl_record_iter_init(&it, p, len) == 0) {
			while ((r = ctl_record_next(&it, &f)) == 1) {
				/* Keys are raw bytes (may hold a NUL) but never overflow. */
				assert_true(strlen(f.key) <= 63);
				if (f.kind == CTL_KIND_STR)
					assert_true(f.str.p >= p && f.str.p + f.str.len <= p + len);
				n++;
			}
			assert_true(r == 0 || r == -EBADMSG);
			assert_true(n <= 3);
		}
		free(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record_roundtrip),
	    cmocka_unit_test(test_record_empty_and_many),
	    cmocka_unit_test(test_record_long_key_truncated),
	    cmocka_unit_test(test_record_malformed),
	    cmocka_unit_test(test_record_prefixes),
	    cmocka_unit_test(test_end_roundtrip),
	    cmocka_unit_test(test_end_malformed),
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_frame_check),
	    cmocka_unit_test(test_frame_check_garbage),
	    cmocka_unit_test(test_record_random_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
