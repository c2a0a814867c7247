"""Task keys (spraycc.step.taskkey): the one definition of how a step is named in the history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import with_packages

from spraycc.step import taskkey
from spraycc.step.taskkey import is_dependency, mode_of, split_key, task_key

ROOT = Path(__file__).resolve().parents[2]


def compile_key(ws: str, rel_cwd: str, argv: list[str], target: str | None) -> str:
    """What the runner does for a classified compile."""
    return task_key(ws, os.path.join(ws, rel_cwd), argv[0], target, mode_of(argv), argv[1:])


@pytest.mark.parametrize(
    ("rel_cwd", "argv", "target", "expected"),
    [
        ("src/lib", ["g++-12", "-c", "foo.cc", "-o", "foo.o"], "foo.o", "g++-12 -c src/lib/foo.o"),
        (
            "src",
            ["/usr/bin/x86_64-linux-gnu-gcc-12", "-c", "a.c"],
            "a.o",
            "x86_64-linux-gnu-gcc-12 -c src/a.o",
        ),
        ("build", ["gcc", "-c", "../src/a.c", "-o", "obj/a.o"], "obj/a.o", "gcc -c build/obj/a.o"),
        ("src", ["gcc", "-E", "-DX", "a.c"], "a.c", "gcc -E src/a.c"),
        ("src", ["clang", "-MM", "-MF", "a.d", "a.c"], "a.d", "clang -MM src/a.d"),
        ("src", ["gcc", "-M", "-E", "a.c"], "a.c", "gcc -M src/a.c"),
        ("src", ["gcc", "-S", "-c", "a.c"], "a.s", "gcc -S src/a.s"),
        ("", ["gcc", "-S", "a.c", "-o", "/tmp/out/a.s"], "/tmp/out/a.s", "gcc -S /tmp/out/a.s"),
        ("", ["gcc", "-c", "../../x/a.c", "-o", "../out/a.o"], "../out/a.o", None),
    ],
)
def test_compile_key_is_the_same_in_two_checkouts(
    rel_cwd: str, argv: list[str], target: str | None, expected: str | None
) -> None:
    keys = {compile_key(ws, rel_cwd, argv, target) for ws in ("/home/a/ws1", "/scratch/b/two")}
    if expected is None:  # a path outside the workspace stays absolute: not portable
        assert keys == {"gcc -c /home/a/out/a.o", "gcc -c /scratch/b/out/a.o"}
    else:
        assert keys == {expected}


def test_modes_and_steps_are_distinguished() -> None:
    ws = "/ws"
    keys = {
        compile_key(ws, "", ["g++", "-c", "a.cc"], "a.o"),
        compile_key(ws, "", ["g++", "-c", "a.cc"], "b.o"),
        compile_key(ws, "sub", ["g++", "-c", "a.cc"], "a.o"),
        compile_key(ws, "", ["clang++", "-c", "a.cc"], "a.o"),
        compile_key(ws, "", ["g++", "-E", "a.cc"], "a.cc"),  # -E a.c and -M a.c differ
        compile_key(ws, "", ["g++", "-M", "a.cc"], "a.cc"),
        compile_key(ws, "", ["g++", "-MM", "a.cc"], "a.cc"),
        compile_key(ws, "", ["g++", "-S", "a.cc"], "a.cc"),
    }
    assert len(keys) == 8


def test_mode_of() -> None:
    assert mode_of(["gcc", "-c", "a.c"]) == "-c"
    assert mode_of(["gcc", "-c", "-S", "a.c"]) == "-S"
    assert mode_of(["gcc", "-S", "-E", "a.c"]) == "-E"
    assert mode_of(["gcc", "-E", "-MM", "a.c"]) == "-MM"
    assert mode_of(["gcc", "-MD", "-MMD", "-c", "a.c"]) == "-c"  # -MD/-MMD are not modes
    assert mode_of(["gcc", "@args.rsp"]) == ""
    assert mode_of(["-c"]) == ""  # argv[0] is the program


def test_other_commands_are_keyed_by_arguments() -> None:
    def key(ws: str) -> str:
        argv = ["ar", "rcs", f"{ws}/lib/libx.a", f"-L{ws}/o", "\x00/0/out"]
        return task_key(ws, f"{ws}/lib", "ar", "libx.a", "", argv[1:])

    want = "ar lib/libx.a @lib rcs $WS/lib/libx.a -L$WS/o $TMP/0/out"
    assert key("/a/ws") == key("/b/other") == want
    # Without an output file: the arguments tell steps apart.
    one = task_key("/ws", "/ws", "sh", None, "", ["-c", "sleep 1"])
    two = task_key("/ws", "/ws", "sh", None, "", ["-c", "sleep 2"])
    assert one == "sh - @. -c sleep 1" and one != two
    # A forced-remote `sh -c ...` is not a compile even though it has -c: no mode given.
    assert split_key(one) == ("sh", "", "- @. -c sleep 1")


def test_long_keys_are_shortened_but_stay_distinct() -> None:
    a = [f"--option-{i}=value" for i in range(40)]
    b = [*a[:-1], "--option-39=other"]
    ka = task_key("/ws", "/ws", "tool", None, "", a)
    kb = task_key("/ws", "/ws", "tool", None, "", b)
    assert len(ka) <= taskkey.MAX_KEY_CHARS and len(kb) <= taskkey.MAX_KEY_CHARS
    assert ka != kb and ka.startswith("tool - @. --option-0=value")
    assert ka == task_key("/other", "/other", "tool", None, "", a)
    assert taskkey.fnv1a64("") == 0xCBF29CE484222325  # FNV-1a reference values
    assert taskkey.fnv1a64("a") == 0xAF63DC4C8601EC8C


def test_split_key_and_dependency() -> None:
    assert split_key("gcc -c src/a.o") == ("gcc", "-c", "src/a.o")
    assert split_key("gcc -MM src/a d.d") == ("gcc", "-MM", "src/a d.d")
    assert is_dependency("gcc -M src/a.c") and is_dependency("clang -MM a.d")
    assert not is_dependency("gcc -c a.o") and not is_dependency("sh - @. -M")


def test_relative() -> None:
    assert taskkey.relative("/ws", "/ws/src", "a.o") == "src/a.o"
    assert taskkey.relative("/ws/", "/ws", ".") == "."
    assert taskkey.relative("/ws", "/ws", "/wsx/a.o") == "/wsx/a.o"  # not under /ws
    assert taskkey.relative("/", "/x", "a.o") == "x/a.o"


def test_import_is_cheap() -> None:
    """The runner imports this module once per compile: builtins only."""
    code = (
        "import sys; before = set(sys.modules); import spraycc.step.taskkey; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    allowed = with_packages({"spraycc.step.taskkey", "spraycc.oslite"}) | {"__future__"}
    assert set(out) <= allowed, out
