"""Bounds checks by branch, put in place of address clamps after LLVM has optimised a region.

The IR builder keeps each guest access inside the guest space with a clamp of its address,
umin(address, end of space): the guard region at the end faults. A clamp is pure, so LLVM
hoists it out of loops, shares it between accesses and vectorises around it; but it costs three
host instructions and two cycles of latency between an address and its load (pointer chasing
pays them on every step). A compare and branch to a faulting block costs one fused instruction,
predicted and off the path of the data, but as a branch it splits blocks, which would keep LLVM
from optimising across it (the SLP vectoriser, for one). So the clamps stay through
optimisation and become branches afterwards, in the optimised IR text, before code generation,
where that changes nothing the guest can see: a clamp whose first use leads, with nothing
visible in between, to an access of its own block through it. The check goes right before that
use, and the faulting block does what the clamp made the access do, a load from the guard, with
the access's debug location, which says which guest instruction faulted (xlate.jit.lines). A
clamp that LLVM hoisted away from its accesses (a table's base, outside a loop) stays a clamp:
a branch there could fault for an access that never happens."""

from __future__ import annotations

import re
from collections.abc import Iterator

from xlate.runtime import ffi, lib

SPACE = lib.XLATE_GUEST_SPACE
SPACE_END = ffi.offsetof("xlate_cpu", "space_end")

_CLAMP = re.compile(r"  (%[-\w.$]+) = (?:tail )?call i64 @llvm\.umin\.i64\(i64 (%[-\w.$]+), "
                    rf"i64 {SPACE}\)(?:, !dbg !\d+)?$")
_DEFINES = re.compile(r"  (%[-\w.$]+) = ")
_NAME = re.compile(r"%[-\w.$]+")
_LABEL = re.compile(r"([-\w.$]+):")
_DBG = re.compile(r"!dbg (!\d+)")
_VECTOR_LOAD = re.compile(r" = load (?:volatile )?<\d+ x ")
# A load of 8 or 16 bits through an address register into that register's low part (mov al,
# [rax]): LLVM 22's register allocator then gives the host load the address and the partial
# destination in one register and marks the whole of it as written, and a later pass makes the
# load zero-extend, losing the register's upper bits. The clamp keeps the address apart. The
# merge into the register masks it, which is what tells these loads (and ones like add al,
# [rax]) from others.
_NARROW_LOAD = re.compile(r"load (?:volatile )?i(?:8|16), ")
_MASK = re.compile(r"  %[-\w.$]+ = and i64 (%[-\w.$]+), -?\d+")
_PHI_SOURCE = re.compile(r", %([-\w.$]+) \]")
# What the guest could see happen (or what leaves the block) between a check and its access.
_EFFECTS = frozenset(("load", "store", "call", "atomicrmw", "cmpxchg", "fence", "br", "ret",
                      "switch", "indirectbr", "unreachable", "invoke", "callbr", "resume",
                      "va_arg"))


def branch_checks(module: str) -> str:
    """The optimised module text with the clamps that can become branches made branches (see
    the module's docstring)."""
    lines = module.split("\n")
    # line -> [(clamp, address, location of the access)] of the checks that go before it
    checks: dict[int, list[tuple[str, str, str]]] = {}
    clamps: set[int] = set()
    # The functions with checks, by their define line: the names of their arguments, which are
    # xlate.jit.irbuilder's BLOCK_FN's (cpu, memory).
    functions: dict[int, tuple[str, str]] = {}
    function = 0
    arguments: list[str] = []  # the current function's
    splittable = False  # the current block has a label (phis must name it), loads no vector
    masked: set[str] = set()  # the values that the function masks (see _NARROW_LOAD)
    for index, line in enumerate(lines):
        if line.startswith("define "):
            function, splittable = index, False
            arguments = _NAME.findall(line.split("(", 1)[1])
            masked = set(_masked(lines, index))
        elif _LABEL.match(line):
            splittable = len(arguments) == 2 and not _loads_vectors(lines, index + 1)
        elif splittable and (clamp := _CLAMP.match(line)):
            guarded = _guarded_access(lines, index, clamp.group(1))
            if guarded is not None and not (guarded[2] and clamp.group(2) in masked):
                use, location, _ = guarded
                checks.setdefault(use, []).append((clamp.group(1), clamp.group(2), location))
                clamps.add(index)
                functions[function] = (arguments[0], arguments[1])
    if not checks:
        return module
    out: list[str] = []
    count = 0
    cpu = memory = ""
    bound_after = -1
    faults: list[str] = []  # of the current function, which go at its end
    last_piece: dict[str, str] = {}  # split block -> the label of its last piece
    block = ""
    for index, line in enumerate(lines):
        if line.startswith("define "):
            cpu, memory = functions.get(index, ("", ""))
            # The bound is read once, first in the entry block (after its label, if it has one).
            bound_after = index + 1 if cpu and _LABEL.match(lines[index + 1]) else index
        if index in clamps:
            continue
        for clamp, address, location in checks.get(index, ()):
            count += 1
            ok, fault = f"xlate.ok.{count}", f"xlate.fault.{count}"
            out += [f"  %xlate.check.{count} = icmp uge i64 {address}, %xlate.space",
                    f"  br i1 %xlate.check.{count}, label %{fault}, label %{ok}",
                    f"{ok}:",
                    f"  {clamp} = or i64 {address}, 0"]
            last_piece[block] = ok
            # Each probe reads its own byte of the guard: identical blocks would be merged into
            # one, which would keep only one of their locations.
            guard = SPACE + count % lib.XLATE_GUEST_GUARD
            faults += [f"{fault}:",
                       f"  %xlate.guard.{count} = getelementptr i8, ptr {memory}, i64 {guard}",
                       f"  %xlate.probe.{count} = load volatile i8, ptr %xlate.guard.{count}, "
                       f"align 1, !dbg {location}",
                       "  unreachable"]
        if line == "}" and faults:
            out += faults
            _point_phis_at_last_pieces(out, last_piece)
            faults, last_piece = [], {}
        out.append(line)
        if (label := _LABEL.match(line)) is not None:
            block = label.group(1)
        if cpu and index == bound_after:
            out += [f"  %xlate.space.field = getelementptr i8, ptr {cpu}, i64 {SPACE_END}",
                    "  %xlate.space = load i64, ptr %xlate.space.field, align 8, "
                    "!invariant.load !{}"]
            cpu = ""
    return "\n".join(out)


def _point_phis_at_last_pieces(out: list[str], last_piece: dict[str, str]) -> None:
    """Make the phis of the function just written (the end of out) name the last piece of a
    split block as their predecessor, as its branches now leave from there."""
    index = len(out) - 1
    while not out[index].startswith("define "):
        if " = phi " in out[index]:
            out[index] = _PHI_SOURCE.sub(
                lambda m: f", %{last_piece.get(m.group(1), m.group(1))} ]", out[index])
        index -= 1


def _loads_vectors(lines: list[str], index: int) -> bool:
    """Whether the block whose first instruction is lines[index] loads a vector. Code
    generation selects instructions a block at a time: a vector loaded before a check and used
    after it is loaded whole, where in one block only the lanes used would be. The guest's SSE
    code loads 16 bytes right after storing 8 of them (gcc's nbody), a store that cannot be
    forwarded to the load, and costs tens of cycles; in one block, LLVM loads only the other 8."""
    for line in lines[index:]:
        if not line.startswith("  "):
            return False
        if _VECTOR_LOAD.search(line):
            return True
    return False


def _masked(lines: list[str], index: int) -> Iterator[str]:
    """The values that the function defined at lines[index] masks with a constant."""
    for line in lines[index + 1:]:
        if line == "}":
            return
        if (mask := _MASK.match(line)) is not None:
            yield mask.group(1)


def _guarded_access(lines: list[str], index: int, clamp: str
                    ) -> tuple[int, str, bool] | None:
    """For the clamp defined at lines[index]: the line of its first use, if the first thing
    visible after it in the block is an access through the clamped address, that access's
    debug location, and whether it is a narrow load (see _NARROW_LOAD); else None."""
    derived = {clamp}  # the clamp and addresses computed from it
    first_use = None
    for j in range(index + 1, len(lines)):
        line = lines[j]
        if not line.startswith("  "):
            return None  # the block ended
        code = line.split(", !")[0]
        defined = _DEFINES.match(code)
        operation = code[defined.end():] if defined else code.strip()
        opcode = operation.split(" ", 1)[0]
        if opcode in ("tail", "musttail", "notail"):
            opcode = "call"
        uses = set(_NAME.findall(operation)) & derived
        if first_use is None and uses:
            first_use = j
        if opcode in _EFFECTS:
            if first_use is None:
                continue  # before the check's place: the clamp's value is not used yet
            if opcode == "load":
                pointer = operation.split(", ptr ", 1)[1].split(",")[0]
            elif opcode == "store":
                pointer = operation.rsplit(", ptr ", 1)[1].split(",")[0]
            else:
                return None
            location = _DBG.search(line)
            if pointer in derived and location is not None:
                return first_use, location.group(1), _NARROW_LOAD.match(operation) is not None
            return None
        if uses and defined and opcode in ("getelementptr", "add", "or"):
            derived.add(defined.group(1))
    return None
