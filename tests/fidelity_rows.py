"""Real compiler command lines and the small tree they run in, shared by the fidelity suites.

tests/test_classify.py runs GCC_ROWS and CLANG_ROWS through the executor/runner emulation in
tests/fidelity.py; tests/test_fidelity_e2e.py runs them, and E2E_ROWS, through a real server
and `spraycc run`. A row is (id, command, extra); `extra` maps:
- "path": contents of a file created in the tree before the step (stale targets, inputs);
- "mode:path": octal mode of that file;
- "env:NAME": an environment variable for the step;
- "cwd:": the step's working directory relative to the tree;
- "pre:": a shell command run (plainly, in the tree root) before the step, on both sides;
- "local:": the step must stay local, and the classifier's reason contains this text;
- "parts:": with "local:", the number of remote steps a server runs it as (a command with
  several sources runs as one step per source);
- "fuzzy:": comma-separated files whose bytes differ between any two runs (timings): only
  their presence and mode are compared, and they must not name the executor's temp dir.
"{root}" in a command stands for the tree's absolute path.
"""

from __future__ import annotations

SOURCES: dict[str, str] = {
    "a.h": "#define A 1\n",
    "a.c": '#include "a.h"\n#include <stdio.h>\n'
    "static int f(int x) { return x + A; }\n"
    'int main(void) { char buf[64]; snprintf(buf, sizeof buf, "%d %s", f(1), __FILE__);'
    " puts(buf); return 0; }\n",
    "b.c": '#include "a.h"\nint b(void) { return A; }\n',
    "b.cpp": '#include <vector>\n#include "a.h"\n'
    "int g(int n) { std::vector<int> v(n, A); int s = 0; for (int x : v) s += x; return s; }\n",
    "sub/x.c": '#include "../a.h"\nint x(void) { return A * 2; }\n',
    "s.S": '#include "a.h"\n.text\n.globl s\ns:\n mov $A, %eax\n ret\n',
    "t.s": ".text\n.globl t\nt:\n ret\n",
    "warn.c": "int w(void) { int unused; return 0; }\n",
    "bad.c": '#include "a.h"\nint f(void) { return x; }\n',
    "badinc.c": '#include "nonexistent.h"\nint g;\n',
    "badasm.c": 'void f(void) { __asm__("bogusinsn"); }\n',
    "pre.i": '# 1 "pre.c"\nint p(void) { return 3; }\n',
    "a b.c": "int sp(void) { return 1; }\n",
    "inc/h1.h": "#define H1 1\n",
    "uses_inc.c": "#include <h1.h>\nint u(void) { return H1; }\n",
    "flags.rsp": "-O2 '-DMSG=\"a b\"' -Iinc -Wall\n",
}

GCC_ROWS: list[tuple[str, str, dict[str, str]]] = [
    # (id, command, extra files) -- extra files are stale targets or env for the row
    ("c", "gcc -c a.c", {}),
    ("c-o-mmd", "gcc -c a.c -o obj/a.o -MMD -MP", {}),
    ("c-md-g", "gcc -g -O2 -c a.c -o obj/a.o -MD", {}),
    ("c-md-noo", "gcc -c sub/x.c -MD -g", {}),
    ("c-mf", "gcc -c a.c -o obj/a.o -MMD -MF deps/a.d -g3 -frecord-gcc-switches", {}),
    ("c-mt", "gcc -c a.c -o obj/a.o -MD -MT custom", {}),
    ("c-space", "gcc -c 'a b.c' -o 'obj/a b.o' -MD -g", {}),
    ("c-dollar", "gcc -c a.c -o 'obj/a$x.o' -MMD", {}),
    ("c-noext", "gcc -c a.c -o obj/a -MD", {}),
    ("cmake", "gcc -DX=1 -Iinc -O2 -g -MD -MT obj/a.c.o -MF obj/a.c.o.d -o obj/a.c.o -c a.c", {}),
    ("cxx", "g++ -std=c++17 -O2 -g -fPIC -MD -MT obj/b.cpp.o -MF obj/b.cpp.o.d "
     "-o obj/b.cpp.o -c b.cpp", {}),
    ("libtool", "gcc -DHAVE_CONFIG_H -I. -g -O2 -MT b.lo -MD -MP -MF .deps/b.Tpo -c b.c "
     "-fPIC -DPIC -o .libs/b.o", {}),
    ("kernel", "gcc -Wp,-MMD,obj/.b.o.d -nostdinc -I. -D__KERNEL__ -O2 -g -c -o obj/b.o b.c", {}),
    ("kernel-asm", "gcc -Wp,-MD,obj/.s.o.d -D__ASSEMBLY__ -Wa,--noexecstack -g -c -o obj/s.o s.S",
     {}),
    ("S", "gcc -S a.c -o obj/a.s -MD", {}),
    ("S-noo", "gcc -S a.c", {}),
    ("E", "gcc -E a.c -o obj/a.i -MD", {}),
    ("E-stdout", "gcc -E a.c", {}),
    ("E-stdout-md", "gcc -E a.c -MMD", {}),
    ("M", "gcc -M a.c", {}),
    ("MM-MF", "gcc -MM -MP a.c -MF deps/a.d", {}),
    ("M-o", "gcc -M a.c -o obj/deps.mk", {}),
    ("syntax-md", "gcc -fsyntax-only a.c -MD", {}),
    ("save-temps", "gcc -c a.c -o obj/a.o -save-temps -g", {}),
    ("save-temps-cwd", "gcc -c a.c -o obj/y.o -save-temps=cwd -g", {}),
    ("save-temps-cxx", "g++ -c b.cpp -o obj/b.o -save-temps=obj", {}),
    ("save-temps-S", "gcc -c s.S -o obj/s.o -save-temps -g", {}),
    ("stack-usage", "gcc -c a.c -o obj/a.c.o -fstack-usage", {}),
    ("aux-info", "gcc -c a.c -o obj/a.o -aux-info obj/proto.h", {}),
    ("asm", "gcc -c t.s -o obj/t.o", {}),
    ("asm-S-g", "gcc -c s.S -o obj/s.o -g -MD", {}),
    ("preprocessed", "gcc -c pre.i -o obj/pre.o -g", {}),
    ("rsp", "gcc @flags.rsp -c uses_inc.c -o obj/u.o -MMD", {}),
    ("env-deps", "gcc -c a.c -o obj/a.o", {"env:DEPENDENCIES_OUTPUT": "obj/a.dep"}),
    ("env-deps-target", "gcc -c a.c -o obj/a.o", {"env:DEPENDENCIES_OUTPUT": "obj/a.dep tgt"}),
    ("env-sunpro", "gcc -c a.c -o obj/a.o", {"env:SUNPRO_DEPENDENCIES": "obj/a.dep"}),
    ("warning", "gcc -Wall -c warn.c -o obj/w.o", {}),
    ("pipe", "gcc -pipe -c a.c -o obj/a.o -MD", {}),
    ("lto", "gcc -flto -ffat-lto-objects -frandom-seed=x -c a.c -o obj/a.o", {}),
    ("prefix-map", "gcc -g -ffile-prefix-map=/nowhere=. -c a.c -o obj/a.o", {}),
    ("x-lang", "gcc -x c -c inc/h1.h -o obj/h1.o", {}),
    ("c-mf-noo", "gcc -c a.c -MD -MF deps/a.d", {}),
    ("S-md-noo", "gcc -S a.c -MD", {}),
    ("save-temps-noo", "gcc -c sub/x.c -save-temps", {}),
    ("stack-usage-noo", "gcc -c a.c -fstack-usage", {}),
    ("x-asm-cpp", "gcc -x assembler-with-cpp -c s.S -o obj/s2.o -MMD", {}),
    ("include", "gcc -include a.h -c b.c -o obj/b.o -MD", {}),
    ("MG", "gcc -MM -MG -MP badinc.c", {}),
    ("E-dM", "gcc -E -dM a.c -o obj/macros.h", {}),
    ("E-multi", "gcc -E a.c b.c", {}),
    ("hash-in-name", "gcc -c a.c -o 'obj/a#b.o' -MD", {}),
    ("dot-slash", "gcc -c ./a.c -o ./obj/a.o -MD", {}),
    ("double-slash", "gcc -c a.c -o obj//a.o -MD", {}),
    ("abs-out", "gcc -g -c a.c -o {root}/obj/a.o -MD", {}),
    ("abs-src", "gcc -g -c {root}/a.c -o obj/a.o -MD", {}),
    ("prefix-map-root", "gcc -g -fdebug-prefix-map={root}=/src -c a.c -o obj/a.o", {}),
    ("werror-fail", "gcc -Wall -Werror -c warn.c -o obj/w.o -MMD", {"obj/w.o": "stale"}),
    ("asm-gdwarf", "gcc -g -Wa,-gdwarf-5 -c s.S -o obj/s.o", {}),
    ("cxx-S", "g++ -S -O2 b.cpp -o obj/b.s -MD", {}),
    ("env-deps-E", "gcc -E a.c -o obj/a.i", {"env:DEPENDENCIES_OUTPUT": "obj/a.dep"}),
    ("in-subdir", "gcc -c x.c -o ../obj/x.o -MD -g", {"cwd:": "sub"}),
    ("g3-gz", "gcc -g3 -gz -O1 -c a.c -o obj/a.o -MMD", {}),
    ("record-switches", "gcc -g -frecord-gcc-switches -c a.c -o obj/a.o -save-temps -MD", {}),
    # failures, with stale targets in place
    ("fail", "gcc -c bad.c -o obj/a.o -MMD", {"obj/a.o": "stale", "obj/a.d": "stale"}),
    ("fail-pipe", "gcc -pipe -c bad.c -o obj/a.o -MMD", {"obj/a.o": "stale", "obj/a.d": "stale"}),
    ("fail-fatal", "gcc -c badinc.c -o obj/a.o -MMD", {"obj/a.o": "stale", "obj/a.d": "stale"}),
    ("fail-noo", "gcc -c bad.c -MD", {"bad.o": "stale", "bad.d": "stale"}),
    ("fail-S", "gcc -S bad.c -o obj/a.s -MD", {"obj/a.s": "stale", "obj/a.d": "stale"}),
    ("fail-E", "gcc -E badinc.c -o obj/a.i -MD", {"obj/a.i": "stale", "obj/a.d": "stale"}),
    ("fail-asm", "gcc -c t.s -o obj/a.o -Wa,--defsym,X=1 -DUNUSED", {}),
    ("fail-asm-stale", "gcc -c bads.s -o obj/a.o", {"bads.s": "bogus\n", "obj/a.o": "stale"}),
    ("fail-save-temps", "gcc -c bad.c -o obj/a.o -save-temps",
     {"obj/a.o": "stale", "obj/a.i": "stale", "obj/a.s": "stale"}),
    ("fail-M", "gcc -M badinc.c -MF obj/a.d", {"obj/a.d": "stale"}),
    ("fail-M-o", "gcc -M badinc.c -o obj/a.d", {"obj/a.d": "stale"}),
    ("fail-kernel", "gcc -Wp,-MMD,obj/.a.o.d -c bad.c -o obj/a.o", {"obj/.a.o.d": "stale"}),
    ("missing-source", "gcc -c nonexistent.c -o obj/n.o -MD", {"obj/n.o": "stale"}),
    # existing targets with a non-default mode
    ("modes", "gcc -c a.c -o obj/a.o -MD -save-temps -fstack-usage",
     {"obj/a.o": "old", "obj/a.d": "old", "obj/a.i": "old", "obj/a.s": "old", "obj/a.su": "old",
      "mode:obj/a.o": "600", "mode:obj/a.d": "600", "mode:obj/a.i": "600",
      "mode:obj/a.s": "600", "mode:obj/a.su": "600"}),
    ("modes-S", "gcc -S a.c -o obj/a.s", {"obj/a.s": "old", "mode:obj/a.s": "640"}),
    ("modes-E", "gcc -E a.c -o obj/a.i", {"obj/a.i": "old", "mode:obj/a.i": "640"}),
]  # fmt: skip

CLANG_ROWS: list[tuple[str, str, dict[str, str]]] = [
    ("c", "clang -c a.c", {}),
    ("c-md", "clang -g -O2 -c a.c -o obj/a.o -MD -MP", {}),
    ("c-md-noo", "clang -c sub/x.c -MD", {}),
    ("cmake", "clang++ -O2 -g -MD -MT obj/b.o -MF obj/b.o.d -o obj/b.o -c b.cpp", {}),
    ("space", "clang -c 'a b.c' -o 'obj/a b.o' -MD", {}),
    ("kernel", "clang -Wp,-MMD,obj/.b.o.d -O2 -c -o obj/b.o b.c", {}),
    ("S", "clang -S a.c -o obj/a.s -MD", {}),
    ("E", "clang -E a.c -o obj/a.i -MD", {}),
    ("E-stdout-md", "clang -E a.c -MD", {}),
    ("M", "clang -MM a.c -MF obj/a.d", {}),
    ("stack-usage", "clang -c a.c -o obj/a.o -fstack-usage", {}),
    ("asm", "clang -c s.S -o obj/s.o -MD", {}),
    ("fail", "clang -c bad.c -o obj/a.o -MD", {"obj/a.o": "stale", "obj/a.d": "stale"}),
    ("fail-fatal", "clang -c badinc.c -o obj/a.o -MD", {"obj/a.o": "stale", "obj/a.d": "stale"}),
    ("fail-S", "clang -S bad.c -o obj/a.s", {"obj/a.s": "stale"}),
    ("fail-kernel", "clang -Wp,-MMD,obj/.a.o.d -c bad.c -o obj/a.o", {"obj/.a.o.d": "stale"}),
    ("mt", "clang -c a.c -o obj/a.o -MD -MT foo", {}),
    ("modes-M-o", "clang -M a.c -o obj/deps.mk", {"obj/deps.mk": "old", "mode:obj/deps.mk": "600"}),
    ("modes-E-S", "clang -S a.c -o obj/a.s -MD -MF obj/a.d",
     {"obj/a.s": "old", "mode:obj/a.s": "600", "obj/a.d": "old", "mode:obj/a.d": "600"}),
    ("fail-M-o", "clang -M badinc.c -o obj/a.d", {"obj/a.d": "stale"}),
    ("fail-E-o", "clang -E badinc.c -o obj/a.i", {"obj/a.i": "stale"}),
    ("E-stdout", "clang -E a.c", {}),
    ("noo", "clang -c a.c -MD -fstack-usage", {}),
    ("hash-in-name", "clang -c a.c -o 'obj/a#b$c.o' -MD", {}),
    ("abs-out", "clang -g -c a.c -o {root}/obj/a.o -MD", {}),
    ("cxx", "clang++ -std=c++17 -g -c b.cpp -o obj/b.o -MMD -MP", {}),
    ("thin-lto", "clang -flto=thin -O2 -c a.c -o obj/a.o -MD", {}),
    ("ccache-masq-like", "clang -c ./sub/x.c -o obj/x.o -MMD -g", {}),
    ("modes", "clang -c a.c -o obj/a.o -MD", {"obj/a.o": "old", "obj/a.d": "old",
                                             "mode:obj/a.o": "600", "mode:obj/a.d": "600"}),
]  # fmt: skip

# Files only the end-to-end rows use (added to SOURCES there).
E2E_SOURCES: dict[str, str] = {
    "conftest.c": "int main(void) { return 0; }\n",
    "bad.cpp": '#include "a.h"\nint f() { return nosuch + A; }\n',
    "h.hpp": "#pragma once\n#include <vector>\ninline int h() { return 7; }\n",
    "nested.rsp": "@flags.rsp -g\n",
    "foo": "int foo(void) { return 1; }\n",
    "CMakeFiles/lib.dir/.keep": "",
}

_CMAKE = "-MD -MT CMakeFiles/lib.dir/{o} -MF CMakeFiles/lib.dir/{o}.d -o CMakeFiles/lib.dir/{o}"

E2E_ROWS: list[tuple[str, str, dict[str, str]]] = [
    # --- CMake + Ninja (deps = gcc), absolute source paths, response files, links ---------
    ("cmake-c-abs", "/usr/bin/cc -DFOO=1 -I{root}/inc -O2 -g "
     + _CMAKE.format(o="uses_inc.c.o") + " -c {root}/uses_inc.c", {}),
    ("cmake-cxx-abs", "/usr/bin/c++ -DNDEBUG -O3 -std=gnu++17 -fPIC "
     + _CMAKE.format(o="b.cpp.o") + " -c {root}/b.cpp", {}),
    ("cmake-cxx-rsp", "/usr/bin/c++ @CMakeFiles/lib.dir/includes_CXX.rsp -O2 -g "
     + _CMAKE.format(o="b.cpp.o") + " -c b.cpp",
     {"CMakeFiles/lib.dir/includes_CXX.rsp": "-Iinc -isystem sub\n"}),
    ("cmake-gcc-colour", "gcc -fdiagnostics-color=always -Wall "
     + _CMAKE.format(o="warn.c.o") + " -c warn.c", {}),
    ("cmake-clang-c", "clang -DFOO -I{root}/inc -O2 -g "
     + _CMAKE.format(o="uses_inc.c.o") + " -c {root}/uses_inc.c", {}),
    ("cmake-clangxx-colour", "clang++ -O2 -fcolor-diagnostics -Wall "
     + _CMAKE.format(o="b.cpp.o") + " -c b.cpp", {}),
    ("cmake-link", "/usr/bin/cc -O2 -g CMakeFiles/lib.dir/a.c.o -o prog",
     {"pre:": "cc -O2 -g -c a.c -o CMakeFiles/lib.dir/a.c.o", "local:": "link"}),
    ("cmake-ar", "/usr/bin/ar qc libx.a obj/b.o",
     {"pre:": "gcc -c b.c -o obj/b.o", "local:": "not a known compiler"}),
    ("ninja-gcc-deps", "gcc -MMD -MF obj/a.o.d -g -c a.c -o obj/a.o", {}),
    # --- autotools / libtool, configure probes ------------------------------------------
    ("libtool-static", "gcc -DHAVE_CONFIG_H -I. -g -O2 -MT b.lo -MD -MP -MF .deps/b.Tpo "
     "-c b.c -o b.o", {}),
    ("libtool-pic-cxx", "g++ -DHAVE_CONFIG_H -I. -g -O2 -MT b.lo -MD -MP -MF .deps/b.Tpo "
     "-c b.cpp -fPIC -DPIC -o .libs/b.o", {}),
    ("automake", "gcc -DHAVE_CONFIG_H -I. -I.. -Iinc -g -O2 -MT uses_inc.o -MD -MP "
     "-MF .deps/uses_inc.Tpo -c -o uses_inc.o uses_inc.c", {}),
    ("libtool-link", "gcc -shared -fPIC -DPIC .libs/b.o -O2 -Wl,-soname -Wl,libb.so.0 "
     "-o .libs/libb.so.0.0.0", {"pre:": "gcc -c -fPIC -DPIC b.c -o .libs/b.o", "local:": "link"}),
    ("conf-version", "gcc --version", {"local:": "not a compile"}),
    ("conf-v", "gcc -v", {"local:": "not a compile"}),
    ("conf-V", "gcc -V", {"local:": "unknown flag"}),
    ("conf-qversion", "gcc -qversion", {"local:": "unknown flag"}),
    ("conf-E", "gcc -E conftest.c", {}),
    ("conf-c", "gcc -c -g -O2 conftest.c", {}),
    ("conf-werror", "gcc -c -Werror -Wno-unknown-warning-option conftest.c", {}),
    ("conf-link", "gcc -o conftest -g -O2 conftest.c", {"local:": "link"}),
    ("conf-dumpmachine", "gcc -dumpmachine", {"local:": "not a compile"}),
    ("conf-prog-name", "gcc -print-prog-name=ld", {"local:": "not a compile"}),
    ("conf-multi-os", "gcc -print-multi-os-directory", {"local:": "not a compile"}),
    ("conf-stdin", "gcc -E -dM -", {"local:": "stdin"}),
    ("conf-clang-version", "clang --version", {"local:": "not a compile"}),
    ("conf-no-args", "gcc", {"local:": "no arguments"}),
    # --- plain make, implicit rules ----------------------------------------------------
    ("make-implicit", "cc -c -o b.o b.c", {}),
    ("make-cxx-implicit", "g++ -c -o b.o b.cpp", {}),
    ("make-mmd-mp", "cc -O2 -Wall -MMD -MP -Iinc -c -o obj/uses_inc.o uses_inc.c", {}),
    # --- odd output spellings -------------------------------------------------------------
    ("oX-joined", "gcc -c a.c -oobj/a.o -MMD", {}),
    ("oX-first", "gcc -oobj/b.o -c b.c -MD", {}),
    ("MF-joined", "gcc -c a.c -o obj/a.o -MMD -MFdeps/a.d", {}),
    ("MT-twice", "gcc -c a.c -o obj/a.o -MD -MT one -MT two", {}),
    ("MQ-dollar", "gcc -c a.c -o obj/a.o -MD -MQ '$(OBJ)/a.o'", {}),
    ("MT-joined", "gcc -c a.c -o obj/a.o -MD -MTobj/a.o", {}),
    ("E-o-MMD-MF", "gcc -E a.c -o obj/a.i -MMD -MF deps/a.d", {}),
    ("E-P", "gcc -E -P b.c -o obj/b.i", {}),
    ("E-asm-cpp", "gcc -E s.S -o obj/s.i", {}),
    ("S-cxx-noo", "g++ -S b.cpp", {}),
    ("S-save-temps-cwd", "gcc -S a.c -o obj/z.s -save-temps=cwd", {}),
    ("S-save-temps", "gcc -S a.c -save-temps", {}),
    ("stack-usage-cxx", "g++ -c b.cpp -o obj/b.o -fstack-usage -MMD", {}),
    ("stack-usage-S", "gcc -S a.c -fstack-usage", {}),
    ("dump-tree", "gcc -c a.c -o obj/a.o -fdump-tree-original", {"local:": "dump"}),
    ("dump-rtl", "gcc -c b.c -fdump-rtl-expand", {"local:": "dump"}),
    ("clang-time-trace", "clang -c a.c -o obj/a.o -ftime-trace", {"fuzzy:": "obj/a.json"}),
    ("clang-time-trace-noo", "clang -c b.c -ftime-trace -MD", {"fuzzy:": "b.json"}),
    ("x-cxx", "gcc -x c++ -c b.c -o obj/b.o -MD", {}),
    ("x-c-noext", "gcc -xc -c foo", {}),
    ("x-none", "gcc -x c -c inc/h1.h -x none -o obj/h.o", {}),
    ("asm-implied", "gcc -c t.s", {}),
    ("asm-cpp-mmd-noo", "gcc -c s.S -MMD", {}),
    ("asm-S-local", "gcc -S s.S", {"local:": "-S on an assembler"}),
    ("clang-asm", "clang -c t.s -o obj/t.o", {}),
    ("clang-S-noo", "clang -S b.c", {}),
    ("clang-E-P", "clang -E -P b.c -o obj/b.i", {}),
    # --- response files -------------------------------------------------------------------
    ("rsp-nested", "gcc @nested.rsp -c uses_inc.c -o obj/u.o -MD", {}),
    ("rsp-output", "gcc @out.rsp", {"out.rsp": "-c a.c -o obj/a.o -MD\n"}),
    ("rsp-nested-output", "gcc @outer.rsp -MMD",
     {"outer.rsp": "@flags.rsp\n@o.rsp -g\n",
      "o.rsp": "-c uses_inc.c '-o' obj/u\\ x.o \"-DQ=\\\"q\\\"\" -DB='\\\\'\n"}),
    ("rsp-clang", "clang @flags.rsp -c uses_inc.c -o obj/u.o -MMD", {}),
    # --- long spellings, several -MF, -MF /dev/null, -fsyntax-only, clang bitcode ---------
    ("long-output", "gcc -c a.c --output=obj/a.o -MD", {}),
    ("long-output-sep", "gcc -c b.c --output obj/b.o --write-user-dependencies", {}),
    ("write-deps", "gcc -c a.c -o obj/a.o --write-dependencies -MF deps/a.d", {}),
    ("mf-twice", "gcc -c a.c -o obj/a.o -MD -MF obj/x.d -MF obj/y.d", {}),
    ("mf-devnull", "gcc -c a.c -o obj/a.o -MD -MF /dev/null", {}),
    ("syntax-md-dumpbase", "gcc -fsyntax-only b.c -MD", {}),
    ("syntax-md-o", "gcc -fsyntax-only b.c -MMD -o obj/x", {}),
    ("clang-emit-llvm", "clang -emit-llvm -c b.c", {}),
    ("clang-emit-llvm-o", "clang -emit-llvm -g -c a.c -o obj/a.bc -MD", {}),
    ("clang-emit-llvm-S", "clang -emit-llvm -S b.c", {}),
    # --- environment dependency outputs -------------------------------------------------------
    ("env-sunpro-target", "gcc -c b.c -o obj/b.o",
     {"env:SUNPRO_DEPENDENCIES": "obj/b.dep obj/b.o"}),
    ("env-deps-noo", "gcc -c b.c", {"env:DEPENDENCIES_OUTPUT": "b.dep"}),
    ("env-deps-existing", "gcc -c b.c -o obj/b.o", {"env:DEPENDENCIES_OUTPUT": "obj/b.dep",
                                                    "obj/b.dep": "old: x\n", "local:": "appends"}),
    # --- failing compiles, stale targets ----------------------------------------------------
    ("fail-cxx", "g++ -c bad.cpp -o obj/b.o -MMD -MP", {"obj/b.o": "stale", "obj/b.d": "stale"}),
    ("fail-clangxx", "clang++ -c bad.cpp -o obj/b.o -MD", {"obj/b.o": "stale", "obj/b.d": "stale"}),
    ("fail-syntax-only", "gcc -fsyntax-only bad.c", {}),
    ("fail-E-stdout", "gcc -E badinc.c", {}),
    ("fail-werror-noo", "gcc -Werror -Wall -c warn.c", {"warn.o": "stale"}),
    ("fail-S-noo", "gcc -S badinc.c", {"badinc.s": "stale"}),
    ("fail-link", "gcc bad.c -o prog", {"prog": "stale", "local:": "link"}),
    ("fail-clang-syntax", "clang -fsyntax-only bad.c -MD", {"bad.d": "stale"}),
    # --- must stay local ----------------------------------------------------------------------
    ("native", "gcc -march=native -O2 -c a.c -o obj/a.o", {"local:": "native"}),
    ("two-sources", "gcc -c a.c b.c", {"local:": "several sources", "parts:": "2"}),
    ("three-sources-mmd", "gcc -O2 -g -c a.c b.c sub/x.c -MMD -MP",
     {"local:": "several sources", "parts:": "3"}),
    ("sources-one-fails", "gcc -Wall -c warn.c bad.c b.c",
     {"local:": "several sources", "parts:": "3", "bad.o": "stale"}),
    ("sources-S", "gcc -S b.c a.c", {"local:": "several sources", "parts:": "2"}),
    ("clang-sources", "clang -c a.c b.c -MD", {"local:": "several sources", "parts:": "2"}),
    ("sources-o-local", "gcc -c a.c b.c -o obj/x.o", {"local:": "several sources"}),
    ("split-dwarf", "gcc -g -gsplit-dwarf -c a.c -o obj/a.o", {"local:": "split DWARF"}),
    # (gcc stamps coverage notes and objects with the time: never identical)
    ("coverage", "gcc --coverage -c a.c -o obj/a.o",
     {"local:": "coverage", "fuzzy:": "obj/a.o,obj/a.gcno"}),
    ("profile-generate", "gcc -fprofile-generate -c a.c -o obj/a.o",
     {"local:": "profile", "fuzzy:": "obj/a.o"}),
    ("clang-save-temps", "clang -c b.c -o obj/b.o -save-temps", {"local:": "save-temps"}),
    ("clang-record", "clang -g -grecord-command-line -c b.c -o obj/b.o",
     {"local:": "embeds the command line"}),
    ("dev-null", "gcc -c a.c -o /dev/null", {"local:": "not a regular file"}),
    # --- compiler names, ccache -------------------------------------------------------------
    ("gcc-12", "gcc-12 -c b.c -o obj/b.o -MD", {}),
    ("cross-name", "x86_64-linux-gnu-gcc-12 -c b.c -o obj/b.o -MD", {}),
    ("clang-14", "clang-14 -g -c b.c -o obj/b.o -MD", {}),
    ("clangxx-14", "clang++-14 -c b.cpp -o obj/b.o", {}),
    ("ccache-gcc", "ccache gcc -c a.c -o obj/a.o -MD", {}),
    ("ccache-clang", "ccache clang -c b.c -o obj/b.o -MMD", {}),
]  # fmt: skip


class RowSpec:
    """The `extra` of a row, split by kind (see the module docstring)."""

    __slots__ = ("cwd", "env", "files", "fuzzy", "local", "modes", "parts", "pre")

    def __init__(self, extra: dict[str, str]) -> None:
        self.files: dict[str, str] = {}
        self.modes: dict[str, int] = {}
        self.env: dict[str, str] = {}
        self.cwd = extra.get("cwd:", "")
        self.pre = extra.get("pre:", "")
        self.local = extra.get("local:")
        self.parts = int(extra.get("parts:", "0"))
        self.fuzzy = [p for p in extra.get("fuzzy:", "").split(",") if p]
        for k, v in extra.items():
            if k.endswith(":"):
                continue
            if k.startswith("env:"):
                self.env[k[4:]] = v
            elif k.startswith("mode:"):
                self.modes[k[5:]] = int(v, 8)
            else:
                self.files[k] = v
