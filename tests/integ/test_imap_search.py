"""imapd SEARCH and UID SEARCH (RFC 3501 / RFC 9051 6.4.4, RFC 4731
ESEARCH): every search key against messages delivered through SMTP, with
flags, keywords and INTERNALDATEs set in the database."""
import base64
import imaplib
import re
import socket
import ssl
import time

import pytest

from conftest import Instance, wait_for

EXTRA = """
imap_plaintext_loopback = yes
argon2_memory_cost = 64k
argon2_time_cost = 1
"""
T = 15


# ---- clients ----

class Raw:
    """An IMAP connection on a socket: exact response lines."""

    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=T)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s)
        self.s = s
        self.buf = b""
        self.n = 0
        assert self.line().startswith(b"* OK")

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, text):
        """(untagged lines, tagged line) of one command."""
        self.n += 1
        tag = b"t%d" % self.n
        data = text if isinstance(text, bytes) else text.encode()
        self.send(tag + b" " + data + b"\r\n")
        return self.until(tag)

    def until(self, tag):
        lines = []
        while True:
            ln = self.line()
            if ln.startswith(tag + b" "):
                return lines, ln
            lines.append(ln)

    def login(self, user, mailbox="INBOX"):
        _, t = self.cmd(f"LOGIN {user} pw")
        assert b" OK " in t, t
        if mailbox:
            _, t = self.cmd(f"SELECT {mailbox}")
            assert b" OK " in t, t
        return self

    def close(self):
        self.s.close()


def search_line(lines, word=b"SEARCH"):
    """The numbers of the one '* SEARCH' line among lines."""
    found = [ln for ln in lines if ln.startswith(b"* " + word)]
    assert len(found) == 1, lines
    return [int(x) for x in found[0].split()[2:]]


# ---- the instance ----

def smtp_send(port, rcpt, msg):
    s = socket.create_connection(("127.0.0.1", port), timeout=T)
    f = s.makefile("rb")

    def reply():
        while True:
            ln = f.readline()
            if ln[3:4] != b"-":
                return ln

    def cmd(line, code):
        s.sendall(line + b"\r\n")
        r = reply()
        assert r.startswith(code), (line, r)

    assert reply().startswith(b"220")
    cmd(b"EHLO client.test", b"250")
    cmd(b"MAIL FROM:<sender@remote.example>", b"250")
    cmd(b"RCPT TO:<" + rcpt.encode() + b">", b"250")
    cmd(b"DATA", b"354")
    body = re.sub(rb"(?m)^\.", b"..", msg)
    s.sendall(body + b".\r\n")
    assert reply().startswith(b"250")
    cmd(b"QUIT", b"221")
    s.close()


def count(inst, user):
    return int(inst.psql(
        "select count(*) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX'"))


def deliver(inst, user, msg):
    n = count(inst, user)
    smtp_send(inst.ports["smtp"], f"{user}@s.test", msg)
    wait_for(lambda: count(inst, user) == n + 1, 30, "delivery")


def mailbox_id(inst, user):
    return int(inst.psql(
        "select x.id from mailboxes x join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX'"))


def b64(text):
    return base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")


BIG = b"".join(b"line %05d of a long message body\r\n" % i
               for i in range(1500))

MESSAGES = [
    # 1
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: Bob <bob@s.test>\r\n"
    b"Subject: Hello world\r\n"
    b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
    b"\r\n"
    b"plain text body one\r\n",
    # 2: encoded subject; Date late on the 15th west of UTC
    b"From: \"Bob Builder\" <bob@example.net>\r\n"
    b"To: alice@s.test\r\n"
    b"Cc: Carol <carol@example.com>\r\n"
    b"Subject: =?UTF-8?B?w5xiZXJncsO2w59lIGFuZCBtb3Jl?=\r\n"
    b"Date: Thu, 15 Feb 2024 23:30:00 -0800\r\n"
    b"\r\n"
    b"second message\r\n",
    # 3: base64 body
    b"From: carol@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: Base64 test\r\n"
    b"Date: 1 Mar 2024 00:00:00 +0100\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + b64("The secret word is pineapple. Caf\u00e9 cr\u00e8me.\n"),
    # 4: quoted-printable latin-1 body
    b"From: dave@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: QP test\r\n"
    b"Date: Sun, 10 Mar 2024 08:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe aus M=FCnchen, soft=\r\nbreak word\r\n",
    # 5: multipart: the text part is searched, the binary one is not
    b"From: erin@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: With attachment\r\n"
    b"Date: Mon, 1 Apr 2024 09:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--XYZ\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"see the attached note\r\n"
    b"--XYZ\r\n"
    b"Content-Type: application/octet-stream; name=\"z.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + b64("zebra stripes") +
    b"--XYZ--\r\n",
    # 6: large
    b"From: frank@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: Big one\r\n"
    b"Date: Mon, 1 Apr 2024 18:00:00 +0000\r\n"
    b"\r\n" + BIG,
    # 7: Bcc
    b"From: grace@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Bcc: hidden@example.org\r\n"
    b"Subject: Secret meeting\r\n"
    b"Date: Fri, 31 May 2024 12:00:00 +0000\r\n"
    b"\r\n"
    b"meet me at noon\r\n",
    # 8: two-digit year (RFC 5322 4.3)
    b"From: heidi@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: Old style date\r\n"
    b"Date: Fri, 5 Mar 99 12:00:00 +0000\r\n"
    b"\r\n"
    b"from the last century\r\n",
    # 9: no Date:, a folded header, a custom field
    b"From: ivan@example.com\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: a folded\r\n subject line\r\n"
    b"X-Custom: Foo-Bar-Baz\r\n"
    b"\r\n"
    b"no date here\r\n",
    # 10: encoded latin-1 subject, encoded display name
    b"From: =?UTF-8?Q?J=C3=BCrgen?= <jurgen@example.de>\r\n"
    b"To: alice@s.test\r\n"
    b"Subject: =?ISO-8859-1?Q?caf=E9_au_lait?=\r\n"
    b"Date: Tue, 31 Dec 2024 23:59:59 +1400\r\n"
    b"\r\n"
    b"last one\r\n",
]

N = len(MESSAGES)
FLAGS = {1: 1, 2: 3, 3: 4, 4: 8, 5: 16, 6: 5}      # uid: messages.flags
KEYWORDS = {1: "{$Work}", 3: "{$Work,Urgent}", 7: "{Urgent}"}


@pytest.fixture(scope="module")
def site():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", "s.test", check=True)
        for u in ("alice", "bulk", "eve", "gone", "huge", "lots"):
            inst.wharf("user", "add", f"{u}@s.test", input="pw\n",
                       check=True)
        for m in MESSAGES:
            deliver(inst, "alice", m)
        mb = mailbox_id(inst, "alice")
        for uid, f in FLAGS.items():
            inst.psql(f"update messages set flags = {f} where "
                      f"mailbox_id = {mb} and uid = {uid}")
        for uid, k in KEYWORDS.items():
            inst.psql(f"update messages set keywords = '{k}' where "
                      f"mailbox_id = {mb} and uid = {uid}")
        # INTERNALDATE of uid n: 2024-03-0n (2024-03-10), noon UTC
        inst.psql("update messages set internaldate = make_timestamptz("
                  "2024, 3, uid::int, 12, 0, 0, 'UTC') where "
                  f"mailbox_id = {mb}")
        yield inst
    finally:
        inst.cleanup()


@pytest.fixture
def imap(site):
    c = Raw(site.ports["imap"]).login("alice@s.test")
    yield c
    c.close()


def literals(text):
    """Quoted strings with non-ASCII characters as LITERAL+ literals (a
    quoted string is 7-bit without UTF8=ACCEPT)."""
    def lit(m):
        b = m.group(1).encode()
        return b"{%d+}\r\n" % len(b) + b
    out = b""
    pos = 0
    for m in re.finditer(r'"([^"]*[^\x00-\x7f][^"]*)"', text):
        out += text[pos:m.start()].encode() + lit(m)
        pos = m.end()
    return out + text[pos:].encode()


def search(c, criteria, uid=False):
    lines, t = c.cmd(literals(("UID SEARCH " if uid else "SEARCH ") +
                              criteria))
    assert b" OK " in t, (criteria, lines, t)
    return search_line(lines)


def sizes(site):
    out = site.psql("select uid, size from messages where mailbox_id = "
                    f"{mailbox_id(site, 'alice')} order by uid")
    return {int(a): int(b) for a, b in
            (ln.split("|") for ln in out.splitlines())}


# ---- flags, keywords, sizes, dates ----

@pytest.mark.parametrize("key,want", [
    ("ALL", list(range(1, N + 1))),
    ("SEEN", [1, 2, 6]),
    ("UNSEEN", [3, 4, 5, 7, 8, 9, 10]),
    ("ANSWERED", [2]),
    ("UNANSWERED", [1, 3, 4, 5, 6, 7, 8, 9, 10]),
    ("FLAGGED", [3, 6]),
    ("UNFLAGGED", [1, 2, 4, 5, 7, 8, 9, 10]),
    ("DELETED", [4]),
    ("UNDELETED", [1, 2, 3, 5, 6, 7, 8, 9, 10]),
    ("DRAFT", [5]),
    ("UNDRAFT", [1, 2, 3, 4, 6, 7, 8, 9, 10]),
    ("RECENT", []),
    ("NEW", []),
    ("OLD", list(range(1, N + 1))),
    ("seen flagged", [6]),
    ("KEYWORD $Work", [1, 3]),
    ("KEYWORD $work", [1, 3]),
    ("KEYWORD Urgent", [3, 7]),
    ("KEYWORD nosuch", []),
    ("UNKEYWORD Urgent", [1, 2, 4, 5, 6, 8, 9, 10]),
    ("BEFORE 3-Mar-2024", [1, 2]),
    ("ON 3-Mar-2024", [3]),
    ("ON \"03-Mar-2024\"", [3]),
    ("SINCE 8-mar-2024", [8, 9, 10]),
    ("SINCE 1-Jan-2025", []),
    ("BEFORE 1-Jan-2000", []),
    ("SENTBEFORE 1-Jan-2024", [8]),
    ("SENTON 15-Feb-2024", [2]),
    ("SENTON 1-Apr-2024", [5, 6]),
    ("SENTSINCE 1-Apr-2024", [5, 6, 7, 10]),
    ("SENTSINCE 31-Dec-2024", [10]),
    ("SENTON 5-Mar-1999", [8]),
    ("NOT SENTBEFORE 1-Jan-2030", [9]),
])
def test_simple_keys(imap, key, want):
    assert search(imap, key) == want


def test_sizes(site, imap):
    sz = sizes(site)
    big = max(sz.values())
    assert search(imap, f"LARGER {big - 1}") == [6]
    assert search(imap, f"LARGER {big}") == []
    assert search(imap, f"SMALLER {big}") == [u for u in sz if u != 6]
    small = min(sz.values())
    assert search(imap, f"SMALLER {small}") == []
    assert search(imap, f"SMALLER {small + 1}") == \
        [u for u in sz if sz[u] == small]
    assert search(imap, "LARGER 0") == list(range(1, N + 1))
    assert search(imap, "SMALLER 0") == []


# ---- header fields, body, text ----

@pytest.mark.parametrize("key,want", [
    ("FROM alice", [1]),
    ("FROM ALICE@EXAMPLE.ORG", [1]),
    ("FROM \"Bob Builder\"", [2]),
    ("FROM example.com", [3, 4, 5, 6, 7, 8, 9]),
    ("FROM \"j\u00fcrgen\"", [10]),
    ("TO bob", [1]),
    ("TO alice@s.test", [2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ("CC carol", [2]),
    ("CC nobody", []),
    ("BCC hidden", [7]),
    ("SUBJECT hello", [1]),
    ("SUBJECT \"\u00fcbergr\u00f6\u00dfe\"", [2]),
    ("SUBJECT \"\u00dcBERGR\u00d6\u00dfE AND\"", [2]),
    ("SUBJECT \"caf\u00e9 au\"", [10]),
    ("SUBJECT \"folded subject\"", [9]),
    ("SUBJECT \"a folded subject line\"", [9]),
    ("SUBJECT test", [3, 4]),
    ("SUBJECT \"\"", list(range(1, N + 1))),
    ("HEADER X-Custom bar-baz", [9]),
    ("HEADER x-custom \"\"", [9]),
    ("HEADER Bcc \"\"", [7]),
    ("HEADER Content-Type multipart", [5]),
    ("HEADER Return-Path sender@remote.example", list(range(1, N + 1))),
    ("HEADER Date 1999", []),
    ("HEADER Date \" 99 \"", [8]),
    ("HEADER X-Nothing \"\"", []),
    ("BODY pineapple", [3]),
    ("BODY \"caf\u00e9 cr\u00e8me\"", [3]),
    ("BODY \"CAF\u00c9\"", [3]),
    ("BODY \"gr\u00fc\u00dfe aus m\u00fcnchen\"", [4]),
    ("BODY softbreak", [4]),
    ("BODY \"attached note\"", [5]),
    ("BODY zebra", []),
    ("BODY preamble", []),
    ("BODY \"line 01499\"", [6]),
    ("BODY hello", []),
    ("BODY \"\"", list(range(1, N + 1))),
    ("TEXT hello", [1]),
    ("TEXT pineapple", [3]),
    ("TEXT \"x-custom: foo\"", [9]),
    ("TEXT octet-stream", [5]),
    ("TEXT zebra", []),
    ("TEXT \"delivered-to\"", list(range(1, N + 1))),
])
def test_text_keys(imap, key, want):
    assert search(imap, "CHARSET UTF-8 " + key) == want


def test_literals_and_charset(site, imap):
    word = "\u00dcbergr\u00f6\u00dfe".encode()
    imap.send(b"L1 SEARCH CHARSET UTF-8 SUBJECT {%d}\r\n" % len(word))
    assert imap.line().startswith(b"+ ")
    imap.send(word + b"\r\n")
    lines, t = imap.until(b"L1")
    assert t.startswith(b"L1 OK"), t
    assert search_line(lines) == [2]
    # LITERAL+ and a literal as the header field name
    imap.send(b"L2 SEARCH HEADER {8+}\r\nX-Custom {3+}\r\nfoo\r\n")
    lines, t = imap.until(b"L2")
    assert t.startswith(b"L2 OK") and search_line(lines) == [9]
    # US-ASCII is accepted too, in any case
    assert search(imap, "CHARSET us-ascii SUBJECT hello") == [1]
    lines, t = imap.cmd("SEARCH CHARSET ISO-8859-1 SUBJECT hello")
    assert t.endswith(b"NO [BADCHARSET (UTF-8 US-ASCII)] "
                      b"Unsupported charset"), t
    assert lines == []
    lines, t = imap.cmd("SEARCH CHARSET KOI8-R ALL")
    assert b" NO [BADCHARSET (UTF-8 US-ASCII)]" in t


def test_imaplib(site):
    m = imaplib.IMAP4("127.0.0.1", site.ports["imap"], timeout=T)
    try:
        m.login("alice@s.test", "pw")
        m.select("INBOX")
        assert m.search(None, "FLAGGED") == ("OK", [b"3 6"])
        assert m.uid("SEARCH", "FLAGGED") == ("OK", [b"3 6"])
        m.literal = "m\u00fcnchen".encode()
        typ, data = m.search("UTF-8", "BODY")
        assert (typ, data) == ("OK", [b"4"])
        assert m.search(None, "SUBJECT", "nothing-like-this") == \
            ("OK", [b""])
    finally:
        m.logout()


# ---- NOT, OR, parentheses, sets ----

@pytest.mark.parametrize("key,want", [
    ("NOT SEEN", [3, 4, 5, 7, 8, 9, 10]),
    ("NOT NOT SEEN", [1, 2, 6]),
    ("OR SEEN FLAGGED", [1, 2, 3, 6]),
    ("OR DELETED DRAFT", [4, 5]),
    ("OR (SEEN FLAGGED) DRAFT", [5, 6]),
    ("(SEEN) (NOT ANSWERED)", [1, 6]),
    ("((((SEEN))))", [1, 2, 6]),
    ("NOT (SEEN FLAGGED)", [1, 2, 3, 4, 5, 7, 8, 9, 10]),
    ("OR OR SEEN DELETED DRAFT", [1, 2, 4, 5, 6]),
    ("SEEN SUBJECT hello", [1]),
    ("UNSEEN SUBJECT hello", []),
    ("NOT SUBJECT test", [1, 2, 5, 6, 7, 8, 9, 10]),
    ("OR SUBJECT hello BODY pineapple", [1, 3]),
    ("OR SUBJECT hello FLAGGED", [1, 3, 6]),
    ("NOT OR BODY pineapple SEEN", [4, 5, 7, 8, 9, 10]),
    ("FLAGGED NOT BODY pineapple", [6]),
    ("(FROM example.com BODY note) OR SEEN DRAFT", [5]),
    ("OR (SENTBEFORE 1-Jan-2024) (KEYWORD Urgent SUBJECT secret)", [7, 8]),
    ("NOT OR UID 1:3 TEXT noon", [4, 5, 6, 8, 9, 10]),
    ("1:3", [1, 2, 3]),
    ("2,4,6:7", [2, 4, 6, 7]),
    ("*", [N]),
    ("8:*", [8, 9, 10]),
    ("*:8", [8, 9, 10]),
    ("5:100", [5, 6, 7, 8, 9, 10]),
    ("20:30", []),
    ("UID 1:3", [1, 2, 3]),
    ("UID 9:*", [9, 10]),
    ("UID 100:*", [10]),
    ("UID 11:20", []),
    ("NOT UID 2:9", [1, 10]),
    ("1:5 SEEN", [1, 2]),
    ("OR 1 10 BODY one", [1, 10]),
    ("OR 2 9 BODY one", []),
    ("NOT 1:9", [10]),
])
def test_combinations(imap, key, want):
    assert search(imap, key) == want


def test_uid_search(site, imap):
    assert search(imap, "SEEN", uid=True) == [1, 2, 6]
    assert search(imap, "1:2", uid=True) == [1, 2]
    assert search(imap, "UID 2:3", uid=True) == [2, 3]
    assert search(imap, "BODY pineapple", uid=True) == [3]
    # a mailbox where sequence numbers are not UIDs: 2, 4, 5 left
    for i in range(5):
        deliver(site, "eve", b"Subject: eve %d\r\n\r\nbody %d\r\n"
                % (i, i))
    emb = mailbox_id(site, "eve")
    site.psql("with d as (delete from messages where mailbox_id = "
              f"{emb} and uid in (1, 3) returning blob_id) "
              "update blobs b set refcount = refcount - 1 from d "
              "where b.id = d.blob_id")
    c = Raw(site.ports["imap"]).login("eve@s.test")
    try:
        assert search(c, "ALL") == [1, 2, 3]
        assert search(c, "ALL", uid=True) == [2, 4, 5]
        assert search(c, "2:*") == [2, 3]
        assert search(c, "2:*", uid=True) == [4, 5]
        assert search(c, "UID 4:*") == [2, 3]
        assert search(c, "UID 3", uid=True) == []
        assert search(c, "UID *", uid=True) == [5]
        assert search(c, "SUBJECT \"eve 3\"") == [2]
        assert search(c, "SUBJECT \"eve 3\"", uid=True) == [4]
        assert search(c, "NOT 1") == [2, 3]
        assert search(c, "NOT 1", uid=True) == [4, 5]
    finally:
        c.close()


# ---- errors ----

@pytest.mark.parametrize("args", [
    "",
    "FOO",
    "SEEN FOO",
    "SUBJECT",
    "HEADER X-Custom",
    "HEADER",
    "KEYWORD",
    "KEYWORD \"quoted\"",
    "LARGER",
    "LARGER abc",
    "LARGER -1",
    "LARGER 99999999999999999999",
    "BEFORE",
    "BEFORE 2024-01-01",
    "BEFORE 32-Jan-2024",
    "BEFORE 29-Feb-2023",
    "ON 1-Foo-2024",
    "SINCE 1-Jan-24",
    "SENTON \"1 Jan 2024\"",
    "NOT",
    "OR SEEN",
    "OR",
    "()",
    "(SEEN",
    "UID",
    "UID abc",
    "UID 0",
    "0",
    "1:0",
    "1,,2",
    "CHARSET",
    "CHARSET UTF-8",
    "RETURN",
    "RETURN MIN ALL",
    "RETURN (FOO) ALL",
    "CHARSET UTF-8 RETURN (MIN) ALL",
    "NIL",
    "\"SEEN\"",
    "SUBJECT (a)",
    "NOT " * 70 + "SEEN",
    "SUBJECT x " * 60 + "(BODY y " * 30 + "TEXT z" + ")" * 30 +
    " FROM a" * 10,          # 101 keys that read the message
])
def test_syntax_errors(imap, args):
    lines, t = imap.cmd("SEARCH " + args)
    assert re.match(rb"t\d+ BAD ", t), (args, t)
    assert lines == []
    lines, t = imap.cmd("UID SEARCH " + args)
    assert re.match(rb"t\d+ BAD ", t), (args, t)


def test_invalid_utf8(imap):
    imap.send(b"U1 SEARCH CHARSET UTF-8 BODY {2}\r\n")
    assert imap.line().startswith(b"+ ")
    imap.send(b"\xc3\x28\r\n")
    lines, t = imap.until(b"U1")
    assert t.startswith(b"U1 BAD"), t


def test_not_selected(site):
    c = Raw(site.ports["imap"]).login("alice@s.test", mailbox=None)
    try:
        _, t = c.cmd("SEARCH ALL")
        assert b" BAD " in t
    finally:
        c.close()
    c = Raw(site.ports["imap"])
    try:
        _, t = c.cmd("SEARCH ALL")
        assert b" BAD " in t
    finally:
        c.close()


def test_limits_allowed(imap):
    assert search(imap, "SUBJECT hello " * 100) == [1]
    assert search(imap, "NOT " * 60 + "SEEN") == [1, 2, 6]
    assert search(imap, "(" * 30 + "SEEN" + ")" * 30) == [1, 2, 6]


# ---- ESEARCH (RFC 4731) ----

def esearch(c, text):
    lines, t = c.cmd(text)
    assert b" OK " in t, (text, lines, t)
    found = [ln for ln in lines if ln.startswith(b"* ESEARCH")]
    assert len(found) == 1, lines
    return found[0].decode()


def test_esearch(imap):
    n = imap.n + 1
    assert esearch(imap, "SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN") == \
        f'* ESEARCH (TAG "t{n}") MIN 3 MAX 10 COUNT 7 ALL 3:5,7:10'
    n = imap.n + 1
    assert esearch(imap, "UID SEARCH RETURN (COUNT) SEEN") == \
        f'* ESEARCH (TAG "t{n}") UID COUNT 3'
    n = imap.n + 1
    assert esearch(imap, "SEARCH RETURN () FLAGGED") == \
        f'* ESEARCH (TAG "t{n}") ALL 3,6'
    n = imap.n + 1
    assert esearch(imap, "SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD no") == \
        f'* ESEARCH (TAG "t{n}") COUNT 0'
    n = imap.n + 1
    assert esearch(imap, "SEARCH RETURN (MIN) BODY nothing-at-all") == \
        f'* ESEARCH (TAG "t{n}")'
    n = imap.n + 1
    assert esearch(imap, "UID SEARCH RETURN (MAX MIN) CHARSET UTF-8 "
                   "BODY pineapple") == f'* ESEARCH (TAG "t{n}") UID ' \
        "MIN 3 MAX 3"


def test_capability(site):
    c = Raw(site.ports["imap"])
    try:
        lines, _ = c.cmd("CAPABILITY")
        assert b"ESEARCH" not in lines[0]
        c.login("alice@s.test", mailbox=None)
        lines, _ = c.cmd("CAPABILITY")
        caps = lines[0].split()
        assert b"ESEARCH" in caps and b"SEARCHRES" in caps
    finally:
        c.close()


# ---- the view: new and expunged messages ----

def test_view_and_expunge(site):
    """A message delivered after SELECT is not in the result (EXISTS
    follows); one expunged by another session stays in SEARCH's
    numbering (no EXPUNGE during SEARCH) and is reported by UID SEARCH's
    sync (RFC 9051 7.5.1)."""
    for i in range(3):
        deliver(site, "gone", b"Subject: gone %d\r\n\r\nx\r\n" % i)
    a = Raw(site.ports["imap"]).login("gone@s.test")
    b = Raw(site.ports["imap"]).login("gone@s.test")
    try:
        deliver(site, "gone", b"Subject: gone 3\r\n\r\nnew\r\n")
        lines, t = a.cmd("SEARCH ALL")
        # RFC 3501 7.3.2: RECENT comes with the new mail
        assert lines == [b"* SEARCH 1 2 3", b"* 4 EXISTS", b"* 4 RECENT"], \
            lines
        mb = mailbox_id(site, "gone")
        site.psql(f"update messages set flags = 8 where mailbox_id = {mb} "
                  "and uid = 2")
        _, t = b.cmd("EXPUNGE")
        assert b" OK " in t
        lines, t = a.cmd("SEARCH SUBJECT gone")
        assert lines[0] == b"* SEARCH 1 3 4", lines
        assert not any(b"EXPUNGE" in ln for ln in lines), lines
        lines, t = a.cmd("UID SEARCH SUBJECT gone")
        assert lines[0] == b"* SEARCH 1 3 4", lines
        assert b"* 2 EXPUNGE" in lines, lines
        lines, t = a.cmd("SEARCH SUBJECT gone")
        assert lines == [b"* SEARCH 1 2 3"], lines
    finally:
        a.close()
        b.close()


# ---- many messages ----

BULK = 2000


@pytest.fixture(scope="module")
def bulk(site):
    deliver(site, "bulk", b"From: bulk@example.com\r\nSubject: bulk\r\n"
            b"\r\nthe same body in every one\r\n")
    mb = mailbox_id(site, "bulk")
    site.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, flags, keywords, "
        "  size, blob_id, prefix, internaldate) "
        "select m.mailbox_id, g, x.highestmodseq, "
        "  (case when g % 3 = 0 then 1 else 0 end) | "
        "  (case when g % 7 = 0 then 4 else 0 end), "
        "  case when g % 11 = 0 then '{Bulk}'::text[] else '{}' end, "
        "  m.size + g, m.blob_id, m.prefix, m.internaldate "
        f"from messages m, mailboxes x, generate_series(2, {BULK}) g "
        f"where m.mailbox_id = {mb} and m.uid = 1 and x.id = {mb}; "
        f"update mailboxes set uidnext = {BULK + 1} where id = {mb}; "
        f"update blobs set refcount = refcount + {BULK - 1} where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit")
    return site


def test_many_messages(bulk):
    c = Raw(bulk.ports["imap"]).login("bulk@s.test")
    try:
        uids = range(1, BULK + 1)
        t0 = time.monotonic()
        assert search(c, "SEEN") == [u for u in uids if u % 3 == 0]
        assert search(c, "FLAGGED UNSEEN") == \
            [u for u in uids if u % 7 == 0 and u % 3]
        assert search(c, "OR KEYWORD bulk 1:5") == \
            [u for u in uids if u % 11 == 0 or u <= 5]
        assert search(c, "ALL") == list(uids)
        assert search(c, "LARGER 0", uid=True) == list(uids)
        n = c.n + 1
        assert esearch(c, "SEARCH RETURN (COUNT MIN MAX) NOT SEEN") == \
            f'* ESEARCH (TAG "t{n}") MIN 1 MAX {BULK} COUNT ' \
            f'{len([u for u in uids if u % 3])}'
        # every message read (one blob shared by all)
        assert search(c, "BODY \"same body\" SEEN") == \
            [u for u in uids if u % 3 == 0]
        assert search(c, "NOT TEXT bulk@example.com") == []
        assert search(c, "OR BODY nothing FLAGGED") == \
            [u for u in uids if u % 7 == 0]
        assert time.monotonic() - t0 < 60
    finally:
        c.close()


HUGE = 40


def test_large_messages(site):
    """40 messages of 1.2 MB: a batch stops reading after 32 MB and the
    next query goes on after the last message read; header keys read
    only the header."""
    body = b"".join(b"%07d filler filler filler filler filler\r\n" % i
                    for i in range(30000))
    deliver(site, "huge", b"From: big@example.com\r\nSubject: huge\r\n"
            b"\r\n" + body + b"needle at the end\r\n")
    mb = mailbox_id(site, "huge")
    site.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, flags, size, "
        "  blob_id, prefix) "
        "select m.mailbox_id, g, m.modseq, g % 2, m.size, m.blob_id, "
        "  m.prefix "
        f"from messages m, generate_series(2, {HUGE}) g "
        f"where m.mailbox_id = {mb} and m.uid = 1; "
        f"update mailboxes set uidnext = {HUGE + 1} where id = {mb}; "
        f"update blobs set refcount = refcount + {HUGE - 1} where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit")
    c = Raw(site.ports["imap"]).login("huge@s.test")
    try:
        every = list(range(1, HUGE + 1))
        assert search(c, "BODY \"needle at the END\"") == every
        assert search(c, "TEXT needle UNSEEN") == \
            [u for u in every if u == 1 or u % 2 == 0]
        assert search(c, "NOT BODY needle") == []
        assert search(c, "SUBJECT huge") == every
        assert search(c, "OR SEEN HEADER subject huge", uid=True) == every
        assert search(c, "LARGER 1000000") == every
    finally:
        c.close()


LOTS = 100000


def test_long_response(site):
    """100,000 messages: the response (about 600 kB) is written as the
    slow client reads it (IO_LOWAT), and the session stays usable."""
    deliver(site, "lots", b"Subject: lots\r\n\r\nx\r\n")
    mb = mailbox_id(site, "lots")
    site.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, flags, size, "
        "  blob_id) "
        "select m.mailbox_id, g, m.modseq, g % 2, m.size, m.blob_id "
        f"from messages m, generate_series(2, {LOTS}) g "
        f"where m.mailbox_id = {mb} and m.uid = 1; "
        f"update mailboxes set uidnext = {LOTS + 1} where id = {mb}; "
        f"update blobs set refcount = refcount + {LOTS - 1} where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit")
    c = Raw.__new__(Raw)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(60)
    s.connect(("127.0.0.1", site.ports["imap"]))
    c.s, c.buf, c.n = s, b"", 0
    assert c.line().startswith(b"* OK")
    c.login("lots@s.test")
    try:
        t0 = time.monotonic()
        c.send(b"a1 SEARCH ALL\r\na2 UID SEARCH RETURN (ALL COUNT) SEEN\r\n"
               b"a3 SEARCH RETURN (MAX) 99999:*\r\n")
        time.sleep(2)   # the server fills the socket and waits
        lines, t = c.until(b"a1")
        assert t == b"a1 OK SEARCH completed"
        assert search_line(lines) == list(range(1, LOTS + 1))
        lines, t = c.until(b"a2")
        assert t.startswith(b"a2 OK")
        seen = range(3, LOTS + 1, 2)    # uid 1 was delivered unseen
        assert lines == [b'* ESEARCH (TAG "a2") UID COUNT %d ALL ' % len(
            seen) + b",".join(b"%d" % u for u in seen)], lines[0][:80]
        lines, t = c.until(b"a3")
        assert lines == [b'* ESEARCH (TAG "a3") MAX %d' % LOTS]
        assert time.monotonic() - t0 < 60
    finally:
        c.close()


def test_disconnect_during_search(bulk):
    """The session goes while its query is out: nothing breaks."""
    for _ in range(3):
        c = Raw(bulk.ports["imap"]).login("bulk@s.test")
        c.send(b"x1 SEARCH TEXT \"the same\"\r\nx2 SEARCH ALL\r\n")
        c.close()
    c = Raw(bulk.ports["imap"]).login("bulk@s.test")
    try:
        assert len(search(c, "BODY body")) == BULK
    finally:
        c.close()


def test_pipelined(imap):
    imap.send(b"p1 SEARCH SEEN\r\np2 UID SEARCH FLAGGED\r\n"
              b"p3 SEARCH BODY pineapple\r\n")
    l1, t1 = imap.until(b"p1")
    l2, t2 = imap.until(b"p2")
    l3, t3 = imap.until(b"p3")
    assert search_line(l1) == [1, 2, 6]
    assert search_line(l2) == [3, 6]
    assert search_line(l3) == [3]


def test_over_tls(site):
    c = Raw(site.ports["imaps"], tls=True).login("alice@s.test")
    try:
        assert search(c, "CHARSET UTF-8 BODY pineapple") == [3]
        assert search(c, "OR SEEN DRAFT", uid=True) == [1, 2, 5, 6]
    finally:
        c.close()
