"""spraycc as a new user gets it: a wheel built from this checkout, installed into a fresh venv.

``installed`` (session-scoped) builds the wheel with ``pip wheel --no-deps .`` from a copy of
the checkout's files (so the build writes nothing into the checkout), makes a venv outside
the source tree and installs the wheel with its dependencies from the package index, as
``pip install spraycc-*.whl`` would for a user (pip's own cache makes repeats fast). Nothing
of the checkout is importable from that venv: what the tests run is what the wheel holds.

``new_user`` (per test) gives a fresh HOME with empty XDG directories, a working directory
outside the source tree, and an environment whose PATH starts with the installed venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import ServerProc, running_server

ROOT = Path(__file__).resolve().parent.parent
# What a wheel is built from: the checkout minus caches, venvs and earlier build output.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "__pycache__", "build", "dist",
                                     "*.egg-info", ".pytest_cache", ".ruff_cache", "bench",
                                     "tests", ".spraycc_server")
BUILD_TIMEOUT = 600  # seconds: the first run may download setuptools and the dependencies


@dataclass
class Installed:
    """The wheel and the venv it was installed into."""

    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    @property
    def spraycc(self) -> str:
        return str(self.bin / "spraycc")

    @property
    def python(self) -> str:
        return str(self.bin / "python")


@dataclass
class NewUser:
    """One test's user: a fresh HOME, a cwd outside the checkout, the installed spraycc."""

    installed: Installed
    home: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def spraycc(self) -> str:
        return self.installed.spraycc

    def run(self, *args: str | bytes, cwd: Path | bytes | None = None, timeout: float = 120,
            env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[bytes]:
        """`spraycc ARGS...` as this user, stdin closed, output captured."""
        return subprocess.run([self.spraycc, *args], cwd=cwd or self.cwd, env=env or self.env,
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              **kw)  # type: ignore[call-overload]

    @property
    def state(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"]) / "spraycc"

    @property
    def log_file(self) -> Path:
        return self.state / "log" / "server.log"

    def server(self, workspace: Path | bytes, *args: str) -> ServerProc:
        """A `spraycc server` of this user (not waited for: see `serving`)."""
        return ServerProc(workspace, self.env, list(args), self.spraycc)

    def serving(self, workspace: Path | bytes, *args: str) -> AbstractContextManager[ServerProc]:
        """A live server in `workspace`, stopped (SIGTERM, by its PID) afterwards."""
        return running_server(workspace, self.env, *args, spraycc=self.spraycc)


def _pip(python: str, *args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_TARGET", "PYTHON"))}
    r = subprocess.run([python, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                       cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if r.returncode != 0:
        raise AssertionError(f"pip {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    top = tmp_path_factory.mktemp("newuser")
    src = top / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCES, symlinks=True)
    wheels = top / "wheels"
    _pip(sys.executable, "wheel", "--no-deps", "-w", str(wheels), ".", cwd=src)
    wheel = next(wheels.glob("spraycc-*.whl"))
    venv = top / "venv"
    # The base interpreter, not this venv's: a user's venv knows nothing of ours.
    base = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base), "-m", "venv", str(venv)], check=True, timeout=BUILD_TIMEOUT)
    _pip(str(venv / "bin" / "python"), "install", str(wheel), cwd=top)
    shutil.rmtree(src)
    return Installed(wheel, venv)


def user_env(home: Path, installed: Installed) -> dict[str, str]:
    """os.environ with a fresh HOME and XDG directories and the installed venv first on PATH;
    no spraycc variable of ours leaks in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPRAYCC_", "XDG_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_RUNTIME_DIR=str(home / "run"),
        PATH=f"{installed.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    )
    return env


@pytest.fixture
def new_user(installed: Installed, tmp_path: Path) -> Iterator[NewUser]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "run").mkdir(mode=0o700)
    cwd = tmp_path / "work"
    cwd.mkdir()
    assert not cwd.is_relative_to(ROOT)
    yield NewUser(installed, home, cwd, user_env(home, installed))
