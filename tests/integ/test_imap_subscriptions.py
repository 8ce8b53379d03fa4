"""imapd: subscriptions as names apart from mailboxes (sql/010).

RFC 9051 6.3.7: a subscription stays when its mailbox goes, and a name
that does not exist can be subscribed; LIST (SUBSCRIBED) shows such names
with \\NonExistent \\Subscribed (RFC 5258 3), LSUB with \\Noselect (RFC
3501 6.3.9); RECURSIVEMATCH (RFC 5258 3.5) and LSUB's "%" rule reach
levels that are neither mailbox nor subscribed.  Plain LIST and RETURN
(SUBSCRIBED) never show a name without a mailbox.  DELETE and RENAME leave
the subscriptions as they are.  The default folders are subscribed when
made, at the first login or the first delivery.  An IMAP4rev2 SELECT's
LIST line carries the mailbox's attributes.

Exact response lines over raw sockets (plaintext on loopback), once as
IMAP4rev1 and once after ENABLE IMAP4rev2 where the forms differ; one
imaplib session over TLS.  One instance for the module, a user per test.
"""
import imaplib
import itertools
import os
import smtplib
import socket
import ssl

import pytest

from conftest import Instance, wait_for

T = 20
DOMAIN = "s.test"
DEFAULTS = ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
USES = {"Archive": "\\Archive", "Drafts": "\\Drafts", "Junk": "\\Junk",
        "Sent": "\\Sent", "Trash": "\\Trash"}
COUNTER = itertools.count(1)


@pytest.fixture(scope="module")
def srv():
    inst = Instance("imap_plaintext_loopback = yes\n"
                    "argon2_memory_cost = 64k\nargon2_time_cost = 1\n")
    inst.start()
    try:
        inst.wharf("domain", "add", DOMAIN, check=True)
        wait_for(lambda: os.path.exists(os.path.join(
            inst.dir, "run", "private")), 30, "run dir")
        yield inst
    finally:
        inst.cleanup()


@pytest.fixture
def user(srv):
    name = f"s{next(COUNTER)}"
    srv.wharf("user", "add", f"{name}@{DOMAIN}", input="pw\n", check=True)
    return name


class Imap:
    """One connection; responses as text lines, the tag taken off."""

    def __init__(self, srv):
        self.sock = socket.create_connection(
            ("127.0.0.1", srv.ports["imap"]), timeout=T)
        self.buf = b""
        self.n = 0
        assert self.line().startswith("* OK")

    def close(self):
        self.sock.close()

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode()

    def cmd(self, text):
        """(untagged lines, the tagged line without its tag)"""
        self.n += 1
        tag = f"t{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            ln = self.line()
            if ln.startswith(tag + " "):
                return lines, ln[len(tag) + 1:]
            lines.append(ln)

    def ok(self, text):
        lines, done = self.cmd(text)
        assert done.startswith("OK"), (text, done, lines)
        return lines

    def no(self, text):
        lines, done = self.cmd(text)
        assert done.startswith("NO"), (text, done, lines)
        assert lines == [], lines
        return done


@pytest.fixture
def clients():
    out = []
    yield out
    for c in out:
        c.close()


@pytest.fixture(params=["rev1", "rev2"])
def rev(request):
    return request.param


def login(srv, clients, user, rev="rev1"):
    c = Imap(srv)
    clients.append(c)
    c.ok(f"LOGIN {user}@{DOMAIN} pw")
    if rev == "rev2":
        assert c.ok("ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2"]
    return c


def subs(srv, user):
    return srv.psql(
        "select string_agg(s.name, ',' order by s.name) from subscriptions s "
        f"join users u on u.id = s.user_id where u.localpart = '{user}'"
    ).split(",")


def boxes(srv, user):
    return srv.psql(
        "select string_agg(m.name, ',' order by m.name) from mailboxes m "
        f"join users u on u.id = m.user_id where u.localpart = '{user}'"
    ).split(",")


def deliver(srv, user):
    def count():
        return int(srv.psql(
            "select count(*) from messages m join mailboxes x on "
            "x.id = m.mailbox_id join users u on u.id = x.user_id "
            f"where u.localpart = '{user}' and x.name = 'INBOX'") or 0)
    before = count()
    with smtplib.SMTP("127.0.0.1", srv.ports["smtp"], timeout=T) as s:
        s.ehlo("client.test")
        s.sendmail("x@remote.example", [f"{user}@{DOMAIN}"],
                   b"From: x@remote.example\r\nSubject: hi\r\n\r\nbody\r\n")
    wait_for(lambda: count() > before, 30, "delivery")


def default_list(sub=True):
    """LIST (SUBSCRIBED) lines of the default folders, in LIST's order."""
    s = " \\Subscribed" if sub else ""
    return [f'* LIST (\\HasNoChildren{" " + USES[n] if n in USES else ""}'
            f'{s}) "/" "{n}"' for n in DEFAULTS]


# ---- the schema ----


def test_schema_and_grants(srv):
    assert srv.psql("select count(*) from information_schema.columns "
                    "where table_name = 'mailboxes' and "
                    "column_name = 'subscribed'") == "0"
    privs = {
        ("wharf_imapd", "SELECT"): "t", ("wharf_imapd", "INSERT"): "t",
        ("wharf_imapd", "DELETE"): "t", ("wharf_imapd", "UPDATE"): "f",
        ("wharf_deliver", "INSERT"): "t", ("wharf_deliver", "SELECT"): "f",
        ("wharf_deliver", "DELETE"): "f",
    }
    for (role, priv), want in privs.items():
        got = srv.psql(f"select has_table_privilege('{role}', "
                       f"'subscriptions', '{priv}')")
        assert got == want, (role, priv)


# ---- the default folders ----


def test_default_folders_subscribed_at_first_login(srv, user, clients):
    c = login(srv, clients, user)
    assert subs(srv, user) == sorted(DEFAULTS)
    assert c.ok('LSUB "" "*"') == [f'* LSUB () "/" "{n}"' for n in DEFAULTS]
    assert c.ok('LIST (SUBSCRIBED) "" "*"') == default_list()
    # a second login makes nothing again and resubscribes nothing
    c.ok("UNSUBSCRIBE Junk")
    login(srv, clients, user)
    assert "Junk" not in subs(srv, user)


def test_default_folders_subscribed_at_first_delivery(srv, user, clients):
    deliver(srv, user)                      # before any login
    assert boxes(srv, user) == sorted(DEFAULTS)
    assert subs(srv, user) == sorted(DEFAULTS)
    c = login(srv, clients, user)
    assert c.ok('LIST (SUBSCRIBED) "" "*"') == default_list()
    # folders that exist keep their state: Junk stays unsubscribed
    c.ok("UNSUBSCRIBE Junk")
    deliver(srv, user)
    assert "Junk" not in subs(srv, user)
    # a default folder made again is subscribed as it is made
    c.ok("DELETE Trash")
    c.ok("UNSUBSCRIBE Trash")
    deliver(srv, user)
    assert "Trash" in boxes(srv, user) and "Trash" in subs(srv, user)


# ---- SUBSCRIBE, UNSUBSCRIBE ----


def test_subscribe_nonexistent(srv, user, clients, rev):
    c = login(srv, clients, user, rev)
    _, done = c.cmd("SUBSCRIBE Ghost")
    assert done == "OK SUBSCRIBE completed"
    _, done = c.cmd("SUBSCRIBE Ghost")     # twice: no error
    assert done == "OK SUBSCRIBE completed"
    assert subs(srv, user) == sorted(DEFAULTS + ["Ghost"])
    assert "Ghost" not in boxes(srv, user)
    assert c.ok('LIST (SUBSCRIBED) "" "Ghost"') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "Ghost"']
    assert c.ok('LSUB "" "Ghost"') == ['* LSUB (\\Noselect) "/" "Ghost"']
    # plain LIST and RETURN (SUBSCRIBED) list mailboxes only (RFC 5258 3)
    assert c.ok('LIST "" "Ghost"') == []
    assert c.ok('LIST "" "*" RETURN (SUBSCRIBED)') == default_list()
    assert c.ok('LIST "" "%"') == default_list(sub=False)
    # STATUS and SELECT still need the mailbox
    assert c.no("SELECT Ghost").startswith("NO [NONEXISTENT]")
    assert c.no("STATUS Ghost (MESSAGES)").startswith("NO [NONEXISTENT]")
    # and LIST-STATUS gives no STATUS for it
    assert c.ok('LIST (SUBSCRIBED) "" "Gh*" RETURN (STATUS (MESSAGES))') \
        == ['* LIST (\\NonExistent \\Subscribed) "/" "Ghost"']
    # the mailbox made later is the subscribed name
    c.ok("CREATE Ghost")
    assert c.ok('LIST (SUBSCRIBED) "" "Ghost"') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Ghost"']
    assert c.ok('LSUB "" "Ghost"') == ['* LSUB () "/" "Ghost"']


def test_unsubscribe(srv, user, clients, rev):
    c = login(srv, clients, user, rev)
    c.ok("SUBSCRIBE Ghost")
    _, done = c.cmd("UNSUBSCRIBE Ghost")
    assert done == "OK UNSUBSCRIBE completed"
    assert c.ok('LSUB "" "*"') == [f'* LSUB () "/" "{n}"' for n in DEFAULTS]
    # RFC 9051 6.3.8: NO when the name is not subscribed, mailbox or not
    assert c.no("UNSUBSCRIBE Ghost") == "NO [NONEXISTENT] Not subscribed"
    c.ok("UNSUBSCRIBE Sent")
    assert c.no("UNSUBSCRIBE Sent") == "NO [NONEXISTENT] Not subscribed"
    assert c.ok('LIST "" "Sent" RETURN (SUBSCRIBED)') == [
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"']
    # INBOX in any case is INBOX
    c.ok("UNSUBSCRIBE inbox")
    assert "INBOX" not in subs(srv, user)
    c.ok("SUBSCRIBE InBox")
    assert "INBOX" in subs(srv, user)


def test_subscribe_invalid_names(srv, user, clients):
    c = login(srv, clients, user)
    for name, why in (('"a//b"', "Empty hierarchy level"),
                      ('"/a"', "Empty hierarchy level"),
                      ('"a/"', "Empty hierarchy level"),
                      ('"a*b"', "Mailbox name with control or wildcard"),
                      ('"a%"', "Mailbox name with control or wildcard"),
                      ('"' + "x" * 1001 + '"', "Mailbox name too long")):
        done = c.no(f"SUBSCRIBE {name}")
        assert done.startswith("NO [CANNOT] " + why), (name, done)
    for text in ("SUBSCRIBE", "SUBSCRIBE a b", "UNSUBSCRIBE"):
        _, done = c.cmd(text)
        assert done.startswith("BAD "), (text, done)
    assert subs(srv, user) == sorted(DEFAULTS)


def test_utf8_names(srv, user, clients):
    c = login(srv, clients, user)
    c.ok("SUBSCRIBE &AMQ-rger")             # modified UTF-7 for Ärger
    assert "Ärger" in subs(srv, user)
    assert c.ok('LIST (SUBSCRIBED) "" "&AMQ-*"') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "&AMQ-rger"']
    d = login(srv, clients, user, "rev2")
    assert d.ok('LSUB "" "Ä*"') == ['* LSUB (\\Noselect) "/" "Ärger"']
    d.ok('UNSUBSCRIBE "Ärger"')
    assert "Ärger" not in subs(srv, user)


# ---- DELETE and RENAME ----


def test_delete_keeps_subscription(srv, user, clients, rev):
    c = login(srv, clients, user, rev)
    c.ok("CREATE Work")
    assert c.ok('LIST (SUBSCRIBED) "" "Work"') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Work"']
    c.ok("DELETE Work")
    assert "Work" in subs(srv, user) and "Work" not in boxes(srv, user)
    assert c.ok('LIST (SUBSCRIBED) "" "Work"') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "Work"']
    assert c.ok('LSUB "" "W%"') == ['* LSUB (\\Noselect) "/" "Work"']
    assert c.ok('LIST "" "Work"') == []
    assert c.ok('LIST "" "Work" RETURN (SUBSCRIBED)') == []
    # a mailbox deleted while unsubscribed leaves nothing
    c.ok("CREATE Play")
    c.ok("UNSUBSCRIBE Play")
    c.ok("DELETE Play")
    assert c.ok('LIST (SUBSCRIBED) "" "Play"') == []
    assert c.ok('LSUB "" "Play"') == []
    # the deleted-and-made-again mailbox has its subscription still
    c.ok("CREATE Work")
    assert c.ok('LSUB "" "Work"') == ['* LSUB () "/" "Work"']


def test_rename_leaves_subscriptions(srv, user, clients, rev):
    c = login(srv, clients, user, rev)
    c.ok("CREATE Old/Kid")                  # both subscribed as made
    c.ok("UNSUBSCRIBE Old/Kid")
    c.ok("RENAME Old New")
    assert boxes(srv, user) == sorted(DEFAULTS + ["New", "New/Kid"])
    assert subs(srv, user) == sorted(DEFAULTS + ["Old"])
    assert c.ok('LIST (SUBSCRIBED) "" "Old*"') == [
        '* LIST (\\NonExistent \\Subscribed) "/" "Old"']
    assert c.ok('LIST (SUBSCRIBED) "" "New*"') == []
    assert c.ok('LIST "" "New*" RETURN (SUBSCRIBED)') == [
        '* LIST (\\HasChildren) "/" "New"',
        '* LIST (\\HasNoChildren) "/" "New/Kid"']
    # the client moves the subscription itself if it wants it moved
    c.ok("SUBSCRIBE New")
    c.ok("UNSUBSCRIBE Old")
    # a rename onto a subscribed name: the name's subscription holds
    c.ok("SUBSCRIBE Back")
    c.ok("RENAME New/Kid Back")
    assert c.ok('LIST (SUBSCRIBED) "" "*"') == [
        default_list()[0],
        '* LIST (\\HasNoChildren \\Archive \\Subscribed) "/" "Archive"',
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Back"',
        ] + default_list()[2:4] + [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "New"',
        ] + default_list()[4:]
    # RENAME INBOX: the new mailbox is not subscribed, INBOX still is
    c.ok("RENAME INBOX Saved")
    assert "Saved" not in subs(srv, user) and "INBOX" in subs(srv, user)


# ---- patterns, order, LSUB's "%" and RECURSIVEMATCH ----


def test_patterns_over_nonexistent_names(srv, user, clients, rev):
    c = login(srv, clients, user, rev)
    for name in ("Ghost2", "Ghost", "Far/Away/Deep", "Far-x", "Other/x"):
        c.ok(f"SUBSCRIBE {name}")
    c.ok("CREATE Other")
    c.ok("UNSUBSCRIBE Other")
    ne = '* LIST (\\NonExistent \\Subscribed) "/" '
    # "%" stops at the delimiter; octet order as for mailboxes
    assert c.ok('LIST (SUBSCRIBED) "" "%"') == [
        default_list()[0], default_list()[1], default_list()[2],
        ne + '"Far-x"', ne + '"Ghost"', ne + '"Ghost2"',
        default_list()[3], default_list()[4], default_list()[5]]
    assert c.ok('LIST (SUBSCRIBED) "" "G*"') == [ne + '"Ghost"',
                                                   ne + '"Ghost2"']
    assert c.ok('LIST (SUBSCRIBED) "" "Far*"') == [
        ne + '"Far-x"', ne + '"Far/Away/Deep"']
    assert c.ok('LIST (SUBSCRIBED) "" "Far/%"') == []
    assert c.ok('LIST (SUBSCRIBED) "" "Far/%/%"') == [ne + '"Far/Away/Deep"']
    assert c.ok('LIST (SUBSCRIBED) "Far/" "*"') == [ne + '"Far/Away/Deep"']
    assert c.ok('LIST (SUBSCRIBED) "" ("Ghost" "Other/%" "Nope")') == [
        ne + '"Ghost"', ne + '"Other/x"']
    # LSUB "%": a level above subscribed names the pattern leaves out is
    # there with \Noselect, whether a mailbox (Other) or not (Far)
    assert c.ok('LSUB "" "%"') == [
        '* LSUB () "/" "INBOX"', '* LSUB () "/" "Archive"',
        '* LSUB () "/" "Drafts"', '* LSUB (\\Noselect) "/" "Far"',
        '* LSUB (\\Noselect) "/" "Far-x"', '* LSUB (\\Noselect) "/" "Ghost"',
        '* LSUB (\\Noselect) "/" "Ghost2"', '* LSUB () "/" "Junk"',
        '* LSUB (\\Noselect) "/" "Other"', '* LSUB () "/" "Sent"',
        '* LSUB () "/" "Trash"']
    assert c.ok('LSUB "" "Far/%"') == ['* LSUB (\\Noselect) "/" "Far/Away"']
    assert c.ok('LSUB "" "F*"') == [
        '* LSUB (\\Noselect) "/" "Far-x"',
        '* LSUB (\\Noselect) "/" "Far/Away/Deep"']
    # made-up levels never reach plain LIST or LIST (SUBSCRIBED)
    assert c.ok('LIST "" "Far*"') == []
    assert c.ok('LIST "" "Other*"') == ['* LIST (\\HasNoChildren) "/" '
                                        '"Other"']


def test_childinfo_with_nonexistent_children(srv, user, clients, rev):
    c = login(srv, clients, user, rev)
    c.ok("CREATE Proj")
    c.ok("UNSUBSCRIBE Proj")
    c.ok("SUBSCRIBE Proj/Gone")           # no such mailbox
    c.ok("SUBSCRIBE Top/Sub/Leaf")        # no Top, no Top/Sub
    c.ok("SUBSCRIBE Ghost")
    c.ok("SUBSCRIBE Ghost/Kid")
    ci = ' ("CHILDINFO" ("SUBSCRIBED"))'
    lines = c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert lines == [
        default_list()[0], default_list()[1], default_list()[2],
        '* LIST (\\NonExistent \\Subscribed) "/" "Ghost"' + ci,
        default_list()[3],
        '* LIST (\\HasNoChildren) "/" "Proj"' + ci,
        default_list()[4],
        '* LIST (\\NonExistent) "/" "Top"' + ci,
        default_list()[5]]
    # without RECURSIVEMATCH neither Proj nor Top
    names = [ln.rsplit(" ", 1)[1] for ln in
             c.ok('LIST (SUBSCRIBED) "" "%"')]
    assert '"Proj"' not in names and '"Top"' not in names
    # "*": the subscribed names themselves match, so no made-up level
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"') == [
        default_list()[0], default_list()[1], default_list()[2],
        '* LIST (\\NonExistent \\Subscribed) "/" "Ghost"' + ci,
        '* LIST (\\NonExistent \\Subscribed) "/" "Ghost/Kid"',
        default_list()[3],
        '* LIST (\\HasNoChildren) "/" "Proj"' + ci,
        '* LIST (\\NonExistent \\Subscribed) "/" "Proj/Gone"',
        default_list()[4],
        '* LIST (\\NonExistent \\Subscribed) "/" "Top/Sub/Leaf"',
        default_list()[5]]
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Top/%"') == [
        '* LIST (\\NonExistent) "/" "Top/Sub"' + ci]
    # LIST-STATUS: a STATUS only for the mailbox
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" ("Proj" "Top") '
                'RETURN (STATUS (MESSAGES))') == [
        '* LIST (\\HasNoChildren) "/" "Proj"' + ci,
        '* STATUS "Proj" (MESSAGES 0)',
        '* LIST (\\NonExistent) "/" "Top"' + ci]
    # a subscribed mailbox with a subscribed child that does not exist
    c.ok("SUBSCRIBE Proj")
    assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Proj"') == [
        '* LIST (\\HasNoChildren \\Subscribed) "/" "Proj"' + ci]


# ---- the LIST line of an IMAP4rev2 SELECT ----


def test_select_list_line(srv, user, clients):
    c = login(srv, clients, user, "rev2")
    assert c.ok("SELECT INBOX")[-1] == \
        '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX'
    assert c.ok("EXAMINE Sent")[-1] == \
        '* LIST (\\HasNoChildren \\Sent \\Subscribed) "/" Sent'
    c.ok("CREATE Box/Kid")
    c.ok("UNSUBSCRIBE Box")
    assert c.ok("SELECT Box")[-1] == '* LIST (\\HasChildren) "/" Box'
    assert c.ok("SELECT Box/Kid")[-1] == \
        '* LIST (\\HasNoChildren \\Subscribed) "/" Box/Kid'
    c.ok("UNSUBSCRIBE Trash")
    assert c.ok("EXAMINE Trash")[-1] == \
        '* LIST (\\HasNoChildren \\Trash) "/" Trash'
    # a name merely starting like Box is no inferior of it
    c.ok("CREATE Box2")
    c.ok("DELETE Box/Kid")
    assert c.ok("SELECT Box")[-1] == '* LIST (\\HasNoChildren) "/" Box'
    # IMAP4rev1: no LIST line
    d = login(srv, clients, user)
    assert not any(ln.startswith("* LIST") for ln in d.ok("SELECT INBOX"))


# ---- a real client over TLS ----


def test_imaplib_over_tls(srv, user):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=ctx,
                          timeout=T)
    try:
        m.login(f"{user}@{DOMAIN}", "pw")
        assert m.subscribe("Later")[0] == "OK"
        typ, data = m.lsub('""', "L*")
        assert typ == "OK" and data == [b'(\\Noselect) "/" "Later"']
        assert m.create("Later")[0] == "OK"
        assert m.lsub('""', "L*")[1] == [b'() "/" "Later"']
        assert m.delete("Later")[0] == "OK"
        assert m.lsub('""', "L*")[1] == [b'(\\Noselect) "/" "Later"']
        assert m.unsubscribe("Later")[0] == "OK"
        assert m.lsub('""', "L*")[1] == [None]
        assert m.unsubscribe("Later")[0] == "NO"
    finally:
        m.logout()
