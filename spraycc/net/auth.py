"""Who gets in: the server's ZAP handler, its watch on failed handshakes, and what a client
makes of a refused handshake. The threat model is written down in docs/security.md.

Server side. The TCP endpoint uses CURVE with a per-session server key pair (see `transport`).
libzmq asks a ZAP handler (RFC 27, `inproc://zeromq.zap.01` in the same context) about every
CURVE client before the connection is usable; `ZapHandler` answers 200 only for the user's own
public key (from `~/.spraycc.private`) and 400 for anything else. The handler is a REP socket
polled by the server's one loop (no authenticator thread): a handshake waits for our answer, and
answering costs one dict-free comparison. `ZAP_ENFORCE_DOMAIN` is set on the endpoint, so if
the handler were ever missing libzmq would refuse everyone instead of admitting everyone.
`FailureWatch` reports handshakes that fail before ZAP is asked (a client with the wrong server
key, a NULL client on the CURVE port, garbage): they cost libzmq's I/O thread a little, the
Python loop one monitor event, and the log one line (rate-limited by `FloodFilter`).

Client side. A refused CURVE handshake is invisible to a DEALER's send/recv: libzmq simply
reconnects. Executors and remote runners therefore watch their socket's monitor events and read
them with `failure_reason`: a ZAP 400 (ZMTP ERROR command) arrives as HANDSHAKE_FAILED_AUTH, a
server that cannot open our HELLO (wrong server key: a stale client of an earlier session) drops
the connection (HANDSHAKE_FAILED_NO_DETAIL), a mechanism mismatch is HANDSHAKE_FAILED_PROTOCOL.
Any of them means "this server will not have us": the client stops at once.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable

import zmq
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from spraycc.errors import Refused
from spraycc.net import transport
from spraycc.wire import keys

log = logging.getLogger(__name__)

ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # fixed by RFC 27
DOMAIN = b"spraycc"
USER_ID = b"spraycc-user"
_ZAP_VERSION = b"1.0"
_NOBLOCK = int(zmq.NOBLOCK)

# Handshake failures the server's monitor reports; AUTH ones are already logged by the handler.
SERVER_FAILURES = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
CLIENT_EVENTS = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_DISCONNECTED
)

_PROTOCOL_ERRORS: dict[int, str] = {
    zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "security mechanism mismatch (CURVE vs NULL)",
    zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "cryptographic failure (wrong server key?)",
    zmq.PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE: "key exchange failed",
}


class FloodFilter(logging.Filter):
    """Lets through at most `burst` refusal and dropped-message records per `window` seconds.

    One log line per refusal is the rule, but a port scanner or a broken client must not be
    able to fill the disk or slow the server's loop with log writes (a write to the log file
    costs more than refusing). What was left out is counted and reported in one line when the
    next window opens. Records whose message does not start with one of `prefixes` pass."""

    def __init__(self, prefixes: tuple[str, ...] = ("refused", "dropped"), *, burst: int = 20,
                 window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.burst = burst
        self.window = window
        self.clock = clock
        self.window_start = clock()
        self.in_window = 0
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.msg, str) or not record.msg.startswith(self.prefixes):
            return True
        now = self.clock()
        if now - self.window_start >= self.window:
            left_out, self.suppressed = self.suppressed, 0
            self.window_start, self.in_window = now, 0
            if left_out:
                logging.getLogger(record.name).warning(
                    "%d more refused or dropped messages in the last %.0f s were not logged",
                    left_out, self.window)
        if self.in_window < self.burst:
            self.in_window += 1
            return True
        self.suppressed += 1
        return False


_FLOOD_FILTER = FloodFilter()


def limit_refusal_logs(
        loggers: tuple[str, ...] = ("spraycc.net.auth", "spraycc.server.broker")) -> None:
    """Attach the shared FloodFilter to the loggers that report refusals (idempotent)."""
    for name in loggers:
        target = logging.getLogger(name)
        if _FLOOD_FILTER not in target.filters:
            target.addFilter(_FLOOD_FILTER)


class RefusalLog:
    """Counts refusals and logs one line each (rate-limited by FloodFilter, see
    `limit_refusal_logs`)."""

    def __init__(self) -> None:
        self.total = 0

    def refused(self, fmt: str, *args: object) -> None:
        self.total += 1
        log.warning("refused " + fmt, *args)


class ZapHandler:
    """Answers libzmq's ZAP requests for the CURVE endpoint: only `allowed` (the user's public
    key, Z85) gets in. Bind it before binding any CURVE endpoint of the same context."""

    def __init__(self, ctx: zmq.Context, allowed: bytes, refusals: RefusalLog) -> None:
        self.allowed = z85.decode(allowed)  # ZAP carries the raw 32 bytes
        self.refusals = refusals
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(ZAP_ENDPOINT)
        self.accepted = 0

    def handle(self, limit: int = 256) -> None:
        """Answer the requests waiting (at most `limit`, so handshakes cannot starve tasks)."""
        for _ in range(limit):
            try:
                request = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.sock.send_multipart(self.answer(request))

    def answer(self, request: list[bytes]) -> list[bytes]:
        """The reply frames for one request (RFC 27). Never raises on a malformed request."""
        if len(request) < 6:  # cannot come from libzmq; answer something well-formed anyway
            return [_ZAP_VERSION, b"", b"500", b"malformed ZAP request", b"", b""]
        version, request_id, domain, address, _routing, mechanism = request[:6]
        credentials = request[6:]
        if version != _ZAP_VERSION:
            return [_ZAP_VERSION, request_id, b"500", b"unsupported ZAP version", b"", b""]
        peer = address.decode(errors="replace") or "?"
        if domain != DOMAIN or mechanism != b"CURVE" or len(credentials) != 1:
            self.refusals.refused("a %s client from %s (domain %r): only CURVE is accepted",
                                  mechanism.decode(errors="replace"), peer, domain)
            return [_ZAP_VERSION, request_id, b"400", b"CURVE only", b"", b""]
        key = credentials[0]
        if key != self.allowed:
            shown = z85.encode(key).decode() if len(key) == 32 else key.hex()
            self.refusals.refused("a client from %s: its key %s is not this user's key",
                                  peer, shown)
            return [_ZAP_VERSION, request_id, b"400", b"not this user's key", b"", b""]
        self.accepted += 1
        return [_ZAP_VERSION, request_id, b"200", b"OK", USER_ID, b""]

    def close(self) -> None:
        self.sock.close(linger=0)


class FailureWatch:
    """The server ROUTER's monitor, filtered to handshakes that fail before ZAP is asked."""

    def __init__(self, sock: zmq.Socket, refusals: RefusalLog,
                 closed: Callable[[int], None] | None = None) -> None:
        self.owner = sock
        self.refusals = refusals
        # `closed(fd)`: a connection of the socket closed (libzmq allows one monitor per
        # socket, so this one also reports those, for the server's runner bookkeeping).
        self.closed = closed
        events = SERVER_FAILURES | (zmq.EVENT_DISCONNECTED if closed is not None else 0)
        self.sock = sock.get_monitor_socket(events)
        self.sock.setsockopt(zmq.LINGER, 0)
        # A busy server reads these only every few milliseconds: none may be dropped meanwhile.
        self.sock.setsockopt(zmq.RCVHWM, 0)

    def handle(self, limit: int = 4096) -> None:
        recv = self.sock.recv
        for _ in range(limit):
            try:  # frame by frame with an int flag: recv_multipart's flag enums cost more
                frame = recv(_NOBLOCK, copy=False)  # every runner's exit brings one event
            except zmq.Again:
                return
            frames = [frame.bytes]
            while frame.more:  # the rest of an event is there once its first frame is
                frame = recv(_NOBLOCK, copy=False)
                frames.append(frame.bytes)
            head = frames[0]
            if self.closed is not None and len(head) == 6:
                event, fd = struct.unpack("=HI", head)  # parsed cheaply: every runner's
                if event == zmq.EVENT_DISCONNECTED:  # exit brings one
                    self.closed(fd)
                    continue
            try:
                event = parse_monitor_message(frames)
            except (ValueError, IndexError):  # not from libzmq: cannot happen, never fatal
                continue
            reason = failure_reason(event["event"], event["value"])
            endpoint = event["endpoint"].decode(errors="replace")
            self.refusals.refused("a connection on %s: %s", endpoint, reason)

    def close(self) -> None:
        try:
            self.owner.disable_monitor()
        except zmq.ZMQError:
            pass
        self.sock.close(linger=0)


# ------------------------------------------------------------------------------ client side

class CurveClient:
    """A CURVE DEALER and the monitor that tells how its handshake went: the one client-side
    watcher of refused handshakes (executor, status client, remote runner).

    The monitor is made before connecting (`transport.curve_dealer`), so no event is missed.
    The owner polls ``monitor`` with its own loop and calls `check` when it is readable."""

    def __init__(self, ctx: zmq.Context, endpoint: str, *, serverkey: bytes,
                 keypair: keys.KeyPair, events: int = 0) -> None:
        self.sock, self.monitor = transport.curve_dealer(
            ctx, endpoint, serverkey=serverkey, public=keypair.public, secret=keypair.secret,
            events=CLIENT_EVENTS | events)
        self.connected = False  # a TCP connection was made (EVENT_CONNECTED, when asked for)
        self.ready = False  # the handshake succeeded
        self.lost = False  # disconnected after a successful handshake

    def check(self) -> None:
        """Read the waiting monitor events, in order. Raises Refused with the reason when the
        server will not have us (retrying could never succeed)."""
        for event, value in read_events(self.monitor):
            if event in (zmq.EVENT_CONNECTED, zmq.EVENT_HANDSHAKE_SUCCEEDED):
                self.connected = True
            reason = failure_reason(event, value)
            if reason is not None:
                raise Refused(reason)
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.ready = True
            elif event == zmq.EVENT_DISCONNECTED and self.ready:
                self.lost = True

    def close(self, linger: int = 0) -> None:
        self.monitor.close(linger=0)
        self.sock.close(linger=linger)


def read_events(mon: zmq.Socket) -> list[tuple[int, int]]:
    """The (event, value) pairs waiting on a monitor socket, without blocking."""
    out: list[tuple[int, int]] = []
    while True:
        try:
            frames = mon.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return out
        try:
            event = parse_monitor_message(frames)
        except (ValueError, IndexError):
            continue
        out.append((int(event["event"]), int(event["value"])))


def failure_reason(event: int, value: int) -> str | None:
    """Why a handshake failed, in words, or None if `event` is not a handshake failure."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (f"the server does not accept this user's key (ZAP status {value}): "
                "~/.spraycc.private differs from the server's user's key")
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        what = _PROTOCOL_ERRORS.get(value, f"protocol error {value:#x}")
        return f"the security handshake failed: {what}"
    if event == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        return ("the server dropped the connection during the security handshake "
                "(a wrong server key: a client of an earlier server session?)")
    return None


def z85_ok(key: str) -> bool:
    """Is `key` a 40-character Z85 CURVE key (e.g. from --serverkey)?"""
    try:
        return len(key) == 40 and len(z85.decode(key.encode("ascii"))) == 32
    except (ValueError, UnicodeEncodeError, KeyError):
        return False
