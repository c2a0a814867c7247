"""What a new user meets in the first hour, run as one: spraycc installed from a wheel into a
fresh venv (see `newuser`), a fresh HOME, a working directory outside the checkout."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
from helpers import executor_pids, wait_for
from newuser import ROOT, NewUser

from spraycc import __version__
from spraycc.userinit import SAMPLE_SPRAYCC, SCHEDULERS

# ---- the conf/ samples are in the wheel -----------------------------------------------------


def test_init_finds_the_samples_in_the_installed_package(new_user: NewUser) -> None:
    r = new_user.run("init")
    assert r.returncode == 0, r.stderr.decode()
    samples = [line for line in r.stdout.decode().splitlines() if line.split()[:1] == ["samples"]]
    assert len(samples) == 1 and samples[0].endswith("[present]"), samples
    assert str(new_user.installed.venv) in samples[0]  # the wheel's copy, not the checkout's


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_init_writes_every_sample_from_the_wheel(new_user: NewUser, scheduler: str) -> None:
    dest = new_user.home / f"{scheduler}.toml"
    r = new_user.run("init", "--scheduler", scheduler, "--config", str(dest))
    assert r.returncode == 0, r.stderr.decode()
    want = (ROOT / "conf" / f"{scheduler}.toml").read_text()
    assert dest.read_text() == want.replace(SAMPLE_SPRAYCC, new_user.spraycc)
    assert tomllib.loads(dest.read_text()).get("scheduler") == scheduler


# ---- the conventions of ccache, sccache and distcc ------------------------------------------

COMMANDS = ("server", "exec", "run", "explain", "status", "stop", "init", "history", "stats",
            "version")


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag(new_user: NewUser, flag: str) -> None:
    r = new_user.run(flag)
    assert (r.returncode, r.stdout.decode(), r.stderr) == (0, f"{__version__}\n", b"")


def test_run_help_is_one_usage_that_explains_the_options(new_user: NewUser) -> None:
    for flag in ("--help", "-h"):
        r = new_user.run("run", flag)
        assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()
        out = r.stdout.decode()
        assert out.count("usage:") == 1 and out.startswith("usage: spraycc run "), out
        for option in ("--local", "--remote", "--output PATH", "--timeout S", "-v, --verbose"):
            assert f"\n  {option} " in out, (option, out)
    # After the command, --help is the command's own.
    r = new_user.run("run", "--local", "sh", "-c", 'echo "$1"', "sh", "--help")
    assert (r.returncode, r.stdout) == (0, b"--help\n")


def test_explain_help_is_its_own(new_user: NewUser) -> None:
    r = new_user.run("explain", "--help")
    assert r.returncode == 0 and r.stderr == b""
    out = r.stdout.decode()
    assert out.startswith("usage: spraycc explain ") and "spraycc run [" not in out, out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_exits_0_and_shows_no_type_for_flags(new_user: NewUser, command: str) -> None:
    r = new_user.run(command, "--help")
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout and b"<bool>" not in r.stdout, r.stdout.decode()


def test_shell_completion(new_user: NewUser) -> None:
    # The script `--show-completion` prints for bash (typer picks the shell from the parent
    # process, which under CI may be sh, so the test asks for bash's script by its variable).
    r = new_user.run(env=dict(new_user.env, _SPRAYCC_COMPLETE="source_bash"))
    assert r.returncode == 0 and b"_SPRAYCC_COMPLETE" in r.stdout, r.stdout.decode()
    # What bash asks when the user types `spraycc st<TAB>`.
    r = new_user.run(env=dict(new_user.env, COMP_WORDS="spraycc st", COMP_CWORD="1",
                              _SPRAYCC_COMPLETE="complete_bash"))
    assert r.returncode == 0 and sorted(r.stdout.split()) == [b"stats", b"status", b"stop"], r
    r = new_user.run(env=dict(new_user.env, COMP_WORDS="spraycc history --ma", COMP_CWORD="2",
                              _SPRAYCC_COMPLETE="complete_bash"))
    assert r.stdout.split() == [b"--match"], r


# ---- spraycc init checks the config ---------------------------------------------------------


def config_rows(out: bytes) -> dict[str, str]:
    """`config (N)` rows of `spraycc init`: path -> state."""
    rows = {}
    for line in out.decode().splitlines():
        if line.strip().startswith("config ("):
            path, _, state = line.split(")", 1)[1].strip().partition("  [")
            rows[path] = state.removesuffix("]")
    return rows


def test_init_validates_every_config_it_finds(new_user: NewUser) -> None:
    home_cfg = new_user.home / ".spraycc"
    home_cfg.write_text('start_cmdd = "sbatch"\n')
    r = new_user.run("init")
    assert r.returncode == 2 and b"Traceback" not in r.stderr
    why = "unknown key 'start_cmdd' (did you mean 'start_cmd'?)"
    assert config_rows(r.stdout)[str(home_cfg)] == f"invalid: {why}"
    assert r.stderr.decode().splitlines() == [
        f"spraycc: {home_cfg}: {why} (`spraycc server` refuses to start until it is fixed)"]
    # The same words wherever a config is loaded.
    for command in (["server"], ["history"]):
        r = new_user.run(*command, timeout=30)
        assert r.returncode == 2 and r.stderr.decode().splitlines() == [
            f"spraycc: {home_cfg}: {why}"], r.stderr.decode()
    # A valid workspace config shadows the broken one: init says both, and succeeds.
    ws_cfg = new_user.cwd / ".spraycc"
    ws_cfg.write_text("max_count = 4\n")
    r = new_user.run("init")
    assert r.returncode == 0, r.stderr.decode()
    rows = config_rows(r.stdout)
    assert rows[str(ws_cfg)] == "in use"
    assert rows[str(home_cfg)] == f"shadowed by the one above; invalid: {why}"
    ws_cfg.write_text("max_count = 0\n")
    r = new_user.run("init")
    assert r.returncode == 2
    assert config_rows(r.stdout)[str(ws_cfg)] == "invalid: key 'max_count' must be >= 1, not 0"


# ---- logs are private and hold no secret ----------------------------------------------------


def read_code(server_file: Path) -> str:
    fields = dict(line.split("=", 1) for line in server_file.read_text().splitlines())
    return fields["code"]


@pytest.mark.timeout(90)
def test_log_is_private_and_holds_no_access_code(new_user: NewUser) -> None:
    # An older spraycc left the log world-readable in a world-readable directory.
    new_user.log_file.parent.mkdir(parents=True)
    new_user.log_file.parent.chmod(0o755)
    new_user.log_file.write_text("old line\n")
    new_user.log_file.chmod(0o644)
    (new_user.cwd / "a.c").write_text("int a;\n")
    with new_user.serving(new_user.cwd, "-v") as srv:
        code = read_code(srv.server_file)
        r = new_user.run("run", "-v", "gcc", "-c", "a.c", "-o", "a.o")
        assert r.returncode == 0 and b"ran on " in r.stderr, r.stderr.decode()
        assert (new_user.log_file.stat().st_mode & 0o777) == 0o600
    terminal = srv.collect()
    log = new_user.log_file.read_text()
    assert "--code=<access code>" in terminal and "start command" in terminal
    assert " DEBUG " in log and "--code=<access code>" in log  # the debug lines were written
    assert code not in terminal and code not in log and code not in r.stderr.decode()
    assert (new_user.log_file.parent.stat().st_mode & 0o777) == 0o700
    assert (new_user.log_file.stat().st_mode & 0o777) == 0o600
    # Every line this session wrote is tagged with its id, which is named once with the
    # workspace.
    ours = log.splitlines()[1:]
    named = [line for line in ours if f": workspace {new_user.cwd}," in line]
    session = named[0].split()[3]
    assert len(named) == 1 and f"session {session}: workspace" in named[0], ours
    stamped = [line for line in ours if re.match(r"\d{4}-\d\d-\d\d ", line)]
    assert stamped and all(line.split()[3] == session for line in stamped), ours


# ---- a read-only workspace ------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_server_in_a_read_only_workspace(new_user: NewUser) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private read-only bind mount")
    assert new_user.run("init").returncode == 0  # the user key exists: one line to expect
    ws = new_user.cwd
    tmp = new_user.home / "tmp"  # the server's run directory (private ipc socket) goes here
    tmp.mkdir()
    # The workspace read-only in a mount namespace of the server's own (gone when it exits).
    script = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && cd "$1" && '
              'exec "$2" server')
    r = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", str(ws),
                        new_user.spraycc], env=dict(new_user.env, TMPDIR=str(tmp)),
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and r.stdout == b""
    assert r.stderr.decode().splitlines() == [
        f"spraycc: cannot write {ws / '.spraycc_server'}: Read-only file system; a server "
        "needs a writable workspace root (runners find it by that file)"]
    assert os.listdir(ws) == [] and os.listdir(tmp) == []  # nothing left behind


# ---- the server keeps its file ---------------------------------------------------------------


@pytest.mark.timeout(90)
def test_server_rewrites_its_removed_or_altered_file(new_user: NewUser) -> None:
    with new_user.serving(new_user.cwd) as srv:
        ours = srv.server_file.read_bytes()
        srv.server_file.unlink()
        srv.read_until(f"{srv.server_file} was removed: wrote it again")
        assert srv.server_file.read_bytes() == ours
        assert (srv.server_file.stat().st_mode & 0o777) == 0o600
        r = new_user.run("status", "--once")
        assert r.returncode == 0 and b"spraycc status" in r.stdout, r.stderr.decode()
        srv.server_file.write_text("garbage\n")  # in place: same file, other contents
        srv.read_until(f"{srv.server_file} was changed by someone else: put this server's back")
        assert srv.server_file.read_bytes() == ours
        assert srv.proc.poll() is None


@pytest.mark.timeout(90)
def test_server_replaced_by_another_servers_file_exits(new_user: NewUser) -> None:
    with new_user.serving(new_user.cwd) as srv:
        # Another live server's file (this test process stands for it): it owns the
        # workspace from now on.
        other = (f"pid={os.getpid()}\nhost={os.uname().nodename}\ncode=other\n"
                 "ipc=ipc:///nonexistent/s\n")
        tmp = new_user.cwd / "other"
        tmp.write_text(other)
        tmp.rename(srv.server_file)
        assert srv.proc.wait(timeout=30) == 1
        out = srv.collect()
    assert (f"{srv.server_file} now names another server (pid {os.getpid()} on "
            f"{os.uname().nodename}), which runners use from now on: stopping") in out
    assert "shutting down" in out and "summary:" in out  # the orderly exit
    assert srv.server_file.read_text() == other  # not removed: not ours


@pytest.mark.timeout(90)
def test_server_in_a_subdirectory_of_a_served_workspace_warns(new_user: NewUser) -> None:
    sub = new_user.cwd / "lib" / "sub"
    sub.mkdir(parents=True)
    with new_user.serving(new_user.cwd) as outer, new_user.serving(sub) as inner:
        pid = outer.proc.pid
        line = inner.read_until("serves the enclosing workspace")
        assert line == (f"spraycc: a server (pid {pid} on {os.uname().nodename}) serves the "
                        f"enclosing workspace {new_user.cwd}: runners below {sub} use this one "
                        "instead (the nearest .spraycc_server wins)")
    with new_user.serving(new_user.cwd) as alone:
        pass
    assert "enclosing workspace" not in alone.collect()


# ---- an idle server, and a build without one ------------------------------------------------

MAKEFILE = """\
SRCS := $(wildcard src/*.c)
OBJS := $(SRCS:src/%.c=obj/%.o)
all: $(OBJS)
obj/%.o: src/%.c
\t@mkdir -p obj
\t$(CC) -c $< -o $@
clean:
\trm -rf obj
"""


def small_tree(root: Path, files: int = 21) -> Path:
    (root / "src").mkdir(parents=True)
    for i in range(files):
        (root / "src" / f"f{i}.c").write_text(f"int f{i}(void) {{ return {i}; }}\n")
    (root / "Makefile").write_text(MAKEFILE)
    return root


def make(user: NewUser, root: Path, *args: str, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run(["make", "-s", "-j4", f"CC={user.spraycc} run gcc", *args], cwd=root,
                       env=env or user.env, capture_output=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr.decode()
    return r


@pytest.mark.timeout(300)
def test_no_server_warning_once_per_build(new_user: NewUser) -> None:
    tree = small_tree(new_user.cwd / "proj")
    r = make(new_user, tree)
    assert len(list((tree / "obj").glob("*.o"))) == 21
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and "no server" in lines[0] and "once per build" in lines[0], lines
    stamps = Path(new_user.env["XDG_RUNTIME_DIR"]) / "spraycc"
    assert (stamps.stat().st_mode & 0o777) == 0o700
    # The next build, after a pause longer than a build's gaps: one line again.
    for stamp in stamps.iterdir():
        os.utime(stamp, (time.time() - 120, time.time() - 120))
    make(new_user, tree, "clean")
    assert make(new_user, tree).stderr.decode().count("\n") == 1
    # -v: every step says it.
    make(new_user, tree, "clean")
    r = make(new_user, tree, env=dict(new_user.env, SPRAYCC_VERBOSE="1"))
    assert r.stderr.decode().count("no server") == 21


@pytest.mark.timeout(120)
def test_idle_server_stays_for_hours_and_holds_no_cluster_job(new_user: NewUser) -> None:
    tree = small_tree(new_user.cwd / "proj", files=4)
    # A cluster start command whose job never starts (it only prints a Slurm job id), a
    # local executor that runs the build meanwhile, and a short release_delay.
    cancelled = new_user.home / "cancelled"
    (tree / ".spraycc").write_text(
        'start_cmd = "echo Submitted batch job 4242 #"\nscheduler = "slurm"\n'
        f'cancel_cmd = "sh -c \'echo \\"$@\\" >> {cancelled}\' scancel"\n'
        "local_count = 1\ninitial_count = 1\nrelease_delay = 1\n")
    with new_user.serving(tree, "--loopback") as srv:
        assert "exits after 8 h with nothing to do" in srv.read_until("config: ")
        r = make(new_user, tree, env=dict(new_user.env, SPRAYCC_VERBOSE="1"))
        assert r.stderr.decode().count("ran on ") == 4, r.stderr.decode()
        srv.read_until("withdrawing 1 pending executor(s) of pool 'start'")
        wait_for(lambda: cancelled.exists() and cancelled.read_text() == "4242\n", 15,
                 "the pending job to be cancelled")
        snap = json.loads(new_user.run("status", "--json", cwd=tree).stdout)
        # No cluster job is held; the local executor stays while the server runs, so the next
        # build starts at once (docs/usage.md, "Local executors start with the server").
        assert snap["pending_executors"] == 0 and snap["executors"] == 1
        assert len(executor_pids(srv.proc.pid)) == 1
        assert srv.proc.poll() is None  # still there for the next build


# ---- file names that are not UTF-8 ----------------------------------------------------------

E9 = os.fsdecode(b"\xe9")  # Latin-1 e-acute: not UTF-8, so a surrogate escape in a str
LATIN1_MAKEFILE = os.fsencode(f"""\
SRCS := $(wildcard src{E9}/*.c)
OBJS := $(SRCS:src{E9}/%.c=obj{E9}/%.o)
all: $(OBJS)
obj{E9}/%.o: src{E9}/%.c
\t@mkdir -p obj{E9}
\t$(CC) -c $< -o $@ -MMD -Iinc{E9}
-include $(OBJS:.o=.d)
""")


def latin1_tree(root: Path) -> Path:
    """A project whose directories, sources, headers and outputs have non-UTF-8 names."""
    (root / f"src{E9}").mkdir(parents=True)
    (root / f"inc{E9}").mkdir()
    (root / f"inc{E9}" / f"h{E9}.h").write_text("#define K 7\n")
    for i in range(6):
        include = os.fsencode(f'#include "h{E9}.h"\n')
        (root / f"src{E9}" / f"caf{E9}{i}.c").write_bytes(
            include + f"int f{i}(void) {{ return K + {i}; }}\n".encode())
    (root / "Makefile").write_bytes(LATIN1_MAKEFILE)
    return root


def tree_files(root: Path) -> dict[bytes, bytes]:
    return {os.fsencode(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".spraycc_server"}


@pytest.mark.timeout(300)
def test_build_with_non_utf8_names_is_byte_identical(new_user: NewUser) -> None:
    plain = latin1_tree(new_user.cwd / f"plain{E9}")
    spray = latin1_tree(new_user.cwd / f"spray{E9}")
    r = subprocess.run(["make", "-s", "-j4", "CC=gcc"], cwd=plain, capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    with new_user.serving(spray) as srv:
        r = make(new_user, spray, env=dict(new_user.env, SPRAYCC_VERBOSE="1"))
        assert r.stderr.count(b"spraycc: ran on ") == 6, r.stderr.decode(errors="replace")
        snap = new_user.run("status", "--json", cwd=spray)
        assert snap.returncode == 0, snap.stderr.decode(errors="replace")
        status = json.loads(snap.stdout)
        assert status["workspace"] == f"{new_user.cwd}/spray\\xe9"
        assert all("\\xe9" in step["name"] for step in status["slowest"]), status["slowest"]
    assert srv.proc.returncode == 0 and "Traceback" not in srv.collect()
    built = tree_files(spray)
    assert built == tree_files(plain)
    assert sum(name.endswith(b".o") for name in built) == 6
    assert os.fsencode(f"obj{E9}/caf{E9}0.d") in built
    log = new_user.log_file.read_text()
    assert "Logging error" not in log and "slowest: " in log
    assert all("s obj\\xe9/caf\\xe9" in line for line in log.splitlines() if "slowest: " in line)


@pytest.mark.timeout(180)
def test_one_step_with_a_non_utf8_name_history_explain_stats(new_user: NewUser) -> None:
    ws = new_user.cwd
    source, obj = f"caf{E9}.c", f"caf{E9}.o"
    (ws / source).write_text("int cafe(void) { return 1; }\n")
    local = subprocess.run(["gcc", "-c", source, "-o", "local.o"], cwd=ws)
    assert local.returncode == 0
    with new_user.serving(ws):
        r = new_user.run("run", "-v", "gcc", "-c", source, "-o", obj)
        err = r.stderr.decode(errors="replace")
        assert r.returncode == 0 and "ran on " in err and "Traceback" not in err, err
        r = new_user.run("run", "--remote", "--output", f"copy{E9}.c", "cp", source,
                         f"copy{E9}.c")
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert (ws / obj).read_bytes() == (ws / "local.o").read_bytes()
    assert (ws / f"copy{E9}.c").read_bytes() == (ws / source).read_bytes()
    # The history, the forecast, explain and the session summary say the name, escaped.
    r = new_user.run("history")
    assert r.returncode == 0 and b"-c caf\\xe9.o" in r.stdout, r.stdout.decode(errors="replace")
    r = new_user.run("history", "--json", "--match", obj)
    keys = [row["key"] for row in json.loads(r.stdout)["longest"]]
    assert len(keys) == 1 and keys[0].endswith(" -c caf\\xe9.o"), keys
    r = new_user.run("explain", "gcc", "-c", source)
    assert r.returncode == 0 and json.loads(r.stdout)["where"] == "remote"
    r = new_user.run("stats")
    assert r.returncode == 0 and b"caf\\xe9.o" in r.stdout, r.stdout.decode(errors="replace")


# ---- spraycc history --match on what the user typed ------------------------------------------

CXX_MAKEFILE = """\
SRCS := $(wildcard src/*.cpp)
all: $(SRCS:src/%.cpp=build/src/%.o) build/tools/gen.o
build/src/%.o: src/%.cpp
\t@mkdir -p build/src
\t$(CXX) -c $< -o $@
build/tools/gen.o: tools/gen.c
\t@mkdir -p build/tools
\t$(CC) -c $< -o $@
"""


@pytest.mark.timeout(180)
def test_history_match_on_what_the_user_typed(new_user: NewUser) -> None:
    ws = new_user.cwd / "proj"
    (ws / "src").mkdir(parents=True)
    (ws / "tools").mkdir()
    for name in ("lexer", "parser", "main"):
        (ws / "src" / f"{name}.cpp").write_text(f"int {name}() {{ return 1; }}\n")
    (ws / "tools" / "gen.c").write_text("int gen(void) { return 2; }\n")
    (ws / "Makefile").write_text(CXX_MAKEFILE)
    with new_user.serving(ws):
        r = subprocess.run(["make", "-s", "-j4", f"CXX={new_user.spraycc} run g++",
                            f"CC={new_user.spraycc} run gcc"], cwd=ws, env=new_user.env,
                           capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr.decode()

    def matched(pattern: str, cwd: Path = ws) -> list[str]:
        r = new_user.run("history", "--json", "--match", pattern, cwd=cwd)
        assert r.returncode == 0, r.stderr.decode()
        return sorted(row["key"].rsplit(" ", 1)[1] for row in json.loads(r.stdout)["longest"])

    cpp = ["build/src/lexer.o", "build/src/main.o", "build/src/parser.o"]
    assert matched("g++ -c src/*") == cpp  # the help's example
    assert matched("build/src/parser.o") == ["build/src/parser.o"]  # the output path alone
    assert matched("parser.o", cwd=ws / "src") == ["build/src/parser.o"]
    assert matched("build/*/*.o") == [*cpp, "build/tools/gen.o"]
    assert matched("gcc -c") == ["build/tools/gen.o"]
    assert matched("g++") == cpp
    help_text = new_user.run("history", "--help").stdout.decode()
    assert "'g++ -c src/*'" in " ".join(help_text.split())


# ---- spraycc stats: the last sessions, after the server has gone -----------------------------


@pytest.mark.timeout(180)
def test_stats_keeps_each_sessions_summary(new_user: NewUser) -> None:
    ws, other = new_user.cwd / "ws", new_user.cwd / "other"
    for root in (ws, other):
        root.mkdir()
        (root / "a.c").write_text("int a(void) { return 1; }\n")
    r = new_user.run("stats", cwd=ws)
    assert r.returncode == 0 and b"no session recorded for" in r.stdout
    sessions_ids = []
    for root, steps in ((ws, 2), (other, 1), (ws, 3)):
        with new_user.serving(root) as srv:
            for i in range(steps):
                assert new_user.run("run", "gcc", "-c", "a.c", "-o", f"a{i}.o",
                                    cwd=root).returncode == 0
        sessions_ids.append(re.search(r"session (\w+): workspace", srv.collect()).group(1))
    kept = new_user.state / "sessions"
    assert (kept.stat().st_mode & 0o777) == 0o700
    files = list(kept.iterdir())
    assert len(files) == 3 and all((f.stat().st_mode & 0o777) == 0o600 for f in files)
    # This workspace's sessions, newest first, from its subdirectory too.
    (ws / "sub").mkdir()
    r = new_user.run("stats", "--json", cwd=ws / "sub")
    recs = json.loads(r.stdout)
    assert [rec["session"] for rec in recs] == [sessions_ids[2], sessions_ids[0]]
    newest = recs[0]
    assert newest["workspace"] == str(ws) and newest["remote"]["done"] == 3
    assert newest["reason"] == "signal SIGTERM" and newest["ended"] >= newest["started"]
    assert [s["name"] for s in newest["slowest"]] and newest["pools"][0]["name"] == "local"
    assert 0 < newest["slot_efficiency"] <= 1
    text = new_user.run("stats", cwd=ws).stdout.decode()
    assert text.startswith(f"session {sessions_ids[2]}  {ws}  (pid ")
    assert "remote    3 done, 0 failed" in text and "slot efficiency" in text
    assert text.count("\nsession ") == 1  # two sessions of this workspace, not the other's
    r = new_user.run("stats", "--all", "--json", cwd=ws)
    assert [rec["session"] for rec in json.loads(r.stdout)] == [
        sessions_ids[2], sessions_ids[0], sessions_ids[1]]
    # No server here now: status says so, and what the last session did.
    r = new_user.run("status", cwd=ws)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 1 and "no server" in lines[0]
    assert lines[1].startswith("spraycc: the last session here ended ")
    assert "3 remote steps (0 failed)" in lines[1] and "`spraycc stats`" in lines[1]


# ---- bin/demo: an honest comparison -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_compares_with_the_best_plain_build(new_user: NewUser) -> None:
    r = subprocess.run([str(ROOT / "bin" / "demo")], env=dict(new_user.env,
                       SPRAYCC=new_user.spraycc, TMPDIR=str(new_user.home)),
                       capture_output=True, timeout=880, stdin=subprocess.DEVNULL)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    cpus = len(os.sched_getaffinity(0))
    assert f"== plain local build (make -j{cpus})" in out
    figures = re.search(rf"demo: plain make -j{cpus} ([\d.]+)s; through spraycc \(make -j16, "
                        rf"{cpus} local executors\) ([\d.]+)s = ([\d.]+)x the plain time", out)
    assert figures, out
    plain, spray, ratio = (float(x) for x in figures.groups())
    assert plain > 0 and spray > 0 and ratio == pytest.approx(spray / plain, abs=0.06)
    assert re.search(r"demo: \d+ files identical to a plain local build", out)
