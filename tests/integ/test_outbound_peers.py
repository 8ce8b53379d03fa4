"""Sending mail out to real peers found through DNS: Debian's Postfix and a
second Wharf, each listening on port 25 of its own loopback address, with
MX and A records served by tests/dns_server.py on 127.0.0.1.

A message submitted on port 587 (STARTTLS + AUTH) reaches Postfix over
STARTTLS; port-25 relay reaches the second Wharf; a null MX and a user
Postfix does not know come back as delivery status notifications.
"""
import json
import os
import smtplib
import ssl
import subprocess
import tempfile

import pytest

from conftest import Instance, slot_addr, wait_for
from mailstore import notices, queue_dump, read_blob, wait_inbox
from postfix_peer import PostfixPeer

T = 30
PW = "correct horse"
PF_ADDR = slot_addr(77)
W2_ADDR = slot_addr(78)
HERE = os.path.dirname(os.path.abspath(__file__))
DNS_SERVER = os.path.join(HERE, "..", "dns_server.py")

ZONE = {
    "pf.example": {"MX": [[10, "mx.pf.example."]]},
    "mx.pf.example": {"A": [PF_ADDR]},
    "wharf2.example": {"MX": [[10, "mx.wharf2.example."]]},
    "mx.wharf2.example": {"A": [W2_ADDR]},
    "nullmx.example": {"MX": [[0, "."]]},
    # we (myhostname mx.wharf.test) are the best MX: RFC 5321 5.1
    "loop.example": {"MX": [[10, "mx.wharf.test."],
                            [20, "mx.pf.example."]]},
}


class Dns:
    """tests/dns_server.py on 127.0.0.1, a free port, the zone above."""

    def __init__(self, zone):
        self.dir = tempfile.mkdtemp(prefix="wharf-dns-", dir="/tmp")
        path = os.path.join(self.dir, "zone.json")
        with open(path, "w") as f:
            json.dump(zone, f)
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", DNS_SERVER, "--port", "0", "--zone", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "ready", line
        self.port = int(line[1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def add_user(inst, address):
    inst.wharf("domain", "add", address.split("@")[1], check=True)
    inst.wharf("user", "add", address, input=PW + "\n", check=True)


@pytest.fixture(scope="module")
def net():
    dns = Dns(ZONE)
    pf = PostfixPeer(PF_ADDR, 25, "pf.example", ["bob"]).start()
    two = one = None
    try:
        two = Instance(f"smtp_listen = {W2_ADDR}:25\n"
                       "myhostname = mx.wharf2.example\n").start()
        add_user(two, "carol@wharf2.example")
        one = Instance(f"dns_servers = 127.0.0.1:{dns.port}\n").start()
        add_user(one, "alice@a.test")
        for inst in (one, two):
            wait_for(lambda: all(inst.service_pids(s) for s in
                                 ("qmgr", "mta", "deliver", "smtpd")),
                     T, "services up")
        yield one, two, pf
    finally:
        for inst in (one, two):
            if inst is not None:
                inst.cleanup()
        pf.stop()
        dns.stop()


def message(subject):
    return (f"From: alice@a.test\r\nTo: friend@example.org\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: <{subject}@a.test>\r\n"
            "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"Body of {subject}.\r\n.dot line\r\n").encode()


def test_submission_to_postfix_found_by_mx_over_starttls(net):
    one, _, pf = net
    msg = message("to-postfix")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", one.ports["submission"], timeout=T) as s:
        s.starttls(context=ctx)
        s.login("alice@a.test", PW)
        s.sendmail("alice@a.test", ["bob@pf.example"], msg)
    got = pf.wait_messages("bob", 1)[0]
    wait_for(lambda: one.psql("select count(*) from queue") == "0", T,
             "queue empty\n" + queue_dump(one))
    # Postfix keeps the message as it came, with LF line ends, after the
    # lines it prepends; ours start at our Received: line.
    ours = got[got.index(b"Received: from "):]
    ours = ours[ours.index(b"\nReceived: ") + 1:]
    assert ours.endswith(msg.replace(b"\r\n", b"\n")), ours.decode()
    assert b"using TLSv1." in got          # Postfix's Received: says TLS
    log = one.read_log()
    assert f"relay=mx.pf.example[{PF_ADDR}]:25" in log
    assert f"TLS connection established to mx.pf.example[{PF_ADDR}]:25" \
        in log
    assert "status=sent" in pf.log()


def test_relay_to_a_second_wharf(net):
    one, two, _ = net
    msg = message("to-wharf2")
    with smtplib.SMTP("127.0.0.1", one.ports["smtp"], timeout=T) as s:
        s.sendmail("alice@a.test", ["carol@wharf2.example"], msg)
    rows = wait_inbox(two, "carol", 1, domain="wharf2.example")
    data = read_blob(two, rows[0][1])
    assert data.endswith(msg)
    assert data.count(b"Received: ") == 2
    assert b"by mx.wharf2.example" in data and b"by mx.wharf.test" in data


def test_null_mx_loop_and_unknown_user_bounce(net):
    one, _, pf = net
    before = len(notices(one))
    with smtplib.SMTP("127.0.0.1", one.ports["smtp"], timeout=T) as s:
        s.sendmail("alice@a.test", ["x@nullmx.example"], message("nullmx"))
        s.sendmail("alice@a.test", ["nobody@pf.example"],
                   message("unknown"))
        s.sendmail("alice@a.test", ["x@loop.example"], message("loop"))
    wait_for(lambda: len(notices(one)) >= before + 3, T,
             "three notices\n" + queue_dump(one))
    groups = {g["final-recipient"].split(";")[1].strip(): g
              for n, _, _ in notices(one)[before:] for g in n["recipients"]}
    assert groups["x@nullmx.example"]["status"] == "5.1.10"
    assert groups["x@nullmx.example"]["action"] == "failed"
    g = groups["nobody@pf.example"]
    assert g["status"] == "5.1.1" and g["action"] == "failed"
    assert g["diagnostic-code"].startswith("smtp; 550 5.1.1")
    assert g["remote-mta"] == "dns; mx.pf.example"
    g = groups["x@loop.example"]
    assert g["status"] == "5.4.6" and "loops back to myself" in \
        g["diagnostic-code"]
    assert "loop.example" not in pf.log()   # the worse MX is not tried
