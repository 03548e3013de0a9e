"""What the JIT's hot regions take in (xlate.jit.engine.JitEngine.translate)."""

from __future__ import annotations

import subprocess

from tests.program_build import build
from xlate.decoder import ends_indirect
from xlate.machine import Machine


def test_a_copied_function_takes_in_what_its_plt_entry_jumps_to(tmp_path, capfd):
    """qsort's string comparator calls strlen through a PLT entry: a jump through the GOT, to
    the version an IFUNC chose. A region that takes in a copy of the PLT entry (a small
    function another region has compiled) takes in what it jumped to as well, so that the
    call and strlen's return stay inside the region rather than going through the jump
    cache."""
    program = build.build("qsort", "gcc-static", tmp_path)
    expected = subprocess.run([str(program), "20000"], capture_output=True, check=True).stdout
    machine = Machine.load(str(program), [str(program), "20000"], cache_dir=None)
    assert machine.run().exit_status == 0
    assert capfd.readouterr().out.encode() == expected
    engine = machine.engine()
    copied_jumps = []  # (region, a copy of a block ending in a computed jmp, where it went)
    for region in set(engine.region_of.values()):
        spans = {start for start, _ in region.spans}
        for start in spans - set(region.entries):
            block = engine.decoder.block(start)
            if block.insns[-1].name == "jmp" and ends_indirect(block):
                copied_jumps.append((region, start, engine.indirect.get(start, {})))
    assert copied_jumps
    assert any(set(went) & {start for start, _ in region.spans}
               for region, _, went in copied_jumps), copied_jumps
