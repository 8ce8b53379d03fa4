"""A small client for Wharf's lib/ipc framing, for tests.

Frame: header {u32 type, u32 len, u32 id, u32 flags} in host byte order,
then the payload; str = u32 n + n bytes ending in NUL; u64 = 8 bytes.
"""
import socket
import struct

IPC_HELLO = 1
IPC_ERROR = 2
IPC_F_FD = 0x1
IPC_F_REPLY = 0x2


def put_u32(v):
    return struct.pack("=I", v)


def put_u64(v):
    return struct.pack("=Q", v)


def put_str(s):
    b = s.encode() + b"\0"
    return struct.pack("=I", len(b)) + b


class Reader:
    """Reads fields back in order; raises ValueError past the end."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("short payload")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u32(self):
        return struct.unpack("=I", self.take(4))[0]

    def u64(self):
        return struct.unpack("=Q", self.take(8))[0]

    def str(self):
        n = self.u32()
        b = self.take(n)
        assert b.endswith(b"\0")
        return b[:-1].decode()

    def end(self):
        assert self.pos == len(self.data), "trailing bytes"


class Conn:
    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.next_id = 1

    def close(self):
        self.sock.close()

    def send(self, type_, payload=b"", id_=0, flags=0, fd=None):
        """One frame; fd (if given) rides on its first byte (SCM_RIGHTS)
        and IPC_F_FD is set."""
        if fd is not None:
            flags |= IPC_F_FD
        frame = struct.pack("=IIII", type_, len(payload), id_,
                            flags) + payload
        if fd is None:
            self.sock.sendall(frame)
            return
        n = socket.send_fds(self.sock, [frame], [fd])
        self.sock.sendall(frame[n:])

    fds = None

    def recv_exact(self, n):
        """n bytes; descriptors passed along are kept in self.fds."""
        buf = b""
        while len(buf) < n:
            chunk, fds, _, _ = socket.recv_fds(self.sock, n - len(buf), 4)
            if fds:
                self.fds = (self.fds or []) + fds
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def recv(self):
        type_, n, id_, flags = struct.unpack("=IIII", self.recv_exact(16))
        return type_, id_, flags, Reader(self.recv_exact(n))

    def take_fd(self):
        fd = self.fds.pop(0)
        return fd

    def request(self, type_, payload=b""):
        """Send a request; return (type, flags, Reader) of its reply."""
        id_ = self.next_id
        self.next_id += 1
        self.send(type_, payload, id_)
        rtype, rid, flags, r = self.recv()
        assert rid == id_ and flags & IPC_F_REPLY
        return rtype, r
