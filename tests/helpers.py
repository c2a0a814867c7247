"""Test helpers: start a real `spraycc server` in a workspace and drive real commands.

Nothing here sleeps to synchronise: the server is ready when it has printed its address (read
from its stderr), and every wait has a deadline that fails the test instead of hanging.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spraycc import protocol as p
from spraycc.errors import PeerGone

BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")


def with_packages(modules: set[str]) -> set[str]:
    """`modules` and the packages they are in (importing one loads its package's __init__)."""
    out = set(modules)
    for name in modules:
        while "." in name:
            name = name.rpartition(".")[0]
            out.add(name)
    return out


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02
) -> object:
    """Poll `predicate` until it is truthy; fail (AssertionError) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def base_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An environment isolated from the user's own spraycc files."""
    env = dict(os.environ)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    (home / ".run").mkdir(mode=0o700, exist_ok=True)
    env.update(
        HOME=str(home),
        SPRAYCC_HISTORY=str(home / "history"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".state"),
        XDG_DATA_HOME=str(home / ".data"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(home / ".run"),  # the runners' once-per-build stamps
        PATH=f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}",
    )
    env.pop("SPRAYCC_CONFIG", None)
    env.pop("SPRAYCC_FALLBACK", None)
    env.pop("SPRAYCC_VERBOSE", None)
    env.update(extra)
    return env


class ServerProc:
    """A `spraycc server` process we started, ended by its PID only."""

    def __init__(self, workspace: Path, env: dict[str, str], args: list[str]) -> None:
        self.workspace = workspace
        self.proc = subprocess.Popen(
            [SPRAYCC, "server", *args],
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self._buf = b""

    def read_until(self, needle: str, timeout: float = 15.0) -> str:
        """Read the server's stderr until a line containing `needle`; return that line."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stderr.fileno()  # type: ignore[union-attr]
        while True:
            for line in self.lines:
                if needle in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server never said {needle!r}; it said: {self.lines}")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(
                    f"server exited ({self.proc.wait()}) before saying {needle!r}: {self.lines}"
                )
            self._buf += chunk
            *done, self._buf = self._buf.split(b"\n")
            self.lines.extend(x.decode(errors="replace") for x in done)

    def collect(self) -> str:
        """Everything the server wrote to stderr (after it exited)."""
        stderr = self.proc.stderr
        if stderr is not None and not stderr.closed:
            rest = stderr.read()
            stderr.close()
            self.lines.extend((self._buf + rest).decode(errors="replace").splitlines())
            self._buf = b""
        return "\n".join(self.lines)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit within its deadline") from None
        finally:
            if self.proc.stdout:
                self.proc.stdout.close()

    def kill(self) -> str:
        """SIGKILL the server if it still runs (no goodbye), reap it, close its pipes and
        return what it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.collect()

    @property
    def server_file(self) -> Path:
        return self.workspace / ".spraycc_server"


@contextmanager
def running_server(
    workspace: Path, env: dict[str, str], *args: str, config: str | None = None
) -> Iterator[ServerProc]:
    """A live server in `workspace` (optionally with a `.spraycc` config), stopped after."""
    if config is not None:
        (workspace / ".spraycc").write_text(config)
    srv = ServerProc(workspace, env, list(args))
    try:
        srv.read_until("server: ")
        yield srv
    finally:
        srv.stop()
        srv.collect()


def run(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 120, **kw: object
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw
    )  # type: ignore[call-overload]


def snapshot(
    root: Path, *, skip: Callable[[Path], bool] = lambda p: False
) -> dict[str, tuple[bytes, int]]:
    """Every regular file below `root`: relative path -> (bytes, mode)."""
    out: dict[str, tuple[bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not skip(path):
            out[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mode & 0o7777)
    return out


# ------------------------------------------------------------- processes below our server

def children(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc; we only ever look below our own server)."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out.extend(int(x) for x in (task / "children").read_text().split())
    except OSError:  # the process (or one of its threads) exited while we looked
        pass
    return out


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def executor_pids(server_pid: int) -> list[int]:
    pids = []
    for pid in descendants(server_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"exec" in cmd and any(a.startswith(b"--callme=") for a in cmd):
            pids.append(pid)
    return pids


# --------------------------------------------------------- the broker without sockets

class Net:
    """Records what the broker sends; peers in `gone` raise PeerGone like ROUTER_MANDATORY."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list]] = []
        self.gone: set[bytes] = set()
        self.now = 100.0

    def send(self, peer: bytes, frames) -> None:
        if peer in self.gone:
            raise PeerGone(peer)
        self.sent.append((peer, list(frames)))

    def clock(self) -> float:
        return self.now

    def to(self, peer: bytes) -> list[p.Message]:
        """Messages sent to `peer`, heartbeats left out."""
        return [p.decode(f[0]) for f in self.frames_to(peer)]

    def frames_to(self, peer: bytes) -> list[list]:
        beat = p.encode(p.Heartbeat())
        return [f for who, f in self.sent if who == peer and f[0] != beat]
