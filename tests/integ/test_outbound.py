"""Sending mail out, end to end: smtpd or submission -> qmgr -> mta -> a
peer on loopback; retries, delivery status notifications, crashes.

The peers are scripted SMTP servers (smtp_peer.py) reached through
transport_file: each test has its own destination domain and port.  A
local user (alice@a.test) sends, so the notices land in her INBOX and
are read from there.  The mta's own behaviour (DNS, TLS, next hops) is
covered by test_mta.py, which drives it directly.
"""
import os
import re
import signal
import smtplib
import tempfile
import time

import pytest

from conftest import Instance, free_port, wait_for
from mailstore import inbox, notices, queue_dump
from smtp_peer import Peer

T = 30
PW = "correct horse"
DOMAINS = ("ok", "multi1", "multi2", "multi3", "multi4", "multi5", "retry",
           "perm", "null", "never", "relayed", "dsnpeer", "drop", "killmta",
           "killqmgr", "expire", "mixed")


def angle(line):
    """"<a@b>" of a MAIL or RCPT argument line ("TO:<a@b> NOTIFY=...")."""
    return re.search(r"<[^>]*>", line).group(0)


def body(subject, text="Hello from Wharf.\r\n"):
    return (f"From: alice@a.test\r\nTo: someone@example\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@a.test>\r\n"
            f"\r\n{text}").encode()


class Out:
    """The module's instance and where each test domain's peer listens."""

    def __init__(self, extra=""):
        self.tmp = tempfile.mkdtemp(prefix="wharf-out-", dir="/tmp")
        self.ports = {d: free_port() for d in DOMAINS}
        table = os.path.join(self.tmp, "transport")
        with open(table, "w") as f:
            for d, p in self.ports.items():
                f.write(f"{d}.example [127.0.0.1]:{p}\n")
        self.inst = Instance(f"transport_file = {table}\n"
                             "smtp_helo_timeout = 10s\n"
                             "smtp_data_timeout = 5s\n" + extra).start()
        w = self.inst.wharf
        w("domain", "add", "a.test", check=True)
        w("user", "add", "alice@a.test", input=PW + "\n", check=True)
        wait_for(lambda: all(self.inst.service_pids(s) for s in
                             ("qmgr", "mta", "deliver", "smtpd")),
                 T, "services up")

    def peer(self, domain, **kw):
        p = Peer("127.0.0.1", self.ports[domain], **kw)
        p.start()
        return p

    def send(self, rcpts, msg, sender="alice@a.test", mail_opts=(),
             rcpt_opts=()):
        with smtplib.SMTP("127.0.0.1", self.inst.ports["smtp"],
                          timeout=T) as s:
            s.ehlo("client.test")
            s.sendmail(sender, rcpts, msg, mail_options=list(mail_opts),
                       rcpt_options=list(rcpt_opts))

    def cleanup(self):
        self.inst.cleanup()


@pytest.fixture(scope="module")
def out():
    o = Out()
    yield o
    o.cleanup()


def queue_empty(inst):
    return inst.psql("select count(*) from queue") == "0"


def wait_notices(inst, n, timeout=T):
    wait_for(lambda: len(notices(inst)) >= n, timeout,
             f"{n} notice(s) in alice's INBOX\n{queue_dump(inst)}")
    time.sleep(0.5)
    got = notices(inst)
    assert len(got) == n, [s for s, _, _ in got]
    return got


def wait_gone(inst, what, timeout=T):
    wait_for(lambda: queue_empty(inst), timeout,
             f"empty queue after {what}\n" + queue_dump(inst))


def test_delivered_byte_exact_in_one_transaction(out):
    peer = out.peer("ok")
    try:
        msg = body("exact", "line one\r\n.starts with a dot\r\n\r\nend\r\n")
        before = len(notices(out.inst))
        out.send(["a@ok.example", "B@OK.example", "c@ok.example"], msg)
        peer.wait_transactions(1, timeout=T)
        wait_gone(out.inst, "delivery")
        t = peer.transactions[0]
        assert len(peer.transactions) == 1
        assert [angle(r) for r in t.rcpts] == [
            "<a@ok.example>", "<B@OK.example>", "<c@ok.example>"]
        assert angle(t.mail) == "<alice@a.test>"
        assert t.ehlo == "mx.wharf.test"
        assert t.data.startswith(b"Received: ")
        assert t.data.endswith(msg)
        assert len(notices(out.inst)) == before   # no notice for success
        log = out.inst.read_log()
        assert "to=<a@ok.example>" in log and "status=sent" in log
    finally:
        peer.stop()


def test_fifty_recipients_at_five_domains(out):
    peers = [out.peer(f"multi{i}") for i in range(1, 6)]
    try:
        rcpts = [f"u{j}@multi{i}.example" for i in range(1, 6)
                 for j in range(10)]
        out.send(rcpts, body("fifty"))
        for p in peers:
            p.wait_transactions(1, timeout=T)
        wait_gone(out.inst, "50 recipients")
        for i, p in enumerate(peers, 1):
            assert len(p.transactions) == 1
            got = sorted(angle(r) for r in p.transactions[0].rcpts)
            assert got == sorted(f"<u{j}@multi{i}.example>"
                                 for j in range(10))
    finally:
        for p in peers:
            p.stop()


def test_temporary_failure_is_retried_then_delivered(out):
    seen = []

    def rcpt(line):
        seen.append(time.monotonic())
        return "451 4.3.0 try again later" if len(seen) < 3 else \
            "250 2.1.5 Ok"
    peer = out.peer("retry", replies={"RCPT": rcpt})
    try:
        out.send(["x@retry.example"], body("retry"))
        peer.wait_transactions(1, timeout=T)
        wait_gone(out.inst, "retries")
        assert len(seen) == 3 and len(peer.transactions) == 1
        # queue_retry_min = 1s, doubling: 1 s, then 2 s (a scan takes
        # what is due within SCAN_AHEAD_MS, 250 ms, with it)
        assert seen[1] - seen[0] >= 0.7
        assert seen[2] - seen[1] >= 1.7
    finally:
        peer.stop()


def test_permanent_failure_gives_one_notice(out):
    peer = out.peer("perm", rcpt={
        "bad@perm.example": "550 5.1.1 <bad@perm.example>: no such user"})
    try:
        before = len(notices(out.inst))
        out.send(["good@perm.example", "bad@perm.example"], body("perm"))
        got = wait_notices(out.inst, before + 1)
        s, data, blob = got[-1]
        assert s["actions"] == ["failed"]
        g = s["recipients"][0]
        assert g["final-recipient"].lower() == "rfc822; bad@perm.example"
        assert g["status"] == "5.1.1"
        assert g["diagnostic-code"].startswith("smtp; 550 5.1.1")
        assert g["remote-mta"].startswith("dns;")
        assert s["to"] == "<alice@a.test>" or "alice@a.test" in s["to"]
        assert b"Subject: perm" in data       # the original comes back
        wait_gone(out.inst, "bounce")
        assert len(peer.transactions) == 1     # good@ delivered
        # the notice came from the null sender
        assert out.inst.psql(
            "select encode(prefix, 'escape') from messages m join blobs b "
            f"on b.id = m.blob_id where b.name = '{blob}'").startswith(
                "Return-Path: <>")
    finally:
        peer.stop()


def test_null_sender_is_never_bounced_but_held(out):
    peer = out.peer("null", replies={"RCPT": "550 5.1.1 no"})
    try:
        before = len(notices(out.inst))
        out.send(["x@null.example"], body("null"), sender="")
        wait_for(lambda: out.inst.psql(
            "select count(*) from queue where held and sender = ''") == "1",
            T, "the bounce of a bounce held\n" + queue_dump(out.inst))
        assert len(notices(out.inst)) == before
        assert "held" in out.inst.wharf("queue", "list", check=True).stdout
        out.inst.wharf("queue", "delete", "ALL", check=True)
        wait_gone(out.inst, "delete")
    finally:
        peer.stop()


def test_notify_never_and_failure_only(out):
    peer = out.peer("never", replies={"RCPT": "550 5.7.1 refused"})
    try:
        before = len(notices(out.inst))
        out.send(["x@never.example"], body("never"),
                 rcpt_opts=["NOTIFY=NEVER"])
        wait_gone(out.inst, "NOTIFY=NEVER")
        time.sleep(1)
        assert len(notices(out.inst)) == before
    finally:
        peer.stop()


def test_notify_success_relayed_to_peer_without_dsn(out):
    caps = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]
    peer = out.peer("relayed", caps=caps)
    try:
        before = len(notices(out.inst))
        out.send(["x@relayed.example"], body("relayed"),
                 rcpt_opts=["NOTIFY=SUCCESS,FAILURE"])
        s = wait_notices(out.inst, before + 1)[-1][0]
        assert s["actions"] == ["relayed"]
        assert s["recipients"][0]["status"].startswith("2.")
        wait_gone(out.inst, "success notice")
    finally:
        peer.stop()


def test_dsn_parameters_passed_to_a_dsn_peer(out):
    peer = out.peer("dsnpeer")
    try:
        before = len(notices(out.inst))
        out.send(["x@dsnpeer.example"], body("dsnpeer"),
                 mail_opts=["RET=HDRS", "ENVID=abc123"],
                 rcpt_opts=["NOTIFY=SUCCESS", "ORCPT=rfc822;x@dsnpeer.example"])
        peer.wait_transactions(1, timeout=T)
        wait_gone(out.inst, "delivery")
        t = peer.transactions[0]
        assert "RET=HDRS" in t.mail and "ENVID=abc123" in t.mail
        assert "NOTIFY=SUCCESS" in t.rcpts[0]
        assert "ORCPT=rfc822;x@dsnpeer.example" in t.rcpts[0]
        time.sleep(1)
        # the peer took over DSN duty: no "relayed" notice from us
        assert len(notices(out.inst)) == before
    finally:
        peer.stop()


def test_connection_dropped_mid_data_is_retried_once(out):
    peer = out.peer("drop", drop_in_data=True)
    try:
        out.send(["x@drop.example"], body("drop"))
        wait_for(lambda: peer.connections >= 1, T, "first attempt")
        wait_for(lambda: out.inst.psql(
            "select attempts from queue_recipients r join queue q on "
            "q.id = r.queue where r.address = 'x@drop.example'") in
            ("1", "2"), T, "the failed attempt recorded")
        peer.stop()
        peer = out.peer("drop")
        peer.wait_transactions(1, timeout=T)
        wait_gone(out.inst, "retry after a drop")
        assert len(peer.transactions) == 1
    finally:
        peer.stop()


def service_kill(inst, name):
    pids = inst.service_pids(name)
    assert pids, inst.status()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("victim", ["mta", "qmgr"])
def test_kill_mid_delivery_delivers_exactly_once(out, victim):
    domain = "killmta" if victim == "mta" else "killqmgr"
    # The peer holds the 354 back: the mta is mid-transaction, no body
    # has left, when the victim dies.
    peer = out.peer(domain, delays={"DATA": 3})
    try:
        out.send([f"x@{domain}.example", f"y@{domain}.example"],
                 body(domain))
        wait_for(lambda: any(c.startswith("DATA") for c in peer.commands),
                 T, "the transaction under way")
        service_kill(out.inst, victim)
        wait_for(lambda: out.inst.service_pids(victim), T, "restart")
        peer.wait_transactions(1, timeout=T + 10)
        wait_gone(out.inst, "redelivery", timeout=T + 10)
        time.sleep(5)   # the first session's late body must not count
        got = sorted(angle(r) for t in peer.transactions for r in t.rcpts)
        assert got == [f"<x@{domain}.example>", f"<y@{domain}.example>"], \
            peer.commands       # each recipient exactly once
    finally:
        peer.stop()


def test_mixed_local_and_remote_recipients(out):
    peer = out.peer("mixed")
    try:
        n = len(inbox(out.inst, "alice"))
        out.send(["alice@a.test", "x@mixed.example"], body("mixed"))
        peer.wait_transactions(1, timeout=T)
        wait_gone(out.inst, "local + remote")
        assert len(inbox(out.inst, "alice")) == n + 1
    finally:
        peer.stop()


def test_expiry_with_delay_warning(fresh):
    tmp = tempfile.mkdtemp(prefix="wharf-out-", dir="/tmp")
    port = free_port()
    table = os.path.join(tmp, "transport")
    with open(table, "w") as f:
        f.write(f"expire.example [127.0.0.1]:{port}\n")
    inst = fresh(f"transport_file = {table}\n"
                 "maximal_queue_lifetime = 8s\n"
                 "delay_warning_time = 2s\n"
                 "queue_retry_max = 2s\n").start()
    inst.wharf("domain", "add", "a.test", check=True)
    inst.wharf("user", "add", "alice@a.test", input=PW + "\n", check=True)
    wait_for(lambda: inst.service_pids("mta"), T, "mta up")
    peer = Peer("127.0.0.1", port, replies={"RCPT": "450 4.2.0 busy"})
    peer.start()
    try:
        with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T) as s:
            s.sendmail("alice@a.test", ["x@expire.example"], body("expire"))
        s1 = wait_notices(inst, 1)[0][0]
        assert s1["actions"] == ["delayed"]
        assert "will-retry-until" in s1["recipients"][0]
        got = wait_notices(inst, 2, timeout=40)
        s2 = [s for s, _, _ in got if s["actions"] != ["delayed"]][0]
        assert s2["actions"] == ["failed"]
        assert s2["recipients"][0]["status"] == "4.2.0"
        wait_gone(inst, "expiry")
        assert peer.connections >= 3
    finally:
        peer.stop()
