"""`wharf` without a running master: config, usage, address checks, and
the control protocol against a fake master on master.sock.

Each test has its own directory with a main.conf whose run_dir and
state_dir live inside it; every subprocess has a timeout.
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import WHARF

TIMEOUT = 30

CONF = """# offline test config
# the host name
myhostname = mx.offline.test
state_dir = {d}/state
run_dir = {d}/run

# a size
#message_size_limit = 1000
message_size_limit = 2000000
"""


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wharf-cli-", dir="/tmp")
        self.conf = os.path.join(self.dir, "main.conf")
        self.run_dir = os.path.join(self.dir, "run")
        os.mkdir(self.run_dir)
        self.write(CONF.format(d=self.dir))

    def write(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def read(self):
        with open(self.conf) as f:
            return f.read()

    def wharf(self, *args, conf=True, input=None, env=None,
              timeout=TIMEOUT):
        argv = [WHARF] + (["-c", self.conf] if conf else []) + list(args)
        e = dict(os.environ)
        e.pop("WHARF_CONFIG", None)
        e.update(env or {})
        return subprocess.run(argv, input=input, capture_output=True,
                              text=True, timeout=timeout, env=e,
                              stdin=None if input is not None
                              else subprocess.DEVNULL)


@pytest.fixture
def env():
    e = Env()
    yield e
    shutil.rmtree(e.dir, ignore_errors=True)


def assert_err(r, *words, code=1):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("wharf: "), r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


# ---------------------------------------------------------------- config

def parse_lines(out):
    """`key = value` lines (`key =` when the value is empty)."""
    d = {}
    for line in out.splitlines():
        m = re.fullmatch(r"(\w+) =(?: (.*))?", line)
        assert m, line
        d[m.group(1)] = m.group(2) or ""
    return d


def test_config_prints_every_key(env):
    r = env.wharf("config")
    assert r.returncode == 0, r.stderr
    d = parse_lines(r.stdout)
    assert d["run_dir"] == env.run_dir
    assert d["message_size_limit"] in ("2000000", "2000000b")
    assert d["database"] == "embedded"
    # Expanded: $state_dir inside the default.
    assert d["tls_cert_file"] == env.dir + "/state/tls/cert.pem"
    assert len(d) > 20


def test_config_n_prints_only_changed_keys(env):
    r = env.wharf("config", "-n")
    assert r.returncode == 0, r.stderr
    assert set(parse_lines(r.stdout)) == {
        "myhostname", "state_dir", "run_dir", "message_size_limit"}


def test_config_d_prints_defaults_without_a_file(env):
    r = env.wharf("-c", env.dir + "/missing.conf", "config", "-d",
                  conf=False)
    assert r.returncode == 0, r.stderr
    d = parse_lines(r.stdout)
    assert d["run_dir"] == "/run/wharf"
    assert d["state_dir"] == "/var/lib/wharf"
    assert d["database"] == "embedded"
    assert d["tls_cert_file"] == "$state_dir/tls/cert.pem"


def test_config_check_ok(env):
    r = env.wharf("config", "check")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "wharf: config ok\n"


def test_config_check_typo_names_file_and_line(env):
    env.write("# c\nmessage_size_limit = 1000000\nmyhostnme = x\n")
    r = env.wharf("config", "check")
    assert_err(r, "main.conf:3", "myhostnme")
    assert r.stdout == ""


def test_config_check_bad_value(env):
    env.write("\n\nmessage_size_limit = lots\n")
    assert_err(env.wharf("config", "check"), "main.conf:3",
               "message_size_limit")


def test_config_missing_file(env):
    r = env.wharf("-c", env.dir + "/nope.conf", "config", "check",
                  conf=False)
    assert_err(r, "nope.conf")


def test_config_from_environment(env):
    r = env.wharf("config", "get", "run_dir", conf=False,
                  env={"WHARF_CONFIG": env.conf})
    assert r.returncode == 0, r.stderr
    assert r.stdout == env.run_dir + "\n"


def test_config_option_beats_environment(env):
    r = env.wharf("config", "get", "run_dir",
                  env={"WHARF_CONFIG": env.dir + "/nope.conf"})
    assert r.stdout == env.run_dir + "\n", r.stderr


def test_config_get(env):
    r = env.wharf("config", "get", "myhostname")
    assert (r.returncode, r.stdout) == (0, "mx.offline.test\n"), r.stderr
    r = env.wharf("config", "get", "tls_key_file")
    assert r.stdout == env.dir + "/state/tls/key.pem\n", r.stderr


def test_config_get_unknown_key(env):
    assert_err(env.wharf("config", "get", "no_such_key"), "no_such_key")


def test_config_set_keeps_comments(env):
    before = env.read()
    r = env.wharf("config", "set", "message_size_limit=3000000")
    assert r.returncode == 0, r.stderr
    assert "wharf reload" in r.stdout
    after = env.read()
    for line in before.splitlines():
        if line.startswith("#"):
            assert line in after
    assert "message_size_limit = 2000000" not in after
    r = env.wharf("config", "get", "message_size_limit")
    assert r.stdout.strip() in ("3000000", "3000000b"), r.stderr


def test_config_set_new_key(env):
    r = env.wharf("config", "set", "log_level = debug")
    assert r.returncode == 0, r.stderr
    assert env.wharf("config", "get", "log_level").stdout == "debug\n"
    assert env.wharf("config", "check").returncode == 0


@pytest.mark.parametrize("arg,word", [
    ("message_size_limit=lots", "message_size_limit"),
    ("no_such_key=1", "no_such_key"),
    ("log_level=chatty", "log_level"),
])
def test_config_set_refuses_and_leaves_file(env, arg, word):
    before = env.read()
    assert_err(env.wharf("config", "set", arg), word)
    assert env.read() == before


def test_config_set_without_equals_is_usage(env):
    r = env.wharf("config", "set", "log_level")
    assert r.returncode == 2
    assert "usage:" in r.stderr


# ---------------------------------------------------------------- usage

@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["config", "bogus"], ["config", "-x"],
    ["config", "get"], ["config", "set"], ["config", "-n", "-d"],
    ["start", "-x"], ["start", "-f", "-f"], ["stop", "now"],
    ["status", "-v"], ["reload", "x"], ["domain"], ["domain", "add"],
    ["domain", "add", "a.test", "b.test"], ["domain", "list", "x"],
    ["domain", "rename", "a.test"], ["user"], ["user", "add"],
    ["user", "add", "a@b.test", "pw"], ["user", "frob", "a@b.test"],
    ["user", "list", "a.test", "b.test"], ["alias", "add", "a@b.test"],
    ["alias", "del"], ["alias", "list", "a", "b"], ["-z", "status"],
])
def test_usage_errors(env, args):
    r = env.wharf(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "usage: wharf" in r.stderr
    assert r.stdout == ""


# ---------------------------------------------------------------- master down

def test_status_not_running(env):
    r = env.wharf("status")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "wharf: not running\n"


def test_status_no_run_dir(env):
    shutil.rmtree(env.run_dir)
    r = env.wharf("status")
    assert (r.returncode, r.stdout) == (3, "wharf: not running\n")


def test_status_stale_socket(env):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(env.run_dir, "master.sock"))
    s.close()    # the file stays, nobody listens: ECONNREFUSED
    r = env.wharf("status")
    assert (r.returncode, r.stdout) == (3, "wharf: not running\n"), r.stderr


@pytest.mark.parametrize("cmd", ["stop", "reload"])
def test_stop_reload_not_running(env, cmd):
    assert_err(env.wharf(cmd), "not running")


def test_start_refuses_broken_config(env):
    env.write("run_dir = relative/path\n")
    r = env.wharf("start")
    assert r.returncode == 1
    assert "main.conf:1" in r.stderr


def test_user_add_without_master_is_a_db_error(env):
    r = env.wharf("user", "add", "alice@example.org",
                  input="correct horse\n")
    assert_err(r, "cannot reach the database (is the master running?)")
    assert "correct horse" not in r.stdout + r.stderr
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["domain", "add", "example.org"], ["domain", "list"],
    ["user", "list"], ["user", "del", "Alice@Example.ORG"],
    ["alias", "add", "@example.org", "bob@elsewhere.test"],
    ["alias", "list"],
])
def test_db_commands_without_master(env, args):
    assert_err(env.wharf(*args), "cannot reach the database")


# ---------------------------------------------------------------- addresses

BAD_ADDRESSES = [
    ("noat.example.org", "not an address"),
    ("a@b@example.org", "not an address"),
    ("@example.org", "empty local part"),
    ("a b@example.org", "white space"),
    ("a\tb@example.org", "white space"),
    ("a\x01@example.org", "control"),
    ("x" * 65 + "@example.org", "64"),
    ("a@", "empty domain"),
    ("a@-bad.org", "not a valid domain"),
    ("a@bad-.org", "not a valid domain"),
    ("a@exa_mple.org", "not a valid domain"),
    ("a@example..org", "not a valid domain"),
    ("a@example.org.", "not a valid domain"),
    ("a@" + "a" * 64 + ".org", "not a valid domain"),
    ("a@" + ".".join(["abcdefghi"] * 26), "253"),
]


@pytest.mark.parametrize("addr,why", BAD_ADDRESSES)
@pytest.mark.parametrize("cmd", ["add", "del", "passwd", "lock", "unlock"])
def test_user_address_validation(env, cmd, addr, why):
    r = env.wharf("user", cmd, addr, input="pw\n")
    assert_err(r, "wharf: user " + cmd + ": ", why)
    assert "database" not in r.stderr


@pytest.mark.parametrize("domain", [
    "-a.test", "a-.test", "a_b.test", "a..test", "", "a" * 64 + ".test",
    "a@b.test", "a b.test",
])
def test_domain_validation(env, domain):
    for cmd in ("add", "del"):
        r = env.wharf("domain", cmd, domain)
        assert_err(r, "wharf: domain " + cmd + ": ")
        assert "database" not in r.stderr


def test_user_list_domain_validation(env):
    assert_err(env.wharf("user", "list", "bad_domain.test"),
               "not a valid domain")


@pytest.mark.parametrize("args,why", [
    (["alias", "add", "a@bad_domain", "b@ok.test"], "not a valid domain"),
    (["alias", "add", "a@ok.test", "b@bad_domain"], "not a valid domain"),
    (["alias", "add", "a@ok.test", "@ok.test"], "empty local part"),
    (["alias", "add", "a@ok.test", "nobody"], "not an address"),
    (["alias", "add", "A@OK.test", "a@ok.test"], "alias of itself"),
    (["alias", "del", "a b@ok.test"], "white space"),
    (["alias", "list", "a@@ok.test"], "not an address"),
    (["alias", "list", "bad_domain"], "not a valid domain"),
])
def test_alias_validation(env, args, why):
    r = env.wharf(*args)
    assert_err(r, why)
    assert "database" not in r.stderr


def test_valid_addresses_reach_the_database_step(env):
    for addr in ("Alice@Example.ORG", "x" * 64 + "@a.b",
                 "a+tag@xn--bcher-kva.example", "a@localhost"):
        r = env.wharf("user", "del", addr)
        assert_err(r, "cannot reach the database")


# ---------------------------------------------------------------- fake master

HDR = struct.Struct("=IIII")
IPC_HELLO, IPC_ERROR, IPC_F_REPLY = 1, 2, 2
CTL_STATUS, CTL_STATUS_R, CTL_RELOAD, CTL_STOP, CTL_RESULT = \
    0x201, 0x202, 0x203, 0x204, 0x205


def u32(v):
    return struct.pack("=I", v)


def u64(v):
    return struct.pack("=Q", v)


def sstr(s):
    b = s.encode() + b"\0"
    return u32(len(b)) + b


class FakeMaster:
    """Answers on $run_dir/master.sock with canned replies."""

    def __init__(self, run_dir, replies):
        self.path = os.path.join(run_dir, "master.sock")
        self.replies = replies          # type -> payload (or callable)
        self.seen = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.sock.settimeout(TIMEOUT)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def recv_frame(self, c):
        hdr = b""
        while len(hdr) < HDR.size:
            chunk = c.recv(HDR.size - len(hdr))
            if not chunk:
                return None
            hdr += chunk
        typ, ln, mid, flags = HDR.unpack(hdr)
        data = b""
        while len(data) < ln:
            data += c.recv(ln - len(data))
        return typ, mid, data

    def serve(self):
        try:
            while True:
                c, _ = self.sock.accept()
                with c:
                    self.session(c)
        except OSError:
            pass

    def session(self, c):
        while True:
            f = self.recv_frame(c)
            if f is None:
                return
            typ, mid, data = f
            self.seen.append((typ, data))
            if typ == IPC_HELLO:
                continue
            reply = self.replies.get(typ)
            if callable(reply):
                reply = reply()
            if reply is None:
                return          # hang up
            rtype, payload = reply
            c.sendall(HDR.pack(rtype, len(payload), mid, IPC_F_REPLY) +
                      payload)

    def close(self):
        self.sock.close()


def status_payload(pid, now):
    svc1 = sstr("postgres") + u32(0) + u32(0) + u32(1) + \
        u32(4243) + u64(now - 192) + u32(1)
    svc2 = sstr("smtpd") + u32(2) + u32(5) + u32(2) + \
        u32(5001) + u64(now - 30) + u32(1) + \
        u32(5002) + u64(now - 3) + u32(0)
    svc3 = sstr("imapd") + u32(1) + u32(0) + u32(0)
    return u32(pid) + u64(now - 3 * 86400 - 4 * 3600) + u32(7) + u32(3) + \
        svc1 + svc2 + svc3


@pytest.fixture
def fake(env):
    made = []

    def make(replies):
        m = FakeMaster(env.run_dir, replies)
        made.append(m)
        return m
    yield make
    for m in made:
        m.close()


def test_status_table(env, fake):
    now = int(time.time())
    m = fake({CTL_STATUS: (CTL_STATUS_R, status_payload(4242, now))})
    r = env.wharf("status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "master pid 4242, up 3d04h, generation 7"
    f = [line.split() for line in lines[1:]]
    assert f[0][:4] == ["postgres", "running", "pids", "4243"]
    assert f[0][4] == "up" and f[0][5] in ("3m12s", "3m13s")
    assert f[0][6:] == ["restarts", "0"]
    assert f[1][:4] == ["smtpd", "throttled", "pids", "5001,5002"]
    assert f[1][5] in ("30s", "31s") and f[1][6:] == ["restarts", "5"]
    assert f[2] == ["imapd", "starting", "pids", "-", "up", "-",
                    "restarts", "0"]
    # HELLO (CTL_PROTO 2, version 1) comes first.
    assert m.seen[0] == (IPC_HELLO, u32(2) + u32(1))
    assert m.seen[1][0] == CTL_STATUS


def test_status_malformed_reply(env, fake):
    fake({CTL_STATUS: (CTL_STATUS_R, u32(1) + u64(0) + u32(1) + u32(1000))})
    assert_err(env.wharf("status"), "malformed status reply")


def test_status_master_hangs_up(env, fake):
    fake({})
    assert_err(env.wharf("status"), "status:")


def test_status_ipc_error_reply(env, fake):
    fake({CTL_STATUS: (IPC_ERROR, sstr("go away"))})
    assert_err(env.wharf("status"), "go away")


def test_reload_ok(env, fake):
    fake({CTL_RELOAD: (CTL_RESULT, u32(1) + sstr("reloaded"))})
    r = env.wharf("reload")
    assert (r.returncode, r.stdout) == (0, "wharf: reloaded\n"), r.stderr


def test_reload_refused(env, fake):
    fake({CTL_RELOAD: (CTL_RESULT, u32(0) +
                       sstr("main.conf:4: unknown key 'mesage_size'"))})
    r = env.wharf("reload")
    assert_err(r, "reload refused: main.conf:4: unknown key 'mesage_size'")


def test_stop_waits_for_the_master_pid(env, fake):
    victim = subprocess.Popen(["sleep", "60"])
    now = int(time.time())

    def stop():
        threading.Timer(0.5, victim.kill).start()
        return (CTL_RESULT, u32(1) + sstr("stopping"))
    m = fake({CTL_STATUS: (CTL_STATUS_R, status_payload(victim.pid, now)),
              CTL_STOP: stop})
    t0 = time.monotonic()
    r = env.wharf("stop")
    assert (r.returncode, r.stdout) == (0, "wharf: stopped\n"), r.stderr
    assert time.monotonic() - t0 >= 0.4
    assert [t for t, _ in m.seen] == [IPC_HELLO, CTL_STATUS, CTL_STOP]
    victim.wait(timeout=10)


def test_stop_refused(env, fake):
    fake({CTL_STATUS: (CTL_STATUS_R, status_payload(1, int(time.time()))),
          CTL_STOP: (CTL_RESULT, u32(0) + sstr("busy"))})
    assert_err(env.wharf("stop"), "stop refused: busy")


def test_start_when_running_is_refused(env, fake):
    fake({CTL_STATUS: (CTL_STATUS_R, status_payload(4242, int(time.time())))})
    assert_err(env.wharf("start"), "already running (pid 4242)")


def test_broken_file_still_reaches_the_master(env, fake):
    # The master refuses the file and says why; wharf must get it there.
    env.write(env.read() + "mesage_size_limit = 1\n  continued\n"
              "log_level = chatty\n")
    m = fake({CTL_RELOAD: (CTL_RESULT, u32(0) + sstr("main.conf:11: no")),
              CTL_STATUS: (CTL_STATUS_R,
                           status_payload(4242, int(time.time())))})
    assert_err(env.wharf("reload"), "reload refused: main.conf:11: no")
    assert CTL_RELOAD in [t for t, _ in m.seen]
    r = env.wharf("status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("master pid 4242,")


def test_start_checks_the_file_first(env, fake):
    env.write(env.read() + "mesage_size_limit = 1\n")
    m = fake({})
    assert_err(env.wharf("start"), "main.conf:10", "mesage_size_limit")
    assert m.seen == []
