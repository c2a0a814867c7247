#!/usr/bin/env python3
"""What one `spraycc run` costs, measured against baselines taken in the same run.

    .venv/bin/python bench/overhead.py [--runs N]

Starts a real server (local executors) in a temporary workspace and times, interleaved so that
machine load hits every series alike:
  * `gcc -c empty.c -o empty.o` run directly (the baseline),
  * the same through `spraycc run` (server, executor, file returned and renamed),
  * `python -I -c pass` (the interpreter's floor),
  * `spraycc run gcc -c h.c` (20 headers of the workspace and <stdio.h>) with the input check
    on and off (SPRAYCC_CHECK_INPUTS=0): the check's cost per compile (docs/usage.md).
The overhead per task is median(spraycc run) - median(gcc). It also samples the runner's
memory while it waits on a remote step: its peak RSS since exec (VmHWM in /proc/PID/status),
private memory (USS, from /proc/PID/smaps_rollup: Private_Clean + Private_Dirty) and its
thread count. Not wait4's ru_maxrss: Linux carries the high-water mark of the address space a
process had *before* exec into it, and a forked or posix_spawn()ed child starts in its
parent's, so ru_maxrss would report this benchmark's own ~14 MB (a /bin/true spawned by a
process holding 100 MB reports 110 MB), not the runner's.
Targets (idle machine; docs/usage.md): overhead <= 15 ms, RSS <= 12 MB, USS <= 4 MB, 1 thread.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) of each run, per series


def timed(argv: list[str], cwd: Path, env: dict[str, str], name: str = "") -> float:
    """Wall seconds of one run, spawned the same way for every series (its CPU time, the
    process's own without its children, goes to CPU[name])."""
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    CPU.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed in {cwd}")
    return elapsed


def start_server(ws: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    srv = subprocess.Popen([SPRAYCC, "server"], cwd=ws, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    deadline = time.monotonic() + 20
    while b"server: " not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([srv.stderr], [], [], left)[0]:
            raise SystemExit("bench: the server did not start")
        chunk = os.read(srv.stderr.fileno(), 4096)  # type: ignore[union-attr]
        if not chunk:
            raise SystemExit(f"bench: the server exited: {seen.decode()}")
        seen += chunk
    return srv


def runner_memory(ws: Path, env: dict[str, str]) -> tuple[int, int, int]:
    """(peak RSS KB, max USS KB, threads) of a runner waiting for a remote step."""
    marker = ws / "go"
    marker.unlink(missing_ok=True)
    argv = [SPRAYCC, "run", "--remote", "sh", "-c",
            f"touch {marker}; while [ -e {marker} ]; do sleep 0.01; done"]
    proc = subprocess.Popen(argv, cwd=ws, env=env)
    uss = threads = peak = 0
    deadline = time.monotonic() + 20
    while not marker.exists():  # the step runs: the runner is now waiting
        if time.monotonic() > deadline:
            raise SystemExit("bench: the remote step never started")
        time.sleep(0.01)
    for _ in range(20):
        rollup = Path(f"/proc/{proc.pid}/smaps_rollup").read_text()
        private = sum(int(line.split()[1]) for line in rollup.splitlines()
                      if line.startswith(("Private_Clean:", "Private_Dirty:")))
        uss = max(uss, private)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        threads = max(threads, int(status.split("Threads:")[1].split()[0]))
        peak = max(peak, int(status.split("VmHWM:")[1].split()[0]))
        time.sleep(0.005)
    marker.unlink()
    if proc.wait(20) != 0:
        raise SystemExit("bench: the waiting runner failed")
    return peak, uss, threads


def compare_cost(ws: Path) -> float:
    """Microseconds the runner spends comparing h.c's inputs (21, as the executor reports
    them) with its own view: the check's share of the runner's CPU per compile."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from spraycc.step import inputs

    names = [b"h.c", *(f"inc/h{i}.h".encode() for i in range(20))]
    seen = inputs.identities(names, os.fsencode(ws), [b"/usr/"])
    now = time.time()
    start = time.perf_counter()
    for _ in range(1000):
        assert inputs.compare(seen, str(ws), ["inc"], now) is None
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=60)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="spraycc-bench-") as tmp:
        ws = Path(tmp)
        (ws / "empty.c").write_text("")
        (ws / "inc").mkdir()
        for i in range(20):
            (ws / "inc" / f"h{i}.h").write_text(f"#define H{i} {i}\n")
        (ws / "h.c").write_text("".join(f'#include "h{i}.h"\n' for i in range(20))
                                + "#include <stdio.h>\nint h(void) { return H19; }\n")
        env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                   HOME=str(ws), SPRAYCC_HISTORY=str(ws / "history"))
        env.pop("SPRAYCC_CONFIG", None)
        (ws / ".spraycc").write_text("idle_shutdown_after = 600\nrelease_delay = 600\n")
        srv = start_server(ws, env)
        os.chdir(ws)  # posix_spawn has no cwd argument: every series runs from here
        try:
            unchecked = dict(env, SPRAYCC_CHECK_INPUTS="0")
            envs = {"unchecked": unchecked}
            cmds = {
                "gcc": ["gcc", "-c", "empty.c", "-o", "empty.o"],
                "spraycc": [SPRAYCC, "run", "gcc", "-c", "empty.c", "-o", "empty.o"],
                "python": [sys.executable, "-I", "-c", "pass"],
                "checked": [SPRAYCC, "run", "gcc", "-Iinc", "-c", "h.c", "-o", "h.o"],
                "unchecked": [SPRAYCC, "run", "gcc", "-Iinc", "-c", "h.c", "-o", "h.o"],
            }
            series: dict[str, list[float]] = {name: [] for name in cmds}
            for _ in range(5):  # warm up caches and executors
                for name, argv in cmds.items():
                    timed(argv, ws, envs.get(name, env))
            for _ in range(args.runs):
                for name, argv in cmds.items():
                    series[name].append(timed(argv, ws, envs.get(name, env), name))
            mem_rss, mem_uss, threads = runner_memory(ws, env)
            compare_us = compare_cost(ws)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(30)
    med = {k: statistics.median(v) * 1000 for k, v in series.items()}
    low = {k: min(v) * 1000 for k, v in series.items()}
    overhead = med["spraycc"] - med["gcc"]
    print(f"runs: {args.runs} each, interleaved; times in ms (median / min)")
    print(f"  gcc -c empty.c directly        {med['gcc']:7.1f} / {low['gcc']:6.1f}   (baseline)")
    print(f"  spraycc run gcc -c empty.c     {med['spraycc']:7.1f} / {low['spraycc']:6.1f}")
    print(f"  python -I -c pass              {med['python']:7.1f} / {low['python']:6.1f}"
          "   (interpreter floor)")
    print(f"overhead per task: {overhead:.1f} ms median, {low['spraycc'] - low['gcc']:.1f} ms "
          f"min (target <= 15 ms: {overhead / 15:.2f}x of target); "
          f"{med['spraycc'] / med['gcc']:.2f}x the direct gcc run")
    # Python's own start-up is most of the overhead and follows the machine's speed (this one
    # drifts ~10% between runs); what spraycc adds beyond it shows where the rest goes.
    print(f"beyond the interpreter floor: {overhead - med['python']:.1f} ms "
          "(runner imports and work, server and executor hops)")
    check = med["checked"] - med["unchecked"]
    cpu = {k: statistics.median(CPU[k]) * 1000 for k in ("checked", "unchecked")}
    print(f"input check (h.c: 21 inputs, 20 checked): {med['checked']:.1f} ms on, "
          f"{med['unchecked']:.1f} ms off (median; min {low['checked']:.1f} / "
          f"{low['unchecked']:.1f}): {check:+.2f} ms per compile wall, of which the runner's "
          f"comparison {compare_us:.0f} us (target < 1 ms)")
    print(f"  the runner process's CPU (median): {cpu['checked']:.2f} ms on, "
          f"{cpu['unchecked']:.2f} ms off: {cpu['checked'] - cpu['unchecked']:+.2f} ms")
    print(f"runner memory while waiting: peak RSS {mem_rss / 1024:.1f} MB (target <= 12), "
          f"USS {mem_uss / 1024:.1f} MB (target <= 4), threads {threads} (target 1)")


if __name__ == "__main__":
    main()
