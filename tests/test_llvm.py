"""xlate.jit.llvm, LLVM through llvmlite's C layer: modules parsed, checked, optimised and
compiled to objects, errors reported, the library refused when llvmlite is another release,
and threads compiling at once (each in a context of its own)."""

from __future__ import annotations

import gc
import threading

import pytest

from xlate.jit import llvm
from xlate.jit.compiler import Compiler
from xlate.runtime import ffi

SQUARE = """
define i64 @square(i64 %x) {
  %y = mul i64 %x, %x
  ret i64 %y
}
"""


@pytest.mark.parametrize("level", [0, 2])
def test_a_module_compiles_to_an_elf_object_at_each_level(level):
    obj = Compiler().compile(SQUARE, level)
    assert obj.startswith(b"\x7fELF") and b"square" in obj


def test_optimising_folds_and_printing_gives_the_modules_text_with_its_target():
    machine = llvm.TargetMachine(2)
    text = llvm.optimised(machine, SQUARE.replace("%x, %x", "7, 6"))
    assert "ret i64 42" in text and machine.triple in text and machine.data_layout in text
    assert llvm.emit(machine, text, prepare=False).startswith(b"\x7fELF")


def test_bad_text_and_invalid_ir_are_errors_that_say_why():
    machine = llvm.TargetMachine(0)
    with pytest.raises(llvm.LLVMError, match="(?s)parsing error.*expected type"):
        llvm.emit(machine, "define i64 @f( {")
    with pytest.raises(llvm.LLVMError, match="(?s)not valid.*Only PHI nodes may reference"):
        llvm.emit(machine, "define i64 @f() {\n  %a = add i64 %a, 1\n  ret i64 %a\n}")


def test_the_library_of_another_llvmlite_release_is_not_used(monkeypatch):
    monkeypatch.setattr(llvm, "_opened", False)
    monkeypatch.setattr(llvm, "llvmlite_version_file", lambda: b"version_version = '0.49.0'\n")
    with pytest.raises(llvm.LLVMError, match="not that release"):
        llvm.TargetMachine(0)


def test_threads_compile_at_once_and_get_what_one_thread_gets():
    compiler = Compiler()
    modules = [SQUARE.replace("square", f"square{i}") for i in range(8)]
    alone = [compiler.compile(module, 2) for module in modules]
    together: dict[int, bytes] = {}

    def compile_half(first: int) -> None:
        for i in range(first, len(modules), 2):
            together[i] = compiler.compile(modules[i], 2)

    threads = [threading.Thread(target=compile_half, args=(first,)) for first in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [together[i] for i in range(len(modules))] == alone


def test_threads_that_compiled_and_ended_leave_no_context_or_machine_behind(monkeypatch):
    """Each thread's context and target machines are disposed of when it ends (a compiling
    thread ends with each run)."""
    compiler = Compiler()
    compiler.compile(SQUARE, 0)  # (the library loaded)
    created: list[int] = []  # (an address may come again, once disposed of)
    disposed: set[int] = set()

    def compile_and_note():
        compiler.compile(SQUARE, 0)
        created.extend(int(ffi.cast("uintptr_t", ref)) for ref in (
            llvm._local.context.ref, compiler._local.machines[0].ref))

    def noting(free, ref):
        disposed.add(int(ffi.cast("uintptr_t", ref)))
        free(ref)

    monkeypatch.setattr(llvm, "_dispose", noting)
    for _ in range(5):
        thread = threading.Thread(target=compile_and_note)
        thread.start()
        thread.join()
    gc.collect()
    assert len(created) == 10 and set(created) <= disposed
