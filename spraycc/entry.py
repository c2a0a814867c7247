"""The `spraycc` executable's entry: dispatches `spraycc run` to the runner before anything
heavy is imported, so a compile pays only for what one task needs (no typer, no zmq)."""

from __future__ import annotations

import os
import sys


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "run":
        from spraycc.runner import main as run

        code = run(args[1:])
        # Skip interpreter teardown: the runner writes only through os.write, nothing is
        # buffered, and a build starts thousands of runners.
        os._exit(code)
    from spraycc.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
