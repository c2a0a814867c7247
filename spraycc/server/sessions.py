"""Session summaries: what each server did, kept after it has gone (docs/usage.md, "After
the server: `spraycc stats`").

A server writes one record when it exits: workspace, start and end, why it ended, remote and
local step counts and task time, executor time held and busy (slot efficiency), bytes
returned, the slowest steps and its executor pools. Each record is its own small JSON file in
the platformdirs state dir (`~/.local/state/spraycc/sessions/`, 0700), written 0600 under a
temp name and renamed into place, so concurrent servers never lose each other's records and
a crash never leaves half a record; only the newest KEEP records are kept. `spraycc stats`
and `spraycc status` (with no server) read them. Server side and CLI only.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

KEEP = 200  # records kept, newest first (a few kB each)
FORMAT = 1
SUFFIX = ".json"
MAX_BYTES = 1 << 20  # a record file larger than this is not ours
# What a record keeps of each executor pool's counters (cluster.Supply.snapshot).
POOL_FIELDS = ("command", "local", "submitted", "ever_connected", "failed", "forgotten",
               "cancelled", "start_latency_median", "start_latency_max")


def directory() -> Path:
    from platformdirs import user_state_dir

    return Path(user_state_dir("spraycc")) / "sessions"


def record(summary: dict[str, Any], where: Path | None = None) -> Path:
    """Store one session's summary atomically and drop the oldest beyond KEEP. Raises OSError."""
    where = where or directory()
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    ended = time.strftime("%Y%m%dT%H%M%S", time.gmtime(summary.get("ended", time.time())))
    name = f"{ended}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
    tmp = where / f".tmp-{name}"
    data = json.dumps({"format": FORMAT, **summary}, indent=1, sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, where / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    prune(where)
    return where / name


def prune(where: Path) -> None:
    """Remove all but the newest KEEP records (names start with their end time)."""
    names = sorted(_names(where), reverse=True)
    for name in names[KEEP:]:
        (where / name).unlink(missing_ok=True)


def _names(where: Path) -> list[str]:
    try:
        return [n for n in os.listdir(where) if n.endswith(SUFFIX) and not n.startswith(".")]
    except FileNotFoundError:
        return []


def load(where: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Every readable record, newest first, and one problem per file that is not."""
    where = where or directory()
    found: list[dict[str, Any]] = []
    problems: list[str] = []
    for name in _names(where):
        path = where / name
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ValueError("too large")
            rec = json.loads(path.read_bytes())
            if not isinstance(rec, dict) or rec.get("format") != FORMAT:
                raise ValueError("not a session record")
            float(rec["ended"])
            str(rec["workspace"])
        except FileNotFoundError:
            continue  # pruned meanwhile
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path}: {exc} (ignored)")
            continue
        found.append(rec)
    found.sort(key=lambda r: float(r["ended"]), reverse=True)
    return found, problems


def of_workspace(records: list[dict[str, Any]], cwd: str) -> list[dict[str, Any]]:
    """The records of the workspace `cwd` is in: the nearest recorded workspace at or above
    the real `cwd` (as a runner finds its server)."""
    real = os.path.realpath(cwd)
    best = ""
    for rec in records:
        ws = str(rec["workspace"])
        if (real == ws or real.startswith(ws.rstrip("/") + "/")) and len(ws) > len(best):
            best = ws
    return [rec for rec in records if best and rec["workspace"] == best]


# ------------------------------------------------------------------------------ rendering

def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _span(seconds: float) -> str:
    """4.2 s, 3 min 5 s, 8:00:00."""
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _efficiency(rec: dict[str, Any]) -> str:
    value = rec.get("slot_efficiency")
    return f"{100 * float(value):.0f}%" if value is not None else "n/a"


def brief(rec: dict[str, Any]) -> str:
    """One line: when the session ended and what it did."""
    remote, local = rec.get("remote", {}), rec.get("local", {})
    done = int(remote.get("done", 0)) + int(remote.get("failed", 0))
    return (f"ended {_when(float(rec['ended']))} after {_span(rec_seconds(rec))}: {done} remote "
            f"steps ({remote.get('failed', 0)} failed), {local.get('done', 0)} local, slot "
            f"efficiency {_efficiency(rec)}")


def rec_seconds(rec: dict[str, Any]) -> float:
    return max(0.0, float(rec["ended"]) - float(rec.get("started", rec["ended"])))


def for_display(rec: dict[str, Any]) -> dict[str, Any]:
    """`rec` with its workspace and step names as text any output takes (the bytes of file
    names that are not UTF-8 as backslash escapes, see `taskkey.printable`)."""
    from spraycc.step.taskkey import printable

    out = dict(rec, workspace=printable(str(rec["workspace"])))
    out["slowest"] = [dict(s, name=printable(str(s.get("name", ""))))
                      for s in rec.get("slowest", [])]
    return out


def render(rec: dict[str, Any]) -> list[str]:
    """A session as `spraycc stats` shows it."""
    rec = for_display(rec)
    remote, local = rec.get("remote", {}), rec.get("local", {})
    lines = [
        f"session {rec.get('session', '?')}  {rec['workspace']}  (pid "
        f"{rec.get('pid', '?')} on {rec.get('host', '?')})",
        f"  {_when(float(rec.get('started', rec['ended'])))} -> {_when(float(rec['ended']))} "
        f"({_span(rec_seconds(rec))}), ended: {rec.get('reason', '?')}",
        f"  remote    {remote.get('done', 0)} done, {remote.get('failed', 0)} failed, "
        f"{remote.get('retried', 0)} retried, {remote.get('handed_back', 0)} handed back; "
        f"task time {float(remote.get('seconds', 0)):.1f} s",
        f"  local     {local.get('done', 0)} done, {local.get('failed', 0)} failed; task time "
        f"{float(local.get('seconds', 0)):.1f} s",
        f"  executors held {float(rec.get('executor_seconds', 0)):.1f} s, busy "
        f"{float(rec.get('busy_seconds', 0)):.1f} s: slot efficiency {_efficiency(rec)}; "
        f"{float(rec.get('bytes_out', 0)) / 1e6:.1f} MB returned",
    ]
    stale = rec.get("stale") or {}
    if stale.get("count"):
        names = ", ".join(f"{f.get('path', '?')} ({f.get('count', 0)})"
                          for f in stale.get("files", []))
        lines.append(f"  stale     {stale['count']} executor view(s) of inputs, re-run: {names}")
    for pool in rec.get("pools", []):
        lines.append(f"  pool {pool.get('name', '?')}: {pool.get('submitted', 0)} submitted, "
                     f"{pool.get('ever_connected', 0)} connected, {pool.get('failed', 0)} "
                     f"failed, {pool.get('cancelled', 0)} cancelled")
    for slow in rec.get("slowest", []):
        lines.append(f"  slowest   {float(slow.get('seconds', 0)):8.2f} s  "
                     f"{slow.get('name', '')} on {slow.get('host', '?')}")
    return lines
