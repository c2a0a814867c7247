"""Test harness: Debian source packages as honest third-party test inputs.

`source_package(name)` returns the .dsc of Debian's source package `name`, downloaded once
with `apt-get source --download-only NAME=VERSION` (a version the deb-src lists offer, the
installed one first) into a cache directory and reused from there (re-runs
are offline and fast). Downloading needs a deb-src entry: we write our own
/etc/apt/sources.list.d/spraycc-tests-src.sources (a copy of debian.sources with
`Types: deb-src`) and refresh only that list. `extract(dsc, dest)` unpacks a fresh tree with
`dpkg-source -x` (Debian's patches applied).

Every failure to obtain the source (not root, no network, apt errors) raises `Unavailable`
with a one-line reason, which the tests turn into a skip. Nothing is vendored into the repo.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

OUR_LIST = Path("/etc/apt/sources.list.d/spraycc-tests-src.sources")
DEBIAN_LIST = Path("/etc/apt/sources.list.d/debian.sources")


class Unavailable(Exception):
    """The source package cannot be had here; the message says why (a skip reason)."""


def cache_dir() -> Path:
    """$SPRAYCC_TEST_CACHE, else /var/cache/spraycc-tests for root, else ~/.cache/..."""
    env = os.environ.get("SPRAYCC_TEST_CACHE")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/spraycc-tests")
    return Path.home() / ".cache" / "spraycc-tests"


def source_package(name: str) -> Path:
    """The .dsc of source package `name` in the cache, downloading it on first use."""
    where = cache_dir() / "debian" / name
    found = sorted(where.glob(f"{name}_*.dsc"))
    if found:
        return found[-1]
    if os.geteuid() != 0:
        raise Unavailable(f"{name} is not cached in {where} and fetching it needs root")
    _ensure_deb_src()
    where.mkdir(parents=True, exist_ok=True)
    versions = candidate_versions(name)
    if not versions:
        raise Unavailable(f"no deb-src entry lists source package {name}")
    problems = []
    for version in versions:
        # A pinned version: unpinned, apt may pick a newer upload whose index names a
        # detached signature (.orig.tar.xz.asc) the archive does not serve; we need none
        # (dpkg-source -x runs with --no-check).
        try:
            _apt(["apt-get", "source", "--download-only", "-qq", f"{name}={version}"],
                 cwd=where, timeout=300)
        except Unavailable as exc:
            problems.append(f"{version}: {exc}")
            continue
        found = sorted(where.glob(f"{name}_*.dsc"))
        if found:
            return found[-1]
        problems.append(f"{version}: apt-get source left no .dsc in {where}")
    raise Unavailable(f"cannot fetch source package {name}: {'; '.join(problems)}")


def candidate_versions(name: str) -> list[str]:
    """The versions of source package `name` the deb-src lists offer: first the one this
    machine's installed binaries were built from, then the others in apt's order."""
    r = subprocess.run(["apt-cache", "showsrc", "--only-source", name], capture_output=True,
                       text=True, timeout=60, check=False)
    offered = [ln.split(":", 1)[1].strip() for ln in r.stdout.splitlines()
               if ln.startswith("Version:")]
    q = subprocess.run(["dpkg-query", "-W", "-f=${source:Package}\t${source:Version}\n"],
                       capture_output=True, text=True, timeout=60, check=False)
    installed = {v for s, _, v in (ln.partition("\t") for ln in q.stdout.splitlines())
                 if s == name}
    return sorted(dict.fromkeys(offered), key=lambda v: v not in installed)


def extract(dsc: Path, dest: Path) -> Path:
    """Unpack a fresh source tree at `dest` (which must not exist)."""
    r = subprocess.run(
        ["dpkg-source", "-q", "--no-check", "-x", str(dsc), str(dest)],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        raise Unavailable(f"dpkg-source -x {dsc.name} failed: {r.stderr.decode()[-300:]}")
    return dest


def _ensure_deb_src() -> None:
    """Write our deb-src list (from debian.sources) and refresh only that list."""
    if not OUR_LIST.exists():
        if not DEBIAN_LIST.exists():
            raise Unavailable(f"no {DEBIAN_LIST} to derive a deb-src entry from")
        text = DEBIAN_LIST.read_text()
        lines = ["Types: deb-src" if ln.startswith("Types:") else ln for ln in text.splitlines()]
        OUR_LIST.write_text("\n".join(lines) + "\n")
    _apt(
        ["apt-get", "update", "-qq",
         "-o", f"Dir::Etc::sourcelist={OUR_LIST}", "-o", "Dir::Etc::sourceparts=-",
         "-o", "APT::Get::List-Cleanup=0"],
        cwd=Path("/"), timeout=300,
    )  # fmt: skip


def _apt(argv: list[str], cwd: Path, timeout: float) -> None:
    try:
        r = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{' '.join(argv[:2])} failed: {exc}") from None
    if r.returncode != 0:
        raise Unavailable(f"{' '.join(argv[:2])} failed: {r.stderr.decode()[-300:].strip()}")
