"""The two systems under test, each in its own directory under the bench's
temporary directory, listening on 127.0.0.1 only.

Wharf: build/master -f -c main.conf with the embedded PostgreSQL, users made
with `wharf user add`.  Reference: Debian's Postfix (`postfix -c DIR`)
receiving SMTP and submission and delivering over LMTP into Debian's
Dovecot (`dovecot -c FILE`), which serves IMAP from maildirs.  Both get
the same users with the same password hashes: the argon2id hash Wharf
stores is copied into Dovecot's passwd-file, so a login costs the same key
derivation on both sides.

Nothing here reads or writes /etc/postfix or /etc/dovecot; every wait is
bounded.
"""
import grp
import os
import pwd
import random
import resource
import signal
import socket
import subprocess
import time

DOMAIN = "bench.test"
PASSWORD = "bench password 1"
START_TIMEOUT = 180
NOFILE = 65536


def log(msg):
    print(f"bench: {msg}", flush=True)


USED_PORTS = set()


def free_port():
    """A free loopback port below the kernel's ephemeral range (a port in
    that range can be taken by an outgoing connection before the server
    binds it)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 32768
    while True:
        port = random.randint(10000, max(lo - 1, 10001))
        if port in USED_PORTS:
            continue
        with socket.socket() as s:
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
    raise RuntimeError("timed out waiting for " + what)


def raise_nofile():
    """As many descriptors as allowed for us and the servers we start
    (1,000 idle connections each way): the soft limit up to the hard."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = NOFILE if hard == resource.RLIM_INFINITY else min(NOFILE, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def run(cmd, timeout=120, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       **kw)
    return checked(cmd, r, check)


def run_daemon(cmd, logpath, timeout=120, check=True):
    """A command that leaves a daemon behind: its output goes to a file,
    not a pipe the daemon would hold open."""
    with open(logpath, "ab") as f:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f,
                           stderr=subprocess.STDOUT, timeout=timeout)
    r.stdout = r.stderr = ""
    if check and r.returncode != 0:
        with open(logpath, errors="replace") as f:
            r.stdout = "".join(f.readlines()[-20:])
    return checked(cmd, r, check)


def checked(cmd, r, check):
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}\n"
                           f"{r.stdout}{r.stderr}")
    return r


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(5)
            return s.recv(512).startswith((b"220", b"* OK"))
    except OSError:
        return False


def proc_table():
    """{pid: (ppid, cmdline)} of every live process."""
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if rest[0] != "Z":
            procs[int(pid)] = (int(rest[1]), cmd)
    return procs


def descendants(roots, procs=None, also=None):
    """roots and every descendant, plus processes whose command line
    contains `also` (and their descendants)."""
    procs = procs if procs is not None else proc_table()
    mine = {p for p in roots if p in procs}
    if also:
        mine |= {p for p, (_, cmd) in procs.items() if also in cmd}
    grew = True
    while grew:
        kids = {p for p, (pp, _) in procs.items() if pp in mine}
        grew = not kids <= mine
        mine |= kids
    return sorted(mine)


def memory_by_pid(pids):
    """{pid: (RSS, PSS)} in KiB.  RSS counts a shared page once per
    process that maps it; PSS divides it between them."""
    mem = {}
    for pid in pids:
        rss = pss = 0
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "Rss":
                        rss = int(v.split()[0])
                    elif k == "Pss":
                        pss = int(v.split()[0])
        except (OSError, ValueError, IndexError):
            continue
        mem[pid] = (rss, pss)
    return mem


class Server:
    """What a workload needs of a system under test."""
    name = "?"
    ports = None

    def restart(self):
        """Stop and start again: fresh processes, whose memory holds
        nothing from earlier workloads (a heap grown by a 100,000-line
        FETCH stays grown and would hide what a connection costs)."""
        self.stop()
        self.start()

    def pids(self):
        raise NotImplementedError


class Wharf(Server):
    name = "Wharf"

    def __init__(self, top, build, users):
        self.dir = os.path.join(top, "w")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.build = build
        self.user_list = users
        self.conf = os.path.join(self.dir, "main.conf")
        self.log = os.path.join(self.dir, "master.log")
        self.ports = {k: free_port() for k in (
            "smtp", "submission", "submissions", "imap", "imaps")}
        self.proc = None
        self.logf = None
        self.hashes = {}
        with open(self.conf, "w") as f:
            f.write(self.config_text())

    def config_text(self):
        p = self.ports
        d = self.dir
        return f"""# wharf bench instance
myhostname = mx.{DOMAIN}
state_dir = {d}/state
run_dir = {d}/run
smtp_listen = 127.0.0.1:{p['smtp']}
submission_listen = 127.0.0.1:{p['submission']}
submissions_listen = 127.0.0.1:{p['submissions']}
imap_listen = 127.0.0.1:{p['imap']}
imaps_listen = 127.0.0.1:{p['imaps']}
admin_listen =
imap_plaintext_loopback = yes
# room for the bench's own connections, all from 127.0.0.1
smtpd_connection_limit = 5000
smtpd_client_connection_limit = 5000
imap_connection_limit = 5000
imap_client_connection_limit = 5000
imap_user_connection_limit = 5000
submission_message_rate_limit = 0
submission_recipient_rate_limit = 0
auth_ip_lockout_failures = 0
auth_lockout_failures = 0
"""

    def wharf(self, *args, input=None, timeout=120):
        return run([os.path.join(self.build, "wharf"), "-c", self.conf,
                    *args], input=input, timeout=timeout)

    def start(self):
        seen = len(self.read_log())
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "master"), "-f", "-c", self.conf],
            stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf,
            start_new_session=True)
        wait_for(lambda: self.proc.poll() is not None or
                 "ready:" in self.read_log()[seen:], START_TIMEOUT,
                 "Wharf ready")
        if self.proc.poll() is not None:
            raise RuntimeError("Wharf master exited:\n" + self.tail())
        wait_for(lambda: port_open(self.ports["imap"]) and
                 port_open(self.ports["smtp"]), 60, "Wharf listeners")

    def add_users(self):
        self.wharf("domain", "add", DOMAIN)
        for u in self.user_list:
            self.wharf("user", "add", f"{u}@{DOMAIN}",
                       input=PASSWORD + "\n")
        r = run(["psql", "-X", "-At", "-F", " ", "-h",
                 os.path.join(self.dir, "run", "pgsql"), "-U", "wharf",
                 "-d", "wharf", "-c",
                 "SELECT u.localpart, u.password_hash FROM users u"],
                timeout=60)
        for line in r.stdout.splitlines():
            user, _, h = line.partition(" ")
            self.hashes[user] = h

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, n=30):
        return "\n".join(self.read_log().splitlines()[-n:])

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        return descendants([self.proc.pid], also=self.dir + "/")

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        for pid in descendants([], also=self.dir + "/"):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.logf:
            self.logf.close()
            self.logf = None


DOVECOT_CONF = """# Dovecot for the wharf bench: everything under {d}
base_dir = {d}/run
state_dir = {d}/state
instance_name = wharf-bench-{tag}
log_path = {d}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%n
first_valid_uid = 1
default_process_limit = 1500
default_client_limit = 6000
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service imap {{
  process_limit = 1500
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 5000
}}
"""

POSTFIX_MAIN = """# Postfix for the wharf bench: everything under {d}
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
myhostname = ref.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{d}/vmailbox
virtual_transport = lmtp:unix:{dovecot}/run/lmtp
smtpd_tls_cert_file = {d}/tls.pem
smtpd_tls_key_file = {d}/tls.pem
smtpd_tls_security_level = none
smtpd_sasl_type = dovecot
smtpd_sasl_path = {dovecot}/run/auth-client
default_process_limit = 1500
"""

# One line per service; the bench's two listeners first.  No chroot.
POSTFIX_MASTER = """127.0.0.1:{smtp} inet n - n - - smtpd
127.0.0.1:{sub} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


class Reference(Server):
    name = "Postfix+Dovecot"

    def __init__(self, top, users):
        self.top = top
        self.pdir = os.path.join(top, "pf")
        self.ddir = os.path.join(top, "dc")
        self.user_list = users
        for d in (self.pdir, self.ddir):
            os.makedirs(d)
            os.chmod(d, 0o755)
        for sub in ("run", "state", "mail"):
            os.makedirs(os.path.join(self.ddir, sub))
        nobody = pwd.getpwnam("nobody")
        self.mail_ids = (nobody.pw_uid, nobody.pw_gid)
        os.chown(os.path.join(self.ddir, "mail"), *self.mail_ids)
        self.dconf = os.path.join(self.ddir, "dovecot.conf")
        self.ports = {"smtp": free_port(), "submission": free_port(),
                      "imap": free_port()}
        self.started = []
        self.cmdlog = os.path.join(top, "ref-commands.log")
        # Dovecot titles its processes with the instance name.
        self.title = f"dovecot-wharf-bench-{os.path.basename(top)}/"

    def configure(self, hashes):
        """Write both configurations; hashes maps a user's local part to
        its stored password hash (PHC argon2id string)."""
        d = self.ddir
        tag = os.path.basename(self.top)
        with open(self.dconf, "w") as f:
            f.write(DOVECOT_CONF.format(d=d, tag=tag, **self.ports))
        uid, gid = self.mail_ids
        with open(os.path.join(d, "users"), "w") as f:
            for u in self.user_list:
                f.write(f"{u}@{DOMAIN}:{{ARGON2ID}}{hashes[u]}:{uid}:"
                        f"{gid}::{d}/mail/{u}\n")
        os.chown(os.path.join(d, "users"), 0,
                 grp.getgrnam("dovecot").gr_gid)
        os.chmod(os.path.join(d, "users"), 0o640)
        p = self.pdir
        os.makedirs(os.path.join(p, "queue"), 0o755)
        os.makedirs(os.path.join(p, "data"), 0o700)
        pf = pwd.getpwnam("postfix")
        os.chown(os.path.join(p, "data"), pf.pw_uid, pf.pw_gid)
        with open(os.path.join(p, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(d=p, domain=DOMAIN, dovecot=d))
        with open(os.path.join(p, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(smtp=self.ports["smtp"],
                                          sub=self.ports["submission"]))
        with open(os.path.join(p, "vmailbox"), "w") as f:
            for u in self.user_list:
                f.write(f"{u}@{DOMAIN} {u}/\n")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-days", "2", "-subj", f"/CN=ref.{DOMAIN}", "-keyout",
             os.path.join(p, "tls.pem"), "-out",
             os.path.join(p, "cert.pem")], timeout=60)
        with open(os.path.join(p, "cert.pem")) as f:
            cert = f.read()
        with open(os.path.join(p, "tls.pem"), "a") as f:
            f.write(cert)
        os.chmod(os.path.join(p, "tls.pem"), 0o600)

    def start(self):
        run_daemon(["dovecot", "-c", self.dconf], self.cmdlog, timeout=60)
        self.started.append("dovecot")
        wait_for(lambda: os.path.exists(os.path.join(
            self.ddir, "run", "lmtp")), 30, "Dovecot's lmtp socket")
        run_daemon(["postfix", "-c", self.pdir, "start"], self.cmdlog,
                   timeout=120)
        self.started.append("postfix")
        wait_for(lambda: port_open(self.ports["imap"]) and
                 port_open(self.ports["smtp"]), 60, "reference listeners")

    def fill_maildir(self, imapload, user, n):
        """user's INBOX with imapload's n messages written as maildir
        files, then indexed by `doveadm force-resync` (far faster than
        APPEND into one big maildir); the seconds it took."""
        d = os.path.join(self.ddir, "mail", user)
        t0 = time.monotonic()
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        run([imapload, "write", str(n), d], timeout=max(600, n // 50))
        for root, dirs, files in os.walk(d):
            for name in dirs + files:
                os.chown(os.path.join(root, name), *self.mail_ids)
        os.chown(d, *self.mail_ids)
        run(["doveadm", "-c", self.dconf, "force-resync", "-u",
             f"{user}@{DOMAIN}", "INBOX"], timeout=max(1800, n // 20))
        return time.monotonic() - t0

    def master_pids(self):
        pids = []
        for path in (os.path.join(self.ddir, "run", "master.pid"),
                     os.path.join(self.pdir, "queue", "pid", "master.pid")):
            try:
                with open(path) as f:
                    pids.append(int(f.read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        return pids

    def pids(self):
        return descendants(self.master_pids(), also=self.title)

    def stop(self):
        before = self.pids()
        if "postfix" in self.started:
            run_daemon(["postfix", "-c", self.pdir, "stop"], self.cmdlog,
                       timeout=60, check=False)
        if "dovecot" in self.started:
            run_daemon(["dovecot", "-c", self.dconf, "stop"], self.cmdlog,
                       timeout=60, check=False)
        self.started = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = [p for p in before if p in proc_table()]
            if not left:
                return
            time.sleep(0.2)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
