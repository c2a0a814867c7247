"""Shared fixtures: an isolated environment and workspace for real end-to-end runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import base_env

# real Slurm and Grid Engine started by the harness; spraycc installed from a wheel
pytest_plugins = ["harness.fixtures", "harness.sge_fixtures", "newuser"]

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """os.environ with HOME and spraycc's files moved into the test's tmp dir."""
    return base_env(tmp_path)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


def copy_demo(dest: Path) -> Path:
    """A fresh copy of the example project (sources only)."""
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns("build", "build*"))
    return dest
