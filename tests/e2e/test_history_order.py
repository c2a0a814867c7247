"""End to end: a real server hands queued steps out longest first, by the durations its
history kept from an earlier session (docs/history.md); bench/lpt.py measures what it gains.

A stand-in compiler (a script named `gcc`, first on PATH) sleeps the seconds written in its
source file. Session 1 runs each step once, so the history learns them. In session 2 the one
executor is held busy while the steps queue up, the long one last; when it is let go, the
server sends the long one first (first come, first served would send it last).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server, sleeping_steps, wait_for

CONFIG = "local_count = 1\nidle_shutdown_after = 60\nrelease_delay = 30\n"
DURATIONS = {"b": 0.05, "c": 0.05, "d": 0.05, "long": 0.6}  # submission order: long last


def queued(ws: Path, env: dict[str, str]) -> int:
    r = run([SPRAYCC, "status", "--json"], ws, env, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return int(json.loads(r.stdout)["queued"])


@pytest.mark.timeout(120)
def test_a_real_server_sends_the_longest_known_step_first(
        tmp_path: Path, workspace: Path, env: dict[str, str]) -> None:
    env = sleeping_steps(tmp_path, workspace, env, DURATIONS)

    def step(name: str) -> list[str]:
        return [SPRAYCC, "run", "gcc", "-c", f"{name}.c", "-o", f"{name}.o"]

    with running_server(workspace, env, config=CONFIG):  # session 1: the history learns
        for name in DURATIONS:
            r = run(step(name), workspace, env)
            assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()

    gate = workspace / "gate"
    with running_server(workspace, env, "-v", config=CONFIG) as srv:
        srv.read_until("history: 4 known steps")
        held = subprocess.Popen(
            [SPRAYCC, "run", "--remote", "sh", "-c",
             f"touch held; while [ ! -e {gate} ]; do sleep 0.05; done"],
            cwd=workspace, env=env, stdin=subprocess.DEVNULL)
        steps = []
        try:
            wait_for((workspace / "held").exists, 30, "the executor to be held busy")
            for i, name in enumerate(DURATIONS, 1):
                steps.append(subprocess.Popen(step(name), cwd=workspace, env=env,
                                              stdin=subprocess.DEVNULL))
                wait_for(lambda i=i: queued(workspace, env) == i, 30, f"{i} queued steps")
            gate.touch()
            assert held.wait(timeout=30) == 0
            assert [p.wait(timeout=30) for p in steps] == [0] * len(DURATIONS)
        finally:
            gate.touch()
            for proc in (held, *steps):
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        log = srv.log()
    sent = re.findall(r"task \d+ \((\S+)\) attempt 1 to executor ", log)
    assert sent[0] == "sh" and sorted(sent[1:]) == sorted(f"{n}.o" for n in DURATIONS), sent
    assert sent[1] == "long.o", f"dispatched in the order {sent}"
    for name in DURATIONS:
        assert (workspace / f"{name}.o").read_text() == f"object of {name}.c\n"
