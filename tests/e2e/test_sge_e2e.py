"""spraycc on a real Grid Engine (tests/harness/sge.py): executors are `qsub -b y` jobs, with
conf/sge.toml's own start command, which hands the appended words to a shell on the
execution host (so they must be shell-inert, docs/cluster.md). Real `spraycc server`, real
make of examples/demo, real qstat/qacct status polling and qdel at exit.
"""

from __future__ import annotations

import json
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
from harness.sge import SgeCluster
from helpers import SPRAYCC, run, running_server, wait_for

pytestmark = pytest.mark.sge

CONF = Path(__file__).resolve().parents[2] / "conf"


def sample_start_cmd(env: dict[str, str]) -> str:
    """conf/sge.toml's start_cmd, verbatim but for the path of spraycc. Grid Engine sets HOME
    to the user's home from the password file even with -V, so the test's spraycc is started
    with the test's HOME (where its key is): `env HOME=... spraycc`."""
    cmd = tomllib.loads((CONF / "sge.toml").read_text())["start_cmd"]
    assert cmd.endswith(" /opt/spraycc/bin/spraycc")
    return cmd.replace("/opt/spraycc/bin/spraycc", f"/usr/bin/env HOME={env['HOME']} {SPRAYCC}")


def ours(cluster: SgeCluster) -> list[dict[str, str]]:
    return [j for j in cluster.qstat_jobs() if j["name"].startswith(JOB_NAME[:10])]


@pytest.mark.timeout(300)
def test_build_on_grid_engine_jobs_with_the_sample_start_command(
        sge_cluster: SgeCluster, tmp_path: Path, env, reference) -> None:  # noqa: F811
    ws = copy_demo(tmp_path / "demo")
    senv = env_with(env, sge_cluster.env(), tmp_path)
    config = settings(scheduler="sge", start_cmd=sample_start_cmd(senv), initial_count=4,
                      keep_pending=3, max_count=6, release_delay=120)
    with running_server(ws, senv, config=config) as srv:
        remote = build_on_cluster(ws, senv, reference, srv)
        assert remote >= 50
        assert len(ours(sge_cluster)) >= 1  # the executors are Grid Engine jobs
    log = srv.collect()
    assert "connected from 127.0.0.1" in log and "(job " in log
    assert "ended without connecting" not in log
    # released at exit: the executors leave and their jobs end
    wait_for(lambda: ours(sge_cluster) == [], 30, "the released executors' jobs to end")


@pytest.mark.timeout(120)
def test_pending_jobs_are_deleted_at_exit(sge_cluster: SgeCluster, workspace: Path, env,
                                          tmp_path) -> None:
    senv = env_with(env, sge_cluster.env(), tmp_path)
    cmd = sample_start_cmd(senv).replace("-q all.q", "-q full.q")
    with running_server(workspace, senv, config=settings(start_cmd=cmd, initial_count=2)) as srv:
        jobs = cancelled_at_exit(srv, workspace, senv,
                                 lambda: [j for j in ours(sge_cluster) if j["state"] == "qw"])
    log = srv.collect()
    assert f"pending job(s) of pool 'start': qdel {jobs[0]['id']}" in log, log


@pytest.mark.timeout(120)
def test_jobs_that_die_make_the_pool_failing_and_steps_run_locally(
        sge_cluster: SgeCluster, workspace: Path, env, tmp_path) -> None:
    senv = env_with(env, sge_cluster.env(), tmp_path)
    prog, deaths = dying_job(tmp_path, 3)
    cmd = sample_start_cmd(senv).rsplit(" /usr/bin/env ", 1)[0] + f" {prog}"
    config = settings(start_cmd=cmd, initial_count=3, pending_timeout=300)
    with running_server(workspace, senv, config=config) as srv:
        msg, to_line, to_msg = failing_while_steps_wait(srv, workspace, senv, deaths)
        assert to_msg < 15, f"{to_msg:.1f} s from the first death to the message"
        assert "exit status 3" in msg and "/dev/null" in msg, msg
        snap = json.loads(run([SPRAYCC, "status", "--json"], workspace, senv).stdout)
        assert "jobs ended without connecting" in snap["pools"][0]["failing"]
        local_fallback_steps(workspace, senv)
    print(f"\nGrid Engine: first job death -> its log line {to_line:.1f} s, -> failing "
          f"message {to_msg:.1f} s")
    assert ours(sge_cluster) == []


@pytest.mark.timeout(120)
def test_a_job_in_error_state_is_cancelled_as_never_starting(
        sge_cluster: SgeCluster, workspace: Path, env, tmp_path) -> None:
    """-wd to a directory that does not exist: Grid Engine puts the job in Eqw, where it
    stays; the server counts it as failed and deletes it."""
    senv = env_with(env, sge_cluster.env(), tmp_path)
    cmd = sample_start_cmd(senv).replace("-cwd", f"-wd {tmp_path}/nonexistent")
    (workspace / "a.c").write_text("int a(void) { return 3; }\n")
    with running_server(workspace, senv, config=settings(start_cmd=cmd, initial_count=3)) as srv:
        r = run([SPRAYCC, "run", "gcc", "-c", "a.c"], workspace, senv, timeout=60)
        assert r.returncode == 0 and b"running locally" in r.stderr, r.stderr
        line = srv.read_until("can never start")
        assert "state Eqw" in line, line
        srv.read_until(" are failing: ")
    wait_for(lambda: ours(sge_cluster) == [], 20, "the Eqw jobs to be deleted")
