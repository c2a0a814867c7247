"""The broker's event logic, driven without sockets: an in-memory `send` and a fake clock."""

from __future__ import annotations

import pytest
from helpers import Net

from spraycc.server.broker import Broker
from spraycc.server.order import TaskQueue
from spraycc.wire import protocol as p

CODE = "c0de"


@pytest.fixture
def net() -> Net:
    return Net()


@pytest.fixture
def broker(net: Net) -> Broker:
    return Broker(net.send, CODE, clock=net.clock, local_slots=1, release_delay=30, max_attempts=2)


def ready(b: Broker, peer: bytes, launch: str = "L") -> None:
    b.on_message(peer, p.encode(p.Ready(CODE, "host", 1, launch)), [])


def submit(b: Broker, peer: bytes, name: str = "a.o", flags: int = 0, body: bytes = b"B") -> None:
    b.on_message(peer, p.encode(p.Submit(CODE, name.encode(), flags, name.encode())), [body])


def test_submit_goes_to_idle_executor_with_body(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    submit(broker, b"R1", body=b"the-body")
    assert net.to(b"R1") == [p.Accepted(1, 0)]  # 0: already running, not queued
    assert [who for who, _ in net.sent] == [b"E1", b"R1"]  # TASK leaves before ACCEPTED
    (frames,) = net.frames_to(b"E1")
    assert p.decode(frames[0]) == p.Task(1, 1)
    assert frames[1] == b"the-body"


def test_least_recently_used_executor_first(net: Net, broker: Broker) -> None:
    for e in (b"E1", b"E2", b"E3"):
        ready(broker, e)
    submit(broker, b"R1")
    submit(broker, b"R2")
    got = [peer for peer, f in net.sent if isinstance(p.decode(f[0]), p.Task)]
    assert got == [b"E1", b"E2"]
    # E1 finishes: it becomes the most recently used; E3 is next.
    broker.on_message(b"E1", p.encode(p.Result(1, 1, 0, 0.1, "h", "")), [])
    submit(broker, b"R3")
    got = [peer for peer, f in net.sent if isinstance(p.decode(f[0]), p.Task)]
    assert got == [b"E1", b"E2", b"E3"]


def test_output_file_result_are_relayed_unchanged(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    submit(broker, b"R1")
    out = p.encode(p.Output(1, 1, 2))
    broker.on_message(b"E1", out, [b"warning: x\n"])
    res = p.encode(p.Result(1, 1, 0, 0.5, "h", ""))
    broker.on_message(b"E1", res, [])
    frames = net.frames_to(b"R1")
    assert frames[1] == [out, b"warning: x\n"]
    assert frames[2] == [res]
    assert broker.counters.done == 1 and not broker.tasks


def test_dead_executor_mid_task_requeues_and_tells_runner(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    submit(broker, b"R1")
    net.now += 10  # E1 silent for longer than the heartbeat expiry
    ready(broker, b"E2")
    broker.runners[b"R1"].last_seen = net.now
    broker.tick()
    assert p.Retry(1, 2, "executor on host stopped answering") in net.to(b"R1")
    (frames,) = net.frames_to(b"E2")
    assert p.decode(frames[0]) == p.Task(1, 2)
    # A late result of attempt 1 (from the executor we gave up on) is dropped.
    broker.on_message(b"E1", p.encode(p.Result(1, 1, 0, 0.1, "h", "")), [])
    assert not [m for m in net.to(b"R1") if isinstance(m, p.Result)]


def test_gives_up_after_max_attempts(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    submit(broker, b"R1")
    broker.on_message(b"E1", p.encode(p.Disconnect("bye")), [])
    ready(broker, b"E2")
    broker.on_message(b"E2", p.encode(p.Disconnect("bye")), [])
    fails = [m for m in net.to(b"R1") if isinstance(m, p.Fail)]
    assert len(fails) == 1 and not fails[0].fallback
    assert not broker.tasks


def test_runner_gone_cancels_running_task(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    submit(broker, b"R1")
    net.gone.add(b"R1")
    broker.on_message(b"E1", p.encode(p.Output(1, 1, 1)), [b"x"])
    assert p.Cancel(1) in net.to(b"E1")
    assert not broker.tasks
    # The executor acknowledges the cancel with a result and becomes idle again.
    broker.on_message(b"E1", p.encode(p.Result(1, 1, -15, 0.1, "h", "cancelled")), [])
    assert b"E1" in broker.idle


def test_cancel_of_queued_task_drops_it(net: Net, broker: Broker) -> None:
    submit(broker, b"R1")
    broker.on_message(b"R1", p.encode(p.Cancel(0)), [])
    ready(broker, b"E1")
    assert not net.frames_to(b"E1")
    assert len(broker.queue) == 0


def test_wrong_code_and_version_are_refused(net: Net, broker: Broker) -> None:
    broker.on_message(b"X", p.encode(p.Submit("wrong", b"k", 0, b"n")), [b"B"])
    broker.on_message(b"Y", b"\x94\x07\x02\xa0\xa0", [])  # version 7
    assert isinstance(net.to(b"X")[0], p.Refuse)
    assert "version" in net.to(b"Y")[0].reason
    assert not broker.tasks and broker.counters.refused == 2


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\xc1", b"\x92\x01", b"\x93\x01\x63\x00", b"\xdd\xff\xff\xff\xff", b"\x91" * 100],
)
def test_garbage_is_dropped(net: Net, broker: Broker, garbage: bytes) -> None:
    broker.on_message(b"G", garbage, [b"x"] * 3)
    assert not broker.tasks and not broker.executors


def test_unknown_peer_non_hello_is_dropped(net: Net, broker: Broker) -> None:
    broker.on_message(b"G", p.encode(p.Result(1, 1, 0, 0.1, "h", "")), [])
    assert net.sent == [] and broker.counters.dropped == 1


def test_local_slots_are_granted_one_at_a_time(net: Net, broker: Broker) -> None:
    broker.on_message(b"L1", p.encode(p.Local(CODE, b"ld")), [])
    broker.on_message(b"L2", p.encode(p.Local(CODE, b"ld")), [])
    assert net.to(b"L1") == [p.Grant(1)] and net.to(b"L2") == []
    broker.on_message(b"L1", p.encode(p.Done(0, 1.0)), [])
    assert net.to(b"L2") == [p.Grant(1)]


def test_local_slot_holder_that_dies_frees_its_slot(net: Net, broker: Broker) -> None:
    broker.on_message(b"L1", p.encode(p.Local(CODE, b"ld")), [])
    broker.on_message(b"L2", p.encode(p.Local(CODE, b"ld")), [])
    net.gone.add(b"L1")
    assert broker.probe(b"L1") is False  # its connection closed: the check fails, it is gone
    assert net.to(b"L2") == [p.Grant(1)]
    assert broker.probe(b"L2") is True and b"L2" in broker.runners


def test_waiting_runners_are_pinged_rarely_and_each_on_its_own_schedule(
        net: Net, broker: Broker) -> None:
    submit(broker, b"R1", "one.o")
    net.now += 10
    submit(broker, b"R2", "two.o")
    beat = p.encode(p.Heartbeat())

    def beats(peer: bytes) -> list[list]:
        return [f for who, f in net.sent if who == peer and f[0] == beat]

    for _ in range(int(broker.runner_heartbeat) - 11):  # a second at a time
        net.now += 1
        broker.tick()
    assert not beats(b"R1") and not beats(b"R2")  # no wake-ups every second
    net.now += 2
    broker.tick()
    assert len(beats(b"R1")) == 1 and not beats(b"R2")
    net.gone.add(b"R2")
    net.now += 10
    broker.tick()  # R2's heartbeat is due and fails: it is gone, its task dropped
    assert b"R2" not in broker.runners and broker.counters.cancelled == 1


def test_a_short_runner_heartbeat_is_kept_though_shorter_than_the_servers_pass(
        net: Net) -> None:
    # runner_heartbeat may be set below the executors' 1 s heartbeat (config minimum 0.1 s):
    # the runner gives up after 5 of its intervals, so it must hear from the server that often.
    broker = Broker(net.send, CODE, clock=net.clock, local_slots=1, release_delay=30,
                    max_attempts=2, runner_heartbeat=0.2)
    submit(broker, b"R1", "one.o")
    beat = p.encode(p.Heartbeat())
    heard = []
    for step in range(1, 21):  # 2 s in ticks of 0.1 s
        net.now += 0.1
        broker.tick()
        if any(who == b"R1" and f[0] == beat for who, f in net.sent):
            heard.append(step)
            net.sent.clear()
    gaps = [b - a for a, b in zip([0, *heard], heard, strict=False)]
    assert heard and max(gaps) <= 3, heard  # never 0.3 s without a heartbeat


def test_a_silent_runner_expires_only_after_long_silence(net: Net, broker: Broker) -> None:
    submit(broker, b"R1", "one.o")
    net.now += broker.runner_heartbeat * 2
    broker.tick()
    assert b"R1" in broker.runners  # heartbeats reach it: it is only quiet
    net.now += broker.runner_expiry
    broker.tick()
    assert b"R1" not in broker.runners


def test_dependency_steps_first_then_fifo(net: Net, broker: Broker) -> None:
    submit(broker, b"R1", "one.o")
    submit(broker, b"R2", "two.d", flags=p.FLAG_DEPENDENCY)
    submit(broker, b"R3", "three.o")
    ready(broker, b"E1")
    ready(broker, b"E2")
    ready(broker, b"E3")
    order = [
        p.decode(f[0]).task
        for who, f in net.sent
        if who.startswith(b"E") and isinstance(p.decode(f[0]), p.Task)
    ]
    assert order == [2, 1, 3]


def test_idle_executors_released_after_delay(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    net.now += 29
    broker.executors[b"E1"].last_seen = net.now
    broker.tick()
    assert b"E1" in broker.executors
    net.now += 2
    broker.executors[b"E1"].last_seen = net.now
    broker.tick()
    assert b"E1" not in broker.executors
    assert isinstance(net.to(b"E1")[-1], p.Disconnect)


def test_credit_is_forwarded_to_the_running_executor(net: Net, broker: Broker) -> None:
    ready(broker, b"E1")
    submit(broker, b"R1")
    credit = p.encode(p.Credit(1, 1, 8))
    broker.on_message(b"R1", credit, [])
    assert net.frames_to(b"E1")[-1] == [credit]


def test_accepted_tells_the_place_in_the_order_not_the_queue_length(net: Net) -> None:
    """A long step submitted behind short ones is told it is next (docs/usage.md, "Waiting
    runners": only a runner far back hands over)."""
    durations = {"long.o": 60.0, "short.o": 1.0}
    queue = TaskQueue(lambda key, dependency: durations.get(key))
    b = Broker(net.send, CODE, clock=net.clock, local_slots=1, release_delay=30,
               max_attempts=2, queue=queue)
    ready(b, b"E1")
    for i in range(1, 5):
        submit(b, f"R{i}".encode(), "short.o")
    submit(b, b"R5", "long.o")
    assert [net.to(f"R{i}".encode()) for i in range(1, 6)] == [
        [p.Accepted(1, 0)], [p.Accepted(2, 1)], [p.Accepted(3, 2)], [p.Accepted(4, 3)],
        [p.Accepted(5, 1)]]
