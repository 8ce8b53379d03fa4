"""A private Postfix (Debian's package) as a receiving peer for tests.

    pf = PostfixPeer("127.0.0.77", 25, "pf.example", ["bob"]).start()
    ...                     # something delivers to bob@pf.example
    pf.wait_messages("bob", 1)  -> [bytes of each message file]
    pf.log()                -> Postfix's own log (maillog_file)
    pf.stop()

Everything lives in a temporary directory: its own config_directory
(postfix -c), queue, data, log and virtual mailboxes (maildir); it
listens on the given loopback address only (master.cf names it: Postfix
wants inet_interfaces to be an address of an interface, and 127.0.0.77
is not one, though Linux lets anything bind it) and never touches
/etc/postfix or a system Postfix.  STARTTLS is offered with a self-signed
certificate (smtp_peer.make_cert).
"""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from smtp_peer import make_cert

POSTFIX = "/usr/sbin/postfix"

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixPeer:
    def __init__(self, addr, port, domain, users, name="pf.example"):
        self.dir = tempfile.mkdtemp(prefix="wharf-pf-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.addr, self.port, self.domain = addr, port, domain
        self.users = users
        self.conf = os.path.join(self.dir, "etc")
        self.mail = os.path.join(self.dir, "mail")
        self.logfile = os.path.join(self.dir, "postfix.log")
        pw = pwd.getpwnam("postfix")
        for d in (self.conf, self.mail, f"{self.dir}/spool",
                  f"{self.dir}/data"):
            os.makedirs(d)
        for d in (self.mail, f"{self.dir}/data"):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        cert, key = make_cert(self.conf, name)
        mailboxes = ", ".join(f"{u}@{domain}={u}/" for u in users)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""\
compatibility_level = 3.6
queue_directory = {self.dir}/spool
data_directory = {self.dir}/data
maillog_file = {self.logfile}
maillog_file_prefixes = {self.dir}
mail_owner = postfix
myhostname = {name}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {self.mail}
virtual_mailbox_maps = inline:{{ {mailboxes} }}
virtual_uid_maps = static:{pw.pw_uid}
virtual_gid_maps = static:{pw.pw_gid}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
""")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen=f"{addr}:{port}"))

    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.conf, *args],
                              capture_output=True, text=True,
                              timeout=timeout)

    def start(self):
        r = self.postfix("start")
        assert r.returncode == 0, r.stdout + r.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.postfix("status").returncode == 0:
                return self
            time.sleep(0.2)
        raise AssertionError("postfix did not start\n" + self.log())

    def stop(self):
        self.postfix("stop")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and \
                self.postfix("status").returncode == 0:
            time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def messages(self, user):
        files = sorted(glob.glob(os.path.join(self.mail, user, "new", "*")))
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def wait_messages(self, user, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(user)
            if len(got) >= n:
                return got
            time.sleep(0.2)
        raise AssertionError(f"{n} message(s) for {user} at Postfix\n"
                             + self.log()[-3000:])
