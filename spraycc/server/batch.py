"""What spraycc knows about batch schedulers: job ids in submit output, which scheduler a
start command targets, and how to cancel jobs. Pure functions, no I/O.

The server runs ``sh -c "<start_cmd> exec --callme=... --code=N"`` per executor, feeds the
command's output to :func:`parse_job_id` to remember the cluster job, and on exit runs
:func:`cancel_command` for the jobs that never connected, so none of ours starts after we are
gone (docs/cluster.md).

Submit output recognised (exact formats, see tests/test_scheduler.py for recorded samples):

=================  ============================================================  ===========
scheduler          output                                                        job id
=================  ============================================================  ===========
LSF, OpenLava      ``Job <1234> is submitted to queue <normal>.``                ``1234``
                   ``Job <1234> is submitted to default queue <normal>.``
Slurm sbatch       ``Submitted batch job 1234`` (``... on cluster c2``)          ``1234``
Slurm --parsable   ``1234`` or ``1234;c2``                                       ``1234``
Slurm salloc/srun  ``salloc: Granted job allocation 1234``,                      ``1234``
                   ``salloc: Pending job allocation 1234``,
                   ``srun: job 1234 queued and waiting for resources``
Grid Engine        ``Your job 1234 ("name") has been submitted``                 ``1234``
                   ``Your job-array 1234.1-10:1 ("name") has been submitted``
GE ``-terse``      ``1234`` or ``1234.1-10:1``                                   ``1234``
PBS Pro, Torque    ``1234.server-name`` alone on a line (array ``1234[].srv``)   whole token
=================  ============================================================  ===========

PBS ids keep their ``.server`` suffix: ``qdel`` needs it when several servers exist, and it
always accepts it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping

SCHEDULERS = ("lsf", "openlava", "slurm", "pbs", "sge", "local")
CONFIG_CHOICES = (*SCHEDULERS, "auto")

# The characters of everything the server appends to a start command: none of them means
# anything to a shell (sh -c, bsub, qsub -b y, srun, ssh all re-join and re-parse the line) or
# to a scheduler, so the words survive any number of re-joins unquoted (docs/cluster.md).
INERT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/=,-")
INERT_SHOWN = "letters, digits and . _ : / = , -"


def inert(word: str) -> bool:
    """Is `word` made only of INERT_CHARS (and not empty)?"""
    return bool(word) and INERT_CHARS.issuperset(word)


_CANCEL = {
    "lsf": "bkill",
    "openlava": "bkill",
    "slurm": "scancel",
    "pbs": "qdel",
    "sge": "qdel",
}

# Sentences that name the job id, tried first (anywhere in the output: warnings may precede).
_MESSAGES = (
    re.compile(r"^Job <(\d+)> is submitted to (?:default )?queue <[^>]*>", re.M),   # LSF
    re.compile(r"^Submitted batch job (\d+)\b", re.M),                              # sbatch
    re.compile(r"^salloc: (?:Granted|Pending) job allocation (\d+)\b", re.M),
    re.compile(r"^srun: job (\d+) queued and waiting for resources", re.M),
    re.compile(r"^Your job(?:-array)? (\d+)(?:\.\S+)? \(.*\) has been submitted", re.M),  # GE
)
# A line that is nothing but an id: sbatch --parsable (``id[;cluster]``), qsub -terse (GE,
# ``id`` or ``id.first-last:step``), PBS qsub (``id.server``, arrays ``id[].server``).
_BARE_SLURM_GE = re.compile(r"^([1-9]\d*)(?:;[\w.-]+|\.\d+-\d+:\d+)?$")
_BARE_PBS = re.compile(r"^([1-9]\d*(?:\[\d*\])?\.[A-Za-z0-9][\w.-]*)$")

# Words that may precede the real submit command in start_cmd.
_PREFIX_WORDS = {"env", "exec", "command", "nohup"}

# qsub options only Grid Engine has (PBS qsub rejects them), and Grid Engine resource names.
_SGE_FLAGS = {"-b", "-cwd", "-terse", "-sync", "-pe", "-wd", "-hard", "-soft", "-now",
              "-notify", "-binding", "-masterq", "-tc", "-hold_jid", "-js"}
_SGE_RESOURCES = ("h_rt", "s_rt", "h_vmem", "s_vmem", "h_cpu", "s_cpu", "mem_free", "arch")
_PBS_RESOURCES = ("select", "walltime", "nodes", "ncpus", "mem", "place")


def parse_job_id(output: str) -> str | None:
    """The cluster job id a submit command printed, or None if none is recognised.

    ``output`` is the command's stdout and stderr together (salloc/srun print to stderr).
    """
    for pattern in _MESSAGES:
        m = pattern.search(output)
        if m:
            return m.group(1)
    for line in output.splitlines():
        line = line.strip()
        m = _BARE_SLURM_GE.match(line) or _BARE_PBS.match(line)
        if m:
            return m.group(1)
    return None


def _command_words(start_cmd: str) -> list[str]:
    try:
        words = shlex.split(start_cmd)
    except ValueError:  # unbalanced quotes: the shell will complain, we only guess
        words = start_cmd.split()
    # skip VAR=value assignments and wrappers such as `env -u X`/`exec`
    after_env = False
    while words:
        word = words[0]
        if "=" in word and not word.startswith("-"):
            words = words[1:]
        elif os.path.basename(word) in _PREFIX_WORDS:
            after_env = os.path.basename(word) == "env"
            words = words[1:]
        elif after_env and word.startswith("-"):
            words = words[2:] if word in ("-u", "-C", "--chdir", "--unset") else words[1:]
        else:
            break
    return words


def _qsub_flavour(args: list[str], environ: Mapping[str, str] | None) -> str:
    """Grid Engine or PBS for a ``qsub`` command line.

    Heuristic, in order: a Grid-Engine-only option (-b, -cwd, -terse, -sync, -pe, -wd, ...),
    ``-j y``, or a Grid Engine resource (``-l h_rt=``, ``h_vmem``, ...) means "sge"; a PBS
    resource (``-l select=``, ``walltime=``, ``nodes=``, ...), ``-j oe``/``eo`` or the PBS
    Pro ``--`` executable separator means "pbs"; otherwise ``SGE_ROOT`` in the environment
    means "sge", else "pbs". Set ``scheduler`` in the config when the guess is wrong.
    """
    for i, arg in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if arg in _SGE_FLAGS or (arg == "-j" and nxt.lower() in ("y", "yes")):
            return "sge"
        if arg == "-j" and nxt in ("oe", "eo"):
            return "pbs"
        if arg == "--":
            return "pbs"
        if arg == "-l":
            names = {kv.split("=", 1)[0] for kv in re.split(r"[,:]", nxt)}
            if names & set(_SGE_RESOURCES):
                return "sge"
            if names & set(_PBS_RESOURCES):
                return "pbs"
    if environ is not None and environ.get("SGE_ROOT"):
        return "sge"
    return "pbs"


def guess_scheduler(start_cmd: str | None,
                    environ: Mapping[str, str] | None = None) -> str | None:
    """The scheduler a start command submits to, from its first real word; None if unknown.

    No start command means local executors ("local"). ``bsub`` gives "lsf" (OpenLava's bsub
    prints the same output and takes the same bkill; say ``scheduler = "openlava"`` to be
    explicit), ``sbatch``/``srun``/``salloc`` give "slurm", ``qrsh`` gives "sge", and
    ``qsub`` "sge" or "pbs" (see :func:`_qsub_flavour`). A wrapper script is not looked into.
    """
    if start_cmd is None or not start_cmd.strip():
        return "local"
    words = _command_words(start_cmd)
    if not words:
        return None
    prog = os.path.basename(words[0])
    if prog == "bsub":
        return "lsf"
    if prog in ("sbatch", "srun", "salloc"):
        return "slurm"
    if prog == "qrsh":
        return "sge"
    if prog == "qsub":
        return _qsub_flavour(words[1:], environ)
    return None


def resolve_scheduler(configured: str, start_cmd: str | None,
                      environ: Mapping[str, str] | None = None) -> str | None:
    """The config's ``scheduler`` key ("auto" or one of SCHEDULERS) made concrete.

    None means "unknown": job ids are not recorded and nothing is cancelled on exit.
    """
    if configured not in CONFIG_CHOICES:
        raise ValueError(f"scheduler must be one of {', '.join(CONFIG_CHOICES)}, "
                         f"not {configured!r}")
    if configured == "auto":
        return guess_scheduler(start_cmd, environ)
    return configured


def cancel_command(scheduler: str | None, job_ids: Iterable[str],
                   override: str | None = None) -> list[str]:
    """argv that cancels ``job_ids`` (pending or running); [] when there is nothing to run.

    ``override`` is the config's ``cancel_cmd``: split like a shell would, ids appended.
    """
    ids = list(job_ids)
    if not ids:
        return []
    if override:
        return [*shlex.split(override), *ids]
    if scheduler is None or scheduler == "local":
        return []
    try:
        return [_CANCEL[scheduler], *ids]
    except KeyError:
        raise ValueError(f"unknown scheduler {scheduler!r}") from None
