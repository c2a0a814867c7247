"""pytest fixture for the real-Grid-Engine harness (``harness.sge``).

``sge_cluster``: session-scoped, one host (this machine), queues ``all.q`` (16 slots) and
``full.q`` (0 slots: jobs stay pending). After each test that uses it, the jobs it left are
deleted. It may run in the same session as the Slurm fixtures: the two share no port, file or
directory.

Harness unavailable (not root, packages not installable, a foreign Grid Engine running): the
test is skipped with the reason, except under CI=true, where it fails: CI must run it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import HarnessUnavailable
from .capability import unavailable
from .sge import SgeCluster

__all__ = ["_sge_jobs_cleaned", "sge_cluster"]


@pytest.fixture(scope="session")
def sge_cluster() -> Iterator[SgeCluster]:
    """A private single-host Grid Engine."""
    cluster = SgeCluster()
    try:
        cluster.start()
    except HarnessUnavailable as exc:
        unavailable(f"real Grid Engine unavailable: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def _sge_jobs_cleaned(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sge_cluster" in request.fixturenames:
        cluster: SgeCluster = request.getfixturevalue("sge_cluster")
        if cluster.running:
            cluster.delete_all()
