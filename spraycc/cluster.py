"""Executor supply: submitting executors through a start command and keeping count of them.

Every executor, local or on a cluster, is started the same way:
`sh -c "<start_cmd> exec --callme=HOST:PORT --code=N --launch=ID"`. With no start command the
"start command" is this very spraycc (the embedded default), so the executor is a local process.
A Pool is one start command with its limit; the Supply ramps the pools to the demand the broker
reports (SPEC §7): `initial_count` at once, then `keep_pending` outstanding while work waits,
never more than the pool's limit running + pending, never more than there is work.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class Launch:
    """One submitted executor, from submission until it leaves."""

    id: str
    pool: str
    proc: subprocess.Popen[bytes] | None
    logfile: Path
    submitted: float
    state: str = "pending"  # pending -> connected -> gone
    job_id: str | None = None
    host: str = ""


@dataclass
class Pool:
    name: str
    cmd: str
    limit: int
    local: bool  # the start command runs the executor itself (no batch system in between)
    initial: int = 5
    keep_pending: int = 3
    failed_until: float = 0.0
    failures: int = 0
    last_error: str = ""
    ever_connected: bool = False
    launches: dict[str, Launch] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(1 for launch in self.launches.values() if launch.state == state)


class Supply:
    def __init__(
        self,
        pools: list[Pool],
        *,
        callme: str,
        code: str,
        logdir: Path,
        pending_timeout: float = 300.0,
        extra_args: str = "",
        clock=time.monotonic,
    ) -> None:
        self.pools = pools
        self.callme = callme
        self.code = code
        self.logdir = logdir
        self.pending_timeout = pending_timeout
        self.extra_args = extra_args
        self.clock = clock
        self._serial = 0
        self.submitted = 0

    # ------------------------------------------------------------------------ counting

    def launches(self) -> list[Launch]:
        return [launch for pool in self.pools for launch in pool.launches.values()]

    @property
    def pending(self) -> int:
        return sum(pool.count("pending") for pool in self.pools)

    @property
    def connected(self) -> int:
        return sum(pool.count("connected") for pool in self.pools)

    @property
    def exhausted(self) -> bool:
        """No executor is connected or on its way, and no pool can submit one now."""
        now = self.clock()
        return not self.connected and not self.pending and all(
            pool.failed_until > now or pool.limit == 0 for pool in self.pools
        )

    # -------------------------------------------------------------------------- ramping

    def reconcile(self, demand: int) -> None:
        """Submit executors so that running + pending covers `demand` within each pool's
        limits. Local pools are filled first: they start at once."""
        now = self.clock()
        remaining = demand
        for pool in self.pools:
            have = pool.count("pending") + pool.count("connected")
            want = min(pool.limit, remaining)
            remaining -= min(want, have) if pool.local else want
            if pool.failed_until > now or have >= want:
                continue
            missing = want - have
            if not pool.local:
                cap = pool.keep_pending if pool.ever_connected else max(pool.initial,
                                                                        pool.keep_pending)
                missing = min(missing, cap - pool.count("pending"))
            for _ in range(max(0, missing)):
                if not self.submit(pool):
                    break

    def submit(self, pool: Pool) -> bool:
        self._serial += 1
        launch_id = f"{pool.name}-{self._serial}"
        cmdline = (f"{pool.cmd} exec --callme={shlex.quote(self.callme)} "
                   f"--code={self.code} --launch={launch_id}{self.extra_args}")
        logfile = self.logdir / f"{launch_id}.log"
        try:
            with open(logfile, "wb") as out:
                proc = subprocess.Popen(
                    ["sh", "-c", cmdline],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            self.on_submit_failed(pool, f"cannot run sh: {exc}")
            return False
        log.debug("submitted %s: %s", launch_id, cmdline)
        pool.launches[launch_id] = Launch(launch_id, pool.name, proc, logfile, self.clock())
        self.submitted += 1
        return True

    def on_submit_failed(self, pool: Pool, error: str) -> None:
        pool.failures += 1
        # Back off: report once, retry rarely (the cluster may be briefly unavailable).
        backoff = min(300.0, 10.0 * 2 ** min(pool.failures - 1, 5))
        pool.failed_until = self.clock() + backoff
        if error != pool.last_error:
            log.error("start command of pool '%s' failed: %s", pool.name, error)
            pool.last_error = error
        else:
            log.debug("start command of pool '%s' failed again", pool.name)

    # ------------------------------------------------------------------------- events

    def find(self, launch_id: str) -> tuple[Pool, Launch] | None:
        for pool in self.pools:
            launch = pool.launches.get(launch_id)
            if launch is not None:
                return pool, launch
        return None

    def on_connected(self, launch_id: str, host: str) -> None:
        found = self.find(launch_id)
        if found is None:
            log.warning("an executor with unknown launch id %r connected", launch_id)
            return
        pool, launch = found
        launch.state = "connected"
        launch.host = host
        pool.ever_connected = True
        pool.failures = 0

    def on_gone(self, launch_id: str) -> None:
        found = self.find(launch_id)
        if found is not None:
            found[1].state = "gone"

    def poll(self) -> None:
        """Reap finished submit commands and local executors; expire silent pending jobs."""
        now = self.clock()
        for pool in self.pools:
            for launch in list(pool.launches.values()):
                self._poll_launch(pool, launch, now)

    def _poll_launch(self, pool: Pool, launch: Launch, now: float) -> None:
        proc = launch.proc
        if proc is not None and proc.poll() is not None:
            launch.proc = None
            output = _tail(launch.logfile)
            if pool.local:
                if launch.state == "pending":
                    self.on_submit_failed(pool, f"executor exited with {proc.returncode} "
                                                f"before connecting: {output}")
                launch.state = "gone"
            elif proc.returncode != 0:
                self.on_submit_failed(pool, f"exit status {proc.returncode}: {output}")
                launch.state = "gone"
            else:
                launch.job_id = _job_id(output)
        if launch.state == "pending" and now - launch.submitted > self.pending_timeout:
            log.info("forgetting %s: not connected after %.0f s", launch.id, self.pending_timeout)
            launch.state = "gone"
        if launch.state == "gone" and launch.proc is None:
            del pool.launches[launch.id]
            launch.logfile.unlink(missing_ok=True)

    def shutdown(self, grace: float = 3.0) -> None:
        """Stop local executors we started (by PID) after giving them `grace` to leave."""
        deadline = self.clock() + grace
        for launch in self.launches():
            proc = launch.proc
            if proc is None:
                continue
            try:
                proc.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                proc.wait()


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        data = path.read_bytes()[-limit:]
    except OSError:
        return ""
    return data.decode(errors="replace").strip()


def _job_id(output: str) -> str | None:
    try:
        from spraycc.scheduler import parse_job_id
    except ImportError:  # pragma: no cover - scheduler knowledge is optional
        return None
    return parse_job_id(output)
