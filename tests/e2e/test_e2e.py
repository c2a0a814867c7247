"""End to end: the real CLI, a real server with local executors, real gcc/g++ and make."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import copy_demo
from helpers import (
    SPRAYCC,
    ServerProc,
    ancestors,
    children,
    executor_pids,
    process_state,
    run,
    running_server,
    snapshot,
    wait_for,
)

FAST = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 1\n"


def redispatched(log: str, victim_pid: int) -> list[tuple[str, str]]:
    """(task, executor) of every attempt 2 the server handed out after the executor with PID
    `victim_pid` was lost: each must have been re-queued and sent to another executor. The
    server logs both with -v (debug logging)."""
    victim = re.search(rf"executor (\S+) connected from \S+ \(pid {victim_pid}\)", log)
    assert victim, f"no executor with pid {victim_pid} in the log:\n{log}"
    requeued = re.findall(r"task (\d+) \(.*?\) re-queued as attempt 2: ", log)
    assert requeued, log
    out = []
    for task in requeued:
        sent = re.findall(rf"task {task} \(.*?\) attempt 2 to executor (\S+) on ", log)
        assert len(sent) == 1, (task, sent, log)
        assert sent[0] != victim.group(1), f"attempt 2 of task {task} went to the dead executor"
        out.append((task, sent[0]))
    return out


def object_files(build: Path) -> dict[str, tuple[bytes, int]]:
    return snapshot(build, skip=lambda p: ".spraycc-tmp" in p.name)


@pytest.mark.timeout(300)
def test_make_j16_demo_is_identical_to_local_build(tmp_path: Path, env: dict[str, str]) -> None:
    plain = copy_demo(tmp_path / "plain")
    spray = copy_demo(tmp_path / "spray")
    r = run(["make", "-s", "-j4"], plain, env)
    assert r.returncode == 0, r.stderr.decode()
    with running_server(spray, env, config=FAST) as srv:
        r = run(["make", "-j16", "LAUNCHER=spraycc run"], spray, env, timeout=280)
        assert r.returncode == 0, r.stderr.decode()
        assert srv.server_file.exists()
    log = srv.collect()
    assert not srv.server_file.exists(), "the server file must be removed on SIGTERM"
    want = object_files(plain / "build")
    got = object_files(spray / "build")
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs from the local build"
    assert sum(n.endswith(".o") for n in want) >= 40 and any(n.endswith(".d") for n in want)
    out = subprocess.run([str(spray / "build" / "demo")], capture_output=True, check=True)
    assert b"checks passed" in out.stdout
    assert "remote tasks" in log  # the summary at exit


@pytest.mark.timeout(120)
def test_failing_compile_output_and_status_are_exact(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "bad.c").write_text(
        '#include <stdio.h>\nint f(void) { return "x"; }\n#warning "careful"\n'
        "int g(void) { return nosuch; }\n"
    )
    (workspace / "good.c").write_text('#warning "only a warning"\nint ok;\n')
    local = run(["gcc", "-Wall", "-c", "bad.c", "-o", "bad.o"], workspace, env)
    local_good = run(["gcc", "-c", "good.c", "-o", "good.o"], workspace, env)
    assert local.returncode != 0 and local_good.returncode == 0
    (workspace / "good.o").rename(workspace / "good.local.o")
    with running_server(workspace, env, config=FAST):
        remote = run([SPRAYCC, "run", "gcc", "-Wall", "-c", "bad.c", "-o", "bad.o"], workspace, env)
        remote_good = run(
            [SPRAYCC, "run", "-v", "gcc", "-c", "good.c", "-o", "good.o"], workspace, env
        )
    assert (remote.returncode, remote.stdout, remote.stderr) == (
        local.returncode,
        local.stdout,
        local.stderr,
    )
    assert not (workspace / "bad.o").exists()
    assert remote_good.returncode == 0
    assert local_good.stderr in remote_good.stderr  # -v adds spraycc: lines, nothing else
    assert b"spraycc: remote" in remote_good.stderr and b"ran on" in remote_good.stderr
    assert (workspace / "good.o").read_bytes() == (workspace / "good.local.o").read_bytes()


@pytest.mark.timeout(300)
def test_kill_9_of_a_busy_executor_mid_build(tmp_path: Path, env: dict[str, str]) -> None:
    plain = copy_demo(tmp_path / "plain")
    spray = copy_demo(tmp_path / "spray")
    assert run(["make", "-s", "-j4"], plain, env).returncode == 0
    with running_server(spray, env, "-v", config=FAST + "local_count = 3\n") as srv:
        build = subprocess.Popen(
            ["make", "-s", "-j16", "LAUNCHER=spraycc run -v"],
            cwd=spray,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:

            def busy_executor() -> int | None:
                for pid in executor_pids(srv.proc.pid):
                    if children(pid):  # it is running a compile right now
                        return pid
                return None

            victim = wait_for(busy_executor, 60, "an executor running a compile")
            os.kill(int(victim), signal.SIGKILL)  # type: ignore[arg-type]
            _out, err = build.communicate(timeout=240)
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()
        assert build.returncode == 0, err.decode()
    log = srv.collect()
    again = redispatched(log, int(victim))  # type: ignore[arg-type]
    # each runner whose task was re-dispatched got RETRY (and ran it remotely, once)
    text = err.decode()
    assert text.count("; retrying (attempt 2)") == len(again), text
    assert "running locally" not in text, text
    assert re.search(r"summary: \d+ remote tasks \(0 failed, [1-9]\d* retried, 0 handed back",
                     log), log
    want, got = object_files(plain / "build"), object_files(spray / "build")
    assert sorted(got) == sorted(want)
    assert all(got[n] == want[n] for n in want)


@pytest.mark.timeout(60)
def test_no_server_falls_back_to_local_and_says_why(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "a.c").write_text("int a(void) { return 1; }\n")
    r = run([SPRAYCC, "run", "gcc", "-c", "a.c", "-o", "a.o"], workspace, env)
    assert r.returncode == 0
    assert (workspace / "a.o").exists()
    assert b"spraycc: no server" in r.stderr and b"running locally" in r.stderr
    assert r.stderr.count(b"\n") == 1  # one warning line, nothing else
    env_err = dict(env, SPRAYCC_FALLBACK="error")
    (workspace / "a.o").unlink()
    r = run([SPRAYCC, "run", "gcc", "-c", "a.c", "-o", "a.o"], workspace, env_err)
    assert r.returncode == 69 and not (workspace / "a.o").exists()


@pytest.mark.timeout(60)
def test_server_file_rules(workspace: Path, env: dict[str, str]) -> None:
    with running_server(workspace, env, config=FAST) as srv:
        info = srv.server_file.read_text()
        assert oct(srv.server_file.stat().st_mode & 0o777) == "0o600"
        assert "code=" in info and "ipc=" in info
        with ServerProc(workspace, env, []) as second:
            assert second.proc.wait(timeout=30) == 1
            assert "already serves" in second.collect()
        assert srv.server_file.read_text() == info  # untouched by the loser
    # SIGINT removes it too.
    with ServerProc(workspace, env, []) as srv2:
        srv2.read_until("server: ")
        srv2.proc.send_signal(signal.SIGINT)
        assert srv2.proc.wait(timeout=20) == 0
        assert not srv2.server_file.exists()


@pytest.mark.timeout(60)
def test_stale_server_file_is_replaced(workspace: Path, env: dict[str, str]) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (workspace / ".spraycc_server").write_text(
        f"pid={dead.pid}\nhost={os.uname().nodename}\ncode=x\ntcp=tcp://127.0.0.1:1\n"
    )
    with running_server(workspace, env, config=FAST) as srv:
        assert f"pid={srv.proc.pid}" in srv.server_file.read_text()


@pytest.mark.timeout(60)
def test_idle_shutdown(workspace: Path, env: dict[str, str]) -> None:
    (workspace / ".spraycc").write_text("idle_shutdown_after = 1\nrelease_delay = 0.5\n")
    (workspace / "a.c").write_text("int a;\n")
    with ServerProc(workspace, env, []) as srv:
        srv.read_until("server: ")
        r = run([SPRAYCC, "run", "gcc", "-c", "a.c"], workspace, env)
        assert r.returncode == 0 and (workspace / "a.o").exists()
        assert srv.proc.wait(timeout=30) == 0
        assert "idle for 1 s" in srv.collect()
        assert not srv.server_file.exists()


@pytest.mark.timeout(60)
def test_signal_status_and_links_local(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "m.c").write_text("int main(void) { return 3; }\n")
    with running_server(workspace, env, config=FAST):
        killed = run([SPRAYCC, "run", "--remote", "sh", "-c", "kill -TERM $$"], workspace, env)
        assert killed.returncode == 128 + signal.SIGTERM
        link = run([SPRAYCC, "run", "-v", "gcc", "m.c", "-o", "m"], workspace, env)
        assert link.returncode == 0 and b"spraycc: local" in link.stderr
        assert subprocess.run([str(workspace / "m")]).returncode == 3


@pytest.mark.timeout(60)
def test_runner_interrupted_cancels_its_task(workspace: Path, env: dict[str, str]) -> None:
    marker = workspace / "started"
    with running_server(workspace, env, config=FAST) as srv:
        runner = subprocess.Popen(
            [SPRAYCC, "run", "--remote", "sh", "-c", f"sleep 60 & echo $! > {marker}.tmp; "
             f"mv {marker}.tmp {marker}; wait"],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_for(marker.exists, 30, "the remote command to start")
        sleeper = int(marker.read_text())  # the sleep's own pid, a child of sh
        assert srv.proc.pid in ancestors(sleeper)
        runner.send_signal(signal.SIGINT)
        assert runner.wait(timeout=10) == 130
        runner.stdout.close()  # type: ignore[union-attr]
        runner.stderr.close()  # type: ignore[union-attr]
        # by PID: a sleep re-parented away from the server (an orphan) must not pass
        wait_for(lambda: process_state(sleeper) in ("", "Z"), 10,
                 "the remote command to be killed")


@pytest.mark.timeout(60)
def test_executor_terminated_by_its_scheduler_hands_its_task_back(
        workspace: Path, env: dict[str, str]) -> None:
    """SIGTERM (scancel, bkill, wall time) makes an executor say goodbye: the server re-runs
    its task elsewhere at once instead of waiting for the heartbeat expiry."""
    first = workspace / "first"
    script = f"if [ -e {first} ]; then echo second run; exit 0; fi; touch {first}; exec sleep 60"
    with running_server(workspace, env, "-v", config=FAST + "local_count = 2\n") as srv:
        runner = subprocess.Popen([SPRAYCC, "run", "-v", "--remote", "sh", "-c", script],
                                  cwd=workspace, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        wait_for(first.exists, 30, "the first attempt to start")

        def busy() -> int | None:
            return next((pid for pid in executor_pids(srv.proc.pid) if children(pid)), None)

        victim = int(wait_for(busy, 10, "the busy executor"))  # type: ignore[arg-type]
        os.kill(victim, signal.SIGTERM)
        out, err = runner.communicate(timeout=30)
        assert runner.returncode == 0, err.decode()
        assert out == b"second run\n"
    log = srv.collect()
    assert "terminated by SIGTERM" in log
    assert len(redispatched(log, victim)) == 1
    # the runner got RETRY and the second attempt ran remotely, not handed back
    assert b"; retrying (attempt 2)" in err and b"ran on " in err, err.decode()
    assert b"running locally" not in err, err.decode()
