#!/usr/bin/env python3
"""What the server and the executors spend per real compile, against the compiler's own CPU.

    .venv/bin/python bench/steps.py [--steps 200] [--tree DIR] [--profile DIR]

Starts a `spraycc server` on the local default (one executor per CPU) in a temporary
workspace and HOME, waits for its executors to connect, then runs `--steps` real compiles
(`gcc -O2 -g -MMD -MP -c`, a small C source including <stdio.h>, a different source each
time), one at a time, each twice in random order: plainly (the baseline: the compiler's own
CPU, from wait4) and through `spraycc run`. The server's and the executors' CPU (user +
system, every thread, from /proc/PID/task/*/schedstat) is read before and after the series;
what they spend while idle (the least of four quiet quarter-seconds before the series) is
taken off.
Printed per step: server and executor CPU in microseconds, the runner's CPU, the compiler's
CPU on the executor and plainly, and the ratio of spraycc's own CPU per step to the
compiler's.

`--tree DIR` measures the spraycc of another checkout (DIR/.venv, as bench/broker.py does),
e.g. a BEFORE tree. `--profile DIR` runs the server and every executor under cProfile and
writes DIR/server-PID.prof and DIR/exec-PID.prof, timed in the main thread's CPU seconds
(the figures then include cProfile's cost).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPUS = os.cpu_count() or 1
CLK_TCK = os.sysconf("SC_CLK_TCK")

SOURCE = """#include <stdio.h>
#include <string.h>
struct rec@N@ { int id; char name[32]; double weight; };
static int cmp@N@(const struct rec@N@ *a, const struct rec@N@ *b) {
    return a->weight < b->weight ? -1 : a->weight > b->weight;
}
int unit@N@(int n) {
    struct rec@N@ r[8];
    for (int i = 0; i < 8; i++) {
        r[i].id = i * @N@;
        snprintf(r[i].name, sizeof r[i].name, "r%d", i + n);
        r[i].weight = (double)(i ^ n) / (@N@ + 1);
    }
    int best = 0;
    for (int i = 1; i < 8; i++) if (cmp@N@(&r[i], &r[best]) > 0) best = i;
    return r[best].id + (int)strlen(r[best].name);
}
"""
PROFILER = """import cProfile, os, runpy, sys, time
out = os.path.join(sys.argv.pop(1), f"{sys.argv.pop(1)}-{os.getpid()}.prof")
sys.argv[0] = "spraycc"
prof = cProfile.Profile(time.thread_time)  # CPU time, not the wall time spent in poll
try:
    prof.runcall(runpy.run_module, "spraycc", run_name="__main__")
except SystemExit:
    pass
finally:
    prof.dump_stats(out)
"""


def cpu_ns(pid: int) -> tuple[int, int]:
    """CPU nanoseconds (user + system) of the main thread of `pid` and of its other live
    threads (ZeroMQ's), from schedstat's first field: exact, not the tick-sampled
    /proc/PID/stat."""
    main = others = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                spent = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(tid) == pid:
            main = spent
        else:
            others += spent
    return main, others


def children_cpu(pid: int) -> float:
    """CPU seconds of the children `pid` has reaped (the compilers an executor ran)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLK_TCK  # cutime, cstime


def descendants(pid: int) -> list[int]:
    """Live descendants of `pid`."""
    parent: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                pass
    found, todo = [], [pid]
    while todo:
        here = todo.pop()
        kids = [child for child, ppid in parent.items() if ppid == here]
        found += kids
        todo += kids
    return found


def executors(server: int) -> list[int]:
    """The executor processes (`spraycc exec`) below the server."""
    pids = []
    for pid in descendants(server):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"exec" in argv and any(a.startswith(b"--callme=") for a in argv):
            pids.append(pid)
    return pids


def connected(spraycc: str, ws: Path, env: dict[str, str]) -> int:
    r = subprocess.run([spraycc, "status", "--json"], cwd=ws, env=env, capture_output=True,
                       timeout=30, check=False)
    try:
        return int(json.loads(r.stdout)["executors"])
    except (ValueError, KeyError, TypeError):
        return 0


def run(argv: list[str], ws: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and the children it waited for)."""
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed in {ws}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--tree", metavar="DIR", type=Path, default=ROOT,
                    help="the checkout whose spraycc is measured (its .venv)")
    ap.add_argument("--profile", metavar="DIR", type=Path,
                    help="write cProfile statistics of the server and executors here")
    args = ap.parse_args()
    tree = args.tree.resolve()
    python = tree / ".venv" / "bin" / "python"
    spraycc = str(tree / ".venv" / "bin" / "spraycc")
    if not python.exists():
        raise SystemExit(f"bench: no {python}")
    with tempfile.TemporaryDirectory(prefix="spraycc-steps-") as tmp:
        ws = Path(tmp) / "ws"
        (ws / "src").mkdir(parents=True)
        (ws / "obj").mkdir()
        (ws / "plain").mkdir()
        total = args.warmup + args.steps
        for i in range(total):
            (ws / "src" / f"u{i}.c").write_text(
                SOURCE.replace("@N@", str(i)))
        home = Path(tmp) / "home"
        home.mkdir()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "LANG": "C", "PYTHONPATH": str(tree), "SPRAYCC_CONFIG": str(Path(tmp) / "c.toml")}
        config = ["idle_shutdown_after = 600", "release_delay = 600", "status_interval = 0"]
        server_argv = [spraycc, "server"]
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            prof = Path(tmp) / "profiler.py"
            prof.write_text(PROFILER)
            out = args.profile.resolve()
            config.append(f'spraycc_cmd = "{python} {prof} {out} exec"')
            server_argv = [str(python), str(prof), str(out), "server", "server"]
        (Path(tmp) / "c.toml").write_text("\n".join(config) + "\n")
        srv = subprocess.Popen(server_argv, cwd=ws, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while connected(spraycc, ws, env) < CPUS:
                if srv.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("bench: the server did not start with its executors")
                time.sleep(0.05)
            figures = measure(args, ws, env, spraycc, srv.pid)
        finally:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(60)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
    report(args, tree, figures)


def measure(args: argparse.Namespace, ws: Path, env: dict[str, str], spraycc: str,
            server: int) -> dict[str, float]:
    os.chdir(ws)  # posix_spawn has no cwd argument

    def compile_argv(i: int, out: str) -> list[str]:
        return ["gcc", "-O2", "-g", "-MMD", "-MP", "-c", f"src/u{i}.c", "-o", f"{out}/u{i}.o"]

    series: dict[str, list[tuple[float, float]]] = {"plain": [], "spraycc": []}

    def one(i: int, record: bool) -> None:
        cmds = [("plain", compile_argv(i, "plain")),
                ("spraycc", [spraycc, "run", *compile_argv(i, "obj")])]
        random.shuffle(cmds)
        for name, argv in cmds:
            figure = run(argv, ws, env)
            if record:
                series[name].append(figure)

    for i in range(args.warmup):
        one(i, False)
    execs = executors(server)
    if len(execs) != CPUS:
        raise SystemExit(f"bench: found {len(execs)} executors below the server, not {CPUS}")
    watched = [server, *execs]

    def cpu() -> dict[int, tuple[int, int]]:
        return {pid: cpu_ns(pid) for pid in watched}

    # What the idle server and executors spend per second (taken off below): the least of
    # four quiet windows, so that one window catching a periodic chore does not count.
    idle: dict[int, list[float]] = {}
    for _ in range(4):
        quiet_start, quiet_t = cpu(), time.perf_counter()
        time.sleep(0.25)
        quiet_end, quiet_t = cpu(), time.perf_counter() - quiet_t
        for pid in watched:
            rates = [(end - begin) / quiet_t
                     for begin, end in zip(quiet_start[pid], quiet_end[pid], strict=True)]
            idle[pid] = [min(a, b) for a, b in zip(idle.get(pid, rates), rates, strict=True)]
    before, start = cpu(), time.perf_counter()
    reaped = sum(children_cpu(pid) for pid in execs)
    for i in range(args.warmup, args.warmup + args.steps):
        one(i, True)
    time.sleep(0.2)  # the last step's clean-up after its RESULT
    after, span = cpu(), time.perf_counter() - start
    reaped = sum(children_cpu(pid) for pid in execs) - reaped
    for i in range(args.warmup, args.warmup + args.steps):
        if Path(f"obj/u{i}.o").read_bytes() != Path(f"plain/u{i}.o").read_bytes():
            raise SystemExit(f"bench: obj/u{i}.o differs from the plain build's")

    def per_step(pids: list[int], thread: int) -> float:
        """Microseconds per step of the main threads (0) or the other threads (1) of pids."""
        spent = sum(after[pid][thread] - before[pid][thread] - idle[pid][thread] * span
                    for pid in pids)
        return spent / 1000 / args.steps

    n = args.steps
    return {
        "server_us": per_step([server], 0) + per_step([server], 1),
        "server_zmq_us": per_step([server], 1),
        "exec_us": per_step(execs, 0) + per_step(execs, 1),
        "exec_zmq_us": per_step(execs, 1),
        "idle_us": sum(sum(rates) for rates in idle.values()) / 1000,  # per second
        "plain_cpu": statistics.mean(c for _, c in series["plain"]) * 1000,
        "runner_cpu": statistics.mean(c for _, c in series["spraycc"]) * 1000,
        "exec_child_cpu": reaped / n * 1000,
        "plain_wall": statistics.median(w for w, _ in series["plain"]) * 1000,
        "spraycc_wall": statistics.median(w for w, _ in series["spraycc"]) * 1000,
    }


def report(args: argparse.Namespace, tree: Path, f: dict[str, float]) -> None:
    own = f["server_us"] + f["exec_us"]
    print(f"steps: {args.steps} real compiles (gcc -O2 -g -MMD -MP -c, a small C source with "
          f"<stdio.h>), one at a time, each also run plainly; spraycc of {tree}, "
          f"{CPUS} local executors; outputs byte-identical")
    print(f"  compiler, run plainly (its own CPU)     {f['plain_cpu']:8.2f} ms per compile"
          "   (baseline)")
    print(f"  compiler, on the executor               {f['exec_child_cpu']:8.2f} ms"
          "   (reaped children, clock ticks)")
    print(f"  runner (`spraycc run`, its own CPU)     {f['runner_cpu']:8.2f} ms")
    print(f"  executor (all threads)                  {f['exec_us']:8.0f} us per step"
          f"   (ZeroMQ's threads {f['exec_zmq_us']:.0f})")
    print(f"  server (all threads)                    {f['server_us']:8.0f} us per step"
          f"   (ZeroMQ's threads {f['server_zmq_us']:.0f})")
    print(f"  (idle server + executors: {f['idle_us']:.0f} us per second, taken off)")
    print(f"server + executor per step: {own:.0f} us = {own / 1000 / f['plain_cpu']:.3f}x the "
          f"compiler's own CPU; with the runner: "
          f"{(own / 1000 + f['runner_cpu']) / f['plain_cpu']:.3f}x")
    print(f"wall median: plain {f['plain_wall']:.1f} ms, spraycc {f['spraycc_wall']:.1f} ms "
          f"({f['spraycc_wall'] / f['plain_wall']:.2f}x)")


if __name__ == "__main__":
    main()
