/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an accepted connection's TLS set-up, sniff and handshake, fed a client. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/wire.h"
#include "fuzzdefs.h"
#include "io/conn.h"
#include "io/log.h"
#include "io/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Loop iterations per step of an input, at most; each dispatches one event. */
#define MAX_DISPATCH 4096
/* gossip-cert when GOSSIP_CERT does not say where it is (the Makefile sets it). */
#define DEFAULT_CERT_TOOL "build/release/gossip-cert"

/*
 * Set up once: a CA and a node certificate made by gossip-cert in a
 * temporary directory, loaded as tls.mode required and optional.
 */
static struct {
	bool up;
	char dir[64];
	sd_event *event;
	struct conn_loop loop;
	struct tls_ctx *ctx[2]; /* [0] required, [1] optional */
	SSL_CTX *client_ctx;    /* a node dialling this one (FUZZ_TLS_HANDSHAKE) */
} F;

/* The connection of the input under way. */
struct server {
	struct conn *c;
	bool closed;
	bool connected;
	unsigned frames;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz_tls: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* Plaintext frames (tls.mode optional): decoded as a node would, a bad one closes. */
static int
on_frame(struct conn *c, const uint8_t *frame, size_t len, const char **reason)
{
	struct server *s = c->userdata;
	struct wire_msg m;

	s->frames++;
	return wire_decode(frame, len, &m, reason) < 0 ? -EBADMSG : 0;
}

static void
on_connected(struct conn *c)
{
	struct server *s = c->userdata;

	s->connected = true;
	/* Ready: a plaintext connection let through (optional mode), or a verified TLS one. */
	if (tls_active(c) && !tls_identity(c))
		fail("a TLS handshake finished without a verified certificate");
}

static void
on_close(struct conn *c, const char *reason, int error)
{
	struct server *s = c->userdata;

	if (!reason)
		fail("a connection closed without a reason");
	s->closed = true;
	s->c = NULL;
}

static const struct conn_callbacks callbacks = {
	.frame_check = wire_frame_check,
	.on_frame = on_frame,
	.on_connected = on_connected,
	.on_close = on_close,
};

/* Runs gossip-cert with args (NULL-terminated) quietly; fails the run when it fails. */
static void
cert_tool(const char *const args[])
{
	const char *tool = getenv("GOSSIP_CERT");
	char *argv[12];
	int status, i = 0;
	pid_t pid;

	argv[i++] = (char *)(tool && *tool ? tool : DEFAULT_CERT_TOOL);
	for (int k = 0; args[k] && i < 11; k++)
		argv[i++] = (char *)args[k];
	argv[i] = NULL;
	if ((pid = fork()) < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execv(argv[0], argv);
		fprintf(stderr, "fuzz_tls: cannot run %s (set GOSSIP_CERT): %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("%s %s failed", argv[0], args[0]);
}

static struct tls_ctx *
load(const char *mode)
{
	struct gossip_config cfg;
	struct node_addr self;
	struct tls_ctx *t;
	char err[1024];

	conf_init(&cfg);
	cfg.tls.mode = xstrdup(mode);
	if (asprintf(&cfg.tls.ca_file, "%s/ca.crt", F.dir) < 0 ||
	    asprintf(&cfg.tls.cert_file, "%s/node.crt", F.dir) < 0 ||
	    asprintf(&cfg.tls.key_file, "%s/node.key", F.dir) < 0)
		abort();
	if (node_addr_parse("127.0.0.1:6000", &self) < 0 ||
	    tls_ctx_load(&cfg, &self, &t, err, sizeof(err)) < 0)
		fail("tls_ctx_load: %s", err);
	conf_free(&cfg);
	return t;
}

/* A TLS 1.3 client with the certificate "client" of the CA, checking the server's. */
static SSL_CTX *
client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char crt[128], key[128], ca[128];

	snprintf(crt, sizeof(crt), "%s/client.crt", F.dir);
	snprintf(key, sizeof(key), "%s/client.key", F.dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", F.dir);
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		fail("cannot set up the TLS client's context");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

/* The CA's and the nodes' files: loaded, they are not needed any more. */
static void
remove_files(void)
{
	static const char *const files[] = {"ca.key", "ca.crt", "node.key", "node.crt",
					    "client.key", "client.crt"};
	char path[128];

	if (!F.dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", F.dir, files[i]);
		unlink(path);
	}
	rmdir(F.dir);
	F.dir[0] = '\0';
}

static void
cleanup(void)
{
	remove_files();
	if (!F.up)
		return;
	F.up = false;
	tls_ctx_unref(F.ctx[0]);
	tls_ctx_unref(F.ctx[1]);
	SSL_CTX_free(F.client_ctx);
	conn_loop_done(&F.loop);
	F.event = sd_event_unref(F.event);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	log_init("fuzz_tls", LOG_ERR, LOG_TARGET_STDERR);
	/* As the daemons (io/service.c): a write to a closed socket is an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(F.dir, sizeof(F.dir), "%s/gossip-fuzz-tls.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(F.dir))
		fail("mkdtemp %s: %s", F.dir, strerror(errno));
	atexit(cleanup);
	cert_tool((const char *const[]){"init", "--dir", F.dir, NULL});
	cert_tool((const char *const[]){"issue", "--dir", F.dir, "--address", "127.0.0.1", "--name",
					"node", NULL});
	cert_tool((const char *const[]){"issue", "--dir", F.dir, "--address", "127.0.0.2", "--name",
					"client", NULL});
	F.ctx[0] = load("required");
	F.ctx[1] = load("optional");
	F.client_ctx = client_ctx();
	remove_files();
	if (sd_event_new(&F.event) < 0 || conn_loop_init(&F.loop, F.event) < 0)
		fail("cannot set up the event loop");
	F.up = true;
	return 0;
}

/* The client end of the input under way: raw bytes, or a TLS client once it has one. */
struct client {
	int fd;
	SSL *ssl;
	bool handshaking; /* its handshake is not done: leave the socket to it */
};

/* Reads what the server sent (decrypted once the client has finished its handshake). */
static void
client_drain(struct client *cl)
{
	uint8_t tmp[16384];
	size_t n;

	if (cl->fd < 0 || cl->handshaking)
		return;
	if (cl->ssl) {
		while (SSL_read_ex(cl->ssl, tmp, sizeof(tmp), &n) == 1)
			;
		ERR_clear_error();
		return;
	}
	while (read(cl->fd, tmp, sizeof(tmp)) > 0)
		;
}

/* Runs the loop until nothing is left to dispatch, reading what the server sent in between. */
static void
run_until_idle(struct client *cl)
{
	for (int i = 0; i < MAX_DISPATCH; i++) {
		int r;

		client_drain(cl);
		r = sd_event_run(F.event, 0);
		if (r < 0)
			fail("sd_event_run: %s", strerror(-r));
		if (r == 0)
			return;
	}
}

/*
 * FUZZ_TLS_HANDSHAKE: the client, with a certificate of the cluster CA,
 * completes its handshake with the server: true once both ends are done.
 */
static bool
client_handshake(struct client *cl, struct server *s)
{
	if (!(cl->ssl = SSL_new(F.client_ctx)) || SSL_set_fd(cl->ssl, cl->fd) != 1)
		fail("cannot set up the TLS client");
	SSL_set_connect_state(cl->ssl);
	cl->handshaking = true;
	for (int i = 0; i < 64 && !s->closed; i++) {
		int r = SSL_do_handshake(cl->ssl);
		int e = SSL_get_error(cl->ssl, r);

		if (r == 1)
			cl->handshaking = false;
		else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			fail("the client's handshake failed (%d)", e);
		run_until_idle(cl);
		if (!cl->handshaking && s->connected)
			return true;
	}
	fail("the handshake did not finish: server %s", s->closed ? "closed" : "waiting");
}

/* Sends the input: as raw bytes, or as application data over the client's TLS. */
static void
client_send(struct client *cl, struct server *s, const uint8_t *p, size_t len)
{
	size_t off = 0, n;

	for (int i = 0; off < len && !s->closed && i < MAX_DISPATCH; i++) {
		ssize_t w;
		if (cl->ssl) {
			w = SSL_write_ex(cl->ssl, p + off, len - off, &n) == 1 ? (ssize_t)n : -1;
			ERR_clear_error();
		} else {
			w = write(cl->fd, p + off, len - off);
			if (w < 0 && errno != EAGAIN)
				break;
		}
		off += w > 0 ? (size_t)w : 0;
		run_until_idle(cl);
	}
	/* The client has said all it will: the server sees the end of the stream. */
	if (cl->ssl)
		(void)SSL_shutdown(cl->ssl);
	shutdown(cl->fd, SHUT_WR);
	run_until_idle(cl);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server s = {0};
	struct client cl = {-1, NULL, false};
	int sv[2];

	if (size < 1)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair: %s", strerror(errno));
	cl.fd = sv[1];
	s.c = conn_new(&F.loop, sv[0], false, &callbacks, &s, "fuzz client");
	if (!s.c || tls_server(s.c, F.ctx[data[0] & FUZZ_TLS_OPTIONAL]) < 0)
		fail("cannot set up the server side");
	if (data[0] & FUZZ_TLS_HANDSHAKE)
		(void)client_handshake(&cl, &s);
	client_send(&cl, &s, data + 1, size - 1);
	if (!s.closed)
		conn_close(s.c, "the input ended", 0);
	SSL_free(cl.ssl);
	ERR_clear_error();
	close(cl.fd);
	cl.fd = -1;
	run_until_idle(&cl);
	return 0;
}
