"""imapd with real IMAP clients: mbsync (isync) syncing both ways, curl's
imap:// and imaps:// URLs, and the Node client imapflow (list, fetch,
flags, IDLE).  Everything on loopback; each client run bounded by a
timeout.
"""
import json
import os
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import Instance, wait_for

T = 60
PW = "client secret"
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
EXTRA = """
argon2_memory_cost = 64k
argon2_time_cost = 1
imap_plaintext_loopback = yes
"""


@pytest.fixture(scope="module")
def mail():
    inst = Instance(EXTRA).start()
    try:
        inst.wharf("domain", "add", "c.test", check=True)
        for u in ("sync", "curl", "flow", "idle"):
            inst.wharf("user", "add", f"{u}@c.test", input=PW + "\n",
                       check=True)
        yield inst
    finally:
        inst.cleanup()


def count(inst, user, box="INBOX"):
    return int(inst.psql(
        "SELECT count(*) FROM messages m JOIN mailboxes b ON "
        "b.id = m.mailbox_id JOIN users u ON u.id = b.user_id WHERE "
        f"u.localpart = '{user}' AND b.name = '{box}'") or 0)


def deliver(inst, user, subjects):
    before = count(inst, user)
    s = smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=T)
    for sub in subjects:
        s.sendmail("sender@remote.example", [f"{user}@c.test"],
                   f"From: Sender <sender@remote.example>\r\nTo: "
                   f"{user}@c.test\r\nSubject: {sub}\r\n\r\nText of "
                   f"{sub}.\r\n".encode())
    s.quit()
    wait_for(lambda: count(inst, user) >= before + len(subjects), 30,
             "delivery")


def run(argv, timeout=T, **kw):
    r = subprocess.run(argv, capture_output=True, text=True,
                       timeout=timeout, **kw)
    return r


# ---- mbsync (isync) ----


def mbsync_conf(inst, tmp, user):
    local = os.path.join(tmp, "Maildir")
    os.makedirs(local, exist_ok=True)
    conf = os.path.join(tmp, "mbsyncrc")
    cert = os.path.join(inst.dir, "state", "tls", "cert.pem")
    with open(conf, "w") as f:
        f.write(f"""IMAPAccount wharf
Host 127.0.0.1
Port {inst.ports['imap']}
User {user}@c.test
Pass "{PW}"
SSLType STARTTLS
CertificateFile {cert}
AuthMechs LOGIN PLAIN

IMAPStore remote
Account wharf

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""")
    return conf, local


def mbsync(conf):
    r = run(["mbsync", "-c", conf, "-a"])
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def maildir_files(path):
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in os.listdir(d)]
    return sorted(out)


def test_mbsync_two_way(mail, tmp_path):
    if shutil.which("mbsync") is None:
        pytest.fail("mbsync (Debian package isync) is not installed")
    deliver(mail, "sync", ["one", "two", "three"])
    conf, local = mbsync_conf(mail, str(tmp_path), "sync")
    mbsync(conf)
    files = maildir_files(os.path.join(local, "INBOX"))
    assert len(files) == 3, files
    bodies = [open(f, "rb").read() for f in files]
    assert any(b"Subject: two\r\n" in b or b"Subject: two\n" in b
               for b in bodies)
    # The default folders came down too.
    for box in ("Drafts", "Sent", "Trash"):
        assert os.path.isdir(os.path.join(local, box)), os.listdir(local)
    # Flag one message locally (Maildir info ":2,FS"), add one to Drafts,
    # delete one: the next sync pushes all three.
    flagged = files[0]
    base = os.path.basename(flagged).split(":2,")[0]
    os.rename(flagged, os.path.join(local, "INBOX", "cur",
                                    base + ":2,FS"))
    drafts = os.path.join(local, "Drafts", "new")
    os.makedirs(drafts, exist_ok=True)
    with open(os.path.join(drafts, "1.local:2,"), "wb") as f:
        f.write(b"From: sync@c.test\r\nSubject: a draft\r\n\r\nhi\r\n")
    gone = files[2]
    os.rename(gone, gone.split(":2,")[0] + ":2,T")     # trashed
    mbsync(conf)
    flags = mail.psql(
        "SELECT string_agg(m.flags::text, ',' ORDER BY m.uid) FROM "
        "messages m JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u "
        "ON u.id = b.user_id WHERE u.localpart = 'sync' AND "
        "b.name = 'INBOX'")
    assert "5" in flags.split(","), flags      # \Seen | \Flagged
    assert count(mail, "sync") == 2             # expunged on the server
    assert count(mail, "sync", "Drafts") == 1
    # And new mail on the server comes down on the next run.
    deliver(mail, "sync", ["four"])
    mbsync(conf)
    assert len(maildir_files(os.path.join(local, "INBOX"))) == 3


# ---- curl ----


def test_curl_fetch_and_list(mail):
    deliver(mail, "curl", ["curl subject"])
    base = f"imap://127.0.0.1:{mail.ports['imap']}"
    r = run(["curl", "-sS", "--max-time", "30", "-u", f"curl@c.test:{PW}",
             f"{base}/INBOX;UID=1"])
    assert r.returncode == 0, r.stderr
    assert "Subject: curl subject" in r.stdout
    assert "Text of curl subject." in r.stdout
    r = run(["curl", "-sS", "--max-time", "30", "-u", f"curl@c.test:{PW}",
             f"{base}/"])
    assert r.returncode == 0, r.stderr
    assert "INBOX" in r.stdout and "Sent" in r.stdout
    r = run(["curl", "-sS", "--max-time", "30", "-k", "-u",
             f"curl@c.test:{PW}",
             f"imaps://127.0.0.1:{mail.ports['imaps']}/INBOX;UID=1"])
    assert r.returncode == 0, r.stderr
    assert "Subject: curl subject" in r.stdout
    r = run(["curl", "-sS", "--max-time", "30", "-u", f"curl@c.test:nope",
             f"{base}/INBOX;UID=1"])
    assert r.returncode != 0


# ---- imapflow ----


def node(*args, timeout=T, **kw):
    return subprocess.Popen(["node", os.path.join(NODE_DIR,
                                                   "imapflow_check.mjs"),
                             *map(str, args)], cwd=NODE_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_imapflow_list_fetch_flags(mail):
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules",
                                      "imapflow")):
        pytest.fail("imapflow missing: run make (npm ci in tests/integ/"
                    "node)")
    deliver(mail, "flow", ["alpha", "beta"])
    p = node(mail.ports["imap"], "flow@c.test", PW)
    out, err = p.communicate(timeout=T)
    assert p.returncode == 0, err
    res = json.loads(out)
    paths = {b["path"]: b["specialUse"] for b in res["list"]}
    assert "INBOX" in paths, paths
    assert paths.get("Sent") == "\\Sent" and paths.get("Trash") == \
        "\\Trash", paths
    assert sorted(m["subject"] for m in res["messages"]) == \
        ["alpha", "beta"], res
    for m in res["messages"]:
        assert m["from"] == "sender@remote.example"
        assert m["size"] == m["sourceLength"]
    flags = mail.psql(
        "SELECT m.flags FROM messages m JOIN mailboxes b ON b.id = "
        "m.mailbox_id JOIN users u ON u.id = b.user_id WHERE "
        "u.localpart = 'flow' ORDER BY m.uid LIMIT 1")
    assert int(flags) & 4                      # \Flagged


def test_imapflow_idle(mail):
    deliver(mail, "idle", ["first"])
    p = node(mail.ports["imap"], "idle@c.test", PW, 30)
    # Wait until it is idling, then deliver.
    deadline = time.monotonic() + T
    line = ""
    while "IDLING" not in line and time.monotonic() < deadline:
        line = p.stderr.readline()
        if not line and p.poll() is not None:
            break
    assert "IDLING" in line, p.stderr.read()
    time.sleep(0.5)
    deliver(mail, "idle", ["second"])
    out, err = p.communicate(timeout=T)
    assert p.returncode == 0, err
    res = json.loads(out)
    assert res["exists"] == 2, res
