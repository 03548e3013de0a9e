"""cffi build of the C runtime into xlate._runtime (run by setup.py)."""

import importlib.util
from pathlib import Path

from cffi import FFI

CSRC = Path(__file__).resolve().parent


def capstone_headers() -> str:
    """The headers that Capstone's Python package carries with its library (csrc/decode.c reads
    the library's structures, and loads it at run time)."""
    spec = importlib.util.find_spec("capstone")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("building xlate needs Capstone's Python package (capstone)")
    return str(Path(spec.submodule_search_locations[0]) / "include")


ffibuilder = FFI()
ffibuilder.cdef((CSRC / "xlate.h").read_text())
ffibuilder.set_source(
    "xlate._runtime",
    '#include "runtime.h"\n#include <sys/mman.h>\n',
    sources=sorted(str(p.relative_to(CSRC.parent)) for p in CSRC.glob("*.c")),
    include_dirs=[str(CSRC), capstone_headers()],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-std=gnu11"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
