"""The broker: pure event handling of the server, independent of sockets and processes.

It receives decoded events from the server loop (`on_message`, `tick`) and answers through a
`send(peer, frames)` callable that raises PeerGone when the peer has disconnected. It tracks
work in flight as well as idle executors, so a busy executor that disappears gives its task
back to the queue (the flaw of the plain Majordomo broker). Executors are served least recently
used first. Heavy bulk frames (task bodies, output and file chunks) are relayed untouched.
"""

from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from spraycc.errors import PeerGone, ProtocolError, VersionMismatch
from spraycc.server.hold import Holds
from spraycc.server.logprivacy import TASK_LOG
from spraycc.server.order import TaskQueue
from spraycc.server.straggler import Stragglers
from spraycc.step.taskkey import printable
from spraycc.wire import protocol as p

log = logging.getLogger(__name__)
tasklog = logging.getLogger(TASK_LOG)  # one line per task: only with -v (see logprivacy)

Send = Callable[[bytes, Sequence[Any]], None]


@dataclass(slots=True)  # slots: made and read for every task
class Attempt:
    """One run of a task: on which executor, under which attempt number, since when."""

    executor: bytes
    number: int
    started: float
    held: list[list[Any]] = field(default_factory=list)  # a copy's OUTPUT, kept until it wins


@dataclass(slots=True)  # slots: made and read for every task
class TaskState:
    id: int
    runner: bytes
    key: str
    name: str
    flags: int
    body: Any  # the opaque body frame, relayed to each executor that runs the task
    submitted: float
    # The attempt number the runner follows: the current run's, or the next one's while queued.
    attempt: int = 1
    current: Attempt | None = None  # the run relayed to the runner; None while queued
    copy: Attempt | None = None  # a second copy of a straggler (see `straggler`)
    copied: bool = False  # a second copy was started once: never again
    expected: float | None = None  # recorded duration (history), for straggler insurance
    issued: int = 1  # highest attempt number handed out: every copy has its own
    lost: int = 0  # attempts lost with their executor
    out_bytes: int = 0  # stdout/stderr bytes relayed to the runner from the current attempt

    @property
    def executor(self) -> bytes | None:
        """The executor of the current attempt, if the task is running."""
        return self.current.executor if self.current is not None else None


@dataclass(slots=True)  # slots: made and read for every task
class ExecutorState:
    peer: bytes
    host: str
    pid: int
    launch: str
    connected: float
    last_seen: float
    idle_since: float
    task: int | None = None
    busy_seconds: float = 0.0
    tasks_done: int = 0


@dataclass(slots=True)  # slots: made and read for every task
class RunnerState:
    peer: bytes
    last_seen: float
    task: int | None = None
    local: bool = False  # holds or waits for a local slot
    name: str = ""
    started: float = 0.0
    pinged: float = 0.0  # when the server last sent it a heartbeat


@dataclass
class Counters:
    submitted: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    duplicated: int = 0  # second copies started for stragglers
    duplicate_won: int = 0  # ... that finished first and were used
    local_done: int = 0
    local_failed: int = 0
    refused: int = 0
    dropped: int = 0
    bytes_out: int = 0
    remote_seconds: float = 0.0
    local_seconds: float = 0.0
    fallback: int = 0  # submitted tasks handed back to their runner to run locally
    executor_seconds: float = 0.0  # slot time held by executors that have left
    busy_seconds: float = 0.0  # ... of which they were running a task
    slowest: list[tuple[float, str, str]] = field(default_factory=list)
    stale: int = 0  # results discarded because the executor's view of an input was stale
    stale_files: dict[str, int] = field(default_factory=dict)  # path -> times (bounded)


class Hooks:
    """What the broker tells the rest of the server. The default does nothing."""

    def executor_connected(self, launch: str, host: str) -> None: ...

    def executor_gone(self, launch: str) -> None: ...

    def task_succeeded(self, key: str, elapsed: float) -> None: ...

    def keep_idle(self, launch: str) -> bool:
        """Whether this executor stays while idle (a local one: it holds no cluster slot)."""
        return False

    def on_host(self, launch: str) -> bool:
        """Whether this executor is a process the server started on this host, whose tasks
        share the host's CPUs with the local steps."""
        return False

    def snapshot_extra(self) -> dict[str, Any]:
        """What the server adds to a status snapshot (executor pools, rate, estimates)."""
        return {}


class Broker(Stragglers):
    def __init__(
        self,
        send: Send,
        code: str,
        *,
        queue: TaskQueue | None = None,
        hooks: Hooks | None = None,
        local_slots: int = 1,
        release_delay: float = 30.0,
        max_attempts: int = 3,
        straggler_factor: float = 0.0,
        straggler_min_seconds: float = 5.0,
        heartbeat: float = p.HEARTBEAT_INTERVAL,
        runner_heartbeat: float = p.RUNNER_HEARTBEAT_INTERVAL,
        liveness: int = p.HEARTBEAT_LIVENESS,
        clock: Callable[[], float] = time.monotonic,
        holds: Holds | None = None,
    ) -> None:
        self.send = send
        self.code = code
        self.queue = queue if queue is not None else TaskQueue()  # (an empty one is falsy)
        self.hooks = hooks or Hooks()
        self.local_slots = local_slots
        self.release_delay = release_delay
        self.max_attempts = max_attempts
        self.straggler_factor = straggler_factor  # 0: no second copies
        self.straggler_min_seconds = straggler_min_seconds
        self.heartbeat = heartbeat
        self.expiry = heartbeat * liveness
        # Waiting runners are told apart from gone ones by their connection (`probe`, called
        # by the server when a connection closes); heartbeats to them are rare, so a thousand
        # queued runners sleep instead of waking every second (docs/usage.md).
        self.runner_heartbeat = runner_heartbeat
        self.runner_expiry = runner_heartbeat * liveness
        self.clock = clock
        # Executors held for long steps that arrive late (spraycc.server.hold); None: never.
        self.holds = holds
        self.tasks: dict[int, TaskState] = {}
        self.executors: dict[bytes, ExecutorState] = {}
        self.idle: OrderedDict[bytes, None] = OrderedDict()  # LRU: oldest idle first
        self.runners: dict[bytes, RunnerState] = {}
        self.local_holders: set[bytes] = set()
        self.local_waiting: deque[bytes] = deque()
        self.host_executors: set[bytes] = set()  # the local ones connected (`host_room`)
        self.counters = Counters()
        self.stopping = False
        self._next_task = 1
        self._last_heartbeat = clock()
        self._last_runner_pass = clock()
        self._cancelled_on: dict[bytes, int] = {}  # executor -> task it was told to cancel

    # ----------------------------------------------------------------- state for others

    @property
    def running(self) -> int:
        return sum(1 for t in self.tasks.values() if t.executor is not None)

    @property
    def demand(self) -> int:
        """Executors that could be used right now: queued plus running tasks."""
        return len(self.tasks)

    @property
    def busy(self) -> bool:
        """Work is queued or running, a runner waits, or an executor that holds a slot of its
        own (not one kept idle, see `keep_idle`) is connected."""
        return bool(self.tasks or self.runners) or any(
            peer not in self.idle or not self.hooks.keep_idle(ex.launch)
            for peer, ex in self.executors.items())

    # ----------------------------------------------------------------------- dispatching

    def on_message(self, peer: bytes, header: bytes, rest: Sequence[Any]) -> None:
        """One message from `peer`. Never raises for anything a peer can send."""
        try:
            msg = p.decode(header)
        except VersionMismatch as exc:
            self._refuse_unknown(peer, str(exc))
            return
        except ProtocolError as exc:
            self.counters.dropped += 1
            log.warning("dropped a message from %s: %s", peer.hex(), exc)
            return
        now = self.clock()
        executor = self.executors.get(peer)
        if executor is not None:
            executor.last_seen = now
            self._on_executor_message(executor, msg, header, rest)
            return
        runner = self.runners.get(peer)
        if runner is not None:
            runner.last_seen = now
            self._on_runner_message(runner, msg, header, rest)
            return
        self._on_hello(peer, msg, rest, now)

    def _refuse_unknown(self, peer: bytes, reason: str) -> None:
        self.counters.refused += 1
        log.warning("refused %s: %s", peer.hex(), reason)
        self._send(peer, p.Refuse(reason))

    def _on_hello(self, peer: bytes, msg: p.Message, rest: Sequence[Any], now: float) -> None:
        if not isinstance(msg, p.HELLO_RECORDS):
            self.counters.dropped += 1
            log.debug("dropped %s from unknown peer %s", type(msg).__name__, peer.hex())
            return
        if msg.code != self.code:
            self._refuse_unknown(peer, "wrong access code (is this the right server?)")
            return
        if isinstance(msg, p.Ready):
            self.on_ready(peer, msg, now)
        elif isinstance(msg, p.Submit):
            if len(rest) != 1:
                self._refuse_unknown(peer, "SUBMIT without exactly one body frame")
                return
            self.on_submit(peer, msg, rest[0], now)
        elif isinstance(msg, p.Local):
            self.on_local(peer, msg, now)
        elif isinstance(msg, p.Status):
            self._send(peer, p.Snapshot(), self.snapshot_frame())
        elif isinstance(msg, p.Stale):
            self.on_stale(msg)
        elif isinstance(msg, p.Stop):
            self.stopping = True
            log.info("stop requested (%s)", "now" if msg.now else "drain")
            if msg.now:
                self.cancel_all("the server was stopped")
            self._send(peer, p.Disconnect("stopping"))

    def _on_executor_message(
        self, ex: ExecutorState, msg: p.Message, header: bytes, rest: Sequence[Any]
    ) -> None:
        if isinstance(msg, (p.Output, p.File, p.Inputs)):
            self.on_output(ex, msg, header, rest)
        elif isinstance(msg, p.Result):
            self.on_result(ex, msg, header)
        elif isinstance(msg, p.Disconnect):
            log.info("executor %s (%s) leaves: %s", ex.launch, ex.host, msg.reason)
            self.drop_executor(ex, f"executor on {ex.host} left: {msg.reason}")
        elif not isinstance(msg, p.Heartbeat):
            self.counters.dropped += 1
            log.debug("dropped %s from executor %s", type(msg).__name__, ex.launch)

    def _on_runner_message(
        self, rn: RunnerState, msg: p.Message, header: bytes, rest: Sequence[Any]
    ) -> None:
        if isinstance(msg, p.Credit):
            task = self.tasks.get(rn.task or 0)
            run = task.current if task else None
            if run is not None and task and task.id == msg.task and run.number == msg.attempt:
                self._send_executor(run.executor, [header])
        elif isinstance(msg, p.Cancel):
            self.on_cancel(rn)
        elif isinstance(msg, p.Done):
            self.on_done(rn, msg)
        elif not isinstance(msg, p.Heartbeat):
            self.counters.dropped += 1
            log.debug("dropped %s from runner %s", type(msg).__name__, rn.peer.hex())

    # ------------------------------------------------------------------------ executors

    def on_ready(self, peer: bytes, msg: p.Ready, now: float) -> None:
        ex = ExecutorState(peer, msg.host, msg.pid, msg.launch, now, now, now)
        self.executors[peer] = ex
        if self.hooks.on_host(msg.launch):
            self.host_executors.add(peer)
        log.info("executor %s connected from %s (pid %d)", msg.launch, msg.host, msg.pid)
        self.hooks.executor_connected(msg.launch, msg.host)
        if self.stopping:
            self.release(ex, "the server is stopping")
            return
        self._make_idle(ex, now)
        self.dispatch()

    def _make_idle(self, ex: ExecutorState, now: float) -> None:
        ex.task = None
        ex.idle_since = now
        self.idle[ex.peer] = None
        self.idle.move_to_end(ex.peer)

    def on_output(self, ex: ExecutorState, msg: p.Output | p.File | p.Inputs, header: bytes,
                  rest: Sequence[Any]) -> None:
        task = self._current(ex, msg.task, msg.attempt)
        if task is None:
            copy = self._copy_of(ex, msg.task, msg.attempt)
            if copy is not None:
                self._on_copy_output(copy, isinstance(msg, p.File), [header, *rest])
            return
        if isinstance(msg, p.File) and task.copy is not None:
            self._drop_copy(task, cancel=True)  # this copy's step exited first: it wins
        self._relay(task, [header, *rest], isinstance(msg, p.Output))

    def _relay(self, task: TaskState, frames: list[Any], output: bool) -> None:
        size = sum(len(f) for f in frames[1:])
        self.counters.bytes_out += size
        if output:
            task.out_bytes += size
        self._send_runner(task, frames)

    def on_result(self, ex: ExecutorState, msg: p.Result, header: bytes) -> None:
        now = self.clock()
        copy = self._copy_of(ex, msg.task, msg.attempt)
        if copy is not None and not self._copy_result(copy, ex, msg, now):
            self.dispatch()
            return
        cancelled = self._cancelled_on.pop(ex.peer, None)
        task = self._current(ex, msg.task, msg.attempt)
        if ex.task is not None and (task is not None or cancelled == msg.task):
            ex.busy_seconds += now - (task.current.started if task and task.current
                                      else ex.idle_since)
            ex.tasks_done += 1
            self._make_idle(ex, now)
        if task is not None and task.copy is not None:
            if msg.error:  # this copy could not run: the other one carries on
                self._switch_to_copy(task, f"could not run on {msg.host}: {msg.error}",
                                     cancel_first=False)
                self.dispatch()
                return
            self._drop_copy(task, cancel=True)
        if task is not None:
            del self.tasks[task.id]
            self._finish_runner(task.runner)
            if msg.error:
                self.counters.fallback += 1
                log.info("task %d (%s) could not run on %s: %s", task.id, task.name, msg.host,
                         msg.error)
            elif msg.status == 0:
                self.counters.done += 1
                self.hooks.task_succeeded(task.key, msg.elapsed)
            else:
                self.counters.failed += 1
            self.counters.remote_seconds += msg.elapsed
            self._note_slow(msg.elapsed, task.name, msg.host)
            self._send_runner(task, [header])
        self.dispatch()

    def _current(self, ex: ExecutorState, task_id: int, attempt: int) -> TaskState | None:
        """The task `ex` is running if the message is about it; None for late or stray ones."""
        task = self.tasks.get(task_id)
        if (task is None or ex.task != task_id or task.current is None
                or task.current.executor != ex.peer or task.current.number != attempt):
            return None
        return task

    def drop_executor(self, ex: ExecutorState, reason: str) -> None:
        """Forget an executor; a task it was running goes back to the queue."""
        self._retire(ex)
        self.executors.pop(ex.peer, None)
        self.idle.pop(ex.peer, None)
        on_host = ex.peer in self.host_executors
        self.host_executors.discard(ex.peer)
        self._cancelled_on.pop(ex.peer, None)
        self.hooks.executor_gone(ex.launch)
        if on_host:
            self._grant_waiting()  # its CPU is the local steps' now
        task = self.tasks.get(ex.task) if ex.task is not None else None
        if task is not None and task.copy is not None and task.copy.executor == ex.peer:
            self._drop_copy(task, cancel=False)
        elif task is not None and task.executor == ex.peer:
            if task.copy is not None:  # a second copy is running: it carries on alone
                self._switch_to_copy(task, reason, cancel_first=False)
            else:
                self._requeue(task, reason)

    def _requeue(self, task: TaskState, reason: str) -> None:
        task.current = None
        task.lost += 1
        if task.lost >= self.max_attempts:
            del self.tasks[task.id]
            self.counters.failed += 1
            log.warning("task %d (%s) failed %d times; giving up", task.id, task.name,
                        task.lost)
            self._send(task.runner, p.Fail(f"{reason}; gave up after {task.lost} attempts",
                                           False))
            self._finish_runner(task.runner)
            return
        task.issued += 1
        task.attempt = task.issued
        task.out_bytes = 0
        self.counters.retried += 1
        log.info("task %d (%s) re-queued as attempt %d: %s", task.id, task.name,
                 task.attempt, reason)
        self._send(task.runner, p.Retry(task.id, task.attempt, reason))
        if task.id in self.tasks:  # the runner may have vanished meanwhile
            self.queue.push(task.id, task.key, bool(task.flags & p.FLAG_DEPENDENCY),
                            requeue=True)

    def release(self, ex: ExecutorState, reason: str) -> None:
        """Tell an idle executor to leave (it frees its cluster slot)."""
        self._retire(ex)
        self.executors.pop(ex.peer, None)
        self.idle.pop(ex.peer, None)
        self.host_executors.discard(ex.peer)
        self.hooks.executor_gone(ex.launch)
        self._send(ex.peer, p.Disconnect(reason))

    def _retire(self, ex: ExecutorState) -> None:
        """Keep the slot time of an executor that leaves, for the summary's efficiency."""
        if ex.peer in self.executors:
            self.counters.executor_seconds += self.clock() - ex.connected
            self.counters.busy_seconds += ex.busy_seconds

    def held(self) -> int:
        """Idle executors kept for long steps due to arrive (docs/history.md, "Long steps
        submitted last"): queued tasks go only to the others."""
        holds = self.holds
        if holds is None or self.stopping or not holds.pending:
            return 0
        # An executor running a long step serves no short one: one of the others always does.
        serving = 0
        for ex in self.executors.values():
            task = self.tasks.get(ex.task) if ex.task is not None else None
            serving += task is None or task.key not in holds.recorded
        return holds.reserve(self.clock(), serving)

    def _long(self, task_id: int | None) -> bool:
        """Whether a queued task is a long step executors are held for (`held`)."""
        task = self.tasks.get(task_id) if task_id is not None else None
        return task is not None and self.holds is not None and task.key in self.holds.recorded

    def host_room(self) -> int:
        """How many more steps this host can start: local steps and the local executors'
        tasks share its CPUs, `local_slots` of them or one per local executor if there are
        more (docs/usage.md, "Local steps and local executors share the host")."""
        busy = sum(1 for peer in self.host_executors if self.executors[peer].task is not None)
        return max(self.local_slots, len(self.host_executors)) - len(self.local_holders) - busy

    def _takers(self) -> Iterator[bytes]:
        """The idle executors that may take a task now, least recently used first: on a full
        host, only those that run elsewhere."""
        if self.host_executors and self.host_room() <= 0:
            return (e for e in self.idle if e not in self.host_executors)
        return iter(self.idle)

    def dispatch(self) -> None:
        """Hand queued tasks to idle executors, least recently used first, but for those held
        for long steps due to arrive. Local steps waiting for a slot come first on this host:
        a local executor starts a task only while the host has room (`host_room`)."""
        if self.local_waiting:
            self._grant_waiting()
        reserve = self.held() if self.idle and len(self.queue) else 0
        while self.idle and len(self.queue):
            if len(self.idle) <= reserve and not self._long(self.queue.peek()):
                break  # the idle ones are held; a long step (first in the queue) takes one
            peer = next(self._takers(), None)
            if peer is None:
                break  # only local executors are idle, and the host is full
            task_id = self.queue.pop()
            if task_id is None:
                break
            task = self.tasks[task_id]
            del self.idle[peer]
            ex = self.executors[peer]
            ex.task = task.id
            task.current = Attempt(peer, task.attempt, self.clock())
            tasklog.debug("task %d (%s) attempt %d to executor %s on %s", task.id, task.name,
                          task.attempt, ex.launch, ex.host)
            try:
                self.send(peer, [p.encode(p.Task(task.id, task.attempt)), task.body])
            except PeerGone:
                ex.task = None
                task.current = None
                self.queue.push(task.id, task.key, bool(task.flags & p.FLAG_DEPENDENCY),
                                requeue=True)
                self.drop_executor(ex, "executor vanished")

    # -------------------------------------------------------------------------- runners

    def on_submit(self, peer: bytes, msg: p.Submit, body: Any, now: float) -> None:
        # Key and name are bytes on the wire (file names); str from here on, losslessly.
        key, name = os.fsdecode(msg.key), os.fsdecode(msg.name)
        task = TaskState(self._next_task, peer, key, name, msg.flags, body, now)
        dependency = bool(msg.flags & p.FLAG_DEPENDENCY)
        task.expected = self.queue.estimate(key, dependency)
        self._next_task += 1
        if self.stopping:
            self._send(peer, p.Fail("the server is stopping", True))
            return
        if self.holds is not None:
            self.holds.on_submit(key, now, busy=bool(self.tasks))
        self.tasks[task.id] = task
        self.runners[peer] = RunnerState(peer, now, task=task.id, name=name, started=now)
        self.counters.submitted += 1
        self.queue.push_estimated(task.id, dependency, task.expected)
        self.dispatch()  # the work first: the executor starts while the runner hears back
        self._send(peer, p.Accepted(task.id, self.queue.place(task.id)))

    def on_stale(self, msg: p.Stale) -> None:
        """A runner found the executor's view of an input stale and re-runs its step
        (docs/usage.md, "Inputs are checked"): count it, name the file."""
        c = self.counters
        c.stale += 1
        path = printable(os.fsdecode(msg.path))
        if path in c.stale_files or len(c.stale_files) < 100:
            c.stale_files[path] = c.stale_files.get(path, 0) + 1
        log.warning("stale view of %s on %s: %s", path, msg.host, msg.detail)

    def stale_top(self, n: int = 5) -> list[dict[str, Any]]:
        files = sorted(self.counters.stale_files.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"path": path, "count": count} for path, count in files[:n]]

    def on_cancel(self, rn: RunnerState) -> None:
        """The runner was interrupted: drop its queued task, cancel its running one."""
        self._forget_runner(rn.peer)

    def on_local(self, peer: bytes, msg: p.Local, now: float) -> None:
        if self.stopping:  # a draining server takes no new work; the step runs unthrottled
            self._send(peer, p.Fail("the server is stopping", True))
            return
        self.runners[peer] = RunnerState(peer, now, local=True, name=os.fsdecode(msg.name),
                                         started=now)
        if self._may_grant():
            self._grant(peer)
        else:
            self.local_waiting.append(peer)

    def _grant(self, peer: bytes) -> None:
        self.local_holders.add(peer)
        rn = self.runners.get(peer)
        if rn:
            rn.started = self.clock()
        self._send(peer, p.Grant(self.local_slots))

    def on_done(self, rn: RunnerState, msg: p.Done) -> None:
        if msg.status == 0:
            self.counters.local_done += 1
        else:
            self.counters.local_failed += 1
        self.counters.local_seconds += msg.elapsed
        self._note_slow(msg.elapsed, rn.name, "local")
        self._forget_runner(rn.peer)

    def _finish_runner(self, peer: bytes) -> None:
        """The runner's task is over; it will disconnect by itself."""
        rn = self.runners.pop(peer, None)
        if rn is not None:
            rn.task = None

    def _forget_runner(self, peer: bytes, *, gone: bool = True) -> None:
        """A runner is gone or done: free its local slot, drop or cancel its task. A task
        dropped because its runner is `gone` counts as cancelled (else the caller counts it)."""
        rn = self.runners.pop(peer, None)
        if rn is None:
            return
        if peer in self.local_holders:
            self.local_holders.discard(peer)
            self._grant_waiting()
            if self.host_executors:
                self.dispatch()  # the host has room again: a local executor may take a task
        elif rn.local:
            try:
                self.local_waiting.remove(peer)
            except ValueError:
                pass
        task = self.tasks.pop(rn.task, None) if rn.task is not None else None
        if task is None:
            return
        self.queue.discard(task.id)
        if task.current is not None:
            self._cancelled_on[task.current.executor] = task.id
            self._send_executor(task.current.executor, [p.encode(p.Cancel(task.id))])
        if task.copy is not None:
            self._drop_copy(task, cancel=True)
        if gone:
            self.counters.cancelled += 1
            log.info("task %d (%s) dropped: its runner is gone", task.id, task.name)

    def _may_grant(self) -> bool:
        """A local step may start: a slot is free and, with local executors, the host has
        room (a busy local executor's task counts against it)."""
        return len(self.local_holders) < self.local_slots and self.host_room() > 0

    def _grant_waiting(self) -> None:
        while self.local_waiting and self._may_grant():
            self._grant(self.local_waiting.popleft())

    def cancel_all(self, reason: str) -> None:
        """Tell every waiting runner to run its step itself (stop --now, shutdown)."""
        for rn in list(self.runners.values()):
            if rn.task is not None:
                self._send(rn.peer, p.Fail(reason, True))
                if rn.peer in self.runners:  # else the send found it gone: counted cancelled
                    self.counters.fallback += 1
            self._forget_runner(rn.peer, gone=False)

    # ----------------------------------------------------------------------------- time

    def tick(self) -> None:
        """Heartbeats, expiry of silent peers, release of idle executors."""
        now = self.clock()
        if self.holds is not None and self.tasks:
            self.holds.active(now)
        if now - self._last_heartbeat >= self.heartbeat:
            self._last_heartbeat = now
            self.send_heartbeats()
        self.expire_executors(now)
        # Once a second is plenty, but never rarer than runner_heartbeat: a runner gives up on
        # a server it has not heard from for runner_heartbeat x HEARTBEAT_LIVENESS.
        if now - self._last_runner_pass >= min(self.heartbeat, self.runner_heartbeat):
            self._last_runner_pass = now
            self.expire_runners(now)
        self.start_copies(now)
        self.release_idle(now)

    def send_heartbeats(self) -> None:
        frames = [p.encode(p.Heartbeat())]
        for peer in list(self.executors):
            self._send_executor(peer, frames)

    def probe(self, peer: bytes) -> bool:
        """Is this runner still connected? A heartbeat tells: with ROUTER_MANDATORY, a send to
        a closed connection fails, and the runner is forgotten (its task cancelled). The
        server calls this when one of its connections closes."""
        rn = self.runners.get(peer)
        if rn is None:
            return False
        rn.pinged = self.clock()
        try:
            self.send(peer, [p.encode(p.Heartbeat())])
        except PeerGone:
            log.info("runner %s is gone (its connection closed)", peer.hex())
            self._forget_runner(peer)
            return False
        return True

    def expire_executors(self, now: float) -> None:
        for ex in list(self.executors.values()):
            if now - ex.last_seen > self.expiry:
                log.warning("executor %s on %s went silent; dropping it", ex.launch, ex.host)
                self.drop_executor(ex, f"executor on {ex.host} stopped answering")
        self.dispatch()

    def expire_runners(self, now: float) -> None:
        """Heartbeats to runners not pinged for runner_heartbeat (each on its own schedule, so
        they do not all wake at once), and the end of runners silent for far longer."""
        for rn in list(self.runners.values()):
            if now - rn.last_seen > self.runner_expiry:
                log.info("runner %s went silent", rn.peer.hex())
                self._forget_runner(rn.peer)
            elif now - max(rn.pinged, rn.started) >= self.runner_heartbeat:
                self.probe(rn.peer)

    def release_idle(self, now: float) -> None:
        if len(self.queue):
            return
        for peer in list(self.idle):
            ex = self.executors[peer]
            if self.stopping or (now - ex.idle_since >= self.release_delay
                                 and not self.hooks.keep_idle(ex.launch)):
                log.info("releasing idle executor %s on %s", ex.launch, ex.host)
                self.release(ex, "no more work")

    def fail_queued(self, reason: str) -> None:
        """No executor can be had: every queued runner runs its step locally."""
        for task_id in list(self.tasks):
            task = self.tasks[task_id]
            if task.executor is None:
                self.queue.discard(task_id)
                del self.tasks[task_id]
                self.counters.fallback += 1
                self._send(task.runner, p.Fail(reason, True))
                self._finish_runner(task.runner)

    # -------------------------------------------------------------------------- sending

    def _send(self, peer: bytes, msg: p.Message, *bulk: Any) -> None:
        try:
            self.send(peer, [p.encode(msg), *bulk])
        except PeerGone:
            self._forget_runner(peer)

    def _send_runner(self, task: TaskState, frames: list[Any]) -> None:
        try:
            self.send(task.runner, frames)
        except PeerGone:
            log.info("runner of task %d (%s) is gone", task.id, task.name)
            self.runners.setdefault(task.runner, RunnerState(task.runner, 0.0, task=task.id))
            self._forget_runner(task.runner)

    def _send_executor(self, peer: bytes, frames: list[Any]) -> None:
        try:
            self.send(peer, frames)
        except PeerGone:
            ex = self.executors.get(peer)
            if ex is not None:
                self.drop_executor(ex, f"executor on {ex.host} vanished")

    # ------------------------------------------------------------------------- reporting

    def _note_slow(self, elapsed: float, name: str, host: str) -> None:
        slow = self.counters.slowest
        slow.append((elapsed, name, host))
        if len(slow) > 20:
            slow.sort(reverse=True)
            del slow[10:]

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        running = sorted(
            ((t.current, t) for t in self.tasks.values() if t.current is not None),
            key=lambda pair: pair[0].started)
        c = self.counters
        held, busy = self.slot_seconds(now)
        snap = {
            "queued": len(self.queue),
            "running": len(running),
            "local_running": len(self.local_holders),
            "local_waiting": len(self.local_waiting),
            "executors": len(self.executors),
            "idle_executors": len(self.idle),
            "submitted": c.submitted,
            "done": c.done,
            "failed": c.failed,
            "retried": c.retried,
            "cancelled": c.cancelled,
            "local_done": c.local_done,
            "local_failed": c.local_failed,
            "refused": c.refused,
            "dropped": c.dropped,
            "bytes_out": c.bytes_out,
            "duplicated": c.duplicated,
            "duplicate_won": c.duplicate_won,
            "fallback": c.fallback,
            "stale": c.stale,
            "stale_files": self.stale_top(),
            "remote_seconds": c.remote_seconds,
            "local_seconds": c.local_seconds,
            "executor_seconds": held,
            "busy_seconds": busy,
            "longest_running": [
                {"name": printable(t.name), "host": self.executors[run.executor].host
                 if run.executor in self.executors else "?", "elapsed": now - run.started}
                for run, t in running[:10]
            ],
            "slowest": [{"name": printable(name), "host": host, "elapsed": seconds}
                        for seconds, name, host in sorted(c.slowest, reverse=True)[:5]],
            "stopping": self.stopping,
        }
        if self.holds is not None:
            snap["holds"] = self.holds.snapshot()
        snap.update(self.hooks.snapshot_extra())
        return snap

    def slot_seconds(self, now: float) -> tuple[float, float]:
        """(executor-seconds held, of which busy) over the session, live executors included."""
        held, busy = self.counters.executor_seconds, self.counters.busy_seconds
        for ex in self.executors.values():
            held += now - ex.connected
            busy += ex.busy_seconds
            task = self.tasks.get(ex.task) if ex.task is not None else None
            if task is not None and task.current is not None and task.executor == ex.peer:
                busy += now - task.current.started
        return held, busy

    def snapshot_frame(self) -> bytes:
        from spraycc.wire.minipack import packb

        return packb(self.snapshot())
