"""Straggler insurance: a second copy of a task that runs far past its recorded duration.

Pure broker tests (the fake Net of test_broker.py and a model of the runner's rules), then one
real run: a server with two local executors, a fake `gcc` whose first copy hangs, and a
runner that must get exactly one result and the fast copy's output file.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers import FAKE_CC_ARGS, SPRAYCC, run, running_server, wait_for
from test_broker import CODE, Net, ready, submit

from spraycc.server.broker import Broker, Hooks
from spraycc.server.straggler import COPY_SWITCH_LIMIT
from spraycc.wire import protocol as p

RS = p.FLAG_RETRY_SAFE


@pytest.fixture
def net() -> Net:
    return Net()


class Recorder(Hooks):
    def __init__(self) -> None:
        self.succeeded: list[tuple[str, float]] = []

    def task_succeeded(self, key: str, elapsed: float) -> None:
        self.succeeded.append((key, elapsed))


def make(net: Net, expected: float | None = 1.0, factor: float = 2.0) -> tuple[Broker, Recorder]:
    from spraycc.server.order import TaskQueue

    hooks = Recorder()
    b = Broker(net.send, CODE, clock=net.clock, queue=TaskQueue(lambda k, d: expected),
               hooks=hooks, max_attempts=3, straggler_factor=factor, straggler_min_seconds=3)
    return b, hooks


class RunnerModel:
    """What the runner keeps of the messages it got: the rules of runner.follow()."""

    def __init__(self, net: Net, peer: bytes) -> None:
        self.attempt = 1
        self.output: list[bytes] = []
        self.files: dict[int, bytes] = {}
        self.results: list[p.Result] = []
        self.retries = 0
        for frames in net.frames_to(peer):
            self.feed(p.decode(frames[0]), frames[1:])

    def feed(self, msg: p.Message, rest: list[Any]) -> None:
        if isinstance(msg, p.Retry):
            assert not self.results, "RETRY after the result"
            self.retries += 1
            self.attempt = msg.attempt
            self.output.clear()
            self.files.clear()
        elif isinstance(msg, (p.Output, p.File, p.Result)) and msg.attempt == self.attempt:
            if isinstance(msg, p.Output):
                self.output.append(rest[0])
            elif isinstance(msg, p.File):
                self.files[msg.index] = self.files.get(msg.index, b"") + rest[0]
            else:
                self.results.append(msg)


def task_msgs(net: Net, peer: bytes) -> list[p.Message]:
    return [m for m in net.to(peer) if isinstance(m, (p.Task, p.Cancel))]


def from_ex(b: Broker, peer: bytes, msg: p.Message, data: bytes | None = None) -> None:
    b.on_message(peer, p.encode(msg), [] if data is None else [data])


def start_straggler(net: Net, b: Broker) -> None:
    """Task 1 (expected 1 s) runs on E1 and prints a line; E2 idles; after 4.5 s it is due."""
    ready(b, b"E1")
    submit(b, b"R1", flags=RS)
    ready(b, b"E2")
    from_ex(b, b"E1", p.Output(1, 1, 2), b"warning from first\n")
    net.now += 3.9  # due at max(2 x 1 s, 1 s + 3 s) = 4 s
    for e in (b"E1", b"E2"):
        b.executors[e].last_seen = net.now
    b.runners[b"R1"].last_seen = net.now
    b.tick()
    assert task_msgs(net, b"E2") == []
    net.now += 0.2
    b.tick()
    assert task_msgs(net, b"E2") == [p.Task(1, 2)]
    assert b.counters.duplicated == 1


def test_second_copy_finishes_first_and_replaces_the_first(net: Net) -> None:
    b, hooks = make(net)
    start_straggler(net, b)
    from_ex(b, b"E2", p.Output(1, 2, 2), b"warning from second\n")
    assert RunnerModel(net, b"R1").output == [b"warning from first\n"]  # kept back, for now
    from_ex(b, b"E2", p.File(1, 2, 0, 0o644, True), b"object from second")
    assert p.Cancel(1) in net.to(b"E1")
    # Late messages of the cancelled first copy are dropped, its RESULT frees its executor.
    from_ex(b, b"E1", p.File(1, 1, 0, 0o644, True), b"object from first")
    from_ex(b, b"E1", p.Result(1, 1, -15, 9.0, "h", "cancelled"))
    assert b"E1" in b.idle
    from_ex(b, b"E2", p.Result(1, 2, 0, 0.5, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 1 and seen.attempt == 2
    assert seen.output == [b"warning from second\n"]
    assert seen.files == {0: b"object from second"}
    assert len(seen.results) == 1 and seen.results[0].status == 0
    assert hooks.succeeded == [("a.o", 0.5)]
    assert not b.tasks and set(b.idle) == {b"E1", b"E2"}
    assert b.counters.duplicate_won == 1 and b.counters.done == 1


def test_first_copy_finishes_first_and_the_second_is_cancelled(net: Net) -> None:
    b, hooks = make(net)
    start_straggler(net, b)
    from_ex(b, b"E2", p.Output(1, 2, 2), b"warning from second\n")
    from_ex(b, b"E1", p.File(1, 1, 0, 0o644, True), b"object from first")
    assert p.Cancel(1) in net.to(b"E2")
    from_ex(b, b"E2", p.File(1, 2, 0, 0o644, True), b"object from second")  # too late
    from_ex(b, b"E1", p.Result(1, 1, 0, 7.0, "h", ""))
    from_ex(b, b"E2", p.Result(1, 2, -15, 1.0, "h", "cancelled"))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 0
    assert seen.output == [b"warning from first\n"]
    assert seen.files == {0: b"object from first"}
    assert len(seen.results) == 1 and seen.results[0].status == 0
    assert hooks.succeeded == [("a.o", 7.0)]
    assert set(b.idle) == {b"E1", b"E2"} and b.counters.duplicate_won == 0


def test_second_copy_result_without_files_wins_too(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E2", p.Result(1, 2, 0, 0.5, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 1 and [r.attempt for r in seen.results] == [2]
    assert p.Cancel(1) in net.to(b"E1") and b"E2" in b.idle
    from_ex(b, b"E1", p.Result(1, 1, 0, 8.0, "h", ""))  # finished before the cancel arrived
    assert len(RunnerModel(net, b"R1").results) == 1 and b"E1" in b.idle


def test_second_copy_that_cannot_run_is_dropped(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E2", p.Result(1, 2, 1, 0.0, "h", "cannot run gcc"))
    assert b"E2" in b.idle and b.tasks[1].copy is None
    assert p.Cancel(1) not in net.to(b"E1")
    from_ex(b, b"E1", p.Result(1, 1, 0, 8.0, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 0 and len(seen.results) == 1
    net.now += 100
    b.tick()  # never a second copy twice
    assert b.counters.duplicated == 1


def test_first_copy_that_cannot_run_hands_over_to_the_second(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E1", p.Result(1, 1, 1, 0.0, "h", "no space left"))
    from_ex(b, b"E2", p.Result(1, 2, 0, 0.5, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 1 and [(r.attempt, r.status) for r in seen.results] == [(2, 0)]


def test_first_executor_lost_the_second_copy_carries_on(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E1", p.Disconnect("bye"))
    assert b.counters.retried == 0 and not len(b.queue)
    ready(b, b"E3")
    assert task_msgs(net, b"E3") == []  # no third copy
    from_ex(b, b"E2", p.File(1, 2, 0, 0o644, True), b"obj")
    from_ex(b, b"E2", p.Result(1, 2, 0, 0.5, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.files == {0: b"obj"} and len(seen.results) == 1


def test_second_executor_lost_the_first_copy_carries_on(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E2", p.Output(1, 2, 2), b"x")
    from_ex(b, b"E2", p.Disconnect("bye"))
    from_ex(b, b"E1", p.Result(1, 1, 0, 8.0, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 0 and len(seen.results) == 1
    assert seen.output == [b"warning from first\n"]


def test_runner_gone_cancels_both_copies(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    b.on_message(b"R1", p.encode(p.Cancel(0)), [])
    assert p.Cancel(1) in net.to(b"E1") and p.Cancel(1) in net.to(b"E2")
    from_ex(b, b"E1", p.Result(1, 1, -15, 1.0, "h", "cancelled"))
    from_ex(b, b"E2", p.Result(1, 2, -15, 1.0, "h", "cancelled"))
    assert set(b.idle) == {b"E1", b"E2"} and not b.tasks


def test_no_switch_after_the_runner_may_have_written_output(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E1", p.Output(1, 1, 2), b"x" * COPY_SWITCH_LIMIT)
    from_ex(b, b"E2", p.File(1, 2, 0, 0o644, True), b"obj2")
    assert p.Cancel(1) in net.to(b"E2") and p.Cancel(1) not in net.to(b"E1")
    from_ex(b, b"E1", p.File(1, 1, 0, 0o644, True), b"obj1")
    from_ex(b, b"E1", p.Result(1, 1, 0, 8.0, "h", ""))
    seen = RunnerModel(net, b"R1")
    assert seen.retries == 0 and seen.files == {0: b"obj1"} and len(seen.results) == 1


def test_requeue_after_a_copy_uses_a_fresh_attempt_number(net: Net) -> None:
    b, _ = make(net)
    start_straggler(net, b)
    from_ex(b, b"E1", p.File(1, 1, 0, 0o644, False), b"part")  # first wins; E2 cancelled
    from_ex(b, b"E1", p.Disconnect("bye"))  # ... then dies while sending files
    (retry,) = [m for m in net.to(b"R1") if isinstance(m, p.Retry)]
    assert retry.attempt == 3  # not 2: that is the cancelled copy's number
    from_ex(b, b"E2", p.Result(1, 2, -15, 1.0, "h", "cancelled"))  # its late ack
    assert task_msgs(net, b"E2")[-1] == p.Task(1, 3)  # re-dispatched to the freed executor
    assert b.tasks[1].attempt == 3


@pytest.mark.parametrize(
    ("why", "expected", "flags", "queued", "factor"),
    [
        ("no history", None, RS, False, 2.0),
        ("not retry-safe (spraycc run --remote)", 1.0, 0, False, 2.0),
        ("work is queued", 1.0, RS, True, 2.0),
        ("switched off", 1.0, RS, False, 0.0),
    ],
)
def test_no_second_copy(net: Net, why: str, expected: float | None, flags: int, queued: bool,
                        factor: float) -> None:
    b, _ = make(net, expected, factor)
    ready(b, b"E1")
    submit(b, b"R1", flags=flags)
    if queued:
        submit(b, b"R2", "b.o", flags=flags)
    ready(b, b"E2")
    if queued:
        submit(b, b"R3", "c.o", flags=flags)
    net.now += 1000
    for e in (b"E1", b"E2"):
        b.executors[e].last_seen = net.now
    for r in b.runners.values():
        r.last_seen = net.now
    b.tick()
    assert b.counters.duplicated == 0, why


def test_second_copy_prefers_another_host(net: Net) -> None:
    b, _ = make(net)
    b.on_message(b"E1", p.encode(p.Ready(CODE, "slow-host", 1, "L1")), [])
    submit(b, b"R1", flags=RS)
    b.on_message(b"E2", p.encode(p.Ready(CODE, "slow-host", 2, "L2")), [])
    b.on_message(b"E3", p.encode(p.Ready(CODE, "other-host", 3, "L3")), [])
    net.now += 5
    for e in (b"E1", b"E2", b"E3"):
        b.executors[e].last_seen = net.now
    b.runners[b"R1"].last_seen = net.now
    b.tick()
    assert task_msgs(net, b"E3") == [p.Task(1, 2)] and task_msgs(net, b"E2") == []


# --------------------------------------------------------------------------- a real run

# A compiler stand-in: `gcc -c SRC -o OUT`. The copy that takes the marker (an atomic rename,
# so exactly one copy can) hangs, as on an overloaded host; any other copy is fast.
FAKE_GCC = "#!/bin/sh\n" + FAKE_CC_ARGS + r"""echo "warning: compiling $src" >&2
if mv "$SLOW_MARKER" "$SLOW_MARKER.taken" 2>/dev/null; then
  echo $$ > "$SLOW_MARKER.pid"
  exec sleep 120
fi
printf 'object of %s\n' "$src" > "$out"
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.timeout(90)
def test_slow_executor_the_duplicate_finishes_first(
    tmp_path: Path, workspace: Path, env: dict[str, str]
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    gcc = bindir / "gcc"
    gcc.write_text(FAKE_GCC)
    gcc.chmod(0o755)
    marker = tmp_path / "slow"
    pidfile = tmp_path / "slow.pid"
    env = dict(env, PATH=f"{bindir}:{env['PATH']}", SLOW_MARKER=str(marker))
    (workspace / "a.c").write_text("int a;\n")
    config = ("local_count = 2\nstraggler_factor = 2\nstraggler_min_seconds = 1\n"
              "release_delay = 60\nstatus_interval = 0\n")
    try:
        with running_server(workspace, env, config=config) as srv:
            # Bring up two executors (a second task while the first runs), and learn the
            # step's duration: what this session records counts at once.
            busy = subprocess.Popen([SPRAYCC, "run", "--remote", "sleep", "2"], cwd=workspace,
                                    env=env, stdin=subprocess.DEVNULL)
            try:
                r = run([SPRAYCC, "run", "gcc", "-c", "a.c", "-o", "a.o"], workspace, env)
                assert r.returncode == 0, r.stderr.decode()
                srv.read_until("executor local-2 connected")
                assert busy.wait(30) == 0
            finally:
                if busy.poll() is None:
                    busy.kill()
                    busy.wait()
            (workspace / "a.o").unlink()
            marker.write_text("")
            r = run([SPRAYCC, "run", "gcc", "-c", "a.c", "-o", "a.o"], workspace, env,
                    timeout=60)
            assert r.returncode == 0, r.stderr.decode()
            # Exactly one copy's output reached the runner, and the file is the fast copy's.
            assert r.stderr.decode().count("warning: compiling a.c") == 1, r.stderr.decode()
            assert (workspace / "a.o").read_text() == "object of a.c\n"
            assert (tmp_path / "slow.taken").exists(), "the first copy never took the marker"
            srv.read_until("second copy")
            srv.read_until("switching to attempt")
            slow = int(pidfile.read_text())
            wait_for(lambda: not _alive(slow), 10, "the slow copy to be cancelled")
        assert not [n for n in os.listdir(workspace) if "spraycc-tmp" in n]
    finally:
        if pidfile.exists() and _alive(int(pidfile.read_text() or 0)):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


# ------------------------------------------------------- the executor side of a cancel


@pytest.mark.timeout(60)
def test_cancelled_step_without_credit_still_answers(tmp_path: Path) -> None:
    """A cancelled copy gets no more CREDIT (nobody reads it): its executor must still send
    its RESULT, or it would stay busy forever."""
    import threading

    import zmq

    from spraycc.executor import Executor

    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    ex = Executor(f"tcp://127.0.0.1:{port}", CODE, tmpdir=str(tmp_path))
    thread = threading.Thread(target=ex.run, daemon=True)
    thread.start()

    def recv(timeout: float = 10.0) -> tuple[bytes, p.Message]:
        assert router.poll(timeout * 1000), "the executor said nothing"
        peer, header, *_ = router.recv_multipart()
        return peer, p.decode(header)

    try:
        peer, msg = recv()
        assert isinstance(msg, p.Ready)
        body = p.pack_body(str(tmp_path).encode(), [b"head", b"-c", b"20000000", b"/dev/zero"],
                           {b"PATH": os.environ["PATH"].encode()}, [])
        router.send_multipart([peer, p.encode(p.Task(1, 1)), body])
        outputs = 0
        while outputs < p.CREDIT_WINDOW:  # the whole window, then it must stop sending
            _, msg = recv()
            assert isinstance(msg, (p.Output, p.Heartbeat)), msg
            outputs += isinstance(msg, p.Output)
        router.send_multipart([peer, p.encode(p.Cancel(1))])
        while True:
            _, msg = recv()
            if isinstance(msg, p.Result):
                break
            assert isinstance(msg, p.Heartbeat), msg
        assert msg.task == 1 and msg.error == "cancelled"
        router.send_multipart([peer, p.encode(p.Disconnect("done"))])
        thread.join(10)
        assert not thread.is_alive()
    finally:
        if thread.is_alive():
            ex.exit_reason = "test over"
            thread.join(10)
        router.close(linger=0)
        ctx.term()
