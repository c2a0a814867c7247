"""The wire records a runner sends and receives, and the header codec: the runner's share of
`protocol`, whose docstring is the spec (and which adds the records only the server and the
executors exchange).

A runner loads this module and not `protocol`: each record class and the spec text cost every
waiting runner memory (docs/usage.md, "Waiting runners"). Builtins only: records are plain
classes with ``__slots__`` and commands are int constants, not ``enum``/``dataclasses``.
"""

from __future__ import annotations

from spraycc.errors import ProtocolError, VersionMismatch
from spraycc.wire.minipack import UnpackError, packb, unpackb

# `typing` and `collections.abc` are for the type checker only (the runner's start-up path).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

VERSION = 3
HEARTBEAT_INTERVAL = 1.0  # seconds, server <-> executor
RUNNER_HEARTBEAT_INTERVAL = 30.0  # seconds, server <-> waiting runner
HEARTBEAT_LIVENESS = 5  # intervals of silence before a peer is declared dead
MAX_HEADER = 64 * 1024  # a header larger than this is garbage
CHUNK = 256 * 1024  # bytes per FILE/OUTPUT chunk
CREDIT_WINDOW = 16  # chunks an executor may send ahead of the runner's CREDIT

FLAG_DEPENDENCY = 1  # -M/-MM step: schedule before compiles
FLAG_RETRY_SAFE = 2  # the runner can discard partial outputs, so a lost task may be re-run


class Cmd:
    """The command numbers (an enum in spirit; ints so the runner need not import `enum`)."""

    READY = 1
    SUBMIT = 2
    ACCEPTED = 3
    TASK = 4
    OUTPUT = 5
    FILE = 6
    RESULT = 7
    CREDIT = 8
    RETRY = 9
    CANCEL = 10
    FAIL = 11
    LOCAL = 12
    GRANT = 13
    DONE = 14
    HEARTBEAT = 15
    REFUSE = 16
    DISCONNECT = 17
    STATUS = 18
    SNAPSHOT = 19
    STOP = 20
    INPUTS = 21
    STALE = 22


# The field types a record may annotate (the annotations are strings: see `_Record`).
_KINDS: dict[str, type] = {"int": int, "str": str, "bytes": bytes, "bool": bool, "float": float}


class _Record(type):
    """Makes a record's annotations, in their order, its wire fields: ``FIELDS`` (the names,
    also its ``__slots__``) and ``TYPES``. The annotations stay the strings the compiler wrote
    (``from __future__ import annotations``), so nothing evaluates them and the runner need not
    import `typing`; a type checker and an editor see ordinary attributes."""

    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> _Record:
        if bases:
            ann = ns.get("__annotations__", {})
            if not isinstance(ann, dict):
                raise TypeError(f"{name}: annotations are not a dict")
            fields = tuple(ann)
            ns["__slots__"] = fields
            ns["FIELDS"] = fields
            ns["TYPES"] = tuple(_KINDS[kind] if isinstance(kind, str) else kind
                                for kind in ann.values())
        return super().__new__(mcs, name, bases, ns)


class Message(metaclass=_Record):
    """Base of the typed records. Each subclass sets ``CMD`` and annotates its fields in wire
    order (``task: int``); `_Record` derives ``FIELDS`` and ``TYPES`` from them, and
    `encode`/`decode` use both, so a record cannot drift from its wire form."""

    __slots__: tuple[str, ...] = ()
    FIELDS: tuple[str, ...] = ()  # wire order of the fields (and the slots)
    CMD = 0
    TYPES: tuple[type, ...] = ()

    def __init__(self, *args: object) -> None:
        for name, value in zip(self.FIELDS, args, strict=True):
            setattr(self, name, value)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and all(
            getattr(self, n) == getattr(other, n) for n in self.FIELDS
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.FIELDS)
        return f"{type(self).__name__}({fields})"


class Submit(Message):
    CMD = Cmd.SUBMIT
    code: str
    key: bytes
    flags: int
    name: bytes


class Accepted(Message):
    CMD = Cmd.ACCEPTED
    task: int
    queued: int


class Output(Message):
    CMD = Cmd.OUTPUT
    task: int
    attempt: int
    stream: int


class File(Message):
    CMD = Cmd.FILE
    task: int
    attempt: int
    index: int
    mode: int
    last: bool


class Result(Message):
    CMD = Cmd.RESULT
    task: int
    attempt: int
    status: int
    elapsed: float
    host: str
    error: str


class Credit(Message):
    CMD = Cmd.CREDIT
    task: int
    attempt: int
    chunks: int


class Retry(Message):
    CMD = Cmd.RETRY
    task: int
    attempt: int
    reason: str


class Cancel(Message):
    CMD = Cmd.CANCEL
    task: int


class Fail(Message):
    CMD = Cmd.FAIL
    reason: str
    fallback: bool


class Local(Message):
    CMD = Cmd.LOCAL
    code: str
    name: bytes


class Grant(Message):
    CMD = Cmd.GRANT
    slots: int


class Done(Message):
    CMD = Cmd.DONE
    status: int
    elapsed: float


class Heartbeat(Message):
    CMD = Cmd.HEARTBEAT


class Refuse(Message):
    CMD = Cmd.REFUSE
    reason: str


class Disconnect(Message):
    CMD = Cmd.DISCONNECT
    reason: str


class Inputs(Message):
    CMD = Cmd.INPUTS
    task: int
    attempt: int
    count: int


class Stale(Message):
    CMD = Cmd.STALE
    code: str
    host: str
    path: bytes
    detail: str


# What `decode` knows: the records below; `protocol` adds the server's and executor's own.
RECORDS: dict[int, type[Message]] = {
    cls.CMD: cls
    for cls in (
        Submit, Accepted, Output, File, Result, Credit, Retry, Cancel, Fail, Local, Grant, Done,
        Heartbeat, Refuse, Disconnect, Inputs, Stale,
    )
}

_HEARTBEAT = packb([VERSION, Cmd.HEARTBEAT])


# The msgpack extension's codec, when the server has switched its process to it
# (`protocol.use_extension`); None: `minipack`, as in every runner.
_ext_packb: Callable[[object], bytes] | None = None
_ext_unpackb: Callable[[bytes], object] | None = None


def encode(msg: Message) -> bytes:
    """The header frame of `msg`."""
    if msg.CMD == Cmd.HEARTBEAT:
        return _HEARTBEAT
    head = [VERSION, msg.CMD, *(getattr(msg, n) for n in msg.FIELDS)]
    return packb(head) if _ext_packb is None else _ext_packb(head)


def decode(frame: bytes) -> Message:
    """Validate and decode a header frame. Raises VersionMismatch or ProtocolError."""
    if _ext_unpackb is not None and len(frame) <= MAX_HEADER:
        try:
            head = _ext_unpackb(frame)
            if type(head) is list and len(head) >= 2 and head[0] == VERSION:
                return _message(head)
        except Exception:  # anything the extension or a check refuses: minipack decides
            pass
    return _message(_unpack(frame))


def _message(head: list) -> Message:
    """The record of a decoded header array (at least [version, cmd])."""
    version, cmd = head[0], head[1]
    if version != VERSION:
        raise VersionMismatch(version, VERSION)
    cls = RECORDS.get(cmd) if type(cmd) is int else None
    if cls is None:
        raise ProtocolError(f"unknown command {cmd!r}")
    fields = head[2:]
    if tuple(map(type, fields)) != cls.TYPES:  # the common case in one comparison
        _check_fields(cls, fields)
    msg = cls.__new__(cls)
    for name, value in zip(cls.FIELDS, fields, strict=True):
        setattr(msg, name, value)
    return msg


def _check_fields(cls: type[Message], fields: list) -> None:
    """Raise ProtocolError unless `fields` fit `cls` (an int may stand for a float)."""
    if len(fields) != len(cls.TYPES):
        raise ProtocolError(f"{cls.__name__}: {len(fields)} fields, expected {len(cls.TYPES)}")
    for i, (value, want) in enumerate(zip(fields, cls.TYPES, strict=True)):
        # bool is an int subclass and an int is not a float on the wire: check exact types,
        # but let an int stand for a float (msgpack encoders may shorten 2.0 to 2).
        kind = type(value)
        if kind is not want and not (want is float and kind is int):
            raise ProtocolError(
                f"{cls.__name__}.{cls.FIELDS[i]}: {kind.__name__}, expected {want.__name__}"
            )


def _unpack(frame: bytes) -> list:
    if len(frame) > MAX_HEADER:
        raise ProtocolError(f"header of {len(frame)} bytes exceeds {MAX_HEADER}")
    try:
        head = unpackb(frame, max_depth=4)
    except UnpackError as exc:
        raise ProtocolError(f"undecodable header: {exc}") from None
    if type(head) is not list or len(head) < 2:
        raise ProtocolError("header is not an array [version, command, ...]")
    return head


def pack_body(
    cwd: bytes,
    argv: list[bytes],
    env: dict[bytes, bytes],
    outputs: list[bytes],
    *,
    timeout: float = 0.0,
    merge: bool = False,
    deps: bytes = b"",
    skip: list[bytes] | None = None,
) -> bytes:
    """The task body a runner sends with SUBMIT (see the module docstring)."""
    body = {
        "cwd": cwd,
        "argv": argv,
        "env": env,
        "outputs": outputs,
        "credit": CREDIT_WINDOW,
        "chunk": CHUNK,
        "timeout": float(timeout),
    }
    if merge:
        body["merge"] = True
    if deps:
        body["deps"] = deps
        body["skip"] = skip or []
    return packb(body)



