"""Classify one compiler command line: run it remotely or locally, and what it reads and writes.

`classify(argv, cwd, env)` is a pure function over flag tables grouped by *why* a flag matters
(STYLE habit 11); it only reads the file system (PATH look-up, symlinks, response files). It
returns a `Decision`: remote or local, a one-line reason, and for a remote step the argv and
environment overrides to run on the executor, the inputs, and every output file.

How a remote step runs: the executor creates the parent directory of every `Output.collect`
under its private host-local temp dir, replaces every occurrence of `TMP` in each argv element
and env value with that dir, and runs `Decision.argv` in the same cwd on the shared file system
with the task's environment plus `Decision.env`. The runner writes each collected file at
`Output.path`, exactly where a local run writes it.

So classify() rewrites every output-naming argument to point under TMP without leaving a trace
of TMP in any output: the primary output keeps its basename in `TMP/0/` (gcc derives the .d,
.su and -save-temps names from it), files named by their own flag (-MF, -aux-info,
-Wp,-MD) get a subdirectory each, dependency files get an explicit -MQ naming the original
target, and a step whose outputs or embedded paths cannot be made identical to a local run
stays local with a reason. A build tool must never produce a wrong build: when in doubt, local.

Decisions worth knowing (each backed by an experiment; tests/test_classify.py re-checks them
against real gcc 12 / clang 14 by comparing a remote-style run with a local one, and
tests/test_fidelity_e2e.py through a real server and `spraycc run`):
- `ccache gcc …` (explicit or through a masquerade directory) runs the compiler ccache would
  run, without ccache: ccache on a cluster host would write the shared cache directory from
  there, and a cache miss produces exactly the bytes of a plain compile.
- Local: links; queries (-v, --version, -print-*, -dump*); stdin sources; -march=native and
  friends; several sources in one command (their outputs go to cwd, which cannot be
  redirected; with a server, the runner runs such a command as one step per source, see
  spraycc.parts); precompiled headers (tied to the exact cc1 binary); -gsplit-dwarf (the .dwo name
  embedded in the object follows the output location); coverage and profiling (.gcda paths and
  gcc's profile ids of static functions hash the output location); -fdump-*; plugins; -specs;
  clang's -save-temps and command-line recording; any flag not in the tables; an output that
  is not a plain file in an existing directory.
- On a failing compile, gcc leaves a stale object in place unless `as` ran (.s input, -pipe),
  and always deletes a stale -S/-E -o target; clang deletes its -o target and its .d file.
  Known gap: a C file whose inline asm fails in `as` keeps a stale object here, which a local
  run deletes (a remote run cannot tell which stage failed); harmless for make, the object is
  older than what triggered the rebuild.
- Response files are read like gcc's libiberty (nested ones too) and the remote command
  gets their words expanded on its command line, so an -o inside one is redirected like any.
- gcc >= 11 names the files of `-fsyntax-only -MD foo.c` (no -c, no -o) after a.out's dump
  base: `a-foo.d` (`a.d` for a.c); the version comes from the driver's resolved file name,
  and a gcc whose name tells none keeps such a step local.
- At a terminal the runner adds `Decision.tty_flag` (-fdiagnostics-color=always) so the
  remote compiler colours its diagnostics like a local one; see `Decision`.

Modules: spraycc.step.flags (the tables, pure data), spraycc.step.compilers (which compiler argv
runs, through PATH, symlinks and ccache), spraycc.step.cmdline (response files and the walk over
the arguments), spraycc.step.decision (the Decision and Output records, re-exported here), and
this one (the decision and the plan of outputs and argument rewrites).

Runner-path module (imported once per compile, and only when a step needs classifying; see
spraycc.step.placement): imports only `os`, `stat` and the four modules above, which import
nothing but `os`.
"""

from __future__ import annotations

import os
import stat

from spraycc.step import flags
from spraycc.step.cmdline import Parsed, expand, parse, split_response_file
from spraycc.step.compilers import compiler_family, driver_version, find_driver
from spraycc.step.decision import AS_FAILED, ASSEMBLER_MESSAGES, SIDE_DEPS, TMP, Decision, Output

__all__ = [
    "ASSEMBLER_MESSAGES",
    "AS_FAILED",
    "SIDE_DEPS",
    "TMP",
    "Decision",
    "Output",
    "as_json_dict",
    "classify",
    "compiler_family",
    "split_response_file",
]


def as_json_dict(d: Decision) -> dict:
    """The decision as JSON-able data for `spraycc explain` (TMP shown as "<tmp>")."""
    out: dict = {
        "where": "remote" if d.remote else "local",
        "reason": d.reason,
        "compiler": d.compiler,
        "inputs": list(d.inputs),
        "outputs": [o.path for o in d.outputs],
        "dependency_task": d.dependency_task,
        "remote_argv": [a.replace(TMP, "<tmp>") for a in d.argv] if d.remote else None,
    }
    if d.remote and d.env:
        out["remote_env"] = {
            k: (None if v is None else v.replace(TMP, "<tmp>")) for k, v in d.env.items()
        }
    if d.remote and d.tty_flag:
        out["added_at_a_terminal"] = d.tty_flag
    if d.remote:
        out["dependency_file"] = (
            "written by the step (" + d.deps.replace(TMP, "<tmp>") + ")" if d.deps else
            "asked for on the side: " + " ".join(d.side_deps).replace(TMP, "<tmp>")
            if d.side_deps else None)
    return out


# ---------------------------------------------------------------------------------------------
# Names, derived exactly as the compiler drivers derive them
# ---------------------------------------------------------------------------------------------


def _replace_suffix(name: str, suffix: str) -> str:
    """gcc's "%.SUFFIX%*" and LLVM's replace_extension: drop the last ".ext" of the last path
    component (even a leading one), then append suffix."""
    dot = name.rfind(".")
    if dot > name.rfind("/"):
        name = name[:dot]
    return name + suffix


def _strip_ext(base: str) -> str:
    """gcc's %b and dumpbase stem: a basename without its extension (a leading dot stays)."""
    dot = base.rfind(".")
    return base[:dot] if dot > 0 else base


def _default_target(src: str) -> str:
    """libcpp's default dependency target: the input basename, suffix replaced by ".o"."""
    return _replace_suffix(os.path.basename(src), ".o")


def _split_dir(path: str) -> tuple[str, str]:
    """("dir/", "base") for "dir/base"; ("", "base") for "base"."""
    slash = path.rfind("/")
    return path[: slash + 1], path[slash + 1 :]


# ---------------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------------

_PCH_REASON = "precompiled header: tied to the exact compiler binary, built locally"
_MODE_WORDS = {"c": "compile", "S": "compile to assembler", "E": "preprocess"}


def classify(argv: list[str], cwd: str, env: dict[str, str]) -> Decision:
    """Decide where `argv` runs (in `cwd`, with `env`) and which files it reads and writes."""
    if not argv:
        return Decision(False, "empty command", argv)
    drv = find_driver(argv, cwd, env)
    if drv.reason:
        return Decision(False, drv.reason, argv, compiler=drv.real)
    args = drv.args
    if not args:
        return Decision(False, "not a compile: no arguments", argv, compiler=drv.real)
    for var in flags.ENV_LOCAL[drv.family]:
        if env.get(var):
            return Decision(False, f"{var} is set", argv, compiler=drv.real)

    rsp_files: list[str] = []
    if any(a[:1] == "@" for a in args):
        try:
            toks, origin = expand(args, cwd, rsp_files)
        except (OSError, UnicodeError) as e:
            return Decision(False, f"unreadable response file: {e}", argv, compiler=drv.real)
    else:
        toks, origin = args, list(range(1, len(args) + 1))
    cmd = parse(toks, drv.family)
    plan = _Plan(cmd, toks, origin, cwd, env, driver_version(drv.real))
    plan.run()
    inputs = cmd.inputs + cmd.extra_inputs + rsp_files
    if cmd.reason is not None:
        return Decision(
            False,
            cmd.reason,
            argv,
            inputs=inputs,
            outputs=plan.outputs,
            dependency_task=cmd.dep_m,
            compiler=drv.real,
            query=cmd.query and not inputs and not plan.outputs,
        )
    return Decision(
        True,
        plan.what,
        [drv.head, *plan.remote_args()],
        env=plan.env,
        inputs=inputs,
        outputs=plan.outputs,
        dependency_task=cmd.dep_m,
        compiler=drv.real,
        tty_flag="" if cmd.diag_colour else _terminal_colour(drv.family, drv.real, env),
        deps=plan.deps,
        side_deps=plan.side_deps(),
        incdirs=[d for _, d in sorted(cmd.incdirs, key=lambda r: r[0])],
    )


def _terminal_colour(family: str, real: str, env: dict[str, str]) -> str:
    """The flag that makes a remote compiler colour its diagnostics as it would at the
    terminal the runner's stderr is on (the runner checks that it is one), or "".

    gcc colours at any terminal unless TERM is unset or "dumb"; clang asks terminfo whether
    TERM has colours (only terminal types known to have them are listed here). GCC_COLORS,
    which can switch colours off, reaches the remote compiler with the rest of the
    environment. NO_COLOR: newer compilers honour it, so leave the choice to them. gcc knows
    the flag since 4.9: without a version in the driver's name (gcc-12) it might be older,
    and an unknown flag would fail the compile, so no colour then.
    """
    term = env.get("TERM", "")
    if not term or term == "dumb" or env.get("NO_COLOR"):
        return ""
    if family == "clang":
        if term not in flags.CLANG_COLOUR_TERMS and not term.startswith(
            flags.CLANG_COLOUR_TERM_PREFIXES
        ):
            return ""
    elif (driver_version(real) or 0) < 5:
        return ""
    return "-fdiagnostics-color=always"


class _Plan:
    """The outputs of a parsed command, and the argument rewrites that redirect them to TMP."""

    __slots__ = (
        "append", "cmd", "cpp", "cwd", "deps", "env", "envv", "mode_", "next_dir", "origin",
        "outputs", "rewrite", "toks", "version", "what",
    )  # fmt: skip

    def __init__(
        self, cmd: Parsed, toks: list[str], origin: list[int], cwd: str, envv: dict[str, str],
        version: int | None = None,
    ) -> None:
        self.cmd = cmd
        self.toks = toks
        self.origin = origin
        self.cwd = cwd
        self.envv = envv
        self.outputs: list[Output] = []
        self.rewrite: dict[int, list[str]] = {}  # token index -> replacement
        self.version = version  # the driver's major version, from its file name (or None)
        self.deps = ""  # TMP path of the dependency file the remote step writes, if any
        self.cpp = False  # the step runs the preprocessor
        self.mode_ = ""
        self.append: list[str] = []
        self.env: dict[str, str | None] = {}
        self.what = ""
        self.next_dir = 1  # TMP/0 holds the primary output and the files named after it

    # -- helpers ------------------------------------------------------------------------------

    def local(self, reason: str) -> None:
        self.cmd.local(reason)

    def remote_args(self) -> list[str]:
        """The expanded arguments with the rewrites: a command with response files runs on
        the executor with their contents on its command line (gcc and clang read @file into
        exactly these words, so the compile and what it records are the same)."""
        out: list[str] = []
        for k, a in enumerate(self.toks):
            rep = self.rewrite.get(k)
            if rep is None:
                out.append(a)
            else:
                out.extend(rep)
        return out + self.append

    def side_deps(self) -> list[str]:
        """Arguments that make the remote compiler write a dependency file under TMP for the
        input check when the step writes none itself ([] when it cannot without changing the
        step: -MF alone names a file that -MD would then write; dependency variables)."""
        cmd = self.cmd
        if (self.deps or not self.cpp or self.mode_ not in ("c", "S") or cmd.md or cmd.dep_m
                or cmd.mf is not None or cmd.wp_deps
                or "DEPENDENCIES_OUTPUT" in self.envv or "SUNPRO_DEPENDENCIES" in self.envv):
            return []
        return ["-MD", "-MF", f"{TMP}/{SIDE_DEPS}"]

    def set_token(self, tok: int, replacement: list[str], with_value: bool) -> bool:
        """Replace token `tok` (and its separate value)."""
        self.rewrite[tok] = replacement
        if with_value:
            self.rewrite[tok + 1] = []
        return True

    def add(self, path: str, collect: str, on_missing: str, keep_mode: bool) -> None:
        self.outputs.append(Output(path, collect, on_missing, keep_mode))

    def new_dir(self) -> str:
        d = self.next_dir
        self.next_dir += 1
        return str(d)

    def has_side_outputs(self) -> bool:
        """Files besides the primary output (named after it, or by their own flag)."""
        cmd = self.cmd
        return bool(
            cmd.md or cmd.mf or cmd.wp_deps or cmd.save_temps is not None or cmd.stack_usage
            or cmd.time_trace or cmd.aux_info
            or "DEPENDENCIES_OUTPUT" in self.envv or "SUNPRO_DEPENDENCIES" in self.envv
        )  # fmt: skip

    # -- the plan -----------------------------------------------------------------------------

    def run(self) -> None:
        mode = self.mode()
        if mode is None:
            return
        srcs = self.cmd.sources
        for p, lang in srcs:
            if lang not in flags.KNOWN_LANGS:
                self.local(f"{p}: language {lang} is not handled")
            elif lang in flags.HEADERS and mode != "E":
                self.local(_PCH_REASON)
        if not srcs:
            self.local("no source file to compile")
        elif len(srcs) > 1:
            if mode == "E" and self.cmd.out is None and not self.has_side_outputs():
                self.what = f"preprocess {len(srcs)} sources to stdout"
            else:
                self.local(
                    "several sources in one command: their outputs go into the current "
                    "directory, which cannot be redirected"
                )
                if mode != "E" and self.cmd.out is None:  # listed for `spraycc explain`
                    suffix = self.suffix(mode)
                    for p, _ in srcs:
                        name = _strip_ext(os.path.basename(p)) + suffix
                        self.add(name, "", "keep", False)
        else:
            self.single(mode, srcs[0][0], srcs[0][1])
            self.check_outputs()

    def mode(self) -> str | None:
        """ "E" (-E, -M, -MM), "S", "c" (-c, -fsyntax-only), or None (local: link etc.)."""
        cmd = self.cmd
        if cmd.mode_e or cmd.dep_m:
            if cmd.syntax_only:
                self.local("-fsyntax-only with -E")
            return "E"
        if cmd.mode_s:
            if cmd.syntax_only:
                self.local("-fsyntax-only with -S")
            return "S"
        if cmd.mode_c or cmd.syntax_only:
            return "c"
        if cmd.sources and all(lang in flags.HEADERS for _, lang in cmd.sources):
            self.local(_PCH_REASON)
            return "c"  # gcc compiles headers to a PCH even without -c
        if cmd.inputs:
            self.local("link step")
        else:
            self.local("not a compile: no input files")
        return None

    def suffix(self, mode: str) -> str:
        """The suffix of the output named after the source (clang -emit-llvm: bitcode)."""
        if self.cmd.emit_llvm:
            return ".bc" if mode == "c" else ".ll"
        return ".o" if mode == "c" else ".s"

    def single(self, mode: str, src: str, lang: str) -> None:
        cmd = self.cmd
        gcc = cmd.family == "gcc"
        self.mode_ = mode
        if mode == "S" and lang in (flags.ASM, flags.ASM_CPP):
            self.local("-S on an assembler source")
            return
        if mode == "E" and (lang == flags.ASM or lang in flags.PREPROCESSED):
            self.local("-E on a source that needs no preprocessing")
            return
        base = os.path.basename(src)
        if not base or base[0] == ".":
            self.local(f"cannot derive output names from {src!r}")
            return
        if lang in flags.HEADERS and mode != "E":  # local (see run); listed for `spraycc explain`
            pch = cmd.out[1] if cmd.out is not None else src + ".gch"
            self.add(pch, "0/" + os.path.basename(pch), "delete", False)
            return
        stem = _strip_ext(base)
        cc1 = lang not in (flags.ASM, flags.ASM_CPP)  # runs the compiler proper
        cpp = lang != flags.ASM and lang not in flags.PREPROCESSED  # runs the preprocessor
        self.cpp = cpp
        if cmd.emit_llvm and (mode == "E" or not cc1):
            self.local("-emit-llvm without a compile")
            return
        # gcc >= 11 without -c and -o (-fsyntax-only alone): the driver thinks it links to
        # a.out, so files named after the output are "a-<stem>.*" ("a.*" for a.c); older gcc
        # named them otherwise.
        link_names = gcc and mode == "c" and not cmd.mode_c and cmd.out is None
        if link_names and self.has_side_outputs():
            if (self.version or 0) < 11:
                self.local("-fsyntax-only without -c: gcc before 11 (or of a version its name "
                           "does not tell) names its auxiliary outputs otherwise")
                return
            if cmd.save_temps is not None or cmd.stack_usage or cmd.aux_info is not None:
                self.local("-fsyntax-only without -c together with -save-temps/-fstack-usage")
                return
        self.what = f"{_MODE_WORDS[mode]} {src}"
        if cmd.dep_m:
            self.what = f"dependency generation for {src}"

        # 1. The primary output, and where gcc puts the files it names after it.
        out = cmd.out[1] if cmd.out is not None else None
        if out == "-":
            if self.has_side_outputs():
                self.local("-o - together with files named after the output")
            self.what += " to stdout"
            return
        if cmd.out is not None:
            out_token, out = cmd.out
            odir, obase = _split_dir(out)
            if obase in ("", ".", ".."):
                self.local(f"-o {out} names a directory")
                return
            separate = self.toks[out_token] in ("-o", "--output")
            if not self.set_token(out_token, ["-o", f"{TMP}/0/{obase}"], separate):
                return
            aux_dir, aux_stem = odir, _strip_ext(obase)
        elif mode == "E" or link_names:
            obase = ""  # stdout (-E), or nothing (-fsyntax-only)
            aux_dir, aux_stem = "", stem
        else:
            obase = stem + self.suffix(mode)
            out = obase
            self.append += ["-o", f"{TMP}/0/{obase}"]
            aux_dir, aux_stem = "", stem
        if obase and out is not None and not (cmd.syntax_only and mode != "E"):
            # Rewritten in place (keeps its mode): gcc's cc1/cpp outputs, both compilers' deps.
            # Created afresh: objects (as unlinks first), clang's .s/.i (temp file + rename).
            keep_mode = (gcc and mode != "c") or cmd.dep_m
            self.add(out, "0/" + obase, self.primary_on_missing(mode, lang), keep_mode)
            if cmd.dep_m:
                self.deps = "0/" + obase

        # 2. Dependency files. Target: gcc's driver passes "-MQ <-o>" unless -E/-M/-MT/-MQ;
        # clang's passes the quoted -o unless -M/-MT/-MQ; otherwise cpp uses <input stem>.o.
        dep_missing = "keep" if gcc else "delete"
        wants_target = False
        if cmd.dep_m:
            if cmd.md:
                self.local("-M/-MM together with -MD/-MMD")
                return
            if cmd.mf is not None:
                self.explicit_output(cmd.mf, "-MF", "keep", True)
        elif cmd.md and cpp:
            wants_target = True
            if cmd.mf is not None:
                self.explicit_output(cmd.mf, "-MF", dep_missing, True)
            elif out is not None:
                dname = _replace_suffix(obase, ".d")
                self.add(_replace_suffix(out, ".d"), "0/" + dname, dep_missing, True)
                self.deps = "0/" + dname
            else:  # -E to stdout: the .d goes to <stem>.d in the current directory
                name = stem + ".d"
                if link_names:
                    name = "a.d" if stem == "a" else f"a-{stem}.d"
                d = self.new_dir()
                self.append += ["-MF", f"{TMP}/{d}/{name}"]
                self.add(name, f"{d}/{name}", dep_missing, True)
                self.deps = f"{d}/{name}"
        if cmd.wp_deps and cpp:
            if cmd.md or cmd.dep_m or cmd.mf:  # (-MF would override the -Wp file)
                self.local("-Wp, dependency options together with -MD/-M/-MF")
                return
            wants_target = not gcc  # clang turns -Wp,-MD,f into -MD -MF f
            for tok, k in cmd.wp_deps:
                self.wp_output(tok, k, dep_missing)
        if wants_target and not cmd.mt_seen:
            if cmd.out is not None and (mode != "E" or not gcc):
                self.append += ["-MQ", cmd.out[1]]
            elif cmd.out is None and mode != "E" and not link_names:  # we added the -o
                self.append += ["-MQ", _default_target(src)]
        if cpp:
            self.env_deps()

        # 3. Auxiliary files named after the output (gcc >= 11 dumpbase rules).
        if cmd.save_temps is not None:
            if not gcc:
                self.local("clang -save-temps is not handled")
                return
            for t in cmd.save_temps_at:  # "=cwd" would write into the tree
                if not self.set_token(t, ["-save-temps=obj"], False):
                    return
            exts = []
            if mode != "E":
                if lang in flags.CPP_LANGS:
                    exts.append(flags.CPP_LANGS[lang])
                if mode == "c" and lang != flags.ASM:
                    exts.append(".s")
            sdir = "" if cmd.save_temps == "cwd" else aux_dir
            for ext in exts:
                self.add(sdir + aux_stem + ext, "0/" + aux_stem + ext, "keep", True)
        if cc1 and mode != "E":
            if gcc:
                if cmd.stack_usage:
                    self.add(aux_dir + aux_stem + ".su", "0/" + aux_stem + ".su", "keep", True)
            else:
                for flag, ext in ((cmd.stack_usage, ".su"), (cmd.time_trace, ".json")):
                    if flag:  # clang: replace_extension(-o or <stem>.o, ext)
                        name = _replace_suffix(obase, ext)
                        self.add(_replace_suffix(out or obase, ext), "0/" + name, "keep", False)
            if cmd.aux_info is not None:
                self.explicit_output(cmd.aux_info, "-aux-info", "keep", True)

    def primary_on_missing(self, mode: str, lang: str) -> str:
        """What a failing local compile does to an existing primary target.

        Experiments with a stale target and a failing compile (gcc 12.2):
        - -c without -pipe: cc1 fails before `as` runs and the stale object stays. When `as`
          runs and fails (.s input, bad inline asm) or with -pipe (cc1 and as start together;
          ignored with -save-temps) the driver deletes the target. For a C/C++ source the
          remote run tells the two apart by what `as` prints ("Assembler messages:"):
          AS_FAILED makes the runner delete the target only then.
        - -S, -E -o, -M -o: deleted (the specs mark -o with %W, delete on failure).
        - clang deletes its -o target on any failure.
        """
        cmd = self.cmd
        if cmd.family != "gcc" or mode != "c":
            return "delete"
        if lang == flags.ASM or (cmd.pipe and cmd.save_temps is None):
            return "delete"
        return AS_FAILED

    def explicit_output(self, at: tuple[int, str], flag: str, on_missing: str, keep: bool) -> None:
        """A file named by its own flag (-MF x, -MFx, -aux-info x): its own TMP subdir."""
        tok, path = at
        if path == "-":
            return  # stdout
        separate = self.toks[tok] == flag
        if path == "/dev/null" and flag == "-MF":
            # Nothing comes back (a local run writes into /dev/null); the remote one writes a
            # private file instead, which the input check reads.
            d = self.new_dir()
            if self.set_token(tok, [flag, f"{TMP}/{d}/null.d"], separate):
                self.deps = f"{d}/null.d"
            return
        base = os.path.basename(path)
        if base in ("", ".", ".."):
            self.local(f"{flag} {path} names a directory")
            return
        d = self.new_dir()
        if self.set_token(tok, [flag, f"{TMP}/{d}/{base}"], separate):
            self.add(path, f"{d}/{base}", on_missing, keep)
            if flag == "-MF":
                self.deps = f"{d}/{base}"

    def wp_output(self, tok: int, k: int, on_missing: str) -> None:
        """-Wp,-MD,file (kernel style): rewrite the file item inside the -Wp token."""
        current = self.rewrite.get(tok)
        items = (current[0] if current else self.toks[tok])[4:].split(",")
        path = self.toks[tok][4:].split(",")[k]
        base = os.path.basename(path)
        if base in ("", ".", ".."):
            self.local(f"-Wp dependency file {path} names a directory")
            return
        d = self.new_dir()
        items[k] = f"{TMP}/{d}/{base}"
        if self.set_token(tok, ["-Wp," + ",".join(items)], False):
            self.add(path, f"{d}/{base}", on_missing, True)
            self.deps = self.deps or f"{d}/{base}"

    def env_deps(self) -> None:
        """DEPENDENCIES_OUTPUT / SUNPRO_DEPENDENCIES = "file" or "file target" (gcc's cpp)."""
        var = "DEPENDENCIES_OUTPUT" if "DEPENDENCIES_OUTPUT" in self.envv else None
        if var is None and "SUNPRO_DEPENDENCIES" in self.envv:
            var = "SUNPRO_DEPENDENCIES"
        if var is None:
            return
        cmd = self.cmd
        if cmd.family != "gcc":
            self.local(f"{var} with clang is not handled")
            return
        if cmd.md or cmd.dep_m or cmd.wp_deps or cmd.mf:  # (-MF overrides the variable)
            self.local(f"{var} together with dependency options")
            return
        value = self.envv[var]
        path, sep, target = value.partition(" ")
        base = os.path.basename(path)
        if base in ("", ".", ".."):
            self.local(f"{var}={value!r} does not name a file")
            return
        # cpp opens this file for appending (c-opts.cc: deps_append = 1); a remote run can
        # only produce a fresh file.
        if os.path.lexists(os.path.join(self.cwd, path)):
            self.local(f"{var}: cpp appends to the existing {path}")
            return
        d = self.new_dir()
        self.env[var] = f"{TMP}/{d}/{base}{sep}{target}"
        self.add(path, f"{d}/{base}", "keep", True)
        self.deps = f"{d}/{base}"

    def check_outputs(self) -> None:
        """Each output must be a fresh or regular file in an existing directory, distinct from
        the others and from every input; otherwise a local run's behaviour (an error, writing
        through a symlink or into /dev/null) cannot be reproduced by writing files back."""
        cmd = self.cmd
        seen: set[str] = set()
        dirs_ok: set[str] = {""}
        ins = {os.path.normpath(os.path.join(self.cwd, p)) for p in cmd.inputs}
        for o in self.outputs:
            p = os.path.normpath(os.path.join(self.cwd, o.path))
            if p in seen or p in ins:
                self.local(f"output {o.path} collides with another file of the step")
                return
            seen.add(p)
            d = os.path.dirname(o.path)
            if d not in dirs_ok:
                if not os.path.isdir(os.path.join(self.cwd, d)):
                    self.local(f"the directory of output {o.path} does not exist")
                    return
                dirs_ok.add(d)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                self.local(f"output {o.path} exists and is not a regular file")
                return
        if cmd.out is not None and self.outputs:
            # gcc refuses an output that is an input; it compares canonical paths (lrealpath),
            # so "-o d/../a.c" is refused too.
            obase = os.path.basename(cmd.out[1])
            if any(os.path.basename(i) == obase for i in cmd.inputs):
                rp = os.path.realpath(os.path.join(self.cwd, cmd.out[1]))
                if any(rp == os.path.realpath(os.path.join(self.cwd, i)) for i in cmd.inputs):
                    self.local(f"output {cmd.out[1]} is the same file as an input")
