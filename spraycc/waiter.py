"""The tiny waiting process a long-queued runner turns into (docs/usage.md, "Waiting runners").

A runner whose task is queued far back execs `python -I -S -c PROGRAM spraycc-waiting ...`
(spraycc.handover): the same pid, so make still waits on it, with the server connection's
socket inherited. This module is all that process loads besides the interpreter: builtin
modules and `select`. It sleeps in one poll of the socket and does what the runner's `Link.recv`
would do while nothing happens:

* a ZMTP PING is answered with PONG, other ZMTP commands except ERROR are dropped;
* the server's heartbeat message is swallowed (it counts as hearing from the server);
* the runner's own heartbeat (bytes precomputed by the runner) is sent when one is due;
* after HEARTBEAT_LIVENESS intervals of silence it gives up, as the runner does.

Anything else (any other message, a ZMTP ERROR, a long frame, end of stream, a failed read or
write) brings the real runner back in this process: `spraycc.handover.resume` adopts the
socket, the bytes already read (from the first frame not handled here) and the state the runner
left in its state file. SIGINT, SIGTERM and SIGHUP cancel the task and exit with 128 + the
signal's number, as the runner does.
"""

import _signal  # no `from __future__ import annotations`: a module less to hold
import posix
import select
from time import monotonic

SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
_COMMAND = 0x04
_SHORT_FLAGS = (0x00, _COMMAND)  # a last frame or a command, with a one-byte size
_READ = 65536


class _Signalled(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    raise _Signalled(signum)


class _Lost(Exception):
    """Writing to the server failed."""


def main(args: list[str]) -> None:
    """args: socket fd, state fd, heartbeat seconds, liveness, last sent, last heard
    (monotonic clock), the heartbeat message (hex), the task's CANCEL message (hex)."""
    sock, state = int(args[0]), int(args[1])
    heartbeat, liveness = float(args[2]), int(args[3])
    last_sent, last_heard = float(args[4]), float(args[5])
    beat, cancel = bytes.fromhex(args[6]), bytes.fromhex(args[7])
    for sig in SIGNALS:  # blocked by the runner until these are in place
        _signal.signal(sig, _on_signal)
    try:
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, SIGNALS)
        prefix, reason = wait(sock, heartbeat, liveness, last_sent, last_heard, beat)
        _signal.pthread_sigmask(_signal.SIG_BLOCK, SIGNALS)
    except _Signalled as exc:
        _signal.pthread_sigmask(_signal.SIG_BLOCK, SIGNALS)
        try:
            _write(sock, _frame(0, cancel))
        except _Lost:
            pass
        posix._exit(128 + exc.signum)
    import gc  # built in: loading the runner forms no garbage (see spraycc/entry.py)

    gc.disable()
    from spraycc import handover  # the real runner, with the signals still blocked

    handover.resume(sock, state, prefix, reason)


def wait(sock: int, heartbeat: float, liveness: int, last_sent: float, last_heard: float,
         beat: bytes) -> tuple[bytes, str]:
    """Wait until something needs the runner: (bytes read and not handled, reason), the reason
    "" (look at the bytes), "silent" (the server stopped answering) or "lost" (a write
    failed)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    buf = bytearray()
    expiry = heartbeat * liveness
    beat_frame = _frame(0, beat)
    while True:
        # One round is one `conn.recv(heartbeat)` of Link.recv: until a message or the deadline.
        deadline = monotonic() + heartbeat
        heard = False
        while not heard:
            left = deadline - monotonic()
            if left <= 0:
                break
            if not poller.poll(int(left * 1000) + 1):
                continue
            try:
                data = posix.read(sock, _READ)
            except BlockingIOError:
                continue
            except OSError:
                return bytes(buf), ""  # the runner reads again and sees why
            if not data:
                return bytes(buf), ""
            buf += data
            handled = _handle(sock, buf, beat)
            if handled is None:
                return bytes(buf), ""
            heard = handled
        now = monotonic()
        try:
            if now - last_sent >= heartbeat:
                _write(sock, beat_frame)
                last_sent = now
        except _Lost:
            return bytes(buf), "lost"
        if heard:
            last_heard = now
        elif now - last_heard > expiry:
            return bytes(buf), "silent"


def _handle(sock: int, buf: bytearray, beat: bytes) -> bool | None:
    """Consume the complete frames at the front of `buf` that need no runner: True if a
    heartbeat message was among them, None if a frame needs the runner (left in `buf`)."""
    heard = False
    while len(buf) >= 2:
        flags, size = buf[0], buf[1]
        if flags not in _SHORT_FLAGS:
            return None  # a multipart message or a long frame: not a heartbeat
        if len(buf) < 2 + size:
            break
        body = bytes(buf[2 : 2 + size])
        if flags == _COMMAND:
            name = body[1 : 1 + body[0]] if body else b""
            if name == b"ERROR" or not body:
                return None
            if name == b"PING":  # RFC 37: PONG echoes the PING's context
                try:
                    _write(sock, _frame(_COMMAND, b"\x04PONG" + body[1 + body[0] + 2 :][:16]))
                except _Lost:
                    return None
        elif body == beat:
            heard = True
        else:
            return None
        del buf[: 2 + size]
    return heard


def _frame(flags: int, body: bytes) -> bytes:
    return bytes((flags, len(body))) + body


def _write(sock: int, data: bytes) -> None:
    """Write all of `data` (a whole frame: the signals that would cut it short are blocked)."""
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, SIGNALS)
    try:
        view = memoryview(data)
        while view:
            try:
                n = posix.write(sock, view)
            except BlockingIOError:
                select.select([], [sock], [], 5.0)
                continue
            except OSError as exc:
                raise _Lost(str(exc)) from None
            view = view[n:]
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
