# SPDX-License-Identifier: MIT
"""Message payloads: the largest allowed, too large, empty, from stdin, escaping in output.txt."""
import json
import random
import string
import uuid

import pytest

from conftest import STEADY
from wireproto import CTL_SEND, CtlConn

MAX = 65536  # peer.max_message_size (the default, set explicitly below)


@pytest.fixture(scope="module")
def net(module_network):
    net = module_network("payload", peer_degree=2, peer_max_message_size=MAX, **STEADY)
    net.formed(1, 4)
    return net


def tail_entry(peer, msg_id):
    found = [e for e in peer.tail(100) if e["id"] == msg_id]
    assert len(found) == 1, f"{peer.name}: {len(found)} tail entries for {msg_id}"
    return found[0]


def test_largest_message_arrives_intact(net):
    origin, others = net.peers[0], net.peers[1:]
    token = uuid.uuid4().hex
    rng = random.Random(token)
    body = token + "".join(rng.choice(string.ascii_letters + string.digits + " .,;-")
                           for _ in range(MAX - len(token)))
    assert len(body.encode()) == MAX
    p = origin.ctl("send", "-", input=body)
    msg_id = p.stdout.decode().split()[1]
    net.wait_delivered(others, token)
    for q in others:
        e = tail_entry(q, msg_id)
        assert e["size"] == MAX
        assert e["text"] == body
        line = [ln for ln in q.output_lines() if token in ln]
        assert len(line) == 1 and line[0].endswith(f":'{body}'")


def test_over_max_message_size_is_refused(net):
    origin = net.peers[0]
    before = origin.status()["messages_sent"]
    # The daemon refuses it (the client allows up to 1000000 bytes).
    p = origin.ctl("send", "-", input="x" * (MAX + 1), check=False)
    assert p.returncode == 5, p
    err = p.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "too long" in err, err
    # The client refuses what no peer could accept without asking the daemon.
    p = origin.ctl("send", "-", input="x" * 1_000_001, check=False)
    assert p.returncode == 5 and "too long" in p.stderr.decode(), p
    # So does the daemon over the control protocol itself.
    with CtlConn(str(origin.ctl_path)) as c:
        recs, status, text = c.request(CTL_SEND, b"y" * (MAX + 1))
        assert (recs, status) == ([], 5) and "too long" in text, text
        recs, status, text = c.request(CTL_SEND, b"")
        assert (recs, status) == ([], 6) and "empty" in text, text
        # The connection is still usable after refusals.
        assert len(c.send(b"still fine " + uuid.uuid4().hex.encode())) == 64
    assert origin.status()["messages_sent"] == before + 1


@pytest.mark.parametrize("how", ["argument", "stdin", "stdin-newline-only"])
def test_empty_message_is_refused(net, how):
    origin = net.peers[0]
    args, inp = {"argument": (["send", ""], None), "stdin": (["send", "-"], ""),
                 "stdin-newline-only": (["send", "-"], "\n")}[how]
    before = origin.status()["messages_sent"]
    p = origin.ctl(*args, input=inp, check=False)
    assert p.returncode == 6, p
    assert len(p.stderr.decode().strip().splitlines()) == 1 and "empty" in p.stderr.decode()
    assert p.stdout == b""
    assert origin.status()["messages_sent"] == before


def test_send_from_stdin(net):
    origin, others = net.peers[1], [net.peers[0]] + net.peers[2:]
    token = uuid.uuid4().hex
    # One trailing newline is removed; inner newlines are part of the message.
    p = origin.ctl("send", "-", input=f"first {token}\nsecond line\n")
    msg_id = p.stdout.decode().split()[1]
    net.wait_delivered(others, token)
    for q in others:
        assert tail_entry(q, msg_id)["text"] == f"first {token}\nsecond line"
        assert [ln for ln in q.output_lines() if token in ln][0].endswith(
            f"'first {token}\\nsecond line'")


def test_words_are_joined_by_spaces(net):
    origin, other = net.peers[0], net.peers[1]
    token = uuid.uuid4().hex
    msg_id = origin.send("-dash", token, "two  spaces")
    net.wait_delivered([other], token)
    assert tail_entry(other, msg_id)["text"] == f"-dash {token} two  spaces"


def test_text_escaping(net):
    origin, others = net.peers[2], [p for p in net.peers if p is not net.peers[2]]
    token = uuid.uuid4().hex
    raw = (f"{token} caf\u00e9 \u2713 \u65e5\u672c \U0001F600 line1\nline2\ttab back\\slash "
           f"cr\r bell\x07 quote' ").encode() + b"bad\xff\xfe end"
    p = origin.ctl("send", "-", input=raw + b"\n")
    msg_id = p.stdout.decode().split()[1]
    net.wait_delivered(others, token)
    expected = (f"{token} caf\u00e9 \u2713 \u65e5\u672c \U0001F600 line1\\nline2\\ttab back\\\\slash "
                f"cr\\r bell\\x07 quote' bad\\xff\\xfe end")
    for q in others:
        lines = [ln for ln in q.output_lines() if token in ln]
        assert len(lines) == 1
        assert lines[0].endswith(f":'{expected}'"), lines[0]
        assert [ln for ln in q.log_lines() if token in ln][0].endswith(f":'{expected}' (id {msg_id})")
        # tail --json: the payload as a JSON string, invalid UTF-8 replaced by U+FFFD.
        e = tail_entry(q, msg_id)
        assert e["size"] == len(raw)
        assert e["text"] == raw.decode("utf-8", errors="replace")
        # The text form of tail uses the same escaping as output.txt.
        txt = q.ctl("tail", "-n", "100").stdout.decode()
        assert f":'{expected}'" in txt
    # The tail --json line is valid JSON with the raw newline escaped.
    raw_json = [ln for ln in others[0].ctl("tail", "-n", "100", json_out=True).stdout.decode().splitlines()
                if token in ln][0]
    assert "\\n" in raw_json and "\n" not in raw_json
    json.loads(raw_json)
