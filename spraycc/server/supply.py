"""Executor supply: submitting executors through start commands, ramping, and job bookkeeping.

Every executor, local or on a cluster, is started the same way:
`sh -c "<start_cmd> exec --callme=HOST:PORT --code=N --launch=ID ..."`, the appended words
built by `exec_words`, shell-inert so that wrappers may re-join them. With no start command the
"start command" is this very spraycc (the embedded default), so the executor is a local process.

A Pool is one start command; a Launch is one submitted executor, from submission until it
connects (READY names its launch id) and later leaves. The Supply ramps the pools to the work
the broker reports (docs/cluster.md):

* covered = executors connected + pending; never more than there are tasks (queued + running),
  never more than `limit` (max_count or --cpus) over the cluster pools;
* a pool with no executor connected ("cold") may have `initial` jobs pending (initial_count at
  once); once one of its executors has connected it keeps `keep_pending` outstanding, so each
  connecting executor triggers its replacement on the same command. With `--both` each pool
  starts with half of initial_count; the pool whose queue has free CPUs connects, refills and
  takes the load, while the other keeps only its first jobs waiting;
* local pools (processes on this host) are filled first: they start at once.

Job bookkeeping: the submit command's output gives the cluster job id (batch.parse_job_id).
A pending job that has not connected after `pending_timeout` is cancelled and forgotten (and,
if its pool never got an executor, counts as a failure of the pool). Pending jobs are also
cancelled after `release_delay` without any work, like idle executors are released, and all
still-pending jobs are cancelled when the server exits, so none of ours starts after we are
gone. While jobs have not connected, the batch system is asked about them every 2 s in
the background (`jobwatch`, one command for all of them): a job that ended or can never start
counts as a failed executor at once, and a pool none of whose executors ever connected is
"failing" after FAILING_AFTER of them, so its queued work goes local at once (docs/cluster.md,
"Job status"). A failing submit command is reported once, with its output, and the pool backs
off (10 s, doubling up to 5 min) instead of retrying in a tight loop; when no pool can supply an
executor at all, `exhausted` tells the server to send queued work back to local execution.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from spraycc.server import jobstatus
from spraycc.server.batch import INERT_SHOWN, cancel_command, inert, parse_job_id
from spraycc.server.jobstatus import oneline
from spraycc.server.jobwatch import JobWatch

log = logging.getLogger(__name__)

SUBMIT_WAIT = 5.0  # at exit: how long submit commands still running may take to print job ids
CANCEL_TIMEOUT = 30.0  # at exit: how long the cancel command may take
BACKOFF_FIRST = 10.0  # seconds a failing pool rests after its first failure (doubling)
BACKOFF_MAX = 300.0
FAILING_AFTER = 3  # jobs dead without connecting, none of the pool ever connected: failing


class Proc(Protocol):
    """What the supply needs of a started process (subprocess.Popen, or a fake in tests)."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


Spawn = Callable[[str, Path], Proc]


def popen_sh(cmdline: str, logfile: Path) -> Proc:
    """Run `cmdline` with sh in its own session, output (stdout and stderr) to `logfile`."""
    with open(logfile, "wb") as out:
        return subprocess.Popen(
            ["sh", "-c", cmdline],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: ended by PID at exit
            close_fds=True,
        )


def exec_words(callme: str, code: str, launch: str, options: Sequence[str] = ()) -> list[str]:
    """The words the server appends to a start command: `exec --callme=HOST:PORT --code=N
    --launch=ID` and `options` (--serverkey=HEX, --tmpdir=DIR, --walltime=S).

    Every word is shell-inert (scheduler.INERT_CHARS), so it needs no quoting and survives any
    number of re-joins by wrappers, `bsub`, `qsub -b y` or `sbatch --wrap "$*"`. Values from
    the config are checked when it is loaded; a word that is not inert here is a bug.
    """
    words = ["exec", f"--callme={callme}", f"--code={code}", f"--launch={launch}", *options]
    bad = [word for word in words if not inert(word)]
    if bad:
        raise ValueError(f"executor arguments {bad!r} contain characters other than "
                         f"{INERT_SHOWN}")
    return words


@dataclass
class Launch:
    """One submitted executor, from submission until it leaves."""

    id: str
    pool: str
    proc: Proc | None  # the submit command (cluster) or the executor itself (local)
    logfile: Path
    submitted: float
    state: str = "pending"  # pending -> connected -> gone
    job_id: str | None = None
    host: str = ""
    address: str = ""  # the peer address its connection came from
    connected: float = 0.0


@dataclass
class PoolStats:
    """The server's own counters per pool (summary, status, tests measure the ramp)."""

    submitted: int = 0
    connected: int = 0
    failed: int = 0  # submit commands that failed, executors that died before connecting
    died: int = 0  # jobs the scheduler reported ended (or stuck) before their executor connected
    forgotten: int = 0  # pending jobs that never connected within pending_timeout
    cancelled: int = 0  # pending jobs cancelled (timeout, no more work, server exit)
    latencies: list[float] = field(default_factory=list)  # submit -> connect, seconds
    addresses: dict[str, int] = field(default_factory=dict)  # peer address -> executors


@dataclass
class Pool:
    """One start command. `limit` caps its running + pending executors."""

    name: str
    cmd: str
    limit: int
    local: bool  # the start command runs the executor itself (no batch system in between)
    initial: int = 5  # pending allowed while none of this pool's executors is connected
    keep_pending: int = 3  # pending kept outstanding once one is
    scheduler: str | None = None  # for job ids and cancelling; None: unknown
    cancel_cmd: str = ""  # overrides the scheduler's cancel command; ids are appended
    status_cmd: str = ""  # overrides the scheduler's job status query; ids are appended
    failing: str = ""  # why the pool is failing (its jobs die before connecting), "" if not
    failed_until: float = 0.0
    failures: int = 0  # consecutive failure rounds (for the back-off)
    last_error: str = ""
    warned_no_id: bool = False
    launches: dict[str, Launch] = field(default_factory=dict)
    stats: PoolStats = field(default_factory=PoolStats)

    def count(self, state: str) -> int:
        return sum(1 for launch in self.launches.values() if launch.state == state)

    @property
    def pending(self) -> int:
        return self.count("pending")

    @property
    def connected(self) -> int:
        return self.count("connected")

    @property
    def active(self) -> int:
        return self.pending + self.connected

    def pending_cap(self) -> int:
        """How many of this pool's executors may be pending now."""
        if self.local:
            return self.limit
        cap = self.keep_pending if self.connected else self.initial
        return max(cap, 1)  # 0 would never start anything and leave the work waiting

    def cancellable(self) -> bool:
        return not self.local and bool(self.cancel_cmd or self.scheduler not in (None, "local"))

    def watchable(self) -> bool:
        """Can the server ask the batch system about this pool's jobs?"""
        return not self.local and bool(self.status_cmd or self.scheduler in jobstatus.SCHEDULERS)


class Supply:
    def __init__(
        self,
        pools: list[Pool],
        *,
        callme: str,
        code: str,
        logdir: Path,
        limit: int | None = None,
        pending_timeout: float = 300.0,
        release_delay: float = 30.0,
        extra_args: Sequence[str] = (),
        local_callme: str = "",
        local_args: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
        spawn: Spawn = popen_sh,
        killpg: Callable[[int, int], None] = os.killpg,
    ) -> None:
        self.pools = pools
        self.callme = callme
        self.code = code
        self.logdir = logdir
        cluster = [pool.limit for pool in pools if not pool.local]
        self.limit = limit if limit is not None else sum(cluster)
        self.pending_timeout = pending_timeout
        self.release_delay = release_delay
        self.extra_args = list(extra_args)
        # Local executors may call back on the server's private ipc endpoint instead (no TCP,
        # no CURVE: only this user can enter the directory the socket is in).
        self.local_callme = local_callme
        self.local_args = list(local_args)
        self.clock = clock
        self.spawn = spawn
        self.killpg = killpg  # the submit commands and local executors lead their own groups
        self.started = clock()
        self.no_work_since: float | None = None
        self.cancels: list[Proc] = []  # cancel commands run in the background
        self.watch = JobWatch(logdir, self._terminate)  # job status queries (background)
        self._serial = 0
        self.submitted = 0

    # ------------------------------------------------------------------------ counting

    def launches(self) -> list[Launch]:
        return [launch for pool in self.pools for launch in pool.launches.values()]

    @property
    def pending(self) -> int:
        return sum(pool.pending for pool in self.pools)

    @property
    def connected(self) -> int:
        return sum(pool.connected for pool in self.pools)

    @property
    def exhausted(self) -> bool:
        """No executor is connected, and none is on its way or can be submitted now: every
        pool is failing (its jobs die before connecting), resting after a failure, or off."""
        now = self.clock()
        return not self.connected and not any(
            pool.limit and not pool.failing and (pool.pending or pool.failed_until <= now)
            for pool in self.pools)

    def failing(self) -> list[Pool]:
        return [pool for pool in self.pools if pool.failing]

    # -------------------------------------------------------------------------- ramping

    def reconcile(self, demand: int) -> None:
        """Submit executors so that connected + pending covers `demand` (queued + running
        tasks) within the limits; cancel pending jobs after release_delay without work."""
        now = self.clock()
        self._release_pending(demand, now)
        want = demand - sum(pool.active for pool in self.pools)
        if want <= 0:
            return
        for pool in self.pools:
            if pool.local and pool.failed_until <= now:
                for _ in range(max(0, min(want, pool.limit - pool.active))):
                    if not self.submit(pool):
                        break
                    want -= 1
        cluster = [pool for pool in self.pools if not pool.local]
        want = min(want, self.limit - sum(pool.active for pool in cluster))
        # One at a time round the pools, so --both splits the first wave evenly.
        progress = True
        while want > 0 and progress:
            progress = False
            for pool in cluster:
                if want <= 0:
                    break
                if (pool.failed_until > now or pool.active >= pool.limit
                        or pool.pending >= pool.pending_cap()):
                    continue
                if self.submit(pool):
                    want -= 1
                    progress = True

    def _release_pending(self, demand: int, now: float) -> None:
        """With no work at all for release_delay, pending cluster jobs are cancelled too."""
        if demand:
            self.no_work_since = None
            return
        if self.no_work_since is None:
            self.no_work_since = now
            return
        if now - self.no_work_since < self.release_delay:
            return
        for pool in self.pools:
            waiting = [launch for launch in pool.launches.values()
                       if launch.state == "pending" and not pool.local]
            if waiting:
                log.info("no work for %.0f s: withdrawing %d pending executor(s) of pool '%s'",
                         now - self.no_work_since, len(waiting), pool.name)
                self._withdraw(pool, waiting, wait=False)

    def submit(self, pool: Pool) -> bool:
        self._serial += 1
        launch_id = f"{pool.name}-{self._serial}"
        callme, extra = self.callme, self.extra_args
        if pool.local and self.local_callme:
            callme, extra = self.local_callme, self.local_args
        cmdline = " ".join([pool.cmd, *exec_words(callme, self.code, launch_id, extra)])
        logfile = self.logdir / f"{launch_id}.log"
        try:
            proc = self.spawn(cmdline, logfile)
        except OSError as exc:
            self.on_submit_failed(pool, f"cannot run sh: {exc}")
            return False
        now = self.clock()
        pool.launches[launch_id] = Launch(launch_id, pool.name, proc, logfile, now)
        pool.stats.submitted += 1
        self.submitted += 1
        log.log(logging.DEBUG if pool.local else logging.INFO,
                "submitted executor %s at +%.2f s (pool %s: %d pending, %d connected)",
                launch_id, now - self.started, pool.name, pool.pending, pool.connected)
        log.debug("start command: %s", cmdline)
        return True

    def on_submit_failed(self, pool: Pool, error: str) -> None:
        """Report a failure once and make the pool rest (no tight retry loop)."""
        now = self.clock()
        pool.stats.failed += 1
        self._rest(pool, now)
        if error != pool.last_error:
            pool.last_error = error
            log.error("start command of pool '%s' failed: %s (command: %s; next try in %.0f s)",
                      pool.name, error, pool.cmd, pool.failed_until - now)
        else:
            log.debug("start command of pool '%s' failed again: %s", pool.name, error)

    def _rest(self, pool: Pool, now: float) -> None:
        """The pool rests before it submits again: 10 s, doubling per round up to 5 min."""
        if pool.failed_until <= now:  # a new round: the launches of one wave fail together
            pool.failures += 1
            backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(pool.failures - 1, 5))
            pool.failed_until = now + backoff

    # ------------------------------------------------------------------------- events

    def find(self, launch_id: str) -> tuple[Pool, Launch] | None:
        for pool in self.pools:
            launch = pool.launches.get(launch_id)
            if launch is not None:
                return pool, launch
        return None

    def on_connected(self, launch_id: str, host: str, address: str = "") -> None:
        found = self.find(launch_id)
        if found is None:
            log.warning("executor %r connected from %s (%s), but it is not pending here "
                        "(forgotten after pending_timeout?)", launch_id, address or "?", host)
            return
        pool, launch = found
        now = self.clock()
        proc = launch.proc
        if not pool.local and proc is not None and proc.poll() == 0 and launch.job_id is None:
            launch.proc = None  # the submit command is done: learn the job id before logging
            self._note_job_id(pool, launch, _tail(launch.logfile))
        launch.state = "connected"
        launch.host = host
        launch.address = address
        launch.connected = now
        pool.failures = 0
        pool.failed_until = 0.0
        pool.last_error = ""
        if pool.failing:
            pool.failing = ""
            log.warning("pool '%s' works again: executor %s connected", pool.name, launch_id)
        stats = pool.stats
        stats.connected += 1
        stats.latencies.append(now - launch.submitted)
        stats.addresses[address or host] = stats.addresses.get(address or host, 0) + 1
        log.log(logging.DEBUG if pool.local else logging.INFO,
                "executor %s%s connected from %s (%s) at +%.2f s, %.2f s after submission",
                launch_id, f" (job {launch.job_id})" if launch.job_id else "",
                address or "?", host, now - self.started, now - launch.submitted)

    def on_gone(self, launch_id: str) -> None:
        found = self.find(launch_id)
        if found is not None:
            found[1].state = "gone"

    def poll(self) -> None:
        """Reap finished submit commands and local executors; expire silent pending jobs."""
        now = self.clock()
        for pool in self.pools:
            for launch in list(pool.launches.values()):
                proc = launch.proc
                if proc is not None and proc.poll() is not None:
                    launch.proc = None
                    self._on_exit(pool, launch, proc.returncode or 0)
            self._expire(pool, now)
        self._watch_jobs(now)
        for pool in self.pools:
            for launch in list(pool.launches.values()):
                if launch.state == "gone" and launch.proc is None:
                    del pool.launches[launch.id]
                    launch.logfile.unlink(missing_ok=True)
        self.cancels = [proc for proc in self.cancels if proc.poll() is None]

    # ------------------------------------------------------------------- job status

    def _watch_jobs(self, now: float) -> None:
        """Ask the batch system about the jobs that have not connected (in the background,
        `jobwatch`) and act on those it reports dead."""
        wanted: dict[tuple[str | None, str], list[str]] = {}
        for pool in self.pools:
            ids = [launch.job_id for launch in pool.launches.values()
                   if launch.state == "pending" and launch.job_id]
            if ids and pool.watchable():
                wanted.setdefault((pool.scheduler, pool.status_cmd), []).extend(ids)
        found = self.watch.tick(now, wanted)
        if not found:
            return
        for pool in self.pools:
            for launch in list(pool.launches.values()):
                status = found.get(launch.job_id or "")
                if status is not None and launch.state == "pending" and status.dead:
                    self._on_job_dead(pool, launch, status)

    def _on_job_dead(self, pool: Pool, launch: Launch, status: jobstatus.JobStatus) -> None:
        """A job ended, or waits for what cannot come, before its executor connected."""
        now = self.clock()
        pool.stats.failed += 1
        pool.stats.died += 1
        what = status.describe()
        if status.stuck:
            log.warning("executor %s of pool '%s' can never start (%s): cancelling it",
                        launch.id, pool.name, what)
            self._withdraw(pool, [launch], wait=False)
        else:
            log.warning("executor %s of pool '%s' ended without connecting (%s)", launch.id,
                        pool.name, what)
            launch.state = "gone"
        if pool.stats.connected:
            return  # the pool works: a job lost on the way (node failure) is replaced
        if not pool.failing and pool.stats.died < FAILING_AFTER:
            return
        first = not pool.failing
        pool.failing = (f"{pool.stats.died} jobs ended without connecting, none ever "
                        f"connected (last {what})")
        pool.last_error = pool.failing
        self._rest(pool, now)
        waiting = [other for other in pool.launches.values() if other.state == "pending"]
        self._withdraw(pool, waiting, wait=False)  # the same command: they die the same way
        if first:
            log.error("executors of pool '%s' are failing: %s. %s. Queued steps run locally "
                      "until an executor connects; the pool tries again in %.0f s (command: "
                      "%s)", pool.name, pool.failing, jobstatus.output_hint(pool.cmd,
                      launch.job_id), pool.failed_until - now, pool.cmd)

    def _expire(self, pool: Pool, now: float) -> None:
        """Withdraw (cancel, forget) the pool's jobs pending longer than pending_timeout."""
        if pool.local:
            return  # a local executor that cannot connect exits by itself (no heartbeat)
        late = [launch for launch in pool.launches.values()
                if launch.state == "pending" and now - launch.submitted > self.pending_timeout]
        if not late:
            return
        pool.stats.forgotten += len(late)
        jobs = [launch.job_id for launch in late if launch.job_id]
        log.warning("%d executor(s) of pool '%s'%s did not connect within %.0f s: withdrawn "
                    "(is the queue full, or the callback address %s unreachable from the "
                    "cluster?)", len(late), pool.name, f" (jobs {' '.join(jobs)})" if jobs else "",
                    self.pending_timeout, self.callme)
        self._withdraw(pool, late, wait=False)  # one cancel command for all of them
        for launch in late:
            if launch.proc is not None:  # a submit command that hangs: reaped once it ends
                self._signal(launch.proc, signal.SIGTERM)
        if not pool.connected:
            self.on_submit_failed(pool, f"no executor connected within "
                                        f"{self.pending_timeout:g} s of its submission")

    def _on_exit(self, pool: Pool, launch: Launch, status: int) -> None:
        """The submit command (cluster) or the executor process (local) ended."""
        output = _tail(launch.logfile)
        if pool.local:
            if launch.state == "pending":
                self.on_submit_failed(pool, f"executor exited with status {status} before "
                                            f"connecting: {oneline(output) or '(no output)'}")
            launch.state = "gone"
        elif status != 0:
            if launch.state == "pending":
                self.on_submit_failed(pool, f"exit status {status}: "
                                            f"{oneline(output) or '(no output)'}")
            launch.state = "gone"
        elif launch.job_id is None:
            self._note_job_id(pool, launch, output)
            if launch.state == "gone" and launch.job_id:  # withdrawn while it was submitting
                self._withdraw(pool, [launch], wait=False)

    def _note_job_id(self, pool: Pool, launch: Launch, output: str) -> None:
        launch.job_id = parse_job_id(output)
        if launch.job_id is None and pool.cancellable() and not pool.warned_no_id:
            pool.warned_no_id = True
            log.warning("no job id in the output of pool '%s' start command (%r): its pending "
                        "jobs cannot be cancelled", pool.name, oneline(output)[:200])

    # -------------------------------------------------------------------- cancelling

    def _withdraw(self, pool: Pool, launches: list[Launch], *, wait: bool,
                  timeout: float = CANCEL_TIMEOUT) -> None:
        """Forget pending launches and cancel their cluster jobs (those with a known id)."""
        for launch in launches:
            launch.state = "gone"
        ids = [launch.job_id for launch in launches if launch.job_id]
        if not ids or not pool.cancellable():
            return
        argv = cancel_command(pool.scheduler, ids, pool.cancel_cmd or None)
        if not argv:
            return
        pool.stats.cancelled += len(ids)
        if not wait:
            try:
                self.cancels.append(subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, close_fds=True))
            except OSError as exc:
                log.error("cannot cancel jobs %s: %s", " ".join(ids), exc)
            return
        try:
            cp = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.error("cancelling pending jobs failed: %s: %s", shlex.join(argv), exc)
            return
        if cp.returncode != 0:
            log.error("cancelling pending jobs failed (exit status %d): %s: %s", cp.returncode,
                      shlex.join(argv), oneline((cp.stdout + cp.stderr).decode(errors="replace")))
        else:
            log.info("cancelled %d pending job(s) of pool '%s': %s", len(ids), pool.name,
                     shlex.join(argv))

    def shutdown(self, grace: float = 3.0) -> None:
        """At server exit: cancel every still-pending cluster job, then end what we started
        (submit commands and local executors, by PID) after giving them `grace` to leave."""
        deadline = self.clock() + SUBMIT_WAIT
        for pool in self.pools:
            if pool.local:
                continue
            waiting = [launch for launch in pool.launches.values() if launch.state == "pending"]
            for launch in waiting:
                proc = launch.proc
                if proc is None:
                    continue
                # A submit command still running: let it print the job id we must cancel.
                self._reap(proc, deadline)
                launch.proc = None
                if proc.returncode == 0:
                    self._note_job_id(pool, launch, _tail(launch.logfile))
            unknown = sum(1 for launch in waiting if not launch.job_id)
            if unknown and pool.cancellable():
                log.warning("%d pending executor(s) of pool '%s' have no known job id: they "
                            "exit by themselves when they find no server", unknown, pool.name)
            self._withdraw(pool, waiting, wait=True)
        for proc in self.cancels:
            self._reap(proc, deadline)
        self.cancels = []
        self.watch.close()
        deadline = self.clock() + grace
        for launch in self.launches():
            proc = launch.proc
            if proc is None:
                continue
            self._reap(proc, deadline)

    def _reap(self, proc: Proc, deadline: float) -> None:
        """Wait for a process we started until `deadline`, then end it."""
        try:
            proc.wait(max(0.0, deadline - self.clock()))
        except subprocess.TimeoutExpired:
            self._terminate(proc)

    def _signal(self, proc: Proc, signum: int) -> None:
        """Signal the process group of a process we started (in its own session), by PID."""
        try:
            self.killpg(proc.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def _terminate(self, proc: Proc) -> None:
        """End a process we started: SIGTERM to its group, SIGKILL after 5 s."""
        self._signal(proc, signal.SIGTERM)
        try:
            proc.wait(5.0)
        except subprocess.TimeoutExpired:
            self._signal(proc, signal.SIGKILL)
            proc.wait()

    # --------------------------------------------------------------------- reporting

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per pool: executors pending/connected now and the counters so far."""
        return {
            pool.name: {
                "command": pool.cmd,
                "local": pool.local,
                "pending": pool.pending,
                "connected": pool.connected,
                "submitted": pool.stats.submitted,
                "ever_connected": pool.stats.connected,
                "failed": pool.stats.failed,
                "died": pool.stats.died,
                "forgotten": pool.stats.forgotten,
                "cancelled": pool.stats.cancelled,
                "start_latency_median": (statistics.median(pool.stats.latencies)
                                         if pool.stats.latencies else None),
                "start_latency_max": max(pool.stats.latencies, default=None),
                "addresses": dict(pool.stats.addresses),
                "last_error": pool.last_error,
                "failing": pool.failing,
            }
            for pool in self.pools
        }

    def summary(self) -> list[str]:
        lines = []
        for pool in self.pools:
            s = pool.stats
            line = (f"pool {pool.name}: {s.submitted} submitted, {s.connected} connected, "
                    f"{s.failed} failed, {s.forgotten} forgotten, {s.cancelled} cancelled")
            if s.latencies:
                line += (f"; start latency median {statistics.median(s.latencies):.2f} s, "
                         f"max {max(s.latencies):.2f} s")
            if s.addresses and not pool.local:
                line += "; from " + ", ".join(f"{a} x{n}" for a, n in sorted(s.addresses.items()))
            lines.append(line)
        return lines


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            data = f.read()
    except OSError:
        return ""
    return data.decode(errors="replace").strip()
