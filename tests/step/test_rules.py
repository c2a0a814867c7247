"""Placement rules and forced placement: the glob matcher, the server-file encoding, config
validation, and the runner's place() decisions (no server needed here)."""

from __future__ import annotations

import fnmatch
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from spraycc import runner
from spraycc.errors import ConfigError
from spraycc.server import config
from spraycc.step import classify, placement, rules


def _has_reversed_range(pattern: str) -> bool:
    """fnmatch turns a reversed range such as [e-a] into odd sets; our matcher documents that
    a reversed range matches nothing, so such patterns are left out of the comparison."""
    i = pattern.find("[")
    while i >= 0:
        parsed = rules._parse_set(pattern, i + 1)
        if parsed is None:
            return False
        body = pattern[i + 1 : parsed[1] - 1].removeprefix("!")
        k = 0
        while k < len(body):
            if k + 2 < len(body) and body[k + 1] == "-":
                if body[k] > body[k + 2]:
                    return True
                k += 3
            else:
                k += 1
        i = pattern.find("[", parsed[1])
    return False


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_glob_matches_fnmatchcase(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab-]![*?/ c^\\x."
    compared = 0
    for _ in range(40000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9)))
        text = "".join(rng.choice("ab-]![c/ ^\\x.") for _ in range(rng.randint(0, 9)))
        if _has_reversed_range(pattern):
            continue
        compared += 1
        assert rules.glob_match(pattern, text) == fnmatch.fnmatchcase(text, pattern), (
            pattern, text)
    assert compared > 30000


def test_glob_examples() -> None:
    line = rules.command_line(["./tests/run_io.sh", "--fast", "a b"])
    assert line == "./tests/run_io.sh --fast a b"
    assert rules.glob_match("*/tests/run_*.sh *", line)
    assert not rules.glob_match("*/tests/run_*.sh *", "./tests/run_io.sh")
    assert rules.glob_match("*/tests/run_*.sh*", "./tests/run_io.sh")
    assert rules.glob_match("[!-]*", "x") and not rules.glob_match("[!-]*", "-x")
    assert rules.glob_match("a[]]b", "a]b") and rules.glob_match("a[b", "a[b")


def test_server_file_encoding_round_trip() -> None:
    cases = [("remote", "match", "*/run_*.sh *"), ("local", "regex", "^make \\S+ %d\n$"),
             ("remote", "match", " lead and trail "), ("local", "regex", "caf\u00e9\t%25")]
    cfg_rules = [{"where": w, k: pat} for w, k, pat in cases]
    fields = rules.to_fields(cfg_rules)
    for value in fields.values():
        assert " " not in value.split(" ", 2)[2] and "\n" not in value
    got = rules.from_fields({"code": "x", **dict(reversed(fields.items()))})
    assert [(r.index, r.where, r.kind, r.pattern) for r in got] == [
        (i, w, k, pat) for i, (w, k, pat) in enumerate(cases)]
    with pytest.raises(ValueError):
        rules.from_fields({"rule.0": "remote glob x"})
    with pytest.raises(ValueError):
        rules.from_fields({"rule.0": "remote match %zz"})
    with pytest.raises(ValueError):
        rules.from_fields({"rule.x": "remote match a"})


def test_first_match_wins_and_regex_searches() -> None:
    found = rules.from_fields(rules.to_fields([
        {"where": "local", "regex": r"\bslow_test\b"},
        {"where": "remote", "match": "./t_*"},
        {"where": "local", "match": "*"},
    ]))
    assert rules.first_match(found, ["./t_slow_test"]).index == 1  # type: ignore[union-attr]
    assert rules.first_match(found, ["./t_1", "slow_test"]).index == 0  # type: ignore[union-attr]
    assert rules.first_match(found, ["make"]).index == 2  # type: ignore[union-attr]
    assert rules.first_match([], ["make"]) is None


def test_runner_imports_no_re() -> None:
    code = "import sys, spraycc.runner; print('re' in sys.modules, 'fnmatch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------------------- config

def test_config_rules_parse(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[rule]]\nmatch = "*/tests/run_*.sh *"\nwhere = "remote"\n'
                    "[[rule]]\nregex = '^gcc .*big'\nwhere = \"local\"\n")
    cfg = config.parse(path)
    assert cfg.rule == [{"match": "*/tests/run_*.sh *", "where": "remote"},
                        {"regex": "^gcc .*big", "where": "local"}]
    assert config.Config().rule == ()  # no rules by default
    assert config.with_overrides(cfg, max_count=3).rule == cfg.rule


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('rule = "x"\n', "key 'rule' must be an array of tables"),
        ("rule = [1]\n", "key 'rule[0]' must be a table"),
        ('[[rule]]\nmatch = "a"\n', "key 'rule[0].where' must be \"remote\" or \"local\""),
        ('[[rule]]\nmatch = "a"\nwhere = "cluster"\n', "key 'rule[0].where'"),
        ('[[rule]]\nwhere = "local"\n', "key 'rule[0]' needs exactly one of 'match'"),
        ('[[rule]]\nmatch = "a"\nregex = "b"\nwhere = "local"\n', "needs exactly one"),
        ('[[rule]]\nmatch = "a"\nwhere = "local"\n[[rule]]\nregex = "(("\nwhere = "local"\n',
         "key 'rule[1].regex' is not a valid regular expression"),
        ('[[rule]]\nglob = "a"\nwhere = "local"\n', "unknown key 'rule[0].glob'"),
        ('[[rule]]\nmatch = ""\nwhere = "local"\n', "key 'rule[0].match' must be a non-empty"),
        ('[[rule]]\nmatch = 3\nwhere = "local"\n', "key 'rule[0].match' must be a non-empty"),
    ],
)
def test_bad_rules_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.parse(path)
    assert needle in str(info.value) and str(path) in str(info.value)


# ------------------------------------------------------------------------------ placement

def _opts(*args: str) -> runner.Options:
    opts, argv = runner.parse([*args, "true"])
    assert argv == ["true"]
    return opts


def _rules(*entries: dict[str, str]) -> list[rules.Rule]:
    return rules.from_fields(rules.to_fields(list(entries)))


def test_parse_timeout_and_outputs() -> None:
    assert _opts().timeout is None
    assert _opts("--timeout", "0").timeout == 0.0
    assert _opts("--timeout=2.5").timeout == 2.5
    for bad in ("-1", "x", "nan"):
        with pytest.raises(ValueError, match="--timeout needs seconds"):
            runner.parse(["--timeout", bad, "true"])
    opts = _opts("--remote", "--output", "a.h", "--output=b/c.h")
    assert opts.force == "remote" and opts.outputs == ["a.h", "b/c.h"]


def test_forced_remote_rewrites_named_outputs(tmp_path: Path) -> None:
    (tmp_path / "gen").mkdir()
    argv = ["python3", "gen.py", "./gen/v.h", "--script=gen/run.sh", "-Dgen/v.h"]
    d = placement.forced_remote(argv, ["gen/v.h", "gen/run.sh"], str(tmp_path))
    tmp = classify.TMP
    assert d.remote and d.argv == ["python3", "gen.py", f"{tmp}/out/v.h",
                                   f"--script={tmp}/out/run.sh", "-Dgen/v.h"]
    assert [(o.path, o.collect, o.on_missing) for o in d.outputs] == [
        ("gen/v.h", "out/v.h", "keep"), ("gen/run.sh", "out/run.sh", "keep")]
    assert d.env == {"SPRAYCC_OUTPUT_DIR": f"{tmp}/out"}
    # Not named in argv: still remote; the command may write $SPRAYCC_OUTPUT_DIR/fixed.h.
    fixed = placement.forced_remote(["./gen.sh"], ["fixed.h"], str(tmp_path))
    assert fixed.remote and fixed.argv == ["./gen.sh"] and fixed.outputs[0].collect == "out/fixed.h"
    # No declared outputs: no variable, writes land on the shared filesystem.
    assert placement.forced_remote(["./t"], [], str(tmp_path)).env == {}
    same = placement.forced_remote(["g", "a/x.h"], ["x.h", "gen/x.h"], str(tmp_path))
    assert not same.remote and "same file name" in same.reason
    nodir = placement.forced_remote(["g"], ["missing/x.h"], str(tmp_path))
    assert not nodir.remote and "missing or not writable" in nodir.reason


def test_place_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.c").write_text("int a;\n")
    (tmp_path / "big.c").write_text("int b;\n")
    script = tmp_path / "run_x.sh"
    script.write_text("#!/bin/sh\n")
    cwd = str(tmp_path)
    found = _rules({"where": "local", "match": "gcc * big.c*"},
                   {"where": "remote", "match": "*run_*.sh*"},
                   {"where": "remote", "match": "gcc *"})
    none = runner.Options()
    compile_big = placement.place(["gcc", "-c", "big.c"], none, cwd, found)
    assert not compile_big.decision.remote and compile_big.rule is found[0]
    assert compile_big.decision.reason == 'rule 0 (match "gcc * big.c*") says local'
    compile_a = placement.place(["gcc", "-c", "a.c"], none, cwd, found)
    assert compile_a.decision.remote and not compile_a.forced  # the classifier's own plan
    assert compile_a.decision.outputs[0].path == "a.o" and compile_a.rule is found[2]
    link = placement.place(["gcc", "a.o", "-o", "a"], none, cwd, found)
    assert link.decision.remote and link.forced and link.rule is found[2]
    test = placement.place(["./run_x.sh", "1"], none, cwd, found)
    assert test.decision.remote and test.forced and test.decision.outputs == []
    assert placement.place(["./run_x.sh"], none, cwd, []).decision.remote is False
    assert not placement.place(["./run_x.sh"], _opts("--local"), cwd, found).decision.remote
    forced = placement.place(["./other"], _opts("--remote"), cwd, found)
    assert forced.decision.remote and forced.forced and forced.rule is None


@pytest.mark.parametrize(
    ("stdin", "want"),
    [("devnull", ""), ("pipe", "stdin is a pipe"), ("file", "stdin is a file"),
     ("closed", "")],
)
def test_stdin_reason(tmp_path: Path, stdin: str, want: str) -> None:
    code = ("import sys; from spraycc.step import placement; "
            "sys.stdout.write(placement.stdin_reason())")
    if stdin == "closed":
        code = "import os; os.close(0); " + code
    data = tmp_path / "input"
    data.write_text("x")
    with data.open("rb") as f:
        source = {"devnull": subprocess.DEVNULL, "pipe": subprocess.PIPE, "file": f,
                  "closed": subprocess.DEVNULL}[stdin]
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=source,
                                stdout=subprocess.PIPE)
        text = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0
    if want:
        assert text.startswith(want) and text.endswith("a remote command gets none")
    else:
        assert text == ""


def test_stdin_keeps_rule_remote_step_local(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement, "stdin_reason", lambda: "stdin is a pipe and ...")
    found = _rules({"where": "remote", "match": "./t*"})
    cwd = str(tmp_path)
    by_rule = placement.place(["./t1"], runner.Options(), cwd, found, check_stdin=True)
    assert not by_rule.decision.remote and "stdin is a pipe" in by_rule.decision.reason
    forced = placement.place(["./t1"], _opts("--remote"), cwd, found, check_stdin=True)
    assert forced.decision.remote
    assert os.path.basename(by_rule.decision.argv[0]) == "t1"
