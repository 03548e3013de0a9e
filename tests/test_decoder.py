"""The decoder against Capstone's own Python objects: xlate reads Capstone's C structures in
C (csrc/decode.c), into records of its own, so the instructions of long blocks, blocks cut short
by bytes that are not an instruction or by operands no record holds, and the operand kinds are
checked here."""

import capstone
import pytest

from tests.oracle import assemble
from xlate.decoder import IMM, MAX_BLOCK_INSNS, MEM, REG, Decoder
from xlate.memory import PROT_EXEC, PROT_READ, AddressSpace

CODE = 0x400000


def _decoder(code: bytes) -> Decoder:
    memory = AddressSpace()
    memory.map(CODE, 0x10000, PROT_READ | PROT_EXEC)
    memory.poke(CODE, code)
    return Decoder(memory)


def _capstone(code: bytes) -> list:
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    cs.detail = True
    return list(cs.disasm(code, CODE))


# With every operand kind: registers of each width (ah too), immediates,
# memory with base, index, scale, displacement, rip-relative and fs-relative, SSE and x87.
LONG_BLOCK = """
    mov rax, 0x1122334455667788
    add ecx, 7
    mov ah, byte ptr [rbx + rsi*4 - 8]
    lea rdx, [rip + 0x1234]
    mov r9w, word ptr fs:[0x28]
    movsd xmm3, qword ptr [rsp + 16]
    fld qword ptr [rdi]
    imul r10, r11, -3
    shl qword ptr [rbp + r12*8 + 0x100], 5
    rep movsb
    lock xadd dword ptr [rax], ecx
    cmpltsd xmm1, xmm2
    ret
"""


def test_a_long_block_is_what_capstone_decodes():
    code = assemble(LONG_BLOCK)
    reference = _capstone(code)
    block = _decoder(code).block(CODE)
    assert block.undefined_at is None
    assert [(i.address, i.size, i.raw, i.text) for i in block.insns] == [
        (r.address, r.size, bytes(r.bytes), f"{r.mnemonic} {r.op_str}".strip())
        for r in reference]
    names = [i.name for i in block.insns]
    assert names[:3] == ["movabs", "add", "mov"] and names[-3:] == ["xadd", "cmpsd", "ret"]
    assert [len(i.ops) for i in block.insns] == [len(r.operands) for r in reference]
    assert block.insns[9].rep == 1 and block.insns[10].lock


def test_operands_become_records():
    insns = _decoder(assemble(LONG_BLOCK)).block(CODE).insns
    imm = insns[0].ops[1]
    assert (imm.kind, imm.imm, insns[0].ops[0].kind) == (IMM, 0x1122334455667788, REG)
    ah, mem = insns[2].ops
    assert (ah.reg.index, ah.reg.bits, ah.reg.shift) == (0, 8, 8)
    assert (mem.kind, mem.base.index, mem.index.index, mem.scale, mem.disp, mem.size) == (
        MEM, 3, 6, 4, -8, 1)
    rip = insns[3].ops[1]
    assert rip.base is None and rip.disp == insns[3].next + 0x1234
    fs = insns[4].ops[1]
    assert (fs.segment, fs.disp, fs.base) == ("fs", 0x28, None)
    assert insns[5].ops[0].reg.file == "xmm" and insns[6].ops[0].kind == MEM


def test_a_block_ends_where_the_bytes_stop_being_instructions():
    nops = 11
    block = _decoder(b"\x90" * nops + b"\x06").block(CODE)  # push es: not in 64-bit mode
    assert len(block.insns) == nops
    assert block.undefined_at == CODE + nops


def test_a_block_ends_before_an_operand_that_no_record_holds():
    """mov ax, ds: a segment register, which the engines do not have."""
    block = _decoder(assemble("add eax, 1\nmov ax, ds\nret")).block(CODE)
    assert [i.name for i in block.insns] == ["add"]
    assert block.undefined_at == block.insns[0].next


@pytest.mark.parametrize("count", [8, 16, 63])
def test_a_block_goes_on_to_the_instruction_that_ends_it(count):
    block = _decoder(b"\x90" * count + b"\xc3").block(CODE)
    assert [i.name for i in block.insns] == ["nop"] * count + ["ret"]


def test_a_block_is_at_most_max_block_insns_long():
    decoder = _decoder(b"\x90" * (MAX_BLOCK_INSNS + 10) + b"\xc3")
    block = decoder.block(CODE)
    assert len(block.insns) == MAX_BLOCK_INSNS and block.undefined_at is None
    assert [i.name for i in decoder.block(block.end).insns] == ["nop"] * 10 + ["ret"]


def test_a_block_ends_before_a_stop():
    decoder = _decoder(b"\x90" * 12 + b"\xc3")
    decoder.stops.add(CODE + 9)
    assert len(decoder.block(CODE).insns) == 9


def test_blocks_exported_by_one_run_and_passed_on_by_another_decode_as_they_did():
    """A later run adopts the blocks an earlier one decoded (Decoder.export, through the code
    cache), and exports them again with its own: those it did not use keep the numbers of the
    operand table it adopted, which the new blocks' operands extend."""
    first_code = assemble("mov rax, qword ptr [rbx + 8]\nadd ecx, 7\nret")
    second_code = assemble("movsd xmm3, qword ptr [rsp + 16]\nlea rdx, [rip + 0x40]\nret")
    second_at = CODE + 0x100
    code = first_code.ljust(0x100, b"\x90") + second_code

    def fresh(address: int) -> list:
        return _decoder(code).block(address).insns

    first = _decoder(code)
    first.block(CODE)
    passing_on = _decoder(code)
    passing_on.adopt(first.export())
    passing_on.block(second_at)  # decoded: the first block stays adopted, not used
    last = _decoder(code)
    last.adopt(passing_on.export())
    assert last.block(CODE).insns == fresh(CODE)
    assert last.block(second_at).insns == fresh(second_at)
    assert last.insns_decoded == 0  # both came from the export
