"""Inputs checked, not trusted: what a remote step read, as the executor saw it and as we see it.

A cluster host's view of the shared filesystem can be stale (NFS attribute and negative-lookup
caches are per host): it may read an older copy of a header this host just generated, not see
it at all, or find a header of the same name in a later -I directory. So the executor reports
the identity (size, mtime_ns) of every input the step read, taken from the dependency file the
step writes (or one it asks the compiler for on the side), and the runner compares it with its
own view before it accepts the result (docs/usage.md, "Inputs are checked").

Three halves, one module: `read_deps` + `identities` run on the executor, `compare` and
`missing_name` on the runner, which imports this module once per compile: builtins only.
"""

from __future__ import annotations

import os

# Read-only toolchain directories skipped by default (system headers, the compiler's own).
DEFAULT_READONLY = ("/usr/", "/lib/", "/lib64/")
# A same-named header in an earlier include directory counts as stale only when it changed
# this recently before the step was submitted: a file older than any NFS cache (acdirmax is
# 60 s by default) was visible to the executor, so the compiler chose the later one on purpose
# (#include_next, or a quote include found beside its includer).
SHADOW_WINDOW = 120.0


# ------------------------------------------------------------------------------ executor

def read_deps(data: bytes) -> list[bytes]:
    """The prerequisites named in a make-style dependency file (gcc/clang -MD output), in
    order, without duplicates. Targets (words ending in ':') and -MP's phony rules are skipped;
    escapes are undone as make reads them (`\\ ` a space, `\\#` a hash, `$$` a dollar)."""
    names: list[bytes] = []
    seen: set[bytes] = set()
    for line in data.replace(b"\\\n", b" ").replace(b"\\\r\n", b" ").split(b"\n"):
        words = _words(line)
        colon = next((i for i, w in enumerate(words) if w.endswith(b":")), -1)
        if colon < 0:
            continue
        for w in words[colon + 1:]:
            if w and w not in seen:
                seen.add(w)
                names.append(w)
    return names


def _words(line: bytes) -> list[bytes]:
    words: list[bytes] = []
    cur = bytearray()
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == 0x5C and i + 1 < n and line[i + 1] in b" #\t":  # backslash escape
            cur.append(line[i + 1])
            i += 2
            continue
        if c == 0x24 and i + 1 < n and line[i + 1] == 0x24:  # $$
            cur.append(0x24)
            i += 2
            continue
        if c in b" \t\r":
            if cur:
                words.append(bytes(cur))
                cur.clear()
        else:
            cur.append(c)
        i += 1
    if cur:
        words.append(bytes(cur))
    # "target :" (a lone colon) belongs to the word before it
    out: list[bytes] = []
    for w in words:
        if w == b":" and out:
            out[-1] += b":"
        else:
            out.append(w)
    return out


def identities(names: list[bytes], cwd: bytes, skip: list[bytes]) -> list[list[object]]:
    """[path, size, mtime_ns] of each name not under a `skip` prefix, as this host sees it
    (size -1: not there). Paths stay as the dependency file spells them."""
    out: list[list[object]] = []
    for name in names:
        full = name if name[:1] == b"/" else os.path.join(cwd, name)
        if skip and os.path.normpath(full).startswith(tuple(skip)):
            continue
        try:
            st = os.stat(full)
        except OSError:
            out.append([name, -1, 0])
            continue
        out.append([name, st.st_size, st.st_mtime_ns])
    return out


# -------------------------------------------------------------------------------- runner

def describe(size: int, mtime_ns: int) -> str:
    if size < 0:
        return "absent"
    return f"size {size}, mtime {mtime_ns / 1e9:.6f}"


def compare(entries: list, cwd: str, incdirs: list[str], since: float) -> tuple[str, str] | None:
    """The first input the executor saw differently from us, as (path, detail), or None.

    `entries` come from INPUTS ([path, size, mtime_ns]); `incdirs` are the step's include
    directories in search order; `since` is the wall-clock time the step was submitted. Also
    caught: an input found in a later include directory while an earlier one holds a file of
    that name that is new here (see SHADOW_WINDOW)."""
    stat = os.stat
    join = os.path.join
    for entry in entries:
        if type(entry) is not list or len(entry) != 3:
            continue
        raw, size, mtime = entry
        if type(raw) is not bytes or type(size) is not int or type(mtime) is not int:
            continue
        path = os.fsdecode(raw)
        try:
            st = stat(join(cwd, path))
            ours = (st.st_size, st.st_mtime_ns)
        except OSError:
            ours = (-1, 0)
        if ours[0] != size or (size >= 0 and ours[1] != mtime):
            return path, (f"the executor saw {describe(size, mtime)}, this host "
                          f"{describe(*ours)}")
        if len(incdirs) > 1 and size >= 0:
            shadow = _shadowed(path, cwd, incdirs, since)
            if shadow:
                return shadow, (f"the executor read {path} instead (an earlier include "
                                f"directory holds {shadow}, new here)")
    return None


def _shadowed(path: str, cwd: str, incdirs: list[str], since: float) -> str:
    for k, d in enumerate(incdirs):
        prefix = d if d.endswith("/") else d + "/"
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix):]
        for earlier in incdirs[:k]:
            cand = os.path.join(earlier, rel)
            try:
                st = os.stat(os.path.join(cwd, cand))
            except OSError:
                continue
            if max(st.st_mtime, st.st_ctime) >= since - SHADOW_WINDOW:
                return cand
        return ""
    return ""


# What gcc and clang print when a file they were asked for (a source, an include) is missing.
_MISSING = (
    (b": No such file or directory", b"error: "),  # gcc: "... fatal error: gen.h: No such..."
    (b"' file not found", b"error: '"),  # clang: "fatal error: 'gen.h' file not found"
)


def missing_name(stderr: bytes, cwd: str, incdirs: list[str]) -> str:
    """A file a failed remote step reported missing that exists here ("" if none): the step
    then failed only because the executor's view was stale."""
    for line in stderr.split(b"\n"):
        for tail, head in _MISSING:
            end = line.find(tail)
            if end < 0:
                continue
            start = line.rfind(head, 0, end)
            if start < 0:
                continue
            name = os.fsdecode(line[start + len(head):end])
            if not name or name.startswith("opening "):
                continue
            where = line[:start].split(b":", 1)[0]  # the includer, "src/a.c:1:10: fatal ..."
            bases = ["", *incdirs]
            if where and not where.startswith((b"cc1", b"gcc", b"clang", b"g++")):
                bases.insert(1, os.path.dirname(os.fsdecode(where)))
            for base in bases:
                cand = os.path.join(base, name)
                if os.path.exists(os.path.join(cwd, cand)):
                    return cand
    return ""
