/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: checked parsing, node addresses, escape_text, rng, hex. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "io/clock.h"
#include "core/util.h"

static void
test_parse_u64_valid(void **state)
{
	uint64_t v = 0;

	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_u64("007", 0, 100, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void
test_parse_u64_empty_and_sign(void **state)
{
	uint64_t v = 1234;

	assert_int_equal(parse_u64("", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64(NULL, 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("-1", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_u64("+1", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("-0", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("0x10", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("12abc", 0, 100, &v), -EINVAL);
	assert_int_equal(parse_u64("1.5", 0, 100, &v), -EINVAL);
	/* Untouched on failure. */
	assert_int_equal(v, 1234);
}

static void
test_parse_u64_spaces(void **state)
{
	static const char *const bad[] = {" 5",  "5 ",   "\t5",  "\n5", "\v5", "\r5",
	                                  " -1", "\t-1", "\n+1", "5\n", "5\t", " "};
	uint64_t v = 1234;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = parse_u64(bad[i], 0, UINT64_MAX, &v);
		if (r != -EINVAL)
			fail_msg("parse_u64(\"%s\") returned %d, expected -EINVAL", bad[i], r);
	}
	assert_int_equal(v, 1234);
}

static void
test_parse_u64_overflow_and_range(void **state)
{
	uint64_t v = 1234;

	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("101", 0, 100, &v), -ERANGE);
	assert_int_equal(parse_u64("4", 5, 100, &v), -ERANGE);
	assert_int_equal(v, 1234);
	assert_int_equal(parse_u64("5", 5, 100, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(parse_u64("100", 5, 100, &v), 0);
	assert_int_equal(v, 100);
}

static void
test_parse_port(void **state)
{
	uint16_t p = 77;

	assert_int_equal(parse_port("0", &p), -ERANGE);
	assert_int_equal(parse_port("65536", &p), -ERANGE);
	assert_int_equal(parse_port("", &p), -EINVAL);
	assert_int_equal(parse_port("-1", &p), -EINVAL);
	assert_int_equal(parse_port("80x", &p), -EINVAL);
	assert_int_equal(p, 77);
	assert_int_equal(parse_port("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
}

static void
roundtrip(const char *text, int family, uint16_t port)
{
	struct node_addr a, b;
	char s[NODE_ADDR_STRLEN];

	memset(&a, 0xee, sizeof(a));
	if (node_addr_parse(text, &a) != 0)
		fail_msg("node_addr_parse(\"%s\") failed", text);
	assert_int_equal(a.family, family);
	assert_int_equal(a.port, port);
	assert_string_equal(node_addr_str(&a, s), text);
	assert_int_equal(node_addr_parse(s, &b), 0);
	assert_true(node_addr_equal(&a, &b));
	assert_int_equal(node_addr_cmp(&a, &b), 0);
}

static void
test_node_addr_roundtrip(void **state)
{
	struct node_addr a;
	char ip[NODE_ADDR_STRLEN];

	roundtrip("1.2.3.4:5", AF_INET, 5);
	roundtrip("127.0.0.1:65535", AF_INET, 65535);
	roundtrip("255.255.255.255:1", AF_INET, 1);
	roundtrip("[::1]:80", AF_INET6, 80);
	roundtrip("[2001:db8::7]:6000", AF_INET6, 6000);
	roundtrip("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", AF_INET6, 65535);

	assert_int_equal(node_addr_parse("10.0.0.1:6000", &a), 0);
	assert_memory_equal(a.addr, ((uint8_t[]){10, 0, 0, 1}), 4);
	assert_string_equal(node_addr_ip_str(&a, ip), "10.0.0.1");
	assert_int_equal(node_addr_parse("[::1]:80", &a), 0);
	assert_memory_equal(a.addr, ((uint8_t[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
	                    16);
	assert_string_equal(node_addr_ip_str(&a, ip), "::1");

	/* Every digit count of an IPv4 byte and of a port. */
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	assert_string_equal(node_addr_str(&a, ip), "0.0.0.0:0");
	memcpy(a.addr, ((uint8_t[]){9, 10, 99, 100}), 4);
	a.port = 10000;
	assert_string_equal(node_addr_str(&a, ip), "9.10.99.100:10000");
	assert_string_equal(node_addr_ip_str(&a, ip), "9.10.99.100");
	/* An IPv4-mapped IPv6 address stays IPv6. */
	assert_int_equal(node_addr_parse("[::ffff:10.1.2.3]:7", &a), 0);
	assert_string_equal(node_addr_str(&a, ip), "[::ffff:10.1.2.3]:7");
}

static void
test_node_addr_rejects(void **state)
{
	static const char *const bad[] = {
	    "1.2.3.4",
	    "1.2.3.4:",
	    ":80",
	    "1.2.3.4:0",
	    "[::1]80",
	    "[::1]",
	    "[::1]:",
	    "[]:80",
	    "::1:80",
	    "[1.2.3.4]:80",
	    "localhost:80",
	    "example.com:80",
	    "1.2.3:80",
	    "1.2.3.256:80",
	    "1.2.3.4:65536",
	    "1.2.3.4:-1",
	    "1.2.3.4:+80",
	    "1.2.3.4: 80",
	    "1.2.3.4:\t80",
	    " 1.2.3.4:80",
	    "1.2.3.4:80 ",
	    "1.2.3.4:80x",
	    "",
	    "[::1]:80:",
	    "[::1:80",
	    "1.2.3.4::80",
	};
	struct node_addr a, orig;

	memset(&a, 0x5a, sizeof(a));
	orig = a;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (node_addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("node_addr_parse(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(node_addr_parse(NULL, &a), -EINVAL);
	assert_memory_equal(&a, &orig, sizeof(a));
}

static void
test_node_addr_cmp_equal(void **state)
{
	struct node_addr a, b, c, d;

	assert_int_equal(node_addr_parse("1.2.3.4:80", &a), 0);
	assert_int_equal(node_addr_parse("1.2.3.4:81", &b), 0);
	assert_int_equal(node_addr_parse("1.2.3.5:1", &c), 0);
	assert_int_equal(node_addr_parse("[::1]:80", &d), 0);
	assert_false(node_addr_equal(&a, &b));
	assert_int_equal(node_addr_cmp(&a, &b), -1);
	assert_int_equal(node_addr_cmp(&b, &a), 1);
	assert_int_equal(node_addr_cmp(&b, &c), -1);
	assert_true(node_addr_cmp(&a, &d) != 0);
	assert_int_equal(node_addr_cmp(&a, &d), -node_addr_cmp(&d, &a));
	/* Bytes past the IPv4 address do not matter. */
	b = a;
	b.addr[10] = 99;
	assert_true(node_addr_equal(&a, &b));
}

static void
test_node_addr_sockaddr(void **state)
{
	struct node_addr a, b;
	struct sockaddr_storage ss;

	assert_int_equal(node_addr_parse("[2001:db8::1]:4242", &a), 0);
	assert_true(node_addr_to_sockaddr(&a, &ss) > 0);
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_true(node_addr_equal(&a, &b));
	assert_int_equal(node_addr_parse("192.168.1.9:4242", &a), 0);
	assert_true(node_addr_to_sockaddr(&a, &ss) > 0);
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_true(node_addr_equal(&a, &b));
	/* An IPv4 client of a dual-stack socket is its IPv4 address. */
	assert_int_equal(node_addr_parse("[::ffff:192.168.1.9]:4242", &b), 0);
	assert_int_equal(b.family, AF_INET6);
	assert_true(node_addr_to_sockaddr(&b, &ss) > 0);
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(b.family, AF_INET);
	assert_true(node_addr_equal(&a, &b));
	ss.ss_family = AF_UNIX;
	assert_int_equal(node_addr_from_sockaddr((struct sockaddr *)&ss, &b), -EAFNOSUPPORT);
}

static void
check_escape(const void *in, size_t n, const char *want)
{
	char *got = escape_text(in, n);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_escape_text(void **state)
{
	check_escape("hello, world ~!", 15, "hello, world ~!");
	check_escape("", 0, "");
	check_escape("a\nb\tc\\d\re", 9, "a\\nb\\tc\\\\d\\re");
	check_escape("a\0b", 3, "a\\x00b");
	check_escape("\x01\x1f\x7f", 3, "\\x01\\x1f\\x7f");
	/* Valid UTF-8 of 2, 3 and 4 bytes passes unchanged. */
	check_escape("caf\xc3\xa9", 5, "caf\xc3\xa9");
	check_escape("\xe2\x82\xac", 3, "\xe2\x82\xac");
	check_escape("\xf0\x9f\x98\x80!", 5, "\xf0\x9f\x98\x80!");
	check_escape("\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
	/* Invalid: lone continuation, bad lead bytes, truncated sequences. */
	check_escape("\x80", 1, "\\x80");
	check_escape("\xff\xfe", 2, "\\xff\\xfe");
	check_escape("\xf8\x88\x80\x80\x80", 5, "\\xf8\\x88\\x80\\x80\\x80");
	check_escape("\xe2\x82", 2, "\\xe2\\x82");
	check_escape("\xc3(", 2, "\\xc3(");
	/* Overlong forms of '/' and NUL, surrogates, beyond U+10FFFF. */
	check_escape("\xc0\xaf", 2, "\\xc0\\xaf");
	check_escape("\xc0\x80", 2, "\\xc0\\x80");
	check_escape("\xe0\x80\xaf", 3, "\\xe0\\x80\\xaf");
	check_escape("\xf0\x80\x80\xaf", 4, "\\xf0\\x80\\x80\\xaf");
	check_escape("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
	check_escape("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");
}

static void
test_escape_text_worst_case(void **state)
{
	uint8_t in[256];
	char *out;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	out = escape_text(in, sizeof(in));
	/* Output is one line of printable text except the UTF-8 bytes that passed. */
	for (const char *p = out; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p != 0x7f);
	free(out);
	/* All bytes escaped: 4 output bytes each, no overflow (checked by ASan). */
	memset(in, 0xff, sizeof(in));
	out = escape_text(in, sizeof(in));
	assert_int_equal(strlen(out), 4 * sizeof(in));
	free(out);
}

static void
test_rng_below(void **state)
{
	static const uint64_t bounds[] = {1, 2, 3, 7, 10, 1000, (1ULL << 63) + 1, UINT64_MAX};
	struct rng r;
	unsigned hits[10] = {0};

	rng_seed(&r, 12345);
	for (size_t b = 0; b < ARRAY_SIZE(bounds); b++)
		for (int i = 0; i < 10000; i++)
			assert_true(rng_below(&r, bounds[b]) < bounds[b]);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(rng_below(&r, 1), 0);
	/* Every value of a small range shows up with about the right frequency. */
	for (int i = 0; i < 100000; i++)
		hits[rng_below(&r, 10)]++;
	for (int i = 0; i < 10; i++)
		assert_in_range(hits[i], 9000, 11000);
}

static void
test_rng_deterministic(void **state)
{
	struct rng a, b, z;

	rng_seed(&a, 99);
	rng_seed(&b, 99);
	for (int i = 0; i < 1000; i++)
		assert_true(rng_next(&a) == rng_next(&b));
	rng_seed(&b, 100);
	assert_true(rng_next(&a) != rng_next(&b));
	/* A zero seed must not leave xorshift stuck at zero. */
	rng_seed(&z, 0);
	assert_true(rng_next(&z) != 0 || rng_next(&z) != 0);
}

static void
test_hex_encode(void **state)
{
	static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char buf[2 * sizeof(in) + 1];

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(hex_encode(in, sizeof(in), buf), buf);
	assert_string_equal(buf, "00017f80abff");
	assert_string_equal(hex_encode(in, 0, buf), "");
}

static void
test_format_wallclock(void **state)
{
	char buf[32];

	setenv("TZ", "UTC", 1);
	assert_string_equal(
	    format_wallclock(86400ULL * USEC_PER_SEC + 61 * USEC_PER_SEC + 5, buf, sizeof(buf)),
	    "1970-01-02 00:01:01");
	/* The same second again (the cached text), the next one, and back. */
	assert_string_equal(
	    format_wallclock(86400ULL * USEC_PER_SEC + 61 * USEC_PER_SEC + 999999, buf, sizeof(buf)),
	    "1970-01-02 00:01:01");
	assert_string_equal(
	    format_wallclock(86400ULL * USEC_PER_SEC + 62 * USEC_PER_SEC, buf, sizeof(buf)),
	    "1970-01-02 00:01:02");
	assert_string_equal(format_wallclock(0, buf, sizeof(buf)), "1970-01-01 00:00:00");
	/* A short buffer gets what fits, terminated. */
	assert_string_equal(format_wallclock(0, buf, 5), "1970");
	assert_string_equal(format_wallclock(0, buf, 1), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_u64_valid),
	    cmocka_unit_test(test_parse_u64_empty_and_sign),
	    cmocka_unit_test(test_parse_u64_spaces),
	    cmocka_unit_test(test_parse_u64_overflow_and_range),
	    cmocka_unit_test(test_parse_port),
	    cmocka_unit_test(test_node_addr_roundtrip),
	    cmocka_unit_test(test_node_addr_rejects),
	    cmocka_unit_test(test_node_addr_cmp_equal),
	    cmocka_unit_test(test_node_addr_sockaddr),
	    cmocka_unit_test(test_escape_text),
	    cmocka_unit_test(test_escape_text_worst_case),
	    cmocka_unit_test(test_rng_below),
	    cmocka_unit_test(test_rng_deterministic),
	    cmocka_unit_test(test_hex_encode),
	    cmocka_unit_test(test_format_wallclock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
