"""Executors held for long steps that arrive late (spraycc.server.hold, docs/history.md, "Long
steps submitted last").

Pure logic first: `Holds` with a fake picker of long steps and the broker with the fake Net of
test_broker.py and a fake clock; the arrivals file in a tmp dir. Then one real run: a server
whose first session sees the long step arrive last, and whose second session holds an
executor for it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server, sleeping_steps
from test_broker import CODE, Net, ready, submit

from spraycc.server import hold
from spraycc.server.broker import Broker
from spraycc.server.hold import ArrivalStore, Holds
from spraycc.server.order import TaskQueue
from spraycc.wire import protocol as p

LONG = {"long.o", "long2.o", "long3.o"}


def long_of(keys: Iterable[str]) -> set[str]:
    return {k for k in keys if k in LONG}


def typical(seconds: float) -> Callable[[], float]:
    """The history's typical step duration, fixed."""
    return lambda: seconds


FROM_START = typical(100.0)  # a typical step so long that every hold begins with its build


@pytest.fixture
def net() -> Net:
    return Net()


def make(net: Net, recorded: dict[str, float], factor: float = 0.0) -> Broker:
    durations = {"long.o": 8.0, "long2.o": 8.0, "long3.o": 8.0}
    return Broker(net.send, CODE, clock=net.clock,
                  queue=TaskQueue(lambda k, d: durations.get(k, 0.4)),
                  straggler_factor=factor, straggler_min_seconds=1,
                  holds=Holds(recorded, long_of, FROM_START))


def tasks_to(net: Net, peer: bytes) -> list[p.Task]:
    return [m for m in net.to(peer) if isinstance(m, p.Task)]


def busy(b: Broker) -> int:
    return sum(1 for ex in b.executors.values() if ex.task is not None)


def result(b: Broker, peer: bytes, task: int) -> None:
    b.on_message(peer, p.encode(p.Result(task, 1, 0, 0.4, "h", "")), [])


# ----------------------------------------------------------------------------------- Holds


def test_a_build_records_when_its_long_steps_arrived() -> None:
    h = Holds({}, long_of, FROM_START)
    h.on_submit("a.o", 10.0, busy=False)
    h.on_submit("b.o", 10.2, busy=True)
    h.on_submit("long.o", 10.7, busy=True)
    assert h.end_build() == {"long.o": pytest.approx(0.7)}
    assert h.recorded == {"long.o": pytest.approx(0.7)}
    assert h.take_finished() == {"long.o": pytest.approx(0.7)}
    assert h.take_finished() is None


def test_a_new_build_starts_after_a_gap_without_remote_work() -> None:
    h = Holds({}, long_of, FROM_START)
    h.on_submit("a.o", 10.0, busy=False)
    h.on_submit("long.o", 10.5, busy=True)
    h.active(12.0)  # long.o ran until about here
    h.on_submit("a.o", 12.0 + hold.BUILD_GAP / 2, busy=False)  # too soon: the same build
    assert h.start == 10.0
    h.on_submit("b.o", 20.0, busy=False)  # a new build: the last one is recorded
    assert h.start == 20.0 and h.recorded == {"long.o": pytest.approx(0.5)}
    assert h.pending == {"long.o": pytest.approx(20.0 + 1.5 * 0.5 + 0.5)}


@pytest.mark.parametrize(("offset", "deadline"), [
    (0.5, 1.25),  # 1.5 x the recorded offset + 0.5 s
    (2.0, 3.5),
    (10.0, hold.HOLD_MAX),  # never past HOLD_MAX into the build
])
def test_a_hold_lasts_until_its_deadline(offset: float, deadline: float) -> None:
    h = Holds({"long.o": offset}, long_of, FROM_START)
    h.on_submit("a.o", 100.0, busy=False)
    assert h.reserve(100.0 + deadline - 0.01, 4) == 1
    assert h.reserve(100.0 + deadline + 0.01, 4) == 0
    assert h.expired == 1 and not h.holding(100.0 + deadline + 0.01)


def test_a_hold_begins_two_typical_steps_before_the_step_is_due() -> None:
    # Recorded at +3 s, typical step 0.4 s: the executors serve short steps until +2.2 s.
    h = Holds({"long.o": 3.0}, long_of, typical(0.4))
    h.on_submit("a.o", 100.0, busy=False)
    assert h.reserve(100.0, 4) == 0 and not h.holding(100.0)
    assert h.reserve(102.19, 4) == 0
    assert h.reserve(102.21, 4) == 1 and h.holding(102.21)
    h.on_submit("long.o", 102.9, busy=True)
    assert h.reserve(102.9, 4) == 0 and h.arrived == 1


def test_a_hold_never_begins_after_its_deadline() -> None:
    assert hold.opening_offset(10.0, 0.1) == hold.HOLD_MAX  # deadline 5 s: begins there
    assert hold.opening_offset(0.5, 1.0) == 0.0


def test_no_hold_for_a_step_that_arrived_early_or_is_no_longer_long() -> None:
    h = Holds({"long.o": hold.LATE_MIN / 2, "was-long.o": 3.0}, long_of, FROM_START)
    h.on_submit("a.o", 100.0, busy=False)
    assert h.pending == {} and h.reserve(100.0, 4) == 0


def test_one_executor_always_serves_the_other_steps() -> None:
    h = Holds({"long.o": 1.0, "long2.o": 1.0, "long3.o": 1.0}, long_of, FROM_START)
    h.on_submit("a.o", 100.0, busy=False)
    assert [h.reserve(100.0, n) for n in (0, 1, 2, 3, 4, 8)] == [0, 0, 1, 2, 3, 3]


def test_a_step_seen_and_no_longer_long_is_forgotten() -> None:
    h = Holds({"long.o": 1.0, "gone.o": 2.0}, long_of, FROM_START)
    h.on_submit("a.o", 100.0, busy=False)
    h.on_submit("gone.o", 100.5, busy=True)  # it ran, and the history says it is short now
    h.end_build()
    assert h.recorded == {"long.o": 1.0}


# ---------------------------------------------------------------------------------- broker


def test_an_executor_waits_idle_for_the_long_step_and_takes_it_on_arrival(net: Net) -> None:
    b = make(net, {"long.o": 0.5})
    for e in (b"E1", b"E2", b"E3"):
        ready(b, e)
    for i in range(5):
        submit(b, f"R{i}".encode(), f"s{i}.o")
    assert busy(b) == 2 and len(b.queue) == 3  # one of three held, shorts queue meanwhile
    held = next(iter(b.idle))
    net.now += 0.4
    submit(b, b"RL", "long.o")
    assert b.executors[held].task is not None
    assert tasks_to(net, held) == [p.Task(6, 1)]  # the long step, at once
    assert b.holds is not None and b.holds.arrived == 1


def test_the_held_executor_takes_other_work_once_the_deadline_passes(net: Net) -> None:
    b = make(net, {"long.o": 0.5})
    for e in (b"E1", b"E2"):
        ready(b, e)
    for i in range(3):
        submit(b, f"R{i}".encode(), f"s{i}.o")
    assert busy(b) == 1
    net.now += 1.2
    for peer in (b"E1", b"E2"):
        b.executors[peer].last_seen = net.now
    b.tick()
    assert busy(b) == 1  # 1.2 s < 1.5 x 0.5 + 0.5
    net.now += 0.1
    b.tick()
    assert busy(b) == 2 and len(b.queue) == 1  # three steps, two executors
    assert b.holds is not None and b.holds.expired == 1


def test_a_hold_ends_for_each_long_step_as_it_arrives(net: Net) -> None:
    b = make(net, {"long.o": 0.5, "long2.o": 0.6})
    for e in (b"E1", b"E2", b"E3", b"E4"):
        ready(b, e)
    for i in range(4):
        submit(b, f"R{i}".encode(), f"s{i}.o")
    assert busy(b) == 2
    submit(b, b"RL", "long.o")
    assert busy(b) == 3 and len(b.queue) == 2  # one still held for long2.o
    result(b, b"E1", 1)  # a short one ends: its executor takes the next short one
    assert busy(b) == 3 and len(b.queue) == 1
    submit(b, b"RL2", "long2.o")
    assert busy(b) == 4
    assert [t.name for t in b.tasks.values() if t.current is None] == ["s3.o"]


def test_no_straggler_copies_while_holding(net: Net) -> None:
    b = make(net, {"long.o": 3.0}, factor=2.0)
    for e in (b"E1", b"E2", b"E3"):
        ready(b, e)
    submit(b, b"R1", "s1.o", flags=p.FLAG_RETRY_SAFE)  # expected 0.4 s: a straggler at 1.4 s
    net.now += 2.0
    for peer in b.executors:
        b.executors[peer].last_seen = net.now
    b.tick()
    assert b.counters.duplicated == 0  # two idle, one of them held: no copy
    net.now += 3.0  # past the deadline (5 s): copies may start again
    for peer in b.executors:
        b.executors[peer].last_seen = net.now
    b.runners[b"R1"].last_seen = net.now
    b.tick()
    assert b.counters.duplicated == 1


def test_executors_serve_short_steps_until_shortly_before_the_long_one(net: Net) -> None:
    # Two executors, the long step recorded at +3 s, steps of 0.4 s typically: both run short
    # steps at first (an executor idle from the start would cost 3 s of one of two); from
    # +2.2 s the next one to come free waits for the long step, which starts on arrival.
    b = Broker(net.send, CODE, clock=net.clock,
               queue=TaskQueue(lambda k, d: {"long.o": 8.0}.get(k, 0.4)),
               holds=Holds({"long.o": 3.0}, long_of, typical(0.4)))
    for e in (b"E1", b"E2"):
        ready(b, e)
    for i in range(16):
        submit(b, f"R{i}".encode(), f"s{i}.o")
    done = 0
    while net.now < 100.0 + 2.0:  # shorts, two at a time
        net.now += 0.4
        for ex in [x for x in b.executors.values() if x.task is not None]:
            result(b, ex.peer, ex.task)
            done += 1
        assert busy(b) == 2
    net.now = 102.3
    ex = next(x for x in b.executors.values() if x.task is not None)
    result(b, ex.peer, ex.task)
    assert busy(b) == 1 and len(b.queue) > 0  # held now
    net.now = 102.9
    submit(b, b"RL", "long.o")
    assert b.executors[ex.peer].task is not None and busy(b) == 2
    assert b.holds is not None and b.holds.arrived == 1 and done == 10


def test_an_executor_running_a_long_step_leaves_another_serving_the_short_ones(
        net: Net) -> None:
    # Two executors, two long steps due: once the first long step has taken the held one,
    # the other executor goes on with short steps (holding it too would leave none serving).
    b = make(net, {"long.o": 0.5, "long2.o": 2.0})
    for e in (b"E1", b"E2"):
        ready(b, e)
    for i in range(4):
        submit(b, f"R{i}".encode(), f"s{i}.o")
    assert busy(b) == 1  # one held
    submit(b, b"RL", "long.o")
    assert busy(b) == 2
    short = next(x for x in b.executors.values()
                 if x.task is not None and b.tasks[x.task].key != "long.o")
    result(b, short.peer, short.task)
    assert short.task is not None and busy(b) == 2  # took the next short step
    assert b.holds is not None and b.holds.pending  # long2.o still due


def test_a_stopping_broker_holds_nothing(net: Net) -> None:
    b = make(net, {"long.o": 1.0})
    for e in (b"E1", b"E2"):
        ready(b, e)
    submit(b, b"R1", "s1.o")
    b.stopping = True
    submit(b, b"R2", "s2.o")  # refused (stopping); the queued one is not
    assert b.held() == 0


# ------------------------------------------------------------------------------ the file


def test_the_store_keeps_long_arrivals_per_workspace(tmp_path: Path) -> None:
    store = ArrivalStore(tmp_path / "history", "/ws/one")
    assert store.load() == ({}, "")
    store.save({"long.o": 0.71234, "caf\udce9.o": 2.0}, {"long.o": 0.7, "caf\udce9.o": 2.0},
               now=1000.0)
    assert store.load() == ({"long.o": 0.712, "caf\udce9.o": 2.0}, "")
    assert store.path.parent == tmp_path / "history" / "arrivals"
    # Another workspace has a file of its own; one with the other's name is refused.
    other = ArrivalStore(tmp_path / "history", "/ws/two")
    assert other.path != store.path and other.load() == ({}, "")
    other.path.write_text(store.path.read_text())
    assert other.load()[0] == {} and "not an arrivals file" in other.load()[1]
    # A later build: new arrivals replace old ones; steps no longer long and old ones go.
    store.save({"long2.o": 1.5}, {"long2.o": 1.5, "caf\udce9.o": 2.0}, now=2000.0)
    assert store.load()[0] == {"long2.o": 1.5, "caf\udce9.o": 2.0}
    store.save({}, {"long2.o": 1.5}, now=2000.0 + hold.MAX_AGE_DAYS * 86400)
    assert store.load()[0] == {}


@pytest.mark.parametrize("text", ["{", "[]", '{"format": 9}', "\x00\x01"])
def test_a_damaged_store_is_reported_and_ignored(tmp_path: Path, text: str) -> None:
    store = ArrivalStore(tmp_path, "/ws")
    store.path.parent.mkdir()
    store.path.write_text(text)
    recorded, problem = store.load()
    assert recorded == {} and str(store.path) in problem
    store.save({"long.o": 1.0}, {"long.o": 1.0})  # and overwritten by the next save
    assert store.load() == ({"long.o": 1.0}, "")


# ------------------------------------------------------------------------------ real run

CONFIG = "local_count = 2\nidle_shutdown_after = 60\nrelease_delay = 30\n"
DURATIONS = {"a": 0.1, "b": 0.1, "c": 0.1, "long": 1.1}  # long: > LONG_MIN, submitted last


@pytest.mark.timeout(120)
def test_a_real_server_holds_an_executor_for_the_long_step_it_saw_arrive_late(
        tmp_path: Path, workspace: Path, env: dict[str, str]) -> None:
    env = sleeping_steps(tmp_path, workspace, env, DURATIONS)

    def step(name: str) -> list[str]:
        return [SPRAYCC, "run", "gcc", "-c", f"{name}.c", "-o", f"{name}.o"]

    with running_server(workspace, env, config=CONFIG) as srv:  # session 1: one after another
        srv.read_until("executor local-2 connected")
        for name in DURATIONS:
            r = run(step(name), workspace, env)
            assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()
    files = list((Path(env["SPRAYCC_HISTORY"]) / "arrivals").iterdir())
    assert len(files) == 1
    steps = json.loads(files[0].read_text())["steps"]
    assert len(steps) == 1 and next(iter(steps)).endswith(" -c long.o"), steps
    assert next(iter(steps.values()))["offset"] >= 3 * DURATIONS["a"]  # after three steps

    with running_server(workspace, env, "-v", config=CONFIG) as srv:  # session 2: held
        srv.read_until("1 long step(s) of this workspace with arrival times")
        srv.read_until("executor local-2 connected")
        procs = [subprocess.Popen(step(n), cwd=workspace, env=env, stdin=subprocess.DEVNULL)
                 for n in ("a", "b", "c")]
        try:
            srv.read_until("hold: a build starts; holding executors for 1 long step(s)")
            long = subprocess.Popen(step("long"), cwd=workspace, env=env,
                                    stdin=subprocess.DEVNULL)
            procs.append(long)
            assert long.wait(timeout=30) == 0
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        assert [proc.returncode for proc in procs] == [0, 0, 0, 0]
        log = srv.log()
    assert "hold: long step " in log and " arrived at +" in log, log
    # The long step started the moment it arrived: the next task the server handed out after
    # its arrival was the long step (short steps ran on both executors until its hold began,
    # two typical steps before its recorded arrival: the window itself is tested above).
    lines = log.splitlines()
    arrived = next(i for i, line in enumerate(lines) if "hold: long step " in line
                   and " arrived at +" in line)
    handed = [line for line in lines[arrived:] if "attempt 1 to executor" in line]
    assert handed and "(long.o)" in handed[0], log
    for name in DURATIONS:
        assert (workspace / f"{name}.o").read_text() == f"object of {name}.c\n"
