"""The wire protocol: every record round-trips, and no byte string can crash the decoder."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest

from spraycc.errors import ProtocolError, VersionMismatch
from spraycc.wire import minipack
from spraycc.wire import protocol as p

SAMPLES = [
    p.Ready("code", "host1", 42, "local-1"),
    p.Submit("code", b"gcc -c obj/caf\xe9.o", p.FLAG_RETRY_SAFE, b"obj/caf\xe9.o"),
    p.Accepted(7, 3),
    p.Task(7, 2),
    p.Output(7, 2, 1),
    p.File(7, 2, 0, 0o644, True),
    p.Result(7, 2, -9, 1.25, "host1", ""),
    p.Credit(7, 2, 8),
    p.Retry(7, 3, "executor lost"),
    p.Cancel(0),
    p.Fail("no executors", True),
    p.Local("code", b"ld"),
    p.Grant(2),
    p.Done(0, 0.5),
    p.Heartbeat(),
    p.Refuse("wrong access code"),
    p.Disconnect("released"),
    p.Status("code"),
    p.Snapshot(),
    p.Stop("code", False),
    p.Inputs(1, 2, 3),
    p.Stale("code", "node1", b"gen\xff.h", "size 1 vs 2"),
]


def test_every_command_has_a_sample() -> None:
    assert {type(m) for m in SAMPLES} == set(p.RECORDS.values())
    assert set(p.RECORDS) == {v for k, v in vars(p.Cmd).items() if not k.startswith("_")}


def test_a_runner_loads_only_its_own_records() -> None:
    # The runner imports `messages`, not `protocol`: the server's and executor's records and
    # the spec stay out of every waiting runner; with `protocol` loaded, decode knows them all.
    code = ("import sys; from spraycc.wire import messages as m; "
            "print(sorted(c.__name__ for c in m.RECORDS.values()), 'spraycc.wire.protocol' in "
            "sys.modules)")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         timeout=60, check=True, cwd=Path(__file__).resolve().parents[2])
    server_only = {"Ready", "Task", "Status", "Snapshot", "Stop"}
    runner = sorted(c.__name__ for c in p.RECORDS.values() if c.__name__ not in server_only)
    assert out.stdout.strip() == f"{runner} False"
    with pytest.raises(ProtocolError, match="unknown command"):
        ready = p.RECORDS.pop(p.Cmd.READY)
        try:
            p.decode(p.encode(p.Ready("c", "h", 1, "l")))
        finally:
            p.RECORDS[p.Cmd.READY] = ready


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_and_msgpack_compatible(msg: p.Message) -> None:
    frame = p.encode(msg)
    assert p.decode(frame) == msg
    # The header is plain msgpack: the C library reads it the same way.
    head = msgpack.unpackb(frame)
    assert head[:2] == [p.VERSION, msg.CMD]
    assert head[2:] == [getattr(msg, f) for f in msg.FIELDS]


def test_wrong_version_is_a_version_mismatch() -> None:
    frame = msgpack.packb([p.VERSION + 1, p.Cmd.SUBMIT, "c", "k", 0, "n"])
    with pytest.raises(VersionMismatch) as info:
        p.decode(frame)
    assert str(p.VERSION) in str(info.value)


@pytest.mark.parametrize(
    "head",
    [
        [p.VERSION],
        [p.VERSION, 99],
        [p.VERSION, p.Cmd.TASK, 1],
        [p.VERSION, p.Cmd.TASK, 1, "2"],
        [p.VERSION, p.Cmd.FILE, 1, 1, 0, 0o644, 1],
        [p.VERSION, p.Cmd.TASK, True, 1],
        {"v": 1},
        "text",
    ],
)
def test_malformed_headers_are_protocol_errors(head: object) -> None:
    with pytest.raises(ProtocolError):
        p.decode(msgpack.packb(head))


def test_random_bytes_only_ever_raise_protocol_error() -> None:
    rng = random.Random(1234)
    valid = [p.encode(m) for m in SAMPLES]
    refused = 0
    for _ in range(5000):
        base = rng.choice(valid)
        kind = rng.randrange(3)
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        elif kind == 1:
            data = base[: rng.randrange(len(base))]
        else:
            data = bytearray(base)
            data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        try:
            msg = p.decode(data)
        except ProtocolError:
            refused += 1
            continue
        # what decodes is a well-formed message that encodes back to the same bytes
        assert isinstance(msg, p.Message) and p.encode(msg) == data, (data, msg)
    # most random, truncated or flipped bytes are no message at all: refused, not let through
    assert refused > 4000, refused  # (4488 with this seed)


def test_oversized_header_is_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        p.decode(b"\x92" + b"\x00" * (p.MAX_HEADER + 1))


def test_body_round_trip_and_validation() -> None:
    data = p.pack_body(
        b"/w",
        [b"gcc", b"-c", b"a.c", b"-o", b"\x00/0/a.o"],
        {b"PATH": b"/usr/bin", b"X": b"\xff"},
        [b"0/a.o", b"0/caf\xe9.d"],
        timeout=5,
    )
    body = p.Body(data)
    assert body.cwd == b"/w" and body.argv[-1] == b"\x00/0/a.o"
    assert body.env[b"X"] == b"\xff" and body.timeout == 5.0
    assert body.outputs == [b"0/a.o", b"0/caf\xe9.d"]
    for bad in ([b"../x"], [b"/etc/passwd"], [b"a/../../b"]):
        with pytest.raises(ProtocolError, match="escapes"):
            p.Body(p.pack_body(b"/w", [b"gcc"], {}, bad))
    with pytest.raises(ProtocolError, match="type str"):  # version 1's str paths
        p.Body(p.pack_body(b"/w", [b"gcc"], {}, ["0/a.o"]))  # type: ignore[list-item]
    with pytest.raises(ProtocolError):
        p.Body(
            msgpack.packb(
                {
                    "cwd": b"/",
                    "argv": ["str-not-bytes"],
                    "env": {},
                    "outputs": [],
                    "credit": 1,
                    "chunk": 4096,
                    "timeout": 0,
                }
            )
        )
    with pytest.raises(ProtocolError):
        p.Body(b"\xc1")


def test_body_merge_flag_is_optional_and_typed() -> None:
    plain = p.Body(p.pack_body(b"/w", [b"sh"], {}, []))
    merged = p.Body(p.pack_body(b"/w", [b"sh"], {}, [], merge=True))
    assert plain.merge is False and merged.merge is True
    raw = {"cwd": b"/", "argv": [b"sh"], "env": {}, "outputs": [], "credit": 1, "chunk": 4096,
           "timeout": 0, "merge": 1}
    with pytest.raises(ProtocolError):
        p.Body(msgpack.packb(raw))


@pytest.fixture(params=["minipack", "extension"])
def codec(request: pytest.FixtureRequest) -> Iterator[str]:
    """Either header codec of this process (the server uses the extension)."""
    assert p.use_extension(request.param == "extension") == (request.param == "extension")
    yield request.param
    p.use_extension(False)


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_both_codecs_write_and_read_the_same_bytes(msg: p.Message, codec: str) -> None:
    frame = p.encode(msg)
    assert frame == minipack.packb([p.VERSION, msg.CMD, *(getattr(msg, f) for f in msg.FIELDS)])
    assert p.decode(frame) == msg


def _verdict(data: bytes) -> object:
    try:
        return p.decode(data)
    except ProtocolError as exc:  # VersionMismatch included
        return (type(exc), str(exc))


def test_the_extension_decides_every_header_as_minipack_does() -> None:
    """The same message or the same error, byte for byte, on valid, mutated, truncated and
    random headers, and on the ones the extension reads but minipack refuses (ext types,
    deep nesting, trailing bytes, bad UTF-8)."""
    rng = random.Random(4321)
    valid = [p.encode(m) for m in SAMPLES]
    odd = [
        msgpack.packb([p.VERSION, p.Cmd.TASK, msgpack.ExtType(1, b"x"), 1]),
        msgpack.packb([msgpack.ExtType(1, b"x"), p.Cmd.TASK, 1, 1]),
        msgpack.packb([p.VERSION, p.Cmd.TASK, 1, 1]) + b"\x00",
        msgpack.packb([[[[[p.VERSION]]]], p.Cmd.TASK, 1, 1]),
        msgpack.packb([p.VERSION, p.Cmd.REFUSE, [[[["deep"]]]]]),
        b"\x93\x03\x10\xa2\xed\xa0",  # REFUSE with a lone surrogate's UTF-8
        msgpack.packb([p.VERSION, p.Cmd.RESULT, 1, 1, 0, 1, "h", ""]),  # an int for elapsed
        msgpack.packb([float(p.VERSION), p.Cmd.TASK, 1, 1]),
        msgpack.packb([p.VERSION + 1, p.Cmd.TASK, 1, 1]),
        b"\x92" + b"\x00" * (p.MAX_HEADER + 1),
    ]
    cases = valid + odd
    for _ in range(5000):
        base = bytearray(rng.choice(valid))
        kind = rng.randrange(3)
        if kind == 0:
            cases.append(bytes(rng.randrange(256) for _ in range(rng.randrange(40))))
        elif kind == 1:
            cases.append(bytes(base[: rng.randrange(len(base))]))
        else:
            base[rng.randrange(len(base))] = rng.randrange(256)
            cases.append(bytes(base))
    try:
        p.use_extension(False)
        expected = [_verdict(data) for data in cases]
        assert p.use_extension()
        got = [_verdict(data) for data in cases]
    finally:
        p.use_extension(False)
    for data, want, have in zip(cases, expected, got, strict=True):
        assert have == want, data
