"""The waiter (spraycc/waiter.py) as a real process, started the way spraycc.handover starts it,
on one end of a real socket pair: what it answers by itself (ZMTP PING, the server's heartbeat,
its own heartbeat when due), what a signal does (CANCEL, then 128 + the signal), and that a
message it does not handle goes to the runner (here with a state file it cannot read, so the
runner says so and fails the step: it never guesses)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spraycc import handover
from spraycc.wire import messages as p

ROOT = Path(__file__).resolve().parent.parent.parent
HEARTBEAT = 0.3
BEAT = p.encode(p.Heartbeat())
CANCEL = p.encode(p.Cancel(7))


class Waiter:
    def __init__(self, proc: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.proc = proc
        self.sock = sock
        self.buf = b""

    def frame(self, timeout: float = 10.0) -> tuple[int, bytes]:
        """The next (flags, body) the waiter sends (short frames only)."""
        self.sock.settimeout(timeout)
        while len(self.buf) < 2 or len(self.buf) < 2 + self.buf[1]:
            chunk = self.sock.recv(4096)
            assert chunk, "the waiter closed the connection"
            self.buf += chunk
        flags, size = self.buf[0], self.buf[1]
        body, self.buf = self.buf[2 : 2 + size], self.buf[2 + size :]
        return flags, body


@pytest.fixture
def waiter() -> Iterator[Waiter]:
    ours, theirs = socket.socketpair()
    state = os.memfd_create("spraycc-test-state", 0)  # empty: the runner cannot resume from it
    now = repr(time.monotonic())
    args = [sys.executable, "-I", "-S", "-c", handover.PROGRAM, handover.MARKER, str(ROOT),
            str(theirs.fileno()), str(state), repr(HEARTBEAT), str(p.HEARTBEAT_LIVENESS), now,
            now, BEAT.hex(), CANCEL.hex()]
    proc = subprocess.Popen(args, pass_fds=(theirs.fileno(), state), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    theirs.close()
    os.close(state)
    try:
        yield Waiter(proc, ours)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        ours.close()


@pytest.mark.timeout(60)
def test_the_waiter_answers_pings_and_heartbeats_by_itself(waiter: Waiter) -> None:
    waiter.sock.sendall(bytes((0x04, 5 + 2 + 3)) + b"\x04PING" + b"\x00\x0a" + b"ctx")
    assert waiter.frame() == (0x04, b"\x04PONG" + b"ctx")
    for _ in range(3):  # the runner's heartbeat, about once an interval
        waiter.sock.sendall(bytes((0, len(BEAT)))+ BEAT)  # the server's: swallowed
        assert waiter.frame() == (0, BEAT)
    assert waiter.proc.poll() is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_cancels_the_task(waiter: Waiter, sig: signal.Signals) -> None:
    assert waiter.frame() == (0, BEAT)  # its handlers are in place by now
    waiter.proc.send_signal(sig)
    assert waiter.frame() == (0, CANCEL)
    assert waiter.proc.wait(timeout=30) == 128 + sig


@pytest.mark.timeout(60)
def test_anything_else_goes_to_the_runner(waiter: Waiter) -> None:
    result = p.encode(p.Accepted(7, 0))  # not a heartbeat: the runner must look at it
    waiter.sock.sendall(bytes((0, len(result))) + result)
    _, err = waiter.proc.communicate(timeout=30)
    assert waiter.proc.returncode == 1
    assert err.startswith(b"spraycc: cannot take the waiting step back: ")
    assert err.count(b"\n") == 1  # one line, no traceback


@pytest.mark.timeout(60)
def test_a_silent_server_goes_to_the_runner(waiter: Waiter) -> None:
    start = time.monotonic()
    _, err = waiter.proc.communicate(timeout=30)
    assert time.monotonic() - start >= HEARTBEAT * p.HEARTBEAT_LIVENESS - 0.1
    assert waiter.proc.returncode == 1
    assert b"cannot take the waiting step back" in err


def test_the_state_round_trips_bytes_exactly() -> None:
    """What the runner leaves for itself comes back field for field, names that are not UTF-8
    included (they travel as bytes, decoded with surrogateescape as the runner decodes them)."""
    from spraycc import runner
    from spraycc.step.decision import Decision, Output
    from spraycc.step.placement import Options
    from spraycc.wire.minipack import packb, unpackb
    from spraycc.wire.serverfile import ServerInfo
    from spraycc.wire.zmtp import Dealer

    odd = os.fsdecode(b"caf\xe9")
    opts = Options()
    opts.verbose, opts.force, opts.outputs, opts.timeout = True, "remote", [f"{odd}.txt"], 2.5
    decision = Decision(True, "compile", ["gcc", "-c", f"{odd}.c"], {"LANG": None, odd: odd},
                        [f"{odd}.c"], [Output(f"{odd}.o", "out/0", "as-failed", True)],
                        True, "/usr/bin/gcc", "-fdiagnostics-color=always", "in/deps.d",
                        [f"-MF{odd}"], [f"/inc/{odd}"], False)
    info = ServerInfo(f"/ws/{odd}/.spraycc_server", {"code": "c0de", "ipc": f"ipc:///{odd}"})
    run = runner.Run(["gcc", "-c", f"{odd}.c"], opts, f"/ws/{odd}", info, decision, True,
                     "local", retried=True)
    ours, theirs = socket.socketpair()
    with ours:
        conn = Dealer.adopt(os.dup(theirs.fileno()), f"ipc:///{odd}", b"", timeout=1.0)
        theirs.close()
        link = runner.Link(conn, 0.5)
        step = runner.RemoteStep(decision, stream=True)
        step.task, step.attempt, step.check, step.since = 7, 2, True, 1234.5
        state = unpackb(packb(handover._state(run, link, step)), max_depth=8)
        path = list(sys.path)
        try:
            run2, link2, step2 = handover._load(state, os.dup(conn.fileno()), b"\x00\x01")
        finally:
            sys.path[:] = path
        conn.close()
        link2.close()
    assert [run2.argv, run2.cwd, run2.forced, run2.fallback, run2.retried] == [
        run.argv, run.cwd, True, "local", True]
    assert (run2.info.path, run2.info.fields) == (info.path, info.fields)
    o2 = run2.opts
    assert [o2.verbose, o2.force, o2.outputs, o2.timeout] == [True, "remote", opts.outputs, 2.5]
    d2 = run2.decision
    assert {name: getattr(d2, name) for name in Decision.__slots__} == {
        name: getattr(decision, name) for name in Decision.__slots__}
    assert [step2.task, step2.attempt, step2.check, step2.since, step2.stream] == [
        7, 2, True, 1234.5, True]
    assert (link2.heartbeat, link2.last_sent, link2.last_heard) == (
        0.5, link.last_sent, link.last_heard)
