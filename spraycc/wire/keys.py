"""`~/.spraycc.private`: the user's CURVE key pair, proof that a client is this user's
(docs/security.md).

Every server of the user accepts on its TCP endpoint only clients holding this key pair (see
`auth`), so the file is as sensitive as an ssh private key: mode 0600, owned by the user, never
a symlink. A key readable by group or others is refused with a message naming the fix; it is
never "repaired" silently, since it may already have been copied.

Creation is exclusive and atomic: the key is written to a private temp file (O_EXCL, 0600),
then hard-linked to its final name. link() fails if the file exists, so two first server starts
racing on a shared home directory (NFS included) agree on one key, and nobody ever reads a
half-written file. Generating a key needs pyzmq (imported only then); reading one needs only
builtins, because a runner on another host reads it on its start-up path.

File format (text, so a user can inspect it)::

    # spraycc user key (ZeroMQ CURVE, Z85). Keep it private: mode 0600.
    public = <40 Z85 characters>
    secret = <40 Z85 characters>
"""

from __future__ import annotations

import os
import stat

from spraycc.errors import SprayError

NAME = ".spraycc.private"
Z85_LEN = 40  # a 32-byte CURVE key in Z85
_Z85 = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)
_HEADER = "# spraycc user key (ZeroMQ CURVE, Z85). Keep it private: mode 0600.\n"


class KeyFileError(SprayError):
    """The user-private key is missing, unreadable, malformed or exposed to other users. The
    message names the file and the fix; print it on one line and exit non-zero."""


class KeyPair:
    """A CURVE key pair, both halves as 40-byte Z85 strings (what libzmq's options take)."""

    __slots__ = ("public", "secret")

    def __init__(self, public: bytes, secret: bytes) -> None:
        self.public = public
        self.secret = secret

    def __repr__(self) -> str:  # never show the secret half in a log or a traceback
        return f"KeyPair(public={self.public.decode()!r})"


def default_path() -> str:
    """`~/.spraycc.private` of the user running this process."""
    return os.path.join(os.path.expanduser("~"), NAME)


def load(path: str | None = None) -> KeyPair:
    """Read the key pair, refusing a file other users could read or replace.

    Raises KeyFileError (FileNotFoundError-caused if it does not exist)."""
    path = path or default_path()
    try:
        # O_NONBLOCK: opening a FIFO put in the key's place would wait for a writer forever;
        # this way it opens at once and check_private refuses it (no effect on a file).
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise KeyFileError(
            f"{path} does not exist: run `spraycc init` (or start `spraycc server` once) "
            "as this user to create it"
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        check_private(path, os.fstat(fd))
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return parse(path, data)


def check_private(path: str, st: os.stat_result) -> None:
    """KeyFileError unless `st` is a regular file owned by us with no group/other access."""
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path} is not a regular file")
    if st.st_uid != os.geteuid():
        raise KeyFileError(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}): "
            f"remove it and run `spraycc init`"
        )
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{path} is readable or writable by other users (mode {st.st_mode & 0o777:03o}); "
            f"fix it with `chmod 600 {path}` (and make a new key with `rm {path}; spraycc init` "
            "if others may have copied it)"
        )


def parse(path: str, data: bytes) -> KeyPair:
    """The key pair in a key file's contents; KeyFileError if malformed."""
    fields: dict[bytes, bytes] = {}
    for line in data.splitlines():
        line = line.strip()
        if not line or line.startswith(b"#"):
            continue
        name, sep, value = line.partition(b"=")
        if sep:
            fields[name.strip()] = value.strip()
    public, secret = fields.get(b"public", b""), fields.get(b"secret", b"")
    for half in (public, secret):
        if len(half) != Z85_LEN or not _Z85.issuperset(half):
            raise KeyFileError(
                f"{path} is not a spraycc key file (expected `public = ...` and `secret = ...` "
                f"lines of {Z85_LEN} Z85 characters); remove it and run `spraycc init`"
            )
    return KeyPair(public, secret)


def create(path: str | None = None) -> KeyPair:
    """Make a new key pair at `path`, exclusively. FileExistsError if a key is already there
    (the caller then loads that one: another process won the race)."""
    import zmq  # only here: generating a key is rare, reading one must stay cheap

    path = path or default_path()
    if not zmq.has("curve"):
        raise KeyFileError("this pyzmq/libzmq was built without CURVE: cannot make a key")
    public, secret = zmq.curve_keypair()
    text = f"{_HEADER}public = {public.decode()}\nsecret = {secret.decode()}\n".encode()
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask said
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and exclusive: the loser of a race gets FileExistsError
    finally:
        os.unlink(tmp)
    return KeyPair(public, secret)


def ensure(path: str | None = None) -> tuple[KeyPair, bool]:
    """The user's key pair, created if missing. Returns (key pair, created). Raises
    KeyFileError for an existing key that is exposed or malformed."""
    path = path or default_path()
    try:
        return load(path), False
    except KeyFileError as exc:
        if not isinstance(exc.__cause__, FileNotFoundError):
            raise
    try:
        return create(path), True
    except FileExistsError:
        return load(path), False  # a concurrent first start made it meanwhile
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror}") from None
