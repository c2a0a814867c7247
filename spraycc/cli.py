"""The command line (typer). Each command only declares its options and calls one importable
function; this is the one place that turns expected failures into a message and an exit code.

`spraycc run` never comes here: `spraycc.entry` hands it to the runner before typer loads.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from spraycc import __version__
from spraycc.errors import SprayError

app = typer.Typer(
    # --install-completion / --show-completion: shell completion of commands and options
    # (bash, zsh, fish; docs/usage.md).
    add_completion=True,
    no_args_is_help=True,
    # Plain help, as ccache and distcc print it: no boxes, and a flag that takes no value is
    # shown without a type.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
log = logging.getLogger("spraycc")
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True,
                "help_option_names": []}


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option(
        "--version", "-V", is_eager=True, callback=_print_version,
        help="Print spraycc's version and exit.")] = False,
) -> None:
    """Spread the compile steps of a C/C++ build over a batch-scheduled CPU cluster.

    `spraycc run CMD...` is the runner a build calls for every step (`spraycc run --help`)."""


def setup_logging(verbose: bool, logfile: Path | None = None) -> None:
    """Terminal lines prefixed `spraycc:` on stderr; optionally a rotating log file too, private
    to the user (docs/usage.md, "Logs"). Every line passes through `logprivacy.LogFilter`: no
    secret reaches either, and file lines carry the server's session id."""
    from spraycc.server.logprivacy import TASK_LOG, LogFilter, PrivateLogHandler

    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger(TASK_LOG).setLevel(logging.DEBUG if verbose else logging.INFO)
    term = logging.StreamHandler(sys.stderr)
    term.setFormatter(logging.Formatter("spraycc: %(message)s"))
    term.addFilter(LogFilter())
    root.addHandler(term)
    if logfile is not None:
        try:
            handler = PrivateLogHandler(logfile, max_bytes=5_000_000, backups=3)
        except OSError as exc:
            log.warning("cannot write the log file %s: %s", logfile, exc)
            return
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(session)s %(name)s "
                                               "%(levelname)s %(message)s"))
        handler.addFilter(LogFilter())
        handler.setLevel(logging.DEBUG)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        term.setLevel(logging.DEBUG if verbose else logging.INFO)


def log_path() -> Path:
    from platformdirs import user_log_dir

    return Path(user_log_dir("spraycc")) / "server.log"


def fail(err: SprayError, code: int = 1) -> typer.Exit:
    typer.echo(f"spraycc: {err}", err=True)
    return typer.Exit(code)


@app.command()
def server(
    alt: Annotated[bool, typer.Option("--alt", help="Submit with alt_start_cmd.")] = False,
    both: Annotated[bool, typer.Option("--both", help="Split executors over both "
                                       "start commands.")] = False,
    cpus: Annotated[int | None, typer.Option("--cpus", min=1, metavar="N",
                                             help="Override max_count.")] = None,
    loopback: Annotated[bool, typer.Option("--loopback", help="Listen on 127.0.0.1 only.")]
    = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logging.")] = False,
) -> None:
    """Start the broker for the workspace in the current directory."""
    from spraycc.errors import ConfigError
    from spraycc.server import config
    from spraycc.server import process as srv
    from spraycc.server.logprivacy import scrub

    setup_logging(verbose, log_path())
    workspace = Path(os.getcwd())
    try:
        cfg = config.load(workspace)
        if alt and both:
            raise ConfigError("--alt and --both exclude each other")
        if (alt or both) and not cfg.alt_start_cmd:
            raise ConfigError(f"{cfg.source or 'config'}: --alt/--both need alt_start_cmd")
        if both and not cfg.start_cmd:
            raise ConfigError(f"{cfg.source or 'config'}: --both needs start_cmd as well")
        # scrub: the start command the server announces carries the access code
        code = srv.run(workspace, cfg, srv.Options(alt, both, cpus, loopback),
                       lambda line: typer.echo(f"spraycc: {scrub(line)}", err=True))
    except ConfigError as exc:
        raise fail(exc, 2) from None
    except SprayError as exc:
        raise fail(exc) from None
    raise typer.Exit(code)


@app.command("exec")
def exec_(
    callme: Annotated[str, typer.Option("--callme", help="HOST:PORT of the server.")],
    code: Annotated[str, typer.Option("--code", help="The session's access code.")],
    launch: Annotated[str, typer.Option("--launch", help="Launch id given by the server.")] = "",
    tmpdir: Annotated[str, typer.Option("--tmpdir", help="Host-local temp dir.")] = "",
    walltime: Annotated[float, typer.Option("--walltime", help="Stop taking tasks after this "
                                            "many seconds (0: no limit).")] = 0.0,
    serverkey: Annotated[str, typer.Option("--serverkey", help="The server's session public "
                                           "key (64 hex digits), for the CURVE handshake.")] = "",
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Run as an executor (started by the server through the start command)."""
    from spraycc import executor

    setup_logging(verbose)
    try:
        code_ = executor.main(callme, code, launch=launch, tmpdir=tmpdir, walltime=walltime,
                              serverkey=serverkey)
    except SprayError as exc:
        raise fail(exc) from None
    raise typer.Exit(code_)


@app.command(context_settings=PASS_THROUGH)
def run(ctx: typer.Context) -> None:
    """Run one build step through the server: spraycc run [-v] [--local|--remote] CMD..."""
    from spraycc.runner import main as runner

    raise typer.Exit(runner(list(ctx.args)))


EXPLAIN_HELP = """usage: spraycc explain [--inputs] [--local | --remote [--output PATH]...] [--]
       CMD...

Print, as JSON, where `spraycc run CMD` would run CMD and why, without running it: local or
remote, the classifier's reason, the config rule that matched (from the running server, else
from the config a server here would read), the inputs, the outputs and the command line an
executor would run, and how the executor's view of its inputs is checked ("input_check":
the dependency file, the read-only directories not checked). Takes `spraycc run`'s placement
options (`spraycc run --help`).
  --inputs      also list the inputs that would be checked and those skipped (runs the
                compile once here, into a temp dir, for its dependency file)
  -h, --help    print this help and exit"""


@app.command(context_settings=PASS_THROUGH)
def explain(ctx: typer.Context) -> None:
    """Print, as JSON, where spraycc would run CMD, why, and its inputs and outputs."""
    from spraycc import runner
    from spraycc.step import classify
    from spraycc.step.placement import place

    args = list(ctx.args)
    list_inputs = False
    while "--inputs" in args[: args.index("--") if "--" in args else len(args)]:
        args.remove("--inputs")
        list_inputs = True
    try:
        opts, argv = runner.parse(args)
    except runner.HelpWanted:
        typer.echo(EXPLAIN_HELP)
        raise typer.Exit(0) from None
    except ValueError as exc:
        typer.echo(f"spraycc: {exc} (see `spraycc explain --help`)", err=True)
        raise typer.Exit(2) from None
    if not argv:
        typer.echo("spraycc: explain needs a command", err=True)
        raise typer.Exit(2)
    cwd = os.getcwd()
    try:
        rule_list, rules_from = explain_rules(cwd)
    except SprayError as exc:
        raise fail(exc, 2) from None
    placement = place(argv, opts, cwd, rule_list)
    out = classify.as_json_dict(placement.decision)
    # The placement's own facts, beside the classifier's (as_json_dict is the classifier's).
    out["rule"] = placement.rule.as_dict() if placement.rule else None
    out["rules_from"] = rules_from
    out["forced"] = placement.forced
    if placement.forced and placement.rule is not None:
        out["note"] = "stays local when the runner's stdin is a pipe or a file"
    if placement.decision.remote and not placement.forced:
        out["input_check"] = explain_inputs(placement.decision, cwd, list_inputs)
    if placement.decision.reason.startswith(runner.SEVERAL):
        split = runner.split_parts(argv, cwd)  # with a server: one remote step per source
        out["split_into"] = split
        if split:
            out["note"] = "with a server running, each part runs as a step of its own"
    typer.echo(json.dumps(out, indent=2))


def explain_inputs(decision: Any, cwd: str, list_inputs: bool) -> dict[str, Any]:
    """How the runner would check the executor's view of the step's inputs (docs/usage.md,
    "Inputs are checked"); with `list_inputs`, which inputs, from a compile run here."""
    from spraycc import runner
    from spraycc.server import config
    from spraycc.step import classify
    from spraycc.wire import serverfile

    info = serverfile.nearest(cwd)
    if info is None:  # what a server started here would publish
        cfg = config.load(Path(cwd))
        fields = {"readonly_dirs": ":".join(cfg.readonly_dirs)}
        if not cfg.check_inputs:
            fields["check_inputs"] = "0"
        info = serverfile.ServerInfo("", fields)
    skip = [os.fsdecode(d) for d in runner.readonly_dirs(info, decision.compiler, cwd)]
    deps = decision.deps or (classify.SIDE_DEPS if decision.side_deps else "")
    out: dict[str, Any] = {
        "enabled": runner.checking(info) and bool(deps),
        "dependency_file": classify.as_json_dict(decision)["dependency_file"],
        "readonly_dirs": skip,
        "include_dirs": decision.incdirs,
    }
    if list_inputs and deps:
        names = _deps_here(decision, cwd, deps)
        if names is None:
            out["checked"] = out["skipped"] = None
            out["note"] = "the compile failed here: no dependency file to read"
        else:
            full = {n: os.path.normpath(os.path.join(cwd, n)) for n in names}
            out["skipped"] = [n for n in names if full[n].startswith(tuple(skip))]
            out["checked"] = [n for n in names if n not in out["skipped"]]
    return out


def _deps_here(decision: Any, cwd: str, deps: str) -> list[str] | None:
    """Run the remote command line here with its temp dir in a fresh directory; the names in
    the dependency file it writes (None if it failed)."""
    import shutil
    import subprocess
    import tempfile

    from spraycc.step import classify, inputs

    tmp = tempfile.mkdtemp(prefix="spraycc-explain-")
    try:
        argv = list(decision.argv) + ([] if decision.deps else list(decision.side_deps))
        argv = [a.replace(classify.TMP, tmp) for a in argv]
        env = dict(os.environ)
        for key, value in decision.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value.replace(classify.TMP, tmp)
        for rel in [*(o.collect for o in decision.outputs), deps]:
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
        done = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=600)
        if done.returncode != 0:
            return None
        with open(os.path.join(tmp, deps), "rb") as f:
            return [os.fsdecode(n) for n in inputs.read_deps(f.read())]
    except (OSError, subprocess.TimeoutExpired):
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def explain_rules(cwd: str) -> tuple[list, str | None]:
    """The placement rules runners here would apply: the running server's (from its file),
    else those of the config a server started here would read."""
    from spraycc import runner
    from spraycc.server import config
    from spraycc.step import rules
    from spraycc.wire import serverfile

    info = serverfile.nearest(cwd)
    if info is not None:
        return runner.server_rules(info), info.path
    cfg = config.load(Path(cwd))
    found = rules.from_fields(rules.to_fields(list(cfg.rule)))
    return found, str(cfg.source) if cfg.source else None


@app.command()
def status(
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one snapshot as JSON "
                                           "(for scripts) and exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, metavar="S",
                                            help="Seconds between refreshes.")] = 1.0,
) -> None:
    """Show the workspace's server live, like top (Ctrl-C quits): tasks, executors per start
    command, throughput, longest-running tasks, remaining time."""
    import shutil

    from spraycc import status as st

    tty = sys.stdout.isatty()

    def term_size() -> tuple[int, int]:
        cols, rows = shutil.get_terminal_size((100, 40))
        return cols, rows

    try:
        if once or json_out:
            code = st.once(os.getcwd(), sys.stdout, json_out=json_out,
                           width=term_size()[0] if tty else 1000)
        else:
            code = st.live(os.getcwd(), sys.stdout, interval=interval, size_of=term_size,
                           ansi=tty)
    except SprayError as exc:
        err = fail(exc)
        last = last_session_here(os.getcwd())
        if last is not None:
            typer.echo(f"spraycc: the last session here {last}; `spraycc stats` shows more",
                       err=True)
        raise err from None
    raise typer.Exit(code)


def last_session_here(cwd: str) -> str | None:
    """One line on the last recorded session of the workspace `cwd` is in, if any."""
    from spraycc.server import sessions

    try:
        here = sessions.of_workspace(sessions.load()[0], cwd)
    except OSError:
        return None
    return sessions.brief(here[0]) if here else None


@app.command()
def stats(
    all_: Annotated[bool, typer.Option("--all", help="Sessions of every workspace (this "
                                       "one's first).")] = False,
    last: Annotated[int, typer.Option("--last", "-n", min=1, metavar="N",
                                      help="Sessions to show per workspace.")] = 5,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the summaries of the last server sessions of this workspace (counts, task time,
    slot efficiency, slowest steps, executor pools), kept after the server has gone."""
    from spraycc.server import sessions
    from spraycc.step.taskkey import printable

    records, problems = sessions.load()
    for problem in problems:
        typer.echo(f"spraycc: warning: {problem}", err=True)
    here = sessions.of_workspace(records, os.getcwd())
    shown = here[:last]
    if all_:
        seen: dict[str, int] = {}
        for rec in records:
            if rec not in here and seen.get(rec["workspace"], 0) < last:
                seen[rec["workspace"]] = seen.get(rec["workspace"], 0) + 1
                shown.append(rec)
    if json_out:
        typer.echo(json.dumps([sessions.for_display(rec) for rec in shown], indent=2))
        return
    if not shown:
        others = len(records) - len(here)
        typer.echo(f"no session recorded for {printable(os.getcwd())} or above"
                   + (f"; {others} of other workspaces: `spraycc stats --all`" if others else "")
                   + f" (kept in {sessions.directory()})")
        return
    for i, rec in enumerate(shown):
        typer.echo(("\n" if i else "") + "\n".join(sessions.render(rec)))


@app.command()
def stop(
    now: Annotated[bool, typer.Option("--now", help="Do not wait for queued and running "
                                      "tasks: their runners run them locally.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the server has "
                                       "exited.")] = True,
) -> None:
    """Stop the workspace's server: by default it finishes its queued and running tasks
    (drain), releases its executors and exits."""
    from spraycc import status as st

    try:
        code = st.stop(os.getcwd(), now=now, wait=wait,
                       say=lambda line: typer.echo(f"spraycc: {line}", err=True))
    except SprayError as exc:
        raise fail(exc) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def init_paths_and_files(scheduler: str | None, config_path: Path | None,
                         masquerade: Path | None) -> None:
    """The configuration part of `spraycc init`: print the paths in use, write a starter config,
    make a masquerade directory."""
    from spraycc import userinit

    userinit.run(Path(os.getcwd()), log_file=log_path(), scheduler=scheduler,
                 config=config_path, masquerade_dir=masquerade, say=typer.echo)


def init_key_and_limits() -> None:
    """The security part of `spraycc init`: the user key (created exclusively, mode 0600; an
    exposed one is refused with the fix) and the soft file-descriptor limit."""
    import resource

    from spraycc.server.process import FD_TARGET, raise_fd_limit
    from spraycc.wire import keys

    path = keys.default_path()
    _, created = keys.ensure(path)  # KeyFileError names the fix (chmod 600) for an exposed key
    typer.echo(f"{'created' if created else 'kept'} the user key {path} (mode 0600): it lets "
               "your executors and runners into your servers; keep it private")
    soft = raise_fd_limit()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    shown = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    typer.echo(f"file-descriptor limit: soft {soft} (hard {shown}) in this process; "
               f"`spraycc server` raises its own to min({FD_TARGET}, hard) at start")
    if soft < FD_TARGET:
        typer.echo(f"warning: the hard limit {shown} caps a server at about {soft // 2} "
                   "connected runners and executors; ask for a higher `nofile` limit")


def _scheduler_choice(value: str | None) -> str | None:
    from spraycc.userinit import SCHEDULERS

    if value is not None and value not in SCHEDULERS:
        raise typer.BadParameter(f"must be one of {', '.join(SCHEDULERS)}, not {value!r}")
    return value


@app.command()
def init(
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="slurm|lsf|pbs|sge|openlava|local", callback=_scheduler_choice,
        help="Write a starter config for this scheduler (to ~/.spraycc unless --config; "
        "an existing file is never overwritten).")] = None,
    config_path: Annotated[Path | None, typer.Option(
        "--config", metavar="PATH", help="Where to write the starter config.")] = None,
    masquerade: Annotated[Path | None, typer.Option(
        "--masquerade", metavar="DIR", help="Make DIR with gcc, g++, cc, c++, clang, clang++ "
        "linked to spraycc; put DIR first on PATH to send any build through spraycc. Also "
        "spraycc-run, a one-word `spraycc run` for CCACHE_PREFIX.")] = None,
) -> None:
    """Set up spraycc for this user (idempotent) and print every path it uses."""
    from spraycc.errors import ConfigError

    try:
        init_key_and_limits()
        init_paths_and_files(scheduler, config_path, masquerade)
    except ConfigError as exc:
        raise fail(exc, 2) from None
    except SprayError as exc:
        raise fail(exc) from None


@app.command("history")
def history_(
    executors: Annotated[int | None, typer.Option(
        "--executors", "-n", min=1, metavar="N", help="Executors to predict for (default: "
        "local_count, or max_count with a start_cmd, from the config a server here would "
        "read).")] = None,
    top: Annotated[int, typer.Option("--top", min=0, metavar="N",
                                     help="Longest steps to list.")] = 20,
    tail: Annotated[int, typer.Option("--tail", min=0, metavar="N",
                                      help="Tail steps to list.")] = 10,
    match: Annotated[str, typer.Option("--match", metavar="PATTERN", help="Only steps "
                                       "matching PATTERN: an output path or glob, e.g. "
                                       "'build/*.o', or a command as typed, e.g. "
                                       "'g++ -c src/*' (docs/history.md).")] = "",
    days: Annotated[float, typer.Option("--days", min=0, metavar="N", help="Only steps "
                                        "measured in the last N days (0: all).")] = 0.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the longest recorded steps and the predicted critical tail of the next build."""
    from spraycc import forecast
    from spraycc.errors import ConfigError
    from spraycc.server import config
    from spraycc.server.history import History, default_directory

    if executors is None:
        try:
            cfg = config.load(Path(os.getcwd()))
        except ConfigError as exc:
            raise fail(exc, 2) from None
        executors = cfg.max_count if cfg.start_cmd else cfg.local_count_for(os.cpu_count() or 1)
        executors = max(1, executors)
    hist = History(default_directory())
    problems = hist.load()  # read only: nothing is written or compacted
    rep = forecast.report(hist, executors, top=top, tail=tail, match=match, days=days,
                          cwd=os.getcwd())
    if json_out:
        typer.echo(json.dumps(rep | {"problems": problems}, indent=2))
    else:
        typer.echo(forecast.render(rep, problems), nl=False)


@app.command()
def version() -> None:
    """Print spraycc's version."""
    typer.echo(__version__)


def main() -> None:
    """Run the CLI; a usage mistake is one `spraycc:` line on stderr and exit status 2."""
    try:
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # typer versions that use click itself
        from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[no-redef,import-not-found]
    try:
        code = app(prog_name="spraycc", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()  # the help, on stderr
        code = 2
    except UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "spraycc"
        typer.echo(f"spraycc: {exc.format_message()} (see `{where} --help`)", err=True)
        code = 2
    sys.exit(code if isinstance(code, int) else 0)
