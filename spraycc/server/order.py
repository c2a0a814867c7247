"""The server's priority queue of waiting tasks (docs/history.md, Scheduling order).

Order: dependency-generation (-M/-MM) steps first, then the longest expected duration first
(LPT: the long steps start early and the short ones fill the gaps at the end, so every CPU
finishes at about the same time), then first come first served. Requeued tasks (their
executor died) go ahead of their equals.

Where a step the history has never seen goes: it is ranked as if it took `unknown` seconds,
which the server sets to the median recorded duration (`History.typical`). Unknown steps among
themselves keep submission order. Why the median and not "last" or "first": a new step is
usually a typical one, so it should neither wait behind every known step (if it is long it
would then be the tail) nor push the known long steps back (which would make *them* the tail).
Without any history `unknown` is 0 and the order is plain FIFO with -M/-MM steps ahead.

Removal is lazy: a cancelled task stays in the heap until it surfaces, which keeps cancel O(1).

`place` tells a task where it stands (what the server's ACCEPTED says, docs/usage.md "Waiting
runners"): at once when it went in last, as every task does without history, else by a scan.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

# Given (history key, is a dependency step), the expected duration in seconds, or None.
Estimator = Callable[[str, bool], float | None]


def no_history(key: str, dependency: bool) -> float | None:
    return None


Entry = tuple[int, float, int, int]  # (0 for a dependency step else 1, -expected, seq, task)


class TaskQueue:
    def __init__(self, estimate: Estimator = no_history, unknown: float = 0.0) -> None:
        self._heap: list[Entry] = []
        self._seq = itertools.count()
        self._live: dict[int, Entry] = {}  # queued task -> its entry in the heap
        self._last: Entry | None = None  # the heap's greatest entry (None: the heap is empty)
        self.estimate = estimate
        self.unknown = unknown  # the rank (seconds) of a step without history

    def push(self, task_id: int, key: str, dependency: bool, *, requeue: bool = False) -> None:
        """Queue a task. A requeued task (its executor died) goes ahead of equal peers."""
        self.push_estimated(task_id, dependency, self.estimate(key, dependency), requeue=requeue)

    def push_estimated(self, task_id: int, dependency: bool, expected: float | None, *,
                       requeue: bool = False) -> None:
        """`push` with the estimate the caller has just asked for (None: no history)."""
        if expected is None:
            expected = self.unknown
        seq = -1 if requeue else next(self._seq)
        entry = (0 if dependency else 1, -expected, seq, task_id)
        if self._last is None or entry > self._last:
            self._last = entry
        heapq.heappush(self._heap, entry)
        self._live[task_id] = entry

    def pop(self) -> int | None:
        while self._heap:
            entry = self._heappop()
            if self._live.get(entry[3]) is entry:
                del self._live[entry[3]]
                return entry[3]
        return None

    def peek(self) -> int | None:
        """The task `pop` would return, left queued."""
        while self._heap:
            entry = self._heap[0]
            if self._live.get(entry[3]) is entry:
                return entry[3]
            self._heappop()
        return None

    def _heappop(self) -> Entry:
        entry = heapq.heappop(self._heap)
        if not self._heap:
            self._last = None
        return entry

    def discard(self, task_id: int) -> None:
        self._live.pop(task_id, None)

    def place(self, task_id: int) -> int:
        """Where a queued task stands: 1 if `pop` would return it next, 2 with one task ahead
        of it, ...; 0 if it is not queued."""
        entry = self._live.get(task_id)
        if entry is None:
            return 0
        # Last of all (every task without history, pushed in order): all others are ahead.
        if entry is self._last:
            return len(self._live)
        return 1 + sum(1 for e in self._heap if e < entry and self._live.get(e[3]) is e)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, task_id: int) -> bool:
        return task_id in self._live
