"""Fidelity through the real server: each command line compiled directly, then through
`spraycc run`, in the same directory; everything observable must be identical.

One real `spraycc server` with local executors serves the whole module. For each row of
tests/fidelity_rows.py (GCC_ROWS, CLANG_ROWS, E2E_ROWS) the tree is built in a directory below
the server's workspace, the command runs there directly and the tree is snapshotted; the tree
is wiped and rebuilt at the same path (debug info and .d files hold absolute paths), the
command runs through `spraycc run`, and the tree is snapshotted again. Exit code, stdout,
stderr and every file (set, bytes, mode) must be identical, and nothing may name the
executor's temp dir; where a local run leaves the object no older than a side output (.d, .i,
.su), so must spraycc (make rebuilds an object older than its .d). The server's task counter
shows that a row meant to run remotely did (one task submitted) and a local one did not (the
classifier's reason is checked too).

Also here: diagnostics colours when the runner's stderr is a terminal (fidelity for a
human at a terminal), using a pseudo-terminal.
"""

from __future__ import annotations

import os
import pty
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from fidelity import Result, build_tree, describe_difference, snapshot
from fidelity_rows import CLANG_ROWS, E2E_ROWS, E2E_SOURCES, GCC_ROWS, SOURCES, RowSpec
from helpers import SPRAYCC, base_env, run, running_server

from spraycc import status
from spraycc.step.classify import Decision, classify
from spraycc.step.compilers import find_driver

CONFIG = "idle_shutdown_after = 900\nrelease_delay = 900\nlocal_count = 2\nlocal_slots = 2\n"
EXEC_TMP = b"spraycc-exec-"  # the executor's temp dir prefix: must never reach an output
DIRS = ("obj", "deps", ".deps", ".libs")

ROWS = (
    [(f"gcc-{r}", c, e) for r, c, e in GCC_ROWS]
    + [(f"clang-{r}", c, e) for r, c, e in CLANG_ROWS]
    + [(f"e2e-{r}", c, e) for r, c, e in E2E_ROWS]
)


class Spray:
    """The module's server: its workspace, the environment runners get, a status client."""

    def __init__(self, ws: Path, env: dict[str, str], conn: status.Connection) -> None:
        self.ws = ws
        self.env = env
        self.conn = conn

    def submitted(self) -> int:
        return int(self.conn.snapshot()["submitted"])


@pytest.fixture(scope="module")
def spray(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("fidelity-e2e")
    env = base_env(tmp)
    for var in ("GCC_COLORS", "TERM", "COLUMNS"):  # diagnostics as in a build log
        env.pop(var, None)
    ws = tmp / "ws"
    ws.mkdir()
    with running_server(ws, env, config=CONFIG):
        conn = status.Connection(status.locate(str(ws)))
        try:
            yield Spray(ws, env, conn)
        finally:
            conn.close()


def _missing_program(argv: list[str], env: dict[str, str], cwd: str) -> str | None:
    """Why the row cannot run here (its compiler or ccache is not installed), else None."""
    if shutil.which(argv[0], path=env["PATH"]) is None:
        return f"{argv[0]} is not installed"
    drv = find_driver(argv, cwd, env)
    if drv.reason.endswith("no compiler found past ccache"):
        return drv.reason
    return None


def _prepare(root: Path, files: dict[str, str], spec: RowSpec, env: dict[str, str]) -> None:
    build_tree(str(root), files, spec.modes)  # type: ignore[arg-type]
    if spec.pre:
        subprocess.run(["sh", "-c", spec.pre], cwd=root, env=env, check=True, timeout=60)


def _result(proc: subprocess.CompletedProcess[bytes], root: Path) -> Result:
    return Result(proc.returncode, proc.stdout, proc.stderr, snapshot(str(root)))


def _settle_fuzzy(spec: RowSpec, remote: Result, local: Result) -> None:
    """Files whose bytes differ between any two runs: compare presence and mode only."""
    for path in spec.fuzzy:
        assert path in remote.tree and path in local.tree, path
        assert EXEC_TMP not in remote.tree[path][0], path
        remote.tree[path] = (b"", remote.tree[path][1])
        local.tree[path] = (b"", local.tree[path][1])


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("rid", "cmd", "extra"), ROWS, ids=[r[0] for r in ROWS])
def test_row(spray: Spray, rid: str, cmd: str, extra: dict[str, str]) -> None:
    spec = RowSpec(extra)
    root = spray.ws / "rows" / rid
    root.mkdir(parents=True)
    cwd = root / spec.cwd
    argv = shlex.split(cmd.replace("{root}", str(root)))
    env = {**spray.env, **spec.env}
    why = _missing_program(argv, env, str(root))
    if why:
        pytest.skip(why)
    files = {**SOURCES, **E2E_SOURCES, **{f"{d}/.keep": "" for d in DIRS}, **spec.files}

    _prepare(root, files, spec, env)
    decision = classify(argv, str(cwd), env)  # what the runner will decide (same code path)
    local = _result(run(argv, cwd, env, timeout=60), root)
    local_order = _primary_not_older(decision, cwd)

    _prepare(root, files, spec, env)
    before = spray.submitted()
    remote = _result(run([SPRAYCC, "run", *argv], cwd, env, timeout=60), root)
    submitted = spray.submitted() - before
    remote_order = _primary_not_older(decision, cwd)

    if spec.local is not None:
        assert not decision.remote, f"expected local, classified remote: {decision.reason}"
        assert spec.local in decision.reason
        assert submitted == spec.parts, f"{submitted} remote steps, expected {spec.parts}"
    else:
        assert decision.remote, f"expected remote, classified local: {decision.reason}"
        assert submitted == 1, f"{submitted} tasks submitted for one remote step"
    _settle_fuzzy(spec, remote, local)
    assert remote.key() == local.key(), describe_difference(remote, local)
    for path, (data, _) in remote.tree.items():
        assert EXEC_TMP not in data, f"{path} names the executor's temp dir"
    if local.code == 0:  # make compares mtimes: an object older than its .d is rebuilt
        assert local_order <= remote_order, "an output is newer than the object here"


def _primary_not_older(decision: Decision, cwd: Path) -> set[str]:
    """The other outputs that the primary output (the object) is not older than."""
    if not decision.outputs or not (cwd / decision.outputs[0].path).exists():
        return set()
    primary = (cwd / decision.outputs[0].path).stat().st_mtime_ns
    return {
        o.path for o in decision.outputs[1:]
        if (cwd / o.path).exists() and (cwd / o.path).stat().st_mtime_ns <= primary
    }  # fmt: skip


def test_rows_are_enough() -> None:
    assert len(ROWS) >= 150
    assert len({r[0] for r in ROWS}) == len(ROWS)


# ------------------------------------------------------------------- colours at a terminal


def _at_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run argv with stderr on a fresh pseudo-terminal; return (status, stdout, tty bytes)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=slave,
        )  # fmt: skip
    finally:
        os.close(slave)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the slave side has closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        out = proc.stdout.read() if proc.stdout else b""  # type: ignore[union-attr]
        code = proc.wait(timeout=60)
    finally:
        os.close(master)
        if proc.stdout:
            proc.stdout.close()
    return code, out, b"".join(chunks)


COLOUR_ROWS = [
    ("gcc", "gcc -g -Wall -frecord-gcc-switches -c warn.c -o obj/w.o -MMD"),
    ("gcc-error", "gcc -g -c bad.c -o obj/b.o"),
    ("gxx", "g++ -g -grecord-gcc-switches -Wall -x c++ -c warn.c -o obj/w.o"),
    ("clang", "clang -g -Wall -c warn.c -o obj/w.o -MD"),
    ("explicit-never", "gcc -fdiagnostics-color=never -Wall -c warn.c -o obj/w.o"),
]


# gcc >= 10 wraps option names in OSC 8 hyperlinks at most terminals (not TERM=xterm or linux
# without COLORTERM). The remote run cannot: -fdiagnostics-urls=always would be recorded in
# DW_AT_producer (see classify.Decision). Colours and text must still be identical.
_HYPERLINK = re.compile(rb"\x1b\]8;;[^\x07\x1b]*(?:\x07|\x1b\\)")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("term", ["xterm", "xterm-256color", "dumb"])
@pytest.mark.parametrize(("rid", "cmd"), COLOUR_ROWS, ids=[r[0] for r in COLOUR_ROWS])
def test_diagnostics_at_a_terminal(spray: Spray, rid: str, cmd: str, term: str) -> None:
    """At a terminal gcc/clang colour their diagnostics; a remote compiler writes to a pipe.
    The runner adds -fdiagnostics-color=always then (the classifier's Decision.tty_flag), so
    the terminal shows the same bytes, and the objects stay identical (gcc does not record
    the flag, not even with -grecord-gcc-switches / -frecord-gcc-switches)."""
    argv = shlex.split(cmd)
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    root = spray.ws / "colour" / f"{rid}-{term}"
    root.mkdir(parents=True)
    env = dict(spray.env, TERM=term)
    files = {**SOURCES, "obj/.keep": ""}
    build_tree(str(root), files)
    want = _at_terminal(argv, root, env)
    want_tree = snapshot(str(root))
    build_tree(str(root), files)
    before = spray.submitted()
    got = _at_terminal([SPRAYCC, "run", *argv], root, env)
    assert spray.submitted() - before == 1
    assert snapshot(str(root)) == want_tree
    assert got[:2] == want[:2]
    assert got[2] == _HYPERLINK.sub(b"", want[2])  # the only difference: no hyperlinks
    if term == "xterm":  # gcc 12 makes no hyperlinks there: every byte is the same
        assert got == want
    coloured = b"\x1b[" in want[2]
    assert coloured == (term != "dumb" and "never" not in cmd), want[2]


@pytest.mark.timeout(60)
def test_failing_inline_asm_deletes_the_stale_object_like_gcc(spray: Spray) -> None:
    """`as` fails on a C file's inline asm: gcc deletes the stale object (it had started the
    assembler); spraycc sees "Assembler messages:" on stderr and does the same."""
    test_row(spray, "known-gap-badasm", "gcc -c badasm.c -o obj/a.o", {"obj/a.o": "stale"})
