"""A real third-party project built through spraycc: Debian's zstd (source package libzstd).

The static library (lib/Makefile: objects, then `ar`) and the zstd command-line program
(programs/Makefile: the library sources again plus the CLI, then a link) are built with their
own Makefiles (`-MT $@ -MMD -MP -MF` dependency files, the amd64 .S decoder) once plainly with
CC=gcc and once with CC="spraycc run gcc" (AR and the rest untouched) through a real server
with local executors, in trees extracted one after the other at the same path (debug info
holds absolute paths). Every object, every .d file, the archive and the linked program must be
byte-identical. Then the same headers are touched in both trees and make must recompile
exactly the same objects, which only happens when the .d files written through spraycc are
right (and their mtimes too: an object older than its .d is rebuilt).

The source comes from `apt-get source` (tests/debsrc.py), cached after the first download;
the test skips with the reason when it cannot be fetched, and fails instead under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from debsrc import Unavailable, extract, source_package
from harness.capability import unavailable
from helpers import SPRAYCC, run, running_server, snapshot

# -O1 -g: debug info records paths and switches, and the build stays quick on two CPUs. A
# fixed HASH_DIR: zstd names its object directory after a hash of $(CC) and the flags.
COMMON = ["-j4", "CFLAGS=-O1 -g", "HASH_DIR=conf_test", "ZSTD_LEGACY_SUPPORT=0"]
MAKES = [
    ["-C", "lib", *COMMON, "libzstd.a"],
    ["-C", "programs", *COMMON, "HAVE_ZLIB=0", "HAVE_LZMA=0", "HAVE_LZ4=0", "zstd"],
]
BUILDS = ["lib/obj/conf_test/static", "programs/obj/conf_test"]
PRODUCTS = ["lib/libzstd.a", "programs/zstd"]
# Headers to touch, one after the other: a narrow one and one the CLI alone includes.
TOUCHED = ["lib/decompress/zstd_decompress_block.h", "programs/timefn.h"]
CONFIG = "idle_shutdown_after = 900\nrelease_delay = 900\nlocal_count = 2\n"


def _build(tree: Path, env: dict[str, str], cc: str) -> set[str]:
    """Run the makes; return the objects compiled (from the "CC obj/..." / "AS ..." lines)."""
    compiled = set()
    for args in MAKES:
        r = run(["make", *args, f"CC={cc}"], tree, env, timeout=600)
        out = r.stdout.decode(errors="replace")
        assert r.returncode == 0, out[-2000:] + r.stderr.decode(errors="replace")[-3000:]
        compiled |= {f"{args[1]}/{o}" for o in re.findall(r"^(?:CC|AS) (\S+\.o)$", out, re.M)}
    return compiled


def _outputs(tree: Path) -> dict[str, tuple[bytes, int]]:
    got = {}
    for build in BUILDS:
        found = snapshot(tree / build)
        got.update({f"{build}/{name}": v for name, v in found.items()})
    for product in PRODUCTS:
        got[product] = ((tree / product).read_bytes(), (tree / product).stat().st_mode & 0o7777)
    return got


def _touch(tree: Path, rel: str) -> None:
    """Make `rel` newer than everything built so far, by the file system's own clock (which
    also stamps the objects make writes next; it ticks coarser than nanoseconds)."""
    newest = max(p.stat().st_mtime_ns for b in BUILDS for p in (tree / b).iterdir())
    deadline = time.monotonic() + 5
    while True:
        os.utime(tree / rel)
        if (tree / rel).stat().st_mtime_ns > newest:
            return
        assert time.monotonic() < deadline, "the file system clock does not advance"


def _session(tree: Path, env: dict[str, str], cc: str) -> list[tuple[set[str], dict]]:
    """Full build, then one rebuild per touched header: [(compiled, outputs)] per build."""
    steps = [(_build(tree, env, cc), _outputs(tree))]
    for header in TOUCHED:
        _touch(tree, header)
        steps.append((_build(tree, env, cc), _outputs(tree)))
    return steps


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_zstd_built_through_spraycc_is_identical(tmp_path: Path, env: dict[str, str]) -> None:
    if shutil.which("dpkg-source") is None or shutil.which("make") is None:
        unavailable("dpkg-source and make are needed")
    try:
        dsc = source_package("libzstd")
    except Unavailable as exc:
        unavailable(str(exc))
    ws = tmp_path / "ws"
    ws.mkdir()
    tree = ws / "zstd"

    extract(dsc, tree)
    plain = _session(tree, env, "gcc")
    shutil.rmtree(tree)

    extract(dsc, tree)
    with running_server(ws, env, config=CONFIG) as srv:
        spray = _session(tree, env, f"{SPRAYCC} run gcc")
    log = srv.collect()

    (compiled, want), (compiled_s, got) = plain[0], spray[0]
    assert len(compiled) >= 70 and any(o.endswith("_amd64.o") for o in compiled), compiled
    assert compiled_s == compiled
    assert sorted(got) == sorted(want)
    assert sum(n.endswith(".d") for n in want) >= 60  # (the .S objects have none)
    for name in want:
        assert got[name] == want[name], f"{name} differs from the plain build"
    for i, header in enumerate(TOUCHED, 1):
        (again, want), (again_s, got) = plain[i], spray[i]
        assert again and len(again) < len(compiled), (header, again)
        assert again_s == again, f"after touching {header}: {again_s ^ again} differ"
        assert got == want, f"after touching {header} the outputs differ"
    assert "remote tasks" in log
