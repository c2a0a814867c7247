"""The command line (typer). Each command only declares its options and calls one importable
function; this is the one place that turns expected failures into a message and an exit code.

`spraycc run` never comes here: `spraycc.entry` hands it to the runner before typer loads.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from spraycc import __version__
from spraycc.errors import SprayError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Spread the compile steps of a C/C++ build over a batch-scheduled CPU cluster.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
log = logging.getLogger("spraycc")
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True,
                "help_option_names": []}


def setup_logging(verbose: bool, logfile: Path | None = None) -> None:
    """Terminal lines prefixed `spraycc:` on stderr; optionally a rotating log file too."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    term = logging.StreamHandler(sys.stderr)
    term.setFormatter(logging.Formatter("spraycc: %(message)s"))
    root.addHandler(term)
    if logfile is not None:
        try:
            logfile.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                logfile, maxBytes=5_000_000, backupCount=3)
        except OSError as exc:
            log.warning("cannot write the log file %s: %s", logfile, exc)
            return
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s "
                                               "%(levelname)s %(message)s"))
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
    cpus: Annotated[int | None, typer.Option("--cpus", min=1, help="Override max_count.")] = None,
    loopback: Annotated[bool, typer.Option("--loopback", help="Listen on 127.0.0.1 only.")]
    = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logging.")] = False,
) -> None:
    """Start the broker for the workspace in the current directory."""
    from spraycc import config
    from spraycc import server as srv
    from spraycc.errors import ConfigError

    setup_logging(verbose, log_path())
    workspace = Path(os.getcwd())
    try:
        cfg = config.load(workspace)
        if (alt or both) and not cfg.alt_start_cmd:
            raise ConfigError(f"{cfg.source or 'config'}: --alt/--both need alt_start_cmd")
        code = srv.run(workspace, cfg, srv.Options(alt, both, cpus, loopback),
                       lambda line: typer.echo(f"spraycc: {line}", err=True))
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
    verbose: Annotated[bool, typer.Option("-v", "--verbose")] = False,
) -> None:
    """Run as an executor (started by the server through the start command)."""
    from spraycc import executor

    setup_logging(verbose)
    raise typer.Exit(executor.main(callme, code, launch=launch, tmpdir=tmpdir,
                                   walltime=walltime))


@app.command(context_settings=PASS_THROUGH)
def run(ctx: typer.Context) -> None:
    """Run one build step through the server: spraycc run [-v] [--local|--remote] CMD..."""
    from spraycc.runner import main as runner

    raise typer.Exit(runner(list(ctx.args)))


@app.command(context_settings=PASS_THROUGH)
def explain(ctx: typer.Context) -> None:
    """Print, as JSON, where spraycc would run CMD, why, and its inputs and outputs."""
    from spraycc import classify, runner

    try:
        opts, argv = runner.parse(list(ctx.args))
    except ValueError as exc:
        typer.echo(f"spraycc: {exc}", err=True)
        raise typer.Exit(2) from None
    if not argv:
        typer.echo("spraycc: explain needs a command", err=True)
        raise typer.Exit(2)
    decision = runner.decide(argv, opts, os.getcwd())
    typer.echo(json.dumps(classify.as_json_dict(decision), indent=2))


@app.command()
def version() -> None:
    """Print spraycc's version."""
    typer.echo(__version__)


def main() -> None:
    app(prog_name="spraycc")
