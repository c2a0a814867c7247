"""Masquerade mode: spraycc invoked under a compiler's name (a symlink `gcc -> spraycc` in a
directory put first on PATH, made by `spraycc init --masquerade DIR`) behaves as
`spraycc run gcc ARGS...`, so a build can go through spraycc without being edited.

The real compiler is the next one on PATH. To find it, and to make sure nothing below us (the
classifier, the local exec, ccache's own PATH search, a remote executor) ever lands on a
masquerade link again, every PATH entry that is the masquerade directory, or that holds a link
of that name to this same spraycc, is removed from PATH before the runner starts. The variable
GUARD records that this happened: if spraycc is invoked under a compiler name while GUARD is
set (a wrapper restored PATH, say), it runs the real compiler directly and never recurses.

Runner-path module (once per compile in masquerade mode): builtins only.
"""

from __future__ import annotations

import os

# `spraycc-run CMD...` is `spraycc run CMD...` in one word, for launchers that take a single
# program, such as ccache's CCACHE_PREFIX (each of its words must be an executable).
RUN_NAME = "spraycc-run"

NAMES = ("gcc", "g++", "cc", "c++", "clang", "clang++")  # the links `init --masquerade` makes
GUARD = "SPRAYCC_MASQUERADE_DIR"


def compiler_name(argv0: str) -> str | None:
    """The compiler name spraycc was invoked as, or None for a plain `spraycc`."""
    name = os.path.basename(argv0)
    if name in NAMES:
        return name
    if name in ("spraycc", "__main__.py") or not name:
        return None
    from spraycc.step.classify import compiler_family  # runner-path module, cheap

    return name if compiler_family(name) is not None else None


def _is_masquerade(entry: str, name: str, masq_dir: str, self_real: str) -> bool:
    d = entry or "."
    if os.path.realpath(d) == masq_dir:
        return True
    candidate = os.path.join(d, name)
    return os.path.islink(candidate) and os.path.realpath(candidate) == self_real


def clean_path(path: str, name: str, masq_dir: str, self_real: str) -> str:
    """PATH without the masquerade directory and other directories that lead back to us."""
    return os.pathsep.join(
        e for e in path.split(os.pathsep) if not _is_masquerade(e, name, masq_dir, self_real)
    )


def find_real(name: str, path: str, self_real: str) -> str | None:
    """The first executable `name` on `path` that is not this spraycc."""
    for entry in path.split(os.pathsep):
        candidate = os.path.join(entry or ".", name)
        if (os.path.isfile(candidate) and os.access(candidate, os.X_OK)
                and os.path.realpath(candidate) != self_real):
            return candidate
    return None


def main(argv0: str, name: str, args: list[str]) -> int:
    """Run `name ARGS...` through the runner (or directly, when nested). Returns the status."""
    self_real = os.path.realpath(argv0)
    masq_dir = os.path.realpath(os.path.dirname(os.path.abspath(argv0)))
    nested = bool(os.environ.get(GUARD))
    path = clean_path(os.environ.get("PATH", os.defpath), name, masq_dir, self_real)
    os.environ["PATH"] = path
    os.environ[GUARD] = masq_dir
    if find_real(name, path, self_real) is None:
        os.write(2, f"spraycc: {name}: no real compiler found on PATH after the masquerade "
                    f"directory {masq_dir}\n".encode(errors="surrogateescape"))
        return 127
    if nested:
        # Something below a masqueraded step called `name` again: run the compiler itself.
        real = find_real(name, path, self_real)
        assert real is not None
        try:
            os.execv(real, [name, *args])
        except OSError as exc:
            os.write(2, f"spraycc: {real}: {exc.strerror}\n".encode(errors="surrogateescape"))
            return 126
    from spraycc.runner import main as run

    return run(["--", name, *args])
