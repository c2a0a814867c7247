"""Compiler flag tables for the classifier, grouped by *why* a flag matters (pure data).

spraycc.step.cmdline walks a command line against these tables; spraycc.step.classify turns what it
learned into a decision. Each table answers one question: does the flag ask the compiler about
itself (QUERY_*), change nothing but code generation or search paths (SAFE_*), read a file
(INPUT_FLAGS), write files we cannot redirect or embed the output location (F_LOCAL,
CLANG_RECORDS_ARGV, ENV_LOCAL), or get passed to a sub-tool that might write files (AS_*,
CPP_*, XCLANG_*). A flag in no table is unknown, and an unknown flag keeps a step local.

Runner-path module (imported once per compile): no imports at all.
"""

# fmt: off

# ---------------------------------------------------------------------- queries: run locally
# The command asks the compiler about itself: configure parses the exact output.
QUERY_EXACT = frozenset({
    "-v", "--verbose", "-###", "--version", "--help", "--target-help", "-dumpversion",
    "-dumpfullversion", "-dumpmachine", "-dumpspecs",
})
QUERY_PREFIXES = ("-print-", "--print-", "--help=", "-dump", "--dump")

# ------------------------------------------------------------ harmless: no file of their own
# Flags that change code generation, diagnostics or search paths only.
SAFE_EXACT = frozenset({
    "-w", "-ansi", "-pedantic", "-pedantic-errors", "-pthread", "-pthreads", "-p", "-pg",
    "-Q", "-H", "-time", "-C", "-CC", "-P", "-undef", "-trigraphs", "-traditional",
    "-traditional-cpp", "-remap", "-nostdinc", "-nostdinc++", "-no-canonical-prefixes",
    "-canonical-prefixes", "-MP", "-MG", "-dD", "-dM", "-dN", "-dI", "-dU",
    "-pass-exit-codes", "-no-integrated-cpp",
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
SAFE_SEPARATE = frozenset({
    "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-idirafter", "-iprefix",
    "-iwithprefix", "-iwithprefixbefore", "-isysroot", "--sysroot", "-iquote", "-imultilib",
    "-imultiarch", "-L", "-l", "-Xlinker", "-T", "-u", "-e", "-z", "-B", "--param", "-arch",
    "-target", "-gcc-toolchain", "-include-pch", "-isystem-after", "-iframework", "-F",
    "-ivfsoverlay", "-resource-dir", "-cxx-isystem", "-iwithsysroot",
})
# Their joined forms, and other flags recognised by prefix.
SAFE_PREFIXES = (
    "-I", "-D", "-U", "-L", "-l", "-B", "-O", "-std=", "--std=", "-isystem", "-iquote",
    "-idirafter", "-include", "-imacros", "-iprefix", "-iwithprefix", "-isysroot",
    "-imultilib", "-imultiarch", "-iplugindir=", "--sysroot=", "--param=", "-Wl,", "-stdlib=",
    "--target=", "--gcc-toolchain=", "-resource-dir=", "-fuse-ld=", "-rtlib=", "--rtlib=",
    "-unwindlib=", "-T", "-pedantic",
)

# ------------------------------------------------------------------------- inputs
# Files read through a flag (separate value), reported as inputs.
INPUT_FLAGS = ("-include", "-imacros", "-include-pch")

# ------------------------------------------- files we cannot redirect, or paths in the object
# -f flags that read or write files we cannot redirect, or embed the output location in the
# object. Every other -f flag only changes code generation or diagnostics, and -fno-* switches
# something off. (-fstack-usage, -ftest-coverage, -fsyntax-only, -ftime-trace are handled.)
F_LOCAL = (
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
    ("-fdiagnostics-add-output", "writes diagnostics files"),
    ("-fdiagnostics-set-output", "writes diagnostics files"),
    ("-fltrans", "LTO internal step"),
    ("-fwpa", "LTO internal step"),
)

# clang records its whole driver command line (-o included) in the object with these; gcc
# records only the compiler proper's options, without -o/-MF/-MQ/-dumpdir (tested).
CLANG_RECORDS_ARGV = frozenset({
    "-frecord-command-line", "-frecord-gcc-switches", "-grecord-command-line",
    "-grecord-gcc-switches", "-fembed-bitcode", "-fembed-bitcode=all",
})

# Environment variables that make the compiler write files or change its arguments.
ENV_LOCAL = {
    "gcc": ("GCC_COMPARE_DEBUG",),
    "clang": ("CCC_OVERRIDE_OPTIONS", "CC_PRINT_OPTIONS", "CC_PRINT_HEADERS",
              "CC_LOG_DIAGNOSTICS", "CC_PRINT_PROC_STAT"),
}

# ------------------------------------------------------------ options handed to sub-tools
# Assembler options (-Wa, / -Xassembler) known to write nothing.
AS_SAFE_PREFIXES = (
    "--noexecstack", "--execstack", "--fatal-warnings", "--no-warn", "--warn", "-W",
    "-mrelax-relocations=", "--64", "--32", "--x32", "-march=", "-mtune=", "-g", "--gdwarf",
    "--gstabs", "-I", "-mx86-used-note=", "--compress-debug-sections",
    "--nocompress-debug-sections", "-mno-shared", "-mshared", "-mbig-obj", "--size-check=",
    "-msse2avx", "-msse-check=", "-moperand-check=", "--elf-stt-common=",
    "--generate-missing-build-notes=", "-mbranches-within-32B-boundaries", "-malign-branch",
    "--defsym", "-K", "-L", "--keep-locals", "-mfence-as-lock-add=", "-mlfence",
)
AS_SEPARATE = frozenset({"--defsym", "-I"})

# Preprocessor options (-Wp, / -Xpreprocessor) known to write nothing (deps are handled).
CPP_SAFE_PREFIXES = ("-D", "-U", "-I", "-P", "-C", "-dD", "-dM", "-dN", "-W", "-std=")
CPP_SAFE_EXACT = frozenset({"-MP", "-MG", "-undef", "-nostdinc", "-nostdinc++"})
CPP_SEPARATE = frozenset({"-include", "-imacros", "-isystem", "-iquote", "-idirafter"})

# -Xclang arguments we understand (CMake's clang PCH support uses these).
XCLANG_SAFE = frozenset({"-fno-pch-timestamp", "-fcolor-diagnostics", "-fno-validate-pch"})
XCLANG_SEPARATE = frozenset({"-include-pch", "-include"})

# ------------------------------------------------------------------------- languages
# Language by suffix (gcc's default_compilers table); anything else is a linker input.
SUFFIX_LANG = {
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
CPP_LANGS = {"c": ".i", "c++": ".ii", "objective-c": ".mi", "objective-c++": ".mii"}
PREPROCESSED = frozenset(
    {"cpp-output", "c++-cpp-output", "objective-c-cpp-output", "objective-c++-cpp-output"}
)
HEADERS = frozenset({"c-header", "c++-header", "objective-c-header", "objective-c++-header"})
ASM = "assembler"
ASM_CPP = "assembler-with-cpp"
LINKER_INPUT = ""
KNOWN_LANGS = frozenset(CPP_LANGS) | PREPROCESSED | HEADERS | frozenset({ASM, ASM_CPP})

# ------------------------------------------------------------------------- diagnostics
# Options by which the command chooses its own diagnostics colours or format: the runner then
# adds no colour flag at a terminal.
DIAG_COLOUR_PREFIXES = (
    "-fdiagnostics-color",
    "-fno-diagnostics-color",
    "-fcolor-diagnostics",
    "-fno-color-diagnostics",
    "-fdiagnostics-format=",
)
# Terminal types whose terminfo entry has colours (clang colours only at those).
CLANG_COLOUR_TERMS = frozenset({"linux", "ansi"})
CLANG_COLOUR_TERM_PREFIXES = ("xterm", "screen", "tmux", "rxvt")

# ------------------------------------------------------------------------- drivers
# Driver names (longest match first), after an optional cross prefix and version suffix.
COMPILER_NAMES = ("clang++", "clang", "g++", "gcc", "c++", "cc")
