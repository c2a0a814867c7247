"""A ZMTP 3.1 DEALER client on a plain socket: how the runner talks to the server's ROUTER.

Importing pyzmq costs a runner ~27 ms and 3 threads; this module speaks the wire protocol
itself with builtin modules only. It implements the client side of RFC 23 (ZMTP 3.0) and RFC 37
(ZMTP 3.1) with the NULL security mechanism, as one DEALER peer of an unmodified libzmq ROUTER:

1. Connect (``tcp://HOST:PORT``, ``tcp://[V6ADDR]:PORT`` or ``ipc:///path``, ``ipc://@abstract``).
2. Send our whole 64-byte greeting: signature ``FF 00*8 7F``, version 3.1, mechanism "NULL",
   as-server 0, filler. Then read the peer's 64 bytes, which may arrive in pieces (libzmq sends
   its signature, waits for ours, then the rest). Nothing else is sent before the peer's
   greeting is complete: libzmq 4.3.5 drops a peer that sends its READY too early.
3. Send READY (Socket-Type=DEALER, Identity) and wait for the peer's READY (any properties
   accepted, a Socket-Type that cannot talk to a DEALER refused) or ERROR (-> ZmtpError).
4. Frames: a flags byte (MORE 0x01, LONG 0x02, COMMAND 0x04) and a 1- or 8-byte size. PING is
   answered with PONG (ZMTP 3.1 heartbeats), other commands are ignored.

Heartbeats are answered only while the caller is inside `recv`: a runner that stays away from
`recv` longer than the server's heartbeat timeout is dropped by the server. Not implemented:
CURVE/PLAIN, ZMTP 1.0/2.0 peers (refused), the PING TTL (the caller owns all timeouts).
"""

from __future__ import annotations

import _socket
from posix import set_inheritable
from time import monotonic, sleep

__all__ = ["Dealer", "ZmtpClosed", "ZmtpError"]


class ZmtpError(Exception):
    """Connecting, the handshake or the conversation failed (refused, timed out, not a ZMTP 3
    NULL peer, protocol violation). Treat the server as unreachable and close the Dealer."""


class ZmtpClosed(ZmtpError):
    """The peer closed the connection (or reset it). Treat the server as gone."""


_MORE = 0x01
_LONG = 0x02
_COMMAND = 0x04

_GREETING = (
    b"\xff" + bytes(8) + b"\x7f"  # signature (the padding is unused since ZMTP 3.0)
    + b"\x03\x01"  # version 3.1: we answer PING, so we may say so
    + b"NULL" + bytes(16)  # mechanism, NUL-padded to 20 bytes
    + b"\x00"  # as-server: ignored by the NULL mechanism
    + bytes(31)  # filler
)  # fmt: skip
_GREETING_SIZE = 64
_NULL_MECHANISM = b"NULL" + bytes(16)
# Peer socket types a DEALER may talk to (RFC 23, "The Socket Type property").
_COMPATIBLE = (b"ROUTER", b"DEALER", b"REP")

_READ = 65536  # bytes per read of ordinary traffic
_BIG = 256 * 1024  # an incomplete frame larger than this is read straight into its own chunks
_BIG_READ = 1 << 20  # and in reads of up to this much
_DRAIN = 4 << 20  # bytes recv() still reads, without waiting, once its timeout has passed
_COALESCE = 65536  # a message smaller than this is joined and sent with one send()
_IOV_MAX = 1024  # Linux limit on buffers per sendmsg()
_SEND_FLAGS = getattr(_socket, "MSG_NOSIGNAL", 0)  # EPIPE instead of SIGPIPE

_ALREADY_CLOSED = "the Dealer is closed"

# The checker's view of a connection to the server: a `Dealer` here, or a
# `curvelink.CurveDealer` (pyzmq, CURVE) for a tcp endpoint. `typing` only for the checker:
# the runner's start-up path must not import it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class Connection(Protocol):
        def send(self, frames: list[bytes] | tuple[bytes, ...], *,
                 timeout: float | None = None) -> None: ...
        def recv(self, timeout: float | None) -> list[bytes] | None: ...
        def fileno(self) -> int: ...
        def close(self) -> None: ...


class Dealer:
    """One connection to a ROUTER, speaking as a DEALER. Not thread-safe.

    `recv` returns buffered messages without touching the socket, so a caller that polls
    `fileno()` itself must first drain with ``recv(0)`` until it returns None. After any
    ZmtpError (ZmtpClosed included) the Dealer is unusable: every call raises it again; close
    it and treat the server as gone.

    ``peer_version`` is the (major, minor) of the peer's greeting and ``peer_properties`` the
    metadata of its READY command (names as the peer spelled them).
    """

    __slots__ = (
        "_big_chunks",
        "_big_flags",
        "_big_left",
        "_dead",
        "_endpoint",
        "_parts",
        "_pongs",
        "_rbuf",
        "_sock",
        "_timeout",
        "peer_properties",
        "peer_version",
    )

    def __init__(self, endpoint: str, *, timeout: float, identity: bytes = b"") -> None:
        """Connect to `endpoint` and complete the handshake within `timeout` seconds, else
        raise ZmtpError. `identity` (0-255 bytes) becomes our routing id at the ROUTER; empty
        lets the ROUTER pick one."""
        if len(identity) > 255:
            raise ValueError("a ZMTP identity is at most 255 bytes")
        self._sock: _socket.socket | None = None
        self._endpoint = endpoint
        self._timeout = timeout  # also bounds a PONG's write later on
        self._rbuf = bytearray()  # bytes read and not yet parsed (ordinary frames)
        self._parts: list[bytes] = []  # frames of the message being received
        self._big_chunks: list[bytes] | None = None  # body of a large frame being received
        self._big_left = 0
        self._big_flags = 0
        self._dead: ZmtpError | None = None  # why the stream can no longer be used
        self._pongs = 0
        self.peer_properties: dict[bytes, bytes] = {}  # from the peer's READY
        self.peer_version = (0, 0)  # from the peer's greeting
        deadline = monotonic() + timeout
        try:
            self._sock = _connect(endpoint, deadline)
            self._handshake(bytes(identity), deadline)
        except BaseException:
            self.close()
            raise

    @classmethod
    def adopt(cls, fd: int, endpoint: str, prefix: bytes, *, timeout: float) -> Dealer:
        """A Dealer for a connection whose handshake is long done, taken over from another
        process image (spraycc.handover): `fd` is the connected socket, `prefix` the bytes
        already read from it and not yet parsed, from the start of a frame."""
        self = cls.__new__(cls)
        self._endpoint = endpoint
        self._timeout = timeout
        self._rbuf = bytearray(prefix)
        self._parts = []
        self._big_chunks = None
        self._big_left = 0
        self._big_flags = 0
        self._dead = None
        self._pongs = 0
        self.peer_properties = {}
        self.peer_version = (3, 0)
        set_inheritable(fd, False)  # as a socket of our own: no child gets it
        self._sock = _socket.socket(fileno=fd)
        return self

    def idle(self) -> bool:
        """Nothing read and not yet returned: the stream is at a message boundary with no bytes
        buffered, so another process can take the socket over (spraycc.handover)."""
        return (self._dead is None and self._sock is not None and not self._rbuf
                and not self._parts and self._big_chunks is None)

    # --- public interface --------------------------------------------------------------------

    def send(
        self,
        frames: list[bytes] | tuple[bytes, ...],
        *,
        timeout: float | None = None,
    ) -> None:
        """Send one multipart message, blocking until all of it is written to the socket.

        Frames may be bytes, bytearray or contiguous memoryviews; large ones are passed to the
        kernel without being copied. With a `timeout`, a message not written in time raises
        ZmtpError and the Dealer is unusable afterwards (half a message is on the wire).
        """
        self._check()
        if not frames:
            raise ValueError("a message has at least one frame")
        deadline = None if timeout is None else monotonic() + timeout
        bufs: list = []
        total = 0
        last = len(frames) - 1
        for i, given in enumerate(frames):
            frame: bytes | bytearray | memoryview = given
            if type(frame) is not bytes and type(frame) is not bytearray:
                frame = memoryview(frame).cast("B")  # a flat byte view, not a copy
            size = len(frame)
            more = _MORE if i < last else 0
            if size < 256:
                bufs.append(bytes((more, size)))
            else:
                bufs.append(bytes((more | _LONG,)) + size.to_bytes(8, "big"))
            bufs.append(frame)
            total += size
        if total < _COALESCE:
            bufs = [b"".join(bufs)]
        self._write(bufs, deadline)

    def recv(self, timeout: float | None) -> list[bytes] | None:
        """The next complete multipart message, or None if none arrives within `timeout`
        seconds (0: only what is already buffered or readable without waiting; None: wait
        forever). Raises ZmtpClosed when the peer has closed the connection. Heartbeat PINGs
        are answered in here."""
        self._check()
        msg = self._take_message()
        if msg is not None:
            return msg
        deadline = None if timeout is None else monotonic() + timeout
        late = 0  # bytes read after the deadline
        while True:
            got = self._fill(deadline)
            if not got:
                return None
            msg = self._take_message()
            if msg is not None:
                return msg
            # Past the deadline only bytes that are already there are read (_fill no longer
            # waits), and only so many: a peer streaming a huge frame cannot hold us here.
            if deadline is not None and monotonic() >= deadline:
                late += got
                if late > _DRAIN:
                    return None

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def fileno(self) -> int:
        """The socket's file descriptor, for the caller's own poll loop (-1 once closed)."""
        return -1 if self._sock is None else self._sock.fileno()

    def close(self) -> None:
        """Close the connection. Idempotent; the Dealer is unusable afterwards."""
        sock, self._sock = self._sock, None
        if self._dead is None:
            self._dead = ZmtpError(_ALREADY_CLOSED)
        if sock is not None:
            sock.close()

    def __enter__(self) -> Dealer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._dead is None else f"dead: {self._dead}"
        return f"<Dealer {self._endpoint} {state}>"

    # --- handshake ---------------------------------------------------------------------------

    def _handshake(self, identity: bytes, deadline: float) -> None:
        self._write([_GREETING], deadline)
        buf = self._rbuf
        # Read the peer's greeting, checking each part as soon as it is there, so a peer that
        # is not ZMTP 3 fails at once instead of at the deadline.
        while len(buf) < _GREETING_SIZE:
            if not self._fill(deadline):
                raise ZmtpError(f"{self._endpoint}: timed out waiting for the ZMTP greeting")
            if buf[0] != 0xFF or (len(buf) >= 10 and not buf[9] & 0x01):
                raise ZmtpError(f"{self._endpoint}: the peer does not speak ZMTP 3")
            if len(buf) >= 11 and buf[10] < 3:
                raise ZmtpError(f"{self._endpoint}: the peer speaks ZMTP {buf[10]}.x, not 3.x")
        # RFC 23: accept any version >= 3.0; both sides then speak the lower one, and
        # everything here is the same in 3.0 and 3.1 (a 3.0 peer never sends PING).
        self.peer_version = (buf[10], buf[11])
        if bytes(buf[12:32]) != _NULL_MECHANISM:
            mechanism = bytes(buf[12:32]).rstrip(b"\x00").decode("ascii", "replace")
            raise ZmtpError(f"{self._endpoint}: the peer wants security mechanism {mechanism!r}")
        del buf[:_GREETING_SIZE]
        self._write([_command(b"READY", _properties(identity))], deadline)
        while True:
            frame = self._take_frame()
            if frame is None:
                if not self._fill(deadline):
                    raise ZmtpError(f"{self._endpoint}: timed out waiting for READY")
                continue
            flags, body = frame
            if not flags & _COMMAND:
                raise ZmtpError(f"{self._endpoint}: a message frame before READY")
            name, data = _split_command(body)
            if name == b"READY":
                self._on_ready(data)
                return
            if name == b"ERROR":
                raise ZmtpError(f"{self._endpoint}: the peer refused us: {_error_reason(data)}")
            self._on_command(name, data)

    def _on_ready(self, data: bytes) -> None:
        props = _parse_properties(data)
        if props is None:
            raise ZmtpError(f"{self._endpoint}: malformed READY command")
        self.peer_properties = props
        for name, value in props.items():
            # Property names are case-insensitive; the value is the peer's socket type.
            if name.lower() == b"socket-type" and value.upper() not in _COMPATIBLE:
                kind = value.decode("ascii", "replace")
                raise ZmtpError(f"{self._endpoint}: a DEALER cannot talk to a {kind} socket")

    # --- receiving ---------------------------------------------------------------------------

    def _take_message(self) -> list[bytes] | None:
        """A complete message from the bytes read so far (handling commands on the way)."""
        while True:
            frame = self._take_frame()
            if frame is None:
                return None
            flags, body = frame
            if flags & _COMMAND:
                try:
                    name, data = _split_command(body)
                    self._on_command(name, data)
                except ZmtpError as exc:
                    raise self._die(exc) from None
                continue
            self._parts.append(body)
            if not flags & _MORE:
                msg, self._parts = self._parts, []
                return msg

    def _take_frame(self) -> tuple[int, bytes] | None:
        """The next complete frame (flags, body), or None if more bytes are needed."""
        if self._big_chunks is not None:
            if self._big_left:
                return None
            chunks, self._big_chunks = self._big_chunks, None
            return self._big_flags, b"".join(chunks)
        buf = self._rbuf
        have = len(buf)
        if have < 2:
            return None
        flags = buf[0]
        if flags & _LONG:
            if have < 9:
                return None
            size = int.from_bytes(buf[1:9], "big")
            start = 9
        else:
            size = buf[1]
            start = 2
        end = start + size
        if end <= have:
            body = bytes(memoryview(buf)[start:end])
            del buf[:end]  # O(1): CPython drops a bytearray's prefix by moving its start
            return flags, body
        if size >= _BIG:
            # Read the rest straight into chunks of their own, joined once at the end: no
            # re-copying a growing buffer, and nothing allocated ahead for a size the peer
            # merely declared.
            self._big_chunks = [bytes(memoryview(buf)[start:])]
            self._big_left = end - have
            self._big_flags = flags
            buf.clear()
        return None

    def _fill(self, deadline: float | None) -> int:
        """Read once, waiting until `deadline` at most: the number of bytes read, 0 if nothing
        arrived in time."""
        sock = self._sock
        assert sock is not None
        _set_timeout(sock, deadline)
        try:
            if self._big_chunks is not None:
                chunk = sock.recv(min(self._big_left, _BIG_READ))
            else:
                chunk = sock.recv(_READ)
        except (TimeoutError, BlockingIOError):
            return 0
        except ConnectionError as exc:
            raise self._die(ZmtpClosed(f"{self._endpoint}: connection lost: {exc}")) from None
        except OSError as exc:
            raise self._die(ZmtpError(f"{self._endpoint}: receive failed: {exc}")) from None
        if not chunk:
            raise self._die(ZmtpClosed(f"{self._endpoint}: the peer closed the connection"))
        if self._big_chunks is not None:
            self._big_chunks.append(chunk)
            self._big_left -= len(chunk)
        else:
            self._rbuf += chunk
        return len(chunk)

    def _on_command(self, name: bytes, data: bytes) -> None:
        if name == b"PING":
            # RFC 37: PING = ttl (2 bytes) + context (0-16 bytes); PONG echoes the context.
            self._write([_command(b"PONG", data[2:18])], monotonic() + self._timeout)
            self._pongs += 1
        elif name == b"ERROR":
            raise self._die(ZmtpError(f"{self._endpoint}: peer error: {_error_reason(data)}"))
        # Anything else (PONG, SUBSCRIBE, a command from a later version) needs no answer.

    # --- sending -----------------------------------------------------------------------------

    def _write(self, bufs: list, deadline: float | None) -> None:
        sock = self._sock
        assert sock is not None
        i = 0
        count = len(bufs)
        while i < count:
            _set_timeout(sock, deadline)
            try:
                if i == count - 1:
                    sent = sock.send(bufs[i], _SEND_FLAGS)
                else:
                    sent = sock.sendmsg(bufs[i : i + _IOV_MAX], (), _SEND_FLAGS)
            except (TimeoutError, BlockingIOError):
                if deadline is not None and monotonic() < deadline:
                    continue
                raise self._die(ZmtpError(f"{self._endpoint}: send timed out")) from None
            except ConnectionError as exc:
                raise self._die(ZmtpClosed(f"{self._endpoint}: connection lost: {exc}")) from None
            except OSError as exc:
                raise self._die(ZmtpError(f"{self._endpoint}: send failed: {exc}")) from None
            # Drop what the kernel took; keep the unsent tail of a partly sent buffer.
            while i < count:
                size = len(bufs[i])
                if sent < size:
                    if sent:
                        bufs[i] = memoryview(bufs[i])[sent:]
                    break
                sent -= size
                i += 1

    # --- state -------------------------------------------------------------------------------

    def _check(self) -> None:
        dead = self._dead
        if dead is not None:
            raise type(dead)(*dead.args)  # a fresh instance: no ever-growing traceback

    def _die(self, exc: ZmtpError) -> ZmtpError:
        """Remember that the stream is unusable (a half-read or half-written message, a
        protocol error, EOF): every later call raises the same error."""
        if self._dead is None:
            self._dead = exc
        return exc


# --- helpers -------------------------------------------------------------------------------------


def _set_timeout(sock: _socket.socket, deadline: float | None) -> None:
    if deadline is None:
        sock.settimeout(None)
    else:
        sock.settimeout(max(deadline - monotonic(), 0.0))


def _command(name: bytes, data: bytes) -> bytes:
    body = bytes((len(name),)) + name + data
    size = len(body)
    if size < 256:
        return bytes((_COMMAND, size)) + body
    return bytes((_COMMAND | _LONG,)) + size.to_bytes(8, "big") + body


def _properties(identity: bytes) -> bytes:
    # Like libzmq, a DEALER always announces its Identity, even an empty one.
    out = []
    for name, value in ((b"Socket-Type", b"DEALER"), (b"Identity", identity)):
        out.append(bytes((len(name),)) + name + len(value).to_bytes(4, "big") + value)
    return b"".join(out)


def _split_command(body: bytes) -> tuple[bytes, bytes]:
    if not body or body[0] + 1 > len(body):
        raise ZmtpError("malformed command frame")
    end = 1 + body[0]
    return body[1:end], body[end:]


def _parse_properties(data: bytes) -> dict[bytes, bytes] | None:
    """RFC 23 metadata: (name-length octet, name, 4-byte value length, value)*; None if
    malformed."""
    props = {}
    pos = 0
    size = len(data)
    while pos < size:
        name_end = pos + 1 + data[pos]
        if data[pos] == 0 or name_end + 4 > size:
            return None
        value_end = name_end + 4 + int.from_bytes(data[name_end : name_end + 4], "big")
        if value_end > size:
            return None
        props[data[pos + 1 : name_end]] = data[name_end + 4 : value_end]
        pos = value_end
    return props


def _error_reason(data: bytes) -> str:
    if not data:
        return "(no reason)"
    return data[1 : 1 + data[0]].decode("utf-8", "replace") or "(no reason)"


def _connect(endpoint: str, deadline: float) -> _socket.socket:
    """A connected stream socket (CLOEXEC, TCP_NODELAY) for `endpoint`, else ZmtpError."""
    targets = _resolve(endpoint)
    errors = []
    for family, address in targets:
        sock = _socket.socket(family, _socket.SOCK_STREAM)  # CLOEXEC: Python's default
        try:
            if family != _socket.AF_UNIX:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            _connect_one(sock, address, deadline)
            return sock
        except OSError as exc:
            sock.close()
            errors.append(exc)
            if isinstance(exc, TimeoutError):
                break
        except BaseException:
            sock.close()
            raise
    reason = "; ".join(str(e) or type(e).__name__ for e in errors) or "no address"
    raise ZmtpError(f"cannot connect to {endpoint}: {reason}")


def _connect_one(sock: _socket.socket, address: str | tuple, deadline: float) -> None:
    pause = 0.0005
    while True:
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        sock.settimeout(remaining)
        try:
            sock.connect(address)
            return
        except BlockingIOError:
            # A non-blocking AF_UNIX connect fails with EAGAIN while the listener's backlog
            # is full (thousands of runners starting at once): there is no event to wait
            # for, so retry with a growing pause until the deadline.
            sleep(min(pause, max(deadline - monotonic(), 0.0)))
            pause = min(pause * 2, 0.05)


def _resolve(endpoint: str) -> list[tuple[int, str | tuple]]:
    """(family, address) pairs to try for a ZeroMQ endpoint string."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep or not rest:
        raise ZmtpError(f"bad endpoint {endpoint!r}")
    if scheme == "ipc":
        # libzmq maps a leading '@' to Linux's abstract socket namespace.
        path = "\0" + rest[1:] if rest.startswith("@") else rest
        return [(_socket.AF_UNIX, path)]
    if scheme != "tcp":
        raise ZmtpError(f"unsupported transport in {endpoint!r} (tcp:// or ipc:// only)")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not port_text.isdigit() or not host or int(port_text) > 65535:
        raise ZmtpError(f"bad endpoint {endpoint!r}: expected tcp://HOST:PORT")
    port = int(port_text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    # Literal addresses skip getaddrinfo (and whatever name service it would consult).
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except OSError:
            continue
        return [(family, (host, port))]
    try:
        infos = _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
    except OSError as exc:
        raise ZmtpError(f"cannot resolve {host!r}: {exc}") from None
    return [(family, address) for family, _, _, _, address in infos]
