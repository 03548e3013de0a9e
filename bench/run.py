"""Times the benchmark cases natively, under qemu-x86_64, the interpreter and the JIT (cold: an
empty code cache; warm: a second run), in one run, and prints each one's time as a ratio to native.

    python3 -m bench.run [--cases fib,sieve] [--repeat 3] [--timeout 600]
                         [--engines native,qemu,interp,jit-cold,jit-warm]

Runs are interleaved (native, qemu, jit-cold, jit-warm, native at the interpreter's size, interp;
then again), so that a machine slowing down or speeding up mid-run affects every column alike.
jit-warm's cache is emptied when its case starts and filled by one untimed run before its first
timed run. The exit status is 0 whenever the table was printed, even when an engine failed:
failures are rows of the table.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass, field

from bench.cases import (
    CASES,
    QEMU,
    RUNNERS,
    BenchCase,
    Run,
    build_case,
    find_case,
    programs_build,
    run_runner,
    runner_available,
    warm_cache_dir,
)

EXPLANATION = """\
Each time is the median of {repeat} timed run(s) of the whole process (xlate's include Python
start-up), with the runners interleaved. Each ratio divides a runner's median by the median native
run of the SAME arguments: qemu and the JIT run the long size ("args"); the interpreter, about
1000x slower than native, runs a smaller size ("interp args") and is compared with a native run of
that size ("native s (interp args)"), so every ratio is normalised by the work done. That native
run lasts milliseconds, much of it process start-up, so interp/native understates the per-
instruction slowdown somewhat.
jit-cold runs with a new, empty code cache ($XLATE_CACHE_DIR) every time, so it pays for
translating and for writing the cache, as a user's first run does. jit-warm runs with one cache
per case (bench/.build/cache/CASE), emptied when the case starts and filled by one untimed run, so
it starts from the cached code, as a user's second run does. "translate s (cold)" is the JIT's
translation time from the --stats line of the jit-cold runs (median).
"jit-warm speedup over interp" is (interp/native) / (jit-warm/native): how many times faster than
the interpreter the warm JIT does the same work. A failed runner shows "fail STATUS" (the exit
status a shell reports), "MISMATCH" (stdout differs from native's) or "timeout", and is left out
of the geomeans: "(k/n)" after a geomean means it covers only the k cases of n that ran."""


@dataclass
class Slot:
    """One runner at one size within a case: its timed runs, or why it stopped running."""

    runner: str
    args: tuple[str, ...]
    runs: list[Run] = field(default_factory=list)
    failure: str | None = None

    def median_seconds(self) -> float | None:
        if self.failure or not self.runs:
            return None
        return statistics.median(run.seconds for run in self.runs)


@dataclass
class CaseResult:
    case: BenchCase
    slots: dict[tuple[str, tuple[str, ...]], Slot]
    error: str = ""  # the case could not be measured at all (e.g. its program did not build)

    def slot(self, runner: str) -> Slot | None:
        args = self.case.args_for(runner)
        return self.slots.get((runner, args))

    def native_for(self, runner: str) -> Slot | None:
        return self.slots.get(("native", self.case.args_for(runner)))


def _plan(case: BenchCase, runners: list[str]) -> dict[tuple[str, tuple[str, ...]], Slot]:
    """The slots of one repetition, in running order; each runner's native reference comes first."""
    order = [("native", case.args)]
    order += [(runner, case.args) for runner in ("qemu", "jit-cold", "jit-warm")
              if runner in runners]
    if "interp" in runners:
        order += [("native", case.interp_args), ("interp", case.interp_args)]
    slots: dict[tuple[str, tuple[str, ...]], Slot] = {}
    for runner, args in order:
        slots.setdefault((runner, args), Slot(runner, args))  # hello's two native slots are one
    return slots


def measure(case: BenchCase, runners: list[str], repeat: int, timeout: float) -> CaseResult:
    try:
        binary = build_case(case)
    except (programs_build.BuildError, ValueError) as e:
        return CaseResult(case, {}, error=f"build failed: {e}")
    slots = _plan(case, runners)
    warm_cache = warm_cache_dir(case) if "jit-warm" in runners else None  # emptied
    warmed = False
    for _ in range(repeat):
        for slot in slots.values():
            if slot.failure:
                continue  # a failed runner is not timed again: it would only cost time
            native = slots[("native", slot.args)]
            if slot.runner != "native" and not native.runs:
                slot.failure = "no native"
                continue
            if slot.runner == "jit-warm" and not warmed:
                # Untimed: fills the cache that the timed runs start from. Checked all the same.
                warmed = True
                warm_up = run_runner(slot.runner, binary, slot.args, timeout, warm_cache)
                if _failed(case, slot, warm_up, native.runs[0], " (warm-up run)"):
                    continue
            run = run_runner(slot.runner, binary, slot.args, timeout, warm_cache)
            # The first native run is the reference for every later run of the same arguments.
            reference = native.runs[0] if native.runs else Run(0.0, 0, run.stdout, b"")
            if not _failed(case, slot, run, reference):
                slot.runs.append(run)
    return CaseResult(case, slots)


def _failed(case: BenchCase, slot: Slot, run: Run, reference: Run, what: str = "") -> bool:
    """Whether RUN failed against the native REFERENCE; if so, marks SLOT and says why on stderr."""
    slot.failure = run.failure(reference)
    if slot.failure:
        detail = run.last_stderr_line()
        where = " ".join([case.name, slot.runner, *slot.args]) + what
        print(f"  {where}: {slot.failure}" + (f": {detail}" if detail else ""), file=sys.stderr)
    return slot.failure is not None


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}"  # native runs at interp sizes are ms


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _geomean(values: list[float], total: int) -> str:
    if not values:
        return "-"
    mean = _ratio(math.exp(sum(math.log(v) for v in values) / len(values)))
    return mean if len(values) == total else f"{mean} ({len(values)}/{total})"


def _ratio_to_native(result: CaseResult, runner: str) -> float | None:
    slot, native = result.slot(runner), result.native_for(runner)
    if slot is None or native is None:
        return None
    seconds, native_seconds = slot.median_seconds(), native.median_seconds()
    if seconds is None or not native_seconds:
        return None
    return seconds / native_seconds


def _ratio_cell(result: CaseResult, runner: str) -> str:
    slot = result.slot(runner)
    if slot is not None and slot.failure:
        return slot.failure
    return _ratio(_ratio_to_native(result, runner))


def _translate_seconds(result: CaseResult) -> float | None:
    """The median translation time of the jit-cold runs, from their --stats lines."""
    slot = result.slot("jit-cold")
    if slot is None or slot.failure:
        return None
    values = [s for s in (run.translate_seconds() for run in slot.runs) if s is not None]
    return statistics.median(values) if values else None


def _native_seconds(result: CaseResult, runner: str) -> float | None:
    """The native median that RUNNER's ratio divides by; None when RUNNER did not run."""
    native = result.native_for(runner)
    if native is None or result.slot(runner) is None:
        return None
    return native.median_seconds()


RATIO_RUNNERS = ("qemu", "interp", "jit-cold", "jit-warm")  # the runners shown as ratios


def table(results: list[CaseResult]) -> list[list[str]]:
    header = ["case", "args", "native s", "qemu/native", "interp args", "native s (interp args)",
              "interp/native", "jit-cold/native", "jit-warm/native", "translate s (cold)",
              "jit-warm speedup over interp"]
    rows = [header]
    columns: dict[str, list[float]] = {name: [] for name in (*RATIO_RUNNERS, "speedup")}
    for result in results:
        case = result.case
        if result.error:
            rows.append([case.name, result.error] + [""] * (len(header) - 2))
            continue
        ratios = {runner: _ratio_to_native(result, runner) for runner in RATIO_RUNNERS}
        speedup = None
        if ratios["jit-warm"] and ratios["interp"]:
            speedup = ratios["interp"] / ratios["jit-warm"]
        for name, value in [*ratios.items(), ("speedup", speedup)]:
            if value is not None:
                columns[name].append(value)
        rows.append([
            case.name,
            " ".join(case.args) or "(default)",
            _seconds(_native_seconds(result, "native")),
            _ratio_cell(result, "qemu"),
            " ".join(case.interp_args) or "(default)",
            _seconds(_native_seconds(result, "interp")),
            _ratio_cell(result, "interp"),
            _ratio_cell(result, "jit-cold"),
            _ratio_cell(result, "jit-warm"),
            _seconds(_translate_seconds(result)),
            _ratio(speedup),
        ])
    total = len(results)
    geomeans = {name: _geomean(values, total) for name, values in columns.items()}
    rows.append(["geomean", "", "", geomeans["qemu"], "", "", geomeans["interp"],
                 geomeans["jit-cold"], geomeans["jit-warm"], "", geomeans["speedup"]])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text_columns = {0, 1, 4}  # names and arguments read left to right; numbers line up right

    def line(row: list[str]) -> str:
        cells = [cell.ljust(w) if i in text_columns else cell.rjust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *map(line, rows[1:-1]), rule, line(rows[-1])])


def _parse_list(text: str, known: list[str], what: str) -> list[str]:
    names = [name for name in text.split(",") if name]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"bench.run: unknown {what} {', '.join(unknown)}; have {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (default 3; median)")
    parser.add_argument("--engines", default=",".join(RUNNERS),
                        help="comma-separated runners (default: all); native always runs, as the"
                             " baseline")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before one run counts as failed (default 600)")
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error("--repeat must be at least 1")

    case_names = [case.name for case in CASES]
    cases = [find_case(name) for name in _parse_list(options.cases, case_names, "case")] or CASES
    runners = _parse_list(options.engines, list(RUNNERS), "engine")
    if "qemu" in runners and not runner_available("qemu"):
        print(f"bench.run: {QEMU} is not installed; leaving it out", file=sys.stderr)
        runners.remove("qemu")

    results = []
    for number, case in enumerate(cases, 1):
        print(f"[{number}/{len(cases)}] {case.name}", file=sys.stderr, flush=True)
        results.append(measure(case, runners, options.repeat, options.timeout))

    print(format_table(table(results)))
    print()
    print(EXPLANATION.format(repeat=options.repeat))
    mismatches = [f"{r.case.name} under {slot.runner}" for r in results
                  for slot in r.slots.values() if slot.failure == "MISMATCH"]
    if mismatches:
        print(f"\n*** OUTPUT DIFFERS FROM NATIVE: {', '.join(mismatches)} ***")
    return 0


if __name__ == "__main__":
    sys.exit(main())
