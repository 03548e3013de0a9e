"""The JIT engine: tiers. New code runs as threaded code that the C dispatch loop runs
(xlate.threaded; where threaded code cannot express it, in the interpreter, and once it has run
twice, as a Python function, xlate.pyblocks); a block entered more than `threshold` times is
compiled by LLVM, together with the already-run blocks it reaches by direct branches, as one
region: a function whose blocks branch to each other, compiled quickly first and then optimised
(see QUICK_LEVEL). The C dispatch loop runs compiled code and comes back here on a miss: to run the
block in a lower tier, or to compile it once it is hot."""

from __future__ import annotations

import bisect
import heapq
import threading
import time

from xlate.decoder import Block, Decoder, callees, ends_indirect, successors
from xlate.interp import Interpreter
from xlate.jit.cache import CodeCache, RegionCode
from xlate.jit.lines import pc_rows
from xlate.jit.linker import SUPPORT_SYMBOL, Linker, ObjectLoadError
from xlate.memory import PROT_EXEC, AddressSpace, GuestMemoryError
from xlate.pyblocks import PyBlocks
from xlate.runtime import EXIT_FAULT, EXIT_MISS, EXIT_NEXT, EXIT_STOP, ffi, lib

TYPE_CHECKING = False  # typing's, without importing typing (see xlate.records)
if TYPE_CHECKING:  # imported when the first region is compiled: a warm run needs neither
    from concurrent.futures import Future

    from xlate.jit.compiler import Compiler

# Blocks per region: bigger regions keep more control flow inside compiled code, but LLVM's
# time grows faster than their size (hello world's 556 blocks: 4.6 s of LLVM in regions of up
# to 256 blocks, 2.6 s in regions of up to 64).
BATCH_BLOCKS = 64
# With no threshold nothing has run before it is compiled, so a region cannot be limited to
# code that runs: it is kept small, to compile little that never runs, but not single blocks,
# as LLVM's time per module dominates then (hello world: 10.6 s with 4, 13.7 with 1, 14.1 with 16).
UNTESTED_BATCH_BLOCKS = 4
# The lower tiers take microseconds an instruction, LLVM's quick compilation (see QUICK_LEVEL)
# a fraction of a millisecond a block, in the background: a block pays for it after some tens of
# runs, and most blocks never get there. (200 made the first runs of nbody and gzip 10-15% longer,
# and the second run of malloc 15%, as less of its code was compiled.)
DEFAULT_THRESHOLD = 50
# A block is made into threaded code (xlate.threaded) when it first runs: that costs about as
# much as interpreting it once (30 us), it then runs in the dispatch loop in a fraction of a
# microsecond, and the code cache keeps it for the next run, which installs it at its start
# (interpreting each block twice first, and making threaded code at the run's end, for the
# cache, of the blocks that ran less, took as long). Where threaded code cannot express it
# (vector arithmetic, 128-bit values but moves), it is interpreted until it has run this many
# times, and then compiled to Python (xlate.pyblocks), which costs a third of a millisecond and
# saves tens of microseconds a run.
PYTHON_THRESHOLD = 2
# A region follows a computed jump to this many of the places it went most.
LIKELY_TARGETS = 4
# A region takes in a copy of a function it calls that another region has compiled, if the
# function is this many blocks or fewer: calls and returns then stay inside the region.
CALLEE_BLOCKS = 16
# A block that becomes hot after the region that branches to it was compiled (it had not run
# yet) makes that region compiled again with it, rather than a region of its own, so that the
# branch stays inside compiled code and the registers in host registers; a chain of regions
# replaces the first at most this many times.
REGROWTHS = 2
# With a threshold, a region is compiled first with no optimisation (LLVM's fast instruction
# selection: a tenth of the time, for code about three times slower), so that it soon leaves
# the lower tiers, a hundred times slower; such quick code counts how often it is entered and
# loops (see hot_definition), and once that is UPGRADE_COUNT it is compiled again at the
# engine's level, which replaces it. Quick code that never gets there (most of it: start-up,
# error paths) stays, and is what the code cache keeps of it: optimising it would only make the
# end of the run wait; once quick code from the cache gets there in a later run, it is
# optimised then. The compiling thread looks at the counts every POLL_SECONDS.
QUICK_LEVEL = 0
UPGRADE_COUNT = 16384
# Quick code also counts how often it runs each block; the optimised region keeps the blocks that
# ran at least 1/TRIM_RATIO as often as its hottest one, and the rest stay quick code, as a
# region of their own. Much of a region can be cold (paths that ran a few times before it was
# compiled, such as a loop's way out), and LLVM's optimisations take the more time the more code
# there is: crc32's hot loop is one block of 64, which take 0.3 s at O2, the worker's time in
# which new hot code waits for its quick code. (With 64, blocks that ran some thousand times
# were left out of regions whose loops ran millions of times, to become hot again.)
TRIM_RATIO = 1024
POLL_SECONDS = 0.01


def _module(module: str, level: int, slot: int) -> str:
    """A region's IR completed for its level (see hot_definition)."""
    from xlate.jit.irbuilder import hot_definition
    return module + hot_definition(slot if level == QUICK_LEVEL else None)


def _may_be_rewritten(memory: AddressSpace, code: list[tuple[int, bytes]]) -> bool:
    """Whether some of the code is on guest-writable pages, so that the guest may rewrite it
    without an mprotect: the code must then check its own stores."""
    return any(memory.writable_code(addr, addr + max(len(raw), 1)) for addr, raw in code)


def _build(guest_addr: int, blocks: dict[int, Block], code: list[tuple[int, bytes]],
           check_stores: bool, key: str, likely: dict[int, list[int]], entries: list[int]
           ) -> tuple:
    """A region's IR, and what the cache keeps of it but its code: _compile's arguments, but
    the level and the slot."""
    from xlate.jit.irbuilder import region_module
    module, name, lines = region_module(guest_addr, list(blocks.values()), check_stores, likely,
                                        entries)
    region = RegionCode(key, name, tuple((addr, len(raw)) for addr, raw in code),
                        tuple(entries), b"")
    return region, module, lines, bool(key)


class _Installed:
    """A region's code in the code map (compared by identity: kept in sets)."""
    __slots__ = ("key", "start", "entries", "spans", "loaded", "pcs", "exits", "regrowths",
                 "regrowing", "slot")

    def __init__(self, region: RegionCode, loaded: object, regrowths: int) -> None:
        self.key = region.key
        self.start = region.entries[0]  # the block it was grown from
        self.entries = region.entries  # the blocks it is entered at
        # [start, end) of each of its blocks, copies too
        self.spans = tuple((addr, addr + size) for addr, size in region.blocks)
        self.loaded = loaded  # the xlate_object * that holds its code; None once freed
        self.pcs = region.pcs  # which guest instruction its host code is
        self.exits: frozenset[int] | None = None  # where it branches out to, once asked
        self.regrowths = regrowths  # how many regions it replaces, one after the other
        self.regrowing = False  # a region to replace it is being compiled
        self.slot = region.slot  # quick code: where it counts

    def guest_pc(self, host_pc: int) -> int | None:
        """The guest instruction of the host code at host_pc, if it is this region's and
        known."""
        base = int(ffi.cast("uintptr_t", self.loaded.host_base))
        if not base <= host_pc < base + self.loaded.host_size:
            return None
        offset = host_pc - int(ffi.cast("uintptr_t", self.loaded.entry))
        row = bisect.bisect_right(self.pcs, (offset, 1 << 64)) - 1
        if row < 0 or not self.pcs[row][1]:
            return None
        return self.pcs[row][1]


class _Job:
    """A region to be compiled in the background."""
    __slots__ = ("blocks", "entries", "exits", "likely", "work", "level", "slot", "future",
                 "replaces", "regrowths", "stale", "prepared")

    def __init__(self, blocks: dict[int, Block], entries: frozenset[int], exits: frozenset[int],
                 likely: dict[int, list[int]], work: tuple | None, level: int, slot: int,
                 replaces: _Installed | None, regrowths: int) -> None:
        self.blocks = blocks
        self.entries = entries
        self.exits = exits  # where its blocks branch to outside it
        self.likely = likely  # see JitEngine._likely_targets
        # _compile's arguments, but the level and the slot; None: not built yet (see _prepare)
        self.work = work
        self.level = level  # LLVM's optimisation level: QUICK_LEVEL, or the engine's
        self.slot = slot  # where its quick code counts, in cpu->hot_counts
        self.future: Future | None = None  # once queued: resolved by the thread compiling it
        # The installed region it replaces: the one it grows from, or its quick version.
        self.replaces = replaces
        self.regrowths = regrowths  # see _Installed
        self.stale = False  # its code changed meanwhile: drop the result
        self.prepared = level == QUICK_LEVEL  # its work is final (see JitEngine._prepare)


class JitEngine:
    """Runs guest code in the interpreter until it is hot, then as compiled blocks.

    With a threshold, LLVM works in a background thread (the C runtime's call releases the GIL
    while LLVM runs: see xlate.jit.llvm) and the guest goes on in the lower tiers; finished
    regions are installed when control is back here, a safe point. With no threshold,
    compilation is synchronous: code runs compiled from its first instruction."""

    def __init__(self, cpu, decoder: Decoder, stats, threshold: int = DEFAULT_THRESHOLD,
                 opt_level: int = 2, cache: CodeCache | None = None,
                 python_threshold: int = PYTHON_THRESHOLD) -> None:
        self.cpu = cpu
        self.decoder = decoder
        self.python_threshold = python_threshold
        self.stats = stats
        self.threshold = threshold
        self.cache = cache
        self.cached_keys: list[str] = []  # regions of this run that the cache holds
        self.opt_level = opt_level
        self.compiler: Compiler | None = None  # made when the first region is compiled
        # The support module's IR while no thread has compiled it yet, then its code until the
        # code cache has it (see _link_support).
        self.support_ir: str | None = None
        self.support_obj: bytes | None = None
        self.support_key = ""
        self.support_lock = threading.Lock()
        self.linker = Linker()
        self.interpreter = Interpreter(cpu)
        self.python = PyBlocks(cpu)
        self.python_entries = 0
        self.code_map = ffi.gc(lib.xlate_code_map_new(), lib.xlate_code_map_free)
        self.runs: dict[int, int] = {}  # guest address -> times interpreted
        # Compiled code's entries: guest address -> the block's end, and its region.
        self.translated: dict[int, int] = {}
        self.region_of: dict[int, _Installed] = {}
        self.blocks_interpreted = 0
        self.worker: threading.Thread | None = None  # the compiling thread (see _work)
        self.worker_error: BaseException | None = None  # what ended it, outside a job
        self.jobs: list[_Job] = []
        self.waiting: list[_Job] = []  # the jobs no thread has started on
        self.jobs_done = 0  # counted by the thread that finishes each
        self.jobs_seen = 0
        self.paused_seconds = 0.0  # in _compile_quick_jobs, halfway through optimisations
        self.lock = threading.Lock()  # for waiting, jobs_done and the stats, across threads
        self.wakeup = threading.Condition(self.lock)  # for the compiling thread: more to do
        self.closing = False  # the compiling thread ends once nothing waits
        self.queued: set[int] = set()  # entries of unfinished jobs
        self.running = True  # until finish()
        # Quick code from the cache, and whether some of it has counted enough to be optimised
        # (found by the compiling thread, done by the guest's: see _optimise_cached).
        self.quick_cached: list[_Installed] = []
        self.optimise_due = False
        self.deferred: dict[int, _Job] = {}  # hot blocks left until the job is installed
        # Blocks that end in a computed jump (see ends_indirect) -> where it went, how often.
        self.indirect: dict[int, dict[int, int]] = {}

    def run(self) -> int:
        cpu, stops, runs = self.cpu, self.decoder.stops, self.runs
        python, gprs, flag_slots = self.python.functions, self.python.gprs, self.python.flags
        indirect, python_threshold = self.indirect, self.python_threshold
        programs, threaded_map = self.python.programs, self.python.threaded_map
        while True:
            exit_code = lib.xlate_dispatch(cpu, self.code_map, threaded_map)
            if exit_code != EXIT_MISS:
                if exit_code == EXIT_FAULT:
                    self._locate_fault()
                return exit_code
            if self.jobs_done != self.jobs_seen:
                self._install_finished()
            if self.optimise_due:
                self._optimise_cached()
            rip = cpu.rip
            if rip in self.translated:  # installed since, or code to install was announced
                continue
            if rip in stops:
                return EXIT_STOP
            count = self._take_over(rip)
            if count >= self.threshold:
                if rip not in self.queued:
                    self.translate(rip)
                elif count >= 2 * self.threshold and python.get(rip) is None:
                    # Still hot while its compilation is under way, and only the interpreter
                    # to run it meanwhile: interpreting it on would only slow LLVM down (the
                    # GIL), so wait.
                    self._install_finished(wait_for=rip)
                if rip in self.translated:
                    continue
            runs[rip] = count + 1
            function = python.get(rip, python)
            if function is python:  # not made yet
                function = self.python.function(self._block(rip), count >= python_threshold)
            if function is not None:
                self.python_entries += 1
                exit_code = function(cpu, gprs, flag_slots)
            else:
                self.blocks_interpreted += 1
                exit_code = self.interpreter.run_block(self._block(rip))
            program = programs.get(rip)
            if program is not None:  # the dispatch loop runs it now, until it is due here
                left = self.threshold - count - 1
                program[lib.XLATE_THREADED_LIMIT] = left if left >= 0 else self.threshold
            if exit_code != EXIT_NEXT:
                return exit_code
            targets = indirect.get(rip)
            if targets is not None:  # where its computed jump went: regions follow it
                targets[cpu.rip] = targets.get(cpu.rip, 0) + 1

    def _runs(self, addr: int) -> int:
        """How often the block at addr has run in the lower tiers."""
        program = self.python.programs.get(addr)
        runs = self.runs.get(addr, 0)
        return runs if program is None else runs + program[lib.XLATE_THREADED_RUNS]

    def _take_over(self, addr: int) -> int:
        """_runs, and from the block's threaded code (on the guest's thread), its count in the
        dispatch loop and where its computed jump went, which it starts noting afresh."""
        count = self._runs(addr)
        program = self.python.programs.get(addr)
        if program is None:
            return count
        self.runs[addr] = count
        program[lib.XLATE_THREADED_RUNS] = 0
        if program[lib.XLATE_THREADED_INDIRECT]:
            targets = self.indirect.setdefault(addr, {})
            pairs = lib.XLATE_THREADED_TARGETS
            for i in range(pairs, pairs + 2 * lib.XLATE_THREADED_TARGET_SLOTS, 2):
                target, times = program[i], program[i + 1]
                if times:
                    targets[target] = targets.get(target, 0) + times
                    program[i + 1] = 0
        return count

    def _locate_fault(self) -> None:
        """Point cpu->rip at the faulting guest instruction if compiled code faulted: it does
        not store the guest pc before each access, its line table says which it was (helpers
        that fault have it stored)."""
        host_pc = self.cpu.fault_host_pc
        for installed in set(self.region_of.values()):
            pc = installed.guest_pc(host_pc)
            if pc is not None:
                self.cpu.rip = pc
                return

    def _block(self, rip: int) -> Block:
        block = self.decoder.block(rip)
        if ends_indirect(block):
            self.indirect.setdefault(rip, {})
        return block

    def translate(self, guest_addr: int) -> None:
        """Compile the block at guest_addr and what it reaches by direct branches, as a batch
        whose blocks branch to each other: a region. The functions it calls come with it,
        copied if another region has them already, so that calls and returns stay inside.
        If a region branches to the block, that region is compiled again instead, with it."""
        replaces = None
        if self.threshold:
            if self._regrowth_under_way(guest_addr):
                return  # the block waits for the region that branches to it (regrown later)
            replaces = self._region_to_regrow(guest_addr)
        regrowths = 0
        if replaces is not None:
            replaces.regrowing = True
            self._cancel_optimising(replaces)  # the regrown region will be
            guest_addr = replaces.start
            regrowths = replaces.regrowths + 1
        blocks: dict[int, Block] = {}
        entries: list[int] = []
        likely: dict[int, list[int]] = {}  # block -> where its computed jump went most
        # Grown along the hottest edges first, so that what the limit leaves out is cold;
        # each pending block notes whether it may be a copy (of a small function it calls).
        pending = [(0, False, guest_addr)]
        limit = BATCH_BLOCKS if self.threshold else UNTESTED_BATCH_BLOCKS
        while pending and len(blocks) < limit:
            _, copy, addr = heapq.heappop(pending)
            elsewhere = self._compiled(addr) and (replaces is None
                                                  or self.region_of.get(addr) is not replaces)
            if addr in blocks or (elsewhere and not copy) or addr in self.decoder.stops:
                continue
            blocks[addr] = block = self.decoder.block(addr)
            if not elsewhere:
                entries.append(addr)
            likely[addr] = self._likely_targets(addr)
            called = callees(block, likely[addr])
            for a in called:
                for b in self._small_function(a) if self._compiled(a) else ():
                    heapq.heappush(pending, (-self._runs(b), True, b))
            following = successors(block)
            # A copy goes on to the copied function's blocks (through a PLT entry, say), not
            # to where it returns.
            copies = set(following + self._jumps(block, likely[addr])) - set(called) \
                if copy else set()
            for a in following + likely[addr]:
                if a not in blocks and self._may_follow(a):
                    heapq.heappush(pending, (-self._runs(a), a in copies, a))
        self._translate_region(guest_addr, blocks, entries, likely, replaces, regrowths)

    def _translate_region(self, guest_addr: int, blocks: dict[int, Block], entries: list[int],
                          likely: dict[int, list[int]], replaces: _Installed | None,
                          regrowths: int, build_later: bool = False) -> None:
        """Install the region from the code cache, or compile it (see translate); with
        build_later, its IR is built by the thread that compiles it (see _prepare)."""
        # The IR is built here, holding the GIL; LLVM's work, which releases it, is the job's.
        started = time.perf_counter()
        code, check_stores, key = self._code(blocks, entries)
        region = self.cache.load(key) if key else None
        loaded = self._load_cached(region) if region is not None else None
        if loaded is not None:
            self._watch(self._install(region, loaded, True, replaces, regrowths))
            self.stats.translate_seconds += time.perf_counter() - started
            return
        work = None if build_later else \
            self._work_for(guest_addr, blocks, code, check_stores, key, likely, entries)
        self.stats.translate_seconds += time.perf_counter() - started
        if not self.threshold:
            self._keep(*self._compile(*work, self.opt_level, None), None, 0)
            return
        slot = (guest_addr ^ guest_addr >> 10) % lib.XLATE_HOT_SLOTS
        job = _Job(blocks, frozenset(entries), self._exits(blocks), likely, work, QUICK_LEVEL,
                   slot, replaces, regrowths)
        job.prepared = not build_later
        self._queue(job)

    def _code(self, blocks: dict[int, Block],
              entries: list[int]) -> tuple[list[tuple[int, bytes]], bool, str]:
        """The blocks' code bytes, whether the region must check its stores (see
        _may_be_rewritten), and the key the cache keeps it under ("": none, as for a region with
        undecodable code, whose key would not cover those bytes)."""
        code = [(addr, block.raw) for addr, block in blocks.items()]
        check_stores = _may_be_rewritten(self.decoder.memory, code)
        if self.cache is None or not all(raw for _, raw in code):
            return code, check_stores, ""
        return code, check_stores, self.cache.key(code, check_stores, tuple(entries))

    def _work_for(self, guest_addr: int, blocks: dict[int, Block], code: list[tuple[int, bytes]],
                  check_stores: bool, key: str, likely: dict[int, list[int]],
                  entries: list[int]) -> tuple:
        """The region's IR, built here, holding the GIL (LLVM's work, which releases it, is
        the job's): _compile's arguments, but the level and the slot."""
        # On this thread, as everything that opens a file (a cache file, a module to import):
        # the guest's file descriptors are the process's, and a file opened on another thread
        # while the guest opens one would change the number the guest gets.
        self._link_support()  # before any region that calls it is loaded
        self._compiler()
        return _build(guest_addr, blocks, code, check_stores, key, likely, entries)

    def _watch(self, installed: _Installed) -> None:
        """Quick code from the cache: optimised once it counts enough (see _optimise_cached)."""
        if installed.slot is not None:
            self.quick_cached.append(installed)
            self._start_worker()

    def _optimise_cached(self) -> None:
        """Queue the optimisation of the quick code from the cache that has counted enough."""
        self.optimise_due = False
        started = time.perf_counter()
        counts = self.cpu.hot_counts
        for installed in [i for i in self.quick_cached if counts[i.slot] >= UPGRADE_COUNT]:
            self.quick_cached.remove(installed)
            if installed.loaded is None or installed.regrowing:  # dropped, or being replaced
                continue
            blocks = {addr: self.decoder.block(addr) for addr, _ in installed.spans}
            _, _, key = self._code(blocks, list(installed.entries))
            if key != installed.key:  # not the code it was compiled from
                continue
            self._queue_optimising(installed, blocks, self._exits(blocks), {}, None)
        self.stats.translate_seconds += time.perf_counter() - started

    def _queue_optimising(self, installed: _Installed, blocks: dict[int, Block],
                          exits: frozenset[int], likely: dict[int, list[int]],
                          work: tuple | None) -> None:
        """Compile the installed quick code's region again at the engine's level (once its
        count is due: see _take), to replace it; work: the quick code's, if at hand."""
        self._queue(_Job(blocks, frozenset(installed.entries), exits, likely, work,
                         self.opt_level, installed.slot, installed, installed.regrowths))

    def _prepare(self, job: _Job) -> None:
        """Make the work of an optimisation, or of the rest of one (see _translate_rest): the
        optimisation's region cut down to the blocks that its quick code runs often (see
        _hot_part), as IR. On whichever thread compiles it (the IR is built there, holding the
        GIL, while the guest runs quick code)."""
        if job.prepared:
            return
        job.prepared = True
        hot = job.blocks if job.level == QUICK_LEVEL else self._hot_part(job)
        if len(hot) < len(job.blocks):  # what it is compiled from now (see invalidate); the
            job.blocks, job.regrowths = hot, REGROWTHS  # rest gets a region of its own
        elif job.work is not None:
            return  # the quick code's IR serves
        entries = [addr for addr in hot if addr in job.entries]
        code, check_stores, key = self._code(hot, entries)
        job.work = _build(entries[0], hot, code, check_stores, key, job.likely, entries)

    def _hot_part(self, job: _Job) -> dict[int, Block]:
        """The blocks of an optimisation's region that its quick code ran at least 1/TRIM_RATIO
        as often as its hottest one; all of them if that leaves none it is entered at."""
        from xlate.jit.irbuilder import block_slot
        counts = self.cpu.block_counts
        runs = [counts[block_slot(addr)] for addr in job.blocks]
        top = max(runs)
        hot = {addr: block for (addr, block), n in zip(job.blocks.items(), runs, strict=True)
               if n * TRIM_RATIO >= top}
        return hot if any(addr in job.entries for addr in hot) else job.blocks

    def _start_worker(self) -> None:
        if self.worker is None:
            self.closing = False
            self.worker = threading.Thread(target=self._work, name="xlate-jit", daemon=True)
            self.worker.start()

    def _queue(self, job: _Job) -> None:
        """Compile the job on the compiling thread."""
        from concurrent.futures import Future
        job.future = Future()
        self.jobs.append(job)
        with self.lock:
            self.waiting.append(job)
            self.wakeup.notify()
        self._start_worker()
        self.queued.update(job.entries)

    def _work(self) -> None:
        """The compiling thread: the most urgent job (see _take) until closing and nothing is
        left."""
        me, counts = threading.current_thread(), self.cpu.hot_counts
        try:
            while True:
                with self.lock:
                    job = self._take()
                    while job is None:
                        if self.closing or self.worker is not me:
                            return
                        self.wakeup.wait(POLL_SECONDS)
                        job = self._take()
                        if job is None and not self.optimise_due and any(
                                counts[i.slot] >= UPGRADE_COUNT for i in self.quick_cached):
                            self.optimise_due = True  # for the guest's thread, at a safe point
                            lib.xlate_request_stop(self.cpu, lib.XLATE_STOP_CODE_READY)
                self._compile_job(job)
        except BaseException as e:  # (a job's own failure is its future's: see _compile_job)
            # Raised in the guest's thread at its next safe point, as a failed job's is: the
            # guest would otherwise go on in the lower tiers, its hot code never compiled.
            self.worker_error = e
            self._job_done()

    def _take(self, quick: bool = False) -> _Job | None:
        """The waiting job to compile next (called holding the lock): quick ones first,
        hottest first, as the lower tiers are the slowest; then (unless only quick ones are
        asked for), of quick code that has counted UPGRADE_COUNT, the one that counted most."""
        counts = self.cpu.hot_counts
        ready = [job for job in self.waiting if job.level == QUICK_LEVEL
                 or not quick and counts[job.slot] >= UPGRADE_COUNT]
        if not ready:
            return None
        job = max(ready, key=lambda job: (
            job.level == QUICK_LEVEL, max(self._runs(a) for a in job.entries)
            if job.level == QUICK_LEVEL else counts[job.slot]))
        self.waiting.remove(job)
        return job

    def _region_to_regrow(self, addr: int) -> _Installed | None:
        """An installed region that branches directly to the block at addr and may be compiled
        again with it (see REGROWTHS). Not one whose first block another region has taken over
        (regrown from a region it called): it is regrown from that block."""
        for installed in set(self.region_of.values()):
            if installed.regrowing or self.region_of.get(installed.start) is not installed or \
                    not self._may_regrow(len(installed.spans), installed.regrowths):
                continue
            if installed.exits is None:
                installed.exits = self._exits({a for a, _ in installed.spans})
            if addr in installed.exits:
                return installed
        return None

    def _cancel_optimising(self, installed: _Installed) -> None:
        """Drop the job that would optimise the installed quick code, if any."""
        for job in self.jobs:
            if job.replaces is installed and job.level != QUICK_LEVEL:
                job.stale = True  # if a thread has started on it
                with self.lock:
                    if job in self.waiting:
                        self.waiting.remove(job)
                        self.jobs.remove(job)
                        # (Else the block, its quick code dropped, say, as the guest rewrote it,
                        # would wait for a job that is gone: see run.)
                        self.queued -= job.entries.difference(*(j.entries for j in self.jobs))
                return

    def _regrowth_under_way(self, addr: int) -> bool:
        """Whether a region being compiled branches to the block at addr, which had not run
        when it was made: the block is left to the lower tiers until that region is installed,
        and then regrown with it."""
        job = self.deferred.get(addr)
        if job is None or job not in self.jobs:
            job = next((job for job in self.jobs if not job.stale and job.level == QUICK_LEVEL
                        and self._may_regrow(len(job.blocks), job.regrowths)
                        and addr in job.exits), None)
            if job is None:
                return False
            self.deferred[addr] = job
        return True

    @staticmethod
    def _may_regrow(size: int, regrowths: int) -> bool:
        return size < BATCH_BLOCKS and regrowths < REGROWTHS

    def _exits(self, inside) -> frozenset[int]:
        """Where blocks branch directly to, outside themselves."""
        return frozenset(a for b in inside for a in successors(self.decoder.block(b))
                         if a not in inside)

    def _compile_all(self) -> None:
        """Compile and install every region under way but optimisations not yet due (see
        UPGRADE_COUNT). The guest is done: this thread compiles too, beside the compiling
        thread (LLVM compiles on both at once: see xlate.jit.llvm), until no job is left."""
        with self.lock:
            self.closing = True  # the compiling thread ends once no job is left
            self.wakeup.notify()
        while True:
            with self.lock:
                job = self._take()
            if job is None:
                break
            self._compile_job(job)
        self.worker.join()
        self.worker = None
        self._drop_waiting()
        self._install_finished(wait=True)

    def _drop_waiting(self) -> None:
        """Forget the jobs that no thread has started on."""
        with self.lock:
            dropped, self.waiting = self.waiting, []
        self.jobs = [job for job in self.jobs if job not in dropped]
        for job in dropped:
            self.queued -= job.entries
            if job.replaces is not None:
                job.replaces.regrowing = False

    def _may_follow(self, addr: int) -> bool:
        """Whether a region may take in the block at addr: only code in executable memory
        (data after a call to a noreturn function must not be translated as code) that has run
        already, if anything runs before compiling."""
        return self.decoder.executable(addr) and (self.threshold == 0 or addr in self.runs)

    def _compiled(self, addr: int) -> bool:
        """Whether a region (installed or under way) is entered at addr."""
        return addr in self.translated or addr in self.queued

    def _small_function(self, entry: int) -> list[int]:
        """The blocks of the function at entry that have run (the calls it makes aside), if
        there are at most CALLEE_BLOCKS of them: a region that calls it takes in a copy."""
        found, pending = [], [entry]
        while pending:
            addr = pending.pop()
            if addr in found or addr in self.decoder.stops or not self._may_follow(addr):
                continue
            if len(found) == CALLEE_BLOCKS:
                return []
            found.append(addr)
            block = self.decoder.block(addr)
            onward = successors(block) + self._jumps(block, self._likely_targets(addr))
            pending.extend(a for a in onward if a not in callees(block, []))
        return found

    @staticmethod
    def _jumps(block: Block, likely: list[int]) -> list[int]:
        """Where the block's computed jump went most (likely: its _likely_targets), if it ends
        in one that is not a call or a return: a PLT entry's, a switch's."""
        last = block.insns[-1] if block.insns else None
        return likely if last is not None and last.name == "jmp" and ends_indirect(block) else []

    def _likely_targets(self, addr: int) -> list[int]:
        """Where the computed jump that ends the block at addr went most often."""
        self._take_over(addr)  # (where its threaded code's jump went)
        targets = self.indirect.get(addr)
        if not targets:
            return []
        ranked = sorted(targets, key=targets.__getitem__, reverse=True)
        return ranked[:LIKELY_TARGETS]

    def _compiler(self) -> Compiler:
        if self.compiler is None:
            from xlate.jit.compiler import Compiler
            self.compiler = Compiler()
        return self.compiler

    def _link_support(self) -> None:
        """Load the support module's code (xlate.jit.support), once for the process, from the
        code cache; if the cache does not hold it, its IR is made here, and the thread that
        compiles the first region compiles it (see _compile_support)."""
        if Linker.support is not None or self.support_ir is not None:
            return
        self.support_key = key = self.cache.support_key() if self.cache else ""
        cached = self.cache.load(key, "support") if self.cache else None
        if cached is not None:
            try:
                self.linker.link_support(cached.obj, SUPPORT_SYMBOL)
                return
            except ObjectLoadError:
                self.cache.rejected += 1
        from xlate.jit.support import support_module
        self.support_ir = support_module()

    def _compile_support(self) -> None:
        """Compile and link the support module if _link_support left it to be (on a compiling
        thread, so that the guest's does not wait a tenth of a second for LLVM); the guest's
        thread puts it in the code cache (see _keep)."""
        with self.support_lock:
            if self.support_ir is None:
                return
            self.support_obj = self._compiler().compile(self.support_ir, QUICK_LEVEL)
            self.linker.link_support(self.support_obj, SUPPORT_SYMBOL)
            self.support_ir = None

    def _load_cached(self, region: RegionCode):
        """The cached region's code loaded into the process, or None if the object loader
        rejects it (a damaged cache entry: the region is compiled again)."""
        self._link_support()
        self._compile_support()
        try:
            return self.linker.load(region.obj, region.name)
        except ObjectLoadError:
            self.cache.rejected += 1
            return None

    def _compile(self, region: RegionCode, module: str, lines: list[int], cacheable: bool,
                 level: int, slot: int) -> tuple[RegionCode, object, bool]:
        """Compile the region's IR and load it into the process: (region, its loaded object,
        whether the cache may keep it). lines: the guest instruction of each line of its debug
        locations. slot: where quick code counts (see hot_definition). No file is opened here
        (see translate)."""
        started = time.perf_counter()
        self._compile_support()
        # The compiling thread compiles the quick jobs that came meanwhile halfway through an
        # optimisation, which takes a tenth of a second or more: code waiting for them runs
        # in the lower tiers, a hundred times slower.
        between = self._compile_quick_jobs if level != QUICK_LEVEL and \
            threading.current_thread() is self.worker else None
        paused = self.paused_seconds
        obj = self._compiler().compile(_module(module, level, slot), level, between)
        seconds = time.perf_counter() - started
        if between is not None:  # (the pauses of the compiling thread are its own)
            seconds -= self.paused_seconds - paused
        return self._load(region, obj, lines, cacheable, level, slot, seconds)

    def _load(self, region: RegionCode, obj: bytes, lines: list[int], cacheable: bool,
              level: int, slot: int, seconds: float) -> tuple[RegionCode, object, bool]:
        """The region's code (obj, which took seconds to compile) loaded: _compile's result."""
        started = time.perf_counter()
        counting = slot if level == QUICK_LEVEL else None
        region = region._replace(obj=obj, pcs=pc_rows(obj, region.name, lines), slot=counting)
        loaded = self.linker.load(region.obj, region.name)
        seconds += time.perf_counter() - started
        with self.lock:
            if self.threshold:
                self.stats.compile_seconds_background += seconds
            else:
                self.stats.translate_seconds += seconds
        return region, loaded, cacheable

    def _compile_quick_jobs(self) -> None:
        """Compile the quick jobs waiting, hottest first (see _compile)."""
        started = time.perf_counter()
        while True:
            with self.lock:
                job = self._take(quick=True)
            if job is None:
                break
            self._compile_job(job)
        self.paused_seconds += time.perf_counter() - started

    def _compile_job(self, job: _Job) -> None:
        """Compile the job, for the guest's thread to install."""
        try:
            self._prepare(job)
            job.future.set_result(self._compile(*job.work, job.level, job.slot))
        except BaseException as e:  # raised where the guest's thread installs it
            job.future.set_exception(e)
        self._job_done()

    def _job_done(self) -> None:
        with self.lock:
            self.jobs_done += 1
        # Running compiled code returns to the dispatch loop at its next safe point, where the
        # guest's thread installs this code (quick code may otherwise loop on for long).
        lib.xlate_request_stop(self.cpu, lib.XLATE_STOP_CODE_READY)

    def _install_finished(self, wait: bool = False, wait_for: int | None = None) -> None:
        """Install the regions compiled so far; with wait, all of them, and with wait_for,
        the one holding that block too (compiled here if no thread has started on it)."""
        self.jobs_seen = self.jobs_done
        if self.worker_error is not None:
            raise self.worker_error
        if wait_for is not None:
            started = time.perf_counter()
            job = next(job for job in self.jobs if wait_for in job.entries)
            with self.lock:
                mine = job in self.waiting
                if mine:
                    self.waiting.remove(job)
            if mine:
                self._compile_job(job)
            job.future.result()
            self.stats.translate_seconds += time.perf_counter() - started
        for job in [job for job in self.jobs if wait or job.future.done()]:
            self.jobs.remove(job)
            self.queued -= job.entries
            region, loaded, cacheable = job.future.result()
            if job.stale:
                self.linker.unload(loaded)
            else:
                self.stats.regions_optimised += job.level != QUICK_LEVEL
                installed = self._keep(region, loaded, cacheable, job.replaces, job.regrowths,
                                       job.level != QUICK_LEVEL)
                if job.level == QUICK_LEVEL and (self.running or self.cache is not None):
                    # What ran in the lower tiers counts too, as it would have in quick code
                    # (and does in the next run, which starts with it): its blocks' runs as
                    # well, as threaded code may have run them long enough for the region to
                    # be due before its quick code runs (see _hot_part).
                    from xlate.jit.irbuilder import block_slot
                    runs = {addr: self._runs(addr) for addr in job.blocks}
                    self.cpu.hot_counts[job.slot] += max(runs.values())
                    for addr, n in runs.items():
                        self.cpu.block_counts[block_slot(addr)] += n
                    self._queue_optimising(installed, job.blocks, job.exits, job.likely,
                                           job.work)

    def _keep(self, region: RegionCode, loaded, cacheable: bool, replaces: _Installed | None,
              regrowths: int, optimised: bool = False) -> _Installed:
        """A region just compiled: into the code cache, if it may go there (its quick code
        until the optimised one replaces it), and the code map (see _install)."""
        if self.support_obj is not None and self.cache is not None:
            self.cache.store(RegionCode(self.support_key, SUPPORT_SYMBOL, (), (),
                                        self.support_obj), "support")
            self.support_obj = None
        if cacheable:
            self.cache.store(region)
        return self._install(region, loaded, cacheable, replaces, regrowths, optimised)

    def _install(self, region: RegionCode, loaded, cached: bool,
                 replaces: _Installed | None = None, regrowths: int = 0,
                 optimised: bool = False, newer_first: bool = False) -> _Installed:
        """Put the region in the code map, at its entries (with newer_first, only those no
        region has yet: see preload). A region whose entries it takes goes once none is its
        own any more; the one it replaces (regrown, or its quick version) too, and that of an
        optimised region that left blocks out (see TRIM_RATIO) once they are compiled again,
        quickly, without it."""
        installed = _Installed(region, loaded, regrowths)
        superseded = {replaces} if replaces is not None else set()
        for addr, end in installed.spans:
            if addr not in installed.entries:
                continue
            if addr in self.translated:  # and so maybe in the jump cache too
                if newer_first:
                    continue
                superseded.add(self.region_of[addr])
                lib.xlate_code_map_remove_range(self.code_map, addr, addr + 1)
            else:
                self.stats.blocks_translated += 1
            lib.xlate_code_map_insert(self.code_map, addr, loaded.entry)
            self.region_of[addr] = installed
            self.translated[addr] = end
        if cached and region.key not in self.cached_keys:  # (optimised after quick: one key)
            self.cached_keys.append(region.key)
        if replaces is not None and replaces.loaded is not None:  # not dropped meanwhile
            self.stats.regions_regrown += not optimised and regrowths > replaces.regrowths
            replaces.regrowing = False
        for old in superseded:
            if old.loaded is None:  # dropped meanwhile
                continue
            if all(self.region_of.get(a) is not old for a in old.entries):
                self._cancel_optimising(old)
                self.linker.unload(old.loaded)
                old.loaded = None
                if old.key != region.key and old.key in self.cached_keys:
                    self.cached_keys.remove(old.key)
            elif optimised and old is replaces:
                self._translate_rest(replaces)
        return installed

    def preload(self, program_digest: str, memory: AddressSpace) -> None:
        """Install the regions that earlier runs of the program compiled, and adopt the blocks
        they decoded, where the guest code is what it was."""
        blocks = self.cache.load_program_data(program_digest, "blocks")
        if blocks is not None:
            self.decoder.adopt(blocks)
        functions = self.cache.load_program_data(program_digest, "python")
        if functions is not None:
            self.python.adopt(functions)
            if self.threshold:  # run by the dispatch loop until due for LLVM
                self.python.install_adopted(memory, self.threshold)
        # Newest first (the manifest keeps the order regions were compiled in): where two have
        # an entry, the newer one took it over (regrown from part of the other, say), and the
        # older one keeps the rest, as when the run ended.
        kept = []
        for key in reversed(self.cache.manifest(program_digest)):
            region = self.cache.load(key)
            if region is None or all(addr in self.translated for addr in region.entries):
                continue
            try:
                code = [(addr, memory.read(addr, size, PROT_EXEC)) for addr, size in region.blocks]
            except GuestMemoryError:
                continue
            key_now = self.cache.key(code, _may_be_rewritten(memory, code), region.entries)
            loaded = self._load_cached(region) if key_now == key else None
            if loaded is not None:
                self._watch(self._install(region, loaded, False, newer_first=True))
                kept.append(key)
                self.stats.regions_preloaded += 1
                # As decoding the blocks would have: a write there must drop this code.
                for addr, size in region.blocks:
                    memory.mark_code(addr, addr + size)
        self.cached_keys = kept[::-1]

    def invalidate(self, start: int, end: int) -> None:
        """Drop translations of code in [start, end). A region is dropped whole when any of its
        blocks is, copies too, as its other blocks branch to it. Its code is freed: nothing
        runs it now, as compiled code is entered only from the dispatch loop, through the code
        map and the jump cache, which forget it here."""
        self.python.invalidate(start, end)
        for job in self.jobs:
            if any(a < end and start < block.end for a, block in job.blocks.items()):
                job.stale = True
                self.queued -= job.entries
        stale = [installed for installed in set(self.region_of.values())
                 if any(a < end and start < a_end for a, a_end in installed.spans)]
        for installed in stale:
            for addr in installed.entries:
                if self.region_of.get(addr) is installed:  # not taken over by a later region
                    lib.xlate_code_map_remove_range(self.code_map, addr, addr + 1)
                    del self.region_of[addr]
                    del self.translated[addr]
            self.linker.unload(installed.loaded)
            installed.loaded = None

    def _translate_rest(self, quick: _Installed) -> None:
        """The blocks of quick code that its optimised version left out (see TRIM_RATIO): a
        region of their own, compiled quickly, to replace it (which keeps them until then). Its
        IR is built by the compiling thread: it is cold code, which the quick code runs
        meanwhile."""
        entries = [addr for addr in quick.entries if self.region_of.get(addr) is quick]
        quick.regrowing = True
        # The slot counted the code that was optimised: the rest starts counting afresh.
        self.cpu.hot_counts[quick.slot] = 0
        blocks = {addr: self.decoder.block(addr) for addr in entries}
        likely = {addr: self._likely_targets(addr) for addr in entries}
        self._translate_region(entries[0], blocks, entries, likely, quick, quick.regrowths,
                               build_later=True)

    def finish(self, program_digest: str) -> None:
        """At the end of a run: let compilations under way finish, so that the cache gets
        them (with no cache, what no thread has started on is dropped, and what one has is
        not waited for; quick code not yet due to be optimised is kept as it is), remember the
        program's regions, and count."""
        self.running = False
        if self.worker is not None and self.cache is None:
            self._drop_waiting()
            with self.lock:  # what it compiles now is not waited for
                self.closing = True
                self.wakeup.notify()
            self.worker = None
            self._install_finished()
        if self.cache is not None:
            self._optimise_cached()  # what got hot since the compiling thread last looked
        while self.worker is not None:
            self._compile_all()
            # Hot blocks that waited for the region that branches to them: it is regrown now,
            # so that the next run finds them compiled.
            for addr in self.deferred:
                if not self._compiled(addr):
                    self.translate(addr)
        if self.cache is not None and program_digest:
            self.cache.save_manifest(program_digest, self.cached_keys)
            if self.decoder.insns_decoded:  # else the blocks on file are all there is
                self.cache.store_program_data(program_digest, "blocks", self.decoder.export())
            if self.python.compiled:
                self.cache.store_program_data(program_digest, "python", self.python.export())
        self.stats.instructions_interpreted = self.interpreter.insns_executed
        self.stats.blocks_interpreted = self.blocks_interpreted
        self.stats.python_blocks_run = self.python_entries + self.cpu.threaded_entries
        self.stats.python_blocks_compiled = self.python.compiled
        self.stats.compiled_entries = self.cpu.compiled_entries
        self.running = True  # for the next run, if the embedder asks for one
