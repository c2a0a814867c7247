"""Several sources in one compile (`gcc -c a.c b.c`): one remote task per source.

gcc and clang compile each source of such a command on its own (a cc1 per source, outputs
named after each source in the current directory, a failure in one does not stop the others,
exit status 1 if any failed). So the command is the same as one command per source, run in
order: `split` makes those commands when that is exactly true, and `run` starts a runner for
each at once (each is then an ordinary one-source step: remote, checked, retried, or local),
relays their stdout/stderr in the order of the sources, and exits as the compiler would.

Only on the runner's path for such a command (the runner imports it then): builtins only.
"""

from __future__ import annotations

import os
import select
import sys

from spraycc.step import cmdline, compilers, flags


def split(argv: list[str], cwd: str, env: dict[str, str]) -> list[list[str]] | None:
    """One command per source, or None when the command is not exactly their sequence: no
    -c/-S, an -o, -MF/-MT/-MQ (one name for several files), response files, inputs that are
    not sources, two sources with the same output name, a source that is not there."""
    drv = compilers.find_driver(argv, cwd, env)
    if drv.reason or not drv.args or any(a[:1] == "@" for a in drv.args):
        return None
    if "DEPENDENCIES_OUTPUT" in env or "SUNPRO_DEPENDENCIES" in env:
        return None
    args = drv.args
    cmd = cmdline.parse(args, drv.family)
    if (not (cmd.mode_c or cmd.mode_s) or cmd.mode_e or cmd.dep_m or cmd.out is not None
            or cmd.mf is not None or cmd.mt_seen or cmd.wp_deps or len(cmd.sources) < 2
            or len(cmd.inputs) != len(cmd.sources)):
        return None
    if any(lang not in flags.KNOWN_LANGS or lang in flags.HEADERS for _, lang in cmd.sources):
        return None
    stems = [os.path.basename(p).rpartition(".")[0] or os.path.basename(p)
             for p, _ in cmd.sources]
    if len(set(stems)) != len(stems):
        return None
    if not all(os.path.isfile(os.path.join(cwd, p)) for p, _ in cmd.sources):
        return None
    positions = set(cmd.input_toks)
    head = argv[: len(argv) - len(args)]
    parts = []
    for keep in cmd.input_toks:
        parts.append([*head, *(a for i, a in enumerate(args)
                               if i == keep or i not in positions)])
    return parts


def run(parts: list[list[str]], verbose: bool, merged: bool) -> int:
    """Run a runner per part at once; relay their output in order; the compiler's status:
    0 if every part succeeded, else the highest status (1 for compile errors)."""
    me = [sys.executable, "-I", "-m", "spraycc", "run", *(["-v"] if verbose else []), "--"]
    children = []
    try:
        for part in parts:
            children.append(_Child(me + part, merged))
        statuses = _relay(children)
    except BaseException:
        for child in children:
            child.kill()
        raise
    return max(128 - s if s < 0 else s for s in statuses)


class _Child:
    """One part's runner and the pipes its stdout/stderr go to."""

    def __init__(self, argv: list[str], merged: bool) -> None:
        self.pipes: dict[int, int] = {}  # read end -> our fd it stands for
        actions: list[tuple] = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
        ends = []
        for fd in ((1,) if merged else (1, 2)):
            r, w = os.pipe()
            self.pipes[r] = fd
            ends.append(w)
            actions.append((os.POSIX_SPAWN_DUP2, w, fd))
        if merged:
            actions.append((os.POSIX_SPAWN_DUP2, ends[0], 2))
        for r in self.pipes:
            actions.append((os.POSIX_SPAWN_CLOSE, r))
        try:
            self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        finally:
            for w in ends:
                os.close(w)
        self.held: list[tuple[int, bytes]] = []
        self.status: int | None = None

    def kill(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, 15)
                _, wstatus = os.waitpid(self.pid, 0)
                self.status = os.waitstatus_to_exitcode(wstatus)
            except (ProcessLookupError, ChildProcessError):
                pass
        for r in list(self.pipes):
            os.close(r)
        self.pipes.clear()


def _relay(children: list[_Child]) -> list[int]:
    """Read every child's pipes; part k's output is written once parts before it are done
    (streamed while it is the first unfinished one)."""
    front = 0
    while front < len(children):
        fds = [r for c in children for r in c.pipes]
        if fds:
            ready, _, _ = select.select(fds, [], [], 1.0)
        else:
            ready = []
        for child_index, child in enumerate(children):
            for r in [r for r in child.pipes if r in ready]:
                data = os.read(r, 65536)
                if not data:
                    os.close(r)
                    del child.pipes[r]
                    continue
                target = child.pipes[r]
                if child_index == front:
                    _write(target, data)
                else:
                    child.held.append((target, data))
        while front < len(children) and not children[front].pipes:
            child = children[front]
            _, wstatus = os.waitpid(child.pid, 0)
            child.status = os.waitstatus_to_exitcode(wstatus)
            front += 1
            if front < len(children):
                nxt = children[front]
                for target, data in nxt.held:
                    _write(target, data)
                nxt.held.clear()
    return [c.status if c.status is not None else 1 for c in children]


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BrokenPipeError:
            return
