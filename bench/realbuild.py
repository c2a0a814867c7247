#!/usr/bin/env python3
"""A real build through spraycc's local executors against the plain build, interleaved pairs.

    .venv/bin/python bench/realbuild.py [--pairs 3] [-j N]                 examples/demo (make)
    .venv/bin/python bench/realbuild.py --debian lua5.4 [--pairs 3]        a Debian package
    .venv/bin/python bench/realbuild.py --cmake [--pairs 3] [--tus 48] [--jobs 32,8]
        [--setups compile,linker,pool] [--link-pool N]                 CMake + Ninja C++
    ... [--launcher spraycc-run]     the -I -S launcher of `spraycc init --masquerade`
    ... [--floor]                    also the floor build: a bare Python start per step

Each pair builds a fresh copy of the project twice, in random order: plainly with
`make -j$(nproc)` (or `ninja -j$(nproc)`), and through spraycc (a fresh `spraycc server` with
the local default, one executor per CPU, then make/ninja at -jN with the compiler behind
`spraycc run`, or with --launcher spraycc-run behind the launcher `spraycc init --masquerade`
writes, docs/usage.md). The spraycc build is timed from the moment the server is up with its
local executors connected (as when a user starts one and then builds: they start with the
server, docs/usage.md) to the end of make. One HOME is kept for all pairs, so later builds
have history (docs/history.md), as a user's would. Printed: every pair's times and ratio, the
median ratio spraycc / plain; beside each time, the CPU-seconds the whole machine was busy
during that build (/proc/stat), and the median ratio of those: on a quiet machine whatever a
spraycc build costs beyond plain's busy CPU is spraycc's own work (runners, server,
executors), and a time ratio above the CPU ratio is time the CPUs sat idle. Then where a
spraycc build's CPU went: the server and its executors themselves (every thread, schedstat),
the steps the executors ran (their reaped children), and the build command's own tree
(make or ninja and the processes it waited for: the runners and what they ran locally;
plainly, every compile and link), from getrusage(2).

--floor adds to every pair (or round) a third build: plain `make -j$(nproc)` (`ninja`) with,
in front of every step spraycc would see, a launcher that starts the interpreter as the
spraycc-run launcher does (`-I -S`), finds the command on PATH and execs it: no server, no
executor, no spraycc code. Its ratio to plain is what any runner written in Python costs a
build at the least, the floor under spraycc's figure on the same machine and day.

--cmake generates a CMake C++ project shaped like one with many test binaries (--tus
translation units: a third in six static libraries, each other one a test program of its own
with a small main, linking one library; four programs link every library), so links become
ready while compiles still run. Each of --pairs rounds builds it once plainly (`ninja
-j$(nproc)`) and once in each of the --setups, in random order, every spraycc set-up at each
`ninja -j` of --jobs (docs/usage.md, "CMake at any -j"):
  compile   the compile launcher only (`CMAKE_CXX_COMPILER_LAUNCHER=spraycc;run`): ninja runs
            the links itself, up to -j at once beside the executors;
  linker    links through spraycc too (`CMAKE_CXX_LINKER_LAUNCHER`): each link waits for one
            of the server's local slots;
  pool      the compile launcher and a Ninja job pool for links (`CMAKE_JOB_POOLS=link=N`,
            `CMAKE_JOB_POOL_LINK=link`, N = --link-pool, default one per CPU).
Printed per round every build's time, its ratio to that round's plain build and the most
linkers (`ld`) that ran at once (a counter in front of ld, found first through gcc's -B, in
every build alike); then per set-up the median ratio. Configuring is not timed.

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
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

# bench/ is on sys.path when a bench runs
from steps import children_cpu, connected, cpu_ns, executors

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")
LAUNCHER = [f"{SPRAYCC} run"]  # what goes in front of the compiler (--launcher)
FLOOR: list[str] = []  # --floor: where FLOOR_LAUNCHER was written
CPUS = os.cpu_count() or 1

DEBIAN = {  # package -> (make arguments, {compiler variable: its value})
    "lua5.4": (["-C", "src", "posix", "ALL=o"], {"CC": "gcc -std=gnu99", "CXX": "g++"}),
    "libzstd": (["-C", "lib", "libzstd.a"], {"CC": "gcc"}),
}
PASS_THROUGH = "#!/bin/sh\n# libtool --mode=compile --tag=X CMD...: run CMD\nshift 2\nexec \"$@\"\n"
# --floor: what any launcher written in Python costs at the least, with no spraycc in it: start
# the interpreter as the spraycc-run launcher does (-I -S), find the command on PATH, exec it.
FLOOR_LAUNCHER = """#!@PYTHON@ -IS
# bench/realbuild.py --floor: an interpreter start, then exec the command
import posix, sys
cmd = sys.argv[1].encode("utf-8", "surrogateescape")
if b"/" not in cmd:
    for d in posix.environ.get(b"PATH", b"").split(b":"):
        if posix.access((d or b".") + b"/" + cmd, posix.X_OK):
            cmd = (d or b".") + b"/" + cmd
            break
posix.execv(cmd, sys.argv[1:])
"""


def sh(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    r = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    if r.returncode:
        raise SystemExit(f"bench: {' '.join(argv)} failed in {cwd}:\n"
                         f"{r.stderr.decode(errors='replace')[-2000:]}")


class Took(NamedTuple):
    """A build's wall time and CPU-seconds: the whole machine's busy time meanwhile; the build
    command's own tree (make or ninja, and every process it waited for: plainly the compiles
    and links, through spraycc the runners and what runs locally); for a spraycc build, the
    server and its executors themselves (every thread) and the steps the executors ran."""

    seconds: float
    cpu: float
    tree: float
    spraycc: float = 0.0
    remote: float = 0.0


def busy_cpu() -> float:
    """CPU-seconds the machine has been busy since boot, all CPUs (proc(5), /proc/stat: the
    `cpu` line's user, nice, system, irq, softirq and steal; idle and iowait left out). The
    busy time of a build counts everything that ran meanwhile, compilers, make or ninja,
    runners, server and executors, so on a quiet machine its difference from a plain build is
    what spraycc costs in CPU, apart from time the CPUs sat idle."""
    with open("/proc/stat", "rb") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(build: Callable[[], None]) -> Took:
    """Run `build` (one command at a time, the bench's only child to end meanwhile)."""
    cpu, children, start = busy_cpu(), tree_cpu(), time.perf_counter()
    build()
    return Took(time.perf_counter() - start, busy_cpu() - cpu, tree_cpu() - children)


def tree_cpu() -> float:
    """CPU-seconds of the bench's reaped children and theirs (getrusage(2), RUSAGE_CHILDREN)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed_spraycc(tree: Path, env: dict[str, str], build: Callable[[], None]) -> Took:
    srv = subprocess.Popen([SPRAYCC, "server"], cwd=tree, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (tree / ".spraycc_server").exists() or connected(SPRAYCC, tree, env) < CPUS:
            if srv.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: the server did not start with its local executors")
            time.sleep(0.01)
        execs = executors(srv.pid)

        def own() -> float:  # the server's and executors' own CPU-seconds, every thread
            return sum(sum(cpu_ns(pid)) for pid in (srv.pid, *execs)) / 1e9

        def remote() -> float:  # the steps the executors ran and reaped
            return sum(children_cpu(pid) for pid in execs)

        before = own(), remote()
        took = timed(build)
        return took._replace(spraycc=own() - before[0], remote=remote() - before[1])
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(60)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


# ------------------------------------------------------------------------------ projects

def demo_pair(tmp: Path, env: dict[str, str], jobs: int) -> dict[str, Took]:
    def fresh(name: str) -> Path:
        tree = tmp / name
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(ROOT / "examples" / "demo", tree, ignore=shutil.ignore_patterns("build"))
        return tree

    def plain(launcher: str = "") -> Took:
        tree = fresh("plain")
        return timed(lambda: sh(["make", "-s", f"-j{CPUS}", f"LAUNCHER={launcher}"], tree, env))

    def spray() -> Took:
        tree = fresh("spray")
        return timed_spraycc(tree, env, lambda: sh(
            ["make", "-s", f"-j{jobs}", f"LAUNCHER={LAUNCHER[0]}"], tree, env))

    return in_random_order(plain, spray, lambda: plain(FLOOR[0]))


def debian_pair(tmp: Path, env: dict[str, str], jobs: int, name: str) -> dict[str, Took]:
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

    def plain(launcher: str = "") -> Took:
        tree = fresh()
        return timed(lambda: sh(["make", "-s", f"-j{CPUS}", *args,
                                 *(f"{var}={launcher}{cc}" for var, cc in compilers.items())],
                                tree, env))

    def spray() -> Took:
        tree = fresh()
        return timed_spraycc(tree, env, lambda: sh(
            ["make", "-s", f"-j{jobs}", *args,
             *(f"{var}={LAUNCHER[0]} {cc}" for var, cc in compilers.items())], tree, env))

    return in_random_order(plain, spray, lambda: plain(f"{FLOOR[0]} "))


LIBS = 6  # static libraries of the generated CMake project
PROGRAMS = 4  # programs linking every library (their links come last)


def cmake_project(root: Path, tus: int) -> int:
    """A CMake C++ project shaped like one with many test binaries: a third of the `tus` C++
    sources in six static libraries, each other one a test program (that source and a small
    main, linking one library), and four programs linking every library. A test's link is
    ready as soon as its library and its own two objects are, while later compiles still run,
    so links can pile up beside the executors. Returns the number of links."""
    (root / "src").mkdir(parents=True)
    lines = ["cmake_minimum_required(VERSION 3.21)", "project(bench CXX)",
             "set(CMAKE_CXX_STANDARD 17)"]
    in_libs = max(LIBS, tus // 3)
    for lib in range(LIBS):
        names = []
        for i in range(lib, in_libs, LIBS):
            names.append(f"src/u{i}.cpp")
            (root / names[-1]).write_text(TU.replace("@N@", str(i)))
        lines.append(f"add_library(l{lib} STATIC {' '.join(names)})")
    tests = range(in_libs, max(in_libs, tus))
    for t in tests:
        lib = t % LIBS
        (root / f"src/u{t}.cpp").write_text(TU.replace("@N@", str(t)))
        (root / f"src/t{t}.cpp").write_text(
            f"#include <cstdio>\nint u{t}_run(int);\nint u{lib}_run(int);\n"
            f"int main() {{ std::printf(\"%d\\n\", u{t}_run(3) + u{lib}_run(2)); }}\n")
        lines.append(f"add_executable(t{t} src/t{t}.cpp src/u{t}.cpp)")
        lines.append(f"target_link_libraries(t{t} l{lib})")
    deps = " ".join(f"l{lib}" for lib in range(LIBS))
    for prog in range(PROGRAMS):
        (root / f"src/main{prog}.cpp").write_text(
            f"#include <cstdio>\nint u{prog}_run(int);\n"
            f"int main() {{ std::printf(\"%d\\n\", u{prog}_run({prog})); }}\n")
        lines.append(f"add_executable(p{prog} src/main{prog}.cpp)")
        lines.append(f"target_link_libraries(p{prog} {deps})")
    (root / "CMakeLists.txt").write_text("\n".join(lines) + "\n")
    return len(tests) + PROGRAMS


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

# The CMake set-ups compared with plain `ninja -j$(nproc)` (docs/usage.md, "CMake at any -j").
SETUPS = {
    "compile": "compile launcher only",
    "linker": "compile + linker launcher through spraycc",
    "pool": "compile launcher + a Ninja job pool for links",
    "floor": "the floor: a bare Python start as compile launcher, no spraycc",  # --floor
}
# Put in front of the real `ld` (gcc's -B finds it first): each run appends its start and end
# (ns) to the log, so the peak number of linkers at once can be read after the build.
LD_COUNTER = """#!/bin/sh
s=$(date +%s%N)
@LD@ "$@"
rc=$?
echo "$s $(date +%s%N)" >> @LOG@
exit $rc
"""


def peak_linkers(log: Path) -> int:
    """The most linkers that ran at one instant, from the counter's log."""
    events = []
    for line in log.read_text().splitlines() if log.exists() else []:
        start, end = line.split()
        events += [(int(start), 1), (int(end), -1)]
    running = peak = 0
    for _, delta in sorted(events):  # at the same instant an end (-1) sorts first
        running += delta
        peak = max(peak, running)
    return peak


class CMakeBench:
    """One generated project, built plainly and in each set-up, each in its own build dir."""

    def __init__(self, tmp: Path, env: dict[str, str], tus: int, pool: int) -> None:
        self.tmp, self.env, self.pool = tmp, env, pool
        self.src = tmp / "src-tree"
        self.links = cmake_project(self.src, tus)
        ld = shutil.which("ld")
        if ld is None:
            raise SystemExit("bench: no ld on PATH")
        self.ld = os.path.realpath(ld)

    def build(self, setup: str, jobs: int) -> tuple[Took, int]:
        """Configure afresh (untimed), build; (its time, peak linkers at once)."""
        build = self.tmp / f"build-{setup}"
        shutil.rmtree(build, ignore_errors=True)
        counter = self.tmp / f"ld-{setup}"
        counter.mkdir(exist_ok=True)
        log = counter / "log"
        (counter / "ld").write_text(LD_COUNTER.replace("@LD@", self.ld).replace("@LOG@", str(log)))
        (counter / "ld").chmod(0o755)
        args = ["cmake", "-S", str(self.src), "-B", str(build), "-G", "Ninja",
                "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_EXE_LINKER_FLAGS=-B{counter}/"]
        launch = (FLOOR if setup == "floor" else LAUNCHER)[0].replace(" ", ";")
        if setup != "plain":
            args.append(f"-DCMAKE_CXX_COMPILER_LAUNCHER={launch}")
        if setup == "linker":
            args.append(f"-DCMAKE_CXX_LINKER_LAUNCHER={launch}")
        if setup == "pool":
            args += [f"-DCMAKE_JOB_POOLS=link={self.pool}", "-DCMAKE_JOB_POOL_LINK=link"]
        sh(args, self.tmp, self.env)
        log.unlink(missing_ok=True)  # configure's own test links ran through the counter too
        if setup in ("plain", "floor"):
            took = timed(lambda: sh(["ninja", f"-j{CPUS}"], build, self.env))
        else:
            took = timed_spraycc(self.tmp, self.env,
                                 lambda: sh(["ninja", f"-j{jobs}"], build, self.env))
        lines = log.read_text().count("\n") if log.exists() else 0
        if lines != self.links:
            raise SystemExit(f"bench: {lines} links counted in {setup}, {self.links} expected")
        return took, peak_linkers(log)


def cmake_series(bench: CMakeBench, jobs: int, setups: list[str], rounds: int,
                 tus: int) -> None:
    """`rounds` rounds of one plain build and one build per set-up, in random order; per set-up
    the median of its ratios to the same round's plain build, in time and in busy CPU."""
    ratios: dict[str, list[float]] = {s: [] for s in setups}
    cpu_ratios: dict[str, list[float]] = {s: [] for s in setups}
    peaks: dict[str, list[int]] = {s: [] for s in ["plain", *setups]}
    print(f"cmake+ninja {tus} TUs, {bench.links} links; plain ninja -j{CPUS}, "
          f"spraycc set-ups ninja -j{jobs}", flush=True)
    for r in range(rounds):
        order = ["plain", *setups]
        random.shuffle(order)
        took: dict[str, Took] = {}
        for setup in order:
            took[setup], peak = bench.build(setup, jobs)
            peaks[setup].append(peak)
        plain = took["plain"]
        for setup in setups:
            ratios[setup].append(took[setup].seconds / plain.seconds)
            cpu_ratios[setup].append(took[setup].cpu / plain.cpu)
        print(f"  round {r + 1}: plain {shown(plain)} (peak {peaks['plain'][-1]} ld); "
              + "; ".join(f"{s} {shown(took[s])} = {took[s].seconds / plain.seconds:.3f}, CPU "
                          f"{took[s].cpu / plain.cpu:.3f} (peak {peaks[s][-1]} ld)"
                          for s in setups), flush=True)
        for setup in setups:
            if setup != "floor":
                print(f"    {setup}: {spent(took[setup], plain)}", flush=True)
    print(f"  plain: peak linkers at once {max(peaks['plain'])}")
    for setup in setups:
        median = statistics.median(ratios[setup])
        print(f"-j{jobs} {SETUPS[setup]}: median ratio to plain {median:.3f}"
              f" over {rounds} rounds (min {min(ratios[setup]):.3f}, max {max(ratios[setup]):.3f});"
              f" busy CPU {statistics.median(cpu_ratios[setup]):.3f};"
              f" peak linkers at once {max(peaks[setup])}", flush=True)


def shown(took: Took) -> str:
    return f"{took.seconds:6.2f} s ({took.cpu:5.1f} CPU-s)"


def spent(spray: Took, plain: Took) -> str:
    """Where a spraycc build's CPU-seconds went, next to the plain build's tree."""
    return (f"server + executors themselves {spray.spraycc:.2f} CPU-s, the steps they ran "
            f"{spray.remote:.1f}, the build command's tree {spray.tree:.1f} "
            f"(plain: {plain.tree:.1f})")


def multiarch() -> str:
    r = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True, check=True)
    return r.stdout.strip()


def in_random_order(plain: Callable[[], Took], spray: Callable[[], Took],
                    floor: Callable[[], Took]) -> dict[str, Took]:
    """The plain build, the spraycc build and with --floor the floor build, in random order."""
    builds = {"plain": plain, "spraycc": spray, **({"floor": floor} if FLOOR else {})}
    order = list(builds)
    random.shuffle(order)
    return {name: builds[name]() for name in order}


def series(label: str, pairs: int, one: Callable[[], dict[str, Took]]) -> float:
    ratios: dict[str, list[float]] = {"spraycc": [], "floor": []}
    cpu_ratios: dict[str, list[float]] = {"spraycc": [], "floor": []}
    for i in range(pairs):
        took = one()
        plain = took["plain"]
        for name in took.keys() - {"plain"}:
            ratios[name].append(took[name].seconds / plain.seconds)
            cpu_ratios[name].append(took[name].cpu / plain.cpu)
        print(f"  {label} pair {i + 1}: plain {shown(plain)}, spraycc {shown(took['spraycc'])}, "
              f"ratio {ratios['spraycc'][-1]:.3f}, CPU {cpu_ratios['spraycc'][-1]:.3f}"
              + (f"; floor {shown(took['floor'])}, ratio {ratios['floor'][-1]:.3f}, CPU "
                 f"{cpu_ratios['floor'][-1]:.3f}" if "floor" in took else ""), flush=True)
        print(f"    {spent(took['spraycc'], plain)}", flush=True)
    median = statistics.median(ratios["spraycc"])
    print(f"{label}: median ratio spraycc / plain = {median:.3f} over {pairs} pairs; "
          f"busy CPU {statistics.median(cpu_ratios['spraycc']):.3f}", flush=True)
    if ratios["floor"]:
        print(f"{label}: median ratio floor / plain = {statistics.median(ratios['floor']):.3f};"
              f" busy CPU {statistics.median(cpu_ratios['floor']):.3f}", flush=True)
    return median


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="pairs (--cmake: rounds)")
    ap.add_argument("-j", type=int, default=16, help="make -j through spraycc (default 16)")
    ap.add_argument("--debian", choices=sorted(DEBIAN), help="a Debian source package")
    ap.add_argument("--cmake", action="store_true", help="a generated CMake + Ninja project")
    ap.add_argument("--tus", type=int, default=48, help="--cmake: translation units")
    ap.add_argument("--jobs", default="32,8",
                    help="--cmake: the ninja -j of the spraycc builds, comma-separated")
    ap.add_argument("--setups", default="compile,linker,pool",
                    help="--cmake: set-ups to build, comma-separated (compile, linker, pool)")
    ap.add_argument("--link-pool", type=int, default=CPUS,
                    help="--cmake: links at once in the job pool set-up (default: CPUs)")
    ap.add_argument("--launcher", choices=("run", "spraycc-run"), default="run",
                    help="`spraycc run` (default) or the spraycc-run launcher (-I -S)")
    ap.add_argument("--floor", action="store_true",
                    help="also build with a bare Python start (-I -S) in front of every step"
                         " and no spraycc: the least a Python runner can cost")
    args = ap.parse_args()
    try:
        jobs = [int(j) for j in args.jobs.split(",")]
    except ValueError:
        raise SystemExit(f"bench: --jobs takes numbers, not {args.jobs!r}") from None
    setups = [s for s in args.setups.split(",") if s]
    if not setups or any(s not in SETUPS or s == "floor" for s in setups):
        raise SystemExit(f"bench: --setups takes compile, linker, pool, not {args.setups!r}")
    if args.floor:
        setups.append("floor")
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
        if args.floor:
            FLOOR.append(str(tmp / "floor-launcher"))
            Path(FLOOR[0]).write_text(FLOOR_LAUNCHER.replace("@PYTHON@", sys.executable))
            Path(FLOOR[0]).chmod(0o755)
        print(f"{CPUS} CPUs; plain builds at -j{CPUS}; spraycc builds through {LAUNCHER[0]}"
              + (f"; floor builds at -j{CPUS} through {FLOOR[0]}" if FLOOR else ""))
        if args.cmake:
            bench = CMakeBench(tmp, env, args.tus, args.link_pool)
            for j in jobs:
                cmake_series(bench, j, setups, args.pairs, args.tus)
        elif args.debian:
            series(f"{args.debian} make -j{args.j}", args.pairs,
                   lambda: debian_pair(tmp, env, args.j, args.debian))
        else:
            series(f"examples/demo make -j{args.j}", args.pairs,
                   lambda: demo_pair(tmp, env, args.j))


if __name__ == "__main__":
    main()
