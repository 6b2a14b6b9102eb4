/* SPDX-License-Identifier: MIT */
/* Framed, non-blocking stream connections on sd-event, with a bounded zero-copy send queue. */
#ifndef GOSSIP_CONN_H
#define GOSSIP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <systemd/sd-event.h>

#include "core/buf.h"
#include "core/ring.h"
#include "core/util.h"

struct conn;

/*
 * The byte transport under the framing: plain sockets, or TLS (io/tls.c).
 * recv/sendv return bytes, 0 at EOF (recv), or -errno (-EAGAIN when the
 * socket would block). The optional handshake runs before any frame: 0 when
 * done, -EAGAIN to be called again when the socket is ready (for writing
 * when *want_write), another -errno with *reason when it failed. pending
 * says whether bytes wait inside the transport (decrypted, not read yet),
 * which no socket event would announce.
 */
struct conn_transport {
	ssize_t (*recv)(struct conn *c, void *buf, size_t len);
	ssize_t (*sendv)(struct conn *c, const struct iovec *iov, int n);
	void (*free)(struct conn *c);
	int (*handshake)(struct conn *c, bool *want_write, const char **reason);
	bool (*pending)(const struct conn *c);
};

extern const struct conn_transport conn_plain_transport;

struct conn_callbacks {
	/* Frame header check: frame length, 0 when more bytes are needed, -EBADMSG with reason. */
	long (*frame_check)(const uint8_t *buf, size_t len, const char **reason);
	/* One complete frame. Return 0, or -EBADMSG with *reason to close the connection. */
	int (*on_frame)(struct conn *c, const uint8_t *frame, size_t len, const char **reason);
	/*
	 * Optional: a malformed frame (header check or on_frame failed). The
	 * callee logs it and may queue a last frame (an error reply); the
	 * connection then stops reading and closes once that is sent, and
	 * on_close follows with error 0. Without it the connection closes at
	 * once with error EBADMSG.
	 */
	void (*on_bad_frame)(struct conn *c, const char *reason);
	/*
	 * The connection is ready for frames: an outgoing connect completed, or
	 * a handshake (either direction) did. Not called for an accepted plain
	 * connection, which is ready from the start.
	 */
	void (*on_connected)(struct conn *c);
	/*
	 * The connection is closing: reason says why, error is the errno or 0.
	 * After this returns the conn is freed; do not use it again.
	 *
	 * It runs from the event loop (the connection's own I/O, a timer, the end
	 * of a loop iteration) or from conn_close()/conn_close_after_flush()
	 * called by the owner; never from inside conn_send_*(), conn_flush() or
	 * conn_loop_flush(). A write that fails there marks the connection failed
	 * (further sends return -EPIPE) and the close follows from the loop, so an
	 * owner that flushes in the middle of handling a frame never sees the
	 * object it is working on freed under it.
	 */
	void (*on_close)(struct conn *c, const char *reason, int error);
};

/* Per event loop: batches writes of all connections into one flush per loop iteration. */
struct conn_loop {
	sd_event *event;
	sd_event_source *post;
	struct conn *dirty; /* connections with unsent data, linked through dirty_next */
	uint8_t *scratch;   /* reads land here; only partial frames are kept per connection */
	uint8_t *wscratch;  /* a transport that cannot write an iovec gathers it here */
	struct conn *all;   /* every connection not freed yet, linked through all_prev/all_next */
	unsigned n_conns;
	/* Optional: called at the end of every loop iteration, after the connections are flushed. */
	void (*after_flush)(void *ctx);
	void *after_flush_ctx;
};

struct out_chunk {
	struct blob *bl;
	size_t off;
};

struct conn {
	struct conn_loop *loop;
	int fd;
	sd_event_source *io;
	sd_event_source *close_timer; /* bounds how long a closing conn may linger */
	sd_event_source *fail_src;    /* closes a failed conn from the loop */
	sd_event_source *hs_timer;    /* bounds a handshake */
	sd_event_source *resume_src;  /* input the transport holds, read after a full budget */
	const struct conn_transport *tr;
	const struct conn_callbacks *cb;
	void *userdata;
	void *tls; /* transport state, unused by plain sockets */
	char desc[NODE_ADDR_STRLEN + 16]; /* remote address for logs */

	struct buf in; /* an incomplete frame carried over between reads; empty when idle */

	struct ring out; /* of struct out_chunk */
	void (*sniffed)(struct conn *c, uint8_t first);
	size_t queued_bytes;
	size_t queue_limit; /* 0 = unlimited */
	size_t max_frame;   /* the largest frame taken, even in part (0: any frame_check takes) */
	size_t read_budget; /* bytes read per wakeup; 0 = the default */

	bool connecting;
	bool sniffing;      /* an accepted connection whose first byte says TLS or plain */
	bool handshaking;
	bool hs_want_write;
	bool was_ready; /* on_connected was called (or was not needed) */
	bool closing;     /* close once the queue is empty */
	bool closed;
	bool in_dispatch;
	bool is_dirty;
	bool last_in_chunk; /* during on_frame: no more bytes were read after this frame */
	bool input_paused;  /* not reading (flow control) */
	bool failed;        /* a write failed: closed from the loop with fail_error */
	int fail_error;
	struct conn *dirty_next;
	struct conn *all_prev, *all_next;
	char *close_reason;

	uint64_t frames_in, frames_out, bytes_in, bytes_out;
};

int conn_loop_init(struct conn_loop *l, sd_event *e);
/* Closes the connections still open (their on_close runs) and frees the loop's resources. */
void conn_loop_done(struct conn_loop *l);

/* Wraps an accepted or connecting socket. desc names the remote for logs. */
struct conn *conn_new(struct conn_loop *l, int fd, bool connecting, const struct conn_callbacks *cb,
		      void *userdata, const char *desc);
/*
 * Starts a non-blocking TCP connect, from the IP address of `from` when
 * given and of to's family (the port is the kernel's choice; an address
 * this host does not have is ignored: the kernel picks). 0 with *ret, or -errno.
 */
int conn_connect(struct conn_loop *l, const struct node_addr *to, const struct node_addr *from,
		 const struct conn_callbacks *cb, void *userdata, struct conn **ret);

/*
 * Queues a frame (takes a reference). Returns -ENOBUFS, queueing nothing,
 * when the queue would exceed queue_limit; -EPIPE when closed.
 */
int conn_send_blob(struct conn *c, struct blob *bl);
/* Queues a copy of b's contents and empties b. */
int conn_send_buf(struct conn *c, struct buf *b);
/*
 * Whether a frame of len bytes can be queued on c and still leave keep bytes
 * of its queue_limit free. An empty queue takes any frame (within the limit,
 * as conn_send_blob() checks), so that a frame larger than the share still goes.
 */
bool conn_room_for(const struct conn *c, size_t len, size_t keep);
/*
 * Gives back the send queue's ring of chunks when the queue is empty and the
 * ring had grown past CONN_OUT_KEEP chunks (a burst's backlog): memory
 * follows the load down again. Cheap; meant for a periodic tick, so a busy
 * connection does not free and regrow it on every drain.
 */
#define CONN_OUT_KEEP 256
void conn_trim(struct conn *c);
/* How long a sniff and handshake may take before the connection is closed (ETIMEDOUT). */
#define CONN_HANDSHAKE_USEC (5 * 1000000ULL)
/* Starts the transport's handshake on a connection that is up (for transports). */
void conn_begin_handshake(struct conn *c);
/* Waits for an accepted connection's first byte; then calls sniffed(c, byte) (for transports). */
void conn_begin_sniff(struct conn *c, void (*sniffed)(struct conn *c, uint8_t first));
/* Whether the connection has no handshake, sniff or connect left before frames. */
bool conn_ready(const struct conn *c);

/* Stops or resumes reading (frames already read are still handled). */
void conn_set_input_paused(struct conn *c, bool paused);
/* Sends what is queued now (also done automatically at the end of the loop iteration). */
void conn_flush(struct conn *c);
/* The same for every connection of the loop with something queued. */
void conn_loop_flush(struct conn_loop *l);

/* Closes now: on_close is called, then the conn is freed (deferred inside its own callbacks). */
void conn_close(struct conn *c, const char *reason, int error);
/* Stops reading and closes once everything queued is sent, or after CONN_LINGER_USEC. */
#define CONN_LINGER_USEC (2 * 1000000ULL)
void conn_close_after_flush(struct conn *c, const char *reason);

#endif
