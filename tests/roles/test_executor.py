"""The executor's task lifecycle, driven through its link and clock seams: no server, no
socket; real child processes (start, stream, time limit, cancel, finish)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from spraycc import TEMP_DIR
from spraycc.executor import Executor, Step
from spraycc.wire import protocol as p

T = os.fsencode(TEMP_DIR)


class FakeLink:
    """Records what the executor sends; nothing arrives unless a test delivers it."""

    curve = None

    def __init__(self) -> None:
        self.sent: list[tuple[p.Message, list[bytes]]] = []
        self.closed = False

    def send(self, frames: list[bytes]) -> None:
        self.sent.append((p.decode(frames[0]), list(frames[1:])))

    def recv(self) -> list[bytes] | None:
        return None

    def sockets(self) -> list:
        return []

    def close(self, linger_ms: int) -> None:
        self.closed = True

    def of(self, kind: type[p.Message]) -> list[tuple[p.Message, list[bytes]]]:
        return [(m, rest) for m, rest in self.sent if isinstance(m, kind)]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Executor, FakeLink, Clock]]:
    link, clock = FakeLink(), Clock()
    ex = Executor("tcp://unused:1", "c0de", tmpdir=str(tmp_path), link=link, clock=clock)
    yield ex, link, clock
    ex.shutdown()
    assert link.closed and not os.path.exists(ex.base)


def body(script: str, *, outputs: tuple[bytes, ...] = (), timeout: float = 0.0,
         credit: int = p.CREDIT_WINDOW) -> bytes:
    data = p.pack_body(os.getcwdb(), [b"/bin/sh", b"-c", script.encode(), b"sh", T],
                       {b"PATH": os.environb.get(b"PATH", b"/usr/bin:/bin")}, list(outputs),
                       timeout=timeout)
    if credit != p.CREDIT_WINDOW:  # rebuild with a smaller window
        from spraycc.wire.minipack import packb, unpackb

        raw = unpackb(data)
        raw["credit"] = credit
        data = packb(raw)
    return data


def run_until(ex: Executor, done: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        ex.poll_once()


def gone(pid: int) -> bool:
    """Dead: no such process, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return True
    return stat.rpartition(b")")[2].split()[:1] == [b"Z"]


def result(link: FakeLink) -> p.Result:
    (msg, _), = link.of(p.Result)
    assert isinstance(msg, p.Result)
    return msg


def test_start_stream_and_finish(rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, clock = rig
    ex.on_message(p.Task(7, 2), [body('echo out; echo err >&2; printf obj > "$1/0/a.o"',
                                      outputs=(b"0/a.o", b"0/missing"))])
    step = ex.step
    assert step is not None and step.state == Step.RUNNING
    clock.now += 0.25
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT")
    outputs = {m.stream: b"".join(rest) for m, rest in link.of(p.Output)
               if isinstance(m, p.Output)}
    assert outputs == {1: b"out\n", 2: b"err\n"}
    files = link.of(p.File)
    assert [(m.task, m.attempt, m.index, m.last) for m, _ in files
            if isinstance(m, p.File)] == [(7, 2, 0, True)]
    assert files[0][1] == [b"obj"]
    res = result(link)
    assert (res.task, res.attempt, res.status, res.error) == (7, 2, 0, "")
    assert res.elapsed == pytest.approx(0.25)  # measured on the executor's clock
    assert ex.step is None and not os.path.exists(step.workdir)


def test_exit_status_is_relayed_with_the_outputs(rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, _ = rig
    ex.on_message(p.Task(1, 1), [body('printf x > "$1/0/a.o"; exit 3', outputs=(b"0/a.o",))])
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT")
    assert result(link).status == 3
    assert len(link.of(p.File)) == 1  # a failed step's outputs still go back (like a local run)


def test_credit_holds_back_output_until_credit_arrives(
        rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, _ = rig
    ex.on_message(p.Task(1, 1), [body("echo a; sleep 0.2; echo b", credit=1)])
    run_until(ex, lambda: len(link.of(p.Output)) == 1, "the first chunk")
    step = ex.step
    assert step is not None
    run_until(ex, lambda: step.status is not None, "the step to exit")
    for _ in range(3):
        ex.poll_once()
    assert len(link.of(p.Output)) == 1 and not link.of(p.Result)  # no credit: nothing more
    ex.on_message(p.Credit(1, 1, 5), [])
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT")
    assert b"".join(b"".join(rest) for _, rest in link.of(p.Output)) == b"a\nb\n"


def test_time_limit_kills_the_step_and_says_so(rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, clock = rig
    ex.on_message(p.Task(3, 1), [body("echo started; exec sleep 60", timeout=5.0)])
    step = ex.step
    assert step is not None and step.proc is not None
    run_until(ex, lambda: bool(link.of(p.Output)), "the first output")
    ex.poll_once()
    assert step.state == Step.RUNNING  # the clock has not moved: within the limit
    clock.now += 5.5
    ex.last_heard = clock.now  # the server is still there
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT")
    res = result(link)
    assert (res.status, res.error) == (124, "")
    assert step.proc.returncode == -signal.SIGTERM
    text = b"".join(b"".join(rest) for m, rest in link.of(p.Output) if isinstance(m, p.Output))
    assert text.startswith(b"started\n") and b"longer than its time limit of 5 s" in text


def test_cancel_acknowledges_at_once_and_kills_the_group(
        rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, _ = rig
    # One credit, spent on "go": the acknowledgement must not wait for a CREDIT (none comes
    # for a cancelled task).
    ex.on_message(p.Task(4, 1), [body("sleep 60 & echo $! > \"$1/child\"; echo go; wait",
                                      credit=1)])
    step = ex.step
    assert step is not None
    run_until(ex, lambda: bool(link.of(p.Output)), "the step to start")
    child = int(Path(step.workdir, "child").read_text())
    ex.on_message(p.Cancel(4), [])
    assert step.state == Step.CANCELLED
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT", seconds=5)
    assert result(link).error == "cancelled"
    assert ex.step is None
    run_until(ex, lambda: gone(child), "the step's background child to die")  # the group


def test_a_cancelled_time_limit_keeps_its_first_reason(
        rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, clock = rig
    ex.on_message(p.Task(5, 1), [body("exec sleep 60", timeout=1.0)])
    step = ex.step
    assert step is not None
    clock.now += 2
    ex.last_heard = clock.now
    ex.on_tick()
    assert step.state == Step.TIMED_OUT
    ex.on_message(p.Cancel(5), [])
    assert step.state == Step.TIMED_OUT
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT")
    assert result(link).status == 124


def test_bad_body_and_unknown_program_answer_with_an_error(
        rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, _ = rig
    ex.on_message(p.Task(1, 1), [b"\x91\x01"])  # not a map
    assert "task body" in result(link).error and ex.step is None
    link.sent.clear()
    data = p.pack_body(b"/", [b"/nonexistent/cc"], {}, [])
    ex.on_message(p.Task(2, 1), [data])
    res = result(link)
    assert res.status == 1 and res.error.startswith("cannot run /nonexistent/cc on ")


def test_busy_executor_ignores_a_second_task(rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, _ = rig
    ex.on_message(p.Task(1, 1), [body("exec sleep 60")])
    first = ex.step
    ex.on_message(p.Task(2, 1), [body("true")])
    assert ex.step is first and not link.sent
    ex.on_message(p.Cancel(1), [])
    run_until(ex, lambda: bool(link.of(p.Result)), "the RESULT")


def test_silent_server_ends_the_executor(rig: tuple[Executor, FakeLink, Clock]) -> None:
    ex, link, clock = rig
    ex.on_tick()
    assert not ex.exit_reason and link.of(p.Heartbeat)  # first tick: a heartbeat goes out
    clock.now += ex.expiry + 1
    ex.on_tick()
    assert ex.exit_reason == "the server is gone (no heartbeat)" and ex.exit_code == 1
