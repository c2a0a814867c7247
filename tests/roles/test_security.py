"""Identity and security (docs/security.md): who gets in, and what crosses the wire.

Real servers, real sockets and processes. Strangers are refused, and the refusal reaches the
client within a second: a wrong access code, an old protocol version, a client without this
user's key, a stale client of an earlier session, another Unix user (run as `nobody`). Source
bytes never cross the TCP wire in clear (a recording relay sits between executor and server).
Executors pass the task's environment exactly and write nothing outside their temp dir.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import resource
import secrets
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from harness.capability import unavailable
from helpers import SPRAYCC, ServerProc, run, running_server, wait_for

from spraycc.errors import Refused
from spraycc.executor import Executor
from spraycc.net import auth
from spraycc.net.curvelink import CurveDealer
from spraycc.step.placement import OUTPUT_DIR_VAR
from spraycc.wire import keys, serverfile, zmtp
from spraycc.wire import protocol as p
from spraycc.wire.minipack import packb

ROOT = Path(__file__).resolve().parents[2]
FAST = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 0\n"
# The refusal is observed on the client side within a second (bench/promptness.py measures
# it); the tests allow ten times that, so a loaded 2-CPU machine does not fail them, which
# still tells a prompt refusal from a wait for a timeout or a heartbeat expiry.
QUICK = 10.0
TAG_C = 'const char tag[] = "{tag}";\nint get(void) {{ return tag[0]; }}\n'


# ---------------------------------------------------------------------------------- helpers

def user_key(env: dict[str, str]) -> keys.KeyPair:
    return keys.load(str(Path(env["HOME"]) / keys.NAME))


def info_of(srv: ServerProc) -> serverfile.ServerInfo:
    return serverfile.read(str(srv.server_file))


def fake_server_file(where: Path, info: serverfile.ServerInfo, **changes: str) -> Path:
    """A copy of the server file in `where` (the nearest one wins for runners below it)."""
    fields = dict(info.fields)
    fields.update(changes)
    for key in [k for k, v in fields.items() if v == ""]:
        del fields[key]
    where.mkdir(exist_ok=True)
    serverfile.create(str(where / serverfile.NAME), fields)
    return where


def timed_executor(info: serverfile.ServerInfo, *, code: str | None = None,
                   serverkey: bytes | None = None, keypair: keys.KeyPair,
                   tmp: Path) -> tuple[int, str, float]:
    """Run an in-process executor against the server; (exit code, reason, seconds)."""
    ex = Executor(info.get("tcp"), code if code is not None else info.code,
                  serverkey=serverkey if serverkey is not None else info.serverkey.encode(),
                  keypair=keypair, tmpdir=str(tmp), launch="test")
    start = time.monotonic()
    status = ex.run()
    return status, ex.exit_reason, time.monotonic() - start


@pytest.fixture
def server(workspace: Path, env: dict[str, str]) -> Iterator[ServerProc]:
    (workspace / "a.c").write_text("int a(void) { return 1; }\n")
    with running_server(workspace, env, config=FAST) as srv:
        yield srv


# ----------------------------------------------------------------------- the user's key

def test_init_creates_the_key_once_0600_and_raises_the_fd_limit(env: dict[str, str],
                                                                 workspace: Path) -> None:
    path = Path(env["HOME"]) / keys.NAME
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(1024, soft)

    def init() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [SPRAYCC, "init"], cwd=workspace, env=env, capture_output=True, timeout=60,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard)))

    first = init()
    assert first.returncode == 0, first.stderr.decode()
    out = first.stdout.decode()
    assert f"created the user key {path}" in out
    assert path.stat().st_mode & 0o777 == 0o600
    before = path.read_bytes()
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    assert f"file-descriptor limit: soft {want} " in out, out
    assert str(path) in out.split("paths spraycc uses", 1)[1]  # printed among the paths
    second = init()
    assert second.returncode == 0, second.stderr.decode()
    assert f"kept the user key {path}" in second.stdout.decode()
    assert path.read_bytes() == before, "init must be idempotent"


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    """Eight processes create the key at once: one wins, all end up with the same key."""
    path = tmp_path / keys.NAME
    script = ("import sys, zmq; from spraycc.wire import keys; print('ready', flush=True); "
              "sys.stdin.read(); k, made = keys.ensure(sys.argv[1]); "
              "print(k.public.decode(), made)")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, cwd=ROOT) for _ in range(8)]
    results = []
    try:
        for proc in procs:  # all imported and waiting: release them together
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in procs:
            assert proc.stdout is not None
            results.append(proc.stdout.read().decode().split())
            assert proc.wait(60) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    assert len({public for public, _ in results}) == 1
    assert sum(made == "True" for _, made in results) == 1
    assert keys.load(str(path)).public.decode() == results[0][0]
    assert [p.name for p in tmp_path.iterdir()] == [keys.NAME]  # no temp file left behind


def test_an_exposed_key_is_refused_with_the_fix(workspace: Path, env: dict[str, str]) -> None:
    path = Path(env["HOME"]) / keys.NAME
    keys.create(str(path))
    path.chmod(0o640)
    for argv in ([SPRAYCC, "init"], [SPRAYCC, "server"]):
        r = run(argv, workspace, env, timeout=60)
        assert r.returncode == 1, (argv, r.stderr.decode())
        assert f"chmod 600 {path}" in r.stderr.decode()
    assert not (workspace / serverfile.NAME).exists()
    with pytest.raises(keys.KeyFileError, match="not a spraycc key file"):
        keys.parse("k", b"public = short\nsecret = " + b"x" * 40)


@pytest.mark.parametrize(("kind", "says"), [
    ("fifo", "is not a regular file"),
    ("directory", "is not a regular file"),
    ("foreign", "belongs to uid 65534, not to you"),
])
def test_a_key_file_that_is_not_ours_or_not_a_file_is_refused(
        workspace: Path, env: dict[str, str], kind: str, says: str) -> None:
    """init, server and exec refuse it on one line and leave it as it is (never "repaired",
    docs/security.md); a FIFO does not make them wait for a writer."""
    path = Path(env["HOME"]) / keys.NAME
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "directory":
        path.mkdir(0o700)
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to give the key file to another user")
        keys.create(str(path))
        os.chown(path, 65534, 65534)
    before = path.lstat()
    for argv in ([SPRAYCC, "init"], [SPRAYCC, "server"],
                 [SPRAYCC, "exec", "--callme=127.0.0.1:1", "--code=c0de",
                  f"--serverkey={'ab' * 32}", f"--tmpdir={workspace}"]):
        r = run(argv, workspace, env, timeout=30)
        lines = r.stderr.decode().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and says in lines[0], (argv, lines)
    after = path.lstat()
    assert (after.st_ino, after.st_mode, after.st_uid) == (before.st_ino, before.st_mode,
                                                           before.st_uid)
    assert not (workspace / serverfile.NAME).exists()


# --------------------------------------------------------------------------- refusals

def test_wrong_access_code_is_refused_within_a_second(server: ServerProc, workspace: Path,
                                                      env: dict[str, str], tmp_path: Path
                                                      ) -> None:
    info = info_of(server)
    # A runner (plain ZMTP over the private ipc endpoint), remote and local steps alike.
    stale = fake_server_file(workspace / "stale", info, code="0" * 32)
    (stale / "a.c").write_text("int a;\n")
    for argv in (["gcc", "-c", "a.c", "-o", "a.o"], ["true"]):
        start = time.monotonic()
        r = run([SPRAYCC, "run", *argv], stale, env)
        lines = r.stderr.decode().strip().splitlines()
        assert r.returncode == 69, r.stderr.decode()
        assert lines == ["spraycc: refused by the server: wrong access code (is this the right "
                         "server?)"], lines
        assert time.monotonic() - start < 5  # the whole process, interpreter start included
    assert not (stale / "a.o").exists()
    # The refusal itself, measured on the client side.
    start = time.monotonic()
    with zmtp.Dealer(info.get("ipc"), timeout=QUICK) as dealer:
        dealer.send([p.encode(p.Local("0" * 32, b"true"))])
        reply = dealer.recv(QUICK)
    assert reply is not None and time.monotonic() - start < QUICK
    assert isinstance(p.decode(reply[0]), p.Refuse)
    # An executor with the right keys but the code of another session leaves at once.
    status, reason, seconds = timed_executor(info, code="1" * 32, keypair=user_key(env),
                                             tmp=tmp_path)
    assert status == 1 and "wrong access code" in reason and seconds < QUICK
    server.read_until("refused")


@pytest.mark.parametrize("version", [0, p.VERSION + 1])
def test_other_protocol_version_is_refused_naming_both(server: ServerProc, version: int
                                                       ) -> None:
    info = info_of(server)
    start = time.monotonic()
    with zmtp.Dealer(info.get("ipc"), timeout=QUICK) as dealer:
        dealer.send([packb([version, p.Cmd.SUBMIT, info.code, "k", 0, "n"]), b"body"])
        reply = dealer.recv(QUICK)
    assert reply is not None and time.monotonic() - start < QUICK
    msg = p.decode(reply[0])
    assert isinstance(msg, p.Refuse)
    assert f"protocol version {version}" in msg.reason and f"speaks {p.VERSION}" in msg.reason


def test_a_client_without_the_users_key_is_refused_within_a_second(
        server: ServerProc, workspace: Path, env: dict[str, str], tmp_path: Path) -> None:
    info = info_of(server)
    public, secret = zmq.curve_keypair()
    stranger = keys.KeyPair(public, secret)
    # An executor holding another key: ZAP says 400, the executor leaves at once.
    status, reason, seconds = timed_executor(info, keypair=stranger, tmp=tmp_path)
    assert status == 1 and "does not accept this user's key" in reason, reason
    assert seconds < QUICK
    server.read_until("is not this user's key")
    # A CURVE runner connection (a runner on another host) holding another key.
    start = time.monotonic()
    with pytest.raises(Refused, match="does not accept this user's key"):
        CurveDealer(info.get("tcp"), serverkey=info.serverkey, timeout=5, keypair=stranger)
    assert time.monotonic() - start < QUICK
    # A plain (NULL mechanism) client on the tcp port: libzmq hangs up on the mismatch.
    start = time.monotonic()
    with pytest.raises(zmtp.ZmtpError, match=r"CURVE|closed"):
        zmtp.Dealer(info.get("tcp"), timeout=5)
    assert time.monotonic() - start < QUICK
    # The real CLI processes: an executor whose HOME has no key, one whose key is another.
    other_home = tmp_path / "other-home"
    other_home.mkdir()
    exec_argv = [SPRAYCC, "exec", f"--callme={info.get('tcp').removeprefix('tcp://')}",
                 f"--code={info.code}", f"--serverkey={info.serverkey}", f"--tmpdir={tmp_path}"]
    other_env = dict(env, HOME=str(other_home))
    # No key yet: the executor waits for it (a shared home may lag behind the first server
    # start that made it), says so once, and goes on when it appears: here another key.
    proc = subprocess.Popen(exec_argv, cwd=workspace, env=other_env, stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline().decode()
        assert "is not there (yet?): waiting up to 60 s" in first, first
        keys.create(str(other_home / keys.NAME))
        rest = proc.communicate(timeout=30)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "refused by the server" in rest, rest
    # A runner on "another host" (its server file names another host: it must use CURVE).
    far = fake_server_file(workspace / "far", info, host="elsewhere.invalid", ipc="")
    (far / "a.c").write_text("int a;\n")
    r = run([SPRAYCC, "run", "gcc", "-c", "a.c"], far, other_env)
    assert r.returncode == 69
    assert r.stderr.decode().startswith("spraycc: refused by the server: the server does not "
                                        "accept this user's key")
    assert not (far / "a.o").exists()
    # ... while the same runner with the user's key gets its step done remotely.
    r = run([SPRAYCC, "run", "-v", "gcc", "-c", "a.c"], far, env)
    assert r.returncode == 0 and "ran on" in r.stderr.decode(), r.stderr.decode()


def test_a_stale_executor_of_an_earlier_session_leaves_at_once(server: ServerProc,
                                                                env: dict[str, str],
                                                                tmp_path: Path) -> None:
    """Its server key is the old session's: the server cannot open its HELLO."""
    info = info_of(server)
    old_public, _ = zmq.curve_keypair()
    status, reason, seconds = timed_executor(info, serverkey=old_public, keypair=user_key(env),
                                             tmp=tmp_path)
    assert status == 1 and "security handshake" in reason, reason
    assert seconds < QUICK
    server.read_until("refused a connection on tcp://")


def test_the_zap_handler_never_raises() -> None:
    refusals = auth.RefusalLog()
    ctx = zmq.Context()
    try:
        public, _ = zmq.curve_keypair()
        zap = auth.ZapHandler(ctx, public, refusals)
        try:
            raw = zmq.utils.z85.decode(public)
            ok = zap.answer([b"1.0", b"7", auth.DOMAIN, b"1.2.3.4", b"", b"CURVE", raw])
            assert ok == [b"1.0", b"7", b"200", b"OK", auth.USER_ID, b""]
            for bad in ([], [b"x"], [b"2.0", b"1", b"", b"", b"", b""],
                        [b"1.0", b"1", auth.DOMAIN, b"", b"", b"CURVE", b"\xff" * 32],
                        [b"1.0", b"1", auth.DOMAIN, b"", b"", b"CURVE", b""],
                        [b"1.0", b"1", auth.DOMAIN, b"", b"", b"CURVE", b"abcde"],
                        [b"1.0", b"1", auth.DOMAIN, b"", b"", b"NULL"],
                        [b"1.0", b"1", b"other", b"", b"", b"CURVE", raw],
                        [b"1.0", b"1", auth.DOMAIN, b"", b"", b"CURVE", raw, b"extra"]):
                answer = zap.answer(bad)
                assert len(answer) == 6 and answer[2] in (b"400", b"500"), bad
        finally:
            zap.close()
    finally:
        ctx.term()
    assert refusals.total == 6 and zap.accepted == 1


def test_refusal_logs_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    flood = auth.FloodFilter(burst=3, window=10.0, clock=lambda: now[0])
    logger = logging.getLogger("spraycc.test-flood")
    logger.addFilter(flood)
    try:
        with caplog.at_level(logging.DEBUG, logger="spraycc.test-flood"):
            for i in range(10):
                logger.warning("refused client %d", i)
                logger.debug("dropped message %d", i)
            logger.info("a status line")  # not a refusal: never held back
            now[0] = 11.0
            logger.warning("refused client %d", 99)
    finally:
        logger.removeFilter(flood)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["refused client 0", "dropped message 0", "refused client 1",
                     "a status line",
                     "17 more refused or dropped messages in the last 10 s were not logged",
                     "refused client 99"]


# -------------------------------------------------------------------- another Unix user

NOBODY_SCRIPT = r"""
import json, sys, time
from spraycc.wire import keys, zmtp
from spraycc.net.curvelink import CurveDealer
from spraycc.errors import Refused
ipc, tcp, serverkey, code, server_file = sys.argv[1:6]
out = {}
try:
    open(server_file).read()
    out["server_file"] = "read"
except OSError as exc:
    out["server_file"] = type(exc).__name__
start = time.monotonic()
try:
    zmtp.Dealer(ipc, timeout=5).send([b"x"])
    out["ipc"] = "connected"
except (OSError, zmtp.ZmtpError) as exc:
    out["ipc"] = str(exc)
out["ipc_s"] = time.monotonic() - start
pair, _ = keys.ensure()
start = time.monotonic()
try:
    CurveDealer(tcp, serverkey=serverkey, timeout=5, keypair=pair)
    out["tcp"] = "connected"
except Refused as exc:
    out["tcp"] = "refused: " + str(exc)
except zmtp.ZmtpError as exc:
    out["tcp"] = "error: " + str(exc)
out["tcp_s"] = time.monotonic() - start
print(json.dumps(out))
"""


def _nobody_python() -> list[str]:
    """How to run spraycc as `nobody` (the venv's interpreter lives under root's home)."""
    if os.geteuid() != 0 or not shutil.which("runuser"):
        unavailable("needs root and runuser to act as another user")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        unavailable("no user nobody")
    python = "/usr/bin/python3"
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    probe = subprocess.run(["runuser", "-u", "nobody", "--", python, "-c",
                            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
                           capture_output=True, timeout=30)
    if probe.returncode != 0 or probe.stdout.decode().strip() != ver:
        unavailable(f"no Python {ver} runnable by nobody at {python}")
    return ["runuser", "-u", "nobody", "--", "env"]


@pytest.mark.timeout(120)
def test_another_unix_user_is_refused(env: dict[str, str]) -> None:
    prefix = _nobody_python()
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    shared = Path(tempfile.mkdtemp(prefix="spraycc-sec-"))  # reachable by nobody (0755)
    try:
        shared.chmod(0o755)
        workspace = shared / "ws"
        workspace.mkdir(mode=0o755)
        workspace.chmod(0o755)
        home = shared / "nobody-home"
        home.mkdir()
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        with running_server(workspace, env, config=FAST) as srv:
            info = info_of(srv)
            assert srv.server_file.stat().st_mode & 0o777 == 0o600
            nobody_env = [f"HOME={home}", f"PYTHONPATH={ROOT}:{site}", "PYTHONDONTWRITEBYTECODE=1"]
            r = subprocess.run(
                [*prefix, *nobody_env, "/usr/bin/python3", "-c", NOBODY_SCRIPT,
                 info.get("ipc"), info.get("tcp"), info.serverkey, info.code, str(srv.server_file)],
                capture_output=True, timeout=60, cwd="/")
            assert r.returncode == 0, r.stderr.decode()
            out = json.loads(r.stdout)
            assert out["server_file"] == "PermissionError"
            assert "Permission denied" in out["ipc"] and out["ipc_s"] < QUICK, out
            assert out["tcp"].startswith("refused: the server does not accept this user's key")
            assert out["tcp_s"] < QUICK, out
            # nobody's executor (its own key, made above) is refused and exits at once.
            start = time.monotonic()
            r = subprocess.run(
                [*prefix, *nobody_env, "/usr/bin/python3", "-m", "spraycc", "exec",
                 f"--callme={info.get('tcp').removeprefix('tcp://')}", f"--code={info.code}",
                 f"--serverkey={info.serverkey}"], capture_output=True, timeout=60, cwd="/")
            assert r.returncode == 1 and "refused by the server" in r.stderr.decode(), r.stderr
            assert time.monotonic() - start < 10
            srv.read_until("is not this user's key")
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# ---------------------------------------------------------------- nothing in clear on the wire

class Relay:
    """A TCP relay on 127.0.0.1 that records every byte in both directions (one thread)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream = 0  # the server's port, set once it is known
        self.recorded = bytearray()
        self.connections = 0
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ)
        self.wake_r, self.wake_w = socket.socketpair()
        self.sel.register(self.wake_r, selectors.EVENT_READ)
        self.peers: dict[socket.socket, socket.socket] = {}
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while True:
            for key, _ in self.sel.select():
                sock = key.fileobj
                if sock is self.wake_r:
                    return
                if sock is self.listener:
                    client, _ = self.listener.accept()
                    upstream = socket.create_connection(("127.0.0.1", self.upstream))
                    self.connections += 1
                    self.peers[client], self.peers[upstream] = upstream, client
                    self.sel.register(client, selectors.EVENT_READ)
                    self.sel.register(upstream, selectors.EVENT_READ)
                    continue
                assert isinstance(sock, socket.socket)
                if sock.fileno() < 0:  # closed earlier in this batch with its partner
                    continue
                try:
                    data = sock.recv(1 << 20)
                except OSError:
                    data = b""
                other = self.peers.get(sock)
                if not data or other is None:
                    self.drop(sock)
                    continue
                self.recorded += data
                try:
                    other.sendall(data)
                except OSError:
                    self.drop(sock)

    def drop(self, sock: socket.socket) -> None:
        for s in (sock, self.peers.pop(sock, None)):
            if s is not None and s.fileno() >= 0:
                self.peers.pop(s, None)
                self.sel.unregister(s)
                s.close()

    def close(self) -> None:
        self.wake_w.send(b"x")
        self.thread.join(10)
        for sock in list(self.peers):
            sock.close()
        self.sel.close()
        for sock in (self.listener, self.wake_r, self.wake_w):
            sock.close()


@pytest.mark.timeout(180)
def test_source_bytes_never_cross_the_wire_in_clear(workspace: Path, env: dict[str, str],
                                                    tmp_path: Path) -> None:
    relay = Relay()
    try:
        wrapper = tmp_path / "via_relay.py"
        wrapper.write_text(
            "import os, sys\n"
            f"args = ['--callme=127.0.0.1:{relay.port}' if a.startswith('--callme=') else a\n"
            "        for a in sys.argv[1:]]\n"
            f"os.execv({SPRAYCC!r}, [{SPRAYCC!r}, *args])\n")
        config = (FAST + f'start_cmd = "{sys.executable} {wrapper}"\nscheduler = "local"\n'
                  "initial_count = 1\nmax_count = 1\nlocal_count = 0\n")
        unique = secrets.token_hex(8)
        tag, warn, envtag = (f"SPRAYCC-UNIQUE-{unique}", f"SPRAYCC-WARN-{unique}",
                             f"SPRAYCC-ENV-{unique}")
        (workspace / "tag.c").write_text(f'#warning "{warn}"\n' + TAG_C.format(tag=tag))
        with running_server(workspace, env, config=config) as srv:
            info = info_of(srv)
            relay.upstream = int(info.get("tcp").rsplit(":", 1)[1])
            # The recorder sees clear bytes: a probe sent in clear is in the recording (and is
            # garbage to the server, which refuses it).
            probe = f"RELAY-PROBE-{secrets.token_hex(8)}".encode()
            with socket.create_connection(("127.0.0.1", relay.port)) as conn:
                conn.sendall(probe)
            wait_for(lambda: probe in relay.recorded, 10, "the probe in the recording")
            # 1. a runner on the server's host (ipc) and an executor behind the relay.
            r = run([SPRAYCC, "run", "-v", "gcc", "-c", "tag.c", "-o", "tag.o"], workspace, env)
            assert r.returncode == 0, r.stderr.decode()
            assert "ran on" in r.stderr.decode() and warn in r.stderr.decode(), r.stderr.decode()
            # 2. a runner on "another host": CURVE through the relay too, secret env included.
            far = fake_server_file(workspace / "far", info, host="elsewhere.invalid", ipc="",
                                   tcp=f"tcp://127.0.0.1:{relay.port}")
            shutil.copy(workspace / "tag.c", far / "tag.c")
            r = run([SPRAYCC, "run", "-v", "gcc", "-c", "tag.c", "-o", "tag.o"], far,
                    dict(env, SPRAYCC_SECRET=envtag))
            assert r.returncode == 0, r.stderr.decode()
            assert "ran on" in r.stderr.decode() and warn in r.stderr.decode(), r.stderr.decode()
    finally:
        relay.close()
    recording = bytes(relay.recorded)
    for obj in (workspace / "tag.o", workspace / "far" / "tag.o"):
        assert tag.encode() in obj.read_bytes()
    assert relay.connections >= 3  # probe, executor, far runner
    assert len(recording) > 2 * (workspace / "tag.o").stat().st_size
    for secret in (tag, warn, envtag, unique, "tag.c"):  # long enough not to occur by chance
        assert secret.encode() not in recording, f"{secret!r} crossed the wire in clear"


# -------------------------------------------------------- what an executor leaves behind

WRITE_CALLS = ("open", "openat", "creat", "mkdir", "mkdirat", "rename", "renameat",
               "renameat2", "unlink", "unlinkat", "rmdir", "link", "linkat", "symlink",
               "symlinkat", "truncate", "chmod", "fchmodat", "utimensat")


def _written_paths(trace: str) -> list[str]:
    """Paths a traced process changed or opened for writing (strace -y output)."""
    import re

    out = []
    for line in trace.splitlines():
        m = re.match(r"(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
        if not m or m.group(1) not in WRITE_CALLS or int(m.group(3)) < 0:
            continue
        call, args = m.group(1), m.group(2)
        if call in ("open", "openat") and not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC",
                                                        args):
            continue
        dirfd = re.match(r"(?:\d+|AT_FDCWD)<([^>]*)>, ", args)
        for path in re.findall(r'"((?:[^"\\]|\\.)*)"', args):
            if not path.startswith("/") and dirfd:
                path = f"{dirfd.group(1)}/{path}"
            out.append(path)
    return out


@pytest.mark.timeout(180)
def test_executor_passes_the_env_exactly_and_writes_only_its_temp_dir(
        workspace: Path, env: dict[str, str], tmp_path: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    exec_tmp = tmp_path / "exec-tmp"
    exec_tmp.mkdir()
    trace = tmp_path / "executor.trace"
    config = (FAST + f'start_cmd = "{strace} -qq -y -o {trace} -e trace={",".join(WRITE_CALLS)} '
              f'{SPRAYCC}"\nscheduler = "local"\ninitial_count = 1\nmax_count = 1\n'
              f'local_count = 0\nexecutor_tmpdir = "{exec_tmp}"\n')
    # The executor inherits the server's environment (as on a cluster host: the batch
    # system's variables); the task must see the runner's environment only.
    server_env = dict(env, SLURM_JOB_ID="4242", SLURM_CPUS_ON_NODE="8", LSB_JOBID="77",
                      SPRAYCC_EXECUTOR_ONLY="1")
    runner_env = dict(env, SPRAYCC_RUNNER_ONLY="yes, with spaces & $symbols")
    dump = ("import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'), "
            "sort_keys=True)")
    (workspace / "a.c").write_text("int a(void) { return 1; }\n")
    with running_server(workspace, server_env, config=config) as srv:
        r = run([SPRAYCC, "run", "-v", "--remote", "--output", "remote.json", sys.executable,
                 "-c", dump, "remote.json"], workspace, runner_env)
        assert r.returncode == 0 and "ran on" in r.stderr.decode(), r.stderr.decode()
        r = run([SPRAYCC, "run", "-v", "gcc", "-c", "a.c", "-o", "a.o"], workspace, runner_env)
        assert r.returncode == 0 and "ran on" in r.stderr.decode(), r.stderr.decode()
        wait_for(lambda: not any(exec_tmp.glob("spraycc-exec-*/*")), 10, "task dirs removed")
    srv.collect()
    wait_for(lambda: not any(exec_tmp.iterdir()), 10, "executor temp dir removed")
    subprocess.run([sys.executable, "-c", dump, str(workspace / "local.json")], env=runner_env,
                   cwd=workspace, check=True)
    remote = json.loads((workspace / "remote.json").read_text())
    local = json.loads((workspace / "local.json").read_text())
    # The one variable spraycc adds: where a forced-remote step may leave declared outputs.
    assert remote.pop(OUTPUT_DIR_VAR).startswith(f"{exec_tmp}/spraycc-exec-")
    assert remote == local
    assert "SLURM_JOB_ID" not in remote and "SPRAYCC_EXECUTOR_ONLY" not in remote
    assert remote["SPRAYCC_RUNNER_ONLY"] == "yes, with spaces & $symbols"
    # Every path the executor process itself wrote, created, renamed or removed is inside
    # its private temp dir (the task, a child process, is not traced: its writes are its own).
    written = _written_paths(trace.read_text())
    assert any("/spraycc-exec-" in w for w in written), "the trace saw the executor's work"
    outside = [w for w in written
               if not w.startswith(f"{exec_tmp}/spraycc-exec-") and not w.startswith("/dev/")]
    assert outside == []
