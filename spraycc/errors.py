"""The small error hierarchy shared by every role.

Library code raises these; only the CLI and the runner's entry decide what a failure means for
the user (fall back to a local run, or print one line and exit non-zero). Each docstring says
what the caller should do. This module is on the runner's start-up path: builtins only.
"""

from __future__ import annotations


class SprayError(Exception):
    """Base of every expected spraycc failure. Callers print `str(err)` on one line."""


class ConfigError(SprayError):
    """A configuration file or value is wrong. The message names the file and the key; exit 2."""


class ProtocolError(SprayError):
    """A message could not be decoded or validated. Drop the message, log it, keep serving."""


class VersionMismatch(ProtocolError):
    """The peer speaks another protocol version. Refuse it with a reply naming both versions."""

    def __init__(self, theirs: object, ours: int) -> None:
        super().__init__(f"protocol version {theirs!r} is not supported (this side speaks {ours})")
        self.theirs = theirs
        self.ours = ours


class ServerUnavailable(SprayError):
    """No server could be reached for this workspace. The runner falls back to a local run
    (one warning) unless fallback is switched off, in which case it exits non-zero."""


class Refused(SprayError):
    """The server turned this client away (wrong access code, version, identity). Do not retry;
    report the reason on one line and exit non-zero (a runner may fall back if configured)."""


class ServerExists(SprayError):
    """A live server already serves this workspace. Tell the user where it runs; exit 1."""


class WorkspaceUnwritable(SprayError):
    """The server cannot write its file in the workspace root (read-only, no permission, full),
    so no runner could find it. Say which file and why; exit 1 with nothing left behind."""


class ExecutorLost(SprayError):
    """The executor running a task vanished after output had already been relayed, so the task
    cannot be retried transparently. The runner reports it and exits non-zero."""


class PeerGone(SprayError):
    """A send found no route to the peer: it disconnected. Forget the peer and carry on."""
