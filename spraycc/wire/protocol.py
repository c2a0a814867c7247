"""The spraycc wire protocol, version 3: the one contract between runner, server and executor.

Roles
-----
* **server**: one ZeroMQ ROUTER socket. Every message it receives starts with the sender's
  routing id (added by ZeroMQ); every message it sends starts with the receiver's.
* **runner** (`spraycc run`): a DEALER peer that submits exactly one task (or asks for one local
  slot), then waits for its outcome. It speaks ZMTP over a plain socket (see `zmtp`).
* **executor** (`spraycc exec`): a DEALER worker that announces itself with READY, then runs one
  task at a time.
* **status client** (`spraycc status` / `spraycc stop`): a DEALER peer that asks for a snapshot.

Framing
-------
Every message is one ZeroMQ multipart message. Frame 0 is the *header*: a msgpack array
``[VERSION, CMD, field1, field2, ...]`` whose fields are fixed per command (table below), each
of a fixed type. Bulk bytes (task bodies, output chunks, file chunks) never go inside msgpack:
they travel as frame 1, so the server forwards them without decoding or copying them.

Messages (sender -> receiver: fields [+ bulk frame])
-------------------------------------------------
======== ==================== ========================================================= ========
cmd      direction            fields                                                    frame 1
======== ==================== ========================================================= ========
READY    executor -> server   code:str, host:str, pid:int, launch:str                    -
SUBMIT   runner -> server     code:str, key:bytes, flags:int, name:bytes                 body
ACCEPTED server -> runner     task:int, queued:int (tasks waiting, after dispatch)       -
TASK     server -> executor   task:int, attempt:int                                      body
OUTPUT   executor -> runner   task:int, attempt:int, stream:int (1 stdout, 2 stderr)     bytes
FILE     executor -> runner   task:int, attempt:int, index:int, mode:int, last:bool      bytes
INPUTS   executor -> runner   task:int, attempt:int, count:int                           msgpack
RESULT   executor -> runner   task:int, attempt:int, status:int, elapsed:float,          -
                              host:str, error:str
CREDIT   runner -> executor   task:int, attempt:int, chunks:int                          -
RETRY    server -> runner     task:int, attempt:int, reason:str                          -
CANCEL   runner -> server     task:int (0: "my task")                                    -
CANCEL   server -> executor   task:int                                                   -
FAIL     server -> runner     reason:str, fallback:bool                                  -
LOCAL    runner -> server     code:str, name:bytes                                       -
GRANT    server -> runner     slots:int (the local limit)                                -
DONE     runner -> server     status:int, elapsed:float                                  -
HEARTBEAT any -> any          -                                                          -
REFUSE   server -> any        reason:str                                                 -
DISCONNECT executor <-> server reason:str                                                -
STATUS   client -> server     code:str                                                   -
SNAPSHOT server -> client     -                                                          msgpack
STOP     client -> server     code:str, now:bool                                         -
STALE    runner -> server     code:str, host:str, path:bytes, detail:str                 -
======== ==================== ========================================================= ========

OUTPUT, FILE, INPUTS, RESULT and CREDIT are relayed by the server unchanged: it only swaps the
routing id (executor <-> runner of that task), so their headers carry the server's task id and
attempt.

The task body (SUBMIT frame 1, relayed as TASK frame 1) is a msgpack map decoded only by the
executor: ``cwd`` (bytes), ``argv`` (list of bytes), ``env`` (map bytes -> bytes, the exact
environment), ``outputs`` (list of bytes: paths relative to the executor's private temp dir),
``credit`` (int), ``chunk`` (int), ``timeout`` (float, 0 = none), and optionally ``merge``
(bool, default false: the runner's stdout and stderr are one file, so the step gets a single
pipe for both and its output is relayed as stream 1, keeping their interleaving exact). A NUL
byte (``spraycc.TEMP_DIR``) in an argv element or env value stands for the executor's
private temp dir (argv can never contain NUL). Two optional fields ask for the input check
(docs/usage.md, "Inputs are checked"): ``deps`` (bytes: the dependency file the step writes,
relative to the temp dir; absent or empty: no check) and ``skip`` (list of bytes: directory
prefixes whose files are not reported, the read-only toolchain).

INPUTS (version 3) carries, in frame 1, a msgpack array of ``[path:bytes, size:int,
mtime_ns:int]``, one per input the step read as the executor saw it after the step (path as
the dependency file names it, relative to the task's cwd or absolute; size -1: not there). It
is sent after a successful step, before its FILE messages, and spends one unit of credit like
them. STALE (version 3) is a hello: a runner whose check found the executor's view stale (or a
failure naming a file it has) tells the server before it re-runs the step; the server counts
it and logs the line, and answers nothing.

Names are bytes wherever they come from the file system or the command line (a file name need
not be UTF-8): SUBMIT's key (the task's history key, see `taskkey`) and name (its primary
output, for logs and status), LOCAL's name (the program), and the body's cwd, argv, env and
outputs, so every step builds whatever its file names. msgpack str fields carry only text
spraycc makes itself. (Version 1 sent the key and the names as str: UTF-8 only.)

Receiver's rules
----------------
* A header that does not decode, has the wrong version, an unknown command, or fields of the
  wrong number or type is dropped and logged (a wrong version or access code on a first
  message is answered with REFUSE naming the reason). Nothing a peer sends can crash the server.
* The first message of a peer must be READY, SUBMIT, LOCAL, STATUS, STOP or STALE, carrying the
  session's access code. Anything else from an unknown peer is dropped.
* OUTPUT/FILE/RESULT whose task or attempt is not the one the executor was given are dropped
  (a late message from an attempt that was already re-dispatched).
* Flow control: an executor sends at most ``credit`` OUTPUT/FILE messages beyond what the runner
  has acknowledged with CREDIT, so a slow runner can never make the server buffer a whole file.
* Heartbeats: server <-> executor every HEARTBEAT_INTERVAL; server <-> waiting runner every
  RUNNER_HEARTBEAT_INTERVAL (the server file's ``heartbeat``), so a thousand queued runners
  sleep in one blocking read instead of waking every second. Any message counts as a
  heartbeat. A peer silent for HEARTBEAT_LIVENESS of its intervals is dead: a dead executor's
  task is re-dispatched (RETRY to the runner), a dead runner's task is cancelled, a dead
  server makes executors exit and runners fall back to a local run. A runner whose process
  ends is noticed sooner, from its connection: when one closes, the server sends that
  runner a HEARTBEAT, which fails for a closed connection. (Version 2 had runners and the
  server exchange heartbeats every HEARTBEAT_INTERVAL.)
* FILE chunks of one output arrive in order; ``last`` closes that output. Outputs the executor
  did not find are simply not sent: the runner learns it from RESULT.
* After RESULT (or after acknowledging CANCEL with a RESULT) the executor is idle again. A
  cancelled step is acknowledged at once, without waiting for CREDIT.
* Straggler copies: the server may run a second copy of a FLAG_RETRY_SAFE task on another
  executor under a new attempt number (a task's attempt numbers are never reused). Only one
  attempt is relayed to the runner at a time; switching to the copy is announced with RETRY,
  exactly like a re-dispatch, and the other copy is cancelled.

This module imports nothing heavy (it is on the runner's start-up path): records are plain
classes with ``__slots__`` and commands are int constants, not ``enum``/``dataclasses``. Headers
go through `minipack`; the server switches itself to the msgpack extension (`use_extension`),
which writes the same bytes and, on anything it does not read as a valid message, leaves the
verdict to `minipack`: the wire and the receiver's rules are the same either way.
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


class Ready(Message):
    CMD = Cmd.READY
    code: str
    host: str
    pid: int
    launch: str


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


class Task(Message):
    CMD = Cmd.TASK
    task: int
    attempt: int


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


class Status(Message):
    CMD = Cmd.STATUS
    code: str


class Snapshot(Message):
    CMD = Cmd.SNAPSHOT


class Stop(Message):
    CMD = Cmd.STOP
    code: str
    now: bool


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


RECORDS: dict[int, type[Message]] = {
    cls.CMD: cls
    for cls in (
        Ready, Submit, Accepted, Task, Output, File, Result, Credit, Retry, Cancel, Fail,
        Local, Grant, Done, Heartbeat, Refuse, Disconnect, Status, Snapshot, Stop, Inputs,
        Stale,
    )
}

# The commands a peer the server does not know yet may send: they carry the access code.
HELLOS = frozenset((Cmd.READY, Cmd.SUBMIT, Cmd.LOCAL, Cmd.STATUS, Cmd.STOP, Cmd.STALE))
HELLO_RECORDS = (Ready, Submit, Local, Status, Stop, Stale)  # the same, as the records

_HEARTBEAT = packb([VERSION, Cmd.HEARTBEAT])

# The msgpack extension module's codec, once `use_extension` has switched this process to it.
_ext_packb: Callable[[object], bytes] | None = None
_ext_unpackb: Callable[[bytes], object] | None = None


def use_extension(on: bool = True) -> bool:
    """Encode and decode headers with the msgpack extension module from now on, in this
    process (`on` False: back to `minipack`). The server calls this (a header costs it a few
    microseconds less each way); the runner never does (importing msgpack costs its start-up
    ~6 ms). One Packer is shared: for a process that encodes from one thread only. The bytes
    are the same (`minipack.packb` is byte-identical to msgpack's), and so is every error: a
    header the extension does not read as a valid message is decoded again by `minipack`,
    whose verdict stands. Returns whether the extension is in use (False: no msgpack)."""
    global _ext_packb, _ext_unpackb
    _ext_packb = _ext_unpackb = None
    if not on:
        return False
    try:
        import msgpack
    except ImportError:
        return False
    _ext_packb = msgpack.Packer(use_bin_type=True).pack  # one Packer: no set-up per header
    unpack = msgpack.unpackb

    def unpackb_ext(frame: bytes) -> object:
        return unpack(frame, raw=False)

    _ext_unpackb = unpackb_ext
    return True


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


class Body:
    """A validated task body, as the executor uses it."""

    __slots__ = ("argv", "chunk", "credit", "cwd", "deps", "env", "merge", "outputs", "skip",
                 "timeout")
    cwd: bytes
    argv: list[bytes]
    env: dict[bytes, bytes]
    outputs: list[bytes]
    credit: int
    chunk: int
    timeout: float
    merge: bool
    deps: bytes
    skip: list[bytes]

    def __init__(self, data: bytes) -> None:
        try:
            raw = unpackb(data, max_depth=4)
        except UnpackError as exc:
            raise ProtocolError(f"undecodable task body: {exc}") from None
        if type(raw) is not dict:
            raise ProtocolError("task body is not a map")
        try:
            self.cwd = _bytes(raw["cwd"])
            self.argv = [_bytes(a) for a in _list(raw["argv"])]
            env = raw["env"]
            if not isinstance(env, dict):
                raise _wrong(env)
            self.env = {_bytes(k): _bytes(v) for k, v in env.items()}
            self.outputs = [_bytes(o) for o in _list(raw["outputs"])]
            self.credit = _int(raw["credit"])
            self.chunk = _int(raw["chunk"])
            timeout = raw["timeout"]
            if not isinstance(timeout, (int, float)):
                raise _wrong(timeout)
            self.timeout = float(timeout)
            merge = raw.get("merge", False)
            if not isinstance(merge, bool):
                raise _wrong(merge)
            self.merge = merge
            deps = raw.get("deps", b"")
            self.deps = _bytes(deps)
            self.skip = [_bytes(d) for d in _list(raw.get("skip", []))]
        except KeyError as exc:
            raise ProtocolError(f"task body lacks {exc}") from None
        if not self.argv or self.credit < 1 or not 1024 <= self.chunk <= 64 * CHUNK:
            raise ProtocolError("task body has an empty argv or bad credit/chunk")
        for rel in (*self.outputs, *((self.deps,) if self.deps else ())):
            if rel.startswith(b"/") or b".." in rel.split(b"/") or b"\x00" in rel:
                raise ProtocolError(f"output path {rel!r} escapes the temp dir")


def _wrong(value: object) -> ProtocolError:
    return ProtocolError(f"task body field has type {type(value).__name__}")


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise _wrong(value)
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong(value)
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise _wrong(value)
    return value
