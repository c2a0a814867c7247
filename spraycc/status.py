"""`spraycc status` and `spraycc stop`: a small client of the workspace's server.

It finds `.spraycc_server` like a runner does (walking up the real directory tree), connects a
pyzmq DEALER to the server's private ipc endpoint when on the same host (else its tcp address)
and sends STATUS or STOP with the session's access code. The server answers STATUS with a
SNAPSHOT (frame 1: a msgpack map built by `Broker.snapshot` plus the server's
`status_extra`), and STOP with DISCONNECT. This module turns snapshots into text (a `top`-like
screen redrawn with plain ANSI codes) or JSON; it never prints by itself: the CLI passes the
stream to write to. Expected failures raise `SprayError` subclasses with a one-line message.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import msgpack
import zmq

from spraycc.errors import ProtocolError, Refused, ServerUnavailable
from spraycc.net import transport
from spraycc.wire import protocol as p
from spraycc.wire import serverfile

if TYPE_CHECKING:
    from spraycc.net import auth

TIMEOUT = 5.0  # seconds to wait for an answer before calling the server unreachable
CSI = "\x1b["


class Connection:
    """A DEALER connected to one server; `ask` sends one request and waits for the reply.

    Over tcp (another host) the server speaks CURVE: we present the user's key pair and the
    session key from the server file, and watch the socket's monitor, since a refused
    handshake never shows on the socket itself (see `auth`)."""

    def __init__(self, info: serverfile.ServerInfo, timeout: float = TIMEOUT) -> None:
        self.info = info
        self.timeout = timeout
        self.endpoint = endpoint(info)
        self.ctx = zmq.Context()
        self.curve: auth.CurveClient | None = None
        serverkey = info.get("serverkey")
        if self.endpoint.startswith("tcp://") and serverkey:
            from spraycc.net import auth
            from spraycc.wire import keys

            try:
                self.curve = auth.CurveClient(self.ctx, self.endpoint,
                                              serverkey=serverkey.encode(), keypair=keys.load())
                self.sock = self.curve.sock
            except BaseException:
                self.ctx.destroy(linger=0)
                raise
        else:
            self.sock = transport.dealer(self.ctx, self.endpoint)

    def ask(self, msg: p.Message) -> tuple[p.Message, list[bytes]]:
        self.sock.send(p.encode(msg))
        deadline = time.monotonic() + self.timeout
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        if self.curve is not None:
            poller.register(self.curve.monitor, zmq.POLLIN)
        while True:
            left = deadline - time.monotonic()
            events = dict(poller.poll(int(left * 1000))) if left > 0 else {}
            if not events:
                raise ServerUnavailable(unreachable(self.info, self.endpoint, self.timeout))
            if self.curve is not None and self.curve.monitor in events:
                try:
                    self.curve.check()
                except Refused as exc:
                    raise Refused(f"{self.endpoint}: {exc}") from None
            if self.sock not in events:
                continue
            frames = self.sock.recv_multipart()
            try:
                reply = p.decode(frames[0])
            except ProtocolError:
                continue
            if isinstance(reply, p.Refuse):
                raise Refused(f"the server refused us: {reply.reason}")
            if isinstance(reply, p.Heartbeat):
                continue
            return reply, frames[1:]

    def snapshot(self) -> dict[str, Any]:
        reply, rest = self.ask(p.Status(self.info.code))
        if not isinstance(reply, p.Snapshot) or not rest:
            raise ServerUnavailable(f"unexpected answer {type(reply).__name__} to STATUS")
        data = msgpack.unpackb(rest[0], raw=False)
        if not isinstance(data, dict):
            raise ServerUnavailable("the server sent a malformed snapshot")
        return data

    def close(self) -> None:
        if self.curve is not None:
            self.sock.disable_monitor()
            self.curve.close()
        else:
            self.sock.close(0)
        # destroy, not term: term() blocks while any socket of the context is open, and a
        # status view must end the moment its server has gone.
        self.ctx.destroy(linger=0)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def locate(cwd: str) -> serverfile.ServerInfo:
    """The server of the workspace containing `cwd`, or ServerUnavailable saying what to do."""
    path = serverfile.find(cwd)
    if path is None:
        raise ServerUnavailable(
            f"no server ({serverfile.NAME} not found in {cwd} or above); "
            "start one with `spraycc server` in the workspace root")
    try:
        info = serverfile.read(path)
    except (OSError, ValueError) as exc:
        raise ServerUnavailable(f"cannot read {path}: {exc}") from None
    if not serverfile.alive(info):
        raise ServerUnavailable(
            f"{path} is stale: server pid {info.pid} is not running on {info.host}; "
            f"start one with `spraycc server` in {os.path.dirname(path)}")
    return info


def endpoint(info: serverfile.ServerInfo) -> str:
    """The first of `serverfile.endpoints` that pyzmq can use: an ipc socket whose file is gone
    would only make it wait (it reconnects silently), so that one is skipped."""
    for where in serverfile.endpoints(info):
        if not where.startswith("ipc://") or os.path.exists(where.removeprefix("ipc://")):
            return where
    raise ServerUnavailable(f"{info.path} names no address reachable from this host")


def unreachable(info: serverfile.ServerInfo, where: str, timeout: float) -> str:
    return (f"the server of {os.path.dirname(info.path)} (pid {info.pid} on {info.host}) did "
            f"not answer on {where} within {timeout:g} s; if it is gone, remove {info.path}")


# ------------------------------------------------------------------------------ rendering

def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def remaining_text(snap: dict[str, Any]) -> str:
    seconds = snap.get("remaining")
    tasks = int(snap.get("remaining_tasks", 0) or 0)
    known = int(snap.get("remaining_known", 0) or 0)
    if not tasks:
        return "nothing in flight"
    if seconds is None:
        return f"unknown (history knows {known} of the {tasks} tasks in flight)"
    text = f"~{duration(float(seconds))} for the {tasks} tasks in flight"
    if known < tasks:
        text += f" ({tasks - known} without history counted as typical)"
    return text


def render(snap: dict[str, Any], width: int = 100, rows: int = 40) -> list[str]:
    """The status screen as lines (no ANSI codes), each at most `width` characters."""
    g = snap.get
    head = (f"spraycc status  {g('workspace', '?')}  (server pid {g('pid', '?')}, up "
            f"{duration(float(g('uptime', 0.0)))})")
    if g("stopping"):
        head += "  STOPPING"
    held, busy = float(g("executor_seconds", 0.0)), float(g("busy_seconds", 0.0))
    lines = [
        head,
        "",
        f"tasks      submitted {g('submitted', 0)}  queued {g('queued', 0)}  running "
        f"{g('running', 0)}  done {g('done', 0)}  failed {g('failed', 0)}  retried "
        f"{g('retried', 0)}  cancelled {g('cancelled', 0)}  handed back {g('fallback', 0)}",
        f"local      done {g('local_done', 0)}  failed {g('local_failed', 0)}  running "
        f"{g('local_running', 0)}  waiting {g('local_waiting', 0)}",
        *([f"stale      {g('stale')} executor view(s) of inputs, re-run: " + ", ".join(
            f"{f['path']} ({f['count']})" for f in g("stale_files", []))] if g("stale") else []),
        f"throughput {float(g('rate', 0.0)):.1f} tasks/s   returned "
        f"{size(float(g('bytes_out', 0)))}   slot efficiency "
        f"{f'{100 * busy / held:.0f}%' if held > 0 else 'n/a'}",
        f"remaining  {remaining_text(snap)}",
        f"executors  {g('executors', 0)} connected ({g('idle_executors', 0)} idle), "
        f"{g('pending_executors', 0)} pending",
    ]
    for pool in g("pools", []) or []:
        failed = (pool.get("counters") or {}).get("failed", 0)
        line = (f"  {pool.get('name', '?'):<8} running {pool.get('running', 0):>4}  pending "
                f"{pool.get('pending', 0):>4}  limit {pool.get('limit', 0):>4}  failed "
                f"{failed:>3}  {pool.get('cmd', '')}")
        lines.append(line)
        if pool.get("failing"):
            lines.append(f"           FAILING: {pool['failing']}")
        elif pool.get("error"):
            lines.append(f"           last error: {pool['error']}")
    running = g("longest_running", []) or []
    lines += ["", f"longest running ({len(running)} shown of {g('running', 0)})"]
    room = max(1, rows - len(lines) - 1)
    for task in running[:room]:
        elapsed = duration(float(task.get("elapsed", 0.0)))
        lines.append(f"  {elapsed:>9}  {task.get('host', '?'):<16}  {task.get('name', '')}")
    return [line[:width] for line in lines]


def as_json(snap: dict[str, Any]) -> str:
    return json.dumps(snap, indent=2, sort_keys=True)


# ------------------------------------------------------------------------------ commands

def once(cwd: str, out: TextIO, *, json_out: bool, width: int, timeout: float = TIMEOUT) -> int:
    """One snapshot, as text or JSON."""
    with Connection(locate(cwd), timeout) as conn:
        snap = conn.snapshot()
    if json_out:
        out.write(as_json(snap) + "\n")
    else:
        out.write("\n".join(render(snap, width, rows=1000)) + "\n")
    return 0


def live(
    cwd: str,
    out: TextIO,
    *,
    interval: float = 1.0,
    size_of: Callable[[], tuple[int, int]] = lambda: (100, 40),
    ansi: bool = True,
    timeout: float = TIMEOUT,
) -> int:
    """Redraw the status every `interval` seconds until Ctrl-C or the server exits."""
    info = locate(cwd)
    first = True
    with Connection(info, timeout) as conn:
        try:
            if ansi:
                out.write(f"{CSI}?25l{CSI}2J")  # hide the cursor, clear once
            while True:
                if not os.path.exists(info.path):  # removed by the server as it exits
                    out.write("spraycc: the server has exited\n")
                    return 0
                try:
                    snap = conn.snapshot()
                except ServerUnavailable:
                    if not os.path.exists(info.path):
                        out.write("spraycc: the server has exited\n")
                        return 0
                    raise
                width, rows = size_of()
                lines = render(snap, width, rows)
                if ansi:
                    # Home, rewrite each line clearing its rest, clear below: no flicker.
                    out.write(f"{CSI}H" + "".join(f"{line}{CSI}K\n" for line in lines)
                              + f"{CSI}J")
                else:
                    out.write(("" if first else "\n") + "\n".join(lines) + "\n")
                out.flush()
                first = False
                time.sleep(interval)  # pacing of a display, not synchronisation
        except KeyboardInterrupt:
            return 0
        finally:
            if ansi:
                out.write(f"{CSI}?25h")
                out.flush()


def stop(cwd: str, *, now: bool, wait: bool, say: Callable[[str], None],
         timeout: float = TIMEOUT, poll: float = 0.1) -> int:
    """Ask the server to stop (drain, or `now`), then optionally wait until it has exited."""
    info = locate(cwd)
    with Connection(info, timeout) as conn:
        snap = conn.snapshot()
        reply, _ = conn.ask(p.Stop(info.code, now))
    if not isinstance(reply, p.Disconnect):
        raise ServerUnavailable(f"unexpected answer {type(reply).__name__} to STOP")
    busy = int(snap.get("running", 0)) + int(snap.get("queued", 0))
    if now:
        say(f"stopping the server (pid {info.pid}) now: {busy} remote tasks go back to their "
            "runners to run locally")
    else:
        say(f"stopping the server (pid {info.pid}) after its {busy} queued and running tasks")
    if not wait:
        return 0
    while _running(info):
        time.sleep(poll)  # the server is another process: its exit is all we can watch
    say("the server has exited")
    return 0


def _running(info: serverfile.ServerInfo) -> bool:
    """Whether the server is still there: its PID on this host, else its server file."""
    if info.host == os.uname().nodename and info.pid > 0:
        return serverfile.alive(info)
    try:
        return serverfile.read(info.path).code == info.code
    except (OSError, ValueError):
        return False
