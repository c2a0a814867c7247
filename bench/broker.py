#!/usr/bin/env python3
"""The server's broker under load, next to a bare pyzmq ROUTER relay measured in the same run.

    .venv/bin/python bench/broker.py [--quick] [--seconds S] [--transport ipc|tcp|both]
                                     [--tree DIR] [--open RATE[,RATE...] [--waiting N]]

For every point of the matrix (runners in flight x fake executors; the full one is
{10, 100, 1000} x {2, 50, 200}, --quick only the diagonal 10/2, 100/50, 1000/200) and every
transport (the private ipc endpoint with the NULL mechanism, and tcp with CURVE, as a runner
on another host would use it) it starts a fresh server and drives it:

  * a load generator (this process) keeps R runners in flight, each a *fresh* pyzmq DEALER
    connection per task as real runners do: connect, SUBMIT, wait for ACCEPTED and RESULT,
    close; it records each task's latency (SUBMIT sent -> RESULT received);
  * a second process holds E fake executors (READY, then a RESULT at once for every TASK,
    a HEARTBEAT every second).

Two servers are measured: the real `spraycc server` (its whole per-task path: broker, task
queue with history, logging, timers; only its executor supply is told that executors are
available, since the fake executors are not its own launches), and the baseline, a bare pyzmq
ROUTER relay (about 40 lines below: LRU idle executors, a FIFO, the same messages). Figures per
point: tasks/s, server CPU per task (user+system of every server thread over the measured
window, from /proc), the part of it spent in the server's Python thread (the rest is libzmq's
I/O thread: connections, handshakes, framing), p50 and p99 latency, and the ratios
spraycc / relay. `gen` is the CPU the load itself costs per task (this generator and the fake
executors, in the relay's run): with it on the same 2 CPUs, tasks/s is bounded by about
2 CPU-seconds / (server CPU + gen) per task, whatever the server does. `--tree DIR` measures
the server of another checkout (its .venv if it has one) with this generator: BEFORE/AFTER.

Everything shares this machine's CPUs (the generator too): the relay row is the floor that a
Python broker on this machine can show with this generator.

Open loop (`--open 200,500,1000`): the matrix above is closed loop (R tasks always in flight),
so its latency is R / throughput by Little's law, whatever the broker does. `--open` measures
latency as a build with many runners sees it instead, for every rate x {2, 50, 200} fake
executors (--quick: 50 only):

  * N waiting runners (`--waiting`, default 1000), each a fresh DEALER connection of its own
    in a third process, ask for a local slot (LOCAL) and never finish: the server's local
    slots are all held, the rest wait in its local queue, each with its runner record,
    heartbeat schedule and connection, as queued `make -j1000` runners do. They heartbeat
    like real waiting runners (every `--heartbeat` seconds, the server's `runner_heartbeat`,
    default 30 s, each with its own random phase). (Not remote tasks held in the queue:
    below capacity an executor is idle whenever a task waits, so queued tasks would not
    stay queued, and tasks held by executors would need N executors.) The relay just holds
    their connections.
  * Tasks arrive at a fixed mean rate, Poisson (exponential gaps, the same seeded sequence
    for both servers), each a fresh connection: connect, SUBMIT, wait for RESULT, close.
    Arrivals follow the schedule alone, never the completions (open loop): any number of
    tasks may be in flight. Latency is SUBMIT sent -> RESULT received; tasks sent in the
    measured window are waited for after it (`lost`: no RESULT within 5 s).
  * `lag` is how late the generator sent against its schedule (p99, ms; it polls with a 1 ms
    resolution and shares the CPUs, so ~1-2 ms is its wake-up noise). A late send also means
    a result read late, so over LAG_VOID (5 ms, a quarter of the 20 ms latency target) the
    generator itself fell behind and the row is marked VOID: its latencies are not the
    server's.

Figures per row: p50/p99/max latency, server CPU (and its Python thread) per task, for both
servers; `gen` the CPU per task of the generator, the fake executors and the waiting runners
(relay's run); `tasks/s` the rate achieved.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spraycc.wire import protocol as p  # noqa: E402

WARMUP = 0.5
LAG_VOID = 5.0  # ms: the generator's p99 lateness beyond which an open-loop row is void
TICK = os.sysconf("SC_CLK_TCK")
BODY = p.pack_body(b"/tmp", [b"gcc", b"-c", b"x.c", b"-o", b"x.o"],
                   {b"PATH": b"/usr/bin:/bin", b"HOME": b"/tmp"}, [b"x.o"])

# The spraycc server, with an executor supply that believes executors are on hand (the fake
# executors connect with launch ids it never issued).
SPRAYCC_SERVER = """
import sys
sys.argv = ["spraycc", "server"]
from spraycc.server import supply as cluster
cluster.Supply.exhausted = property(lambda self: False)
from spraycc.cli import main
main()
"""

RELAY = r"""
import os, sys, signal
from collections import deque
import zmq, msgpack
ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
sock.setsockopt(zmq.SNDHWM, 0)
sock.setsockopt(zmq.BACKLOG, 4096)
ipc, public, secret = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
sock.bind(ipc)
sock.setsockopt(zmq.CURVE_SERVER, 1)
sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
port = sock.bind_to_random_port("tcp://127.0.0.1")
print(port, flush=True)
idle, queue, tasks, executors = deque(), deque(), {}, set()
nxt = 1
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
packb, unpackb = msgpack.packb, msgpack.unpackb
while True:
    frames = sock.recv_multipart()
    peer, head = frames[0], unpackb(frames[1])
    cmd = head[1]
    if cmd == @SUBMIT@:
        tasks[nxt] = peer
        queue.append((nxt, frames[2]))
        try:
            sock.send_multipart([peer, packb([head[0], @ACCEPTED@, nxt, len(queue)])])
        except zmq.ZMQError:
            pass
        nxt += 1
    elif cmd == @RESULT@:
        runner = tasks.pop(head[2], None)
        if runner is not None:
            try:
                sock.send_multipart([runner, frames[1]])
            except zmq.ZMQError:
                pass
        idle.append(peer)
    elif cmd == @READY@:
        executors.add(peer)
        idle.append(peer)
    while idle and queue:
        task, body = queue.popleft()
        try:
            sock.send_multipart([idle.popleft(), packb([head[0], @TASK@, task, 1]), body])
        except zmq.ZMQError:  # the executor has gone: the task is lost (no retries here)
            tasks.pop(task, None)
"""
for _name in ("SUBMIT", "ACCEPTED", "RESULT", "READY", "TASK"):
    RELAY = RELAY.replace(f"@{_name}@", str(getattr(p.Cmd, _name)))


class Endpoint:
    """Where and how generator sockets reach a server."""

    def __init__(self, address: str, code: str, serverkey: bytes = b"",
                 keypair: tuple[bytes, bytes] | None = None) -> None:
        self.address, self.code, self.serverkey, self.keypair = address, code, serverkey, keypair

    def socket(self, ctx: zmq.Context) -> zmq.Socket:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        if self.serverkey and self.keypair:
            sock.setsockopt(zmq.CURVE_SERVERKEY, self.serverkey)
            sock.setsockopt(zmq.CURVE_PUBLICKEY, self.keypair[0])
            sock.setsockopt(zmq.CURVE_SECRETKEY, self.keypair[1])
        sock.connect(self.address)
        return sock

    def args(self) -> list[str]:
        key = self.keypair or (b"", b"")
        return [self.address, self.code, self.serverkey.decode(), key[0].decode(),
                key[1].decode()]


# ------------------------------------------------------------------------ fake executors

def executors_main(count: int, endpoint: Endpoint) -> None:
    """E fake executors in one process: RESULT at once for each TASK."""
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    ctx = zmq.Context()
    poller = zmq.Poller()
    socks = []
    for i in range(count):
        sock = endpoint.socket(ctx)
        sock.send(p.encode(p.Ready(endpoint.code, "fake", os.getpid(), f"fake{i}")))
        poller.register(sock, zmq.POLLIN)
        socks.append(sock)
    heartbeat = p.encode(p.Heartbeat())
    last = time.monotonic()
    try:
        while True:
            for sock, _ in poller.poll(250):
                while True:
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    msg = p.decode(frames[0])
                    if isinstance(msg, p.Task):
                        sock.send(p.encode(p.Result(msg.task, msg.attempt, 0, 0.001, "fake",
                                                    "")))
            now = time.monotonic()
            if now - last >= 1.0:
                last = now
                for sock in socks:
                    sock.send(heartbeat)
    finally:
        for sock in socks:
            sock.close(linger=0)
        ctx.term()


# ----------------------------------------------------------------------- waiting runners

def waiters_main(count: int, heartbeat: float, endpoint: Endpoint) -> None:
    """N waiting runners in one process: each connects, asks for a local slot (LOCAL) and
    waits for good, heartbeating every `heartbeat` seconds from its own random phase, as a
    queued runner does (docs/usage.md, "Waiting runners"). Prints "ready" once all are sent."""
    from spraycc.server.process import raise_fd_limit

    raise_fd_limit(8192)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 16384)
    poller = zmq.Poller()
    rng = random.Random(1)
    beat = p.encode(p.Heartbeat())
    now = time.monotonic()
    due: list[tuple[float, zmq.Socket]] = []
    for i in range(count):
        sock = endpoint.socket(ctx)
        sock.send(p.encode(p.Local(endpoint.code, b"wait%d" % i)))
        poller.register(sock, zmq.POLLIN)
        due.append((now + rng.uniform(0, heartbeat), sock))
    print("ready", flush=True)
    due.sort(key=lambda d: d[0])
    try:
        while True:
            timeout = max(0.0, due[0][0] - time.monotonic()) if due else 1.0
            for sock, _ in poller.poll(math.ceil(1000 * timeout)):
                while True:
                    try:
                        sock.recv_multipart(zmq.NOBLOCK)  # GRANT or the server's heartbeat
                    except zmq.Again:
                        break
            now = time.monotonic()
            while due and due[0][0] <= now:
                when, sock = due.pop(0)
                sock.send(beat)
                due.append((when + heartbeat, sock))  # phases keep the list sorted
    finally:
        for _, sock in due:
            sock.close(linger=0)
        ctx.term()


def connections(pid: int) -> int:
    """Open file descriptors of process `pid` (one per connection on its ipc listener)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def send_task(endpoint: Endpoint, ctx: zmq.Context, serial: int) -> zmq.Socket:
    """A fresh connection that submits task `serial`, as a runner does."""
    sock = endpoint.socket(ctx)
    key = b"bench/%d" % serial
    sock.send_multipart([p.encode(p.Submit(endpoint.code, key, p.FLAG_RETRY_SAFE, key)), BODY])
    return sock


def task_outcome(sock: zmq.Socket) -> p.Message | None:
    """What has arrived on a task's connection: its RESULT, FAIL or REFUSE, or None while it
    has not ended."""
    while True:
        try:
            frames = sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return None
        msg = p.decode(frames[0])
        if isinstance(msg, (p.Result, p.Fail, p.Refuse)):
            return msg


def drive_open(endpoint: Endpoint, rate: float, seconds: float, server_pid: int,
               load_pids: list[int]) -> dict[str, float]:
    """Send tasks at Poisson times of mean `rate`, a fresh connection each, for WARMUP +
    seconds, whatever the completions do; then wait for the measured window's tasks."""
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 16384)
    poller = zmq.Poller()
    rng = random.Random(16)
    active: dict[zmq.Socket, tuple[float, bool]] = {}  # socket -> (sent, measured)
    latencies: list[float] = []
    lags: list[float] = []
    failures = done = serial = 0
    start = time.monotonic()
    measure_from, end = start + WARMUP, start + WARMUP + seconds
    due = start + rng.expovariate(rate)
    cpu0 = py0 = gen0 = t0 = 0.0
    done0 = 0
    measuring = False

    def launch(now: float) -> None:
        nonlocal serial
        serial += 1
        sock = send_task(endpoint, ctx, serial)
        sent = time.monotonic()
        active[sock] = (sent, measuring)
        if measuring:
            lags.append(sent - now)
        poller.register(sock, zmq.POLLIN)

    try:
        drain_until = 0.0
        while True:
            now = time.monotonic()
            if not measuring and drain_until == 0.0 and now >= measure_from:
                measuring = True
                cpu0, done0, t0 = cpu_seconds(server_pid), done, now
                py0, gen0 = cpu_seconds(server_pid, main=True), load_seconds(load_pids)
            if measuring and now >= end:
                measuring = False
                cpu1, t1, done1 = cpu_seconds(server_pid), now, done
                py1, gen1 = cpu_seconds(server_pid, main=True), load_seconds(load_pids)
                drain_until = now + 5.0
            if drain_until:
                if now >= drain_until or not any(m for _, m in active.values()):
                    break
                timeout = 50.0
            else:
                while due <= now:  # every send that is due, late or not
                    launch(due)
                    due += rng.expovariate(rate)
                timeout = max(0.0, due - time.monotonic()) * 1000
            for sock, _ in poller.poll(math.ceil(timeout)):
                msg = task_outcome(sock)
                if msg is None:
                    continue
                sent, measured = active.pop(sock)
                if isinstance(msg, p.Result):
                    done += 1
                    if measured:
                        latencies.append(time.monotonic() - sent)
                elif measured:
                    failures += 1
                poller.unregister(sock)
                sock.close(linger=0)
        lost = sum(1 for _, m in active.values() if m)
    finally:
        for sock in active:
            sock.close(linger=0)
        ctx.term()
    tasks = max(done1 - done0, 1)
    latencies.sort()
    lags.sort()

    def pct(values: list[float], q: float) -> float:
        return 1e3 * values[int(q * (len(values) - 1))] if values else float("nan")

    return {
        "rate": (done1 - done0) / (t1 - t0),
        "cpu_us": 1e6 * (cpu1 - cpu0) / tasks,
        "py_us": 1e6 * (py1 - py0) / tasks,
        "gen_us": 1e6 * (gen1 - gen0) / tasks,
        "p50_ms": pct(latencies, 0.5),
        "p99_ms": pct(latencies, 0.99),
        "max_ms": pct(latencies, 1.0),
        "lag_ms": pct(lags, 0.99),
        "failures": failures,
        "lost": lost,
    }


# --------------------------------------------------------------------------- the runners

def drive(endpoint: Endpoint, runners: int, seconds: float, server_pid: int,
          load_pid: int) -> dict[str, float]:
    """Keep `runners` tasks in flight, a fresh connection each, for WARMUP + seconds.
    `load_pid`: the fake executors' process, whose CPU counts with the generator's."""
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, 16384)
    poller = zmq.Poller()
    active: dict[zmq.Socket, float] = {}
    latencies: list[float] = []
    failures = 0
    start = time.monotonic()
    measure_from, end = start + WARMUP, start + WARMUP + seconds
    cpu0 = done0 = None
    py0 = gen0 = 0.0
    done = 0
    serial = 0

    def launch() -> None:
        nonlocal serial
        serial += 1
        sock = send_task(endpoint, ctx, serial)
        active[sock] = time.monotonic()
        poller.register(sock, zmq.POLLIN)

    try:
        while True:
            now = time.monotonic()
            if cpu0 is None and now >= measure_from:
                cpu0, done0, t0 = cpu_seconds(server_pid), done, now
                py0, gen0 = cpu_seconds(server_pid, main=True), load_seconds([load_pid])
            if now >= end:
                break
            while len(active) < runners:
                launch()
            for sock, _ in poller.poll(50):
                msg = task_outcome(sock)
                if msg is None:
                    continue
                sent = active.pop(sock)
                if isinstance(msg, p.Result):
                    done += 1
                    if cpu0 is not None:
                        latencies.append(time.monotonic() - sent)
                else:
                    failures += 1
                poller.unregister(sock)
                sock.close(linger=0)
        cpu1, t1 = cpu_seconds(server_pid), time.monotonic()
        py1, gen1 = cpu_seconds(server_pid, main=True), load_seconds([load_pid])
    finally:
        for sock in active:
            sock.close(linger=0)
        ctx.term()
    assert cpu0 is not None and done0 is not None
    tasks = done - done0
    latencies.sort()
    return {
        "rate": tasks / (t1 - t0),
        "cpu_us": 1e6 * (cpu1 - cpu0) / max(tasks, 1),
        "py_us": 1e6 * (py1 - py0) / max(tasks, 1),
        "gen_us": 1e6 * (gen1 - gen0) / max(tasks, 1),
        "p50_ms": 1e3 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1e3 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
        "failures": failures,
    }


def cpu_seconds(pid: int, *, main: bool = False) -> float:
    """CPU seconds of process `pid` (all threads), or of its main thread only."""
    with open(f"/proc/{pid}/task/{pid}/stat" if main else f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def load_seconds(load_pids: list[int]) -> float:
    """CPU seconds of the load: this generator (all its threads) and the fake executors (and
    the waiting runners)."""
    return cpu_seconds(os.getpid()) + sum(cpu_seconds(pid) for pid in load_pids)


# --------------------------------------------------------------------------- the servers

class Servers:
    """Starts either server in a private HOME and workspace; yields its endpoints."""

    def __init__(self, tmp: Path, tree: Path = ROOT, heartbeat: float = 30.0) -> None:
        self.tmp = tmp
        self.tree = tree  # the checkout whose server is measured
        venv = tree / ".venv" / "bin" / "python"
        self.python = str(venv) if venv.exists() else sys.executable
        self.home = tmp / "home"
        self.home.mkdir()
        self.env = {**os.environ, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / "c"),
                    "XDG_DATA_HOME": str(self.home / "d"), "XDG_STATE_HOME": str(self.home / "s"),
                    "XDG_CACHE_HOME": str(self.home / "k"),
                    "SPRAYCC_CONFIG": str(tmp / "bench.toml"),
                    "PYTHONPATH": str(tree)}
        (tmp / "bench.toml").write_text("local_count = 0\nstatus_interval = 0\n"
                                        f"runner_heartbeat = {heartbeat:g}\n")
        self.serial = 0
        self.profile = ""  # a file for the spraycc server's cProfile statistics

    def spraycc(self) -> tuple[subprocess.Popen[bytes], Endpoint, Endpoint]:
        from spraycc.wire import keys, serverfile

        self.serial += 1
        ws = self.tmp / f"ws{self.serial}"
        ws.mkdir()
        script = self.tmp / "server.py"
        script.write_text(SPRAYCC_SERVER)
        profile = ["-m", "cProfile", "-o", self.profile] if self.profile else []
        proc = subprocess.Popen([self.python, *profile, str(script)], cwd=ws, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        path = ws / serverfile.NAME
        deadline = time.monotonic() + 30
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: the spraycc server did not start")
            time.sleep(0.02)
        info = serverfile.read(str(path))
        pair = keys.load(str(self.home / ".spraycc.private"))
        ipc = Endpoint(info.get("ipc"), info.code)
        tcp = Endpoint(info.get("tcp"), info.code, info.serverkey.encode(),
                       (pair.public, pair.secret))
        return proc, ipc, tcp

    def relay(self) -> tuple[subprocess.Popen[bytes], Endpoint, Endpoint]:
        self.serial += 1
        ipc = f"ipc://{self.tmp}/relay{self.serial}"
        public, secret = zmq.curve_keypair()
        client = zmq.curve_keypair()
        proc = subprocess.Popen([sys.executable, "-c", RELAY, ipc, public.decode(),
                                 secret.decode()], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        return (proc, Endpoint(ipc, "x"),
                Endpoint(f"tcp://127.0.0.1:{port}", "x", public, client))


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(servers: Servers, kind: str, transport: str, runners: int, executors: int,
            seconds: float) -> dict[str, float]:
    proc, ipc, tcp = servers.spraycc() if kind == "spraycc" else servers.relay()
    endpoint = ipc if transport == "ipc" else tcp
    fakes = subprocess.Popen([sys.executable, __file__, "--executors", str(executors), "--",
                              *endpoint.args()], env=servers.env, stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.3 + executors / 400)  # let the fake executors connect (not measured)
        return drive(endpoint, runners, seconds, proc.pid, fakes.pid)
    finally:
        stop(fakes)
        stop(proc)


def measure_open(servers: Servers, kind: str, transport: str, rate: float, executors: int,
                 waiting: int, heartbeat: float, seconds: float) -> dict[str, float]:
    proc, ipc, tcp = servers.spraycc() if kind == "spraycc" else servers.relay()
    endpoint = ipc if transport == "ipc" else tcp
    helpers = []
    try:
        helpers.append(subprocess.Popen(
            [sys.executable, __file__, "--executors", str(executors), "--", *endpoint.args()],
            env=servers.env, stdin=subprocess.DEVNULL))
        time.sleep(0.3 + executors / 400)  # let the fake executors connect (not measured)
        before = connections(proc.pid)
        waiters = subprocess.Popen(
            [sys.executable, __file__, "--waiters", str(waiting), "--heartbeat", str(heartbeat),
             "--", *endpoint.args()], env=servers.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE)
        helpers.append(waiters)
        assert waiters.stdout is not None
        if waiters.stdout.readline().strip() != b"ready":
            raise SystemExit("bench: the waiting runners did not start")
        deadline = time.monotonic() + 60
        while connections(proc.pid) < before + waiting:  # every waiting runner is connected
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: only {connections(proc.pid) - before} of {waiting} "
                                 "waiting runners connected")
            time.sleep(0.05)
        time.sleep(0.3)  # their LOCAL messages handled (not measured)
        return drive_open(endpoint, rate, seconds, proc.pid, [h.pid for h in helpers])
    finally:
        for helper in helpers:
            stop(helper)
        stop(proc)


def open_loop(args: argparse.Namespace, transports: list[str]) -> None:
    """The open-loop table (`--open`): see the module's docstring."""
    rates = [float(r) for r in args.open.split(",")]
    points = [(rate, e) for rate in rates for e in ((50,) if args.quick else (2, 50, 200))]
    print(f"open loop: {args.waiting} waiting runners, Poisson arrivals, "
          f"{args.seconds:g} s measured per point")
    print(f"{'transport':9} {'rate/s':>6} {'execs':>5} | {'spraycc p50':>11} {'p99':>6} "
          f"{'max':>6} {'CPU us':>6} {'py us':>5} {'tasks/s':>7} | {'relay p50':>9} {'p99':>6} "
          f"{'max':>6} {'CPU us':>6} {'py us':>5} {'tasks/s':>7} | {'p99':>5} {'CPU':>5} | "
          f"{'gen us':>6} {'lag ms':>6}")
    with tempfile.TemporaryDirectory(prefix="spraycc-bench-") as tmp:
        servers = Servers(Path(tmp), args.tree.resolve(), args.heartbeat)
        for transport in transports:
            for rate, executors in points:
                s, r = (measure_open(servers, kind, transport, rate, executors, args.waiting,
                                     args.heartbeat, args.seconds)
                        for kind in ("spraycc", "relay"))
                notes = []
                for name, x in (("spraycc", s), ("relay", r)):
                    if x["lag_ms"] > LAG_VOID:
                        notes.append(f"VOID {name}: generator {x['lag_ms']:.1f} ms behind")
                    if x["failures"] or x["lost"]:
                        notes.append(f"{name}: {x['failures']:.0f} failed, {x['lost']:.0f} lost")
                print(f"{transport:9} {rate:6.0f} {executors:5d} | {s['p50_ms']:11.2f} "
                      f"{s['p99_ms']:6.2f} {s['max_ms']:6.1f} {s['cpu_us']:6.0f} "
                      f"{s['py_us']:5.0f} {s['rate']:7.0f} | {r['p50_ms']:9.2f} "
                      f"{r['p99_ms']:6.2f} {r['max_ms']:6.1f} {r['cpu_us']:6.0f} "
                      f"{r['py_us']:5.0f} {r['rate']:7.0f} | {s['p99_ms'] / r['p99_ms']:5.2f} "
                      f"{s['cpu_us'] / r['cpu_us']:5.2f} | {r['gen_us']:6.0f} "
                      f"{max(s['lag_ms'], r['lag_ms']):6.2f}"
                      + ("  (" + "; ".join(notes) + ")" if notes else ""), flush=True)
    print("latency ms from SUBMIT sent to RESULT received; CPU: server CPU per task, all "
          "threads (the waiting runners' heartbeats included); py: of it, the Python thread; "
          "p99, CPU: spraycc / relay; gen: CPU per task of generator, fake executors and "
          "waiting runners (relay run); lag: the generator's p99 lateness against its "
          f"schedule (the larger of both runs; VOID over {LAG_VOID:g} ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only 10/2, 100/50, 1000/200")
    ap.add_argument("--seconds", type=float, default=3.0, help="measured seconds per point")
    ap.add_argument("--transport", choices=("ipc", "tcp", "both"), default="both")
    ap.add_argument("--tree", metavar="DIR", type=Path, default=ROOT,
                    help="measure the server of this checkout (default: this one)")
    ap.add_argument("--profile", metavar="FILE", help="write the spraycc server's cProfile "
                    "statistics of the last point to FILE (slows it down)")
    ap.add_argument("--open", metavar="RATE[,RATE...]", help="open loop: tasks arriving at "
                    "these rates (Poisson) while --waiting runners wait (see above)")
    ap.add_argument("--waiting", type=int, default=1000, metavar="N",
                    help="with --open: waiting runners connected (default 1000)")
    ap.add_argument("--heartbeat", type=float, default=p.RUNNER_HEARTBEAT_INTERVAL,
                    metavar="S", help="with --open: the waiting runners' heartbeat interval "
                    "and the server's runner_heartbeat (default %(default)g)")
    ap.add_argument("--executors", type=int, help=argparse.SUPPRESS)  # internal: fake executors
    ap.add_argument("--waiters", type=int, help=argparse.SUPPRESS)  # internal: waiting runners
    ap.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.executors is not None or args.waiters is not None:
        address, code, serverkey, public, secret = args.rest
        pair = (public.encode(), secret.encode()) if public else None
        endpoint = Endpoint(address, code, serverkey.encode(), pair)
        if args.waiters is not None:
            waiters_main(args.waiters, args.heartbeat, endpoint)
        else:
            executors_main(args.executors, endpoint)
        return
    from spraycc.server.process import raise_fd_limit

    raise_fd_limit(8192)
    transports = ["ipc", "tcp"] if args.transport == "both" else [args.transport]
    if args.open:
        open_loop(args, transports)
        return
    points = [(10, 2), (100, 50), (1000, 200)] if args.quick else [
        (r, e) for r in (10, 100, 1000) for e in (2, 50, 200)]
    print(f"{'transport':9} {'runners':>7} {'execs':>5} | {'spraycc tasks/s':>15} {'CPU us':>6} "
          f"{'py us':>5} {'p50 ms':>7} {'p99 ms':>7} | {'relay tasks/s':>13} {'CPU us':>6} "
          f"{'py us':>5} {'p50 ms':>7} {'p99 ms':>7} | {'rate':>5} {'CPU':>5} {'py':>5} | "
          f"{'gen us':>6}")
    with tempfile.TemporaryDirectory(prefix="spraycc-bench-") as tmp:
        servers = Servers(Path(tmp), args.tree.resolve())
        servers.profile = os.path.abspath(args.profile) if args.profile else ""
        for transport in transports:
            for runners, executors in points:
                s = measure(servers, "spraycc", transport, runners, executors, args.seconds)
                r = measure(servers, "relay", transport, runners, executors, args.seconds)
                note = f"  ({s['failures']:.0f} failed)" if s["failures"] else ""
                print(f"{transport:9} {runners:7d} {executors:5d} | {s['rate']:15,.0f} "
                      f"{s['cpu_us']:6.0f} {s['py_us']:5.0f} {s['p50_ms']:7.1f} "
                      f"{s['p99_ms']:7.1f} | {r['rate']:13,.0f} {r['cpu_us']:6.0f} "
                      f"{r['py_us']:5.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f} | "
                      f"{s['rate'] / r['rate']:5.2f} {s['cpu_us'] / r['cpu_us']:5.2f} "
                      f"{s['py_us'] / r['py_us']:5.2f} | {r['gen_us']:6.0f}{note}", flush=True)
    print("CPU: server CPU per task, all threads; py: of it, the server's Python thread; rate, "
          "CPU, py: spraycc / relay; gen: CPU per task of the load generator and the fake "
          "executors (relay run)")


if __name__ == "__main__":
    main()
