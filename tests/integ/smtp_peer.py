"""A scripted SMTP server for Wharf's tests: the far end of the mta.

    from smtp_peer import Peer, make_cert
    peer = Peer("127.0.0.1", port, rcpt={"b@x.example": "550 5.1.1 no"})
    peer.start()
    ...  # something delivers to 127.0.0.1:port
    peer.wait_transactions(1)
    t = peer.transactions[0]   # .ehlo .mail .rcpts .data .tls .auth_user
    peer.stop()

One listening socket on (host, port) (IPv6 when host has a ':'), one
thread per connection; it
speaks just enough ESMTP for a client to run a whole transaction, and
every reply can be scripted.

Constructor options (all keyword, all optional):
    greeting   the greeting line ("220 peer.example ESMTP"); a 4xx/5xx
               one makes the session wait for QUIT only; None: never
               greet (a server that accepts and then says nothing)
    name       the host name in the greeting and the EHLO reply
    caps       EHLO keywords after the first line; default PIPELINING,
               8BITMIME, DSN, SMTPUTF8, ENHANCEDSTATUSCODES, SIZE 10000000
               (STARTTLS and AUTH are added by the options below)
    tls        a (cert_file, key_file) pair: offer STARTTLS (make_cert()
               makes one with the openssl command)
    auth       a (user, password) pair: offer AUTH PLAIN LOGIN (after TLS
               only when tls is set) and check the credentials (235 or
               535); a transaction without AUTH then gets 530
    replies    {VERB: reply} for EHLO, HELO, MAIL, RCPT, DATA (the 354),
               DOT (after the body), QUIT, STARTTLS, RSET; a reply may be a
               callable(argument line) returning the reply text
    rcpt       {address (lower case): reply} for particular recipients;
               others get replies["RCPT"] or "250 2.1.5 Ok"
    delays     {VERB or "GREETING": seconds} to sleep before that reply
    drop_in_data  close the connection after the first body line
    tls_broken answer STARTTLS with 220, then close instead of the
               handshake (a failed handshake, for the client)

Records, under self.lock:
    connections    how many connections were accepted
    transactions   one Transaction per complete DATA (the body received
                   in full): ehlo (the last EHLO/HELO name), mail (the
                   MAIL FROM argument line, parameters included), rcpts
                   (RCPT TO argument lines of the accepted recipients),
                   data (the exact body bytes, dot-stuffing undone, CRLF
                   kept, without the final "."), tls (STARTTLS done),
                   auth_user (the user that authenticated, or None)
    commands       every command line received, in order

Nothing here is Wharf-specific: standard library plus the openssl command.
"""
import base64
import os
import socket
import ssl
import subprocess
import threading
import time

DEFAULT_CAPS = ["PIPELINING", "8BITMIME", "DSN", "SMTPUTF8",
                "ENHANCEDSTATUSCODES", "SIZE 10000000"]
LINE_MAX = 100000


def make_cert(directory, cn="localhost"):
    """A self-signed P-256 certificate and key for cn in directory;
    returns (cert_file, key_file)."""
    cert = os.path.join(directory, f"{cn}.crt")
    key = os.path.join(directory, f"{cn}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn}",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Transaction:
    def __init__(self):
        self.ehlo = None
        self.mail = None
        self.rcpts = []
        self.data = None
        self.tls = False
        self.auth_user = None

    def __repr__(self):
        return (f"Transaction(ehlo={self.ehlo!r}, mail={self.mail!r}, "
                f"rcpts={self.rcpts!r}, tls={self.tls}, "
                f"auth_user={self.auth_user!r}, "
                f"data={len(self.data or b'')} bytes)")


class _Session:
    """One connection."""

    def __init__(self, peer, sock):
        self.peer, self.sock = peer, sock
        self.rfile = sock.makefile("rb")
        self.tls = False
        self.auth_user = None
        self.ehlo = None
        self.tx = None

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def readline(self):
        line = self.rfile.readline(LINE_MAX)
        if not line:
            raise EOFError
        return line

    def reply(self, verb, default, arg=""):
        r = self.peer.replies.get(verb, default)
        if callable(r):
            r = r(arg)
        d = self.peer.delays.get(verb)
        if d:
            time.sleep(d)
        self.send(r)
        return r

    def run(self):
        p = self.peer
        if p.delays.get("GREETING"):
            time.sleep(p.delays["GREETING"])
        if p.greeting is None:
            while self.rfile.readline(LINE_MAX):
                pass
            return
        self.send(p.greeting)
        if not p.greeting.startswith("2"):
            self.refusing()
            return
        while True:
            line = self.readline().rstrip(b"\r\n").decode("utf-8",
                                                         "replace")
            with p.lock:
                p.commands.append(line)
            verb, _, arg = line.partition(" ")
            handler = getattr(self, "cmd_" + verb.upper(), None)
            if handler is None:
                self.send("500 5.5.2 Error: command not recognized")
            elif handler(arg) is False:
                return

    def refusing(self):
        while True:
            line = self.readline().strip().upper()
            if line == b"QUIT":
                self.send("221 2.0.0 Bye")
                return
            self.send("503 5.5.1 Error: go away")

    def caps(self):
        p = self.peer
        caps = list(p.caps)
        if p.tls and not self.tls:
            caps.append("STARTTLS")
        if p.auth and (self.tls or not p.tls):
            caps.append("AUTH PLAIN LOGIN")
        return caps

    def cmd_EHLO(self, arg):
        self.ehlo = arg
        lines = [f"{self.peer.name}"] + self.caps()
        r = self.peer.replies.get("EHLO")
        if r is not None:
            return self.reply("EHLO", r, arg)
        text = "\r\n".join(f"250-{x}" for x in lines[:-1])
        self.send((text + "\r\n" if text else "") + f"250 {lines[-1]}")

    def cmd_HELO(self, arg):
        self.ehlo = arg
        self.reply("HELO", f"250 {self.peer.name}", arg)

    def cmd_STARTTLS(self, arg):
        if not self.peer.tls or self.tls:
            self.send("502 5.5.1 Error: command not implemented")
            return
        r = self.reply("STARTTLS", "220 2.0.0 Ready to start TLS", arg)
        if not r.startswith("2"):
            return
        if self.peer.tls_broken:
            return False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.peer.tls)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError):
            return False
        self.rfile = self.sock.makefile("rb")
        self.tls = True
        self.ehlo = None

    def auth_check(self, user, password):
        ok = (user, password) == tuple(self.peer.auth)
        if ok:
            self.auth_user = user
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Error: authentication failed")

    def b64line(self):
        return base64.b64decode(self.readline().strip()).decode()

    def cmd_AUTH(self, arg):
        mech, _, initial = arg.partition(" ")
        if not self.peer.auth:
            self.send("503 5.5.1 Error: authentication not enabled")
        elif mech.upper() == "PLAIN":
            if not initial:
                self.send("334 ")
                initial = self.readline().strip().decode()
            parts = base64.b64decode(initial).split(b"\0")
            if len(parts) != 3:
                self.send("501 5.5.2 bad PLAIN response")
                return
            self.auth_check(parts[1].decode(), parts[2].decode())
        elif mech.upper() == "LOGIN":
            self.send("334 VXNlcm5hbWU6")
            user = self.b64line()
            self.send("334 UGFzc3dvcmQ6")
            self.auth_check(user, self.b64line())
        else:
            self.send("504 5.5.4 mechanism not supported")

    def cmd_MAIL(self, arg):
        if self.peer.auth and self.auth_user is None:
            self.send("530 5.7.0 Authentication required")
            return
        r = self.reply("MAIL", "250 2.1.0 Ok", arg)
        if r.startswith("2"):
            self.tx = Transaction()
            self.tx.mail = arg
            self.tx.ehlo = self.ehlo
            self.tx.tls = self.tls
            self.tx.auth_user = self.auth_user

    def cmd_RCPT(self, arg):
        if self.tx is None:
            self.send("503 5.5.1 Error: need MAIL command")
            return
        addr = arg.split(":", 1)[-1].strip().split(" ")[0].strip("<>")
        r = self.peer.rcpt.get(addr.lower())
        if r is None:
            r = self.reply("RCPT", "250 2.1.5 Ok", arg)
        else:
            if self.peer.delays.get("RCPT"):
                time.sleep(self.peer.delays["RCPT"])
            self.send(r)
        if r.startswith("2"):
            self.tx.rcpts.append(arg)

    def cmd_DATA(self, arg):
        if self.tx is None or not self.tx.rcpts:
            self.send("554 5.5.1 Error: no valid recipients")
            return
        r = self.reply("DATA", "354 End data with <CR><LF>.<CR><LF>", arg)
        if not r.startswith("3"):
            return
        data = bytearray()
        while True:
            line = self.readline()
            if self.peer.drop_in_data:
                return False
            if line == b".\r\n":
                break
            if line.startswith(b"."):
                line = line[1:]
            data += line
        self.tx.data = bytes(data)
        r = self.reply("DOT", "250 2.0.0 Ok: queued as PEER1", "")
        if r.startswith("2"):
            with self.peer.lock:
                self.peer.transactions.append(self.tx)
        self.tx = None

    def cmd_RSET(self, arg):
        self.tx = None
        self.reply("RSET", "250 2.0.0 Ok", arg)

    def cmd_NOOP(self, arg):
        self.send("250 2.0.0 Ok")

    def cmd_QUIT(self, arg):
        self.reply("QUIT", "221 2.0.0 Bye", arg)
        return False


class Peer:
    """See the module docstring."""

    def __init__(self, host, port, greeting=None, name="peer.example",
                 caps=None, tls=None, auth=None, replies=None, rcpt=None,
                 delays=None, drop_in_data=False, silent=False,
                 tls_broken=False):
        self.host, self.port, self.name = host, port, name
        self.greeting = None if silent else (
            greeting or f"220 {name} ESMTP test peer")
        self.caps = DEFAULT_CAPS if caps is None else caps
        self.tls, self.auth = tls, auth
        self.replies = replies or {}
        self.rcpt = {k.lower(): v for k, v in (rcpt or {}).items()}
        self.delays = delays or {}
        self.drop_in_data = drop_in_data
        self.tls_broken = tls_broken
        self.lock = threading.Lock()
        self.connections = 0
        self.transactions = []
        self.commands = []
        self.sock = None
        self.conns = []
        self.thread = None

    def start(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, self.port))
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(120)
        s = _Session(self, conn)
        try:
            s.run()
        except (EOFError, OSError, ValueError, ssl.SSLError):
            pass
        finally:
            try:
                s.sock.close()
            except OSError:
                pass

    def wait_transactions(self, n, timeout=30):
        """Wait until n transactions were recorded; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.transactions) >= n:
                    return list(self.transactions)
            time.sleep(0.05)
        raise AssertionError(f"{self.host}:{self.port}: "
                             f"{len(self.transactions)} transactions, "
                             f"wanted {n}")

    def stop(self):
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns = []
        if self.thread is not None:
            self.thread.join(5)
