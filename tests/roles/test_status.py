"""`spraycc status` / `spraycc stop`, the server's status lines, summary and log file.

Unit part: the broker's accounting (every submitted task ends up in exactly one bucket, slot
time held vs busy) and the text rendering. End-to-end part: a real server, a real
`make -j8` of examples/demo, `spraycc status --json` polled while it runs, and both stop modes
with a build in flight.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import copy_demo
from helpers import SPRAYCC, Net, ServerProc, run, running_server, snapshot, wait_for

from spraycc import status as st
from spraycc.server.broker import Broker, Hooks
from spraycc.wire import protocol as p

CODE = "c0de"
CONFIG = "idle_shutdown_after = 60\nrelease_delay = 30\nstatus_interval = 1\nlocal_count = 2\n"


# ----------------------------------------------------------------------------- unit: broker

def in_buckets(s: dict) -> int:
    return s["done"] + s["failed"] + s["running"] + s["queued"] + s["cancelled"] + s["fallback"]


def test_every_submitted_task_lands_in_one_bucket() -> None:
    net = Net()

    class Extra(Hooks):
        def snapshot_extra(self) -> dict:
            return {"pools": [{"name": "x"}]}

    b = Broker(net.send, CODE, clock=net.clock, hooks=Extra(), max_attempts=2)

    def submit(peer: bytes) -> None:
        b.on_message(peer, p.encode(p.Submit(CODE, peer, 0, peer)), [b"B"])

    b.on_message(b"E1", p.encode(p.Ready(CODE, "h1", 1, "L1")), [])
    for r in (b"R1", b"R2", b"R3", b"R4", b"R5"):
        submit(r)
    s = b.snapshot()
    assert (s["submitted"], s["running"], s["queued"]) == (5, 1, 4)
    assert in_buckets(s) == 5 and s["pools"] == [{"name": "x"}]
    net.now += 2
    b.on_message(b"E1", p.encode(p.Result(1, 1, 0, 2.0, "h1", "")), [])  # R1 done
    b.on_message(b"R2", p.encode(p.Cancel(0)), [])  # R2 interrupted while running
    b.on_message(b"E1", p.encode(p.Result(2, 1, 0, 0.0, "h1", "")), [])  # its cancel ack
    b.on_message(b"E1", p.encode(p.Result(3, 1, 0, 0.0, "h1", "no such dir")), [])  # R3 back
    net.gone.add(b"R4")
    b.on_message(b"E1", p.encode(p.Output(4, 1, 1)), [b"x"])  # R4 vanished: dropped
    b.on_message(b"E1", p.encode(p.Result(4, 1, 0, 0.0, "h1", "")), [])  # its cancel ack
    s = b.snapshot()
    assert (s["done"], s["cancelled"], s["fallback"], s["queued"], s["running"]) == (1, 2, 1, 0, 1)
    assert in_buckets(s) == 5
    b.cancel_all("stop --now")  # R5 is told to run locally
    s = b.snapshot()
    assert (s["fallback"], s["cancelled"], s["running"]) == (2, 2, 0)
    assert in_buckets(s) == 5
    assert s["slowest"][0] == {"name": "R1", "host": "h1", "elapsed": 2.0}


def test_slot_seconds_held_and_busy_survive_the_executor() -> None:
    net = Net()
    b = Broker(net.send, CODE, clock=net.clock, release_delay=5)
    b.on_message(b"E1", p.encode(p.Ready(CODE, "h1", 1, "L1")), [])
    b.on_message(b"R1", p.encode(p.Submit(CODE, b"k", 0, b"a.o")), [b"B"])
    net.now += 3
    assert b.slot_seconds(net.now) == (3.0, 3.0)  # running: busy so far counts
    b.on_message(b"E1", p.encode(p.Result(1, 1, 0, 3.0, "h1", "")), [])
    net.now += 1
    assert b.slot_seconds(net.now) == (4.0, 3.0)
    net.now += 5
    b.tick()  # idle past release_delay: released
    assert not b.executors
    assert b.slot_seconds(net.now + 100) == (9.0, 3.0)
    assert (b.snapshot()["executor_seconds"], b.snapshot()["busy_seconds"]) == (9.0, 3.0)


def test_a_stopping_broker_turns_local_slot_requests_away() -> None:
    net = Net()
    b = Broker(net.send, CODE, clock=net.clock)
    b.on_message(b"C", p.encode(p.Stop(CODE, False)), [])
    b.on_message(b"R1", p.encode(p.Local(CODE, b"ld")), [])
    (last,) = [p.decode(f[0]) for peer, f in net.sent if peer == b"R1"]
    assert isinstance(last, p.Fail) and last.fallback and not b.runners


# -------------------------------------------------------------------------- unit: rendering

SNAP = {
    "workspace": "/ws", "pid": 42, "uptime": 75.0, "submitted": 10, "queued": 2, "running": 3,
    "done": 5, "failed": 0, "retried": 1, "cancelled": 0, "fallback": 0, "local_done": 1,
    "local_failed": 0, "local_running": 1, "local_waiting": 0, "rate": 2.5,
    "bytes_out": 1_500_000, "executor_seconds": 100.0, "busy_seconds": 80.0, "executors": 3,
    "idle_executors": 0, "pending_executors": 2, "remaining": None, "remaining_known": 1,
    "remaining_tasks": 5, "stopping": False,
    "pools": [{"name": "start", "cmd": "sbatch -p x /bin/spraycc", "limit": 10, "running": 3,
               "pending": 2, "error": "sbatch: error: invalid partition"}],
    "longest_running": [{"name": "build/big.o", "host": "node7", "elapsed": 12.5}],
}


def test_render_shows_every_figure_and_fits_the_width() -> None:
    text = "\n".join(st.render(SNAP, width=200))
    for needle in ("submitted 10", "queued 2", "running 3", "done 5", "local      done 1",
                   "2.5 tasks/s", "1.5 MB", "80%", "3 connected", "2 pending",
                   "sbatch -p x /bin/spraycc", "invalid partition", "node7", "build/big.o",
                   "12.5 s", "up 0:01:15", "history knows 1 of the 5"):
        assert needle in text, needle
    assert all(len(line) <= 30 for line in st.render(SNAP, width=30))
    assert len(st.render(dict(SNAP, longest_running=SNAP["longest_running"] * 50), rows=20)) <= 20
    assert "~0:02:00" in st.remaining_text(dict(SNAP, remaining=120.0, remaining_known=5))
    assert st.remaining_text(dict(SNAP, remaining_tasks=0)) == "nothing in flight"
    assert json.loads(st.as_json(SNAP)) == SNAP


def test_log_file_rotates(tmp_path: Path) -> None:
    from spraycc.cli import setup_logging

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    logfile = tmp_path / "logs" / "server.log"
    try:
        setup_logging(False, logfile)
        mine = [h for h in root.handlers if h not in before]
        for h in mine:
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
                h.setLevel(logging.CRITICAL)  # keep pytest's stderr quiet
        line = "x" * 1000
        for _ in range(5200):  # a little over the 5 MB rotation size
            logging.getLogger("spraycc.test").debug(line)
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
                h.close()
        root.setLevel(level)
    assert (tmp_path / "logs" / "server.log.1").stat().st_size > 4_000_000
    assert logfile.stat().st_size < 1_000_000


# ------------------------------------------------------------------------ end to end

def status_json(ws: Path, env: dict[str, str]) -> dict:
    r = run([SPRAYCC, "status", "--json"], ws, env, timeout=30)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def start_build(ws: Path, env: dict[str, str], jobs: int = 8) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["make", f"-j{jobs}", "LAUNCHER=spraycc run"], cwd=ws, env=dict(env, SPRAYCC_VERBOSE="1"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def finish(build: subprocess.Popen[bytes], timeout: float = 240) -> str:
    try:
        _out, err = build.communicate(timeout=timeout)
    finally:
        if build.poll() is None:
            build.kill()
            build.communicate()
    assert build.returncode == 0, err.decode()
    return err.decode()


def objects(root: Path) -> dict[str, tuple[bytes, int]]:
    return snapshot(root / "build", skip=lambda q: ".spraycc-tmp" in q.name)


@pytest.fixture(scope="module")
def local_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, int]]:
    """The demo built plainly, to compare spraycc's outputs with."""
    ws = copy_demo(tmp_path_factory.mktemp("local") / "demo")
    r = subprocess.run(["make", "-s", "-j4"], cwd=ws, capture_output=True, timeout=280)
    assert r.returncode == 0, r.stderr.decode()
    return objects(ws)


@pytest.mark.timeout(300)
def test_status_json_counts_add_up_during_a_real_build(
    tmp_path: Path, env: dict[str, str], local_build: dict
) -> None:
    ws = copy_demo(tmp_path / "demo")
    with running_server(ws, env, config=CONFIG) as srv:
        build = start_build(ws, env)
        samples = []
        try:
            while build.poll() is None:
                s = status_json(ws, env)
                samples.append(s)
                assert s["submitted"] == s["done"] + s["failed"] + s["running"] + s["queued"]
                assert s["cancelled"] == s["fallback"] == 0
                assert s["executors"] == sum(pool["running"] for pool in s["pools"])
                assert s["running"] <= s["executors"] <= 2 and len(s["longest_running"]) == \
                    s["running"]
        finally:
            err = finish(build)
        # The last step's DONE may still be on its way when make has finished: poll.
        final = status_json(ws, env)
        deadline = time.monotonic() + 10
        while final["local_done"] < 2 and time.monotonic() < deadline:
            final = status_json(ws, env)
    log = srv.collect()
    remote_runs = err.count("spraycc: ran on ")  # every runner whose step ran remotely
    local_runs = err.count("spraycc: local: ")  # steps classified local: the link and ar
    assert any(s["running"] and s["queued"] for s in samples), "never saw the build in flight"
    assert [s["done"] for s in samples] == sorted(s["done"] for s in samples)
    assert final["submitted"] == final["done"] == remote_runs == 52
    assert final["failed"] == final["running"] == final["queued"] == 0
    assert final["local_done"] == local_runs == 2
    assert final["bytes_out"] > 0 and final["busy_seconds"] <= final["executor_seconds"]
    assert objects(ws) == local_build
    # The server's terminal: status lines while busy, the summary at exit.
    assert re.search(r"\d+/\d+ done, \d+ running, \d+ queued, \d+ local \| executors \d", log)
    assert "summary: 52 remote tasks (0 failed, 0 retried, 0 handed back" in log
    assert "2 local (0 failed)" in log and "slot efficiency" in log and "slowest:" in log
    # ... and the same events in the log file under the platformdirs log dir.
    logfile = Path(env["XDG_STATE_HOME"]) / "spraycc" / "log" / "server.log"
    text = logfile.read_text()
    assert "summary: 52 remote tasks" in text and " done, " in text and "slot efficiency" in text


def wait_for_work_in_flight(ws: Path, env: dict[str, str]) -> dict:
    def busy() -> dict | None:
        s = status_json(ws, env)
        return s if s["running"] and s["queued"] >= 2 else None

    return wait_for(busy, 120, "tasks running and queued")  # type: ignore[return-value]


def stop_during_build(tmp_path: Path, env: dict[str, str], stop_args: list[str],
                      exit_timeout: float) -> tuple[Path, subprocess.CompletedProcess[bytes],
                                                    str, str]:
    """Start a server and a demo build, run `spraycc stop STOP_ARGS` while tasks are running
    and queued, check the server exits at once; return (workspace, the stop command's result,
    the build's stderr, the server's log)."""
    ws = copy_demo(tmp_path / "demo")
    (ws / ".spraycc").write_text(CONFIG)
    srv = ServerProc(ws, env, [])
    build = None
    try:
        srv.read_until("server: ")
        build = start_build(ws, env)
        wait_for_work_in_flight(ws, env)
        stop = run([SPRAYCC, "stop", *stop_args], ws, env, timeout=120)
        assert stop.returncode == 0, stop.stderr.decode()
        assert srv.proc.wait(timeout=exit_timeout) == 0
        err = finish(build)
    finally:
        if build is not None and build.poll() is None:
            build.kill()
            build.communicate()
        srv.stop()
    return ws, stop, err, srv.collect()


@pytest.mark.timeout(300)
def test_stop_drains_a_build_in_flight(
    tmp_path: Path, env: dict[str, str], local_build: dict
) -> None:
    ws, stop, err, log = stop_during_build(tmp_path, env, [], 60)
    assert not (ws / ".spraycc_server").exists()  # `stop` waited for the server's exit
    said = stop.stderr.decode()
    busy = int(re.search(r"after its (\d+) queued and running tasks", said).group(1))
    assert busy >= 2 and "the server has exited" in said
    assert "stop requested (drain)" in log and "shutting down: stopped by request" in log
    # Everything the server had accepted ran remotely to the end; nothing was handed back.
    done = int(re.search(r"summary: (\d+) remote tasks \(0 failed, 0 retried, 0 handed back",
                         log).group(1))
    assert done == err.count("spraycc: ran on ") and done >= busy
    assert objects(ws) == local_build


@pytest.mark.timeout(60)
def test_a_step_submitted_while_the_server_drains_is_told_it_is_stopping(
        workspace: Path, env: dict[str, str]) -> None:
    """`spraycc stop` lets the tasks in flight finish; a step arriving meanwhile runs locally
    with one warning, "the server is stopping" (docs/usage.md, Stopping)."""
    gate = workspace / "gate"
    (workspace / "a.c").write_text("int a;\n")
    with running_server(workspace, env, config=CONFIG) as srv:
        held = subprocess.Popen(
            [SPRAYCC, "run", "--remote", "sh", "-c",
             f"touch started; while [ ! -e {gate} ]; do sleep 0.05; done; echo held"],
            cwd=workspace, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        stop = None
        try:
            wait_for((workspace / "started").exists, 30, "the held task to start")
            stop = subprocess.Popen([SPRAYCC, "stop"], cwd=workspace, env=env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE)
            srv.read_until("stop requested (drain)", timeout=30)
            late = run([SPRAYCC, "run", "gcc", "-c", "a.c"], workspace, env, timeout=60)
            assert late.returncode == 0 and (workspace / "a.o").exists()
            assert late.stderr == b"spraycc: the server is stopping; running locally\n", \
                late.stderr
            assert srv.proc.poll() is None  # still draining the held task
            gate.touch()
            out, err = held.communicate(timeout=30)
            assert held.returncode == 0 and out == b"held\n", err.decode()
            _, said = stop.communicate(timeout=30)
            assert stop.returncode == 0 and b"the server has exited" in said, said
        finally:
            gate.touch()
            for proc in (held, stop):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                if proc is not None:
                    proc.communicate()


@pytest.mark.timeout(300)
def test_stop_now_hands_work_back_and_the_build_still_succeeds(
    tmp_path: Path, env: dict[str, str], local_build: dict
) -> None:
    ws, _stop, err, log = stop_during_build(tmp_path, env, ["--now"], 30)
    assert "stop requested (now)" in log
    handed = int(re.search(r"(\d+) handed back to run locally", log).group(1))
    assert handed >= 2  # at least the queued ones went back to their runners
    assert handed == (err.count("the server was stopped; running locally")
                      + err.count("the server is shutting down; running locally"))
    assert objects(ws) == local_build


@pytest.mark.timeout(120)
def test_remaining_time_from_history(workspace: Path, env: dict[str, str]) -> None:
    """Steps seen before have a duration in the history, so the status estimates the time
    left for the work in flight; before that it says unknown."""

    def launch() -> list[subprocess.Popen[bytes]]:
        return [subprocess.Popen(
            [SPRAYCC, "run", "--remote", "--output", f"out{i}", "sh", "-c",
             'sleep 1.5; echo done > "$1"', "sh", f"out{i}"],
            cwd=workspace, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for i in range(4)]

    def wait_all(procs: list[subprocess.Popen[bytes]]) -> None:
        for proc in procs:
            _out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err.decode()

    def in_flight() -> dict | None:
        s = status_json(workspace, env)
        return s if s["running"] else None

    with running_server(workspace, env, config=CONFIG):
        first = launch()
        try:
            s = wait_for(in_flight, 30, "tasks in flight")
            assert s["remaining"] is None and s["remaining_known"] == 0  # type: ignore[index]
        finally:
            wait_all(first)
        second = launch()
        try:
            s = wait_for(in_flight, 30, "tasks in flight again")
        finally:
            wait_all(second)
    assert isinstance(s, dict) and s["remaining_known"] == s["remaining_tasks"] > 0
    # At most 4 tasks of ~1.5 s on 2 executors: about 3 s of work left, never more.
    assert 0 < s["remaining"] <= 3.5
    assert "~" in st.remaining_text(s)


@pytest.mark.timeout(60)
def test_status_from_another_host_goes_over_curve(workspace: Path, env: dict[str, str],
                                                  tmp_path: Path) -> None:
    """A client on another host uses the tcp address with CURVE: the user's key is let in, a
    stranger's key gets one clear line."""
    with running_server(workspace, env, config=CONFIG) as srv:
        sub = workspace / "sub"
        sub.mkdir()
        text = srv.server_file.read_text().replace(f"host={os.uname().nodename}",
                                                   "host=another-host")
        (sub / ".spraycc_server").write_text(text)  # the nearest file: as seen elsewhere
        s = status_json(sub, env)
        assert s["pid"] == srv.proc.pid
        stranger = dict(env, HOME=str(tmp_path / "stranger"))
        (tmp_path / "stranger").mkdir()
        assert run([SPRAYCC, "init"], tmp_path, stranger).returncode == 0  # their own key
        r = run([SPRAYCC, "status", "--once"], sub, stranger, timeout=30)
        assert r.returncode == 1 and r.stdout == b""
        (line,) = r.stderr.decode().splitlines()
        assert line.startswith("spraycc: ") and "does not accept this user's key" in line
