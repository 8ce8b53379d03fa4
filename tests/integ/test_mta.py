"""The outbound mta, driven as qmgr drives it.

A real master runs the mta; the tests connect to
<instance>/run/private/mta.sock, send MTA_DELIVER with the message as an
fd, and read MTA_DELIVER_R.  The far ends are tests/integ/smtp_peer.py
servers on 127.x.y.z addresses (port 25 for MX routes), and DNS comes from
tests/dns_server.py (zones under .example).
"""
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time

import pytest

import conftest

from conftest import Instance, free_port, wait_for
from smtp_peer import Peer, make_cert
import wharfipc
from wharfipc import put_str, put_u32, put_u64

HERE = os.path.dirname(os.path.abspath(__file__))
DNS_SERVER = os.path.join(HERE, "..", "dns_server.py")

MTA_PROTO, MTA_PROTO_VERSION = 6, 1
MTA_DELIVER, MTA_DELIVER_R = 0x0601, 0x0602
MTA_OK, MTA_TEMPFAIL, MTA_PERMFAIL = 0, 1, 2
MTA_F_RELAYED = 1
NOTIFY_SUCCESS = 0x2

MESSAGE = (b"Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
           b"From: <sender@wharf.test>\r\nSubject: test\r\n\r\n"
           b"body line\r\n.leading dot\r\n.\r\n..two dots\r\n"
           b"last line\r\n")


def pick_net():
    """A 127.a.b.0/24 where nothing listens on port 25."""
    while True:
        # the second octet's parity is the suite's slot (conftest.SLOT)
        a = random.randint(32, 125) * 2 + conftest.SLOT
        net = f"127.{a}.{random.randint(1, 250)}"
        with socket.socket() as s:
            try:
                s.bind((f"{net}.1", 25))
                return net
            except OSError:
                continue


class World:
    """DNS server, peers and the instance of this module."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.net = pick_net()
        self.peers = []
        self.dns = None

    def ip(self, n):
        return f"{self.net}.{n}"

    def peer(self, n, port=25, **kw):
        p = Peer(self.ip(n) if isinstance(n, int) else n, port, **kw)
        self.peers.append(p.start())
        return p

    def start_dns(self, zone):
        path = os.path.join(self.tmp, "zone.json")
        with open(path, "w") as f:
            json.dump(zone, f)
        self.dns = subprocess.Popen(
            [sys.executable, DNS_SERVER, "--port", "0", "--zone", path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.dns.stdout.readline().split()
        assert line[0] == "ready", line
        return int(line[1])

    def close(self):
        for p in self.peers:
            p.stop()
        if self.dns is not None:
            self.dns.terminate()
            self.dns.wait(10)


def zone_for(w):
    z = {}

    def mx(domain, *hosts):
        z[domain] = {"MX": [[10 * (i + 1), h] for i, (h, _) in
                            enumerate(hosts)]}
        for h, n in hosts:
            if n is not None:
                z[h] = {"A": [w.ip(n)]}
    mx("plain.example", ("mx.plain.example", 1))
    mx("greet.example", ("mx1.greet.example", 2), ("mx2.greet.example", 3))
    mx("refused.example", ("mx1.refused.example", 4),
       ("mx2.refused.example", 5))
    z["amx.example"] = {"A": [w.ip(6)]}
    z["nullmx.example"] = {"MX": [[0, "."]]}
    z["servfail.example"] = {"SERVFAIL": True}
    mx("silent.example", ("mx.silent.example", 7))
    mx("drop.example", ("mx.drop.example", 8))
    mx("small.example", ("mx.small.example", 9))
    mx("notls.example", ("mx.notls.example", 10))
    mx("multi.example", ("mx.multi.example", 11))
    mx("verify.example", ("mx.verify.example", 12))
    mx("badname.example", ("mx.badname.example", 13))
    mx("brokentls.example", ("mx.brokentls.example", 14))
    return z


@pytest.fixture(scope="module")
def world():
    tmp = tempfile.mkdtemp(prefix="wharf-mta-")
    w = World(tmp)
    w.p_plain = w.peer(1, rcpt={"b@plain.example": "450 4.2.0 busy",
                                "c@plain.example": "550 5.1.1 unknown"})
    w.p_greet1 = w.peer(2, greeting="421 4.3.2 not now")
    w.p_greet2 = w.peer(3)
    # .4 listens nowhere: connection refused
    w.p_refused2 = w.peer(5)
    w.p_amx = w.peer(6)
    w.p_silent = w.peer(7, silent=True)
    w.p_drop = w.peer(8, drop_in_data=True)
    w.p_small = w.peer(9, caps=["PIPELINING", "SIZE 100", "8BITMIME"])
    w.p_notls = w.peer(10)
    w.p_multi = w.peer(11, caps=["PIPELINING", "8BITMIME"],
                       delays={"DOT": 0.5})
    w.cert = make_cert(tmp, "mx.verify.example")
    w.p_verify = w.peer(12, tls=w.cert)
    w.p_badname = w.peer(13, tls=w.cert)
    w.p_brokentls = w.peer(14, tls=w.cert, tls_broken=True)
    w.transport_port = free_port()
    w.p_transport = w.peer("127.0.0.1", w.transport_port)
    w.transport6_port = free_port()
    w.p_transport6 = w.peer("::1", w.transport6_port)
    dns_port = w.start_dns(zone_for(w))
    transport = os.path.join(tmp, "transport")
    with open(transport, "w") as f:
        f.write("# test transport\n"
                f"transport.example [127.0.0.1]:{w.transport_port}\n"
                f".sub.transport.example [127.0.0.1]:{w.transport_port}\n"
                f"v6.example [::1]:{w.transport6_port}\n")
    policy = os.path.join(tmp, "tls_policy")
    with open(policy, "w") as f:
        f.write("notls.example encrypt\nverify.example verify\n"
                "badname.example VERIFY\n")
    os.chmod(tmp, 0o755)
    w.inst = Instance(extra=f"""
dns_servers = 127.0.0.1:{dns_port}
dns_dnssec = no
dns_timeout = 3s
smtp_connect_timeout = 3s
smtp_helo_timeout = 3s
smtp_data_timeout = 5s
transport_file = {transport}
smtp_tls_policy_file = {policy}
smtp_tls_ca_file = {w.cert[0]}
""").start()
    w.sock = os.path.join(w.inst.dir, "run", "private", "mta.sock")
    wait_for(lambda: os.path.exists(w.sock), 30, "mta.sock")
    yield w
    w.inst.cleanup()
    w.close()
    subprocess.run(["rm", "-rf", tmp])


def message_fd(data=MESSAGE):
    f = tempfile.TemporaryFile()
    f.write(data)
    f.flush()
    return f


def deliver_payload(domain, rcpts, qid="4F2A0001", size=None,
                    sender="sender@wharf.test", envid="", ret=0, body=0,
                    smtputf8=0, data=MESSAGE):
    p = put_str(qid) + put_u64(len(data) if size is None else size)
    p += put_str(sender) + put_str(envid) + put_u32(ret) + put_u32(body)
    p += put_u32(smtputf8) + put_str(domain) + put_u32(len(rcpts))
    for i, r in enumerate(rcpts):
        addr, notify = (r, 0) if isinstance(r, str) else r
        p += put_u64(100 + i) + put_str(addr) + put_str("")
        p += put_u32(notify)
    return p


def connect(w, timeout=40):
    c = wharfipc.Conn(w.sock, timeout=timeout)
    c.send(wharfipc.IPC_HELLO, put_u32(MTA_PROTO) +
           put_u32(MTA_PROTO_VERSION))
    return c


def read_reply(r):
    n = r.u32()
    out = []
    for _ in range(n):
        out.append({"row": r.u64(), "status": r.u32(), "dsn": r.str(),
                    "reply": r.str(), "relay": r.str(), "flags": r.u32()})
    r.end()
    return out


def deliver(w, domain, rcpts, data=MESSAGE, **kw):
    """One request on a new connection; its results."""
    c = connect(w)
    try:
        with message_fd(data) as f:
            c.send(MTA_DELIVER, deliver_payload(domain, rcpts, data=data,
                                                **kw), 1, fd=f.fileno())
            t, id_, flags, r = c.recv()
        assert id_ == 1 and flags & wharfipc.IPC_F_REPLY
        assert t == MTA_DELIVER_R, (t, r.data)
        return read_reply(r)
    finally:
        c.close()


def test_three_recipients_one_transaction(world):
    w = world
    before = len(w.p_plain.transactions)
    res = deliver(w, "plain.example", ["a@plain.example",
                                       ("b@plain.example", 0),
                                       "c@plain.example",
                                       "d@PLAIN.example"])
    st = [x["status"] for x in res]
    assert st == [MTA_OK, MTA_TEMPFAIL, MTA_PERMFAIL, MTA_OK], res
    assert [x["row"] for x in res] == [100, 101, 102, 103]
    assert res[0]["dsn"] == "2.0.0"
    assert "queued as PEER1" in res[0]["reply"]
    assert res[1]["dsn"] == "4.2.0" and "450 4.2.0 busy" in res[1]["reply"]
    assert res[2]["dsn"] == "5.1.1"
    assert "in reply to RCPT TO command" in res[2]["reply"]
    assert res[0]["relay"] == f"mx.plain.example[{w.ip(1)}]:25"
    txs = w.p_plain.wait_transactions(before + 1)
    assert len(txs) == before + 1
    t = txs[-1]
    assert t.data == MESSAGE                      # byte-exact
    assert t.ehlo == "mx.wharf.test"
    assert t.mail.startswith("FROM:<sender@wharf.test>")
    assert f"SIZE={len(MESSAGE)}" in t.mail
    assert [r.split()[0] for r in t.rcpts] == ["TO:<a@plain.example>",
                                               "TO:<d@PLAIN.example>"]


def test_log_lines(world):
    w = world
    deliver(w, "plain.example", ["logged@plain.example"], qid="LOGTEST1")
    pat = re.compile(r"LOGTEST1: to=<logged@plain\.example>, "
                     r"relay=mx\.plain\.example\[[0-9.]+\]:25, "
                     r"delay=\d+\.\d, dsn=2\.0\.0, status=sent "
                     r"\(250 2\.0\.0 Ok: queued as PEER1\)")
    wait_for(lambda: pat.search(w.inst.read_log()), 10, "the sent line")
    deliver(w, "plain.example", ["c@plain.example"], qid="LOGTEST2")
    wait_for(lambda: re.search(r"LOGTEST2: to=<c@plain\.example>, relay=\S+"
                               r", delay=[0-9.]+, dsn=5\.1\.1, "
                               r"status=bounced \(host ",
                               w.inst.read_log()), 10, "the bounced line")


def test_greeting_4xx_next_mx(world):
    w = world
    res = deliver(world, "greet.example", ["x@greet.example"])
    assert res[0]["status"] == MTA_OK, res
    assert res[0]["relay"] == f"mx2.greet.example[{w.ip(3)}]:25"
    assert w.p_greet1.connections >= 1


def test_refused_next_mx(world):
    w = world
    res = deliver(world, "refused.example", ["x@refused.example"])
    assert res[0]["status"] == MTA_OK, res
    assert res[0]["relay"] == f"mx2.refused.example[{w.ip(5)}]:25"
    log = w.inst.read_log()
    assert (f"connect to mx1.refused.example[{w.ip(4)}]:25: "
            "Connection refused") in log


def test_no_mx_implicit(world):
    w = world
    res = deliver(world, "amx.example", ["x@amx.example"])
    assert res[0]["status"] == MTA_OK, res
    assert res[0]["relay"] == f"amx.example[{w.ip(6)}]:25"


def test_null_mx(world):
    res = deliver(world, "nullmx.example", ["x@nullmx.example"])
    assert res[0]["status"] == MTA_PERMFAIL, res
    assert res[0]["dsn"] == "5.1.10"
    assert "does not accept mail (nullMX)" in res[0]["reply"]
    assert res[0]["relay"] == "none"


def test_nxdomain(world):
    res = deliver(world, "nope.example", ["x@nope.example"])
    assert res[0]["status"] == MTA_PERMFAIL, res
    assert res[0]["dsn"] == "5.1.2"
    assert res[0]["reply"].startswith("Host or domain name not found. "
                                      "Name service error for "
                                      "name=nope.example type=MX")


def test_servfail(world):
    res = deliver(world, "servfail.example", ["x@servfail.example"])
    assert res[0]["status"] == MTA_TEMPFAIL, res
    assert res[0]["dsn"] == "4.4.3"


def test_transport_port(world):
    w = world
    before = len(w.p_transport.transactions)
    res = deliver(w, "transport.example", ["x@transport.example"])
    assert res[0]["status"] == MTA_OK, res
    assert res[0]["relay"] == f"127.0.0.1[127.0.0.1]:{w.transport_port}"
    res = deliver(w, "a.sub.transport.example",
                  ["y@a.sub.transport.example"])
    assert res[0]["status"] == MTA_OK, res
    w.p_transport.wait_transactions(before + 2)
    res = deliver(w, "V6.example", ["z@v6.example"])
    assert res[0]["status"] == MTA_OK, res
    assert res[0]["relay"] == f"::1[::1]:{w.transport6_port}"
    w.p_transport6.wait_transactions(1)


def test_thousand_recipients(world):
    """1000 results do not fit one frame with full texts: they are cut,
    the statuses stay."""
    w = world
    rcpts = [f"u{i}@plain.example" for i in range(1000)]
    res = deliver(w, "plain.example", rcpts)
    assert len(res) == 1000
    assert all(x["status"] == MTA_OK and x["dsn"] == "2.0.0" for x in res)
    assert [x["row"] for x in res] == list(range(100, 1100))
    t = w.p_plain.transactions[-1]
    assert len(t.rcpts) == 1000 and t.data == MESSAGE


def test_encrypt_without_starttls(world):
    res = deliver(world, "notls.example", ["x@notls.example"])
    assert res[0]["status"] == MTA_TEMPFAIL, res
    assert res[0]["dsn"] == "4.7.4"
    assert world.p_notls.transactions == []


def test_verify_policy(world):
    w = world
    res = deliver(w, "verify.example", ["x@verify.example"], qid="VERIFY1")
    assert res[0]["status"] == MTA_OK, res
    assert w.p_verify.wait_transactions(1)[0].tls
    assert re.search(r"VERIFY1: Verified TLS connection established to "
                     r"mx\.verify\.example\[", w.inst.read_log())
    # The same certificate on a host of another name does not verify.
    res = deliver(w, "badname.example", ["x@badname.example"])
    assert res[0]["status"] == MTA_TEMPFAIL, res
    assert res[0]["dsn"] == "4.7.5"
    assert w.p_badname.transactions == []


def test_may_tls_failure_retried_in_plaintext(world):
    w = world
    res = deliver(w, "brokentls.example", ["x@brokentls.example"])
    assert res[0]["status"] == MTA_OK, res
    t = w.p_brokentls.wait_transactions(1)[0]
    assert not t.tls
    assert w.p_brokentls.connections == 2
    assert "trying again without TLS" in w.inst.read_log()


def test_silent_peer_times_out(world):
    t0 = time.monotonic()
    res = deliver(world, "silent.example", ["x@silent.example"])
    assert res[0]["status"] == MTA_TEMPFAIL, res
    assert "timed out" in res[0]["reply"]
    assert time.monotonic() - t0 < 20


def test_drop_mid_data(world):
    res = deliver(world, "drop.example", ["x@drop.example"])
    assert res[0]["status"] == MTA_TEMPFAIL, res
    assert res[0]["dsn"].startswith("4.")
    assert world.p_drop.transactions == []


def test_size_too_small(world):
    res = deliver(world, "small.example", ["x@small.example"])
    assert res[0]["status"] == MTA_PERMFAIL, res
    assert res[0]["dsn"] == "5.3.4"


def test_relayed_flag_without_dsn(world):
    res = deliver(world, "multi.example",
                  [("x@multi.example", NOTIFY_SUCCESS), "y@multi.example"])
    assert [x["status"] for x in res] == [MTA_OK, MTA_OK], res
    assert res[0]["flags"] == MTA_F_RELAYED
    assert res[1]["flags"] == 0


def test_truncated_queue_file(world):
    res = deliver(world, "plain.example", ["x@plain.example"],
                  size=len(MESSAGE) + 10)
    assert res[0]["status"] == MTA_TEMPFAIL, res
    assert res[0]["reply"] == "queue file truncated"


def test_many_in_flight_one_connection(world):
    w = world
    c = connect(w)
    files = []
    try:
        # The slow peer (0.5 s per message) first: answers come as they
        # finish, in any order.
        domains = ["multi.example", "plain.example", "amx.example",
                   "nullmx.example", "multi.example"]
        for i, d in enumerate(domains):
            f = message_fd()
            files.append(f)
            c.send(MTA_DELIVER, deliver_payload(d, [f"r{i}@{d}"],
                                                qid=f"INFL{i}"),
                   10 + i, fd=f.fileno())
        got = {}
        for _ in domains:
            t, id_, _, r = c.recv()
            assert t == MTA_DELIVER_R
            got[id_] = read_reply(r)
        assert sorted(got) == [10, 11, 12, 13, 14]
        assert got[13][0]["status"] == MTA_PERMFAIL
        for i in (10, 11, 12, 14):
            assert got[i][0]["status"] == MTA_OK, got[i]
    finally:
        c.close()
        for f in files:
            f.close()


def expect_error(c, id_, payload, fd=True):
    with message_fd() as f:
        c.send(MTA_DELIVER, payload, id_, fd=f.fileno() if fd else None)
    t, rid, flags, r = c.recv()
    assert (t, rid) == (wharfipc.IPC_ERROR, id_)
    assert flags & wharfipc.IPC_F_REPLY
    return r.str()


def test_malformed_requests(world):
    w = world
    c = connect(w)
    try:
        assert expect_error(c, 1, b"garbage") == "bad queue id"
        assert expect_error(c, 2, deliver_payload(
            "plain.example", ["x@other.example"])).startswith("bad recip")
        assert expect_error(c, 3, deliver_payload(
            "plain.example", [])) == "bad number of recipients"
        assert expect_error(c, 4, deliver_payload(
            "plain.example", ["x@plain.example"]), fd=False) == \
            "no message fd"
        assert expect_error(c, 5, deliver_payload(
            "plain.example", ["x@plain.example"]) + b"x") == \
            "malformed request"
        assert expect_error(c, 6, deliver_payload(
            "plain.example", ["x@plain.example"], ret=7)) == \
            "bad RET, BODY or SMTPUTF8"
        assert expect_error(c, 7, deliver_payload(
            "plain.example", ["x\r\n@plain.example"])).startswith("bad")
        # The same connection still serves a good request.
        with message_fd() as f:
            c.send(MTA_DELIVER, deliver_payload("plain.example",
                                                ["ok@plain.example"]),
                   8, fd=f.fileno())
            t, id_, _, r = c.recv()
        assert (t, id_) == (MTA_DELIVER_R, 8)
        assert read_reply(r)[0]["status"] == MTA_OK
    finally:
        c.close()
    # A bad hello closes that connection only.
    c = wharfipc.Conn(w.sock, timeout=10)
    c.send(wharfipc.IPC_HELLO, put_u32(99) + put_u32(1))
    with pytest.raises((EOFError, ConnectionResetError)):
        c.recv()
    c.close()
    assert deliver(w, "plain.example", ["x@plain.example"])[0][
        "status"] == MTA_OK
    assert "mta" in w.inst.status()


@pytest.fixture
def relay_world(fresh):
    tmp = tempfile.mkdtemp(prefix="wharf-mta-relay-")
    os.chmod(tmp, 0o755)
    cert, key = make_cert(tmp, "relay.wharf.example")
    port = free_port()
    peer = Peer("127.0.0.1", port, tls=(cert, key),
                auth=("relayuser", "s3cret pass")).start()
    auth = os.path.join(tmp, "relay_auth")
    with open(auth, "w") as f:
        f.write("relayuser s3cret pass\n")
    os.chmod(auth, 0o600)
    inst = fresh(extra=f"""
relayhost = [127.0.0.1]:{port}
relayhost_auth_file = {auth}
smtp_helo_timeout = 5s
dns_servers = 127.0.0.1:9
dns_dnssec = no
""")
    yield inst, peer, tmp, port
    peer.stop()
    subprocess.run(["rm", "-rf", tmp])


def test_relayhost_auth_starttls(relay_world):
    inst, peer, tmp, port = relay_world
    inst.start()

    class W:
        sock = os.path.join(inst.dir, "run", "private", "mta.sock")
    wait_for(lambda: os.path.exists(W.sock), 30, "mta.sock")
    res = deliver(W, "anywhere.example", ["x@anywhere.example"])
    assert res[0]["status"] == MTA_OK, res
    assert res[0]["relay"] == f"127.0.0.1[127.0.0.1]:{port}"
    t = peer.wait_transactions(1)[0]
    assert t.tls and t.auth_user == "relayuser"
    assert t.data == MESSAGE
    log = inst.read_log()
    assert re.search(r"4F2A0001: Untrusted TLS connection established to "
                     rf"127\.0\.0\.1\[127\.0\.0\.1\]:{port}: TLSv1\.[23] "
                     r"with cipher \S+ \(\d+/\d+ bits\)", log), log
    assert "s3cret" not in log


def test_auth_file_mode_refused(fresh):
    tmp = tempfile.mkdtemp(prefix="wharf-mta-auth-")
    os.chmod(tmp, 0o755)
    auth = os.path.join(tmp, "relay_auth")
    with open(auth, "w") as f:
        f.write("u p\n")
    os.chmod(auth, 0o644)
    inst = fresh(extra=f"""
relayhost = [127.0.0.1]:2525
relayhost_auth_file = {auth}
""")
    try:
        inst.start()
        wait_for(lambda: "gives access to group or other" in
                 inst.read_log(), 30, "the mta's refusal")
    finally:
        subprocess.run(["rm", "-rf", tmp])


def test_reload_rereads_transport(fresh):
    tmp = tempfile.mkdtemp(prefix="wharf-mta-reload-")
    os.chmod(tmp, 0o755)
    p1, p2 = free_port(), free_port()
    peers = [Peer("127.0.0.1", p).start() for p in (p1, p2)]
    transport = os.path.join(tmp, "transport")
    with open(transport, "w") as f:
        f.write(f"reload.example [127.0.0.1]:{p1}\n")
    inst = fresh(extra=f"transport_file = {transport}\n"
                 "dns_servers = 127.0.0.1:9\ndns_dnssec = no\n")
    try:
        inst.start()

        class W:
            sock = os.path.join(inst.dir, "run", "private", "mta.sock")
        wait_for(lambda: os.path.exists(W.sock), 30, "mta.sock")
        res = deliver(W, "reload.example", ["x@reload.example"])
        assert res[0]["relay"] == f"127.0.0.1[127.0.0.1]:{p1}", res
        with open(transport, "w") as f:
            f.write(f"# moved\nreload.example [127.0.0.1]:{p2}\n")
        inst.wharf("reload", check=True)

        def moved():
            try:
                r = deliver(W, "reload.example", ["x@reload.example"])
            except (EOFError, OSError, AssertionError):
                return False
            return r[0]["relay"].endswith(f":{p2}")
        wait_for(moved, 30, "the new transport table")
        # A bad line: the new generation's mta refuses to start.
        with open(transport, "w") as f:
            f.write("reload.example [127.0.0.1]:1\nbad.example 10.0.0.1\n")
        inst.wharf("reload", check=True)
        wait_for(lambda: f"transport_file: {transport}:2: an IP address "
                 "must be in brackets" in inst.read_log(), 30,
                 "the refusal naming the file and line")
    finally:
        for p in peers:
            p.stop()
        subprocess.run(["rm", "-rf", tmp])
