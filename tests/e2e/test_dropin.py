"""Drop-in use with real tools, each build byte-identical to a plain local one (docs/usage.md):
`make CC="spraycc run gcc"`, CMake launchers with Ninja and Unix Makefiles, ccache in front of
spraycc (CCACHE_PREFIX) and behind it (`spraycc run ccache gcc`), and masquerade mode.

Each build runs against a real server with two local executors; `spraycc status --json`
before and after the build shows how many steps ran remotely and locally.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import copy_demo
from helpers import SPRAYCC, run, running_server, snapshot

CONFIG = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 1\nlocal_count = 2\n"
DEMO_TUS = 52


def status_json(ws: Path, env: dict[str, str]) -> dict:
    r = run([SPRAYCC, "status", "--json"], ws, env, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def objects(build: Path) -> dict[str, tuple[bytes, int]]:
    return snapshot(build, skip=lambda q: ".spraycc-tmp" in q.name)


def through_server(ws: Path, env: dict[str, str], argv: list[str], **extra: str
                   ) -> tuple[dict, str]:
    """Run `argv` in `ws` with a server there; (status counts added by the build, stderr)."""
    with running_server(ws, env, config=CONFIG):
        before = status_json(ws, env)
        r = run(argv, ws, dict(env, **extra), timeout=280)
        assert r.returncode == 0, r.stderr.decode()
        after = status_json(ws, env)
    delta = {k: after[k] - before[k] for k in ("submitted", "done", "failed", "local_done",
                                               "fallback", "local_failed")}
    return delta, r.stderr.decode()


@pytest.fixture(scope="module")
def local_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, int]]:
    ws = copy_demo(tmp_path_factory.mktemp("local") / "demo")
    r = subprocess.run(["make", "-s", "-j4"], cwd=ws, capture_output=True, timeout=280)
    assert r.returncode == 0, r.stderr.decode()
    return objects(ws / "build")


def masquerade_dir(tmp_path: Path, env: dict[str, str]) -> Path:
    masq = tmp_path / "masq"
    r = run([SPRAYCC, "init", "--masquerade", str(masq)], tmp_path, env)
    assert r.returncode == 0, r.stderr.decode()
    return masq


# ------------------------------------------------------------------------------- make

@pytest.mark.timeout(300)
def test_make_cc_spraycc_run_gcc(tmp_path: Path, env: dict[str, str], local_demo: dict) -> None:
    ws = copy_demo(tmp_path / "demo")
    delta, _ = through_server(ws, env, ["make", "-j8", "CC=spraycc run gcc",
                                        "CXX=spraycc run g++"])
    assert delta["done"] == delta["submitted"] == DEMO_TUS
    assert delta["local_done"] == 1  # the link ($(CXX)); ar is not given to spraycc here
    assert objects(ws / "build") == local_demo


# ------------------------------------------------------------------------------ cmake

CMAKE_FILES = {
    "CMakeLists.txt": """cmake_minimum_required(VERSION 3.16)
project(dropin C CXX)
set(CMAKE_CXX_STANDARD 17)
add_library(shapes STATIC lib/area.c lib/names.c lib/scale.cpp lib/format.cpp)
target_include_directories(shapes PUBLIC include)
target_compile_definitions(shapes PRIVATE SHAPES_FACTOR=3)
add_executable(app app/main.cpp app/util.c)
target_link_libraries(app PRIVATE shapes)
""",
    "include/shapes.h": """#pragma once
#ifdef __cplusplus
extern "C" {
#endif
int area(int w, int h);
const char *shape_name(int sides);
int util_twice(int x);
#ifdef __cplusplus
}
#include <string>
int scale(int x);
std::string format_shape(int sides, int w, int h);
#endif
""",
    "lib/area.c": '#include "shapes.h"\nint area(int w, int h) { return w * h; }\n',
    "lib/names.c": """#include "shapes.h"
const char *shape_name(int sides) {
    static const char *names[] = {"none", "point", "line", "triangle", "square"};
    return sides >= 0 && sides <= 4 ? names[sides] : "polygon";
}
""",
    "lib/scale.cpp": '#include "shapes.h"\nint scale(int x) { return x * SHAPES_FACTOR; }\n',
    "lib/format.cpp": """#include "shapes.h"
#include <sstream>
std::string format_shape(int sides, int w, int h) {
    std::ostringstream out;
    out << shape_name(sides) << " " << area(w, h) << " " << scale(w) << " " << __FILE__;
    return out.str();
}
""",
    "app/util.c": '#include "shapes.h"\nint util_twice(int x) { return 2 * x; }\n',
    "app/main.cpp": """#include "shapes.h"
#include <iostream>
int main() {
    std::cout << format_shape(4, 2, util_twice(3)) << std::endl;
    return area(2, 3) == 6 ? 0 : 1;
}
""",
}


def write_cmake_project(root: Path) -> Path:
    for name, text in CMAKE_FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def cmake_objects(build: Path) -> dict[str, tuple[bytes, int]]:
    """Objects (and compiler depfiles) of the project's own targets, not CMake's probes."""
    return {name: value for name, value in objects(build).items()
            if name.startswith(("CMakeFiles/shapes.dir/", "CMakeFiles/app.dir/"))
            and name.endswith((".o", ".o.d"))}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("generator", ["Ninja", "Unix Makefiles"])
def test_cmake_compiler_launcher(tmp_path: Path, env: dict[str, str], generator: str) -> None:
    if not shutil.which("cmake") or (generator == "Ninja" and not shutil.which("ninja")):
        pytest.fail("cmake/ninja missing: run bin/setup-env --test")
    ws = write_cmake_project(tmp_path / "proj")
    build = ws / "build"
    configure = ["cmake", "-S", ".", "-B", "build", "-G", generator, "-DCMAKE_BUILD_TYPE=Debug"]
    # Local reference build, then the spraycc build in the very same directory, so absolute
    # paths in debug info and __FILE__ are the same.
    for argv in (configure, ["cmake", "--build", "build", "-j4"]):
        r = run(argv, ws, env)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    want = cmake_objects(build)
    assert len([n for n in want if n.endswith(".o")]) == 6
    shutil.rmtree(build)
    launchers = ["-DCMAKE_C_COMPILER_LAUNCHER=spraycc;run",
                 "-DCMAKE_CXX_COMPILER_LAUNCHER=spraycc;run"]
    r = run([*configure, *launchers], ws, env)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    delta, _ = through_server(ws, env, ["cmake", "--build", "build", "-j4"],
                              SPRAYCC_VERBOSE="1")
    assert delta["done"] == delta["submitted"] == 6 and delta["fallback"] == 0
    got = cmake_objects(build)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name] == want[name], f"{name} differs from the local build"
    out = subprocess.run([str(build / "app")], capture_output=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith(b"square 12 6 ")


# ----------------------------------------------------------------------------- ccache

@pytest.mark.timeout(400)
def test_ccache_in_front_with_ccache_prefix(tmp_path: Path, env: dict[str, str],
                                            local_demo: dict) -> None:
    """ccache first; on a miss it runs the compile through spraycc (CCACHE_PREFIX). Each word
    of CCACHE_PREFIX must be a program, hence `spraycc-run` (made by init --masquerade)."""
    masq = masquerade_dir(tmp_path, env)
    ws = copy_demo(tmp_path / "demo")
    cache = dict(CCACHE_DIR=str(tmp_path / "ccache"), CCACHE_PREFIX=str(masq / "spraycc-run"))
    make = ["make", "-j8", "CC=ccache gcc", "CXX=ccache g++"]
    delta, _ = through_server(ws, env, make, **cache)
    assert delta["done"] == delta["submitted"] == DEMO_TUS  # every miss compiled remotely
    assert objects(ws / "build") == local_demo
    # A clean rebuild is served by ccache: nothing reaches the server.
    assert run(["make", "clean"], ws, env).returncode == 0
    delta, _ = through_server(ws, env, make, **cache)
    assert delta["submitted"] == 0
    assert objects(ws / "build") == local_demo


@pytest.mark.timeout(300)
def test_spraycc_run_ccache_gcc(tmp_path: Path, env: dict[str, str], local_demo: dict) -> None:
    """spraycc first: the classifier strips ccache and sends the compiler ccache would run to
    an executor (ccache on a cluster host would write the shared cache from there)."""
    ws = copy_demo(tmp_path / "demo")
    explain = run([SPRAYCC, "explain", "ccache", "gcc", "-c", "app/main.c", "-o", "m.o"], ws,
                  env)
    decision = json.loads(explain.stdout)
    assert decision["where"] == "remote" and decision["remote_argv"][0] == "gcc"
    cache = dict(CCACHE_DIR=str(tmp_path / "ccache"))
    delta, _ = through_server(ws, env, ["make", "-j8", "LAUNCHER=spraycc run", "CC=ccache gcc",
                                        "CXX=ccache g++"], **cache)
    assert delta["done"] == delta["submitted"] == DEMO_TUS
    assert delta["local_done"] == 2  # link and ar
    assert objects(ws / "build") == local_demo


# ------------------------------------------------------------------------- masquerade

@pytest.mark.timeout(300)
def test_masquerade_build(tmp_path: Path, env: dict[str, str], local_demo: dict) -> None:
    masq = masquerade_dir(tmp_path, env)
    assert sorted(p.name for p in masq.iterdir()) == sorted(
        ["gcc", "g++", "cc", "c++", "clang", "clang++", "spraycc-run"])
    again = run([SPRAYCC, "init", "--masquerade", str(masq)], tmp_path, env)  # idempotent
    assert again.returncode == 0 and b"left alone" not in again.stdout
    ws = copy_demo(tmp_path / "demo")
    path = f"{masq}:{env['PATH']}"
    delta, err = through_server(ws, env, ["make", "-j8"], PATH=path, SPRAYCC_VERBOSE="1")
    assert delta["done"] == delta["submitted"] == DEMO_TUS
    assert delta["local_done"] == 1  # the g++ link; make runs plain `ar`
    assert err.count("spraycc: ran on ") == DEMO_TUS
    assert objects(ws / "build") == local_demo


def test_masquerade_never_recurses(tmp_path: Path, env: dict[str, str]) -> None:
    masq = masquerade_dir(tmp_path, env)
    other = tmp_path / "other-masq"  # a second masquerade dir, also before the real gcc
    other.mkdir()
    (other / "gcc").symlink_to(os.path.realpath(masq / "gcc"))
    (tmp_path / "a.c").write_text("int a(void) { return 1; }\n")
    local = run(["gcc", "-c", "a.c", "-o", "want.o"], tmp_path, env)
    assert local.returncode == 0
    ccache_dir = "/usr/lib/ccache"
    for path in (f"{masq}:{masq}:{other}:{env['PATH']}",
                 f"{masq}:{ccache_dir}:{env['PATH']}",
                 f"{tmp_path}/./masq:{env['PATH']}"):
        e = dict(env, PATH=path, SPRAYCC_VERBOSE="1", CCACHE_DIR=str(tmp_path / "ccache"))
        r = run(["gcc", "-c", "a.c", "-o", "a.o"], tmp_path, e, timeout=30)
        assert r.returncode == 0, (path, r.stderr.decode())
        assert b"spraycc: remote: compile a.c" in r.stderr, path  # the masquerade took it
        assert (tmp_path / "a.o").read_bytes() == (tmp_path / "want.o").read_bytes()
    # Nested (the guard is set): straight to the real compiler, no spraycc lines at all.
    nested = dict(env, PATH=f"{masq}:{env['PATH']}", SPRAYCC_MASQUERADE_DIR=str(masq),
                  SPRAYCC_VERBOSE="1")
    r = run(["gcc", "-c", "a.c", "-o", "a.o"], tmp_path, nested, timeout=30)
    assert r.returncode == 0 and b"spraycc" not in r.stderr
    # No real compiler after the masquerade directory: one clear line, 127.
    r = run([str(masq / "gcc"), "-c", "a.c"], tmp_path, dict(env, PATH=str(masq)), timeout=30)
    assert r.returncode == 127
    assert r.stderr.decode().splitlines() == [
        f"spraycc: gcc: no real compiler found on PATH after the masquerade directory "
        f"{os.path.realpath(masq)}"]
