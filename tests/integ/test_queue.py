"""qmgr and deliver: durable enqueue, alias fan-out, exactly-once delivery.

These tests play smtpd's part of lib/proto_queue.h over the real socket.
"""
import imaplib
import os
import signal
import ssl
import time

import pytest

import conftest
from conftest import wait_for
from mailstore import blob_path
from wharfipc import Conn, IPC_HELLO, put_str, put_u32

QUEUE_PROTO = 4
QUEUE_SPOOL, QUEUE_SPOOL_R = 0x0401, 0x0402
QUEUE_COMMIT, QUEUE_COMMIT_R = 0x0403, 0x0404
QUEUE_ABORT = 0x0405
DELIVER_PROTO, DELIVER_MSG, DELIVER_MSG_R = 5, 0x0501, 0x0502
QUEUE_OK = 0


def qconnect(inst):
    c = Conn(os.path.join(inst.dir, "run", "private", "qmgr.sock"))
    c.send(IPC_HELLO, put_u32(QUEUE_PROTO) + put_u32(1))
    return c


def envelope(sender, rcpts):
    p = put_str(sender) + put_str("") + put_u32(0) + put_u32(1) + \
        put_u32(0) + put_str("127.0.0.1") + put_str("localhost") + \
        put_str("client.test") + put_str("ESMTP") + put_str("") + \
        put_u32(len(rcpts))
    for r in rcpts:
        p += put_str(r) + put_str("") + put_u32(0)
    return p


def enqueue(inst, sender, rcpts, body):
    c = qconnect(inst)
    t, r = c.request(QUEUE_SPOOL)
    assert t == QUEUE_SPOOL_R and r.u32() == QUEUE_OK
    spool = r.str()
    fd = c.take_fd()
    os.write(fd, body)
    os.close(fd)
    t, r = c.request(QUEUE_COMMIT, put_str(spool) + envelope(sender, rcpts))
    assert t == QUEUE_COMMIT_R
    status, qid = r.u32(), r.str()
    c.close()
    return status, qid


def inbox(inst, user):
    """[(uid, blob, prefix bytes, size)] of a user's INBOX."""
    out = inst.psql(
        "select m.uid, b.name, encode(m.prefix, 'hex'), m.size "
        "from messages m join mailboxes x on x.id = m.mailbox_id "
        "join users u on u.id = x.user_id join blobs b on b.id = m.blob_id "
        f"where u.localpart = '{user}' and x.name = 'INBOX' order by m.uid")
    rows = []
    for line in out.splitlines():
        uid, blob, prefix, size = line.split("|")
        rows.append((int(uid), blob, bytes.fromhex(prefix), int(size)))
    return rows


MSG = (b"Received: from client.test\r\nFrom: a@remote.example\r\n"
       b"Subject: hi\r\n\r\nbody \xc3\xa9 8-bit\r\n")


@pytest.fixture(scope="module")
def q(running):
    w = running.wharf
    w("domain", "add", "q.test", check=True)
    for u in ("ann", "ben"):
        w("user", "add", f"{u}@q.test", input="pw\n", check=True)
    w("alias", "add", "all@q.test", "ann@q.test", "ben@q.test", check=True)
    return running


def test_enqueue_and_deliver(q):
    status, qid = enqueue(q, "a@remote.example", ["ann@q.test"], MSG)
    assert status == QUEUE_OK and len(qid) == 20
    rows = wait_for(lambda: inbox(q, "ann"), 30, "delivery")
    uid, blob, prefix, size = rows[0]
    assert uid == 1 and blob == qid
    with open(blob_path(q, blob), "rb") as f:
        assert f.read() == MSG                  # byte-exact, 8-bit kept
    assert prefix == (b"Return-Path: <a@remote.example>\r\n"
                      b"Delivered-To: ann@q.test\r\n")
    assert size == len(prefix) + len(MSG)      # RFC822.SIZE
    folders = q.psql("select string_agg(name || ':' || coalesce(special_use,"
                     " ''), ',' order by name) from mailboxes x join users u "
                     "on u.id = x.user_id where u.localpart = 'ann'")
    for f in ("INBOX:", "Drafts:\\Drafts", "Sent:\\Sent", "Trash:\\Trash",
              "Junk:\\Junk", "Archive:\\Archive"):
        assert f in folders
    assert f"{qid}: queued from=<a@remote.example>" in q.read_log()
    assert "status=sent" in q.read_log()


def test_one_blob_for_many_recipients(q):
    before = int(q.psql("select count(*) from blobs"))
    status, qid = enqueue(q, "", ["all@q.test", "ann+x@q.test"], MSG)
    assert status == QUEUE_OK
    # ann gets it once per envelope recipient (two deliveries), ben once.
    wait_for(lambda: q.psql(f"select count(*) from messages m join blobs b "
                            f"on b.id = m.blob_id where b.name = '{qid}'")
             == "3", 30, "three deliveries")
    assert int(q.psql("select count(*) from blobs")) == before + 1
    # Every recipient sent: the queue entry is gone, the blob has 3 refs.
    wait_for(lambda: q.psql(f"select count(*) from queue where queue_id = "
                            f"'{qid}'") == "0", 30, "queue entry removed")
    assert q.psql(f"select refcount from blobs where name = '{qid}'") == "3"
    assert inbox(q, "ben")[-1][2].startswith(b"Return-Path: <>\r\n")


def test_unknown_recipient_is_bounced_not_lost(q):
    status, qid = enqueue(q, "x@remote.example", ["ghost@q.test"], MSG)
    assert status == QUEUE_OK
    # The sender hears of it: a notice from <> is queued for it (to a
    # remote domain the test DNS cannot find: it waits), and the
    # original entry, fully reported, is gone.
    wait_for(lambda: q.psql(
        "select count(*) from queue x join queue_recipients r on "
        "r.queue = x.id where x.sender = '' and r.rcpt = "
        "'x@remote.example'") == "1", 30, "the bounce notice queued")
    wait_for(lambda: q.psql(f"select count(*) from queue where queue_id "
                            f"= '{qid}'") == "0", 30, "the entry done")
    assert f"{qid}: sender non-delivery notification: " in q.read_log()


def test_commit_of_unknown_spool_rejected(q):
    c = qconnect(q)
    t, r = c.request(QUEUE_COMMIT, put_str("nosuchspool0000000000") +
                     envelope("", ["ann@q.test"]))
    assert t == QUEUE_COMMIT_R and r.u32() == 2


def test_uncommitted_spool_removed_on_disconnect(q):
    c = qconnect(q)
    t, r = c.request(QUEUE_SPOOL)
    spool = r.u32() == QUEUE_OK and r.str()
    os.close(c.take_fd())
    tmp = os.path.join(q.dir, "state", "blobs", "tmp", spool)
    assert os.path.exists(tmp)
    c.close()
    wait_for(lambda: not os.path.exists(tmp), 10, "spool removed")


def test_abort_removes_spool(q):
    c = qconnect(q)
    t, r = c.request(QUEUE_SPOOL)
    r.u32()
    spool = r.str()
    os.close(c.take_fd())
    c.send(QUEUE_ABORT, put_str(spool), 99)
    tmp = os.path.join(q.dir, "state", "blobs", "tmp", spool)
    wait_for(lambda: not os.path.exists(tmp), 10, "spool removed")


def test_redelivery_of_a_sent_row_makes_no_copy(q):
    status, qid = enqueue(q, "a@remote.example", ["ben@q.test"], MSG)
    wait_for(lambda: q.psql(f"select count(*) from messages m join blobs b "
                            f"on b.id = m.blob_id where b.name = '{qid}'")
             == "1", 30, "delivery")
    row = q.psql("select r.id || ' ' || r.user_id from queue_recipients r "
                 f"join queue q on q.id = r.queue where q.queue_id = '{qid}'")
    if not row:   # queue entry already cleaned up: use the message's key
        row = q.psql("select m.delivery_id || ' ' || x.user_id from messages"
                     " m join mailboxes x on x.id = m.mailbox_id join blobs "
                     f"b on b.id = m.blob_id where b.name = '{qid}'")
    rid, uid = (int(x) for x in row.split())
    # Play qmgr after a crash: hand the same row to deliver again.
    d = Conn(os.path.join(q.dir, "run", "private", "deliver.sock"))
    d.send(IPC_HELLO, put_u32(DELIVER_PROTO) + put_u32(1))
    import struct
    payload = put_str(qid) + put_str(qid) + struct.pack("=Q", len(MSG)) + \
        put_str("a@remote.example") + put_u32(1) + \
        struct.pack("=QQ", rid, uid) + put_str("ben@q.test") + \
        put_str("ben@q.test")
    t, r = d.request(DELIVER_MSG, payload)
    assert t == DELIVER_MSG_R and r.u32() == 1
    assert r.u64() == rid and r.u32() == 0
    assert q.psql(f"select count(*) from messages m join blobs b on "
                  f"b.id = m.blob_id where b.name = '{qid}'") == "1"


def test_crash_after_queued_delivers_exactly_once(fresh):
    """kill -9 everything between "queued" and delivery: delivered after
    the restart, once."""
    inst = fresh().start()
    inst.wharf("domain", "add", "c.test", check=True)
    inst.wharf("user", "add", "cat@c.test", input="pw\n", check=True)
    for pid in inst.service_pids("deliver"):
        os.kill(pid, signal.SIGSTOP)      # deliveries hang
    status, qid = enqueue(inst, "a@remote.example", ["cat@c.test"], MSG)
    assert status == QUEUE_OK
    time.sleep(0.5)
    victims = [pid for pid, _ in inst.processes()]
    for pid in victims:                   # the whole machine "crashes"
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass                          # a backend that just ended
    inst.proc.wait(timeout=10)
    inst.logf.close()
    inst.logf = None
    # Gone for good, zombies reaped: a dead postmaster's pid must not
    # look alive to the next one.
    wait_for(lambda: (conftest.reap_orphans() or True) and not any(
        os.path.exists(f"/proc/{p}") for p in victims), 10, "all dead")
    inst.start()    # postgres recovers from the crash; qmgr rescans
    try:    # crash recovery, then qmgr's first scans (every 30 s)
        wait_for(lambda: inbox(inst, "cat"), 120, "delivery after restart")
    except AssertionError:
        print("\n".join(ln for ln in inst.read_log().splitlines()
                        if "UTC [" not in ln))    # for the CI log
        raise
    time.sleep(1)
    assert len(inbox(inst, "cat")) == 1


def test_wharf_queue_list_and_show(q):
    """A message with a remote recipient stays queued and is listed."""
    status, qid = enqueue(q, "a@remote.example",
                          ["far@remote.example", "ann@q.test"], MSG)
    assert status == QUEUE_OK
    wait_for(lambda: "1 sent" in q.wharf("queue", "list").stdout, 30,
             "local part delivered")
    line = [ln for ln in q.wharf("queue", "list", check=True).stdout
            .splitlines() if ln.startswith(qid)][0]
    assert "<a@remote.example>" in line and "1 pending" in line
    out = q.wharf("queue", "show", qid, check=True).stdout
    assert "to=<far@remote.example>" in out and "remote" in out
    assert "status=pending" in out
    assert "to=<ann@q.test>" in out and "status=sent" in out
    r = q.wharf("queue", "show", "nosuchid")
    assert r.returncode == 1 and "no queue entry" in r.stderr


def test_envelope_and_bodystructure_cached(q):
    """deliver parses each message once and caches what FETCH needs."""
    msg = (b"From: Ann Example <a@remote.example>\r\nTo: ben@q.test\r\n"
           b"Subject: =?UTF-8?Q?caf=C3=A9?=\r\nMessage-ID: <m1@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
           b"boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain; "
           b"charset=utf-8\r\n\r\nhi\r\n--XX\r\nContent-Type: "
           b"application/octet-stream\r\nContent-Transfer-Encoding: "
           b"base64\r\n\r\nAAEC\r\n--XX--\r\n")
    status, qid = enqueue(q, "a@remote.example", ["ben@q.test"], msg)
    assert status == QUEUE_OK

    def cached():
        return q.psql("select envelope || E'\\n' || bodystructure from "
                      "messages m join blobs b on b.id = m.blob_id "
                      f"where b.name = '{qid}'")
    env, bs = wait_for(cached, 30, "delivery").split("\n")
    assert env == ('(NIL "=?UTF-8?Q?caf=C3=A9?=" (("Ann Example" NIL "a" '
                   '"remote.example")) (("Ann Example" NIL "a" '
                   '"remote.example")) (("Ann Example" NIL "a" '
                   '"remote.example")) ((NIL NIL "ben" "q.test")) NIL NIL '
                   'NIL "<m1@x>")')
    assert bs.startswith('(("text" "plain" ("charset" "utf-8") NIL NIL '
                         '"7bit" 2 1 ')
    assert '("application" "octet-stream" NIL NIL NIL "base64" 4 ' in bs
    assert '"mixed" ("boundary" "XX")' in bs


def test_reload_keeps_spools_in_flight(q):
    """A reload starts a new qmgr while the old one finishes: the new one
    must not remove the old one's spool files."""
    c = qconnect(q)
    t, r = c.request(QUEUE_SPOOL)
    assert r.u32() == QUEUE_OK
    spool = r.str()
    fd = c.take_fd()
    os.write(fd, MSG[:20])
    gen = q.read_log().count("reloaded:")
    assert q.wharf("reload").returncode == 0
    wait_for(lambda: q.read_log().count("reloaded:") > gen and
             "running" in q.status(), 30, "new generation running")
    time.sleep(0.5)      # the new qmgr has started and looked at tmp/
    os.write(fd, MSG[20:])
    os.close(fd)
    t, r = c.request(QUEUE_COMMIT, put_str(spool) +
                     envelope("a@remote.example", ["ann@q.test"]))
    assert t == QUEUE_COMMIT_R and r.u32() == QUEUE_OK
    assert "spool cleanup skipped" in q.read_log()


# ---- queue control: flush, hold, release, delete, mailq ----


def remote_message(q):
    status, qid = enqueue(q, "a@remote.example", ["far@remote.example"],
                          MSG)
    assert status == QUEUE_OK
    return qid


def queue_line(q, qid):
    lines = [ln for ln in q.wharf("queue", "list", check=True).stdout
             .splitlines() if ln.startswith(qid)]
    return lines[0] if lines else None


def test_queue_hold_release(q):
    qid = remote_message(q)
    r = q.wharf("queue", "hold", qid, check=True)
    assert r.stdout == "wharf: 1 message held\n"
    assert "held 1 pending" in queue_line(q, qid)
    r = q.wharf("queue", "hold", qid, check=True)      # already held
    assert r.stdout == "wharf: 1 message held\n"
    r = q.wharf("queue", "release", qid, check=True)
    assert r.stdout == "wharf: 1 message released\n"
    assert "held" not in queue_line(q, qid)
    r = q.wharf("queue", "hold", "nosuchid")
    assert r.returncode == 1 and "no queue entry nosuchid" in r.stderr
    assert q.wharf("queue", "hold").returncode == 2     # usage: id or ALL


def test_queue_delete_drops_blob_reference(q):
    qid = remote_message(q)
    ref = int(q.psql(f"SELECT refcount FROM blobs WHERE name = '{qid}'"))
    assert ref == 1                             # the queue entry's
    r = q.wharf("queue", "delete", qid, check=True)
    assert r.stdout == "wharf: 1 message deleted\n"
    assert queue_line(q, qid) is None
    assert q.psql(f"SELECT count(*) FROM queue_recipients r JOIN queue x "
                  f"ON x.id = r.queue WHERE x.queue_id = '{qid}'") == "0"
    # Nothing refers to the blob now: the collector (after a queue scan)
    # removes its row, then its file.
    q.wharf("queue", "flush", check=True)
    wait_for(lambda: q.psql(f"SELECT count(*) FROM blobs WHERE name = "
                            f"'{qid}'") == "0", 30, "the blob row removed")
    assert not os.path.exists(blob_path(q, qid))


def test_queue_flush_retries_now(q):
    """A deferred local recipient is delivered at once after flush, not at
    its next retry time (an hour away) nor at qmgr's next scan (30 s):
    qmgr hears the NOTIFY."""
    qid = remote_message(q)
    before = len(inbox(q, "ben"))
    q.psql("INSERT INTO queue_recipients (queue, rcpt, address, user_id, "
           "transport, status, next_attempt_at) SELECT x.id, 'ben@q.test', "
           "'ben@q.test', u.id, 'local', 'deferred', now() + interval "
           "'1 hour' FROM queue x, users u WHERE x.queue_id = "
           f"'{qid}' AND u.localpart = 'ben'")
    time.sleep(1)
    assert len(inbox(q, "ben")) == before          # not due yet
    r = q.wharf("queue", "flush", qid, check=True)
    assert r.stdout == "wharf: 1 message to be retried now\n"
    wait_for(lambda: len(inbox(q, "ben")) > before, 10, "retried at once")
    r = q.wharf("queue", "flush", check=True)       # all: fine too
    assert "retried now" in r.stdout
    assert q.wharf("queue", "flush", "nosuchid").returncode == 1


def test_mailq_is_queue_list(q, tmp_path):
    qid = remote_message(q)
    link = tmp_path / "mailq"
    os.symlink(conftest.WHARF, link)
    import subprocess
    r = subprocess.run([str(link), "-c", q.conf], capture_output=True,
                       text=True, timeout=60, env=q.env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == q.wharf("queue", "list", check=True).stdout
    assert qid in r.stdout


def test_expunged_message_blob_is_collected(q):
    status, qid = enqueue(q, "a@remote.example", ["ben@q.test"], MSG)
    assert status == QUEUE_OK
    wait_for(lambda: q.psql(f"SELECT refcount FROM blobs WHERE name = "
                            f"'{qid}'") == "1", 30, "delivered, queue done")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    imap = imaplib.IMAP4_SSL("127.0.0.1", q.ports["imaps"],
                             ssl_context=ctx, timeout=30)
    try:
        imap.login("ben@q.test", "pw")
        imap.select("INBOX")
        typ, data = imap.uid("SEARCH", "ALL")
        uids = data[0].split()
        assert typ == "OK" and uids
        imap.uid("STORE", b",".join(uids), "+FLAGS", "(\\Deleted)")
        imap.expunge()
    finally:
        imap.logout()
    assert q.psql(f"SELECT refcount FROM blobs WHERE name = '{qid}'") == "0"
    q.wharf("queue", "flush", check=True)
    wait_for(lambda: q.psql(f"SELECT count(*) FROM blobs WHERE name = "
                            f"'{qid}'") == "0", 30, "the blob collected")
    assert not os.path.exists(blob_path(q, qid))
    assert "unused blob(s) removed" in q.read_log()


def spool_workers(inst):
    return [pid for pid, cmd in inst.processes()
            if "qmgr spool worker" in cmd]


def test_spool_workers_replaced(q):
    """qmgr makes and commits spool files in worker processes: killed,
    they are replaced, and a message is queued (at worst after a 4xx the
    client retries) and delivered once."""
    first = wait_for(lambda: len(spool_workers(q)) == 4 and
                     spool_workers(q), 10, "four spool workers")
    for pid in first:
        os.kill(pid, signal.SIGKILL)
    queued = []

    def try_enqueue():
        try:    # SPOOL and COMMIT may get TEMPFAIL meanwhile
            status, qid = enqueue(q, "a@remote.example", ["ben@q.test"],
                                  MSG)
        except AssertionError:
            return False
        if status == QUEUE_OK:
            queued.append(qid)
        return bool(queued)
    wait_for(try_enqueue, 20, "a message queued after the kill")
    again = wait_for(lambda: len(spool_workers(q)) == 4 and
                     spool_workers(q), 10, "four spool workers again")
    assert not set(first) & set(again)
    assert "spool worker pid=" in q.read_log()
    # Losing the workers does not stop the files made ahead.
    assert "not made ahead" not in q.read_log()
    wait_for(lambda: any(b == queued[0] for _, b, _, _ in inbox(q, "ben")),
             30, "delivery")
    time.sleep(1)
    assert [b for _, b, _, _ in inbox(q, "ben")].count(queued[0]) == 1
