"""`spraycc history`: the LPT forecast (spraycc.forecast) and the command itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import SPRAYCC, run, running_server

from spraycc.forecast import render, report, simulate
from spraycc.server.history import History


def test_lpt_simulation_makespan_bound_and_tail() -> None:
    tasks = [(f"gcc -c s{i}.o", 1.0) for i in range(10)] + [("gcc -c big.o", 6.0)]
    f = simulate(tasks, 4)
    assert f.total == 16.0 and f.longest == 6.0
    assert f.lower_bound == 6.0  # the longest step dominates 16/4 = 4
    assert f.makespan == 6.0  # big.o starts first; the others fill three executors
    assert f.first_idle == 3.0  # three executors share 10 one-second steps: 4, 3, 3
    assert [p.key for p in f.tail] == ["gcc -c big.o", "gcc -c s9.o"]
    assert f.efficiency == pytest.approx(16 / 24)


def test_lpt_order_dependency_steps_first_then_longest() -> None:
    tasks = [("gcc -c a.o", 2.0), ("gcc -MM a.d", 0.5), ("gcc -c b.o", 5.0)]
    f = simulate(tasks, 1, tail=10)
    assert f.tail == []  # one executor: nothing runs after it is done
    assert [(p.key, p.start) for p in f.schedule] == [
        ("gcc -MM a.d", 0.0), ("gcc -c b.o", 0.5), ("gcc -c a.o", 5.5)
    ]
    assert f.makespan == 7.5 == f.lower_bound


def test_fifo_would_be_worse_lpt_is_within_graham_bound() -> None:
    durations = [3, 3, 2, 2, 2]  # the classic LPT example on 2 machines: 7 vs optimum 6
    f = simulate([(f"k{i}", float(d)) for i, d in enumerate(durations)], 2)
    assert f.makespan == 7.0 and f.lower_bound == 6.0
    assert f.makespan <= (4 / 3 - 1 / 6) * 6.0 + 1e-9


def test_empty_and_more_executors_than_tasks() -> None:
    f = simulate([], 8)
    assert f.makespan == 0.0 and f.tail == [] and f.efficiency == 1.0
    f = simulate([("a", 1.0), ("b", 2.0)], 8)
    assert f.first_idle == 0.0 and [p.key for p in f.tail] == ["b", "a"]
    with pytest.raises(ValueError):
        simulate([("a", 1.0)], 0)


def test_report_filters_and_renders(tmp_path: Path) -> None:
    h = History(tmp_path, now=lambda: 1_000_000.0)
    h.record("gcc -c p1/a.o", 4.0)
    h.record("gcc -c p1/b.o", 1.0)
    h.record("gcc -c p2/c.o", 9.0)
    rep = report(h, 2, match="gcc -c p1/*", now=1_000_000.0)
    assert rep["steps"] == 2 and rep["known_steps"] == 3
    assert [r["key"] for r in rep["longest"]] == ["gcc -c p1/a.o", "gcc -c p1/b.o"]
    assert rep["forecast"]["makespan"] == 4.0
    text = render(rep)
    assert "makespan 4.0 s" in text and "gcc -c p1/a.o" in text and "p2/c.o" not in text
    old = report(h, 2, days=1, now=1_000_000.0 + 2 * 86400)
    assert old["steps"] == 0 and "no recorded steps" in render(old)


@pytest.mark.timeout(60)
def test_history_command(tmp_path: Path, env: dict[str, str]) -> None:
    h = History(Path(env["SPRAYCC_HISTORY"]))
    for i in range(30):
        h.record(f"gcc -c src/f{i}.o", 1.0 + i % 3)
    h.record("g++ -c src/huge.o", 40.0)
    h.close()
    r = run([SPRAYCC, "history", "--executors", "4", "--top", "3"], tmp_path, env)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert "g++ -c src/huge.o" in out.splitlines()[3]  # the longest step is listed first
    assert "on 4 executors" in out and "makespan 40.0 s" in out
    r = run([SPRAYCC, "history", "-n", "4", "--json"], tmp_path, env)
    data = json.loads(r.stdout)
    assert data["forecast"]["lower_bound"] == 40.0 and data["steps"] == 31
    assert data["forecast"]["tail"][0]["key"] == "g++ -c src/huge.o"
    assert data["problems"] == []
    # Reading the history changes nothing in it.
    before = sorted(p.name for p in Path(env["SPRAYCC_HISTORY"]).iterdir())
    subprocess.run([SPRAYCC, "history"], cwd=tmp_path, env=env, capture_output=True, check=True)
    assert sorted(p.name for p in Path(env["SPRAYCC_HISTORY"]).iterdir()) == before


@pytest.mark.timeout(120)
def test_server_records_history_and_the_next_server_reads_it(
    workspace: Path, env: dict[str, str]
) -> None:
    hist_dir = Path(env["SPRAYCC_HISTORY"])
    hist_dir.mkdir(parents=True)
    junk = hist_dir / "junk-1-aa.log"
    junk.write_bytes(b"\xff\x00 not a history record\n")
    os.utime(junk, (junk.stat().st_mtime - 7200,) * 2)  # its writer is long gone
    (workspace / "a.c").write_text("int a;\n")
    (workspace / "sub").mkdir()
    (workspace / "sub" / "b.c").write_text("int b;\n")
    config = "status_interval = 0\nlocal_count = 1\n"
    with running_server(workspace, env, config=config) as srv:
        warning = srv.read_until("history: ")
        assert "junk-1-aa.log" in warning and "ignored" in warning  # reported, not fatal
        for cwd, src in ((workspace, "a.c"), (workspace / "sub", "b.c")):
            r = run([SPRAYCC, "run", "gcc", "-c", src], cwd, env)
            assert r.returncode == 0, r.stderr.decode()
    h = History(hist_dir)
    assert h.load() == []  # the server's compaction replaced the damaged file
    keys = {key for key, _ts, _s in h.items()}
    compiler = Path(os.path.realpath(shutil.which("gcc") or "gcc")).name
    assert keys == {f"{compiler} -c a.o", f"{compiler} -c sub/b.o"}
    with running_server(workspace, env, config=config) as srv:
        assert "history: 2 known steps" in srv.read_until("known steps")
    r = run([SPRAYCC, "history", "-n", "2", "--json"], workspace, env)
    assert {row["key"] for row in json.loads(r.stdout)["longest"]} == keys
