"""imapd: FETCH, UID FETCH, STORE, UID STORE against the real suite.

Mail gets in through SMTP (smtplib); the exact response bytes are read
with a raw IMAP client that follows literals, and compared with what the
test sent and with what is stored (messages.prefix + the blob file).
imaplib and implicit TLS check that a real client gets along.  One
instance for the module: users fetch@ (read through EXAMINE, so nothing
changes), seen@ (\\Seen), store@ and note@ (STORE, other sessions), big@
(a 5 MB message), many@ (2,000 messages put in with psql).
"""
import base64
import imaplib
import os
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import Instance, wait_for

T = 20
DOMAIN = "f.test"
EXTRA = """
imap_plaintext_loopback = yes
argon2_memory_cost = 64k
argon2_time_cost = 1
"""
SENDER = "sender@remote.example"

SIMPLE = (b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
          b"From: Alice Example <alice@remote.example>\r\n"
          b"To: fetch@f.test\r\n"
          b"Subject: simple one\r\n"
          b"Message-ID: <simple@remote.example>\r\n"
          b"\r\n"
          b"Hello there.\r\nSecond line.\r\n")

ATTACH = bytes(range(256)) * 4
B64 = base64.encodebytes(ATTACH).replace(b"\n", b"\r\n")
MIME2 = (b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
         b"Content-Transfer-Encoding: base64\r\n"
         b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
         b"\r\n")
MULTI_HDR = (b"From: Bob <bob@remote.example>\r\n"
             b"To: fetch@f.test\r\n"
             b"Subject: multi\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
             b"\r\n")
MULTI_TEXT = (b"preamble\r\n"
              b"--XYZ\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"\r\n"
              b"Part one text.\r\n"
              b"--XYZ\r\n" + MIME2 + B64 +
              b"--XYZ\r\n"
              b"Content-Type: text/plain; charset=utf-8\r\n"
              b"Content-Transfer-Encoding: quoted-printable\r\n"
              b"\r\n"
              b"Caf=C3=A9 =\r\nsoft\r\n"
              b"--XYZ--\r\n"
              b"epilogue\r\n")
MULTI = MULTI_HDR + MULTI_TEXT

INNER = (b"From: Carol <carol@remote.example>\r\n"
         b"Subject: inner\r\n"
         b"\r\n"
         b"Inner body.\r\n")
OUTER = (b"From: Dave <dave@remote.example>\r\n"
         b"To: fetch@f.test\r\n"
         b"Subject: forward\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
         b"\r\n"
         b"--b1\r\n"
         b"Content-Type: text/plain\r\n"
         b"\r\n"
         b"See attached.\r\n"
         b"--b1\r\n"
         b"Content-Type: message/rfc822\r\n"
         b"\r\n" + INNER +
         b"--b1--\r\n")

EIGHT_BODY = "Grüße aus Köln — ñ\r\n".encode()
EIGHT = (b"From: Eve <eve@remote.example>\r\n"
         b"To: fetch@f.test\r\n"
         b"Subject: eight\r\n"
         b"MIME-Version: 1.0\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: 8bit\r\n"
         b"\r\n" + EIGHT_BODY)

UUE = (b"From: Fay <fay@remote.example>\r\n"
       b"To: fetch@f.test\r\n"
       b"Subject: uue\r\n"
       b"Content-Type: application/octet-stream\r\n"
       b"Content-Transfer-Encoding: x-uuencode\r\n"
       b"\r\n"
       b"begin 644 x\r\n`\r\nend\r\n")

MESSAGES = [SIMPLE, MULTI, OUTER, EIGHT, UUE]
USERS = ("fetch", "seen", "store", "note", "gone", "odd")

# ---- a raw IMAP client ----

OPEN = []


class Imap:
    """One IMAP connection; whole responses (literals included) as bytes."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=T)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        OPEN.append(self)
        self.buf = bytearray()
        self.n = 0
        self.greeting = self.line()
        assert self.greeting.startswith(b"* OK"), self.greeting

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError(f"connection closed; unparsed {bytes(self.buf)!r}")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return out
            self._fill()

    def read(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def response(self):
        out = b""
        while True:
            line = self.line()
            out += line
            m = re.search(rb"~?\{(\d+)\}\r\n$", line)
            if not m:
                return out
            out += self.read(int(m.group(1)))

    def cmd(self, text):
        """(untagged responses, the tagged one)"""
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {text}\r\n")
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag.encode() + b" "):
                return untagged, r[len(tag) + 1:]
            untagged.append(r)

    def ok(self, text):
        u, t = self.cmd(text)
        assert t.startswith(b"OK"), (text, t, u[-3:])
        return u

    def fetch(self, text):
        """The FETCH responses of an OK command."""
        u = self.ok(text)
        return [r for r in u if re.match(rb"\* \d+ FETCH ", r)]

    def login(self, user):
        self.ok(f"LOGIN {user}@{DOMAIN} pw")
        return self

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


@pytest.fixture(autouse=True)
def close_clients():
    yield
    while OPEN:
        OPEN.pop().close()


def examine(inst, user="fetch"):
    c = Imap(inst.ports["imap"]).login(user)
    c.ok("EXAMINE INBOX")
    return c


def select(inst, user):
    c = Imap(inst.ports["imap"]).login(user)
    c.ok("SELECT INBOX")
    return c


def lit(data):
    return b"{%d}\r\n" % len(data) + data

# ---- what is stored ----


def stored(inst, user):
    """[(uid, prefix, blob bytes, size)] of user's INBOX."""
    out = inst.psql(
        "select m.uid, encode(m.prefix, 'hex'), b.name, m.size "
        "from messages m join mailboxes x on x.id = m.mailbox_id "
        "join users u on u.id = x.user_id join blobs b on b.id = m.blob_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX' order by m.uid")
    rows = []
    for line in out.splitlines():
        uid, prefix, name, size = line.split("|")
        path = os.path.join(inst.dir, "state", "blobs", name[:2], name)
        with open(path, "rb") as f:
            rows.append((int(uid), bytes.fromhex(prefix), f.read(),
                         int(size)))
    return rows


def count(inst, user):
    return int(inst.psql(
        "select count(*) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX'") or 0)


def deliver(inst, body, rcpts, opts=()):
    before = {r: count(inst, r) for r in rcpts}
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T) as s:
        s.ehlo("client.test")
        s.sendmail(SENDER, [f"{r}@{DOMAIN}" for r in rcpts], body,
                   mail_options=list(opts))
    wait_for(lambda: all(count(inst, r) > before[r] for r in rcpts), 30,
             "delivery")


def smtp_ready(inst):
    def probe():
        try:
            with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                              timeout=3) as s:
                s.ehlo("client.test")
                s.mail(SENDER)
                return s.rcpt(f"fetch@{DOMAIN}")[0] == 250
        except (OSError, smtplib.SMTPException):
            return False
    wait_for(probe, 60, "smtpd ready")


def imap_ready(inst):
    def probe():
        try:
            c = Imap(inst.ports["imap"])
            u, t = c.cmd(f"LOGIN fetch@{DOMAIN} pw")
            c.close()
            OPEN.remove(c)
            return t.startswith(b"OK")
        except (OSError, EOFError):
            return False
    wait_for(probe, 60, "imapd ready")


def add_many(inst, user, n):
    """n more messages in user's INBOX, sharing the first one's blob."""
    inst.psql(f"""
        with mb as (update mailboxes x set uidnext = uidnext + {n},
            highestmodseq = highestmodseq + 1
          from users u where u.id = x.user_id and u.localpart = '{user}'
          and x.name = 'INBOX'
          returning x.id, x.uidnext - {n} as first, x.highestmodseq),
        src as (select m.blob_id, m.prefix, m.size, m.envelope,
            m.bodystructure from messages m, mb
          where m.mailbox_id = mb.id order by m.uid limit 1),
        ins as (insert into messages (mailbox_id, uid, modseq, size,
            blob_id, prefix, envelope, bodystructure)
          select mb.id, mb.first + g, mb.highestmodseq, src.size,
            src.blob_id, src.prefix, src.envelope, src.bodystructure
          from mb, src, generate_series(0, {n} - 1) g returning blob_id)
        update blobs set refcount = refcount + (select count(*) from ins)
          where id = (select blob_id from src)""")


def seen_by_a_client(inst, users):
    """A first session selects each INBOX: the mail is no longer \\Recent
    for the sessions of the tests (RFC 3501 2.3.2)."""
    for u in users:
        c = select(inst, u)
        c.ok("LOGOUT")
        c.close()
        OPEN.remove(c)


BIG = None


@pytest.fixture(scope="module")
def site():
    global BIG
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", DOMAIN, check=True)
        for u in USERS + ("big", "many"):
            inst.wharf("user", "add", f"{u}@{DOMAIN}", input="pw\n",
                       check=True)
        smtp_ready(inst)
        for m in MESSAGES:
            deliver(inst, m, USERS, ("BODY=8BITMIME",))
        lines = b"".join(b"%07d " % i + b"x" * 68 + b"\r\n"
                         for i in range(5 * 1024 * 1024 // 78))
        BIG = (b"From: big@remote.example\r\nSubject: big\r\n\r\n" + lines)
        deliver(inst, BIG, ["big"])
        deliver(inst, SIMPLE, ["many"])
        add_many(inst, "many", 1999)
        imap_ready(inst)
        seen_by_a_client(inst, USERS + ("big", "many"))
        yield inst
    finally:
        inst.cleanup()

# ---- FETCH: simple items ----


def test_flags_and_uid(site):
    c = examine(site)
    assert c.fetch("FETCH 1:* (FLAGS UID)") == [
        b"* %d FETCH (FLAGS () UID %d)\r\n" % (i, i) for i in range(1, 6)]


def test_internaldate(site):
    c = examine(site)
    [r] = c.fetch("FETCH 2 INTERNALDATE")
    m = re.fullmatch(rb'\* 2 FETCH \(INTERNALDATE "(\d\d)-(\w\w\w)-(\d{4}) '
                     rb'(\d\d):(\d\d):(\d\d) \+0000"\)\r\n', r)
    assert m, r
    want = site.psql(
        "select to_char(m.internaldate at time zone 'UTC', "
        "'DD-Mon-YYYY HH24:MI:SS') from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id where "
        "u.localpart = 'fetch' and m.uid = 2")
    assert b"%s-%s-%s %s:%s:%s" % m.groups() == want.encode()


def test_size_and_whole_message(site):
    c = examine(site)
    rows = stored(site, "fetch")
    for (uid, prefix, blob, size), sent in zip(rows, MESSAGES):
        assert prefix == (f"Return-Path: <{SENDER}>\r\n"
                          f"Delivered-To: fetch@{DOMAIN}\r\n").encode()
        assert blob.startswith(b"Received: ") and blob.endswith(sent)
        whole = prefix + blob
        assert size == len(whole)
        [r] = c.fetch(f"FETCH {uid} (RFC822.SIZE BODY.PEEK[])")
        assert r == (b"* %d FETCH (RFC822.SIZE %d BODY[] " % (uid, size) +
                     lit(whole) + b")\r\n")


def header_of(uid, site, user="fetch"):
    (_, prefix, blob, _) = stored(site, user)[uid - 1]
    whole = prefix + blob
    return whole[:whole.index(b"\r\n\r\n") + 4]


def test_header(site):
    c = examine(site)
    h = header_of(1, site)
    assert h.endswith(SIMPLE[:SIMPLE.index(b"\r\n\r\n") + 4])
    assert c.fetch("FETCH 1 BODY.PEEK[HEADER]") == [
        b"* 1 FETCH (BODY[HEADER] " + lit(h) + b")\r\n"]
    assert c.fetch("FETCH 1 RFC822.HEADER") == [
        b"* 1 FETCH (RFC822.HEADER " + lit(h) + b")\r\n"]


def test_header_fields(site):
    c = examine(site)
    want = (b"From: Alice Example <alice@remote.example>\r\n"
            b"Subject: simple one\r\n\r\n")
    assert c.fetch("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]") == [
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] " + lit(want) +
        b")\r\n"]
    # quoted names, odd spacing and case; an unknown name adds nothing
    assert c.fetch('FETCH 1 body.peek[header.fields ("subject" x-none)]') \
        == [b'* 1 FETCH (BODY[HEADER.FIELDS (subject x-none)] ' +
            lit(b"Subject: simple one\r\n\r\n") + b")\r\n"]
    # a partial of a subset
    assert c.fetch("FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]<2.5>") == [
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<2> {5}\r\nbject)\r\n"]
    # prefix fields are header fields too
    r = c.fetch("FETCH 1 BODY.PEEK[HEADER.FIELDS (Delivered-To)]")
    assert r == [b"* 1 FETCH (BODY[HEADER.FIELDS (Delivered-To)] " +
                 lit(b"Delivered-To: fetch@f.test\r\n\r\n") + b")\r\n"]


def test_header_fields_not(site):
    c = examine(site)
    want = SIMPLE[:SIMPLE.index(b"\r\n\r\n") + 4]
    r = c.fetch("FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT "
                "(RECEIVED RETURN-PATH DELIVERED-TO)]")
    assert r == [b"* 1 FETCH (BODY[HEADER.FIELDS.NOT (RECEIVED RETURN-PATH "
                 b"DELIVERED-TO)] " + lit(want) + b")\r\n"]


def test_text(site):
    c = examine(site)
    assert c.fetch("FETCH 1 BODY.PEEK[TEXT]") == [
        b"* 1 FETCH (BODY[TEXT] " + lit(b"Hello there.\r\nSecond line.\r\n")
        + b")\r\n"]
    assert c.fetch("FETCH 2 BODY.PEEK[TEXT]") == [
        b"* 2 FETCH (BODY[TEXT] " + lit(MULTI_TEXT) + b")\r\n"]


def test_uid_fetch(site):
    c = examine(site)
    assert c.fetch("UID FETCH 2:* FLAGS") == [
        b"* %d FETCH (UID %d FLAGS ())\r\n" % (i, i) for i in range(2, 6)]
    assert c.fetch("UID FETCH * (UID RFC822.SIZE)") == [
        b"* 5 FETCH (UID 5 RFC822.SIZE %d)\r\n" % stored(site, "fetch")[4][3]]
    assert c.fetch("UID FETCH 4,1:2 FLAGS") == [
        b"* 1 FETCH (UID 1 FLAGS ())\r\n", b"* 2 FETCH (UID 2 FLAGS ())\r\n",
        b"* 4 FETCH (UID 4 FLAGS ())\r\n"]
    # UIDs not in the mailbox are no error and get no answer
    assert c.fetch("UID FETCH 6:100 FLAGS") == []
    assert c.fetch("UID FETCH 3:2 UID") == [
        b"* 2 FETCH (UID 2)\r\n", b"* 3 FETCH (UID 3)\r\n"]


# ---- sections of MIME messages ----


def test_multipart_parts(site):
    c = examine(site)
    assert c.fetch("FETCH 2 BODY.PEEK[1]") == [
        b"* 2 FETCH (BODY[1] " + lit(b"Part one text.") + b")\r\n"]
    assert c.fetch("FETCH 2 BODY.PEEK[2.MIME]") == [
        b"* 2 FETCH (BODY[2.MIME] " + lit(MIME2) + b")\r\n"]
    assert c.fetch("FETCH 2 BODY.PEEK[2]") == [
        b"* 2 FETCH (BODY[2] " + lit(B64[:-2]) + b")\r\n"]
    assert c.fetch("FETCH 2 BODY.PEEK[2]<0.10>") == [
        b"* 2 FETCH (BODY[2]<0> " + lit(B64[:10]) + b")\r\n"]
    assert c.fetch("FETCH 2 BODY.PEEK[2]<5.10>") == [
        b"* 2 FETCH (BODY[2]<5> " + lit(B64[5:15]) + b")\r\n"]
    assert c.fetch("FETCH 2 BODY.PEEK[3]") == [
        b"* 2 FETCH (BODY[3] " + lit(b"Caf=C3=A9 =\r\nsoft") + b")\r\n"]


def test_binary(site):
    c = examine(site)
    # decoded octets with NUL: literal8 (RFC 3516 4.3)
    assert c.fetch("FETCH 2 BINARY.PEEK[2]") == [
        b"* 2 FETCH (BINARY[2] ~{%d}\r\n" % len(ATTACH) + ATTACH + b")\r\n"]
    assert c.fetch("FETCH 2 BINARY.SIZE[2]") == [
        b"* 2 FETCH (BINARY.SIZE[2] %d)\r\n" % len(ATTACH)]
    assert c.fetch("FETCH 2 (BINARY.PEEK[3] BINARY.SIZE[3])") == [
        b"* 2 FETCH (BINARY[3] " + lit("Café soft".encode()) +
        b" BINARY.SIZE[3] 10)\r\n"]
    assert c.fetch("FETCH 2 BINARY.PEEK[2]<256.4>") == [
        b"* 2 FETCH (BINARY[2]<256> ~{4}\r\n\x00\x01\x02\x03)\r\n"]
    # 7bit: as it is
    assert c.fetch("FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1])") == [
        b"* 2 FETCH (BINARY[1] " + lit(b"Part one text.") +
        b" BINARY.SIZE[1] 14)\r\n"]
    assert c.fetch("FETCH 1 BINARY.SIZE[1]") == [
        b"* 1 FETCH (BINARY.SIZE[1] 28)\r\n"]


def test_binary_unknown_cte(site):
    c = examine(site)
    u, t = c.cmd("FETCH 5 BINARY.PEEK[1]")
    assert t.startswith(b"NO [UNKNOWN-CTE]"), t
    assert not any(b"FETCH" in r for r in u), u
    # BODY[] is no decoding: fine
    assert c.fetch("FETCH 5 BODY.PEEK[1]") == [
        b"* 5 FETCH (BODY[1] " + lit(b"begin 644 x\r\n`\r\nend\r\n") +
        b")\r\n"]
    # the others of the set are still answered
    u, t = c.cmd("FETCH 4:5 BINARY.SIZE[1]")
    assert t.startswith(b"NO [UNKNOWN-CTE]"), t
    assert u == [b"* 4 FETCH (BINARY.SIZE[1] %d)\r\n" % len(EIGHT_BODY)]


def test_message_rfc822_parts(site):
    c = examine(site)
    hdr = INNER[:INNER.index(b"\r\n\r\n") + 4]
    cases = [
        ("2", INNER[:-2]),
        ("2.HEADER", hdr),
        ("2.TEXT", b"Inner body."),
        ("2.1", b"Inner body."),
        ("2.MIME", b"Content-Type: message/rfc822\r\n\r\n"),
        ("2.HEADER.FIELDS (SUBJECT)", b"Subject: inner\r\n\r\n"),
        ("2.HEADER.FIELDS.NOT (SUBJECT)",
         b"From: Carol <carol@remote.example>\r\n\r\n"),
        ("1", b"See attached."),
        ("1.MIME", b"Content-Type: text/plain\r\n\r\n"),
    ]
    for sec, want in cases:
        assert c.fetch(f"FETCH 3 BODY.PEEK[{sec}]") == [
            b"* 3 FETCH (BODY[" + sec.encode() + b"] " + lit(want) +
            b")\r\n"], sec


def test_nonexistent_sections(site):
    c = examine(site)
    # no such part: NIL; HEADER of a part that is no message: NIL
    for sec in ("9", "2.4", "1.HEADER", "3.1.TEXT", "1.1", "2.2"):
        assert c.fetch(f"FETCH 3 BODY.PEEK[{sec}]") == [
            b"* 3 FETCH (BODY[" + sec.encode() + b"] NIL)\r\n"], sec
    # a single-part message has a part 1, and no part 2
    assert c.fetch("FETCH 1 (BODY.PEEK[1] BODY.PEEK[2])") == [
        b"* 1 FETCH (BODY[1] " + lit(b"Hello there.\r\nSecond line.\r\n") +
        b" BODY[2] NIL)\r\n"]
    assert c.fetch("FETCH 1 BODY.PEEK[1.MIME]") == [
        b"* 1 FETCH (BODY[1.MIME] " + lit(header_of(1, site)) + b")\r\n"]
    # origin past the end: an empty string
    assert c.fetch("FETCH 1 BODY.PEEK[TEXT]<1000.10>") == [
        b'* 1 FETCH (BODY[TEXT]<1000> "")\r\n']


def test_eight_bit(site):
    c = examine(site)
    assert c.fetch("FETCH 4 BODY.PEEK[TEXT]") == [
        b"* 4 FETCH (BODY[TEXT] " + lit(EIGHT_BODY) + b")\r\n"]
    assert c.fetch("FETCH 4 BODYSTRUCTURE") == [
        b'* 4 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL '
        b'NIL "8bit" %d 1 NIL NIL NIL NIL))\r\n' % len(EIGHT_BODY)]


# ---- ENVELOPE, BODYSTRUCTURE, BODY, macros ----

ENV1 = (b'("Mon, 1 Jan 2024 10:00:00 +0000" "simple one" '
        b'(("Alice Example" NIL "alice" "remote.example")) '
        b'(("Alice Example" NIL "alice" "remote.example")) '
        b'(("Alice Example" NIL "alice" "remote.example")) '
        b'((NIL NIL "fetch" "f.test")) NIL NIL NIL '
        b'"<simple@remote.example>")')
BS1 = (b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 28 2 '
       b'NIL NIL NIL NIL)')
BODY1 = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 28 2)'
BS2 = (b'(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 14 1 '
       b'NIL NIL NIL NIL)'
       b'("application" "octet-stream" ("name" "data.bin") NIL NIL '
       b'"base64" %d NIL ("attachment" ("filename" "data.bin")) NIL NIL)'
       b'("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" '
       b'17 2 NIL NIL NIL NIL) '
       b'"mixed" ("boundary" "XYZ") NIL NIL NIL)' % (len(B64) - 2))
BODY2 = (b'(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 14 1)'
         b'("application" "octet-stream" ("name" "data.bin") NIL NIL '
         b'"base64" %d)'
         b'("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" '
         b'17 2) "mixed")' % (len(B64) - 2))


def test_envelope_bodystructure(site):
    c = examine(site)
    assert c.fetch("FETCH 1 (ENVELOPE BODYSTRUCTURE BODY)") == [
        b"* 1 FETCH (ENVELOPE " + ENV1 + b" BODYSTRUCTURE " + BS1 +
        b" BODY " + BODY1 + b")\r\n"]
    assert c.fetch("FETCH 2 (BODYSTRUCTURE BODY)") == [
        b"* 2 FETCH (BODYSTRUCTURE " + BS2 + b" BODY " + BODY2 + b")\r\n"]
    [r] = c.fetch("FETCH 3 BODYSTRUCTURE")
    assert (b'("message" "rfc822" NIL NIL NIL "7bit" %d (NIL "inner" '
            b'(("Carol" NIL "carol" "remote.example"))' % (len(INNER) - 2)
            ) in r, r


def test_uncached_envelope_bodystructure(site):
    """Without deliver's cache imapd computes the same strings."""
    c = examine(site)
    before = c.fetch("FETCH 1:5 (ENVELOPE BODYSTRUCTURE)")
    site.psql("update messages set envelope = NULL, bodystructure = NULL "
              "where mailbox_id = (select x.id from mailboxes x join users "
              "u on u.id = x.user_id where u.localpart = 'fetch' and "
              "x.name = 'INBOX')")
    assert c.fetch("FETCH 1:5 (ENVELOPE BODYSTRUCTURE)") == before
    assert before[0] == (b"* 1 FETCH (ENVELOPE " + ENV1 + b" BODYSTRUCTURE "
                         + BS1 + b")\r\n")


def test_macros(site):
    c = examine(site)
    size = stored(site, "fetch")[0][3]
    [fast] = c.fetch("FETCH 1 FAST")
    assert re.fullmatch(rb'\* 1 FETCH \(FLAGS \(\) INTERNALDATE "[^"]+" '
                        rb'RFC822.SIZE %d\)\r\n' % size, fast), fast
    [all_] = c.fetch("FETCH 1 ALL")
    assert all_ == fast[:-3] + b" ENVELOPE " + ENV1 + b")\r\n"
    [full] = c.fetch("FETCH 1 FULL")
    assert full == all_[:-3] + b" BODY " + BODY1 + b")\r\n"
    # macros stand alone, not in a list
    u, t = c.cmd("FETCH 1 (ALL)")
    assert t.startswith(b"BAD"), t


@pytest.mark.parametrize("args", [
    "99 FLAGS", "0 FLAGS", "1:99 FLAGS", "x FLAGS", "1", "1 FOO",
    "1 ()", "1 (FLAGS FOO)", "1 BODY[", "1 BODY[HEADER.FIELDS]",
    "1 BODY[HEADER.FIELDS ()]", "1 BODY[MIME]", "1 BODY[1.]",
    "1 BODY[0]", "1 BODY[TEXT]<1>", "1 BODY[TEXT]<0.0>", "1 BODY[TEXT]x",
    "1 BINARY[TEXT]", "1 BINARY.SIZE[1]<0.1>", "1 BODY[HEADER.FIELDS (A:B)]",
    "1 BODY[01]", "1 FLAGS FLAGS", "1 RFC822.FOO",
])
def test_bad_fetch(site, args):
    c = examine(site)
    u, t = c.cmd("FETCH " + args)
    assert t.startswith(b"BAD"), (args, t)
    assert not any(b"FETCH (" in r for r in u), u
    c.ok("NOOP")


def test_empty_mailbox_and_star(site):
    c = Imap(site.ports["imap"]).login("fetch")
    c.ok("EXAMINE Drafts")
    u, t = c.cmd("FETCH 1:* FLAGS")
    assert t.startswith(b"BAD"), t
    assert c.fetch("UID FETCH 1:* FLAGS") == []


def test_imaplib(site):
    m = imaplib.IMAP4("127.0.0.1", site.ports["imap"], timeout=T)
    try:
        m.login(f"fetch@{DOMAIN}", "pw")
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("2", "(UID BODY.PEEK[1] BINARY.PEEK[2])")
        assert typ == "OK", data
        assert data[0][1] == b"Part one text."
        assert data[1][1] == ATTACH
        typ, data = m.uid("FETCH", "1:*", "(RFC822.SIZE)")
        assert typ == "OK" and len(data) == 5, data
    finally:
        m.logout()


def test_tls(site):
    m = imaplib.IMAP4_SSL("127.0.0.1", site.ports["imaps"],
                          ssl_context=ssl._create_unverified_context(),
                          timeout=T)
    try:
        m.login(f"fetch@{DOMAIN}", "pw")
        m.select("INBOX", readonly=True)
        typ, data = m.fetch("3", "(BODY.PEEK[2.TEXT] BODY.PEEK[])")
        assert typ == "OK", data
        assert data[0][1] == b"Inner body."
        assert data[1][1].endswith(OUTER)
    finally:
        m.logout()


# ---- \Seen ----


def test_many_items_pipelined(site):
    """Several sections in one answer; pipelined commands in order."""
    c = examine(site)
    c.send("p1 FETCH 2 (UID BODY.PEEK[1] BINARY.SIZE[2] BODY.PEEK[2.MIME] "
           "BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)\r\n"
           "p2 UID FETCH 3 (BODY.PEEK[2.TEXT] FLAGS)\r\np3 NOOP\r\n")
    size = stored(site, "fetch")[1][3]
    assert c.response() == (
        b"* 2 FETCH (UID 2 BODY[1] " + lit(b"Part one text.") +
        b" BINARY.SIZE[2] 1024 BODY[2.MIME] " + lit(MIME2) +
        b" BODY[HEADER.FIELDS (SUBJECT)] " + lit(b"Subject: multi\r\n\r\n")
        + b" RFC822.SIZE %d)\r\n" % size)
    assert c.line() == b"p1 OK FETCH completed\r\n"
    assert c.response() == (b"* 3 FETCH (UID 3 BODY[2.TEXT] " +
                            lit(b"Inner body.") + b" FLAGS ())\r\n")
    assert c.line() == b"p2 OK UID FETCH completed\r\n"
    assert c.line() == b"p3 OK NOOP completed\r\n"


def flags_of(c, seq):
    [r] = c.fetch(f"FETCH {seq} FLAGS")
    return r


def test_seen(site):
    c = select(site, "seen")
    [r] = c.fetch("FETCH 1 BODY.PEEK[]")
    assert b"FLAGS" not in r[-40:]
    assert flags_of(c, 1) == b"* 1 FETCH (FLAGS ())\r\n"
    # BODY[] sets \Seen and says so in the same answer
    [r] = c.fetch("FETCH 1 BODY[]")
    assert r.endswith(b" FLAGS (\\Seen))\r\n"), r[-60:]
    # once seen, no FLAGS again; no unsolicited FETCH after the command
    u = c.ok("FETCH 1 BODY[TEXT]")
    assert u == [b"* 1 FETCH (BODY[TEXT] " +
                 lit(b"Hello there.\r\nSecond line.\r\n") + b")\r\n"], u
    # RFC822.TEXT and RFC822 set it too, RFC822.HEADER does not
    [r] = c.fetch("FETCH 2 RFC822.HEADER")
    assert b"FLAGS" not in r
    [r] = c.fetch("FETCH 2 (FLAGS RFC822.TEXT)")
    assert r.startswith(b"* 2 FETCH (FLAGS (\\Seen) RFC822.TEXT "), r[:60]
    [r] = c.fetch("FETCH 3 RFC822")
    assert r.endswith(b" FLAGS (\\Seen))\r\n"), r[-60:]
    # BINARY[] sets it (RFC 3516), BINARY.PEEK does not
    c.fetch("FETCH 4 BINARY.PEEK[1]")
    assert flags_of(c, 4) == b"* 4 FETCH (FLAGS ())\r\n"
    [r] = c.fetch("UID FETCH 4 BINARY[1]")
    assert r.startswith(b"* 4 FETCH (UID 4 BINARY[1] ")
    assert r.endswith(b" FLAGS (\\Seen))\r\n"), r
    # a read-only mailbox stays as it is
    e = examine(site, "seen")
    [r] = e.fetch("FETCH 5 BODY[]")
    assert b"FLAGS" not in r[-40:]
    assert flags_of(e, 5) == b"* 5 FETCH (FLAGS ())\r\n"
    # the other session learns about the change
    u = e.ok("NOOP")
    assert u == [], u
    c.fetch("FETCH 5 BODY[1]")
    u = e.ok("NOOP")
    assert u == [b"* 5 FETCH (UID 5 FLAGS (\\Seen))\r\n"], u


# ---- STORE ----


def test_store(site):
    c = select(site, "store")
    assert c.fetch("STORE 1 +FLAGS (\\Flagged)") == [
        b"* 1 FETCH (FLAGS (\\Flagged))\r\n"]
    assert c.fetch("STORE 1:2 +FLAGS \\Seen \\Answered") == [
        b"* 1 FETCH (FLAGS (\\Answered \\Flagged \\Seen))\r\n",
        b"* 2 FETCH (FLAGS (\\Answered \\Seen))\r\n"]
    assert c.fetch("STORE 1 -FLAGS (\\Seen \\Flagged)") == [
        b"* 1 FETCH (FLAGS (\\Answered))\r\n"]
    assert c.fetch("STORE 1 FLAGS (\\Draft \\Deleted)") == [
        b"* 1 FETCH (FLAGS (\\Deleted \\Draft))\r\n"]
    # nothing changes: still answered
    assert c.fetch("STORE 1 +FLAGS \\Draft") == [
        b"* 1 FETCH (FLAGS (\\Deleted \\Draft))\r\n"]
    assert c.ok("STORE 1:2 FLAGS.SILENT ()") == []
    assert c.fetch("FETCH 1:2 FLAGS") == [
        b"* 1 FETCH (FLAGS ())\r\n", b"* 2 FETCH (FLAGS ())\r\n"]
    assert c.ok("STORE 2 +FLAGS.SILENT (\\Seen)") == []
    assert c.ok("STORE 2 -FLAGS.SILENT (\\Seen)") == []
    assert flags_of(c, 2) == b"* 2 FETCH (FLAGS ())\r\n"


def test_store_keywords(site):
    c = select(site, "store")
    c.ok("STORE 3 FLAGS ()")
    assert c.fetch("STORE 3 +FLAGS (work $Label1 \\Seen)") == [
        b"* 3 FETCH (FLAGS (\\Seen work $Label1))\r\n"]
    # case-insensitive: no duplicate, the first spelling stays
    assert c.fetch("STORE 3 +FLAGS (WORK Later later)") == [
        b"* 3 FETCH (FLAGS (\\Seen work $Label1 Later))\r\n"]
    assert c.fetch("STORE 3 -FLAGS ($label1 none)") == [
        b"* 3 FETCH (FLAGS (\\Seen work Later))\r\n"]
    assert c.fetch("STORE 3 FLAGS (Only)") == [
        b"* 3 FETCH (FLAGS (Only))\r\n"]
    assert c.fetch("STORE 3 FLAGS ()") == [b"* 3 FETCH (FLAGS ())\r\n"]


def test_uid_store(site):
    c = select(site, "store")
    assert c.fetch("UID STORE 4:5 FLAGS (\\Flagged)") == [
        b"* 4 FETCH (UID 4 FLAGS (\\Flagged))\r\n",
        b"* 5 FETCH (UID 5 FLAGS (\\Flagged))\r\n"]
    assert c.fetch("UID STORE 5,9 -FLAGS (\\Flagged)") == [
        b"* 5 FETCH (UID 5 FLAGS ())\r\n"]
    assert c.fetch("UID STORE 10:20 +FLAGS (\\Flagged)") == []
    assert c.ok("UID STORE * FLAGS.SILENT ()") == []


@pytest.mark.parametrize("args", [
    "1 +FLAGS (\\Recent)", "1 +FLAGS (\\Bogus)", "1 FLAGS", "1 XFLAGS (a)",
    "1 +FLAGS.LOUD (a)", "99 +FLAGS (a)", "1 +FLAGS (a) (b)",
    "1 +FLAGS (a\"b)", "1 (UNCHANGEDSINCE x) +FLAGS (a)", "1 +FLAGS ((a))",
])
def test_bad_store(site, args):
    c = select(site, "store")
    u, t = c.cmd("STORE " + args)
    assert t.startswith(b"BAD"), (args, t)
    assert u == [], u


def test_store_read_only(site):
    c = examine(site, "store")
    u, t = c.cmd("STORE 1 +FLAGS (\\Seen)")
    assert t.startswith(b"NO [READ-ONLY]"), t
    u, t = c.cmd("UID STORE 1 +FLAGS (\\Seen)")
    assert t.startswith(b"NO [READ-ONLY]"), t


def test_other_session_sees_store(site):
    a = select(site, "note")
    b = select(site, "note")
    a.fetch("STORE 2 +FLAGS (\\Flagged seen-by-b)")
    assert b.ok("NOOP") == [
        b"* 2 FETCH (UID 2 FLAGS (\\Flagged seen-by-b))\r\n"]
    assert b.ok("NOOP") == []
    # the storing session is not told again
    assert a.ok("NOOP") == []
    # IDLE sees it too (the STORE's NOTIFY wakes it)
    b.send("i1 IDLE\r\n")
    assert b.line() == b"+ idling\r\n"
    a.ok("STORE 2 -FLAGS.SILENT (\\Flagged)")
    assert b.response() == b"* 2 FETCH (UID 2 FLAGS (seen-by-b))\r\n"
    b.send("DONE\r\n")
    assert b.line() == b"i1 OK IDLE terminated\r\n"


def test_expunged_meanwhile(site):
    """A message another session expunged gets no answer, no EXPUNGE."""
    a = select(site, "gone")
    b = select(site, "gone")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    u, t = a.cmd("FETCH 1:3 (UID FLAGS)")
    assert t.startswith(b"OK"), t
    assert u[:2] == [b"* 1 FETCH (UID 1 FLAGS ())\r\n",
                     b"* 3 FETCH (UID 3 FLAGS ())\r\n"], u
    assert not any(b"EXPUNGE" in r for r in u), u
    u, t = a.cmd("STORE 2:3 +FLAGS (\\Seen)")
    assert u[:1] == [b"* 3 FETCH (FLAGS (\\Seen))\r\n"], u
    assert not any(b"EXPUNGE" in r for r in u), u
    # UID FETCH may report it
    u = a.ok("UID FETCH 1 UID")
    assert b"* 2 EXPUNGE\r\n" in u, u


def add_row(inst, user, name, data, prefix=b""):
    """A message of user's INBOX on blob name (data None: no file)."""
    if data is not None:
        d = os.path.join(inst.dir, "state", "blobs", name[:2])
        os.makedirs(d, mode=0o755, exist_ok=True)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(d, name), 0o644)
    size = len(prefix) + len(data or b"x" * 10)
    inst.psql(f"""
        with mb as (update mailboxes x set uidnext = uidnext + 1,
            highestmodseq = highestmodseq + 1
          from users u where u.id = x.user_id and u.localpart = '{user}'
          and x.name = 'INBOX'
          returning x.id, x.uidnext - 1 as uid, x.highestmodseq),
        b as (insert into blobs (name, size, refcount)
          values ('{name}', {size - len(prefix)}, 1) returning id)
        insert into messages (mailbox_id, uid, modseq, size, blob_id, prefix)
          select mb.id, mb.uid, mb.highestmodseq, {size}, b.id,
            decode('{prefix.hex()}', 'hex') from mb, b""")


def test_missing_blob(site):
    add_row(site, "odd", "missingblob000000001", None)
    c = select(site, "odd")
    u, t = c.cmd("FETCH 5:6 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert t.startswith(b"NO [SERVERBUG]"), t
    assert u == [b"* 5 FETCH (UID 5 BODY[HEADER.FIELDS (SUBJECT)] " +
                 lit(b"Subject: uue\r\n\r\n") + b")\r\n"], u
    # what needs no blob still works (6 is new: \Recent, RFC 3501 2.3.2)
    assert c.fetch("FETCH 6 (FLAGS RFC822.SIZE)") == [
        b"* 6 FETCH (FLAGS (\\Recent) RFC822.SIZE 10)\r\n"]
    # ENVELOPE not cached: it would need the blob
    u, t = c.cmd("FETCH 6 ENVELOPE")
    assert t.startswith(b"NO [SERVERBUG]") and u == [], (u, t)
    # \Seen is set by the batch's statement before the blob is read:
    # the change is then reported as any other, the view stays right
    u, t = c.cmd("FETCH 6 BODY[]")
    assert t.startswith(b"NO [SERVERBUG]"), t
    assert u == [b"* 6 FETCH (UID 6 FLAGS (\\Seen \\Recent))\r\n"], u


def test_nul_octets(site):
    """NUL cannot be in a literal (RFC 9051 9 CHAR8): BODY[] sends 0x80,
    BINARY[] sends them as they are, in a literal8."""
    body = b"a\x00b\x00\r\n"
    data = (b"Subject: nul\r\nContent-Type: text/plain\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + body)
    prefix = b"Delivered-To: odd@f.test\r\n"
    add_row(site, "odd", "nulnulnul00000000001", data, prefix)
    c = examine(site, "odd")
    uid = 7
    [r] = c.fetch(f"FETCH {uid} (BODY.PEEK[] BODY.PEEK[TEXT])")
    assert r == (b"* 7 FETCH (BODY[] " +
                 lit((prefix + data).replace(b"\x00", b"\x80")) +
                 b" BODY[TEXT] " + lit(b"a\x80b\x80\r\n") + b")\r\n")
    [r] = c.fetch(f"FETCH {uid} (BINARY.PEEK[1] BINARY.SIZE[1] "
                  "BINARY.PEEK[1]<1.3>)")
    assert r == (b"* 7 FETCH (BINARY[1] ~{6}\r\n" + body +
                 b" BINARY.SIZE[1] 6 BINARY[1]<1> ~{3}\r\n\x00b\x00)\r\n")
    [r] = c.fetch(f"FETCH {uid} BODYSTRUCTURE")
    assert r == (b'* 7 FETCH (BODYSTRUCTURE ("text" "plain" ("charset" '
                 b'"us-ascii") NIL NIL "binary" 6 1 NIL NIL NIL NIL))\r\n')


# ---- size and volume ----


def test_big_message(site):
    c = examine(site, "big")
    (_, prefix, blob, size) = stored(site, "big")[0]
    assert blob.endswith(BIG) and size == len(prefix) + len(blob)
    t0 = time.monotonic()
    [r] = c.fetch("FETCH 1 (RFC822.SIZE BODY.PEEK[])")
    assert r == (b"* 1 FETCH (RFC822.SIZE %d BODY[] " % size +
                 lit(prefix + blob) + b")\r\n")
    assert time.monotonic() - t0 < 20
    [r] = c.fetch("FETCH 1 BODY.PEEK[TEXT]<4000000.100>")
    body = BIG[BIG.index(b"\r\n\r\n") + 4:]
    assert r == (b"* 1 FETCH (BODY[TEXT]<4000000> " +
                 lit(body[4000000:4000100]) + b")\r\n")


def test_big_message_tls(site):
    c = Imap(site.ports["imaps"], tls=True).login("big")
    c.ok("EXAMINE INBOX")
    (_, prefix, blob, size) = stored(site, "big")[0]
    [r] = c.fetch("FETCH 1 (BODY.PEEK[] BODY.PEEK[TEXT]<100.20>)")
    body = BIG[BIG.index(b"\r\n\r\n") + 4:]
    assert r == (b"* 1 FETCH (BODY[] " + lit(prefix + blob) +
                 b" BODY[TEXT]<100> " + lit(body[100:120]) + b")\r\n")


def test_big_message_client_goes(site):
    """A client that leaves in the middle of a big answer harms nobody."""
    for _ in range(3):
        c = examine(site, "big")
        c.send("x FETCH 1 BODY.PEEK[]\r\n")
        c.read(100000)
        c.close()
    c = examine(site, "big")
    assert c.fetch("FETCH 1 RFC822.SIZE")
    # a client that reads slowly still gets all of it
    c.send("y FETCH 1 BODY.PEEK[]\r\n")
    time.sleep(1)
    r = c.response()
    assert len(r) > 5 * 1000 * 1000
    assert c.line() == b"y OK FETCH completed\r\n"
    assert "killed by signal" not in site.read_log()


def test_many_messages(site):
    c = select(site, "many")
    t0 = time.monotonic()
    r = c.fetch("FETCH 1:* FLAGS")
    assert r == [b"* %d FETCH (FLAGS ())\r\n" % i for i in range(1, 2001)]
    r = c.fetch("UID FETCH 1:* (UID RFC822.SIZE ENVELOPE)")
    assert len(r) == 2000 and r[1999].startswith(b"* 2000 FETCH (UID 2000 ")
    assert c.ok("STORE 1:* +FLAGS.SILENT (\\Seen)") == []
    r = c.fetch("FETCH 1:* FLAGS")
    assert r == [b"* %d FETCH (FLAGS (\\Seen))\r\n" % i
                 for i in range(1, 2001)]
    r = c.fetch("STORE 1:* -FLAGS (\\Seen)")
    assert len(r) == 2000
    r = c.fetch("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    assert len(r) == 2000 and r[0].endswith(
        lit(b"Subject: simple one\r\n\r\n") + b")\r\n")
    assert time.monotonic() - t0 < 60


def fetched_uids(c, cmd):
    """The UIDs a FETCH of (UID) answered, in order; unsolicited FETCH
    responses (flag updates the session's sync adds) left out."""
    return [int(m.group(1)) for r in c.fetch(cmd)
            for m in [re.fullmatch(rb"\* \d+ FETCH \(UID (\d+)\)\r\n", r)]
            if m]


def test_fetch_runs_and_sets(site):
    """A run of the view is read as a UID range, another set UID by UID:
    both answer exactly the set, also around a message another session
    expunged and one that arrived after the view was taken."""
    a = examine(site, "many")
    assert fetched_uids(a, "FETCH 1,3,5 (UID)") == [1, 3, 5]
    assert fetched_uids(a, "FETCH 2:4,10 (UID)") == [2, 3, 4, 10]
    assert fetched_uids(a, "UID FETCH 1998:* (UID)") == [1998, 1999, 2000]
    b = select(site, "many")
    b.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    add_many(site, "many", 1)
    # a's view still has UID 3 (its EXPUNGE waits: RFC 9051 7.5.1) and
    # learns of 2001 at the end of this FETCH.
    assert fetched_uids(a, "FETCH 1:5 (UID)") == [1, 2, 4, 5]
    assert fetched_uids(a, "FETCH 1:* (UID)") == [
        u for u in range(1, 2002) if u != 3]
    assert fetched_uids(a, "FETCH 2:4 (UID)") == [2, 4]
    b.ok("NOOP")
    assert fetched_uids(b, "FETCH 1:* (UID)")[-3:] == [1999, 2000, 2001]
    assert fetched_uids(b, "FETCH 1:4 (UID)") == [1, 2, 4, 5]
