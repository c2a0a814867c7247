"""A private, real Grid Engine (Debian's gridengine 8.1.9) on this machine for tests.

``SgeCluster`` installs gridengine-master/-exec/-client if needed (debconf answers first, and
a policy-rc.d guard so the postinsts start no daemon), configures the one host of this machine
(submit and execution host, ``host_aliases`` so that loopback resolution is accepted,
``min_uid 0`` so root's jobs run, a 1 s scheduling interval) and two queues:

* ``all.q``: 16 slots, ``load_thresholds NONE``, ``pe_list NONE``, ``shell /bin/sh``: jobs
  start within a second of their submission;
* ``full.q``: 0 slots: every job stays pending (``qw``), like a queue with no free CPU.

Then it starts ``sge_qmaster`` and ``sge_execd`` without systemd and waits until a job runs.
``stop()`` deletes every job (the cluster is private), stops only the daemons it started (by
the PIDs it recorded) and keeps the installation. A Grid Engine daemon already running that
this harness did not start makes it refuse (HarnessUnavailable): it never touches another one.

Its two ports (qmaster, execd) are chosen free at start and given to the daemons and every
client as ``SGE_QMASTER_PORT``/``SGE_EXECD_PORT`` (``env()``), so a service on the usual
6444/6445 does not stop it. Fixed machine resources, none shared with the Slurm harness:
``/var/lib/gridengine`` (cell ``default``), ``/var/spool/gridengine``, and the run
directory ``/run/spraycc-sge`` with the recorded PIDs. /work/shared/cluster/NOTES.md has the
facts behind each step (measured: install 11-12 s, start 5-7 s, stop 10-17 s).
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import socket
import time
from pathlib import Path

from . import HarnessError, HarnessUnavailable
from ._util import free_ports, pid_alive, read_pid, require_root, run, stop_pids
from ._util import wait_for as _wait_for
from .slurm import ensure_installed

log = logging.getLogger(__name__)

PACKAGES = ("gridengine-master", "gridengine-exec", "gridengine-client")
SGE_ROOT = Path("/var/lib/gridengine")
CELL = "default"
COMMON = SGE_ROOT / CELL / "common"
SPOOL = Path("/var/spool/gridengine")
RUN_DIR = Path("/run/spraycc-sge")
JOB_START_TIMEOUT = 30.0


def install() -> float:
    """Debconf answers (the master's postinst then sets up cell `default`), then apt."""
    host = socket.gethostname()
    if shutil.which("debconf-set-selections"):
        run(["debconf-set-selections"], input=(
            "gridengine-common shared/gridengineconfig boolean true\n"
            "gridengine-common shared/gridenginecell string default\n"
            f"gridengine-common shared/gridenginemaster string {host}\n"))
    return ensure_installed(PACKAGES)


class SgeCluster:
    """A private single-host Grid Engine; ``start()``/``stop()`` or use as a context manager."""

    def __init__(self, *, slots: int = 16, start_timeout: float = 60.0,
                 install: bool = True) -> None:
        self.slots = slots
        self.start_timeout = start_timeout
        self.install = install
        self.host = socket.gethostname()
        self.timings: dict[str, float] = {}
        self._daemons: dict[int, str] = {}
        self._running = False
        self.qmaster_port = self.execd_port = 0  # chosen free by start()

    # -- public helpers ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def env(self) -> dict[str, str]:
        """Environment for clients (qsub, qstat, spraycc server) talking to this cluster."""
        return {**os.environ, "SGE_ROOT": str(SGE_ROOT), "SGE_CELL": CELL,
                "SGE_QMASTER_PORT": str(self.qmaster_port),
                "SGE_EXECD_PORT": str(self.execd_port)}

    def qstat_jobs(self) -> list[dict[str, str]]:
        """Live jobs (pending, running, error): dicts with id, name, state, queue."""
        out = run(["qstat", "-u", "*"], env=self.env()).stdout
        jobs = []
        for line in out.splitlines():
            words = line.split()
            if len(words) >= 5 and words[0].isdigit():
                queue = words[7] if len(words) > 8 and "@" in words[7] else ""
                jobs.append({"id": words[0], "name": words[2], "state": words[4],
                             "queue": queue})
        return jobs

    def qsub(self, *args: str) -> str:
        """``qsub -terse ARGS``; returns the job id."""
        return run(["qsub", "-terse", *args], env=self.env()).stdout.strip().split(".")[0]

    def delete_all(self, timeout: float = 30.0) -> None:
        """qdel every job and wait until qstat lists none."""
        ids = [j["id"] for j in self.qstat_jobs()]
        if not ids:
            return
        run(["qdel", "-f", *ids], env=self.env(), check=False)
        _wait_for(lambda: not self.qstat_jobs(), timeout, interval=0.2,
                  what=f"jobs {ids} to be deleted")

    def healthy(self) -> bool:
        return self._running and all(pid_alive(p, n) for p, n in self._daemons.items())

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> SgeCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        require_root("a private Grid Engine")
        t0 = time.monotonic()
        self.cleanup_stale()
        if self.install:
            self.timings["install"] = install()
        for tool in ("/usr/sbin/sge_qmaster", "/usr/sbin/sge_execd"):
            if not os.access(tool, os.X_OK):
                raise HarnessUnavailable(f"{tool} not installed")
        self._refuse_foreign()
        try:
            RUN_DIR.mkdir(parents=True, exist_ok=True)
            self._record(None, "")
            self._write_cell_files()
            self._start_qmaster()
            self._configure()
            self._start_execd()
            self._running = True
            self._wait_ready()
        except BaseException:
            self._running = True
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - t0
        log.info("grid engine up in %.2f s on %s", self.timings["start"], self.host)

    def stop(self) -> None:
        """Delete all jobs, stop our daemons by PID. Safe to call twice."""
        if not self._running and not self._daemons:
            return
        t0 = time.monotonic()
        try:
            if any(n == "sge_qmaster" and pid_alive(p, n) for p, n in self._daemons.items()):
                try:
                    self.delete_all()
                except HarnessError as exc:
                    log.warning("jobs not all gone before shutdown: %s", exc)
            stop_pids({p: n for p, n in self._daemons.items() if n == "sge_execd"})
            stop_pids({p: n for p, n in self._daemons.items() if n == "sge_qmaster"},
                      timeout=30.0)
            self._daemons.clear()
        finally:
            self._running = False
            shutil.rmtree(RUN_DIR, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - t0
        log.info("grid engine down in %.2f s", self.timings["stop"])

    @staticmethod
    def cleanup_stale() -> None:
        """Stop the daemons a crashed earlier run of this harness recorded (only those)."""
        try:
            recorded = json.loads((RUN_DIR / "daemons.json").read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise HarnessError(f"unreadable {RUN_DIR / 'daemons.json'}: {exc}") from exc
        owner = recorded.pop("owner", None)
        if isinstance(owner, int) and owner != os.getpid() and pid_alive(owner):
            raise HarnessUnavailable(f"the Grid Engine harness is in use by live process {owner}")
        daemons = {int(p): n for p, n in recorded.items() if pid_alive(int(p), n)}
        if daemons:
            log.warning("stopping Grid Engine daemons left by an earlier run: %s", daemons)
            stop_pids({p: n for p, n in daemons.items() if n == "sge_execd"})
            stop_pids({p: n for p, n in daemons.items() if n == "sge_qmaster"}, timeout=30.0)
        shutil.rmtree(RUN_DIR, ignore_errors=True)

    # -- steps of start() ------------------------------------------------------------------
    @staticmethod
    def _pid_file(name: str) -> Path | None:
        """The daemon's pid file. execd spools under the name it resolves itself to (through
        host_aliases that may be `localhost`), so its directory is looked for."""
        if name == "sge_qmaster":
            return SPOOL / "qmaster" / "qmaster.pid"
        found = sorted((SPOOL / "execd").glob("*/execd.pid"), key=lambda p: p.stat().st_mtime)
        return found[-1] if found else None

    def _refuse_foreign(self) -> None:
        for name in ("sge_qmaster", "sge_execd"):
            path = self._pid_file(name)
            pid = read_pid(path) if path else None
            if pid and pid_alive(pid, name):
                raise HarnessUnavailable(f"{name} (pid {pid}) runs and was not started by this "
                                         "harness: refusing to touch another Grid Engine")
        self.qmaster_port, self.execd_port = free_ports(2)

    def _record(self, pid: int | None, name: str) -> None:
        if pid is not None:
            self._daemons[pid] = name
        path = RUN_DIR / "daemons.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"owner": os.getpid(),
                                   **{str(p): n for p, n in self._daemons.items()}}))
        os.replace(tmp, path)

    def _write_cell_files(self) -> None:
        if not COMMON.is_dir():
            raise HarnessUnavailable(f"{COMMON} missing: the gridengine-master postinst did "
                                     "not set up the cell (debconf answers?)")
        (COMMON / "act_qmaster").write_text(f"{self.host}\n")
        # The host name resolves to 127.0.0.1, whose reverse name is "localhost": without the
        # alias every client is refused ("client IP resolved to host name localhost").
        (COMMON / "host_aliases").write_text(f"{self.host} localhost\n")
        admin = pwd.getpwnam("sgeadmin")
        Path("/var/run/gridengine").mkdir(parents=True, exist_ok=True)
        os.chown("/var/run/gridengine", admin.pw_uid, admin.pw_gid)

    def _daemon(self, path: str, name: str) -> None:
        run([path], env=self.env(), timeout=60)

        def started() -> int | None:
            pid_file = self._pid_file(name)
            pid = read_pid(pid_file) if pid_file else None
            return pid if pid and pid_alive(pid, name) else None

        try:
            pid = _wait_for(started, 20.0, what=f"the pid file of {name}")
        except HarnessError as exc:
            raise HarnessError(f"{exc}\n{self.log_tail()}") from exc
        self._record(pid, name)

    def _start_qmaster(self) -> None:
        self._daemon("/usr/sbin/sge_qmaster", "sge_qmaster")
        _wait_for(lambda: run(["qconf", "-sh"], env=self.env(), check=False).returncode == 0,
                  30.0, interval=0.2, what="sge_qmaster to answer")

    def _start_execd(self) -> None:
        self._daemon("/usr/sbin/sge_execd", "sge_execd")

    def _qconf_file(self, add: str, modify: str, name: str, text: str) -> None:
        """`qconf -A... FILE`, or `-M... FILE` when the object exists from an earlier run."""
        path = RUN_DIR / name
        path.write_text(text)
        cp = run(["qconf", add, str(path)], env=self.env(), check=False)
        if cp.returncode != 0 or "already exists" in cp.stdout + cp.stderr:
            run(["qconf", modify, str(path)], env=self.env())

    def _configure(self) -> None:
        env = self.env()
        run(["qconf", "-as", self.host], env=env, check=False)  # submit host (may exist)
        self._qconf_file("-Ae", "-Me", "exechost", "\n".join([
            f"hostname {self.host}", "load_scaling NONE", "complex_values NONE",
            "user_lists NONE", "xuser_lists NONE", "projects NONE", "xprojects NONE",
            "usage_scaling NONE", "report_variables NONE", ""]))
        glob = run(["qconf", "-sconf", "global"], env=env).stdout
        # Accounting records (qacct) are flushed every 15 s by default; 1 s lets the tests see
        # each job's exit status as soon as the job has left qstat.
        glob = _set(glob, {"min_uid": "0", "min_gid": "0", "reporting_params":
                           "accounting=true reporting=false flush_time=00:00:01 joblog=false "
                           "sharelog=00:00:00"})
        (RUN_DIR / "global").write_text(glob)  # qconf -Mconf takes the name from the file
        run(["qconf", "-Mconf", str(RUN_DIR / "global")], env=env)
        sched = run(["qconf", "-ssconf"], env=env).stdout
        sched = _set(sched, {"schedule_interval": "0:0:1", "flush_submit_sec": "1",
                             "flush_finish_sec": "1", "job_load_adjustments": "NONE",
                             "load_adjustment_decay_time": "0:0:0"})
        (RUN_DIR / "sched").write_text(sched)
        run(["qconf", "-Msconf", str(RUN_DIR / "sched")], env=env)
        self._qconf_file("-Ahgrp", "-Mhgrp", "allhosts",
                         f"group_name @allhosts\nhostlist {self.host}\n")
        for queue, slots in (("all.q", self.slots), ("full.q", 0)):
            self._queue(queue, slots)

    def _queue(self, name: str, slots: int) -> None:
        editor = RUN_DIR / f"edit-{name}"
        editor.write_text(
            "#!/bin/sh\nsed -i -e 's/^hostlist .*/hostlist @allhosts/' "
            f"-e 's/^slots .*/slots {slots}/' -e 's/^load_thresholds .*/load_thresholds NONE/' "
            "-e 's/^pe_list .*/pe_list NONE/' -e 's|^shell .*|shell /bin/sh|' \"$1\"\n")
        editor.chmod(0o755)
        env = {**self.env(), "EDITOR": str(editor)}
        exists = run(["qconf", "-sq", name], env=env, check=False).returncode == 0
        run(["qconf", "-mq" if exists else "-aq", name], env=env)

    def _wait_ready(self) -> None:
        def ready() -> bool:
            cp = run(["qstat", "-f", "-q", "all.q"], env=self.env(), check=False)
            for line in cp.stdout.splitlines():
                words = line.split()
                # all.q@vm  BIP  0/0/16  0.01  lx-amd64  [state letters when not usable]
                if words and words[0].startswith("all.q@"):
                    return len(words) == 5 and words[3] != "-NA-"
            return False

        try:
            _wait_for(ready, self.start_timeout, interval=0.2, what="queue all.q to be usable")
        except HarnessError as exc:
            raise HarnessError(f"{exc}\n{self.log_tail()}") from exc
        run(["qsub", "-sync", "y", "-b", "y", "-o", "/dev/null", "-j", "y", "-N",
             "spraycc-harness-warmup", "/bin/true"], env=self.env(), timeout=JOB_START_TIMEOUT)

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for path in [SPOOL / "qmaster" / "messages", *(SPOOL / "execd").glob("*/messages")]:
            try:
                tail = path.read_text(errors="replace").splitlines()[-lines:]
            except OSError:
                continue
            parts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(parts)


def _set(conf: str, values: dict[str, str]) -> str:
    """A qconf listing with the lines of `values` replaced (or added)."""
    out, seen = [], set()
    for line in conf.replace("\\\n", " ").splitlines():  # join continued lines first
        name = line.split(None, 1)[0] if line.strip() else ""
        if name in values:
            out.append(f"{name} {values[name]}")
            seen.add(name)
        else:
            out.append(line)
    out += [f"{name} {value}" for name, value in values.items() if name not in seen]
    return "\n".join(out) + "\n"


def _main() -> None:
    """``python -m harness.sge``: start Grid Engine, wait for Enter, stop it."""
    logging.basicConfig(level=logging.INFO)
    with SgeCluster() as cluster:
        print(cluster.timings)
        input("grid engine up; press Enter to stop ")
    print(cluster.timings)


if __name__ == "__main__":
    _main()
