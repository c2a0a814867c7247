"""Test helpers: start a real `spraycc server` in a workspace and drive real commands.

Nothing here sleeps to synchronise: the server is ready when it has printed its address (read
from its stderr), and every wait has a deadline that fails the test instead of hanging.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spraycc.errors import PeerGone
from spraycc.wire import protocol as p

BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")


# The argument walk of the tests' `gcc -c SRC -o OUT` stand-ins (shell): sets $out and $src,
# and takes (and ignores) the -MD -MF FILE the runner adds for the input check
# (docs/usage.md, "Inputs are checked").
FAKE_CC_ARGS = r"""out=""; src=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift;; -MF) shift;; -c|-MD) ;; *) src="$1";; esac
  shift
done
"""

# A stand-in `gcc -c SRC -o OUT` that sleeps the seconds on SRC's first line (`// 0.4`) and
# writes OUT: the history tests' steps of known length.
SLEEPING_GCC = "#!/bin/sh\n" + FAKE_CC_ARGS + r"""read -r _ seconds < "$src"
sleep "$seconds"
printf 'object of %s\n' "$src" > "$out"
"""


def sleeping_steps(tmp_path: Path, workspace: Path, env: dict[str, str],
                   durations: dict[str, float]) -> dict[str, str]:
    """SLEEPING_GCC first on PATH and a source `NAME.c` in `workspace` per step of
    `durations`; returns the environment that finds it."""
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "gcc").write_text(SLEEPING_GCC)
    (fake / "gcc").chmod(0o755)
    for name, seconds in durations.items():
        (workspace / f"{name}.c").write_text(f"// {seconds}\nint {name};\n")
    return dict(env, PATH=f"{fake}:{env['PATH']}")


# A remote command that leaves a background child ignoring SIGTERM and a plain one, writes the
# three PIDs to main.pid, child.pid and child2.pid, then waits; `started` is its signal.
def process_group_cmd(started: str) -> str:
    return ("(trap '' TERM; exec sleep 300) & echo $! > child.pid; "
            f"sleep 300 & echo $! > child2.pid; echo $$ > main.pid; {started}; wait")


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
    """A `spraycc server` process we started, ended by its PID only.

    A thread reads its stderr from the start, so a server logging more than a pipe holds
    (64 KiB) never blocks in a write while a test builds; `lines` grows as it logs. Use it as
    a context manager (or `running_server`) so a failing test never leaves it running.
    """

    def __init__(
        self, workspace: Path | bytes, env: dict[str, str], args: list[str],
        spraycc: str = SPRAYCC,
    ) -> None:
        self.workspace = Path(os.fsdecode(workspace))
        self.proc = subprocess.Popen(
            [spraycc, "server", *args],
            cwd=workspace,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: list[str] = []
        self._eof = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        fd = self.proc.stderr.fileno()  # type: ignore[union-attr]
        buf = b""
        while chunk := os.read(fd, 65536):
            buf += chunk
            *done, buf = buf.split(b"\n")
            with self._cond:
                self.lines.extend(x.decode(errors="replace") for x in done)
                self._cond.notify_all()
        with self._cond:
            if buf:
                self.lines.append(buf.decode(errors="replace"))
            self._eof = True
            self._cond.notify_all()

    def __enter__(self) -> ServerProc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def wait_log(self, predicate: Callable[[str], object], timeout: float, what: str) -> str:
        """Wait until `predicate(everything logged so far)` is truthy; return that text.
        Fails (AssertionError) at the deadline or when the server exits first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = "\n".join(self.lines)
                if predicate(text):
                    return text
                if self._eof:
                    raise AssertionError(
                        f"server exited ({self.proc.wait()}) before {what}: {self.lines}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                         f"the server said: {self.lines}")
                self._cond.wait(left)

    def read_until(self, needle: str, timeout: float = 15.0) -> str:
        """Wait for a line of the server's stderr containing `needle`; return that line."""
        self.wait_log(lambda text: needle in text, timeout, f"the server to say {needle!r}")
        with self._cond:
            return next(line for line in self.lines if needle in line)

    def log(self) -> str:
        """What the server has logged so far (it may still be running)."""
        with self._cond:
            return "\n".join(self.lines)

    def collect(self, timeout: float = 60.0) -> str:
        """Everything the server wrote to stderr (call it after the server exited)."""
        self._reader.join(timeout)
        if self._reader.is_alive():
            raise AssertionError(f"the server's stderr stayed open {timeout} s: {self.lines}")
        if self.proc.stderr is not None and not self.proc.stderr.closed:
            self.proc.stderr.close()
        return self.log()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit within its deadline") from None

    def kill(self) -> str:
        """SIGKILL the server if it still runs (no goodbye), reap it and return what it wrote
        to stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self.collect()

    @property
    def server_file(self) -> Path:
        return self.workspace / ".spraycc_server"


@contextmanager
def running_server(
    workspace: Path | bytes, env: dict[str, str], *args: str, config: str | None = None,
    spraycc: str = SPRAYCC,
) -> Iterator[ServerProc]:
    """A live server in `workspace` (optionally with a `.spraycc` config), stopped after."""
    if config is not None:
        (Path(os.fsdecode(workspace)) / ".spraycc").write_text(config)
    srv = ServerProc(workspace, env, list(args), spraycc)
    try:
        srv.read_until("server: ")
        yield srv
    finally:
        try:
            srv.stop()
        finally:
            srv.kill()


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


def process_state(pid: int) -> str:
    """A process's state letter, or "" when it no longer exists (Z: it exited, unreaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def ancestors(pid: int) -> list[int]:
    """The parent, grandparent, ... of `pid` up to (not including) PID 1."""
    out = []
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
        out.append(pid)
    return out


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
