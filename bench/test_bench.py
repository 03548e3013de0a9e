"""bench/run.py's cases as pytest-benchmark tests: each case under each runner, at the same sizes.

Not part of the normal test run (pytest's testpaths is tests/); run them explicitly:
    python3 -m pytest bench/ -n 0 --benchmark-only
    python3 -m pytest bench/ -n 0 --benchmark-only -k "fib and (native or jit)"

The runners are native, qemu, interp, jit-cold (a new, empty code cache every round) and jit-warm
(one cache per case under bench/.build/cache, emptied when its test starts and filled by one
untimed warm-up round). The interpreter runs a smaller size than the others (see bench/cases.py),
so its benchmark records the native time of its own arguments in extra_info["native_seconds"], for
comparing like with like.
Each benchmark also checks that the runner prints what the native run prints and exits alike.
"""

from __future__ import annotations

import functools
import statistics
from pathlib import Path

import pytest

from bench.cases import (
    CASES,
    RUNNERS,
    BenchCase,
    Run,
    build_case,
    command,
    run_runner,
    run_timed,
    runner_available,
    warm_cache_dir,
)

# A single round of the interpreter takes 5-15 s, so it gets fewer rounds than the fast runners.
ROUNDS = {"native": 5, "qemu": 3, "interp": 1, "jit-cold": 3, "jit-warm": 3}
WARMUP_ROUNDS = {"jit-warm": 1}  # untimed rounds first: jit-warm's fills its code cache
NATIVE_RUNS = 3  # for the native median recorded next to each benchmark
TIMEOUT = 600.0


@functools.cache
def _binary(case: BenchCase) -> Path:
    return build_case(case)


@functools.cache
def _native(case: BenchCase, args: tuple[str, ...]) -> tuple[Run, float]:
    """The native reference run of these arguments, and the native median time over a few runs."""
    runs = [run_timed(command("native", _binary(case), args), TIMEOUT) for _ in range(NATIVE_RUNS)]
    assert runs[0].status == 0, (
        f"the native run exited with {runs[0].status}: the program or its size is broken, not the"
        f" runner\n{runs[0].stderr.decode('utf-8', 'backslashreplace')}"
    )
    return runs[0], statistics.median(run.seconds for run in runs)


@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
# The name avoids the runners' and cases' names, so that -k "fib and jit" selects by parameter.
def test_speed_with_output_checked(benchmark, case: BenchCase, runner: str):
    if not runner_available(runner):
        pytest.skip(f"{runner} is not installed")
    args = case.args_for(runner)
    reference, native_seconds = _native(case, args)
    binary = _binary(case)
    warm_cache = warm_cache_dir(case) if runner == "jit-warm" else None  # emptied

    def run_and_check() -> Run:
        run = run_runner(runner, binary, args, TIMEOUT, warm_cache)
        # Raising here ends the benchmark at the first bad round instead of timing every round.
        failure = run.failure(reference)
        assert failure is None, f"{failure}: {run.last_stderr_line()}"
        return run

    benchmark.group = case.name
    benchmark.extra_info["args"] = " ".join(args)
    benchmark.extra_info["native_seconds"] = native_seconds
    benchmark.pedantic(run_and_check, rounds=ROUNDS[runner], iterations=1,
                       warmup_rounds=WARMUP_ROUNDS.get(runner, 0))
