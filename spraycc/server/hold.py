"""Long steps submitted last: executors held for them (docs/history.md, "Long steps submitted
last").

Longest-first order helps only with what the build tool has submitted. A long step that make
reaches late (a big generated file that sorts last) arrives after the runners before it have
started, and finds every executor busy with short steps; it then waits for one to free, and
the whole build waits for it at the end. So the server remembers, per workspace, at which
offset from a build's first task each long step arrived (`ArrivalStore`, a small file under
`<history>/arrivals/`). In the next build, while such a step is due, `Holds` keeps as many
idle executors out of the short steps' way as there are long steps due, so each starts the
moment it arrives:

* a hold begins LEAD_STEPS typical steps (the history's median duration) before the step's
  recorded offset, time enough for a busy executor to come free, and not at the build's
  start: an executor kept idle from the start costs the build the whole offset of one
  executor's time, far more than the long step gains (it goes to the front of the queue
  anyway, and waits at most about one short step for an executor);
* a step is held for until it arrives or until its deadline: the build's start plus
  min(HOLD_FACTOR x its recorded offset + HOLD_SLACK, HOLD_MAX); a build without it (an
  incremental one) pays at most the time from the hold's beginning to that deadline of the
  held executors' time;
* at least one executor not running a long step always serves the short steps;
* no straggler copies start while executors are held (they would take the held ones);
* steps recorded earlier than LATE_MIN into the build are not held for: they find executors
  free anyway.

A build starts with a SUBMIT after BUILD_GAP seconds without any remote task in flight. What
arrived in a build is recorded when the next one starts, and when the server exits: the
steps that the history, by then, knows to be long (at least LONG_FACTOR x the typical step and
LONG_MIN seconds).

`Holds` is pure state (the broker asks it, the server process saves what it returns);
`ArrivalStore` is the file. A problem with the file is reported once and never stops a build.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from spraycc.step.taskkey import fnv1a64, printable

log = logging.getLogger(__name__)

HOLD_FACTOR = 1.5  # a held-for step is waited for until 1.5 x its recorded offset ...
HOLD_SLACK = 0.5  # ... plus this many seconds into the build ...
HOLD_MAX = 5.0  # ... and never past this many seconds into the build
LATE_MIN = 0.2  # a step recorded earlier than this into its build is not held for
LEAD_STEPS = 2.0  # a hold begins this many typical steps before the step's recorded offset
LONG_FACTOR = 4.0  # a long step takes at least this many times the typical step ...
LONG_MIN = 1.0  # ... and at least this many seconds
BUILD_GAP = 1.0  # seconds without a remote task in flight before a SUBMIT starts a new build
MAX_SEEN = 200_000  # arrivals noted per build; a bigger build's later steps go unrecorded
KEEP = 64  # long steps kept per workspace (the latest)
MAX_AGE_DAYS = 30.0  # a long step not seen in a build for this long is forgotten
FORMAT = 1

# Given the keys of a build's steps, the ones the history knows to be long.
LongPicker = Callable[[Iterable[str]], set[str]]


def pick_long(expected: Callable[[str], float | None], typical: float) -> LongPicker:
    """The usual LongPicker: history durations against the typical (median) step."""
    threshold = max(LONG_MIN, LONG_FACTOR * typical)

    def pick(keys: Iterable[str]) -> set[str]:
        return {k for k in keys if (expected(k) or 0.0) >= threshold}

    return pick


def deadline_offset(offset: float) -> float:
    """Seconds into the build until which a step recorded at `offset` is held for."""
    return min(HOLD_FACTOR * offset + HOLD_SLACK, HOLD_MAX)


def opening_offset(offset: float, typical: float) -> float:
    """Seconds into the build from which a step recorded at `offset` is held for."""
    return min(max(0.0, offset - LEAD_STEPS * typical), deadline_offset(offset))


class Holds:
    """The build in progress, the arrivals it has seen and the long steps it holds for.

    recorded: key -> offset (seconds after the first task of its build) at which each long
    step arrived in earlier builds; `long_steps` tells which keys the history knows to be
    long; `typical` gives the typical step's duration (seconds) when a build starts."""

    def __init__(self, recorded: dict[str, float], long_steps: LongPicker,
                 typical: Callable[[], float]) -> None:
        self.recorded = dict(recorded)
        self.long_steps = long_steps
        self.typical = typical
        self.start: float | None = None  # when the build in progress began
        self.last_active = float("-inf")  # when a remote task was last in flight
        self.seen: dict[str, float] = {}  # key -> offset of its first arrival, this build
        self.pending: dict[str, float] = {}  # key -> deadline (clock time): held for
        self.opens: dict[str, float] = {}  # key -> when its hold begins (clock time)
        self.finished: dict[str, float] | None = None  # a finished build's long arrivals
        self.held_for = 0  # steps held for, over the session
        self.arrived = 0  # ... that arrived while held for
        self.expired = 0  # ... whose deadline passed first

    # ------------------------------------------------------------------------- events

    def active(self, now: float) -> None:
        """A remote task is in flight (the broker calls this on its ticks)."""
        self.last_active = now

    def on_submit(self, key: str, now: float, busy: bool) -> None:
        """A task arrived; `busy`: other remote tasks were in flight."""
        if self.start is None or (not busy and now - self.last_active >= BUILD_GAP):
            self.begin(now)
        self.last_active = now
        assert self.start is not None
        offset = now - self.start
        if key not in self.seen and len(self.seen) < MAX_SEEN:
            self.seen[key] = offset
        if self.pending.pop(key, None) is not None:
            self.arrived += 1
            log.info("hold: long step %s arrived at +%.2f s (recorded +%.2f s), an executor "
                     "was held for it", printable(key), offset, self.recorded.get(key, 0.0))

    def begin(self, now: float) -> None:
        """A new build: the last one's arrivals are done, this one's holds are set."""
        self.end_build()
        self.start = now
        due = {k: off for k, off in self.recorded.items() if off >= LATE_MIN}
        if due:
            long = self.long_steps(due)
            due = {k: off for k, off in due.items() if k in long}
        self.pending = {k: now + deadline_offset(off) for k, off in due.items()}
        typical = self.typical() if due else 0.0
        self.opens = {k: now + opening_offset(off, typical) for k, off in due.items()}
        self.held_for += len(self.pending)
        if self.pending:
            log.info("hold: a build starts; holding executors for %d long step(s) that arrived "
                     "late last time (from +%.2f s, up to +%.2f s): %s", len(self.pending),
                     min(self.opens.values()) - now, max(self.pending.values()) - now,
                     ", ".join(printable(k) for k in sorted(self.pending)[:5]))

    def end_build(self) -> dict[str, float] | None:
        """Close the build in progress: its long steps' arrivals become the recorded ones
        (and `finished`, for the server to save). Returns them (None: no build)."""
        if self.start is None:
            return None
        for key in self.pending:
            self.expired += 1
            log.debug("hold: long step %s did not come in that build", printable(key))
        self.pending = {}
        self.opens = {}
        long = self.long_steps(self.seen)
        arrivals = {k: off for k, off in self.seen.items() if k in long}
        for key in (k for k in self.seen if k not in long):
            self.recorded.pop(key, None)  # seen, and no longer long
        self.recorded.update(arrivals)
        self.seen = {}
        self.start = None
        self.finished = {**(self.finished or {}), **arrivals}
        return arrivals

    def take_finished(self) -> dict[str, float] | None:
        """The long arrivals of finished builds, not yet saved (None: nothing new)."""
        finished, self.finished = self.finished, None
        return finished

    # ------------------------------------------------------------------------- queries

    def expire(self, now: float) -> None:
        for key, deadline in list(self.pending.items()):
            if deadline <= now:
                del self.pending[key]
                self.expired += 1
                log.info("hold: long step %s not here by +%.2f s: executors no longer held "
                         "for it", printable(key), now - (self.start or now))

    def reserve(self, now: float, executors: int) -> int:
        """How many idle executors to keep out of other steps' way now: one per long step
        due whose hold has begun, never all of the `executors` that are not running a long
        step."""
        if not self.pending:
            return 0
        self.expire(now)
        due = sum(1 for key in self.pending if self.opens.get(key, now) <= now)
        return max(0, min(due, executors - 1))

    def holding(self, now: float) -> bool:
        """Whether any long step is due now (its executors are kept idle)."""
        self.expire(now)
        return any(self.opens.get(key, now) <= now for key in self.pending)

    def next_deadline(self) -> float | None:
        return min(self.pending.values()) if self.pending else None

    def snapshot(self) -> dict[str, int]:
        return {"held_for": self.held_for, "arrived": self.arrived, "expired": self.expired,
                "due": len(self.pending)}


# ----------------------------------------------------------------------------- the file


class ArrivalStore:
    """`<history>/arrivals/<workspace hash>.json`: key -> {offset, seen (unix time)} of the
    workspace's long steps. One server per workspace writes it (temp file, then rename); a
    damaged or foreign file is reported and treated as empty."""

    def __init__(self, history_dir: Path, workspace: str) -> None:
        self.path = history_dir / "arrivals" / f"{fnv1a64(workspace):016x}.json"
        self.workspace = workspace

    def load(self) -> tuple[dict[str, float], str]:
        """(key -> offset, a problem to report or "")."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}, ""
        except (OSError, ValueError) as exc:
            return {}, f"{self.path}: unreadable ({exc}); ignored"
        entries = self._entries(data)
        if entries is None:
            return {}, f"{self.path}: not an arrivals file of this workspace; ignored"
        return {k: v[0] for k, v in entries.items()}, ""

    def _entries(self, data: object) -> dict[str, tuple[float, float]] | None:
        if (not isinstance(data, dict) or data.get("format") != FORMAT
                or data.get("workspace") != self.workspace
                or not isinstance(data.get("steps"), dict)):
            return None
        out: dict[str, tuple[float, float]] = {}
        for key, entry in data["steps"].items():
            try:
                offset, seen = float(entry["offset"]), float(entry["seen"])
            except (TypeError, KeyError, ValueError):
                continue
            if 0.0 <= offset < 1e6:
                out[key] = (offset, seen)
        return out

    def save(self, arrivals: dict[str, float], recorded: dict[str, float],
             now: float | None = None) -> None:
        """Write the latest build's long arrivals over what the file had; steps no longer in
        `recorded` (no longer long) and old ones go. Raises OSError."""
        now = time.time() if now is None else now
        try:
            old = self._entries(json.loads(self.path.read_text())) or {}
        except (OSError, ValueError):
            old = {}
        steps = {k: v for k, v in old.items()
                 if k in recorded and now - v[1] < MAX_AGE_DAYS * 86400}
        steps.update({k: (off, now) for k, off in arrivals.items()})
        latest = sorted(steps.items(), key=lambda kv: -kv[1][1])[:KEEP]
        data = {"format": FORMAT, "workspace": self.workspace,
                "steps": {k: {"offset": round(off, 3), "seen": round(seen, 1)}
                          for k, (off, seen) in sorted(latest)}}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".arrivals-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=0)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
