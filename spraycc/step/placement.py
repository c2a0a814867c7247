"""Placement: where one step runs and on whose word (runner path: builtins only).

Order of precedence: `spraycc run --local` / `--remote`, then the first matching config rule
(published by the server in its file, see `rules`), then the compiler classifier. A step the
user forces remote (`--remote`, or a "remote" rule for a command the classifier does not know)
may declare outputs, which come back like a compiler's; stdin that may carry the step's input
keeps a rule-forced step local.

Only a step that reaches the classifier loads it (spraycc.step.classify, with its flag tables,
argument walk and compiler look-up): `--remote`, `--local` and a step a config rule places
build their Decision from spraycc.step.decision alone, which keeps a waiting `--remote`
runner small (docs/usage.md, "What each compile costs").
"""

from __future__ import annotations

import posix
from _stat import S_ISCHR, S_ISFIFO, S_ISREG, S_ISSOCK

from spraycc import oslite
from spraycc.step.decision import TMP, Decision, Output

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: the runner must not import typing
if TYPE_CHECKING:
    from spraycc.step import rules


class Options:
    """What `spraycc run` was told before the command (see runner.parse)."""

    __slots__ = ("force", "outputs", "timeout", "verbose")

    def __init__(self) -> None:
        self.verbose = bool(oslite.getenv("SPRAYCC_VERBOSE"))
        self.force = ""  # "", "local" or "remote"
        self.outputs: list[str] = []
        self.timeout: float | None = None  # None: the server's task_timeout applies


OUTPUT_DIR_VAR = "SPRAYCC_OUTPUT_DIR"  # where a forced-remote step leaves declared outputs
OUTPUT_SUBDIR = "out"  # ... as a path under the executor's temp dir


class Placement:
    """Where a step runs, and on whose word. `forced`: remote because the user said so
    (--remote or a config rule), not because the classifier accounted for the step; `rule`:
    the config rule that matched, if any (for -v and `spraycc explain`)."""

    __slots__ = ("decision", "forced", "rule")

    def __init__(self, decision: Decision, forced: bool = False,
                 rule: rules.Rule | None = None) -> None:
        self.decision = decision
        self.forced = forced
        self.rule = rule


def forced_remote(argv: list[str], outputs: list[str], cwd: str,
                  reason: str = "forced remote by --remote") -> Decision:
    """`spraycc run --remote [--output PATH]... CMD`: any command, on the user's word.

    Each declared output PATH is collected from `$SPRAYCC_OUTPUT_DIR/<file name of PATH>` on
    the executor (a private host-local dir) and written at PATH here, atomically. Arguments
    naming PATH (`PATH` itself, or `--opt=PATH`; compared as paths, so `./gen.h` names
    `gen.h`) are rewritten to that place, so most commands need no change; a command that
    writes a fixed name can use the variable instead. Outputs must have distinct file names."""
    remote_argv = list(argv)
    declared = []
    names: dict[str, str] = {}
    for path in outputs:
        base = oslite.basename(path)
        if base in ("", ".", ".."):
            return Decision(False, f"declared output {path!r} is not a file: local run", argv)
        if base in names:
            return Decision(False, f"declared outputs {names[base]} and {path} have "
                            f"the same file name: local run", argv)
        names[base] = path
        parent = oslite.dirname(path) or "."
        if not posix.access(oslite.join(cwd, parent), posix.W_OK):
            return Decision(
                False, f"output directory {parent} is missing or not writable", argv)
        collect = f"{OUTPUT_SUBDIR}/{base}"
        for i, arg in enumerate(remote_argv):
            prefix = _names_path(arg, path, cwd)
            if prefix is not None:
                remote_argv[i] = f"{prefix}{TMP}/{collect}"
        declared.append(Output(path, collect, "keep"))
    env: dict[str, str | None] = {}
    if declared:
        env[OUTPUT_DIR_VAR] = f"{TMP}/{OUTPUT_SUBDIR}"
    return Decision(True, reason, remote_argv, env=env, outputs=declared,
                             compiler=argv[0])


def _names_path(arg: str, path: str, cwd: str) -> str | None:
    """The part of `arg` to keep when it names `path` (as `PATH` or `...=PATH`), else None."""
    if _same_path(arg, path, cwd):
        return ""
    eq = arg.find("=")
    while eq >= 0:
        if _same_path(arg[eq + 1:], path, cwd):
            return arg[: eq + 1]
        eq = arg.find("=", eq + 1)
    return None


def _same_path(a: str, b: str, cwd: str) -> bool:
    if a == b:
        return True
    if not a or TMP in a:
        return False
    return oslite.normpath(oslite.join(cwd, a)) == oslite.normpath(oslite.join(cwd, b))


def stdin_reason() -> str:
    """Why the runner's stdin cannot simply be left behind ("" when it can). A remote command
    gets no stdin; only a terminal (which a build step should not read) or /dev/null can
    stand for that. Anything else (a pipe, a file, a socket) may carry the step's input."""
    try:
        st = posix.fstat(0)
    except OSError:
        return ""  # closed: the command would read nothing here either
    if S_ISCHR(st.st_mode):
        if posix.isatty(0):
            return ""
        try:
            if st.st_rdev == posix.stat("/dev/null").st_rdev:
                return ""
        except OSError:
            pass
        kind = "a character device"
    elif S_ISFIFO(st.st_mode):
        kind = "a pipe"
    elif S_ISSOCK(st.st_mode):
        kind = "a socket"
    elif S_ISREG(st.st_mode):
        kind = "a file"
    else:
        kind = "neither a terminal nor /dev/null"
    return f"stdin is {kind} and a remote command gets none"


# The words without which the classifier cannot send a step remote (spraycc.step.cmdline: a
# remote step is a compile, -c/-S/-E/-M/-MM/-fsyntax-only or their long spellings, matched as
# whole words) or without which it would still treat it as more than a plain local run (a
# compiler query runs at once, without a local slot; a response file may hold any of them).
# tests/step/test_placement.py holds them equal to the classifier's tables.
COMPILE_WORDS = frozenset({
    "-c", "-S", "-E", "-M", "-MM", "-fsyntax-only",
    "--compile", "--assemble", "--preprocess", "--dependencies", "--user-dependencies",
})
QUERY_WORDS = frozenset({
    "-v", "--verbose", "-###", "--version", "--help", "--target-help", "-dumpversion",
    "-dumpfullversion", "-dumpmachine", "-dumpspecs",
})
QUERY_PREFIXES = ("-print-", "--print-", "--help=", "-dump", "--dump")


def certainly_local(argv: list[str]) -> bool:
    """The classifier would keep `argv` local as a plain local step (a link, `ar`, any tool):
    no word of it asks for a compile, queries the compiler or names a response file. Such a
    step needs no classifier: the runner asks for its local slot at once."""
    for word in argv[1:]:
        if word[:1] == "@" or word in COMPILE_WORDS or word in QUERY_WORDS or word.startswith(
                QUERY_PREFIXES):
            return False
    return True


def place(argv: list[str], opts: Options, cwd: str, rule_list: list[rules.Rule] | None = None,
          check_stdin: bool = False) -> Placement:
    """Where the step runs: --local/--remote first, then the first matching config rule,
    then the classifier. A "remote" rule keeps the classifier's decision for a step the
    classifier sends remote itself (a compile, whose outputs it knows); it forces any other
    command remote, unless `check_stdin` finds input on stdin that it would not get."""
    if opts.force == "local":
        return Placement(Decision(False, "forced local by --local", argv))
    if opts.force == "remote":
        return Placement(forced_remote(argv, opts.outputs, cwd), forced=True)
    rule = None
    if rule_list:  # only a server with [[rule]] entries makes the runner import `rules`
        from spraycc.step.rules import first_match

        rule = first_match(rule_list, argv)
    if rule is not None and rule.where == "local":
        return Placement(Decision(False, f"{rule.describe()} says local", argv),
                         rule=rule)
    from spraycc.step.classify import classify  # only a step that needs classifying pays

    decision = classify(argv, cwd, oslite.environ())
    if decision.remote:
        for out in decision.outputs:
            parent = oslite.dirname(out.path) or "."
            if not posix.access(parent, posix.W_OK):
                decision = Decision(
                    False, f"output directory {parent} is not writable here", argv)
                break
        return Placement(decision, rule=rule)
    if rule is None:
        return Placement(decision)
    why = stdin_reason() if check_stdin else ""
    if why:
        return Placement(Decision(
            False, f"{rule.describe()} says remote, but {why}: local run", argv), rule=rule)
    return Placement(forced_remote(argv, [], cwd, f"{rule.describe()} says remote"),
                     forced=True, rule=rule)

