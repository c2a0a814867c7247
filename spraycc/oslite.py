"""`os` and `os.path` stand-ins for the runner's waiting path, on the builtin `posix` module.

A runner started by the `spraycc-run` launcher (`python -I -S`) has not loaded `os`: importing
it loads `_collections_abc` (two dozen abstract classes) and builds `os.environ`, ~180 kB of
private memory in each of the thousand runners a `make -j1000` keeps waiting (docs/usage.md,
"Waiting runners"). `posix` has every system call the runner makes (`os` re-exports them), so
this module adds only the pure helpers, each doing what its `os`/`os.path` namesake does on
Linux for str paths. A function the waiting path does not reach may still import `os`.
Builtins only.
"""

from __future__ import annotations

import posix
import sys
from _stat import S_ISREG

# The environment as bytes, os.environb's source (a runner never changes its environment).
environb = posix.environ
_ENCODING = sys.getfilesystemencoding()
_ERRORS = sys.getfilesystemencodeerrors()


def fsencode(name: str | bytes) -> bytes:
    """os.fsencode."""
    return name if isinstance(name, bytes) else name.encode(_ENCODING, _ERRORS)


def fsdecode(name: str | bytes) -> str:
    """os.fsdecode."""
    return name.decode(_ENCODING, _ERRORS) if isinstance(name, bytes) else name


def getenv(key: str) -> str | None:
    """os.environ.get(key)."""
    value = environb.get(fsencode(key))
    return None if value is None else fsdecode(value)


def getenv_or(key: str, default: str) -> str:
    """os.environ.get(key, default)."""
    value = getenv(key)
    return default if value is None else value


def environ() -> dict[str, str]:
    """dict(os.environ): a copy of the environment as str."""
    return {fsdecode(k): fsdecode(v) for k, v in environb.items()}


def basename(path: str) -> str:
    """os.path.basename."""
    return path[path.rfind("/") + 1:]


def split(path: str) -> tuple[str, str]:
    """os.path.split."""
    i = path.rfind("/") + 1
    head, tail = path[:i], path[i:]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head, tail


def dirname(path: str) -> str:
    """os.path.dirname."""
    return split(path)[0]


def join(a: str, *parts: str) -> str:
    """os.path.join."""
    path = a
    for b in parts:
        if b.startswith("/"):
            path = b
        elif not path or path.endswith("/"):
            path += b
        else:
            path += "/" + b
    return path


def normpath(path: str) -> str:
    """os.path.normpath."""
    if not path:
        return "."
    initial = 1 if path.startswith("/") else 0
    if initial and path.startswith("//") and not path.startswith("///"):
        initial = 2  # POSIX leaves the meaning of exactly two leading slashes open
    new: list[str] = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        if comp != ".." or (not initial and not new) or (new and new[-1] == ".."):
            new.append(comp)
        elif new:
            new.pop()
    out = "/" * initial + "/".join(new)
    return out or "."


def abspath(path: str) -> str:
    """os.path.abspath."""
    return normpath(path if path.startswith("/") else join(posix.getcwd(), path))


def isfile(path: str) -> bool:
    """os.path.isfile."""
    try:
        return S_ISREG(posix.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def realpath(path: str) -> str:
    """os.path.realpath; the current directory as getcwd() gives it is real already, so
    resolving it needs no `os`."""
    if path == posix.getcwd():
        return path
    import os.path  # only for another start than the current directory

    return os.path.realpath(path)
