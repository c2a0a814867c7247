"""Local steps and local executors share this host's CPUs (docs/usage.md, "Local steps and
local executors share the host"): the broker driven without sockets, as in test_broker."""

from __future__ import annotations

import pytest
from helpers import Net

from spraycc.server.broker import Broker, Hooks
from spraycc.wire import protocol as p

CODE = "c0de"


class Local(Hooks):
    """Executors whose launch id starts with "local" run on this host."""

    def on_host(self, launch: str) -> bool:
        return launch.startswith("local")


@pytest.fixture
def net() -> Net:
    return Net()


def broker(net: Net, slots: int) -> Broker:
    return Broker(net.send, CODE, clock=net.clock, hooks=Local(), local_slots=slots)


def ready(b: Broker, peer: bytes, launch: str) -> None:
    b.on_message(peer, p.encode(p.Ready(CODE, "host", 1, launch)), [])


def submit(b: Broker, peer: bytes, name: str) -> None:
    b.on_message(peer, p.encode(p.Submit(CODE, name.encode(), 0, name.encode())), [b"B"])


def local(b: Broker, peer: bytes) -> None:
    b.on_message(peer, p.encode(p.Local(CODE, b"ld")), [])


def finish(b: Broker, executor: bytes, task: int) -> None:
    b.on_message(executor, p.encode(p.Result(task, 1, 0, 0.1, "host", "")), [])


def tasks_to(net: Net, peer: bytes) -> list[int]:
    return [m.task for m in net.to(peer) if isinstance(m, p.Task)]


def test_a_local_step_waits_for_a_busy_local_executor_and_then_goes_first(net: Net) -> None:
    b = broker(net, 2)
    ready(b, b"E1", "local-1")
    ready(b, b"E2", "local-2")
    for runner in (b"R1", b"R2", b"R3"):
        submit(b, runner, runner.decode() + ".o")
    local(b, b"L1")
    assert net.to(b"L1") == []  # both CPUs compile: the link waits
    assert b.host_room() == 0
    finish(b, b"E1", 1)
    assert net.to(b"L1") == [p.Grant(2)]  # E1's CPU goes to the link ...
    assert tasks_to(net, b"E1") == [1]  # ... not to the queued compile
    assert len(b.queue) == 1
    b.on_message(b"L1", p.encode(p.Done(0, 1.0)), [])
    assert tasks_to(net, b"E1") == [1, 3]  # the link is done: E1 takes the compile


def test_remote_executors_take_work_while_local_steps_fill_the_host(net: Net) -> None:
    b = broker(net, 1)
    ready(b, b"E1", "local-1")
    local(b, b"L1")
    assert net.to(b"L1") == [p.Grant(1)]
    ready(b, b"C1", "start-1")  # a cluster executor, connected after the local one
    submit(b, b"R1", "one.o")
    assert tasks_to(net, b"C1") == [1] and tasks_to(net, b"E1") == []
    submit(b, b"R2", "two.o")
    assert len(b.queue) == 1  # the local executor is idle but the host is full
    b.on_message(b"L1", p.encode(p.Done(0, 1.0)), [])
    assert tasks_to(net, b"E1") == [2]


def test_without_local_executors_local_slots_alone_decide(net: Net) -> None:
    b = broker(net, 1)
    ready(b, b"C1", "start-1")
    ready(b, b"C2", "start-2")
    submit(b, b"R1", "one.o")
    submit(b, b"R2", "two.o")
    local(b, b"L1")
    assert net.to(b"L1") == [p.Grant(1)]  # busy cluster executors take nothing of this host
    local(b, b"L2")
    assert net.to(b"L2") == []  # the one slot is taken


def test_the_host_has_a_cpu_for_each_local_executor_if_more_than_local_slots(
        net: Net) -> None:
    b = broker(net, 1)
    for i in range(3):
        ready(b, b"E%d" % i, f"local-{i}")
    for i in range(3):
        submit(b, b"R%d" % i, f"{i}.o")
    assert all(tasks_to(net, b"E%d" % i) for i in range(3))  # all three run at once
    local(b, b"L1")
    assert net.to(b"L1") == []
    finish(b, b"E0", 1)
    assert net.to(b"L1") == [p.Grant(1)]


def test_a_local_executor_that_leaves_makes_room(net: Net) -> None:
    b = broker(net, 1)
    ready(b, b"E1", "local-1")
    submit(b, b"R1", "one.o")
    local(b, b"L1")
    assert net.to(b"L1") == []
    b.on_message(b"E1", p.encode(p.Disconnect("walltime")), [])
    assert net.to(b"L1") == [p.Grant(1)]
    assert b.host_room() == 0  # the link holds the one slot; the compile waits in the queue
    assert len(b.queue) == 1
