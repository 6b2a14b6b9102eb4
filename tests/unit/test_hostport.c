/* SPDX-License-Identifier: MIT */
/* Unit tests of hostport.c: HOST:PORT as seed lists and seeds write it, every form and mistake. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hostport.h"
#include "testaddr.h"

static struct host_port
good(const char *s)
{
	struct host_port h;
	const char *why = NULL;

	if (host_port_parse(s, &h, &why) != 0)
		fail_msg("'%s' refused: %s", s, why);
	return h;
}

static void
bad(const char *s, const char *want)
{
	struct host_port h;
	const char *why = NULL;

	if (host_port_parse(s, &h, &why) != -EINVAL)
		fail_msg("'%s' accepted", s);
	assert_non_null(why);
	if (!strstr(why, want))
		fail_msg("'%s': reason '%s' does not contain '%s'", s, why, want);
}

/* A string of n copies of c. */
static char *
repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void
test_name(void **state)
{
	struct host_port h = good("localhost:45501");
	char buf[HOST_PORT_STRLEN];

	assert_string_equal(h.host, "localhost");
	assert_int_equal(h.addr.port, 45501);
	assert_int_equal(h.addr.family, 0);
	assert_string_equal(host_port_str(&h, buf), "localhost:45501");
	h = good("seed-1.gossip_net.example.com.:1");
	assert_string_equal(h.host, "seed-1.gossip_net.example.com.");
	assert_int_equal(h.addr.port, 1);
	h = good("S1.Example:65535");
	assert_string_equal(h.host, "S1.Example");
	assert_int_equal(h.addr.port, 65535);
	/* Digits are fine but in the last label, where they would be a mistyped IPv4 address. */
	assert_string_equal(good("1.2.3.4a:9").host, "1.2.3.4a");
	assert_string_equal(good("0-1.example:9").host, "0-1.example");
}

static void
test_ipv4(void **state)
{
	struct host_port h = good("127.0.0.1:5000");
	struct node_addr want = addr("127.0.0.1:5000");
	char buf[HOST_PORT_STRLEN];

	assert_string_equal(h.host, "");
	assert_true(node_addr_equal(&h.addr, &want));
	assert_string_equal(host_port_str(&h, buf), "127.0.0.1:5000");
	bad("256.1.1.1:5000", "not a valid IPv4 address");
	bad("1.2.3:5000", "not a valid IPv4 address");
	bad("1.2.3.4.5:5000", "not a valid IPv4 address");
}

static void
test_ipv6(void **state)
{
	struct host_port h = good("[::1]:5000");
	struct node_addr want = addr("[::1]:5000");
	char buf[HOST_PORT_STRLEN];

	assert_string_equal(h.host, "");
	assert_true(node_addr_equal(&h.addr, &want));
	assert_string_equal(host_port_str(&h, buf), "[::1]:5000");
	h = good("[2001:db8::7]:65535");
	want = addr("[2001:db8::7]:65535");
	assert_true(node_addr_equal(&h.addr, &want));
	bad("::1:5000", "an IPv6 address goes in brackets");
	bad("2001:db8::7:5000", "an IPv6 address goes in brackets");
	bad("[::1]", "no port");
	bad("[::1]5000", "expected ':' after ']'");
	bad("[::1:5000", "no ']'");
	bad("[]:5000", "not a valid IPv6 address");
	bad("[127.0.0.1]:5000", "not a valid IPv6 address");
	bad("[localhost]:5000", "not a valid IPv6 address");
	bad("[::1]:0", "port out of range");
}

static void
test_ports(void **state)
{
	bad("localhost:0", "port out of range 1-65535");
	bad("localhost:65536", "port out of range 1-65535");
	bad("localhost:99999", "port out of range 1-65535");
	bad("localhost:99999999999999999999999", "port out of range 1-65535");
	bad("localhost:-1", "port is not a number");
	bad("localhost:+1", "port is not a number");
	bad("localhost:http", "port is not a number");
	bad("localhost:5000x", "port is not a number");
	bad("localhost:", "no port");
	bad("localhost", "no port");
	bad("127.0.0.1", "no port");
	assert_int_equal(good("localhost:1").addr.port, 1);
	assert_int_equal(good("localhost:65535").addr.port, 65535);
}

static void
test_bad_lines(void **state)
{
	bad("", "no port");
	bad(":5000", "no host");
	bad("foo bar", "a space in it");
	bad("localhost 45501", "a space in it");
	bad("local\thost:1", "a space in it");
	bad("seeds = [ \"1.1.1.1:1\" ];", "a space in it");
	bad("exa$mple.com:1", "a character other than");
	bad("example..com:1", "empty label");
	bad(".example.com:1", "empty label");
	bad("example.com..:1", "empty label");
	bad("-example.com:1", "starts with '-'");
	bad("example-.com:1", "ends with '-'");
	bad("example.com-:1", "ends with '-'");
	bad("a:b:c", "an IPv6 address goes in brackets");
}

/* At the limits: 63 characters a label, 253 a name (254 with the final dot). */
static void
test_name_lengths(void **state)
{
	char *label = repeat('a', HOST_LABEL_LEN), *long_label = repeat('a', HOST_LABEL_LEN + 1);
	char name[600], s[1000];

	snprintf(s, sizeof(s), "%s.example:1", label);
	good(s);
	snprintf(s, sizeof(s), "%s.example:1", long_label);
	bad(s, "longer than 63 characters");
	/* 4 labels of 63 and a dot each: 255; cut to 253 exactly. */
	snprintf(name, sizeof(name), "%s.%s.%s.%s", label, label, label, label);
	name[HOST_NAME_LEN] = '\0';
	assert_int_equal(strlen(name), HOST_NAME_LEN);
	snprintf(s, sizeof(s), "%s:7", name);
	assert_string_equal(good(s).host, name);
	snprintf(s, sizeof(s), "%s.:7", name);
	good(s); /* the root's dot is not counted */
	snprintf(s, sizeof(s), "%sb:7", name);
	bad(s, "longer than 253 characters");
	snprintf(s, sizeof(s), "%sbb.:7", name);
	bad(s, "longer than 253 characters");
	snprintf(s, sizeof(s), "%s%s%s:7", name, name, name);
	bad(s, "longer than 253 characters");
	free(label);
	free(long_label);
}

static void
test_host_name_check(void **state)
{
	const char *why = NULL;

	assert_int_equal(host_name_check("localhost", &why), 0);
	assert_int_equal(host_name_check("node-1.example.com.", &why), 0);
	assert_int_equal(host_name_check("", &why), -EINVAL);
	assert_string_equal(why, "empty host name");
	assert_int_equal(host_name_check("10.0.0.300", &why), -EINVAL);
	assert_string_equal(why, "not a valid IPv4 address");
	assert_int_equal(host_name_check("not an ip", &why), -EINVAL);
	assert_true(host_name_equal("Seed-1.Example.com", "seed-1.example.COM."));
	assert_true(host_name_equal("a.", "a"));
	assert_false(host_name_equal("seed-1.example", "seed-2.example"));
	assert_false(host_name_equal("a.example", "a.example.com"));
	assert_false(host_name_equal("a..", "a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name),
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_ports),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_name_lengths),
	    cmocka_unit_test(test_host_name_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
