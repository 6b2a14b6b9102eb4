# SPDX-License-Identifier: MIT
"""A small Python encoder/decoder of the gossip wire and control protocols (gossip(7)).

Used by the integration tests to talk to the daemons directly: forged dead
reports, fake peers, garbage frames, and a fast control-socket client.
"""
import hashlib
import ipaddress
import socket
import ssl
import struct
import time

WIRE_MAGIC = b"GS"
WIRE_VERSION = 4
WIRE_MAX_BODY = 1024 * 1024

HELLO, REGISTER, PEER_LIST_REQ, PEER_LIST, DEAD_REPORT, LEAVE, GOSSIP, PING, PONG, ERROR = range(1, 11)
IHAVE, GRAFT, PRUNE, CERT, CERT_REQ, PING_REQ, PING_ACK = range(11, 18)
# Version 4 (gossip 0.4): the membership view.
MEMBERS_REQ, MEMBERS = 20, 21
MEMBERS_MAX = 1024  # entries in one MEMBERS frame, at most
ROLE_PEER, ROLE_SEED, ROLE_PROBE = 1, 2, 3

CTL_MAGIC = b"GC"
CTL_VERSION = 1
CTL_SEND, CTL_STATUS, CTL_PEERS, CTL_TAIL, CTL_STATS = range(1, 6)
CTL_RECORD, CTL_END = 0x81, 0x82


# --- wire protocol -----------------------------------------------------------------------

def frame(ftype, body=b"", *, magic=WIRE_MAGIC, version=WIRE_VERSION, length=None):
    """One frame: 8-byte header then body. length overrides the header's body length."""
    if length is None:
        length = len(body)
    return magic + bytes([version, ftype]) + struct.pack(">I", length) + body


def addr(ip, port):
    """Wire encoding of an address: family byte, 4 or 16 address bytes, u16 port."""
    a = ipaddress.ip_address(ip)
    fam = 4 if a.version == 4 else 6
    return bytes([fam]) + a.packed + struct.pack(">H", port)


def parse_addr(buf, off):
    fam = buf[off]
    n = 4 if fam == 4 else 16
    ip = str(ipaddress.ip_address(buf[off + 1:off + 1 + n]))
    (port,) = struct.unpack_from(">H", buf, off + 1 + n)
    return (ip, port), off + 1 + n + 2


def hello(ip, port, role=ROLE_PEER, incarnation=12345):
    return frame(HELLO, bytes([role]) + addr(ip, port) + struct.pack(">Q", incarnation))


def register(ip, port):
    return frame(REGISTER, addr(ip, port))


def peer_list_req():
    return frame(PEER_LIST_REQ)


def dead_report(dead, reporter, timestamp=None):
    ts = int(time.time()) if timestamp is None else timestamp
    return frame(DEAD_REPORT, addr(*dead) + struct.pack(">Q", ts) + addr(*reporter))


def leave(ip, port):
    return frame(LEAVE, addr(ip, port))


def error(code, text):
    return frame(ERROR, struct.pack(">H", code) + struct.pack(">H", len(text)) + text)


def graft(ids):
    """A GRAFT asking for the message ids given (32 bytes each; repeats allowed)."""
    return frame(GRAFT, struct.pack(">H", len(ids)) + b"".join(ids))


def ping(nonce):
    return frame(PING, struct.pack(">Q", nonce))


def pong(nonce):
    return frame(PONG, struct.pack(">Q", nonce))


def without_carried(f):
    """A PING or PONG frame (type, body) as it would be without the IHAVE ids it carries
    (wire version 4): its nonce alone. Any other frame as it is."""
    if f and f[0] in (PING, PONG) and len(f[1]) > 8:
        return f[0], f[1][:8]
    return f


def ping_req(nonce, ip, port):
    return frame(PING_REQ, struct.pack(">Q", nonce) + addr(ip, port))


def ping_ack(nonce, alive, ip, port):
    return frame(PING_ACK, struct.pack(">QB", nonce, alive) + addr(ip, port))


def message_id(origin, timestamp, seq, payload):
    """SHA-256 over the encoded origin, u64 timestamp, u64 seq and the payload."""
    return hashlib.sha256(addr(*origin) + struct.pack(">QQ", timestamp, seq) + payload).digest()


def gossip(origin, payload, timestamp=None, seq=1, msg_id=None, sig=b""):
    """A GOSSIP frame and its id: unsigned, or with a signature (64 bytes) given."""
    ts = int(time.time() * 1e6) if timestamp is None else timestamp
    if msg_id is None:
        msg_id = message_id(origin, ts, seq, payload)
    body = (msg_id + addr(*origin) + struct.pack(">QQB", ts, seq, len(sig)) + sig +
            struct.pack(">I", len(payload)) + payload)
    return frame(GOSSIP, body), msg_id


def signed_bytes(msg_id):
    """What an origin signs: a 16-byte label, then the message id."""
    return b"gossip message 2" + msg_id


def cert(der):
    return frame(CERT, struct.pack(">H", len(der)) + der)


def cert_req(ip, port):
    return frame(CERT_REQ, addr(ip, port))


def members_req(after=None, version=WIRE_VERSION):
    """MEMBERS_REQ: the registrations from the first, or after the address (ip, port)."""
    return frame(MEMBERS_REQ, addr(*after) if after else b"", version=version)


def decode_members(body):
    """(total, more, entries) of a MEMBERS body; each entry a dict, in the frame's order."""
    total, more, count = struct.unpack_from(">IBH", body, 0)
    off, out = 7, []
    for _ in range(count):
        a, off = parse_addr(body, off)
        state, inc, lease_ms, reg_s = struct.unpack_from(">BQII", body, off)
        off += 17
        out.append({"addr": a, "state": state, "incarnation": inc, "lease_age_ms": lease_ms,
                    "registered_s": reg_s})
    assert off == len(body), "trailing bytes in MEMBERS"
    return total, more, out


class _SocketConn:
    """A connection over self.sock, usable as a context manager."""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class WireConn(_SocketConn):
    """A blocking TCP connection to a node, reading whole frames."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0, tls=None, source=None):
        """tls: an ssl.SSLContext to speak TLS with (a client certificate loaded); source: the
        local IP address to connect from (another 127.0.0.x: a host of its own)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock)
        self.buf = b""

    @classmethod
    def accepted(cls, sock):
        """The same over a connection a listener of the test accepted."""
        self = cls.__new__(cls)
        self.sock = sock
        self.buf = b""
        return self

    @property
    def local(self):
        """The connection's local address as 'ip:port', as the daemon names it in its logs."""
        ip, port = self.sock.getsockname()[:2]
        return f"{ip}:{port}"

    def send(self, data):
        self.sock.sendall(data)

    def recv_frame(self, timeout=10.0):
        """(type, body) of the next frame, or None when the node closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                (blen,) = struct.unpack_from(">I", self.buf, 4)
                if len(self.buf) >= 8 + blen:
                    ftype, body = self.buf[3], self.buf[8:8 + blen]
                    self.buf = self.buf[8 + blen:]
                    return ftype, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                return None
            if not data:
                return None
            self.buf += data

    def wait_closed(self, timeout=10.0):
        """True once the node closed the connection (frames it sent before are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.recv_frame(timeout=max(0.01, deadline - time.monotonic())) is None:
                    return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False


def decode_peer_list(body):
    (count,) = struct.unpack_from(">I", body, 0)
    off, out = 4, []
    for _ in range(count):
        a, off = parse_addr(body, off)
        out.append(a)
    assert off == len(body), "trailing bytes in PEER_LIST"
    return out


def seed_peer_list(seed_port, timeout=10.0, tls=None):
    """The set of 'ip:port' a seed has registered, asked with PEER_LIST_REQ."""
    with WireConn(seed_port, timeout=timeout, tls=tls) as c:
        c.send(peer_list_req())
        fr = c.recv_frame(timeout)
        assert fr is not None and fr[0] == PEER_LIST, f"unexpected reply {fr!r}"
        return {f"{ip}:{port}" for ip, port in decode_peer_list(fr[1])}


# --- control protocol --------------------------------------------------------------------

def ctl_frame(ftype, body=b"", *, magic=CTL_MAGIC, version=CTL_VERSION, length=None):
    if length is None:
        length = len(body)
    return magic + bytes([version, ftype]) + struct.pack(">I", length) + body


def decode_record(body):
    (n,) = struct.unpack_from(">H", body, 0)
    off, rec = 2, {}
    for _ in range(n):
        klen = body[off]
        key = body[off + 1:off + 1 + klen].decode()
        off += 1 + klen
        kind = chr(body[off])
        off += 1
        if kind == "s":
            (slen,) = struct.unpack_from(">I", body, off)
            rec[key] = body[off + 4:off + 4 + slen]
            off += 4 + slen
        elif kind == "u":
            (rec[key],) = struct.unpack_from(">Q", body, off)
            off += 8
        elif kind == "i":
            (rec[key],) = struct.unpack_from(">q", body, off)
            off += 8
        elif kind == "b":
            rec[key] = bool(body[off])
            off += 1
        elif kind == "f":
            (rec[key],) = struct.unpack_from(">d", body, off)
            off += 8
        else:
            raise ValueError(f"unknown field kind {kind!r}")
    return rec


class CtlConn(_SocketConn):
    """A persistent control-socket client: one request at a time, records then END."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.timeout = timeout

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        """(type, body), or None when the peer closed the connection."""
        while True:
            if len(self.buf) >= 8:
                (blen,) = struct.unpack_from(">I", self.buf, 4)
                if len(self.buf) >= 8 + blen:
                    assert self.buf[:3] == CTL_MAGIC + bytes([CTL_VERSION]), self.buf[:8]
                    ftype, body = self.buf[3], self.buf[8:8 + blen]
                    self.buf = self.buf[8 + blen:]
                    return ftype, body
            try:
                data = self.sock.recv(1 << 20)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.buf += data

    def reply(self):
        """(records, status, text) of one reply; raises EOFError if the peer closed first."""
        records = []
        while True:
            fr = self.recv_frame()
            if fr is None:
                raise EOFError("control connection closed before END")
            ftype, body = fr
            if ftype == CTL_RECORD:
                records.append(decode_record(body))
            elif ftype == CTL_END:
                status = body[0]
                (tlen,) = struct.unpack_from(">H", body, 1)
                return records, status, body[3:3 + tlen].decode(errors="replace")
            else:
                raise AssertionError(f"unexpected control frame type {ftype:#x}")

    def request(self, ftype, body=b""):
        self.send_raw(ctl_frame(ftype, body))
        return self.reply()

    def send(self, payload):
        """Broadcasts payload; returns the hex id. Raises on a non-zero status."""
        recs, status, text = self.request(CTL_SEND, payload)
        if status != 0:
            raise RuntimeError(f"SEND failed with status {status}: {text}")
        return recs[0]["id"].decode()



def tls_context(ca, cert=None, key=None):
    """A TLS 1.3 client context trusting the cluster CA, with a client certificate when given.
    The daemons check addresses against certificates themselves; no host name check here."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(str(ca))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx
