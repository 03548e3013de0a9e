"""The C runtime (csrc/, built by cffi as xlate._runtime): its ffi and lib, and its constants."""

from xlate._runtime import ffi, lib

EXIT_NEXT = lib.XLATE_EXIT_NEXT
EXIT_MISS = lib.XLATE_EXIT_MISS
EXIT_SYSCALL = lib.XLATE_EXIT_SYSCALL
EXIT_FAULT = lib.XLATE_EXIT_FAULT
EXIT_SIGILL = lib.XLATE_EXIT_SIGILL
EXIT_DIVIDE = lib.XLATE_EXIT_DIVIDE
EXIT_STOP = lib.XLATE_EXIT_STOP
EXIT_HLT = lib.XLATE_EXIT_HLT
EXIT_CODE_WRITTEN = lib.XLATE_EXIT_CODE_WRITTEN

GUEST_SPACE = lib.XLATE_GUEST_SPACE

FLAG_NAMES = ("cf", "pf", "af", "zf", "sf", "of", "df")
FLAG_SLOT = {name: getattr(lib, "XLATE_" + name.upper()) for name in FLAG_NAMES}


def helper_address(name: str) -> int:
    """Host address of the C helper `xlate_helper_<name>`, for generated code to call."""
    return int(ffi.cast("uintptr_t", getattr(lib, "xlate_helper_" + name)))


__all__ = ["ffi", "lib", "helper_address"]
