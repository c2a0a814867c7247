"""The server process (`spraycc server`): binds the ROUTER, writes `.spraycc_server`, runs the
one poll loop that feeds the broker, ramps executors, prints status, and cleans up on exit.

The broker holds the protocol logic; this module owns the process: sockets, signals, files,
timers. Exit paths (idle shutdown, `spraycc stop`, SIGINT/SIGTERM/SIGHUP) all run the same
cleanup: runners still waiting are told to run locally, executors are released, local executor
processes are ended by PID, the server file and the private socket directory are removed.
"""

from __future__ import annotations

import logging
import os
import resource
import secrets
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from zmq.utils import z85

from spraycc.errors import ServerExists, WorkspaceUnwritable
from spraycc.net import auth
from spraycc.net.transport import RouterTransport
from spraycc.server import filewatch, logprivacy, sessions
from spraycc.server.batch import inert, resolve_scheduler
from spraycc.server.broker import Broker, Hooks
from spraycc.server.config import Config
from spraycc.server.history import History, default_directory
from spraycc.server.hold import ArrivalStore, Holds, pick_long
from spraycc.server.order import TaskQueue
from spraycc.server.supply import Pool, Supply, exec_words
from spraycc.step import rules
from spraycc.step.taskkey import printable
from spraycc.wire import keys, serverfile
from spraycc.wire import protocol as p

log = logging.getLogger(__name__)

FD_TARGET = 4096
HISTORY_FLUSH = 2.0  # seconds between writes of the history log: a crash loses at most this
HISTORY_TYPICAL = 30.0  # seconds between updates of the rank of steps without history
RECHECK = 0.5  # seconds after a closed connection before its runner is checked again
# Timers (on_tick) run at most this often while messages keep the loop busy (a busy broker
# wakes for every few messages; idle, the poll timeout paces them), and a busy loop reads the
# monitor's events at least this often (see serve).
TICK = 0.02


@dataclass
class Options:
    alt: bool = False
    both: bool = False
    cpus: int | None = None
    loopback: bool = False


def raise_fd_limit(target: int = FD_TARGET) -> int:
    """Raise the soft RLIMIT_NOFILE towards `target` (or the hard limit). Returns the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def spraycc_command() -> str:
    """How to run this spraycc on a host sharing our filesystem: this interpreter, isolated."""
    return f"{shlex.quote(sys.executable)} -m spraycc"


def default_bind(cfg: Config, opts: Options) -> tuple[str, str]:
    """(address to bind, address executors call back).

    `--loopback` forces 127.0.0.1 for both. Otherwise bind_address, or 127.0.0.1 for the local
    default (nothing remote needs us) and all interfaces with a start command; executors are
    told callback_host, else the bind address, else (all interfaces) this host's address.
    """
    if opts.loopback:
        return "127.0.0.1", "127.0.0.1"
    cluster = bool(cfg.start_cmd or cfg.alt_start_cmd)
    bind = cfg.bind_address or ("0.0.0.0" if cluster else "127.0.0.1")
    callback = cfg.callback_host or (bind if bind not in ("0.0.0.0", "*") else _host_address())
    return bind, callback


def _host_address() -> str:
    """An address of this host that other hosts can use (not a loopback alias): the host
    name's address, else the source address of the default route, else the host name."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET)
    except OSError:
        infos = []
    for info in infos:
        addr = str(info[4][0])
        if not addr.startswith("127."):
            return addr
    # Connecting a UDP socket sends nothing; it only picks the route and so a source address.
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routable address will do
            addr = str(probe.getsockname()[0])
    except OSError:
        return name
    return addr if not addr.startswith(("127.", "0.")) else name


class Server:
    def __init__(self, workspace: Path, cfg: Config, opts: Options | None = None,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.workspace = workspace
        self.cfg = cfg
        self.opts = opts or Options()
        self.clock = clock
        self.code = secrets.token_hex(16)
        logprivacy.hide(self.code)  # never on a terminal or in a log (docs/security.md)
        self.session = secrets.token_hex(4)  # tags this session's lines in the shared log
        logprivacy.tag_session(self.session)
        p.use_extension()  # headers through the msgpack extension: same bytes, less CPU
        self.ctx = zmq.Context()
        self.transport = RouterTransport(self.ctx)
        # 0700: the private ipc socket. Local executors get its path on their command line,
        # which must stay shell-inert (supply.exec_words): a TMPDIR with spaces is passed over.
        tmp = tempfile.gettempdir()
        self.rundir = Path(tempfile.mkdtemp(prefix="spraycc-", dir=tmp if inert(tmp) else "/tmp"))
        self.server_file = str(workspace / serverfile.NAME)
        self.wrote_file = False
        self.file_watch: filewatch.FileWatch | None = None  # keeps the file in place
        self.file_checked = clock()
        self.stop_reason = ""
        self.exit_code = 0
        self.started = clock()
        self.started_at = time.time()  # wall clock, for the session's record
        self.idle_since = clock()
        self.last_status = 0.0
        self.last_done = 0
        self.rate_samples: deque[tuple[float, int]] = deque()  # (time, remote completions)
        # Task durations (docs/history.md): the queue ranks tasks by them (longest first), the
        # broker times stragglers by them, and every successful task updates them at once.
        self.history = History(default_directory())
        self.history_flushed = self.history_typical = clock()
        self.arrivals: ArrivalStore | None = None  # when long steps arrived (load_arrivals)
        self.broker = Broker(
            self.transport.send,
            self.code,
            queue=TaskQueue(lambda key, dependency: self.history.expected(key)),
            hooks=_SupplyHooks(self),
            local_slots=cfg.local_slots_for(os.cpu_count() or 1),
            release_delay=float(cfg.release_delay),
            runner_heartbeat=float(cfg.runner_heartbeat),
            max_attempts=cfg.max_attempts,
            straggler_factor=float(cfg.straggler_factor),
            straggler_min_seconds=float(cfg.straggler_min_seconds),
        )
        self.supply: Supply | None = None
        self.current: zmq.Frame | None = None  # the frame being handled (drain)
        self.exhausted = False  # no executor can be had: queued work is sent back
        self.tcp = ""
        self.ipc = ""
        # Security (docs/security.md): the user's key admits clients on the CURVE endpoint.
        self.refusals = auth.RefusalLog()
        auth.limit_refusal_logs()  # a flood of refusals must not become a flood of log writes
        self.zap: auth.ZapHandler | None = None
        self.watch: auth.FailureWatch | None = None
        self.serverkey = b""  # this session's CURVE public key (Z85)
        # Waiting runners by the fd of their connection, so a closed connection (the runner's
        # process ended) is noticed at once without heartbeats (broker.probe).
        self.runner_fds: dict[int, bytes] = {}
        self.closed: deque[bytes] = deque()  # runners whose connection closed: to probe
        self.recheck: deque[tuple[float, bytes]] = deque()  # (when, runner) to probe again

    # ------------------------------------------------------------------------- start-up

    def start(self) -> None:
        """Bind, claim the workspace (refusing a second live server), prepare executors."""
        self.fd_limit = raise_fd_limit()
        userkey, created = keys.ensure()
        if created:
            log.info("created the user key %s", keys.default_path())
        # The ipc endpoint is bound first, with the NULL mechanism: only this user can reach a
        # socket inside the 0700 run dir. Every endpoint bound after secure() is CURVE.
        self.ipc = self.transport.bind(f"ipc://{self.rundir}/s")
        public, secret = zmq.curve_keypair()  # per session: a stale client cannot talk to us
        self.serverkey = public
        self.zap = auth.ZapHandler(self.ctx, userkey.public, self.refusals)  # before the bind
        self.transport.secure(public, secret, domain=auth.DOMAIN)
        self.watch = auth.FailureWatch(self.transport.sock, self.refusals, self.on_closed)
        bind, callback = default_bind(self.cfg, self.opts)
        self.tcp = self.transport.bind(f"tcp://{bind}:0")
        port = self.tcp.rsplit(":", 1)[1]
        self.callme = f"{callback}:{port}"
        self.claim()
        log.info("session %s: workspace %s, pid %d on %s", self.session, self.workspace,
                 os.getpid(), os.uname().nodename)
        outer = filewatch.enclosing_server(str(self.workspace))
        if outer is not None and serverfile.alive(outer):
            log.warning("a server (pid %d on %s) serves the enclosing workspace %s: runners "
                        "below %s use this one instead (the nearest %s wins)", outer.pid,
                        outer.host, os.path.dirname(outer.path), self.workspace, serverfile.NAME)
        self.supply = Supply(
            self.make_pools(),
            callme=self.callme,
            code=self.code,
            logdir=self.rundir,
            limit=self.opts.cpus or self.cfg.max_count,
            pending_timeout=float(self.cfg.pending_timeout),
            release_delay=float(self.cfg.release_delay),
            extra_args=self.exec_args(),
            local_callme=self.ipc,
            local_args=self.exec_args(curve=False),
        )
        self.load_history()
        # Local executors start now, not with the first task: a build's first compiles
        # should not wait for interpreters to start (docs/usage.md).
        self.supply.reconcile(sum(pool.limit for pool in self.supply.pools if pool.local))
        for pool in self.supply.pools:
            if not pool.local and not pool.cancellable():
                log.warning("cannot tell which batch system the %s command submits to: set "
                            "`scheduler` or `cancel_cmd` in the config, or jobs still pending "
                            "when the server exits are not cancelled", pool.name)
            elif not pool.local and not pool.watchable():
                log.warning("no job status query for the %s command: set `status_cmd` in the "
                            "config, or jobs that die before connecting are noticed only "
                            "after pending_timeout", pool.name)
        if callback.startswith("127.") and any(not pool.local for pool in self.supply.pools):
            log.warning("executors are told to call back %s, a loopback address that other "
                        "hosts cannot reach: set callback_host (and bind_address)", callback)

    def load_history(self) -> None:
        """Read the task history. A problem is reported once and never stops the server."""
        try:
            problems = self.history.load()
        except Exception as exc:  # history only orders tasks: never fatal
            problems = [f"{self.history.directory}: cannot read the history: {exc}"]
        for problem in problems:
            log.warning("history: %s (ignored)", problem)
        self.broker.queue.unknown = self.history.typical()
        log.info("history: %d known steps in %s", len(self.history), self.history.directory)
        self.load_arrivals()

    def load_arrivals(self) -> None:
        """When this workspace's long steps arrived in its last builds, so the broker can
        hold executors for them (docs/history.md, "Long steps submitted last")."""
        self.arrivals = ArrivalStore(self.history.directory, str(self.workspace))
        recorded, problem = self.arrivals.load()
        if problem:
            log.warning("history: %s", problem)
        self.broker.holds = Holds(recorded, self.long_steps, self.history.typical)
        if recorded:
            log.info("history: %d long step(s) of this workspace with arrival times",
                     len(recorded))

    def long_steps(self, keys: Iterable[str]) -> set[str]:
        """The steps among `keys` the history knows to be long (spraycc.server.hold)."""
        return pick_long(self.history.expected, self.history.typical())(keys)

    def save_arrivals(self) -> None:
        """Write the long arrivals of finished builds (never fatal)."""
        holds = self.broker.holds
        finished = holds.take_finished() if holds is not None else None
        if holds is None or finished is None or self.arrivals is None:
            return
        try:
            self.arrivals.save(finished, holds.recorded)
        except OSError as exc:
            log.warning("history: cannot write %s: %s", self.arrivals.path, exc)

    def exec_args(self, curve: bool = True) -> list[str]:
        """The executor options appended after `exec --callme=... --launch=...`: all of them
        shell-inert (supply.exec_words): the session key as 64 hex digits, the tmpdir as
        validated by config, the wall time as a plain decimal number."""
        args = [f"--serverkey={z85.decode(self.serverkey).hex()}"] if curve else []
        if self.cfg.executor_tmpdir:
            args.append(f"--tmpdir={self.cfg.executor_tmpdir}")
        if self.cfg.executor_walltime:
            walltime = max(0.0, self.cfg.executor_walltime - self.cfg.walltime_margin)
            args.append(f"--walltime={walltime:.3f}".rstrip("0").rstrip("."))
        return args

    def make_pools(self) -> list[Pool]:
        """Local executors first (they start at once), then one pool per start command.

        Every cluster pool may grow to the whole limit (max_count or --cpus; the Supply caps
        their sum), so with --both the queue that starts jobs can take all of the load; the
        first wave (initial_count) is split between the commands."""
        cfg, cpus = self.cfg, os.cpu_count() or 1
        me = cfg.spraycc_cmd or spraycc_command()
        pools: list[Pool] = []
        cmds = []
        if cfg.start_cmd and not self.opts.alt:
            cmds.append(("start", cfg.start_cmd))
        if cfg.alt_start_cmd and (self.opts.alt or self.opts.both):
            cmds.append(("alt", cfg.alt_start_cmd))
        local = cfg.local_count_for(cpus)
        if self.opts.cpus and not cmds:
            local = self.opts.cpus
        if local:
            pools.append(Pool("local", me, local, True, scheduler="local"))
        limit = self.opts.cpus or cfg.max_count
        for i, (name, cmd) in enumerate(cmds):
            first = cfg.initial_count // len(cmds) + (1 if i < cfg.initial_count % len(cmds) else 0)
            pools.append(Pool(name, cmd, limit, False, first, cfg.keep_pending,
                              scheduler=resolve_scheduler(cfg.scheduler, cmd, os.environ),
                              cancel_cmd=cfg.cancel_cmd, status_cmd=cfg.status_cmd))
        return pools

    def claim(self) -> None:
        fields = {
            "version": str(p.VERSION),
            "pid": str(os.getpid()),
            "host": os.uname().nodename,
            "ipc": self.ipc,
            "tcp": f"tcp://{self.callme}",
            "code": self.code,
            "heartbeat": f"{float(self.cfg.runner_heartbeat):g}",
            "fallback": self.cfg.fallback,
            "serverkey": self.serverkey.decode(),
        }
        # What runners apply without reading TOML: the default time limit and the placement
        # rules (validated by config, encoded by rules for the runner's cheap parser).
        if self.cfg.task_timeout:
            fields["task_timeout"] = repr(float(self.cfg.task_timeout))
        # The input check (docs/usage.md, "Inputs are checked"): runners apply these.
        if not self.cfg.check_inputs:
            fields["check_inputs"] = "0"
        else:
            fields["readonly_dirs"] = ":".join(self.cfg.readonly_dirs)
            if self.cfg.stale_rerun != "local":
                fields["stale_rerun"] = f"{float(self.cfg.stale_delay):g}"
        fields.update(rules.to_fields(list(self.cfg.rule)))
        for _ in range(2):
            try:
                serverfile.create(self.server_file, fields)
                self.wrote_file = True
                self.file_watch = filewatch.FileWatch(self.server_file, fields, serverfile.alive)
                return
            except FileExistsError:
                self.check_existing()
            except OSError as exc:
                raise WorkspaceUnwritable(
                    f"cannot write {self.server_file}: {exc.strerror}; a server needs a "
                    "writable workspace root (runners find it by that file)") from None
        raise ServerExists(f"could not claim {self.server_file}")

    def check_existing(self) -> None:
        """A server file exists: refuse if its server lives, else remove the stale file."""
        try:
            info = serverfile.read(self.server_file)
        except (OSError, ValueError):
            info = None
        if info is not None and serverfile.alive(info):
            raise ServerExists(
                f"a server (pid {info.pid} on {info.host}) already serves {self.workspace}; "
                "stop it with `spraycc stop`"
            )
        log.warning("removing stale %s", self.server_file)
        try:
            os.unlink(self.server_file)
        except FileNotFoundError:
            pass

    # --------------------------------------------------------------------------- the loop

    def serve(self) -> int:
        """Run until idle shutdown, stop request or signal. Returns the exit code.

        While messages keep coming (busy), the loop does not wake for the monitor's events
        (one for every runner's exit): it reads them with the timers, at least every TICK, so
        a waiting runner that vanishes is still noticed within TICK. Idle, it wakes for them
        at once."""
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        busy_poller = zmq.Poller()
        busy_poller.register(self.transport.sock, zmq.POLLIN)
        busy_poller.register(wake_r, zmq.POLLIN)
        if self.zap is not None:
            busy_poller.register(self.zap.sock, zmq.POLLIN)
        idle_poller = zmq.Poller()
        for sock, flags in busy_poller.sockets:
            idle_poller.register(sock, flags)
        if self.watch is not None:
            idle_poller.register(self.watch.sock, zmq.POLLIN)
        busy_ms = max(1, int(TICK * 1000))
        next_tick = 0.0
        busy = False
        try:
            while not self.stop_reason:
                events = dict(busy_poller.poll(busy_ms) if busy
                              else idle_poller.poll(self.poll_timeout()))
                now = self.clock()
                tick = now >= next_tick or not events
                if wake_r in events:
                    _drain(wake_r)
                if self.zap is not None and self.zap.sock in events:
                    self.zap.handle()  # a handshake waits for this: answer before the tasks
                if self.watch is not None and (self.watch.sock in events or (busy and tick)):
                    self.watch.handle()
                busy = self.transport.sock in events
                # (A runner whose connection closed is probed once the socket is empty.)
                if (busy or self.closed) and self.drain() and self.closed:
                    self.check_closed()
                if tick:
                    next_tick = now + TICK
                    self.on_tick()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            os.close(wake_r)
            os.close(wake_w)
            self.shutdown()
        return self.exit_code

    def poll_timeout(self) -> int:
        """Milliseconds to wait for messages: a quarter heartbeat, or less when a hold for a
        long step ends sooner (its executors then take other work)."""
        timeout = p.HEARTBEAT_INTERVAL / 4
        holds = self.broker.holds
        deadline = holds.next_deadline() if holds is not None else None
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - self.clock()) + 0.001)
        return int(timeout * 1000)

    def on_signal(self, signum: int, frame: object) -> None:
        self.stop_reason = f"signal {signal.Signals(signum).name}"

    def drain(self, limit: int = 2000) -> bool:
        """Handle up to `limit` waiting messages (then let timers run). True when none is
        left."""
        for _ in range(limit):
            try:
                frames = self.transport.recv()
            except zmq.Again:
                return True
            if len(frames) < 2:
                continue
            self.current = frames[1]  # for the peer address of a connecting executor
            peer = frames[0].bytes
            known = peer in self.broker.runners
            self.broker.on_message(peer, frames[1].bytes, frames[2:])
            if not known and peer in self.broker.runners:
                self.note_runner(peer, frames[1])
        return False

    def note_runner(self, peer: bytes, frame: zmq.Frame) -> None:
        """Remember the connection of a runner that now waits."""
        try:
            fd = int(frame.get(zmq.SRCFD))
        except (zmq.ZMQError, AttributeError, ValueError):
            return  # a libzmq without it: the heartbeats still find gone runners
        before = self.runner_fds.get(fd)
        self.runner_fds[fd] = peer
        if before is not None and before != peer:
            # The fd was reused, so the connection of the runner it named has closed, perhaps
            # before its close was reported.
            self.closed.append(before)

    def on_closed(self, fd: int) -> None:
        """A connection closed: if a waiting runner's, it is checked once every message it
        sent before closing has been handled (a runner's DONE often comes just before its
        close is reported; see check_closed)."""
        peer = self.runner_fds.pop(fd, None)
        if peer is not None:
            self.closed.append(peer)

    def check_closed(self) -> None:
        """Probe the runners whose connection closed (called after a drain that emptied the
        socket, so their last messages are in); a live one is checked once more shortly, as
        libzmq may report a close just before the routing entry goes."""
        while self.closed:
            peer = self.closed.popleft()
            if self.broker.probe(peer):
                self.recheck.append((self.clock() + RECHECK, peer))

    def recheck_closed(self, now: float) -> None:
        while self.recheck and self.recheck[0][0] <= now:
            peer = self.recheck.popleft()[1]
            if self.drain():  # as in check_closed: its last messages first
                self.broker.probe(peer)
            else:
                self.closed.append(peer)

    def on_tick(self) -> None:
        now = self.clock()
        broker, supply = self.broker, self.supply
        assert supply is not None
        broker.tick()
        self.recheck_closed(now)
        supply.poll()
        if not broker.stopping:
            supply.reconcile(broker.demand)
        if len(broker.queue) and supply.exhausted:
            reason = "no executor could be started"
            errors = "; ".join(pool.last_error for pool in supply.pools if pool.last_error)
            if not self.exhausted:
                self.exhausted = True
                log.warning("%s: queued tasks go back to their runners to run locally", reason)
            broker.fail_queued(f"{reason} ({errors})" if errors else reason)
        elif self.exhausted and supply.connected:
            self.exhausted = False
            log.info("executors are connected again: tasks run remotely")
        self.sample_rate(now)
        self.report(now)
        if self.file_watch is not None and now - self.file_checked >= filewatch.CHECK_INTERVAL:
            self.file_checked = now
            replaced = self.file_watch.check()
            if replaced:
                log.warning("%s: stopping", replaced)
                self.stop_reason = replaced
                self.exit_code = 1
        if now - self.history_flushed >= HISTORY_FLUSH:
            self.history_flushed = now
            self.history.flush()
            self.save_arrivals()
            if now - self.history_typical >= HISTORY_TYPICAL:
                self.history_typical = now
                self.broker.queue.unknown = self.history.typical()
        # A draining server does not wait for executors still pending: they are released (or
        # cancelled) as they turn up, or at exit.
        if broker.busy or (supply.pending and not broker.stopping):
            self.idle_since = now
        elif broker.stopping:
            self.stop_reason = "stopped by request"
        elif now - self.idle_since >= float(self.cfg.idle_shutdown_after):
            self.stop_reason = f"idle for {float(self.cfg.idle_shutdown_after):g} s"

    def report(self, now: float) -> None:
        interval = float(self.cfg.status_interval)
        if not interval or now - self.last_status < interval:
            return
        c = self.broker.counters
        if not (self.broker.tasks or self.broker.local_holders) and c.done == self.last_done:
            return
        rate = (c.done + c.failed - self.last_done) / max(now - self.last_status, 1e-9)
        self.last_status, self.last_done = now, c.done + c.failed
        failing = "".join(f" | pool {pool.name} FAILING: {pool.failing}"
                          for pool in (self.supply.failing() if self.supply else []))
        log.info(
            "%d/%d done, %d running, %d queued, %d local | executors %d (+%d pending) | "
            "%.1f/s%s",
            c.done + c.failed, c.submitted, self.broker.running, len(self.broker.queue),
            len(self.broker.local_holders), len(self.broker.executors),
            self.supply.pending if self.supply else 0, rate, failing,
        )

    # ---------------------------------------------------------------------------- status

    RATE_WINDOW = 10.0  # seconds of completions behind the throughput figure

    def sample_rate(self, now: float) -> None:
        c = self.broker.counters
        samples = self.rate_samples
        if not samples or now - samples[-1][0] >= 1.0:
            samples.append((now, c.done + c.failed))
        while len(samples) > 2 and now - samples[1][0] >= self.RATE_WINDOW:
            samples.popleft()

    def rate(self, now: float) -> float:
        """Remote tasks finished per second over the last RATE_WINDOW seconds."""
        c = self.broker.counters
        if not self.rate_samples:
            return 0.0
        then, count = self.rate_samples[0]
        return (c.done + c.failed - count) / max(now - then, 1.0)

    def remaining(self, now: float) -> tuple[float | None, int, int]:
        """Estimated seconds until the queued and running tasks are done, from the queue's
        history estimates: (seconds, tasks with history, tasks). Tasks without history count
        as the queue's typical duration when it has one; with no history at all the answer is
        None. Tasks the build tool has not submitted yet are not known to the server."""
        broker = self.broker
        typical = float(getattr(broker.queue, "unknown", 0.0) or 0.0)
        work, longest, known = 0.0, 0.0, 0
        for task in broker.tasks.values():
            expected = broker.queue.estimate(task.key, bool(task.flags & p.FLAG_DEPENDENCY))
            if expected is None:
                expected = typical
            else:
                known += 1
            if task.current is not None:
                expected = max(0.0, expected - (now - task.current.started))
            work += expected
            longest = max(longest, expected)
        total = len(broker.tasks)
        if total and (not known or (known < total and not typical)):
            return None, known, total
        slots = max(1, len(broker.executors))
        return max(work / slots, longest), known, total

    def status_extra(self) -> dict[str, Any]:
        """The server's part of a status snapshot: executor pools, throughput, estimate."""
        now = self.clock()
        remaining, known, total = self.remaining(now)
        pools = []
        counters = self.supply.snapshot() if self.supply else {}
        for pool in self.supply.pools if self.supply else []:
            pools.append({
                "name": pool.name,
                "cmd": printable(pool.cmd),
                "limit": pool.limit,
                "running": pool.count("connected"),
                "pending": pool.count("pending"),
                "error": pool.last_error,
                "failing": pool.failing,
                # the supply's own counters: submitted, ever_connected, failed, forgotten,
                # cancelled, start latencies, peer addresses
                "counters": counters.get(pool.name, {}),
            })
        return {
            "pools": pools,
            "pending_executors": self.supply.pending if self.supply else 0,
            "rate": self.rate(now),
            "uptime": now - self.started,
            "remaining": remaining,
            "remaining_known": known,
            "remaining_tasks": total,
            "pid": os.getpid(),
            "workspace": printable(str(self.workspace)),
        }

    # --------------------------------------------------------------------------- exiting

    def shutdown(self) -> None:
        log.info("shutting down: %s", self.stop_reason or "exit")
        self.broker.cancel_all("the server is shutting down")
        for ex in list(self.broker.executors.values()):
            self.broker.release(ex, "the server is shutting down")
        if self.supply is not None:
            self.supply.shutdown()
        if self.wrote_file:
            serverfile.remove(self.server_file, self.code)
        self.close_auth()
        self.transport.close()
        self.ctx.term()
        for entry in self.rundir.iterdir():
            entry.unlink(missing_ok=True)
        self.rundir.rmdir()
        self.summary()
        self.close_history()

    def close_history(self) -> None:
        """Write what is left of the history and compact it (after everything else is done:
        compaction reads the whole directory)."""
        if self.broker.holds is not None:
            self.broker.holds.end_build()  # the history has this build's durations by now
            self.save_arrivals()
        try:
            problems = self.history.close()
        except Exception as exc:  # history only orders tasks: never fatal
            problems = [f"{self.history.directory}: cannot write the history: {exc}"]
        for problem in problems:
            log.warning("history: %s", problem)

    def close_auth(self) -> None:
        """Close the ZAP handler and the handshake watch (before the context terminates)."""
        if self.refusals.total:
            log.info("refused %d connection attempt(s) at the security handshake",
                     self.refusals.total)
        if self.watch is not None:
            self.watch.close()
            self.watch = None
        if self.zap is not None:
            self.zap.close()
            self.zap = None

    def summary(self) -> None:
        c = self.broker.counters
        now = self.clock()
        elapsed = now - self.started
        held, busy = self.broker.slot_seconds(now)
        log.info(
            "summary: %d remote tasks (%d failed, %d retried, %d handed back to run locally), "
            "%d local (%d failed), up %.0f s",
            c.done + c.failed, c.failed, c.retried, c.fallback,
            c.local_done + c.local_failed, c.local_failed, elapsed,
        )
        log.info(
            "summary: task time %.1f s remote + %.1f s local; executors held %.1f s, busy "
            "%.1f s = %s slot efficiency; %.1f MB returned",
            c.remote_seconds, c.local_seconds, held, busy,
            f"{100 * busy / held:.0f}%" if held > 0 else "n/a", c.bytes_out / 1e6,
        )
        if c.stale:
            log.info("summary: %d stale view(s) of inputs on executors, re-run: %s", c.stale,
                     ", ".join(f"{s['path']} ({s['count']})" for s in self.broker.stale_top()))
        for seconds, name, host in sorted(c.slowest, reverse=True)[:5]:
            log.info("  slowest: %.2f s %s on %s", seconds, name, host)
        for line in self.supply.summary() if self.supply else []:
            log.info("summary: executors of %s", line)
        self.keep_summary(now, held, busy)

    def keep_summary(self, now: float, held: float, busy: float) -> None:
        """The session's record for `spraycc stats` (never fatal)."""
        c = self.broker.counters
        pools = self.supply.snapshot() if self.supply else {}
        summary = {
            "session": self.session,
            "workspace": str(self.workspace),
            "host": os.uname().nodename,
            "pid": os.getpid(),
            "started": self.started_at,
            "ended": self.started_at + (now - self.started),
            "reason": self.stop_reason or "exit",
            "remote": {"done": c.done, "failed": c.failed, "retried": c.retried,
                       "handed_back": c.fallback, "cancelled": c.cancelled,
                       "seconds": c.remote_seconds},
            "local": {"done": c.local_done, "failed": c.local_failed,
                      "seconds": c.local_seconds},
            "executor_seconds": held,
            "busy_seconds": busy,
            "slot_efficiency": busy / held if held > 0 else None,
            "bytes_out": c.bytes_out,
            "stale": {"count": c.stale, "files": self.broker.stale_top()},
            "slowest": [{"name": name, "host": host, "seconds": seconds}
                        for seconds, name, host in sorted(c.slowest, reverse=True)[:5]],
            "pools": [{"name": name, **{k: v for k, v in counts.items()
                                        if k in sessions.POOL_FIELDS}}
                      for name, counts in pools.items()],
        }
        try:
            path = sessions.record(summary)
        except OSError as exc:
            log.warning("cannot keep the session summary for `spraycc stats`: %s", exc)
        else:
            log.debug("session summary kept in %s", path)


class _SupplyHooks(Hooks):
    def __init__(self, server: Server) -> None:
        self.server = server

    def executor_connected(self, launch: str, host: str) -> None:
        if self.server.supply is not None:
            frame = self.server.current
            try:  # the TCP peer's address: host names do not tell network namespaces apart
                address = frame.get("Peer-Address") if frame is not None else ""
            except zmq.ZMQError:
                address = ""
            self.server.supply.on_connected(launch, host, str(address or ""))

    def executor_gone(self, launch: str) -> None:
        if self.server.supply is not None:
            self.server.supply.on_gone(launch)

    def keep_idle(self, launch: str) -> bool:
        # Local executors stay for the server's life: the next build starts on warm ones.
        return self.on_host(launch)

    def on_host(self, launch: str) -> bool:
        found = self.server.supply.find(launch) if self.server.supply is not None else None
        return found is not None and found[0].local

    def task_succeeded(self, key: str, elapsed: float) -> None:
        if 0 <= elapsed < 1e7:  # counts at once for tasks queued later in this session
            self.server.history.record(key, elapsed)

    def snapshot_extra(self) -> dict[str, Any]:
        return self.server.status_extra()


def _duration(seconds: float) -> str:
    """8 h, 90 min, 45 s."""
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 60:.3g} min" if seconds >= 60 else f"{seconds:g} s"


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass


def run(workspace: Path, cfg: Config, opts: Options, announce: Callable[[str], None]) -> int:
    """Entry of `spraycc server`: start, announce, serve."""
    server = Server(workspace, cfg, opts)
    # From here on a signal asks for an orderly stop: if it comes before the loop runs, the
    # loop sees stop_reason at once and cleans up.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, server.on_signal)
    try:
        server.start()
    except BaseException:
        server.stop_reason = "start-up failed"
        server.close_auth()
        server.transport.close()
        server.ctx.term()
        for entry in server.rundir.iterdir():
            entry.unlink(missing_ok=True)
        server.rundir.rmdir()
        raise
    announce(f"server: {server.tcp} (local runners: {server.ipc})")
    announce(f"config: {cfg.source or 'defaults (no config file)'}; exits after "
             f"{_duration(float(cfg.idle_shutdown_after))} with nothing to do")
    assert server.supply is not None
    for pool in server.supply.pools:
        words = exec_words(server.callme, server.code, "ID", server.exec_args())
        announce(f"start command ({pool.name}, up to {pool.limit}): {pool.cmd} {' '.join(words)}")
    if server.fd_limit < 2 * (server.broker.local_slots + cfg.max_count) + 64:
        announce(f"warning: file-descriptor limit {server.fd_limit} may cap parallelism")
    return server.serve()
