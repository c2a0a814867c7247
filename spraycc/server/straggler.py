"""Straggler insurance: a second copy of a task that runs well past its recorded duration.

With executors idle and nothing queued, a retry-safe task that has run `straggler_factor` times
its recorded duration (and at least `straggler_min_seconds` longer) gets a second copy on
another executor, preferably on another host, under a new attempt number. Only one attempt at a
time is relayed to the runner. The copy's OUTPUT is kept here (bounded: the executor sends at
most its credit window unacknowledged) until the race is decided by the first sign that a
copy's step has exited: its first FILE or its RESULT. If the first copy exits first, the second
is cancelled and its messages dropped. If the second exits first, the runner gets RETRY with the
second attempt (it discards what it had of the first, which it holds back for exactly this:
only retry-safe tasks are copied), then the kept messages, and the first copy is cancelled.

`Stragglers` is the part of `broker.Broker` that does this; it uses the broker's state and
sending, declared below for the type checker.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from spraycc.errors import PeerGone
from spraycc.wire import protocol as p

if TYPE_CHECKING:
    from spraycc.server.broker import Counters, ExecutorState, TaskState
    from spraycc.server.hold import Holds
    from spraycc.server.order import TaskQueue

log = logging.getLogger("spraycc.server.broker")

# A second copy replaces the first only while the runner still holds back all the output the
# first one sent (runner.BUFFER_LIMIT is 8 MB; stay well below it).
COPY_SWITCH_LIMIT = 1 << 20


def due(task: TaskState, now: float, factor: float, min_seconds: float) -> bool:
    """Whether `task` has run long enough past its recorded duration to deserve a copy."""
    if (task.current is None or task.copied or task.expected is None
            or not task.flags & p.FLAG_RETRY_SAFE):
        return False
    limit = max(factor * task.expected, task.expected + min_seconds)
    return now - task.current.started >= limit


def can_switch(task: TaskState) -> bool:
    """Whether the runner still holds back all the output of the current attempt, so it can
    discard it: past COPY_SWITCH_LIMIT it has written some, and a switch would fail the step."""
    return task.out_bytes <= COPY_SWITCH_LIMIT


class Stragglers:
    """Second copies of stragglers, as part of the broker."""

    # The broker's state and helpers this part uses (see broker.Broker).
    send: Callable[[bytes, Sequence[Any]], None]
    tasks: dict[int, TaskState]
    executors: dict[bytes, ExecutorState]
    idle: OrderedDict[bytes, None]
    queue: TaskQueue
    counters: Counters
    stopping: bool
    straggler_factor: float
    straggler_min_seconds: float
    _cancelled_on: dict[bytes, int]
    holds: Holds | None

    if TYPE_CHECKING:
        def drop_executor(self, ex: ExecutorState, reason: str) -> None: ...
        def _takers(self) -> Iterator[bytes]: ...
        def _make_idle(self, ex: ExecutorState, now: float) -> None: ...
        def _relay(self, task: TaskState, frames: list[Any], output: bool) -> None: ...
        def _send(self, peer: bytes, msg: p.Message, *bulk: Any) -> None: ...
        def _send_executor(self, peer: bytes, frames: list[Any]) -> None: ...

    def start_copies(self, now: float) -> None:
        if not self.straggler_factor or not self.idle or len(self.queue) or self.stopping:
            return
        if self.holds is not None and self.holds.holding(now):
            return  # the idle executors wait for long steps due (spraycc.server.hold)
        running = [t for t in self.tasks.values() if t.current is not None]
        for task in sorted(running, key=lambda t: t.current.started if t.current else 0.0):
            if not self.idle:
                return
            if due(task, now, self.straggler_factor, self.straggler_min_seconds):
                self._start_copy(task, now)

    def _start_copy(self, task: TaskState, now: float) -> None:
        from spraycc.server.broker import Attempt

        assert task.current is not None
        first = self.executors.get(task.current.executor)
        host = first.host if first is not None else ""
        idle = list(self._takers())  # not a local executor while local steps fill this host
        if not idle:
            return
        # Another host if one is idle: the slowness may be the host's.
        peer = next((e for e in idle if self.executors[e].host != host), idle[0])
        del self.idle[peer]
        ex = self.executors[peer]
        ex.task = task.id
        task.issued += 1
        task.copy = Attempt(peer, task.issued, now)
        task.copied = True
        self.counters.duplicated += 1
        log.info("task %d (%s) has run %.1f s, %.1f s expected: second copy on %s", task.id,
                 task.name, now - task.current.started, task.expected or 0.0, ex.host)
        try:
            self.send(peer, [p.encode(p.Task(task.id, task.copy.number)), task.body])
        except PeerGone:
            ex.task = None
            task.copy = None
            self.drop_executor(ex, "executor vanished")

    def _copy_of(self, ex: ExecutorState, task_id: int, attempt: int) -> TaskState | None:
        """The task whose second copy `ex` runs, if the message is about that copy."""
        task = self.tasks.get(task_id)
        if (task is None or task.copy is None or task.copy.executor != ex.peer
                or task.copy.number != attempt or ex.task != task_id):
            return None
        return task

    def _on_copy_output(self, task: TaskState, is_file: bool, frames: list[Any]) -> None:
        assert task.copy is not None
        if not is_file:
            task.copy.held.append(frames)
        elif can_switch(task):
            self._switch_to_copy(task, "a second copy of a slow task finished first")
            if task.id in self.tasks:
                self._relay(task, frames, False)
        else:
            self._drop_copy(task, cancel=True)

    def _copy_result(self, task: TaskState, ex: ExecutorState, msg: p.Result,
                     now: float) -> bool:
        """The second copy's RESULT came before any FILE of it. True: it is now the task's
        attempt (on_result goes on as for any result); False: it was dropped, `ex` is idle."""
        assert task.copy is not None
        if not msg.error and can_switch(task):
            self._switch_to_copy(task, "a second copy of a slow task finished first")
            return True
        ex.busy_seconds += now - task.copy.started
        ex.tasks_done += 1
        self._drop_copy(task, cancel=False)
        self._make_idle(ex, now)
        return False

    def _switch_to_copy(self, task: TaskState, reason: str, *, cancel_first: bool = True) -> None:
        """Make the second copy the task's attempt: RETRY to the runner, then its kept
        messages; the first copy is cancelled."""
        assert task.copy is not None
        first = task.executor
        task.current, task.copy = task.copy, None
        task.attempt = task.current.number
        held, task.current.held, task.out_bytes = task.current.held, [], 0
        self.counters.duplicate_won += 1
        log.info("task %d (%s): switching to attempt %d: %s", task.id, task.name, task.attempt,
                 reason)
        if cancel_first and first is not None and first in self.executors:
            self._cancelled_on[first] = task.id
            self._send_executor(first, [p.encode(p.Cancel(task.id))])
        self._send(task.runner, p.Retry(task.id, task.attempt, reason))
        for frames in held:
            if task.id not in self.tasks:  # the runner is gone
                return
            self._relay(task, frames, True)

    def _drop_copy(self, task: TaskState, *, cancel: bool) -> None:
        """Forget the second copy; `cancel` tells its executor to stop it."""
        copy, task.copy = task.copy, None
        if cancel and copy is not None and copy.executor in self.executors:
            self._cancelled_on[copy.executor] = task.id
            self._send_executor(copy.executor, [p.encode(p.Cancel(task.id))])
