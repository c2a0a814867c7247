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
.su, .gcno and -save-temps names from it), files named by their own flag (-MF, -aux-info,
-Wp,-MD) get a subdirectory each, dependency files get an explicit -MQ naming the original
target, and a step whose outputs or embedded paths cannot be made identical to a local run
stays local with a reason. A build tool must never produce a wrong build: when in doubt, local.

Runner-path module (imported once per compile): imports only `os`. Notes on compiler behaviour
cite experiments with gcc 12.2 and clang 14 (tests/test_classify.py re-checks them).
"""

from __future__ import annotations

import os
import stat

TMP = "\x00"
"""Stands for the executor's private temp dir in remote argv/env values (argv has no NUL)."""

_MAX_RSP_DEPTH = 16
_MAX_RSP_BYTES = 1 << 20


class Output:
    """One file the step writes.

    path: where a local run writes it (relative to cwd, or absolute).
    collect: where the remote run leaves it, relative to the executor's temp dir.
    on_missing: what the runner does when the remote run did not produce it: "delete" (a local
    run would have removed an existing target) or "keep" (leave an existing target alone).
    keep_mode: a local run rewrites an existing target in place (fopen "w": .d, .s, .i, .su),
    so it keeps its mode; otherwise the file is created afresh (0666 & ~umask).
    """

    __slots__ = ("collect", "keep_mode", "on_missing", "path")

    def __init__(self, path: str, collect: str, on_missing: str, keep_mode: bool = False) -> None:
        self.path = path
        self.collect = collect
        self.on_missing = on_missing
        self.keep_mode = keep_mode

    def __repr__(self) -> str:
        return f"Output({self.path!r}, {self.collect!r}, {self.on_missing!r}, {self.keep_mode})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Output) and self._key() == other._key()

    def _key(self) -> tuple[str, str, str, bool]:
        return (self.path, self.collect, self.on_missing, self.keep_mode)

    __hash__ = None  # type: ignore[assignment]


class Decision:
    """What spraycc does with one command: where it runs, why, and which files it touches.

    For a local decision `argv` is the original command and `env` is empty; `inputs` and
    `outputs` are then a best effort, for `spraycc explain`.
    """

    __slots__ = (
        "argv",
        "compiler",
        "dependency_task",
        "env",
        "inputs",
        "outputs",
        "reason",
        "remote",
    )

    def __init__(
        self,
        remote: bool,
        reason: str,
        argv: list[str],
        env: dict[str, str | None] | None = None,
        inputs: list[str] | None = None,
        outputs: list[Output] | None = None,
        dependency_task: bool = False,
        compiler: str = "",
    ) -> None:
        self.remote = remote
        self.reason = reason
        self.argv = argv
        self.env = env if env is not None else {}
        self.inputs = inputs if inputs is not None else []
        self.outputs = outputs if outputs is not None else []
        self.dependency_task = dependency_task
        self.compiler = compiler

    def __repr__(self) -> str:
        where = "remote" if self.remote else "local"
        return f"Decision({where}, {self.reason!r}, outputs={self.outputs!r})"


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
    return out


# ---------------------------------------------------------------------------------------------
# Flag tables, grouped by why a flag matters.
# ---------------------------------------------------------------------------------------------
# fmt: off

# The command asks the compiler about itself: configure parses the exact output. Local.
_QUERY_EXACT = frozenset({
    "-v", "--verbose", "-###", "--version", "--help", "--target-help", "-dumpversion",
    "-dumpfullversion", "-dumpmachine", "-dumpspecs",
})
_QUERY_PREFIXES = ("-print-", "--print-", "--help=", "-dump", "--dump")

# Flags that change code generation, diagnostics or search paths only: no file of their own.
_SAFE_EXACT = frozenset({
    "-w", "-ansi", "-pedantic", "-pedantic-errors", "-pthread", "-pthreads", "-p", "-pg",
    "-Q", "-H", "-time", "-C", "-CC", "-P", "-undef", "-trigraphs", "-traditional",
    "-traditional-cpp", "-remap", "-nostdinc", "-nostdinc++", "-no-canonical-prefixes",
    "-canonical-prefixes", "-MP", "-MG", "-dD", "-dM", "-dN", "-dI", "-dU",
    # link-only flags, ignored when not linking
    "-shared", "-static", "-static-pie", "-pie", "-no-pie", "-rdynamic", "-s", "-r",
    "-symbolic", "-nostdlib", "-nostdlib++", "-nostartfiles", "-nodefaultlibs",
    "-static-libgcc", "-shared-libgcc", "-static-libstdc++", "-static-libasan",
    "-static-libtsan", "-static-liblsan", "-static-libubsan",
    # clang
    "-Qunused-arguments", "-integrated-as", "-no-integrated-as", "-nostdlibinc",
    "-nobuiltininc",
})

# Flags whose value is the next argument and never names a file the step writes.
_SAFE_SEPARATE = frozenset({
    "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-idirafter", "-iprefix",
    "-iwithprefix", "-iwithprefixbefore", "-isysroot", "--sysroot", "-iquote", "-imultilib",
    "-imultiarch", "-L", "-l", "-Xlinker", "-T", "-u", "-e", "-z", "-B", "--param", "-arch",
    "-target", "-gcc-toolchain", "-include-pch", "-isystem-after", "-iframework", "-F",
    "-ivfsoverlay", "-resource-dir",
})
# Their joined forms, and other flags recognised by prefix.
_SAFE_PREFIXES = (
    "-I", "-D", "-U", "-L", "-l", "-B", "-O", "-std=", "--std=", "-isystem", "-iquote",
    "-idirafter", "-include", "-imacros", "-iprefix", "-iwithprefix", "-isysroot",
    "-imultilib", "-imultiarch", "-iplugindir=", "--sysroot=", "--param=", "-Wl,", "-stdlib=",
    "--target=", "--gcc-toolchain=", "-resource-dir=", "-fuse-ld=", "-rtlib=", "--rtlib=",
    "-unwindlib=", "-T", "-pedantic",
)
# Files read through a flag, reported as inputs.
_INPUT_FLAGS = ("-include", "-imacros", "-include-pch")

# -f flags that read or write files we cannot redirect, or embed the output location in the
# object. Every other -f flag only changes code generation or diagnostics, and -fno-* switches
# something off. (-fstack-usage, -ftest-coverage, -fsyntax-only, -ftime-trace are handled.)
_F_LOCAL = (
    ("-fdump-", "dump files have unpredictable names"),
    ("-fcallgraph-info", "call graph files are not handled"),
    # gcc hashes the output name into the profile ids of static functions (.gcno, .o):
    ("-ftest-coverage", "coverage notes depend on the output location"),
    ("-fprofile", "profile data paths follow the output location"),
    ("-fauto-profile", "reads profile data next to the output"),
    ("-fbranch-probabilities", "reads profile data next to the output"),
    ("-fcoverage-mapping", "coverage"),
    ("-fplugin", "a compiler plugin may write files"),
    ("-fcompare-debug", "writes comparison dumps"),
    ("-fsave-optimization-record", "writes an optimization record"),
    ("-fmodules", "C++ modules use a module cache"),
    ("-fmodule-", "C++ modules write module files"),
    ("-fimplicit-modules", "C++ modules use a module cache"),
    ("-fprebuilt-module", "C++ modules"),
    ("-fdeps-", "writes a dependency scan file"),
    ("-fproc-stat-report", "writes a statistics file"),
    ("-fltrans", "LTO internal step"),
    ("-fwpa", "LTO internal step"),
)

# Assembler options (-Wa, / -Xassembler) known to write nothing.
_AS_SAFE_PREFIXES = (
    "--noexecstack", "--execstack", "--fatal-warnings", "--no-warn", "--warn", "-W",
    "-mrelax-relocations=", "--64", "--32", "--x32", "-march=", "-mtune=", "-g", "--gdwarf",
    "--gstabs", "-I", "-mx86-used-note=", "--compress-debug-sections",
    "--nocompress-debug-sections", "-mno-shared", "-mshared", "-mbig-obj", "--size-check=",
    "-msse2avx", "-msse-check=", "-moperand-check=", "--elf-stt-common=",
    "--generate-missing-build-notes=", "-mbranches-within-32B-boundaries", "-malign-branch",
    "--defsym", "-K", "-L", "--keep-locals", "-mfence-as-lock-add=", "-mlfence",
)

# Preprocessor options (-Wp, / -Xpreprocessor) known to write nothing (deps are handled).
_CPP_SAFE_PREFIXES = ("-D", "-U", "-I", "-P", "-C", "-dD", "-dM", "-dN", "-W", "-std=")
_CPP_SAFE_EXACT = frozenset({"-MP", "-MG", "-undef", "-nostdinc", "-nostdinc++"})
_CPP_SEPARATE = frozenset({"-include", "-imacros", "-isystem", "-iquote", "-idirafter"})

# -Xclang arguments we understand (CMake's clang PCH support uses these).
_XCLANG_SAFE = frozenset({"-fno-pch-timestamp", "-fcolor-diagnostics", "-fno-validate-pch"})
_XCLANG_SEPARATE = frozenset({"-include-pch", "-include"})

# Language by suffix (gcc's default_compilers table); anything else is a linker input.
_SUFFIX_LANG = {
    "c": "c", "i": "cpp-output", "ii": "c++-cpp-output", "cc": "c++", "cp": "c++",
    "cxx": "c++", "cpp": "c++", "CPP": "c++", "c++": "c++", "C": "c++", "m": "objective-c",
    "mi": "objective-c-cpp-output", "mm": "objective-c++", "M": "objective-c++",
    "mii": "objective-c++-cpp-output", "h": "c-header", "hh": "c++-header",
    "H": "c++-header", "hp": "c++-header", "hxx": "c++-header", "hpp": "c++-header",
    "HPP": "c++-header", "h++": "c++-header", "tcc": "c++-header", "s": "assembler",
    "S": "assembler-with-cpp", "sx": "assembler-with-cpp",
    # other front ends (Fortran writes .mod files into cwd, etc.): local
    "f": "fortran", "for": "fortran", "ftn": "fortran", "F": "fortran", "FOR": "fortran",
    "fpp": "fortran", "FPP": "fortran", "FTN": "fortran", "f90": "fortran", "f95": "fortran",
    "f03": "fortran", "f08": "fortran", "F90": "fortran", "F95": "fortran", "F03": "fortran",
    "F08": "fortran", "go": "go", "d": "d", "ads": "ada", "adb": "ada", "cu": "cuda",
    "cl": "opencl", "cppm": "c++-module", "ixx": "c++-module", "ll": "llvm-ir",
    "bc": "llvm-ir",
}

# fmt: on

# Sources that go through cpp, with the -save-temps extension of their preprocessed form.
_CPP_LANGS = {"c": ".i", "c++": ".ii", "objective-c": ".mi", "objective-c++": ".mii"}
_PREPROCESSED = frozenset(
    {"cpp-output", "c++-cpp-output", "objective-c-cpp-output", "objective-c++-cpp-output"}
)
_HEADERS = frozenset({"c-header", "c++-header", "objective-c-header", "objective-c++-header"})
_ASM = "assembler"
_ASM_CPP = "assembler-with-cpp"
_LINKER_INPUT = ""
_KNOWN_LANGS = frozenset(_CPP_LANGS) | _PREPROCESSED | _HEADERS | frozenset({_ASM, _ASM_CPP})
_PCH_REASON = "precompiled header: tied to the exact compiler binary, built locally"

_COMPILER_NAMES = ("clang++", "clang", "g++", "gcc", "c++", "cc")
_MODE_WORDS = {"c": "compile", "S": "compile to assembler", "E": "preprocess"}


# ---------------------------------------------------------------------------------------------
# Compiler identification
# ---------------------------------------------------------------------------------------------


def compiler_family(name: str) -> str | None:
    """Return "gcc" or "clang" when basename `name` is a C/C++ compiler driver, else None.

    Accepts a cross prefix ending in "-" and a numeric version suffix: x86_64-linux-gnu-gcc-12,
    clang++-14, arm-none-eabi-g++, cc, c++. Rejects gcc-ar/gcc-nm/gcc-ranlib and the
    c89-gcc/c99-gcc wrapper scripts.
    """
    stem = name
    dash = stem.rfind("-")
    if dash > 0 and stem[dash + 1 :].replace(".", "").isdigit():
        stem = stem[:dash]
    for cand in _COMPILER_NAMES:
        if stem.endswith(cand):
            prefix = stem[: len(stem) - len(cand)]
            if prefix and (not prefix.endswith("-") or prefix in ("c89-", "c99-")):
                continue
            return "clang" if cand.startswith("clang") else "gcc"
    return None


def _find_program(prog: str, cwd: str, env: dict[str, str], skip_ccache: bool) -> str | None:
    """The file execvp would run for `prog` (ccache's look-up with skip_ccache), or None."""
    if "/" in prog:
        candidates = [prog]
    else:
        candidates = [os.path.join(d, prog) for d in env.get("PATH", os.defpath).split(":")]
    for c in candidates:
        path = os.path.join(cwd, c)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            if skip_ccache and _is_ccache(path):
                continue
            return path
    return None


def _resolve_links(path: str) -> str:
    """Follow symlinks of the last path component (/usr/bin/cc -> /etc/alternatives/cc ->
    /usr/bin/gcc -> gcc-12 -> x86_64-linux-gnu-gcc-12): enough to name the real driver, and
    a few readlink calls instead of realpath's lstat of every directory."""
    for _ in range(40):
        try:
            target = os.readlink(path)
        except OSError:
            break
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return path


def _is_ccache(path: str) -> bool:
    return os.path.basename(_resolve_links(path)) == "ccache"


# ---------------------------------------------------------------------------------------------
# Response files
# ---------------------------------------------------------------------------------------------


def split_response_file(text: str) -> list[str]:
    """Split @file contents like gcc (libiberty buildargv).

    Whitespace separates arguments; single and double quotes group; a backslash escapes the
    next character anywhere, also inside quotes; "" is an empty argument.
    """
    args: list[str] = []
    i, n = 0, len(text)
    space = " \t\n\r\f\v"
    while i < n:
        while i < n and text[i] in space:
            i += 1
        if i >= n:
            break
        cur: list[str] = []
        squote = dquote = bsquote = False
        while i < n:
            ch = text[i]
            if ch in space and not (squote or dquote or bsquote):
                break
            if bsquote:
                bsquote = False
                cur.append(ch)
            elif ch == "\\":
                bsquote = True
            elif squote:
                if ch == "'":
                    squote = False
                else:
                    cur.append(ch)
            elif dquote:
                if ch == '"':
                    dquote = False
                else:
                    cur.append(ch)
            elif ch == "'":
                squote = True
            elif ch == '"':
                dquote = True
            else:
                cur.append(ch)
            i += 1
        args.append("".join(cur))
    return args


def _expand(args: list[str], cwd: str, rsp_files: list[str]) -> tuple[list[str], list[int]]:
    """Expand @file arguments recursively, keeping each token's 1-based index in `args`.

    Tokens read from a response file get index -1: they cannot be rewritten. Raises OSError
    when a response file cannot be read (gcc would take "@name" literally; we go local).
    """
    toks: list[str] = []
    origin: list[int] = []

    def add(seq: list[str], top: bool, depth: int) -> None:
        for k, a in enumerate(seq, 1):
            if len(a) > 1 and a[0] == "@":
                if depth >= _MAX_RSP_DEPTH:
                    raise OSError("response files nested too deeply")
                rsp_files.append(a[1:])
                with open(os.path.join(cwd, a[1:]), "rb") as f:
                    data = f.read(_MAX_RSP_BYTES + 1)
                if len(data) > _MAX_RSP_BYTES:
                    raise OSError(f"response file {a[1:]} is too large")
                add(split_response_file(data.decode("utf-8", "surrogateescape")), False, depth + 1)
            else:
                toks.append(a)
                origin.append(k if top else -1)

    add(args, True, 0)
    return toks, origin


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


def _lang_of(path: str) -> str:
    dot = path.rfind(".")
    if dot < 0 or dot < path.rfind("/"):
        return _LINKER_INPUT
    return _SUFFIX_LANG.get(path[dot + 1 :], _LINKER_INPUT)


# ---------------------------------------------------------------------------------------------
# The parse: walk the arguments once, remember what matters
# ---------------------------------------------------------------------------------------------


class _Cmd:
    """What the parse learned about one command line. Token indices refer to `toks`."""

    __slots__ = (
        "aux_info", "dep_m", "extra_inputs", "family", "inputs", "md", "mf", "mode_c",
        "mode_e", "mode_s", "mt_seen", "out", "pipe", "reason", "save_temps", "save_temps_at",
        "sources", "stack_usage", "syntax_only", "time_trace", "wp_deps",
    )  # fmt: skip

    def __init__(self, family: str) -> None:
        self.family = family
        self.reason: str | None = None  # the first reason to stay local
        self.mode_c = self.mode_s = self.mode_e = False
        self.dep_m = False  # -M / -MM: dependency generation only (implies -E)
        self.md = False  # -MD / -MMD
        self.mf: tuple[int, str] | None = None  # (token, path) of -MF
        self.mt_seen = False  # -MT / -MQ given
        self.out: tuple[int, str] | None = None  # (token, path) of the last -o
        self.pipe = False
        self.syntax_only = False
        self.save_temps: str | None = None  # "" (plain), "cwd" or "obj"
        self.save_temps_at: list[int] = []
        self.stack_usage = False
        self.time_trace = False
        self.aux_info: tuple[int, str] | None = None
        self.wp_deps: list[tuple[int, int]] = []  # (token, item index of the file in -Wp,…)
        self.inputs: list[str] = []  # every non-option argument
        self.sources: list[tuple[str, str]] = []  # (path, language) of non-linker inputs
        self.extra_inputs: list[str] = []  # -include files and the like

    def local(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


def _parse(toks: list[str], family: str) -> _Cmd:
    cmd = _Cmd(family)
    lang = ""  # the current -x language; "" = by suffix
    i, n = 0, len(toks)
    while i < n:
        a = toks[i]
        i += 1
        if a[:1] != "-" or a == "-":
            if a == "-":
                cmd.local("reads the source from stdin")
            cmd.inputs.append(a)
            src_lang = lang or _lang_of(a)
            if src_lang != _LINKER_INPUT:
                cmd.sources.append((a, src_lang))
            continue
        if a in _SAFE_EXACT:
            continue
        if a in _SEPARATE_HANDLERS or a in _SAFE_SEPARATE:
            if i >= n:
                cmd.local(f"{a} without its argument")
                break
            v = toks[i]
            i += 1
            handler = _SEPARATE_HANDLERS.get(a)
            if handler is not None:
                new_lang = handler(cmd, i - 2, v)
                if a == "-x":
                    lang = new_lang or ""
                elif a == "-Xclang" and v in _XCLANG_SEPARATE:
                    if i + 1 < n and toks[i] == "-Xclang":
                        cmd.extra_inputs.append(toks[i + 1])
                        i += 2
                    else:
                        cmd.local(f"-Xclang {v} without its argument")
            elif a in _INPUT_FLAGS:
                cmd.extra_inputs.append(v)
            continue
        if a.startswith("-x"):
            lang = _on_lang(cmd, i - 1, a[2:]) or ""
            continue
        _parse_flag(cmd, a, i - 1)
    return cmd


def _on_out(cmd: _Cmd, tok: int, v: str) -> None:
    cmd.out = (tok, v)


def _on_lang(cmd: _Cmd, tok: int, v: str) -> str | None:
    if v == "none":
        return None
    if v not in _KNOWN_LANGS:
        cmd.local(f"language {v} is not handled")
    return v


def _on_mf(cmd: _Cmd, tok: int, v: str) -> None:
    if cmd.mf is not None:
        cmd.local("several -MF options")
    cmd.mf = (tok, v)


def _on_mt(cmd: _Cmd, tok: int, v: str) -> None:
    cmd.mt_seen = True


def _on_aux_info(cmd: _Cmd, tok: int, v: str) -> None:
    cmd.aux_info = (tok, v)


def _on_xpreprocessor(cmd: _Cmd, tok: int, v: str) -> None:
    _check_cpp_items(cmd, [v], -1)


def _on_xassembler(cmd: _Cmd, tok: int, v: str) -> None:
    _check_as_items(cmd, [v])


def _on_xclang(cmd: _Cmd, tok: int, v: str) -> None:
    if v not in _XCLANG_SAFE and v not in _XCLANG_SEPARATE:
        cmd.local(f"unknown flag -Xclang {v}")


def _on_dump_option(cmd: _Cmd, tok: int, v: str) -> None:
    cmd.local("-dumpbase/-dumpdir change where auxiliary outputs go")


def _on_mllvm(cmd: _Cmd, tok: int, v: str) -> None:
    cmd.local(f"unknown flag -mllvm {v}")


def _on_local_separate(cmd: _Cmd, tok: int, v: str) -> None:
    cmd.local("-specs/-wrapper may change the compile in ways spraycc cannot see")


_SEPARATE_HANDLERS = {
    "-o": _on_out,
    "-x": _on_lang,
    "-MF": _on_mf,
    "-MT": _on_mt,
    "-MQ": _on_mt,
    "-aux-info": _on_aux_info,
    "-Xpreprocessor": _on_xpreprocessor,
    "-Xassembler": _on_xassembler,
    "-Xclang": _on_xclang,
    "-dumpbase": _on_dump_option,
    "-dumpdir": _on_dump_option,
    "-dumpbase-ext": _on_dump_option,
    "-mllvm": _on_mllvm,
    "-specs": _on_local_separate,
    "-wrapper": _on_local_separate,
}


def _parse_flag(cmd: _Cmd, a: str, tok: int) -> None:
    """One option that is not a separate-value flag."""
    if a == "-c":
        cmd.mode_c = True
    elif a == "-S":
        cmd.mode_s = True
    elif a == "-E":
        cmd.mode_e = True
    elif a in ("-M", "-MM"):
        cmd.dep_m = True
    elif a in ("-MD", "-MMD"):
        cmd.md = True
    elif a == "-pipe":
        cmd.pipe = True
    elif a in _QUERY_EXACT or a.startswith(_QUERY_PREFIXES):
        cmd.local(f"not a compile: {a}")
    elif a.startswith("-f"):
        _parse_f(cmd, a)
    elif a.startswith("-m"):
        # "native" means "this host": the cluster host may have another CPU.
        if a.endswith("=native"):
            cmd.local(f"{a}: the cluster host may have a different CPU")
    elif a.startswith("-g"):
        if a.startswith("-gsplit-dwarf"):
            # The .dwo name embedded in the object follows the output location (tested:
            # -fdebug-prefix-map does not apply to it; -dumpdir would write into the tree).
            cmd.local("split DWARF: the .dwo name in the object follows the output location")
        elif a == "-gmodules":
            cmd.local("-gmodules embeds module cache paths")
    elif a.startswith("-W"):
        if a.startswith("-Wp,"):
            _check_cpp_items(cmd, a[4:].split(","), tok)
        elif a.startswith("-Wa,"):
            _check_as_items(cmd, a[4:].split(","))
        # any other -W is a warning option, or -Wl, (ignored when not linking)
    elif a.startswith("-o"):
        cmd.out = (tok, a[2:])
    elif a.startswith("-MF"):
        _on_mf(cmd, tok, a[3:])
    elif a.startswith(("-MT", "-MQ")):
        cmd.mt_seen = True
    elif a in ("-save-temps", "--save-temps") or a.startswith("-save-temps="):
        kind = a.partition("=")[2]
        if kind not in ("", "cwd", "obj"):
            cmd.local(f"unknown flag {a}")
        cmd.save_temps = kind
        cmd.save_temps_at.append(tok)
    elif a.startswith("-aux-info="):
        cmd.aux_info = (tok, a[10:])
    elif a in ("--coverage", "-coverage"):
        cmd.local("coverage: the .gcda path in the object follows the output location")
    elif a.startswith(_SAFE_PREFIXES):
        if a.startswith(("-include", "-imacros")):  # both 8 characters long
            cmd.extra_inputs.append(a[8:])
    elif a.startswith("-d"):
        cmd.local(f"{a} writes RTL dump files")
    else:
        cmd.local(f"unknown flag {a}")


def _parse_f(cmd: _Cmd, a: str) -> None:
    if a.startswith("-fno-"):
        return
    if a == "-fsyntax-only":
        cmd.syntax_only = True
    elif a == "-fstack-usage":
        cmd.stack_usage = True
    elif a == "-ftime-trace" and cmd.family == "clang":
        cmd.time_trace = True
    elif a.startswith("-ftime-trace"):
        cmd.local(f"unknown flag {a}" if cmd.family == "gcc" else f"{a} is not handled")
    elif (a.startswith("-fopt-info") and "=" in a) or (
        a.startswith("-fdiagnostics-format=") and a.endswith("-file")
    ):
        cmd.local(f"{a} writes a file")
    else:
        for prefix, why in _F_LOCAL:
            if a.startswith(prefix):
                cmd.local(f"{a}: {why}")
                return


def _check_cpp_items(cmd: _Cmd, items: list[str], tok: int) -> None:
    """Options handed to the preprocessor: -Wp,a,b,… (tok >= 0) or -Xpreprocessor a."""
    k = 0
    while k < len(items):
        it = items[k]
        if it in ("-MD", "-MMD") and tok >= 0:
            if k + 1 >= len(items) or not items[k + 1]:
                cmd.local(f"-Wp,{it} without a file name")
                return
            cmd.wp_deps.append((tok, k + 1))
            k += 2
        elif it in ("-MT", "-MQ") and k + 1 < len(items):
            cmd.mt_seen = True
            k += 2
        elif it in _CPP_SEPARATE and k + 1 < len(items):
            k += 2
        elif it in _CPP_SAFE_EXACT or (
            it.startswith(_CPP_SAFE_PREFIXES) and not it.startswith(("-MD", "-MMD", "-MF"))
        ):
            k += 1
        else:
            cmd.local(f"unknown preprocessor option {it}")
            return


def _check_as_items(cmd: _Cmd, items: list[str]) -> None:
    """Options handed to the assembler: -Wa,a,b,… or -Xassembler a."""
    k = 0
    while k < len(items):
        it = items[k]
        if not it.startswith(_AS_SAFE_PREFIXES):
            cmd.local(f"unknown assembler option {it}")
            return
        k += 2 if it in ("--defsym", "-I") else 1


# ---------------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------------


def classify(argv: list[str], cwd: str, env: dict[str, str]) -> Decision:
    """Decide where `argv` runs (in `cwd`, with `env`) and which files it reads and writes."""
    if not argv:
        return Decision(False, "empty command", argv)
    prog, args = argv[0], argv[1:]
    found = _find_program(prog, cwd, env, False)
    if found is None:
        return Decision(False, f"{prog}: not found on PATH", argv, compiler=prog)
    real = _resolve_links(found)
    head = prog
    if os.path.basename(real) == "ccache":
        # ccache on a cluster host would write the shared cache directory from there. Strip
        # it and run the compiler ccache would run: the result of a cache miss.
        if os.path.basename(prog) == "ccache" or compiler_family(os.path.basename(prog)) is None:
            if not args or args[0][:1] == "-":
                return Decision(False, "not a compile: ccache command", argv, compiler=real)
            name, args = args[0], args[1:]
        else:
            name = os.path.basename(prog)  # a masquerade link such as /usr/lib/ccache/gcc
        found = _find_program(name, cwd, env, True)
        if found is None:
            return Decision(False, f"{name}: no compiler found past ccache", argv, compiler=name)
        real = _resolve_links(found)
        # Keep the name the user wrote when it finds the same compiler (diagnostics print the
        # basename of argv[0]); a masquerade directory on PATH needs the full path.
        head = name if _find_program(name, cwd, env, False) == found else found
    family = compiler_family(os.path.basename(real))
    if family is None:
        return Decision(False, f"{prog} is not a known compiler", argv, compiler=real)
    if not args:
        return Decision(False, "not a compile: no arguments", argv, compiler=real)
    if env.get("GCC_COMPARE_DEBUG"):
        return Decision(False, "GCC_COMPARE_DEBUG writes comparison dumps", argv, compiler=real)

    rsp_files: list[str] = []
    if any(a[:1] == "@" for a in args):
        try:
            toks, origin = _expand(args, cwd, rsp_files)
        except (OSError, UnicodeError) as e:
            return Decision(False, f"unreadable response file: {e}", argv, compiler=real)
    else:
        toks, origin = args, list(range(1, len(args) + 1))
    cmd = _parse(toks, family)
    plan = _Plan(cmd, toks, origin, cwd, env)
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
            compiler=real,
        )
    return Decision(
        True,
        plan.what,
        [head, *plan.remote_args(args)],
        env=plan.env,
        inputs=inputs,
        outputs=plan.outputs,
        dependency_task=cmd.dep_m,
        compiler=real,
    )


class _Plan:
    """The outputs of a parsed command, and the argument rewrites that redirect them to TMP."""

    __slots__ = (
        "append", "cmd", "cwd", "env", "envv", "next_dir", "origin", "outputs", "rewrite",
        "toks", "what",
    )  # fmt: skip

    def __init__(
        self, cmd: _Cmd, toks: list[str], origin: list[int], cwd: str, envv: dict[str, str]
    ) -> None:
        self.cmd = cmd
        self.toks = toks
        self.origin = origin
        self.cwd = cwd
        self.envv = envv
        self.outputs: list[Output] = []
        self.rewrite: dict[int, list[str]] = {}  # 1-based argument index -> replacement
        self.append: list[str] = []
        self.env: dict[str, str | None] = {}
        self.what = ""
        self.next_dir = 1  # TMP/0 holds the primary output and the files named after it

    # -- helpers ------------------------------------------------------------------------------

    def local(self, reason: str) -> None:
        self.cmd.local(reason)

    def remote_args(self, args: list[str]) -> list[str]:
        out: list[str] = []
        for k, a in enumerate(args, 1):
            rep = self.rewrite.get(k)
            if rep is None:
                out.append(a)
            else:
                out.extend(rep)
        return out + self.append

    def set_token(self, tok: int, replacement: list[str], with_value: bool) -> bool:
        """Replace token `tok` (and its separate value); refuse tokens from a response file."""
        idx = self.origin[tok]
        if idx < 0 or (with_value and self.origin[tok + 1] != idx + 1):
            self.local("an output option inside a response file cannot be redirected")
            return False
        self.rewrite[idx] = replacement
        if with_value:
            self.rewrite[idx + 1] = []
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
            if lang not in _KNOWN_LANGS:
                self.local(f"{p}: language {lang} is not handled")
            elif lang in _HEADERS and mode != "E":
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
            return "S"
        if cmd.mode_c or cmd.syntax_only:
            return "c"
        if cmd.sources and all(lang in _HEADERS for _, lang in cmd.sources):
            self.local(_PCH_REASON)
            return "c"  # gcc compiles headers to a PCH even without -c
        if cmd.inputs:
            self.local("link step")
        else:
            self.local("not a compile: no input files")
        return None

    def single(self, mode: str, src: str, lang: str) -> None:
        cmd = self.cmd
        gcc = cmd.family == "gcc"
        if mode == "S" and lang in (_ASM, _ASM_CPP):
            self.local("-S on an assembler source")
            return
        if mode == "E" and (lang == _ASM or lang in _PREPROCESSED):
            self.local("-E on a source that needs no preprocessing")
            return
        base = os.path.basename(src)
        if not base or base[0] == ".":
            self.local(f"cannot derive output names from {src!r}")
            return
        if lang in _HEADERS and mode != "E":  # local (see run); listed for `spraycc explain`
            out = cmd.out[1] if cmd.out is not None else src + ".gch"
            self.add(out, "0/" + os.path.basename(out), "delete", False)
            return
        stem = _strip_ext(base)
        cc1 = lang not in (_ASM, _ASM_CPP)  # runs the compiler proper
        cpp = lang != _ASM and lang not in _PREPROCESSED  # runs the preprocessor
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
        if out is not None:
            odir, obase = _split_dir(out)
            if obase in ("", ".", ".."):
                self.local(f"-o {out} names a directory")
                return
            separate = self.toks[cmd.out[0]] == "-o"
            if not self.set_token(cmd.out[0], ["-o", f"{TMP}/0/{obase}"], separate):
                return
            aux_dir, aux_stem = odir, _strip_ext(obase)
        elif mode == "E":
            obase = ""  # stdout
            aux_dir, aux_stem = "", stem
        else:
            obase = stem + (".o" if mode == "c" else ".s")
            out = obase
            self.append += ["-o", f"{TMP}/0/{obase}"]
            aux_dir, aux_stem = "", stem
        if obase and not (cmd.syntax_only and mode != "E"):
            self.add(out, "0/" + obase, self.primary_on_missing(mode, lang), gcc and mode != "c")

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
            else:  # -E to stdout: the .d goes to <stem>.d in the current directory
                d = self.new_dir()
                self.append += ["-MF", f"{TMP}/{d}/{stem}.d"]
                self.add(stem + ".d", f"{d}/{stem}.d", dep_missing, True)
        if cmd.wp_deps and cpp:
            if cmd.md or cmd.dep_m:
                self.local("-Wp, dependency options together with -MD/-M")
                return
            wants_target = not gcc  # clang turns -Wp,-MD,f into -MD -MF f
            for tok, k in cmd.wp_deps:
                self.wp_output(tok, k, dep_missing)
        if wants_target and not cmd.mt_seen:
            if cmd.out is not None and (mode != "E" or not gcc):
                self.append += ["-MQ", out]
            elif cmd.out is None and mode != "E":  # we added the -o
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
                if lang in _CPP_LANGS:
                    exts.append(_CPP_LANGS[lang])
                if mode == "c" and lang != _ASM:
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
          ignored with -save-temps) the driver deletes the target. A remote run cannot tell
          which stage failed, so a C file with bad inline asm keeps a stale object that a
          local run would delete: harmless, the object is older than what triggered the build.
        - -S, -E -o, -M -o: deleted (the specs mark -o with %W, delete on failure).
        - clang deletes its -o target on any failure.
        """
        cmd = self.cmd
        if cmd.family != "gcc" or mode != "c":
            return "delete"
        if lang == _ASM or (cmd.pipe and cmd.save_temps is None):
            return "delete"
        return "keep"

    def explicit_output(self, at: tuple[int, str], flag: str, on_missing: str, keep: bool) -> None:
        """A file named by its own flag (-MF x, -MFx, -aux-info x): its own TMP subdir."""
        tok, path = at
        if path == "-":
            return  # stdout
        base = os.path.basename(path)
        if base in ("", ".", ".."):
            self.local(f"{flag} {path} names a directory")
            return
        d = self.new_dir()
        separate = self.toks[tok] == flag
        if self.set_token(tok, [flag, f"{TMP}/{d}/{base}"], separate):
            self.add(path, f"{d}/{base}", on_missing, keep)

    def wp_output(self, tok: int, k: int, on_missing: str) -> None:
        """-Wp,-MD,file (kernel style): rewrite the file item inside the -Wp token."""
        idx = self.origin[tok]
        current = self.rewrite.get(idx)
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
