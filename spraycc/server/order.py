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
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

# Given (history key, is a dependency step), the expected duration in seconds, or None.
Estimator = Callable[[str, bool], float | None]


def no_history(key: str, dependency: bool) -> float | None:
    return None


class TaskQueue:
    def __init__(self, estimate: Estimator = no_history, unknown: float = 0.0) -> None:
        self._heap: list[tuple[int, float, int, int]] = []
        self._seq = itertools.count()
        self._live: set[int] = set()
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
        heapq.heappush(self._heap, (0 if dependency else 1, -expected, seq, task_id))
        self._live.add(task_id)

    def pop(self) -> int | None:
        while self._heap:
            task_id = heapq.heappop(self._heap)[3]
            if task_id in self._live:
                self._live.discard(task_id)
                return task_id
        return None

    def peek(self) -> int | None:
        """The task `pop` would return, left queued."""
        while self._heap:
            task_id = self._heap[0][3]
            if task_id in self._live:
                return task_id
            heapq.heappop(self._heap)
        return None

    def discard(self, task_id: int) -> None:
        self._live.discard(task_id)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, task_id: int) -> bool:
        return task_id in self._live
