"""Executor supply (spraycc.server.supply) and the executor's own ways of leaving.

The ramp is pure logic: it is driven here with a fake clock and fake submit commands (in-memory
processes whose "output" is a recorded submit message). Job bookkeeping is checked with real
`sh -c` submit commands that print recorded bsub/qsub/sbatch output and a cancel program that
records its arguments. The executor's exits (wall time, server gone) and the fallback when no
executor can be started are checked with real processes through the real CLI. Real Slurm is
in tests/test_slurm_e2e.py.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from pathlib import Path

import pytest
import zmq
from helpers import SPRAYCC, ServerProc, executor_pids, run, running_server, wait_for

from spraycc.executor import Executor
from spraycc.server.config import Config
from spraycc.server.process import Options, Server, default_bind
from spraycc.server.supply import Pool, Supply
from spraycc.wire import protocol as p

# ------------------------------------------------------------------------------ fakes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeProc:
    """A submit command that has already finished (like sbatch: it returns at once)."""

    def __init__(self, returncode: int | None) -> None:
        self.pid = 999_999_999  # never signalled: the supply under test gets a fake killpg
        self.returncode = returncode

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        assert self.returncode is not None, "a running fake process would block"
        return self.returncode


class FakeScheduler:
    """Stands in for `sh -c "<start_cmd> exec ..."`: records each submission and writes the
    scheduler's answer to the launch's log file, like the real command's output."""

    def __init__(self) -> None:
        self.cmdlines: list[str] = []
        self.status = 0
        self.output = "Submitted batch job {n}\n"
        self.signals: list[tuple[int, int]] = []

    def spawn(self, cmdline: str, logfile: Path) -> FakeProc:
        self.cmdlines.append(cmdline)
        logfile.write_text(self.output.format(n=100 + len(self.cmdlines)))
        return FakeProc(self.status)

    def killpg(self, pid: int, sig: int) -> None:
        self.signals.append((pid, sig))


def cluster_pool(name: str = "start", *, limit: int = 200, initial: int = 5, keep: int = 3,
                 cancel_cmd: str = "") -> Pool:
    return Pool(name, f"sbatch -p {name} /x/spraycc", limit, False, initial, keep,
                scheduler="slurm", cancel_cmd=cancel_cmd)


SUPPLIES: list[Supply] = []


def make_supply(tmp_path: Path, pools: list[Pool], clock: Clock, sched: FakeScheduler,
                **kw: object) -> Supply:
    supply = Supply(pools, callme="10.0.0.1:5555", code="c0de", logdir=tmp_path, clock=clock,
                    spawn=sched.spawn, killpg=sched.killpg, **kw)  # type: ignore[arg-type]
    SUPPLIES.append(supply)
    return supply


@pytest.fixture(autouse=True)
def _reap_cancel_commands():
    """Cancel commands run in the background: wait for the ones a test started."""
    yield
    while SUPPLIES:
        for proc in SUPPLIES.pop().cancels:
            proc.wait(10)


def connect(supply: Supply, pool: Pool, n: int) -> None:
    """The n oldest pending executors of `pool` connect (READY)."""
    pending = [launch.id for launch in pool.launches.values() if launch.state == "pending"]
    assert len(pending) >= n
    for launch_id in pending[:n]:
        supply.on_connected(launch_id, "node", "10.0.0.9")


def leave(supply: Supply, pool: Pool, n: int) -> None:
    connected = [launch.id for launch in pool.launches.values() if launch.state == "connected"]
    for launch_id in connected[:n]:
        supply.on_gone(launch_id)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sched() -> FakeScheduler:
    return FakeScheduler()


# -------------------------------------------------------------------------------- ramp


def test_initial_count_at_once_then_keep_pending(tmp_path, clock, sched) -> None:
    pool = cluster_pool(initial=5, keep=3)
    supply = make_supply(tmp_path, [pool], clock, sched)
    supply.reconcile(0)
    assert sched.cmdlines == []  # no work, no executor
    supply.reconcile(52)
    assert (pool.pending, pool.connected) == (5, 0)
    supply.reconcile(52)
    assert pool.stats.submitted == 5  # nothing more while none has connected
    # every command line ends with what the executor needs
    assert re.fullmatch(r"sbatch -p start /x/spraycc exec --callme=10\.0\.0\.1:5555 "
                        r"--code=c0de --launch=start-1", sched.cmdlines[0])
    connect(supply, pool, 1)
    supply.reconcile(52)
    assert (pool.pending, pool.connected) == (4, 1)  # 4 still on their way >= keep_pending
    connect(supply, pool, 2)
    supply.reconcile(52)
    assert (pool.pending, pool.connected) == (3, 3)  # 2 left: topped up to keep_pending
    for _ in range(10):  # each connecting executor triggers its replacement
        connect(supply, pool, 1)
        supply.reconcile(52)
        assert pool.pending == 3
    assert pool.connected == 13 and pool.stats.submitted == 16


def test_never_more_than_the_work(tmp_path, clock, sched) -> None:
    pool = cluster_pool(initial=5, keep=3)
    supply = make_supply(tmp_path, [pool], clock, sched)
    supply.reconcile(2)
    assert pool.pending == 2
    connect(supply, pool, 2)
    supply.reconcile(2)  # both tasks have an executor: no more pending
    assert (pool.pending, pool.connected) == (0, 2)
    supply.reconcile(4)
    assert (pool.pending, pool.connected) == (2, 2)
    supply.reconcile(1)  # the work shrank: nothing new, nothing taken back yet
    assert pool.stats.submitted == 4


def test_never_more_than_max_count(tmp_path, clock, sched) -> None:
    pool = cluster_pool(initial=5, keep=3)
    supply = make_supply(tmp_path, [pool], clock, sched, limit=7)
    supply.reconcile(100)
    for _ in range(10):
        connect(supply, pool, pool.pending)
        supply.reconcile(100)
        assert pool.active <= 7
    assert pool.connected == 7 and pool.pending == 0
    leave(supply, pool, 2)  # two leave (released, wall time): room for two more
    supply.poll()
    supply.reconcile(100)
    assert (pool.pending, pool.connected) == (2, 5)


def test_both_splits_the_first_wave_and_the_free_queue_takes_the_load(
        tmp_path, clock, sched) -> None:
    full = cluster_pool("start", initial=3, keep=3)  # initial_count 5 split 3 + 2
    free = cluster_pool("alt", initial=2, keep=3)
    supply = make_supply(tmp_path, [full, free], clock, sched, limit=20)
    supply.reconcile(50)
    assert (full.pending, free.pending) == (3, 2)
    for _ in range(12):  # only the free queue's jobs start
        connect(supply, free, 1)
        supply.reconcile(50)
        assert full.pending == 3 and full.stats.submitted == 3
        assert free.pending == 3
    assert free.connected == 12 and free.stats.submitted == 15
    for _ in range(10):
        connect(supply, free, free.pending)
        supply.reconcile(50)
    assert full.active + free.active == 20  # the limit counts both pools
    assert free.connected == 17 and full.stats.submitted == 3


def test_local_pool_fills_first_and_counts_as_cover(tmp_path, clock, sched) -> None:
    local = Pool("local", "python -m spraycc", 2, True)
    pool = cluster_pool(initial=5)
    supply = make_supply(tmp_path, [local, pool], clock, sched)
    supply.reconcile(3)
    assert local.pending == 2 and pool.pending == 1
    assert sched.cmdlines[0].startswith("python -m spraycc exec ")


def test_local_executors_call_back_on_the_private_endpoint(tmp_path, clock, sched) -> None:
    local = Pool("local", "python -m spraycc", 1, True)
    pool = cluster_pool(initial=1)
    supply = make_supply(tmp_path, [local, pool], clock, sched, extra_args=["--serverkey=K"],
                         local_callme="ipc:///run/s", local_args=["--tmpdir=/t"])
    supply.reconcile(2)
    assert sched.cmdlines[0] == ("python -m spraycc exec --callme=ipc:///run/s --code=c0de "
                                 "--launch=local-1 --tmpdir=/t")
    assert "--callme=10.0.0.1:5555 " in sched.cmdlines[1]
    assert sched.cmdlines[1].endswith(" --serverkey=K")


def test_zero_initial_and_keep_pending_still_start_one(tmp_path, clock, sched) -> None:
    pool = cluster_pool(initial=0, keep=0)
    supply = make_supply(tmp_path, [pool], clock, sched)
    supply.reconcile(10)
    assert pool.pending == 1  # 0 would leave the work waiting for ever


# ------------------------------------------------------------------ job bookkeeping


def recorder(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """An executable `name` that appends its arguments (one line per call) to a file."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    calls = tmp_path / f"{name}.calls"
    prog = bindir / name
    prog.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    prog.chmod(0o755)
    return prog, calls


def test_job_ids_come_from_the_submit_output(tmp_path, clock, sched) -> None:
    pool = cluster_pool()
    supply = make_supply(tmp_path, [pool], clock, sched)
    supply.reconcile(2)
    supply.poll()
    assert [launch.job_id for launch in pool.launches.values()] == ["101", "102"]
    connect(supply, pool, 1)
    assert pool.stats.latencies == [0.0]


def test_pending_timeout_cancels_and_forgets(tmp_path, clock, sched) -> None:
    prog, calls = recorder(tmp_path, "fake-scancel")
    pool = cluster_pool(initial=2, keep=2, cancel_cmd=f"{prog} --quiet")
    supply = make_supply(tmp_path, [pool], clock, sched, pending_timeout=60)
    supply.reconcile(10)
    supply.poll()
    clock.now += 30
    connect(supply, pool, 1)  # the pool works: a timeout is not a failure of the pool
    supply.reconcile(10)  # start-3 replaces it
    supply.poll()
    assert pool.pending == 2
    clock.now += 31  # start-2 is older than 60 s now, start-3 is not
    supply.poll()
    assert pool.pending == 1 and pool.stats.forgotten == 1 and pool.stats.cancelled == 1
    wait_for(lambda: calls.exists() and calls.read_text(), 10, "the cancel command")
    assert calls.read_text() == "--quiet 102\n"
    assert pool.failed_until == 0.0
    supply.reconcile(10)  # it no longer blocks the ramp
    assert pool.pending == 2


def test_pending_timeout_of_a_pool_that_never_connects_is_a_failure(
        tmp_path, clock, sched, caplog) -> None:
    _, calls = recorder(tmp_path, "scancel")
    pool = cluster_pool(initial=3, cancel_cmd=str(tmp_path / "bin" / "scancel"))
    supply = make_supply(tmp_path, [pool], clock, sched, pending_timeout=60)
    supply.reconcile(10)
    supply.poll()
    assert not supply.exhausted
    clock.now += 61
    with caplog.at_level(logging.INFO, logger="spraycc.server.supply"):
        supply.poll()
    assert pool.pending == 0 and pool.stats.forgotten == 3
    assert supply.exhausted  # the server sends the queued work back to run locally
    assert "did not connect within 60 s" in caplog.text
    assert "no executor connected within 60 s" in pool.last_error
    wait_for(lambda: calls.exists() and calls.read_text().split() == ["101", "102", "103"], 10,
             "the cancel command")


def test_failing_submit_is_reported_once_and_backs_off(tmp_path, clock, sched, caplog) -> None:
    sched.status = 1
    sched.output = "sbatch: error: invalid partition specified: nosuch\n"
    pool = cluster_pool(initial=5)
    supply = make_supply(tmp_path, [pool], clock, sched)
    with caplog.at_level(logging.INFO, logger="spraycc.server.supply"):
        supply.reconcile(20)
        assert len(sched.cmdlines) == 5
        supply.poll()
        assert pool.stats.failed == 5 and supply.exhausted
        for _ in range(100):  # the server's loop ticks: no tight retry loop
            supply.poll()
            supply.reconcile(20)
        assert len(sched.cmdlines) == 5
        clock.now += 10.5  # first back-off: 10 s
        supply.reconcile(20)
        assert len(sched.cmdlines) == 10
        supply.poll()
        clock.now += 10.5  # second one: 20 s
        supply.reconcile(20)
        assert len(sched.cmdlines) == 10
        clock.now += 10
        supply.reconcile(20)
        assert len(sched.cmdlines) == 15
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert "invalid partition specified: nosuch" in errors[0].getMessage()
    assert "exit status 1" in errors[0].getMessage()
    assert pool.last_error.startswith("exit status 1: sbatch: error: invalid partition")


def test_no_work_withdraws_pending_after_release_delay(tmp_path, clock, sched) -> None:
    prog, calls = recorder(tmp_path, "fake-cancel")
    pool = cluster_pool(initial=3, cancel_cmd=str(prog))
    supply = make_supply(tmp_path, [pool], clock, sched, release_delay=30)
    supply.reconcile(3)
    supply.poll()
    supply.reconcile(0)
    clock.now += 29
    supply.reconcile(0)
    assert pool.pending == 3
    clock.now += 2
    supply.reconcile(0)
    assert pool.pending == 0 and pool.stats.cancelled == 3
    wait_for(lambda: calls.exists() and calls.read_text(), 10, "the cancel command")
    assert calls.read_text().split() == ["101", "102", "103"]


# Recorded / documented submit output of each scheduler (see tests/test_scheduler.py) and the
# start commands of conf/*.toml shape.
SUBMITTERS = [
    ("sge", "qsub", 'echo \'Your job 4711 ("spraycc-exec") has been submitted\'', "qdel", "4711"),
    ("lsf", "bsub", "echo 'Job <815> is submitted to queue <normal>.'", "bkill", "815"),
    ("openlava", "bsub", "echo 'Job <816> is submitted to default queue <normal>.'", "bkill",
     "816"),
    ("pbs", "qsub", "echo 1234.pbs-server", "qdel", "1234.pbs-server"),
    ("slurm", "sbatch", "echo 'Submitted batch job 42'", "scancel", "42"),
]


@pytest.mark.parametrize(("scheduler", "submit", "prints", "cancel", "job"), SUBMITTERS,
                         ids=[s[0] for s in SUBMITTERS])
def test_shutdown_cancels_pending_jobs_with_the_scheduler_command(
        tmp_path, monkeypatch, caplog, scheduler, submit, prints, cancel, job) -> None:
    """Real `sh -c` submissions whose output is the scheduler's; at exit the default cancel
    command (found on PATH) gets the ids, synchronously, before shutdown() returns."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    args = tmp_path / "submit.args"
    (bindir / submit).write_text(f'#!/bin/sh\necho "$@" >> {args}\n{prints}\n')
    (bindir / submit).chmod(0o755)
    _, calls = recorder(tmp_path, cancel)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    pool = Pool("start", f"{submit} -q normal /opt/spraycc/bin/spraycc", 10, False, 2, 3,
                scheduler=scheduler)
    logdir = tmp_path / "logs"
    logdir.mkdir()
    supply = Supply([pool], callme="h:1", code="c0de", logdir=logdir)
    supply.reconcile(5)
    wait_for(lambda: (supply.poll(), all(la.job_id for la in pool.launches.values()))[1], 10,
             "the submit commands to finish")
    assert [la.job_id for la in pool.launches.values()] == [job, job]
    supply.on_connected("start-1", "node1", "10.1.1.1")  # connected ones are released, not killed
    with caplog.at_level(logging.INFO, logger="spraycc.server.supply"):
        supply.shutdown()
    assert calls.read_text() == f"{job}\n"
    assert f"cancelled 1 pending job(s) of pool 'start': {cancel} {job}" in caplog.text
    assert sorted(args.read_text().splitlines()) == [
        f"-q normal /opt/spraycc/bin/spraycc exec --callme=h:1 --code=c0de --launch=start-{i}"
        for i in (1, 2)]
    assert pool.stats.cancelled == 1


def test_no_job_id_is_warned_once(tmp_path, clock, sched, caplog) -> None:
    sched.output = "queued, thank you\n"
    pool = cluster_pool()
    supply = make_supply(tmp_path, [pool], clock, sched)
    with caplog.at_level(logging.INFO, logger="spraycc.server.supply"):
        supply.reconcile(5)
        supply.poll()
        supply.shutdown()
    assert caplog.text.count("no job id in the output") == 1
    assert "5 pending executor(s) of pool 'start' have no known job id" in caplog.text


# ---------------------------------------------------------------------- server wiring


@pytest.fixture
def server_factory(tmp_path):
    made: list[Server] = []

    def make(values: dict, opts: Options | None = None) -> Server:
        server = Server(tmp_path, Config(values), opts)
        made.append(server)
        return server

    yield make
    for server in made:
        server.transport.close()
        server.ctx.term()
        server.rundir.rmdir()


def test_pools_for_cpus_alt_both(server_factory) -> None:
    cfg = {"start_cmd": "sbatch -p a /x", "alt_start_cmd": "qsub -b y /x", "initial_count": 5,
           "keep_pending": 2, "max_count": 40}
    pools = server_factory(cfg).make_pools()
    assert [(p.name, p.limit, p.initial, p.scheduler) for p in pools] == [
        ("start", 40, 5, "slurm")]
    pools = server_factory(cfg, Options(alt=True, cpus=12)).make_pools()
    assert [(p.name, p.cmd, p.limit, p.initial, p.scheduler) for p in pools] == [
        ("alt", "qsub -b y /x", 12, 5, "sge")]
    pools = server_factory(cfg, Options(both=True)).make_pools()
    assert [(p.name, p.limit, p.initial, p.keep_pending) for p in pools] == [
        ("start", 40, 3, 2), ("alt", 40, 2, 2)]
    local = server_factory({"local_count": 2, **cfg}).make_pools()
    assert [(p.name, p.local, p.limit) for p in local] == [("local", True, 2),
                                                           ("start", False, 40)]
    alone = server_factory({}, Options(cpus=3)).make_pools()
    assert [(p.name, p.local, p.limit) for p in alone] == [("local", True, 3)]


def test_bind_and_callback_addresses() -> None:
    cluster = {"start_cmd": "sbatch /x"}
    assert default_bind(Config({}), Options()) == ("127.0.0.1", "127.0.0.1")
    assert default_bind(Config({**cluster, "bind_address": "10.231.0.1"}), Options()) == (
        "10.231.0.1", "10.231.0.1")
    assert default_bind(Config({**cluster, "callback_host": "login1"}), Options()) == (
        "0.0.0.0", "login1")
    bind, callback = default_bind(Config(cluster), Options())
    assert bind == "0.0.0.0" and callback and not callback.startswith("127.")
    loop = Config({**cluster, "bind_address": "0.0.0.0", "callback_host": "login1"})
    assert default_bind(loop, Options(loopback=True)) == ("127.0.0.1", "127.0.0.1")


# ------------------------------------------------------------------- the executor side


def test_task_after_the_wall_time_is_handed_back(tmp_path) -> None:
    """A TASK that arrives after the limit is not started: the executor says DISCONNECT (the
    server re-queues the task of an executor that leaves) and the goodbye is delivered."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    ex = Executor(f"tcp://127.0.0.1:{port}", "c0de", launch="L1", tmpdir=str(tmp_path),
                  walltime=60.0)
    try:
        ex.send([p.encode(p.Ready("c0de", ex.host, os.getpid(), "L1"))])
        assert router.poll(5000)
        peer, ready = router.recv_multipart()
        assert isinstance(p.decode(ready), p.Ready)
        ex.born -= 61  # the limit has passed while the server was choosing us
        router.send_multipart([peer, p.encode(p.Task(7, 1)), b"body"])
        ex.poll_once()
        assert ex.step is None and ex.exit_reason == "wall-time limit reached"
        assert not list(Path(ex.base).iterdir()), "nothing was started"
    finally:
        ex.shutdown()  # closes with linger: the DISCONNECT leaves before the socket goes
    try:
        assert router.poll(5000)
        _, bye = router.recv_multipart()
        assert p.decode(bye) == p.Disconnect("wall-time limit reached")
    finally:
        router.close(0)
        ctx.term()


FAST = "status_interval = 1\nidle_shutdown_after = 60\n"


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for its new parent counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.timeout(60)
def test_executor_exits_when_the_server_is_killed(workspace: Path, env, tmp_path) -> None:
    env = {**env, "TMPDIR": str(tmp_path)}  # the killed server's private dir stays in here
    (workspace / "a.c").write_text("int a(void) { return 1; }\n")
    (workspace / ".spraycc").write_text(FAST + "local_count = 1\nrelease_delay = 60\n")
    srv = ServerProc(workspace, env, [])
    executors: list[int] = []
    try:
        srv.read_until("server: ")
        r = run([SPRAYCC, "run", "gcc", "-c", "a.c", "-o", "a.o"], workspace, env)
        assert r.returncode == 0, r.stderr.decode()
        executors = executor_pids(srv.proc.pid)
        assert len(executors) == 1
        srv.proc.kill()  # SIGKILL: no goodbye, no DISCONNECT
        srv.proc.wait()
        t0 = time.monotonic()
        wait_for(lambda: gone(executors[0]), 20, "the executor to notice the server is gone")
        print(f"executor left {time.monotonic() - t0:.1f} s after the server was killed")
    finally:
        for pid in executors:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        srv.kill()


@pytest.mark.timeout(60)
def test_executors_leave_at_their_wall_time_and_work_goes_on(workspace: Path, env) -> None:
    (workspace / "a.c").write_text("int a(void) { return 1; }\n")
    (workspace / "b.c").write_text("int b(void) { return 2; }\n")
    config = FAST + "local_count = 1\nexecutor_walltime = 1\nwalltime_margin = 0\n"
    with running_server(workspace, env, config=config) as srv:
        r = run([SPRAYCC, "run", "gcc", "-c", "a.c"], workspace, env)
        assert r.returncode == 0, r.stderr.decode()
        srv.read_until("leaves: wall-time limit reached")
        r = run([SPRAYCC, "run", "gcc", "-c", "b.c"], workspace, env)  # a new executor
        assert r.returncode == 0, r.stderr.decode()
        assert b"running locally" not in r.stderr
    assert (workspace / "a.o").exists() and (workspace / "b.o").exists()
    log = srv.collect()
    assert "summary: executors of pool local: 2 submitted, 2 connected" in log


@pytest.mark.timeout(60)
def test_failing_start_command_falls_back_to_local_with_a_clear_message(
        workspace: Path, env) -> None:
    for name in "abcd":
        (workspace / f"{name}.c").write_text(f"int {name}(void) {{ return 1; }}\n")
    config = FAST + ('start_cmd = "echo sbatch: error: Batch job submission failed: '
                     'Invalid account >&2; false"\nscheduler = "slurm"\n')
    with running_server(workspace, env, "--loopback", config=config) as srv:
        for name in "abcd":
            r = run([SPRAYCC, "run", "gcc", "-c", f"{name}.c"], workspace, env, timeout=30)
            assert r.returncode == 0, r.stderr.decode()
            err = r.stderr.decode()
            assert "running locally" in err and "Invalid account" in err, err
            assert (workspace / f"{name}.o").exists()
    log = srv.collect()
    assert log.count("start command of pool 'start' failed") == 1, log
    assert "sbatch: error: Batch job submission failed: Invalid account" in log
    assert log.count("queued tasks go back to their runners to run locally") == 1
    # one wave of submissions (initial_count) and then the back-off, not a loop
    m = re.search(r"summary: executors of pool start: (\d+) submitted, 0 connected, (\d+) failed",
                  log)
    assert m and m.group(1) == m.group(2) and int(m.group(1)) <= 2, log


def test_alt_and_both_exclude_each_other(workspace: Path, env) -> None:
    (workspace / ".spraycc").write_text('start_cmd = "sbatch /x"\nalt_start_cmd = "qsub /x"\n')
    r = run([SPRAYCC, "server", "--alt", "--both"], workspace, env, timeout=30)
    assert r.returncode == 2 and b"--alt and --both exclude each other" in r.stderr
    (workspace / ".spraycc").write_text('alt_start_cmd = "qsub /x"\n')
    r = run([SPRAYCC, "server", "--both"], workspace, env, timeout=30)
    assert r.returncode == 2 and b"--both needs start_cmd" in r.stderr
    assert not (workspace / ".spraycc_server").exists()


# --------------------------------------------------------------------- job status polling


def status_script(tmp_path: Path, answer: str) -> str:
    """A status_cmd that prints `answer` (with {id} replaced) for each job id it is given."""
    prog = tmp_path / "bin" / "jobstat"
    prog.parent.mkdir(exist_ok=True)
    prog.write_text(f'#!/bin/sh\nfor id; do echo "{answer}" | sed "s/{{id}}/$id/"; done\n')
    prog.chmod(0o755)
    return str(prog)


def watch_until(supply: Supply, clock: Clock, done, what: str, demand: int = 0) -> None:
    """Drive the server's loop over the supply (fake clock, real background status commands):
    poll, then ramp to `demand`."""
    def step() -> bool:
        clock.now += 1.0
        supply.poll()
        if demand:
            supply.reconcile(demand)
        return bool(done())

    wait_for(step, 20, what)


def test_dead_jobs_make_a_cold_pool_failing_and_the_rest_is_withdrawn(
        tmp_path, clock, sched, caplog) -> None:
    _, calls = recorder(tmp_path, "fake-cancel")
    pool = cluster_pool(initial=5, cancel_cmd=str(tmp_path / "bin" / "fake-cancel"))
    pool.status_cmd = status_script(tmp_path, "{id} ended 3 NonZeroExitCode")
    supply = make_supply(tmp_path, [pool], clock, sched)
    with caplog.at_level(logging.INFO, logger="spraycc.server.supply"):
        supply.reconcile(20)
        watch_until(supply, clock, lambda: pool.failing, "the pool to be failing")
    assert pool.stats.died >= 3 and pool.pending == 0 and supply.exhausted
    assert "ended without connecting (job 101: state ended, exit code 3, reason " \
           "NonZeroExitCode)" in caplog.text
    assert caplog.text.count("are failing") == 1
    assert pool.failed_until > clock.now  # it rests before trying again
    # the jobs still pending came from the same command: cancelled, not waited for
    wait_for(lambda: calls.exists() and calls.read_text(), 10, "the cancel command")
    assert calls.read_text().split() == ["104", "105"]
    snap = supply.snapshot()["start"]
    assert snap["failing"].startswith(f"{pool.stats.died} jobs ended without connecting")


def test_a_dead_job_of_a_working_pool_is_only_replaced(tmp_path, clock, sched) -> None:
    pool = cluster_pool(initial=2, keep=2)
    pool.status_cmd = status_script(tmp_path, "{id} failed 1 NodeFail")
    supply = make_supply(tmp_path, [pool], clock, sched)
    supply.reconcile(5)
    connect(supply, pool, 1)
    supply.reconcile(5)
    watch_until(supply, clock, lambda: pool.stats.died >= 3, "three deaths", demand=5)
    assert not pool.failing and not supply.exhausted
    supply.reconcile(5)
    assert pool.pending == 2  # replaced: the pool works


def test_stuck_jobs_are_cancelled(tmp_path, clock, sched) -> None:
    _, calls = recorder(tmp_path, "fake-cancel")
    pool = cluster_pool(initial=1, cancel_cmd=str(tmp_path / "bin" / "fake-cancel"))
    pool.status_cmd = status_script(tmp_path, "{id} stuck - InvalidAccount")
    supply = make_supply(tmp_path, [pool], clock, sched)
    supply.reconcile(1)
    watch_until(supply, clock, lambda: pool.stats.died, "the stuck job")
    wait_for(lambda: calls.exists() and calls.read_text(), 10, "the cancel command")
    assert calls.read_text().split() == ["101"]
