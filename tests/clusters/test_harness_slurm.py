"""The real-Slurm test harness works: jobs run, connect back from the right address, the
"full" partition never starts jobs, and stopping the cluster leaves nothing behind.

Each job runs a tiny client that connects to a TCP server in the test (port 0), sends its job
id, pid, argv and the address it believes it has, then blocks until the connection closes: so
the connection's EOF tells us the job's process is gone.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import HarnessUnavailable
from harness._util import pid_alive, wait_for
from harness.capability import unavailable
from harness.fixtures import SlurmPool
from harness.netns import NetnsHosts
from harness.slurm import CONF, LEGACY_CONF, RUN_DIR, SlurmCluster

from spraycc.server.batch import parse_job_id

REPO = Path(__file__).resolve().parents[2]
# The first batch job after slurmctld starts waits for its first scheduling pass (~3 s),
# later ones for the next 1 s tick: 30 s leaves room for a loaded machine.
CONNECT_TIMEOUT = 30.0

CLIENT = """\
#!{python}
import json, os, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=10)
s.settimeout(None)
msg = {{"job": os.environ.get("SLURM_JOB_ID"), "pid": os.getpid(), "argv": sys.argv[3:],
       "node": os.environ.get("SLURMD_NODENAME")}}
s.sendall(json.dumps(msg).encode() + b"\\n")
s.recv(1)  # hold the job until the test closes the connection or the job is killed
"""


class CallbackServer:
    """TCP server on (host, port 0) that jobs connect back to."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.host, self.port = self.sock.getsockname()[:2]
        self.conns: list[socket.socket] = []

    def accept(self, timeout: float = CONNECT_TIMEOUT) -> tuple[str, dict, socket.socket]:
        """Next connection: (peer IP, the job's message, the connection)."""
        self.sock.settimeout(timeout)
        conn, peer = self.sock.accept()
        self.conns.append(conn)
        conn.settimeout(10)
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            assert chunk, "job closed the connection before sending its message"
            data += chunk
        return peer[0], json.loads(data), conn

    def no_connection_within(self, seconds: float) -> bool:
        self.sock.settimeout(seconds)
        try:
            conn, _ = self.sock.accept()
        except TimeoutError:
            return True
        self.conns.append(conn)
        return False

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def client_script(tmp_path: Path) -> Path:
    path = tmp_path / "client.py"
    path.write_text(CLIENT.format(python=sys.executable))
    path.chmod(0o755)
    return path


@pytest.fixture
def server_factory() -> Iterator:
    servers: list[CallbackServer] = []

    def make(host: str) -> CallbackServer:
        servers.append(CallbackServer(host))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _sbatch(cluster: SlurmCluster, *args: str) -> tuple[str, str]:
    """Run sbatch the way spraycc would (plain output); returns (raw stdout, job id)."""
    cp = subprocess.run(
        ["sbatch", "-o", "/dev/null", *args],
        capture_output=True,
        text=True,
        env=cluster.env(),
        timeout=30,
        check=True,
    )
    job = parse_job_id(cp.stdout)
    assert job is not None, cp.stdout
    return cp.stdout, job


def _eof_within(conn: socket.socket, timeout: float) -> bool:
    conn.settimeout(timeout)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.slurm
@pytest.mark.timeout(90)
def test_job_connects_back_from_localhost(slurm_cluster, client_script, server_factory):
    server = server_factory("127.0.0.1")
    out, job = _sbatch(slurm_cluster, "--wrap", f"{client_script} {server.host} {server.port}")
    assert out.startswith("Submitted batch job ")
    peer, msg, conn = server.accept()
    assert peer == "127.0.0.1"
    assert msg["job"] == job and msg["node"] == "localhost"
    jobs = {j["id"]: j for j in slurm_cluster.squeue_jobs()}
    assert jobs[job]["state"] == "RUNNING" and jobs[job]["partition"] == "debug"
    conn.close()  # the job ends
    slurm_cluster.wait_for(
        lambda: job not in {j["id"] for j in slurm_cluster.squeue_jobs()}, 15, what="job to finish"
    )


@pytest.mark.slurm
@pytest.mark.timeout(90)
def test_full_partition_never_starts_but_debug_does(slurm_cluster, client_script, server_factory):
    server = server_factory("127.0.0.1")
    cmd = f"{client_script} {server.host} {server.port}"
    _, stuck = _sbatch(slurm_cluster, "-p", "full", "--wrap", cmd + " full")
    _, ok = _sbatch(slurm_cluster, "-p", "debug", "--wrap", cmd + " debug")
    _peer, msg, _ = server.accept()
    assert msg["job"] == ok and msg["argv"] == ["debug"]  # the full one did not overtake it
    state = {j["id"]: j for j in slurm_cluster.squeue_jobs()}[stuck]
    assert state["state"] == "PENDING" and state["reason"] in ("Resources", "Priority")
    # a couple of scheduler ticks later it is still pending
    assert server.no_connection_within(2.5)
    # once the blocker goes, the queue has a free CPU and the job starts
    slurm_cluster.release_full()
    _, msg, _ = server.accept()
    assert msg["job"] == stuck


@pytest.mark.slurm
@pytest.mark.timeout(90)
def test_conf_sample_start_cmd_runs_on_real_slurm(
    slurm_cluster, client_script, tmp_path, server_factory
):
    """conf/slurm.toml's start_cmd, with spraycc swapped for the client, really submits."""
    conf = tomllib.loads((REPO / "conf" / "slurm.toml").read_text())
    argv = shlex.split(conf["start_cmd"])
    server = server_factory("127.0.0.1")
    # the sample ends with the spraycc program; spraycc appends `exec --callme=... --code=N`
    argv[-1:] = [str(client_script), server.host, str(server.port)]
    # the sample names a site's partition: use this cluster's
    argv = ["--partition=debug" if a.startswith("--partition=") else a for a in argv]
    cmd = shlex.join(argv) + " exec --callme=h:1 --code=7"
    cp = subprocess.run(
        ["sh", "-c", cmd],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=slurm_cluster.env(),
        timeout=30,
        check=True,
    )
    job = parse_job_id(cp.stdout)
    assert job is not None, cp.stdout
    _, msg, _ = server.accept()
    assert msg["job"] == job and msg["argv"] == ["exec", "--callme=h:1", "--code=7"]
    assert not list(tmp_path.glob("slurm-*.out")), "the sample must send output to /dev/null"


@pytest.mark.slurm
@pytest.mark.timeout(90)
def test_netns_jobs_come_from_each_host(slurm_netns_cluster, client_script, server_factory):
    cluster = slurm_netns_cluster
    server = server_factory(cluster.callback_host)
    assert server.host == cluster.callback_host and cluster.callback_host.startswith("10.231.")
    jobs = {}
    for node in ("host1", "host2", "host3"):
        _, job = _sbatch(
            cluster, "-w", node, "--wrap", f"{client_script} {server.host} {server.port}"
        )
        jobs[job] = node
    peers = {}
    for _ in jobs:
        peer, msg, _ = server.accept()
        peers[msg["job"]] = (peer, msg["node"])
    assert peers == {job: (cluster.node_addr(node), node) for job, node in jobs.items()}
    subnet = cluster.callback_host.rsplit(".", 1)[0]
    assert sorted(p for p, _ in peers.values()) == [f"{subnet}.{i}" for i in (11, 12, 13)]


@pytest.mark.slurm
@pytest.mark.timeout(90)
def test_netns_jobs_cannot_reach_loopback(slurm_netns_cluster, client_script, server_factory):
    """Why callback_host matters: inside a namespace 127.0.0.1 is the namespace's own."""
    loop = server_factory("127.0.0.1")
    bridge = server_factory(slurm_netns_cluster.callback_host)
    # the job tries loopback first (refused: falls through), then reports over the bridge
    wrap = (
        f"{client_script} {loop.host} {loop.port} || "
        f"{client_script} {bridge.host} {bridge.port} refused"
    )
    _sbatch(slurm_netns_cluster, "--wrap", wrap)
    peer, msg, _ = bridge.accept()
    assert msg["argv"] == ["refused"] and peer.rsplit(".", 1)[0] == bridge.host.rsplit(".", 1)[0]
    assert loop.no_connection_within(0.2)


@pytest.mark.slurm
@pytest.mark.timeout(120)
def test_stop_leaves_no_job_and_no_daemon(_slurm_pool: SlurmPool, client_script, server_factory):
    cluster = _slurm_pool.activate("slurm_cluster")
    server = server_factory("127.0.0.1")
    for i in range(3):
        _sbatch(cluster, "--wrap", f"{client_script} {server.host} {server.port} {i}")
    held = [server.accept() for _ in range(3)]
    _sbatch(cluster, "-p", "full", "--wrap", "sleep 1000")  # pending at stop time
    daemons = dict(cluster._daemons)
    t0 = time.monotonic()
    cluster.stop()
    print(f"stop with 3 running + 1 pending job: {time.monotonic() - t0:.2f} s")
    for _, msg, conn in held:
        assert _eof_within(conn, 10), f"job {msg['job']} still holds its connection"
        # EOF comes as the process dies; it may stay a zombie a moment longer
        wait_for(lambda m=msg: not pid_alive(m["pid"]), 10, what=f"job {msg['job']} to exit")
    assert not any(pid_alive(pid) for pid in daemons)
    # nothing of Slurm still runs (zombies wait for this machine's PID 1 to reap them)
    ps = subprocess.run(["ps", "-eo", "stat=,comm="], capture_output=True, text=True).stdout
    running = [
        line
        for line in ps.splitlines()
        if not line.startswith("Z") and line.split()[-1] in ("slurmstepd", "slurmctld", "slurmd")
    ]
    assert not running, ps
    assert not CONF.exists() and not RUN_DIR.exists()
    # the pool restarts the cluster for the next test that wants it
    assert not cluster.healthy()


@pytest.mark.slurm
@pytest.mark.timeout(120)
def test_start_cleans_up_after_a_crashed_run(_slurm_pool: SlurmPool, tmp_path):
    _slurm_pool.close()  # this test needs the machine-wide Slurm for itself
    crash = (
        "import os, sys, json\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from harness.slurm import SlurmCluster, Partition\n"
        "c = SlurmCluster(netns_hosts=2, partitions=[Partition('debug', default=True),"
        " Partition('full', full=True)])\n"
        "c.start()\n"
        "print(json.dumps({'bridge': c.netns.bridge,"
        " 'daemons': {str(p): n for p, n in c._daemons.items()}}), flush=True)\n"
        "os._exit(0)\n"
    )
    cp = subprocess.run(
        [sys.executable, "-c", crash], capture_output=True, text=True, timeout=60, check=False
    )
    if cp.returncode != 0 and "HarnessUnavailable" in cp.stderr:
        unavailable(cp.stderr.strip().splitlines()[-1])
    assert cp.returncode == 0, cp.stderr
    crashed = json.loads(cp.stdout)
    left = {int(p): n for p, n in crashed["daemons"].items()}
    assert all(pid_alive(p) for p in left)  # the "crash" left them running
    cluster = SlurmCluster()
    try:
        cluster.start()
    except HarnessUnavailable as exc:
        unavailable(str(exc))
    try:
        assert not any(pid_alive(p) for p in left)
        assert cluster.node_states() == {"localhost": "idle"}
        links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
        assert f" {crashed['bridge']}:" not in links
    finally:
        cluster.stop()


def test_not_root_is_a_clean_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root nothing is touched and the reason says why: the fixture skips with it,
    or, under CI=true, fails with it."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(HarnessUnavailable, match="needs root"):
        SlurmCluster().start()
    with pytest.raises(HarnessUnavailable, match="needs root"):
        NetnsHosts(2).start()
    pool = SlurmPool()
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        pool.activate("slurm_cluster")
    with pytest.raises(pytest.skip.Exception, match="needs root"):  # its own try
        pool.activate("slurm_netns_cluster")
    assert sorted(pool.unavailable) == ["slurm_cluster", "slurm_netns_cluster"]
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"under CI=true.*needs root"):
        pool.activate("slurm_cluster")  # remembered, not retried
    assert pool.active is None


def test_a_netns_problem_leaves_the_single_node_cluster_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps the namespace hosts from starting is remembered for that kind only."""
    monkeypatch.delenv("CI", raising=False)
    pool = SlurmPool()
    started = []

    def start(self: SlurmCluster) -> None:
        if self.netns is not None:
            raise HarnessUnavailable("no network namespaces here")
        started.append(self)

    monkeypatch.setattr(SlurmCluster, "start", start)
    monkeypatch.setattr(SlurmCluster, "stop", lambda self: None)
    with pytest.raises(pytest.skip.Exception, match="no network namespaces"):
        pool.activate("slurm_netns_cluster")
    assert pool.activate("slurm_cluster") is started[0]


@pytest.mark.slurm
@pytest.mark.timeout(60)
def test_runs_beside_an_existing_slurm_conf(_slurm_pool: SlurmPool) -> None:
    """A machine's own /etc/slurm/slurm.conf (a real cluster's) is never read, written or
    removed: the harness's Slurm has its own SLURM_CONF, directories and free ports."""
    _slurm_pool.close()
    if os.geteuid() != 0:
        unavailable("needs root")
    theirs = "ClusterName=somebody-else\nSlurmctldPort=6817\n"
    ours_to_remove = not LEGACY_CONF.exists()
    if ours_to_remove:
        LEGACY_CONF.parent.mkdir(parents=True, exist_ok=True)
        LEGACY_CONF.write_text(theirs)
    before = LEGACY_CONF.read_bytes()
    cluster = SlurmCluster()
    try:
        try:
            cluster.start()
        except HarnessUnavailable as exc:
            unavailable(str(exc))
        assert CONF != LEGACY_CONF and cluster.env()["SLURM_CONF"] == str(CONF)
        assert cluster.node_states() == {"localhost": "idle"}
        assert f"SlurmctldPort={cluster.ctld_port}\n" in CONF.read_text()
        assert LEGACY_CONF.read_bytes() == before
    finally:
        cluster.stop()
        if ours_to_remove:
            LEGACY_CONF.unlink()
    assert not CONF.exists()
