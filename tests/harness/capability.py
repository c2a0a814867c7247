"""One rule for a capability the README promises (a real Slurm, a real Grid Engine, the
`nobody` user test, the Debian source build) that cannot run on this machine.

Outside CI the test is skipped and pytest prints the reason (``-ra``); under ``CI=true``
(``.ci/run`` exports it) it fails: CI has root and the packages, so a capability it cannot
run is a broken machine or a broken harness, never something to pass over quietly.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`, or fail with it under CI=true."""
    if under_ci():
        pytest.fail(f"unavailable under CI=true (must run there): {reason}", pytrace=False)
    pytest.skip(reason)
