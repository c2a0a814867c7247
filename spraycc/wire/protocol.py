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
ACCEPTED server -> runner     task:int, queued:int (its place in the queue, 0: running)  -
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

The records a runner sends or receives, and the header codec (`encode`, `decode`), are in
`messages`, which a runner loads instead of this module (a waiting runner holds less, see
docs/usage.md "Waiting runners"); this module re-exports them and adds the records only the
server, its executors and status clients exchange, so its users see the whole protocol. Neither
imports anything heavy: records are plain classes with ``__slots__`` and commands are int
constants, not ``enum``/``dataclasses``. Headers go through `minipack`; the server switches
itself to the msgpack extension (`use_extension`), which writes the same bytes and, on anything
it does not read as a valid message, leaves the verdict to `minipack`: the wire and the
receiver's rules are the same either way.
"""

from __future__ import annotations

from spraycc.errors import ProtocolError
from spraycc.wire import messages
from spraycc.wire.messages import (
    CHUNK,
    CREDIT_WINDOW,
    FLAG_DEPENDENCY,
    FLAG_RETRY_SAFE,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_LIVENESS,
    MAX_HEADER,
    RECORDS,
    RUNNER_HEARTBEAT_INTERVAL,
    VERSION,
    Accepted,
    Cancel,
    Cmd,
    Credit,
    Disconnect,
    Done,
    Fail,
    File,
    Grant,
    Heartbeat,
    Inputs,
    Local,
    Message,
    Output,
    Refuse,
    Result,
    Retry,
    Stale,
    Submit,
    decode,
    encode,
    pack_body,
)
from spraycc.wire.minipack import UnpackError, unpackb

__all__ = [  # the whole protocol: `messages`' names and this module's own
    "CHUNK",
    "CREDIT_WINDOW",
    "FLAG_DEPENDENCY",
    "FLAG_RETRY_SAFE",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_LIVENESS",
    "HELLOS",
    "HELLO_RECORDS",
    "MAX_HEADER",
    "RECORDS",
    "RUNNER_HEARTBEAT_INTERVAL",
    "VERSION",
    "Accepted",
    "Body",
    "Cancel",
    "Cmd",
    "Credit",
    "Disconnect",
    "Done",
    "Fail",
    "File",
    "Grant",
    "Heartbeat",
    "Inputs",
    "Local",
    "Message",
    "Output",
    "Ready",
    "Refuse",
    "Result",
    "Retry",
    "Snapshot",
    "Stale",
    "Status",
    "Stop",
    "Submit",
    "Task",
    "decode",
    "encode",
    "pack_body",
    "use_extension",
]

# The runner's records and the codec live in `messages` (what a runner loads); here are the
# records only the server, its executors and status clients exchange.


class Ready(Message):
    CMD = Cmd.READY
    code: str
    host: str
    pid: int
    launch: str


class Task(Message):
    CMD = Cmd.TASK
    task: int
    attempt: int


class Status(Message):
    CMD = Cmd.STATUS
    code: str


class Snapshot(Message):
    CMD = Cmd.SNAPSHOT


class Stop(Message):
    CMD = Cmd.STOP
    code: str
    now: bool


RECORDS.update((cls.CMD, cls) for cls in (Ready, Task, Status, Snapshot, Stop))

# The commands a peer the server does not know yet may send: they carry the access code.
HELLOS = frozenset((Cmd.READY, Cmd.SUBMIT, Cmd.LOCAL, Cmd.STATUS, Cmd.STOP, Cmd.STALE))
HELLO_RECORDS = (Ready, Submit, Local, Status, Stop, Stale)  # the same, as the records


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


def use_extension(on: bool = True) -> bool:
    """Encode and decode headers with the msgpack extension module from now on, in this
    process (`on` False: back to `minipack`). The server calls this (a header costs it a few
    microseconds less each way); the runner never does (importing msgpack costs its start-up
    ~6 ms). One Packer is shared: for a process that encodes from one thread only. The bytes
    are the same (`minipack.packb` is byte-identical to msgpack's), and so is every error: a
    header the extension does not read as a valid message is decoded again by `minipack`,
    whose verdict stands. Returns whether the extension is in use (False: no msgpack)."""
    messages._ext_packb = messages._ext_unpackb = None
    if not on:
        return False
    try:
        import msgpack
    except ImportError:
        return False
    messages._ext_packb = msgpack.Packer(use_bin_type=True).pack  # no set-up per header
    unpack = msgpack.unpackb

    def unpackb_ext(frame: bytes) -> object:
        return unpack(frame, raw=False)

    messages._ext_unpackb = unpackb_ext
    return True
