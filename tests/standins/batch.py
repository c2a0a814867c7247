#!/usr/bin/env python3
"""Stand-ins for the batch systems that cannot be installed here: LSF and OpenLava (bsub,
bjobs, bkill) and PBS Pro (qsub, qstat, qdel). Each executable in tests/standins/bin runs
`batch.py TOOL ARGS`; jobs are real detached processes on this machine (the "execution
host"), their state a JSON file per job in $SPRAYCC_STANDIN_DIR.

What each reproduces, from the tools' own documentation:

* bsub (IBM Spectrum LSF 10.1 command reference, "bsub", argument `command`: "The command can
  be anything that is provided to a UNIX Bourne shell ... command is assumed to begin with the
  first word that is not part of a bsub option"; OpenLava 4 bsub(1) says the same): options up
  to the first non-option word; the command words are joined with spaces and run by /bin/sh
  on the execution host, in the submission directory, with the submission environment.
  Prints `Job <N> is submitted to queue <Q>.` (`... to default queue <normal>.` without -q).
* bjobs (LSF 10.1 "bjobs -o", "-noheader", "-a", "-l"; OpenLava bjobs(1), which has no -o):
  states PEND, RUN, DONE, EXIT; `-o "jobid stat exit_code pend_reason delimiter='|'"` prints
  one line per job; `-l` the long form (`Job <N>, User <u>, ..., Status <S>, Queue <Q>, ...`
  folded at 80 columns with a 21-space indent, `Exited with exit code N.`, `PENDING
  REASONS:`); an unknown id: `Job <N> is not found` on stderr.
* bkill (LSF/OpenLava bkill(1)): a running job gets SIGINT, SIGTERM, then SIGKILL; the job
  ends in EXIT. A pending job is removed from the queue (EXIT).
* qsub (Altair PBS Professional 2021 Reference Guide, qsub: `qsub [options] -- executable
  [arguments]`: "PBS runs the executable directly, not as a script", arguments passed as they
  are, no shell; without `--` the argument is a job script run by the user's shell). Jobs
  start in $HOME; `-V` passes the submission environment. Prints `N.<server>`.
* qstat (PBS Professional Reference Guide, qstat `-f` and `-x`): `Job Id: N.server` blocks of
  `    attribute = value` lines (job_state Q/R/F, Exit_status, comment); finished jobs only
  with -x; an unknown id: `qstat: Unknown Job Id N.server` on stderr.
* qdel: a running job gets SIGTERM, then SIGKILL; it ends with Exit_status 271 (256 + 15).

Queues: `full` (LSF) or `full` (PBS, `-q full`) never start a job, like a queue with no free
slot; every other queue starts jobs at once. $SPRAYCC_STANDIN_FLAVOUR=openlava makes bjobs
refuse -o as OpenLava does.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVER = "pbs-standin"
FULL = "full"


def state_dir() -> Path:
    path = os.environ.get("SPRAYCC_STANDIN_DIR")
    if not path:
        sys.exit("batch stand-in: SPRAYCC_STANDIN_DIR is not set")
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


def next_id() -> int:
    counter = state_dir() / "seq"
    with open(counter, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read() or "100") + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
    return n


def job_file(job_id: str) -> Path:
    return state_dir() / f"job-{job_id.split('.')[0]}.json"


def load(job_id: str) -> dict | None:
    try:
        return json.loads(job_file(job_id).read_text())
    except (OSError, ValueError):
        return None


def save(job: dict) -> None:
    path = job_file(job["id"])
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(job))
    os.replace(tmp, path)


def update(job_id: str, **changes: object) -> None:
    with open(state_dir() / "lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        job = load(job_id)
        if job is not None and job["state"] not in ("DONE", "EXIT", "F"):
            job.update(changes)
            save(job)


def start(job: dict) -> None:
    """Run the job detached (its own session): `batch.py _run ID` waits for it and records
    how it ended."""
    out = open(job["output"] or os.devnull, "ab")  # noqa: SIM115 - handed to the child
    subprocess.Popen([sys.executable, __file__, "_run", job["id"]], stdin=subprocess.DEVNULL,
                     stdout=out, stderr=subprocess.STDOUT, cwd=job["cwd"], env=job["env"],
                     start_new_session=True, close_fds=True)
    out.close()


def run_job(job_id: str) -> int:
    job = load(job_id)
    assert job is not None
    # The job in a process group of its own: bkill/qdel signal it, and this process stays
    # to record how it ended.
    proc = subprocess.Popen(job["argv"], cwd=job["cwd"], env=job["env"],
                            start_new_session=True)
    update(job_id, state=job["running"], pgid=proc.pid)
    status = proc.wait()
    if job["kind"] == "pbs":
        code = status if status >= 0 else 256 - status
        update(job_id, state="F", exit=code)
    else:
        code = status if status >= 0 else 128 - status
        update(job_id, state="DONE" if status == 0 else "EXIT", exit=code)
    return 0


def options(args: list[str], with_value: set[str], flags: set[str]) -> tuple[dict, list[str]]:
    opts: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return opts, args[i + 1:]
        if arg in with_value and i + 1 < len(args):
            opts[arg] = args[i + 1]
            i += 2
        elif arg in flags:
            opts[arg] = ""
            i += 1
        elif arg.startswith("-"):
            sys.exit(f"{arg}: illegal option")
        else:
            return opts, args[i:]
    return opts, []


def new_job(kind: str, argv: list[str], queue: str, name: str, output: str, cwd: str,
            env: dict[str, str], running: str) -> dict:
    job = {"id": str(next_id()), "kind": kind, "argv": argv, "queue": queue, "name": name,
           "output": output, "cwd": cwd, "env": env, "state": "PEND" if kind == "lsf" else "Q",
           "running": running, "exit": None, "submitted": time.time()}
    save(job)
    if queue != FULL:
        start(job)
    return job


# ------------------------------------------------------------------------------ LSF


def bsub(args: list[str]) -> int:
    opts, command = options(args, {"-q", "-n", "-W", "-J", "-o", "-e", "-R", "-P", "-G", "-M",
                                   "-cwd", "-E", "-app", "-sla", "-u", "-m", "-w"},
                            {"-I", "-K", "-r", "-N", "-B", "-x", "-rn"})
    if not command:
        print("bsub: no command given (job commands from standard input are not supported "
              "by this stand-in)", file=sys.stderr)
        return 255
    queue = opts.get("-q", "")
    if queue == "closed":
        print(f"{queue}: No such queue. Job not submitted.", file=sys.stderr)
        return 255
    line = " ".join(command)  # bsub joins the words; /bin/sh parses them again
    job = new_job("lsf", ["/bin/sh", "-c", line], queue or "normal",
                  opts.get("-J", line[:20]), opts.get("-o", ""), os.getcwd(), dict(os.environ),
                  "RUN")
    where = f"queue <{queue}>" if queue else "default queue <normal>"
    print(f"Job <{job['id']}> is submitted to {where}.")
    return 0


def bjobs(args: list[str]) -> int:
    fmt = ""
    long_form = noheader = False
    ids: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-o":
            if os.environ.get("SPRAYCC_STANDIN_FLAVOUR") == "openlava":
                print("-o: illegal option", file=sys.stderr)
                return 255
            fmt, i = args[i + 1], i + 2
            continue
        if arg == "-l":
            long_form = True
        elif arg == "-noheader":
            noheader = True
        elif arg not in ("-a", "-w"):
            ids.append(arg)
        i += 1
    status = 0
    lines: list[str] = []
    if not fmt and not long_form and not noheader:
        lines.append("JOBID   USER    STAT  QUEUE      FROM_HOST   EXEC_HOST   JOB_NAME   "
                     "SUBMIT_TIME")
    for job_id in ids:
        job = load(job_id)
        if job is None:
            print(f"Job <{job_id}> is not found", file=sys.stderr)
            status = 255
            continue
        state, code = job["state"], job["exit"]
        reason = "New job is waiting for scheduling;" if state == "PEND" else "-"
        if fmt:
            exit_code = str(code) if state == "EXIT" and code else "-"
            lines.append("|".join([job_id, state, exit_code, reason]))
        elif long_form:
            lines += lsf_long(job)
        else:
            lines.append(f"{job_id:<7} user    {state:<5} {job['queue']:<10} localhost   "
                         f"{'localhost' if state != 'PEND' else '':<11} {job['name'][:10]:<10} "
                         "Oct 28 13:08")
    print("\n".join(lines))
    return status


def lsf_long(job: dict) -> list[str]:
    command = " ".join(job["argv"][2:])
    head = (f"Job <{job['id']}>, Job Name <{job['name']}>, User <user>, Project <default>, "
            f"Status <{job['state']}>, Queue <{job['queue']}>, Command <{command}>")
    lines = [head[:80]] + [" " * 21 + head[i:i + 59] for i in range(80, len(head), 59)]
    lines.append("Mon Oct 28 13:08:11: Submitted from host <localhost>, CWD <$HOME>;")
    if job["state"] == "EXIT" and job["exit"]:
        lines.append(f"Mon Oct 28 13:08:12: Exited with exit code {job['exit']}. The CPU "
                     "time used is 0.1 seconds.")
    elif job["state"] == "DONE":
        lines.append("Mon Oct 28 13:08:12: Done successfully. The CPU time used is 0.1 s.")
    if job["state"] == "PEND":
        lines += ["", " PENDING REASONS:", " New job is waiting for scheduling: 1 host;"]
    lines += ["-" * 78, ""]
    return lines


def kill_job(job_id: str, signals: tuple[int, ...], ended: dict) -> bool:
    job = load(job_id)
    if job is None:
        return False
    if job["state"] in ("PEND", "Q"):
        update(job_id, **ended)
        return True
    pgid = job.get("pgid")
    if pgid and job["state"] in ("RUN", "R"):
        for sig in signals:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and (load(job_id) or {}).get("state") in ("RUN",
                                                                                         "R"):
                time.sleep(0.05)
    return True


def bkill(args: list[str]) -> int:
    status = 0
    for job_id in [a for a in args if not a.startswith("-")]:
        if kill_job(job_id, (signal.SIGINT, signal.SIGTERM, signal.SIGKILL),
                    {"state": "EXIT", "exit": 130}):
            print(f"Job <{job_id}> is being terminated")
        else:
            print(f"Job <{job_id}>: No matching job found", file=sys.stderr)
            status = 255
    return status


# ------------------------------------------------------------------------------ PBS Pro


def qsub(args: list[str]) -> int:
    opts, rest = options(args, {"-q", "-l", "-N", "-j", "-o", "-e", "-W", "-A", "-r", "-m",
                                "-M", "-P", "-S", "-a", "-v"}, {"-V", "-h", "-z"})
    direct = "--" in args
    if not rest:
        print("qsub: no script or executable given", file=sys.stderr)
        return 2
    argv = rest if direct else ["/bin/sh", rest[0], *rest[1:]]
    home = os.environ.get("HOME", "/")
    env = dict(os.environ) if "-V" in opts else {"HOME": home, "PATH": "/usr/bin:/bin"}
    job = new_job("pbs", argv, opts.get("-q", "workq"), opts.get("-N", "STDIN"),
                  opts.get("-o", ""), home, env, "R")
    print(f"{job['id']}.{SERVER}")
    return 0


def qstat(args: list[str]) -> int:
    history = "-x" in args
    ids = [a for a in args if not a.startswith("-")]
    status = 0
    for job_id in ids:
        job = load(job_id)
        if job is None or (job["state"] == "F" and not history):
            print(f"qstat: Unknown Job Id {job_id}", file=sys.stderr)
            status = 153
            continue
        print(f"Job Id: {job['id']}.{SERVER}")
        print(f"    Job_Name = {job['name']}")
        print(f"    job_state = {job['state']}")
        print(f"    queue = {job['queue']}")
        if job["state"] == "F":
            print(f"    Exit_status = {job['exit']}")
            print("    comment = Job run at Mon Oct 28 at 13:08 on (localhost:ncpus=1) and "
                  "finished")
        elif job["state"] == "Q":
            print("    comment = Not Running: Insufficient amount of resource: ncpus (R: 1 A: "
                  "0\n\tT: 0)")
        print()
    return status


def qdel(args: list[str]) -> int:
    status = 0
    for job_id in [a for a in args if not a.startswith("-")]:
        if not kill_job(job_id, (signal.SIGTERM, signal.SIGKILL), {"state": "F", "exit": 271}):
            print(f"qdel: Unknown Job Id {job_id}", file=sys.stderr)
            status = 153
    return status


TOOLS = {"bsub": bsub, "bjobs": bjobs, "bkill": bkill, "qsub": qsub, "qstat": qstat,
         "qdel": qdel}


def live_jobs(directory: Path) -> list[dict]:
    """Jobs not ended (for tests): pending or running."""
    jobs = []
    for path in directory.glob("job-*.json"):
        job = json.loads(path.read_text())
        if job["state"] not in ("DONE", "EXIT", "F"):
            jobs.append(job)
    return jobs


if __name__ == "__main__":
    tool, argv = sys.argv[1], sys.argv[2:]
    if tool == "_run":
        sys.exit(run_job(argv[0]))
    sys.exit(TOOLS[tool](argv))
