"""placement.certainly_local, the runner's short way for links: a step it lets past the
classifier must be one the classifier keeps local as a plain local step (no query), and its
word lists must stay those of the classifier's tables (spraycc.step.cmdline, flags)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spraycc.step import classify, cmdline, flags, placement

MODE_ATTRS = ("mode_c", "mode_s", "mode_e", "dep_m", "syntax_only")


def test_compile_words_are_every_word_that_sets_a_mode() -> None:
    words = set()
    for word in [*placement.COMPILE_WORDS, *cmdline._LONG_FLAGS, "-MD", "-o", "-x", "-pipe",
                 "-fsyntax-only", "-fpic", "-shared"]:
        parsed = cmdline.parse([word, "x"] if word in ("-o", "-x") else [word], "gcc")
        if any(getattr(parsed, attr) for attr in MODE_ATTRS):
            words.add(word)
    assert words == set(placement.COMPILE_WORDS)


def test_query_words_are_the_classifier_tables() -> None:
    assert placement.QUERY_WORDS == flags.QUERY_EXACT
    assert placement.QUERY_PREFIXES == flags.QUERY_PREFIXES


LINKS = [
    "gcc a.o b.o -o prog",
    "g++ -O2 -DNDEBUG CMakeFiles/p.dir/main.cpp.o -o p libl0.a libl1.a -lm",
    "c++ -shared -Wl,-soname,libx.so.1 -o libx.so.1 x.o -Wl,-rpath,/opt/lib",
    "ar qc libl0.a a.o b.o",
    "ranlib libl0.a",
    "ld -r a.o -o b.o",
    "clang++ -fuse-ld=lld -flto a.o -o prog",
    "./ld-like -o s1 s1.o -Lsub -lm",
]
NOT_CERTAIN = [
    "gcc -c a.c -o a.o",
    "g++ -S a.cpp",
    "gcc -E a.c",
    "gcc -M a.c",
    "gcc -MM a.c",
    "gcc -fsyntax-only a.c",
    "gcc --compile a.c",
    "gcc --preprocess a.c",
    "gcc @args.rsp",
    "gcc -dumpmachine",
    "gcc -print-multiarch",
    "gcc --version",
    "gcc -v a.o -o prog",
    "ccache gcc -c a.c",
    "sh -c 'echo hi'",
]


@pytest.mark.parametrize("cmd", LINKS)
def test_a_link_is_certainly_local_and_the_classifier_agrees(cmd: str, tmp_path: Path) -> None:
    argv = cmd.split()
    assert placement.certainly_local(argv)
    decision = classify.classify(argv, str(tmp_path), dict(os.environ))
    assert not decision.remote and not decision.query, decision.reason


@pytest.mark.parametrize("cmd", NOT_CERTAIN)
def test_compile_query_and_response_file_take_the_classifier(cmd: str) -> None:
    assert not placement.certainly_local(cmd.split())
