"""authd over its real socket: recipient, domain and relay lookups."""
import os
import signal
import subprocess
import sys

import pytest

from conftest import wait_for
from wharfipc import Conn, put_str, put_u32, IPC_ERROR, IPC_HELLO

AUTH_PROTO, AUTH_PROTO_VERSION = 3, 1
AUTH_RCPT, AUTH_RCPT_R = 0x0301, 0x0302
AUTH_DOMAIN, AUTH_DOMAIN_R = 0x0303, 0x0304
AUTH_RELAY, AUTH_RELAY_R = 0x0305, 0x0306
OK, NOUSER, NOTLOCAL, TEMPFAIL = 0, 1, 2, 3
KINDS = {1: "local", 2: "remote", 3: "unknown", 4: "loop", 5: "postmaster"}


def sock_path(inst):
    return os.path.join(inst.dir, "run", "private", "authd.sock")


def connect(inst):
    c = Conn(sock_path(inst))
    c.send(IPC_HELLO, put_u32(AUTH_PROTO) + put_u32(AUTH_PROTO_VERSION))
    return c


def rcpt(c, address):
    t, r = c.request(AUTH_RCPT, put_str(address))
    assert t == AUTH_RCPT_R
    status, n = r.u32(), r.u32()
    dests = set()
    for _ in range(n):
        kind, addr, uid = KINDS[r.u32()], r.str(), r.u64()
        dests.add((kind, addr, uid != 0))
    r.end()
    return status, dests


def status_of(c, type_, arg, want_type):
    t, r = c.request(type_, put_str(arg))
    assert t == want_type
    s = r.u32()
    r.end()
    return s


def add_data(inst):
    w = inst.wharf
    for d in ("a.test", "b.test"):
        w("domain", "add", d, check=True)
    for u in ("alice@a.test", "bob@a.test", "carol@b.test"):
        w("user", "add", u, input="pw-" + u + "\n", check=True)
    w("alias", "add", "team@a.test", "alice@a.test", "bob@a.test",
      "ext@remote.example", check=True)
    w("alias", "add", "loop1@a.test", "loop2@a.test", check=True)
    w("alias", "add", "loop2@a.test", "loop1@a.test", check=True)
    w("alias", "add", "@b.test", "carol@b.test", check=True)


@pytest.fixture(scope="module")
def authd(running):
    add_data(running)
    wait_for(lambda: os.path.exists(sock_path(running)), 30, "authd socket")
    return running


def test_local_user(authd):
    c = connect(authd)
    assert rcpt(c, "alice@a.test") == (OK, {("local", "alice@a.test",
                                             True)})
    # Domains are case-insensitive; local parts are stored lower-case.
    assert rcpt(c, "Alice@A.TEST")[0] == OK


def test_subaddress(authd):
    c = connect(authd)
    assert rcpt(c, "alice+lists@a.test") == (OK, {("local", "alice@a.test",
                                                   True)})


def test_alias_fans_out(authd):
    c = connect(authd)
    status, dests = rcpt(c, "team@a.test")
    assert status == OK
    assert dests == {("local", "alice@a.test", True),
                     ("local", "bob@a.test", True),
                     ("remote", "ext@remote.example", False)}


def test_unknown_user_and_foreign_domain(authd):
    c = connect(authd)
    assert rcpt(c, "nobody@a.test") == (NOUSER, {("unknown", "nobody@a.test",
                                                  False)})
    assert rcpt(c, "someone@elsewhere.example")[0] == NOTLOCAL


def test_postmaster_always_accepted(authd):
    c = connect(authd)
    assert rcpt(c, "postmaster@a.test") == (
        OK, {("postmaster", "postmaster@a.test", False)})


def test_catch_all(authd):
    c = connect(authd)
    assert rcpt(c, "anything@b.test") == (OK, {("local", "carol@b.test",
                                                True)})


def test_alias_loop_detected(authd):
    c = connect(authd)
    status, dests = rcpt(c, "loop1@a.test")
    assert status == OK
    assert dests == {("loop", "loop1@a.test", False)}


def test_domain_and_relay(authd):
    c = connect(authd)
    assert status_of(c, AUTH_DOMAIN, "a.test", AUTH_DOMAIN_R) == OK
    assert status_of(c, AUTH_DOMAIN, "B.Test", AUTH_DOMAIN_R) == OK
    assert status_of(c, AUTH_DOMAIN, "c.test", AUTH_DOMAIN_R) == NOTLOCAL
    assert status_of(c, AUTH_RELAY, "127.0.0.1", AUTH_RELAY_R) == OK
    assert status_of(c, AUTH_RELAY, "::1", AUTH_RELAY_R) == OK
    assert status_of(c, AUTH_RELAY, "192.0.2.1", AUTH_RELAY_R) == NOTLOCAL


def test_malformed_request_gets_error_and_conn_survives(authd):
    c = connect(authd)
    t, r = c.request(AUTH_RCPT, put_u32(7))    # not a str
    assert t == IPC_ERROR
    t, r = c.request(AUTH_RCPT, put_str("x" * 400))  # too long
    assert t == IPC_ERROR
    t, r = c.request(0x03ff, put_str("a"))  # unknown type
    assert t == IPC_ERROR
    assert rcpt(c, "alice@a.test")[0] == OK
    assert "malformed request" in authd.read_log()


def test_hello_required(authd):
    c = Conn(sock_path(authd))
    c.send(AUTH_RCPT, put_str("alice@a.test"), 1)
    with pytest.raises(EOFError):
        c.recv()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be another user")
def test_runs_as_its_user_and_refuses_strangers(authd):
    pid = authd.service_pids("authd")[0]
    with open(f"/proc/{pid}/status") as f:
        uid = [ln for ln in f if ln.startswith("Uid:")][0].split()[1]
    import pwd
    assert int(uid) == pwd.getpwnam("wharf-auth").pw_uid
    # "nobody" is not one of the daemons' users: closed without an answer.
    code = ("import socket,struct,sys\n"
            "s=socket.socket(socket.AF_UNIX);s.settimeout(10)\n"
            f"s.connect({sock_path(authd)!r})\n"
            "try:\n"
            " s.sendall(struct.pack('=IIII',1,8,0,0)+struct.pack('=II',3,1))\n"
            " s.sendall(struct.pack('=IIII',0x301,4,1,0)+b'x')\n"
            " sys.exit(0 if s.recv(16)==b'' else 1)\n"
            "except (BrokenPipeError, ConnectionResetError):\n"
            " sys.exit(0)\n")
    r = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable,
                        "-c", code], timeout=30)
    assert r.returncode == 0
    assert "refused peer" in authd.read_log()


def test_authd_restarted_keeps_socket(authd):
    old = authd.service_pids("authd")
    os.kill(old[0], signal.SIGKILL)
    wait_for(lambda: authd.service_pids("authd") not in ([], old) and
             "running" in authd.status(), 30, "authd restarted")
    c = connect(authd)
    assert rcpt(c, "bob@a.test")[0] == OK


def test_cache_off_sees_changes_at_once(fresh):
    inst = fresh("authd_cache_ttl = 0").start()
    inst.wharf("domain", "add", "c.test", check=True)
    c = connect(inst)
    assert rcpt(c, "dave@c.test")[0] == NOUSER
    inst.wharf("user", "add", "dave@c.test", input="pw\n", check=True)
    assert rcpt(c, "dave@c.test")[0] == OK


def test_cache_keeps_answers_for_ttl(fresh):
    inst = fresh("authd_cache_ttl = 1h").start()
    inst.wharf("domain", "add", "c.test", check=True)
    c = connect(inst)
    assert rcpt(c, "erin@c.test")[0] == NOUSER
    inst.wharf("user", "add", "erin@c.test", input="pw\n", check=True)
    assert rcpt(c, "erin@c.test")[0] == NOUSER   # cached
    assert rcpt(c, "erin+x@c.test")[0] == OK     # another key: fresh
