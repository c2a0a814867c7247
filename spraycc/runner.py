"""The runner (`spraycc run CMD...`): one build step, started by make/ninja thousands at once.

It classifies the command; a remote step is submitted to the workspace's server, whose answers
it turns back into what a local run would have done: the same stdout/stderr bytes, the same
files (written to a temp name beside the target and renamed only when complete), the same exit
status. A local step runs here, under a local slot granted by the server when one is running.

This is the start-up path that runs once per compile: it imports only builtin modules and the
runner-side leaves (protocol, minipack, zmtp, placement, decision, taskkey, serverfile). No
typer, no zmq. What only some steps need is imported where they need it, so a runner waiting in
its queue holds no more than it has used (docs/usage.md, "What each compile costs"): the
classifier when a step needs classifying (spraycc.step.placement), the input check once the
result has arrived (check_inputs).
"""

from __future__ import annotations

import _signal
import posix
import sys
import time

from spraycc import oslite
from spraycc.errors import ExecutorLost, ProtocolError, Refused, ServerUnavailable
from spraycc.step import taskkey
from spraycc.step.decision import AS_FAILED, ASSEMBLER_MESSAGES, SIDE_DEPS, Decision
from spraycc.step.placement import Options, certainly_local, place
from spraycc.wire import messages as p
from spraycc.wire import serverfile
from spraycc.wire.minipack import UnpackError, unpackb
from spraycc.wire.zmtp import Dealer, ZmtpClosed, ZmtpError

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs the runner ~9 ms
if TYPE_CHECKING:
    from spraycc.step import rules
    from spraycc.wire.zmtp import Connection

EX_UNAVAILABLE = 69  # sysexits.h: the server could not be used and fallback is switched off
BUFFER_LIMIT = 8 * 1024 * 1024  # stdout/stderr held back (so a retry can discard it) up to this
CONNECT_TIMEOUT = 5.0
# A runner told at ACCEPTED that its task is this far back in the queue (1: next to start) hands
# its connection to the tiny waiter (spraycc.handover, docs/usage.md "Waiting runners");
# SPRAYCC_HANDOVER_QUEUED overrides it (tests: 0 always, "off" never).
HANDOVER_QUEUED = 32
SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)
USAGE = "usage: spraycc run [-v] [--local | --remote [--output PATH]...] [--timeout S] [--] CMD..."
HELP = f"""{USAGE}

Run one build step, CMD, through the spraycc server of this workspace (the nearest
.spraycc_server above the current directory): compile steps run on an executor, everything
spraycc cannot fully account for (links, archives, unknown flags) runs here. With no server
the step runs here, with one warning per build (SPRAYCC_FALLBACK=error: exit status 69).

spraycc's options come before CMD; they end at the first word that does not start with '-',
or at '--'. Everything after belongs to CMD, its own --help included.
  -v, --verbose    say where the step ran and why (also SPRAYCC_VERBOSE=1)
  --local          run CMD here, whatever it is
  --remote         run CMD on an executor on your word: same directory and environment, no
                   stdin, output streamed as it runs, exit status passed through
  --output PATH    with --remote: a file CMD writes; it comes back and is written at PATH
                   atomically (repeatable; see docs/anycmd.md)
  --timeout S      kill CMD after S seconds on the executor (0: no limit; default: the
                   server's task_timeout)
  -h, --help       print this help and exit
Other commands: `spraycc --help`."""


class HelpWanted(Exception):
    """-h/--help among spraycc's own options: the caller prints its help and exits 0."""


class StaleView(Exception):
    """The executor's view of an input was stale (docs/usage.md, "Inputs are checked"): its
    result has been discarded and the server told; the caller re-runs the step."""

    def __init__(self, path: str, host: str, detail: str) -> None:
        super().__init__(f"stale view of {path} on {host}: {detail}")
        self.path = path
        self.host = host
        self.detail = detail


class Interrupted(BaseException):
    """A terminating signal arrived; unwinds the runner so it can cancel and clean up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    raise Interrupted(signum)


class Run:
    """What a remote step's runner works from: kept so that a runner that hands its connection
    to the waiter (spraycc.handover) can pass it on and take it back. `retried`: this is the
    second submission, after a stale view (`remote`)."""

    __slots__ = ("argv", "cwd", "decision", "fallback", "forced", "info", "opts", "retried")

    def __init__(self, argv: list[str], opts: Options, cwd: str, info: serverfile.ServerInfo,
                 decision: Decision, forced: bool, fallback: str, retried: bool = False) -> None:
        self.argv = argv
        self.opts = opts
        self.cwd = cwd
        self.info = info
        self.decision = decision
        self.forced = forced
        self.fallback = fallback
        self.retried = retried


def handover_at() -> int | None:
    """The queue length from which a runner hands over to the waiter; None: never."""
    value = oslite.getenv("SPRAYCC_HANDOVER_QUEUED")
    if value is None:
        return HANDOVER_QUEUED
    try:
        return max(0, int(value))
    except ValueError:
        return None


def parse(args: list[str]) -> tuple[Options, list[str]]:
    """Split spraycc's own options from the command: they stop at the first word not starting
    with '-' (a command never does) or at '--'. Raises ValueError with a one-line message."""
    opts = Options()
    i = 0
    while i < len(args) and args[i].startswith("-"):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if arg in ("-v", "--verbose"):
            opts.verbose = True
        elif arg in ("--local", "--remote"):
            opts.force = arg[2:]
        elif arg in ("--output", "--timeout") or arg.startswith(("--output=", "--timeout=")):
            name, _, value = arg.partition("=")
            if not _:
                if i >= len(args):
                    raise ValueError(f"{name} needs a value")
                value = args[i]
                i += 1
            if name == "--output":
                opts.outputs.append(value)
            else:
                try:
                    opts.timeout = float(value)
                except ValueError:
                    opts.timeout = -1.0
                if not opts.timeout >= 0:  # also rejects nan
                    raise ValueError(f"--timeout needs seconds (0: no limit), not {value!r}")
        elif arg in ("-h", "--help"):
            raise HelpWanted
        else:
            raise ValueError(f"unknown option {arg} (spraycc's options come before the command)")
    return opts, args[i:]


def say(msg: str) -> None:
    _write_all(2, f"spraycc: {msg}\n".encode(errors="surrogateescape"))


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        try:
            n = posix.write(fd, view)
        except InterruptedError:
            continue
        except BrokenPipeError:
            return
        view = view[n:]


def exit_status(status: int) -> int:
    """A shell's view of a step's status: negative = killed by that signal -> 128+N."""
    return 128 - status if status < 0 else status


# ---------------------------------------------------------------------------- server access

def connect(info: serverfile.ServerInfo) -> Connection:
    """A connection to the server, trying `serverfile.endpoints` in order.

    The tcp endpoint speaks only CURVE, which the plain ZMTP client cannot: a runner on another
    host pays for pyzmq there (imported only then). Raises Refused when the server turns us
    away at the handshake."""
    error: Exception | None = None
    for endpoint in serverfile.endpoints(info):
        try:
            if endpoint.startswith("tcp://") and info.serverkey:
                from spraycc.net.curvelink import CurveDealer

                return CurveDealer(endpoint, serverkey=info.serverkey, timeout=CONNECT_TIMEOUT)
            return Dealer(endpoint, timeout=CONNECT_TIMEOUT)
        except (ZmtpError, OSError) as exc:
            error = exc
    raise ServerUnavailable(f"cannot reach the server in {oslite.dirname(info.path)}: {error}")


def heartbeat_of(info: serverfile.ServerInfo) -> float:
    """Seconds between heartbeats with the server while waiting (its file says)."""
    try:
        return max(0.05, float(info.get("heartbeat") or p.RUNNER_HEARTBEAT_INTERVAL))
    except ValueError:
        return p.RUNNER_HEARTBEAT_INTERVAL


class Link:
    """The runner's connection plus heartbeat bookkeeping."""

    def __init__(self, conn: Connection, heartbeat: float) -> None:
        self.conn = conn
        self.heartbeat = heartbeat
        self.expiry = heartbeat * p.HEARTBEAT_LIVENESS
        self.last_sent = time.monotonic()
        self.last_heard = self.last_sent

    def send(self, msg: p.Message, *bulk: bytes) -> None:
        self.conn.send([p.encode(msg), *bulk])
        self.last_sent = time.monotonic()

    def recv(self) -> tuple[p.Message, list[bytes]] | None:
        """Next message, or None after a heartbeat interval of silence. Raises ServerUnavailable
        when the server has closed the connection or gone silent."""
        frames = self.conn.recv(self.heartbeat)
        now = time.monotonic()
        if now - self.last_sent >= self.heartbeat:
            self.send(p.Heartbeat())
        if frames is None:
            if now - self.last_heard > self.expiry:
                raise ServerUnavailable("the server stopped answering")
            return None
        self.last_heard = now
        try:
            return p.decode(frames[0]), frames[1:]
        except ProtocolError:
            return None

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- local steps

def run_local(argv: list[str], info: serverfile.ServerInfo | None, verbose: bool,
              link: Link | None = None, asked: bool = False) -> int:
    """Run the step here. With a server, wait for one of its local slots first, so that
    `make -j1000` cannot start a thousand links at once on the submitting host. `link`: the
    connection of a remote attempt the server handed back, asked again instead of a new one
    (a server that is stopping answers at once, or closes it); `asked`: the slot has been
    asked for on it already (by the waiter, spraycc.waiter)."""
    if info is not None:
        try:
            if link is None:
                link = Link(connect(info), heartbeat_of(info))
            if not asked:
                link.send(p.Local(info.code, oslite.fsencode(argv[0])))
            wait_for_grant(link)
        except (ServerUnavailable, ZmtpError, OSError) as exc:
            if verbose:
                say(f"no local slot from the server ({exc}); running unthrottled")
            if link is not None:
                link.close()
            link = None
    if link is None:
        _exec(argv)
    assert link is not None
    return spawn_and_wait(argv, link)


def wait_for_grant(link: Link) -> None:
    while True:
        got = link.recv()
        if got is None:
            continue
        msg = got[0]
        if isinstance(msg, p.Grant):
            return
        if isinstance(msg, p.Refuse):
            raise Refused(msg.reason)
        if isinstance(msg, (p.Fail, p.Disconnect)):
            raise ServerUnavailable(getattr(msg, "reason", "the server is stopping"))


def _exec(argv: list[str]) -> None:
    try:
        import os  # the process is being replaced: os.execvp's PATH search

        os.execvp(argv[0], argv)
    except OSError as exc:
        say(f"{argv[0]}: {exc.strerror}")
        posix._exit(127 if isinstance(exc, FileNotFoundError) else 126)


def spawn_and_wait(argv: list[str], link: Link) -> int:
    start = time.monotonic()
    try:
        pid = posix.posix_spawnp(argv[0], argv, oslite.environb)
    except OSError as exc:
        say(f"{argv[0]}: {exc.strerror}")
        link.send(p.Done(127, 0.0))
        return 127 if isinstance(exc, FileNotFoundError) else 126
    pidfd = posix.pidfd_open(pid)
    import select  # builtin C module, cheap

    try:
        while True:
            ready, _, _ = select.select([pidfd, link.conn.fileno()], [], [], link.heartbeat)
            if pidfd in ready:
                break
            try:
                link.recv() if link.conn.fileno() in ready else None
                if time.monotonic() - link.last_sent >= link.heartbeat:
                    link.send(p.Heartbeat())
            except (ServerUnavailable, ZmtpError):
                pass  # the step goes on regardless of the server
        _, wstatus = posix.waitpid(pid, 0)
    except Interrupted as exc:
        posix.kill(pid, exc.signum)
        _, wstatus = posix.waitpid(pid, 0)
    finally:
        posix.close(pidfd)
    status = posix.waitstatus_to_exitcode(wstatus)
    try:
        link.send(p.Done(status, time.monotonic() - start))
    except (ZmtpError, OSError):
        pass
    return exit_status(status)


# -------------------------------------------------------------------------- remote steps

class Incoming:
    """One output file arriving in chunks, written under a temp name beside its target."""

    __slots__ = ("complete", "fd", "keep_mode", "mode", "target", "tmp")

    def __init__(self, target: str, keep_mode: bool) -> None:
        self.target = target
        self.keep_mode = keep_mode
        d, base = oslite.split(target)
        self.tmp = oslite.join(d, f".{base}.{posix.getpid()}.spraycc-tmp")
        flags = posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC
        self.fd = posix.open(self.tmp, flags, 0o600)
        self.complete = False
        self.mode = 0

    def write(self, data: bytes, mode: int, last: bool) -> None:
        _write_all(self.fd, data)
        if last:
            self.complete = True
            self.mode = mode

    def commit(self, umask: int) -> None:
        """Give the file the mode a local run would and move it into place."""
        mode = (0o777 if self.mode & 0o111 else 0o666) & ~umask
        if self.keep_mode:  # a local run rewrites this file in place: it keeps its mode
            try:
                mode = posix.stat(self.target).st_mode & 0o7777
            except OSError:
                pass
        posix.fchmod(self.fd, mode)
        posix.close(self.fd)
        self.fd = -1
        posix.rename(self.tmp, self.target)

    def discard(self) -> None:
        if self.fd >= 0:
            posix.close(self.fd)
            self.fd = -1
        try:
            posix.unlink(self.tmp)
        except OSError:
            pass


class RemoteStep:
    """The state of one submitted task while its messages arrive."""

    def __init__(self, decision: Decision, stream: bool) -> None:
        self.decision = decision
        self.stream = stream  # relay stdout/stderr at once instead of holding it back
        self.task = 0
        self.attempt = 1
        self.files: dict[int, Incoming] = {}
        self.held: list[tuple[int, bytes]] = []
        self.held_bytes = 0
        self.relayed = False  # some output already reached our stdout/stderr
        self.unacked = 0
        self.assembler_failed = False  # `as` spoke on stderr (see decision.AS_FAILED)
        self.check = False  # compare the inputs the executor reports with ours
        self.inputs: object = None  # INPUTS of the current attempt (a list when well formed)
        self.since = 0.0  # wall-clock time of the submission

    def on_output(self, stream: int, data: bytes) -> None:
        if stream == 2 and ASSEMBLER_MESSAGES in data:
            self.assembler_failed = True
        if self.stream or self.held_bytes + len(data) > BUFFER_LIMIT:
            self.flush_output()
            self.relayed = self.relayed or bool(data)
            _write_all(stream, data)
        else:
            self.held.append((stream, data))
            self.held_bytes += len(data)

    def flush_output(self) -> None:
        for stream, data in self.held:
            _write_all(stream, data)
            self.relayed = True
        self.held.clear()
        self.held_bytes = 0

    def on_file(self, msg: p.File, data: bytes) -> None:
        incoming = self.files.get(msg.index)
        if incoming is None:
            outputs = self.decision.outputs
            if not 0 <= msg.index < len(outputs):
                return
            out = outputs[msg.index]
            incoming = self.files[msg.index] = Incoming(out.path, out.keep_mode)
        incoming.write(data, msg.mode, msg.last)

    def restart(self, attempt: int) -> None:
        if self.relayed:
            raise ExecutorLost(
                "the executor was lost after part of the step's output had been relayed; "
                "run the step again"
            )
        self.discard()
        self.attempt = attempt
        self.unacked = 0
        self.inputs = None

    def discard(self) -> None:
        for incoming in self.files.values():
            incoming.discard()
        self.files.clear()
        self.held.clear()
        self.held_bytes = 0
        self.assembler_failed = False

    def commit(self, failed: bool = False) -> None:
        """Move every complete output into place; outputs the step did not produce are
        removed where a local run would have removed them (`failed`: the step failed)."""
        umask = posix.umask(0o022)
        posix.umask(umask)
        primary = self.files.get(0)
        for index, out in enumerate(self.decision.outputs):
            incoming = self.files.get(index)
            if incoming is not None and incoming.complete:
                incoming.commit(umask)
            else:
                if incoming is not None:
                    incoming.discard()
                if out.on_missing == "delete" or (
                        out.on_missing == AS_FAILED and failed
                        and self.assembler_failed):
                    try:
                        posix.unlink(out.path)
                    except FileNotFoundError:
                        pass
        if primary is not None and primary.complete and len(self.decision.outputs) > 1:
            # The primary output (the object) gets the newest mtime: a local compile writes
            # it last (`as` runs after cc1 wrote the .d, .i, .s, .su files), and make rebuilds
            # an object whose .d file (a prerequisite in many Makefiles) is newer.
            try:
                posix.utime(primary.target)
            except OSError:
                pass
        self.files.clear()


def submit(run: Run, keep: list[Link] | None = None,
           resumed: tuple[Link, RemoteStep, str] | None = None) -> int | None:
    """Run the step on an executor. Returns the exit status, or None when the caller should
    run the step locally (the reason has been said; the still open connection is put in
    `keep`, for the local slot). `run.forced`: remote on the user's word (--remote or a rule),
    not the classifier's: such a step is not retried (it may have written files on the shared
    filesystem) and its output is relayed as it comes. `resumed`: the link and step of a
    submission already made, taken back from the waiter, and why it gave them back."""
    if resumed is not None:
        return _follow_step(*resumed, run, keep)
    info, decision, opts, cwd, forced = run.info, run.decision, run.opts, run.cwd, run.forced
    env = dict(oslite.environb)
    for key, value in decision.env.items():
        if value is None:
            env.pop(oslite.fsencode(key), None)
        else:
            env[oslite.fsencode(key)] = oslite.fsencode(value)
    argv = decision.argv
    check = not forced and checking(info)
    deps = ""
    if check:
        deps = decision.deps
        if not deps and decision.side_deps:
            deps = SIDE_DEPS
            argv = [*argv, *decision.side_deps]
        check = bool(deps)
    if decision.tty_flag and posix.isatty(2):
        # A local compiler would colour its diagnostics at this terminal; the remote one
        # writes to a pipe. The flag changes no output file (see decision.Decision).
        argv = [*argv, decision.tty_flag]
    body = p.pack_body(
        oslite.fsencode(cwd),
        [oslite.fsencode(a) for a in argv],
        env,
        [oslite.fsencode(o.collect) for o in decision.outputs],
        timeout=step_timeout(opts, info),
        merge=same_file(1, 2),
        deps=oslite.fsencode(deps),
        skip=readonly_dirs(info, decision.compiler, cwd) if check else None,
    )
    workspace = oslite.dirname(info.path)
    name = decision.outputs[0].path if decision.outputs else decision.argv[0]
    target = decision.outputs[0].path if decision.outputs else (
        decision.inputs[0] if decision.inputs else None)
    key = taskkey.task_key(workspace, cwd, decision.compiler or decision.argv[0], target,
                           "" if forced else taskkey.mode_of(decision.argv), decision.argv[1:])
    flags = p.FLAG_DEPENDENCY if decision.dependency_task else 0
    if not forced:
        flags |= p.FLAG_RETRY_SAFE
    link = Link(connect(info), heartbeat_of(info))
    step = RemoteStep(decision, stream=forced)
    step.check = check
    step.since = time.time()
    submission = p.Submit(info.code, oslite.fsencode(key), flags, oslite.fsencode(name)), body
    return _follow_step(link, step, "", run, keep, submission)


def _follow_step(link: Link, step: RemoteStep, why: str, run: Run, keep: list[Link] | None,
                 submission: tuple[p.Message, bytes] | None = None) -> int | None:
    """Send the submission (if any) and follow the task; `why`: the waiter gave the
    connection back because the server went silent ("silent") or a write failed ("lost")."""
    try:
        if submission is not None:
            link.send(*submission)
        if why == "silent":
            raise ServerUnavailable("the server stopped answering")
        if why == "lost":
            raise ServerUnavailable("lost the server: the connection failed")
        status = follow(link, step, run.opts.verbose, run)
        if status is None and keep is not None:
            keep.append(link)
        return status
    except StaleView as exc:
        try:
            link.send(p.Stale(run.info.code, exc.host, oslite.fsencode(exc.path), exc.detail))
        except (ZmtpError, OSError):
            pass
        raise
    except (ZmtpClosed, ZmtpError) as exc:
        step.discard()
        raise ServerUnavailable(f"lost the server: {exc}") from None
    except BaseException:
        step.discard()
        raise
    finally:
        if not keep:
            link.close()


def follow(link: Link, step: RemoteStep, verbose: bool, run: Run | None = None) -> int | None:
    """Relay the server's messages about our task until its RESULT. With `run`, a task queued
    far back hands the connection to the waiter (spraycc.handover)."""
    try:
        while True:
            got = link.recv()
            if got is None:
                continue
            msg, rest = got
            if isinstance(msg, (p.Output, p.File, p.Result)) and (
                msg.attempt != step.attempt or (step.task and msg.task != step.task)
            ):
                continue  # a late message of an attempt that was re-dispatched
            if isinstance(msg, p.Output):
                step.on_output(msg.stream, rest[0] if rest else b"")
                acknowledge(link, step)
            elif isinstance(msg, p.File):
                step.on_file(msg, rest[0] if rest else b"")
                acknowledge(link, step)
            elif isinstance(msg, p.Inputs):
                try:
                    step.inputs = unpackb(rest[0], max_depth=3) if rest else None
                except UnpackError:
                    step.inputs = None
                acknowledge(link, step)
            elif isinstance(msg, p.Result):
                return finish(step, msg, verbose)
            elif isinstance(msg, p.Accepted):
                step.task = msg.task
                threshold = handover_at() if run is not None else None
                if run is not None and threshold is not None and msg.queued >= threshold:
                    from spraycc import handover

                    handover.hand_over(run, link, step, msg.queued)  # returns if it cannot
            elif isinstance(msg, p.Retry):
                say(f"{msg.reason}; retrying (attempt {msg.attempt})") if verbose else None
                step.restart(msg.attempt)
            elif isinstance(msg, p.Fail):
                step.discard()
                if msg.fallback:
                    say(f"{msg.reason}; running locally")
                    return None
                say(msg.reason)
                return 1
            elif isinstance(msg, p.Refuse):
                step.discard()
                raise Refused(msg.reason)
    except Interrupted:
        try:
            link.send(p.Cancel(step.task))
        except (ZmtpError, OSError):
            pass
        step.discard()
        raise


def acknowledge(link: Link, step: RemoteStep) -> None:
    step.unacked += 1
    if step.unacked >= p.CREDIT_WINDOW // 2:
        link.send(p.Credit(step.task, step.attempt, step.unacked))
        step.unacked = 0


def finish(step: RemoteStep, msg: p.Result, verbose: bool) -> int | None:
    if msg.error:
        step.discard()
        say(f"{msg.error}; running locally")
        return None
    if step.check:
        check_inputs(step, msg)
    if verbose and msg.status == 0:
        for index, out in enumerate(step.decision.outputs):
            incoming = step.files.get(index)
            if (incoming is None or not incoming.complete) and out.on_missing == "keep":
                say(f"{out.path} did not come back (left as it was)")
    step.commit(failed=msg.status != 0)
    step.flush_output()
    if verbose:
        say(f"ran on {msg.host} in {msg.elapsed:.3f} s, status {msg.status}")
    return exit_status(msg.status)


def check_inputs(step: RemoteStep, msg: p.Result) -> None:
    """Raise StaleView (after discarding the result) when the executor read an input that
    differs from ours, or failed for want of a file we have (docs/usage.md)."""
    from spraycc.step import inputs  # after the result: a waiting runner has not loaded it

    decision = step.decision
    cwd = posix.getcwd()
    found = None
    if msg.status == 0:
        if type(step.inputs) is list:
            found = inputs.compare(step.inputs, cwd, decision.incdirs, step.since)
    elif not step.relayed:
        text = b"".join(data for _, data in step.held)
        name = inputs.missing_name(text, cwd, decision.incdirs) if text else ""
        if name:
            found = (name, "the step failed for want of it on the executor; it is here")
    if found is not None:
        step.discard()
        raise StaleView(found[0], msg.host, found[1])


def checking(info: serverfile.ServerInfo) -> bool:
    """The input check is on: the server's check_inputs, unless SPRAYCC_CHECK_INPUTS=0."""
    return info.get("check_inputs") != "0" and oslite.getenv("SPRAYCC_CHECK_INPUTS") != "0"


def readonly_dirs(info: serverfile.ServerInfo, compiler: str, cwd: str) -> list[bytes]:
    """Directory prefixes whose files the executor does not report: the server's
    readonly_dirs, and the compiler's installation prefix unless the build is inside it."""
    dirs = info.get("readonly_dirs")
    if dirs:
        prefixes = [d.rstrip("/") + "/" for d in dirs.split(":") if d]
    else:  # a server file without them (a server always writes them): the defaults
        from spraycc.step.inputs import DEFAULT_READONLY

        prefixes = list(DEFAULT_READONLY)
    if compiler.startswith("/"):
        prefix = oslite.dirname(oslite.dirname(compiler)).rstrip("/") + "/"
        if prefix != "/" and not (cwd + "/").startswith(prefix) and prefix not in prefixes:
            prefixes.append(prefix)
    return [oslite.fsencode(d) for d in prefixes]


def stale_rerun(info: serverfile.ServerInfo) -> float | None:
    """Seconds to wait before re-running a stale step remotely, or None: re-run it here."""
    value = info.get("stale_rerun")
    if not value or oslite.getenv("SPRAYCC_STALE_RERUN") == "local":
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# ------------------------------------------------------------------------------- entry

def server_rules(info: serverfile.ServerInfo | None) -> list[rules.Rule]:
    """The placement rules the server published in its file (none without a server)."""
    if info is None or not any(key.startswith("rule.") for key in info.fields):
        return []  # the common case: `rules` is not even imported
    from spraycc.step import rules

    try:
        return rules.from_fields(info.fields)
    except ValueError as exc:
        say(f"ignoring the placement rules in {info.path}: {exc}")
        return []


def step_timeout(opts: Options, info: serverfile.ServerInfo) -> float:
    """--timeout, else the server's task_timeout; 0 is no limit."""
    if opts.timeout is not None:
        return opts.timeout
    try:
        return max(0.0, float(info.get("task_timeout") or 0))
    except ValueError:
        return 0.0


def same_file(fd1: int, fd2: int) -> bool:
    """Both descriptors write to one file (`>log 2>&1`, a terminal, one pipe)."""
    try:
        a, b = posix.fstat(fd1), posix.fstat(fd2)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def resumed(run: Run, link: Link, step: RemoteStep, why: str) -> int:
    """Go on with a step taken back from the waiter (spraycc.handover.resume), which left the
    terminating signals blocked: one that arrived meanwhile cancels the task now."""
    for sig in SIGNALS:
        _signal.signal(sig, _on_signal)
    try:
        try:
            _signal.pthread_sigmask(_signal.SIG_UNBLOCK, SIGNALS)
        except Interrupted:
            if why != "local":  # a runner waiting for a local slot has no task to cancel
                try:
                    link.send(p.Cancel(step.task))
                except (ZmtpError, OSError):
                    pass
            link.close()
            raise
        if why == "local":  # the waiter has relayed a fallback and asked for a local slot
            try:
                return run_local(run.argv, run.info, run.opts.verbose, link, asked=True)
            except Refused as exc:
                return refused(run.argv, str(exc), run.fallback, run.opts.verbose)
        return remote(run, (link, step, why))
    except Interrupted as exc:
        return 128 + exc.signum


def main(args: list[str]) -> int:
    for sig in SIGNALS:
        _signal.signal(sig, _on_signal)
    try:
        opts, argv = parse(args)
    except HelpWanted:
        _write_all(1, HELP.encode() + b"\n")
        return 0
    except ValueError as exc:
        say(f"{exc} (see `spraycc run --help`)")
        return 2
    if not argv:
        say(f"no command given\n{USAGE}\n(`spraycc run --help` explains the options)")
        return 2
    try:
        return _main(opts, argv)
    except Interrupted as exc:
        return 128 + exc.signum


def _main(opts: Options, argv: list[str]) -> int:
    cwd = posix.getcwd()
    info = serverfile.nearest(cwd)
    fallback = oslite.getenv_or("SPRAYCC_FALLBACK", info.get("fallback") if info else "local")
    rule_list = server_rules(info)
    if not (opts.verbose or opts.force or rule_list) and certainly_local(argv):
        # A link, an archive, any tool with no compile word: the classifier would keep it
        # local, so it asks for its local slot without loading the classifier (-v takes the
        # long way, for the classifier's reason).
        try:
            return run_local(argv, info, False)
        except Refused as exc:
            return refused(argv, str(exc), fallback, False)
    placement = place(argv, opts, cwd, rule_list, check_stdin=True)
    decision = placement.decision
    if opts.verbose or (opts.force == "remote" and not decision.remote):
        say(f"{'remote' if decision.remote else 'local'}: {decision.reason}")
    if not decision.remote and info is not None and decision.reason.startswith(SEVERAL):
        parts = split_parts(argv, cwd)
        if parts:
            from spraycc import parts as multi

            if opts.verbose:
                say(f"{len(parts)} sources: one step per source")
            return multi.run(parts, opts.verbose, same_file(1, 2))
    if not decision.remote and decision.query:
        _exec(argv)  # a compiler query: nothing to throttle, no server to ask (classify.Decision)
    if not decision.remote:
        try:
            return run_local(argv, info, opts.verbose)
        except Refused as exc:  # even the local-slot request was turned away
            return refused(argv, str(exc), fallback, opts.verbose)
    if info is None:
        reason = (f"no server ({serverfile.NAME} not found in {cwd} or above); "
                  "start one with `spraycc server` in the workspace root")
        return unavailable(argv, reason, fallback, opts.verbose)
    return remote(Run(argv, opts, cwd, info, decision, placement.forced, fallback))


def remote(run: Run, resumed: tuple[Link, RemoteStep, str] | None = None) -> int:
    """Run a remote step (or follow one taken back from the waiter: `resumed`)."""
    argv, opts, info, fallback = run.argv, run.opts, run.info, run.fallback
    kept: list[Link] = []
    try:
        try:
            status = submit(run, kept, resumed)
        except StaleView as exc:
            delay = None if run.retried else stale_rerun(info)
            if opts.verbose:
                say(f"{exc}; running {'locally' if delay is None else 'again remotely'}")
            if delay is None:
                status = None
            else:
                time.sleep(delay)  # the executors' NFS attribute caches expire meanwhile
                run.retried = True
                try:
                    status = submit(run, kept)
                except StaleView as again:
                    if opts.verbose:
                        say(f"{again}; running locally")
                    status = None
    except ServerUnavailable as exc:
        return unavailable(argv, str(exc), fallback, opts.verbose)
    except Refused as exc:
        return refused(argv, str(exc), fallback, opts.verbose)
    except ExecutorLost as exc:
        say(str(exc))
        return 1
    if status is None:
        try:
            return run_local(argv, info, opts.verbose, kept[0] if kept else None)
        except Refused as exc:
            return refused(argv, str(exc), fallback, opts.verbose)
    return status


SEVERAL = "several sources in one command"  # the classifier's reason (spraycc.step.classify)


def split_parts(argv: list[str], cwd: str) -> list[list[str]] | None:
    """`gcc -c a.c b.c` as one command per source, when each of them goes remote."""
    from spraycc import parts
    from spraycc.step.classify import classify  # loaded already: this step was classified

    env = oslite.environ()
    split = parts.split(argv, cwd, env)
    if split is None or not all(classify(part, cwd, env).remote for part in split):
        return None
    return split


def refused(argv: list[str], reason: str, fallback: str, verbose: bool) -> int:
    """The server turned us away: one line, and a non-zero exit unless falling back to a
    local run on refusal was asked for (SPRAYCC_FALLBACK_ON_REFUSE)."""
    say(f"refused by the server: {reason}")
    if fallback == "local" and oslite.getenv("SPRAYCC_FALLBACK_ON_REFUSE"):
        return run_local(argv, None, verbose)
    return EX_UNAVAILABLE


def unavailable(argv: list[str], reason: str, fallback: str, verbose: bool) -> int:
    """No server to be had: run the step here, saying why once per build (every step with
    -v), or fail it when fallback is switched off."""
    if fallback == "error":
        say(f"{reason} (SPRAYCC_FALLBACK=error: not running it locally)")
        return EX_UNAVAILABLE
    from spraycc import notice  # only on this path: a step that reaches its server never pays

    if verbose:
        say(f"{reason}; running locally")
    elif notice.first_in_build("unavailable"):
        say(f"{reason}; running locally (said once per build; -v or SPRAYCC_VERBOSE=1: "
            "for every step)")
    return run_local(argv, None, False)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
