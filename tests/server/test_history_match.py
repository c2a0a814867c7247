"""`spraycc history --match`: patterns as the user types them, over the keys the runner makes
(spraycc.forecast.matcher; the keys' format is spraycc.step.taskkey's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spraycc.forecast import matcher

KEYS = [
    "x86_64-linux-gnu-g++-12 -c src/a.o",
    "x86_64-linux-gnu-g++-12 -c build/src/lib/b.o",
    "x86_64-linux-gnu-g++-12 -MM src/a.d",
    "x86_64-linux-gnu-gcc-12 -c src/c.o",
    "x86_64-linux-gnu-gcc-12 -c obj/caf\udce9.o",
    "clang-14 -S asm/d.s",
    "gen tools/x.bin @tools -o $TMP/out/x.bin",
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A PATH where g++ and gcc are links to versioned drivers, as on Debian."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for real, link in (("x86_64-linux-gnu-g++-12", "g++"), ("x86_64-linux-gnu-gcc-12", "gcc"),
                       ("clang-14", "clang")):
        (bin_dir / real).write_text("#!/bin/sh\n")
        (bin_dir / real).chmod(0o755)
        os.symlink(real, bin_dir / link)
    return {"PATH": str(bin_dir)}


@pytest.mark.parametrize("pattern,want", [
    # the command as typed: the program resolves as the runner resolved it
    ("g++ -c src/*", ["x86_64-linux-gnu-g++-12 -c src/a.o",
                      "x86_64-linux-gnu-g++-12 -c build/src/lib/b.o"]),
    ("g++ -O2 -c src/a.cpp -o src/a.o", ["x86_64-linux-gnu-g++-12 -c src/a.o"]),
    ("g++ -MM src/*", ["x86_64-linux-gnu-g++-12 -MM src/a.d"]),
    ("gcc -c", ["x86_64-linux-gnu-gcc-12 -c src/c.o",
                "x86_64-linux-gnu-gcc-12 -c obj/caf\udce9.o"]),
    ("clang -S d.s", ["clang-14 -S asm/d.s"]),
    ("gen -o x.bin", ["gen tools/x.bin @tools -o $TMP/out/x.bin"]),
    # the output path alone, or a glob or a trailing part of it
    ("src/a.o", ["x86_64-linux-gnu-g++-12 -c src/a.o"]),
    ("./src/a.o", ["x86_64-linux-gnu-g++-12 -c src/a.o"]),
    ("b.o", ["x86_64-linux-gnu-g++-12 -c build/src/lib/b.o"]),
    ("lib/*.o", ["x86_64-linux-gnu-g++-12 -c build/src/lib/b.o"]),
    ("obj/caf\udce9.o", ["x86_64-linux-gnu-gcc-12 -c obj/caf\udce9.o"]),
    ("tools/x.bin", ["gen tools/x.bin @tools -o $TMP/out/x.bin"]),
    # the program alone; the whole key as a glob, as before
    ("clang", ["clang-14 -S asm/d.s"]),
    ("*gcc-12 -c src/*", ["x86_64-linux-gnu-gcc-12 -c src/c.o"]),
    ("g++ -c nosuch.o", []),
    ("ld", []),
])
def test_match_what_the_user_typed(env: dict[str, str], tmp_path: Path, pattern: str,
                                   want: list[str]) -> None:
    wanted = matcher(pattern, str(tmp_path), env)
    assert [key for key in KEYS if wanted(key)] == want


def test_empty_pattern_matches_everything(env: dict[str, str], tmp_path: Path) -> None:
    assert all(matcher("", str(tmp_path), env)(key) for key in KEYS)
