"""End to end, a real server with real local executors: one side of a running step goes away.

* The server is killed (SIGKILL: no goodbye) or hangs (SIGSTOP) while a step runs remotely:
  the runner notices (the connection closes, or the heartbeats stop) and runs the step here,
  once, saying why (README.md: "If no server is running (or it goes away), the build says so
  ... and runs its steps locally"); the executor, left without its server, ends the remote
  attempt, which never finishes.
* The runner is SIGKILLed (no Cancel sent): the server sees it gone and the executor kills the
  whole process group of its command, even a child that ignores SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from helpers import (
    SPRAYCC,
    ancestors,
    process_group_cmd,
    process_state,
    running_server,
    wait_for,
)

FAST = ("idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 1\nlocal_count = 1\n"
        "runner_heartbeat = 1\n")
# Heartbeats every 1 s (runner_heartbeat for the runner), a peer silent for 5 of them is dead
# (spraycc/wire/protocol.py): the runner and the executor notice a hung server within ~6 s;
# 30 s leaves room on a loaded machine.
NOTICE = 30.0


def gone(pid: int) -> bool:
    return process_state(pid) in ("", "Z")


# The step: note where it runs (one line per start), wait for the gate, note its end.
STEP = ("echo $$ >> starts; while [ ! -e gate ]; do sleep 0.05; done; "
        "echo $$ >> ends; echo the step output")


@pytest.mark.timeout(90)
@pytest.mark.parametrize("how", ["killed", "hung"])
def test_a_server_lost_mid_step_runs_it_locally_once(
        workspace: Path, env: dict[str, str], how: str) -> None:
    starts, ends = workspace / "starts", workspace / "ends"
    with running_server(workspace, env, config=FAST) as srv:
        runner = subprocess.Popen([SPRAYCC, "run", "-v", "--remote", "sh", "-c", STEP],
                                  cwd=workspace, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: starts.exists() and starts.read_text().endswith("\n"), 30,
                     "the remote attempt to start")
            remote = int(starts.read_text())
            assert srv.proc.pid in ancestors(remote)  # under the server's executor
            if how == "killed":
                srv.proc.kill()
            else:
                srv.proc.send_signal(signal.SIGSTOP)
            # the runner starts the step here: a second line, from a process of its own
            wait_for(lambda: len(starts.read_text().split()) == 2, NOTICE,
                     "the runner to run the step locally")
            local = int(starts.read_text().split()[1])
            # the runner itself (it execs the step when no server is left) or its child
            assert local == runner.pid or runner.pid in ancestors(local)
            wait_for(lambda: gone(remote), NOTICE, "the executor to end the remote attempt")
            (workspace / "gate").touch()
            out, err = runner.communicate(timeout=30)
        finally:
            (workspace / "gate").touch()
            if runner.poll() is None:
                runner.kill()
                runner.communicate()
            if how == "hung":
                srv.proc.send_signal(signal.SIGCONT)
    assert runner.returncode == 0, err.decode()
    assert out == b"the step output\n"  # once: the lost attempt printed nothing
    assert ends.read_text().split() == [str(local)]  # finished once, here
    said = err.decode()
    why = "lost the server" if how == "killed" else "the server stopped answering"
    assert f"spraycc: {why}" in said and said.count("running locally") == 1, said


@pytest.mark.timeout(60)
def test_a_sigkilled_runner_has_its_remote_process_group_killed(
        workspace: Path, env: dict[str, str]) -> None:
    cmd = process_group_cmd("touch started")
    with running_server(workspace, env, config=FAST) as srv:
        runner = subprocess.Popen([SPRAYCC, "run", "--remote", "sh", "-c", cmd], cwd=workspace,
                                  env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            wait_for((workspace / "started").exists, 30, "the remote command to start")
            pids = [int((workspace / f).read_text()) for f in
                    ("main.pid", "child.pid", "child2.pid")]
            assert all(srv.proc.pid in ancestors(pid) for pid in pids)
            runner.kill()  # SIGKILL: no Cancel, the server must find out by itself
            assert runner.wait(timeout=10) == -signal.SIGKILL
            wait_for(lambda: all(gone(pid) for pid in pids), NOTICE,
                     "every process of the remote command to be gone")
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
    assert "is gone" in srv.collect()
