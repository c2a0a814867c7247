"""spraycc.server.batch: job ids from real submit output, scheduler guessing, cancel commands,
and the conf/ samples that use them.

Outputs marked "recorded" were captured from the Slurm 22.05.8 cluster of tests/harness on
this machine; the others are the exact formats printed by the schedulers' own sources and
manuals (LSF/OpenLava bsub, Grid Engine qsub, PBS Pro/Torque qsub).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from spraycc.server import config
from spraycc.server.batch import (
    CONFIG_CHOICES,
    cancel_command,
    guess_scheduler,
    parse_job_id,
    resolve_scheduler,
)

CONF = Path(__file__).resolve().parents[2] / "conf"
SAMPLES = ("lsf", "openlava", "pbs", "slurm", "sge", "local")

JOB_IDS = [
    # IBM Spectrum LSF / OpenLava bsub
    ("Job <1234> is submitted to queue <normal>.\n", "1234"),
    ("Job <52> is submitted to default queue <normal>.\n", "52"),
    (
        "Warning: job being submitted without an AFS token.\n"
        "Job <7081> is submitted to queue <short>.\n",
        "7081",
    ),
    (
        "Job <1234> is submitted to default queue <normal>.\n<<Waiting for dispatch ...>>\n"
        "<<Starting on hostA>>\n",
        "1234",
    ),
    ("Job <2001> is submitted to queue <normal>.\n", "2001"),  # job array: same sentence
    ("Bad resource requirement syntax. Job not submitted.\n", None),
    ("Request aborted by esub. Job not submitted.\n", None),
    ("normal: No such queue. Job not submitted.\n", None),
    # Slurm (recorded)
    ("Submitted batch job 2\n", "2"),
    ("3\n", "3"),  # sbatch --parsable
    ("1234;cluster2\n", "1234"),  # --parsable with --clusters
    ("Submitted batch job 1234 on cluster cluster2\n", "1234"),
    (
        "sbatch: warning: can't honor --ntasks-per-node set to 2 which doesn't match the "
        "requested tasks 1 with the number of requested nodes 1. Ignoring --ntasks-per-node.\n"
        "Submitted batch job 77\n",
        "77",
    ),
    ("salloc: Granted job allocation 2\n", "2"),
    (
        "salloc: Pending job allocation 5\nsalloc: job 5 queued and waiting for resources\n"
        "salloc: job 5 has been allocated resources\nsalloc: Granted job allocation 5\n",
        "5",
    ),
    ("srun: job 8 queued and waiting for resources\n", "8"),
    (
        "sbatch: error: invalid partition specified: nope\n"
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n",
        None,
    ),
    ("sbatch: error: Problem talking to database\n", None),
    (
        "salloc: error: Unable to allocate resources: Immediate execution impossible, "
        "insufficient priority\n",
        None,
    ),
    # Grid Engine qsub
    ('Your job 1234 ("spraycc-exec") has been submitted\n', "1234"),
    ('Your job 1 ("hostname") has been submitted\n', "1"),
    ('Your job-array 4711.1-10:1 ("spraycc-exec") has been submitted\n', "4711"),
    ('Your job 12 ("a (b) c") has been submitted\nJob 12 exited with exit code 0.\n', "12"),
    ("4712\n", "4712"),  # qsub -terse
    ("4713.1-10:1\n", "4713"),  # qsub -terse, array
    (
        'Unable to run job: Job was rejected because job requests unknown queue "nope".\n'
        "Exiting.\n",
        None,
    ),
    ('Unable to run job: denied: host "vm" is no submit host.\nExiting.\n', None),
    # PBS Pro / OpenPBS / Torque qsub: the id is the whole token
    ("1234.pbsserver\n", "1234.pbsserver"),
    ("5678.head-node.example.org\n", "5678.head-node.example.org"),  # Torque: FQDN
    ("1235[].pbsserver\n", "1235[].pbsserver"),  # PBS Pro job array
    ("qsub: Unknown queue\n", None),
    (
        "qsub: Job exceeds queue resource limits MSG=cannot satisfy queue max ncpus requirement\n",
        None,
    ),
    # nothing useful
    ("", None),
    ("\n\n", None),
    ("0\n", None),
    ("submitted 12 jobs\n", None),
    ("12.5 percent\n", None),
]


@pytest.mark.parametrize(("output", "expected"), JOB_IDS)
def test_parse_job_id(output: str, expected: str | None) -> None:
    assert parse_job_id(output) == expected


GUESSES = [
    (None, "local"),
    ("", "local"),
    ("bsub -q normal -n 1 -o /dev/null /opt/spraycc/bin/spraycc", "lsf"),
    ("/usr/share/lsf/10.1/linux3.10-glibc2.17-x86_64/bin/bsub -q x spraycc", "lsf"),
    ("sbatch -p debug -o /dev/null /opt/spraycc/bin/spraycc", "slurm"),
    ("srun -p debug spraycc", "slurm"),
    ("salloc -p debug spraycc", "slurm"),
    ("env SLURM_CONF=/etc/slurm/other.conf sbatch -p x spraycc", "slurm"),
    ("LSB_DEFAULTQUEUE=short bsub spraycc", "lsf"),
    ("exec env -u DISPLAY sbatch spraycc", "slurm"),
    # qsub: Grid Engine markers
    ("qsub -b y -cwd -V -N spraycc-exec -o /dev/null -j y /opt/spraycc/bin/spraycc", "sge"),
    ("qsub -q all.q -cwd spraycc", "sge"),
    ("qsub -terse -q all.q spraycc", "sge"),
    ("qsub -pe smp 1 spraycc", "sge"),
    ("qsub -l h_rt=8:00:00 spraycc", "sge"),
    ("qsub -l h_vmem=2G,h_rt=1:00:00 spraycc", "sge"),
    ("qsub -j y spraycc", "sge"),
    ("qrsh -now no spraycc", "sge"),
    # qsub: PBS markers or nothing decisive
    (
        "qsub -q workq -l select=1:ncpus=1 -l walltime=08:00:00 -j oe -o /dev/null -V -- "
        "/opt/spraycc/bin/spraycc",
        "pbs",
    ),
    ("qsub -l nodes=1:ppn=1 script.sh", "pbs"),
    ("qsub -q batch -N spraycc-exec spraycc", "pbs"),
    ("qsub -j oe spraycc", "pbs"),
    # a wrapper we do not look into
    ("/site/bin/submit-one --fast spraycc", None),
    ("sh -c 'sbatch spraycc'", None),
]


@pytest.mark.parametrize(("start_cmd", "expected"), GUESSES)
def test_guess_scheduler(start_cmd: str | None, expected: str | None) -> None:
    assert guess_scheduler(start_cmd) == expected


def test_qsub_without_markers_uses_the_environment() -> None:
    assert guess_scheduler("qsub -N x spraycc", {"SGE_ROOT": "/opt/sge"}) == "sge"
    assert guess_scheduler("qsub -N x spraycc", {"PBS_EXEC": "/opt/pbs"}) == "pbs"
    # explicit flags beat the environment
    assert guess_scheduler("qsub -l walltime=1:00:00 spraycc", {"SGE_ROOT": "/x"}) == "pbs"


def test_resolve_scheduler() -> None:
    assert resolve_scheduler("auto", "bsub spraycc") == "lsf"
    assert resolve_scheduler("openlava", "bsub spraycc") == "openlava"
    assert resolve_scheduler("sge", "qsub -N x spraycc") == "sge"
    assert resolve_scheduler("auto", None) == "local"
    assert resolve_scheduler("auto", "mysubmit spraycc") is None
    with pytest.raises(ValueError, match="scheduler must be one of"):
        resolve_scheduler("torque", "qsub spraycc")


CANCELS = [
    ("lsf", ["1", "2"], None, ["bkill", "1", "2"]),
    ("openlava", ["7"], None, ["bkill", "7"]),
    ("slurm", ["3", "4"], None, ["scancel", "3", "4"]),
    ("pbs", ["1234.pbsserver"], None, ["qdel", "1234.pbsserver"]),
    ("sge", ["4711"], None, ["qdel", "4711"]),
    ("local", ["1"], None, []),
    (None, ["1"], None, []),
    ("slurm", [], None, []),
    ("slurm", ["5"], "scancel --signal=KILL --full", ["scancel", "--signal=KILL", "--full", "5"]),
    (None, ["9"], "/site/bin/cancel 'a b'", ["/site/bin/cancel", "a b", "9"]),
]


@pytest.mark.parametrize(("scheduler", "ids", "override", "expected"), CANCELS)
def test_cancel_command(scheduler, ids, override, expected) -> None:
    assert cancel_command(scheduler, ids, override) == expected


def test_cancel_command_unknown_scheduler() -> None:
    with pytest.raises(ValueError, match="unknown scheduler"):
        cancel_command("condor", ["1"])


# ---- the conf/ samples ---------------------------------------------------------------------


def _sample(name: str) -> tuple[str, dict]:
    text = (CONF / f"{name}.toml").read_text()
    return text, tomllib.loads(text)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_names_its_scheduler_and_auto_agrees(name: str) -> None:
    _, data = _sample(name)
    assert data["scheduler"] in CONFIG_CHOICES
    for key in ("start_cmd", "alt_start_cmd"):
        guessed = guess_scheduler(data.get(key))
        # OpenLava's bsub is indistinguishable from LSF's: auto says "lsf", same handling
        assert guessed == {"openlava": "lsf"}.get(data["scheduler"], data["scheduler"])


@pytest.mark.parametrize("name", [s for s in SAMPLES if s != "local"])
def test_sample_start_cmds_have_the_flags_that_matter(name: str) -> None:
    _, data = _sample(name)
    for key in ("start_cmd", "alt_start_cmd"):
        words = shlex.split(data[key])
        assert words[-1] == "/opt/spraycc/bin/spraycc"  # spraycc appends `exec ...`
        joined = " ".join(words)
        assert "/dev/null" in joined, "job output must not land in files or mail"
        assert "spraycc-exec" in joined, "job name"
        assert re.search(r"-W |--time=|walltime=|h_rt=", joined), "wall-time limit"
    assert data["executor_walltime"] > 0


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_is_valid_with_every_commented_key_switched_on(name: str) -> None:
    text, data = _sample(name)
    config.validate(data, name)
    uncommented = re.sub(r"(?m)^#(\w+ = )", r"\1", text)
    # a key may appear twice (e.g. pbs.toml's Torque start_cmd): keep each sample loadable
    seen: set[str] = set()
    lines = []
    for line in uncommented.splitlines():
        m = re.match(r"(\w+) = ", line)
        if m and m.group(1) in seen:
            continue
        if m:
            seen.add(m.group(1))
        lines.append(line)
    config.validate(tomllib.loads("\n".join(lines)), name + " (all keys on)")


def test_torque_start_cmd_turns_appended_args_into_a_script(tmp_path: Path) -> None:
    """pbs.toml's Torque variant: qsub must read `spraycc exec --callme=... ` on stdin."""
    text, _ = _sample("pbs")
    line = next(x for x in text.splitlines() if x.startswith("#start_cmd") and "echo" in x)
    start_cmd = tomllib.loads(line[1:])["start_cmd"]
    fake = tmp_path / "qsub"
    fake.write_text(f"#!/bin/sh\ncat > {tmp_path}/script\necho 99.torque-head\n")
    fake.chmod(0o755)
    cp = subprocess.run(
        ["sh", "-c", f"{start_cmd} exec --callme=h:1 --code=7 --launch=s-1"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
    )
    assert parse_job_id(cp.stdout) == "99.torque-head"
    assert (tmp_path / "script").read_text() == (
        "/opt/spraycc/bin/spraycc exec --callme=h:1 --code=7 --launch=s-1\n"
    )
