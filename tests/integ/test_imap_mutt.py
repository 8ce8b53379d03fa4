"""imapd with mutt (and neomutt) as real IMAP clients.

mutt is interactive: each run gets a pseudo-terminal of a fixed size, a
muttrc written under the test's temp dir, and its actions as `push`
commands in that muttrc, so nothing depends on the screen layout.  The
pty output is only drained while waiting (bounded) for mutt to quit; the
effects are checked on the server (psql, imaplib).  Every run writes its
debug log (-d 5) under the temp dir, shown when a run fails.

The server's TLS certificate is self-signed: it is copied to the client's
certificate_file (trusted as is) and ssl_verify_host is off.  Both
implicit TLS (imaps://) and STARTTLS on imap_listen (imap:// with
ssl_starttls and ssl_force_tls) are run; plaintext LOGIN is not allowed
on this instance, so the STARTTLS runs must really upgrade.
"""
import base64
import fcntl
import imaplib
import itertools
import os
import pty
import re
import select
import shutil
import signal
import smtplib
import ssl
import struct
import subprocess
import sys
import termios
import time

import pytest

from conftest import POPEN_PIDS, Instance, wait_for

T = 60
ROWS, COLS = 40, 132
PW = "mutt secret"
EXTRA = """
argon2_memory_cost = 64k
argon2_time_cost = 1
"""
CLIENTS = ("mutt", "neomutt")
TRANSPORTS = ("imaps", "starttls")
COUNTER = itertools.count(1)


def client_or_fail(name):
    """The client's path; a missing one fails (make check installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian package {name}; "
                    "make deps installs it)")
    return path


@pytest.fixture(scope="module")
def mail():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", "m.test", check=True)
        yield inst
    finally:
        inst.cleanup()


@pytest.fixture
def user(mail):
    name = f"mutt{next(COUNTER)}@m.test"
    mail.wharf("user", "add", name, input=PW + "\n", check=True)
    return name


# ---- the server side ----


def rows(inst, user, box="INBOX"):
    """(subject, flags) of the messages in a mailbox, by uid; the subject
    from the cached envelope."""
    local = user.split("@")[0]
    out = inst.psql(
        "SELECT m.flags, m.envelope FROM messages m JOIN mailboxes b ON "
        "b.id = m.mailbox_id JOIN users u ON u.id = b.user_id WHERE "
        f"u.localpart = '{local}' AND b.name = '{box}' ORDER BY m.uid")
    res = []
    for line in out.splitlines() if out else []:
        flags, env = line.split("|", 1)
        # ENVELOPE: (date subject ...), each NIL or a quoted string.
        m = re.match(r'\((?:NIL|"(?:[^"\\]|\\.)*") "((?:[^"\\]|\\.)*)"',
                     env)
        assert m, f"envelope not cached or not parsed: {env!r}"
        res.append((m.group(1), int(flags)))
    return res


def boxes(inst, user):
    local = user.split("@")[0]
    out = inst.psql(
        "SELECT b.name FROM mailboxes b JOIN users u ON u.id = b.user_id "
        f"WHERE u.localpart = '{local}' ORDER BY b.name")
    return out.splitlines()


def deliver(inst, user, subjects):
    before = len(rows(inst, user))
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T)
    for sub in subjects:
        s.sendmail("sender@remote.example", [user],
                   f"From: Sender <sender@remote.example>\r\nTo: "
                   f"{user}\r\nSubject: {sub}\r\n\r\nText of "
                   f"{sub}.\r\n".encode())
    s.quit()
    wait_for(lambda: len(rows(inst, user)) >= before + len(subjects), 30,
             "delivery")


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


# ---- driving mutt ----


SEEN, FLAGGED = 1, 4


class Run:
    """One mutt run: its muttrc, home and debug log under tmp."""

    def __init__(self, inst, tmp, client, user, transport):
        self.inst = inst
        self.client = client
        self.path = client_or_fail(client)
        self.tmp = tmp
        self.runs = itertools.count(1)
        self.user = user
        self.transport = transport

    def new_home(self):
        """A home of its own for each run, so each keeps its log."""
        self.home = os.path.join(self.tmp, f"{self.client}-"
                                 f"{self.transport}-{next(self.runs)}")
        os.makedirs(self.home)
        self.rc = os.path.join(self.home, "muttrc")
        self.log = os.path.join(self.home, "debug.log")

    def config(self, pushes, extra):
        cert = os.path.join(self.inst.dir, "state", "tls", "cert.pem")
        certs = os.path.join(self.home, "certificates")
        shutil.copyfile(cert, certs)
        if self.transport == "imaps":
            url = f"imaps://127.0.0.1:{self.inst.ports['imaps']}/"
            tls = "set ssl_starttls = no\n"
        else:
            url = f"imap://127.0.0.1:{self.inst.ports['imap']}/"
            tls = "set ssl_starttls = yes\nset ssl_force_tls = yes\n"
        lines = [
            f'set imap_user = "{self.user}"',
            f'set imap_pass = "{PW}"',
            f'set folder = "{url}"',
            'set spoolfile = "+INBOX"',
            f'set certificate_file = "{certs}"',
            "set ssl_verify_host = no",
            'set header_cache = ""',
            'set message_cachedir = ""',
            f'set tmpdir = "{self.home}"',
            'set sendmail = "/bin/false"',
            'set record = ""',
            'set postponed = "+Drafts"',
            'set mbox = "+Archive"',
            "set move = no",
            "set delete = yes",
            "set quit = yes",
            "set confirmappend = no",
            "set confirmcreate = no",
            "set wait_key = no",
            "set beep = no",
            "set mail_check = 60",
            "set timeout = 600",
            "set imap_passive = yes",
            "set imap_check_subscribed = no",
            'set charset = "utf-8"',
        ]
        with open(self.rc, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n" + tls + extra)
            for p in pushes:
                f.write(f'push "{p}"\n')

    def argv(self):
        if self.client == "neomutt":
            return [self.path, "-n", "-F", self.rc, "-d", "5", "-l",
                    self.log]
        return [self.path, "-n", "-F", self.rc, "-d", "5"]

    def debug_log(self):
        # neomutt numbers its log file as mutt does ~/.muttdebugN.
        path = self.log + "0" if self.client == "neomutt" else \
            os.path.join(self.home, ".muttdebug0")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def run(self, pushes, extra="", timeout=T):
        """Run the client until it quits; fail (after killing it) when it
        does not within timeout or exits non-zero."""
        self.new_home()
        self.config(pushes, extra)
        self.screen = b""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", ROWS, COLS, 0, 0))
        env = dict(os.environ, HOME=self.home, TERM="xterm",
                   LANG="C.UTF-8", LC_ALL="C.UTF-8", MAIL="",
                   EDITOR="/bin/false", VISUAL="/bin/false")
        env.pop("MUTT", None)
        p = subprocess.Popen(self.argv(), stdin=slave, stdout=slave,
                             stderr=slave, env=env, cwd=self.home,
                             start_new_session=True)
        POPEN_PIDS.add(p.pid)
        os.close(slave)
        try:
            self.drain(p, master, timeout)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            os.close(master)
            with open(os.path.join(self.home, "screen.out"), "wb") as f:
                f.write(self.screen)
        assert p.returncode == 0, \
            f"{self.client} exited {p.returncode}\n{self.tail()}"
        sent = self.sent()
        assert sent, f"no IMAP commands in the debug log\n{self.tail()}"
        if self.transport == "starttls":
            assert sent[0] == "STARTTLS", sent
        return self

    def drain(self, p, master, timeout):
        """Read (and drop) the screen until the client exits; kill it and
        fail at the deadline."""
        deadline = time.monotonic() + timeout
        while p.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                continue
            try:
                self.screen = (self.screen + os.read(master, 65536))[-8192:]
            except OSError:             # EIO: the client closed its tty
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            pytest.fail(f"{self.client} did not quit within {timeout} s "
                        f"(killed)\n{self.tail()}")

    def tail(self, n=80):
        """The version and the end of the debug log, for failures."""
        v = subprocess.run([self.path, "-v"], capture_output=True,
                           text=True, timeout=T).stdout.splitlines()[:1]
        screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-B]|\x1b[=>]",
                        " ", self.screen.decode(errors="replace"))
        return "\n".join(v + [f"debug log {self.home}:"] +
                         self.debug_log().splitlines()[-n:] +
                         ["screen (end):", screen[-2000:]])

    def sent(self):
        """The client's IMAP commands, without their tags, from its debug
        log: after "N> ", or alone on a line when several went in one
        write."""
        return [c.rstrip("\r") for c in re.findall(
            r"^(?:.*?\d> )?[a-z]\d{4} ([A-Z].*)$", self.debug_log(),
            re.M)]


# ---- the scenarios ----


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_read_flag_delete(mail, user, tmp_path, client, transport):
    """INBOX with three messages: one read (\\Seen on the server), one
    flagged, one deleted and expunged at <sync-mailbox>."""
    deliver(mail, user, ["alpha", "bravo", "charlie"])
    r = Run(mail, str(tmp_path), client, user, transport)
    r.run(["<search>~s alpha<enter><display-message><exit>"
           "<search>~s bravo<enter><flag-message>"
           "<search>~s charlie<enter><delete-message>"
           "<sync-mailbox><quit>"])
    got = dict(rows(mail, user))
    assert set(got) == {"alpha", "bravo"}, (got, r.tail())
    assert got["alpha"] & SEEN, got
    assert got["bravo"] & FLAGGED and not got["bravo"] & SEEN, got
    assert "EXPUNGE" in " ".join(r.sent()), r.tail()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_copy_and_save_create(mail, user, tmp_path, client, transport):
    """<copy-message> to =Archive (a default folder), <save-message> to
    =NewFolder, which does not exist: the server's [TRYCREATE] makes the
    client CREATE it and copy again (confirmcreate is off); the saved
    original is expunged from INBOX."""
    deliver(mail, user, ["keep", "other"])
    assert "NewFolder" not in boxes(mail, user)
    r = Run(mail, str(tmp_path), client, user, transport)
    r.run(["<search>~s keep<enter><copy-message>=Archive<enter>"
           "<save-message>=NewFolder<enter><sync-mailbox><quit>"])
    assert "NewFolder" in boxes(mail, user), (boxes(mail, user), r.tail())
    assert [s for s, _ in rows(mail, user, "Archive")] == ["keep"]
    assert [s for s, _ in rows(mail, user, "NewFolder")] == ["keep"]
    assert [s for s, _ in rows(mail, user)] == ["other"], r.tail()
    assert 'CREATE "NewFolder"' in " ".join(r.sent()), r.tail()


UNAME = "Тест"
NAME_PATHS = [
    # mutt always ENABLEs UTF8=ACCEPT when the server offers it (whatever
    # its $charset): names go as UTF-8 quoted strings.
    ("mutt", "utf8-accept"),
    ("neomutt", "utf8-accept"),
    # neomutt without ENABLE: names in modified UTF-7.
    ("neomutt", "mutf7"),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client,names", NAME_PATHS)
def test_non_ascii_folder(mail, user, tmp_path, client, names, transport):
    """A folder named in Cyrillic, made through imaplib in modified UTF-7
    with two messages: opened by the name typed at <change-folder>, then
    picked from the folder browser (LIST); each run reads one message."""
    c = imaplib.IMAP4_SSL("127.0.0.1", mail.ports["imaps"],
                          ssl_context=insecure(), timeout=T)
    c.login(user, PW)
    name = '"' + mutf7(UNAME) + '"'
    assert c.create(name)[0] == "OK"
    for sub in ("first", "second"):
        assert c.append(name, None, None,
                        f"From: a@b.test\r\nSubject: {sub}\r\n\r\n"
                        f"body {sub}\r\n".encode())[0] == "OK"
    c.logout()
    assert UNAME in boxes(mail, user)
    extra = "set imap_rfc5161 = no\n" if names == "mutf7" else ""
    wire = mutf7(UNAME) if names == "mutf7" else UNAME
    r = Run(mail, str(tmp_path), client, user, transport)
    r.run([f"<change-folder>={UNAME}<enter><search>~s first<enter>"
           "<display-message><exit><quit>"], extra)
    assert f'SELECT "{wire}"' in r.sent(), r.tail()
    assert dict(rows(mail, user, UNAME)) == {"first": SEEN, "second": 0}
    # The browser lists the folder's root; the Cyrillic name sorts after
    # the ASCII ones.  neomutt's browser opens on the (empty) `mailboxes`
    # list first.
    toggle = "<toggle-mailboxes>" if client == "neomutt" else ""
    r.run([f"<change-folder>?{toggle}<last-entry><select-entry>"
           "<search>~s second<enter><display-message><exit><quit>"], extra)
    sent = r.sent()
    assert any(c.startswith('LIST "" "%"') for c in sent), r.tail()
    assert f'SELECT "{wire}"' in sent, r.tail()
    assert (names == "utf8-accept") == ("ENABLE UTF8=ACCEPT" in sent)
    got = dict(rows(mail, user, UNAME))
    assert got == {"first": SEEN, "second": SEEN}, (got, r.tail())


NEWMAIL = r"""import smtplib, subprocess, sys, time
port, user, sock, subject = sys.argv[1:5]
q = ("SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = "
     "m.mailbox_id JOIN users u ON u.id = b.user_id WHERE u.localpart = "
     "'%s' AND b.name = 'INBOX'" % user.split("@")[0])
def count():
    return int(subprocess.run(["psql", "-X", "-At", "-h", sock, "-U",
        "wharf", "-d", "wharf", "-c", q], capture_output=True, text=True,
        timeout=30).stdout.strip() or 0)
before = count()
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.sendmail("late@remote.example", [user], ("From: late@remote.example\r\n"
    "Subject: %s\r\n\r\nlate\r\n" % subject).encode())
s.quit()
deadline = time.monotonic() + 30
while count() <= before and time.monotonic() < deadline:
    time.sleep(0.1)
sys.exit(count() <= before)
"""


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("client", CLIENTS)
def test_new_mail_while_open(mail, user, tmp_path, client, transport):
    """Mail delivered while the client has INBOX selected (a shell escape
    delivers it and waits for it in the database) is seen at
    <imap-fetch-mail> and can be flagged."""
    deliver(mail, user, ["early"])
    script = os.path.join(str(tmp_path), "newmail.py")
    with open(script, "w") as f:
        f.write(NEWMAIL)
    sock = os.path.join(mail.dir, "run", "pgsql")
    r = Run(mail, str(tmp_path), client, user, transport)
    r.run([f"<shell-escape>{sys.executable} {script} {mail.ports['smtp']} "
           f"{user} {sock} latecomer<enter><imap-fetch-mail>"
           "<search>~s latecomer<enter><flag-message><sync-mailbox><quit>"],
          'set shell = "/bin/sh"\n')
    got = dict(rows(mail, user))
    assert got == {"early": 0, "latecomer": FLAGGED}, (got, r.tail())


def insecure():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
