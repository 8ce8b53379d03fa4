"""smtpd: SMTP on port 25 against the real suite, over loopback.

Raw sockets where the bytes on the wire matter, smtplib, swaks and
`openssl s_client` where a real client's view does.  Every socket and
subprocess has a timeout; waiting for delivery polls the database with a
bound.  Three instances: `running` (defaults), `strict` (small limits,
127.0.0.1 outside mynetworks, a 2 s command timeout) and `tough`
(smtpd_bare_newline = normalize, a 3 s DATA timeout, then kill -9 tests).
"""
import hashlib
import os
import random
import re
import select
import signal
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import Instance, wait_for

T = 10                  # socket timeout, seconds
HOST = "mx.wharf.test"  # myhostname of every test instance
ENH = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")

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


class Client:
    """One SMTP connection; bytes in, parsed replies out."""

    def __init__(self, port, timeout=T, source=None, greet=True):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        OPEN.append(self)
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

    def nothing_pending(self, wait=0.5):
        """No reply bytes arrive within wait seconds."""
        self.sock.settimeout(wait)
        try:
            d = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            d = None
        finally:
            self.sock.settimeout(T)
        assert not self.buf and d is None, f"unexpected: {self.buf!r} {d!r}"

    def closed(self, timeout=T):
        """The server closes the connection with nothing more to say."""
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            d = b""
        assert self.buf == b"" and d == b"", (self.buf, d)
        return True

    def starttls(self):
        self.cmd("STARTTLS", 220, "2.0.0")
        assert self.buf == b""
        self.sock = tls_context().wrap_socket(self.sock,
                                              server_hostname=HOST)
        return self.sock.version()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE        # the instance's cert is self-signed
    return ctx


def dot_stuff(body):
    """RFC 5321 4.5.2: a leading "." gets another."""
    return re.sub(rb"(?m)^\.", b"..", body)


def transaction(c, sender, rcpts, body, mail_params=""):
    """MAIL, RCPT..., DATA and the body; the final reply."""
    c.cmd(f"MAIL FROM:<{sender}>{mail_params}", 250, "2.1.0")
    for r in rcpts:
        c.cmd(f"RCPT TO:<{r}>", 250, "2.1.5")
    c.cmd("DATA", 354)
    c.send(dot_stuff(body) + b".\r\n")
    return c.reply()


def queued_id(reply):
    assert reply.code == 250 and reply.enh == "2.0.0", reply
    m = re.search(r"queued as (\S+)", reply.text)
    assert m, reply
    return m.group(1)


def send(inst, sender, rcpts, body, mail_params=""):
    """One whole session; the queue id."""
    c = Client(inst.ports["smtp"])
    c.ehlo()
    qid = queued_id(transaction(c, sender, rcpts, body, mail_params))
    c.cmd("QUIT", 221, "2.0.0")
    c.close()
    return qid

# ---- what got stored ----


def blob_path(inst, name):
    return os.path.join(inst.dir, "state", "blobs", name[:2], name)


def read_blob(inst, name):
    with open(blob_path(inst, name), "rb") as f:
        return f.read()


def split_received(blob):
    """(our Received: header, everything after it)."""
    assert blob.startswith(b"Received: "), blob[:100]
    pos = 0
    while True:
        end = blob.index(b"\r\n", pos) + 2
        if blob[end:end + 1] != b"\t":
            return blob[:end], blob[end:]
        pos = end


def inbox(inst, user, domain="s.test"):
    """[(uid, blob name, prefix)] of user@domain's INBOX."""
    out = inst.psql(
        "select m.uid, b.name, encode(m.prefix, 'hex') from messages m "
        "join mailboxes x on x.id = m.mailbox_id join users u on "
        "u.id = x.user_id join domains d on d.id = u.domain_id "
        "join blobs b on b.id = m.blob_id where u.localpart = "
        f"'{user}' and d.name = '{domain}' and x.name = 'INBOX' "
        "order by m.uid")
    rows = []
    for line in out.splitlines():
        uid, blob, prefix = line.split("|")
        rows.append((int(uid), blob, bytes.fromhex(prefix)))
    return rows


def wait_inbox(inst, user, n, domain="s.test", timeout=30):
    """Wait for n messages, then make sure no more come."""
    wait_for(lambda: len(inbox(inst, user, domain)) >= n, timeout,
             f"{n} message(s) for {user}@{domain}")
    time.sleep(0.3)
    rows = inbox(inst, user, domain)
    assert len(rows) == n, rows
    return rows


def stored_from(inst, sender):
    """Messages ever committed from sender: queued, or delivered."""
    q = inst.psql(f"select count(*) from queue where sender = '{sender}'")
    m = inst.psql("select count(*) from messages where position(convert_to("
                  f"'Return-Path: <{sender}>', 'UTF8') in prefix) = 1")
    return int(q) + int(m)


def spool_files(inst):
    return os.listdir(os.path.join(inst.dir, "state", "blobs", "tmp"))


def wait_no_spool(inst):
    wait_for(lambda: spool_files(inst) == [], 10, "spool files removed")


def service_up(inst, name, old=()):
    """Pids of a running service (all new when old is given)."""
    def up():
        line = [x for x in inst.status().splitlines()
                if x.split()[:1] == [name]]
        pids = inst.service_pids(name)
        return line and "running" in line[0] and pids and \
            not set(pids) & set(old) and pids
    return wait_for(up, 30, f"{name} running")


def ready(inst, rcpt):
    """smtpd answers, authd and qmgr reachable: DATA gets its 354."""
    for name in ("authd", "qmgr", "deliver", "smtpd"):
        service_up(inst, name)

    def probe():
        try:
            c = Client(inst.ports["smtp"], timeout=3)
            c.ehlo()
            c.cmd("MAIL FROM:<probe@remote.example>", 250)
            ok = c.cmd(f"RCPT TO:<{rcpt}>").code == 250 and \
                c.cmd("DATA").code == 354
            c.close()           # no end of data: the spool is dropped
            return ok
        except (OSError, EOFError, AssertionError):
            return False
    try:
        wait_for(probe, 30, "smtpd ready")
    except AssertionError:
        tail = "\n".join(inst.read_log().splitlines()[-40:])
        raise AssertionError(f"smtpd not ready; master log:\n{tail}")
    wait_no_spool(inst)


def body_of(subject, text=b"hello\r\n"):
    return (b"From: sender@remote.example\r\nTo: someone\r\nSubject: " +
            subject.encode() + b"\r\n\r\n" + text)

# ---- instances ----


@pytest.fixture(autouse=True)
def close_clients():
    """A failed test must not leave a session (and its spool) behind."""
    yield
    while OPEN:
        OPEN.pop().close()


USERS = ("alice", "bob", "carol", "dave", "erin", "null", "pipe", "tls",
         "big", "eight", "sam", "smug", "victim", "bdat", "helo", "utf")


@pytest.fixture(scope="module")
def site(running):
    w = running.wharf
    for d in ("s.test", "catch.test", HOST):
        w("domain", "add", d, check=True)
    for u in USERS:
        w("user", "add", f"{u}@s.test", input="pw\n", check=True)
    w("alias", "add", "team@s.test", "bob@s.test", "carol@s.test",
      check=True)
    w("alias", "add", "@catch.test", "dave@s.test", check=True)
    ready(running, "alice@s.test")
    return running


STRICT = """
mynetworks = 192.0.2.0/24
message_size_limit = 100k
smtpd_recipient_limit = 3
smtpd_error_limit = 5
smtpd_client_connection_limit = 5
smtpd_timeout = 2s
process_limit = 1
"""


@pytest.fixture(scope="module")
def strict():
    """127.0.0.1 outside mynetworks; small limits; one smtpd process."""
    inst = Instance(STRICT).start()
    try:
        inst.wharf("domain", "add", "s.test", check=True)
        for u in ("ann", "amy", "abe", "ada"):
            inst.wharf("user", "add", f"{u}@s.test", input="pw\n",
                       check=True)
        ready(inst, "ann@s.test")
        yield inst
    finally:
        inst.cleanup()


TOUGH = """
smtpd_bare_newline = normalize
smtpd_data_timeout = 3s
"""


@pytest.fixture(scope="module")
def tough():
    inst = Instance(TOUGH).start()
    try:
        inst.wharf("domain", "add", "s.test", check=True)
        for u in ("tom", "tim", "victim", "kqm", "kdl"):
            inst.wharf("user", "add", f"{u}@s.test", input="pw\n",
                       check=True)
        ready(inst, "tom@s.test")
        yield inst
    finally:
        inst.cleanup()

# ---- greeting, EHLO, HELO ----


def test_greeting_and_ehlo_capabilities(site):
    c = Client(site.ports["smtp"])
    assert c.greeting.raw == [f"220 {HOST} ESMTP Wharf"]
    r = c.ehlo()
    assert r.lines[0] == HOST
    assert sorted(r.lines[1:]) == sorted([
        "PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8",
        "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS", "DSN"])
    # A second EHLO is fine and says the same.
    assert c.ehlo("other.test").lines == r.lines
    c.cmd("QUIT", 221, "2.0.0")
    assert c.closed()


def test_helo(site):
    c = Client(site.ports["smtp"])
    r = c.cmd("HELO helo.test", 250)
    assert r.raw == [f"250 {HOST}"]         # no extensions
    # Parameters need EHLO (RFC 5321 4.1.1.11).
    c.cmd("MAIL FROM:<h@remote.example> SIZE=10", 555, "5.5.4")
    qid = queued_id(transaction(c, "h@remote.example", ["helo@s.test"],
                                body_of("helo")))
    head, _ = split_received(read_blob(site, qid))
    assert b"Received: from helo.test ([127.0.0.1])" in head
    assert b"with SMTP\r\n" in head
    c.cmd("QUIT", 221)


def test_ehlo_address_literals(site):
    c = Client(site.ports["smtp"])
    c.ehlo("[127.0.0.1]")
    c.ehlo("[IPv6:::1]")
    c.cmd("HELO [192.0.2.1]", 250)
    c.cmd("QUIT", 221)


@pytest.mark.parametrize("line,code,enh", [
    ("EHLO", 501, "5.5.4"),
    ("HELO", 501, "5.5.4"),
    ("EHLO bad(name)", 501, "5.5.4"),
    ("EHLO two words", 501, "5.5.4"),
])
def test_helo_syntax(site, line, code, enh):
    """Near-miss names (my_host) are taken; header-unsafe ones are not."""
    c = Client(site.ports["smtp"])
    c.cmd(line, code, enh)
    c.cmd("MAIL FROM:<a@remote.example>", 503, "5.5.1")  # still no HELO
    c.cmd("QUIT", 221)

# ---- command order ----


def test_mail_before_helo(site):
    c = Client(site.ports["smtp"])
    c.cmd("MAIL FROM:<a@remote.example>", 503, "5.5.1")
    c.cmd("RCPT TO:<alice@s.test>", 503, "5.5.1")
    c.cmd("DATA", 503, "5.5.1")
    c.cmd("QUIT", 221)


def test_nested_mail(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<a@remote.example>", 250, "2.1.0")
    c.cmd("MAIL FROM:<b@remote.example>", 503, "5.5.1")
    c.cmd("RCPT TO:<alice@s.test>", 250, "2.1.5")  # the first still holds
    c.cmd("QUIT", 221)


def test_rcpt_before_mail(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("RCPT TO:<alice@s.test>", 503, "5.5.1")
    c.cmd("QUIT", 221)


def test_data_without_recipients(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("DATA", 503, "5.5.1")                     # no MAIL
    c.cmd("MAIL FROM:<a@remote.example>", 250)
    c.cmd("DATA", 554, "5.5.1")                     # MAIL, no RCPT
    c.cmd("RCPT TO:<nobody@s.test>", 550, "5.1.1")
    c.cmd("DATA", 554, "5.5.1")                     # only rejected ones
    c.cmd("NOOP", 250)
    c.cmd("QUIT", 221)


def test_unknown_command(site):
    c = Client(site.ports["smtp"])
    c.cmd("FOO", 500, "5.5.1")           # RFC 3463: invalid command
    c.cmd("QUIT", 221)


def test_unknown_command_code(site):
    c = Client(site.ports["smtp"])
    for verb in ("FOO", "MAILX FROM:<a@b.c>", "X" * 40, "TURN", "ETRN x"):
        assert c.cmd(verb).code == 500
    c.ehlo()                                # the session is still usable
    c.cmd("QUIT", 221)


@pytest.mark.parametrize("line,code,enh", [
    ("MAIL FROM:a@remote.example", 501, "5.1.7"),
    ("MAIL FROM:<a@@remote.example>", 501, "5.1.7"),
    ("MAIL TO:<a@remote.example>", 501, "5.5.4"),
    ("MAIL FROM:", 501, "5.5.4"),
    ("MAIL", 501, "5.5.4"),
    ("MAIL FROM:<a@remote.example> SIZE=abc", 501, "5.5.4"),
    ("MAIL FROM:<a@remote.example> SIZE=1 SIZE=2", 501, "5.5.4"),
    ("MAIL FROM:<a@remote.example> BODY=9BIT", 501, "5.5.4"),
    ("MAIL FROM:<a@remote.example> RET=ALL", 501, "5.5.4"),
    ("MAIL FROM:<a@remote.example> FOO=bar", 555, "5.5.4"),
    ("MAIL FROM:<a@remote.example> NOTIFY=NEVER", 555, "5.5.4"),
    ("MAIL FROM:<a@remote.example> BODY=BINARYMIME", 555, "5.5.4"),
    ("MAIL FROM:<j\u00fcrg@remote.example>", 550, "5.6.7"),
    ("RSET now", 501, "5.5.4"),
    ("QUIT now", 501, "5.5.4"),
    ("DATA now", 501, "5.5.4"),
    ("STARTTLS now", 501, "5.5.4"),
    ("VRFY", 501, "5.5.4"),
    ("BDAT", 501, "5.5.4"),
    ("BDAT x", 501, "5.5.4"),
    ("BDAT 10 NOTLAST", 501, "5.5.4"),
    ("NOOP\x00", 500, "5.5.2"),
    ("EXPN alice@s.test", 502, "5.5.1"),
    ("AUTH PLAIN", 503, "5.5.1"),
])
def test_command_syntax_errors(site, line, code, enh):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd(line, code, enh)
    c.cmd("NOOP", 250, "2.0.0")
    c.cmd("QUIT", 221)


@pytest.mark.parametrize("line,code,enh", [
    ("RCPT TO:alice@s.test", 501, "5.1.3"),
    ("RCPT TO:<>", 501, "5.1.3"),
    ("RCPT FROM:<alice@s.test>", 501, "5.5.4"),
    ("RCPT TO:<alice@s.test> FOO=1", 555, "5.5.4"),
    ("RCPT TO:<alice@s.test> SIZE=1", 555, "5.5.4"),
    ("RCPT TO:<alice@s.test> NOTIFY=SOMETIMES", 501, "5.5.4"),
    ("RCPT TO:<j\u00fcrg@s.test>", 553, "5.6.7"),
])
def test_rcpt_syntax_errors(site, line, code, enh):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<a@remote.example>", 250)
    c.cmd(line, code, enh)
    c.cmd("RCPT TO:<alice@s.test>", 250, "2.1.5")   # the MAIL still holds
    c.cmd("QUIT", 221)


def test_size_parameter_too_big(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<a@remote.example> SIZE=52428801", 552, "5.3.4")
    c.cmd("MAIL FROM:<a@remote.example> SIZE=99999999999999999999", 501,
          "5.5.4")
    c.cmd("MAIL FROM:<a@remote.example> SIZE=52428800", 250, "2.1.0")
    c.cmd("QUIT", 221)


def test_smtputf8(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    body = body_of("utf8", "gr\u00fc\u00dfe\r\n".encode())
    qid = queued_id(transaction(c, "j\u00fcrg@remote.example",
                                ["utf@s.test"], body,
                                " SMTPUTF8 BODY=8BITMIME"))
    head, rest = split_received(read_blob(site, qid))
    assert b"with UTF8SMTP\r\n" in head and rest == body
    assert site.psql(f"select smtputf8::text || ' ' || body from queue "
                     f"where queue_id = '{qid}'") in ("true 8BITMIME", "")
    c.cmd("QUIT", 221)
    wait_inbox(site, "utf", 1)

# ---- VRFY, HELP, NOOP, RSET, QUIT ----


def test_vrfy_never_tells(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    replies = [c.cmd("VRFY " + x).raw for x in (
        "alice@s.test", "nobody@s.test", "alice", "team@s.test",
        "someone@remote.example", "<alice@s.test>")]
    assert replies[0] == ["252 2.5.2 Cannot VRFY user, but will accept "
                          "message and attempt delivery"]
    assert all(r == replies[0] for r in replies)
    c.cmd("QUIT", 221)


def test_help_noop_rset_quit(site):
    c = Client(site.ports["smtp"])
    r = c.cmd("HELP", 214, "2.0.0")
    for verb in ("EHLO", "MAIL", "RCPT", "DATA", "BDAT", "STARTTLS"):
        assert verb in r.text
    c.cmd("HELP MAIL", 214)
    c.cmd("NOOP", 250, "2.0.0")
    c.cmd("NOOP anything at all", 250, "2.0.0")
    c.ehlo()
    c.cmd("MAIL FROM:<a@remote.example>", 250)
    c.cmd("RCPT TO:<alice@s.test>", 250)
    c.cmd("RSET", 250, "2.0.0")
    c.cmd("RCPT TO:<alice@s.test>", 503, "5.5.1")   # the transaction is gone
    c.cmd("DATA", 503, "5.5.1")
    c.cmd("MAIL FROM:<a@remote.example>", 250)     # HELO is kept
    c.cmd("QUIT", 221, "2.0.0")
    assert c.closed()


def test_quit_pipelined_rest_ignored(site):
    c = Client(site.ports["smtp"])
    c.send("QUIT\r\nNOOP\r\nNOOP\r\n")
    assert c.reply().raw == ["221 2.0.0 Bye"]
    assert c.closed()

# ---- recipients ----


def test_recipient_policy(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<p@remote.example>", 250)
    c.cmd("RCPT TO:<alice@s.test>", 250, "2.1.5")
    c.cmd("RCPT TO:<ALICE@S.TEST>", 250, "2.1.5")
    r = c.cmd("RCPT TO:<nobody@s.test>", 550, "5.1.1")
    assert "nobody@s.test" in r.text
    c.cmd("RCPT TO:<postmaster@s.test>", 250, "2.1.5")
    c.cmd("RCPT TO:<PostMaster@s.test>", 250, "2.1.5")
    c.cmd("RCPT TO:<alice+tag@s.test>", 250, "2.1.5")
    c.cmd("RCPT TO:<nobody+tag@s.test>", 550, "5.1.1")
    c.cmd("RCPT TO:<anything@catch.test>", 250, "2.1.5")
    c.cmd("RCPT TO:<team@s.test>", 250, "2.1.5")
    c.cmd("RSET", 250)
    c.cmd("QUIT", 221)


def test_rcpt_bare_postmaster(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<p@remote.example>", 250)
    c.cmd("RCPT TO:<Postmaster>", 250, "2.1.5")
    c.cmd("QUIT", 221)


def test_tag_catchall_alias_delivery(site):
    body = body_of("fan-out")
    qid = send(site, "fan@remote.example", [
        "erin+tag@s.test", "x.y.z@catch.test", "team@s.test"], body)
    for user in ("erin", "dave", "bob", "carol"):
        rows = wait_inbox(site, user, 1)
        assert rows[0][1] == qid
        assert rows[0][2].startswith(b"Return-Path: <fan@remote.example>")
    _, rest = split_received(read_blob(site, qid))
    assert rest == body


def test_null_sender(site):
    qid = send(site, "", ["null@s.test"], body_of("bounce"))
    rows = wait_inbox(site, "null", 1)
    assert rows[0][1] == qid and rows[0][2].startswith(b"Return-Path: <>")


def test_foreign_recipient_from_mynetworks_stays_queued(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<out@s.test> RET=HDRS ENVID=env42", 250)
    c.cmd("RCPT TO:<someone@foreign.example> NOTIFY=SUCCESS,FAILURE "
          "ORCPT=rfc822;someone@foreign.example", 250, "2.1.5")
    c.cmd("DATA", 354)
    c.send(body_of("outbound") + b".\r\n")
    qid = queued_id(c.reply())
    c.cmd("QUIT", 221)
    row = site.psql(
        "select q.sender, q.ret, q.envid, r.address, r.transport, r.status,"
        " r.notify, r.orcpt from queue q join queue_recipients r on "
        f"r.queue = q.id where q.queue_id = '{qid}'")
    f = row.split("|")
    assert f[:6] == ["out@s.test", "HDRS", "env42",
                     "someone@foreign.example", "remote", "pending"], row
    assert f[6] == "SUCCESS,FAILURE" and \
        f[7] == "rfc822;someone@foreign.example", row


def test_relay_denied_outside_mynetworks(strict):
    c = Client(strict.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<x@remote.example>", 250)
    r = c.cmd("RCPT TO:<someone@foreign.example>", 554, "5.7.1")
    assert "Relay access denied" in r.text
    c.cmd("RCPT TO:<ann@s.test>", 250, "2.1.5")     # local is still fine
    c.cmd("RCPT TO:<nobody@s.test>", 550, "5.1.1")
    c.cmd("RSET", 250)
    c.cmd("QUIT", 221)
    assert "relay denied" in strict.read_log()


def test_recipient_limit(strict):
    c = Client(strict.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<many@remote.example>", 250)
    for u in ("ann", "amy", "abe"):
        c.cmd(f"RCPT TO:<{u}@s.test>", 250)
    c.cmd("RCPT TO:<ada@s.test>", 452, "4.5.3")
    c.cmd("RCPT TO:<ada@s.test>", 452, "4.5.3")     # not an error: no 421
    c.cmd("DATA", 354)
    c.send(body_of("three") + b".\r\n")
    queued_id(c.reply())
    c.cmd("QUIT", 221)
    for u in ("ann", "amy", "abe"):
        wait_inbox(strict, u, 1)
    assert inbox(strict, "ada") == []


def test_error_limit(strict):
    c = Client(strict.ports["smtp"])
    for _ in range(4):
        c.cmd("FOO", 500)
    c.send("FOO\r\n")
    assert c.reply().code == 500
    r = c.reply()
    assert r.code == 421 and r.enh == "4.7.0", r
    assert c.closed()

# ---- line lengths ----


def test_command_line_lengths(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("NOOP " + "x" * 505, 250)             # 510 + CRLF = 512
    c.cmd("NOOP " + "x" * 506, 500, "5.5.2")    # 513
    c.cmd("HELP " + "x" * 600, 500, "5.5.2")
    mail = "MAIL FROM:<long@remote.example>"
    c.cmd(mail + " " * (2047 - len(mail)), 500, "5.5.2")   # 2049 octets
    c.cmd(mail + " " * (2046 - len(mail)), 250, "2.1.0")   # 2048 octets
    rcpt = "RCPT TO:<alice@s.test> ORCPT=rfc822;" + "a" * 400
    c.cmd(rcpt + " " * (2046 - len(rcpt)), 250, "2.1.5")
    c.cmd(rcpt + " " * (2047 - len(rcpt)), 500, "5.5.2")
    c.cmd("NOOP " + "y" * 100000, 500, "5.5.2")     # dropped to its LF
    c.cmd("RSET", 250)
    c.cmd("QUIT", 221)


def test_data_line_too_long(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    sender = "longline@remote.example"
    ok = body_of("998") + b"a" * 998 + b"\r\n"
    qid = queued_id(transaction(c, "ok-" + sender, ["alice@s.test"], ok))
    assert split_received(read_blob(site, qid))[1] == ok
    bad = body_of("999") + b"b" * 999 + b"\r\nshort line\r\n"
    r = transaction(c, sender, ["alice@s.test"], bad)
    assert r.code == 550 and r.enh == "5.6.0", r
    bad = body_of("5000") + b"c" * 5000 + b"\r\nshort line\r\n"
    r = transaction(c, sender, ["alice@s.test"], bad)
    assert r.code == 550 and r.enh == "5.6.0", r
    c.cmd("NOOP", 250)
    c.cmd("QUIT", 221)
    assert stored_from(site, sender) == 0
    wait_no_spool(site)


def test_data_line_too_long_then_end(site):
    c = Client(site.ports["smtp"], timeout=2)
    c.ehlo()
    c.cmd("MAIL FROM:<longend@remote.example>", 250)
    c.cmd("RCPT TO:<alice@s.test>", 250)
    c.cmd("DATA", 354)
    c.send(b"Subject: x\r\n\r\n" + b"d" * 1500 + b"\r\n.\r\n")
    try:
        r = c.reply()
    except (socket.timeout, TimeoutError):
        r = None
    assert r is not None and r.code == 550 and r.enh == "5.6.0", r
    c.close()


def test_empty_and_dot_only_messages(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    for body in (b"", b".\r\n", b"\r\n"):
        qid = queued_id(transaction(c, "empty@remote.example",
                                    ["alice@s.test"], body))
        assert split_received(read_blob(site, qid))[1] == body
    c.cmd("QUIT", 221)


def test_client_gone_mid_data(site):
    sender = "gone@remote.example"
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd(f"MAIL FROM:<{sender}>", 250)
    c.cmd("RCPT TO:<alice@s.test>", 250)
    c.cmd("DATA", 354)
    c.send(b"Subject: half\r\n\r\n" + b"h" * 98 + b"\r\n" * 1000)
    assert spool_files(site)
    c.close()
    wait_no_spool(site)
    assert stored_from(site, sender) == 0

# ---- pipelining ----


def test_pipelined_transaction_in_one_write(site):
    c = Client(site.ports["smtp"])
    c.send("EHLO pipe.test\r\nMAIL FROM:<pipe@remote.example>\r\n"
           "RCPT TO:<pipe@s.test>\r\nRCPT TO:<nobody@s.test>\r\n"
           "RCPT TO:<alice+pipe@s.test>\r\nDATA\r\n")
    got = [c.reply() for _ in range(6)]
    assert [(r.code, r.enh) for r in got] == [
        (250, None), (250, "2.1.0"), (250, "2.1.5"), (550, "5.1.1"),
        (250, "2.1.5"), (354, None)], got
    body = body_of("pipelined")
    # The body, its end, a second transaction and QUIT: one write too.
    c.send(body + b".\r\nMAIL FROM:<pipe2@remote.example>\r\n"
           b"RCPT TO:<pipe@s.test>\r\nDATA\r\n" + body + b".\r\nQUIT\r\n")
    q1 = queued_id(c.reply())
    assert [c.reply().code for _ in range(3)] == [250, 250, 354]
    q2 = queued_id(c.reply())
    assert c.reply().code == 221
    assert c.closed()
    rows = wait_inbox(site, "pipe", 2)
    assert sorted(r[1] for r in rows) == sorted([q1, q2])


def test_replies_in_order_with_lookups(site):
    """Many RCPTs (each an authd round trip) and NOOPs in one write."""
    c = Client(site.ports["smtp"])
    c.ehlo()
    cmds = ["MAIL FROM:<order@remote.example>"]
    want = [250]
    for i in range(30):
        good = i % 3 != 1
        cmds.append(f"RCPT TO:<{'alice' if good else 'nobody%d' % i}"
                    f"@s.test>")
        want.append(250 if good else 550)
        cmds.append("NOOP")
        want.append(250)
    cmds.append("RSET")
    want.append(250)
    c.send("".join(x + "\r\n" for x in cmds))
    assert [c.reply().code for _ in want] == want
    c.cmd("QUIT", 221)

# ---- BDAT (RFC 3030) ----


def test_bdat_chunks(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<chunks@remote.example> BODY=8BITMIME", 250)
    c.cmd("RCPT TO:<bdat@s.test>", 250)
    part1 = b"Subject: chunked\r\n\r\nbinary: "
    part2 = bytes(range(256)) + b"\r\n.\r\n..\r\nno final CRLF"
    c.send(b"BDAT %d\r\n" % len(part1) + part1)
    r = c.reply()
    assert (r.code, r.enh) == (250, "2.0.0"), r
    c.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    qid = queued_id(c.reply())
    _, rest = split_received(read_blob(site, qid))
    assert rest == part1 + part2            # nothing unstuffed, bytes kept
    # Chunks pipelined in one write, then BDAT 0 LAST.
    c.cmd("MAIL FROM:<chunks@remote.example>", 250)
    c.cmd("RCPT TO:<bdat@s.test>", 250)
    c.send(b"BDAT 3\r\nabcBDAT 4\r\ndef\nBDAT 0 LAST\r\n")
    assert [c.reply().code for _ in range(2)] == [250, 250]
    qid2 = queued_id(c.reply())
    assert split_received(read_blob(site, qid2))[1] == b"abcdef\n"
    # BDAT 0 LAST alone: an empty message.
    c.cmd("MAIL FROM:<chunks@remote.example>", 250)
    c.cmd("RCPT TO:<bdat@s.test>", 250)
    qid3 = queued_id(c.cmd("BDAT 0 LAST"))
    assert split_received(read_blob(site, qid3))[1] == b""
    # DATA after BDAT in one transaction is refused.
    c.cmd("MAIL FROM:<chunks@remote.example>", 250)
    c.cmd("RCPT TO:<bdat@s.test>", 250)
    c.send(b"BDAT 2\r\nxy")
    assert c.reply().code == 250
    c.cmd("DATA", 503, "5.5.1")
    assert spool_files(site)                # the chunk went to a spool
    c.cmd("RSET", 250)
    wait_no_spool(site)                     # RSET gave it up
    c.cmd("QUIT", 221)
    rows = wait_inbox(site, "bdat", 3)
    assert [r[1] for r in rows] == [qid, qid2, qid3]


def test_bdat_without_mail_consumes_chunk(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    # The chunk holds command-like text: none of it may run.
    chunk = b"NOOP\r\nMAIL FROM:<evil@remote.example>\r\n"
    c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    r = c.reply()
    assert (r.code, r.enh) == (503, "5.5.1"), r
    c.send(b"BDAT 5 LAST\r\nQUIT\r")
    r = c.reply()
    assert (r.code, r.enh) == (503, "5.5.1"), r
    c.cmd("NOOP", 250)
    c.cmd("MAIL FROM:<a@remote.example>", 250)     # no MAIL was smuggled
    c.send(b"BDAT 4 LAST\r\nRSET")                 # MAIL, but no RCPT
    r = c.reply()
    assert (r.code, r.enh) == (554, "5.5.1"), r
    c.cmd("NOOP", 250)
    c.cmd("QUIT", 221)
    assert stored_from(site, "evil@remote.example") == 0

# ---- STARTTLS ----


def test_starttls_smtplib(site):
    s = smtplib.SMTP("127.0.0.1", site.ports["smtp"], timeout=T)
    try:
        s.ehlo("tls.client")
        assert s.has_extn("starttls")
        code, _ = s.starttls(context=tls_context())
        assert code == 220
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.ehlo("tls.client")
        assert not s.has_extn("starttls")
        assert s.has_extn("pipelining") and s.has_extn("chunking")
        assert s.docmd("STARTTLS")[0] == 503
        body = body_of("over tls")
        s.sendmail("tls@remote.example", ["tls@s.test"], body)
        s.quit()
    finally:
        s.close()
    rows = wait_inbox(site, "tls", 1)
    head, rest = split_received(read_blob(site, rows[0][1]))
    assert rest == body
    assert b"with ESMTPS\r\n" in head
    assert re.search(rb"\(using TLSv1\.[23] with cipher \S+", head), head


def test_starttls_resets_state(site):
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd("MAIL FROM:<a@remote.example>", 250)
    c.cmd("RCPT TO:<alice@s.test>", 250)
    c.starttls()
    c.cmd("MAIL FROM:<a@remote.example>", 503, "5.5.1")   # EHLO first
    r = c.ehlo()
    assert "STARTTLS" not in r.lines
    c.cmd("RCPT TO:<alice@s.test>", 503, "5.5.1")         # no transaction
    c.cmd("DATA", 503, "5.5.1")
    c.cmd("STARTTLS", 503, "5.5.1")
    c.cmd("QUIT", 221)


def test_starttls_injection(site):
    """Plaintext pipelined after STARTTLS is never answered (RFC 3207
    4.2, CVE-2011-0411)."""
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.send("STARTTLS\r\nRSET\r\nMAIL FROM:<inject@remote.example>\r\n")
    r = c.reply()
    assert r.raw == ["220 2.0.0 Ready to start TLS"]
    assert c.buf == b""
    c.sock = tls_context().wrap_socket(c.sock, server_hostname=HOST)
    c.nothing_pending(1.0)
    r = c.cmd("EHLO after.tls", 250)        # the first reply over TLS
    assert r.lines[0] == HOST
    c.cmd("RCPT TO:<alice@s.test>", 503, "5.5.1")   # the MAIL never ran
    c.cmd("QUIT", 221)


def test_starttls_openssl_s_client(site):
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         f"127.0.0.1:{site.ports['smtp']}", "-crlf", "-quiet", "-ign_eof",
         "-servername", HOST],
        input=b"EHLO sclient.test\nQUIT\n", capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, (out, r.stderr)
    lines = out.splitlines()
    assert f"250-{HOST}" in lines and "250 DSN" in lines, out
    assert "250-STARTTLS" not in lines, out
    assert lines[-1] == "221 2.0.0 Bye", out
    assert b"CN = mx.wharf.test" in r.stderr

# ---- SMTP smuggling ----


SMUGGLE = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"]


def smuggle_body(payload, tag):
    """A body that a vulnerable server reads as two messages."""
    return (b"Subject: outer\r\n\r\nfirst part" + payload +
            b"MAIL FROM:<" + tag.encode() + b">\r\n"
            b"RCPT TO:<victim@s.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled text\r\n.\r\n")


def smuggle(inst, payload, tag, outer_rcpt):
    c = Client(inst.ports["smtp"])
    c.ehlo()
    c.cmd(f"MAIL FROM:<outer-{tag}>", 250)
    c.cmd(f"RCPT TO:<{outer_rcpt}>", 250)
    c.cmd("DATA", 354)
    c.send(smuggle_body(payload, tag))
    r = c.reply()
    c.cmd("NOOP", 250, "2.0.0")         # no other reply came in between
    c.cmd("QUIT", 221)
    return r


@pytest.mark.parametrize("payload", SMUGGLE, ids=repr)
def test_smuggling_rejected(site, payload):
    tag = f"smuggler{SMUGGLE.index(payload)}@remote.example"
    r = smuggle(site, payload, tag, "smug@s.test")
    assert (r.code, r.enh) == (550, "5.6.0"), r
    assert stored_from(site, tag) == 0
    assert stored_from(site, "outer-" + tag) == 0
    assert inbox(site, "victim") == [] and inbox(site, "smug") == []


def test_smuggling_after_long_line_rejected(site):
    tag = "smugglerlong@remote.example"
    c = Client(site.ports["smtp"])
    c.ehlo()
    c.cmd(f"MAIL FROM:<outer-{tag}>", 250)
    c.cmd("RCPT TO:<smug@s.test>", 250)
    c.cmd("DATA", 354)
    body = smuggle_body(b"\n.\r\n", tag)
    c.send(body.replace(b"first part", b"L" * 2000))
    r = c.reply()
    assert (r.code, r.enh) == (550, "5.6.0"), r
    c.cmd("NOOP", 250)
    c.cmd("QUIT", 221)
    assert stored_from(site, tag) == 0
    assert inbox(site, "victim") == []


@pytest.mark.parametrize("payload", SMUGGLE, ids=repr)
def test_smuggling_normalized(tough, payload):
    tag = f"smuggler{SMUGGLE.index(payload)}@remote.example"
    before = len(inbox(tough, "tom"))
    r = smuggle(tough, payload, tag, "tom@s.test")
    qid = queued_id(r)
    rows = wait_inbox(tough, "tom", before + 1)
    assert rows[-1][1] == qid
    _, rest = split_received(read_blob(tough, qid))
    assert rest.startswith(b"Subject: outer\r\n\r\nfirst part\r\n")
    assert b"MAIL FROM:<" + tag.encode() + b">\r\n" in rest
    assert b"smuggled text\r\n" in rest
    assert re.search(rb"\r(?!\n)|(?<!\r)\n", rest) is None  # CRLF only
    assert stored_from(tough, tag) == 0
    assert inbox(tough, "victim") == []

# ---- size limits ----


def test_size_limit_data(strict):
    c = Client(strict.ports["smtp"])
    r = c.ehlo()
    assert "SIZE 102400" in r.lines
    c.cmd("MAIL FROM:<a@remote.example> SIZE=102401", 552, "5.3.4")
    qid = queued_id(transaction(c, "fits@remote.example", ["ann@s.test"],
                                exact_crlf_body(102400)))
    assert len(split_received(read_blob(strict, qid))[1]) == 102400
    sender = "toobig@remote.example"
    r = transaction(c, sender, ["ann@s.test"], exact_crlf_body(102401))
    assert (r.code, r.enh) == (552, "5.3.4"), r
    r = transaction(c, sender, ["ann@s.test"], exact_crlf_body(300000))
    assert (r.code, r.enh) == (552, "5.3.4"), r
    c.cmd("QUIT", 221)
    assert stored_from(strict, sender) == 0
    wait_no_spool(strict)


def exact_crlf_body(n):
    """n octets of CRLF-terminated lines (n >= 20)."""
    head = b"Subject: sized\r\n\r\n"
    left = n - len(head)
    lines = []
    while left > 0:
        k = min(100, left)
        if left - k == 1:       # never leave a 1-octet remainder
            k -= 1
        lines.append(b"x" * (k - 2) + b"\r\n")
        left -= k
    body = head + b"".join(lines)
    assert len(body) == n
    return body


def test_size_limit_bdat(strict):
    c = Client(strict.ports["smtp"])
    c.ehlo()
    sender = "bigchunks@remote.example"
    c.cmd(f"MAIL FROM:<{sender}>", 250)
    c.cmd("RCPT TO:<ann@s.test>", 250)
    c.send(b"BDAT 60000\r\n" + b"a" * 60000)
    assert c.reply().code == 250
    c.send(b"BDAT 60000\r\n" + b"b" * 60000)
    r = c.reply()
    assert (r.code, r.enh) == (552, "5.3.4"), r
    # A chunk already in the pipeline is read and dropped.
    c.send(b"BDAT 10 LAST\r\n" + b"c" * 10)
    assert c.reply().code == 503
    c.cmd("NOOP", 250)
    # Exactly the limit, in chunks: accepted.
    c.cmd("MAIL FROM:<bdatfits@remote.example>", 250)
    c.cmd("RCPT TO:<ann@s.test>", 250)
    c.send(b"BDAT 100000\r\n" + b"d" * 100000)
    assert c.reply().code == 250
    c.send(b"BDAT 2400 LAST\r\n" + b"e" * 2400)
    qid = queued_id(c.reply())
    assert len(split_received(read_blob(strict, qid))[1]) == 102400
    c.cmd("QUIT", 221)
    assert stored_from(strict, sender) == 0
    wait_no_spool(strict)

# ---- byte-exact storage ----


def test_8bit_message_byte_exact(site):
    body = (b"From: eight@remote.example\r\nSubject: =?utf-8?q?8bit?=\r\n"
            b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" +
            bytes(range(0x80, 0x100)) + b"\r\n" +
            b".leading dot\r\n" + b".\r\n" + b"..\r\n" +
            b"nul \x00 tab \t del \x7f\r\n" + b"\xe9" * 998 + b"\r\n" +
            b"\r\n" + b"trailing spaces   \r\n")
    c = Client(site.ports["smtp"])
    c.ehlo()
    qid = queued_id(transaction(c, "eight@remote.example", ["eight@s.test"],
                                body, " BODY=8BITMIME"))
    c.cmd("QUIT", 221)
    rows = wait_inbox(site, "eight", 1)
    assert rows[0][1] == qid
    head, rest = split_received(read_blob(site, qid))
    assert rest == body
    assert head.startswith(b"Received: from client.test ([127.0.0.1])\r\n"
                           b"\tby mx.wharf.test (Wharf) with ESMTP\r\n")
    assert f"\tid {qid}\r\n\tfor <eight@s.test>; ".encode() in head
    assert site.psql(f"select body from queue where queue_id = '{qid}'") \
        in ("8BITMIME", "")


def test_10mb_message_byte_exact(site):
    rnd = random.Random(1)
    alphabet = bytes(range(0x21, 0x7f)) + bytes(range(0xa0, 0x100))
    lines = [b"Subject: big\r\n\r\n"]
    size = len(lines[0])
    while size < 10 * 1024 * 1024:
        n = rnd.randrange(0, 998)
        line = bytes(rnd.choices(alphabet, k=n))
        if rnd.random() < 0.05:
            line = b"." + line[:996]     # 998 once stuffed
        lines.append(line + b"\r\n")
        size += len(lines[-1])
    body = b"".join(lines)
    c = Client(site.ports["smtp"], timeout=60)
    c.ehlo()
    c.cmd(f"MAIL FROM:<big@remote.example> SIZE={len(body)}", 250)
    c.cmd("RCPT TO:<big@s.test>", 250)
    c.cmd("DATA", 354)
    c.send(dot_stuff(body) + b".\r\n")
    qid = queued_id(c.reply())
    c.cmd("QUIT", 221)
    _, rest = split_received(read_blob(site, qid))
    assert len(rest) == len(body)
    assert hashlib.sha256(rest).digest() == hashlib.sha256(body).digest()
    rows = wait_inbox(site, "big", 1, timeout=60)
    assert rows[0][1] == qid

# ---- connections ----


def test_200_concurrent_connections(site):
    n = 200
    port = site.ports["smtp"]
    barrier = threading.Barrier(n, timeout=60)
    results = [None] * n

    def one(i):
        try:
            # Each from its own loopback address: the per-client limit
            # (20 per smtpd process) is not what this tests.
            c = Client(port, timeout=60, greet=False,
                       source=f"127.0.{3 + i // 250}.{1 + i % 250}")
            g = c.reply()
            barrier.wait()
            q = c.cmd("QUIT")
            c.closed()
            c.close()
            results[i] = (g.code, q.code)
        except Exception as e:      # reported below
            barrier.abort()
            results[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(not t.is_alive() for t in threads)
    bad = [r for r in results if r != (220, 221)]
    assert bad == [], bad[:5]


def test_per_client_connection_limit(strict):
    src = "127.0.0.77"
    port = strict.ports["smtp"]
    conns = [Client(port, source=src) for _ in range(5)]
    sixth = Client(port, source=src, greet=False)
    r = sixth.reply()
    assert (r.code, r.enh) == (421, "4.7.0"), r
    assert "too many connections" in r.text
    assert sixth.closed()
    # Another address is not affected.
    other = Client(port, source="127.0.0.78")
    other.cmd("QUIT", 221)
    # One goes: there is room again.
    conns.pop().cmd("QUIT", 221)

    def room():
        c = Client(port, source=src, greet=False)
        ok = c.reply().code == 220
        if ok:
            conns.append(c)
        else:
            c.close()
        return ok
    wait_for(room, 10, "a free connection slot")
    for c in conns:
        c.cmd("QUIT", 221)
        c.close()

# ---- timeouts ----


def test_slow_command_timeout(strict):
    c = Client(strict.ports["smtp"])
    t0 = time.monotonic()
    got = None
    for ch in b"EHLO slow.client.test\r\n":
        try:
            c.send(bytes([ch]))
        except OSError:
            break
        if select_readable(c.sock, 1.0):
            got = c.reply()
            break
    elapsed = time.monotonic() - t0
    assert got is not None and (got.code, got.enh) == (421, "4.4.2"), got
    assert 1.5 <= elapsed <= 4.5, elapsed
    assert c.closed()


def select_readable(sock, timeout):
    r, _, _ = select.select([sock], [], [], timeout)
    return bool(r)


def test_command_timeout_not_applied_during_data(strict):
    c = Client(strict.ports["smtp"])           # smtpd_timeout = 2s
    c.ehlo()
    c.cmd("MAIL FROM:<steady@remote.example>", 250)
    c.cmd("RCPT TO:<ann@s.test>", 250)
    c.cmd("DATA", 354)
    c.send(b"Subject: steady\r\n\r\n")
    for i in range(9):                          # 3.6 s in all
        time.sleep(0.4)
        assert not select_readable(c.sock, 0), c.sock.recv(1000)
        c.send(b"line %d\r\n" % i)
    c.send(b".\r\n")
    queued_id(c.reply())
    c.cmd("QUIT", 221)


def test_data_timeout(tough):
    c = Client(tough.ports["smtp"])
    c.ehlo()
    sender = "trickle@remote.example"
    c.cmd(f"MAIL FROM:<{sender}>", 250)
    c.cmd("RCPT TO:<tim@s.test>", 250)
    c.cmd("DATA", 354)
    t0 = time.monotonic()
    got = None
    for ch in b"Subject: slow\r\n\r\n" + b"z" * 40:
        try:
            c.send(bytes([ch]))
        except OSError:
            break
        if select_readable(c.sock, 0.5):
            got = c.reply()
            break
    elapsed = time.monotonic() - t0
    assert got is not None and (got.code, got.enh) == (421, "4.4.2"), got
    assert 2.5 <= elapsed <= 6, elapsed
    assert c.closed()
    assert stored_from(tough, sender) == 0
    wait_no_spool(tough)
    assert inbox(tough, "tim") == []


def test_idle_between_commands_uses_smtpd_timeout(tough):
    c = Client(tough.ports["smtp"])
    c.ehlo()
    time.sleep(3.6)                     # > smtpd_data_timeout, < 5m
    c.cmd("NOOP", 250, "2.0.0")
    c.cmd("QUIT", 221)

# ---- swaks ----


def test_swaks(site):
    r = subprocess.run(
        ["/usr/bin/swaks", "--to", "sam@s.test", "--server", "127.0.0.1",
         "--port", str(site.ports["smtp"]), "--from", "bob@remote.example",
         "--h-Subject", "x", "--body", "y", "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    rows = wait_inbox(site, "sam", 1)
    _, rest = split_received(read_blob(site, rows[0][1]))
    assert b"\r\nSubject: x\r\n" in b"\r\n" + rest
    assert b"\r\n\r\ny\r\n" in rest


def test_stop_with_idle_session(fresh):
    inst = fresh("shutdown_timeout = 3s").start()
    service_up(inst, "smtpd")
    c = Client(inst.ports["smtp"])
    c.ehlo()
    t0 = time.monotonic()
    inst.proc.send_signal(signal.SIGTERM)
    c.sock.settimeout(2.5)
    try:
        r = c.reply()
    except (OSError, EOFError) as e:
        r = e
    assert isinstance(r, Reply) and r.code == 421, r
    assert c.closed(2)
    assert time.monotonic() - t0 < 2.5
    assert inst.proc.wait(timeout=10) == 0
    assert "did not stop in time" not in inst.read_log()

# ---- durability (last: they kill processes of the `tough` instance) ----


def test_kill_smtpd_mid_data(tough):
    sender = "killed@remote.example"
    c = Client(tough.ports["smtp"])
    c.ehlo()
    c.cmd(f"MAIL FROM:<{sender}>", 250)
    c.cmd("RCPT TO:<tom@s.test>", 250)
    c.cmd("DATA", 354)
    c.send(b"Subject: cut\r\n\r\n" + (b"k" * 98 + b"\r\n") * 1500)
    wait_for(lambda: spool_files(tough), 10, "a spool file")
    old = tough.service_pids("smtpd")
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises((EOFError, OSError)):
        c.reply()
    c.close()
    wait_no_spool(tough)                        # qmgr noticed
    assert stored_from(tough, sender) == 0
    service_up(tough, "smtpd", old)
    ready(tough, "tom@s.test")


def test_kill_qmgr_after_queued(tough):
    deliver = tough.service_pids("deliver")
    for pid in deliver:
        os.kill(pid, signal.SIGSTOP)            # delivery waits
    try:
        qid = send(tough, "kq@remote.example", ["kqm@s.test"],
                   body_of("qmgr killed"))
        old = tough.service_pids("qmgr")
        for pid in old:
            os.kill(pid, signal.SIGKILL)
    finally:
        for pid in deliver:
            os.kill(pid, signal.SIGCONT)
    service_up(tough, "qmgr", old)
    rows = wait_inbox(tough, "kqm", 1, timeout=60)
    time.sleep(1)
    assert inbox(tough, "kqm") == rows and rows[0][1] == qid
    ready(tough, "tom@s.test")


def test_kill_deliver_after_queued(tough):
    old = tough.service_pids("deliver")
    for pid in old:
        os.kill(pid, signal.SIGSTOP)
    try:
        qid = send(tough, "kd@remote.example", ["kdl@s.test"],
                   body_of("deliver killed"))
    finally:
        for pid in old:
            os.kill(pid, signal.SIGKILL)
    service_up(tough, "deliver", old)
    rows = wait_inbox(tough, "kdl", 1, timeout=60)
    time.sleep(1)
    assert inbox(tough, "kdl") == rows and rows[0][1] == qid


def test_client_limit_spans_smtpd_processes(fresh):
    """authd counts a client's connections over every smtpd process; a
    dead smtpd's connections are forgotten with it."""
    inst = fresh("smtpd_client_connection_limit = 4\nprocess_limit = 3")
    inst.start()
    port, src = inst.ports["smtp"], "127.0.0.91"
    conns = [Client(port, source=src) for _ in range(4)]
    extra = Client(port, source=src, greet=False)
    r = extra.reply()
    assert (r.code, r.enh) == (421, "4.7.0") and "your address" in r.text
    assert len(inst.service_pids("smtpd")) == 3
    old = inst.service_pids("smtpd")
    for pid in old:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(set(inst.service_pids("smtpd")) - set(old)) == 3
             and "starting" not in inst.status(), 30, "smtpd restarted")
    for c in conns:
        c.close()
    again = [Client(port, source=src) for _ in range(4)]   # all greeted
    for c in again:
        c.cmd("QUIT", 221)
        c.close()


def test_helo_near_miss_names_taken(site):
    """RFC 5321 4.1.4: mail is not refused over the HELO name alone."""
    for name in ("my_host.example", "bad..name", "trailing."):
        c = Client(site.ports["smtp"])
        c.cmd(f"EHLO {name}", 250)
        c.cmd("QUIT", 221)
