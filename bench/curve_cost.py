#!/usr/bin/env python3
"""What CURVE encryption (docs/security.md) costs, against NULL baselines taken in the same run.

    .venv/bin/python bench/curve_cost.py [--runs N] [--builds N] [--mb 100]

1. handshake: connect + security handshake + one round trip, a pyzmq DEALER to a ROUTER on
   loopback tcp: NULL vs CURVE with a ZAP handler answering in the ROUTER's loop (as the
   server does).
2. throughput: MB streamed ROUTER -> DEALER in 256 KiB chunks in one process (both ends'
   crypto on this one thread's clock): NULL vs CURVE.
3. a big output through a real server: `spraycc run --remote --output big.bin dd ...` with
   the executor connected over tcp with CURVE (the normal path) vs over the server's private
   ipc endpoint (NULL: the only way into a real server without encryption). Reports wall time
   and the server's CPU time.
4. the example project: `make -j8 LAUNCHER="spraycc run"`, executors over tcp+CURVE vs
   ipc+NULL, runs interleaved so machine load hits both alike.

Series 3 and 4 compare tcp+CURVE with ipc+NULL, so they include the (small) tcp-vs-ipc
difference too: an upper bound on the cost of encryption.
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
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
from spraycc.net import auth  # noqa: E402
from spraycc.wire import serverfile  # noqa: E402

BIN = Path(sys.executable).parent
SPRAYCC = str(BIN / "spraycc")
DEMO = ROOT / "examples" / "demo"


def handshake(curve: bool, runs: int) -> list[float]:
    ctx = zmq.Context()
    spub, ssec = zmq.curve_keypair()
    upub, usec = zmq.curve_keypair()
    zap = auth.ZapHandler(ctx, upub, auth.RefusalLog()) if curve else None
    times = []
    for _ in range(runs):
        router = ctx.socket(zmq.ROUTER)
        router.linger = 0
        if curve:
            router.curve_server = True
            router.curve_secretkey, router.curve_publickey = ssec, spub
            router.zap_domain = auth.DOMAIN
        port = router.bind_to_random_port("tcp://127.0.0.1")
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        if zap:
            poller.register(zap.sock, zmq.POLLIN)
        start = time.perf_counter()
        dealer = ctx.socket(zmq.DEALER)
        dealer.linger = 0
        if curve:
            dealer.curve_serverkey = spub
            dealer.curve_publickey, dealer.curve_secretkey = upub, usec
        dealer.connect(f"tcp://127.0.0.1:{port}")
        dealer.send(b"hello")
        while True:
            events = dict(poller.poll(5000))
            if zap and zap.sock in events:
                zap.handle()
            if router in events:
                peer, _ = router.recv_multipart()
                router.send_multipart([peer, b"ok"])
                break
        dealer.recv()
        times.append(time.perf_counter() - start)
        dealer.close()
        router.close()
    if zap:
        zap.close()
    ctx.term()
    return times


def throughput(curve: bool, megabytes: int) -> tuple[float, float]:
    ctx = zmq.Context()
    spub, ssec = zmq.curve_keypair()
    upub, usec = zmq.curve_keypair()
    router = ctx.socket(zmq.ROUTER)
    dealer = ctx.socket(zmq.DEALER)
    for s in (router, dealer):
        s.linger = 0
    if curve:
        router.curve_server = True
        router.curve_secretkey, router.curve_publickey = ssec, spub
        dealer.curve_serverkey = spub
        dealer.curve_publickey, dealer.curve_secretkey = upub, usec
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer.connect(f"tcp://127.0.0.1:{port}")
    dealer.send(b"hi")
    peer, _ = router.recv_multipart()
    chunk = os.urandom(256 * 1024)
    count = megabytes * 4
    wall, cpu = time.perf_counter(), time.process_time()
    got = 0
    for i in range(count):
        router.send_multipart([peer, b"h", chunk], copy=False)
        while got < i - 16:  # a credit window like the executor's
            dealer.recv_multipart()
            got += 1
    while got < count:
        dealer.recv_multipart()
        got += 1
    result = time.perf_counter() - wall, time.process_time() - cpu
    router.close()
    dealer.close()
    ctx.term()
    return result


# ------------------------------------------------------------------------- real servers

WRAPPER = """import os, sys
ipc = {ipc!r}
args = []
for a in sys.argv[1:]:
    if ipc and a.startswith("--callme="):
        a = "--callme=" + ipc
    if ipc and a.startswith("--serverkey="):
        continue
    args.append(a)
os.execv({spraycc!r}, [{spraycc!r}, *args])
"""


class Server:
    """A real server whose executors connect over tcp+CURVE (`ipc=False`) or ipc+NULL."""

    def __init__(self, root: Path, name: str, ipc: bool, env: dict[str, str]) -> None:
        self.ws = root / name
        shutil.copytree(DEMO, self.ws, ignore=shutil.ignore_patterns("build*"))
        self.env = env
        self.ipc = ipc
        self.wrapper = root / f"{name}-exec.py"
        self.wrapper.write_text(WRAPPER.format(ipc="", spraycc=SPRAYCC))  # ipc: set later
        (self.ws / ".spraycc").write_text(
            f'start_cmd = "{sys.executable} {self.wrapper}"\nscheduler = "local"\n'
            "local_count = 0\ninitial_count = 2\nmax_count = 2\nkeep_pending = 2\n"
            "release_delay = 3600\nidle_shutdown_after = 3600\nstatus_interval = 0\n")
        self.proc = subprocess.Popen([SPRAYCC, "server"], cwd=self.ws, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        buf = b""
        deadline = time.monotonic() + 30
        while b"server: " not in buf:
            assert time.monotonic() < deadline, buf
            assert self.proc.stderr is not None
            select.select([self.proc.stderr], [], [], 1)
            buf += os.read(self.proc.stderr.fileno(), 65536)
        info = serverfile.read(str(self.ws / serverfile.NAME))
        if ipc:
            self.wrapper.write_text(WRAPPER.format(ipc=info.get("ipc"), spraycc=SPRAYCC))

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def run(self, argv: list[str]) -> tuple[float, float]:
        cpu, wall = self.cpu(), time.perf_counter()
        r = subprocess.run(argv, cwd=self.ws, env=self.env, capture_output=True)
        if r.returncode:
            raise SystemExit(f"{argv} failed: {r.stderr.decode()[-2000:]}")
        return time.perf_counter() - wall, self.cpu() - cpu

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def median_min(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s, min {min(xs):.3f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs of the big-output series")
    ap.add_argument("--builds", type=int, default=3, help="demo builds per variant")
    ap.add_argument("--mb", type=int, default=100, help="size of the big output in MB")
    args = ap.parse_args()

    for curve in (False, True):
        t = sorted(handshake(curve, 200))
        print(f"handshake+round trip {'CURVE+ZAP' if curve else 'NULL     '}: "
              f"min {t[0] * 1e3:.2f} ms, median {t[len(t) // 2] * 1e3:.2f} ms")
    for curve in (False, True):
        wall, cpu = throughput(curve, args.mb)
        print(f"{args.mb} MB ROUTER->DEALER {'CURVE' if curve else 'NULL '}: {wall:.3f} s wall, "
              f"{cpu:.3f} s CPU (encrypt+decrypt, one process), {args.mb / wall:.0f} MB/s")

    root = Path(tempfile.mkdtemp(prefix="spraycc-curve-cost-"))
    env = dict(os.environ, HOME=str(root / "home"), SPRAYCC_HISTORY=str(root / "history"),
               PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    Path(env["HOME"]).mkdir()
    servers = {"tcp+CURVE": Server(root, "curve", False, env),
               "ipc+NULL": Server(root, "null", True, env)}
    try:
        big = [SPRAYCC, "run", "--remote", "--output", "big.bin", "dd", "if=/dev/urandom",
               "of=big.bin", "bs=1M", f"count={args.mb}", "status=none"]
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in servers}
        for _ in range(args.runs):
            for name, srv in servers.items():
                results[name].append(srv.run(big))
        for name, rs in results.items():
            print(f"{args.mb} MB output via spraycc run, executor over {name}: "
                  f"{median_min([w for w, _ in rs])}; server CPU median "
                  f"{statistics.median(c for _, c in rs):.3f} s")
        builds: dict[str, list[tuple[float, float]]] = {k: [] for k in servers}
        for _ in range(args.builds):
            for name, srv in servers.items():
                subprocess.run(["make", "-s", "clean"], cwd=srv.ws, env=env, check=True)
                builds[name].append(srv.run(["make", "-s", "-j8", "LAUNCHER=spraycc run"]))
        for name, rs in builds.items():
            print(f"demo build make -j8, executors over {name}: {median_min([w for w, _ in rs])}"
                  f"; server CPU median {statistics.median(c for _, c in rs):.3f} s")
        a = statistics.median(w for w, _ in builds["tcp+CURVE"])
        b = statistics.median(w for w, _ in builds["ipc+NULL"])
        print(f"encryption cost on the demo build: {100 * (a - b) / b:+.1f}% (median wall)")
    finally:
        for srv in servers.values():
            srv.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
