"""The support module: functions that generated code shares instead of carrying a copy each,
built from the semantics like the regions are. It is compiled once (and kept in the code cache)
and linked before any region; regions call its functions by name."""

from __future__ import annotations

from xlate.jit import llir as ir
from xlate.jit.irbuilder import I8, I32, LAZY_FLAGS, LAZY_FLAGS_FN, ValueIR
from xlate.semantics import flags


def support_module() -> str:
    """The support module's IR."""
    module = ir.Module(name="xlate_support")
    _lazy_flags(ValueIR(module))
    return str(module)


def _lazy_flags(b: ValueIR) -> None:
    """`i8 xlate_lazy_flags(i32 cc_op, i64 dst, i64 src1, i64 src2)`: the arithmetic flags (bit
    i is flags.ARITH[i]) of the operation that cc_op's low byte describes, by the semantics'
    formulas (0 for a flag that is never lazy); cc_op's lazy bits say which of them count."""
    fn = ir.Function(b.module, LAZY_FLAGS_FN, LAZY_FLAGS)
    word, *described = fn.args
    entry = ir.IRBuilder(fn.append_basic_block("entry"))
    none = fn.append_basic_block("none")
    ir.IRBuilder(none).ret(ir.Constant(I8, 0))
    switch = entry.switch(entry.and_(word, ir.Constant(I32, 0xFF)), none)
    for code in flags.CC_KIND:
        block = fn.append_basic_block(f"op{code}")
        switch.add_case(ir.Constant(I32, code), block)
        b.ir = ir.IRBuilder(block)
        b.ir.ret(b.packed_flags(code, described))
