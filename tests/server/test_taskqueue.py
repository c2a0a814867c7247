"""The priority order of waiting tasks (spraycc.server.order, docs/history.md)."""

from __future__ import annotations

from spraycc.server.order import TaskQueue


def drain(q: TaskQueue) -> list[int]:
    out = []
    while (task := q.pop()) is not None:
        out.append(task)
    return out


def history(durations: dict[str, float]):
    return lambda key, dependency: durations.get(key)


def test_without_history_first_come_first_served_with_dependency_steps_ahead() -> None:
    q = TaskQueue()
    q.push(1, "a", False)
    q.push(2, "b", True)
    q.push(3, "c", False)
    q.push(4, "d", True)
    assert drain(q) == [2, 4, 1, 3]


def test_longest_recorded_first_and_ties_first_come_first_served() -> None:
    q = TaskQueue(history({"short": 1.0, "long": 30.0, "mid": 5.0, "mid2": 5.0}))
    for task, key in enumerate(["short", "mid", "long", "mid2"], start=1):
        q.push(task, key, False)
    assert drain(q) == [3, 2, 4, 1]


def test_dependency_steps_go_ahead_of_even_the_longest_compile() -> None:
    q = TaskQueue(history({"big.o": 100.0, "a.d": 0.1, "b.d": 0.5}))
    q.push(1, "big.o", False)
    q.push(2, "a.d", True)
    q.push(3, "b.d", True)
    q.push(4, "new.d", True)  # unknown dependency step: still ahead of compiles
    assert drain(q) == [3, 2, 4, 1]


def test_unknown_tasks_rank_as_the_typical_duration_in_submission_order() -> None:
    known = {"k10": 10.0, "k3": 3.0, "k1": 1.0}
    q = TaskQueue(history(known), unknown=3.0)
    q.push(1, "u1", False)
    q.push(2, "k1", False)
    q.push(3, "k3", False)  # same rank as the unknown ones: first come first served
    q.push(4, "u2", False)
    q.push(5, "k10", False)
    q.push(6, "u3", False)
    assert drain(q) == [5, 1, 3, 4, 6, 2]


def test_unknown_zero_puts_unknown_tasks_after_known_ones() -> None:
    q = TaskQueue(history({"k": 0.5}))
    q.push(1, "u1", False)
    q.push(2, "k", False)
    q.push(3, "u2", False)
    assert drain(q) == [2, 1, 3]


def test_a_duration_learned_in_this_session_counts_for_later_tasks() -> None:
    learned: dict[str, float] = {}
    q = TaskQueue(history(learned))
    q.push(1, "a", False)
    learned["b"] = 7.0  # the server recorded it (e.g. from an earlier build of the session)
    q.push(2, "b", False)
    assert drain(q) == [2, 1]


def test_requeued_task_goes_ahead_of_its_equals_and_cancel_is_lazy() -> None:
    q = TaskQueue(history({"x": 2.0, "y": 2.0, "z": 9.0}))
    q.push(1, "x", False)
    q.push(2, "y", False)
    q.push(3, "z", False)
    q.push(4, "y", False, requeue=True)
    q.discard(3)
    assert 3 not in q and len(q) == 3
    assert drain(q) == [4, 1, 2]


def test_peek_shows_what_pop_returns_and_leaves_it() -> None:
    q = TaskQueue(lambda key, dep: {"a": 1.0, "b": 5.0}.get(key))
    q.push(1, "a", False)
    q.push(2, "b", False)
    q.discard(2)
    assert q.peek() == 1 and len(q) == 1
    assert q.pop() == 1 and q.peek() is None


def test_place_counts_the_tasks_ahead_in_the_queues_order() -> None:
    q = TaskQueue(history({"long": 30.0, "mid": 5.0, "short": 1.0}))
    for task, key in enumerate(["short", "short", "mid", "long"], start=1):
        q.push(task, key, False)
    assert [q.place(t) for t in (1, 2, 3, 4)] == [3, 4, 2, 1]
    q.push(5, "dep.d", True)  # a dependency step goes ahead of all
    assert q.place(5) == 1 and q.place(4) == 2 and q.place(2) == 5
    q.discard(3)  # a cancelled task, still in the heap (lazy removal), is not ahead of anyone
    assert q.place(2) == 4 and q.place(3) == 0
    assert q.pop() == 5 and q.place(5) == 0 and q.place(4) == 1


def test_place_without_history_is_the_queue_length_and_survives_emptying() -> None:
    q = TaskQueue()
    for task in range(1, 6):
        q.push(task, f"k{task}", False)
        assert q.place(task) == task
    assert drain(q) == [1, 2, 3, 4, 5]
    q.push(6, "k6", False)  # the heap emptied: the new task is last (and first) again
    q.push(7, "k7", True)
    assert q.place(6) == 2 and q.place(7) == 1
    q.push(8, "k8", False, requeue=True)  # requeued: ahead of its equals, behind the -M step
    assert [q.place(t) for t in (6, 7, 8)] == [3, 1, 2]
