"""The history key of a task (docs/history.md): the one definition of how a step is named.

Role: a runner-path leaf. The runner computes the key of every remote step it submits (so it
must stay cheap: builtins only, no re, no hashlib); the server, `spraycc history` and the
history store only read keys, and parse them with `split_key`. Format, documented with
examples in docs/history.md:

* classified compile steps (with -c, -S, -E, -M or -MM): ``"<compiler> <mode> <path>"``
* any other remote command (``spraycc run --remote``, or a compile whose mode flag is hidden in
  a response file): ``"<tool> <path> @<cwd> <arguments>"``

`<compiler>`/`<tool>` is the basename of the program (the resolved compiler for classified
steps, so `cc` and `gcc` naming the same gcc-12 give the same key); `<mode>` the gcc mode flag
that applies; `<path>` the primary output, or the primary input when the step writes to stdout,
relative to the workspace root, or absolute when it lies outside the root; `<cwd>` the working
directory relative to the root. The workspace root inside arguments is written ``$WS`` and the
executor's private temp dir ``$TMP``. Keys longer than MAX_KEY_CHARS keep a readable head and
end in a hash of the whole key.
"""

from __future__ import annotations

from spraycc import (
    TEMP_DIR,  # the executor's private temp dir in a remote argv
    oslite,
)

# gcc precedence: -M/-MM imply -E, which overrides -S, which overrides -c.
MODES = ("-M", "-MM", "-E", "-S", "-c")
DEPENDENCY_MODES = ("-M", "-MM")
MAX_KEY_CHARS = 160


def mode_of(argv: list[str]) -> str:
    """The gcc mode flag of a command line ('' for none: not a compile, or hidden in @file)."""
    present = set(argv[1:])
    for mode in MODES:
        if mode in present:
            return mode
    return ""


def relative(workspace: str, cwd: str, path: str) -> str:
    """`path` (relative to `cwd`) relative to the workspace root; absolute outside the root."""
    full = oslite.normpath(oslite.join(cwd, path))
    root = oslite.normpath(workspace)
    if full == root:
        return "."
    prefix = root if root.endswith("/") else root + "/"
    if full.startswith(prefix):
        return full[len(prefix):]
    return full


def task_key(workspace: str, cwd: str, compiler: str, target: str | None, mode: str = "",
             args: list[str] | None = None) -> str:
    """The key of a step run in `cwd` by the program `compiler`, whose primary output (or,
    without one, primary input) is `target`. A classified compile passes its `mode`
    (`mode_of(argv)`); without a mode the step is keyed by its `args` (argv[1:]). `workspace` and
    `cwd` must be given in the same form (the runner uses real, symlink-resolved paths)."""
    tool = oslite.basename(compiler) or "?"
    where = relative(workspace, cwd, target) if target else "-"
    if mode:
        # Flags are left out on purpose: after a small flag change a step takes about as long
        # as before, and a stale value only costs ordering, never correctness.
        return shorten(f"{tool} {mode} {where}")
    root = oslite.normpath(workspace)
    rest = " ".join(_portable(a, root) for a in args or ())
    return shorten(f"{tool} {where} @{relative(workspace, cwd, '.')} {rest}".rstrip())


def _portable(arg: str, root: str) -> str:
    if root != "/":
        arg = arg.replace(root, "$WS")
    return arg.replace(TEMP_DIR, "$TMP")


def shorten(key: str) -> str:
    if len(key) <= MAX_KEY_CHARS:
        return key
    return f"{key[: MAX_KEY_CHARS - 20]} #{fnv1a64(key):016x}"


def fnv1a64(text: str) -> int:
    """FNV-1a, 64 bit: a stable hash without hashlib (whose import costs the runner)."""
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8", "surrogateescape"):
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def printable(text: str) -> str:
    """`text` (a key or a path, from file names that need not be UTF-8) as text any output
    takes: bytes that are not UTF-8 become backslash escapes (`caf\\xe9.o`). For display only;
    keys themselves keep such bytes (as surrogate escapes, see os.fsdecode)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def split_key(key: str) -> tuple[str, str, str]:
    """(tool, mode, rest) of a key; mode is '' for a key that is not a compile step."""
    tool, _, rest = key.partition(" ")
    mode, _, path = rest.partition(" ")
    if mode in MODES:
        return tool, mode, path
    return tool, "", rest


def is_dependency(key: str) -> bool:
    """A -M/-MM step: the scheduler runs these ahead of compiles."""
    return split_key(key)[1] in DEPENDENCY_MODES
