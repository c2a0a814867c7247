"""spraycc.server.jobstatus (what the batch system says about our jobs) and the shell-inert words
the server appends to start commands (supply.exec_words), including real re-joins by shells.

Slurm and Grid Engine samples are recorded from the harness clusters on this machine (Slurm
22.05.8, Grid Engine 8.1.9); LSF, OpenLava and PBS Pro samples follow the output their manuals
show (bjobs(1) -o and -l, PBS Pro qstat(1B) -f), the same formats tests/standins print.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from spraycc.errors import ConfigError
from spraycc.server import jobstatus
from spraycc.server.batch import INERT_CHARS, inert
from spraycc.server.config import Config, validate
from spraycc.server.process import Options, Server
from spraycc.server.supply import exec_words

SLURM = """\
3|FAILED|NonZeroExitCode|768|
7|FAILED|JobLaunchFailure|9|
6|PENDING|JobHeldUser|0|
5|RUNNING|None|0|
4|PENDING|Resources|0|
8|PENDING|InvalidAccount|0|
9|CANCELLED|None|15|
"""

SGE = """\
job-ID  prior   name       user         state submit/start at     queue                          slo
----------------------------------------------------------------------------------------------------
      4 0.50000 sleep      root         r     12/02/2026 10:14:13 all.q@vm
      3 0.50000 sleep      root         qw    12/02/2026 10:14:13
      5 0.50000 true       root         Eqw   12/02/2026 10:14:13
==============================================================
qname        all.q
hostname     vm
jobname      prog
jobnumber    9
failed       0
exit_status  127
==============================================================
qname        all.q
jobnumber    10
failed       1    : assumedly before job
exit_status  1
#vanished 11
"""

LSF = """\
101|DONE|-|-
102|EXIT|3|-
103|PEND|-|New job is waiting for scheduling;
104|RUN|-|-
"""

OPENLAVA = """\
Job <201>, User <user1>, Project <default>, Status <EXIT>, Queue <normal>, Comm
                     and <spraycc exec --callme=h:1>
Mon Oct 28 13:08:11: Submitted from host <hostA>, CWD <$HOME>;
Mon Oct 28 13:08:12: Started on <hostB>, Execution Home </home/user1>;
Mon Oct 28 13:08:12: Exited with exit code 2. The CPU time used is 0.1 seconds.
------------------------------------------------------------------------------

Job <202>, User <user1>, Project <default>, Status <PEND>, Queue <normal>, Comm
                     and <spraycc exec --callme=h:1>
Mon Oct 28 13:08:11: Submitted from host <hostA>, CWD <$HOME>;
 PENDING REASONS:
 New job is waiting for scheduling: 1 host;
"""

PBS = """\
Job Id: 301.pbs-server
    Job_Name = spraycc-exec
    job_state = F
    queue = workq
    Exit_status = 3
    comment = Job run at Mon Oct 28 at 13:08 on (node1:ncpus=1) and finished
Job Id: 302.pbs-server
    Job_Name = spraycc-exec
    job_state = Q
    comment = Can Never Run: Insufficient amount of queue resource: ncpus (R: 1
	A: 0 T: 0)
Job Id: 303.pbs-server
    job_state = R
"""


def states(scheduler: str, output: str, ids: list[str]) -> dict[str, tuple]:
    return {k: (v.state, v.final, v.exit, v.stuck)
            for k, v in jobstatus.parse(scheduler, output, ids).items()}


def test_slurm_records() -> None:
    got = states("slurm", SLURM, ["3", "4", "5", "6", "7", "8", "9", "99"])
    assert got == {
        "3": ("FAILED", True, "code 3", False),
        "7": ("FAILED", True, "signal 9", False),
        "6": ("PENDING", False, "", False),
        "5": ("RUNNING", False, "", False),
        "4": ("PENDING", False, "", False),
        "8": ("PENDING", False, "", True),  # an invalid account never starts
        "9": ("CANCELLED", True, "signal 15", False),
    }
    assert jobstatus.parse("slurm", SLURM, ["3"])["3"].describe() == (
        "job 3: state FAILED, exit code 3, reason NonZeroExitCode")
    # squeue with only ids it has forgotten: an error and no record, not a death
    assert jobstatus.parse("slurm", "slurm_load_jobs error: Invalid job id specified\n",
                           ["3"]) == {}


def test_sge_records() -> None:
    got = states("sge", SGE, ["3", "4", "5", "9", "10", "11"])
    assert got == {
        "4": ("r", False, "", False),
        "3": ("qw", False, "", False),
        "5": ("Eqw", False, "", True),  # error state: never runs until someone clears it
        "9": ("finished", True, "status 127", False),
        "10": ("finished", True, "status 1", False),
        "11": ("ended", True, "", False),  # gone from qstat before its accounting record
    }
    assert "failed 1 : assumedly before job" in jobstatus.parse("sge", SGE, ["10"])["10"].reason


def test_lsf_openlava_pbs_and_generic_records() -> None:
    assert states("lsf", LSF, ["101", "102", "103", "104"]) == {
        "101": ("DONE", True, "", False), "102": ("EXIT", True, "code 3", False),
        "103": ("PEND", False, "", False), "104": ("RUN", False, "", False)}
    got = jobstatus.parse("openlava", OPENLAVA, ["201", "202"])
    assert (got["201"].state, got["201"].final, got["201"].exit) == ("EXIT", True, "code 2")
    assert (got["202"].state, got["202"].final) == ("PEND", False)
    assert got["202"].reason.startswith("New job is waiting for scheduling")
    got = jobstatus.parse("pbs", PBS, ["301.pbs-server", "302.pbs-server", "303.pbs-server"])
    assert (got["301.pbs-server"].final, got["301.pbs-server"].exit) == (True, "status 3")
    assert got["302.pbs-server"].stuck and "A: 0 T: 0" in got["302.pbs-server"].reason
    assert not got["303.pbs-server"].dead
    generic = "7 pending\n8 ended 3 killed by the OOM killer\n9 stuck - no such queue\n"
    got = jobstatus.parse(None, generic, ["7", "8", "9"], override="my-status")
    assert (got["8"].final, got["8"].exit, got["8"].reason) == (True, "code 3",
                                                                 "killed by the OOM killer")
    assert got["9"].stuck and not got["7"].dead


def test_query_commands_ask_once_for_all_ids() -> None:
    assert jobstatus.query_command("slurm", ["1", "2"])[-2:] == ["-j", "1,2"]
    assert jobstatus.query_command("pbs", ["1.s", "2.s"]) == ["qstat", "-x", "-f", "1.s", "2.s"]
    assert jobstatus.query_command("lsf", ["1"])[:3] == ["bjobs", "-a", "-noheader"]
    assert jobstatus.query_command("openlava", ["1", "2"]) == ["bjobs", "-a", "-l", "1", "2"]
    assert jobstatus.query_command("sge", ["4"])[:2] == ["sh", "-c"]
    assert jobstatus.query_command(None, ["1"], "mystat --all") == ["mystat", "--all", "1"]
    assert jobstatus.query_command(None, ["1"]) == []
    assert jobstatus.query_command("slurm", []) == []


@pytest.mark.parametrize(("cmd", "job", "expect"), [
    ("sbatch -o /dev/null --wrap x", "5", "/dev/null"),
    ("sbatch --output=/home/u/logs/exec-%j.out /x/spraycc", "5", "/home/u/logs/exec-5.out"),
    ("qsub -b y -o /tmp/ge.$JOB_ID -j y /x/spraycc", "9", "/tmp/ge.9"),
    ("bsub -q normal -e err.%J /x/spraycc", "12", "err.12"),
    ("/home/u/bin/submit-wrapper", "5", "wherever the start command (or its wrapper)"),
])
def test_output_hint_names_the_file_or_the_dev_null_trap(cmd, job, expect) -> None:
    hint = jobstatus.output_hint(cmd, job)
    assert expect in hint
    if expect == "/dev/null":
        assert "hides the executor's own message" in hint


# ------------------------------------------------------------------ shell-inert words


@pytest.fixture
def server(tmp_path):
    cfg = Config({"start_cmd": "sbatch /x/spraycc", "executor_tmpdir": "/scratch/u-1",
                  "executor_walltime": 3600, "walltime_margin": 120.5})
    srv = Server(tmp_path, cfg, Options())
    srv.serverkey = b"T?N9c0L:g<X6S2*z9e>e/!G+Aqh^gnr9U%j[S]FN"  # Z85, every hard character
    yield srv
    srv.transport.close()
    srv.ctx.term()
    srv.rundir.rmdir()


def test_every_appended_word_is_inert(server) -> None:
    """The property: whatever the server appends is made of INERT_CHARS only."""
    for curve in (True, False):
        words = exec_words("10.0.0.1:40001", server.code, "start-17", server.exec_args(curve))
        for word in words:
            assert set(word) <= INERT_CHARS, word
    words = exec_words(server.ipc or f"ipc://{server.rundir}/s", server.code, "local-1",
                       server.exec_args(False))
    assert all(inert(w) for w in words)
    assert f"--serverkey={_z85(server.serverkey).hex()}" in server.exec_args()
    assert "--walltime=3479.5" in server.exec_args()
    with pytest.raises(ValueError, match="characters other than"):
        exec_words("h:1", "c0de", "x", ["--tmpdir=/my dir"])


def _z85(key: bytes) -> bytes:
    from zmq.utils import z85

    return z85.decode(key)


@pytest.mark.parametrize("key", ["executor_tmpdir", "callback_host"])
def test_config_refuses_values_that_would_need_quoting(key) -> None:
    with pytest.raises(ConfigError, match=rf"key '{key}' may hold only letters, digits"):
        validate({key: "/tmp/a b$(x)"}, "f.toml")
    assert validate({key: "/scratch/u_1-2.x"}, "f.toml") == {key: "/scratch/u_1-2.x"}


RECORD = """\
import json, sys
with open(sys.argv[1], "w") as f:
    json.dump(sys.argv[2:], f)
"""

# Wrapper scripts that re-join their arguments into one string and have a shell parse it
# again, as users' submit wrappers and the schedulers do. Each runs "$*" as a new command.
WRAPPERS = {
    # sh -c "$*" (also what ssh host "$*" and srun bash -c "$*" amount to)
    "sh-c": 'exec sh -c "$*"\n',
    # the `exec sbatch -o FILE --wrap "$*"` wrapper: sbatch writes the string into a batch
    # script (#!/bin/sh, then the line) that the job runs
    "wrap": 'job=$(mktemp)\nprintf \'#!/bin/sh\\n%s\\n\' "$*" > "$job"\nsh "$job"\n'
            'rc=$?\nrm -f "$job"\nexit $rc\n',
    # qsub -b y and bsub: the words joined with spaces and re-parsed by the shell that runs them
    "join": 'cmd="$*"\neval "exec $cmd"\n',
}


@pytest.mark.parametrize("levels", [0, 1, 3])
@pytest.mark.parametrize("form", sorted(WRAPPERS))
def test_the_line_survives_rejoins_through_real_shells(tmp_path, server, form, levels) -> None:
    """The appended words pass `levels` wrappers that each re-join and re-parse the whole line
    and arrive at the program exactly as sent."""
    words = exec_words("10.231.0.1:40001", server.code, "start-3", server.exec_args())
    out = tmp_path / "argv.json"
    recorder = tmp_path / "record.py"
    recorder.write_text(RECORD)
    wrapper = tmp_path / f"wrap-{form}"
    wrapper.write_text("#!/bin/sh\n" + WRAPPERS[form])
    wrapper.chmod(0o755)
    start_cmd = " ".join([str(wrapper)] * levels + [sys.executable, str(recorder), str(out)])
    line = " ".join([start_cmd, *words])  # exactly how the server builds the line
    r = subprocess.run(["sh", "-c", line], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == words


def test_the_hex_server_key_is_read_back(server) -> None:
    from spraycc.executor import server_key

    word = server.exec_args()[0]
    assert server_key(word.split("=", 1)[1]) == server.serverkey
    assert server_key(server.serverkey.decode()) == server.serverkey  # Z85 still accepted
