#!/usr/bin/env python3
"""Longest-first scheduling from history (docs/history.md): a first build without history, a second
with it, against the LPT lower bound.

    .venv/bin/python bench/lpt.py [--tasks 200] [--median 0.4] [--long 4] [--executors 8]
                                  [--launcher] [--repeat N]

A synthetic workload with skewed durations: `--tasks` C files, each compiled by a stand-in
compiler (a shell script named `gcc`, first on PATH) that sleeps the duration written in the
file, then writes the object. Most durations are spread around `--median`; `--long` of them
take 20x the median and sit late in the build order (like a big generated file that sorts
last), the worst case for first-come-first-served. The builds are real: `make -j` with
`LAUNCHER="spraycc run"`, a real server with `local_count` local executors, the history in a
temporary HOME. Each build gets a fresh server (the second reads what the first wrote), whose
executors are started before the clock starts. Printed: both makespans (wall time of make),
their ratio, the lower bound max(total work / executors, longest step) computed from the
durations the executors measured, and the second build's distance from that bound and from
the LPT schedule of the measured steps; and what the second server held executors for (long
steps that arrived late in the first build, docs/history.md, "Long steps submitted last").
`--launcher`: the steps go through the `spraycc-run` launcher of `spraycc init --masquerade`
(`-I -S`, the lightest runner start-up). `--repeat N`: N pairs of builds, each pair in fresh
temporary directories, and the medians.
Target: the second build within 3% of the LPT schedule.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spraycc import forecast  # noqa: E402 - after the path set-up, like a script must
from spraycc.server.history import History  # noqa: E402
from spraycc.server.hold import BUILD_GAP  # noqa: E402

BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")

FAKE_GCC = r"""#!/bin/sh
# Compiler stand-in: `gcc -c SRC -o OUT` sleeps the seconds on SRC's first line (`// 0.42`).
# The runner adds `-MD -MF FILE` for the input check (docs/usage.md, "Inputs are checked"):
# FILE is not the source. No dependency file is written, so the check has nothing to compare.
out=""; src=""
while [ $# -gt 0 ]; do
  case "$1" in -o) out="$2"; shift;; -MF) shift;; -c|-MD) ;; *) src="$1";; esac
  shift
done
read -r _ seconds < "$src"
sleep "$seconds"
printf 'object of %s\n' "$src" > "$out"
"""

ARRIVED = re.compile(r"arrived at \+([0-9.]+) s")

MAKEFILE = """\
all: $(OBJS)
%.o: %.c
\t$(LAUNCHER) gcc -c $< -o $@
"""


def workload(n: int, median: float, long: int, seed: int) -> list[float]:
    """Durations in build order: a log-normal spread around `median`, `long` steps of 20x."""
    rng = random.Random(seed)
    durations = [round(median * rng.lognormvariate(0.0, 0.35), 3) for _ in range(n - long)]
    # The long steps go at random places in the last quarter of the build order.
    for pos in sorted(rng.sample(range(n - n // 4, n), long)):
        durations.insert(pos, round(20 * median, 3))
    return durations


def make_tree(ws: Path, durations: list[float]) -> list[str]:
    names = []
    for i, seconds in enumerate(durations):
        (ws / f"t{i:03d}.c").write_text(f"// {seconds}\nint t{i};\n")
        names.append(f"t{i:03d}.o")
    (ws / "Makefile").write_text(f"OBJS = {' '.join(names)}\n" + MAKEFILE)
    return names


class Server:
    """A `spraycc server` we started (stopped by its PID); its log goes to a file."""

    def __init__(self, ws: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.out = log.open("wb")
        self.proc = subprocess.Popen([SPRAYCC, "server"], cwd=ws, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
        self.wait_for("server: ", 30)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: the server exited:\n{self.text()}")
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def warm_up(ws: Path, env: dict[str, str], srv: Server, executors: int) -> None:
    """Start every executor before the clock starts (executor start-up is not scheduling)."""
    procs = [subprocess.Popen([SPRAYCC, "run", "--remote", "sleep", "1"], cwd=ws, env=env,
                              stdin=subprocess.DEVNULL) for _ in range(executors)]
    for proc in procs:
        proc.wait(60)
    if not srv.wait_for(f"executor local-{executors} connected", 20):
        print(f"bench: warning: fewer than {executors} executors came up", file=sys.stderr)
    # A build starts after BUILD_GAP without remote work: the warm-up is not part of it.
    time.sleep(BUILD_GAP + 0.5)


def build(ws: Path, env: dict[str, str], objects: list[str], jobs: int, launcher: str) -> float:
    for name in objects:
        (ws / name).unlink(missing_ok=True)
    start = time.monotonic()
    r = subprocess.run(["make", "-s", f"-j{jobs}", f"LAUNCHER={launcher}"], cwd=ws, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.monotonic() - start
    if r.returncode != 0:
        raise SystemExit(f"bench: make failed:\n{r.stderr.decode()}")
    for name in objects:
        if (ws / name).read_text() != f"object of {name[:-2]}.c\n":
            raise SystemExit(f"bench: {name} is wrong")
    return elapsed


class Pair:
    """One first build and one second build, and what the history knew between them."""

    def __init__(self, first: float, second: float, measured: dict[str, float],
                 logs: list[str]) -> None:
        self.first, self.second, self.measured, self.logs = first, second, measured, logs


def pair(args: argparse.Namespace, durations: list[float]) -> Pair:
    with tempfile.TemporaryDirectory(prefix="spraycc-lpt-") as tmp:
        top = Path(tmp)
        ws, home, bindir = top / "ws", top / "home", top / "bin"
        for d in (ws, home, bindir):
            d.mkdir()
        (bindir / "gcc").write_text(FAKE_GCC)
        (bindir / "gcc").chmod(0o755)
        objects = make_tree(ws, durations)
        (ws / ".spraycc").write_text(
            f"local_count = {args.executors}\nrelease_delay = 600\nidle_shutdown_after = 600\n"
            "status_interval = 0\n")
        history_dir = home / "history"
        env = dict(os.environ, HOME=str(home), SPRAYCC_HISTORY=str(history_dir),
                   XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"),
                   PATH=f"{bindir}:{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        for var in ("SPRAYCC_CONFIG", "SPRAYCC_FALLBACK", "SPRAYCC_VERBOSE"):
            env.pop(var, None)
        launcher = "spraycc run"
        if args.launcher:
            subprocess.run([SPRAYCC, "init", "--masquerade", str(home / "masq")], env=env,
                           capture_output=True, check=True, timeout=60)
            launcher = str(home / "masq" / "spraycc-run")
        jobs = args.tasks + 8  # every step submitted at once: the server can order them all
        makespans = []
        logs = []
        measured: dict[str, float] = {}
        for run in (1, 2):
            srv = Server(ws, env, top / f"server{run}.log")
            try:
                warm_up(ws, env, srv, args.executors)
                makespans.append(build(ws, env, objects, jobs, launcher))
            finally:
                srv.stop()
                logs.append(srv.text())
            if run == 1:
                hist = History(history_dir)
                hist.load()
                measured = {k: s for k, _ts, s in hist.items() if k.startswith("gcc -c ")}
    if len(measured) != args.tasks:
        raise SystemExit(f"bench: the history has {len(measured)} of {args.tasks} steps")
    return Pair(makespans[0], makespans[1], measured, logs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--median", type=float, default=0.4, help="median step seconds")
    ap.add_argument("--long", type=int, default=4, help="steps of 20x the median")
    ap.add_argument("--executors", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--launcher", action="store_true",
                    help="run the steps through the spraycc-run launcher (-I -S)")
    ap.add_argument("--repeat", type=int, default=1, help="pairs of builds (medians printed)")
    args = ap.parse_args()
    durations = workload(args.tasks, args.median, args.long, args.seed)
    pairs = [pair(args, durations) for _ in range(max(1, args.repeat))]
    jobs = args.tasks + 8
    measured = pairs[0].measured
    total, longest = sum(measured.values()), max(measured.values())
    bound = max(total / args.executors, longest)
    ideal = forecast.simulate(sorted(measured.items()), args.executors).makespan
    first = statistics.median(x.first for x in pairs)
    second = statistics.median(x.second for x in pairs)
    planned = sum(durations)
    print(f"workload: {args.tasks} steps, median {args.median:g} s, {args.long} of "
          f"{20 * args.median:g} s (20x) late in the build order; {planned:.1f} s of sleep; "
          f"{args.executors} local executors; make -j{jobs} through "
          f"{'the spraycc-run launcher' if args.launcher else 'spraycc run'}")
    print(f"measured work (executors' timings, build 1): {total:.1f} s, longest {longest:.2f} s")
    print(f"LPT lower bound max(work/{args.executors}, longest): {bound:.2f} s; LPT schedule of "
          f"the measured steps (spraycc history): {ideal:.2f} s")
    if len(pairs) > 1:
        print(f"{len(pairs)} pairs of builds; medians below. Build 2 / LPT schedule each: "
              + " ".join(f"{x.second / ideal:.3f}" for x in pairs))
    print(f"build 1 (no history, first come first served): {first:.2f} s "
          f"= {first / bound:.3f}x the bound")
    print(f"build 2 (history, longest first):             {second:.2f} s "
          f"= {second / bound:.3f}x the bound, {second / ideal:.3f}x the LPT schedule "
          "(target <= 1.03)")
    print(f"ratio build 1 / build 2: {first / second:.2f}")
    floors = []
    for i, x in enumerate(pairs, 1):
        holds = [line.split("hold: ", 1)[1] for line in x.logs[1].splitlines() if "hold: " in line]
        starts = [j for j, line in enumerate(holds) if line.startswith("a build starts")]
        holds = holds[starts[-1]:] if starts else holds  # the warm-up was a build of its own
        tag = f"pair {i}: " if len(pairs) > 1 else ""
        print(f"{tag}build 2 held executors: {len(holds)} event(s)" + "".join(
            f"\n  {line}" for line in holds[:8]))
        arrived = [float(m.group(1)) for m in map(ARRIVED.search, holds) if m]
        if arrived:
            floors.append((max(arrived) + longest) / ideal)
    if floors:
        # A long step starts no sooner than it arrives: (last arrival + longest step) / LPT.
        print(f"floor set by the long steps' arrival (after the build's first task): "
              f"{statistics.median(floors):.3f}x the LPT schedule (median; each: "
              + " ".join(f"{f:.3f}" for f in floors) + ")")
    copies = [line for x in pairs for log in x.logs for line in log.splitlines()
              if "second copy" in line]
    if copies:
        print(f"straggler copies started: {len(copies)}")


if __name__ == "__main__":
    main()
