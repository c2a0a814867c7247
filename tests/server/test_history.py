"""Tests for spraycc.server.history: the record format, merging, purge, damaged files,
and concurrent writers/compactors in separate processes (which is what happens over NFS)."""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from spraycc.server import history
from spraycc.server.history import History, encode_record, parse_record

REPO = Path(__file__).resolve().parents[2]
DAY = 86400.0
T0 = 1_700_000_000.0


class Clock:
    """A settable `now` for History."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def names(directory: Path, suffix: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(suffix))


def fresh(directory: Path, **kw: object) -> tuple[History, list[str]]:
    h = History(directory, **kw)  # type: ignore[arg-type]
    return h, h.load()


def age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


# --------------------------------------------------------------------------- records


def test_record_round_trip_and_validation() -> None:
    for key in ["g++ -c src/a.o", "tab\there", "nl\nhere", "ünïcode", "bad\udcffbyte", ""]:
        line = encode_record(key, 1234.5678, 0.125)
        assert line.endswith("\n") and line.isascii() and line.count("\n") == 1
        assert parse_record(line[:-1].encode()) == (key, 1234.5678, 0.125)
    good = encode_record("k", 1.0, 2.0)[:-1].encode()
    flipped = good.replace(b"2.0", b"3.0")

    def signed(payload: bytes) -> bytes:  # well-formed checksum around a bad payload
        return payload + b"\t%08x" % zlib.crc32(payload)

    for bad in [
        flipped,
        good[:-1],
        good + b"0",
        b"",
        b"\xff\xfe",
        b'h1\t1\t2\t"k"',
        good.replace(b"h1", b"h9"),
        signed(b'h1\t1.0\t2.0\t"a"b"'),
        signed(b'h1\t1.0\t-2.0\t"k"'),
        signed(b'h1\t1.0\tnan\t"k"'),
        signed(b"h1\t1.0\t2.0\t3"),
        signed(b'h1\t1.0\t2.0\t"k"\textra'),
        signed('h1\t1.0\t2.0\t"\u00e9"'.encode()),
    ]:
        with pytest.raises(history.BadRecord):
            parse_record(bad)


def test_record_expected_longest_and_smoothing() -> None:
    h = History(Path("/nonexistent/never-written"), now=Clock())
    assert h.expected("a") is None
    h.record("a", 10.0)
    assert h.expected("a") == 10.0
    h.record("a", 20.0)  # counts at once for later tasks of the same session, smoothed
    assert h.expected("a") == 15.0
    h.record("b", 15.0)
    h.record("c", 1.0)
    assert h.longest(2) == [("a", 15.0), ("b", 15.0)]
    assert h.longest(10) == [("a", 15.0), ("b", 15.0), ("c", 1.0)]
    assert len(h) == 3
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            h.record("a", bad)
    assert sorted(k for k, _ts, _s in h.items()) == ["a", "b", "c"]
    assert h.typical() == 15.0  # the median of 15, 15, 1
    h.record("d", 0.5)
    assert h.typical() == 8.0  # even count: the mean of the middle two (1 and 15)
    assert History(Path("/nonexistent")).typical() == 0.0
    newest = History(Path("/nonexistent"), smoothing=1.0)
    newest.record("a", 10.0)
    newest.record("a", 3.0)
    assert newest.expected("a") == 3.0


def test_default_directory() -> None:
    assert history.default_directory({"SPRAYCC_HISTORY": "/x/y"}) == Path("/x/y")
    assert history.default_directory({}) == Path.home() / ".spraycc.history"
    assert history.default_directory({"SPRAYCC_HISTORY": ""}) == Path.home() / ".spraycc.history"


# --------------------------------------------------------------------------- storage


def test_missing_directory_is_an_empty_history(tmp_path: Path) -> None:
    h, problems = fresh(tmp_path / "nope")
    assert problems == [] and len(h) == 0
    assert h.close() == []
    assert not (tmp_path / "nope").exists()  # nothing recorded, nothing created


def test_flush_then_reload_then_close_leaves_one_snapshot(tmp_path: Path) -> None:
    d = tmp_path / "hist"
    h, _ = fresh(d)
    h.record("g++ -c a.o", 3.5)
    h.record("g++ -c b.o", 1.25)
    assert not d.exists() or names(d, ".log") == []  # buffered only
    h.flush()
    assert len(names(d, ".log")) == 1
    assert (d.stat().st_mode & 0o777) == 0o700
    other, problems = fresh(d)  # another server sees the live session's log
    assert problems == []
    assert other.expected("g++ -c a.o") == 3.5
    assert h.close() == []
    assert names(d, ".log") == [] and len(names(d, ".snap")) == 1
    again, problems = fresh(d)
    assert problems == []
    assert again.longest(5) == [("g++ -c a.o", 3.5), ("g++ -c b.o", 1.25)]


@pytest.mark.parametrize("newer_closes_first", [True, False])
def test_newest_timestamp_wins_across_sessions(tmp_path: Path, newer_closes_first: bool) -> None:
    clock = Clock()
    older = History(tmp_path, now=clock)
    newer = History(tmp_path, now=clock)
    older.load()
    newer.load()
    clock.t += 10
    older.record("k", 5.0)
    clock.t += 10
    newer.record("k", 9.0)
    first, second = (newer, older) if newer_closes_first else (older, newer)
    first.close()
    second.close()  # merges the first one's snapshot with its own memory
    c, _ = fresh(tmp_path, now=clock)
    assert c.expected("k") == 9.0
    assert second.expected("k") == 9.0


def test_future_timestamps_are_clamped(tmp_path: Path) -> None:
    clock = Clock(T0)
    c = History(tmp_path, now=clock)
    c.load()  # a server that starts before the bad record exists
    ahead = History(tmp_path, now=Clock(T0 + 365 * DAY))  # a host with a wrong clock
    ahead.record("k", 100.0)
    ahead.close()
    b, _ = fresh(tmp_path, now=clock)
    assert b.expected("k") == 100.0
    b.close()  # rewrites the record with its timestamp clamped to b's now
    clock.t += 1
    c.record("k", 2.0)  # a genuinely newer measurement
    c.close()
    d, _ = fresh(tmp_path, now=clock)
    assert d.expected("k") == 2.0


def test_purge_of_old_entries(tmp_path: Path) -> None:
    clock = Clock(T0)
    h = History(tmp_path, now=clock)
    h.record("old", 1.0)
    clock.t += 100 * DAY
    h.record("middle", 2.0)
    clock.t += 100 * DAY
    h.record("new", 3.0)
    h.close()
    # 200 days after "old": default max age (183 days) drops it
    h, _ = fresh(tmp_path, now=clock)
    assert h.expected("old") is None and h.expected("middle") == 2.0
    # a shorter configured age drops more
    short, _ = fresh(tmp_path, now=clock, max_age_days=30)
    assert short.expected("middle") is None and short.expected("new") == 3.0
    # compaction purges for good: a lenient reader afterwards no longer finds them
    short.close()
    lenient, _ = fresh(tmp_path, now=clock, max_age_days=10_000)
    assert lenient.longest(10) == [("new", 3.0)]


def test_purge_in_a_long_running_session(tmp_path: Path) -> None:
    clock = Clock(T0)
    h = History(tmp_path, now=clock, max_age_days=1)
    h.record("k", 1.0)
    clock.t += 2 * DAY
    h.close()
    assert h.expected("k") is None
    assert fresh(tmp_path, now=Clock(T0))[0].expected("k") is None


def write_records(path: Path, records: list[tuple[str, float]], ts: float = T0) -> None:
    path.write_text("".join(encode_record(k, ts, s) for k, s in records))


def test_corrupt_files_are_reported_once_and_the_rest_is_loaded(tmp_path: Path) -> None:
    write_records(tmp_path / "snapshot-h-1-aa.snap", [("good1", 1.0), ("good2", 2.0)])
    (tmp_path / "garbage-1-bb.log").write_bytes(os.urandom(3000) + b"\n\x00\xff" * 50)
    bad_crc = encode_record("lost", T0, 9.0).replace("9.0", "8.0")
    truncated = encode_record("partial", T0, 7.0)[:20]
    mixed = tmp_path / "mixed-2-cc.log"
    mixed.write_text(
        encode_record("good3", T0, 3.0) + bad_crc + encode_record("good4", T0, 4.0) + truncated
    )
    broken_snap = tmp_path / "snapshot-h-3-dd.snap"
    broken_snap.write_text(encode_record("good5", T0, 5.0) + truncated)
    (tmp_path / "unrelated.txt").write_bytes(b"\xff not ours")
    (tmp_path / ".nfs000001").write_bytes(b"\xff not ours")
    for p in tmp_path.iterdir():
        age(p, 7200)  # nobody is still writing these
    h, problems = fresh(tmp_path, now=Clock(T0 + 1))
    assert len(problems) == 3, problems
    by_file = {p.split(":")[0].split("/")[-1]: p for p in problems}
    assert set(by_file) == {"garbage-1-bb.log", "mixed-2-cc.log", "snapshot-h-3-dd.snap"}
    assert "2 bad line(s)" in by_file["mixed-2-cc.log"]
    assert "bad checksum" in by_file["mixed-2-cc.log"]
    assert "truncated" in by_file["snapshot-h-3-dd.snap"]
    assert {k for k, _ in h.longest(100)} == {"good1", "good2", "good3", "good4", "good5"}
    assert h.load() == []  # the same object does not report the same file twice
    assert h.close() == []
    # compaction replaced the damaged files by a clean snapshot: the next server is quiet
    assert names(tmp_path, ".log") == []
    h2, problems = fresh(tmp_path, now=Clock(T0 + 1))
    assert problems == []
    assert len(h2) == 5
    assert (tmp_path / "unrelated.txt").exists() and (tmp_path / ".nfs000001").exists()


def test_incomplete_tail_of_a_fresh_log_is_a_write_in_progress(tmp_path: Path) -> None:
    log_path = tmp_path / "w-1-aa.log"
    log_path.write_text(encode_record("a", T0, 1.0) + encode_record("b", T0, 2.0)[:15])
    h, problems = fresh(tmp_path, now=Clock(T0))
    assert problems == [] and h.expected("a") == 1.0
    with log_path.open("a") as f:  # the writer finishes its line
        f.write(encode_record("b", T0, 2.0)[15:])
    assert h.load() == [] and h.expected("b") == 2.0


def test_unusable_directory_is_reported_not_fatal(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("an old single-file history")
    h, problems = fresh(not_a_dir)
    assert len(problems) == 1
    h.record("k", 1.0)
    h.flush()  # logs a warning, keeps the record in memory
    assert h.expected("k") == 1.0
    assert len(h.close()) == 1  # cannot write a snapshot; the directory was reported already
    assert h.load() == [] and h.close() == []
    assert not_a_dir.read_text() == "an old single-file history"


def test_failed_snapshot_deletes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_records(tmp_path / "snapshot-h-1-aa.snap", [("s", 1.0)])
    dead = tmp_path / "dead-1-bb.log"
    write_records(dead, [("d", 2.0)])
    age(dead, 7200)
    h, _ = fresh(tmp_path, now=Clock(T0))
    h.record("mine", 3.0)

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history.os, "fsync", no_space)
    assert len(h.close()) == 1
    monkeypatch.undo()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
    h2, problems = fresh(tmp_path, now=Clock(T0))
    assert problems == []
    assert {k for k, _ in h2.longest(10)} == {"s", "d", "mine"}


def test_log_claimed_under_a_live_writer_is_written_again(tmp_path: Path) -> None:
    h = History(tmp_path, now=Clock())
    h.record("first", 1.0)
    h.flush()
    (log_name,) = names(tmp_path, ".log")
    # A compactor renames (claims) the log after reading it, then deletes it after its
    # snapshot. A batch the writer appends in between must not vanish with it.
    os.rename(tmp_path / log_name, tmp_path / "claimed.tmpname")
    h.record("second", 2.0)
    h.flush()
    os.unlink(tmp_path / "claimed.tmpname")
    other, _ = fresh(tmp_path, now=Clock())
    assert other.expected("second") == 2.0
    assert names(tmp_path, ".log") != [log_name]


def test_logs_rotate_and_idle_dead_logs_are_claimed(tmp_path: Path) -> None:
    h = History(tmp_path, now=Clock(), rotate_seconds=0, grace_seconds=3600)
    h.record("a", 1.0)
    h.flush()
    h.record("b", 1.0)
    h.flush()  # rotate_seconds=0: every flush starts a new log
    assert len(names(tmp_path, ".log")) == 2
    # h "dies" without closing; one of its logs is long idle, the other recent
    first, second = names(tmp_path, ".log")
    age(tmp_path / first, 7200)
    c, _ = fresh(tmp_path, now=Clock())
    assert c.close() == []
    assert names(tmp_path, ".log") == [second]  # recent log: its writer may still be alive
    d, _ = fresh(tmp_path, now=Clock())
    assert d.expected("a") == 1.0 and d.expected("b") == 1.0


def test_stale_temporary_files_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-snapshot-x-1-aa.snap"
    stale.write_text(encode_record("half-written", T0, 1.0))
    age(stale, 7200)
    young = tmp_path / ".tmp-snapshot-x-2-bb.snap"
    young.write_text(encode_record("in-progress", T0, 1.0))
    h, _ = fresh(tmp_path, now=Clock(T0))
    assert h.expected("half-written") is None  # temp files are never read
    h.record("k", 1.0)
    h.close()
    assert not stale.exists() and young.exists()


def test_interleaved_compactions_in_one_process(tmp_path: Path) -> None:
    clock = Clock()
    seed = History(tmp_path, now=clock)
    seed.record("seed", 1.0)
    seed.close()
    a, _ = fresh(tmp_path, now=clock)
    b, _ = fresh(tmp_path, now=clock)
    a.record("a", 2.0)
    b.record("b", 3.0)
    a.flush()
    b.close()  # deletes the seed snapshot; b's snapshot holds seed, b, and a (read from a's log)
    a.record("a2", 4.0)
    a.close()  # a read the seed snapshot before it vanished, and reads b's snapshot now
    assert len(names(tmp_path, ".snap")) == 1 and names(tmp_path, ".log") == []
    c, _ = fresh(tmp_path, now=clock)
    assert {k for k, _ in c.longest(10)} == {"seed", "a", "b", "a2"}


def test_context_manager_closes(tmp_path: Path) -> None:
    with History(tmp_path) as h:
        h.load()
        h.record("k", 1.0)
    assert names(tmp_path, ".log") == [] and len(names(tmp_path, ".snap")) == 1


# --------------------------------------------------------------------------- processes

WORKER = r"""
import sys
from pathlib import Path
from spraycc.server.history import History

mode, directory, wid = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
n, rotate, grace = int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])

def make():
    h = History(directory, rotate_seconds=rotate, grace_seconds=grace)
    return h, h.load()

print("ready", flush=True)
sys.stdin.readline()  # start barrier
if mode == "hammer":
    h, problems = make()
    for i in range(n):
        h.record(f"{wid}/{i}", i + 0.25)
        if i % 3 == 2:
            h.flush()
        if i % 40 == 39:
            problems += h.close()
            h, more = make()
            problems += more
    problems += h.close()
    print("done", len(problems), *problems, flush=True)
elif mode == "compact":
    for r in range(n):
        h, _ = make()
        h.record(f"{wid}/{r}", r + 0.5)
        h.close()
    print("done", flush=True)
elif mode == "stream":  # until killed
    h, _ = make()
    i = 0
    while True:
        h.record(f"{wid}/{i}", i + 0.25)
        if i % 5 == 4:
            h.flush()
            print("flushed", i, flush=True)
        i += 1
elif mode == "unflushed":
    h, _ = make()
    for i in range(n):
        h.record(f"{wid}/{i}", 1.0)
    h.flush()
    for i in range(n, n + 10):
        h.record(f"{wid}/{i}", 1.0)
    print("unflushed", flush=True)
    sys.stdin.readline()  # wait to be killed
"""


class Child:
    """A worker process with a line reader that fails instead of blocking."""

    def __init__(self, tmp_path: Path, *args: object) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.err = (tmp_path / f"stderr-{os.urandom(4).hex()}").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            env=env,
            bufsize=0,
        )
        self.buf = b""

    def readline(self, timeout: float = 30) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                pytest.fail(f"worker {self.proc.pid} silent for {timeout}s: {self.stderr()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                pytest.fail(f"worker {self.proc.pid} exited: {self.stderr()}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            if f is not None:
                f.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[Child]]:
    children: list[Child] = []
    yield children
    for child in children:
        child.stop()


def start_together(spawn: list[Child], tmp_path: Path, *argsets: tuple[object, ...]) -> None:
    for args in argsets:
        spawn.append(Child(tmp_path, *args))
    for child in spawn:
        assert child.readline() == "ready"
    for child in spawn:
        child.go()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("rotate", "grace"), [(600, 3600), (0.002, 0.002)], ids=["defaults", "claims-everything"]
)
def test_two_processes_hammering_lose_nothing(
    tmp_path: Path, spawn: list[Child], rotate: float, grace: float
) -> None:
    # With a tiny grace every compaction claims the other writer's live logs: the hardest case
    # for the rename-then-rewrite rule.
    d = tmp_path / "hist"
    n = 1500
    start_together(spawn, tmp_path, *[("hammer", d, w, n, rotate, grace) for w in ("w0", "w1")])
    for child in spawn:
        assert child.readline(90) == "done 0"
    h, problems = fresh(d)
    assert problems == []
    missing = [(w, i) for w in ("w0", "w1") for i in range(n) if h.expected(f"{w}/{i}") != i + 0.25]
    assert missing == []
    assert len(h) == 2 * n


@pytest.mark.timeout(120)
def test_two_processes_compacting_concurrently_lose_nothing(
    tmp_path: Path, spawn: list[Child]
) -> None:
    d = tmp_path / "hist"
    expected: dict[str, float] = {}
    # Leftovers of six crashed sessions and two snapshots from earlier servers.
    for s in range(6):
        dead = History(d)
        for i in range(50):
            dead.record(f"dead{s}/{i}", float(i))
            expected[f"dead{s}/{i}"] = float(i)
        dead.flush()
    for s in range(2):
        write_records(
            d / f"snapshot-old-{s}-aa.snap",
            [(f"snap{s}/{i}", float(i)) for i in range(50)],
            ts=time.time() - 60,
        )
        expected.update({f"snap{s}/{i}": float(i) for i in range(50)})
    for p in d.iterdir():
        age(p, 7200)
    rounds = 25
    start_together(spawn, tmp_path, *[("compact", d, w, rounds, 600, 3600) for w in ("c0", "c1")])
    for child in spawn:
        assert child.readline(90) == "done"
    expected.update({f"{w}/{r}": r + 0.5 for w in ("c0", "c1") for r in range(rounds)})
    h, problems = fresh(d)
    assert problems == []
    assert {k: h.expected(k) for k in expected} == expected
    assert len(h) == len(expected)
    assert names(d, ".log") == []
    assert 1 <= len(names(d, ".snap")) <= 2
    assert not [n for n in os.listdir(d) if n.startswith(".tmp-")]


@pytest.mark.timeout(60)
def test_kill_9_mid_stream_loses_only_unflushed_records(tmp_path: Path, spawn: list[Child]) -> None:
    d = tmp_path / "hist"
    start_together(spawn, tmp_path, ("stream", d, "k", 0, 600, 3600))
    (child,) = spawn
    last = -1
    while last < 500:
        word, i = child.readline().split()
        assert word == "flushed"
        last = int(i)
    os.kill(child.proc.pid, signal.SIGKILL)  # while it keeps recording and flushing
    child.proc.wait(timeout=10)
    h, problems = fresh(d)
    assert problems == []
    assert [i for i in range(last + 1) if h.expected(f"k/{i}") != i + 0.25] == []


@pytest.mark.timeout(60)
def test_kill_9_loses_exactly_the_unflushed_records(tmp_path: Path, spawn: list[Child]) -> None:
    d = tmp_path / "hist"
    start_together(spawn, tmp_path, ("unflushed", d, "u", 100, 600, 3600))
    (child,) = spawn
    assert child.readline() == "unflushed"
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait(timeout=10)
    h, problems = fresh(d)
    assert problems == []
    assert {k for k, _ in h.longest(1000)} == {f"u/{i}" for i in range(100)}


@pytest.mark.parametrize("key", ["gcc -c a.c", "", 'say "hi"', "back\\slash", "tab\there",
                                 "del\x7f", "caf\xe9", "\u2603 snow", "nul\x00", "a/b c.o"])
def test_record_lines_quote_keys_as_json_does(key: str) -> None:
    payload = f"h1\t{T0!r}\t{1.5!r}\t{json.dumps(key)}"
    line = f"{payload}\t{zlib.crc32(payload.encode('ascii')):08x}\n"
    assert encode_record(key, T0, 1.5) == line
    assert parse_record(line[:-1].encode()) == (key, T0, 1.5)
