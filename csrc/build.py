"""cffi build of the C runtime into xlate._runtime (run by setup.py)."""

from pathlib import Path

from cffi import FFI

CSRC = Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef((CSRC / "xlate.h").read_text())
ffibuilder.set_source(
    "xlate._runtime",
    '#include "runtime.h"\n#include <sys/mman.h>\n',
    sources=sorted(str(p.relative_to(CSRC.parent)) for p in CSRC.glob("*.c")),
    include_dirs=[str(CSRC)],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-std=gnu11"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
