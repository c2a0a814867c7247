"""spraycc on LSF, OpenLava and PBS Pro as their stand-ins (tests/standins/batch.py) behave:
bsub joins the appended words and hands them to /bin/sh on the "execution host", PBS Pro's
`qsub ... -- PROGRAM ARGS` runs them as they are; bjobs and qstat answer the server's job
status polling in the documented formats, bkill and qdel cancel. One build, one dying start
command and one cancel-at-exit per scheduler, with conf/<scheduler>.toml's start command.
"""

from __future__ import annotations

import os
import signal
import sys
import tomllib
from pathlib import Path

import pytest
from clusterkit import (
    build_on_cluster,
    cancelled_at_exit,
    dying_job,
    failing_while_steps_wait,
    local_fallback_steps,
    reference,  # noqa: F401 - the module's plain-build fixture
    settings,
)
from conftest import copy_demo
from helpers import SPRAYCC, running_server, wait_for
from standins.batch import live_jobs

ROOT = Path(__file__).resolve().parents[2]
STANDINS = ROOT / "tests" / "standins" / "bin"
SCHEDULERS = ("lsf", "openlava", "pbs")
FULL = {"lsf": ("-q normal", "-q full"), "openlava": ("-q normal", "-q full"),
        "pbs": ("-q workq", "-q full")}
CANCEL = {"lsf": "bkill", "openlava": "bkill", "pbs": "qdel"}
EXIT = {"lsf": "exit code 3", "openlava": "exit code 3", "pbs": "exit status 3"}


def sample_start_cmd(scheduler: str, program: str = SPRAYCC) -> str:
    """conf/<scheduler>.toml's start_cmd, verbatim but for the path of spraycc."""
    cmd = tomllib.loads((ROOT / "conf" / f"{scheduler}.toml").read_text())["start_cmd"]
    assert cmd.endswith(" /opt/spraycc/bin/spraycc")
    return cmd.replace("/opt/spraycc/bin/spraycc", program)


@pytest.fixture
def batch_env(env: dict[str, str], tmp_path: Path, request) -> dict[str, str]:
    """The stand-ins first on PATH, their state in the test's directory; jobs still alive at
    the end (there should be none) are ended by their process group."""
    state = tmp_path / "standin"
    scheduler = request.node.callspec.params["scheduler"]
    out = {**env, "PATH": f"{STANDINS}:{env['PATH']}", "SPRAYCC_STANDIN_DIR": str(state),
           "SPRAYCC_STANDIN_PYTHON": sys.executable, "SPRAYCC_STANDIN_FLAVOUR": scheduler,
           "TMPDIR": str(tmp_path)}
    yield out
    if state.is_dir():
        for job in live_jobs(state):
            if job.get("pgid"):
                try:
                    os.killpg(job["pgid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass


def live(env: dict[str, str]) -> list[dict]:
    state = Path(env["SPRAYCC_STANDIN_DIR"])
    return live_jobs(state) if state.is_dir() else []


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_sample_start_command_builds_on_cluster_executors(
        scheduler, batch_env, tmp_path, reference) -> None:  # noqa: F811
    ws = copy_demo(tmp_path / "demo")
    config = settings(scheduler=scheduler, start_cmd=sample_start_cmd(scheduler),
                      initial_count=4, keep_pending=2, max_count=4, release_delay=120)
    with running_server(ws, batch_env, config=config) as srv:
        assert build_on_cluster(ws, batch_env, reference, srv) >= 50
        assert live(batch_env)  # the executors are "cluster" jobs
    log = srv.collect()
    assert "(job " in log and "ended without connecting" not in log
    wait_for(lambda: not live(batch_env), 30, "the released executors' jobs to end")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_jobs_that_die_are_reported_by_status_polling(scheduler, batch_env, workspace,
                                                      tmp_path) -> None:
    prog, deaths = dying_job(tmp_path, 3)
    config = settings(scheduler=scheduler, start_cmd=sample_start_cmd(scheduler, str(prog)),
                      initial_count=3, pending_timeout=300)
    with running_server(workspace, batch_env, config=config) as srv:
        msg, to_line, to_msg = failing_while_steps_wait(srv, workspace, batch_env, deaths)
        assert to_msg < 15, f"{to_msg:.1f} s from the first death to the message"
        assert EXIT[scheduler] in msg and "/dev/null" in msg, msg
        local_fallback_steps(workspace, batch_env)
    print(f"\n{scheduler} stand-in: first job death -> its log line {to_line:.1f} s, -> "
          f"failing message {to_msg:.1f} s")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_pending_jobs_are_cancelled_at_exit(scheduler, batch_env, workspace) -> None:
    old, new = FULL[scheduler]
    cmd = sample_start_cmd(scheduler).replace(old, new)
    with running_server(workspace, batch_env,
                        config=settings(scheduler=scheduler, start_cmd=cmd)) as srv:
        jobs = cancelled_at_exit(srv, workspace, batch_env, lambda: live(batch_env))
    log = srv.collect()
    job_id = jobs[0]["id"] + (".pbs-standin" if scheduler == "pbs" else "")
    assert f"cancelled 1 pending job(s) of pool 'start': {CANCEL[scheduler]} {job_id}" in log
