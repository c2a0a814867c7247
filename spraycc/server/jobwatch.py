"""The job status queries of the server, run in the background (docs/cluster.md, "Job
status"): at most one per (scheduler, status_cmd) at a time, started every STATUS_EVERY
seconds while there are jobs to ask about, read when it ends, ended by PID after
STATUS_TIMEOUT. The poll loop never waits for one. What the commands are and how their output
reads is `jobstatus`; what a dead job means for its pool is `cluster.Supply`.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from spraycc.server import jobstatus
from spraycc.server.jobstatus import JobStatus, oneline

log = logging.getLogger(__name__)

STATUS_EVERY = 2.0  # seconds between job status queries while jobs have not connected
STATUS_TIMEOUT = 30.0  # a status query still running after this long is ended
OUTPUT_LIMIT = 1 << 20  # bytes of a query's output that are read

Group = tuple[str | None, str]  # (scheduler, status_cmd): one query each


@dataclass
class Query:
    """One job status query running in the background."""

    proc: subprocess.Popen[bytes]
    program: str  # argv[0], for messages
    group: Group
    ids: list[str]
    outfile: Path
    started: float


class JobWatch:
    """Runs the queries; `tick` returns what the ones that ended reported."""

    def __init__(self, workdir: Path, terminate: Callable[[subprocess.Popen[bytes]], None],
                 ) -> None:
        self.workdir = workdir
        self.terminate = terminate  # ends a query's process group, by PID
        self.queries: list[Query] = []
        self.last = -STATUS_EVERY
        self.warned: set[str] = set()

    def tick(self, now: float, wanted: dict[Group, list[str]]) -> dict[str, JobStatus]:
        """Collect the queries that ended; start the next ones for `wanted` when due."""
        found: dict[str, JobStatus] = {}
        for query in list(self.queries):
            if query.proc.poll() is not None:
                self.queries.remove(query)
                found.update(self._read(query))
            elif now - query.started > STATUS_TIMEOUT:
                self.queries.remove(query)
                self.terminate(query.proc)
                query.outfile.unlink(missing_ok=True)
                log.warning("job status query %s gave no answer within %.0f s",
                            query.program, STATUS_TIMEOUT)
        if self.queries or now - self.last < STATUS_EVERY or not wanted:
            return found
        self.last = now
        for group, ids in wanted.items():
            self._start(group, ids, now)
        return found

    def close(self) -> None:
        for query in self.queries:
            self.terminate(query.proc)
            query.outfile.unlink(missing_ok=True)
        self.queries = []

    def _start(self, group: Group, ids: list[str], now: float) -> None:
        scheduler, override = group
        argv = jobstatus.query_command(scheduler, ids, override)
        if not argv:
            return
        outfile = self.workdir / f"status-{len(self.queries)}.out"
        try:
            with open(outfile, "wb") as out:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, close_fds=True,
                                        start_new_session=True)
        except OSError as exc:
            self._warn(argv[0], f"cannot run {argv[0]}: {exc}")
            return
        self.queries.append(Query(proc, argv[0], group, ids, outfile, now))
        log.debug("job status query: %s", shlex.join(argv))

    def _read(self, query: Query) -> dict[str, JobStatus]:
        try:
            with open(query.outfile, "rb") as f:
                output = f.read(OUTPUT_LIMIT).decode(errors="replace")
        except OSError:
            output = ""
        query.outfile.unlink(missing_ok=True)
        scheduler, override = query.group
        found = jobstatus.parse(scheduler, output, query.ids, override)
        status = query.proc.returncode
        if not found and status:
            log.debug("job status query exit status %d: %s", status, oneline(output))
            if "nvalid job id" not in output:  # squeue: every one of them is long gone
                self._warn(query.program, f"exit status {status}: {oneline(output)}")
        return found

    def _warn(self, what: str, problem: str) -> None:
        if what not in self.warned:
            self.warned.add(what)
            log.warning("cannot ask the batch system about pending jobs (%s): dead jobs are "
                        "noticed only after pending_timeout", problem)
