"""Network-namespace "hosts": one machine posing as N cluster hosts with their own IPs.

Creates bridge ``spraycc-br0`` holding ``<subnet>.1`` in the root namespace and namespaces
``host1..hostN`` at ``<subnet>.11``, ``.12``, ... each wired to the bridge by a veth pair.
Nothing leaves the subnet: the namespaces get no default route and forwarding stays off.

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

BRIDGE = "spraycc-br0"
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

    def __init__(self, n: int, subnet: str = "10.231.0") -> None:
        if not 1 <= n <= 50:
            raise ValueError("between 1 and 50 hosts")
        self.n = n
        self.subnet = subnet
        self.network = ipaddress.ip_network(f"{subnet}.0/24")
        self.bridge_ip = f"{subnet}.1"
        self.hosts = [f"host{i}" for i in range(1, n + 1)]
        self._created: dict[str, list[str]] = {"bridge": [], "netns": [], "veth": []}
        self._state_file = STATE_DIR / "state.json"

    # -- addresses and processes ------------------------------------------------------------
    def addr(self, host: str) -> str:
        return f"{self.subnet}.{10 + self.hosts.index(host) + 1}"

    def nsenter_prefix(self, host: str) -> list[str]:
        if host not in self.hosts:
            raise ValueError(f"unknown host {host!r}")
        return ["nsenter", f"--net={NETNS_DIR / host}"]

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
        links, spaces = _links(), _namespaces()
        if BRIDGE in links:
            raise HarnessUnavailable(
                f"bridge {BRIDGE} exists and was not created by this harness: refusing to reuse it"
            )
        taken = [h for h in self.hosts if h in spaces] + [
            f"spv-{h}" for h in self.hosts if f"spv-{h}" in links
        ]
        if taken:
            raise HarnessUnavailable(
                f"{', '.join(taken)} exist(s) and were not created by "
                "this harness: refusing to reuse them"
            )
        used = _subnet_in_use(self.network)
        if used:
            raise HarnessUnavailable(f"subnet {self.network} already in use ({used})")
        try:
            self._create()
        except Exception:
            self.stop()
            raise

    def _record(self, kind: str, name: str) -> None:
        self._created[kind].append(name)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"owner": os.getpid(), **self._created}))
        os.replace(tmp, self._state_file)

    def _create(self) -> None:
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
        self._record("bridge", BRIDGE)
        run(["ip", "addr", "add", f"{self.bridge_ip}/24", "dev", BRIDGE])
        run(["ip", "link", "set", BRIDGE, "up"])
        for host in self.hosts:
            run(["ip", "netns", "add", host])
            self._record("netns", host)
            veth = f"spv-{host}"
            run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host])
            self._record("veth", veth)
            run(["ip", "link", "set", veth, "master", BRIDGE, "up"])
            run(["ip", "-n", host, "link", "set", "lo", "up"])
            run(["ip", "-n", host, "addr", "add", f"{self.addr(host)}/24", "dev", "eth0"])
            run(["ip", "-n", host, "link", "set", "eth0", "up"])
        log.info("netns hosts %s up on %s", self.hosts, self.network)

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
