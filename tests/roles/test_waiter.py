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
from spraycc import waiter as waiter_module
from spraycc.wire import messages as p
from spraycc.wire.minipack import packb

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


LOCAL = p.encode(p.Local("c0de", b"sh"))
# What the waiter reads of the state itself (the command, to exec it): the rest is the runner's.
STATE = handover.command_line(["sh", "-c", "echo ran here"]) + packb([handover.STATE_VERSION])


def frame(header: bytes) -> bytes:
    return bytes((0, len(header))) + header


def start(state_bytes: bytes = b"", verbose: bool = False) -> Waiter:
    """The waiter on a socket pair, with this state file (empty: the runner cannot resume
    from it, and says so)."""
    ours, theirs = socket.socketpair()
    state = os.memfd_create("spraycc-test-state", 0)
    os.write(state, state_bytes)
    os.lseek(state, 0, os.SEEK_SET)
    now = repr(time.monotonic())
    args = [sys.executable, "-I", "-S", "-c", handover.PROGRAM, handover.MARKER, str(ROOT),
            str(theirs.fileno()), str(state), repr(HEARTBEAT), str(p.HEARTBEAT_LIVENESS), now,
            now, BEAT.hex(), CANCEL.hex(), LOCAL.hex(), "1" if verbose else "0"]
    proc = subprocess.Popen(args, pass_fds=(theirs.fileno(), state), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    theirs.close()
    os.close(state)
    return Waiter(proc, ours)


@pytest.fixture
def started() -> Iterator[list[Waiter]]:
    """Waiters a test starts (with `start`), ended after it by their PIDs."""
    procs: list[Waiter] = []
    try:
        yield procs
    finally:
        for w in procs:
            if w.proc.poll() is None:
                w.proc.kill()
            w.proc.communicate(timeout=30)
            w.sock.close()


@pytest.fixture
def waiter(started: list[Waiter]) -> Waiter:
    started.append(start())
    return started[-1]


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


def test_the_waiter_spells_the_protocol_like_messages() -> None:
    assert (waiter_module._VERSION, waiter_module.FAIL, waiter_module.DISCONNECT) == (
        p.VERSION, p.Cmd.FAIL, p.Cmd.DISCONNECT)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("then", [p.Fail("the server is stopping", True),
                                  p.Disconnect("stopping")])
def test_a_fallback_asks_for_a_slot_then_runs_the_step_here(started: list[Waiter],
                                                           then: p.Message) -> None:
    """What runner.follow and run_local do with stop --now, without loading the runner."""
    started.append(start(STATE, verbose=True))
    waiter = started[-1]
    waiter.sock.sendall(frame(p.encode(p.Fail("the server was stopped", True))))
    flags, body = waiter.frame()
    while body == BEAT:
        flags, body = waiter.frame()
    assert (flags, body) == (0, LOCAL)
    waiter.sock.sendall(frame(p.encode(then)))
    out, err = waiter.proc.communicate(timeout=30)
    assert waiter.proc.returncode == 0
    assert out == b"ran here\n"
    reason = "the server is stopping" if isinstance(then, p.Fail) else "stopping"
    assert err.decode() == ("spraycc: the server was stopped; running locally\n"
                            f"spraycc: no local slot from the server ({reason}); running "
                            "unthrottled\n")


@pytest.mark.timeout(60)
def test_a_granted_slot_goes_to_the_runner(waiter: Waiter) -> None:
    waiter.sock.sendall(frame(p.encode(p.Fail("no executor", True))))
    body = waiter.frame()[1]
    while body == BEAT:
        body = waiter.frame()[1]
    assert body == LOCAL
    waiter.sock.sendall(frame(p.encode(p.Grant(1))))  # the runner runs it under the slot
    _, err = waiter.proc.communicate(timeout=30)
    assert waiter.proc.returncode == 1  # the empty state: it says so and never guesses
    assert err.splitlines() == [
        b"spraycc: no executor; running locally",
        b"spraycc: cannot take the waiting step back: the state file is empty or damaged"]


@pytest.mark.timeout(60)
def test_a_command_not_found_fails_as_the_runner_says(started: list[Waiter]) -> None:
    state = handover.command_line(["spraycc-no-such-command"]) + packb([handover.STATE_VERSION])
    started.append(start(state))
    waiter = started[-1]
    waiter.sock.sendall(frame(p.encode(p.Fail("the server was stopped", True))))
    waiter.sock.sendall(frame(p.encode(p.Fail("the server is stopping", True))))
    _, err = waiter.proc.communicate(timeout=30)
    assert waiter.proc.returncode == 127  # as runner._exec: not found
    assert err.splitlines()[-1] == b"spraycc: spraycc-no-such-command: No such file or directory"
