"""The dependency direction, read from the imports: leaves at the bottom, the three roles side
by side (never importing one another), the CLI on top and imported by nothing; and the
runner's start-up path free of heavy modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SPRAYCC, running_server

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


def loaded_modules(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    """The modules `python -X importtime ARGV` imports."""
    out = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_runner_start_up_imports_only_what_one_task_needs(tmp_path: Path) -> None:
    loaded = loaded_modules(["-m", "spraycc", "run", "--local", "true"], tmp_path)
    heavy = {"typer", "click", "rich", "zmq", "msgpack", "tomllib", "json", "re", "enum",
             "typing", "dataclasses", "subprocess", "logging", "socket", "selectors",
             "platformdirs", "fnmatch", "shlex", "tempfile"}
    roles = {f"spraycc.{m}" for m in ("broker", "server", "executor", "cli", "cluster",
                                      "history", "transport", "auth", "status")}
    assert not loaded & heavy, f"runner imports {sorted(loaded & heavy)}"
    assert not loaded & roles, f"runner imports {sorted(loaded & roles)}"


# What a remote compile loads, exactly: any new module here costs every compile ~0.1-0.4 ms, so
# adding one is a decision. Placement rules, masquerade and float packing stay out of the way.
REMOTE_PATH = {"spraycc", "spraycc.entry", "spraycc.runner", "spraycc.step.placement", "spraycc.step.inputs",
               "spraycc.step.classify", "spraycc.step.flags", "spraycc.step.cmdline", "spraycc.step.compilers",
               "spraycc.wire.serverfile", "spraycc.step.taskkey", "spraycc.errors", "spraycc.wire.protocol",
               "spraycc.wire.minipack", "spraycc.wire.zmtp"}
# Beyond what the interpreter loads for `pass`: the only extension module is _socket (a
# shared library on builds with a shared libpython, whose dlopen alone costs ~0.3 ms).
REMOTE_EXTRA = {"_socket", "__future__", "_signal", "gc"}  # gc is built in


@pytest.mark.timeout(60)
def test_remote_compile_loads_only_its_own_path(workspace: Path, env: dict[str, str]) -> None:
    (workspace / "a.c").write_text("int a;\n")
    with running_server(workspace, env):
        loaded = loaded_modules([SPRAYCC, "run", "gcc", "-c", "a.c", "-o", "a.o"], workspace, env)
    assert (workspace / "a.o").read_bytes()[:4] == b"\x7fELF"
    floor = loaded_modules(["-c", "pass"], workspace, env)
    spraycc = {m for m in loaded if m.split(".")[0] == "spraycc"}
    assert spraycc == REMOTE_PATH
    assert loaded - floor - spraycc <= REMOTE_EXTRA, sorted(loaded - floor - spraycc)


def test_entry_spells_the_run_name_like_masquerade() -> None:
    from spraycc import entry, masquerade

    assert entry.RUN_NAME == masquerade.RUN_NAME


def collections_during_run(tmp_path: Path, neuter: bool) -> int:
    code = ("import gc, os, sys\n"
            + ("gc.disable = gc.freeze = lambda: None\n" if neuter else "")
            + "gc.callbacks.append(lambda phase, _: phase == 'start' and os.write(2, b'gc\\n'))\n"
            "sys.argv = ['spraycc', 'run', '--local', 'true']\n"
            "from spraycc.entry import main\n"
            "main()\n")
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stderr.count("gc\n")


def test_runner_start_up_does_not_collect_while_loading(tmp_path: Path) -> None:
    # Loading the runner sets off collections that find nothing; entry holds them off.
    assert collections_during_run(tmp_path, False) < collections_during_run(tmp_path, True)
