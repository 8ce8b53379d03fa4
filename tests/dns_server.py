#!/usr/bin/python3
"""A tiny DNS server for Wharf's tests (unit and integration).

    python3 tests/dns_server.py --port N --zone FILE [--log FILE]

It answers recursive-style (RA set, CNAME chains followed inside the zone)
from a JSON zone table, on UDP and TCP, bound to 127.0.0.1 only.  Port 0
picks a free port.  Once listening it prints "ready PORT" on stdout.  It
exits on SIGTERM/SIGINT, and on EOF of stdin when stdin is a pipe (so a
test that dies takes it along).

Zone FILE: {"name": {TYPE: value, ...}, ...}; names are case-insensitive,
the trailing dot optional.  Keys:
    "MX":    [[10, "mx1.example."], [0, "."]]     (preference, target)
    "A":     ["127.0.0.2"]          "AAAA": ["::1"]
    "CNAME": "target.example."      (answers every type but CNAME itself
                                     with the chain, then the target's data)
    "TXT":   ["v=STSv1; id=1"]      (each string one character-string,
                                     split every 255 octets)
    "TLSA":  [[3, 1, 1, "hex"]]     (usage, selector, matching type, data)
    "DNSKEY": [[257, 3, 8, "base64"]] (flags, protocol, algorithm, key;
                                     never signed: for DNSSEC-bogus tests)
    "SERVFAIL": true                (every query for the name: SERVFAIL)
    "REFUSED": true                 (REFUSED)
    "TIMEOUT": true                 (no answer at all)
    "TCP": true                     (UDP answers are truncated: TC set)
    "TTL": 300                      (TTL of the name's records)
A name absent from the table is NXDOMAIN; a present name without the
asked type is NOERROR with no answer (NODATA).  Negative answers carry a
SOA for the name's parent in the authority section.

Nothing is signed: a validating client (lib/dns with dnssec) finds every
answer bogus.  libunbound answers localhost, test., invalid. and onion.
itself and never asks here: name test zones under .example.

--log FILE appends one line per query: "proto qname qtype".
Standard library only.
"""
import argparse
import base64
import ipaddress
import json
import os
import signal
import socketserver
import stat
import struct
import sys
import threading

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
         "TXT": 16, "AAAA": 28, "OPT": 41, "DS": 43, "RRSIG": 46,
         "DNSKEY": 48, "TLSA": 52, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN = 0, 1, 2, 3
RCODE_NOTIMP, RCODE_REFUSED = 4, 5
CNAME_MAX = 8
DEFAULT_TTL = 300
NEG_TTL = 60
HOST = "127.0.0.1"


def norm(name):
    name = name.lower()
    return name if name.endswith(".") else name + "."


def parent(name):
    if name == ".":
        return "."
    rest = name.split(".", 1)[1]
    return rest if rest else "."


def name_to_wire(name):
    out, name = b"", norm(name)
    if name == ".":
        return b"\0"
    for label in name.split(".")[:-1]:
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError("bad label in %r" % name)
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def read_name(msg, off):
    """(text name, offset after it); follows compression pointers."""
    labels, end, hops = [], None, 0
    while True:
        if off >= len(msg):
            raise ValueError("name past end")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg) or hops > 32:
                raise ValueError("bad pointer")
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            continue
        if n & 0xC0:
            raise ValueError("bad label type")
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode("latin-1"))
        off += n
    return ".".join(labels) + ".", (end if end is not None else off)


class Zone:
    def __init__(self, path):
        with open(path) as f:
            table = json.load(f)
        self.names = {norm(k): v for k, v in table.items()}

    def rdatas(self, entry, qtype):
        """[(type, rdata bytes)] of one name for qtype."""
        tname = TYPE_NAMES.get(qtype)
        if tname is None or tname not in entry:
            return []
        v = entry[tname]
        if tname == "A":
            return [(qtype, ipaddress.IPv4Address(a).packed) for a in v]
        if tname == "AAAA":
            return [(qtype, ipaddress.IPv6Address(a).packed) for a in v]
        if tname == "MX":
            return [(qtype, struct.pack("!H", p) + name_to_wire(t))
                    for p, t in v]
        if tname == "TXT":
            return [(qtype, txt_rdata(s)) for s in v]
        if tname == "TLSA":
            return [(qtype, bytes([u, s, m]) + bytes.fromhex(h))
                    for u, s, m, h in v]
        if tname == "DNSKEY":
            return [(qtype, struct.pack("!HBB", f, p, a)
                     + base64.b64decode(k)) for f, p, a, k in v]
        if tname in ("CNAME", "NS", "PTR"):
            vals = v if isinstance(v, list) else [v]
            return [(qtype, name_to_wire(t)) for t in vals]
        return []

    def resolve(self, qname, qtype):
        """(rcode, answer rrs, authority rrs, flags dict) or None: drop."""
        answer, name = [], norm(qname)
        for _ in range(CNAME_MAX):
            entry = self.names.get(name)
            if entry is None:
                return RCODE_NXDOMAIN, answer, [soa_rr(parent(name))]
            if entry.get("TIMEOUT"):
                return None
            if entry.get("SERVFAIL"):
                return RCODE_SERVFAIL, [], []
            if entry.get("REFUSED"):
                return RCODE_REFUSED, [], []
            ttl = int(entry.get("TTL", DEFAULT_TTL))
            if "CNAME" in entry and qtype != TYPES["CNAME"]:
                answer.append((name, TYPES["CNAME"], ttl,
                               name_to_wire(entry["CNAME"])))
                name = norm(entry["CNAME"])
                continue
            rrs = [(name, t, ttl, rd) for t, rd in self.rdatas(entry, qtype)]
            if not rrs:
                return RCODE_NOERROR, answer, [soa_rr(parent(name))]
            return RCODE_NOERROR, answer + rrs, []
        return RCODE_SERVFAIL, [], []

    def tcp_only(self, qname):
        entry = self.names.get(norm(qname))
        return bool(entry and entry.get("TCP"))


def txt_rdata(s):
    raw = s.encode()
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


def soa_rr(zone):
    rdata = (name_to_wire("ns." + zone if zone != "." else "ns.")
             + name_to_wire("hostmaster." + zone if zone != "."
                            else "hostmaster.")
             + struct.pack("!IIIII", 1, 3600, 600, 86400, NEG_TTL))
    return (zone, TYPES["SOA"], NEG_TTL, rdata)


def rr_wire(rr):
    name, rtype, ttl, rdata = rr
    return (name_to_wire(name) + struct.pack("!HHIH", rtype, 1, ttl,
                                             len(rdata)) + rdata)


def parse_query(msg):
    """(id, flags, qname, qtype, question bytes, edns udp size)."""
    if len(msg) < 12:
        raise ValueError("short")
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    if qd != 1 or flags & 0x8000:
        raise ValueError("not one question")
    qname, off = read_name(msg, 12)
    if off + 4 > len(msg):
        raise ValueError("short question")
    qtype, _qclass = struct.unpack("!HH", msg[off:off + 4])
    question = msg[12:off + 4]
    off += 4
    udp = 512
    try:
        for _ in range(an + ns + ar):
            _n, off = read_name(msg, off)
            rtype, rclass, _ttl, rdlen = struct.unpack(
                "!HHIH", msg[off:off + 10])
            if rtype == TYPES["OPT"]:
                udp = max(512, rclass)
            off += 10 + rdlen
    except (ValueError, struct.error):
        pass
    return qid, flags, qname, qtype, question, udp


def header(qid, qflags, rcode, tc, an, ns):
    flags = 0x8000 | (qflags & 0x0100) | 0x0080 | 0x0400 | rcode
    if tc:
        flags |= 0x0200
    return struct.pack("!HHHHHH", qid, flags, 1, an, ns, 0)


def answer(zone, msg, proto, log):
    """Response bytes or None (no answer)."""
    try:
        qid, qflags, qname, qtype, question, udp = parse_query(msg)
    except (ValueError, struct.error, UnicodeDecodeError):
        if len(msg) >= 2:
            return msg[:2] + struct.pack("!HHHHH", 0x8000 | RCODE_FORMERR,
                                         0, 0, 0, 0)
        return None
    if log:
        log.write("%s %s %s\n" % (proto, qname,
                                  TYPE_NAMES.get(qtype, str(qtype))))
        log.flush()
    try:
        res = zone.resolve(qname, qtype)
        if res is None:
            return None
        rcode, an, ns = res
        body = (b"".join(rr_wire(r) for r in an)
                + b"".join(rr_wire(r) for r in ns))
    except (ValueError, TypeError, KeyError, struct.error) as e:
        sys.stderr.write("dns_server: %s %s: %s\n" % (qname, qtype, e))
        rcode, an, ns, body = RCODE_SERVFAIL, [], [], b""
    out = header(qid, qflags, rcode, False, len(an), len(ns)) + question + body
    if proto == "udp" and (len(out) > udp or zone.tcp_only(qname)):
        out = header(qid, qflags, rcode, True, 0, 0) + question
    return out


def make_handlers(zone, log):
    lock = threading.Lock()

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            with lock:
                out = answer(zone, data, "udp", log)
            if out is not None:
                sock.sendto(out, self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(30)
            try:
                while True:
                    hdr = recv_exact(self.request, 2)
                    if hdr is None:
                        return
                    data = recv_exact(self.request,
                                      struct.unpack("!H", hdr)[0])
                    if data is None:
                        return
                    with lock:
                        out = answer(zone, data, "tcp", log)
                    if out is not None:
                        self.request.sendall(struct.pack("!H", len(out))
                                             + out)
            except OSError:
                return

    return Udp, Tcp


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = False


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def bind_both(port, udp_h, tcp_h):
    """UDP and TCP servers on one port (port 0: a free one)."""
    for _ in range(50):
        udp = UdpServer((HOST, port), udp_h)
        p = udp.server_address[1]
        try:
            tcp = TcpServer((HOST, p), tcp_h)
        except OSError:
            udp.server_close()
            if port:
                raise
            continue
        return udp, tcp, p
    raise OSError("no free port for UDP and TCP")


def stdin_is_pipe():
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--zone", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    zone = Zone(args.zone)
    log = open(args.log, "a") if args.log else None
    udp_h, tcp_h = make_handlers(zone, log)
    udp, tcp, port = bind_both(args.port, udp_h, tcp_h)
    for srv in (udp, tcp):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    signal.signal(signal.SIGINT, lambda *a: os._exit(0))
    print("ready %d" % port, flush=True)
    if stdin_is_pipe():
        while os.read(0, 4096):
            pass
        os._exit(0)
    threading.Event().wait()


if __name__ == "__main__":
    main()
