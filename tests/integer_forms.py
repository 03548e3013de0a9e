"""Operand forms and the native comparison shared by the integer instruction tests.

Every case runs the same code on the real CPU (tests/oracle) and under an xlate engine
(tests/difftest), and compares everything the manual defines afterwards: all registers, the
flags except those the case declares undefined, the data region, xmm/x87 state, and whether a
signal was raised and at which instruction.

Set XLATE_EXPLORE=k to look for new bugs: random seeds and k times the examples. By default
the examples are derandomized, so that CI runs are repeatable.
"""

from __future__ import annotations

import gc
import importlib.util
import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from tests.difftest import ENGINES, run_xlate, settings_for
from tests.oracle import CODE_ADDR, DATA_ADDR, DATA_SIZE, FLAGS_MASK, CpuState, assemble, run_native
from xlate.semantics import UNDEFINED_FLAGS
from xlate.semantics.system import RFLAGS_BITS

U64 = (1 << 64) - 1
WIDTHS = (8, 16, 32, 64)
PTR = {8: "byte ptr", 16: "word ptr", 32: "dword ptr", 64: "qword ptr"}

GPR64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
GPR = {
    64: GPR64,
    32: ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
         *(f"r{i}d" for i in range(8, 16))),
    16: ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di", *(f"r{i}w" for i in range(8, 16))),
    8: ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", *(f"r{i}b" for i in range(8, 16))),
}
HIGH8 = ("ah", "ch", "dh", "bh")
# The byte registers an instruction without a REX prefix can name (the only ones with ah..bh).
LEGACY8 = ("al", "cl", "dl", "bl", *HIGH8)
# Where the stack pointer of every case starts (the oracle's default).
STACK = DATA_ADDR + DATA_SIZE // 2


def jit_missing() -> bool:
    return importlib.util.find_spec("xlate.jit.engine") is None


# Both engines; the JIT only once the lead's engine module exists.
engines = pytest.mark.parametrize("engine", [
    pytest.param(name, marks=pytest.mark.skipif(
        name == "jit" and jit_missing(), reason="xlate/jit/engine.py does not exist yet"))
    for name in ENGINES])


# ---- values --------------------------------------------------------------------------------

def _mask(bits: int) -> int:
    return (1 << bits) - 1


# Values at the edges of every width, where carries, signs and overflows change.
EDGES = tuple(sorted({v & U64 for w in WIDTHS for v in (
    0, 1, 2, _mask(w - 1), 1 << (w - 1), (1 << (w - 1)) + 1, _mask(w), _mask(w) - 1)}))
_edge_low = st.builds(lambda high, low, w: high & ~_mask(w) & U64 | low & _mask(w),
                      st.integers(0, U64), st.sampled_from(EDGES), st.sampled_from(WIDTHS))
# A register value: an edge value, an edge in the low bits under random high bits, or random.
values = st.one_of(st.sampled_from(EDGES), _edge_low, st.integers(0, U64))
flag_values = st.integers(0, FLAGS_MASK).map(lambda f: f & FLAGS_MASK)


def signed(value: int, bits: int) -> int:
    value &= _mask(bits)
    return value - (1 << bits) if value >> (bits - 1) else value


# ---- cases ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """Code and the state it starts from. Memory and xmm come from CpuState.random(seed), then
    `pokes` are written over memory."""

    asm: str
    gpr: tuple[int, ...]
    rflags: int
    seed: int
    pokes: tuple[tuple[int, bytes], ...] = ()
    undefined: frozenset[str] = frozenset()  # flags the comparison ignores

    def state(self) -> CpuState:
        s = CpuState.random(self.seed)
        s.gpr = list(self.gpr)
        s.rflags = self.rflags
        for addr, data in self.pokes:
            s.poke(addr, data)
        return s

    def __repr__(self) -> str:
        regs = ", ".join(f"{name}={value:#x}" for name, value in zip(GPR64, self.gpr, strict=True))
        pokes = "".join(f"\n  poke {addr:#x}: {data.hex()}" for addr, data in self.pokes)
        return (f"\n  asm: {self.asm!r}\n  {regs}\n  rflags={self.rflags:#x} seed={self.seed}"
                f" undefined={' '.join(sorted(self.undefined)) or '-'}{pokes}")


def declared_undefined(asm: str) -> frozenset[str]:
    """The flags that the semantics registry declares undefined for the mnemonics in asm."""
    names: set[str] = set()
    for line in asm.replace(";", "\n").splitlines():
        words = [w for w in line.split() if not w.endswith(":") and not w.startswith("{")]
        while words and words[0] in ("lock", "rep", "repe", "repz", "repne", "repnz"):
            words = words[1:]
        if words:
            names |= UNDEFINED_FLAGS.get(words[0], frozenset())
    return frozenset(names)


def flag_bits(names: frozenset[str] | set[str]) -> int:
    return sum(1 << RFLAGS_BITS[name] for name in names)


def code_of(asm: str) -> bytes:
    # Rip-relative forms name data as an offset from .Lcode, the first byte of the code.
    return assemble(".Lcode: " + asm if ".Lcode" in asm else asm)


_runs = itertools.count(1)


def differences(case: Case, engine: str) -> list[str]:
    if next(_runs) % 256 == 0:
        # A machine is a reference cycle, and its guest space reservation (64 GiB of host
        # address space) goes back only when it is collected: collect before space runs short.
        gc.collect()
    code = code_of(case.asm)
    state = case.state()
    native = run_native(code, state)
    emulated = run_xlate(code, state, engine)
    diffs = native.diff(emulated, flags_mask=FLAGS_MASK & ~flag_bits(case.undefined),
                        outcome=False)
    if native.signal != emulated.signal:
        diffs.append(f"signal: native {native.signal} != xlate {emulated.signal}")
    elif native.rip != emulated.rip:
        diffs.append(f"stopped at: native {native.rip:#x} != xlate {emulated.rip:#x}")
    return diffs


def check(case: Case, engine: str) -> None:
    """The engine ends in the state the real CPU ends in (native first in the messages)."""
    diffs = differences(case, engine)
    assert not diffs, f"{engine} differs from the CPU on {case!r}\n" + "\n".join(diffs)


def check_cases(engine: str, cases: st.SearchStrategy[Case], examples: int) -> None:
    """Check `examples` cases drawn from the strategy (fewer under the JIT, which compiles
    every case)."""
    n = examples if engine == "interp" else max(min(examples, 5), examples // 2)

    @settings_for(n, suppress=tuple(HealthCheck))
    @given(cases)
    def run(case: Case) -> None:
        check(case, engine)

    run()


# ---- building cases --------------------------------------------------------------------------

@dataclass
class Operands:
    """Draws the operands of one case and remembers the register values they need."""

    draw: st.DrawFn
    legacy8: bool = False   # no REX prefix: byte registers from al..bh, registers from rax..rdi
    avoid: frozenset[str] = frozenset({"rsp"})  # registers the case keeps for itself
    stack: bool = False  # the code pushes or pops, so rsp cannot serve as a memory base
    fixed: dict[str, int] = field(default_factory=dict)  # 64-bit register name -> value
    pokes: list[tuple[int, bytes]] = field(default_factory=list)

    def pool(self, bits: int) -> list[str]:
        names = LEGACY8 if bits == 8 and self.legacy8 else GPR[bits][:8 if self.legacy8 else 16]
        return [n for n in names if full_name(n) not in self.avoid]

    def reg(self, bits: int, *, exclude: tuple[str, ...] = ()) -> str:
        pool = [n for n in self.pool(bits) if full_name(n) not in map(full_name, exclude)]
        return self.draw(st.sampled_from(pool))

    def address(self, size: int = 8) -> int:
        """An address in the data region with room for `size` bytes, away from the stack."""
        offset = self.draw(st.integers(0x100, DATA_SIZE // 2 - 0x200 - size))
        return DATA_ADDR + offset

    def mem(self, bits: int, addr: int | None = None) -> str:
        """A memory operand of `bits` that addresses addr (drawn when None) in one of the
        addressing forms, setting the base and index registers it uses."""
        addr = self.address(bits // 8) if addr is None else addr
        return f"{PTR[bits]} {self.addressing(addr)}"

    def addressing(self, addr: int) -> str:
        """[...] for the address, in a drawn addressing form."""
        form = self.draw(st.sampled_from(
            ("base", "base+disp8", "base+disp32", "base+index*scale+disp", "index*scale+disp32",
             "absolute", "rip")))
        if form == "absolute":
            return f"[{addr:#x}]"
        if form == "rip":
            return f"[rip + .Lcode + {addr - CODE_ADDR:#x}]"
        regs = [n for n in GPR64[:8 if self.legacy8 else 16]
                if n not in self.avoid and n not in self.fixed]
        if form == "index*scale+disp32":
            scale = self.draw(st.sampled_from((1, 2, 4, 8)))
            disp = self.draw(st.integers(-(1 << 31), (1 << 31) - 8))
            disp += (addr - disp) % scale  # so that index * scale reaches addr exactly
            index = self.draw(st.sampled_from([n for n in regs if n != "rsp"]))
            self.fixed[index] = (addr - disp) // scale & U64
            return f"[{index}*{scale} + {disp:#x}]"
        bases = regs if self.stack or "rsp" in self.fixed else [*regs, "rsp"]
        base = self.draw(st.sampled_from(bases))
        if form == "base":
            self.fixed[base] = addr
            return f"[{base}]"
        if form == "base+disp8":
            disp = self.draw(st.integers(-128, 127))
            self.fixed[base] = addr - disp
            return f"[{base} + {disp:#x}]"
        if form == "base+disp32":
            disp = self.draw(st.integers(-(1 << 31), (1 << 31) - 1))
            self.fixed[base] = (addr - disp) & U64
            return f"[{base} + {disp:#x}]"
        scale = self.draw(st.sampled_from((1, 2, 4, 8)))
        disp = self.draw(st.integers(-(1 << 31), (1 << 31) - 1))
        index = self.draw(st.sampled_from([n for n in regs if n not in (base, "rsp")]))
        # The index may be anything: the sum wraps around 2**64.
        index_value = self.draw(st.one_of(st.integers(-0x100, 0x100), st.integers(0, U64)))
        self.fixed[index] = index_value & U64
        self.fixed[base] = (addr - disp - index_value * scale) & U64
        return f"[{base} + {index}*{scale} + {disp:#x}]"

    def rm(self, bits: int, *, exclude: tuple[str, ...] = ()) -> str:
        """A register or a memory operand."""
        if self.draw(st.booleans()):
            return self.mem(bits)
        return self.reg(bits, exclude=exclude)

    def poke(self, addr: int, data: bytes) -> None:
        self.pokes.append((addr, data))

    def put(self, reg: str, value: int) -> None:
        """Make register `reg` (any width, ah..bh too) hold value, its other bits drawn."""
        full = full_name(reg)
        if full not in self.fixed:
            self.fixed[full] = self.draw(values)
        shift, bits = (8, 8) if reg in HIGH8 else (0, width(reg))
        keep = self.fixed[full] & ~(_mask(bits) << shift)
        self.fixed[full] = keep | (value & _mask(bits)) << shift

    def case(self, asm: str, *, undefined: frozenset[str] | None = None,
             rflags: int | None = None, **regs: int) -> Case:
        """The case for asm: random registers and flags, then the operands' and `regs` values."""
        gpr = [self.draw(values) for _ in range(16)]
        gpr[4] = STACK
        for name, value in {**self.fixed, **regs}.items():
            gpr[GPR64.index(name)] = value & U64
        return Case(
            asm=asm, gpr=tuple(gpr),
            rflags=self.draw(flag_values) if rflags is None else rflags,
            seed=self.draw(st.integers(0, 2**32 - 1)), pokes=tuple(self.pokes),
            undefined=declared_undefined(asm) if undefined is None else undefined)


_FULL = {name: GPR64[i] for bits in WIDTHS for i, name in enumerate(GPR[bits])}
_FULL.update({name: GPR64[i] for i, name in enumerate(HIGH8)})


def full_name(reg: str) -> str:
    """The 64-bit register that a register name is part of: ah -> rax, r9d -> r9."""
    return _FULL[reg]


_WIDTH = {name: bits for bits in WIDTHS for name in GPR[bits]} | dict.fromkeys(HIGH8, 8)


def width(reg: str) -> int:
    return _WIDTH[reg]


def imm(draw: st.DrawFn, bits: int, *, short: bool | None = None) -> int:
    """An immediate for a `bits` operand: one that fits a sign-extended imm8 (short), or one
    that needs the full immediate (imm8/imm16/imm32, sign-extended to 64 bits)."""
    if short is None:
        short = draw(st.booleans())
    if short or bits == 8:
        return draw(st.one_of(st.sampled_from((0, 1, -1, 0x7F, -0x80)), st.integers(-128, 127)))
    top = 16 if bits == 16 else 32
    wide = st.one_of(st.sampled_from((0x80, -0x81, (1 << (top - 1)) - 1, -(1 << (top - 1)))),
                     st.integers(-(1 << (top - 1)), (1 << (top - 1)) - 1))
    return draw(wide.filter(lambda v: not -128 <= v <= 127))


def widths_with_legacy8(draw: st.DrawFn, widths: tuple[int, ...] = WIDTHS) -> tuple[int, bool]:
    """An operand width, and for bytes whether to use the no-REX registers (ah..bh)."""
    bits = draw(st.sampled_from(widths))
    return bits, bits == 8 and draw(st.booleans())
