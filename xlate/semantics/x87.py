"""The x87 FPU: loads, stores, arithmetic, compares, the register stack and its control words.

Every instruction is one call of a C helper in csrc/x87.c, which keeps the register stack in the
cpu struct and computes with true 80-bit precision in software (csrc/f80.c; the transcendental
instructions in csrc/x87_math.c). What the semantics decide is the operation and the operand: a
register index, a guest address or a constant. The arithmetic forms are told apart by their
escape opcode and ModRM byte, because Capstone gives some of them the same name and operands
(`fadd st(3)` is both d8 c3, ST(0) += ST(3), and de c3, faddp: ST(3) += ST(0) and pop).

Exceptions always take their masked response: a guest that unmasks one gets the ES and B summary
bits, never a SIGFPE. The instruction and data pointers of fnstenv/fnsave/fxsave read as zero."""

from __future__ import annotations

from xlate.builder import Builder, Value
from xlate.decoder import MEM, Insn, Operand
from xlate.runtime import lib
from xlate.semantics.registry import semantics

STI = lib.XLATE_X87_STI
M32FP, M64FP, M80FP = lib.XLATE_X87_M32FP, lib.XLATE_X87_M64FP, lib.XLATE_X87_M80FP
M16INT, M32INT, M64INT = lib.XLATE_X87_M16INT, lib.XLATE_X87_M32INT, lib.XLATE_X87_M64INT
CONST, M80BCD = lib.XLATE_X87_CONST, lib.XLATE_X87_M80BCD
POP, POP2 = lib.XLATE_X87_POP, lib.XLATE_X87_POP2
TO_STI, TRUNC = lib.XLATE_X87_TO_STI, lib.XLATE_X87_TRUNC
ADD, MUL, COM, UCOM = lib.XLATE_X87_ADD, lib.XLATE_X87_MUL, lib.XLATE_X87_COM, lib.XLATE_X87_UCOM
SUB, SUBR, DIV, DIVR = lib.XLATE_X87_SUB, lib.XLATE_X87_SUBR, lib.XLATE_X87_DIV, lib.XLATE_X87_DIVR
COMI, UCOMI = lib.XLATE_X87_COMI, lib.XLATE_X87_UCOMI

_FLOAT_KINDS = {4: M32FP, 8: M64FP, 10: M80FP}
_INT_KINDS = {2: M16INT, 4: M32INT, 8: M64INT}
# The ModRM reg field of the d8 row (and of every memory arithmetic form): the operation.
_ROW_OPS = (ADD, MUL, COM, COM, SUB, SUBR, DIV, DIVR)
# Memory arithmetic: the escape opcode gives the operand's format.
_ARITH_MEMORY_KINDS = {0xD8: M32FP, 0xDC: M64FP, 0xDA: M32INT, 0xDE: M16INT}
_CONSTANTS = {"fld1": 0, "fldz": 1, "fldpi": 2, "fldl2e": 3, "fldl2t": 4, "fldlg2": 5,
              "fldln2": 6}
# rflags bits of the fcomi result.
_COMI_FLAGS = (("zf", 6), ("pf", 2), ("cf", 0))


def _escape(insn: Insn) -> tuple[int, int]:
    """The escape opcode (0xd8-0xdf) and the ModRM byte. No prefix byte lies in that range."""
    for i, byte in enumerate(insn.raw[:-1]):
        if 0xD8 <= byte <= 0xDF:
            return byte, insn.raw[i + 1]
    raise NotImplementedError(insn.text)


def _operand(b: Builder, op: Operand, kinds: dict[int, int]) -> tuple[int, Value]:
    """The kind of a register or memory operand, and its register index or guest address."""
    if op.kind == MEM:
        return kinds[op.size], b.address(op)
    return STI, b.const(op.reg.index, 64)


def _call(b: Builder, helper: str, code: int, operand: Value | None = None) -> Value:
    """Call an x87 helper with its code and operand (a Value: some engines' Values are ints)."""
    if operand is None:
        operand = b.const(0, 64)
    return b.call_helper("x87_" + helper, b.const(code, 64), operand)


@semantics("fld", "fild", "fbld", *_CONSTANTS)
def load(b: Builder, insn: Insn) -> None:
    if insn.name in _CONSTANTS:
        _call(b, "load", CONST, b.const(_CONSTANTS[insn.name], 64))
        return
    if insn.name == "fbld":
        _call(b, "load", M80BCD, b.address(insn.op(0)))
        return
    kind, operand = _operand(b, insn.op(0), _INT_KINDS if insn.name == "fild" else _FLOAT_KINDS)
    _call(b, "load", kind, operand)


@semantics("fst", "fstp", "fstpnce", "fist", "fistp", "fisttp", "fbstp")
def store(b: Builder, insn: Insn) -> None:
    # fstpnce is Capstone's name for d9 d8+i, an undocumented alias of fstp st(i).
    if insn.name == "fbstp":
        _call(b, "store", M80BCD | POP, b.address(insn.op(0)))
        return
    integer = insn.name.startswith("fi")
    kind, operand = _operand(b, insn.op(0), _INT_KINDS if integer else _FLOAT_KINDS)
    pop = POP if insn.name in ("fstp", "fstpnce", "fistp", "fisttp") else 0
    code = kind | pop | (TRUNC if insn.name == "fisttp" else 0)
    _call(b, "store", code, operand)


def _arith_code(opcode: int, modrm: int) -> tuple[int, int]:
    """The helper code and register index of a register-form arithmetic or compare."""
    reg, index = modrm >> 3 & 7, modrm & 7
    if opcode == 0xD8:
        return _ROW_OPS[reg] | (POP if reg == 3 else 0), index
    if opcode in (0xDC, 0xDE):
        pop = POP if opcode == 0xDE else 0
        if modrm == 0xD9 and opcode == 0xDE:  # fcompp
            return COM | POP2, 1
        if reg in (2, 3):  # fcom/fcomp aliases
            return COM | (POP if reg == 3 or pop else 0), index
        # ST(i) is the destination, and the sub/div encodings swap with their reverses.
        return (reg ^ 1 if reg >= 4 else _ROW_OPS[reg]) | TO_STI | pop, index
    if opcode == 0xDD and reg in (4, 5):  # fucom, fucomp
        return UCOM | (POP if reg == 5 else 0), index
    if opcode == 0xDA and modrm == 0xE9:  # fucompp
        return UCOM | POP2, 1
    if opcode in (0xDB, 0xDF) and reg in (5, 6):  # fucomi, fcomi; fucomip, fcomip
        return (UCOMI if reg == 5 else COMI) | (POP if opcode == 0xDF else 0), index
    raise NotImplementedError(f"x87 d{opcode & 0xF:x} {modrm:02x}")


@semantics("fadd", "faddp", "fiadd", "fmul", "fmulp", "fimul",
           "fsub", "fsubp", "fisub", "fsubr", "fsubrp", "fisubr",
           "fdiv", "fdivp", "fidiv", "fdivr", "fdivrp", "fidivr",
           "fcom", "fcomp", "fcompp", "ficom", "ficomp", "fucom", "fucomp", "fucompp",
           "fcomi", "fcompi", "fucomi", "fucompi")
def arith(b: Builder, insn: Insn) -> None:
    opcode, modrm = _escape(insn)
    if modrm < 0xC0:
        reg = modrm >> 3 & 7
        code = _ROW_OPS[reg] | (POP if reg == 3 else 0) | _ARITH_MEMORY_KINDS[opcode]
        operand = b.address(insn.op(0))
    else:
        code, index = _arith_code(opcode, modrm)
        operand = b.const(index, 64)
    result = b.call_helper("x87_arith", b.const(code, 64), operand)
    if code & 0xF in (COMI, UCOMI):
        clear = b.const(0, 1)
        b.set_flags({**{name: b.bit(result, bit, 64) for name, bit in _COMI_FLAGS},
                     "of": clear, "sf": clear, "af": clear})


_UNARY = {name: getattr(lib, "XLATE_X87_" + name.upper())
          for name in ("fchs", "fabs", "fsqrt", "frndint", "fscale", "fprem", "fprem1",
                       "fxtract", "fxam", "ftst", "f2xm1", "fyl2x", "fyl2xp1", "fpatan", "fsin",
                       "fcos", "fsincos", "fptan")}


@semantics(*_UNARY)
def unary(b: Builder, insn: Insn) -> None:
    _call(b, "unary", _UNARY[insn.name])


_STACK = {name: getattr(lib, "XLATE_X87_" + name.upper())
          for name in ("fxch", "ffree", "ffreep", "fincstp", "fdecstp", "fninit", "fnclex")}


@semantics(*_STACK)
def stack(b: Builder, insn: Insn) -> None:
    index = 0
    if insn.name in ("fxch", "ffree", "ffreep"):
        index = _escape(insn)[1] & 7
    _call(b, "stack", _STACK[insn.name], b.const(index, 64))


_FCMOV_FLAGS = {"b": ("cf",), "e": ("zf",), "be": ("cf", "zf"), "u": ("pf",)}


@semantics(*(f"fcmov{negate}{cc}" for negate in ("", "n") for cc in _FCMOV_FLAGS))
def fcmov(b: Builder, insn: Insn) -> None:
    cc = insn.name[5:]
    negate = cc.startswith("n")
    condition = b.const(0, 1)
    for name in _FCMOV_FLAGS[cc[1:] if negate else cc]:
        condition = b.or_(condition, b.get_flag(name), 1)
    if negate:
        condition = b.not_(condition, 1)
    b.call_helper("x87_fcmov", b.zext(condition, 1, 64), b.const(_escape(insn)[1] & 7, 64))


@semantics("fnstcw", "fnstsw")
def store_word(b: Builder, insn: Insn) -> None:
    op = lib.XLATE_X87_FNSTCW if insn.name == "fnstcw" else lib.XLATE_X87_FNSTSW
    b.write(insn.op(0), b.trunc(_call(b, "control", op), 64, 16), 16)


@semantics("fldcw")
def fldcw(b: Builder, insn: Insn) -> None:
    word = b.zext(b.read(insn.op(0), 16), 16, 64)
    b.call_helper("x87_control", b.const(lib.XLATE_X87_FLDCW, 64), word)


_IMAGES = {"fnstenv": lib.XLATE_X87_FNSTENV, "fldenv": lib.XLATE_X87_FLDENV,
           "fnsave": lib.XLATE_X87_FNSAVE, "frstor": lib.XLATE_X87_FRSTOR,
           "fxsave": lib.XLATE_X87_FXSAVE, "fxrstor": lib.XLATE_X87_FXRSTOR,
           "fxsave64": lib.XLATE_X87_FXSAVE, "fxrstor64": lib.XLATE_X87_FXRSTOR}


@semantics(*_IMAGES)
def image(b: Builder, insn: Insn) -> None:
    """The state to or from memory; the instruction and data pointers are not kept (zero)."""
    _call(b, "control", _IMAGES[insn.name], b.address(insn.op(0)))


@semantics("wait", "fnop", "fsetpm", "feni8087_nop", "fdisi8087_nop")
def fpu_nop(b: Builder, insn: Insn) -> None:
    """wait would deliver pending unmasked exceptions: they are never pending here. The others
    are 8087 and 287 controls that later FPUs ignore."""
