"""Any command on the executors (docs/anycmd.md), end to end: a real server with local executors,
real runners, real make. Test programs, generators with declared outputs, Ctrl-C, time limits,
placement rules and stdin."""

from __future__ import annotations

import os
import random
import re
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers import (
    SPRAYCC,
    ancestors,
    process_group_cmd,
    process_state,
    run,
    running_server,
    wait_for,
)

FAST = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 0\n"
N_TESTS = 52


# --------------------------------------------------------------------------- test programs

def program(i: int) -> str:
    """Test program i: a seeded sequence of unbuffered writes to stdout and stderr (so their
    interleaving is a property of the program), then a pass, a distinct failure status, or
    death by a signal. Test 5 writes ~300 KB to exercise flow control."""
    rng = random.Random(i)
    body = []
    for k in range(rng.randint(20, 60)):
        fd = rng.choice((1, 2))
        end = "\\n" if rng.random() < 0.8 else ""  # some partial lines too
        body.append(f'    say({fd}, "t{i} {"out" if fd == 1 else "err"} {k}{end}");')
    if i == 5:
        body.append('    for (int k = 0; k < 6000; k++) { say(1 + k % 2, "bulk line with '
                    'some padding to make it longer than fifty bytes\\n"); }')
    if i % 10 == 7:
        end = "    raise(SIGUSR1);\n    return 0;"
    elif i % 3 == 0:
        end = "    return 0;"
    else:
        end = f"    return {10 + i};"
    return ("#include <signal.h>\n#include <string.h>\n#include <unistd.h>\n"
            "static void say(int fd, const char *s) { (void)!write(fd, s, strlen(s)); }\n"
            "int main(void) {\n" + "\n".join(body) + "\n" + end + "\n}\n")


MAKEFILE = """\
RUN ?=
LOG ?= direct
TESTS := $(patsubst %.c,%,$(sort $(wildcard t*.c)))

all: $(TESTS)
t%: t%.o
\t$(RUN) gcc $< -o $@
t%.o: t%.c
\t$(RUN) gcc -O1 -c $< -o $@

# One target per test, as `make check` does: the test's stdout and stderr share one log (so
# their interleaving is recorded), its status is kept, and make sees the failure. The subshell
# keeps the shell's own report of a signal death ("User defined signal 1") out of the log: it
# is the shell's, not the test's, and a runner exits 128+N rather than dying of the signal.
check: $(addprefix $(LOG)/,$(addsuffix .rc,$(TESTS)))
$(LOG)/%.rc: % | $(LOG)
\t@(exec $(RUN) ./$*) > $(LOG)/$*.log 2>&1; s=$$?; echo $$s > $@; exit $$s
$(LOG):
\tmkdir -p $@
"""


def make_failures(stderr: bytes) -> set[tuple[str, int]]:
    """(test, status) for each failed check target in make's report."""
    found = re.findall(rb"\[Makefile:\d+: \w+/(t\d+)\.rc\] Error (\d+)", stderr)
    return {(name.decode(), int(code)) for name, code in found}


def summary_remote_tasks(log: str) -> int:
    match = re.search(r"summary: (\d+) remote tasks", log)
    assert match, log
    return int(match.group(1))


@pytest.mark.timeout(400)
def test_suite_of_programs_through_make_check(workspace: Path, env: dict[str, str]) -> None:
    for i in range(N_TESTS):
        (workspace / f"t{i}.c").write_text(program(i))
    (workspace / "Makefile").write_text(MAKEFILE)
    with running_server(workspace, env, config=FAST + "local_count = 4\n") as srv:
        built = run(["make", "-j8", "all", "RUN=spraycc run"], workspace, env, timeout=300)
        assert built.returncode == 0, built.stderr.decode()
        start = time.monotonic()
        remote = run(["make", "-k", "-j8", "check", "LOG=remote", "RUN=spraycc run --remote"],
                     workspace, env, timeout=300)
        remote_s = time.monotonic() - start
    log = srv.collect()
    start = time.monotonic()
    direct = run(["make", "-k", "-j8", "check", "LOG=direct"], workspace, env, timeout=300)
    direct_s = time.monotonic() - start
    print(f"make -j8 check: {N_TESTS} tests direct {direct_s:.2f} s, "
          f"through spraycc run --remote {remote_s:.2f} s")

    # Every compile and every test ran on an executor (links stay local).
    assert summary_remote_tasks(log) == 2 * N_TESTS, log
    # The same pass/fail results and exit statuses, per test and as make reports them.
    statuses = {}
    for i in range(N_TESTS):
        want = (workspace / "direct" / f"t{i}.rc").read_text()
        got = (workspace / "remote" / f"t{i}.rc").read_text()
        assert got == want, f"t{i}: status {got.strip()} through spraycc, {want.strip()} direct"
        statuses[i] = int(want)
    assert direct.returncode == remote.returncode == 2  # make -k: some tests failed
    assert make_failures(remote.stderr) == make_failures(direct.stderr)
    assert {s for s in statuses.values()} >= {0, 138}  # passes and signal deaths (SIGUSR1)
    failing = [s for s in statuses.values() if s not in (0, 138)]
    assert len(failing) == len(set(failing)) >= 20  # distinct failure statuses
    # Each test's stdout+stderr interleaving, byte for byte, as one shared log file saw it.
    for i in range(N_TESTS):
        want_log = (workspace / "direct" / f"t{i}.log").read_bytes()
        got_log = (workspace / "remote" / f"t{i}.log").read_bytes()
        assert got_log == want_log, f"t{i}: output differs from a direct run"
    assert len((workspace / "direct" / "t5.log").read_bytes()) > 300_000


# ------------------------------------------------------------------------------ generator

GENERATOR = """\
#!/bin/sh
# gen.sh HEADER SCRIPT: a large generated header and an executable generated script.
seq 1 900000 | sed 's/.*/#define GENERATED_VALUE_& &/' > "$1"
printf '#!/bin/sh\\necho generated script\\n' > "$2"
chmod 755 "$2"
"""


@pytest.mark.timeout(120)
def test_generator_outputs_come_back_identical_and_atomic(workspace: Path,
                                                          env: dict[str, str]) -> None:
    (workspace / "gen.sh").write_text(GENERATOR)
    (workspace / "gen").mkdir()
    (workspace / "local").mkdir()
    local = run(["sh", "gen.sh", "local/values.h", "local/run.sh"], workspace, env)
    assert local.returncode == 0, local.stderr
    want_header = (workspace / "local" / "values.h").read_bytes()
    assert len(want_header) > 20_000_000
    target = workspace / "gen" / "values.h"

    seen = {"absent": 0, "complete": 0, "partial": []}
    stop = threading.Event()

    def watch() -> None:  # the target is either absent or complete, never in between
        while not stop.is_set():
            try:
                size = os.stat(target).st_size
            except FileNotFoundError:
                seen["absent"] += 1  # type: ignore[operator]
                continue
            if size == len(want_header):
                seen["complete"] += 1  # type: ignore[operator]
            else:
                seen["partial"].append(size)  # type: ignore[union-attr]

    with running_server(workspace, env, config=FAST):
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            r = run([SPRAYCC, "run", "-v", "--remote", "--output", "gen/values.h",
                     "--output", "gen/run.sh", "sh", "gen.sh", "gen/values.h", "./gen/run.sh"],
                    workspace, env)
        finally:
            stop.set()
            watcher.join()
    if target.exists() and target.stat().st_size == len(want_header):
        seen["complete"] += 1  # type: ignore[operator]  # the watcher may not have sampled it
    assert r.returncode == 0, r.stderr.decode()
    assert b"spraycc: remote: forced remote by --remote" in r.stderr
    assert seen["partial"] == [], f"a partial file was visible: sizes {seen['partial'][:5]}"
    assert seen["absent"] and seen["complete"]
    assert target.read_bytes() == want_header
    script = workspace / "gen" / "run.sh"
    assert script.read_bytes() == (workspace / "local" / "run.sh").read_bytes()
    assert script.stat().st_mode & 0o777 == (workspace / "local" / "run.sh").stat().st_mode & 0o777
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()
    assert os.access(script, os.X_OK)
    assert subprocess.run([str(script)], capture_output=True).stdout == b"generated script\n"
    assert not [p for p in (workspace / "gen").iterdir() if p.name.startswith(".")]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.timeout(60)
def test_fixed_name_generator_uses_output_dir(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "version.sh").write_text(
        '#!/bin/sh\necho "dir set: ${SPRAYCC_OUTPUT_DIR:+yes}"\n'
        'echo "#define VERSION 42" > "${SPRAYCC_OUTPUT_DIR:-.}/version.h"\n')
    (workspace / "plain.sh").write_text('#!/bin/sh\necho "written directly" > direct.txt\n')
    with running_server(workspace, env, config=FAST):
        r = run([SPRAYCC, "run", "--remote", "--output", "version.h", "sh", "version.sh"],
                workspace, env)
        plain = run([SPRAYCC, "run", "-v", "--remote", "sh", "plain.sh"], workspace, env)
    assert r.returncode == 0 and r.stdout == b"dir set: yes\n", r.stderr
    assert (workspace / "version.h").read_text() == "#define VERSION 42\n"
    # Without declared outputs the command writes on the shared filesystem itself.
    assert plain.returncode == 0 and b"remote" in plain.stderr
    assert (workspace / "direct.txt").read_text() == "written directly\n"


# ------------------------------------------------------------------- long-running commands

def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    got = b""
    while needle not in got:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {needle!r}; got {got!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"EOF before {needle!r}; got {got!r}"
            got += chunk
    return got


@pytest.mark.timeout(60)
def test_output_streams_while_the_command_runs(workspace: Path, env: dict[str, str]) -> None:
    marker = workspace / "marker"
    cmd = (f"echo first line; echo on stderr >&2; while [ ! -e {marker} ]; do sleep 0.02; "
           "done; echo after the marker; exit 7")
    with running_server(workspace, env, config=FAST):
        runner = subprocess.Popen([SPRAYCC, "run", "--remote", "sh", "-c", cmd], cwd=workspace,
                                  env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            first = _read_until(runner.stdout.fileno(), b"first line\n", deadline)  # type: ignore[union-attr]
            assert runner.poll() is None  # still running: the line came while it ran
            err = _read_until(runner.stderr.fileno(), b"on stderr\n", deadline)  # type: ignore[union-attr]
            marker.touch()
            rest, err_rest = runner.communicate(timeout=30)
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
    assert first + rest == b"first line\nafter the marker\n"
    assert err + err_rest == b"on stderr\n"
    assert runner.returncode == 7


@pytest.mark.timeout(60)
def test_ctrl_c_kills_the_whole_remote_process_group(workspace: Path,
                                                     env: dict[str, str]) -> None:
    # The command leaves a background child that even ignores SIGTERM, then waits.
    cmd = process_group_cmd("echo started")
    with running_server(workspace, env, config=FAST) as srv:
        runner = subprocess.Popen([SPRAYCC, "run", "--remote", "sh", "-c", cmd], cwd=workspace,
                                  env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        try:
            _read_until(runner.stdout.fileno(), b"started\n", time.monotonic() + 30)  # type: ignore[union-attr]
            pids = [int((workspace / f).read_text()) for f in
                    ("main.pid", "child.pid", "child2.pid")]
            assert srv.proc.pid in ancestors(pids[0])  # it runs under an executor
            assert all(process_state(pid) not in ("", "Z") for pid in pids)
            sent = time.monotonic()
            runner.send_signal(signal.SIGINT)

            def all_gone() -> bool:
                return all(process_state(pid) in ("", "Z") for pid in pids)

            # SIGTERM, then SIGKILL 1 s later (docs/anycmd.md): bench/promptness.py measures
            # it; here an order of magnitude more, so a loaded machine does not fail it
            wait_for(all_gone, 20.0, "every process of the remote command to be gone",
                     interval=0.005)
            elapsed = time.monotonic() - sent
            assert runner.wait(timeout=10) == 128 + signal.SIGINT
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
            runner.stdout.close()  # type: ignore[union-attr]
            runner.stderr.close()  # type: ignore[union-attr]
    print(f"remote process group gone {elapsed:.3f} s after SIGINT to the runner")


@pytest.mark.timeout(60)
def test_time_limit_from_option_and_config(workspace: Path, env: dict[str, str]) -> None:
    slow = ["sh", "-c", "echo begun; sleep 1 & echo $! > bg.pid; sleep 30"]
    with running_server(workspace, env, config=FAST + "task_timeout = 1.5\n"):
        start = time.monotonic()
        by_option = run([SPRAYCC, "run", "--remote", "--timeout", "0.5", *slow], workspace, env)
        option_s = time.monotonic() - start
        start = time.monotonic()
        by_config = run([SPRAYCC, "run", "--remote", *slow], workspace, env)
        config_s = time.monotonic() - start
        unlimited = run([SPRAYCC, "run", "--remote", "--timeout", "0", "sh", "-c",
                         "sleep 2; echo finished"], workspace, env)
    for r, limit in ((by_option, "0.5"), (by_config, "1.5")):
        assert r.returncode == 124, r.stderr
        assert r.stdout == b"begun\n"
        assert r.stderr == (f"spraycc: sh killed: it ran longer than its time limit of {limit} s "
                            "(task_timeout / --timeout)\n").encode()
    assert 0.5 <= option_s < 10 and 1.5 <= config_s < 10
    assert unlimited.returncode == 0 and unlimited.stdout == b"finished\n"


# ------------------------------------------------------------------ placement and stdin

RULES = """
[[rule]]
match = "*/run_*.sh*"
where = "remote"
[[rule]]
regex = '^gcc .*\\bslow\\.c\\b'
where = "local"
"""


@pytest.mark.timeout(60)
def test_rules_stdin_and_explain(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "run_a.sh").write_text('#!/bin/sh\necho "host $(hostname)"; cat; exit 3\n')
    (workspace / "run_a.sh").chmod(0o755)
    (workspace / "slow.c").write_text("int slow;\n")
    (workspace / "fast.c").write_text("int fast;\n")
    (workspace / "input.txt").write_text("from a file\n")
    with running_server(workspace, env, config=FAST + RULES) as srv:
        assert "rule.0=remote match */run_*.sh*" in srv.server_file.read_text()
        by_rule = run([SPRAYCC, "run", "-v", "./run_a.sh", "x"], workspace, env)
        piped = subprocess.run([SPRAYCC, "run", "-v", "./run_a.sh"], cwd=workspace, env=env,
                               input=b"from a pipe\n", capture_output=True, timeout=60)
        with (workspace / "input.txt").open("rb") as f:
            from_file = subprocess.run([SPRAYCC, "run", "-v", "./run_a.sh"], cwd=workspace,
                                       env=env, stdin=f, capture_output=True, timeout=60)
        forced = subprocess.run([SPRAYCC, "run", "-v", "--remote", "./run_a.sh"],
                                cwd=workspace, env=env, input=b"never read\n",
                                capture_output=True, timeout=60)
        kept = run([SPRAYCC, "run", "-v", "gcc", "-c", "slow.c"], workspace, env)
        compiled = run([SPRAYCC, "run", "-v", "gcc", "-c", "fast.c"], workspace, env)
        local = run([SPRAYCC, "run", "-v", "--local", "./run_a.sh"], workspace, env)
        explained = run([SPRAYCC, "explain", "./run_a.sh", "x"], workspace, env)
        explained_local = run([SPRAYCC, "explain", "gcc", "-c", "slow.c"], workspace, env)
    assert by_rule.returncode == 3
    assert b"""spraycc: remote: rule 0 (match "*/run_*.sh*") says remote""" in by_rule.stderr
    assert b"ran on" in by_rule.stderr
    assert piped.returncode == 3 and piped.stdout.endswith(b"from a pipe\n")
    assert b"stdin is a pipe and a remote command gets none: local run" in piped.stderr
    assert from_file.returncode == 3 and from_file.stdout.endswith(b"from a file\n")
    assert b"stdin is a file" in from_file.stderr
    assert forced.returncode == 3 and b"ran on" in forced.stderr  # stdin closed remotely
    assert b"never read" not in forced.stdout
    assert kept.returncode == 0 and b'local: rule 1 (regex "' in kept.stderr
    assert (workspace / "slow.o").exists()
    assert compiled.returncode == 0 and b"remote: compile fast.c" in compiled.stderr
    assert local.returncode == 3 and b"local: forced local by --local" in local.stderr
    import json

    info = json.loads(explained.stdout)
    assert info["where"] == "remote" and info["forced"] is True
    assert info["rule"] == {"index": 0, "where": "remote", "match": "*/run_*.sh*"}
    assert info["rules_from"].endswith(".spraycc_server")
    info = json.loads(explained_local.stdout)
    assert info["where"] == "local" and info["rule"]["index"] == 1
    # No server: explain shows what the config's rules would do.
    info = json.loads(run([SPRAYCC, "explain", "./run_a.sh"], workspace, env).stdout)
    assert info["rule"]["index"] == 0 and info["rules_from"].endswith(".spraycc")
