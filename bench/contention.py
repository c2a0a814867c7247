#!/usr/bin/env python3
"""What running more compiles at once than the host has CPUs costs in CPU, paired rounds.

    .venv/bin/python bench/contention.py [--rounds 8] [--at 8] [--tus 24]

Compiles the same --tus C++ sources (the CMake bench's, bench/realbuild.py, at `-O3`) with
`xargs -P`: CPU-count at once (the baseline, what plain `make -j$(nproc)` runs) and --at at
once. Each round runs both twice, in A B B A order (B A A B the next round), so drift in the
machine's speed hits both alike. Printed per round: the compilers' CPU-seconds at each width
(getrusage(2) RUSAGE_CHILDREN) and their ratio; then the median ratio over the rounds.

The same work takes more CPU when more compilers than CPUs take turns on them; the ratio is
how much more on this machine. It is why, on the local default, a local step waits for a CPU
that a local executor holds (docs/usage.md, "Local steps and local executors share the
host"): two executors compiling and two links beside them are four processes on two CPUs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
from pathlib import Path

# bench/ is on sys.path when a bench runs
from realbuild import TU

CPUS = os.cpu_count() or 1


def compiles(sources: list[Path], out: Path, at: int) -> float:
    """CPU-seconds of compiling every source, `at` compilers at a time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = f'exec g++ -std=gnu++17 -O3 -DNDEBUG -c "$1" -o "{out}/$(basename "$1").o"'
    subprocess.run(["xargs", "-P", str(at), "-n", "1", "sh", "-c", cmd, "sh"],
                   input="\n".join(str(s) for s in sources).encode(), check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--at", type=int, default=4 * CPUS, help="compilers at once (default 4x CPUs)")
    ap.add_argument("--tus", type=int, default=24)
    args = ap.parse_args()
    if args.rounds < 1 or args.tus < 1 or args.at < 1:
        raise SystemExit("bench: --rounds, --at and --tus take a positive number")
    if args.at == CPUS:
        raise SystemExit(f"bench: --at {args.at} is the baseline itself (one per CPU)")
    with tempfile.TemporaryDirectory(prefix="spraycc-contention-") as tmp:
        root = Path(tmp)
        sources = [root / f"u{i}.cpp" for i in range(args.tus)]
        for i, src in enumerate(sources):
            src.write_text(TU.replace("@N@", str(i)))
        out = root / "out"
        out.mkdir()
        print(f"{args.tus} C++ compiles, {CPUS} at once (baseline) against {args.at} at once, "
              f"{args.rounds} rounds", flush=True)
        ratios = []
        for r in range(args.rounds):
            order = [CPUS, args.at, args.at, CPUS] if r % 2 == 0 else [args.at, CPUS, CPUS, args.at]
            cpu = {CPUS: 0.0, args.at: 0.0}
            for at in order:
                cpu[at] += compiles(sources, out, at) / 2
            ratios.append(cpu[args.at] / cpu[CPUS])
            print(f"  round {r + 1}: {CPUS} at once {cpu[CPUS]:.1f} CPU-s, {args.at} at once "
                  f"{cpu[args.at]:.1f} CPU-s: {ratios[-1]:.3f}", flush=True)
        median = statistics.median(ratios)
        print(f"{args.at} compilers at once on {CPUS} CPUs: median {median:.3f}x the CPU of {CPUS} "
              f"at once (min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    main()
