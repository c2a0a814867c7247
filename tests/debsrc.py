"""Test harness: Debian source packages as honest third-party test inputs.

`source_package(name)` returns the .dsc of Debian's source package `name`, downloaded once
with `apt-get source --download-only` into a cache directory and reused from there (re-runs
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
    _apt(["apt-get", "source", "--download-only", "-qq", name], cwd=where, timeout=300)
    found = sorted(where.glob(f"{name}_*.dsc"))
    if not found:
        raise Unavailable(f"apt-get source {name} left no .dsc in {where}")
    return found[-1]


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
