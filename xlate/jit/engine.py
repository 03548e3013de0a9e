"""The JIT engine: the C dispatch loop runs compiled blocks; a miss comes back here to
translate the missing block and the blocks reachable from it by direct branches, in one batch."""

from __future__ import annotations

import time

from llvmlite import ir

from xlate.decoder import IMM, Block, Decoder
from xlate.jit.compiler import Compiler
from xlate.jit.irbuilder import block_function_name, translate_block
from xlate.runtime import EXIT_MISS, EXIT_STOP, ffi, lib
from xlate.semantics import SEMANTICS

BATCH_BLOCKS = 256  # blocks per LLVM module: bigger batches amortise LLVM's per-module cost
_CONDITIONAL = {"j" + cc for cc in ("o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p",
                                    "np", "l", "ge", "le", "g")} | {"jrcxz", "jecxz", "loop",
                                                                     "loope", "loopne"}


def successors(block: Block) -> list[int]:
    """Where control can go after the block, as far as direct branches tell."""
    if not block.insns:
        return []
    last = block.insns[-1]
    target = [last.ops[0].imm] if last.ops and last.ops[0].kind == IMM else []
    if last.name == "jmp":
        return target
    if last.name in _CONDITIONAL or last.name == "call":
        return target + [last.next]
    if last.name in ("ret", "syscall", "hlt", "ud2") or last.name.startswith("int"):
        return [last.next] if last.name == "syscall" else []
    return [block.end]


class JitEngine:
    """Runs guest code as compiled blocks."""

    def __init__(self, cpu, decoder: Decoder, stats, opt_level: int = 1) -> None:
        self.cpu = cpu
        self.decoder = decoder
        self.stats = stats
        self.compiler = Compiler(opt_level)
        self.code_map = ffi.gc(lib.xlate_code_map_new(), lib.xlate_code_map_free)
        self.translated: set[int] = set()
        self.batch_of: dict[int, set[int]] = {}  # guest address -> the batch compiled with it

    def run(self) -> int:
        cpu, stops = self.cpu, self.decoder.stops
        while True:
            exit_code = lib.xlate_dispatch(cpu, self.code_map)
            if exit_code != EXIT_MISS:
                return exit_code
            if cpu.rip in stops:
                return EXIT_STOP
            self.translate(cpu.rip)

    def translate(self, guest_addr: int) -> None:
        """Compile the block at guest_addr and what it reaches by direct branches, as a batch
        whose blocks chain to each other."""
        started = time.perf_counter()
        blocks: dict[int, Block] = {}
        pending = [guest_addr]
        while pending and len(blocks) < BATCH_BLOCKS:
            addr = pending.pop()
            if addr in blocks or addr in self.translated or addr in self.decoder.stops:
                continue
            blocks[addr] = block = self.decoder.block(addr)
            # Follow only targets in executable memory: data after a call to a noreturn
            # function must not be translated as code.
            pending.extend(a for a in successors(block)
                           if a not in blocks and self.decoder.executable(a))
        module = ir.Module(name=f"batch_{guest_addr:x}")
        module.triple = ""
        chain = {addr: block_function_name(addr) for addr in blocks}
        for block in blocks.values():
            translate_block(module, block, SEMANTICS, chain)
        addresses = self.compiler.compile(module, list(chain.values()))
        batch = set(blocks)
        for addr, name in chain.items():
            lib.xlate_code_map_insert(self.code_map, addr, ffi.cast("void *", addresses[name]))
            self.batch_of[addr] = batch
        self.translated |= batch
        self.stats.blocks_translated += len(blocks)
        self.stats.translate_seconds += time.perf_counter() - started

    def invalidate(self, start: int, end: int) -> None:
        """Drop translations of [start, end). Blocks chain directly to the others of their
        batch, so a batch is dropped whole when any of its blocks is."""
        stale: set[int] = set()
        for addr in [a for a in self.translated if start <= a < end]:
            stale |= self.batch_of.get(addr, {addr})
        for addr in stale:
            lib.xlate_code_map_remove_range(self.code_map, addr, addr + 1)
            self.batch_of.pop(addr, None)
        self.translated -= stale

    def collect_stats(self) -> None:
        self.stats.guest_instructions = self.cpu.insn_count
        self.stats.blocks_executed = self.cpu.block_count
