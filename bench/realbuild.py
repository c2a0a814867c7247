#!/usr/bin/env python3
"""A real build through spraycc's local executors against the plain build, interleaved pairs.

    .venv/bin/python bench/realbuild.py [--pairs 3] [-j N]                 examples/demo (make)
    .venv/bin/python bench/realbuild.py --debian lua5.4 [--pairs 3]        a Debian package
    .venv/bin/python bench/realbuild.py --cmake [--pairs 3] [--tus 48]     CMake + Ninja C++
    ... [--launcher spraycc-run]     the -I -S launcher of `spraycc init --masquerade`

Each pair builds a fresh copy of the project twice, in random order: plainly with
`make -j$(nproc)` (or `ninja -j$(nproc)`), and through spraycc (a fresh `spraycc server` with
the local default, one executor per CPU, then make/ninja at -jN with the compiler behind
`spraycc run`, or with --launcher spraycc-run behind the launcher `spraycc init --masquerade`
writes, docs/usage.md). The spraycc build is timed from the moment the server is up with its
local executors connected (as when a user starts one and then builds: they start with the
server, docs/usage.md) to the end of make. One HOME is kept for all pairs, so later builds
have history (docs/history.md), as a user's would. Printed: every pair's times and ratio, the
median ratio spraycc / plain.

--cmake generates a CMake C++ project (--tus translation units in six static libraries and a
dozen programs that link them) and measures ninja at -j32 and -j8, each with the compile
launcher only (`CMAKE_CXX_COMPILER_LAUNCHER`) and with the recommended set-up of
docs/usage.md (links through `CMAKE_CXX_LINKER_LAUNCHER` too, so they take the server's
local slots instead of running -j at once beside the executors).

--debian NAME needs the source package (tests/debsrc.py fetches it once into its cache);
libzstd builds with `make -C lib libzstd.a`. lua5.4 builds the objects of `make -C src posix`
(every source compiled as C and as C++: `ALL=o`, CC and CXX through spraycc). Its Makefile
runs every compile as `$(LIBTOOL) --mode=compile --tag=CC $(CC) ...`, with the libtool that
the package's debian/rules generates; without one (LIBTOOL empty) every recipe fails and make
ignores it (the leading `-`), so nothing is compiled at all: LIBTOOL here is a script that
drops those two words and runs the compile (and src/lua5.4-deb-multiarch.h is written as
debian/rules does). Its flags come from `$(shell dpkg-buildflags)` at
every recipe, which runs `$CC -dumpmachine`, serially inside make: through spraycc, that is a
runner per call (a compiler query: run at once, classify.Decision.query).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")
LAUNCHER = [f"{SPRAYCC} run"]  # what goes in front of the compiler (--launcher)
CPUS = os.cpu_count() or 1

DEBIAN = {  # package -> (make arguments, {compiler variable: its value})
    "lua5.4": (["-C", "src", "posix", "ALL=o"], {"CC": "gcc -std=gnu99", "CXX": "g++"}),
    "libzstd": (["-C", "lib", "libzstd.a"], {"CC": "gcc"}),
}
PASS_THROUGH = "#!/bin/sh\n# libtool --mode=compile --tag=X CMD...: run CMD\nshift 2\nexec \"$@\"\n"


def sh(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    if r.returncode:
        raise SystemExit(f"bench: {' '.join(argv)} failed in {cwd}:\n"
                         f"{r.stderr.decode(errors='replace')[-2000:]}")


def timed_spraycc(tree: Path, env: dict[str, str], build: Callable[[], None]) -> float:
    srv = subprocess.Popen([SPRAYCC, "server"], cwd=tree, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (tree / ".spraycc_server").exists() or connected(tree, env) < CPUS:
            if srv.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: the server did not start with its local executors")
            time.sleep(0.01)
        start = time.perf_counter()
        build()
        return time.perf_counter() - start
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(60)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def connected(tree: Path, env: dict[str, str]) -> int:
    """Executors connected to the server of `tree` (0 while it cannot tell)."""
    r = subprocess.run([SPRAYCC, "status", "--json"], cwd=tree, env=env, capture_output=True,
                       timeout=30, check=False)
    try:
        return int(json.loads(r.stdout)["executors"])
    except (ValueError, KeyError, TypeError):
        return 0


def timed(build: Callable[[], None]) -> float:
    start = time.perf_counter()
    build()
    return time.perf_counter() - start


# ------------------------------------------------------------------------------ projects

def demo_pair(tmp: Path, env: dict[str, str], jobs: int) -> tuple[float, float]:
    def fresh(name: str) -> Path:
        tree = tmp / name
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(ROOT / "examples" / "demo", tree, ignore=shutil.ignore_patterns("build"))
        return tree

    def plain() -> float:
        tree = fresh("plain")
        return timed(lambda: sh(["make", "-s", f"-j{CPUS}"], tree, env))

    def spray() -> float:
        tree = fresh("spray")
        return timed_spraycc(tree, env, lambda: sh(
            ["make", "-s", f"-j{jobs}", f"LAUNCHER={LAUNCHER[0]}"], tree, env))

    return in_random_order(plain, spray)


def debian_pair(tmp: Path, env: dict[str, str], jobs: int, name: str) -> tuple[float, float]:
    sys.path.insert(0, str(ROOT / "tests"))
    from debsrc import Unavailable, extract, source_package

    try:
        dsc = source_package(name)
    except Unavailable as exc:
        raise SystemExit(f"bench: {exc}") from None
    args, compilers = DEBIAN[name]
    if name == "lua5.4":
        shim = tmp / "libtool-pass-through"
        shim.write_text(PASS_THROUGH)
        shim.chmod(0o755)
        args = [*args, f"LIBTOOL={shim}"]

    def fresh() -> Path:
        tree = tmp / "tree"  # the same path for both builds: debug info holds it
        shutil.rmtree(tree, ignore_errors=True)
        tree = extract(dsc, tree)
        if name == "lua5.4":  # what debian/rules' configure step writes
            (tree / "src" / "lua5.4-deb-multiarch.h").write_text(
                f"#ifndef _LUA_DEB_MULTIARCH_\n#define _LUA_DEB_MULTIARCH_\n"
                f"#define DEB_HOST_MULTIARCH \"{multiarch()}\"\n#endif\n")
        return tree

    def plain() -> float:
        tree = fresh()
        return timed(lambda: sh(["make", "-s", f"-j{CPUS}", *args,
                                 *(f"{var}={cc}" for var, cc in compilers.items())], tree, env))

    def spray() -> float:
        tree = fresh()
        return timed_spraycc(tree, env, lambda: sh(
            ["make", "-s", f"-j{jobs}", *args,
             *(f"{var}={LAUNCHER[0]} {cc}" for var, cc in compilers.items())], tree, env))

    return in_random_order(plain, spray)


def cmake_project(root: Path, tus: int) -> None:
    """Six static libraries sharing `tus` C++ sources, twelve programs linking them."""
    libs = 6
    (root / "src").mkdir(parents=True)
    lines = ["cmake_minimum_required(VERSION 3.21)", "project(bench CXX)",
             "set(CMAKE_CXX_STANDARD 17)"]
    for lib in range(libs):
        names = []
        for i in range(lib, tus, libs):
            names.append(f"src/u{i}.cpp")
            (root / names[-1]).write_text(TU.replace("@N@", str(i)))
        lines.append(f"add_library(l{lib} STATIC {' '.join(names)})")
    for prog in range(12):
        (root / f"src/main{prog}.cpp").write_text(
            f"#include <cstdio>\nint u{prog}_run(int);\n"
            f"int main() {{ std::printf(\"%d\\n\", u{prog}_run({prog})); }}\n")
        deps = " ".join(f"l{lib}" for lib in range(libs))
        lines.append(f"add_executable(p{prog} src/main{prog}.cpp)")
        # Each library once more: the units call across libraries.
        lines.append(f"target_link_libraries(p{prog} {deps} {deps})")
    (root / "CMakeLists.txt").write_text("\n".join(lines) + "\n")


TU = """#include <map>
#include <string>
#include <vector>
namespace u@N@ {
template <int K> struct Table {
    std::map<std::string, std::vector<int>> rows;
    void add(const std::string& k, int v) { rows[k].push_back(v * K); }
};
template <int K> int work(int n) {
    Table<K> t;
    for (int i = 0; i < n; ++i) t.add(std::to_string(i % 7), i);
    return static_cast<int>(t.rows.size()) + K;
}
}
int u@N@_run(int n) { return u@N@::work<1>(n) + u@N@::work<2>(n); }
"""


def cmake_pair(tmp: Path, env: dict[str, str], jobs: int, tus: int,
               link_launcher: bool) -> tuple[float, float]:
    src = tmp / "src-tree"
    if not src.exists():
        cmake_project(src, tus)

    def configure(build: Path, launcher: bool) -> None:
        shutil.rmtree(build, ignore_errors=True)
        args = ["cmake", "-S", str(src), "-B", str(build), "-G", "Ninja",
                "-DCMAKE_BUILD_TYPE=Release"]
        if launcher:
            launch = LAUNCHER[0].replace(" ", ";")
            args.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={launch}")
            if link_launcher:
                args.append(f"-DCMAKE_CXX_LINKER_LAUNCHER={launch}")
        sh(args, tmp, env)

    def plain() -> float:
        build = tmp / "plain"
        configure(build, False)
        return timed(lambda: sh(["ninja", f"-j{CPUS}"], build, env))

    def spray() -> float:
        build = tmp / "spray"
        configure(build, True)
        return timed_spraycc(tmp, env, lambda: sh(["ninja", f"-j{jobs}"], build, env))

    return in_random_order(plain, spray)


def multiarch() -> str:
    r = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True, check=True)
    return r.stdout.strip()


def in_random_order(plain: Callable[[], float], spray: Callable[[], float]) -> tuple[float, float]:
    if random.random() < 0.5:
        p = plain()
        return p, spray()
    s = spray()
    return plain(), s


def series(label: str, pairs: int, one: Callable[[], tuple[float, float]]) -> float:
    ratios = []
    for i in range(pairs):
        plain, spray = one()
        ratios.append(spray / plain)
        print(f"  {label} pair {i + 1}: plain {plain:6.2f} s, spraycc {spray:6.2f} s, "
              f"ratio {spray / plain:.3f}", flush=True)
    median = statistics.median(ratios)
    print(f"{label}: median ratio spraycc / plain = {median:.3f} over {pairs} pairs", flush=True)
    return median


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("-j", type=int, default=16, help="make -j through spraycc (default 16)")
    ap.add_argument("--debian", choices=sorted(DEBIAN), help="a Debian source package")
    ap.add_argument("--cmake", action="store_true", help="a generated CMake + Ninja project")
    ap.add_argument("--tus", type=int, default=48, help="--cmake: translation units")
    ap.add_argument("--launcher", choices=("run", "spraycc-run"), default="run",
                    help="`spraycc run` (default) or the spraycc-run launcher (-I -S)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="spraycc-real-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "c"),
               "XDG_DATA_HOME": str(home / "d"), "XDG_STATE_HOME": str(home / "s"),
               "XDG_CACHE_HOME": str(home / "k"), "PATH": f"{BIN}:{os.environ['PATH']}"}
        env.pop("SPRAYCC_CONFIG", None)
        if "SPRAYCC_TEST_CACHE" not in env:  # the Debian sources stay cached across HOMEs
            from_home = Path.home() / ".cache" / "spraycc-tests"
            env["SPRAYCC_TEST_CACHE"] = os.environ["SPRAYCC_TEST_CACHE"] = str(
                Path("/var/cache/spraycc-tests") if os.geteuid() == 0 else from_home)
        if args.launcher == "spraycc-run":
            masq = tmp / "masq"
            sh([SPRAYCC, "init", "--masquerade", str(masq)], tmp, env)
            LAUNCHER[0] = str(masq / "spraycc-run")
        print(f"{CPUS} CPUs; plain builds at -j{CPUS}; spraycc builds through {LAUNCHER[0]}")
        if args.cmake:
            for jobs in (32, 8):
                for link in (False, True):
                    label = (f"cmake+ninja {args.tus} TUs -j{jobs} "
                             f"{'links via spraycc' if link else 'compile launcher only'}")
                    series(label, args.pairs,
                           lambda jobs=jobs, link=link: cmake_pair(tmp, env, jobs, args.tus, link))
        elif args.debian:
            series(f"{args.debian} make -j{args.j}", args.pairs,
                   lambda: debian_pair(tmp, env, args.j, args.debian))
        else:
            series(f"examples/demo make -j{args.j}", args.pairs,
                   lambda: demo_pair(tmp, env, args.j))


if __name__ == "__main__":
    main()
