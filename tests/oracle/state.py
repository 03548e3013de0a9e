"""The CPU state compared by the differential tests, and its layout constants."""

from __future__ import annotations

import dataclasses
import random as _random
import signal as _signal
from dataclasses import dataclass, field

# One data region at the same address natively and in the guest: memory operands and
# the stack of every test case point into it.
DATA_ADDR = 0x1000_0000
DATA_SIZE = 0x1_0000
# Test code is placed here, so rip-relative results are the same in both worlds.
CODE_ADDR = 0x2000_0000
CODE_SIZE = 0x1_0000
# Bytes the native harness appends to the code to get control back.
STUB_SIZE = 14
MAX_CODE_LEN = CODE_SIZE - STUB_SIZE

GPR_NAMES = (
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
)  # fmt: skip
GPR_INDEX = {name: i for i, name in enumerate(GPR_NAMES)}

CF, PF, AF, ZF, SF, DF, OF = (1 << b for b in (0, 2, 4, 6, 7, 10, 11))
FLAGS_MASK = CF | PF | AF | ZF | SF | DF | OF
# Arithmetic status flags: what to mask when an instruction leaves some undefined.
STATUS_FLAGS = CF | PF | AF | ZF | SF | OF
_FLAG_NAMES = (("CF", CF), ("PF", PF), ("AF", AF), ("ZF", ZF), ("SF", SF), ("DF", DF), ("OF", OF))

MXCSR_DEFAULT = 0x1F80
FCW_DEFAULT = 0x037F

U64 = (1 << 64) - 1
U128 = (1 << 128) - 1
U80 = (1 << 80) - 1

# Values that tend to find carry, sign and overflow bugs.
INTERESTING_U64 = (
    0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
    0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, U64 - 1, U64,
)  # fmt: skip


def flags_str(rflags: int) -> str:
    """'CF ZF' style rendering, for assertion messages."""
    return " ".join(name for name, bit in _FLAG_NAMES if rflags & bit) or "-"


@dataclass
class CpuState:
    """Guest-visible user-mode state: everything a test case starts from and ends in.

    x87 fields use the FXSAVE layout: `st[i]` is ST(i) (80-bit, stack order) and `ftw`
    is the abridged tag word (bit p set = physical register p in use, with
    p = (TOP + i) % 8 and TOP = fsw bits 11-13).
    """

    gpr: list[int] = field(default_factory=lambda: [0] * 16)
    rflags: int = 0
    xmm: list[int] = field(default_factory=lambda: [0] * 16)
    mxcsr: int = MXCSR_DEFAULT
    mem: bytes = field(default=bytes(DATA_SIZE), repr=False)
    fcw: int = FCW_DEFAULT
    fsw: int = 0
    ftw: int = 0
    st: list[int] = field(default_factory=lambda: [0] * 8)
    # Outcome, filled in by the runners; ignored on input.
    signal: int = 0  # 0 when the code ran off its end
    si_code: int = 0
    fault_addr: int = 0  # si_addr of the signal
    rip: int = 0  # address of the faulting instruction, or the end of the code

    # ---- construction -------------------------------------------------------------

    @classmethod
    def default(cls, *, rsp: int | None = None) -> CpuState:
        """All zero, default MXCSR/FCW, rsp in the middle of the data region."""
        s = cls()
        s.gpr[4] = DATA_ADDR + DATA_SIZE // 2 if rsp is None else rsp
        return s

    @classmethod
    def random(
        cls,
        rng: _random.Random | int | None = None,
        *,
        rsp: int | None = None,
        random_mem: bool = True,
    ) -> CpuState:
        """Random GPRs (biased to edge values), flags, xmm and memory; rsp 16-aligned in
        the middle of the data region unless given; default MXCSR and an empty x87 stack."""
        if not isinstance(rng, _random.Random):
            rng = _random.Random(rng)

        def u64() -> int:
            if rng.random() < 0.3:
                return rng.choice(INTERESTING_U64)
            return rng.getrandbits(64)

        s = cls()
        s.gpr = [u64() for _ in range(16)]
        s.gpr[4] = DATA_ADDR + DATA_SIZE // 2 if rsp is None else rsp
        s.rflags = rng.getrandbits(12) & FLAGS_MASK
        s.xmm = [(u64() << 64) | u64() for _ in range(16)]
        s.mem = rng.randbytes(DATA_SIZE) if random_mem else bytes(DATA_SIZE)
        return s

    def copy(self) -> CpuState:
        return dataclasses.replace(self, gpr=list(self.gpr), xmm=list(self.xmm), st=list(self.st))

    # ---- convenience ----------------------------------------------------------------

    def __getitem__(self, name: str) -> int:
        """state["rax"], state["xmm3"]."""
        if name.startswith("xmm"):
            return self.xmm[int(name[3:])]
        return self.gpr[GPR_INDEX[name]]

    def __setitem__(self, name: str, value: int) -> None:
        if name.startswith("xmm"):
            self.xmm[int(name[3:])] = value & U128
        else:
            self.gpr[GPR_INDEX[name]] = value & U64

    def peek(self, addr: int, size: int) -> bytes:
        off = addr - DATA_ADDR
        if off < 0 or off + size > DATA_SIZE:
            raise ValueError(f"{addr:#x}+{size} is outside the data region")
        return self.mem[off : off + size]

    def poke(self, addr: int, data: bytes) -> None:
        off = addr - DATA_ADDR
        if off < 0 or off + len(data) > DATA_SIZE:
            raise ValueError(f"{addr:#x}+{len(data)} is outside the data region")
        self.mem = self.mem[:off] + bytes(data) + self.mem[off + len(data) :]

    def validate(self) -> None:
        """Raise ValueError for a state that cannot be loaded into a real CPU."""
        if len(self.gpr) != 16 or len(self.xmm) != 16 or len(self.st) != 8:
            raise ValueError("need 16 gpr, 16 xmm and 8 st values")
        if len(self.mem) != DATA_SIZE:
            raise ValueError(f"mem is {len(self.mem)} bytes, not DATA_SIZE={DATA_SIZE}")
        if any(not 0 <= v <= U64 for v in self.gpr):
            raise ValueError("gpr values must be unsigned 64-bit")
        if any(not 0 <= v <= U128 for v in self.xmm):
            raise ValueError("xmm values must be unsigned 128-bit")
        if any(not 0 <= v <= U80 for v in self.st):
            raise ValueError("st values must be unsigned 80-bit")
        if not (0 <= self.fcw <= 0xFFFF and 0 <= self.fsw <= 0xFFFF and 0 <= self.ftw <= 0xFF):
            raise ValueError("fcw/fsw are 16-bit, ftw (abridged) is 8-bit")
        if not 0 <= self.mxcsr <= 0xFFFF:
            raise ValueError(f"mxcsr {self.mxcsr:#x} has reserved bits set")

    # ---- comparison -----------------------------------------------------------------

    def diff(self, other: CpuState, flags_mask: int = FLAGS_MASK, *, mem: bool = True,
             x87: bool = True, outcome: bool = True) -> list[str]:  # fmt: skip
        """Human-readable differences, self first: `rax: 0x1 != 0x2`. Empty when equal.

        flags_mask selects the rflags bits compared (drop undefined flags here). x87
        registers are compared only where either side has them tagged in use.
        """
        out: list[str] = []
        if outcome:
            if self.signal != other.signal:
                out.append(f"signal: {_signame(self.signal)} != {_signame(other.signal)}")
            elif self.signal:
                for name in ("si_code", "fault_addr", "rip"):
                    a, b = getattr(self, name), getattr(other, name)
                    if a != b:
                        out.append(f"{name}: {a:#x} != {b:#x}")
            if self.rip != other.rip and not self.signal and not other.signal:
                out.append(f"rip: {self.rip:#x} != {other.rip:#x}")
        for name, a, b in zip(GPR_NAMES, self.gpr, other.gpr, strict=True):
            if a != b:
                out.append(f"{name}: {a:#x} != {b:#x}")
        fa, fb = self.rflags & flags_mask, other.rflags & flags_mask
        if fa != fb:
            out.append(
                f"rflags: {fa:#x} [{flags_str(fa)}] != {fb:#x} [{flags_str(fb)}]"
                f" (differ: {flags_str(fa ^ fb)})"
            )
        for i, (a, b) in enumerate(zip(self.xmm, other.xmm, strict=True)):
            if a != b:
                out.append(f"xmm{i}: {a:#034x} != {b:#034x}")
        if self.mxcsr != other.mxcsr:
            out.append(f"mxcsr: {self.mxcsr:#x} != {other.mxcsr:#x}")
        if x87:
            for name in ("fcw", "fsw", "ftw"):
                a, b = getattr(self, name), getattr(other, name)
                if a != b:
                    out.append(f"{name}: {a:#x} != {b:#x}")
            for i in range(8):
                valid = self._st_valid(i) or other._st_valid(i)
                if valid and self.st[i] != other.st[i]:
                    out.append(f"st{i}: {self.st[i]:#022x} != {other.st[i]:#022x}")
        if mem and self.mem != other.mem:
            out.extend(_mem_diff(self.mem, other.mem))
        return out

    def _st_valid(self, i: int) -> bool:
        top = (self.fsw >> 11) & 7
        return bool(self.ftw >> ((top + i) & 7) & 1)


def _signame(sig: int) -> str:
    if not sig:
        return "none"
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return str(sig)


def _mem_diff(a: bytes, b: bytes, limit: int = 8) -> list[str]:
    """Differing byte runs as `mem[addr..+n]: <hex> != <hex>`, at most `limit` runs."""
    out: list[str] = []
    i, n = 0, min(len(a), len(b))
    while i < n and len(out) < limit:
        if a[i] == b[i]:
            i += 1
            continue
        j = i
        # Merge runs separated by short equal stretches so a changed qword is one line.
        while j < n and (a[j] != b[j] or a[j : j + 4] != b[j : j + 4]) and j - i < 32:
            j += 1
        out.append(f"mem[{DATA_ADDR + i:#x}..+{j - i}]: {a[i:j].hex()} != {b[i:j].hex()}")
        i = j
    if len(a) != len(b):
        out.append(f"mem length: {len(a)} != {len(b)}")
    elif len(out) == limit and a[i:] != b[i:]:
        out.append("mem: more differences follow")
    return out
