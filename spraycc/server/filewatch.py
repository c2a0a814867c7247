"""The server's hold on its workspace (docs/usage.md, "The server file"): `.spraycc_server` is
how runners find the server, so while serving, the server checks it every few seconds (one
stat) and keeps it in place:

* removed: written again, and logged;
* replaced by the file of another server that is alive (or on another host, where we cannot
  tell): that server now owns the workspace, runners go to it: this one stops;
* changed otherwise (edited, truncated, a stale file of a dead server copied in): the
  server's own file is put back, and logged.

Also the check at start-up for a server of an enclosing workspace, which the new server
shadows below its own directory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from spraycc.wire import serverfile

log = logging.getLogger(__name__)

CHECK_INTERVAL = 2.0  # seconds between checks of the server file


class FileWatch:
    """Keeps `path` holding `fields` (this server's file, access code `fields["code"]`)."""

    def __init__(self, path: str, fields: dict[str, str],
                 alive: Callable[[serverfile.ServerInfo], bool]) -> None:
        self.path = path
        self.fields = fields
        self.alive = alive
        self.seen = self._identity()

    def _identity(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def check(self) -> str:
        """Look at the file once; returns why the server must stop ("" to go on serving)."""
        now = self._identity()
        if now is not None and now == self.seen:
            return ""
        if now is None and not os.path.lexists(self.path):
            self._restore("was removed", "wrote it again (`spraycc stop` ends the server)",
                          exclusive=True)
            return ""
        try:
            info: serverfile.ServerInfo | None = serverfile.read(self.path)
        except (OSError, ValueError):
            info = None
        if info is not None and info.code != self.fields["code"] and self.alive(info):
            return (f"{self.path} now names another server (pid {info.pid} on {info.host}), "
                    "which runners use from now on")
        self._restore("was changed by someone else", "put this server's back", exclusive=False)
        return ""

    def _restore(self, what: str, done: str, exclusive: bool) -> None:
        try:
            if exclusive:
                serverfile.create(self.path, self.fields)  # a server that just started wins
            else:
                serverfile.replace(self.path, self.fields)
        except FileExistsError:
            return  # written meanwhile: the next check looks at it
        except OSError as exc:
            log.warning("%s %s, and cannot be written again: %s", self.path, what, exc.strerror)
        else:
            log.warning("%s %s: %s", self.path, what, done)
        self.seen = self._identity()


def enclosing_server(workspace: str) -> serverfile.ServerInfo | None:
    """The server file of a workspace enclosing `workspace` (found as a runner would, from
    its parent directory up), or None."""
    real = os.path.realpath(workspace)
    parent = os.path.dirname(real)
    return None if parent == real else serverfile.nearest(parent)
