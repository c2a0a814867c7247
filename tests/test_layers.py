"""The layout is the dependency rule (docs/architecture.md): packages whose boundaries are the
import budgets, held here as a few rules read from the imports, plus the runner's start-up path
measured with `python -X importtime`.

* spraycc/wire and spraycc/step are the runner's start-up path: the standard library only when
  loaded (a function on a rare path may import more), and from spraycc only the package root,
  errors, wire and step.
* The roles side by side: the runner, the executor and the server package never import one
  another; nothing imports the CLI layer.
* Package __init__ files cost nothing: empty (the root holds only constants).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SPRAYCC, running_server

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "spraycc"
RUNNER_PATH = ("spraycc.wire", "spraycc.step")  # packages the runner loads per compile
ROLES = {"runner": ("spraycc.runner", "spraycc.handover", "spraycc.waiter"),
         "executor": ("spraycc.executor",), "server": ("spraycc.server",)}
TOP = ("spraycc.cli", "spraycc.entry", "spraycc.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _module_level(tree: ast.AST) -> list[ast.AST]:
    """The nodes of a module outside its functions (imports there run when it is loaded)."""
    found: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(n for n in ast.iter_child_nodes(node)
                    if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))
    return found


def imports(module: str, *, loading: bool = False) -> tuple[set[str], set[str]]:
    """(spraycc modules, other top-level modules) that `module` imports anywhere in it, or with
    `loading` only those imported when it is loaded (not inside its functions)."""
    ours: set[str] = set()
    others: set[str] = set()
    tree = ast.parse(MODULES[module].read_text())
    for node in _module_level(tree) if loading else ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module.split(".")[0] != "spraycc":
                others.add(node.module.split(".")[0])
                continue
            for alias in node.names:  # `from spraycc.wire import protocol`: a module
                full = f"{node.module}.{alias.name}"
                ours.add(full if full in MODULES else node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                (ours if top == "spraycc" else others).add(
                    alias.name if top == "spraycc" else top)
    return ours, others


@pytest.mark.parametrize("module", [m for m in MODULES if under(m, RUNNER_PATH)])
def test_runner_path_packages_use_the_standard_library_only(module: str) -> None:
    others = imports(module, loading=True)[1]  # a rare path (key generation) may load more
    assert others <= set(sys.stdlib_module_names), f"{module} imports {others}"
    ours = imports(module)[0]
    allowed = ("spraycc.errors", "spraycc.oslite", *RUNNER_PATH)
    assert all(m == "spraycc" or under(m, allowed) for m in ours), f"{module} imports {ours}"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_roles_do_not_import_each_other(role: str) -> None:
    others = tuple(p for r, ps in ROLES.items() if r != role for p in ps)
    for module in [m for m in MODULES if under(m, ROLES[role])]:
        bad = {m for m in imports(module)[0] if under(m, others)}
        assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_below_imports_the_cli(module: str) -> None:
    if under(module, TOP):
        return
    bad = {m for m in imports(module)[0] if under(m, TOP)}
    assert not bad, f"{module} imports the CLI layer: {bad}"


def test_package_init_files_cost_nothing() -> None:
    for path in PKG.rglob("__init__.py"):
        if path.parent == PKG:  # the root: a docstring and constants, no import
            tree = ast.parse(path.read_text())
            assert all(isinstance(n, (ast.Expr, ast.Assign)) for n in tree.body), path
        else:
            assert path.read_text() == "", f"{path} is not empty"


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
    roles = ("spraycc.server", "spraycc.executor", "spraycc.cli", "spraycc.net",
             "spraycc.forecast", "spraycc.status")
    assert not loaded & heavy, f"runner imports {sorted(loaded & heavy)}"
    bad = sorted(m for m in loaded if under(m, roles))
    assert not bad, f"runner imports {bad}"


# What a remote compile loads, exactly: any new module here costs every compile ~0.1-0.4 ms, so
# adding one is a decision. Placement rules, masquerade and float packing stay out of the way;
# the input check (inputs) comes in only once the result has arrived.
REMOTE_PATH = {"spraycc", "spraycc.entry", "spraycc.runner", "spraycc.errors", "spraycc.oslite",
               "spraycc.step", "spraycc.step.placement", "spraycc.step.decision",
               "spraycc.step.classify", "spraycc.step.flags", "spraycc.step.cmdline",
               "spraycc.step.compilers", "spraycc.step.taskkey", "spraycc.step.inputs",
               "spraycc.wire", "spraycc.wire.serverfile", "spraycc.wire.messages",
               "spraycc.wire.minipack", "spraycc.wire.zmtp"}
# What `spraycc run --remote CMD` loads: no classifier (and no input check), so each of the
# thousand runners a `make -j1000` keeps waiting holds less (docs/usage.md, "What each compile
# costs").
FORCED_PATH = REMOTE_PATH - {"spraycc.step.classify", "spraycc.step.flags",
                             "spraycc.step.cmdline", "spraycc.step.compilers",
                             "spraycc.step.inputs"}
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


@pytest.mark.timeout(60)
def test_forced_remote_step_loads_no_classifier(workspace: Path, env: dict[str, str]) -> None:
    with running_server(workspace, env):
        loaded = loaded_modules([SPRAYCC, "run", "--remote", "--output", "out.txt", "sh", "-c",
                                 'echo made > "$SPRAYCC_OUTPUT_DIR/out.txt"'], workspace, env)
    assert (workspace / "out.txt").read_text() == "made\n"
    floor = loaded_modules(["-c", "pass"], workspace, env)
    spraycc = {m for m in loaded if m.split(".")[0] == "spraycc"}
    assert spraycc == FORCED_PATH, sorted(spraycc ^ FORCED_PATH)
    assert len(FORCED_PATH) == 14
    assert loaded - floor - spraycc <= REMOTE_EXTRA, sorted(loaded - floor - spraycc)


@pytest.mark.timeout(60)
def test_forced_remote_step_under_the_launcher_loads_no_os(workspace: Path,
                                                          env: dict[str, str]) -> None:
    # The spraycc-run launcher's interpreter (-I -S) has not loaded os: a waiting runner that
    # loaded it would hold ~180 kB more (spraycc/oslite.py).
    code = (f"import sys\nsys.path[:0] = [{str(ROOT)!r}]\n"
            "sys.argv = ['spraycc-run', '--remote', '--output', 'out.txt', 'sh', '-c', "
            "'echo made > \"$SPRAYCC_OUTPUT_DIR/out.txt\"']\n"
            "from spraycc.entry import main\nmain()\n")
    with running_server(workspace, env):
        loaded = loaded_modules(["-I", "-S", "-c", code], workspace, env)
    assert (workspace / "out.txt").read_text() == "made\n"
    assert {m for m in loaded if m.split(".")[0] == "spraycc"} == FORCED_PATH
    assert not loaded & {"os", "posixpath", "stat", "_collections_abc"}, sorted(loaded)


@pytest.mark.timeout(60)
def test_link_loads_no_classifier(workspace: Path, env: dict[str, str]) -> None:
    # A link asks for its local slot without classifying (spraycc.step.placement,
    # certainly_local): what it loads is the forced-remote path's.
    (workspace / "a.c").write_text("int main(void) { return 0; }\n")
    assert subprocess.run(["gcc", "-c", "a.c"], cwd=workspace, timeout=60).returncode == 0
    with running_server(workspace, env):
        loaded = loaded_modules([SPRAYCC, "run", "gcc", "a.o", "-o", "prog"], workspace, env)
    assert (workspace / "prog").read_bytes()[:4] == b"\x7fELF"
    spraycc = {m for m in loaded if m.split(".")[0] == "spraycc"}
    assert spraycc == FORCED_PATH, sorted(spraycc ^ FORCED_PATH)


# The tiny process a long-queued runner waits in (spraycc/waiter.py): beyond what `python -I -S`
# loads for `pass`, only the package root, itself and select; the runner comes back only when
# the waiter hands the step back (spraycc.handover.resume).
WAITER_EXTRA = {"spraycc", "spraycc.waiter", "select"}


def test_the_waiter_loads_only_itself(tmp_path: Path) -> None:
    code = f"import sys\nsys.path[:0] = [{str(ROOT)!r}]\nimport spraycc.waiter\n"
    loaded = loaded_modules(["-I", "-S", "-c", code], tmp_path)
    floor = loaded_modules(["-I", "-S", "-c", "pass"], tmp_path)
    assert loaded - floor == WAITER_EXTRA, sorted(loaded - floor)
    assert imports("spraycc.waiter", loading=True)[0] == set()


def test_local_step_loads_no_classifier(tmp_path: Path) -> None:
    loaded = loaded_modules(["-m", "spraycc", "run", "--local", "true"], tmp_path)
    assert not loaded & {"spraycc.step.classify", "spraycc.step.flags", "spraycc.step.cmdline",
                         "spraycc.step.compilers", "spraycc.step.inputs"}, sorted(loaded)


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
