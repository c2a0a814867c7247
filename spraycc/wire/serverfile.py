"""`.spraycc_server`: how runners find the server of their workspace (docs/usage.md).

The file is plain `key=value` lines so the runner reads it without json or toml. It is written
atomically and exclusively: contents go to a private temp file which is then hard-linked to the
final name; link() fails if a server file exists, so two servers racing to start in one
workspace cannot both win. On the runner's start-up path: builtins only.
"""

from __future__ import annotations

import posix

from spraycc import oslite

NAME = ".spraycc_server"


class ServerInfo:
    """What a runner needs to reach the server: endpoints, access code, liveness settings."""

    __slots__ = ("fields", "path")

    def __init__(self, path: str, fields: dict[str, str]) -> None:
        self.path = path
        self.fields = fields

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    @property
    def code(self) -> str:
        return self.fields.get("code", "")

    @property
    def pid(self) -> int:
        try:
            return int(self.fields.get("pid", "0"))
        except ValueError:
            return 0

    @property
    def host(self) -> str:
        return self.fields.get("host", "")

    @property
    def serverkey(self) -> str:
        """The session's CURVE public key (Z85) for the tcp endpoint; "" from a server
        without one."""
        return self.fields.get("serverkey", "")


def find(start: str) -> str | None:
    """Nearest server file walking up the real (symlink-resolved) tree from `start`."""
    d = oslite.realpath(start)
    while True:
        candidate = oslite.join(d, NAME)
        if oslite.isfile(candidate):
            return candidate
        parent = oslite.dirname(d)
        if parent == d:
            return None
        d = parent


def nearest(start: str) -> ServerInfo | None:
    """The server file `find` finds from `start`, read; None if there is none or it is
    unreadable or malformed."""
    path = find(start)
    if path is None:
        return None
    try:
        return read(path)
    except (OSError, ValueError):
        return None


def endpoints(info: ServerInfo) -> list[str]:
    """Where to reach the server, best first: its private ipc socket when it runs on this host
    (NULL mechanism, in a 0700 directory: only this user can connect), then its tcp address."""
    found = []
    ipc = info.get("ipc")
    if ipc and info.host == posix.uname().nodename:
        found.append(ipc)
    tcp = info.get("tcp")
    if tcp:
        found.append(tcp)
    return found


def alive(info: ServerInfo) -> bool:
    """Whether the server may still be running: on another host we cannot tell (True); on this
    one, whether its process exists and is not a zombie (exited, not yet reaped by whoever
    started it)."""
    if info.host != posix.uname().nodename or info.pid <= 0:
        return True
    try:
        posix.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{info.pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:
        return True


def read(path: str) -> ServerInfo:
    """Parse a server file. Raises OSError if unreadable, ValueError if malformed."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        text = f.read(65536)
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: malformed line {line!r}")
        fields[key.strip()] = value.strip()
    if "code" not in fields or not ("ipc" in fields or "tcp" in fields):
        raise ValueError(f"{path}: no endpoint or access code")
    return ServerInfo(path, fields)


def create(path: str, fields: dict[str, str]) -> None:
    """Write the server file atomically, mode 0600; FileExistsError if one is already there."""
    tmp = _write_temp(path, fields)
    try:
        posix.link(tmp, path)
    finally:
        posix.unlink(tmp)


def replace(path: str, fields: dict[str, str]) -> None:
    """Write the server file atomically over whatever is at `path` (the server restoring its
    own file)."""
    tmp = _write_temp(path, fields)
    try:
        posix.rename(tmp, path)
    except BaseException:
        posix.unlink(tmp)
        raise


def _write_temp(path: str, fields: dict[str, str]) -> str:
    """The file's contents in a private temp file beside `path`, synced; its name."""
    directory = oslite.dirname(oslite.abspath(path))
    tmp = oslite.join(directory, f".{NAME}.{posix.getpid()}.tmp")
    body = "".join(f"{k}={v}\n" for k, v in fields.items())
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL | posix.O_CLOEXEC, 0o600)
    try:
        try:
            posix.write(fd, body.encode(errors="surrogateescape"))
            posix.fsync(fd)
        finally:
            posix.close(fd)
    except BaseException:
        posix.unlink(tmp)
        raise
    return tmp


def remove(path: str, code: str) -> None:
    """Remove the server file only if it is still ours (same access code)."""
    try:
        if read(path).code == code:
            posix.unlink(path)
    except (OSError, ValueError):
        pass
