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
# spraycc.wire.messages: VERSION, Cmd.FAIL, Cmd.DISCONNECT (tests/roles/test_waiter.py)
_VERSION, FAIL, DISCONNECT = 3, 11, 17
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


class Conn:
    """The inherited connection: its fd, the bytes read and not handled, the heartbeat times
    (the monotonic clock is the system's: the runner's values hold here)."""

    def __init__(self, sock: int, heartbeat: float, liveness: int, last_sent: float,
                 last_heard: float, beat: bytes) -> None:
        self.sock = sock
        self.heartbeat = heartbeat
        self.expiry = heartbeat * liveness
        self.last_sent = last_sent
        self.last_heard = last_heard
        self.beat = beat
        self.buf = bytearray()
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)


def main(args: list[str]) -> None:
    """args: socket fd, state fd, heartbeat seconds, liveness, last sent, last heard
    (monotonic clock), the heartbeat message, the task's CANCEL message and the LOCAL message
    asking for a local slot for the step (hex), verbose ("1" or "0")."""
    sock, state = int(args[0]), int(args[1])
    conn = Conn(sock, float(args[2]), int(args[3]), float(args[4]), float(args[5]),
                bytes.fromhex(args[6]))
    cancel, local, verbose = bytes.fromhex(args[7]), bytes.fromhex(args[8]), args[9] == "1"
    asked = False  # LOCAL sent: the runner would now wait for a local slot, its task gone
    for sig in SIGNALS:  # blocked by the runner until these are in place
        _signal.signal(sig, _on_signal)
    try:
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, SIGNALS)
        while True:
            why = wait(conn)
            head = _header(conn.buf) if not why else None
            if not asked:
                # runner.follow on a FAIL that falls back: say so, then run_local asks the
                # server for a local slot on this connection (spraycc stop --now: all at once).
                if head is None or head[1] != FAIL or len(head) != 4 or head[3] is not True:
                    break
                _say(f"{head[2]}; running locally")
                _drop_frame(conn.buf)
                asked = True  # a LOCAL that cannot be written: the runner finds out why
                _write(sock, _frame(0, local))
                conn.last_sent = monotonic()
                continue
            # runner.run_local waiting for its slot: a server that fails it, says goodbye or
            # goes silent has the step run here at once, unthrottled.
            if why == "silent":
                reason = "the server stopped answering"
            elif head is not None and head[1] in (FAIL, DISCONNECT) and len(head) > 2:
                reason = str(head[2])
            else:
                break
            if verbose:
                _say(f"no local slot from the server ({reason}); running unthrottled")
            posix.close(sock)
            _exec(state)
        _signal.pthread_sigmask(_signal.SIG_BLOCK, SIGNALS)
    except _Signalled as exc:
        _signal.pthread_sigmask(_signal.SIG_BLOCK, SIGNALS)
        if not asked:  # as runner.follow does; waiting for a slot, a runner just exits
            try:
                _write(sock, _frame(0, cancel))
            except _Lost:
                pass
        posix._exit(128 + exc.signum)
    except _Lost:
        why = "lost"
    import gc  # built in: loading the runner forms no garbage (see spraycc/entry.py)

    gc.disable()
    from spraycc import handover  # the real runner, with the signals still blocked

    handover.resume(sock, state, bytes(conn.buf), "local" if asked else why)


def wait(conn: Conn) -> str:
    """Wait until something needs more than this module: "" (look at conn.buf), "silent" (the
    server stopped answering) or "lost" (a write failed)."""
    sock, heartbeat = conn.sock, conn.heartbeat
    buf = conn.buf
    beat_frame = _frame(0, conn.beat)
    while True:
        # One round is one `conn.recv(heartbeat)` of Link.recv: until a message or the deadline.
        deadline = monotonic() + heartbeat
        heard = False
        while not heard:
            if buf:
                handled = _handle(sock, buf, conn.beat)
                if handled is None:
                    return ""
                heard = handled
                if heard:
                    break
            left = deadline - monotonic()
            if left <= 0:
                break
            if not conn.poller.poll(int(left * 1000) + 1):
                continue
            try:
                data = posix.read(sock, _READ)
            except BlockingIOError:
                continue
            except OSError:
                return ""  # the runner reads again and sees why
            if not data:
                return ""
            buf += data
            handled = _handle(sock, buf, conn.beat)
            if handled is None:
                return ""
            heard = handled
        now = monotonic()
        try:
            if now - conn.last_sent >= heartbeat:
                _write(sock, beat_frame)
                conn.last_sent = now
        except _Lost:
            return "lost"
        if heard:
            conn.last_heard = now
        elif now - conn.last_heard > conn.expiry:
            return "silent"


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


def _header(buf: bytearray) -> list | None:
    """[version, cmd, reason, ...] of a FAIL or DISCONNECT complete at the front of `buf` (one
    frame), read without a msgpack decoder (spraycc.wire.minipack): None for anything else."""
    if len(buf) < 2 or buf[0] != 0 or len(buf) < 2 + buf[1]:
        return None
    data = bytes(buf[2 : 2 + buf[1]])
    if len(data) < 4 or data[1] != _VERSION or data[2] not in (FAIL, DISCONNECT):
        return None
    fields = data[0] - 0x90  # a fixarray of 3 (DISCONNECT) or 4 (FAIL) items
    kind = data[3]
    if 0xA0 <= kind <= 0xBF:
        start, size = 4, kind - 0xA0
    elif kind == 0xD9 and len(data) > 4:
        start, size = 5, data[4]
    else:
        return None
    end = start + size
    try:
        reason = data[start:end].decode()
    except UnicodeDecodeError:
        return None
    tail = data[end:]
    if data[2] == DISCONNECT and fields == 3 and not tail:
        return [_VERSION, DISCONNECT, reason]
    if data[2] == FAIL and fields == 4 and tail in (b"\xc2", b"\xc3"):
        return [_VERSION, FAIL, reason, tail == b"\xc3"]
    return None


def _drop_frame(buf: bytearray) -> None:
    del buf[: 2 + buf[1]]


def _exec(state: int) -> None:
    """Replace this process with the step's command, as runner._exec does (os.execvp's PATH
    search, without loading os)."""
    chunks = []
    while chunk := posix.read(state, 1 << 20):
        chunks.append(chunk)
    posix.close(state)  # the command gets nothing of the hand-over
    size, _, rest = b"".join(chunks).partition(b"\n")
    argv = rest[: int(size)].split(b"\0")  # spraycc.handover.command_line
    name = argv[0]
    if b"/" in name:
        dirs = [b""]
    else:
        path = posix.environ.get(b"PATH", b"/bin:/usr/bin")  # os.defpath when unset
        dirs = [d + b"/" if d else b"" for d in path.split(b":")]
    first: OSError | None = None
    last: OSError | None = None
    for d in dirs:
        try:
            posix.execv(d + name, argv)
        except OSError as exc:
            last = exc
            if not isinstance(exc, (FileNotFoundError, NotADirectoryError)) and first is None:
                first = exc
    error = first or last
    assert error is not None
    _say(f"{name.decode(errors='surrogateescape')}: {error.strerror}")
    posix._exit(127 if isinstance(error, FileNotFoundError) else 126)


def _say(msg: str) -> None:
    try:
        _write(2, f"spraycc: {msg}\n".encode(errors="surrogateescape"))
    except _Lost:
        pass


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
