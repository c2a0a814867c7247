"""Once-per-build notices of the runner (docs/usage.md, "No server"): a build starts hundreds
of runners, and a warning every one of them would print (no server, the server is gone) is
said by the first of them only.

"Once per build" is: not again while runners of the same terminal session (the build tool and
everything it starts share it) keep meeting the same condition with gaps shorter than
QUIET_SECONDS. The runners share one small stamp file per session in the user's runtime
directory (`$XDG_RUNTIME_DIR/spraycc`, else a 0700 directory of the user's in the temp dir):
each runner that meets the condition refreshes its time; the one that finds it missing or
older than QUIET_SECONDS says the notice. Where the directory is not safely the user's own,
every runner says it.

Only the runner's fallback path imports this (builtins only): a step that reaches its server
never pays for it.
"""

from __future__ import annotations

import os
import stat
import time

QUIET_SECONDS = 60.0


def stamp_dir() -> str | None:
    """The user's private directory for the stamps, made if missing; None if it is not a
    directory of ours that only we can write."""
    uid = os.getuid()
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        path = os.path.join(runtime, "spraycc")
    else:
        path = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"spraycc-notices-{uid}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o022:
        return None
    return path


def first_in_build(kind: str) -> bool:
    """Whether this runner says the `kind` notice: no runner of this build has met it in the
    last QUIET_SECONDS. Records that this one did."""
    directory = stamp_dir()
    if directory is None:
        return True
    path = os.path.join(directory, f"{kind}-{os.getsid(0)}")
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        age = None
    except OSError:
        return True
    if age is not None:
        if age < QUIET_SECONDS:
            try:
                os.utime(path)  # the build goes on: keep it quiet
            except OSError:
                pass
            return False
        try:
            os.unlink(path)  # an earlier build's: this is a new one
        except FileNotFoundError:
            pass
        except OSError:
            return True
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        return False  # another runner of this build was first
    except OSError:
        return True
    return True
