"""The `spraycc` executable's entry: dispatches `spraycc run` (and spraycc invoked as
`spraycc-run` or under a compiler's name, see `masquerade`) to the runner before anything
heavy is imported, so a compile pays only for what one task needs (no typer, no zmq)."""

from __future__ import annotations

import gc
import posix
import sys

# masquerade.RUN_NAME, spelled out so a runner does not import masquerade (a test holds both).
RUN_NAME = "spraycc-run"


def main() -> None:
    # Loading modules allocates tens of thousands of objects that live as long as the process
    # and form no garbage, yet it sets off several collections, one of them full: ~0.3 ms of
    # every compile's start-up. Collect nothing until the modules are in (see _loaded).
    gc.disable()
    args = sys.argv[1:]
    name = sys.argv[0].rpartition("/")[2] if sys.argv else ""
    if name not in ("spraycc", RUN_NAME):  # invoked as `gcc` etc. through a masquerade link?
        from spraycc import masquerade

        compiler = masquerade.compiler_name(sys.argv[0])
        if compiler is not None:
            _loaded()
            posix._exit(masquerade.main(sys.argv[0], compiler, args))
    run_args = args if name == RUN_NAME else args[1:] if args and args[0] == "run" else None
    if run_args is not None:
        if _may_be_query(run_args):
            from spraycc.step.compilers import is_query

            if is_query(run_args):  # `gcc -dumpmachine` and the like: nothing to place
                from os import execvp  # its PATH search; the process is replaced anyway

                try:
                    execvp(run_args[0], run_args)
                except OSError:
                    pass  # the runner says why, the usual way
        from spraycc.runner import main as run

        _loaded()
        code = run(run_args)
        # Skip interpreter teardown: the runner writes only through posix.write, nothing is
        # buffered, and a build starts thousands of runners.
        posix._exit(code)
    from spraycc.cli import main as cli

    _loaded()
    cli()


def _loaded() -> None:
    """The modules are in: move everything so far to the permanent generation, which later
    collections skip, and collect normally from here on."""
    gc.freeze()
    gc.enable()


if __name__ == "__main__":
    main()


def _may_be_query(args: list[str]) -> bool:
    """A command word, then options only: the shape of a compiler query. Every compile names a
    file and `--remote`/`--local` start with `-`, so they load no flag tables here
    (tests/test_layers.py pins what they load)."""
    return (len(args) >= 2 and args[0][:1] != "-"
            and all(len(a) > 1 and a[0] == "-" for a in args[1:]))
