"""Fuzzing the server while a real build runs through it.

Thousands of random, truncated and mutated multipart messages and msgpack bombs (deep nesting,
huge declared lengths) go to the server through an authenticated CURVE client (the user's key)
and through the private ipc endpoint, and raw unauthenticated garbage goes to its TCP port,
while `make -j8` builds the example project through it. The build must come out identical to a
plain build, the server must keep serving, and its memory must stay bounded.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq
from conftest import copy_demo
from helpers import SPRAYCC, run, running_server, snapshot

from spraycc.net.transport import MAX_FRAME
from spraycc.wire import keys, serverfile
from spraycc.wire import protocol as p
from spraycc.wire.minipack import packb

FAST = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 0\n"
WRONG = "f" * 32  # an access code that is not the session's


def vm_kib(pid: int, field: str) -> int:
    """A memory figure of a process from /proc/PID/status, in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


# ----------------------------------------------------------------------------- generators

def valid_headers(code: str) -> list[bytes]:
    """One well-formed header of every command; hellos carry a wrong access code, so none of
    them can make the fuzzer an executor, a local-slot holder or a stopper."""
    return [
        p.encode(p.Ready(code, "fuzz", 1, "fuzz-1")),
        p.encode(p.Submit(code, b"k", 0, b"n")),
        p.encode(p.Accepted(1, 2)),
        p.encode(p.Task(1, 1)),
        p.encode(p.Output(1, 1, 1)),
        p.encode(p.File(1, 1, 0, 0o644, True)),
        p.encode(p.Result(1, 1, 0, 0.5, "h", "")),
        p.encode(p.Credit(1, 1, 8)),
        p.encode(p.Retry(1, 2, "r")),
        p.encode(p.Cancel(0)),
        p.encode(p.Fail("x", True)),
        p.encode(p.Local(code, b"n")),
        p.encode(p.Grant(4)),
        p.encode(p.Done(0, 1.0)),
        p.encode(p.Heartbeat()),
        p.encode(p.Refuse("r")),
        p.encode(p.Disconnect("d")),
        p.encode(p.Status(code)),
        p.encode(p.Snapshot()),
        p.encode(p.Stop(code, True)),
    ]


def bombs() -> list[bytes]:
    """msgpack that is expensive if decoded naively: deep nesting, huge declared lengths."""
    out = [
        b"\x91" * 100_000 + b"\xc0",  # an array in an array in ... 100000 deep
        b"\x81\xc0" * 50_000 + b"\xc0",  # nested maps
        b"\xdd\xff\xff\xff\xff",  # array32 of 4 G items, no items
        b"\xdf\xff\xff\xff\xff",  # map32 of 4 G pairs
        b"\xdb\xff\xff\xff\xff",  # str32 of 4 GB
        b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GB
        b"\xdd\x7f\xff\xff\xff" + b"\xc0" * 1000,
        b"\xc9\xff\xff\xff\xff\x01",  # ext32 (unsupported)
        b"\xd9\x05abc",  # truncated str8
    ]
    # Inside an otherwise plausible header: [1, SUBMIT, <bomb>, ...]
    out += [b"\x96\x01\x02" + bomb for bomb in out[:7]]
    out.append(packb([p.VERSION, p.Cmd.SUBMIT, WRONG, "k" * 60000, 0, "n"]))  # near MAX_HEADER
    out.append(packb([p.VERSION, p.Cmd.SUBMIT, WRONG, "k" * 70000, 0, "n"]))  # above it
    return out


def random_message(rng: random.Random, headers: list[bytes], bomb_list: list[bytes]
                   ) -> list[bytes]:
    kind = rng.randrange(8)
    if kind == 0:  # random frames
        return [rng.randbytes(rng.randrange(0, 2000)) for _ in range(rng.randrange(1, 6))]
    if kind == 1:  # a truncated valid header (+ maybe a bulk frame)
        head = rng.choice(headers)
        return [head[: rng.randrange(len(head))], *([b"bulk"] * rng.randrange(2))]
    if kind == 2:  # a valid header with random bytes flipped
        head = bytearray(rng.choice(headers))
        for _ in range(rng.randrange(1, 4)):
            head[rng.randrange(len(head))] = rng.randrange(256)
        return [bytes(head), *([rng.randbytes(100)] * rng.randrange(3))]
    if kind == 3:  # fields of the wrong types or number
        cmd = rng.randrange(-2, 25)
        junk: list[object] = [None, True, -1, 2**63, 1.5, "s", b"b", [], {}, [[[]]], {"a": 1}]
        return [packb([rng.choice([p.VERSION, 0, 2, -1, "1"]), cmd,
                       *rng.sample(junk, rng.randrange(0, 7))])]
    if kind == 4:
        return [rng.choice(bomb_list), *([rng.choice(bomb_list)] * rng.randrange(2))]
    if kind == 5:  # a valid header with too many/few frames
        return [rng.choice(headers)] + [b""] * rng.randrange(0, 5)
    if kind == 6:  # empty frames only
        return [b""] * rng.randrange(1, 4)
    return [rng.choice(headers), rng.choice(bomb_list)]


# ------------------------------------------------------------------------- fuzzing clients

def error_for(sock: zmq.Socket, timeout: float = 120.0) -> str:
    """The error the server answers the one task `sock` submitted with (ACCEPTED and any
    OUTPUT before it are read past); fails at the deadline or on a RESULT without one.
    While it waits (behind the build's tasks) it sends heartbeats like a runner: a runner
    silent for 5 intervals is dropped with its task (docs: spraycc/wire/protocol.py)."""
    deadline = time.monotonic() + timeout
    beat = p.encode(p.Heartbeat())
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no RESULT for the submitted task"
        if not sock.poll(min(left, p.HEARTBEAT_INTERVAL) * 1000):
            sock.send(beat)
            continue
        msg = p.decode(sock.recv_multipart()[0])
        if isinstance(msg, p.Result):
            assert msg.error, f"a bomb body ran: {msg}"
            return msg.error
        if isinstance(msg, (p.Fail, p.Refuse)):
            assert msg.reason
            return msg.reason


class Fuzzer:
    """Sends fuzz messages from a few DEALERs of one kind, draining any replies."""

    def __init__(self, ctx: zmq.Context, endpoint: str, setup: Callable[[zmq.Socket], None],
                 count: int = 8) -> None:
        self.ctx, self.endpoint, self.setup = ctx, endpoint, setup
        self.socks = [self._new() for _ in range(count)]
        self.sent = 0
        self.replies = 0

    def _new(self) -> zmq.Socket:
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1000)
        self.setup(sock)
        sock.connect(self.endpoint)
        return sock

    def send(self, frames: list[bytes], rng: random.Random) -> None:
        i = rng.randrange(len(self.socks))
        try:
            self.socks[i].send_multipart(frames, zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            pass
        if rng.random() < 0.02:  # now and then a fresh connection (a new peer id)
            self.socks[i].close(linger=0)
            self.socks[i] = self._new()
        self.drain()

    def drain(self) -> None:
        for sock in self.socks:
            while True:
                try:
                    sock.recv_multipart(zmq.NOBLOCK)
                    self.replies += 1
                except zmq.Again:
                    break

    def sync(self, marker: int, timeout: float = 60.0) -> None:
        """Wait until the server has handled everything sent so far: a hello with a version
        nobody else uses is refused naming it, after the messages before it (per connection,
        the server reads in order)."""
        want = f"protocol version {marker} ".encode()
        for sock in self.socks:
            sock.send(packb([marker, p.Cmd.STATUS, WRONG]))
        for sock in self.socks:
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                assert left > 0 and sock.poll(left * 1000), "the server stopped answering"
                frames = sock.recv_multipart()
                if want in frames[0]:
                    break

    def close(self) -> None:
        for sock in self.socks:
            sock.close(linger=0)


def raw_garbage(port: int, rng: random.Random) -> None:
    """One unauthenticated TCP connection saying something wrong, then hanging up."""
    signature = b"\xff" + bytes(8) + b"\x7f"
    choice = rng.randrange(7)
    if choice == 0:
        data = rng.randbytes(rng.randrange(1, 4096))
    elif choice == 1:  # a NULL greeting on the CURVE port, then READY and a message
        data = (signature + b"\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" * 32
                + b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
                + b"\x00\x05hello")
    elif choice == 2:  # a CURVE greeting, then a garbage HELLO
        data = (signature + b"\x03\x00" + b"CURVE".ljust(20, b"\0") + b"\0" * 32
                + b"\x04\xc8\x05HELLO" + rng.randbytes(194))
    elif choice == 3:  # a CURVE greeting, then a frame claiming 2**62 bytes
        data = (signature + b"\x03\x00" + b"CURVE".ljust(20, b"\0") + b"\0" * 32
                + b"\x06" + struct.pack(">Q", 1 << 62) + rng.randbytes(100))
    elif choice == 4:  # ZMTP 1.0 / 2.0 greetings
        data = rng.choice([b"\x01\x00", signature + b"\x01\x03\x00"])
    elif choice == 5:  # half a greeting
        data = signature[: rng.randrange(1, 10)]
    else:
        data = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            if data:
                conn.sendall(data)
            conn.settimeout(0.05)
            try:
                conn.recv(4096)
            except OSError:
                pass
    except OSError:
        pass  # refused, reset: all fine for a stranger


@pytest.fixture
def zmq_ctx() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fuzz_the_server_while_a_real_build_runs(tmp_path: Path, env: dict[str, str],
                                                 zmq_ctx: zmq.Context) -> None:
    plain = copy_demo(tmp_path / "plain")
    spray = copy_demo(tmp_path / "spray")
    assert run(["make", "-s", "-j4"], plain, env, timeout=300).returncode == 0
    rng = random.Random(0x5EC)  # reproducible
    with running_server(spray, env, config=FAST) as srv:
        pid = srv.proc.pid
        info = serverfile.read(str(srv.server_file))
        pair = keys.load(str(Path(env["HOME"]) / keys.NAME))
        tcp_port = int(info.get("tcp").rsplit(":", 1)[1])

        def curve(sock: zmq.Socket) -> None:
            sock.curve_serverkey = info.serverkey.encode()
            sock.curve_publickey, sock.curve_secretkey = pair.public, pair.secret

        authed = Fuzzer(zmq_ctx, info.get("tcp"), curve)
        local = Fuzzer(zmq_ctx, info.get("ipc"), lambda sock: None)
        headers = valid_headers(WRONG)
        bomb_list = bombs()
        rss_start = vm_kib(pid, "VmRSS")
        build = subprocess.Popen(["make", "-j8", "LAUNCHER=spraycc run"], cwd=spray, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        samples = []
        raw = bodies = 0
        errors: set[str] = set()
        try:
            rounds = 0
            while build.poll() is None or rounds < 6:
                rounds += 1
                for _ in range(1000):
                    authed.send(random_message(rng, headers, bomb_list), rng)
                    local.send(random_message(rng, headers, bomb_list), rng)
                for _ in range(60):
                    raw_garbage(tcp_port, rng)
                    raw += 1
                # A well-formed SUBMIT with the right code but a bomb for a body: queued,
                # handed to an executor, which must answer with an error and carry on.
                sub = Fuzzer(zmq_ctx, info.get("tcp"), curve, count=1)
                sub.socks[0].send_multipart([p.encode(p.Submit(info.code, b"fuzz", 0, b"fuzz")),
                                             rng.choice(bomb_list)])
                errors.add(error_for(sub.socks[0]))
                bodies += 1
                if rounds == 1:  # once: a frame above the limit, refused by libzmq unread
                    sub.socks[0].send_multipart([b"\0" * (MAX_FRAME + 1)])
                sub.close()
                authed.sync(1000 + rounds)
                local.sync(1000 + rounds)
                samples.append(vm_kib(pid, "VmRSS"))
                assert srv.proc.poll() is None, "the server died"
            _out, err = build.communicate(timeout=400)
        finally:
            if build.poll() is None:
                build.kill()
                build.wait()
            authed.close()
            local.close()
        assert build.returncode == 0, err.decode()[-3000:]
        # The server still serves, and says it was not fooled.
        (spray / "after.c").write_text("int after;\n")
        r = run([SPRAYCC, "run", "-v", "gcc", "-c", "after.c"], spray, env)
        assert r.returncode == 0 and b"ran on" in r.stderr, r.stderr.decode()
        rss_end, hwm = vm_kib(pid, "VmRSS"), vm_kib(pid, "VmHWM")
    log = srv.collect()
    assert "Traceback" not in log
    assert authed.sent + local.sent >= 12_000 and raw >= 360
    assert "dropped" in log or "refused" in log
    print(f"bomb bodies answered with: {sorted(errors)}")
    # Memory: bounded, not growing with the number of messages.
    print(f"\nserver VmRSS: start {rss_start} KiB, samples {samples}, end {rss_end} KiB, "
          f"peak {hwm} KiB; {authed.sent} CURVE + {local.sent} ipc messages, {raw} raw "
          f"connections, {bodies} bomb bodies")
    half = len(samples) // 2
    assert max(samples[half:]) - max(samples[:half]) < 20 * 1024, samples
    assert rss_end - rss_start < 60 * 1024
    assert hwm - rss_start < 150 * 1024
    # The build is the same as a plain one.
    def skip(path: Path) -> bool:
        return ".spraycc-tmp" in path.name

    want, got = snapshot(plain / "build", skip=skip), snapshot(spray / "build", skip=skip)
    assert sorted(got) == sorted(want)
    assert all(got[n] == want[n] for n in want), [n for n in want if got[n] != want[n]]
    assert os.path.exists(spray / "build" / "demo")
