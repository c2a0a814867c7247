"""The records of a placement decision: `Decision` (where a step runs, why, what it touches) and
`Output` (one file it writes), plus the constants they and the runner share.

A leaf (runner path: builtins only, no import beyond the package root): what every step's
runner needs, whether or not the classifier ran. A `spraycc run --remote` or `--local` step, and
a step a config rule places, build their Decision here without loading the classifier
(spraycc.step.classify, which makes these records for compiler commands and re-exports them).
"""

from __future__ import annotations

from spraycc import TEMP_DIR as TMP

__all__ = ["ASSEMBLER_MESSAGES", "AS_FAILED", "SIDE_DEPS", "TMP", "Decision", "Output"]

SIDE_DEPS = "in/deps.d"
"""Where the dependency file asked for on the side goes, under TMP (see Decision.deps)."""

# on_missing of a gcc object: removed after a failed step only if the assembler ran and
# failed, as the gcc driver does (it deletes its -o target once `as` has started).
AS_FAILED = "as-failed"
# What `as` (binutils) prints before its errors; the runner looks for it in the step's stderr.
ASSEMBLER_MESSAGES = b"Assembler messages:"


class Output:
    """One file the step writes.

    path: where a local run writes it (relative to cwd, or absolute).
    collect: where the remote run leaves it, relative to the executor's temp dir.
    on_missing: what the runner does when the remote run did not produce it: AS_FAILED (delete
    it only if the step failed in the assembler, see primary_on_missing), "delete" (a local
    run would have removed an existing target) or "keep" (leave an existing target alone).
    keep_mode: a local run rewrites an existing target in place (fopen "w": .d, .s, .i, .su),
    so it keeps its mode; otherwise the file is created afresh (0666 & ~umask).
    """

    __slots__ = ("collect", "keep_mode", "on_missing", "path")

    def __init__(self, path: str, collect: str, on_missing: str, keep_mode: bool = False) -> None:
        self.path = path
        self.collect = collect
        self.on_missing = on_missing
        self.keep_mode = keep_mode

    def __repr__(self) -> str:
        return f"Output({self.path!r}, {self.collect!r}, {self.on_missing!r}, {self.keep_mode})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Output) and self._key() == other._key()

    def _key(self) -> tuple[str, str, str, bool]:
        return (self.path, self.collect, self.on_missing, self.keep_mode)

    __hash__ = None  # type: ignore[assignment]


class Decision:
    """What spraycc does with one command: where it runs, why, and which files it touches.

    For a local decision `argv` is the original command and `env` is empty; `inputs` and
    `outputs` are then a best effort, for `spraycc explain`.

    tty_flag: an argument the runner appends to a remote `argv` when its own stderr is a
    terminal ("" for none). A local compiler colours its diagnostics at a terminal; a remote
    one writes to a pipe and would not. "-fdiagnostics-color=always" changes only the
    diagnostics: gcc records it neither in DW_AT_producer (-grecord-gcc-switches, on by
    default) nor in .GCC.command.line (-frecord-gcc-switches), nor in the LTO option section
    (objects compared with gcc 12 and clang 14). Not "-fdiagnostics-urls=always", although
    gcc >= 10 at a terminal such as TERM=xterm-256color also wraps option names in OSC 8
    hyperlinks: gcc 12 records that flag in DW_AT_producer, so a -g object would differ. The
    colours are the same; those invisible hyperlink escapes are missing.
    """

    __slots__ = (
        "argv",
        "compiler",
        "dependency_task",
        "deps",
        "env",
        "incdirs",
        "inputs",
        "outputs",
        "query",
        "reason",
        "remote",
        "side_deps",
        "tty_flag",
    )

    def __init__(
        self,
        remote: bool,
        reason: str,
        argv: list[str],
        env: dict[str, str | None] | None = None,
        inputs: list[str] | None = None,
        outputs: list[Output] | None = None,
        dependency_task: bool = False,
        compiler: str = "",
        tty_flag: str = "",
        deps: str = "",
        side_deps: list[str] | None = None,
        incdirs: list[str] | None = None,
        query: bool = False,
    ) -> None:
        self.remote = remote
        self.reason = reason
        self.argv = argv
        self.env = env if env is not None else {}
        self.inputs = inputs if inputs is not None else []
        self.outputs = outputs if outputs is not None else []
        self.dependency_task = dependency_task
        self.compiler = compiler
        self.tty_flag = tty_flag
        # The input check (spraycc.step.inputs): `deps` is the dependency file the remote step
        # writes anyway (its path under TMP), else `side_deps` the arguments that make the
        # compiler write one under TMP without changing any other output; `incdirs` are the
        # include directories in search order.
        self.deps = deps
        self.side_deps = side_deps if side_deps is not None else []
        self.incdirs = incdirs if incdirs is not None else []
        # Only asks the compiler about itself (`gcc -dumpmachine`, `--version`, `-print-*`):
        # no input file, no output. Nothing to throttle: the runner runs it at once, without
        # asking the server for a local slot (dpkg-buildflags runs `$CC -dumpmachine` at every
        # expansion of a Makefile's flags, serially inside make).
        self.query = query

    def __repr__(self) -> str:
        where = "remote" if self.remote else "local"
        return f"Decision({where}, {self.reason!r}, outputs={self.outputs!r})"
