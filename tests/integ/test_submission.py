"""Mail submission: SMTP AUTH on the submission ports (587 with STARTTLS,
465 with implicit TLS) against the real suite, over loopback.

Raw sockets where the bytes on the wire matter, smtplib and swaks where a
real client's view does.  Every socket and subprocess has a timeout;
waiting for delivery, audit rows or a rehash polls with a bound.  Two
module instances: `sub` (defaults but cheap argon2 and short lockouts)
and `alt` (sender check off, the user named in Received:, no rehash,
small submission rate limits, a per-address lockout after 4 failures).
Tests that fail logins do it from their own 127.0.x.y address, so the
per-address failure count of one test does not slow down or lock out
another.
"""
import base64
import email.utils
import itertools
import os
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import Instance, wait_for
from mailstore import read_blob, wait_inbox

T = 10                  # socket timeout, seconds
HOST = "mx.wharf.test"  # myhostname of every test instance
ENH = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
PW = "correct horse"    # every user's password (a space in it on purpose)
FAIL = ["535 5.7.8 Error: authentication failed"]
ARGON2_CHEAP = "$argon2id$v=19$m=64,t=1,p=1$"
SWAKS = "/usr/bin/swaks"

BASE = """
argon2_memory_cost = 64k
argon2_time_cost = 1
auth_failure_delay = 50ms
auth_failure_delay_max = 400ms
auth_lockout_time = 3s
"""
SUB = BASE + """
auth_lockout_failures = 3
auth_ip_lockout_failures = 1000
"""
ALT = BASE + """
auth_lockout_failures = 1000
auth_ip_lockout_failures = 4
submission_sender_check = any
submission_received_auth = yes
auth_rehash = no
submission_message_rate_limit = 3
submission_recipient_rate_limit = 5
"""

# ---- a raw SMTP client ----


class Reply:
    def __init__(self, lines):
        self.raw = lines
        self.code = int(lines[0][:3])
        self.lines = [x[4:] for x in lines]
        first = self.lines[0].split(" ", 1)[0]
        self.enh = first if ENH.fullmatch(first) else None
        self.text = "\n".join(self.lines)

    def __repr__(self):
        return f"<Reply {self.code} {self.text!r}>"


OPEN = []          # every Client of the current test, closed after it


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE        # the instance's cert is self-signed
    return ctx


class Client:
    """One SMTP connection; bytes in, parsed replies out.  implicit_tls:
    TLS from the first byte (the submissions port)."""

    def __init__(self, port, timeout=T, source=None, implicit_tls=False,
                 greet=True):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        OPEN.append(self)
        if implicit_tls:
            self.sock = tls_context().wrap_socket(self.sock,
                                                  server_hostname=HOST)
        self.buf = b""
        self.greeting = self.reply() if greet else None
        if greet:
            assert self.greeting.code == 220, self.greeting

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError(f"connection closed; unparsed {self.buf!r}")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            assert re.match(r"\d\d\d[ -]|\d\d\d$", line), line
            lines.append(line)
            if line[3:4] != "-":
                return Reply(lines)

    def cmd(self, line, code=None, enh=None):
        self.send(line + "\r\n")
        r = self.reply()
        if code is not None:
            assert r.code == code, f"{line[:80]!r}: {r}"
        if enh is not None:
            assert r.enh == enh, f"{line[:80]!r}: {r}"
        return r

    def ehlo(self, name="client.test"):
        return self.cmd("EHLO " + name, 250)

    def starttls(self):
        self.cmd("STARTTLS", 220, "2.0.0")
        assert self.buf == b""
        self.sock = tls_context().wrap_socket(self.sock,
                                              server_hostname=HOST)
        return self.sock.version()

    def auth(self, user, pw=PW, authzid=""):
        return self.cmd("AUTH PLAIN " + plain(user, pw, authzid))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user, pw=PW, authzid=""):
    return b64(f"{authzid}\0{user}\0{pw}")


def has_auth(ehlo):
    return any(x.upper().startswith("AUTH") for x in ehlo.lines[1:])


def submission(inst, source=None, implicit=False):
    """A submission session over TLS, after EHLO: (client, EHLO reply)."""
    if implicit:
        c = Client(inst.ports["submissions"], source=source,
                   implicit_tls=True)
    else:
        c = Client(inst.ports["submission"], source=source)
        c.ehlo()
        c.starttls()
    return c, c.ehlo()


def authed(inst, user, pw=PW, source=None, implicit=False):
    c, _ = submission(inst, source, implicit)
    c.cmd("AUTH PLAIN " + plain(user, pw), 235, "2.7.0")
    return c


_SOURCES = itertools.count()


def new_source():
    """A loopback address no other test uses: its own login counters."""
    n = next(_SOURCES)
    return f"127.0.{20 + n // 250}.{1 + n % 250}"


def dot_stuff(body):
    """RFC 5321 4.5.2: a leading "." gets another."""
    return re.sub(rb"(?m)^\.", b"..", body)


def transaction(c, sender, rcpts, body):
    """MAIL, RCPT..., DATA and the body; the final reply."""
    c.cmd(f"MAIL FROM:<{sender}>", 250, "2.1.0")
    for r in rcpts:
        c.cmd(f"RCPT TO:<{r}>", 250, "2.1.5")
    c.cmd("DATA", 354)
    c.send(dot_stuff(body) + b".\r\n")
    return c.reply()


def bdat(c, sender, rcpts, chunks):
    """MAIL, RCPT..., the chunks (the last one LAST); the final reply."""
    c.cmd(f"MAIL FROM:<{sender}>", 250, "2.1.0")
    for r in rcpts:
        c.cmd(f"RCPT TO:<{r}>", 250, "2.1.5")
    for i, chunk in enumerate(chunks):
        last = " LAST" if i == len(chunks) - 1 else ""
        c.send(b"BDAT %d%s\r\n" % (len(chunk), last.encode()) + chunk)
        r = c.reply()
        if last:
            return r
        assert (r.code, r.enh) == (250, "2.0.0"), r


def queued_id(reply):
    assert reply.code == 250 and reply.enh == "2.0.0", reply
    m = re.search(r"queued as (\S+)", reply.text)
    assert m, reply
    return m.group(1)

# ---- what got stored ----


def split_received(blob):
    """(our Received: header, everything after it)."""
    assert blob.startswith(b"Received: "), blob[:100]
    pos = 0
    while True:
        end = blob.index(b"\r\n", pos) + 2
        if blob[end:end + 1] != b"\t":
            return blob[:end], blob[end:]
        pos = end


def stored(inst, qid):
    """The message as stored, without our Received: header."""
    return split_received(read_blob(inst, qid))[1]


def header_of(msg):
    """The header section: up to the first empty line (or all)."""
    end = msg.find(b"\r\n\r\n")
    return msg if end == -1 else msg[:end + 2]


def fields(msg, name):
    """The header lines of one field name (unfolded fields only)."""
    return [x for x in header_of(msg).split(b"\r\n")
            if x.lower().startswith(name.lower() + b":")]


DATE_LINE = re.compile(rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                       rb"[A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000")
MSGID_LINE = re.compile(rb"Message-ID: <[!-;=?-~]+@mx\.wharf\.test>")


def added_fields(sent, got):
    """The Date: and Message-ID: lines the server put into the header of
    got, checked: one of each, both in the header, and nothing else
    changed.  Returns (date line, message-id line)."""
    date, msgid = fields(got, b"Date"), fields(got, b"Message-ID")
    assert len(date) == 1 and len(msgid) == 1, got
    assert DATE_LINE.fullmatch(date[0]), date
    assert MSGID_LINE.fullmatch(msgid[0]), msgid
    when = email.utils.parsedate_to_datetime(date[0][6:].decode())
    assert abs(when.timestamp() - time.time()) < 300, date
    assert got.count(date[0] + b"\r\n") == 1
    assert got.count(msgid[0] + b"\r\n") == 1
    rest = got.replace(date[0] + b"\r\n", b"", 1).replace(
        msgid[0] + b"\r\n", b"", 1)
    assert rest == sent, (sent, got)
    return date[0], msgid[0]


def stored_from(inst, sender):
    """Messages ever committed from sender: queued, or delivered."""
    q = inst.psql(f"select count(*) from queue where sender = '{sender}'")
    m = inst.psql("select count(*) from messages where position(convert_to("
                  f"'Return-Path: <{sender}>', 'UTF8') in prefix) = 1")
    return int(q) + int(m)


def password_hash(inst, local, domain="a.test"):
    return inst.psql(
        "select u.password_hash from users u join domains d on "
        f"d.id = u.domain_id where d.name = '{domain}' and "
        f"u.localpart = '{local}'")


def audit(inst, account, ip=None):
    """[(service, ip, result, detail)] of account (from ip), oldest
    first."""
    out = inst.psql("SELECT service, host(client_ip), result, "
                    "coalesce(detail, '') FROM audit_log WHERE account = "
                    f"'{account}' ORDER BY id")
    rows = [tuple(x.split("|")) for x in out.splitlines()]
    return [r for r in rows if ip is None or r[1] == ip]


def wait_audit(inst, account, n, ip=None):
    """Audit rows are written in the background: wait for n of them."""
    wait_for(lambda: len(audit(inst, account, ip)) >= n, 10,
             f"{n} audit rows of {account}")
    time.sleep(0.2)
    rows = audit(inst, account, ip)
    assert len(rows) == n, rows
    return rows


def user_log(inst, address, *count):
    """`wharf user log`: [(time, service, ip, result, detail)]."""
    out = inst.wharf("user", "log", address, *count, check=True).stdout
    rows = []
    for line in out.splitlines():
        f = line.split(None, 4)
        f += [""] * (5 - len(f))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", f[0]), line
        rows.append(tuple(f))
    return rows


def user_status(inst, address):
    """The status column of `wharf user list` for one user."""
    out = inst.wharf("user", "list", check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == address:
            return f[1]
    raise AssertionError(f"{address} not in `wharf user list`:\n{out}")


def service_up(inst, name):
    def up():
        for line in inst.status().splitlines():
            f = line.split()
            if f[:1] == [name]:
                return "running" in line and "pids" in line
        return False
    wait_for(up, 30, f"{name} running")

# ---- instances ----


@pytest.fixture(autouse=True)
def close_clients():
    """A failed test must not leave a session behind."""
    yield
    while OPEN:
        OPEN.pop().close()


SCHEMES = [
    (["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PW], "{SHA512-CRYPT}$6$"),
    (["doveadm", "pw", "-s", "SHA256-CRYPT", "-p", PW], "{SHA256-CRYPT}$5$"),
    (["doveadm", "pw", "-s", "BLF-CRYPT", "-p", PW], "{BLF-CRYPT}$2y$"),
    (["doveadm", "pw", "-s", "ARGON2ID", "-p", PW],
     "{ARGON2ID}$argon2id$v=19$"),
    (["mkpasswd", "-m", "yescrypt", PW], "$y$"),
    (["mkpasswd", "-m", "bcrypt", PW], "$2b$"),
    (["mkpasswd", "-m", "sha512crypt", PW], "$6$"),
]

SUB_USERS = (
    "alice", "bob", "probe", "wp", "dis", "lk", "lk2", "aud", "rcpt1",
    "hdr", "imp", "sl1", "sl2", "sw1", "sw2", "rx",
) + tuple(f"h{i}" for i in range(len(SCHEMES)))

ALT_USERS = ("probe", "anyu", "ra", "rm", "rm2", "rm3", "ipok", "ip1",
             "keep")


def populate(inst, users):
    w = inst.wharf
    for d in ("a.test", "c.test", "d.test"):
        w("domain", "add", d, check=True)
    for u in users:
        w("user", "add", f"{u}@a.test", input=PW + "\n", check=True)
    for name in ("authd", "qmgr", "deliver", "smtpd"):
        service_up(inst, name)

    def probe():
        try:
            c, _ = submission(inst)
            ok = c.auth("probe@a.test").code == 235
            c.close()
            return ok
        except (OSError, EOFError, AssertionError):
            return False
    wait_for(probe, 30, "submission answers AUTH")


@pytest.fixture(scope="module")
def sub():
    inst = Instance(SUB).start()
    try:
        populate(inst, SUB_USERS)
        inst.wharf("alias", "add", "info@a.test", "alice@a.test",
                   check=True)
        inst.wharf("alias", "add", "@c.test", "alice@a.test", check=True)
        yield inst
    finally:
        inst.cleanup()


@pytest.fixture(scope="module")
def alt():
    inst = Instance(ALT).start()
    try:
        populate(inst, ALT_USERS)
        yield inst
    finally:
        inst.cleanup()

# ---- ports and the order of things ----


def test_port25_offers_no_auth(sub):
    c = Client(sub.ports["smtp"])
    r = c.ehlo()
    assert not has_auth(r), r
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 503, "5.5.1")
    c.cmd("AUTH LOGIN", 503, "5.5.1")
    c.starttls()
    r = c.ehlo()
    assert not has_auth(r), r                  # not after TLS either
    r = c.cmd("AUTH PLAIN " + plain("alice@a.test"), 503, "5.5.1")
    assert r.raw == ["503 5.5.1 Error: authentication not enabled"]
    c.cmd("MAIL FROM:<x@remote.example>", 250, "2.1.0")  # no AUTH needed
    c.cmd("QUIT", 221)


# Where AUTH is not offered, that is the answer, whatever the argument
# (smtpd checks the state before the parser's verdict on the argument).
def test_port25_auth_bad_argument(sub):
    c = Client(sub.ports["smtp"])
    c.ehlo()
    c.cmd("AUTH PLAIN x", 503, "5.5.1")
    c.cmd("QUIT", 221)


def test_submission_needs_tls_then_auth(sub):
    c = Client(sub.ports["submission"])
    assert c.greeting.lines[0].split()[0] == HOST
    r = c.ehlo()
    assert "STARTTLS" in r.lines and not has_auth(r), r
    r = c.cmd("AUTH PLAIN " + plain("alice@a.test"), 538, "5.7.11")
    c.cmd("AUTH LOGIN", 538, "5.7.11")
    r = c.cmd("MAIL FROM:<alice@a.test>", 530, "5.7.0")
    assert "Must issue a STARTTLS command first" in r.text, r
    c.cmd("RCPT TO:<alice@a.test>", 503, "5.5.1")
    c.starttls()
    r = c.ehlo()
    assert "AUTH PLAIN LOGIN" in r.lines, r
    assert "STARTTLS" not in r.lines, r
    r = c.cmd("MAIL FROM:<alice@a.test>", 530, "5.7.0")
    assert "Authentication required" in r.text, r
    c.cmd("MAIL FROM:<>", 530, "5.7.0")
    c.cmd("RCPT TO:<alice@a.test>", 503, "5.5.1")
    c.cmd("DATA", 503, "5.5.1")
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 235, "2.7.0")
    c.cmd("MAIL FROM:<alice@a.test>", 250, "2.1.0")
    c.cmd("QUIT", 221, "2.0.0")


def test_submissions_implicit_tls(sub):
    # A plaintext client gets no greeting: the port speaks TLS first.
    raw = Client(sub.ports["submissions"], greet=False)
    raw.sock.settimeout(0.5)
    with pytest.raises((socket.timeout, TimeoutError)):
        raw.sock.recv(100)
    raw.close()
    c = Client(sub.ports["submissions"], implicit_tls=True)
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    r = c.ehlo()
    assert "AUTH PLAIN LOGIN" in r.lines and "STARTTLS" not in r.lines, r
    c.cmd("STARTTLS", 503, "5.5.1")
    r = c.cmd("MAIL FROM:<alice@a.test>", 530, "5.7.0")
    assert "Authentication required" in r.text, r
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 235, "2.7.0")
    body = b"From: alice@a.test\r\nSubject: 465\r\n\r\nimplicit\r\n"
    qid = queued_id(transaction(c, "alice@a.test", ["imp@a.test"], body))
    c.cmd("QUIT", 221)
    head, rest = split_received(read_blob(sub, qid))
    assert b"\tby mx.wharf.test (Wharf) with ESMTPSA\r\n" in head, head
    assert re.search(rb"\(using TLSv1\.[23] with cipher \S+", head), head
    added_fields(body, rest)
    rows = wait_inbox(sub, "imp", 1)
    assert rows[0][1] == qid

# ---- AUTH: the mechanisms ----


def plain_initial(c, user):
    return c.cmd("AUTH PLAIN " + plain(user))


def plain_authzid(c, user):
    return c.cmd("AUTH PLAIN " + plain(user, authzid=user))


def plain_authzid_case(c, user):
    return c.cmd("AUTH PLAIN " + plain(user, authzid=user.upper()))


def plain_lower_mech(c, user):
    return c.cmd("auth plain " + plain(user))


def plain_asked(c, user):
    r = c.cmd("AUTH PLAIN")
    assert r.raw == ["334 "], r
    return c.cmd(plain(user))


def login_asked(c, user):
    r = c.cmd("AUTH LOGIN")
    assert r.raw == ["334 VXNlcm5hbWU6"], r           # "Username:"
    r = c.cmd(b64(user))
    assert r.raw == ["334 UGFzc3dvcmQ6"], r           # "Password:"
    return c.cmd(b64(PW))


def login_initial(c, user):
    r = c.cmd("AUTH LOGIN " + b64(user))
    assert r.raw == ["334 UGFzc3dvcmQ6"], r
    return c.cmd(b64(PW))


@pytest.mark.parametrize("how", [
    plain_initial, plain_authzid, plain_authzid_case, plain_lower_mech,
    plain_asked, login_asked, login_initial], ids=lambda f: f.__name__)
@pytest.mark.parametrize("user", ["alice@a.test", "ALICE@A.Test"])
def test_auth_mechanisms(sub, how, user):
    c, _ = submission(sub)
    r = how(c, user)
    assert r.raw == ["235 2.7.0 Authentication successful"], r
    c.cmd("MAIL FROM:<alice@a.test>", 250, "2.1.0")
    c.cmd("RSET", 250)
    # The session is the account's, as stored: lower case.
    r = c.cmd("MAIL FROM:<bob@a.test>", 553, "5.7.1")
    assert "not owned by user alice@a.test" in r.text, r
    c.cmd("QUIT", 221)


def test_auth_over_implicit_tls_with_login(sub):
    c, r = submission(sub, implicit=True)
    r = login_asked(c, "alice@a.test")
    assert (r.code, r.enh) == (235, "2.7.0"), r
    c.cmd("MAIL FROM:<alice@a.test>", 250)
    c.cmd("QUIT", 221)


def test_auth_failures_look_alike(sub):
    src = new_source()
    sub.wharf("user", "lock", "dis@a.test", check=True)
    try:
        c, _ = submission(sub, source=src)
        replies = {
            "wrong password": c.auth("wp@a.test", "not it"),
            "wrong password, LOGIN": None,
            "unknown user": c.auth("nobody@a.test"),
            "unknown domain": c.auth("alice@nowhere.test"),
            "no domain": c.auth("alice"),
            "disabled": c.auth("dis@a.test"),
        }
        c.cmd("AUTH LOGIN " + b64("wp@a.test"), 334)
        replies["wrong password, LOGIN"] = c.cmd(b64("not it either"))
        for what, r in replies.items():
            assert r.raw == FAIL, (what, r)
        # Still not authenticated; a right one then works.
        c.cmd("MAIL FROM:<wp@a.test>", 530, "5.7.0")
        c.cmd("AUTH PLAIN " + plain("wp@a.test"), 235, "2.7.0")
        c.cmd("MAIL FROM:<wp@a.test>", 250)
        c.cmd("QUIT", 221)
    finally:
        sub.wharf("user", "unlock", "dis@a.test", check=True)
    rows = wait_audit(sub, "wp@a.test", 3)
    assert rows == [("smtpd", src, "fail", "wrong password")] * 2 + [
        ("smtpd", src, "ok", "")], rows
    assert wait_audit(sub, "nobody@a.test", 1) == [
        ("smtpd", src, "fail", "unknown user")]
    assert wait_audit(sub, "alice@nowhere.test", 1) == [
        ("smtpd", src, "fail", "unknown user")]
    assert wait_audit(sub, "dis@a.test", 1, src) == [
        ("smtpd", src, "fail", "account disabled")]


def test_disabled_account(sub):
    src = new_source()
    r = sub.wharf("user", "lock", "dis@a.test", check=True)
    assert r.stdout == "wharf: user dis@a.test locked\n"
    assert user_status(sub, "dis@a.test") == "locked"
    c, _ = submission(sub, source=src)
    assert c.auth("dis@a.test").raw == FAIL
    c.cmd("QUIT", 221)
    sub.wharf("user", "unlock", "dis@a.test", check=True)
    assert user_status(sub, "dis@a.test") == "enabled"
    authed(sub, "dis@a.test", source=src).cmd("QUIT", 221)
    assert wait_audit(sub, "dis@a.test", 2, src) == [
        ("smtpd", src, "fail", "account disabled"), ("smtpd", src, "ok", "")]


@pytest.mark.parametrize("line,code,enh", [
    ("AUTH PLAIN QR==", 501, "5.5.2"),           # non-zero pad bits
    ("AUTH PLAIN abc", 501, "5.5.2"),            # not a multiple of 4
    ("AUTH PLAIN a=bc", 501, "5.5.2"),
    ("AUTH PLAIN a b", 501, "5.5.4"),            # two arguments
    ("AUTH PLAIN ab!c", 501, "5.5.2"),
    ("AUTH PLAIN =", 501, "5.5.2"),              # empty: malformed PLAIN
    ("AUTH LOGIN =", 501, "5.5.2"),              # empty user name
    ("AUTH PLAIN " + b64("\0alice@a.test"), 501, "5.5.2"),
    ("AUTH PLAIN " + b64("\0alice@a.test\0"), 501, "5.5.2"),  # no password
    ("AUTH PLAIN " + b64("alice@a.test\0" + PW), 501, "5.5.2"),
    ("AUTH PLAIN " + b64("\0\0" + PW), 501, "5.5.2"),
    ("AUTH PLAIN " + plain("alice@a.test", authzid="bob@a.test"), 535,
     "5.7.8"),                                   # no proxy authorization
    ("AUTH CRAM-MD5", 504, "5.5.4"),
    ("AUTH CRAM-MD5 " + b64("x"), 504, "5.5.4"),
    ("AUTH SCRAM-SHA-256", 504, "5.5.4"),
    ("AUTH", 501, "5.5.4"),
])
def test_auth_command_errors(sub, line, code, enh):
    c, _ = submission(sub)
    c.cmd(line, code, enh)
    c.cmd("MAIL FROM:<alice@a.test>", 530, "5.7.0")   # not authenticated
    c.cmd("NOOP", 250)
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 235, "2.7.0")
    c.cmd("QUIT", 221)


@pytest.mark.parametrize("start,responses,code,enh", [
    ("AUTH PLAIN", ["a b"], 501, "5.5.2"),
    ("AUTH PLAIN", ["QR=="], 501, "5.5.2"),
    ("AUTH PLAIN", ["="], 501, "5.5.2"),
    ("AUTH PLAIN", [""], 501, "5.5.2"),
    ("AUTH PLAIN", ["*"], 501, None),             # cancelled
    ("AUTH LOGIN", ["*"], 501, None),
    ("AUTH LOGIN", [b64("alice@a.test"), "*"], 501, None),
    ("AUTH LOGIN", [b64("alice@a.test"), "abc"], 501, "5.5.2"),
    ("AUTH LOGIN", ["="], 501, "5.5.2"),
    ("AUTH PLAIN", ["A" * 20000], 500, "5.5.6"),  # line too long
])
def test_auth_response_errors(sub, start, responses, code, enh):
    c, _ = submission(sub)
    r = c.cmd(start, 334)
    for line in responses[:-1]:
        c.cmd(line, 334)
    r = c.cmd(responses[-1], code, enh)
    if responses[-1] == "*":
        assert r.text.startswith("5.0.0 "), r
    # Back to commands: nothing of the exchange is left over.
    c.cmd("NOOP", 250, "2.0.0")
    c.cmd("MAIL FROM:<alice@a.test>", 530, "5.7.0")
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 235, "2.7.0")
    c.cmd("QUIT", 221)


def test_auth_twice_and_in_transaction(sub):
    c = authed(sub, "alice@a.test")
    r = c.cmd("AUTH PLAIN " + plain("alice@a.test"), 503, "5.5.1")
    assert r.raw == ["503 5.5.1 Error: already authenticated"]
    c.cmd("AUTH LOGIN", 503, "5.5.1")
    c.cmd("MAIL FROM:<alice@a.test>", 250)
    c.cmd("AUTH PLAIN " + plain("bob@a.test"), 503, "5.5.1")
    c.cmd("RCPT TO:<bob@a.test>", 250, "2.1.5")   # the transaction holds
    c.cmd("RSET", 250)
    c.cmd("AUTH PLAIN " + plain("bob@a.test"), 503, "5.5.1")
    r = c.cmd("MAIL FROM:<bob@a.test>", 553, "5.7.1")    # still alice
    assert "not owned by user alice@a.test" in r.text
    c.cmd("QUIT", 221)

# ---- failed logins: delays, lockout, audit ----


def test_account_lockout(sub):
    src = new_source()
    c, _ = submission(sub, source=src)
    took = []
    for _ in range(3):
        t0 = time.monotonic()
        assert c.auth("lk@a.test", "wrong").raw == FAIL
        took.append(time.monotonic() - t0)
    third = time.monotonic()
    # auth_failure_delay 50 ms, doubled per earlier failure.
    assert took[0] >= 0.045 and took[1] >= 0.095 and took[2] >= 0.19, took
    assert user_status(sub, "lk@a.test") == "throttled"
    # Locked: the right password is refused the same way.
    assert c.auth("lk@a.test").raw == FAIL
    c.cmd("MAIL FROM:<lk@a.test>", 530, "5.7.0")
    c.cmd("QUIT", 221)
    # From elsewhere too: it is the account that is locked.
    other = new_source()
    c, _ = submission(sub, source=other)
    assert c.auth("lk@a.test").raw == FAIL
    c.cmd("QUIT", 221)
    # A name that is no account locks the same way.
    c, _ = submission(sub, source=src)
    for _ in range(4):
        assert c.auth("ghost@a.test", "guess").raw == FAIL
    c.cmd("QUIT", 221)
    assert [r[3] for r in wait_audit(sub, "ghost@a.test", 4)] == \
        ["unknown user"] * 3 + ["account locked"]
    # auth_lockout_time later it is over.
    time.sleep(max(0.0, third + 3.3 - time.monotonic()))
    assert user_status(sub, "lk@a.test") == "enabled"
    c = authed(sub, "lk@a.test", source=src)
    c.cmd("MAIL FROM:<lk@a.test>", 250)
    c.cmd("QUIT", 221)
    rows = wait_audit(sub, "lk@a.test", 7)
    assert rows == [
        ("smtpd", src, "fail", "wrong password"),
        ("smtpd", src, "fail", "wrong password"),
        ("smtpd", src, "lockout", "too many failed logins"),
        ("smtpd", src, "fail", "wrong password"),
        ("smtpd", src, "fail", "account locked"),
        ("smtpd", other, "fail", "account locked"),
        ("smtpd", src, "ok", ""),
    ], rows
    # `wharf user log`: newest first, the same rows.
    log = user_log(sub, "lk@a.test")
    assert [f[1:] for f in log] == [
        ("smtpd", src, "ok", ""),
        ("smtpd", other, "fail", "account locked"),
        ("smtpd", src, "fail", "account locked"),
        ("smtpd", src, "fail", "wrong password"),
        ("smtpd", src, "lockout", "too many failed logins"),
        ("smtpd", src, "fail", "wrong password"),
        ("smtpd", src, "fail", "wrong password"),
    ], log
    assert [f[0] for f in log] == sorted((f[0] for f in log), reverse=True)
    assert [f[1:] for f in user_log(sub, "lk@a.test", "2")] == \
        [f[1:] for f in log[:2]]


def test_unlock_ends_lockout(sub):
    src = new_source()
    c, _ = submission(sub, source=src)
    for _ in range(3):
        assert c.auth("lk2@a.test", "wrong").raw == FAIL
    assert c.auth("lk2@a.test").raw == FAIL
    assert user_status(sub, "lk2@a.test") == "throttled"
    r = sub.wharf("user", "unlock", "lk2@a.test", check=True)
    assert r.stdout == "wharf: user lk2@a.test unlocked\n"
    assert user_status(sub, "lk2@a.test") == "enabled"
    t0 = time.monotonic()
    c.cmd("AUTH PLAIN " + plain("lk2@a.test"), 235, "2.7.0")
    assert time.monotonic() - t0 < 2.5          # not the lockout's end
    c.cmd("QUIT", 221)


def test_audit_log(sub):
    """From 127.0.0.1: one failure (a name in upper case), one login."""
    c, _ = submission(sub)
    assert c.auth("AUD@A.TEST", "nope").raw == FAIL
    assert c.cmd("AUTH LOGIN " + b64("aud@a.test"), 334)
    c.cmd(b64(PW), 235, "2.7.0")
    c.cmd("QUIT", 221)
    wait_audit(sub, "aud@a.test", 2)
    out = sub.psql("SELECT service, account, host(client_ip), result, "
                   "detail FROM audit_log WHERE account = 'aud@a.test' "
                   "ORDER BY id")
    assert out.splitlines() == [
        "smtpd|aud@a.test|127.0.0.1|fail|wrong password",
        "smtpd|aud@a.test|127.0.0.1|ok|"], out
    log = user_log(sub, "aud@a.test")
    assert [f[1:] for f in log] == [
        ("smtpd", "127.0.0.1", "ok", ""),
        ("smtpd", "127.0.0.1", "fail", "wrong password")], log
    assert len(user_log(sub, "aud@a.test", "1")) == 1


def test_ip_lockout(alt):
    src = new_source()
    c, _ = submission(alt, source=src)
    for u in ("ip1@a.test", "ipok@a.test", "nobody1@a.test",
              "nobody2@a.test"):
        assert c.auth(u, "wrong").raw == FAIL
    fourth = time.monotonic()
    # The address is locked: a right password of any account is refused.
    assert c.auth("ipok@a.test").raw == FAIL
    c.cmd("QUIT", 221)
    c, _ = submission(alt, source=src)
    assert c.auth("ip1@a.test").raw == FAIL
    c.cmd("QUIT", 221)
    # Another address is not.
    authed(alt, "ip1@a.test", source=new_source()).cmd("QUIT", 221)
    rows = wait_audit(alt, "ipok@a.test", 2)
    assert rows == [("smtpd", src, "fail", "wrong password"),
                    ("smtpd", src, "fail", "client address locked")], rows
    time.sleep(max(0.0, fourth + 3.3 - time.monotonic()))
    c = authed(alt, "ipok@a.test", source=src)
    c.cmd("QUIT", 221)

# ---- who may send as whom ----


OWNED = ["alice@a.test", "ALICE@A.TEST", "alice+x@a.test", "Alice+Y.z@A.test",
         "", "info@a.test", "INFO@a.test"]
NOT_OWNED = ["bob@a.test", "random@c.test", "alice@c.test", "x@d.test",
             "alice@remote.example", "alicex@a.test", "bob+alice@a.test"]


def test_mail_from_must_be_owned(sub):
    c = authed(sub, "alice@a.test")
    for a in OWNED:
        c.cmd(f"MAIL FROM:<{a}>", 250, "2.1.0")
        c.cmd("RSET", 250)
    for a in NOT_OWNED:
        r = c.cmd(f"MAIL FROM:<{a}>", 553, "5.7.1")
        assert r.raw == [f"553 5.7.1 <{a}>: Sender address rejected: not "
                         "owned by user alice@a.test"], r
    c.cmd("QUIT", 221)


def test_domain_admin_may_send_as_domain(sub):
    c = authed(sub, "alice@a.test")
    c.cmd("MAIL FROM:<x@d.test>", 553, "5.7.1")
    r = sub.wharf("domain", "admin", "add", "d.test", "alice@a.test",
                  check=True)
    assert "is now administrator of d.test" in r.stdout, r.stdout
    try:
        assert sub.wharf("domain", "admin", "list", check=True).stdout \
            .split() == ["d.test", "alice@a.test"]
        for a in ("x@d.test", "Anyone+t@D.TEST", "bob@d.test"):
            c.cmd(f"MAIL FROM:<{a}>", 250, "2.1.0")
            c.cmd("RSET", 250)
        c.cmd("MAIL FROM:<x@c.test>", 553, "5.7.1")  # only that domain
        b = authed(sub, "bob@a.test")                  # only that user
        b.cmd("MAIL FROM:<x@d.test>", 553, "5.7.1")
        b.cmd("QUIT", 221)
    finally:
        r = sub.wharf("domain", "admin", "del", "d.test", "alice@a.test",
                      check=True)
    assert "is no longer administrator of d.test" in r.stdout, r.stdout
    c.cmd("MAIL FROM:<x@d.test>", 553, "5.7.1")
    c.cmd("QUIT", 221)


FROM_OK = [
    b"From: alice@a.test\r\n",
    b"From: Alice (home) <alice@a.test>\r\n",
    b"From: \"Alice, A.\" <ALICE@A.test> (work)\r\n",
    b"From: Alice\r\n <alice+list@a.test>\r\n",            # folded
    b"From: info@a.test\r\n",
    b"From: =?utf-8?q?Al=C3=AFce?= <alice@a.test>\r\n",
    b"From: \"alice\"@a.test\r\n",                          # quoted
    b"From: alice@a.test\r\nSender: info@a.test\r\n",
    b"",                                                     # no From:
    b"Subject: x\r\n\r\nFrom: bob@a.test\r\n",               # in the body
]
FROM_FOREIGN = [
    b"From: bob@a.test\r\n",
    b"FROM: Bob <bob@a.test>\r\n",
    b"From: alice@a.test, bob@a.test\r\n",
    b"From: Alice <alice@a.test>,\r\n Bob <bob@a.test>\r\n",
    b"From: alice@a.test\r\nSender: bob@a.test\r\n",
    b"From: random@c.test\r\n",
    b"From: alice@a.test\r\nFrom: bob@a.test\r\n",          # two fields
    b"From:\r\n bob@a.test\r\n",                           # folded
    b"Subject: s\r\nfrom:bob@a.test\r\n",
]
FROM_MALFORMED = [
    b"From: <alice@a.test\r\n",
    b"From: alice@a.test\r\nSender: alice@a.test, info@a.test\r\n",
]


@pytest.mark.parametrize("head", FROM_OK, ids=repr)
def test_from_header_owned(sub, head):
    sender = f"alice+ok{FROM_OK.index(head)}@a.test"
    body = head + b"Subject: from check\r\n\r\ntext\r\n"
    c = authed(sub, "alice@a.test")
    qid = queued_id(transaction(c, sender, ["rx@a.test"], body))
    c.cmd("QUIT", 221)
    added_fields(body, stored(sub, qid))


@pytest.mark.parametrize("head,enh", [(h, "5.7.1") for h in FROM_FOREIGN] +
                         [(h, "5.6.0") for h in FROM_MALFORMED], ids=repr)
def test_from_header_refused(sub, head, enh):
    tag = f"alice+bad{(FROM_FOREIGN + FROM_MALFORMED).index(head)}@a.test"
    body = head + b"Subject: from check\r\n\r\ntext\r\n"
    c = authed(sub, "alice@a.test")
    r = transaction(c, tag, ["rx@a.test"], body)
    assert (r.code, r.enh) == (550, enh), r
    if enh == "5.7.1":
        assert "address not owned by user alice@a.test" in r.text, r
        assert re.search(r"<(bob@a\.test|random@c\.test)>", r.text), r
    c.cmd("NOOP", 250)                 # the session goes on
    c.cmd("MAIL FROM:<alice@a.test>", 250)
    c.cmd("QUIT", 221)
    assert stored_from(sub, tag) == 0


# RFC 5322 4.5 allows white space between a field name and its colon
# (obs-optional), and MIME parsers (lib/mime.c too) read "From : x" as
# From:, so the sender check must see it: no spoofing through it.
@pytest.mark.parametrize("n,head", enumerate([
    b"From : bob@a.test\r\n",
    b"Subject: s\r\nFrom\t: bob@a.test\r\n",
    b"X-Foo : bar\r\nFrom: bob@a.test\r\n",
]), ids=["from-wsp", "from-tab", "after-x-foo"])
def test_from_header_obsolete_syntax_checked(sub, n, head):
    tag = f"alice+obs{n}@a.test"
    c = authed(sub, "alice@a.test")
    r = transaction(c, tag, ["rx@a.test"], head + b"\r\nspoof\r\n")
    c.cmd("QUIT", 221)
    assert r.code == 550 and r.enh in ("5.7.1", "5.6.0"), r
    assert stored_from(sub, tag) == 0


def test_sender_check_any(alt):
    c = authed(alt, "anyu@a.test")
    # Three MAILs: submission_message_rate_limit on this instance.
    for a in ("bob@a.test", "someone@remote.example"):
        c.cmd(f"MAIL FROM:<{a}>", 250, "2.1.0")
        c.cmd("RSET", 250)
    body = b"From: Someone <someone@remote.example>\r\n" \
        b"Sender: bob@a.test\r\n\r\nhi\r\n"
    qid = queued_id(transaction(c, "bob@a.test", ["ra@a.test"], body))
    c.cmd("QUIT", 221)
    added_fields(body, stored(alt, qid))

# ---- recipients ----


def test_recipients_after_auth(sub):
    c = authed(sub, "alice@a.test")
    c.cmd("MAIL FROM:<alice@a.test>", 250)
    c.cmd("RCPT TO:<someone@foreign.example>", 250, "2.1.5")
    c.cmd("RCPT TO:<rcpt1@a.test>", 250, "2.1.5")
    r = c.cmd("RCPT TO:<nobody@a.test>", 550, "5.1.1")
    assert "nobody@a.test" in r.text, r
    c.cmd("DATA", 354)
    c.send(b"From: alice@a.test\r\nSubject: out\r\n\r\nhi\r\n.\r\n")
    qid = queued_id(c.reply())
    c.cmd("QUIT", 221)
    row = sub.psql(
        "select r.address, r.status, r.transport from queue_recipients r "
        "join queue q on q.id = r.queue where q.queue_id = "
        f"'{qid}' and r.address = 'someone@foreign.example'")
    assert row == "someone@foreign.example|pending|remote", row
    rows = wait_inbox(sub, "rcpt1", 1)
    assert rows[0][1] == qid

# ---- what submission adds to the header ----


def test_date_and_message_id_added(sub):
    c = authed(sub, "alice@a.test")
    body = b"From: alice@a.test\r\nSubject: bare\r\n\r\nDate: in body\r\n"
    ids = []
    for _ in range(2):
        qid = queued_id(transaction(c, "alice@a.test", ["hdr@a.test"],
                                    body))
        ids.append(added_fields(body, stored(sub, qid))[1])
    assert ids[0] != ids[1]
    # The header alone, no empty line: they go at its end.
    body = b"From: alice@a.test\r\nSubject: only header\r\n"
    qid = queued_id(transaction(c, "alice@a.test", ["hdr@a.test"], body))
    added_fields(body, stored(sub, qid))
    c.cmd("QUIT", 221)


@pytest.mark.parametrize("head", [
    b"Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n"
    b"Message-ID: <own.1@client.example>\r\n",
    b"date: Tue, 1 Jan 2030 00:00:00 +0100\r\n"
    b"message-id: <own.2@client.example>\r\n",
    b"Message-Id:\r\n <own.3@client.example>\r\nDATE:  1 Jan 2030 0:00 Z\r\n",
], ids=["canonical", "lower", "folded"])
def test_client_date_and_message_id_kept(sub, head):
    body = b"From: alice@a.test\r\n" + head + b"Subject: s\r\n\r\nbody\r\n"
    c = authed(sub, "alice@a.test")
    qid = queued_id(transaction(c, "alice@a.test", ["hdr@a.test"], body))
    c.cmd("QUIT", 221)
    assert stored(sub, qid) == body


def test_only_missing_field_added(sub):
    c = authed(sub, "alice@a.test")
    body = b"From: alice@a.test\r\nDate: Tue, 1 Jan 2030 00:00:00 +0000" \
        b"\r\n\r\nx\r\n"
    got = stored(sub, queued_id(transaction(c, "alice@a.test",
                                            ["hdr@a.test"], body)))
    assert len(fields(got, b"Date")) == 1
    msgid = fields(got, b"Message-ID")
    assert len(msgid) == 1 and MSGID_LINE.fullmatch(msgid[0]), got
    assert got.replace(msgid[0] + b"\r\n", b"", 1) == body
    body = b"From: alice@a.test\r\nMessage-ID: <m@client.example>\r\n" \
        b"\r\nx\r\n"
    got = stored(sub, queued_id(transaction(c, "alice@a.test",
                                            ["hdr@a.test"], body)))
    date = fields(got, b"Date")
    assert len(date) == 1 and DATE_LINE.fullmatch(date[0]), got
    assert fields(got, b"Message-ID") == [b"Message-ID: <m@client.example>"]
    assert got.replace(date[0] + b"\r\n", b"", 1) == body
    c.cmd("QUIT", 221)


def test_bdat_header_across_chunks(sub):
    c = authed(sub, "alice@a.test")
    msg = b"From: alice@a.test\r\nSubject: chunked\r\n\r\nbody\r\n"
    # Inside "From:", between CR and LF, at the header's end.
    chunks = [b"Fr", b"om: alice@a.test\r", b"\nSubject: chun", b"ked\r\n",
              b"\r\nbo", b"dy\r\n"]
    assert b"".join(chunks) == msg
    qid = queued_id(bdat(c, "alice@a.test", ["hdr@a.test"], chunks))
    added_fields(msg, stored(sub, qid))
    # One octet at a time.
    qid = queued_id(bdat(c, "alice@a.test", ["hdr@a.test"],
                         [bytes([x]) for x in msg]))
    added_fields(msg, stored(sub, qid))
    # The client's fields, split across chunks: kept, nothing added.
    msg2 = b"From: alice@a.test\r\nMessage-ID: <b@client.example>\r\n" \
        b"Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n\r\nz\r\n"
    i, j = msg2.index(b"ID:"), msg2.index(b"Date:")
    cut = [msg2[:i], msg2[i:j], msg2[j:j + 1], msg2[j + 1:]]
    assert cut[0].endswith(b"Message-") and cut[2] == b"D"
    qid = queued_id(bdat(c, "alice@a.test", ["hdr@a.test"], cut))
    assert stored(sub, qid) == msg2
    # A foreign From: across a boundary is still seen.
    tag = "alice+bdatbad@a.test"
    r = bdat(c, tag, ["hdr@a.test"], [b"Fr", b"om: bob@a.", b"test\r\n",
                                      b"\r\nx\r\n"])
    assert (r.code, r.enh) == (550, "5.7.1"), r
    assert stored_from(sub, tag) == 0
    # BDAT has no CRLF rule: a header with bare LFs is checked as well.
    tag = "alice+bdatlf@a.test"
    r = bdat(c, tag, ["hdr@a.test"], [b"Subject: x\nFrom: bob@a.test\n",
                                      b"\nbody"])
    assert (r.code, r.enh) == (550, "5.7.1"), r
    assert stored_from(sub, tag) == 0
    c.cmd("QUIT", 221)


def test_bdat_without_final_crlf(sub):
    c = authed(sub, "alice@a.test")
    # The body has no final CRLF: it is kept as it is.
    msg = b"From: alice@a.test\r\n\r\nno final"
    qid = queued_id(bdat(c, "alice@a.test", ["hdr@a.test"],
                         [msg, b" CRLF"]))
    added_fields(msg + b" CRLF", stored(sub, qid))
    # Only a header, its last line unended: the fields still come after
    # it, as lines of their own.
    qid = queued_id(bdat(c, "alice@a.test", ["hdr@a.test"],
                         [b"From: alice@a.test\r\nSubj", b"ect: tail"]))
    got = stored(sub, qid)
    assert got.startswith(b"From: alice@a.test\r\nSubject: tail\r\n"), got
    added_fields(b"From: alice@a.test\r\nSubject: tail\r\n", got)
    c.cmd("QUIT", 221)


def test_port25_adds_nothing(sub):
    c = Client(sub.ports["smtp"])
    c.ehlo()
    body = b"From: alice@a.test\r\nSubject: mx\r\n\r\nno date\r\n"
    qid = queued_id(transaction(c, "x@remote.example", ["hdr@a.test"], body))
    qid2 = queued_id(bdat(c, "x@remote.example", ["hdr@a.test"],
                          [b"Subject: ", b"bdat\r\n"]))
    c.cmd("QUIT", 221)
    assert stored(sub, qid) == body
    assert stored(sub, qid2) == b"Subject: bdat\r\n"
    head, _ = split_received(read_blob(sub, qid))
    assert b"with ESMTP\r\n" in head

# ---- Received: ----


def test_received_does_not_name_user(sub):
    c = authed(sub, "alice@a.test")
    body = b"From: alice@a.test\r\n\r\nx\r\n"
    qid = queued_id(transaction(c, "alice@a.test", ["bob@a.test"], body))
    c.cmd("QUIT", 221)
    head, _ = split_received(read_blob(sub, qid))
    assert head.startswith(b"Received: from client.test ([127.0.0.1])\r\n"
                           b"\tby mx.wharf.test (Wharf) with ESMTPSA\r\n"
                           b"\t(using TLSv1."), head
    assert b"alice" not in head.lower() and b"Authenticated" not in head


def test_received_names_user(alt):
    c = authed(alt, "ra@a.test")
    body = b"From: ra@a.test\r\n\r\nx\r\n"
    qid = queued_id(transaction(c, "ra@a.test", ["rm3@a.test"], body))
    c.cmd("QUIT", 221)
    head, _ = split_received(read_blob(alt, qid))
    assert head.startswith(b"Received: from client.test ([127.0.0.1])\r\n"
                           b"\t(Authenticated sender: ra@a.test)\r\n"
                           b"\tby mx.wharf.test (Wharf) with ESMTPSA\r\n"
                           ), head

# ---- rate limits ----


def test_message_rate_limit(alt):
    c = authed(alt, "rm@a.test")
    for _ in range(3):
        c.cmd("MAIL FROM:<rm@a.test>", 250, "2.1.0")
        c.cmd("RSET", 250)
    r = c.cmd("MAIL FROM:<rm@a.test>", 451, "4.7.1")
    assert "too many messages" in r.text, r
    c.cmd("QUIT", 221)
    c = authed(alt, "rm@a.test")                  # per user, not session
    c.cmd("MAIL FROM:<rm@a.test>", 451, "4.7.1")
    c.cmd("QUIT", 221)
    c = authed(alt, "rm3@a.test")                 # another user: fine
    c.cmd("MAIL FROM:<rm3@a.test>", 250, "2.1.0")
    c.cmd("RCPT TO:<x@remote.example>", 250, "2.1.5")
    c.cmd("QUIT", 221)


def test_recipient_rate_limit(alt):
    c = authed(alt, "rm2@a.test")
    c.cmd("MAIL FROM:<rm2@a.test>", 250)
    for i in range(5):
        c.cmd(f"RCPT TO:<r{i}@remote.example>", 250, "2.1.5")
    r = c.cmd("RCPT TO:<r5@remote.example>", 451, "4.7.1")
    assert "too many recipients" in r.text, r
    c.cmd("RCPT TO:<ra@a.test>", 451, "4.7.1")
    c.cmd("DATA", 354)                          # the five are kept
    c.send(b"From: rm2@a.test\r\n\r\nfive\r\n.\r\n")
    qid = queued_id(c.reply())
    c.cmd("QUIT", 221)
    n = alt.psql("select count(*) from queue_recipients r join queue q on "
                 f"q.id = r.queue where q.queue_id = '{qid}'")
    assert n == "5"
    c = authed(alt, "ip1@a.test")
    c.cmd("MAIL FROM:<ip1@a.test>", 250)
    c.cmd("RCPT TO:<r0@remote.example>", 250, "2.1.5")
    c.cmd("QUIT", 221)

# ---- password schemes from other servers ----


def make_hash(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip(f"{argv[0]} not installed")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def smtplib_login(inst, user, pw, source):
    s = smtplib.SMTP("127.0.0.1", inst.ports["submission"], timeout=T,
                     source_address=(source, 0))
    try:
        s.ehlo("client.test")
        s.starttls(context=tls_context())
        s.ehlo("client.test")
        try:
            return s.login(user, pw)[0]
        except smtplib.SMTPAuthenticationError as e:
            return e.smtp_code
    finally:
        s.close()


@pytest.mark.parametrize("argv,prefix", SCHEMES, ids=[
    "doveadm-" + a[3] if a[0] == "doveadm" else "mkpasswd-" + a[2]
    for a, _ in SCHEMES])
def test_migrated_password_scheme(sub, argv, prefix):
    local = f"h{[a for a, _ in SCHEMES].index(argv)}"
    h = make_hash(argv)
    assert h.startswith(prefix), h
    sub.psql(f"UPDATE users SET password_hash = '{h}' WHERE localpart = "
             f"'{local}'")
    assert password_hash(sub, local) == h
    src = new_source()
    assert smtplib_login(sub, f"{local}@a.test", PW + "x", src) == 535
    time.sleep(0.3)
    assert password_hash(sub, local) == h         # no rehash on failure
    assert smtplib_login(sub, f"{local}@a.test", PW, src) == 235
    wait_for(lambda: password_hash(sub, local).startswith(ARGON2_CHEAP),
             10, f"{local}'s password rehashed")
    wait_for(lambda: ("smtpd", src, "ok", "password rehashed") in
             audit(sub, f"{local}@a.test"), 10, "the audit row")
    # The new hash is the same password.
    assert smtplib_login(sub, f"{local}@a.test", PW, src) == 235
    assert smtplib_login(sub, f"{local}@a.test", "wrong", src) == 535


def test_no_rehash_when_off(alt):
    h = make_hash(["mkpasswd", "-m", "yescrypt", PW])
    alt.psql(f"UPDATE users SET password_hash = '{h}' WHERE localpart = "
             "'keep'")
    assert smtplib_login(alt, "keep@a.test", PW, "127.0.0.1") == 235
    wait_audit(alt, "keep@a.test", 1)
    time.sleep(0.5)
    assert password_hash(alt, "keep") == h
    assert audit(alt, "keep@a.test") == [("smtpd", "127.0.0.1", "ok", "")]

# ---- real clients ----


MSG = b"From: alice@a.test\r\nTo: someone\r\nSubject: real client\r\n" \
    b"\r\nhello\r\n"


def test_smtplib_starttls(sub):
    s = smtplib.SMTP("127.0.0.1", sub.ports["submission"], timeout=T)
    try:
        s.ehlo("smtplib.test")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        assert s.starttls(context=tls_context())[0] == 220
        s.ehlo("smtplib.test")
        assert s.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
        assert s.login("alice@a.test", PW)[0] == 235
        assert s.sendmail("alice@a.test", ["sl1@a.test"], MSG) == {}
        s.quit()
    finally:
        s.close()
    rows = wait_inbox(sub, "sl1", 1)
    added_fields(MSG, stored(sub, rows[0][1]))


def test_smtplib_ssl(sub):
    s = smtplib.SMTP_SSL("127.0.0.1", sub.ports["submissions"], timeout=T,
                         context=tls_context())
    try:
        s.ehlo("smtplib.test")
        assert not s.has_extn("starttls")
        assert s.login("alice@a.test", PW)[0] == 235
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("bob@a.test", ["sl2@a.test"], MSG)
        assert e.value.smtp_code == 553
        assert s.sendmail("alice@a.test", ["sl2@a.test"], MSG) == {}
        s.quit()
    finally:
        s.close()
    rows = wait_inbox(sub, "sl2", 1)
    added_fields(MSG, stored(sub, rows[0][1]))


def swaks(inst, port, *args):
    if not os.path.exists(SWAKS):
        pytest.skip("swaks not installed")
    return subprocess.run(
        [SWAKS, "--server", "127.0.0.1", "--port", str(port),
         "--from", "alice@a.test", "--auth-user", "alice@a.test",
         "--h-Subject", "swaks", "--body", "y", "--timeout", "20", *args],
        capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("tls,mech,user", [
    ("--tls", "PLAIN", "sw1"), ("--tlsc", "LOGIN", "sw2")])
def test_swaks(sub, tls, mech, user):
    port = sub.ports["submission" if tls == "--tls" else "submissions"]
    r = swaks(sub, port, tls, "--auth", mech, "--auth-password", PW,
              "--to", f"{user}@a.test")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0 Authentication successful" in r.stdout
    assert "250 2.0.0 Ok: queued as" in r.stdout
    rows = wait_inbox(sub, user, 1)
    got = stored(sub, rows[0][1])
    assert b"\r\nSubject: swaks\r\n" in b"\r\n" + got
    assert len(fields(got, b"From")) == 1 and \
        len(fields(got, b"Date")) == 1


def test_swaks_wrong_password(sub):
    r = swaks(sub, sub.ports["submission"], "--tls", "--auth", "PLAIN",
              "--auth-password", "wrong", "--to", "sw1@a.test",
              "--local-interface", new_source())
    assert r.returncode != 0, r.stdout
    assert "535 5.7.8 Error: authentication failed" in r.stdout, r.stdout
    assert "queued as" not in r.stdout


# ---- AUTH only where and when it may be used ----


def test_auth_state_before_argument(sub):
    """Before TLS, a malformed AUTH still gets 538 (not 501); after TLS,
    AUTH needs a new EHLO first (RFC 3207 4.2, RFC 4954 4)."""
    c = Client(sub.ports["submission"])
    c.ehlo()
    c.cmd("AUTH PLAIN x", 538, "5.7.11")
    c.starttls()
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 503, "5.5.1")
    c.ehlo()
    c.cmd("AUTH PLAIN " + plain("alice@a.test"), 235, "2.7.0")
    c.cmd("QUIT", 221)


def test_header_without_empty_line(sub):
    """A first line that is no header field ends the header: the fields
    added go before it, followed by the empty line."""
    c = authed(sub, "alice@a.test")
    tag = "alice+noempty@a.test"
    qid = queued_id(transaction(c, tag, ["rx@a.test"],
                                b"hello world\r\nmore text\r\n"))
    c.cmd("QUIT", 221)
    data = stored(sub, qid)
    head, _, body = data.partition(b"\r\n\r\n")
    assert body == b"hello world\r\nmore text\r\n", data
    assert re.search(rb"(?m)^Date: ", head) and \
        re.search(rb"(?m)^Message-ID: <", head), data
