"""Address clamps that become bounds checks by branch after optimisation (xlate.jit.checks): on
optimised IR of the shape the IR builder's regions have, which clamps change and which stay,
and that the result is IR that LLVM accepts. What the checks do when guest code runs is tested
end to end (the oracle tests and tests/test_cli.py run optimised code)."""

from __future__ import annotations

import llvmlite.binding as llvm
import pytest

from xlate.jit.checks import SPACE, branch_checks

CLAMP = f"tail call i64 @llvm.umin.i64(i64 %a, i64 {SPACE})"
TAIL = """
declare i64 @llvm.umin.i64(i64, i64)

!llvm.module.flags = !{!0}
!llvm.dbg.cu = !{!1}
!0 = !{i32 2, !"Debug Info Version", i32 3}
!1 = distinct !DICompileUnit(language: DW_LANG_C, file: !2, emissionKind: LineTablesOnly)
!2 = !DIFile(filename: "guest", directory: "")
!3 = distinct !DISubprogram(name: "region", scope: !2, file: !2, type: !4, unit: !1,
                            spFlags: DISPFlagDefinition)
!4 = !DISubroutineType(types: !{})
!5 = !DILocation(line: 1, scope: !3)
!6 = !DILocation(line: 2, scope: !3)
"""


def region(body: str) -> str:
    return f"define i32 @region(ptr noalias %arg0, ptr %arg1) !dbg !3 {{\n{body}\n}}\n{TAIL}"


def checked(body: str) -> str:
    text = branch_checks(region(body))
    llvm.parse_assembly(text).verify()
    return text


def test_a_clamp_before_its_access_becomes_a_branch_to_a_faulting_probe():
    text = checked(f"""entry:
  %a = load i64, ptr %arg0, align 1
  %c = {CLAMP}
  %p = getelementptr i8, ptr %arg1, i64 %c
  %v = load i64, ptr %p, align 1, !dbg !5
  store i64 %v, ptr %arg0, align 1
  ret i32 0""")
    assert "llvm.umin.i64(i64 %a" not in text
    assert "icmp uge i64 %a, %xlate.space" in text
    # The bound comes from the cpu struct, the probe reads the guard with the access's location.
    assert "%xlate.space = load i64" in text
    assert f"getelementptr i8, ptr %arg1, i64 {SPACE + 1}" in text
    assert "load volatile i8, ptr %xlate.guard.1, align 1, !dbg !5" in text


def test_phis_name_the_last_piece_of_a_split_block():
    text = checked(f"""entry:
  br label %loop
loop:
  %a = phi i64 [ 0, %entry ], [ %n, %loop ]
  %c = {CLAMP}
  %p = getelementptr i8, ptr %arg1, i64 %c
  store i8 0, ptr %p, align 1, !dbg !5
  %n = add i64 %a, 1
  %done = icmp eq i64 %n, 100
  br i1 %done, label %out, label %loop
out:
  %last = phi i64 [ %n, %loop ]
  ret i32 0""")
    assert "[ %n, %xlate.ok.1 ]" in text and "[ %n, %loop ]" not in text


def test_the_bound_is_read_first_in_an_entry_block_without_a_label():
    text = checked(f"""  %a = load i64, ptr %arg0, align 1
  br label %next
next:
  %c = {CLAMP}
  %p = getelementptr i8, ptr %arg1, i64 %c
  store i8 0, ptr %p, align 1, !dbg !5
  ret i32 0""")
    lines = text.split("\n")
    assert lines[1].startswith("  %xlate.space.field = ") and "xlate.check.1" in text


@pytest.mark.parametrize("why, body", [
    ("hoisted out of the block of its access, which may not run", f"""entry:
  %a = load i64, ptr %arg0, align 1
  %c = {CLAMP}
  %f = load i1, ptr %arg0, align 1
  br i1 %f, label %use, label %out
use:
  %p = getelementptr i8, ptr %arg1, i64 %c
  store i8 0, ptr %p, align 1, !dbg !5
  br label %out
out:
  ret i32 0"""),
    ("a store the guest sees between its first use and its access", f"""entry:
  %a = load i64, ptr %arg0, align 1
  %c = {CLAMP}
  %p = getelementptr i8, ptr %arg1, i64 %c
  store i64 1, ptr %arg1, align 1, !dbg !6
  store i8 0, ptr %p, align 1, !dbg !5
  ret i32 0"""),
    ("a block that loads a vector, whose lanes would be loaded whole across the branch", f"""entry:
  %a = load i64, ptr %arg0, align 1
  %c = {CLAMP}
  %p = getelementptr i8, ptr %arg1, i64 %c
  %v = load <2 x double>, ptr %p, align 1, !dbg !5
  store <2 x double> %v, ptr %arg0, align 1
  ret i32 0"""),
    ("a byte loaded into the address's own register (LLVM 22 would lose its upper bits)",
     f"""entry:
  %a = load i64, ptr %arg0, align 1
  %c = {CLAMP}
  %p = getelementptr i8, ptr %arg1, i64 %c
  %b = load i8, ptr %p, align 1, !dbg !5
  %high = and i64 %a, -256
  %low = zext i8 %b to i64
  %r = or disjoint i64 %high, %low
  store i64 %r, ptr %arg0, align 1
  ret i32 0"""),
], ids=["hoisted", "store between", "vectors", "narrow load"])
def test_clamps_that_stay(why, body):
    text = checked(body)
    assert "llvm.umin.i64(i64 %a" in text and "xlate.check" not in text, why
