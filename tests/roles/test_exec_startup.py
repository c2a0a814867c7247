"""An executor that starts but cannot work says why on ONE stderr line and exits non-zero at
once, so the scheduler records a failed job the server can report (docs/cluster.md, "Job
status"): an address it cannot reach, a refused handshake, a key it cannot use, another
protocol version. Real `spraycc exec` processes against real sockets and a real server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import SPRAYCC, running_server

from spraycc.errors import SprayError
from spraycc.executor import load_key
from spraycc.wire import keys, serverfile
from spraycc.wire import protocol as p

HEXKEY = "ab" * 32
QUICK = 15.0  # the heartbeat expiry is 5 s; unreachable gives up after 3 s plus one probe


def exec_cmd(env: dict[str, str], cwd: Path, *args: str,
             argv0: list[str] | None = None) -> tuple[int, list[str], float]:
    """Run `spraycc exec ARGS`: (exit status, stderr lines, seconds)."""
    t0 = time.monotonic()
    r = subprocess.run([*(argv0 or [SPRAYCC]), "exec", *args, f"--tmpdir={cwd}"], cwd=cwd,
                       env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = r.stderr.decode(errors="replace").splitlines()
    return r.returncode, lines, time.monotonic() - t0


@pytest.fixture
def keyed_env(env: dict[str, str]) -> dict[str, str]:
    keys.create(os.path.join(env["HOME"], keys.NAME))
    return env


def test_connection_refused_is_named_within_seconds(keyed_env, tmp_path) -> None:
    with socket.socket() as held:  # bound, never listening: connecting is refused
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        status, lines, took = exec_cmd(keyed_env, tmp_path, f"--callme=127.0.0.1:{port}",
                                       "--code=c0de", "--launch=start-1",
                                       f"--serverkey={HEXKEY}")
    assert status == 1 and len(lines) == 1, lines
    assert lines[0] == (f"spraycc: executor start-1 exits: cannot reach the server at "
                        f"tcp://127.0.0.1:{port}: connection refused")
    assert took < QUICK


def test_unknown_host_is_named(keyed_env, tmp_path) -> None:
    status, lines, took = exec_cmd(keyed_env, tmp_path, "--callme=no-such-host.invalid:4000",
                                   "--code=c0de", f"--serverkey={HEXKEY}")
    assert status == 1 and len(lines) == 1, lines
    assert "cannot resolve 'no-such-host.invalid'" in lines[0]
    assert took < QUICK


@pytest.mark.parametrize(("damage", "says"), [
    ("exposed", "is readable or writable by other users (mode 644)"),
    ("malformed", "is not a spraycc key file"),
    ("unreadable", "is not a regular file"),
    ("fifo", "is not a regular file"),  # opened without waiting for a writer
    ("foreign", "belongs to uid 65534, not to you"),
])
def test_a_key_it_cannot_use_fails_at_once(env, tmp_path, damage, says) -> None:
    path = Path(env["HOME"]) / keys.NAME
    if damage == "exposed":
        keys.create(str(path))
        path.chmod(0o644)
    elif damage == "malformed":
        path.write_text("public = short\n")
        path.chmod(0o600)
    elif damage == "fifo":
        os.mkfifo(path, 0o600)
    elif damage == "foreign":
        if os.geteuid() != 0:
            pytest.skip("needs root to give the key file to another user")
        keys.create(str(path))
        os.chown(path, 65534, 65534)
    else:
        path.mkdir()
    status, lines, took = exec_cmd(env, tmp_path, "--callme=127.0.0.1:1", "--code=c0de",
                                   f"--serverkey={HEXKEY}")
    assert status == 1 and len(lines) == 1 and says in lines[0], lines
    assert took < QUICK


def test_a_bad_server_key_is_a_one_line_error(keyed_env, tmp_path) -> None:
    status, lines, _ = exec_cmd(keyed_env, tmp_path, "--callme=127.0.0.1:1", "--code=c0de",
                                "--serverkey=not-a-key")
    assert status == 1 and lines == ["spraycc: --serverkey must be the server's public key, "
                                     "64 hex digits (the server's start command passes it)"]


def test_a_missing_key_is_waited_for_then_given_up(monkeypatch, tmp_path) -> None:
    """The shared-home race: missing is read again until the deadline (fake clock here; the
    real process that waits and then finds the key is in tests/test_security.py)."""
    now = [0.0]
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        now[0] += seconds

    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(SprayError, match="does not exist"):
        load_key(wait=5.0, clock=lambda: now[0], sleep=sleep)
    assert naps == [1.0] * 5


def server_args(srv) -> list[str]:
    info = serverfile.read(str(srv.server_file))
    return [f"--callme={info.get('tcp').removeprefix('tcp://')}", f"--code={info.code}",
            f"--serverkey={info.serverkey}", "--launch=start-1"]


def test_refused_handshake_and_wrong_version_exit_at_once(workspace, keyed_env, tmp_path,
                                                          env) -> None:
    config = "local_count = 0\nstatus_interval = 0\nidle_shutdown_after = 60\n"
    with running_server(workspace, keyed_env, "--loopback", config=config) as srv:
        args = server_args(srv)
        # another user's key: refused by the server's ZAP handler
        other = tmp_path / "other-home"
        other.mkdir()
        keys.create(str(other / keys.NAME))
        status, lines, took = exec_cmd(dict(keyed_env, HOME=str(other)), tmp_path, *args)
        assert status == 1 and len(lines) == 1, lines
        assert "refused by the server: the server does not accept this user's key" in lines[0]
        assert took < QUICK
        # the same user, another protocol version (an old spraycc on the cluster hosts)
        older = ["import sys; import spraycc.wire.messages as p; p.VERSION = 99; "
                 "p._HEARTBEAT = p.packb([99, p.Cmd.HEARTBEAT]); from spraycc.cli import app; "
                 "sys.argv[0] = 'spraycc'; app()"]
        status, lines, took = exec_cmd(keyed_env, tmp_path, *args,
                                       argv0=[sys.executable, "-c", *older])
        assert status == 1 and len(lines) == 1, lines
        assert (f"the server speaks protocol version {p.VERSION}, this executor 99: the start "
                "command must run the same spraycc as the server") in lines[0]
        assert took < QUICK
