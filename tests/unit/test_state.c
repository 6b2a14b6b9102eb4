/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of gossip-peer's state file (src/peer/state.c) at its limits:
 * the cap of max_records, the compaction after max(kept, STATE_COMPACT_MIN)
 * appended records, the window's edges, and damaged files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <ftw.h>
#include <sys/stat.h>

#include <cmocka.h>

/* Not in a library the unit tests link: compiled in, as tests may do with a module's .c. */
#include "peer/state.c"
#include "testid.h"

#define SEC 1000000ULL
/* The window and the clock the tests open and compact at. */
#define WINDOW (700 * SEC)
#define NOW (1700000000ULL * SEC)
#define SINCE (NOW - 3600 * SEC)

struct st {
	char dir[256];
	char path[300];
	struct buf got; /* the records given to the callback */
	struct state_file s;
	bool open;
};

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct st *t = calloc(1, sizeof(*t));
	const char *tmp = getenv("TMPDIR");

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s/gossip-test-state-XXXXXX", tmp ? tmp : P_tmpdir);
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s/state", t->dir);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct st *t = *state;
	int r;

	if (t->open)
		state_close(&t->s);
	buf_free(&t->got);
	r = nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return r;
}

/* A record: the i-th id, stamped. */
static void
put_record(struct buf *b, uint64_t i, uint64_t stamp)
{
	uint8_t id[WIRE_ID_LEN];

	test_id(i, id);
	buf_append(b, id, WIRE_ID_LEN);
	buf_put_u64(b, stamp);
}

static void
put_header(struct buf *b, uint64_t since)
{
	buf_append(b, STATE_MAGIC, STATE_MAGIC_LEN);
	buf_put_u64(b, since);
}

static void
write_bytes(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
	assert_int_equal(fclose(f), 0);
}

static void
read_bytes(const char *path, struct buf *b)
{
	b->len = 0;
	assert_int_equal(read_file(path, b), 0);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static off_t
size_of(size_t records)
{
	return (off_t)(STATE_HEADER_LEN + records * STATE_RECORD_LEN);
}

static void
collect(void *ctx, const uint8_t *id, uint64_t stamp)
{
	struct st *t = ctx;

	buf_append(&t->got, id, WIRE_ID_LEN);
	buf_put_u64(&t->got, stamp);
}

/* Opens t's file at now with max_records; the warning into warning. */
static long
open_at(struct st *t, uint64_t now, size_t max_records, char *warning, size_t len)
{
	long r;

	t->got.len = 0;
	r = state_open(&t->s, t->path, now, WINDOW, max_records, collect, t, warning, len);
	t->open = r >= 0;
	return r;
}

/* A state file of header SINCE and records first..first+n-1, stamped NOW - age each. */
static void
write_state(struct st *t, uint64_t first, size_t n, uint64_t age)
{
	struct buf b = {0};

	put_header(&b, SINCE);
	for (size_t i = 0; i < n; i++)
		put_record(&b, first + i, NOW - age);
	write_bytes(t->path, &b);
	buf_free(&b);
}

/* The file holds the header `since` and exactly the records of want. */
static void
assert_file(struct st *t, uint64_t since, const struct buf *want)
{
	struct buf b = {0};

	read_bytes(t->path, &b);
	assert_int_equal(b.len, STATE_HEADER_LEN + want->len);
	assert_memory_equal(b.data, STATE_MAGIC, STATE_MAGIC_LEN);
	assert_true(get_u64(b.data + STATE_MAGIC_LEN) == since);
	if (want->len)
		assert_memory_equal(b.data + STATE_HEADER_LEN, want->data, want->len);
	buf_free(&b);
}

/* Opening a file of max_records + extra records (all in the window) keeps the newest max_records. */
static void
open_over_cap(struct st *t, size_t max, size_t extra)
{
	struct buf want = {0};
	char warning[160];

	write_state(t, 1, max + extra, 10 * SEC);
	for (size_t i = 1 + extra; i <= max + extra; i++)
		put_record(&want, i, NOW - 10 * SEC);
	assert_int_equal(open_at(t, NOW, max, warning, sizeof(warning)), (long)max);
	assert_string_equal(warning, "");
	/* The newest, last in the file, in their order. */
	assert_int_equal(t->got.len, want.len);
	assert_memory_equal(t->got.data, want.data, want.len);
	assert_file(t, SINCE, &want);
	assert_int_equal(t->s.kept, max);
	assert_true(t->s.since == SINCE);
	buf_free(&want);
}

static void
test_open_keeps_the_newest_max_records(void **state)
{
	open_over_cap(*state, 100, 1);
}

static void
test_open_keeps_the_newest_max_records_of_many_more(void **state)
{
	open_over_cap(*state, 100, 250);
}

static void
test_open_at_max_records_keeps_all(void **state)
{
	open_over_cap(*state, 100, 0);
}

/* Records at the window's edges: within [now - window, now + window] kept, beyond dropped. */
static void
test_open_keeps_the_window_edges_only(void **state)
{
	struct st *t = *state;
	const uint64_t stamps[] = {NOW - WINDOW - 1, NOW - WINDOW, NOW, NOW + WINDOW,
				   NOW + WINDOW + 1, UINT64_MAX, 0};
	struct buf file = {0}, want = {0};
	char warning[160];

	put_header(&file, SINCE);
	for (size_t i = 0; i < ARRAY_SIZE(stamps); i++) {
		put_record(&file, i, stamps[i]);
		if (i >= 1 && i <= 3)
			put_record(&want, i, stamps[i]);
	}
	write_bytes(t->path, &file);
	assert_int_equal(open_at(t, NOW, 100, warning, sizeof(warning)), 3);
	assert_string_equal(warning, "");
	assert_int_equal(t->got.len, want.len);
	assert_memory_equal(t->got.data, want.data, want.len);
	assert_file(t, SINCE, &want);
	buf_free(&file);
	buf_free(&want);
}

/* A record cut short: warned about, every whole record inside the window kept. */
static void
test_truncated_file_keeps_the_whole_records(void **state)
{
	struct st *t = *state;
	struct buf file = {0}, want = {0};
	char warning[160];

	put_header(&file, SINCE);
	for (uint64_t i = 0; i < 3; i++) {
		put_record(&file, i, NOW - i * SEC);
		put_record(&want, i, NOW - i * SEC);
	}
	put_record(&file, 9, NOW);
	file.len -= STATE_RECORD_LEN - 17; /* 17 bytes of the fourth */
	write_bytes(t->path, &file);
	assert_int_equal(open_at(t, NOW, 100, warning, sizeof(warning)), 3);
	assert_non_null(strstr(warning, "last record is cut short (17 bytes)"));
	assert_memory_equal(t->got.data, want.data, want.len);
	assert_int_equal(t->got.len, want.len);
	/* Rewritten whole: what comes next is appended after whole records. */
	assert_file(t, SINCE, &want);
	buf_free(&file);
	buf_free(&want);
}

/* Not a state file (another magic, or shorter than a header): warned about, started anew. */
static void
check_not_a_state_file(struct st *t, const char *content, size_t len)
{
	struct buf file = {0}, none = {0};
	char warning[160];

	buf_append(&file, content, len);
	write_bytes(t->path, &file);
	assert_int_equal(open_at(t, NOW, 100, warning, sizeof(warning)), 0);
	assert_non_null(strstr(warning, "not a gossip-peer state file"));
	assert_int_equal(t->got.len, 0);
	/* A member from now: the header's time is not taken from garbage. */
	assert_true(t->s.since == NOW);
	assert_file(t, NOW, &none);
	buf_free(&file);
}

static void
test_garbage_file_is_started_anew(void **state)
{
	static const char garbage[] = "GSSTATE0\x00\x01\x02\x03\x04\x05\x06\x07"
				      "0123456789abcdef0123456789abcdef01234567";

	check_not_a_state_file(*state, garbage, sizeof(garbage) - 1);
}

static void
test_file_shorter_than_a_header_is_started_anew(void **state)
{
	check_not_a_state_file(*state, STATE_MAGIC "\x00\x00", STATE_MAGIC_LEN + 2);
}

/* Appends records first..first+n-1 stamped stamp(i), at now; then flushes. */
static void
append_n(struct st *t, uint64_t first, size_t n, uint64_t (*stamp)(uint64_t), uint64_t now)
{
	for (uint64_t i = first; i < first + n; i++) {
		uint8_t id[WIRE_ID_LEN];
		test_id(i, id);
		state_append(&t->s, id, stamp(i), now);
	}
	assert_int_equal(state_flush(&t->s), 0);
}

/* Even records: stamped a second beyond the window at compaction time; odd ones inside. */
static uint64_t
stamp_half_old(uint64_t i)
{
	return i % 2 ? NOW : NOW - WINDOW - 1;
}

static uint64_t
stamp_now(uint64_t i)
{
	return NOW;
}

/*
 * Under STATE_COMPACT_MIN records kept, STATE_COMPACT_MIN - 1 appended
 * records only grow the file; the next one rewrites it with those inside
 * the window.
 */
static void
test_compaction_after_compact_min_appended(void **state)
{
	struct st *t = *state;
	struct buf want = {0};
	char warning[160];

	write_state(t, 1000000, 10, 1 * SEC);
	assert_int_equal(open_at(t, NOW, 100000, warning, sizeof(warning)), 10);
	append_n(t, 0, STATE_COMPACT_MIN - 1, stamp_half_old, NOW);
	assert_int_equal(file_size(t->path), size_of(10 + STATE_COMPACT_MIN - 1));
	assert_int_equal(t->s.kept, 10);
	/* The STATE_COMPACT_MIN-th: compacted, the old half dropped. */
	append_n(t, STATE_COMPACT_MIN - 1, 1, stamp_half_old, NOW);
	for (uint64_t i = 1000000; i < 1000010; i++)
		put_record(&want, i, NOW - 1 * SEC);
	for (uint64_t i = 1; i < STATE_COMPACT_MIN; i += 2)
		put_record(&want, i, NOW);
	assert_file(t, SINCE, &want);
	assert_int_equal(t->s.kept, 10 + STATE_COMPACT_MIN / 2);
	assert_int_equal(t->s.appended, 0);
	/* Appending goes on after it. */
	append_n(t, STATE_COMPACT_MIN, 3, stamp_now, NOW);
	assert_int_equal(file_size(t->path), size_of(10 + STATE_COMPACT_MIN / 2 + 3));
	buf_free(&want);
}

/*
 * Over STATE_COMPACT_MIN records kept, compaction waits for as many
 * appended; it caps the file at max_records, the newest.
 */
static void
test_compaction_after_kept_appended_caps_at_max_records(void **state)
{
	struct st *t = *state;
	const size_t kept = STATE_COMPACT_MIN + 904, max = kept + 1000;
	struct buf want = {0};
	char warning[160];

	write_state(t, 0, kept, 1 * SEC);
	assert_int_equal(open_at(t, NOW, max, warning, sizeof(warning)), (long)kept);
	append_n(t, kept, kept - 1, stamp_now, NOW);
	assert_int_equal(file_size(t->path), size_of(2 * kept - 1));
	append_n(t, 2 * kept - 1, 1, stamp_now, NOW);
	/* Compacted: the newest max of the 2 * kept. */
	for (uint64_t i = 2 * kept - max; i < 2 * kept; i++)
		put_record(&want, i, i < kept ? NOW - 1 * SEC : NOW);
	assert_file(t, SINCE, &want);
	assert_int_equal(t->s.kept, max);
	buf_free(&want);
}

/* What was appended and flushed is given back at the next open, none twice. */
static void
test_reopen_gives_back_what_was_appended(void **state)
{
	struct st *t = *state;
	struct buf want = {0};
	char warning[160];

	assert_int_equal(open_at(t, NOW, 100, warning, sizeof(warning)), 0);
	assert_true(t->s.since == NOW);
	append_n(t, 0, 5, stamp_now, NOW);
	state_close(&t->s);
	t->open = false;
	for (uint64_t i = 0; i < 5; i++)
		put_record(&want, i, NOW);
	assert_int_equal(open_at(t, NOW + SEC, 100, warning, sizeof(warning)), 5);
	assert_string_equal(warning, "");
	assert_int_equal(t->got.len, want.len);
	assert_memory_equal(t->got.data, want.data, want.len);
	assert_true(t->s.since == NOW);
	buf_free(&want);
}

#define STATE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    STATE_TEST(test_open_keeps_the_newest_max_records),
	    STATE_TEST(test_open_keeps_the_newest_max_records_of_many_more),
	    STATE_TEST(test_open_at_max_records_keeps_all),
	    STATE_TEST(test_open_keeps_the_window_edges_only),
	    STATE_TEST(test_truncated_file_keeps_the_whole_records),
	    STATE_TEST(test_garbage_file_is_started_anew),
	    STATE_TEST(test_file_shorter_than_a_header_is_started_anew),
	    STATE_TEST(test_compaction_after_compact_min_appended),
	    STATE_TEST(test_compaction_after_kept_appended_caps_at_max_records),
	    STATE_TEST(test_reopen_gives_back_what_was_appended),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
