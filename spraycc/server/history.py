"""Task-duration history: storage and look-up for longest-first scheduling.

Role: a shared leaf module (docs/history.md). Task keys are made by the runner with
`spraycc.step.taskkey` (the one definition of a key); this module stores them as opaque strings.
The server asks `History.expected` for a task's priority, calls `History.record` for every
successful task, `History.flush` every couple of seconds, and `History.close` on exit.
`spraycc history` only calls `load`, `longest` and `items`. Nothing here is on the runner's
start-up path.

Storage (full description and the NFS argument in docs/history.md): a directory, by default
`~/.spraycc.history/`, overridable with `$SPRAYCC_HISTORY`. It holds
- session logs `<host>-<pid>-<random>.log`: each written by exactly one process, append only,
  rotated every `rotate_seconds`;
- snapshots `snapshot-<host>-<pid>-<random>.snap`: immutable, written under a `.tmp-` name,
  fsynced and renamed into place by compaction.
Every line is one self-checking record: `h1 TAB ts TAB seconds TAB json(key) TAB crc32`.
Merging is last-writer-wins per key (largest timestamp), which is idempotent and
order-independent, so reading a record twice, or from two files, never skews anything. No file
locks are used: a file is deleted only by a process whose durable snapshot already holds (or
supersedes) every record in it.

Not thread-safe: one History per server, used from its poll loop.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import math
import os
import secrets
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "SPRAYCC_HISTORY"
DEFAULT_DIRNAME = ".spraycc.history"
FORMAT_TAG = "h1"
LOG_SUFFIX = ".log"
SNAP_PREFIX = "snapshot-"
SNAP_SUFFIX = ".snap"
TMP_PREFIX = ".tmp-"
DAY = 86400.0
# A history of ~100k tasks is a few MB; anything far larger is not ours and is not slurped.
MAX_FILE_BYTES = 64 << 20
# A snapshot takes well under a second to write; a temp file this old was abandoned.
STALE_TEMP_SECONDS = 3600.0

_LOG = "log"
_SNAP = "snap"


def default_directory(environ: Mapping[str, str] | None = None) -> Path:
    """`$SPRAYCC_HISTORY` if set and non-empty, else `~/.spraycc.history`."""
    env = os.environ if environ is None else environ
    override = env.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path.home() / DEFAULT_DIRNAME


# --------------------------------------------------------------------------- records


class BadRecord(ValueError):
    """A history line failed validation; the reader skips it and reports the file once."""


def encode_record(key: str, ts: float, seconds: float) -> str:
    """One record line. ASCII only (json escapes the rest), so a byte flip is always caught."""
    # json leaves printable ASCII other than " and \ as it is: quote it without json (the
    # server encodes a record for every successful task).
    plain = key.isascii() and key.isprintable() and '"' not in key and "\\" not in key
    quoted = f'"{key}"' if plain else json.dumps(key)
    payload = f"{FORMAT_TAG}\t{ts!r}\t{seconds!r}\t{quoted}"
    return f"{payload}\t{zlib.crc32(payload.encode('ascii')):08x}\n"


def parse_record(line: bytes) -> tuple[str, float, float]:
    """(key, timestamp, seconds) from one line without its newline; raises BadRecord."""
    cut = line.rfind(b"\t")
    crc = line[cut + 1 :]
    if cut < 0 or len(crc) != 8 or crc.strip(b"0123456789abcdef"):
        raise BadRecord("malformed")
    if zlib.crc32(line[:cut]) != int(crc, 16):
        raise BadRecord("bad checksum")
    try:
        fields = line[:cut].decode("ascii").split("\t")
    except UnicodeDecodeError:
        raise BadRecord("not ASCII") from None
    if len(fields) != 4 or fields[0] != FORMAT_TAG:
        raise BadRecord("unknown format")
    try:
        ts = float(fields[1])
        seconds = float(fields[2])
        raw = fields[3]
        # json.dumps escapes every quote, backslash and non-ASCII character, so a key with
        # neither inside its quotes is its quoted text: skip the JSON parser for that case.
        inner = raw[1:-1]
        if len(raw) >= 2 and raw[0] == raw[-1] == '"' and "\\" not in inner and '"' not in inner:
            key = inner
        else:
            key = json.loads(raw)
    except ValueError:
        raise BadRecord("bad field") from None
    if not (isinstance(key, str) and math.isfinite(ts) and math.isfinite(seconds)) or seconds < 0:
        raise BadRecord("bad value")
    return key, ts, seconds


def _kind(name: str) -> str | None:
    # Dot files are ours in progress (.tmp-) or NFS silly-renames (.nfsXXXX): never read.
    if name.startswith("."):
        return None
    if name.endswith(SNAP_SUFFIX) and name.startswith(SNAP_PREFIX):
        return _SNAP
    if name.endswith(LOG_SUFFIX):
        return _LOG
    return None


def _host_tag() -> str:
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in os.uname().nodename)
    return name.lstrip(".")[:64] or "host"


class _Seen:
    """What this process has read of one file, so re-reads are incremental and deletes safe."""

    __slots__ = ("kind", "lines", "offset", "reported", "size", "whole")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.offset = 0  # bytes through the last complete line (all merged)
        self.size = 0  # bytes seen, including an incomplete tail
        self.lines = 0
        self.reported = False
        self.whole = False  # every byte there at the last read was merged (or was damage)


# --------------------------------------------------------------------------- the store


class History:
    """Per-user durations of successful tasks, shared by concurrent servers through files."""

    def __init__(
        self,
        directory: Path,
        *,
        max_age_days: float = 183,
        smoothing: float = 0.5,
        rotate_seconds: float = 600,
        grace_seconds: float = 3600,
        now: Callable[[], float] = time.time,
    ) -> None:
        """`smoothing` weights a new duration against the known one (1 = newest only).

        A log file is appended to for at most `rotate_seconds`; another process claims it only
        after `grace_seconds` without a write. The gap absorbs clock skew between NFS hosts.
        `now` stamps records and ages entries; file ages always use the real clock.
        """
        if not 0 < smoothing <= 1:
            raise ValueError("smoothing must be in (0, 1]")
        if grace_seconds < rotate_seconds:
            raise ValueError("grace_seconds must not be shorter than rotate_seconds")
        self.directory = Path(directory)
        self._dir = str(self.directory)
        self._max_age = max_age_days * DAY
        self._alpha = smoothing
        self._rotate = rotate_seconds
        self._grace = grace_seconds
        self._now = now
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (timestamp, seconds)
        self._files: dict[str, _Seen] = {}  # other processes' files we have merged
        self._buffer: list[str] = []  # encoded records not yet written
        self._fd: int | None = None
        self._log_name = ""
        self._log_opened = 0.0
        self._own_logs: set[str] = set()
        self._host = _host_tag()
        self._warned: set[str] = set()

    # ---- look-up

    def expected(self, key: str) -> float | None:
        """Expected duration in seconds, or None for a step never seen (or purged)."""
        entry = self._entries.get(key)
        return None if entry is None else entry[1]

    def longest(self, n: int) -> list[tuple[str, float]]:
        """The n longest known steps, longest first (ties by key, so output is stable)."""
        best = heapq.nsmallest(n, self._entries.items(), key=lambda kv: (-kv[1][1], kv[0]))
        return [(key, entry[1]) for key, entry in best]

    def items(self) -> list[tuple[str, float, float]]:
        """Every known step as (key, unix time of its last measurement, seconds)."""
        return [(key, ts, seconds) for key, (ts, seconds) in self._entries.items()]

    def typical(self) -> float:
        """The median known duration (0 with no history): the scheduler's guess for a step it
        has never seen. The median, not the mean, so a few huge steps do not inflate it."""
        if not self._entries:
            return 0.0
        values = sorted(entry[1] for entry in self._entries.values())
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    def __len__(self) -> int:
        return len(self._entries)

    # ---- updates

    def record(self, key: str, seconds: float) -> None:
        """Learn a successful task's duration; visible to expected() at once, written at flush."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"bad duration {seconds!r}")
        ts = self._now()
        old = self._entries.get(key)
        if old is not None:
            # Smooth out one slow host; a real change still dominates after two builds.
            seconds = old[1] + self._alpha * (seconds - old[1])
            ts = max(ts, old[0])  # a clock step back must not let the old value win a merge
        self._entries[key] = (ts, seconds)
        self._buffer.append(encode_record(key, ts, seconds))

    def flush(self) -> None:
        """Append buffered records to this session's log. I/O errors are logged, never raised.

        One os.write per batch of whole lines: a kill -9 cannot leave half a batch behind,
        and the kernel (or the NFS client) still writes what was handed over. No fsync: a
        host crash may lose the last seconds, which costs nothing but a little ordering.
        """
        if not self._buffer:
            return
        data = "".join(self._buffer).encode("ascii")
        for _attempt in range(4):
            try:
                fd = self._fd
                if fd is None or time.time() - self._log_opened > self._rotate:
                    fd = self._open_log()
                _write_all(fd, data)
                if self._log_still_ours(fd):
                    self._buffer.clear()
                    return
                # Another process claimed the file; it may or may not have read this batch.
                # Records merge idempotently, so just write the batch again to a fresh log.
                self._drop_log()
            except OSError as exc:
                # After a failed or short write the file may end in half a line: never append
                # after it. Keep the batch for the next flush.
                self._drop_log()
                self._warn_once("write", "cannot write history log in %s: %s", self._dir, exc)
                return
        self._warn_once("claimed", "history logs in %s keep disappearing", self._dir)

    def close(self) -> list[str]:
        """Flush and compact; returns problems not reported before. Safe to call twice."""
        self.flush()
        problems = self.compact()
        self._drop_log()
        return problems

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading

    def load(self) -> list[str]:
        """Merge every history file into memory; returns one message per damaged file.

        Damaged lines are skipped and the rest is used. A missing directory is an empty
        history, not a problem. Each file is reported once per History object, and compaction
        deletes merged files, so the same damage is not reported by the next server either.
        """
        problems = self._scan()
        self._purge()
        return problems

    def _scan(self) -> list[str]:
        problems: list[str] = []
        # A compactor may delete a file between our listing and our open (its contents are then
        # in a snapshot we did not list): list again, a few times, until nothing vanishes.
        for _round in range(4):
            try:
                with os.scandir(self._dir) as it:
                    names = [e.name for e in it]
            except FileNotFoundError:
                return problems
            except OSError as exc:
                if "directory" not in self._warned:  # once, like a damaged file
                    self._warned.add("directory")
                    problems.append(f"history directory {self._dir}: {exc}")
                return problems
            vanished = False
            for name in names:
                kind = _kind(name)
                if kind is None or name in self._own_logs:
                    continue  # our own records are in memory already
                seen = self._files.get(name)
                if seen is not None and seen.kind == _SNAP and seen.whole:
                    continue  # snapshots are immutable
                if not self._read(name, kind, problems):
                    vanished = True
            present = set(names)
            for name in [n for n in self._files if n not in present]:
                del self._files[name]
            if not vanished:
                break
        return problems

    def _read(self, name: str, kind: str, problems: list[str]) -> bool:
        """Merge the unread part of one file; False if it vanished."""
        path = os.path.join(self._dir, name)
        seen = self._files.get(name) or _Seen(kind)
        try:
            with open(path, "rb") as f:
                info = os.fstat(f.fileno())
                if info.st_size > MAX_FILE_BYTES:
                    if not seen.reported:
                        problems.append(f"history file {path}: {info.st_size} bytes, ignored")
                        seen.reported = True
                    seen.whole = False  # never merged, so never deleted
                    self._files[name] = seen
                    return True
                if info.st_size < seen.size:
                    seen = _Seen(kind)  # cannot happen to an append-only file: start over
                f.seek(seen.offset)
                data = f.read()
        except FileNotFoundError:
            return False
        except OSError as exc:
            if not seen.reported:
                problems.append(f"history file {path}: {exc}")
                seen.reported = True
            seen.whole = False
            self._files[name] = seen
            return True
        end = data.rfind(b"\n") + 1
        bad = 0
        first = ""
        now = self._now()
        oldest = now - self._max_age
        entries = self._entries
        for raw in data[:end].split(b"\n")[:-1]:
            seen.lines += 1
            try:
                key, ts, seconds = parse_record(raw)
            except BadRecord as exc:
                bad += 1
                first = first or f"line {seen.lines}: {exc}"
                continue
            # A host whose clock runs ahead must not pin its value until that date comes.
            ts = min(ts, now)
            if ts < oldest:
                continue
            # Last writer wins, ties broken by value: the same answer in any order, any number
            # of times. That is what lets files be read twice and deleted late without locks.
            old = entries.get(key)
            if old is None or (ts, seconds) > old:
                entries[key] = (ts, seconds)
        seen.offset += end
        seen.size = seen.offset + len(data) - end
        seen.whole = True
        # An incomplete last line in a fresh log is a write in progress, not damage. A snapshot
        # is complete by construction, and an old log will never be finished.
        if end < len(data) and (kind == _SNAP or time.time() - info.st_mtime > self._grace):
            bad += 1
            first = first or f"line {seen.lines + 1}: truncated"
        if bad and not seen.reported:
            problems.append(f"history file {path}: skipped {bad} bad line(s) ({first})")
            seen.reported = True
        self._files[name] = seen
        return True

    def _purge(self) -> None:
        cutoff = self._now() - self._max_age
        for key in [k for k, (ts, _s) in self._entries.items() if ts < cutoff]:
            del self._entries[key]

    # ---- compaction

    def compact(self) -> list[str]:
        """Merge every file into one new snapshot, then delete what the snapshot holds.

        Safe with any number of concurrent compactors on any hosts: a process deletes only
        files it has fully merged into a snapshot it has already durably renamed into place.
        Two compactors may leave two snapshots; the next compaction merges them.
        """
        problems = self._scan()
        claimed = self._claim_idle_logs(problems)
        self._purge()
        try:
            snapshot = self._write_snapshot() if self._entries else None
        except OSError as exc:
            # Claimed logs keep a .log name, so nothing is lost: the next load reads them.
            if "snapshot" not in self._warned:
                self._warned.add("snapshot")
                problems.append(f"history directory {self._dir}: cannot write snapshot: {exc}")
            return problems
        self._buffer.clear()  # everything buffered is in the snapshot now
        self._drop_log()
        doomed = [n for n, s in self._files.items() if s.kind == _SNAP and s.whole]
        for name in [*doomed, *claimed, *self._own_logs]:
            _unlink(os.path.join(self._dir, name))
            self._files.pop(name, None)
        self._own_logs.clear()
        if snapshot is not None:
            self._files[snapshot[0]] = snapshot[1]
        self._remove_stale_temps()
        return problems

    def _claim_idle_logs(self, problems: list[str]) -> list[str]:
        """Rename other processes' idle logs to our own names, then read them to the end.

        After the rename their writer's post-write check fails and it rewrites its batch to a
        new log, so a record that lands after our final read is never lost. Records that landed
        before it are merged here. The claimed name still ends in .log: if we die before our
        snapshot exists, the next reader simply reads it as a log.
        """
        claimed: list[str] = []
        wall = time.time()
        for name, seen in list(self._files.items()):
            if seen.kind != _LOG or not seen.whole:
                continue
            path = os.path.join(self._dir, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            if info.st_size != seen.size or wall - info.st_mtime <= self._grace:
                continue  # still being written, or might be
            new = f"claimed-{self._host}-{os.getpid()}-{secrets.token_hex(4)}{LOG_SUFFIX}"
            try:
                os.rename(path, os.path.join(self._dir, new))
            except OSError:
                continue  # another compactor got it first; it will merge it
            del self._files[name]
            self._files[new] = seen
            # Only a claimed log we read to its end may go; else it stays, a log like any other.
            if self._read(new, _LOG, problems) and seen.whole:
                claimed.append(new)
        return claimed

    def _write_snapshot(self) -> tuple[str, _Seen]:
        name = f"{SNAP_PREFIX}{self._host}-{os.getpid()}-{secrets.token_hex(6)}{SNAP_SUFFIX}"
        tmp = os.path.join(self._dir, TMP_PREFIX + name)
        data = "".join(
            encode_record(key, ts, seconds) for key, (ts, seconds) in sorted(self._entries.items())
        ).encode("ascii")
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                _write_all(fd, data)
                # The rename must not become visible before the data: otherwise a crash leaves
                # an empty snapshot after we deleted the files it replaced.
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, os.path.join(self._dir, name))
        except OSError:
            _unlink(tmp)
            raise
        _fsync_dir(self._dir)
        seen = _Seen(_SNAP)
        seen.offset = seen.size = len(data)
        seen.lines = len(self._entries)
        return name, seen

    def _remove_stale_temps(self) -> None:
        # A compactor killed between create and rename leaves a .tmp- file; its data is still
        # in the files it was merging, so the temp is garbage once clearly abandoned. Not tied
        # to grace_seconds: a live compactor's temp must never go, however small that is.
        wall = time.time()
        try:
            with os.scandir(self._dir) as it:
                for entry in it:
                    if entry.name.startswith(TMP_PREFIX):
                        try:
                            if wall - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                                _unlink(entry.path)
                        except OSError:
                            pass
        except OSError:
            pass

    # ---- this session's log

    def _open_log(self) -> int:
        self._drop_log()
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        name = f"{self._host}-{os.getpid()}-{secrets.token_hex(6)}{LOG_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        self._fd = fd = os.open(os.path.join(self._dir, name), flags, 0o600)
        self._log_name = name
        self._log_opened = time.time()
        self._own_logs.add(name)
        return fd

    def _log_still_ours(self, fd: int) -> bool:
        try:
            here = os.stat(os.path.join(self._dir, self._log_name))
            mine = os.fstat(fd)
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)

    def _drop_log(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _warn_once(self, what: str, msg: str, *args: object) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning(msg, *args)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # a concurrent compactor removed it; it had merged it too
    except OSError as exc:
        log.debug("cannot remove %s: %s", path, exc)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)
