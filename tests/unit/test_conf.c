/* SPDX-License-Identifier: MIT */
/* Unit tests for conf.c: defaults, libconfig files, seed lists, errors, validation, printing. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/conffile.h"
#include "core/config.h"
#include "core/wire.h"
#include "core/util.h"
#include "testaddr.h"

#define SEC USEC_PER_SEC
#define MS USEC_PER_MSEC

static char tmpdir[PATH_MAX];
static unsigned file_counter;

/* Writes content to a new file under the test directory; returns its malloc'd path. */
static char *
write_file_named(const char *name, const char *content, size_t len)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
		abort();
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static char *
write_file(const char *content)
{
	char name[32];
	snprintf(name, sizeof(name), "f%u.conf", file_counter++);
	return write_file_named(name, content, strlen(content));
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/gossip-test-conf-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int
teardown_dir(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Applies content as a new file over c; returns the result, err filled. */
static int
apply_text(struct gossip_config *c, const char *content, char *err, char **ret_path)
{
	char *path = write_file(content);
	int r = conf_apply_file(c, path, err, CONF_ERR_LEN);
	if (ret_path)
		*ret_path = path;
	else
		free(path);
	return r;
}

static void
apply_ok(struct gossip_config *c, const char *content)
{
	char err[CONF_ERR_LEN];
	int r = apply_text(c, content, err, NULL);
	if (r != 0)
		fail_msg("conf_apply_file failed (%d): %s\n--- file:\n%s", r, err, content);
}

/* Expects failure with err containing "path:line: " followed by want. */
static void
apply_bad(const char *content, int line, const char *want)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN], *path, *prefix;
	int r;

	conf_init(&c);
	r = apply_text(&c, content, err, &path);
	if (r != -EINVAL)
		fail_msg("conf_apply_file returned %d, expected -EINVAL, for:\n%s", r, content);
	if (line > 0) {
		if (asprintf(&prefix, "%s:%d: ", path, line) < 0)
			abort();
	} else {
		prefix = xstrdup(path);
	}
	if (strncmp(err, prefix, strlen(prefix)) != 0 && !strstr(err, prefix))
		fail_msg("error \"%s\" does not name \"%s\"", err, prefix);
	if (want && !strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	/* One line per error, each ending in a newline. */
	assert_true(err[0] != '\0' && err[strlen(err) - 1] == '\n');
	/* Nothing was applied. */
	assert_int_equal(c.peer.degree, 4);
	assert_int_equal(c.n_files, 0);
	free(prefix);
	free(path);
	conf_free(&c);
}

static void
assert_seeds(const struct gossip_config *c, const char *const *want, size_t n)
{
	assert_int_equal(c->n_seeds, n);
	for (size_t i = 0; i < n; i++) {
		struct node_addr a = addr(want[i]);
		char s[NODE_ADDR_STRLEN];
		if (!node_addr_equal(&c->seeds[i], &a))
			fail_msg("seed %zu is %s, expected %s", i, node_addr_str(&c->seeds[i], s),
			         want[i]);
	}
}

/* Every setting of d equals that of c (seeds and file list aside). */
static void
assert_same_settings(const struct gossip_config *d, const struct gossip_config *c)
{
	if (d->seed.lease_time_usec != c->seed.lease_time_usec)
		fail_msg("lease_time %llu != %llu", (unsigned long long)d->seed.lease_time_usec,
		         (unsigned long long)c->seed.lease_time_usec);
	assert_int_equal(d->seed.max_peers, c->seed.max_peers);
	assert_int_equal(d->seed.max_connections, c->seed.max_connections);
	assert_int_equal(d->seed.max_connections_per_host, c->seed.max_connections_per_host);
	assert_int_equal(d->seed.max_peers_per_host, c->seed.max_peers_per_host);
	assert_int_equal(d->seed.peer_list_size, c->seed.peer_list_size);
	assert_int_equal(d->seed.confirm_dead, c->seed.confirm_dead);
	assert_true(d->seed.probe_timeout_usec == c->seed.probe_timeout_usec);
	assert_int_equal(d->peer.degree, c->peer.degree);
	assert_int_equal(d->peer.max_neighbours, c->peer.max_neighbours);
	assert_true(d->peer.ping_interval_usec == c->peer.ping_interval_usec);
	assert_true(d->peer.ping_timeout_usec == c->peer.ping_timeout_usec);
	assert_int_equal(d->peer.ping_misses, c->peer.ping_misses);
	assert_int_equal(d->peer.seen_cache_size, c->peer.seen_cache_size);
	if (d->peer.seen_cache_age_usec != c->peer.seen_cache_age_usec)
		fail_msg("seen_cache_age %llu != %llu",
		         (unsigned long long)d->peer.seen_cache_age_usec,
		         (unsigned long long)c->peer.seen_cache_age_usec);
	assert_int_equal(d->peer.max_message_size, c->peer.max_message_size);
	assert_true(d->peer.send_queue_limit == c->peer.send_queue_limit);
	assert_int_equal(d->peer.history, c->peer.history);
	assert_true(d->peer.register_retry_max_usec == c->peer.register_retry_max_usec);
	assert_int_equal(d->peer.max_control_clients, c->peer.max_control_clients);
	assert_true(d->peer.control_idle_timeout_usec == c->peer.control_idle_timeout_usec);
#define SAME_STR(a, b)                                                                             \
	do {                                                                                       \
		if ((a) || (b)) {                                                                  \
			assert_non_null(a);                                                        \
			assert_non_null(b);                                                        \
			assert_string_equal(a, b);                                                 \
		}                                                                                  \
	} while (0)
	SAME_STR(d->log_dir, c->log_dir);
	SAME_STR(d->address, c->address);
	SAME_STR(d->peer.control_socket, c->peer.control_socket);
	SAME_STR(d->peer.control_group, c->peer.control_group);
#undef SAME_STR
}

static void
test_defaults(void **state)
{
	struct gossip_config c;

	conf_init(&c);
	assert_int_equal(c.n_seeds, 0);
	assert_null(c.seeds);
	assert_null(c.log_dir);
	assert_null(c.address);
	assert_true(c.seed.lease_time_usec == 30 * SEC);
	assert_int_equal(c.seed.max_peers, 10000);
	assert_int_equal(c.seed.max_connections, 16384);
	assert_int_equal(c.seed.max_connections_per_host, 1024);
	assert_int_equal(c.seed.max_peers_per_host, 1024);
	assert_true(c.seed.confirm_dead);
	assert_true(c.seed.probe_timeout_usec == 1 * SEC);
	assert_int_equal(c.seed.dead_reporters, 2);
	assert_int_equal(c.peer.degree, 4);
	assert_int_equal(c.peer.max_neighbours, 32);
	assert_true(c.peer.ping_interval_usec == SEC / 2);
	assert_true(c.peer.ping_timeout_usec == SEC / 2);
	assert_int_equal(c.peer.ping_misses, 3);
	assert_true(c.peer.suspicion_timeout_usec == 6 * SEC);
	assert_int_equal(c.peer.indirect_probes, 3);
	assert_int_equal(c.peer.seen_cache_size, 100000);
	/* Less max_clock_skew, the anti-entropy window: at least 10 minutes. */
	assert_true(c.peer.seen_cache_age_usec == 720 * SEC);
	assert_true(c.peer.seen_cache_age_usec - c.peer.max_clock_skew_usec >= 600 * SEC);
	assert_int_equal(c.peer.max_message_size, 65536);
	assert_true(c.peer.send_queue_limit == 8 * 1024 * 1024);
	assert_int_equal(c.peer.history, 100);
	assert_int_equal(c.peer.journal_message_rate, 100);
	assert_true(c.peer.lazy_push);
	assert_true(c.peer.ihave_delay_usec == 100 * MS);
	assert_true(c.peer.graft_timeout_usec == 500 * MS);
	assert_true(c.peer.anti_entropy_interval_usec == 5 * SEC);
	assert_null(c.peer.state_file);
	assert_true(c.peer.resend_cache_size == 64 * 1024 * 1024);
	assert_true(c.peer.register_retry_max_usec == 30 * SEC);
	assert_int_equal(c.peer.max_control_clients, 64);
	assert_true(c.peer.control_idle_timeout_usec == 30 * USEC_PER_SEC);
	assert_null(c.peer.control_socket);
	assert_null(c.peer.control_group);
	assert_int_equal(c.n_files, 0);
	/* The defaults pass validation when seeds are not needed. */
	{
		char err[CONF_ERR_LEN];
		assert_int_equal(conf_validate(&c, false, err, sizeof(err)), 0);
		assert_string_equal(err, "");
	}
	conf_free(&c);
}

static const char full_config[] =
    "# every setting\n"
    "seeds = [ \"10.0.0.1:5000\", \"[2001:db8::1]:5001\", \"10.0.0.3:5002\" ];\n"
    "log_dir = \"/var/log/g\";\n"
    "address = \"192.0.2.7\";\n"
    "seed = {\n"
    "  lease_time = 45.5;\n"
    "  max_peers = 123;\n"
    "  peer_list_size = 77;\n"
    "  max_connections = 99;\n"
    "  max_connections_per_host = 12;\n"
    "  max_peers_per_host = 0;\n"
    "  confirm_dead = false;\n"
    "  probe_timeout = 0.25;\n"
    "};\n"
    "peer = {\n"
    "  degree = 6;\n"
    "  max_neighbours = 40;\n"
    "  ping_interval = 2;\n"
    "  ping_timeout = 1.5;\n"
    "  ping_misses = 5;\n"
    "  seen_cache_size = 5000;\n"
    "  seen_cache_age = 120;\n"
    "  max_message_size = 1000000;\n"
    "  send_queue_limit = 1048576L;\n"
    "  history = 0;\n"
    "  lazy_push = false;\n"
    "  ihave_delay = 0;\n"
    "  graft_timeout = 0.2;\n"
    "  resend_cache_size = 0;\n"
    "  register_retry_max = 0.1;\n"
    "  max_control_clients = 4096;\n"
    "  control_idle_timeout = 2.5;\n"
    "  sign_messages = false;\n"
    "  max_clock_skew = 30;\n"
    "  key_cache_size = 500;\n"
    "  control_socket = \"/run/g/peer.sock\";\n"
    "  control_group = \"gossip\";\n"
    "};\n"
    "tls = {\n"
    "  mode = \"optional\";\n"
    "  ca_file = \"/etc/g/ca.crt\";\n"
    "  cert_file = \"/etc/g/n.crt\";\n"
    "  key_file = \"/etc/g/n.key\";\n"
    "  crl_file = \"/etc/g/ca.crl\";\n"
    "};\n";

static void
check_full(const struct gossip_config *c)
{
	static const char *const seeds[] = {"10.0.0.1:5000", "[2001:db8::1]:5001", "10.0.0.3:5002"};

	assert_seeds(c, seeds, 3);
	assert_string_equal(c->log_dir, "/var/log/g");
	assert_string_equal(c->address, "192.0.2.7");
	assert_true(c->seed.lease_time_usec == 45500 * MS);
	assert_int_equal(c->seed.max_peers, 123);
	assert_int_equal(c->seed.peer_list_size, 77);
	assert_int_equal(c->seed.max_connections, 99);
	assert_int_equal(c->seed.max_connections_per_host, 12);
	assert_int_equal(c->seed.max_peers_per_host, 0);
	assert_false(c->seed.confirm_dead);
	assert_true(c->seed.probe_timeout_usec == 250 * MS);
	assert_int_equal(c->peer.degree, 6);
	assert_int_equal(c->peer.max_neighbours, 40);
	assert_true(c->peer.ping_interval_usec == 2 * SEC);
	assert_true(c->peer.ping_timeout_usec == 1500 * MS);
	assert_int_equal(c->peer.ping_misses, 5);
	assert_int_equal(c->peer.seen_cache_size, 5000);
	assert_true(c->peer.seen_cache_age_usec == 120 * SEC);
	assert_int_equal(c->peer.max_message_size, 1000000);
	assert_true(c->peer.send_queue_limit == 1048576);
	assert_int_equal(c->peer.history, 0);
	assert_false(c->peer.lazy_push);
	assert_true(c->peer.ihave_delay_usec == 0);
	assert_true(c->peer.graft_timeout_usec == 200 * MS);
	assert_true(c->peer.resend_cache_size == 0);
	assert_true(c->peer.register_retry_max_usec == 100 * MS);
	assert_int_equal(c->peer.max_control_clients, 4096);
	assert_true(c->peer.control_idle_timeout_usec == 2500000);
	assert_false(c->peer.sign_messages);
	assert_true(c->peer.max_clock_skew_usec == 30 * SEC);
	assert_int_equal(c->peer.key_cache_size, 500);
	assert_string_equal(c->peer.control_socket, "/run/g/peer.sock");
	assert_string_equal(c->peer.control_group, "gossip");
	assert_string_equal(c->tls.mode, "optional");
	assert_int_equal(conf_tls_mode(c), TLS_MODE_OPTIONAL);
	assert_string_equal(c->tls.ca_file, "/etc/g/ca.crt");
	assert_string_equal(c->tls.cert_file, "/etc/g/n.crt");
	assert_string_equal(c->tls.key_file, "/etc/g/n.key");
	assert_string_equal(c->tls.crl_file, "/etc/g/ca.crl");
}

static void
test_full_file(void **state)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN], *path;

	conf_init(&c);
	assert_int_equal(apply_text(&c, full_config, err, &path), 0);
	assert_string_equal(err, "");
	check_full(&c);
	assert_int_equal(c.n_files, 1);
	assert_string_equal(c.files[0], path);
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), 0);
	free(path);
	conf_free(&c);
}

static void
test_installed_example(void **state)
{
	struct gossip_config c, d;
	char err[CONF_ERR_LEN];

	/* The shipped example shows the defaults. */
	if (access("etc/gossip/gossip.conf", R_OK) != 0)
		skip();
	conf_init(&c);
	conf_init(&d);
	assert_int_equal(conf_apply_file(&c, "etc/gossip/gossip.conf", err, sizeof(err)), 0);
	assert_int_equal(c.n_seeds, 3);
	assert_same_settings(&c, &d);
	/* Not the defaults: TLS, with the files gossip-cert setup makes. */
	assert_string_equal(c.tls.mode, "required");
	assert_string_equal(c.tls.ca_file, "/etc/gossip/tls/ca.crt");
	assert_string_equal(c.tls.cert_file, "/etc/gossip/tls/node.crt");
	assert_string_equal(c.tls.key_file, "/etc/gossip/tls/node.key");
	assert_null(c.tls.crl_file);
	assert_int_equal(conf_apply_file(&d, "etc/gossip/seeds.txt", err, sizeof(err)), 0);
	assert_int_equal(d.n_seeds, 3);
	assert_memory_equal(c.seeds, d.seeds, 3 * sizeof(*c.seeds));
	conf_free(&c);
	conf_free(&d);
}

static void
test_seed_list(void **state)
{
	static const char list[] = "# seeds, prototype format\r\n"
	                           "\r\n"
	                           "127.0.0.1:5000\r\n"
	                           "   \t\n"
	                           "127.0.0.1:5001   \n"
	                           "\t127.0.0.1:5002 # third\n"
	                           "# 127.0.0.1:5003\n"
	                           "[::1]:5004\t \r\n"
	                           "10.1.2.3:65535"; /* no final newline */
	static const char *const want[] = {"127.0.0.1:5000", "127.0.0.1:5001", "127.0.0.1:5002",
	                                   "[::1]:5004", "10.1.2.3:65535"};
	struct gossip_config c;
	char err[CONF_ERR_LEN];

	conf_init(&c);
	c.peer.degree = 9;
	assert_int_equal(apply_text(&c, list, err, NULL), 0);
	assert_seeds(&c, want, ARRAY_SIZE(want));
	/* A seed list sets seeds only. */
	assert_int_equal(c.peer.degree, 9);
	assert_int_equal(c.n_files, 1);
	conf_free(&c);
}

static void
test_seed_list_errors(void **state)
{
	apply_bad("127.0.0.1:5000\n"
	          "# comment\n"
	          "\n"
	          "127.0.0.1:99999\n"
	          "127.0.0.1:5001\n",
	          4, "expected HOST:PORT, got '127.0.0.1:99999' (port out of range 1-65535)");
	apply_bad("127.0.0.1:5000\r\n"
	          "127.0.0.1:5001\r\n"
	          "\r\n"
	          "# again:\r\n"
	          "\r\n"
	          "127.0.0.1:5000 # dup\r\n",
	          6, "duplicate seed 127.0.0.1:5000");
	/* The line the issue was filed for: a name is taken, anything else named as expected. */
	apply_bad("[::1]:5000\nlocalhost-:5001\n", 2,
	          "expected HOST:PORT, got 'localhost-:5001' (a label of the host name ends with '-')");
	apply_bad("1.2.3.4:5\n1.2.3.4\n", 2, "expected HOST:PORT, got '1.2.3.4' (no port)");
	apply_bad("localhost\n", 1, "expected HOST:PORT, got 'localhost' (no port)");
	apply_bad("localhost 45501\n", 1, "expected HOST:PORT, got 'localhost 45501' (a space in it)");
	apply_bad("localhost:5000\nLOCALHOST.:5000\n", 2, "duplicate seed LOCALHOST.:5000");
	{
		/* Every bad line is reported, each with its own line number. */
		struct gossip_config c;
		char err[CONF_ERR_LEN], *path, *want;
		conf_init(&c);
		assert_int_equal(
		    apply_text(&c, "1.1.1.1:1\nbad\n1.1.1.1:1\n2.2.2.2:0\n", err, &path), -EINVAL);
		if (asprintf(&want,
		             "%s:2: expected HOST:PORT, got 'bad' (no port)\n"
		             "%s:3: duplicate seed 1.1.1.1:1\n"
		             "%s:4: expected HOST:PORT, got '2.2.2.2:0' (port out of range 1-65535)\n",
		             path, path, path) < 0)
			abort();
		assert_string_equal(err, want);
		assert_int_equal(c.n_seeds, 0);
		free(want);
		free(path);
		conf_free(&c);
	}
}

static void
test_seed_list_nul_and_too_many(void **state)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN], *path, *big;
	size_t len = 0;

	conf_init(&c);
	path = write_file_named("nul.txt", "1.1.1.1:1\n2.2.2.2:2\0\n3.3.3.3:3\n", 32);
	assert_int_equal(conf_apply_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: NUL byte"));
	free(path);

	big = malloc((CONF_MAX_SEEDS + 1) * 24);
	for (unsigned i = 0; i <= CONF_MAX_SEEDS; i++)
		len += (size_t)sprintf(big + len, "10.0.%u.%u:%u\n", i / 250, i % 250, 1000 + i);
	path = write_file_named("big.txt", big, len);
	assert_int_equal(conf_apply_file(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1025: too many seeds"));
	/* The limit itself is fine. */
	free(path);
	len = 0;
	for (unsigned i = 0; i < CONF_MAX_SEEDS; i++)
		len += (size_t)sprintf(big + len, "10.0.%u.%u:%u\n", i / 250, i % 250, 1000 + i);
	path = write_file_named("max.txt", big, len);
	assert_int_equal(conf_apply_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.n_seeds, CONF_MAX_SEEDS);
	free(path);
	free(big);
	conf_free(&c);
}

static void
test_syntax_error(void **state)
{
	apply_bad("peer = {\n  degree = 4;\n  max_neighbours = ;\n};\n", 3, NULL);
	apply_bad("# ok\n\n\nseeds = [ \"1.1.1.1:1\" \n", 0, NULL);
	apply_bad("peer = { degree = 4; };\npeer = { degree = 5; };\n", 2, "duplicate");
	apply_bad("log_dir = \"unterminated;\n", 0, NULL);
}

static void
test_unknown_settings(void **state)
{
	apply_bad("peer = { degree = 4; };\n\nbogus = 1;\n", 3, "unknown setting bogus");
	apply_bad("peer = {\n  degree = 4;\n  degre = 5;\n};\n", 3, "unknown setting peer.degre");
	apply_bad("seed = {\n\n  lease = 5;\n};\n", 3, "unknown setting seed.lease");
	/* A seed-section name under peer is unknown there. */
	apply_bad("peer = {\n  lease_time = 5;\n};\n", 2, "unknown setting peer.lease_time");
	apply_bad("\npeer = 5;\n", 2, "peer must be a group");
	apply_bad("seed = [ 1 ];\n", 1, "seed must be a group");
	apply_bad("other = { degree = 4; };\n", 1, "unknown setting other");
}

static void
test_wrong_types(void **state)
{
	apply_bad("peer = {\n  degree = \"4\";\n};\n", 2, "peer.degree must be an integer");
	apply_bad("peer = {\n  degree = 4.0;\n};\n", 2, "peer.degree must be an integer");
	apply_bad("peer = { send_queue_limit = 100000.0; };\n", 1,
	          "peer.send_queue_limit must be an integer");
	apply_bad("seed = {\n  confirm_dead = 1;\n};\n", 2,
	          "seed.confirm_dead must be true or false");
	apply_bad("seed = { confirm_dead = \"yes\"; };\n", 1,
	          "seed.confirm_dead must be true or false");
	apply_bad("peer = {\n\n  ping_interval = \"1\";\n};\n", 3,
	          "peer.ping_interval must be a number of seconds");
	apply_bad("seed = { lease_time = true; };\n", 1,
	          "seed.lease_time must be a number of seconds");
	apply_bad("log_dir = 5;\n", 1, "log_dir must be a string");
	apply_bad("\naddress = \"\";\n", 2, "address must not be empty");
	apply_bad("peer = { control_socket = [ \"a\" ]; };\n", 1,
	          "peer.control_socket must be a string");
	apply_bad("seeds = \"1.1.1.1:1\";\n", 1, "seeds must be a list");
	/* A list may mix types; a non-string element is reported with its index. */
	apply_bad("seeds = ( \"1.1.1.1:1\",\n  2,\n  \"2.2.2.2:2\" );\n", 2,
	          "seeds[1]: expected a \"HOST:PORT\" string");
	apply_bad("seeds = [\n  \"1.1.1.1:1\",\n  \"1.1.1.1:80:\",\n  \"2.2.2.2:2\"\n];\n", 3,
	          "seeds[1]: expected \"HOST:PORT\", got '1.1.1.1:80:' (an IPv6 address goes in brackets");
	apply_bad("seeds = [\n  \"1.1.1.1:1\",\n  \"seed-1.example:0\"\n];\n", 3,
	          "seeds[1]: expected \"HOST:PORT\", got 'seed-1.example:0' (port out of range 1-65535)");
	apply_bad("seeds = [\n  \"1.1.1.1:1\",\n  \"1.1.1.1:1\",\n  \"2.2.2.2:2\"\n];\n", 3,
	          "duplicate seed 1.1.1.1:1");
	apply_bad("seeds = [ ];\n", 1, "seeds must not be empty");
}

static void
test_out_of_range(void **state)
{
	apply_bad("peer = { degree = 0; };\n", 1, "peer.degree = 0 out of range [1, 64]");
	apply_bad("peer = {\n  degree = 65;\n};\n", 2, "peer.degree = 65 out of range [1, 64]");
	apply_bad("peer = { degree = -1; };\n", 1, "peer.degree = -1 out of range");
	apply_bad("peer = { degree = 4294967297L; };\n", 1, "peer.degree");
	apply_bad("peer = { ping_misses = 0; };\n", 1,
	          "peer.ping_misses = 0 out of range [1, 100]");
	apply_bad("peer = { ping_misses = 101; };\n", 1, "peer.ping_misses");
	apply_bad("peer = { max_message_size = 1000001; };\n", 1,
	          "peer.max_message_size = 1000001 out of range [1, 1000000]");
	apply_bad("peer = { max_message_size = 0; };\n", 1, "peer.max_message_size");
	apply_bad("peer = { max_neighbours = 1025; };\n", 1, "peer.max_neighbours");
	apply_bad("peer = { seen_cache_size = 15; };\n", 1, "peer.seen_cache_size = 15");
	apply_bad("peer = { history = 100001; };\n", 1, "peer.history");
	apply_bad("peer = { journal_message_rate = 100001; };\n", 1,
	          "peer.journal_message_rate = 100001 out of range [0, 100000]");
	apply_bad("peer = { journal_message_rate = -1; };\n", 1, "peer.journal_message_rate");
	apply_bad("peer = { send_queue_limit = 65535; };\n", 1, "peer.send_queue_limit = 65535");
	apply_bad("peer = { send_queue_limit = 17179869185L; };\n", 1, "peer.send_queue_limit");
	apply_bad("peer = { max_control_clients = 4097; };\n", 1, "peer.max_control_clients");
	apply_bad("peer = { control_idle_timeout = 0.05; };\n", 1, "peer.control_idle_timeout");
	apply_bad("seed = { max_peers_per_host = 50001; };\n", 1, "seed.max_peers_per_host");
	apply_bad("seed = { max_peers = 0; };\n", 1, "seed.max_peers");
	apply_bad("seed = { max_peers = 50001; };\n", 1, "seed.max_peers = 50001 out of range [1, 50000]");
	apply_bad("seed = { max_connections = 7; };\n", 1, "seed.max_connections = 7");
	apply_bad("peer = { ping_interval = 0.009; };\n", 1,
	          "peer.ping_interval = 0.009 out of range [0.01, 3600.0] seconds");
	apply_bad("peer = { ping_timeout = 0; };\n", 1, "peer.ping_timeout = 0 out of range");
	apply_bad("peer = { ping_timeout = 3601; };\n", 1, "peer.ping_timeout");
	apply_bad("seed = { lease_time = 86401; };\n", 1,
	          "seed.lease_time = 86401 out of range [1.0, 86400.0] seconds");
	apply_bad("seed = { lease_time = -5; };\n", 1, "seed.lease_time");
	apply_bad("seed = { probe_timeout = 60.5; };\n", 1, "seed.probe_timeout");
	apply_bad("peer = { seen_cache_age = 0.5; };\n", 1, "peer.seen_cache_age");
	apply_bad("peer = { register_retry_max = 0.05; };\n", 1, "peer.register_retry_max");
	apply_bad("peer = { ihave_delay = 10.5; };\n", 1,
	          "peer.ihave_delay = 10.5 out of range [0.0, 10.0] seconds");
	apply_bad("peer = { ihave_delay = -0.1; };\n", 1, "peer.ihave_delay");
	apply_bad("peer = { graft_timeout = 0.0005; };\n", 1, "peer.graft_timeout");

	/* The bounds themselves are accepted. */
	{
		struct gossip_config c;
		conf_init(&c);
		apply_ok(&c, "peer = { degree = 1; ping_misses = 1; max_message_size = 1; "
		             "seen_cache_size = 16; send_queue_limit = 65536; history = 0; "
		             "ping_interval = 0.01; ping_timeout = 0.01; };\n"
		             "seed = { lease_time = 1; max_connections = 8; };\n");
		assert_int_equal(c.peer.degree, 1);
		assert_int_equal(c.peer.ping_misses, 1);
		assert_int_equal(c.peer.max_message_size, 1);
		assert_true(c.peer.ping_interval_usec == 10 * MS);
		assert_true(c.seed.lease_time_usec == SEC);
		apply_ok(&c, "peer = { degree = 64; ping_misses = 100; max_message_size = 1000000; "
		             "send_queue_limit = 17179869184L; ping_interval = 3600.0; };\n"
		             "seed = { lease_time = 86400; };\n");
		assert_int_equal(c.peer.degree, 64);
		assert_int_equal(c.peer.ping_misses, 100);
		assert_int_equal(c.peer.max_message_size, 1000000);
		assert_true(c.peer.send_queue_limit == 1ULL << 34);
		assert_true(c.peer.ping_interval_usec == 3600 * SEC);
		assert_true(c.seed.lease_time_usec == 86400 * SEC);
		apply_ok(&c, "peer = { journal_message_rate = 0; };\n");
		assert_int_equal(c.peer.journal_message_rate, 0);
		apply_ok(&c, "peer = { journal_message_rate = 100000; };\n");
		assert_int_equal(c.peer.journal_message_rate, 100000);
		conf_free(&c);
	}
}

static void
test_several_errors_reported(void **state)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN], *path, *want;

	conf_init(&c);
	assert_int_equal(apply_text(&c,
	                            "peer = {\n"
	                            "  degree = 0;\n"
	                            "  max_neighbours = 8;\n"
	                            "  ping_misses = 0;\n"
	                            "};\n"
	                            "nope = 1;\n",
	                            err, &path),
	                 -EINVAL);
	if (asprintf(&want,
	             "%s:2: peer.degree = 0 out of range [1, 64]\n"
	             "%s:4: peer.ping_misses = 0 out of range [1, 100]\n"
	             "%s:6: unknown setting nope\n",
	             path, path, path) < 0)
		abort();
	assert_string_equal(err, want);
	/* The valid setting in the same file was not applied either. */
	assert_int_equal(c.peer.max_neighbours, 32);
	free(want);
	free(path);
	conf_free(&c);
}

static void
test_error_buffer_small(void **state)
{
	struct gossip_config c;
	char err[16];

	/* A small buffer truncates the message but stays terminated. */
	conf_init(&c);
	memset(err, 'x', sizeof(err));
	{
		char *path = write_file("peer = { degree = 0; };\n");
		assert_int_equal(conf_apply_file(&c, path, err, sizeof(err)), -EINVAL);
		assert_true(memchr(err, '\0', sizeof(err)) != NULL);
		free(path);
	}
	conf_free(&c);
}

static void
test_seeds_and_seed_file(void **state)
{
	char *list = write_file_named("both-seeds.txt", "1.1.1.1:1\n", 10);

	apply_bad("seeds = [ \"2.2.2.2:2\" ];\n\nseed_file = \"both-seeds.txt\";\n", 3,
	          "give either seeds or seed_file, not both");
	apply_bad("seed_file = \"both-seeds.txt\";\nseeds = [ \"2.2.2.2:2\" ];\n", 2,
	          "give either seeds or seed_file, not both");
	free(list);
}

static void
test_seed_file_relative(void **state)
{
	static const char *const want[] = {"10.9.8.7:1", "[::1]:2"};
	struct gossip_config c;
	char err[CONF_ERR_LEN], *sub, *conf_path, *list_path, cwd[PATH_MAX];
	FILE *f;

	if (asprintf(&sub, "%s/sub", tmpdir) < 0)
		abort();
	assert_int_equal(mkdir(sub, 0700), 0);
	if (asprintf(&list_path, "%s/seeds.txt", sub) < 0 ||
	    asprintf(&conf_path, "%s/gossip.conf", sub) < 0)
		abort();
	f = fopen(list_path, "w");
	fputs("10.9.8.7:1\n[::1]:2\n", f);
	fclose(f);
	f = fopen(conf_path, "w");
	fputs("seed_file = \"seeds.txt\";\npeer = { degree = 2; };\n", f);
	fclose(f);

	/* Relative to the config file, not to the working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	conf_init(&c);
	assert_int_equal(conf_apply_file(&c, conf_path, err, sizeof(err)), 0);
	assert_seeds(&c, want, 2);
	assert_int_equal(c.peer.degree, 2);
	conf_free(&c);

	/* A config file named without a directory. */
	assert_int_equal(chdir(sub), 0);
	conf_init(&c);
	assert_int_equal(conf_apply_file(&c, "gossip.conf", err, sizeof(err)), 0);
	assert_seeds(&c, want, 2);
	conf_free(&c);
	assert_int_equal(chdir(cwd), 0);

	/* Absolute seed_file. */
	{
		char *text;
		if (asprintf(&text, "seed_file = \"%s\";\n", list_path) < 0)
			abort();
		conf_init(&c);
		apply_ok(&c, text);
		assert_seeds(&c, want, 2);
		conf_free(&c);
		free(text);
	}

	/* Errors in the seed file name the seed file and its line. */
	f = fopen(list_path, "w");
	fputs("10.9.8.7:1\n\nnot-an-address\n", f);
	fclose(f);
	conf_init(&c);
	assert_int_equal(conf_apply_file(&c, conf_path, err, sizeof(err)), -EINVAL);
	{
		char *want_err;
		if (asprintf(&want_err, "%s/./seeds.txt:3: ", sub) < 0)
			abort();
		if (!strstr(err, ":3: expected HOST:PORT, got 'not-an-address' (no port)") ||
		    strstr(err, "seeds.txt:3: ") == NULL)
			fail_msg("unexpected error: %s", err);
		free(want_err);
	}
	assert_int_equal(c.n_seeds, 0);
	assert_int_equal(c.peer.degree, 4);
	conf_free(&c);

	/* A missing seed file is an error on the seed_file line. */
	apply_bad("\nseed_file = \"no-such-seeds.txt\";\n", 2, "no-such-seeds.txt");
	apply_bad("seed_file = \"\";\n", 1, "seed_file must be a file name");
	free(sub);
	free(conf_path);
	free(list_path);
}

static void
test_missing_file(void **state)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN], *path;

	conf_init(&c);
	if (asprintf(&path, "%s/does-not-exist.conf", tmpdir) < 0)
		abort();
	assert_int_equal(conf_apply_file(&c, path, err, sizeof(err)), -ENOENT);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(c.n_files, 0);
	free(path);
	/* A directory is not a config file. */
	assert_true(conf_apply_file(&c, tmpdir, err, sizeof(err)) < 0);
	assert_true(err[0] != '\0');
	conf_free(&c);
}

/* Reload keeps the settings that need a restart and names those that changed. */
static void
test_keep_restart_settings(void **state)
{
	static const char *const names[] = {"peer.history", "log_dir", "address", "seed.lease_time", NULL};
	struct gossip_config old, nc;
	char changed[128];

	(void)state;
	conf_init(&old);
	conf_init(&nc);
	old.log_dir = xstrdup("/var/log/a");
	nc.log_dir = xstrdup("/var/log/b");
	nc.peer.history = 7;
	nc.peer.degree = 9;
	assert_int_equal(conf_keep(&nc, &old, names, changed, sizeof(changed)), 2);
	assert_string_equal(changed, "peer.history, log_dir");
	assert_int_equal(nc.peer.history, old.peer.history);
	assert_string_equal(nc.log_dir, "/var/log/a");
	assert_int_equal(nc.peer.degree, 9); /* not named: the new value stays */
	/* Nothing differs now: nothing to report. */
	assert_int_equal(conf_keep(&nc, &old, names, changed, sizeof(changed)), 0);
	assert_string_equal(changed, "");
	/* A setting unset in the running configuration is unset again. */
	free(nc.address);
	nc.address = xstrdup("10.0.0.1");
	assert_int_equal(conf_keep(&nc, &old, names, changed, sizeof(changed)), 1);
	assert_null(nc.address);
	conf_free(&old);
	conf_free(&nc);
}

static void
test_error_leaves_config_unchanged(void **state)
{
	struct gossip_config c, before;
	char err[CONF_ERR_LEN];
	FILE *m1, *m2;
	char *p1 = NULL, *p2 = NULL;
	size_t l1, l2;

	conf_init(&c);
	apply_ok(&c, full_config);
	conf_copy(&before, &c);

	/* Valid settings first, then a bad one: none applied. */
	assert_int_equal(
	    apply_text(&c,
	               "seeds = [ \"9.9.9.9:9\" ];\n"
	               "log_dir = \"/elsewhere\";\n"
	               "peer = { degree = 9; control_group = \"x\"; ping_misses = 0; };\n",
	               err, NULL),
	    -EINVAL);
	assert_int_equal(apply_text(&c, "1.1.1.1:1\nbad\n", err, NULL), -EINVAL);
	assert_int_equal(apply_text(&c, "peer = { degree = ", err, NULL), -EINVAL);
	check_full(&c);
	assert_int_equal(c.n_files, 1);

	/* Printed form identical to before. */
	m1 = open_memstream(&p1, &l1);
	m2 = open_memstream(&p2, &l2);
	conf_print(&before, m1);
	conf_print(&c, m2);
	fclose(m1);
	fclose(m2);
	assert_string_equal(p1, p2);
	free(p1);
	free(p2);
	conf_free(&before);
	conf_free(&c);
}

static void
test_validate(void **state)
{
	struct gossip_config c;
	char err[CONF_ERR_LEN], *path;

	conf_init(&c);
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no seeds configured"));
	assert_int_equal(conf_validate(&c, false, err, sizeof(err)), 0);

	assert_int_equal(apply_text(&c,
	                            "seeds = [ \"1.1.1.1:1\" ];\n"
	                            "peer = { ping_interval = 1.0; ping_timeout = 1.5; };\n",
	                            err, &path),
	                 0);
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "peer.ping_timeout must not exceed peer.ping_interval"));
	/* Cross-field errors name the last file applied. */
	assert_true(strncmp(err, path, strlen(path)) == 0);
	free(path);
	c.peer.ping_timeout_usec = c.peer.ping_interval_usec;
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), 0);

	/* The largest message's frame must fit in a neighbour's queue: exactly is enough. */
	c.peer.max_message_size = 100000;
	c.peer.send_queue_limit = 100000 + WIRE_GOSSIP_OVERHEAD - 1;
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "peer.send_queue_limit must be at least peer.max_message_size + 144 "
				    "(100144)"));
	c.peer.send_queue_limit++;
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), 0);

	c.peer.degree = 33;
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "peer.degree must not exceed peer.max_neighbours"));
	c.peer.max_neighbours = 33;
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), 0);

	c.address = xstrdup("not an ip");
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "address \"not an ip\" is not an IPv4 or IPv6 address or a host name"));
	free(c.address);
	c.address = xstrdup("node-1.example.com");
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), 0);
	free(c.address);
	c.address = xstrdup("::1");
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), 0);

	/* Several problems: all reported, one line each. */
	c.peer.degree = 40;
	c.peer.ping_timeout_usec = c.peer.ping_interval_usec + 1;
	conf_clear_seeds(&c);
	assert_int_equal(conf_validate(&c, true, err, sizeof(err)), -EINVAL);
	{
		int lines = 0;
		for (const char *p = err; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 3);
	}
	conf_free(&c);
}

static char *
print_to_string(const struct gossip_config *c)
{
	char *s = NULL;
	size_t len;
	FILE *m = open_memstream(&s, &len);
	assert_non_null(m);
	conf_print(c, m);
	assert_int_equal(fclose(m), 0);
	return s;
}

/* Prints c, parses the output into a fresh config and compares every value. */
static void
check_print_roundtrip(const struct gossip_config *c)
{
	struct gossip_config d;
	char err[CONF_ERR_LEN], *text = print_to_string(c), *path;
	int r;

	conf_init(&d);
	path = write_file(text);
	r = conf_apply_file(&d, path, err, sizeof(err));
	if (r != 0)
		fail_msg("printed configuration does not parse: %s\n--- printed:\n%s", err, text);
	assert_int_equal(d.n_seeds, c->n_seeds);
	if (c->n_seeds)
		assert_memory_equal(d.seeds, c->seeds, c->n_seeds * sizeof(*c->seeds));
	assert_same_settings(&d, c);
	/* Printing again gives the same settings (only the file list differs). */
	{
		char *again = print_to_string(&d);
		assert_string_equal(strchr(again, '\n'), strchr(text, '\n'));
		free(again);
	}
	free(path);
	free(text);
	conf_free(&d);
}

static void
test_print_roundtrip(void **state)
{
	struct gossip_config c;

	/* Defaults (no seeds, no strings). */
	conf_init(&c);
	check_print_roundtrip(&c);
	/* Everything set. */
	apply_ok(&c, full_config);
	check_print_roundtrip(&c);
	/* Strings needing escapes, durations with many digits, extreme values. */
	apply_ok(&c, "log_dir = \"/tmp/a \\\"quoted\\\" \\\\ dir\";\n"
	             "peer = { ping_interval = 0.123457; ping_timeout = 0.012345;\n"
	             "  seen_cache_age = 604799.999999; register_retry_max = 1234.5678;\n"
	             "  send_queue_limit = 17179869184L; seen_cache_size = 100000000; };\n"
	             "seed = { lease_time = 86399.999999; probe_timeout = 0.01; };\n");
	assert_string_equal(c.log_dir, "/tmp/a \"quoted\" \\ dir");
	assert_true(c.peer.seen_cache_age_usec == 604799999999ULL);
	assert_true(c.peer.register_retry_max_usec == 1234567800ULL);
	check_print_roundtrip(&c);
	conf_free(&c);
}

static void
expect_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n'))
			return;
		p++;
	}
	fail_msg("line \"%s\" not in:\n%s", line, text);
}

static void
test_print_golden(void **state)
{
	struct gossip_config c;
	char *text, *path, *head;

	conf_init(&c);
	text = print_to_string(&c);
	expect_line(text, "# effective configuration");
	expect_line(text, "# seeds unset (default)");
	expect_line(text, "# log_dir unset (default)");
	expect_line(text, "# address unset (default)");
	expect_line(text, "seed = {");
	expect_line(text, "  lease_time = 30.0;");
	expect_line(text, "  max_peers = 10000;");
	expect_line(text, "  confirm_dead = true;");
	expect_line(text, "  probe_timeout = 1.0;");
	expect_line(text, "  dead_reporters = 2;");
	expect_line(text, "peer = {");
	expect_line(text, "  degree = 4;");
	expect_line(text, "  seen_cache_age = 720.0;");
	expect_line(text, "  suspicion_timeout = 6.0;");
	expect_line(text, "  anti_entropy_interval = 5.0;");
	expect_line(text, "  # state_file unset (default)");
	expect_line(text, "  send_queue_limit = 8388608L;");
	expect_line(text, "  ihave_delay = 0.1;");
	expect_line(text, "  graft_timeout = 0.5;");
	expect_line(text, "  resend_cache_size = 67108864L;");
	expect_line(text, "  # control_socket unset (default)");
	expect_line(text, "};");
	free(text);

	assert_int_equal(apply_text(&c,
	                            "seeds = [ \"127.0.0.1:5000\", \"[::1]:5001\" ];\n"
	                            "peer = { ping_interval = 0.25; };\n"
	                            "seed = { confirm_dead = false; lease_time = 0x10; };\n",
	                            (char[CONF_ERR_LEN]){0}, &path),
	                 0);
	text = print_to_string(&c);
	if (asprintf(&head, "# effective configuration from %s", path) < 0)
		abort();
	expect_line(text, head);
	expect_line(text, "seeds = [ \"127.0.0.1:5000\", \"[::1]:5001\" ];");
	expect_line(text, "  ping_interval = 0.25;");
	expect_line(text, "  confirm_dead = false;");
	expect_line(text, "  lease_time = 16.0;");
	/* Sections in order, each setting under its own section. */
	assert_true(strstr(text, "seed = {") < strstr(text, "  lease_time"));
	assert_true(strstr(text, "  lease_time") < strstr(text, "peer = {"));
	assert_true(strstr(text, "peer = {") < strstr(text, "  degree"));
	free(head);
	free(text);
	free(path);
	conf_free(&c);
}

static void
test_two_files(void **state)
{
	static const char *const first_seeds[] = {"10.0.0.1:5000", "[2001:db8::1]:5001",
	                                          "10.0.0.3:5002"};
	static const char *const second_seeds[] = {"127.0.0.1:7000"};
	struct gossip_config c;
	char err[CONF_ERR_LEN], *p1, *p2, *p3;

	conf_init(&c);
	assert_int_equal(apply_text(&c, full_config, err, &p1), 0);
	/* The second file sets only peer.degree: everything else stays. */
	assert_int_equal(apply_text(&c, "peer = { degree = 7; };\n", err, &p2), 0);
	assert_int_equal(c.peer.degree, 7);
	c.peer.degree = 6;
	check_full(&c);
	assert_seeds(&c, first_seeds, 3);
	/* Seeds in a later file replace the list, not extend it. */
	assert_int_equal(apply_text(&c, "seeds = [ \"127.0.0.1:7000\" ];\n", err, &p3), 0);
	assert_seeds(&c, second_seeds, 1);
	assert_int_equal(c.peer.degree, 6);
	assert_string_equal(c.log_dir, "/var/log/g");
	/* A later seed already in the earlier list is not a duplicate. */
	apply_ok(&c, "seeds = [ \"127.0.0.1:7000\", \"127.0.0.2:7000\" ];\n");
	assert_int_equal(c.n_seeds, 2);
	/* A prototype seed list replaces them too. */
	apply_ok(&c, "127.0.0.1:7000\n");
	assert_seeds(&c, second_seeds, 1);
	/* Files are recorded in order (as many as fit). */
	assert_true(c.n_files >= 3);
	assert_string_equal(c.files[0], p1);
	assert_string_equal(c.files[1], p2);
	assert_string_equal(c.files[2], p3);
	free(p1);
	free(p2);
	free(p3);
	conf_free(&c);
}

static void
test_copy(void **state)
{
	struct gossip_config c, d;

	conf_init(&c);
	apply_ok(&c, full_config);
	conf_copy(&d, &c);
	assert_ptr_not_equal(d.seeds, c.seeds);
	assert_ptr_not_equal(d.log_dir, c.log_dir);
	assert_ptr_not_equal(d.files[0], c.files[0]);
	conf_free(&c);
	/* The copy stands alone (ASan would see a use after free). */
	check_full(&d);
	conf_free(&d);
}

/* Names wherever a seed is written: kept as names (the daemon resolves them), with their line. */
static void
test_seed_names(void **state)
{
	struct gossip_config c;
	char *text;

	conf_init(&c);
	apply_ok(&c, "# seeds by name\n"
	             "localhost:45501\n"
	             "\n"
	             "[::1]:5000\n"
	             "seed-2.example.com.:7 # rooted\n"
	             "10.0.0.1:8\n");
	assert_int_equal(c.n_seeds, 4);
	assert_string_equal(conf_seed_host(&c, 0), "localhost");
	assert_int_equal(c.seeds[0].family, 0);
	assert_int_equal(c.seeds[0].port, 45501);
	assert_null(conf_seed_host(&c, 1));
	assert_int_equal(c.seeds[1].family, AF_INET6);
	assert_string_equal(conf_seed_host(&c, 2), "seed-2.example.com.");
	assert_null(conf_seed_host(&c, 3));
	assert_null(conf_seed_host(&c, 4));
	assert_non_null(strstr(c.seed_names[0].where, ".conf:2"));
	assert_non_null(strstr(c.seed_names[2].where, ".conf:5"));
	/* Printed as written, and read back the same. */
	text = print_to_string(&c);
	assert_non_null(strstr(text, "seeds = [ \"localhost:45501\", \"[::1]:5000\", "
	                             "\"seed-2.example.com.:7\", \"10.0.0.1:8\" ];"));
	free(text);
	check_print_roundtrip(&c);
	conf_free(&c);

	/* In libconfig too, and a later list replaces the names with it. */
	conf_init(&c);
	apply_ok(&c, "seeds = [\n  \"seed-1.example:5000\",\n  \"127.0.0.1:5001\"\n];\n");
	assert_int_equal(c.n_seeds, 2);
	assert_string_equal(conf_seed_host(&c, 0), "seed-1.example");
	assert_non_null(strstr(c.seed_names[0].where, ".conf:2"));
	assert_null(conf_seed_host(&c, 1));
	apply_ok(&c, "127.0.0.9:1\n");
	assert_int_equal(c.n_seeds, 1);
	assert_null(conf_seed_host(&c, 0));
	conf_free(&c);
}

/* Which format a file is: a libconfig setting opens libconfig, anything else a seed list. */
static void
test_format_detection(void **state)
{
	struct gossip_config c;

	/* libconfig, with '=' or ':' and a space, a group, or a comment of its own kind. */
	conf_init(&c);
	apply_ok(&c, "peer: { degree = 3; };\nseeds = [ \"localhost:1\" ];\n");
	assert_int_equal(c.peer.degree, 3);
	apply_ok(&c, "// a comment\nseeds: [ \"localhost:2\" ];\n");
	assert_int_equal(c.seeds[0].port, 2);
	apply_ok(&c, "/* a comment */\nlog_dir:\"x\";\n");
	assert_string_equal(c.log_dir, "x");
	apply_ok(&c, "peer\n  = { degree = 5; };\nseeds = [ \"localhost:1\" ];\n");
	assert_int_equal(c.peer.degree, 5);
	conf_free(&c);
	apply_bad("degree = 4;\n", 1, "unknown setting degree");
	apply_bad("degree: 4\n", 1, "unknown setting degree");
	/* name:123 is a seed, and any other first line a seed list. */
	conf_init(&c);
	apply_ok(&c, "degree:4\n");
	assert_string_equal(conf_seed_host(&c, 0), "degree");
	conf_free(&c);
	apply_bad("hello world!\n", 1, "expected HOST:PORT, got 'hello world!' (a space in it)");
	apply_bad("localhost:45501\nseeds = [ \"a:1\" ];\n", 2, "expected HOST:PORT");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_installed_example),
	    cmocka_unit_test(test_seed_list),
	    cmocka_unit_test(test_seed_list_errors),
	    cmocka_unit_test(test_seed_names),
	    cmocka_unit_test(test_format_detection),
	    cmocka_unit_test(test_seed_list_nul_and_too_many),
	    cmocka_unit_test(test_syntax_error),
	    cmocka_unit_test(test_unknown_settings),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_several_errors_reported),
	    cmocka_unit_test(test_error_buffer_small),
	    cmocka_unit_test(test_seeds_and_seed_file),
	    cmocka_unit_test(test_seed_file_relative),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_error_leaves_config_unchanged),
	    cmocka_unit_test(test_keep_restart_settings),
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_print_roundtrip),
	    cmocka_unit_test(test_print_golden),
	    cmocka_unit_test(test_two_files),
	    cmocka_unit_test(test_copy),
	};
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
