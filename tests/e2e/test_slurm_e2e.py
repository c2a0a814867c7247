"""spraycc on a real Slurm (tests/harness): executors are sbatch jobs, submitted, ramped,
released and cancelled by a real `spraycc server`, and real builds come out right.

Every test drives the real CLI: `spraycc server` in a workspace whose `.spraycc` has an sbatch
start command, and `make -j16 LAUNCHER="spraycc run"` of examples/demo. The start command ends
with the `spraycc` entry script itself: sbatch runs that file (a `#!` script) as the batch script
with the arguments spraycc appends (`exec --callme=... --code=... --launch=...`), as
conf/slurm.toml describes. `local_count = 0`, so work really goes to the Slurm jobs.

The ramp is measured from the server's own log lines ("submitted executor ID at +T s",
"executor ID (job J) connected from ADDR (...) at +T s, L s after submission") and its summary.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from clusterkit import (
    cancelled_at_exit,
    objects,
    reference,  # noqa: F401 - the module's plain-build fixture
)
from conftest import copy_demo
from harness.slurm import CONF, SlurmCluster
from helpers import SPRAYCC, ServerProc, run, running_server, wait_for

pytestmark = pytest.mark.slurm

JOB_NAME = "spraycc-exec"
# -O1 keeps the compile time of the demo small on a 2-CPU machine; the reference is built with
# the same flags, so the comparison is exact.
FLAGS = ["CFLAGS=-O1 -g", "CXXFLAGS=-O1 -g"]
SUBMITTED = re.compile(
    r"submitted executor (?P<id>\S+) at \+(?P<t>[\d.]+) s \(pool (?P<pool>\S+): "
    r"(?P<pending>\d+) pending, (?P<connected>\d+) connected\)")
CONNECTED = re.compile(
    r"executor (?P<id>\S+)(?: \(job (?P<job>\d+)\))? connected from (?P<addr>\S+) \(.*?\) "
    r"at \+(?P<t>[\d.]+) s, (?P<latency>[\d.]+) s after submission")


def sbatch(partition: str, *extra: str) -> str:
    return " ".join(["sbatch", *extra, "-o", "/dev/null", "-J", JOB_NAME, "-p", partition,
                     SPRAYCC])


def settings(**values: object) -> str:
    base = {"scheduler": "slurm", "local_count": 0, "status_interval": 1,
            "idle_shutdown_after": 120}
    base.update(values)
    return "".join(f"{k} = {v!r}\n".replace("'", '"') if isinstance(v, str) else f"{k} = {v}\n"
                   for k, v in base.items())


def slurm_env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    # TMPDIR: a killed server's private directory and the executors' scratch stay in the test
    return {**env, "SLURM_CONF": str(CONF), "TMPDIR": str(tmp_path)}


def our_jobs(cluster: SlurmCluster) -> list[dict[str, str]]:
    return [j for j in cluster.squeue_jobs() if j["name"] == JOB_NAME]


def build_demo(ws: Path, env: dict[str, str]) -> float:
    t0 = time.monotonic()
    r = run(["make", "-j16", "LAUNCHER=spraycc run", *FLAGS], ws, env, timeout=240)
    assert r.returncode == 0, r.stderr.decode()
    assert b"running locally" not in r.stderr, r.stderr.decode()
    return time.monotonic() - t0


def check_build(ws: Path, plain: dict[str, tuple[bytes, int]]) -> None:
    got = objects(ws / "build")
    assert sorted(got) == sorted(plain)
    for name, want in plain.items():
        assert got[name] == want, f"{name} differs from the plain build"
    out = subprocess.run([str(ws / "build" / "demo")], capture_output=True, timeout=30)
    assert out.returncode == 0 and b"checks passed" in out.stdout


def events(log: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    return ([m.groupdict() for m in SUBMITTED.finditer(log)],
            [m.groupdict() for m in CONNECTED.finditer(log)])


@pytest.mark.timeout(240)
def test_both_build_on_slurm_the_queue_with_free_cpus_gets_the_executors(
        slurm_cluster: SlurmCluster, tmp_path: Path, env: dict[str, str],
        reference) -> None:  # noqa: F811
    """--both over partition `debug` (free CPUs) and `full` (none): the build runs on sbatch
    jobs of `debug` only, `full` keeps just its half of the first wave pending, idle executors
    are released after the build, and the still-pending jobs are cancelled at server exit."""
    cluster = slurm_cluster
    ws = copy_demo(tmp_path / "demo")
    senv = slurm_env(env, tmp_path)
    config = settings(start_cmd=sbatch("debug"), alt_start_cmd=sbatch("full", "--parsable"),
                      initial_count=4, keep_pending=3, max_count=8, release_delay=5,
                      bind_address="127.0.0.1", callback_host="127.0.0.1")
    with running_server(ws, senv, "--both", config=config) as srv:
        elapsed = build_demo(ws, senv)
        during = our_jobs(cluster)
        # the `full` queue's jobs are still waiting: never started, never refilled
        assert sorted((j["partition"], j["state"]) for j in during
                      if j["partition"] == "full") == [("full", "PENDING")] * 2
        pending_ids = sorted(j["id"] for j in during if j["partition"] == "full")
        # the server's own counters, as `spraycc status --json` shows them
        r = run([SPRAYCC, "status", "--json"], ws, senv, timeout=30)
        assert r.returncode == 0, r.stderr.decode()
        pools = {pool["name"]: pool for pool in json.loads(r.stdout)["pools"]}
        alt, start = pools["alt"]["counters"], pools["start"]["counters"]
        assert (alt["submitted"], alt["ever_connected"], pools["alt"]["pending"]) == (2, 0, 2)
        assert start["ever_connected"] >= 2 and start["failed"] == start["forgotten"] == 0
        assert set(start["addresses"]) == {"127.0.0.1"}
        srv.read_until("releasing idle executor", timeout=30)
        # With no work for release_delay, idle executors are released and pending jobs
        # withdrawn: their jobs end while the server still runs.
        srv.read_until("withdrawing 2 pending executor(s) of pool 'alt'", timeout=30)
        wait_for(lambda: not our_jobs(cluster), 30, "released and withdrawn jobs to end")
        assert srv.proc.poll() is None
    log = srv.collect()
    check_build(ws, reference)

    submitted, connected = events(log)
    by_pool = {pool: [e for e in submitted if e["pool"] == pool] for pool in ("start", "alt")}
    assert len(by_pool["alt"]) == 2 and len(by_pool["start"]) >= 2
    assert connected and all(e["id"].startswith("start-") for e in connected), connected
    assert {e["addr"] for e in connected} == {"127.0.0.1"}
    assert all(e["job"] for e in connected)  # job ids from "Submitted batch job N"
    assert re.search(r"pool alt: 2 submitted, 0 connected, 0 failed, 0 forgotten, 2 cancelled",
                     log), log
    assert len(pending_ids) == 2
    # never more than max_count running + pending (the 2 pending `full` jobs included)
    assert all(int(e["pending"]) + int(e["connected"]) <= 8 - 2 for e in by_pool["start"])
    # the first wave (initial_count 4) went out without waiting for any job to start, half
    # to each command
    first_connect = min(float(e["t"]) for e in connected)
    assert all(float(e["t"]) < first_connect for e in submitted[:4])
    assert sorted(e["pool"] for e in submitted[:4]) == ["alt", "alt", "start", "start"]
    assert re.search(r"summary: \d+ remote tasks \(0 failed, 0 retried, 0 handed back", log)
    remote = int(re.search(r"summary: (\d+) remote tasks", log).group(1))
    assert remote >= 50, log

    latencies = sorted(float(e["latency"]) for e in connected)
    print(f"\n--both build: {elapsed:.1f} s, {remote} remote tasks on {len(connected)} sbatch "
          f"executors; start latency min {latencies[0]:.2f} s, median "
          f"{latencies[len(latencies) // 2]:.2f} s, max {latencies[-1]:.2f} s")
    print("ramp (pool start): " + ", ".join(
        f"+{e['t']}s {e['id']} ({e['pending']}p/{e['connected']}c)" for e in by_pool["start"]))
    print("connects: " + ", ".join(f"+{e['t']}s {e['id']}" for e in connected))


@pytest.mark.timeout(120)
def test_server_exit_cancels_jobs_still_pending(
        slurm_cluster: SlurmCluster, workspace: Path, env: dict[str, str], tmp_path) -> None:
    """A runner waits for an executor whose job is stuck in the `full` queue; the server is
    stopped (SIGTERM): the runner runs its step locally and no job of ours is left in squeue
    the moment the server has exited (the cancel command ran before it did)."""
    cluster = slurm_cluster
    senv = slurm_env(env, tmp_path)
    config = settings(start_cmd=sbatch("full"), initial_count=2, bind_address="127.0.0.1",
                      callback_host="127.0.0.1")
    with running_server(workspace, senv, config=config) as srv:
        jobs = cancelled_at_exit(  # SIGTERM
            srv, workspace, senv,
            lambda: [j for j in our_jobs(cluster) if j["state"] == "PENDING"])
        assert [j["partition"] for j in jobs] == ["full"]
    log = srv.collect()
    assert f"cancelled 1 pending job(s) of pool 'start': scancel {jobs[0]['id']}" in log


@pytest.mark.timeout(120)
def test_failing_sbatch_falls_back_to_local_with_a_clear_message(
        slurm_cluster: SlurmCluster, workspace: Path, env: dict[str, str], tmp_path) -> None:
    senv = slurm_env(env, tmp_path)
    for name in "abc":
        (workspace / f"{name}.c").write_text(f"int {name}(void) {{ return 3; }}\n")
    config = settings(start_cmd=sbatch("nosuch"), bind_address="127.0.0.1",
                      callback_host="127.0.0.1")
    with running_server(workspace, senv, config=config) as srv:
        for name in "abc":
            t0 = time.monotonic()
            r = run([SPRAYCC, "run", "gcc", "-c", f"{name}.c"], workspace, senv, timeout=60)
            took = time.monotonic() - t0
            err = r.stderr.decode()
            assert r.returncode == 0, err
            assert "invalid partition specified: nosuch" in err and "running locally" in err, err
            assert (workspace / f"{name}.o").exists()
            assert took < 15, f"the fallback took {took:.1f} s"
    log = srv.collect()
    assert log.count("start command of pool 'start' failed") == 1, log
    assert our_jobs(slurm_cluster) == []


@pytest.mark.timeout(120)
def test_pending_job_on_a_full_queue_is_cancelled_and_work_runs_locally(
        slurm_cluster: SlurmCluster, workspace: Path, env: dict[str, str], tmp_path) -> None:
    cluster = slurm_cluster
    senv = slurm_env(env, tmp_path)
    (workspace / "a.c").write_text("int a(void) { return 3; }\n")
    config = settings(start_cmd=sbatch("full"), pending_timeout=3, bind_address="127.0.0.1",
                      callback_host="127.0.0.1")
    with running_server(workspace, senv, config=config) as srv:
        r = run([SPRAYCC, "run", "gcc", "-c", "a.c"], workspace, senv, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 0 and (workspace / "a.o").exists(), err
        assert "no executor connected within 3 s" in err and "running locally" in err, err
        srv.read_until("did not connect within 3 s: withdrawn")
        wait_for(lambda: our_jobs(cluster) == [], 10, "the withdrawn job to be cancelled")
    log = srv.collect()
    assert re.search(r"pool start: 1 submitted, 0 connected, 1 failed, 1 forgotten, "
                     r"1 cancelled", log), log


@pytest.mark.timeout(240)
def test_netns_executors_call_back_from_each_host_and_end_when_the_server_is_killed(
        slurm_netns_cluster: SlurmCluster, tmp_path: Path, env: dict[str, str],
        reference) -> None:  # noqa: F811
    """Three Slurm nodes in network namespaces: executors reach the server on the bridge
    address from each host's own (10.231.X.11-13) and the build is right. Then the server is
    killed (-9): the executors notice the silence (heartbeats) and leave, ending their jobs."""
    cluster = slurm_netns_cluster
    ws = copy_demo(tmp_path / "demo")
    senv = slurm_env(env, tmp_path)
    bridge = cluster.callback_host
    config = settings(start_cmd=sbatch("debug"), initial_count=6, keep_pending=3, max_count=6,
                      release_delay=120, bind_address=bridge, callback_host=bridge)
    (ws / ".spraycc").write_text(config)
    with ServerProc(ws, senv, []) as srv:
        line = srv.read_until("server: ")
        assert f"tcp://{bridge}:" in line
        elapsed = build_demo(ws, senv)
        jobs = {j["id"]: j for j in our_jobs(cluster)}
        # the server still runs; it logged each connection before that executor's first task
        log_so_far = srv.wait_log(lambda log: len(events(log)[1]) >= 6, 10, "6 connections")
        _, connected = events(log_so_far)
        assert len(connected) == 6, log_so_far
        hosts = {cluster.node_addr(h): h for h in ("host1", "host2", "host3")}
        assert {e["addr"] for e in connected} <= set(hosts)
        assert len({e["addr"] for e in connected}) >= 2, connected  # LLN spreads the jobs
        for e in connected:  # each job's Slurm node is the host the connection came from
            assert jobs[e["job"]]["node"] == hosts[e["addr"]], (e, jobs)
        check_build(ws, reference)
        running = sorted(jobs)
        assert len(running) == 6
        srv.proc.send_signal(signal.SIGKILL)  # no goodbye: the executors must notice
        srv.proc.wait()
        t0 = time.monotonic()
        wait_for(lambda: not our_jobs(cluster), 30, "executors to leave a dead server")
        gone_after = time.monotonic() - t0
    latencies = sorted(float(e["latency"]) for e in connected)
    print(f"\nnetns build: {elapsed:.1f} s on 6 executors from "
          f"{sorted({e['addr'] for e in connected})}; start latency min {latencies[0]:.2f} s, "
          f"max {latencies[-1]:.2f} s; jobs gone {gone_after:.1f} s after kill -9 of the server")
    assert os.path.exists(ws / ".spraycc_server")  # killed: nobody removed it (tmp_path does)
