"""Session records (spraycc.server.sessions): written atomically, bounded, damage ignored."""

from __future__ import annotations

import json
import os
from pathlib import Path

from spraycc.server import sessions


def summary(ws: str, ended: float) -> dict:
    return {"session": f"s{ended:.0f}", "workspace": ws, "started": ended - 10, "ended": ended,
            "remote": {"done": 1}, "local": {}, "slowest": [], "pools": []}


def test_records_are_private_atomic_and_bounded(tmp_path: Path, monkeypatch) -> None:
    where = tmp_path / "sessions"
    monkeypatch.setattr(sessions, "KEEP", 5)
    for i in range(8):
        path = sessions.record(summary("/ws", 1_000_000 + i * 100), where)
        assert (path.stat().st_mode & 0o777) == 0o600
    names = sorted(os.listdir(where))
    assert len(names) == 5 and not [n for n in names if n.startswith(".")]
    recs, problems = sessions.load(where)
    assert problems == [] and [r["session"] for r in recs] == [
        f"s{1_000_000 + i * 100}" for i in (7, 6, 5, 4, 3)]


def test_damaged_records_are_reported_and_ignored(tmp_path: Path) -> None:
    where = tmp_path / "sessions"
    sessions.record(summary("/ws", 2_000_000), where)
    (where / "20000101T000000-1-x.json").write_text("{half")
    (where / "20000101T000001-1-y.json").write_text(json.dumps({"format": 99}))
    recs, problems = sessions.load(where)
    assert len(recs) == 1 and len(problems) == 2


def test_the_workspace_of_a_directory_is_the_nearest_recorded(tmp_path: Path) -> None:
    outer, inner = str(tmp_path), str(tmp_path / "lib")
    recs = [summary(outer, 3.0), summary(inner, 2.0), summary(outer + "2", 1.0)]
    os.makedirs(tmp_path / "lib" / "x")
    assert sessions.of_workspace(recs, str(tmp_path / "lib" / "x")) == [recs[1]]
    assert sessions.of_workspace(recs, outer) == [recs[0]]
    assert sessions.of_workspace(recs, "/") == []
    with_name = dict(recs[0], workspace=outer + os.fsdecode(b"/\xe9"),
                     slowest=[{"name": os.fsdecode(b"caf\xe9.o")}])
    shown = sessions.for_display(with_name)
    assert shown["workspace"].endswith("/\\xe9") and shown["slowest"][0]["name"] == "caf\\xe9.o"
