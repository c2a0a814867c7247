"""Small process helpers shared by the harness modules: commands, polling, daemon PIDs."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from . import HarnessError, HarnessUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


def require_root(what: str) -> None:
    """Raise HarnessUnavailable unless we run as root (daemons, netns and apt need it)."""
    if os.geteuid() != 0:
        raise HarnessUnavailable(f"{what} needs root (running as uid {os.geteuid()})")


def require_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        raise HarnessUnavailable(f"missing tools: {', '.join(missing)}")


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; a failure raises HarnessError with the output."""
    try:
        cp = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            input=input,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{' '.join(argv)}: no answer within {timeout} s") from exc
    if check and cp.returncode != 0:
        raise HarnessError(
            f"{' '.join(argv)} failed (exit {cp.returncode}): "
            f"{cp.stderr.strip() or cp.stdout.strip()}"
        )
    return cp


def wait_for(
    predicate: Callable[[], T], timeout: float, *, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy; HarnessError after ``timeout`` s.

    Returns the truthy value, so callers can wait for *and* fetch a result.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports free on every address right now (the kernel picks them).

    For daemons whose port is written into their configuration: a fixed port may be taken by
    another service (or another cluster) on the machine.
    """
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("0.0.0.0", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: int, name: str | None = None) -> bool:
    """True if ``pid`` runs and is not a zombie; with ``name``, only if its command matches.

    The name check keeps us from signalling an unrelated process that reused a stale PID.
    Zombies count as dead: PID 1 of this machine may not reap the daemons it inherits.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    if state in ("Z", "X"):
        return False
    if name is None:
        return True
    argv0 = cmdline.split(b"\0", 1)[0].decode(errors="replace")
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return os.path.basename(argv0) == name or comm == name[:15]


def stop_pids(
    pids: dict[int, str], timeout: float = 20.0, signum: int | None = signal.SIGTERM
) -> None:
    """Send ``signum`` to each (pid -> expected name) still ours, wait, SIGKILL stragglers.

    ``signum=None`` only waits (then kills what is left after ``timeout``).
    """
    live = {p: n for p, n in pids.items() if pid_alive(p, n)}
    for pid in live:
        if signum is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
    try:
        wait_for(
            lambda: not any(pid_alive(p, n) for p, n in live.items()),
            timeout,
            what=f"daemons {sorted(live)} to exit",
        )
    except HarnessError:
        for pid, name in live.items():
            if pid_alive(pid, name):
                log.warning("%s (pid %d) still there after %s s: SIGKILL", name, pid, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: not any(pid_alive(p, n) for p, n in live.items()),
            5.0,
            what=f"daemons {sorted(live)} to die",
        )
