"""The bench's workloads.  Each takes a running server (servers.Server)
and returns {metric: value} for one run.  Clients: Postfix's smtp-source
(workload 1), asyncio Python (2, 3, 6), bench/imapload (4, and the fills),
imaplib-style raw sockets (5).  Every socket and subprocess has a
timeout."""
import asyncio
import base64
import json
import socket
import ssl
import subprocess
import time

from servers import DOMAIN, PASSWORD, log, memory_by_pid

T = 30                      # seconds allowed for one reply
SINK = f"sink@{DOMAIN}"
SENDER = "sender@remote.example"


class BenchError(Exception):
    pass


# ---- a small blocking IMAP client (for counts and the big mailbox) ----

class Imap:
    def __init__(self, port, user, timeout=T):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.buf = b""
        self.n = 0
        self.line()
        self.cmd(f'LOGIN "{user}" "{PASSWORD}"')

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            d = self.sock.recv(1 << 20)
            if not d:
                raise BenchError("IMAP connection closed")
            self.buf += d

    def cmd(self, text):
        """Send a command; return (all bytes up to the tagged line,
        tagged line).  Bulk responses are not parsed: the tagged reply is
        found at the start of a line (our messages have no literal that
        could hold one)."""
        self.n += 1
        tag = b"b%d " % self.n
        self.sock.sendall(tag + text.encode() + b"\r\n")
        end = b"\r\n" + tag
        data = self.buf
        self.buf = b""
        while True:
            i = (b"\r\n" + data).find(end)
            if i >= 0:
                j = data.find(b"\r\n", i)
                while j < 0:
                    more = self.sock.recv(1 << 20)
                    if not more:
                        raise BenchError("IMAP connection closed")
                    data += more
                    j = data.find(b"\r\n", i)
                tagged = data[i:j]
                self.buf = data[j + 2:]
                if not tagged.startswith(tag + b"OK"):
                    raise BenchError(f"{text}: {tagged!r}")
                return data[:i], tagged
            more = self.sock.recv(1 << 20)
            if not more:
                raise BenchError("IMAP connection closed")
            data += more

    def messages(self, box="INBOX"):
        body, _ = self.cmd(f"STATUS {box} (MESSAGES)")
        text = body.decode(errors="replace")
        return int(text.rsplit("MESSAGES", 1)[1].strip(" )\r\n"))

    def close(self):
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
            self.sock.close()
        except OSError:
            pass


def wait_messages(server, user, want, timeout):
    """Poll STATUS until user's INBOX holds want messages; the time."""
    c = Imap(server.ports["imap"], user)
    try:
        deadline = time.monotonic() + timeout
        while True:
            n = c.messages()
            if n >= want:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise BenchError(f"{server.name}: {n} of {want} messages "
                                 f"in {user} after {timeout} s")
            time.sleep(0.02)
    finally:
        c.close()


def inbox_count(server, user):
    c = Imap(server.ports["imap"], user)
    try:
        return c.messages()
    finally:
        c.close()


# ---- 1. inbound SMTP end to end ----

def smtp_source(server, n, sessions):
    before = inbox_count(server, SINK)
    t0 = time.monotonic()
    r = subprocess.run(["smtp-source", "-l", "4096", "-m", str(n), "-s",
                        str(sessions), "-f", SENDER, "-t", SINK,
                        f"127.0.0.1:{server.ports['smtp']}"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise BenchError(f"smtp-source: {r.returncode} {r.stderr}")
    t1 = wait_messages(server, SINK, before + n, 600)
    return {f"smtp {sessions}": n / (t1 - t0)}


# ---- 2. SMTP transaction latency ----

async def smtp_reply(reader):
    """Read one (possibly multi-line) SMTP reply; its code."""
    while True:
        line = await asyncio.wait_for(reader.readline(), T)
        if not line:
            raise BenchError("SMTP connection closed")
        if line[3:4] != b"-":
            return int(line[:3])


async def smtp_expect(reader, code):
    got = await smtp_reply(reader)
    if got != code:
        raise BenchError(f"SMTP reply {got}, wanted {code}")


BODY = b"The quick brown fox jumps over the lazy dog again.\r\n" * 75


def message_bytes(sender, rcpt, i):
    """About 4 KB, lines under 80 characters (RFC 5321 4.5.3.1.6)."""
    body = BODY
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: bench {i}\r\n"
            f"Message-ID: <{time.time_ns()}.{i}@bench.test>\r\n\r\n"
            ).encode() + body + b"\r\n.\r\n"


async def smtp_transaction(reader, writer, sender, rcpt, i):
    writer.write(f"MAIL FROM:<{sender}>\r\n".encode())
    await smtp_expect(reader, 250)
    writer.write(f"RCPT TO:<{rcpt}>\r\n".encode())
    await smtp_expect(reader, 250)
    writer.write(b"DATA\r\n")
    await smtp_expect(reader, 354)
    writer.write(message_bytes(sender, rcpt, i))
    await smtp_expect(reader, 250)


async def latency_session(port, count, lat):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), T)
    await smtp_expect(reader, 220)
    writer.write(b"EHLO bench.client\r\n")
    await smtp_expect(reader, 250)
    for i in range(count):
        t0 = time.perf_counter()
        await smtp_transaction(reader, writer, SENDER, SINK, i)
        lat.append(time.perf_counter() - t0)
    writer.write(b"QUIT\r\n")
    await smtp_reply(reader)
    writer.close()


def smtp_latency(server, n, sessions=10):
    lat = []

    async def main():
        await asyncio.gather(*(latency_session(
            server.ports["smtp"], n // sessions, lat)
            for _ in range(sessions)))
    asyncio.run(main())
    lat.sort()
    return {"lat p50": lat[len(lat) // 2] * 1000,
            "lat p99": lat[min(len(lat) - 1, len(lat) * 99 // 100)] * 1000}


# ---- 3. submission with STARTTLS + AUTH, one message per connection ----

def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def submit_one(port, user, ctx):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), T)
    try:
        await smtp_expect(reader, 220)
        writer.write(b"EHLO bench.client\r\n")
        await smtp_expect(reader, 250)
        writer.write(b"STARTTLS\r\n")
        await smtp_expect(reader, 220)
        await asyncio.wait_for(writer.start_tls(ctx), T)
        writer.write(b"EHLO bench.client\r\n")
        await smtp_expect(reader, 250)
        token = base64.b64encode(f"\0{user}\0{PASSWORD}".encode())
        writer.write(b"AUTH PLAIN " + token + b"\r\n")
        await smtp_expect(reader, 235)
        await smtp_transaction(reader, writer, user, SINK, 0)
        writer.write(b"QUIT\r\n")
        await smtp_reply(reader)
    finally:
        writer.close()


def submission(server, n, concurrency=10):
    ctx = tls_context()
    user = f"sub@{DOMAIN}"
    left = [n]

    async def worker():
        while left[0] > 0:
            left[0] -= 1
            await submit_one(server.ports["submission"], user, ctx)

    async def main():
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    t0 = time.monotonic()
    asyncio.run(main())
    return {"submission": n / (time.monotonic() - t0)}


# ---- 4. IMAP mix (bench/imapload) ----

def imapload(binary, server, args, timeout):
    cmd = [binary, "-p", str(server.ports["imap"]), "-w", PASSWORD, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise BenchError(f"imapload {' '.join(args)}: exit {r.returncode}"
                         f"\n{r.stderr[-2000:]}")
    return json.loads(r.stdout)


def imap_fill(binary, server, user_fmt, users, n, clients=8):
    if n == 0:
        return 0.0
    t0 = time.monotonic()
    out = imapload(binary, server, ["-u", user_fmt, "-n", str(users), "-c",
                                    str(clients), "fill", str(n)],
                   timeout=max(600, n // 20))
    if out["appended"] != n:
        raise BenchError(f"fill: {out['appended']} of {n} appended")
    return time.monotonic() - t0


MIX_OPS = ("LOGIN", "SELECT", "FETCH_HDR", "FETCH_BODY", "STORE", "SEARCH",
           "APPEND", "EXPUNGE", "IDLE", "LOGOUT")


def imap_mix(binary, server, users, clients, seconds, mix):
    args = ["-u", "m%u@" + DOMAIN, "-n", str(users), "-c", str(clients),
            "-t", str(seconds)]
    if mix:
        args += ["-m", mix]
    out = imapload(binary, server, args + ["mix"], timeout=seconds + 120)
    res = {"imap total": out["per_sec"]}
    for op in MIX_OPS:
        st = out["commands"].get(op)
        if st:
            res[f"imap {op}"] = st["per_sec"]
            res[f"imap {op} p50"] = st["p50_ms"]
            res[f"imap {op} p99"] = st["p99_ms"]
    res["imap errors"] = out["errors"]
    return res


# ---- 5. big mailbox ----

BIG_STEPS = (("SELECT", "SELECT INBOX"),
             ("FETCH FLAGS", "FETCH 1:* (FLAGS)"),
             ("SEARCH TEXT", "UID SEARCH TEXT zebra"),
             ("FETCH ENVELOPE", "FETCH 1:* (ENVELOPE)"))


def big_mailbox(server, n):
    c = Imap(server.ports["imap"], f"big0@{DOMAIN}", timeout=600)
    res = {}
    try:
        for name, text in BIG_STEPS:
            t0 = time.monotonic()
            body, _ = c.cmd(text)
            res[f"big {name}"] = (time.monotonic() - t0) * 1000
            if name == "SEARCH TEXT":
                hits = len(body.split(b"SEARCH", 1)[1].split())
                want = (n + 99) // 100
                if hits != want:
                    log(f"{server.name}: SEARCH TEXT found {hits}, "
                        f"expected {want}")
    finally:
        c.close()
    return res


# ---- 6. memory per idle connection ----

def settle_memory(server, secs=3):
    time.sleep(secs)
    return memory_by_pid(server.pids())


def memory_delta(base, loaded):
    """(RSS, PSS) the loaded snapshot adds over the baseline.  Processes of
    the baseline that exited meanwhile (a Postfix smtpd idling out after
    the SMTP workloads, a Dovecot auth process) are left out of it: they
    have nothing to do with the connections measured."""
    rss = sum(v[0] for v in loaded.values()) - \
        sum(v[0] for p, v in base.items() if p in loaded)
    pss = sum(v[1] for v in loaded.values()) - \
        sum(v[1] for p, v in base.items() if p in loaded)
    return rss, pss


async def smtp_idle(port, held):
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), 120)
    await smtp_expect(reader, 220)
    held.append(writer)


async def imap_idle(port, user, held, gate):
    async with gate:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), 120)
        await asyncio.wait_for(reader.readline(), 120)
        for tag, cmd in ((b"l", f'LOGIN "{user}" "{PASSWORD}"'.encode()),
                         (b"s", b"SELECT INBOX")):
            writer.write(tag + b" " + cmd + b"\r\n")
            while True:
                line = await asyncio.wait_for(reader.readline(), 300)
                if not line:
                    raise BenchError("IMAP connection closed")
                if line.startswith(tag + b" "):
                    if not line.startswith(tag + b" OK"):
                        raise BenchError(f"{cmd!r}: {line!r}")
                    break
        writer.write(b"i IDLE\r\n")
        line = await asyncio.wait_for(reader.readline(), 120)
        if not line.startswith(b"+"):
            raise BenchError(f"IDLE: {line!r}")
    held.append(writer)


def memory(server, n, users):
    res = {}
    for kind in ("smtp", "imap"):
        base = settle_memory(server)

        async def main():
            held = []
            gate = asyncio.Semaphore(50)
            if kind == "smtp":
                jobs = [smtp_idle(server.ports["smtp"], held)
                        for _ in range(n)]
            else:
                jobs = [imap_idle(server.ports["imap"],
                                  f"m{i % users}@{DOMAIN}", held, gate)
                        for i in range(n)]
            try:
                await asyncio.gather(*jobs)
                loaded = await asyncio.to_thread(settle_memory, server)
            finally:
                for w in held:
                    w.close()
            return loaded
        rss, pss = memory_delta(base, asyncio.run(main()))
        res[f"mem {kind} rss"] = rss / n
        res[f"mem {kind} pss"] = pss / n
        time.sleep(3)      # let the servers notice the closed connections
    return res
