# SPDX-License-Identifier: MIT
"""The gossip-peer control protocol (src/core/ctl.h), spoken directly from Python.

Every frame: 'G' 'C', u8 version 1, u8 type, u32 big-endian body length, body.
Requests: SEND=1 (payload), STATUS=2, PEERS=3, TAIL=4 (u8 follow, u32 count), STATS=5.
Replies: zero or more RECORD (0x81) frames, then one END (0x82: u8 status, u16 len, text).
A RECORD body: u16 nfields, then per field u8 keylen, key, u8 kind and a value:
's' u32 length + bytes, 'u' u64, 'i' i64, 'b' u8, 'f' u64 bit pattern of a double.
All integers are big-endian.
"""
import errno
import selectors
import socket
import struct
import time

MAGIC = b"GC"
VERSION = 1
SEND, STATUS, PEERS, TAIL, STATS = 1, 2, 3, 4, 5
RECORD, END = 0x81, 0x82
HDR = struct.Struct(">2sBBI")
HDR_LEN = HDR.size
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_F64 = struct.Struct(">d")


class CtlError(Exception):
    pass


def encode(ftype, body=b""):
    return HDR.pack(MAGIC, VERSION, ftype, len(body)) + body


def encode_tail(count, follow=False):
    return encode(TAIL, bytes([1 if follow else 0]) + _U32.pack(count))


def decode_record(body, keep_bytes=("text",)):
    """A RECORD body as a dict; string fields are str except those in keep_bytes."""
    (n,) = _U16.unpack_from(body, 0)
    off = 2
    rec = {}
    for _ in range(n):
        kl = body[off]
        key = bytes(body[off + 1:off + 1 + kl]).decode()
        kind = body[off + 1 + kl]
        off += 2 + kl
        if kind == 0x73:  # 's'
            (ln,) = _U32.unpack_from(body, off)
            raw = bytes(body[off + 4:off + 4 + ln])
            rec[key] = raw if key in keep_bytes else raw.decode("utf-8", "replace")
            off += 4 + ln
        elif kind == 0x75:  # 'u'
            rec[key] = _U64.unpack_from(body, off)[0]
            off += 8
        elif kind == 0x69:  # 'i'
            rec[key] = _I64.unpack_from(body, off)[0]
            off += 8
        elif kind == 0x66:  # 'f'
            rec[key] = _F64.unpack_from(body, off)[0]
            off += 8
        elif kind == 0x62:  # 'b'
            rec[key] = body[off] == 1
            off += 1
        else:
            raise CtlError("unknown field kind %r" % kind)
    return rec


def decode_end(body):
    status = body[0]
    (ln,) = _U16.unpack_from(body, 1)
    return status, bytes(body[3:3 + ln]).decode("ascii", "replace")


class FrameReader:
    """Accumulates stream bytes and splits them into (type, body) frames."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, data):
        self.buf += data

    def frames(self):
        buf = self.buf
        off = 0
        out = []
        blen = len(buf)
        while blen - off >= HDR_LEN:
            if buf[off] != 0x47 or buf[off + 1] != 0x43:
                raise CtlError("bad magic on the control socket")
            (ln,) = _U32.unpack_from(buf, off + 4)
            end = off + HDR_LEN + ln
            if end > blen:
                break
            out.append((buf[off + 3], bytes(buf[off + HDR_LEN:end])))
            off = end
        if off:
            del buf[:off]
        return out

    def count_ends(self):
        """Drops complete frames and counts END frames with status 0 and others (fast path)."""
        buf = self.buf
        off = 0
        ok = bad = 0
        blen = len(buf)
        unpack = _U32.unpack_from
        while blen - off >= HDR_LEN:
            (ln,) = unpack(buf, off + 4)
            end = off + HDR_LEN + ln
            if end > blen:
                break
            if buf[off + 3] == END:
                if buf[off + HDR_LEN] == 0:
                    ok += 1
                else:
                    bad += 1
            off = end
        if off:
            del buf[:off]
        return ok, bad


class CtlClient:
    """One blocking connection to a peer's control socket."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.reader = FrameReader()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def fileno(self):
        return self.sock.fileno()

    def _read_reply(self):
        records = []
        while True:
            for ftype, body in self.reader.frames():
                if ftype == RECORD:
                    records.append(decode_record(body))
                elif ftype == END:
                    status, text = decode_end(body)
                    return records, status, text
            data = self.sock.recv(1 << 20)
            if not data:
                raise CtlError("%s: connection closed" % self.path)
            self.reader.feed(data)

    def request(self, ftype, body=b""):
        self.sock.sendall(encode(ftype, body))
        return self._read_reply()

    def request_ok(self, ftype, body=b""):
        records, status, text = self.request(ftype, body)
        if status != 0:
            raise CtlError("%s: request %d failed (%d): %s" % (self.path, ftype, status, text))
        return records

    def send(self, payload):
        return self.request_ok(SEND, payload)[0]

    def stats(self):
        return self.request_ok(STATS)[0]

    def status(self):
        return self.request_ok(STATUS)[0]

    def peers(self):
        return self.request_ok(PEERS)

    def tail(self, count):
        self.sock.sendall(encode_tail(count))
        return self._read_reply()[0]


def query_all(clients, ftype, body=b"", timeout=30.0):
    """The same request to many peers at once; returns a list of record lists (None on failure)."""
    frame = encode(ftype, body)
    results = [None] * len(clients)
    sel = selectors.DefaultSelector()
    pending = {}
    for i, c in enumerate(clients):
        try:
            c.sock.sendall(frame)
        except OSError:
            continue
        c.sock.setblocking(False)
        sel.register(c.sock, selectors.EVENT_READ, (i, c, []))
        pending[i] = True
    deadline = time.monotonic() + timeout
    try:
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                i, c, recs = key.data
                try:
                    data = c.sock.recv(1 << 20)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c.sock)
                    pending.pop(i, None)
                    continue
                c.reader.feed(data)
                for ft, fb in c.reader.frames():
                    if ft == RECORD:
                        recs.append(decode_record(fb))
                    elif ft == END:
                        results[i] = recs
                        sel.unregister(c.sock)
                        pending.pop(i, None)
                        break
    finally:
        for c in clients:
            try:
                c.sock.setblocking(True)
            except OSError:
                pass
        sel.close()
    return results


class Blaster:
    """Pipelined SEND requests on several control connections, optionally at a fixed rate.

    Messages go round-robin over the connections; at most `window` requests per
    connection are unanswered at any time. Returns timing and the count of
    requests the daemons accepted.
    """

    def __init__(self, paths, window=1024):
        self.socks = []
        for p in paths:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(p)
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.socks.append(s)
        self.window = window

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass

    def run(self, count, payload, rate=None, timeout=600.0, progress=None):
        n = len(self.socks)
        frame = encode(SEND, payload)
        quota = [count // n + (1 if i < count % n else 0) for i in range(n)]
        sent = [0] * n
        acked = [0] * n
        failed = 0
        outbuf = [bytearray() for _ in range(n)]
        readers = [FrameReader() for _ in range(n)]
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        writing = [False] * n
        total_acked = 0
        t0_real = time.time()
        t0 = time.monotonic()
        deadline = t0 + timeout
        next_progress = t0 + 1.0
        while total_acked + failed < count:
            now = time.monotonic()
            if now > deadline:
                break
            # How many requests may be issued by now (all of them without a rate).
            if rate:
                allowed_total = min(count, int(rate * (now - t0)) + 1)
            else:
                allowed_total = count
            for i in range(n):
                share = allowed_total * quota[i] // count if count else 0
                want = min(quota[i], share, acked[i] + self.window) - sent[i]
                if want > 0:
                    outbuf[i] += frame * want
                    sent[i] += want
                if outbuf[i]:
                    try:
                        w = self.socks[i].send(outbuf[i])
                        del outbuf[i][:w]
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        raise CtlError("send failed: %s" % e)
                need_write = bool(outbuf[i])
                if need_write != writing[i]:
                    sel.modify(self.socks[i],
                               selectors.EVENT_READ | (selectors.EVENT_WRITE if need_write else 0), i)
                    writing[i] = need_write
            if rate and sum(sent) < count:
                wait = max(0.0, min(0.002, (sum(sent) + 1) / rate - (now - t0)))
            else:
                wait = 0.5
            for key, ev in sel.select(timeout=wait):
                i = key.data
                if ev & selectors.EVENT_READ:
                    try:
                        data = self.socks[i].recv(1 << 20)
                    except BlockingIOError:
                        continue
                    if not data:
                        raise CtlError("control connection closed by the peer")
                    readers[i].feed(data)
                    ok, bad = readers[i].count_ends()
                    acked[i] += ok + bad
                    total_acked += ok
                    failed += bad
            if progress and now >= next_progress:
                progress(total_acked)
                next_progress = now + 1.0
        t_end = time.monotonic()
        sel.close()
        return {
            "requested": count,
            "accepted": total_acked,
            "refused": failed,
            "t0_real": t0_real,
            "send_seconds": t_end - t0,
            "offered_rate": rate,
            "achieved_send_rate": total_acked / (t_end - t0) if t_end > t0 else 0.0,
            "per_origin": acked,
        }


def is_conn_refused(e):
    return isinstance(e, OSError) and e.errno in (errno.ECONNREFUSED, errno.ENOENT)
