"""imapd SEARCH BODY/TEXT through the full-text vector (messages.fts,
lib/mime_text.c, imapd/mailbox_db.c) and SELECT of a large mailbox read
in batches (imapd/mbox.c).

The vector holds the words of every header field and text body; BODY
and TEXT keys ANDed at the top only read the messages whose vector has
words starting with the string's words (or no vector at all), and the
exact substring match still decides.  A string that begins inside a word
is therefore not found with the index (documented, man/wharf-imapd.8),
and is with imap_fts = no."""
import os
import time

import pytest

from conftest import Instance
from test_imap_search import (Raw, b64, deliver, literals, mailbox_id,
                              search_line)

EXTRA = """
imap_plaintext_loopback = yes
argon2_memory_cost = 64k
argon2_time_cost = 1
"""
T = 15
ASAN = "asan" in (os.environ.get("WHARF_BUILD") or "")

MESSAGES = [
    # 1
    b"From: Alice Example <alice@example.org>\r\n"
    b"To: fts@s.test\r\n"
    b"Subject: Quarterly report\r\n"
    b"\r\n"
    b"The Elephant walked through Amsterdam yesterday.\r\n",
    # 2: encoded-word subject
    b"From: bob@example.net\r\n"
    b"To: fts@s.test\r\n"
    b"Subject: =?UTF-8?B?w5xiZXJyYXNjaHVuZyBQYXJ0eQ==?=\r\n"
    b"\r\n"
    b"see subject\r\n",
    # 3: base64 body
    b"From: carol@example.com\r\n"
    b"Subject: Base64\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + b64("The secret word is pineapple.\n"),
    # 4: quoted-printable ISO-8859-1 body
    b"From: dave@example.com\r\n"
    b"Subject: QP\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=FC=DFe aus M=FCnchen\r\n",
    # 5: HTML alternative, an image that is not text
    b"From: erin@example.com\r\n"
    b"Subject: html\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=\"B\"\r\n"
    b"\r\n"
    b"--B\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>Hello <b>Zeppelin</b>&nbsp;over&#160;Berlin</p>\r\n"
    b"--B\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + b64("zebra stripes") +
    b"--B--\r\n",
    # 6: tsquery syntax in the text
    b"From: frank@example.com\r\n"
    b"Subject: symbols\r\n"
    b"\r\n"
    b"price: a & b | c ! it's x:* back\\slash (paren) <-> done\r\n",
    # 7: its vector is made NULL by the test
    b"From: grace@example.com\r\n"
    b"Subject: no vector\r\n"
    b"\r\n"
    b"hidden kumquat\r\n",
]
N = len(MESSAGES)


@pytest.fixture(scope="module")
def site():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", "s.test", check=True)
        for u in ("fts", "bulk", "other"):
            inst.wharf("user", "add", f"{u}@s.test", input="pw\n",
                       check=True)
        for m in MESSAGES:
            deliver(inst, "fts", m)
        yield inst
    finally:
        inst.cleanup()


@pytest.fixture
def imap(site):
    c = Raw(site.ports["imap"]).login("fts@s.test")
    yield c
    c.close()


def search(c, criteria):
    lines, t = c.cmd(literals("SEARCH CHARSET UTF-8 " + criteria))
    assert b" OK " in t, (criteria, lines, t)
    return search_line(lines)


def test_vectors_stored(site):
    mb = mailbox_id(site, "fts")
    assert site.psql(f"select count(*) from messages where mailbox_id = "
                     f"{mb} and fts is null") == "0"
    # decoded words, folded, the prefix (Delivered-To) and field names
    for uid, q in ((1, "elephant & amsterdam & quarterly"),
                   (2, "überraschung & party"), (3, "pineapple"),
                   (4, "grüße & münchen"), (5, "zeppelin & berlin"),
                   (1, "delivered & fts & return & path & remote")):
        assert site.psql(f"select fts @@ to_tsquery('simple', '{q}') "
                         f"from messages where mailbox_id = {mb} and "
                         f"uid = {uid}") == "t", (uid, q)
    # not text: the image
    assert site.psql(f"select fts @@ 'zebra'::tsquery from messages "
                     f"where mailbox_id = {mb} and uid = 5") == "f"


@pytest.mark.parametrize("key,want", [
    ("BODY elephant", [1]),
    ("BODY ELEPHANT", [1]),
    ("BODY eleph", [1]),
    ("BODY \"walked through amst\"", [1]),
    ("BODY \"Elephant  walked\"", []),          # exact: two spaces
    ("TEXT quarterly", [1]),
    ("TEXT \"alice@example\"", [1]),
    ("TEXT \"\u00dcberraschung\"", [2]),
    ("TEXT \"\u00fcberraschung party\"", [2]),
    ("BODY pineapple", [3]),
    ("BODY \"m\u00fcnchen\"", [4]),
    ("BODY \"M\u00dcNCHEN\"", [4]),
    ("BODY \"gr\u00fc\u00dfe aus\"", [4]),
    ("BODY zeppelin", [5]),
    ("BODY \"<b>zeppelin</b>\"", [5]),
    ("BODY zebra", []),
    ("TEXT \"delivered-to: fts@s.test\"", list(range(1, N + 1))),
    ("BODY \"\"", list(range(1, N + 1))),
    ("NOT BODY elephant", list(range(2, N + 1))),
    ("OR BODY elephant BODY pineapple", [1, 3]),
    ("OR BODY nothing BODY pineapple", [3]),
    ("(BODY secret BODY word)", [3]),
    ("BODY secret BODY nothing", []),
    ("BODY secret SUBJECT base64", [3]),
    ("NOT (BODY elephant)", list(range(2, N + 1))),
    # tsquery syntax in the string: words only, exact match after
    ("BODY \"a & b\"", [6]),
    ("BODY \"a | c\"", []),
    ("BODY \"x:*\"", [6]),
    ("BODY \"!\"", [6]),
    ("BODY \"'\"", [6]),
    ("BODY \"it's\"", [6]),
    ("BODY \"\\\\\"", [6]),
    ("BODY \"back\\\\slash\"", [6]),
    ("BODY \"<->\"", [6]),
    ("BODY \"(paren)\"", [6]),
    ("BODY \"':* | !\"", []),
    ("BODY \"\\\"\"", []),
])
def test_search(imap, key, want):
    assert search(imap, key) == want


def test_mid_word_not_found(imap):
    """Documented: with the index a string starting inside a word is not
    found (the first word matches by prefix only)."""
    assert search(imap, "BODY lephant") == []
    assert search(imap, "BODY \"ineapple\"") == []
    assert search(imap, "TEXT xample") == []


def test_null_vector_read(site, imap):
    mb = mailbox_id(site, "fts")
    assert search(imap, "BODY kumquat") == [7]
    # another vector hides it: the index is what picks candidates
    site.psql(f"update messages set fts = 'other'::tsvector where "
              f"mailbox_id = {mb} and uid = 7")
    assert search(imap, "BODY kumquat") == []
    site.psql(f"update messages set fts = NULL where mailbox_id = {mb} "
              "and uid = 7")
    assert search(imap, "BODY kumquat") == [7]
    assert search(imap, "BODY kumq") == [7]
    assert search(imap, "BODY umquat") == [7]      # read whole: exact


def test_append_and_copy(site, imap):
    msg = (b"From: x@example.com\r\nSubject: =?ISO-8859-1?Q?caf=E9?=\r\n"
           b"\r\nappended kiwifruit\r\n")
    lines, t = imap.cmd(b"APPEND Archive {%d+}\r\n" % len(msg) + msg)
    assert b" OK [APPENDUID " in t, t
    arch = int(site.psql(
        "select x.id from mailboxes x join users u on u.id = x.user_id "
        "where u.localpart = 'fts' and x.name = 'Archive'"))
    assert site.psql(f"select fts @@ 'kiwifruit & café'::tsquery from "
                     f"messages where mailbox_id = {arch}") == "t"
    c = Raw(site.ports["imap"]).login("fts@s.test", "Archive")
    try:
        assert search(c, "BODY kiwi") == [1]
        assert search(c, "TEXT \"CAF\u00c9\"") == [1]
        _, t = c.cmd("COPY 1 INBOX")
        assert b" OK " in t, t
    finally:
        c.close()
    mb = mailbox_id(site, "fts")
    assert site.psql(f"select count(*) from messages where mailbox_id = "
                     f"{mb} and fts @@ 'kiwifruit'::tsquery") == "1"
    lines, t = imap.cmd("NOOP")
    assert search(imap, "BODY kiwifruit") == [N + 1]
    _, t = imap.cmd(f"STORE {N + 1} +FLAGS (\\Deleted)")
    _, t = imap.cmd("EXPUNGE")
    assert b" OK " in t, t


def test_index_reads_only_matches(site):
    """2,000 messages share one blob that holds the word; only 4 have it
    in their vector.  Every message read would match: the search finds
    exactly the 4, so the other 1,996 were never read."""
    deliver(site, "bulk", b"From: bulk@example.com\r\nSubject: bulk\r\n"
            b"\r\nthe needleword is here\r\n")
    mb = mailbox_id(site, "bulk")
    site.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, size, blob_id, "
        "  prefix, fts) "
        "select m.mailbox_id, g, x.highestmodseq, m.size, m.blob_id, "
        "  m.prefix, case when g % 500 = 0 then "
        "  'the needleword is here'::tsvector "
        "  else 'the haystack is here'::tsvector end "
        "from messages m, mailboxes x, generate_series(2, 2001) g "
        f"where m.mailbox_id = {mb} and m.uid = 1 and x.id = {mb}; "
        f"update mailboxes set uidnext = 2002 where id = {mb}; "
        "update blobs set refcount = refcount + 2000 where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit")
    c = Raw(site.ports["imap"]).login("bulk@s.test")
    try:
        assert search(c, "BODY needleword") == [1, 500, 1000, 1500, 2000]
        assert search(c, "BODY needle") == [1, 500, 1000, 1500, 2000]
        assert search(c, "TEXT \"NEEDLEWORD is\"") == \
            [1, 500, 1000, 1500, 2000]
        # under NOT and OR the index is not used: every message is read
        assert len(search(c, "NOT BODY needleword")) == 0
        assert len(search(c, "OR BODY needleword SEEN")) == 2001
    finally:
        c.close()


def test_fts_off(fresh):
    """imap_fts = no: exact substrings over every message."""
    inst = fresh(EXTRA + "imap_fts = no\n").start()
    inst.wharf("domain", "add", "s.test", check=True)
    inst.wharf("user", "add", "fts@s.test", input="pw\n", check=True)
    deliver(inst, "fts", MESSAGES[0])
    mb = mailbox_id(inst, "fts")
    c = Raw(inst.ports["imap"]).login("fts@s.test")
    try:
        assert search(c, "BODY lephant") == [1]
        assert search(c, "TEXT xample") == [1]
        inst.psql(f"update messages set fts = 'other'::tsvector where "
                  f"mailbox_id = {mb}")
        assert search(c, "BODY elephant") == [1]
    finally:
        c.close()


# ---- SELECT of a large mailbox ----

BIG = 100000


def imapd_pid(inst, client):
    """The imapd process serving a client socket (by the server side's
    socket inode)."""
    port = client.s.getsockname()[1]
    inodes = set()
    with open("/proc/net/tcp") as f:
        for ln in f.readlines()[1:]:
            p = ln.split()
            if int(p[2].split(":")[1], 16) == port and \
                    int(p[1].split(":")[1], 16) == inst.ports["imap"]:
                inodes.add(p[9])
    for pid in inst.service_pids("imapd"):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return pid
    raise AssertionError("no imapd serves the connection")


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    raise AssertionError(field)


def add_rows(inst, mb, n, fts):
    inst.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, size, blob_id, "
        "  prefix, fts) "
        f"select m.mailbox_id, g, x.highestmodseq, m.size, m.blob_id, "
        f"  m.prefix, {fts} "
        f"from messages m, mailboxes x, generate_series(2, {n}) g "
        f"where m.mailbox_id = {mb} and m.uid = 1 and x.id = {mb}; "
        f"update mailboxes set uidnext = {n + 1} where id = {mb}; "
        f"update blobs set refcount = refcount + {n - 1} where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit")


def test_select_large(fresh):
    inst = fresh(EXTRA).start()
    inst.wharf("domain", "add", "s.test", check=True)
    inst.wharf("user", "add", "big@s.test", input="pw\n", check=True)
    inst.wharf("user", "add", "else@s.test", input="pw\n", check=True)
    deliver(inst, "else", b"Subject: else\r\n\r\nsomeone else\r\n")
    deliver(inst, "big", b"From: big@example.com\r\nSubject: big\r\n"
            b"\r\none needleword body for all\r\n")
    # the table holds other users' mail too
    add_rows(inst, mailbox_id(inst, "else"), BIG,
             "'someone else'::tsvector")
    mb = mailbox_id(inst, "big")
    inst.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, flags, size, "
        "  blob_id, prefix, fts) "
        "select m.mailbox_id, g, x.highestmodseq, "
        "  case when g < 99000 then 1 else 0 end, m.size, m.blob_id, "
        "  m.prefix, case when g % 25000 = 0 then "
        "  'one needleword body'::tsvector else 'one body'::tsvector end "
        f"from messages m, mailboxes x, generate_series(2, {BIG}) g "
        f"where m.mailbox_id = {mb} and m.uid = 1 and x.id = {mb}; "
        f"update messages set flags = 1 where mailbox_id = {mb} "
        "and uid = 1; "
        f"update mailboxes set uidnext = {BIG + 1} where id = {mb}; "
        f"update blobs set refcount = refcount + {BIG - 1} where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit; analyze messages")
    c = Raw(inst.ports["imap"])
    try:
        _, t = c.cmd("LOGIN big@s.test pw")
        assert b" OK " in t, t
        pid = imapd_pid(inst, c)
        before = vm_kb(pid, "VmHWM")
        t0 = time.monotonic()
        lines, t = c.cmd("SELECT INBOX")
        assert b" OK [READ-WRITE]" in t, t
        assert b"* %d EXISTS" % BIG in lines, lines
        assert b"* OK [UIDNEXT %d] Predicted next UID" % (BIG + 1) in lines
        assert b"* OK [UNSEEN 99000] First unseen" in lines, lines
        assert b"* %d RECENT" % BIG in lines, lines
        lines, t = c.cmd("FETCH 99990:* (UID FLAGS)")
        assert b" OK " in t, t
        assert len(lines) == 11, lines
        assert lines[0] == b"* 99990 FETCH (UID 99990 FLAGS (\\Recent))"
        assert lines[-1] == b"* 100000 FETCH (UID 100000 FLAGS (\\Recent))"
        assert search(c, "BODY needleword") == [1, 25000, 50000, 75000,
                                                100000]
        assert time.monotonic() - t0 < 120
        grew = vm_kb(pid, "VmHWM") - before
        if not ASAN:        # ASan's quarantine keeps what was freed
            assert grew < 8 * 1024, f"imapd peak RSS grew {grew} kB"
        # a second session sees the same view
        d = Raw(inst.ports["imap"]).login("big@s.test", None)
        lines, t = d.cmd("EXAMINE INBOX")
        assert b"* %d EXISTS" % BIG in lines and b" OK " in t, t
        d.close()
    finally:
        c.close()
    # The candidate query goes through the GIN index at this size.
    plan = inst.psql(
        "explain SELECT m.uid FROM messages m JOIN blobs b "
        "ON b.id = m.blob_id "
        f"WHERE m.mailbox_id = {mb} AND m.uid > 0 AND m.uid <= {BIG} "
        "AND (TRUE) AND (m.fts IS NULL OR m.fts @@ "
        "to_tsquery('simple', '''needleword'':*')) "
        "ORDER BY m.uid + 0 LIMIT 2000")
    assert "messages_fts_idx" in plan, plan
    assert "messages_fts_null_idx" in plan, plan


def test_select_batches_and_changes(site):
    """A mailbox of a few batches changing while a session selects it:
    the next command's sync makes the view right."""
    deliver(site, "other", b"From: o@example.com\r\nSubject: o\r\n\r\nx\r\n")
    mb = mailbox_id(site, "other")
    n = 25000
    site.psql(
        "begin; "
        "insert into messages (mailbox_id, uid, modseq, size, blob_id, "
        "  prefix) "
        "select m.mailbox_id, g, x.highestmodseq, m.size, m.blob_id, "
        "  m.prefix "
        f"from messages m, mailboxes x, generate_series(2, {n}) g "
        f"where m.mailbox_id = {mb} and m.uid = 1 and x.id = {mb}; "
        f"update mailboxes set uidnext = {n + 1} where id = {mb}; "
        f"update blobs set refcount = refcount + {n - 1} where id = "
        f"(select blob_id from messages where mailbox_id = {mb} "
        "and uid = 1); commit")
    a = Raw(site.ports["imap"]).login("other@s.test", None)
    b = Raw(site.ports["imap"]).login("other@s.test")
    try:
        # a selects while b expunges the last message and a new one comes
        a.send(b"s1 SELECT INBOX\r\n")
        _, t = b.cmd(f"UID STORE {n} +FLAGS.SILENT (\\Deleted)")
        _, t = b.cmd("EXPUNGE")
        assert b" OK " in t, t
        lines, t = a.until(b"s1")
        assert b" OK " in t, t
        exists = [ln for ln in lines if ln.endswith(b" EXISTS")]
        assert exists in ([b"* %d EXISTS" % n], [b"* %d EXISTS" % (n - 1)])
        deliver(site, "other", b"Subject: late\r\n\r\nlate\r\n")
        lines, t = a.cmd("NOOP")
        lines2, _ = a.cmd("UID SEARCH ALL")
        uids = search_line(lines2)
        assert len(uids) == n and uids[-1] == n + 1 and n not in uids
        # the sync reads changes in batches too: 25,000 flag changes
        _, t = b.cmd("NOOP")
        _, t = b.cmd("STORE 1:* +FLAGS.SILENT (\\Flagged)")
        assert b" OK " in t, t
        lines, t = a.cmd("NOOP")
        assert b" OK " in t, t
        fetches = [ln for ln in lines if b" FETCH (" in ln]
        assert len(fetches) == n == len(lines), lines[:3]
        assert all(b"\\Flagged" in ln for ln in fetches)
        assert fetches[0].startswith(b"* 1 FETCH (UID 1 FLAGS (")
        assert fetches[-1].startswith(b"* %d FETCH (UID %d " % (n, n + 1))
        # and 12,000 expunges, all before anything else
        _, t = b.cmd("STORE 1:12000 +FLAGS.SILENT (\\Deleted)")
        _, t = b.cmd("STORE 12001 -FLAGS.SILENT (\\Flagged)")
        _, t = b.cmd("EXPUNGE")
        assert b" OK " in t, t
        lines, t = a.cmd("NOOP")
        assert lines[:12000] == [b"* 1 EXPUNGE"] * 12000, lines[:3]
        assert lines[12000:] == [b"* 1 FETCH (UID 12001 FLAGS ())"], \
            lines[12000:]
        lines2, _ = a.cmd("UID SEARCH ALL")
        assert search_line(lines2) == uids[12000:]
    finally:
        a.close()
        b.close()

