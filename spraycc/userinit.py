"""The parts of `spraycc init` that show and prepare a user's set-up (docs/usage.md): every path
spraycc uses, a starter config for the user's scheduler, and a masquerade directory.

`spraycc init` calls `run` (the key and the file-descriptor limit are handled beside it in the
CLI). Everything is idempotent: existing files are reported and left alone. Messages go through
the `say` callable the CLI passes; nothing here prints.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from spraycc import masquerade
from spraycc.errors import ConfigError, SprayError
from spraycc.wire import serverfile

SCHEDULERS = ("slurm", "lsf", "pbs", "sge", "openlava", "local")
SAMPLE_SPRAYCC = "/opt/spraycc/bin/spraycc"  # the placeholder path in conf/*.toml


def conf_dir() -> Path:
    """Where the conf/ samples are: inside the installed package (a wheel ships them as
    spraycc/conf/), else at the top of the checkout (a source tree or an editable install)."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return packaged if packaged.is_dir() else here.parent / "conf"


CONF_DIR = conf_dir()

Say = Callable[[str], None]


class InitError(SprayError):
    """`spraycc init` cannot do what was asked (no sample, unwritable path). Exit 1."""


def spraycc_executable() -> Path:
    """The `spraycc` program users and start commands should run (absolute, not resolved:
    a venv's bin directory is what the user installed)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "spraycc" and argv0.is_file():
        return argv0.absolute()
    beside = Path(sys.executable).parent / "spraycc"
    if beside.is_file():
        return beside
    found = shutil.which("spraycc")
    if found:
        return Path(found).absolute()
    raise InitError("cannot find the spraycc executable (is spraycc installed on PATH?)")


def config_candidates(workspace: Path) -> list[tuple[Path, str]]:
    """Config files in lookup order with their state, each one loaded and validated: "in use"
    (the first one present: the one a server here reads), "shadowed by the one above",
    "absent", and for a file that does not load, "invalid: <why>"."""
    from spraycc.server.config import candidates, parse

    out, used = [], False
    explicit = os.environ.get("SPRAYCC_CONFIG")
    for path in candidates(workspace):
        if not path.is_file():
            named = explicit and str(path) == explicit and not used
            out.append((path, "invalid: SPRAYCC_CONFIG names it, but it does not exist"
                        if named else "absent"))
            used = used or bool(named)
            continue
        state = "shadowed by the one above" if used else "in use"
        try:
            parse(path)
        except ConfigError as exc:
            why = str(exc).removeprefix(f"{path}: ")
            state = f"{state}; invalid: {why}" if used else f"invalid: {why}"
        out.append((path, state))
        used = True
    return out


def config_in_use_error(rows: list[tuple[Path, str]]) -> str | None:
    """Why no server could start here with these config files (None: it could)."""
    for path, state in rows:
        if state.startswith("invalid: "):
            return f"{path}: {state.removeprefix('invalid: ')}"
    return None


def paths(workspace: Path, log_file: Path) -> list[tuple[str, str]]:
    """(label, path and state) for every file and directory spraycc uses."""
    from spraycc.server import history, sessions
    from spraycc.wire import keys

    rows = [(f"config ({i + 1})", f"{path}  [{state}]")
            for i, (path, state) in enumerate(config_candidates(workspace))]
    key = Path(keys.default_path())
    rows.append(("key", f"{key}  [{'present' if key.exists() else 'absent'}]"))
    hist = history.default_directory()
    rows.append(("history", f"{hist}  [{'present' if hist.is_dir() else 'absent'}]"))
    rows.append(("server log", f"{log_file}  [{'present' if log_file.exists() else 'absent'}]"))
    kept = sessions.directory()
    rows.append(("sessions", f"{kept}  [{'present' if kept.is_dir() else 'absent'}]"))
    server_file = serverfile.find(str(workspace))
    rows.append(("server file", f"{server_file}  [a server is announced]" if server_file
                 else f"{workspace / serverfile.NAME}  [no server running here]"))
    rows.append(("samples", f"{CONF_DIR}  [{'present' if CONF_DIR.is_dir() else 'absent'}]"))
    try:
        rows.append(("spraycc", str(spraycc_executable())))
    except InitError:
        rows.append(("spraycc", "not found on PATH"))
    return rows


def detect_scheduler() -> tuple[str, str] | None:
    """(scheduler, why) from the submit commands on PATH, or None."""
    for prog, name in (("sbatch", "slurm"), ("bsub", "lsf"), ("qsub", "pbs")):
        if shutil.which(prog):
            if name == "pbs" and os.environ.get("SGE_ROOT"):
                name = "sge"
            return name, f"{prog} is on PATH"
    return None


def starter_config(scheduler: str, dest: Path, say: Say) -> bool:
    """Write conf/<scheduler>.toml to `dest` unless a file is there. Returns whether written."""
    if scheduler not in SCHEDULERS:
        raise InitError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, not {scheduler!r}")
    sample = CONF_DIR / f"{scheduler}.toml"
    try:
        text = sample.read_text(encoding="utf-8")
    except OSError as exc:
        raise InitError(f"cannot read the sample {sample}: {exc.strerror}") from None
    if dest.exists():
        say(f"config {dest} exists: left alone (the {scheduler} sample is {sample})")
        return False
    text = text.replace(SAMPLE_SPRAYCC, str(spraycc_executable()))
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "x", encoding="utf-8") as f:  # exclusive: never clobber
            f.write(text)
    except FileExistsError:
        say(f"config {dest} exists: left alone")
        return False
    except OSError as exc:
        raise InitError(f"cannot write {dest}: {exc.strerror}") from None
    from spraycc.server.config import parse

    parse(dest)  # the sample must be valid as written; a ConfigError names the key
    say(f"wrote a starter config for {scheduler} to {dest} (from {sample}); "
        "check its queue names and limits")
    return True


def make_masquerade(directory: Path, say: Say) -> list[Path]:
    """Links gcc, g++, cc, c++, clang, clang++ -> spraycc in `directory`, and spraycc-run (the
    one-word `spraycc run`, e.g. for CCACHE_PREFIX). Existing links to spraycc are kept; any
    other file of those names is left alone and reported."""
    target = spraycc_executable()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InitError(f"cannot create {directory}: {exc.strerror}") from None
    made = []
    launcher = write_launcher(directory / masquerade.RUN_NAME, say)
    if launcher is not None:
        made.append(launcher)
    for name in masquerade.NAMES if launcher is not None else (
            *masquerade.NAMES, masquerade.RUN_NAME):
        link = directory / name
        if link.is_symlink() and link.resolve() == target.resolve():
            made.append(link)
            continue
        if link.exists() or link.is_symlink():
            say(f"{link} exists and is not a link to spraycc: left alone")
            continue
        try:
            link.symlink_to(target)
        except OSError as exc:
            raise InitError(f"cannot create {link}: {exc.strerror}") from None
        made.append(link)
    names = " ".join(p.name for p in made if p != launcher)
    say(f"masquerade directory {directory}: {names} -> {target}")
    if launcher is not None:
        say(f"{launcher}: `spraycc run` in one word, a launcher that starts Python with -I -S "
            f"(the lightest runner: e.g. CC=\"{launcher} gcc\")")
    say(f"use it with: export PATH={directory.absolute()}:$PATH "
        "(the real compilers are found later on PATH)")
    say(f"with ccache: CCACHE_PREFIX={directory.absolute() / masquerade.RUN_NAME}")
    return made


LAUNCHER_MARK = "# spraycc-run launcher"


def launcher_text() -> str | None:
    """A `spraycc-run` that starts this interpreter isolated and without `site` (`-I -S`:
    no site-packages scan, no .pth files: a waiting runner's memory and start-up are mostly
    the interpreter's own), with spraycc's and pyzmq's directories put on sys.path by hand
    (pyzmq only for a runner on another host than the server). None when the interpreter's
    path cannot go into a #! line."""
    import importlib.util

    python = sys.executable
    if not python or any(c.isspace() for c in python) or len(python) > 200:
        return None
    dirs = [str(Path(__file__).resolve().parent.parent)]
    spec = importlib.util.find_spec("zmq")
    if spec is not None and spec.origin:
        dirs.append(str(Path(spec.origin).resolve().parent.parent))
    paths = ", ".join(repr(d) for d in dict.fromkeys(dirs))
    return (f"#!{python} -IS\n{LAUNCHER_MARK} (`spraycc run` in one word), made by "
            "`spraycc init --masquerade`\n"
            f"import sys\nsys.path[:0] = [{paths}]\n"
            "from spraycc.entry import main\nmain()\n")


def write_launcher(path: Path, say: Say) -> Path | None:
    """Write (or refresh) the `spraycc-run` launcher; None if it cannot be written as one (a
    symlink to spraycc does the same job, a little more slowly)."""
    text = launcher_text()
    if text is None:
        return None
    if path.is_symlink() or (path.exists() and LAUNCHER_MARK not in _head(path)):
        if path.is_symlink() and path.resolve() == spraycc_executable().resolve():
            path.unlink()  # an older init's link: the launcher replaces it
        else:
            say(f"{path} exists and is not a spraycc launcher: left alone")
            return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.rename(path)
    return path


def _head(path: Path) -> str:
    try:
        with path.open(errors="replace") as f:
            return f.read(512)
    except OSError:
        return ""


def run(workspace: Path, *, log_file: Path, scheduler: str | None, config: Path | None,
        masquerade_dir: Path | None, say: Say) -> None:
    """The issue-8 part of `spraycc init`: paths, starter config, masquerade directory."""
    if config is not None and scheduler is None:
        raise InitError("--config needs --scheduler (which sample to write)")
    if scheduler is not None:
        starter_config(scheduler, config or Path.home() / ".spraycc", say)
    if masquerade_dir is not None:
        make_masquerade(masquerade_dir, say)
    say("paths spraycc uses (config files in lookup order, the first present one is read):")
    for label, where in paths(workspace, log_file):
        say(f"  {label:<12} {where}")
    configs = config_candidates(workspace)
    broken = config_in_use_error(configs)
    if broken is not None:
        raise ConfigError(f"{broken} (`spraycc server` refuses to start until it is fixed)")
    if scheduler is None and not any(s.startswith("in use") for _, s in configs):
        found = detect_scheduler()
        hint = f" ({found[1]})" if found else ""
        say(f"no config file: spraycc uses local executors. For a cluster, write a starter "
            f"config with `spraycc init --scheduler {found[0] if found else 'slurm'}`{hint}; "
            f"choices: {'|'.join(SCHEDULERS)}")
