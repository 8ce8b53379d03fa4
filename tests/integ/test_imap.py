"""imapd: sessions, login, selection, changes and IDLE, against the real
suite over loopback.

Raw sockets where the exact responses matter, imaplib for a real client's
view.  Module instance `imap` (plaintext logins allowed from loopback,
small limits) with users made at the start; mail arrives through SMTP.
Every socket has a timeout.
"""
import base64
import imaplib
import os
import re
import socket
import ssl
import smtplib
import time

import pytest

from conftest import Instance, wait_for

T = 10
PW = "imap secret"
EXTRA = """
argon2_memory_cost = 64k
argon2_time_cost = 1
auth_failure_delay = 50ms
auth_failure_delay_max = 200ms
imap_plaintext_loopback = yes
imap_client_connection_limit = 12
imap_user_connection_limit = 3
imap_login_timeout = 3s
imap_line_limit = 2k
imap_literal_limit = 2k
"""
OPEN = []


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Imap:
    """One raw IMAP connection: lines in, lines out."""

    def __init__(self, port, tls=False, source=None, greet=True):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=T,
            source_address=(source, 0) if source else None)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        OPEN.append(self)
        self.buf = b""
        self.n = 0
        self.greeting = self.line() if greet else None

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                raise EOFError(f"closed; unparsed {self.buf!r}")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def cmd(self, text, ok="OK"):
        """Send a tagged command; (untagged lines, tagged line)."""
        self.n += 1
        tag = f"t{self.n}"
        self.send(f"{tag} {text}\r\n")
        return self.until(tag, ok)

    def until(self, tag, ok="OK"):
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                if ok is not None:
                    assert line.split(" ", 2)[1] == ok, (line, untagged)
                return untagged, line
            untagged.append(line)

    def starttls(self):
        self.cmd("STARTTLS")
        self.sock = tls_context().wrap_socket(self.sock)

    def login(self, user, pw=PW):
        return self.cmd(f'LOGIN "{user}" "{pw}"')

    def closed(self):
        try:
            self.sock.settimeout(T)
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

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


USERS = ("ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal")


@pytest.fixture(scope="module")
def imap():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", "i.test", check=True)
        for u in USERS:
            inst.wharf("user", "add", f"{u}@i.test", input=PW + "\n",
                       check=True)
        wait_for(lambda: try_login(inst), 30, "imapd ready")
        yield inst
    finally:
        inst.cleanup()


def try_login(inst):
    try:
        c = Imap(inst.ports["imap"])
        c.login("ann@i.test")
        c.cmd("LOGOUT")
        return True
    except (OSError, EOFError, AssertionError):
        return False


def deliver(inst, user, subject, n=1):
    """Send n messages to user through SMTP; wait until all are in."""
    before = count(inst, user)
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T)
    for i in range(n):
        s.sendmail("x@remote.example", [f"{user}@i.test"],
                   f"From: x@remote.example\r\nSubject: {subject} {i}\r\n"
                   f"\r\nbody {i}\r\n".encode())
    s.quit()
    wait_for(lambda: count(inst, user) >= before + n, 30, "delivery")


def count(inst, user, box="INBOX"):
    return int(inst.psql(
        "SELECT count(*) FROM messages m JOIN mailboxes b ON "
        "b.id = m.mailbox_id JOIN users u ON u.id = b.user_id WHERE "
        f"u.localpart = '{user}' AND b.name = '{box}'") or 0)


def session(inst, user):
    c = Imap(inst.ports["imap"])
    c.login(f"{user}@i.test")
    return c


# ---- greeting, capabilities, TLS ----


def test_greeting_and_capability(imap):
    c = Imap(imap.ports["imap"])
    assert re.match(r"\* OK \[CAPABILITY IMAP4rev1 .*\] ", c.greeting)
    caps = c.cmd("CAPABILITY")[0][0].split()
    assert caps[:2] == ["*", "CAPABILITY"]
    for cap in ("IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "IDLE", "SASL-IR",
                "LITERAL+", "ID", "ENABLE", "NAMESPACE", "UNSELECT"):
        assert cap in caps
    assert "LOGINDISABLED" not in caps   # loopback, plaintext allowed
    c.cmd("LOGOUT")
    assert c.closed()


def test_logindisabled_without_plaintext(fresh):
    inst = fresh("argon2_memory_cost = 64k\nargon2_time_cost = 1\n").start()
    inst.wharf("domain", "add", "i.test", check=True)
    inst.wharf("user", "add", "ann@i.test", input=PW + "\n", check=True)
    c = Imap(inst.ports["imap"])
    assert "LOGINDISABLED" in c.greeting and "AUTH=PLAIN" not in c.greeting
    _, tagged = c.cmd('LOGIN ann@i.test "x"', ok="NO")
    assert "[PRIVACYREQUIRED]" in tagged
    c.cmd("AUTHENTICATE PLAIN", ok="NO")
    c.starttls()
    caps = c.cmd("CAPABILITY")[0][0].split()
    assert "LOGINDISABLED" not in caps and "STARTTLS" not in caps
    assert "AUTH=PLAIN" in caps
    wait_for(lambda: try_tls_login(c), 30, "login over TLS")


def try_tls_login(c):
    _, tagged = c.login("ann@i.test")
    return " OK " in tagged


def test_starttls_then_imaplib(imap):
    deliver(imap, "bob", "tls")
    m = imaplib.IMAP4("127.0.0.1", imap.ports["imap"], timeout=T)
    m.starttls(ssl_context=tls_context())
    assert m.login("bob@i.test", PW)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()


def test_implicit_tls(imap):
    m = imaplib.IMAP4_SSL("127.0.0.1", imap.ports["imaps"],
                          ssl_context=tls_context(), timeout=T)
    assert "IMAP4REV1" in m.capabilities
    assert m.login("bob@i.test", PW)[0] == "OK"
    m.logout()


def test_starttls_twice_and_after_login(imap):
    c = Imap(imap.ports["imap"])
    c.starttls()
    c.cmd("STARTTLS", ok="BAD")
    c.login("ann@i.test")
    c.cmd("STARTTLS", ok="BAD")


def test_starttls_drops_pipelined_plaintext(imap):
    c = Imap(imap.ports["imap"])
    c.send("a STARTTLS\r\nb LOGIN ann@i.test \"imap secret\"\r\n")
    assert c.line().startswith("a OK")
    c.sock = tls_context().wrap_socket(c.sock)
    c.buf = b""
    _, tagged = c.cmd("CAPABILITY")      # the LOGIN was not run
    assert "AUTH=PLAIN" in _[0]


# ---- login ----


def test_login_ok_and_case(imap):
    c = Imap(imap.ports["imap"])
    _, tagged = c.login("ANN@I.TEST")
    assert re.match(r"t1 OK \[CAPABILITY IMAP4rev1 .*\] Logged in", tagged)
    c.cmd("LOGIN ann@i.test x", ok="BAD")    # not in this state


def test_login_failures_same_answer(imap):
    answers = set()
    for user, pw in (("ann@i.test", "wrong"), ("nobody@i.test", PW),
                     ("noat", PW)):
        c = Imap(imap.ports["imap"], source="127.0.9.1")
        _, tagged = c.cmd(f'LOGIN "{user}" "{pw}"', ok=None)
        answers.add(tagged.split(" ", 1)[1])
    assert answers == {"NO [AUTHENTICATIONFAILED] Authentication failed"}


def test_login_syntax(imap):
    c = Imap(imap.ports["imap"])
    c.cmd("LOGIN onlyuser", ok="BAD")
    c.cmd("LOGIN", ok="BAD")
    c.cmd("LOGIN (a) b", ok="BAD")


def test_login_literal(imap):
    c = Imap(imap.ports["imap"])
    c.send("a LOGIN {10}\r\n")
    assert c.line().startswith("+ ")
    c.send('ann@i.test "imap secret"\r\n')
    _, tagged = c.until("a")
    c.send("b LOGOUT\r\n")


def test_login_literal_plus(imap):
    c = Imap(imap.ports["imap"])
    c.send("a LOGIN {10+}\r\nann@i.test {11+}\r\nimap secret\r\n")
    c.until("a")


def test_authenticate_plain(imap):
    tok = base64.b64encode(b"\0cat@i.test\0" + PW.encode()).decode()
    c = Imap(imap.ports["imap"])
    c.cmd(f"AUTHENTICATE PLAIN {tok}")            # SASL-IR
    c = Imap(imap.ports["imap"])
    c.send("a AUTHENTICATE PLAIN\r\n")
    assert c.line() == "+ "
    c.send(tok + "\r\n")
    c.until("a")
    c = Imap(imap.ports["imap"])
    c.send("a AUTHENTICATE PLAIN\r\n")
    assert c.line() == "+ "
    c.send("*\r\n")
    c.until("a", ok="BAD")
    c.send("b AUTHENTICATE PLAIN\r\n")
    assert c.line() == "+ "
    c.send("not base64!\r\n")
    c.until("b", ok="BAD")
    c.cmd("AUTHENTICATE CRAM-MD5", ok="NO")
    wrong = base64.b64encode(b"\0cat@i.test\0nope").decode()
    c2 = Imap(imap.ports["imap"], source="127.0.9.2")
    _, tagged = c2.cmd(f"AUTHENTICATE PLAIN {wrong}", ok="NO")
    assert "[AUTHENTICATIONFAILED]" in tagged


def test_login_audited(imap):
    Imap(imap.ports["imap"]).login("dan@i.test")
    rows = imap.psql("SELECT service, result FROM audit_log "
                     "WHERE account = 'dan@i.test'")
    assert "imapd|ok" in rows.splitlines()


# ---- states and syntax ----


def test_commands_need_states(imap):
    c = Imap(imap.ports["imap"])
    c.cmd("SELECT INBOX", ok="BAD")
    c.cmd("NAMESPACE", ok="BAD")
    c.login("ann@i.test")
    c.cmd("EXPUNGE", ok="BAD")
    c.cmd("CLOSE", ok="BAD")
    c.cmd("FROB", ok="BAD")
    c.cmd("UID FROB", ok="BAD")
    c.cmd("NOOP extra", ok="BAD")


def test_bad_syntax_keeps_session(imap):
    c = Imap(imap.ports["imap"])
    c.send("a (\r\n")
    assert " BAD " in c.line()
    c.send('b LOGIN "unterminated\r\n')
    assert " BAD " in c.line()
    c.cmd("NOOP")


def test_line_too_long_is_bye(imap):
    c = Imap(imap.ports["imap"])
    c.send("a NOOP " + "x" * 4000 + "\r\n")
    assert c.line().startswith("* BYE")
    assert c.closed()


def test_literal_too_big_refused_before_data(imap):
    c = Imap(imap.ports["imap"])
    c.login("ann@i.test")
    c.send("a LOGIN {100000}\r\n")
    line = c.line()
    assert line.startswith("a BAD") or line.startswith("a NO"), line
    c.cmd("NOOP")                    # no "+": nothing else is expected


def test_login_timeout(imap):
    c = Imap(imap.ports["imap"])
    t0 = time.monotonic()
    assert c.line().startswith("* BYE")
    assert time.monotonic() - t0 >= 2
    assert c.closed()


def test_id_enable_namespace(imap):
    c = Imap(imap.ports["imap"])
    u, _ = c.cmd('ID ("name" "pytest")')
    assert u == ['* ID ("name" "Wharf" "vendor" "Wharf")']
    c.cmd("ID NIL")
    c.login("ann@i.test")
    u, _ = c.cmd("ENABLE UTF8=ACCEPT CONDSTORE X-NONE")
    assert u == ["* ENABLED UTF8=ACCEPT CONDSTORE"]   # RFC 7162 now
    u, _ = c.cmd("NAMESPACE")
    assert u == ['* NAMESPACE (("" "/")) NIL NIL']


# ---- SELECT, EXAMINE and changes ----


def test_select_responses(imap):
    deliver(imap, "eve", "sel", 2)
    c = session(imap, "eve")
    u, tagged = c.cmd("SELECT INBOX")
    assert tagged == "t2 OK [READ-WRITE] SELECT completed"
    assert "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)" in u
    # RFC 3501 2.3.2: the first session to select new mail sees \Recent
    assert "* 2 EXISTS" in u and "* 2 RECENT" in u
    assert "* OK [UNSEEN 1] First unseen" in u
    v = int(imap.psql("SELECT uidvalidity FROM mailboxes b JOIN users u "
                      "ON u.id = b.user_id WHERE u.localpart = 'eve' "
                      "AND b.name = 'INBOX'"))
    assert f"* OK [UIDVALIDITY {v}] UIDs valid" in u
    assert "* OK [UIDNEXT 3] Predicted next UID" in u
    u, tagged = c.cmd("EXAMINE inbox")
    assert tagged.endswith("[READ-ONLY] EXAMINE completed")
    assert "* OK [PERMANENTFLAGS ()] Flags permitted" in u
    c.cmd("EXPUNGE", ok="NO")
    c.cmd('SELECT "No such"', ok="NO")
    c.cmd("CHECK", ok="BAD")             # a failed SELECT deselects


def test_select_keywords_in_flags(imap):
    deliver(imap, "fay", "kw")
    imap.psql("UPDATE messages SET keywords = '{$Important,Work}' WHERE "
              "mailbox_id IN (SELECT b.id FROM mailboxes b JOIN users u ON "
              "u.id = b.user_id WHERE u.localpart = 'fay')")
    c = session(imap, "fay")
    u, _ = c.cmd("SELECT INBOX")
    flags = [x for x in u if x.startswith("* FLAGS")][0]
    assert "$Important" in flags and "Work" in flags


def test_noop_reports_new_mail_and_flag_changes(imap):
    deliver(imap, "gus", "first")
    c = session(imap, "gus")
    c.cmd("SELECT INBOX")
    deliver(imap, "gus", "new", 2)
    u, _ = c.cmd("NOOP")
    assert "* 3 EXISTS" in u
    imap.psql("UPDATE messages m SET flags = 4, modseq = b.highestmodseq "
              "+ 1 FROM mailboxes b JOIN users u ON u.id = b.user_id "
              "WHERE m.mailbox_id = b.id AND u.localpart = 'gus' AND "
              "m.uid = 1; UPDATE mailboxes b SET highestmodseq = "
              "highestmodseq + 1 FROM users u WHERE u.id = b.user_id "
              "AND u.localpart = 'gus' AND b.name = 'INBOX'")
    u, _ = c.cmd("NOOP")
    # \Recent: this session was the first to see it (RFC 3501 2.3.2)
    assert "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))" in u


def test_expunge(imap):
    deliver(imap, "hal", "exp", 4)
    c = session(imap, "hal")
    c.cmd("SELECT INBOX")
    imap.psql("UPDATE messages SET flags = 8 WHERE uid IN (2, 3) AND "
              "mailbox_id IN (SELECT b.id FROM mailboxes b JOIN users u "
              "ON u.id = b.user_id WHERE u.localpart = 'hal')")
    u, tagged = c.cmd("EXPUNGE")
    assert u == ["* 2 EXPUNGE", "* 2 EXPUNGE"], u
    assert count(imap, "hal") == 2
    assert imap.psql("SELECT string_agg(uid::text, ',' ORDER BY uid) "
                     "FROM expunged e JOIN mailboxes b ON b.id = "
                     "e.mailbox_id JOIN users u ON u.id = b.user_id "
                     "WHERE u.localpart = 'hal'") == "2,3"
    # A second session sees them go on its next NOOP.
    imap.psql("UPDATE messages SET flags = 8 WHERE uid = 4 AND "
              "mailbox_id IN (SELECT b.id FROM mailboxes b JOIN users u "
              "ON u.id = b.user_id WHERE u.localpart = 'hal')")
    d = session(imap, "hal")
    d.cmd("SELECT INBOX")
    u, _ = c.cmd("UID EXPUNGE 1:3")            # 4 is not in the set
    assert u == []
    u, _ = c.cmd("UID EXPUNGE 4")
    assert u == ["* 2 EXPUNGE"]
    u, _ = d.cmd("NOOP")
    assert u == ["* 2 EXPUNGE"]
    c.cmd("UID EXPUNGE x", ok="BAD")


def test_close_expunges_silently_unselect_does_not(imap):
    deliver(imap, "ann", "close", 2)
    c = session(imap, "ann")
    c.cmd("SELECT INBOX")
    n = count(imap, "ann")
    imap.psql("UPDATE messages SET flags = 8 WHERE mailbox_id IN "
              "(SELECT b.id FROM mailboxes b JOIN users u ON u.id = "
              "b.user_id WHERE u.localpart = 'ann') AND uid = (SELECT "
              "max(uid) FROM messages m JOIN mailboxes b ON b.id = "
              "m.mailbox_id JOIN users u ON u.id = b.user_id WHERE "
              "u.localpart = 'ann')")
    c.cmd("UNSELECT")
    assert count(imap, "ann") == n
    c.cmd("SELECT INBOX")
    u, _ = c.cmd("CLOSE")
    assert u == []
    assert count(imap, "ann") == n - 1
    c.cmd("NOOP")
    c.cmd("CLOSE", ok="BAD")


# ---- IDLE ----


def test_idle_woken_by_delivery(imap):
    deliver(imap, "bob", "before idle")
    c = session(imap, "bob")
    c.cmd("SELECT INBOX")
    c.send("a IDLE\r\n")
    assert c.line() == "+ idling"
    t0 = time.monotonic()
    deliver(imap, "bob", "idle")
    line = c.line()
    assert re.fullmatch(r"\* \d+ EXISTS", line), line
    assert time.monotonic() - t0 < 10
    assert c.line() == "* 2 RECENT"     # RFC 3501 7.3.2: with new mail
    c.send("DONE\r\n")
    assert c.line() == "a OK IDLE terminated"


def test_idle_sees_other_sessions_expunge(imap):
    deliver(imap, "cat", "idle2", 2)
    c = session(imap, "cat")
    c.cmd("SELECT INBOX")
    other = session(imap, "cat")
    other.cmd("SELECT INBOX")
    c.send("a IDLE\r\n")
    assert c.line() == "+ idling"
    imap.psql("UPDATE messages SET flags = 8 WHERE uid = 1 AND "
              "mailbox_id IN (SELECT b.id FROM mailboxes b JOIN users u "
              "ON u.id = b.user_id WHERE u.localpart = 'cat')")
    other.cmd("EXPUNGE")
    assert c.line() == "* 1 EXPUNGE"
    c.send("DONE\r\n")
    assert c.line().startswith("a OK")


def test_idle_done_only(imap):
    c = session(imap, "dan")
    c.send("a IDLE\r\n")
    assert c.line() == "+ idling"
    c.send("NOOP\r\n")
    assert c.line().startswith("a BAD")
    c.cmd("NOOP")


def test_imaplib_idle_style_noop(imap):
    m = imaplib.IMAP4("127.0.0.1", imap.ports["imap"], timeout=T)
    m.login("eve@i.test", PW)
    typ, data = m.select("INBOX")
    before = int(data[0])
    deliver(imap, "eve", "lib")
    m.noop()
    assert int(m.untagged_responses["EXISTS"][-1]) == before + 1
    m.logout()


# ---- limits ----


def test_user_connection_limit(imap):
    cs = [session(imap, "fay") for _ in range(3)]
    c = Imap(imap.ports["imap"])
    _, tagged = c.cmd('LOGIN fay@i.test "imap secret"', ok="NO")
    assert "[LIMIT]" in tagged
    cs[0].cmd("LOGOUT")
    wait_for(lambda: " OK " in Imap(imap.ports["imap"]).cmd(
        'LOGIN fay@i.test "imap secret"', ok=None)[1], 10, "a free slot")


def test_client_connection_limit(imap):
    src = "127.0.7.7"
    cs = [Imap(imap.ports["imap"], source=src) for _ in range(12)]
    extra = Imap(imap.ports["imap"], source=src, greet=False)
    assert extra.line().startswith("* BYE")
    cs[0].cmd("LOGOUT")
    cs[0].close()
    wait_for(lambda: Imap(imap.ports["imap"], source=src,
                          greet=False).line().startswith("* OK"),
             10, "a free slot")


# ---- many sessions ----


def test_200_sessions_idle_then_woken(fresh):
    """200 logged-in sessions IDLE on one INBOX; one delivery wakes all."""
    inst = fresh(EXTRA + "imap_client_connection_limit = 500\n"
                 "imap_user_connection_limit = 500\n"
                 "imap_login_timeout = 60s\n").start()
    inst.wharf("domain", "add", "i.test", check=True)
    inst.wharf("user", "add", "many@i.test", input=PW + "\n", check=True)
    wait_for(lambda: try_login_as(inst, "many@i.test"), 30, "imapd ready")
    deliver(inst, "many", "first")
    sessions, recent_at_select = [], []
    for i in range(200):
        c = Imap(inst.ports["imap"], source=f"127.0.{i // 50 + 1}.1")
        c.login("many@i.test")
        u, _ = c.cmd("SELECT INBOX")
        recent_at_select.append(int([x for x in u if x.endswith(
            " RECENT")][0].split()[1]))
        c.send("i IDLE\r\n")
        sessions.append(c)
    assert sum(recent_at_select) == 1      # the first SELECT claimed it
    for c in sessions:
        assert c.line() == "+ idling"
    deliver(inst, "many", "wake up")
    for c in sessions:
        assert c.line() == "* 2 EXISTS"
    gained = 0
    for c, before in zip(sessions, recent_at_select):
        c.send("DONE\r\n")
        line = c.line()
        if line.endswith(" RECENT"):       # with EXISTS (rev1)
            gained += int(line.split()[1]) - before
            line = c.line()
        assert line == "i OK IDLE terminated"
        c.send("z LOGOUT\r\n")
    assert gained == 1                     # one session claimed it


def try_login_as(inst, user):
    try:
        c = Imap(inst.ports["imap"])
        c.login(user)
        c.cmd("LOGOUT")
        return True
    except (OSError, EOFError, AssertionError):
        return False
