"""Logs private to their user (docs/usage.md, "Logs"): the log file is 0600 in a 0700
directory, and every line, on the terminal or in the file, passes through `LogFilter`, which
replaces each registered secret (the session's access code) by a label and tags the line with
the server's session id. The server logs that id once with its workspace, so every line of
the shared log file can be traced to its workspace.

The server registers its secret and session here; the CLI, which configures logging, uses
`LogFilter` and `PrivateLogHandler` for its handlers. Nothing here configures logging itself.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from spraycc.step.taskkey import printable

ACCESS_CODE = "<access code>"
# The logger of the lines written for every task (each dispatch): debug lines like the others,
# but kept out of the log file unless the server runs with -v (`spraycc.cli.setup_logging`). At
# thousands of tasks a second they would cost the broker more than the task itself and rotate
# every other line out of the file within seconds (docs/usage.md, "Logs").
TASK_LOG = "spraycc.server.broker.tasks"
_secrets: dict[str, str] = {}  # secret -> what is shown instead
_session = "-"


def hide(secret: str, label: str = ACCESS_CODE) -> None:
    """From now on, `secret` is shown as `label` in every filtered line (and in `scrub`)."""
    if secret:
        _secrets[secret] = label


def tag_session(session: str) -> None:
    """The session id every line of this process is tagged with from now on."""
    global _session
    _session = session or "-"


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by its label."""
    for secret, label in _secrets.items():
        if secret in text:
            text = text.replace(secret, label)
    return text


class LogFilter(logging.Filter):
    """Adds `record.session`, removes secrets from the formatted message, and shows bytes of
    file names that are not UTF-8 as backslash escapes (`taskkey.printable`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.session = _session
        message = record.getMessage()
        clean = printable(scrub(message))
        if clean != message:
            record.msg, record.args = clean, None
        return True


class PrivateLogHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file only its user can read: the directory 0700, every file 0600 (also
    one an older spraycc left wider), names that are not UTF-8 written with backslash escapes
    instead of failing the line."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private(path.parent, 0o700)
        for old in path.parent.glob(f"{path.name}.*"):
            _make_private(old, 0o600)
        super().__init__(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8",
                         errors="backslashreplace")

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        os.fchmod(fd, 0o600)  # created 0600, or an existing file narrowed to it
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def _make_private(path: Path, mode: int) -> None:
    """Narrow `path` to `mode` if it is ours (another user's file is left alone)."""
    try:
        st = path.lstat()
        if st.st_uid == os.getuid() and st.st_mode & 0o777 != mode and not path.is_symlink():
            os.chmod(path, mode)
    except OSError:
        pass
