"""Inputs checked, not trusted (docs/usage.md, "Inputs are checked").

The stale view is made real: the server's local executors run in their own mount namespace
(`unshare -m`, through `spraycc_cmd`), where a bind mount over the build's generated-header
directory shows an older copy of it, or an empty directory (a header not seen yet). The
runners and make see the real tree. Also the pure parts: dependency file parsing, the
comparison, the missing-file messages of gcc and clang.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server

from spraycc.step import inputs

FAST = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 1\nlocal_count = 2\n"

MAKEFILE = """\
OBJS = a.o b.o c.o
all: $(OBJS)
gen/gen.h: gen.in
\tmkdir -p gen
\tsed 's/^/#define /' gen.in > gen/gen.h.tmp && mv gen/gen.h.tmp gen/gen.h
%.o: %.c gen/gen.h
\t$(CC) -Igen -Iinclude -O2 -c $< -o $@ -MMD
clean:
\trm -f *.o *.d
"""
SOURCES = {
    "a.c": '#include "gen.h"\nint a(void) { return GEN; }\n',
    "b.c": '#include "gen.h"\nint b(void) { return GEN * 2; }\n',
    "c.c": '#include <gen.h>\nconst char *c(void) { return "c" GEN_NAME; }\n',
}


def _needs_namespaces() -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private bind mount")


def _project(ws: Path, gen: str) -> None:
    (ws / "Makefile").write_text(MAKEFILE)
    for name, text in SOURCES.items():
        (ws / name).write_text(text)
    (ws / "gen.in").write_text(gen)


def _wrapper(tmp: Path, view: Path, over: Path) -> str:
    """A `spraycc_cmd` that runs each executor in a mount namespace where `over` shows
    the contents of `view`."""
    script = tmp / "nsexec"
    script.write_text(
        "#!/bin/sh\n"
        "exec unshare -m --propagation private /bin/sh -c "
        "'mount --bind \"$0\" \"$1\" && shift && exec \"$@\"' "
        f"{view} {over} {sys.executable} -m spraycc \"$@\"\n")
    script.chmod(0o755)
    return str(script)


def _objects(ws: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(ws.glob("*.o"))}


def _make(ws: Path, env: dict[str, str], cc: str, **extra: str) -> None:
    out = run(["make", "-j4", f"CC={cc}"], ws, {**env, **extra}, timeout=120)
    assert out.returncode == 0, out.stderr.decode()


def _snapshot(ws: Path, env: dict[str, str]) -> dict:
    out = run([SPRAYCC, "status", "--json"], ws, env, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


@pytest.mark.timeout(180)
def test_stale_generated_header_builds_like_a_plain_build(tmp_path: Path, workspace: Path,
                                                           env: dict[str, str]) -> None:
    _needs_namespaces()
    ws = workspace
    _project(ws, "GEN 1\nGEN_NAME \"one\"\n")
    _make(ws, env, "gcc")  # an earlier build: gen/gen.h holds the old values
    old = tmp_path / "oldgen"
    shutil.copytree(ws / "gen", old)  # what the executors keep seeing
    (ws / "gen.in").write_text("GEN 4242\nGEN_NAME \"a longer name\"\n")
    _make(ws, env, "gcc")  # the plain build of the new state
    plain = _objects(ws)
    cfg = FAST + f'spraycc_cmd = "{_wrapper(tmp_path, old, ws / "gen")}"\n'
    with running_server(ws, env, config=cfg) as srv:
        run(["make", "clean"], ws, env)
        _make(ws, env, f"{SPRAYCC} run gcc", SPRAYCC_CHECK_INPUTS="0")
        unchecked = _objects(ws)
        snap = _snapshot(ws, env)
        assert snap["done"] == 3 and snap["stale"] == 0
        run(["make", "clean"], ws, env)
        _make(ws, env, f"{SPRAYCC} run gcc")
        checked = _objects(ws)
        snap = _snapshot(ws, env)
        assert snap["done"] == 6, snap
    log = srv.collect()
    # Without the check the executors' stale header went into the objects: the view is real.
    assert unchecked != plain
    assert checked == plain
    assert snap["stale"] == 3 and snap["local_done"] >= 3
    assert snap["stale_files"] == [{"path": "gen/gen.h", "count": 3}]
    line = next(x for x in log.splitlines() if "stale view of gen/gen.h" in x)
    assert "the executor saw size" in line and "this host size" in line, line
    assert "summary: 3 stale view(s)" in log and "gen/gen.h (3)" in log
    stats = run([SPRAYCC, "stats"], ws, env, timeout=30).stdout.decode()
    assert "stale     3 executor view(s) of inputs, re-run: gen/gen.h (3)" in stats, stats


@pytest.mark.timeout(180)
def test_hidden_header_and_a_same_named_one_later_on_the_path(tmp_path: Path, workspace: Path,
                                                               env: dict[str, str]) -> None:
    """Headers generated a moment ago are not seen on the executors: a.c fails there
    ("No such file or directory"), c.c finds include/gen.h, an older header of the same name
    in a later -I directory. Both are re-run here; the build is a plain build's."""
    _needs_namespaces()
    ws = workspace
    (ws / "Makefile").write_text("all: a.o c.o\n%.o: %.c\n\t$(CC) -Igen -Iinclude -O2 -c $< "
                                 "-o $@ -MMD\n")
    (ws / "a.c").write_text('#include "only.h"\nint a(void) { return ONLY; }\n')
    (ws / "c.c").write_text(SOURCES["c.c"])
    (ws / "gen").mkdir()
    (ws / "include").mkdir()
    (ws / "include" / "gen.h").write_text('#define GEN_NAME "fallback"\n')
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = FAST + f'spraycc_cmd = "{_wrapper(tmp_path, empty, ws / "gen")}"\n'
    with running_server(ws, env, config=cfg) as srv:
        # generated after the executors' view was taken (they start with the first task)
        warm = run([SPRAYCC, "run", "--remote", "true"], ws, env, timeout=60)
        assert warm.returncode == 0, warm.stderr.decode()
        (ws / "gen" / "only.h").write_text("#define ONLY 5\n")
        (ws / "gen" / "gen.h").write_text('#define GEN_NAME "generated"\n')
        out = run(["make", "-j4", f"CC={SPRAYCC} run -v gcc"], ws, env, timeout=120)
        assert out.returncode == 0, out.stderr.decode()
        snap = _snapshot(ws, env)
    srv.collect()
    err = out.stderr.decode()
    remote = _objects(ws)
    run(["make", "-B", "CC=gcc"], ws, env)
    assert remote == _objects(ws)
    assert snap["stale"] == 2, (snap, err)
    assert "fatal error" not in err  # the remote failure was not relayed
    assert "stale view of gen/only.h" in err and "for want of it" in err, err
    assert "stale view of gen/gen.h" in err and "an earlier include directory holds" in err


@pytest.mark.timeout(120)
def test_stale_rerun_remote_then_local(tmp_path: Path, workspace: Path,
                                       env: dict[str, str]) -> None:
    """stale_rerun = "remote": the step goes back to an executor after stale_delay; still
    stale there (the namespace never catches up), it runs here."""
    _needs_namespaces()
    ws = workspace
    _project(ws, "GEN 1\nGEN_NAME \"one\"\n")
    _make(ws, env, "gcc")
    old = tmp_path / "oldgen"
    shutil.copytree(ws / "gen", old)
    (ws / "gen.in").write_text("GEN 22\nGEN_NAME \"two\"\n")
    _make(ws, env, "gcc")
    plain = _objects(ws)["a.o"]
    cfg = (FAST + f'spraycc_cmd = "{_wrapper(tmp_path, old, ws / "gen")}"\n'
           'stale_rerun = "remote"\nstale_delay = 0.2\n')
    with running_server(ws, env, config=cfg) as srv:
        (ws / "a.o").unlink()
        start = time.monotonic()
        out = run([SPRAYCC, "run", "-v", "gcc", "-Igen", "-Iinclude", "-O2", "-c", "a.c",
                   "-o", "a.o", "-MMD"], ws, env, timeout=60)
        took = time.monotonic() - start
        snap = _snapshot(ws, env)
    srv.collect()
    err = out.stderr.decode()
    assert out.returncode == 0, err
    assert (ws / "a.o").read_bytes() == plain
    assert "running again remotely" in err and err.count("stale view of gen/gen.h") == 2, err
    assert snap["stale"] == 2 and snap["done"] == 2 and took >= 0.2


def test_explain_lists_the_inputs_it_would_check(workspace: Path, env: dict[str, str]) -> None:
    _project(workspace, "GEN 1\nGEN_NAME \"x\"\n")
    (workspace / "gen").mkdir()
    (workspace / "gen" / "gen.h").write_text("#define GEN 1\n#include <stdio.h>\n")
    out = run([SPRAYCC, "explain", "--inputs", "gcc", "-Igen", "-c", "a.c", "-o", "a.o"],
              workspace, env, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    check = json.loads(out.stdout)["input_check"]
    assert check["enabled"] and check["dependency_file"].startswith("asked for on the side")
    assert check["checked"] == ["a.c", "gen/gen.h"]
    assert "/usr/include/stdio.h" in check["skipped"]


# ------------------------------------------------------------------------ the pure parts

def test_read_deps_handles_escapes_continuations_and_phony_rules() -> None:
    data = (b"obj/a.o obj/a.d: a.c inc/x\\ y.h \\\n /usr/include/stdio.h gen$$.h \\\n"
            b" h\\#1.h\n\ninc/x\\ y.h:\n\ngen$$.h:\n")
    assert inputs.read_deps(data) == [b"a.c", b"inc/x y.h", b"/usr/include/stdio.h", b"gen$.h",
                                      b"h#1.h"]


def test_identities_skip_readonly_dirs(tmp_path: Path) -> None:
    (tmp_path / "a.h").write_bytes(b"12345")
    got = inputs.identities([b"a.h", b"gone.h", b"/usr/include/stdio.h"],
                            os.fsencode(tmp_path), [b"/usr/"])
    st = (tmp_path / "a.h").stat()
    assert got == [[b"a.h", 5, st.st_mtime_ns], [b"gone.h", -1, 0]]


def test_compare_finds_changed_missing_and_shadowing_files(tmp_path: Path) -> None:
    (tmp_path / "a.h").write_bytes(b"new")
    (tmp_path / "late").mkdir()
    (tmp_path / "early").mkdir()
    (tmp_path / "late" / "s.h").write_bytes(b"old")
    st = (tmp_path / "a.h").stat()
    late = (tmp_path / "late" / "s.h").stat()
    cwd = str(tmp_path)
    same = [[b"a.h", 3, st.st_mtime_ns], [b"late/s.h", 3, late.st_mtime_ns]]
    assert inputs.compare(same, cwd, ["early", "late"], time.time()) is None
    path, detail = inputs.compare([[b"a.h", 2, 5]], cwd, [], time.time())
    assert path == "a.h" and "executor saw size 2" in detail and "this host size 3" in detail
    assert inputs.compare([[b"gone.h", 1, 1]], cwd, [], 0)[0] == "gone.h"
    assert inputs.compare([[b"gone.h", -1, 0]], cwd, [], 0) is None
    (tmp_path / "early" / "s.h").write_bytes(b"fresh")
    assert inputs.compare(same, cwd, ["early", "late"], time.time())[0] == "early/s.h"
    # an old file in the earlier directory was visible to the executor: chosen on purpose
    os.utime(tmp_path / "early" / "s.h", (1, 1))
    assert inputs.compare(same, cwd, ["early", "late"], time.time() + 10 ** 6) is None


@pytest.mark.parametrize("text", [
    b"a.c:1:10: fatal error: gen.h: No such file or directory\n",
    b"a.c:1:10: fatal error: 'gen.h' file not found\n",
    b"sub/x.c:2:10: fatal error: gen.h: No such file or directory\n",
])
def test_missing_name_only_when_the_file_is_here(tmp_path: Path, text: bytes) -> None:
    assert inputs.missing_name(text, str(tmp_path), ["gen"]) == ""
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "gen.h").write_text("")
    assert inputs.missing_name(text, str(tmp_path), ["gen"]) == "gen/gen.h"
    assert inputs.missing_name(b"cc1: fatal error: opening dependency file x.d: No such file "
                               b"or directory\n", str(tmp_path), ["gen"]) == ""


def test_adding_a_side_dependency_file_changes_no_object(tmp_path: Path) -> None:
    """The arguments the runner adds for the check leave the object's bytes alone."""
    (tmp_path / "a.c").write_text('#include <stdio.h>\nint main(void) { puts("x"); }\n')
    for cc in ("gcc", "clang"):
        if not shutil.which(cc):
            continue
        base = [cc, "-g", "-O2", "-frecord-gcc-switches" if cc == "gcc" else "-Wall", "-c",
                "a.c"]
        subprocess.run([*base, "-o", "1.o"], cwd=tmp_path, check=True, timeout=60)
        subprocess.run([*base, "-o", "2.o", "-MD", "-MF", "side.d"], cwd=tmp_path, check=True,
                       timeout=60)
        assert (tmp_path / "1.o").read_bytes() == (tmp_path / "2.o").read_bytes(), cc
