"""End to end on the real executor path: a compiler run remotely writes its outputs (object,
dependency file, stack usage, -save-temps files) only into the executor's private directory;
nothing lands in the shared tree until the runner has received them and renamed them into
place (README.md, docs/anycmd.md "Files the command writes"). tests/fidelity.py checks the
same on an emulation of the executor; here it is a real server, a real executor and real gcc.

The compiler on the executor's PATH is a wrapper around the real gcc that, right after gcc
exits (before the executor has sent anything back), lists every file under the workspace
changed since the step began: the list must be empty.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server

WRAPPER = """#!/bin/sh
{gcc} "$@"
status=$?
find {ws} -newer {stamp} ! -type d -print > {seen}.tmp
mv {seen}.tmp {seen}
exit $status
"""
CONFIG = "local_count = 1\nidle_shutdown_after = 60\nrelease_delay = 30\n"
STEPS = [
    ["-c", "a.c", "-o", "build/a.o", "-MMD", "-MP", "-MF", "build/a.d"],
    ["-fstack-usage", "-save-temps=obj", "-c", "b.c", "-o", "build/b.o"],
]


@pytest.mark.timeout(120)
def test_remote_compiler_writes_stay_private_until_the_runner_places_them(
        tmp_path: Path, workspace: Path, env: dict[str, str]) -> None:
    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed"
    fake = tmp_path / "fakebin"
    fake.mkdir()
    env = dict(env, PATH=f"{fake}:{env['PATH']}")
    (workspace / "a.c").write_text('#include "a.h"\nint a(void) { return A; }\n')
    (workspace / "a.h").write_text("#define A 3\n")
    (workspace / "b.c").write_text("int b(void) { return 4; }\n")
    (workspace / "build").mkdir()
    with running_server(workspace, env, config=CONFIG):
        for i, args in enumerate(STEPS):
            stamp, seen = tmp_path / f"stamp{i}", tmp_path / f"seen{i}"
            (fake / "gcc").write_text(WRAPPER.format(gcc=gcc, ws=workspace, stamp=stamp,
                                                     seen=seen))
            (fake / "gcc").chmod(0o755)
            stamp.touch()
            r = run([SPRAYCC, "run", "-v", "gcc", *args], workspace, env)
            assert r.returncode == 0 and b"spraycc: ran on " in r.stderr, r.stderr.decode()
            assert seen.exists(), "the step did not run through the wrapper"
            assert seen.read_text() == "", f"{args}: the compiler wrote into the shared tree"
    for name in ("a.o", "a.d", "b.o", "b.su", "b.i", "b.s"):
        assert (workspace / "build" / name).stat().st_size > 0, name
    assert (workspace / "build" / "a.d").read_text().startswith("build/a.o: a.c a.h")
    assert not list(workspace.rglob("*.spraycc-*")), "a temporary name was left behind"
