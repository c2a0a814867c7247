"""The executor (`spraycc exec`): a DEALER worker on a cluster host, one task at a time.

One poll loop watches the server socket, the running step's stdout/stderr pipes and a pidfd of
the step (readable when it exits). stdout/stderr are relayed as raw bytes while the step runs;
after it exits, each declared output is read from the executor's private temp dir and sent in
chunks. Every OUTPUT/FILE message spends one unit of the runner's credit; with no credit left
the executor stops reading the pipes (the step then blocks on a full pipe: natural back
pressure) and stops sending file chunks until a CREDIT arrives.

The executor logic talks to the server through a `Link` (send, non-blocking recv, the sockets to
poll) and reads time from a `clock`, like the broker: `ServerLink` is the real ZeroMQ DEALER,
and tests hand in another link and clock to drive a task's lifecycle without a server.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import zmq
from zmq.utils import z85

from spraycc import TEMP_DIR
from spraycc.errors import ProtocolError, Refused, SprayError, VersionMismatch
from spraycc.net import auth
from spraycc.net.transport import dealer
from spraycc.step import inputs
from spraycc.step.taskkey import printable
from spraycc.wire import keys
from spraycc.wire import protocol as p
from spraycc.wire.minipack import packb

log = logging.getLogger(__name__)

KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL of a cancelled step's process group
# An executor that cannot even open a TCP connection to --callme gives up after this long
# (connection refused, no route, unknown host): the scheduler then records a failed job at once.
CONNECT_GIVEUP = 3.0
PROBE_TIMEOUT = 2.0  # the one plain TCP connect that names the cause when giving up
# A user key missing on this host may be a shared filesystem that has not caught up yet with a
# key the first server start just created: it is read again for this long before giving up.
KEY_WAIT = 60.0
_TEMP_DIR = os.fsencode(TEMP_DIR)


class Step:
    """One task being run: the child process, its pipes and what remains to be sent.

    `state` says how it is going: RUNNING, CANCELLED (a CANCEL came: nobody reads its output,
    so RESULT is sent as soon as it exits) or TIMED_OUT (past the body's time limit: killed like
    a cancelled step, but its output is still relayed, then a note and status 124)."""

    RUNNING = "running"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"

    def __init__(self, task: int, attempt: int, body: p.Body, workdir: str, now: float) -> None:
        self.task = task
        self.attempt = attempt
        self.body = body
        self.workdir = workdir
        self.credit = body.credit
        self.proc: subprocess.Popen[bytes] | None = None
        self.pidfd = -1
        self.pipes: dict[int, int] = {}  # fd -> stream number
        self.status: int | None = None  # the exit status, once the main process has exited
        self.started = now
        self.elapsed = 0.0
        self.error = ""
        self.state = Step.RUNNING
        self.kill_at = 0.0
        self.pending: Iterator[list[bytes]] | None = None  # file messages still to send

    @property
    def cancelled(self) -> bool:
        """Being killed, whether by CANCEL or by its time limit."""
        return self.state != Step.RUNNING

    def substitute(self, value: bytes) -> bytes:
        return value.replace(_TEMP_DIR, os.fsencode(self.workdir))


class Link(Protocol):
    """What the executor needs of its connection to the server."""

    curve: auth.CurveClient | None  # CURVE (tcp): its handshake monitor, else None

    def send(self, frames: list[bytes]) -> None: ...

    def recv(self) -> list[bytes] | None:
        """The next message if one is waiting, else None (never blocks)."""

    def sockets(self) -> list[zmq.Socket]:
        """What the poll loop watches for incoming messages."""

    def close(self, linger_ms: int) -> None: ...


class ServerLink:
    """The real link: a ZeroMQ DEALER to the server (CURVE for tcp with a server key)."""

    def __init__(self, callme: str, *, serverkey: bytes = b"",
                 keypair: keys.KeyPair | None = None) -> None:
        self.ctx = zmq.Context()
        # CURVE (tcp): the server's session key plus the user's key pair. A refused handshake
        # shows only on the monitor; it is watched by the poll loop so we exit at once.
        self.curve: auth.CurveClient | None = None
        if serverkey and keypair is not None:
            self.curve = auth.CurveClient(self.ctx, callme, serverkey=serverkey,
                                          keypair=keypair, events=zmq.EVENT_CONNECTED)
            self.sock = self.curve.sock
        else:
            self.sock = dealer(self.ctx, callme)
        self._polled = [self.sock] if self.curve is None else [self.sock, self.curve.monitor]

    def send(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames, copy=len(frames[-1]) < 65536)

    def recv(self) -> list[bytes] | None:
        try:
            return self.sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return None

    def sockets(self) -> list[zmq.Socket]:
        return self._polled

    def close(self, linger_ms: int) -> None:
        if self.curve is not None:
            self.curve.close(linger=linger_ms)
        else:
            self.sock.close(linger=linger_ms)
        self.ctx.term()


class Executor:
    def __init__(
        self,
        callme: str,
        code: str,
        *,
        launch: str = "",
        tmpdir: str = "",
        walltime: float = 0.0,
        serverkey: bytes = b"",
        keypair: keys.KeyPair | None = None,
        heartbeat: float = p.HEARTBEAT_INTERVAL,
        liveness: int = p.HEARTBEAT_LIVENESS,
        link: Link | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.callme = callme
        self.code = code
        self.launch = launch
        self.host = socket.gethostname()
        self.heartbeat = heartbeat
        self.expiry = heartbeat * liveness
        self.walltime = walltime
        self.clock = clock
        self.born = clock()
        self.base = tempfile.mkdtemp(prefix="spraycc-exec-", dir=tmpdir or None)
        self.link: Link = link if link is not None else ServerLink(
            callme, serverkey=serverkey, keypair=keypair)
        # A TCP connection to the server was made: known at once, but for CURVE (tcp).
        self.reached = self.link.curve is None
        self.step: Step | None = None
        self.last_heard = clock()
        self.last_sent = 0.0
        self.exit_reason = ""
        self.exit_code = 0
        self.linger_ms = 0  # at close: 0 drops unsent messages; a goodbye gets time to leave
        self.terminated = 0  # the signal that asked us to leave, if any

    # --------------------------------------------------------------------------- main loop

    def run(self) -> int:
        """Serve tasks until released, refused, or the server is gone. Returns the exit code."""
        self.send([p.encode(p.Ready(self.code, self.host, os.getpid(), self.launch))])
        try:
            while not self.exit_reason:
                self.poll_once()
                if self.terminated and not self.exit_reason:
                    self.exit_code = 128 + self.terminated
                    self.leave(f"terminated by {signal.Signals(self.terminated).name}")
        finally:
            self.shutdown()
        log.log(logging.ERROR if self.exit_code else logging.INFO, "executor %s exits: %s",
                self.launch, self.exit_reason)
        return self.exit_code

    def on_signal(self, signum: int, frame: object) -> None:
        self.terminated = signum  # acted on by the loop, within one poll timeout

    def poll_once(self) -> None:
        poller = zmq.Poller()
        for sock in self.link.sockets():
            poller.register(sock, zmq.POLLIN)
        step = self.step
        if step is not None:
            if step.credit > 0:
                for fd in step.pipes:
                    poller.register(fd, zmq.POLLIN)
            if step.pidfd >= 0:
                poller.register(step.pidfd, zmq.POLLIN)
        timeout = self.heartbeat / 2
        if step is not None and step.cancelled:
            timeout = min(timeout, 0.05)
        events = dict(poller.poll(int(timeout * 1000)))
        curve = self.link.curve
        if curve is not None and curve.monitor in events:
            self.on_monitor()
        if events and any(sock in events for sock in self.link.sockets()):
            self.drain_socket()
        if step is not None and self.step is step:
            for fd in list(step.pipes):
                if events.get(fd):
                    self.on_pipe(step, fd)
            if step.pidfd >= 0 and events.get(step.pidfd):
                self.on_exit(step)
            self.progress(step)
        self.on_tick()

    def drain_socket(self) -> None:
        while True:
            frames = self.link.recv()
            if frames is None:
                return
            self.last_heard = self.clock()
            try:
                msg = p.decode(frames[0])
            except VersionMismatch as exc:
                self.exit_reason = (f"the server speaks protocol version {exc.theirs}, this "
                                    f"executor {exc.ours}: the start command must run the "
                                    "same spraycc as the server")
                self.exit_code = 1
                return
            except ProtocolError as exc:
                log.warning("dropped a message from the server: %s", exc)
                continue
            self.on_message(msg, frames[1:])

    def on_message(self, msg: p.Message, rest: list[bytes]) -> None:
        if isinstance(msg, p.Task) and len(rest) == 1:
            self.on_task(msg, rest[0])
        elif isinstance(msg, p.Credit):
            step = self.step
            if step and step.task == msg.task and step.attempt == msg.attempt:
                step.credit += msg.chunks
        elif isinstance(msg, p.Cancel):
            step = self.step
            if step and step.task == msg.task:
                self.cancel(step)
        elif isinstance(msg, p.Disconnect):
            self.exit_reason = f"released by the server ({msg.reason})"
        elif isinstance(msg, p.Refuse):
            self.exit_reason = f"refused by the server: {msg.reason}"
            self.exit_code = 1

    def on_monitor(self) -> None:
        """A refused security handshake: leave at once, freeing the cluster slot (retrying
        could never succeed: the server has another key or does not know ours)."""
        curve = self.link.curve
        assert curve is not None
        try:
            curve.check()
        except Refused as exc:
            if not self.exit_reason:
                self.exit_reason = f"refused by the server: {exc}"
                self.exit_code = 1
        if curve.connected:
            self.reached = True

    def on_tick(self) -> None:
        now = self.clock()
        if not self.reached:
            if now - self.born > CONNECT_GIVEUP:
                self.on_unreachable()
        elif now - self.last_heard > self.expiry:
            self.exit_reason = "the server is gone (no heartbeat)"
            self.exit_code = 1
        elif now - self.last_sent >= self.heartbeat:
            self.send([p.encode(p.Heartbeat())])
        step = self.step
        if step is not None and step.cancelled and step.kill_at and now >= step.kill_at:
            self.kill(step, signal.SIGKILL)
            step.kill_at = 0.0
        if step is not None and step.proc is not None and step.body.timeout > 0 \
                and step.status is None and not step.cancelled \
                and now - step.started > step.body.timeout:
            step.error = ""
            self.cancel(step, Step.TIMED_OUT)
        if self.step is None and self.past_walltime(now):
            self.leave("wall-time limit reached")

    def on_unreachable(self) -> None:
        """No TCP connection to the server after CONNECT_GIVEUP: one plain connect names the
        cause (it succeeding means the server was only slow: keep waiting for the heartbeat)."""
        reason = probe(self.callme)
        if reason is None:
            self.reached = True
            self.last_heard = self.clock()
            return
        self.exit_reason = f"cannot reach the server at {self.callme}: {reason}"
        self.exit_code = 1

    def past_walltime(self, now: float) -> bool:
        """Past the point after which no new task is started (the scheduler's limit minus the
        margin the server passed as --walltime)."""
        return bool(self.walltime) and now - self.born > self.walltime

    def leave(self, reason: str) -> None:
        """Say goodbye (DISCONNECT) and exit: the server re-queues a task it just sent us."""
        self.exit_reason = reason
        self.send([p.encode(p.Disconnect(reason))])
        self.linger_ms = 1000  # the goodbye must reach the server before the socket closes

    def send(self, frames: list[bytes]) -> None:
        self.link.send(frames)
        self.last_sent = self.clock()

    # ---------------------------------------------------------------------------- a task

    def on_task(self, msg: p.Task, data: bytes) -> None:
        if self.step is not None:
            log.warning("got task %d while busy with %d; ignored", msg.task, self.step.task)
            return
        if self.exit_reason or self.past_walltime(self.clock()):
            # Never start what the scheduler may kill mid-way: hand it back by leaving (the
            # server re-queues the task of an executor that disconnects).
            if not self.exit_reason:
                self.leave("wall-time limit reached")
            return
        try:
            body = p.Body(data)
        except ProtocolError as exc:
            self.send([p.encode(p.Result(msg.task, msg.attempt, 1, 0.0, self.host, str(exc)))])
            return
        workdir = os.path.join(self.base, f"{msg.task}-{msg.attempt}")
        os.mkdir(workdir, 0o700)
        step = Step(msg.task, msg.attempt, body, workdir, self.clock())
        self.step = step
        try:
            for rel in (*body.outputs, *((body.deps,) if body.deps else ())):
                os.makedirs(os.path.dirname(os.path.join(os.fsencode(workdir), rel)),
                            exist_ok=True)
            self.spawn(step)
        except OSError as exc:
            # str fields carry UTF-8 only: a program name that is not becomes escapes
            step.error = (f"cannot run {printable(os.fsdecode(body.argv[0]))} on {self.host}: "
                          f"{printable(str(exc))}")
            self.finish(step)

    def spawn(self, step: Step) -> None:
        body = step.body
        argv = [step.substitute(a) for a in body.argv]
        env = {k: step.substitute(v) for k, v in body.env.items()}
        proc = subprocess.Popen(
            argv,
            cwd=body.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # merge: the runner's stdout and stderr are one file; one pipe keeps the order of
            # the step's writes to both exactly as a local run would leave it in that file.
            stderr=subprocess.STDOUT if body.merge else subprocess.PIPE,
            start_new_session=True,  # its own process group, so cancel can kill all of it
            close_fds=True,
        )
        step.proc = proc
        step.started = self.clock()
        assert proc.stdout is not None
        for stream, pipe in ((1, proc.stdout), (2, proc.stderr)):
            if pipe is not None:
                os.set_blocking(pipe.fileno(), False)
                step.pipes[pipe.fileno()] = stream
        step.pidfd = os.pidfd_open(proc.pid)

    def on_pipe(self, step: Step, fd: int) -> None:
        try:
            data = os.read(fd, step.body.chunk)
        except BlockingIOError:
            return
        if not data:
            del step.pipes[fd]
            return
        step.credit -= 1
        self.send([p.encode(p.Output(step.task, step.attempt, step.pipes[fd])), data])

    def on_exit(self, step: Step) -> None:
        assert step.proc is not None
        # The step's main process has exited but is not reaped yet, so its pid (= the group
        # id) cannot have been reused: kill whatever it left running in its process group now.
        # A remote step must not leave processes behind on a cluster host (nor keep its
        # pipes open, which would hold the step open); this also ends a cancelled step's
        # children at once when the main process died of the SIGTERM.
        self.kill(step, signal.SIGKILL)
        if step.proc.poll() is None:
            return
        os.close(step.pidfd)
        step.pidfd = -1
        step.elapsed = self.clock() - step.started
        rc = step.proc.returncode
        step.status = rc

    def progress(self, step: Step) -> None:
        """Move a finished step forward: pipes drained -> send files -> RESULT."""
        if step.status is None and not step.error:
            return
        if step.state == Step.CANCELLED:
            # Nobody reads a cancelled step's output (its runner is gone, or another copy won),
            # so no CREDIT may ever come: acknowledge with RESULT now instead of waiting.
            self.finish(step)
            return
        if step.pipes:
            # The step exited but its pipes may still hold data (or a grandchild holds them).
            for fd in list(step.pipes):
                if step.credit <= 0:
                    return
                self.on_pipe(step, fd)
            if step.pipes and not step.cancelled:
                return
        if step.pending is None:
            step.pending = self.file_messages(step)
        while step.credit > 0:
            frames = next(step.pending, None)
            if frames is None:
                self.finish(step)
                return
            step.credit -= 1
            self.send(frames)

    def file_messages(self, step: Step) -> Iterator[list[bytes]]:
        if step.cancelled or step.error or step.status is None:
            return
        chunk = step.body.chunk
        workdir = os.fsencode(step.workdir)
        if step.body.deps and step.status == 0:
            seen = self.inputs_seen(step, os.path.join(workdir, step.body.deps))
            if seen is not None:
                yield [p.encode(p.Inputs(step.task, step.attempt, len(seen))), packb(seen)]
        for index, rel in enumerate(step.body.outputs):
            path = os.path.join(workdir, rel)
            try:
                f = open(path, "rb")  # noqa: SIM115 - closed below, across yields
            except FileNotFoundError:
                continue
            with f:
                mode = os.fstat(f.fileno()).st_mode & 0o7777
                data = f.read(chunk)
                while True:
                    nxt = f.read(chunk) if len(data) == chunk else b""
                    header = p.File(step.task, step.attempt, index, mode, not nxt)
                    yield [p.encode(header), data]
                    if not nxt:
                        break
                    data = nxt

    def inputs_seen(self, step: Step, deps: bytes) -> list[list[object]] | None:
        """What the step read, as this host sees it now (docs/usage.md, "Inputs are
        checked"); None when its dependency file is missing (nothing to check)."""
        try:
            with open(deps, "rb") as f:
                data = f.read()
        except OSError:
            return None
        return inputs.identities(inputs.read_deps(data), step.body.cwd, step.body.skip)

    def finish(self, step: Step) -> None:
        status = step.status if step.status is not None else 1
        error = step.error
        if step.state == Step.TIMED_OUT:
            status, error = 124, ""
            prog = os.fsdecode(os.path.basename(step.body.argv[0]))
            self.send([p.encode(p.Output(step.task, step.attempt, 2)),
                       f"spraycc: {prog} killed: it ran longer than its time limit of "
                       f"{step.body.timeout:g} s (task_timeout / --timeout)\n"
                       .encode(errors="surrogateescape")])
        elif step.cancelled:
            error = error or "cancelled"
        self.send([p.encode(p.Result(step.task, step.attempt, status, step.elapsed, self.host,
                                     error))])
        self.cleanup(step)

    def cancel(self, step: Step, why: str = Step.CANCELLED) -> None:
        """Stop the step (SIGTERM to its process group, SIGKILL after KILL_GRACE); `why` is
        CANCELLED or TIMED_OUT. A step already being stopped keeps its first reason."""
        if step.cancelled:
            return
        step.state = why
        if step.proc is None or step.status is not None:
            return
        self.kill(step, signal.SIGTERM)
        step.kill_at = self.clock() + KILL_GRACE

    def kill(self, step: Step, sig: int) -> None:
        if step.proc is not None and step.proc.returncode is None:
            try:
                os.killpg(step.proc.pid, sig)
            except ProcessLookupError:
                pass

    def cleanup(self, step: Step) -> None:
        if step.proc is not None:
            if step.proc.returncode is None:
                self.kill(step, signal.SIGKILL)
                step.proc.wait()
            for pipe in (step.proc.stdout, step.proc.stderr):
                if pipe is not None:
                    pipe.close()
        if step.pidfd >= 0:
            os.close(step.pidfd)
            step.pidfd = -1
        shutil.rmtree(step.workdir, ignore_errors=True)
        self.step = None

    def shutdown(self) -> None:
        if self.step is not None:
            self.cancel(self.step)
            self.cleanup(self.step)
        shutil.rmtree(self.base, ignore_errors=True)
        self.link.close(self.linger_ms)


def probe(endpoint: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Why a plain TCP connection to `endpoint` (tcp://HOST:PORT) fails, or None if it opens."""
    host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    except TimeoutError:
        return f"no answer within {timeout:g} s (a firewall between the cluster and the server?)"
    except ValueError:
        return f"{endpoint!r} is not HOST:PORT"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def server_key(text: str) -> bytes:
    """--serverkey as libzmq takes it (Z85): the server passes 64 hex digits (shell-inert,
    docs/cluster.md); a 40-character Z85 key is accepted too."""
    if len(text) == 64:
        try:
            return z85.encode(bytes.fromhex(text))
        except ValueError:
            pass
    if auth.z85_ok(text):
        return text.encode()
    raise SprayError("--serverkey must be the server's public key, 64 hex digits (the "
                     "server's start command passes it)")


def load_key(wait: float = KEY_WAIT, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> keys.KeyPair:
    """The user's key pair. A missing file is read again for up to `wait` seconds (said once
    on stderr): a shared home on NFS may not show a key that the first server start made a
    moment ago. Unreadable, exposed or malformed keys fail at once (KeyFileError)."""
    deadline = clock() + wait
    told = False
    while True:
        try:
            return keys.load()
        except keys.KeyFileError as exc:
            if not isinstance(exc.__cause__, FileNotFoundError) or clock() >= deadline:
                raise
            if not told:
                told = True
                log.warning("%s is not there (yet?): waiting up to %.0f s for the shared "
                            "filesystem to show it", keys.default_path(), wait)
        sleep(1.0)


def main(callme: str, code: str, *, launch: str = "", tmpdir: str = "",
         walltime: float = 0.0, serverkey: str = "") -> int:
    """Entry of `spraycc exec`. Returns the process exit code. Raises SprayError (KeyFileError
    included) when it cannot even try: the CLI prints it and exits non-zero at once."""
    endpoint = callme if "://" in callme else f"tcp://{callme}"
    keypair = None
    key = b""
    if endpoint.startswith("tcp://"):
        # The server's tcp endpoint speaks only CURVE: without its key we would be refused.
        key = server_key(serverkey)
        keypair = load_key()
    try:
        executor = Executor(endpoint, code, launch=launch, tmpdir=tmpdir, walltime=walltime,
                            serverkey=key, keypair=keypair)
    except OSError as exc:  # the temp dir: --tmpdir missing or full on this host
        raise SprayError(f"cannot make a temp dir in {tmpdir or tempfile.gettempdir()}: "
                         f"{exc.strerror or exc}") from None
    # A scheduler ending the job (scancel, bkill, qdel, wall time) sends SIGTERM first: say
    # goodbye so the server re-queues our task at once, not after the heartbeat expiry.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, executor.on_signal)
    return executor.run()
