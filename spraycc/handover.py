"""A long-queued runner hands its connection to the tiny waiter and takes it back.

docs/usage.md, "Waiting runners": a runner told at ACCEPTED that its task waits behind many
others (runner.HANDOVER_QUEUED) execs `python -I -S -c PROGRAM spraycc-waiting ...`. Same pid, so
make still waits on it; the server connection's socket is inherited, and so is an anonymous
memory file holding what the runner needs to go on (its `Run`, the task and attempt, the
heartbeat bookkeeping), packed with minipack, every argv element, path and environment value
as bytes. The waiter (spraycc.waiter) holds nothing more than the interpreter while it waits;
when something arrives that it does not handle it calls `resume`, which loads the runner in
the same process, adopts the socket and the bytes already read, and follows the task on.

Nothing is handed over when the connection has bytes buffered or output has arrived (the
waiter could not know what they mean), nor over a pyzmq connection (CURVE, tcp).
"""

from __future__ import annotations

import _signal
import gc
import posix
import sys

import spraycc
from spraycc import oslite, runner
from spraycc.step.decision import Decision, Output
from spraycc.step.placement import Options
from spraycc.wire import messages as p
from spraycc.wire.minipack import UnpackError, packb, unpackb
from spraycc.wire.serverfile import ServerInfo
from spraycc.wire.zmtp import Dealer

STATE_VERSION = 1
PROGRAM = "import sys;sys.path[:0]=sys.argv[2:3];from spraycc.waiter import main;main(sys.argv[3:])"
MARKER = "spraycc-waiting"  # argv[1] of the waiter: what `ps` and the tests see

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def hand_over(run: runner.Run, link: runner.Link, step: runner.RemoteStep, queued: int) -> None:
    """Exec the waiter in this process; returns only if that cannot be done (the runner then
    goes on following the task itself)."""
    conn = link.conn
    if (type(conn) is not Dealer or not conn.idle() or step.files or step.held
            or step.relayed or not sys.executable):
        return
    e = oslite.fsencode
    try:
        state = command_line(run.argv) + packb(_state(run, link, step))
    except (TypeError, ValueError, OverflowError) as exc:  # cannot happen: say why anyway
        if run.opts.verbose:
            runner.say(f"waiting in the runner: cannot pack its state ({exc})")
        return
    try:
        fd = posix.memfd_create("spraycc-runner", 0)  # 0: no close-on-exec, the waiter keeps it
    except OSError as exc:
        if run.opts.verbose:
            runner.say(f"waiting in the runner: no memory file ({exc.strerror})")
        return
    sock = conn.fileno()
    try:
        runner._write_all(fd, state)
        posix.lseek(fd, 0, 0)
        posix.set_inheritable(sock, True)
    except OSError as exc:
        posix.close(fd)
        if run.opts.verbose:
            runner.say(f"waiting in the runner: {exc.strerror}")
        return
    if run.opts.verbose:
        runner.say(f"{queued} tasks queued: waiting in a small process (pid {posix.getpid()})")
    package_dir = oslite.dirname(oslite.dirname(oslite.fsdecode(spraycc.__file__ or "")))
    args = [
        e(sys.executable), b"-I", b"-S", b"-c", PROGRAM.encode(), MARKER.encode(), e(package_dir),
        b"%d" % sock, b"%d" % fd, repr(link.heartbeat).encode(), b"%d" % p.HEARTBEAT_LIVENESS,
        repr(link.last_sent).encode(), repr(link.last_heard).encode(),
        p.encode(p.Heartbeat()).hex().encode(), p.encode(p.Cancel(step.task)).hex().encode(),
        p.encode(p.Local(run.info.code, e(run.argv[0]))).hex().encode(),
        b"1" if run.opts.verbose else b"0",
    ]
    # The waiter installs its handlers, then unblocks: a signal meanwhile waits for it.
    mask = _signal.pthread_sigmask(_signal.SIG_BLOCK, runner.SIGNALS)
    try:
        posix.execv(args[0], args)
    except OSError as exc:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        posix.close(fd)
        posix.set_inheritable(sock, False)
        if run.opts.verbose:
            runner.say(f"waiting in the runner: cannot start {sys.executable}: {exc.strerror}")


def resume(sock: int, state_fd: int, prefix: bytes, why: str) -> NoReturn:
    """The waiter's way back: the runner goes on with the task in this process (the waiter
    has held off collections while the runner's modules were loading, as entry.main does)."""
    gc.freeze()
    gc.enable()
    try:
        data = _read_all(state_fd)
        posix.close(state_fd)
        size, _, rest = data.partition(b"\n")
        if not size.isdigit():
            raise ValueError("the state file is empty or damaged")
        run, link, step = _load(unpackb(rest[int(size):], max_depth=8), sock, prefix)
    except (OSError, UnpackError, ValueError, TypeError, IndexError, KeyError) as exc:
        # Our own file, written a moment ago: unreadable only if something is badly wrong.
        # The step cannot be followed nor run (its command is in there): fail it.
        runner.say(f"cannot take the waiting step back: {exc}")
        posix._exit(1)
    if run.opts.verbose:
        runner.say(f"the runner takes the step back from the waiter: {_describe(prefix, why)}")
    posix._exit(runner.resumed(run, link, step, why))


def _describe(prefix: bytes, why: str) -> str:
    if why == "silent":
        return "the server went silent"
    if why == "lost":
        return "a write to the server failed"
    if why == "local":
        return f"waiting for a local slot, {len(prefix)} bytes arrived"
    if not prefix:
        return "the connection ended"
    return f"{len(prefix)} bytes arrived (frame flags {prefix[0]:#x})"


def command_line(argv: list[str]) -> bytes:
    """The head of the state file: the command, for the waiter to exec without decoding the
    rest (spraycc.waiter): its length in decimal, a newline, the arguments joined by NUL (an
    argument never holds one)."""
    line = b"\0".join(oslite.fsencode(a) for a in argv)
    return b"%d\n" % len(line) + line


def _state(run: runner.Run, link: runner.Link, step: runner.RemoteStep) -> list[object]:
    e = oslite.fsencode
    d, o, info = run.decision, run.opts, run.info
    conn = link.conn
    assert isinstance(conn, Dealer)
    decision = [
        d.remote, e(d.reason), [e(a) for a in d.argv],
        [[e(k), None if v is None else e(v)] for k, v in d.env.items()],
        [e(i) for i in d.inputs],
        [[e(x.path), e(x.collect), e(x.on_missing), x.keep_mode] for x in d.outputs],
        d.dependency_task, e(d.compiler), e(d.tty_flag), e(d.deps),
        [e(x) for x in d.side_deps], [e(x) for x in d.incdirs], d.query,
    ]
    return [
        STATE_VERSION, e(run.cwd), [e(a) for a in run.argv], e(info.path),
        [[e(k), e(v)] for k, v in info.fields.items()],
        [o.verbose, e(o.force), [e(x) for x in o.outputs], o.timeout],
        run.forced, e(run.fallback), run.retried, decision,
        [step.task, step.attempt, step.check, step.since, step.stream],
        [link.heartbeat, link.last_sent, link.last_heard], e(conn.endpoint),
        [e(x) for x in sys.path],  # for what the runner imports later (pyzmq for a new tcp link)
    ]


def _load(state: object, sock: int, prefix: bytes) -> tuple[runner.Run, runner.Link,
                                                              runner.RemoteStep]:
    if type(state) is not list or len(state) != 14 or state[0] != STATE_VERSION:
        raise ValueError("not a state this runner wrote")
    (_, cwd, argv, path, fields, opt, forced, fallback, retried, dec, task, beats,
     endpoint, paths) = state
    s = _str
    o = Options()
    o.verbose, o.force, o.outputs, o.timeout = (bool(opt[0]), s(opt[1]),
                                                [s(x) for x in opt[2]], opt[3])
    d = Decision(
        bool(dec[0]), s(dec[1]), [s(a) for a in dec[2]],
        {s(k): None if v is None else s(v) for k, v in dec[3]},
        [s(i) for i in dec[4]],
        [Output(s(x[0]), s(x[1]), s(x[2]), bool(x[3])) for x in dec[5]],
        bool(dec[6]), s(dec[7]), s(dec[8]), s(dec[9]),
        [s(x) for x in dec[10]], [s(x) for x in dec[11]], bool(dec[12]),
    )
    info = ServerInfo(s(path), {s(k): s(v) for k, v in fields})
    run = runner.Run([s(a) for a in argv], o, s(cwd), info, d, bool(forced), s(fallback),
                     bool(retried))
    heartbeat, last_sent, last_heard = (float(x) for x in beats)
    conn = Dealer.adopt(sock, s(endpoint), prefix, timeout=runner.CONNECT_TIMEOUT)
    link = runner.Link(conn, heartbeat)
    link.last_sent, link.last_heard = last_sent, last_heard
    step = runner.RemoteStep(d, stream=bool(task[4]))
    step.task, step.attempt, step.check, step.since = (int(task[0]), int(task[1]),
                                                       bool(task[2]), float(task[3]))
    sys.path[:] = [s(x) for x in paths]
    return run, link, step


def _str(value: object) -> str:
    if type(value) is not bytes:
        raise TypeError(f"expected bytes in the state, not {type(value).__name__}")
    return oslite.fsdecode(value)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = posix.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
