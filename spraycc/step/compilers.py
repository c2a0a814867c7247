"""Which compiler a command runs: PATH look-up, symlinks, ccache chains, compiler family.

`find_driver(argv, cwd, env)` names the program execvp would run for argv[0], follows its
symlinks (/usr/bin/cc -> /etc/alternatives/cc -> gcc-12 -> x86_64-linux-gnu-gcc-12) to tell
gcc from clang, and looks through ccache (`ccache gcc …`, or a masquerade directory such as
/usr/lib/ccache on PATH) to the compiler ccache would run. It only reads the file system.

Runner-path module (imported once per compile): imports only `os`.
"""

from __future__ import annotations

import os

from spraycc.step import flags
from spraycc.step.flags import COMPILER_NAMES


def compiler_family(name: str) -> str | None:
    """Return "gcc" or "clang" when basename `name` is a C/C++ compiler driver, else None.

    Accepts a cross prefix ending in "-" and a numeric version suffix: x86_64-linux-gnu-gcc-12,
    clang++-14, arm-none-eabi-g++, cc, c++. Rejects gcc-ar/gcc-nm/gcc-ranlib and the
    c89-gcc/c99-gcc wrapper scripts.
    """
    stem = name
    dash = stem.rfind("-")
    if dash > 0 and stem[dash + 1 :].replace(".", "").isdigit():
        stem = stem[:dash]
    for cand in COMPILER_NAMES:
        if stem.endswith(cand):
            prefix = stem[: len(stem) - len(cand)]
            if prefix and (not prefix.endswith("-") or prefix in ("c89-", "c99-")):
                continue
            return "clang" if cand.startswith("clang") else "gcc"
    return None


def is_query(argv: list[str]) -> bool:
    """`argv` only asks a compiler about itself (`gcc -dumpmachine`, `cc --version`,
    `gcc -std=gnu99 -print-multiarch`): a compiler's name, then words that all start with `-`
    (no file, no `@file`, no `-` for stdin, no value of a separate option such as `-o out`),
    one of them a query (flags.QUERY_*). Such a command compiles nothing: it runs here at
    once, as the classifier would have it run (locally, being no compile), before the runner
    is even loaded and without a local slot from the server (dpkg-buildflags runs
    `$CC -dumpmachine` for every expansion of a Makefile's flags, serially inside make).
    Anything else returns False and is classified."""
    if len(argv) < 2 or compiler_family(os.path.basename(argv[0])) is None:
        return False
    query = False
    for a in argv[1:]:
        if len(a) < 2 or a[0] != "-":
            return False
        if a in flags.QUERY_EXACT or a.startswith(flags.QUERY_PREFIXES):
            query = True
    return query


def driver_version(path: str) -> int | None:
    """The major version in a driver's file name (x86_64-linux-gnu-gcc-12 -> 12), or None."""
    name = os.path.basename(path)
    dash = name.rfind("-")
    major = name[dash + 1 :].partition(".")[0]
    return int(major) if dash > 0 and major.isdigit() else None


def find_program(prog: str, cwd: str, env: dict[str, str], skip_ccache: bool) -> str | None:
    """The file execvp would run for `prog` (ccache's look-up with skip_ccache), or None."""
    if "/" in prog:
        candidates = [prog]
    else:
        candidates = [os.path.join(d, prog) for d in env.get("PATH", os.defpath).split(":")]
    for c in candidates:
        path = os.path.join(cwd, c)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            if skip_ccache and is_ccache(path):
                continue
            return path
    return None


def resolve_links(path: str) -> str:
    """Follow symlinks of the last path component (/usr/bin/cc -> /etc/alternatives/cc ->
    /usr/bin/gcc -> gcc-12 -> x86_64-linux-gnu-gcc-12): enough to name the real driver, and
    a few readlink calls instead of realpath's lstat of every directory."""
    for _ in range(40):
        try:
            target = os.readlink(path)
        except OSError:
            break
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return path


def is_ccache(path: str) -> bool:
    return os.path.basename(resolve_links(path)) == "ccache"


class Driver:
    """The compiler a command line runs.

    head: argv[0] for the remote command; args: the compiler's arguments (after ccache's);
    real: the resolved driver binary (or what was looked for, when not found); family: "gcc"
    or "clang"; reason: why the command is not a compiler we handle ("" when it is).
    """

    __slots__ = ("args", "family", "head", "real", "reason")

    def __init__(
        self, head: str, args: list[str], real: str, family: str = "", reason: str = ""
    ) -> None:
        self.head = head
        self.args = args
        self.real = real
        self.family = family
        self.reason = reason


def find_driver(argv: list[str], cwd: str, env: dict[str, str]) -> Driver:
    """The compiler `argv` (non-empty) runs in `cwd` with `env`, looking through ccache."""
    prog, args = argv[0], argv[1:]
    found = find_program(prog, cwd, env, False)
    if found is None:
        return Driver(prog, args, prog, reason=f"{prog}: not found on PATH")
    real = resolve_links(found)
    head = prog
    if os.path.basename(real) == "ccache":
        # ccache on a cluster host would write the shared cache directory from there. Strip
        # it and run the compiler ccache would run: the result of a cache miss.
        if os.path.basename(prog) == "ccache" or compiler_family(os.path.basename(prog)) is None:
            if not args or args[0][:1] == "-":
                return Driver(prog, args, real, reason="not a compile: ccache command")
            name, args = args[0], args[1:]
        else:
            name = os.path.basename(prog)  # a masquerade link such as /usr/lib/ccache/gcc
        found = find_program(name, cwd, env, True)
        if found is None:
            return Driver(name, args, name, reason=f"{name}: no compiler found past ccache")
        real = resolve_links(found)
        # Keep the name the user wrote when it finds the same compiler (diagnostics print the
        # basename of argv[0]); a masquerade directory on PATH needs the full path.
        head = name if find_program(name, cwd, env, False) == found else found
    family = compiler_family(os.path.basename(real))
    if family is None:
        return Driver(head, args, real, reason=f"{prog} is not a known compiler")
    return Driver(head, args, real, family)
