"""Errors a user can act on: one `spraycc:` line on stderr, a non-zero exit status, and never
a Python traceback for an expected failure (docs/usage.md, Errors)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server


def one_line(r: subprocess.CompletedProcess[bytes]) -> str:
    err = r.stderr.decode()
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("spraycc: "), err
    return lines[0]


@pytest.mark.parametrize("argv", [
    ["status", "--bogus"],
    ["stop", "--now", "--bogus"],
    ["nosuchcommand"],
    ["status", "--interval", "soon"],
    ["init", "--scheduler", "condor"],
])
def test_usage_mistakes(workspace: Path, env: dict[str, str], argv: list[str]) -> None:
    r = run([SPRAYCC, *argv], workspace, env)
    line = one_line(r)
    assert r.returncode == 2 and "--help" in line
    assert not (Path(env["HOME"]) / ".spraycc").exists()  # init did nothing on a bad value


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["stop"],
                                     ["stop", "--now"]])
def test_no_server(workspace: Path, env: dict[str, str], command: list[str]) -> None:
    r = run([SPRAYCC, *command], workspace, env)
    line = one_line(r)
    assert r.returncode == 1 and r.stdout == b""
    assert "no server" in line and "start one with `spraycc server`" in line


def test_stale_server_file(workspace: Path, env: dict[str, str]) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (workspace / ".spraycc_server").write_text(
        f"pid={dead.pid}\nhost={os.uname().nodename}\ncode=x\ntcp=tcp://127.0.0.1:1\n")
    r = run([SPRAYCC, "status"], workspace, env)
    line = one_line(r)
    assert r.returncode == 1 and "is stale" in line and f"pid {dead.pid}" in line


@pytest.mark.timeout(60)
def test_unreachable_server_address(workspace: Path, env: dict[str, str]) -> None:
    # A port that accepts connections but never speaks: the server "is" on another host.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        (workspace / ".spraycc_server").write_text(
            f"pid=1\nhost=elsewhere.invalid\ncode=x\ntcp=tcp://127.0.0.1:{port}\n")
        for command in (["status", "--once"], ["stop"]):
            r = run([SPRAYCC, *command], workspace, env, timeout=30)
            line = one_line(r)
            assert r.returncode == 1
            assert f"did not answer on tcp://127.0.0.1:{port} within 5 s" in line
            assert "elsewhere.invalid" in line


@pytest.mark.parametrize("config,words", [
    ("max_count = \"lots\"\n", ["key 'max_count' must be int"]),
    ("bogus_key = 1\n", ["unknown key 'bogus_key'", "known keys:"]),
    ("fallback = \"maybe\"\n", ["key 'fallback' must be one of", "'local'"]),
    ("start_cmd = \n", ["not valid TOML"]),
])
def test_bad_config(workspace: Path, env: dict[str, str], config: str, words: list[str]) -> None:
    (workspace / ".spraycc").write_text(config)
    r = run([SPRAYCC, "server"], workspace, env, timeout=30)
    line = one_line(r)
    assert r.returncode == 2 and str(workspace / ".spraycc") in line
    for word in words:
        assert word in line
    assert not (workspace / ".spraycc_server").exists()


@pytest.mark.timeout(60)
def test_failing_start_command_is_shown_once(workspace: Path, env: dict[str, str]) -> None:
    """A start command that fails: its stderr appears in the server's terminal once, and the
    build goes on locally."""
    # The message is assembled by printf, so it is not a substring of the echoed command.
    config = (r"""start_cmd = '''sh -c 'printf "%s: error: %s\n" sbatch "invalid partition """
              r"""specified: nosuch" >&2; exit 1' --'''""" "\ninitial_count = 3\n")
    (workspace / "a.c").write_text("int a(void) { return 1; }\n")
    (workspace / "b.c").write_text("int b(void) { return 2; }\n")
    with running_server(workspace, env, config=config) as srv:
        for src in ("a.c", "b.c"):
            r = run([SPRAYCC, "run", "gcc", "-c", src], workspace, env, timeout=30)
            assert r.returncode == 0, r.stderr.decode()
            assert "Traceback" not in r.stderr.decode()
        srv.read_until("sbatch: error: invalid partition")
        status = run([SPRAYCC, "status", "--once"], workspace, env)
        assert b"sbatch: error: invalid partition specified: nosuch" in status.stdout
    log = srv.collect()
    assert (workspace / "a.o").exists() and (workspace / "b.o").exists()
    assert log.count("sbatch: error: invalid partition specified: nosuch") == 1, log
    assert "Traceback" not in log
