"""imapd: IMAP4rev2 (RFC 9051) as advertised, and SEARCHRES (RFC 5182).

CAPABILITY offers IMAP4rev1 and IMAP4rev2 (the client picks); a session
is rev1's until ENABLE IMAP4rev2.  The SEARCHRES rules are checked one by
one on exact response lines: RETURN (SAVE), "$" in every command that
takes a sequence set, what empties the saved result and what does not.
Then each rev2 response form after ENABLE IMAP4rev2, the response codes
of the NO paths, and a rev1 session that sees rev1's forms.  Mail comes
in through SMTP; each test has its own user; one instance serves the
module.
"""
import imaplib
import re
import smtplib
import socket
import ssl

import pytest

from conftest import Instance, wait_for

T = 20
DOMAIN = "r.test"
EXTRA = """
imap_plaintext_loopback = yes
argon2_memory_cost = 64k
argon2_time_cost = 1
"""
USERS = ("caps", "save", "minmax", "store", "copy", "expg", "empty",
         "fail", "inner", "forms", "codes", "seen", "rev1", "lib", "app8",
         "status", "pending")

OPEN = []


class Imap:
    """One IMAP connection; responses as text lines (literals inline)."""

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
        assert self.greeting.startswith("* OK"), self.greeting

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out.decode("utf-8", "replace")
            d = self.sock.recv(1 << 20)
            if not d:
                raise EOFError(f"closed; unparsed {bytes(self.buf)!r}")
            self.buf += d

    def tag(self):
        self.n += 1
        return f"t{self.n}"

    def wait(self, tag):
        untagged = []
        while True:
            r = self.line()
            if r.startswith(tag + " "):
                return untagged, r[len(tag) + 1:]
            untagged.append(r)

    def cmd(self, text):
        """(untagged lines, the tagged line without its tag)"""
        tag = self.tag()
        self.send(f"{tag} {text}\r\n")
        return self.wait(tag)

    def ok(self, text):
        u, t = self.cmd(text)
        assert t.startswith("OK"), (text, t, u[-3:])
        return u

    def no(self, text):
        u, t = self.cmd(text)
        assert t.startswith("NO"), (text, t, u[-3:])
        return t

    def bad(self, text):
        u, t = self.cmd(text)
        assert t.startswith("BAD"), (text, t, u[-3:])
        return u

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


def session(inst, user, rev2=False):
    c = Imap(inst.ports["imap"]).login(user)
    if rev2:
        assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    return c


def count(inst, user, box="INBOX"):
    return int(inst.psql(
        "select count(*) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = '{box}'") or 0)


def deliver(inst, user, n=1):
    """n messages through SMTP ("m 0", "m 1", ...); wait for them."""
    before = count(inst, user)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T) as s:
        s.ehlo("client.test")
        for i in range(n):
            s.sendmail("x@remote.example", [f"{user}@{DOMAIN}"],
                       f"From: x@remote.example\r\nSubject: m {i}\r\n"
                       f"\r\nbody {i}\r\n".encode())
    wait_for(lambda: count(inst, user) >= before + n, 30, "delivery")


@pytest.fixture(scope="module")
def site():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", DOMAIN, check=True)
        for u in USERS:
            inst.wharf("user", "add", f"{u}@{DOMAIN}", input="pw\n",
                       check=True)

        def smtp_probe():
            try:
                with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                                  timeout=3) as s:
                    s.ehlo("client.test")
                    s.mail("x@remote.example")
                    return s.rcpt(f"caps@{DOMAIN}")[0] == 250
            except (OSError, smtplib.SMTPException):
                return False

        def imap_probe():
            try:
                c = Imap(inst.ports["imap"])
                _, t = c.cmd(f"LOGIN caps@{DOMAIN} pw")
                c.close()
                OPEN.remove(c)
                return t.startswith("OK")
            except (OSError, EOFError):
                return False
        wait_for(smtp_probe, 60, "smtpd ready")
        wait_for(imap_probe, 60, "imapd ready")
        yield inst
    finally:
        inst.cleanup()


def uids(lines):
    """The UIDs of "* n FETCH (UID u)" lines, as (seq, uid) pairs."""
    out = []
    for ln in lines:
        m = re.match(r"\* (\d+) FETCH \(UID (\d+)\)$", ln)
        assert m, ln
        out.append((int(m.group(1)), int(m.group(2))))
    return out


# ---- CAPABILITY ----

REV2_CAPS = ("IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ENABLE",
             "IDLE", "NAMESPACE", "UNSELECT")
REV2_CAPS_AUTH = ("SEARCHRES", "ESEARCH", "BINARY", "UIDPLUS", "MOVE",
                  "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE",
                  "STATUS=SIZE", "CHILDREN")


def test_capability_lists_imap4rev2(site):
    c = Imap(site.ports["imap"])
    caps = re.match(r"\* OK \[CAPABILITY ([^\]]*)\]", c.greeting).group(1)
    assert caps.split()[:2] == ["IMAP4rev1", "IMAP4rev2"]
    [line] = c.ok("CAPABILITY")
    caps = line.split()[2:]
    for cap in REV2_CAPS + ("AUTH=PLAIN",):
        assert cap in caps, cap
    assert "SEARCHRES" not in caps          # after login
    _, t = c.cmd(f"LOGIN caps@{DOMAIN} pw")
    caps = re.match(r"OK \[CAPABILITY ([^\]]*)\] Logged in", t).group(1)
    for cap in REV2_CAPS + REV2_CAPS_AUTH:
        assert cap in caps.split(), cap
    [line] = c.ok("CAPABILITY")
    assert line == "* CAPABILITY " + caps
    assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED"]   # on already


# ---- SEARCHRES (RFC 5182) ----

def test_save_and_use_everywhere(site):
    deliver(site, "save", 5)
    c = session(site, "save")
    c.ok("SELECT INBOX")
    # RETURN (SAVE) alone: no SEARCH, no ESEARCH (RFC 5182 2.1)
    assert c.cmd("SEARCH RETURN (SAVE) 2:4") == ([], "OK SEARCH completed")
    assert uids(c.ok("FETCH $ (UID)")) == [(2, 2), (3, 3), (4, 4)]
    assert uids(c.ok("UID FETCH $ (UID)")) == [(2, 2), (3, 3), (4, 4)]
    n = c.n + 1
    assert c.ok("SEARCH $") == ["* SEARCH 2 3 4"]
    assert c.ok("SEARCH NOT $") == ["* SEARCH 1 5"]
    assert c.ok("UID SEARCH UID $") == ["* SEARCH 2 3 4"]
    assert c.ok("SEARCH RETURN (COUNT) $") == [
        '* ESEARCH (TAG "t%d") COUNT 3' % (n + 3)]
    # UID SEARCH saves UIDs too: "$" is the same messages either way
    assert c.cmd("UID SEARCH RETURN (SAVE) UID 4:5") == (
        [], "OK UID SEARCH completed")
    assert uids(c.ok("FETCH $ (UID)")) == [(4, 4), (5, 5)]
    # with other options: the ESEARCH as without SAVE
    n = c.n + 1
    assert c.ok("SEARCH RETURN (SAVE ALL) 1,3") == [
        '* ESEARCH (TAG "t%d") ALL 1,3' % n]
    assert uids(c.ok("FETCH $ (UID)")) == [(1, 1), (3, 3)]
    # the saved result is used by the search that replaces it
    assert c.cmd("SEARCH RETURN (SAVE) NOT $") == ([], "OK SEARCH completed")
    assert c.ok("SEARCH $") == ["* SEARCH 2 4 5"]
    # "$" only as the whole set (RFC 5182 3 seq-last-command)
    c.bad("FETCH 1,$ (UID)")
    c.bad("FETCH $:3 (UID)")
    c.bad("SEARCH $,1")


def test_save_min_max(site):
    deliver(site, "minmax", 5)
    c = session(site, "minmax")
    c.ok("SELECT INBOX")
    n = c.n + 1
    assert c.ok("SEARCH RETURN (SAVE MIN) 2:4") == [
        '* ESEARCH (TAG "t%d") MIN 2' % n]
    assert uids(c.ok("FETCH $ (UID)")) == [(2, 2)]
    n = c.n + 1
    assert c.ok("SEARCH RETURN (MAX SAVE) 2:4") == [
        '* ESEARCH (TAG "t%d") MAX 4' % n]
    assert uids(c.ok("FETCH $ (UID)")) == [(4, 4)]
    n = c.n + 1
    assert c.ok("SEARCH RETURN (SAVE MIN MAX) 2:4") == [
        '* ESEARCH (TAG "t%d") MIN 2 MAX 4' % n]
    assert uids(c.ok("FETCH $ (UID)")) == [(2, 2), (4, 4)]
    n = c.n + 1
    assert c.ok("SEARCH RETURN (SAVE MIN MAX) 3") == [
        '* ESEARCH (TAG "t%d") MIN 3 MAX 3' % n]
    assert uids(c.ok("FETCH $ (UID)")) == [(3, 3)]
    # with COUNT (or ALL) every match is saved
    n = c.n + 1
    assert c.ok("SEARCH RETURN (SAVE MIN COUNT) 2:4") == [
        '* ESEARCH (TAG "t%d") MIN 2 COUNT 3' % n]
    assert uids(c.ok("FETCH $ (UID)")) == [(2, 2), (3, 3), (4, 4)]
    # nothing found: "$" is empty
    n = c.n + 1
    assert c.ok("SEARCH RETURN (SAVE MIN) 2:4 DELETED") == [
        '* ESEARCH (TAG "t%d")' % n]
    assert c.ok("FETCH $ (UID)") == []


def test_store_copy_move_with_saved(site):
    deliver(site, "store", 4)
    c = session(site, "store", rev2=True)     # no \\Recent in FLAGS
    c.ok("SELECT INBOX")
    c.ok("SEARCH RETURN (SAVE) 2,4")
    assert c.ok("STORE $ +FLAGS (\\Flagged)") == [
        "* 2 FETCH (FLAGS (\\Flagged))", "* 4 FETCH (FLAGS (\\Flagged))"]
    assert c.ok("UID STORE $ +FLAGS ($Two)") == [
        "* 2 FETCH (UID 2 FLAGS (\\Flagged $Two))",
        "* 4 FETCH (UID 4 FLAGS (\\Flagged $Two))"]
    n = c.n + 1
    assert c.ok("SEARCH FLAGGED") == ['* ESEARCH (TAG "t%d") ALL 2,4' % n]
    c.ok("CREATE Kept")
    _, t = c.cmd("COPY $ Kept")
    assert re.match(r"OK \[COPYUID \d+ 2,4 1:2\] COPY completed", t), t
    _, t = c.cmd("UID COPY $ Kept")
    assert re.match(r"OK \[COPYUID \d+ 2,4 3:4\] COPY completed", t), t
    assert count(site, "store", "Kept") == 4
    u, t = c.cmd("MOVE $ Trash")
    assert re.match(r"\* OK \[COPYUID \d+ 2,4 1:2\] Moved", u[0]), u
    assert u[1:] == ["* 4 EXPUNGE", "* 2 EXPUNGE"]
    assert t == "OK MOVE completed"
    # the moved messages left the saved result
    assert c.ok("FETCH $ (UID)") == []
    assert c.ok("UID MOVE $ Trash") == []
    assert uids(c.ok("FETCH 1:* (UID)")) == [(1, 1), (2, 3)]


def test_expunge_and_expunged_messages(site):
    deliver(site, "expg", 5)
    c = session(site, "expg")
    c.ok("SELECT INBOX")
    c.ok("SEARCH RETURN (SAVE) 2:4")
    c.ok("STORE 1:5 +FLAGS.SILENT (\\Deleted)")
    # UID EXPUNGE $ (RFC 4315 with RFC 5182): only those
    assert c.ok("UID EXPUNGE $") == ["* 2 EXPUNGE"] * 3
    assert uids(c.ok("FETCH 1:* (UID)")) == [(1, 1), (2, 5)]
    assert c.ok("FETCH $ (UID)") == []
    # an EXPUNGE from another session: the message leaves "$" once the
    # session knows of it, and sequence numbers follow
    deliver(site, "expg", 3)                 # UIDs 6 7 8
    c.ok("NOOP")
    c.ok("STORE 1:* -FLAGS.SILENT (\\Deleted)")
    c.ok("SEARCH RETURN (SAVE) 2:*")         # UIDs 5 6 7 8
    d = session(site, "expg")
    d.ok("SELECT INBOX")
    d.ok("UID STORE 6 +FLAGS.SILENT (\\Deleted)")
    d.ok("UID EXPUNGE 6")
    u = c.ok("NOOP")
    assert "* 3 EXPUNGE" in u, u
    assert uids(c.ok("FETCH $ (UID)")) == [(2, 5), (3, 7), (4, 8)]
    n = c.n + 1
    assert c.ok("UID SEARCH RETURN (ALL) $") == [
        '* ESEARCH (TAG "t%d") UID ALL 5,7:8' % n]


def test_emptied_by_select_close_unselect(site):
    deliver(site, "empty", 3)
    c = session(site, "empty")
    # before any SAVE, "$" is the empty set
    c.ok("SELECT INBOX")
    assert c.ok("FETCH $ (UID)") == []
    assert c.ok("SEARCH $") == ["* SEARCH"]
    assert c.ok("STORE $ +FLAGS (\\Seen)") == []
    assert c.ok("UID EXPUNGE $") == []
    _, t = c.cmd("COPY $ Trash")
    assert t == "OK COPY completed", t
    for leave in ("SELECT INBOX", "EXAMINE INBOX", "UNSELECT", "CLOSE"):
        c.ok("SEARCH RETURN (SAVE) ALL")
        assert len(c.ok("FETCH $ (UID)")) == 3
        c.ok(leave)
        if leave in ("UNSELECT", "CLOSE"):
            c.ok("SELECT INBOX")
        assert c.ok("FETCH $ (UID)") == [], leave
    # a failed SELECT leaves none selected, and a new one starts empty
    c.ok("SEARCH RETURN (SAVE) ALL")
    assert c.no("SELECT Nowhere").startswith("NO [NONEXISTENT]")
    c.bad("FETCH $ (UID)")                   # not selected
    c.ok("SELECT INBOX")
    assert c.ok("FETCH $ (UID)") == []
    # a later SAVE replaces it
    c.ok("SEARCH RETURN (SAVE) 1")
    c.ok("SEARCH RETURN (SAVE) 3")
    assert uids(c.ok("FETCH $ (UID)")) == [(3, 3)]


def test_failed_search_with_save_empties(site):
    deliver(site, "fail", 3)
    c = session(site, "fail")
    c.ok("SELECT INBOX")
    cases = [
        ("SEARCH RETURN (SAVE) FROBNICATE", "BAD"),
        ("SEARCH RETURN (FOO SAVE) ALL", "BAD"),
        ("SEARCH RETURN (SAVE) CHARSET KOI8-R ALL",
         "NO [BADCHARSET (UTF-8 US-ASCII)]"),
        ("UID SEARCH RETURN (SAVE) UID", "BAD"),
    ]
    for text, status in cases:
        c.ok("SEARCH RETURN (SAVE) 1:2")
        assert len(c.ok("FETCH $ (UID)")) == 2
        u, t = c.cmd(text)
        assert u == [] and t.startswith(status), (text, t)
        assert c.ok("FETCH $ (UID)") == [], text
    # a failed search without SAVE leaves it alone
    c.ok("SEARCH RETURN (SAVE) 1:2")
    c.bad("SEARCH FROBNICATE")
    c.cmd("SEARCH CHARSET KOI8-R ALL")
    assert uids(c.ok("FETCH $ (UID)")) == [(1, 1), (2, 2)]


def test_saved_result_with_text_keys_and_pipelining(site):
    deliver(site, "inner", 4)
    c = session(site, "inner")
    c.ok("SELECT INBOX")
    # a key that reads the message, and the commands pipelined after it
    c.send("a1 SEARCH RETURN (SAVE) OR SUBJECT \"m 1\" BODY \"body 3\"\r\n"
           "a2 FETCH $ (UID)\r\na3 SEARCH $ SUBJECT m\r\n")
    assert c.wait("a1") == ([], "OK SEARCH completed")
    assert uids(c.wait("a2")[0]) == [(2, 2), (4, 4)]
    assert c.wait("a3")[0] == ["* SEARCH 2 4"]


# ---- IMAP4rev2 response forms ----

def test_rev2_select_status_list_forms(site):
    deliver(site, "forms", 3)
    c = session(site, "forms", rev2=True)
    u = c.ok("SELECT INBOX")
    assert u[:2] == [
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
        "\\Draft \\*)] Flags permitted"]
    assert u[2] == "* 3 EXISTS"
    assert not any("RECENT" in x or "UNSEEN" in x for x in u), u
    assert u[-1] == '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX'
    # SEARCH answers with ESEARCH only (RFC 9051 7.3.4)
    n = c.n + 1
    assert c.ok("SEARCH ALL") == ['* ESEARCH (TAG "t%d") ALL 1:3' % n]
    n = c.n + 1
    assert c.ok("UID SEARCH DELETED") == ['* ESEARCH (TAG "t%d") UID' % n]
    assert c.cmd("SEARCH RETURN (SAVE) 2") == ([], "OK SEARCH completed")
    assert uids(c.ok("FETCH $ (UID)")) == [(2, 2)]
    c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    # STATUS DELETED and SIZE (RFC 9051 6.3.11)
    size = int(site.psql(
        "select sum(m.size) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        "where u.localpart = 'forms' and x.name = 'INBOX'"))
    u = c.ok("STATUS INBOX (MESSAGES DELETED SIZE UNSEEN)")
    assert u == ['* STATUS "INBOX" (MESSAGES 3 DELETED 1 SIZE %d UNSEEN 3)'
                 % size]
    # [CLOSED] when SELECT leaves a selected mailbox
    u = c.ok("EXAMINE INBOX")
    assert u[0] == "* OK [CLOSED] Previous mailbox closed"
    # LIST with \Subscribed, selection SUBSCRIBED and REMOTE, LIST-STATUS
    c.bad("CREATE Projekte/Entwürfe")          # 8-bit: only quoted
    c.ok('CREATE "Projekte/Entwürfe"')
    c.ok("UNSUBSCRIBE Projekte")
    u = c.ok('LIST "" "Projekte*" RETURN (SUBSCRIBED)')
    assert u == ['* LIST (\\HasChildren) "/" "Projekte"',
                 '* LIST (\\HasNoChildren \\Subscribed) "/" '
                 '"Projekte/Entwürfe"']
    u = c.ok('LIST (SUBSCRIBED REMOTE) "" "Projekte*"')
    assert u == ['* LIST (\\HasNoChildren \\Subscribed) "/" '
                 '"Projekte/Entwürfe"']
    u = c.ok('LIST (REMOTE) "" "%" RETURN (STATUS (MESSAGES DELETED))')
    i = u.index('* LIST (\\HasNoChildren) "/" "INBOX"')
    assert u[i + 1] == '* STATUS "INBOX" (MESSAGES 3 DELETED 1)'
    assert '* LIST (\\HasNoChildren \\Trash) "/" "Trash"' in u
    assert c.ok('LIST "" ""') == ['* LIST (\\Noselect) "/" ""']


def test_rev2_no_response_codes(site):
    c = session(site, "codes", rev2=True)
    c.ok("CREATE Here")
    c.ok("CREATE There")
    cases = [
        ("CREATE Here", "NO [ALREADYEXISTS]"),
        ("CREATE INBOX", "NO [ALREADYEXISTS]"),
        ("CREATE inbox", "NO [ALREADYEXISTS]"),
        ("RENAME Nowhere Else", "NO [NONEXISTENT]"),
        ("RENAME Here There", "NO [ALREADYEXISTS]"),
        ("RENAME Here INBOX", "NO [ALREADYEXISTS]"),
        ("RENAME Here Here", "NO [ALREADYEXISTS]"),
        ("DELETE Nowhere", "NO [NONEXISTENT]"),
        ("SELECT Nowhere", "NO [NONEXISTENT]"),
        ("EXAMINE Nowhere", "NO [NONEXISTENT]"),
        ("STATUS Nowhere (MESSAGES)", "NO [NONEXISTENT]"),
        ("UNSUBSCRIBE Nowhere", "NO [NONEXISTENT]"),
        ("APPEND Nowhere {1+}\r\nx", "NO [TRYCREATE]"),
    ]
    for text, want in cases:
        _, t = c.cmd(text)
        assert t.startswith(want + " "), (text, t)
    c.ok("APPEND Here {21+}\r\nSubject: x\r\n\r\nbody\r\n")
    c.ok("SELECT Here")
    for text in ("COPY 1 Nowhere", "MOVE 1 Nowhere", "UID COPY 1 Nowhere",
                 "UID MOVE 1 Nowhere"):
        _, t = c.cmd(text)
        assert t.startswith("NO [TRYCREATE] "), (text, t)
    assert count(site, "codes", "Here") == 1


def test_rev2_seen_rules_and_binary(site):
    c = session(site, "seen", rev2=True)
    body = b"Subject: bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" \
        b"AAEC\r\n"
    # APPEND with a literal8 (RFC 3516 4.4, rev2's BINARY)
    tag = c.tag()
    c.send(b"%s APPEND INBOX ~{%d+}\r\n" % (tag.encode(), len(body)) +
           body + b"\r\n")
    _, t = c.wait(tag)
    assert re.match(r"OK \[APPENDUID \d+ 1\] APPEND completed", t), t
    c.ok("APPEND INBOX {14+}\r\nSubject: b\r\n\r\n")
    c.ok("SELECT INBOX")
    # BINARY.PEEK and BINARY.SIZE leave \Seen; BINARY sets it
    u = c.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
    assert u == ["* 1 FETCH (BINARY[1] ~{3}",
                 "\x00\x01\x02 BINARY.SIZE[1] 3)"], u
    assert c.ok("FETCH 1 (FLAGS)") == ["* 1 FETCH (FLAGS ())"]
    u = c.ok("FETCH 1 (BINARY[])")
    assert "\\Seen" in u[-1], u
    assert c.ok("FETCH 1 (FLAGS)") == ["* 1 FETCH (FLAGS (\\Seen))"]
    # BODY.PEEK leaves it, BODY[] sets it; EXAMINE never sets it
    assert c.ok("FETCH 2 (BODY.PEEK[HEADER] FLAGS)")[-1].endswith(
        "FLAGS ())")
    c.ok("EXAMINE INBOX")
    c.ok("FETCH 2 (BODY[])")
    assert c.ok("FETCH 2 (FLAGS)") == ["* 2 FETCH (FLAGS ())"]
    c.ok("SELECT INBOX")
    c.ok("FETCH 2 (BODY[TEXT])")
    assert c.ok("FETCH 2 (FLAGS)") == ["* 2 FETCH (FLAGS (\\Seen))"]


def test_rev2_utf8_names(site):
    c = session(site, "status", rev2=True)
    c.ok('CREATE "Größe"')
    assert c.ok('LIST "" "Gr*"') == [
        '* LIST (\\HasNoChildren) "/" "Größe"']
    assert c.ok('STATUS "Größe" (MESSAGES)') == [
        '* STATUS "Größe" (MESSAGES 0)']
    u = c.ok('SELECT "Größe"')
    assert u[-1] == '* LIST (\\HasNoChildren \\Subscribed) "/" "Größe"'
    d = session(site, "status")               # rev1: modified UTF-7
    assert d.ok('LIST "" "Gr*"') == [
        '* LIST (\\HasNoChildren) "/" "Gr&APYA3w-e"']


# ---- a rev1 session sees rev1 ----

def test_rev1_client_unchanged(site):
    deliver(site, "rev1", 3)
    c = session(site, "rev1")
    u = c.ok("SELECT INBOX")
    assert "* 3 EXISTS" in u and "* 3 RECENT" in u
    assert "* OK [UNSEEN 1] First unseen" in u
    assert not any(x.startswith("* LIST") for x in u), u
    assert c.ok("SEARCH ALL") == ["* SEARCH 1 2 3"]
    assert c.ok("SEARCH RECENT") == ["* SEARCH 1 2 3"]
    assert c.ok("FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Recent))"]
    assert c.ok("STATUS INBOX (MESSAGES RECENT)") == [
        '* STATUS "INBOX" (MESSAGES 3 RECENT 0)']
    # SEARCHRES works for rev1 clients too, with SEARCH responses
    assert c.cmd("SEARCH RETURN (SAVE) 1:2") == ([], "OK SEARCH completed")
    assert c.ok("SEARCH $") == ["* SEARCH 1 2"]
    assert c.ok('LSUB "" INBOX') == ['* LSUB () "/" "INBOX"']
    c.ok("CHECK")


def test_imaplib_rev2_searchres(site):
    deliver(site, "lib", 3)
    c = imaplib.IMAP4("127.0.0.1", site.ports["imap"])
    try:
        assert "IMAP4REV2" in c.capabilities
        c.login(f"lib@{DOMAIN}", "pw")
        typ, _ = c.enable("IMAP4rev2")
        assert typ == "OK"
        typ, _ = c.select("INBOX")
        assert typ == "OK"
        typ, data = c._simple_command("SEARCH", "RETURN", "(SAVE)", "2:3")
        assert typ == "OK", data
        typ, data = c.fetch("$", "(UID)")
        assert typ == "OK" and data == [b"2 (UID 2)", b"3 (UID 3)"], data
        typ, data = c.uid("STORE", "$", "+FLAGS", "(\\Answered)")
        assert typ == "OK", data
        typ, data = c.fetch("1:*", "(FLAGS)")
        assert data == [b"1 (FLAGS ())", b"2 (FLAGS (\\Answered))",
                        b"3 (FLAGS (\\Answered))"], data
    finally:
        c.logout()


def test_over_tls(site):
    deliver(site, "pending", 2)
    c = Imap(site.ports["imaps"], tls=True)
    c.login("pending")
    c.ok("ENABLE IMAP4rev2")
    c.ok("SELECT INBOX")
    assert c.cmd("UID SEARCH RETURN (SAVE) ALL") == (
        [], "OK UID SEARCH completed")
    assert uids(c.ok("UID FETCH $ (UID)")) == [(1, 1), (2, 2)]
