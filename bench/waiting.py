#!/usr/bin/env python3
"""What N waiting runners cost on the submitting host, next to a plain `sleep` baseline.

    .venv/bin/python bench/waiting.py [--n 200] [--window 10]

Starts a real server (the local default: one executor per CPU) in a temporary workspace and a
private HOME, then `make -jN` of N targets, each `spraycc run --remote sleep 600`: the executors
take the first few, the other runners wait queued, as in a `make -j1000` on a login host.
Reported:
  * the seconds make needs to start them all (until the server has all N submitted), beside
    the seconds `make -jN` needs to start N plain `sleep 600` (the baseline, same run);
  * each waiting runner's USS (private memory: Private_Clean + Private_Dirty of
    /proc/PID/smaps_rollup) and RSS, median over the runners; the server's RSS;
  * CPU (user + system from /proc) over `--window` seconds of waiting: all runners together
    and the server, as a share of one core;
  * the seconds `spraycc stop --now` needs to hand every step back (until every runner has
    turned into its local `sleep`).
Everything started here is ended by PID (make's process group, the server) at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")
TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def memory(pid: int) -> tuple[float, float]:
    """(USS, RSS) in MB."""
    uss = rss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("Private_Clean", "Private_Dirty"):
                uss += int(rest.split()[0])
            elif name == "Rss":
                rss = int(rest.split()[0])
    return uss / 1024, rss / 1024


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def snapshot(ws: Path, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([SPRAYCC, "status", "--json"], cwd=ws, env=env, capture_output=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def make(ws: Path, env: dict[str, str], n: int, recipe: str) -> subprocess.Popen[bytes]:
    targets = " ".join(f"t{i}" for i in range(n))
    (ws / "Makefile").write_text(f".PHONY: all {targets}\nall: {targets}\n{targets}:\n"
                                 f"\t@{recipe}\n")
    return subprocess.Popen(["make", f"-j{n}", "-s"], cwd=ws, env=env, start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def end(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the session we started for make
    except ProcessLookupError:
        pass
    proc.wait()


def baseline(ws: Path, env: dict[str, str], n: int) -> float:
    """Seconds for make -jN to start N plain sleeps."""
    start = time.monotonic()
    proc = make(ws, env, n, "sleep 600")
    try:
        while sum(comm(c) == "sleep" for c in children(proc.pid)) < n:
            if time.monotonic() - start > 300:
                raise SystemExit("bench: make did not start the plain sleeps")
            time.sleep(0.05)
        return time.monotonic() - start
    finally:
        end(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="runners waiting at once (default 200)")
    ap.add_argument("--window", type=float, default=10.0, help="seconds of CPU sampling")
    ap.add_argument("--launcher", action="store_true", help="run the steps through the "
                    "spraycc-run launcher of `spraycc init --masquerade` instead of `spraycc run`")
    args = ap.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory(prefix="spraycc-wait-") as tmp:
        home, ws = Path(tmp) / "home", Path(tmp) / "ws"
        home.mkdir()
        ws.mkdir()
        env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "c"),
               "XDG_DATA_HOME": str(home / "d"), "XDG_STATE_HOME": str(home / "s"),
               "XDG_CACHE_HOME": str(home / "k"), "PATH": f"{BIN}:{os.environ['PATH']}"}
        env.pop("SPRAYCC_CONFIG", None)
        plain = baseline(ws, env, n)
        runner = f"{SPRAYCC} run"
        if args.launcher:
            subprocess.run([SPRAYCC, "init", "--masquerade", str(home / "bin")], env=env,
                           capture_output=True, check=True, timeout=60)
            runner = str(home / "bin" / "spraycc-run")
        srv = subprocess.Popen([SPRAYCC, "server"], cwd=ws, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        build = None
        try:
            deadline = time.monotonic() + 30
            while not (ws / ".spraycc_server").exists():
                if srv.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("bench: the server did not start")
                time.sleep(0.05)
            start = time.monotonic()
            build = make(ws, env, n, f"{runner} --remote sleep 600")
            while True:
                snap = snapshot(ws, env)
                if int(snap.get("submitted", 0)) >= n:  # type: ignore[call-overload]
                    break
                if time.monotonic() - start > 600:
                    raise SystemExit(f"bench: only {snap.get('submitted')} of {n} submitted")
                time.sleep(0.1)
            started = time.monotonic() - start
            time.sleep(1.0)  # let the last ones settle into their wait
            runners = [c for c in children(build.pid) if comm(c) != "sleep"]
            mem = [memory(pid) for pid in runners]
            srv_rss = memory(srv.pid)[1]
            before = sum(cpu(pid) for pid in runners), cpu(srv.pid)
            t0 = time.monotonic()
            time.sleep(args.window)
            after = sum(cpu(pid) for pid in runners), cpu(srv.pid)
            span = time.monotonic() - t0
            waiting = [pid for pid in runners if comm(pid) != "sleep"]
            t1 = time.monotonic()
            subprocess.run([SPRAYCC, "stop", "--now"], cwd=ws, env=env, capture_output=True,
                           timeout=120, stdin=subprocess.DEVNULL)
            while any(comm(pid) not in ("sleep", "") for pid in waiting):
                if time.monotonic() - t1 > 120:
                    raise SystemExit("bench: stop --now did not hand every step back")
                time.sleep(0.02)
            handback = time.monotonic() - t1
        finally:
            if build is not None:
                end(build)
            if srv.poll() is None:
                srv.send_signal(signal.SIGTERM)
                try:
                    srv.wait(30)
                except subprocess.TimeoutExpired:
                    srv.kill()
                    srv.wait()
    uss = statistics.median(m[0] for m in mem)
    rss = statistics.median(m[1] for m in mem)
    print(f"{n} runners waiting ({len(runners)} sampled), {os.cpu_count()} local executors, "
          f"through {'the spraycc-run launcher' if args.launcher else 'spraycc run'}")
    print(f"  make -j{n} starts them all:     {started:7.2f} s   (plain sleeps: {plain:.2f} s, "
          f"ratio {started / plain:.2f})")
    print(f"  runner USS (median):           {uss:7.2f} MB  ({uss * n:.0f} MB for all {n})")
    print(f"  runner RSS (median):           {rss:7.2f} MB")
    print(f"  server RSS:                    {srv_rss:7.1f} MB")
    print(f"  runners' CPU, all together:    {100 * (after[0] - before[0]) / span:7.2f} % of a "
          "core")
    print(f"  server CPU:                    {100 * (after[1] - before[1]) / span:7.2f} % of a "
          "core")
    print(f"  stop --now hands all back in:  {handback:7.2f} s   ({len(waiting)} waiting)")


if __name__ == "__main__":
    main()
