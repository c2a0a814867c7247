"""pytest fixtures for the real-Slurm harness; import them into tests/conftest.py::

    from harness.fixtures import *  # noqa: F403  (or: pytest_plugins = ["harness.fixtures"])

``slurm_cluster``: session-scoped, single node ``localhost`` (16 CPUs), partitions ``debug``
(default) and ``full`` (no free CPUs: jobs stay PENDING until ``release_full()``).
``slurm_netns_cluster``: session-scoped, nodes ``host1..host3`` in network namespaces
(16 CPUs each), partitions ``debug`` (default, spread with LLN) and ``full`` (on ``host3``);
jobs reach the test only at ``cluster.callback_host`` (the bridge's address), not 127.0.0.1.

Both use the harness's one Slurm (its own SLURM_CONF and run directory, ports chosen free at
start), so only one runs at a time: a pool keeps the one last used and, when a test asks for
the other, stops it and
starts the other (~3.5 s: start() waits for slurmctld's first scheduling pass, so every job a
test submits starts on the next 1 s tick). The session fixture objects stay valid: the autouse
fixture below restarts the requested cluster in place before each test that uses it. After each
such test, jobs it left are cancelled and a lost blocker is restored, so tests do not see each
other's jobs. Group tests by cluster kind to avoid switching back and forth.

Not root, packages not installable, another live run of the harness (HarnessUnavailable): the
test is skipped with the reason, except under CI=true, where it fails (harness.capability).
A cluster that fails to come up (HarnessError: a daemon that will not start, ...) fails the
test, in CI and out. Either is remembered per kind: a netns problem does not touch the
single-node cluster's tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import HarnessError, HarnessUnavailable
from .capability import unavailable
from .slurm import Partition, SlurmCluster

__all__ = ["_slurm_active", "_slurm_pool", "slurm_cluster", "slurm_netns_cluster"]

KINDS = ("slurm_cluster", "slurm_netns_cluster")


def _make(kind: str) -> SlurmCluster:
    if kind == "slurm_cluster":
        return SlurmCluster(
            cpus=16,
            warm_up=True,
            partitions=[Partition("debug", default=True), Partition("full", full=True)],
        )
    return SlurmCluster(
        netns_hosts=3,
        cpus=16,
        warm_up=True,
        partitions=[
            Partition("debug", default=True),
            Partition("full", nodes=("host3",), full=True),
        ],
    )


class SlurmPool:
    """At most one running cluster; ``activate(kind)`` switches, remembering per kind why a
    cluster could not start (the next test of that kind is told the same at once)."""

    def __init__(self) -> None:
        self.clusters: dict[str, SlurmCluster] = {}
        self.active: str | None = None
        self.unavailable: dict[str, str] = {}
        self.broken: dict[str, str] = {}

    def get(self, kind: str) -> SlurmCluster:
        if kind not in self.clusters:
            self.clusters[kind] = _make(kind)
        return self.clusters[kind]

    def activate(self, kind: str) -> SlurmCluster:
        if kind in self.unavailable:
            unavailable(self.unavailable[kind])
        if kind in self.broken:
            pytest.fail(self.broken[kind], pytrace=False)
        cluster = self.get(kind)
        if self.active == kind and cluster.healthy():
            cluster.restore_full()
            return cluster
        for other in self.clusters.values():
            other.stop()
        self.active = None
        try:
            cluster.start()
        except HarnessUnavailable as exc:
            self.unavailable[kind] = f"real Slurm ({kind}) unavailable: {exc}"
            unavailable(self.unavailable[kind])
        except HarnessError as exc:
            self.broken[kind] = f"real Slurm ({kind}) did not come up: {exc}"
            raise
        self.active = kind
        return cluster

    def close(self) -> None:
        for cluster in self.clusters.values():
            cluster.stop()
        self.active = None


@pytest.fixture(scope="session")
def _slurm_pool() -> Iterator[SlurmPool]:
    pool = SlurmPool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def slurm_cluster(_slurm_pool: SlurmPool) -> SlurmCluster:
    """A private single-node Slurm: node ``localhost``, partitions ``debug`` and ``full``."""
    return _slurm_pool.activate("slurm_cluster")


@pytest.fixture(scope="session")
def slurm_netns_cluster(_slurm_pool: SlurmPool) -> SlurmCluster:
    """A private Slurm over 3 network-namespace hosts (``node_addr``: 10.231.X.11-13)."""
    return _slurm_pool.activate("slurm_netns_cluster")


@pytest.fixture(autouse=True)
def _slurm_active(request: pytest.FixtureRequest) -> Iterator[None]:
    """Make sure the cluster this test asked for is the one running; clean up its jobs after."""
    wanted = [k for k in KINDS if k in request.fixturenames]
    if not wanted:
        yield
        return
    if len(wanted) > 1:
        pytest.fail("a test cannot use slurm_cluster and slurm_netns_cluster at once")
    pool: SlurmPool = request.getfixturevalue("_slurm_pool")
    cluster = pool.activate(wanted[0])
    request.getfixturevalue(wanted[0])  # the session object is `cluster`, now running
    yield
    if cluster.running:
        try:
            cluster.cancel_all()
        except HarnessError as exc:  # leave it to the next activate(): it restarts if unhealthy
            pool.active = None
            raise HarnessError(f"jobs left by the test would not go away: {exc}") from exc
