"""Test harness that starts real batch schedulers (and fake "hosts") on this machine.

Used by the pytest fixtures in ``harness.fixtures`` and usable from a plain script::

    import sys; sys.path.insert(0, "/work/main/tests")
    from harness.slurm import SlurmCluster
    with SlurmCluster() as cluster:
        ...

Everything here needs root; without it (or without the packages and no way to install
them) the harness raises :class:`HarnessUnavailable`, which the fixtures turn into a skip
with the reason, or a failure under CI=true (``harness.capability``).
See /work/shared/cluster/NOTES.md for the facts this code relies on.
"""

from __future__ import annotations


class HarnessError(RuntimeError):
    """The harness was available but something went wrong (daemon did not come up, ...).

    Tests should fail on this: it means the harness or the machine is broken.
    """


class HarnessUnavailable(RuntimeError):
    """The harness cannot run on this machine (not root, packages not installable, ...).

    The reason is in ``str(exc)``; fixtures pass it to ``capability.unavailable``: a skip,
    or a failure under CI=true.
    """


__all__ = ["HarnessError", "HarnessUnavailable"]
