"""imapd: the mailbox commands — CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, LIST (LIST-EXTENDED, SPECIAL-USE, LIST-STATUS), LSUB, STATUS,
APPEND, COPY, MOVE — against the real suite over loopback.

A raw client where the bytes on the wire matter, imaplib where a real
client's view does; the database (psql) and the blob store are checked
for what the protocol does not show (FETCH is not needed).  One instance
for the module (plaintext IMAP on loopback, message_size_limit = 2m);
every test gets a user of its own.
"""
import base64
import imaplib
import itertools
import os
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import Instance, wait_for

T = 15
LIMIT = 2 * 1024 * 1024
DEFAULTS = {"INBOX": None, "Drafts": "\\Drafts", "Sent": "\\Sent",
            "Trash": "\\Trash", "Junk": "\\Junk", "Archive": "\\Archive"}
MSG = (b"From: Alice <alice@a.test>\r\nTo: bob@a.test\r\n"
       b"Subject: hello there\r\nMessage-ID: <m1@a.test>\r\n"
       b"Date: Fri, 05 Jan 2024 13:04:05 +0100\r\n\r\nHi Bob.\r\n")


@pytest.fixture(scope="module")
def srv():
    inst = Instance("imap_plaintext_loopback = yes\n"
                    "argon2_memory_cost = 64k\nargon2_time_cost = 1\n"
                    "message_size_limit = 2m\n").start()
    inst.wharf("domain", "add", "a.test", check=True)
    wait_for(lambda: os.path.exists(os.path.join(
        inst.dir, "run", "private")), 30, "run dir")
    yield inst
    inst.cleanup()


COUNTER = itertools.count(1)


@pytest.fixture
def user(srv):
    name = f"u{next(COUNTER)}@a.test"
    srv.wharf("user", "add", name, input="pw\n", check=True)
    return name


def uid_of(srv, user):
    local = user.split("@")[0]
    return srv.psql(f"select id from users where localpart = '{local}'")


# ---- a raw IMAP client ----


class Raw:
    """One connection; commands in, (untagged lines, tagged line) out."""

    def __init__(self, srv, tls=False, port=None):
        port = port or srv.ports["imaps" if tls else "imap"]
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=T)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.buf = b""
        self.tags = itertools.count(1)
        self.greeting = self.line()

    def close(self):
        self.sock.close()

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, tag):
        lines = []
        while True:
            ln = self.line()
            m = re.search(rb"\{(\d+)\}$", ln)
            if m:               # a literal in a response: keep it inline
                n = int(m.group(1))
                while len(self.buf) < n:
                    self.buf += self.sock.recv(65536)
                ln += b"\r\n" + self.buf[:n]
                self.buf = self.buf[n:]
                ln += self.line()
            if ln.startswith(tag + b" "):
                return lines, ln
            lines.append(ln)

    def send(self, data):
        self.sock.sendall(data)

    def lines_until_eof(self):
        out = []
        try:
            while True:
                out.append(self.line())
        except EOFError:
            return out

    def tag(self):
        return b"t%d" % next(self.tags)

    def cmd(self, text):
        if isinstance(text, str):
            text = text.encode()
        tag = self.tag()
        self.send(tag + b" " + text + b"\r\n")
        return self.read_response(tag)

    def ok(self, text):
        lines, done = self.cmd(text)
        assert done.split(b" ")[1] == b"OK", (text, lines, done)
        return lines, done

    def login(self, user, pw="pw"):
        return self.ok(f'LOGIN "{user}" "{pw}"')

    def append(self, mbox, msg, flags=None, date=None, plus=False):
        tag = self.tag()
        args = mbox if isinstance(mbox, bytes) else mbox.encode()
        if flags is not None:
            args += b" (" + flags.encode() + b")"
        if date is not None:
            args += b' "' + date.encode() + b'"'
        if plus:
            self.send(tag + b" APPEND " + args + b" {%d+}\r\n" % len(msg) +
                      msg + b"\r\n")
        else:
            self.send(tag + b" APPEND " + args + b" {%d}\r\n" % len(msg))
            cont = self.line()
            if not cont.startswith(b"+"):
                return [], cont
            self.send(msg + b"\r\n")
        return self.read_response(tag)


def session(srv, user, **kw):
    c = Raw(srv, **kw)
    c.login(user)
    return c


def status_of(done, code):
    m = re.search(rb"\[" + code + rb" ([^\]]*)\]", done)
    assert m, done
    return m.group(1).decode()


def list_names(lines, kind=b"LIST"):
    """{name: attributes} of LIST/LSUB lines."""
    out = {}
    for ln in lines:
        m = re.match(rb'\* ' + kind + rb' \(([^)]*)\) "/" "((?:[^"\\]|\\.)*)"',
                     ln)
        if m:
            out[m.group(2).decode()] = m.group(1).decode().split()
    return out


def status_items(line):
    m = re.match(rb'\* STATUS "?(.*?)"? \((.*)\)$', line)
    assert m, line
    v = m.group(2).decode().split()
    return m.group(1).decode(), dict(zip(v[::2], (int(x) for x in v[1::2])))


def mutf7(s):
    """RFC 3501 5.1.3 modified UTF-7."""
    out, run = "", ""
    for ch in s + "\0":
        if " " <= ch <= "~" or ch == "\0":
            if run:
                b = base64.b64encode(run.encode("utf-16-be")).decode()
                out += "&" + b.rstrip("=").replace("/", ",") + "-"
                run = ""
            if ch != "\0":
                out += "&-" if ch == "&" else ch
        else:
            run += ch
    return out


def blob_path(srv, name):
    return os.path.join(srv.dir, "state", "blobs", name[:2], name)


def blob_files(srv):
    root = os.path.join(srv.dir, "state", "blobs")
    out = set()
    for d, _, files in os.walk(root):
        if os.path.basename(d) != "tmp":
            out |= set(files)
    return out


def mailbox_id(srv, user, name):
    return srv.psql(f"select id from mailboxes where user_id = "
                    f"{uid_of(srv, user)} and name = '{name}'")


def fill(c, mbox, n, flags=None):
    uids = []
    for i in range(n):
        _, done = c.append(mbox, MSG + b"n=%d\r\n" % i, flags=flags,
                           plus=True)
        assert b"OK" in done, done
        uids.append(int(status_of(done, b"APPENDUID").split()[1]))
    return uids


# ---- capabilities and the default folders ----


def test_capabilities(srv, user):
    c = Raw(srv)
    lines, _ = c.ok("CAPABILITY")
    assert b"APPENDLIMIT" not in lines[0] and b" MOVE" not in lines[0]
    _, done = c.login(user)
    caps = done.split(b"[CAPABILITY ", 1)[1].split(b"]")[0].split()
    for cap in (b"CHILDREN", b"LIST-EXTENDED", b"SPECIAL-USE",
                b"LIST-STATUS", b"STATUS=SIZE", b"UIDPLUS", b"MOVE",
                b"APPENDLIMIT=%d" % LIMIT):
        assert cap in caps, caps
    lines, _ = c.ok("CAPABILITY")
    assert lines[0].split()[2:] == caps


def test_default_folders_made_at_first_login(srv, user):
    uid = uid_of(srv, user)
    assert srv.psql(f"select count(*) from mailboxes where user_id={uid}") \
        == "0"
    c = session(srv, user)
    names = list_names(c.ok('LIST "" "*"')[0])
    assert set(names) == set(DEFAULTS)
    for name, use in DEFAULTS.items():
        assert (use in names[name]) if use else \
            names[name] == ["\\HasNoChildren"], (name, names[name])
    lines, _ = c.ok("SELECT INBOX")
    assert b"* 0 EXISTS" in lines
    # INBOX is first, and the others follow in order
    lines = c.ok('LIST "" "*"')[0]
    assert lines[0] == b'* LIST (\\HasNoChildren) "/" "INBOX"'
    # a deleted default folder stays deleted at the next login
    c.ok("DELETE Junk")
    c.ok("LOGOUT")
    c = session(srv, user)
    assert "Junk" not in list_names(c.ok('LIST "" "*"')[0])
    assert srv.psql(f"select count(*) from mailboxes where user_id={uid}") \
        == "5"


def test_delivery_into_inbox_made_by_login(srv, user):
    c = session(srv, user)
    v1 = status_items(c.ok("STATUS INBOX (UIDVALIDITY)")[0][0])[1]
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=T) as s:
        s.sendmail("x@remote.example", [user], MSG)
    wait_for(lambda: status_items(c.ok("STATUS INBOX (MESSAGES)")[0][0])
             [1]["MESSAGES"] == 1, 30, "delivery")
    _, st = status_items(c.ok("STATUS INBOX (UIDVALIDITY UIDNEXT)")[0][0])
    assert st == {"UIDVALIDITY": v1["UIDVALIDITY"], "UIDNEXT": 2}


def test_commands_need_login_or_selection(srv, user):
    c = Raw(srv)
    for cmd in ('CREATE x', 'LIST "" "*"', 'STATUS INBOX (MESSAGES)',
                'APPEND INBOX {1+}\r\nx', 'COPY 1 x'):
        _, done = c.cmd(cmd)
        assert done.split(b" ")[1] == b"BAD", (cmd, done)
    c.login(user)
    for cmd in ('COPY 1 Trash', 'MOVE 1 Trash', 'UID COPY 1 Trash'):
        _, done = c.cmd(cmd)
        assert b"BAD" in done and b"without a selected mailbox" in done


# ---- CREATE ----


def test_create_makes_superiors(srv, user):
    c = session(srv, user)
    lines, done = c.ok("CREATE a/b/c")
    assert done.endswith(b"OK CREATE completed")
    names = list_names(c.ok('LIST "" "a*"')[0])
    assert names == {"a": ["\\HasChildren"], "a/b": ["\\HasChildren"],
                     "a/b/c": ["\\HasNoChildren"]}
    _, done = c.cmd("CREATE a/b/c")
    assert done.endswith(b"NO [ALREADYEXISTS] Mailbox exists")
    c.ok("CREATE a/b/d")          # superiors that exist are fine
    _, done = c.cmd("CREATE a")
    assert b"[ALREADYEXISTS]" in done


def test_create_trailing_delimiter_and_inbox(srv, user):
    c = session(srv, user)
    c.ok('CREATE "x/"')
    assert "x" in list_names(c.ok('LIST "" "x*"')[0])
    _, done = c.cmd("CREATE x")
    assert b"[ALREADYEXISTS]" in done
    for name in ("INBOX", "inbox", "Inbox/"):
        _, done = c.cmd(f'CREATE "{name}"')
        assert b"NO [ALREADYEXISTS]" in done, (name, done)
    # "inbox/sub" is under INBOX
    c.ok('CREATE "inbox/Sub"')
    names = list_names(c.ok('LIST "" "*"')[0])
    assert "INBOX/Sub" in names and names["INBOX"] == ["\\HasChildren"]


def test_create_refuses_bad_names(srv, user):
    c = session(srv, user)
    for name in ("/x", "a//b", "a*b", "a%b", "x" * 1001):
        _, done = c.cmd(f'CREATE "{name}"')
        assert b"NO [CANNOT]" in done, (name, done)
    _, done = c.cmd("CREATE {3+}\r\na\tb")
    assert b"NO [CANNOT]" in done or b"BAD" in done
    for cmd in ("CREATE", "CREATE a b", 'CREATE "&Jjo"'):
        _, done = c.cmd(cmd)
        assert done.split(b" ")[1] == b"BAD", (cmd, done)
    uid = uid_of(srv, user)
    assert srv.psql(f"select count(*) from mailboxes where user_id={uid}") \
        == "6"


def test_uidvalidity_new_for_recreated_name(srv, user):
    """A new mailbox gets the time in seconds, or more than every
    UIDVALIDITY the user's mailboxes have.  (Known gap, no table keeps it:
    a name deleted while its UIDVALIDITY was the user's highest and made
    again before the clock passes that value gets it again.)"""
    c = session(srv, user)

    def uidvalidity(name):
        return status_items(c.ok(f"STATUS {name} (UIDVALIDITY)")[0][0])[1][
            "UIDVALIDITY"]
    c.ok("CREATE again")
    v1 = uidvalidity("again")
    assert abs(v1 - time.time()) < 600
    c.ok("CREATE newer")            # within the same second: more
    vn = uidvalidity("newer")
    assert vn > v1
    c.ok("DELETE again")
    c.ok("CREATE again")
    assert uidvalidity("again") > vn
    c.ok("RENAME again moved")      # RENAME keeps it
    assert uidvalidity("moved") > vn


# ---- names: modified UTF-7 and UTF-8 ----


def test_non_ascii_names_round_trip(srv, user):
    c = session(srv, user)
    c.ok('CREATE "Entw&APw-rfe"')
    assert "Entw&APw-rfe" in list_names(c.ok('LIST "" "*"')[0])
    uid = uid_of(srv, user)
    assert srv.psql(f"select count(*) from mailboxes where user_id={uid} "
                    f"and name = 'Entwürfe'") == "1"
    lines, _ = c.ok('LIST "" "Entw&APw-*"')
    assert lines == [b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"']
    c.ok('STATUS "Entw&APw-rfe" (MESSAGES)')
    # an UTF-8 client sees and sends UTF-8
    u = session(srv, user)
    u.ok("ENABLE UTF8=ACCEPT")
    lines, _ = u.ok('LIST "" "Entw*"')
    assert lines == ['* LIST (\\HasNoChildren) "/" "Entwürfe"'.encode()]
    u.ok('CREATE "Тест/日本"'.encode())
    lines, _ = c.ok('LIST "" "' + mutf7("Т") + '*"')
    assert list_names(lines) == {mutf7("Тест"): ["\\HasChildren"],
                                 mutf7("Тест/日本"): ["\\HasNoChildren"]}
    assert mutf7("Тест/日本") == "&BCIENQRBBEI-/&ZeVnLA-"
    _, done = c.cmd('CREATE "&Jjo"')          # not modified UTF-7
    assert b"BAD" in done


# ---- LIST and LSUB ----


@pytest.fixture
def tree(srv, user):
    c = session(srv, user)
    for name in ("a/b/c", "a/d", "ab", "x/y"):
        c.ok(f"CREATE {name}")
    return c


def test_list_delimiter(tree):
    lines, done = tree.ok('LIST "" ""')
    assert lines == [b'* LIST (\\Noselect) "/" ""']
    assert done.endswith(b"OK LIST completed")
    lines, _ = tree.ok('LIST "a" ""')
    assert lines == [b'* LIST (\\Noselect) "/" ""']


def test_list_percent_and_star(tree):
    top = list_names(tree.ok('LIST "" "%"')[0])
    assert set(top) == set(DEFAULTS) | {"a", "ab", "x"}
    assert list_names(tree.ok('LIST "" "a/%"')[0]) == {
        "a/b": ["\\HasChildren"], "a/d": ["\\HasNoChildren"]}
    assert set(list_names(tree.ok('LIST "" "a/*"')[0])) == {
        "a/b", "a/b/c", "a/d"}
    assert set(list_names(tree.ok('LIST "" "%/%"')[0])) == {
        "a/b", "a/d", "x/y"}
    assert set(list_names(tree.ok('LIST "" "*/%"')[0])) == {
        "a/b", "a/b/c", "a/d", "x/y"}
    assert set(list_names(tree.ok('LIST "" "a%"')[0])) == {"a", "ab"}
    assert set(list_names(tree.ok('LIST "" "*c"')[0])) == {"a/b/c"}
    assert tree.ok('LIST "" "nothing*"')[0] == []
    # the reference goes in front of the pattern
    assert set(list_names(tree.ok('LIST "a/" "%"')[0])) == {"a/b", "a/d"}
    assert set(list_names(tree.ok('LIST a/b/ *')[0])) == {"a/b/c"}
    # INBOX in any case
    assert set(list_names(tree.ok('LIST "" "inbox"')[0])) == {"INBOX"}
    assert set(list_names(tree.ok('LIST "" "InBoX%"')[0])) == {"INBOX"}
    assert set(list_names(tree.ok('LIST "" "i%X"')[0])) == {"INBOX"}
    assert set(list_names(tree.ok('LIST "inBOX" "*"')[0])) == {"INBOX"}
    # a literal pattern, and many wildcards are no trouble
    assert set(list_names(tree.ok('LIST "" {3+}\r\nx/%')[0])) == {"x/y"}
    t0 = time.monotonic()
    assert tree.ok('LIST "" "' + "*%" * 400 + 'q"')[0] == []
    assert time.monotonic() - t0 < 5


def test_list_long_output_and_work_limit(srv, user):
    """Over 4 MB of LIST (the output queue's size) comes out whole as the
    client reads it; patterns that would take too long are refused."""
    c = session(srv, user)
    uid = uid_of(srv, user)
    srv.psql("insert into mailboxes (user_id, name, uidvalidity) "
             f"select {uid}, 'Big' || lpad(g::text, 5, '0') || "
             "repeat('x', 900), 1 from generate_series(1, 3000) g")
    time.sleep(0.5)         # a client slow to read
    lines, done = c.ok('LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT))')
    assert sum(map(len, lines)) > 5 * 1024 * 1024
    names = list_names(lines)
    assert len(names) == 3006 and len(lines) == 2 * 3006
    assert all(ln.endswith(b"(MESSAGES 0 UIDNEXT 1)")
               for ln in lines[1::2])
    t0 = time.monotonic()
    _, done = c.cmd('LIST "" "' + "*x" * 1000 + '"')
    assert done.split(b" ")[1:3] == [b"NO", b"[LIMIT]"], done
    assert time.monotonic() - t0 < 5
    lines, _ = c.ok('LIST "" "Big00007*"')
    assert len(lines) == 1


def test_list_syntax_errors(tree):
    for cmd in ('LIST', 'LIST ""', 'LIST "" "*" extra', 'LIST (BOGUS) "" "*"',
                'LIST (RECURSIVEMATCH) "" "*"', 'LIST "" "*" RETURN (BOGUS)',
                'LIST "" "*" RETURN (STATUS (BOGUS))',
                'LIST "" "*" RETURN (STATUS ())', 'LSUB "" ("a" "b")',
                'LIST "" "' + "x" * 3000 + '"'):
        _, done = tree.cmd(cmd)
        assert done.split(b" ")[1] == b"BAD", (cmd, done)


def test_list_special_use(srv, user):
    c = session(srv, user)
    c.ok("CREATE Other")
    lines, _ = c.ok('LIST (SPECIAL-USE) "" "*"')
    assert list_names(lines) == {
        name: ["\\HasNoChildren", use] for name, use in DEFAULTS.items()
        if use}
    lines, _ = c.ok('LIST "" "*" RETURN (SPECIAL-USE)')
    assert list_names(lines)["Sent"] == ["\\HasNoChildren", "\\Sent"]
    assert list_names(lines)["Other"] == ["\\HasNoChildren"]
    lines, _ = c.ok('LIST "" "%" RETURN (CHILDREN)')
    assert list_names(lines)["Trash"] == ["\\HasNoChildren", "\\Trash"]


def test_subscriptions(srv, user):
    c = session(srv, user)
    c.ok("CREATE p/q")
    lines, _ = c.ok('LIST "" "*" RETURN (SUBSCRIBED)')
    names = list_names(lines)
    assert all("\\Subscribed" in a for a in names.values()), names
    c.ok("UNSUBSCRIBE Junk")
    c.ok("UNSUBSCRIBE p")
    names = list_names(c.ok('LIST "" "*" RETURN (SUBSCRIBED)')[0])
    assert "\\Subscribed" not in names["Junk"]
    assert "\\Subscribed" in names["Sent"]
    sub = list_names(c.ok('LIST (SUBSCRIBED) "" "*"')[0])
    assert "Junk" not in sub and "p" not in sub and "p/q" in sub
    assert "\\Subscribed" in sub["p/q"]
    lsub = list_names(c.ok('LSUB "" "*"')[0], b"LSUB")
    assert "Junk" not in lsub and "p" not in lsub and lsub["p/q"] == []
    # RFC 3501 6.3.9: "%" shows the unsubscribed level as \Noselect
    lines, _ = c.ok('LSUB "" "p%"')
    assert lines == [b'* LSUB (\\Noselect) "/" "p"']
    # RFC 5258 RECURSIVEMATCH: p has a subscribed child
    lines, _ = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert b'* LIST (\\HasChildren) "/" "p" ("CHILDINFO" ("SUBSCRIBED"))' \
        in lines
    lines, _ = c.ok('LIST (SUBSCRIBED) "" "%"')
    assert "p" not in list_names(lines)
    # more than one pattern
    lines, _ = c.ok('LIST (SUBSCRIBED) "" ("Sent" "Junk" "p/*")')
    assert set(list_names(lines)) == {"Sent", "p/q"}
    c.ok("SUBSCRIBE Junk")
    assert "Junk" in list_names(c.ok('LSUB "" "*"')[0], b"LSUB")
    # a name without a mailbox can be subscribed (RFC 9051 6.3.7; the
    # details are in test_imap_subscriptions.py)
    _, done = c.cmd("SUBSCRIBE nonexistent")
    assert done.endswith(b"OK SUBSCRIBE completed")
    assert c.ok('LSUB "" "non*"')[0] == [
        b'* LSUB (\\Noselect) "/" "nonexistent"']
    c.ok("UNSUBSCRIBE nonexistent")
    _, done = c.cmd("UNSUBSCRIBE nonexistent")
    assert done.endswith(b"NO [NONEXISTENT] Not subscribed")
    _, done = c.cmd("SUBSCRIBE")
    assert b"BAD" in done


def test_list_status(srv, user):
    c = session(srv, user)
    fill(c, "INBOX", 3)
    fill(c, "Trash", 2, flags="\\Seen")
    lines, _ = c.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    # each STATUS right after its LIST line (RFC 5819)
    assert len(lines) == 12
    for ln, st in zip(lines[::2], lines[1::2]):
        name = list(list_names([ln]))[0]
        sname, items = status_items(st)
        assert sname == name
        want = {"INBOX": 3, "Trash": 2}.get(name, 0)
        assert items["MESSAGES"] == want
        assert items["UNSEEN"] == (3 if name == "INBOX" else 0)
        assert items["SIZE"] == sum(len(MSG) + len(b"n=%d\r\n" % i)
                                    for i in range(want))


# ---- STATUS ----


def test_status(srv, user):
    c = session(srv, user)
    uids = fill(c, "INBOX", 2) + fill(c, "INBOX", 1, flags="\\Seen \\Deleted")
    assert uids == [1, 2, 3]
    lines, done = c.ok("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY "
                       "UNSEEN SIZE DELETED)")
    assert done.endswith(b"OK STATUS completed")
    name, st = status_items(lines[0])
    uv = srv.psql(f"select uidvalidity from mailboxes where id = "
                  f"{mailbox_id(srv, user, 'INBOX')}")
    size = srv.psql(f"select sum(size) from messages where mailbox_id = "
                    f"{mailbox_id(srv, user, 'INBOX')}")
    assert name == "INBOX"
    # Appended and not yet seen by a SELECT: \Recent (RFC 3501 6.3.11).
    assert st == {"MESSAGES": 3, "RECENT": 3, "UIDNEXT": 4,
                  "UIDVALIDITY": int(uv), "UNSEEN": 2, "SIZE": int(size),
                  "DELETED": 1}
    # in the order asked
    lines, _ = c.ok("status inbox (size messages)")
    assert re.match(rb'\* STATUS "INBOX" \(SIZE \d+ MESSAGES 3\)$', lines[0])
    _, done = c.cmd("STATUS nonexistent (MESSAGES)")
    assert done.endswith(b"NO [NONEXISTENT] No such mailbox")
    lines, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")     # RFC 7162 3.1.6
    hms = srv.psql(f"select highestmodseq from mailboxes where id = "
                   f"{mailbox_id(srv, user, 'INBOX')}")
    assert lines[0].endswith(f"(HIGHESTMODSEQ {hms})".encode()), lines
    for cmd in ("STATUS INBOX (BOGUS)", "STATUS INBOX ()", "STATUS INBOX",
                "STATUS INBOX MESSAGES"):
        _, done = c.cmd(cmd)
        assert done.split(b" ")[1] == b"BAD", (cmd, done)


# ---- DELETE ----


def test_delete(srv, user):
    c = session(srv, user)
    _, done = c.cmd("DELETE INBOX")
    assert b"NO [CANNOT]" in done
    _, done = c.cmd("DELETE inbox")
    assert b"NO [CANNOT]" in done
    _, done = c.cmd("DELETE nonexistent")
    assert done.endswith(b"NO [NONEXISTENT] No such mailbox")
    c.ok("CREATE d/e")
    _, done = c.cmd("DELETE d")
    assert b"NO [HASCHILDREN]" in done
    c.ok("DELETE d/e")
    c.ok("DELETE d")
    assert "d" not in list_names(c.ok('LIST "" "*"')[0])
    c.ok("DELETE Sent")            # special-use folders may go


def test_delete_drops_blob_references(srv, user):
    c = session(srv, user)
    c.ok("CREATE Box")
    fill(c, "Box", 3)
    c.ok("SELECT Box")
    c.ok("COPY 1:2 INBOX")
    c.ok("UNSELECT")
    box = mailbox_id(srv, user, "Box")
    blobs = srv.psql(f"select string_agg(blob_id::text, ',' order by uid) "
                     f"from messages where mailbox_id = {box}")
    assert srv.psql(f"select string_agg(refcount::text, ',' order by id) "
                    f"from blobs where id in ({blobs})") == "2,2,1"
    c.ok("DELETE Box")
    assert srv.psql(f"select string_agg(refcount::text, ',' order by id) "
                    f"from blobs where id in ({blobs})") == "1,1,0"
    assert srv.psql(f"select count(*) from messages where mailbox_id = "
                    f"{box}") == "0"
    assert srv.psql(f"select count(*) from mailboxes where id = {box}") == "0"


def test_delete_selected_mailbox(srv, user):
    c = session(srv, user)
    c.ok("CREATE Gone")
    fill(c, "Gone", 1)
    other = session(srv, user)
    other.ok("SELECT Gone")
    c.ok("SELECT Gone")
    lines, done = c.ok("DELETE Gone")
    assert lines == [b"* OK [CLOSED] The selected mailbox was deleted"]
    _, done = c.cmd("CLOSE")
    assert b"BAD" in done          # no mailbox selected any more
    # another session with it selected is told at its next command
    other.send(b"n NOOP\r\n")
    assert other.lines_until_eof() == [
        b"* BYE The selected mailbox was deleted"]


# ---- RENAME ----


def test_rename_with_children(srv, user):
    c = session(srv, user)
    c.ok("CREATE a/x/y")
    fill(c, "a/x", 2)
    before = srv.psql(f"select string_agg(id || ':' || uidvalidity, ',' "
                      f"order by name) from mailboxes where user_id = "
                      f"{uid_of(srv, user)} and name like 'a%'")
    _, done = c.ok("RENAME a b")
    assert done.endswith(b"OK RENAME completed")
    names = list_names(c.ok('LIST "" "*"')[0])
    assert {"b", "b/x", "b/x/y"} <= set(names) and "a" not in names
    after = srv.psql(f"select string_agg(id || ':' || uidvalidity, ',' "
                     f"order by name) from mailboxes where user_id = "
                     f"{uid_of(srv, user)} and name like 'b%'")
    assert before == after          # same mailboxes, UIDs stay valid
    st = status_items(c.ok("STATUS b/x (MESSAGES UIDNEXT)")[0][0])[1]
    assert st == {"MESSAGES": 2, "UIDNEXT": 3}
    # into a new hierarchy: its superiors are made
    c.ok("RENAME b/x n/m/k")
    names = list_names(c.ok('LIST "" "*"')[0])
    assert {"n", "n/m", "n/m/k", "n/m/k/y", "b"} <= set(names)
    assert names["b"] == ["\\HasNoChildren"]


def test_rename_errors(srv, user):
    c = session(srv, user)
    c.ok("CREATE r1/c")
    c.ok("CREATE r2")
    _, done = c.cmd("RENAME r1 r2")
    assert b"NO [ALREADYEXISTS]" in done
    _, done = c.cmd("RENAME r1 INBOX")
    assert b"NO [ALREADYEXISTS]" in done
    _, done = c.cmd("RENAME nonexistent r3")
    assert done.endswith(b"NO [NONEXISTENT] No such mailbox")
    _, done = c.cmd("RENAME r1 r1/c/deeper")
    assert b"NO [CANNOT]" in done
    _, done = c.cmd('RENAME r1 "a//b"')
    assert b"NO [CANNOT]" in done
    _, done = c.cmd("RENAME r1")
    assert b"BAD" in done
    assert {"r1", "r1/c", "r2"} <= set(list_names(c.ok('LIST "" "*"')[0]))


def test_rename_inbox(srv, user):
    c = session(srv, user)
    c.ok('CREATE "INBOX/Keep"')
    fill(c, "INBOX", 3, flags="\\Flagged")
    watcher = session(srv, user)
    watcher.ok("SELECT INBOX")
    inbox = mailbox_id(srv, user, "INBOX")
    uv_inbox = srv.psql(f"select uidvalidity from mailboxes where id={inbox}")
    c.ok("RENAME INBOX Old/In")
    st = status_items(c.ok("STATUS Old/In (MESSAGES UIDNEXT UIDVALIDITY "
                           "UNSEEN)")[0][0])[1]
    assert st["MESSAGES"] == 3 and st["UIDNEXT"] == 4
    assert st["UIDVALIDITY"] > int(uv_inbox)
    old = mailbox_id(srv, user, "Old/In")
    assert srv.psql(f"select string_agg(uid || ':' || flags, ',' order by "
                    f"uid) from messages where mailbox_id = {old}") \
        == "1:4,2:4,3:4"
    st = status_items(c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)")
                      [0][0])[1]
    assert st == {"MESSAGES": 0, "UIDNEXT": 4, "UIDVALIDITY": int(uv_inbox)}
    names = list_names(c.ok('LIST "" "*"')[0])
    assert {"INBOX", "INBOX/Keep", "Old", "Old/In"} <= set(names)
    assert srv.psql(f"select string_agg(uid::text, ',' order by uid) from "
                    f"expunged where mailbox_id = {inbox}") == "1,2,3"
    lines, _ = watcher.ok("NOOP")
    assert lines == [b"* 1 EXPUNGE"] * 3
    _, done = c.cmd("RENAME INBOX Old/In")
    assert b"NO [ALREADYEXISTS]" in done
    c.ok("APPEND INBOX {3+}\r\nabc")     # INBOX still works
    c.ok("RENAME inbox INBOX/Old")          # under itself: fine for INBOX
    st = status_items(c.ok('STATUS "INBOX/Old" (MESSAGES UIDNEXT)')[0][0])[1]
    assert st == {"MESSAGES": 1, "UIDNEXT": 2}
    st = status_items(c.ok("STATUS INBOX (MESSAGES UIDNEXT)")[0][0])[1]
    assert st == {"MESSAGES": 0, "UIDNEXT": 5}


# ---- APPEND ----


def test_append_stored_exactly(srv, user):
    c = session(srv, user)
    files = blob_files(srv)
    _, done = c.append("INBOX", MSG, flags="\\Seen \\Flagged $Label1",
                       date="05-Jan-2024 13:04:05 +0100")
    m = re.search(rb"OK \[APPENDUID (\d+) (\d+)\] APPEND completed$", done)
    assert m, done
    box = mailbox_id(srv, user, "INBOX")
    assert m.group(1).decode() == srv.psql(
        f"select uidvalidity from mailboxes where id = {box}")
    assert m.group(2) == b"1"
    row = srv.psql(
        "select m.flags, array_to_string(m.keywords, ' '), "
        "to_char(m.internaldate at time zone 'UTC', "
        "'YYYY-MM-DD HH24:MI:SS'), m.size, b.name, b.size, b.refcount, "
        "m.modseq = x.highestmodseq, length(m.prefix) "
        f"from messages m join blobs b on b.id = m.blob_id join mailboxes x "
        f"on x.id = m.mailbox_id where m.mailbox_id = {box} and m.uid = 1")
    flags, kw, date, size, blob, bsize, ref, modseq, plen = row.split("|")
    assert flags == "5" and kw == "$Label1"
    assert date == "2024-01-05 12:04:05"
    assert int(size) == int(bsize) == len(MSG) and ref == "1"
    assert modseq == "t" and plen == "0"
    with open(blob_path(srv, blob), "rb") as f:
        assert f.read() == MSG
    assert blob_files(srv) - files == {blob}
    env, bs = srv.psql(f"select envelope, bodystructure from messages "
                       f"where mailbox_id = {box} and uid = 1").split("|")
    assert env.startswith('("Fri, 05 Jan 2024 13:04:05 +0100" '
                          '"hello there" (("Alice" NIL "alice" "a.test"))')
    assert env.endswith('"<m1@a.test>")')
    assert bs.startswith('("text" "plain" ("charset" "us-ascii")')
    # without flags and date: now, no flags; one-digit day taken too
    _, done = c.append("INBOX", b"x\r\n")
    assert b"[APPENDUID" in done
    _, done = c.append("INBOX", b"y\r\n", date=" 5-Jan-2024 13:04:05 -0000")
    assert b"[APPENDUID" in done
    _, done = c.append("INBOX", b"y\r\n", date="5-Feb-2024 13:04:05 +1200",
                       flags="")
    assert b"[APPENDUID" in done
    rows = srv.psql(f"select uid, flags, now() - internaldate < "
                    f"interval '1 minute', to_char(internaldate at time zone "
                    f"'UTC', 'YYYY-MM-DD HH24:MI') from messages where "
                    f"mailbox_id = {box} order by uid").splitlines()
    assert rows[1:] == ["2|0|t|" + rows[1].split("|")[3],
                        "3|0|f|2024-01-05 13:04", "4|0|f|2024-02-05 01:04"]


def test_append_errors(srv, user):
    c = session(srv, user)
    files = blob_files(srv)
    nblobs = srv.psql("select count(*) from blobs")
    _, done = c.append("nonexistent", MSG)
    assert done.endswith(b"NO [TRYCREATE] No such mailbox")
    _, done = c.append("INBOX", b"")
    assert b" NO " in done or b" BAD " in done
    for flags, date in (("\\Recent", None), ("\\Bogus", None),
                        (None, "31-Feb-2024 00:00:00 +0000"),
                        (None, "05-Foo-2024 00:00:00 +0000"),
                        (None, "05-Jan-2024 24:00:00 +0000"),
                        (None, "05-Jan-2024 00:00:00 0000"),
                        (None, "2024-01-05 00:00:00")):
        _, done = c.append("INBOX", MSG, flags=flags, date=date)
        assert done.split(b" ")[1] == b"BAD", (flags, date, done)
    for cmd in ("APPEND INBOX", 'APPEND INBOX "not a literal"',
                "APPEND INBOX (\\Seen) {1+}\r\nx extra"):
        _, done = c.cmd(cmd)
        assert done.split(b" ")[1] == b"BAD", (cmd, done)
    assert blob_files(srv) == files     # nothing left behind
    assert srv.psql("select count(*) from blobs") == nblobs
    st = status_items(c.ok("STATUS INBOX (MESSAGES UIDNEXT)")[0][0])[1]
    assert st == {"MESSAGES": 0, "UIDNEXT": 1}


def test_append_one_megabyte(srv, user):
    c = session(srv, user)
    body = b"".join(b"line %07d of a big message........................\r\n"
                    % i for i in range(20000))
    msg = b"Subject: big\r\n\r\n" + body[:1024 * 1024 - 16]
    assert len(msg) == 1024 * 1024
    for plus in (False, True):
        _, done = c.append("INBOX", msg, plus=plus)
        uid = status_of(done, b"APPENDUID").split()[1]
        blob = srv.psql(f"select b.name from messages m join blobs b on "
                        f"b.id = m.blob_id where m.mailbox_id = "
                        f"{mailbox_id(srv, user, 'INBOX')} and uid = {uid}")
        with open(blob_path(srv, blob), "rb") as f:
            assert f.read() == msg
    st = status_items(c.ok("STATUS INBOX (MESSAGES SIZE)")[0][0])[1]
    assert st == {"MESSAGES": 2, "SIZE": 2 * len(msg)}


def test_append_over_limit_refused_before_data(srv, user):
    c = session(srv, user)
    tag = c.tag()
    c.send(tag + b" APPEND INBOX {%d}\r\n" % (LIMIT + 1))
    lines, done = c.read_response(tag)
    assert lines == [] and not done.startswith(b"+")
    assert done.split(b" ")[1] in (b"NO", b"BAD"), done
    # exactly the limit goes
    _, done = c.append("INBOX", b"x" * LIMIT)
    assert b"[APPENDUID" in done
    # the connection is still fine
    c.ok("NOOP")
    st = status_items(c.ok("STATUS INBOX (MESSAGES)")[0][0])[1]
    assert st == {"MESSAGES": 1}


def test_append_to_selected_mailbox_says_exists(srv, user):
    c = session(srv, user)
    c.ok("SELECT INBOX")
    lines, done = c.append("INBOX", MSG)
    assert b"* 1 EXISTS" in lines and b"[APPENDUID" in done
    lines, done = c.append("inbox", MSG, plus=True)
    assert b"* 2 EXISTS" in lines


# ---- COPY and MOVE ----


def seqs(s):
    out = []
    for part in s.split(","):
        a, _, b = part.partition(":")
        out += list(range(int(a), int(b or a) + 1))
    return out


def rows(srv, box):
    return srv.psql(f"select uid, flags, array_to_string(keywords, ' '), "
                    f"internaldate, blob_id from messages where mailbox_id "
                    f"= {box} order by uid").splitlines()


def test_copy(srv, user):
    c = session(srv, user)
    fill(c, "INBOX", 5, flags="\\Answered kw")
    c.ok("CREATE Target")
    c.ok("SELECT INBOX")
    inbox, target = (mailbox_id(srv, user, n) for n in ("INBOX", "Target"))
    watcher = session(srv, user)
    watcher.ok("SELECT Target")
    lines, done = c.ok("COPY 2:4 Target")
    # The copies are new to the watcher: \Recent there (RFC 3501 6.4.7).
    assert watcher.ok("NOOP")[0] == [b"* 3 EXISTS", b"* 3 RECENT"]
    uv, src, dst = status_of(done, b"COPYUID").split()
    assert uv == srv.psql(f"select uidvalidity from mailboxes where id = "
                          f"{target}")
    assert (seqs(src), seqs(dst)) == ([2, 3, 4], [1, 2, 3])
    before = rows(srv, inbox)
    copies = rows(srv, target)
    for orig, copy, uid in zip(before[1:4], copies, (1, 2, 3)):
        o, cp = orig.split("|"), copy.split("|")
        assert cp[0] == str(uid) and cp[1:] == o[1:], (orig, copy)
    assert srv.psql(f"select string_agg(b.refcount::text, ',' order by "
                    f"m.uid) from messages m join blobs b on b.id = "
                    f"m.blob_id where m.mailbox_id = {inbox}") == "1,2,2,2,1"
    # scattered UIDs, some not there: only those there are copied
    _, done = c.ok("UID COPY 1,3,5,7:9 Target")
    _, src, dst = status_of(done, b"COPYUID").split()
    assert (seqs(src), seqs(dst)) == ([1, 3, 5], [4, 5, 6])
    assert src == "1,3,5" and dst == "4:6"
    _, done = c.ok("UID COPY 100:200 Target")      # nothing: no COPYUID
    assert b"COPYUID" not in done
    st = status_items(c.ok("STATUS Target (MESSAGES UIDNEXT)")[0][0])[1]
    assert st == {"MESSAGES": 6, "UIDNEXT": 7}
    # to the selected mailbox itself
    lines, done = c.ok("COPY 1 INBOX")
    assert status_of(done, b"COPYUID").split()[1:] == ["1", "6"]
    assert b"* 6 EXISTS" in lines
    # errors
    _, done = c.cmd("COPY 1 nonexistent")
    assert done.endswith(b"NO [TRYCREATE] No such mailbox")
    for cmd in ("COPY 99 Target", "COPY 0 Target", "COPY x Target",
                "COPY 1", "COPY 1 Target extra"):
        _, done = c.cmd(cmd)
        assert done.split(b" ")[1] == b"BAD", (cmd, done)


def test_move(srv, user):
    c = session(srv, user)
    fill(c, "INBOX", 5)
    c.ok("CREATE Dest")
    inbox, dest = (mailbox_id(srv, user, n) for n in ("INBOX", "Dest"))
    blobs = rows(srv, inbox)
    refs = srv.psql("select string_agg(refcount::text, ',' order by id) "
                    "from blobs")
    other = session(srv, user)
    other.ok("SELECT Dest")
    src_watch = session(srv, user)
    src_watch.ok("SELECT INBOX")
    c.ok("SELECT INBOX")
    lines, done = c.ok("MOVE 2,4 Dest")
    assert src_watch.ok("NOOP")[0] == [b"* 2 EXPUNGE", b"* 3 EXPUNGE"]
    assert done.endswith(b"OK MOVE completed")
    # RFC 6851: COPYUID first, untagged, then the EXPUNGEs
    m = re.match(rb"\* OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", lines[0])
    assert m, lines
    assert m.group(1).decode() == srv.psql(
        f"select uidvalidity from mailboxes where id = {dest}")
    assert (seqs(m.group(2).decode()), seqs(m.group(3).decode())) == (
        [2, 4], [1, 2])
    exp = [int(x.split()[1]) for x in lines[1:] if x.endswith(b"EXPUNGE")]
    assert len(exp) == 2
    view = [1, 2, 3, 4, 5]
    for s in exp:
        del view[s - 1]
    assert view == [1, 3, 5]
    assert srv.psql(f"select string_agg(uid::text, ',' order by uid) from "
                    f"messages where mailbox_id = {inbox}") == "1,3,5"
    assert srv.psql(f"select string_agg(uid::text, ',' order by uid) from "
                    f"expunged where mailbox_id = {inbox}") == "2,4"
    moved = rows(srv, dest)
    assert [r.split("|")[4] for r in moved] == [blobs[1].split("|")[4],
                                                blobs[3].split("|")[4]]
    assert srv.psql("select string_agg(refcount::text, ',' order by id) "
                    "from blobs") == refs
    # sequence numbers are the new ones now
    lines, done = c.ok("MOVE 2 Dest")           # UID 3
    assert status_of(lines[0], b"COPYUID").split()[1:] == ["3", "3"]
    assert b"* 2 EXPUNGE" in lines
    lines, done = c.ok("UID MOVE 5 Dest")
    assert status_of(lines[0], b"COPYUID").split()[1:] == ["5", "4"]
    assert b"* 2 EXPUNGE" in lines
    st = status_items(c.ok("STATUS Dest (MESSAGES UIDNEXT)")[0][0])[1]
    assert st == {"MESSAGES": 4, "UIDNEXT": 5}
    lines, _ = other.ok("NOOP")
    assert b"* 4 EXISTS" in lines
    # errors
    _, done = c.cmd("MOVE 1 INBOX")
    assert b"NO [CANNOT]" in done
    _, done = c.cmd("MOVE 1 nonexistent")
    assert done.endswith(b"NO [TRYCREATE] No such mailbox")
    lines, done = c.ok("UID MOVE 999 Dest")
    assert b"COPYUID" not in done and lines == []
    c.ok("EXAMINE INBOX")
    _, done = c.cmd("MOVE 1 Dest")
    assert b"NO [READ-ONLY]" in done
    c.ok("COPY 1 Dest")                 # COPY from read-only is fine


def test_long_copyuid(srv, user):
    """A COPYUID of hundreds of ranges goes out whole (no 1 KB cut)."""
    c = session(srv, user)
    c.ok("CREATE Many")
    c.ok("CREATE Odd")
    box = mailbox_id(srv, user, "Many")
    srv.psql("insert into blobs (name, size, refcount) values "
             f"('manyblob{box}x', 10, 600)")
    srv.psql("insert into messages (mailbox_id, uid, modseq, size, blob_id) "
             f"select {box}, g, 1, 10, b.id from generate_series(1, 600) g, "
             f"blobs b where b.name = 'manyblob{box}x'")
    srv.psql(f"update mailboxes set uidnext = 601 where id = {box}")
    c.ok("SELECT Many")
    odd = ",".join(str(u) for u in range(1, 601, 2))
    _, done = c.ok("UID COPY " + odd + " Odd")
    uv, src, dst = status_of(done, b"COPYUID").split()
    assert src == odd and dst == "1:300"
    assert srv.psql(f"select refcount from blobs where name = "
                    f"'manyblob{box}x'") == "900"
    lines, done = c.ok("UID MOVE " + odd + " Odd")
    assert status_of(lines[0], b"COPYUID").split()[1:] == [odd, "301:600"]
    assert len([x for x in lines if x.endswith(b"EXPUNGE")]) == 300
    lines, done = c.ok("UID MOVE " + odd + " Odd")    # gone already
    assert b"COPYUID" not in done and lines == []
    lines, done = c.ok("MOVE 1:* Odd")
    assert status_of(lines[0], b"COPYUID").split()[1:] == [
        ",".join(str(u) for u in range(2, 601, 2)), "601:900"]
    assert lines[1:] == [b"* %d EXPUNGE" % i for i in range(300, 0, -1)]
    assert srv.psql(f"select refcount from blobs where name = "
                    f"'manyblob{box}x'") == "900"


# ---- TLS and a real client ----


def test_over_tls_with_imaplib(srv, user):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=ctx,
                          timeout=T)
    m.login(user, "pw")
    assert m.create("Work/Projects")[0] == "OK"
    typ, data = m.list()
    assert typ == "OK" and b'(\\HasChildren) "/" "Work"' in data
    assert m.append("Work/Projects", "(\\Seen)", imaplib.Time2Internaldate(
        1704456245), MSG)[0] == "OK"
    typ, data = m.status("Work/Projects", "(MESSAGES UNSEEN)")
    assert data == [b'"Work/Projects" (MESSAGES 1 UNSEEN 0)']
    assert m.select("Work/Projects")[1] == [b"1"]
    typ, data = m.copy("1", "INBOX")
    assert typ == "OK" and data[0].startswith(b"[COPYUID ")
    assert m.rename("Work", "Play")[0] == "OK"
    assert m.subscribe("Play")[0] == "OK"
    assert m.lsub()[0] == "OK"
    assert m.delete("Play")[0] == "NO"
    m.logout()
    s = imaplib.IMAP4("127.0.0.1", srv.ports["imap"], timeout=T)
    s.starttls(ssl_context=ctx)
    s.login(user, "pw")
    assert b'"Play/Projects"' in b" ".join(s.list("Play/", "*")[1])
    s.logout()
