"""What the batch system says about our jobs: the one command that asks about a list of job
ids, and a parser of its output into per-job records. Pure functions, no I/O.

The server asks every few seconds about the jobs of executors that have not connected yet
(docs/cluster.md, "Job status"), one command for all of them, and counts a job that ended, or
that waits for a reason that cannot resolve, as a failed executor. The command per scheduler:

=========  =======================================================================  ==========
scheduler  command (job ids appended)                                               finished
=========  =======================================================================  ==========
slurm      ``squeue -h -t all -O JobID:|,State:|,Reason:|,exit_code:| -j ID,ID``    kept in
           (slurmctld keeps ended jobs for MinJobAge, 300 s by default; works with  squeue for
           and without accounting, unlike sacct)                                    MinJobAge
sge        ``qstat`` for live jobs, then ``qacct -j ID`` for each id qstat no       qacct
           longer lists (one ``sh -c`` script)
lsf        ``bjobs -a -noheader -o "jobid stat exit_code pend_reason                ``-a``
           delimiter='|'" ID ID``
openlava   ``bjobs -a -l ID ID`` (OpenLava's bjobs has no ``-o``)                   ``-a``
pbs        ``qstat -x -f ID ID`` (``-x``: finished jobs too)                        ``-x``
other      ``status_cmd`` from the config, ids appended, printing one line per job:
           ``ID STATE [EXIT [REASON...]]`` with STATE one of ``pending``, ``running``,
           ``ended`` (or ``done``, ``failed``, ``cancelled``) or ``stuck`` (pending for
           a reason that cannot resolve); EXIT a number or ``-``
=========  =======================================================================  ==========

A job the output does not mention is unknown, not dead: the next query asks again, and
pending_timeout still applies. The formats are the ones the schedulers' manuals document
(squeue(1) and its JOB REASON CODES, sge_status(5), accounting(5), qacct(1), bjobs(1), PBS
Pro's qstat(1B)); tests/test_jobstatus.py has a sample of each.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class JobStatus:
    """One job as the scheduler reports it."""

    job_id: str
    state: str  # the scheduler's own word: FAILED, Eqw, EXIT, F, ...
    final: bool = False  # the job has ended: its executor will never connect
    exit: str = ""  # exit code (or signal) as reported, "" if none
    reason: str = ""  # pending or failure reason as reported, "" if none
    stuck: bool = False  # pending for a reason that cannot resolve by itself

    @property
    def dead(self) -> bool:
        """This job will never give us an executor."""
        return self.final or self.stuck

    def describe(self) -> str:
        """`job 12: state FAILED, exit code 3, reason NonZeroExitCode` for a log line."""
        text = f"job {self.job_id}: state {self.state}"
        if self.exit:
            text += f", exit {self.exit}"
        if self.reason:
            text += f", reason {self.reason}"
        return text


SCHEDULERS = ("slurm", "sge", "lsf", "openlava", "pbs")

_SLURM_FINAL = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL",
                "OUT_OF_MEMORY", "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}
# squeue(1), JOB REASON CODES: pending reasons no waiting can cure (a site admin may, later).
_SLURM_STUCK = {"BadConstraints", "DependencyNeverSatisfied", "InvalidAccount", "InvalidQOS",
                "PartitionTimeLimit"}
_LSF_FINAL = {"DONE", "EXIT", "ZOMBI"}
_PBS_FINAL = {"F", "X"}
_GENERIC_FINAL = {"ended", "done", "failed", "cancelled", "exited", "completed"}

# qstat lists live jobs (pending, running, error states); an asked-for job it no longer lists
# has ended: qacct tells how, once qmaster has written the accounting record (it flushes on
# a timer), so the record is asked for up to 3 times, a second apart, before the job is
# reported as ended without one. It runs in the background: the server's loop never waits.
_SGE_SCRIPT = """\
out=$(qstat 2>&1) || { printf '%s\\n' "$out"; exit 1; }
printf '%s\\n' "$out"
gone=
for id; do printf '%s\\n' "$out" | grep -q "^ *$id " || gone="$gone $id"; done
for try in 1 2 3; do
  left=
  for id in $gone; do
    if rec=$(qacct -j "$id" 2>&1); then printf '%s\\n' "$rec"; else left="$left $id"; fi
  done
  gone=$left
  [ -z "$gone" ] && break
  sleep 1
done
for id in $gone; do echo "#vanished $id"; done
"""


def query_command(scheduler: str | None, job_ids: Sequence[str],
                  override: str = "") -> list[str]:
    """argv that asks about `job_ids`; [] when there is no way to ask (unknown scheduler)."""
    ids = list(job_ids)
    if not ids:
        return []
    if override:
        return [*shlex.split(override), *ids]
    if scheduler == "slurm":
        return ["squeue", "-h", "-t", "all", "-O", "JobID:|,State:|,Reason:|,exit_code:|",
                "-j", ",".join(ids)]
    if scheduler == "sge":
        return ["sh", "-c", _SGE_SCRIPT, "sh", *ids]
    if scheduler == "lsf":
        return ["bjobs", "-a", "-noheader", "-o",
                "jobid stat exit_code pend_reason delimiter='|'", *ids]
    if scheduler == "openlava":
        return ["bjobs", "-a", "-l", *ids]
    if scheduler == "pbs":
        return ["qstat", "-x", "-f", *ids]
    return []


def parse(scheduler: str | None, output: str, job_ids: Sequence[str],
          override: str = "") -> dict[str, JobStatus]:
    """The records of `job_ids` that `output` (the query's stdout and stderr) mentions."""
    wanted = set(job_ids)
    if override:
        found = _parse_generic(output)
    else:
        parser = _PARSERS.get(scheduler or "")
        found = parser(output) if parser else []
    return {s.job_id: s for s in found if s.job_id in wanted}


def _wait_status(raw: str) -> str:
    """squeue's exit_code is a wait(2) status: 768 -> "code 3", 9 -> "signal 9"."""
    try:
        status = int(raw)
    except ValueError:
        return raw
    if status & 0x7F:
        return f"signal {status & 0x7F}"
    return f"code {status >> 8 & 0xFF}"


def _parse_slurm(output: str) -> list[JobStatus]:
    found = []
    for line in output.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) < 4 or not parts[0][:1].isdigit():
            continue
        job_id, state, reason, code = parts[:4]
        state = state.split()[0] if state else state  # "CANCELLED by 0" in some versions
        final = state in _SLURM_FINAL
        stuck = state == "PENDING" and reason.split(",")[0] in _SLURM_STUCK
        found.append(JobStatus(job_id, state, final, _wait_status(code) if final else "",
                               "" if reason == "None" else reason, stuck))
    return found


def _parse_sge(output: str) -> list[JobStatus]:
    """qstat's table (job-ID prior name user state ...) and qacct -j records."""
    found = []
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 5 and words[0].isdigit() and re.match(r"^\d+\.\d+$", words[1]):
            state = words[4]
            found.append(JobStatus(words[0], state, stuck="E" in state,
                                   reason="error state (qstat -j ID shows why)"
                                   if "E" in state else ""))
    for job_id in re.findall(r"^#vanished (\d+)$", output, re.M):
        found.append(JobStatus(job_id, "ended", True, "",
                               "no longer in qstat, no qacct record (accounting off?)"))
    for block in re.split(r"^=+\s*$", output, flags=re.M):
        fields = dict(_sge_field(line) for line in block.splitlines() if line.strip())
        job_id = fields.get("jobnumber", "")
        if not job_id.isdigit():
            continue
        failed = fields.get("failed", "0")
        reason = "" if failed.split(":")[0].strip() == "0" else f"failed {failed}"
        found.append(JobStatus(job_id, "finished", True,
                               f"status {fields.get('exit_status', '?')}", reason))
    return found


def _sge_field(line: str) -> tuple[str, str]:
    name, _, value = line.strip().partition(" ")
    return name, " ".join(value.split())


def _parse_lsf(output: str) -> list[JobStatus]:
    found = []
    for line in output.splitlines():
        parts = [part.strip() for part in line.split("|")]
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        job_id, state, code = parts[:3]
        reason = parts[3] if len(parts) > 3 and parts[3] != "-" else ""
        final = state in _LSF_FINAL
        exit_text = f"code {code}" if final and code not in ("", "-") else ""
        found.append(JobStatus(job_id, state, final, exit_text, reason))
    return found


def _parse_openlava(output: str) -> list[JobStatus]:
    """bjobs -l: one block per job, long lines folded with a 21-space indent."""
    found = []
    for block in re.split(r"^-{10,}\s*$", output, flags=re.M):
        text = re.sub(r"\n {21}", "", block)
        head = re.search(r"Job <(\d+)>.*?Status <(\w+)>", text, re.S)
        if head is None:
            continue
        job_id, state = head.groups()
        code = re.search(r"Exited with exit code (\d+)", text)
        final = state in _LSF_FINAL
        exit_text = f"code {code.group(1)}" if code else ("code 0" if state == "DONE" else "")
        reason = ""
        pend = re.search(r"PENDING REASONS:\s*\n\s*(.+)", text)
        if pend:
            reason = pend.group(1).strip().rstrip(";")
        found.append(JobStatus(job_id, state, final, exit_text if final else "", reason))
    return found


def _parse_pbs(output: str) -> list[JobStatus]:
    """qstat -f: `Job Id: ID` then indented `name = value` lines (values may be folded)."""
    found = []
    for block in re.split(r"^(?=Job Id: )", output, flags=re.M):
        head = re.match(r"Job Id: (\S+)", block)
        if head is None:
            continue
        text = re.sub(r"\n\t", "", block)  # folded values continue after a tab
        fields = dict(re.findall(r"^\s+(\w+) = (.*)$", text, re.M))
        state = fields.get("job_state", "?")
        comment = fields.get("comment", "").strip()
        final = state in _PBS_FINAL
        code = fields.get("Exit_status", "")
        found.append(JobStatus(head.group(1), state, final,
                               f"status {code}" if final and code else "", comment,
                               stuck=not final and comment.startswith("Can Never Run")))
    return found


def _parse_generic(output: str) -> list[JobStatus]:
    found = []
    for line in output.splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        job_id, state = words[0], words[1]
        code = words[2] if len(words) > 2 and words[2] != "-" else ""
        reason = " ".join(words[3:])
        final = state.lower() in _GENERIC_FINAL
        found.append(JobStatus(job_id, state, final, f"code {code}" if final and code else "",
                               reason, stuck=state.lower() == "stuck"))
    return found


_PARSERS = {
    "slurm": _parse_slurm,
    "sge": _parse_sge,
    "lsf": _parse_lsf,
    "openlava": _parse_openlava,
    "pbs": _parse_pbs,
}

def oneline(text: str, limit: int = 500) -> str:
    """Command output as one readable line for a log message."""
    line = " | ".join(part.strip() for part in text.splitlines() if part.strip())
    return line if len(line) <= limit else "..." + line[-limit:]


# --------------------------------------------------------------------- where output went

_OUTPUT_OPTIONS = ("-o", "--output", "-e", "--error")
_JOB_ID_PATTERNS = ("%j", "%J", "%A", "$JOB_ID")


def output_hint(start_cmd: str, job_id: str | None) -> str:
    """Where the job's own output (the executor's one-line reason) went, as advice."""
    try:
        words = shlex.split(start_cmd)
    except ValueError:
        words = start_cmd.split()
    target = ""
    for i, word in enumerate(words):
        for opt in _OUTPUT_OPTIONS:
            if word == opt and i + 1 < len(words):
                target = target or words[i + 1]
            elif opt.startswith("--") and word.startswith(opt + "="):
                target = target or word[len(opt) + 1:]
    if target == "/dev/null":
        return ("the start command sends the job's output to /dev/null (-o /dev/null), which "
                "hides the executor's own message: point -o at a file to see why")
    if target:
        for pattern in _JOB_ID_PATTERNS:
            target = target.replace(pattern, job_id or pattern)
        return f"the job's output may say why: {target}"
    return ("the job's output, wherever the start command (or its wrapper) sends it, may say "
            "why; -o /dev/null hides it")
