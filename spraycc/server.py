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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import zmq

from spraycc import protocol as p
from spraycc import serverfile
from spraycc.broker import Broker, Hooks
from spraycc.cluster import Pool, Supply
from spraycc.config import Config
from spraycc.errors import ServerExists
from spraycc.taskqueue import TaskQueue
from spraycc.transport import RouterTransport

log = logging.getLogger(__name__)

FD_TARGET = 4096


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
    """(address to bind, address executors call back). Loopback for the local default."""
    if opts.loopback or not (cfg.start_cmd or cfg.alt_start_cmd):
        bind = cfg.bind_address or "127.0.0.1"
    else:
        bind = cfg.bind_address or "0.0.0.0"
    callback = cfg.callback_host or (bind if bind not in ("0.0.0.0", "*") else _host_address())
    return bind, callback


def _host_address() -> str:
    """An address of this host that other hosts can use (not a loopback alias)."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET)
    except OSError:
        return name
    for info in infos:
        addr = str(info[4][0])
        if not addr.startswith("127."):
            return addr
    return name


class Server:
    def __init__(self, workspace: Path, cfg: Config, opts: Options | None = None,
                 *, clock: Callable[[], float] = time.monotonic) -> None:
        self.workspace = workspace
        self.cfg = cfg
        self.opts = opts or Options()
        self.clock = clock
        self.code = secrets.token_hex(16)
        self.ctx = zmq.Context()
        self.transport = RouterTransport(self.ctx)
        self.rundir = Path(tempfile.mkdtemp(prefix="spraycc-"))  # 0700: private ipc socket
        self.server_file = str(workspace / serverfile.NAME)
        self.wrote_file = False
        self.stop_reason = ""
        self.started = clock()
        self.idle_since = clock()
        self.last_status = 0.0
        self.last_done = 0
        self.broker = Broker(
            self.transport.send,
            self.code,
            queue=TaskQueue(),
            hooks=_SupplyHooks(self),
            local_slots=cfg.local_slots_for(os.cpu_count() or 1),
            release_delay=float(cfg.release_delay),
            max_attempts=cfg.max_attempts,
        )
        self.supply: Supply | None = None
        self.tcp = ""
        self.ipc = ""

    # ------------------------------------------------------------------------- start-up

    def start(self) -> None:
        """Bind, claim the workspace (refusing a second live server), prepare executors."""
        self.fd_limit = raise_fd_limit()
        self.ipc = self.transport.bind(f"ipc://{self.rundir}/s")
        bind, callback = default_bind(self.cfg, self.opts)
        self.tcp = self.transport.bind(f"tcp://{bind}:0")
        port = self.tcp.rsplit(":", 1)[1]
        self.callme = f"{callback}:{port}"
        self.claim()
        self.supply = Supply(
            self.make_pools(),
            callme=self.callme,
            code=self.code,
            logdir=self.rundir,
            pending_timeout=float(self.cfg.pending_timeout),
            extra_args=self.exec_args(),
        )

    def exec_args(self) -> str:
        args = ""
        if self.cfg.executor_tmpdir:
            args += f" --tmpdir={shlex.quote(self.cfg.executor_tmpdir)}"
        if self.cfg.executor_walltime:
            walltime = max(0.0, self.cfg.executor_walltime - self.cfg.walltime_margin)
            args += f" --walltime={walltime:g}"
        return args

    def make_pools(self) -> list[Pool]:
        cfg, cpus = self.cfg, os.cpu_count() or 1
        me = cfg.spraycc_cmd or spraycc_command()
        pools: list[Pool] = []
        local = cfg.local_count_for(cpus)
        if local:
            pools.append(Pool("local", me, local, True))
        cmds = []
        if cfg.start_cmd and not self.opts.alt:
            cmds.append(("start", cfg.start_cmd))
        if cfg.alt_start_cmd and (self.opts.alt or self.opts.both):
            cmds.append(("alt", cfg.alt_start_cmd))
        limit = self.opts.cpus or cfg.max_count
        for i, (name, cmd) in enumerate(cmds):
            share = limit // len(cmds) + (1 if i < limit % len(cmds) else 0)
            pools.append(Pool(name, cmd, share, False, cfg.initial_count // len(cmds) or 1,
                              cfg.keep_pending))
        if self.opts.cpus and local and not cmds:
            pools[0].limit = self.opts.cpus
        return pools

    def claim(self) -> None:
        fields = {
            "version": str(p.VERSION),
            "pid": str(os.getpid()),
            "host": os.uname().nodename,
            "ipc": self.ipc,
            "tcp": f"tcp://{self.callme}",
            "code": self.code,
            "heartbeat": f"{p.HEARTBEAT_INTERVAL:g}",
            "fallback": self.cfg.fallback,
        }
        for _ in range(2):
            try:
                serverfile.create(self.server_file, fields)
                self.wrote_file = True
                return
            except FileExistsError:
                self.check_existing()
        raise ServerExists(f"could not claim {self.server_file}")

    def check_existing(self) -> None:
        """A server file exists: refuse if its server lives, else remove the stale file."""
        try:
            info = serverfile.read(self.server_file)
        except (OSError, ValueError):
            info = None
        if info is not None and _alive(info):
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
        """Run until idle shutdown, stop request or signal. Returns the exit code."""
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        poller = zmq.Poller()
        poller.register(self.transport.sock, zmq.POLLIN)
        poller.register(wake_r, zmq.POLLIN)
        try:
            while not self.stop_reason:
                events = dict(poller.poll(p.HEARTBEAT_INTERVAL / 4 * 1000))
                if wake_r in events:
                    _drain(wake_r)
                if self.transport.sock in events:
                    self.drain()
                self.on_tick()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            os.close(wake_r)
            os.close(wake_w)
            self.shutdown()
        return 0

    def on_signal(self, signum: int, frame: object) -> None:
        self.stop_reason = f"signal {signal.Signals(signum).name}"

    def drain(self, limit: int = 2000) -> None:
        """Handle up to `limit` waiting messages (then let timers run)."""
        for _ in range(limit):
            try:
                frames = self.transport.recv()
            except zmq.Again:
                return
            if len(frames) < 2:
                continue
            self.broker.on_message(frames[0].bytes, frames[1].bytes, frames[2:])

    def on_tick(self) -> None:
        now = self.clock()
        broker, supply = self.broker, self.supply
        assert supply is not None
        broker.tick()
        supply.poll()
        if not broker.stopping:
            supply.reconcile(broker.demand)
        if len(broker.queue) and supply.exhausted:
            reason = "no executor could be started"
            errors = "; ".join(pool.last_error for pool in supply.pools if pool.last_error)
            broker.fail_queued(f"{reason} ({errors})" if errors else reason)
        self.report(now)
        if broker.busy or supply.pending:
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
        log.info(
            "%d/%d done, %d running, %d queued, %d local | executors %d (+%d pending) | %.1f/s",
            c.done + c.failed, c.submitted, self.broker.running, len(self.broker.queue),
            len(self.broker.local_holders), len(self.broker.executors),
            self.supply.pending if self.supply else 0, rate,
        )

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
        self.transport.close()
        self.ctx.term()
        for entry in self.rundir.iterdir():
            entry.unlink(missing_ok=True)
        self.rundir.rmdir()
        self.summary()

    def summary(self) -> None:
        c = self.broker.counters
        elapsed = self.clock() - self.started
        log.info(
            "summary: %d remote tasks (%d failed, %d retried), %d local, %.1f s remote CPU, "
            "%.1f MB returned, up %.0f s",
            c.done + c.failed, c.failed, c.retried, c.local_done + c.local_failed,
            c.remote_seconds, c.bytes_out / 1e6, elapsed,
        )
        for seconds, name, host in sorted(c.slowest, reverse=True)[:5]:
            log.info("  slowest: %.2f s %s on %s", seconds, name, host)


class _SupplyHooks(Hooks):
    def __init__(self, server: Server) -> None:
        self.server = server

    def executor_connected(self, launch: str, host: str) -> None:
        if self.server.supply is not None:
            self.server.supply.on_connected(launch, host)

    def executor_gone(self, launch: str) -> None:
        if self.server.supply is not None:
            self.server.supply.on_gone(launch)


def _alive(info: serverfile.ServerInfo) -> bool:
    if info.host == os.uname().nodename:
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return True  # another host: we cannot tell, so do not steal the workspace


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
        server.transport.close()
        server.ctx.term()
        for entry in server.rundir.iterdir():
            entry.unlink(missing_ok=True)
        server.rundir.rmdir()
        raise
    announce(f"server: {server.tcp} (local runners: {server.ipc})")
    announce(f"config: {cfg.source or 'defaults (no config file)'}")
    assert server.supply is not None
    for pool in server.supply.pools:
        announce(f"start command ({pool.name}, up to {pool.limit}): {pool.cmd} exec "
                 f"--callme={server.callme} --code={server.code} --launch=ID")
    if server.fd_limit < 2 * (server.broker.local_slots + cfg.max_count) + 64:
        announce(f"warning: file-descriptor limit {server.fd_limit} may cap parallelism")
    return server.serve()
