"""The dependency direction, read from the imports: leaves at the bottom, the three roles side
by side (never importing one another), the CLI on top and imported by nothing; and the
runner's start-up path free of heavy modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "spraycc"
ROLES = {"runner", "broker", "server", "executor"}
TOP = {"cli", "entry", "__main__"}


def spraycc_imports(module: str) -> set[str]:
    """spraycc modules imported anywhere in `module` (top level or inside functions)."""
    tree = ast.parse((PKG / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "spraycc":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("spraycc."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("spraycc."):
                    found.add(alias.name.split(".")[1])
    return found - {"__version__"}


MODULES = sorted(p.stem for p in PKG.glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", sorted(ROLES))
def test_roles_do_not_import_each_other(module: str) -> None:
    others = spraycc_imports(module) & ROLES - {module}
    if module == "server":  # the server process owns the broker: that is its job
        assert others <= {"broker"}
    else:
        assert not others, f"{module} imports {others}"


@pytest.mark.parametrize("module", MODULES)
def test_nothing_below_imports_the_cli(module: str) -> None:
    if module in TOP:
        return
    assert not spraycc_imports(module) & TOP, f"{module} imports the CLI layer"


def test_runner_start_up_imports_only_what_one_task_needs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "spraycc", "run", "--local", "true"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    loaded = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines()
              if line.startswith("import time:") and "|" in line}
    heavy = {"typer", "click", "rich", "zmq", "msgpack", "tomllib", "json", "re", "enum",
             "typing", "dataclasses", "subprocess", "logging", "socket", "selectors",
             "platformdirs", "fnmatch", "shlex", "tempfile"}
    roles = {f"spraycc.{m}" for m in ("broker", "server", "executor", "cli", "cluster",
                                      "history", "transport", "auth", "status")}
    assert not loaded & heavy, f"runner imports {sorted(loaded & heavy)}"
    assert not loaded & roles, f"runner imports {sorted(loaded & roles)}"
