"""The region IR that xlate.jit.irbuilder makes, where its shape matters to speed but no result
shows it (what the instructions compute is tested against the CPU in test_oracle and others)."""

import re

from tests.oracle import assemble
from xlate.decoder import Decoder, successors
from xlate.jit.irbuilder import region_module
from xlate.memory import PROT_EXEC, PROT_READ, AddressSpace
from xlate.semantics import flags

CODE = 0x400000


def _region(asm: str) -> str:
    memory = AddressSpace()
    memory.map(CODE, 0x10000, PROT_READ | PROT_EXEC)
    memory.poke(CODE, assemble(asm))
    decoder = Decoder(memory)
    blocks, pending = {}, [CODE]  # in the order a region grows: the first block first
    while pending:
        addr = pending.pop(0)
        if addr not in blocks:
            blocks[addr] = decoder.block(addr)
            pending += successors(blocks[addr])
    ir, _, _ = region_module(CODE, list(blocks.values()), False, {}, list(blocks))
    return ir


def test_a_loops_first_block_guesses_the_flags_its_back_edge_leaves():
    # inc keeps CF, which the cmp at the loop's end described lazily: the first block, emitted
    # before that one, computes it inline for a cmp rather than calling the support module.
    ir = _region("""
    loop:
        inc rcx
        jmp check
    check:
        cmp rcx, rdx
        jne loop
        ret
    """)
    sub64 = flags.CC_OP[flags.SUB, 64]
    assert re.search(rf"switch i32 %\S+, label %flagsx\d+ \[i32 {sub64} ,", ir), ir
