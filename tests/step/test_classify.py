"""Tests for spraycc.step.classify: where each command line runs and which files it touches.

Two layers:
1. Pure tables (hermetic): a fake PATH of stub compilers, many real-world command lines, each
   row asserting remote/local, outputs (path and collect dir), inputs and dependency_task.
2. Fidelity against real compilers: a subset runs through `classify` + the executor/runner
   emulation in tests/fidelity.py and directly, on identical trees at the same path; exit
   code, stdout, stderr and every file (bytes and mode) must be identical. Rows with stale
   targets check the failure behaviour (on_missing, keep_mode). Skipped without the compiler.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest
from fidelity import compare_with_local, describe_difference, run_like_executor
from fidelity_rows import CLANG_ROWS, GCC_ROWS, SOURCES, RowSpec
from helpers import with_packages

from spraycc.step import classify as classify_module
from spraycc.step.classify import (
    TMP,
    Decision,
    Output,
    as_json_dict,
    classify,
    compiler_family,
    split_response_file,
)
from spraycc.step.compilers import is_query

# ---------------------------------------------------------------------------------------------
# Layer 1: hermetic tables
# ---------------------------------------------------------------------------------------------

_STUBS = [
    "gcc", "g++", "gcc-11", "gcc-12", "g++-12", "x86_64-linux-gnu-gcc-12",
    "x86_64-linux-gnu-g++-12", "arm-none-eabi-gcc", "clang-14", "ccache", "ld", "ar", "ranlib",
    "gcc-ar", "depcomp", "c99-gcc", "distcc", "icx",
]  # fmt: skip
_LINKS = {
    "cc": "gcc", "c++": "g++", "clang": "clang-14", "clang++": "clang-14",
    "clang++-14": "clang-14", "mycc": "x86_64-linux-gnu-gcc-12",
}  # fmt: skip
_MASQUERADE = ["gcc", "g++", "cc", "c++", "clang"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A fake PATH (bin/, a ccache masquerade dir) and a project directory with some files."""
    root = tmp_path_factory.mktemp("world")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in _STUBS:
        p = bin_dir / name
        p.write_text("#!/bin/sh\nexit 0\n")
        p.chmod(0o755)
    for name, target in _LINKS.items():
        (bin_dir / name).symlink_to(target)
    masq = root / "ccache-bin"
    masq.mkdir()
    for name in _MASQUERADE:
        (masq / name).symlink_to("../bin/ccache")
    proj = root / "proj"
    (proj / "obj").mkdir(parents=True)
    (proj / "tools").mkdir()
    (proj / "tools" / "mygcc").symlink_to(bin_dir / "gcc")
    files = {
        "flags.rsp": "-O2 -DX=1 '-DMSG=\"a b\"' -Iinc\n",
        "out.rsp": "-c a.c -o obj/a.o\n",
        "outer.rsp": "-Wall @flags.rsp\n",
        "cmake_includes.rsp": "-I/src/include -isystem /usr/include/eigen3\n",
        "exists.d": "",
    }
    for name, text in files.items():
        (proj / name).write_text(text)
    (proj / "link.c").symlink_to("a.c")
    for d in ("deps", "out", "CMakeFiles/lib.dir/src", "CMakeFiles/x.dir", "abs/obj", ".libs",
              ".deps", "kernel", "arch/x86/entry", "x"):  # fmt: skip
        (proj / d).mkdir(parents=True, exist_ok=True)
    return {"root": str(root), "bin": str(bin_dir), "masq": str(masq), "proj": str(proj)}


def _env(world, masquerade: bool = False, **extra: str) -> dict[str, str]:
    path = world["bin"]
    if masquerade:
        path = world["masq"] + ":" + path
    env = {"PATH": path, "HOME": "/nonexistent"}
    env.update(extra)
    return env


class R:
    """One table row. `out` lists "path=collect" pairs (comma separated); `local` is a
    substring of the expected reason for a local decision."""

    def __init__(
        self,
        cmd: str,
        out: str | None = None,
        local: str | None = None,
        inputs: str | None = None,
        dep: bool = False,
        argv: str | None = None,
        missing: str | None = None,
        env: dict[str, str] | None = None,
        masq: bool = False,
        id: str | None = None,
    ) -> None:
        self.cmd = cmd
        self.out = out
        self.local = local
        self.inputs = inputs
        self.dep = dep
        self.argv = argv
        self.missing = missing
        self.env = env or {}
        self.masq = masq
        self.id = id or cmd[:60]


CMAKE_CXX = (
    "/usr/bin/c++ -DFOO=1 -I/src/include -isystem /usr/include/eigen3 -O3 -DNDEBUG "
    "-std=gnu++17 -fPIC -MD -MT CMakeFiles/lib.dir/src/a.cpp.o "
    "-MF CMakeFiles/lib.dir/src/a.cpp.o.d -o CMakeFiles/lib.dir/src/a.cpp.o -c /src/a.cpp"
)
KERNEL_C = (
    "gcc -Wp,-MMD,kernel/.fork.o.d -nostdinc -I./arch/x86/include -I./include "
    "-include ./include/linux/kconfig.h -D__KERNEL__ -fmacro-prefix-map=./= -Wall -Wundef "
    "-Werror=strict-prototypes -fno-strict-aliasing -fno-common -fshort-wchar -fno-PIE "
    "-std=gnu11 -mno-sse -mno-mmx -mno-sse2 -mno-avx -fcf-protection=none -m64 "
    "-falign-jumps=1 -mno-red-zone -mcmodel=kernel -mindirect-branch=thunk-extern "
    "-mfunction-return=thunk-extern -fpatchable-function-entry=16,16 -O2 "
    "-fstack-protector-strong -pg -mrecord-mcount -mfentry -DCC_USING_FENTRY "
    "-ftrivial-auto-var-init=zero -g -gdwarf-5 '-DKBUILD_MODFILE=\"kernel/fork\"' "
    "-DKBUILD_BASENAME='\"fork\"' -D__KBUILD_MODNAME=kmod_fork -c -o kernel/fork.o kernel/fork.c"
)

ROWS = [
    # --- plain make, implicit rules, -MMD -MP ---------------------------------------------
    R("cc -c a.c", out="a.o=0/a.o", argv="cc -c a.c -o <tmp>/0/a.o", missing="as-failed"),
    R("cc -O2 -c -o main.o main.c", out="main.o=0/main.o"),
    R("cc -O2 -Wall -MMD -MP -c -o main.o main.c", out="main.o=0/main.o,main.d=0/main.d",
      argv="cc -O2 -Wall -MMD -MP -c -o <tmp>/0/main.o main.c -MQ main.o"),
    R("gcc -c a.c -o obj/a.o -MMD", out="obj/a.o=0/a.o,obj/a.d=0/a.d",
      argv="gcc -c a.c -o <tmp>/0/a.o -MMD -MQ obj/a.o", missing="as-failed,keep"),
    R("gcc -c a.c -MD", out="a.o=0/a.o,a.d=0/a.d", argv="gcc -c a.c -MD -o <tmp>/0/a.o -MQ a.o"),
    R("gcc -c src/x.c -MD", out="x.o=0/x.o,x.d=0/x.d", inputs="src/x.c",
      argv="gcc -c src/x.c -MD -o <tmp>/0/x.o -MQ x.o"),
    R("gcc -c -MMD -MF deps/a.d a.c -o obj/a.o", out="obj/a.o=0/a.o,deps/a.d=1/a.d",
      argv="gcc -c -MMD -MF <tmp>/1/a.d a.c -o <tmp>/0/a.o -MQ obj/a.o"),
    R("gcc -c -MMD -MFdeps/a.d a.c -o obj/a.o", out="obj/a.o=0/a.o,deps/a.d=1/a.d",
      argv="gcc -c -MMD -MF <tmp>/1/a.d a.c -o <tmp>/0/a.o -MQ obj/a.o"),
    R("gcc -c a.c -oobj/a.o", out="obj/a.o=0/a.o", argv="gcc -c a.c -o <tmp>/0/a.o"),
    R("gcc -c a.c -o obj/a.o -MD -MT 'obj/a.o obj/a.d'", out="obj/a.o=0/a.o,obj/a.d=0/a.d",
      argv="gcc -c a.c -o <tmp>/0/a.o -MD -MT 'obj/a.o obj/a.d'"),
    R("gcc -c a.c -o obj/a.o -MD -MQ obj/a.o", out="obj/a.o=0/a.o,obj/a.d=0/a.d",
      argv="gcc -c a.c -o <tmp>/0/a.o -MD -MQ obj/a.o"),
    R("gcc -c a.c -o obj/a.o -MTfoo -MD", out="obj/a.o=0/a.o,obj/a.d=0/a.d",
      argv="gcc -c a.c -o <tmp>/0/a.o -MTfoo -MD"),
    R("gcc -c a.c -o 'obj/a b.o' -MD", out="obj/a b.o=0/a b.o,obj/a b.d=0/a b.d",
      argv="gcc -c a.c -o '<tmp>/0/a b.o' -MD -MQ 'obj/a b.o'"),
    R("gcc -c a.c -o obj/a.b.o -MD", out="obj/a.b.o=0/a.b.o,obj/a.b.d=0/a.b.d"),
    R("gcc -c a.c -o obj/a -MD", out="obj/a=0/a,obj/a.d=0/a.d"),
    R("gcc -c a.c -o {proj}/abs/obj/a.o -MD",
      out="{proj}/abs/obj/a.o=0/a.o,{proj}/abs/obj/a.d=0/a.d"),
    R("gcc -c a.c -o /nonexistent/a.o", local="does not exist"),
    R("gcc -c a.c -o nodir/a.o", local="does not exist"),
    R("gcc -c a.c -o a.o -MD -MF nodir/a.d", local="does not exist"),
    R("gcc -c a.c -o /dev/null", local="not a regular file"),
    R("gcc -c a.c -o a.o -MD -MF /dev/null", out="a.o=0/a.o",
      argv="gcc -c a.c -o <tmp>/0/a.o -MD -MF <tmp>/1/null.d -MQ a.o"),
    R("gcc -c a.c -o a.o --write-dependencies -MF/dev/null", out="a.o=0/a.o"),
    R("gcc -c a.c -o obj", local="not a regular file"),
    R("gcc -c a.c", local="GCC_COMPARE_DEBUG", env={"GCC_COMPARE_DEBUG": "1"}, id="compare-debug"),
    R("clang -c a.c", local="CCC_OVERRIDE_OPTIONS", env={"CCC_OVERRIDE_OPTIONS": "+-O0"},
      id="clang-override"),
    R("clang -c a.c -frecord-command-line", local="embeds the command line"),
    R("clang -g -c a.c -grecord-gcc-switches", local="embeds the command line"),
    R("clang -g -c a.c -gno-record-gcc-switches", out="a.o=0/a.o"),
    R("clang -c a.c -fembed-bitcode", local="embeds the command line"),
    R("gcc -g -c a.c -grecord-gcc-switches -frecord-gcc-switches", out="a.o=0/a.o"),
    R("gcc -c a.c -o obj/1.o -o obj/2.o", out="obj/2.o=0/2.o",
      argv="gcc -c a.c -o obj/1.o -o <tmp>/0/2.o"),
    R("gcc -c a.tar.c", out="a.tar.o=0/a.tar.o"),
    R("gcc -c -x c foo", out="foo.o=0/foo.o", inputs="foo"),
    R("gcc -x c -c foo.txt -o foo.o", out="foo.o=0/foo.o"),
    R("gcc -c a.c -MD -MF - -o obj/a.o", out="obj/a.o=0/a.o",
      argv="gcc -c a.c -MD -MF - -o <tmp>/0/a.o -MQ obj/a.o"),
    R("gcc -c a.c -pipe -o a.o", out="a.o=0/a.o", missing="delete"),
    R("gcc -c a.c -g -O2 -Wall -Wextra -Werror -Wno-unused -fPIC -fvisibility=hidden -o a.o",
      out="a.o=0/a.o"),
    R("gcc -c a.c -o a.o foo.o -lm", out="a.o=0/a.o", inputs="a.c,foo.o"),
    # --- -S, -E, -M ---------------------------------------------------------------------
    R("gcc -S a.c", out="a.s=0/a.s", argv="gcc -S a.c -o <tmp>/0/a.s", missing="delete"),
    R("gcc -S a.c -o out/a.s", out="out/a.s=0/a.s", missing="delete"),
    R("gcc -S -c a.c", out="a.s=0/a.s"),
    R("gcc -S a.c -MD", out="a.s=0/a.s,a.d=0/a.d", argv="gcc -S a.c -MD -o <tmp>/0/a.s -MQ a.o"),
    R("gcc -E a.c", out="", argv="gcc -E a.c"),
    R("gcc -E a.c -o a.i", out="a.i=0/a.i", missing="delete"),
    R("gcc -E -c a.c -o p.i", out="p.i=0/p.i"),
    R("gcc -E a.c -MD", out="a.d=1/a.d", argv="gcc -E a.c -MD -MF <tmp>/1/a.d"),
    R("gcc -E a.c -MD -o obj/a.i", out="obj/a.i=0/a.i,obj/a.d=0/a.d",
      argv="gcc -E a.c -MD -o <tmp>/0/a.i"),
    R("gcc -E -P -dM a.c", out=""),
    R("gcc -E a.c b.c", out="", inputs="a.c,b.c"),
    R("gcc -E a.c -o -", out=""),
    R("gcc -M a.c", out="", dep=True, argv="gcc -M a.c"),
    R("gcc -MM a.c -MF a.d", out="a.d=1/a.d", dep=True, argv="gcc -MM a.c -MF <tmp>/1/a.d"),
    R("gcc -MM -MG -MP -MT 'a.o a.d' a.c -MF deps/a.d", out="deps/a.d=1/a.d", dep=True),
    R("gcc -M a.c -o deps.mk", out="deps.mk=0/deps.mk", dep=True, missing="delete"),
    R("gcc -M a.c -MF x.d -o y", out="y=0/y,x.d=1/x.d", dep=True),
    R("gcc -fsyntax-only a.c", out="", argv="gcc -fsyntax-only a.c"),
    # gcc >= 11 names the .d after a.out's dump base: the stub gcc has no version to tell
    R("gcc -fsyntax-only a.c -MD", local="gcc before 11"),
    R("gcc-12 -fsyntax-only a.c -MD", out="a.d=1/a.d",
      argv="gcc-12 -fsyntax-only a.c -MD -MF <tmp>/1/a.d"),
    R("gcc-12 -fsyntax-only src/x.c -MD", out="a-x.d=1/a-x.d", inputs="src/x.c"),
    R("gcc-11 -fsyntax-only a.c -MD -o obj/x.o", out="obj/x.d=0/x.d"),
    R("gcc-12 -fsyntax-only -S a.c -MD", local="-fsyntax-only with -S"),
    R("clang -fsyntax-only src/x.c -MD", out="x.d=0/x.d", inputs="src/x.c"),
    R("gcc -c -fsyntax-only a.c -o obj/a.o", out=""),
    # --- CMake / Ninja ------------------------------------------------------------------
    R(CMAKE_CXX,
      out="CMakeFiles/lib.dir/src/a.cpp.o=0/a.cpp.o,CMakeFiles/lib.dir/src/a.cpp.o.d=1/a.cpp.o.d",
      inputs="/src/a.cpp", id="cmake-ninja-cxx"),
    R("/usr/bin/cc -DBAR -I/src -O2 -g -MD -MT CMakeFiles/x.dir/a.c.o "
      "-MF CMakeFiles/x.dir/a.c.o.d -o CMakeFiles/x.dir/a.c.o -c /src/a.c",
      out="CMakeFiles/x.dir/a.c.o=0/a.c.o,CMakeFiles/x.dir/a.c.o.d=1/a.c.o.d", id="cmake-c"),
    R("/usr/bin/c++ @cmake_includes.rsp -O2 -MD -MT t.o -MF t.o.d -o t.o -c /src/t.cpp",
      out="t.o=0/t.o,t.o.d=1/t.o.d", inputs="/src/t.cpp,cmake_includes.rsp", id="cmake-rsp"),
    R("/usr/bin/c++ -O2 -x c++-header -include /b/cmake_pch.hxx "
      "-o CMakeFiles/x.dir/cmake_pch.hxx.gch -c /b/cmake_pch.hxx.cxx", local="precompiled",
      id="cmake-pch"),
    R("/usr/bin/c++ -O2 -Winvalid-pch -include /b/cmake_pch.hxx -o a.o -c a.cpp",
      out="a.o=0/a.o", inputs="a.cpp,/b/cmake_pch.hxx", id="cmake-use-pch"),
    R("/usr/bin/c++ -O2 -fcolor-diagnostics -MD -MT a.o -MF a.o.d -o a.o -c a.cpp",
      out="a.o=0/a.o,a.o.d=1/a.o.d"),
    R("/usr/bin/c++ -O2 -o prog CMakeFiles/p.dir/main.cpp.o -Wl,-rpath,/x libfoo.a",
      local="link", id="cmake-link"),
    # --- autotools / libtool ------------------------------------------------------------
    R("gcc -DHAVE_CONFIG_H -I. -I.. -g -O2 -MT foo.lo -MD -MP -MF .deps/foo.Tpo -c foo.c "
      "-fPIC -DPIC -o .libs/foo.o", out=".libs/foo.o=0/foo.o,.deps/foo.Tpo=1/foo.Tpo",
      argv="gcc -DHAVE_CONFIG_H -I. -I.. -g -O2 -MT foo.lo -MD -MP -MF <tmp>/1/foo.Tpo -c foo.c "
      "-fPIC -DPIC -o <tmp>/0/foo.o", id="libtool-pic"),
    R("gcc -DHAVE_CONFIG_H -I. -I.. -g -O2 -MT foo.lo -MD -MP -MF .deps/foo.Tpo -c foo.c "
      "-o foo.o", out="foo.o=0/foo.o,.deps/foo.Tpo=1/foo.Tpo", id="libtool-static"),
    R("gcc -DHAVE_CONFIG_H -I. -g -O2 -MT foo.o -MD -MP -MF .deps/foo.Tpo -c -o foo.o foo.c",
      out="foo.o=0/foo.o,.deps/foo.Tpo=1/foo.Tpo", id="automake"),
    R("gcc -shared -fPIC -DPIC .libs/foo.o -O2 -Wl,-soname -Wl,libfoo.so.0 -o .libs/libfoo.so.0",
      local="link", id="libtool-link"),
    R("depcomp gcc -c -o foo.o foo.c", local="not a known compiler"),
    # --- configure probes through $(CC): untouched ---------------------------------------
    R("gcc -v", local="not a compile"),
    R("gcc --version", local="not a compile"),
    R("gcc -V", local="unknown flag -V"),
    R("gcc -qversion", local="unknown flag"),
    R("gcc -E -", local="stdin"),
    R("gcc -E conftest.c", out=""),
    R("gcc -o conftest -g -O2 conftest.c", local="link"),
    R("gcc conftest.c", local="link"),
    R("gcc -c -g -O2 conftest.c", out="conftest.o=0/conftest.o"),
    R("gcc -print-prog-name=ld", local="not a compile"),
    R("gcc -print-multi-os-directory", local="not a compile"),
    R("gcc -dumpmachine", local="not a compile"),
    R("gcc -dumpversion", local="not a compile"),
    R("gcc -dumpfullversion -dumpversion", local="not a compile"),
    R("gcc -###", local="not a compile"),
    R("gcc --help=optimizers", local="not a compile"),
    R("gcc -print-search-dirs", local="not a compile"),
    R("gcc -x c -c - -o x.o", local="stdin"),
    R("gcc -c -v a.c", local="not a compile: -v"),
    R("gcc", local="no arguments"),
    R("gcc -c", local="no source"),
    R("gcc -O2", local="no input"),
    # --- compilers, names, PATH, symlinks -------------------------------------------------
    R("g++ -c a.cpp", out="a.o=0/a.o"),
    R("c++ -c a.cc -o a.o", out="a.o=0/a.o"),
    R("gcc-12 -c a.c", out="a.o=0/a.o"),
    R("x86_64-linux-gnu-gcc-12 -c a.c -o a.o", out="a.o=0/a.o"),
    R("x86_64-linux-gnu-g++-12 -c a.C -o a.o", out="a.o=0/a.o"),
    R("arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -c a.c -o a.o", out="a.o=0/a.o"),
    R("clang -c a.c -o a.o", out="a.o=0/a.o", missing="delete"),
    R("clang++ -c a.cpp -o a.o -MD", out="a.o=0/a.o,a.d=0/a.d",
      argv="clang++ -c a.cpp -o <tmp>/0/a.o -MD -MQ a.o"),
    R("clang++-14 -std=c++20 -c a.cpp -o a.o", out="a.o=0/a.o"),
    R("mycc -c a.c -o a.o", out="a.o=0/a.o", id="unknown-name-resolving-to-gcc"),
    R("tools/mygcc -c a.c -o a.o", out="a.o=0/a.o", id="relative-path-symlink"),
    R("./tools/mygcc -c a.c", out="a.o=0/a.o"),
    R("nosuchcc -c a.c", local="not found"),
    R("c99-gcc -c a.c", local="not a known compiler"),
    R("gcc-ar rcs libx.a a.o", local="not a known compiler"),
    R("ar rcs libx.a a.o", local="not a known compiler"),
    R("ranlib libx.a", local="not a known compiler"),
    R("ld -o prog a.o", local="not a known compiler"),
    R("distcc gcc -c a.c", local="not a known compiler"),
    R("icx -c a.c", local="not a known compiler"),
    # --- ccache ---------------------------------------------------------------------------
    R("ccache gcc -c a.c -o a.o -MD", out="a.o=0/a.o,a.d=0/a.d",
      argv="gcc -c a.c -o <tmp>/0/a.o -MD -MQ a.o", id="ccache-explicit"),
    R("ccache clang++ -c a.cpp -o a.o", out="a.o=0/a.o", argv="clang++ -c a.cpp -o <tmp>/0/a.o"),
    R("ccache -s", local="ccache command"),
    R("ccache", local="ccache command"),
    R("ccache gcc a.c -o a", local="link"),
    R("gcc -c a.c -o a.o", out="a.o=0/a.o", masq=True, argv="{bin}/gcc -c a.c -o <tmp>/0/a.o",
      id="ccache-masquerade"),
    R("ccache g++ -c a.cpp", out="a.o=0/a.o", masq=True, argv="{bin}/g++ -c a.cpp -o <tmp>/0/a.o",
      id="ccache-explicit-with-masquerade-on-path"),
    # --- response files -------------------------------------------------------------------
    R("gcc @flags.rsp -c a.c -o a.o", out="a.o=0/a.o", inputs="a.c,flags.rsp",
      argv="gcc -O2 -DX=1 '-DMSG=\"a b\"' -Iinc -c a.c -o <tmp>/0/a.o"),
    R("gcc @outer.rsp -c a.c -o a.o", out="a.o=0/a.o", inputs="a.c,outer.rsp,flags.rsp"),
    R("gcc @out.rsp", out="obj/a.o=0/a.o", argv="gcc -c a.c -o <tmp>/0/a.o"),
    R("gcc @outer.rsp @out.rsp -MD", out="obj/a.o=0/a.o,obj/a.d=0/a.d"),
    R("gcc @missing.rsp -c a.c", local="unreadable response file"),
    R("gcc @ -c a.c", out="a.o=0/a.o", inputs="@,a.c", id="lone-at-is-a-file-name"),
    # --- kernel style -----------------------------------------------------------------------
    R(KERNEL_C, out="kernel/fork.o=0/fork.o,kernel/.fork.o.d=1/.fork.o.d", id="kernel-c"),
    R("gcc -Wp,-MD,arch/x86/entry/.entry_64.o.d -nostdinc -D__ASSEMBLY__ -m64 -Wa,-gdwarf-5 "
      "-c -o arch/x86/entry/entry_64.o arch/x86/entry/entry_64.S",
      out="arch/x86/entry/entry_64.o=0/entry_64.o,arch/x86/entry/.entry_64.o.d=1/.entry_64.o.d",
      argv="gcc -Wp,-MD,<tmp>/1/.entry_64.o.d -nostdinc -D__ASSEMBLY__ -m64 -Wa,-gdwarf-5 "
      "-c -o <tmp>/0/entry_64.o arch/x86/entry/entry_64.S", id="kernel-asm"),
    R("gcc -Wp,-MMD,x/.a.o.d,-MT,foo -c a.c -o x/a.o", out="x/a.o=0/a.o,x/.a.o.d=1/.a.o.d",
      argv="gcc -Wp,-MMD,<tmp>/1/.a.o.d,-MT,foo -c a.c -o <tmp>/0/a.o"),
    R("clang -Wp,-MMD,x/.a.o.d -c a.c -o x/a.o", out="x/a.o=0/a.o,x/.a.o.d=1/.a.o.d",
      argv="clang -Wp,-MMD,<tmp>/1/.a.o.d -c a.c -o <tmp>/0/a.o -MQ x/a.o"),
    R("gcc -Wp,-MD -c a.c", local="without a file name"),
    R("gcc -Wp,-DX=1,-UY -c a.c", out="a.o=0/a.o"),
    R("gcc -Wp,-frob -c a.c", local="unknown preprocessor option"),
    R("gcc -Wp,-MD,a.d -MD -c a.c", local="together with"),
    R("gcc -Wp,-MD,a.d -MF b.d -c a.c", local="together with"),
    R("gcc -Xpreprocessor -DX -c a.c", out="a.o=0/a.o"),
    R("gcc -Xpreprocessor -MD -Xpreprocessor a.d -c a.c", local="preprocessor option"),
    # --- environment dependency outputs -----------------------------------------------------
    R("gcc -c a.c -o a.o", out="a.o=0/a.o,new.d=1/new.d", env={"DEPENDENCIES_OUTPUT": "new.d"},
      id="DEPENDENCIES_OUTPUT"),
    R("gcc -c a.c -o a.o", out="a.o=0/a.o,new.d=1/new.d",
      env={"DEPENDENCIES_OUTPUT": "new.d tgt"}, id="DEPENDENCIES_OUTPUT-target"),
    R("gcc -c a.c -o a.o", out="a.o=0/a.o,new.d=1/new.d", env={"SUNPRO_DEPENDENCIES": "new.d"},
      id="SUNPRO_DEPENDENCIES"),
    R("gcc -c a.c -o a.o", local="appends", env={"DEPENDENCIES_OUTPUT": "exists.d"},
      id="DEPENDENCIES_OUTPUT-existing"),
    R("gcc -c a.c -o a.o -MD", local="together with", env={"DEPENDENCIES_OUTPUT": "new.d"},
      id="DEPENDENCIES_OUTPUT-and-MD"),
    R("gcc -c a.c -o a.o -MF x.d", local="together with", env={"DEPENDENCIES_OUTPUT": "new.d"},
      id="DEPENDENCIES_OUTPUT-and-MF"),
    R("gcc -E a.c", out="new.d=1/new.d", env={"DEPENDENCIES_OUTPUT": "new.d"},
      id="DEPENDENCIES_OUTPUT-E"),
    R("gcc -c a.c -o a.o -MF x.d", out="a.o=0/a.o", id="MF-without-MD-is-an-error-anyway"),
    R("gcc -c t.s -o t.o", out="t.o=0/t.o", env={"DEPENDENCIES_OUTPUT": "new.d"},
      id="DEPENDENCIES_OUTPUT-asm-no-cpp"),
    R("clang -c a.c -o a.o", local="clang", env={"DEPENDENCIES_OUTPUT": "new.d"},
      id="DEPENDENCIES_OUTPUT-clang"),
    # --- auxiliary outputs ------------------------------------------------------------------
    R("gcc -c a.c -o obj/a.o -save-temps", out="obj/a.o=0/a.o,obj/a.i=0/a.i,obj/a.s=0/a.s",
      argv="gcc -c a.c -o <tmp>/0/a.o -save-temps=obj"),
    R("gcc -c a.c -o obj/a.o -save-temps=cwd", out="obj/a.o=0/a.o,a.i=0/a.i,a.s=0/a.s"),
    R("gcc -c a.c -o obj/a.o -save-temps=obj", out="obj/a.o=0/a.o,obj/a.i=0/a.i,obj/a.s=0/a.s"),
    R("gcc -c src/x.c -save-temps", out="x.o=0/x.o,x.i=0/x.i,x.s=0/x.s"),
    R("g++ -c b.cpp -o obj/b.o -save-temps", out="obj/b.o=0/b.o,obj/b.ii=0/b.ii,obj/b.s=0/b.s"),
    R("gcc -c s.S -o obj/s.o -save-temps", out="obj/s.o=0/s.o,obj/s.s=0/s.s"),
    R("gcc -c t.s -o obj/t.o -save-temps", out="obj/t.o=0/t.o"),
    R("gcc -S a.c -o obj/z.s -save-temps=cwd", out="obj/z.s=0/z.s,z.i=0/z.i"),
    R("gcc -c a.c -o obj/a.o -save-temps -pipe", out="obj/a.o=0/a.o,obj/a.i=0/a.i,obj/a.s=0/a.s",
      missing="as-failed,keep,keep"),
    R("gcc -c a.c -save-temps=foo", local="unknown flag"),
    R("gcc -c a.c -o obj/a.c.o -fstack-usage", out="obj/a.c.o=0/a.c.o,obj/a.c.su=0/a.c.su"),
    R("gcc -c a.c -fstack-usage", out="a.o=0/a.o,a.su=0/a.su"),
    R("gcc -S a.c -fstack-usage", out="a.s=0/a.s,a.su=0/a.su"),
    R("gcc -c t.s -fstack-usage", out="t.o=0/t.o"),
    R("gcc -c a.c -o obj/a.o -ftest-coverage", local="coverage notes"),
    R("gcc -c a.c -o obj/a.o --coverage", local="coverage"),
    R("gcc -c a.c -o obj/a.o -fprofile-arcs", local="profile"),
    R("gcc -c a.c -o obj/a.o -fprofile-generate", local="profile"),
    R("gcc -c a.c -o obj/a.o -fprofile-use", local="profile"),
    R("gcc -c a.c -o obj/a.o -fno-profile-arcs", out="obj/a.o=0/a.o"),
    R("gcc -c a.c -o obj/a.o -gsplit-dwarf -g", local="split DWARF"),
    R("gcc -c a.c -o obj/a.o -fdump-tree-all", local="dump"),
    R("gcc -c a.c -o obj/a.o -fcallgraph-info", local="call graph"),
    R("gcc -c a.c -o obj/a.o -da", local="RTL dump"),
    R("gcc -c a.c -o obj/a.o -fopt-info-vec", out="obj/a.o=0/a.o"),
    R("gcc -c a.c -o obj/a.o -fopt-info-vec=vec.txt", local="writes a file"),
    R("gcc -c a.c -o obj/a.o -aux-info proto.h", out="obj/a.o=0/a.o,proto.h=1/proto.h",
      argv="gcc -c a.c -o <tmp>/0/a.o -aux-info <tmp>/1/proto.h"),
    R("gcc -c a.c -o obj/a.o -aux-info=proto.h", out="obj/a.o=0/a.o,proto.h=1/proto.h",
      argv="gcc -c a.c -o <tmp>/0/a.o -aux-info <tmp>/1/proto.h"),
    R("gcc -c a.c -o obj/a.o -ftime-trace", local="unknown flag"),
    R("clang -c a.c -o obj/a.o -ftime-trace", out="obj/a.o=0/a.o,obj/a.json=0/a.json"),
    R("clang -c a.c -o obj/a.o -fstack-usage", out="obj/a.o=0/a.o,obj/a.su=0/a.su"),
    R("clang -c a.c -o obj/a.o -save-temps", local="clang -save-temps"),
    R("clang -c a.c -o obj/a.o -gsplit-dwarf", local="split DWARF"),
    R("clang -c a.c -o obj/a.o -fprofile-instr-generate -fcoverage-mapping", local="profile"),
    R("clang -c a.c -o obj/a.o -fmodules", local="modules"),
    R("gcc -c a.c -o obj/a.o -fplugin=./p.so", local="plugin"),
    R("gcc -c a.c -o obj/a.o -flto -ffat-lto-objects", out="obj/a.o=0/a.o"),
    R("gcc -c a.c -o obj/a.o -frecord-gcc-switches -g3", out="obj/a.o=0/a.o"),
    R("gcc -c a.c -o obj/a.o -ffile-prefix-map=/src=. -fdebug-prefix-map=/a=/b -g",
      out="obj/a.o=0/a.o"),
    R("gcc -c a.c -o - ", out=""),
    R("gcc -c a.c -o - -MD", local="-o -"),
    # --- must run locally ---------------------------------------------------------------------
    R("gcc -march=native -O2 -c a.c", local="native"),
    R("gcc -mtune=native -c a.c", local="native"),
    R("clang -mcpu=native -c a.c", local="native"),
    R("gcc -march=x86-64-v3 -mtune=generic -c a.c", out="a.o=0/a.o"),
    R("gcc -c a.c b.c", local="several sources"),
    R("gcc -c a.c b.c -o x.o", local="several sources"),
    R("gcc -c a.c -o a.c", local="collides"),
    R("gcc -c a.c -o ./a.c", local="collides"),
    R("gcc -c a.c -o link.c", local="link.c"),
    R("gcc -c a.c -o obj/../a.c", local="a.c"),
    R("gcc -c sub/../a.c -o a.c", local="a.c"),
    R("gcc -c a.c -o obj/", local="directory"),
    R("gcc -c a.c -frobnicate-unknown", out="a.o=0/a.o", id="unknown -f flag is codegen"),
    R("gcc -c a.c --frobnicate", local="unknown flag --frobnicate"),
    R("gcc -c a.c -Z", local="unknown flag -Z"),
    R("gcc -c a.c -specs=my.specs", local="specs"),
    R("gcc -c a.c -specs my.specs", local="specs"),
    R("gcc -c a.c -wrapper gdb,--args", local="wrapper"),
    R("gcc -c a.c -dumpbase foo", local="dumpbase"),
    R("gcc -c a.c -dumpdir obj/", local="dumpdir"),
    R("gcc -c x.f90 -o x.o", local="fortran"),
    R("gcc -c -x f95 x -o x.o", local="language f95"),
    R("gcc -c a.go", local="go"),
    R("gcc -c h.h", local="precompiled"),
    R("gcc h.h", local="precompiled"),
    R("g++ -x c++-header -c h.hpp -o h.hpp.gch", local="precompiled"),
    R("gcc -c a.c -o", local="without its argument"),
    R("gcc -c a.c -I", local="without its argument"),
    R("gcc -c a.c -Wa,-adhln=a.lst", local="assembler option"),
    R("gcc -c a.c -Wa,--noexecstack,--fatal-warnings", out="a.o=0/a.o"),
    R("gcc -c a.c -Xassembler --MD -Xassembler x", local="assembler option"),
    R("gcc -c a.c -mllvm -inline-threshold=10", local="mllvm"),
    R("clang -c a.c -Xclang -fno-pch-timestamp", out="a.o=0/a.o"),
    R("clang -c a.c -Xclang -include-pch -Xclang pch.pch", out="a.o=0/a.o",
      inputs="a.c,pch.pch"),
    R("clang -c a.c -Xclang -ast-dump", local="-Xclang -ast-dump"),
    R("clang -c a.c -MJ a.json", local="unknown flag -MJ"),
    R("clang -S -emit-llvm a.c", out="a.ll=0/a.ll"),
    R("clang -c -emit-llvm a.c -MD", out="a.bc=0/a.bc,a.d=0/a.d"),
    R("clang -emit-llvm -c a.c -o obj/a.bc", out="obj/a.bc=0/a.bc"),
    R("gcc -emit-llvm -c a.c", local="unknown flag -emit-llvm"),
    R("gcc -c a.c --output=obj/a.o -MD", out="obj/a.o=0/a.o,obj/a.d=0/a.d",
      argv="gcc -c a.c -o <tmp>/0/a.o -MD -MQ obj/a.o"),
    R("gcc -c a.c --output obj/a.o", out="obj/a.o=0/a.o", argv="gcc -c a.c -o <tmp>/0/a.o"),
    R("gcc -c a.c -o obj/a.o --write-user-dependencies", out="obj/a.o=0/a.o,obj/a.d=0/a.d"),
    R("gcc -c a.c -o obj/a.o --write-dependencies -MF deps/a.d",
      out="obj/a.o=0/a.o,deps/a.d=1/a.d"),
    R("gcc -S s.S", local="-S on an assembler"),
    R("gcc -E t.s", local="needs no preprocessing"),
    R("gcc -c .c", local="cannot derive"),
    R("gcc -M -MD a.c", local="together with"),
    R("gcc -c a.c -MF a.d -MF b.d -MD", out="a.o=0/a.o,b.d=1/b.d",
      argv="gcc -c a.c -MF a.d -MF <tmp>/1/b.d -MD -o <tmp>/0/a.o -MQ a.o"),
    R("gcc -fsyntax-only -E a.c", local="syntax-only"),
    # --- odd but fine -------------------------------------------------------------------------
    R("gcc -c a.c -o a.o -I inc -D X=1 -U Y -isystem sys -iquote q -idirafter after -include "
      "h.h -imacros m.h -iprefix p -iwithprefix w -isysroot r --sysroot r2 -L l -l m -B b",
      out="a.o=0/a.o", inputs="a.c,h.h,m.h"),
    R("gcc -c a.c -o a.o -Xlinker --no-undefined -Wl,-z,defs -T script.ld -u sym -z now",
      out="a.o=0/a.o"),
    R("gcc -c a.c -o a.o --param max-inline-insns-single=10 --param=ssp-buffer-size=4",
      out="a.o=0/a.o"),
    R("gcc -c a.c -o a.o -std=c11 -ansi -pedantic-errors -w -pthread -pipe -H -Q -time",
      out="a.o=0/a.o"),
    R("gcc -x c++ -c a.c -x none -c b.o -o a.o", out="a.o=0/a.o", inputs="a.c,b.o"),
    R("gcc -xc -c foo -o foo.o", out="foo.o=0/foo.o"),
    R("gcc -c a.m -o a.o", out="a.o=0/a.o"),
    R("gcc -c a.mm -o a.o -MD", out="a.o=0/a.o,a.d=0/a.d"),
    R("gcc -c a.i -o a.o -MD", out="a.o=0/a.o", argv="gcc -c a.i -o <tmp>/0/a.o -MD"),
    R("g++ -c a.ii -o a.o -save-temps", out="a.o=0/a.o,a.s=0/a.s"),
    R("gcc -c t.s -o t.o", out="t.o=0/t.o", missing="delete"),
    R("gcc -c s.S -o s.o -MD", out="s.o=0/s.o,s.d=0/s.d", missing="as-failed,keep"),
    R("gcc -c s.sx -o s.o", out="s.o=0/s.o"),
    R("gcc -c t.s -o t.o -MD", out="t.o=0/t.o", argv="gcc -c t.s -o <tmp>/0/t.o -MD"),
    R("gcc -E h.h -o h.i", out="h.i=0/h.i"),
    R("gcc -M h.h", out="", dep=True),
    R("gcc -DSTR='\"a b\"' -c a.c -o a.o", out="a.o=0/a.o"),
    R("gcc -pass-exit-codes -no-integrated-cpp -c a.c -o a.o", out="a.o=0/a.o"),
    R("clang -cxx-isystem /x -iwithsysroot /y -c a.cpp -o a.o", out="a.o=0/a.o"),
]  # fmt: skip


def _outputs_of(spec: str) -> list[tuple[str, str]]:
    if not spec:
        return []
    return [tuple(p.split("=", 1)) for p in spec.split(",")]  # type: ignore[misc]


def _fmt_argv(d: Decision) -> list[str]:
    return [a.replace(TMP, "<tmp>") for a in d.argv]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_table(world, row: R) -> None:
    argv = shlex.split(row.cmd.replace("{proj}", world["proj"]))
    env = _env(world, row.masq, **row.env)
    d = classify(argv, world["proj"], env)
    assert d.reason
    if row.local is not None:
        assert not d.remote, f"expected local, got remote: {d.reason}"
        assert row.local in d.reason
        assert d.argv == argv
        return
    assert d.remote, f"expected remote, got local: {d.reason}"
    expected = _outputs_of((row.out or "").replace("{proj}", world["proj"]))
    assert [(o.path, o.collect) for o in d.outputs] == expected
    assert d.dependency_task is row.dep
    for o in d.outputs:
        assert o.on_missing in ("keep", "delete", "as-failed")
        assert TMP not in o.path and not o.collect.startswith("/")
    if row.missing is not None:
        assert [o.on_missing for o in d.outputs] == row.missing.split(",")
    if row.inputs is not None:
        assert d.inputs == row.inputs.split(",")
    if row.argv is not None:
        expected = shlex.split(row.argv.replace("{bin}", world["bin"]))
        assert _fmt_argv(d) == expected
    # every remote output is redirected: no original output path left in the remote argv
    # as an -o value, and TMP only appears at the start of a path
    for a in d.argv:
        assert TMP not in a or a.count(TMP) == 1


def test_table_is_large_enough() -> None:
    assert len(ROWS) >= 150


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gcc", "gcc"), ("g++", "gcc"), ("cc", "gcc"), ("c++", "gcc"), ("gcc-12", "gcc"),
        ("g++-12.2", "gcc"), ("x86_64-linux-gnu-gcc-12", "gcc"), ("arm-none-eabi-g++", "gcc"),
        ("clang", "clang"), ("clang++", "clang"), ("clang-14", "clang"),
        ("clang++-14", "clang"), ("aarch64-linux-gnu-clang", "clang"), ("gcc-ar", None),
        ("gcc-nm-12", None), ("x86_64-linux-gnu-gcc-ranlib-12", None), ("c99-gcc", None),
        ("c89-gcc", None), ("ccache", None), ("ld", None), ("mygcc", None), ("cc1", None),
        ("clang-tidy", None), ("gcc-", None), ("icc", None),
    ],
)  # fmt: skip
def test_compiler_family(name: str, family: str | None) -> None:
    assert compiler_family(name) == family


@pytest.mark.parametrize(
    ("argv", "query"),
    [
        (["gcc", "-dumpmachine"], True), (["cc", "--version"], True),
        (["x86_64-linux-gnu-gcc-12", "-std=gnu99", "-print-multiarch"], True),
        (["clang", "-print-resource-dir"], True), (["g++", "-v"], True),
        (["gcc", "-print-file-name=libgcc.a"], True),
        (["gcc"], False), (["gcc", "-O2"], False), (["ld", "--version"], False),
        (["make", "--version"], False), (["ccache", "gcc", "--version"], False),
        (["gcc", "-v", "a.c"], False), (["gcc", "-v", "-x", "c", "-"], False),
        (["gcc", "-dumpmachine", "@rsp"], False), (["gcc", "-v", "-"], False),
        (["gcc", "-v", "-c", "a.c", "-o", "a.o"], False),
    ],
)  # fmt: skip
def test_is_query(argv: list[str], query: bool) -> None:
    assert is_query(argv) is query


def test_decision_marks_a_query(world) -> None:
    """A compiler query with no input is marked (the runner runs it without a local slot);
    `gcc -v a.c` (a verbose link) is not."""
    proj, env = world["proj"], _env(world)
    assert classify(["gcc", "-dumpmachine"], proj, env).query
    assert not classify(["gcc", "-v", "a.c"], proj, env).query
    assert not classify(["gcc", "a.o", "-o", "prog"], proj, env).query


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("-O2 -g", ["-O2", "-g"]),
        ("  -O2\n\t-g  \n", ["-O2", "-g"]),
        ("'-DMSG=\"a b\"'", ['-DMSG="a b"']),
        ('"-DX=a b" c', ["-DX=a b", "c"]),
        ("a\\ b", ["a b"]),
        ("'a\\'b'", ["a'b"]),
        ('"a\\"b"', ['a"b']),
        ("''", [""]),
        ('x"y z"w', ["xy zw"]),
        ("", []),
    ],
)
def test_split_response_file(text: str, args: list[str]) -> None:
    assert split_response_file(text) == args


def test_response_file_nested_loop_is_local(world, tmp_path) -> None:
    (tmp_path / "loop.rsp").write_text("@loop.rsp\n")
    d = classify(["gcc", "@loop.rsp", "-c", "a.c"], str(tmp_path), _env(world))
    assert not d.remote and "nested" in d.reason


def test_response_file_is_sent_expanded(world) -> None:
    d = classify(["gcc", "@flags.rsp", "-c", "a.c", "-MD"], world["proj"], _env(world))
    assert d.remote
    assert d.argv[:5] == ["gcc", "-O2", "-DX=1", '-DMSG="a b"', "-Iinc"]
    assert "flags.rsp" in d.inputs


def test_as_json_dict(world) -> None:
    d = classify(shlex.split("gcc -c a.c -o obj/a.o -MMD"), world["proj"], _env(world))
    j = as_json_dict(d)
    assert j == {
        "where": "remote",
        "reason": "compile a.c",
        "compiler": os.path.join(world["bin"], "gcc"),
        "inputs": ["a.c"],
        "outputs": ["obj/a.o", "obj/a.d"],
        "dependency_task": False,
        "remote_argv": ["gcc", "-c", "a.c", "-o", "<tmp>/0/a.o", "-MMD", "-MQ", "obj/a.o"],
        "dependency_file": "written by the step (0/a.d)",
    }
    d = classify(shlex.split("gcc -c a.c -o obj/a.o"), world["proj"], _env(world))
    assert as_json_dict(d)["dependency_file"] == "asked for on the side: -MD -MF <tmp>/in/deps.d"
    d = classify(["gcc", "a.c", "-o", "a"], world["proj"], _env(world))
    j = as_json_dict(d)
    assert j["where"] == "local" and j["remote_argv"] is None and j["reason"] == "link step"
    d = classify(["gcc", "-c", "a.c"], world["proj"], _env(world, DEPENDENCIES_OUTPUT="n.d"))
    assert as_json_dict(d)["remote_env"] == {"DEPENDENCIES_OUTPUT": "<tmp>/1/n.d"}


def test_pch_outputs_are_listed_for_explain(world) -> None:
    d = classify(shlex.split("g++ -x c++-header -c h.hpp -o pch/h.hpp.gch"), world["proj"],
                 _env(world))  # fmt: skip
    assert not d.remote and [o.path for o in d.outputs] == ["pch/h.hpp.gch"]
    d = classify(["gcc", "inc/h.h"], world["proj"], _env(world))
    assert not d.remote and [o.path for o in d.outputs] == ["inc/h.h.gch"]


def test_several_sources_outputs_are_listed_for_explain(world) -> None:
    d = classify(shlex.split("gcc -c a.c sub/b.c t.s"), world["proj"], _env(world))
    assert not d.remote and [o.path for o in d.outputs] == ["a.o", "b.o", "t.o"]


def test_local_decision_keeps_argv_object_identical(world) -> None:
    argv = ["gcc", "x.c", "-o", "x"]
    d = classify(argv, world["proj"], _env(world))
    assert not d.remote and d.argv == argv and d.env == {}


def test_compiler_is_resolved_through_symlinks(world) -> None:
    d = classify(["cc", "-c", "a.c"], world["proj"], _env(world))
    assert d.compiler == os.path.join(world["bin"], "gcc")
    d = classify(["clang++", "-c", "a.cpp"], world["proj"], _env(world))
    assert d.compiler == os.path.join(world["bin"], "clang-14")


def test_relative_path_entry_resolves_against_cwd(world) -> None:
    d = classify(["mygcc", "-c", "a.c"], world["proj"], {"PATH": "tools"})
    assert d.remote and d.compiler.endswith("/gcc")


def test_output_equality() -> None:
    assert Output("a", "0/a", "keep") == Output("a", "0/a", "keep", False)
    assert Output("a", "0/a", "keep") != Output("a", "0/a", "delete")


def test_classify_is_fast(world) -> None:
    """The budget is 1 ms per call (bench/promptness.py measures it); here only a bound ten
    times as generous, so a loaded machine does not fail the suite."""
    argv = shlex.split(CMAKE_CXX)
    env = _env(world)
    classify(argv, world["proj"], env)
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        classify(argv, world["proj"], env)
    per_call = (time.perf_counter() - t0) / n
    assert per_call < 10e-3, per_call


def test_import_is_cheap() -> None:
    """The runner imports this module once per compile: only cheap builtins."""
    code = (
        "import sys; before = set(sys.modules); import spraycc.step.classify; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    ).stdout.split()  # fmt: skip
    ours = with_packages({"spraycc.step.classify", "spraycc.step.flags", "spraycc.step.compilers",
                          "spraycc.step.cmdline", "spraycc.step.decision"})
    assert set(out) <= ours | {"__future__"}, out


def test_decision_records_are_one_leaf_shared_with_the_classifier() -> None:
    """placement builds Decisions without the classifier: the same classes, re-exported."""
    from spraycc.step import decision

    assert classify_module.Decision is decision.Decision
    assert classify_module.Output is decision.Output
    assert (classify_module.TMP, classify_module.SIDE_DEPS, classify_module.AS_FAILED) == (
        decision.TMP, decision.SIDE_DEPS, decision.AS_FAILED)
    code = ("import sys; before = set(sys.modules); import spraycc.step.decision; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=root).stdout.split()
    assert set(out) <= with_packages({"spraycc.step.decision"}) | {"__future__"}, out


# ---------------------------------------------------------------------------------------------
# Layer 2: fidelity against real compilers (rows in tests/fidelity_rows.py)
# ---------------------------------------------------------------------------------------------


def _fidelity(tmp_path, cmd: str, extra: dict[str, str]) -> None:
    spec = RowSpec(extra)
    files, modes, env_extra = spec.files, spec.modes, spec.env
    root = tmp_path / "w"
    root.mkdir()
    for d in ("obj", "deps", ".deps", ".libs"):
        files.setdefault(f"{d}/.keep", "")
    env = dict(os.environ)
    env.update(env_extra)
    env.pop("GCC_COLORS", None)
    _, remote, local = compare_with_local(
        shlex.split(cmd.replace("{root}", str(root))),
        {**SOURCES, **files},
        str(root),
        env=env,
        sub=spec.cwd,
        modes=modes,
    )
    assert remote.key() == local.key(), describe_difference(remote, local)
    for path, (data, _) in remote.tree.items():  # nothing may mention the executor's temp dir
        assert b"spraycc-fidelity-" not in data, path


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize(("rid", "cmd", "extra"), GCC_ROWS, ids=[r[0] for r in GCC_ROWS])
def test_fidelity_gcc(tmp_path, rid: str, cmd: str, extra: dict[str, str]) -> None:
    _fidelity(tmp_path, cmd, extra)


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
@pytest.mark.parametrize(("rid", "cmd", "extra"), CLANG_ROWS, ids=[r[0] for r in CLANG_ROWS])
def test_fidelity_clang(tmp_path, rid: str, cmd: str, extra: dict[str, str]) -> None:
    _fidelity(tmp_path, cmd, extra)


@pytest.mark.skipif(shutil.which("clang") is None, reason="clang not installed")
def test_clang_time_trace_does_not_leak_tmp(tmp_path) -> None:
    """The -ftime-trace JSON holds timings (never identical) but must not name the temp dir."""
    root = tmp_path / "w"
    root.mkdir()
    (root / "obj").mkdir()
    (root / "a.c").write_text(SOURCES["a.c"])
    (root / "a.h").write_text(SOURCES["a.h"])
    env = dict(os.environ)
    d = classify(["clang", "-c", "a.c", "-o", "obj/a.o", "-ftime-trace"], str(root), env)
    code, _, err = run_like_executor(d, str(root), env, check_untouched=True)
    assert code == 0, err
    data = (root / "obj" / "a.json").read_bytes()
    assert b"traceEvents" in data and b"spraycc-fidelity-" not in data


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_ccache_chain_matches_plain_compile(tmp_path) -> None:
    """`ccache gcc …` runs the bare compiler remotely; the object equals a local ccache run."""
    if shutil.which("ccache") is None:
        pytest.skip("ccache not installed")
    root = tmp_path / "w"
    root.mkdir()
    env = dict(os.environ, CCACHE_DIR=str(tmp_path / "cache"))
    decision, remote, local = compare_with_local(
        ["ccache", "gcc", "-g", "-c", "a.c", "-o", "obj/a.o", "-MD"],
        {**SOURCES, "obj/.keep": ""}, str(root), env=env,
    )  # fmt: skip
    assert decision.argv[0] == "gcc"
    assert remote.key() == local.key(), describe_difference(remote, local)


@pytest.mark.parametrize(
    ("cmd", "env", "flag"),
    [
        ("gcc-12 -c a.c", {"TERM": "xterm"}, "-fdiagnostics-color=always"),
        ("cc -c a.c", {"TERM": "xterm-256color"}, ""),  # stub gcc: no version in its name
        ("x86_64-linux-gnu-gcc-12 -c a.c -MD", {"TERM": "rxvt"}, "-fdiagnostics-color=always"),
        ("gcc-12 -c a.c", {"TERM": "dumb"}, ""),
        ("gcc-12 -c a.c", {}, ""),
        ("gcc-12 -c a.c", {"TERM": "xterm", "NO_COLOR": "1"}, ""),
        ("gcc-12 -c a.c -fdiagnostics-color=never", {"TERM": "xterm"}, ""),
        ("gcc-12 -c a.c -fno-diagnostics-color", {"TERM": "xterm"}, ""),
        ("gcc-12 -c a.c -fdiagnostics-format=json", {"TERM": "xterm"}, ""),
        ("gcc-12 @flags.rsp -c a.c", {"TERM": "xterm"}, "-fdiagnostics-color=always"),
        ("gcc-12 a.c -o a", {"TERM": "xterm"}, ""),  # local: the terminal is its own
        ("clang -c a.c", {"TERM": "xterm-256color"}, "-fdiagnostics-color=always"),
        ("clang -c a.c", {"TERM": "screen"}, "-fdiagnostics-color=always"),
        ("clang -c a.c", {"TERM": "vt100"}, ""),  # no colours in terminfo: clang shows none
        ("clang -c a.c -fcolor-diagnostics", {"TERM": "xterm"}, ""),
        ("clang -c a.c -fno-color-diagnostics", {"TERM": "xterm"}, ""),
        ("clang -c a.c -Xclang -fcolor-diagnostics", {"TERM": "xterm"}, ""),
    ],
)  # fmt: skip
def test_colour_flag_for_a_terminal(world, cmd: str, env: dict[str, str], flag: str) -> None:
    d = classify(shlex.split(cmd), world["proj"], _env(world, **env))
    assert d.tty_flag == flag
    assert flag not in d.argv  # the runner adds it, only when its stderr is a terminal
    assert as_json_dict(d).get("added_at_a_terminal", "") == flag
