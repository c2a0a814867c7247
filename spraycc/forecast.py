"""`spraycc history`: the longest recorded steps and the predicted critical tail of a build.

The prediction replays the server's own scheduling policy (docs/history.md, server.order) on the
recorded durations: every recorded step is queued at once, dependency steps (-M/-MM) first,
then longest first, and each goes to the executor that becomes free first. That is LPT list
scheduling; Graham's bound says its makespan is at most 4/3 - 1/(3N) times the optimum. The
report gives the makespan, the lower bound no schedule can beat (the total work spread over N
executors, or the longest step if that is longer), and the *critical tail*: the steps still
running after the first executor has run out of work, i.e. what keeps CPUs idle at the end.

Assumptions, printed with the report: the next build runs exactly the recorded steps (filtered
with `match`/`days`), all submitted at once (make -jN with N at least the number of steps), on
`executors` equally fast executors, with no per-step overhead. A build tool that submits fewer
steps at a time limits how far the server can reorder them.
"""

from __future__ import annotations

import fnmatch
import heapq
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from spraycc.server.history import History
from spraycc.step import taskkey
from spraycc.step.taskkey import printable


@dataclass
class Placed:
    key: str
    seconds: float
    executor: int
    start: float
    end: float


@dataclass
class Forecast:
    executors: int
    tasks: int
    total: float  # seconds of work
    longest: float
    lower_bound: float  # max(total / executors, longest)
    makespan: float
    first_idle: float  # when the first executor runs out of work
    efficiency: float  # total / (executors * makespan)
    tail: list[Placed] = field(default_factory=list)  # still running at first_idle, last first
    schedule: list[Placed] = field(default_factory=list)  # every step, in start order


def simulate(tasks: list[tuple[str, float]], executors: int, tail: int = 10) -> Forecast:
    """LPT list scheduling of (key, seconds) on `executors` identical executors, in the
    server's order: dependency steps first, then longest first, ties in the given order."""
    if executors < 1:
        raise ValueError("executors must be at least 1")
    order = sorted(
        enumerate(tasks), key=lambda it: (not taskkey.is_dependency(it[1][0]), -it[1][1], it[0])
    )
    free = [(0.0, slot) for slot in range(executors)]  # (time it becomes free, executor)
    last: dict[int, Placed] = {}
    placed: list[Placed] = []
    for _, (key, seconds) in order:
        start, slot = heapq.heappop(free)
        item = Placed(key, seconds, slot, start, start + seconds)
        placed.append(item)
        last[slot] = item
        heapq.heappush(free, (item.end, slot))
    total = sum(seconds for _, seconds in tasks)
    longest = max((seconds for _, seconds in tasks), default=0.0)
    makespan = max((p.end for p in placed), default=0.0)
    # An executor that never got a task is idle from the start.
    first_idle = min((last[s].end if s in last else 0.0) for s in range(executors))
    running = sorted((p for p in placed if p.end > first_idle), key=lambda p: (-p.end, p.key))
    return Forecast(
        executors=executors,
        tasks=len(tasks),
        total=total,
        longest=longest,
        lower_bound=max(total / executors, longest),
        makespan=makespan,
        first_idle=first_idle,
        efficiency=total / (executors * makespan) if makespan > 0 else 1.0,
        tail=running[:tail],
        schedule=placed,
    )


def matcher(pattern: str, cwd: str, env: Mapping[str, str]) -> Callable[[str], bool]:
    """A test of task keys for `spraycc history --match PATTERN`, on what the user types
    (docs/history.md, "Matching"):

    * one word: a path or glob matched against the step's path (its primary output, relative
      to the workspace root) or any trailing part of it (`a.o` matches `build/src/a.o`), or
      against its program;
    * several words, a command as typed (`g++ -c src/*`): the program, as typed or as it
      resolves on PATH (`g++` -> `x86_64-linux-gnu-g++-12`, what keys record), and if given,
      the mode flag (-c, -S, -E, -M, -MM) must match, and one of the other words not starting
      with '-', if any, must match the path as above. Other flags are not in keys: ignored;
    * and always: the whole key as a glob.
    """
    words = pattern.split()
    if not words:
        return lambda key: True
    if len(words) == 1:
        word = words[0]
        return lambda key: (fnmatch.fnmatchcase(key, pattern) or _path_matches(key, word)
                            or _tool_matches(key, word, _resolved(word, cwd, env)))
    program, rest = words[0], words[1:]
    resolved = _resolved(program, cwd, env)
    mode = taskkey.mode_of(["", *rest])
    paths = [w for w in rest if not w.startswith("-")]

    def matches(key: str) -> bool:
        if fnmatch.fnmatchcase(key, pattern):
            return True
        if not _tool_matches(key, program, resolved):
            return False
        if mode and taskkey.split_key(key)[1] != mode:
            return False
        return not paths or any(_path_matches(key, w) for w in paths)

    return matches


def _resolved(program: str, cwd: str, env: Mapping[str, str]) -> str:
    """The basename `program` resolves to on PATH, symbolic links followed, as the runner
    names a compiler in a key ("" if not found)."""
    from spraycc.step.compilers import find_program, resolve_links

    if any(c in program for c in "*?["):
        return ""
    found = find_program(program, cwd, dict(env), False)
    return os.path.basename(resolve_links(found)) if found else ""


def _tool_matches(key: str, typed: str, resolved: str) -> bool:
    tool = taskkey.split_key(key)[0]
    return tool == resolved or fnmatch.fnmatchcase(tool, os.path.basename(typed))


def _path_matches(key: str, glob: str) -> bool:
    """The key's path is `glob` or ends in it (after a '/')."""
    _, mode, rest = taskkey.split_key(key)
    path = rest if mode else rest.partition(" ")[0]
    glob = glob.removeprefix("./")
    return fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(path, f"*/{glob}")


def report(hist: History, executors: int, *, top: int = 20, tail: int = 10, match: str = "",
           days: float = 0.0, now: float | None = None, cwd: str = ".",
           env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What `spraycc history` shows, as a JSON-ready dict (keys as `taskkey.printable` text).
    `cwd` and `env` (default: os.environ) resolve the program of a `match` pattern."""
    now = time.time() if now is None else now
    wanted = matcher(match, cwd, os.environ if env is None else env)
    rows = [
        (printable(key), ts, seconds)
        for key, ts, seconds in hist.items()
        if wanted(key) and (not days or now - ts <= days * 86400)
    ]
    rows.sort(key=lambda r: (-r[2], r[0]))
    forecast = simulate([(key, seconds) for key, _, seconds in rows], executors, tail)
    return {
        "directory": str(hist.directory),
        "steps": len(rows),
        "known_steps": len(hist),
        "match": printable(match),
        "days": days,
        "longest": [
            {"key": key, "seconds": seconds, "measured": ts} for key, ts, seconds in rows[:top]
        ],
        "forecast": {k: v for k, v in asdict(forecast).items() if k != "schedule"},
    }


def render(rep: dict[str, Any], problems: list[str] | None = None) -> str:
    """The human-readable form of `report`."""
    lines = [f"history: {rep['directory']} ({rep['known_steps']} known steps)"]
    for problem in problems or []:
        lines.append(f"warning: {problem}")
    scope = []
    if rep["match"]:
        scope.append(f"matching {rep['match']!r}")
    if rep["days"]:
        scope.append(f"measured in the last {rep['days']:g} days")
    if not rep["steps"]:
        lines.append("no recorded steps" + (f" {' and '.join(scope)}" if scope else "") + ".")
        return "\n".join(lines) + "\n"
    lines.append("")
    lines.append(f"longest steps ({len(rep['longest'])} of {rep['steps']}"
                 + (f", {' and '.join(scope)}" if scope else "") + "):")
    for row in rep["longest"]:
        lines.append(f"  {row['seconds']:9.2f} s  {row['key']}")
    f = rep["forecast"]
    lines.append("")
    lines.append(f"predicted next build on {f['executors']} executors "
                 "(longest first, as the server schedules):")
    lines.append(f"  work {f['total']:.1f} s in {f['tasks']} steps; longest step "
                 f"{f['longest']:.1f} s")
    lines.append(f"  makespan {f['makespan']:.1f} s; lower bound {f['lower_bound']:.1f} s "
                 f"(max of work/executors and the longest step); CPU use "
                 f"{100 * f['efficiency']:.0f}%")
    lines.append(f"  the first executor runs out of work at {f['first_idle']:.1f} s; the critical "
                 "tail,")
    lines.append("  steps still running then, last to finish first:")
    for p in f["tail"]:
        lines.append(f"  {p['start']:8.1f} -> {p['end']:8.1f} s  ({p['seconds']:.1f} s)  "
                     f"{p['key']}")
    lines.append("  (assumes every listed step is queued at once, with no per-step overhead;")
    lines.append("  --match keeps one project's steps)")
    return "\n".join(lines) + "\n"
