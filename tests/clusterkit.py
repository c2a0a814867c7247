"""Shared pieces of the tests that run spraycc on real (or stand-in) batch systems: the
config, the demo build and its comparison with a plain build, a start command whose jobs die,
and the measurement of how long the server takes to say so."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import copy_demo
from helpers import SPRAYCC, ServerProc, run, snapshot, wait_for

JOB_NAME = "spraycc-exec"
FLAGS = ["CFLAGS=-O1 -g", "CXXFLAGS=-O1 -g"]  # small compiles on 2 CPUs; the plain build too
FAILING = "are failing: "


def settings(**values: object) -> str:
    base: dict[str, object] = {"local_count": 0, "status_interval": 1,
                               "idle_shutdown_after": 120, "bind_address": "127.0.0.1",
                               "callback_host": "127.0.0.1"}
    base.update(values)
    return "".join(f"{k} = {json.dumps(v)}\n" for k, v in base.items())


def objects(build: Path) -> dict[str, tuple[bytes, int]]:
    return snapshot(build, skip=lambda p: ".spraycc-tmp" in p.name)


def plain_build(tmp: Path) -> dict[str, tuple[bytes, int]]:
    plain = copy_demo(tmp / "demo")
    r = subprocess.run(["make", "-s", "-j4", *FLAGS], cwd=plain, capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    return objects(plain / "build")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, int]]:
    """The demo built plainly, without spraycc, with the flags the tests use."""
    return plain_build(tmp_path_factory.mktemp("plain"))


def build_on_cluster(ws: Path, env: dict[str, str], reference: dict, srv: ServerProc,
                     ) -> int:
    """make -j16 through spraycc: every compile on a cluster executor, outputs identical to
    the plain build. Returns the number of remote tasks."""
    r = run(["make", "-j16", "LAUNCHER=spraycc run", *FLAGS], ws, env, timeout=240)
    assert r.returncode == 0, r.stderr.decode()
    assert b"running locally" not in r.stderr, r.stderr.decode()
    got = objects(ws / "build")
    assert sorted(got) == sorted(reference)
    for name, want in reference.items():
        assert got[name] == want, f"{name} differs from the plain build"
    out = subprocess.run([str(ws / "build" / "demo")], capture_output=True, timeout=30)
    assert out.returncode == 0 and b"checks passed" in out.stdout
    status = run([SPRAYCC, "status", "--json"], ws, env, timeout=30)
    assert status.returncode == 0, status.stderr.decode()
    snap = json.loads(status.stdout)
    assert snap["fallback"] == 0 and snap["local_done"] >= 1  # the link ran here
    return int(snap["done"])


def dying_job(tmp: Path, status: int = 3) -> tuple[Path, Path]:
    """A job program that records when it dies (wall clock) and exits `status` without
    starting an executor: (program, file of death times)."""
    deaths = tmp / "deaths"
    prog = tmp / "dies.sh"
    prog.write_text(f"#!/bin/sh\ndate +%s.%N >> {deaths}\nexit {status}\n")
    prog.chmod(0o755)
    return prog, deaths


def first_death(deaths: Path) -> float:
    return min(float(x) for x in deaths.read_text().split())


def expect_failing(srv: ServerProc, deaths: Path, timeout: float = 30.0) -> tuple[str, float,
                                                                                  float]:
    """Wait for the server's per-job line and its failing message. Returns (the failing
    message, seconds from the first job's death to the first job line, to the message)."""
    job_line = srv.read_until("ended without connecting", timeout=timeout)
    t_job = time.time()
    msg = srv.read_until(FAILING, timeout=timeout)
    t_msg = time.time()
    died = first_death(deaths)
    assert re.search(r"\(job \S+: state \S+", job_line), job_line
    return msg, t_job - died, t_msg - died


def failing_while_steps_wait(srv, ws: Path, env: dict[str, str], deaths: Path,
                             ) -> tuple[str, float, float]:
    """Three steps wait for executors whose jobs all die: the pool is reported failing and
    the steps run locally. Returns expect_failing's (message, seconds, seconds)."""
    runners = []
    for name in "abc":
        (ws / f"{name}.c").write_text(f"int {name}(void) {{ return 3; }}\n")
        runners.append(subprocess.Popen([SPRAYCC, "run", "gcc", "-c", f"{name}.c"], cwd=ws,
                                        env=env, stdin=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE))
    try:
        found = expect_failing(srv, deaths)
        errs = [r.communicate(timeout=30)[1] for r in runners]
    finally:
        for r in runners:
            if r.poll() is None:
                r.kill()
                r.wait()
    for name, r, err in zip("abc", runners, errs, strict=True):
        assert r.returncode == 0 and (ws / f"{name}.o").exists(), err
        assert b"running locally" in err and b"jobs ended without connecting" in err, err
    return found


def sigterm(srv: ServerProc, ws: Path, env: dict[str, str]) -> None:
    srv.stop()


def cancelled_at_exit(srv: ServerProc, ws: Path, env: dict[str, str],
                      pending: Callable[[], list[dict[str, str]]],
                      end: Callable[[ServerProc, Path, dict[str, str]], None] = sigterm,
                      says: bytes = b"the server is shutting down; running locally",
                      ) -> list[dict[str, str]]:
    """A step waits for an executor whose job stays pending; the server is ended (`end`:
    SIGTERM by default): no job of ours is left the moment it has exited, and the step ran
    locally, saying `says`. Returns the jobs that were pending."""
    (ws / "a.c").write_text("int a(void) { return 3; }\n")
    runner = subprocess.Popen([SPRAYCC, "run", "gcc", "-c", "a.c"], cwd=ws, env=env,
                              stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        srv.read_until("submitted executor start-1")
        jobs = wait_for(pending, 20, "the job to be queued")
        end(srv, ws, env)
        assert srv.proc.poll() is not None, "the server still runs"
        assert pending() == []  # at once, not eventually
        _, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 0 and (ws / "a.o").exists(), err
    assert says in err, err
    return jobs  # type: ignore[return-value]


def local_fallback_steps(ws: Path, env: dict[str, str], n: int = 2) -> list[str]:
    """Compile n files through spraycc while the pool is failing: each runs locally at once.
    Returns the runners' stderr."""
    errs = []
    for i in range(n):
        src = ws / f"f{i}.c"
        src.write_text(f"int f{i}(void) {{ return {i}; }}\n")
        t0 = time.monotonic()
        r = run([SPRAYCC, "run", "gcc", "-c", src.name], ws, env, timeout=60)
        assert r.returncode == 0, r.stderr.decode()
        assert (ws / f"f{i}.o").exists()
        assert time.monotonic() - t0 < 15, "the local fallback waited"
        errs.append(r.stderr.decode())
    return errs


def env_with(env: dict[str, str], cluster_env: dict[str, str], tmp: Path) -> dict[str, str]:
    """The test env plus a cluster's client variables; TMPDIR keeps scratch in the test."""
    out = {**env, "TMPDIR": str(tmp)}
    out.update({k: v for k, v in cluster_env.items() if k in (
        "SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT", "SLURM_CONF")})
    return out
