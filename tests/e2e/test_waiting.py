"""What waiting costs: local executors that start with the server, runners that wait without
waking, and a waiting runner whose process dies noticed from its connection within seconds
(its heartbeats come only every RUNNER_HEARTBEAT_INTERVAL)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import SPRAYCC, executor_pids, run, running_server, wait_for

from spraycc.wire import protocol as p

CONFIG = "idle_shutdown_after = 60\nlocal_count = 1\nstatus_interval = 0\n"


def status(workspace: Path, env: dict[str, str]) -> dict[str, object]:
    r = run([SPRAYCC, "status", "--json"], workspace, env, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def switches(pid: int) -> int:
    """The process's voluntary context switches: each wake-up from a blocking read is one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


@pytest.mark.timeout(60)
def test_local_executors_start_with_the_server(workspace: Path, env: dict[str, str]) -> None:
    config = "idle_shutdown_after = 60\nlocal_count = 2\nrelease_delay = 0.2\n"
    with running_server(workspace, env, config=config) as srv:
        wait_for(lambda: status(workspace, env).get("executors") == 2, 30,
                 "two executors connected before any task")
        pids = sorted(executor_pids(srv.proc.pid))
        assert len(pids) == 2
        time.sleep(0.5)  # measured: idle well past release_delay
        assert status(workspace, env).get("idle_executors") == 2  # kept, not released
        assert sorted(executor_pids(srv.proc.pid)) == pids


@pytest.mark.timeout(60)
def test_waiting_runner_sleeps_and_its_death_is_noticed(workspace: Path,
                                                        env: dict[str, str]) -> None:
    assert p.RUNNER_HEARTBEAT_INTERVAL >= 10  # else this test proves nothing
    marker = workspace / "started"
    procs: list[subprocess.Popen[bytes]] = []
    with running_server(workspace, env, config=CONFIG):
        try:
            for cmd in (f"touch {marker}; exec sleep 60", "exec sleep 60"):
                procs.append(subprocess.Popen(
                    [SPRAYCC, "run", "--remote", "sh", "-c", cmd], cwd=workspace, env=env,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
                if len(procs) == 1:
                    wait_for(marker.exists, 30, "the first step to run on the executor")
            wait_for(lambda: status(workspace, env).get("queued") == 1, 30,
                     "the second step queued")
            queued = procs[1]
            before = switches(queued.pid)
            time.sleep(2.5)  # a measurement window, not synchronisation
            assert switches(queued.pid) - before <= 1  # no wake-up every second
            queued.send_signal(signal.SIGKILL)  # no CANCEL: only its connection closes
            queued.wait(timeout=10)
            start = time.monotonic()
            wait_for(lambda: status(workspace, env).get("cancelled") == 1, 10,
                     "the server to drop the dead runner's task")
            assert time.monotonic() - start < p.RUNNER_HEARTBEAT_INTERVAL / 3
            assert status(workspace, env).get("queued") == 0
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
