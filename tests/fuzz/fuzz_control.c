/* SPDX-License-Identifier: MIT */
/* libFuzzer target: gossip-peer's control socket, each input one gossipctl client's bytes. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/peer.h"
#include "fuzzdefs.h"
#include "io/clock.h"
#include "io/conn.h"
#include "io/log.h"
#include "io/node.h"
#include "peer/control.h"
#include "peer/output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Loop iterations per step of an input, at most; each dispatches one event. */
#define MAX_DISPATCH 4096
/* Replies kept for checking, at most (more are read and dropped unchecked). */
#define MAX_REPLY (4u * 1024 * 1024)
#define NEIGHBOUR_ADDR "127.0.0.2:6000"
#define NEIGHBOUR_DESC "127.0.0.2:40000"
#define PAYLOAD "a message the fuzzer's neighbour relayed"

/*
 * One peer for the whole run, as a daemon has: its core on the real
 * environment (io/node.c), an inbound neighbour over a socketpair (for
 * PEERS), one message received (for TAIL), its output and control socket
 * in a temporary directory (removed at exit; output.txt at once, once open).
 */
static struct {
	bool up;
	char dir[64];
	char out_path[96];
	sd_event *event;
	struct conn_loop loop;
	struct node_io io;
	struct peer_node node;
	struct output out;
	struct control ctl;
	int neighbour; /* our end of the neighbour's connection */
	int client;    /* the connection of the input under way, or -1 */
	struct buf reply;
	bool reply_overflow;
} F = {.neighbour = -1, .client = -1};

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz_control: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

static struct link *
in_accept(void *core, void *io, const struct node_addr *remote, struct instant t)
{
	return peer_node_accept(core, io, remote, t);
}

static void
in_connected(void *core, struct link *lk, struct instant t)
{
	peer_node_connected(core, lk, t);
}

static int
in_frame(void *core, struct link *lk, const uint8_t *frame, size_t len, bool last_in_read,
	 struct instant t, const char **reason)
{
	return peer_node_frame(core, lk, frame, len, last_in_read, t, reason);
}

static void
in_closed(void *core, struct link *lk, const char *reason, int error, struct instant t)
{
	peer_node_closed(core, lk, reason, error, t);
}

static void
in_wakeup(void *core, enum wake_class cls, struct instant t)
{
	peer_node_wakeup(core, cls, t);
}

static const struct node_inputs inputs = {
	.accept = in_accept,
	.connected = in_connected,
	.frame = in_frame,
	.closed = in_closed,
	.wakeup = in_wakeup,
};

static void
on_deliver(void *ctx, const struct delivery *d)
{
	struct history_entry h;

	output_deliver(&F.out, d, now_monotonic_usec(), &h);
	control_notify_delivery(&F.ctl, &h);
}

static void
flush_output(void *ctx)
{
	output_flush(&F.out);
}

/* Reads what waits on fd: kept in keep (up to MAX_REPLY) or dropped. Returns false at EOF. */
static bool
drain(int fd, struct buf *keep)
{
	uint8_t tmp[16384];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		if (keep && keep->len + (size_t)n <= MAX_REPLY)
			buf_append(keep, tmp, (size_t)n);
		else if (keep)
			F.reply_overflow = true;
	}
	return n != 0;
}

/* Runs the loop until nothing is left to dispatch, reading both sockets in between. */
static void
run_until_idle(void)
{
	for (int i = 0; i < MAX_DISPATCH; i++) {
		int r;

		if (F.client >= 0)
			(void)drain(F.client, &F.reply);
		(void)drain(F.neighbour, NULL);
		r = sd_event_run(F.event, 0);
		if (r < 0)
			fail("sd_event_run: %s", strerror(-r));
		if (r == 0)
			return;
	}
}

static void
write_all(int fd, const struct buf *b)
{
	if (write(fd, b->data, b->len) != (ssize_t)b->len)
		fail("cannot write %zu bytes to the neighbour's socket", b->len);
}

/* An inbound neighbour says HELLO and relays one message: PEERS and TAIL have something to say. */
static void
add_neighbour(void)
{
	struct node_addr nb, origin, from;
	uint64_t ts = now_realtime_usec();
	uint8_t id[WIRE_ID_LEN];
	struct buf b = {0};
	int sv[2];

	if (node_addr_parse(NEIGHBOUR_ADDR, &nb) < 0 ||
	    node_addr_parse(FUZZ_ORIGIN_ADDR, &origin) < 0 ||
	    node_addr_parse(NEIGHBOUR_DESC, &from) < 0)
		fail("bad address");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair: %s", strerror(errno));
	F.neighbour = sv[1];
	node_io_accept(&F.io, sv[0], &from);
	wire_encode_hello(&b, WIRE_ROLE_PEER, &nb, 7);
	if (wire_message_id(&origin, ts, 1, (const uint8_t *)PAYLOAD, strlen(PAYLOAD), id) < 0)
		fail("cannot compute a message id");
	wire_encode_gossip(&b, id, &origin, ts, 1, (const uint8_t *)PAYLOAD, strlen(PAYLOAD));
	write_all(F.neighbour, &b);
	buf_free(&b);
	run_until_idle();
	if (F.node.n_neighbours != 1 || output_history_len(&F.out) != 1)
		fail("the neighbour is not up (%u) or its message not received",
		     F.node.n_neighbours);
}

static void
cleanup(void)
{
	if (!F.up)
		return;
	F.up = false;
	control_stop(&F.ctl);
	peer_node_free(&F.node);
	node_io_done(&F.io);
	conn_loop_done(&F.loop);
	output_close(&F.out);
	close(F.neighbour);
	F.event = sd_event_unref(F.event);
	buf_free(&F.reply);
	rmdir(F.dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct node_addr self;
	struct gossip_config cfg;
	char *sock;

	log_init("fuzz_control", LOG_ERR, LOG_TARGET_STDERR);
	/* As the daemons (io/service.c): a write to a closed socket is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(F.dir, sizeof(F.dir), "%s/gossip-fuzz-control.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(F.dir))
		fail("mkdtemp %s: %s", F.dir, strerror(errno));
	snprintf(F.out_path, sizeof(F.out_path), "%s/output.txt", F.dir);
	if (sd_event_new(&F.event) < 0 || conn_loop_init(&F.loop, F.event) < 0)
		fail("cannot set up the event loop");
	F.loop.after_flush = flush_output;
	conf_init(&cfg);
	cfg.peer.history = 16;
	cfg.peer.seen_cache_size = 1024;
	cfg.peer.resend_cache_size = 1024 * 1024;
	if (node_addr_parse(FUZZ_SELF_ADDR, &self) < 0 || output_open(&F.out, F.out_path, 16) < 0)
		fail("cannot open %s", F.out_path);
	unlink(F.out_path);
	node_io_init(&F.io, &F.loop, &inputs, &F.node, on_deliver, NULL, NULL);
	peer_node_init(&F.node, &cfg, &self, 1, &F.io.env);
	conf_free(&cfg);
	if (asprintf(&sock, "%s/ctl.sock", F.dir) < 0)
		abort();
	if (control_start(&F.ctl, &F.loop, &F.node, &F.out, sock, "(no log file)") < 0)
		fail("cannot start the control socket");
	F.up = true;
	atexit(cleanup);
	add_neighbour();
	return 0;
}

/* A RECORD's fields, every one well-formed. */
static void
check_record(const uint8_t *body, size_t len)
{
	struct ctl_field_iter it;
	struct ctl_field f;
	int k;

	if (ctl_record_iter_init(&it, body, len) < 0)
		fail("a RECORD without a field count");
	while ((k = ctl_record_next(&it, &f)) == 1)
		;
	if (k < 0)
		fail("a malformed RECORD");
}

/* Everything the peer answered: whole, well-formed RECORD and END frames. */
static void
check_replies(void)
{
	const uint8_t *p = F.reply.data;
	size_t left = F.reply.len;
	char text[CTL_MAX_TEXT + 1];
	uint8_t status;

	while (left) {
		const char *reason = NULL;
		long n = ctl_frame_check(p, left, &reason);

		if (n < 0)
			fail("the peer sent a bad frame: %s", reason);
		if (n == 0)
			fail("the peer closed after %zu bytes of a frame", left);
		if (p[3] == CTL_RECORD)
			check_record(p + CTL_HDR_LEN, (size_t)n - CTL_HDR_LEN);
		else if (p[3] != CTL_END || ctl_decode_end(p + CTL_HDR_LEN, (size_t)n - CTL_HDR_LEN,
							   &status, text) < 0)
			fail("the peer sent a %s frame that is not a reply", ctl_type_name(p[3]));
		p += n;
		left -= (size_t)n;
	}
}

/* Connects a client to the control socket; the listener takes it in the loop. */
static int
connect_client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", F.ctl.path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail("cannot connect to %s: %s", sa.sun_path, strerror(errno));
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	F.client = connect_client();
	F.reply.len = 0;
	F.reply_overflow = false;
	run_until_idle();
	for (int i = 0; off < size && i < MAX_DISPATCH; i++) {
		ssize_t w = write(F.client, data + off, size - off);
		if (w < 0 && errno != EAGAIN)
			break; /* the peer closed the connection: a malformed request */
		off += w > 0 ? (size_t)w : 0;
		run_until_idle();
	}
	/* The client is done: the peer sees the end of its requests, answers and closes. */
	shutdown(F.client, SHUT_WR);
	run_until_idle();
	for (int i = 0; i < MAX_DISPATCH && drain(F.client, &F.reply); i++)
		run_until_idle();
	close(F.client);
	F.client = -1;
	run_until_idle();
	if (F.ctl.n_clients != 0)
		fail("%u control clients left after their connection closed", F.ctl.n_clients);
	if (!F.reply_overflow)
		check_replies();
	return 0;
}
