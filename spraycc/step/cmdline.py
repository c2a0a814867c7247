"""Read one compiler command line: expand response files, walk the arguments once.

`expand(args, cwd, rsp_files)` reads `@file` arguments like gcc (libiberty's buildargv) and
remembers which top-level argument each token came from, so that output options can be
rewritten in the original argv (which keeps its `@file`s). `parse(toks, family)` walks the
tokens against the tables in spraycc.step.flags and returns a `Parsed`: the mode (-c/-S/-E/-M),
the sources with their languages, every option that names an output, and the first reason to
keep the step local (an unknown flag, a query, a flag that writes files we cannot redirect).
spraycc.step.classify turns a `Parsed` into a decision.

Runner-path module (imported once per compile): imports only `os`.
"""

from __future__ import annotations

import os

from spraycc.step import flags

MAX_RSP_DEPTH = 16
MAX_RSP_BYTES = 1 << 20

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


def expand(args: list[str], cwd: str, rsp_files: list[str]) -> tuple[list[str], list[int]]:
    """Expand @file arguments recursively, keeping each token's 1-based index in `args`.

    Tokens read from a response file get index -1: they cannot be rewritten. Each response
    file read is appended to `rsp_files`. Raises OSError when a response file cannot be read
    (gcc would take "@name" literally; we go local).
    """
    toks: list[str] = []
    origin: list[int] = []

    def add(seq: list[str], top: bool, depth: int) -> None:
        for k, a in enumerate(seq, 1):
            if len(a) > 1 and a[0] == "@":
                if depth >= MAX_RSP_DEPTH:
                    raise OSError("response files nested too deeply")
                rsp_files.append(a[1:])
                with open(os.path.join(cwd, a[1:]), "rb") as fh:
                    data = fh.read(MAX_RSP_BYTES + 1)
                if len(data) > MAX_RSP_BYTES:
                    raise OSError(f"response file {a[1:]} is too large")
                add(split_response_file(data.decode("utf-8", "surrogateescape")), False, depth + 1)
            else:
                toks.append(a)
                origin.append(k if top else -1)

    add(args, True, 0)
    return toks, origin


def lang_of(path: str) -> str:
    """The language gcc infers from a file name (LINKER_INPUT for anything else)."""
    dot = path.rfind(".")
    if dot < 0 or dot < path.rfind("/"):
        return flags.LINKER_INPUT
    return flags.SUFFIX_LANG.get(path[dot + 1 :], flags.LINKER_INPUT)


# ---------------------------------------------------------------------------------------------
# The parse: walk the arguments once, remember what matters
# ---------------------------------------------------------------------------------------------


class Parsed:
    """What the parse learned about one command line. Token indices refer to `toks`."""

    __slots__ = (
        "aux_info", "dep_m", "diag_colour", "emit_llvm", "extra_inputs", "family", "incdirs",
        "input_toks", "inputs", "md", "mf",
        "mode_c", "mode_e", "mode_s", "mt_seen", "out", "pipe", "query", "reason", "save_temps",
        "save_temps_at", "sources", "stack_usage", "syntax_only", "time_trace", "wp_deps",
    )  # fmt: skip

    def __init__(self, family: str) -> None:
        self.family = family
        self.reason: str | None = None  # the first reason to stay local
        self.mode_c = self.mode_s = self.mode_e = False
        self.dep_m = False  # -M / -MM: dependency generation only (implies -E)
        self.md = False  # -MD / -MMD
        self.mf: tuple[int, str] | None = None  # (token, path) of the last -MF (it wins)
        self.incdirs: list[tuple[int, str]] = []  # (search rank, dir) of -iquote/-I/...
        self.emit_llvm = False  # clang -emit-llvm: .bc/.ll instead of .o/.s
        self.input_toks: list[int] = []  # token index of each of `inputs`
        self.mt_seen = False  # -MT / -MQ given
        self.out: tuple[int, str] | None = None  # (token, path) of the last -o
        self.pipe = False
        self.query = False  # a flag that asks the compiler about itself (flags.QUERY_*)
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
        self.diag_colour = False  # the command picks its diagnostics colours/format itself

    def local(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


def parse(toks: list[str], family: str) -> Parsed:
    """Walk the expanded arguments of a `family` ("gcc"/"clang") driver once."""
    cmd = Parsed(family)
    lang = ""  # the current -x language; "" = by suffix
    i, n = 0, len(toks)
    while i < n:
        a = toks[i]
        i += 1
        if a[:1] != "-" or a == "-":
            if a == "-":
                cmd.local("reads the source from stdin")
            cmd.inputs.append(a)
            cmd.input_toks.append(i - 1)
            src_lang = lang or lang_of(a)
            if src_lang != flags.LINKER_INPUT:
                cmd.sources.append((a, src_lang))
            continue
        if a in flags.SAFE_EXACT:
            continue
        if a in _LONG_FLAGS:
            a = _LONG_FLAGS[a]
        if a in _SEPARATE_HANDLERS or a in flags.SAFE_SEPARATE:
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
                elif a == "-Xclang" and v in flags.XCLANG_SEPARATE:
                    if i + 1 < n and toks[i] == "-Xclang":
                        cmd.extra_inputs.append(toks[i + 1])
                        i += 2
                    else:
                        cmd.local(f"-Xclang {v} without its argument")
            elif a in flags.INPUT_FLAGS:
                cmd.extra_inputs.append(v)
            elif a in _INCDIR_RANK:
                cmd.incdirs.append((_INCDIR_RANK[a], v))
            continue
        if a.startswith("-x"):
            lang = _on_lang(cmd, i - 1, a[2:]) or ""
            continue
        _parse_flag(cmd, a, i - 1)
    return cmd


# -- flags whose value is the next argument (handler(cmd, token index of the flag, value)) ----


def _on_out(cmd: Parsed, tok: int, v: str) -> None:
    cmd.out = (tok, v)


def _on_lang(cmd: Parsed, tok: int, v: str) -> str | None:
    if v == "none":
        return None
    if v not in flags.KNOWN_LANGS:
        cmd.local(f"language {v} is not handled")
    return v


def _on_mf(cmd: Parsed, tok: int, v: str) -> None:
    cmd.mf = (tok, v)  # the last -MF wins, in gcc (cc1 keeps the last) and in clang


def _on_mt(cmd: Parsed, tok: int, v: str) -> None:
    cmd.mt_seen = True


def _on_aux_info(cmd: Parsed, tok: int, v: str) -> None:
    cmd.aux_info = (tok, v)


def _on_xpreprocessor(cmd: Parsed, tok: int, v: str) -> None:
    _check_cpp_items(cmd, [v], -1)


def _on_xassembler(cmd: Parsed, tok: int, v: str) -> None:
    _check_as_items(cmd, [v])


def _on_xclang(cmd: Parsed, tok: int, v: str) -> None:
    if v not in flags.XCLANG_SAFE and v not in flags.XCLANG_SEPARATE:
        cmd.local(f"unknown flag -Xclang {v}")
    if v.startswith(flags.DIAG_COLOUR_PREFIXES):
        cmd.diag_colour = True


def _on_dump_option(cmd: Parsed, tok: int, v: str) -> None:
    cmd.local("-dumpbase/-dumpdir change where auxiliary outputs go")


def _on_mllvm(cmd: Parsed, tok: int, v: str) -> None:
    cmd.local(f"unknown flag -mllvm {v}")


def _on_local_separate(cmd: Parsed, tok: int, v: str) -> None:
    cmd.local("-specs/-wrapper may change the compile in ways spraycc cannot see")


_SEPARATE_HANDLERS = {
    "-o": _on_out,
    "--output": _on_out,
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


# gcc's long spellings of short options (gcc.cc option_map; clang aliases the same ones).
_LONG_FLAGS = {
    "--write-dependencies": "-MD",
    "--write-user-dependencies": "-MMD",
    "--dependencies": "-M",
    "--user-dependencies": "-MM",
    "--compile": "-c",
    "--assemble": "-S",
    "--preprocess": "-E",
}

# Include directories in the order the preprocessor searches them (quote includes first).
_INCDIR_RANK = {"-iquote": 0, "-I": 1, "-isystem": 2, "-idirafter": 3}


def _incdir(cmd: Parsed, a: str) -> None:
    for flag, rank in _INCDIR_RANK.items():
        if a.startswith(flag) and len(a) > len(flag):
            cmd.incdirs.append((rank, a[len(flag):]))
            return


# -- every other option --------------------------------------------------------------------


def _parse_flag(cmd: Parsed, a: str, tok: int) -> None:
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
    elif a in flags.QUERY_EXACT or a.startswith(flags.QUERY_PREFIXES):
        cmd.query = True
        cmd.local(f"not a compile: {a}")
    elif a.startswith("-f"):
        _parse_f(cmd, a)
    elif a.startswith("-m"):
        # "native" means "this host": the cluster host may have another CPU.
        if a.endswith("=native"):
            cmd.local(f"{a}: the cluster host may have a different CPU")
    elif a.startswith("-g"):
        if cmd.family == "clang" and a in flags.CLANG_RECORDS_ARGV:
            cmd.local(f"clang {a} embeds the command line, with its output paths")
        elif a.startswith("-gsplit-dwarf"):
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
    elif a.startswith("--output="):
        cmd.out = (tok, a[9:])
    elif a == "-emit-llvm" and cmd.family == "clang":
        cmd.emit_llvm = True
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
    elif a.startswith(flags.SAFE_PREFIXES):
        if a.startswith(("-include", "-imacros")):  # both 8 characters long
            cmd.extra_inputs.append(a[8:])
        elif a.startswith(("-I", "-iquote", "-isystem", "-idirafter")):
            _incdir(cmd, a)
    elif a.startswith("-d"):
        cmd.local(f"{a} writes RTL dump files")
    else:
        cmd.local(f"unknown flag {a}")


def _parse_f(cmd: Parsed, a: str) -> None:
    if a.startswith(flags.DIAG_COLOUR_PREFIXES):
        cmd.diag_colour = True
    if a.startswith("-fno-"):
        return
    if cmd.family == "clang" and a in flags.CLANG_RECORDS_ARGV:
        cmd.local(f"clang {a} embeds the command line, with its output paths")
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
        for prefix, why in flags.F_LOCAL:
            if a.startswith(prefix):
                cmd.local(f"{a}: {why}")
                return


def _check_cpp_items(cmd: Parsed, items: list[str], tok: int) -> None:
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
        elif it in flags.CPP_SEPARATE and k + 1 < len(items):
            k += 2
        elif it in flags.CPP_SAFE_EXACT or (
            it.startswith(flags.CPP_SAFE_PREFIXES) and not it.startswith(("-MD", "-MMD", "-MF"))
        ):
            k += 1
        else:
            cmd.local(f"unknown preprocessor option {it}")
            return


def _check_as_items(cmd: Parsed, items: list[str]) -> None:
    """Options handed to the assembler: -Wa,a,b,… or -Xassembler a."""
    k = 0
    while k < len(items):
        it = items[k]
        if not it.startswith(flags.AS_SAFE_PREFIXES):
            cmd.local(f"unknown assembler option {it}")
            return
        k += 2 if it in flags.AS_SEPARATE else 1
