"""spraycc on the real Slurm of tests/harness, as users deploy it: the `sbatch --wrap "$*"`
wrapper, conf/slurm.toml's own start command, jobs cancelled or dying before they connect
(the server's squeue polling reports them within seconds), and a node lost mid-build.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
from clusterkit import (
    JOB_NAME,
    build_on_cluster,
    cancelled_at_exit,
    dying_job,
    env_with,
    failing_while_steps_wait,
    local_fallback_steps,
    reference,  # noqa: F401 - the module's plain-build fixture
    settings,
)
from conftest import copy_demo
from harness.slurm import SlurmCluster
from helpers import SPRAYCC, ServerProc, run, running_server, wait_for

pytestmark = pytest.mark.slurm

CONF = Path(__file__).resolve().parents[2] / "conf"
WRAPPER = '#!/bin/sh\nexec sbatch -o /dev/null -J spraycc-exec --wrap "$*"\n'


def slurm_env(cluster: SlurmCluster, env: dict[str, str], tmp: Path) -> dict[str, str]:
    return env_with(env, cluster.env(), tmp)


def ours(cluster: SlurmCluster) -> list[dict[str, str]]:
    return [j for j in cluster.squeue_jobs() if j["name"] == JOB_NAME]


def sample_start_cmd() -> str:
    """conf/slurm.toml's start_cmd, verbatim but for the path of spraycc."""
    cmd = tomllib.loads((CONF / "slurm.toml").read_text())["start_cmd"]
    assert cmd.endswith(" /opt/spraycc/bin/spraycc") and "--partition=debug" in cmd
    return cmd.replace("/opt/spraycc/bin/spraycc", SPRAYCC)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("form", ["wrapper", "sample"])
def test_build_with_the_wrap_wrapper_and_with_the_sample_start_command(
        slurm_cluster: SlurmCluster, tmp_path: Path, env, reference, form) -> None:  # noqa: F811
    """The two-line `exec sbatch -o /dev/null --wrap "$*"` wrapper (a script spraycc does not
    look into: `scheduler = "slurm"` gives job ids and status polling) and conf/slurm.toml's
    start command each build the demo with every compile on a Slurm job."""
    ws = copy_demo(tmp_path / "demo")
    senv = slurm_env(slurm_cluster, env, tmp_path)
    if form == "wrapper":
        wrapper = tmp_path / "submit"
        wrapper.write_text(WRAPPER)
        wrapper.chmod(0o755)
        cmd = f"{wrapper} {SPRAYCC}"
    else:
        cmd = sample_start_cmd()
    config = settings(scheduler="slurm", start_cmd=cmd, initial_count=4, keep_pending=3,
                      max_count=6, release_delay=120)
    with running_server(ws, senv, config=config) as srv:
        assert build_on_cluster(ws, senv, reference, srv) >= 50
        assert ours(slurm_cluster)
        pools = json.loads(run([SPRAYCC, "status", "--json"], ws, senv).stdout)["pools"]
        assert pools[0]["counters"]["died"] == 0 and not pools[0]["failing"]
    log = srv.collect()
    assert "(job " in log and "connected from 127.0.0.1" in log
    assert "no job status query" not in log and "cannot tell which batch system" not in log
    wait_for(lambda: not ours(slurm_cluster), 30, "the released executors' jobs to end")


@pytest.mark.timeout(120)
def test_a_job_cancelled_while_pending_is_noticed(slurm_cluster: SlurmCluster,
                                                  workspace: Path, env, tmp_path) -> None:
    senv = slurm_env(slurm_cluster, env, tmp_path)
    cmd = sample_start_cmd().replace("--partition=debug", "--partition=full")
    (workspace / "a.c").write_text("int a(void) { return 3; }\n")
    with running_server(workspace, senv, config=settings(start_cmd=cmd, initial_count=1)) as srv:
        runner = subprocess.Popen([SPRAYCC, "run", "gcc", "-c", "a.c"], cwd=workspace,
                                  env=senv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            srv.read_until("submitted executor start-1")
            job = wait_for(lambda: [j for j in ours(slurm_cluster) if j["state"] == "PENDING"],
                           10, "the job to be queued")[0]["id"]
            run(["scancel", job], workspace, senv)
            t0 = time.monotonic()
            line = srv.read_until("ended without connecting", timeout=20)
            took = time.monotonic() - t0
            assert f"executor start-1 of pool 'start' ended without connecting (job {job}: " \
                   "state CANCELLED" in line, line
            assert took < 10, f"noticed {took:.1f} s after scancel"
            srv.read_until("submitted executor start-2")  # replaced: one death is no failure
        finally:
            srv.stop()
            runner.communicate(timeout=30)
    assert runner.returncode == 0
    assert not ours(slurm_cluster)  # the replacement was cancelled at exit


@pytest.mark.timeout(120)
def test_jobs_that_all_die_are_reported_failing_and_steps_run_locally(
        slurm_cluster: SlurmCluster, workspace: Path, env, tmp_path) -> None:
    senv = slurm_env(slurm_cluster, env, tmp_path)
    prog, deaths = dying_job(tmp_path, 3)
    config = settings(start_cmd=f"sbatch -o /dev/null -J {JOB_NAME} {prog}", scheduler="slurm",
                      initial_count=5, pending_timeout=300)
    t0 = time.monotonic()
    with running_server(workspace, senv, config=config) as srv:
        msg, to_line, to_msg = failing_while_steps_wait(srv, workspace, senv, deaths)
        assert to_msg < 15, f"{to_msg:.1f} s from the first death to the message"
        assert "state FAILED, exit code 3, reason NonZeroExitCode" in msg, msg
        assert "-o /dev/null" in msg and "hides the executor's own message" in msg, msg
        r = run([SPRAYCC, "status", "--once"], workspace, senv)
        assert b"FAILING: " in r.stdout, r.stdout
        local_fallback_steps(workspace, senv)
    took = time.monotonic() - t0
    assert took < 100, f"{took:.0f} s: the fallback must not wait for pending_timeout (300 s)"
    log = srv.collect()
    assert log.count(" are failing: ") == 1, log
    assert not ours(slurm_cluster)
    print(f"\nSlurm: first job death -> its log line {to_line:.1f} s, -> failing message "
          f"{to_msg:.1f} s")


def processes_in(cluster: SlurmCluster, host: str) -> list[int]:
    """Every process in the network namespace of `host` (made by the test harness: all ours)."""
    assert cluster.netns is not None
    want, found = os.stat(f"/run/netns/{cluster.netns.ns_name(host)}").st_ino, []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/net").st_ino == want:
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.timeout(300)
def test_a_node_lost_mid_build_its_tasks_run_elsewhere(
        slurm_netns_cluster: SlurmCluster, tmp_path: Path, env, reference) -> None:  # noqa: F811
    """host2 dies mid-build (its slurmd, step daemons and executors killed at once): the
    server re-queues their tasks to the executors on host1/host3 and the build is right."""
    cluster = slurm_netns_cluster
    ws = copy_demo(tmp_path / "demo")
    senv = slurm_env(cluster, env, tmp_path)
    bridge = cluster.callback_host
    config = settings(scheduler="slurm", start_cmd=sample_start_cmd(), initial_count=6,
                      keep_pending=2, max_count=6, release_delay=120, bind_address=bridge,
                      callback_host=bridge)
    (ws / ".spraycc").write_text(config)
    with running_server(ws, senv) as srv:
        make = subprocess.Popen(["make", "-j16", "LAUNCHER=spraycc run", "CFLAGS=-O1 -g",
                                 "CXXFLAGS=-O1 -g"], cwd=ws, env=senv,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            srv.read_until(f"connected from {cluster.node_addr('host2')}", timeout=60)
            others = [f"connected from {cluster.node_addr(h)} " for h in ("host1", "host3")]
            srv.wait_log(lambda log: any(o in log for o in others), 60,
                         "an executor on host1 or host3")
            victims = processes_in(cluster, "host2")
            assert victims
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            _, err = make.communicate(timeout=240)
        finally:
            if make.poll() is None:
                make.kill()
                make.wait()
        assert make.returncode == 0, err.decode()
        assert b"running locally" not in err, err.decode()
        build_on_cluster(ws, senv, reference, srv)  # up to date now: checks outputs only
    log = srv.collect()
    # the killed executor's connection is reset by the kernel (or, were the host cut off,
    # its heartbeats stop): either way its task goes back to the queue
    requeued = [line for line in log.splitlines() if "re-queued as attempt 2" in line]
    assert requeued, log
    assert "summary: 52 remote tasks (0 failed, " in log, log
    print(f"\nnode lost: killed {len(victims)} processes of host2; {len(requeued)} tasks re-run "
          "elsewhere")
    cluster.stop()  # host2's slurmd is gone: the next test gets a fresh cluster


def sighup(srv: ServerProc, ws: Path, env: dict[str, str]) -> None:
    srv.proc.send_signal(signal.SIGHUP)
    assert srv.proc.wait(timeout=60) == 0


def spraycc_stop_now(srv: ServerProc, ws: Path, env: dict[str, str]) -> None:
    # --now: the waiting step goes back to its runner (a plain drain would wait for it, and
    # its job never starts in the full queue until pending_timeout)
    r = run([SPRAYCC, "stop", "--now"], ws, env, timeout=60)  # waits for the server's exit
    assert r.returncode == 0 and b"the server has exited" in r.stderr, r.stderr.decode()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("end", "says"), [
    (sighup, b"the server is shutting down; running locally"),
    (spraycc_stop_now, b"running locally"),
], ids=["SIGHUP", "spraycc stop"])
def test_pending_jobs_are_cancelled_when_the_server_ends(
        slurm_cluster: SlurmCluster, workspace: Path, env, tmp_path, end, says) -> None:
    """docs/cluster.md: at exit every job still pending is cancelled before the server exits
    (SIGTERM: test_slurm_e2e)."""
    senv = slurm_env(slurm_cluster, env, tmp_path)
    cmd = sample_start_cmd().replace("--partition=debug", "--partition=full")
    with running_server(workspace, senv, config=settings(start_cmd=cmd, initial_count=1)) as srv:
        jobs = cancelled_at_exit(
            srv, workspace, senv,
            lambda: [j for j in ours(slurm_cluster) if j["state"] == "PENDING"], end, says)
    log = srv.collect()
    assert f"cancelled 1 pending job(s) of pool 'start': scancel {jobs[0]['id']}" in log, log


@pytest.mark.timeout(120)
def test_no_job_is_left_pending_after_an_idle_shutdown(
        slurm_cluster: SlurmCluster, workspace: Path, env, tmp_path) -> None:
    """--both: two steps wait while each pool gets a job, one in the queue with free CPUs
    (it runs them), one in the full queue (it stays pending); with no work for release_delay
    the executor is released and the pending job withdrawn (scancel), then the server idles
    out, nothing of ours left queued. (A server with jobs pending is never idle.)"""
    senv = slurm_env(slurm_cluster, env, tmp_path)
    cmd = sample_start_cmd()
    config = settings(start_cmd=cmd, alt_start_cmd=cmd.replace("--partition=debug",
                                                               "--partition=full"),
                      initial_count=2, release_delay=1, idle_shutdown_after=2)
    (workspace / ".spraycc").write_text(config)
    gate = workspace / "gate"
    with ServerProc(workspace, senv, ["--both"]) as srv:
        srv.read_until("server: ")
        steps = [subprocess.Popen([SPRAYCC, "run", "--remote", "sh", "-c",
                                   f"while [ ! -e {gate} ]; do sleep 0.05; done"],
                                  cwd=workspace, env=senv, stdin=subprocess.DEVNULL)
                 for _ in range(2)]
        try:
            wait_for(lambda: [j for j in ours(slurm_cluster)
                              if j["partition"] == "full" and j["state"] == "PENDING"],
                     30, "a job of the alt pool pending in the full queue")
            gate.touch()
            assert [p.wait(timeout=60) for p in steps] == [0, 0]
            assert srv.proc.wait(timeout=60) == 0
            assert ours(slurm_cluster) == []
        finally:
            gate.touch()
            for p in steps:
                if p.poll() is None:
                    p.kill()
                p.wait()
        log = srv.collect()
    assert "idle for 2 s" in log, log
    assert "withdrawing 1 pending executor(s) of pool 'alt'" in log, log
