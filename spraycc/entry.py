"""The `spraycc` executable's entry: dispatches `spraycc run` (and spraycc invoked as
`spraycc-run` or under a compiler's name, see `masquerade`) to the runner before anything
heavy is imported, so a compile pays only for what one task needs (no typer, no zmq)."""

from __future__ import annotations

import os
import sys

# masquerade.RUN_NAME, spelled out so a runner does not import masquerade (a test holds both).
RUN_NAME = "spraycc-run"


def main() -> None:
    args = sys.argv[1:]
    name = os.path.basename(sys.argv[0]) if sys.argv else ""
    if name not in ("spraycc", RUN_NAME):  # invoked as `gcc` etc. through a masquerade link?
        from spraycc import masquerade

        compiler = masquerade.compiler_name(sys.argv[0])
        if compiler is not None:
            os._exit(masquerade.main(sys.argv[0], compiler, args))
    run_args = args if name == RUN_NAME else args[1:] if args and args[0] == "run" else None
    if run_args is not None:
        from spraycc.runner import main as run

        code = run(run_args)
        # Skip interpreter teardown: the runner writes only through os.write, nothing is
        # buffered, and a build starts thousands of runners.
        os._exit(code)
    from spraycc.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
