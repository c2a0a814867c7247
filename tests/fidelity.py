"""Run a classified command the way an executor and a runner would, and compare with local.

Test helper (not runner code), reused by the fidelity suites:

- `run_like_executor(decision, cwd, env)` does what the executor does (replace `TMP` in the
  remote argv and env by a fresh private temp dir, create the parent directory of every
  `Output.collect` there, run in `cwd` with `env` + `decision.env`) and then what the runner
  does with the result (write each collected file at `Output.path` through a temp name and a
  rename, or apply `on_missing`). Returns (exit code, stdout, stderr).
- `snapshot(dir)` maps every file below `dir` to (bytes, mode) (symlinks to their target).
- `compare_with_local(argv, files, ...)` builds a tree, runs the command through
  `classify` + `run_like_executor`, rebuilds the same tree *at the same path* (debug info
  records the working directory), runs the command directly, and returns both results.

The runner rules emulated here, which the real runner must follow too:
- an output the remote run produced replaces the target atomically; mode 0666 & ~umask, except
  that `keep_mode` outputs keep the mode of an existing target (cc1/cpp reopen .d/.s/.i files
  with fopen("w"), which keeps the mode; `as` recreates the object);
- an output it did not produce: on_missing "delete" removes an existing target, "keep" leaves it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable

from spraycc.step.classify import TMP, Decision, classify

Snapshot = dict[str, tuple[bytes, int]]

_UMASK = os.umask(0)
os.umask(_UMASK)


def run_like_executor(
    decision: Decision, cwd: str, env: dict[str, str], check_untouched: bool = False
) -> tuple[int, bytes, bytes]:
    """Run a remote decision like executor + runner; return (exit code, stdout, stderr).

    With check_untouched, raise AssertionError if the remote run itself changed anything
    under cwd (every write must go to the private temp dir).
    """
    assert decision.remote, decision.reason
    tmp = tempfile.mkdtemp(prefix="spraycc-fidelity-")
    try:
        for o in decision.outputs:
            os.makedirs(os.path.join(tmp, os.path.dirname(o.collect)), exist_ok=True)
        argv = [a.replace(TMP, tmp) for a in decision.argv]
        full_env = dict(env)
        for k, v in decision.env.items():
            if v is None:
                full_env.pop(k, None)
            else:
                full_env[k] = v.replace(TMP, tmp)
        before = snapshot(cwd) if check_untouched else None
        proc = subprocess.run(
            argv, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=120, check=False,
        )  # fmt: skip
        if before is not None:
            after = snapshot(cwd)
            if after != before:
                changed = sorted(set(after.items()) ^ set(before.items()))
                raise AssertionError(f"remote run wrote into the shared tree: {changed}")
        for o in decision.outputs:
            write_output(o, os.path.join(tmp, o.collect), os.path.join(cwd, o.path))
        return proc.returncode, proc.stdout, proc.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_output(o: object, collected: str, target: str) -> None:
    """The runner's part: place one collected file at its target, or apply on_missing."""
    if os.path.lexists(collected):
        with open(collected, "rb") as f:
            data = f.read()
        mode = 0o666 & ~_UMASK
        if getattr(o, "keep_mode", False):
            try:
                mode = os.stat(target).st_mode & 0o7777
            except FileNotFoundError:
                pass
        part = target + ".spraycc-part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(part, target)
    elif getattr(o, "on_missing", "keep") == "delete" and os.path.isfile(target):
        os.unlink(target)


def snapshot(root: str) -> Snapshot:
    """{relative path: (bytes, mode)} for every file below root (symlinks: target, 0)."""
    snap: Snapshot = {}
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                snap[rel] = (os.readlink(p).encode(), 0)
                continue
            with open(p, "rb") as f:
                snap[rel] = (f.read(), os.stat(p).st_mode & 0o7777)
    return snap


def build_tree(root: str, files: dict[str, bytes | str], modes: dict[str, int] | None = None):
    """Empty root and create `files` in it (str values are encoded as UTF-8)."""
    for name in os.listdir(root):
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        if modes and rel in modes:
            os.chmod(p, modes[rel])


# Names of the compiler's own temp files differ between any two runs (local or remote).
_TEMP_NAMES = re.compile(rb"/tmp/cc[A-Za-z0-9]{6}\.")


def normalise_stream(data: bytes) -> bytes:
    return _TEMP_NAMES.sub(b"/tmp/ccXXXXXX.", data)


class Result:
    """One side of a comparison: exit code, streams, and the tree afterwards."""

    __slots__ = ("code", "err", "out", "tree")

    def __init__(self, code: int, out: bytes, err: bytes, tree: Snapshot) -> None:
        self.code = code
        self.out = normalise_stream(out)
        self.err = normalise_stream(err)
        self.tree = tree

    def key(self) -> tuple:
        return (self.code, self.out, self.err, self.tree)


def compare_with_local(
    argv: list[str],
    files: dict[str, bytes | str],
    root: str,
    env: dict[str, str] | None = None,
    sub: str = "",
    modes: dict[str, int] | None = None,
    classify_fn: Callable[[list[str], str, dict[str, str]], Decision] = classify,
) -> tuple[Decision, Result, Result]:
    """Run argv through spraycc's remote path and directly, on identical trees at `root`.

    `sub` is the working directory relative to root. Returns (decision, remote, local).
    """
    env = dict(os.environ if env is None else env)
    cwd = os.path.join(root, sub) if sub else root
    build_tree(root, files, modes)
    decision = classify_fn(argv, cwd, env)
    assert decision.remote, f"expected a remote decision, got local: {decision.reason}"
    code, out, err = run_like_executor(decision, cwd, env, check_untouched=True)
    remote = Result(code, out, err, snapshot(root))
    build_tree(root, files, modes)
    proc = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
        check=False,
    )  # fmt: skip
    local = Result(proc.returncode, proc.stdout, proc.stderr, snapshot(root))
    return decision, remote, local


def describe_difference(remote: Result, local: Result) -> str:
    """A short human-readable account of how two results differ."""
    lines = []
    if remote.code != local.code:
        lines.append(f"exit code remote={remote.code} local={local.code}")
    if remote.out != local.out:
        lines.append(f"stdout remote={remote.out[:300]!r} local={local.out[:300]!r}")
    if remote.err != local.err:
        lines.append(f"stderr remote={remote.err[:300]!r} local={local.err[:300]!r}")
    for path in sorted(set(remote.tree) | set(local.tree)):
        r, loc = remote.tree.get(path), local.tree.get(path)
        if r == loc:
            continue
        if r is None or loc is None:
            lines.append(f"{path}: only {'local' if r is None else 'remote'}")
        elif r[1] != loc[1]:
            lines.append(f"{path}: mode remote={r[1]:o} local={loc[1]:o}")
        else:
            lines.append(f"{path}: bytes differ ({len(r[0])} vs {len(loc[0])})")
    return "; ".join(lines)
