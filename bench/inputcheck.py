#!/usr/bin/env python3
"""What the input check costs on a real build: examples/demo through spraycc, check on and off.

    .venv/bin/python bench/inputcheck.py [--rounds N] [--jobs J]

Starts one server (local executors) on a copy of examples/demo and builds it `--rounds` times
with the check on and as many with it off (SPRAYCC_CHECK_INPUTS=0), alternating in ABBA
order, from clean,
with `make -jJ LAUNCHER="spraycc run"`. Prints each build's wall time, the medians, their
ratio and the difference per compile; every build's objects must be byte-identical to the
first's (docs/usage.md, "Inputs are checked").
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from overhead import start_server  # bench/ is on sys.path when a bench runs

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")


def build(ws: Path, env: dict[str, str], jobs: int) -> tuple[float, dict[str, bytes]]:
    shutil.rmtree(ws / "build", ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run(["make", "-s", f"-j{jobs}", f"LAUNCHER={SPRAYCC} run"], cwd=ws,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=900)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: the build failed: {done.stderr.decode()[-2000:]}")
    objects = {str(p.relative_to(ws)): p.read_bytes() for p in sorted(ws.rglob("build/**/*.o"))}
    return took, objects


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="spraycc-bench-") as tmp:
        ws = Path(tmp) / "demo"
        shutil.copytree(ROOT / "examples" / "demo", ws,
                        ignore=shutil.ignore_patterns("build", "build*"))
        env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                   HOME=tmp, SPRAYCC_HISTORY=str(Path(tmp) / "history"))
        env.pop("SPRAYCC_CONFIG", None)
        (ws / ".spraycc").write_text("idle_shutdown_after = 600\nrelease_delay = 600\n")
        srv = start_server(ws, env)
        times: dict[str, list[float]] = {"on": [], "off": []}
        reference: dict[str, bytes] | None = None
        try:
            build(ws, env, args.jobs)  # warm-up: page cache, executors started
            for round_ in range(args.rounds):
                # ABBA order: whichever build comes first in a pair (caches) does not favour
                # one mode
                for mode in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                    run_env = env if mode == "on" else dict(env, SPRAYCC_CHECK_INPUTS="0")
                    took, objects = build(ws, run_env, args.jobs)
                    reference = reference if reference is not None else objects
                    if objects != reference:
                        raise SystemExit("bench: objects differ between builds")
                    times[mode].append(took)
                    print(f"  check {mode:3}  {took:6.2f} s")
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait(30)
    compiles = len(reference or {})
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"examples/demo, make -j{args.jobs}, {compiles} compiles, {args.rounds} builds each, "
          f"alternating: check on {on:.2f} s, off {off:.2f} s (medians): {on / off:.3f}x, "
          f"{(on - off) / max(compiles, 1) * 1000:+.2f} ms per compile of wall time; "
          "objects byte-identical")


if __name__ == "__main__":
    main()
