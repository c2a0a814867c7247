"""End to end, a real server with one real local executor: a queued runner hands its connection
to the tiny waiter (spraycc/handover.py, spraycc/waiter.py) and takes it back.

One step holds the executor (it waits for a gate file); the step under test queues behind it.
SPRAYCC_HANDOVER_QUEUED=1 makes the queued runner hand over (the step that holds the executor,
told "0 queued", does not). runner_heartbeat = 0.5 s makes several heartbeat intervals pass
while it waits (the server pings runners at most once a second: with a shorter one any runner
would give up after its 5 silent intervals). Then: the result comes back (a real gcc compile,
byte for byte, under a file name that is not UTF-8), the server hands the step back for a local
run, the server is killed or hangs, or the runner gets SIGTERM or SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server, wait_for

HEARTBEAT = 0.5
CONFIG = ("idle_shutdown_after = 60\nlocal_count = 1\nstatus_interval = 0\nrelease_delay = 30\n"
          f"runner_heartbeat = {HEARTBEAT}\n")
MARKER = b"spraycc-waiting"  # the waiter's argv[1] (spraycc.handover.MARKER)
HOLD = "touch held; while [ ! -e gate ]; do sleep 0.05; done"
SOURCE = b'#include <stdio.h>\nint main(void) { puts("caf\\xe9"); return 0; }\n'
NAME = b"caf\xe9"  # not UTF-8


def status(workspace: Path, env: dict[str, str]) -> dict[str, object]:
    r = run([SPRAYCC, "status", "--json"], workspace, env, timeout=30)
    return json.loads(r.stdout) if r.returncode == 0 else {}


def cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def waiting(pid: int) -> bool:
    return MARKER in cmdline(pid)


@pytest.fixture
def hold_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "SPRAYCC_HANDOVER_QUEUED": "1"}


def start(argv: list[str | bytes], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def end(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def hold(workspace: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A step that occupies the only executor until `gate` exists; it never hands over."""
    wait_for(lambda: status(workspace, env).get("idle_executors") == 1, 30,
             "the executor to connect")
    holder = start([SPRAYCC, "run", "--remote", "sh", "-c", HOLD], workspace, env)
    wait_for((workspace / "held").exists, 30, "the holding step to run on the executor")
    assert not waiting(holder.pid)  # ACCEPTED said 0 queued: below the threshold
    return holder


def launcher(tmp_path: Path, env: dict[str, str]) -> str:
    masq = tmp_path / "masq"
    r = run([SPRAYCC, "init", "--masquerade", str(masq)], tmp_path, env)
    assert r.returncode == 0, r.stderr.decode()
    return str(masq / "spraycc-run")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("via", ["spraycc run", "launcher"])
def test_a_queued_compile_waits_in_the_waiter_and_writes_the_same_object(
        tmp_path: Path, workspace: Path, hold_env: dict[str, str], via: str) -> None:
    ws = os.fsencode(workspace)
    with open(ws + b"/" + NAME + b".c", "wb") as f:
        f.write(SOURCE)
    local = subprocess.run([b"gcc", b"-O2", b"-c", NAME + b".c", b"-o", b"local.o"], cwd=ws,
                           capture_output=True, timeout=60)
    assert local.returncode == 0, local.stderr
    runner = [SPRAYCC, "run"] if via == "spraycc run" else [launcher(tmp_path, hold_env)]
    with running_server(workspace, hold_env, config=CONFIG):
        holder = hold(workspace, hold_env)
        step = start([*runner, "-v", b"gcc", b"-O2", b"-c", NAME + b".c", b"-o", NAME + b".o"],
                     workspace, hold_env)
        try:
            wait_for(lambda: waiting(step.pid), 30, "the queued runner to become the waiter")
            first = status(workspace, hold_env)
            time.sleep(6 * HEARTBEAT)  # a window of heartbeat intervals, not synchronisation
            assert waiting(step.pid)  # still the waiter: heartbeats handled without the runner
            later = status(workspace, hold_env)
            assert later.get("queued") == first.get("queued") == 1, (first, later)  # kept its place
            assert later.get("cancelled") == 0
            (workspace / "gate").touch()
            _, err = step.communicate(timeout=60)
        finally:
            (workspace / "gate").touch()
            end(holder, step)
    assert step.returncode == 0, err.decode(errors="replace")
    assert b"waiting in a small process" in err
    assert b"ran on " in err  # remotely, not locally
    with open(ws + b"/" + NAME + b".o", "rb") as f:
        assert f.read() == (workspace / "local.o").read_bytes()


@pytest.mark.timeout(120)
def test_a_waiting_step_the_server_hands_back_runs_locally(
        workspace: Path, hold_env: dict[str, str]) -> None:
    with running_server(workspace, hold_env, config=CONFIG):
        holder = hold(workspace, hold_env)
        step = start([SPRAYCC, "run", "--remote", "sh", "-c", "ls -l /proc/$$/fd > fds; echo done"],
                     workspace, hold_env)
        try:
            wait_for(lambda: waiting(step.pid), 30, "the queued runner to become the waiter")
            r = run([SPRAYCC, "stop", "--now"], workspace, hold_env, timeout=60)
            assert r.returncode == 0, r.stderr.decode()
            out, err = step.communicate(timeout=60)
        finally:
            (workspace / "gate").touch()
            end(holder, step)
    assert step.returncode == 0, err.decode()
    assert out == b"done\n"
    assert b"running locally" in err
    # run here, with nothing of the hand-over left open: no socket, no state file
    fds = (workspace / "fds").read_text()
    assert "socket:" not in fds and "memfd:" not in fds, fds


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["killed", "hung"])
def test_a_server_lost_while_waiting_runs_the_step_locally(
        workspace: Path, hold_env: dict[str, str], how: str) -> None:
    with running_server(workspace, hold_env, config=CONFIG) as srv:
        holder = hold(workspace, hold_env)
        step = start([SPRAYCC, "run", "-v", "--remote", "sh", "-c", "echo here"],
                     workspace, hold_env)
        try:
            wait_for(lambda: waiting(step.pid), 30, "the queued runner to become the waiter")
            if how == "killed":
                srv.proc.kill()
            else:
                srv.proc.send_signal(signal.SIGSTOP)
            out, err = step.communicate(timeout=60)
        finally:
            (workspace / "gate").touch()
            if how == "hung":
                srv.proc.send_signal(signal.SIGCONT)
            end(holder, step)
    assert step.returncode == 0, err.decode()
    assert out == b"here\n"
    reason = b"the server stopped answering" if how == "hung" else b"lost the server"
    assert reason in err
    assert b"running locally" in err


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_waiting_cancels_the_task(
        workspace: Path, hold_env: dict[str, str], sig: signal.Signals) -> None:
    with running_server(workspace, hold_env, config=CONFIG):
        holder = hold(workspace, hold_env)
        step = start([SPRAYCC, "run", "--remote", "sh", "-c", "touch ran"], workspace, hold_env)
        try:
            wait_for(lambda: waiting(step.pid), 30, "the queued runner to become the waiter")
            step.send_signal(sig)
            step.communicate(timeout=30)
            assert step.returncode == 128 + sig
            wait_for(lambda: status(workspace, hold_env).get("cancelled") == 1, 30,
                     "the server to count the task cancelled")
            assert status(workspace, hold_env).get("queued") == 0
        finally:
            (workspace / "gate").touch()
            end(holder, step)
    assert not (workspace / "ran").exists()


@pytest.mark.timeout(120)
def test_no_hand_over_below_the_threshold(workspace: Path, env: dict[str, str]) -> None:
    """The default threshold: one queued step stays a full runner (no second interpreter)."""
    with running_server(workspace, env, config=CONFIG):
        holder = hold(workspace, env)
        step = start([SPRAYCC, "run", "-v", "--remote", "sh", "-c", "echo ok"], workspace, env)
        try:
            wait_for(lambda: status(workspace, env).get("queued") == 1, 30, "the step queued")
            assert not waiting(step.pid)
            (workspace / "gate").touch()
            out, err = step.communicate(timeout=60)
        finally:
            (workspace / "gate").touch()
            end(holder, step)
    assert step.returncode == 0, err.decode()
    assert out == b"ok\n"
    assert b"waiting in a small process" not in err
