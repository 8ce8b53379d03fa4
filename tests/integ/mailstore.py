"""What an instance stored: blobs, mailboxes, the queue (for tests)."""
import os
import time

from conftest import wait_for
from dsn_check import check as dsn_check


def blob_path(inst, name):
    return os.path.join(inst.dir, "state", "blobs", name[:2], name)


def read_blob(inst, name):
    with open(blob_path(inst, name), "rb") as f:
        return f.read()


def inbox(inst, user, domain="a.test"):
    """[(uid, blob name)] of user@domain's INBOX."""
    out = inst.psql(
        "select m.uid, b.name from messages m "
        "join mailboxes x on x.id = m.mailbox_id join users u on "
        "u.id = x.user_id join domains d on d.id = u.domain_id "
        "join blobs b on b.id = m.blob_id where u.localpart = "
        f"'{user}' and d.name = '{domain}' and x.name = 'INBOX' "
        "order by m.uid")
    return [(int(u), b) for u, b in (x.split("|")
                                     for x in out.splitlines())]


def queue_dump(inst):
    return inst.psql(
        "select q.queue_id, q.sender, q.held, r.address, r.status, "
        "r.transport, r.attempts, r.dsn_pending, r.last_reply from queue q "
        "join queue_recipients r on r.queue = q.id order by r.id")


def wait_inbox(inst, user, n, domain="a.test", timeout=30):
    """Wait for n messages, then make sure no more come."""
    try:
        wait_for(lambda: len(inbox(inst, user, domain)) >= n, timeout,
                 f"{n} message(s) for {user}@{domain}")
    except AssertionError as e:     # say where the message is
        tail = "\n".join(inst.read_log().splitlines()[-30:])
        raise AssertionError(f"{e}\nqueue:\n{queue_dump(inst)}\nstatus:\n"
                             f"{inst.status()}\nlog:\n{tail}") from None
    time.sleep(0.3)
    rows = inbox(inst, user, domain)
    assert len(rows) == n, rows
    return rows


def notices(inst, user="alice", domain="a.test"):
    """[(summary, bytes, blob)] of the delivery status notifications in
    user's INBOX, each checked by dsn_check (which raises if malformed)."""
    found = []
    for _, blob in inbox(inst, user, domain):
        data = read_blob(inst, blob)
        if b"multipart/report" in data.split(b"\r\n\r\n", 1)[0]:
            found.append((dsn_check(data), data, blob))
    return found
