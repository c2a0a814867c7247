#!/usr/bin/env python3
"""How promptly spraycc answers: the figures the tests only bound generously, each printed
beside a baseline measured in the same run.

    .venv/bin/python bench/promptness.py [--runs N]

Measured (medians of N runs; on a quiet machine: `flock -x /tmp/spraycc-quiet.lock ...`):
  * classify() of a CMake-style g++ command line, per call (budget 1 ms); baseline: shlex.split
    of the same line;
  * Dealer.recv(0) and recv(0.2) with nothing to read (budgets: at once, and 0.2 s plus a few
    ms); baseline: time.sleep(0) and time.sleep(0.2);
  * a ZMTP connect to a closed TCP port, with a 5 s timeout (budget: well under the timeout);
    baseline: a plain socket connect to the same port;
  * a real server's refusal of a wrong access code seen by the client (budget 1 s, the
    security tests' claim); baseline: the same server answering a STATUS request;
  * the whole process group of a remote command gone after SIGINT to its runner, one child
    ignoring SIGTERM (budget: the 1 s SIGKILL grace plus a little); baseline: the same
    command's group killed here (SIGTERM, then SIGKILL once its main process has exited).
The tests (test_classify, test_zmtp, test_security, test_anycmd) keep bounds an order of
magnitude above these, so a loaded 2-CPU machine does not fail them.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import SPRAYCC, base_env, running_server, wait_for  # noqa: E402

from spraycc.step.classify import classify  # noqa: E402
from spraycc.wire import protocol as p  # noqa: E402
from spraycc.wire import serverfile  # noqa: E402
from spraycc.wire.zmtp import Dealer, ZmtpError  # noqa: E402

CMAKE_CXX = ("/usr/bin/c++ -DFOO=1 -I/src/include -isystem /src/third_party -O2 -g -DNDEBUG "
             "-std=gnu++17 -fPIC -Wall -Wextra -MD -MT src/CMakeFiles/x.dir/a.cpp.o "
             "-MF src/CMakeFiles/x.dir/a.cpp.o.d -o src/CMakeFiles/x.dir/a.cpp.o "
             "-c /src/src/a.cpp")


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def row(what: str, figure: float, base_name: str, base: float, budget: str) -> None:
    ratio = figure / base if base > 0 else float("inf")
    print(f"{what:<44} {figure * 1e3:9.3f} ms   {base_name:<26} {base * 1e3:9.3f} ms   "
          f"ratio {ratio:7.2f}   budget {budget}")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    n = args.runs
    argv = shlex.split(CMAKE_CXX)
    env = dict(os.environ)
    classify(argv, "/src/build", env)
    per_call = median_of(n, lambda: timed(lambda: [classify(argv, "/src/build", env)
                                                   for _ in range(100)]) / 100)
    split = median_of(n, lambda: timed(lambda: [shlex.split(CMAKE_CXX) for _ in range(100)]) / 100)
    row("classify(), per call", per_call, "shlex.split, per call", split, "1 ms")

    with tempfile.TemporaryDirectory(prefix="spraycc-bench-") as tmp:
        tmpdir = Path(tmp)
        ws = tmpdir / "ws"
        ws.mkdir()
        senv = base_env(tmpdir)
        config = "idle_shutdown_after = 300\nrelease_delay = 60\nlocal_count = 1\n"
        with running_server(ws, senv, config=config) as srv:
            info = serverfile.read(str(srv.server_file))
            ipc = info.get("ipc")
            with Dealer(ipc, timeout=5) as dealer:
                row("Dealer.recv(0), nothing to read", median_of(n, lambda: timed(
                    lambda: dealer.recv(0))), "time.sleep(0)",
                    median_of(n, lambda: timed(lambda: time.sleep(0))), "at once")
                runs = max(3, n // 4)
                row("Dealer.recv(0.2), nothing to read", median_of(runs, lambda: timed(
                    lambda: dealer.recv(0.2))), "time.sleep(0.2)",
                    median_of(runs, lambda: timed(lambda: time.sleep(0.2))), "0.2 s + ms")

            port = closed_port()

            def zmtp_refused() -> None:
                try:
                    Dealer(f"tcp://127.0.0.1:{port}", timeout=5)
                except ZmtpError:
                    return
                raise SystemExit("bench: a closed port accepted a connection")

            def plain_refused() -> None:
                with socket.socket() as s:
                    try:
                        s.connect(("127.0.0.1", port))
                    except ConnectionRefusedError:
                        return
                raise SystemExit("bench: a closed port accepted a connection")

            row("ZMTP connect to a closed port (timeout 5 s)", median_of(n, lambda: timed(
                zmtp_refused)), "plain socket connect", median_of(n, lambda: timed(
                    plain_refused)), "<< 5 s")

            def ask(msg: p.Message) -> float:
                with Dealer(ipc, timeout=5) as d:
                    t0 = time.perf_counter()
                    d.send([p.encode(msg)])
                    if d.recv(5) is None:
                        raise SystemExit(f"bench: no answer to {type(msg).__name__}")
                    return time.perf_counter() - t0

            refusal = median_of(n, lambda: ask(p.Local("0" * 32, b"true")))
            status = median_of(n, lambda: ask(p.Status(info.code)))
            row("refusal of a wrong access code", refusal, "a valid request answered", status,
                "1 s")

            cmd = ("(trap '' TERM; exec sleep 300) & echo $! > child.pid; sleep 300 & "
                   "echo $! > child2.pid; echo $$ > main.pid; touch started; wait")

            def group_gone() -> float:
                for f in ("started", "main.pid", "child.pid", "child2.pid"):
                    (ws / f).unlink(missing_ok=True)
                runner = subprocess.Popen([SPRAYCC, "run", "--remote", "sh", "-c", cmd], cwd=ws,
                                          env=senv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_for((ws / "started").exists, 30, "the remote command to start")
                pids = [int((ws / f).read_text()) for f in ("main.pid", "child.pid",
                                                             "child2.pid")]
                t0 = time.perf_counter()
                runner.send_signal(signal.SIGINT)

                def gone() -> bool:
                    for pid in pids:
                        try:
                            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
                        except OSError:
                            continue
                        if state.split()[0] != "Z":
                            return False
                    return True

                wait_for(gone, 30, "the process group to go", interval=0.005)
                took = time.perf_counter() - t0
                runner.wait(30)
                return took

            def local_group_gone() -> float:
                """The same command here in its own session: SIGTERM to the group, SIGKILL to
                what is left once its main process has exited (what the executor does)."""
                (ws / "started").unlink(missing_ok=True)
                proc = subprocess.Popen(["sh", "-c", cmd], cwd=ws, start_new_session=True,
                                        stdin=subprocess.DEVNULL)
                wait_for((ws / "started").exists, 30, "the local command to start")
                t0 = time.perf_counter()
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                took = time.perf_counter() - t0
                return took

            runs = max(3, n // 5)
            row("remote process group gone after SIGINT", median_of(runs, group_gone),
                "the same killed locally", median_of(runs, local_group_gone), "1 s grace + ms")
    print(f"(medians of {n} runs; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
