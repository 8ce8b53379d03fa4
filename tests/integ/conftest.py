"""Integration-test harness: a real master in a temporary directory.

Every instance gets its own state_dir/run_dir under /tmp (short paths: the
PostgreSQL socket path must fit in sun_path), listeners on free loopback
ports, and the embedded PostgreSQL.  WHARF_BUILD names the build directory
(build/ or build/asan/).  Nothing listens outside 127.0.0.1.
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import ctypes

import pytest

# Orphans of a dead master are re-parented to us, so tests see them; we
# must then reap them too (a zombie postmaster's pid would look alive to
# the next postgres).  Our own Popen children are left to Popen.
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # CHILD_SUBREAPER
POPEN_PIDS = set()


def reap_orphans():
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in POPEN_PIDS:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if rest[0] == "Z" and int(rest[1]) == os.getpid():
            try:
                os.waitpid(int(pid), os.WNOHANG)
            except ChildProcessError:
                pass

BUILD = os.environ.get("WHARF_BUILD") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "build"))
MASTER = os.path.join(BUILD, "master")
WHARF = os.path.join(BUILD, "wharf")
START_TIMEOUT = 120
# What AddressSanitizer, LeakSanitizer and UBSan print: any of it fails.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def assert_no_sanitizer_report(text, what):
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"{what}: sanitizer report:\n{text}"


USED_PORTS = set()


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


# make check runs the plain and the sanitizer suites at once: each has
# its own slot (WHARF_TEST_SLOT 0 or 1), so their listeners never meet:
# half the port range each, and 127.<slot>.0.0/16 for fixed addresses.
SLOT = int(os.environ.get("WHARF_TEST_SLOT", "0"))


def slot_addr(last):
    """A fixed loopback address of this suite's slot: 127.SLOT.0.last."""
    return f"127.{SLOT}.0.{last}"


def free_port():
    """A free loopback port for a listener, never handed out before in
    this run and outside the kernel's ephemeral range: a port picked from
    that range can be taken by any outgoing connection (a client socket
    of an earlier test) before the master binds it."""
    lo, hi = ephemeral_range()
    candidates = [(10000, lo - 1)] if lo > 11000 else [(hi + 1, 65535)]
    first, last = candidates[0]
    half = (last - first) // 2
    first, last = (first, first + half) if SLOT == 0 else \
        (first + half + 1, last)
    while True:
        port = random.randint(first, last)
        if port in USED_PORTS:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        USED_PORTS.add(port)
        return port


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class Instance:
    """One master with its own directory, config and log."""

    def __init__(self, extra=""):
        self.dir = tempfile.mkdtemp(prefix="wharf-it-", dir="/tmp")
        os.chmod(self.dir, 0o755)  # the cluster's user must reach it
        self.conf = os.path.join(self.dir, "main.conf")
        self.log = os.path.join(self.dir, "master.log")
        self.ports = {k: free_port() for k in (
            "smtp", "submission", "submissions", "imap", "imaps", "admin")}
        with open(self.conf, "w") as f:
            f.write(self.config_text(extra))
        self.proc = None
        self.logf = None
        self.env = dict(os.environ, WHARF_TEST_INSTANCE=self.dir)

    def config_text(self, extra):
        p = self.ports
        return f"""# integration test instance
myhostname = mx.wharf.test
state_dir = {self.dir}/state
run_dir = {self.dir}/run
smtp_listen = 127.0.0.1:{p['smtp']}
submission_listen = 127.0.0.1:{p['submission']}
submissions_listen = 127.0.0.1:{p['submissions']}
imap_listen = 127.0.0.1:{p['imap']}
imaps_listen = 127.0.0.1:{p['imaps']}
admin_listen = 127.0.0.1:{p['admin']}
process_limit = 2
service_backoff_min = 200ms
shutdown_timeout = 20s
queue_retry_min = 1s
# Outbound DNS never leaves loopback: nothing answers on port 1, so a
# remote recipient a test did not route is deferred at once.
dns_servers = 127.0.0.1:1
dns_dnssec = no
dns_timeout = 1s
# Many instances at once: PostgreSQL's default cache each.
database_shared_buffers = 128m
{extra}
"""

    def wharf(self, *args, input=None, timeout=60, check=False):
        r = subprocess.run([WHARF, "-c", self.conf, *args], input=input,
                           capture_output=True, text=True, timeout=timeout,
                           env=self.env)
        assert_no_sanitizer_report(r.stderr, f"wharf {args}")
        if check and r.returncode != 0:
            raise AssertionError(f"wharf {args}: {r.returncode}\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def start(self):
        seen = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen([MASTER, "-f", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf,
                                     start_new_session=True, env=self.env)
        POPEN_PIDS.add(self.proc.pid)
        wait_for(lambda: self.proc.poll() is not None or
                 "ready:" in self.read_log()[seen:], START_TIMEOUT,
                 "master ready")
        assert self.proc.poll() is None, self.read_log()
        return self

    def read_log(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def status(self):
        return self.wharf("status", check=True).stdout

    def service_pids(self, name):
        """Pids of a service from `wharf status`."""
        for line in self.status().splitlines():
            f = line.split()
            if f and f[0] == name:
                return [int(x) for x in re.findall(r"\b\d+\b",
                        line.split("pids", 1)[1].split("up")[0])] \
                    if "pids" in line else []
        return []

    def psql(self, sql):
        sock = os.path.join(self.dir, "run", "pgsql")
        r = subprocess.run(["psql", "-X", "-At", "-h", sock, "-U", "wharf",
                            "-d", "wharf", "-c", sql], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def master_pid(self):
        if self.proc is not None and self.proc.poll() is None:
            return self.proc.pid
        try:
            with open(os.path.join(self.dir, "run", "master.pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def processes(self):
        """Live processes of this instance: the master and its descendants,
        anything naming the instance's dir (postgres), and wharf daemons
        orphaned to us (pytest is a child subreaper)."""
        procs = {}
        reap_orphans()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(
                        errors="replace")
                with open(f"/proc/{pid}/stat") as f:
                    rest = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if rest[0] != "Z":
                procs[int(pid)] = (int(rest[1]), cmd)
        # Another instance's master is our child too: only daemons count
        # as orphans.
        mine = {p for p, (pp, cmd) in procs.items() if self.dir in cmd or
                (cmd.startswith("wharf: ") and not cmd.startswith(
                    "wharf: master") and pp == os.getpid())}
        root = self.master_pid()
        if root in procs:
            mine.add(root)
        grew = True
        while grew:
            kids = {p for p, (pp, _) in procs.items() if pp in mine}
            grew = not kids <= mine
            mine |= kids
        return sorted((p, procs[p][1]) for p in mine)

    def stop(self):
        """SIGTERM the foreground master; its exit status (None if none)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.logf:
            self.logf.close()
            self.logf = None
        return None if self.proc is None else self.proc.returncode

    def cleanup(self):
        status = self.stop()
        left = self.processes()
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        log = self.read_log() if os.path.exists(self.log) else ""
        shutil.rmtree(self.dir, ignore_errors=True)
        tail = "\n".join(log.splitlines()[-40:])
        assert_no_sanitizer_report(log, "master log")
        assert left == [], f"processes left behind: {left}\n{tail}"
        assert status in (None, 0), \
            f"master exited with status {status}; log:\n{tail}"


@pytest.fixture
def fresh():
    """A new, not yet started instance per test."""
    made = []

    def make(extra=""):
        inst = Instance(extra)
        made.append(inst)
        return inst
    yield make
    for inst in made:
        inst.cleanup()


@pytest.fixture(scope="module")
def running():
    """One started instance shared by a test module."""
    inst = Instance().start()
    yield inst
    inst.cleanup()
