"""imapd: CONDSTORE and QRESYNC (RFC 7162), \\Recent (RFC 3501 2.3.2) and
what ENABLE IMAP4rev2 changes (RFC 9051), against the real suite.

Mail gets in through SMTP; the exact response lines are read with a raw
IMAP client and compared with the database (mailboxes.highestmodseq,
messages.modseq, expunged).  Each test has its own user, so the tests do
not see each other's changes; one instance serves the module.  imaplib
over implicit TLS checks that a real client gets along.
"""
import imaplib
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import Instance, wait_for

T = 20
DOMAIN = "c.test"
EXTRA = """
imap_plaintext_loopback = yes
argon2_memory_cost = 64k
argon2_time_cost = 1
"""
USERS = ("caps", "hms", "fmod", "since", "unch", "silent", "srch", "two",
         "qr", "qrk", "van", "vfetch", "rec", "rexam", "rnew", "rsearch",
         "rev2", "longmod", "bigvan", "seenms", "tls", "closed", "race",
         "idleq", "bigsync", "flow", "mov")

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

    def send(self, text):
        self.sock.sendall(text.encode())

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out.decode("latin-1")
            d = self.sock.recv(1 << 20)
            if not d:
                raise EOFError(f"closed; unparsed {bytes(self.buf)!r}")
            self.buf += d

    def cmd(self, text):
        """(untagged lines, the tagged line without its tag)"""
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {text}\r\n")
        untagged = []
        while True:
            r = self.line()
            if r.startswith(tag + " "):
                return untagged, r[len(tag) + 1:]
            untagged.append(r)

    def ok(self, text):
        u, t = self.cmd(text)
        assert t.startswith("OK"), (text, t, u[-3:])
        return u

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


def session(inst, user):
    return Imap(inst.ports["imap"]).login(user)


# ---- the database ----

def count(inst, user):
    return int(inst.psql(
        "select count(*) from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX'") or 0)


def mailbox(inst, user):
    """{id, uidvalidity, uidnext, highestmodseq, recent_uid} of INBOX"""
    row = inst.psql(
        "select x.id, x.uidvalidity, x.uidnext, x.highestmodseq, "
        "x.recent_uid from mailboxes x join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX'")
    keys = ("id", "uidvalidity", "uidnext", "hms", "recent_uid")
    return dict(zip(keys, map(int, row.split("|"))))


def modseqs(inst, user):
    """{uid: modseq} of INBOX"""
    out = inst.psql(
        "select m.uid, m.modseq from messages m join mailboxes x on "
        "x.id = m.mailbox_id join users u on u.id = x.user_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX' order by 1")
    return {int(a): int(b) for a, b in (ln.split("|") for ln in
                                         out.splitlines())}


def deliver(inst, user, n=1):
    """n messages through SMTP; wait until all are in."""
    before = count(inst, user)
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T) as s:
        s.ehlo("client.test")
        for i in range(n):
            s.sendmail("x@remote.example", [f"{user}@{DOMAIN}"],
                       f"From: x@remote.example\r\nSubject: m {i}\r\n"
                       f"\r\nbody {i}\r\n".encode())
    wait_for(lambda: count(inst, user) >= before + n, 30, "delivery")


def add_many(inst, user, n):
    """n more messages in user's INBOX sharing the first one's blob."""
    inst.psql(f"""
        with mb as (update mailboxes x set uidnext = uidnext + {n},
            highestmodseq = highestmodseq + 1
          from users u where u.id = x.user_id and u.localpart = '{user}'
          and x.name = 'INBOX'
          returning x.id, x.uidnext - {n} as first, x.highestmodseq),
        src as (select m.blob_id, m.prefix, m.size from messages m, mb
          where m.mailbox_id = mb.id order by m.uid limit 1),
        ins as (insert into messages (mailbox_id, uid, modseq, size,
            blob_id, prefix)
          select mb.id, mb.first + g, mb.highestmodseq, src.size,
            src.blob_id, src.prefix
          from mb, src, generate_series(0, {n} - 1) g returning blob_id)
        update blobs set refcount = refcount + (select count(*) from ins)
          where id = (select blob_id from src)""")


def smtp_ready(inst):
    def probe():
        try:
            with smtplib.SMTP("127.0.0.1", inst.ports["smtp"],
                              timeout=3) as s:
                s.ehlo("client.test")
                s.mail("x@remote.example")
                return s.rcpt(f"caps@{DOMAIN}")[0] == 250
        except (OSError, smtplib.SMTPException):
            return False
    wait_for(probe, 60, "smtpd ready")


def imap_ready(inst):
    def probe():
        try:
            c = Imap(inst.ports["imap"])
            _, t = c.cmd(f"LOGIN caps@{DOMAIN} pw")
            c.close()
            OPEN.remove(c)
            return t.startswith("OK")
        except (OSError, EOFError):
            return False
    wait_for(probe, 60, "imapd ready")


@pytest.fixture(scope="module")
def site():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", DOMAIN, check=True)
        for u in USERS:
            inst.wharf("user", "add", f"{u}@{DOMAIN}", input="pw\n",
                       check=True)
        smtp_ready(inst)
        imap_ready(inst)
        yield inst
    finally:
        inst.cleanup()


def seen_by_a_client(inst, user):
    """A first session selects INBOX: nothing is \\Recent any more."""
    c = session(inst, user)
    c.ok("SELECT INBOX")
    c.ok("LOGOUT")


def code(lines, name):
    """The value of "* OK [NAME value]" among lines, or None."""
    for ln in lines:
        m = re.match(r"\* OK \[%s(?: ([^\]]*))?\]" % name, ln)
        if m:
            return m.group(1) if m.group(1) is not None else ""
    return None


def fetches(lines):
    return [ln for ln in lines if re.match(r"\* \d+ FETCH ", ln)]


# ---- capabilities, ENABLE ----

def test_capability_and_enable(site):
    c = Imap(site.ports["imap"])
    c.login("caps")
    [caps] = c.ok("CAPABILITY")
    caps = caps.split()
    assert "CONDSTORE" in caps and "QRESYNC" in caps
    assert "IMAP4rev2" in caps and "IMAP4rev1" in caps  # client picks
    u = c.ok("ENABLE condstore")
    assert u == ["* ENABLED CONDSTORE"]
    assert c.ok("ENABLE CONDSTORE") == ["* ENABLED"]
    assert c.ok("ENABLE QRESYNC X-UNKNOWN") == ["* ENABLED QRESYNC"]
    d = session(site, "caps")
    assert d.ok("ENABLE QRESYNC CONDSTORE") == [
        "* ENABLED QRESYNC CONDSTORE"]
    e = session(site, "caps")
    assert e.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    e.bad("ENABLE")
    e.bad('ENABLE "CONDSTORE"')


def test_select_condstore_parameter(site):
    deliver(site, "caps", 2)
    c = session(site, "caps")
    u = c.ok("SELECT INBOX")
    assert code(u, "HIGHESTMODSEQ") is None       # not enabled yet
    u = c.ok("SELECT INBOX (CONDSTORE)")
    assert code(u, "CLOSED") == ""
    assert code(u, "HIGHESTMODSEQ") == str(mailbox(site, "caps")["hms"])
    # enabled now for the connection (RFC 7162 3.1)
    u = c.ok("EXAMINE INBOX")
    assert code(u, "HIGHESTMODSEQ") == str(mailbox(site, "caps")["hms"])
    c.bad("SELECT INBOX (QRESYNC (1 1))")          # no ENABLE QRESYNC
    c.bad("SELECT INBOX ()")
    c.bad("SELECT INBOX (CONDSTORE X)")
    c.bad("SELECT INBOX (X-UNKNOWN)")
    # a BAD SELECT leaves the mailbox selected
    c.ok("NOOP")
    c.ok("FETCH 1 FLAGS")
    d = session(site, "caps")
    d.ok("ENABLE CONDSTORE")
    u = d.ok("EXAMINE INBOX")
    assert code(u, "HIGHESTMODSEQ") is not None
    assert code(u, "CLOSED") is None               # none was selected


# ---- HIGHESTMODSEQ, MODSEQ ----

def test_highestmodseq_grows_with_each_change(site):
    deliver(site, "hms", 3)
    c = session(site, "hms")
    c.ok("ENABLE CONDSTORE")
    seen = []

    def hms():
        u = c.ok("EXAMINE INBOX")
        v = int(code(u, "HIGHESTMODSEQ"))
        assert v == mailbox(site, "hms")["hms"]
        seen.append(v)
        return v

    hms()
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS (\\Flagged)")
    hms()
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS (\\Flagged)")     # no change: no new modseq
    assert hms() == seen[-2]
    c.ok("SELECT INBOX")
    c.ok("STORE 2 +FLAGS ($Work)")
    hms()
    c.ok("SELECT INBOX")
    c.ok("FETCH 3 BODY[]")                 # sets \Seen
    hms()
    c.ok("SELECT INBOX")
    c.ok("STORE 3 +FLAGS (\\Deleted)")
    u, t = c.cmd("EXPUNGE")
    assert u == ["* 3 EXPUNGE"]
    # RFC 7162 3.2.7: the tagged OK carries the new HIGHESTMODSEQ
    m = re.match(r"OK \[HIGHESTMODSEQ (\d+)\] ", t)
    assert m and int(m.group(1)) == mailbox(site, "hms")["hms"], t
    assert int(m.group(1)) > seen[-1]
    hms()
    deliver(site, "hms")
    hms()
    assert seen == sorted(seen) and len(set(seen)) == len(seen) - 1
    # CLOSE expunges without HIGHESTMODSEQ (RFC 7162 3.2.8)
    c.ok("SELECT INBOX")
    c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    u, t = c.cmd("CLOSE")
    assert u == [] and t == "OK CLOSE completed"


def test_fetch_modseq(site):
    deliver(site, "fmod", 3)
    seen_by_a_client(site, "fmod")
    c = session(site, "fmod")
    u = c.ok("SELECT INBOX")
    ms = modseqs(site, "fmod")
    # the first CONDSTORE enabling command while selected reports
    # HIGHESTMODSEQ (RFC 7162 3.1)
    u = c.ok("FETCH 1:* (FLAGS MODSEQ)")
    assert u[0] == "* OK [HIGHESTMODSEQ %d] Highest" % \
        mailbox(site, "fmod")["hms"]
    assert u[1:] == ["* %d FETCH (FLAGS () MODSEQ (%d))" % (i, ms[i])
                     for i in (1, 2, 3)]
    assert c.ok("UID FETCH 2 MODSEQ") == [
        "* 2 FETCH (UID 2 MODSEQ (%d))" % ms[2]]
    # STORE answers carry UID and MODSEQ once CONDSTORE is on
    u = c.ok("STORE 2 +FLAGS (\\Answered)")
    ms = modseqs(site, "fmod")
    assert u == ["* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (%d))" % ms[2]]
    # so do the FETCH answers that set \Seen
    u = c.ok("FETCH 3 (BODY[HEADER.FIELDS (SUBJECT)])")
    ms = modseqs(site, "fmod")
    assert u == ["* 3 FETCH (UID 3 BODY[HEADER.FIELDS (SUBJECT)] {16}",
                 "Subject: m 2", "", " FLAGS (\\Seen) MODSEQ (%d))" % ms[3]], u
    u = c.ok("FETCH 3 (FLAGS MODSEQ)")
    assert u == ["* 3 FETCH (FLAGS (\\Seen) MODSEQ (%d))" % ms[3]]
    c.bad("FETCH 1 (MODSEQ (1))")


def test_seen_by_fetch_with_condstore(site):
    deliver(site, "seenms")
    seen_by_a_client(site, "seenms")
    c = session(site, "seenms")
    c.ok("ENABLE CONDSTORE")
    c.ok("SELECT INBOX")
    c.send("a FETCH 1 BODY[TEXT]\r\n")
    first = c.line()
    assert first == "* 1 FETCH (UID 1 BODY[TEXT] {8}", first
    rest = c.line()
    ms = modseqs(site, "seenms")[1]
    assert rest == "body 0", rest
    assert c.line() == " FLAGS (\\Seen) MODSEQ (%d))" % ms
    assert c.line() == "a OK FETCH completed"


def test_changedsince(site):
    deliver(site, "since", 5)
    seen_by_a_client(site, "since")
    c = session(site, "since")
    c.ok("SELECT INBOX")
    base = mailbox(site, "since")["hms"]
    c.ok("STORE 2 +FLAGS (\\Flagged)")
    c.ok("STORE 4 +FLAGS ($A)")
    ms = modseqs(site, "since")
    u = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {base})")
    assert u[0].startswith("* OK [HIGHESTMODSEQ ")
    assert u[1:] == [
        "* 2 FETCH (FLAGS (\\Flagged) MODSEQ (%d))" % ms[2],
        "* 4 FETCH (FLAGS ($A) MODSEQ (%d))" % ms[4]]
    assert c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {ms[2]})") == [
        "* 4 FETCH (UID 4 FLAGS ($A) MODSEQ (%d))" % ms[4]]
    assert c.ok(f"FETCH 1:* UID (CHANGEDSINCE {ms[4]})") == []
    assert len(c.ok("FETCH 1:* UID (CHANGEDSINCE 0)")) == 5
    # \Seen is only set on what is answered
    u = c.ok(f"FETCH 1:* BODY[TEXT] (CHANGEDSINCE {ms[2]})")
    assert len(fetches(u)) == 1
    assert "\\Seen" in "".join(c.ok("FETCH 4 FLAGS"))
    assert "\\Seen" not in "".join(c.ok("FETCH 1:3 FLAGS"))
    for bad in ("(CHANGEDSINCE)", "(CHANGEDSINCE x)", "(CHANGEDSINCE -1)",
                "(CHANGEDSINCE 1 CHANGEDSINCE 2)", "(X 1)", "()",
                "(CHANGEDSINCE 9223372036854775808)"):
        c.bad("FETCH 1 FLAGS " + bad)


def test_unchangedsince(site):
    deliver(site, "unch", 6)
    seen_by_a_client(site, "unch")
    c = session(site, "unch")
    c.ok("SELECT INBOX")
    ms = modseqs(site, "unch")
    top = max(ms.values())
    # all unchanged since: done, answered with UID, FLAGS and MODSEQ
    u = c.ok(f"STORE 1 (UNCHANGEDSINCE {top}) +FLAGS (\\Seen)")
    assert u[0].startswith("* OK [HIGHESTMODSEQ ")   # enabling, selected
    ms = modseqs(site, "unch")
    assert u[1:] == ["* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (%d))" % ms[1]]
    # another session changes 3 and 5
    d = session(site, "unch")
    d.ok("SELECT INBOX")
    d.ok("STORE 3,5 +FLAGS (\\Flagged)")
    u, t = c.cmd(f"STORE 2:6 (UNCHANGEDSINCE {top}) +FLAGS (\\Deleted)")
    assert t == "OK [MODIFIED 3,5] Conditional STORE failed", t
    ms = modseqs(site, "unch")
    # its own answers; then the sync reports the other session's change
    # (not its own again)
    assert u == ["* %d FETCH (UID %d FLAGS (\\Deleted) MODSEQ (%d))" %
                 (i, i, ms[i]) for i in (2, 4, 6)] + [
        "* %d FETCH (UID %d FLAGS (\\Flagged) MODSEQ (%d))" % (i, i, ms[i])
        for i in (3, 5)], u
    flags = site.psql(
        "select string_agg(uid || ':' || flags, ',' order by uid) from "
        f"messages where mailbox_id = {mailbox(site, 'unch')['id']}")
    assert flags == "1:1,2:8,3:4,4:8,5:4,6:8"
    # UID STORE: UIDs; 0 always fails; ranges are compact
    u, t = c.cmd("UID STORE 1:6 (UNCHANGEDSINCE 0) -FLAGS (\\Deleted)")
    assert t == "OK [MODIFIED 1:6] Conditional STORE failed", (u, t)
    assert fetches(u) == []
    assert modseqs(site, "unch") == ms
    # a STORE that changes nothing keeps the modseq
    u = c.ok(f"STORE 2 (UNCHANGEDSINCE {ms[2]}) +FLAGS (\\Deleted)")
    assert u == ["* 2 FETCH (UID 2 FLAGS (\\Deleted) MODSEQ (%d))" % ms[2]]
    assert modseqs(site, "unch") == ms
    for bad in ("1 (UNCHANGEDSINCE) +FLAGS (a)", "1 (UNCHANGEDSINCE x) "
                "+FLAGS (a)", "1 (CHANGEDSINCE 1) +FLAGS (a)",
                "1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (a)",
                "1 (UNCHANGEDSINCE 1)", "1 () +FLAGS (a)"):
        c.bad("STORE " + bad)


def test_store_silent_with_condstore(site):
    deliver(site, "silent", 3)
    seen_by_a_client(site, "silent")
    c = session(site, "silent")
    c.ok("SELECT INBOX")
    assert c.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)") == []    # not enabled
    c.ok("ENABLE CONDSTORE")
    u = c.ok("STORE 1:3 +FLAGS.SILENT (\\Seen)")
    assert u == []                          # nothing changed
    top = mailbox(site, "silent")["hms"]
    u = c.ok(f"STORE 2:3 (UNCHANGEDSINCE {top}) FLAGS.SILENT (\\Draft)")
    ms = modseqs(site, "silent")
    # RFC 7162 3.1.3: sent even with .SILENT, with MODSEQ
    assert u == ["* %d FETCH (UID %d MODSEQ (%d))" % (i, i, ms[i])
                 for i in (2, 3)], u
    u, t = c.cmd("STORE 1:3 (UNCHANGEDSINCE 1) +FLAGS.SILENT (\\Answered)")
    assert u == [] and t.startswith("OK [MODIFIED 1:3] "), (u, t)


def test_search_modseq(site):
    deliver(site, "srch", 4)
    seen_by_a_client(site, "srch")
    c = session(site, "srch")
    c.ok("SELECT INBOX")
    base = mailbox(site, "srch")["hms"]
    c.ok("STORE 2 +FLAGS (\\Draft)")
    c.ok("STORE 3 +FLAGS (\\Flagged)")
    ms = modseqs(site, "srch")
    u = c.ok(f"SEARCH MODSEQ {base + 1}")
    assert u[0].startswith("* OK [HIGHESTMODSEQ ")   # enabling, selected
    assert u[1:] == ["* SEARCH 2 3 (MODSEQ %d)" % ms[3]]
    assert c.ok(f'SEARCH MODSEQ "/flags/\\\\draft" all {ms[3]}') == [
        "* SEARCH 3 (MODSEQ %d)" % ms[3]]
    assert c.ok(f"UID SEARCH MODSEQ {base + 1} DRAFT") == [
        "* SEARCH 2 (MODSEQ %d)" % ms[2]]
    assert c.ok(f"SEARCH OR MODSEQ {ms[3]} SUBJECT \"m 0\"") == [
        "* SEARCH 1 3 (MODSEQ %d)" % ms[3]]
    assert c.ok(f"SEARCH MODSEQ {ms[3] + 1}") == ["* SEARCH"]
    assert c.ok("SEARCH MODSEQ 0") == [
        "* SEARCH 1 2 3 4 (MODSEQ %d)" % ms[3]]
    n = c.n + 1
    assert c.ok(f"SEARCH RETURN (MIN COUNT) MODSEQ {base + 1}") == [
        '* ESEARCH (TAG "t%d") MIN 2 COUNT 2 MODSEQ %d' % (n, ms[3])]
    n = c.n + 1
    assert c.ok(f"SEARCH RETURN (MIN) MODSEQ {base + 1}") == [
        '* ESEARCH (TAG "t%d") MIN 2 MODSEQ %d' % (n, ms[2])]
    n = c.n + 1
    assert c.ok(f"UID SEARCH RETURN (ALL) MODSEQ {base + 1}") == [
        '* ESEARCH (TAG "t%d") UID ALL 2:3 MODSEQ %d' % (n, ms[3])]
    n = c.n + 1
    assert c.ok(f"SEARCH RETURN (COUNT) MODSEQ {ms[3] + 1}") == [
        '* ESEARCH (TAG "t%d") COUNT 0' % n]
    for bad in ("MODSEQ", "MODSEQ x", '"/flags/\\\\seen" all 1',
                'MODSEQ "/flags/\\\\seen" 1', 'MODSEQ "/flags/\\\\seen" '
                'mine 1', 'MODSEQ "/other" all 1', "MODSEQ -1"):
        c.bad("SEARCH " + bad)


def test_other_session_changes_with_modseq(site):
    deliver(site, "two", 2)
    seen_by_a_client(site, "two")
    a = session(site, "two")
    a.ok("ENABLE CONDSTORE")
    a.ok("SELECT INBOX")
    b = session(site, "two")
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS (\\Flagged $Later)")
    ms = modseqs(site, "two")
    assert a.ok("NOOP") == [
        "* 2 FETCH (UID 2 FLAGS (\\Flagged $Later) MODSEQ (%d))" % ms[2]]
    # without CONDSTORE: no MODSEQ
    b.ok("STORE 1 +FLAGS (\\Seen)")
    assert b.ok("NOOP") == []
    c = session(site, "two")
    c.ok("SELECT INBOX")
    a.ok("STORE 1 +FLAGS (\\Answered)")
    assert c.ok("NOOP") == ["* 1 FETCH (UID 1 FLAGS (\\Answered \\Seen))"]


# ---- QRESYNC ----

def test_qresync_select(site):
    deliver(site, "qr", 6)
    seen_by_a_client(site, "qr")
    mb = mailbox(site, "qr")
    old = mb["hms"]
    a = session(site, "qr")
    a.ok("SELECT INBOX")
    a.ok("STORE 2,4,5 +FLAGS.SILENT (\\Deleted)")
    a.ok("STORE 3 +FLAGS (\\Flagged)")
    a.ok("EXPUNGE")
    deliver(site, "qr")                       # uid 7, new since too
    ms = modseqs(site, "qr")
    c = session(site, "qr")
    c.ok("ENABLE QRESYNC")
    u = c.ok(f"SELECT INBOX (QRESYNC ({mb['uidvalidity']} {old}))")
    assert code(u, "HIGHESTMODSEQ") == str(mailbox(site, "qr")["hms"])
    i = u.index("* VANISHED (EARLIER) 2,4:5")
    f = fetches(u)
    assert f == ["* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ (%d))" % ms[3],
                 "* 4 FETCH (UID 7 FLAGS (\\Recent) MODSEQ (%d))" % ms[7]], u
    assert u.index(f[0]) > i                  # VANISHED first
    assert "* 4 EXISTS" in u
    # known UIDs restrict both
    d = session(site, "qr")
    d.ok("ENABLE QRESYNC")
    u = d.ok(f"EXAMINE INBOX (QRESYNC ({mb['uidvalidity']} {old} 1:3))")
    assert [x for x in u if "VANISHED" in x] == ["* VANISHED (EARLIER) 2"]
    assert fetches(u) == [
        "* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ (%d))" % ms[3]]
    # with sequence match data (checked, not needed), [CLOSED] first
    u = d.ok(f"EXAMINE INBOX (QRESYNC ({mb['uidvalidity']} {old} 1:7 "
             "(1:3 1,3,5)))")
    assert u[0] == "* OK [CLOSED] Previous mailbox closed"
    assert "* VANISHED (EARLIER) 2,4:5" in u and len(fetches(u)) == 2
    # up to date: nothing
    u = d.ok(f"EXAMINE INBOX (QRESYNC ({mb['uidvalidity']} "
             f"{mailbox(site, 'qr')['hms']}))")
    assert fetches(u) == [] and not any("VANISHED" in x for x in u)
    # another UIDVALIDITY: a plain SELECT (RFC 7162 3.2.5.1)
    u = d.ok(f"EXAMINE INBOX (QRESYNC ({mb['uidvalidity'] + 1} {old}))")
    assert fetches(u) == [] and not any("VANISHED" in x for x in u)
    assert code(u, "HIGHESTMODSEQ") is not None
    for bad in ("(QRESYNC)", "(QRESYNC ())", "(QRESYNC (1))",
                "(QRESYNC (0 1))", "(QRESYNC (1 0))", "(QRESYNC (1 x))",
                "(QRESYNC (1 1 1:*))", "(QRESYNC (1 1 1:3 (1:2)))",
                "(QRESYNC (1 1 1:3 (1 2) 5))", "(QRESYNC (1 1) QRESYNC (1 1))",
                "(QRESYNC 1)"):
        d.bad("EXAMINE INBOX " + bad)


def test_vanished_instead_of_expunge(site):
    deliver(site, "van", 5)
    seen_by_a_client(site, "van")
    a = session(site, "van")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b = session(site, "van")
    b.ok("SELECT INBOX")
    a.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    u, t = a.cmd("EXPUNGE")
    assert u == ["* VANISHED 2:3"], u
    assert t == "OK [HIGHESTMODSEQ %d] EXPUNGE completed" % \
        mailbox(site, "van")["hms"]
    # the other session (no QRESYNC) gets EXPUNGE
    assert b.ok("NOOP") == ["* 2 EXPUNGE", "* 2 EXPUNGE"]
    b.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")   # uids 1 and 5
    b.ok("EXPUNGE")
    assert a.ok("NOOP") == ["* VANISHED 1,5"]
    # not during FETCH by number (RFC 7162 3.2.10.2, RFC 9051 7.5.1)
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")     # uid 4
    b.ok("EXPUNGE")
    assert a.ok("FETCH 1 UID") == []          # gone: no answer, no VANISHED
    assert a.ok("UID FETCH 4 UID") == ["* VANISHED 4"]
    # UID EXPUNGE too
    deliver(site, "van", 2)
    a.ok("NOOP")
    a.ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)")
    u, t = a.cmd("UID EXPUNGE 6:7")
    assert u == ["* VANISHED 6:7"] and t.startswith("OK [HIGHESTMODSEQ ")


def test_move_with_qresync_says_vanished(site):
    """MOVE's expunges are VANISHED for a QRESYNC session (RFC 7162
    3.2.10, RFC 6851 4.3)."""
    deliver(site, "mov", 4)
    seen_by_a_client(site, "mov")
    a = session(site, "mov")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    u, t = a.cmd("UID MOVE 2:3 Trash")
    assert u[0].startswith("* OK [COPYUID "), u
    assert u[1:] == ["* VANISHED 2:3"], u
    assert t.startswith("OK")
    u, t = a.cmd("MOVE 1 Trash")
    assert u[1:] == ["* VANISHED 1"], u


def test_uid_fetch_vanished(site):
    deliver(site, "vfetch", 6)
    seen_by_a_client(site, "vfetch")
    old = mailbox(site, "vfetch")["hms"]
    b = session(site, "vfetch")
    b.ok("SELECT INBOX")
    b.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    b.ok("STORE 4 +FLAGS (\\Flagged)")        # uid 6
    ms = modseqs(site, "vfetch")
    a = session(site, "vfetch")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    u = a.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {old} VANISHED)")
    assert u == ["* VANISHED (EARLIER) 1,3",
                 "* 4 FETCH (UID 6 FLAGS (\\Flagged) MODSEQ (%d))" % ms[6]]
    assert a.ok(f"UID FETCH 2:4 (FLAGS) (VANISHED CHANGEDSINCE {old})") \
        == ["* VANISHED (EARLIER) 3"]
    assert a.ok(f"UID FETCH 7:9 (FLAGS) (CHANGEDSINCE {old} VANISHED)") \
        == []
    # "*" is the last UID (6) for FETCH, and any UID for VANISHED
    assert a.ok(f"UID FETCH 5:* (FLAGS) (CHANGEDSINCE {old} VANISHED)") \
        == ["* 4 FETCH (UID 6 FLAGS (\\Flagged) MODSEQ (%d))" % ms[6]]
    # expunged by another session, not yet reported: VANISHED after
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")     # uid 2
    b.ok("EXPUNGE")
    u = a.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {old} VANISHED)")
    assert u[0] == "* VANISHED (EARLIER) 1,3" and u[-1] == "* VANISHED 2", u
    a.bad(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {old} VANISHED)")
    a.bad("UID FETCH 1:* (FLAGS) (VANISHED)")
    c = session(site, "vfetch")
    c.ok("ENABLE CONDSTORE")
    c.ok("SELECT INBOX")
    c.bad(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {old} VANISHED)")


def test_vanished_earlier_large(site):
    """More expunged UIDs than one batch of the expunge log, compact."""
    deliver(site, "bigvan")
    add_many(site, "bigvan", 11999)
    seen_by_a_client(site, "bigvan")
    mb = mailbox(site, "bigvan")
    old = mb["hms"]
    site.psql("update messages set flags = 8 where mailbox_id = "
              f"{mb['id']} and (uid % 2 = 0 or uid between 9001 and 9100)")
    a = session(site, "bigvan")
    a.ok("SELECT INBOX")
    u, t = a.cmd("EXPUNGE")
    assert t.startswith("OK"), t
    want = [str(i) for i in range(2, 9000, 2)] + ["9000:9100"] + \
        [str(i) for i in range(9102, 12001, 2)]
    c = session(site, "bigvan")
    c.ok("ENABLE QRESYNC")
    u = c.ok(f"EXAMINE INBOX (QRESYNC ({mb['uidvalidity']} {old}))")
    [v] = [x for x in u if x.startswith("* VANISHED")]
    assert v == "* VANISHED (EARLIER) " + ",".join(want)
    assert fetches(u) == []
    assert "* %d EXISTS" % (12000 - 6000 - 50) in u


def test_closed_response(site):
    deliver(site, "closed")
    c = session(site, "closed")
    c.ok("SELECT INBOX")
    u, t = c.cmd('SELECT "no such"')
    assert u == ["* OK [CLOSED] Previous mailbox closed"]
    assert t.startswith("NO [NONEXISTENT]")
    assert c.ok("EXAMINE INBOX")[0] != "* OK [CLOSED] Previous mailbox " \
        "closed"                          # none was selected
    assert c.ok("UNSELECT") == []
    c.ok("SELECT INBOX")
    assert c.ok("CLOSE") == []


# ---- \Recent ----

def test_recent_first_select_claims(site):
    deliver(site, "rec", 2)
    a = session(site, "rec")
    u = a.ok("SELECT INBOX")
    assert "* 2 EXISTS" in u and "* 2 RECENT" in u
    assert a.ok("FETCH 1:* FLAGS") == ["* 1 FETCH (FLAGS (\\Recent))",
                                       "* 2 FETCH (FLAGS (\\Recent))"]
    b = session(site, "rec")
    u = b.ok("SELECT INBOX")
    assert "* 2 EXISTS" in u and "* 0 RECENT" in u
    assert b.ok("FETCH 1:* FLAGS") == ["* 1 FETCH (FLAGS ())",
                                       "* 2 FETCH (FLAGS ())"]
    # the first session keeps them while it has the mailbox selected
    assert a.ok("FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Recent))"]
    u = a.ok("STORE 1 FLAGS (\\Seen)")
    assert u == ["* 1 FETCH (FLAGS (\\Seen \\Recent))"]
    u = a.ok("SELECT INBOX")                  # not again
    assert "* 0 RECENT" in u
    a.bad("STORE 1 +FLAGS (\\Recent)")


def test_recent_examine_does_not_claim(site):
    deliver(site, "rexam", 2)
    a = session(site, "rexam")
    u = a.ok("EXAMINE INBOX")
    assert "* 2 RECENT" in u                  # seen, not taken
    assert a.ok("FETCH 2 FLAGS") == ["* 2 FETCH (FLAGS (\\Recent))"]
    b = session(site, "rexam")
    u = b.ok("SELECT INBOX")
    assert "* 2 RECENT" in u
    u = a.ok("EXAMINE INBOX")
    assert "* 0 RECENT" in u
    assert mailbox(site, "rexam")["recent_uid"] == 3


def test_recent_new_mail_while_selected(site):
    deliver(site, "rnew")
    seen_by_a_client(site, "rnew")
    a = session(site, "rnew")
    u = a.ok("SELECT INBOX")
    assert "* 0 RECENT" in u
    deliver(site, "rnew", 2)
    u = a.ok("NOOP")
    assert u == ["* 3 EXISTS", "* 2 RECENT"], u
    assert a.ok("FETCH 1:* FLAGS") == ["* 1 FETCH (FLAGS ())",
                                       "* 2 FETCH (FLAGS (\\Recent))",
                                       "* 3 FETCH (FLAGS (\\Recent))"]
    # a session selecting after does not see them as recent
    b = session(site, "rnew")
    u = b.ok("SELECT INBOX")
    assert "* 0 RECENT" in u
    # new mail goes to the first session to see it: b's IDLE or a's NOOP
    b.send("i IDLE\r\n")
    assert b.line() == "+ idling"
    deliver(site, "rnew")
    assert b.line() == "* 4 EXISTS"
    assert b.line() == "* 1 RECENT"
    b.send("DONE\r\n")
    assert b.line() == "i OK IDLE terminated"
    assert a.ok("NOOP") == ["* 4 EXISTS", "* 2 RECENT"]
    # an expunged recent message is no longer counted
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    assert a.ok("EXPUNGE") == ["* 2 EXPUNGE"]
    deliver(site, "rnew")
    u = a.ok("NOOP")
    assert u == ["* 4 EXISTS", "* 2 RECENT"], u


def test_search_recent_new_old(site):
    deliver(site, "rsearch", 2)
    seen_by_a_client(site, "rsearch")
    deliver(site, "rsearch", 2)
    a = session(site, "rsearch")
    u = a.ok("SELECT INBOX")
    assert "* 2 RECENT" in u
    a.ok("STORE 3 +FLAGS (\\Seen)")
    assert a.ok("SEARCH RECENT") == ["* SEARCH 3 4"]
    assert a.ok("SEARCH NEW") == ["* SEARCH 4"]
    assert a.ok("SEARCH OLD") == ["* SEARCH 1 2"]
    assert a.ok("SEARCH NOT OLD") == ["* SEARCH 3 4"]
    assert a.ok("UID SEARCH OR NEW 1") == ["* SEARCH 1 4"]
    assert a.ok("SEARCH RECENT SUBJECT \"m 1\"") == ["* SEARCH 4"]
    b = session(site, "rsearch")
    b.ok("SELECT INBOX")
    assert b.ok("SEARCH RECENT") == ["* SEARCH"]
    assert b.ok("SEARCH OLD") == ["* SEARCH 1 2 3 4"]


def test_recent_claimed_once_by_concurrent_selects(site):
    deliver(site, "race", 3)
    cs = [session(site, "race") for _ in range(6)]
    for c in cs:
        c.send("s SELECT INBOX\r\n")
    counts = []
    for c in cs:
        while True:
            ln = c.line()
            m = re.fullmatch(r"\* (\d+) RECENT", ln)
            if m:
                counts.append(int(m.group(1)))
            if ln.startswith("s "):
                assert ln.startswith("s OK"), ln
                break
    assert sorted(counts) == [0, 0, 0, 0, 0, 3], counts
    deliver(site, "race", 2)
    for c in cs:
        c.send("n NOOP\r\n")
    counts = []
    for c in cs:
        while True:
            ln = c.line()
            m = re.fullmatch(r"\* (\d+) RECENT", ln)
            if m:
                counts.append(int(m.group(1)))
            if ln.startswith("n "):
                break
    # every session says RECENT with the new EXISTS; one got both new
    # ones: the one with 3 (now 5) or another (2)
    assert sorted(counts) in ([0, 0, 0, 0, 0, 5], [0, 0, 0, 0, 2, 3]), \
        counts


def test_idle_with_qresync(site):
    deliver(site, "idleq", 3)
    seen_by_a_client(site, "idleq")
    a = session(site, "idleq")
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b = session(site, "idleq")
    b.ok("SELECT INBOX")
    a.send("i IDLE\r\n")
    assert a.line() == "+ idling"
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    ms = modseqs(site, "idleq")
    assert a.line() == "* 1 FETCH (UID 1 FLAGS (\\Flagged) MODSEQ (%d))" % \
        ms[1]
    b.ok("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    ms = modseqs(site, "idleq")
    # the STORE may wake the IDLE before the EXPUNGE or not
    ln = a.line()
    if ln != "* VANISHED 2:3":
        assert ln == "* 2 FETCH (UID 2 FLAGS (\\Deleted) MODSEQ (%d))" % \
            ms[2], ln
        assert a.line() == \
            "* 3 FETCH (UID 3 FLAGS (\\Deleted) MODSEQ (%d))" % ms[3]
        b.ok("EXPUNGE")
        ln = a.line()
    else:
        b.ok("EXPUNGE")
    assert ln == "* VANISHED 2:3", ln
    a.send("DONE\r\n")
    assert a.line() == "i OK IDLE terminated"


def test_big_sync_streams(site):
    """100,000 flag changes, then 50,000 expunges by another session: the
    responses (over 5 MB) go out as the client reads them."""
    deliver(site, "bigsync")
    add_many(site, "bigsync", 99999)
    seen_by_a_client(site, "bigsync")
    mb = mailbox(site, "bigsync")
    a = session(site, "bigsync")
    a.ok("ENABLE CONDSTORE")
    a.ok("SELECT INBOX")
    b = session(site, "bigsync")
    b.ok("ENABLE QRESYNC")
    b.ok("SELECT INBOX")
    site.psql("with mb as (update mailboxes set highestmodseq = "
              f"highestmodseq + 1 where id = {mb['id']} returning "
              "highestmodseq) update messages m set flags = 4, modseq = "
              f"mb.highestmodseq from mb where m.mailbox_id = {mb['id']}")
    u = a.ok("NOOP")
    assert u == ["* %d FETCH (UID %d FLAGS (\\Flagged) MODSEQ (%d))" %
                 (i, i, mb["hms"] + 1) for i in range(1, 100001)]
    # \Deleted on the even ones
    u = a.ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)")
    ms = modseqs(site, "bigsync")
    assert u == ["* %d FETCH (UID %d MODSEQ (%d))" % (i, i, ms[i])
                 for i in range(1, 100001)]
    site.psql(f"update messages set flags = 4 where mailbox_id = {mb['id']}"
              " and uid % 2 = 1")
    u, t = a.cmd("EXPUNGE")
    assert t.startswith("OK [HIGHESTMODSEQ "), t
    assert u == ["* %d EXPUNGE" % i for i in range(2, 50002)]
    u = b.ok("NOOP")
    assert u[0] == "* VANISHED " + ",".join(str(i) for i in
                                            range(2, 100001, 2))
    assert u[1:] == ["* %d FETCH (UID %d FLAGS (\\Flagged) MODSEQ (%d))" %
                     ((i + 1) // 2, i, ms[i]) for i in range(1, 100001, 2)]


# ---- IMAP4rev2 ----

def test_imap4rev2_responses(site):
    deliver(site, "rev2", 2)
    a = session(site, "rev2")
    a.ok("ENABLE IMAP4rev2")
    u = a.ok("SELECT INBOX")
    assert not any("RECENT" in x or "UNSEEN" in x for x in u), u
    assert '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX' in u
    assert a.ok("FETCH 1:* FLAGS") == ["* 1 FETCH (FLAGS ())",
                                       "* 2 FETCH (FLAGS ())"]
    n = a.n + 1
    assert a.ok("SEARCH RECENT") == ['* ESEARCH (TAG "t%d")' % n]
    n = a.n + 1
    assert a.ok("SEARCH OLD") == ['* ESEARCH (TAG "t%d") ALL 1:2' % n]
    deliver(site, "rev2")
    assert a.ok("NOOP") == ["* 3 EXISTS"]
    # rev2 sessions claim nothing: a rev1 session still gets them
    b = session(site, "rev2")
    u = b.ok("SELECT INBOX")
    assert "* 3 RECENT" in u
    u = a.ok("EXAMINE INBOX")
    assert u[0] == "* OK [CLOSED] Previous mailbox closed"
    assert not any("RECENT" in x for x in u)


# ---- long responses, a real client ----

def test_long_modified_set(site):
    deliver(site, "longmod")
    add_many(site, "longmod", 1999)
    seen_by_a_client(site, "longmod")
    c = session(site, "longmod")
    c.ok("SELECT INBOX")
    d = session(site, "longmod")
    d.ok("SELECT INBOX")
    top = mailbox(site, "longmod")["hms"]
    odd = ",".join(str(i) for i in range(1, 2001, 2))
    d.ok(f"UID STORE {odd} +FLAGS.SILENT ($Odd)")
    u, t = c.cmd(f"UID STORE 1:* (UNCHANGEDSINCE {top}) "
                 "+FLAGS.SILENT ($Mine)")
    assert t == f"OK [MODIFIED {odd}] Conditional STORE failed", t[:200]
    assert len(t) > 4000
    assert u[0].startswith("* OK [HIGHESTMODSEQ ")
    ms = modseqs(site, "longmod")
    # .SILENT: the changed ones with UID and MODSEQ; then the sync says
    # what the other session did
    assert u[1:1001] == ["* %d FETCH (UID %d MODSEQ (%d))" % (i, i, ms[i])
                         for i in range(2, 2001, 2)]
    assert u[1001:] == ["* %d FETCH (UID %d FLAGS ($Odd) MODSEQ (%d))" %
                        (i, i, ms[i]) for i in range(1, 2001, 2)]


def test_imaplib_over_tls(site):
    deliver(site, "tls", 2)
    c = imaplib.IMAP4_SSL("127.0.0.1", site.ports["imaps"],
                          ssl_context=ssl._create_unverified_context())
    try:
        c.login(f"tls@{DOMAIN}", "pw")
        typ, data = c.capability()
        caps = data[-1].split()
        assert b"CONDSTORE" in caps and b"QRESYNC" in caps, data
        typ, _ = c.enable("CONDSTORE")
        assert typ == "OK"
        assert c.response("ENABLED") == ("ENABLED", [b"CONDSTORE"])
        typ, _ = c.select("INBOX")
        assert typ == "OK"
        assert c.untagged_responses.get("HIGHESTMODSEQ")
        assert c.untagged_responses.get("RECENT") == [b"2"]
        typ, data = c.fetch("1:*", "(MODSEQ)")
        ms = modseqs(site, "tls")
        assert data == [b"1 (MODSEQ (%d))" % ms[1], b"2 (MODSEQ (%d))" %
                        ms[2]], data
        typ, data = c.uid("SEARCH", "MODSEQ", str(ms[2]))
        assert data == [b"2 (MODSEQ %d)" % ms[2]], data
        c.logout()
    finally:
        try:
            c.shutdown()
        except OSError:
            pass


# imapflow (tests/integ/node, "make integ" installs it): ENABLE CONDSTORE
# QRESYNC, the changes of another session as events, then a QRESYNC
# SELECT and UID FETCH (CHANGEDSINCE n VANISHED) of a new connection.
FLOW = r"""
import { ImapFlow } from "imapflow";
const port = Number(process.env.PORT), user = process.env.USER_NAME;
const mk = (qresync) => new ImapFlow({ host: "127.0.0.1", port,
    secure: false, doSTARTTLS: true, tls: { rejectUnauthorized: false },
    auth: { user, pass: "pw" }, logger: false, qresync });
const out = { a: [], c: [] };
const ev = (list) => (kind) => (d) => list.push({ kind, uid: d.uid,
    seq: d.seq, vanished: d.vanished, earlier: d.earlier,
    modseq: d.modseq, flags: d.flags ? [...d.flags].sort() : undefined });
setTimeout(() => { console.log(JSON.stringify({ error: "timeout" }));
    process.exit(2); }, 60000);
const a = mk(true);
await a.connect();
out.enabled = [...a.enabled].sort();
a.on("flags", ev(out.a)("flags"));
a.on("expunge", ev(out.a)("expunge"));
await a.mailboxOpen("INBOX");
const hms0 = a.mailbox.highestModseq, uv = a.mailbox.uidValidity;
out.hms0 = String(hms0);
const b = mk(false);
await b.connect();
await b.mailboxOpen("INBOX");
await b.messageFlagsAdd({ uid: "2" }, ["\\Flagged"], { uid: true });
await b.messageDelete({ uid: "3" }, { uid: true });
await b.logout();
await a.noop();
await a.logout();
const c = mk(true);
await c.connect();
c.on("flags", ev(out.c)("flags"));
c.on("expunge", ev(out.c)("expunge"));
await c.mailboxOpen("INBOX", { changedSince: hms0, uidValidity: uv });
out.qresync = c.mailbox.qresync;
out.hms1 = String(c.mailbox.highestModseq);
out.fetched = [];
for await (const m of c.fetch("1:*", { uid: true, flags: true },
    { uid: true, changedSince: hms0 }))
	out.fetched.push({ uid: m.uid, modseq: String(m.modseq),
	    flags: [...m.flags].sort() });
await c.logout();
console.log(JSON.stringify(out, (k, v) => typeof v === "bigint" ?
    String(v) : v));
process.exit(0);
"""
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


@pytest.mark.skipif(shutil.which("node") is None or not os.path.isdir(
    os.path.join(NODE_DIR, "node_modules", "imapflow")),
    reason="imapflow not installed (make integ installs it)")
def test_imapflow_condstore_qresync(site):
    c = session(site, "caps")
    if c.cmd('LIST "" INBOX')[1] == "BAD Unknown command":
        pytest.skip("imapflow opens a mailbox with LIST (not in this tree)")
    deliver(site, "flow", 4)
    seen_by_a_client(site, "flow")
    r = subprocess.run(["node", "--input-type=module", "-e", FLOW],
                       cwd=NODE_DIR, capture_output=True, text=True,
                       timeout=90, env=dict(os.environ, PORT=str(
                           site.ports["imap"]), USER_NAME=f"flow@{DOMAIN}"))
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert "CONDSTORE" in out["enabled"] and "QRESYNC" in out["enabled"]
    ms = modseqs(site, "flow")
    # the other session's changes: FLAGS with MODSEQ, VANISHED for 3
    assert {"kind": "flags", "uid": 2, "seq": 2, "modseq": str(ms[2]),
            "flags": ["\\Flagged"]} in out["a"], out["a"]
    assert {"kind": "expunge", "uid": 3, "vanished": True,
            "earlier": False} in out["a"], out["a"]
    # QRESYNC SELECT: the same, as VANISHED (EARLIER) and FETCH
    assert out["qresync"] is True
    assert out["hms1"] == str(mailbox(site, "flow")["hms"])
    assert {"kind": "expunge", "uid": 3, "vanished": True,
            "earlier": True} in out["c"], out["c"]
    assert [e for e in out["c"] if e["kind"] == "flags"] == [
        {"kind": "flags", "uid": 2, "seq": 2, "modseq": str(ms[2]),
         "flags": ["\\Flagged"]}], out["c"]
    assert out["fetched"] == [{"uid": 2, "modseq": str(ms[2]),
                               "flags": ["\\Flagged"]}]
