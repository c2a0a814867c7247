"""bench/realbuild.py --cmake runs end to end on a tiny project (docs/usage.md, "CMake at any
-j", quotes its figures): every set-up builds, its counted links match the project's, and the
two set-ups that keep links in check never ran more linkers at once than the server's local
slots (one per CPU by default) or the job pool (one per CPU by default); and the CPU it says
each spraycc build spent adds up: the compiles on the executors, the rest in ninja's tree;
--floor adds a build with a bare Python start in front of every compile."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "realbuild.py"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_cmake_bench_smoke(tmp_path: Path) -> None:
    if not shutil.which("cmake") or not shutil.which("ninja"):
        pytest.fail("cmake/ninja missing: run bin/setup-env --test")
    r = subprocess.run([sys.executable, str(BENCH), "--cmake", "--tus", "9", "--pairs", "1",
                        "--jobs", "8", "--floor"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=380, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    peaks = dict(re.findall(r"^-j8 (.+?): median ratio to plain [0-9.]+ .*peak linkers at once "
                            r"(\d+)$", r.stdout, re.MULTILINE))
    assert set(peaks) == {"compile launcher only", "compile + linker launcher through spraycc",
                          "compile launcher + a Ninja job pool for links",
                          "the floor: a bare Python start as compile launcher, no spraycc"
                          }, r.stdout
    cpus = os.cpu_count() or 1
    assert 1 <= int(peaks["compile + linker launcher through spraycc"]) <= cpus, r.stdout
    assert 1 <= int(peaks["compile launcher + a Ninja job pool for links"]) <= cpus, r.stdout
    # Where each spraycc build's CPU went: the compiles ran on the executors (their reaped
    # children), the links in ninja's tree; the server and executors spent something.
    spent = re.findall(r"^    (\w+): server \+ executors themselves ([0-9.]+) CPU-s, the steps "
                       r"they ran ([0-9.]+), the build command's tree ([0-9.]+) "
                       r"\(plain: ([0-9.]+)\)$", r.stdout, re.MULTILINE)
    assert {s[0] for s in spent} == {"compile", "linker", "pool"}, r.stdout
    for _, own, remote, tree, plain in spent:
        assert 0 < float(own) < float(remote), r.stdout
        # the same compiles' CPU varies by ~10% from build to build here: wide bounds, that
        # still fail if a part (the executors' children, ninja's tree) went uncounted
        assert float(tree) < float(plain), r.stdout
        assert 0.5 * float(plain) < float(remote) + float(tree) < 2 * float(plain), r.stdout
