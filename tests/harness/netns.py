"""Network-namespace "hosts": one machine posing as N cluster hosts with their own IPs.

Creates a bridge holding ``<subnet>.1`` in the root namespace and one namespace per host
``host1..hostN`` at ``<subnet>.11``, ``.12``, ... each wired to the bridge by a veth pair.
Nothing leaves the subnet: the namespaces get no default route and forwarding stays off.

The names and the subnet are chosen free when the hosts start (not fixed): the first ``K``
for which bridge ``spraycc-brK``, namespaces ``sprayccK-hostI`` and veths ``spvK-hostI`` are
all unused, and the first ``10.231.X.0/24`` (X = 0, 1, ...) that no route or address on the
machine overlaps. A fixed ``subnet`` may still be asked for.

Safety rules (NOTES.md): never reuse a bridge, namespace or veth we did not create, refuse a
subnet that is already routed or addressed on the machine, delete only what we created. What we
created is recorded in a state file, so a later run can clean up after a crashed one.

Processes run inside a host via ``nsenter --net=/run/netns/hostN`` (not ``ip netns exec``,
which remounts /sys and breaks slurmd's cgroup probing).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import HarnessError, HarnessUnavailable
from ._util import pid_alive, require_root, require_tools, run

log = logging.getLogger(__name__)

BRIDGE_PREFIX = "spraycc-br"
SUBNETS = [f"10.231.{x}" for x in range(256)]
STATE_DIR = Path("/run/spraycc-netns")
NETNS_DIR = Path("/run/netns")


def _links() -> set[str]:
    out = run(["ip", "-j", "link", "show"]).stdout
    return {link["ifname"] for link in json.loads(out or "[]")}


def _namespaces() -> set[str]:
    out = run(["ip", "-j", "netns", "list"]).stdout
    return {ns["name"] for ns in json.loads(out or "[]")}


def _subnet_in_use(net: ipaddress.IPv4Network) -> str | None:
    """Describe an existing route or address overlapping ``net``, or None if it is free."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    for r in routes:
        dst = r.get("dst", "")
        if dst in ("default", "") or r.get("type") in ("broadcast", "local", "multicast"):
            continue
        try:
            other = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if other.version == 4 and other.prefixlen > 0 and other.overlaps(net):
            return f"route {dst} dev {r.get('dev')}"
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]")
    for link in addrs:
        for a in link.get("addr_info", []):
            if ipaddress.ip_address(a["local"]) in net:
                return f"address {a['local']} on {link['ifname']}"
    return None


class NetnsHosts:
    """N namespaces ``host1..hostN`` on a private bridge; context manager.

    ``hosts`` lists the names, ``addr(host)`` the IP, ``bridge_ip`` the root side's IP
    (what a server in the root namespace binds to so the hosts can reach it: a server on
    127.0.0.1 is *not* reachable from inside a namespace).
    """

    def __init__(self, n: int, subnet: str | None = None) -> None:
        if not 1 <= n <= 50:
            raise ValueError("between 1 and 50 hosts")
        self.n = n
        self.wanted_subnet = subnet
        self._use(0, subnet or SUBNETS[0])
        self.hosts = [f"host{i}" for i in range(1, n + 1)]
        self._created: dict[str, list[str]] = {"bridge": [], "netns": [], "veth": []}
        self._state_file = STATE_DIR / "state.json"

    def _use(self, index: int, subnet: str) -> None:
        self.index = index
        self.bridge = f"{BRIDGE_PREFIX}{index}"
        self.subnet = subnet
        self.network = ipaddress.ip_network(f"{subnet}.0/24")
        self.bridge_ip = f"{subnet}.1"

    # -- addresses and processes ------------------------------------------------------------
    def addr(self, host: str) -> str:
        return f"{self.subnet}.{10 + self.hosts.index(host) + 1}"

    def ns_name(self, host: str) -> str:
        """The network namespace (under /run/netns) posing as `host`."""
        return f"spraycc{self.index}-{host}"

    def veth(self, host: str) -> str:
        return f"spv{self.index}-{host}"

    def nsenter_prefix(self, host: str) -> list[str]:
        if host not in self.hosts:
            raise ValueError(f"unknown host {host!r}")
        return ["nsenter", f"--net={NETNS_DIR / self.ns_name(host)}"]

    def run(self, host: str, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess:
        """subprocess.run of ``argv`` inside ``host``'s network namespace."""
        return subprocess.run([*self.nsenter_prefix(host), *argv], check=False, **kwargs)

    def popen(self, host: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
        """subprocess.Popen of ``argv`` inside ``host``'s network namespace."""
        return subprocess.Popen([*self.nsenter_prefix(host), *argv], **kwargs)

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> NetnsHosts:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        require_root("network namespaces")
        require_tools("ip", "nsenter")
        self.cleanup_stale()
        self._choose_free()
        try:
            self._create()
        except Exception:
            self.stop()
            raise

    def _choose_free(self) -> None:
        """Names nobody uses (never reusing another's bridge, namespace or veth) and a
        subnet no route or address overlaps."""
        links, spaces = _links(), _namespaces()
        for index in range(100):
            self._use(index, self.subnet)
            if self.bridge not in links and not any(
                    self.ns_name(h) in spaces or self.veth(h) in links for h in self.hosts):
                break
        else:
            raise HarnessUnavailable(f"no free {BRIDGE_PREFIX}K name among K = 0..99")
        if self.wanted_subnet:
            used = _subnet_in_use(self.network)
            if used:
                raise HarnessUnavailable(f"subnet {self.network} already in use ({used})")
            return
        for subnet in SUBNETS:
            self._use(index, subnet)
            if _subnet_in_use(self.network) is None:
                return
        raise HarnessUnavailable(f"every subnet {SUBNETS[0]}.0/24 .. {SUBNETS[-1]}.0/24 is in use")

    def _record(self, kind: str, name: str) -> None:
        self._created[kind].append(name)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"owner": os.getpid(), **self._created}))
        os.replace(tmp, self._state_file)

    def _create(self) -> None:
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._record("bridge", self.bridge)
        run(["ip", "addr", "add", f"{self.bridge_ip}/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        for host in self.hosts:
            ns, veth = self.ns_name(host), self.veth(host)
            run(["ip", "netns", "add", ns])
            self._record("netns", ns)
            run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
            self._record("veth", veth)
            run(["ip", "link", "set", veth, "master", self.bridge, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{self.addr(host)}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        log.info("netns hosts %s up on %s (bridge %s)", self.hosts, self.network, self.bridge)

    def stop(self) -> None:
        """Delete what we created (namespaces first: that removes their veth pairs)."""
        if not any(self._created.values()):
            return  # nothing of ours: in particular, leave another owner's state file alone
        self._delete(self._created)
        self._created = {"bridge": [], "netns": [], "veth": []}
        self._state_file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            STATE_DIR.rmdir()

    @staticmethod
    def _delete(created: dict[str, list[str]]) -> None:
        spaces = _namespaces()
        for ns in created.get("netns", []):
            if ns in spaces:
                run(["ip", "netns", "del", ns], check=False)
        # A namespace kept alive by a leftover process keeps its end of the veth, so the root
        # end survives the namespace's deletion: remove it explicitly.
        links = _links()
        for name in [*created.get("veth", []), *created.get("bridge", [])]:
            if name in links:
                run(["ip", "link", "del", name], check=False)

    @classmethod
    def cleanup_stale(cls) -> None:
        """Remove what a crashed earlier run recorded in the state file (only that)."""
        state_file = STATE_DIR / "state.json"
        try:
            created = json.loads(state_file.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise HarnessError(f"unreadable netns state file {state_file}: {exc}") from exc
        owner = created.pop("owner", None)
        if isinstance(owner, int) and pid_alive(owner):
            raise HarnessUnavailable(
                f"netns hosts are in use by live process {owner} (see {state_file})"
            )
        log.warning("removing netns objects left by an earlier run: %s", created)
        cls._delete(created)
        state_file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            STATE_DIR.rmdir()
