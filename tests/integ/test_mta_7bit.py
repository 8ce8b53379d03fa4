"""The outbound mta converting 8-bit messages to 7-bit MIME for servers
without 8BITMIME (smtp_8bit_conversion; lib/mime_7bit.c).

Driven as tests/integ/test_mta.py drives the mta (its helpers are reused):
MTA_DELIVER with BODY=8BITMIME to tests/integ/smtp_peer.py servers reached
through transport_file, one offering 8BITMIME and one not.  What the peer
receives is read back with Python's email package.
"""
import email
import email.policy
import os
import re
import subprocess
import tempfile

import pytest

from conftest import Instance, free_port, wait_for
from smtp_peer import Peer
from test_mta import MTA_OK, MTA_PERMFAIL, deliver

MTA_BODY_8BITMIME = 1
CAPS_NO_8BIT = ["PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "SIZE 10000000"]

TEXT = ("Grüße aus Köln, naïve café = 100 €\r\n"
        ".a line with a dot and trailing space \r\n"
        + "long line " * 30 + "é\r\n")


class World:
    pass


def transport_world(tmp, extra=""):
    """Two peers, a transport_file to them, an instance (not started)."""
    w = World()
    w.tmp = tmp
    w.port7, w.port8 = free_port(), free_port()
    w.peer7 = Peer("127.0.0.1", w.port7, caps=CAPS_NO_8BIT).start()
    w.peer8 = Peer("127.0.0.1", w.port8).start()
    transport = os.path.join(tmp, "transport")
    with open(transport, "w") as f:
        f.write(f"seven.example [127.0.0.1]:{w.port7}\n"
                f"eight.example [127.0.0.1]:{w.port8}\n")
    w.inst = Instance(extra=f"transport_file = {transport}\n"
                            f"smtp_helo_timeout = 5s\n{extra}")
    return w


def start(w):
    w.inst.start()
    w.sock = os.path.join(w.inst.dir, "run", "private", "mta.sock")
    wait_for(lambda: os.path.exists(w.sock), 30, "mta.sock")
    return w


def stop(w):
    w.inst.cleanup()
    w.peer7.stop()
    w.peer8.stop()
    subprocess.run(["rm", "-rf", w.tmp])


@pytest.fixture(scope="module")
def world():
    tmp = tempfile.mkdtemp(prefix="wharf-mta7-")
    os.chmod(tmp, 0o755)
    w = start(transport_world(tmp))
    yield w
    stop(w)


def message(headers, body):
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return (b"Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
            b"From: <sender@wharf.test>\r\n" + head.encode() + b"\r\n"
            + body)


def send(w, domain, data, qid, **kw):
    before = len(w.peer7.transactions) + len(w.peer8.transactions)
    res = deliver(w, domain, [f"rcpt@{domain}"], data=data, qid=qid,
                  body=MTA_BODY_8BITMIME, **kw)
    return res, before


def last_tx(peer, n):
    return peer.wait_transactions(n)[-1]


def assert_7bit(data):
    assert all(b < 0x80 for b in data), data
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def test_text_plain_as_quoted_printable(world):
    w = world
    n = len(w.peer7.transactions)
    data = message([("Subject", "8-bit text"), ("MIME-Version", "1.0"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Transfer-Encoding", "8bit")],
                   TEXT.encode())
    res, _ = send(w, "seven.example", data, "7BIT0001")
    assert res[0]["status"] == MTA_OK, res
    t = last_tx(w.peer7, n + 1)
    assert_7bit(t.data)
    assert "BODY=8BITMIME" not in t.mail
    assert f"SIZE={len(t.data)}" in t.mail
    msg = email.message_from_bytes(t.data, policy=email.policy.default)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert len(msg.get_all("Content-Transfer-Encoding")) == 1
    assert len(msg.get_all("MIME-Version")) == 1
    assert msg["Subject"] == "8-bit text"
    assert msg.get_payload(decode=True) == TEXT.encode()
    assert (msg.get_content().replace("\r\n", "\n") ==
            TEXT.replace("\r\n", "\n"))
    wait_for(lambda: re.search(r"7BIT0001: converted to 7bit MIME for "
                               r"127\.0\.0\.1\[127\.0\.0\.1\]",
                               w.inst.read_log()), 10, "the log line")


def test_multipart_text_and_binary(world):
    w = world
    n = len(w.peer7.transactions)
    blob = bytes(range(256)) * 3
    body = (b"This is a multi-part message in MIME format.\r\n"
            b"--=_sep\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            + TEXT.encode() +
            b"\r\n--=_sep\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Disposition: attachment; filename=blob.bin\r\n\r\n"
            + blob +
            b"\r\n--=_sep\r\n"
            b"Content-Type: text/plain\r\n\r\nplain ascii\r\n"
            b"--=_sep--\r\n")
    data = message([("Subject", "multipart"), ("MIME-Version", "1.0"),
                    ("Content-Type",
                     'multipart/mixed; boundary="=_sep"')], body)
    res, _ = send(w, "seven.example", data, "7BIT0002")
    assert res[0]["status"] == MTA_OK, res
    t = last_tx(w.peer7, n + 1)
    assert_7bit(t.data)
    msg = email.message_from_bytes(t.data, policy=email.policy.default)
    parts = list(msg.iter_parts())
    assert len(parts) == 3
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[0].get_payload(decode=True) == TEXT.encode()
    assert parts[1]["Content-Transfer-Encoding"] == "base64"
    assert parts[1].get_filename() == "blob.bin"
    assert parts[1].get_payload(decode=True) == blob
    assert parts[2]["Content-Transfer-Encoding"] is None
    assert parts[2].get_payload(decode=True) == b"plain ascii"
    assert b"This is a multi-part message in MIME format.\r\n" in t.data


def test_8bit_peer_gets_the_message_as_is(world):
    w = world
    n = len(w.peer8.transactions)
    data = message([("Subject", "as is")], TEXT.encode())
    res, _ = send(w, "eight.example", data, "7BIT0003")
    assert res[0]["status"] == MTA_OK, res
    t = last_tx(w.peer8, n + 1)
    assert t.data == data
    assert "BODY=8BITMIME" in t.mail


def test_declared_8bit_but_7bit_content(world):
    w = world
    n = len(w.peer7.transactions)
    data = message([("Subject", "ascii")], b"only ascii\r\n")
    res, _ = send(w, "seven.example", data, "7BIT0004")
    assert res[0]["status"] == MTA_OK, res
    assert last_tx(w.peer7, n + 1).data == data
    wait_for(lambda: "7BIT0004: no 8-bit content: sent as 7bit" in
             w.inst.read_log(), 10, "the log line")


def test_8bit_header_bounces(world):
    w = world
    n = len(w.peer7.transactions)
    data = message([("Subject", "Grüße")], TEXT.encode())
    res, _ = send(w, "seven.example", data, "7BIT0005")
    assert res[0]["status"] == MTA_PERMFAIL, res
    assert res[0]["dsn"] == "5.6.3"
    assert ("host 127.0.0.1[127.0.0.1] does not support 8BITMIME and the "
            "message could not be converted: 8-bit header"
            in res[0]["reply"]), res
    assert len(w.peer7.transactions) == n
    wait_for(lambda: re.search(r"7BIT0005: to=<rcpt@seven\.example>, "
                               r"relay=\S+, delay=\S+, dsn=5\.6\.3, "
                               r"status=bounced", w.inst.read_log()),
             10, "the bounced line")


def test_message_global_bounces(world):
    w = world
    data = message([("MIME-Version", "1.0"),
                    ("Content-Type", "message/global")],
                   "Subject: Grüße\r\n\r\nbody\r\n".encode())
    res, _ = send(w, "seven.example", data, "7BIT0006")
    assert res[0]["status"] == MTA_PERMFAIL, res
    assert res[0]["dsn"] == "5.6.3"
    assert "message/global" in res[0]["reply"]


def test_conversion_turned_off():
    tmp = tempfile.mkdtemp(prefix="wharf-mta7-off-")
    os.chmod(tmp, 0o755)
    w = transport_world(tmp, "smtp_8bit_conversion = no\n")
    try:
        start(w)
        data = message([("Subject", "off")], TEXT.encode())
        res, _ = send(w, "seven.example", data, "7BIT0007")
        assert res[0]["status"] == MTA_PERMFAIL, res
        assert res[0]["dsn"] == "5.6.3"
        assert "could not be converted: conversion is turned off" in \
            res[0]["reply"], res
        assert w.peer7.transactions == []
    finally:
        stop(w)
