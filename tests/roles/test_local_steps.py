"""Local steps under the server's local slots, `spraycc explain`, and `spraycc run -v`.

- `make -j16` of eight steps that must run on this host (commands the classifier does not
  know) through `spraycc run`, with `local_slots = 2`: every step records when it started and
  ended, and no more than two may ever overlap; without a server the same steps do overlap
  (so the measurement can see an overlap).
- The same with link-like steps (no compile word): at most two at once, and no runner loads
  the classifier (they ask for their local slot at once).
- `spraycc explain CMD…` prints the decision the runner would take, as JSON.
- `spraycc run -v` and SPRAYCC_VERBOSE log the decision and its reason to stderr.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server

CONFIG = "local_slots = 2\nlocal_count = 1\nidle_shutdown_after = 600\n"
STEPS = 8
# One local step: record start and end (ns wall clock) in t/<name>; the sleep is the step's
# work (long enough that unthrottled steps overlap), not a synchronisation.
STEP = "date +%s%N > t/$@.start; sleep 1; date +%s%N > t/$@.end"
MAKEFILE = (
    "STEPS := $(addprefix s,$(shell seq " + str(STEPS) + "))\n"
    "all: $(STEPS)\n"
    "$(STEPS):\n"
    "\t$(RUN) sh -c '" + STEP.replace("$@", "'$@'") + "'\n"
    ".PHONY: all $(STEPS)\n"
)


def _max_overlap(tdir: Path) -> int:
    """The most steps running at one instant, from their recorded start/end times."""
    events = []
    for start in tdir.glob("*.start"):
        end = start.with_suffix(".end")
        events.append((int(start.read_text()), 1))
        events.append((int(end.read_text()), -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start
        running += delta
        peak = max(peak, running)
    return peak


def _make_steps(workspace: Path, env: dict[str, str]) -> Path:
    (workspace / "Makefile").write_text(MAKEFILE)
    tdir = workspace / "t"
    if tdir.exists():
        shutil.rmtree(tdir)
    tdir.mkdir()
    r = run(["make", "-j16", f"RUN={SPRAYCC} run"], workspace, env, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert len(list(tdir.glob("*.end"))) == STEPS, "every step must have run"
    return tdir


@pytest.mark.timeout(180)
def test_local_slots_limit_concurrent_local_steps(workspace: Path, env: dict[str, str]) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is needed")
    # Without a server nothing throttles: the steps overlap (the measurement sees it).
    assert _max_overlap(_make_steps(workspace, env)) > 2
    with running_server(workspace, env, config=CONFIG):
        peak = _max_overlap(_make_steps(workspace, env))
    assert 1 <= peak <= 2, f"{peak} local steps ran at once with local_slots = 2"


# A link-like step: a tool with linker-style arguments and no compile word, recording its start
# and end like STEP (the sleep is its work, not a synchronisation).
LINKER = "#!/bin/sh\ndate +%s%N > t/$2.start; sleep 1; date +%s%N > t/$2.end\n"
LINK_MAKEFILE = (
    "STEPS := $(addprefix s,$(shell seq " + str(STEPS) + "))\n"
    "all: $(STEPS)\n"
    "$(STEPS):\n"
    "\t$(RUN) ./ld-like -o $@ $@.o -Lsub -lm 2> t/$@.imports\n"
    ".PHONY: all $(STEPS)\n"
)
CLASSIFIER = ("spraycc.step.classify", "spraycc.step.flags", "spraycc.step.cmdline",
              "spraycc.step.compilers")


@pytest.mark.timeout(180)
def test_links_take_local_slots_without_the_classifier(workspace: Path,
                                                       env: dict[str, str]) -> None:
    if shutil.which("make") is None:
        pytest.skip("make is needed")
    (workspace / "Makefile").write_text(LINK_MAKEFILE)
    (workspace / "ld-like").write_text(LINKER)
    (workspace / "ld-like").chmod(0o755)
    tdir = workspace / "t"
    tdir.mkdir()
    # Each runner's imports, as `python -X importtime` lists them, go to t/<step>.imports.
    with running_server(workspace, env, config=CONFIG):
        r = run(["make", "-j16", f"RUN={SPRAYCC} run"], workspace,
                {**env, "PYTHONPROFILEIMPORTTIME": "1"}, timeout=120)
        status = json.loads(run([SPRAYCC, "status", "--json"], workspace, env).stdout)
    assert r.returncode == 0, r.stderr.decode()
    assert len(list(tdir.glob("*.end"))) == STEPS, "every step must have run"
    peak = _max_overlap(tdir)
    assert 1 <= peak <= 2, f"{peak} link-like steps ran at once with local_slots = 2"
    assert status["local_done"] == STEPS, status
    for imports in sorted(tdir.glob("*.imports")):
        loaded = {line.rsplit("|", 1)[1].strip() for line in imports.read_text().splitlines()
                  if line.startswith("import time:") and "|" in line}
        assert "spraycc.runner" in loaded, imports.read_text()[-2000:]
        assert not loaded & set(CLASSIFIER), f"{imports.name}: {sorted(loaded & set(CLASSIFIER))}"


def _explain(cwd: Path, env: dict[str, str], *cmd: str) -> dict:
    r = run([SPRAYCC, "explain", *cmd], cwd, env)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.mark.timeout(60)
def test_explain_shows_the_decision(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "obj").mkdir()
    (workspace / "a.c").write_text("int a;\n")
    env = {k: v for k, v in env.items() if k != "TERM"}
    remote = _explain(workspace, env, "gcc", "-c", "a.c", "-o", "obj/a.o", "-MMD")
    assert remote["where"] == "remote" and remote["reason"] == "compile a.c"
    assert remote["inputs"] == ["a.c"] and remote["outputs"] == ["obj/a.o", "obj/a.d"]
    assert remote["dependency_task"] is False
    assert remote["remote_argv"] == [
        "gcc", "-c", "a.c", "-o", "<tmp>/0/a.o", "-MMD", "-MQ", "obj/a.o",
    ]  # fmt: skip
    assert "added_at_a_terminal" not in remote  # TERM is unset

    link = _explain(workspace, env, "gcc", "obj/a.o", "-o", "prog")
    assert link["where"] == "local" and link["reason"] == "link step"
    assert link["remote_argv"] is None and link["inputs"] == ["obj/a.o"]

    deps = _explain(workspace, env, "gcc", "-MM", "a.c", "-MF", "obj/a.d")
    assert deps["where"] == "remote" and deps["dependency_task"] is True
    assert deps["outputs"] == ["obj/a.d"] and deps["reason"] == "dependency generation for a.c"

    native = _explain(workspace, env, "gcc", "-march=native", "-c", "a.c")
    assert native["where"] == "local" and "different CPU" in native["reason"]

    tty = _explain(workspace, {**env, "TERM": "xterm-256color"}, "gcc", "-c", "a.c")
    if tty["compiler"].rsplit("-", 1)[-1].isdigit():  # gcc's version is in its name
        assert tty["added_at_a_terminal"] == "-fdiagnostics-color=always"


@pytest.mark.timeout(60)
def test_run_verbose_logs_each_decision(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "a.c").write_text("int main(void) { return 0; }\n")
    with running_server(workspace, env, config=CONFIG):
        compile_ = run([SPRAYCC, "run", "-v", "gcc", "-c", "a.c"], workspace, env)
        link = run([SPRAYCC, "run", "gcc", "a.o", "-o", "prog"], workspace,
                   {**env, "SPRAYCC_VERBOSE": "1"})  # fmt: skip
        quiet = run([SPRAYCC, "run", "gcc", "-c", "a.c"], workspace, env)
    assert compile_.returncode == 0 and link.returncode == 0 and quiet.returncode == 0
    lines = compile_.stderr.decode().splitlines()
    assert lines[0] == "spraycc: remote: compile a.c", lines
    assert any(ln.startswith("spraycc: ran on ") for ln in lines), lines
    assert link.stderr.decode().splitlines()[0] == "spraycc: local: link step"
    assert quiet.stderr == b""  # without -v a compile says nothing of its own
    assert (workspace / "prog").exists()


@pytest.mark.timeout(60)
def test_compiler_queries_take_no_local_slot(workspace: Path, env: dict[str, str]) -> None:
    """`gcc -dumpmachine` and the like run at once (dpkg-buildflags runs `$CC -dumpmachine`
    serially inside make): the same output as gcc's own, and the server counts no local
    step for them; a link still takes a slot."""
    (workspace / "a.c").write_text("int main(void) { return 0; }\n")
    queries = [["gcc", "-dumpmachine"], ["gcc", "-std=gnu99", "-dumpmachine"],
               ["gcc", "--version"], ["gcc", "-print-multiarch"]]
    with running_server(workspace, env, config=CONFIG):
        for query in queries:
            want = run(query, workspace, env)
            for launcher in ([SPRAYCC, "run"], [SPRAYCC, "run", "-v"]):
                got = run([*launcher, *query], workspace, env)
                assert (got.returncode, got.stdout) == (want.returncode, want.stdout), query
        assert run([SPRAYCC, "run", "gcc", "a.c", "-o", "prog"], workspace, env).returncode == 0
        status = json.loads(run([SPRAYCC, "status", "--json"], workspace, env).stdout)
    assert status["local_done"] == 1, status  # the link alone
